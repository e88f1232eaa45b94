/*
 * Differential test of the interpreter's integer instructions against the host CPU (an
 * x86-64 processor runs the same operation natively). The single-step conformance tests
 * only cover 8086/286 forms; this covers the 32-bit operand size and the 386 additions.
 * Only the flags the SDM defines for each instruction are compared.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sim/cpu/cpu.h"

#define RAM_SIZE (1u << 20)
#define CODE 0x1000u
#define OSZAPC 0x8D5u
#define OSZPC 0x8C5u

typedef struct {
    uint64_t a, b, c, d, f;   /* eax ebx ecx edx rflags */
} Regs;

typedef void (*NativeFn)(Regs *r);

/* Runs `text` with eax/ebx/ecx/edx and the arithmetic flags from *r (the stack pointer is
 * moved past the red zone before pushing). */
#define NATIVE(fname, text)                                                              \
    static void fname(Regs *r)                                                           \
    {                                                                                    \
        uint64_t ra = r->a, rb = r->b, rc = r->c, rd = r->d, f = r->f;                   \
        __asm__ volatile("lea -128(%%rsp), %%rsp\n\t"                                    \
                         "push %4\n\t"                                                   \
                         "popfq\n\t" text "\n\t"                                         \
                         "pushfq\n\t"                                                    \
                         "pop %4\n\t"                                                    \
                         "lea 128(%%rsp), %%rsp"                                         \
                         : "+a"(ra), "+b"(rb), "+c"(rc), "+d"(rd), "+r"(f)               \
                         :                                                               \
                         : "cc", "memory");                                              \
        r->a = ra; r->b = rb; r->c = rc; r->d = rd; r->f = f;                            \
    }

/* op ebx, eax style (AT&T: source first) for each size */
#define RR3(name, insn)                                \
    NATIVE(name##8, insn "b %b1, %b0")                 \
    NATIVE(name##16, insn "w %w1, %w0")                \
    NATIVE(name##32, insn "l %k1, %k0")
#define CL3(name, insn)                                \
    NATIVE(name##8, insn "b %%cl, %b0")                \
    NATIVE(name##16, insn "w %%cl, %w0")               \
    NATIVE(name##32, insn "l %%cl, %k0")
#define R3(name, insn)                                 \
    NATIVE(name##8, insn "b %b0")                      \
    NATIVE(name##16, insn "w %w0")                     \
    NATIVE(name##32, insn "l %k0")

RR3(n_add, "add") RR3(n_or, "or") RR3(n_adc, "adc") RR3(n_sbb, "sbb") RR3(n_and, "and")
RR3(n_sub, "sub") RR3(n_xor, "xor") RR3(n_cmp, "cmp") RR3(n_test, "test")
RR3(n_xadd, "xadd")
R3(n_inc, "inc") R3(n_dec, "dec") R3(n_neg, "neg") R3(n_not, "not")
CL3(n_shl, "shl") CL3(n_shr, "shr") CL3(n_sar, "sar") CL3(n_rol, "rol") CL3(n_ror, "ror")
CL3(n_rcl, "rcl") CL3(n_rcr, "rcr")
NATIVE(n_shld16, "shldw %%cl, %w1, %w0") NATIVE(n_shld32, "shldl %%cl, %k1, %k0")
NATIVE(n_shrd16, "shrdw %%cl, %w1, %w0") NATIVE(n_shrd32, "shrdl %%cl, %k1, %k0")
NATIVE(n_bt16, "btw %w1, %w0") NATIVE(n_bt32, "btl %k1, %k0")
NATIVE(n_bts16, "btsw %w1, %w0") NATIVE(n_bts32, "btsl %k1, %k0")
NATIVE(n_btr16, "btrw %w1, %w0") NATIVE(n_btr32, "btrl %k1, %k0")
NATIVE(n_btc16, "btcw %w1, %w0") NATIVE(n_btc32, "btcl %k1, %k0")
NATIVE(n_bsf16, "bsfw %w1, %w0") NATIVE(n_bsf32, "bsfl %k1, %k0")
NATIVE(n_bsr16, "bsrw %w1, %w0") NATIVE(n_bsr32, "bsrl %k1, %k0")
NATIVE(n_imul2_16, "imulw %w1, %w0") NATIVE(n_imul2_32, "imull %k1, %k0")
NATIVE(n_mul8, "mulb %b1") NATIVE(n_mul16, "mulw %w1") NATIVE(n_mul32, "mull %k1")
NATIVE(n_imul8, "imulb %b1") NATIVE(n_imul16, "imulw %w1") NATIVE(n_imul32, "imull %k1")
NATIVE(n_cmpxchg8, "cmpxchgb %b1, %b2") NATIVE(n_cmpxchg16, "cmpxchgw %w1, %w2")
NATIVE(n_cmpxchg32, "cmpxchgl %k1, %k2")
NATIVE(n_bswap32, "bswapl %k0")
NATIVE(n_cmovl16, "cmovlw %w1, %w0") NATIVE(n_cmovl32, "cmovll %k1, %k0")
NATIVE(n_cmovbe32, "cmovbel %k1, %k0")
NATIVE(n_movsx8_32, "movsbl %b1, %k0") NATIVE(n_movsx16_32, "movswl %w1, %k0")
NATIVE(n_movzx8_16, "movzbw %b1, %w0") NATIVE(n_movzx16_32, "movzwl %w1, %k0")

enum { K_PLAIN, K_SHIFT, K_ROT, K_RC, K_SHXD, K_BT, K_BS, K_MUL, K_LOGIC };

typedef struct {
    const char *name;
    uint8_t bytes[4];         /* without the operand-size prefix */
    uint8_t len;
    uint8_t size;             /* 1, 2, 4 */
    uint8_t kind;
    NativeFn native;
} Case;

#define C3(nm, b0, b1, kind, fn)                                  \
    { nm " r8", { (b0) - 1, b1 }, 2, 1, kind, fn##8 },            \
    { nm " r16", { b0, b1 }, 2, 2, kind, fn##16 },                \
    { nm " r32", { b0, b1 }, 2, 4, kind, fn##32 }
#define G3(nm, b0, b1, kind, fn)                                  \
    { nm " r8", { (b0) - 1, b1 }, 2, 1, kind, fn##8 },            \
    { nm " r16", { b0, b1 }, 2, 2, kind, fn##16 },                \
    { nm " r32", { b0, b1 }, 2, 4, kind, fn##32 }

static const Case cases[] = {
    C3("add", 0x01, 0xD8, K_PLAIN, n_add), C3("or", 0x09, 0xD8, K_LOGIC, n_or),
    C3("adc", 0x11, 0xD8, K_PLAIN, n_adc), C3("sbb", 0x19, 0xD8, K_PLAIN, n_sbb),
    C3("and", 0x21, 0xD8, K_LOGIC, n_and), C3("sub", 0x29, 0xD8, K_PLAIN, n_sub),
    C3("xor", 0x31, 0xD8, K_LOGIC, n_xor), C3("cmp", 0x39, 0xD8, K_PLAIN, n_cmp),
    C3("test", 0x85, 0xD8, K_LOGIC, n_test),
    { "inc r8", { 0xFE, 0xC0 }, 2, 1, K_PLAIN, n_inc8 },
    { "inc r16", { 0x40 }, 1, 2, K_PLAIN, n_inc16 }, { "inc r32", { 0x40 }, 1, 4, K_PLAIN, n_inc32 },
    { "dec r8", { 0xFE, 0xC8 }, 2, 1, K_PLAIN, n_dec8 },
    { "dec r16", { 0x48 }, 1, 2, K_PLAIN, n_dec16 }, { "dec r32", { 0x48 }, 1, 4, K_PLAIN, n_dec32 },
    G3("neg", 0xF7, 0xD8, K_PLAIN, n_neg), G3("not", 0xF7, 0xD0, K_PLAIN, n_not),
    G3("shl", 0xD3, 0xE0, K_SHIFT, n_shl), G3("shr", 0xD3, 0xE8, K_SHIFT, n_shr),
    G3("sar", 0xD3, 0xF8, K_SHIFT, n_sar), G3("rol", 0xD3, 0xC0, K_ROT, n_rol),
    G3("ror", 0xD3, 0xC8, K_ROT, n_ror), G3("rcl", 0xD3, 0xD0, K_RC, n_rcl),
    G3("rcr", 0xD3, 0xD8, K_RC, n_rcr),
    { "shld r16", { 0x0F, 0xA5, 0xD8 }, 3, 2, K_SHXD, n_shld16 },
    { "shld r32", { 0x0F, 0xA5, 0xD8 }, 3, 4, K_SHXD, n_shld32 },
    { "shrd r16", { 0x0F, 0xAD, 0xD8 }, 3, 2, K_SHXD, n_shrd16 },
    { "shrd r32", { 0x0F, 0xAD, 0xD8 }, 3, 4, K_SHXD, n_shrd32 },
    { "bt r16", { 0x0F, 0xA3, 0xD8 }, 3, 2, K_BT, n_bt16 }, { "bt r32", { 0x0F, 0xA3, 0xD8 }, 3, 4, K_BT, n_bt32 },
    { "bts r16", { 0x0F, 0xAB, 0xD8 }, 3, 2, K_BT, n_bts16 }, { "bts r32", { 0x0F, 0xAB, 0xD8 }, 3, 4, K_BT, n_bts32 },
    { "btr r16", { 0x0F, 0xB3, 0xD8 }, 3, 2, K_BT, n_btr16 }, { "btr r32", { 0x0F, 0xB3, 0xD8 }, 3, 4, K_BT, n_btr32 },
    { "btc r16", { 0x0F, 0xBB, 0xD8 }, 3, 2, K_BT, n_btc16 }, { "btc r32", { 0x0F, 0xBB, 0xD8 }, 3, 4, K_BT, n_btc32 },
    { "bsf r16", { 0x0F, 0xBC, 0xC3 }, 3, 2, K_BS, n_bsf16 }, { "bsf r32", { 0x0F, 0xBC, 0xC3 }, 3, 4, K_BS, n_bsf32 },
    { "bsr r16", { 0x0F, 0xBD, 0xC3 }, 3, 2, K_BS, n_bsr16 }, { "bsr r32", { 0x0F, 0xBD, 0xC3 }, 3, 4, K_BS, n_bsr32 },
    { "imul r16, r/m16", { 0x0F, 0xAF, 0xC3 }, 3, 2, K_MUL, n_imul2_16 },
    { "imul r32, r/m32", { 0x0F, 0xAF, 0xC3 }, 3, 4, K_MUL, n_imul2_32 },
    G3("mul", 0xF7, 0xE3, K_MUL, n_mul), G3("imul", 0xF7, 0xEB, K_MUL, n_imul),
    { "xadd r8", { 0x0F, 0xC0, 0xD8 }, 3, 1, K_PLAIN, n_xadd8 },
    { "xadd r16", { 0x0F, 0xC1, 0xD8 }, 3, 2, K_PLAIN, n_xadd16 },
    { "xadd r32", { 0x0F, 0xC1, 0xD8 }, 3, 4, K_PLAIN, n_xadd32 },
    { "cmpxchg r8", { 0x0F, 0xB0, 0xD9 }, 3, 1, K_PLAIN, n_cmpxchg8 },
    { "cmpxchg r16", { 0x0F, 0xB1, 0xD9 }, 3, 2, K_PLAIN, n_cmpxchg16 },
    { "cmpxchg r32", { 0x0F, 0xB1, 0xD9 }, 3, 4, K_PLAIN, n_cmpxchg32 },
    { "bswap r32", { 0x0F, 0xC8 }, 2, 4, K_PLAIN, n_bswap32 },
    { "cmovl r16", { 0x0F, 0x4C, 0xC3 }, 3, 2, K_PLAIN, n_cmovl16 },
    { "cmovl r32", { 0x0F, 0x4C, 0xC3 }, 3, 4, K_PLAIN, n_cmovl32 },
    { "cmovbe r32", { 0x0F, 0x46, 0xC3 }, 3, 4, K_PLAIN, n_cmovbe32 },
    { "movsx r32, r8", { 0x0F, 0xBE, 0xC3 }, 3, 4, K_PLAIN, n_movsx8_32 },
    { "movsx r32, r16", { 0x0F, 0xBF, 0xC3 }, 3, 4, K_PLAIN, n_movsx16_32 },
    { "movzx r16, r8", { 0x0F, 0xB6, 0xC3 }, 3, 2, K_PLAIN, n_movzx8_16 },
    { "movzx r32, r16", { 0x0F, 0xB7, 0xC3 }, 3, 4, K_PLAIN, n_movzx16_32 },
};

static uint8_t *ram;

static uint8_t *page_fn(void *opaque, uint64_t gpa_page, unsigned access)
{
    (void)opaque;
    (void)access;
    return gpa_page < RAM_SIZE ? ram + gpa_page : NULL;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

/* Random values with the edges (0, 1, sign bits, all ones) well represented. */
static uint32_t value(void)
{
    static const uint32_t edge[] = { 0, 1, 2, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF,
                                     0x7FFFFFFF, 0x80000000u, 0xFFFFFFFFu, 0x10, 0xF };
    uint32_t r = rnd();
    switch (r % 4) {
    case 0: return edge[(r >> 8) % (sizeof edge / sizeof edge[0])];
    case 1: return rnd() & 0xFF;
    default: return rnd();
    }
}

/* The flags the SDM defines after the operation. */
static uint32_t defined_flags(const Case *c, uint32_t count, uint32_t src)
{
    unsigned w = c->size * 8;
    switch (c->kind) {
    case K_LOGIC: return OSZPC;
    case K_SHIFT:
        if ((count & 31) == 0) return OSZAPC;
        return 0xC4u | ((count & 31) < w ? 1u : 0u) | ((count & 31) == 1 ? 0x800u : 0u);
    case K_ROT:
        if ((count & 31) == 0) return OSZAPC;
        return 0xD4u | 1u | ((count & 31) == 1 ? 0x800u : 0u);
    case K_RC:
        if ((count & 31) == 0) return OSZAPC;
        return 0xD4u | 1u | ((count & 31) == 1 ? 0x800u : 0u);
    case K_SHXD:
        if ((count & 31) == 0) return OSZAPC;
        return 0xC4u | ((count & 31) <= w ? 1u : 0u) | ((count & 31) == 1 ? 0x800u : 0u);
    case K_BT: return 0x1u;
    case K_BS: return src ? 0x40u : 0x40u;
    case K_MUL: return 0x801u;
    default: return OSZAPC;
    }
}

static void run_case(X86Cpu *cpu, const Case *c, int iterations)
{
    uint32_t m = c->size == 1 ? 0xFF : c->size == 2 ? 0xFFFF : 0xFFFFFFFFu;
    for (int it = 0; it < iterations; it++) {
        Regs in = { value(), value(), value() & (c->kind == K_SHIFT || c->kind == K_ROT ||
                                                 c->kind == K_RC || c->kind == K_SHXD ? 0x3F : ~0u),
                    value(), 0x2u | (rnd() & OSZAPC) };
        if (c->kind == K_SHXD && c->size == 2 && (in.c & 31) > 16) in.c &= 15;
        /* interpreter */
        uint8_t *p = ram + CODE;
        unsigned n = 0;
        if (c->size == 4) p[n++] = 0x66;
        memcpy(p + n, c->bytes, c->len);
        n += c->len;
        p[n++] = 0xF4;
        x86_cpu_invalidate_code(cpu, CODE, n);
        for (int s = 0; s < 6; s++) x86_cpu_load_real_segment(cpu, s, 0);
        cpu->rip = CODE;
        cpu->gpr[X86_RAX] = in.a;
        cpu->gpr[X86_RBX] = in.b;
        cpu->gpr[X86_RCX] = in.c;
        cpu->gpr[X86_RDX] = in.d;
        x86_cpu_set_rflags(cpu, in.f);
        X86Exit e = x86_cpu_run(cpu, 10);
        if (e != X86_EXIT_HLT) fail_msg("%s: exit %s", c->name, x86_exit_name(e));
        Regs got = { cpu->gpr[X86_RAX], cpu->gpr[X86_RBX], cpu->gpr[X86_RCX], cpu->gpr[X86_RDX],
                     x86_cpu_get_rflags(cpu) };
        /* host */
        Regs want = in;
        c->native(&want);
        uint32_t fm = defined_flags(c, (uint32_t)in.c, (uint32_t)in.b & m);
        uint32_t rm = c->kind == K_BS && ((uint32_t)in.b & m) == 0 ? 0 : 0xFFFFFFFFu;
        /* the register part each operand size writes */
        uint32_t wm = c->size == 1 ? 0xFFFF : c->size == 2 ? 0xFFFF : 0xFFFFFFFFu;
        if (c->size == 2 && (c->bytes[0] == 0x0F && c->bytes[1] == 0xB6)) wm = 0xFFFF;
        bool ok = ((uint32_t)got.a & wm & rm) == ((uint32_t)want.a & wm & rm) &&
                  ((uint32_t)got.b & wm) == ((uint32_t)want.b & wm) &&
                  ((uint32_t)got.c & wm) == ((uint32_t)want.c & wm) &&
                  ((uint32_t)got.d & wm) == ((uint32_t)want.d & wm) &&
                  ((uint32_t)got.f & fm) == ((uint32_t)want.f & fm);
        if (!ok)
            fail_msg("%s: in a=%08x b=%08x c=%08x d=%08x f=%03x\n"
                     "  got  a=%08x b=%08x c=%08x d=%08x f=%03x\n"
                     "  want a=%08x b=%08x c=%08x d=%08x f=%03x (flags mask %03x)",
                     c->name, (uint32_t)in.a, (uint32_t)in.b, (uint32_t)in.c, (uint32_t)in.d,
                     (uint32_t)in.f, (uint32_t)got.a, (uint32_t)got.b, (uint32_t)got.c,
                     (uint32_t)got.d, (uint32_t)got.f & 0xFFF, (uint32_t)want.a, (uint32_t)want.b,
                     (uint32_t)want.c, (uint32_t)want.d, (uint32_t)want.f & 0xFFF, fm);
    }
}

static void test_alu_vs_host(void **state)
{
    (void)state;
    ram = calloc(1, RAM_SIZE);
    X86Cpu *cpu = x86_cpu_create(page_fn, NULL);
    assert_non_null(cpu);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(cpu, &cases[i], 3000);
    x86_cpu_destroy(cpu);
    free(ram);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alu_vs_host),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
