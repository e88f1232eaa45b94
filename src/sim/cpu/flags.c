/*
 * Lazy arithmetic flags: the ALU records the last operation's kind, size, operands and
 * result; the flags are computed only when something reads them (SDM Vol. 1, 3.4.3 and
 * Appendix A for which instruction sets which flag).
 */
#include "sim/cpu/cpu_internal.h"

#define P2(n) n, n ^ 1, n ^ 1, n
#define P4(n) P2(n), P2(n ^ 1), P2(n ^ 1), P2(n)
#define P6(n) P4(n), P4(n ^ 1), P4(n ^ 1), P4(n)
/* PF: 1 when the low byte of the result has an even number of set bits. */
const uint8_t x86_parity[256] = { P6(1), P6(0), P6(0), P6(1) };

/* Carry/overflow/adjust of an addition a + b (+ carry) = r, and of a subtraction
 * a - b (- borrow) = r, from the operand and result bits alone (valid with carry-in). */
uint32_t x86_lazy_arith(const X86Cpu *cpu)
{
    unsigned size = cpu->lf_size;
    uint32_t m = size_mask(size), top = m ^ (m >> 1);
    uint32_t a = cpu->lf_src1, b = cpu->lf_src2, r = cpu->lf_res & m;
    uint32_t f = szp_flags(r, size);
    switch (cpu->lf_op) {
    case LF_ADD:
        if (((a & b) | ((a | b) & ~r)) & top) f |= X86_FLAG_CF;
        if ((a ^ r) & (b ^ r) & top) f |= X86_FLAG_OF;
        f |= (a ^ b ^ r) & X86_FLAG_AF;
        break;
    case LF_SUB:
        if (((~a & b) | (~(a ^ b) & r)) & top) f |= X86_FLAG_CF;
        if ((a ^ b) & (a ^ r) & top) f |= X86_FLAG_OF;
        f |= (a ^ b ^ r) & X86_FLAG_AF;
        break;
    case LF_INC: /* CF unchanged (SDM INC) */
        f |= cpu->flags & X86_FLAG_CF;
        if ((a ^ r) & (b ^ r) & top) f |= X86_FLAG_OF;
        f |= (a ^ b ^ r) & X86_FLAG_AF;
        break;
    case LF_DEC:
        f |= cpu->flags & X86_FLAG_CF;
        if ((a ^ b) & (a ^ r) & top) f |= X86_FLAG_OF;
        f |= (a ^ b ^ r) & X86_FLAG_AF;
        break;
    default: /* LF_LOGIC: CF = OF = 0; AF undefined, 0 here as on Intel hardware */
        break;
    }
    return f;
}

/* SDM Vol. 1, Appendix B (EFLAGS condition codes). */
bool x86_cond(X86Cpu *cpu, unsigned cc)
{
    bool r;
    if (cpu->lf_op != LF_NONE && (cc >> 1) == 2) {
        r = (cpu->lf_res & size_mask(cpu->lf_size)) == 0;
        return r ^ (cc & 1);
    }
    uint32_t f = flags_get(cpu);
    switch (cc >> 1) {
    case 0: r = f & X86_FLAG_OF; break;
    case 1: r = f & X86_FLAG_CF; break;
    case 2: r = f & X86_FLAG_ZF; break;
    case 3: r = f & (X86_FLAG_CF | X86_FLAG_ZF); break;
    case 4: r = f & X86_FLAG_SF; break;
    case 5: r = f & X86_FLAG_PF; break;
    case 6: r = !(f & X86_FLAG_SF) != !(f & X86_FLAG_OF); break;
    default: r = (f & X86_FLAG_ZF) || (!(f & X86_FLAG_SF) != !(f & X86_FLAG_OF)); break;
    }
    return r ^ (cc & 1);
}

uint64_t x86_cpu_get_rflags(X86Cpu *cpu)
{
    return flags_get(cpu);
}

/* Reserved bits: bit 1 is 1; bits 3, 5, 15 and 22-63 are 0 (SDM Vol. 1, 3.4.3). */
void x86_cpu_set_rflags(X86Cpu *cpu, uint64_t rflags)
{
    cpu->lf_op = LF_NONE;
    cpu->flags = ((uint32_t)rflags & 0x3F7FD5u) | X86_FLAG_FIXED;
}
