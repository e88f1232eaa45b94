/* Unit tests for VGA text mode (src/dev/vga.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hypervisor_sim.h"

static int setup(void **state)
{
    VgaDevice *vga = vga_create();
    assert_non_null(vga);
    *state = vga;
    return 0;
}

static int teardown(void **state)
{
    vga_destroy(*state);
    return 0;
}

static uint64_t cell_addr(int row, int col)
{
    return VGA_TEXT_BASE + (uint64_t)(row * VGA_COLS + col) * 2;
}

static void put(VgaDevice *vga, int row, int col, uint8_t ch, uint8_t attr)
{
    assert_int_equal(vga_mmio_write(cell_addr(row, col), 2, (uint64_t)attr << 8 | ch, vga), 0);
}

static void test_initial_screen_blank(void **state)
{
    VgaDevice *vga = *state;
    assert_false(vga->written);
    char row[VGA_ROW_UTF8_MAX];
    for (int r = 0; r < VGA_ROWS; r++) {
        assert_int_equal(vga_render_row(vga, r, row, sizeof(row)), 0);
        assert_string_equal(row, "");
    }
    assert_int_equal(vga->cursor_x, 0);
    assert_int_equal(vga->cursor_y, 0);
}

static void test_cell_writes_every_size(void **state)
{
    VgaDevice *vga = *state;
    uint64_t v;
    assert_int_equal(vga_mmio_write(VGA_TEXT_BASE, 1, 'A', vga), 0);
    assert_true(vga->written);
    assert_int_equal(vga->vram[0], 'A');
    assert_int_equal(vga->vram[1], 0x07);   /* attribute untouched */
    assert_int_equal(vga_mmio_write(VGA_TEXT_BASE + 2, 2, 0x1F42, vga), 0);   /* 'B' */
    assert_int_equal(vga->vram[2], 'B');
    assert_int_equal(vga->vram[3], 0x1F);
    assert_int_equal(vga_mmio_write(VGA_TEXT_BASE + 4, 4, 0x2E442E43, vga), 0); /* CD */
    assert_int_equal(vga_mmio_write(VGA_TEXT_BASE + 8, 8, 0x4748474647454744ull, vga), 0);
    const uint8_t want[] = {'A', 0x07, 'B', 0x1F, 'C', 0x2E, 'D', 0x2E,
                            'D', 0x47, 'E', 0x47, 'F', 0x47, 'H', 0x47};
    assert_memory_equal(vga->vram, want, sizeof(want));
    /* Reads give the same bytes back, little-endian, at every size. */
    assert_int_equal(vga_mmio_read(VGA_TEXT_BASE, 1, &v, vga), 0);
    assert_true(v == 'A');
    assert_int_equal(vga_mmio_read(VGA_TEXT_BASE + 2, 2, &v, vga), 0);
    assert_true(v == 0x1F42);
    assert_int_equal(vga_mmio_read(VGA_TEXT_BASE + 4, 4, &v, vga), 0);
    assert_true(v == 0x2E442E43);
    assert_int_equal(vga_mmio_read(VGA_TEXT_BASE + 8, 8, &v, vga), 0);
    assert_true(v == 0x4748474647454744ull);
    /* Unaligned. */
    assert_int_equal(vga_mmio_read(VGA_TEXT_BASE + 1, 2, &v, vga), 0);
    assert_true(v == 0x4207);
    char row[VGA_ROW_UTF8_MAX];
    vga_render_row(vga, 0, row, sizeof(row));
    assert_string_equal(row, "ABCDDEFH");
}

static void test_bad_sizes(void **state)
{
    VgaDevice *vga = *state;
    uint64_t v;
    assert_int_equal(vga_mmio_read(VGA_TEXT_BASE, 3, &v, vga), -EINVAL);
    assert_int_equal(vga_mmio_write(VGA_TEXT_BASE, 16, 0, vga), -EINVAL);
    assert_false(vga->written);
    uint32_t p;
    assert_int_equal(vga_io_read(VGA_CRTC_INDEX, 8, &p, vga), -EINVAL);
    assert_int_equal(vga_io_write(VGA_CRTC_INDEX, 3, 0, vga), -EINVAL);
}

static void test_window_edges(void **state)
{
    VgaDevice *vga = *state;
    uint64_t v;
    const uint64_t last = VGA_TEXT_BASE + VGA_TEXT_SIZE - 1;
    assert_int_equal(vga_mmio_write(last, 1, 0x99, vga), 0);
    assert_int_equal(vga->vram[VGA_TEXT_SIZE - 1], 0x99);
    /* 8 bytes from the last 2: two inside, six outside (dropped / all ones). */
    assert_int_equal(vga_mmio_write(last - 1, 8, 0x1122334455667788ull, vga), 0);
    assert_int_equal(vga->vram[VGA_TEXT_SIZE - 2], 0x88);
    assert_int_equal(vga->vram[VGA_TEXT_SIZE - 1], 0x77);
    assert_int_equal(vga_mmio_read(last - 1, 8, &v, vga), 0);
    assert_true(v == 0xFFFFFFFFFFFF7788ull);
    assert_int_equal(vga_mmio_read(last + 1, 4, &v, vga), 0);
    assert_true(v == 0xFFFFFFFFu);
    /* Starting below the window: the low bytes are outside. */
    vga->vram[0] = 0x5A;
    assert_int_equal(vga_mmio_read(VGA_TEXT_BASE - 1, 2, &v, vga), 0);
    assert_true(v == 0x5AFF);
    assert_int_equal(vga_mmio_write(VGA_TEXT_BASE - 3, 4, 0xA1B2C3D4, vga), 0);
    assert_int_equal(vga->vram[0], 0xA1);
    assert_int_equal(vga->vram[1], 0x07);
    /* Far away, and at the top of the address space (no wrap into vram). */
    assert_int_equal(vga_mmio_read(0xA0000, 8, &v, vga), 0);
    assert_true(v == UINT64_MAX);
    assert_int_equal(vga_mmio_read(UINT64_MAX - 3, 8, &v, vga), 0);
    assert_true(v == UINT64_MAX);
    assert_int_equal(vga_mmio_write(UINT64_MAX, 8, 0, vga), 0);
    assert_int_equal(vga->vram[0], 0xA1);
}

static void test_cursor_byte_out(void **state)
{
    VgaDevice *vga = *state;
    unsigned loc = 12 * 80 + 34;
    assert_int_equal(vga_io_write(VGA_CRTC_INDEX, 1, 0x0E, vga), 0);
    assert_int_equal(vga_io_write(VGA_CRTC_DATA, 1, loc >> 8, vga), 0);
    assert_int_equal(vga_io_write(VGA_CRTC_INDEX, 1, 0x0F, vga), 0);
    assert_int_equal(vga_io_write(VGA_CRTC_DATA, 1, loc & 0xFF, vga), 0);
    assert_int_equal(vga->cursor_x, 34);
    assert_int_equal(vga->cursor_y, 12);
    uint32_t v;
    assert_int_equal(vga_io_read(VGA_CRTC_INDEX, 1, &v, vga), 0);
    assert_int_equal(v, 0x0F);
    assert_int_equal(vga_io_read(VGA_CRTC_DATA, 1, &v, vga), 0);
    assert_int_equal(v, loc & 0xFF);
    assert_int_equal(vga->crtc[0x0E], loc >> 8);
}

static void test_cursor_word_out(void **state)
{
    VgaDevice *vga = *state;
    unsigned loc = 24 * 80 + 79;   /* bottom right */
    /* mov $0x0E, %al; mov $hi, %ah; out %ax, %dx — index in AL, data in AH. */
    assert_int_equal(vga_io_write(VGA_CRTC_INDEX, 2, (loc & 0xFF00) | 0x0E, vga), 0);
    assert_int_equal(vga_io_write(VGA_CRTC_INDEX, 2, (loc & 0xFF) << 8 | 0x0F, vga), 0);
    assert_int_equal(vga->cursor_x, 79);
    assert_int_equal(vga->cursor_y, 24);
    assert_int_equal(vga->crtc_index, 0x0F);
    uint32_t v;
    assert_int_equal(vga_io_read(VGA_CRTC_INDEX, 2, &v, vga), 0);
    assert_int_equal(v, (loc & 0xFF) << 8 | 0x0F);
}

static void test_crtc_registers(void **state)
{
    VgaDevice *vga = *state;
    uint32_t v;
    /* Cursor shape and start address are kept as plain registers. */
    const uint8_t regs[] = {0x0A, 0x0B, 0x0C, 0x0D};
    for (size_t i = 0; i < sizeof(regs); i++) {
        assert_int_equal(vga_io_write(VGA_CRTC_INDEX, 2, (0x30u + i) << 8 | regs[i], vga), 0);
        assert_int_equal(vga_io_write(VGA_CRTC_INDEX, 1, regs[i], vga), 0);
        assert_int_equal(vga_io_read(VGA_CRTC_DATA, 1, &v, vga), 0);
        assert_int_equal(v, 0x30 + i);
    }
    assert_int_equal(vga->cursor_x, 0);
    /* Past the 25 registers: reads all ones, writes dropped. */
    assert_int_equal(vga_io_write(VGA_CRTC_INDEX, 2, 0x5519, vga), 0);
    assert_int_equal(vga_io_read(VGA_CRTC_DATA, 1, &v, vga), 0);
    assert_int_equal(v, 0xFF);
    /* Vertical Retrace End bit 7 write-protects registers 0-7. */
    assert_int_equal(vga_io_write(VGA_CRTC_INDEX, 2, 0x1201, vga), 0);
    assert_int_equal(vga_io_write(VGA_CRTC_INDEX, 2, 0x8011, vga), 0);
    assert_int_equal(vga_io_write(VGA_CRTC_INDEX, 2, 0x3401, vga), 0);
    assert_int_equal(vga->crtc[0x01], 0x12);
    assert_int_equal(vga_io_write(VGA_CRTC_INDEX, 2, 0x0011, vga), 0);
    assert_int_equal(vga_io_write(VGA_CRTC_INDEX, 2, 0x3401, vga), 0);
    assert_int_equal(vga->crtc[0x01], 0x34);
}

static void test_input_status_toggles(void **state)
{
    VgaDevice *vga = *state;
    uint32_t a, b, c;
    assert_int_equal(vga_io_read(0x3DA, 1, &a, vga), 0);
    assert_int_equal(vga_io_read(0x3DA, 1, &b, vga), 0);
    assert_int_equal(vga_io_read(0x3DA, 1, &c, vga), 0);
    assert_int_equal(a & 0x09, 0x09);   /* in retrace */
    assert_int_equal(b & 0x09, 0x00);   /* displaying */
    assert_int_equal(c & 0x09, 0x09);
    /* A loop waiting for retrace, then for its end, terminates. */
    int n = 0;
    uint32_t s;
    do {
        vga_io_read(0x3DA, 1, &s, vga);
    } while (!(s & 0x08) && ++n < 10);
    do {
        vga_io_read(0x3DA, 1, &s, vga);
    } while ((s & 0x08) && ++n < 10);
    assert_true(n < 10);
    assert_int_equal(vga_io_write(0x3DA, 1, 0xFF, vga), 0);   /* feature control: ignored */
}

static void test_render_cp437_and_trim(void **state)
{
    VgaDevice *vga = *state;
    put(vga, 3, 0, 0xC9, 0x1F);   /* ╔ */
    put(vga, 3, 1, 0xCD, 0x1F);   /* ═ */
    put(vga, 3, 2, 0xBB, 0x1F);   /* ╗ */
    put(vga, 3, 3, ' ', 0x07);
    put(vga, 3, 4, 0x01, 0x0E);   /* ☺ */
    put(vga, 3, 5, 0x00, 0x07);   /* shown as a space */
    put(vga, 3, 6, 'x', 0x07);
    put(vga, 3, 7, 0x82, 0x07);   /* é */
    put(vga, 3, 8, 0xE1, 0x07);   /* ß */
    put(vga, 3, 9, 0x7F, 0x07);   /* ⌂ */
    put(vga, 3, 10, 0x00, 0x07);  /* trailing blanks, both kinds, are cut */
    put(vga, 3, 11, ' ', 0x70);
    char row[VGA_ROW_UTF8_MAX];
    size_t n = vga_render_row(vga, 3, row, sizeof(row));
    const char *want = "╔═╗ ☺ xéß⌂";
    assert_string_equal(row, want);
    assert_int_equal(n, strlen(want));
    /* A full row of 3-byte characters fits in VGA_ROW_UTF8_MAX. */
    for (int col = 0; col < VGA_COLS; col++)
        put(vga, 4, col, 0xDB, 0x07);   /* █ */
    assert_int_equal(vga_render_row(vga, 4, row, sizeof(row)), VGA_COLS * 3);
    /* A short buffer stops before a character that does not fit. */
    char small[8];
    assert_int_equal(vga_render_row(vga, 3, small, sizeof(small)), 6);   /* ╔═ */
    assert_string_equal(small, "╔═");
    /* Bad rows. */
    assert_int_equal(vga_render_row(vga, -1, row, sizeof(row)), 0);
    assert_string_equal(row, "");
    assert_int_equal(vga_render_row(vga, VGA_ROWS, row, sizeof(row)), 0);
}

static void test_display_to_memstream(void **state)
{
    VgaDevice *vga = *state;
    const char *hello = "Hello";
    for (int i = 0; hello[i]; i++)
        put(vga, 0, i, (uint8_t)hello[i], 0x07);
    put(vga, 24, 79, 0x03, 0x04);   /* ♥ in the last cell */
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    vga_display_to(vga, out);
    assert_int_equal(fclose(out), 0);
    /* 25 lines: "Hello", 23 empty ones, then 79 spaces and ♥. */
    char want[256];
    int w = snprintf(want, sizeof(want), "Hello\n");
    for (int i = 1; i < 24; i++)
        want[w++] = '\n';
    memset(want + w, ' ', 79);
    w += 79;
    w += snprintf(want + w, sizeof(want) - (size_t)w, "♥\n");
    assert_int_equal(len, (size_t)w);
    assert_memory_equal(text, want, len);
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    assert_int_equal(lines, 25);
    free(text);
}

static void test_bus_integration(void **state)
{
    VgaDevice *vga = *state;
    MmioBus *mmio = mmio_bus_create();
    IoBus *io = io_bus_create();
    MmioHandler m = {.base = VGA_TEXT_BASE, .length = VGA_TEXT_SIZE, .read = vga_mmio_read,
                     .write = vga_mmio_write, .opaque = vga, .name = "vga"};
    IoPortHandler crtc = {.base = VGA_CRTC_INDEX, .length = 2, .read = vga_io_read,
                          .write = vga_io_write, .opaque = vga, .name = "vga-crtc"};
    IoPortHandler st = {.base = 0x3DA, .length = 1, .read = vga_io_read,
                        .write = vga_io_write, .opaque = vga, .name = "vga-status"};
    assert_int_equal(mmio_bus_register(mmio, &m), 0);
    assert_int_equal(io_bus_register(io, &crtc), 0);
    assert_int_equal(io_bus_register(io, &st), 0);
    assert_int_equal(mmio_bus_write(mmio, cell_addr(1, 0), 4, 0x07690748), 0);   /* Hi */
    assert_int_equal(io_bus_out(io, VGA_CRTC_INDEX, 2, 0x000E), 0);
    assert_int_equal(io_bus_out(io, VGA_CRTC_INDEX, 2, (82u << 8) | 0x0F), 0);
    char row[VGA_ROW_UTF8_MAX];
    vga_render_row(vga, 1, row, sizeof(row));
    assert_string_equal(row, "Hi");
    assert_int_equal(vga->cursor_x, 2);
    assert_int_equal(vga->cursor_y, 1);
    uint32_t v;
    assert_int_equal(io_bus_in(io, 0x3DA, 1, &v), 0);
    assert_int_equal(v & 0x08, 0x08);
    io_bus_destroy(io);
    mmio_bus_destroy(mmio);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_initial_screen_blank),
        T(test_cell_writes_every_size),
        T(test_bad_sizes),
        T(test_window_edges),
        T(test_cursor_byte_out),
        T(test_cursor_word_out),
        T(test_crtc_registers),
        T(test_input_status_toggles),
        T(test_render_cp437_and_trim),
        T(test_display_to_memstream),
        T(test_bus_integration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
