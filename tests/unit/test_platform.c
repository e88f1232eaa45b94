/* The PC platform through whole VMs (src/vmm/platform.c with the devices of src/dev):
 * interrupt-driven guests on every usable backend, the virtual clock's reproducibility,
 * and the monitor's info pic / irq / lapic. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "hypervisor_sim.h"

static const char *guest_dir(void)
{
    const char *env = getenv("SCRATCHVM_GUEST_DIR");
    return env && *env ? env : "build/guests";
}

static uint8_t *read_guest(const char *name, size_t *size)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s.bin", guest_dir(), name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *buf = malloc(65536);
    *size = buf ? fread(buf, 1, 65536, f) : 0;
    fclose(f);
    return buf;
}

typedef struct {
    char monitor[8192];           /* info pic, info irq, info lapic after the run */
    char serial[512];
    VmStopReason stop;
    uint64_t exits;
    uint64_t icount;
    KvmRegs regs;
} RunResult;

/* Runs guest `name` (flat at 0, entered at 0000:0000) on backend b; big_real gives DS a
 * 4 GiB limit. Returns false when the backend cannot create a VM. */
static bool run_guest(const char *name, HvBackend b, bool big_real, VmClockMode clock,
                      uint64_t rbx, RunResult *out)
{
    memset(out, 0, sizeof(*out));
    size_t size;
    uint8_t *image = read_guest(name, &size);
    if (!image) {
        print_message("  %s/%s.bin not found\n", guest_dir(), name);
        return false;
    }
    SimpleVM *svm = vm_create_bytes(16u << 20, b);
    if (!svm) {
        free(image);
        return false;
    }
    int fd = memfd_create("serial", MFD_CLOEXEC);
    assert_true(fd >= 0);
    svm->serial->output_fd = fd;
    assert_int_equal(vm_load_code(svm, image, size, 0), 0);
    free(image);
    svm->vcpu->sregs.cs.selector = 0;
    svm->vcpu->sregs.cs.base = 0;
    svm->vcpu->regs.rip = 0;
    svm->vcpu->regs.rbx = rbx;
    if (big_real)
        svm->vcpu->sregs.ds.limit = 0xFFFFFFFF, svm->vcpu->sregs.ds.g = 1;
    if (clock != VM_CLOCK_HOST)
        assert_int_equal(vm_set_clock(svm, clock), 0);
    svm->max_exits = 100000;
    vm_run(svm);
    out->stop = svm->stop_reason;
    out->exits = svm->exit_count;
    kvm_vcpu_icount(svm->vcpu, &out->icount);
    out->regs = svm->vcpu->regs;
    QemuMonitor *mon = qemu_monitor_create(svm);
    assert_non_null(mon);
    FILE *m = fmemopen(out->monitor, sizeof(out->monitor), "w");
    assert_non_null(m);
    assert_int_equal(qemu_monitor_execute(mon, "info pic", m), 0);
    assert_int_equal(qemu_monitor_execute(mon, "info irq", m), 0);
    assert_int_equal(qemu_monitor_execute(mon, "info lapic", m), 0);
    fclose(m);
    qemu_monitor_destroy(mon);
    ssize_t n = pread(fd, out->serial, sizeof(out->serial) - 1, 0);
    out->serial[n > 0 ? n : 0] = '\0';
    close(fd);
    vm_destroy(svm);
    return true;
}

static void test_lapic_timer_and_self_ipi(void **state)
{
    (void)state;
    const char *want = "lapic ver=00050014 ticks=0064 ipi=0001 isr=00000000\n";
    for (int b = HV_BACKEND_KVM; b <= HV_BACKEND_SIM; b++) {
        RunResult r;
        if (!run_guest("lapic_timer", (HvBackend)b, true, VM_CLOCK_HOST, 0, &r)) {
            print_message("  [%s] no VM on this backend: skipped\n", hv_backend_name(b));
            continue;
        }
        print_message("  [%s] %s", hv_backend_name(b), r.serial);
        assert_int_equal(r.stop, VM_STOP_HLT);
        assert_string_equal(r.serial, want);
    }
}

/* --clock virtual: the same guest makes the same exits at the same instructions. */
static void test_virtual_clock_is_reproducible(void **state)
{
    (void)state;
    const struct { const char *name; bool big_real; } guests[] = {
        {"pit_tick", false}, {"lapic_timer", true},
    };
    for (size_t i = 0; i < sizeof(guests) / sizeof(guests[0]); i++) {
        RunResult a, b;
        assert_true(run_guest(guests[i].name, HV_BACKEND_SIM, guests[i].big_real,
                              VM_CLOCK_VIRTUAL, 0, &a));
        assert_true(run_guest(guests[i].name, HV_BACKEND_SIM, guests[i].big_real,
                              VM_CLOCK_VIRTUAL, 0, &b));
        print_message("  %s: %llu exits, %llu instructions, both runs\n", guests[i].name,
                      (unsigned long long)a.exits, (unsigned long long)a.icount);
        assert_int_equal(a.stop, VM_STOP_HLT);
        assert_string_equal(a.serial, b.serial);
        assert_int_equal(a.exits, b.exits);
        assert_int_equal(a.icount, b.icount);
        assert_memory_equal(&a.regs, &b.regs, sizeof(a.regs));
    }
}

/* The monitor's views of the controllers after the guests ran. */
static void test_info_pic_irq_lapic(void **state)
{
    (void)state;
    RunResult r;
    assert_true(run_guest("pit_tick", HV_BACKEND_SIM, false, VM_CLOCK_VIRTUAL, 0, &r));
    print_message("%s", r.monitor);
    assert_non_null(strstr(r.monitor, "pic0: irr=00 imr=ff isr=00 hprio=0 irq_base=08 rr_sel=0 "
                                      "elcr=00 fnm=0\n"));
    assert_non_null(strstr(r.monitor, "pic1: irr=00 imr=ff isr=00 hprio=0 irq_base=70"));
    assert_non_null(strstr(r.monitor, "IRQ statistics for isa-i8259:\n 0: 100\n"));
    assert_non_null(strstr(r.monitor, "SPIV\t 0x000000ff APIC disabled"));
    assert_true(run_guest("lapic_timer", HV_BACKEND_SIM, true, VM_CLOCK_VIRTUAL, 0, &r));
    print_message("%s", strstr(r.monitor, "dumping"));
    assert_non_null(strstr(r.monitor, "LVTT\t 0x00010040 active-hi edge  masked         "
                                      "one-shot     Fixed  (vec 64)\n"));
    assert_non_null(strstr(r.monitor, "Timer\t DCR=0xb (divide by 1) initial_count = 1000000"));
    assert_non_null(strstr(r.monitor, "SPIV\t 0x000001ff APIC enabled, focus=on, spurious vec 255"));
    assert_non_null(strstr(r.monitor, "ICR\t 0x00040041 physical edge de-assert self\n"));
    assert_non_null(strstr(r.monitor, "ISR\t (none)\nIRR\t (none)\n"));
}

/* Runs `code` at 0000:1000 on backend b; NULL when the backend has no VM here. */
static SimpleVM *run_code(HvBackend b, const uint8_t *code, size_t size)
{
    SimpleVM *svm = vm_create_bytes(16u << 20, b);
    if (!svm)
        return NULL;
    svm->serial->output_fd = -1;
    assert_int_equal(vm_load_code(svm, code, size, 0x1000), 0);
    svm->vcpu->regs.rip = 0x1000;
    svm->max_exits = 1000;
    vm_run(svm);
    return svm;
}

/* Port 0x92 closes the A20 gate: FFFF:0510 (linear 0x100500) then wraps to 0x500 on sim.
 * Linux KVM has no A20 gate: there the write stays at 1 MiB (and the VMM says so). The POST
 * code shows in info status. */
static void test_a20_gate_and_post_code(void **state)
{
    (void)state;
    static const uint8_t code[] = {
        0x31, 0xC0, 0x8E, 0xD8,                    /* xor %ax,%ax; mov %ax,%ds */
        0xC6, 0x06, 0x00, 0x05, 0xAA,              /* movb $0xaa, 0x500 */
        0xB8, 0xFF, 0xFF, 0x8E, 0xC0,              /* mov $0xffff,%ax; mov %ax,%es */
        0x26, 0xC6, 0x06, 0x10, 0x05, 0x55,        /* movb $0x55, %es:0x510 */
        0xE4, 0x92, 0x24, 0xFD, 0xE6, 0x92,        /* in $0x92; and $0xfd; out $0x92 */
        0x26, 0x8A, 0x1E, 0x10, 0x05,              /* mov %es:0x510, %bl */
        0xB0, 0x42, 0xE6, 0x80,                    /* POST code 0x42 */
        0xF4,                                      /* hlt */
    };
    for (int b = HV_BACKEND_KVM; b <= HV_BACKEND_SIM; b++) {
        SimpleVM *svm = run_code((HvBackend)b, code, sizeof(code));
        if (!svm)
            continue;
        assert_int_equal(svm->stop_reason, VM_STOP_HLT);
        uint8_t bl = (uint8_t)svm->vcpu->regs.rbx;
        print_message("  [%s] with A20 closed, FFFF:0510 reads %02x\n", hv_backend_name(b), bl);
        assert_int_equal(bl, b == HV_BACKEND_SIM ? 0xAA : 0x55);
        char buf[256] = "";
        FILE *m = fmemopen(buf, sizeof(buf), "w");
        QemuMonitor *mon = qemu_monitor_create(svm);
        qemu_monitor_execute(mon, "info status", m);
        fclose(m);
        qemu_monitor_destroy(mon);
        assert_non_null(strstr(buf, "POST code: 0x42\n"));
        vm_destroy(svm);
    }
}

static unsigned from_bcd(uint8_t v) { return (v >> 4) * 10u + (v & 0xF); }

/* The RTC says the host's date and time (UTC): the guest reads hours, minutes and seconds
 * (BCD, CMOS 04h, 02h, 00h) into BH, BL, CL. The RTC once counted from the host's boot
 * (CLOCK_MONOTONIC) on top of the wall clock, so a guest's date was ahead by the host's
 * uptime. */
static void test_rtc_is_host_time(void **state)
{
    (void)state;
    static const uint8_t code[] = {
        0xB0, 0x04, 0xE6, 0x70, 0xE4, 0x71, 0x88, 0xC7,   /* hours -> bh */
        0xB0, 0x02, 0xE6, 0x70, 0xE4, 0x71, 0x88, 0xC3,   /* minutes -> bl */
        0xB0, 0x00, 0xE6, 0x70, 0xE4, 0x71, 0x88, 0xC1,   /* seconds -> cl */
        0xF4,
    };
    for (int b = HV_BACKEND_KVM; b <= HV_BACKEND_SIM; b++) {
        time_t before = time(NULL);
        SimpleVM *svm = run_code((HvBackend)b, code, sizeof(code));
        time_t after = time(NULL);
        if (!svm)
            continue;
        assert_int_equal(svm->stop_reason, VM_STOP_HLT);
        long guest = (long)(from_bcd((uint8_t)(svm->vcpu->regs.rbx >> 8)) * 3600u +
                            from_bcd((uint8_t)svm->vcpu->regs.rbx) * 60u +
                            from_bcd((uint8_t)svm->vcpu->regs.rcx));
        /* (the RTC's seconds need not turn with the host's: within a second of it) */
        long lo = (long)(before % 86400) - 1, hi = (long)(after % 86400) + 1;
        print_message("  [%s] RTC %ld s into the day, host %ld-%ld\n", hv_backend_name(b), guest,
                      lo, hi);
        if (hi >= lo)   /* (not across midnight) */
            assert_true(guest >= lo && guest <= hi);
        vm_destroy(svm);
    }
}

/* Port 0x92 bit 0 pulses the reset line: the VM ends as after a triple fault. */
static void test_port92_reset(void **state)
{
    (void)state;
    static const uint8_t code[] = {0xB0, 0x03, 0xE6, 0x92, 0xF4};  /* out 3 -> 0x92; hlt */
    for (int b = HV_BACKEND_KVM; b <= HV_BACKEND_SIM; b++) {
        SimpleVM *svm = run_code((HvBackend)b, code, sizeof(code));
        if (!svm)
            continue;
        assert_int_equal(svm->stop_reason, VM_STOP_SHUTDOWN);
        vm_destroy(svm);
    }
}

/* KVM_NMI on both kernels: vector 2 through the IVT at the next entry, whatever IF. */
static void test_kvm_nmi(void **state)
{
    (void)state;
    static const uint8_t code[] = {
        0x31, 0xC0, 0x8E, 0xD8,                    /* xor %ax,%ax; mov %ax,%ds */
        0xC7, 0x06, 0x08, 0x00, 0x20, 0x10,        /* movw $0x1020, 0x8 (IVT[2].ip) */
        0xC7, 0x06, 0x0A, 0x00, 0x00, 0x00,        /* movw $0, 0xa (IVT[2].cs) */
        0xB3, 0x01,                                /* mov $1, %bl: setup done */
        0xF4,                                      /* hlt (IF=0: ends the VM) */
    };
    static const uint8_t handler[] = {0xB3, 0x42, 0xF4};   /* mov $0x42, %bl; hlt */
    for (int b = HV_BACKEND_KVM; b <= HV_BACKEND_SIM; b++) {
        SimpleVM *svm = run_code((HvBackend)b, code, sizeof(code));
        if (!svm)
            continue;
        assert_int_equal(svm->vcpu->regs.rbx & 0xFF, 1);
        assert_int_equal(vm_load_code(svm, handler, sizeof(handler), 0x1020), 0);
        assert_int_equal(kvm_nmi(svm->vcpu), 0);
        vm_run(svm);
        print_message("  [%s] after KVM_NMI: BL=%02llx, RIP %04llx\n", hv_backend_name(b),
                      svm->vcpu->regs.rbx & 0xFF, svm->vcpu->regs.rip);
        assert_int_equal(svm->vcpu->regs.rbx & 0xFF, 0x42);
        assert_int_equal(svm->stop_reason, VM_STOP_HLT);
        vm_destroy(svm);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lapic_timer_and_self_ipi),
        cmocka_unit_test(test_virtual_clock_is_reproducible),
        cmocka_unit_test(test_info_pic_irq_lapic),
        cmocka_unit_test(test_a20_gate_and_post_code),
        cmocka_unit_test(test_port92_reset),
        cmocka_unit_test(test_rtc_is_host_time),
        cmocka_unit_test(test_kvm_nmi),
    };
    hv_set_log_level(HV_LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
