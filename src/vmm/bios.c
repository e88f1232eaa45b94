/*
 * The built-in BIOS, VMM side. bios/bios.s (assembled by make, mapped at 0xF0000) routes
 * every BIOS interrupt through one stub that writes the address of the caller's saved
 * registers to BIOS_CALL_PORT; bios_call() below reads that frame, runs the service on
 * it and on guest memory, and the stub's IRET hands the caller the results.
 *
 * Services (IBM PC/AT BIOS interface, as Ralf Brown's interrupt list documents it):
 *   int 10h  00h mode 3 / 13h, 01h-03h cursor, 06h/07h scroll, 08h/09h/0Ah chars, 0Eh
 *            teletype, 0Fh mode (text page 0)
 *   int 11h  equipment, int 12h  base memory
 *   int 13h  00h reset, 01h status, 02h/03h CHS read/write, 04h verify, 08h parameters,
 *            15h type, 41h-43h/48h LBA extensions (EDD 3.0 packets); floppy and hard disk;
 *            the CD-ROM (drive E0h) with 2048-byte blocks and 4Bh (El Torito status)
 *   int 15h  E820h, E801h, 88h, 86h wait, 2401h-2403h (A20 is always enabled here), C0h
 *   int 16h  00h/10h read key (waits), 01h/11h peek, 02h shift flags, 05h store a key
 *   int 19h  boot: floppy, hard disk, then CD (or -boot's order), 0x55AA checked on disks,
 *            El Torito on the CD (no emulation, or a floppy image as drive 00h)
 *   int 1Ah  00h/01h ticks, 02h RTC time, 04h RTC date
 *   IRQs     int 08h in the BIOS (ticks, int 1Ch); 09h reads the i8042 when there is one;
 *            the others end with an EOI
 * Anything else returns CF=1, AH=86h, and is counted (vm_bios_unsupported, --trace bios).
 *
 * Keys: int 16h takes scan code/ASCII pairs from the BIOS data area's buffer (filled by
 * int 09h from an i8042 when the VM has one) and, when that is empty, from COM1's
 * receiver, so a terminal's keys reach a boot sector without a keyboard controller.
 * Ticks: int 08h counts them once the PIT interrupts; until then the count follows the
 * host's monotonic clock at 1193182 / 65536 Hz, updated at each BIOS call.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kvm/backend.h"
#include "vmm/bios.h"
#include "vmm/keyseq.h"
#include "vmm/machine.h"
#include "vmm/platform.h"

extern const unsigned char scratchvm_bios_image[];
extern const size_t scratchvm_bios_image_size;

#define BIOS_SEGMENT 0xF000
#define BIOS_BASE 0xF0000ull
#define BIOS_MAGIC "SVMBIOS1"

/* Frame offsets (bios/bios.s). */
enum {
    F_GS = 0, F_FS = 2, F_ES = 4, F_DS = 6, F_EDI = 8, F_ESI = 12, F_EBP = 16, F_ESP = 20,
    F_EBX = 24, F_EDX = 28, F_ECX = 32, F_EAX = 36, F_VECTOR = 40, F_IP = 42, F_CS = 44,
    F_FLAGS = 46, FRAME_SIZE = 48,
};
#define VECTOR_RETRY 0x8000
#define VECTOR_POST 0x100

#define FLAG_CF 0x0001
#define FLAG_ZF 0x0040

/* Status codes of int 13h (AH). */
#define DISK_OK 0x00
#define DISK_BAD_COMMAND 0x01
#define DISK_NOT_FOUND 0x04     /* sector not found */
#define DISK_BOUNDARY 0x09      /* buffer not in memory */
#define DISK_WRITE_PROTECTED 0x03
#define DISK_ERROR 0x20         /* controller failure */
#define DISK_UNSUPPORTED 0x86

/* BIOS data area (segment 0x40). */
#define BDA_COM1 0x400
#define BDA_EQUIPMENT 0x410
#define BDA_MEMORY_KB 0x413
#define BDA_KBD_FLAGS 0x417
#define BDA_KBD_HEAD 0x41A
#define BDA_KBD_TAIL 0x41C
#define BDA_KBD_BUF 0x41E
#define BDA_KBD_BUF_END 0x43E
#define BDA_FLOPPY_STATUS 0x441
#define BDA_VIDEO_MODE 0x449
#define BDA_COLUMNS 0x44A
#define BDA_PAGE_SIZE 0x44C
#define BDA_CURSOR_POS 0x450
#define BDA_CURSOR_SHAPE 0x460
#define BDA_ACTIVE_PAGE 0x462
#define BDA_CRTC_PORT 0x463
#define BDA_TICKS 0x46C
#define BDA_MIDNIGHT 0x470
#define BDA_HD_STATUS 0x474
#define BDA_HD_COUNT 0x475
#define BDA_KBD_START 0x480
#define BDA_KBD_END 0x482
#define BDA_ROWS 0x484
#define BDA_PIT_SEEN 0x4FF       /* bios.s sets it at the first IRQ 0 */
#define BDA_EBDA_SEG 0x40E
#define EBDA_SEGMENT (MACHINE_EBDA_BASE >> 4)
#define BASE_MEMORY_KB 639
#define TICKS_PER_DAY 0x1800B0u
#define PIT_HZ 1193182ull

#define TEXT_COLS 80
#define TEXT_ROWS 25
#define MODE_TEXT 0x03
#define MODE_VGA256 0x13
#define BOOT_ADDR 0x7C00

#define PIC1_CMD 0x20
#define PIC2_CMD 0xA0
#define PIC_EOI 0x20
#define I8042_DATA 0x60
#define I8042_STATUS 0x64
#define I8042_OBF 0x01

#define NUM_DRIVES 5   /* floppy 0, floppy 1, hard disk 0, hard disk 1, CD-ROM */
#define CD_INDEX 4

typedef struct { uint32_t cylinders, heads, sectors; } Geometry;

typedef enum { BIOS_DONE, BIOS_UNSUPPORTED, BIOS_RETRY } BiosResult;

typedef struct Bios {
    SimpleVM *svm;
    uint16_t stubs, config_table, diskette_params, irq0, iret_only, halt;
    BlockDev *disk[NUM_DRIVES];
    Geometry geom[NUM_DRIVES];
    uint8_t status[NUM_DRIVES];          /* last int 13h status */
    char boot_order[8];
    ElToritoBoot cd_boot;                /* valid when cd_booted */
    bool cd_booted;
    BlockDev *floppy_saved;              /* drive 00h while a CD's floppy image replaces it */
    bool emulating;
    uint8_t mode;
    uint64_t start_ns;
    uint32_t ticks_at_start;
    int64_t tick_adjust;                 /* int 1Ah AH=01h */
    bool warned_exception;
    uint64_t wait_until_ns;              /* int 15h AH=86h in progress (0: none) */
    uint64_t calls, unsupported;
    uint32_t unsupported_count[256][256];   /* [vector][AH] */
    FILE *trace;
    KeySeq com1_keys;                    /* a terminal's key sequence arriving on COM1 */
} Bios;

/* A call frame in guest RAM. */
typedef struct {
    uint8_t *p;
    uint16_t vector;
    uint8_t ah;
} Frame;

static uint16_t get16(const Frame *f, int off) { return (uint16_t)(f->p[off] | f->p[off + 1] << 8); }
static uint32_t get32(const Frame *f, int off) { return get16(f, off) | (uint32_t)get16(f, off + 2) << 16; }
static void set16(Frame *f, int off, uint16_t v) { f->p[off] = (uint8_t)v; f->p[off + 1] = (uint8_t)(v >> 8); }
static void set32(Frame *f, int off, uint32_t v) { set16(f, off, (uint16_t)v); set16(f, off + 2, (uint16_t)(v >> 16)); }
static uint8_t lo(const Frame *f, int off) { return f->p[off]; }
static uint8_t hi(const Frame *f, int off) { return f->p[off + 1]; }
static void set_lo(Frame *f, int off, uint8_t v) { f->p[off] = v; }
static void set_hi(Frame *f, int off, uint8_t v) { f->p[off + 1] = v; }

static void set_flag(Frame *f, uint16_t flag, bool on)
{
    uint16_t v = get16(f, F_FLAGS);
    set16(f, F_FLAGS, on ? v | flag : v & (uint16_t)~flag);
}

static void ok(Frame *f) { set_flag(f, FLAG_CF, false); }
static void fail_ah(Frame *f, uint8_t ah)
{
    set_hi(f, F_EAX, ah);
    set_flag(f, FLAG_CF, true);
}

/* Guest RAM at seg:off, or NULL when [linear, +len) is not all RAM or runs past the end
 * of the segment: a real-mode offset is 16 bits and never carries into the next segment,
 * so the bytes past seg:FFFF are not part of a buffer the guest named at seg:off. The
 * callers turn NULL into an error status (CF=1). */
static uint8_t *real_ptr(Bios *b, uint16_t seg, uint32_t off, uint64_t len)
{
    if (off > 0x10000 || len > 0x10000 - off)
        return NULL;
    return vm_guest_ram(b->svm, (uint64_t)seg * 16 + off, len);
}

static uint8_t *bda(Bios *b, uint32_t addr, uint64_t len) { return vm_guest_ram(b->svm, addr, len); }
static void bda_w8(Bios *b, uint32_t a, uint8_t v) { uint8_t *p = bda(b, a, 1); if (p) *p = v; }
static void bda_w16(Bios *b, uint32_t a, uint16_t v)
{
    uint8_t *p = bda(b, a, 2);
    if (p) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
}
static void bda_w32(Bios *b, uint32_t a, uint32_t v) { bda_w16(b, a, (uint16_t)v); bda_w16(b, a + 2, (uint16_t)(v >> 16)); }
static uint8_t bda_r8(Bios *b, uint32_t a) { uint8_t *p = bda(b, a, 1); return p ? *p : 0; }
static uint16_t bda_r16(Bios *b, uint32_t a) { uint8_t *p = bda(b, a, 2); return p ? (uint16_t)(p[0] | p[1] << 8) : 0; }
static uint32_t bda_r32(Bios *b, uint32_t a) { return bda_r16(b, a) | (uint32_t)bda_r16(b, a + 2) << 16; }

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- int 10h: video ---- */

static void vga_cell_write(Bios *b, int row, int col, uint8_t ch, uint8_t attr)
{
    uint64_t addr = VGA_TEXT_BASE + (uint64_t)(row * TEXT_COLS + col) * 2;
    vga_mmio_write(addr, 2, (uint64_t)ch | (uint64_t)attr << 8, b->svm->vga);
}

static uint16_t vga_cell_read(Bios *b, int row, int col)
{
    uint64_t v = 0;
    vga_mmio_read(VGA_TEXT_BASE + (uint64_t)(row * TEXT_COLS + col) * 2, 2, &v, b->svm->vga);
    return (uint16_t)v;
}

static void set_cursor(Bios *b, int row, int col)
{
    bda_w8(b, BDA_CURSOR_POS, (uint8_t)col);
    bda_w8(b, BDA_CURSOR_POS + 1, (uint8_t)row);
    unsigned loc = (unsigned)(row * TEXT_COLS + col);
    vga_io_write(VGA_CRTC_INDEX, 1, 0x0E, b->svm->vga);
    vga_io_write(VGA_CRTC_DATA, 1, loc >> 8, b->svm->vga);
    vga_io_write(VGA_CRTC_INDEX, 1, 0x0F, b->svm->vga);
    vga_io_write(VGA_CRTC_DATA, 1, loc & 0xFF, b->svm->vga);
}

/* Scrolls the window [top..bottom] x [left..right] up (lines > 0) or down (< 0); 0
 * clears it. New lines are blanks in `attr`. */
static void scroll(Bios *b, int lines, uint8_t attr, int top, int left, int bottom, int right)
{
    if (right >= TEXT_COLS)
        right = TEXT_COLS - 1;
    if (bottom >= TEXT_ROWS)
        bottom = TEXT_ROWS - 1;
    if (top > bottom || left > right)
        return;
    int height = bottom - top + 1;
    int n = lines < 0 ? -lines : lines;
    if (n == 0 || n >= height)
        n = height;
    for (int i = 0; i < height; i++) {
        int row = lines >= 0 ? top + i : bottom - i;
        int from = lines >= 0 ? row + n : row - n;
        for (int col = left; col <= right; col++) {
            if (i < height - n) {
                uint16_t cell = vga_cell_read(b, from, col);
                vga_cell_write(b, row, col, (uint8_t)cell, (uint8_t)(cell >> 8));
            } else {
                vga_cell_write(b, row, col, ' ', attr);
            }
        }
    }
}

static void clear_text_screen(Bios *b)
{
    scroll(b, 0, 0x07, 0, 0, TEXT_ROWS - 1, TEXT_COLS - 1);
    set_cursor(b, 0, 0);
}

static void set_text_mode_bda(Bios *b, uint8_t mode)
{
    b->mode = mode;
    bda_w8(b, BDA_VIDEO_MODE, mode);
    bda_w16(b, BDA_COLUMNS, mode == MODE_VGA256 ? 40 : TEXT_COLS);
    bda_w16(b, BDA_PAGE_SIZE, mode == MODE_VGA256 ? 0 : 0x1000);
    bda_w8(b, BDA_ACTIVE_PAGE, 0);
    bda_w16(b, BDA_CRTC_PORT, VGA_CRTC_INDEX);
    bda_w8(b, BDA_ROWS, TEXT_ROWS - 1);
    bda_w16(b, BDA_CURSOR_SHAPE, 0x0E0F);
}

/* Without a VGA (-vga none) the console is COM1, as under a serial-console option ROM:
 * the byte goes out through the transmitter unless the guest left the divisor latch open. */
static void teletype_serial(Bios *b, uint8_t ch)
{
    uint32_t lcr = 0;
    if (serial_io_read(COM1_BASE + 3, 1, &lcr, b->svm->serial) == 0 && !(lcr & 0x80))
        serial_io_write(COM1_BASE, 1, ch, b->svm->serial);
}

static void teletype(Bios *b, uint8_t ch, uint8_t attr_if_new)
{
    if (!b->svm->vga)
        teletype_serial(b, ch);
    int col = bda_r8(b, BDA_CURSOR_POS), row = bda_r8(b, BDA_CURSOR_POS + 1);
    switch (ch) {
    case 7:    /* bell */
        return;
    case 8:
        if (col > 0)
            col--;
        break;
    case '\r':
        col = 0;
        break;
    case '\n':
        row++;
        break;
    default:
        if (b->mode != MODE_VGA256) {
            uint16_t cell = vga_cell_read(b, row, col);
            (void)attr_if_new;
            vga_cell_write(b, row, col, ch, (uint8_t)(cell >> 8));
        }
        col++;
    }
    if (col >= TEXT_COLS) {
        col = 0;
        row++;
    }
    if (row >= TEXT_ROWS) {
        /* The new bottom line takes the attribute under the cursor, as PC BIOSes do. */
        uint8_t attr = (uint8_t)(vga_cell_read(b, TEXT_ROWS - 1, 0) >> 8);
        if (b->mode != MODE_VGA256)
            scroll(b, 1, attr, 0, 0, TEXT_ROWS - 1, TEXT_COLS - 1);
        row = TEXT_ROWS - 1;
    }
    set_cursor(b, row, col);
}

static BiosResult int10(Bios *b, Frame *f)
{
    uint8_t al = lo(f, F_EAX);
    int col = bda_r8(b, BDA_CURSOR_POS), row = bda_r8(b, BDA_CURSOR_POS + 1);
    switch (f->ah) {
    case 0x00: {   /* set mode; AL bit 7: keep the screen */
        uint8_t mode = al & 0x7F;
        if (mode != MODE_TEXT && mode != 0x02 && mode != MODE_VGA256)
            return BIOS_UNSUPPORTED;
        set_text_mode_bda(b, mode);
        if (!(al & 0x80)) {
            if (mode == MODE_VGA256 && b->svm->vga)
                vga_clear_graphics(b->svm->vga);
            else
                clear_text_screen(b);
        }
        set_cursor(b, 0, 0);
        set_lo(f, F_EAX, mode == MODE_VGA256 ? 0x20 : 0x30);
        return BIOS_DONE;
    }
    case 0x01:   /* cursor shape: CH start, CL end */
        bda_w16(b, BDA_CURSOR_SHAPE, get16(f, F_ECX));
        vga_io_write(VGA_CRTC_INDEX, 1, 0x0A, b->svm->vga);
        vga_io_write(VGA_CRTC_DATA, 1, hi(f, F_ECX), b->svm->vga);
        vga_io_write(VGA_CRTC_INDEX, 1, 0x0B, b->svm->vga);
        vga_io_write(VGA_CRTC_DATA, 1, lo(f, F_ECX), b->svm->vga);
        return BIOS_DONE;
    case 0x02:   /* set cursor: DH row, DL column (page 0) */
        set_cursor(b, hi(f, F_EDX) < TEXT_ROWS ? hi(f, F_EDX) : TEXT_ROWS - 1,
                   lo(f, F_EDX) < TEXT_COLS ? lo(f, F_EDX) : TEXT_COLS - 1);
        return BIOS_DONE;
    case 0x03:   /* get cursor: DH, DL, CX shape */
        set_hi(f, F_EDX, (uint8_t)row);
        set_lo(f, F_EDX, (uint8_t)col);
        set16(f, F_ECX, bda_r16(b, BDA_CURSOR_SHAPE));
        return BIOS_DONE;
    case 0x06:
    case 0x07: {   /* scroll up / down: AL lines, BH attribute, CX..DX window */
        int lines = al;
        if (b->mode != MODE_VGA256)
            scroll(b, f->ah == 0x06 ? lines : -lines, hi(f, F_EBX), hi(f, F_ECX), lo(f, F_ECX),
                   hi(f, F_EDX), lo(f, F_EDX));
        return BIOS_DONE;
    }
    case 0x08: {   /* read character and attribute at the cursor */
        uint16_t cell = b->mode == MODE_VGA256 ? 0 : vga_cell_read(b, row, col);
        set16(f, F_EAX, cell);
        return BIOS_DONE;
    }
    case 0x09:
    case 0x0A: {   /* write CX copies of AL (0Ah: keep attributes; 09h: BL) */
        uint16_t count = get16(f, F_ECX);
        if (b->mode == MODE_VGA256)
            return BIOS_DONE;
        for (uint32_t i = 0; i < count; i++) {
            int pos = row * TEXT_COLS + col + (int)i;
            if (pos >= TEXT_ROWS * TEXT_COLS)
                break;
            uint8_t attr = f->ah == 0x09 ? lo(f, F_EBX)
                                         : (uint8_t)(vga_cell_read(b, pos / TEXT_COLS,
                                                                   pos % TEXT_COLS) >> 8);
            vga_cell_write(b, pos / TEXT_COLS, pos % TEXT_COLS, al, attr);
        }
        return BIOS_DONE;
    }
    case 0x0E:   /* teletype */
        teletype(b, al, lo(f, F_EBX));
        return BIOS_DONE;
    case 0x0F:   /* get mode: AL mode, AH columns, BH page */
        set_lo(f, F_EAX, b->mode);
        set_hi(f, F_EAX, b->mode == MODE_VGA256 ? 40 : TEXT_COLS);
        set_hi(f, F_EBX, 0);
        return BIOS_DONE;
    default:
        return BIOS_UNSUPPORTED;
    }
}

/* ---- int 13h: disks ---- */

static int drive_index(uint8_t dl)
{
    switch (dl) {
    case BIOS_DRIVE_FLOPPY0: return 0;
    case BIOS_DRIVE_FLOPPY1: return 1;
    case BIOS_DRIVE_HD0: return 2;
    case BIOS_DRIVE_HD1: return 3;
    case BIOS_DRIVE_CDROM: return CD_INDEX;
    default: return -1;
    }
}

/* Floppy geometries by image size (the standard PC formats); other sizes up to 2.88 MB
 * (such as a one-sector image) read as a 1.44 MB disk whose missing sectors are not
 * found. Hard disks: 16 heads, 63 sectors, up to 1024 cylinders for CHS. */
static Geometry geometry_for(int index, uint64_t size)
{
    static const struct { uint64_t size; Geometry g; } floppies[] = {
        {163840, {40, 1, 8}}, {184320, {40, 1, 9}}, {327680, {40, 2, 8}},
        {368640, {40, 2, 9}}, {737280, {80, 2, 9}}, {1228800, {80, 2, 15}},
        {1474560, {80, 2, 18}}, {2949120, {80, 2, 36}},
    };
    if (index < 2) {
        for (size_t i = 0; i < sizeof(floppies) / sizeof(floppies[0]); i++)
            if (floppies[i].size == size)
                return floppies[i].g;
        return size > 1474560 ? (Geometry){80, 2, 36} : (Geometry){80, 2, 18};
    }
    uint64_t cyl = size / (16 * 63 * 512);
    if (cyl == 0)
        cyl = 1;
    if (cyl > 1024)
        cyl = 1024;
    return (Geometry){(uint32_t)cyl, 16, 63};
}

static BiosResult disk_status(Bios *b, Frame *f, int idx, uint8_t status)
{
    b->status[idx] = status;
    bda_w8(b, idx < 2 ? BDA_FLOPPY_STATUS : BDA_HD_STATUS, status);
    if (status == DISK_OK) {
        set_hi(f, F_EAX, 0);
        ok(f);
    } else {
        fail_ah(f, status);
    }
    return BIOS_DONE;
}

/* Reads or writes `count` sectors at lba to/from seg:off. The status: DISK_BOUNDARY (09h,
 * as PC BIOSes report a buffer they cannot address) when the buffer is not all RAM or
 * crosses the end of its segment, so sector count x 512 never reaches past either. */
static uint8_t disk_transfer(Bios *b, int idx, bool write, uint64_t lba, uint32_t count,
                             uint16_t seg, uint16_t off)
{
    BlockDev *bd = b->disk[idx];
    uint64_t ss = idx == CD_INDEX ? CD_SECTOR : 512;   /* the CD's sectors are 2048 bytes */
    uint64_t bytes = (uint64_t)count * ss;
    if (lba > bd->size / ss || count > bd->size / ss - lba)
        return DISK_NOT_FOUND;
    uint8_t *mem = real_ptr(b, seg, off, bytes);
    if (!mem)
        return DISK_BOUNDARY;
    if (bytes == 0)
        return DISK_OK;
    int r = write ? block_write(bd, lba * ss, mem, bytes) : block_read(bd, lba * ss, mem, bytes);
    if (r == -EROFS)
        return DISK_WRITE_PROTECTED;
    if (r < 0) {
        hv_log(HV_LOG_WARN, "bios: int 13h %s of drive %d: %s", write ? "write" : "read", idx,
               hv_last_error());
        return DISK_ERROR;
    }
    return DISK_OK;
}

/* The EDD disk address packet at DS:SI: size, reserved, count, offset, segment, LBA. */
static BiosResult disk_extended_rw(Bios *b, Frame *f, int idx, bool write, bool verify)
{
    uint8_t *dap = real_ptr(b, get16(f, F_DS), get16(f, F_ESI), 16);
    if (!dap || dap[0] < 16)
        return disk_status(b, f, idx, DISK_BAD_COMMAND);
    uint16_t count = (uint16_t)(dap[2] | dap[3] << 8);
    uint16_t off = (uint16_t)(dap[4] | dap[5] << 8), seg = (uint16_t)(dap[6] | dap[7] << 8);
    uint64_t lba = 0;
    for (int i = 7; i >= 0; i--)
        lba = lba << 8 | dap[8 + i];
    uint64_t n = b->disk[idx]->size / (idx == CD_INDEX ? CD_SECTOR : 512);
    uint8_t st = verify ? (lba <= n && count <= n - lba ? DISK_OK : DISK_NOT_FOUND)
                        : disk_transfer(b, idx, write, lba, count, seg, off);
    if (st != DISK_OK) {
        dap[2] = dap[3] = 0;   /* blocks transferred */
    }
    return disk_status(b, f, idx, st);
}

/* ---- the CD-ROM: El Torito and int 13h on 2048-byte sectors ---- */

#define ELTORITO_DESCRIPTOR_SECTOR 17
#define ELTORITO_MEDIA_HD 4
#define ELTORITO_BOOTABLE 0x88
#define ELTORITO_DEFAULT_SEGMENT 0x07C0
#define CONVENTIONAL_START 0x500      /* above the IVT and the BDA */
#define CONVENTIONAL_END 0xA0000

static uint32_t le32(const uint8_t *p)
{
    return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int vm_bios_eltorito(BlockDev *cd, ElToritoBoot *out)
{
    static const uint64_t floppy_bytes[] = {0, 1228800, 1474560, 2949120};
    uint8_t sec[CD_SECTOR];
    if (!cd || !out)
        return hv_fail(EINVAL, "vm_bios_eltorito: no CD");
    uint64_t nsec = cd->size / CD_SECTOR;
    if (nsec <= ELTORITO_DESCRIPTOR_SECTOR ||
        block_read(cd, (uint64_t)ELTORITO_DESCRIPTOR_SECTOR * CD_SECTOR, sec, CD_SECTOR) < 0)
        return hv_fail(ENOENT, "the CD has no sector 17 (El Torito's boot record)");
    /* Boot record volume descriptor: type 0, "CD001", version 1, the boot system id. */
    static const char id[] = "EL TORITO SPECIFICATION";
    if (sec[0] != 0 || memcmp(sec + 1, "CD001", 5) != 0 || sec[6] != 1 ||
        memcmp(sec + 7, id, sizeof(id) - 1) != 0)
        return hv_fail(ENOENT, "the CD has no El Torito boot record at sector 17");
    uint32_t catalog = le32(sec + 0x47);
    if (catalog >= nsec || block_read(cd, (uint64_t)catalog * CD_SECTOR, sec, 64) < 0)
        return hv_fail(EINVAL, "El Torito: the boot catalog's sector %u is not in the image",
                       catalog);
    /* Validation entry: header id 1, key bytes 55 AA, its 16 words summing to 0. */
    uint16_t sum = 0;
    for (int i = 0; i < 32; i += 2)
        sum = (uint16_t)(sum + (sec[i] | sec[i + 1] << 8));
    if (sec[0] != 1 || sec[30] != 0x55 || sec[31] != 0xAA || sum != 0)
        return hv_fail(EINVAL, "El Torito: bad validation entry (header %u, key %02x %02x, "
                       "checksum %s)", sec[0], sec[30], sec[31], sum ? "wrong" : "ok");
    if (sec[1] != 0)
        return hv_fail(EINVAL, "El Torito: the catalog is for platform %u, not 80x86", sec[1]);
    const uint8_t *e = sec + 32;   /* initial/default entry */
    if (e[0] != ELTORITO_BOOTABLE)
        return hv_fail(EINVAL, "El Torito: the default entry is not bootable (%02x)", e[0]);
    ElToritoBoot r = {.media = e[1] & 0x0F, .load_segment = (uint16_t)(e[2] | e[3] << 8),
                      .sectors = (uint16_t)(e[6] | e[7] << 8), .load_rba = le32(e + 8),
                      .catalog_rba = catalog};
    if (r.load_segment == 0)
        r.load_segment = ELTORITO_DEFAULT_SEGMENT;
    if (r.media == ELTORITO_MEDIA_HD)
        return hv_fail(ENOTSUP, "El Torito: hard disk emulation is not supported");
    if (r.media > ELTORITO_MEDIA_HD)
        return hv_fail(EINVAL, "El Torito: unknown boot media type %u", r.media);
    r.image_size = r.media ? floppy_bytes[r.media] : (uint64_t)r.sectors * 512;
    if (r.image_size == 0)
        return hv_fail(EINVAL, "El Torito: the boot image has no sector to load");
    if (r.load_rba >= nsec || r.image_size > cd->size - (uint64_t)r.load_rba * CD_SECTOR)
        return hv_fail(EINVAL, "El Torito: the boot image (sector %u, %" PRIu64 " bytes) is "
                       "not inside the %" PRIu64 "-byte image", r.load_rba, r.image_size,
                       cd->size);
    uint64_t at = (uint64_t)r.load_segment * 16;
    if (r.media == 0 && (at < CONVENTIONAL_START || r.image_size > CONVENTIONAL_END - at ||
                         at >= CONVENTIONAL_END))
        return hv_fail(EINVAL, "El Torito: loading %" PRIu64 " bytes at %04x:0000 leaves "
                       "conventional memory", r.image_size, r.load_segment);
    *out = r;
    return 0;
}

/* int 13h AH=4Bh: AL=00h terminate the emulation, AL=01h status; both fill the 13h-byte
 * specification packet at DS:SI (El Torito 1.0, section 5.3, Figure 11). */
static BiosResult cd_emulation_status(Bios *b, Frame *f)
{
    uint8_t al = lo(f, F_EAX);
    uint8_t *p = real_ptr(b, get16(f, F_DS), get16(f, F_ESI), 0x13);
    if (al > 0x01)
        return BIOS_UNSUPPORTED;
    if (!b->cd_booted || !p) {
        fail_ah(f, DISK_BAD_COMMAND);
        return BIOS_DONE;
    }
    const ElToritoBoot *e = &b->cd_boot;
    memset(p, 0, 0x13);
    p[0] = 0x13;
    p[1] = e->media;
    p[2] = b->emulating ? BIOS_DRIVE_FLOPPY0 : BIOS_DRIVE_CDROM;
    for (int k = 0; k < 4; k++)
        p[4 + k] = (uint8_t)(e->load_rba >> (8 * k));
    p[0x0C] = (uint8_t)e->load_segment;
    p[0x0D] = (uint8_t)(e->load_segment >> 8);
    p[0x0E] = (uint8_t)e->sectors;
    p[0x0F] = (uint8_t)(e->sectors >> 8);
    if (e->media) {   /* the emulated floppy's geometry, as AH=08h would give it */
        Geometry g = geometry_for(0, e->image_size);
        p[0x10] = (uint8_t)(g.cylinders - 1);
        p[0x11] = (uint8_t)(g.sectors | ((g.cylinders - 1) >> 2 & 0xC0));
        p[0x12] = (uint8_t)(g.heads - 1);
    }
    if (al == 0x00 && b->emulating) {   /* the real drive 00h comes back */
        block_close(b->disk[0]);
        b->disk[0] = b->floppy_saved;
        b->floppy_saved = NULL;
        b->emulating = false;
        if (b->disk[0])
            b->geom[0] = geometry_for(0, b->disk[0]->size);
    }
    set_hi(f, F_EAX, 0);
    ok(f);
    return BIOS_DONE;
}

/* int 13h on the CD drive: the EDD calls with 2048-byte blocks; no CHS (a CD has no
 * geometry); writes fail as on write-protected media. */
static BiosResult int13_cdrom(Bios *b, Frame *f)
{
    uint64_t blocks = b->disk[CD_INDEX]->size / CD_SECTOR;
    switch (f->ah) {
    case 0x00:   /* reset */
    case 0x0D:
    case 0x10:   /* ready */
        return disk_status(b, f, CD_INDEX, DISK_OK);
    case 0x01:
        set_hi(f, F_EAX, b->status[CD_INDEX]);
        set_flag(f, FLAG_CF, b->status[CD_INDEX] != 0);
        return BIOS_DONE;
    case 0x03:
    case 0x05:
    case 0x43:   /* writes and formats */
        return disk_status(b, f, CD_INDEX, DISK_WRITE_PROTECTED);
    case 0x02:
    case 0x04:
    case 0x08:   /* CHS has no meaning on a CD */
        return disk_status(b, f, CD_INDEX, DISK_BAD_COMMAND);
    case 0x15:   /* type: removable with change line */
        set_hi(f, F_EAX, 0x02);
        ok(f);
        return BIOS_DONE;
    case 0x41:
        if (get16(f, F_EBX) != 0x55AA)
            return BIOS_UNSUPPORTED;
        set16(f, F_EBX, 0xAA55);
        set_hi(f, F_EAX, 0x30);
        set16(f, F_ECX, 0x0001);
        ok(f);
        return BIOS_DONE;
    case 0x42:
        return disk_extended_rw(b, f, CD_INDEX, false, false);
    case 0x44:
        return disk_extended_rw(b, f, CD_INDEX, false, true);
    case 0x47:   /* seek: nothing to do */
        return disk_status(b, f, CD_INDEX, DISK_OK);
    case 0x48: {
        uint8_t *p = real_ptr(b, get16(f, F_DS), get16(f, F_ESI), 0x1A);
        if (!p || (p[0] | p[1] << 8) < 0x1A)
            return disk_status(b, f, CD_INDEX, DISK_BAD_COMMAND);
        memset(p, 0, 0x1A);
        p[0] = 0x1A;
        p[2] = 0x14;   /* flags: removable, change line; CHS not valid */
        for (int k = 0; k < 8; k++)
            p[16 + k] = (uint8_t)(blocks >> (8 * k));
        p[24] = (uint8_t)CD_SECTOR;
        p[25] = (uint8_t)(CD_SECTOR >> 8);
        return disk_status(b, f, CD_INDEX, DISK_OK);
    }
    default:
        return BIOS_UNSUPPORTED;
    }
}

/* Boots the CD's El Torito image: no emulation loads it at its segment and enters it
 * with DL = E0h; floppy emulation puts the floppy image in drive 00h (the real one is
 * hidden until AH=4B00h) and boots its first sector at 0000:7C00. false when the CD is
 * not bootable (with a warning). */
static bool cd_boot(Bios *b, Frame *f)
{
    ElToritoBoot e;
    BlockDev *cd = b->disk[CD_INDEX];
    if (vm_bios_eltorito(cd, &e) < 0) {
        hv_log(HV_LOG_WARN, "bios: drive d: %s", hv_last_error());
        return false;
    }
    uint16_t seg = 0, ip = BOOT_ADDR;
    uint8_t drive = BIOS_DRIVE_CDROM;
    uint64_t src = (uint64_t)e.load_rba * CD_SECTOR;
    if (e.media == 0) {
        /* An image loaded over POST's stack (below 0000:7C00) is then partly overwritten by
         * this call's frame: the CS:IP that enters it wins, as a real stack would. */
        uint8_t *dst = vm_guest_ram(b->svm, (uint64_t)e.load_segment * 16, e.image_size);
        if (!dst || block_read(cd, src, dst, e.image_size) < 0) {
            hv_log(HV_LOG_WARN, "bios: drive d: the boot image cannot be loaded");
            return false;
        }
        /* The traditional segment enters at 0000:7C00 as disks do; others at seg:0000. */
        if (e.load_segment != ELTORITO_DEFAULT_SEGMENT)
            seg = e.load_segment, ip = 0;
    } else {
        BlockDev *view;
        uint8_t *dst = vm_guest_ram(b->svm, BOOT_ADDR, 512);
        if (!dst || block_view_open(cd, src, e.image_size, &view) < 0)
            return false;
        if (block_read(view, 0, dst, 512) < 0) {
            block_close(view);
            return false;
        }
        if (b->emulating)
            block_close(b->disk[0]);
        else
            b->floppy_saved = b->disk[0];
        b->disk[0] = view;
        b->geom[0] = geometry_for(0, e.image_size);
        b->emulating = true;
        drive = BIOS_DRIVE_FLOPPY0;
    }
    b->cd_boot = e;
    b->cd_booted = true;
    set16(f, F_IP, ip);
    set16(f, F_CS, seg);
    set16(f, F_FLAGS, 0x0202);
    set_lo(f, F_EDX, drive);
    set_hi(f, F_EDX, 0);
    set16(f, F_DS, 0);
    set16(f, F_ES, 0);
    return true;
}

static BiosResult int13(Bios *b, Frame *f)
{
    uint8_t dl = lo(f, F_EDX);
    int idx = drive_index(dl);
    if (f->ah == 0x4B && (idx == CD_INDEX || (idx == 0 && b->emulating)))
        return cd_emulation_status(b, f);
    if (idx == CD_INDEX && b->disk[CD_INDEX])
        return int13_cdrom(b, f);
    if (idx < 0 || !b->disk[idx]) {
        if (f->ah == 0x15 && idx >= 0) {   /* type: no such drive */
            set_hi(f, F_EAX, 0);
            ok(f);
            return BIOS_DONE;
        }
        fail_ah(f, DISK_BAD_COMMAND);
        return BIOS_DONE;
    }
    Geometry g = b->geom[idx];
    uint64_t sectors = b->disk[idx]->size / 512;
    switch (f->ah) {
    case 0x00:   /* reset */
        return disk_status(b, f, idx, DISK_OK);
    case 0x01:   /* status of the last operation */
        set_hi(f, F_EAX, b->status[idx]);
        set_flag(f, FLAG_CF, b->status[idx] != 0);
        return BIOS_DONE;
    case 0x02:
    case 0x03:
    case 0x04: {   /* CHS read / write / verify: AL sectors, CH/CL cylinder+sector, DH head */
        uint8_t count = lo(f, F_EAX), cl = lo(f, F_ECX);
        uint32_t cyl = hi(f, F_ECX) | (uint32_t)(cl & 0xC0) << 2, sec = cl & 0x3F;
        uint32_t head = hi(f, F_EDX);
        if (count == 0 || sec == 0 || sec > g.sectors || head >= g.heads || cyl >= g.cylinders)
            return disk_status(b, f, idx, sec == 0 || count == 0 ? DISK_BAD_COMMAND
                                                                 : DISK_NOT_FOUND);
        uint64_t lba = ((uint64_t)cyl * g.heads + head) * g.sectors + sec - 1;
        uint8_t st;
        if (f->ah == 0x04)
            st = lba + count <= sectors ? DISK_OK : DISK_NOT_FOUND;
        else
            st = disk_transfer(b, idx, f->ah == 0x03, lba, count, get16(f, F_ES),
                               get16(f, F_EBX));
        if (st == DISK_OK)
            set_lo(f, F_EAX, count);
        else
            set_lo(f, F_EAX, 0);
        return disk_status(b, f, idx, st);
    }
    case 0x08: {   /* parameters */
        uint32_t maxcyl = g.cylinders - 1;
        set_hi(f, F_ECX, (uint8_t)maxcyl);
        set_lo(f, F_ECX, (uint8_t)(g.sectors | (maxcyl >> 2 & 0xC0)));
        set_hi(f, F_EDX, (uint8_t)(g.heads - 1));
        int n = idx < 2 ? (b->disk[0] != NULL) + (b->disk[1] != NULL)
                        : (b->disk[2] != NULL) + (b->disk[3] != NULL);
        set_lo(f, F_EDX, (uint8_t)n);
        if (idx < 2) {
            set_lo(f, F_EBX, g.sectors == 36 ? 5 : g.sectors == 18 ? 4 : g.sectors == 15 ? 2 : 3);
            set16(f, F_ES, BIOS_SEGMENT);
            set16(f, F_EDI, b->diskette_params);
        }
        set_lo(f, F_EAX, 0);
        return disk_status(b, f, idx, DISK_OK);
    }
    case 0x15:   /* type: floppy with change line (2) / hard disk (3) with CX:DX sectors */
        if (idx < 2) {
            set_hi(f, F_EAX, 0x02);
        } else {
            set_hi(f, F_EAX, 0x03);
            uint32_t n = sectors > UINT32_MAX ? UINT32_MAX : (uint32_t)sectors;
            set16(f, F_ECX, (uint16_t)(n >> 16));
            set16(f, F_EDX, (uint16_t)n);
        }
        ok(f);
        return BIOS_DONE;
    case 0x41:   /* EDD installation check: BX 55AAh → AA55h, AH version, CX subsets */
        if (get16(f, F_EBX) != 0x55AA)
            return BIOS_UNSUPPORTED;
        set16(f, F_EBX, 0xAA55);
        set_hi(f, F_EAX, 0x30);    /* EDD 3.0 */
        set16(f, F_ECX, 0x0001);   /* the extended disk access functions (42h-44h, 47h, 48h) */
        ok(f);
        return BIOS_DONE;
    case 0x42:
        return disk_extended_rw(b, f, idx, false, false);
    case 0x43:
        return disk_extended_rw(b, f, idx, true, false);
    case 0x44:
        return disk_extended_rw(b, f, idx, false, true);
    case 0x48: {   /* drive parameters into the buffer at DS:SI */
        uint8_t *p = real_ptr(b, get16(f, F_DS), get16(f, F_ESI), 0x1A);
        if (!p || (p[0] | p[1] << 8) < 0x1A)
            return disk_status(b, f, idx, DISK_BAD_COMMAND);
        memset(p, 0, 0x1A);
        p[0] = 0x1A;
        p[2] = 0x02;   /* flags: CHS information valid */
        uint32_t v[3] = {g.cylinders, g.heads, g.sectors};
        for (int i = 0; i < 3; i++)
            for (int k = 0; k < 4; k++)
                p[4 + i * 4 + k] = (uint8_t)(v[i] >> (8 * k));
        for (int k = 0; k < 8; k++)
            p[16 + k] = (uint8_t)(sectors >> (8 * k));
        p[24] = 0x00;
        p[25] = 0x02;   /* 512 bytes a sector */
        return disk_status(b, f, idx, DISK_OK);
    }
    default:
        return BIOS_UNSUPPORTED;
    }
}

/* ---- int 15h: system ---- */

static BiosResult int15(Bios *b, Frame *f)
{
    uint64_t ram = b->svm->ram_size;
    uint16_t ax = get16(f, F_EAX);
    if (get32(f, F_EAX) == 0xE820 && get32(f, F_EDX) == 0x534D4150) {   /* "SMAP" */
        /* The machine's one memory map (machine_e820), as the -kernel loader gives it. */
        E820Entry map[MACHINE_E820_MAX];
        int n = machine_e820(&b->svm->platform->machine, map);
        uint32_t i = get32(f, F_EBX);
        uint32_t len = get32(f, F_ECX);
        uint8_t *p = real_ptr(b, get16(f, F_ES), get16(f, F_EDI), 20);
        if (i >= (uint32_t)n || len < 20 || !p) {
            fail_ah(f, 0x86);
            return BIOS_DONE;
        }
        for (int k = 0; k < 8; k++) {
            p[k] = (uint8_t)(map[i].base >> (8 * k));
            p[8 + k] = (uint8_t)(map[i].length >> (8 * k));
        }
        p[16] = (uint8_t)map[i].type;
        p[17] = p[18] = p[19] = 0;
        set32(f, F_EAX, 0x534D4150);
        set32(f, F_ECX, 20);
        set32(f, F_EBX, i + 1 < (uint32_t)n ? i + 1 : 0);
        ok(f);
        return BIOS_DONE;
    }
    if (ax == 0xE801) {   /* KiB 1-16 MiB in AX/CX, 64 KiB blocks above 16 MiB in BX/DX */
        uint64_t kb1 = ram > 0x100000 ? (ram - 0x100000) / 1024 : 0;
        if (kb1 > 15 * 1024)
            kb1 = 15 * 1024;
        uint64_t blocks = ram > 16 * 0x100000 ? (ram - 16 * 0x100000) / 65536 : 0;
        set16(f, F_EAX, (uint16_t)kb1);
        set16(f, F_ECX, (uint16_t)kb1);
        set16(f, F_EBX, (uint16_t)(blocks > 0xFFFF ? 0xFFFF : blocks));
        set16(f, F_EDX, (uint16_t)(blocks > 0xFFFF ? 0xFFFF : blocks));
        ok(f);
        return BIOS_DONE;
    }
    switch (f->ah) {
    case 0x88: {   /* KiB above 1 MiB, at most 63 MiB (as AT BIOSes report) */
        uint64_t kb = ram > 0x100000 ? (ram - 0x100000) / 1024 : 0;
        set16(f, F_EAX, (uint16_t)(kb > 0xFC00 ? 0xFC00 : kb));
        ok(f);
        return BIOS_DONE;
    }
    case 0x24:   /* A20: this machine's memory never wraps at 1 MiB */
        switch (lo(f, F_EAX)) {
        case 0x01:   /* enable */
            set_hi(f, F_EAX, 0);
            ok(f);
            return BIOS_DONE;
        case 0x02:   /* status: enabled */
            set16(f, F_EAX, 0x0001);
            ok(f);
            return BIOS_DONE;
        case 0x03:   /* support: none needed */
            set_hi(f, F_EAX, 0);
            set16(f, F_EBX, 0);
            ok(f);
            return BIOS_DONE;
        default:     /* 2400h disable: not possible here */
            return BIOS_UNSUPPORTED;
        }
    case 0x86: {   /* wait CX:DX microseconds; the vCPU comes back until the time is up */
        uint64_t now = now_ns();
        if (!b->wait_until_ns) {
            uint64_t us = (uint64_t)get16(f, F_ECX) << 16 | get16(f, F_EDX);
            b->wait_until_ns = now + us * 1000;
        }
        if (now < b->wait_until_ns)
            return BIOS_RETRY;
        b->wait_until_ns = 0;
        set_hi(f, F_EAX, 0);
        ok(f);
        return BIOS_DONE;
    }
    case 0xC0:
        set16(f, F_ES, BIOS_SEGMENT);
        set16(f, F_EBX, b->config_table);
        set_hi(f, F_EAX, 0);
        ok(f);
        return BIOS_DONE;
    default:
        return BIOS_UNSUPPORTED;
    }
}

/* ---- int 16h: keyboard ---- */

/* Scan code (set 1) and ASCII of an ASCII byte typed on the console. */
static uint16_t key_for_ascii(uint8_t c)
{
    static const char row1[] = "1234567890-=", row2[] = "qwertyuiop[]", row3[] = "asdfghjkl;'`",
                      row4[] = "\\zxcvbnm,./", shift1[] = "!@#$%^&*()_+", shift2[] = "QWERTYUIOP{}",
                      shift3[] = "ASDFGHJKL:\"~", shift4[] = "|ZXCVBNM<>?";
    const struct { const char *keys; uint8_t first; } rows[] = {
        {row1, 0x02}, {row2, 0x10}, {row3, 0x1E}, {row4, 0x2B},
        {shift1, 0x02}, {shift2, 0x10}, {shift3, 0x1E}, {shift4, 0x2B},
    };
    switch (c) {
    case '\r': case '\n': return 0x1C0D;
    case 0x1B: return 0x011B;
    case '\b': case 0x7F: return 0x0E08;
    case '\t': return 0x0F09;
    case ' ': return 0x3920;
    }
    for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
        const char *k = strchr(rows[r].keys, c);
        if (c && k)
            return (uint16_t)((rows[r].first + (k - rows[r].keys)) << 8 | c);
    }
    if (c >= 1 && c <= 26)   /* Ctrl-letter: the letter's scan code */
        return (uint16_t)((key_for_ascii((uint8_t)('a' + c - 1)) & 0xFF00) | c);
    return c;
}

/* The BDA keyboard buffer: a ring of words between BDA_KBD_START and BDA_KBD_END. */
static bool kbd_peek(Bios *b, uint16_t *key)
{
    uint16_t head = bda_r16(b, BDA_KBD_HEAD), tail = bda_r16(b, BDA_KBD_TAIL);
    if (head == tail)
        return false;
    *key = bda_r16(b, 0x400 + head);
    return true;
}

static void kbd_pop(Bios *b)
{
    uint16_t head = bda_r16(b, BDA_KBD_HEAD), start = bda_r16(b, BDA_KBD_START),
             end = bda_r16(b, BDA_KBD_END);
    head += 2;
    if (head >= end || head < start)
        head = start;
    bda_w16(b, BDA_KBD_HEAD, head);
}

static void kbd_push(Bios *b, uint16_t key)
{
    uint16_t tail = bda_r16(b, BDA_KBD_TAIL), head = bda_r16(b, BDA_KBD_HEAD),
             start = bda_r16(b, BDA_KBD_START), end = bda_r16(b, BDA_KBD_END);
    if (start < 0x1E || end > 0x3E || start >= end)   /* the guest moved it: reset */
        start = 0x1E, end = 0x3E;
    uint16_t next = (uint16_t)(tail + 2);
    if (next >= end || next < start)
        next = start;
    if (next == head)
        return;   /* full: the key is lost, as on a PC */
    bda_w16(b, 0x400 + (tail >= start && tail < end ? tail : start), key);
    bda_w16(b, BDA_KBD_TAIL, next);
}

static void push_key_events(Bios *b, const KeyEvent *ev, int n)
{
    for (int i = 0; i < n; i++) {
        uint16_t key = ev[i].set2 ? keyseq_bios_key(&ev[i]) : key_for_ascii(ev[i].byte);
        if (key)
            kbd_push(b, key);
    }
}

/* Moves a key from COM1's receiver into the keyboard buffer, if one waits. A terminal's
 * sequence for a key without ASCII (ESC [ A: Up) becomes that key's keystroke, as a
 * serial-console option ROM reads it; a terminal writes a sequence at once, so a receiver
 * that runs dry in the middle of one held a lone ESC (or a sequence cut short). */
static void poll_serial_keys(Bios *b)
{
    SerialPort *sp = b->svm->serial;
    KeyEvent ev[KEYSEQ_MAX];
    for (;;) {
        uint32_t lsr = 0, byte = 0;
        if (serial_io_read(sp->base + 5, 1, &lsr, sp) < 0 || !(lsr & 0x01) ||
            serial_io_read(sp->base, 1, &byte, sp) < 0)
            break;
        int n = keyseq_feed(&b->com1_keys, (uint8_t)byte, ev);
        if (n) {
            push_key_events(b, ev, n);
            return;
        }
    }
    push_key_events(b, ev, keyseq_flush(&b->com1_keys, ev));
}

static BiosResult int16(Bios *b, Frame *f)
{
    uint16_t key;
    switch (f->ah) {
    case 0x00:
    case 0x10:   /* read, waiting */
        if (!kbd_peek(b, &key))
            poll_serial_keys(b);
        if (!kbd_peek(b, &key))
            return BIOS_RETRY;
        kbd_pop(b);
        set16(f, F_EAX, key);
        return BIOS_DONE;
    case 0x01:
    case 0x11:   /* peek: ZF=1 when no key */
        if (!kbd_peek(b, &key))
            poll_serial_keys(b);
        if (kbd_peek(b, &key)) {
            set16(f, F_EAX, key);
            set_flag(f, FLAG_ZF, false);
        } else {
            set_flag(f, FLAG_ZF, true);
        }
        return BIOS_DONE;
    case 0x02:
        set_lo(f, F_EAX, bda_r8(b, BDA_KBD_FLAGS));
        return BIOS_DONE;
    case 0x05: {   /* store CX as a key: AL 0, or 1 when the buffer is full */
        uint16_t tail = bda_r16(b, BDA_KBD_TAIL);
        kbd_push(b, get16(f, F_ECX));
        set_lo(f, F_EAX, bda_r16(b, BDA_KBD_TAIL) == tail);
        return BIOS_DONE;
    }
    default:
        return BIOS_UNSUPPORTED;
    }
}

/* ---- int 1Ah: time ---- */

static uint8_t bcd(int v) { return (uint8_t)((v / 10) << 4 | (v % 10)); }

/* Until IRQ 0 ticks, the count follows the host clock. */
static void update_ticks(Bios *b)
{
    if (bda_r8(b, BDA_PIT_SEEN))
        return;
    uint64_t elapsed = (now_ns() - b->start_ns) * PIT_HZ / 65536 / 1000000000ull;
    int64_t t = (int64_t)b->ticks_at_start + (int64_t)elapsed + b->tick_adjust;
    if (t < 0)
        t = 0;
    uint32_t ticks = (uint32_t)((uint64_t)t % TICKS_PER_DAY);
    if (ticks < bda_r32(b, BDA_TICKS))
        bda_w8(b, BDA_MIDNIGHT, 1);
    bda_w32(b, BDA_TICKS, ticks);
}

static BiosResult int1a(Bios *b, Frame *f)
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    switch (f->ah) {
    case 0x00: {   /* ticks since midnight in CX:DX, AL midnight passed */
        uint32_t t = bda_r32(b, BDA_TICKS);
        set16(f, F_ECX, (uint16_t)(t >> 16));
        set16(f, F_EDX, (uint16_t)t);
        set_lo(f, F_EAX, bda_r8(b, BDA_MIDNIGHT));
        bda_w8(b, BDA_MIDNIGHT, 0);
        ok(f);
        return BIOS_DONE;
    }
    case 0x01: {   /* set ticks */
        uint32_t want = (uint32_t)get16(f, F_ECX) << 16 | get16(f, F_EDX);
        b->tick_adjust += (int64_t)want - (int64_t)bda_r32(b, BDA_TICKS);
        bda_w32(b, BDA_TICKS, want);
        ok(f);
        return BIOS_DONE;
    }
    case 0x02:   /* RTC time: CH hours, CL minutes, DH seconds (BCD), DL DST */
        set_hi(f, F_ECX, bcd(tm.tm_hour));
        set_lo(f, F_ECX, bcd(tm.tm_min));
        set_hi(f, F_EDX, bcd(tm.tm_sec));
        set_lo(f, F_EDX, tm.tm_isdst > 0);
        ok(f);
        return BIOS_DONE;
    case 0x04:   /* RTC date: CH century, CL year, DH month, DL day (BCD) */
        set_hi(f, F_ECX, bcd((tm.tm_year + 1900) / 100));
        set_lo(f, F_ECX, bcd(tm.tm_year % 100));
        set_hi(f, F_EDX, bcd(tm.tm_mon + 1));
        set_lo(f, F_EDX, bcd(tm.tm_mday));
        ok(f);
        return BIOS_DONE;
    default:
        return BIOS_UNSUPPORTED;
    }
}

/* ---- int 19h: boot ---- */

static void boot_message(Bios *b, const char *msg)
{
    for (const char *p = msg; *p; p++)
        teletype(b, (uint8_t)*p, 0x07);
    hv_log(HV_LOG_WARN, "bios: %s", msg);
}

static BiosResult int19(Bios *b, Frame *f)
{
    for (const char *o = b->boot_order; *o; o++) {
        int idx = *o == 'a' ? 0 : *o == 'c' ? 2 : CD_INDEX;
        if (!b->disk[idx])
            continue;
        if (idx == CD_INDEX) {
            if (cd_boot(b, f))
                return BIOS_DONE;
            continue;
        }
        uint8_t *dst = vm_guest_ram(b->svm, BOOT_ADDR, 512);
        if (!dst || block_read(b->disk[idx], 0, dst, 512) < 0) {
            hv_log(HV_LOG_WARN, "bios: boot sector of drive %c unreadable", *o);
            continue;
        }
        if (dst[510] != 0x55 || dst[511] != 0xAA) {
            hv_log(HV_LOG_WARN, "bios: drive %c: no boot signature (55 aa)", *o);
            continue;
        }
        /* IRET goes to 0000:7C00 with DL the boot drive, interrupts on. */
        set16(f, F_IP, BOOT_ADDR);
        set16(f, F_CS, 0);
        set16(f, F_FLAGS, 0x0202);
        set_lo(f, F_EDX, idx == 0 ? BIOS_DRIVE_FLOPPY0 : BIOS_DRIVE_HD0);
        set_hi(f, F_EDX, 0);
        set16(f, F_DS, 0);
        set16(f, F_ES, 0);
        return BIOS_DONE;
    }
    boot_message(b, "No bootable device.\r\n");
    set16(f, F_CS, BIOS_SEGMENT);
    set16(f, F_IP, b->halt);
    return BIOS_DONE;
}

/* ---- POST ---- */

int vm_bios_post(SimpleVM *svm)
{
    Bios *b = svm ? svm->bios : NULL;
    if (!b)
        return hv_fail(EINVAL, "vm_bios_post: no BIOS installed");
    uint8_t *ivt = vm_guest_ram(svm, 0, 0x500);
    if (!ivt)
        return hv_fail(EFBIG, "the BIOS needs RAM at 0-0x4FF");
    memset(ivt, 0, 0x500);
    for (int v = 0; v < 256; v++) {
        uint16_t off = (uint16_t)(b->stubs + 8 * v);
        if (v == 0x08)
            off = b->irq0;
        else if (v == 0x1C)
            off = b->iret_only;
        else if (v == 0x1E)
            off = b->diskette_params;
        ivt[v * 4] = (uint8_t)off;
        ivt[v * 4 + 1] = (uint8_t)(off >> 8);
        ivt[v * 4 + 2] = (uint8_t)BIOS_SEGMENT;
        ivt[v * 4 + 3] = (uint8_t)(BIOS_SEGMENT >> 8);
    }
    bda_w16(b, BDA_COM1, COM1_BASE);
    int floppies = (b->disk[0] != NULL) + (b->disk[1] != NULL);
    int serial_ports = 1;
    if (svm->serial2) {
        bda_w16(b, BDA_COM1 + 2, COM2_BASE);
        serial_ports = 2;
    }
    /* Equipment: floppies present (bit 0) and count - 1 (bits 6-7), 80x25 colour (bits 4-5
     * = 10b; 00b: EGA/VGA or none, so for -vga none), serial ports (bits 9-11). */
    uint16_t video = svm->vga ? 0x0020 : 0;
    uint16_t equipment = (uint16_t)(video | (unsigned)serial_ports << 9 |
                                    (floppies ? 1u | (uint16_t)(floppies - 1) << 6 : 0));
    bda_w16(b, BDA_EQUIPMENT, equipment);
    bda_w16(b, BDA_MEMORY_KB, svm->ram_size >= 0xA0000 ? BASE_MEMORY_KB
                                                        : (uint16_t)(svm->ram_size / 1024));
    bda_w16(b, BDA_EBDA_SEG, EBDA_SEGMENT);
    bda_w16(b, BDA_KBD_HEAD, 0x1E);
    bda_w16(b, BDA_KBD_TAIL, 0x1E);
    bda_w16(b, BDA_KBD_START, 0x1E);
    bda_w16(b, BDA_KBD_END, 0x3E);
    bda_w8(b, BDA_HD_COUNT, (uint8_t)((b->disk[2] != NULL) + (b->disk[3] != NULL)));
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    b->start_ns = now_ns();
    b->ticks_at_start = (uint32_t)((uint64_t)(tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec) *
                                   PIT_HZ / 65536);
    b->tick_adjust = 0;
    update_ticks(b);
    set_text_mode_bda(b, MODE_TEXT);
    set_cursor(b, 0, 0);
    return 0;
}

/* ---- the call port ---- */

static void count_unsupported(Bios *b, Frame *f)
{
    b->unsupported++;
    if (f->vector < 256)
        b->unsupported_count[f->vector][f->ah]++;
    fail_ah(f, 0x86);
}

/* CPU exceptions 0-7 have no handler in a PC BIOS: say so once and stop the guest there
 * (IRET would re-run the faulting instruction forever). */
static void unhandled_exception(Bios *b, Frame *f)
{
    if (!b->warned_exception)
        hv_log(HV_LOG_WARN, "bios: CPU exception %u at %04x:%04x, which the guest does not "
               "handle: halted", f->vector, get16(f, F_CS), get16(f, F_IP));
    b->warned_exception = true;
    set16(f, F_CS, BIOS_SEGMENT);
    set16(f, F_IP, b->halt);
    set16(f, F_FLAGS, get16(f, F_FLAGS) & ~0x0200);
}

static BiosResult dispatch(Bios *b, Frame *f)
{
    IoBus *bus = b->svm->io_bus;
    switch (f->vector) {
    case VECTOR_POST:
        vm_bios_post(b->svm);
        return BIOS_DONE;
    case 0x10: return int10(b, f);
    case 0x11:
        set16(f, F_EAX, bda_r16(b, BDA_EQUIPMENT));
        return BIOS_DONE;
    case 0x12:
        set16(f, F_EAX, bda_r16(b, BDA_MEMORY_KB));
        return BIOS_DONE;
    case 0x13: return int13(b, f);
    case 0x15: return int15(b, f);
    case 0x16: return int16(b, f);
    case 0x19: return int19(b, f);
    case 0x1A: return int1a(b, f);
    case 0x09: {   /* IRQ 1: a byte from the i8042 becomes a key */
        uint32_t status = 0xFF, code = 0;
        io_bus_in(bus, I8042_STATUS, 1, &status);
        if (status != 0xFF && (status & I8042_OBF) && io_bus_in(bus, I8042_DATA, 1, &code) == 0 &&
            !(code & 0x80)) {
            static const char set1[] = "\0\0331234567890-=\b\tqwertyuiop[]\r\0asdfghjkl;'`\0\\zxcvbnm,./";
            uint8_t ascii = code < sizeof(set1) - 1 ? (uint8_t)set1[code] : 0;
            kbd_push(b, (uint16_t)(code << 8 | ascii));
        }
        io_bus_out(bus, PIC1_CMD, 1, PIC_EOI);
        return BIOS_DONE;
    }
    default:
        break;
    }
    if (f->vector < 0x08 && f->vector != 0x05 && f->vector != 0x03 && f->vector != 0x04) {
        unhandled_exception(b, f);
        return BIOS_DONE;
    }
    if ((f->vector >= 0x08 && f->vector <= 0x0F) || (f->vector >= 0x70 && f->vector <= 0x77)) {
        if (f->vector >= 0x70)
            io_bus_out(bus, PIC2_CMD, 1, PIC_EOI);
        io_bus_out(bus, PIC1_CMD, 1, PIC_EOI);   /* an IRQ nobody handles: acknowledged */
        return BIOS_DONE;
    }
    return BIOS_UNSUPPORTED;
}

static int bios_call(uint16_t port, uint8_t size, uint32_t value, void *opaque)
{
    (void)port;
    Bios *b = opaque;
    if (size != 4)
        return 0;
    /* The frame is SS:SP after the stub's pushes: a stack that wrapped at SS:0000 leaves
     * it split between the top and the bottom of the segment, not at linear + 48. */
    uint16_t seg = (uint16_t)(value >> 16), off = (uint16_t)value;
    uint8_t *p = real_ptr(b, seg, off, FRAME_SIZE);
    if (!p) {
        hv_log(HV_LOG_WARN, "bios: call frame at %04x:%04x is not in RAM or crosses the end "
               "of its segment: ignored", seg, off);
        return 0;
    }
    Frame f = {.p = p};
    f.vector = get16(&f, F_VECTOR) & (uint16_t)~VECTOR_RETRY;
    f.ah = hi(&f, F_EAX);
    update_ticks(b);
    uint16_t ax_in = get16(&f, F_EAX);
    BiosResult r = dispatch(b, &f);
    if (r == BIOS_RETRY) {
        set16(&f, F_VECTOR, f.vector | VECTOR_RETRY);
        usleep(1000);   /* nothing to give yet: do not spin the host CPU */
        return 0;
    }
    b->calls++;
    if (r == BIOS_UNSUPPORTED)
        count_unsupported(b, &f);
    if (b->trace && f.vector != 0x08 && f.vector != VECTOR_POST)
        fprintf(b->trace, "bios int %02xh ax=%04x -> ax=%04x cf=%d%s\n", f.vector, ax_in,
                get16(&f, F_EAX), get16(&f, F_FLAGS) & FLAG_CF,
                r == BIOS_UNSUPPORTED ? " unsupported" : "");
    return 0;
}

/* ---- setup ---- */

/* The firmware's hand-off to a -kernel boot, as QEMU's (SeaBIOS runs before its -kernel
 * loader): POST's IVT and BDA, the 8259A pair initialised as a PC BIOS does (ICW1 edge
 * and ICW4, vectors 08h and 70h, cascade on IR2, 8086 mode; only IRQ0 and the cascade
 * unmasked) and the 8254's channel 0 ticking at 18.2 Hz (mode 2, count 65536) for the
 * BIOS's int 08h. Programmed through the VM's own ports, so with the kernel irqchip (whose
 * PIC and PIT are KVM's) only the IVT and BDA are set. */
int vm_bios_kernel_handoff(SimpleVM *svm)
{
    int r = vm_bios_install(svm);
    if (r < 0 || (r = vm_bios_post(svm)) < 0)
        return r;
    static const struct { uint16_t port; uint8_t value; } init[] = {
        {0x20, 0x11}, {0xA0, 0x11},   /* ICW1: edge, cascade, ICW4 follows */
        {0x21, 0x08}, {0xA1, 0x70},   /* ICW2: vector bases */
        {0x21, 0x04}, {0xA1, 0x02},   /* ICW3: the slave on IR2 */
        {0x21, 0x01}, {0xA1, 0x01},   /* ICW4: 8086 mode */
        {0x21, 0xFA}, {0xA1, 0xFF},   /* OCW1: IRQ0 and the cascade open */
        {0x43, 0x34}, {0x40, 0x00}, {0x40, 0x00},   /* 8254 ch. 0: lo/hi, mode 2, 65536 */
    };
    for (size_t i = 0; i < sizeof(init) / sizeof(init[0]); i++)
        io_bus_out(svm->io_bus, init[i].port, 1, init[i].value);
    return 0;
}

int vm_bios_install(SimpleVM *svm)
{
    if (!svm)
        return hv_fail(EINVAL, "vm_bios_install: no VM");
    if (svm->bios)
        return hv_fail(EBUSY, "the BIOS is already installed");
    const uint8_t *img = scratchvm_bios_image;
    if (scratchvm_bios_image_size != 0x10000 || memcmp(img, BIOS_MAGIC, 8) != 0)
        return hv_fail(EINVAL, "the built-in BIOS image is malformed");
    if (svm->ram_size < 0x8000)
        return hv_fail(EFBIG, "the BIOS needs at least 32 KiB of RAM");
    Bios *b = calloc(1, sizeof(*b));
    if (!b)
        return hv_fail(ENOMEM, "out of memory");
    b->svm = svm;
    uint16_t *fields[] = {&b->stubs, &b->config_table, &b->diskette_params, &b->irq0,
                          &b->iret_only, &b->halt};
    for (int i = 0; i < 6; i++)
        *fields[i] = (uint16_t)(img[8 + 2 * i] | img[9 + 2 * i] << 8);
    snprintf(b->boot_order, sizeof(b->boot_order), "acd");
    b->mode = MODE_TEXT;
    const IoPortHandler port = {.base = BIOS_CALL_PORT, .length = 4, .write = bios_call,
                                .opaque = b, .name = "bios-call"};
    int r = io_bus_register(svm->io_bus, &port);
    if (r < 0) {
        free(b);
        return hv_fail(r, "cannot register the BIOS call port 0x%x", BIOS_CALL_PORT);
    }
    svm->bios = b;
    if ((r = vm_load_rom(svm, img, scratchvm_bios_image_size)) < 0)
        return r;
    return 0;
}

int vm_bios_check_disk(const BlockDev *bd)
{
    if (bd && bd->size < 512)
        return hv_fail(EINVAL, "a disk of %" PRIu64 " bytes has no sector", bd->size);
    return 0;
}

int vm_bios_attach_disk(SimpleVM *svm, uint8_t drive, BlockDev *bd)
{
    Bios *b = svm ? svm->bios : NULL;
    int idx = drive_index(drive);
    if (!b || idx < 0 || !bd)
        return hv_fail(EINVAL, "vm_bios_attach_disk: bad arguments (drive 0x%x)", drive);
    if (b->disk[idx])
        return hv_fail(EEXIST, "BIOS drive 0x%02x already has a disk", drive);
    int r = vm_bios_check_disk(bd);
    if (r < 0)
        return r;
    b->disk[idx] = bd;
    if (idx != CD_INDEX)
        b->geom[idx] = geometry_for(idx, bd->size);
    return 0;
}

int vm_bios_set_boot_order(SimpleVM *svm, const char *order)
{
    Bios *b = svm ? svm->bios : NULL;
    if (!b || !order || !*order || strlen(order) >= sizeof(b->boot_order) ||
        strspn(order, "acd") != strlen(order))
        return hv_fail(EINVAL, "boot order '%s': letters a (floppy), c (disk) and d (CD-ROM)",
                       order ? order : "");
    snprintf(b->boot_order, sizeof(b->boot_order), "%s", order);
    return 0;
}

void vm_bios_set_trace(SimpleVM *svm, FILE *out)
{
    if (svm && svm->bios)
        svm->bios->trace = out;
}

uint64_t vm_bios_calls(const SimpleVM *svm) { return svm && svm->bios ? svm->bios->calls : 0; }
uint64_t vm_bios_unsupported(const SimpleVM *svm)
{
    return svm && svm->bios ? svm->bios->unsupported : 0;
}

void vm_bios_print_unsupported(const SimpleVM *svm, FILE *out)
{
    const Bios *b = svm ? svm->bios : NULL;
    if (!b)
        return;
    fprintf(out, "bios: %" PRIu64 " calls, %" PRIu64 " unsupported\n", b->calls, b->unsupported);
    for (int v = 0; v < 256; v++)
        for (int ah = 0; ah < 256; ah++)
            if (b->unsupported_count[v][ah])
                fprintf(out, "bios: unsupported int %02xh ah=%02xh: %u\n", v, ah,
                        b->unsupported_count[v][ah]);
}

void vm_bios_destroy(Bios *b)
{
    if (!b)
        return;
    for (int i = 0; i < NUM_DRIVES; i++)   /* drive 00h (a view of the CD) goes first */
        block_close(b->disk[i]);
    block_close(b->floppy_saved);
    free(b);
}
