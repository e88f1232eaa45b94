/*
 * Robustness: random bytes executed as code with random registers (a fixed seed) must
 * always end in a defined exit, never a crash or undefined behaviour (run it under the
 * sanitizers: make BUILD=build/asan SAN=1). A 64 KiB window of RAM holds random bytes;
 * the rest of the first MiB is RAM too and 0xA0000-0xBFFFF is MMIO.
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

static uint8_t *ram;

static uint8_t *page_fn(void *opaque, uint64_t gpa_page, unsigned access)
{
    (void)opaque;
    (void)access;
    if (gpa_page >= 0xA0000 && gpa_page < 0xC0000) return NULL;
    return gpa_page < RAM_SIZE ? ram + gpa_page : NULL;
}

static uint64_t rng = 0x243F6A8885A308D3ull;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

static void test_random_code(void **state)
{
    (void)state;
    ram = calloc(1, RAM_SIZE);
    X86Cpu *cpu = x86_cpu_create(page_fn, NULL);
    assert_non_null(cpu);
    unsigned counts[16] = { 0 };
    for (int round = 0; round < 3000; round++) {
        for (unsigned i = 0x10000; i < 0x20000; i++) ram[i] = (uint8_t)rnd();
        for (unsigned i = 0; i < 0x400; i++) ram[i] = (uint8_t)rnd();   /* IVT */
        x86_cpu_invalidate_code(cpu, 0, RAM_SIZE);
        x86_cpu_reset(cpu);
        for (int s = 0; s < 6; s++) x86_cpu_load_real_segment(cpu, s, (uint16_t)rnd());
        x86_cpu_load_real_segment(cpu, X86_CS, 0x1000);
        cpu->rip = rnd() & 0xFFFF;
        for (int r = 0; r < 8; r++) cpu->gpr[r] = rnd() & (rnd() & 1 ? 0xFFFF : 0xFFFFFFFFu);
        for (int step = 0; step < 20; step++) {
            X86Exit e = x86_cpu_run(cpu, 2000);
            counts[e & 15]++;
            if (e == X86_EXIT_IO) {
                memset(cpu->exit.io.data, 0xFF, cpu->exit.io.size * cpu->exit.io.count);
                x86_cpu_complete_io(cpu);
            } else if (e == X86_EXIT_MMIO) {
                if (!cpu->exit.mmio.is_write) x86_cpu_complete_mmio(cpu, rnd());
            } else if (e == X86_EXIT_CPUID || e == X86_EXIT_RDMSR || e == X86_EXIT_WRMSR) {
                x86_cpu_skip_instruction(cpu);
            } else if (e == X86_EXIT_HLT) {
                continue;
            } else {
                break;
            }
        }
    }
    for (int i = 1; i < 12; i++)
        print_message("%-14s %u\n", x86_exit_name((X86Exit)i), counts[i]);
    x86_cpu_destroy(cpu);
    free(ram);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_code),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
