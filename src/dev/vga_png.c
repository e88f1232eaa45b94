/*
 * Pictures of the VGA text screen (the monitor's screendump).
 *
 * The glyphs come from a PSF console font read when a picture is taken (PSF 1 and 2, as
 * the Linux console and kbd define them, gzip-compressed or not): the default is Debian's
 * console-setup-linux VGA font. The font's Unicode table maps each code page 437 character
 * (vga_cp437_unicode) to its glyph; a font without a table is taken to be in CP437 order.
 * Reading it at run time keeps font data out of the repository and the build; a missing
 * font is a clear error of screendump only.
 *
 * Geometry and colours are VGA mode 3's: 9-dot character cells (the line-graphics
 * characters C0h-DFh extend their 8th column into the 9th, as the attribute controller's
 * LGE bit does by default), 16 scan lines, the default 16-colour palette; attribute bit 7
 * is shown as blinking characters are between blinks: lit (no blink state is kept).
 */
#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "hv/hv_log.h"

#define CELL_W 9
#define CELL_H_MAX 32
#define FONT_FILE_MAX (4u << 20)
#define PSF1_MAGIC0 0x36
#define PSF1_MAGIC1 0x04
#define PSF1_MODE512 0x01
#define PSF1_MODEHASTAB 0x02
#define PSF1_MODEHASSEQ 0x04
#define PSF1_SEPARATOR 0xFFFF
#define PSF1_STARTSEQ 0xFFFE
#define PSF2_MAGIC 0x864ab572u
#define PSF2_HAS_UNICODE_TABLE 0x01
#define PSF2_SEPARATOR 0xFF
#define PSF2_STARTSEQ 0xFE

/* The default VGA palette (the 16 text colours; DAC values scaled to 8 bits). */
static const uint8_t palette[16][3] = {
    {0x00, 0x00, 0x00}, {0x00, 0x00, 0xAA}, {0x00, 0xAA, 0x00}, {0x00, 0xAA, 0xAA},
    {0xAA, 0x00, 0x00}, {0xAA, 0x00, 0xAA}, {0xAA, 0x55, 0x00}, {0xAA, 0xAA, 0xAA},
    {0x55, 0x55, 0x55}, {0x55, 0x55, 0xFF}, {0x55, 0xFF, 0x55}, {0x55, 0xFF, 0xFF},
    {0xFF, 0x55, 0x55}, {0xFF, 0x55, 0xFF}, {0xFF, 0xFF, 0x55}, {0xFF, 0xFF, 0xFF},
};

typedef struct {
    uint8_t *data;           /* the whole file, decompressed */
    size_t size;
    const uint8_t *glyphs;
    unsigned count, height, bytes_per_glyph;
    int cp437[256];          /* glyph of each CP437 code, -1: none */
} PsfFont;

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The glyph for Unicode character u: fills font->cp437 for the codes that map to u. */
static void map_unicode(PsfFont *f, unsigned glyph, uint32_t u)
{
    for (int c = 0; c < 256; c++)
        if (f->cp437[c] < 0 && vga_cp437_unicode((uint8_t)c) == u)
            f->cp437[c] = (int)glyph;
}

/* UTF-8 decoding of one character at p (< end); its length, 0 when malformed. */
static size_t utf8_decode(const uint8_t *p, const uint8_t *end, uint32_t *u)
{
    unsigned n = p[0] < 0x80 ? 1 : (p[0] & 0xE0) == 0xC0 ? 2 : (p[0] & 0xF0) == 0xE0 ? 3
               : (p[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (n == 0 || (size_t)(end - p) < n)
        return 0;
    uint32_t v = n == 1 ? p[0] : p[0] & (0x7F >> n);
    for (unsigned i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        v = v << 6 | (p[i] & 0x3F);
    }
    *u = v;
    return n;
}

/* Parses the header, the glyphs and the Unicode table; every offset is checked against
 * the file's size (a font file is input like any other). */
static int psf_parse(PsfFont *f)
{
    const uint8_t *d = f->data;
    const uint8_t *end = d + f->size;
    const uint8_t *table = NULL;
    bool psf2 = false;
    unsigned width = 8;
    for (int c = 0; c < 256; c++)
        f->cp437[c] = -1;
    if (f->size >= 4 && d[0] == PSF1_MAGIC0 && d[1] == PSF1_MAGIC1) {
        f->count = d[2] & PSF1_MODE512 ? 512 : 256;
        f->height = f->bytes_per_glyph = d[3];
        f->glyphs = d + 4;
        if (d[2] & (PSF1_MODEHASTAB | PSF1_MODEHASSEQ))
            table = f->glyphs + (size_t)f->count * f->bytes_per_glyph;
    } else if (f->size >= 32 && le32(d) == PSF2_MAGIC) {
        uint32_t header = le32(d + 8), flags = le32(d + 12);
        f->count = le32(d + 16);
        f->bytes_per_glyph = le32(d + 20);
        f->height = le32(d + 24);
        width = le32(d + 28);
        if (header > f->size || f->count > 65536 || f->bytes_per_glyph > 4096)
            return hv_fail(EINVAL, "a PSF2 header out of range");
        f->glyphs = d + header;
        psf2 = true;
        if (flags & PSF2_HAS_UNICODE_TABLE)
            table = f->glyphs + (size_t)f->count * f->bytes_per_glyph;
    } else {
        return hv_fail(EINVAL, "not a PSF font");
    }
    if (width != 8 || f->height == 0 || f->height > CELL_H_MAX ||
        f->bytes_per_glyph < f->height)
        return hv_fail(EINVAL, "the font is %ux%u: screendump needs 8 pixels wide, at most "
                       "%u high", width, f->height, CELL_H_MAX);
    if ((size_t)(end - f->glyphs) < (size_t)f->count * f->bytes_per_glyph)
        return hv_fail(EINVAL, "the font file is truncated");
    if (!table) {   /* no table: the glyphs are in code page order */
        for (int c = 0; c < 256 && (unsigned)c < f->count; c++)
            f->cp437[c] = c;
        return 0;
    }
    const uint8_t *p = table;
    for (unsigned g = 0; g < f->count && p < end; g++) {
        bool seq = false;
        if (psf2) {
            while (p < end && *p != PSF2_SEPARATOR) {
                if (*p == PSF2_STARTSEQ) {
                    seq = true;   /* combining sequences: not single characters */
                    p++;
                    continue;
                }
                uint32_t u;
                size_t n = utf8_decode(p, end, &u);
                if (n == 0)
                    return hv_fail(EINVAL, "a malformed Unicode table");
                if (!seq)
                    map_unicode(f, g, u);
                p += n;
            }
            p++;
        } else {
            while (end - p >= 2) {
                unsigned u = p[0] | p[1] << 8;
                p += 2;
                if (u == PSF1_SEPARATOR)
                    break;
                if (u == PSF1_STARTSEQ)
                    seq = true;
                else if (!seq)
                    map_unicode(f, g, u);
            }
        }
    }
    return 0;
}

static int psf_load(PsfFont *f, const char *path)
{
    gzFile gz = gzopen(path, "rb");
    if (!gz)
        return hv_fail(errno ? errno : ENOENT, "cannot open the font %s: %s", path,
                       strerror(errno ? errno : ENOENT));
    size_t cap = 64 * 1024;
    f->data = malloc(cap);
    f->size = 0;
    int err = 0;
    while (f->data) {
        int n = gzread(gz, f->data + f->size, (unsigned)(cap - f->size));
        if (n < 0) {
            err = hv_fail(EIO, "cannot read the font %s", path);
            break;
        }
        if (n == 0)
            break;
        f->size += (size_t)n;
        if (f->size == cap) {
            if (cap >= FONT_FILE_MAX) {
                err = hv_fail(EFBIG, "the font %s is larger than %u bytes", path, FONT_FILE_MAX);
                break;
            }
            uint8_t *bigger = realloc(f->data, cap * 2);
            if (!bigger) {
                free(f->data);
                f->data = NULL;
                break;
            }
            f->data = bigger;
            cap *= 2;
        }
    }
    gzclose(gz);
    if (!f->data)
        return hv_fail(ENOMEM, "out of memory for the font");
    if (err == 0 && (err = psf_parse(f)) < 0) {
        char why[128];
        snprintf(why, sizeof(why), "%s", hv_last_error());
        hv_fail(-err, "%s: %s", path, why);
    }
    return err;
}

/* The screen in RGB, rows of width * 3 bytes. */
static void render(const VgaDevice *vga, const PsfFont *f, uint8_t *rgb, unsigned width)
{
    int question = f->cp437['?'];
    for (unsigned row = 0; row < VGA_ROWS; row++) {
        for (unsigned col = 0; col < VGA_COLS; col++) {
            const uint8_t *cell = vga->vram + (row * VGA_COLS + col) * 2;
            uint8_t ch = cell[0], attr = cell[1];
            int g = f->cp437[ch] >= 0 ? f->cp437[ch] : question;
            const uint8_t *glyph = g >= 0 ? f->glyphs + (size_t)g * f->bytes_per_glyph : NULL;
            const uint8_t *fg = palette[attr & 0x0F], *bg = palette[(attr >> 4) & 0x07];
            for (unsigned y = 0; y < f->height; y++) {
                uint8_t bits = glyph ? glyph[y] : 0;
                uint8_t *px = rgb + ((size_t)(row * f->height + y) * width + col * CELL_W) * 3;
                for (unsigned x = 0; x < CELL_W; x++) {
                    bool on = x < 8 ? (bits >> (7 - x)) & 1
                                    : (ch >= 0xC0 && ch <= 0xDF && (bits & 1));
                    memcpy(px + x * 3, on ? fg : bg, 3);
                }
            }
        }
    }
}

static int write_png(FILE *out, const uint8_t *rgb, unsigned width, unsigned height)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return hv_fail(ENOMEM, "libpng: out of memory");
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return hv_fail(EIO, "libpng could not write the picture");
    }
    png_init_io(png, out);
    png_set_IHDR(png, info, width, height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (unsigned y = 0; y < height; y++)
        png_write_row(png, rgb + (size_t)y * width * 3);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return 0;
}

int vga_screendump(const VgaDevice *vga, const char *path, const char *font_path, bool ppm)
{
    if (!vga || !path)
        return hv_fail(EINVAL, "bad arguments");
    if (!font_path)
        font_path = getenv("SCRATCHVM_VGA_FONT");
    if (!font_path || !*font_path)
        font_path = VGA_DEFAULT_FONT;
    PsfFont font = {0};
    int err = psf_load(&font, font_path);
    if (err < 0) {
        free(font.data);
        return err;
    }
    unsigned width = VGA_COLS * CELL_W, height = VGA_ROWS * font.height;
    uint8_t *rgb = malloc((size_t)width * height * 3);
    if (!rgb) {
        free(font.data);
        return hv_fail(ENOMEM, "out of memory");
    }
    render(vga, &font, rgb, width);
    free(font.data);
    FILE *out = fopen(path, "wbe");
    if (!out) {
        err = hv_fail(errno, "%s: %s", path, strerror(errno));
    } else {
        if (ppm) {
            fprintf(out, "P6\n%u %u\n255\n", width, height);
            fwrite(rgb, 3, (size_t)width * height, out);
        } else {
            err = write_png(out, rgb, width, height);
        }
        if (fclose(out) != 0 && err == 0)
            err = hv_fail(errno, "%s: %s", path, strerror(errno));
    }
    free(rgb);
    return err;
}
