/* Regression tests for the defects hostile testing found (issue 15), on every backend:
 * guests and monitor input that once made the VMM ignore a stop, lose an access or walk
 * without bound. The command-line reproducers (SIGTERM, stdout stalls, the monitor socket)
 * are in tests/guests/hostile.sh. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "backends.h"
#include "hypervisor_sim.h"

static void quiet_log(HvLogLevel level, const char *message, void *opaque)
{
    (void)level, (void)message, (void)opaque;
}

/* A 1 MiB VM with `code` at 0 and the vCPU at 0000:0000, serial output nowhere. */
static SimpleVM *vm_with(HvBackend b, const uint8_t *code, size_t size)
{
    SimpleVM *svm = vm_create_backend(1, b);
    assert_non_null(svm);
    svm->serial->output_fd = -1;
    svm->debug_exit->console_fd = -1;
    assert_int_equal(vm_load_code(svm, code, size, 0), 0);
    svm->vcpu->regs.rip = 0;
    return svm;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

/* ---- item 1: a stop or kick is never lost ---- */

typedef struct {
    SimpleVM *svm;
    volatile int done;
} PauseJob;

static void *pause_thread(void *arg)
{
    PauseJob *job = arg;
    vm_thread_pause(job->svm);
    __atomic_store_n(&job->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

/* Pauses and resumes a guest that loops on an exit the kernel handles itself, many times
 * at varied moments; each pause must answer within 1 s. A lost stop is reported, then
 * asked for again until it lands, so a regression fails instead of hanging. */
static void pause_resume_many(HvBackend b, const uint8_t *code, size_t size)
{
    SimpleVM *svm = vm_with(b, code, size);
    assert_int_equal(vm_thread_start(svm, false, NULL, NULL), 0);
    unsigned lost = 0;
    for (int i = 0; i < 300; i++) {
        sleep_us((i * 37) % 700);
        PauseJob job = {svm, 0};
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, pause_thread, &job), 0);
        uint64_t start = now_ms();
        while (!__atomic_load_n(&job.done, __ATOMIC_SEQ_CST) && now_ms() - start < 1000)
            sleep_us(100);
        if (!__atomic_load_n(&job.done, __ATOMIC_SEQ_CST)) {
            lost++;
            while (!__atomic_load_n(&job.done, __ATOMIC_SEQ_CST)) {
                vm_request_stop(svm);
                sleep_us(1000);
            }
        }
        pthread_join(t, NULL);
        assert_int_equal(vm_thread_state(svm), VM_THREAD_PAUSED);
        assert_int_equal(vm_thread_resume(svm), 0);
    }
    uint64_t start = now_ms();
    vm_thread_quit(svm);
    assert_true(now_ms() - start < 1000);
    vm_destroy(svm);
    if (lost)
        fail_msg("%u of 300 stops were not answered within 1 s", lost);
}

static void test_stop_cpuid_loop(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    static const uint8_t cpuid_loop[] = {0x0F, 0xA2, 0xEB, 0xFC};   /* cpuid; jmp $-2 */
    pause_resume_many(b, cpuid_loop, sizeof(cpuid_loop));
}

static void test_stop_rdmsr_loop(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    static const uint8_t rdmsr_loop[] = {
        0x66, 0xB9, 0x10, 0x00, 0x00, 0x00,   /* mov $0x10, %ecx (IA32_TIME_STAMP_COUNTER) */
        0x0F, 0x32,                           /* rdmsr */
        0xEB, 0xFC,                           /* jmp to the rdmsr */
    };
    pause_resume_many(b, rdmsr_loop, sizeof(rdmsr_loop));
}

/* A stop asked for while no vm_run is in progress is not forgotten: the next vm_run
 * returns at once with VM_STOP_REQUESTED, and the one after that runs. */
static void test_stop_before_run_is_kept(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    static const uint8_t code[] = {0xF4};
    SimpleVM *svm = vm_with(b, code, sizeof(code));
    vm_request_stop(svm);
    assert_int_equal(vm_run(svm), -EINTR);
    assert_int_equal(svm->stop_reason, VM_STOP_REQUESTED);
    assert_int_equal(svm->vcpu->regs.rip, 0);
    assert_int_equal(vm_run(svm), 0);
    assert_int_equal(svm->stop_reason, VM_STOP_HLT);
    vm_destroy(svm);
}

/* ---- item 2: accesses that straddle RAM and MMIO ---- */

/* 4-byte accesses across a page boundary into MMIO, as the reproducers make them:
 * split as hardware and KVM split them, the RAM part in RAM and the MMIO part an MMIO
 * access of its own size. Before: KVM ended the VM (an MMIO exit of 3 bytes was a device
 * error), sim sent the whole access to the first byte's address and lost the RAM part. */
static void test_access_straddling_ram_and_mmio(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    static const uint8_t code[] = {
        0xB8, 0xF0, 0x9F,                    /* mov $0x9ff0, %ax */
        0x8E, 0xC0,                          /* mov %ax, %es */
        0x26, 0x66, 0xC7, 0x06, 0xFE, 0x00,  /* movl $0xdeadbeef, %es:0xfe (0x9fffe) */
        0xEF, 0xBE, 0xAD, 0xDE,
        0x26, 0x66, 0xA1, 0xFE, 0x00,        /* mov %es:0xfe, %eax */
        0x66, 0x89, 0xC3,                    /* mov %eax, %ebx */
        0xB0, 0x5A,                          /* mov $0x5a, %al */
        0x26, 0x66, 0xA3, 0xFF, 0x00,        /* mov %eax, %es:0xff (0x9ffff + 3 bytes MMIO) */
        0xB8, 0x00, 0xB8,                    /* mov $0xb800, %ax */
        0x8E, 0xC0,                          /* mov %ax, %es */
        0x26, 0xC7, 0x06, 0x00, 0x00,        /* movw $0x4142, %es:0 (VGA text memory) */
        0x42, 0x41,
        0xB8, 0xF0, 0xB7,                    /* mov $0xb7f0, %ax */
        0x8E, 0xC0,                          /* mov %ax, %es */
        0x26, 0x66, 0xA1, 0xFF, 0x00,        /* mov %es:0xff, %eax (0xb7fff + 3 bytes VGA) */
        0xF4,                                /* hlt */
    };
    SimpleVM *svm = vm_with(b, code, sizeof(code));
    assert_int_equal(vm_run(svm), 0);
    assert_int_equal(svm->stop_reason, VM_STOP_HLT);
    const uint8_t *ram = vm_guest_ram(svm, 0x9FFFE, 2);
    assert_non_null(ram);
    /* 0x9fffe-0x9ffff are RAM: EF BE, then 5A from the second write's RAM byte; the
     * bytes from 0xa0000 are the VGA graphics window (plain memory, through MMIO), so
     * the straddling read gives back all four bytes. */
    assert_int_equal(ram[0], 0xEF);
    assert_int_equal(ram[1], 0x5A);
    assert_int_equal(svm->vcpu->regs.rbx & 0xFFFFFFFF, 0xDEADBEEF);
    /* 0xb7fff is in the VGA hole but not VGA text memory: FF; then 42 41 from 0xb8000. */
    assert_int_equal(svm->vcpu->regs.rax & 0xFFFFFF, 0x4142FF);
    vm_destroy(svm);
}

/* ---- item 3: info mem / info tlb on hostile page tables ---- */

/* One monitor command's answer (the caller frees it) and how long it took. */
static char *monitor_answer(QemuMonitor *mon, const char *line, uint64_t *ms)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    uint64_t start = now_ms();
    qemu_monitor_execute(mon, line, f);
    *ms = now_ms() - start;
    fclose(f);
    return text;
}

static unsigned count_lines(const char *text)
{
    unsigned n = 0;
    for (; *text; text++)
        n += *text == '\n';
    return n;
}

/* A bound on a monitor answer that catches a hang (before the fix: no answer in 12 s), not
 * a speed target: wide enough for a loaded machine and the sanitizer build. */
#define HANG_GUARD_MS 8000

/* IA-32e paging with the PML4 at 0x10000 (the vCPU does not run: the monitor reads the
 * tables as they are in memory). */
static void long_mode_at(SimpleVM *svm, uint64_t cr3)
{
    KvmSregs s = svm->vcpu->sregs;
    s.cr0 |= 1u | (1u << 31);   /* PE, PG */
    s.cr4 |= 1u << 5;           /* PAE */
    s.efer = 0x500;             /* LME, LMA */
    s.cr3 = cr3;
    svm->vcpu->sregs = s;
}

/* The tables: PML4 entries 1-511 point at the PML4 itself (entry 0 maps a 2 MiB
 * page through a PDPT and a PD). Before: info mem did not answer in 12 s, info tlb grew the
 * process by 285 MB in 10 s. Now both answer at once with the real mapping. */
static void test_self_referencing_pml4(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    static const uint8_t code[] = {0xF4};
    SimpleVM *svm = vm_with(b, code, sizeof(code));
    QemuMonitor *mon = qemu_monitor_create(svm);
    assert_non_null(mon);
    uint64_t *pml4 = (uint64_t *)vm_guest_ram(svm, 0x10000, 4096);
    uint64_t *pdpt = (uint64_t *)vm_guest_ram(svm, 0x11000, 4096);
    uint64_t *pd = (uint64_t *)vm_guest_ram(svm, 0x12000, 4096);
    memset(pdpt, 0, 4096);
    memset(pd, 0, 4096);
    pml4[0] = 0x11000 | 0x3;
    for (int i = 1; i < 512; i++)
        pml4[i] = 0x10000 | 0x3;
    pdpt[0] = 0x12000 | 0x3;
    pd[0] = 0x83;   /* 2 MiB at 0, P RW PS */
    long_mode_at(svm, 0x10000);
    uint64_t ms;
    char *mem = monitor_answer(mon, "info mem", &ms);
    assert_true(ms < HANG_GUARD_MS);
    assert_string_equal(mem, "0000000000000000-0000000000200000 0000000000200000 -rw\n");
    char *tlb = monitor_answer(mon, "info tlb", &ms);
    assert_true(ms < HANG_GUARD_MS);
    assert_string_equal(tlb, "0000000000000000: 0000000000000000 --P-----W\n");
    free(mem);
    free(tlb);
    qemu_monitor_destroy(mon);
    vm_destroy(svm);
}

/* No cycle, but every entry of every level points at the one table below: 512^4 leaves.
 * info tlb stops after its line cap, info mem after the table budget, each saying so. */
static void test_aliased_tables_bounded(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    static const uint8_t code[] = {0xF4};
    SimpleVM *svm = vm_with(b, code, sizeof(code));
    QemuMonitor *mon = qemu_monitor_create(svm);
    assert_non_null(mon);
    for (int level = 0; level < 4; level++) {
        uint64_t *t = (uint64_t *)vm_guest_ram(svm, 0x10000 + 0x1000 * (uint64_t)level, 4096);
        for (int i = 0; i < 512; i++)
            t[i] = (level < 3 ? 0x11000 + 0x1000 * (uint64_t)level : 0x20000) | 0x3;
    }
    long_mode_at(svm, 0x10000);
    uint64_t ms;
    char *tlb = monitor_answer(mon, "info tlb", &ms);
    assert_true(ms < HANG_GUARD_MS);
    assert_int_equal(count_lines(tlb), 262144 + 1);
    assert_non_null(strstr(tlb, "(stopped after 262144 lines)\n"));
    char *mem = monitor_answer(mon, "info mem", &ms);
    assert_true(ms < HANG_GUARD_MS);
    assert_int_equal(count_lines(mem), 2);
    assert_non_null(strstr(mem, "(stopped after walking 4096 page tables)\n"));
    free(mem);
    free(tlb);
    qemu_monitor_destroy(mon);
    vm_destroy(svm);
}

/* ---- item 10: an instruction limit (sim) ---- */

/* Ten NOPs and a HLT with a limit of 5: the run stops after exactly 5 instructions, as a
 * VMX-preemption-timer exit in the VMCS, and again at once while the limit stands; without
 * the limit it goes on to the HLT. KVM has no instruction count: -ENOTSUP. */
static void test_instruction_limit(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    uint8_t code[11];
    memset(code, 0x90, 10);
    code[10] = 0xF4;
    SimpleVM *svm = vm_with(b, code, sizeof(code));
    if (b != HV_BACKEND_SIM) {
        assert_int_equal(kvm_vcpu_set_instruction_limit(svm->vcpu, 5), -ENOTSUP);
        assert_int_equal(kvm_vcpu_instructions_retired(svm->vcpu), 0);
        vm_destroy(svm);
        return;
    }
    assert_int_equal(kvm_vcpu_set_instruction_limit(svm->vcpu, 5), 0);
    assert_int_equal(vm_run(svm), -ETIME);
    assert_int_equal(svm->stop_reason, VM_STOP_MAX_INSNS);
    assert_int_equal(svm->vcpu->regs.rip, 5);
    assert_int_equal(kvm_vcpu_instructions_retired(svm->vcpu), 5);
    assert_int_equal(kvm_vcpu_vmcs(svm->vcpu)->exit.reason & 0xFFFF, EXIT_REASON_PREEMPTION_TIMER);
    assert_int_equal(vm_run(svm), -ETIME);
    assert_int_equal(svm->vcpu->regs.rip, 5);
    assert_int_equal(kvm_vcpu_set_instruction_limit(svm->vcpu, 0), 0);
    assert_int_equal(vm_run(svm), 0);
    assert_int_equal(svm->stop_reason, VM_STOP_HLT);
    assert_int_equal(svm->vcpu->regs.rip, 11);
    vm_destroy(svm);
}

/* ---- item 5: a stalled output fd ---- */

static void *cancel_later(void *arg)
{
    sleep_us(100 * 1000);
    __atomic_store_n((int *)arg, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

/* COM1 output into a full pipe whose fd is blocking (a stdout whose reader stalls): the
 * write gives up after the 1 s stall limit instead of blocking in the kernel, and at once
 * when the VM is ending (output_cancel). Before, the vCPU thread blocked in write(). */
/* A pipe whose write end is blocking and full: a stdout whose reader stalls. */
static void full_blocking_pipe(int p[2])
{
    assert_int_equal(pipe2(p, O_NONBLOCK), 0);
    char junk[4096];
    memset(junk, 'x', sizeof(junk));
    while (write(p[1], junk, sizeof(junk)) > 0) {
    }
    int fl = fcntl(p[1], F_GETFL);
    assert_int_equal(fcntl(p[1], F_SETFL, fl & ~O_NONBLOCK), 0);
}

static void test_serial_output_full_blocking_pipe(void **state)
{
    (void)state;
    int p[2];
    full_blocking_pipe(p);
    SerialPort *sp = serial_create_at(COM1_BASE, p[1]);
    assert_non_null(sp);
    uint64_t start = now_ms();
    assert_int_equal(serial_io_write(COM1_BASE, 1, 'A', sp), 0);   /* dropped after 1 s */
    uint64_t ms = now_ms() - start;
    assert_true(ms >= 900 && ms < 2000);
    int cancel = 0;
    sp->output_cancel = &cancel;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, cancel_later, &cancel), 0);
    start = now_ms();
    assert_int_equal(serial_io_write(COM1_BASE, 1, 'B', sp), 0);
    ms = now_ms() - start;
    pthread_join(t, NULL);
    assert_true(ms >= 90 && ms < 500);
    assert_int_equal(sp->output_fd, p[1]);   /* a stall is not a failure: still used */
    serial_destroy(sp);
    close(p[0]);
    close(p[1]);
}

/* The step watchdog (item 4: a step never runs unbounded) stops a step in which no
 * instruction completes for 250 ms, but a slow instruction that does complete is still a
 * step: here the stepped OUT waits for a full COM1 pipe until its 1 s stall limit drops
 * the byte; the step then answers as stepped, and the stop the watchdog asked for does not
 * cut the next command short. */
static void test_step_slow_instruction(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    static const uint8_t code[] = {
        0xBA, 0xF8, 0x03,   /* mov $0x3f8, %dx */
        0xB0, 0x41,         /* mov $'A', %al */
        0xEE,               /* out %al, %dx */
        0xF4,               /* hlt */
    };
    SimpleVM *svm = vm_with(b, code, sizeof(code));
    int p[2];
    full_blocking_pipe(p);
    svm->serial->output_fd = p[1];
    assert_int_equal(vm_thread_start(svm, true, NULL, NULL), 0);
    VmStopReason why = VM_STOP_NONE;
    assert_int_equal(vm_thread_step(svm, 2, &why), 0);   /* the two MOVs */
    assert_int_equal(why, VM_STOP_STEPPED);
    uint64_t start = now_ms();
    assert_int_equal(vm_thread_step(svm, 1, &why), 0);
    uint64_t ms = now_ms() - start;
    assert_int_equal(why, VM_STOP_STEPPED);
    assert_true(ms >= 900 && ms < 2000);
    assert_int_equal(vm_thread_state(svm), VM_THREAD_PAUSED);
    assert_int_equal(svm->vcpu->regs.rip, 6);
    svm->serial->output_fd = -1;
    assert_int_equal(vm_thread_step(svm, 1, &why), 0);
    assert_int_equal(why, VM_STOP_HLT);
    vm_thread_quit(svm);
    vm_destroy(svm);
    close(p[0]);
    close(p[1]);
}

/* The watchdog's stop: a REP OUTSB of 3 bytes into a full COM1 pipe. KVM exits once per
 * element here, so after the first element's 1 s stall the REP is not done and the stop
 * the watchdog asked for (at 250 ms) ends the step: -ETIMEDOUT, paused, RIP still at the
 * REP. The sim kernel exits once for all three elements (3 s of stalls, then the REP is
 * complete: a plain step), so this case needs KVM. */
static void test_step_watchdog_stops(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    if (b != HV_BACKEND_KVM)
        skip_because("sim makes one I/O exit for the whole REP OUTSB: no stop to see");
    static const uint8_t code[] = {
        0xBA, 0xF8, 0x03,   /* mov $0x3f8, %dx */
        0xBE, 0x20, 0x00,   /* mov $0x20, %si */
        0xB9, 0x03, 0x00,   /* mov $3, %cx */
        0xF3, 0x6E,         /* rep outsb */
        0xF4,               /* hlt */
    };
    SimpleVM *svm = vm_with(b, code, sizeof(code));
    int p[2];
    full_blocking_pipe(p);
    svm->serial->output_fd = p[1];
    assert_int_equal(vm_thread_start(svm, true, NULL, NULL), 0);
    VmStopReason why = VM_STOP_NONE;
    assert_int_equal(vm_thread_step(svm, 3, &why), 0);
    uint64_t start = now_ms();
    assert_int_equal(vm_thread_step(svm, 1, &why), -ETIMEDOUT);
    uint64_t ms = now_ms() - start;
    assert_int_equal(why, VM_STOP_REQUESTED);
    assert_true(ms >= 250 && ms < 2000);
    assert_int_equal(vm_thread_state(svm), VM_THREAD_PAUSED);
    assert_int_equal(svm->vcpu->regs.rip, 9);   /* at the REP, elements left */
    svm->serial->output_fd = -1;
    uint64_t t0 = now_ms();
    vm_thread_quit(svm);
    assert_true(now_ms() - t0 < 1000);
    vm_destroy(svm);
    close(p[0]);
    close(p[1]);
}

/* Issue 12: guest RAM has PROT_NONE guards on both sides, so a VMM access that runs off
 * RAM faults at once. A child touches the byte before RAM and the byte after it, and must
 * die of SIGSEGV; the first and last bytes of RAM stay usable. */
static void touch_in_child(SimpleVM *svm, ptrdiff_t at)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGSEGV, SIG_DFL);   /* not ASan's report: the plain fault */
        volatile uint8_t *p = svm->ram + at;
        *p = 1;
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSEGV)
        fail_msg("a write at RAM%+td did not fault (status 0x%x)", at, status);
}

static void test_ram_guard_pages(void **state)
{
    (void)state;
    SimpleVM *svm = vm_create_bytes(VM_MIN_RAM, HV_BACKEND_SIM);
    assert_non_null(svm);
    svm->ram[0] = 0x5A;
    svm->ram[svm->ram_size - 1] = 0xA5;
    touch_in_child(svm, -1);
    touch_in_child(svm, (ptrdiff_t)svm->ram_size);
    touch_in_child(svm, -(ptrdiff_t)VM_RAM_GUARD);
    touch_in_child(svm, (ptrdiff_t)(svm->ram_size + VM_RAM_GUARD - 1));
    assert_int_equal(svm->ram[0], 0x5A);
    vm_destroy(svm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ram_guard_pages),
        cmocka_unit_test(test_stop_cpuid_loop),
        cmocka_unit_test(test_stop_rdmsr_loop),
        cmocka_unit_test(test_stop_before_run_is_kept),
        cmocka_unit_test(test_access_straddling_ram_and_mmio),
        cmocka_unit_test(test_self_referencing_pml4),
        cmocka_unit_test(test_aliased_tables_bounded),
        cmocka_unit_test(test_instruction_limit),
        cmocka_unit_test(test_step_slow_instruction),
        cmocka_unit_test(test_step_watchdog_stops),
    };
    const struct CMUnitTest devices[] = {
        cmocka_unit_test(test_serial_output_full_blocking_pipe),
    };
    hv_set_log_handler(quiet_log, NULL);
    return RUN_ON_EVERY_BACKEND(tests) | cmocka_run_group_tests_name("devices", devices, NULL, NULL);
}
