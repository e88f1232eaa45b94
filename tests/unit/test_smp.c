/* SMP (issue 29): a VM of several vCPUs on the sim backend, its interrupt routing seen
 * from the platform's side: the APIC IDs and the BSP flag, CPUID's initial APIC ID,
 * messages by physical and logical (flat, cluster) destination, lowest priority,
 * broadcast, the IOAPIC's destination field, the ICR's IPIs (fixed with each shorthand,
 * NMI, INIT and SIPI with the wait-for-SIPI state), and the firmware's CPU count. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hypervisor_sim.h"
#include "vmm/platform.h"

#define NCPUS 4
#define APIC_REG(off) (MACHINE_LAPIC_BASE + (off))
#define APIC_ID_REG 0x20
#define APIC_LDR 0xD0
#define APIC_DFR 0xE0
#define APIC_SVR 0xF0
#define APIC_ESR 0x280
#define APIC_ICR_LO 0x300
#define APIC_ICR_HI 0x310
#define DFR_FLAT 0xFFFFFFFFu
#define DFR_CLUSTER 0x0FFFFFFFu

static int setup(void **state)
{
    SimpleVM *svm = vm_create_backend(16, HV_BACKEND_SIM);
    if (!svm || vm_set_cpus(svm, NCPUS) < 0)
        return -1;
    /* Every APIC software-enabled (spurious vector 0xFF), as an OS leaves them. */
    for (unsigned i = 0; i < NCPUS; i++)
        lapic_mmio_write(APIC_REG(APIC_SVR), 4, 0x1FF, svm->platform->cpu[i].lapic);
    *state = svm;
    return 0;
}

static int teardown(void **state)
{
    vm_destroy(*state);
    return 0;
}

static Lapic *apic(SimpleVM *svm, unsigned i) { return svm->platform->cpu[i].lapic; }

/* Which vCPUs have `vector` pending (a bit each), taking it (INTA) so tests start clean. */
static unsigned took(SimpleVM *svm, int vector)
{
    unsigned mask = 0;
    for (unsigned i = 0; i < NCPUS; i++) {
        if (lapic_pending_vector(apic(svm, i)) == vector) {
            mask |= 1u << i;
            assert_int_equal(lapic_acknowledge(apic(svm, i)), vector);
            lapic_mmio_write(APIC_REG(0xB0), 4, 0, apic(svm, i));   /* EOI */
        }
    }
    return mask;
}

static void deliver(SimpleVM *svm, unsigned mode, int vector, uint8_t dest, bool logical)
{
    IoApicMessage m = {.vector = vector, .dest = dest, .logical = logical, .mode = mode};
    platform_deliver(svm->platform, -1, 0, &m);
}

static void test_ids_and_firmware(void **state)
{
    SimpleVM *svm = *state;
    assert_int_equal(svm->num_vcpus, NCPUS);
    assert_ptr_equal(svm->vcpus[0], svm->vcpu);
    for (unsigned i = 0; i < NCPUS; i++) {
        assert_int_equal(lapic_id(apic(svm, i)), i);
        uint64_t id;
        lapic_mmio_read(APIC_REG(APIC_ID_REG), 4, &id, apic(svm, i));
        assert_int_equal(id, (uint64_t)i << 24);
        uint32_t r[4];
        assert_int_equal(kvm_vcpu_get_cpuid(svm->vcpus[i], 1, 0, r), 0);
        assert_int_equal(r[1] >> 24, i);   /* CPUID.1:EBX[31:24], the initial APIC ID */
        KvmSregs s;
        assert_int_equal(kvm_get_sregs(svm->vcpus[i], &s), 0);
        assert_int_equal((s.apic_base >> 8) & 1, i == 0);   /* IA32_APIC_BASE.BSP */
        /* The APs wait for a SIPI from the start. */
        assert_int_equal(svm->platform->cpu[i].wait_sipi, i != 0);
        assert_int_equal(platform_cpu_ready(svm->platform, i), i == 0);
    }
    assert_int_equal(svm->platform->machine.cpus, NCPUS);
    /* fw_cfg's FW_CFG_NB_CPUS (key 5) through its ports, as firmware reads it */
    uint32_t lo, hi;
    assert_int_equal(io_bus_out(svm->io_bus, 0x510, 2, 5), 0);
    assert_int_equal(io_bus_in(svm->io_bus, 0x511, 1, &lo), 0);
    assert_int_equal(io_bus_in(svm->io_bus, 0x511, 1, &hi), 0);
    assert_int_equal(lo | hi << 8, NCPUS);
    /* vCPUs are chosen once */
    assert_int_equal(vm_set_cpus(svm, 2), -EBUSY);
    assert_int_equal(vm_set_cpus(svm, VM_MAX_VCPUS + 1), -EINVAL);
}

static void test_physical_and_broadcast(void **state)
{
    SimpleVM *svm = *state;
    deliver(svm, IOAPIC_DM_FIXED, 0x50, 2, false);
    assert_int_equal(took(svm, 0x50), 1u << 2);
    deliver(svm, IOAPIC_DM_FIXED, 0x51, 0xFF, false);
    assert_int_equal(took(svm, 0x51), 0xF);
    deliver(svm, IOAPIC_DM_FIXED, 0x52, 7, false);   /* nobody has ID 7 */
    assert_int_equal(took(svm, 0x52), 0);
    /* lowest priority: one vCPU of the set, the lowest-numbered (documented choice) */
    for (unsigned i = 0; i < NCPUS; i++) {
        lapic_mmio_write(APIC_REG(APIC_DFR), 4, DFR_FLAT, apic(svm, i));
        lapic_mmio_write(APIC_REG(APIC_LDR), 4, (1u << i) << 24, apic(svm, i));
    }
    deliver(svm, IOAPIC_DM_LOWEST, 0x53, 0x0C, true);
    assert_int_equal(took(svm, 0x53), 1u << 2);
    /* NMI by destination */
    deliver(svm, IOAPIC_DM_NMI, 0, 3, false);
    for (unsigned i = 0; i < NCPUS; i++)
        assert_int_equal(lapic_take_nmi(apic(svm, i)), i == 3);
}

static void test_logical(void **state)
{
    SimpleVM *svm = *state;
    for (unsigned i = 0; i < NCPUS; i++) {
        lapic_mmio_write(APIC_REG(APIC_DFR), 4, DFR_FLAT, apic(svm, i));
        lapic_mmio_write(APIC_REG(APIC_LDR), 4, (1u << i) << 24, apic(svm, i));
    }
    deliver(svm, IOAPIC_DM_FIXED, 0x60, 0x0A, true);   /* flat: bits 1 and 3 */
    assert_int_equal(took(svm, 0x60), 0xA);
    deliver(svm, IOAPIC_DM_FIXED, 0x61, 0x02, false);  /* the same byte, physical: ID 2 */
    assert_int_equal(took(svm, 0x61), 1u << 2);
    /* cluster: vCPUs 0, 1 in cluster 1 (bits 0, 1), vCPUs 2, 3 in cluster 2 (bits 0, 1) */
    for (unsigned i = 0; i < NCPUS; i++) {
        lapic_mmio_write(APIC_REG(APIC_DFR), 4, DFR_CLUSTER, apic(svm, i));
        uint32_t ldr = ((1u + i / 2) << 4) | (1u << (i % 2));
        lapic_mmio_write(APIC_REG(APIC_LDR), 4, ldr << 24, apic(svm, i));
    }
    deliver(svm, IOAPIC_DM_FIXED, 0x62, 0x22, true);   /* cluster 2, member bit 1: vCPU 3 */
    assert_int_equal(took(svm, 0x62), 1u << 3);
    deliver(svm, IOAPIC_DM_FIXED, 0x63, 0x13, true);   /* cluster 1, both: vCPUs 0, 1 */
    assert_int_equal(took(svm, 0x63), 0x3);
}

/* The IOAPIC's redirection entry names the destination (82093AA 3.2.4). */
static void test_ioapic_destination(void **state)
{
    SimpleVM *svm = *state;
    IoApic *io = svm->platform->ioapic;
    const int pin = 10;
    /* entry: vector 0x70, fixed, physical, edge, unmasked, destination 1 */
    ioapic_mmio_write(MACHINE_IOAPIC_BASE, 4, 0x10 + 2 * pin, io);
    ioapic_mmio_write(MACHINE_IOAPIC_BASE + 0x10, 4, 0x70, io);
    ioapic_mmio_write(MACHINE_IOAPIC_BASE, 4, 0x10 + 2 * pin + 1, io);
    ioapic_mmio_write(MACHINE_IOAPIC_BASE + 0x10, 4, 1u << 24, io);
    ioapic_set_irq(io, pin, 1);
    ioapic_set_irq(io, pin, 0);
    assert_int_equal(took(svm, 0x70), 1u << 1);
    /* logical flat destination 0x0C */
    for (unsigned i = 0; i < NCPUS; i++) {
        lapic_mmio_write(APIC_REG(APIC_DFR), 4, DFR_FLAT, apic(svm, i));
        lapic_mmio_write(APIC_REG(APIC_LDR), 4, (1u << i) << 24, apic(svm, i));
    }
    ioapic_mmio_write(MACHINE_IOAPIC_BASE, 4, 0x10 + 2 * pin, io);
    ioapic_mmio_write(MACHINE_IOAPIC_BASE + 0x10, 4, 0x71 | 0x800, io);
    ioapic_mmio_write(MACHINE_IOAPIC_BASE, 4, 0x10 + 2 * pin + 1, io);
    ioapic_mmio_write(MACHINE_IOAPIC_BASE + 0x10, 4, 0x0Cu << 24, io);
    ioapic_set_irq(io, pin, 1);
    ioapic_set_irq(io, pin, 0);
    assert_int_equal(took(svm, 0x71), 0xC);
}

/* An ICR write on vCPU `from`'s APIC page (the run loop's current vCPU). */
static void icr(SimpleVM *svm, unsigned from, uint32_t hi, uint32_t lo)
{
    svm->cur_vcpu = from;
    lapic_mmio_write(APIC_REG(APIC_ICR_HI), 4, hi, apic(svm, from));
    lapic_mmio_write(APIC_REG(APIC_ICR_LO), 4, lo, apic(svm, from));
    svm->cur_vcpu = 0;
}

static void test_icr(void **state)
{
    SimpleVM *svm = *state;
    icr(svm, 1, 2u << 24, 0x80);              /* fixed, physical 2 */
    assert_int_equal(took(svm, 0x80), 1u << 2);
    icr(svm, 1, 0, 0x40000 | 0x81);           /* self */
    assert_int_equal(took(svm, 0x81), 1u << 1);
    icr(svm, 1, 0, 0x80000 | 0x82);           /* all including self */
    assert_int_equal(took(svm, 0x82), 0xF);
    icr(svm, 1, 0, 0xC0000 | 0x83);           /* all excluding self */
    assert_int_equal(took(svm, 0x83), 0xD);
    icr(svm, 2, 0, 0xC0000 | 0x400);          /* NMI to all excluding self */
    for (unsigned i = 0; i < NCPUS; i++)
        assert_int_equal(lapic_take_nmi(apic(svm, i)), i != 2);
    /* an illegal vector is not sent; the sender's ESR says so (SDM Vol. 3A, 11.5.3) */
    icr(svm, 0, 1u << 24, 0x05);
    assert_int_equal(took(svm, 0x05), 0);
    lapic_mmio_write(APIC_REG(APIC_ESR), 4, 0, apic(svm, 0));
    uint64_t esr;
    lapic_mmio_read(APIC_REG(APIC_ESR), 4, &esr, apic(svm, 0));
    assert_int_equal(esr & 0x20, 0x20);       /* send illegal vector */
}

static void test_init_sipi(void **state)
{
    SimpleVM *svm = *state;
    VmPlatform *p = svm->platform;
    assert_false(platform_cpu_ready(p, 3));   /* waits for a SIPI */
    icr(svm, 0, 3u << 24, 0x4600 | 0x12);     /* SIPI, vector 0x12, to APIC 3 */
    assert_true(platform_cpu_ready(p, 3));
    KvmSregs s;
    KvmRegs r;
    assert_int_equal(kvm_get_sregs(svm->vcpus[3], &s), 0);
    assert_int_equal(kvm_get_regs(svm->vcpus[3], &r), 0);
    assert_int_equal(s.cs.selector, 0x1200);
    assert_int_equal(s.cs.base, 0x12000);
    assert_int_equal(r.rip, 0);
    assert_int_equal(s.cr0 & 1, 0);           /* real mode */
    /* a second SIPI to a started AP is ignored */
    r.rip = 0x1234;
    kvm_set_regs(svm->vcpus[3], &r);
    icr(svm, 0, 3u << 24, 0x4600 | 0x13);
    assert_true(platform_cpu_ready(p, 3));
    assert_int_equal(kvm_get_regs(svm->vcpus[3], &r), 0);
    assert_int_equal(r.rip, 0x1234);
    /* INIT (assert) sends it back to waiting; INIT de-assert does nothing */
    icr(svm, 0, 3u << 24, 0x8500);            /* level, de-assert */
    assert_true(platform_cpu_ready(p, 3));
    icr(svm, 0, 3u << 24, 0x4500);            /* INIT, assert */
    assert_false(platform_cpu_ready(p, 3));
    assert_true(p->cpu[3].wait_sipi);
    icr(svm, 0, 3u << 24, 0x4600 | 0x20);
    assert_true(platform_cpu_ready(p, 3));
    assert_int_equal(kvm_get_sregs(svm->vcpus[3], &s), 0);
    assert_int_equal(s.cs.base, 0x20000);
    /* vCPU 0 never waits for a SIPI (an INIT restarts it at the reset vector) */
    assert_true(platform_cpu_ready(p, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ids_and_firmware, setup, teardown),
        cmocka_unit_test_setup_teardown(test_physical_and_broadcast, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logical, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ioapic_destination, setup, teardown),
        cmocka_unit_test_setup_teardown(test_icr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_init_sipi, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
