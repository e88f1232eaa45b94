/* Unit tests for the MC146818 RTC and CMOS (src/dev/mc146818.c), against the MC146818A
 * data sheet and the PC CMOS layout, on a clock the test moves. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dev/mc146818.h"

#define NS 1000000000ull
/* 2024-02-29 23:59:58 UTC, a Thursday */
#define EPOCH 1709251198

typedef struct {
    Rtc146818 *rtc;
    uint64_t now;
    int level, edges;
} Fixture;

static uint64_t fake_now(void *opaque) { return ((Fixture *)opaque)->now; }
static void fake_irq(void *opaque, int line, int level)
{
    Fixture *f = opaque;
    assert_int_equal(line, 8);
    if (level && !f->level)
        f->edges++;
    f->level = level;
}

static int setup(void **state)
{
    static Fixture f;
    memset(&f, 0, sizeof(f));
    const DevClock clock = {fake_now, &f};
    const IrqLine irq8 = {fake_irq, &f, 8};
    f.rtc = rtc_create(&irq8, &clock, EPOCH, 64ull << 20, NULL, NULL);
    assert_non_null(f.rtc);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    rtc_destroy(((Fixture *)*state)->rtc);
    return 0;
}

static uint8_t cmos(Fixture *f, uint8_t index)
{
    uint32_t v = 0;
    assert_int_equal(rtc_io_write(0x70, 1, index, f->rtc), 0);
    assert_int_equal(rtc_io_read(0x71, 1, &v, f->rtc), 0);
    return (uint8_t)v;
}

static void cmos_write(Fixture *f, uint8_t index, uint8_t v)
{
    assert_int_equal(rtc_io_write(0x70, 1, index, f->rtc), 0);
    assert_int_equal(rtc_io_write(0x71, 1, v, f->rtc), 0);
}

static void test_bcd_time_and_rollover(void **state)
{
    Fixture *f = *state;
    assert_int_equal(cmos(f, 0x00), 0x58);
    assert_int_equal(cmos(f, 0x02), 0x59);
    assert_int_equal(cmos(f, 0x04), 0x23);
    assert_int_equal(cmos(f, 0x07), 0x29);
    assert_int_equal(cmos(f, 0x08), 0x02);
    assert_int_equal(cmos(f, 0x09), 0x24);
    assert_int_equal(cmos(f, 0x32), 0x20);
    assert_int_equal(cmos(f, 0x06), 5);   /* Thursday: day 5, Sunday = 1 */
    f->now = 2 * NS;                      /* leap day ends */
    assert_int_equal(cmos(f, 0x07), 0x01);
    assert_int_equal(cmos(f, 0x08), 0x03);
    assert_int_equal(cmos(f, 0x04), 0x00);
}

static void test_binary_and_12_hour(void **state)
{
    Fixture *f = *state;
    cmos_write(f, 0x0B, 0x04);            /* binary, 12 h */
    assert_int_equal(cmos(f, 0x00), 58);
    assert_int_equal(cmos(f, 0x04), 0x80 | 11);   /* 11 PM */
    cmos_write(f, 0x0B, 0x00);            /* BCD, 12 h */
    assert_int_equal(cmos(f, 0x04), 0x91);
}

static void test_uip_and_register_d(void **state)
{
    Fixture *f = *state;
    f->now = 500000000;
    assert_int_equal(cmos(f, 0x0A) & 0x80, 0);
    f->now = NS - 100000;                 /* within 244 us of the update */
    assert_int_equal(cmos(f, 0x0A) & 0x80, 0x80);
    assert_int_equal(cmos(f, 0x0A) & 0x7F, 0x26);
    assert_int_equal(cmos(f, 0x0D), 0x80);
}

static void test_periodic_interrupt(void **state)
{
    Fixture *f = *state;
    cmos_write(f, 0x0A, 0x26);            /* rate 6: 1024 Hz */
    cmos_write(f, 0x0B, 0x42);            /* PIE, 24 h */
    uint64_t next = rtc_advance(f->rtc, f->now);
    assert_true(next > 976000 && next < 977000);   /* 976.5625 us */
    assert_int_equal(f->edges, 0);
    f->now = next;
    rtc_advance(f->rtc, f->now);
    assert_int_equal(f->edges, 1);
    assert_int_equal(cmos(f, 0x0C), 0xC0);   /* IRQF | PF, and the read clears them */
    assert_int_equal(f->level, 0);
    assert_int_equal(cmos(f, 0x0C), 0x00);
}

static void test_update_and_alarm_interrupts(void **state)
{
    Fixture *f = *state;
    cmos_write(f, 0x01, 0x59);            /* alarm at xx:xx:59 */
    cmos_write(f, 0x03, 0xC0);            /* any minute */
    cmos_write(f, 0x05, 0xC0);            /* any hour */
    cmos_write(f, 0x0B, 0x32);            /* AIE, UIE, 24 h */
    uint64_t next = rtc_advance(f->rtc, f->now);
    assert_int_equal(next, NS);
    f->now = NS;
    rtc_advance(f->rtc, f->now);
    assert_int_equal(f->edges, 1);
    /* IRQF | AF | UF at 23:59:59; PF too: it is set at the periodic rate whether or not
     * PIE is (the data sheet's register C). */
    assert_int_equal(cmos(f, 0x0C), 0xF0);
}

static void test_set_time(void **state)
{
    Fixture *f = *state;
    cmos_write(f, 0x0B, 0x82);            /* SET: the clock stops updating */
    cmos_write(f, 0x00, 0x30);
    cmos_write(f, 0x02, 0x15);
    cmos_write(f, 0x04, 0x08);
    cmos_write(f, 0x07, 0x01);
    cmos_write(f, 0x08, 0x06);
    cmos_write(f, 0x09, 0x25);
    f->now = 5 * NS;
    assert_int_equal(cmos(f, 0x00), 0x30);
    cmos_write(f, 0x0B, 0x02);            /* runs again from 2025-06-01 08:15:30 */
    f->now = 7 * NS;
    assert_int_equal(cmos(f, 0x00), 0x32);
    assert_int_equal(cmos(f, 0x02), 0x15);
    assert_int_equal(cmos(f, 0x09), 0x25);
}

static void test_cmos_memory_and_nmi_bit(void **state)
{
    Fixture *f = *state;
    uint8_t lo = cmos(f, 0x15);
    uint8_t hi = cmos(f, 0x16);
    assert_int_equal(lo | hi << 8, 640);
    lo = cmos(f, 0x17);
    hi = cmos(f, 0x18);
    assert_int_equal(lo | hi << 8, 63 * 1024);   /* 64 MiB - 1 MiB, in KiB */
    lo = cmos(f, 0x30);
    hi = cmos(f, 0x31);
    assert_int_equal(lo | hi << 8, 63 * 1024);
    lo = cmos(f, 0x34);
    hi = cmos(f, 0x35);
    assert_int_equal(lo | hi << 8, (48 << 20) / 65536);
    cmos_write(f, 0x40, 0xA5);            /* plain CMOS RAM */
    assert_int_equal(cmos(f, 0x40), 0xA5);
    assert_false(rtc_nmi_disabled(f->rtc));
    assert_int_equal(rtc_io_write(0x70, 1, 0x80 | 0x40, f->rtc), 0);
    assert_true(rtc_nmi_disabled(f->rtc));
    uint32_t v;
    assert_int_equal(rtc_io_read(0x71, 1, &v, f->rtc), 0);
    assert_int_equal(v, 0xA5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bcd_time_and_rollover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_binary_and_12_hour, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uip_and_register_d, setup, teardown),
        cmocka_unit_test_setup_teardown(test_periodic_interrupt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_and_alarm_interrupts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cmos_memory_and_nmi_bit, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
