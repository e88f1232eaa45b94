/*
 * Unit tests of the sim CPU's x87 FPU (src/sim/cpu/cpu_x87.c): known values (1/3 in
 * double, FISTP in each rounding mode, the FCOMI flags), the stack faults and their masked
 * responses, FNSAVE/FRSTOR and FNSTENV/FLDENV images, #NM with CR0.EM/TS, #MF for a
 * pending unmasked exception; and an oracle test: the same instruction bytes run on the
 * sim (32-bit protected mode) and on the host's own x87 (x86-64: [ebx+d8]/[esi+d8] encode
 * [rbx+d8]/[rsi+d8] there), and the FNSAVE images and stored bytes must be equal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <cmocka.h>

#include "sim/cpu/cpu.h"

#define RAM_SIZE (1u << 20)
#define GDT 0x1000u
#define IDT 0x2000u
#define HANDLERS 0x3000u        /* vector v: HLT at HANDLERS + 16 * v */
#define OUT 0x5000u             /* EBX: the FNSAVE image at +0, stores at +0x70 */
#define IN 0x6000u              /* ESI: input values */
#define CODE 0x10000u
#define STACK 0x9000u

#include "cpu_fixture.h"

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static uint16_t get16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* Flat 32-bit protected mode at CPL 0; every vector goes to a HLT of its own. */
static int setup(void **state)
{
    Fx *fx = fx_create();
    if (!fx) return -1;
    /* GDT: 08 flat code, 10 flat data (4 KiB granular, 32-bit) */
    put32(fx->ram + GDT + 8, 0x0000FFFF);  put32(fx->ram + GDT + 12, 0x00CF9B00);
    put32(fx->ram + GDT + 16, 0x0000FFFF); put32(fx->ram + GDT + 20, 0x00CF9300);
    for (unsigned v = 0; v < 256; v++) {
        uint32_t h = HANDLERS + 16 * v;
        put32(fx->ram + IDT + 8 * v, 0x00080000u | (h & 0xFFFF));
        put32(fx->ram + IDT + 8 * v + 4, (h & 0xFFFF0000u) | 0x8E00u);
        fx->ram[h] = 0xF4;
    }
    X86Cpu *cpu = fx->cpu;
    cpu->cr0 = 0x60000011 | X86_CR0_NE;
    cpu->cs = (X86Segment){ 0x08, 0, 0xFFFFFFFF, 0xC09B };
    for (int s = 0; s < 6; s++)
        if (s != X86_CS) cpu->seg[s] = (X86Segment){ 0x10, 0, 0xFFFFFFFF, 0xC093 };
    cpu->tr = (X86Segment){ 0, 0, 0x67, 0x8B };
    cpu->ldtr = (X86Segment){ 0, 0, 0, 0x10000 };
    cpu->gdtr = (X86DescTable){ GDT, 23 };
    cpu->idtr = (X86DescTable){ IDT, 256 * 8 - 1 };
    cpu->rip = CODE;
    cpu->gpr[X86_RSP] = STACK;
    cpu->gpr[X86_RBX] = OUT;
    cpu->gpr[X86_RSI] = IN;
    x86_cpu_tlb_flush(cpu);
    *state = fx;
    return 0;
}

/* Runs code (then HLT) from CODE; returns the exit. */
static X86Exit run(Fx *fx, const uint8_t *code, size_t n)
{
    memcpy(fx->ram + CODE, code, n);
    fx->ram[CODE + n] = 0xF4;
    x86_cpu_invalidate_code(fx->cpu, CODE, n + 1);
    fx->cpu->rip = CODE;
    return x86_cpu_run(fx->cpu, 0);
}

/* Stopped at the HLT of handler `vector`, pushed by the instruction at `at`. */
static void expect_vector(Fx *fx, int vector, uint32_t at)
{
    assert_int_equal(fx->cpu->rip, HANDLERS + 16 * vector + 1);
    uint32_t esp = (uint32_t)fx->cpu->gpr[X86_RSP];
    assert_int_equal(get32(fx->ram + esp), at);
}

/* ModR/M with disp8: [ebx+d] (outputs) and [esi+d] (inputs). */
#define MB(reg, d) (uint8_t)(0x43 | (reg) << 3), (uint8_t)(d)
#define MS(reg, d) (uint8_t)(0x46 | (reg) << 3), (uint8_t)(d)
#define FNINIT 0xDB, 0xE3
#define FNSAVE_EBX 0xDD, 0x33
#define FNSTSW_AX 0xDF, 0xE0
#define MOV_EBX_AX(d) 0x66, 0x89, 0x43, (d)

/* Inputs at [esi+...] */
enum {
    I_2_5 = 0x00, I_M2_5 = 0x08, I_3 = 0x10, I_1E300 = 0x18, I_0_1F = 0x20, I_INT3 = 0x24,
    I_INT16_M7 = 0x28, I_INT64 = 0x2A, I_CW = 0x32 /* 10 control words */, I_M1 = 0x48,
    I_QNAN = 0x50, I_DENORM = 0x58, I_BIG80 = 0x60, I_1EM300 = 0x6A, I_7 = 0x72,
};
enum { CW_NEAR, CW_DOWN, CW_UP, CW_TRUNC, CW_PC24, CW_PC53, CW_NOIM, CW_NOZM, CW_NOOM, CW_NOUM };

static void make_inputs(uint8_t *in)
{
    double d;
    memset(in, 0, 128);
    d = 2.5;    memcpy(in + I_2_5, &d, 8);
    d = -2.5;   memcpy(in + I_M2_5, &d, 8);
    d = 3.0;    memcpy(in + I_3, &d, 8);
    d = 1e300;  memcpy(in + I_1E300, &d, 8);
    float f = 0.1f; memcpy(in + I_0_1F, &f, 4);
    put32(in + I_INT3, 3);
    int16_t s = -7; memcpy(in + I_INT16_M7, &s, 2);
    int64_t q = 0x0123456789ABCDEFll; memcpy(in + I_INT64, &q, 8);
    static const uint16_t cws[10] = { 0x037F, 0x077F, 0x0B7F, 0x0F7F, 0x007F, 0x027F,
                                      0x037E, 0x037B, 0x0377, 0x036F };
    memcpy(in + I_CW, cws, sizeof cws);
    d = -1.0;   memcpy(in + I_M1, &d, 8);
    uint64_t qn = 0x7FF8000000000123ull; memcpy(in + I_QNAN, &qn, 8);
    uint64_t dn = 1; memcpy(in + I_DENORM, &dn, 8);
    uint64_t m = ~0ull; memcpy(in + I_BIG80, &m, 8); in[I_BIG80 + 8] = 0xFE; in[I_BIG80 + 9] = 0x7F;
    d = 1e-300; memcpy(in + I_1EM300, &d, 8);
    d = 7.0;    memcpy(in + I_7, &d, 8);
}

/* ---- the host oracle ---- */

static uint8_t *host_page;

/* Runs code (then RET) on the host with RBX = out, RSI = in. */
static void host_run(const uint8_t *code, size_t n, uint8_t *out, const uint8_t *in)
{
    if (!host_page) {
        void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        assert_true(p != MAP_FAILED);
        host_page = p;
    }
    memcpy(host_page, code, n);
    host_page[n] = 0xC3;
    __builtin___clear_cache((char *)host_page, (char *)host_page + n + 1);
    /* below the red zone: the call pushes its return address */
    __asm__ volatile("sub $128, %%rsp\n\t"
                     "call *%[fn]\n\t"
                     "add $128, %%rsp"
                     :
                     : [fn] "r"(host_page), "b"(out), "S"(in)
                     : "rax", "rcx", "rdx", "rdi", "r8", "r9", "r10", "r11", "memory", "cc",
                       "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)", "st(7)");
}

typedef struct {
    const char *name;
    uint8_t code[96];
    size_t len;
} Snippet;

#define SNIP(name, ...) { name, { FNINIT, __VA_ARGS__, FNSAVE_EBX }, \
                          sizeof((uint8_t[]){ FNINIT, __VA_ARGS__, FNSAVE_EBX }) }

static const Snippet snippets[] = {
    SNIP("one third", 0xD9, 0xE8, 0xDA, MS(6, I_INT3), 0xDD, MB(2, 0x70)),
    SNIP("register arithmetic",
         0xDD, MS(0, I_2_5), 0xDD, MS(0, I_3),
         0xD8, 0xC1, 0xD8, 0xE1, 0xD8, 0xE9, 0xD8, 0xC9, 0xD8, 0xF1, 0xD8, 0xF9,
         0xDC, 0xC1, 0xDC, 0xE9, 0xDC, 0xE1, 0xDC, 0xF9, 0xDC, 0xF1, 0xDE, 0xC9,
         0xDD, MS(0, I_M2_5), 0xDE, 0xC1, 0xDD, MS(0, I_2_5), 0xDE, 0xE9,
         0xDD, MS(0, I_2_5), 0xDE, 0xE1, 0xDD, MS(0, I_3), 0xDE, 0xF9,
         0xDD, MS(0, I_3), 0xDE, 0xF1, 0xDD, MB(2, 0x70)),
    SNIP("memory arithmetic",
         0xDD, MS(0, I_3), 0xDC, MS(0, I_2_5), 0xD8, MS(1, I_0_1F), 0xDC, MS(4, I_M2_5),
         0xD8, MS(5, I_0_1F), 0xDC, MS(6, I_3), 0xDC, MS(7, I_2_5), 0xDA, MS(0, I_INT3),
         0xDE, MS(1, I_INT16_M7), 0xDA, MS(4, I_INT3), 0xDE, MS(5, I_INT16_M7),
         0xDE, MS(6, I_INT16_M7), 0xDA, MS(7, I_INT3), 0xDD, MB(2, 0x70)),
    SNIP("rounding: nearest", 0xD9, MS(5, I_CW + 2 * CW_NEAR), 0xDD, MS(0, I_2_5), 0xDB, MB(3, 0x70),
         0xDD, MS(0, I_M2_5), 0xDB, MB(3, 0x74), 0xD9, MS(0, I_0_1F), 0xDC, MS(1, I_3),
         0xD9, MB(3, 0x78), 0xDD, MS(0, I_M2_5), 0xDF, MB(3, 0x7C), 0xD9, 0xEB),
    SNIP("rounding: down", 0xD9, MS(5, I_CW + 2 * CW_DOWN), 0xDD, MS(0, I_2_5), 0xDB, MB(3, 0x70),
         0xDD, MS(0, I_M2_5), 0xDB, MB(3, 0x74), 0xD9, MS(0, I_0_1F), 0xDC, MS(1, I_3),
         0xD9, MB(3, 0x78), 0xDD, MS(0, I_M2_5), 0xDF, MB(3, 0x7C), 0xD9, 0xEB),
    SNIP("rounding: up", 0xD9, MS(5, I_CW + 2 * CW_UP), 0xDD, MS(0, I_2_5), 0xDB, MB(3, 0x70),
         0xDD, MS(0, I_M2_5), 0xDB, MB(3, 0x74), 0xD9, MS(0, I_0_1F), 0xDC, MS(1, I_3),
         0xD9, MB(3, 0x78), 0xDD, MS(0, I_M2_5), 0xDF, MB(3, 0x7C), 0xD9, 0xEB),
    SNIP("rounding: truncate", 0xD9, MS(5, I_CW + 2 * CW_TRUNC), 0xDD, MS(0, I_2_5), 0xDB, MB(3, 0x70),
         0xDD, MS(0, I_M2_5), 0xDB, MB(3, 0x74), 0xD9, MS(0, I_0_1F), 0xDC, MS(1, I_3),
         0xD9, MB(3, 0x78), 0xDD, MS(0, I_M2_5), 0xDF, MB(3, 0x7C), 0xD9, 0xEB),
    SNIP("precision control",
         0xD9, MS(5, I_CW + 2 * CW_PC24), 0xD9, 0xE8, 0xDA, MS(6, I_INT3), 0xD9, 0xFA,
         0xD9, MS(5, I_CW + 2 * CW_PC53), 0xD9, 0xE8, 0xDA, MS(6, I_INT3), 0xD9, 0xFA,
         0xD9, MS(5, I_CW + 2 * CW_NEAR), 0xD9, 0xE8, 0xDA, MS(6, I_INT3), 0xD9, 0xFA),
    SNIP("compares",
         0xDD, MS(0, I_3), 0xDD, MS(0, I_2_5), 0xD8, 0xD1, FNSTSW_AX, MOV_EBX_AX(0x70),
         0xDB, 0xF1, 0x0F, 0x94, 0x43, 0x72, 0x0F, 0x9A, 0x43, 0x73, 0x0F, 0x92, 0x43, 0x74,
         0xDD, MS(0, I_QNAN), 0xDB, 0xE9, 0x0F, 0x94, 0x43, 0x75, 0x0F, 0x9A, 0x43, 0x76,
         0x0F, 0x92, 0x43, 0x77, 0xDC, MS(3, I_2_5), FNSTSW_AX, MOV_EBX_AX(0x78),
         0xD9, 0xE4, 0xD9, 0xE5, FNSTSW_AX, MOV_EBX_AX(0x7A), 0xDA, 0xE9,
         0xD9, 0xE5, FNSTSW_AX, MOV_EBX_AX(0x7C), 0xDD, MS(0, I_DENORM), 0xD9, 0xE5,
         FNSTSW_AX, MOV_EBX_AX(0x7E)),
    SNIP("compare and pop",
         0xDD, MS(0, I_3), 0xDD, MS(0, I_3), 0xDD, MS(0, I_2_5), 0xDD, MS(0, I_7),
         0xDF, 0xF1, 0x0F, 0x92, 0x43, 0x70, 0xDF, 0xE9, 0x0F, 0x94, 0x43, 0x71,
         0xDE, 0xD9, FNSTSW_AX, MOV_EBX_AX(0x72), 0xDA, MS(2, I_INT3), FNSTSW_AX, MOV_EBX_AX(0x74),
         0xDE, MS(3, I_INT16_M7), FNSTSW_AX, MOV_EBX_AX(0x76)),
    SNIP("transcendental",
         0xD9, 0xEB, 0xD9, 0xFE, 0xD9, 0xEA, 0xD9, 0xFF, 0xD9, 0xE9, 0xD9, 0xF2,
         0xD9, 0xEC, 0xD9, 0xED, 0xD9, 0xF3, 0xD9, 0xE8, 0xD9, 0xF0, 0xD9, 0xF1,
         0xD9, 0xFA, 0xD9, 0xFB, 0xD9, 0xE8, 0xD9, 0xF9),
    SNIP("remainders, scale, extract",
         0xDD, MS(0, I_3), 0xDD, MS(0, I_1E300), 0xD9, 0xF8, FNSTSW_AX, MOV_EBX_AX(0x70),
         0xD9, 0xF5, FNSTSW_AX, MOV_EBX_AX(0x72), 0xDD, MS(0, I_7), 0xD9, 0xF8,
         FNSTSW_AX, MOV_EBX_AX(0x74), 0xD9, 0xF4, 0xD9, 0xFD, 0xD9, 0xFC, 0xDD, MS(0, I_2_5),
         0xD9, 0xFC, 0xD9, 0xE0, 0xD9, 0xE1, 0xD9, 0xCA, 0xD9, 0xF7, 0xD9, 0xF6, 0xDD, 0xC3),
    SNIP("moves",
         0xD9, 0xE8, 0xD9, 0xEB, 0xD9, 0xC1, 0xDD, 0xD3, 0xDD, 0xDA, 0xD9, 0xC9, 0xD9, 0xEE,
         0xDB, MS(5, I_BIG80), 0xDB, MB(7, 0x70), 0xD9, 0xC2, 0xD9, 0xE0, 0xDD, 0xD8),
    SNIP("integers and BCD",
         0xDF, MS(0, I_INT16_M7), 0xDB, MS(0, I_INT3), 0xDF, MS(5, I_INT64), 0xDF, 0xC0 + 0x30 - 0x30,
         0xD9, 0xC0, 0xDF, MB(6, 0x70), 0xDF, MB(4, 0x70), 0xD9, 0xC0, 0xDF, MB(7, 0x7A),
         0xDB, MB(2, 0x7A), 0xDF, MB(2, 0x7E), 0xDD, MS(0, I_1E300), 0xDB, MB(3, 0x76)),
    SNIP("fcmov",
         0xD9, 0xE8, 0xD9, 0xEE, 0x39, 0xC0, 0xDA, 0xC9, 0xD9, 0xEB, 0xDB, 0xC9, 0xDA, 0xD1,
         0xDB, 0xD9, 0xF9, 0xDA, 0xC2, 0xDB, 0xC2, 0xDA, 0xDA, 0xD9, 0xEB, 0xDB, 0xD1),
    SNIP("stack underflow and overflow, masked",
         0xD8, 0xC1, FNSTSW_AX, MOV_EBX_AX(0x70), 0xDB, 0xE2, 0xD9, 0xF7, 0xD9, MB(3, 0x72),
         0xD9, 0xF7, 0xDF, MB(3, 0x76), 0xD9, 0xC9, 0xD9, 0xE4, FNSTSW_AX, MOV_EBX_AX(0x78),
         0xD9, 0xE8, 0xD9, 0xE8, 0xD9, 0xE8, 0xD9, 0xE8, 0xD9, 0xE8, 0xD9, 0xE8, 0xD9, 0xE8,
         0xD9, 0xE8, 0xD9, 0xE8),
    SNIP("special operands, masked",
         0xDD, MS(0, I_M1), 0xD9, 0xFA, 0xD9, 0xEE, 0xD9, 0xE8, 0xDE, 0xF1,
         0xDD, MS(0, I_DENORM), 0xDD, MS(0, I_1E300), 0xDD, MB(3, 0x70),
         0xDB, MS(5, I_BIG80), 0xD8, 0xC8, 0xDD, MS(0, I_1EM300), 0xD9, MB(3, 0x78),
         0xDD, MS(0, I_QNAN), 0xDB, MB(3, 0x7C)),
    SNIP("unmasked IE: nothing written", 0xD9, 0xE8, 0xDD, MS(0, I_M1), 0xD9, MS(5, I_CW + 2 * CW_NOIM),
         0xD9, 0xFA),
    SNIP("unmasked IE: fcom leaves C0-C3", 0xD9, MS(5, I_CW + 2 * CW_NOIM), 0xDD, MS(0, I_3),
         0xD9, 0xEE, 0xD9, 0xE4, 0xDD, 0xD8, 0xDD, MS(0, I_QNAN), 0xD8, 0xD1,
         FNSTSW_AX, MOV_EBX_AX(0x70)),
    SNIP("unmasked IE: fcomi leaves EFLAGS", 0xD9, MS(5, I_CW + 2 * CW_NOIM), 0xDD, MS(0, I_3),
         0xDD, MS(0, I_QNAN), 0x39, 0xC0, 0xDB, 0xF1, 0x0F, 0x94, 0x43, 0x70,
         0x0F, 0x9A, 0x43, 0x71, 0x0F, 0x92, 0x43, 0x72),
    SNIP("unmasked IE: fcomi on an empty register", 0xD9, MS(5, I_CW + 2 * CW_NOIM),
         0x39, 0xC0, 0xDB, 0xF1, 0x0F, 0x94, 0x43, 0x70, 0x0F, 0x9A, 0x43, 0x71,
         0x0F, 0x92, 0x43, 0x72),
    SNIP("unmasked IE: fcom on an empty register", 0xD9, MS(5, I_CW + 2 * CW_NOIM),
         0xD8, 0xD1, FNSTSW_AX, MOV_EBX_AX(0x70)),
    SNIP("unmasked IE: ftst on an empty register", 0xD9, MS(5, I_CW + 2 * CW_NOIM),
         0xD9, 0xE4, FNSTSW_AX, MOV_EBX_AX(0x70)),
    SNIP("unmasked IE: fcompp on an empty register", 0xD9, 0xE8, 0xD9, MS(5, I_CW + 2 * CW_NOIM),
         0xDE, 0xD9, FNSTSW_AX, MOV_EBX_AX(0x70)),
    SNIP("unmasked IE: fstp m32 of an empty register", 0xD9, MS(5, I_CW + 2 * CW_NOIM),
         0xD9, MB(3, 0x70)),
    SNIP("unmasked IE: fxch with an empty register", 0xD9, 0xE8, 0xD9, MS(5, I_CW + 2 * CW_NOIM),
         0xD9, 0xC9),
    SNIP("unmasked IE: fld1 onto a full stack", 0xD9, 0xE8, 0xD9, 0xE8, 0xD9, 0xE8, 0xD9, 0xE8,
         0xD9, 0xE8, 0xD9, 0xE8, 0xD9, 0xE8, 0xD9, 0xEB, 0xD9, MS(5, I_CW + 2 * CW_NOIM),
         0xD9, 0xE8),
    SNIP("unmasked IE: stack underflow", 0xD9, MS(5, I_CW + 2 * CW_NOIM), 0xDE, 0xC1),
    SNIP("unmasked ZE", 0xD9, MS(5, I_CW + 2 * CW_NOZM), 0xD9, 0xE8, 0xD9, 0xEE, 0xDE, 0xF9),
    SNIP("unmasked OE in a register", 0xD9, MS(5, I_CW + 2 * CW_NOOM), 0xDB, MS(5, I_BIG80),
         0xD8, 0xC8),
    SNIP("unmasked OE storing to memory", 0xD9, MS(5, I_CW + 2 * CW_NOOM), 0xDD, MS(0, I_1E300),
         0xD8, 0xC8, 0xD9, MB(3, 0x70)),
    SNIP("unmasked UE storing to memory", 0xD9, MS(5, I_CW + 2 * CW_NOUM), 0xDD, MS(0, I_1EM300),
         0xD9, MB(3, 0x70)),
};

/* The FNSAVE image without the pointer fields (FIP, FCS|FOP, FDP, FDS: the host's are
 * 64-bit mode's), then the stores. */
static void compare_images(const char *name, const uint8_t *sim, const uint8_t *host)
{
    static const struct { unsigned off, len; } parts[] = { { 0, 12 }, { 28, 80 }, { 0x70, 0x20 } };
    unsigned top = (get16(host + 4) >> 11) & 7, tw = get16(host + 8);
    for (size_t p = 0; p < sizeof parts / sizeof parts[0]; p++) {
        for (unsigned i = parts[p].off; i < parts[p].off + parts[p].len; i++) {
            /* an empty register's bits are whatever was there before */
            if (i >= 28 && i < 108 && ((tw >> (2 * ((top + (i - 28) / 10) & 7))) & 3) == 3)
                continue;
            if (sim[i] != host[i]) {
                fprintf(stderr, "%s: byte %#x: sim %02x, host %02x\n", name, i, sim[i], host[i]);
                fprintf(stderr, "  sim  SW %04x TW %04x\n  host SW %04x TW %04x\n",
                        get16(sim + 4), get16(sim + 8), get16(host + 4), get16(host + 8));
                fail();
            }
        }
    }
}

static void test_oracle(void **state)
{
    Fx *fx = *state;
    uint8_t in[128], host_out[256];
    make_inputs(in);
    for (size_t k = 0; k < sizeof snippets / sizeof snippets[0]; k++) {
        const Snippet *s = &snippets[k];
        memcpy(fx->ram + IN, in, sizeof in);
        memset(fx->ram + OUT, 0xAA, 256);
        memset(host_out, 0xAA, sizeof host_out);
        fx->cpu->gpr[X86_RSP] = STACK;
        fx->cpu->gpr[X86_RAX] = 0;
        assert_int_equal(run(fx, s->code, s->len), X86_EXIT_HLT);
        assert_int_equal(fx->cpu->rip, CODE + s->len + 1);   /* no exception */
        host_run(s->code, s->len, host_out, in);
        compare_images(s->name, fx->ram + OUT, host_out);
    }
}

/* 1/3 in double is 0x3FD5555555555555; FIDIV by m32int; the FSAVE image has ST0 and TOP 7. */
static void test_one_third(void **state)
{
    Fx *fx = *state;
    make_inputs(fx->ram + IN);
    static const uint8_t code[] = { FNINIT, 0xD9, 0xE8, 0xDA, MS(6, I_INT3), 0xDD, MB(3, 0x70),
                                    0xD9, 0xE8, 0xDA, MS(6, I_INT3), 0xDB, MB(7, 0x78) };
    assert_int_equal(run(fx, code, sizeof code), X86_EXIT_HLT);
    assert_int_equal(get64(fx->ram + OUT + 0x70), 0x3FD5555555555555ull);
    /* 80 bits: 0x3FFD AAAAAAAAAAAAAAAB (rounded to nearest) */
    assert_int_equal(get64(fx->ram + OUT + 0x78), 0xAAAAAAAAAAAAAAABull);
    assert_int_equal(get16(fx->ram + OUT + 0x80), 0x3FFD);
    assert_int_equal(fx->cpu->fpu_sw & 0x3800, 0);       /* TOP back to 0 */
    assert_int_equal(fx->cpu->fpu_sw & 0x20, 0x20);      /* PE */
    assert_int_equal(fx->cpu->fpu_tw, 0xFFFF);
}

/* FISTP m32 of 2.5, -2.5 and 1.5 (m80) in each rounding mode (SDM Vol. 1, 4.8.4). */
static void test_fistp_rounding(void **state)
{
    Fx *fx = *state;
    static const int32_t want[4][3] = {
        { 2, -2, 2 },    /* nearest (even) */
        { 2, -3, 1 },    /* down */
        { 3, -2, 2 },    /* up */
        { 2, -2, 1 },    /* toward zero */
    };
    for (unsigned rc = 0; rc < 4; rc++) {
        make_inputs(fx->ram + IN);
        /* 1.5 as m80 at I_BIG80 */
        uint64_t m = 0xC000000000000000ull;
        memcpy(fx->ram + IN + I_BIG80, &m, 8);
        fx->ram[IN + I_BIG80 + 8] = 0xFF; fx->ram[IN + I_BIG80 + 9] = 0x3F;
        const uint8_t code[] = { FNINIT, 0xD9, MS(5, I_CW + 2 * rc),
                                 0xDD, MS(0, I_2_5), 0xDB, MB(3, 0x70),
                                 0xDD, MS(0, I_M2_5), 0xDB, MB(3, 0x74),
                                 0xDB, MS(5, I_BIG80), 0xDB, MB(3, 0x78) };
        assert_int_equal(run(fx, code, sizeof code), X86_EXIT_HLT);
        for (unsigned i = 0; i < 3; i++)
            assert_int_equal((int32_t)get32(fx->ram + OUT + 0x70 + 4 * i), want[rc][i]);
        assert_int_equal(fx->cpu->fpu_sw & 0x3F, 0x20);   /* PE only */
    }
}

/* Underflow with IE masked: IE, SF, C1 = 0, the destination gets the real indefinite;
 * an FSTP m32 of an empty ST(0) stores the single indefinite FFC00000H; overflow sets
 * C1 (SDM Vol. 1, 8.5.1.1). */
static void test_stack_faults_masked(void **state)
{
    Fx *fx = *state;
    static const uint8_t code[] = { FNINIT, 0xD8, 0xC1 };   /* fadd st0, st1: both empty */
    assert_int_equal(run(fx, code, sizeof code), X86_EXIT_HLT);
    X86Cpu *cpu = fx->cpu;
    assert_int_equal(cpu->fpu_sw, 0x0041);                  /* IE SF; C1 = 0; TOP 0 */
    static const uint8_t indefinite[10] = { 0, 0, 0, 0, 0, 0, 0, 0xC0, 0xFF, 0xFF };
    assert_memory_equal(cpu->fpu_reg[0], indefinite, 10);
    assert_int_equal(cpu->fpu_tw, 0xFFFE);                  /* R0 special (NaN) */

    static const uint8_t st[] = { FNINIT, 0xD9, MB(3, 0x70), 0xDF, MB(3, 0x74) };
    assert_int_equal(run(fx, st, sizeof st), X86_EXIT_HLT);
    assert_int_equal(get32(fx->ram + OUT + 0x70), 0xFFC00000u);
    assert_int_equal(get16(fx->ram + OUT + 0x74), 0x8000);
    assert_int_equal(cpu->fpu_sw & 0x3800, 0x1000);         /* two pops: TOP 2 */

    uint8_t over[2 + 18];
    memcpy(over, (uint8_t[]){ FNINIT }, 2);
    for (unsigned i = 0; i < 9; i++) { over[2 + 2 * i] = 0xD9; over[3 + 2 * i] = 0xE8; }
    assert_int_equal(run(fx, over, sizeof over), X86_EXIT_HLT);
    assert_int_equal(cpu->fpu_sw & 0x0241, 0x0241);         /* IE SF C1 */
    assert_memory_equal(cpu->fpu_reg[(cpu->fpu_sw >> 11) & 7], indefinite, 10);
}

/* FNSAVE (32- and 16-bit) leaves the FNINIT state; FRSTOR brings everything back; a tag
 * word loaded with non-empty tags gets them recomputed. */
static void test_fnsave_frstor(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    make_inputs(fx->ram + IN);
    static const uint8_t code[] = {
        FNINIT, 0xD9, 0xE8, 0xD9, 0xEE, 0xDD, MS(0, I_M2_5), 0xD9, 0xEB,
        0xD9, MS(5, I_CW + 2 * CW_UP), 0xD8, 0xC0 + 1,   /* fadd st0, st1 */
        0xDD, 0x33,                                       /* fnsave [ebx] */
        0xDD, 0x23,                                       /* frstor [ebx] */
        0xDD, MB(6, 0x70),                                /* fnsave [ebx+0x70] */
    };
    assert_int_equal(run(fx, code, sizeof code), X86_EXIT_HLT);
    uint8_t *a = fx->ram + OUT, *b = fx->ram + OUT + 0x70;
    assert_memory_equal(a, b, 108);
    assert_int_equal(get16(a + 0), 0x0B7F);
    assert_int_equal(get16(a + 4) & 0x3800, 0x2000);      /* TOP 4 */
    assert_int_equal(get16(a + 8), 0x10FF);               /* R4 valid, R5 valid, R6 zero, R7 valid */
    assert_int_equal(get32(a + 16) >> 16, 0x0C1);         /* FOP of fadd st0, st1 (D8 C1) */
    assert_int_equal(get32(a + 12), CODE + 14);           /* FIP */
    assert_int_equal(get32(a + 20), IN + I_M2_5);         /* FDP: FLDCW is a control instruction */
    assert_int_equal(get16(a + 16), 0x08);                /* FCS */
    assert_int_equal(cpu->fpu_cw, 0x037F);
    assert_int_equal(cpu->fpu_tw, 0xFFFF);
    assert_int_equal(cpu->fpu_sw, 0);

    /* FRSTOR with tag word 0 (all "valid"): tags from the contents */
    a[8] = a[9] = 0;
    static const uint8_t back[] = { 0xDD, 0x23, 0x66, 0xDD, MB(6, 0x70) };   /* 16-bit fnsave */
    assert_int_equal(run(fx, back, sizeof back), X86_EXIT_HLT);
    assert_int_equal(get16(b + 0), 0x0B7F);
    assert_int_equal(get16(b + 2), get16(a + 4));         /* SW, TOP 4 */
    assert_int_equal(get16(b + 4), 0x1055);               /* R0-R3 hold +0.0 from reset: zero */
    assert_memory_equal(b + 14, a + 28, 80);              /* registers after 14 bytes */
}

/* FCOMI/FUCOMI set ZF PF CF (greater 000, less 001, equal 100, unordered 111), clear
 * OF SF AF; FCOMI on a QNaN raises IE, FUCOMI does not. */
static void test_fcomi_flags(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    make_inputs(fx->ram + IN);
    static const struct { uint8_t a, b; uint32_t flags; } cases[] = {
        { I_3, I_2_5, 0 }, { I_2_5, I_3, X86_FLAG_CF }, { I_3, I_3, X86_FLAG_ZF },
        { I_QNAN, I_3, X86_FLAG_ZF | X86_FLAG_PF | X86_FLAG_CF },
    };
    for (size_t k = 0; k < 4; k++) {
        for (unsigned u = 0; u < 2; u++) {
            const uint8_t code[] = { FNINIT, 0xDD, MS(0, cases[k].b), 0xDD, MS(0, cases[k].a),
                                     0x83, 0xC8, 0xFF,   /* or eax, -1: SF, clears ZF CF */
                                     0xDB, (uint8_t)(u ? 0xE9 : 0xF1) };
            assert_int_equal(run(fx, code, sizeof code), X86_EXIT_HLT);
            uint32_t f = (uint32_t)x86_cpu_get_rflags(cpu);
            assert_int_equal(f & (X86_FLAG_ZF | X86_FLAG_PF | X86_FLAG_CF | X86_FLAG_OF |
                                  X86_FLAG_SF | X86_FLAG_AF), cases[k].flags);
            assert_int_equal(cpu->fpu_sw & 1, (k == 3 && !u) ? 1 : 0);
        }
    }
}

/* CR0.TS: #NM for an x87 instruction; WAIT only with MP too. CR0.EM: #NM for x87, WAIT
 * runs (SDM Vol. 3A, 2.5, Table 2-2). */
static void test_nm(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    static const uint8_t fld1[] = { 0xD9, 0xE8 };
    static const uint8_t wait[] = { 0x9B };
    cpu->cr0 |= X86_CR0_TS;
    assert_int_equal(run(fx, fld1, sizeof fld1), X86_EXIT_HLT);
    expect_vector(fx, 7, CODE);
    cpu->gpr[X86_RSP] = STACK;
    assert_int_equal(run(fx, wait, sizeof wait), X86_EXIT_HLT);
    assert_int_equal(cpu->rip, CODE + 2);                 /* TS alone: WAIT runs */
    cpu->cr0 |= X86_CR0_MP;
    assert_int_equal(run(fx, wait, sizeof wait), X86_EXIT_HLT);
    expect_vector(fx, 7, CODE);
    cpu->gpr[X86_RSP] = STACK;
    cpu->cr0 &= ~(uint64_t)(X86_CR0_TS | X86_CR0_MP);
    cpu->cr0 |= X86_CR0_EM;
    assert_int_equal(run(fx, fld1, sizeof fld1), X86_EXIT_HLT);
    expect_vector(fx, 7, CODE);
    cpu->gpr[X86_RSP] = STACK;
    assert_int_equal(run(fx, wait, sizeof wait), X86_EXIT_HLT);
    assert_int_equal(cpu->rip, CODE + 2);
}

/* An unmasked exception is pending: FNSTSW and FNCLEX do not wait, FLD1 and WAIT raise
 * #MF (CR0.NE = 1) at themselves; with IE unmasked nothing was written or popped; with
 * CR0.NE = 0 the exception is ignored (no FERR# wiring). */
static void test_mf_pending(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    make_inputs(fx->ram + IN);
    static const uint8_t code[] = {
        FNINIT, 0xD9, MS(5, I_CW + 2 * CW_NOZM),   /* ZE unmasked */
        0xD9, 0xE8, 0xD9, 0xEE, 0xDE, 0xF9,        /* 1 / 0: fdivp */
        FNSTSW_AX, MOV_EBX_AX(0x70),               /* 11: no wait */
        0xD9, 0xE8,                                /* 17: fld1: #MF */
    };
    assert_int_equal(run(fx, code, sizeof code), X86_EXIT_HLT);
    expect_vector(fx, 16, CODE + 17);
    uint16_t sw = get16(fx->ram + OUT + 0x70);
    assert_int_equal(sw & 0xB8FF, 0xB084);        /* B, TOP 6, ES, ZE */
    assert_int_equal(cpu->fpu_fip, CODE + 9);     /* the FDIVP */
    assert_int_equal((cpu->fpu_sw >> 11) & 7, 6); /* not popped */

    static const uint8_t wait[] = { 0x9B };
    cpu->gpr[X86_RSP] = STACK;
    assert_int_equal(run(fx, wait, sizeof wait), X86_EXIT_HLT);
    expect_vector(fx, 16, CODE);

    cpu->gpr[X86_RSP] = STACK;
    cpu->cr0 &= ~(uint64_t)X86_CR0_NE;
    assert_int_equal(run(fx, wait, sizeof wait), X86_EXIT_HLT);
    assert_int_equal(cpu->rip, CODE + 2);
    cpu->cr0 |= X86_CR0_NE;
    static const uint8_t clex[] = { 0xDB, 0xE2, 0x9B, 0xD9, 0xE8 };
    assert_int_equal(run(fx, clex, sizeof clex), X86_EXIT_HLT);
    assert_int_equal(cpu->rip, CODE + sizeof clex + 1);
}

/* FNSTENV in real mode (16-bit format): linear pointers; then all exceptions masked;
 * FLDENV takes CW, SW and the empty tags back. */
static void test_fnstenv_real_mode(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    cpu->cr0 &= ~(uint64_t)X86_CR0_PE;
    cpu->idtr = (X86DescTable){ 0, 0x3FF };                /* IVT: vector v -> 0:HANDLERS + 16v */
    for (unsigned v = 0; v < 256; v++) put32(fx->ram + 4 * v, HANDLERS + 16 * v);
    for (int s = 0; s < 6; s++) cpu->seg[s] = (X86Segment){ 0, 0, 0xFFFF, 0x93 };
    cpu->cs = (X86Segment){ 0x1000, 0x10000, 0xFFFF, 0x9B };   /* code at 0x10000 + ip */
    cpu->ds = (X86Segment){ 0x0500, 0x5000, 0xFFFF, 0x93 };
    static const uint8_t code[] = {
        0xDB, 0xE3,                          /* fninit */
        0xDF, 0x06, 0x20, 0x00,              /* fild word [0x20] (DS:0x20 -> 0x5020) */
        0xD9, 0x36, 0x40, 0x00,              /* fnstenv [0x40] */
        0xD9, 0x26, 0x40, 0x00,              /* fldenv [0x40] */
        0xF4,
    };
    memcpy(fx->ram + 0x10000 + 0x100, code, sizeof code);
    fx->ram[0x5020] = 5;
    x86_cpu_invalidate_code(cpu, 0x10100, sizeof code);
    cpu->rip = 0x100;
    x86_cpu_tlb_flush(cpu);
    X86Exit ex = x86_cpu_run(cpu, 0);
    if (ex != X86_EXIT_HLT) fprintf(stderr, "exit %d at %#llx: %s\n", ex, (unsigned long long)cpu->rip, cpu->exit.unimpl.reason);
    assert_int_equal(ex, X86_EXIT_HLT);
    const uint8_t *e = fx->ram + 0x5040;
    assert_int_equal(get16(e + 0), 0x037F);
    assert_int_equal(get16(e + 2), 0x3800);              /* TOP 7 */
    assert_int_equal(get16(e + 4), 0x3FFF);              /* R7 valid */
    assert_int_equal(get16(e + 6), 0x0102);              /* FIP 15:0 (linear 0x10102) */
    assert_int_equal(get16(e + 8), 0x1000 | 0x706);      /* FIP 19:16 = 1, FOP DF 06 -> 0x706 */
    assert_int_equal(get16(e + 10), 0x5020);             /* FDP */
    assert_int_equal(get16(e + 12), 0);
    assert_int_equal(cpu->fpu_cw, 0x037F);               /* FLDENV restored the masks too */
    assert_int_equal(cpu->fpu_tw, 0x3FFF);
    assert_int_equal((cpu->fpu_sw >> 11) & 7, 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_oracle, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_one_third, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_fistp_rounding, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_stack_faults_masked, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_fnsave_frstor, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_fcomi_flags, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_nm, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_mf_pending, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_fnstenv_real_mode, setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
