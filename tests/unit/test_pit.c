/* Unit tests for the 8254 PIT and port 0x61 (src/dev/i8254.c), against the Intel 8254
 * data sheet, on a clock the test moves by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dev/i8254.h"

typedef struct {
    Pit8254 *pit;
    uint64_t now;       /* ns */
    int irq_level, irq_edges, changes;
} Fixture;

static uint64_t fake_now(void *opaque) { return ((Fixture *)opaque)->now; }

static void fake_irq(void *opaque, int line, int level)
{
    Fixture *f = opaque;
    assert_int_equal(line, 0);
    if (level && !f->irq_level)
        f->irq_edges++;
    f->irq_level = level;
}

static void on_change(void *opaque) { ((Fixture *)opaque)->changes++; }

/* The time of PIT clock tick t (the clock is 1.193182 MHz), a little after it. */
static uint64_t tick_ns(uint64_t t) { return t * 1000000000ull / PIT_HZ + 1; }

static int setup(void **state)
{
    static Fixture f;
    memset(&f, 0, sizeof(f));
    f.now = 1000000;
    const DevClock clock = {fake_now, &f};
    const IrqLine irq0 = {fake_irq, &f, 0};
    f.pit = pit_create(&irq0, &clock, on_change, &f);
    assert_non_null(f.pit);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    pit_destroy(((Fixture *)*state)->pit);
    return 0;
}

static void out8(Fixture *f, uint16_t port, uint8_t v)
{
    int r = port == PIT_PORT61 ? pit_port61_write(port, 1, v, f->pit)
                               : pit_io_write(port, 1, v, f->pit);
    assert_int_equal(r, 0);
}

static uint8_t in8(Fixture *f, uint16_t port)
{
    uint32_t v = 0xDEAD;
    int r = port == PIT_PORT61 ? pit_port61_read(port, 1, &v, f->pit)
                               : pit_io_read(port, 1, &v, f->pit);
    assert_int_equal(r, 0);
    assert_true(v <= 0xFF);
    return (uint8_t)v;
}

static void load(Fixture *f, int ch, uint8_t cw, uint16_t count)
{
    out8(f, 0x43, (uint8_t)(ch << 6 | cw));
    out8(f, (uint16_t)(0x40 + ch), (uint8_t)count);
    out8(f, (uint16_t)(0x40 + ch), (uint8_t)(count >> 8));
}

static uint16_t latch_read(Fixture *f, int ch)
{
    out8(f, 0x43, (uint8_t)(ch << 6));   /* counter latch command */
    uint16_t lo = in8(f, (uint16_t)(0x40 + ch));
    return (uint16_t)(lo | in8(f, (uint16_t)(0x40 + ch)) << 8);
}

static uint8_t status(Fixture *f, int ch)
{
    out8(f, 0x43, (uint8_t)(0xE0 | (2 << ch)));   /* read-back: status only */
    return in8(f, (uint16_t)(0x40 + ch));
}

static void test_mode2_counts_and_irq(void **state)
{
    Fixture *f = *state;
    uint64_t t0 = f->now;
    load(f, 0, 0x34, 1193);          /* LSB/MSB, mode 2, binary */
    assert_true(f->changes >= 1);
    assert_int_equal(latch_read(f, 0), 1193);
    f->now = t0 + tick_ns(100);
    assert_int_equal(latch_read(f, 0), 1093);
    /* The next IRQ0 edge comes one period (1193 ticks, ~1 ms) after the load. */
    uint64_t next = pit_advance(f->pit, f->now);
    assert_int_equal(f->irq_edges, 0);
    assert_true(next > t0 + 999000 && next < t0 + 1001000);
    f->now = next;
    next = pit_advance(f->pit, f->now);
    assert_int_equal(f->irq_edges, 1);
    assert_int_equal(f->irq_level, 0);   /* a pulse: the PIC latched the edge */
    assert_true(next > f->now + 999000 && next < f->now + 1001000);
    /* Missed periods coalesce into one pulse. */
    f->now += 10 * 1000000;
    pit_advance(f->pit, f->now);
    assert_int_equal(f->irq_edges, 2);
    /* Status: OUT high, RW 3, mode 2, binary. */
    assert_int_equal(status(f, 0) & 0x3F, 0x34);
}

static void test_mode0_out_and_latch(void **state)
{
    Fixture *f = *state;
    uint64_t t0 = f->now;
    load(f, 0, 0x30, 1000);          /* mode 0 */
    assert_int_equal(status(f, 0) & 0x80, 0);      /* OUT low until terminal count */
    out8(f, 0x43, 0x00);             /* latch now ... */
    f->now = t0 + tick_ns(400);
    uint8_t lo = in8(f, 0x40);
    uint8_t hi = in8(f, 0x40);
    assert_int_equal(lo | hi << 8, 1000);          /* ... the value of the latch moment */
    assert_int_equal(latch_read(f, 0), 600);
    f->now = t0 + tick_ns(1000);
    assert_int_equal(status(f, 0) & 0x80, 0x80);
    pit_advance(f->pit, f->now);
    assert_int_equal(f->irq_edges, 1);
    assert_int_equal(pit_advance(f->pit, f->now + 100000000), DEV_NO_DEADLINE);
    assert_int_equal(f->irq_edges, 1);   /* mode 0 interrupts once */
}

static void test_readback_count_and_status(void **state)
{
    Fixture *f = *state;
    load(f, 1, 0x34, 500);
    load(f, 2, 0x36, 800);           /* mode 3 (but gate 2 is low) */
    out8(f, 0x43, 0xCC);             /* read-back count and status of counters 1 and 2 */
    assert_int_equal(in8(f, 0x41), 0xB4);   /* status first: OUT high, RW 3, mode 2 */
    assert_int_equal(in8(f, 0x41), 500 & 0xFF);
    assert_int_equal(in8(f, 0x41), 500 >> 8);
    assert_int_equal(in8(f, 0x42) & 0x3F, 0x36);
    uint8_t lo = in8(f, 0x42);   /* LSB first: two sequenced reads */
    uint8_t hi = in8(f, 0x42);
    assert_int_equal(lo | hi << 8, 800);
}

static void test_bcd_and_byte_modes(void **state)
{
    Fixture *f = *state;
    uint64_t t0 = f->now;
    out8(f, 0x43, 0x11);             /* counter 0, LSB only, mode 0, BCD */
    out8(f, 0x40, 0x99);
    f->now = t0 + tick_ns(10);
    out8(f, 0x43, 0x00);
    assert_int_equal(in8(f, 0x40), 0x89);   /* 99 - 10 = 89, in BCD */
    out8(f, 0x43, 0x20);             /* MSB only, mode 0, binary */
    out8(f, 0x40, 0x12);
    assert_int_equal(latch_read(f, 0) >> 0 & 0xFF, 0x12);   /* MSB only: one byte read */
    out8(f, 0x43, 0x31);             /* LSB/MSB BCD: 0 is 10000 */
    out8(f, 0x40, 0x00);
    out8(f, 0x40, 0x00);
    assert_int_equal(latch_read(f, 0), 0x0000);
    f->now += tick_ns(1);
    assert_int_equal(latch_read(f, 0), 0x9999);
}

static void test_port61_gate_out2_refresh(void **state)
{
    Fixture *f = *state;
    load(f, 2, 0xB0, 100);           /* counter 2, mode 0 */
    uint8_t p = in8(f, 0x61);
    assert_int_equal(p & 0x20, 0);   /* OUT2 low */
    f->now += tick_ns(200);
    assert_int_equal(in8(f, 0x61) & 0x20, 0);   /* gate low: not counting */
    out8(f, 0x61, 0x03);             /* gate 2 and speaker on */
    assert_int_equal(in8(f, 0x61) & 0x03, 0x03);
    f->now += tick_ns(99);
    assert_int_equal(in8(f, 0x61) & 0x20, 0);
    f->now += tick_ns(2);
    assert_int_equal(in8(f, 0x61) & 0x20, 0x20);
    /* Bit 4 toggles every 15.085 us. */
    uint8_t a = in8(f, 0x61) & 0x10;
    f->now += 15085;
    assert_int_not_equal(in8(f, 0x61) & 0x10, a);
}

static void test_mode1_and_mode5_triggered_by_gate(void **state)
{
    Fixture *f = *state;
    load(f, 2, 0xB2, 50);            /* mode 1: one-shot on a gate trigger */
    assert_int_equal(in8(f, 0x61) & 0x20, 0x20);   /* OUT high until triggered */
    out8(f, 0x61, 0x01);
    assert_int_equal(in8(f, 0x61) & 0x20, 0);
    f->now += tick_ns(50);
    assert_int_equal(in8(f, 0x61) & 0x20, 0x20);
    out8(f, 0x61, 0x00);
    load(f, 2, 0xBA, 30);            /* mode 5: strobe after a trigger */
    out8(f, 0x61, 0x01);
    f->now += tick_ns(30);
    assert_int_equal(in8(f, 0x61) & 0x20, 0);      /* the one-tick strobe */
    f->now += tick_ns(1);
    assert_int_equal(in8(f, 0x61) & 0x20, 0x20);
}

static void test_mode3_square_and_mode4_strobe(void **state)
{
    Fixture *f = *state;
    uint64_t t0 = f->now;
    load(f, 0, 0x36, 100);           /* mode 3 */
    assert_int_equal(status(f, 0) & 0x80, 0x80);
    f->now = t0 + tick_ns(60);
    assert_int_equal(status(f, 0) & 0x80, 0);       /* second half: low */
    f->now = t0 + tick_ns(100);
    pit_advance(f->pit, f->now);
    assert_int_equal(f->irq_edges, 1);
    t0 = f->now;
    load(f, 0, 0x38, 20);            /* mode 4 */
    f->now = t0 + tick_ns(20);
    assert_int_equal(status(f, 0) & 0x80, 0);
    f->now = t0 + tick_ns(21);
    assert_int_equal(status(f, 0) & 0x80, 0x80);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mode2_counts_and_irq, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mode0_out_and_latch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readback_count_and_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bcd_and_byte_modes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_port61_gate_out2_refresh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mode1_and_mode5_triggered_by_gate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mode3_square_and_mode4_strobe, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
