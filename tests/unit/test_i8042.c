/* Unit tests for the 8042 controller and keyboard (src/dev/i8042.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dev/i8042.h"

typedef struct {
    I8042 *k;
    int level, edges, resets, a20_calls;
    bool a20;
} Fixture;

static void fake_irq(void *opaque, int line, int level)
{
    Fixture *f = opaque;
    assert_int_equal(line, 1);
    if (level && !f->level)
        f->edges++;
    f->level = level;
}
static void fake_a20(void *opaque, bool on) { ((Fixture *)opaque)->a20 = on, ((Fixture *)opaque)->a20_calls++; }
static void fake_reset(void *opaque) { ((Fixture *)opaque)->resets++; }

static int setup(void **state)
{
    static Fixture f;
    memset(&f, 0, sizeof(f));
    f.a20 = true;
    const IrqLine irq1 = {fake_irq, &f, 1};
    f.k = i8042_create(&irq1, fake_a20, fake_reset, &f);
    assert_non_null(f.k);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    i8042_destroy(((Fixture *)*state)->k);
    return 0;
}

static uint8_t in8(Fixture *f, uint16_t port)
{
    uint32_t v = 0;
    assert_int_equal(i8042_io_read(port, 1, &v, f->k), 0);
    return (uint8_t)v;
}

static void out8(Fixture *f, uint16_t port, uint8_t v)
{
    assert_int_equal(i8042_io_write(port, 1, v, f->k), 0);
}

static void test_self_test_and_command_byte(void **state)
{
    Fixture *f = *state;
    assert_int_equal(in8(f, 0x64) & 0x01, 0);
    out8(f, 0x64, 0xAA);
    assert_int_equal(in8(f, 0x64) & 0x0D, 0x0D);   /* OBF, SYS, A2 (a command came last) */
    assert_int_equal(in8(f, 0x60), 0x55);
    assert_int_equal(in8(f, 0x64) & 0x01, 0);
    out8(f, 0x64, 0x20);
    assert_int_equal(in8(f, 0x60), 0x45);          /* IRQ1, SYS, translate */
    out8(f, 0x64, 0x60);
    out8(f, 0x60, 0x44);                           /* IRQ1 off */
    assert_int_equal(in8(f, 0x64) & 0x08, 0);      /* data came last */
    out8(f, 0x64, 0x20);
    assert_int_equal(in8(f, 0x60), 0x44);
}

static void test_keys_translated_with_irq1(void **state)
{
    Fixture *f = *state;
    assert_true(i8042_host_key(f->k, 'A'));        /* Shift + a */
    assert_int_equal(f->edges, 1);
    static const uint8_t want[] = {0x2A, 0x1E, 0x9E, 0xAA};
    for (size_t i = 0; i < sizeof(want); i++) {
        assert_int_equal(f->level, 1);
        assert_int_equal(in8(f, 0x60), want[i]);
    }
    assert_int_equal(f->level, 0);
    assert_int_equal(f->edges, 4);                 /* one interrupt per byte */
    out8(f, 0x64, 0x60);
    out8(f, 0x60, 0x05);                           /* no translation: set 2 as it comes */
    assert_true(i8042_host_key(f->k, '\r'));
    assert_int_equal(in8(f, 0x60), 0x5A);
    assert_int_equal(in8(f, 0x60), 0xF0);
    assert_int_equal(in8(f, 0x60), 0x5A);
    assert_false(i8042_host_key(f->k, 0xC3));      /* no such key */
}

static void test_keyboard_commands(void **state)
{
    Fixture *f = *state;
    out8(f, 0x60, 0xFF);                           /* reset */
    assert_int_equal(in8(f, 0x60), 0xFA);
    assert_int_equal(in8(f, 0x60), 0xAA);
    out8(f, 0x60, 0xF2);                           /* identify, translated */
    assert_int_equal(in8(f, 0x60), 0xFA);
    assert_int_equal(in8(f, 0x60), 0xAB);
    assert_int_equal(in8(f, 0x60), 0x41);
    out8(f, 0x60, 0xED);                           /* LEDs + argument */
    assert_int_equal(in8(f, 0x60), 0xFA);
    out8(f, 0x60, 0x07);
    assert_int_equal(in8(f, 0x60), 0xFA);
    out8(f, 0x60, 0xEE);
    assert_int_equal(in8(f, 0x60), 0xEE);
    out8(f, 0x60, 0xF5);                           /* scanning off: keys are refused */
    assert_int_equal(in8(f, 0x60), 0xFA);
    assert_false(i8042_host_key(f->k, 'x'));
}

static void test_output_port_a20_and_reset(void **state)
{
    Fixture *f = *state;
    out8(f, 0x64, 0xD0);
    assert_int_equal(in8(f, 0x60) & 0x03, 0x03);   /* reset high, A20 on */
    out8(f, 0x64, 0xD1);
    out8(f, 0x60, 0x01);                           /* A20 off */
    assert_false(f->a20);
    out8(f, 0x64, 0xDF);
    assert_true(f->a20);
    assert_int_equal(f->resets, 0);
    out8(f, 0x64, 0xFE);                           /* pulse reset */
    assert_int_equal(f->resets, 1);
}

static void test_command_result_keeps_a_pending_key(void **state)
{
    Fixture *f = *state;
    assert_true(i8042_host_key(f->k, 'q'));        /* 0x10 waits in the buffer */
    out8(f, 0x64, 0xAA);
    assert_int_equal(in8(f, 0x60), 0x55);
    assert_int_equal(in8(f, 0x60), 0x10);
    assert_int_equal(in8(f, 0x60), 0x90);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_self_test_and_command_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys_translated_with_irq1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keyboard_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_output_port_a20_and_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_command_result_keeps_a_pending_key, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
