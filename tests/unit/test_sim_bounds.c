/*
 * Issue 24, "a guest can make the VMM copy out of bounds": the sim kernel's places where
 * a length, count or address that the guest chooses reaches host memory, each driven to
 * its edge. Every case failed (crash, or an AddressSanitizer report under SAN=1) before
 * its fix:
 *  - a translated block larger than the room the JIT reserved for it (32 PUSHes), at the
 *    end of the arena;
 *  - an OUTS whose element straddles the top of the 4 GiB linear space;
 *  - a REP INS completed after the host unmapped its page (more MMIO writes than the
 *    queue holds, outside any run).
 * And one where only the address was wrong, not the host access: a descriptor that
 * straddles the top of the 4 GiB linear space.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sim/cpu/cpu_internal.h"

#define RAM_SIZE (1u << 20)
#define TOP_PAGE 0xFFFFF000ull     /* guest-physical: a page of its own at the top of 4 GiB */

typedef struct {
    uint8_t *ram;
    uint8_t top[4096];
    uint64_t unmapped;             /* a guest-physical page the host took away, or ~0 */
    X86Cpu *cpu;
} Machine;

static uint8_t *page_fn(void *opaque, uint64_t gpa_page, unsigned access)
{
    (void)access;
    Machine *m = opaque;
    if (gpa_page == m->unmapped) return NULL;
    if (gpa_page == TOP_PAGE) return m->top;
    return gpa_page < RAM_SIZE ? m->ram + gpa_page : NULL;
}

static int machine_setup(void **state)
{
    Machine *m = calloc(1, sizeof *m);
    if (!m) return -1;
    m->ram = calloc(1, RAM_SIZE);
    m->unmapped = ~0ull;
    m->cpu = m->ram ? x86_cpu_create(page_fn, m) : NULL;
    if (!m->cpu) return -1;
    for (int s = 0; s < 6; s++) x86_cpu_load_real_segment(m->cpu, s, 0);
    m->cpu->rip = 0x1000;
    m->cpu->gpr[X86_RSP] = 0x8000;
    *state = m;
    return 0;
}

static int machine_teardown(void **state)
{
    Machine *m = *state;
    x86_cpu_destroy(m->cpu);
    free(m->ram);
    free(m);
    return 0;
}

/* ---------------------------------------------------------------------------------- */

#if defined(__x86_64__)
/* A block of 31 PUSH AX and a CALL, decoded as the block cache would hold it. */
static X86Block *push_block(void)
{
    enum { N = 32 };
    X86Block *b = calloc(1, sizeof *b + N * sizeof(X86Insn));
    assert_non_null(b);
    static const uint8_t push[] = {0x50}, call[] = {0xE8, 0, 0};
    uint32_t ip = 0x1000;
    for (unsigned i = 0; i < N; i++) {
        X86Insn *in = &b->insns[i];
        bool last = i == N - 1;
        assert_int_equal(x86_decode_bytes(last ? call : push, last ? 3 : 1, X86_MODE_REAL16, in), 0);
        x86_specialize(in);
        ip += in->len;
        in->next_ip = ip;
    }
    b->n = N;
    b->ip = 0x1000;
    return b;
}
#endif

/* The translation of a block never writes past the arena: the room it takes is what it
 * emits, not an estimate. An arena of 12 KiB passes the old estimate for 32 instructions
 * (256 + 32 * 320 bytes) but not the 17 KiB they take; the arena here is heap memory, so
 * AddressSanitizer sees any byte written past it. */
static void test_jit_translation_stays_in_arena(void **state)
{
#if defined(__x86_64__)
    Machine *m = *state;
    const size_t size = 12 * 1024;
    uint8_t *mem = malloc(size);
    assert_non_null(mem);
    X86JitArena a = {.base = mem, .exec_delta = 0, .size = size, .used = 0};
    X86Block *b = push_block();
    assert_false(x86_jit_translate(&a, m->cpu, b));
    assert_int_equal(a.used, 0);
    assert_null(b->jit);
    for (int k = 0; k < 4; k++) assert_null(b->jit_exit[k]);
    /* Room enough: it is translated, within the arena. */
    free(mem);
    const size_t big = 64 * 1024;
    mem = malloc(big);
    assert_non_null(mem);
    a = (X86JitArena){.base = mem, .exec_delta = 0, .size = big, .used = 0};
    assert_true(x86_jit_translate(&a, m->cpu, b));
    assert_true(a.used > size && a.used <= big);
    free(b);
    free(mem);
#else
    (void)state;
    skip();
#endif
}

/* OUTSW at linear FFFFFFFFh: its second byte is at linear 0 (linear addresses wrap at
 * 4 GiB), which is where the check that both bytes are RAM looked; the copy into the exit
 * looked at 1_0000_0000h instead, which no page maps, and dereferenced NULL. */
static void test_outs_element_wraps_at_4g(void **state)
{
    Machine *m = *state;
    X86Cpu *cpu = m->cpu;
    m->top[0xFFF] = 0x5A;
    m->ram[0] = 0xA5;
    m->ram[0x1000] = 0x6F;                      /* OUTSW */
    cpu->ds.base = 0xFFFFFFF0u;                 /* DS:000F is linear FFFFFFFFh */
    cpu->gpr[X86_RSI] = 0xF;
    cpu->gpr[X86_RDX] = 0x80;
    assert_int_equal(x86_cpu_run(cpu, 10), X86_EXIT_IO);
    assert_int_equal(cpu->exit.io.count, 1);
    assert_int_equal(cpu->exit.io.size, 2);
    assert_int_equal(cpu->exit.io.data[0], 0x5A);
    assert_int_equal(cpu->exit.io.data[1], 0xA5);
    x86_cpu_complete_io(cpu);
    assert_int_equal(cpu->gpr[X86_RSI], 0x11);
}

/* REP INSB of 100 bytes into a page of RAM; before the next run completes it, the host
 * takes the page away (a VMM may change its memory slots at any exit). The 100 bytes
 * become MMIO writes, more than the queue's 8, from x86_cpu_complete_io, which runs
 * outside x86_cpu_run: the internal error for the full queue longjmp'ed into the stack
 * frame of a run that had returned. Now the error waits for the next run, which reports
 * the queued writes first. */
static void test_ins_completed_into_unmapped_page(void **state)
{
    Machine *m = *state;
    X86Cpu *cpu = m->cpu;
    m->ram[0x1000] = 0xF3;                      /* REP INSB */
    m->ram[0x1001] = 0x6C;
    cpu->gpr[X86_RDI] = 0x2000;
    cpu->gpr[X86_RCX] = 100;
    cpu->gpr[X86_RDX] = 0x80;
    assert_int_equal(x86_cpu_run(cpu, 10), X86_EXIT_IO);
    assert_int_equal(cpu->exit.io.count, 100);
    for (unsigned i = 0; i < 100; i++) cpu->exit.io.data[i] = (uint8_t)i;
    m->unmapped = 0x2000;
    x86_cpu_tlb_flush(cpu);
    x86_cpu_complete_io(cpu);
    for (unsigned w = 0; w < 8; w++) {
        assert_int_equal(x86_cpu_run(cpu, 10), X86_EXIT_MMIO);
        assert_true(cpu->exit.mmio.is_write);
        assert_int_equal(cpu->exit.mmio.gpa, 0x2000 + 8 * w);
        assert_int_equal(cpu->exit.mmio.size, 8);
    }
    assert_int_equal(x86_cpu_run(cpu, 10), X86_EXIT_UNIMPLEMENTED);
    assert_non_null(strstr(cpu->exit.unimpl.reason, "MMIO write queue"));
    assert_int_equal(cpu->exit.unimpl.bytes[0], 0xF3);  /* it names the REP INSB */
    assert_int_equal(cpu->exit.unimpl.bytes[1], 0x6C);
    assert_int_equal(cpu->exit.unimpl.linear, 0x1000);
}

/* A descriptor whose 8 bytes straddle the top of the linear space: its high dword and
 * the accessed bit are at linear 0 and 5 (4 GiB wrap), not at 1_0000_0000h and above,
 * which is not memory at all (a 64-bit sum took them there, an MMIO exit). */
static void test_descriptor_wraps_at_4g(void **state)
{
    Machine *m = *state;
    X86Cpu *cpu = m->cpu;
    static const uint8_t code[] = {0x8E, 0xD8, 0xF4};   /* MOV DS, AX; HLT */
    memcpy(m->ram + 0x1000, code, sizeof code);
    static const uint8_t lo[] = {0xFF, 0xFF, 0x00, 0x00}, hi[] = {0x00, 0x92, 0xCF, 0x00};
    memcpy(m->top + 0xFFC, lo, 4);              /* selector 08h at FFFFFFF4h + 8 */
    memcpy(m->ram, hi, 4);
    cpu->gdtr.base = 0xFFFFFFF4u;
    cpu->gdtr.limit = 0xF;
    cpu->cr0 |= X86_CR0_PE;
    cpu->gpr[X86_RAX] = 0x08;
    assert_int_equal(x86_cpu_run(cpu, 10), X86_EXIT_HLT);
    assert_int_equal(cpu->ds.selector, 0x08);
    assert_int_equal(cpu->ds.limit, 0xFFFFFFFFu);
    assert_int_equal(m->ram[1], 0x93);          /* the accessed bit, at linear 1 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_jit_translation_stays_in_arena, machine_setup,
                                        machine_teardown),
        cmocka_unit_test_setup_teardown(test_outs_element_wraps_at_4g, machine_setup,
                                        machine_teardown),
        cmocka_unit_test_setup_teardown(test_ins_completed_into_unmapped_page, machine_setup,
                                        machine_teardown),
        cmocka_unit_test_setup_teardown(test_descriptor_wraps_at_4g, machine_setup,
                                        machine_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
