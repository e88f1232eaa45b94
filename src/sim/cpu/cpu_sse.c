/* The MMX/SSE/SSE2 part of the sim CPU: the eight XMM registers and MXCSR, FXSAVE/FXRSTOR,
 * LDMXCSR/STMXCSR, the fences, every SSE and SSE2 instruction, and MMX, whose registers
 * are the x87's (cpu_x87.c: x87_mmx_*; SDM Vol. 1, chapters 9-11; Vol. 2 for each).
 * MOVBE and MOVNTI are here too (general-purpose, but of this era).
 *
 * Mandatory prefixes pick the instruction: none (packed single), 66 (packed double or
 * integer), F2 (scalar double), F3 (scalar single); F2/F3 win over 66.
 *
 * Design choice, exactness of floating point: on an x86-64 host every SSE/SSE2 FP
 * instruction (arithmetic, SQRT/RCP/RSQRT, MIN/MAX, CMP with its predicates, (U)COMIS,
 * every CVT) runs as the same instruction on the host (inline asm): the guest's MXCSR is
 * loaded with its rounding, DAZ and FZ but with every exception masked, so the host never
 * traps; the flags it raised and the guest's masks then decide #XM (#UD with
 * CR4.OSXMMEXCPT = 0) by the SDM's pre-/post-computation rules (Vol. 1, 11.5.3; fp_exec
 * below), with the destination unchanged on a fault. Results are therefore the host's
 * bit for bit, and tests/unit/test_sse_diff.c checks the flags and faults against the
 * host running the guest's bytes with the guest's own masks. On other hosts the FP forms
 * are not modelled (X86_SSE_FP_ON_HOST) and CPUID claims neither SSE nor SSE2. The SIMD
 * integer instructions, moves and shuffles are plain C.
 *
 * The MMX registers: an MMX instruction first takes a pending x87 exception (#MF), and
 * once it can no longer fault on memory makes TOP 0 and every register in use (CVTPI2PS
 * and CVT*2PI do so before their own #XM, as the host does); a write sets the exponent
 * bits to ones; EMMS empties them all and clears TOP (Vol. 1, 9.5.1).
 *
 * Not modelled (internal error naming it, never a wrong result): SSE3 and later. */
#include <stdio.h>
#include <string.h>

#include "sim/cpu/cpu_internal.h"

enum { SSE_NONE, SSE_66, SSE_F2, SSE_F3 };

static unsigned sse_prefix(const X86Insn *in)
{
    if (in->prefix & PFX_REP) return SSE_F3;
    if (in->prefix & PFX_REPNE) return SSE_F2;
    return (in->prefix & PFX_OPSIZE) ? SSE_66 : SSE_NONE;
}

/* SDM Vol. 2A, 2.4 / Table 22-x: CR0.EM or CR4.OSFXSR = 0 makes an SSE instruction #UD,
 * CR0.TS makes it #NM. LOCK is #UD. */
static void sse_check(X86Cpu *cpu, const X86Insn *in)
{
    if ((cpu->cr0 & X86_CR0_EM) || !(cpu->cr4 & X86_CR4_OSFXSR_BIT) || (in->prefix & PFX_LOCK))
        x86_fault(cpu, X86_EXC_UD, false, 0);
    if (cpu->cr0 & X86_CR0_TS) x86_fault(cpu, X86_EXC_NM, false, 0);
}

static NORETURN void sse_unimplemented(X86Cpu *cpu, const X86Insn *in)
{
    static const char *const pfx[] = {"", "66 ", "F2 ", "F3 "};
    char what[64];
    snprintf(what, sizeof what, "SSE instruction %s0F %02X (not modelled)", pfx[sse_prefix(in)],
             in->op & 0xFF);
    x86_unimplemented(cpu, what);
}

/* The linear address of the memory operand, checked for `size` bytes; `align` (16 for the
 * aligned forms) raises #GP(0) when it is not met (SDM: "If a memory operand is not aligned
 * on a 16-byte boundary, regardless of segment"). */
static uint64_t sse_lin(X86Cpu *cpu, const X86Insn *in, unsigned size, unsigned access,
                        unsigned align)
{
    uint64_t lin = x86_linear(cpu, in->seg, insn_ea(cpu, in), size, access);
    if (align && (lin & (align - 1))) x86_fault(cpu, X86_EXC_GP, true, 0);
    return lin;
}

static void load128(X86Cpu *cpu, uint64_t lin, uint64_t v[2])
{
    v[0] = x86_read64(cpu, lin);
    v[1] = x86_read64(cpu, x86_lin_wrap(cpu, lin + 8));
}

/* Both pages are checked for writing before a byte is written: a store that faults on its
 * second page leaves the first unchanged, as the processor does. */
static void store128(X86Cpu *cpu, uint64_t lin, const uint64_t v[2])
{
    x86_ram_ptr(cpu, lin, 1, X86_ACCESS_WRITE);
    x86_ram_ptr(cpu, x86_lin_wrap(cpu, lin + 15), 1, X86_ACCESS_WRITE);
    x86_write64(cpu, lin, v[0]);
    x86_write64(cpu, x86_lin_wrap(cpu, lin + 8), v[1]);
}

/* xmm/m128 source into v (align 16 or 0). */
static void src128(X86Cpu *cpu, const X86Insn *in, unsigned align, uint64_t v[2])
{
    if (in->mod == 3) {
        memcpy(v, cpu->xmm[in->rm], 16);
        return;
    }
    load128(cpu, sse_lin(cpu, in, 16, X86_ACCESS_READ, align), v);
}

static void dst128(X86Cpu *cpu, const X86Insn *in, unsigned align, const uint64_t v[2])
{
    if (in->mod == 3) {
        memcpy(cpu->xmm[in->rm], v, 16);
        return;
    }
    store128(cpu, sse_lin(cpu, in, 16, X86_ACCESS_WRITE, align), v);
}

static uint64_t mem_read64(X86Cpu *cpu, const X86Insn *in)
{
    return x86_read64(cpu, sse_lin(cpu, in, 8, X86_ACCESS_READ, 0));
}

static void mem_write64(X86Cpu *cpu, const X86Insn *in, uint64_t v)
{
    x86_write64(cpu, sse_lin(cpu, in, 8, X86_ACCESS_WRITE, 0), v);
}

/* 0F 10/11: MOVUPS, MOVUPD (66), MOVSS (F3), MOVSD (F2). A scalar load from memory
 * zeroes the rest of the register; between registers it keeps it. */
static void movu_or_scalar(X86Cpu *cpu, const X86Insn *in, bool store)
{
    uint64_t *x = cpu->xmm[in->reg];
    unsigned p = sse_prefix(in);
    if (p == SSE_NONE || p == SSE_66) {
        uint64_t v[2];
        if (store) {
            dst128(cpu, in, 0, x);
        } else {
            src128(cpu, in, 0, v);
            memcpy(x, v, 16);
        }
        return;
    }
    unsigned size = p == SSE_F3 ? 4 : 8;
    uint64_t mask = size == 4 ? 0xFFFFFFFFull : ~0ull;
    if (in->mod == 3) {
        uint64_t *from = store ? x : cpu->xmm[in->rm], *to = store ? cpu->xmm[in->rm] : x;
        to[0] = (to[0] & ~mask) | (from[0] & mask);
    } else if (store) {
        if (size == 4) mem_write(cpu, in->seg, insn_ea(cpu, in), 4, (uint32_t)x[0]);
        else mem_write64(cpu, in, x[0]);
    } else {
        x[0] = size == 4 ? mem_read(cpu, in->seg, insn_ea(cpu, in), 4) : mem_read64(cpu, in);
        if (size == 4) x[0] &= mask;
        x[1] = 0;
    }
}

/* An XMM value seen as elements; the host is little-endian (as the guest), so element i
 * of every width sits where the guest has it. */
typedef union {
    uint8_t b[16];
    int8_t sb[16];
    uint16_t w[8];
    int16_t sw[8];
    uint32_t d[4];
    int32_t sd[4];
    uint64_t q[2];
} Vec;
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "XMM elements assume a little-endian host");

static void xmm_get(const X86Cpu *cpu, unsigned r, Vec *v) { memcpy(v, cpu->xmm[r & 15], 16); }
static void xmm_set(X86Cpu *cpu, unsigned r, const Vec *v) { memcpy(cpu->xmm[r & 15], v, 16); }

/* The source operand: the r/m XMM register, or `size` bytes of memory (16: m128, which
 * the legacy SSE forms need 16-byte aligned, SDM Vol. 1 11.4.1 / Vol. 2 "#GP(0) if a
 * memory operand is not aligned on a 16-byte boundary"; 8 or 4: scalar and half forms,
 * any alignment) into the low bytes of *v, the rest zero. */
static void src_op(X86Cpu *cpu, const X86Insn *in, unsigned size, Vec *v)
{
    if (in->mod == 3) {
        xmm_get(cpu, in->rm, v);
        return;
    }
    memset(v, 0, sizeof *v);
    if (size == 16) load128(cpu, sse_lin(cpu, in, 16, X86_ACCESS_READ, 16), v->q);
    else if (size == 8) v->q[0] = mem_read64(cpu, in);
    else v->d[0] = mem_read(cpu, in->seg, insn_ea(cpu, in), size);
}

static void need_reg(X86Cpu *cpu, const X86Insn *in)
{
    if (in->mod != 3) x86_fault(cpu, X86_EXC_UD, false, 0);
}

static void need_mem(X86Cpu *cpu, const X86Insn *in)
{
    if (in->mod == 3) x86_fault(cpu, X86_EXC_UD, false, 0);
}

/* ---- SIMD integer (SDM Vol. 1 11.4.3; each instruction in Vol. 2), plain C ---- */

static inline uint8_t sat_u8(int v) { return v < 0 ? 0 : v > 0xFF ? 0xFF : (uint8_t)v; }
static inline int8_t sat_s8(int v) { return v < -128 ? -128 : v > 127 ? 127 : (int8_t)v; }
static inline uint16_t sat_u16(int32_t v) { return v < 0 ? 0 : v > 0xFFFF ? 0xFFFF : (uint16_t)v; }
static inline int16_t sat_s16(int32_t v)
{
    return v < -32768 ? -32768 : v > 32767 ? 32767 : (int16_t)v;
}

/* Shift of each `bits`-wide element by `count` (all 64 bits of it count: a count above
 * bits - 1 clears a logical shift's elements and fills an arithmetic one's with the sign).
 * kind 0: right logical, 1: right arithmetic, 2: left. */
static void shift_elems(Vec *d, unsigned n, unsigned bits, unsigned kind, uint64_t count)
{
    for (unsigned i = 0; i < n / (bits / 8); i++) {
        uint64_t v = bits == 16 ? d->w[i] : bits == 32 ? d->d[i] : d->q[i];
        int64_t sv = bits == 16 ? d->sw[i] : bits == 32 ? d->sd[i] : (int64_t)d->q[i];
        if (kind == 1) v = (uint64_t)(sv >> (count > bits - 1 ? bits - 1 : count));
        else if (count > bits - 1) v = 0;
        else v = kind == 0 ? v >> count : v << count;
        if (bits == 16) d->w[i] = (uint16_t)v;
        else if (bits == 32) d->d[i] = (uint32_t)v;
        else d->q[i] = v;
    }
}

/* Byte shift of the whole register (PSRLDQ/PSLLDQ): a count above 15 clears it. */
static void shift_bytes(Vec *d, bool left, unsigned count)
{
    Vec r = { 0 };
    if (count < 16) {
        if (left) memcpy(r.b + count, d->b, 16 - count);
        else memcpy(r.b, d->b + count, 16 - count);
    }
    *d = r;
}

/* Interleave the low (high = false) or high halves of d and s, in `e`-byte elements. */
static void unpack(Vec *d, const Vec *s, unsigned n, unsigned e, bool high)
{
    Vec r;
    unsigned base = high ? n / 2 : 0;
    for (unsigned i = 0; i < n / 2 / e; i++) {
        memcpy(r.b + 2 * i * e, d->b + base + i * e, e);
        memcpy(r.b + (2 * i + 1) * e, s->b + base + i * e, e);
    }
    memcpy(d->b, r.b, n);
}

/* The two-operand integer instructions, d = d op s over n bytes, by their 0F opcode.
 * Returns false for an opcode that is not one of them. */
static bool int_binop(unsigned op, Vec *d, const Vec *s, unsigned n)
{
    Vec r = *d;
    unsigned nb = n, nw = n / 2, nd = n / 4, nq = n / 8;
    switch (op) {
    case 0x60: unpack(d, s, n, 1, false); return true;   /* PUNPCKLBW */
    case 0x61: unpack(d, s, n, 2, false); return true;   /* PUNPCKLWD */
    case 0x62: unpack(d, s, n, 4, false); return true;   /* PUNPCKLDQ */
    case 0x6C: unpack(d, s, n, 8, false); return true;   /* PUNPCKLQDQ */
    case 0x68: unpack(d, s, n, 1, true); return true;    /* PUNPCKHBW */
    case 0x69: unpack(d, s, n, 2, true); return true;    /* PUNPCKHWD */
    case 0x6A: unpack(d, s, n, 4, true); return true;    /* PUNPCKHDQ */
    case 0x6D: unpack(d, s, n, 8, true); return true;    /* PUNPCKHQDQ */
    case 0x63: case 0x67:                                /* PACKSSWB, PACKUSWB */
        for (unsigned i = 0; i < nw; i++) {
            if (op == 0x63) {
                r.sb[i] = sat_s8(d->sw[i]);
                r.sb[nw + i] = sat_s8(s->sw[i]);
            } else {
                r.b[i] = sat_u8(d->sw[i]);
                r.b[nw + i] = sat_u8(s->sw[i]);
            }
        }
        break;
    case 0x6B:                                           /* PACKSSDW */
        for (unsigned i = 0; i < nd; i++) {
            r.sw[i] = sat_s16(d->sd[i]);
            r.sw[nd + i] = sat_s16(s->sd[i]);
        }
        break;
    case 0x64: for (unsigned i = 0; i < nb; i++) r.b[i] = d->sb[i] > s->sb[i] ? 0xFF : 0; break;
    case 0x65: for (unsigned i = 0; i < nw; i++) r.w[i] = d->sw[i] > s->sw[i] ? 0xFFFF : 0; break;
    case 0x66: for (unsigned i = 0; i < nd; i++) r.d[i] = d->sd[i] > s->sd[i] ? ~0u : 0; break;
    case 0x74: for (unsigned i = 0; i < nb; i++) r.b[i] = d->b[i] == s->b[i] ? 0xFF : 0; break;
    case 0x75: for (unsigned i = 0; i < nw; i++) r.w[i] = d->w[i] == s->w[i] ? 0xFFFF : 0; break;
    case 0x76: for (unsigned i = 0; i < nd; i++) r.d[i] = d->d[i] == s->d[i] ? ~0u : 0; break;
    case 0xD1: shift_elems(&r, n, 16, 0, s->q[0]); break;   /* PSRLW */
    case 0xD2: shift_elems(&r, n, 32, 0, s->q[0]); break;   /* PSRLD */
    case 0xD3: shift_elems(&r, n, 64, 0, s->q[0]); break;   /* PSRLQ */
    case 0xE1: shift_elems(&r, n, 16, 1, s->q[0]); break;   /* PSRAW */
    case 0xE2: shift_elems(&r, n, 32, 1, s->q[0]); break;   /* PSRAD */
    case 0xF1: shift_elems(&r, n, 16, 2, s->q[0]); break;   /* PSLLW */
    case 0xF2: shift_elems(&r, n, 32, 2, s->q[0]); break;   /* PSLLD */
    case 0xF3: shift_elems(&r, n, 64, 2, s->q[0]); break;   /* PSLLQ */
    case 0xD4: for (unsigned i = 0; i < nq; i++) r.q[i] = d->q[i] + s->q[i]; break;
    case 0xFB: for (unsigned i = 0; i < nq; i++) r.q[i] = d->q[i] - s->q[i]; break;
    case 0xFC: for (unsigned i = 0; i < nb; i++) r.b[i] = (uint8_t)(d->b[i] + s->b[i]); break;
    case 0xFD: for (unsigned i = 0; i < nw; i++) r.w[i] = (uint16_t)(d->w[i] + s->w[i]); break;
    case 0xFE: for (unsigned i = 0; i < nd; i++) r.d[i] = d->d[i] + s->d[i]; break;
    case 0xF8: for (unsigned i = 0; i < nb; i++) r.b[i] = (uint8_t)(d->b[i] - s->b[i]); break;
    case 0xF9: for (unsigned i = 0; i < nw; i++) r.w[i] = (uint16_t)(d->w[i] - s->w[i]); break;
    case 0xFA: for (unsigned i = 0; i < nd; i++) r.d[i] = d->d[i] - s->d[i]; break;
    case 0xD8: for (unsigned i = 0; i < nb; i++) r.b[i] = sat_u8(d->b[i] - s->b[i]); break;
    case 0xD9: for (unsigned i = 0; i < nw; i++) r.w[i] = sat_u16(d->w[i] - s->w[i]); break;
    case 0xDC: for (unsigned i = 0; i < nb; i++) r.b[i] = sat_u8(d->b[i] + s->b[i]); break;
    case 0xDD: for (unsigned i = 0; i < nw; i++) r.w[i] = sat_u16(d->w[i] + s->w[i]); break;
    case 0xE8: for (unsigned i = 0; i < nb; i++) r.sb[i] = sat_s8(d->sb[i] - s->sb[i]); break;
    case 0xE9: for (unsigned i = 0; i < nw; i++) r.sw[i] = sat_s16(d->sw[i] - s->sw[i]); break;
    case 0xEC: for (unsigned i = 0; i < nb; i++) r.sb[i] = sat_s8(d->sb[i] + s->sb[i]); break;
    case 0xED: for (unsigned i = 0; i < nw; i++) r.sw[i] = sat_s16(d->sw[i] + s->sw[i]); break;
    case 0xDA: for (unsigned i = 0; i < nb; i++) r.b[i] = d->b[i] < s->b[i] ? d->b[i] : s->b[i]; break;
    case 0xDE: for (unsigned i = 0; i < nb; i++) r.b[i] = d->b[i] > s->b[i] ? d->b[i] : s->b[i]; break;
    case 0xEA: for (unsigned i = 0; i < nw; i++) r.sw[i] = d->sw[i] < s->sw[i] ? d->sw[i] : s->sw[i]; break;
    case 0xEE: for (unsigned i = 0; i < nw; i++) r.sw[i] = d->sw[i] > s->sw[i] ? d->sw[i] : s->sw[i]; break;
    case 0xE0: for (unsigned i = 0; i < nb; i++) r.b[i] = (uint8_t)((d->b[i] + s->b[i] + 1) >> 1); break;
    case 0xE3: for (unsigned i = 0; i < nw; i++) r.w[i] = (uint16_t)((d->w[i] + s->w[i] + 1u) >> 1); break;
    case 0xD5: for (unsigned i = 0; i < nw; i++) r.w[i] = (uint16_t)(d->w[i] * (uint32_t)s->w[i]); break;
    case 0xE5:                                           /* PMULHW */
        for (unsigned i = 0; i < nw; i++) r.w[i] = (uint16_t)((uint32_t)(d->sw[i] * s->sw[i]) >> 16);
        break;
    case 0xE4:                                           /* PMULHUW */
        for (unsigned i = 0; i < nw; i++) r.w[i] = (uint16_t)((d->w[i] * (uint32_t)s->w[i]) >> 16);
        break;
    case 0xF4:                                           /* PMULUDQ: the even dwords */
        for (unsigned i = 0; i < nq; i++) r.q[i] = (uint64_t)d->d[2 * i] * s->d[2 * i];
        break;
    case 0xF5:                                           /* PMADDWD (0x8000 squared twice wraps) */
        for (unsigned i = 0; i < nd; i++) {
            int64_t v = (int64_t)d->sw[2 * i] * s->sw[2 * i] +
                        (int64_t)d->sw[2 * i + 1] * s->sw[2 * i + 1];
            r.d[i] = (uint32_t)v;
        }
        break;
    case 0xF6:                                           /* PSADBW: one sum per quadword */
        for (unsigned g = 0; g < nq; g++) {
            unsigned sum = 0;
            for (unsigned i = 8 * g; i < 8 * g + 8; i++)
                sum += d->b[i] > s->b[i] ? d->b[i] - s->b[i] : s->b[i] - d->b[i];
            r.q[g] = sum;
        }
        break;
    case 0xDB: for (unsigned i = 0; i < nq; i++) r.q[i] = d->q[i] & s->q[i]; break;
    case 0xDF: for (unsigned i = 0; i < nq; i++) r.q[i] = ~d->q[i] & s->q[i]; break;
    case 0xEB: for (unsigned i = 0; i < nq; i++) r.q[i] = d->q[i] | s->q[i]; break;
    case 0xEF: for (unsigned i = 0; i < nq; i++) r.q[i] = d->q[i] ^ s->q[i]; break;
    default:
        return false;
    }
    memcpy(d->b, r.b, n);
    return true;
}

/* 66 0F 71-73 (groups 12-14, register only): shifts by imm8. Returns false for a /reg
 * that has no instruction (#UD). */
static bool shift_imm(unsigned op, unsigned reg, Vec *d, unsigned n, unsigned count)
{
    static const uint8_t bits[3] = { 16, 32, 64 };
    unsigned b = bits[op - 0x71];
    switch (reg) {
    case 2: shift_elems(d, n, b, 0, count); return true;
    case 4: if (b == 64) return false; shift_elems(d, n, b, 1, count); return true;
    case 6: shift_elems(d, n, b, 2, count); return true;
    case 3: case 7:   /* PSRLDQ, PSLLDQ: XMM only */
        if (b != 64 || n != 16) return false;
        shift_bytes(d, reg == 7, count);
        return true;
    default:
        return false;
    }
}

/* 0F 70 with imm8: PSHUFD (66), PSHUFHW (F3), PSHUFLW (F2). */
static void pshuf(Vec *d, const Vec *s, unsigned p, unsigned imm)
{
    Vec r = *s;
    if (p == SSE_66) {
        for (unsigned i = 0; i < 4; i++) r.d[i] = s->d[(imm >> (2 * i)) & 3];
    } else {
        unsigned base = p == SSE_F3 ? 4 : 0;
        for (unsigned i = 0; i < 4; i++) r.w[base + i] = s->w[base + ((imm >> (2 * i)) & 3)];
    }
    *d = r;
}

/* 66 0F F7 MASKMOVDQU xmm1, xmm2: the bytes of xmm1 whose mask byte in xmm2 has its top
 * bit set go to DS:(E)DI (segment override allowed; SDM Vol. 2B). Every selected byte is
 * checked before any is written, so a fault stores nothing. */
static void maskmov(X86Cpu *cpu, const X86Insn *in, const Vec *data, const Vec *mask, unsigned n)
{
    uint64_t di = cpu->gpr[X86_RDI];
    uint64_t amask = size_mask(in->asz);
    uint64_t lin[16];
    for (unsigned i = 0; i < n; i++) {
        if (!(mask->b[i] & 0x80)) continue;
        lin[i] = x86_linear(cpu, in->seg, (di + i) & amask, 1, X86_ACCESS_WRITE);
        x86_ram_ptr(cpu, lin[i], 1, X86_ACCESS_WRITE);
    }
    for (unsigned i = 0; i < n; i++)
        if (mask->b[i] & 0x80) lin_write(cpu, lin[i], 1, data->b[i]);
}

/* ---- SIMD floating point ---- */

/* MXCSR (SDM Vol. 1, 10.2.3, Figure 10-3). */
#define MXCSR_IE  0x0001u
#define MXCSR_DE  0x0002u
#define MXCSR_ZE  0x0004u
#define MXCSR_OE  0x0008u
#define MXCSR_UE  0x0010u
#define MXCSR_PE  0x0020u
#define MXCSR_FLAGS 0x003Fu
#define MXCSR_MASKS 0x1F80u
#define MXCSR_MASK_SHIFT 7
#define MXCSR_UM  0x0800u
#define MXCSR_FZ  0x8000u
#define MXCSR_PRE (MXCSR_IE | MXCSR_DE | MXCSR_ZE)   /* pre-computation (Vol. 1, 11.5.3) */

/* The host operations: each runs one SSE instruction on the host with %xmm0 = *d and
 * %xmm1 = *s (and a GPR), under `mxcsr` (whose masks are all set: the host never traps);
 * returns the MXCSR after it. The host's own MXCSR is put back before the block ends. */
enum HostOp {
    H_ADDPS, H_ADDPD, H_ADDSS, H_ADDSD, H_SUBPS, H_SUBPD, H_SUBSS, H_SUBSD,
    H_MULPS, H_MULPD, H_MULSS, H_MULSD, H_DIVPS, H_DIVPD, H_DIVSS, H_DIVSD,
    H_MINPS, H_MINPD, H_MINSS, H_MINSD, H_MAXPS, H_MAXPD, H_MAXSS, H_MAXSD,
    H_SQRTPS, H_SQRTPD, H_SQRTSS, H_SQRTSD, H_RSQRTPS, H_RSQRTSS, H_RCPPS, H_RCPSS,
    H_CVTPS2PD, H_CVTPD2PS, H_CVTSS2SD, H_CVTSD2SS, H_CVTDQ2PS, H_CVTPS2DQ, H_CVTTPS2DQ,
    H_CVTTPD2DQ, H_CVTPD2DQ, H_CVTDQ2PD,
    H_CMPPS, H_CMPPD, H_CMPSS, H_CMPSD,            /* + predicate in imm */
    H_COMISS, H_UCOMISS, H_COMISD, H_UCOMISD,      /* EFLAGS into *gpr */
    H_CVTSI2SS, H_CVTSI2SD,                        /* from *gpr */
    H_CVTSS2SI, H_CVTTSS2SI, H_CVTSD2SI, H_CVTTSD2SI,   /* to *gpr */
    /* the same with a 64-bit integer (REX.W in 64-bit mode) */
    H_CVTSI2SSQ, H_CVTSI2SDQ, H_CVTSS2SIQ, H_CVTTSS2SIQ, H_CVTSD2SIQ, H_CVTTSD2SIQ,
};

#if X86_SSE_FP_ON_HOST
#define HOST_ASM(body)                                                              \
    __asm__ volatile("stmxcsr %[host]\n\tldmxcsr %[mx]\n\t"                             \
                     "movdqu %[d], %%xmm0\n\tmovdqu %[s], %%xmm1\n\t" body "\n\t"       \
                     "movdqu %%xmm0, %[d]\n\tstmxcsr %[mx]\n\tldmxcsr %[host]"           \
                     : [d] "+m"(*d), [mx] "+m"(mx), [host] "+m"(host), [g] "+r"(g)       \
                     : [s] "m"(*s) : "xmm0", "xmm1", "cc")
#define XX(insn) HOST_ASM(insn " %%xmm1, %%xmm0")
#define CMP8(insn)                                                                      \
    switch (imm & 7) {                                                                 \
    case 0: XX(insn " $0,"); break; case 1: XX(insn " $1,"); break;                    \
    case 2: XX(insn " $2,"); break; case 3: XX(insn " $3,"); break;                    \
    case 4: XX(insn " $4,"); break; case 5: XX(insn " $5,"); break;                    \
    case 6: XX(insn " $6,"); break; default: XX(insn " $7,"); break;                   \
    }
/* COMISS and friends: ZF PF CF of the compare (SDM: OF SF AF are cleared). */
static uint32_t host_comi(unsigned op, const Vec *d, const Vec *s, uint32_t *mxp)
{
    uint32_t mx = *mxp, host = 0;
    uint8_t zf = 0, pf = 0, cf = 0;
#define COMI(insn)                                                                          \
    __asm__ volatile("stmxcsr %[host]\n\tldmxcsr %[mx]\n\tmovdqu %[d], %%xmm0\n\t"           \
                     "movdqu %[s], %%xmm1\n\t" insn " %%xmm1, %%xmm0\n\t"                     \
                     "setz %[zf]\n\tsetp %[pf]\n\tsetc %[cf]\n\tstmxcsr %[mx]\n\tldmxcsr %[host]" \
                     : [mx] "+m"(mx), [host] "+m"(host), [zf] "=qm"(zf), [pf] "=qm"(pf),     \
                       [cf] "=qm"(cf)                                                         \
                     : [d] "m"(*d), [s] "m"(*s) : "xmm0", "xmm1", "cc")
    switch (op) {
    case H_COMISS: COMI("comiss"); break;
    case H_UCOMISS: COMI("ucomiss"); break;
    case H_COMISD: COMI("comisd"); break;
    default: COMI("ucomisd"); break;
    }
#undef COMI
    *mxp = mx;
    return (zf ? X86_FLAG_ZF : 0) | (pf ? X86_FLAG_PF : 0) | (cf ? X86_FLAG_CF : 0);
}

static uint32_t host_fp(unsigned op, unsigned imm, Vec *d, const Vec *s, uint64_t *gpr,
                        uint32_t mxcsr)
{
    uint32_t mx = mxcsr, host = 0;
    uint64_t g = *gpr;
    switch (op) {
    case H_ADDPS: XX("addps"); break;
    case H_ADDPD: XX("addpd"); break;
    case H_ADDSS: XX("addss"); break;
    case H_ADDSD: XX("addsd"); break;
    case H_SUBPS: XX("subps"); break;
    case H_SUBPD: XX("subpd"); break;
    case H_SUBSS: XX("subss"); break;
    case H_SUBSD: XX("subsd"); break;
    case H_MULPS: XX("mulps"); break;
    case H_MULPD: XX("mulpd"); break;
    case H_MULSS: XX("mulss"); break;
    case H_MULSD: XX("mulsd"); break;
    case H_DIVPS: XX("divps"); break;
    case H_DIVPD: XX("divpd"); break;
    case H_DIVSS: XX("divss"); break;
    case H_DIVSD: XX("divsd"); break;
    case H_MINPS: XX("minps"); break;
    case H_MINPD: XX("minpd"); break;
    case H_MINSS: XX("minss"); break;
    case H_MINSD: XX("minsd"); break;
    case H_MAXPS: XX("maxps"); break;
    case H_MAXPD: XX("maxpd"); break;
    case H_MAXSS: XX("maxss"); break;
    case H_MAXSD: XX("maxsd"); break;
    case H_SQRTPS: XX("sqrtps"); break;
    case H_SQRTPD: XX("sqrtpd"); break;
    case H_SQRTSS: XX("sqrtss"); break;
    case H_SQRTSD: XX("sqrtsd"); break;
    case H_RSQRTPS: XX("rsqrtps"); break;
    case H_RSQRTSS: XX("rsqrtss"); break;
    case H_RCPPS: XX("rcpps"); break;
    case H_RCPSS: XX("rcpss"); break;
    case H_CVTPS2PD: XX("cvtps2pd"); break;
    case H_CVTPD2PS: XX("cvtpd2ps"); break;
    case H_CVTSS2SD: XX("cvtss2sd"); break;
    case H_CVTSD2SS: XX("cvtsd2ss"); break;
    case H_CVTDQ2PS: XX("cvtdq2ps"); break;
    case H_CVTPS2DQ: XX("cvtps2dq"); break;
    case H_CVTTPS2DQ: XX("cvttps2dq"); break;
    case H_CVTTPD2DQ: XX("cvttpd2dq"); break;
    case H_CVTPD2DQ: XX("cvtpd2dq"); break;
    case H_CVTDQ2PD: XX("cvtdq2pd"); break;
    case H_CMPPS: CMP8("cmpps"); break;
    case H_CMPPD: CMP8("cmppd"); break;
    case H_CMPSS: CMP8("cmpss"); break;
    case H_CMPSD: CMP8("cmpsd"); break;
    case H_COMISS: case H_UCOMISS: case H_COMISD: case H_UCOMISD:
        g = host_comi(op, d, s, &mx);
        break;
    case H_CVTSI2SS: HOST_ASM("cvtsi2ssl %k[g], %%xmm0"); break;
    case H_CVTSI2SD: HOST_ASM("cvtsi2sdl %k[g], %%xmm0"); break;
    case H_CVTSS2SI: HOST_ASM("cvtss2si %%xmm1, %k[g]"); break;
    case H_CVTTSS2SI: HOST_ASM("cvttss2si %%xmm1, %k[g]"); break;
    case H_CVTSD2SI: HOST_ASM("cvtsd2si %%xmm1, %k[g]"); break;
    case H_CVTTSD2SI: HOST_ASM("cvttsd2si %%xmm1, %k[g]"); break;
    case H_CVTSI2SSQ: HOST_ASM("cvtsi2ssq %q[g], %%xmm0"); break;
    case H_CVTSI2SDQ: HOST_ASM("cvtsi2sdq %q[g], %%xmm0"); break;
    case H_CVTSS2SIQ: HOST_ASM("cvtss2si %%xmm1, %q[g]"); break;
    case H_CVTTSS2SIQ: HOST_ASM("cvttss2si %%xmm1, %q[g]"); break;
    case H_CVTSD2SIQ: HOST_ASM("cvtsd2si %%xmm1, %q[g]"); break;
    case H_CVTTSD2SIQ: HOST_ASM("cvttsd2si %%xmm1, %q[g]"); break;
    default: break;
    }
    *gpr = op >= H_CVTSI2SSQ ? g : (uint32_t)g;
    return mx;
}
#endif

/* How an FP instruction's elements look, for the underflow rule below. */
typedef struct {
    uint8_t host;     /* HostOp */
    uint8_t src;      /* source bytes from memory: 16 (aligned), 8 or 4 */
    uint8_t esize;    /* result element: 4 (single) or 8 (double) */
    uint8_t count;    /* result elements computed */
    bool tiny;        /* can underflow (Vol. 1, 11.5.2.5 lists them) */
} FpForm;

#if X86_SSE_FP_ON_HOST
/* Whether any computed element of r is a nonzero denormal. */
static bool any_denormal(const Vec *r, const FpForm *f)
{
    for (unsigned i = 0; i < f->count; i++) {
        bool den = f->esize == 4 ? (r->d[i] & 0x7F800000u) == 0 && (r->d[i] & 0x007FFFFFu)
                                 : (r->q[i] & 0x7FF0000000000000ull) == 0 &&
                                       (r->q[i] & 0x000FFFFFFFFFFFFFull);
        if (den) return true;
    }
    return false;
}

/* The scalar twin of a packed operation that can overflow or underflow. */
static unsigned scalar_twin(unsigned op)
{
    switch (op) {
    case H_ADDPS: return H_ADDSS;
    case H_ADDPD: return H_ADDSD;
    case H_SUBPS: return H_SUBSS;
    case H_SUBPD: return H_SUBSD;
    case H_MULPS: return H_MULSS;
    case H_MULPD: return H_MULSD;
    case H_DIVPS: return H_DIVSS;
    case H_DIVPD: return H_DIVSD;
    case H_CVTPD2PS: return H_CVTSD2SS;
    default: return op;
    }
}

/* x (finite, nonzero) scaled by a power of two into [1, 2), sign kept: exact, as the
 * significand is unchanged (a denormal's is normalised). */
static uint64_t to_unit(uint64_t x, unsigned esize)
{
    unsigned mbits = esize == 4 ? 23 : 52;
    uint64_t emask = esize == 4 ? 0xFF : 0x7FF, bias = emask >> 1;
    uint64_t sign = x & (1ull << (8 * esize - 1)), e = (x >> mbits) & emask;
    uint64_t m = x & ((1ull << mbits) - 1);
    if (e == emask || (e == 0 && m == 0)) return x;
    if (e == 0) {
        while (!(m & (1ull << mbits))) m <<= 1;
        m &= (1ull << mbits) - 1;
    }
    return sign | bias << mbits | m;
}

/* x / 4, exact; *lost when that is not exact (x within 2 binades of the denormals). */
static uint64_t quarter(uint64_t x, unsigned esize, bool *lost)
{
    unsigned mbits = esize == 4 ? 23 : 52;
    uint64_t emask = esize == 4 ? 0xFF : 0x7FF, sign = x & (1ull << (8 * esize - 1));
    uint64_t e = (x >> mbits) & emask;
    if (e == emask) return x;
    if (e > 2) return x - (2ull << mbits);
    if (x & ~sign) *lost = true;
    return sign;
}

/* Whether the scalar operation's result, rounded to its precision with an unbounded
 * exponent, is inexact: what PE reports for an element whose overflow or underflow is
 * unmasked (checked against the host). The operands are scaled by powers of two so that
 * the result is a normal number, then the host says whether it was exact. */
static bool unbounded_inexact(unsigned op, Vec a, Vec b, unsigned esize)
{
    bool lost = false;
    unsigned in = op == H_CVTSD2SS ? 8 : esize;
    switch (op) {
    case H_MULSS: case H_MULSD: case H_DIVSS: case H_DIVSD:
        a.q[0] = to_unit(in == 4 ? a.d[0] : a.q[0], in);
        b.q[0] = to_unit(in == 4 ? b.d[0] : b.q[0], in);
        break;
    case H_ADDSS: case H_ADDSD: case H_SUBSS: case H_SUBSD:   /* only overflows get here */
        a.q[0] = quarter(in == 4 ? a.d[0] : a.q[0], in, &lost);
        b.q[0] = quarter(in == 4 ? b.d[0] : b.q[0], in, &lost);
        break;
    default:   /* CVTSD2SS */
        b.q[0] = to_unit(b.q[0], 8);
        break;
    }
    if (lost) return true;
    uint64_t none = 0;
    return (host_fp(op, 0, &a, &b, &none, MXCSR_MASKS) & MXCSR_PE) != 0;
}

/* The flags one element raises as the guest's MXCSR has them, from a masked run of its
 * scalar twin (r: the result, a and b: the operands): with UM = 0 a tiny result is an
 * underflow even when exact (a masked run shows it as a denormal and no flag), and an
 * element whose overflow or underflow is unmasked reports PE for the result rounded with
 * an unbounded exponent (the one a handler would be given), not for the stored one. */
static uint32_t elem_flags(unsigned op, const FpForm *f, const Vec *r, const Vec *a,
                           const Vec *b, uint32_t raised, uint32_t g)
{
    FpForm one = *f;
    one.count = 1;
    if (!(g & MXCSR_UM) && any_denormal(r, &one)) raised |= MXCSR_UE;
    uint32_t unmasked = raised & ~(g >> MXCSR_MASK_SHIFT);
    if (unmasked & (MXCSR_OE | MXCSR_UE)) {
        bool add = op == H_ADDSS || op == H_ADDSD || op == H_SUBSS || op == H_SUBSD;
        bool inexact = (add && (unmasked & MXCSR_UE)) ? false   /* a tiny sum is exact */
                                                      : unbounded_inexact(op, *a, *b, f->esize);
        raised = (raised & ~MXCSR_PE) | (inexact ? MXCSR_PE : 0);
    }
    return raised;
}
#endif

/* Runs the FP operation on r (the destination's copy) and s; commits nothing. Returns the
 * exception flags it raised as the guest's MXCSR defines them, and raises #XM (or #UD
 * with CR4.OSXMMEXCPT = 0) when one is unmasked, following Vol. 1, 11.5.3:
 * - the host runs with every exception masked, with the guest's rounding, DAZ and FZ
 *   (FZ only while underflow is masked, as FZ applies only then: 10.2.3.3);
 * - pre-computation conditions (IE, DE, ZE) are found for all elements first; if one of
 *   them is unmasked, only they are flagged, and #XM;
 * - else the post-computation ones (OE, UE, PE) are flagged too, and #XM if one is
 *   unmasked. With UM = 0, underflow is a tiny result whether or not it is exact
 *   (11.5.2.5): a masked run shows an exact tiny result as a denormal with no flag. When
 *   overflow or underflow is unmasked, packed operations are run again an element at a
 *   time, as the flags then depend on each element (elem_flags).
 * On #XM the destination is unchanged and the flags are set in MXCSR. */
static uint32_t fp_exec(X86Cpu *cpu, const FpForm *f, unsigned imm, Vec *r, const Vec *s,
                        uint64_t *gpr)
{
#if X86_SSE_FP_ON_HOST
    uint32_t g = cpu->mxcsr, run = (g & ~MXCSR_FLAGS) | MXCSR_MASKS;
    if (!(g & MXCSR_UM)) run &= ~MXCSR_FZ;
    Vec orig = *r;
    uint32_t raised = host_fp(f->host, imm, r, s, gpr, run) & MXCSR_FLAGS;
    if (f->tiny && (~g & (MXCSR_OE | MXCSR_UE) << MXCSR_MASK_SHIFT)) {
        raised = 0;
        for (unsigned i = 0; i < f->count; i++) {
            Vec a = { 0 }, b = { 0 }, e;
            uint64_t none = 0;
            if (f->host == H_CVTPD2PS || f->host == H_CVTSD2SS || f->esize == 8) {
                a.q[0] = orig.q[i];
                b.q[0] = s->q[i];
            } else {
                a.d[0] = orig.d[i];
                b.d[0] = s->d[i];
            }
            unsigned op = scalar_twin(f->host);
            e = a;
            uint32_t fl = host_fp(op, 0, &e, &b, &none, run) & MXCSR_FLAGS;
            raised |= elem_flags(op, f, &e, &a, &b, fl, g);
        }
    }
    uint32_t unmasked = raised & ~(g >> MXCSR_MASK_SHIFT) & MXCSR_FLAGS;
    if (unmasked & MXCSR_PRE) raised &= MXCSR_PRE;
    if (unmasked) {
        cpu->mxcsr |= raised;
        x86_fault(cpu, (cpu->cr4 & X86_CR4_OSXMMEXCPT_BIT) ? X86_EXC_XM : X86_EXC_UD, false, 0);
    }
    return raised;
#else
    (void)f; (void)imm; (void)r; (void)s; (void)gpr;
    x86_unimplemented(cpu, "SSE floating point without an x86-64 host");
#endif
}

/* The FP arithmetic forms by opcode: [op - 0x51][prefix], SDM Vol. 2 per instruction. */
#define P(h, n) { h##PS, 16, 4, 4, n }, { h##PD, 16, 8, 2, n }, { h##SD, 8, 8, 1, n }, \
                { h##SS, 4, 4, 1, n }
static const FpForm fp_arith[15][4] = {
    /*0x51*/ { P(H_SQRT, false) },
    /*0x52*/ { { H_RSQRTPS, 16, 4, 4, false }, { 0 }, { 0 }, { H_RSQRTSS, 4, 4, 1, false } },
    /*0x53*/ { { H_RCPPS, 16, 4, 4, false }, { 0 }, { 0 }, { H_RCPSS, 4, 4, 1, false } },
    /*0x54*/ { { 0 } }, /*0x55*/ { { 0 } }, /*0x56*/ { { 0 } }, /*0x57*/ { { 0 } },
    /*0x58*/ { P(H_ADD, true) },
    /*0x59*/ { P(H_MUL, true) },
    /*0x5A*/ { { H_CVTPS2PD, 8, 8, 2, false }, { H_CVTPD2PS, 16, 4, 2, true },
               { H_CVTSD2SS, 8, 4, 1, true }, { H_CVTSS2SD, 4, 8, 1, false } },
    /*0x5B*/ { { H_CVTDQ2PS, 16, 4, 4, false }, { H_CVTPS2DQ, 16, 4, 4, false }, { 0 },
               { H_CVTTPS2DQ, 16, 4, 4, false } },
    /*0x5C*/ { P(H_SUB, true) },
    /*0x5D*/ { P(H_MIN, false) },
    /*0x5E*/ { P(H_DIV, true) },
    /*0x5F*/ { P(H_MAX, false) },
};
#undef P
/* 0F E6 (66 CVTTPD2DQ, F2 CVTPD2DQ, F3 CVTDQ2PD) and 0F C2 (CMPPS/PD/SD/SS). */
static const FpForm fp_e6[4] = { { 0 }, { H_CVTTPD2DQ, 16, 4, 2, false },
                                 { H_CVTPD2DQ, 16, 4, 2, false }, { H_CVTDQ2PD, 8, 8, 2, false } };
static const FpForm fp_cmp[4] = { { H_CMPPS, 16, 4, 4, false }, { H_CMPPD, 16, 8, 2, false },
                                  { H_CMPSD, 8, 8, 1, false }, { H_CMPSS, 4, 4, 1, false } };

/* dst = dst op src for one of the forms above; MXCSR flags on success. */
static void fp_binop(X86Cpu *cpu, const X86Insn *in, const FpForm *f, unsigned imm)
{
    Vec r, s;
    uint64_t g = 0;
    src_op(cpu, in, f->src, &s);
    xmm_get(cpu, in->reg, &r);
    uint32_t flags = fp_exec(cpu, f, imm, &r, &s, &g);
    xmm_set(cpu, in->reg, &r);
    cpu->mxcsr |= flags;
}

/* ---- MMX registers (SDM Vol. 1, chapter 9): MMX itself, and the SSE/SSE2 forms on them ---- */

/* The gates of an MMX instruction (Vol. 2, each one; Vol. 3A 2.5 Table 2-2): CR0.EM or
 * LOCK: #UD; CR0.TS: #NM; then a pending x87 exception: #MF. CR4.OSFXSR is not needed. */
static void mmx_check(X86Cpu *cpu, const X86Insn *in)
{
    if ((cpu->cr0 & X86_CR0_EM) || (in->prefix & PFX_LOCK)) x86_fault(cpu, X86_EXC_UD, false, 0);
    if (cpu->cr0 & X86_CR0_TS) x86_fault(cpu, X86_EXC_NM, false, 0);
    x87_mmx_check(cpu);
}

/* mm/m64 source (no alignment). */
static uint64_t mm_src(X86Cpu *cpu, const X86Insn *in)
{
    return in->mod == 3 ? x87_mmx_read(cpu, in->rm) : mem_read64(cpu, in);
}

/* The result goes to MMX register r: the x87 transition happens with it, after every
 * access that could fault. */
static void mm_set(X86Cpu *cpu, unsigned r, uint64_t v)
{
    x87_mmx_enter(cpu);
    x87_mmx_write(cpu, r, v);
}

/* The prefix-less 0F forms on MMX registers: MMX (Vol. 2, each instruction) and the
 * 64-bit integer instructions SSE and SSE2 added (PSHUFW, PINSRW, PEXTRW, PMOVMSKB,
 * PAVG, PMIN/PMAX, PMULHUW, PSADBW, MASKMOVQ, MOVNTQ, PADDQ/PSUBQ, PMULUDQ). */
static void op_mmx(X86Cpu *cpu, const X86Insn *in, unsigned op, unsigned imm)
{
    mmx_check(cpu, in);
    Vec d = { 0 }, s = { 0 };
    switch (op) {
    case 0x77:              /* EMMS */
        x87_emms(cpu);
        return;
    case 0x6E:              /* MOVD mm, r/m32; REX.W: MOVQ mm, r/m64 */
        mm_set(cpu, in->reg, rm_read(cpu, in, in->osz == 8 ? 8 : 4));
        return;
    case 0x7E:              /* MOVD r/m32, mm; REX.W: MOVQ r/m64, mm */
        rm_write(cpu, in, in->osz == 8 ? 8 : 4,
                 x87_mmx_read(cpu, in->reg) & size_mask(in->osz == 8 ? 8 : 4));
        x87_mmx_enter(cpu);
        return;
    case 0x6F:              /* MOVQ mm, mm/m64 */
        mm_set(cpu, in->reg, mm_src(cpu, in));
        return;
    case 0x7F: case 0xE7:   /* MOVQ mm/m64, mm; MOVNTQ m64, mm */
        if (op == 0xE7) need_mem(cpu, in);
        if (in->mod == 3) {
            mm_set(cpu, in->rm, x87_mmx_read(cpu, in->reg));
        } else {
            mem_write64(cpu, in, x87_mmx_read(cpu, in->reg));
            x87_mmx_enter(cpu);
        }
        return;
    case 0x70:              /* PSHUFW mm, mm/m64, imm8 */
        s.q[0] = mm_src(cpu, in);
        for (unsigned i = 0; i < 4; i++) d.w[i] = s.w[(imm >> (2 * i)) & 3];
        mm_set(cpu, in->reg, d.q[0]);
        return;
    case 0x71: case 0x72: case 0x73:
        need_reg(cpu, in);
        d.q[0] = x87_mmx_read(cpu, in->rm);
        if (!shift_imm(op, in->reg, &d, 8, imm)) x86_fault(cpu, X86_EXC_UD, false, 0);
        mm_set(cpu, in->rm, d.q[0]);
        return;
    case 0xC4: {            /* PINSRW mm, r32/m16, imm8 */
        uint32_t w = rm_read(cpu, in, 2);
        d.q[0] = x87_mmx_read(cpu, in->reg);
        d.w[imm & 3] = (uint16_t)w;
        mm_set(cpu, in->reg, d.q[0]);
        return;
    }
    case 0xC5:              /* PEXTRW r32, mm, imm8 */
        need_reg(cpu, in);
        s.q[0] = x87_mmx_read(cpu, in->rm);
        x87_mmx_enter(cpu);
        reg_write(cpu, in->reg, 4, s.w[imm & 3]);
        return;
    case 0xD7: {            /* PMOVMSKB r32, mm */
        need_reg(cpu, in);
        s.q[0] = x87_mmx_read(cpu, in->rm);
        uint32_t mask = 0;
        for (int i = 0; i < 8; i++) mask |= (uint32_t)(s.b[i] >> 7) << i;
        x87_mmx_enter(cpu);
        reg_write(cpu, in->reg, 4, mask);
        return;
    }
    case 0xF7:              /* MASKMOVQ mm1, mm2 */
        need_reg(cpu, in);
        d.q[0] = x87_mmx_read(cpu, in->reg);
        s.q[0] = x87_mmx_read(cpu, in->rm);
        maskmov(cpu, in, &d, &s, 8);
        x87_mmx_enter(cpu);
        return;
    default:
        break;
    }
    s.q[0] = mm_src(cpu, in);
    d.q[0] = x87_mmx_read(cpu, in->reg);
    if (!int_binop(op, &d, &s, 8)) sse_unimplemented(cpu, in);
    mm_set(cpu, in->reg, d.q[0]);
}

/* The SSE/SSE2 forms that move between MMX and XMM registers (CR4.OSFXSR gates them as
 * SSE): CVTPI2PS/PD, CVT(T)PS2PI, CVT(T)PD2PI (Vol. 2: the x87 transition, and #MF,
 * only when an operand is an MMX register), MOVQ2DQ, MOVDQ2Q. The conversions run as
 * their XMM twins on the low elements (zeros above convert without a flag). */
static void sse_mmx(X86Cpu *cpu, const X86Insn *in, unsigned op, unsigned p)
{
    Vec r, s = { 0 };
    uint64_t g = 0;
    if (op == 0xD6) {       /* F3: MOVQ2DQ xmm, mm; F2: MOVDQ2Q mm, xmm */
        need_reg(cpu, in);
        x87_mmx_check(cpu);
        if (p == SSE_F3) {
            uint64_t v[2] = { x87_mmx_read(cpu, in->rm), 0 };
            x87_mmx_enter(cpu);
            memcpy(cpu->xmm[in->reg], v, 16);
        } else {
            mm_set(cpu, in->reg, cpu->xmm[in->rm][0]);
        }
        return;
    }
    if (op == 0x2A) {       /* CVTPI2PS xmm, mm/m64 (N); CVTPI2PD (66) */
        static const FpForm ps = { H_CVTDQ2PS, 8, 4, 2, false }, pd = { H_CVTDQ2PD, 8, 8, 2, false };
        if (in->mod == 3) x87_mmx_check(cpu);
        s.q[0] = mm_src(cpu, in);
        xmm_get(cpu, in->reg, &r);
        if (in->mod == 3) x87_mmx_enter(cpu);   /* before #XM too (found on the host) */
        uint32_t flags = fp_exec(cpu, p == SSE_66 ? &pd : &ps, 0, &r, &s, &g);
        if (p == SSE_66) cpu->xmm[in->reg][1] = r.q[1];
        cpu->xmm[in->reg][0] = r.q[0];
        cpu->mxcsr |= flags;
        return;
    }
    /* 2C/2D: CVTTPS2PI/CVTPS2PI mm, xmm/m64; 66: CVTTPD2PI/CVTPD2PI mm, xmm/m128 */
    static const FpForm f[2][2] = {
        { { H_CVTTPS2DQ, 8, 4, 2, false }, { H_CVTPS2DQ, 8, 4, 2, false } },
        { { H_CVTTPD2DQ, 16, 4, 2, false }, { H_CVTPD2DQ, 16, 4, 2, false } },
    };
    const FpForm *form = &f[p == SSE_66][op == 0x2D];
    x87_mmx_check(cpu);
    src_op(cpu, in, form->src, &s);
    if (form->src == 8) s.q[1] = 0;
    memset(&r, 0, sizeof r);
    x87_mmx_enter(cpu);   /* before #XM too, as CVTPI2PS (found on the host) */
    uint32_t flags = fp_exec(cpu, form, 0, &r, &s, &g);
    x87_mmx_write(cpu, in->reg, r.q[0]);
    cpu->mxcsr |= flags;
}

/* ---- the dispatcher ---- */

/* The SSE forms the CPU models, by opcode (0F xx): a bit (1 << SSE_NONE/66/F2/F3) for
 * each mandatory prefix it has a form with. The one list of them (decode, op_sse and the
 * disassembler test read it). The prefix-less forms of 0F 60-7F, C4, C5 and D1-FE are
 * MMX's (op_mmx). */
unsigned x86_sse_forms(unsigned op)
{
    enum { N = 1u << SSE_NONE, P66 = 1u << SSE_66, F2 = 1u << SSE_F2, F3 = 1u << SSE_F3 };
    enum { ALL = N | P66 | F2 | F3 };
    op &= 0xFF;
    bool fp = X86_SSE_FP_ON_HOST;
    switch (op) {
    case 0x10: case 0x11:                          /* MOVUPS/UPD/SD/SS */
        return ALL;
    case 0x12: case 0x13: case 0x14: case 0x15: case 0x16: case 0x17:
    case 0x28: case 0x29: case 0x2B:               /* MOVAPS/APD, MOVNTPS/PD */
    case 0x50:                                     /* MOVMSKPS/PD */
    case 0x54: case 0x55: case 0x56: case 0x57:    /* AND ANDN OR XOR PS/PD */
    case 0xC6:                                     /* SHUFPS/PD */
        return N | P66;
    case 0x2A: case 0x2C: case 0x2D:   /* CVT(T)SI2S*, CVT(T)S*2SI; N/66: the MMX ones */
        return fp ? ALL : 0;
    case 0x2E: case 0x2F:                          /* (U)COMISS/SD */
        return fp ? N | P66 : 0;
    case 0x51: case 0x58: case 0x59: case 0x5A: case 0x5C: case 0x5D: case 0x5E: case 0x5F:
    case 0xC2:
        return fp ? ALL : 0;
    case 0x52: case 0x53:                          /* RSQRT, RCP */
        return fp ? N | F3 : 0;
    case 0x5B:                                     /* CVTDQ2PS, CVTPS2DQ, CVTTPS2DQ */
        return fp ? N | P66 | F3 : 0;
    case 0xE6:                                     /* CVTTPD2DQ, CVTPD2DQ, CVTDQ2PD */
        return fp ? P66 | F2 | F3 : 0;
    case 0x70:                                     /* PSHUFW, PSHUFD, PSHUFHW, PSHUFLW */
        return ALL;
    case 0x6F: case 0x7F: case 0x7E:               /* MOVQ/MOVD (MMX), MOVDQA/DQU, MOVD/MOVQ */
        return N | P66 | F3;
    case 0x77:                                     /* EMMS */
        return N;
    case 0xD6:                                     /* MOVQ, MOVQ2DQ, MOVDQ2Q */
        return P66 | F2 | F3;
    case 0x6C: case 0x6D:                          /* PUNPCKL/HQDQ: XMM only */
        return P66;
    default:
        break;
    }
    if ((op >= 0x60 && op <= 0x6E) || (op >= 0x71 && op <= 0x76) || op == 0xC4 || op == 0xC5 ||
        (op >= 0xD1 && op <= 0xFE))
        return N | P66;                            /* MMX (none) and XMM (66) forms */
    return 0;
}

bool x86_sse_modelled(const X86Insn *in)
{
    /* 66 with F2 or F3: "unpredictable" (AMD APM Vol. 3, 1.2.x); not modelled */
    if ((in->prefix & PFX_OPSIZE) && (in->prefix & (PFX_REP | PFX_REPNE))) return false;
    return (x86_sse_forms(in->op) >> sse_prefix(in)) & 1;
}

/* 0F 12/13/16/17: the 64-bit halves. Loads: MOVLPS/MOVLPD (12) and MOVHPS/MOVHPD (16)
 * from m64; without 66 the register forms are MOVHLPS (12) and MOVLHPS (16). Stores
 * (13, 17) are memory only; so are the 66 forms. */
static void move_half(X86Cpu *cpu, const X86Insn *in, unsigned op, unsigned p)
{
    uint64_t *x = cpu->xmm[in->reg];
    unsigned half = (op & 4) ? 1 : 0;
    if (op & 1) {                       /* 13, 17: store */
        need_mem(cpu, in);
        mem_write64(cpu, in, x[half]);
        return;
    }
    if (in->mod == 3) {
        if (p == SSE_66) x86_fault(cpu, X86_EXC_UD, false, 0);
        x[half] = cpu->xmm[in->rm][half ^ 1];   /* MOVHLPS: low = src high; MOVLHPS: high = src low */
        return;
    }
    x[half] = mem_read64(cpu, in);
}

/* 0F 14/15 UNPCKL/H PS/PD and 0F C6 SHUFPS/PD: element moves, no FP exceptions. */
static void fp_shuffle(X86Cpu *cpu, const X86Insn *in, unsigned op, unsigned p, unsigned imm)
{
    Vec d, s, r;
    src_op(cpu, in, 16, &s);
    xmm_get(cpu, in->reg, &d);
    unsigned e = p == SSE_66 ? 8 : 4;
    if (op == 0x14 || op == 0x15) {
        unpack(&d, &s, 16, e, op == 0x15);
        r = d;
    } else if (e == 4) {
        r.d[0] = d.d[imm & 3];
        r.d[1] = d.d[(imm >> 2) & 3];
        r.d[2] = s.d[(imm >> 4) & 3];
        r.d[3] = s.d[(imm >> 6) & 3];
    } else {
        r.q[0] = d.q[imm & 1];
        r.q[1] = s.q[(imm >> 1) & 1];
    }
    xmm_set(cpu, in->reg, &r);
}

/* 0F 2A/2C/2D with F3/F2, 0F 2E/2F: the conversions with a GPR and the compares into
 * EFLAGS. */
static void fp_gpr(X86Cpu *cpu, const X86Insn *in, unsigned op, unsigned p)
{
    Vec r, s;
    uint64_t g = 0;
    bool dbl = p == SSE_F2 || p == SSE_66;
    FpForm f = { 0, dbl ? 8 : 4, dbl ? 8 : 4, 1, false };
    bool q = in->osz == 8;   /* REX.W: a 64-bit integer (CVTSI2SS r/m64, CVTSS2SI r64, ...) */
    xmm_get(cpu, in->reg, &r);
    if (op == 0x2A) {                   /* CVTSI2SS/SD xmm, r/m32 (r/m64) */
        g = rm_read(cpu, in, q ? 8 : 4);
        memset(&s, 0, sizeof s);
        f.host = q ? (dbl ? H_CVTSI2SDQ : H_CVTSI2SSQ) : dbl ? H_CVTSI2SD : H_CVTSI2SS;
        cpu->mxcsr |= fp_exec(cpu, &f, 0, &r, &s, &g);
        xmm_set(cpu, in->reg, &r);
        return;
    }
    src_op(cpu, in, f.src, &s);
    if (op == 0x2C || op == 0x2D) {     /* CVT(T)SS2SI, CVT(T)SD2SI r32, xmm/m */
        f.host = dbl ? (op == 0x2C ? H_CVTTSD2SI : H_CVTSD2SI)
                     : (op == 0x2C ? H_CVTTSS2SI : H_CVTSS2SI);
        if (q) f.host += H_CVTSS2SIQ - H_CVTSS2SI;
        uint32_t flags = fp_exec(cpu, &f, 0, &r, &s, &g);
        reg_write(cpu, in->reg, q ? 8 : 4, g);
        cpu->mxcsr |= flags;
        return;
    }
    /* 2E UCOMISS/UCOMISD, 2F COMISS/COMISD: ZF PF CF from the compare; OF SF AF = 0 */
    f.host = dbl ? (op == 0x2E ? H_UCOMISD : H_COMISD) : (op == 0x2E ? H_UCOMISS : H_COMISS);
    uint32_t flags = fp_exec(cpu, &f, 0, &r, &s, &g);
    flags_set_arith(cpu, g, X86_FLAGS_ARITH);
    cpu->mxcsr |= flags;
}

void op_sse(X86Cpu *cpu, const X86Insn *in)
{
    if (!x86_sse_modelled(in)) sse_unimplemented(cpu, in);   /* decode.c makes these op_unimpl */
    unsigned op = in->op & 0xFF, p = sse_prefix(in), imm = in->imm & 0xFF;
    bool mmx_op = (op >= 0x60 && op <= 0x7F) || op == 0xC4 || op == 0xC5 || op >= 0xD1;
    if (p == SSE_NONE && mmx_op) {
        op_mmx(cpu, in, op, imm);
        return;
    }
    sse_check(cpu, in);
    if (((op == 0x2A || op == 0x2C || op == 0x2D) && (p == SSE_NONE || p == SSE_66)) ||
        (op == 0xD6 && p != SSE_66)) {
        sse_mmx(cpu, in, op, p);
        return;
    }
    Vec d, s;
    uint64_t v[2], *x = cpu->xmm[in->reg];
    switch (op) {
    case 0x10: case 0x11:
        movu_or_scalar(cpu, in, op == 0x11);
        return;
    case 0x12: case 0x13: case 0x16: case 0x17:
        move_half(cpu, in, op, p);
        return;
    case 0x14: case 0x15: case 0xC6:
        fp_shuffle(cpu, in, op, p, imm);
        return;
    case 0x28: case 0x29:   /* MOVAPS, MOVAPD */
        if (op == 0x29) {
            dst128(cpu, in, 16, x);
        } else {
            src128(cpu, in, 16, v);
            memcpy(x, v, 16);
        }
        return;
    case 0x2B: case 0xE7:   /* MOVNTPS, MOVNTPD; 66 0F E7 MOVNTDQ: memory only */
        need_mem(cpu, in);
        dst128(cpu, in, 16, x);
        return;
    case 0x2A: case 0x2C: case 0x2D: case 0x2E: case 0x2F:
        fp_gpr(cpu, in, op, p);
        return;
    case 0x50: {            /* MOVMSKPS/PD r32, xmm: the sign bits */
        need_reg(cpu, in);
        xmm_get(cpu, in->rm, &s);
        uint32_t m = p == SSE_66 ? (uint32_t)(s.q[0] >> 63 | (s.q[1] >> 63) << 1)
                                 : (s.d[0] >> 31 | (s.d[1] >> 31) << 1 | (s.d[2] >> 31) << 2 |
                                    (s.d[3] >> 31) << 3);
        reg_write(cpu, in->reg, 4, m);
        return;
    }
    case 0x54: case 0x55: case 0x56: case 0x57: {   /* ANDPS ANDNPS ORPS XORPS (66: PD) */
        static const uint8_t as_int[4] = { 0xDB, 0xDF, 0xEB, 0xEF };
        src_op(cpu, in, 16, &s);
        xmm_get(cpu, in->reg, &d);
        int_binop(as_int[op - 0x54], &d, &s, 16);
        xmm_set(cpu, in->reg, &d);
        return;
    }
    case 0x51: case 0x52: case 0x53: case 0x58: case 0x59: case 0x5A: case 0x5B:
    case 0x5C: case 0x5D: case 0x5E: case 0x5F:
        fp_binop(cpu, in, &fp_arith[op - 0x51][p], 0);
        return;
    case 0xC2:
        fp_binop(cpu, in, &fp_cmp[p], imm);
        return;
    case 0xE6:
        fp_binop(cpu, in, &fp_e6[p], 0);
        return;
    case 0x6F: case 0x7F:   /* MOVDQA (66), MOVDQU (F3) */
        if (op == 0x7F) {
            dst128(cpu, in, p == SSE_66 ? 16 : 0, x);
        } else {
            src128(cpu, in, p == SSE_66 ? 16 : 0, v);
            memcpy(x, v, 16);
        }
        return;
    case 0x6E:              /* 66: MOVD xmm, r/m32; REX.W: MOVQ xmm, r/m64 */
        x[0] = rm_read(cpu, in, in->osz == 8 ? 8 : 4);
        x[1] = 0;
        return;
    case 0x7E:
        if (p == SSE_66) {  /* MOVD r/m32, xmm; REX.W: MOVQ r/m64, xmm */
            rm_write(cpu, in, in->osz == 8 ? 8 : 4, x[0] & size_mask(in->osz == 8 ? 8 : 4));
            return;
        }
        x[0] = in->mod == 3 ? cpu->xmm[in->rm][0] : mem_read64(cpu, in);   /* MOVQ xmm, xmm/m64 */
        x[1] = 0;
        return;
    case 0xD6:              /* 66: MOVQ xmm/m64, xmm */
        if (in->mod == 3) {
            cpu->xmm[in->rm][0] = x[0];
            cpu->xmm[in->rm][1] = 0;
        } else {
            mem_write64(cpu, in, x[0]);
        }
        return;
    case 0xD7: {            /* 66: PMOVMSKB r32, xmm */
        need_reg(cpu, in);
        uint32_t mask = 0;
        xmm_get(cpu, in->rm, &s);
        for (int i = 0; i < 16; i++) mask |= (uint32_t)(s.b[i] >> 7) << i;
        reg_write(cpu, in->reg, 4, mask);
        return;
    }
    case 0x70:              /* PSHUFD, PSHUFHW, PSHUFLW xmm, xmm/m128, imm8 */
        src_op(cpu, in, 16, &s);
        pshuf(&d, &s, p, imm);
        xmm_set(cpu, in->reg, &d);
        return;
    case 0x71: case 0x72: case 0x73:   /* shifts by imm8 of the r/m register */
        need_reg(cpu, in);
        xmm_get(cpu, in->rm, &d);
        if (!shift_imm(op, in->reg, &d, 16, imm)) x86_fault(cpu, X86_EXC_UD, false, 0);
        xmm_set(cpu, in->rm, &d);
        return;
    case 0xC4: {            /* PINSRW xmm, r32/m16, imm8 */
        uint32_t w = rm_read(cpu, in, 2);
        xmm_get(cpu, in->reg, &d);
        d.w[imm & 7] = (uint16_t)w;
        xmm_set(cpu, in->reg, &d);
        return;
    }
    case 0xC5:              /* PEXTRW r32, xmm, imm8 */
        need_reg(cpu, in);
        xmm_get(cpu, in->rm, &s);
        reg_write(cpu, in->reg, 4, s.w[imm & 7]);
        return;
    case 0xF7:              /* MASKMOVDQU xmm, xmm */
        need_reg(cpu, in);
        xmm_get(cpu, in->reg, &d);
        xmm_get(cpu, in->rm, &s);
        maskmov(cpu, in, &d, &s, 16);
        return;
    default:
        break;
    }
    src_op(cpu, in, 16, &s);
    xmm_get(cpu, in->reg, &d);
    if (!int_binop(op, &d, &s, 16)) sse_unimplemented(cpu, in);
    xmm_set(cpu, in->reg, &d);
}

/* MXCSR bits this CPU has: flags, masks, DAZ, rounding and FZ (SDM Vol. 1, 10.2.3); setting
 * any other is #GP(0). FXSAVE stores this as MXCSR_MASK. */
#define MXCSR_MASK 0xFFFFu

/* FXSAVE image, 32-bit format (SDM Vol. 2A, FXSAVE, Table 3-53): x87 control, status,
 * abridged tag (1 bit a physical register: not empty), opcode, instruction and operand
 * pointers, then MXCSR and its mask, ST0-ST7 in 16-byte slots, XMM0-XMM7. */
static void fxsave_image(const X86Cpu *cpu, uint8_t img[512])
{
    memset(img, 0, 512);
    memcpy(img + 0, &cpu->fpu_cw, 2);
    memcpy(img + 2, &cpu->fpu_sw, 2);
    memcpy(img + 6, &cpu->fpu_fop, 2);
    memcpy(img + 8, &cpu->fpu_fip, 4);
    memcpy(img + 12, &cpu->fpu_fcs, 2);
    memcpy(img + 16, &cpu->fpu_fdp, 4);
    memcpy(img + 20, &cpu->fpu_fds, 2);
    uint8_t abridged = 0;
    for (int i = 0; i < 8; i++)
        if (((cpu->fpu_tw >> (2 * i)) & 3) != 3) abridged |= (uint8_t)(1u << i);
    img[4] = abridged;
    uint32_t mxcsr = cpu->mxcsr, mask = MXCSR_MASK;
    memcpy(img + 24, &mxcsr, 4);
    memcpy(img + 28, &mask, 4);
    x87_fxsave_registers(cpu, img + 32);
    memcpy(img + 160, cpu->xmm, x86_long64(cpu) ? 256 : 128);   /* XMM8-15: 64-bit mode */
}

/* 0F AE: FXSAVE /0, FXRSTOR /1, LDMXCSR /2, STMXCSR /3 with memory; LFENCE /5, MFENCE /6,
 * SFENCE /7 with a register (ordering is already total here). Others: not modelled. */
void op_grp15(X86Cpu *cpu, const X86Insn *in)
{
    if (in->mod == 3) {
        if (in->reg >= 5 && !(in->prefix & (PFX_REP | PFX_REPNE | PFX_OPSIZE))) return;
        sse_unimplemented(cpu, in);
    }
    if (in->prefix & (PFX_REP | PFX_REPNE | PFX_OPSIZE)) sse_unimplemented(cpu, in);
    switch (in->reg) {
    case 0: case 1: {   /* FXSAVE, FXRSTOR: EM or TS is #NM (not #UD); OSFXSR not needed */
        if (in->prefix & PFX_LOCK) x86_fault(cpu, X86_EXC_UD, false, 0);
        if (cpu->cr0 & (X86_CR0_EM | X86_CR0_TS)) x86_fault(cpu, X86_EXC_NM, false, 0);
        unsigned access = in->reg == 0 ? X86_ACCESS_WRITE : X86_ACCESS_READ;
        uint64_t lin = sse_lin(cpu, in, 512, access, 16);
        uint8_t img[512];
        if (in->reg == 0) {
            fxsave_image(cpu, img);
            x86_ram_ptr(cpu, lin, 1, X86_ACCESS_WRITE);
            x86_ram_ptr(cpu, x86_lin_wrap(cpu, lin + 511), 1, X86_ACCESS_WRITE);
            for (unsigned i = 0; i < 512; i += 8) {
                uint64_t q;
                memcpy(&q, img + i, 8);
                x86_write64(cpu, x86_lin_wrap(cpu, lin + i), q);
            }
            return;
        }
        for (unsigned i = 0; i < 512; i += 8) {
            uint64_t q = x86_read64(cpu, x86_lin_wrap(cpu, lin + i));
            memcpy(img + i, &q, 8);
        }
        uint32_t mxcsr;
        memcpy(&mxcsr, img + 24, 4);
        if (mxcsr & ~MXCSR_MASK) x86_fault(cpu, X86_EXC_GP, true, 0);
        memcpy(&cpu->fpu_cw, img + 0, 2);
        memcpy(&cpu->fpu_sw, img + 2, 2);
        memcpy(&cpu->fpu_fop, img + 6, 2);
        cpu->fpu_fop &= 0x7FF;
        memcpy(&cpu->fpu_fip, img + 8, 4);
        memcpy(&cpu->fpu_fcs, img + 12, 2);
        memcpy(&cpu->fpu_fdp, img + 16, 4);
        memcpy(&cpu->fpu_fds, img + 20, 2);
        uint16_t tw = 0;
        for (int i = 0; i < 8; i++)
            tw |= (uint16_t)(((img[4] >> i) & 1 ? 0u : 3u) << (2 * i));
        cpu->fpu_tw = tw;   /* not empty: valid here; x87_fxrstor_registers refines it */
        cpu->mxcsr = mxcsr;
        x87_fxrstor_registers(cpu, img + 32);
        memcpy(cpu->xmm, img + 160, x86_long64(cpu) ? 256 : 128);
        return;
    }
    case 2: case 3: {   /* LDMXCSR, STMXCSR */
        sse_check(cpu, in);
        uint64_t ea = insn_ea(cpu, in);
        if (in->reg == 3) {
            mem_write(cpu, in->seg, ea, 4, cpu->mxcsr);
            return;
        }
        uint32_t m = mem_read(cpu, in->seg, ea, 4);
        if (m & ~MXCSR_MASK) x86_fault(cpu, X86_EXC_GP, true, 0);
        cpu->mxcsr = m;
        return;
    }
    default:
        sse_unimplemented(cpu, in);
    }
}

/* 0F C3 MOVNTI m32, r32 (SSE2): a plain store here; a register operand is #UD. */
void op_movnti(X86Cpu *cpu, const X86Insn *in)
{
    if (in->mod == 3 || (in->prefix & (PFX_REP | PFX_REPNE | PFX_OPSIZE | PFX_LOCK)))
        x86_fault(cpu, X86_EXC_UD, false, 0);
    unsigned size = in->osz == 8 ? 8 : 4;   /* REX.W: MOVNTI m64, r64 */
    mem_write(cpu, in->seg, insn_ea(cpu, in), size, reg_read(cpu, in->reg, size));
}

/* 0F 38 F0/F1 MOVBE r, m / m, r (SDM Vol. 2B): a load or store with the bytes reversed;
 * a register operand, LOCK, or F2/F3 (CRC32: not claimed) are #UD. */
void op_movbe(X86Cpu *cpu, const X86Insn *in)
{
    if (in->mod == 3 || (in->prefix & (PFX_REP | PFX_REPNE | PFX_LOCK)))
        x86_fault(cpu, X86_EXC_UD, false, 0);
    unsigned size = in->osz;
    uint64_t ea = insn_ea(cpu, in);
    if (in->imm2 == 0xF0) {   /* the third opcode byte (decode.c) */
        uint64_t v = mem_read(cpu, in->seg, ea, size);
        v = size == 2 ? __builtin_bswap16((uint16_t)v)
          : size == 4 ? __builtin_bswap32((uint32_t)v) : __builtin_bswap64(v);
        reg_write(cpu, in->reg, size, v);
    } else {
        uint64_t v = reg_read(cpu, in->reg, size);
        v = size == 2 ? __builtin_bswap16((uint16_t)v)
          : size == 4 ? __builtin_bswap32((uint32_t)v) : __builtin_bswap64(v);
        mem_write(cpu, in->seg, ea, size, v);
    }
}
