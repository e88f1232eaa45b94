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

#define LBA28_MAX 0x0FFFFFFFull

typedef struct {
    BlockDev *bd;
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
};

static void set_irq(IdeChannel *ch, bool level);

/* The state after power-on or a hardware reset: the ATA signature in the task file,
 * "passed" in the error register, the default translation. */
static void power_on(IdeChannel *ch)
{
    ch->transferring = false;
    ch->count[0] = ch->lba_low[0] = 1;
    ch->lba_mid[0] = ch->lba_high[0] = 0;
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
    d->sectors = bd->size / SECTOR;
    d->heads = 16;
    d->spt = 63;
    uint64_t cyl = d->sectors / (16 * 63);
    d->cylinders = (uint16_t)(cyl > 16383 ? 16383 : cyl ? cyl : 1);
    d->cur_heads = d->heads;
    d->cur_spt = d->spt;
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
    ch->transferring = false;
    ch->status = ST_DRDY | ST_DSC;
    ch->error = 0;
    if (irq)
        set_irq(ch, true);
}

static void done(IdeChannel *ch) { finish(ch, true); }

static void fail(IdeChannel *ch, uint8_t error)
{
    ch->transferring = false;
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

static void command(IdeChannel *ch, uint8_t cmd)
{
    IdeDrive *d = selected(ch);
    if (!d)
        return;   /* no device answers: the command is not taken */
    set_irq(ch, false);
    ch->transferring = false;
    switch (cmd) {
    case CMD_IDENTIFY:
        identify(ch, d);
        ch->identify = true;
        ch->writing = false;
        ch->transferring = true;
        ch->left = 1;
        ch->pos = 0;
        ch->error = 0;
        ch->status = ST_DRDY | ST_DSC | ST_DRQ;
        set_irq(ch, true);
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
        ch->count[0] = ch->lba_low[0] = 1;
        ch->lba_mid[0] = ch->lba_high[0] = 0;
        ch->device &= DEV_DEV1;
        done(ch);
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
        ch->transferring = false;
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
