/* Unit tests for the QEMU-style monitor (src/vmm/monitor.c) and the vCPU thread it drives
 * (src/vmm/runner.c): every command on a VM in a known state, on every backend. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "backends.h"
#include "hypervisor_sim.h"

/* 0000:7C00: cli; xor ax,ax; mov al,0x41; out 0xe9,al; inc ax; hlt; jmp $ */
static const uint8_t straight[] = {0xFA, 0x31, 0xC0, 0xB0, 0x41, 0xE6, 0xE9,
                                   0x40, 0xF4, 0xEB, 0xFE};
/* 0000:7C00: inc eax; out 0xe9,al; jmp 7C00 — an I/O exit per loop, forever */
static const uint8_t spin_out[] = {0x66, 0x40, 0xE6, 0xE9, 0xEB, 0xFA};
/* 0000:7C00: jmp $ — no exits at all */
static const uint8_t spin[] = {0xEB, 0xFE};

static SimpleVM *vm_with(HvBackend b, const uint8_t *code, size_t size)
{
    SimpleVM *svm = vm_create_backend(1, b);
    assert_non_null(svm);
    svm->serial->output_fd = -1;
    svm->debug_exit->console_fd = -1;
    assert_int_equal(vm_load_code(svm, code, size, 0x7C00), 0);
    svm->vcpu->regs.rip = 0x7C00;
    return svm;
}

/* The answer to one command line (freed by the next call). */
static char *answer;
static int last_status;
static const char *run(QemuMonitor *mon, const char *line)
{
    free(answer);
    answer = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&answer, &len);
    assert_non_null(f);
    last_status = qemu_monitor_execute(mon, line, f);
    fclose(f);
    return answer;
}

static bool has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; p && *p;) {
        if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
            return true;
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return false;
}

static int lines(const char *text)
{
    int n = 0;
    for (; *text; text++)
        n += *text == '\n';
    return n;
}

#define ASSERT_LINE(text, line)                                                           \
    do {                                                                                  \
        if (!has_line((text), (line)))                                                    \
            fail_msg("no line '%s' in:\n%s", (line), (text));                             \
    } while (0)

static QemuMonitor *paused_vm(HvBackend b, const uint8_t *code, size_t size, SimpleVM **out)
{
    SimpleVM *svm = vm_with(b, code, size);
    assert_int_equal(vm_thread_start(svm, true, NULL, NULL), 0);
    QemuMonitor *mon = qemu_monitor_create(svm);
    assert_non_null(mon);
    *out = svm;
    return mon;
}

static void done(QemuMonitor *mon, SimpleVM *svm)
{
    qemu_monitor_destroy(mon);
    vm_destroy(svm);
    free(answer);
    answer = NULL;
}

static void test_info_registers_real_mode(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    SimpleVM *svm;
    QemuMonitor *mon = paused_vm(b, straight, sizeof(straight), &svm);
    svm->vcpu->regs.rax = 0x12345678;
    svm->vcpu->regs.rsp = 0x7000;
    svm->vcpu->regs.rflags = 0x2 | 0x1 | 0x40 | 0x800;   /* CF ZF OF */
    const char *r = run(mon, "info registers");
    assert_int_equal(last_status, 0);
    ASSERT_LINE(r, "EAX=12345678 EBX=00000000 ECX=00000000 EDX=00000000");
    ASSERT_LINE(r, "ESI=00000000 EDI=00000000 EBP=00000000 ESP=00007000");
    ASSERT_LINE(r, "EIP=00007c00 EFL=00000843 [-O-Z--C] CPL=0 II=0 A20=1 SMM=0 HLT=0");
    ASSERT_LINE(r, "CS =0000 00000000 0000ffff 00009b00");
    ASSERT_LINE(r, "DS =0000 00000000 0000ffff 00009300");
    ASSERT_LINE(r, "LDT=0000 00000000 0000ffff 00008200");
    ASSERT_LINE(r, "TR =0000 00000000 0000ffff 00008b00");
    ASSERT_LINE(r, "GDT=     00000000 0000ffff");
    ASSERT_LINE(r, "IDT=     00000000 0000ffff");
    ASSERT_LINE(r, "DR6=00000000ffff0ff0 DR7=0000000000000400");
    ASSERT_LINE(r, "EFER=0000000000000000");
    assert_int_equal(lines(r), 17);
    run(mon, "info registers extra");
    assert_int_equal(last_status, -EINVAL);
    assert_int_equal(lines(answer), 1);
    done(mon, svm);
}

/* Protected and long mode layouts, from states set through KVM_SET_SREGS (the monitor only
 * reads them: nothing runs). */
static void test_info_registers_protected_and_long(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    SimpleVM *svm = vm_with(b, spin, sizeof(spin));
    QemuMonitor *mon = qemu_monitor_create(svm);
    KvmSregs s = svm->vcpu->sregs;
    s.cr0 |= 1;
    s.cs = (KvmSegment){.base = 0, .limit = 0xFFFFFFFF, .selector = 0x08, .type = 0xB,
                        .present = 1, .dpl = 0, .db = 1, .s = 1, .g = 1};
    s.ds = (KvmSegment){.base = 0, .limit = 0xFFFFFFFF, .selector = 0x10, .type = 0x3,
                        .present = 1, .dpl = 0, .db = 1, .s = 1, .g = 1};
    s.tr = (KvmSegment){.base = 0x1000, .limit = 0x67, .selector = 0x18, .type = 0xB,
                        .present = 1};
    svm->vcpu->sregs = s;
    const char *r = run(mon, "info registers");
    ASSERT_LINE(r, "CS =0008 00000000 ffffffff 00cf9b00 DPL=0 CS32 [-RA]");
    ASSERT_LINE(r, "DS =0010 00000000 ffffffff 00cf9300 DPL=0 DS   [-WA]");
    ASSERT_LINE(r, "TR =0018 00001000 00000067 00008b00 DPL=0 TSS32-busy");
    s.efer = 0x500;   /* LME | LMA */
    s.cr0 |= 1u << 31;
    s.cr4 |= 1u << 5;
    s.cs.l = 1;
    s.cs.db = 0;
    svm->vcpu->sregs = s;
    svm->vcpu->regs.r9 = 0x99;
    svm->vcpu->regs.rip = 0xFFFFFFFF80001000ull;
    r = run(mon, "info registers");
    ASSERT_LINE(r, "R8 =0000000000000000 R9 =0000000000000099 R10=0000000000000000 "
                   "R11=0000000000000000");
    assert_non_null(strstr(r, "RIP=ffffffff80001000 RFL=00000002 [-------] CPL=0"));
    ASSERT_LINE(r, "CS =0008 0000000000000000 ffffffff 00af9b00 DPL=0 CS64 [-RA]");
    ASSERT_LINE(r, "TR =0018 0000000000001000 00000067 00008b00 DPL=0 TSS64-busy");
    ASSERT_LINE(r, "EFER=0000000000000500");
    done(mon, svm);
}

static void test_x_and_xp_formats(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    SimpleVM *svm;
    QemuMonitor *mon = paused_vm(b, straight, sizeof(straight), &svm);
    const char *r = run(mon, "x /4xb 0x7c00");
    assert_string_equal(r, "0000000000007c00: 0xfa 0x31 0xc0 0xb0\n");
    r = run(mon, "xp /10xb 0x7c00");
    assert_string_equal(r, "0000000000007c00: 0xfa 0x31 0xc0 0xb0 0x41 0xe6 0xe9 0x40\n"
                           "0000000000007c08: 0xf4 0xeb\n");
    r = run(mon, "x/2xh 0x7c00");
    assert_string_equal(r, "0000000000007c00: 0x31fa 0xb0c0\n");
    r = run(mon, "xp /5xw 0x7c00");   /* 16 bytes a line for larger units */
    assert_string_equal(r, "0000000000007c00: 0xb0c031fa 0x40e9e641 0x00feebf4 0x00000000\n"
                           "0000000000007c10: 0x00000000\n");
    r = run(mon, "xp /1xg 0x7c00");
    assert_string_equal(r, "0000000000007c00: 0x40e9e641b0c031fa\n");
    r = run(mon, "xp /3ub 0x7c00");
    assert_string_equal(r, "0000000000007c00: 250  49 192\n");
    r = run(mon, "xp /1dh 0x7c00");
    assert_string_equal(r, "0000000000007c00: 12794\n");
    r = run(mon, "xp /2ob 0x7c00");
    assert_string_equal(r, "0000000000007c00: 0372 061\n");
    r = run(mon, "xp /2cb 0x7c03");
    assert_string_equal(r, "0000000000007c03: '\\xb0' 'A'\n");
    /* Without /fmt: one unit of the last format and size (here: bytes, octal). */
    run(mon, "xp /1ob 0x7c00");
    r = run(mon, "xp 0x7c01");
    assert_string_equal(r, "0000000000007c01: 061\n");
    /* $reg expressions: $pc is CS base + EIP; real mode x is linear, as QEMU's. */
    run(mon, "xp /1xb 0");
    r = run(mon, "x /2xb $pc");
    assert_string_equal(r, "0000000000007c00: 0xfa 0x31\n");
    r = run(mon, "x /1xb $eip + 3");
    assert_string_equal(r, "0000000000007c03: 0xb0\n");
    r = run(mon, "xp /1xb 0x7c10 - 0x10");
    assert_string_equal(r, "0000000000007c00: 0xfa\n");
    done(mon, svm);
}

static void test_x_errors(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    SimpleVM *svm;
    QemuMonitor *mon = paused_vm(b, straight, sizeof(straight), &svm);
    /* Unbacked memory: the VGA window is MMIO, and past the end of RAM. */
    const char *r = run(mon, "xp /4xb 0xa0000");
    assert_string_equal(r, "00000000000a0000: Cannot access memory\n");
    assert_int_equal(last_status, -EFAULT);
    r = run(mon, "xp /20xb 0xffff8");   /* the first line reads, the second cannot */
    assert_string_equal(r, "00000000000ffff8: 0x00 0x00 0x00 0x00 0x00 0x00 0x00 0x00\n"
                           "0000000000100000: Cannot access memory\n");
    const char *bad[] = {
        "x /4qb 0x7c00", "x /4xb", "x /4xb nowhere", "x /4xb $nosuch", "x /0xb 0",
        "x /4xb 0x7c00 +", "xp /99999999xb 0", "x /4xb 0x7c00 junk", "x /4xb 99999999999999999999",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = run(mon, bad[i]);
        if (last_status != -EINVAL || lines(r) != 1)
            fail_msg("'%s' gave %d: %s", bad[i], last_status, r);
    }
    /* The CPU model's own decoder, in objdump's AT&T text, in the vCPU's mode. */
    r = run(mon, "x /5i $pc");
    assert_int_equal(last_status, 0);
    assert_string_equal(r, "0x0000000000007c00:  cli\n"
                           "0x0000000000007c01:  xor    %ax,%ax\n"
                           "0x0000000000007c03:  mov    $0x41,%al\n"
                           "0x0000000000007c05:  out    %al,$0xe9\n"
                           "0x0000000000007c07:  inc    %ax\n");
    r = run(mon, "xp /1i 0x7c09");   /* a branch target is an offset in CS */
    assert_string_equal(r, "0x0000000000007c09:  jmp    0x7c09\n");
    done(mon, svm);
}

static void test_command_errors_and_help(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    SimpleVM *svm;
    QemuMonitor *mon = paused_vm(b, straight, sizeof(straight), &svm);
    const char *r = run(mon, "frobnicate now");
    assert_string_equal(r, "unknown command: 'frobnicate'\n");
    assert_int_equal(last_status, -ENOENT);
    r = run(mon, "   ");
    assert_string_equal(r, "");
    assert_int_equal(last_status, 0);
    r = run(mon, "info nosuch");
    assert_int_equal(lines(r), 1);
    r = run(mon, "stop now");
    assert_int_equal(last_status, -EINVAL);
    r = run(mon, "step -1");
    assert_int_equal(last_status, -EINVAL);
    r = run(mon, "step 1x");
    assert_int_equal(last_status, -EINVAL);
    char longline[1000];
    memset(longline, 'a', sizeof(longline) - 1);
    longline[sizeof(longline) - 1] = '\0';
    r = run(mon, longline);
    assert_int_equal(lines(r), 1);
    r = run(mon, "\x01\x02\xff");
    assert_int_equal(lines(r), 1);
    r = run(mon, "help");
    assert_non_null(strstr(r, "info registers") == NULL ? strstr(r, "info") : r);
    assert_non_null(strstr(r, "x /fmt addr -- virtual memory dump starting at addr"));
    assert_non_null(strstr(r, "cont|c -- resume"));
    r = run(mon, "help xp");
    assert_string_equal(r, "xp /fmt addr -- physical memory dump starting at addr\n");
    r = run(mon, "help nosuch");
    assert_string_equal(r, "unknown command: 'nosuch'\n");
    r = run(mon, "info");
    assert_non_null(strstr(r, "info exits -- "));
    done(mon, svm);
}

/* step executes single instructions on both backends, completes the OUT it steps over,
 * and stops at the HLT (on kvm the VMM looks at the instruction first: a single-stepped
 * HLT under nested KVM would not halt). */
/* -smp: info cpus lists every vCPU (the APs halted, waiting for a SIPI), `cpu N` picks
 * the one info registers and step use. */
static void test_smp_cpus(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    SimpleVM *svm = vm_with(b, straight, sizeof(straight));
    assert_int_equal(vm_set_cpus(svm, 3), 0);
    assert_int_equal(vm_thread_start(svm, true, NULL, NULL), 0);
    QemuMonitor *mon = qemu_monitor_create(svm);
    assert_non_null(mon);
    assert_int_equal(mon->num_vcpus, 3);
    svm->vcpus[2]->regs.rax = 0xABCD;
    const char *r = run(mon, "info cpus");
    assert_non_null(strstr(r, "* CPU #0: pc=0x0000000000007c00 thread_id="));
    assert_non_null(strstr(r, "\n  CPU #1: pc=0x0000000000007c00 (halted) thread_id="));
    assert_non_null(strstr(r, "\n  CPU #2: pc=0x0000000000007c00 (halted) thread_id="));
    assert_string_equal(run(mon, "cpu 2"), "");
    r = run(mon, "info cpus");
    assert_non_null(strstr(r, "  CPU #0: "));
    assert_non_null(strstr(r, "* CPU #2: "));
    assert_non_null(strstr(run(mon, "info registers"), "EAX=0000abcd"));
    assert_non_null(strstr(run(mon, "cpu 3"), "invalid CPU index"));
    assert_non_null(strstr(run(mon, "cpu x"), "invalid CPU index"));
    assert_string_equal(run(mon, "cpu 0"), "");
    assert_null(strstr(run(mon, "info registers"), "EAX=0000abcd"));
    assert_string_equal(run(mon, "step"), "stepped to 0000:7c01\n");
    r = run(mon, "info exits");
    assert_non_null(strstr(r, "CPU #0: "));   /* the step's returns: backend-dependent */
    assert_non_null(strstr(r, "CPU #2: 0 returns from KVM_RUN, 0 interrupts injected\n"));
    done(mon, svm);
}

static void test_step_and_hlt(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    SimpleVM *svm;
    QemuMonitor *mon = paused_vm(b, straight, sizeof(straight), &svm);
    const char *r = run(mon, "step");
    assert_string_equal(r, "stepped to 0000:7c01\n");
    r = run(mon, "step 2");
    assert_string_equal(r, "stepped to 0000:7c05\n");
    assert_int_equal(svm->vcpu->regs.rax, 0x41);
    r = run(mon, "step");   /* out 0xe9, al: an I/O exit, completed */
    assert_string_equal(r, "stepped to 0000:7c07\n");
    assert_int_equal(svm->exit_stats.kvm[KVM_EXIT_IO].count, 1);
    r = run(mon, "step");
    assert_string_equal(r, "stepped to 0000:7c08\n");
    assert_int_equal(svm->vcpu->regs.rax, 0x42);
    r = run(mon, "step 5");
    assert_string_equal(r, "the vCPU halted (HLT): stopped at 0000:7c09\n");
    assert_true(vm_thread_halted(svm));
    r = run(mon, "info status");
    assert_string_equal(r, "VM status: paused\n");
    r = run(mon, "info registers");
    /* 0x42 has even parity: PF */
    assert_non_null(strstr(r, "EIP=00007c09 EFL=00000006 [-----P-] CPL=0 II=0 A20=1 SMM=0 HLT=1"));
    r = run(mon, "info cpus");
    assert_non_null(strstr(r, "* CPU #0: pc=0x0000000000007c09 (halted) thread_id="));
    assert_int_equal(svm->exit_stats.kvm[KVM_EXIT_IO].count, 1);   /* the OUT ran once */
    /* system_reset: back to the state at the start. */
    r = run(mon, "system_reset");
    assert_string_equal(r, "");
    assert_false(vm_thread_halted(svm));
    r = run(mon, "step 10");
    assert_string_equal(r, "the vCPU halted (HLT): stopped at 0000:7c09\n");
    /* Resuming a halted vCPU: nothing wakes it; the VM ends as a halted guest does. */
    r = run(mon, "cont");
    assert_string_equal(r, "");
    for (int i = 0; i < 200 && vm_thread_state(svm) != VM_THREAD_ENDED; i++)
        usleep(10000);
    assert_int_equal(vm_thread_state(svm), VM_THREAD_ENDED);
    assert_int_equal(svm->stop_reason, VM_STOP_HLT);
    r = run(mon, "info status");
    assert_string_equal(r, "VM status: paused (halted)\n");
    r = run(mon, "cont");
    assert_string_equal(r, "cont: the VM has ended\n");
    r = run(mon, "step");
    assert_string_equal(r, "step: the VM has ended\n");
    done(mon, svm);
}

/* stop and cont on a guest making an I/O exit per loop: every stop lands between two
 * instructions with the last OUT completed exactly once, so EAX (one increment per loop)
 * and the count of OUT exits agree; cont goes on from there. */
static void check_consistent(SimpleVM *svm)
{
    uint64_t rip = svm->vcpu->regs.rip;
    uint64_t outs = svm->exit_stats.kvm[KVM_EXIT_IO].count;
    uint64_t eax = svm->vcpu->regs.rax & 0xFFFFFFFF;
    if (rip != 0x7C00 && rip != 0x7C02 && rip != 0x7C04)
        fail_msg("stopped inside an instruction: RIP %llx", (unsigned long long)rip);
    /* At 7C02 the INC ran and its OUT did not; elsewhere both ran as often. */
    assert_int_equal(eax, outs + (rip == 0x7C02));
}

static void test_stop_cont_exact(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    SimpleVM *svm;
    QemuMonitor *mon = paused_vm(b, spin_out, sizeof(spin_out), &svm);
    const char *r = run(mon, "info status");
    assert_string_equal(r, "VM status: paused\n");
    uint64_t last = 0;
    for (int round = 0; round < 5; round++) {
        r = run(mon, "cont");
        assert_int_equal(last_status, 0);
        r = run(mon, "info status");
        assert_string_equal(r, "VM status: running\n");
        usleep(20000);
        /* info registers on a running VM pauses it for the moment it reads. */
        r = run(mon, "info registers");
        assert_non_null(strstr(r, "EIP=00007c0"));
        r = run(mon, "stop");
        assert_string_equal(r, "");
        r = run(mon, "info status");
        assert_string_equal(r, "VM status: paused\n");
        check_consistent(svm);
        assert_true(svm->exit_stats.kvm[KVM_EXIT_IO].count > last);
        last = svm->exit_stats.kvm[KVM_EXIT_IO].count;
        r = run(mon, "step 3");   /* one loop: the state moves on by exactly that */
        check_consistent(svm);
        assert_int_equal(svm->exit_stats.kvm[KVM_EXIT_IO].count, last + 1);
        last++;
    }
    r = run(mon, "stop");   /* stopping a stopped VM is fine */
    assert_int_equal(last_status, 0);
    r = run(mon, "info exits");
    assert_non_null(strstr(r, "Analyze events for all VMs, all VCPUs"));
    assert_non_null(strstr(r, "             VM-EXIT    Samples  Samples%     Time%    Min Time"
                              "    Max Time         Avg time"));
    assert_non_null(strstr(r, b == HV_BACKEND_SIM ? "      IO_INSTRUCTION " : "                  IO "));
    assert_non_null(strstr(r, "Total Samples:"));
    r = run(mon, "quit");
    assert_true(mon->quit_requested);
    assert_int_equal(vm_thread_state(svm), VM_THREAD_ENDED);
    assert_int_equal(svm->stop_reason, VM_STOP_REQUESTED);
    done(mon, svm);
}

/* A guest in a `jmp $` loop makes no exit: stop must still take it out (kick). */
static void test_stop_spinning_guest(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    SimpleVM *svm = vm_with(b, spin, sizeof(spin));
    assert_int_equal(vm_thread_start(svm, false, NULL, NULL), 0);
    QemuMonitor *mon = qemu_monitor_create(svm);
    usleep(20000);
    const char *r = run(mon, "stop");
    assert_string_equal(r, "");
    r = run(mon, "info registers");
    assert_non_null(strstr(r, "EIP=00007c00"));
    r = run(mon, "step");
    assert_string_equal(r, "stepped to 0000:7c00\n");
    r = run(mon, "cont");
    r = run(mon, "x /2xb $pc");   /* pauses and resumes around the read */
    assert_string_equal(r, "0000000000007c00: 0xeb 0xfe\n");
    r = run(mon, "info status");
    assert_string_equal(r, "VM status: running\n");
    r = run(mon, "step");
    assert_int_equal(last_status, -EBUSY);
    done(mon, svm);   /* vm_destroy ends the running thread */
}

/* 32-bit paging: a page directory at 0x10000 with a page table at 0x11000 (virtual
 * 0x00400000-0x00402fff -> physical 0x7000-0x9fff, the middle page read-only and user)
 * and a 4 MiB page at 0x00800000 (CR4.PSE). */
static void setup_paging(SimpleVM *svm)
{
    uint32_t *pd = (uint32_t *)vm_guest_ram(svm, 0x10000, 4096);
    uint32_t *pt = (uint32_t *)vm_guest_ram(svm, 0x11000, 4096);
    memset(pd, 0, 4096);
    memset(pt, 0, 4096);
    pd[1] = 0x11000 | 0x7;                /* P RW US */
    pt[0] = 0x7000 | 0x3 | 0x20;          /* P RW, accessed */
    pt[1] = 0x8000 | 0x5;                 /* P US, read-only */
    pt[2] = 0x9000 | 0x3 | 0x40 | 0x100;  /* P RW, dirty, global */
    pd[2] = 0x0 | 0x83;                   /* a 4 MiB page of physical 0 */
    KvmSregs s = svm->vcpu->sregs;
    s.cr0 |= 1u | (1u << 31);
    s.cr3 = 0x10000;
    s.cr4 |= 1u << 4;
    svm->vcpu->sregs = s;
}

static void test_info_mem_tlb_and_paged_x(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    SimpleVM *svm = vm_with(b, straight, sizeof(straight));
    QemuMonitor *mon = qemu_monitor_create(svm);
    const char *r = run(mon, "info mem");
    assert_string_equal(r, "PG disabled\n");
    r = run(mon, "info tlb");
    assert_string_equal(r, "PG disabled\n");
    memcpy(vm_guest_ram(svm, 0x8000, 4), "\x11\x22\x33\x44", 4);
    setup_paging(svm);
    r = run(mon, "info mem");
    assert_string_equal(r,
                        "0000000000400000-0000000000401000 0000000000001000 -rw\n"
                        "0000000000401000-0000000000402000 0000000000001000 ur-\n"
                        "0000000000402000-0000000000403000 0000000000001000 -rw\n"
                        "0000000000800000-0000000000c00000 0000000000400000 -rw\n");
    r = run(mon, "info tlb");
    assert_string_equal(r,
                        "0000000000400000: 0000000000007000 ----A---W\n"
                        "0000000000401000: 0000000000008000 -------U-\n"
                        "0000000000402000: 0000000000009000 -G-D----W\n"
                        "0000000000800000: 0000000000000000 --P-----W\n");
    r = run(mon, "x /4xb 0x401000");
    assert_string_equal(r, "0000000000401000: 0x11 0x22 0x33 0x44\n");
    r = run(mon, "x /2xb 0x807c00");   /* through the 4 MiB page */
    assert_string_equal(r, "0000000000807c00: 0xfa 0x31\n");
    r = run(mon, "x /4xb 0x500000");
    assert_string_equal(r, "0000000000500000: Cannot access memory\n");
    done(mon, svm);
}

/* 4-level paging (IA-32e): the kernel half at 0xffff800000000000 maps a 2 MiB page of
 * physical 0 and, after it, a 4 KiB no-execute page of physical 0x7000. */
static void test_long_mode_paging(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    SimpleVM *svm = vm_with(b, straight, sizeof(straight));
    QemuMonitor *mon = qemu_monitor_create(svm);
    uint64_t *pml4 = (uint64_t *)vm_guest_ram(svm, 0x10000, 4096);
    uint64_t *pdpt = (uint64_t *)vm_guest_ram(svm, 0x11000, 4096);
    uint64_t *pd = (uint64_t *)vm_guest_ram(svm, 0x12000, 4096);
    uint64_t *pt = (uint64_t *)vm_guest_ram(svm, 0x13000, 4096);
    memset(pml4, 0, 4096);
    memset(pdpt, 0, 4096);
    memset(pd, 0, 4096);
    memset(pt, 0, 4096);
    pml4[256] = 0x11000 | 0x3;
    pdpt[0] = 0x12000 | 0x3;
    pd[0] = 0x0 | 0x83;                     /* 2 MiB, P RW PS */
    pd[1] = 0x13000 | 0x3;
    pt[0] = 0x7000 | 0x3 | (1ull << 63);    /* NX */
    KvmSregs s = svm->vcpu->sregs;
    s.cr0 |= 1u | (1u << 31);
    s.cr4 |= 1u << 5;
    s.efer = 0xD00;   /* LME, LMA, NXE: without NXE bit 63 is reserved (SDM 4.5.4), no page */
    s.cr3 = 0x10000;
    svm->vcpu->sregs = s;
    const char *r = run(mon, "info tlb");
    assert_string_equal(r, "ffff800000000000: 0000000000000000 --P-----W\n"
                           "ffff800000200000: 0000000000007000 X-------W\n");
    r = run(mon, "info mem");
    assert_string_equal(r, "ffff800000000000-ffff800000201000 0000000000201000 -rw\n");
    r = run(mon, "x /2xb 0xffff800000007c00");
    assert_string_equal(r, "ffff800000007c00: 0xfa 0x31\n");
    r = run(mon, "x /2xb 0xffff800000200000");
    assert_string_equal(r, "ffff800000200000: 0x00 0x00\n");
    r = run(mon, "x /2xb 0x1000");
    assert_string_equal(r, "0000000000001000: Cannot access memory\n");
    done(mon, svm);
}

static void test_info_vmcs_ept(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    SimpleVM *svm;
    QemuMonitor *mon = paused_vm(b, straight, sizeof(straight), &svm);
    run(mon, "step 6");   /* through the OUT: an I/O exit is in the VMCS on sim */
    const char *r = run(mon, "info vmcs");
    if (b == HV_BACKEND_SIM) {
        assert_int_equal(last_status, 0);
        assert_non_null(strstr(r, "Guest-state fields"));
        assert_non_null(strstr(r, "  GUEST_RIP "));
        assert_non_null(strstr(r, "VM-exit information fields"));
        assert_non_null(strstr(r, "  EXIT_REASON "));
        /* The controls with their encodings and named bits, the host area, the reason. */
        assert_non_null(strstr(r, "VM-execution, VM-exit and VM-entry control fields"));
        assert_non_null(strstr(r, "  PIN_BASED_VM_EXEC_CONTROL            4000  "));
        assert_non_null(strstr(r, "  CPU_BASED_VM_EXEC_CONTROL            4002  "));
        assert_non_null(strstr(r, "[HLT exiting, unconditional I/O exiting, activate secondary controls]"));
        assert_non_null(strstr(r, "  SECONDARY_VM_EXEC_CONTROL            401e  "));
        assert_non_null(strstr(r, "[enable EPT, enable VPID, unrestricted guest]"));
        assert_non_null(strstr(r, "  VM_EXIT_CONTROLS                     400c  "));
        assert_non_null(strstr(r, "  VM_ENTRY_CONTROLS                    4012  "));
        assert_non_null(strstr(r, "Host-state fields"));
        assert_non_null(strstr(r, "  HOST_RIP                             6c16  "));
        assert_non_null(strstr(r, "  EPT_POINTER                          201a  <host page>|01e (WB, 4-level walk"));
        /* the sixth instruction is the HLT, which exits as on hardware */
        assert_non_null(strstr(r, "  EXIT_REASON                          4402  0000000c  (12 HLT)"));
        run(mon, "system_reset");
        run(mon, "step 1");   /* a plain instruction: the step's monitor-trap-flag exit */
        r = run(mon, "info vmcs");
        assert_non_null(strstr(r, "  EXIT_REASON                          4402  00000025  (37 MONITOR_TRAP_FLAG)"));
        assert_null(strstr(r, "0x7f"));   /* no host address */
        /* screendump is the front end's (libpng): without it, a clear refusal. */
        r = run(mon, "screendump /nonexistent/s.png");
        assert_int_equal(last_status, -ENOTSUP);
        assert_non_null(strstr(r, "not available"));
        r = run(mon, "screendump");
        assert_int_equal(last_status, -EINVAL);
    } else {
        assert_int_equal(last_status, -ENOTSUP);
        assert_int_equal(lines(r), 1);
        assert_non_null(strstr(r, "not visible from user space"));
    }
    r = run(mon, "info ept");
    if (b == HV_BACKEND_SIM) {
        /* The sim kernel's own tables: the VM's two RAM slots, large pages where they fit. */
        assert_int_equal(last_status, 0);
        assert_non_null(strstr(r, "0000000000000000-000000000009ffff rwx WB"));
        assert_non_null(strstr(r, "00000000000c0000-00000000000fffff rwx WB"));
    } else {
        assert_non_null(strstr(r, "owns the real EPT"));
        assert_non_null(strstr(r, "0000000000000000-000000000009ffff"));
        assert_non_null(strstr(r, "00000000000c0000-00000000000fffff"));
    }
    done(mon, svm);
}

/* info ept over a set of tables built here, with every page size and a read-only range:
 * ranges merged where the host side is contiguous too, sizes and permissions. */
static void test_info_ept_tables(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    if (b != HV_BACKEND_SIM)
        skip_because("info ept walks the sim kernel's tables; on KVM the host owns the EPT");
    SimpleVM *svm = vm_with(b, straight, sizeof(straight));
    QemuMonitor *mon = qemu_monitor_create(svm);
    EptContext *ept = ept_create(svm->ram_size);
    assert_non_null(ept);
    /* The host side is the VM's own RAM (shown as offsets into it, never as addresses,
     * issue 15 item 8); a host address outside guest memory is shown as "-". */
    uint64_t host = (uint64_t)(uintptr_t)svm->ram;
    const uint32_t rwx = EPT_READ | EPT_WRITE | EPT_EXECUTE;
    assert_int_equal(ept_map_range(ept, 0, host, 0xA0000, rwx), 0);
    assert_int_equal(ept_map_range(ept, 0xC0000, host + 0xC0000, 0x40000, EPT_READ | EPT_EXECUTE), 0);
    /* 2 MiB pages need 2 MiB aligned host memory: a number that is no guest memory. */
    assert_int_equal(ept_map_range(ept, 0x200000, 0x40200000, 0x400000, rwx), 0);
    EptContext *own = svm->ept;
    svm->ept = ept;
    const char *r = run(mon, "info ept");
    assert_int_equal(last_status, 0);
    assert_non_null(strstr(r, "0000000000000000-000000000009ffff rwx WB    4K x 160     host ram+0x0\n"));
    assert_non_null(strstr(r, "00000000000c0000-00000000000fffff r-x WB    4K x 64      host ram+0xc0000\n"));
    assert_non_null(strstr(r, "0000000000200000-00000000005fffff rwx WB    2M x 2       host -\n"));
    assert_int_equal(lines(r), 4);
    char hex[32];   /* no host address anywhere in the answer */
    snprintf(hex, sizeof(hex), "%" PRIx64, host);
    assert_null(strstr(r, hex));
    assert_null(strstr(r, "40200000"));
    snprintf(hex, sizeof(hex), "%" PRIx64, (uint64_t)(ept_pointer(ept) & ~0xFFFull));
    assert_null(strstr(r, hex));
    svm->ept = own;
    ept_destroy(ept);
    done(mon, svm);
}

/* The seed's entry points, without a vCPU thread (the vCPU is simply not running). */
static void test_seed_api(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    SimpleVM *svm = vm_with(b, straight, sizeof(straight));
    QemuMonitor *mon = qemu_monitor_create(svm);
    char *text = NULL;
    size_t len = 0;
    mon->out = open_memstream(&text, &len);
    assert_int_equal(qemu_cmd_x(mon, 0x7C00, 2), 0);
    assert_int_equal(qemu_cmd_info_registers(mon, 0), 0);
    assert_int_equal(qemu_cmd_info_registers(mon, 1), -EINVAL);
    assert_int_equal(qemu_cmd_info_mem(mon), 0);
    fclose(mon->out);
    mon->out = stdout;
    assert_non_null(strstr(text, "0000000000007c00: 0xb0c031fa 0x40e9e641\n"));
    assert_non_null(strstr(text, "EIP=00007c00"));
    assert_non_null(strstr(text, "PG disabled"));
    free(text);
    assert_int_equal(qemu_cmd_x(NULL, 0, 1), -EINVAL);
    assert_null(qemu_monitor_create(NULL));
    done(mon, svm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_info_registers_real_mode),
        cmocka_unit_test(test_info_registers_protected_and_long),
        cmocka_unit_test(test_x_and_xp_formats),
        cmocka_unit_test(test_x_errors),
        cmocka_unit_test(test_command_errors_and_help),
        cmocka_unit_test(test_step_and_hlt),
        cmocka_unit_test(test_smp_cpus),
        cmocka_unit_test(test_stop_cont_exact),
        cmocka_unit_test(test_stop_spinning_guest),
        cmocka_unit_test(test_info_mem_tlb_and_paged_x),
        cmocka_unit_test(test_long_mode_paging),
        cmocka_unit_test(test_info_vmcs_ept),
        cmocka_unit_test(test_info_ept_tables),
        cmocka_unit_test(test_seed_api),
    };
    return RUN_ON_EVERY_BACKEND(tests);
}
