/*
 * Integer arithmetic: ADD OR ADC SBB AND SUB XOR CMP, TEST, INC DEC NEG NOT, MUL IMUL DIV
 * IDIV, shifts and rotates, SHLD/SHRD, XADD, CMPXCHG (SDM Vol. 2, each instruction's
 * "Operation" and "Flags Affected").
 */
#include "sim/cpu/cpu_internal.h"

uint64_t x86_alu(X86Cpu *cpu, unsigned op, unsigned size, uint64_t a, uint64_t b)
{
    switch (size) {
    case 1: return alu_inline(cpu, op, 1, a, b);
    case 2: return alu_inline(cpu, op, 2, a, b);
    case 4: return alu_inline(cpu, op, 4, a, b);
    default: return alu_inline(cpu, op, 8, a, b);
    }
}

/* A memory destination op= b (alu_mem_inline), the size made a constant for alu_value. */
static void alu_mem(X86Cpu *cpu, const X86Insn *in, unsigned op, unsigned size, uint64_t b)
{
    switch (size) {
    case 1: alu_mem_inline(cpu, in, op, 1, b); break;
    case 2: alu_mem_inline(cpu, in, op, 2, b); break;
    case 4: alu_mem_inline(cpu, in, op, 4, b); break;
    default: alu_mem_inline(cpu, in, op, 8, b); break;
    }
}

static inline unsigned opsize_of(const X86Insn *in) { return (in->op & 1) ? in->osz : 1; }

/* r/m op= r (00 01 08 09 ...) */
void op_alu_rm_r(X86Cpu *cpu, const X86Insn *in)
{
    unsigned size = opsize_of(in), op = (in->op >> 3) & 7;
    uint64_t b = reg_read(cpu, in->reg, size);
    if (in->mod == 3) {
        uint64_t r = x86_alu(cpu, op, size, reg_read(cpu, in->rm, size), b);
        if (op != 7) reg_write(cpu, in->rm, size, r);
        return;
    }
    alu_mem(cpu, in, op, size, b);
}

/* r op= r/m (02 03 0A 0B ...) */
void op_alu_r_rm(X86Cpu *cpu, const X86Insn *in)
{
    unsigned size = (in->op & 1) ? in->osz : 1, op = (in->op >> 3) & 7;
    uint64_t b = rm_read(cpu, in, size);
    uint64_t r = x86_alu(cpu, op, size, reg_read(cpu, in->reg, size), b);
    if (op != 7) reg_write(cpu, in->reg, size, r);
}

void op_alu_acc_imm(X86Cpu *cpu, const X86Insn *in)
{
    unsigned size = (in->op & 1) ? in->osz : 1, op = (in->op >> 3) & 7;
    uint64_t r = x86_alu(cpu, op, size, reg_read(cpu, X86_RAX, size), in->imm & size_mask(size));
    if (op != 7) reg_write(cpu, X86_RAX, size, r);
}

/* Group 1: 80 81 82 83 /op r/m, imm (83: imm8 sign-extended, already by the decoder). */
void op_grp1(X86Cpu *cpu, const X86Insn *in)
{
    unsigned size = (in->op == 0x80 || in->op == 0x82) ? 1 : in->osz, op = in->reg;
    uint64_t b = in->imm & size_mask(size);
    if (in->mod == 3) {
        uint64_t r = x86_alu(cpu, op, size, reg_read(cpu, in->rm, size), b);
        if (op != 7) reg_write(cpu, in->rm, size, r);
        return;
    }
    alu_mem(cpu, in, op, size, b);
}

void op_test_rm_r(X86Cpu *cpu, const X86Insn *in)
{
    unsigned size = opsize_of(in);
    x86_alu(cpu, 4, size, rm_read(cpu, in, size), reg_read(cpu, in->reg, size));
}

void op_test_acc_imm(X86Cpu *cpu, const X86Insn *in)
{
    unsigned size = opsize_of(in);
    x86_alu(cpu, 4, size, reg_read(cpu, X86_RAX, size), in->imm & size_mask(size));
}

/* INC/DEC keep CF (SDM INC, DEC): CF is made concrete before the lazy operation. */
static uint64_t do_incdec(X86Cpu *cpu, unsigned size, uint64_t a, bool dec)
{
    keep_cf(cpu);
    uint64_t r = (dec ? a - 1 : a + 1) & size_mask(size);
    lazy_set(cpu, dec ? LF_DEC : LF_INC, size, a, 1, r);
    return r;
}

void op_inc_r(X86Cpu *cpu, const X86Insn *in)
{
    reg_write(cpu, in->reg, in->osz, do_incdec(cpu, in->osz, reg_read(cpu, in->reg, in->osz), false));
}

void op_dec_r(X86Cpu *cpu, const X86Insn *in)
{
    reg_write(cpu, in->reg, in->osz, do_incdec(cpu, in->osz, reg_read(cpu, in->reg, in->osz), true));
}

static void incdec_rm(X86Cpu *cpu, const X86Insn *in, unsigned size)
{
    bool dec = in->reg == 1;
    if (in->mod == 3) {
        reg_write(cpu, in->rm, size, do_incdec(cpu, size, reg_read(cpu, in->rm, size), dec));
        return;
    }
    uint64_t lin = x86_linear(cpu, in->seg, insn_ea(cpu, in), size, X86_ACCESS_WRITE);
    uint64_t a = lin_read(cpu, lin, size);
    lin_write(cpu, lin, size, (dec ? a - 1 : a + 1) & size_mask(size));
    do_incdec(cpu, size, a, dec);    /* the flags after the write (a fault keeps them) */
}

/* FE: /0 INC r/m8, /1 DEC r/m8, others undefined (#UD). */
void op_grp4(X86Cpu *cpu, const X86Insn *in)
{
    if (in->reg > 1) x86_fault(cpu, X86_EXC_UD, false, 0);
    incdec_rm(cpu, in, 1);
}

/* FF: /0 INC, /1 DEC, /6 PUSH r/m; /2../5 are control transfers (cpu_control.c). */
void op_grp5_incdec(X86Cpu *cpu, const X86Insn *in)
{
    switch (in->reg) {
    case 0: case 1: incdec_rm(cpu, in, in->osz); break;
    case 6: {
        uint64_t v = rm_read(cpu, in, in->osz);
        push(cpu, in->osz, v);
        break;
    }
    case 7: x86_fault(cpu, X86_EXC_UD, false, 0);
    default: op_grp5_ctl(cpu, in); break;
    }
}

/* ---------------------------------------------------------------------------------- */
/* Shifts and rotates (SDM Vol. 2B, RCL/RCR/ROL/ROR, SAL/SAR/SHL/SHR)                   */
/* ---------------------------------------------------------------------------------- */

/* Rotates (0-3) of a by count (masked to 5 bits): the result, with CF/OF in *cfof;
 * rotates leave SZAP alone. */
static uint64_t rotate_value(X86Cpu *cpu, unsigned op, unsigned size, uint64_t a,
                             unsigned count, uint32_t *cfof)
{
    unsigned w = size * 8;
    uint64_t m = size_mask(size), top = m ^ (m >> 1);
    uint64_t r = a;
    uint32_t cf = lazy_cf(cpu) ? 1 : 0, of;
    switch (op) {
    case 0: { /* ROL */
        unsigned c = count % w;
        r = c ? ((a << c) | (a >> (w - c))) & m : a;
        cf = r & 1;
        of = ((r & top) != 0) ^ cf;
        break;
    }
    case 1: { /* ROR */
        unsigned c = count % w;
        r = c ? ((a >> c) | (a << (w - c))) & m : a;
        cf = (r & top) != 0;
        of = ((r & top) != 0) ^ ((r & (top >> 1)) != 0);
        break;
    }
    case 2: { /* RCL */
        unsigned c = size >= 4 ? count : count % (w + 1);
        for (unsigned i = 0; i < c; i++) {
            uint32_t nc = (r & top) != 0;
            r = ((r << 1) | cf) & m;
            cf = nc;
        }
        of = ((r & top) != 0) ^ cf;
        break;
    }
    default: { /* RCR */
        unsigned c = size >= 4 ? count : count % (w + 1);
        for (unsigned i = 0; i < c; i++) {
            uint32_t nc = r & 1;
            r = (r >> 1) | (cf ? top : 0);
            cf = nc;
        }
        of = ((r & top) != 0) ^ ((r & (top >> 1)) != 0);
        break;
    }
    }
    *cfof = (cf ? X86_FLAG_CF : 0) | (of ? X86_FLAG_OF : 0);
    return r;
}

/* Shift or rotate op of the size-byte a by count (not yet masked): the result; the flags
 * are set by shift_flags once the result is stored. Count 0 changes nothing. */
/* The count is masked to 5 bits, 6 for 8-byte operands (SDM Vol. 2B, SAL/SAR/SHL/SHR). */
static inline unsigned count_mask(unsigned size) { return size == 8 ? 0x3F : 0x1F; }

static uint64_t shift_op(X86Cpu *cpu, unsigned op, unsigned size, uint64_t a, unsigned count,
                         uint32_t *cfof)
{
    count &= count_mask(size);
    if (count == 0) return a;
    if (op < 4) return rotate_value(cpu, op, size, a, count, cfof);
    switch (size) {
    case 1: return shift_value(op, 1, a, count, cfof);
    case 2: return shift_value(op, 2, a, count, cfof);
    case 4: return shift_value(op, 4, a, count, cfof);
    default: return shift_value(op, 8, a, count, cfof);
    }
}

/* The flags of a shift (lazy: SZP from the result, AF 0) or a rotate (CF and OF only). */
static void shift_flags(X86Cpu *cpu, unsigned op, unsigned size, unsigned count, uint64_t r,
                        uint32_t cfof)
{
    if ((count & count_mask(size)) == 0) return;
    if (op >= 4) {
        lazy_set_cfof(cpu, size, r, cfof);
        return;
    }
    uint32_t f = flags_get(cpu);
    cpu->flags = (f & ~(X86_FLAG_CF | X86_FLAG_OF)) | cfof;
}

/* C0 C1 D0 D1 D2 D3 /op: ROL ROR RCL RCR SHL SHR SAL SAR. */
void op_grp2(X86Cpu *cpu, const X86Insn *in)
{
    unsigned size = (in->op & 1) ? in->osz : 1;
    unsigned count;
    if (in->op <= 0xC1) count = in->imm & 0xFF;
    else if (in->op <= 0xD1) count = 1;
    else count = (uint8_t)cpu->gpr[X86_RCX];
    uint32_t cfof = 0;
    if (in->mod == 3) {
        uint64_t r = shift_op(cpu, in->reg, size, reg_read(cpu, in->rm, size), count, &cfof);
        reg_write(cpu, in->rm, size, r);
        shift_flags(cpu, in->reg, size, count, r, cfof);
        return;
    }
    uint64_t lin = x86_linear(cpu, in->seg, insn_ea(cpu, in), size, X86_ACCESS_WRITE);
    uint64_t a = lin_read(cpu, lin, size);
    uint64_t r = shift_op(cpu, in->reg, size, a, count, &cfof);
    if (count & count_mask(size)) lin_write(cpu, lin, size, r);
    shift_flags(cpu, in->reg, size, count, r, cfof);
}

/* SHLD/SHRD r/m, r, imm8/CL (SDM Vol. 2B). A count above the operand size (16-bit forms)
 * gives an undefined result: here the bits shifted in come from the source, then the
 * destination again, as on Intel processors. */
void op_shxd(X86Cpu *cpu, const X86Insn *in)
{
    unsigned size = in->osz, w = size * 8;
    bool left = (in->op & 0xFF) < 0xA8;
    unsigned count = ((in->op & 1) ? (uint8_t)cpu->gpr[X86_RCX] : in->imm) & count_mask(size);
    uint64_t lin = 0;
    uint64_t a;
    if (in->mod == 3) a = reg_read(cpu, in->rm, size);
    else {
        lin = x86_linear(cpu, in->seg, insn_ea(cpu, in), size, X86_ACCESS_WRITE);
        a = lin_read(cpu, lin, size);
    }
    if (count == 0) return;
    uint64_t b = reg_read(cpu, in->reg, size), m = size_mask(size), top = m ^ (m >> 1);
    uint64_t r, cf;
    if (size == 8) {   /* count 1-63 */
        if (left) {
            r = (a << count) | (b >> (64 - count));
            cf = (a >> (64 - count)) & 1;
        } else {
            r = (a >> count) | (b << (64 - count));
            cf = (a >> (count - 1)) & 1;
        }
    } else if (size == 2) {
        /* the 48-bit pattern dest:src:dest (left) or dest:src:dest read from the low end
         * (right), so counts 17-31 shift the destination back in */
        uint64_t v = ((uint64_t)a << 32) | ((uint64_t)b << 16) | a;
        if (left) {
            r = (uint32_t)(v >> (32 - count)) & m;
            cf = (uint32_t)(v >> (48 - count)) & 1;
        } else {
            r = (uint32_t)(v >> count) & m;
            cf = (uint32_t)(v >> (count - 1)) & 1;
        }
    } else {
        uint64_t v;
        if (left) {
            v = ((uint64_t)a << 32) | b;
            r = (uint32_t)((v << count) >> 32);
            cf = (a >> (w - count)) & 1;
        } else {
            v = ((uint64_t)b << 32) | a;
            r = (uint32_t)(v >> count);
            cf = (a >> (count - 1)) & 1;
        }
    }
    if (in->mod == 3) reg_write(cpu, in->rm, size, r);
    else lin_write(cpu, lin, size, r);
    lazy_set_cfof(cpu, size, r, (cf ? X86_FLAG_CF : 0) | (((r ^ a) & top) ? X86_FLAG_OF : 0));
}

/* ---------------------------------------------------------------------------------- */
/* Group 3 and multiplication/division                                                  */
/* ---------------------------------------------------------------------------------- */

static inline int64_t sext(uint64_t v, unsigned size)
{
    return size == 1 ? (int8_t)v : size == 2 ? (int16_t)v : size == 4 ? (int32_t)v : (int64_t)v;
}

/* Flags of MUL/IMUL: CF = OF = high half significant; SF ZF AF PF undefined (here: SZP of
 * the low half, AF 0). */
static void mul_flags(X86Cpu *cpu, bool high, uint64_t low, unsigned size)
{
    lazy_set_cfof(cpu, size, low, high ? X86_FLAG_CF | X86_FLAG_OF : 0);
}

static void do_div(X86Cpu *cpu, unsigned size, uint64_t src, bool sign)
{
    if (src == 0) x86_fault(cpu, X86_EXC_DE, false, 0);
    if (size == 8) {   /* RDX:RAX / r/m64 */
        unsigned __int128 n = ((unsigned __int128)cpu->gpr[X86_RDX] << 64) | cpu->gpr[X86_RAX];
        uint64_t q, r;
        if (!sign) {
            unsigned __int128 q128 = n / src;
            if (q128 >> 64) x86_fault(cpu, X86_EXC_DE, false, 0);
            q = (uint64_t)q128;
            r = (uint64_t)(n % src);
        } else {
            __int128 ns = (__int128)n, d = (int64_t)src;
            /* (the one quotient C cannot compute, INT128_MIN / -1, does not fit either) */
            if (d == -1 && n == (unsigned __int128)1 << 127) x86_fault(cpu, X86_EXC_DE, false, 0);
            __int128 qs = ns / d, rs = ns % d;
            if (qs > INT64_MAX || qs < INT64_MIN) x86_fault(cpu, X86_EXC_DE, false, 0);
            q = (uint64_t)(int64_t)qs;
            r = (uint64_t)(int64_t)rs;
        }
        cpu->gpr[X86_RAX] = q;
        cpu->gpr[X86_RDX] = r;
        return;
    }
    if (size == 1) {
        uint32_t ax = (uint16_t)cpu->gpr[X86_RAX];
        uint32_t q, r;
        if (!sign) {
            q = ax / src; r = ax % src;
            if (q > 0xFF) x86_fault(cpu, X86_EXC_DE, false, 0);
        } else {
            int32_t n = (int16_t)ax, d = (int8_t)src;
            int32_t qs = n / d, rs = n % d;
            if (qs > 127 || qs < -128) x86_fault(cpu, X86_EXC_DE, false, 0);
            q = (uint32_t)qs; r = (uint32_t)rs;
        }
        reg_write(cpu, X86_RAX, 2, (q & 0xFF) | ((r & 0xFF) << 8));
    } else if (size == 2) {
        uint32_t n = ((uint32_t)(uint16_t)cpu->gpr[X86_RDX] << 16) | (uint16_t)cpu->gpr[X86_RAX];
        uint32_t q, r;
        if (!sign) {
            q = n / src; r = n % src;
            if (q > 0xFFFF) x86_fault(cpu, X86_EXC_DE, false, 0);
        } else {
            int64_t ns = (int32_t)n, d = (int16_t)src;
            int64_t qs = ns / d, rs = ns % d;
            if (qs > 32767 || qs < -32768) x86_fault(cpu, X86_EXC_DE, false, 0);
            q = (uint32_t)qs; r = (uint32_t)rs;
        }
        reg_write(cpu, X86_RAX, 2, q);
        reg_write(cpu, X86_RDX, 2, r);
    } else {
        uint64_t n = ((uint64_t)(uint32_t)cpu->gpr[X86_RDX] << 32) | (uint32_t)cpu->gpr[X86_RAX];
        uint64_t q, r;
        if (!sign) {
            q = n / src; r = n % src;
            if (q > 0xFFFFFFFFull) x86_fault(cpu, X86_EXC_DE, false, 0);
        } else {
            int64_t ns = (int64_t)n, d = (int32_t)src;
            if (ns == INT64_MIN && d == -1) x86_fault(cpu, X86_EXC_DE, false, 0);
            int64_t qs = ns / d, rs = ns % d;
            if (qs > INT32_MAX || qs < INT32_MIN) x86_fault(cpu, X86_EXC_DE, false, 0);
            q = (uint64_t)qs; r = (uint64_t)rs;
        }
        reg_write(cpu, X86_RAX, 4, (uint32_t)q);
        reg_write(cpu, X86_RDX, 4, (uint32_t)r);
    }
}

/* F6/F7: /0 /1 TEST imm, /2 NOT, /3 NEG, /4 MUL, /5 IMUL, /6 DIV, /7 IDIV. */
void op_grp3(X86Cpu *cpu, const X86Insn *in)
{
    unsigned size = opsize_of(in);
    uint64_t m = size_mask(size);
    switch (in->reg) {
    case 0: case 1:
        x86_alu(cpu, 4, size, rm_read(cpu, in, size), in->imm & m);
        return;
    case 2: case 3: {
        uint64_t lin = 0;
        uint64_t a;
        if (in->mod == 3) a = reg_read(cpu, in->rm, size);
        else {
            lin = x86_linear(cpu, in->seg, insn_ea(cpu, in), size, X86_ACCESS_WRITE);
            a = lin_read(cpu, lin, size);
        }
        uint64_t r = in->reg == 2 ? ~a & m : (0 - a) & m;
        if (in->mod == 3) reg_write(cpu, in->rm, size, r);
        else lin_write(cpu, lin, size, r);
        if (in->reg == 3) lazy_set(cpu, LF_SUB, size, 0, a, r);   /* NEG, after the write */
        return;
    }
    case 4: case 5: {
        uint64_t src = rm_read(cpu, in, size);
        uint64_t acc = reg_read(cpu, X86_RAX, size);
        if (size == 8) {
            uint64_t lo, hi;
            bool ovf;
            if (in->reg == 4) {
                unsigned __int128 p = (unsigned __int128)acc * src;
                lo = (uint64_t)p;
                hi = (uint64_t)(p >> 64);
                ovf = hi != 0;
            } else {
                __int128 p = (__int128)(int64_t)acc * (int64_t)src;
                lo = (uint64_t)p;
                hi = (uint64_t)((unsigned __int128)p >> 64);
                ovf = p != (int64_t)lo;
            }
            cpu->gpr[X86_RAX] = lo;
            cpu->gpr[X86_RDX] = hi;
            mul_flags(cpu, ovf, lo, 8);
            return;
        }
        if (in->reg == 4) {
            uint64_t p = (uint64_t)acc * src;
            if (size == 1) { reg_write(cpu, X86_RAX, 2, (uint32_t)p); mul_flags(cpu, p >> 8, (uint32_t)p, 1); }
            else if (size == 2) {
                reg_write(cpu, X86_RAX, 2, (uint32_t)p);
                reg_write(cpu, X86_RDX, 2, (uint32_t)(p >> 16));
                mul_flags(cpu, p >> 16, (uint32_t)p, 2);
            } else {
                reg_write(cpu, X86_RAX, 4, (uint32_t)p);
                reg_write(cpu, X86_RDX, 4, (uint32_t)(p >> 32));
                mul_flags(cpu, p >> 32, (uint32_t)p, 4);
            }
        } else {
            int64_t p = sext(acc, size) * sext(src, size);
            bool ovf = p != sext((uint64_t)p, size);
            if (size == 1) reg_write(cpu, X86_RAX, 2, (uint32_t)p);
            else if (size == 2) {
                reg_write(cpu, X86_RAX, 2, (uint32_t)p);
                reg_write(cpu, X86_RDX, 2, (uint32_t)((uint64_t)p >> 16));
            } else {
                reg_write(cpu, X86_RAX, 4, (uint32_t)p);
                reg_write(cpu, X86_RDX, 4, (uint32_t)((uint64_t)p >> 32));
            }
            mul_flags(cpu, ovf, (uint32_t)p, size);
        }
        return;
    }
    default:
        do_div(cpu, size, rm_read(cpu, in, size), in->reg == 7);
        return;
    }
}

static void imul_to_reg(X86Cpu *cpu, const X86Insn *in, uint64_t a, uint64_t b)
{
    unsigned size = in->osz;
    if (size == 8) {
        __int128 p = (__int128)(int64_t)a * (int64_t)b;
        reg_write(cpu, in->reg, 8, (uint64_t)p);
        mul_flags(cpu, p != (int64_t)p, (uint64_t)p, 8);
        return;
    }
    int64_t p = sext(a, size) * sext(b, size);
    reg_write(cpu, in->reg, size, (uint64_t)p);
    mul_flags(cpu, p != sext((uint64_t)p, size), (uint64_t)p, size);
}

/* 69 / 6B: IMUL r, r/m, imm */
void op_imul_r_rm_imm(X86Cpu *cpu, const X86Insn *in)
{
    imul_to_reg(cpu, in, rm_read(cpu, in, in->osz), in->imm);
}

/* 0F AF: IMUL r, r/m */
void op_imul_r_rm(X86Cpu *cpu, const X86Insn *in)
{
    uint64_t b = rm_read(cpu, in, in->osz);
    imul_to_reg(cpu, in, reg_read(cpu, in->reg, in->osz), b);
}

/* 0F C0/C1: XADD r/m, r (SDM Vol. 2C): temp = dest + src; src = dest; dest = temp. */
void op_xadd(X86Cpu *cpu, const X86Insn *in)
{
    unsigned size = (in->op & 1) ? in->osz : 1;
    uint64_t src = reg_read(cpu, in->reg, size);
    if (in->mod == 3) {
        uint64_t d = reg_read(cpu, in->rm, size);
        uint64_t r = x86_alu(cpu, 0, size, d, src);
        reg_write(cpu, in->reg, size, d);
        reg_write(cpu, in->rm, size, r);
        return;
    }
    uint64_t lin = x86_linear(cpu, in->seg, insn_ea(cpu, in), size, X86_ACCESS_WRITE);
    uint64_t d = lin_read(cpu, lin, size);
    uint64_t r = (d + src) & size_mask(size);
    lin_write(cpu, lin, size, r);
    x86_alu(cpu, 0, size, d, src);
    reg_write(cpu, in->reg, size, d);
}

/* 0F B0/B1: CMPXCHG r/m, r (SDM Vol. 2A): the destination is written in both cases. */
void op_cmpxchg(X86Cpu *cpu, const X86Insn *in)
{
    unsigned size = (in->op & 1) ? in->osz : 1;
    uint64_t src = reg_read(cpu, in->reg, size), acc = reg_read(cpu, X86_RAX, size);
    uint64_t lin = 0;
    uint64_t d;
    if (in->mod == 3) d = reg_read(cpu, in->rm, size);
    else {
        lin = x86_linear(cpu, in->seg, insn_ea(cpu, in), size, X86_ACCESS_WRITE);
        d = lin_read(cpu, lin, size);
    }
    uint64_t nd = acc == d ? src : d;
    if (in->mod == 3) reg_write(cpu, in->rm, size, nd);
    else lin_write(cpu, lin, size, nd);
    x86_alu(cpu, 7, size, acc, d);
    if (acc != d) reg_write(cpu, X86_RAX, size, d);
}
