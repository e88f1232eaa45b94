/*
 * sst-run's machine: a sim VM through the public KVM API, as every sst286 test "runs in a
 * sim VM with 16 MiB of RAM". One memory slot maps 16 MiB of flat RAM at guest-physical 0
 * (every address below 16 MiB is RAM; no VGA hole, no devices); one vCPU. Each test loads
 * the vCPU's register mirror (vcpu->regs, vcpu->sregs), writes RAM through the slot's host
 * memory, and calls kvm_run until KVM_EXIT_HLT. Port I/O is the only exit served: IN reads
 * all ones, OUT is dropped (an empty ISA bus). Any other exit fails the test, by name.
 *
 * The VM is kept for all tests (creating one per test would cost more than the test) and
 * only what a test touches is restored: the registers it loads, the segment registers,
 * descriptor tables and control registers from the state the vCPU had when created (the
 * reset state's attributes: present, accessed read/write data; CS execute/read code) but
 * with the 286's IDTR limit, and
 * the RAM bytes, which sst_run.c clears. After a test that did not end at HLT the VM is
 * built again, so nothing it left pending (an MMIO read, an I/O completion, a kick) can
 * reach the next test.
 *
 * A guest that never halts is stopped by a watchdog thread (kvm_vcpu_kick after a second of
 * the same test); the number of KVM_RUNs per test is bounded too.
 */
#include "sst_cpu.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "hypervisor_sim.h"

/* A REP INS/OUTS of 0xFFFF elements moves at least one page per exit: far below this. */
#define SST_MAX_RUNS 4096
#define SST_WATCHDOG_TICK_MS 25
#define SST_WATCHDOG_TICKS 10            /* a test running this many ticks is stopped */

struct SstMachine {
    KvmDevice *kvm;
    KvmVm *vm;
    KvmVcpu *vcpu;                /* replaced only under `lock` (the watchdog kicks it) */
    uint8_t *ram;                 /* mapped here: it outlives a rebuilt VM */
    KvmSregs initial_sregs;       /* the vCPU's special registers when created */
    char broken[160];             /* why there is no VM (a rebuild failed), "" normally */

    pthread_t watchdog;
    bool watchdog_started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool quit;
    uint64_t test_seq;            /* bumped for each test (atomic) */
    int in_run;                   /* a test is running (atomic) */
    uint64_t kicked_seq;          /* the test the watchdog stopped (atomic), 0: none */
};

static void ms_from_now(struct timespec *ts, unsigned ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_nsec += (long)ms * 1000000L;
    while (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Kicks the vCPU when the same test has been running for SST_WATCHDOG_TICKS ticks. */
static void *watchdog_main(void *arg)
{
    SstMachine *m = arg;
    uint64_t seen = 0;
    int ticks = 0;
    pthread_mutex_lock(&m->lock);
    while (!m->quit) {
        struct timespec ts;
        ms_from_now(&ts, SST_WATCHDOG_TICK_MS);
        pthread_cond_timedwait(&m->cond, &m->lock, &ts);
        uint64_t seq = __atomic_load_n(&m->test_seq, __ATOMIC_SEQ_CST);
        bool running = __atomic_load_n(&m->in_run, __ATOMIC_SEQ_CST);
        if (!running || seq != seen) {
            seen = seq;
            ticks = 0;
            continue;
        }
        if (++ticks == SST_WATCHDOG_TICKS) {
            __atomic_store_n(&m->kicked_seq, seq, __ATOMIC_SEQ_CST);
            if (m->vcpu)
                kvm_vcpu_kick(m->vcpu);
        }
    }
    pthread_mutex_unlock(&m->lock);
    return NULL;
}

/* The VM, its one slot over m->ram and its vCPU. Returns 0, or -1 with `why`. */
static int build_vm(SstMachine *m, char *why, size_t why_size)
{
    if (!(m->kvm = kvm_open_backend(HV_BACKEND_SIM)) || !(m->vm = kvm_create_vm(m->kvm)) ||
        kvm_set_user_memory_region(m->vm, 0, 0, SST_RAM_SIZE, m->ram) < 0 ||
        !(m->vcpu = kvm_create_vcpu(m->vm, 0))) {
        snprintf(why, why_size, "cannot build the sim VM: %s", hv_last_error());
        kvm_close(m->kvm);
        m->kvm = NULL;
        m->vm = NULL;
        m->vcpu = NULL;
        return -1;
    }
    m->initial_sregs = m->vcpu->sregs;
    return 0;
}

SstMachine *sst_machine_create(char *why, size_t why_size)
{
    SstMachine *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(why, why_size, "out of memory");
        return NULL;
    }
    m->ram = mmap(NULL, SST_RAM_SIZE, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m->ram == MAP_FAILED) {
        snprintf(why, why_size, "cannot map %u bytes of RAM: %s", SST_RAM_SIZE, strerror(errno));
        free(m);
        return NULL;
    }
    pthread_mutex_init(&m->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&m->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (build_vm(m, why, why_size) < 0) {
        sst_machine_destroy(m);
        return NULL;
    }
    if (pthread_create(&m->watchdog, NULL, watchdog_main, m) != 0) {
        snprintf(why, why_size, "cannot start the watchdog thread");
        sst_machine_destroy(m);
        return NULL;
    }
    m->watchdog_started = true;
    return m;
}

void sst_machine_destroy(SstMachine *m)
{
    if (!m) return;
    if (m->watchdog_started) {
        pthread_mutex_lock(&m->lock);
        m->quit = true;
        pthread_cond_signal(&m->cond);
        pthread_mutex_unlock(&m->lock);
        pthread_join(m->watchdog, NULL);
    }
    kvm_close(m->kvm);
    pthread_cond_destroy(&m->cond);
    pthread_mutex_destroy(&m->lock);
    munmap(m->ram, SST_RAM_SIZE);
    free(m);
}

uint8_t *sst_machine_ram(SstMachine *m) { return m->ram; }

/* A fresh VM after a test that did not end at HLT. Returns 0, or -1 with `why`. */
static int rebuild_vm(SstMachine *m, char *why, size_t why_size)
{
    pthread_mutex_lock(&m->lock);
    kvm_close(m->kvm);
    m->kvm = NULL;
    int r = build_vm(m, why, why_size);
    pthread_mutex_unlock(&m->lock);
    return r;
}

/* A real-mode segment: selector, base = selector * 16, limit 0xFFFF, the attributes the
 * vCPU was created with. */
static void real_mode_segment(KvmSegment *s, uint16_t selector)
{
    s->selector = selector;
    s->base = (uint64_t)selector << 4;
    s->limit = 0xFFFF;
}

/* Why the run stopped at an exit other than HLT or I/O. */
static void describe_exit(const KvmVcpu *vcpu, char *why, size_t why_size)
{
    const KvmRun *run = vcpu->kvm_run;
    const char *name = kvm_exit_reason_name(run->exit_reason);
    char num[16];
    if (!name) {
        snprintf(num, sizeof num, "%u", run->exit_reason);
        name = num;
    }
    const KvmSegment *cs = &vcpu->sregs.cs;
    switch (run->exit_reason) {
    case KVM_EXIT_INTERNAL_ERROR:
        snprintf(why, why_size, "exit KVM_EXIT_INTERNAL_ERROR at %05llx: %s",
                 run->internal.ndata > 4 ? (unsigned long long)run->internal.data[4]
                                         : (unsigned long long)(cs->base + vcpu->regs.rip),
                 kvm_vcpu_exit_note((KvmVcpu *)vcpu));
        break;
    case KVM_EXIT_MMIO:
        snprintf(why, why_size, "exit KVM_EXIT_MMIO at %04x:%04llx: %s of %u bytes at 0x%llx",
                 cs->selector, (unsigned long long)vcpu->regs.rip,
                 run->mmio.is_write ? "write" : "read", run->mmio.len,
                 (unsigned long long)run->mmio.phys_addr);
        break;
    case KVM_EXIT_FAIL_ENTRY:
        snprintf(why, why_size, "exit KVM_EXIT_FAIL_ENTRY at %04x:%04llx: %s", cs->selector,
                 (unsigned long long)vcpu->regs.rip, kvm_vcpu_exit_note((KvmVcpu *)vcpu));
        break;
    default:
        snprintf(why, why_size, "exit KVM_EXIT_%s at %04x:%04llx", name, cs->selector,
                 (unsigned long long)vcpu->regs.rip);
        break;
    }
}

int sst_machine_run(SstMachine *m, const uint16_t in[SST_NREGS], uint16_t out[SST_NREGS],
                    char *why, size_t why_size)
{
    if (!m->vcpu) {
        snprintf(why, why_size, "%s", m->broken);
        return -1;
    }
    KvmVcpu *vcpu = m->vcpu;
    KvmRun *run = vcpu->kvm_run;

    KvmRegs *r = &vcpu->regs;
    memset(r, 0, sizeof *r);
    r->rax = in[SST_AX];
    r->rbx = in[SST_BX];
    r->rcx = in[SST_CX];
    r->rdx = in[SST_DX];
    r->rsp = in[SST_SP];
    r->rbp = in[SST_BP];
    r->rsi = in[SST_SI];
    r->rdi = in[SST_DI];
    r->rip = in[SST_IP];
    /* real mode on a 286: IOPL and NT (bits 12-15) cannot be set */
    r->rflags = (in[SST_FLAGS] & 0x0FFF) | 0x2;

    KvmSregs *s = &vcpu->sregs;
    *s = m->initial_sregs;
    real_mode_segment(&s->cs, in[SST_CS]);
    real_mode_segment(&s->ss, in[SST_SS]);
    real_mode_segment(&s->ds, in[SST_DS]);
    real_mode_segment(&s->es, in[SST_ES]);
    /* The 80286 the tests were captured on starts with IDTR limit 3FFh (80286 PRM, reset),
     * where a 386 and KVM's vCPU start with FFFFh: every real-mode vector fits in both. */
    s->idt.base = 0;
    s->idt.limit = 0x3FF;

    uint64_t seq = __atomic_add_fetch(&m->test_seq, 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&m->in_run, 1, __ATOMIC_SEQ_CST);
    int result = -1;
    int runs = 0;
    for (;;) {
        if (runs++ == SST_MAX_RUNS) {
            snprintf(why, why_size, "no HLT after %d exits", SST_MAX_RUNS);
            break;
        }
        if (kvm_run(vcpu) < 0) {
            snprintf(why, why_size, "KVM_RUN failed: %s", hv_last_error());
            break;
        }
        if (run->exit_reason == KVM_EXIT_HLT) {
            result = 0;
            break;
        }
        if (run->exit_reason == KVM_EXIT_IO) {
            if (run->io.direction == KVM_EXIT_IO_IN)
                memset((uint8_t *)run + run->io.data_offset, 0xFF,
                       (size_t)run->io.size * run->io.count);
            continue;
        }
        if (run->exit_reason == KVM_EXIT_INTR) {
            run->immediate_exit = 0;
            if (__atomic_load_n(&m->kicked_seq, __ATOMIC_SEQ_CST) == seq) {
                /* Where it was stopped depends on the host's speed: not said, so that the
                 * output stays the same from run to run. */
                snprintf(why, why_size, "no HLT within %d ms",
                         SST_WATCHDOG_TICK_MS * SST_WATCHDOG_TICKS);
                break;
            }
            continue;   /* a kick meant for an earlier test */
        }
        describe_exit(vcpu, why, why_size);
        break;
    }
    __atomic_store_n(&m->in_run, 0, __ATOMIC_SEQ_CST);

    if (result < 0) {
        rebuild_vm(m, m->broken, sizeof m->broken);   /* on failure, later tests say why */
        return -1;
    }
    out[SST_AX] = (uint16_t)r->rax;
    out[SST_BX] = (uint16_t)r->rbx;
    out[SST_CX] = (uint16_t)r->rcx;
    out[SST_DX] = (uint16_t)r->rdx;
    out[SST_SP] = (uint16_t)r->rsp;
    out[SST_BP] = (uint16_t)r->rbp;
    out[SST_SI] = (uint16_t)r->rsi;
    out[SST_DI] = (uint16_t)r->rdi;
    out[SST_CS] = s->cs.selector;
    out[SST_SS] = s->ss.selector;
    out[SST_DS] = s->ds.selector;
    out[SST_ES] = s->es.selector;
    out[SST_IP] = (uint16_t)r->rip;
    out[SST_FLAGS] = (uint16_t)r->rflags;
    return 0;
}
