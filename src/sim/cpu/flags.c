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

/* All six arithmetic flags of the lazy state: SZP from the result, CF OF AF by kind
 * (carry/overflow/adjust of a + b (+ carry) = r and a - b (- borrow) = r come from the
 * operand and result bits alone, valid with a carry-in). */
uint32_t x86_lazy_arith(const X86Cpu *cpu)
{
    if (cpu->lf_op == LF_HOST) return (uint32_t)cpu->host_rflags & X86_FLAGS_ARITH;
    uint64_t top = size_top(cpu->lf_size);
    uint64_t a = cpu->lf_src1, b = cpu->lf_src2, r = cpu->lf_res;
    uint32_t f = (r == 0 ? X86_FLAG_ZF : 0) | ((r & top) ? X86_FLAG_SF : 0) |
                 (x86_parity[r & 0xFF] ? X86_FLAG_PF : 0);
    switch (cpu->lf_op) {
    case LF_ADD: case LF_SUB: case LF_ADC: case LF_SBB: case LF_INC: case LF_DEC:
        f |= lazy_cf(cpu) | lazy_of(cpu) | ((uint32_t)(a ^ b ^ r) & X86_FLAG_AF);
        break;
    case LF_CFOF: /* shifts, MUL/IMUL: AF undefined, 0 here */
        f |= (uint32_t)b & (X86_FLAG_CF | X86_FLAG_OF);
        break;
    default: /* LF_LOGIC: CF = OF = 0; AF undefined, 0 here as on Intel hardware */
        break;
    }
    return f;
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
    x86_update_mode(cpu);   /* VM */
}
