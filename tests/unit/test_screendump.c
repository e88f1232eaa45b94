/* Unit tests for the VGA screen picture (src/dev/vga_png.c): the PNG read back with
 * libpng, pixel by pixel where the glyph is known (blank, full block, line drawing), the
 * PPM twin, and fonts that are missing or malformed. Needs the default console font
 * (console-setup-linux); without it the tests skip with the reason. */
#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "hypervisor_sim.h"

#define W 720
#define H 400

typedef struct {
    VgaDevice *vga;
    char dir[64];
    char png[96], ppm[96], font[96];
} Fixture;

static int setup(void **state)
{
    Fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->vga = vga_create();
    strcpy(f->dir, "/tmp/scratchvm-screendump.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->png, sizeof(f->png), "%s/s.png", f->dir);
    snprintf(f->ppm, sizeof(f->ppm), "%s/s.ppm", f->dir);
    snprintf(f->font, sizeof(f->font), "%s/bad.psf", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    Fixture *f = *state;
    unlink(f->png);
    unlink(f->ppm);
    unlink(f->font);
    rmdir(f->dir);
    vga_destroy(f->vga);
    free(f);
    return 0;
}

static void put(VgaDevice *vga, int row, int col, uint8_t ch, uint8_t attr)
{
    uint64_t a = VGA_TEXT_BASE + (uint64_t)(row * VGA_COLS + col) * 2;
    assert_int_equal(vga_mmio_write(a, 2, (uint64_t)attr << 8 | ch, vga), 0);
}

/* The PNG's pixels as RGB rows; asserts the format. */
static uint8_t *read_png(const char *path)
{
    FILE *in = fopen(path, "rb");
    assert_non_null(in);
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    assert_false(setjmp(png_jmpbuf(png)));
    png_init_io(png, in);
    png_read_info(png, info);
    assert_int_equal(png_get_image_width(png, info), W);
    assert_int_equal(png_get_image_height(png, info), H);
    assert_int_equal(png_get_color_type(png, info), PNG_COLOR_TYPE_RGB);
    assert_int_equal(png_get_bit_depth(png, info), 8);
    uint8_t *rgb = malloc(W * H * 3);
    for (int y = 0; y < H; y++)
        png_read_row(png, rgb + y * W * 3, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    fclose(in);
    return rgb;
}

static uint32_t pixel(const uint8_t *rgb, int x, int y)
{
    const uint8_t *p = rgb + (y * W + x) * 3;
    return (uint32_t)p[0] << 16 | p[1] << 8 | p[2];
}

static bool have_font(void)
{
    if (access(VGA_DEFAULT_FONT, R_OK) == 0)
        return true;
    printf("[ SKIPPED  ] %s is not there (Debian package console-setup-linux)\n",
           VGA_DEFAULT_FONT);
    return false;
}

static void test_pixels(void **state)
{
    Fixture *f = *state;
    if (!have_font())
        skip();
    put(f->vga, 0, 0, ' ', 0x4E);     /* red background, no glyph */
    put(f->vga, 1, 0, 0xDB, 0x0E);    /* full block in yellow: every pixel of the cell */
    put(f->vga, 2, 0, 0xC4, 0x0F);    /* ─ : its line reaches the 9th column */
    put(f->vga, 3, 0, 'A', 0x07);
    put(f->vga, 3, 1, 'A', 0x8F);     /* blink bit: background black, bright white */
    assert_int_equal(vga_screendump(f->vga, f->png, NULL, false), 0);
    uint8_t *rgb = read_png(f->png);
    for (int y = 0; y < 16; y++)
        for (int x = 0; x < 9; x++) {
            assert_int_equal(pixel(rgb, x, y), 0xAA0000);
            assert_int_equal(pixel(rgb, x, 16 + y), 0xFFFF55);
        }
    int line_rows = 0;
    for (int y = 32; y < 48; y++) {
        bool on = pixel(rgb, 0, y) == 0xFFFFFF;
        line_rows += on;
        assert_int_equal(pixel(rgb, 8, y), pixel(rgb, 7, y));   /* 9th = 8th column */
        assert_true(on || pixel(rgb, 0, y) == 0x000000);
    }
    assert_in_range(line_rows, 1, 3);
    int lit = 0, lit2 = 0;
    for (int y = 48; y < 64; y++)
        for (int x = 0; x < 9; x++) {
            uint32_t p = pixel(rgb, x, y), q = pixel(rgb, 9 + x, y);
            assert_true(p == 0xAAAAAA || p == 0);
            assert_true(q == 0xFFFFFF || q == 0);
            lit += p != 0;
            lit2 += q != 0;
            assert_int_equal(p != 0, q != 0);   /* the same glyph */
        }
    assert_in_range(lit, 20, 80);   /* an 'A', not a blank or a block */
    assert_int_equal(pixel(rgb, 8, 48), 0);   /* letters leave the 9th column blank */
    assert_int_equal(pixel(rgb, W - 1, H - 1), 0);   /* the cleared screen: black */
    (void)lit2;

    /* The PPM has the same pixels. */
    assert_int_equal(vga_screendump(f->vga, f->ppm, NULL, true), 0);
    FILE *in = fopen(f->ppm, "rb");
    char header[16];
    assert_non_null(fgets(header, sizeof(header), in));
    assert_string_equal(header, "P6\n");
    assert_non_null(fgets(header, sizeof(header), in));
    assert_string_equal(header, "720 400\n");
    assert_non_null(fgets(header, sizeof(header), in));
    uint8_t *raw = malloc(W * H * 3);
    assert_int_equal(fread(raw, 1, W * H * 3, in), W * H * 3);
    fclose(in);
    assert_memory_equal(raw, rgb, W * H * 3);
    free(raw);
    free(rgb);
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *o = fopen(path, "wb");
    assert_non_null(o);
    assert_int_equal(fwrite(data, 1, n, o), n);
    fclose(o);
}

/* Fonts are files from outside: missing, garbage, truncated or lying headers are errors
 * with a message, never a crash (run under ASan too). */
static void test_bad_fonts(void **state)
{
    Fixture *f = *state;
    assert_int_equal(vga_screendump(f->vga, f->png, "/nonexistent/font.psf", false), -ENOENT);
    assert_non_null(strstr(hv_last_error(), "/nonexistent/font.psf"));
    write_file(f->font, "not a font at all", 17);
    assert_int_equal(vga_screendump(f->vga, f->png, f->font, false), -EINVAL);
    assert_non_null(strstr(hv_last_error(), "not a PSF font"));
    const uint8_t psf1_truncated[] = {0x36, 0x04, 0x02, 0x10, 0xFF, 0x00};
    write_file(f->font, psf1_truncated, sizeof(psf1_truncated));
    assert_int_equal(vga_screendump(f->vga, f->png, f->font, false), -EINVAL);
    assert_non_null(strstr(hv_last_error(), "truncated"));
    uint8_t psf2[32 + 256 * 16 + 8] = {0x72, 0xb5, 0x4a, 0x86};
    uint32_t hdr[7] = {0, 32, 1, 256, 16, 16, 8};   /* version, size, flags, n, bytes, h, w */
    memcpy(psf2 + 4, hdr, sizeof(hdr));
    memset(psf2 + 32 + 256 * 16, 0xC3, 8);   /* a Unicode table of bad UTF-8 */
    write_file(f->font, psf2, sizeof(psf2));
    assert_int_equal(vga_screendump(f->vga, f->png, f->font, false), -EINVAL);
    hdr[6] = 16;   /* 16 pixels wide */
    memcpy(psf2 + 4, hdr, sizeof(hdr));
    write_file(f->font, psf2, sizeof(psf2));
    assert_int_equal(vga_screendump(f->vga, f->png, f->font, false), -EINVAL);
    assert_non_null(strstr(hv_last_error(), "8 pixels wide"));
    hdr[1] = 0xFFFFFFFFu;   /* header size past the end */
    hdr[6] = 8;
    memcpy(psf2 + 4, hdr, sizeof(hdr));
    write_file(f->font, psf2, sizeof(psf2));
    assert_int_equal(vga_screendump(f->vga, f->png, f->font, false), -EINVAL);
    /* A well-formed PSF2 without a table: glyphs in CP437 order, all set here. */
    hdr[1] = 32;
    hdr[2] = 0;
    memcpy(psf2 + 4, hdr, sizeof(hdr));
    memset(psf2 + 32, 0xFF, 256 * 16);
    write_file(f->font, psf2, 32 + 256 * 16);
    assert_int_equal(vga_screendump(f->vga, f->png, f->font, false), 0);
    uint8_t *rgb = read_png(f->png);
    assert_int_equal(pixel(rgb, 0, 0), 0xAAAAAA);   /* attribute 07 on every cell */
    assert_int_equal(pixel(rgb, 8, 0), 0);          /* ' ' is no line-drawing glyph */
    free(rgb);
    assert_int_equal(vga_screendump(f->vga, "/nonexistent/dir/s.png", f->font, false), -ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pixels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_fonts, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
