/*
 * System instructions: flag operations (CLC STC CMC CLI STI CLD STD), MOV to/from CRn
 * (with paging's TLB rules) and DRn, CPUID, RDTSC, RDMSR/WRMSR, VMCALL, groups 6 and 7
 * (descriptor tables, MSW, INVLPG), CLTS, INVD/WBINVD, WAIT, CMPXCHG8B, SYSENTER/SYSEXIT,
 * hint NOPs (SDM Vol. 2 and Vol. 3A chapters 2 and 4).
 */
#include "sim/cpu/cpu_internal.h"

/* F5 CMC, F8 CLC, F9 STC, FA CLI, FB STI, FC CLD, FD STD. CLI/STI: #GP(0) when CPL >
 * IOPL (virtual-8086 mode: IOPL < 3; no PVI/VME). STI with IF clear blocks interrupts for
 * one instruction (SDM Vol. 2B, CLI/STI). */
void op_flagop(X86Cpu *cpu, const X86Insn *in)
{
    if ((in->op == 0xFA || in->op == 0xFB) && x86_pe(cpu) && x86_cpl(cpu) > x86_iopl(cpu))
        x86_fault(cpu, X86_EXC_GP, true, 0);
    uint32_t f = flags_get(cpu);
    switch (in->op) {
    case 0xF5: f ^= X86_FLAG_CF; break;
    case 0xF8: f &= ~X86_FLAG_CF; break;
    case 0xF9: f |= X86_FLAG_CF; break;
    case 0xFA: f &= ~X86_FLAG_IF; break;
    case 0xFB:
        if (!(f & X86_FLAG_IF)) cpu->interrupt_shadow |= 1;
        f |= X86_FLAG_IF;
        x86_end_block(cpu);
        break;
    case 0xFC: f &= ~X86_FLAG_DF; break;
    default: f |= X86_FLAG_DF; break;
    }
    cpu->flags = f;
}

/* CR0 bits that exist (SDM Vol. 3A, 2.5); writes to the reserved ones are ignored. */
#define CR0_DEFINED (X86_CR0_PE | X86_CR0_MP | X86_CR0_EM | X86_CR0_TS | X86_CR0_ET | \
                     X86_CR0_NE | X86_CR0_WP | X86_CR0_AM | X86_CR0_NW | X86_CR0_CD | X86_CR0_PG)

/* PAE paging proper (IA-32e paging has no PDPTE registers to load). */
static inline bool pae_paging(const X86Cpu *cpu, uint64_t cr0, uint64_t cr4)
{
    return (cr0 & X86_CR0_PG) && (cr4 & X86_CR4_PAE_BIT) && !(cpu->efer & X86_EFER_LME_BIT);
}

/* MOV to CR0 (SDM Vol. 2B MOV-Control Registers, Vol. 3A 2.5 and 4.10.4.1): PG without PE
 * and NW without CD are #GP(0); enabling PAE paging loads the PDPTEs (#GP(0) when one has
 * a reserved bit); ET is hardwired to 1; a change of PG, WP or PE flushes the TLB. */
static void write_cr0(X86Cpu *cpu, uint64_t v64)
{
    if (v64 >> 32) x86_fault(cpu, X86_EXC_GP, true, 0);   /* bits 63:32 are reserved */
    uint32_t v = (uint32_t)v64;
    v = (v & CR0_DEFINED) | X86_CR0_ET;
    if ((v & X86_CR0_PG) && !(v & X86_CR0_PE)) x86_fault(cpu, X86_EXC_GP, true, 0);
    if ((v & X86_CR0_NW) && !(v & X86_CR0_CD)) x86_fault(cpu, X86_EXC_GP, true, 0);
    uint32_t changed = v ^ (uint32_t)cpu->cr0;
    if ((changed & X86_CR0_PG) && pae_paging(cpu, v, cpu->cr4) && !x86_load_pdptes(cpu, cpu->cr3))
        x86_fault(cpu, X86_EXC_GP, true, 0);
    /* IA-32e mode activation (SDM Vol. 3A, 10.8.5): setting PG with EFER.LME needs
     * CR4.PAE and a CS without L, and sets EFER.LMA; clearing PG leaves IA-32e mode, which
     * 64-bit code cannot do (#GP), only compatibility mode. */
    if ((changed & X86_CR0_PG) && (cpu->efer & X86_EFER_LME_BIT)) {
        if (v & X86_CR0_PG) {
            if (!(cpu->cr4 & X86_CR4_PAE_BIT) || (cpu->cs.attr & X86_AR_L))
                x86_fault(cpu, X86_EXC_GP, true, 0);
            cpu->efer |= X86_EFER_LMA_BIT;
        } else {
            if (x86_long64(cpu)) x86_fault(cpu, X86_EXC_GP, true, 0);
            cpu->efer &= ~X86_EFER_LMA_BIT;
        }
    }
    if (changed & (X86_CR0_PG | X86_CR0_WP | X86_CR0_PE)) x86_tlb_flush_all(cpu);
    cpu->cr0 = v;
    x86_update_mode(cpu);
}

/* MOV to CR3: in PAE paging the PDPTEs are loaded (#GP(0) on a reserved bit); non-global
 * TLB entries go (SDM Vol. 3A, 4.10.4.1). */
static void write_cr3(X86Cpu *cpu, uint64_t v)
{
    /* IA-32e mode: bits above MAXPHYADDR are reserved (#GP(0)); else 32 bits */
    if (x86_lma(cpu)) {
        if (v >> X86_MAXPHYADDR) x86_fault(cpu, X86_EXC_GP, true, 0);
    } else {
        v = (uint32_t)v;
    }
    if (pae_paging(cpu, cpu->cr0, cpu->cr4) && !x86_load_pdptes(cpu, v))
        x86_fault(cpu, X86_EXC_GP, true, 0);
    cpu->cr3 = v;
    if (cpu->cr4 & X86_CR4_PGE_BIT) x86_tlb_flush_nonglobal(cpu);
    else x86_tlb_flush_all(cpu);
}

/* MOV to CR4: a bit this CPU does not implement is #GP(0) (as on hardware and KVM, which
 * checks CR4 against the guest's CPUID); a change of PSE, PAE or PGE flushes the whole TLB
 * and, with PAE paging after it, loads the PDPTEs (SDM Vol. 3A, 4.4.1 and 4.10.4.1). */
static void write_cr4(X86Cpu *cpu, uint64_t v)
{
    if (v & ~(uint64_t)X86_CR4_SUPPORTED) x86_fault(cpu, X86_EXC_GP, true, 0);
    uint32_t changed = (uint32_t)(v ^ cpu->cr4);
    uint32_t paging_bits = X86_CR4_PSE_BIT | X86_CR4_PAE_BIT | X86_CR4_PGE_BIT;
    /* IA-32e mode needs PAE (SDM Vol. 3A, 10.8.5) */
    if (x86_lma(cpu) && !(v & X86_CR4_PAE_BIT)) x86_fault(cpu, X86_EXC_GP, true, 0);
    if ((changed & paging_bits) && pae_paging(cpu, cpu->cr0, v) && !x86_load_pdptes(cpu, cpu->cr3))
        x86_fault(cpu, X86_EXC_GP, true, 0);
    if (changed & paging_bits) x86_tlb_flush_all(cpu);
    cpu->cr4 = v;
}

/* 0F 20 / 0F 22: MOV r32, CRn / MOV CRn, r32. The ModR/M mod field is ignored (always a
 * register). CR1, CR5-CR7 are #UD; CPL > 0 is #GP(0) (SDM Vol. 2B, MOV-Control Registers;
 * #UD is checked first). */
void op_mov_cr(X86Cpu *cpu, const X86Insn *in)
{
    unsigned cr = in->reg;
    /* (CR8, the TPR, exists in 64-bit mode: REX.R; it reads and writes cpu->cr8 only) */
    if (cr == 1 || (cr > 4 && !(cr == 8 && x86_long64(cpu)))) x86_fault(cpu, X86_EXC_UD, false, 0);
    x86_require_cpl0(cpu);
    /* 64-bit mode moves 64 bits whatever the prefixes; the other modes 32 */
    unsigned size = x86_long64(cpu) ? 8 : 4;
    uint64_t *p = cr == 0 ? &cpu->cr0 : cr == 2 ? &cpu->cr2 : cr == 3 ? &cpu->cr3
                : cr == 8 ? &cpu->cr8 : &cpu->cr4;
    if (in->op == 0x120) {
        reg_write(cpu, in->rm, size, *p);
        return;
    }
    uint64_t v = cpu->gpr[in->rm] & size_mask(size);
    switch (cr) {
    case 0: write_cr0(cpu, v); break;
    case 2: cpu->cr2 = v; break;
    case 8:
        if (v > 15) x86_fault(cpu, X86_EXC_GP, true, 0);
        cpu->cr8 = v;
        break;
    case 3: write_cr3(cpu, v); break;
    default: write_cr4(cpu, v); break;
    }
    x86_end_block(cpu);
}

bool x86_cpu_efer_valid(const X86Cpu *cpu, uint64_t value)
{
    if (value & ~X86_EFER_SUPPORTED) return false;
    /* LME cannot change while paging is on (SDM Vol. 3A, 10.8.5) */
    if ((cpu->cr0 & X86_CR0_PG) && ((value ^ cpu->efer) & X86_EFER_LME_BIT)) return false;
    return true;
}

/* LMA is the CPU's: WRMSR's value for it is ignored (as KVM does). */
void x86_cpu_set_efer(X86Cpu *cpu, uint64_t value)
{
    value = (value & ~X86_EFER_LMA_BIT) | (cpu->efer & X86_EFER_LMA_BIT);
    if ((value ^ cpu->efer) & X86_EFER_NXE_BIT) x86_tlb_flush_all(cpu);
    cpu->efer = value;
}

/* 0F 21 / 0F 23: MOV r32, DRn / MOV DRn, r32. DR4/DR5 alias DR6/DR7 unless CR4.DE
 * (then #UD) (SDM Vol. 3A, 18.2.2). */
void op_mov_dr(X86Cpu *cpu, const X86Insn *in)
{
    unsigned dr = in->reg;
    if (dr > 7) x86_fault(cpu, X86_EXC_UD, false, 0);   /* DR8-15 (REX.R) do not exist */
    if (dr == 4 || dr == 5) {
        if (cpu->cr4 & X86_CR4_DE_BIT) x86_fault(cpu, X86_EXC_UD, false, 0);
        dr += 2;
    }
    x86_require_cpl0(cpu);
    /* 64-bit mode moves 64 bits; DR6/DR7 bits 63:32 must be 0 there (#GP(0)) */
    unsigned size = x86_long64(cpu) ? 8 : 4;
    if (in->op == 0x121) reg_write(cpu, in->rm, size, cpu->dr[dr]);
    else {
        uint64_t v = cpu->gpr[in->rm] & size_mask(size);
        if (dr >= 6 && (v >> 32)) x86_fault(cpu, X86_EXC_GP, true, 0);
        if (dr == 6) v = (v & 0xE00Fu) | 0xFFFF0FF0u;
        else if (dr == 7) v = (v & ~0xD800ull) | 0x400u;
        cpu->dr[dr] = v;
    }
}

/* CPUID, RDMSR, WRMSR cause VM exits unconditionally; the kernel emulates them, sets the
 * result registers and calls x86_cpu_skip_instruction (or raises #GP). */
static void sys_exit(X86Cpu *cpu, const X86Insn *in, X86Exit reason)
{
    cpu->exit.insn_len = in->len;
    x86_exit(cpu, reason);
}

void op_cpuid(X86Cpu *cpu, const X86Insn *in) { sys_exit(cpu, in, X86_EXIT_CPUID); }
/* RDMSR/WRMSR at CPL > 0: #GP(0), which has priority over the VM exit (SDM Vol. 3C,
 * 26.1.1). */
void op_rdmsr(X86Cpu *cpu, const X86Insn *in)
{
    x86_require_cpl0(cpu);
    sys_exit(cpu, in, X86_EXIT_RDMSR);
}
void op_wrmsr(X86Cpu *cpu, const X86Insn *in)
{
    x86_require_cpl0(cpu);
    sys_exit(cpu, in, X86_EXIT_WRMSR);
}

/* RDTSC: the kernel's TSC when it provides one (tsc_read), else a counter that advances
 * with every retired instruction; with CR4.TSD only at CPL 0, else #GP(0) (SDM Vol. 2B,
 * RDTSC). */
void op_rdtsc(X86Cpu *cpu, const X86Insn *in)
{
    (void)in;
    if ((cpu->cr4 & X86_CR4_TSD_BIT) && x86_cpl(cpu) != 0) x86_fault(cpu, X86_EXC_GP, true, 0);
    uint64_t t = cpu->tsc_read ? cpu->tsc_read(cpu->tsc_opaque)
                               : cpu->tsc + cpu->instructions_retired;
    reg_write(cpu, X86_RAX, 4, (uint32_t)t);
    reg_write(cpu, X86_RDX, 4, (uint32_t)(t >> 32));
}

/* RDTSCP (0F 01 F9): RDTSC's value and rules, plus IA32_TSC_AUX[31:0] in ECX (SDM Vol. 2B). */
static void op_rdtscp(X86Cpu *cpu, const X86Insn *in)
{
    op_rdtsc(cpu, in);
    reg_write(cpu, X86_RCX, 4, (uint32_t)cpu->tsc_aux);
}

/* CR4.UMIP: SGDT, SIDT, SLDT, SMSW and STR above CPL 0 are #GP(0) (SDM Vol. 3A, 2.5). */
void x86_check_umip(X86Cpu *cpu)
{
    if ((cpu->cr4 & X86_CR4_UMIP_BIT) && x86_cpl(cpu) != 0) x86_fault(cpu, X86_EXC_GP, true, 0);
}

/* 0F 01: /0 SGDT, /1 SIDT, /2 LGDT, /3 LIDT, /4 SMSW, /6 LMSW, /7 INVLPG; /5 is #UD. The
 * register forms (mod 3) are other instructions (VMCALL, MONITOR, XGETBV, ...). */
void op_grp7(X86Cpu *cpu, const X86Insn *in)
{
    if (in->mod == 3 && in->reg == 0 && in->rm == 1) {
        /* VMCALL (0F 01 C1): in VMX non-root operation a VM exit at any CPL (SDM Vol. 3C,
         * 26.1.2); the kernel completes it (kvm_sim.c: KVM_EXIT_HYPERCALL). */
        sys_exit(cpu, in, X86_EXIT_VMCALL);
    }
    if (in->mod == 3 && in->reg == 7 && in->rm == 1) {
        op_rdtscp(cpu, in);
        return;
    }
    if (in->mod == 3 && in->reg == 7 && in->rm == 0) {
        /* SWAPGS (SDM Vol. 4 of 2B): 64-bit mode and CPL 0, else #UD / #GP(0) */
        if (!x86_long64(cpu)) x86_fault(cpu, X86_EXC_UD, false, 0);
        x86_require_cpl0(cpu);
        uint64_t t = cpu->gs.base;
        cpu->gs.base = cpu->kernel_gs_base;
        cpu->kernel_gs_base = t;
        return;
    }
    if ((in->mod != 3 && in->reg <= 1) || in->reg == 4) x86_check_umip(cpu);
    /* The other register forms (VMX, SVM's VMMCALL, MONITOR/MWAIT, XGETBV/XSETBV,
     * CLAC/STAC, ...) belong to features CPUID does not claim: #UD, as on a processor
     * without them (SDM Vol. 2, each one's "#UD If CPUID...", XGETBV with CR4.OSXSAVE
     * clear, VMX instructions outside VMX operation). */
    if (in->mod == 3 && in->reg != 4 && in->reg != 6) x86_fault(cpu, X86_EXC_UD, false, 0);
    switch (in->reg) {
    case 0: case 1: {
        X86DescTable *t = in->reg == 0 ? &cpu->gdtr : &cpu->idtr;
        uint64_t ea = insn_ea(cpu, in);
        /* SDM Vol. 2B, SGDT: the full 32-bit base is stored for both operand sizes;
         * 64-bit mode stores 8 bytes of base */
        mem_write(cpu, in->seg, ea, 2, t->limit);
        mem_write(cpu, in->seg, ea_add(in, ea, 2), x86_long64(cpu) ? 8 : 4,
                  x86_long64(cpu) ? t->base : (uint32_t)t->base);
        break;
    }
    case 2: case 3: {
        x86_require_cpl0(cpu);
        X86DescTable *t = in->reg == 2 ? &cpu->gdtr : &cpu->idtr;
        uint64_t ea = insn_ea(cpu, in);
        uint32_t limit = mem_read(cpu, in->seg, ea, 2);
        /* 64-bit mode: a 10-byte operand with a 64-bit base (canonical, else #GP(0)) */
        uint64_t base = mem_read(cpu, in->seg, ea_add(in, ea, 2), x86_long64(cpu) ? 8 : 4);
        if (x86_long64(cpu) && !x86_canonical(base)) x86_fault(cpu, X86_EXC_GP, true, 0);
        if (in->osz == 2 && !x86_long64(cpu)) base &= 0xFFFFFF;   /* 24-bit base (LGDT) */
        t->limit = (uint16_t)limit;
        t->base = base;
        break;
    }
    case 4: /* SMSW */
        if (in->mod == 3) reg_write(cpu, in->rm, in->osz, (uint32_t)cpu->cr0);
        else rm_write(cpu, in, 2, (uint32_t)cpu->cr0 & 0xFFFF);
        break;
    case 6: { /* LMSW: PE MP EM TS; PE can be set but not cleared; CPL 0 only */
        x86_require_cpl0(cpu);
        uint32_t v = rm_read(cpu, in, 2);
        cpu->cr0 = (cpu->cr0 & ~0xEull) | (v & 0xF) | (cpu->cr0 & X86_CR0_PE);
        x86_update_mode(cpu);
        x86_end_block(cpu);
        break;
    }
    case 7: /* INVLPG m (SDM Vol. 2A): CPL 0; the page of the operand's linear address,
             * with no access and no fault for the address itself (segment limit aside) */
        x86_require_cpl0(cpu);
        x86_tlb_invalidate_page(cpu, x86_linear(cpu, in->seg, insn_ea(cpu, in), 1, 0));
        break;
    default:
        x86_fault(cpu, X86_EXC_UD, false, 0);
    }
}

void op_clts(X86Cpu *cpu, const X86Insn *in)
{
    (void)in;
    x86_require_cpl0(cpu);
    cpu->cr0 &= ~(uint64_t)X86_CR0_TS;
}

/* INVD / WBINVD: no caches to model; CPL 0 only (SDM Vol. 2A, INVD / WBINVD). */
void op_wbinvd(X86Cpu *cpu, const X86Insn *in)
{
    (void)in;
    x86_require_cpl0(cpu);
}

/* 0F C7 /1 CMPXCHG8B m64 (SDM Vol. 2A): EDX:EAX against m64; equal: ZF = 1 and ECX:EBX
 * is stored; else ZF = 0 and m64 goes to EDX:EAX. The destination gets a write cycle
 * either way, so both its pages are checked for writing before anything is written.
 * A register operand, and the other /r forms (VMX, RDRAND, ...: not claimed), are #UD. */
/* REX.W 0F C7 /1 CMPXCHG16B m128: RDX:RAX against m128 (16-byte aligned, else #GP(0));
 * equal: ZF = 1 and RCX:RBX stored; else ZF = 0 and m128 to RDX:RAX (written back). */
static void cmpxchg16b(X86Cpu *cpu, const X86Insn *in, uint64_t ea)
{
    uint64_t lin = x86_linear(cpu, in->seg, ea, 16, X86_ACCESS_WRITE);
    if (lin & 15) x86_fault(cpu, X86_EXC_GP, true, 0);
    uint64_t lo = x86_read64(cpu, lin), hi = x86_read64(cpu, lin + 8);
    x86_ram_ptr(cpu, lin, 1, X86_ACCESS_WRITE);
    bool equal = lo == cpu->gpr[X86_RAX] && hi == cpu->gpr[X86_RDX];
    x86_write64(cpu, lin, equal ? cpu->gpr[X86_RBX] : lo);
    x86_write64(cpu, lin + 8, equal ? cpu->gpr[X86_RCX] : hi);
    flags_set_arith(cpu, equal ? X86_FLAG_ZF : 0, X86_FLAG_ZF);
    if (!equal) {
        cpu->gpr[X86_RAX] = lo;
        cpu->gpr[X86_RDX] = hi;
    }
}

void op_cmpxchg8b(X86Cpu *cpu, const X86Insn *in)
{
    if (in->mod == 3 || in->reg != 1) x86_fault(cpu, X86_EXC_UD, false, 0);
    uint64_t ea = insn_ea(cpu, in);
    if (in->osz == 8) {
        cmpxchg16b(cpu, in, ea);
        return;
    }
    uint64_t lin = x86_linear(cpu, in->seg, ea, 8, X86_ACCESS_WRITE);
    uint64_t old = x86_read64(cpu, lin);
    x86_ram_ptr(cpu, lin, 1, X86_ACCESS_WRITE);          /* #PF before any write */
    x86_ram_ptr(cpu, x86_lin_wrap(cpu, lin + 7), 1, X86_ACCESS_WRITE);
    uint32_t lo = (uint32_t)old, hi = (uint32_t)(old >> 32);
    bool equal = lo == (uint32_t)cpu->gpr[X86_RAX] && hi == (uint32_t)cpu->gpr[X86_RDX];
    uint64_t new = equal ? (uint64_t)(uint32_t)cpu->gpr[X86_RCX] << 32 | (uint32_t)cpu->gpr[X86_RBX]
                         : old;
    x86_write64(cpu, lin, new);
    flags_set_arith(cpu, equal ? X86_FLAG_ZF : 0, X86_FLAG_ZF);
    if (!equal) {
        cpu->gpr[X86_RAX] = lo;
        cpu->gpr[X86_RDX] = hi;
    }
}

/* Flat 4 GiB segments of SYSENTER/SYSEXIT (SDM Vol. 2B, SYSENTER: "the processor does
 * not ensure that the descriptors are in the GDT"; it loads fixed values). */
static void flat_segment(X86Segment *s, uint16_t sel, unsigned type, unsigned dpl)
{
    s->selector = sel;
    s->base = 0;
    s->limit = 0xFFFFFFFFu;
    s->attr = type | X86_AR_S | (dpl << X86_AR_DPL_SHIFT) | X86_AR_P | X86_AR_DB | X86_AR_G;
}

/* 0F 34 SYSENTER (SDM Vol. 2B): #GP(0) in real mode or with IA32_SYSENTER_CS[15:2] = 0;
 * clears VM, IF and RF; CS = SYSENTER_CS & FFFCh (flat code, DPL 0), SS = CS + 8 (flat
 * data, DPL 0), ESP = SYSENTER_ESP, EIP = SYSENTER_EIP. */
void op_sysenter(X86Cpu *cpu, const X86Insn *in)
{
    (void)in;
    uint16_t cs = (uint16_t)cpu->sysenter_cs;
    if (!x86_pe(cpu) || (cs & 0xFFFC) == 0) x86_fault(cpu, X86_EXC_GP, true, 0);
    cpu->flags = flags_get(cpu) & ~(X86_FLAG_VM | X86_FLAG_IF | X86_FLAG_RF);
    flat_segment(&cpu->cs, cs & 0xFFFC, 0xB, 0);
    x86_update_mode(cpu);
    flat_segment(&cpu->ss, (uint16_t)((cs & 0xFFFC) + 8), 0x3, 0);
    cpu->gpr[X86_RSP] = (uint32_t)cpu->sysenter_esp;
    cpu->next_rip = (uint32_t)cpu->sysenter_eip;
}

/* 0F 35 SYSEXIT (SDM Vol. 2B): #GP(0) with SYSENTER_CS[15:2] = 0, in real mode or at
 * CPL > 0; CS = (SYSENTER_CS + 16) | 3 (flat code, DPL 3), SS = (SYSENTER_CS + 24) | 3,
 * ESP = ECX, EIP = EDX. */
void op_sysexit(X86Cpu *cpu, const X86Insn *in)
{
    (void)in;
    uint16_t cs = (uint16_t)cpu->sysenter_cs;
    if (!x86_pe(cpu) || (cs & 0xFFFC) == 0 || x86_cpl(cpu) != 0)
        x86_fault(cpu, X86_EXC_GP, true, 0);
    flat_segment(&cpu->cs, (uint16_t)((cs + 16) | 3), 0xB, 3);
    x86_update_mode(cpu);
    flat_segment(&cpu->ss, (uint16_t)((cs + 24) | 3), 0x3, 3);
    cpu->gpr[X86_RSP] = (uint32_t)cpu->gpr[X86_RCX];
    cpu->next_rip = (uint32_t)cpu->gpr[X86_RDX];
}

/* 0F 05 SYSCALL (SDM Vol. 2B): 64-bit mode with EFER.SCE (else #UD; compatibility mode's
 * legacy SYSCALL is AMD's and not modelled). RCX = RIP, R11 = RFLAGS; CS = STAR[47:32]
 * & FFFC (flat 64-bit code, DPL 0), SS = that + 8 (flat data); RIP = LSTAR; RFLAGS &=
 * ~FMASK, RF cleared. */
void op_syscall(X86Cpu *cpu, const X86Insn *in)
{
    (void)in;
    if (!x86_long64(cpu) || !(cpu->efer & X86_EFER_SCE_BIT)) x86_fault(cpu, X86_EXC_UD, false, 0);
    uint16_t sel = (uint16_t)(cpu->star >> 32) & 0xFFFC;
    uint32_t f = flags_get(cpu);
    cpu->gpr[X86_RCX] = cpu->next_rip;
    cpu->gpr[X86_R11] = f;
    cpu->flags = (f & ~((uint32_t)cpu->fmask | X86_FLAG_RF)) | X86_FLAG_FIXED;
    flat_segment(&cpu->cs, sel, 0xB, 0);
    cpu->cs.attr = (cpu->cs.attr & ~X86_AR_DB) | X86_AR_L;
    flat_segment(&cpu->ss, (uint16_t)(sel + 8), 0x3, 0);
    x86_update_mode(cpu);
    cpu->next_rip = cpu->lstar;
    x86_end_block(cpu);
}

/* 0F 07 SYSRET (SDM Vol. 2B): 64-bit mode with SCE (#UD), CPL 0 (#GP(0)); to 64-bit code
 * with REX.W (CS = STAR[63:48] + 16, RIP = RCX, canonical or #GP(0)) or to compatibility
 * mode (CS = STAR[63:48], EIP = ECX); SS = STAR[63:48] + 8; RFLAGS = R11 (RF, VM
 * cleared); CPL 3. */
void op_sysret(X86Cpu *cpu, const X86Insn *in)
{
    if (!x86_long64(cpu) || !(cpu->efer & X86_EFER_SCE_BIT)) x86_fault(cpu, X86_EXC_UD, false, 0);
    x86_require_cpl0(cpu);
    uint16_t base = (uint16_t)(cpu->star >> 48);
    bool to64 = in->osz == 8;
    uint64_t rip = to64 ? cpu->gpr[X86_RCX] : (uint32_t)cpu->gpr[X86_RCX];
    if (!x86_canonical(rip)) x86_fault(cpu, X86_EXC_GP, true, 0);
    uint32_t f = (uint32_t)cpu->gpr[X86_R11];
    cpu->flags = (f & 0x3C7FD7u & ~(X86_FLAG_RF | X86_FLAG_VM)) | X86_FLAG_FIXED;
    cpu->lf_op = LF_NONE;
    flat_segment(&cpu->cs, (uint16_t)((to64 ? base + 16 : base) | 3), 0xB, 3);
    if (to64) cpu->cs.attr = (cpu->cs.attr & ~X86_AR_DB) | X86_AR_L;
    /* (SS keeps its selector's RPL 3 and DPL 3: flat data) */
    flat_segment(&cpu->ss, (uint16_t)((base + 8) | 3), 0x3, 3);
    x86_update_mode(cpu);
    cpu->next_rip = rip;
    x86_end_block(cpu);
}
