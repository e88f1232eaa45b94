/*
 * The 82077AA-compatible floppy disk controller (see fdc.h). Facts from the Intel 82077AA
 * data sheet: the register bits, the command and result byte layouts, the status
 * registers ST0-ST3 and how READ/WRITE DATA end (the C/H/R/N table of the result phase).
 */
#include "dev/fdc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dev/dev_io.h"

#define SECTOR_SIZE 512
#define SECTOR_SIZE_CODE 2        /* N: 128 << N bytes */

/* Port offsets from FDC_BASE. */
#define REG_SRA 0
#define REG_SRB 1
#define REG_DOR 2
#define REG_TDR 3
#define REG_MSR_DSR 4
#define REG_FIFO 5

#define DOR_SELECT 0x03
#define DOR_NRESET 0x04
#define DOR_DMA_GATE 0x08
#define DSR_SW_RESET 0x80
#define RATE_MASK 0x03            /* DSR/CCR bits 1:0: 0 500K, 1 300K, 2 250K, 3 1M bps */
#define RATE_500K 0
#define RATE_300K 1
#define RATE_250K 2
#define RATE_1M 3
#define MSR_RQM 0x80
#define MSR_DIO 0x40              /* 1: controller to CPU */
#define MSR_NDMA 0x20
#define MSR_CB 0x10
#define DIR_DSKCHG 0x80

/* Status register bits. */
#define ST0_ABNORMAL 0x40
#define ST0_INVALID 0x80
#define ST0_POLLED 0xC0           /* the drive's ready line changed (after a reset) */
#define ST0_SEEK_END 0x20
#define ST0_EQUIP_CHECK 0x10
#define ST1_END_OF_CYL 0x80
#define ST1_OVERRUN 0x10
#define ST1_NO_DATA 0x04
#define ST1_NOT_WRITABLE 0x02
#define ST1_MISSING_AM 0x01
#define ST2_MISSING_DAM 0x01
#define ST3_WRITE_PROT 0x40
#define ST3_ONE 0x28              /* bits 5 and 3 read 1 on the 82077AA */
#define ST3_TRACK0 0x10

/* Command codes (bits 4:0) and the flag bits above them. */
#define CMD_MT 0x80
#define CMD_MFM 0x40
#define CMD_SK 0x20
#define CMD_READ_DATA 0x06
#define CMD_WRITE_DATA 0x05
#define CMD_READ_ID 0x0A
#define CMD_FORMAT 0x0D
#define CMD_RECALIBRATE 0x07
#define CMD_SEEK 0x0F
#define CMD_SENSE_INT 0x08
#define CMD_SENSE_DRIVE 0x04
#define CMD_SPECIFY 0x03
#define CMD_CONFIGURE 0x13
#define CMD_VERSION 0x10
#define CMD_LOCK 0x14
#define CMD_DUMPREG 0x0E
#define CMD_PERPENDICULAR 0x12
#define VERSION_82077 0x90
#define SPECIFY_ND 0x01           /* second SPECIFY byte bit 0: non-DMA mode */
#define CONFIG_DEFAULT 0x20       /* EIS 0, EFIFO 1 (FIFO off), POLL 0, FIFOTHR 0 */
#define CONFIG_POLL_OFF 0x10
#define CONFIG_LOCKED_BITS 0x2F   /* EFIFO and FIFOTHR survive a software reset when locked */

typedef struct {
    uint32_t bytes;
    uint8_t cyls, heads, spt, rate, type;
} Media;

/* The PC formats; data rates as the PC BIOS media sense expects them (a 360 KB disk in a
 * 1.2 MB drive at 300 kbps). */
static const Media formats[] = {
    {163840, 40, 1, 8, RATE_250K, 1},  {184320, 40, 1, 9, RATE_300K, 1},
    {327680, 40, 2, 8, RATE_250K, 1},  {368640, 40, 2, 9, RATE_300K, 1},
    {737280, 80, 2, 9, RATE_250K, 3},  {1228800, 80, 2, 15, RATE_500K, 2},
    {1474560, 80, 2, 18, RATE_500K, 4}, {2949120, 80, 2, 36, RATE_1M, 5},
};

typedef struct {
    BlockDev *bd;                 /* NULL: no drive */
    bool owned;
    Media media;
    uint8_t pcn;                  /* present cylinder number */
    uint8_t next_id;              /* the sector READ ID sees next (the disk turns) */
    bool changed;                 /* the disk change line */
    bool int_pending;             /* a seek end or reset status for SENSE INTERRUPT */
    uint8_t int_st0;
} FloppyDrive;

typedef enum { PHASE_COMMAND, PHASE_EXEC_READ, PHASE_EXEC_WRITE, PHASE_RESULT } Phase;

/* A READ or WRITE DATA in progress: the sector ID it is at. */
typedef struct {
    unsigned drive, head;         /* the physical head (HDS) */
    uint8_t c, h, r, n, eot;
    bool mt, write;
} Transfer;

struct Fdc {
    FloppyDrive drive[4];
    IsaDma *dma;
    unsigned dma_channel;
    IrqLine irq;
    bool irq_level;
    uint8_t dor, tdr, rate, dsr_precomp;
    uint8_t specify[2];           /* SRT/HUT, HLT/ND */
    uint8_t config, pretrk, perpendicular, last_eot;
    bool lock;
    Phase phase;
    uint8_t cmd[9];
    unsigned cmd_len, cmd_pos;
    uint8_t result[10];
    unsigned res_len, res_pos;
    Transfer xfer;                /* non-DMA READ/WRITE DATA */
    uint8_t sector[SECTOR_SIZE];
    unsigned sector_pos;
};

/* The interrupt line. The 82077AA gates INT with the DOR's DMA gate bit in AT mode; here
 * it is not gated, as PC firmware expects when it takes the controller out of reset with
 * DOR = 04h and waits for the reset interrupt (SeaBIOS does). */
static void set_irq(Fdc *f, bool level)
{
    if (f->irq_level != level) {
        f->irq_level = level;
        irq_line_set(&f->irq, level);
    }
}

/* A new interrupt: an edge even when the line is still high from an earlier one. */
static void raise_irq(Fdc *f)
{
    set_irq(f, false);
    set_irq(f, true);
}

static bool has_disk(const Fdc *f, unsigned d) { return d < 4 && f->drive[d].bd; }

static Media media_for(uint64_t size)
{
    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
        if (formats[i].bytes == size)
            return formats[i];
    return formats[size > 1474560 ? 7 : 6];
}

/* Software reset (DOR nRESET low, DSR bit 7): command state, the cylinder registers and
 * the configuration the LOCK does not keep; on leaving it the controller interrupts with
 * a ready-change status for each drive it polls. */
static void soft_reset(Fdc *f)
{
    f->phase = PHASE_COMMAND;
    f->cmd_pos = f->res_len = f->res_pos = 0;
    f->config = f->lock ? (uint8_t)(CONFIG_DEFAULT & ~CONFIG_LOCKED_BITS) |
                              (f->config & CONFIG_LOCKED_BITS)
                        : CONFIG_DEFAULT;
    if (!f->lock)
        f->pretrk = 0;
    f->perpendicular &= 0x3C;   /* GAP and WGATE clear; the drive bits stay */
    for (unsigned d = 0; d < 4; d++) {
        f->drive[d].pcn = 0;
        f->drive[d].int_pending = false;
    }
    set_irq(f, false);
}

static void leave_reset(Fdc *f)
{
    unsigned polled = f->config & CONFIG_POLL_OFF ? 1 : 4;
    for (unsigned d = 0; d < polled; d++) {
        f->drive[d].int_pending = true;
        f->drive[d].int_st0 = (uint8_t)(ST0_POLLED | d);
    }
    raise_irq(f);
}

void fdc_reset(void *opaque)
{
    Fdc *f = opaque;
    f->dor = 0;                 /* held in reset until the guest sets nRESET */
    f->tdr = 0;
    f->rate = RATE_250K;
    f->dsr_precomp = 0;
    f->specify[0] = f->specify[1] = 0;
    f->lock = false;
    f->perpendicular = 0;
    f->last_eot = 0;
    soft_reset(f);
    for (unsigned d = 0; d < 4; d++) {
        f->drive[d].changed = true;
        f->drive[d].next_id = 1;
    }
}

Fdc *fdc_create(IsaDma *dma, unsigned dma_channel, const IrqLine *irq)
{
    Fdc *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->dma = dma;
    f->dma_channel = dma_channel;
    if (irq)
        f->irq = *irq;
    fdc_reset(f);
    return f;
}

int fdc_attach(Fdc *f, unsigned unit, BlockDev *bd, bool owned)
{
    if (!f || !bd || unit >= FDC_DRIVES || bd->size < SECTOR_SIZE)
        return -EINVAL;
    if (f->drive[unit].bd)
        return -EEXIST;
    FloppyDrive *d = &f->drive[unit];
    d->bd = bd;
    d->owned = owned;
    d->media = media_for(bd->size);
    d->changed = true;
    return 0;
}

void fdc_destroy(Fdc *f)
{
    if (!f)
        return;
    for (unsigned d = 0; d < 4; d++)
        if (f->drive[d].owned)
            block_close(f->drive[d].bd);
    free(f);
}

uint8_t fdc_cmos_drive_types(const Fdc *f)
{
    uint8_t t = 0;
    for (unsigned d = 0; f && d < FDC_DRIVES; d++)
        if (f->drive[d].bd)
            t |= (uint8_t)(f->drive[d].media.type << (d ? 0 : 4));
    return t;
}

static void set_result(Fdc *f, const uint8_t *bytes, unsigned n, bool interrupt)
{
    memcpy(f->result, bytes, n);
    f->res_len = n;
    f->res_pos = 0;
    f->phase = PHASE_RESULT;
    if (interrupt)
        raise_irq(f);
}

static void end_transfer(Fdc *f, uint8_t st0, uint8_t st1, uint8_t st2)
{
    const Transfer *x = &f->xfer;
    const uint8_t r[7] = {(uint8_t)(st0 | x->head << 2 | x->drive), st1, st2, x->c, x->h, x->r,
                          x->n};
    set_result(f, r, 7, true);
}

/* Whether the controller finds sector IDs on the drive's current track under `head` at
 * the current data rate: the disk is there, the track and side exist on the media, and the
 * rate and recording mode (MFM) are the media's. */
static bool track_readable(const Fdc *f, unsigned drive, unsigned head, bool mfm)
{
    const FloppyDrive *d = &f->drive[drive];
    return has_disk(f, drive) && mfm && f->rate == d->media.rate &&
           d->pcn < d->media.cyls && head < d->media.heads;
}

/* The image offset of the transfer's current sector, or -1 when no sector with that ID is
 * on the track (or the image ends before it). */
static int64_t sector_offset(const Fdc *f)
{
    const Transfer *x = &f->xfer;
    const FloppyDrive *d = &f->drive[x->drive];
    const Media *m = &d->media;
    if (x->c != d->pcn || x->h != x->head || x->n != SECTOR_SIZE_CODE || x->r == 0 ||
        x->r > m->spt)
        return -1;
    uint64_t lba = ((uint64_t)d->pcn * m->heads + x->head) * m->spt + x->r - 1;
    uint64_t off = lba * SECTOR_SIZE;
    return off + SECTOR_SIZE <= d->bd->size ? (int64_t)off : -1;
}

/* Past the sector just transferred: the next ID, as the result phase reports it. False at
 * the end of the cylinder (EOT passed on the last side the command may use). */
static bool next_sector(Fdc *f)
{
    Transfer *x = &f->xfer;
    if (x->r != x->eot) {
        x->r++;
        return true;
    }
    x->r = 1;
    if (x->mt && x->head == 0 && f->drive[x->drive].media.heads == 2) {
        x->head = 1;
        x->h ^= 1;
        return true;
    }
    if (x->mt)
        x->h ^= 1;
    x->c++;
    return false;
}

/* Reads (or writes) the current sector between the image and f->sector. */
static int sector_io(Fdc *f, int64_t off, bool write)
{
    BlockDev *bd = f->drive[f->xfer.drive].bd;
    return write ? block_write(bd, (uint64_t)off, f->sector, SECTOR_SIZE)
                 : block_read(bd, (uint64_t)off, f->sector, SECTOR_SIZE);
}

/* READ/WRITE DATA by DMA: sector after sector until terminal count or an error. */
static void dma_transfer(Fdc *f)
{
    Transfer *x = &f->xfer;
    for (;;) {
        int64_t off = sector_offset(f);
        if (off < 0) {
            end_transfer(f, ST0_ABNORMAL, ST1_NO_DATA, 0);
            return;
        }
        bool tc = false;
        if (!x->write && sector_io(f, off, false) < 0) {   /* the image failed: no data */
            end_transfer(f, ST0_ABNORMAL, ST1_NO_DATA, 0);
            return;
        }
        if (x->write)
            memset(f->sector, 0, sizeof(f->sector));   /* TC mid-sector: the rest is zeros */
        size_t moved = (f->dor & DOR_DMA_GATE)
                           ? isa_dma_transfer(f->dma, f->dma_channel, f->sector, SECTOR_SIZE, &tc)
                           : 0;
        if (moved == 0 && !tc) {   /* no DMA acknowledge: the data overran */
            end_transfer(f, ST0_ABNORMAL, ST1_OVERRUN, 0);
            return;
        }
        if (x->write && sector_io(f, off, true) < 0) {
            end_transfer(f, ST0_ABNORMAL, ST1_NOT_WRITABLE, 0);
            return;
        }
        bool more = next_sector(f);
        if (tc) {
            end_transfer(f, 0, 0, 0);
            return;
        }
        if (moved < SECTOR_SIZE) {
            end_transfer(f, ST0_ABNORMAL, ST1_OVERRUN, 0);
            return;
        }
        if (!more) {
            end_transfer(f, ST0_ABNORMAL, ST1_END_OF_CYL, 0);
            return;
        }
    }
}

/* Non-DMA: the next sector's bytes in f->sector for the FIFO (reads), or an empty buffer
 * to fill (writes); the result phase when there is none. */
static void pio_next(Fdc *f)
{
    int64_t off = sector_offset(f);
    if (off < 0 || (!f->xfer.write && sector_io(f, off, false) < 0)) {
        end_transfer(f, ST0_ABNORMAL, ST1_NO_DATA, 0);
        return;
    }
    f->sector_pos = 0;
    f->phase = f->xfer.write ? PHASE_EXEC_WRITE : PHASE_EXEC_READ;
    raise_irq(f);   /* data requests interrupt in non-DMA mode */
}

/* The sector in the FIFO is done: on to the next one, or the end of the cylinder. */
static void pio_sector_done(Fdc *f)
{
    if (f->xfer.write) {
        int64_t off = sector_offset(f);
        if (off < 0 || sector_io(f, off, true) < 0) {
            end_transfer(f, ST0_ABNORMAL, ST1_NOT_WRITABLE, 0);
            return;
        }
    }
    if (!next_sector(f)) {
        /* Without terminal count, a non-DMA transfer always ends here. */
        end_transfer(f, ST0_ABNORMAL, ST1_END_OF_CYL, 0);
        return;
    }
    pio_next(f);
}

static void cmd_read_write(Fdc *f, bool write)
{
    const uint8_t *c = f->cmd;
    Transfer *x = &f->xfer;
    *x = (Transfer){.drive = c[1] & 3, .head = (c[1] >> 2) & 1, .c = c[2], .h = c[3],
                    .r = c[4], .n = c[5], .eot = c[6], .mt = c[0] & CMD_MT, .write = write};
    f->last_eot = c[6];
    if (has_disk(f, x->drive))
        f->drive[x->drive].pcn = x->c;   /* the head goes to C (an implied seek), as PC
                                          * firmware that sends no SEEK expects */
    if (!track_readable(f, x->drive, x->head, c[0] & CMD_MFM)) {
        end_transfer(f, ST0_ABNORMAL, ST1_MISSING_AM, ST2_MISSING_DAM);
        return;
    }
    if (write && f->drive[x->drive].bd->read_only) {
        end_transfer(f, ST0_ABNORMAL, ST1_NOT_WRITABLE, 0);
        return;
    }
    if (f->specify[1] & SPECIFY_ND)
        pio_next(f);
    else
        dma_transfer(f);
}

static void cmd_read_id(Fdc *f)
{
    unsigned drive = f->cmd[1] & 3, head = (f->cmd[1] >> 2) & 1;
    FloppyDrive *d = &f->drive[drive];
    f->xfer = (Transfer){.drive = drive, .head = head, .c = d->pcn, .h = (uint8_t)head,
                         .r = d->next_id, .n = SECTOR_SIZE_CODE};
    if (!track_readable(f, drive, head, f->cmd[0] & CMD_MFM)) {
        end_transfer(f, ST0_ABNORMAL, ST1_MISSING_AM, 0);
        return;
    }
    d->next_id = (uint8_t)(d->next_id % d->media.spt + 1);
    end_transfer(f, 0, 0, 0);
}

/* FORMAT TRACK (by DMA): four ID bytes (C, H, R, N) per sector; each sector whose ID is
 * one the image can hold (this track and side, 512 bytes, 1..sectors per track) is filled
 * with the filler byte D. */
static void cmd_format(Fdc *f)
{
    const uint8_t *c = f->cmd;
    unsigned drive = c[1] & 3, head = (c[1] >> 2) & 1;
    f->xfer = (Transfer){.drive = drive, .head = head, .c = f->drive[drive].pcn,
                         .h = (uint8_t)head, .r = 0, .n = c[2]};
    if (!track_readable(f, drive, head, c[0] & CMD_MFM)) {
        end_transfer(f, ST0_ABNORMAL, ST1_MISSING_AM, 0);
        return;
    }
    if (f->drive[drive].bd->read_only) {
        end_transfer(f, ST0_ABNORMAL, ST1_NOT_WRITABLE, 0);
        return;
    }
    for (unsigned s = 0; s < c[3]; s++) {
        uint8_t id[4] = {0};
        bool tc = false;
        size_t moved = (f->dor & DOR_DMA_GATE) && !(f->specify[1] & SPECIFY_ND)
                           ? isa_dma_transfer(f->dma, f->dma_channel, id, 4, &tc)
                           : 0;
        if (moved < 4) {
            end_transfer(f, ST0_ABNORMAL, ST1_OVERRUN, 0);
            return;
        }
        Transfer *x = &f->xfer;
        x->c = id[0], x->h = id[1], x->r = id[2], x->n = id[3];
        int64_t off = sector_offset(f);
        if (off >= 0) {
            memset(f->sector, c[5], sizeof(f->sector));
            if (sector_io(f, off, true) < 0) {
                end_transfer(f, ST0_ABNORMAL, ST1_NOT_WRITABLE, 0);
                return;
            }
        }
        if (tc && s + 1 < c[3]) {
            end_transfer(f, 0, 0, 0);
            return;
        }
    }
    end_transfer(f, 0, 0, 0);
}

static void seek_end(Fdc *f, unsigned drive, unsigned head, uint8_t cyl, bool recal)
{
    FloppyDrive *d = &f->drive[drive];
    d->pcn = cyl;
    d->int_pending = true;
    d->int_st0 = (uint8_t)(ST0_SEEK_END | head << 2 | drive);
    if (recal && !has_disk(f, drive))   /* no drive: track 0 never found */
        d->int_st0 |= ST0_ABNORMAL | ST0_EQUIP_CHECK;
    if (has_disk(f, drive))
        d->changed = false;   /* a step with a disk in clears the change line */
    raise_irq(f);
}

static void cmd_sense_interrupt(Fdc *f)
{
    set_irq(f, false);
    for (unsigned d = 0; d < 4; d++) {
        FloppyDrive *dr = &f->drive[d];
        if (dr->int_pending) {
            dr->int_pending = false;
            set_result(f, (const uint8_t[]){dr->int_st0, dr->pcn}, 2, false);
            return;
        }
    }
    set_result(f, (const uint8_t[]){ST0_INVALID}, 1, false);
}

static void cmd_dumpreg(Fdc *f)
{
    const uint8_t r[10] = {
        f->drive[0].pcn, f->drive[1].pcn, f->drive[2].pcn, f->drive[3].pcn,
        f->specify[0], f->specify[1], f->last_eot,
        (uint8_t)((f->lock ? 0x80 : 0) | (f->perpendicular & 0x3F)),
        f->config, f->pretrk,
    };
    set_result(f, r, 10, false);
}

static void execute(Fdc *f)
{
    const uint8_t *c = f->cmd;
    unsigned drive = c[1] & 3, head = (c[1] >> 2) & 1;
    switch (c[0] & 0x1F) {
    case CMD_READ_DATA: cmd_read_write(f, false); break;
    case CMD_WRITE_DATA: cmd_read_write(f, true); break;
    case CMD_READ_ID: cmd_read_id(f); break;
    case CMD_FORMAT: cmd_format(f); break;
    case CMD_RECALIBRATE: seek_end(f, drive, 0, 0, true); f->phase = PHASE_COMMAND; break;
    case CMD_SEEK: seek_end(f, drive, head, c[2], false); f->phase = PHASE_COMMAND; break;
    case CMD_SENSE_INT: cmd_sense_interrupt(f); break;
    case CMD_SENSE_DRIVE: {
        const FloppyDrive *d = &f->drive[drive];
        uint8_t st3 = (uint8_t)(ST3_ONE | head << 2 | drive | (d->pcn == 0 ? ST3_TRACK0 : 0) |
                                (d->bd && d->bd->read_only ? ST3_WRITE_PROT : 0));
        set_result(f, &st3, 1, false);
        break;
    }
    case CMD_SPECIFY:
        f->specify[0] = c[1];
        f->specify[1] = c[2];
        f->phase = PHASE_COMMAND;
        break;
    case CMD_CONFIGURE:
        f->config = c[2];
        f->pretrk = c[3];
        f->phase = PHASE_COMMAND;
        break;
    case CMD_VERSION: set_result(f, (const uint8_t[]){VERSION_82077}, 1, false); break;
    case CMD_LOCK:
        f->lock = c[0] & 0x80;
        set_result(f, (const uint8_t[]){(uint8_t)(f->lock ? 0x10 : 0)}, 1, false);
        break;
    case CMD_DUMPREG: cmd_dumpreg(f); break;
    case CMD_PERPENDICULAR:
        /* OW (bit 7) lets the drive bits D3-D0 (5:2) change; GAP and WGATE always do. */
        f->perpendicular = (uint8_t)((c[1] & 0x80 ? c[1] & 0x3C : f->perpendicular & 0x3C) |
                                     (c[1] & 0x03));
        f->phase = PHASE_COMMAND;
        break;
    default: break;   /* not reached: command_length refused it */
    }
}

/* The length of the command that starts with byte b, or 0 for an invalid one. */
static unsigned command_length(uint8_t b)
{
    static const struct { uint8_t code, flags, len; } cmds[] = {
        {CMD_READ_DATA, CMD_MT | CMD_MFM | CMD_SK, 9}, {CMD_WRITE_DATA, CMD_MT | CMD_MFM, 9},
        {CMD_READ_ID, CMD_MFM, 2}, {CMD_FORMAT, CMD_MFM, 6}, {CMD_RECALIBRATE, 0, 2},
        {CMD_SEEK, 0, 3}, {CMD_SENSE_INT, 0, 1}, {CMD_SENSE_DRIVE, 0, 2},
        {CMD_SPECIFY, 0, 3}, {CMD_CONFIGURE, 0, 4}, {CMD_VERSION, 0, 1},
        {CMD_LOCK, 0x80, 1}, {CMD_DUMPREG, 0, 1}, {CMD_PERPENDICULAR, 0, 2},
    };
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        if ((b & 0x1F) == cmds[i].code && !(b & 0xE0 & ~cmds[i].flags))
            return cmds[i].len;
    return 0;
}

static void write_fifo(Fdc *f, uint8_t v)
{
    switch (f->phase) {
    case PHASE_COMMAND:
        if (f->cmd_pos == 0) {
            f->cmd_len = command_length(v);
            if (!f->cmd_len) {
                set_result(f, (const uint8_t[]){ST0_INVALID}, 1, false);
                return;
            }
        }
        f->cmd[f->cmd_pos++] = v;
        if (f->cmd_pos == f->cmd_len) {
            f->cmd_pos = 0;
            execute(f);
        }
        break;
    case PHASE_EXEC_WRITE:
        set_irq(f, false);
        f->sector[f->sector_pos++] = v;
        if (f->sector_pos == SECTOR_SIZE)
            pio_sector_done(f);
        break;
    default:
        break;   /* the controller is not taking bytes: dropped */
    }
}

static uint8_t read_fifo(Fdc *f)
{
    uint8_t v = 0xFF;
    switch (f->phase) {
    case PHASE_RESULT:
        set_irq(f, false);   /* reading the result clears the interrupt */
        v = f->result[f->res_pos++];
        if (f->res_pos >= f->res_len)
            f->phase = PHASE_COMMAND;
        break;
    case PHASE_EXEC_READ:
        set_irq(f, false);
        v = f->sector[f->sector_pos++];
        if (f->sector_pos == SECTOR_SIZE)
            pio_sector_done(f);
        break;
    default:
        break;
    }
    return v;
}

static uint8_t msr(const Fdc *f)
{
    if (!(f->dor & DOR_NRESET))
        return 0;
    switch (f->phase) {
    case PHASE_COMMAND: return (uint8_t)(MSR_RQM | (f->cmd_pos ? MSR_CB : 0));
    case PHASE_EXEC_READ: return MSR_RQM | MSR_DIO | MSR_NDMA | MSR_CB;
    case PHASE_EXEC_WRITE: return MSR_RQM | MSR_NDMA | MSR_CB;
    case PHASE_RESULT: return MSR_RQM | MSR_DIO | MSR_CB;
    }
    return 0;
}

static uint8_t read_reg(Fdc *f, uint16_t port)
{
    if (port == FDC_DIR_PORT) {
        /* Bit 7 is the selected drive's change line; 6:0 are not the controller's in AT
         * mode and read 0. */
        return f->drive[f->dor & DOR_SELECT].changed ? DIR_DSKCHG : 0;
    }
    switch (port - FDC_BASE) {
    case REG_DOR: return f->dor;
    case REG_TDR: return f->tdr;
    case REG_MSR_DSR: return msr(f);
    case REG_FIFO: return (f->dor & DOR_NRESET) ? read_fifo(f) : 0xFF;
    default: return 0xFF;   /* SRA, SRB: PS/2 mode only */
    }
}

static void write_reg(Fdc *f, uint16_t port, uint8_t v)
{
    if (port == FDC_DIR_PORT) {   /* CCR */
        f->rate = v & RATE_MASK;
        return;
    }
    switch (port - FDC_BASE) {
    case REG_DOR: {
        bool was_reset = !(f->dor & DOR_NRESET);
        f->dor = v;
        if (!(v & DOR_NRESET))
            soft_reset(f);
        else if (was_reset)
            leave_reset(f);
        break;
    }
    case REG_TDR: f->tdr = v & 3; break;
    case REG_MSR_DSR:   /* DSR */
        f->rate = v & RATE_MASK;
        f->dsr_precomp = v & 0x7C;
        if ((v & DSR_SW_RESET) && (f->dor & DOR_NRESET)) {
            soft_reset(f);   /* self-clearing */
            leave_reset(f);
        }
        break;
    case REG_FIFO:
        if (f->dor & DOR_NRESET)
            write_fifo(f, v);
        break;
    default: break;
    }
}

int fdc_io_read(uint16_t port, uint8_t size, uint32_t *value, void *opaque)
{
    *value = dev_byte_on_bus(read_reg(opaque, port), size);
    return 0;
}

int fdc_io_write(uint16_t port, uint8_t size, uint32_t value, void *opaque)
{
    (void)size;   /* an 8-bit device takes the low byte */
    write_reg(opaque, port, (uint8_t)value);
    return 0;
}
