/*
 * The guest of the paging harnesses (fuzz_cpu_paging.c, fuzz_cpu_diff.c): 32-bit protected
 * mode with 32-bit or PAE paging whose tables the input describes, code placed so that its
 * instructions cross linear page boundaries, and host edits of page tables and code between
 * exits. Header only (static inline), like fuzz_cpu.h.
 *
 * Input (little endian; past the end every field reads as 0):
 *   byte 0   flags: bit 0 PAE (else 32-bit paging), bit 1 ring 3, bit 2 CR0.WP, bit 3 CR4.PGE,
 *            bit 4 EFER.NXE (PAE: descriptor bit 15 is XD, else G), bit 5 start on table
 *            set B, bit 6 CR4.PSE off (32-bit paging: the large PDE is then a table pointer),
 *            bit 7 (fuzz_cpu_paging only) translate every block from its first run
 *   byte 1   budget b: each run is 4b + 1 instructions
 *   byte 2   code start: bits 5-7 window page k, bits 0-4 back offset o: code begins at
 *            linear WIN_LIN + (k + 1) * 4 KiB - (o + 1), so its first instructions cross
 *            into page k + 1
 *   byte 3   number of edits (at most PG_EXITS)
 *   4-35     EAX..EDI (ESP: an offset below STACK_TOP)
 *   36-51    8 window page descriptors, 16 bits each: bits 0-11 d, so that window page i
 *            maps physical page (WIN_FRAME0 + i + d) mod 4096, wrapped at the RAM size
 *            (any page, page tables included; all 0: the window is physically
 *            contiguous), bit 12 not present, bit 13 read-only, bit 14 supervisor, bit 15 G
 *            (XD with NXE)
 *   52       the large page at LARGE_LIN: bits 0-2 physical 4 MiB region (past RAM: MMIO),
 *            bit 3 not present, bit 4 read-only, bit 5 supervisor, bit 6 G
 *   then     the edits, 6 bytes each: op, a, v (32 bits); op bits 0-1 the kind, bit 2 "flush",
 *            bits 3-7 h; n = h << 8 | a:
 *              0 window PTE a & 7 of table set A (h odd: B) := descriptor v of page a & 7
 *              1 32-bit v at PT_BASE + 4n (any page-table word, PDPTs included)
 *              2 the 4 bytes of v at linear code start + n, written through the current
 *                tables (so aliases see them) as the host would write guest memory
 *              3 flush: switch CR3 to the other table set; else restart at the code start
 *                with the initial registers (a VMM's KVM_SET_REGS/SREGS)
 *            "flush" also flushes the TLB (kinds 0, 1) or announces the write byte by byte
 *            (kind 2: x86_cpu_invalidate_code, else x86_cpu_host_wrote_memory).
 *   then     up to 4 KiB of code, written through the starting tables from the code start
 * Each run's exit is handled as fuzz_cpu_handle_exit does, then edit i (if any) is
 * applied; at most PG_EXITS runs.
 *
 * Table set A maps the window's pages as the descriptors say; set B maps them in reverse
 * order (page i as descriptor 7 - i) and the large page one region further, so a MOV CR3
 * (by the guest: CR3 values PG_CR3_A/PG_CR3_B, or PAE's) changes what code runs.
 */
#ifndef SCRATCHVM_TESTS_FUZZ_PAGING_H
#define SCRATCHVM_TESTS_FUZZ_PAGING_H

#include <sys/mman.h>

#include "fuzz_cpu.h"

/* RAM sizes. fuzz_cpu_paging: 16 MiB, so a block's copy that runs from low RAM to the end
 * of RAM (issue 24) is larger than the code arena (8 MiB, src/sim/cpu/cpu.c) and ASan sees
 * it end past it. fuzz_cpu_diff: 4 MiB, so one such runaway copy stays inside the arena
 * (only two or more in one input overflow it): that known crash comes minutes apart
 * instead of every few inputs, and does not drown the differences the harness is for.
 * Physical page numbers wrap at the RAM size. */
#define PG_RAM       (16u << 20)
#define PG_RAM_DIFF  (4u << 20)
#define PG_EXITS     24
#define PG_CODE_MAX  4096u
#define PG_HEADER    53u
#define PG_EDIT_SIZE 6u
#define WIN_LIN      0x400000u      /* 8 pages whose mapping the input sets */
#define WIN_PAGES    8
#define WIN_FRAME0   0x200u         /* descriptor 0 maps window page i to page 0x200 + i */
#define LARGE_LIN    0x800000u      /* one 4 MiB (PAE: 2 MiB) page */
#define PT_BASE      0x5000u        /* the page tables, as below */
#define PD_A         0x5000u
#define PD_B         0x6000u
#define PT_LOW       0x7000u        /* identity map of 0-4 MiB (PAE: two tables) */
#define PT_WIN_A     0x9000u
#define PT_WIN_B     0xA000u
#define PDPT_A       0xB000u        /* PAE: CR3 of set A; set B's is 32 bytes on */
#define PDPT_B       0xB020u

#define PTE_P  0x1u
#define PTE_RW 0x2u
#define PTE_US 0x4u
#define PTE_PS 0x80u
#define PTE_G  0x100u

enum { PG_PAE = 1, PG_RING3 = 2, PG_WP = 4, PG_PGE = 8, PG_NXE = 16, PG_SET_B = 32,
       PG_NO_PSE = 64, PG_JIT = 128 };

typedef struct {
    uint8_t flags;
    uint32_t budget;
    uint32_t code_start;
    unsigned nedits;
    uint32_t gpr[8];
    uint16_t desc[WIN_PAGES];
    uint8_t large;
    const uint8_t *edits;
    const uint8_t *code;
    size_t code_len;
} PgInput;

/* One exit as a VMM sees it, for comparing two runs. */
typedef struct {
    uint32_t reason;
    uint64_t rip;
    uint64_t a, b, c;
} PgExit;

typedef struct {
    FuzzCpu f;
    X86Cpu *cpu;
    uint8_t dirty[PG_RAM >> 15];     /* a bit per page the guest or the harness may write */
    PgExit exits[PG_EXITS];
    int nexits;
} PgVm;

static inline void pg_parse(PgInput *p, const uint8_t *data, size_t size)
{
    FuzzIn in = { data, size };
    p->flags = (uint8_t)fuzz_take(&in, 1);
    p->budget = 4 * fuzz_take(&in, 1) + 1;
    uint32_t start = fuzz_take(&in, 1);
    p->code_start = WIN_LIN + (((start >> 5) & 7) + 1) * 0x1000u - ((start & 0x1F) + 1);
    p->nedits = fuzz_take(&in, 1);
    for (int r = 0; r < 8; r++)
        p->gpr[r] = fuzz_take(&in, 4);
    for (int i = 0; i < WIN_PAGES; i++)
        p->desc[i] = (uint16_t)fuzz_take(&in, 2);
    p->large = (uint8_t)fuzz_take(&in, 1);
    if (p->nedits > PG_EXITS)
        p->nedits = PG_EXITS;
    if (p->nedits > in.left / PG_EDIT_SIZE)
        p->nedits = (unsigned)(in.left / PG_EDIT_SIZE);
    p->edits = in.p;
    in.p += p->nedits * PG_EDIT_SIZE;
    in.left -= p->nedits * PG_EDIT_SIZE;
    p->code = in.p;
    p->code_len = in.left < PG_CODE_MAX ? in.left : PG_CODE_MAX;
}

static inline void pg_mark(PgVm *vm, uint64_t gpa)
{
    if (gpa < vm->f.ram_size)
        vm->dirty[gpa >> 15] |= (uint8_t)(1u << ((gpa >> 12) & 7));
}

/* A page-table entry of the table at `table` (4 or 8 bytes). */
static inline void pg_entry(PgVm *vm, bool pae, uint32_t table, unsigned index, uint64_t v)
{
    if (pae)
        memcpy(vm->f.ram + table + 8 * index, &v, 8);
    else
        fuzz_put32(vm->f.ram, table + 4 * index, (uint32_t)v);
    pg_mark(vm, table);
}

/* Descriptor d of window page i (see the input format) as a leaf entry. */
static inline uint64_t pg_leaf(const PgVm *vm, const PgInput *p, unsigned i, uint16_t d)
{
    uint64_t e = ((uint64_t)((WIN_FRAME0 + i + d) & 0xFFF) << 12) & (vm->f.ram_size - 1);
    e |= (d & 0x1000 ? 0 : PTE_P) | (d & 0x2000 ? 0 : PTE_RW) | (d & 0x4000 ? 0 : PTE_US);
    if (d & 0x8000)
        e |= (p->flags & PG_PAE) && (p->flags & PG_NXE) ? 1ull << 63 : PTE_G;
    return e;
}

static inline uint64_t pg_large(uint8_t l)
{
    return ((uint64_t)(l & 7) << 22) | PTE_PS | (l & 8 ? 0 : PTE_P) | (l & 16 ? 0 : PTE_RW) |
           (l & 32 ? 0 : PTE_US) | (l & 64 ? PTE_G : 0);
}

/* Table set A or B (see the header): the page directory, the window's table, the large
 * page; the identity map of the low 4 MiB is shared. */
static inline void pg_tables(PgVm *vm, const PgInput *p, int set)
{
    bool pae = p->flags & PG_PAE;
    uint32_t pd = set ? PD_B : PD_A, win = set ? PT_WIN_B : PT_WIN_A;
    const uint64_t table = PTE_P | PTE_RW | PTE_US;
    if (pae) {
        pg_entry(vm, true, set ? PDPT_B : PDPT_A, 0, pd | PTE_P);  /* RW/US reserved here */
        pg_entry(vm, true, pd, 0, PT_LOW | table);
        pg_entry(vm, true, pd, 1, (PT_LOW + 0x1000) | table);
    } else {
        pg_entry(vm, false, pd, 0, PT_LOW | table);
    }
    pg_entry(vm, pae, pd, WIN_LIN >> (pae ? 21 : 22), win | table);
    uint8_t large = (uint8_t)((p->large & ~7u) | ((p->large + set) & 7u));
    pg_entry(vm, pae, pd, LARGE_LIN >> (pae ? 21 : 22), pg_large(large));
    for (unsigned i = 0; i < WIN_PAGES; i++) {
        unsigned j = set ? WIN_PAGES - 1 - i : i;
        pg_entry(vm, pae, win, i, pg_leaf(vm, p, j, p->desc[j]));
    }
}

static inline uint64_t pg_read(const PgVm *vm, uint64_t gpa, bool pae)
{
    uint64_t v = 0;
    if (gpa + 8 <= vm->f.ram_size)
        memcpy(&v, vm->f.ram + gpa, pae ? 8 : 4);
    return v;
}

/* Guest-physical address of `lin` through the tables in RAM as the host sees them now
 * (present bits and large pages only, no permissions); ~0 when not mapped. */
static inline uint64_t pg_walk(const PgVm *vm, uint32_t lin)
{
    const X86Cpu *cpu = vm->cpu;
    const uint64_t frame = 0xFFFFFF000ull;
    if (!(cpu->cr0 & X86_CR0_PG))
        return lin;
    if (cpu->cr4 & X86_CR4_PAE_BIT) {
        uint64_t e = pg_read(vm, (cpu->cr3 & 0xFFFFFFE0u) + 8 * (lin >> 30), true);
        if (!(e & PTE_P))
            return ~0ull;
        e = pg_read(vm, (e & frame) + 8 * ((lin >> 21) & 511), true);
        if (!(e & PTE_P))
            return ~0ull;
        if (e & PTE_PS)
            return (e & frame & ~0x1FFFFFull) | (lin & 0x1FFFFF);
        e = pg_read(vm, (e & frame) + 8 * ((lin >> 12) & 511), true);
        return e & PTE_P ? (e & frame) | (lin & 0xFFF) : ~0ull;
    }
    uint64_t e = pg_read(vm, (cpu->cr3 & 0xFFFFF000u) + 4 * (lin >> 22), false);
    if (!(e & PTE_P))
        return ~0ull;
    if ((e & PTE_PS) && (cpu->cr4 & X86_CR4_PSE_BIT))
        return (e & 0xFFC00000u) | (lin & 0x3FFFFF);
    e = pg_read(vm, (e & 0xFFFFF000u) + 4 * ((lin >> 12) & 1023), false);
    return e & PTE_P ? (e & 0xFFFFF000u) | (lin & 0xFFF) : ~0ull;
}

/* Writes `len` bytes at linear `lin` through the current tables, each byte on its own
 * translation (so an access across a page boundary follows both mappings); announces
 * the writes to the CPU one by one (`precise`) or as "the host wrote memory". */
static inline void pg_write_linear(PgVm *vm, uint32_t lin, const uint8_t *bytes, size_t len,
                                   bool precise)
{
    for (size_t i = 0; i < len; i++) {
        uint64_t gpa = pg_walk(vm, lin + (uint32_t)i);
        if (gpa >= vm->f.ram_size)
            continue;
        vm->f.ram[gpa] = bytes[i];
        pg_mark(vm, gpa);
        if (precise)
            x86_cpu_invalidate_code(vm->cpu, gpa, 1);
    }
    if (!precise)
        x86_cpu_host_wrote_memory(vm->cpu);
}

/* The registers and segments the code starts with (and a restart goes back to). */
static inline void pg_start_state(PgVm *vm, const PgInput *p)
{
    X86Cpu *cpu = vm->cpu;
    for (int r = 0; r < 8; r++)
        cpu->gpr[r] = p->gpr[r];
    cpu->gpr[X86_RSP] = STACK_TOP - (p->gpr[X86_RSP] & 0xFFC);
    fuzz_flat_segments(cpu, p->flags & PG_RING3 ? 3 : 0);
    x86_cpu_set_rflags(cpu, X86_FLAG_FIXED);
    cpu->rip = p->code_start;
}

static inline uint32_t pg_cr3(const PgInput *p, int set)
{
    if (p->flags & PG_PAE)
        return set ? PDPT_B : PDPT_A;
    return set ? PD_B : PD_A;
}

/* Creates the VM of input `p` (data/size: the whole input, for I/O answers) with
 * `ram_size` bytes of RAM (a power of two, at most PG_RAM), the code in place; vm->dirty
 * records every page the harness writes or hands out writable. False when out of memory. */
static inline bool pg_create(PgVm *vm, const PgInput *p, const uint8_t *data, size_t size,
                             uint32_t ram_size)
{
    memset(vm, 0, sizeof *vm);
    /* mmap, not calloc: only the pages touched cost anything (a calloc of 16 MiB that
     * ASan recycles is zeroed whole, which made each input take tens of ms) */
    void *ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ram == MAP_FAILED)
        return false;
    vm->f = (FuzzCpu){ .ram = ram, .ram_size = ram_size, .dirty = vm->dirty,
                       .data = data, .size = size };
    vm->cpu = x86_cpu_create(fuzz_cpu_page_fn, &vm->f);
    if (!vm->cpu) {
        munmap(ram, ram_size);
        return false;
    }
    X86Cpu *cpu = vm->cpu;
    x86_cpu_reset(cpu);
    fuzz_setup_protected(cpu, vm->f.ram);
    for (unsigned i = 0; i < 1024; i++)       /* identity 0-4 MiB, 4 KiB pages */
        pg_entry(vm, p->flags & PG_PAE, PT_LOW + (p->flags & PG_PAE ? (i >> 9) << 12 : 0),
                 p->flags & PG_PAE ? i & 511 : i, ((uint64_t)i << 12) | PTE_P | PTE_RW | PTE_US);
    pg_tables(vm, p, 0);
    pg_tables(vm, p, 1);
    cpu->cr3 = pg_cr3(p, (p->flags & PG_SET_B) != 0);
    cpu->cr4 = (p->flags & PG_PAE ? X86_CR4_PAE_BIT : 0) |
               (p->flags & PG_PGE ? X86_CR4_PGE_BIT : 0) |
               (p->flags & PG_NO_PSE ? 0 : X86_CR4_PSE_BIT);
    cpu->cr0 |= X86_CR0_PG | (p->flags & PG_WP ? X86_CR0_WP : 0);
    if (p->flags & PG_NXE)
        x86_cpu_set_efer(cpu, X86_EFER_NXE_BIT);
    x86_cpu_tlb_flush(cpu);
    pg_start_state(vm, p);
    pg_write_linear(vm, p->code_start, p->code, p->code_len, false);
    return true;
}

static inline void pg_destroy(PgVm *vm)
{
    x86_cpu_destroy(vm->cpu);
    munmap(vm->f.ram, vm->f.ram_size);
}

/* Edit i of the input, between two runs (see the header). */
static inline void pg_edit(PgVm *vm, const PgInput *p, unsigned i)
{
    const uint8_t *e = p->edits + PG_EDIT_SIZE * i;
    unsigned op = e[0], kind = op & 3, n = (op >> 3) << 8 | e[1];
    bool flush = op & 4;
    uint32_t v;
    memcpy(&v, e + 2, 4);
    X86Cpu *cpu = vm->cpu;
    switch (kind) {
    case 0:
        pg_entry(vm, p->flags & PG_PAE, (op >> 3) & 1 ? PT_WIN_B : PT_WIN_A, e[1] & 7,
                 pg_leaf(vm, p, e[1] & 7, (uint16_t)v));
        break;
    case 1:
        fuzz_put32(vm->f.ram, PT_BASE + 4 * n, v);
        pg_mark(vm, PT_BASE + 4 * n);
        break;
    case 2: {
        uint8_t b[4];
        memcpy(b, &v, 4);
        pg_write_linear(vm, p->code_start + n, b, 4, flush);
        return;
    }
    default:
        if (flush) {
            cpu->cr3 = cpu->cr3 == pg_cr3(p, 0) ? pg_cr3(p, 1) : pg_cr3(p, 0);
        } else {
            pg_start_state(vm, p);
            return;
        }
        break;
    }
    /* a VMM writes guest memory at any exit; the TLB goes only when asked */
    x86_cpu_host_wrote_memory(cpu);
    if (flush)
        x86_cpu_tlb_flush(cpu);
}

/* Records exit e before the harness handles it (which may complete it). */
static inline void pg_record(PgVm *vm, X86Exit e)
{
    const X86Cpu *cpu = vm->cpu;
    PgExit *r = &vm->exits[vm->nexits++];
    *r = (PgExit){ .reason = e, .rip = cpu->rip };
    if (e == X86_EXIT_IO) {
        r->a = cpu->exit.io.port | (uint64_t)cpu->exit.io.size << 16 |
               (uint64_t)cpu->exit.io.in << 24 | (uint64_t)cpu->exit.io.string << 25 |
               (uint64_t)cpu->exit.io.rep << 26 | (uint64_t)cpu->exit.io.count << 32;
        if (!cpu->exit.io.in)
            memcpy(&r->b, cpu->exit.io.data, 8);
    } else if (e == X86_EXIT_MMIO) {
        r->a = cpu->exit.mmio.size | (uint64_t)cpu->exit.mmio.is_write << 8;
        r->b = cpu->exit.mmio.gpa;
        r->c = cpu->exit.mmio.is_write ? cpu->exit.mmio.data : 0;
    } else if (e == X86_EXIT_UNIMPLEMENTED || e == X86_EXIT_TRIPLE_FAULT ||
               e == X86_EXIT_INVALID_STATE) {
        r->a = cpu->exit.unimpl.linear;
    }
}

/* Runs the input: at most PG_EXITS runs, each exit handled, then the next edit. `log`
 * (FUZZ_VERBOSE, to see what a seed does): each exit before it is handled. */
static inline void pg_run(PgVm *vm, const PgInput *p, FILE *log)
{
    for (unsigned i = 0; i < PG_EXITS; i++) {
        if (log)
            fprintf(log, "run %u: CR3 %#x RIP %#x", i, (unsigned)vm->cpu->cr3,
                    (unsigned)vm->cpu->rip);
        X86Exit e = x86_cpu_run(vm->cpu, p->budget);
        if (log)
            fprintf(log, " -> %s at RIP %#x, EAX %#x, %llu retired\n", x86_exit_name(e),
                    (unsigned)vm->cpu->rip, (unsigned)vm->cpu->gpr[X86_RAX],
                    (unsigned long long)vm->cpu->instructions_retired);
        pg_record(vm, e);
        if (!fuzz_cpu_handle_exit(vm->cpu, &vm->f, e))
            break;
        if (i < p->nedits)
            pg_edit(vm, p, i);
    }
}

#endif
