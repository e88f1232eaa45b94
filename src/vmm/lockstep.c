/*
 * Lockstep differential runs (`scratchvm diff`): the same guest in two VMs, normally one
 * on Linux KVM and one on the sim kernel, advanced together one VM exit (or, stepping,
 * one instruction) at a time and compared after each: how the run stopped, the exit as
 * struct kvm_run describes it, every register of KVM_GET_REGS and KVM_GET_SREGS. The
 * first difference ends the run with both states and the instruction.
 *
 * One exit at a time is vm_run with max_exits one past the exits so far: it returns
 * after exactly one exit the VMM handled, with an I/O or MMIO instruction completed, so
 * both VMs are compared between two instructions. A guest that makes no exit at all is
 * stopped by a watchdog (LockstepOptions.timeout_ms).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kvm/backend.h"
#include "vmm/paging.h"

#define LOCKSTEP_MAX_DIFFS 64

/* ---- comparing states ---------------------------------------------------------------- */

typedef struct {
    FILE *out;
    int count;
} Diffs;

static void differ(Diffs *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void differ(Diffs *d, const char *fmt, ...)
{
    if (d->out && d->count < LOCKSTEP_MAX_DIFFS) {
        va_list ap;
        va_start(ap, fmt);
        fputs("  ", d->out);
        vfprintf(d->out, fmt, ap);
        fputc('\n', d->out);
        va_end(ap);
    }
    d->count++;
}

static void compare_segment(Diffs *d, const char *name, const KvmSegment *a, const KvmSegment *b)
{
    if (a->selector != b->selector || a->base != b->base || a->limit != b->limit ||
        a->type != b->type || a->s != b->s || a->dpl != b->dpl || a->present != b->present ||
        a->avl != b->avl || a->l != b->l || a->db != b->db || a->g != b->g ||
        a->unusable != b->unusable)
        differ(d, "%-4s sel %04x base %08llx limit %08x type %x s%u dpl%u p%u avl%u l%u db%u g%u u%u"
                  "  |  sel %04x base %08llx limit %08x type %x s%u dpl%u p%u avl%u l%u db%u g%u u%u",
               name, a->selector, (unsigned long long)a->base, a->limit, a->type, a->s, a->dpl,
               a->present, a->avl, a->l, a->db, a->g, a->unusable, b->selector,
               (unsigned long long)b->base, b->limit, b->type, b->s, b->dpl, b->present, b->avl,
               b->l, b->db, b->g, b->unusable);
}

int vm_compare_sregs(FILE *out, const KvmSregs *as, const KvmSregs *bs)
{
    Diffs d = {out, 0};
    const struct { const char *name; size_t off; } segs[] = {
        {"cs", offsetof(KvmSregs, cs)}, {"ds", offsetof(KvmSregs, ds)},
        {"es", offsetof(KvmSregs, es)}, {"fs", offsetof(KvmSregs, fs)},
        {"gs", offsetof(KvmSregs, gs)}, {"ss", offsetof(KvmSregs, ss)},
        {"tr", offsetof(KvmSregs, tr)}, {"ldt", offsetof(KvmSregs, ldt)},
    };
    for (size_t i = 0; i < sizeof(segs) / sizeof(segs[0]); i++)
        compare_segment(&d, segs[i].name, (const KvmSegment *)((const char *)as + segs[i].off),
                        (const KvmSegment *)((const char *)bs + segs[i].off));
    if (as->gdt.base != bs->gdt.base || as->gdt.limit != bs->gdt.limit)
        differ(&d, "gdt    %llx/%x  |  %llx/%x", (unsigned long long)as->gdt.base,
               as->gdt.limit, (unsigned long long)bs->gdt.base, bs->gdt.limit);
    if (as->idt.base != bs->idt.base || as->idt.limit != bs->idt.limit)
        differ(&d, "idt    %llx/%x  |  %llx/%x", (unsigned long long)as->idt.base,
               as->idt.limit, (unsigned long long)bs->idt.base, bs->idt.limit);
    const struct { const char *name; __u64 a, b; } crs[] = {
        {"cr0", as->cr0, bs->cr0}, {"cr2", as->cr2, bs->cr2}, {"cr3", as->cr3, bs->cr3},
        {"cr4", as->cr4, bs->cr4}, {"cr8", as->cr8, bs->cr8}, {"efer", as->efer, bs->efer},
        {"apic_base", as->apic_base, bs->apic_base},
    };
    for (size_t i = 0; i < sizeof(crs) / sizeof(crs[0]); i++)
        if (crs[i].a != crs[i].b)
            differ(&d, "%-6s %016llx  |  %016llx", crs[i].name, (unsigned long long)crs[i].a,
                   (unsigned long long)crs[i].b);
    return d.count;
}

int vm_compare_state(FILE *out, const KvmRegs *ar, const KvmSregs *as, const KvmRegs *br,
                     const KvmSregs *bs)
{
    Diffs d = {out, 0};
    static const char *const gpr[] = {
        "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp", "r8", "r9",
        "r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags",
    };
    _Static_assert(sizeof(KvmRegs) == sizeof(gpr) / sizeof(gpr[0]) * sizeof(__u64),
                   "struct kvm_regs is 18 registers");
    const __u64 *a = &ar->rax, *b = &br->rax;
    for (size_t i = 0; i < sizeof(gpr) / sizeof(gpr[0]); i++)
        if (a[i] != b[i])
            differ(&d, "%-6s %016llx  |  %016llx", gpr[i], (unsigned long long)a[i],
                   (unsigned long long)b[i]);
    return d.count + vm_compare_sregs(out, as, bs);
}

/* The exit both VMs just handled (svm->last_exit: I/O direction, port, size, count and
 * data; MMIO address, length, direction and written data). An IN's data is what the
 * devices answered, so it is compared too. */
static int compare_exits(Diffs *d, const SimpleVM *va, const SimpleVM *vb)
{
    int before = d->count;
    const __typeof__(va->last_exit) *a = &va->last_exit, *b = &vb->last_exit;
    if (a->reason != b->reason) {
        const char *an = kvm_exit_reason_name(a->reason);
        const char *bn = kvm_exit_reason_name(b->reason);
        differ(d, "exit   KVM_EXIT_%s  |  KVM_EXIT_%s", an ? an : "?", bn ? bn : "?");
        return d->count - before;
    }
    if (a->reason == KVM_EXIT_IO) {
        if (a->io_direction != b->io_direction || a->io_port != b->io_port ||
            a->io_size != b->io_size || a->io_count != b->io_count) {
            differ(d, "I/O    %s port %#x size %u count %u  |  %s port %#x size %u count %u",
                   a->io_direction ? "out" : "in", a->io_port, a->io_size, a->io_count,
                   b->io_direction ? "out" : "in", b->io_port, b->io_size, b->io_count);
        } else {
            size_t n = (size_t)a->io_size * a->io_count;
            if (n > sizeof(a->io_data))
                n = sizeof(a->io_data);
            if (memcmp(a->io_data, b->io_data, n) != 0)
                differ(d, "I/O    %s port %#x data %02x...  |  data %02x...",
                       a->io_direction ? "out" : "in", a->io_port, a->io_data[0], b->io_data[0]);
        }
    } else if (a->reason == KVM_EXIT_MMIO) {
        unsigned n = a->mmio_len <= 8 ? a->mmio_len : 8;
        if (a->mmio_addr != b->mmio_addr || a->mmio_len != b->mmio_len ||
            a->mmio_write != b->mmio_write ||
            (a->mmio_write && memcmp(a->mmio_data, b->mmio_data, n) != 0))
            differ(d, "MMIO   %s %#llx len %u  |  %s %#llx len %u",
                   a->mmio_write ? "write" : "read", (unsigned long long)a->mmio_addr,
                   a->mmio_len, b->mmio_write ? "write" : "read",
                   (unsigned long long)b->mmio_addr, b->mmio_len);
    }
    return d->count - before;
}

/* ---- the run ------------------------------------------------------------------------- */

static const char *stop_name(VmStopReason r)
{
    static const char *const names[] = {
        "none", "HLT", "debug exit", "triple fault", "invalid guest state", "internal error",
        "an exit (running on)", "stopped", "host error", "stepped", "breakpoint",
    };
    return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "?";
}

static bool stop_ends(VmStopReason r)
{
    return r != VM_STOP_MAX_EXITS && r != VM_STOP_STEPPED;
}

/* The instruction at CS:RIP of svm, disassembled ("?" when unreadable). */
static void current_instruction(SimpleVM *svm, char *text, size_t size)
{
    KvmRegs r;
    KvmSregs s;
    snprintf(text, size, "?");
    if (kvm_get_regs(svm->vcpu, &r) < 0 || kvm_get_sregs(svm->vcpu, &s) < 0)
        return;
    uint8_t bytes[15];
    size_t n = 0;
    uint64_t lin = s.cs.base + r.rip, gpa;
    while (n < sizeof(bytes) && paging_translate(svm->vm, &s, lin + n, &gpa) == 0) {
        const uint8_t *p = kvm_guest_ptr(svm->vm, gpa, 1);
        if (!p)
            break;
        bytes[n++] = *p;
    }
    char dis[96] = "(unreadable)";
    int bits = paging_long_mode(&s) && s.cs.l ? 64 : s.cs.db ? 32 : 16;
    int len = n ? x86_disassemble(bytes, n, r.rip, bits, dis, sizeof(dis)) : 0;
    size_t used = (size_t)snprintf(text, size, "%04x:%0*llx ", s.cs.selector, bits / 4,
                                   (unsigned long long)r.rip);
    for (int i = 0; i < len && used + 3 < size; i++)
        used += (size_t)snprintf(text + used, size - used, "%02x", bytes[i]);
    if (used < size)
        snprintf(text + used, size - used, "  %s", dis);
}

typedef struct {
    SimpleVM *vm[2];
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    bool fired;
    unsigned timeout_ms;
} Watchdog;

/* Stops both VMs when one step of the lockstep takes longer than the timeout (a guest
 * spinning without exits). */
static void *watchdog_main(void *arg)
{
    Watchdog *w = arg;
    pthread_mutex_lock(&w->lock);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += w->timeout_ms / 1000;
    until.tv_nsec += (long)(w->timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    while (!w->done)
        if (pthread_cond_timedwait(&w->cond, &w->lock, &until) == ETIMEDOUT)
            break;
    if (!w->done) {
        w->fired = true;
        vm_request_stop(w->vm[0]);
        vm_request_stop(w->vm[1]);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

static void print_states(FILE *out, SimpleVM *const vm[2], const char *const name[2])
{
    for (int i = 0; i < 2; i++) {
        KvmRegs r;
        KvmSregs s;
        if (kvm_get_regs(vm[i]->vcpu, &r) < 0 || kvm_get_sregs(vm[i]->vcpu, &s) < 0)
            continue;
        fprintf(out, "--- %s:\n", name[i]);
        qemu_dump_cpu_state(out, vm[i], &r, &s);
    }
}

/* Guest RAM and the VGA text memory of both, once they ended: the first byte that
 * differs in each, on `out`. Returns whether they are the same. */
static bool same_memory(SimpleVM *a, SimpleVM *b, FILE *out)
{
    bool same = true;
    size_t n = a->ram_size < b->ram_size ? a->ram_size : b->ram_size;
    for (size_t off = 0; off < n; off += 4096) {
        size_t len = n - off < 4096 ? n - off : 4096;
        if (memcmp(a->ram + off, b->ram + off, len) == 0)
            continue;
        size_t i = off;
        while (a->ram[i] == b->ram[i])
            i++;
        fprintf(out, "  RAM at 0x%zx: %02x  |  %02x\n", i, a->ram[i], b->ram[i]);
        same = false;
        break;
    }
    for (size_t i = 0; a->vga && b->vga && i < VGA_TEXT_SIZE; i++)
        if (a->vga->vram[i] != b->vga->vram[i]) {
            fprintf(out, "  VGA text memory at 0x%zx: %02x  |  %02x\n",
                    (size_t)VGA_TEXT_BASE + i, a->vga->vram[i], b->vga->vram[i]);
            same = false;
            break;
        }
    return same;
}

/* One exit (or one instruction) on each VM; both must not be running. */
static void advance(SimpleVM *vm, bool step)
{
    if (step) {
        vm_step(vm);
        return;
    }
    uint64_t saved = vm->max_exits;
    vm->max_exits = vm->exit_count + 1;
    vm_run(vm);
    vm->max_exits = saved;
}

int vm_lockstep(SimpleVM *a, SimpleVM *b, const LockstepOptions *opt, FILE *out)
{
    if (!a || !b || !opt || !out)
        return -EINVAL;
    SimpleVM *const vm[2] = {a, b};
    /* Coalesced MMIO decides which VGA writes exit: both VMs batch them or neither does,
     * else their exits could not be compared one by one. */
    if (!vm_coalesced_mmio_usable(a) || !vm_coalesced_mmio_usable(b))
        a->no_coalesced_mmio = b->no_coalesced_mmio = true;
    const char *const name[2] = {opt->name_a ? opt->name_a : "a", opt->name_b ? opt->name_b : "b"};
    uint64_t limit = opt->max_steps ? opt->max_steps : UINT64_MAX;
    const char *unit = opt->step ? "instruction" : "exit";
    int result = 0;
    char insn[160] = "";
    for (uint64_t n = 1;; n++) {
        if (n > limit) {
            fprintf(out, "diff: agreed for %" PRIu64 " %ss, stopped at the limit\n", limit, unit);
            return LOCKSTEP_LIMIT;
        }
        if (opt->step)
            current_instruction(a, insn, sizeof(insn));
        Watchdog w = {.vm = {a, b}, .timeout_ms = opt->timeout_ms};
        pthread_t wd;
        bool watching = opt->timeout_ms && !opt->step;
        if (watching) {
            pthread_mutex_init(&w.lock, NULL);
            pthread_cond_init(&w.cond, NULL);
            if (pthread_create(&wd, NULL, watchdog_main, &w) != 0)
                watching = false;
        }
        advance(a, opt->step);
        advance(b, opt->step);
        if (watching) {
            pthread_mutex_lock(&w.lock);
            w.done = true;
            pthread_cond_signal(&w.cond);
            pthread_mutex_unlock(&w.lock);
            pthread_join(wd, NULL);
            pthread_mutex_destroy(&w.lock);
            pthread_cond_destroy(&w.cond);
            if (w.fired) {
                fprintf(out, "diff: no exit within %u ms after exit %" PRIu64 " (a guest "
                        "spinning without exits): stopped, not compared; try --step\n",
                        opt->timeout_ms, n - 1);
                return LOCKSTEP_TIMEOUT;
            }
        }
        Diffs d = {NULL, 0};
        KvmRegs r[2];
        KvmSregs s[2];
        for (int i = 0; i < 2; i++)
            if (kvm_get_regs(vm[i]->vcpu, &r[i]) < 0 || kvm_get_sregs(vm[i]->vcpu, &s[i]) < 0)
                return -EIO;
        bool same_stop = a->stop_reason == b->stop_reason;
        int differences = (same_stop ? 0 : 1) +
                          (opt->step ? 0 : compare_exits(&d, a, b)) +
                          vm_compare_state(NULL, &r[0], &s[0], &r[1], &s[1]);
        if (differences) {
            fprintf(out, "diff: first divergence at %s %" PRIu64 " (%s  |  %s):\n", unit, n,
                    name[0], name[1]);
            if (opt->step)
                fprintf(out, "  the instruction: %s\n", insn);
            if (!same_stop)
                fprintf(out, "  stop   %s  |  %s\n", stop_name(a->stop_reason),
                        stop_name(b->stop_reason));
            Diffs show = {out, 0};
            if (!opt->step)
                compare_exits(&show, a, b);
            vm_compare_state(out, &r[0], &s[0], &r[1], &s[1]);
            print_states(out, vm, name);
            if (!opt->step) {
                for (int i = 0; i < 2; i++) {
                    current_instruction(vm[i], insn, sizeof(insn));
                    fprintf(out, "next instruction on %s: %s\n", name[i], insn);
                }
                fprintf(out, "(with --step the instruction that diverged is found)\n");
            }
            return LOCKSTEP_DIVERGED;
        }
        if (stop_ends(a->stop_reason)) {
            char *text = NULL;
            size_t len = 0;
            FILE *mem = open_memstream(&text, &len);
            bool same = mem && same_memory(a, b, mem);
            if (mem)
                fclose(mem);
            if (!same) {
                fprintf(out, "diff: %s and %s agreed for %" PRIu64 " %ss and both ended (%s), "
                        "but their memory differs (%s  |  %s):\n%s", name[0], name[1], n, unit,
                        stop_name(a->stop_reason), name[0], name[1], text ? text : "");
                free(text);
                return LOCKSTEP_DIVERGED;
            }
            free(text);
            fprintf(out, "diff: %s and %s agreed for %" PRIu64 " %ss; both ended: %s; RAM and "
                    "VGA memory the same\n", name[0], name[1], n, unit, stop_name(a->stop_reason));
            return result;
        }
    }
}
