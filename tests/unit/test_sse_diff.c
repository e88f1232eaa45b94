/*
 * Differential test of the MMX, SSE and SSE2 instructions of src/sim/cpu/cpu_sse.c against
 * the host CPU, which runs the same bytes natively (x86-64 hosts; elsewhere it is skipped).
 *
 * Each form (opcode, mandatory prefix, register or memory source, immediate) runs with
 * random operands: random bits and the special values of each element type (+-0,
 * denormals, infinities, QNaN, SNaN, the largest and smallest normals, values near the
 * integer limits), under a random MXCSR (all four rounding modes, DAZ, FZ, masked and
 * unmasked exceptions, sticky flags already set), a random x87 state (TOP, tags, register
 * contents, now and then a pending x87 exception) and CR4.OSXMMEXCPT 0 or 1. Both sides
 * load the state with FXRSTOR and store it with FXSAVE, so the whole image is compared:
 * the x87 control/status/abridged tag words and FOP, ST0-7 (the MMX registers: TOP, tags
 * and exponent bits after an MMX instruction), MXCSR, XMM0-7; then the general registers,
 * memory (stores), EFLAGS (COMISS and friends; unchanged for the others), and fault or no
 * fault: a host SIGFPE must be the same exception in the model (#XM, or #UD with
 * OSXMMEXCPT = 0; #MF for a pending x87 exception), with the state the host's signal
 * context shows. The guest is in real mode; a memory operand is [esi] through 0x67, which
 * means the same on the host (a buffer below 4 GiB).
 *
 * SSE_DIFF_ITERATIONS (cases per form, default 2000; `make check-long` runs more) and
 * SSE_DIFF_SEED choose the amount and the operands.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <cmocka.h>

#include "sim/cpu/cpu.h"

#define RAM_SIZE (1u << 20)
#define CODE 0x1000u
#define DATA 0x3000u
#define VECTORS 0x2000u   /* vector v's handler: a HLT at VECTORS + v */

#include "cpu_fixture.h"

#if defined(__x86_64__)

/* What one side starts and ends with: the FXSAVE image, then the general registers. */
typedef struct {
    _Alignas(16) uint8_t fx[512];   /* offset 0 */
    uint32_t gpr[6];                /* 512: eax ecx edx ebx esi edi */
    uint32_t pad;
    uint64_t rflags;                /* 544 */
} State;
_Static_assert(offsetof(State, gpr) == 512 && offsetof(State, rflags) == 544, "the stub's offsets");
#define FX_MXCSR 24
#define FX_ST 32
#define FX_XMM 160

/* The host side: FXRSTOR, the general registers, a call to the instruction (followed by
 * RET), then FXSAVE and FNINIT (the host's x87 back to its initial state). rbx, r12 and
 * r13 are saved; MXCSR is the caller's to restore. */
void sse_diff_host_run(State *st, const void *code);
__asm__(".text\n"
        ".type sse_diff_host_run, @function\n"
        "sse_diff_host_run:\n\t"
        "push %rbx\n\tpush %r12\n\tpush %r13\n\t"
        "mov %rdi, %r12\n\tmov %rsi, %r13\n\t"
        "fxrstor (%r12)\n\t"
        "mov 512(%r12), %eax\n\tmov 516(%r12), %ecx\n\tmov 520(%r12), %edx\n\t"
        "mov 524(%r12), %ebx\n\tmov 528(%r12), %esi\n\tmov 532(%r12), %edi\n\t"
        "call *%r13\n\t"
        "pushfq\n\tpop %r11\n\tmov %r11, 544(%r12)\n\t"
        "fxsave (%r12)\n\tfninit\n\t"
        "mov %eax, 512(%r12)\n\tmov %ecx, 516(%r12)\n\tmov %edx, 520(%r12)\n\t"
        "mov %ebx, 524(%r12)\n\tmov %esi, 528(%r12)\n\tmov %edi, 532(%r12)\n\t"
        "pop %r13\n\tpop %r12\n\tpop %rbx\n\tret\n\t"
        ".size sse_diff_host_run, .-sse_diff_host_run\n");

static sigjmp_buf fpe_env;
static uint8_t fpe_fx[512];      /* the FXSAVE image at the fault, from the signal context */
static volatile int fpe_trapno;  /* 16: #MF, 19: #XM */

static void on_sigfpe(int sig, siginfo_t *si, void *ctx)
{
    (void)sig;
    (void)si;
    ucontext_t *uc = ctx;
    if (uc->uc_mcontext.fpregs) memcpy(fpe_fx, uc->uc_mcontext.fpregs, sizeof fpe_fx);
    fpe_trapno = (int)uc->uc_mcontext.gregs[REG_TRAPNO];
    siglongjmp(fpe_env, 1);
}

/* Element kinds of a form's operands, for the special values. */
enum { K_INT, K_PS, K_PD, K_I32 };

/* Operand shapes. */
enum {
    F_XX,      /* xmm, xmm/m */
    F_STORE,   /* xmm/m destination (store forms) */
    F_GPR_SRC, /* r/m32 source, xmm destination */
    F_GPR_DST, /* r32 destination (reg field) from xmm/m */
    F_SHIFT,   /* groups 12-14: xmm (r/m) by imm8, the /reg fixed */
    F_MASKMOV, /* MASKMOVDQU: [edi] */
    F_MEM_ONLY,/* memory only (loads and stores of halves) */
    F_RM32_DST,/* r/m32 destination (MOVD r/m32, mm/xmm) */
    F_NONE,    /* no ModR/M (EMMS) */
};

typedef struct {
    const char *name;
    uint8_t pfx;       /* 0, 0x66, 0xF2, 0xF3 */
    uint8_t op;        /* 0F op */
    uint8_t shape;
    uint8_t kind;
    uint8_t msize;     /* memory operand bytes (0: register only) */
    bool imm;
    uint8_t fixed_reg; /* F_SHIFT: the /reg */
    bool eflags;       /* compare EFLAGS (COMISS and friends) */
} Form;

#define FX(n, p, o, k, m) { n, p, o, F_XX, k, m, false, 0, false }
#define FP4(n, o, tiny)                                                            \
    FX(n "ps", 0, o, K_PS, 16), FX(n "pd", 0x66, o, K_PD, 16), FX(n "sd", 0xF2, o, K_PD, 8), \
    FX(n "ss", 0xF3, o, K_PS, 4)
static const Form forms[] = {
    FP4("add", 0x58, 1), FP4("mul", 0x59, 1), FP4("sub", 0x5C, 1), FP4("min", 0x5D, 0),
    FP4("div", 0x5E, 1), FP4("max", 0x5F, 0), FP4("sqrt", 0x51, 0),
    FX("rsqrtps", 0, 0x52, K_PS, 16), FX("rsqrtss", 0xF3, 0x52, K_PS, 4),
    FX("rcpps", 0, 0x53, K_PS, 16), FX("rcpss", 0xF3, 0x53, K_PS, 4),
    FX("cvtps2pd", 0, 0x5A, K_PS, 8), FX("cvtpd2ps", 0x66, 0x5A, K_PD, 16),
    FX("cvtsd2ss", 0xF2, 0x5A, K_PD, 8), FX("cvtss2sd", 0xF3, 0x5A, K_PS, 4),
    FX("cvtdq2ps", 0, 0x5B, K_I32, 16), FX("cvtps2dq", 0x66, 0x5B, K_PS, 16),
    FX("cvttps2dq", 0xF3, 0x5B, K_PS, 16),
    FX("cvttpd2dq", 0x66, 0xE6, K_PD, 16), FX("cvtpd2dq", 0xF2, 0xE6, K_PD, 16),
    FX("cvtdq2pd", 0xF3, 0xE6, K_I32, 8),
    { "cmpps", 0, 0xC2, F_XX, K_PS, 16, true, 0, false },
    { "cmppd", 0x66, 0xC2, F_XX, K_PD, 16, true, 0, false },
    { "cmpsd", 0xF2, 0xC2, F_XX, K_PD, 8, true, 0, false },
    { "cmpss", 0xF3, 0xC2, F_XX, K_PS, 4, true, 0, false },
    { "ucomiss", 0, 0x2E, F_XX, K_PS, 4, false, 0, true },
    { "comiss", 0, 0x2F, F_XX, K_PS, 4, false, 0, true },
    { "ucomisd", 0x66, 0x2E, F_XX, K_PD, 8, false, 0, true },
    { "comisd", 0x66, 0x2F, F_XX, K_PD, 8, false, 0, true },
    { "cvtsi2ss", 0xF3, 0x2A, F_GPR_SRC, K_I32, 4, false, 0, false },
    { "cvtsi2sd", 0xF2, 0x2A, F_GPR_SRC, K_I32, 4, false, 0, false },
    { "cvttss2si", 0xF3, 0x2C, F_GPR_DST, K_PS, 4, false, 0, false },
    { "cvttsd2si", 0xF2, 0x2C, F_GPR_DST, K_PD, 8, false, 0, false },
    { "cvtss2si", 0xF3, 0x2D, F_GPR_DST, K_PS, 4, false, 0, false },
    { "cvtsd2si", 0xF2, 0x2D, F_GPR_DST, K_PD, 8, false, 0, false },
    /* moves, shuffles and bitwise */
    FX("movups", 0, 0x10, K_PS, 16), FX("movupd", 0x66, 0x10, K_PD, 16),
    FX("movsd", 0xF2, 0x10, K_PD, 8), FX("movss", 0xF3, 0x10, K_PS, 4),
    { "movups st", 0, 0x11, F_STORE, K_PS, 16, false, 0, false },
    { "movsd st", 0xF2, 0x11, F_STORE, K_PD, 8, false, 0, false },
    { "movss st", 0xF3, 0x11, F_STORE, K_PS, 4, false, 0, false },
    FX("movlps/movhlps", 0, 0x12, K_PS, 8), FX("movhps/movlhps", 0, 0x16, K_PS, 8),
    { "movlpd", 0x66, 0x12, F_MEM_ONLY, K_PD, 8, false, 0, false },
    { "movhpd", 0x66, 0x16, F_MEM_ONLY, K_PD, 8, false, 0, false },
    { "movlps st", 0, 0x13, F_MEM_ONLY, K_PS, 8, false, 0, false },
    { "movhps st", 0, 0x17, F_MEM_ONLY, K_PS, 8, false, 0, false },
    { "movlpd st", 0x66, 0x13, F_MEM_ONLY, K_PD, 8, false, 0, false },
    { "movhpd st", 0x66, 0x17, F_MEM_ONLY, K_PD, 8, false, 0, false },
    FX("unpcklps", 0, 0x14, K_PS, 16), FX("unpcklpd", 0x66, 0x14, K_PD, 16),
    FX("unpckhps", 0, 0x15, K_PS, 16), FX("unpckhpd", 0x66, 0x15, K_PD, 16),
    { "shufps", 0, 0xC6, F_XX, K_PS, 16, true, 0, false },
    { "shufpd", 0x66, 0xC6, F_XX, K_PD, 16, true, 0, false },
    { "movmskps", 0, 0x50, F_GPR_DST, K_PS, 0, false, 0, false },
    { "movmskpd", 0x66, 0x50, F_GPR_DST, K_PD, 0, false, 0, false },
    FX("movaps", 0, 0x28, K_PS, 16), FX("movapd", 0x66, 0x28, K_PD, 16),
    FX("andps", 0, 0x54, K_PS, 16), FX("andnps", 0, 0x55, K_PS, 16),
    FX("orps", 0, 0x56, K_PS, 16), FX("xorpd", 0x66, 0x57, K_PD, 16),
    FX("movdqa", 0x66, 0x6F, K_INT, 16), FX("movdqu", 0xF3, 0x6F, K_INT, 16),
    { "movdqu st", 0xF3, 0x7F, F_STORE, K_INT, 16, false, 0, false },
    { "movd x,r", 0x66, 0x6E, F_GPR_SRC, K_INT, 4, false, 0, false },
    FX("movq x,x/m", 0xF3, 0x7E, K_INT, 8),
    { "movq st", 0x66, 0xD6, F_STORE, K_INT, 8, false, 0, false },
    { "pmovmskb", 0x66, 0xD7, F_GPR_DST, K_INT, 0, false, 0, false },
    { "pshufd", 0x66, 0x70, F_XX, K_INT, 16, true, 0, false },
    { "pshufhw", 0xF3, 0x70, F_XX, K_INT, 16, true, 0, false },
    { "pshuflw", 0xF2, 0x70, F_XX, K_INT, 16, true, 0, false },
    { "psrlw i", 0x66, 0x71, F_SHIFT, K_INT, 0, true, 2, false },
    { "psraw i", 0x66, 0x71, F_SHIFT, K_INT, 0, true, 4, false },
    { "psllw i", 0x66, 0x71, F_SHIFT, K_INT, 0, true, 6, false },
    { "psrld i", 0x66, 0x72, F_SHIFT, K_INT, 0, true, 2, false },
    { "psrad i", 0x66, 0x72, F_SHIFT, K_INT, 0, true, 4, false },
    { "pslld i", 0x66, 0x72, F_SHIFT, K_INT, 0, true, 6, false },
    { "psrlq i", 0x66, 0x73, F_SHIFT, K_INT, 0, true, 2, false },
    { "psrldq", 0x66, 0x73, F_SHIFT, K_INT, 0, true, 3, false },
    { "psllq i", 0x66, 0x73, F_SHIFT, K_INT, 0, true, 6, false },
    { "pslldq", 0x66, 0x73, F_SHIFT, K_INT, 0, true, 7, false },
    { "pinsrw", 0x66, 0xC4, F_GPR_SRC, K_INT, 2, true, 0, false },
    { "pextrw", 0x66, 0xC5, F_GPR_DST, K_INT, 0, true, 0, false },
    { "maskmovdqu", 0x66, 0xF7, F_MASKMOV, K_INT, 0, false, 0, false },
#define PI(n, o) FX(n, 0x66, o, K_INT, 16)
    PI("punpcklbw", 0x60), PI("punpcklwd", 0x61), PI("punpckldq", 0x62), PI("packsswb", 0x63),
    PI("pcmpgtb", 0x64), PI("pcmpgtw", 0x65), PI("pcmpgtd", 0x66), PI("packuswb", 0x67),
    PI("punpckhbw", 0x68), PI("punpckhwd", 0x69), PI("punpckhdq", 0x6A), PI("packssdw", 0x6B),
    PI("punpcklqdq", 0x6C), PI("punpckhqdq", 0x6D), PI("pcmpeqb", 0x74), PI("pcmpeqw", 0x75),
    PI("pcmpeqd", 0x76), PI("psrlw", 0xD1), PI("psrld", 0xD2), PI("psrlq", 0xD3),
    PI("paddq", 0xD4), PI("pmullw", 0xD5), PI("psubusb", 0xD8), PI("psubusw", 0xD9),
    PI("pminub", 0xDA), PI("pand", 0xDB), PI("paddusb", 0xDC), PI("paddusw", 0xDD),
    PI("pmaxub", 0xDE), PI("pandn", 0xDF), PI("pavgb", 0xE0), PI("psraw", 0xE1),
    PI("psrad", 0xE2), PI("pavgw", 0xE3), PI("pmulhuw", 0xE4), PI("pmulhw", 0xE5),
    PI("psubsb", 0xE8), PI("psubsw", 0xE9), PI("pminsw", 0xEA), PI("por", 0xEB),
    PI("paddsb", 0xEC), PI("paddsw", 0xED), PI("pmaxsw", 0xEE), PI("pxor", 0xEF),
    PI("psllw", 0xF1), PI("pslld", 0xF2), PI("psllq", 0xF3), PI("pmuludq", 0xF4),
    PI("pmaddwd", 0xF5), PI("psadbw", 0xF6), PI("psubb", 0xF8), PI("psubw", 0xF9),
    PI("psubd", 0xFA), PI("psubq", 0xFB), PI("paddb", 0xFC), PI("paddw", 0xFD),
    PI("paddd", 0xFE),
#undef PI
    { "movd r,x", 0x66, 0x7E, F_RM32_DST, K_INT, 4, false, 0, false },
    /* SSE/SSE2 between MMX and XMM registers */
    { "cvtpi2ps", 0, 0x2A, F_XX, K_I32, 8, false, 0, false },
    { "cvtpi2pd", 0x66, 0x2A, F_XX, K_I32, 8, false, 0, false },
    { "cvttps2pi", 0, 0x2C, F_XX, K_PS, 8, false, 0, false },
    { "cvtps2pi", 0, 0x2D, F_XX, K_PS, 8, false, 0, false },
    { "cvttpd2pi", 0x66, 0x2C, F_XX, K_PD, 16, false, 0, false },
    { "cvtpd2pi", 0x66, 0x2D, F_XX, K_PD, 16, false, 0, false },
    { "movq2dq", 0xF3, 0xD6, F_XX, K_INT, 0, false, 0, false },
    { "movdq2q", 0xF2, 0xD6, F_XX, K_INT, 0, false, 0, false },
    /* MMX, and the SSE/SSE2 integer instructions on MMX registers */
    { "emms", 0, 0x77, F_NONE, K_INT, 0, false, 0, false },
    { "movd mm,r", 0, 0x6E, F_GPR_SRC, K_INT, 4, false, 0, false },
    { "movd r,mm", 0, 0x7E, F_RM32_DST, K_INT, 4, false, 0, false },
    { "movq mm", 0, 0x6F, F_XX, K_INT, 8, false, 0, false },
    { "movq mm st", 0, 0x7F, F_STORE, K_INT, 8, false, 0, false },
    { "movntq", 0, 0xE7, F_MEM_ONLY, K_INT, 8, false, 0, false },
    { "pshufw", 0, 0x70, F_XX, K_INT, 8, true, 0, false },
    { "psrlw mm i", 0, 0x71, F_SHIFT, K_INT, 0, true, 2, false },
    { "psraw mm i", 0, 0x71, F_SHIFT, K_INT, 0, true, 4, false },
    { "psllw mm i", 0, 0x71, F_SHIFT, K_INT, 0, true, 6, false },
    { "psrld mm i", 0, 0x72, F_SHIFT, K_INT, 0, true, 2, false },
    { "psrad mm i", 0, 0x72, F_SHIFT, K_INT, 0, true, 4, false },
    { "pslld mm i", 0, 0x72, F_SHIFT, K_INT, 0, true, 6, false },
    { "psrlq mm i", 0, 0x73, F_SHIFT, K_INT, 0, true, 2, false },
    { "psllq mm i", 0, 0x73, F_SHIFT, K_INT, 0, true, 6, false },
    { "pinsrw mm", 0, 0xC4, F_GPR_SRC, K_INT, 2, true, 0, false },
    { "pextrw mm", 0, 0xC5, F_GPR_DST, K_INT, 0, true, 0, false },
    { "pmovmskb mm", 0, 0xD7, F_GPR_DST, K_INT, 0, false, 0, false },
    { "maskmovq", 0, 0xF7, F_MASKMOV, K_INT, 0, false, 0, false },
#define PM(n, o) FX(n " mm", 0, o, K_INT, 8)
    PM("punpcklbw", 0x60), PM("punpcklwd", 0x61), PM("punpckldq", 0x62), PM("packsswb", 0x63),
    PM("pcmpgtb", 0x64), PM("pcmpgtw", 0x65), PM("pcmpgtd", 0x66), PM("packuswb", 0x67),
    PM("punpckhbw", 0x68), PM("punpckhwd", 0x69), PM("punpckhdq", 0x6A), PM("packssdw", 0x6B),
    PM("pcmpeqb", 0x74), PM("pcmpeqw", 0x75), PM("pcmpeqd", 0x76), PM("psrlw", 0xD1),
    PM("psrld", 0xD2), PM("psrlq", 0xD3), PM("paddq", 0xD4), PM("pmullw", 0xD5),
    PM("psubusb", 0xD8), PM("psubusw", 0xD9), PM("pminub", 0xDA), PM("pand", 0xDB),
    PM("paddusb", 0xDC), PM("paddusw", 0xDD), PM("pmaxub", 0xDE), PM("pandn", 0xDF),
    PM("pavgb", 0xE0), PM("psraw", 0xE1), PM("psrad", 0xE2), PM("pavgw", 0xE3),
    PM("pmulhuw", 0xE4), PM("pmulhw", 0xE5), PM("psubsb", 0xE8), PM("psubsw", 0xE9),
    PM("pminsw", 0xEA), PM("por", 0xEB), PM("paddsb", 0xEC), PM("paddsw", 0xED),
    PM("pmaxsw", 0xEE), PM("pxor", 0xEF), PM("psllw", 0xF1), PM("pslld", 0xF2),
    PM("psllq", 0xF3), PM("pmuludq", 0xF4), PM("pmaddwd", 0xF5), PM("psadbw", 0xF6),
    PM("psubb", 0xF8), PM("psubw", 0xF9), PM("psubd", 0xFA), PM("psubq", 0xFB),
    PM("paddb", 0xFC), PM("paddw", 0xFD), PM("paddd", 0xFE),
#undef PM
};
#define NFORMS (sizeof forms / sizeof forms[0])

/* xorshift64*: reproducible from SSE_DIFF_SEED. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}
static unsigned rndn(unsigned n) { return (unsigned)(rnd() % n); }

static uint32_t special_f32(void)
{
    uint32_t sign = rndn(2) ? 0x80000000u : 0, m = (uint32_t)rnd() & 0x7FFFFFu;
    switch (rndn(16)) {
    case 0: return sign;                                      /* +-0 */
    case 1: return sign | (m ? m : 1);                        /* denormal */
    case 2: return sign | 0x7F800000u;                        /* infinity */
    case 3: return sign | 0x7FC00000u | (m & 0x3FFFFF);       /* QNaN */
    case 4: return sign | 0x7F800000u | ((m & 0x3FFFFF) ? m & 0x3FFFFF : 1);   /* SNaN */
    case 5: return sign | 0x7F000000u | m;                    /* near overflow */
    case 6: return sign | ((1u + rndn(24)) << 23) | m;        /* near underflow */
    case 7: return sign | 0x3F800000u;                        /* 1.0 */
    case 8: return sign | ((127u + 29 + rndn(4)) << 23) | m;  /* around 2^31 */
    case 9: return sign | 0x00800000u;                        /* smallest normal */
    case 10: return sign | 0x7F7FFFFFu;                       /* largest normal */
    case 11: return sign | ((uint32_t)(127 + rndn(24)) << 23) | (m & ~0xFFFu);   /* integral-ish */
    default: return (uint32_t)rnd();
    }
}

static uint64_t special_f64(void)
{
    uint64_t sign = rndn(2) ? 1ull << 63 : 0, m = rnd() & 0xFFFFFFFFFFFFFull;
    switch (rndn(16)) {
    case 0: return sign;
    case 1: return sign | (m ? m : 1);
    case 2: return sign | 0x7FF0000000000000ull;
    case 3: return sign | 0x7FF8000000000000ull | (m & 0x7FFFFFFFFFFFFull);
    case 4: return sign | 0x7FF0000000000000ull | ((m & 0x7FFFFFFFFFFFFull) ? m & 0x7FFFFFFFFFFFFull : 1);
    case 5: return sign | (0x7FEull << 52) | m;
    case 6: return sign | ((uint64_t)(1 + rndn(60)) << 52) | m;
    case 7: return sign | 0x3FF0000000000000ull;
    case 8: return sign | ((uint64_t)(1023 + 29 + rndn(4)) << 52) | m;
    case 9: return sign | (1ull << 52);
    case 10: return sign | 0x7FEFFFFFFFFFFFFFull;
    /* around the float range: overflow, underflow and denormal results of CVTSD2SS */
    case 11: return sign | ((uint64_t)(1023 + 120 + rndn(16)) << 52) | m;
    case 12: return sign | ((uint64_t)(1023 - 155 + rndn(35)) << 52) | m;
    default: return rnd();
    }
}

static void fill(uint8_t v[16], unsigned kind)
{
    for (unsigned i = 0; i < 16; i += kind == K_PD ? 8 : 4) {
        uint64_t x;
        if (kind == K_PD) x = special_f64();
        else if (kind == K_PS) x = special_f32();
        else if (kind == K_I32) x = rndn(4) ? (uint32_t)rnd() : (uint32_t)(int32_t)(rndn(2001) - 1000);
        else {
            static const uint32_t pat[] = { 0, 0xFFFFFFFFu, 0x80008000u, 0x7FFF7FFFu, 0x80808080u,
                                            0x7F7F7F7Fu, 0x00FF00FFu, 1 };
            x = rndn(4) ? (uint32_t)rnd() : pat[rndn(8)];
        }
        memcpy(v + i, &x, kind == K_PD ? 8 : 4);
    }
}

static uint32_t random_mxcsr(void)
{
    uint32_t m = (uint32_t)rndn(4) << 13;                     /* rounding */
    if (rndn(3) == 0) m |= 0x40;                              /* DAZ */
    if (rndn(3) == 0) m |= 0x8000;                            /* FZ */
    m |= rndn(2) ? 0x1F80u : ((uint32_t)rnd() & 0x1F80u);     /* masks */
    if (rndn(4) == 0) m |= (uint32_t)rnd() & 0x3F;            /* sticky flags */
    return m;
}

typedef struct {
    Fx *fx;
    uint8_t *host;        /* code at 0, data at HOST_DATA; below 4 GiB */
    unsigned long cases, faults, mf, misaligned, mismatches;
} Ctx;
#define HOST_DATA 0x800u
#define IMAGE_IN 0x4000u  /* the model's FXRSTOR image */
#define IMAGE_OUT 0x5000u /* and its FXSAVE image */

/* 67 0F AE /1 or /0 with disp32: FXRSTOR or FXSAVE at an absolute address, then HLT. */
static unsigned fx_insn(uint8_t *p, unsigned reg, uint32_t at)
{
    uint8_t b[] = { 0x67, 0x0F, 0xAE, (uint8_t)(reg << 3 | 5), (uint8_t)at, (uint8_t)(at >> 8), 0, 0 };
    memcpy(p, b, sizeof b);
    return sizeof b;
}

/* Vector v's handler, at VECTORS + 16 v: FXSAVE to IMAGE_OUT, then HLT. */
static int setup(void **state)
{
    Ctx *c = calloc(1, sizeof *c);
    if (!c) return -1;
    c->fx = fx_create_real(CODE, 0x8000);
    c->host = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
    if (!c->fx || c->host == MAP_FAILED) return -1;
    for (unsigned v = 0; v < 32; v++) {
        uint32_t h = VECTORS + 16 * v;
        c->fx->ram[4 * v] = (uint8_t)(h & 0xFF);
        c->fx->ram[4 * v + 1] = (uint8_t)(h >> 8);
        unsigned k = fx_insn(c->fx->ram + h, 0, IMAGE_OUT);
        c->fx->ram[h + k] = 0xF4;
    }
    c->fx->cpu->cr0 |= X86_CR0_NE;   /* x87 errors as #MF, as on the host */
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    Ctx *c = *state;
    munmap(c->host, 4096);
    fx_teardown((void **)&c->fx);
    free(c);
    return 0;
}

static unsigned iterations(void)
{
    const char *s = getenv("SSE_DIFF_ITERATIONS");
    long n = s ? strtol(s, NULL, 0) : 0;
    return n > 0 ? (unsigned)n : 2000;
}

static void hexdump(const char *what, const void *p, size_t n)
{
    const uint8_t *b = p;
    char line[128] = "";
    for (size_t i = 0; i < n && 2 * i + 2 < sizeof line; i++) snprintf(line + 2 * i, 3, "%02x", b[n - 1 - i]);
    print_message("  %s %s\n", what, line);
}

/* A random FXSAVE image: x87 control and status (any TOP, now and then a pending
 * exception), abridged tags, ST0-7 (random, MMX-like or special), MXCSR, XMM0-7 of the
 * form's element kind. */
static void random_image(uint8_t fx[512], unsigned kind, bool pending)
{
    memset(fx, 0, 512);
    uint16_t fcw = rndn(2) ? 0x037F : (uint16_t)(0x0340 | (rnd() & 0xC3F));
    uint16_t fsw = (uint16_t)((rndn(8) << 11) | (rnd() & 0x4700));
    if (pending) {
        fcw &= (uint16_t)~1u;          /* IE unmasked */
        fsw |= 0x8081;                 /* B, ES, IE */
    }
    memcpy(fx + 0, &fcw, 2);
    memcpy(fx + 2, &fsw, 2);
    fx[4] = (uint8_t)rnd();
    for (unsigned i = 0; i < 8; i++) {
        uint64_t m = rnd();
        uint16_t se = (uint16_t)(rndn(3) == 0 ? 0xFFFF : rndn(2) ? 0x3FFF + rndn(64) : rnd());
        memcpy(fx + FX_ST + 16 * i, &m, 8);
        memcpy(fx + FX_ST + 16 * i + 8, &se, 2);
    }
    uint32_t mx = random_mxcsr(), mask = 0xFFFF;
    memcpy(fx + FX_MXCSR, &mx, 4);
    memcpy(fx + FX_MXCSR + 4, &mask, 4);
    for (unsigned r = 0; r < 8; r++) fill(fx + FX_XMM + 16 * r, kind);
}

/* The parts of two FXSAVE images that must agree: FCW FSW FTW FOP, MXCSR, ST0-7, XMM0-7
 * (not the instruction and operand pointers, which hold host addresses on the host). */
static bool image_equal(const uint8_t *a, const uint8_t *b)
{
    return memcmp(a, b, 8) == 0 && memcmp(a + FX_MXCSR, b + FX_MXCSR, 4) == 0 &&
           memcmp(a + FX_ST, b + FX_ST, 256) == 0;
}

/* One case of form f: returns true when the model agrees with the host. */
static bool one_case(Ctx *c, const Form *f)
{
    X86Cpu *cpu = c->fx->cpu;
    State in, host;
    uint8_t mem[16], host_mem[32];
    bool mmx = f->pfx == 0 && ((f->op >= 0x60 && f->op <= 0x7F) || f->op >= 0xC4 ||
                               f->op == 0x2A || f->op == 0x2C || f->op == 0x2D);
    mmx |= f->op == 0xD6 && f->pfx != 0x66;
    memset(&in, 0, sizeof in);
    random_image(in.fx, f->kind, mmx && rndn(16) == 0);
    fill(mem, f->kind);
    if (mmx) {   /* the MMX registers get the form's kind of data too */
        for (unsigned i = 0; i < 8; i++) {
            uint8_t v[16];
            fill(v, f->kind);
            memcpy(in.fx + FX_ST + 16 * i, v, 8);
        }
    }
    /* shifts by a register: mostly small counts, so the results are not all zero */
    if ((f->op & 0xF0) >= 0xD0 && (f->op & 0x0F) <= 3 && f->op != 0xD0 && rndn(4)) {
        uint64_t cnt = rndn(70);
        for (unsigned r = 0; r < 8; r++) {
            memcpy(in.fx + FX_XMM + 16 * r, &cnt, 8);
            memcpy(in.fx + FX_ST + 16 * r, &cnt, 8);
        }
        memcpy(mem, &cnt, 8);
    }
    for (unsigned g = 0; g < 6; g++) in.gpr[g] = rndn(3) ? (uint32_t)rnd() : (uint32_t)(int32_t)(rndn(201) - 100);
    bool osxmmexcpt = rndn(4) != 0;

    /* encoding: [67] [pfx] 0F op [modrm] [imm8] */
    bool memop = f->shape == F_MEM_ONLY || (f->msize && f->shape != F_SHIFT && rndn(2));
    unsigned reg = rndn(8), rm = rndn(8);
    /* general registers: EAX-EBX (ESI/EDI hold the addresses, which differ; ESP/EBP are
     * the host's stack) */
    if (f->shape == F_GPR_DST) reg = rndn(4);
    if ((f->shape == F_GPR_SRC || f->shape == F_RM32_DST) && !memop) rm = rndn(4);
    if (f->shape == F_SHIFT) reg = f->fixed_reg;
    if (f->shape == F_MASKMOV || f->shape == F_NONE) memop = false;
    uint8_t code[16];
    unsigned n = 0;
    if (memop || f->shape == F_MASKMOV) code[n++] = 0x67;
    if (f->pfx) code[n++] = f->pfx;
    code[n++] = 0x0F;
    code[n++] = f->op;
    if (f->shape != F_NONE) code[n++] = (uint8_t)((memop ? 0x00 : 0xC0) | reg << 3 | (memop ? 6 : rm));
    unsigned imm = rndn(16) == 0 ? rndn(256) : rndn(f->op == 0xC2 ? 8 : 256);
    if (f->shape == F_SHIFT && rndn(2)) imm = rndn(f->fixed_reg == 3 || f->fixed_reg == 7 ? 20 : 70);
    if (f->imm) code[n++] = (uint8_t)imm;
    /* a misaligned memory operand now and then: #GP(0) for the 16-byte operands of the
     * aligned forms (SDM Vol. 2, each instruction), none for MOVUPS/UPD/DQU and the
     * scalar and 64-bit ones; the host would take SIGSEGV, so the model alone checks it */
    unsigned off = memop && rndn(8) == 0 ? 1 + rndn(15) : 0;
    bool unaligned_ok = f->op == 0x10 || f->op == 0x11 ||
                        (f->pfx == 0xF3 && (f->op == 0x6F || f->op == 0x7F));
    bool want_gp = off && f->msize == 16 && !unaligned_ok;

    /* the host */
    host = in;
    host.gpr[4] = (uint32_t)(uintptr_t)(c->host + HOST_DATA + off);   /* esi */
    host.gpr[5] = (uint32_t)(uintptr_t)(c->host + HOST_DATA);         /* edi */
    memcpy(c->host, code, n);
    c->host[n] = 0xC3;
    memset(c->host + HOST_DATA, 0, 32);
    memcpy(c->host + HOST_DATA + off, mem, 16);
    __builtin___clear_cache((char *)c->host, (char *)c->host + n + 1);
    uint32_t saved_mxcsr;
    __asm__ volatile("stmxcsr %0" : "=m"(saved_mxcsr));
    bool host_fault = false;
    unsigned host_vector = 0xFF;
    if (want_gp) {
        host_vector = 13;
    } else if (sigsetjmp(fpe_env, 1) == 0) {
        sse_diff_host_run(&host, c->host);
    } else {
        __asm__ volatile("fninit");
        host_fault = true;
        host_vector = (unsigned)fpe_trapno;
        if (host_vector == 19 && !osxmmexcpt) host_vector = 6;
        host = in;
        memcpy(host.fx, fpe_fx, 512);
    }
    __asm__ volatile("ldmxcsr %0" : : "m"(saved_mxcsr));
    memcpy(host_mem, c->host + HOST_DATA, 32);

    /* the model: FXRSTOR, the instruction, FXSAVE (in the handlers too) */
    uint8_t *ram = c->fx->ram;
    unsigned k = fx_insn(ram + CODE, 1, IMAGE_IN);
    memcpy(ram + CODE + k, code, n);
    unsigned t = fx_insn(ram + CODE + k + n, 0, IMAGE_OUT);
    ram[CODE + k + n + t] = 0xF4;
    memcpy(ram + IMAGE_IN, in.fx, 512);
    memset(ram + IMAGE_OUT, 0, 512);
    memset(ram + DATA, 0, 32);
    memcpy(ram + DATA + off, mem, 16);
    x86_cpu_invalidate_code(cpu, CODE, k + n + t + 1);
    cpu->rip = CODE;
    cpu->gpr[X86_RSP] = 0x8000;
    static const uint8_t gi[6] = { X86_RAX, X86_RCX, X86_RDX, X86_RBX, X86_RSI, X86_RDI };
    for (unsigned g = 0; g < 6; g++) cpu->gpr[gi[g]] = in.gpr[g];
    cpu->gpr[X86_RSI] = DATA + off;
    cpu->gpr[X86_RDI] = DATA;
    cpu->cr4 = X86_CR4_OSFXSR_BIT | (osxmmexcpt ? X86_CR4_OSXMMEXCPT_BIT : 0);
    x86_cpu_set_rflags(cpu, 0x2);
    X86Exit e = x86_cpu_run(cpu, 0);
    bool ok = e == X86_EXIT_HLT;
    unsigned vector = 0xFF;
    uint64_t done = CODE + k + n + t + 1;
    if (ok && cpu->rip >= VECTORS && cpu->rip < VECTORS + 32 * 16) vector = (unsigned)((cpu->rip - VECTORS) / 16);
    else if (ok && cpu->rip != done) ok = false;
    uint32_t model_gpr[6];
    for (unsigned g = 0; g < 6; g++) model_gpr[g] = (uint32_t)cpu->gpr[gi[g]];
    uint64_t model_rflags = x86_cpu_get_rflags(cpu);
    const uint8_t *model_fx = ram + IMAGE_OUT;

    c->cases++;
    if (host_fault) c->faults++;
    if (host_vector == 16) c->mf++;
    if (want_gp) c->misaligned++;
    const uint8_t *want_fx = want_gp ? in.fx : host.fx;
    if (ok && vector != host_vector) ok = false;
    if (ok && !image_equal(model_fx, want_fx)) ok = false;
    for (unsigned g = 0; ok && g < 4; g++)   /* esi/edi hold addresses, which differ */
        if (model_gpr[g] != (host_fault || want_gp ? in.gpr[g] : host.gpr[g])) ok = false;
    if (ok && memcmp(ram + DATA, host_mem, 32)) ok = false;
    uint32_t arith = 0x8D5;   /* OF SF ZF AF PF CF */
    bool flags_set = f->eflags && !host_fault && !want_gp;
    if (ok && flags_set && (model_rflags & arith) != (host.rflags & arith)) ok = false;
    if (ok && !flags_set && (model_rflags & arith) != 0) ok = false;
    if (!ok && c->mismatches++ < 20) {
        char hex[40] = "";
        for (unsigned i = 0; i < n; i++) snprintf(hex + 2 * i, 3, "%02x", code[i]);
        print_message("MISMATCH %s [%s] exit %d vector %u (host %u), OSXMMEXCPT %d\n", f->name,
                      hex, (int)e, vector, host_vector, osxmmexcpt);
        hexdump("fcw/fsw/ftw/fop in   ", in.fx, 8);
        hexdump("fcw/fsw/ftw/fop host ", want_fx, 8);
        hexdump("fcw/fsw/ftw/fop model", model_fx, 8);
        hexdump("mxcsr in/host/model  ", in.fx + FX_MXCSR, 4);
        hexdump("                     ", want_fx + FX_MXCSR, 4);
        hexdump("                     ", model_fx + FX_MXCSR, 4);
        hexdump("src mem              ", mem, 16);
        for (unsigned i = 0; i < 16; i++) {
            if (memcmp(model_fx + FX_ST + 16 * i, want_fx + FX_ST + 16 * i, 16) == 0) continue;
            print_message("  %s%u differs:\n", i < 8 ? "ST" : "XMM", i & 7);
            hexdump("in   ", in.fx + FX_ST + 16 * i, 16);
            hexdump("host ", want_fx + FX_ST + 16 * i, 16);
            hexdump("model", model_fx + FX_ST + 16 * i, 16);
        }
        print_message("  gpr[reg] in %08x host %08x model %08x; rflags host %llx model %llx\n",
                      in.gpr[reg & 3], host.gpr[reg & 3], model_gpr[reg & 3],
                      (unsigned long long)host.rflags, (unsigned long long)model_rflags);
    }
    return ok;
}

static void test_sse_diff(void **state)
{
    Ctx *c = *state;
    const char *seed = getenv("SSE_DIFF_SEED");
    if (seed) rng_state = strtoull(seed, NULL, 0) | 1;
    unsigned iters = iterations();
    /* here, not in setup: cmocka installs its own SIGFPE handler around each test */
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigfpe;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGFPE, &sa, &old);
    for (size_t i = 0; i < NFORMS; i++)
        for (unsigned k = 0; k < iters; k++) one_case(c, &forms[i]);
    sigaction(SIGFPE, &old, NULL);
    print_message("sse diff: %zu forms x %u cases = %lu cases (%lu with a host SIGFPE, %lu of "
                  "them #MF; %lu misaligned #GP), %lu mismatches\n", NFORMS, iters, c->cases,
                  c->faults, c->mf, c->misaligned, c->mismatches);
    assert_int_equal(c->mismatches, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sse_diff, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#else

static void test_skipped(void **state)
{
    (void)state;
    skip();
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_skipped) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
#endif
