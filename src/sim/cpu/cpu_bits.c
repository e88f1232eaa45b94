/*
 * Bit instructions: BT BTS BTR BTC (register and immediate offsets), BSF, BSR
 * (SDM Vol. 2A, BT etc.; Vol. 2A, BSF/BSR).
 */
#include "sim/cpu/cpu_internal.h"

/* kind: 0 BT, 1 BTS, 2 BTR, 3 BTC. CF = the selected bit; OF SF AF PF undefined (left
 * unchanged here), ZF unchanged. */
static void bit_op(X86Cpu *cpu, const X86Insn *in, unsigned kind, int32_t offset, bool reg_offset)
{
    unsigned size = in->osz, w = size * 8;
    uint32_t bit, v, nv;
    if (in->mod == 3) {
        bit = (uint32_t)offset & (w - 1);
        v = reg_read(cpu, in->rm, size);
    } else {
        uint32_t ea = insn_ea(cpu, in);
        if (reg_offset) {
            /* a register bit offset addresses memory beyond the operand (signed) */
            int32_t words = offset >> (w == 16 ? 4 : 5);
            ea += (uint32_t)(words * (int32_t)size);
            if (in->asz == 2) ea &= 0xFFFF;
        }
        bit = (uint32_t)offset & (w - 1);
        uint64_t lin = x86_linear(cpu, in->seg, ea, size, kind ? X86_ACCESS_WRITE : X86_ACCESS_READ);
        v = lin_read(cpu, lin, size);
        nv = kind == 1 ? v | (1u << bit) : kind == 2 ? v & ~(1u << bit) : v ^ (1u << bit);
        if (kind) lin_write(cpu, lin, size, nv);
        goto flags;
    }
    nv = kind == 1 ? v | (1u << bit) : kind == 2 ? v & ~(1u << bit) : v ^ (1u << bit);
    if (kind) reg_write(cpu, in->rm, size, nv);
flags:
    flags_set_arith(cpu, (v >> bit) & 1 ? X86_FLAG_CF : 0, X86_FLAG_CF);
}

/* 0F A3 BT, AB BTS, B3 BTR, BB BTC: r/m, r */
void op_bt(X86Cpu *cpu, const X86Insn *in)
{
    unsigned kind = in->op == 0x1A3 ? 0 : in->op == 0x1AB ? 1 : in->op == 0x1B3 ? 2 : 3;
    uint32_t r = reg_read(cpu, in->reg, in->osz);
    int32_t off = in->osz == 2 ? (int16_t)r : (int32_t)r;
    bit_op(cpu, in, kind, off, true);
}

/* 0F BA /4../7: BT BTS BTR BTC r/m, imm8; /0../3 are #UD. */
void op_bt_imm(X86Cpu *cpu, const X86Insn *in)
{
    if (in->reg < 4) x86_fault(cpu, X86_EXC_UD, false, 0);
    bit_op(cpu, in, in->reg - 4, (int32_t)(in->imm & 0xFF), false);
}

/* BSF/BSR: source 0 sets ZF and leaves the destination unchanged; otherwise ZF = 0 and
 * the index of the lowest/highest set bit. CF OF SF AF PF undefined (unchanged here). */
void op_bsf(X86Cpu *cpu, const X86Insn *in)
{
    uint32_t v = rm_read(cpu, in, in->osz);
    if (v == 0) {
        flags_set_arith(cpu, X86_FLAG_ZF, X86_FLAG_ZF);
        return;
    }
    reg_write(cpu, in->reg, in->osz, (uint32_t)__builtin_ctz(v));
    flags_set_arith(cpu, 0, X86_FLAG_ZF);
}

void op_bsr(X86Cpu *cpu, const X86Insn *in)
{
    uint32_t v = rm_read(cpu, in, in->osz);
    if (v == 0) {
        flags_set_arith(cpu, X86_FLAG_ZF, X86_FLAG_ZF);
        return;
    }
    reg_write(cpu, in->reg, in->osz, 31u - (uint32_t)__builtin_clz(v));
    flags_set_arith(cpu, 0, X86_FLAG_ZF);
}
