/*
 * An IDE channel with programmed I/O (ide.h). Register layout and command protocol from
 * ATA/ATAPI-6 (T13/1410D): the command block registers 0-7 (data, error/features, sector
 * count, LBA low/mid/high, device, status/command) and the control block register
 * (alternate status / device control: nIEN, SRST, HOB). The sector count and LBA
 * registers keep their previous value for the 48-bit commands (read back with HOB). The
 * IDENTIFY DEVICE words filled are those ATA-6 defines for a fixed disk with LBA48.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "dev/ide.h"
#include "hv/hv_log.h"

#define SECTOR 512u

/* Registers (offsets from the command block base). */
enum { REG_DATA, REG_ERROR, REG_COUNT, REG_LBA_LOW, REG_LBA_MID, REG_LBA_HIGH, REG_DEVICE,
       REG_STATUS };

#define ST_ERR  0x01
#define ST_DRQ  0x08
#define ST_DSC  0x10
#define ST_DRDY 0x40
#define ST_BSY  0x80
#define ER_AMNF 0x01       /* after a reset or diagnostic: "device 0 passed" */
#define ER_ABRT 0x04
#define ER_IDNF 0x10
#define ER_UNC  0x40
#define DC_NIEN 0x02
#define DC_SRST 0x04
#define DC_HOB  0x80
#define DEV_DEV1 0x10
#define DEV_LBA 0x40
#define DEV_OBSOLETE 0xA0  /* bits 7 and 5 read as one */

#define CMD_RECALIBRATE      0x10   /* 10h-1Fh */
#define CMD_READ_SECTORS     0x20
#define CMD_READ_SECTORS_NR  0x21
#define CMD_READ_SECTORS_EXT 0x24
#define CMD_READ_MULTIPLE_EXT 0x29
#define CMD_WRITE_SECTORS    0x30
#define CMD_WRITE_SECTORS_NR 0x31
#define CMD_WRITE_SECTORS_EXT 0x34
#define CMD_WRITE_MULTIPLE_EXT 0x39
#define CMD_VERIFY           0x40
#define CMD_VERIFY_NR        0x41
#define CMD_VERIFY_EXT       0x42
#define CMD_SEEK             0x70
#define CMD_DIAGNOSTIC       0x90
#define CMD_INIT_PARAMS      0x91
#define CMD_READ_MULTIPLE    0xC4
#define CMD_WRITE_MULTIPLE   0xC5
#define CMD_SET_MULTIPLE     0xC6
#define CMD_CHECK_POWER      0xE5
#define CMD_FLUSH            0xE7
#define CMD_FLUSH_EXT        0xEA
#define CMD_IDENTIFY         0xEC
#define CMD_SET_FEATURES     0xEF
#define CMD_DEVICE_RESET     0x08
#define CMD_PACKET           0xA0
#define CMD_IDENTIFY_PACKET  0xA1

/* ATAPI (a CD-ROM, MMC-2 commands in 12-byte packets). The interrupt reason in the
 * sector count register: CoD (command, not data) and IO (to the host). */
#define CD_BLOCK 2048u
#define PACKET_SIZE 12
#define IR_COD 0x01
#define IR_IO  0x02
#define ATAPI_SIG_MID 0x14         /* the packet device signature (ATA-6 9.12) */
#define ATAPI_SIG_HIGH 0xEB
#define SCSI_TEST_UNIT_READY 0x00
#define SCSI_REQUEST_SENSE   0x03
#define SCSI_INQUIRY         0x12
#define SCSI_MODE_SENSE6     0x1A
#define SCSI_START_STOP      0x1B
#define SCSI_PREVENT_ALLOW   0x1E
#define SCSI_READ_CAPACITY   0x25
#define SCSI_READ10          0x28
#define SCSI_SEEK10          0x2B
#define SCSI_READ_TOC        0x43
#define SCSI_GET_CONFIG      0x46
#define SCSI_MODE_SENSE10    0x5A
#define SCSI_READ12          0xA8
#define SENSE_NOT_READY 0x02
#define SENSE_ILLEGAL_REQUEST 0x05
#define ASC_INVALID_OPCODE 0x20
#define ASC_LBA_OUT_OF_RANGE 0x21
#define ASC_INVALID_FIELD 0x24
#define ASC_NO_MEDIUM 0x3A

#define LBA28_MAX 0x0FFFFFFFull

typedef struct {
    BlockDev *bd;
    bool atapi;                            /* a CD-ROM: sectors counts 2048-byte blocks */
    uint8_t sense_key, asc;                /* the last CHECK CONDITION (REQUEST SENSE) */
    uint64_t sectors;
    uint16_t cylinders, heads, spt;        /* the default translation (IDENTIFY 1, 3, 6) */
    uint16_t cur_heads, cur_spt;           /* INITIALIZE DEVICE PARAMETERS */
} IdeDrive;

struct IdeChannel {
    void *owner;
    IrqLine irq;                           /* INTRQ (ISA IRQ 14 or 15); unwired: none */
    bool irq_level;
    uint16_t cmd_base, ctrl_port;
    IdeDrive drive[2];
    /* The task file; [0] the value last written, [1] the one before (HOB). */
    uint8_t count[2], lba_low[2], lba_mid[2], lba_high[2];
    uint8_t feature, device, control, status, error;
    /* The PIO transfer in progress. */
    bool transferring, writing, identify;
    uint8_t buf[SECTOR];
    unsigned pos;
    uint32_t left;                         /* sectors to go, the one in buf included */
    uint64_t lba;                          /* the sector in buf */
    /* ATAPI: the packet being received, then the data going to the host, one DRQ block
     * (at most the byte count limit) at a time out of cd_buf, which holds the response
     * or the current 2048-byte block of a READ. */
    bool packet;                           /* DRQ for the command packet */
    bool atapi_in;                         /* DRQ for data to the host */
    uint8_t cdb[PACKET_SIZE];
    unsigned cdb_pos;
    uint8_t cd_buf[CD_BLOCK];
    unsigned cd_pos, cd_len;               /* next byte, valid bytes of cd_buf */
    uint64_t atapi_left;                   /* bytes still to go, cd_buf's included */
    uint32_t block_left;                   /* bytes left in this DRQ block */
    uint32_t byte_limit;
    uint64_t cd_lba;                       /* READ: the next block to load */
};

static void set_irq(IdeChannel *ch, bool level);

/* The state after power-on or a hardware reset: the ATA signature in the task file,
 * "passed" in the error register, the default translation. */
static void signature(IdeChannel *ch, const IdeDrive *d)
{
    ch->count[0] = ch->lba_low[0] = 1;
    ch->lba_mid[0] = d->atapi ? ATAPI_SIG_MID : 0;
    ch->lba_high[0] = d->atapi ? ATAPI_SIG_HIGH : 0;
}

static void power_on(IdeChannel *ch)
{
    ch->transferring = ch->packet = ch->atapi_in = false;
    signature(ch, &ch->drive[0]);
    ch->device = 0;
    for (int i = 0; i < 2; i++) {
        ch->drive[i].cur_heads = ch->drive[i].heads;
        ch->drive[i].cur_spt = ch->drive[i].spt;
    }
    ch->status = ST_DRDY | ST_DSC;
    ch->error = ER_AMNF;
}

IdeChannel *ide_create(uint16_t cmd_base, uint16_t ctrl_port, void *owner)
{
    IdeChannel *ch = calloc(1, sizeof(*ch));
    if (!ch) {
        hv_fail(ENOMEM, "ide: out of memory");
        return NULL;
    }
    ch->owner = owner;
    ch->cmd_base = cmd_base;
    ch->ctrl_port = ctrl_port;
    power_on(ch);
    return ch;
}

void *ide_owner(const IdeChannel *ch) { return ch->owner; }

void ide_reset(void *opaque)
{
    IdeChannel *ch = opaque;
    set_irq(ch, false);
    ch->control = 0;
    power_on(ch);
}

void ide_set_irq_line(IdeChannel *ch, const IrqLine *irq) { ch->irq = *irq; }

int ide_attach(IdeChannel *ch, int unit, BlockDev *bd)
{
    if (!ch || !bd || unit < 0 || unit > 1)
        return hv_fail(EINVAL, "ide_attach: bad arguments");
    if (ch->drive[unit].bd)
        return hv_fail(EEXIST, "ide: unit %d is taken", unit);
    IdeDrive *d = &ch->drive[unit];
    d->bd = bd;
    d->atapi = false;
    d->sectors = bd->size / SECTOR;
    d->heads = 16;
    d->spt = 63;
    uint64_t cyl = d->sectors / (16 * 63);
    d->cylinders = (uint16_t)(cyl > 16383 ? 16383 : cyl ? cyl : 1);
    d->cur_heads = d->heads;
    d->cur_spt = d->spt;
    return 0;
}

int ide_attach_cdrom(IdeChannel *ch, int unit, BlockDev *bd)
{
    if (!ch || !bd || unit < 0 || unit > 1)
        return hv_fail(EINVAL, "ide_attach_cdrom: bad arguments");
    if (ch->drive[unit].bd)
        return hv_fail(EEXIST, "ide: unit %d is taken", unit);
    IdeDrive *d = &ch->drive[unit];
    *d = (IdeDrive){.bd = bd, .atapi = true, .sectors = bd->size / CD_BLOCK};
    if (unit == 0)
        signature(ch, d);
    return 0;
}

void ide_destroy(IdeChannel *ch)
{
    if (!ch)
        return;
    for (int i = 0; i < 2; i++)
        block_close(ch->drive[i].bd);
    free(ch);
}

static IdeDrive *selected(IdeChannel *ch)
{
    IdeDrive *d = &ch->drive[ch->device & DEV_DEV1 ? 1 : 0];
    return d->bd ? d : NULL;
}

/* INTRQ (ATA-6 5.2.9): asserted when a command completes or a PIO data block is ready,
 * unless nIEN masks it; reading the status register or writing a command clears it. */
static void set_irq(IdeChannel *ch, bool level)
{
    level = level && !(ch->control & DC_NIEN);
    if (level == ch->irq_level)
        return;
    ch->irq_level = level;
    if (ch->irq.set)
        ch->irq.set(ch->irq.opaque, ch->irq.line, level);
}

/* The command is over. A PIO read ends without an interrupt (its last one came with its
 * last block); everything else ends with one. */
static void finish(IdeChannel *ch, bool irq)
{
    ch->transferring = ch->packet = ch->atapi_in = false;
    ch->status = ST_DRDY | ST_DSC;
    ch->error = 0;
    if (irq)
        set_irq(ch, true);
}

static void done(IdeChannel *ch) { finish(ch, true); }

static void fail(IdeChannel *ch, uint8_t error)
{
    ch->transferring = ch->packet = ch->atapi_in = false;
    ch->status = ST_DRDY | ST_DSC | ST_ERR;
    ch->error = error;
    set_irq(ch, true);
}

/* An ATA string: two characters a word, the first in the high byte, blank padded. */
static void put_string(uint16_t *w, int words, const char *s)
{
    size_t n = strlen(s);
    for (int i = 0; i < words; i++) {
        uint8_t hi = (size_t)(2 * i) < n ? (uint8_t)s[2 * i] : ' ';
        uint8_t lo = (size_t)(2 * i + 1) < n ? (uint8_t)s[2 * i + 1] : ' ';
        w[i] = (uint16_t)(hi << 8 | lo);
    }
}

static void identify(IdeChannel *ch, const IdeDrive *d)
{
    uint16_t w[256] = {0};
    w[0] = 0x0040;                         /* fixed device */
    w[1] = d->cylinders;
    w[3] = d->heads;
    w[6] = d->spt;
    put_string(w + 10, 10, "SVM0000001");
    put_string(w + 23, 4, "0.1");
    put_string(w + 27, 20, "SCRATCHVM HARDDISK");
    w[47] = 0x8010;                        /* READ/WRITE MULTIPLE: up to 16 sectors */
    w[49] = 0x0200;                        /* LBA */
    w[50] = 0x4000;
    w[51] = 0x0200;                        /* PIO mode 2 timing */
    w[53] = 0x0003;                        /* words 54-58 and 64-70 are valid */
    uint32_t cur = (uint32_t)d->cylinders * d->cur_heads * d->cur_spt;
    w[54] = d->cylinders;
    w[55] = d->cur_heads;
    w[56] = d->cur_spt;
    w[57] = (uint16_t)cur;
    w[58] = (uint16_t)(cur >> 16);
    uint64_t lba28 = d->sectors < LBA28_MAX ? d->sectors : LBA28_MAX;
    w[60] = (uint16_t)lba28;
    w[61] = (uint16_t)(lba28 >> 16);
    w[64] = 0x0003;                        /* PIO modes 3 and 4 */
    w[65] = w[66] = w[67] = w[68] = 120;   /* cycle times, ns */
    w[80] = 0x00F0;                        /* ATA-4 to ATA-7 */
    w[82] = 0x4000;
    w[83] = 0x4400;                        /* 48-bit addresses */
    w[84] = 0x4000;
    w[85] = 0x4000;
    w[86] = 0x0400;                        /* 48-bit addresses enabled */
    w[87] = 0x4000;
    for (int i = 0; i < 4; i++)
        w[100 + i] = (uint16_t)(d->sectors >> (16 * i));
    for (int i = 0; i < 256; i++) {
        ch->buf[2 * i] = (uint8_t)w[i];
        ch->buf[2 * i + 1] = (uint8_t)(w[i] >> 8);
    }
}

/* The command's first sector and count from the task file; false (IDNF set) when they
 * do not address the disk. */
static bool address(IdeChannel *ch, const IdeDrive *d, bool ext, uint64_t *lba, uint32_t *n)
{
    if (ext) {
        *lba = (uint64_t)ch->lba_high[1] << 40 | (uint64_t)ch->lba_mid[1] << 32 |
               (uint64_t)ch->lba_low[1] << 24 | (uint64_t)ch->lba_high[0] << 16 |
               (uint64_t)ch->lba_mid[0] << 8 | ch->lba_low[0];
        *n = (uint32_t)ch->count[1] << 8 | ch->count[0];
        if (*n == 0)
            *n = 65536;
    } else {
        *n = ch->count[0] ? ch->count[0] : 256;
        if (ch->device & DEV_LBA) {
            *lba = (uint64_t)(ch->device & 0x0F) << 24 | (uint64_t)ch->lba_high[0] << 16 |
                   (uint64_t)ch->lba_mid[0] << 8 | ch->lba_low[0];
        } else {
            uint32_t cyl = (uint32_t)ch->lba_high[0] << 8 | ch->lba_mid[0];
            uint32_t head = ch->device & 0x0F, sector = ch->lba_low[0];
            if (sector == 0 || sector > d->cur_spt || head >= d->cur_heads) {
                fail(ch, ER_IDNF);
                return false;
            }
            *lba = ((uint64_t)cyl * d->cur_heads + head) * d->cur_spt + sector - 1;
        }
    }
    if (*lba >= d->sectors || *n > d->sectors - *lba) {
        fail(ch, ER_IDNF);
        return false;
    }
    return true;
}

/* The sector at ch->lba into buf, DRQ up; or the error. */
static void load_sector(IdeChannel *ch, IdeDrive *d)
{
    if (block_read(d->bd, ch->lba * SECTOR, ch->buf, SECTOR) < 0) {
        fail(ch, ER_UNC);
        return;
    }
    ch->pos = 0;
    ch->status = ST_DRDY | ST_DSC | ST_DRQ;
    set_irq(ch, true);   /* a block to read */
}

static void start_transfer(IdeChannel *ch, IdeDrive *d, bool write, bool ext)
{
    uint64_t lba;
    uint32_t n;
    if (!address(ch, d, ext, &lba, &n))
        return;
    ch->lba = lba;
    ch->left = n;
    ch->writing = write;
    ch->identify = false;
    ch->transferring = true;
    ch->error = 0;
    if (write) {
        ch->pos = 0;
        ch->status = ST_DRDY | ST_DSC | ST_DRQ;
    } else {
        load_sector(ch, d);
    }
}

/* IDENTIFY PACKET DEVICE (ATA-6 8.16): a removable CD-ROM device taking 12-byte packets
 * by PIO, DRQ for the packet within 50 us (no interrupt for it). */
static void identify_packet(IdeChannel *ch)
{
    uint16_t w[256] = {0};
    w[0] = 0x85C0;                         /* ATAPI, CD-ROM (05h), removable, 50 us DRQ */
    put_string(w + 10, 10, "SVM0000002");
    put_string(w + 23, 4, "0.1");
    put_string(w + 27, 20, "SCRATCHVM CD-ROM");
    w[49] = 0x0200;                        /* LBA */
    w[53] = 0x0002;                        /* words 64-70 are valid */
    w[64] = 0x0003;                        /* PIO modes 3 and 4 */
    w[65] = w[66] = w[67] = w[68] = 120;
    w[80] = 0x0070;                        /* ATAPI-4 to ATAPI-6 */
    w[82] = 0x4010;                        /* the PACKET feature set */
    w[83] = w[84] = w[87] = 0x4000;
    w[85] = 0x4010;
    for (int i = 0; i < 256; i++) {
        ch->buf[2 * i] = (uint8_t)w[i];
        ch->buf[2 * i + 1] = (uint8_t)(w[i] >> 8);
    }
}

static void put_be16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v; }
static void put_be32(uint8_t *p, uint32_t v)
{
    put_be16(p, v >> 16);
    put_be16(p + 2, v);
}
static uint32_t be16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }
static uint32_t be32(const uint8_t *p) { return be16(p) << 16 | be16(p + 2); }

/* A packet command ends: status and the interrupt reason "command complete" (CoD, IO);
 * with CHECK CONDITION, ERR and the sense key in the error register (ATA-6 9.10). */
static void atapi_end(IdeChannel *ch, IdeDrive *d, uint8_t key, uint8_t asc)
{
    d->sense_key = key;
    d->asc = asc;
    ch->lba_mid[0] = ch->lba_high[0] = 0;
    if (key)
        fail(ch, (uint8_t)(key << 4 | ER_ABRT));
    else
        done(ch);
    ch->count[0] = IR_COD | IR_IO;
}

/* The next DRQ block to the host: at most the byte count limit, its size in the byte
 * count registers (LBA mid/high), an interrupt. */
static void atapi_block(IdeChannel *ch)
{
    uint64_t n = ch->atapi_left < ch->byte_limit ? ch->atapi_left : ch->byte_limit;
    ch->block_left = (uint32_t)n;
    ch->lba_mid[0] = (uint8_t)n;
    ch->lba_high[0] = (uint8_t)(n >> 8);
    ch->count[0] = IR_IO;
    ch->atapi_in = true;
    ch->status = ST_DRDY | ST_DSC | ST_DRQ;
    set_irq(ch, true);
}

/* A response of len bytes in cd_buf, cut to the host's allocation length. */
static void atapi_respond(IdeChannel *ch, IdeDrive *d, uint32_t len, uint32_t alloc)
{
    ch->cd_len = len;
    ch->cd_pos = 0;
    ch->atapi_left = len < alloc ? len : alloc;
    if (ch->atapi_left)
        atapi_block(ch);
    else
        atapi_end(ch, d, 0, 0);
}

/* MSF (minutes, seconds, frames; 75 frames a second, 150 before LBA 0) at p[1..3]. */
static void put_msf(uint8_t *p, uint32_t lba)
{
    lba += 150;
    p[0] = 0;
    p[1] = (uint8_t)(lba / (75 * 60));
    p[2] = (uint8_t)(lba / 75 % 60);
    p[3] = (uint8_t)(lba % 75);
}

static void put_toc_address(uint8_t *p, uint32_t lba, bool msf)
{
    if (msf)
        put_msf(p, lba);
    else
        put_be32(p, lba);
}

/* READ TOC formats 0 (the one data track and the lead-out) and 1 (the session); 0 for a
 * field the command may not have. */
static uint32_t read_toc(IdeChannel *ch, const IdeDrive *d, const uint8_t *c)
{
    uint8_t *r = ch->cd_buf;
    bool msf = c[1] & 0x02;
    uint32_t end = d->sectors > 0xFFFFFFFFull ? 0xFFFFFFFFu : (uint32_t)d->sectors;
    uint32_t n = 4;
    r[2] = r[3] = 1;                       /* first and last track (session) */
    if ((c[2] & 0x0F) == 1) {
        r[n + 1] = 0x14;                   /* ADR 1, a data track */
        r[n + 2] = 1;
        put_toc_address(r + n + 4, 0, msf);
        n += 8;
    } else if ((c[2] & 0x0F) == 0) {
        if (c[6] > 1 && c[6] != 0xAA)
            return 0;
        if (c[6] <= 1) {
            r[n + 1] = 0x14;
            r[n + 2] = 1;
            put_toc_address(r + n + 4, 0, msf);
            n += 8;
        }
        r[n + 1] = 0x14;
        r[n + 2] = 0xAA;                   /* the lead-out */
        put_toc_address(r + n + 4, end, msf);
        n += 8;
    } else {
        return 0;
    }
    put_be16(r, n - 2);
    return n;
}

/* MODE SENSE(6/10) of the capabilities page (2Ah, MMC-2 5.5.10) or all pages (3Fh). */
static uint32_t mode_sense(IdeChannel *ch, const uint8_t *c, bool ten)
{
    uint8_t page = c[2] & 0x3F;
    if (page != 0x2A && page != 0x3F)
        return 0;
    uint8_t *r = ch->cd_buf;
    uint32_t head = ten ? 8 : 4, n = head + 20;
    uint8_t *p = r + head;
    p[0] = 0x2A;
    p[1] = 18;
    p[6] = 0x29;                           /* tray loading, eject, lock */
    put_be16(p + 8, 706);                  /* maximum read speed: 4x, kB/s */
    put_be16(p + 12, 512);                 /* buffer, KB */
    put_be16(p + 14, 706);
    if (ten)
        put_be16(r, n - 2);
    else
        r[0] = (uint8_t)(n - 1);
    return n;
}

/* The 12-byte packet is in: runs it (MMC-2 / SPC commands a boot loader and an OS's CD
 * driver use); anything else is CHECK CONDITION, ILLEGAL REQUEST. */
static void atapi_command(IdeChannel *ch, IdeDrive *d)
{
    const uint8_t *c = ch->cdb;
    uint8_t *r = ch->cd_buf;
    memset(r, 0, sizeof(ch->cd_buf));
    uint32_t n;
    switch (c[0]) {
    case SCSI_TEST_UNIT_READY:
    case SCSI_START_STOP:
    case SCSI_PREVENT_ALLOW:
    case SCSI_SEEK10:
        atapi_end(ch, d, 0, 0);
        return;
    case SCSI_REQUEST_SENSE:
        r[0] = 0x70;                       /* current error, fixed format */
        r[2] = d->sense_key;
        r[7] = 10;
        r[12] = d->asc;
        d->sense_key = d->asc = 0;
        atapi_respond(ch, d, 18, c[4]);
        return;
    case SCSI_INQUIRY:
        r[0] = 0x05;                       /* CD/DVD device */
        r[1] = 0x80;                       /* removable */
        r[3] = 0x21;                       /* ATAPI, response format 1 */
        r[4] = 31;
        memcpy(r + 8, "SCRATCHVCD-ROM          0.1 ", 28);
        atapi_respond(ch, d, 36, c[4]);
        return;
    case SCSI_READ_CAPACITY:
        put_be32(r, d->sectors ? (uint32_t)(d->sectors > 0xFFFFFFFFull ? 0xFFFFFFFFu
                                                                        : d->sectors - 1)
                               : 0);
        put_be32(r + 4, CD_BLOCK);
        atapi_respond(ch, d, 8, 8);
        return;
    case SCSI_READ10:
    case SCSI_READ12: {
        uint64_t lba = be32(c + 2);
        uint64_t count = c[0] == SCSI_READ10 ? be16(c + 7) : be32(c + 6);
        if (lba > d->sectors || count > d->sectors - lba) {
            atapi_end(ch, d, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
            return;
        }
        if (count == 0) {
            atapi_end(ch, d, 0, 0);
            return;
        }
        ch->cd_lba = lba;
        ch->cd_len = ch->cd_pos = 0;       /* the first block loads at the first byte */
        ch->atapi_left = count * CD_BLOCK;
        atapi_block(ch);
        return;
    }
    case SCSI_MODE_SENSE6:
    case SCSI_MODE_SENSE10:
        if (!(n = mode_sense(ch, c, c[0] == SCSI_MODE_SENSE10)))
            break;
        atapi_respond(ch, d, n, c[0] == SCSI_MODE_SENSE10 ? be16(c + 7) : c[4]);
        return;
    case SCSI_READ_TOC:
        if (!(n = read_toc(ch, d, c)))
            break;
        atapi_respond(ch, d, n, be16(c + 7));
        return;
    case SCSI_GET_CONFIG:
        put_be32(r, 12);                   /* bytes after this field */
        put_be16(r + 6, 0x0008);           /* current profile: CD-ROM */
        r[10] = 0x03;                      /* feature 0 (profile list), persistent, current */
        r[11] = 4;
        put_be16(r + 12, 0x0008);
        r[14] = 0x01;                      /* the current profile */
        atapi_respond(ch, d, 16, be16(c + 7));
        return;
    default:
        atapi_end(ch, d, SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
        return;
    }
    atapi_end(ch, d, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD);
}

/* One byte of a packet command's data to the host. */
static uint8_t atapi_data_in(IdeChannel *ch)
{
    IdeDrive *d = selected(ch);
    if (!d)
        return 0xFF;
    if (ch->cd_pos >= ch->cd_len) {        /* a READ's next block */
        if (block_read(d->bd, ch->cd_lba * CD_BLOCK, ch->cd_buf, CD_BLOCK) < 0) {
            atapi_end(ch, d, 0x03, 0x11);  /* MEDIUM ERROR, unrecovered read error */
            return 0xFF;
        }
        ch->cd_lba++;
        ch->cd_pos = 0;
        ch->cd_len = CD_BLOCK;
    }
    uint8_t b = ch->cd_buf[ch->cd_pos++];
    ch->atapi_left--;
    if (--ch->block_left == 0) {
        if (ch->atapi_left == 0)
            atapi_end(ch, d, 0, 0);
        else
            atapi_block(ch);
    }
    return b;
}

/* The commands of a packet device (ATA-6 9.12): PACKET, IDENTIFY PACKET DEVICE, and the
 * few others it must take; IDENTIFY DEVICE is aborted with the signature in place, which
 * is how a driver tells a packet device. */
/* The IDENTIFY (PACKET) DEVICE block just built goes to the host: one sector of data in. */
static void send_identify(IdeChannel *ch)
{
    ch->identify = true;
    ch->writing = false;
    ch->transferring = true;
    ch->left = 1;
    ch->pos = 0;
    ch->error = 0;
    ch->status = ST_DRDY | ST_DSC | ST_DRQ;
    set_irq(ch, true);
}

static void atapi_ata_command(IdeChannel *ch, IdeDrive *d, uint8_t cmd)
{
    switch (cmd) {
    case CMD_PACKET: {
        if (ch->feature & 0x01) {          /* DMA: there is none */
            fail(ch, ER_ABRT);
            return;
        }
        uint32_t limit = ((uint32_t)ch->lba_high[0] << 8 | ch->lba_mid[0]) & 0xFFFE;
        ch->byte_limit = limit ? limit : 0xFFFE;
        ch->packet = true;
        ch->cdb_pos = 0;
        ch->count[0] = IR_COD;
        ch->error = 0;
        ch->status = ST_DRDY | ST_DSC | ST_DRQ;
        return;
    }
    case CMD_IDENTIFY_PACKET:
        identify_packet(ch);
        send_identify(ch);
        return;
    case CMD_DEVICE_RESET:
        finish(ch, false);
        signature(ch, d);
        return;
    case CMD_DIAGNOSTIC:
        ch->device &= DEV_DEV1;
        done(ch);
        signature(ch, &ch->drive[0]);
        ch->error = ER_AMNF;
        return;
    case CMD_CHECK_POWER:
        ch->count[0] = 0xFF;
        done(ch);
        return;
    case CMD_SET_FEATURES:
        done(ch);
        return;
    default:
        fail(ch, ER_ABRT);
        if (cmd == CMD_IDENTIFY)
            signature(ch, d);
        return;
    }
}

static void command(IdeChannel *ch, uint8_t cmd)
{
    IdeDrive *d = selected(ch);
    if (!d)
        return;   /* no device answers: the command is not taken */
    set_irq(ch, false);
    ch->transferring = ch->packet = ch->atapi_in = false;
    if (d->atapi) {
        atapi_ata_command(ch, d, cmd);
        return;
    }
    switch (cmd) {
    case CMD_IDENTIFY:
        identify(ch, d);
        send_identify(ch);
        break;
    case CMD_READ_SECTORS:
    case CMD_READ_SECTORS_NR:
    case CMD_READ_MULTIPLE:
        start_transfer(ch, d, false, false);
        break;
    case CMD_READ_SECTORS_EXT:
    case CMD_READ_MULTIPLE_EXT:
        start_transfer(ch, d, false, true);
        break;
    case CMD_WRITE_SECTORS:
    case CMD_WRITE_SECTORS_NR:
    case CMD_WRITE_MULTIPLE:
        start_transfer(ch, d, true, false);
        break;
    case CMD_WRITE_SECTORS_EXT:
    case CMD_WRITE_MULTIPLE_EXT:
        start_transfer(ch, d, true, true);
        break;
    case CMD_VERIFY:
    case CMD_VERIFY_NR:
    case CMD_VERIFY_EXT: {
        uint64_t lba;
        uint32_t n;
        if (address(ch, d, cmd == CMD_VERIFY_EXT, &lba, &n))
            done(ch);
        break;
    }
    case CMD_INIT_PARAMS:
        if (ch->count[0] == 0) {
            fail(ch, ER_ABRT);
            break;
        }
        d->cur_spt = ch->count[0];
        d->cur_heads = (uint16_t)((ch->device & 0x0F) + 1);
        done(ch);
        break;
    case CMD_FLUSH:
    case CMD_FLUSH_EXT:
        if (block_flush(d->bd) < 0)
            fail(ch, ER_ABRT);
        else
            done(ch);
        break;
    case CMD_DIAGNOSTIC:
        ch->device &= DEV_DEV1;
        done(ch);
        signature(ch, &ch->drive[0]);
        ch->error = ER_AMNF;
        break;
    case CMD_CHECK_POWER:
        ch->count[0] = 0xFF;   /* active or idle */
        done(ch);
        break;
    case CMD_SET_FEATURES:
    case CMD_SET_MULTIPLE:
    case CMD_SEEK:
        done(ch);
        break;
    default:
        if (cmd >= CMD_RECALIBRATE && cmd <= CMD_RECALIBRATE + 0x0F)
            done(ch);
        else
            fail(ch, ER_ABRT);   /* IDENTIFY PACKET DEVICE included: not an ATAPI device */
        break;
    }
}

/* One byte through the data register. */
static uint8_t data_in(IdeChannel *ch)
{
    if (ch->atapi_in)
        return atapi_data_in(ch);
    if (!ch->transferring || ch->writing)
        return 0xFF;
    uint8_t b = ch->buf[ch->pos++];
    if (ch->pos < SECTOR)
        return b;
    IdeDrive *d = selected(ch);
    if (ch->identify || --ch->left == 0 || !d) {
        finish(ch, false);
    } else {
        ch->lba++;
        load_sector(ch, d);
    }
    return b;
}

static void data_out(IdeChannel *ch, uint8_t b)
{
    if (ch->packet) {
        ch->cdb[ch->cdb_pos++] = b;
        IdeDrive *d = selected(ch);
        if (ch->cdb_pos == PACKET_SIZE) {
            ch->packet = false;
            if (d)
                atapi_command(ch, d);
        }
        return;
    }
    if (!ch->transferring || !ch->writing)
        return;
    ch->buf[ch->pos++] = b;
    if (ch->pos < SECTOR)
        return;
    IdeDrive *d = selected(ch);
    if (!d || block_write(d->bd, ch->lba * SECTOR, ch->buf, SECTOR) < 0) {
        fail(ch, ER_ABRT);
        return;
    }
    if (--ch->left == 0) {
        done(ch);
    } else {
        ch->lba++;
        ch->pos = 0;
        set_irq(ch, true);   /* ready for the next sector */
    }
}

static uint8_t status(IdeChannel *ch) { return selected(ch) ? ch->status : 0; }

static uint8_t read_reg(IdeChannel *ch, unsigned reg)
{
    int hob = ch->control & DC_HOB ? 1 : 0;
    switch (reg) {
    case REG_DATA: return data_in(ch);
    case REG_ERROR: return ch->error;
    case REG_COUNT: return ch->count[hob];
    case REG_LBA_LOW: return ch->lba_low[hob];
    case REG_LBA_MID: return ch->lba_mid[hob];
    case REG_LBA_HIGH: return ch->lba_high[hob];
    case REG_DEVICE: return ch->device | DEV_OBSOLETE;
    default:
        set_irq(ch, false);
        return status(ch);
    }
}

static void shift_in(uint8_t r[2], uint8_t v)
{
    r[1] = r[0];
    r[0] = v;
}

static void write_reg(IdeChannel *ch, unsigned reg, uint8_t v)
{
    if (reg != REG_DATA)
        ch->control &= (uint8_t)~DC_HOB;   /* a task file write clears HOB (ATA-6 7.9.4) */
    switch (reg) {
    case REG_DATA: data_out(ch, v); break;
    case REG_ERROR: ch->feature = v; break;
    case REG_COUNT: shift_in(ch->count, v); break;
    case REG_LBA_LOW: shift_in(ch->lba_low, v); break;
    case REG_LBA_MID: shift_in(ch->lba_mid, v); break;
    case REG_LBA_HIGH: shift_in(ch->lba_high, v); break;
    case REG_DEVICE: ch->device = v & (uint8_t)~DEV_OBSOLETE; break;
    default: command(ch, v); break;
    }
}

/* Device control: SRST set stops everything (BSY); cleared, both devices come back with
 * the signature of an ATA device. */
static void write_control(IdeChannel *ch, uint8_t v)
{
    bool was_reset = ch->control & DC_SRST;
    ch->control = v;
    if (v & DC_NIEN)
        set_irq(ch, false);
    if (v & DC_SRST) {
        ch->transferring = ch->packet = ch->atapi_in = false;
        ch->status = ST_BSY;
    } else if (was_reset) {
        power_on(ch);
    }
}

static bool size_ok(uint8_t size) { return size == 1 || size == 2 || size == 4; }

/* A wider access is that many byte accesses: at the data register each moves the next
 * byte of the sector (insw, insl), at the others the next registers. */
int ide_io_read(uint16_t port, uint8_t size, uint32_t *value, void *opaque)
{
    IdeChannel *ch = opaque;
    if (!ch || !value || !size_ok(size))
        return -EINVAL;
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++) {
        uint32_t p = port == ch->cmd_base ? port : (uint32_t)port + i;
        uint8_t b = 0xFF;
        if (p == ch->ctrl_port)
            b = status(ch);   /* alternate status */
        else if (p >= ch->cmd_base && p < (uint32_t)ch->cmd_base + IDE_CMD_PORTS)
            b = read_reg(ch, p - ch->cmd_base);
        v |= (uint32_t)b << (8 * i);
    }
    *value = v;
    return 0;
}

int ide_io_write(uint16_t port, uint8_t size, uint32_t value, void *opaque)
{
    IdeChannel *ch = opaque;
    if (!ch || !size_ok(size))
        return -EINVAL;
    for (unsigned i = 0; i < size; i++) {
        uint32_t p = port == ch->cmd_base ? port : (uint32_t)port + i;
        uint8_t b = (uint8_t)(value >> (8 * i));
        if (p == ch->ctrl_port)
            write_control(ch, b);
        else if (p >= ch->cmd_base && p < (uint32_t)ch->cmd_base + IDE_CMD_PORTS)
            write_reg(ch, p - ch->cmd_base, b);
    }
    return 0;
}
