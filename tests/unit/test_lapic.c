/* Unit tests for the local APIC (src/dev/lapic.c), against the Intel SDM Vol. 3A,
 * chapter 11: interprocessor interrupts through the ICR to this APIC. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dev/lapic.h"

#define APIC_SVR 0x0F0
#define APIC_ICR_LO 0x300
#define APIC_ICR_HI 0x310
#define SVR_ENABLE (1u << 8)
#define ICR_DM_FIXED (0u << 8)
#define ICR_DM_NMI (4u << 8)
#define ICR_ASSERT (1u << 14)
#define ICR_SELF (1u << 18)       /* destination shorthand 01b */
#define ICR_ALL_BUT_SELF (3u << 18)

typedef struct {
    Lapic *apic;
    int notified;
} Fixture;

static uint64_t zero_clock(void *opaque)
{
    (void)opaque;
    return 0;
}

static void on_notify(void *opaque) { ((Fixture *)opaque)->notified++; }

static int setup(void **state)
{
    static Fixture f;
    memset(&f, 0, sizeof(f));
    const DevClock clock = {zero_clock, NULL};
    f.apic = lapic_create(0, &clock, on_notify, NULL, NULL, &f);
    assert_non_null(f.apic);
    lapic_set_global_enable(f.apic, true);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    lapic_destroy(((Fixture *)*state)->apic);
    return 0;
}

static void wr(Lapic *a, uint32_t off, uint32_t v)
{
    assert_int_equal(lapic_mmio_write(LAPIC_BASE + off, 4, v, a), 0);
}

/* Delivery mode NMI (SDM Vol. 3A, 11.6.1): the vector field is ignored, nothing enters
 * IRR; the APIC raises the processor's NMI, taken once. */
static void test_nmi_ipi_to_self(void **state)
{
    Fixture *f = *state;
    wr(f->apic, APIC_SVR, SVR_ENABLE | 0xFF);
    assert_false(lapic_nmi_pending(f->apic));
    int before = f->notified;
    /* kvm-unit-tests' apic_self_nmi: physical destination 0 (this APIC's ID), vector 0. */
    wr(f->apic, APIC_ICR_HI, 0);
    wr(f->apic, APIC_ICR_LO, ICR_DM_NMI | ICR_ASSERT);
    assert_true(f->notified > before);
    assert_true(lapic_nmi_pending(f->apic));
    assert_int_equal(lapic_pending_vector(f->apic), -1);
    assert_true(lapic_take_nmi(f->apic));
    assert_false(lapic_take_nmi(f->apic));
    /* The shorthand "self" too. */
    wr(f->apic, APIC_ICR_LO, ICR_DM_NMI | ICR_ASSERT | ICR_SELF);
    assert_true(lapic_take_nmi(f->apic));
}

/* An NMI IPI for another APIC (physical ID 5, or all excluding self) is not this one's. */
static void test_nmi_ipi_elsewhere(void **state)
{
    Fixture *f = *state;
    wr(f->apic, APIC_SVR, SVR_ENABLE | 0xFF);
    wr(f->apic, APIC_ICR_HI, 5u << 24);
    wr(f->apic, APIC_ICR_LO, ICR_DM_NMI | ICR_ASSERT);
    assert_false(lapic_take_nmi(f->apic));
    wr(f->apic, APIC_ICR_HI, 0);
    wr(f->apic, APIC_ICR_LO, ICR_DM_NMI | ICR_ASSERT | ICR_ALL_BUT_SELF);
    assert_false(lapic_take_nmi(f->apic));
}

/* A fixed self-IPI still lands in IRR (and raises no NMI). */
static void test_fixed_ipi_to_self(void **state)
{
    Fixture *f = *state;
    wr(f->apic, APIC_SVR, SVR_ENABLE | 0xFF);
    wr(f->apic, APIC_ICR_LO, ICR_DM_FIXED | ICR_ASSERT | ICR_SELF | 0x41);
    assert_int_equal(lapic_pending_vector(f->apic), 0x41);
    assert_false(lapic_take_nmi(f->apic));
    assert_int_equal(lapic_acknowledge(f->apic), 0x41);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_nmi_ipi_to_self, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nmi_ipi_elsewhere, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fixed_ipi_to_self, setup, teardown),
    };
    return cmocka_run_group_tests_name("lapic", tests, NULL, NULL);
}
