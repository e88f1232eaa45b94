/*
 * The vCPU state as text in QEMU's `info registers` layout (x86_cpu_dump_state): the
 * monitor's info registers and the -d int / -d cpu_reset logs. Its own file so that code
 * logging a state does not pull in the whole monitor.
 */
#include <stdio.h>

#include "kvm/backend.h"
#include "vmm/paging.h"

/* RFLAGS bits shown (SDM Vol. 1, 3.4.3). */
#define FL_CF 0x001u
#define FL_PF 0x004u
#define FL_AF 0x010u
#define FL_ZF 0x040u
#define FL_SF 0x080u
#define FL_DF 0x400u
#define FL_OF 0x800u

#define CR0_PE 1ull

static bool cs64(const KvmSregs *s) { return paging_long_mode(s) && s->cs.l; }

/* The descriptor's flags dword as QEMU keeps it (bits 8-23 of the descriptor's high
 * dword: type, S, DPL, P, limit 19:16, AVL, L, D/B, G), from KVM's unpacked segment. */
static uint32_t seg_flags(const KvmSegment *sg)
{
    uint32_t raw_limit = sg->g ? sg->limit >> 12 : sg->limit;
    return ((uint32_t)(sg->type & 0xF) << 8) | ((uint32_t)(sg->s & 1) << 12) |
           ((uint32_t)(sg->dpl & 3) << 13) | ((uint32_t)(sg->present & 1) << 15) |
           (((raw_limit >> 16) & 0xF) << 16) | ((uint32_t)(sg->avl & 1) << 20) |
           ((uint32_t)(sg->l & 1) << 21) | ((uint32_t)(sg->db & 1) << 22) |
           ((uint32_t)(sg->g & 1) << 23);
}

static void dump_segment(FILE *o, const char *name, const KvmSegment *sg, const KvmSregs *s)
{
    uint32_t flags = seg_flags(sg);
    if (cs64(s))
        fprintf(o, "%-3s=%04x %016llx %08x %08x", name, sg->selector,
                (unsigned long long)sg->base, sg->limit, flags);
    else
        fprintf(o, "%-3s=%04x %08x %08x %08x", name, sg->selector, (uint32_t)sg->base,
                sg->limit, flags);
    /* Protected mode: DPL and the type decoded (SDM Vol. 3A, 3.4.5.1 and 3.5). */
    if ((s->cr0 & CR0_PE) && sg->present) {
        bool lma = paging_long_mode(s);
        fprintf(o, " DPL=%d ", sg->dpl);
        if (sg->s) {
            if (sg->type & 8)
                fprintf(o, "%s [%c%c", sg->l ? "CS64" : sg->db ? "CS32" : "CS16",
                        sg->type & 4 ? 'C' : '-', sg->type & 2 ? 'R' : '-');
            else
                fprintf(o, "%s [%c%c", sg->db || lma ? "DS  " : "DS16",
                        sg->type & 4 ? 'E' : '-', sg->type & 2 ? 'W' : '-');
            fprintf(o, "%c]", sg->type & 1 ? 'A' : '-');
        } else {
            static const char *const legacy[16] = {
                "Reserved", "TSS16-avl", "LDT", "TSS16-busy", "CallGate16", "TaskGate",
                "IntGate16", "TrapGate16", "Reserved", "TSS32-avl", "Reserved", "TSS32-busy",
                "CallGate32", "Reserved", "IntGate32", "TrapGate32"};
            static const char *const ia32e[16] = {
                "<hiword>", "Reserved", "LDT", "Reserved", "Reserved", "Reserved", "Reserved",
                "Reserved", "Reserved", "TSS64-avl", "Reserved", "TSS64-busy", "CallGate64",
                "Reserved", "IntGate64", "TrapGate64"};
            fputs((lma ? ia32e : legacy)[sg->type & 0xF], o);
        }
    }
    fputc('\n', o);
}

void qemu_dump_cpu_state(FILE *o, SimpleVM *vm, const KvmRegs *r, const KvmSregs *s)
{
    uint32_t fl = (uint32_t)r->rflags;
    int cpl = (s->cr0 & CR0_PE) ? s->ss.dpl : 0;   /* QEMU shows SS.DPL as the CPL */
    int halted = vm ? vm_thread_halted(vm) : 0;   /* vm NULL: the caller holds its lock */
    char flags[8] = {
        fl & FL_DF ? 'D' : '-', fl & FL_OF ? 'O' : '-', fl & FL_SF ? 'S' : '-',
        fl & FL_ZF ? 'Z' : '-', fl & FL_AF ? 'A' : '-', fl & FL_PF ? 'P' : '-',
        fl & FL_CF ? 'C' : '-', '\0'};
    if (cs64(s)) {
        fprintf(o,
                "RAX=%016llx RBX=%016llx RCX=%016llx RDX=%016llx\n"
                "RSI=%016llx RDI=%016llx RBP=%016llx RSP=%016llx\n"
                "R8 =%016llx R9 =%016llx R10=%016llx R11=%016llx\n"
                "R12=%016llx R13=%016llx R14=%016llx R15=%016llx\n"
                "RIP=%016llx RFL=%08x [%s] CPL=%d II=0 A20=1 SMM=0 HLT=%d\n",
                r->rax, r->rbx, r->rcx, r->rdx, r->rsi, r->rdi, r->rbp, r->rsp, r->r8, r->r9,
                r->r10, r->r11, r->r12, r->r13, r->r14, r->r15, r->rip, fl, flags, cpl,
                halted);
    } else {
        fprintf(o,
                "EAX=%08x EBX=%08x ECX=%08x EDX=%08x\n"
                "ESI=%08x EDI=%08x EBP=%08x ESP=%08x\n"
                "EIP=%08x EFL=%08x [%s] CPL=%d II=0 A20=1 SMM=0 HLT=%d\n",
                (uint32_t)r->rax, (uint32_t)r->rbx, (uint32_t)r->rcx, (uint32_t)r->rdx,
                (uint32_t)r->rsi, (uint32_t)r->rdi, (uint32_t)r->rbp, (uint32_t)r->rsp,
                (uint32_t)r->rip, fl, flags, cpl, halted);
    }
    dump_segment(o, "ES", &s->es, s);
    dump_segment(o, "CS", &s->cs, s);
    dump_segment(o, "SS", &s->ss, s);
    dump_segment(o, "DS", &s->ds, s);
    dump_segment(o, "FS", &s->fs, s);
    dump_segment(o, "GS", &s->gs, s);
    dump_segment(o, "LDT", &s->ldt, s);
    dump_segment(o, "TR", &s->tr, s);
    /* Debug registers: the KVM API of this VMM does not fetch them (KVM_GET_DEBUGREGS);
     * the sim's VMCS has DR7. Nothing here sets breakpoints, so DR0-3 are their reset 0. */
    const VMCS *vmcs = vm ? kvm_vcpu_vmcs(vm->vcpu) : NULL;
    uint64_t dr6 = 0xFFFF0FF0, dr7 = (vmcs ? vmcs->guest.dr7 : 0) | 0x400;   /* bit 10 reads as 1 */
    if (paging_long_mode(s)) {
        fprintf(o, "GDT=     %016llx %08x\n", s->gdt.base, s->gdt.limit);
        fprintf(o, "IDT=     %016llx %08x\n", s->idt.base, s->idt.limit);
        fprintf(o, "CR0=%08x CR2=%016llx CR3=%016llx CR4=%08x\n", (uint32_t)s->cr0, s->cr2,
                s->cr3, (uint32_t)s->cr4);
    } else {
        fprintf(o, "GDT=     %08x %08x\n", (uint32_t)s->gdt.base, s->gdt.limit);
        fprintf(o, "IDT=     %08x %08x\n", (uint32_t)s->idt.base, s->idt.limit);
        fprintf(o, "CR0=%08x CR2=%08x CR3=%08x CR4=%08x\n", (uint32_t)s->cr0, (uint32_t)s->cr2,
                (uint32_t)s->cr3, (uint32_t)s->cr4);
    }
    for (int i = 0; i < 4; i++)
        fprintf(o, "DR%d=%016llx ", i, 0ull);
    fprintf(o, "\nDR6=%016llx DR7=%016llx\n", (unsigned long long)dr6, (unsigned long long)dr7);
    fprintf(o, "EFER=%016llx\n", s->efer);
}
