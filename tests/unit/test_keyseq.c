/* Unit tests for the terminal key-sequence parser (src/vmm/keyseq.c): xterm, VT100/VT220
 * and Linux console forms into set 2 codes and int 16h keystrokes, modifiers, a lone ESC
 * flushed, bytes that are no sequence given back in order, and hostile input. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/keyseq.h"

/* Feeds s; the events into ev (at most max); returns their count. */
static int feed_all(KeySeq *k, const char *s, KeyEvent *ev, int max)
{
    int total = 0;
    for (size_t i = 0; s[i]; i++) {
        KeyEvent out[KEYSEQ_MAX];
        int n = keyseq_feed(k, (uint8_t)s[i], out);
        assert_true(n >= 0 && n <= KEYSEQ_MAX);
        for (int j = 0; j < n; j++) {
            assert_true(total < max);
            ev[total++] = out[j];
        }
    }
    return total;
}

/* The one key that s makes. */
static KeyEvent one_key(const char *s)
{
    KeySeq k = {0};
    KeyEvent ev[8];
    assert_int_equal(feed_all(&k, s, ev, 8), 1);
    assert_false(keyseq_pending(&k));
    return ev[0];
}

static void expect_key(const char *s, uint16_t set2, unsigned mods, uint16_t bios)
{
    KeyEvent e = one_key(s);
    assert_int_equal(e.set2, set2);
    assert_int_equal(e.mods, mods);
    assert_int_equal(keyseq_bios_key(&e), bios);
}

static void test_cursor_and_editing_keys(void **state)
{
    (void)state;
    expect_key("\033[A", 0xE075, 0, 0x4800);   /* xterm normal mode */
    expect_key("\033[B", 0xE072, 0, 0x5000);
    expect_key("\033[C", 0xE074, 0, 0x4D00);
    expect_key("\033[D", 0xE06B, 0, 0x4B00);
    expect_key("\033OA", 0xE075, 0, 0x4800);   /* application cursor mode (SS3) */
    expect_key("\033OD", 0xE06B, 0, 0x4B00);
    expect_key("\033[H", 0xE06C, 0, 0x4700);
    expect_key("\033[F", 0xE069, 0, 0x4F00);
    expect_key("\033OH", 0xE06C, 0, 0x4700);
    expect_key("\033OF", 0xE069, 0, 0x4F00);
    expect_key("\033[1~", 0xE06C, 0, 0x4700);  /* VT220 */
    expect_key("\033[2~", 0xE070, 0, 0x5200);
    expect_key("\033[3~", 0xE071, 0, 0x5300);
    expect_key("\033[4~", 0xE069, 0, 0x4F00);
    expect_key("\033[5~", 0xE07D, 0, 0x4900);
    expect_key("\033[6~", 0xE07A, 0, 0x5100);
    expect_key("\033[7~", 0xE06C, 0, 0x4700);  /* rxvt */
    expect_key("\033[8~", 0xE069, 0, 0x4F00);
    expect_key("\033[Z", 0x0D, KEYSEQ_SHIFT, 0x0F00);
}

static void test_function_keys(void **state)
{
    (void)state;
    expect_key("\033OP", 0x05, 0, 0x3B00);     /* VT100 F1-F4 */
    expect_key("\033OQ", 0x06, 0, 0x3C00);
    expect_key("\033OR", 0x04, 0, 0x3D00);
    expect_key("\033OS", 0x0C, 0, 0x3E00);
    expect_key("\033[11~", 0x05, 0, 0x3B00);   /* VT220 / rxvt */
    expect_key("\033[15~", 0x03, 0, 0x3F00);
    expect_key("\033[17~", 0x0B, 0, 0x4000);
    expect_key("\033[18~", 0x83, 0, 0x4100);
    expect_key("\033[21~", 0x09, 0, 0x4400);
    expect_key("\033[23~", 0x78, 0, 0x8500);
    expect_key("\033[24~", 0x07, 0, 0x8600);
    expect_key("\033[[A", 0x05, 0, 0x3B00);    /* Linux console */
    expect_key("\033[[E", 0x03, 0, 0x3F00);
}

/* xterm's modifier parameter: 2 Shift, 3 Alt, 5 Ctrl (m - 1 as bits). */
static void test_modifiers(void **state)
{
    (void)state;
    expect_key("\033[1;5D", 0xE06B, KEYSEQ_CTRL, 0x7300);
    expect_key("\033[1;5C", 0xE074, KEYSEQ_CTRL, 0x7400);
    expect_key("\033[1;3A", 0xE075, KEYSEQ_ALT, 0x9800);
    expect_key("\033[1;2P", 0x05, KEYSEQ_SHIFT, 0x5400);
    expect_key("\033[15;5~", 0x03, KEYSEQ_CTRL, 0x6200);
    expect_key("\033[24;3~", 0x07, KEYSEQ_ALT, 0x8C00);
    expect_key("\033[5;5~", 0xE07D, KEYSEQ_CTRL, 0x8400);
    expect_key("\033[1;2A", 0xE075, KEYSEQ_SHIFT, 0x4800);   /* no Shift-Up code: Up */
    expect_key("\033O5P", 0x05, KEYSEQ_CTRL, 0x5E00);       /* old xterm: SS3 with m */
    /* The PS/2 chord: modifiers first, then the key. */
    KeyEvent e = one_key("\033[1;7B");   /* Ctrl-Alt-Down */
    uint16_t codes[4];
    assert_int_equal(keyseq_set2_chord(&e, codes), 3);
    assert_int_equal(codes[0], 0x14);
    assert_int_equal(codes[1], 0x11);
    assert_int_equal(codes[2], 0xE072);
    KeyEvent plain = {.byte = 'a'};
    assert_int_equal(keyseq_set2_chord(&plain, codes), 0);
    assert_int_equal(keyseq_bios_key(&plain), 0);
}

/* A lone ESC waits for more; flushed (the caller's timeout), it is ESC. Bytes that turn
 * out to be no sequence come back in order, and an ESC among them starts a new one. */
static void test_lone_esc_and_non_sequences(void **state)
{
    (void)state;
    KeySeq k = {0};
    KeyEvent ev[32];
    assert_int_equal(feed_all(&k, "\033", ev, 32), 0);
    assert_true(keyseq_pending(&k));
    assert_int_equal(keyseq_flush(&k, ev), 1);
    assert_int_equal(ev[0].set2, 0);
    assert_int_equal(ev[0].byte, 0x1B);
    assert_false(keyseq_pending(&k));
    assert_int_equal(keyseq_flush(&k, ev), 0);

    assert_int_equal(feed_all(&k, "ab\r", ev, 32), 3);
    assert_int_equal(ev[0].byte, 'a');
    assert_int_equal(ev[2].byte, '\r');

    /* ESC x (Alt-x from a terminal): ESC then x, as typed. */
    assert_int_equal(feed_all(&k, "\033x", ev, 32), 2);
    assert_int_equal(ev[0].byte, 0x1B);
    assert_int_equal(ev[1].byte, 'x');
    /* ESC ESC [ A: ESC, then Up. */
    assert_int_equal(feed_all(&k, "\033\033[A", ev, 32), 2);
    assert_int_equal(ev[0].byte, 0x1B);
    assert_int_equal(ev[0].set2, 0);
    assert_int_equal(ev[1].set2, 0xE075);
    /* An unknown final byte: every byte back. */
    assert_int_equal(feed_all(&k, "\033[9~q", ev, 32), 5);
    for (int i = 0; i < 4; i++)
        assert_int_equal(ev[i].byte, (uint8_t)"\033[9~"[i]);
    assert_int_equal(ev[4].byte, 'q');
    /* A sequence cut short by a timeout, then the rest typed as keys. */
    assert_int_equal(feed_all(&k, "\033[", ev, 32), 0);
    assert_int_equal(keyseq_flush(&k, ev), 2);
    assert_int_equal(feed_all(&k, "A", ev, 32), 1);
    assert_int_equal(ev[0].byte, 'A');
    assert_int_equal(ev[0].set2, 0);
}

/* Hostile bytes: endless parameters, numbers too large, every byte value after ESC [.
 * The parser never keeps more than KEYSEQ_MAX bytes and never loses or invents one. */
static void test_hostile_input(void **state)
{
    (void)state;
    KeySeq k = {0};
    KeyEvent out[KEYSEQ_MAX];
    size_t in = 0, got = 0;
    for (int i = 0; i < 1000; i++) {
        int n = keyseq_feed(&k, i == 0 ? 0x1B : i == 1 ? '[' : '1', out);
        in++;
        got += (size_t)n;
        assert_true(k.len <= KEYSEQ_MAX);
    }
    got += (size_t)keyseq_flush(&k, out);
    assert_int_equal(got, in);
    assert_int_equal(feed_all(&k, "\033[99999999A", (KeyEvent[16]){0}, 16), 11);
    for (int c = 0; c < 256; c++) {
        KeySeq s = {0};
        int n = keyseq_feed(&s, 0x1B, out) + keyseq_feed(&s, '[', out);
        n += keyseq_feed(&s, (uint8_t)c, out);
        bool key = n == 1 && out[0].set2 != 0;
        n += keyseq_flush(&s, out);
        assert_true(key || n == 3);   /* a key, or the three bytes back */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cursor_and_editing_keys),
        cmocka_unit_test(test_function_keys),
        cmocka_unit_test(test_modifiers),
        cmocka_unit_test(test_lone_esc_and_non_sequences),
        cmocka_unit_test(test_hostile_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
