/*
 * The vCPU thread: vm_run in a thread of its own, paused and resumed from another thread
 * (DESIGN.md, "Threads"). Pausing is vm_run returning with VM_STOP_REQUESTED (stopped
 * between two guest instructions, the last exit completed); the thread then waits on a
 * condition variable for the next command. The lock is taken per command, never per exit:
 * the run loop itself is untouched.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kvm/backend.h"
#include "vmm/platform.h"
#include "vmm/vm_devices.h"

typedef enum { CMD_NONE, CMD_RUN, CMD_STEP, CMD_QUIT } RunnerCommand;

/* A step command in which no instruction completes for this long is stopped: one
 * instruction takes far less (a REP chunk on sim, one exit under nested KVM), so only a
 * run that went free can take this long, and the monitor's thread (which also serves
 * SIGTERM) waits no longer than this (issue 15, item 4). */
#define STEP_STALL_MS 250

struct VmRunner {
    SimpleVM *svm;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    VmThreadState state;      /* what the monitor sees; RUNNING from the moment it asks */
    RunnerCommand command;    /* the next thing for the thread to do */
    bool busy;                /* the thread is inside vm_run / vm_step */
    unsigned step_count;
    unsigned steps_done;
    VmStopReason step_result;
    uint64_t step_serial;     /* bumped when a step command finishes */
    uint64_t steps_progress;  /* bumped (atomically) after each instruction of a step */
    bool halted;              /* a step executed HLT */
    KvmRegs boot_regs;        /* the state at the start, for system_reset */
    KvmSregs boot_sregs;
    void (*on_end)(SimpleVM *svm, void *opaque);
    void *opaque;
    void (*observer)(SimpleVM *svm, void *opaque);   /* vm_thread_set_observer */
    void *observer_opaque;
    int observer_calls;       /* calls in progress (made without the lock) */
    int tid;                  /* gettid() of the thread, for info cpus */
};

/* Steps up to n instructions; the reason the last one stopped. */
static VmStopReason run_steps(struct VmRunner *r, unsigned n, unsigned *done)
{
    SimpleVM *svm = r->svm;
    *done = 0;
    while (*done < n) {
        vm_step(svm);
        __atomic_add_fetch(&r->steps_progress, 1, __ATOMIC_SEQ_CST);
        if (svm->stop_reason != VM_STOP_STEPPED) {
            if (svm->stop_reason == VM_STOP_HLT)
                (*done)++;
            return svm->stop_reason;
        }
        (*done)++;
    }
    return VM_STOP_STEPPED;
}

/* Puts the vCPU back in its start state (system_reset, or a triple fault without
 * -no-reboot), logging the state it leaves with -d cpu_reset as QEMU does. Lock held. */
static int reset_vcpu(struct VmRunner *r)
{
    SimpleVM *svm = r->svm;
    if (svm->log_items & VM_LOG_CPU_RESET) {
        KvmRegs regs;
        KvmSregs sregs;
        FILE *o = svm->log ? svm->log : stderr;
        fprintf(o, "CPU Reset (CPU 0)\n");
        if (kvm_get_regs(svm->vcpu, &regs) == 0 && kvm_get_sregs(svm->vcpu, &sregs) == 0)
            qemu_dump_cpu_state(o, NULL, &regs, &sregs);
    }
    vm_devices_reset(svm);   /* the devices with a reset hook: the PCI functions */
    int ret;
    if ((ret = kvm_set_sregs(svm->vcpu, &r->boot_sregs)) == 0 &&
        (ret = kvm_set_regs(svm->vcpu, &r->boot_regs)) == 0)
        r->halted = false;
    /* The APs go back to waiting for a SIPI (an INIT, applied before they run). */
    for (unsigned i = 1; i < svm->num_vcpus; i++)
        __atomic_store_n(&svm->platform->cpu[i].init_pending, true, __ATOMIC_RELEASE);
    svm->platform->cpu[0].halted = svm->platform->cpu[0].halt_masked = false;
    svm->cur_vcpu = 0;
    return ret;
}

/* Calls the observer (lock held on entry and exit, released during the call, which is
 * counted so that vm_thread_set_observer can wait for it to finish). */
static void notify_observer(struct VmRunner *r)
{
    if (!r->observer)
        return;
    void (*fn)(SimpleVM *, void *) = r->observer;
    void *opaque = r->observer_opaque;
    r->observer_calls++;
    pthread_mutex_unlock(&r->lock);
    fn(r->svm, opaque);
    pthread_mutex_lock(&r->lock);
    r->observer_calls--;
    pthread_cond_broadcast(&r->cond);
}

static void *runner_main(void *arg)
{
    struct VmRunner *r = arg;
    SimpleVM *svm = r->svm;
    pthread_mutex_lock(&r->lock);
    r->tid = (int)gettid();
    for (;;) {
        while (r->command == CMD_NONE)
            pthread_cond_wait(&r->cond, &r->lock);
        RunnerCommand cmd = r->command;
        r->command = CMD_NONE;
        if (cmd == CMD_QUIT)
            break;
        /* A stop asked for before this command must not cut it short. */
        __atomic_store_n(&svm->stop_requested, 0, __ATOMIC_SEQ_CST);
        r->busy = true;
        pthread_mutex_unlock(&r->lock);

        bool ended;
        if (cmd == CMD_RUN) {
            if (r->halted && !svm->platform->cpu[svm->cur_vcpu].halted) {
                /* Resuming a vCPU halted with IF=0: nothing will wake it; the VM ends as
                 * if it had halted while running. */
                svm->stop_reason = VM_STOP_HLT;
            } else {
                /* A HLT with IF=1 waits in vm_run for its interrupt. */
                pthread_mutex_lock(&r->lock);
                r->halted = false;
                pthread_mutex_unlock(&r->lock);
                vm_run(svm);
                /* A triple fault resets a PC: the VM goes on from its start state. */
                while (svm->stop_reason == VM_STOP_SHUTDOWN && svm->reset_on_shutdown) {
                    pthread_mutex_lock(&r->lock);
                    bool asked = r->command != CMD_NONE;   /* a quit is waiting */
                    int e = asked ? 0 : reset_vcpu(r);
                    pthread_mutex_unlock(&r->lock);
                    if (asked || e < 0)
                        break;
                    svm->resets++;
                    vm_run(svm);
                }
            }
            ended = svm->stop_reason != VM_STOP_REQUESTED && svm->stop_reason != VM_STOP_DEBUG;
        } else {
            unsigned done;
            VmStopReason why = r->halted ? VM_STOP_HLT : run_steps(r, r->step_count, &done);
            if (r->halted)
                done = 0;
            pthread_mutex_lock(&r->lock);
            r->steps_done = done;
            r->step_result = why;
            r->step_serial++;
            if (why == VM_STOP_HLT)
                r->halted = true;
            pthread_mutex_unlock(&r->lock);
            ended = why != VM_STOP_STEPPED && why != VM_STOP_HLT && why != VM_STOP_REQUESTED &&
                    why != VM_STOP_DEBUG;
        }

        pthread_mutex_lock(&r->lock);
        r->busy = false;
        if (cmd == CMD_RUN && svm->stop_reason == VM_STOP_HLT)
            r->halted = true;   /* info registers/cpus of a VM kept after its guest halted */
        if (ended)
            break;
        if (r->command == CMD_NONE)
            r->state = VM_THREAD_PAUSED;
        pthread_cond_broadcast(&r->cond);
        /* A breakpoint while running: whoever debugs learns that the VM paused. */
        if (cmd == CMD_RUN && svm->stop_reason == VM_STOP_DEBUG)
            notify_observer(r);
    }
    r->state = VM_THREAD_ENDED;
    r->busy = false;
    pthread_cond_broadcast(&r->cond);
    notify_observer(r);
    pthread_mutex_unlock(&r->lock);
    if (r->on_end)
        r->on_end(svm, r->opaque);
    return NULL;
}

int vm_thread_start(SimpleVM *svm, bool paused, void (*on_end)(SimpleVM *svm, void *opaque),
                    void *opaque)
{
    if (!svm)
        return -EINVAL;
    if (svm->runner)
        return hv_fail(EBUSY, "the vCPU thread is already running");
    struct VmRunner *r = calloc(1, sizeof(*r));
    if (!r)
        return hv_fail(ENOMEM, "out of memory");
    r->svm = svm;
    r->on_end = on_end;
    r->opaque = opaque;
    r->state = paused ? VM_THREAD_PAUSED : VM_THREAD_RUNNING;
    r->command = paused ? CMD_NONE : CMD_RUN;
    kvm_get_regs(svm->vcpu, &r->boot_regs);
    kvm_get_sregs(svm->vcpu, &r->boot_sregs);
    pthread_mutex_init(&r->lock, NULL);
    /* Timed waits (wait_step) count on the monotonic clock. */
    pthread_condattr_t cattr;
    pthread_condattr_init(&cattr);
    pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cond, &cattr);
    pthread_condattr_destroy(&cattr);
    svm->runner = r;
    int err = pthread_create(&r->thread, NULL, runner_main, r);
    if (err) {
        svm->runner = NULL;
        pthread_mutex_destroy(&r->lock);
        pthread_cond_destroy(&r->cond);
        free(r);
        return hv_fail(err, "cannot start the vCPU thread: %s", strerror(err));
    }
    return 0;
}

VmThreadState vm_thread_state(SimpleVM *svm)
{
    if (!svm || !svm->runner)
        return VM_THREAD_ENDED;
    struct VmRunner *r = svm->runner;
    pthread_mutex_lock(&r->lock);
    VmThreadState s = r->state;
    pthread_mutex_unlock(&r->lock);
    return s;
}

bool vm_thread_halted(SimpleVM *svm)
{
    if (!svm || !svm->runner)
        return false;
    struct VmRunner *r = svm->runner;
    pthread_mutex_lock(&r->lock);
    bool h = r->halted;
    pthread_mutex_unlock(&r->lock);
    return h;
}

/* Waits (lock held) until the thread has taken no command and is out of the guest. */
static void wait_idle(struct VmRunner *r)
{
    while ((r->busy || r->command != CMD_NONE) && r->state != VM_THREAD_ENDED)
        pthread_cond_wait(&r->cond, &r->lock);
}

int vm_thread_pause(SimpleVM *svm)
{
    if (!svm || !svm->runner)
        return -ESRCH;
    struct VmRunner *r = svm->runner;
    pthread_mutex_lock(&r->lock);
    if (r->state == VM_THREAD_RUNNING) {
        if (r->command == CMD_RUN && !r->busy) {
            r->command = CMD_NONE;           /* not started yet: nothing to stop */
        } else {
            vm_request_stop(svm);
            wait_idle(r);
        }
        if (r->state != VM_THREAD_ENDED)
            r->state = VM_THREAD_PAUSED;
    }
    int ret = r->state == VM_THREAD_ENDED ? -ESRCH : 0;
    pthread_mutex_unlock(&r->lock);
    return ret;
}

int vm_thread_resume(SimpleVM *svm)
{
    if (!svm || !svm->runner)
        return -ESRCH;
    struct VmRunner *r = svm->runner;
    pthread_mutex_lock(&r->lock);
    int ret = 0;
    if (r->state == VM_THREAD_ENDED) {
        ret = -ESRCH;
    } else if (r->state == VM_THREAD_PAUSED) {
        wait_idle(r);
        if (r->state != VM_THREAD_ENDED) {
            r->command = CMD_RUN;
            r->state = VM_THREAD_RUNNING;
            pthread_cond_broadcast(&r->cond);
        }
    }
    pthread_mutex_unlock(&r->lock);
    return ret;
}

static uint64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Waits (lock held) until the step command `serial` has finished. When no instruction
 * completes for STEP_STALL_MS, the step is stopped (sticky, so it does stop) and true
 * is returned once it has. */
static bool wait_step(struct VmRunner *r, uint64_t serial)
{
    uint64_t seen = __atomic_load_n(&r->steps_progress, __ATOMIC_SEQ_CST);
    uint64_t since = monotonic_ms();
    bool stalled = false;
    while (r->step_serial == serial && r->state != VM_THREAD_ENDED) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 20 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&r->cond, &r->lock, &ts);
        uint64_t p = __atomic_load_n(&r->steps_progress, __ATOMIC_SEQ_CST);
        if (p != seen) {
            seen = p;
            since = monotonic_ms();
        } else if (!stalled && monotonic_ms() - since >= STEP_STALL_MS) {
            stalled = true;
            vm_request_stop(r->svm);
        }
    }
    return stalled;
}

int vm_thread_step(SimpleVM *svm, unsigned n, VmStopReason *why)
{
    if (!svm || !svm->runner)
        return -ESRCH;
    struct VmRunner *r = svm->runner;
    pthread_mutex_lock(&r->lock);
    int ret = 0;
    if (r->state == VM_THREAD_ENDED) {
        ret = -ESRCH;
    } else if (r->state == VM_THREAD_RUNNING) {
        ret = -EBUSY;
    } else {
        wait_idle(r);
        uint64_t serial = r->step_serial;
        r->command = CMD_STEP;
        r->step_count = n;
        r->state = VM_THREAD_RUNNING;
        pthread_cond_broadcast(&r->cond);
        bool stalled = wait_step(r, serial);
        wait_idle(r);
        if (why)
            *why = r->step_serial != serial ? r->step_result : svm->stop_reason;
        if (r->step_serial == serial)
            ret = -ESRCH;
        else if (stalled && r->step_result == VM_STOP_REQUESTED)
            ret = -ETIMEDOUT;   /* stopped by the watchdog (a step that ended anyway is not) */
    }
    pthread_mutex_unlock(&r->lock);
    return ret;
}

int vm_thread_reset(SimpleVM *svm)
{
    if (!svm || !svm->runner)
        return -ESRCH;
    struct VmRunner *r = svm->runner;
    pthread_mutex_lock(&r->lock);
    int ret = 0;
    if (r->state != VM_THREAD_PAUSED) {
        ret = r->state == VM_THREAD_ENDED ? -ESRCH : -EBUSY;
    } else {
        wait_idle(r);
        ret = reset_vcpu(r);
    }
    pthread_mutex_unlock(&r->lock);
    return ret;
}

int vm_thread_id(SimpleVM *svm)
{
    if (!svm || !svm->runner)
        return 0;
    struct VmRunner *r = svm->runner;
    pthread_mutex_lock(&r->lock);
    int tid = r->tid;
    pthread_mutex_unlock(&r->lock);
    return tid;
}

void vm_thread_set_observer(SimpleVM *svm, void (*fn)(SimpleVM *svm, void *opaque), void *opaque)
{
    if (!svm || !svm->runner)
        return;
    struct VmRunner *r = svm->runner;
    pthread_mutex_lock(&r->lock);
    while (r->observer_calls)   /* the old observer may be freed once this returns */
        pthread_cond_wait(&r->cond, &r->lock);
    r->observer = fn;
    r->observer_opaque = opaque;
    pthread_mutex_unlock(&r->lock);
}

void vm_thread_end(SimpleVM *svm)
{
    if (!svm || !svm->runner)
        return;
    struct VmRunner *r = svm->runner;
    /* Output the guest is waiting to write must not hold the thread: it is dropped. */
    __atomic_store_n(&svm->output_cancel, 1, __ATOMIC_SEQ_CST);
    pthread_mutex_lock(&r->lock);
    if (r->state != VM_THREAD_ENDED) {
        r->command = CMD_QUIT;
        if (r->busy)
            vm_request_stop(svm);
        pthread_cond_broadcast(&r->cond);
        while (r->state != VM_THREAD_ENDED)
            pthread_cond_wait(&r->cond, &r->lock);
        if (svm->stop_reason == VM_STOP_NONE || svm->stop_reason == VM_STOP_STEPPED ||
            svm->stop_reason == VM_STOP_DEBUG)
            svm->stop_reason = VM_STOP_REQUESTED;
    }
    pthread_mutex_unlock(&r->lock);
}

void vm_thread_quit(SimpleVM *svm)
{
    if (!svm || !svm->runner)
        return;
    struct VmRunner *r = svm->runner;
    vm_thread_end(svm);
    pthread_join(r->thread, NULL);
    if (svm->stop_reason == VM_STOP_NONE || svm->stop_reason == VM_STOP_STEPPED ||
        svm->stop_reason == VM_STOP_DEBUG)
        svm->stop_reason = VM_STOP_REQUESTED;
    svm->runner = NULL;
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->cond);
    free(r);
}
