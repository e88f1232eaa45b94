/*
 * A decoded block's bytes as two pieces on unrelated physical pages (issue 24): an
 * instruction whose bytes go on into the next linear page, which maps below the first
 * page, far above it or to the same page, on the plain interpreter and with translation.
 * guests/straddle.s (a multiboot kernel) is run on the bare CPU as a loader would start
 * it; the A20 gate's wrap of real-mode addresses is the same case without paging.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define RAM_SIZE (16u << 20)
#include "cpu_fixture.h"

#define KERNEL_GPA 0x100000u
#define COM1 0x3F8u
#define DEBUG_EXIT 0xF4u

static const char straddle_out[] =
    "below:   eax=11223344 sum=b15c0690 ok\n"
    "above:   eax=44556644 sum=b15bf290 ok\n"
    "same:    eax=77889944 sum=b15bde90 ok\n"
    "rewrite: eax=ccbbaa44 sum=f94e8290 ok\n"
    "back:    eax=11223344 sum=b15c0690 ok\n";

/* Loads build/guests/straddle.bin at 1 MiB; false when it is not there. */
static bool load_straddle(Fx *fx)
{
    const char *dir = getenv("SCRATCHVM_GUEST_DIR");
    char path[512];
    snprintf(path, sizeof path, "%s/straddle.bin", dir ? dir : "build/guests");
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    size_t n = fread(fx->ram + KERNEL_GPA, 1, 0x10000, f);
    fclose(f);
    return n > 0x40;
}

/* Flat 32-bit protected mode at ring 0, paging off, as a multiboot loader leaves it. */
static void enter_flat_pm32(X86Cpu *cpu, uint32_t entry)
{
    cpu->cr0 = X86_CR0_PE | X86_CR0_ET;
    cpu->cs = (X86Segment){ 0x10, 0, 0xFFFFFFFF, 0xC09B };
    for (int s = 0; s < 6; s++)
        if (s != X86_CS) cpu->seg[s] = (X86Segment){ 0x18, 0, 0xFFFFFFFF, 0xC093 };
    cpu->rip = entry;
}

/* Runs straddle.bin with the given translation threshold: COM1's bytes into out, the
 * value written to the debug-exit port returned (-1: the run ended otherwise). */
static int run_straddle(uint32_t jit_threshold, char *out, size_t cap)
{
    Fx *fx = fx_create();
    assert_non_null(fx);
    if (!load_straddle(fx)) {
        void *s = fx;
        fx_teardown(&s);
        skip();
    }
    fx->cpu->jit_threshold = jit_threshold;
    uint32_t entry = 0, magic;
    for (uint32_t off = 0; off < 8192 && !entry; off += 4) {   /* the multiboot header */
        memcpy(&magic, fx->ram + KERNEL_GPA + off, 4);
        if (magic == 0x1BADB002) memcpy(&entry, fx->ram + KERNEL_GPA + off + 28, 4);
    }
    assert_true(entry != 0);
    enter_flat_pm32(fx->cpu, entry);
    size_t len = 0;
    int status = -1;
    for (int exits = 0; exits < 100000 && status < 0; exits++) {
        X86Exit e = x86_cpu_run(fx->cpu, 10000000);
        if (e != X86_EXIT_IO) break;
        X86ExitInfo *x = &fx->cpu->exit;
        if (x->io.in) x->io.data[0] = x->io.port == COM1 + 5 ? 0x20 : 0xFF;  /* THRE */
        else if (x->io.port == COM1 && len + 1 < cap) out[len++] = (char)x->io.data[0];
        else if (x->io.port == DEBUG_EXIT) status = x->io.data[0];
        x86_cpu_complete_io(fx->cpu);
    }
    out[len] = 0;
    void *s = fx;
    fx_teardown(&s);
    return status;
}

static void straddle_at(uint32_t jit_threshold)
{
    char out[1024];
    int status = run_straddle(jit_threshold, out, sizeof out);
    assert_string_equal(out, straddle_out);
    assert_int_equal(status, 0x11);
}

static void test_straddle_interpreted(void **state)
{
    (void)state;
    straddle_at(0);
}

static void test_straddle_translated_at_once(void **state)
{
    (void)state;
    straddle_at(1);
}

static void test_straddle_translated_when_hot(void **state)
{
    (void)state;
    straddle_at(16);
}

/* Real mode with the A20 gate off: `mov ax, 0x3344` at FFFF:000E has bytes at 0xFFFFE
 * and 0xFFFFF, and its last one at 0x100000, which A20M# makes 0 (a page below). With the
 * gate on, the same instruction reads its last byte at 0x100000 itself. */
static void test_a20_wrap(void **state)
{
    (void)state;
    for (uint32_t threshold = 0; threshold <= 1; threshold++) {
        Fx *fx = fx_create_real(0, 0x8000);
        assert_non_null(fx);
        fx->cpu->jit_threshold = threshold;
        static const uint8_t first[] = { 0xB8, 0x44 };
        memcpy(fx->ram + 0xFFFFE, first, sizeof first);
        fx->ram[0x0] = 0x33;       /* A20 off: 0x100000 */
        fx->ram[0x1] = 0xF4;       /* hlt at FFFF:0011 */
        fx->ram[0x100000] = 0x55;  /* A20 on */
        fx->ram[0x100001] = 0xF4;
        for (int round = 0; round < 4; round++) {
            bool a20 = round & 1;
            x86_cpu_set_a20(fx->cpu, a20);
            x86_cpu_load_real_segment(fx->cpu, X86_CS, 0xFFFF);
            fx->cpu->rip = 0xE;
            for (int i = 0; i < 20; i++) {   /* hot enough to be translated */
                x86_cpu_load_real_segment(fx->cpu, X86_CS, 0xFFFF);
                fx->cpu->rip = 0xE;
                assert_int_equal(x86_cpu_run(fx->cpu, 100), X86_EXIT_HLT);
            }
            assert_int_equal(fx->cpu->gpr[X86_RAX] & 0xFFFF, a20 ? 0x5544 : 0x3344);
        }
        void *s = fx;
        fx_teardown(&s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_straddle_interpreted),
        cmocka_unit_test(test_straddle_translated_at_once),
        cmocka_unit_test(test_straddle_translated_when_hot),
        cmocka_unit_test(test_a20_wrap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
