/* Unit tests for the floppy disk controller (src/dev/fdc.c) and the ISA DMA controllers
 * (src/dev/i8237.c): reset and its polled interrupts, the command and result phases,
 * invalid commands, SPECIFY/CONFIGURE/LOCK/DUMPREG/PERPENDICULAR, seeks and the disk
 * change line, READ ID and the data rate, READ and WRITE DATA by DMA (multi-track, the
 * result's C/H/R/N, terminal count) and without DMA, FORMAT TRACK, and hostile input:
 * garbage to every port, sectors that do not exist or lie past the image, DMA addresses
 * beyond RAM, a masked channel. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dev/fdc.h"
#include "dev/i8237.h"

#define MEM_SIZE (1u << 20)
#define FD_BYTES 1474560u
#define DOR 0x3F2
#define MSR 0x3F4
#define FIFO 0x3F5
#define DIR 0x3F7

typedef struct {
    int level, edges;
} Irq;

typedef struct {
    char path[64];
    uint8_t *mem;
    DmaFlat flat;
    DmaHandle handle;
    IsaDma *dma;
    Fdc *fdc;
    Irq irq;
    BlockDev *bd;
} Rig;

static void irq_set(void *opaque, int line, int level)
{
    Irq *i = opaque;
    assert_int_equal(line, 6);
    if (level && !i->level)
        i->edges++;
    i->level = level;
}

/* Sector LBA n of the image: its number in the first two bytes, then byte n & 0xFF. */
static void fill_sector(uint8_t *s, unsigned n)
{
    memset(s, (int)(n & 0xFF), 512);
    s[0] = (uint8_t)n;
    s[1] = (uint8_t)(n >> 8);
}

static void rig_open(Rig *r, uint32_t bytes, int flags)
{
    memset(r, 0, sizeof(*r));
    strcpy(r->path, "/tmp/scratchvm-fdc.XXXXXX");
    int fd = mkstemp(r->path);
    assert_true(fd >= 0);
    uint8_t s[512];
    for (unsigned n = 0; n < bytes / 512; n++) {
        fill_sector(s, n);
        assert_int_equal(write(fd, s, sizeof(s)), (ssize_t)sizeof(s));
    }
    close(fd);
    assert_int_equal(block_open(r->path, BLOCK_FORMAT_RAW, flags, &r->bd), 0);
    r->mem = calloc(1, MEM_SIZE);
    assert_non_null(r->mem);
    r->flat = (DmaFlat){r->mem, MEM_SIZE};
    r->handle = dma_flat_handle(&r->flat);
    r->dma = isa_dma_create(&r->handle);
    assert_non_null(r->dma);
    const IrqLine line = {irq_set, &r->irq, 6};
    r->fdc = fdc_create(r->dma, FDC_DMA_CHANNEL, &line);
    assert_non_null(r->fdc);
    assert_int_equal(fdc_attach(r->fdc, 0, r->bd, true), 0);
}

static void rig_close(Rig *r)
{
    fdc_destroy(r->fdc);
    isa_dma_destroy(r->dma);
    free(r->mem);
    unlink(r->path);
}

static uint8_t in8(Rig *r, uint16_t port)
{
    uint32_t v;
    if (port >= 0x3F0 && port <= 0x3F7)
        assert_int_equal(fdc_io_read(port, 1, &v, r->fdc), 0);
    else
        assert_int_equal(isa_dma_io_read(port, 1, &v, r->dma), 0);
    return (uint8_t)v;
}

static void out8(Rig *r, uint16_t port, uint8_t v)
{
    if (port >= 0x3F0 && port <= 0x3F7)
        assert_int_equal(fdc_io_write(port, 1, v, r->fdc), 0);
    else
        assert_int_equal(isa_dma_io_write(port, 1, v, r->dma), 0);
}

/* Sends a command, each byte only when the MSR asks for it (RQM, DIO clear). */
static void command(Rig *r, const uint8_t *bytes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(in8(r, MSR) & 0xC0, 0x80);
        out8(r, FIFO, bytes[i]);
    }
}
#define CMD(r, ...) \
    command(r, (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__}))

/* Reads n result bytes (RQM and DIO set for each), then the controller takes commands. */
static void result(Rig *r, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(in8(r, MSR) & 0xC0, 0xC0);
        out[i] = in8(r, FIFO);
    }
    assert_int_equal(in8(r, MSR), 0x80);
}

/* Out of reset, the four polled statuses taken, 500 kbps (the 1.44 MB disk's rate). */
static void enable(Rig *r)
{
    out8(r, DOR, 0x1C);
    uint8_t res[2];
    for (int d = 0; d < 4; d++) {
        CMD(r, 0x08);
        result(r, res, 2);
    }
    out8(r, DIR, 0);
}

/* Channel 2 for `bytes` at addr: mode 0x46 (single, to memory) or 0x4A (from memory). */
static void dma_setup(Rig *r, uint32_t addr, uint16_t bytes, uint8_t mode)
{
    out8(r, 0x0A, 0x06);
    out8(r, 0x0C, 0);
    out8(r, 0x04, (uint8_t)addr);
    out8(r, 0x04, (uint8_t)(addr >> 8));
    out8(r, 0x0C, 0);
    out8(r, 0x05, (uint8_t)(bytes - 1));
    out8(r, 0x05, (uint8_t)((bytes - 1) >> 8));
    out8(r, 0x0B, mode);
    out8(r, 0x81, (uint8_t)(addr >> 16));
    out8(r, 0x0A, 0x02);
}

static void test_reset_version_invalid(void **state)
{
    (void)state;
    Rig r;
    rig_open(&r, FD_BYTES, 0);
    assert_int_equal(in8(&r, MSR), 0);   /* held in reset at power-on */
    assert_int_equal(r.irq.edges, 0);
    out8(&r, DOR, 0x04);                 /* SeaBIOS's way out: no DMA gate, still an IRQ */
    assert_int_equal(r.irq.edges, 1);
    assert_int_equal(in8(&r, MSR), 0x80);
    uint8_t res[10];
    for (int d = 0; d < 4; d++) {
        CMD(&r, 0x08);
        result(&r, res, 2);
        assert_int_equal(res[0], 0xC0 | d);
        assert_int_equal(res[1], 0);
        assert_int_equal(r.irq.level, 0);
    }
    CMD(&r, 0x08);                       /* nothing pending: invalid */
    result(&r, res, 1);
    assert_int_equal(res[0], 0x80);
    CMD(&r, 0x10);
    result(&r, res, 1);
    assert_int_equal(res[0], 0x90);
    const uint8_t invalid[] = {0x00, 0x01, 0x1F, 0xFF, 0x8A, 0xE5, 0x83, 0x28};
    for (size_t i = 0; i < sizeof(invalid); i++) {
        out8(&r, FIFO, invalid[i]);
        result(&r, res, 1);
        assert_int_equal(res[0], 0x80);
    }
    /* A reset in the middle of a command drops it. */
    out8(&r, FIFO, 0x0F);
    assert_int_equal(in8(&r, MSR), 0x90);   /* RQM and busy */
    out8(&r, DOR, 0x00);
    assert_int_equal(in8(&r, MSR), 0);
    out8(&r, FIFO, 0x10);                   /* ignored in reset */
    out8(&r, DOR, 0x0C);
    CMD(&r, 0x10);
    result(&r, res, 1);
    assert_int_equal(res[0], 0x90);
    rig_close(&r);
}

static void test_configure_lock_dumpreg(void **state)
{
    (void)state;
    Rig r;
    rig_open(&r, FD_BYTES, 0);
    enable(&r);
    uint8_t res[10];
    CMD(&r, 0x03, 0xAF, 0x02);           /* SPECIFY */
    CMD(&r, 0x13, 0x00, 0x57, 0x05);     /* CONFIGURE: EIS, FIFO off, POLL off, thr 7 */
    CMD(&r, 0x12, 0x85);                 /* PERPENDICULAR: OW, drive 0, WGATE */
    CMD(&r, 0x94);                       /* LOCK */
    result(&r, res, 1);
    assert_int_equal(res[0], 0x10);
    CMD(&r, 0x0F, 0x00, 0x21);           /* SEEK to 33 */
    CMD(&r, 0x08);
    result(&r, res, 2);
    CMD(&r, 0x0E);
    result(&r, res, 10);
    const uint8_t want[10] = {0x21, 0, 0, 0, 0xAF, 0x02, 0, 0x80 | 0x04 | 0x01, 0x57, 0x05};
    assert_memory_equal(res, want, 10);
    /* A software reset: the locked FIFO settings stay, EIS and POLL go (polling again:
     * four statuses), cylinders 0. */
    out8(&r, MSR, 0x80);
    for (int d = 0; d < 4; d++) {
        CMD(&r, 0x08);
        result(&r, res, 2);
        assert_int_equal(res[0], 0xC0 | d);
    }
    CMD(&r, 0x08);
    result(&r, res, 1);
    assert_int_equal(res[0], 0x80);
    CMD(&r, 0x0E);
    result(&r, res, 10);
    assert_int_equal(res[0], 0);
    assert_int_equal(res[7], 0x80 | 0x04);   /* lock; drive bits kept, WGATE cleared */
    assert_int_equal(res[8], 0x07);
    assert_int_equal(res[9], 0x05);
    CMD(&r, 0x14);                       /* UNLOCK */
    result(&r, res, 1);
    assert_int_equal(res[0], 0);
    rig_close(&r);
}

static void test_seek_recalibrate_change_line(void **state)
{
    (void)state;
    Rig r;
    rig_open(&r, FD_BYTES, 0);
    enable(&r);
    uint8_t res[2];
    assert_int_equal(in8(&r, DIR), 0x80);   /* the change line is set at power-on */
    int edges = r.irq.edges;
    CMD(&r, 0x0F, 0x04, 40);                /* SEEK head 1 to 40 */
    assert_int_equal(r.irq.edges, edges + 1);
    assert_int_equal(in8(&r, DIR), 0);      /* a step with a disk in cleared it */
    CMD(&r, 0x04, 0x04);                    /* SENSE DRIVE STATUS */
    result(&r, res, 1);
    assert_int_equal(res[0], 0x28 | 0x04);
    CMD(&r, 0x08);
    result(&r, res, 2);
    assert_int_equal(res[0], 0x24);
    assert_int_equal(res[1], 40);
    CMD(&r, 0x07, 0x00);                    /* RECALIBRATE */
    CMD(&r, 0x08);
    result(&r, res, 2);
    assert_int_equal(res[0], 0x20);
    assert_int_equal(res[1], 0);
    CMD(&r, 0x04, 0x00);
    result(&r, res, 1);
    assert_int_equal(res[0], 0x28 | 0x10);  /* track 0 */
    CMD(&r, 0x07, 0x02);                    /* no drive 2: track 0 never comes */
    CMD(&r, 0x08);
    result(&r, res, 2);
    assert_int_equal(res[0], 0x40 | 0x20 | 0x10 | 0x02);
    out8(&r, DOR, 0x1D);                    /* drive 1 selected: no disk, line set */
    assert_int_equal(in8(&r, DIR), 0x80);
    assert_int_equal(fdc_cmos_drive_types(r.fdc), 0x40);
    rig_close(&r);
}

static void test_read_id_and_rate(void **state)
{
    (void)state;
    Rig r;
    rig_open(&r, FD_BYTES, 0);
    enable(&r);
    uint8_t res[7];
    out8(&r, DIR, 2);                       /* 250 kbps: no IDs found on a 1.44 MB disk */
    CMD(&r, 0x4A, 0x00);
    result(&r, res, 7);
    assert_int_equal(res[0], 0x40);
    assert_int_equal(res[1], 0x01);
    out8(&r, MSR, 0x00);                    /* DSR: 500 kbps */
    int edges = r.irq.edges;
    CMD(&r, 0x4A, 0x00);
    assert_int_equal(r.irq.edges, edges + 1);
    result(&r, res, 7);
    const uint8_t want[7] = {0x00, 0, 0, 0, 0, 1, 2};
    assert_memory_equal(res, want, 7);
    CMD(&r, 0x4A, 0x00);                    /* the disk turned: the next ID */
    result(&r, res, 7);
    assert_int_equal(res[5], 2);
    CMD(&r, 0x0A, 0x00);                    /* FM on an MFM disk */
    result(&r, res, 7);
    assert_int_equal(res[0], 0x40);
    rig_close(&r);
}

static void test_dma_read_write(void **state)
{
    (void)state;
    Rig r;
    rig_open(&r, FD_BYTES, 0);
    enable(&r);
    uint8_t res[7], want[512];
    /* Two sectors from C1/H0/R17 with MT: the result is the next ID, C1/H1/R1, and ST0
     * names the head the controller is on by then. */
    dma_setup(&r, 0x12000, 1024, 0x46);
    CMD(&r, 0xE6, 0x00, 1, 0, 17, 2, 18, 0x1B, 0xFF);
    result(&r, res, 7);
    const uint8_t ok[7] = {0x04, 0, 0, 1, 1, 1, 2};
    assert_memory_equal(res, ok, 7);
    fill_sector(want, 36 + 16);
    assert_memory_equal(r.mem + 0x12000, want, 512);
    fill_sector(want, 36 + 17);
    assert_memory_equal(r.mem + 0x12200, want, 512);
    assert_int_equal(r.mem[0x12400], 0);
    assert_int_equal(in8(&r, 0x08) & 0x04, 0x04);   /* TC on channel 2, cleared by the read */
    assert_int_equal(in8(&r, 0x08) & 0x04, 0);
    assert_int_equal(in8(&r, 0x0F) & 0x04, 0x04);   /* masked at TC */
    /* Across the heads: R18 of head 0, then R1 of head 1. */
    dma_setup(&r, 0x20000, 1024, 0x46);
    CMD(&r, 0xE6, 0x00, 0, 0, 18, 2, 18, 0x1B, 0xFF);
    result(&r, res, 7);
    assert_int_equal(res[0], 0x04);
    assert_int_equal(res[4], 1);
    assert_int_equal(res[5], 2);
    fill_sector(want, 18);
    assert_memory_equal(r.mem + 0x20200, want, 512);
    /* Without MT, more than the track holds: the end of the cylinder. */
    dma_setup(&r, 0x20000, 1024, 0x46);
    CMD(&r, 0x46, 0x00, 0, 0, 18, 2, 18, 0x1B, 0xFF);
    result(&r, res, 7);
    assert_int_equal(res[0], 0x40);
    assert_int_equal(res[1], 0x80);
    assert_int_equal(res[3], 1);
    assert_int_equal(res[5], 1);
    /* A write from memory, read back from the image. */
    memset(r.mem + 0x30000, 0x5A, 512);
    dma_setup(&r, 0x30000, 512, 0x4A);
    CMD(&r, 0xC5, 0x04, 3, 1, 5, 2, 18, 0x1B, 0xFF);
    result(&r, res, 7);
    assert_int_equal(res[0], 0x04);
    uint8_t s[512];
    assert_int_equal(block_read(r.bd, (uint64_t)((3 * 2 + 1) * 18 + 4) * 512, s, 512), 0);
    memset(want, 0x5A, 512);
    assert_memory_equal(s, want, 512);
    /* TC in the middle of a sector: the rest of it is written as zeros. */
    dma_setup(&r, 0x30000, 100, 0x4A);
    CMD(&r, 0xC5, 0x00, 3, 0, 1, 2, 18, 0x1B, 0xFF);
    result(&r, res, 7);
    assert_int_equal(res[0], 0);
    assert_int_equal(block_read(r.bd, (uint64_t)(3 * 2) * 18 * 512, s, 512), 0);
    assert_int_equal(s[99], 0x5A);
    assert_int_equal(s[100], 0);
    rig_close(&r);
}

static void test_write_protected(void **state)
{
    (void)state;
    Rig r;
    rig_open(&r, FD_BYTES, BLOCK_READ_ONLY);
    enable(&r);
    uint8_t res[7];
    CMD(&r, 0x04, 0x00);
    result(&r, res, 1);
    assert_int_equal(res[0] & 0x40, 0x40);
    dma_setup(&r, 0x30000, 512, 0x4A);
    CMD(&r, 0xC5, 0x00, 0, 0, 1, 2, 18, 0x1B, 0xFF);
    result(&r, res, 7);
    assert_int_equal(res[0], 0x40);
    assert_int_equal(res[1], 0x02);
    rig_close(&r);
}

static void test_non_dma(void **state)
{
    (void)state;
    Rig r;
    rig_open(&r, FD_BYTES, 0);
    enable(&r);
    uint8_t res[7], want[512], s[512];
    CMD(&r, 0x03, 0xAF, 0x03);              /* SPECIFY with ND */
    CMD(&r, 0x46, 0x00, 2, 0, 18, 2, 18, 0x1B, 0xFF);
    for (int i = 0; i < 512; i++) {
        assert_int_equal(in8(&r, MSR), 0xF0);   /* RQM, DIO, NDMA, busy */
        s[i] = in8(&r, FIFO);
    }
    fill_sector(want, 2 * 36 + 17);
    assert_memory_equal(s, want, 512);
    result(&r, res, 7);                     /* no TC without DMA: the end of the cylinder */
    assert_int_equal(res[0], 0x40);
    assert_int_equal(res[1], 0x80);
    assert_int_equal(res[3], 3);
    assert_int_equal(res[5], 1);
    CMD(&r, 0x45, 0x00, 2, 0, 18, 2, 18, 0x1B, 0xFF);
    for (int i = 0; i < 512; i++) {
        assert_int_equal(in8(&r, MSR), 0xB0);   /* RQM, NDMA, busy: CPU to controller */
        out8(&r, FIFO, (uint8_t)i);
    }
    result(&r, res, 7);
    assert_int_equal(block_read(r.bd, (uint64_t)(2 * 36 + 17) * 512, s, 512), 0);
    for (int i = 0; i < 512; i++)
        assert_int_equal(s[i], (uint8_t)i);
    rig_close(&r);
}

static void test_format(void **state)
{
    (void)state;
    Rig r;
    rig_open(&r, FD_BYTES, 0);
    enable(&r);
    uint8_t res[7], s[512];
    CMD(&r, 0x0F, 0x04, 5);
    CMD(&r, 0x08);
    result(&r, res, 2);
    for (unsigned i = 0; i < 18; i++) {
        uint8_t *id = r.mem + 0x40000 + 4 * i;
        id[0] = 5, id[1] = 1, id[2] = (uint8_t)(i + 1), id[3] = 2;
    }
    r.mem[0x40000 + 4 * 17 + 2] = 40;       /* an ID the image cannot hold: skipped */
    dma_setup(&r, 0x40000, 18 * 4, 0x4A);
    CMD(&r, 0x4D, 0x04, 2, 18, 0x6C, 0xE5);
    result(&r, res, 7);
    assert_int_equal(res[0], 0x04);
    for (unsigned i = 0; i < 18; i++) {
        assert_int_equal(block_read(r.bd, (uint64_t)((5 * 2 + 1) * 18 + i) * 512, s, 512), 0);
        assert_int_equal(s[0], i < 17 ? 0xE5 : (uint8_t)((5 * 2 + 1) * 18 + i));
    }
    rig_close(&r);
}

static void test_hostile_transfers(void **state)
{
    (void)state;
    Rig r;
    rig_open(&r, 8 * 512, 0);               /* 8 sectors, read as a 1.44 MB disk */
    enable(&r);
    uint8_t res[7];
    assert_int_equal(fdc_cmos_drive_types(r.fdc), 0x40);
    struct { uint8_t hds, c, h, sec, n; uint8_t st1; } bad[] = {
        {0, 0, 0, 9, 2, 0x04},              /* past the image's end */
        {0, 0, 0, 0, 2, 0x04},              /* sector 0 */
        {0, 0, 0, 19, 2, 0x04},             /* past the track */
        {0, 0, 0, 1, 3, 0x04},              /* 1024-byte sectors */
        {0, 0, 1, 1, 2, 0x04},              /* the ID's head is not the head reading */
        {0, 200, 0, 1, 2, 0x01},            /* no such cylinder on the media */
        {0, 255, 255, 255, 255, 0x01},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        dma_setup(&r, 0x10000, 512, 0x46);
        CMD(&r, 0xE6, bad[i].hds, bad[i].c, bad[i].h, bad[i].sec, bad[i].n, 18, 0x1B, 0xFF);
        result(&r, res, 7);
        assert_int_equal(res[0] & 0xC0, 0x40);
        assert_int_equal(res[1], bad[i].st1);
    }
    /* Sector 8 (the last): read fine; the transfer runs into sector 9: no data. */
    dma_setup(&r, 0x10000, 1024, 0x46);
    CMD(&r, 0xE6, 0x00, 0, 0, 8, 2, 18, 0x1B, 0xFF);
    result(&r, res, 7);
    assert_int_equal(res[0], 0x40);
    assert_int_equal(res[1], 0x04);
    assert_int_equal(res[5], 9);
    assert_int_equal(r.mem[0x10000], 7);
    /* A masked channel: no DMA acknowledge, an overrun. */
    out8(&r, 0x0A, 0x06);
    CMD(&r, 0xE6, 0x00, 0, 0, 1, 2, 18, 0x1B, 0xFF);
    result(&r, res, 7);
    assert_int_equal(res[1], 0x10);
    /* DMA beyond RAM (page 0xFF): the bytes vanish, nothing else is written. */
    memset(r.mem, 0, MEM_SIZE);
    dma_setup(&r, 0xFFFF00, 512, 0x46);
    CMD(&r, 0xE6, 0x00, 0, 0, 2, 2, 18, 0x1B, 0xFF);
    result(&r, res, 7);
    assert_int_equal(res[0], 0);
    for (uint32_t i = 0; i < MEM_SIZE; i++)
        assert_int_equal(r.mem[i], 0);
    /* The address wraps within its 64 KiB page, as the 8237 counts (16 bits). */
    dma_setup(&r, 0x1FF00, 512, 0x46);
    CMD(&r, 0xE6, 0x00, 0, 0, 3, 2, 18, 0x1B, 0xFF);
    result(&r, res, 7);
    assert_int_equal(r.mem[0x1FF00], 2);
    assert_int_equal(r.mem[0x10000], 2);     /* byte 256 of the sector */
    assert_int_equal(r.mem[0x20000], 0);
    rig_close(&r);
}

static void test_dma_registers(void **state)
{
    (void)state;
    Rig r;
    rig_open(&r, FD_BYTES, 0);
    /* Addresses and counts read back through the flip-flop. */
    out8(&r, 0x0C, 0);
    out8(&r, 0x02, 0x34);
    out8(&r, 0x02, 0x12);
    assert_int_equal(in8(&r, 0x02), 0x34);
    assert_int_equal(in8(&r, 0x02), 0x12);
    out8(&r, 0x83, 0x7E);
    assert_int_equal(in8(&r, 0x83), 0x7E);
    assert_int_equal(in8(&r, 0x0F), 0xFF);   /* all masked after reset */
    out8(&r, 0x0E, 0);
    assert_int_equal(in8(&r, 0x0F), 0xF0);
    out8(&r, 0x0D, 0);                       /* master clear */
    assert_int_equal(in8(&r, 0x0F), 0xFF);
    /* Channel 5 (16-bit): words, the page's bit 0 unused; decrement mode on channel 1. */
    uint8_t buf[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    out8(&r, 0xD8, 0);                       /* controller 2 flip-flop */
    out8(&r, 0xC4, 0x00);
    out8(&r, 0xC4, 0x10);                    /* word 0x1000: byte 0x2000 */
    out8(&r, 0xC6, 3);
    out8(&r, 0xC6, 0);                       /* 4 words */
    out8(&r, 0xD6, 0x45);                    /* single, write to memory, channel 5 */
    out8(&r, 0x8B, 0x03);                    /* page: 0x02 << 16 */
    out8(&r, 0xD4, 0x01);                    /* unmask 5 */
    out8(&r, 0xD4, 0x00);                    /* unmask 4 (cascade) */
    bool tc = false;
    assert_int_equal(isa_dma_transfer(r.dma, 5, buf, 8, &tc), 8);
    assert_true(tc);
    assert_memory_equal(r.mem + 0x22000, buf, 8);
    out8(&r, 0x0C, 0);
    out8(&r, 0x02, 0x10);
    out8(&r, 0x02, 0x00);
    out8(&r, 0x03, 0xFF);
    out8(&r, 0x03, 0xFF);                    /* 64 KiB */
    out8(&r, 0x0B, 0x65);                    /* single, decrement, to memory, channel 1 */
    out8(&r, 0x83, 0x00);
    out8(&r, 0x0A, 0x01);
    assert_int_equal(isa_dma_transfer(r.dma, 1, buf, 4, &tc), 4);
    assert_false(tc);
    assert_int_equal(r.mem[0x10], 1);
    assert_int_equal(r.mem[0x0F], 2);
    assert_int_equal(r.mem[0x0D], 4);
    assert_int_equal(in8(&r, 0x02), 0x0C);   /* the current address counted down */
    /* Controller disabled: no transfer; channel out of range: none. */
    out8(&r, 0x08, 0x04);
    assert_int_equal(isa_dma_transfer(r.dma, 1, buf, 4, &tc), 0);
    assert_int_equal(isa_dma_transfer(r.dma, 9, buf, 4, &tc), 0);
    rig_close(&r);
}

/* Random bytes to every port of both devices, with reads between, then a working
 * controller after a reset. Fixed seed: the same sequence every run. */
static void test_garbage_to_every_port(void **state)
{
    (void)state;
    Rig r;
    rig_open(&r, FD_BYTES, 0);
    static const uint16_t ports[] = {0x3F0, 0x3F1, 0x3F2, 0x3F3, 0x3F4, 0x3F5, 0x3F7,
                                     0x00, 0x04, 0x05, 0x08, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E,
                                     0x0F, 0x81, 0x87, 0xC0, 0xC4, 0xD0, 0xD4, 0xD6, 0xDE,
                                     0xDF};
    unsigned seed = 12345;
    for (int i = 0; i < 200000; i++) {
        seed = seed * 1103515245u + 12345u;
        uint16_t port = ports[(seed >> 8) % (sizeof(ports) / sizeof(ports[0]))];
        uint8_t v = (uint8_t)(seed >> 20);
        if (port == 0x3F5 && (seed & 0x10))
            v &= 0x1F;                       /* valid opcodes more often */
        if (seed & 0x4)
            (void)in8(&r, port);
        else
            out8(&r, port, v);
        uint32_t wide;
        assert_int_equal(fdc_io_read(0x3F5, 4, &wide, r.fdc), 0);
    }
    fdc_reset(r.fdc);
    isa_dma_reset(r.dma);
    enable(&r);
    uint8_t res[1];
    CMD(&r, 0x10);
    result(&r, res, 1);
    assert_int_equal(res[0], 0x90);
    rig_close(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reset_version_invalid),
        cmocka_unit_test(test_configure_lock_dumpreg),
        cmocka_unit_test(test_seek_recalibrate_change_line),
        cmocka_unit_test(test_read_id_and_rate),
        cmocka_unit_test(test_dma_read_write),
        cmocka_unit_test(test_write_protected),
        cmocka_unit_test(test_non_dma),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_hostile_transfers),
        cmocka_unit_test(test_dma_registers),
        cmocka_unit_test(test_garbage_to_every_port),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
