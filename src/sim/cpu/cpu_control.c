/*
 * Control transfer: Jcc, JMP, CALL, RET (near and far), IRET, INT n / INT3 / INT1 /
 * INTO, LOOP/LOOPE/LOOPNE, JCXZ/JECXZ, BOUND, HLT, and the undefined/unimplemented
 * opcode handlers (SDM Vol. 2, each instruction's "Operation").
 */

#include "sim/cpu/cpu_internal.h"

/* A near transfer to `target`: with a 16-bit operand size the upper half of EIP is
 * cleared; a target outside the CS limit is #GP(0) (SDM Vol. 2A, JMP/CALL). */
static inline void jump_to(X86Cpu *cpu, uint64_t target, unsigned osz)
{
    if (osz == 2) target &= 0xFFFF;
    else if (osz == 4) target = (uint32_t)target;
    if (UNLIKELY(osz == 8)) {
        /* 64-bit mode: no limit; a non-canonical target is #GP(0) (SDM Vol. 2A, JMP) */
        if (!x86_canonical(target)) x86_fault(cpu, X86_EXC_GP, true, 0);
    } else if (UNLIKELY(target > cpu->cs.limit)) {
        x86_fault(cpu, X86_EXC_GP, true, 0);
    }
    cpu->next_rip = target;
}

void op_jcc(X86Cpu *cpu, const X86Insn *in)
{
    if (x86_cond(cpu, in->op & 15)) jump_to(cpu, cpu->next_rip + in->imm, in->osz);
}

/* One Jcc handler per condition: x86_cond with a constant cc reads only what it needs. */
#define DEF_JCC(CC)                                                                      \
    static void op_jcc_##CC(X86Cpu *cpu, const X86Insn *in)                              \
    {                                                                                    \
        if (x86_cond(cpu, CC)) jump_to(cpu, cpu->next_rip + in->imm, in->osz);  \
    }
DEF_JCC(0) DEF_JCC(1) DEF_JCC(2) DEF_JCC(3) DEF_JCC(4) DEF_JCC(5) DEF_JCC(6) DEF_JCC(7)
DEF_JCC(8) DEF_JCC(9) DEF_JCC(10) DEF_JCC(11) DEF_JCC(12) DEF_JCC(13) DEF_JCC(14) DEF_JCC(15)
const X86Handler x86_jcc_handlers[16] = {
    op_jcc_0, op_jcc_1, op_jcc_2, op_jcc_3, op_jcc_4, op_jcc_5, op_jcc_6, op_jcc_7,
    op_jcc_8, op_jcc_9, op_jcc_10, op_jcc_11, op_jcc_12, op_jcc_13, op_jcc_14, op_jcc_15,
};

void op_jmp_rel(X86Cpu *cpu, const X86Insn *in)
{
    jump_to(cpu, cpu->next_rip + in->imm, in->osz);
}

void op_call_rel(X86Cpu *cpu, const X86Insn *in)
{
    uint64_t ret = cpu->next_rip;
    jump_to(cpu, ret + in->imm, in->osz);
    push(cpu, in->osz, ret);
}

void op_jmp_far(X86Cpu *cpu, const X86Insn *in)
{
    x86_far_jmp(cpu, (uint16_t)in->imm2, in->imm, in->osz);
}

void op_call_far(X86Cpu *cpu, const X86Insn *in)
{
    x86_far_call(cpu, (uint16_t)in->imm2, in->imm, in->osz);
}

/* C2/C3: RET [imm16] */
void op_ret(X86Cpu *cpu, const X86Insn *in)
{
    uint64_t sp = sp_get(cpu), m = sp_mask(cpu);
    uint64_t ip = mem_read(cpu, X86_SS, sp, in->osz);
    jump_to(cpu, ip, in->osz);
    uint32_t add = in->op == 0xC2 ? (in->imm & 0xFFFF) : 0;
    sp_set(cpu, (sp + in->osz + add) & m);
}

/* CA/CB: RETF [imm16] */
void op_retf(X86Cpu *cpu, const X86Insn *in)
{
    x86_far_ret(cpu, in->osz, in->op == 0xCA ? (in->imm & 0xFFFF) : 0);
}

void op_iret(X86Cpu *cpu, const X86Insn *in)
{
    x86_iret(cpu, in->osz);
    cpu->nmi_blocked = false;   /* IRET ends NMI blocking (SDM Vol. 3A, 6.7.1) */
}

/* INT n, INT3, INT1/ICEBP (F1) and INTO: software interrupts, return address past the
 * instruction (SDM Vol. 2A, INT n/INTO/INT3/INT1). */
void op_int(X86Cpu *cpu, const X86Insn *in)
{
    /* Virtual-8086 mode without VME: INT n is IOPL-sensitive (SDM Vol. 3B, 20.2.7). */
    if (x86_v86(cpu) && x86_iopl(cpu) < 3) x86_fault(cpu, X86_EXC_GP, true, 0);
    x86_deliver_event(cpu, in->imm & 0xFF, X86_EVENT_SOFTWARE_INT, false, 0);
}

/* INT1 (F1) is delivered as a #DB trap without the gate-DPL check; INT3 as a software
 * interrupt (SDM Vol. 3A, 6.12.1.1). */
void op_int3(X86Cpu *cpu, const X86Insn *in)
{
    /* The host's software breakpoint: an exit with RIP at the INT3 (KVM_GUESTDBG_USE_SW_BP). */
    if (UNLIKELY(cpu->dbg_flags & X86_DBG_INT3) && in->op == 0xCC) {
        cpu->dbg_event = X86_DBG_EVENT_INT3;
        x86_exit(cpu, X86_EXIT_DEBUG);
    }
    if (in->op == 0xF1) {
        cpu->rip = cpu->next_rip;
        x86_deliver_event(cpu, X86_EXC_DB, X86_EVENT_EXCEPTION, false, 0);
        return;
    }
    x86_deliver_event(cpu, X86_EXC_BP, X86_EVENT_SOFTWARE_INT, false, 0);
}

void op_into(X86Cpu *cpu, const X86Insn *in)
{
    (void)in;
    if (flags_get(cpu) & X86_FLAG_OF)
        x86_deliver_event(cpu, X86_EXC_OF, X86_EVENT_SOFTWARE_INT, false, 0);
}

/* E0 E1 E2: LOOPNE LOOPE LOOP; the count register is CX or ECX by address size. */
void op_loop(X86Cpu *cpu, const X86Insn *in)
{
    uint64_t c = (cpu->gpr[X86_RCX] - 1) & size_mask(in->asz);
    bool take = c != 0;
    if (in->op == 0xE0) take = take && !(flags_get(cpu) & X86_FLAG_ZF);
    else if (in->op == 0xE1) take = take && (flags_get(cpu) & X86_FLAG_ZF);
    if (take) jump_to(cpu, cpu->next_rip + in->imm, in->osz);
    reg_write(cpu, X86_RCX, in->asz, c);
}

void op_jcxz(X86Cpu *cpu, const X86Insn *in)
{
    uint64_t c = cpu->gpr[X86_RCX] & size_mask(in->asz);
    if (c == 0) jump_to(cpu, cpu->next_rip + in->imm, in->osz);
}

/* FF /2 CALL r/m, /3 CALL m16:16, /4 JMP r/m, /5 JMP m16:16 (far forms: register
 * operands are #UD). */
void op_grp5_ctl(X86Cpu *cpu, const X86Insn *in)
{
    unsigned size = in->osz;
    switch (in->reg) {
    case 2: {
        uint64_t t = rm_read(cpu, in, size);
        uint64_t ret = cpu->next_rip;
        jump_to(cpu, t, size);
        push(cpu, size, ret);
        break;
    }
    case 4:
        jump_to(cpu, rm_read(cpu, in, size), size);
        break;
    default: {
        if (in->mod == 3) x86_fault(cpu, X86_EXC_UD, false, 0);
        uint64_t ea = insn_ea(cpu, in);
        uint64_t off = mem_read(cpu, in->seg, ea, size);
        uint32_t sel = mem_read(cpu, in->seg, ea_add(in, ea, size), 2);
        if (in->reg == 3) x86_far_call(cpu, (uint16_t)sel, off, size);
        else x86_far_jmp(cpu, (uint16_t)sel, off, size);
        break;
    }
    }
}

/* BOUND r, m: #BR (a fault) when the signed index is outside [lower, upper]. */
void op_bound(X86Cpu *cpu, const X86Insn *in)
{
    if (in->mod == 3) x86_fault(cpu, X86_EXC_UD, false, 0);
    unsigned size = in->osz;
    uint32_t ea = insn_ea(cpu, in);
    uint32_t next = ea + size;
    if (in->asz == 2) next &= 0xFFFF;
    uint32_t lo = mem_read(cpu, in->seg, ea, size);
    uint32_t hi = mem_read(cpu, in->seg, next, size);
    int32_t idx, l, h;
    if (size == 2) { idx = (int16_t)cpu->gpr[in->reg]; l = (int16_t)lo; h = (int16_t)hi; }
    else { idx = (int32_t)cpu->gpr[in->reg]; l = (int32_t)lo; h = (int32_t)hi; }
    if (idx < l || idx > h) x86_fault(cpu, X86_EXC_BR, false, 0);
}

/* HLT: leaves with RIP past the instruction, as after a HLT VM exit KVM completed. */
void op_hlt(X86Cpu *cpu, const X86Insn *in)
{
    x86_require_cpl0(cpu);
    cpu->exit.insn_len = in->len;
    cpu->exit.rip = cpu->rip;
    cpu->exit.linear = x86_code_lin(cpu);
    cpu->rip = cpu->next_rip;
    cpu->instructions_retired++;
    cpu->activity_state = X86_ACTIVITY_HLT;
    x86_exit(cpu, X86_EXIT_HLT);
}

void op_ud(X86Cpu *cpu, const X86Insn *in)
{
    (void)in;
    x86_fault(cpu, X86_EXC_UD, false, 0);
}

void op_unimpl(X86Cpu *cpu, const X86Insn *in)
{
    (void)in;
    x86_unimplemented(cpu, "opcode not implemented");
}
