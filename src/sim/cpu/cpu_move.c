/*
 * Data movement: MOV (incl. segment registers and moffs), XCHG, LEA, PUSH/POP forms,
 * PUSHA/POPA, PUSHF/POPF, CBW/CWD, LAHF/SAHF, XLAT, LDS/LES/LSS/LFS/LGS, MOVZX/MOVSX,
 * BSWAP, ENTER/LEAVE, SETcc, NOP, SALC (SDM Vol. 2, each instruction's "Operation").
 */
#include "sim/cpu/cpu_internal.h"

static inline unsigned opsize_of(const X86Insn *in) { return (in->op & 1) ? in->osz : 1; }

void op_mov_rm_r(X86Cpu *cpu, const X86Insn *in)
{
    unsigned size = opsize_of(in);
    rm_write(cpu, in, size, reg_read(cpu, in->reg, size));
}

void op_mov_r_rm(X86Cpu *cpu, const X86Insn *in)
{
    unsigned size = opsize_of(in);
    reg_write(cpu, in->reg, size, rm_read(cpu, in, size));
}

/* 8C: MOV r/m16, Sreg. To a register with a 32-bit operand size the selector is
 * zero-extended (as P6 and later processors do). Sreg 6 and 7 do not exist: #UD. */
void op_mov_rm_sreg(X86Cpu *cpu, const X86Insn *in)
{
    if (in->reg > 5) x86_fault(cpu, X86_EXC_UD, false, 0);
    uint32_t v = cpu->seg[in->reg].selector;
    if (in->mod == 3) reg_write(cpu, in->rm, in->osz, v);
    else rm_write(cpu, in, 2, v);
}

/* 8E: MOV Sreg, r/m16. CS cannot be loaded (#UD); loading SS blocks interrupts and debug
 * traps until the end of the next instruction (SDM Vol. 2B, MOV). */
void op_mov_sreg_rm(X86Cpu *cpu, const X86Insn *in)
{
    if (in->reg == X86_CS || in->reg > 5) x86_fault(cpu, X86_EXC_UD, false, 0);
    uint32_t v = rm_read(cpu, in, 2);
    x86_load_seg(cpu, in->reg, (uint16_t)v);
    if (in->reg == X86_SS) {
        cpu->interrupt_shadow |= 2;
        x86_end_block(cpu);
    }
}

void op_mov_r_imm(X86Cpu *cpu, const X86Insn *in)
{
    unsigned size = in->op >= 0xB8 ? in->osz : 1;
    reg_write(cpu, in->reg, size, in->imm);
}

/* C6/C7: /0 MOV r/m, imm; the other encodings are undefined (#UD). */
void op_mov_rm_imm(X86Cpu *cpu, const X86Insn *in)
{
    if (in->reg != 0) x86_fault(cpu, X86_EXC_UD, false, 0);
    unsigned size = opsize_of(in);
    rm_write(cpu, in, size, in->imm & size_mask(size));
}

void op_mov_acc_moffs(X86Cpu *cpu, const X86Insn *in)
{
    unsigned size = opsize_of(in);
    reg_write(cpu, X86_RAX, size, mem_read(cpu, in->seg, insn_ea(cpu, in), size));
}

void op_mov_moffs_acc(X86Cpu *cpu, const X86Insn *in)
{
    unsigned size = opsize_of(in);
    mem_write(cpu, in->seg, insn_ea(cpu, in), size, reg_read(cpu, X86_RAX, size));
}

/* 8D: LEA; a register operand is #UD. */
void op_lea(X86Cpu *cpu, const X86Insn *in)
{
    if (in->mod == 3) x86_fault(cpu, X86_EXC_UD, false, 0);
    reg_write(cpu, in->reg, in->osz, insn_ea(cpu, in));
}

void op_xchg_rm_r(X86Cpu *cpu, const X86Insn *in)
{
    unsigned size = opsize_of(in);
    uint64_t r = reg_read(cpu, in->reg, size);
    if (in->mod == 3) {
        reg_write(cpu, in->reg, size, reg_read(cpu, in->rm, size));
        reg_write(cpu, in->rm, size, r);
        /* Bochs's magic breakpoint, XCHG BX,BX (87 DB), when the host asks for it: the
         * run ends after it. */
        if (UNLIKELY(cpu->dbg_flags & X86_DBG_MAGIC) && size == 2 && in->reg == X86_RBX &&
            in->rm == X86_RBX && cpu->run_exit == X86_EXIT_NONE) {
            cpu->dbg_event = X86_DBG_EVENT_MAGIC;
            cpu->run_exit = X86_EXIT_DEBUG;
            x86_end_block(cpu);
        }
        return;
    }
    uint64_t lin = x86_linear(cpu, in->seg, insn_ea(cpu, in), size, X86_ACCESS_WRITE);
    uint64_t m = lin_read(cpu, lin, size);
    lin_write(cpu, lin, size, r);
    reg_write(cpu, in->reg, size, m);
}

void op_xchg_acc_r(X86Cpu *cpu, const X86Insn *in)
{
    if (in->reg == X86_RAX) return;   /* 90: NOP, also with REX.W (no zero-extension) */
    uint64_t a = reg_read(cpu, X86_RAX, in->osz);
    reg_write(cpu, X86_RAX, in->osz, reg_read(cpu, in->reg, in->osz));
    reg_write(cpu, in->reg, in->osz, a);
}

/* PUSH r: PUSH SP pushes SP as it was before the instruction (SDM Vol. 2B, PUSH). */
void op_push_r(X86Cpu *cpu, const X86Insn *in)
{
    push(cpu, in->osz, reg_read(cpu, in->reg, in->osz));
}

/* POP r: POP SP loads SP with the value popped (SDM Vol. 2B, POP). */
void op_pop_r(X86Cpu *cpu, const X86Insn *in)
{
    uint64_t v = pop(cpu, in->osz);
    reg_write(cpu, in->reg, in->osz, v);
}

static int sreg_of(const X86Insn *in)
{
    switch (in->op) {
    case 0x06: case 0x07: return X86_ES;
    case 0x0E: return X86_CS;
    case 0x16: case 0x17: return X86_SS;
    case 0x1E: case 0x1F: return X86_DS;
    case 0x1A0: case 0x1A1: return X86_FS;
    default: return X86_GS;
    }
}

/* PUSH Sreg: a 32-bit push writes the selector zero-extended (SDM says the upper half may
 * be left unchanged on some processors; this model writes 32 bits). */
void op_push_sreg(X86Cpu *cpu, const X86Insn *in)
{
    push(cpu, in->osz, cpu->seg[sreg_of(in)].selector);
}

void op_pop_sreg(X86Cpu *cpu, const X86Insn *in)
{
    int s = sreg_of(in);
    uint64_t sp = sp_get(cpu);
    uint32_t v = mem_read(cpu, X86_SS, sp, 2);
    /* The increment follows the stack the value came from (POP SS switching SS.B). */
    uint64_t rsp = cpu->gpr[X86_RSP];
    sp_set(cpu, (sp + in->osz) & sp_mask(cpu));
    uint64_t new_rsp = cpu->gpr[X86_RSP];
    cpu->gpr[X86_RSP] = rsp;              /* unchanged if the load faults */
    x86_load_seg(cpu, s, (uint16_t)v);
    cpu->gpr[X86_RSP] = new_rsp;
    if (s == X86_SS) {
        cpu->interrupt_shadow |= 2;
        x86_end_block(cpu);
    }
}

void op_push_imm(X86Cpu *cpu, const X86Insn *in)
{
    push(cpu, in->osz, in->imm);
}

/* 8F /0: POP r/m. An ESP-based address is computed after ESP is incremented (SDM Vol.
 * 2B, POP). Other /reg values are undefined (#UD). */
void op_pop_rm(X86Cpu *cpu, const X86Insn *in)
{
    if (in->reg != 0) x86_fault(cpu, X86_EXC_UD, false, 0);
    unsigned size = in->osz;
    uint64_t sp = sp_get(cpu);
    uint64_t v = mem_read(cpu, X86_SS, sp, size);
    uint64_t nsp = (sp + size) & sp_mask(cpu);
    if (in->mod == 3) {
        sp_set(cpu, nsp);
        reg_write(cpu, in->rm, size, v);
        return;
    }
    uint64_t old = cpu->gpr[X86_RSP];
    sp_set(cpu, nsp);
    uint64_t ea = insn_ea(cpu, in);
    cpu->gpr[X86_RSP] = old;
    mem_write(cpu, in->seg, ea, size, v);
    sp_set(cpu, nsp);
}

/* PUSHA/PUSHAD: AX CX DX BX (original SP) BP SI DI. */
void op_pusha(X86Cpu *cpu, const X86Insn *in)
{
    unsigned size = in->osz;
    uint64_t sp = sp_get(cpu), m = sp_mask(cpu);
    for (unsigned i = 0; i < 8; i++) {
        sp = (sp - size) & m;
        mem_write(cpu, X86_SS, sp, size, reg_read(cpu, i, size));
    }
    sp_set(cpu, sp);
}

/* POPA/POPAD: DI SI BP (SP skipped) BX DX CX AX. */
void op_popa(X86Cpu *cpu, const X86Insn *in)
{
    unsigned size = in->osz;
    uint64_t sp = sp_get(cpu), m = sp_mask(cpu), v[8];
    for (int i = 7; i >= 0; i--) {
        v[i] = mem_read(cpu, X86_SS, sp, size);
        sp = (sp + size) & m;
    }
    for (int i = 0; i < 8; i++)
        if (i != X86_RSP) reg_write(cpu, (unsigned)i, size, v[i]);
    sp_set(cpu, sp);
}

/* PUSHF/PUSHFD: VM and RF are pushed as 0 (SDM Vol. 2B, PUSHF). */
void op_pushf(X86Cpu *cpu, const X86Insn *in)
{
    /* Virtual-8086 mode without VME: IOPL-sensitive (SDM Vol. 3B, 20.2.7). */
    if (x86_v86(cpu) && x86_iopl(cpu) < 3) x86_fault(cpu, X86_EXC_GP, true, 0);
    uint32_t f = flags_get(cpu) & ~(X86_FLAG_VM | X86_FLAG_RF);
    push(cpu, in->osz, f);   /* (RFLAGS' upper half is 0) */
}

/* POPF/POPFD: every flag except VM, VIP, VIF (and RF, cleared) can be loaded in real mode
 * and at CPL 0; IOPL only at CPL 0 and IF only at CPL <= IOPL (SDM Vol. 2B, POPF).
 * Virtual-8086 mode without VME: #GP(0) unless IOPL is 3. */
void op_popf(X86Cpu *cpu, const X86Insn *in)
{
    if (x86_v86(cpu) && x86_iopl(cpu) < 3) x86_fault(cpu, X86_EXC_GP, true, 0);
    uint32_t v = pop(cpu, in->osz);
    uint32_t f = flags_get(cpu);
    uint32_t mask = x86_popf_mask(cpu, in->osz);
    cpu->flags = ((f & ~mask) | (v & mask)) | X86_FLAG_FIXED;
    x86_end_block(cpu);
}

/* CBW CWDE CDQE */
void op_cbw(X86Cpu *cpu, const X86Insn *in)
{
    uint64_t a = cpu->gpr[X86_RAX];
    if (in->osz == 2) reg_write(cpu, X86_RAX, 2, (uint64_t)(int8_t)a);
    else if (in->osz == 4) reg_write(cpu, X86_RAX, 4, (uint64_t)(int16_t)a);
    else cpu->gpr[X86_RAX] = (uint64_t)(int32_t)a;
}

/* CWD CDQ CQO */
void op_cwd(X86Cpu *cpu, const X86Insn *in)
{
    bool neg = (cpu->gpr[X86_RAX] & size_top(in->osz)) != 0;
    reg_write(cpu, X86_RDX, in->osz, neg ? ~0ull : 0);
}

/* 63 in 64-bit mode: MOVSXD r, r/m32 (without REX.W a plain 32-bit move). */
void op_movsxd(X86Cpu *cpu, const X86Insn *in)
{
    uint64_t v = rm_read(cpu, in, in->osz == 8 ? 4 : in->osz);
    reg_write(cpu, in->reg, in->osz, in->osz == 8 ? (uint64_t)(int32_t)v : v);
}

void op_lahf(X86Cpu *cpu, const X86Insn *in)
{
    (void)in;
    reg_write(cpu, 4 /* AH */, 1, (flags_get(cpu) & 0xD5) | X86_FLAG_FIXED);
}

void op_sahf(X86Cpu *cpu, const X86Insn *in)
{
    (void)in;
    uint32_t ah = (uint8_t)(cpu->gpr[X86_RAX] >> 8);
    flags_set_arith(cpu, ah, X86_FLAG_SF | X86_FLAG_ZF | X86_FLAG_AF | X86_FLAG_PF | X86_FLAG_CF);
}

/* XLAT: AL = [seg:(E)BX + AL] */
void op_xlat(X86Cpu *cpu, const X86Insn *in)
{
    uint64_t off = ea_add(in, cpu->gpr[X86_RBX], (uint8_t)cpu->gpr[X86_RAX]);
    reg_write(cpu, X86_RAX, 1, mem_read(cpu, in->seg, off, 1));
}

/* LES LDS (C4 C5), LSS LFS LGS (0F B2 B4 B5): r, m16:16/32; a register operand is #UD. */
void op_lfar(X86Cpu *cpu, const X86Insn *in)
{
    if (in->mod == 3) x86_fault(cpu, X86_EXC_UD, false, 0);
    int s;
    switch (in->op) {
    case 0xC4: s = X86_ES; break;
    case 0xC5: s = X86_DS; break;
    case 0x1B2: s = X86_SS; break;
    case 0x1B4: s = X86_FS; break;
    default: s = X86_GS; break;
    }
    uint64_t ea = insn_ea(cpu, in);
    uint64_t off = mem_read(cpu, in->seg, ea, in->osz);
    uint32_t sel = mem_read(cpu, in->seg, ea_add(in, ea, in->osz), 2);
    x86_load_seg(cpu, s, (uint16_t)sel);
    reg_write(cpu, in->reg, in->osz, off);
}

void op_movzx(X86Cpu *cpu, const X86Insn *in)
{
    unsigned ssize = (in->op & 1) ? 2 : 1;
    reg_write(cpu, in->reg, in->osz, rm_read(cpu, in, ssize));
}

void op_movsx(X86Cpu *cpu, const X86Insn *in)
{
    unsigned ssize = (in->op & 1) ? 2 : 1;
    uint64_t v = rm_read(cpu, in, ssize);
    v = ssize == 1 ? (uint64_t)(int8_t)v : (uint64_t)(int16_t)v;
    reg_write(cpu, in->reg, in->osz, v);
}

/* BSWAP r32; with a 16-bit operand the result is undefined: this model clears the low
 * word, as Intel processors do. */
void op_bswap(X86Cpu *cpu, const X86Insn *in)
{
    if (in->osz == 2) {
        reg_write(cpu, in->reg, 2, 0);
        return;
    }
    if (in->osz == 8) cpu->gpr[in->reg] = __builtin_bswap64(cpu->gpr[in->reg]);
    else reg_write(cpu, in->reg, 4, __builtin_bswap32((uint32_t)cpu->gpr[in->reg]));
}

/* ENTER imm16, imm8 (SDM Vol. 2A, ENTER): nesting level mod 32. Before anything is
 * written, a write at the final stack pointer is checked: ENTER faults (#SS, #PF) when
 * such a write would, even though nothing is stored there (Vol. 2A, ENTER, "Protected
 * Mode Exceptions"; test386 POST 0x1A). */
void op_enter(X86Cpu *cpu, const X86Insn *in)
{
    unsigned size = in->osz;
    unsigned level = in->imm2 & 31;
    uint64_t m = sp_mask(cpu);
    uint64_t sp = sp_get(cpu);
    uint64_t bp = cpu->gpr[X86_RBP] & m;
    uint64_t final_sp = (sp - size * (level + 1) - (in->imm & 0xFFFF)) & m;
    x86_ram_ptr(cpu, x86_linear(cpu, X86_SS, final_sp, 1, X86_ACCESS_WRITE), 1,
                X86_ACCESS_WRITE);
    sp = (sp - size) & m;
    mem_write(cpu, X86_SS, sp, size, reg_read(cpu, X86_RBP, size));
    /* FrameTemp is ESP with a 32-bit operand size, SP with a 16-bit one: with a 16-bit
     * stack, ESP's upper half comes along (SDM Vol. 2A, ENTER; test386 POST 0x1A). */
    uint64_t frame = size == 4 ? (((uint32_t)cpu->gpr[X86_RSP] & ~m) | sp) : sp;
    if (level > 0) {
        for (unsigned i = 1; i < level; i++) {
            bp = (bp - size) & m;
            uint64_t v = mem_read(cpu, X86_SS, bp, size);
            sp = (sp - size) & m;
            mem_write(cpu, X86_SS, sp, size, v);
        }
        sp = (sp - size) & m;
        mem_write(cpu, X86_SS, sp, size, frame);
    }
    sp = (sp - (in->imm & 0xFFFF)) & m;
    reg_write(cpu, X86_RBP, size, frame);
    sp_set(cpu, sp);
}

/* LEAVE: SP = BP, then POP BP. */
void op_leave(X86Cpu *cpu, const X86Insn *in)
{
    uint64_t m = sp_mask(cpu);
    uint64_t bp = cpu->gpr[X86_RBP] & m;
    uint64_t v = mem_read(cpu, X86_SS, bp, in->osz);
    sp_set(cpu, (bp + in->osz) & m);
    reg_write(cpu, X86_RBP, in->osz, v);
}

void op_setcc(X86Cpu *cpu, const X86Insn *in)
{
    rm_write(cpu, in, 1, x86_cond(cpu, in->op & 15) ? 1 : 0);
}

/* 90: NOP (F3 90: PAUSE) */
void op_nop(X86Cpu *cpu, const X86Insn *in)
{
    (void)cpu;
    (void)in;
}

/* D6: SALC (undocumented, present on every Intel processor in legacy modes):
 * AL = CF ? FF : 00. */
void op_salc(X86Cpu *cpu, const X86Insn *in)
{
    (void)in;
    reg_write(cpu, X86_RAX, 1, get_cf(cpu) ? 0xFF : 0);
}

/* 0F 40-4F: CMOVcc r, r/m (SDM Vol. 2A, CMOVcc): the source is read (and may fault) even
 * when the condition is false. */
void op_cmovcc(X86Cpu *cpu, const X86Insn *in)
{
    uint64_t v = rm_read(cpu, in, in->osz);
    /* (a 32-bit CMOV zero-extends its destination even when the condition is false) */
    if (x86_cond(cpu, in->op & 15)) reg_write(cpu, in->reg, in->osz, v);
    else if (in->osz == 4) reg_write(cpu, in->reg, 4, cpu->gpr[in->reg]);
}
