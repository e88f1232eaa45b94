/* The SSE/SSE2 part of the sim CPU: the eight XMM registers and MXCSR, FXSAVE/FXRSTOR,
 * LDMXCSR/STMXCSR, the fences, and the data movement and bitwise instructions (SDM Vol. 1,
 * chapters 10-11; Vol. 2 for each). No SSE arithmetic, conversion, shuffle or compare
 * beyond PCMPEQ*: such an instruction ends the run with an internal error that names it,
 * never a wrong result. MOVBE and MOVNTI are here too (general-purpose, but of this era).
 *
 * Mandatory prefixes pick the instruction: none (packed single), 66 (packed double or
 * integer), F3 (scalar single), F2 (scalar double); F2/F3 win over 66. */
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
    v[1] = x86_read64(cpu, (uint32_t)(lin + 8));
}

/* Both pages are checked for writing before a byte is written: a store that faults on its
 * second page leaves the first unchanged, as the processor does. */
static void store128(X86Cpu *cpu, uint64_t lin, const uint64_t v[2])
{
    x86_ram_ptr(cpu, lin, 1, X86_ACCESS_WRITE);
    x86_ram_ptr(cpu, (uint32_t)(lin + 15), 1, X86_ACCESS_WRITE);
    x86_write64(cpu, lin, v[0]);
    x86_write64(cpu, (uint32_t)(lin + 8), v[1]);
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

/* 0F 54-57 and 66 0F DB/DF/EB/EF: AND, ANDN, OR, XOR on all 128 bits. */
static void bitwise(X86Cpu *cpu, const X86Insn *in, unsigned kind)
{
    uint64_t v[2], *x = cpu->xmm[in->reg];
    src128(cpu, in, 16, v);
    for (int i = 0; i < 2; i++) {
        switch (kind) {
        case 0: x[i] &= v[i]; break;
        case 1: x[i] = ~x[i] & v[i]; break;
        case 2: x[i] |= v[i]; break;
        default: x[i] ^= v[i]; break;
        }
    }
}

/* 66 0F 74/75/76: PCMPEQB/W/D, each element all ones where equal. */
static void pcmpeq(X86Cpu *cpu, const X86Insn *in, unsigned size)
{
    uint64_t v[2];
    uint8_t a[16], b[16];
    src128(cpu, in, 16, v);
    memcpy(a, cpu->xmm[in->reg], 16);
    memcpy(b, v, 16);
    for (unsigned i = 0; i < 16; i += size) {
        bool eq = memcmp(a + i, b + i, size) == 0;
        memset(a + i, eq ? 0xFF : 0, size);
    }
    memcpy(cpu->xmm[in->reg], a, 16);
}

/* The SSE forms the CPU models, by opcode (0F xx): a bit (1 << SSE_NONE/66/F2/F3) for
 * each mandatory prefix it has a form with. The one list of them (decode, op_sse and the
 * disassembler test read it). */
unsigned x86_sse_forms(unsigned op)
{
    enum { N = 1u << SSE_NONE, P66 = 1u << SSE_66, F2 = 1u << SSE_F2, F3 = 1u << SSE_F3 };
    switch (op & 0xFF) {
    case 0x10: case 0x11:                          /* MOVUPS/UPD/SD/SS */
        return N | P66 | F2 | F3;
    case 0x28: case 0x29: case 0x2B:               /* MOVAPS/APD, MOVNTPS/PD */
    case 0x54: case 0x55: case 0x56: case 0x57:    /* AND ANDN OR XOR PS/PD */
        return N | P66;
    case 0x6F: case 0x7F: case 0x7E:               /* MOVDQA/DQU, MOVD/MOVQ */
        return P66 | F3;
    case 0x6E: case 0x74: case 0x75: case 0x76: case 0xD6: case 0xD7:
    case 0xDB: case 0xDF: case 0xE7: case 0xEB: case 0xEF:
        return P66;                                /* the XMM forms, not MMX's */
    default:
        return 0;
    }
}

bool x86_sse_modelled(const X86Insn *in)
{
    /* 66 with F2 or F3: "unpredictable" (AMD APM Vol. 3, 1.2.x); not modelled */
    if ((in->prefix & PFX_OPSIZE) && (in->prefix & (PFX_REP | PFX_REPNE))) return false;
    return (x86_sse_forms(in->op) >> sse_prefix(in)) & 1;
}

void op_sse(X86Cpu *cpu, const X86Insn *in)
{
    if (!x86_sse_modelled(in)) sse_unimplemented(cpu, in);   /* decode.c makes these op_unimpl */
    unsigned op = in->op & 0xFF, p = sse_prefix(in);
    sse_check(cpu, in);
    uint64_t v[2], *x = cpu->xmm[in->reg];
    switch (op) {
    case 0x10: case 0x11:
        movu_or_scalar(cpu, in, op == 0x11);
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
        if (in->mod == 3) x86_fault(cpu, X86_EXC_UD, false, 0);
        dst128(cpu, in, 16, x);
        return;
    case 0x54: case 0x55: case 0x56: case 0x57:   /* ANDPS ANDNPS ORPS XORPS (66: PD) */
        bitwise(cpu, in, op - 0x54);
        return;
    case 0xDB: case 0xDF: case 0xEB: case 0xEF:   /* PAND PANDN POR PXOR */
        bitwise(cpu, in, op == 0xDB ? 0 : op == 0xDF ? 1 : op == 0xEB ? 2 : 3);
        return;
    case 0x6F: case 0x7F:   /* MOVDQA (66), MOVDQU (F3) */
        if (op == 0x7F) {
            dst128(cpu, in, p == SSE_66 ? 16 : 0, x);
        } else {
            src128(cpu, in, p == SSE_66 ? 16 : 0, v);
            memcpy(x, v, 16);
        }
        return;
    case 0x6E:              /* 66: MOVD xmm, r/m32 */
        x[0] = rm_read(cpu, in, 4);
        x[1] = 0;
        return;
    case 0x7E:
        if (p == SSE_66) {  /* MOVD r/m32, xmm */
            rm_write(cpu, in, 4, (uint32_t)x[0]);
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
    case 0x74: case 0x75: case 0x76:
        pcmpeq(cpu, in, 1u << (op - 0x74));
        return;
    case 0xD7: {            /* 66: PMOVMSKB r32, xmm */
        if (in->mod != 3) x86_fault(cpu, X86_EXC_UD, false, 0);
        uint8_t b[16];
        uint32_t mask = 0;
        memcpy(b, cpu->xmm[in->rm], 16);
        for (int i = 0; i < 16; i++) mask |= (uint32_t)(b[i] >> 7) << i;
        reg_write(cpu, in->reg, 4, mask);
        return;
    }
    default:
        break;
    }
    sse_unimplemented(cpu, in);
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
    memcpy(img + 160, cpu->xmm, 128);
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
            x86_ram_ptr(cpu, (uint32_t)(lin + 511), 1, X86_ACCESS_WRITE);
            for (unsigned i = 0; i < 512; i += 8) {
                uint64_t q;
                memcpy(&q, img + i, 8);
                x86_write64(cpu, (uint32_t)(lin + i), q);
            }
            return;
        }
        for (unsigned i = 0; i < 512; i += 8) {
            uint64_t q = x86_read64(cpu, (uint32_t)(lin + i));
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
        memcpy(cpu->xmm, img + 160, 128);
        return;
    }
    case 2: case 3: {   /* LDMXCSR, STMXCSR */
        sse_check(cpu, in);
        uint32_t ea = insn_ea(cpu, in);
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
    mem_write(cpu, in->seg, insn_ea(cpu, in), 4, reg_read(cpu, in->reg, 4));
}

/* 0F 38 F0/F1 MOVBE r, m / m, r (SDM Vol. 2B): a load or store with the bytes reversed;
 * a register operand, LOCK, or F2/F3 (CRC32: not claimed) are #UD. */
void op_movbe(X86Cpu *cpu, const X86Insn *in)
{
    if (in->mod == 3 || (in->prefix & (PFX_REP | PFX_REPNE | PFX_LOCK)))
        x86_fault(cpu, X86_EXC_UD, false, 0);
    unsigned size = in->osz;
    uint32_t ea = insn_ea(cpu, in);
    if (in->imm2 == 0xF0) {   /* the third opcode byte (decode.c) */
        uint32_t v = mem_read(cpu, in->seg, ea, size);
        v = size == 2 ? __builtin_bswap16((uint16_t)v) : __builtin_bswap32(v);
        reg_write(cpu, in->reg, size, v);
    } else {
        uint32_t v = reg_read(cpu, in->reg, size);
        v = size == 2 ? __builtin_bswap16((uint16_t)v) : __builtin_bswap32(v);
        mem_write(cpu, in->seg, ea, size, v);
    }
}
