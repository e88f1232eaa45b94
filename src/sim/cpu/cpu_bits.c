/*
 * Bit instructions: BT BTS BTR BTC (register and immediate offsets), BSF, BSR
 * (SDM Vol. 2A, BT etc.; Vol. 2A, BSF/BSR).
 */
#include "sim/cpu/cpu_internal.h"

/* kind: 0 BT, 1 BTS, 2 BTR, 3 BTC. CF = the selected bit; OF SF AF PF undefined (left
 * unchanged here), ZF unchanged. */
static void bit_op(X86Cpu *cpu, const X86Insn *in, unsigned kind, int64_t offset, bool reg_offset)
{
    unsigned size = in->osz, w = size * 8;
    uint32_t bit;
    uint64_t v, nv, one = 1;
    if (in->mod == 3) {
        bit = (uint32_t)offset & (w - 1);
        v = reg_read(cpu, in->rm, size);
    } else {
        uint64_t ea = insn_ea(cpu, in);
        if (reg_offset) {
            /* a register bit offset addresses memory beyond the operand (signed) */
            int64_t words = offset >> (w == 16 ? 4 : w == 32 ? 5 : 6);
            ea = ea_add(in, ea, (uint64_t)(words * (int64_t)size));
        }
        bit = (uint32_t)offset & (w - 1);
        uint64_t lin = x86_linear(cpu, in->seg, ea, size, kind ? X86_ACCESS_WRITE : X86_ACCESS_READ);
        v = lin_read(cpu, lin, size);
        nv = kind == 1 ? v | (one << bit) : kind == 2 ? v & ~(one << bit) : v ^ (one << bit);
        if (kind) lin_write(cpu, lin, size, nv);
        goto flags;
    }
    nv = kind == 1 ? v | (one << bit) : kind == 2 ? v & ~(one << bit) : v ^ (one << bit);
    if (kind) reg_write(cpu, in->rm, size, nv);
flags:
    flags_set_arith(cpu, (v >> bit) & 1 ? X86_FLAG_CF : 0, X86_FLAG_CF);
}

/* 0F A3 BT, AB BTS, B3 BTR, BB BTC: r/m, r */
void op_bt(X86Cpu *cpu, const X86Insn *in)
{
    unsigned kind = in->op == 0x1A3 ? 0 : in->op == 0x1AB ? 1 : in->op == 0x1B3 ? 2 : 3;
    uint64_t r = reg_read(cpu, in->reg, in->osz);
    int64_t off = in->osz == 2 ? (int16_t)r : in->osz == 4 ? (int32_t)r : (int64_t)r;
    bit_op(cpu, in, kind, off, true);
}

/* 0F BA /4../7: BT BTS BTR BTC r/m, imm8; /0../3 are #UD. */
void op_bt_imm(X86Cpu *cpu, const X86Insn *in)
{
    if (in->reg < 4) x86_fault(cpu, X86_EXC_UD, false, 0);
    bit_op(cpu, in, in->reg - 4, (int64_t)(in->imm & 0xFF), false);
}

/* BSF/BSR: source 0 sets ZF and leaves the destination unchanged; otherwise ZF = 0 and
 * the index of the lowest/highest set bit. CF OF SF AF PF undefined (unchanged here). */
void op_bsf(X86Cpu *cpu, const X86Insn *in)
{
    uint64_t v = rm_read(cpu, in, in->osz);
    if (v == 0) {
        flags_set_arith(cpu, X86_FLAG_ZF, X86_FLAG_ZF);
        return;
    }
    reg_write(cpu, in->reg, in->osz, (uint64_t)__builtin_ctzll(v));
    flags_set_arith(cpu, 0, X86_FLAG_ZF);
}

void op_bsr(X86Cpu *cpu, const X86Insn *in)
{
    uint64_t v = rm_read(cpu, in, in->osz);
    if (v == 0) {
        flags_set_arith(cpu, X86_FLAG_ZF, X86_FLAG_ZF);
        return;
    }
    reg_write(cpu, in->reg, in->osz, 63u - (uint64_t)__builtin_clzll(v));
    flags_set_arith(cpu, 0, X86_FLAG_ZF);
}
