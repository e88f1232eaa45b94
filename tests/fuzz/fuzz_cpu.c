/*
 * Harness: the interpreter (the CPU API of src/sim/cpu) running a hostile guest page for a
 * bounded budget, in real mode, 16- and 32-bit protected mode at ring 0 and 3, and 32-bit
 * protected mode with 4 MiB-page paging.
 * Input: byte 0 the mode (bits 0-6: FUZZ_CPU_MODE_*; bit 7: translate every block to
 * host code from its first run, else from the sixteenth), bytes 1-32 the eight GPRs, then
 * up to 4 KiB of code at CODE_GPA; the rest (if any) fills the first 2 KiB of the descriptor page
 * (GDT/IDT/IVT) over the default entries, so descriptor loads and event delivery see
 * hostile tables too. I/O reads are answered with input bytes (cycled), MMIO reads
 * likewise. At most FUZZ_CPU_EXITS exits of FUZZ_CPU_BUDGET instructions each: every input
 * ends, and every exit must be a defined one.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "sim/cpu/cpu.h"

#define FUZZ_CPU_RAM      (1u << 20)     /* 1 MiB of RAM, with a VGA-like MMIO hole */
#define FUZZ_CPU_HOLE_LO  0xA0000u
#define FUZZ_CPU_HOLE_HI  0xC0000u
#define FUZZ_CPU_BUDGET   1024u
#define FUZZ_CPU_EXITS    16
#define DESC_GPA          0x1000u        /* real mode: IVT at 0; protected: GDT here */
#define IDT_GPA           0x1800u
#define PD_GPA            0x3000u        /* paging: the page directory */
#define TSS_GPA           0x4000u
#define CODE_GPA          0x10000u
#define STACK_TOP         0x20000u
#define CODE_MAX          4096u
#define TABLES_MAX        2048u

enum {
    FUZZ_CPU_MODE_REAL,
    FUZZ_CPU_MODE_PM32,
    FUZZ_CPU_MODE_PM16,
    FUZZ_CPU_MODE_PM32_RING3,
    FUZZ_CPU_MODE_PM32_PAGING,
    FUZZ_CPU_MODES
};

/* GDT selectors of the protected-mode setup. */
enum { SEL_CODE32 = 0x08, SEL_DATA = 0x10, SEL_CODE16 = 0x18, SEL_CODE3 = 0x23,
       SEL_DATA3 = 0x2B, SEL_TSS = 0x30 };

typedef struct {
    uint8_t *ram;
    const uint8_t *data;
    size_t size;
    size_t pos;
} FuzzCpu;

static uint8_t *page_fn(void *opaque, uint64_t gpa_page, unsigned access)
{
    FuzzCpu *f = opaque;
    (void)access;
    if (gpa_page >= FUZZ_CPU_RAM || (gpa_page >= FUZZ_CPU_HOLE_LO && gpa_page < FUZZ_CPU_HOLE_HI))
        return NULL;
    return f->ram + gpa_page;
}

/* The next input byte, cycling; 0xFF for an empty input. */
static uint8_t next_byte(FuzzCpu *f)
{
    if (!f->size)
        return 0xFF;
    uint8_t b = f->data[f->pos % f->size];
    f->pos++;
    return b;
}

static void put32(uint8_t *ram, uint32_t addr, uint32_t v) { memcpy(ram + addr, &v, 4); }

/* A code/data descriptor (SDM Vol. 3A, 3.4.5): base, 20-bit limit, access byte, flags. */
static void desc(uint8_t *ram, unsigned sel, uint32_t base, uint32_t limit, unsigned access,
                 unsigned flags)
{
    put32(ram, DESC_GPA + sel, (limit & 0xFFFF) | (base << 16));
    put32(ram, DESC_GPA + sel + 4, ((base >> 16) & 0xFF) | (access << 8) | (limit & 0xF0000) |
                                   (flags << 20) | (base & 0xFF000000u));
}

static void seg(X86Segment *s, uint16_t sel, uint32_t limit, uint32_t attr)
{
    *s = (X86Segment){ sel, 0, limit, attr };
}

/* Protected-mode state as a loader would leave it: flat segments, an IDT whose gates all
 * lead to a HLT, a TSS with a ring-0 stack; then the mode's own changes. */
static void setup_protected(X86Cpu *cpu, uint8_t *ram, int mode)
{
    desc(ram, SEL_CODE32, 0, 0xFFFFF, 0x9B, 0xC);
    desc(ram, SEL_DATA, 0, 0xFFFFF, 0x93, 0xC);
    desc(ram, SEL_CODE16, 0, 0xFFFF, 0x9B, 0x0);
    desc(ram, SEL_CODE3 & ~3u, 0, 0xFFFFF, 0xFB, 0xC);
    desc(ram, SEL_DATA3 & ~3u, 0, 0xFFFFF, 0xF3, 0xC);
    desc(ram, SEL_TSS, TSS_GPA, 0x67, 0x8B, 0);
    for (unsigned v = 0; v < 256; v++) {
        uint32_t handler = STACK_TOP + 0x100;          /* a HLT */
        put32(ram, IDT_GPA + 8 * v, (handler & 0xFFFF) | ((uint32_t)SEL_CODE32 << 16));
        put32(ram, IDT_GPA + 8 * v + 4, (handler & 0xFFFF0000u) | 0xEE00u);
    }
    ram[STACK_TOP + 0x100] = 0xF4;
    put32(ram, TSS_GPA + 4, STACK_TOP);                /* ESP0 */
    put32(ram, TSS_GPA + 8, SEL_DATA);                 /* SS0 */
    cpu->cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_NE;
    seg(&cpu->cs, SEL_CODE32, 0xFFFFFFFF, 0xC09B);
    for (int s = 0; s < 6; s++)
        if (s != X86_CS)
            seg(&cpu->seg[s], SEL_DATA, 0xFFFFFFFF, 0xC093);
    seg(&cpu->tr, SEL_TSS, 0x67, 0x8B);
    seg(&cpu->ldtr, 0, 0, X86_AR_UNUSABLE);
    cpu->gdtr = (X86DescTable){ DESC_GPA, 0x37 };
    cpu->idtr = (X86DescTable){ IDT_GPA, 256 * 8 - 1 };
    switch (mode) {
    case FUZZ_CPU_MODE_PM16:
        seg(&cpu->cs, SEL_CODE16, 0xFFFF, 0x009B);
        break;
    case FUZZ_CPU_MODE_PM32_RING3:
        seg(&cpu->cs, SEL_CODE3, 0xFFFFFFFF, 0xC0FB);
        for (int s = 0; s < 6; s++)
            if (s != X86_CS)
                seg(&cpu->seg[s], SEL_DATA3, 0xFFFFFFFF, 0xC0F3);
        break;
    case FUZZ_CPU_MODE_PM32_PAGING:
        /* Identity map of the low 4 MiB with a 4 MiB page (CR4.PSE), the rest not present. */
        put32(ram, PD_GPA, 0x87);                      /* P, R/W, U/S, PS */
        cpu->cr3 = PD_GPA;
        cpu->cr4 = X86_CR4_PSE_BIT;
        cpu->cr0 |= X86_CR0_PG | X86_CR0_WP;
        break;
    default:
        break;
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FuzzIn in = { data, size };
    uint32_t mode_byte = fuzz_take(&in, 1);
    int mode = (int)((mode_byte & 0x7F) % FUZZ_CPU_MODES);
    uint32_t gpr[8];
    for (int r = 0; r < 8; r++)
        gpr[r] = fuzz_take(&in, 4);
    FuzzCpu f = { calloc(1, FUZZ_CPU_RAM), data, size, 0 };
    if (!f.ram)
        return 0;
    X86Cpu *cpu = x86_cpu_create(page_fn, &f);
    if (!cpu) {
        free(f.ram);
        return 0;
    }
    x86_cpu_reset(cpu);
    /* bit 7: every block translated to host code from its first run */
    if ((mode_byte & 0x80) && cpu->jit_threshold) cpu->jit_threshold = 1;
    if (mode == FUZZ_CPU_MODE_REAL) {
        for (int s = 0; s < 6; s++)
            x86_cpu_load_real_segment(cpu, s, 0);
        x86_cpu_load_real_segment(cpu, X86_CS, CODE_GPA >> 4);
        cpu->rip = 0;
    } else {
        setup_protected(cpu, f.ram, mode);
        cpu->rip = CODE_GPA;
    }
    size_t code = in.left < CODE_MAX ? in.left : CODE_MAX;
    memcpy(f.ram + CODE_GPA, in.p, code);
    in.p += code;
    in.left -= code;
    size_t tables = in.left < TABLES_MAX ? in.left : TABLES_MAX;
    memcpy(f.ram + (mode == FUZZ_CPU_MODE_REAL ? 0 : DESC_GPA), in.p, tables);
    for (int r = 0; r < 8; r++)
        cpu->gpr[r] = gpr[r];
    if (mode != FUZZ_CPU_MODE_REAL)
        cpu->gpr[X86_RSP] = STACK_TOP - (gpr[X86_RSP] & 0xFFC);
    x86_cpu_tlb_flush(cpu);
    x86_cpu_invalidate_code(cpu, 0, FUZZ_CPU_RAM);

    for (int i = 0; i < FUZZ_CPU_EXITS; i++) {
        X86Exit e = x86_cpu_run(cpu, FUZZ_CPU_BUDGET);
        if (e == X86_EXIT_IO) {
            if (cpu->exit.io.size == 0 || cpu->exit.io.size > 4 ||
                (size_t)cpu->exit.io.size * cpu->exit.io.count > X86_IO_BUFFER_SIZE)
                abort();                               /* an exit the VMM could not handle */
            if (cpu->exit.io.in)
                for (size_t b = 0; b < (size_t)cpu->exit.io.size * cpu->exit.io.count; b++)
                    cpu->exit.io.data[b] = next_byte(&f);
            x86_cpu_complete_io(cpu);
        } else if (e == X86_EXIT_MMIO) {
            if (cpu->exit.mmio.size == 0 || cpu->exit.mmio.size > 8)
                abort();
            if (!cpu->exit.mmio.is_write) {
                uint64_t v = 0;
                for (int b = 0; b < 8; b++)
                    v |= (uint64_t)next_byte(&f) << (8 * b);
                x86_cpu_complete_mmio(cpu, v);
            }
        } else if (e == X86_EXIT_CPUID || e == X86_EXIT_RDMSR || e == X86_EXIT_WRMSR ||
                   e == X86_EXIT_VMCALL) {
            x86_cpu_skip_instruction(cpu);
        } else if (e == X86_EXIT_HLT || e == X86_EXIT_BUDGET) {
            continue;
        } else if (e == X86_EXIT_TRIPLE_FAULT || e == X86_EXIT_UNIMPLEMENTED ||
                   e == X86_EXIT_INVALID_STATE) {
            if (!memchr(cpu->exit.unimpl.reason, 0, sizeof(cpu->exit.unimpl.reason)))
                abort();
            break;
        } else {
            abort();                                   /* not an exit a run can end with */
        }
    }
    x86_cpu_destroy(cpu);
    free(f.ram);
    return 0;
}
