/* Time and the PC's MSRs on the sim kernel (issue 25): the TSC at a fixed 2 GHz from the
 * VM clock (CPUID 15H/16H/40000010H say so), IA32_TSC and IA32_TSC_ADJUST, kvm-clock's
 * structures in guest memory, the APIC's TSC-deadline timer, CPUID.1:EDX.APIC following
 * IA32_APIC_BASE.EN, and the MSRs Linux and Windows read at boot (microcode revision,
 * platform ID, MTRRs with their #GP rules, feature control, MISC_ENABLE). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "hypervisor_sim.h"
#include "sim/sim_time.h"

/* ---- the pure parts (sim/sim_time.c) ---- */

static void test_tsc_rate(void **state)
{
    (void)state;
    assert_int_equal(sim_ns_to_tsc(0), 0);
    assert_int_equal(sim_ns_to_tsc(1), 2);
    assert_int_equal(sim_ns_to_tsc(1000000000ull), 2000000000ull);
    assert_int_equal(sim_tsc_to_ns(2000000000ull), 1000000000ull);
    assert_int_equal(sim_tsc_to_ns(3), 1);   /* rounded down */
    /* a century of nanoseconds does not overflow the conversion */
    uint64_t century = 100ull * 365 * 86400 * 1000000000ull;
    assert_int_equal(sim_tsc_to_ns(sim_ns_to_tsc(century)), century);
}

/* struct pvclock_vcpu_time_info's layout (msr.rst) and the guest's extrapolation. */
static void test_pvclock_image(void **state)
{
    (void)state;
    uint8_t img[PVCLOCK_VCPU_SIZE];
    sim_pvclock_vcpu_image(img, 4, 0x1000, 5000, PVCLOCK_TSC_STABLE_BIT);
    uint32_t version, mul;
    uint64_t tsc, sys;
    memcpy(&version, img, 4);
    memcpy(&tsc, img + 8, 8);
    memcpy(&sys, img + 16, 8);
    memcpy(&mul, img + 24, 4);
    assert_int_equal(version, 4);
    assert_int_equal(tsc, 0x1000);
    assert_int_equal(sys, 5000);
    assert_int_equal(mul, 0x80000000u);   /* 2 GHz: half a nanosecond per tick */
    assert_int_equal((int8_t)img[28], 0);
    assert_int_equal(img[29], PVCLOCK_TSC_STABLE_BIT);
    assert_int_equal(sim_pvclock_read(img, 0x1000), 5000);
    assert_int_equal(sim_pvclock_read(img, 0x1000 + 2000000000ull), 5000 + 1000000000ull);

    uint8_t wall[PVCLOCK_WALL_SIZE];
    sim_pvclock_wall_image(wall, 2, 946684800ull * 1000000000ull + 123);
    uint32_t w[3];
    memcpy(w, wall, sizeof w);
    assert_int_equal(w[0], 2);
    assert_int_equal(w[1], 946684800u);
    assert_int_equal(w[2], 123);
}

/* WRMSR to an MTRR: valid memory types only, no reserved bit (SDM Vol. 3A, 12.11). */
static void test_mtrr_valid(void **state)
{
    (void)state;
    assert_true(sim_mtrr_valid(0x2FF, 0xC06));
    assert_true(sim_mtrr_valid(0x2FF, 0));
    assert_false(sim_mtrr_valid(0x2FF, 0xC02));           /* type 2 is reserved */
    assert_false(sim_mtrr_valid(0x2FF, 0x1006));          /* bit 12 reserved */
    assert_false(sim_mtrr_valid(0x2FF, 0x306));           /* bits 9:8 reserved */
    assert_true(sim_mtrr_valid(0x250, 0x0606060606060606ull));
    assert_true(sim_mtrr_valid(0x26F, 0x0001040500060100ull));
    assert_false(sim_mtrr_valid(0x259, 0x0606060606060607ull));   /* type 7 */
    assert_false(sim_mtrr_valid(0x268, 0x0306060606060606ull));   /* type 3 */
    assert_true(sim_mtrr_valid(0x200, 0xC0000000ull));
    assert_false(sim_mtrr_valid(0x200, 0xC0000100ull));   /* bits 11:8 reserved */
    assert_false(sim_mtrr_valid(0x200, 0x1000000000ull)); /* above MAXPHYADDR 36 */
    assert_false(sim_mtrr_valid(0x20E, 0x8ull));          /* type 8 */
    assert_true(sim_mtrr_valid(0x201, 0xFC0000800ull));
    assert_false(sim_mtrr_valid(0x201, 0xFC0000801ull));  /* bits 10:0 reserved */
    assert_false(sim_mtrr_valid(0x20F, 0x1000000000ull));
    assert_int_equal(sim_mtrr_fixed_index(0x250), 0);
    assert_int_equal(sim_mtrr_fixed_index(0x259), 2);
    assert_int_equal(sim_mtrr_fixed_index(0x26F), 10);
    assert_int_equal(sim_mtrr_fixed_index(0x251), -1);
    assert_int_equal(sim_mtrr_fixed_index(0x267), -1);
}

/* ---- guests on the sim backend ---- */

#define MAIN 0x40
#define GP_HANDLER 0x200

/* Real-mode code, built instruction by instruction. */
typedef struct {
    uint8_t b[0x1C0];
    size_t n;
} Code;

static void emit(Code *c, const uint8_t *bytes, size_t n)
{
    assert_true(c->n + n <= sizeof c->b);
    memcpy(c->b + c->n, bytes, n);
    c->n += n;
}

static void emit_mov32(Code *c, uint8_t opcode, uint32_t v)   /* mov r32, imm32 */
{
    uint8_t i[6] = {0x66, opcode, (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
                    (uint8_t)(v >> 24)};
    emit(c, i, sizeof i);
}
#define MOV_EAX 0xB8
#define MOV_ECX 0xB9
#define MOV_EDX 0xBA

static void emit_wrmsr(Code *c, uint32_t msr, uint64_t v)
{
    emit_mov32(c, MOV_ECX, msr);
    emit_mov32(c, MOV_EAX, (uint32_t)v);
    emit_mov32(c, MOV_EDX, (uint32_t)(v >> 32));
    emit(c, (const uint8_t[]){0x0F, 0x30}, 2);
}

/* rdmsr, then EDX:EAX into EDI:ESI */
static void emit_rdmsr(Code *c, uint32_t msr)
{
    emit_mov32(c, MOV_ECX, msr);
    emit(c, (const uint8_t[]){0x0F, 0x32, 0x66, 0x89, 0xC6, 0x66, 0x89, 0xD7}, 8);
}

static void emit_cpuid(Code *c, uint32_t leaf)
{
    emit_mov32(c, MOV_EAX, leaf);
    emit_mov32(c, MOV_ECX, 0);
    emit(c, (const uint8_t[]){0x0F, 0xA2}, 2);
}

/* Runs `c` then HLT (IF=0) on sim; IVT[13] (#GP) leads to a handler that writes 0x42 to
 * the debug-exit port, so a #GP ends with VM_STOP_DEBUG_EXIT. */
static SimpleVM *run_code(Code *c)
{
    emit(c, (const uint8_t[]){0xF4}, 1);
    uint8_t img[0x210];
    memset(img, 0xF4, sizeof img);
    img[0] = 0xEB;
    img[1] = MAIN - 2;
    img[13 * 4] = GP_HANDLER & 0xFF;
    img[13 * 4 + 1] = GP_HANDLER >> 8;
    img[13 * 4 + 2] = img[13 * 4 + 3] = 0;
    assert_true(MAIN + c->n <= GP_HANDLER);
    memcpy(img + MAIN, c->b, c->n);
    static const uint8_t handler[] = {0xB0, 0x42, 0xE6, 0xF4};
    memcpy(img + GP_HANDLER, handler, sizeof handler);
    SimpleVM *svm = vm_create_backend(1, HV_BACKEND_SIM);
    assert_non_null(svm);
    svm->serial->output_fd = -1;
    svm->debug_exit->console_fd = -1;
    assert_int_equal(vm_load_code(svm, img, sizeof img, 0), 0);
    svm->vcpu->regs.rip = 0;
    svm->vcpu->regs.rsp = 0x8000;
    vm_run(svm);
    return svm;
}

static void expect_halt(SimpleVM *svm)
{
    assert_int_equal(svm->stop_reason, VM_STOP_HLT);
}

static void expect_gp(SimpleVM *svm)
{
    assert_int_equal(svm->stop_reason, VM_STOP_DEBUG_EXIT);
    assert_int_equal(svm->debug_exit_value, 0x42);
}

static uint64_t edi_esi(SimpleVM *svm)
{
    return (svm->vcpu->regs.rdi & 0xFFFFFFFFull) << 32 | (svm->vcpu->regs.rsi & 0xFFFFFFFFull);
}

/* One WRMSR: #GP or not. */
static void expect_wrmsr(uint32_t msr, uint64_t v, bool gp)
{
    Code c = {0};
    emit_wrmsr(&c, msr, v);
    SimpleVM *svm = run_code(&c);
    if (gp)
        expect_gp(svm);
    else
        expect_halt(svm);
    vm_destroy(svm);
}

/* One RDMSR's value (after an optional WRMSR of `w` when `write`). */
static uint64_t rdmsr_after(uint32_t msr, bool write, uint64_t w)
{
    Code c = {0};
    if (write)
        emit_wrmsr(&c, msr, w);
    emit_rdmsr(&c, msr);
    SimpleVM *svm = run_code(&c);
    expect_halt(svm);
    uint64_t v = edi_esi(svm);
    vm_destroy(svm);
    return v;
}

/* CPUID leaf `leaf`: EAX..EDX. */
static void cpuid(uint32_t leaf, uint32_t r[4])
{
    Code c = {0};
    emit_cpuid(&c, leaf);
    SimpleVM *svm = run_code(&c);
    expect_halt(svm);
    r[0] = (uint32_t)svm->vcpu->regs.rax;
    r[1] = (uint32_t)svm->vcpu->regs.rbx;
    r[2] = (uint32_t)svm->vcpu->regs.rcx;
    r[3] = (uint32_t)svm->vcpu->regs.rdx;
    vm_destroy(svm);
}

/* The leaves that state the TSC's rate agree: 15H (crystal * EBX / EAX), 16H (MHz),
 * 40000010H (kHz); the basic and hypervisor maximum leaves reach them; no invariant TSC
 * (with it Linux would leave kvm-clock for the TSC). */
static void test_cpuid_time_leaves(void **state)
{
    (void)state;
    uint32_t r[4];
    cpuid(0, r);
    assert_int_equal(r[0], 0x16);
    cpuid(0x15, r);
    assert_int_not_equal(r[0], 0);
    assert_int_equal((uint64_t)r[2] * r[1] / r[0], 2000000000ull);
    assert_int_equal(r[2], 1000000000u);   /* the APIC timer's 1 GHz */
    cpuid(0x16, r);
    assert_int_equal(r[0], 2000);
    assert_int_equal(r[1], 2000);
    assert_int_equal(r[2], 1000);
    cpuid(0x40000000, r);
    assert_int_equal(r[0], 0x40000010);
    uint32_t sig[3] = {r[1], r[2], r[3]};
    assert_memory_equal(sig, "KVMKVMKVM\0\0\0", 12);
    cpuid(0x40000001, r);
    assert_true(r[0] & (1u << 3));    /* KVM_FEATURE_CLOCKSOURCE2 */
    assert_true(r[0] & (1u << 24));   /* KVM_FEATURE_CLOCKSOURCE_STABLE_BIT */
    assert_false(r[0] & (1u << 0));   /* not the old MSRs 0x11/0x12 */
    cpuid(0x40000010, r);
    assert_int_equal(r[0], 2000000);
    assert_int_equal(r[1], 1000000);
    cpuid(0x80000000, r);
    assert_true(r[0] >= 0x80000007);
    cpuid(0x80000007, r);
    assert_false(r[3] & (1u << 8));
    cpuid(1, r);
    assert_true(r[2] & (1u << 24));   /* TSC-deadline */
    assert_true(r[3] & (1u << 12));   /* MTRR */
    assert_int_equal((r[0] >> 8) & 0xF, 6);
    assert_true(((r[0] >> 4) & 0xF) >= 15);   /* Linux keeps PAT from model 15 on */
}

/* CPUID.1:EDX.APIC follows IA32_APIC_BASE.EN (KVM: kvm_update_cpuid_runtime). */
static void test_cpuid_apic_bit(void **state)
{
    (void)state;
    Code c = {0};
    emit_cpuid(&c, 1);
    emit(&c, (const uint8_t[]){0x66, 0x89, 0xD5}, 3);   /* mov ebp, edx */
    emit_wrmsr(&c, 0x1B, 0xFEE00000ull | (1u << 8));    /* EN clear */
    emit_cpuid(&c, 1);
    emit(&c, (const uint8_t[]){0x66, 0x89, 0xD6}, 3);   /* mov esi, edx */
    emit_wrmsr(&c, 0x1B, 0xFEE00000ull | (1u << 8) | (1u << 11));
    emit_cpuid(&c, 1);
    emit(&c, (const uint8_t[]){0x66, 0x89, 0xD7}, 3);   /* mov edi, edx */
    SimpleVM *svm = run_code(&c);
    expect_halt(svm);
    assert_true(svm->vcpu->regs.rbp & (1u << 9));
    assert_false(svm->vcpu->regs.rsi & (1u << 9));
    assert_true(svm->vcpu->regs.rdi & (1u << 9));
    vm_destroy(svm);
}

/* The MSRs a booting Linux or Windows reads, as KVM presents them. */
static void test_pc_msrs(void **state)
{
    (void)state;
    /* IA32_BIOS_SIGN_ID: the write before CPUID is ignored; KVM's revision 1 in 63:32 */
    assert_int_equal(rdmsr_after(0x8B, true, 0), 0x100000000ull);
    assert_int_equal(rdmsr_after(0x17, false, 0), 0);        /* IA32_PLATFORM_ID */
    expect_wrmsr(0x17, 0, true);                              /* read-only */
    expect_wrmsr(0x79, 0x1000, false);                        /* BIOS_UPDT_TRIG ignored */
    assert_int_equal(rdmsr_after(0x3A, false, 0), 1);        /* FEATURE_CONTROL locked */
    expect_wrmsr(0x3A, 5, true);                              /* locked: #GP */
    assert_int_equal(rdmsr_after(0x1A0, false, 0), 0x1801);  /* fast strings, PEBS/BTS n/a */
    assert_int_equal(rdmsr_after(0x1A0, true, 0x1881), 0x1801);   /* EMON ignored */
    expect_wrmsr(0x1A0, 0x0001, true);                        /* BTS/PEBS bits read-only */
    assert_int_equal(rdmsr_after(0x1D9, true, 3), 0);         /* DEBUGCTL: LBR, BTF dropped */
    expect_wrmsr(0x1D9, 4, true);
    assert_int_equal(rdmsr_after(0x277, false, 0), 0x0007040600070406ull);   /* PAT */
}

/* MTRRs: what firmware set up (SimpleVM does as SeaBIOS does), the capability, and the
 * write rules. */
static void test_mtrrs(void **state)
{
    (void)state;
    assert_int_equal(rdmsr_after(0xFE, false, 0), 0x508);     /* 8 variable, fixed, WC */
    expect_wrmsr(0xFE, 0x508, true);                           /* read-only */
    assert_int_equal(rdmsr_after(0x2FF, false, 0), 0xC06);     /* enabled, WB default */
    assert_int_equal(rdmsr_after(0x259, false, 0), 0);         /* A0000-BFFFF UC */
    assert_int_equal(rdmsr_after(0x250, false, 0), 0x0606060606060606ull);
    assert_int_equal(rdmsr_after(0x200, false, 0), 0xC0000000ull);
    assert_int_equal(rdmsr_after(0x201, false, 0), 0xFC0000800ull);
    assert_int_equal(rdmsr_after(0x20E, true, 0xE0000005ull), 0xE0000005ull);
    assert_int_equal(rdmsr_after(0x26F, true, 0x0504010006060606ull), 0x0504010006060606ull);
    expect_wrmsr(0x2FF, 0xC07, true);
    expect_wrmsr(0x2FF, 0x2006, true);
    expect_wrmsr(0x250, 0x0202020202020202ull, true);
    expect_wrmsr(0x204, 0xC0000800ull, true);                   /* base: bits 11:8 */
    expect_wrmsr(0x205, 0x1FC0000800ull, true);                 /* mask above bit 35 */
    expect_wrmsr(0x210, 0, true);                               /* no 9th range */
    expect_wrmsr(0x251, 0, true);                               /* not a fixed MTRR */
}

/* IA32_TSC: a write sets the TSC (the offset), IA32_TSC_ADJUST follows by the same amount;
 * an IA32_TSC_ADJUST write moves the TSC. RDTSC, RDTSCP and RDMSR agree. */
static void test_tsc_msrs(void **state)
{
    (void)state;
    Code c = {0};
    emit_wrmsr(&c, 0x10, 0x100000000000ull);
    emit(&c, (const uint8_t[]){0x0F, 0x31, 0x66, 0x89, 0xC5, 0x66, 0x89, 0xD3}, 8);   /* rdtsc; ebp, ebx */
    emit_rdmsr(&c, 0x3B);
    SimpleVM *svm = run_code(&c);
    expect_halt(svm);
    uint64_t tsc = (svm->vcpu->regs.rbx & 0xFFFFFFFFull) << 32 | (svm->vcpu->regs.rbp & 0xFFFFFFFFull);
    uint64_t adjust = edi_esi(svm);
    assert_true(tsc >= 0x100000000000ull && tsc < 0x100000000000ull + 200000000ull);
    /* the TSC before the write was small (it started at 0 with the vCPU) */
    assert_true(adjust > 0x100000000000ull - 200000000ull && adjust <= 0x100000000000ull);
    uint64_t host_tsc;
    assert_int_equal(kvm_vcpu_get_msr(svm->vcpu, 0x10, &host_tsc), 0);
    assert_true(host_tsc >= tsc);
    /* IA32_TSC_ADJUST += 2^40 moves the TSC by as much */
    assert_int_equal(kvm_vcpu_set_msr(svm->vcpu, 0x3B, adjust + (1ull << 40)), 0);
    uint64_t moved;
    assert_int_equal(kvm_vcpu_get_msr(svm->vcpu, 0x10, &moved), 0);
    assert_true(moved >= host_tsc + (1ull << 40) && moved < host_tsc + (1ull << 40) + 200000000ull);
    assert_int_equal(kvm_vcpu_tsc_khz(svm->vcpu), 2000000);
    vm_destroy(svm);
}

/* With the host clock, the TSC counts wall time at 2 GHz, while nothing runs too. */
static void test_tsc_follows_wall_clock(void **state)
{
    (void)state;
    SimpleVM *svm = vm_create_backend(1, HV_BACKEND_SIM);
    assert_non_null(svm);
    struct timespec t0, t1, nap = {0, 50 * 1000000};
    uint64_t a, b;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(kvm_vcpu_get_msr(svm->vcpu, 0x10, &a), 0);
    nanosleep(&nap, NULL);
    assert_int_equal(kvm_vcpu_get_msr(svm->vcpu, 0x10, &b), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    uint64_t wall = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000ull + (uint64_t)t1.tv_nsec -
                    (uint64_t)t0.tv_nsec;
    assert_true(b - a <= 2 * wall);
    assert_true(b - a >= 2 * 50000000ull);
    vm_destroy(svm);
}

static uint64_t ram64(SimpleVM *svm, uint64_t gpa)
{
    uint64_t v;
    memcpy(&v, vm_guest_ram(svm, gpa, 8), 8);
    return v;
}

static const char *guest_dir(void)
{
    const char *env = getenv("SCRATCHVM_GUEST_DIR");
    return env && *env ? env : "build/guests";
}

/* Runs guests/tsc_deadline.s on sim with `clock`. */
static SimpleVM *run_tsc_deadline(VmClockMode clock)
{
    char path[512];
    snprintf(path, sizeof path, "%s/tsc_deadline.bin", guest_dir());
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("%s not found", path);
    static uint8_t image[65536];
    size_t size = fread(image, 1, sizeof image, f);
    fclose(f);
    SimpleVM *svm = vm_create_bytes(16u << 20, HV_BACKEND_SIM);
    assert_non_null(svm);
    svm->serial->output_fd = -1;
    assert_int_equal(vm_load_code(svm, image, size, 0), 0);
    svm->vcpu->sregs.cs.selector = 0;
    svm->vcpu->sregs.cs.base = 0;
    svm->vcpu->regs.rip = 0;
    svm->vcpu->sregs.ds.limit = 0xFFFFFFFF;
    svm->vcpu->sregs.ds.g = 1;
    if (clock != VM_CLOCK_HOST)
        assert_int_equal(vm_set_clock(svm, clock), 0);
    svm->max_exits = 100000;
    vm_run(svm);
    assert_int_equal(svm->stop_reason, VM_STOP_HLT);
    return svm;
}

/* The TSC-deadline timer fires once the TSC reaches the deadline, not before, and the MSR
 * reads 0 afterwards; with the virtual clock the halt skips right to it. */
static void test_tsc_deadline(void **state)
{
    (void)state;
    for (int mode = VM_CLOCK_HOST; mode <= VM_CLOCK_VIRTUAL; mode++) {
        SimpleVM *svm = run_tsc_deadline((VmClockMode)mode);
        uint64_t t0 = ram64(svm, 0x500), deadline = ram64(svm, 0x508);
        uint64_t readback = ram64(svm, 0x510), fired = ram64(svm, 0x518);
        assert_int_equal(deadline, t0 + 1000000);
        assert_int_equal(readback, deadline);
        assert_true(fired >= deadline);
        assert_int_equal(ram64(svm, 0x520), 0);
        assert_int_equal(ram64(svm, 0x530) & 0xFFFF, 1);
        if (mode == VM_CLOCK_VIRTUAL) {
            /* a few instructions after the deadline (2 ticks each) */
            assert_true(fired - deadline < 200);
        }
        vm_destroy(svm);
    }
}

/* kvm-clock: the structure at the MSR's address (an address outside RAM ignored), its
 * version even, the 2 GHz scale, the stable bit, and the guest's reading equal to the VM
 * clock; with the virtual clock, TSC and kvm-clock both start at 0 and the wall clock is
 * the RTC's 2000-01-01. */
static void test_kvmclock(void **state)
{
    (void)state;
    for (int mode = VM_CLOCK_HOST; mode <= VM_CLOCK_VIRTUAL; mode++) {
        SimpleVM *svm = run_tsc_deadline((VmClockMode)mode);
        uint8_t pv[PVCLOCK_VCPU_SIZE];
        memcpy(pv, vm_guest_ram(svm, 0x600, sizeof pv), sizeof pv);
        uint32_t version, mul;
        memcpy(&version, pv, 4);
        memcpy(&mul, pv + 24, 4);
        assert_int_equal(version & 1, 0);
        assert_true(version >= 2);
        assert_int_equal(mul, 0x80000000u);
        assert_int_equal(pv[28], 0);
        assert_int_equal(pv[29], PVCLOCK_TSC_STABLE_BIT);
        uint64_t stamp, sys;
        memcpy(&stamp, pv + 8, 8);
        memcpy(&sys, pv + 16, 8);
        uint64_t tsc_after = ram64(svm, 0x528);
        assert_true(tsc_after >= stamp);
        uint32_t wall[3];
        memcpy(wall, vm_guest_ram(svm, 0x640, sizeof wall), sizeof wall);
        assert_int_equal(wall[0] & 1, 0);
        assert_true(wall[0] >= 2);
        if (mode == VM_CLOCK_VIRTUAL) {
            assert_int_equal(stamp, 2 * sys);          /* the same clock, from 0 */
            uint64_t icount;
            assert_int_equal(kvm_vcpu_icount(svm->vcpu, &icount), 0);
            assert_true(sys < icount);
            assert_int_equal(sim_pvclock_read(pv, tsc_after), tsc_after / 2);
            assert_int_equal(wall[1], 946684800u);
            assert_int_equal(wall[2], 0);
        } else {
            assert_true(wall[1] > 1600000000u);   /* now, not 1970 */
        }
        vm_destroy(svm);
    }
}

/* Two runs with the virtual clock see the same TSC values, bit for bit. */
static void test_virtual_tsc_reproducible(void **state)
{
    (void)state;
    uint64_t v[2][4];
    for (int i = 0; i < 2; i++) {
        SimpleVM *svm = run_tsc_deadline(VM_CLOCK_VIRTUAL);
        v[i][0] = ram64(svm, 0x500);
        v[i][1] = ram64(svm, 0x518);
        v[i][2] = ram64(svm, 0x528);
        v[i][3] = ram64(svm, 0x610);   /* system_time */
        vm_destroy(svm);
    }
    assert_memory_equal(v[0], v[1], sizeof v[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tsc_rate),
        cmocka_unit_test(test_pvclock_image),
        cmocka_unit_test(test_mtrr_valid),
        cmocka_unit_test(test_cpuid_time_leaves),
        cmocka_unit_test(test_cpuid_apic_bit),
        cmocka_unit_test(test_pc_msrs),
        cmocka_unit_test(test_mtrrs),
        cmocka_unit_test(test_tsc_msrs),
        cmocka_unit_test(test_tsc_follows_wall_clock),
        cmocka_unit_test(test_tsc_deadline),
        cmocka_unit_test(test_kvmclock),
        cmocka_unit_test(test_virtual_tsc_reproducible),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
