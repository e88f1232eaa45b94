/* Unit tests for the 8259A pair (src/dev/i8259.c), against the Intel 8259A data sheet. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dev/i8259.h"

typedef struct {
    Pic8259 *pic;
    int notified;
} Fixture;

static void on_int(void *opaque) { ((Fixture *)opaque)->notified++; }

static void out8(Pic8259 *pic, uint16_t port, uint8_t v)
{
    if (port >= PIC_ELCR_BASE)
        assert_int_equal(pic_elcr_write(port, 1, v, pic), 0);
    else
        assert_int_equal(pic_io_write(port, 1, v, pic), 0);
}

static uint8_t in8(Pic8259 *pic, uint16_t port)
{
    uint32_t v = 0xDEAD;
    if (port >= PIC_ELCR_BASE)
        assert_int_equal(pic_elcr_read(port, 1, &v, pic), 0);
    else
        assert_int_equal(pic_io_read(port, 1, &v, pic), 0);
    assert_true(v <= 0xFF);
    return (uint8_t)v;
}

/* What a PC BIOS does: cascade, edge, ICW4; vectors 0x08 and 0x70; 8086 mode. */
static void bios_init(Pic8259 *pic, uint8_t icw4)
{
    out8(pic, 0x20, 0x11);
    out8(pic, 0xA0, 0x11);
    out8(pic, 0x21, 0x08);
    out8(pic, 0xA1, 0x70);
    out8(pic, 0x21, 0x04);
    out8(pic, 0xA1, 0x02);
    out8(pic, 0x21, icw4);
    out8(pic, 0xA1, icw4);
    out8(pic, 0x21, 0x00);
    out8(pic, 0xA1, 0x00);
}

static int setup(void **state)
{
    static Fixture f;
    memset(&f, 0, sizeof(f));
    f.pic = pic_create(on_int, &f);
    assert_non_null(f.pic);
    bios_init(f.pic, 0x01);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    pic_destroy(((Fixture *)*state)->pic);
    return 0;
}

static void pulse(Pic8259 *pic, int irq)
{
    pic_set_irq(pic, irq, 1);
    pic_set_irq(pic, irq, 0);
}

static void test_init_and_vectors(void **state)
{
    Fixture *f = *state;
    PicChipState s;
    pic_chip_state(f->pic, 0, &s);
    assert_int_equal(s.irq_base, 0x08);
    assert_int_equal(s.init_step, 0);
    pic_chip_state(f->pic, 1, &s);
    assert_int_equal(s.irq_base, 0x70);
    assert_false(pic_interrupt_pending(f->pic));
    pulse(f->pic, 0);
    assert_true(pic_interrupt_pending(f->pic));
    assert_int_equal(f->notified, 1);
    assert_int_equal(pic_acknowledge(f->pic), 0x08);
    assert_false(pic_interrupt_pending(f->pic));
    /* ISR holds IRQ0 until EOI: read through OCW3 RR|RIS. */
    out8(f->pic, 0x20, 0x0B);
    assert_int_equal(in8(f->pic, 0x20), 0x01);
    out8(f->pic, 0x20, 0x20);   /* non-specific EOI */
    assert_int_equal(in8(f->pic, 0x20), 0x00);
    out8(f->pic, 0x20, 0x0A);   /* back to IRR */
    assert_int_equal(in8(f->pic, 0x20), 0x00);
}

static void test_slave_cascade(void **state)
{
    Fixture *f = *state;
    pulse(f->pic, 12);
    assert_true(pic_interrupt_pending(f->pic));
    assert_int_equal(pic_acknowledge(f->pic), 0x74);
    PicChipState m, s;
    pic_chip_state(f->pic, 0, &m);
    pic_chip_state(f->pic, 1, &s);
    assert_int_equal(m.isr, 0x04);   /* IR2 in service on the master */
    assert_int_equal(s.isr, 0x10);   /* IR4 on the slave */
    out8(f->pic, 0xA0, 0x20);
    out8(f->pic, 0x20, 0x20);
    pic_chip_state(f->pic, 0, &m);
    pic_chip_state(f->pic, 1, &s);
    assert_int_equal(m.isr | s.isr, 0);
}

static void test_mask_and_priority(void **state)
{
    Fixture *f = *state;
    out8(f->pic, 0x21, 0x01);          /* OCW1: mask IRQ0 */
    assert_int_equal(in8(f->pic, 0x21), 0x01);
    pulse(f->pic, 0);
    assert_false(pic_interrupt_pending(f->pic));
    assert_int_equal(in8(f->pic, 0x20), 0x01);   /* but it is requested (IRR) */
    pulse(f->pic, 3);
    pulse(f->pic, 5);
    assert_int_equal(pic_acknowledge(f->pic), 0x0B);   /* IRQ3 before IRQ5 */
    /* IRQ5 is lower than IRQ3 in service: it waits. */
    assert_false(pic_interrupt_pending(f->pic));
    out8(f->pic, 0x21, 0x00);   /* unmask IRQ0: higher than IRQ3, nests */
    assert_true(pic_interrupt_pending(f->pic));
    assert_int_equal(pic_acknowledge(f->pic), 0x08);
    out8(f->pic, 0x20, 0x20);   /* EOI: the highest in service, IRQ0 */
    out8(f->pic, 0x20, 0x0B);
    assert_int_equal(in8(f->pic, 0x20), 0x08);
    out8(f->pic, 0x20, 0x63);   /* specific EOI for level 3 */
    assert_int_equal(in8(f->pic, 0x20), 0x00);
    assert_int_equal(pic_acknowledge(f->pic), 0x0D);
}

static void test_rotation(void **state)
{
    Fixture *f = *state;
    out8(f->pic, 0x20, 0xC4);   /* set priority: IR4 lowest, IR5 highest */
    PicChipState s;
    pic_chip_state(f->pic, 0, &s);
    assert_int_equal(s.priority_add, 5);
    pulse(f->pic, 1);
    pulse(f->pic, 6);
    assert_int_equal(pic_acknowledge(f->pic), 0x0E);   /* IR6 beats IR1 now */
    out8(f->pic, 0x20, 0xA0);   /* rotate on non-specific EOI: IR6 becomes lowest */
    pic_chip_state(f->pic, 0, &s);
    assert_int_equal(s.priority_add, 7);
    assert_int_equal(s.isr, 0);
    assert_int_equal(pic_acknowledge(f->pic), 0x09);
    out8(f->pic, 0x20, 0xE1);   /* rotate on specific EOI, level 1 */
    pic_chip_state(f->pic, 0, &s);
    assert_int_equal(s.priority_add, 2);
}

static void test_auto_eoi(void **state)
{
    Fixture *f = *state;
    bios_init(f->pic, 0x03);    /* ICW4: AEOI */
    out8(f->pic, 0x20, 0x80);   /* rotate in AEOI mode */
    pulse(f->pic, 4);
    assert_int_equal(pic_acknowledge(f->pic), 0x0C);
    PicChipState s;
    pic_chip_state(f->pic, 0, &s);
    assert_int_equal(s.isr, 0);
    assert_int_equal(s.priority_add, 5);
}

static void test_poll_and_spurious(void **state)
{
    Fixture *f = *state;
    out8(f->pic, 0x20, 0x0C);   /* OCW3 poll */
    assert_int_equal(in8(f->pic, 0x20), 0x00);
    pulse(f->pic, 7);
    out8(f->pic, 0x20, 0x0C);
    assert_int_equal(in8(f->pic, 0x20), 0x87);
    out8(f->pic, 0x20, 0x20);
    /* An INTA with nothing left is the spurious IRQ7 (no ISR bit) or IRQ15. */
    assert_int_equal(pic_acknowledge(f->pic), 0x0F);
    PicChipState s;
    pic_chip_state(f->pic, 0, &s);
    assert_int_equal(s.isr, 0);
}

static void test_special_mask(void **state)
{
    Fixture *f = *state;
    pulse(f->pic, 3);
    assert_int_equal(pic_acknowledge(f->pic), 0x0B);
    pulse(f->pic, 5);
    assert_false(pic_interrupt_pending(f->pic));
    out8(f->pic, 0x21, 0x08);   /* mask the level in service */
    out8(f->pic, 0x20, 0x68);   /* OCW3: set special mask mode */
    assert_true(pic_interrupt_pending(f->pic));   /* lower levels get through */
    assert_int_equal(pic_acknowledge(f->pic), 0x0D);
}

static void test_elcr_level(void **state)
{
    Fixture *f = *state;
    out8(f->pic, 0x4D1, 0xFF);
    assert_int_equal(in8(f->pic, 0x4D1), 0xDE);   /* IRQ8 and IRQ13 stay edge */
    out8(f->pic, 0x4D0, 0xFF);
    assert_int_equal(in8(f->pic, 0x4D0), 0xF8);
    pic_set_irq(f->pic, 11, 1);                    /* level: held high */
    assert_int_equal(pic_acknowledge(f->pic), 0x73);
    out8(f->pic, 0xA0, 0x20);
    out8(f->pic, 0x20, 0x20);
    assert_true(pic_interrupt_pending(f->pic));    /* still high: requested again */
    pic_set_irq(f->pic, 11, 0);
    /* The master latched the cascade's edge; the slave's request is gone by INTA: the
     * slave answers with its spurious IRQ15 vector. */
    assert_int_equal(pic_acknowledge(f->pic), 0x77);
    out8(f->pic, 0x20, 0x20);
    assert_false(pic_interrupt_pending(f->pic));
    uint64_t counts[PIC_IRQ_LINES];
    pic_irq_counts(f->pic, counts);
    assert_int_equal(counts[11], 1);
}

static void test_edge_needs_a_new_edge(void **state)
{
    Fixture *f = *state;
    pic_set_irq(f->pic, 4, 1);
    assert_int_equal(pic_acknowledge(f->pic), 0x0C);
    out8(f->pic, 0x20, 0x20);
    pic_set_irq(f->pic, 4, 1);   /* still high: no new request */
    assert_false(pic_interrupt_pending(f->pic));
}

static void test_info_format(void **state)
{
    Fixture *f = *state;
    pulse(f->pic, 1);
    char buf[512] = "";
    FILE *m = fmemopen(buf, sizeof(buf), "w");
    pic_print_info(f->pic, m);
    fclose(m);
    assert_string_equal(buf,
        "pic0: irr=02 imr=00 isr=00 hprio=0 irq_base=08 rr_sel=0 elcr=00 fnm=0\n"
        "pic1: irr=00 imr=00 isr=00 hprio=0 irq_base=70 rr_sel=0 elcr=00 fnm=0\n");
}

/* Before its first ICW sequence a chip raises nothing (firmware that never programs it). */
static void test_uninitialised_is_silent(void **state)
{
    (void)state;
    Pic8259 *pic = pic_create(NULL, NULL);
    assert_non_null(pic);
    pulse(pic, 1);
    assert_false(pic_interrupt_pending(pic));
    bios_init(pic, 0x01);
    pulse(pic, 1);
    assert_true(pic_interrupt_pending(pic));
    pic_destroy(pic);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_init_and_vectors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slave_cascade, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mask_and_priority, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auto_eoi, setup, teardown),
        cmocka_unit_test_setup_teardown(test_poll_and_spurious, setup, teardown),
        cmocka_unit_test_setup_teardown(test_special_mask, setup, teardown),
        cmocka_unit_test_setup_teardown(test_elcr_level, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edge_needs_a_new_edge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_info_format, setup, teardown),
        cmocka_unit_test(test_uninitialised_is_silent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
