/*
 * Specialised handlers, chosen at decode time by x86_specialize(): in each, the operation,
 * the operand size (0x66 and CS.D resolved by the decoder) and whether the r/m operand is
 * a register or memory are constants, so the common forms run without the generic
 * handlers' dispatch on opcode, size and ModR/M. The semantics are the generic handlers'
 * (cpu_alu.c, cpu_move.c, cpu_control.c); tests/unit/test_cpu_diff.c runs random code
 * both ways (cpu->slow_path decodes without specialisation) and compares.
 */
#include "sim/cpu/cpu_internal.h"

#define AI static inline __attribute__((always_inline))

/* ALU op (0-7) on SZ bytes: register-register (dest in rm), memory destination, register
 * destination from memory, register and memory with an immediate. */
#define DEF_ALU(OP, SZ)                                                                   \
    static void alu_rr_##OP##_##SZ(X86Cpu *cpu, const X86Insn *in)                      \
    {                                                                                    \
        uint32_t r = alu_inline(cpu, OP, SZ, reg_read(cpu, in->rm, SZ),                  \
                                reg_read(cpu, in->reg, SZ));                             \
        if (OP != 7) reg_write(cpu, in->rm, SZ, r);                                      \
    }                                                                                    \
    static void alu_mr_##OP##_##SZ(X86Cpu *cpu, const X86Insn *in)                      \
    {                                                                                    \
        alu_mem_inline(cpu, in, OP, SZ, reg_read(cpu, in->reg, SZ));                     \
    }                                                                                    \
    static void alu_rm_##OP##_##SZ(X86Cpu *cpu, const X86Insn *in)                      \
    {                                                                                    \
        uint32_t b = mem_read(cpu, in->seg, insn_ea(cpu, in), SZ);                       \
        uint32_t r = alu_inline(cpu, OP, SZ, reg_read(cpu, in->reg, SZ), b);             \
        if (OP != 7) reg_write(cpu, in->reg, SZ, r);                                     \
    }                                                                                    \
    static void alu_ri_##OP##_##SZ(X86Cpu *cpu, const X86Insn *in)                      \
    {                                                                                    \
        uint32_t r = alu_inline(cpu, OP, SZ, reg_read(cpu, in->rm, SZ),                  \
                                in->imm & size_mask(SZ));                                \
        if (OP != 7) reg_write(cpu, in->rm, SZ, r);                                      \
    }                                                                                    \
    static void alu_mi_##OP##_##SZ(X86Cpu *cpu, const X86Insn *in)                      \
    {                                                                                    \
        alu_mem_inline(cpu, in, OP, SZ, in->imm & size_mask(SZ));                        \
    }
#define DEF_ALU_SIZES(OP) DEF_ALU(OP, 1) DEF_ALU(OP, 2) DEF_ALU(OP, 4)
DEF_ALU_SIZES(0) DEF_ALU_SIZES(1) DEF_ALU_SIZES(2) DEF_ALU_SIZES(3)
DEF_ALU_SIZES(4) DEF_ALU_SIZES(5) DEF_ALU_SIZES(6) DEF_ALU_SIZES(7)

/* Tables [op][size index: 0 byte, 1 word, 2 dword]. */
#define ALU_ROW(form, OP) { form##_##OP##_1, form##_##OP##_2, form##_##OP##_4 }
#define ALU_TABLE(form)                                                                  \
    static const X86Handler form##_tab[8][3] = {                                         \
        ALU_ROW(form, 0), ALU_ROW(form, 1), ALU_ROW(form, 2), ALU_ROW(form, 3),          \
        ALU_ROW(form, 4), ALU_ROW(form, 5), ALU_ROW(form, 6), ALU_ROW(form, 7),          \
    };
ALU_TABLE(alu_rr) ALU_TABLE(alu_mr) ALU_TABLE(alu_rm) ALU_TABLE(alu_ri) ALU_TABLE(alu_mi)

/* TEST r/m, r and r/m, imm (register forms), INC/DEC r (40-4F) and the MOV forms. */
#define DEF_SIZED(SZ)                                                                    \
    static void test_rr_##SZ(X86Cpu *cpu, const X86Insn *in)                            \
    {                                                                                    \
        lazy_set_logic(cpu, SZ, reg_read(cpu, in->rm, SZ) & reg_read(cpu, in->reg, SZ)); \
    }                                                                                    \
    static void test_ri_##SZ(X86Cpu *cpu, const X86Insn *in)                            \
    {                                                                                    \
        lazy_set_logic(cpu, SZ, reg_read(cpu, in->rm, SZ) & in->imm);                    \
    }                                                                                    \
    static void inc_r_##SZ(X86Cpu *cpu, const X86Insn *in)                              \
    {                                                                                    \
        uint32_t a = reg_read(cpu, in->reg, SZ), r = (a + 1) & size_mask(SZ);            \
        keep_cf(cpu);                                                                    \
        lazy_set(cpu, LF_INC, SZ, a, 1, r);                                              \
        reg_write(cpu, in->reg, SZ, r);                                                  \
    }                                                                                    \
    static void dec_r_##SZ(X86Cpu *cpu, const X86Insn *in)                              \
    {                                                                                    \
        uint32_t a = reg_read(cpu, in->reg, SZ), r = (a - 1) & size_mask(SZ);            \
        keep_cf(cpu);                                                                    \
        lazy_set(cpu, LF_DEC, SZ, a, 1, r);                                              \
        reg_write(cpu, in->reg, SZ, r);                                                  \
    }                                                                                    \
    static void mov_rr_##SZ(X86Cpu *cpu, const X86Insn *in)                             \
    {                                                                                    \
        reg_write(cpu, in->rm, SZ, reg_read(cpu, in->reg, SZ));                          \
    }                                                                                    \
    static void mov_mr_##SZ(X86Cpu *cpu, const X86Insn *in)                             \
    {                                                                                    \
        mem_write(cpu, in->seg, insn_ea(cpu, in), SZ, reg_read(cpu, in->reg, SZ));       \
    }                                                                                    \
    static void mov_rm_##SZ(X86Cpu *cpu, const X86Insn *in)                             \
    {                                                                                    \
        reg_write(cpu, in->reg, SZ, mem_read(cpu, in->seg, insn_ea(cpu, in), SZ));       \
    }                                                                                    \
    static void mov_ri_##SZ(X86Cpu *cpu, const X86Insn *in)                             \
    {                                                                                    \
        reg_write(cpu, in->reg, SZ, in->imm);                                            \
    }                                                                                    \
    static void mov_mi_##SZ(X86Cpu *cpu, const X86Insn *in)                             \
    {                                                                                    \
        mem_write(cpu, in->seg, insn_ea(cpu, in), SZ, in->imm & size_mask(SZ));          \
    }
DEF_SIZED(1) DEF_SIZED(2) DEF_SIZED(4)
#define SIZED_TABLE(name) static const X86Handler name##_tab[3] = { name##_1, name##_2, name##_4 };
SIZED_TABLE(test_rr) SIZED_TABLE(test_ri) SIZED_TABLE(inc_r) SIZED_TABLE(dec_r) SIZED_TABLE(mov_rr)
SIZED_TABLE(mov_mr) SIZED_TABLE(mov_rm) SIZED_TABLE(mov_ri) SIZED_TABLE(mov_mi)

/* SHL (4), SHR (5), SAR (7) of a register by an immediate count (C0/C1, and D0/D1 with
 * the count 1 put in imm) or by CL (D2/D3). */
AI void shift_reg(X86Cpu *cpu, const X86Insn *in, unsigned op, unsigned size, unsigned count)
{
    count &= 0x1F;
    if (count == 0) return;
    uint32_t cfof;
    uint32_t r = shift_value(op, size, reg_read(cpu, in->rm, size), count, &cfof);
    reg_write(cpu, in->rm, size, r);
    lazy_set_cfof(cpu, size, r, cfof);
}
#define DEF_SHIFT(OP, SZ)                                                                \
    static void shift_ri_##OP##_##SZ(X86Cpu *cpu, const X86Insn *in)                    \
    {                                                                                    \
        shift_reg(cpu, in, OP, SZ, in->imm);                                             \
    }                                                                                    \
    static void shift_rc_##OP##_##SZ(X86Cpu *cpu, const X86Insn *in)                    \
    {                                                                                    \
        shift_reg(cpu, in, OP, SZ, (uint8_t)cpu->gpr[X86_RCX]);                          \
    }
#define DEF_SHIFT_SIZES(OP) DEF_SHIFT(OP, 1) DEF_SHIFT(OP, 2) DEF_SHIFT(OP, 4)
DEF_SHIFT_SIZES(4) DEF_SHIFT_SIZES(5) DEF_SHIFT_SIZES(7)
#define SHIFT_ROW(form, OP) { form##_##OP##_1, form##_##OP##_2, form##_##OP##_4 }
/* [op - 4][size index]; SAL (6) is SHL */
static const X86Handler shift_ri_tab[4][3] = {
    SHIFT_ROW(shift_ri, 4), SHIFT_ROW(shift_ri, 5), SHIFT_ROW(shift_ri, 4), SHIFT_ROW(shift_ri, 7),
};
static const X86Handler shift_rc_tab[4][3] = {
    SHIFT_ROW(shift_rc, 4), SHIFT_ROW(shift_rc, 5), SHIFT_ROW(shift_rc, 4), SHIFT_ROW(shift_rc, 7),
};

/* ROL (0) and ROR (1) of a register by an immediate count (C0/C1, D0/D1 with imm = 1):
 * rotates set only CF and OF, so the other flags are made concrete first. The results
 * and flags are those of rotate_value (cpu_alu.c). */
#define DEF_ROT(OP, SZ)                                                                  \
    static void rot_ri_##OP##_##SZ(X86Cpu *cpu, const X86Insn *in)                      \
    {                                                                                    \
        unsigned count = in->imm & 0x1F, w = SZ * 8, c = count % w;                      \
        if (!count) return;                                                              \
        uint32_t a = reg_read(cpu, in->rm, SZ), m = size_mask(SZ), top = size_top(SZ);   \
        uint32_t r, cf, of;                                                              \
        if (OP == 0) {                                                                   \
            r = c ? ((a << c) | (a >> (w - c))) & m : a;                                 \
            cf = r & 1;                                                                  \
            of = ((r & top) != 0) ^ cf;                                                  \
        } else {                                                                         \
            r = c ? ((a >> c) | (a << (w - c))) & m : a;                                 \
            cf = (r & top) != 0;                                                         \
            of = cf ^ ((r & (top >> 1)) != 0);                                           \
        }                                                                                \
        reg_write(cpu, in->rm, SZ, r);                                                   \
        uint32_t f = flags_get(cpu) & ~(X86_FLAG_CF | X86_FLAG_OF);                      \
        cpu->flags = f | (cf ? X86_FLAG_CF : 0) | (of ? X86_FLAG_OF : 0);                \
    }
DEF_ROT(0, 1) DEF_ROT(0, 2) DEF_ROT(0, 4) DEF_ROT(1, 1) DEF_ROT(1, 2) DEF_ROT(1, 4)
static const X86Handler rot_ri_tab[2][3] = {
    { rot_ri_0_1, rot_ri_0_2, rot_ri_0_4 }, { rot_ri_1_1, rot_ri_1_2, rot_ri_1_4 },
};

/* PUSH r, POP r, CALL rel, RET (C3) with a constant operand size. The stack size (SS.B)
 * stays a run-time test: SS can change inside a block (LSS). */
AI void near_jump(X86Cpu *cpu, uint32_t target, unsigned osz)
{
    if (osz == 2) target &= 0xFFFF;
    if (UNLIKELY(target > cpu->cs.limit)) x86_fault(cpu, X86_EXC_GP, true, 0);
    cpu->next_rip = target;
}
#define DEF_STACK(SZ)                                                                    \
    static void push_r_##SZ(X86Cpu *cpu, const X86Insn *in)                             \
    {                                                                                    \
        push(cpu, SZ, reg_read(cpu, in->reg, SZ));                                       \
    }                                                                                    \
    static void pop_r_##SZ(X86Cpu *cpu, const X86Insn *in)                              \
    {                                                                                    \
        uint32_t v = pop(cpu, SZ);                                                       \
        reg_write(cpu, in->reg, SZ, v);                                                  \
    }                                                                                    \
    static void call_rel_##SZ(X86Cpu *cpu, const X86Insn *in)                           \
    {                                                                                    \
        uint32_t ret = (uint32_t)cpu->next_rip;                                          \
        near_jump(cpu, ret + in->imm, SZ);                                               \
        push(cpu, SZ, ret);                                                              \
    }                                                                                    \
    static void ret_##SZ(X86Cpu *cpu, const X86Insn *in)                                \
    {                                                                                    \
        (void)in;                                                                        \
        uint32_t sp = sp_get(cpu);                                                       \
        near_jump(cpu, mem_read(cpu, X86_SS, sp, SZ), SZ);                               \
        sp_set(cpu, (sp + SZ) & sp_mask(cpu));                                           \
    }                                                                                    \
    static void jmp_rel_##SZ(X86Cpu *cpu, const X86Insn *in)                            \
    {                                                                                    \
        near_jump(cpu, (uint32_t)cpu->next_rip + in->imm, SZ);                           \
    }
DEF_STACK(2) DEF_STACK(4)
static const X86Handler push_r_tab[2] = { push_r_2, push_r_4 };
static const X86Handler pop_r_tab[2] = { pop_r_2, pop_r_4 };
static const X86Handler call_rel_tab[2] = { call_rel_2, call_rel_4 };
static const X86Handler ret_tab[2] = { ret_2, ret_4 };
static const X86Handler jmp_rel_tab[2] = { jmp_rel_2, jmp_rel_4 };

static inline void swap_reg_rm(X86Insn *in)
{
    uint8_t t = in->reg;
    in->reg = in->rm;
    in->rm = t;
}

void x86_specialize(X86Insn *in)
{
    if (in->prefix & PFX_LOCK) return;    /* LOCK forms stay generic (or #UD) */
    const X86OpInfo *info = x86_opinfo(in->op);
    unsigned sz = x86_op_width(in) == 1 ? 0 : in->osz == 4 ? 2 : 1;   /* size index */
    unsigned wsz = in->osz == 4 ? 2 : 1;  /* size index of the word forms */
    bool reg = in->mod == 3;
    switch (info->cls) {
    case OC_ALU_EG:
        in->fn = reg ? alu_rr_tab[info->carg][sz] : alu_mr_tab[info->carg][sz];
        return;
    case OC_ALU_GE:
        if (reg) {                        /* = r/m, r with the registers swapped */
            swap_reg_rm(in);
            in->fn = alu_rr_tab[info->carg][sz];
        } else {
            in->fn = alu_rm_tab[info->carg][sz];
        }
        return;
    case OC_ALU_AI:
        in->rm = X86_RAX;
        in->fn = alu_ri_tab[info->carg][sz];
        return;
    case OC_TEST_AI:
        in->rm = X86_RAX;
        in->fn = test_ri_tab[sz];
        return;
    case OC_GRP3:
        if (reg && in->reg < 2) in->fn = test_ri_tab[sz];
        return;
    case OC_GRP1:
        in->fn = reg ? alu_ri_tab[in->reg][sz] : alu_mi_tab[in->reg][sz];
        return;
    case OC_TEST_EG:
        if (reg) in->fn = test_rr_tab[sz];
        return;
    case OC_MOV_EG:
        in->fn = reg ? mov_rr_tab[sz] : mov_mr_tab[sz];
        return;
    case OC_MOV_GE:
        if (reg) {
            swap_reg_rm(in);
            in->fn = mov_rr_tab[sz];
        } else {
            in->fn = mov_rm_tab[sz];
        }
        return;
    case OC_MOV_EI:
        if (in->reg == 0 && !reg) in->fn = mov_mi_tab[sz];
        else if (in->reg == 0) { in->reg = in->rm; in->fn = mov_ri_tab[sz]; }
        return;
    case OC_SHIFT:
        if (!reg || in->reg == 2 || in->reg == 3) return;  /* memory forms, RCL, RCR */
        if (in->reg < 2) {
            if (info->carg == 2) return;  /* by CL */
            if (info->carg == 1) in->imm = 1;
            in->fn = rot_ri_tab[in->reg][sz];
            return;
        }
        if (info->carg == 2) {
            in->fn = shift_rc_tab[in->reg - 4][sz];
        } else {
            if (info->carg == 1) in->imm = 1;
            in->fn = shift_ri_tab[in->reg - 4][sz];
        }
        return;
    case OC_INC_Z: in->fn = inc_r_tab[wsz]; return;
    case OC_DEC_Z: in->fn = dec_r_tab[wsz]; return;
    case OC_MOV_ZI: in->fn = mov_ri_tab[sz]; return;
    case OC_PUSH_Z: in->fn = push_r_tab[wsz - 1]; return;
    case OC_POP_Z: in->fn = pop_r_tab[wsz - 1]; return;
    case OC_CALL_REL: in->fn = call_rel_tab[wsz - 1]; return;
    case OC_RET: in->fn = ret_tab[wsz - 1]; return;
    case OC_JMP_REL: in->fn = jmp_rel_tab[wsz - 1]; return;
    case OC_JCC: in->fn = x86_jcc_handlers[info->carg]; return;
    default: return;
    }
}
