/*
 * System instructions reachable in real mode: flag operations (CLC STC CMC CLI STI CLD
 * STD), MOV to/from CRn and DRn, CPUID, RDTSC, RDMSR/WRMSR, groups 6 and 7 (descriptor
 * tables, MSW), CLTS, INVD/WBINVD, WAIT (SDM Vol. 2 and Vol. 3A chapter 2).
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
        cpu->pending |= X86_PENDING_END;
        break;
    case 0xFC: f &= ~X86_FLAG_DF; break;
    default: f |= X86_FLAG_DF; break;
    }
    cpu->flags = f;
}

/* 0F 20 / 0F 22: MOV r32, CRn / MOV CRn, r32. The ModR/M mod field is ignored (always a
 * register). CR1, CR5-CR7 are #UD; CR0 checks from SDM Vol. 3A, 2.5 / MOV CR. */
void op_mov_cr(X86Cpu *cpu, const X86Insn *in)
{
    unsigned cr = in->reg;
    if (cr == 1 || cr > 4) x86_fault(cpu, X86_EXC_UD, false, 0);
    x86_require_cpl0(cpu);
    uint64_t *p = cr == 0 ? &cpu->cr0 : cr == 2 ? &cpu->cr2 : cr == 3 ? &cpu->cr3 : &cpu->cr4;
    if (in->op == 0x120) {
        reg_write(cpu, in->rm, 4, (uint32_t)*p);
        return;
    }
    uint32_t v = (uint32_t)cpu->gpr[in->rm];
    if (cr == 0) {
        if ((v & X86_CR0_PG) && !(v & X86_CR0_PE)) x86_fault(cpu, X86_EXC_GP, true, 0);
        if ((v & X86_CR0_NW) && !(v & X86_CR0_CD)) x86_fault(cpu, X86_EXC_GP, true, 0);
        v |= X86_CR0_ET;    /* hardwired to 1 on processors with an integrated FPU */
        if ((v ^ (uint32_t)cpu->cr0) & (X86_CR0_PG | X86_CR0_WP | X86_CR0_PE))
            x86_cpu_tlb_flush(cpu);
    } else if (cr == 4) {
        if (v & ~0x007F7FFFu) x86_fault(cpu, X86_EXC_GP, true, 0);
    }
    *p = v;
    cpu->pending |= X86_PENDING_END;
}

/* 0F 21 / 0F 23: MOV r32, DRn / MOV DRn, r32. DR4/DR5 alias DR6/DR7 unless CR4.DE
 * (then #UD) (SDM Vol. 3A, 18.2.2). */
void op_mov_dr(X86Cpu *cpu, const X86Insn *in)
{
    unsigned dr = in->reg;
    x86_require_cpl0(cpu);
    if (dr == 4 || dr == 5) {
        if (cpu->cr4 & (1u << 3)) x86_fault(cpu, X86_EXC_UD, false, 0);
        dr += 2;
    }
    if (in->op == 0x121) reg_write(cpu, in->rm, 4, (uint32_t)cpu->dr[dr]);
    else {
        uint32_t v = (uint32_t)cpu->gpr[in->rm];
        if (dr == 6) v = (v & 0xE00Fu) | 0xFFFF0FF0u;
        else if (dr == 7) v = (v & ~0xD800u) | 0x400u;
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

/* RDTSC: a counter that advances with every retired instruction. */
void op_rdtsc(X86Cpu *cpu, const X86Insn *in)
{
    (void)in;
    uint64_t t = cpu->tsc + cpu->instructions_retired;
    reg_write(cpu, X86_RAX, 4, (uint32_t)t);
    reg_write(cpu, X86_RDX, 4, (uint32_t)(t >> 32));
}

/* 0F 01: /0 SGDT, /1 SIDT, /2 LGDT, /3 LIDT, /4 SMSW, /6 LMSW, /7 INVLPG; /5 is #UD. The
 * register forms (mod 3) are other instructions (VMCALL, MONITOR, XGETBV, ...). */
void op_grp7(X86Cpu *cpu, const X86Insn *in)
{
    if (in->mod == 3 && in->reg != 4 && in->reg != 6)
        x86_unimplemented(cpu, "0F 01 register form (VMX/SVM/MONITOR/XGETBV...)");
    switch (in->reg) {
    case 0: case 1: {
        X86DescTable *t = in->reg == 0 ? &cpu->gdtr : &cpu->idtr;
        uint32_t ea = insn_ea(cpu, in);
        uint32_t next = ea + 2;
        if (in->asz == 2) next &= 0xFFFF;
        /* SDM Vol. 2B, SGDT: the full 32-bit base is stored for both operand sizes. */
        mem_write(cpu, in->seg, ea, 2, t->limit);
        mem_write(cpu, in->seg, next, 4, (uint32_t)t->base);
        break;
    }
    case 2: case 3: {
        x86_require_cpl0(cpu);
        X86DescTable *t = in->reg == 2 ? &cpu->gdtr : &cpu->idtr;
        uint32_t ea = insn_ea(cpu, in);
        uint32_t next = ea + 2;
        if (in->asz == 2) next &= 0xFFFF;
        uint32_t limit = mem_read(cpu, in->seg, ea, 2);
        uint32_t base = mem_read(cpu, in->seg, next, 4);
        if (in->osz == 2) base &= 0xFFFFFF;   /* 24-bit base (SDM Vol. 2A, LGDT) */
        t->limit = (uint16_t)limit;
        t->base = base;
        break;
    }
    case 4: /* SMSW */
        if (in->mod == 3) reg_write(cpu, in->rm, in->osz, (uint32_t)cpu->cr0);
        else rm_write(cpu, in, 2, (uint32_t)cpu->cr0 & 0xFFFF);
        break;
    case 6: { /* LMSW: PE MP EM TS; PE can be set but not cleared */
        x86_require_cpl0(cpu);
        uint32_t v = rm_read(cpu, in, 2);
        cpu->cr0 = (cpu->cr0 & ~0xEull) | (v & 0xF) | (cpu->cr0 & X86_CR0_PE);
        cpu->pending |= X86_PENDING_END;
        break;
    }
    case 7: /* INVLPG */
        x86_require_cpl0(cpu);
        for (unsigned i = 0; i < X86_TLB_SIZE; i++)
            cpu->tlb[i].tag_read = cpu->tlb[i].tag_write = ~0ull;
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

/* INVD / WBINVD: no caches to model. */
void op_wbinvd(X86Cpu *cpu, const X86Insn *in)
{
    (void)in;
    x86_require_cpl0(cpu);
}

/* WAIT/FWAIT: #NM when CR0.MP and CR0.TS are both set (SDM Vol. 2B, WAIT). */
void op_wait(X86Cpu *cpu, const X86Insn *in)
{
    (void)in;
    if ((cpu->cr0 & (X86_CR0_MP | X86_CR0_TS)) == (X86_CR0_MP | X86_CR0_TS))
        x86_fault(cpu, X86_EXC_NM, false, 0);
}
