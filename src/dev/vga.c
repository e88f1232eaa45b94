/*
 * VGA text mode: the 32 KiB text buffer at 0xB8000 (80x25 cells of character and
 * attribute bytes, little-endian words), the CRT controller's index/data ports (for the
 * cursor) and input status register 1 (for retrace polling).
 *
 * Rendering converts code page 437 (the VGA character ROM's set) to UTF-8, so a guest's
 * box drawing and smileys look right in a terminal or a test's string compare.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dev/dev_io.h"
#include "hv/hv_log.h"

#define VGA_CRTC_REGS 25
#define VGA_INPUT_STATUS_1 0x3DA   /* color mode; read only (writes: feature control) */

/* CRT controller register indexes (IBM VGA technical reference). */
#define VGA_CRTC_VERT_RETRACE_END 0x11
#define VGA_CRTC_CURSOR_START 0x0A
#define VGA_CRTC_CURSOR_END 0x0B
#define VGA_CRTC_START_ADDR_HIGH 0x0C
#define VGA_CRTC_START_ADDR_LOW 0x0D
#define VGA_CRTC_CURSOR_LOC_HIGH 0x0E
#define VGA_CRTC_CURSOR_LOC_LOW 0x0F

/* Vertical Retrace End bit 7: registers 0-7 are write protected. */
#define VGA_CRTC_PROTECT 0x80

/* Input status 1: bit 0 display disabled (in a retrace), bit 3 vertical retrace. */
#define VGA_IS1_DISPLAY_DISABLED 0x01
#define VGA_IS1_VERT_RETRACE 0x08

/* Code page 437 → Unicode. 0x00-0x1F and 0x7F are the character ROM's glyphs (smileys,
 * card suits, arrows, ⌂), not control codes; 0x00 is blank. */
static const uint16_t cp437_to_unicode[256] = {
    /*0x00*/ 0x0020, 0x263A, 0x263B, 0x2665, 0x2666, 0x2663, 0x2660, 0x2022,
    /*0x08*/ 0x25D8, 0x25CB, 0x25D9, 0x2642, 0x2640, 0x266A, 0x266B, 0x263C,
    /*0x10*/ 0x25BA, 0x25C4, 0x2195, 0x203C, 0x00B6, 0x00A7, 0x25AC, 0x21A8,
    /*0x18*/ 0x2191, 0x2193, 0x2192, 0x2190, 0x221F, 0x2194, 0x25B2, 0x25BC,
    /*0x20*/ 0x0020, 0x0021, 0x0022, 0x0023, 0x0024, 0x0025, 0x0026, 0x0027,
    /*0x28*/ 0x0028, 0x0029, 0x002A, 0x002B, 0x002C, 0x002D, 0x002E, 0x002F,
    /*0x30*/ 0x0030, 0x0031, 0x0032, 0x0033, 0x0034, 0x0035, 0x0036, 0x0037,
    /*0x38*/ 0x0038, 0x0039, 0x003A, 0x003B, 0x003C, 0x003D, 0x003E, 0x003F,
    /*0x40*/ 0x0040, 0x0041, 0x0042, 0x0043, 0x0044, 0x0045, 0x0046, 0x0047,
    /*0x48*/ 0x0048, 0x0049, 0x004A, 0x004B, 0x004C, 0x004D, 0x004E, 0x004F,
    /*0x50*/ 0x0050, 0x0051, 0x0052, 0x0053, 0x0054, 0x0055, 0x0056, 0x0057,
    /*0x58*/ 0x0058, 0x0059, 0x005A, 0x005B, 0x005C, 0x005D, 0x005E, 0x005F,
    /*0x60*/ 0x0060, 0x0061, 0x0062, 0x0063, 0x0064, 0x0065, 0x0066, 0x0067,
    /*0x68*/ 0x0068, 0x0069, 0x006A, 0x006B, 0x006C, 0x006D, 0x006E, 0x006F,
    /*0x70*/ 0x0070, 0x0071, 0x0072, 0x0073, 0x0074, 0x0075, 0x0076, 0x0077,
    /*0x78*/ 0x0078, 0x0079, 0x007A, 0x007B, 0x007C, 0x007D, 0x007E, 0x2302,
    /*0x80*/ 0x00C7, 0x00FC, 0x00E9, 0x00E2, 0x00E4, 0x00E0, 0x00E5, 0x00E7,
    /*0x88*/ 0x00EA, 0x00EB, 0x00E8, 0x00EF, 0x00EE, 0x00EC, 0x00C4, 0x00C5,
    /*0x90*/ 0x00C9, 0x00E6, 0x00C6, 0x00F4, 0x00F6, 0x00F2, 0x00FB, 0x00F9,
    /*0x98*/ 0x00FF, 0x00D6, 0x00DC, 0x00A2, 0x00A3, 0x00A5, 0x20A7, 0x0192,
    /*0xA0*/ 0x00E1, 0x00ED, 0x00F3, 0x00FA, 0x00F1, 0x00D1, 0x00AA, 0x00BA,
    /*0xA8*/ 0x00BF, 0x2310, 0x00AC, 0x00BD, 0x00BC, 0x00A1, 0x00AB, 0x00BB,
    /*0xB0*/ 0x2591, 0x2592, 0x2593, 0x2502, 0x2524, 0x2561, 0x2562, 0x2556,
    /*0xB8*/ 0x2555, 0x2563, 0x2551, 0x2557, 0x255D, 0x255C, 0x255B, 0x2510,
    /*0xC0*/ 0x2514, 0x2534, 0x252C, 0x251C, 0x2500, 0x253C, 0x255E, 0x255F,
    /*0xC8*/ 0x255A, 0x2554, 0x2569, 0x2566, 0x2560, 0x2550, 0x256C, 0x2567,
    /*0xD0*/ 0x2568, 0x2564, 0x2565, 0x2559, 0x2558, 0x2552, 0x2553, 0x256B,
    /*0xD8*/ 0x256A, 0x2518, 0x250C, 0x2588, 0x2584, 0x258C, 0x2590, 0x2580,
    /*0xE0*/ 0x03B1, 0x00DF, 0x0393, 0x03C0, 0x03A3, 0x03C3, 0x00B5, 0x03C4,
    /*0xE8*/ 0x03A6, 0x0398, 0x03A9, 0x03B4, 0x221E, 0x03C6, 0x03B5, 0x2229,
    /*0xF0*/ 0x2261, 0x00B1, 0x2265, 0x2264, 0x2320, 0x2321, 0x00F7, 0x2248,
    /*0xF8*/ 0x00B0, 0x2219, 0x00B7, 0x221A, 0x207F, 0x00B2, 0x25A0, 0x00A0,
};

uint16_t vga_cp437_unicode(uint8_t c) { return cp437_to_unicode[c]; }

/* UTF-8 encoding of a BMP code point (every CP437 character is one); returns 1-3. */
static size_t utf8_encode(uint16_t cp, char out[3])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
}

/* A cleared screen, as a BIOS leaves it: blanks in light grey on black (attribute 07). */
VgaDevice *vga_create(void)
{
    VgaDevice *vga = calloc(1, sizeof(*vga));
    if (!vga)
        goto fail;
    vga->vram = malloc(VGA_TEXT_SIZE);
    vga->graphics = calloc(1, VGA_GRAPHICS_SIZE);
    if (!vga->vram || !vga->graphics)
        goto fail_vga;
    for (size_t i = 0; i < VGA_TEXT_SIZE; i += 2) {
        vga->vram[i] = ' ';
        vga->vram[i + 1] = 0x07;
    }
    /* Cursor shape of the 8x16 font, rows 14-15, as the BIOS sets for mode 3. */
    vga->crtc[VGA_CRTC_CURSOR_START] = 0x0E;
    vga->crtc[VGA_CRTC_CURSOR_END] = 0x0F;
    return vga;

fail_vga:
    free(vga->vram);
    free(vga->graphics);
    free(vga);
fail:
    hv_fail(ENOMEM, "vga: out of memory");
    return NULL;
}

void vga_destroy(VgaDevice *vga)
{
    if (!vga)
        return;
    free(vga->vram);
    free(vga->graphics);
    free(vga);
}

int vga_graphics_mmio_read(uint64_t addr, uint8_t size, uint64_t *value, void *opaque)
{
    VgaDevice *vga = opaque;
    return dev_memory_read(vga->graphics, VGA_GRAPHICS_BASE, VGA_GRAPHICS_SIZE, addr, size, value);
}

int vga_graphics_mmio_write(uint64_t addr, uint8_t size, uint64_t value, void *opaque)
{
    VgaDevice *vga = opaque;
    return dev_memory_write(vga->graphics, VGA_GRAPHICS_BASE, VGA_GRAPHICS_SIZE, addr, size,
                            value);
}

void vga_clear_graphics(VgaDevice *vga)
{
    memset(vga->graphics, 0, VGA_GRAPHICS_SIZE);
}

static bool vga_mmio_size_ok(uint8_t size)
{
    return size == 1 || size == 2 || size == 4 || size == 8;
}

/* MMIO read handler: `size` bytes at `addr`, little-endian. Bytes outside the text
 * window read as 0xFF (nothing answers there), so the read never leaves vram. Returns 0
 * or -EINVAL. */
int vga_mmio_read(uint64_t addr, uint8_t size, uint64_t *value, void *opaque)
{
    VgaDevice *vga = opaque;
    if (!vga || !value || !vga_mmio_size_ok(size))
        return -EINVAL;
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++) {
        /* Unsigned wrap-around makes addresses below the window huge offsets. */
        uint64_t off = addr - VGA_TEXT_BASE + i;
        uint64_t b = off < VGA_TEXT_SIZE ? vga->vram[off] : 0xFF;
        v |= b << (8 * i);
    }
    *value = v;
    return 0;
}

/* MMIO write handler: `size` bytes at `addr`, little-endian; bytes outside the window
 * are dropped. Sets `written`. Returns 0 or -EINVAL. */
int vga_mmio_write(uint64_t addr, uint8_t size, uint64_t value, void *opaque)
{
    VgaDevice *vga = opaque;
    if (!vga || !vga_mmio_size_ok(size))
        return -EINVAL;
    for (unsigned i = 0; i < size; i++) {
        uint64_t off = addr - VGA_TEXT_BASE + i;
        if (off < VGA_TEXT_SIZE)
            vga->vram[off] = (uint8_t)(value >> (8 * i));
    }
    vga->written = true;
    return 0;
}

static void vga_update_cursor(VgaDevice *vga)
{
    unsigned loc = ((unsigned)vga->crtc[VGA_CRTC_CURSOR_LOC_HIGH] << 8) |
                   vga->crtc[VGA_CRTC_CURSOR_LOC_LOW];
    vga->cursor_x = (int)(loc % VGA_COLS);
    vga->cursor_y = (int)(loc / VGA_COLS);
}

static uint8_t vga_read_port(VgaDevice *vga, uint32_t port)
{
    switch (port) {
    case VGA_CRTC_INDEX:
        return vga->crtc_index;
    case VGA_CRTC_DATA:
        return vga->crtc_index < VGA_CRTC_REGS ? vga->crtc[vga->crtc_index] : 0xFF;
    case VGA_INPUT_STATUS_1:
        /* Each read flips between "in retrace" and "displaying", so loops that wait for
         * a retrace to start, or to end, both finish. */
        vga->input_status1 ^= VGA_IS1_DISPLAY_DISABLED | VGA_IS1_VERT_RETRACE;
        return vga->input_status1;
    default:
        return 0xFF;
    }
}

static void vga_write_port(VgaDevice *vga, uint32_t port, uint8_t value)
{
    switch (port) {
    case VGA_CRTC_INDEX:
        vga->crtc_index = value;
        break;
    case VGA_CRTC_DATA: {
        uint8_t index = vga->crtc_index;
        if (index >= VGA_CRTC_REGS)
            break;
        if (index <= 7 && (vga->crtc[VGA_CRTC_VERT_RETRACE_END] & VGA_CRTC_PROTECT))
            break;
        vga->crtc[index] = value;
        if (index == VGA_CRTC_CURSOR_LOC_HIGH || index == VGA_CRTC_CURSOR_LOC_LOW)
            vga_update_cursor(vga);
        break;
    }
    default:   /* 0x3DA writes (feature control) and other ports: nothing to do */
        break;
    }
}

static bool vga_io_size_ok(uint8_t size) { return size == 1 || size == 2 || size == 4; }

/* Port read handler for 0x3D4-0x3D5 and 0x3DA. A wider access is byte accesses at
 * consecutive ports, little-endian (an 8-bit ISA register file). Returns 0 or -EINVAL. */
int vga_io_read(uint16_t port, uint8_t size, uint32_t *value, void *opaque)
{
    VgaDevice *vga = opaque;
    if (!vga || !value || !vga_io_size_ok(size))
        return -EINVAL;
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint32_t)vga_read_port(vga, (uint32_t)port + i) << (8 * i);
    *value = v;
    return 0;
}

/* Port write handler; byte-split like vga_io_read, so `out %ax, %dx` at 0x3D4 writes the
 * index (AL) and then the data (AH). Returns 0 or -EINVAL. */
int vga_io_write(uint16_t port, uint8_t size, uint32_t value, void *opaque)
{
    VgaDevice *vga = opaque;
    if (!vga || !vga_io_size_ok(size))
        return -EINVAL;
    for (unsigned i = 0; i < size; i++)
        vga_write_port(vga, (uint32_t)port + i, (uint8_t)(value >> (8 * i)));
    return 0;
}

/* Row `row` as UTF-8 into buf (NUL-terminated, trailing blanks cut; 0x00 cells count as
 * blanks). A character that would not fit ends the row early rather than being cut in
 * half. Returns the length, 0 for a bad row or buffer. */
size_t vga_render_row(const VgaDevice *vga, int row, char *buf, size_t size)
{
    if (!buf || size == 0)
        return 0;
    buf[0] = '\0';
    if (!vga || row < 0 || row >= VGA_ROWS)
        return 0;
    const uint8_t *cells = vga->vram + (size_t)row * VGA_COLS * 2;
    int last = VGA_COLS - 1;   /* trim: blanks are 0x20 and 0x00, both shown as space */
    while (last >= 0 && cp437_to_unicode[cells[last * 2]] == 0x0020)
        last--;
    size_t len = 0;
    for (int col = 0; col <= last; col++) {
        char enc[3];
        size_t n = utf8_encode(cp437_to_unicode[cells[col * 2]], enc);
        if (len + n >= size)
            break;
        memcpy(buf + len, enc, n);
        len += n;
    }
    buf[len] = '\0';
    return len;
}

/* Writes the 25 rows to `out`, one line each (rows that are blank give empty lines). */
void vga_display_to(VgaDevice *vga, FILE *out)
{
    if (!vga || !out)
        return;
    char line[VGA_ROW_UTF8_MAX];
    for (int row = 0; row < VGA_ROWS; row++) {
        size_t n = vga_render_row(vga, row, line, sizeof(line));
        fwrite(line, 1, n, out);
        fputc('\n', out);
    }
}

void vga_display(VgaDevice *vga) { vga_display_to(vga, stdout); }
