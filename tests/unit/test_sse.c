/*
 * Unit tests of the sim CPU's MMX/SSE/SSE2 (src/sim/cpu/cpu_sse.c; the results of every
 * form are compared with the host in test_sse_diff.c): the CR0/CR4 gates, MMX on the x87,
 * the 128-bit moves and their alignment rules, scalar moves, bitwise ops, PCMPEQ and
 * PMOVMSKB, MOVD/MOVQ, FXSAVE/FXRSTOR (with the x87 stack) and MXCSR, MOVBE; and string I/O to and from MMIO
 * (src/sim/cpu/cpu_io.c), one element per exit. Real mode, code at 0x1000, data at 0x3000.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sim/cpu/cpu.h"

#define RAM_SIZE (1u << 20)
#define MMIO_BASE 0xB8000u
#define MMIO_END 0xC0000u
#define CODE 0x1000u
#define DATA 0x3000u
#define HANDLER 0x2000u   /* every exception vector lands on a HLT here */

#include "cpu_fixture.h"

/* Real mode with CR4.OSFXSR set, every IVT entry of 0-31 pointing at a HLT at HANDLER. */
static int setup(void **state)
{
    Fx *fx = fx_create_real(CODE, 0x8000);
    if (!fx) return -1;
    fx->cpu->cr4 |= X86_CR4_OSFXSR_BIT;
    fx_real_vectors_to_hlt(fx, 32, HANDLER);
    *state = fx;
    return 0;
}

static void load(Fx *fx, const uint8_t *code, size_t n)
{
    memcpy(fx->ram + CODE, code, n);
    x86_cpu_invalidate_code(fx->cpu, CODE, n);
    fx->cpu->rip = CODE;
}

/* Runs to a HLT: 0 when it is the exception handler's (see only_vector), -1 when it is
 * the code's own. */
static int run_to_hlt(Fx *fx)
{
    assert_int_equal(x86_cpu_run(fx->cpu, 0), X86_EXIT_HLT);
    return fx->cpu->rip == HANDLER + 1 ? 0 : -1;
}

static uint16_t pushed_ip(Fx *fx)
{
    uint32_t sp = (uint32_t)fx->cpu->gpr[X86_RSP] & 0xFFFF;
    return (uint16_t)(fx->ram[sp] | fx->ram[sp + 1] << 8);
}

/* Points vector v (and only v) at the handler; the others at a HLT elsewhere, so a test
 * sees which exception came. */
static void only_vector(Fx *fx, int v)
{
    fx->ram[0x2100] = 0xF4;
    for (int i = 0; i < 32; i++) {
        uint16_t h = i == v ? HANDLER : 0x2100;
        fx->ram[4 * i] = h & 0xFF;
        fx->ram[4 * i + 1] = h >> 8;
    }
}

static void put128(Fx *fx, uint32_t at, uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
    uint32_t v[4] = {a, b, c, d};
    memcpy(fx->ram + at, v, 16);
}

static void test_sse_gates(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    static const uint8_t movups[] = {0x0F, 0x10, 0x06, 0x00, 0x30, 0xF4};   /* movups xmm0,[0x3000] */
    only_vector(fx, X86_EXC_UD);
    cpu->cr4 &= ~(uint64_t)X86_CR4_OSFXSR_BIT;
    load(fx, movups, sizeof movups);
    assert_int_equal(run_to_hlt(fx), 0);
    assert_int_equal(pushed_ip(fx), CODE);

    cpu->cr4 |= X86_CR4_OSFXSR_BIT;
    cpu->cr0 |= X86_CR0_EM;
    cpu->gpr[X86_RSP] = 0x8000;
    load(fx, movups, sizeof movups);
    assert_int_equal(run_to_hlt(fx), 0);

    cpu->cr0 &= ~(uint64_t)X86_CR0_EM;
    cpu->cr0 |= X86_CR0_TS;
    only_vector(fx, X86_EXC_NM);
    cpu->gpr[X86_RSP] = 0x8000;
    load(fx, movups, sizeof movups);
    assert_int_equal(run_to_hlt(fx), 0);
    assert_int_equal(pushed_ip(fx), CODE);

    cpu->cr0 &= ~(uint64_t)X86_CR0_TS;
    load(fx, movups, sizeof movups);
    assert_int_equal(run_to_hlt(fx), -1);
}

/* MMX (SDM Vol. 2, each MMX instruction; Vol. 1 9.5): CR0.EM is #UD, CR0.TS #NM, and
 * CR4.OSFXSR is not needed; MM0 is the significand of R0, written with the exponent bits
 * all ones, TOP 0 and every register in use; EMMS empties them all. A pending x87
 * exception is #MF first (CR0.NE). PSHUFD, the instruction glibc's SSE2 string
 * functions reached first, shuffles. */
static void test_mmx_gates_and_x87_state(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    static const uint8_t movq[] = {0x0F, 0x6F, 0x06, 0x00, 0x30, 0xF4};   /* movq mm0,[0x3000] */
    static const uint8_t emms[] = {0x0F, 0x77, 0xF4};
    put128(fx, DATA, 0x44332211, 0x88776655, 0, 0);
    cpu->cr4 &= ~(uint64_t)X86_CR4_OSFXSR_BIT;
    cpu->cr0 |= X86_CR0_EM;
    only_vector(fx, X86_EXC_UD);
    load(fx, movq, sizeof movq);
    assert_int_equal(run_to_hlt(fx), 0);

    cpu->cr0 = (cpu->cr0 & ~(uint64_t)X86_CR0_EM) | X86_CR0_TS;
    only_vector(fx, X86_EXC_NM);
    cpu->gpr[X86_RSP] = 0x8000;
    load(fx, movq, sizeof movq);
    assert_int_equal(run_to_hlt(fx), 0);

    cpu->cr0 = (cpu->cr0 & ~(uint64_t)X86_CR0_TS) | X86_CR0_NE;
    cpu->fpu_sw = 0x8081 | (5u << 11);   /* B, ES, IE pending; TOP 5 */
    only_vector(fx, X86_EXC_MF);
    cpu->gpr[X86_RSP] = 0x8000;
    load(fx, movq, sizeof movq);
    assert_int_equal(run_to_hlt(fx), 0);
    assert_int_equal(pushed_ip(fx), CODE);

    cpu->fpu_sw = 5u << 11;
    cpu->fpu_tw = 0xFFFF;
    load(fx, movq, sizeof movq);
    assert_int_equal(run_to_hlt(fx), -1);
    uint64_t m;
    memcpy(&m, cpu->fpu_reg[0], 8);
    assert_true(m == 0x8877665544332211ull);
    assert_int_equal(cpu->fpu_reg[0][8], 0xFF);
    assert_int_equal(cpu->fpu_reg[0][9], 0xFF);
    assert_int_equal((cpu->fpu_sw >> 11) & 7, 0);
    assert_int_not_equal(cpu->fpu_tw & 3, 3);   /* R0 in use */
    assert_int_not_equal(cpu->fpu_tw >> 14, 3); /* R7 too */
    load(fx, emms, sizeof emms);
    assert_int_equal(run_to_hlt(fx), -1);
    assert_int_equal(cpu->fpu_tw, 0xFFFF);

    static const uint8_t pshufd[] = {0x66, 0x0F, 0x70, 0xC1, 0x1B, 0xF4};  /* pshufd xmm0,xmm1,0x1b */
    cpu->cr4 |= X86_CR4_OSFXSR_BIT;
    cpu->xmm[1][0] = 0x2222222211111111ull;
    cpu->xmm[1][1] = 0x4444444433333333ull;
    load(fx, pshufd, sizeof pshufd);
    assert_int_equal(run_to_hlt(fx), -1);
    assert_true(cpu->xmm[0][0] == 0x3333333344444444ull && cpu->xmm[0][1] == 0x1111111122222222ull);
}

static void test_sse_moves_and_alignment(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    static const uint8_t code[] = {
        0xF3, 0x0F, 0x6F, 0x06, 0x00, 0x30,   /* movdqu xmm0, [0x3000] */
        0x0F, 0x29, 0x06, 0x20, 0x30,         /* movaps [0x3020], xmm0 */
        0x66, 0x0F, 0x11, 0x06, 0x71, 0x30,   /* movupd [0x3071], xmm0 (misaligned) */
        0x0F, 0x28, 0xC8,                     /* movaps xmm1, xmm0 */
        0x66, 0x0F, 0x7F, 0x0E, 0x40, 0x30,   /* movdqa [0x3040], xmm1 */
        0x66, 0x0F, 0x29, 0x06, 0x58, 0x30,   /* movapd [0x3058], xmm0: #GP */
        0xF4,
    };
    put128(fx, DATA, 0x11111111, 0x22222222, 0x33333333, 0x44444444);
    only_vector(fx, X86_EXC_GP);
    load(fx, code, sizeof code);
    assert_int_equal(run_to_hlt(fx), 0);
    assert_int_equal(pushed_ip(fx), CODE + 26);
    assert_memory_equal(fx->ram + 0x3020, fx->ram + DATA, 16);
    assert_memory_equal(fx->ram + 0x3071, fx->ram + DATA, 16);
    assert_memory_equal(fx->ram + 0x3040, fx->ram + DATA, 16);
    uint8_t zero[16] = {0};
    assert_memory_equal(fx->ram + 0x3058, zero, 16);   /* nothing written */
    assert_int_equal(cpu->xmm[1][0], 0x2222222211111111ull);
    assert_int_equal(cpu->xmm[1][1], 0x4444444433333333ull);
}

/* A load of MOVSS/MOVSD from memory zeroes the rest; between registers only the low
 * element moves. MOVD/MOVQ zero-extend into the register. */
static void test_sse_scalar_moves(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    static const uint8_t code[] = {
        0xF3, 0x0F, 0x10, 0x06, 0x00, 0x30,   /* movss xmm0, [0x3000] */
        0xF2, 0x0F, 0x10, 0x0E, 0x00, 0x30,   /* movsd xmm1, [0x3000] */
        0xF3, 0x0F, 0x10, 0xD0,               /* movss xmm2, xmm0 */
        0xF2, 0x0F, 0x11, 0x16, 0x10, 0x30,   /* movsd [0x3010], xmm2 */
        0x66, 0x0F, 0x6E, 0xD8,               /* movd xmm3, eax */
        0x66, 0x0F, 0x7E, 0xCB,               /* movd ebx, xmm1 */
        0xF3, 0x0F, 0x7E, 0x26, 0x00, 0x30,   /* movq xmm4, [0x3000] */
        0x66, 0x0F, 0xD6, 0x26, 0x20, 0x30,   /* movq [0x3020], xmm4 */
        0xF4,
    };
    put128(fx, DATA, 0xAAAAAAAA, 0xBBBBBBBB, 0xCCCCCCCC, 0xDDDDDDDD);
    for (int r = 0; r < 5; r++) cpu->xmm[r][0] = cpu->xmm[r][1] = ~0ull;
    cpu->gpr[X86_RAX] = 0x12345678;
    load(fx, code, sizeof code);
    assert_int_equal(run_to_hlt(fx), -1);
    assert_int_equal(cpu->xmm[0][0], 0xAAAAAAAAull);
    assert_int_equal(cpu->xmm[0][1], 0);
    assert_int_equal(cpu->xmm[1][0], 0xBBBBBBBBAAAAAAAAull);
    assert_int_equal(cpu->xmm[1][1], 0);
    assert_int_equal(cpu->xmm[2][0], 0xFFFFFFFFAAAAAAAAull);
    assert_int_equal(cpu->xmm[2][1], ~0ull);
    uint64_t q;
    memcpy(&q, fx->ram + 0x3010, 8);
    assert_int_equal(q, 0xFFFFFFFFAAAAAAAAull);
    assert_int_equal(cpu->xmm[3][0], 0x12345678);
    assert_int_equal(cpu->xmm[3][1], 0);
    assert_int_equal(cpu->gpr[X86_RBX], 0xAAAAAAAA);
    assert_int_equal(cpu->xmm[4][0], 0xBBBBBBBBAAAAAAAAull);
    assert_int_equal(cpu->xmm[4][1], 0);
    memcpy(&q, fx->ram + 0x3020, 8);
    assert_int_equal(q, 0xBBBBBBBBAAAAAAAAull);
}

static void test_sse_bitwise_and_compare(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    static const uint8_t code[] = {
        0x66, 0x0F, 0xEF, 0xC0,               /* pxor xmm0, xmm0 */
        0x66, 0x0F, 0xEB, 0x06, 0x00, 0x30,   /* por xmm0, [0x3000] */
        0x0F, 0x28, 0xC8,                     /* movaps xmm1, xmm0 */
        0x66, 0x0F, 0xDB, 0x0E, 0x10, 0x30,   /* pand xmm1, [0x3010] */
        0x0F, 0x28, 0xD0,                     /* movaps xmm2, xmm0 */
        0x66, 0x0F, 0xDF, 0x16, 0x10, 0x30,   /* pandn xmm2, [0x3010] */
        0x0F, 0x57, 0xDB,                     /* xorps xmm3, xmm3 */
        0x66, 0x0F, 0x74, 0xD8,               /* pcmpeqb xmm3, xmm0 */
        0x66, 0x0F, 0xD7, 0xC3,               /* pmovmskb eax, xmm3 */
        0x66, 0x0F, 0x76, 0xE4,               /* pcmpeqd xmm4, xmm4 */
        0x66, 0x0F, 0xEF, 0x06, 0x08, 0x30,   /* pxor xmm0, [0x3008]: misaligned, #GP */
        0xF4,
    };
    put128(fx, DATA, 0x00FF00F0, 0x0000FFFF, 0x12345678, 0x00000000);
    put128(fx, 0x3010, 0x0F0F0F0F, 0xFFFFFFFF, 0x0000FFFF, 0xFFFFFFFF);
    only_vector(fx, X86_EXC_GP);
    load(fx, code, sizeof code);
    assert_int_equal(run_to_hlt(fx), 0);
    assert_int_equal(pushed_ip(fx), CODE + 43);
    assert_int_equal(cpu->xmm[0][0], 0x0000FFFF00FF00F0ull);
    assert_int_equal(cpu->xmm[0][1], 0x0000000012345678ull);
    assert_int_equal(cpu->xmm[1][0], 0x0000FFFF000F0000ull);
    assert_int_equal(cpu->xmm[1][1], 0x0000000000005678ull);
    assert_int_equal(cpu->xmm[2][0], 0xFFFF00000F000F0Full);
    assert_int_equal(cpu->xmm[2][1], 0xFFFFFFFF0000A987ull);
    /* bytes of xmm0 equal to zero: F0 00 FF 00 | FF FF 00 00 | 78 56 34 12 | 00 00 00 00 */
    assert_int_equal(cpu->gpr[X86_RAX], 0xF0CA);
    assert_int_equal(cpu->xmm[4][0], ~0ull);
    assert_int_equal(cpu->xmm[4][1], ~0ull);
}

static void test_fxsave_fxrstor_mxcsr(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    static const uint8_t code[] = {
        0x0F, 0xAE, 0x1E, 0x00, 0x30,         /* stmxcsr [0x3000] */
        0x0F, 0xAE, 0x16, 0x04, 0x30,         /* ldmxcsr [0x3004] (0x1F00: RC nearest, DAZ off) */
        0x0F, 0xAE, 0x06, 0x00, 0x32,         /* fxsave [0x3200] */
        0x66, 0x0F, 0xEF, 0xED,               /* pxor xmm5, xmm5 */
        0x0F, 0xAE, 0x0E, 0x00, 0x32,         /* fxrstor [0x3200] */
        0x0F, 0xAE, 0xE8,                     /* lfence */
        0x0F, 0xAE, 0xF0,                     /* mfence */
        0x0F, 0xAE, 0xF8,                     /* sfence */
        0x0F, 0xAE, 0x16, 0x08, 0x30,         /* ldmxcsr [0x3008] (bit 16: reserved): #GP */
        0xF4,
    };
    cpu->xmm[5][0] = 0x0102030405060708ull;
    cpu->xmm[5][1] = 0x1112131415161718ull;
    uint32_t m = 0x1F00, bad = 0x10000;
    memcpy(fx->ram + 0x3004, &m, 4);
    memcpy(fx->ram + 0x3008, &bad, 4);
    only_vector(fx, X86_EXC_GP);
    load(fx, code, sizeof code);
    assert_int_equal(run_to_hlt(fx), 0);
    assert_int_equal(pushed_ip(fx), CODE + 33);
    uint32_t v;
    memcpy(&v, fx->ram + 0x3000, 4);
    assert_int_equal(v, 0x1F80);                  /* the reset value */
    assert_int_equal(cpu->mxcsr, 0x1F00);
    const uint8_t *img = fx->ram + 0x3200;
    assert_int_equal(img[0] | img[1] << 8, cpu->fpu_cw);
    memcpy(&v, img + 24, 4);
    assert_int_equal(v, 0x1F00);                  /* MXCSR */
    memcpy(&v, img + 28, 4);
    assert_int_equal(v, 0xFFFF);                  /* MXCSR_MASK */
    uint64_t q;
    memcpy(&q, img + 160 + 5 * 16, 8);
    assert_int_equal(q, 0x0102030405060708ull);   /* XMM5 */
    assert_int_equal(cpu->xmm[5][0], 0x0102030405060708ull);   /* restored */
    assert_int_equal(cpu->xmm[5][1], 0x1112131415161718ull);

    /* FXSAVE to an address that is not 16-byte aligned, and FXRSTOR of a reserved MXCSR
     * bit: #GP(0) each, nothing changed. */
    static const uint8_t misaligned[] = {0x0F, 0xAE, 0x06, 0x08, 0x34, 0xF4};   /* fxsave [0x3408] */
    cpu->gpr[X86_RSP] = 0x8000;
    load(fx, misaligned, sizeof misaligned);
    assert_int_equal(run_to_hlt(fx), 0);
    assert_int_equal(fx->ram[0x3408], 0);
    memcpy(fx->ram + 0x3200 + 24, &bad, 4);
    static const uint8_t rstor[] = {0x0F, 0xAE, 0x0E, 0x00, 0x32, 0xF4};      /* fxrstor [0x3200] */
    cpu->gpr[X86_RSP] = 0x8000;
    load(fx, rstor, sizeof rstor);
    assert_int_equal(run_to_hlt(fx), 0);
    assert_int_equal(cpu->mxcsr, 0x1F00);
}

/* FXSAVE/FXRSTOR carry the x87 stack: TOP, the abridged tags and ST0-ST7 survive FNINIT. */
static void test_fxsave_x87_registers(void **state)
{
    Fx *fx = *state;
    static const uint8_t code[] = {
        0xDB, 0xE3,                           /* fninit (after reset all 8 hold +0.0) */
        0xD9, 0xE8,                           /* fld1 */
        0xD9, 0xEB,                           /* fldpi */
        0x0F, 0xAE, 0x06, 0x00, 0x32,         /* fxsave [0x3200] */
        0xDB, 0xE3,                           /* fninit */
        0x0F, 0xAE, 0x0E, 0x00, 0x32,         /* fxrstor [0x3200] */
        0xDD, 0x1E, 0x00, 0x33,               /* fstp qword [0x3300] */
        0xDD, 0x1E, 0x08, 0x33,               /* fstp qword [0x3308] */
        0xF4,
    };
    load(fx, code, sizeof code);
    assert_int_equal(run_to_hlt(fx), -1);
    const uint8_t *img = fx->ram + 0x3200;
    assert_int_equal((img[3] >> 3) & 7, 6);       /* TOP after two pushes */
    assert_int_equal(img[4], 0xC0);               /* R6 and R7 not empty */
    assert_int_equal(img[32 + 9] << 8 | img[32 + 8], 0x4000);   /* ST0 = pi: exponent 1 */
    assert_int_equal(img[48 + 9] << 8 | img[48 + 8], 0x3FFF);   /* ST1 = 1.0 */
    double pi, one;
    memcpy(&pi, fx->ram + 0x3300, 8);
    memcpy(&one, fx->ram + 0x3308, 8);
    assert_true(pi > 3.14159265358 && pi < 3.14159265360);
    assert_true(one == 1.0);
}

static void test_movbe(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    static const uint8_t code[] = {
        0x66, 0x0F, 0x38, 0xF0, 0x06, 0x00, 0x30,   /* movbe eax, [0x3000] */
        0x0F, 0x38, 0xF0, 0x1E, 0x00, 0x30,         /* movbe bx, [0x3000] */
        0x66, 0x0F, 0x38, 0xF1, 0x06, 0x10, 0x30,   /* movbe [0x3010], eax */
        0x0F, 0x38, 0xF0, 0xC0,                     /* movbe ax, ax: #UD */
        0xF4,
    };
    static const uint8_t bytes[] = {0x11, 0x22, 0x33, 0x44};
    memcpy(fx->ram + DATA, bytes, 4);
    only_vector(fx, X86_EXC_UD);
    load(fx, code, sizeof code);
    assert_int_equal(run_to_hlt(fx), 0);
    assert_int_equal(pushed_ip(fx), CODE + 20);
    assert_int_equal(cpu->gpr[X86_RAX], 0x11223344);
    assert_int_equal(cpu->gpr[X86_RBX] & 0xFFFF, 0x1122);
    assert_memory_equal(fx->ram + 0x3010, bytes, 4);
}

/* A 16-byte store to MMIO is two 8-byte MMIO writes (KVM's fragment size), low first. */
static void test_sse_store_to_mmio(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    static const uint8_t code[] = {
        0xB8, 0x00, 0xB8, 0x8E, 0xC0,               /* mov ax, 0xB800; mov es, ax */
        0x26, 0x0F, 0x11, 0x06, 0x00, 0x00,         /* movups es:[0], xmm0 */
        0xF4,
    };
    cpu->xmm[0][0] = 0x0706050403020100ull;
    cpu->xmm[0][1] = 0x0F0E0D0C0B0A0908ull;
    load(fx, code, sizeof code);
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_MMIO);
    assert_true(cpu->exit.mmio.is_write);
    assert_int_equal(cpu->exit.mmio.gpa, 0xB8000);
    assert_int_equal(cpu->exit.mmio.size, 8);
    assert_int_equal(cpu->exit.mmio.data, 0x0706050403020100ull);
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_MMIO);
    assert_int_equal(cpu->exit.mmio.gpa, 0xB8008);
    assert_int_equal(cpu->exit.mmio.size, 8);
    assert_int_equal(cpu->exit.mmio.data, 0x0F0E0D0C0B0A0908ull);
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
}

/* REP INSW to MMIO: one element per I/O exit, then its MMIO write; REP OUTSB from MMIO:
 * an MMIO read, then the I/O exit with that byte. CX and DI/SI move as for RAM. */
static void test_string_io_mmio(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    static const uint8_t code[] = {
        0xB8, 0x00, 0xB8, 0x8E, 0xC0,   /* mov ax, 0xB800; mov es, ax */
        0x8E, 0xD8,                     /* mov ds, ax */
        0xBF, 0xFF, 0x0F,               /* mov di, 0x0FFF (the word at the page end of 0xB8FFF) */
        0xBA, 0xE0, 0x00,               /* mov dx, 0xE0 */
        0xB9, 0x02, 0x00,               /* mov cx, 2 */
        0xF3, 0x6D,                     /* rep insw */
        0x31, 0xF6,                     /* xor si, si */
        0xB1, 0x02,                     /* mov cl, 2 */
        0xF3, 0x6E,                     /* rep outsb */
        0xF4,
    };
    load(fx, code, sizeof code);
    for (int k = 0; k < 2; k++) {
        assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_IO);
        assert_true(cpu->exit.io.in && cpu->exit.io.string);
        assert_int_equal(cpu->exit.io.count, 1);
        cpu->exit.io.data[0] = (uint8_t)(0x10 + k);
        cpu->exit.io.data[1] = (uint8_t)(0x20 + k);
        x86_cpu_complete_io(cpu);
        assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_MMIO);
        assert_true(cpu->exit.mmio.is_write);
        assert_int_equal(cpu->exit.mmio.gpa, 0xB8FFF + 2 * k);
        if (k == 0) {   /* 0xB8FFF-0xB9000 crosses a page: one write a page */
            assert_int_equal(cpu->exit.mmio.size, 1);
            assert_int_equal(cpu->exit.mmio.data, 0x10);
            assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_MMIO);
            assert_int_equal(cpu->exit.mmio.gpa, 0xB9000);
            assert_int_equal(cpu->exit.mmio.data, 0x20);
        } else {
            assert_int_equal(cpu->exit.mmio.size, 2);
            assert_int_equal(cpu->exit.mmio.data, 0x2111);
        }
    }
    assert_int_equal(cpu->gpr[X86_RDI] & 0xFFFF, 0x1003);
    for (int k = 0; k < 2; k++) {
        assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_MMIO);
        assert_false(cpu->exit.mmio.is_write);
        assert_int_equal(cpu->exit.mmio.gpa, 0xB8000 + k);
        x86_cpu_complete_mmio(cpu, 0x41 + k);
        assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_IO);
        assert_false(cpu->exit.io.in);
        assert_int_equal(cpu->exit.io.count, 1);
        assert_int_equal(cpu->exit.io.data[0], 0x41 + k);
        x86_cpu_complete_io(cpu);
    }
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
    assert_int_equal(cpu->gpr[X86_RCX] & 0xFFFF, 0);
    assert_int_equal(cpu->gpr[X86_RSI] & 0xFFFF, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sse_gates, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_mmx_gates_and_x87_state, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_sse_moves_and_alignment, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_sse_scalar_moves, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_sse_bitwise_and_compare, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_fxsave_fxrstor_mxcsr, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_fxsave_x87_registers, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_movbe, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_sse_store_to_mmio, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_string_io_mmio, setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
