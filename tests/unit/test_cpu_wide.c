/*
 * The CPU core's 64-bit operand paths (cpu_internal.h), which no decoded instruction
 * reaches yet (REX comes with long mode): register access with size 8, and the ALU,
 * INC/DEC and shifts on 8-byte operands through the lazy flags, compared with the host
 * (an x86-64 processor runs the same operation natively). Only the flags the SDM defines
 * for each operation are compared.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "sim/cpu/cpu_internal.h"

#define OSZAPC 0x8D5u
#define OSZPC 0x8C5u
#define SZPC 0x0C5u

/* Host results: the operation on rax (destination) and rbx (source, or the count in cl),
 * with the arithmetic flags from and into *f. */
#if defined(__x86_64__)
#define NATIVE(fname, text)                                                              \
    static uint64_t fname(uint64_t a, uint64_t b, uint64_t *f)                          \
    {                                                                                    \
        uint64_t fl = *f;                                                                \
        __asm__ volatile("lea -128(%%rsp), %%rsp\n\t"                                    \
                         "push %2\n\t"                                                   \
                         "popfq\n\t" text "\n\t"                                         \
                         "pushfq\n\t"                                                    \
                         "pop %2\n\t"                                                    \
                         "lea 128(%%rsp), %%rsp"                                         \
                         : "+a"(a), "+c"(b), "+r"(fl)                                    \
                         :                                                               \
                         : "cc", "memory");                                              \
        *f = fl;                                                                         \
        return a;                                                                        \
    }
NATIVE(n_add, "addq %%rcx, %%rax") NATIVE(n_or, "orq %%rcx, %%rax")
NATIVE(n_adc, "adcq %%rcx, %%rax") NATIVE(n_sbb, "sbbq %%rcx, %%rax")
NATIVE(n_and, "andq %%rcx, %%rax") NATIVE(n_sub, "subq %%rcx, %%rax")
NATIVE(n_xor, "xorq %%rcx, %%rax") NATIVE(n_cmp, "cmpq %%rcx, %%rax")
NATIVE(n_inc, "incq %%rax") NATIVE(n_dec, "decq %%rax")
NATIVE(n_shl, "shlq %%cl, %%rax") NATIVE(n_shr, "shrq %%cl, %%rax")
NATIVE(n_sar, "sarq %%cl, %%rax")
typedef uint64_t (*NativeFn)(uint64_t a, uint64_t b, uint64_t *f);
static const NativeFn alu_native[8] = { n_add, n_or, n_adc, n_sbb, n_and, n_sub, n_xor, n_cmp };
#endif

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Operands that reach the carry, overflow and sign edges, and random ones. */
static uint64_t operand(void)
{
    static const uint64_t edge[] = { 0, 1, 2, 0x7FFFFFFFFFFFFFFFull, 0x8000000000000000ull,
                                     ~0ull, ~1ull, 0xFFFFFFFFull, 0x100000000ull, 0x80 };
    uint64_t r = rnd();
    return (r & 3) == 0 ? edge[(r >> 2) % (sizeof edge / sizeof edge[0])] : rnd();
}

/* The flags the lazy state says, each through its single-flag reader and the
 * materialisation, which must agree. */
static uint32_t lazy_flags(X86Cpu *cpu)
{
    uint32_t single = lazy_cf(cpu) | lazy_of(cpu) | lazy_zf(cpu) | lazy_sf(cpu) | lazy_pf(cpu);
    uint32_t all = x86_lazy_arith(cpu);
    assert_int_equal(single, all & OSZPC);
    return all;
}

static void test_registers(void **state)
{
    (void)state;
    X86Cpu *cpu = calloc(1, sizeof *cpu);
    assert_non_null(cpu);
    reg_write(cpu, X86_RDX, 8, 0x0123456789ABCDEFull);
    assert_true(reg_read(cpu, X86_RDX, 8) == 0x0123456789ABCDEFull);
    assert_true(reg_read(cpu, X86_RDX, 4) == 0x89ABCDEFull);
    assert_true(reg_read(cpu, X86_RDX, 2) == 0xCDEF);
    assert_true(reg_read(cpu, X86_RDX, 1) == 0xEF);
    assert_true(reg_read(cpu, X86_RDX + 4, 1) == 0xCD);   /* DH */
    reg_write(cpu, X86_RDX, 2, 0x1111);                   /* 16 bits keep the rest */
    assert_true(cpu->gpr[X86_RDX] == 0x0123456789AB1111ull);
    reg_write(cpu, X86_RDX, 4, 0xFFFFFFFF22222222ull);    /* 32 bits zero-extend */
    assert_true(cpu->gpr[X86_RDX] == 0x22222222ull);
    assert_true(size_mask(8) == ~0ull && size_top(8) == 0x8000000000000000ull);
    assert_true(size_top(4) == 0x80000000u && size_top(1) == 0x80);
    uint8_t buf[8];
    st_le(buf, 8, 0x1122334455667788ull);
    assert_true(ld_le(buf, 8) == 0x1122334455667788ull && ld_le(buf, 4) == 0x55667788u);
    free(cpu);
}

static void test_alu64_vs_host(void **state)
{
    (void)state;
#if !defined(__x86_64__)
    skip();
#else
    X86Cpu *cpu = calloc(1, sizeof *cpu);
    assert_non_null(cpu);
    for (int i = 0; i < 20000; i++) {
        unsigned op = (unsigned)i & 7;
        uint64_t a = operand(), b = operand(), cf = rnd() & 1;
        cpu->flags = X86_FLAG_FIXED | (uint32_t)cf;
        cpu->lf_op = LF_NONE;
        uint64_t r = alu_inline(cpu, op, 8, a, b);
        uint64_t hf = X86_FLAG_FIXED | cf;
        uint64_t hr = alu_native[op](a, b, &hf);
        if (op != 7) assert_true(r == hr);
        /* AF is undefined for OR AND XOR */
        uint32_t mask = (op == 1 || op == 4 || op == 6) ? OSZPC : OSZAPC;
        if ((lazy_flags(cpu) & mask) != (hf & mask))
            fail_msg("op %u a %#llx b %#llx cf %u: flags %#x, host %#llx", op,
                     (unsigned long long)a, (unsigned long long)b, (unsigned)cf,
                     lazy_flags(cpu) & mask, (unsigned long long)(hf & mask));
    }
    free(cpu);
#endif
}

static void test_incdec_shift64_vs_host(void **state)
{
    (void)state;
#if !defined(__x86_64__)
    skip();
#else
    X86Cpu *cpu = calloc(1, sizeof *cpu);
    assert_non_null(cpu);
    for (int i = 0; i < 20000; i++) {
        uint64_t a = operand(), cf = rnd() & 1;
        bool dec = i & 1;
        cpu->flags = X86_FLAG_FIXED | (uint32_t)cf;
        cpu->lf_op = LF_NONE;
        keep_cf(cpu);
        uint64_t r = (dec ? a - 1 : a + 1) & size_mask(8);
        lazy_set(cpu, dec ? LF_DEC : LF_INC, 8, a, 1, r);
        uint64_t hf = X86_FLAG_FIXED | cf;
        assert_true((dec ? n_dec : n_inc)(a, 0, &hf) == r);
        assert_int_equal(lazy_flags(cpu) & OSZAPC, hf & OSZAPC);   /* CF kept */

        /* SHL (4), SHR (5), SAR (7) by 1..63: OF is defined for a count of 1 only */
        static const unsigned kinds[3] = { 4, 5, 7 };
        static const NativeFn native[3] = { n_shl, n_shr, n_sar };
        unsigned k = (unsigned)(rnd() % 3), count = 1 + (unsigned)(rnd() % 63);
        uint32_t cfof;
        r = shift_value(kinds[k], 8, a, count, &cfof);
        lazy_set_cfof(cpu, 8, r, cfof);
        hf = X86_FLAG_FIXED;
        assert_true(native[k](a, count, &hf) == r);
        uint32_t mask = count == 1 ? OSZPC : SZPC;
        if ((lazy_flags(cpu) & mask) != (hf & mask))
            fail_msg("shift %u a %#llx by %u: flags %#x, host %#llx", kinds[k],
                     (unsigned long long)a, count, lazy_flags(cpu) & mask,
                     (unsigned long long)(hf & mask));
    }
    free(cpu);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registers),
        cmocka_unit_test(test_alu64_vs_host),
        cmocka_unit_test(test_incdec_shift64_vs_host),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
