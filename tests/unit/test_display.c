/* Unit tests for -display curses's drawing (src/cli/display.c): VGA attributes as ANSI
 * SGR colours, and a refresh that sends only what changed. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/console.h"
#include "cli/display.h"

static void test_sgr(void **state)
{
    (void)state;
    char buf[32];
    display_sgr(0x07, buf, sizeof(buf));   /* light grey on black */
    assert_string_equal(buf, "\033[0;37;40m");
    display_sgr(0x1F, buf, sizeof(buf));   /* bright white on blue */
    assert_string_equal(buf, "\033[0;97;44m");
    display_sgr(0x4E, buf, sizeof(buf));   /* yellow on red */
    assert_string_equal(buf, "\033[0;93;41m");
    display_sgr(0xE1, buf, sizeof(buf));   /* blink bit: brown background, blue */
    assert_string_equal(buf, "\033[0;34;43m");
}

/* Reads what the display wrote to the pipe. */
static size_t drain(int fd, char *buf, size_t size)
{
    ssize_t n = read(fd, buf, size - 1);
    buf[n > 0 ? n : 0] = '\0';
    return n > 0 ? (size_t)n : 0;
}

static void test_refresh(void **state)
{
    (void)state;
    VgaDevice *vga = vga_create();
    assert_non_null(vga);
    int p[2];
    assert_int_equal(pipe2(p, O_NONBLOCK), 0);
    fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
    static char buf[1 << 17];
    TextDisplay *d = display_open(vga, p[1]);
    assert_non_null(d);
    drain(p[0], buf, sizeof(buf));
    assert_non_null(strstr(buf, "\033[?1049h"));   /* the alternate screen */
    display_refresh(d);
    drain(p[0], buf, sizeof(buf));
    assert_non_null(strstr(buf, "\033[1;1H"));     /* every cell the first time */
    display_refresh(d);
    assert_int_equal(drain(p[0], buf, sizeof(buf)), 0);   /* nothing changed */
    vga->vram[2 * (3 * 80 + 5)] = 0x01;   /* CP437 01h: a smiley, U+263A */
    vga->vram[2 * (3 * 80 + 5) + 1] = 0x1E;
    display_refresh(d);
    drain(p[0], buf, sizeof(buf));
    assert_string_equal(buf, "\033[4;6H\033[0;93;44m\xe2\x98\xba\033[1;1H\033[?25h");
    console_leave_screen();
    drain(p[0], buf, sizeof(buf));
    assert_string_equal(buf, "\033[0m\033[?25h\033[?1049l");
    console_leave_screen();   /* once */
    assert_int_equal(drain(p[0], buf, sizeof(buf)), 0);
    display_close(d);
    vga_destroy(vga);
    close(p[0]);
    close(p[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgr),
        cmocka_unit_test(test_refresh),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
