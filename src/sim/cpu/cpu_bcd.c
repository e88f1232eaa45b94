/*
 * Decimal arithmetic: DAA DAS AAA AAS AAM AAD (SDM Vol. 2A, each instruction's
 * "Operation"). Flags the SDM calls undefined are chosen as the comments say.
 */
#include "sim/cpu/cpu_internal.h"

static inline uint8_t al_get(const X86Cpu *cpu) { return (uint8_t)cpu->gpr[X86_RAX]; }

/* DAA; OF undefined: set as for the addition of the correction (0 here). */
void op_daa(X86Cpu *cpu, const X86Insn *in)
{
    (void)in;
    uint32_t f = flags_get(cpu);
    uint8_t al = al_get(cpu), old_al = al;
    bool old_cf = f & X86_FLAG_CF, cf = false, af = false;
    if ((al & 0xF) > 9 || (f & X86_FLAG_AF)) {
        cf = old_cf || al > 0xF9;
        al = (uint8_t)(al + 6);
        af = true;
    }
    if (old_al > 0x99 || old_cf) {
        al = (uint8_t)(al + 0x60);
        cf = true;
    }
    reg_write(cpu, X86_RAX, 1, al);
    cpu->flags = (f & ~X86_FLAGS_ARITH) | szp_flags(al, 1) | (cf ? X86_FLAG_CF : 0) |
                 (af ? X86_FLAG_AF : 0);
}

void op_das(X86Cpu *cpu, const X86Insn *in)
{
    (void)in;
    uint32_t f = flags_get(cpu);
    uint8_t al = al_get(cpu), old_al = al;
    bool old_cf = f & X86_FLAG_CF, cf = false, af = false;
    if ((al & 0xF) > 9 || (f & X86_FLAG_AF)) {
        cf = old_cf || al < 6;
        al = (uint8_t)(al - 6);
        af = true;
    }
    if (old_al > 0x99 || old_cf) {
        al = (uint8_t)(al - 0x60);
        cf = true;
    }
    reg_write(cpu, X86_RAX, 1, al);
    cpu->flags = (f & ~X86_FLAGS_ARITH) | szp_flags(al, 1) | (cf ? X86_FLAG_CF : 0) |
                 (af ? X86_FLAG_AF : 0);
}

/* AAA: AX += 106h when adjusting; OF SF ZF PF undefined: SZP of the resulting AL. */
void op_aaa(X86Cpu *cpu, const X86Insn *in)
{
    (void)in;
    uint32_t f = flags_get(cpu);
    uint32_t ax = (uint16_t)cpu->gpr[X86_RAX];
    bool adj = (ax & 0xF) > 9 || (f & X86_FLAG_AF);
    if (adj) ax += 0x106;
    ax &= 0xFF0F;
    reg_write(cpu, X86_RAX, 2, ax);
    cpu->flags = (f & ~X86_FLAGS_ARITH) | szp_flags(ax & 0xFF, 1) |
                 (adj ? X86_FLAG_AF | X86_FLAG_CF : 0);
}

/* AAS: AX -= 6 and AH -= 1 when adjusting. */
void op_aas(X86Cpu *cpu, const X86Insn *in)
{
    (void)in;
    uint32_t f = flags_get(cpu);
    uint32_t ax = (uint16_t)cpu->gpr[X86_RAX];
    bool adj = (ax & 0xF) > 9 || (f & X86_FLAG_AF);
    if (adj) {
        ax -= 6;
        ax = (ax & 0xFF) | ((((ax >> 8) - 1) & 0xFF) << 8);
    }
    ax &= 0xFF0F;
    reg_write(cpu, X86_RAX, 2, ax);
    cpu->flags = (f & ~X86_FLAGS_ARITH) | szp_flags(ax & 0xFF, 1) |
                 (adj ? X86_FLAG_AF | X86_FLAG_CF : 0);
}

/* AAM imm8: imm 0 is #DE; OF AF CF undefined: 0. */
void op_aam(X86Cpu *cpu, const X86Insn *in)
{
    uint8_t base = (uint8_t)in->imm;
    if (base == 0) x86_fault(cpu, X86_EXC_DE, false, 0);
    uint8_t al = al_get(cpu);
    uint32_t ax = ((uint32_t)(al / base) << 8) | (al % base);
    reg_write(cpu, X86_RAX, 2, ax);
    cpu->flags = (flags_get(cpu) & ~X86_FLAGS_ARITH) | szp_flags(ax & 0xFF, 1);
}

/* AAD imm8: AL = AL + AH * imm, AH = 0; OF AF CF undefined: as the flags of that byte
 * addition. */
void op_aad(X86Cpu *cpu, const X86Insn *in)
{
    uint8_t base = (uint8_t)in->imm;
    uint32_t ax = (uint16_t)cpu->gpr[X86_RAX];
    uint32_t a = ax & 0xFF, b = ((ax >> 8) * base) & 0xFF;
    uint32_t al = (a + b) & 0xFF;
    reg_write(cpu, X86_RAX, 2, al);
    lazy_set(cpu, LF_ADD, 1, a, b, al);
}
