/*
 * The QEMU-style monitor (HMP): a command line that inspects and controls a SimpleVM.
 *
 * Output formats are QEMU's, so that what people know (and scripts parse) carries over:
 * `info registers` is x86_cpu_dump_state's layout, `x`/`xp` are memory_dump's lines,
 * `info mem`/`info tlb` are target/i386/monitor.c's, `info exits` is `perf kvm stat`'s.
 * The code is our own.
 *
 * Guest state is read only while the vCPU is out of the guest: a command that needs it
 * pauses a running vCPU (vm_thread_pause: between two instructions, the last I/O exit
 * completed) and resumes it afterwards, which is QEMU's "run_on_cpu" in effect.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kvm/backend.h"
#include "vmm/paging.h"
#include "vmm/platform.h"

#define CR0_PE 1ull
#define MAX_STEPS 10000

/* ---- the disassembler ---------------------------------------------------------------- */

/* The one place `x /i` and `xp /i` decode an instruction: the CPU model's own decoder
 * (x86_disassemble), so the monitor shows exactly what the sim CPU executes. */
static int disassemble_one(const uint8_t *bytes, size_t len, uint64_t ip, int bits, char *out,
                           size_t out_size)
{
    return x86_disassemble(bytes, len, ip, bits, out, out_size);
}

/* ---- plumbing ------------------------------------------------------------------------ */

static FILE *out_of(QemuMonitor *mon) { return mon->out ? mon->out : stdout; }

static int say(QemuMonitor *mon, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int say(QemuMonitor *mon, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(out_of(mon), fmt, ap);
    va_end(ap);
    return 0;
}

/* A one-line error; returns err (negative). */
static int fail_line(QemuMonitor *mon, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail_line(QemuMonitor *mon, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(out_of(mon), fmt, ap);
    va_end(ap);
    fputc('\n', out_of(mon));
    return err;
}

/* The seed's fields of QemuMonitor: what the VM has now (devices may have been added). */
static void monitor_refresh_view(QemuMonitor *mon)
{
    SimpleVM *vm = mon->svm;
    mon->vm = vm->vm;
    mon->vcpus = vm->vcpu ? vm->vcpus : NULL;
    mon->num_vcpus = vm->vcpu ? vm->num_vcpus : 0;
    mon->io_handlers = io_bus_handlers(vm->io_bus, &mon->num_io_handlers);
    mon->mmio_handlers = mmio_bus_handlers(vm->mmio_bus, &mon->num_mmio_handlers);
}

QemuMonitor *(qemu_monitor_create)(SimpleVM *vm)
{
    if (!vm) {
        hv_fail(EINVAL, "qemu_monitor_create: no VM");
        return NULL;
    }
    QemuMonitor *mon = calloc(1, sizeof(*mon));
    if (!mon) {
        hv_fail(ENOMEM, "out of memory");
        return NULL;
    }
    mon->svm = vm;
    monitor_refresh_view(mon);
    mon->out = stdout;
    mon->default_format = 'x';   /* QEMU's defaults for x and xp: hex words */
    mon->default_size = 4;
    return mon;
}

QemuMonitor *qemu_monitor_create_kvm(KvmVm *vm)
{
    if (vm && !vm->owner) {
        hv_fail(EINVAL, "qemu_monitor_create: this KvmVm belongs to no SimpleVM (vm_create)");
        return NULL;
    }
    return (qemu_monitor_create)(vm ? vm->owner : NULL);
}

void qemu_monitor_destroy(QemuMonitor *mon)
{
    if (mon && mon->svm && mon->svm->monitor == mon)
        mon->svm->monitor = NULL;
    free(mon);
}

/* Pauses a running vCPU for a command that reads guest state; true when it must be
 * resumed afterwards (resume_vcpu). A VM without a thread, paused or ended is out of the
 * guest already. */
static bool pause_vcpu(QemuMonitor *mon)
{
    return vm_thread_state(mon->svm) == VM_THREAD_RUNNING && vm_thread_pause(mon->svm) == 0;
}

static void resume_vcpu(QemuMonitor *mon, bool paused)
{
    if (paused)
        vm_thread_resume(mon->svm);
}

/* The vCPU that `cpu N` selected (info registers, x, step, ...). */
static KvmVcpu *selected(QemuMonitor *mon) { return mon->svm->vcpus[mon->svm->sel_vcpu]; }

static int read_vcpu_state(QemuMonitor *mon, KvmVcpu *vcpu, KvmRegs *r, KvmSregs *s)
{
    int e = kvm_get_regs(vcpu, r);
    if (e == 0)
        e = kvm_get_sregs(vcpu, s);
    return e < 0 ? fail_line(mon, e, "cannot read the vCPU state: %s", hv_last_error()) : 0;
}

static int read_state(QemuMonitor *mon, KvmRegs *r, KvmSregs *s)
{
    int e = kvm_get_regs(selected(mon), r);
    if (e == 0)
        e = kvm_get_sregs(selected(mon), s);
    return e < 0 ? fail_line(mon, e, "cannot read the vCPU state: %s", hv_last_error()) : 0;
}

static bool cs64(const KvmSregs *s) { return paging_long_mode(s) && s->cs.l; }

/* ---- info registers ------------------------------------------------------------------ */

int qemu_cmd_info_registers(QemuMonitor *mon, int vcpu_id)
{
    if (!mon)
        return -EINVAL;
    if (vcpu_id < 0 || (unsigned)vcpu_id >= mon->svm->num_vcpus)
        return fail_line(mon, -EINVAL, "info registers: no CPU #%d (this VM has CPU #0-#%u)",
                         vcpu_id, mon->svm->num_vcpus - 1);
    bool paused = pause_vcpu(mon);
    KvmRegs r;
    KvmSregs s;
    int e = read_vcpu_state(mon, mon->svm->vcpus[vcpu_id], &r, &s);
    resume_vcpu(mon, paused);
    if (e == 0)
        qemu_dump_cpu_state(out_of(mon), mon->svm, &r, &s);
    return e;
}

/* ---- info status, info cpus ---------------------------------------------------------- */

/* QEMU's status line, then (not in QEMU's output) the last POST code once the guest wrote
 * one. */
static void info_status_line(QemuMonitor *mon)
{
    switch (vm_thread_state(mon->svm)) {
    case VM_THREAD_RUNNING:
        say(mon, "VM status: running\n");
        return;
    case VM_THREAD_PAUSED:
        /* QEMU's wording for a VM a debugger stopped (breakpoint, magic breakpoint). */
        say(mon, "VM status: paused%s\n", mon->svm->stop_reason == VM_STOP_DEBUG ? " (debug)" : "");
        return;
    case VM_THREAD_ENDED:
        break;
    }
    /* QEMU's words for a VM that stays after its guest ended (-no-shutdown). */
    switch (mon->svm->stop_reason) {
    case VM_STOP_SHUTDOWN:
    case VM_STOP_POWEROFF:
        say(mon, "VM status: paused (shutdown)\n");
        break;
    case VM_STOP_FAIL_ENTRY:
    case VM_STOP_INTERNAL_ERROR:
        say(mon, "VM status: paused (internal-error)\n");
        break;
    case VM_STOP_HLT:
        say(mon, "VM status: paused (halted)\n");
        break;
    default:
        say(mon, "VM status: shutdown\n");
        break;
    }
}

int qemu_cmd_info_status(QemuMonitor *mon)
{
    if (!mon)
        return -EINVAL;
    info_status_line(mon);
    const PostCode *post = mon->svm->platform ? &mon->svm->platform->post : NULL;
    if (post && __atomic_load_n(&post->writes, __ATOMIC_RELAXED))
        say(mon, "POST code: 0x%02x\n", __atomic_load_n(&post->code, __ATOMIC_RELAXED));
    return 0;
}

int qemu_cmd_info_cpus(QemuMonitor *mon)
{
    if (!mon)
        return -EINVAL;
    bool paused = pause_vcpu(mon);
    SimpleVM *svm = mon->svm;
    int e = 0;
    /* QEMU's layout: the current CPU (cpu N) starred, pc = CS base + EIP. Every vCPU
     * runs on the one vCPU thread (DESIGN.md, "Threads"): one thread_id. A vCPU waiting
     * for a SIPI is halted, as QEMU shows it. */
    for (unsigned i = 0; i < svm->num_vcpus && e == 0; i++) {
        KvmRegs r;
        KvmSregs s;
        if ((e = read_vcpu_state(mon, svm->vcpus[i], &r, &s)) < 0)
            break;
        const VmCpu *c = svm->platform ? &svm->platform->cpu[i] : NULL;
        bool halted = i == 0 && vm_thread_halted(svm);
        if (c && svm->num_vcpus > 1)
            halted = c->halted || c->wait_sipi;
        say(mon, "%c CPU #%u: pc=0x%016llx%s thread_id=%d\n", i == svm->sel_vcpu ? '*' : ' ', i,
            s.cs.base + r.rip, halted ? " (halted)" : "", vm_thread_id(svm));
    }
    resume_vcpu(mon, paused);
    return e;
}

/* ---- info mem, info tlb -------------------------------------------------------------- */

/* Lines info mem / info tlb print at most: the tables are guest input, and an answer
 * must stay small enough for a socket client and the memory of this process (1 GiB of
 * 4 KiB pages is 262144 lines of info tlb). */
#define PAGE_TABLE_MAX_LINES 262144u

typedef struct {
    QemuMonitor *mon;
    unsigned lines;             /* printed so far */
    bool open;                  /* a range is being accumulated */
    uint64_t start, end, prot;
} MemRanges;

static void mem_flush(MemRanges *m)
{
    if (!m->open)
        return;
    say(m->mon, "%016" PRIx64 "-%016" PRIx64 " %016" PRIx64 " %c%c%c\n", m->start, m->end,
        m->end - m->start, m->prot & PTE_US ? 'u' : '-', 'r', m->prot & PTE_RW ? 'w' : '-');
    m->lines++;
    m->open = false;
}

/* info mem: contiguous virtual ranges of equal user/write permission, as QEMU merges them.
 * Stops the walk (1) once PAGE_TABLE_MAX_LINES lines are out. */
static int mem_leaf(void *opaque, uint64_t va, uint64_t size, uint64_t pte, uint64_t frame,
                    uint64_t prot)
{
    (void)pte, (void)frame;
    MemRanges *m = opaque;
    prot &= PTE_US | PTE_RW;
    if (m->open && (va != m->end || prot != m->prot))
        mem_flush(m);
    if (m->lines >= PAGE_TABLE_MAX_LINES)
        return 1;
    if (!m->open) {
        m->open = true;
        m->start = va;
        m->prot = prot;
    }
    m->end = va + size;
    return 0;
}

/* info tlb: one line per leaf; stops the walk (1) after PAGE_TABLE_MAX_LINES lines. */
static int tlb_leaf(void *opaque, uint64_t va, uint64_t size, uint64_t pte, uint64_t frame,
                    uint64_t prot)
{
    (void)prot;
    MemRanges *m = opaque;
    if (m->lines >= PAGE_TABLE_MAX_LINES)
        return 1;
    m->lines++;
    say(m->mon, "%016" PRIx64 ": %016" PRIx64 " %c%c%c%c%c%c%c%c%c\n", va, frame,
        pte & PTE_NX ? 'X' : '-', pte & PTE_G ? 'G' : '-', size > 4096 ? 'P' : '-',
        pte & PTE_D ? 'D' : '-', pte & PTE_A ? 'A' : '-', pte & PTE_PCD ? 'C' : '-',
        pte & PTE_PWT ? 'T' : '-', pte & PTE_US ? 'U' : '-', pte & PTE_RW ? 'W' : '-');
    return 0;
}

static int page_tables(QemuMonitor *mon, bool tlb)
{
    if (!mon)
        return -EINVAL;
    bool paused = pause_vcpu(mon);
    KvmRegs r;
    KvmSregs s;
    int e = read_state(mon, &r, &s);
    if (e == 0) {
        if (!(s.cr0 & X86_CR0_PG_BIT)) {
            say(mon, "PG disabled\n");
        } else {
            MemRanges m = {.mon = mon};
            int w = paging_walk(mon->svm->vm, &s, tlb ? tlb_leaf : mem_leaf, &m);
            if (!tlb)
                mem_flush(&m);
            /* A bounded walk says where it stopped, so a short answer is never mistaken
             * for the whole address space. */
            if (w == 1)
                say(mon, "(stopped after %u lines)\n", PAGE_TABLE_MAX_LINES);
            else if (w == -E2BIG)
                say(mon, "(stopped after walking %u page tables)\n", PAGING_WALK_MAX_TABLES);
        }
    }
    resume_vcpu(mon, paused);
    return e;
}

int qemu_cmd_info_mem(QemuMonitor *mon) { return page_tables(mon, false); }
int qemu_cmd_info_tlb(QemuMonitor *mon) { return page_tables(mon, true); }

/* ---- info ept, info vmcs ------------------------------------------------------------- */

/* Where host address `hva` lies, in words a monitor client may see: an offset into the
 * VM's RAM or firmware image, else into the memory slot that holds it, else "-". Never the
 * address itself: it would tell a client the host's address layout (issue 15, item 8). */
static void host_place(const SimpleVM *svm, uint64_t hva, char *buf, size_t size)
{
    uint64_t ram = (uint64_t)(uintptr_t)svm->ram, rom = (uint64_t)(uintptr_t)svm->rom;
    if (svm->ram && hva - ram < svm->ram_size) {
        snprintf(buf, size, "ram+0x%" PRIx64, hva - ram);
        return;
    }
    if (svm->rom && hva - rom < svm->rom_size) {
        snprintf(buf, size, "rom+0x%" PRIx64, hva - rom);
        return;
    }
    for (int i = 0; i < svm->vm->num_regions; i++) {
        const KvmUserspaceMemoryRegion *m = &svm->vm->memory_regions[i];
        if (hva - m->userspace_addr < m->memory_size) {
            snprintf(buf, size, "slot%u+0x%" PRIx64, m->slot, (uint64_t)(hva - m->userspace_addr));
            return;
        }
    }
    snprintf(buf, size, "-");
}

/* info ept: consecutive EPT leaves with the same permissions, memory type and page size
 * that map consecutive host addresses, as one line each. */
typedef struct {
    QemuMonitor *mon;
    bool open;
    uint64_t gpa, end, hpa, size, attr;   /* attr: permissions and memory type bits */
    uint64_t pages;
} EptRanges;

static void ept_flush(EptRanges *r)
{
    if (!r->open)
        return;
    static const char *const types[8] = {"UC", "WC", "2?", "3?", "WT", "WP", "WB", "7?"};
    char place[48];
    host_place(r->mon->svm, r->hpa, place, sizeof(place));
    say(r->mon, "%016" PRIx64 "-%016" PRIx64 " %c%c%c %s %5s x %-7" PRIu64 " host %s\n",
        r->gpa, r->end - 1, r->attr & EPT_READ ? 'r' : '-', r->attr & EPT_WRITE ? 'w' : '-',
        r->attr & EPT_EXECUTE ? 'x' : '-',
        types[(r->attr & EPT_MEMORY_TYPE_MASK) >> EPT_MEMORY_TYPE_SHIFT],
        r->size == EPT_PAGE_SIZE_1G ? "1G" : r->size == EPT_PAGE_SIZE_2M ? "2M" : "4K", r->pages,
        place);
    r->open = false;
}

static void ept_leaf(EptRanges *r, uint64_t gpa, uint64_t size, uint64_t e)
{
    uint64_t hpa = e & EPT_ADDR_MASK & ~(size - 1);
    uint64_t attr = e & (EPT_PERM_MASK | EPT_MEMORY_TYPE_MASK);
    if (r->open && (gpa != r->end || size != r->size || attr != r->attr ||
                    hpa != r->hpa + (r->end - r->gpa)))
        ept_flush(r);
    if (!r->open)
        *r = (EptRanges){r->mon, true, gpa, gpa, hpa, size, attr, 0};
    r->end = gpa + size;
    r->pages++;
}

/* Walks the four levels (SDM Vol. 3C, "EPT Translation Mechanism"): an entry with any of
 * R/W/X is present; bit 7 makes a PDPTE or PDE a 1 GiB or 2 MiB leaf. In the sim a table
 * address is a host pointer (see EptContext). */
static void ept_walk(EptRanges *r, const EptTable *t, int level, uint64_t base)
{
    unsigned shift = 12 + 9 * (unsigned)level;
    for (uint64_t i = 0; i < EPT_ENTRIES_PER_TABLE; i++) {
        uint64_t e = t->entries[i];
        if (!(e & EPT_PERM_MASK))
            continue;
        uint64_t gpa = base | (i << shift);
        if (level == 0 || (level < 3 && (e & EPT_LARGE_PAGE)))
            ept_leaf(r, gpa, 1ull << shift, e);
        else
            ept_walk(r, (const EptTable *)(uintptr_t)(e & EPT_ADDR_MASK), level - 1, gpa);
    }
}

#define VMCS_EPT_POINTER_ENCODING 0x201Au
/* EPTP bits (SDM Vol. 3C, 25.6.11): memory type 2:0, page-walk length - 1 in 5:3, A/D
 * flags enable 6; bits 51:12 are the PML4 table's address. */
#define EPTP_MEMTYPE_MASK 0x7ull
#define EPTP_WALK_SHIFT 3
#define EPTP_WALK_MASK 0x7ull
#define EPTP_AD_ENABLE (1ull << 6)

/* The EPTP as the VMCS holds it, without the host address of the sim's PML4 table
 * (a pointer into the VMM's heap: the monitor does not show host addresses). */
static void describe_eptp(QemuMonitor *mon, uint64_t eptp)
{
    static const char *const types[8] = {"UC", "WC", "2?", "3?", "WT", "WP", "WB", "7?"};
    say(mon, "<host page>|%03x (%s, %u-level walk, accessed/dirty %s)",
        (unsigned)(eptp & 0xFFF), types[eptp & EPTP_MEMTYPE_MASK],
        (unsigned)((eptp >> EPTP_WALK_SHIFT) & EPTP_WALK_MASK) + 1,
        eptp & EPTP_AD_ENABLE ? "on" : "off");
}

int qemu_cmd_info_ept(QemuMonitor *mon)
{
    if (!mon)
        return -EINVAL;
    KvmVm *vm = mon->svm->vm;
    if (mon->svm->ept) {
        bool paused = pause_vcpu(mon);
        say(mon, "EPTP ");
        describe_eptp(mon, ept_pointer(mon->svm->ept));
        say(mon, ", %zu tables\n", ept_table_count(mon->svm->ept));
        EptRanges r = {.mon = mon};
        ept_walk(&r, mon->svm->ept->pml4, 3, 0);
        ept_flush(&r);
        resume_vcpu(mon, paused);
        return 0;
    }
    say(mon, "The host kernel (kvm.ko) builds and owns the real EPT from these memory slots;\n"
             "user space cannot read it.\n");
    say(mon, "slot guest-physical range                   size         flags     memory\n");
    for (int i = 0; i < vm->num_regions; i++) {
        const KvmUserspaceMemoryRegion *m = &vm->memory_regions[i];
        char place[48];
        host_place(mon->svm, m->userspace_addr, place, sizeof(place));
        say(mon, "%4u %016llx-%016llx %#-12llx %-9s %s\n", m->slot, m->guest_phys_addr,
            m->guest_phys_addr + m->memory_size - 1, m->memory_size,
            m->flags & KVM_MEM_READONLY ? "ro" : m->flags & KVM_MEM_LOG_DIRTY_PAGES ? "rw,dirty"
                                                                                    : "rw",
            place);
    }
    return 0;
}

/* Bit names of the five control words (SDM Vol. 3C, 25.6.1-25.6.2 and 25.7.1, 25.8.1). */
typedef struct { int bit; const char *name; } CtlBit;
static const CtlBit pin_bits[] = {
    {0, "external-interrupt exiting"}, {3, "NMI exiting"}, {5, "virtual NMIs"},
    {6, "VMX-preemption timer"}, {7, "posted interrupts"}, {-1, NULL}};
static const CtlBit proc_bits[] = {
    {2, "interrupt-window exiting"}, {3, "use TSC offsetting"}, {7, "HLT exiting"},
    {9, "INVLPG exiting"}, {10, "MWAIT exiting"}, {11, "RDPMC exiting"},
    {12, "RDTSC exiting"}, {15, "CR3-load exiting"}, {16, "CR3-store exiting"},
    {17, "activate tertiary controls"}, {19, "CR8-load exiting"}, {20, "CR8-store exiting"},
    {21, "use TPR shadow"}, {22, "NMI-window exiting"}, {23, "MOV-DR exiting"},
    {24, "unconditional I/O exiting"}, {25, "use I/O bitmaps"}, {27, "monitor trap flag"},
    {28, "use MSR bitmaps"}, {29, "MONITOR exiting"}, {30, "PAUSE exiting"},
    {31, "activate secondary controls"}, {-1, NULL}};
static const CtlBit proc2_bits[] = {
    {0, "virtualize APIC accesses"}, {1, "enable EPT"}, {2, "descriptor-table exiting"},
    {3, "enable RDTSCP"}, {4, "virtualize x2APIC mode"}, {5, "enable VPID"},
    {6, "WBINVD exiting"}, {7, "unrestricted guest"}, {8, "APIC-register virtualization"},
    {9, "virtual-interrupt delivery"}, {10, "PAUSE-loop exiting"}, {11, "RDRAND exiting"},
    {12, "enable INVPCID"}, {13, "enable VM functions"}, {14, "VMCS shadowing"},
    {16, "RDSEED exiting"}, {17, "enable PML"}, {18, "EPT-violation #VE"},
    {20, "enable XSAVES/XRSTORS"}, {25, "use TSC scaling"}, {-1, NULL}};
static const CtlBit exit_bits[] = {
    {2, "save debug controls"}, {9, "host address-space size"},
    {12, "load IA32_PERF_GLOBAL_CTRL"}, {15, "acknowledge interrupt on exit"},
    {18, "save IA32_PAT"}, {19, "load IA32_PAT"}, {20, "save IA32_EFER"},
    {21, "load IA32_EFER"}, {22, "save VMX-preemption timer value"},
    {23, "clear IA32_BNDCFGS"}, {-1, NULL}};
static const CtlBit entry_bits[] = {
    {2, "load debug controls"}, {9, "IA-32e mode guest"}, {10, "entry to SMM"},
    {11, "deactivate dual-monitor treatment"}, {13, "load IA32_PERF_GLOBAL_CTRL"},
    {14, "load IA32_PAT"}, {15, "load IA32_EFER"}, {16, "load IA32_BNDCFGS"}, {-1, NULL}};

/* The named bits set in a control word, after its line. Bits without a name here are the
 * reserved default-1 bits. */
static void control_bits(QemuMonitor *mon, uint32_t encoding, uint64_t v)
{
    static const struct { uint32_t encoding; const CtlBit *bits; } words[] = {
        {0x4000, pin_bits}, {0x4002, proc_bits}, {0x401E, proc2_bits},
        {0x400C, exit_bits}, {0x4012, entry_bits},
    };
    for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++) {
        if (words[w].encoding != encoding)
            continue;
        const char *sep = "      [";
        for (const CtlBit *b = words[w].bits; b->name; b++)
            if (v & (1ull << b->bit)) {
                say(mon, "%s%s", sep, b->name);
                sep = ", ";
            }
        say(mon, "%s\n", *sep == ',' ? "]" : "      [none of the named controls]");
    }
}

int qemu_cmd_info_vmcs(QemuMonitor *mon)
{
    if (!mon)
        return -EINVAL;
    const VMCS *live = kvm_vcpu_vmcs(selected(mon));
    if (!live)
        return fail_line(mon, -ENOTSUP,
                         "info vmcs: on kvm the VMCS belongs to the host kernel and is not "
                         "visible from user space (see info registers)");
    bool paused = pause_vcpu(mon);
    VMCS vmcs = *live;   /* vmcs_read may record an error in it: read a copy */
    resume_vcpu(mon, paused);
    /* SDM Vol. 3C, Appendix B: every field the sim's VMCS has, by area, with its encoding. */
    static const struct { VmcsFieldType type; const char *title; } groups[] = {
        {VMCS_TYPE_CONTROL, "VM-execution, VM-exit and VM-entry control fields"},
        {VMCS_TYPE_HOST, "Host-state fields (the sim's VM exit returns to the VMM's own code "
                         "and loads none of them: 0)"},
        {VMCS_TYPE_GUEST, "Guest-state fields (as of the last VM exit)"},
        {VMCS_TYPE_EXIT_INFO, "VM-exit information fields (as of the last VM exit)"},
    };
    for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
        say(mon, "%s%s:\n", g ? "\n" : "", groups[g].title);
        for (size_t i = 0; i < vmcs_field_count(); i++) {
            const VmcsFieldInfo *f = vmcs_field_at(i);
            uint64_t v;
            if (f->type != groups[g].type || vmcs_read(&vmcs, f->encoding, &v) < 0)
                continue;
            if (f->encoding == VMCS_EPT_POINTER_ENCODING) {
                say(mon, "  %-36s %04x  ", f->name, f->encoding);
                describe_eptp(mon, v);
                say(mon, "\n");
                continue;
            }
            say(mon, "  %-36s %04x  %0*" PRIx64, f->name, f->encoding,
                f->width == VMCS_WIDTH_16 ? 4 : f->width == VMCS_WIDTH_32 ? 8 : 16, v);
            if (f->encoding == 0x4402) {   /* EXIT_REASON: basic reason and bit 31 */
                const char *name = vmx_exit_reason_name((uint32_t)v & 0xFFFF);
                say(mon, "  (%u %s%s)", (unsigned)(v & 0xFFFF), name ? name : "unknown",
                    v & (1ull << 31) ? ", VM-entry failure" : "");
            }
            say(mon, "\n");
            if (groups[g].type == VMCS_TYPE_CONTROL)
                control_bits(mon, f->encoding, v);
        }
    }
    return 0;
}

/* ---- info exits ---------------------------------------------------------------------- */

typedef struct {
    const char *name;
    const VmExitStat *st;
} ExitRow;

/* Square root by Newton's method: enough for a percentage, and no libm to link. */
static double root(double x)
{
    if (x <= 0)
        return 0;
    double r = x > 1 ? x : 1;
    for (int i = 0; i < 200; i++) {
        double next = 0.5 * (r + x / r);
        if (next >= r)
            break;
        r = next;
    }
    return r;
}

static int by_count(const void *a, const void *b)
{
    uint64_t x = ((const ExitRow *)a)->st->count, y = ((const ExitRow *)b)->st->count;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* One table in `perf kvm stat report`'s layout, busiest reason first. The spread is the
 * relative standard deviation of the mean, as perf prints it. */
static void exit_table(QemuMonitor *mon, const char *title, const VmExitStat *stats, size_t n,
                       const char *(*name_of)(uint32_t))
{
    ExitRow rows[VM_EXIT_STATS_VMX];
    size_t k = 0;
    uint64_t total = 0, total_ns = 0;
    for (size_t i = 0; i < n; i++) {
        if (!stats[i].count)
            continue;
        rows[k++] = (ExitRow){name_of((uint32_t)i), &stats[i]};
        total += stats[i].count;
        total_ns += stats[i].total_ns;
    }
    qsort(rows, k, sizeof(rows[0]), by_count);
    say(mon, "\nAnalyze events for all VMs, all VCPUs (%s):\n\n", title);
    say(mon, "%20s %10s %9s %9s %11s %11s %16s \n\n", "VM-EXIT", "Samples", "Samples%", "Time%",
        "Min Time", "Max Time", "Avg time");
    for (size_t i = 0; i < k; i++) {
        const VmExitStat *st = rows[i].st;
        double mean = (double)st->total_ns / (double)st->count;
        double rel = 0;
        if (st->count > 1 && mean > 0) {
            double var = (st->sum_sq_ns - (double)st->count * mean * mean) / (double)(st->count - 1);
            rel = var > 0 ? root(var / (double)st->count) / mean * 100.0 : 0;
        }
        char unknown[24];
        const char *name = rows[i].name;
        if (!name) {
            snprintf(unknown, sizeof(unknown), "%u", (unsigned)(st - stats));
            name = unknown;
        }
        say(mon, "%20s %10" PRIu64 " %8.2f%% %8.2f%% %9.2fus %9.2fus %9.2fus ( +-%7.2f%% )\n",
            name, st->count, 100.0 * (double)st->count / (double)total,
            total_ns ? 100.0 * (double)st->total_ns / (double)total_ns : 0.0,
            (double)st->min_ns / 1000.0, (double)st->max_ns / 1000.0, mean / 1000.0, rel);
    }
    say(mon, "\nTotal Samples:%" PRIu64 ", Total events handled time:%.2fus.\n", total,
        (double)total_ns / 1000.0);
}

int qemu_cmd_info_exits(QemuMonitor *mon)
{
    if (!mon)
        return -EINVAL;
    bool paused = pause_vcpu(mon);
    VmExitStats *copy = malloc(sizeof(*copy));
    if (copy)
        *copy = mon->svm->exit_stats;
    uint64_t coalesced = mon->svm->coalesced_writes;
    /* With several vCPUs: each one's share (returns from KVM_RUN, interrupts injected). */
    unsigned ncpu = mon->svm->platform && mon->svm->num_vcpus > 1 ? mon->svm->num_vcpus : 0;
    uint64_t runs[VM_MAX_VCPUS], injected[VM_MAX_VCPUS];
    for (unsigned i = 0; i < ncpu; i++) {
        runs[i] = mon->svm->platform->cpu[i].exits;
        injected[i] = mon->svm->platform->cpu[i].injected;
    }
    resume_vcpu(mon, paused);
    if (!copy)
        return fail_line(mon, -ENOMEM, "info exits: out of memory");
    for (unsigned i = 0; i < ncpu; i++)
        say(mon, "CPU #%u: %" PRIu64 " returns from KVM_RUN, %" PRIu64 " interrupts injected\n",
            i, runs[i], injected[i]);
    if (ncpu)
        say(mon, "\n");
    if (kvm_vcpu_vmcs(selected(mon)))
        exit_table(mon, "VMX basic exit reasons", copy->vmx, VM_EXIT_STATS_VMX,
                   vmx_exit_reason_name);
    exit_table(mon, "KVM_EXIT reasons", copy->kvm, VM_EXIT_STATS_KVM, kvm_exit_reason_name);
    if (coalesced)
        say(mon, "\nCoalesced MMIO writes (kept in the kernel's ring, no exit): %" PRIu64 "\n",
            coalesced);
    free(copy);
    return 0;
}

/* ---- x, xp --------------------------------------------------------------------------- */

/* Reads guest memory for x (virtual: through the guest's page tables, page by page) or xp
 * (physical). false when any byte is unbacked. */
static bool read_guest(QemuMonitor *mon, const KvmSregs *s, uint64_t addr, uint8_t *buf,
                       size_t len, bool physical)
{
    while (len) {
        uint64_t gpa = addr;
        if (!physical && paging_translate(mon->svm->vm, s, addr, &gpa) < 0)
            return false;
        size_t chunk = 4096 - (size_t)(addr & 4095);
        if (chunk > len)
            chunk = len;
        const uint8_t *p = kvm_guest_ptr(mon->svm->vm, gpa, chunk);
        if (!p)
            return false;
        memcpy(buf, p, chunk);
        buf += chunk;
        addr += chunk;
        len -= chunk;
    }
    return true;
}

static void print_char(FILE *o, unsigned c)
{
    fputc('\'', o);
    switch (c) {
    case '\'': fputs("\\'", o); break;
    case '\\': fputs("\\\\", o); break;
    case '\n': fputs("\\n", o); break;
    case '\r': fputs("\\r", o); break;
    default:
        if (c >= 32 && c <= 126)
            fputc((int)c, o);
        else
            fprintf(o, "\\x%02x", c);
    }
    fputc('\'', o);
}

/* x/i, xp/i: one instruction a line, QEMU's monitor_disas layout. */
static int dump_instructions(QemuMonitor *mon, const KvmSregs *s, uint64_t addr, int count,
                             bool physical)
{
    int bits = cs64(s) ? 64 : s->cs.db ? 32 : 16;
    for (int i = 0; i < count; i++) {
        uint8_t bytes[15];
        size_t n = 0;
        while (n < sizeof(bytes) && read_guest(mon, s, addr + n, bytes + n, 1, physical))
            n++;
        if (n == 0)
            return fail_line(mon, -EFAULT, "0x%016" PRIx64 ": Cannot access memory", addr);
        char text[128];
        /* Branch targets are offsets in CS, as a real-mode programmer writes them. */
        uint64_t ip = bits == 16 && addr - s->cs.base < 0x10000 ? addr - s->cs.base : addr;
        int len = disassemble_one(bytes, n, ip, bits, text, sizeof(text));
        if (len <= 0)
            return fail_line(mon, -EINVAL, "0x%016" PRIx64 ": cannot decode the instruction",
                             addr);
        say(mon, "0x%016" PRIx64 ":  %s\n", addr, text);
        addr += (uint64_t)len;
    }
    return 0;
}

int qemu_cmd_memory_dump(QemuMonitor *mon, uint64_t addr, int count, char format, int size,
                         bool physical)
{
    if (!mon)
        return -EINVAL;
    if (!strchr("xduoci", format) || format == '\0')
        return fail_line(mon, -EINVAL, "invalid format '%c'", format ? format : '?');
    if (size == 0)
        size = format == 'c' ? 1 : mon->default_size;
    if (size != 1 && size != 2 && size != 4 && size != 8)
        return fail_line(mon, -EINVAL, "invalid size %d", size);
    if (count <= 0)
        return 0;
    if (count > 65536)
        return fail_line(mon, -EINVAL, "count %d: at most 65536", count);
    bool paused = pause_vcpu(mon);
    KvmRegs r;
    KvmSregs s;
    int e = read_state(mon, &r, &s);
    if (e < 0) {
        resume_vcpu(mon, paused);
        return e;
    }
    if (format == 'i') {
        e = dump_instructions(mon, &s, addr, count, physical);
        resume_vcpu(mon, paused);
        return e;
    }
    /* QEMU's memory_dump: 8 bytes a line for byte units, 16 otherwise; 'c' always reads
     * bytes (over count units of the size given); digits wide enough for the size. */
    int wsize = size;
    int64_t len = (int64_t)wsize * count;
    int line_size = wsize == 1 ? 8 : 16;
    int digits = 0;
    switch (format) {
    case 'o': digits = (wsize * 8 + 2) / 3; break;
    case 'u':
    case 'd': digits = (wsize * 8 * 10 + 32) / 33; break;
    case 'c': wsize = 1; break;
    default: digits = wsize * 2; break;
    }
    FILE *o = out_of(mon);
    while (len > 0) {
        fprintf(o, "%016" PRIx64 ":", addr);
        int l = len > line_size ? line_size : (int)len;
        uint8_t buf[16];
        if (!read_guest(mon, &s, addr, buf, (size_t)l, physical)) {
            fputs(" Cannot access memory\n", o);
            e = -EFAULT;
            break;
        }
        for (int i = 0; i < l; i += wsize) {
            uint64_t v = 0;
            memcpy(&v, buf + i, (size_t)wsize);   /* x86 is little-endian, as is the host */
            fputc(' ', o);
            switch (format) {
            case 'o': fprintf(o, "%#*" PRIo64, digits, v); break;
            case 'u': fprintf(o, "%*" PRIu64, digits, v); break;
            case 'd': fprintf(o, "%*" PRId64, digits, (int64_t)v); break;
            case 'c': print_char(o, (unsigned)v); break;
            default: fprintf(o, "0x%0*" PRIx64, digits, v); break;
            }
        }
        fputc('\n', o);
        addr += (uint64_t)l;
        len -= l;
    }
    resume_vcpu(mon, paused);
    return e;
}

int qemu_cmd_x(QemuMonitor *mon, uint64_t addr, int count)
{
    if (!mon)
        return -EINVAL;
    return qemu_cmd_memory_dump(mon, addr, count, mon->default_format, mon->default_size, false);
}

/* ---- stop, cont, step, system_reset, quit ---------------------------------------------- */

static int ended(QemuMonitor *mon, const char *cmd)
{
    return fail_line(mon, -ESRCH, "%s: the VM has ended", cmd);
}

int qemu_cmd_stop(QemuMonitor *mon)
{
    if (!mon)
        return -EINVAL;
    if (vm_thread_state(mon->svm) == VM_THREAD_ENDED)
        return ended(mon, "stop");
    return vm_thread_pause(mon->svm) < 0 ? ended(mon, "stop") : 0;
}

int qemu_cmd_cont(QemuMonitor *mon)
{
    if (!mon)
        return -EINVAL;
    return vm_thread_resume(mon->svm) < 0 ? ended(mon, "cont") : 0;
}

int qemu_cmd_step(QemuMonitor *mon, unsigned count)
{
    if (!mon)
        return -EINVAL;
    if (count == 0)
        count = 1;
    VmStopReason why = VM_STOP_NONE;
    int e = vm_thread_step(mon->svm, count, &why);
    if (e == -EBUSY)
        return fail_line(mon, e, "step: the VM is running (stop it first)");
    bool stalled = e == -ETIMEDOUT;
    if (e < 0 && vm_thread_state(mon->svm) == VM_THREAD_ENDED && why == VM_STOP_NONE)
        return ended(mon, "step");
    KvmRegs r;
    KvmSregs s;
    if (read_state(mon, &r, &s) < 0)
        return -EIO;
    char where[64];
    snprintf(where, sizeof(where), "%04x:%0*llx", s.cs.selector, cs64(&s) ? 16 : s.cs.db ? 8 : 4,
             r.rip);
    switch (why) {
    case VM_STOP_STEPPED:
        return say(mon, "stepped to %s\n", where);
    case VM_STOP_HLT:
        return say(mon, "the vCPU halted (HLT): stopped at %s\n", where);
    case VM_STOP_REQUESTED:
        if (stalled)
            return fail_line(mon, e, "step: the instruction did not complete in time: "
                             "stopped at %s", where);
        return say(mon, "stopped at %s\n", where);
    case VM_STOP_DEBUG:
        return say(mon, "stopped at a breakpoint at %s\n", where);
    default:
        return fail_line(mon, -EIO, "step: the VM stopped (%s) at %s",
                         why == VM_STOP_DEBUG_EXIT ? "debug exit" :
                         why == VM_STOP_SHUTDOWN ? "triple fault" :
                         why == VM_STOP_MAX_EXITS ? "--max-exits" :
                         why == VM_STOP_MAX_INSNS ? "--max-insns" : "error", where);
    }
}

int qemu_cmd_system_reset(QemuMonitor *mon)
{
    if (!mon)
        return -EINVAL;
    bool paused = pause_vcpu(mon);
    int e = vm_thread_reset(mon->svm);
    resume_vcpu(mon, paused);
    if (e == -ESRCH)
        return ended(mon, "system_reset");
    return e < 0 ? fail_line(mon, e, "system_reset: %s", strerror(-e)) : 0;
}

/* QEMU's system_powerdown: the ACPI power button; an ACPI guest then shuts down (S5). */
int qemu_cmd_system_powerdown(QemuMonitor *mon)
{
    if (!mon)
        return -EINVAL;
    if (vm_thread_state(mon->svm) == VM_THREAD_ENDED)
        return ended(mon, "system_powerdown");
    int e = vm_power_button(mon->svm);
    return e < 0 ? fail_line(mon, e, "system_powerdown: %s", hv_last_error()) : 0;
}

int qemu_cmd_quit(QemuMonitor *mon)
{
    if (!mon)
        return -EINVAL;
    mon->quit_requested = true;
    vm_thread_end(mon->svm);
    return 0;
}

/* ---- parsing ------------------------------------------------------------------------- */

/* $name: QEMU's x86 monitor registers (target/i386/monitor.c's table): the GPRs by their
 * 32-bit and 64-bit names (full width, as QEMU's 64-bit build reads them), eip/rip,
 * eflags, the segment selectors, pc (CS base + EIP), sp and fp. */
static int register_value(const KvmRegs *r, const KvmSregs *s, const char *name, uint64_t *v)
{
    static const char *const gpr[][2] = {
        {"eax", "rax"}, {"ebx", "rbx"}, {"ecx", "rcx"}, {"edx", "rdx"},
        {"esi", "rsi"}, {"edi", "rdi"}, {"esp", "rsp"}, {"ebp", "rbp"},
    };
    const uint64_t gv[] = {r->rax, r->rbx, r->rcx, r->rdx, r->rsi, r->rdi, r->rsp, r->rbp};
    for (size_t i = 0; i < 8; i++)
        if (!strcasecmp(name, gpr[i][0]) || !strcasecmp(name, gpr[i][1])) {
            *v = gv[i];
            return 0;
        }
    const uint64_t hi[] = {r->r8, r->r9, r->r10, r->r11, r->r12, r->r13, r->r14, r->r15};
    if ((name[0] == 'r' || name[0] == 'R') && isdigit((unsigned char)name[1])) {
        char *end;
        long n = strtol(name + 1, &end, 10);
        if (!*end && n >= 8 && n <= 15) {
            *v = hi[n - 8];
            return 0;
        }
    }
    const struct { const char *name; uint64_t value; } named[] = {
        {"eip", r->rip}, {"rip", r->rip}, {"pc", s->cs.base + r->rip}, {"sp", r->rsp},
        {"fp", r->rbp}, {"eflags", r->rflags}, {"rflags", r->rflags},
        {"cs", s->cs.selector}, {"ds", s->ds.selector}, {"es", s->es.selector},
        {"ss", s->ss.selector}, {"fs", s->fs.selector}, {"gs", s->gs.selector},
    };
    for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++)
        if (!strcasecmp(name, named[i].name)) {
            *v = named[i].value;
            return 0;
        }
    return -ENOENT;
}

/* An address: terms (numbers as C writes them: 0x hex, 0 octal, decimal; or $reg) joined
 * by + and -. Registers are read with the vCPU paused. 0, or a one-line error. */
static int parse_address(QemuMonitor *mon, const char *text, uint64_t *out)
{
    const char *p = text;
    uint64_t sum = 0;
    int sign = 1;
    bool need_term = true;
    bool have_state = false;
    KvmRegs r;
    KvmSregs s;
    while (*p) {
        if (isspace((unsigned char)*p)) {
            p++;
            continue;
        }
        if (!need_term && (*p == '+' || *p == '-')) {
            sign = *p == '-' ? -1 : 1;
            need_term = true;
            p++;
            continue;
        }
        if (!need_term)
            return fail_line(mon, -EINVAL, "invalid address '%s'", text);
        uint64_t v;
        if (*p == '$') {
            char name[16];
            size_t n = 0;
            p++;
            while ((isalnum((unsigned char)*p) || *p == '_') && n < sizeof(name) - 1)
                name[n++] = *p++;
            name[n] = '\0';
            if (isalnum((unsigned char)*p))
                return fail_line(mon, -EINVAL, "unknown register '$%s...'", name);
            if (!have_state) {
                bool paused = pause_vcpu(mon);
                int e = read_state(mon, &r, &s);
                resume_vcpu(mon, paused);
                if (e < 0)
                    return e;
                have_state = true;
            }
            if (register_value(&r, &s, name, &v) < 0)
                return fail_line(mon, -EINVAL, "unknown register '$%s'", name);
        } else if (isdigit((unsigned char)*p)) {
            char *end;
            errno = 0;
            v = strtoull(p, &end, 0);
            if (errno || isalnum((unsigned char)*end) || *end == '_')
                return fail_line(mon, -EINVAL, "invalid number in '%s'", text);
            p = end;
        } else {
            return fail_line(mon, -EINVAL, "invalid address '%s'", text);
        }
        sum += sign > 0 ? v : (uint64_t)0 - v;
        need_term = false;
    }
    if (need_term)
        return fail_line(mon, -EINVAL, "%s", *text ? "invalid address: a term is missing"
                                                   : "an address is needed");
    *out = sum;
    return 0;
}

/* x /fmt addr and xp /fmt addr (QEMU's syntax: /[count][format][size], any order of
 * format and size letters; without /fmt, one unit of the last format and size). */
static int cmd_dump(QemuMonitor *mon, const char *cmd, char *args, bool physical)
{
    int count = 1;
    char format = mon->default_format;
    int size = 0;
    bool size_given = false;
    while (isspace((unsigned char)*args))
        args++;
    if (*args == '/') {
        args++;
        if (isdigit((unsigned char)*args)) {
            char *end;
            long n = strtol(args, &end, 10);
            if (n < 1 || n > 65536)
                return fail_line(mon, -EINVAL, "%s: count must be 1 to 65536", cmd);
            count = (int)n;
            args = end;
        }
        for (; *args && !isspace((unsigned char)*args); args++) {
            switch (*args) {
            case 'x': case 'd': case 'u': case 'o': case 'c': case 'i':
                format = *args;
                break;
            case 'b': size = 1; size_given = true; break;
            case 'h': size = 2; size_given = true; break;
            case 'w': size = 4; size_given = true; break;
            case 'g': size = 8; size_given = true; break;
            default:
                return fail_line(mon, -EINVAL, "invalid char in format: '%c'", *args);
            }
        }
    }
    uint64_t addr;
    int e = parse_address(mon, args, &addr);
    if (e < 0)
        return e;
    /* The format and a given size become the defaults (QEMU: not a size given with 'i'). */
    if (format != 'i') {
        if (!size_given)
            size = mon->default_size;
        mon->default_size = size;
    }
    mon->default_format = format;
    return qemu_cmd_memory_dump(mon, addr, count, format, size, physical);
}

/* ---- the command table --------------------------------------------------------------- */

typedef struct {
    const char *names;   /* "cont|c" */
    const char *args;
    const char *help;
    int (*run)(QemuMonitor *mon, char *args);
} MonCommand;

static int no_args(QemuMonitor *mon, const char *cmd, const char *args)
{
    while (isspace((unsigned char)*args))
        args++;
    return *args ? fail_line(mon, -EINVAL, "%s: takes no arguments", cmd) : 0;
}

static int run_help(QemuMonitor *mon, char *args);
static int run_info(QemuMonitor *mon, char *args);
static int run_x(QemuMonitor *mon, char *args) { return cmd_dump(mon, "x", args, false); }
static int run_xp(QemuMonitor *mon, char *args) { return cmd_dump(mon, "xp", args, true); }

#define SIMPLE(fn, name, call)                                                  \
    static int fn(QemuMonitor *mon, char *args)                                 \
    {                                                                           \
        int e_ = no_args(mon, name, args);                                      \
        return e_ < 0 ? e_ : call(mon);                                         \
    }
SIMPLE(run_stop, "stop", qemu_cmd_stop)
SIMPLE(run_cont, "cont", qemu_cmd_cont)
SIMPLE(run_reset, "system_reset", qemu_cmd_system_reset)
SIMPLE(run_powerdown, "system_powerdown", qemu_cmd_system_powerdown)
SIMPLE(run_quit, "quit", qemu_cmd_quit)
SIMPLE(run_nmi, "nmi", qemu_cmd_nmi)

/* cpu N: the vCPU that info registers, x, step, info lapic look at (QEMU's `cpu`). */
static int run_cpu(QemuMonitor *mon, char *args)
{
    char *end;
    errno = 0;
    unsigned long n = strtoul(args, &end, 0);
    while (isspace((unsigned char)*end))
        end++;
    if (end == args || *end || errno || n >= mon->svm->num_vcpus)
        return fail_line(mon, -EINVAL, "cpu: invalid CPU index '%s' (this VM has CPU #0-#%u)",
                         args, mon->svm->num_vcpus - 1);
    /* Taken between two exits: the run loop reads it only while the vCPU is stopped
     * (vm_step) or when a debug exit selects the vCPU that stopped. */
    mon->svm->sel_vcpu = (unsigned)n;
    return 0;
}

static int run_step(QemuMonitor *mon, char *args)
{
    while (isspace((unsigned char)*args))
        args++;
    unsigned long n = 1;
    if (*args) {
        char *end;
        errno = 0;
        n = strtoul(args, &end, 0);
        while (isspace((unsigned char)*end))
            end++;
        /* Bounded: the monitor waits for the steps, and each is a VM entry (tens of
         * microseconds under nested KVM), so a typo cannot freeze the console for long. */
        if (errno || *end || !isdigit((unsigned char)*args) || n == 0 || n > MAX_STEPS)
            return fail_line(mon, -EINVAL, "step: expected a count from 1 to %d", MAX_STEPS);
    }
    return qemu_cmd_step(mon, (unsigned)n);
}

/* screendump FILE [-f png|ppm]: the text screen as a picture (PNG unless -f ppm; QEMU's
 * syntax, though QEMU's default format is PPM). Read with the vCPU paused. */
static int run_screendump(QemuMonitor *mon, char *args)
{
    char *file = strtok(args, " \t"), *opt = strtok(NULL, " \t"), *fmt = strtok(NULL, " \t");
    if (file && !strcmp(file, "-f")) {   /* -f FORMAT FILE */
        char *f = fmt;
        fmt = opt;
        opt = file;
        file = f;
    }
    bool ppm = false;
    if (opt && (strcmp(opt, "-f") || !fmt || (strcmp(fmt, "png") && (ppm = true, strcmp(fmt, "ppm")))))
        return fail_line(mon, -EINVAL, "screendump: expected FILE [-f png|ppm]");
    if (!file || strtok(NULL, " \t"))
        return fail_line(mon, -EINVAL, "screendump: expected FILE [-f png|ppm]");
    if (!mon->svm->screendump)
        return fail_line(mon, -ENOTSUP, "screendump: not available in this program (it "
                         "needs the VMM to set svm->screendump, as scratchvm does)");
    if (!mon->svm->vga)
        return fail_line(mon, -ENODEV, "screendump: the machine has no VGA (-vga none)");
    bool paused = pause_vcpu(mon);
    int e = mon->svm->screendump(mon->svm->vga, file, NULL, ppm);
    resume_vcpu(mon, paused);
    return e < 0 ? fail_line(mon, e, "screendump: %s", hv_last_error()) : 0;
}

/* memsave ADDR SIZE FILE (virtual addresses) and pmemsave ADDR SIZE FILE (physical):
 * guest memory into FILE, as QEMU's. ADDR may be an expression with spaces ("$eip + 4"),
 * so SIZE and FILE are the last two words. Any unbacked byte refuses the whole range
 * (QEMU's "Invalid addr"), and the partial file is removed. */
static int cmd_memsave(QemuMonitor *mon, const char *cmd, char *args, bool physical)
{
    char *words[64];
    int n = 0;
    for (char *w = strtok(args, " \t"); w && n < 64; w = strtok(NULL, " \t"))
        words[n++] = w;
    if (n < 3 || n == 64)
        return fail_line(mon, -EINVAL, "%s: expected ADDR SIZE FILE", cmd);
    char addr_text[256] = "";
    for (int i = 0; i < n - 2; i++) {
        size_t used = strlen(addr_text);
        snprintf(addr_text + used, sizeof(addr_text) - used, "%s%s", i ? " " : "", words[i]);
    }
    uint64_t addr, size;
    int e = parse_address(mon, addr_text, &addr);
    if (e < 0)
        return e;
    char *end;
    errno = 0;
    size = strtoull(words[n - 2], &end, 0);
    if (errno || *end || !isdigit((unsigned char)words[n - 2][0]))
        return fail_line(mon, -EINVAL, "%s: invalid size '%s'", cmd, words[n - 2]);
    if (size > mon->svm->ram_size + (1ull << 20) || addr + size < addr)
        return fail_line(mon, -EINVAL, "Invalid addr 0x%016" PRIx64 "/size %" PRIu64
                         " specified", addr, size);
    const char *file = words[n - 1];
    if (mon->no_files)
        return fail_line(mon, -EPERM, "%s: writing files is off in this monitor", cmd);
    FILE *f = fopen(file, "wbe");
    if (!f)
        return fail_line(mon, -errno, "could not open '%s': %s", file, strerror(errno));
    bool paused = pause_vcpu(mon);
    KvmRegs r;
    KvmSregs sr;
    e = physical ? 0 : read_state(mon, &r, &sr);
    uint8_t buf[4096];
    for (uint64_t done = 0; e == 0 && done < size;) {
        size_t chunk = size - done < sizeof(buf) ? (size_t)(size - done) : sizeof(buf);
        if (!read_guest(mon, &sr, addr + done, buf, chunk, physical))
            e = fail_line(mon, -EFAULT, "Invalid addr 0x%016" PRIx64 "/size %" PRIu64
                          " specified", addr, size);
        else if (fwrite(buf, 1, chunk, f) != chunk)
            e = fail_line(mon, -EIO, "%s: writing '%s' failed", cmd, file);
        done += chunk;
    }
    resume_vcpu(mon, paused);
    if (fclose(f) != 0 && e == 0)
        e = fail_line(mon, -EIO, "%s: writing '%s' failed", cmd, file);
    if (e < 0)
        remove(file);
    return e;
}

static int run_memsave(QemuMonitor *mon, char *args) { return cmd_memsave(mon, "memsave", args, false); }
static int run_pmemsave(QemuMonitor *mon, char *args) { return cmd_memsave(mon, "pmemsave", args, true); }

/* print[/fmt] EXPR, p: the value of an address expression, QEMU's formats (x default). */
static int run_print(QemuMonitor *mon, char *args)
{
    char format = 'x';
    while (isspace((unsigned char)*args))
        args++;
    if (*args == '/') {
        format = args[1];
        if (!strchr("xduoc", format) || format == '\0' ||
            (args[2] && !isspace((unsigned char)args[2])))
            return fail_line(mon, -EINVAL, "print: format is /x, /d, /u, /o or /c");
        args += 2;
    }
    uint64_t v;
    int e = parse_address(mon, args, &v);
    if (e < 0)
        return e;
    FILE *o = out_of(mon);
    switch (format) {
    case 'd': fprintf(o, "%" PRId64 "\n", (int64_t)v); break;
    case 'u': fprintf(o, "%" PRIu64 "\n", v); break;
    case 'o': fprintf(o, "%#" PRIo64 "\n", v); break;
    case 'c': print_char(o, (unsigned)(v & 0xFF)); fputc('\n', o); break;
    default: fprintf(o, "%#" PRIx64 "\n", v); break;
    }
    return 0;
}

/* sendkey KEYS [HOLD_MS]: keys joined by '-' (ctrl-alt-delete), QEMU's names, pressed in
 * order and released in reverse on the PS/2 keyboard. The hold time is accepted; the
 * breaks follow at once. */
static int run_sendkey(QemuMonitor *mon, char *args)
{
    char *keys = strtok(args, " \t"), *hold = strtok(NULL, " \t");
    if (!keys || strtok(NULL, " \t") || (hold && !isdigit((unsigned char)*hold)))
        return fail_line(mon, -EINVAL, "sendkey: expected KEYS[-KEYS...] [HOLD_MS]");
    if (!mon->svm->platform)
        return fail_line(mon, -ENOTSUP, "sendkey: this VM has no keyboard");
    uint16_t codes[16];
    size_t n = 0;
    for (char *save = NULL, *k = strtok_r(keys, "-", &save); k; k = strtok_r(NULL, "-", &save)) {
        int c = i8042_key_code(k);
        if (c < 0)
            return fail_line(mon, -EINVAL, "sendkey: unknown key: '%s'", k);
        if (n == 16)
            return fail_line(mon, -EINVAL, "sendkey: too many keys (at most 16)");
        codes[n++] = (uint16_t)c;
    }
    if (n == 0)
        return fail_line(mon, -EINVAL, "sendkey: expected KEYS[-KEYS...] [HOLD_MS]");
    int e = i8042_press_keys(mon->svm->platform->kbd, codes, n);
    return e < 0 ? fail_line(mon, e, "sendkey: the keyboard is not scanning or its queue is "
                             "full") : 0;
}

/* gdbserver [tcp::PORT|unix:PATH]: the front end starts the stub (QEMU's default
 * tcp::1234), if it can at run time. */
static int run_gdbserver(QemuMonitor *mon, char *args)
{
    char *spec = strtok(args, " \t");
    if (spec && strtok(NULL, " \t"))
        return fail_line(mon, -EINVAL, "gdbserver: expected [tcp::PORT|unix:PATH]");
    if (!spec)
        spec = "tcp::1234";
    if (strncmp(spec, "tcp:", 4) != 0 && strncmp(spec, "unix:", 5) != 0)
        return fail_line(mon, -EINVAL, "gdbserver: expected tcp:[HOST]:PORT or unix:PATH");
    if (!mon->gdbserver)
        return fail_line(mon, -ENOTSUP, "gdbserver: not available in this program");
    char why[200] = "";
    int e = mon->gdbserver(mon, spec, why, sizeof(why));
    if (e < 0)
        return fail_line(mon, e, "gdbserver: %s", why);
    say(mon, "Waiting for gdb connection on device '%s'\n", spec);
    return 0;
}

static const MonCommand commands[] = {
    {"help|?", "[cmd]", "show the help (of one command)", run_help},
    {"info", "subcommand", "show the state of the VM (info with no argument lists them)",
     run_info},
    {"x", "/fmt addr", "virtual memory dump starting at addr", run_x},
    {"xp", "/fmt addr", "physical memory dump starting at addr", run_xp},
    {"stop", "", "stop the vCPU (between two instructions)", run_stop},
    {"cont|c", "", "resume the vCPU where it stopped", run_cont},
    {"step", "[n]", "execute n guest instructions (default 1) of a stopped vCPU", run_step},
    {"cpu", "index", "set the default CPU (info registers, x, step)", run_cpu},
    {"system_reset", "", "reset the vCPU to its state at start (RAM is kept)", run_reset},
    {"system_powerdown", "", "press the ACPI power button (an ACPI guest shuts down)",
     run_powerdown},
    {"nmi", "", "inject an NMI", run_nmi},
    {"screendump", "FILE [-f png|ppm]", "save the VGA text screen as a picture (PNG)",
     run_screendump},
    {"memsave", "addr size file", "save to disk virtual memory dump starting at 'addr' of "
     "size 'size'", run_memsave},
    {"pmemsave", "addr size file", "save to disk physical memory dump starting at 'addr' of "
     "size 'size'", run_pmemsave},
    {"print|p", "/fmt expr", "print expression value (use $reg for CPU register access)",
     run_print},
    {"sendkey", "keys [hold_ms]", "send keys to the VM (e.g. 'sendkey ctrl-alt-f1')",
     run_sendkey},
    {"gdbserver", "[device]", "start gdbserver on given device (default 'tcp::1234')",
     run_gdbserver},
    {"quit|q", "", "quit the emulator", run_quit},
};

/* ---- info pic, info irq, info lapic (QEMU's formats) ------------------------------- */

/* KVM's in-kernel controllers (--irqchip kernel), read with KVM_GET_IRQCHIP. */
static int info_pic_kernel(QemuMonitor *mon)
{
    for (int chip = 0; chip < 2; chip++) {
        struct kvm_irqchip c = {.chip_id = (uint32_t)chip};
        if (kvm_get_irqchip(mon->svm->vm, &c) < 0)
            return say(mon, "KVM_GET_IRQCHIP: %s\n", hv_last_error()), -EIO;
        const struct kvm_pic_state *k = &c.chip.pic;
        PicChipState s = {.irr = k->irr, .imr = k->imr, .isr = k->isr, .elcr = k->elcr,
                          .priority_add = k->priority_add, .irq_base = k->irq_base,
                          .read_isr = k->read_reg_select,
                          .special_fully_nested = k->special_fully_nested_mode};
        pic_print_chip(chip, &s, mon->out);
    }
    struct kvm_irqchip c = {.chip_id = KVM_IRQCHIP_IOAPIC};
    if (kvm_get_irqchip(mon->svm->vm, &c) < 0)
        return say(mon, "KVM_GET_IRQCHIP: %s\n", hv_last_error()), -EIO;
    uint64_t rte[IOAPIC_PINS];
    for (int i = 0; i < IOAPIC_PINS; i++)
        rte[i] = c.chip.ioapic.redirtbl[i].bits;
    ioapic_print_entries(c.chip.ioapic.id << 24, rte, c.chip.ioapic.irr, mon->out);
    return 0;
}

int qemu_cmd_info_pci(QemuMonitor *mon)
{
    if (!mon || !mon->svm->platform || !mon->svm->platform->pci)
        return -EINVAL;
    pci_bus_print_info(mon->svm->platform->pci, mon->out);
    return 0;
}

int qemu_cmd_info_pic(QemuMonitor *mon)
{
    if (!mon || !mon->svm->platform)
        return -EINVAL;
    if (mon->svm->platform->kernel_irqchip)
        return info_pic_kernel(mon);
    pic_print_info(mon->svm->platform->pic, mon->out);
    ioapic_print_info(mon->svm->platform->ioapic, mon->out);
    return 0;
}

/* QEMU prints, per interrupt controller, the lines that were raised at least once. With
 * the in-kernel irqchip the counts are of the lines the VMM's devices raised. */
int qemu_cmd_info_irq(QemuMonitor *mon)
{
    if (!mon || !mon->svm->platform)
        return -EINVAL;
    VmPlatform *p = mon->svm->platform;
    uint64_t counts[PIC_IRQ_LINES];
    if (p->kernel_irqchip) {
        for (int i = 0; i < PIC_IRQ_LINES; i++)
            counts[i] = __atomic_load_n(&p->kernel_irq_counts[i], __ATOMIC_RELAXED);
    } else {
        pic_irq_counts(p->pic, counts);
    }
    for (int chip = 0; chip < 2; chip++) {
        say(mon, "IRQ statistics for %s:\n", p->kernel_irqchip ? "kvm-i8259" : "isa-i8259");
        for (int i = 0; i < 8; i++)
            if (counts[chip * 8 + i])
                say(mon, "%2d: %" PRIu64 "\n", i, counts[chip * 8 + i]);
    }
    return 0;
}

int qemu_cmd_nmi(QemuMonitor *mon)
{
    if (!mon || !mon->svm->platform)
        return -EINVAL;
    platform_request_nmi(mon->svm->platform);
    return 0;
}

int qemu_cmd_info_lapic(QemuMonitor *mon)
{
    if (!mon || !mon->svm->platform)
        return -EINVAL;
    bool paused = pause_vcpu(mon);   /* the current count reads the vCPU's clock */
    int r = 0;
    if (mon->svm->platform->kernel_irqchip) {
        struct kvm_lapic_state st;
        _Static_assert(sizeof(st.regs) == LAPIC_REG_PAGE, "the KVM APIC page layout");
        if ((r = kvm_get_lapic(selected(mon), &st)) == 0)
            lapic_print_page((const uint8_t *)st.regs, mon->out);
        else
            say(mon, "KVM_GET_LAPIC: %s\n", hv_last_error());
    } else {
        lapic_print_info(mon->svm->platform->cpu[mon->svm->sel_vcpu].lapic, mon->out);
    }
    resume_vcpu(mon, paused);
    return r;
}

typedef struct {
    const char *name;
    const char *help;
    int (*run)(QemuMonitor *mon);
} InfoCommand;

static int info_registers(QemuMonitor *mon)
{
    return qemu_cmd_info_registers(mon, (int)mon->svm->sel_vcpu);
}

static int info_version(QemuMonitor *mon)
{
    say(mon, "%s\n", SCRATCHVM_VERSION);
    return 0;
}

static int info_name(QemuMonitor *mon)
{
    if (mon->name)
        say(mon, "%s\n", mon->name);
    return 0;
}

static int info_block(QemuMonitor *mon)
{
    if (mon->block_info)
        say(mon, "%s", mon->block_info);
    return 0;
}

/* One row of info mtree. */
typedef struct {
    uint64_t base, end;
    const char *kind;
    char name[48];
} MtreeRow;

static int by_base(const void *a, const void *b)
{
    const MtreeRow *x = a, *y = b;
    return x->base < y->base ? -1 : x->base > y->base;
}

static void mtree_print(QemuMonitor *mon, MtreeRow *rows, size_t n)
{
    qsort(rows, n, sizeof(rows[0]), by_base);
    for (size_t i = 0; i < n; i++)
        say(mon, "    %016" PRIx64 "-%016" PRIx64 " (prio 0, %s): %s\n", rows[i].base,
            rows[i].end, rows[i].kind, rows[i].name);
}

/* info mtree: QEMU's address-space dump, from the memory slots and the buses' ranges. */
static int info_mtree(QemuMonitor *mon)
{
    KvmVm *vm = mon->svm->vm;
    size_t cap = (size_t)vm->num_regions + mon->num_mmio_handlers + mon->num_io_handlers + 1;
    MtreeRow *rows = calloc(cap, sizeof(*rows));
    if (!rows)
        return fail_line(mon, -ENOMEM, "info mtree: out of memory");
    size_t n = 0;
    for (int i = 0; i < vm->num_regions && n < cap; i++) {
        const KvmUserspaceMemoryRegion *m = &vm->memory_regions[i];
        if (!m->memory_size)
            continue;
        bool ro = m->flags & KVM_MEM_READONLY;
        rows[n] = (MtreeRow){m->guest_phys_addr, m->guest_phys_addr + m->memory_size - 1,
                             ro ? "rom" : "ram", ""};
        snprintf(rows[n].name, sizeof(rows[n].name), "%s-slot%u", ro ? "rom" : "ram", m->slot);
        n++;
    }
    for (size_t i = 0; i < mon->num_mmio_handlers && n < cap; i++) {
        const MmioHandler *h = &mon->mmio_handlers[i];
        rows[n] = (MtreeRow){h->base, h->base + h->length - 1, "i/o", ""};
        snprintf(rows[n].name, sizeof(rows[n].name), "%s", h->name ? h->name : "mmio");
        n++;
    }
    say(mon, "address-space: memory\n");
    say(mon, "  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n");
    mtree_print(mon, rows, n);
    n = 0;
    for (size_t i = 0; i < mon->num_io_handlers && n < cap; i++) {
        const IoPortHandler *h = &mon->io_handlers[i];
        rows[n] = (MtreeRow){h->base, (uint64_t)h->base + h->length - 1, "i/o", ""};
        snprintf(rows[n].name, sizeof(rows[n].name), "%s", h->name ? h->name : "io");
        n++;
    }
    say(mon, "\naddress-space: I/O\n");
    say(mon, "  0000000000000000-000000000000ffff (prio 0, i/o): io\n");
    mtree_print(mon, rows, n);
    free(rows);
    return 0;
}

static const InfoCommand infos[] = {
    {"registers", "show the cpu registers", info_registers},
    {"status", "show the current VM status (running|paused)", qemu_cmd_info_status},
    {"cpus", "show infos for each CPU", qemu_cmd_info_cpus},
    {"mem", "show the active virtual memory mappings", qemu_cmd_info_mem},
    {"tlb", "show virtual to physical memory mappings", qemu_cmd_info_tlb},
    {"ept", "show the EPT mappings (sim) or the memory slots (kvm)", qemu_cmd_info_ept},
    {"vmcs", "show the VMCS: controls, host and guest state, exit information (sim)",
     qemu_cmd_info_vmcs},
    {"exits", "show VM exits per reason with share and handling time", qemu_cmd_info_exits},
    {"pic", "show PIC state", qemu_cmd_info_pic},
    {"irq", "show the interrupts statistics (if available)", qemu_cmd_info_irq},
    {"lapic", "show local apic state", qemu_cmd_info_lapic},
    {"pci", "show PCI info", qemu_cmd_info_pci},
    {"version", "show the version of QEMU (here: of ScratchVM)", info_version},
    {"name", "show the current VM name", info_name},
    {"block", "show the block devices", info_block},
    {"mtree", "show memory tree", info_mtree},
};

static bool name_matches(const char *names, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = names; *p;) {
        size_t len = strcspn(p, "|");
        if (len == n && strncmp(p, word, n) == 0)
            return true;
        p += len + (p[len] == '|');
    }
    return false;
}

static const MonCommand *find_command(const char *word)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (name_matches(commands[i].names, word))
            return &commands[i];
    return NULL;
}

static void help_line(QemuMonitor *mon, const MonCommand *c)
{
    say(mon, "%s%s%s -- %s\n", c->names, *c->args ? " " : "", c->args, c->help);
}

int qemu_cmd_help(QemuMonitor *mon, const char *command)
{
    if (!mon)
        return -EINVAL;
    if (command && *command) {
        const MonCommand *c = find_command(command);
        if (!c)
            return fail_line(mon, -ENOENT, "unknown command: '%s'", command);
        help_line(mon, c);
        if (c->run == run_info)
            for (size_t i = 0; i < sizeof(infos) / sizeof(infos[0]); i++)
                say(mon, "info %s -- %s\n", infos[i].name, infos[i].help);
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        help_line(mon, &commands[i]);
    say(mon, "/fmt is /[count][format][size]: format x d u o c i, size b h w g\n");
    return 0;
}

/* Appends word to a comma-separated list wrapped at 80 columns. */
static void list_word(FILE *out, const char *word, bool first, size_t *col)
{
    if (!first) {
        fputc(',', out);
        (*col)++;
        if (*col + 1 + strlen(word) > 79) {
            fputc('\n', out);
            *col = 0;
        } else {
            fputc(' ', out);
            (*col)++;
        }
    }
    *col += (size_t)fprintf(out, "%s", word);
}

void qemu_monitor_print_commands(FILE *out)
{
    size_t col = 0;
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        char word[64];
        snprintf(word, sizeof(word), "%.*s", (int)strcspn(commands[i].names, "|"),
                 commands[i].names);
        list_word(out, word, i == 0, &col);
    }
    fputs(".\ninfo: ", out);
    col = 6;
    for (size_t i = 0; i < sizeof(infos) / sizeof(infos[0]); i++)
        list_word(out, infos[i].name, i == 0, &col);
    fputs(".\n", out);
}

static int run_help(QemuMonitor *mon, char *args)
{
    char *word = strtok(args, " \t");
    if (word && strtok(NULL, " \t"))
        return fail_line(mon, -EINVAL, "help: one command at most");
    return qemu_cmd_help(mon, word);
}

static int run_info(QemuMonitor *mon, char *args)
{
    char *word = strtok(args, " \t");
    if (!word) {
        for (size_t i = 0; i < sizeof(infos) / sizeof(infos[0]); i++)
            say(mon, "info %s -- %s\n", infos[i].name, infos[i].help);
        return 0;
    }
    char *extra = strtok(NULL, " \t");
    for (size_t i = 0; i < sizeof(infos) / sizeof(infos[0]); i++) {
        if (strcmp(word, infos[i].name) == 0) {
            if (extra)
                return fail_line(mon, -EINVAL, "info %s: takes no arguments", word);
            return infos[i].run(mon);
        }
    }
    return fail_line(mon, -EINVAL, "info: unknown subcommand '%s' (try 'info')", word);
}

int qemu_monitor_execute(QemuMonitor *mon, const char *line, FILE *out)
{
    if (!mon || !line)
        return -EINVAL;
    FILE *saved = mon->out;
    if (out)
        mon->out = out;
    monitor_refresh_view(mon);
    /* A private copy: the parsers cut it up. Lines are short; longer ones are refused. */
    char buf[512];
    int e = 0;
    size_t len = strlen(line);
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    if (len >= sizeof(buf)) {
        e = fail_line(mon, -E2BIG, "command line too long (at most %zu characters)",
                      sizeof(buf) - 1);
        goto out;
    }
    memcpy(buf, line, len);
    buf[len] = '\0';
    char *p = buf;
    while (isspace((unsigned char)*p))
        p++;
    if (!*p)
        goto out;
    /* The command name: letters, digits, '_' and '?'; "x/4xb" splits after the x. */
    char *name = p;
    while (*p && (isalnum((unsigned char)*p) || *p == '_' || *p == '?'))
        p++;
    if (p == name) {
        while (*p && !isspace((unsigned char)*p))
            p++;
    }
    char saved_char = *p;
    *p = '\0';
    const MonCommand *c = find_command(name);
    if (!c) {
        e = fail_line(mon, -ENOENT, "unknown command: '%s'", name);
        goto out;
    }
    *p = saved_char;
    char *args = p;
    if (*args && !isspace((unsigned char)*args) && *args != '/') {
        e = fail_line(mon, -ENOENT, "unknown command: '%s'", name);
        goto out;
    }
    e = c->run(mon, args);
out:
    fflush(out_of(mon));
    mon->out = saved;
    return e;
}
