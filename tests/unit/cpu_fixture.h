/*
 * The bare-CPU fixture the CPU unit tests share: guest RAM from address 0 under an X86Cpu
 * with no KVM layer or VMCS. Define RAM_SIZE before including; define MMIO_BASE and
 * MMIO_END to leave that window of it unbacked (the CPU then makes MMIO exits there).
 */
#ifndef SCRATCHVM_TESTS_CPU_FIXTURE_H
#define SCRATCHVM_TESTS_CPU_FIXTURE_H

#include <stdint.h>
#include <stdlib.h>

#include "sim/cpu/cpu.h"

typedef struct {
    uint8_t *ram;
    X86Cpu *cpu;
} Fx;

static inline uint8_t *page_fn(void *opaque, uint64_t gpa_page, unsigned access)
{
    (void)access;
    Fx *fx = opaque;
#ifdef MMIO_BASE
    if (gpa_page >= MMIO_BASE && gpa_page < MMIO_END) return NULL;
#endif
    return gpa_page < RAM_SIZE ? fx->ram + gpa_page : NULL;
}

/* Zeroed RAM and a CPU in its reset state over it; NULL when out of memory. */
static inline Fx *fx_create(void)
{
    Fx *fx = calloc(1, sizeof *fx);
    if (!fx) return NULL;
    fx->ram = calloc(1, RAM_SIZE);
    fx->cpu = fx->ram ? x86_cpu_create(page_fn, fx) : NULL;
    if (!fx->cpu) {
        free(fx->ram);
        free(fx);
        return NULL;
    }
    return fx;
}

/* The same in real mode with every segment at 0, IP = code and SP = sp. */
static inline Fx *fx_create_real(uint32_t code, uint32_t sp)
{
    Fx *fx = fx_create();
    if (!fx) return NULL;
    for (int s = 0; s < 6; s++) x86_cpu_load_real_segment(fx->cpu, s, 0);
    fx->cpu->rip = code;
    fx->cpu->gpr[X86_RSP] = sp;
    return fx;
}

/* Points real-mode vectors 0 .. n-1 at a HLT at handler (below 64 KiB). */
static inline void fx_real_vectors_to_hlt(Fx *fx, unsigned n, uint16_t handler)
{
    for (unsigned v = 0; v < n; v++) {
        fx->ram[4 * v] = handler & 0xFF;
        fx->ram[4 * v + 1] = handler >> 8;
    }
    fx->ram[handler] = 0xF4;
}

static inline int fx_teardown(void **state)
{
    Fx *fx = *state;
    x86_cpu_destroy(fx->cpu);
    free(fx->ram);
    free(fx);
    return 0;
}

#endif
