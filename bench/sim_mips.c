/*
 * sim_mips: interpreter speed on a 16-bit register ALU loop (add/sub/xor/inc/cmp/dec/jnz),
 * using only the CPU API (src/sim/cpu/cpu.h).
 *
 *   build/bench/sim_mips [instructions]     default 500000000
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim/cpu/cpu.h"

#define RAM_SIZE (1u << 20)

static uint8_t *page_fn(void *opaque, uint64_t gpa_page, unsigned access)
{
    (void)access;
    return gpa_page < RAM_SIZE ? (uint8_t *)opaque + gpa_page : NULL;
}

int main(int argc, char **argv)
{
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 0) : 500000000ull;
    uint8_t *ram = calloc(1, RAM_SIZE);
    if (!ram) return 1;
    static const uint8_t loop[] = {
        0x01, 0xD8,       /* 1000: add ax, bx */
        0x29, 0xC2,       /*       sub dx, ax */
        0x31, 0xD6,       /*       xor si, dx */
        0x47,             /*       inc di */
        0x39, 0xE8,       /*       cmp ax, bp */
        0x49,             /*       dec cx */
        0x75, 0xF4,       /*       jnz 1000 */
        0xEB, 0xF2,       /*       jmp 1000 */
    };
    memcpy(ram + 0x1000, loop, sizeof loop);
    X86Cpu *cpu = x86_cpu_create(page_fn, ram);
    if (!cpu) return 1;
    x86_cpu_reset(cpu);
    for (int s = 0; s < 6; s++) x86_cpu_load_real_segment(cpu, s, 0);
    cpu->rip = 0x1000;
    cpu->gpr[X86_RBX] = 3;
    cpu->gpr[X86_RSP] = 0x8000;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    X86Exit e = x86_cpu_run(cpu, n);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double sec = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    uint64_t done = cpu->instructions_retired;
    printf("sim_mips: %llu instructions in %.3f s: %.1f MIPS (exit %s)\n",
           (unsigned long long)done, sec, (double)done / sec / 1e6, x86_exit_name(e));
    x86_cpu_destroy(cpu);
    free(ram);
    return e == X86_EXIT_BUDGET ? 0 : 1;
}
