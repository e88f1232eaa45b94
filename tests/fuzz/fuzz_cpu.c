/*
 * Harness: the interpreter (the CPU API of src/sim/cpu) running a hostile guest page for a
 * bounded budget, in real mode, 16- and 32-bit protected mode at ring 0 and 3, 32-bit
 * protected mode with 4 MiB-page paging, and 64-bit mode (IA-32e paging, 64-bit IDT gates).
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

#include "fuzz_cpu.h"

#define FUZZ_CPU_RAM      (1u << 20)     /* 1 MiB of RAM, with a VGA-like MMIO hole */
#define FUZZ_CPU_HOLE_LO  0xA0000u
#define FUZZ_CPU_HOLE_HI  0xC0000u
#define FUZZ_CPU_BUDGET   1024u
#define FUZZ_CPU_EXITS    16
#define PD_GPA            0x3000u        /* paging: the page directory */
#define CODE_GPA          0x10000u
#define CODE_MAX          4096u
#define TABLES_MAX        2048u

enum {
    FUZZ_CPU_MODE_REAL,
    FUZZ_CPU_MODE_PM32,
    FUZZ_CPU_MODE_PM16,
    FUZZ_CPU_MODE_PM32_RING3,
    FUZZ_CPU_MODE_PM32_PAGING,
    FUZZ_CPU_MODE_LONG64,
    FUZZ_CPU_MODES
};
#define PML4_GPA          0x5000u        /* 64-bit mode: PML4, PDPT, PD (a 2 MiB page) */
#define SEL_CODE64        0x38u

/* Protected-mode state (fuzz_cpu.h), then the mode's own changes. */
static void setup_protected(X86Cpu *cpu, uint8_t *ram, int mode)
{
    fuzz_setup_protected(cpu, ram);
    switch (mode) {
    case FUZZ_CPU_MODE_PM16:
        fuzz_seg(&cpu->cs, SEL_CODE16, 0xFFFF, 0x009B);
        break;
    case FUZZ_CPU_MODE_PM32_RING3:
        fuzz_flat_segments(cpu, 3);
        break;
    case FUZZ_CPU_MODE_PM32_PAGING:
        /* Identity map of the low 4 MiB with a 4 MiB page (CR4.PSE), the rest not present. */
        fuzz_put32(ram, PD_GPA, 0x87);                 /* P, R/W, U/S, PS */
        cpu->cr3 = PD_GPA;
        cpu->cr4 = X86_CR4_PSE_BIT;
        cpu->cr0 |= X86_CR0_PG | X86_CR0_WP;
        break;
    case FUZZ_CPU_MODE_LONG64:
        /* The first 2 MiB identity-mapped, a 64-bit code segment, 64-bit interrupt gates
         * to the HLT, RSP0 in the 64-bit TSS, EFER.LME/LMA/NXE/SCE. */
        fuzz_put32(ram, PML4_GPA, (PML4_GPA + 0x1000) | 7);
        fuzz_put32(ram, PML4_GPA + 0x1000, (PML4_GPA + 0x2000) | 7);
        fuzz_put32(ram, PML4_GPA + 0x2000, 0x87);
        fuzz_desc(ram, SEL_CODE64, 0, 0xFFFFF, 0x9B, 0xA);
        cpu->gdtr.limit = 0x3F;
        for (unsigned v = 0; v < 256; v++) {
            fuzz_put32(ram, IDT_GPA + 16 * v, (HANDLER_GPA & 0xFFFF) | (SEL_CODE64 << 16));
            fuzz_put32(ram, IDT_GPA + 16 * v + 4, (HANDLER_GPA & 0xFFFF0000u) | 0xEE00u);
            fuzz_put32(ram, IDT_GPA + 16 * v + 8, 0);
            fuzz_put32(ram, IDT_GPA + 16 * v + 12, 0);
        }
        cpu->idtr = (X86DescTable){ IDT_GPA, 256 * 16 - 1 };
        fuzz_put32(ram, TSS_GPA + 8, 0);                /* RSP0 bits 63:32 */
        cpu->tr.base = TSS_GPA;
        cpu->cr3 = PML4_GPA;
        cpu->cr4 = X86_CR4_PAE_BIT;
        cpu->cr0 |= X86_CR0_PG | X86_CR0_WP;
        cpu->efer = X86_EFER_LME_BIT | X86_EFER_LMA_BIT | X86_EFER_NXE_BIT | X86_EFER_SCE_BIT;
        fuzz_seg(&cpu->cs, SEL_CODE64, 0xFFFFFFFF, 0xA09B);
        x86_cpu_update_mode(cpu);
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
    FuzzCpu f = { .ram = calloc(1, FUZZ_CPU_RAM), .ram_size = FUZZ_CPU_RAM,
                  .hole_lo = FUZZ_CPU_HOLE_LO, .hole_hi = FUZZ_CPU_HOLE_HI,
                  .data = data, .size = size };
    if (!f.ram)
        return 0;
    X86Cpu *cpu = x86_cpu_create(fuzz_cpu_page_fn, &f);
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
    if (mode == FUZZ_CPU_MODE_LONG64)   /* R8-R15 and the upper halves from the same bytes */
        for (int r = 0; r < 16; r++)
            cpu->gpr[r] = gpr[r & 7] | (uint64_t)gpr[(r + 3) & 7] << 32;
    if (mode != FUZZ_CPU_MODE_REAL)
        cpu->gpr[X86_RSP] = STACK_TOP - (gpr[X86_RSP] & 0xFFC);
    x86_cpu_tlb_flush(cpu);
    x86_cpu_invalidate_code(cpu, 0, FUZZ_CPU_RAM);

    for (int i = 0; i < FUZZ_CPU_EXITS; i++)
        if (!fuzz_cpu_handle_exit(cpu, &f, x86_cpu_run(cpu, FUZZ_CPU_BUDGET)))
            break;
    x86_cpu_destroy(cpu);
    free(f.ram);
    return 0;
}
