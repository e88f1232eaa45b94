/*
 * Shared by the CPU harnesses (fuzz_cpu.c, fuzz_cpu_paging.c, fuzz_cpu_diff.c): guest RAM
 * behind an X86PageFn, the protected-mode tables a loader would leave (GDT, IDT whose
 * gates all lead to a HLT, TSS), and the handling of one exit as a VMM would do it. Header
 * only (static inline), as the Makefile links each harness with quiet.o alone.
 */
#ifndef SCRATCHVM_TESTS_FUZZ_CPU_H
#define SCRATCHVM_TESTS_FUZZ_CPU_H

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "sim/cpu/cpu.h"

#define DESC_GPA          0x1000u        /* real mode: IVT at 0; protected: GDT here */
#define IDT_GPA           0x1800u
#define TSS_GPA           0x4000u
#define STACK_TOP         0x20000u
#define HANDLER_GPA       (STACK_TOP + 0x100)   /* every IDT gate: a HLT */

/* GDT selectors of the protected-mode setup. */
enum { SEL_CODE32 = 0x08, SEL_DATA = 0x10, SEL_CODE16 = 0x18, SEL_CODE3 = 0x23,
       SEL_DATA3 = 0x2B, SEL_TSS = 0x30 };

typedef struct {
    uint8_t *ram;
    uint64_t ram_size;
    uint64_t hole_lo, hole_hi;           /* an MMIO hole in RAM (empty: lo == hi) */
    uint8_t *dirty;                      /* NULL, or a bit per page handed out writable */
    const uint8_t *data;                 /* the input, whose bytes answer I/O and MMIO reads */
    size_t size;
    size_t pos;
} FuzzCpu;

static inline uint8_t *fuzz_cpu_page_fn(void *opaque, uint64_t gpa_page, unsigned access)
{
    FuzzCpu *f = opaque;
    if (gpa_page >= f->ram_size || (gpa_page >= f->hole_lo && gpa_page < f->hole_hi))
        return NULL;
    if (f->dirty && (access & X86_ACCESS_WRITE))
        f->dirty[gpa_page >> 15] |= (uint8_t)(1u << ((gpa_page >> 12) & 7));
    return f->ram + gpa_page;
}

/* The next input byte, cycling; 0xFF for an empty input. */
static inline uint8_t fuzz_cpu_next_byte(FuzzCpu *f)
{
    if (!f->size)
        return 0xFF;
    uint8_t b = f->data[f->pos % f->size];
    f->pos++;
    return b;
}

static inline void fuzz_put32(uint8_t *ram, uint64_t addr, uint32_t v)
{
    memcpy(ram + addr, &v, 4);
}

/* A code/data descriptor (SDM Vol. 3A, 3.4.5): base, 20-bit limit, access byte, flags. */
static inline void fuzz_desc(uint8_t *ram, unsigned sel, uint32_t base, uint32_t limit,
                             unsigned access, unsigned flags)
{
    fuzz_put32(ram, DESC_GPA + sel, (limit & 0xFFFF) | (base << 16));
    fuzz_put32(ram, DESC_GPA + sel + 4, ((base >> 16) & 0xFF) | (access << 8) |
                                        (limit & 0xF0000) | (flags << 20) |
                                        (base & 0xFF000000u));
}

static inline void fuzz_seg(X86Segment *s, uint16_t sel, uint32_t limit, uint32_t attr)
{
    *s = (X86Segment){ sel, 0, limit, attr };
}

/* Flat segments of ring `ring` (0 or 3), 32-bit code. */
static inline void fuzz_flat_segments(X86Cpu *cpu, int ring)
{
    fuzz_seg(&cpu->cs, ring ? SEL_CODE3 : SEL_CODE32, 0xFFFFFFFF, ring ? 0xC0FB : 0xC09B);
    for (int s = 0; s < 6; s++)
        if (s != X86_CS)
            fuzz_seg(&cpu->seg[s], ring ? SEL_DATA3 : SEL_DATA, 0xFFFFFFFF,
                     ring ? 0xC0F3 : 0xC093);
}

/* Protected-mode state as a loader would leave it: flat ring-0 segments, an IDT whose
 * gates all lead to a HLT, a TSS with a ring-0 stack; paging off. */
static inline void fuzz_setup_protected(X86Cpu *cpu, uint8_t *ram)
{
    fuzz_desc(ram, SEL_CODE32, 0, 0xFFFFF, 0x9B, 0xC);
    fuzz_desc(ram, SEL_DATA, 0, 0xFFFFF, 0x93, 0xC);
    fuzz_desc(ram, SEL_CODE16, 0, 0xFFFF, 0x9B, 0x0);
    fuzz_desc(ram, SEL_CODE3 & ~3u, 0, 0xFFFFF, 0xFB, 0xC);
    fuzz_desc(ram, SEL_DATA3 & ~3u, 0, 0xFFFFF, 0xF3, 0xC);
    fuzz_desc(ram, SEL_TSS, TSS_GPA, 0x67, 0x8B, 0);
    for (unsigned v = 0; v < 256; v++) {
        fuzz_put32(ram, IDT_GPA + 8 * v, (HANDLER_GPA & 0xFFFF) | ((uint32_t)SEL_CODE32 << 16));
        fuzz_put32(ram, IDT_GPA + 8 * v + 4, (HANDLER_GPA & 0xFFFF0000u) | 0xEE00u);
    }
    ram[HANDLER_GPA] = 0xF4;
    fuzz_put32(ram, TSS_GPA + 4, STACK_TOP);            /* ESP0 */
    fuzz_put32(ram, TSS_GPA + 8, SEL_DATA);             /* SS0 */
    cpu->cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_NE;
    fuzz_flat_segments(cpu, 0);
    fuzz_seg(&cpu->tr, SEL_TSS, 0x67, 0x8B);
    fuzz_seg(&cpu->ldtr, 0, 0, X86_AR_UNUSABLE);
    cpu->gdtr = (X86DescTable){ DESC_GPA, 0x37 };
    cpu->idtr = (X86DescTable){ IDT_GPA, 256 * 8 - 1 };
}

/* Handles exit `e` of a run as a VMM would: completes I/O and MMIO reads with input bytes,
 * skips CPUID/MSR/VMCALL. Returns true when the guest may run on, false after a final
 * exit (triple fault, unimplemented, invalid state). abort()s on an exit a VMM could not
 * handle: that is the finding. */
static inline bool fuzz_cpu_handle_exit(X86Cpu *cpu, FuzzCpu *f, X86Exit e)
{
    if (e == X86_EXIT_IO) {
        if (cpu->exit.io.size == 0 || cpu->exit.io.size > 4 ||
            (size_t)cpu->exit.io.size * cpu->exit.io.count > X86_IO_BUFFER_SIZE)
            abort();
        if (cpu->exit.io.in)
            for (size_t b = 0; b < (size_t)cpu->exit.io.size * cpu->exit.io.count; b++)
                cpu->exit.io.data[b] = fuzz_cpu_next_byte(f);
        x86_cpu_complete_io(cpu);
    } else if (e == X86_EXIT_MMIO) {
        if (cpu->exit.mmio.size == 0 || cpu->exit.mmio.size > 8)
            abort();
        if (!cpu->exit.mmio.is_write) {
            uint64_t v = 0;
            for (int b = 0; b < 8; b++)
                v |= (uint64_t)fuzz_cpu_next_byte(f) << (8 * b);
            x86_cpu_complete_mmio(cpu, v);
        }
    } else if (e == X86_EXIT_CPUID || e == X86_EXIT_RDMSR || e == X86_EXIT_WRMSR ||
               e == X86_EXIT_VMCALL) {
        x86_cpu_skip_instruction(cpu);
    } else if (e == X86_EXIT_HLT || e == X86_EXIT_BUDGET) {
        return true;
    } else if (e == X86_EXIT_TRIPLE_FAULT || e == X86_EXIT_UNIMPLEMENTED ||
               e == X86_EXIT_INVALID_STATE) {
        if (!memchr(cpu->exit.unimpl.reason, 0, sizeof(cpu->exit.unimpl.reason)))
            abort();
        return false;
    } else {
        abort();                                        /* not an exit a run can end with */
    }
    return true;
}

#endif
