/* Unit tests for the IDE channel (src/dev/ide.c): the register file and the ATA
 * signature after SRST, IDENTIFY DEVICE, reads and writes by LBA28, LBA48 (HOB) and CHS,
 * an absent slave, and hostile task files (past the end, sector 0, data with no command)
 * that end in ERR without touching anything beyond the disk; an ATAPI CD-ROM: its
 * signature, IDENTIFY PACKET DEVICE, packet commands with their DRQ blocks and byte
 * count limit, and hostile packets (out of range, unknown, cut short by a reset). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dev/ide.h"

#define BASE IDE_PRIMARY_CMD
#define CTRL IDE_PRIMARY_CTRL
#define SECTORS 64

static char path[] = "/tmp/scratchvm-ide.XXXXXX";

static uint8_t in8(IdeChannel *ch, uint16_t port)
{
    uint32_t v;
    assert_int_equal(ide_io_read(port, 1, &v, ch), 0);
    return (uint8_t)v;
}

static void out8(IdeChannel *ch, uint16_t port, uint8_t v)
{
    assert_int_equal(ide_io_write(port, 1, v, ch), 0);
}

static uint16_t in16(IdeChannel *ch)
{
    uint32_t v;
    assert_int_equal(ide_io_read(BASE, 2, &v, ch), 0);
    return (uint16_t)v;
}

/* A channel with a 64-sector disk whose sector n is filled with byte n. */
static IdeChannel *channel(void)
{
    strcpy(path, "/tmp/scratchvm-ide.XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    uint8_t s[512];
    for (int n = 0; n < SECTORS; n++) {
        memset(s, n, sizeof(s));
        assert_int_equal(write(fd, s, sizeof(s)), (ssize_t)sizeof(s));
    }
    close(fd);
    BlockDev *bd;
    assert_int_equal(block_open(path, BLOCK_FORMAT_RAW, 0, &bd), 0);
    IdeChannel *ch = ide_create(BASE, CTRL, NULL);
    assert_non_null(ch);
    assert_int_equal(ide_attach(ch, 0, bd), 0);
    return ch;
}

static void done(IdeChannel *ch)
{
    ide_destroy(ch);
    unlink(path);
}

static void read_sector(IdeChannel *ch, uint8_t *buf)
{
    for (int i = 0; i < 256; i++) {
        uint16_t w = in16(ch);
        buf[2 * i] = (uint8_t)w;
        buf[2 * i + 1] = (uint8_t)(w >> 8);
    }
}

static void test_signature_and_registers(void **state)
{
    (void)state;
    IdeChannel *ch = channel();
    out8(ch, BASE + 2, 0x55);   /* SeaBIOS's check that the registers hold values */
    out8(ch, BASE + 3, 0xAA);
    assert_int_equal(in8(ch, BASE + 2), 0x55);
    assert_int_equal(in8(ch, BASE + 3), 0xAA);
    out8(ch, CTRL, 0x06);       /* SRST, nIEN */
    assert_int_equal(in8(ch, CTRL) & 0x80, 0x80);
    out8(ch, CTRL, 0x02);
    assert_int_equal(in8(ch, BASE + 7), 0x50);   /* DRDY, DSC */
    assert_int_equal(in8(ch, BASE + 1), 0x01);
    assert_int_equal(in8(ch, BASE + 2), 1);
    assert_int_equal(in8(ch, BASE + 3), 1);
    assert_int_equal(in8(ch, BASE + 4), 0);
    assert_int_equal(in8(ch, BASE + 5), 0);
    /* The slave is not there: its status reads 0 and it takes no command. */
    out8(ch, BASE + 6, 0xB0);
    assert_int_equal(in8(ch, BASE + 7), 0);
    out8(ch, BASE + 7, 0xEC);
    assert_int_equal(in8(ch, BASE + 7), 0);
    assert_int_equal(in16(ch), 0xFFFF);
    done(ch);
}

static void test_identify(void **state)
{
    (void)state;
    IdeChannel *ch = channel();
    out8(ch, BASE + 6, 0xA0);
    out8(ch, BASE + 7, 0xA1);   /* IDENTIFY PACKET DEVICE: not ATAPI */
    assert_int_equal(in8(ch, BASE + 7), 0x51);
    assert_int_equal(in8(ch, BASE + 1), 0x04);
    out8(ch, BASE + 7, 0xEC);
    assert_int_equal(in8(ch, BASE + 7), 0x58);   /* DRQ */
    uint8_t id[512];
    read_sector(ch, id);
    assert_int_equal(in8(ch, BASE + 7), 0x50);
    assert_int_equal(id[0], 0x40);
    assert_int_equal(id[60 * 2], SECTORS);         /* LBA28 capacity */
    assert_int_equal(id[100 * 2], SECTORS);        /* LBA48 capacity */
    assert_true(id[83 * 2 + 1] & 0x04);            /* 48-bit addresses */
    assert_memory_equal(id + 27 * 2, "CSARCTVH M", 10);   /* "SCRATCHVM ", a word a pair */
    done(ch);
}

static void test_read_write(void **state)
{
    (void)state;
    IdeChannel *ch = channel();
    uint8_t buf[512];
    /* LBA28: sectors 5 and 6. */
    out8(ch, BASE + 2, 2);
    out8(ch, BASE + 3, 5);
    out8(ch, BASE + 4, 0);
    out8(ch, BASE + 5, 0);
    out8(ch, BASE + 6, 0xE0);
    out8(ch, BASE + 7, 0x20);
    read_sector(ch, buf);
    assert_int_equal(buf[0], 5);
    assert_int_equal(buf[511], 5);
    assert_int_equal(in8(ch, BASE + 7), 0x58);
    uint32_t v;
    assert_int_equal(ide_io_read(BASE, 4, &v, ch), 0);   /* insl: two words */
    assert_int_equal(v, 0x06060606);
    for (int i = 0; i < 127; i++)
        ide_io_read(BASE, 4, &v, ch);
    assert_int_equal(in8(ch, BASE + 7), 0x50);
    /* LBA48 write of sector 40 (previous values with HOB), read back by CHS: cylinder 0,
     * head 0, sector 41 with 16 heads and 63 sectors a track. */
    out8(ch, BASE + 2, 0);
    out8(ch, BASE + 2, 1);
    out8(ch, BASE + 3, 0);
    out8(ch, BASE + 3, 40);
    out8(ch, BASE + 4, 0);
    out8(ch, BASE + 4, 0);
    out8(ch, BASE + 5, 0);
    out8(ch, BASE + 5, 0);
    out8(ch, CTRL, 0x80);
    assert_int_equal(in8(ch, BASE + 3), 0);    /* HOB: the previous value */
    out8(ch, BASE + 6, 0x40);
    out8(ch, BASE + 7, 0x34);
    assert_int_equal(in8(ch, BASE + 7), 0x58);
    for (int i = 0; i < 256; i++)
        assert_int_equal(ide_io_write(BASE, 2, 0xBEEF, ch), 0);
    assert_int_equal(in8(ch, BASE + 7), 0x50);
    out8(ch, BASE + 2, 1);
    out8(ch, BASE + 3, 41);
    out8(ch, BASE + 4, 0);
    out8(ch, BASE + 5, 0);
    out8(ch, BASE + 6, 0xA0);
    out8(ch, BASE + 7, 0x20);
    read_sector(ch, buf);
    assert_int_equal(buf[0], 0xEF);
    assert_int_equal(buf[1], 0xBE);
    done(ch);
}

/* Past the end, a CHS sector 0, a count that runs over the end, data with no command,
 * unknown commands: ERR with IDNF or ABRT, nothing read or written. */
static void test_hostile_task_files(void **state)
{
    (void)state;
    IdeChannel *ch = channel();
    const struct { uint8_t count, low, mid, high, dev, cmd, error; } bad[] = {
        {1, SECTORS, 0, 0, 0xE0, 0x20, 0x10},     /* LBA 64 of 64 */
        {2, SECTORS - 1, 0, 0, 0xE0, 0x30, 0x10}, /* runs over the end */
        {0, 0, 0, 0, 0xE0, 0x20, 0x10},           /* 256 sectors */
        {1, 0xFF, 0xFF, 0xFF, 0xEF, 0x20, 0x10},  /* LBA 0x0FFFFFFF */
        {1, 0, 0, 0, 0xA0, 0x20, 0x10},           /* CHS sector 0 */
        {1, 1, 0x20, 0, 0xA0, 0x20, 0x10},        /* CHS cylinder 32: past the end */
        {1, 1, 0, 0, 0xE0, 0xFF, 0x04},           /* unknown command */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        out8(ch, BASE + 2, bad[i].count);
        out8(ch, BASE + 3, bad[i].low);
        out8(ch, BASE + 4, bad[i].mid);
        out8(ch, BASE + 5, bad[i].high);
        out8(ch, BASE + 6, bad[i].dev);
        out8(ch, BASE + 7, bad[i].cmd);
        assert_int_equal(in8(ch, BASE + 7), 0x51);
        assert_int_equal(in8(ch, BASE + 1), bad[i].error);
        assert_int_equal(in16(ch), 0xFFFF);               /* no data phase */
        assert_int_equal(ide_io_write(BASE, 2, 0x1234, ch), 0);
    }
    /* LBA48 with every high byte set. */
    for (int r = 2; r <= 5; r++) {
        out8(ch, BASE + r, 0xFF);
        out8(ch, BASE + r, 0xFF);
    }
    out8(ch, BASE + 6, 0x40);
    out8(ch, BASE + 7, 0x24);
    assert_int_equal(in8(ch, BASE + 7), 0x51);
    /* Odd sizes are refused by the handlers, not taken. */
    uint32_t v;
    assert_int_equal(ide_io_read(BASE, 3, &v, ch), -22);
    assert_int_equal(ide_io_write(BASE, 8, 0, ch), -22);
    /* The disk is as it was. */
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t s[512];
    for (int n = 0; n < SECTORS; n++) {
        assert_int_equal(fread(s, 1, sizeof(s), f), sizeof(s));
        assert_int_equal(s[0], n);
        assert_int_equal(s[511], n);
    }
    fclose(f);
    done(ch);
}

static int irq_level = -1, irq_edges;
static void record_irq(void *opaque, int line, int level)
{
    (void)opaque;
    assert_int_equal(line, 14);
    irq_edges += level && irq_level != 1;
    irq_level = level;
}

/* INTRQ: raised for a PIO block and at a command's end, cleared by reading the status
 * register (not the alternate status) or by a new command; nIEN masks it. */
static void test_interrupts(void **state)
{
    (void)state;
    IdeChannel *ch = channel();
    ide_set_irq_line(ch, &(IrqLine){record_irq, NULL, 14});
    irq_level = -1;
    irq_edges = 0;
    out8(ch, CTRL, 0x00);
    out8(ch, BASE + 6, 0xA0);
    out8(ch, BASE + 7, 0xEC);               /* IDENTIFY: one block to read */
    assert_int_equal(irq_level, 1);
    assert_int_equal(in8(ch, CTRL), 0x58);  /* the alternate status leaves it */
    assert_int_equal(irq_level, 1);
    assert_int_equal(in8(ch, BASE + 7), 0x58);
    assert_int_equal(irq_level, 0);
    uint8_t buf[512];
    read_sector(ch, buf);                   /* no interrupt at the end of a read */
    assert_int_equal(irq_edges, 1);
    out8(ch, BASE + 7, 0xE7);               /* FLUSH CACHE: at its end */
    assert_int_equal(irq_level, 1);
    assert_int_equal(irq_edges, 2);
    out8(ch, CTRL, 0x02);                   /* nIEN: masked (and dropped) */
    assert_int_equal(irq_level, 0);
    out8(ch, BASE + 7, 0xE7);
    assert_int_equal(irq_level, 0);
    assert_int_equal(irq_edges, 2);
    done(ch);
}

/* ---- ATAPI ---- */

#define CD_BLOCKS 16

static char cd_path[] = "/tmp/scratchvm-cd.XXXXXX";

/* A channel with a CD of 16 blocks of 2048 bytes, block n filled with byte n. */
static IdeChannel *cd_channel(void)
{
    strcpy(cd_path, "/tmp/scratchvm-cd.XXXXXX");
    int fd = mkstemp(cd_path);
    assert_true(fd >= 0);
    uint8_t b[2048];
    for (int n = 0; n < CD_BLOCKS; n++) {
        memset(b, n, sizeof(b));
        assert_int_equal(write(fd, b, sizeof(b)), (ssize_t)sizeof(b));
    }
    close(fd);
    BlockDev *bd;
    assert_int_equal(block_open(cd_path, BLOCK_FORMAT_RAW, BLOCK_READ_ONLY, &bd), 0);
    IdeChannel *ch = ide_create(BASE, CTRL, NULL);
    assert_non_null(ch);
    assert_int_equal(ide_attach_cdrom(ch, 0, bd), 0);
    out8(ch, BASE + 6, 0xA0);
    return ch;
}

static void cd_done(IdeChannel *ch)
{
    ide_destroy(ch);
    unlink(cd_path);
}

/* PACKET with a byte count limit, then the 12 bytes as 6 words. */
static void packet(IdeChannel *ch, const uint8_t cdb[12], uint16_t limit)
{
    out8(ch, BASE + 1, 0);                  /* PIO */
    out8(ch, BASE + 4, (uint8_t)limit);
    out8(ch, BASE + 5, (uint8_t)(limit >> 8));
    out8(ch, BASE + 7, 0xA0);
    assert_int_equal(in8(ch, BASE + 7), 0x58);
    assert_int_equal(in8(ch, BASE + 2), 0x01);   /* CoD: the command packet */
    for (int i = 0; i < 12; i += 2)
        assert_int_equal(ide_io_write(BASE, 2, (uint32_t)(cdb[i] | cdb[i + 1] << 8), ch), 0);
}
#define PACKET(ch, limit, ...) packet(ch, (const uint8_t[12]){__VA_ARGS__}, limit)

/* Reads DRQ blocks (each of the size the byte count registers give, at most `limit`)
 * until the command ends; returns the bytes read, at most max kept in buf. */
static size_t data_blocks(IdeChannel *ch, uint8_t *buf, size_t max, uint16_t limit)
{
    size_t n = 0;
    while (in8(ch, BASE + 7) & 0x08) {
        assert_int_equal(in8(ch, BASE + 2), 0x02);   /* IO: data to the host */
        unsigned len = in8(ch, BASE + 4) | in8(ch, BASE + 5) << 8;
        assert_true(len > 0 && len <= limit);
        for (unsigned i = 0; i < len; i++) {
            uint8_t b = in8(ch, BASE);
            if (n < max)
                buf[n] = b;
            n++;
        }
    }
    assert_int_equal(in8(ch, BASE + 2), 0x03);       /* CoD and IO: the command is over */
    return n;
}

static void test_atapi_identify(void **state)
{
    (void)state;
    IdeChannel *ch = cd_channel();
    out8(ch, CTRL, 0x06);
    out8(ch, CTRL, 0x02);
    assert_int_equal(in8(ch, BASE + 4), 0x14);   /* the packet device signature */
    assert_int_equal(in8(ch, BASE + 5), 0xEB);
    out8(ch, BASE + 4, 0);
    out8(ch, BASE + 7, 0xEC);                    /* IDENTIFY DEVICE: aborted, signature */
    assert_int_equal(in8(ch, BASE + 7), 0x51);
    assert_int_equal(in8(ch, BASE + 1), 0x04);
    assert_int_equal(in8(ch, BASE + 4), 0x14);
    out8(ch, BASE + 7, 0x20);                    /* READ SECTORS: not for a packet device */
    assert_int_equal(in8(ch, BASE + 7), 0x51);
    out8(ch, BASE + 7, 0xA1);
    assert_int_equal(in8(ch, BASE + 7), 0x58);
    uint8_t id[512];
    read_sector(ch, id);
    assert_int_equal(in8(ch, BASE + 7), 0x50);
    assert_int_equal(id[0] | id[1] << 8, 0x85C0);
    assert_memory_equal(id + 27 * 2, "CSARCTVH MDCR-MO", 16);
    cd_done(ch);
}

static void test_atapi_commands(void **state)
{
    (void)state;
    IdeChannel *ch = cd_channel();
    uint8_t buf[8192];
    PACKET(ch, 2048, 0x00);                      /* TEST UNIT READY: no data */
    assert_int_equal(data_blocks(ch, buf, sizeof(buf), 2048), 0);
    assert_int_equal(in8(ch, BASE + 7), 0x50);
    PACKET(ch, 2048, 0x12, 0, 0, 0, 36);         /* INQUIRY */
    assert_int_equal(data_blocks(ch, buf, sizeof(buf), 2048), 36);
    assert_int_equal(buf[0], 0x05);
    assert_int_equal(buf[1], 0x80);
    assert_memory_equal(buf + 8, "SCRATCHVCD-ROM          0.1 ", 28);
    PACKET(ch, 2048, 0x12, 0, 0, 0, 5);          /* cut to the allocation length */
    assert_int_equal(data_blocks(ch, buf, sizeof(buf), 2048), 5);
    PACKET(ch, 2048, 0x25);                      /* READ CAPACITY */
    assert_int_equal(data_blocks(ch, buf, sizeof(buf), 2048), 8);
    const uint8_t cap[8] = {0, 0, 0, CD_BLOCKS - 1, 0, 0, 0x08, 0};
    assert_memory_equal(buf, cap, 8);
    PACKET(ch, 2048, 0x28, 0, 0, 0, 0, 3, 0, 0, 2);   /* READ(10): blocks 3 and 4 */
    assert_int_equal(data_blocks(ch, buf, sizeof(buf), 2048), 4096);
    assert_int_equal(buf[0], 3);
    assert_int_equal(buf[2047], 3);
    assert_int_equal(buf[2048], 4);
    assert_int_equal(buf[4095], 4);
    assert_int_equal(in8(ch, BASE + 7), 0x50);
    /* A byte count limit of 1001 (odd: 1000) splits the blocks. */
    PACKET(ch, 1001, 0xA8, 0, 0, 0, 0, CD_BLOCKS - 1, 0, 0, 0, 1);   /* READ(12) */
    assert_int_equal(data_blocks(ch, buf, sizeof(buf), 1000), 2048);
    assert_int_equal(buf[2047], CD_BLOCKS - 1);
    PACKET(ch, 2048, 0x5A, 0, 0x2A, 0, 0, 0, 0, 0, 64);   /* MODE SENSE(10) */
    assert_int_equal(data_blocks(ch, buf, sizeof(buf), 2048), 28);
    assert_int_equal(buf[1], 26);
    assert_int_equal(buf[8], 0x2A);
    PACKET(ch, 2048, 0x43, 0, 0, 0, 0, 0, 0, 0, 64);      /* READ TOC: track 1, lead-out */
    assert_int_equal(data_blocks(ch, buf, sizeof(buf), 2048), 20);
    assert_int_equal(buf[1], 18);
    assert_int_equal(buf[6], 1);
    assert_int_equal(buf[14], 0xAA);
    assert_int_equal(buf[19], CD_BLOCKS);
    PACKET(ch, 2048, 0x43, 0x02, 0, 0, 0, 0, 0, 0, 64);   /* MSF: 00:02:00 + 16 frames */
    assert_int_equal(data_blocks(ch, buf, sizeof(buf), 2048), 20);
    assert_int_equal(buf[17], 0);
    assert_int_equal(buf[18], 2);
    assert_int_equal(buf[19], CD_BLOCKS);
    PACKET(ch, 2048, 0x46, 0, 0, 0, 0, 0, 0, 0, 64);      /* GET CONFIGURATION */
    assert_int_equal(data_blocks(ch, buf, sizeof(buf), 2048), 16);
    assert_int_equal(buf[7], 0x08);                       /* CD-ROM profile */
    cd_done(ch);
}

/* CHECK CONDITION: ERR, the sense key in the error register, then REQUEST SENSE. */
static void expect_sense(IdeChannel *ch, uint8_t key, uint8_t asc)
{
    uint8_t buf[18];
    assert_int_equal(in8(ch, BASE + 7), 0x51);
    assert_int_equal(in8(ch, BASE + 1), key << 4 | 0x04);
    assert_int_equal(in8(ch, BASE + 2), 0x03);
    PACKET(ch, 2048, 0x03, 0, 0, 0, 18);
    assert_int_equal(data_blocks(ch, buf, sizeof(buf), 2048), 18);
    assert_int_equal(buf[0], 0x70);
    assert_int_equal(buf[2], key);
    assert_int_equal(buf[12], asc);
}

static void test_atapi_hostile(void **state)
{
    (void)state;
    IdeChannel *ch = cd_channel();
    uint8_t buf[64];
    PACKET(ch, 2048, 0x28, 0, 0, 0, 0, CD_BLOCKS, 0, 0, 1);   /* past the end */
    expect_sense(ch, 5, 0x21);
    PACKET(ch, 2048, 0xA8, 0, 0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF);   /* 4G blocks */
    expect_sense(ch, 5, 0x21);
    PACKET(ch, 2048, 0x28, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0xFF, 0xFF);
    expect_sense(ch, 5, 0x21);
    PACKET(ch, 2048, 0xFF);                                   /* no such command */
    expect_sense(ch, 5, 0x20);
    PACKET(ch, 2048, 0x5A, 0, 0x05, 0, 0, 0, 0, 0, 64);       /* a page it has not */
    expect_sense(ch, 5, 0x24);
    PACKET(ch, 2048, 0x43, 0, 0x07, 0, 0, 0, 0, 0, 64);       /* a TOC format it has not */
    expect_sense(ch, 5, 0x24);
    PACKET(ch, 2048, 0x03, 0, 0, 0, 18);                      /* the sense was cleared */
    assert_int_equal(data_blocks(ch, buf, sizeof(buf), 2048), 18);
    assert_int_equal(buf[2], 0);
    out8(ch, BASE + 1, 0x01);                                 /* PACKET by DMA: none */
    out8(ch, BASE + 7, 0xA0);
    assert_int_equal(in8(ch, BASE + 7), 0x51);
    /* A reset in the middle of a READ: the data is gone, the signature back. */
    PACKET(ch, 2048, 0x28, 0, 0, 0, 0, 0, 0, 0, 8);
    assert_int_equal(in8(ch, BASE), 0);
    out8(ch, CTRL, 0x06);
    out8(ch, CTRL, 0x02);
    assert_int_equal(in8(ch, BASE + 7), 0x50);
    assert_int_equal(in8(ch, BASE), 0xFF);
    assert_int_equal(in8(ch, BASE + 5), 0xEB);
    /* A packet cut short by a new command, data writes with nothing to take them. */
    out8(ch, BASE + 7, 0xA0);
    out8(ch, BASE, 0x28);
    out8(ch, BASE + 7, 0xA1);
    read_sector(ch, (uint8_t[512]){0});
    for (int i = 0; i < 100; i++)
        out8(ch, BASE, 0xFF);
    assert_int_equal(in8(ch, BASE + 7), 0x50);
    cd_done(ch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signature_and_registers),
        cmocka_unit_test(test_identify),
        cmocka_unit_test(test_read_write),
        cmocka_unit_test(test_hostile_task_files),
        cmocka_unit_test(test_interrupts),
        cmocka_unit_test(test_atapi_identify),
        cmocka_unit_test(test_atapi_commands),
        cmocka_unit_test(test_atapi_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
