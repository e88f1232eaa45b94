/*
 * Unit tests of paging and of the Pentium/P6 system instructions of the sim CPU, one rule
 * a test: the page walker as a pure function (entry bits, reserved bits, #PF error codes;
 * SDM Vol. 3A chapter 4), then the CPU with protected-mode state set up directly (flat
 * 32-bit descriptor caches, CR0.PE|PG): A/D bits, CR2, TLB rules of INVLPG / CR3 / PGE,
 * fetch faults, CPL 3, MOV CR checks, CMPXCHG8B, SYSENTER/SYSEXIT, hint NOPs, VMCALL.
 *
 * Exceptions are delivered through an IDT of interrupt gates to one HLT per vector: a
 * test reads the error code and the faulting EIP from the ring-0 stack, CR2 from the CPU.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sim/cpu/cpu.h"
#include "sim/cpu/pagewalk.h"

#define RAM_SIZE (4u << 20)
#define CODE 0x1000u
#define PD 0x10000u       /* page directory (32-bit) / PDPT (PAE) */
#define PT 0x11000u
#define PAE_PD 0x12000u
#define PAE_PT 0x13000u
#define DATA 0x20000u

/* ---------------------------------------------------------------------------------- */
/* The walker as a pure function                                                        */
/* ---------------------------------------------------------------------------------- */

typedef struct {
    uint8_t *mem;
    size_t size;
    unsigned reads;
} Mem;

static bool mem_read(void *opaque, uint64_t gpa, unsigned size, uint64_t *v)
{
    Mem *m = opaque;
    m->reads++;
    if (gpa + size > m->size) return false;
    *v = 0;
    memcpy(v, m->mem + gpa, size);
    return true;
}

static void put32(uint8_t *mem, uint64_t at, uint32_t v) { memcpy(mem + at, &v, 4); }
static void put64(uint8_t *mem, uint64_t at, uint64_t v) { memcpy(mem + at, &v, 8); }
static uint32_t get32(const uint8_t *mem, uint64_t at)
{
    uint32_t v;
    memcpy(&v, mem + at, 4);
    return v;
}

static const uint64_t P = X86_PTE_P, RW = X86_PTE_RW, US = X86_PTE_US, PS = X86_PTE_PS;

static void test_walk_32bit_4k(void **state)
{
    (void)state;
    static uint8_t mem[0x20000];
    memset(mem, 0, sizeof mem);
    Mem m = { mem, sizeof mem, 0 };
    X86PagingRegs r = { .cr0 = X86_CR0_PE | X86_CR0_PG, .cr3 = PD, .maxphyaddr = 36 };
    put32(mem, PD + 4 * 1, PT | P | RW | US);            /* 0x00400000-0x007FFFFF */
    put32(mem, PT + 4 * 5, 0x7000 | P | US);             /* 0x00405000 -> 0x7000, read-only */
    X86Walk w;
    assert_int_equal(x86_page_walk(&r, 0x00405123, mem_read, &m, &w), X86_WALK_OK);
    assert_int_equal(w.gpa, 0x7123);
    assert_int_equal(w.page_size, 4096);
    assert_int_equal(w.levels, 2);
    assert_int_equal(w.entry_gpa[0], PD + 4);
    assert_int_equal(w.entry_gpa[1], PT + 20);
    assert_true(w.user);
    assert_false(w.writable);
    /* the walk is pure: nothing was written (no A bit) */
    assert_int_equal(get32(mem, PT + 20), 0x7000 | P | US);
    /* not present at the PDE and at the PTE: error code 0 from the walk */
    assert_int_equal(x86_page_walk(&r, 0x00800000, mem_read, &m, &w), X86_WALK_FAULT);
    assert_int_equal(w.error, 0);
    assert_int_equal(x86_page_walk(&r, 0x00406000, mem_read, &m, &w), X86_WALK_FAULT);
    assert_int_equal(w.error, 0);
    /* a table outside memory */
    put32(mem, PD + 4 * 2, 0x00F00000 | P);
    assert_int_equal(x86_page_walk(&r, 0x00800000, mem_read, &m, &w), X86_WALK_NO_MEMORY);
    /* paging off: identity */
    r.cr0 = X86_CR0_PE;
    assert_int_equal(x86_page_walk(&r, 0x12345678, mem_read, &m, &w), X86_WALK_OK);
    assert_int_equal(w.gpa, 0x12345678);
}

/* SDM 4.6: user accesses need U/S and (writes) R/W at every level; supervisor writes need
 * R/W only with CR0.WP; the error code says P, W and U. */
static void test_walk_permissions(void **state)
{
    (void)state;
    static uint8_t mem[0x20000];
    memset(mem, 0, sizeof mem);
    Mem m = { mem, sizeof mem, 0 };
    X86PagingRegs r = { .cr0 = X86_CR0_PE | X86_CR0_PG, .cr3 = PD, .maxphyaddr = 36 };
    put32(mem, PD, PT | P | RW);                          /* PDE: supervisor only */
    put32(mem, PT + 4, 0x5000 | P | RW | US);             /* the PTE says user: PDE wins */
    put32(mem, PD + 4, (PT + 0x1000) | P | RW | US);
    put32(mem, PT + 0x1000, 0x6000 | P | US);             /* 0x400000: user, read-only */
    X86Walk w;
    assert_int_equal(x86_page_walk(&r, 0x1000, mem_read, &m, &w), X86_WALK_OK);
    assert_false(w.user);
    assert_int_equal(x86_page_check(&r, &w, X86_ACCESS_READ, false), 0);
    assert_int_equal(x86_page_check(&r, &w, X86_ACCESS_READ, true), X86_PF_P | X86_PF_U);
    assert_int_equal(x86_page_check(&r, &w, X86_ACCESS_WRITE, true),
                     X86_PF_P | X86_PF_U | X86_PF_W);
    assert_int_equal(x86_page_walk(&r, 0x400000, mem_read, &m, &w), X86_WALK_OK);
    assert_int_equal(x86_page_check(&r, &w, X86_ACCESS_READ, true), 0);
    assert_int_equal(x86_page_check(&r, &w, X86_ACCESS_WRITE, true),
                     X86_PF_P | X86_PF_W | X86_PF_U);
    /* supervisor write to a read-only page: allowed with WP = 0, #PF with WP = 1 */
    assert_int_equal(x86_page_check(&r, &w, X86_ACCESS_WRITE, false), 0);
    r.cr0 |= X86_CR0_WP;
    assert_int_equal(x86_page_check(&r, &w, X86_ACCESS_WRITE, false), X86_PF_P | X86_PF_W);
    /* fetches: no XD in 32-bit paging, and no I bit without NXE */
    assert_int_equal(x86_page_check(&r, &w, X86_ACCESS_EXEC, true), 0);
    assert_int_equal(x86_page_access_bits(&r, X86_ACCESS_EXEC, false), 0);
}

/* 4 MiB pages (CR4.PSE) and PSE-36 (bits 16:13 = physical bits 35:32 with MAXPHYADDR 36);
 * bits 21:17 are then reserved (SDM 4.3, Table 4-4). Without PSE, PS is ignored. */
static void test_walk_pse(void **state)
{
    (void)state;
    static uint8_t mem[0x20000];
    memset(mem, 0, sizeof mem);
    Mem m = { mem, sizeof mem, 0 };
    X86PagingRegs r = { .cr0 = X86_CR0_PE | X86_CR0_PG, .cr3 = PD, .cr4 = X86_CR4_PSE_BIT,
                        .maxphyaddr = 36 };
    put32(mem, PD + 4 * 3, 0x01C00000 | (0x5u << 13) | P | RW | PS);
    X86Walk w;
    assert_int_equal(x86_page_walk(&r, 0x00C12345, mem_read, &m, &w), X86_WALK_OK);
    assert_int_equal(w.gpa, 0x501C12345ull);
    assert_int_equal(w.page_size, 4u << 20);
    assert_int_equal(w.levels, 1);
    put32(mem, PD + 4 * 3, 0x01C00000 | (1u << 17) | P | PS);
    assert_int_equal(x86_page_walk(&r, 0x00C12345, mem_read, &m, &w), X86_WALK_FAULT);
    assert_int_equal(w.error, X86_PF_P | X86_PF_RSVD);
    /* CR4.PSE = 0: the PDE points at a page table (here at 0x01C00000: outside memory) */
    r.cr4 = 0;
    assert_int_equal(x86_page_walk(&r, 0x00C12345, mem_read, &m, &w), X86_WALK_NO_MEMORY);
}

/* PAE (SDM 4.4): PDPTE registers, 8-byte entries, 2 MiB pages, XD with EFER.NXE (else
 * bit 63 is reserved), bits 62:36 reserved, I/D in the error code with NXE. */
static void test_walk_pae(void **state)
{
    (void)state;
    static uint8_t mem[0x20000];
    memset(mem, 0, sizeof mem);
    Mem m = { mem, sizeof mem, 0 };
    uint64_t pdpte[4] = { PAE_PD | P, 0, 0, 0 };
    X86PagingRegs r = { .cr0 = X86_CR0_PE | X86_CR0_PG, .cr3 = PD, .cr4 = X86_CR4_PAE_BIT,
                        .pdpte = pdpte, .maxphyaddr = 36 };
    put64(mem, PAE_PD + 8 * 0, PAE_PT | P | RW | US);
    put64(mem, PAE_PT + 8 * 2, 0x9000 | P | RW | US | X86_PTE_XD);
    put64(mem, PAE_PD + 8 * 1, 0x00400000 | P | RW | PS);           /* 2 MiB at 2 MiB */
    X86Walk w;
    /* without NXE, bit 63 is reserved */
    assert_int_equal(x86_page_walk(&r, 0x2010, mem_read, &m, &w), X86_WALK_FAULT);
    assert_int_equal(w.error, X86_PF_P | X86_PF_RSVD);
    r.efer = X86_EFER_NXE_BIT;
    assert_int_equal(x86_page_walk(&r, 0x2010, mem_read, &m, &w), X86_WALK_OK);
    assert_int_equal(w.gpa, 0x9010);
    assert_int_equal(w.levels, 3);
    assert_int_equal(w.entry_gpa[0], ~0ull);     /* the PDPTE register, not memory */
    assert_true(w.xd);
    assert_int_equal(x86_page_check(&r, &w, X86_ACCESS_READ, true), 0);
    assert_int_equal(x86_page_check(&r, &w, X86_ACCESS_EXEC, false), X86_PF_P | X86_PF_I);
    assert_int_equal(x86_page_check(&r, &w, X86_ACCESS_EXEC, true),
                     X86_PF_P | X86_PF_I | X86_PF_U);
    assert_int_equal(x86_page_walk(&r, 0x3FFFFF, mem_read, &m, &w), X86_WALK_OK);
    assert_int_equal(w.gpa, 0x5FFFFF);
    assert_int_equal(w.page_size, 2u << 20);
    /* a 2 MiB PDE with bits 20:13 set: reserved; a frame above MAXPHYADDR: reserved */
    put64(mem, PAE_PD + 8 * 1, 0x00402000 | P | PS);
    assert_int_equal(x86_page_walk(&r, 0x200000, mem_read, &m, &w), X86_WALK_FAULT);
    assert_int_equal(w.error, X86_PF_P | X86_PF_RSVD);
    put64(mem, PAE_PD + 8 * 1, (1ull << 40) | P | PS);
    assert_int_equal(x86_page_walk(&r, 0x200000, mem_read, &m, &w), X86_WALK_FAULT);
    /* a PDPTE not present: error 0; the monitor's walk reads PDPTEs from CR3 */
    assert_int_equal(x86_page_walk(&r, 0x40000000, mem_read, &m, &w), X86_WALK_FAULT);
    assert_int_equal(w.error, 0);
    r.pdpte = NULL;
    put64(mem, PD, PAE_PD | P);
    assert_int_equal(x86_page_walk(&r, 0x2010, mem_read, &m, &w), X86_WALK_OK);
    assert_int_equal(w.entry_gpa[0], PD);
    assert_int_equal(x86_pdpte_reserved(36) & 0x1E6, 0x1E6);
}

/* ---------------------------------------------------------------------------------- */
/* The CPU with paging                                                                  */
/* ---------------------------------------------------------------------------------- */

#include "cpu_fixture.h"

/* Protected-mode tables above 1 MiB (identity-mapped, supervisor): a flat GDT (ring-0
 * code 0x08 / data 0x10, ring-3 code 0x1B / data 0x23, a busy TSS 0x28 whose ESP0 is
 * STACK0), an IDT whose vector v is an interrupt gate to a HLT at HANDLERS + 16 * v. */
#define GDT 0x100000u
#define TSS 0x100800u
#define IDT 0x101000u
#define HANDLERS 0x102000u
#define STACK0 0x104000u
enum { SEL_CODE0 = 0x08, SEL_DATA0 = 0x10, SEL_CODE3 = 0x18, SEL_DATA3 = 0x20, SEL_TSS = 0x28 };

static void desc(Fx *fx, unsigned sel, uint32_t base, uint32_t limit, unsigned access,
                 unsigned flags)
{
    put32(fx->ram, GDT + sel, (limit & 0xFFFF) | (base << 16));
    put32(fx->ram, GDT + sel + 4, ((base >> 16) & 0xFF) | (access << 8) | (limit & 0xF0000) |
                                  (flags << 20) | (base & 0xFF000000u));
}

static void pm_tables(Fx *fx)
{
    X86Cpu *cpu = fx->cpu;
    desc(fx, SEL_CODE0, 0, 0xFFFFF, 0x9B, 0xC);
    desc(fx, SEL_DATA0, 0, 0xFFFFF, 0x93, 0xC);
    desc(fx, SEL_CODE3, 0, 0xFFFFF, 0xFB, 0xC);
    desc(fx, SEL_DATA3, 0, 0xFFFFF, 0xF3, 0xC);
    desc(fx, SEL_TSS, TSS, 0x67, 0x8B, 0);
    for (unsigned v = 0; v < 256; v++) {
        uint32_t h = HANDLERS + 16 * v;
        put32(fx->ram, IDT + 8 * v, (h & 0xFFFF) | ((uint32_t)SEL_CODE0 << 16));
        put32(fx->ram, IDT + 8 * v + 4, (h & 0xFFFF0000u) | 0x8E00u);   /* P, DPL 0, int32 */
        fx->ram[h] = 0xF4;
    }
    put32(fx->ram, TSS + 4, STACK0);
    put32(fx->ram, TSS + 8, SEL_DATA0);
    cpu->gdtr = (X86DescTable){ GDT, 0x2F };
    cpu->idtr = (X86DescTable){ IDT, 0x7FF };
    cpu->tr = (X86Segment){ SEL_TSS, TSS, 0x67, 0x8B };
    cpu->ldtr = (X86Segment){ 0, 0, 0, X86_AR_UNUSABLE };
}

static void flat(X86Segment *s, uint16_t sel, unsigned type, unsigned dpl)
{
    s->selector = sel;
    s->base = 0;
    s->limit = 0xFFFFFFFFu;
    s->attr = type | X86_AR_S | X86_AR_P | X86_AR_DB | X86_AR_G | (dpl << X86_AR_DPL_SHIFT);
}

/* Flat 32-bit protected mode at CPL `cpl` (0 or 3), identity-mapped first 4 MiB by 4 KiB
 * pages (user, writable), paging on with 32-bit tables at PD/PT, ESP 0x8000. */
static void protected_flat(Fx *fx, unsigned cpl)
{
    X86Cpu *cpu = fx->cpu;
    pm_tables(fx);
    flat(&cpu->cs, cpl ? SEL_CODE3 | 3 : SEL_CODE0, 0xB, cpl);
    for (int s = 0; s < 6; s++)
        if (s != X86_CS) flat(&cpu->seg[s], cpl ? SEL_DATA3 | 3 : SEL_DATA0, 0x3, cpl);
    put32(fx->ram, PD, PT | P | RW | US);
    for (uint32_t i = 0; i < 1024; i++) put32(fx->ram, PT + 4 * i, (i << 12) | P | RW | US);
    cpu->cr3 = PD;
    cpu->cr0 = X86_CR0_PE | X86_CR0_PG | X86_CR0_ET;
    cpu->gpr[X86_RSP] = 0x8000;
    x86_cpu_tlb_flush(cpu);
}

static int setup(void **state)
{
    Fx *fx = fx_create_real(CODE, 0x8000);
    if (!fx) return -1;
    *state = fx;
    return 0;
}

static void load(Fx *fx, uint32_t addr, const uint8_t *code, size_t n)
{
    memcpy(fx->ram + addr, code, n);
    x86_cpu_invalidate_code(fx->cpu, addr, n);
}

/* The run ended in the ring-0 handler of `vector` (its HLT), which got `error` as the
 * error code; returns the EIP the exception pushed (the faulting instruction). */
static uint32_t expect_exception(X86Cpu *cpu, X86Exit x, int vector, uint32_t error)
{
    Fx *fx = cpu->page_opaque;
    assert_int_equal(x, X86_EXIT_HLT);
    assert_int_equal(cpu->rip, HANDLERS + 16u * (unsigned)vector + 1);
    uint32_t esp = (uint32_t)cpu->gpr[X86_RSP];
    assert_int_equal(get32(fx->ram, esp), error);
    return get32(fx->ram, esp + 4);
}

/* Back to the code at `rip` after an exception, in the state protected_flat(cpl) made. */
static void again(Fx *fx, unsigned cpl, uint32_t rip)
{
    uint32_t cr0 = (uint32_t)fx->cpu->cr0, cr4 = (uint32_t)fx->cpu->cr4;
    X86Cpu *cpu = fx->cpu;
    flat(&cpu->cs, cpl ? SEL_CODE3 | 3 : SEL_CODE0, 0xB, cpl);
    for (int s = 0; s < 6; s++)
        if (s != X86_CS) flat(&cpu->seg[s], cpl ? SEL_DATA3 | 3 : SEL_DATA0, 0x3, cpl);
    cpu->cr0 = cr0;
    cpu->cr4 = cr4;
    cpu->gpr[X86_RSP] = 0x8000;
    cpu->rip = rip;
}

static uint32_t pte(Fx *fx, uint32_t lin) { return get32(fx->ram, PT + 4 * (lin >> 12)); }

/* A and D (SDM 4.8): a read sets A in the PDE and PTE, a write sets D in the PTE only. */
static void test_accessed_dirty(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    protected_flat(fx, 0);
    put32(fx->ram, PT + 4 * 0x30, 0x20000 | P | RW);      /* 0x30000 -> 0x20000 */
    static const uint8_t code[] = {
        0x8B, 0x05, 0x10, 0x00, 0x03, 0x00,   /* mov eax, [0x30010] */
        0xC7, 0x05, 0x20, 0x00, 0x03, 0x00, 0x78, 0x56, 0x34, 0x12,  /* mov [0x30020], imm */
        0xF4,
    };
    load(fx, CODE, code, sizeof code);
    put32(fx->ram, DATA + 0x10, 0xCAFEF00D);
    assert_int_equal(x86_cpu_run(cpu, 1), X86_EXIT_BUDGET);
    assert_int_equal(cpu->gpr[X86_RAX], 0xCAFEF00D);
    assert_true(get32(fx->ram, PD) & X86_PTE_A);
    assert_int_equal(pte(fx, 0x30000) & (X86_PTE_A | X86_PTE_D), X86_PTE_A);   /* no D yet */
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
    assert_int_equal(pte(fx, 0x30000) & (X86_PTE_A | X86_PTE_D), X86_PTE_A | X86_PTE_D);
    assert_int_equal(get32(fx->ram, DATA + 0x20), 0x12345678);
    assert_int_equal(get32(fx->ram, PD) & X86_PTE_D, 0);   /* D only in the leaf */
    /* the code page was fetched: A, not D */
    assert_int_equal(pte(fx, CODE) & (X86_PTE_A | X86_PTE_D), X86_PTE_A);
}

/* A first write to a page the TLB holds for reading still sets D (the TLB caches
 * dirty-ness: its write tag is only set once D is). */
static void test_first_write_sets_dirty(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    protected_flat(fx, 0);
    static const uint8_t code[] = {
        0x8B, 0x05, 0x00, 0x00, 0x02, 0x00,   /* mov eax, [0x20000] */
        0x8B, 0x05, 0x04, 0x00, 0x02, 0x00,   /* mov eax, [0x20004] (TLB hit) */
        0x89, 0x05, 0x08, 0x00, 0x02, 0x00,   /* mov [0x20008], eax */
        0xF4,
    };
    load(fx, CODE, code, sizeof code);
    assert_int_equal(x86_cpu_run(cpu, 2), X86_EXIT_BUDGET);
    assert_int_equal(pte(fx, DATA) & X86_PTE_D, 0);
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
    assert_true(pte(fx, DATA) & X86_PTE_D);
}

/* #PF (SDM 6.15 "Interrupt 14"): CR2 = the linear address; error code bits: a read of a
 * not-present page 0, a write 2; the instruction has no effect. */
static void test_page_fault_not_present(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    protected_flat(fx, 0);
    put32(fx->ram, PT + 4 * 0x40, 0);
    static const uint8_t code[] = {
        0xB8, 0x11, 0x11, 0x11, 0x11,         /* mov eax, 0x11111111 */
        0x8B, 0x05, 0x34, 0x02, 0x04, 0x00,   /* mov eax, [0x40234] */
    };
    load(fx, CODE, code, sizeof code);
    assert_int_equal(expect_exception(cpu, x86_cpu_run(cpu, 0), 14, 0), CODE + 5);
    assert_int_equal(cpu->cr2, 0x40234);
    assert_int_equal(cpu->gpr[X86_RAX], 0x11111111);
    static const uint8_t code2[] = { 0x89, 0x05, 0xFC, 0x0F, 0x04, 0x00 };  /* mov [0x40FFC], eax */
    load(fx, CODE, code2, sizeof code2);
    again(fx, 0, CODE);
    assert_int_equal(expect_exception(cpu, x86_cpu_run(cpu, 0), 14, X86_PF_W), CODE);
    assert_int_equal(cpu->cr2, 0x40FFC);
}

/* Switches protected_flat's paging to PAE: the PDPT at PD, one PD at PAE_PD mapping
 * 0-2 MiB by 4 KiB pages (PT at PAE_PT), supervisor and writable. */
static void pae_flat(Fx *fx)
{
    memset(fx->ram + PD, 0, 0x4000);
    put64(fx->ram, PD, PAE_PD | P);
    put64(fx->ram, PAE_PD, PAE_PT | P | RW);
    for (uint64_t i = 0; i < 512; i++) put64(fx->ram, PAE_PT + 8 * i, (i << 12) | P | RW);
}

/* A reserved bit: error code P | RSVD (| W for a write); PAE tables here. */
static void test_page_fault_reserved_bit(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    protected_flat(fx, 0);
    pae_flat(fx);
    put64(fx->ram, PAE_PT + 8 * 0x50, 0x50000 | P | RW | (1ull << 40));
    cpu->cr4 = X86_CR4_PAE_BIT;
    x86_cpu_tlb_flush(cpu);
    static const uint8_t code[] = { 0xA3, 0x00, 0x00, 0x05, 0x00 };   /* mov [0x50000], eax */
    load(fx, CODE, code, sizeof code);
    expect_exception(cpu, x86_cpu_run(cpu, 0), 14, X86_PF_P | X86_PF_RSVD | X86_PF_W);
    assert_int_equal(cpu->cr2, 0x50000);
}

/* CPL 3 (SDM 4.6): a user read of a supervisor page is #PF(P|U), a user write to a
 * read-only page #PF(P|W|U). */
static void test_page_fault_user(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    protected_flat(fx, 3);
    put32(fx->ram, PT + 4 * 0x60, 0x60000 | P | RW);            /* supervisor */
    put32(fx->ram, PT + 4 * 0x61, 0x61000 | P | US);            /* user, read-only */
    static const uint8_t code[] = {
        0xA1, 0x00, 0x10, 0x06, 0x00,         /* mov eax, [0x61000]: fine */
        0xA1, 0x00, 0x00, 0x06, 0x00,         /* mov eax, [0x60000] */
    };
    load(fx, CODE, code, sizeof code);
    assert_int_equal(expect_exception(cpu, x86_cpu_run(cpu, 0), 14, X86_PF_P | X86_PF_U),
                     CODE + 5);
    assert_int_equal(cpu->cr2, 0x60000);
    /* the frame is on the ring-0 stack of the TSS, with the user SS:ESP */
    assert_int_equal((uint32_t)cpu->gpr[X86_RSP], STACK0 - 24);
    assert_int_equal(get32(fx->ram, STACK0 - 4), SEL_DATA3 | 3);
    static const uint8_t code2[] = { 0xA3, 0x04, 0x10, 0x06, 0x00 };   /* mov [0x61004], eax */
    load(fx, CODE, code2, sizeof code2);
    again(fx, 3, CODE);
    expect_exception(cpu, x86_cpu_run(cpu, 0), 14, X86_PF_P | X86_PF_W | X86_PF_U);
}

/* ENTER (SDM Vol. 2A, ENTER): a write at the final ESP is checked before anything is
 * written, so ENTER 1,0 with ESP just above a supervisor page is #PF(P|W|U) at CPL 3 at
 * the final ESP, with ESP, EBP and the stack unchanged (test386 POST 0x1A). */
static void test_enter_final_esp_fault(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    protected_flat(fx, 3);
    put32(fx->ram, PT + 4 * 0x62, 0x62000 | P | RW);            /* supervisor */
    put32(fx->ram, PT + 4 * 0x63, 0x63000 | P | RW | US);       /* user */
    static const uint8_t code[] = {
        0xBC, 0x04, 0x30, 0x06, 0x00,         /* mov esp, 0x63004 */
        0xBD, 0x78, 0x56, 0x34, 0x12,         /* mov ebp, 0x12345678 */
        0xC8, 0x01, 0x00, 0x00,               /* enter 1, 0 */
    };
    put32(fx->ram, 0x63000, 0xAAAAAAAA);
    load(fx, CODE, code, sizeof code);
    assert_int_equal(expect_exception(cpu, x86_cpu_run(cpu, 0), 14,
                                      X86_PF_P | X86_PF_W | X86_PF_U), CODE + 10);
    assert_int_equal(cpu->cr2, 0x62FFF);
    assert_int_equal(get32(fx->ram, 0x63000), 0xAAAAAAAA);   /* EBP was not pushed */
    assert_int_equal(get32(fx->ram, STACK0 - 8), 0x63004);   /* the user ESP, unchanged */
}

/* CR0.WP (SDM 4.6): at CPL 0 a write to a read-only page succeeds with WP = 0 and is
 * #PF(P|W) with WP = 1. */
static void test_write_protect(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    protected_flat(fx, 0);
    put32(fx->ram, PT + 4 * 0x70, 0x70000 | P);
    static const uint8_t code[] = { 0xA3, 0x00, 0x00, 0x07, 0x00, 0xF4 };
    load(fx, CODE, code, sizeof code);
    cpu->gpr[X86_RAX] = 0xABCD;
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
    assert_int_equal(get32(fx->ram, 0x70000), 0xABCD);
    cpu->cr0 |= X86_CR0_WP;
    x86_cpu_tlb_flush(cpu);
    again(fx, 0, CODE);
    expect_exception(cpu, x86_cpu_run(cpu, 0), 14, X86_PF_P | X86_PF_W);
}

/* An instruction fetch from a page that is not present: CR2 is the fetched address (here
 * the second page of an instruction that straddles two), RIP the instruction. */
static void test_fetch_fault(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    protected_flat(fx, 0);
    put32(fx->ram, PT + 4 * 0x81, 0);
    static const uint8_t code[] = { 0xB8, 0x01, 0x02 };       /* mov eax, imm32 (cut) */
    load(fx, 0x81000 - 3, code, sizeof code);
    cpu->rip = 0x81000 - 3;
    assert_int_equal(expect_exception(cpu, x86_cpu_run(cpu, 0), 14, 0), 0x81000 - 3);
    assert_int_equal(cpu->cr2, 0x81000);
    /* a jump to it */
    static const uint8_t jmp[] = { 0xE9, 0xFB, 0xFF, 0x07, 0x00 };  /* jmp 0x81000 */
    load(fx, CODE, jmp, sizeof jmp);
    again(fx, 0, CODE);
    assert_int_equal(expect_exception(cpu, x86_cpu_run(cpu, 0), 14, 0), 0x81000);
    assert_int_equal(cpu->cr2, 0x81000);
}

/* XD (EFER.NXE, PAE): a fetch from an XD page is #PF(P|I); reads work. */
static void test_execute_disable(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    protected_flat(fx, 0);
    pae_flat(fx);
    put64(fx->ram, PAE_PT + 8 * 0x90, 0x90000 | P | RW | X86_PTE_XD);
    cpu->cr4 = X86_CR4_PAE_BIT;
    cpu->efer = X86_EFER_NXE_BIT;
    x86_cpu_tlb_flush(cpu);
    fx->ram[0x90000] = 0xF4;
    static const uint8_t code[] = {
        0xA1, 0x00, 0x00, 0x09, 0x00,         /* mov eax, [0x90000]: a read is fine */
        0xE9, 0xF6, 0xEF, 0x08, 0x00,         /* jmp 0x90000 */
    };
    load(fx, CODE, code, sizeof code);
    expect_exception(cpu, x86_cpu_run(cpu, 0), 14, X86_PF_P | X86_PF_I);
    assert_int_equal(cpu->gpr[X86_RAX] & 0xFF, 0xF4);
    assert_int_equal(cpu->cr2, 0x90000);
}

/* The TLB (SDM 4.10): a changed PTE is not seen until INVLPG; MOV CR3 drops non-global
 * entries and keeps global ones with CR4.PGE; a CR4.PGE change drops them all. */
static void test_tlb_invlpg_cr3_global(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    protected_flat(fx, 0);
    cpu->cr4 = X86_CR4_PGE_BIT;
    put32(fx->ram, PT + 4 * 0xA0, 0xA0000 | P | RW);
    put32(fx->ram, PT + 4 * 0xA1, 0xA1000 | P | RW | X86_PTE_G);
    put32(fx->ram, 0xA0000, 1);
    put32(fx->ram, 0xA1000, 2);
    put32(fx->ram, 0xB0000, 10);
    put32(fx->ram, 0xB1000, 20);
    static const uint8_t code[] = {
        0xA1, 0x00, 0x00, 0x0A, 0x00,         /* mov eax, [0xA0000] */
        0x8B, 0x1D, 0x00, 0x10, 0x0A, 0x00,   /* mov ebx, [0xA1000] */
        0xF4,
    };
    load(fx, CODE, code, sizeof code);
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
    assert_int_equal(cpu->gpr[X86_RAX], 1);
    assert_int_equal(cpu->gpr[X86_RBX], 2);
    /* remap both without telling the TLB: the old translations stay */
    put32(fx->ram, PT + 4 * 0xA0, 0xB0000 | P | RW);
    put32(fx->ram, PT + 4 * 0xA1, 0xB1000 | P | RW | X86_PTE_G);
    cpu->rip = CODE;
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
    assert_int_equal(cpu->gpr[X86_RAX], 1);
    /* MOV CR3: the non-global page is walked again, the global one is not */
    static const uint8_t cr3[] = {
        0x0F, 0x20, 0xD9,                     /* mov ecx, cr3 */
        0x0F, 0x22, 0xD9,                     /* mov cr3, ecx */
        0xA1, 0x00, 0x00, 0x0A, 0x00,         /* mov eax, [0xA0000] */
        0x8B, 0x1D, 0x00, 0x10, 0x0A, 0x00,   /* mov ebx, [0xA1000] */
        0xF4,
    };
    load(fx, CODE, cr3, sizeof cr3);
    cpu->rip = CODE;
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
    assert_int_equal(cpu->gpr[X86_RAX], 10);
    assert_int_equal(cpu->gpr[X86_RBX], 2);
    /* INVLPG drops the global page too */
    static const uint8_t inv[] = {
        0x0F, 0x01, 0x3D, 0x00, 0x10, 0x0A, 0x00,   /* invlpg [0xA1000] */
        0x8B, 0x1D, 0x00, 0x10, 0x0A, 0x00,         /* mov ebx, [0xA1000] */
        0xF4,
    };
    load(fx, CODE, inv, sizeof inv);
    cpu->rip = CODE;
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
    assert_int_equal(cpu->gpr[X86_RBX], 20);
}

/* INVLPG of one address in a 4 MiB page drops every 4 KiB piece the TLB holds of it. */
static void test_invlpg_large_page(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    protected_flat(fx, 0);
    cpu->cr4 = X86_CR4_PSE_BIT;
    put32(fx->ram, PD + 4, 0x00000000 | P | RW | PS);    /* 4-8 MiB -> 0-4 MiB */
    put32(fx->ram, 0x3000, 7);
    put32(fx->ram, 0x7000, 8);
    static const uint8_t code[] = { 0xA1, 0x00, 0x30, 0x40, 0x00, 0xF4 };  /* [0x403000] */
    load(fx, CODE, code, sizeof code);
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
    assert_int_equal(cpu->gpr[X86_RAX], 7);
    put32(fx->ram, PD + 4, 0x00000000 | P | RW | PS | (0u));
    /* point the large page elsewhere: 0x400000 -> 0x000000 + 0x4000 is not 4 MiB aligned,
     * so use a 4 KiB table instead and invalidate another address of the old page */
    put32(fx->ram, PD + 4, (PT + 0x1000) | P | RW);
    for (uint32_t i = 0; i < 1024; i++) put32(fx->ram, PT + 0x1000 + 4 * i, 0x4000 | P | RW);
    static const uint8_t inv[] = {
        0x0F, 0x01, 0x3D, 0x00, 0x00, 0x7F, 0x00,   /* invlpg [0x7F0000] */
        0xA1, 0x00, 0x30, 0x40, 0x00, 0xF4,
    };
    load(fx, CODE, inv, sizeof inv);
    put32(fx->ram, 0x4000, 9);
    cpu->rip = CODE;
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
    assert_int_equal(cpu->gpr[X86_RAX], 9);
}

/* A global 4 MiB page survives MOV CR3; INVLPG of another address of it after that flush
 * still finds its pieces (the TLB's record of large pages is recounted, not lost), and
 * INVLPG of a 4 KiB page leaves an unrelated cached page alone. */
static void test_invlpg_global_large_after_cr3(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    protected_flat(fx, 0);
    cpu->cr4 = X86_CR4_PSE_BIT | X86_CR4_PGE_BIT;
    put32(fx->ram, PD + 4, 0x00000000 | P | RW | PS | X86_PTE_G);   /* 4-8 MiB -> 0-4 MiB */
    put32(fx->ram, PT + 4 * 0xA0, 0xA0000 | P | RW);
    put32(fx->ram, 0x3000, 7);
    put32(fx->ram, 0xA0000, 1);
    put32(fx->ram, 0xB0000, 2);
    static const uint8_t code[] = {
        0xA1, 0x00, 0x30, 0x40, 0x00,               /* mov eax, [0x403000] */
        0x0F, 0x20, 0xD9,                           /* mov ecx, cr3 */
        0x0F, 0x22, 0xD9,                           /* mov cr3, ecx */
        0x8B, 0x1D, 0x00, 0x00, 0x0A, 0x00,         /* mov ebx, [0xA0000] */
        0xF4,
    };
    load(fx, CODE, code, sizeof code);
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
    assert_int_equal(cpu->gpr[X86_RAX], 7);
    assert_int_equal(cpu->gpr[X86_RBX], 1);
    /* both translations change in memory */
    put32(fx->ram, PD + 4, (PT + 0x1000) | P | RW);
    for (uint32_t i = 0; i < 1024; i++) put32(fx->ram, PT + 0x1000 + 4 * i, 0x4000 | P | RW);
    put32(fx->ram, PT + 4 * 0xA0, 0xB0000 | P | RW);
    put32(fx->ram, 0x4000, 9);
    static const uint8_t inv[] = {
        0x0F, 0x01, 0x3D, 0x00, 0x00, 0x7F, 0x00,   /* invlpg [0x7F0000] */
        0x0F, 0x01, 0x3D, 0x00, 0x10, 0x0A, 0x00,   /* invlpg [0xA1000]: not 0xA0000 */
        0xA1, 0x00, 0x30, 0x40, 0x00,               /* mov eax, [0x403000] */
        0x8B, 0x1D, 0x00, 0x00, 0x0A, 0x00,         /* mov ebx, [0xA0000] */
        0xF4,
    };
    load(fx, CODE, inv, sizeof inv);
    cpu->rip = CODE;
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
    assert_int_equal(cpu->gpr[X86_RAX], 9);
    assert_int_equal(cpu->gpr[X86_RBX], 1);   /* still the cached translation */
}

/* ---------------------------------------------------------------------------------- */
/* MOV CR checks and the new instructions (real mode where delivery exists)            */
/* ---------------------------------------------------------------------------------- */

/* #GP handler at IVT[13] -> 0:2000 (HLT); the return address it gets is checked. */
static void gp_handler(Fx *fx)
{
    fx->ram[13 * 4] = 0x00; fx->ram[13 * 4 + 1] = 0x20;
    fx->ram[6 * 4] = 0x00; fx->ram[6 * 4 + 1] = 0x30;   /* #UD -> 0:3000 */
    fx->ram[0x2000] = 0xF4;
    fx->ram[0x3000] = 0xF4;
}

static void run_expect_gp(Fx *fx, const uint8_t *code, size_t n, uint32_t fault_ip)
{
    X86Cpu *cpu = fx->cpu;
    load(fx, CODE, code, n);
    cpu->rip = CODE;
    cpu->gpr[X86_RSP] = 0x8000;
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
    assert_int_equal(cpu->rip, 0x2001);
    assert_int_equal(fx->ram[0x8000 - 6] | fx->ram[0x8000 - 5] << 8, fault_ip);
}

/* MOV CR4 with a bit this CPU does not implement (issue 15 item 7: 0x7F7FFF) is #GP(0);
 * so are PG without PE and NW without CD in CR0 (SDM Vol. 2B, MOV CR). */
static void test_mov_cr_checks(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    gp_handler(fx);
    static const uint8_t cr4[] = {
        0x66, 0xB8, 0xFF, 0x7F, 0x7F, 0x00,   /* mov eax, 0x7F7FFF */
        0x0F, 0x22, 0xE0,                     /* mov cr4, eax */
        0xF4,
    };
    run_expect_gp(fx, cr4, sizeof cr4, CODE + 6);
    assert_int_equal(cpu->cr4, 0);
    static const uint8_t ok4[] = {
        0x66, 0xB8, 0xB4, 0x00, 0x00, 0x00,   /* mov eax, PSE|PAE|PGE|TSD */
        0x0F, 0x22, 0xE0, 0xF4,
    };
    load(fx, CODE, ok4, sizeof ok4);
    cpu->rip = CODE;
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
    assert_int_equal(cpu->cr4, 0xB4);
    static const uint8_t pg[] = {
        0x66, 0xB8, 0x00, 0x00, 0x00, 0x80,   /* mov eax, 0x80000000 (PG, no PE) */
        0x0F, 0x22, 0xC0, 0xF4,
    };
    run_expect_gp(fx, pg, sizeof pg, CODE + 6);
    assert_false(cpu->cr0 & X86_CR0_PG);
    static const uint8_t nw[] = {
        0x66, 0xB8, 0x00, 0x00, 0x00, 0x20,   /* mov eax, NW (no CD) */
        0x0F, 0x22, 0xC0, 0xF4,
    };
    run_expect_gp(fx, nw, sizeof nw, CODE + 6);
    /* CR1 / CR5: #UD */
    static const uint8_t cr5[] = { 0x0F, 0x22, 0xE8, 0xF4 };
    load(fx, CODE, cr5, sizeof cr5);
    cpu->rip = CODE;
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
    assert_int_equal(cpu->rip, 0x3001);
    /* reserved CR0 bits are ignored, ET reads as 1 */
    static const uint8_t rsv[] = {
        0x66, 0xB8, 0xC0, 0xFF, 0x00, 0x00,   /* bits 15:6 */
        0x0F, 0x22, 0xC0, 0x0F, 0x20, 0xC3, 0xF4,   /* mov cr0, eax; mov ebx, cr0 */
    };
    load(fx, CODE, rsv, sizeof rsv);
    cpu->rip = CODE;
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
    assert_int_equal(cpu->gpr[X86_RBX], X86_CR0_ET);
}

/* Enabling PAE paging with a PDPTE that has a reserved bit is #GP(0) and leaves CR0 as it
 * was (SDM 4.4.1). */
static void test_pdpte_reserved_gp(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    protected_flat(fx, 0);
    cpu->cr0 &= ~(uint64_t)X86_CR0_PG;
    put64(fx->ram, PD, PAE_PD | P | (1ull << 5));    /* bit 5 reserved in a PDPTE */
    cpu->cr4 = X86_CR4_PAE_BIT;
    static const uint8_t code[] = {
        0xB8, 0x11, 0x00, 0x00, 0x80,         /* mov eax, PG | ET | PE */
        0x0F, 0x22, 0xC0, 0xF4,
    };
    load(fx, CODE, code, sizeof code);
    cpu->rip = CODE;
    assert_int_equal(expect_exception(cpu, x86_cpu_run(cpu, 0), 13, 0), CODE + 5);
    assert_false(cpu->cr0 & X86_CR0_PG);
}

/* CMPXCHG8B (SDM Vol. 2A): equal -> ZF = 1 and ECX:EBX stored; not equal -> ZF = 0 and
 * the memory in EDX:EAX; a register operand is #UD. */
static void test_cmpxchg8b(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    gp_handler(fx);
    put32(fx->ram, 0x500, 0x11111111);
    put32(fx->ram, 0x504, 0x22222222);
    static const uint8_t code[] = {
        0x0F, 0xC7, 0x0E, 0x00, 0x05,         /* cmpxchg8b [0x500] */
        0x9C,                                 /* pushf */
        0x0F, 0xC7, 0x0E, 0x00, 0x05,         /* cmpxchg8b [0x500] again */
        0xF4,
    };
    load(fx, CODE, code, sizeof code);
    cpu->gpr[X86_RAX] = 0x11111111;
    cpu->gpr[X86_RDX] = 0x22222222;
    cpu->gpr[X86_RBX] = 0x33333333;
    cpu->gpr[X86_RCX] = 0x44444444;
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
    assert_int_equal(get32(fx->ram, 0x500), 0x33333333);
    assert_int_equal(get32(fx->ram, 0x504), 0x44444444);
    assert_true(fx->ram[0x8000 - 2] & X86_FLAG_ZF);          /* the first one matched */
    assert_false(x86_cpu_get_rflags(cpu) & X86_FLAG_ZF);     /* the second did not */
    assert_int_equal(cpu->gpr[X86_RAX], 0x33333333);
    assert_int_equal(cpu->gpr[X86_RDX], 0x44444444);
    static const uint8_t reg[] = { 0x0F, 0xC7, 0xC8, 0xF4 };
    load(fx, CODE, reg, sizeof reg);
    cpu->rip = CODE;
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
    assert_int_equal(cpu->rip, 0x3001);
}

/* SYSENTER/SYSEXIT (SDM Vol. 2B): #GP(0) in real mode; in protected mode flat CS/SS from
 * IA32_SYSENTER_CS, ESP/EIP from the MSRs; SYSEXIT to CPL 3 with ESP = ECX, EIP = EDX. */
static void test_sysenter_sysexit(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    gp_handler(fx);
    static const uint8_t se[] = { 0x0F, 0x34 };
    run_expect_gp(fx, se, sizeof se, CODE);
    protected_flat(fx, 3);
    cpu->sysenter_cs = 0x10;
    cpu->sysenter_esp = 0x9000;
    cpu->sysenter_eip = 0x4000;
    static const uint8_t kernel[] = { 0x0F, 0x35 };           /* sysexit */
    load(fx, 0x4000, kernel, sizeof kernel);
    static const uint8_t user[] = { 0x0F, 0x34 };
    load(fx, CODE, user, sizeof user);
    fx->ram[0x5000] = 0xF4;
    cpu->rip = CODE;
    cpu->gpr[X86_RCX] = 0x7000;
    cpu->gpr[X86_RDX] = 0x5000;
    x86_cpu_set_rflags(cpu, X86_FLAG_IF | X86_FLAG_FIXED);
    assert_int_equal(x86_cpu_run(cpu, 1), X86_EXIT_BUDGET);
    assert_int_equal(cpu->cs.selector, 0x10);
    assert_int_equal(cpu->ss.selector, 0x18);
    assert_int_equal((cpu->cs.attr >> X86_AR_DPL_SHIFT) & 3, 0);
    assert_int_equal(cpu->rip, 0x4000);
    assert_int_equal(cpu->gpr[X86_RSP], 0x9000);
    assert_false(x86_cpu_get_rflags(cpu) & X86_FLAG_IF);
    assert_int_equal(x86_cpu_run(cpu, 1), X86_EXIT_BUDGET);
    assert_int_equal(cpu->cs.selector, 0x23);
    assert_int_equal(cpu->ss.selector, 0x2B);
    assert_int_equal((cpu->ss.attr >> X86_AR_DPL_SHIFT) & 3, 3);
    assert_int_equal(cpu->rip, 0x5000);
    assert_int_equal(cpu->gpr[X86_RSP], 0x7000);
    /* SYSEXIT at CPL 3: #GP(0) */
    load(fx, 0x5000, kernel, sizeof kernel);
    assert_int_equal(expect_exception(cpu, x86_cpu_run(cpu, 0), 13, 0), 0x5000);
}

/* Each privilege level has its own TLB half and its own decoded blocks: a loop that
 * read a supervisor page often enough at CPL 0 to be translated, with the page's
 * translation cached, faults (#PF(P|U)) on its first read when the same bytes run at
 * CPL 3 after SYSEXIT: nothing cached for the kernel serves the user. */
static void test_tlb_halves_by_privilege(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    protected_flat(fx, 0);
    put32(fx->ram, PT + 4 * 0x60, 0x60000 | P | RW);            /* supervisor */
    put32(fx->ram, 0x60000, 0xCAFEF00D);
    cpu->sysenter_cs = SEL_CODE0;       /* SYSEXIT: CS 0x18 | 3, SS 0x20 | 3 */
    static const uint8_t code[] = {
        0xB9, 0x64, 0x00, 0x00, 0x00,         /* mov ecx, 100 */
        0xA1, 0x00, 0x00, 0x06, 0x00,         /* L: mov eax, [0x60000] */
        0x49,                                 /* dec ecx */
        0x75, 0xF8,                           /* jnz L */
        0xBA, 0x05, 0x10, 0x00, 0x00,         /* mov edx, L */
        0xB9, 0x00, 0x70, 0x00, 0x00,         /* mov ecx, 0x7000 */
        0x0F, 0x35,                           /* sysexit */
    };
    load(fx, CODE, code, sizeof code);
    assert_int_equal(expect_exception(cpu, x86_cpu_run(cpu, 0), 14, X86_PF_P | X86_PF_U),
                     CODE + 5);
    assert_int_equal(cpu->cr2, 0x60000);
    assert_int_equal(cpu->gpr[X86_RAX], 0xCAFEF00D);   /* the kernel's reads worked */
    assert_int_equal(get32(fx->ram, STACK0 - 4), SEL_DATA3 | 3);   /* from CPL 3 */
}

/* Blocks found by their linear address (links, the jump cache) are forgotten when the
 * translation changes: after the PTE of the target page is pointed elsewhere and INVLPG,
 * the same indirect jump runs the new page's code. */
static void test_remap_after_invlpg(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    protected_flat(fx, 0);
    static const uint8_t one[] = { 0xBB, 0x01, 0x00, 0x00, 0x00, 0xF4 };   /* mov ebx, 1; hlt */
    static const uint8_t two[] = { 0xBB, 0x02, 0x00, 0x00, 0x00, 0xF4 };   /* mov ebx, 2; hlt */
    load(fx, 0x6000, one, sizeof one);
    load(fx, 0x7000, two, sizeof two);
    put32(fx->ram, PT + 4 * 5, 0x6000 | P | RW | US);          /* 0x5000 -> 0x6000 */
    static const uint8_t code[] = {
        0xB8, 0x00, 0x50, 0x00, 0x00,         /* mov eax, 0x5000 */
        0xFF, 0xE0,                           /* jmp eax */
        0x0F, 0x01, 0x3D, 0x00, 0x50, 0x00, 0x00,   /* CODE + 7: invlpg [0x5000] */
        0xEB, 0xF0,                           /* jmp CODE */
    };
    load(fx, CODE, code, sizeof code);
    for (int i = 0; i < 40; i++) {            /* often enough to be translated and linked */
        cpu->rip = CODE;
        assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
        assert_int_equal(cpu->gpr[X86_RBX], 1);
    }
    put32(fx->ram, PT + 4 * 5, 0x7000 | P | RW | US);          /* 0x5000 -> 0x7000 */
    cpu->rip = CODE + 7;
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
    assert_int_equal(cpu->gpr[X86_RBX], 2);
    assert_int_equal(cpu->rip, 0x5006);
}

/* Links and jump cache entries to a block on a global page check global_gen, which a
 * MOV CR3 leaves: the code there keeps its translation as the global TLB entry does (the
 * old code runs, as test_tlb_invlpg_cr3_global's data reads see the old page), INVLPG
 * drops it; a non-global page's code is found again after a MOV CR3. Each with a direct
 * JMP (a translated exit patched by x86_jit_link) and an indirect one (the jump cache). */
static void test_code_remap_by_generation(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    static const uint8_t one[] = { 0xBB, 0x01, 0x00, 0x00, 0x00, 0xF4 };   /* mov ebx, 1; hlt */
    static const uint8_t two[] = { 0xBB, 0x02, 0x00, 0x00, 0x00, 0xF4 };   /* mov ebx, 2; hlt */
    static const uint8_t direct[] = { 0xE9, 0xFB, 0x3F, 0x00, 0x00 };      /* jmp 0x5000 */
    static const uint8_t indirect[] = {
        0xB8, 0x00, 0x50, 0x00, 0x00,         /* mov eax, 0x5000 */
        0xFF, 0xE0,                           /* jmp eax */
    };
    static const uint8_t invlpg[] = {
        0x0F, 0x01, 0x3D, 0x00, 0x50, 0x00, 0x00,   /* CODE + 16: invlpg [0x5000] */
        0xE9, 0xE4, 0xFF, 0xFF, 0xFF,               /* jmp CODE */
    };
    static const uint8_t cr3[] = {
        0x0F, 0x20, 0xD9,                     /* CODE + 16: mov ecx, cr3 */
        0x0F, 0x22, 0xD9,                     /* mov cr3, ecx */
        0xE9, 0xE5, 0xFF, 0xFF, 0xFF,         /* jmp CODE */
    };
    for (int k = 0; k < 8; k++) {
        bool global = k & 1, by_invlpg = k & 2, jump_direct = k & 4;
        protected_flat(fx, 0);
        cpu->cr4 = X86_CR4_PGE_BIT;
        x86_cpu_tlb_flush(cpu);
        load(fx, 0x6000, one, sizeof one);
        load(fx, 0x7000, two, sizeof two);
        uint32_t g = global ? X86_PTE_G : 0;
        put32(fx->ram, PT + 4 * 5, 0x6000 | P | RW | g);           /* 0x5000 -> 0x6000 */
        memset(fx->ram + CODE, 0x90, 32);
        if (jump_direct) load(fx, CODE, direct, sizeof direct);
        else load(fx, CODE, indirect, sizeof indirect);
        if (by_invlpg) load(fx, CODE + 16, invlpg, sizeof invlpg);
        else load(fx, CODE + 16, cr3, sizeof cr3);
        for (int i = 0; i < 40; i++) {        /* often enough to be translated and linked */
            cpu->rip = CODE;
            assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
            assert_int_equal(cpu->gpr[X86_RBX], 1);
        }
        put32(fx->ram, PT + 4 * 5, 0x7000 | P | RW | g);           /* 0x5000 -> 0x7000 */
        cpu->rip = CODE + 16;
        assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
        if (cpu->gpr[X86_RBX] != (global && !by_invlpg ? 1u : 2u))
            fail_msg("%s page, %s, %s jump: ran the code of %s", global ? "global" : "non-global",
                     by_invlpg ? "INVLPG" : "MOV CR3", jump_direct ? "direct" : "indirect",
                     cpu->gpr[X86_RBX] == 1 ? "the old page" : "the new page");
    }
}

/* A read through SS opens translated code's stack window only where a write may go too:
 * after a read of a read-only page (CR0.WP), the write to it next to the read still
 * faults, translated or not. */
static void test_stack_read_window_read_only_page(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    protected_flat(fx, 0);
    cpu->cr0 |= X86_CR0_WP;
    put32(fx->ram, PT + 4 * 0x60, 0x60000 | P);                 /* read-only */
    put32(fx->ram, 0x60000, 0x1234);
    cpu->gpr[X86_RBP] = 0x60000;
    static const uint8_t code[] = {
        0x8B, 0x45, 0x00,                     /* mov eax, [ebp] */
        0x89, 0x45, 0x04,                     /* mov [ebp + 4], eax */
        0xF4,
    };
    load(fx, CODE, code, sizeof code);
    for (int i = 0; i < 40; i++) {            /* often enough to be translated */
        cpu->rip = CODE;
        cpu->gpr[X86_RSP] = 0x8000;
        assert_int_equal(expect_exception(cpu, x86_cpu_run(cpu, 0), 14, X86_PF_P | X86_PF_W),
                         CODE + 3);
        assert_int_equal(get32(fx->ram, 0x60004), 0);
    }
}

/* Privileged instructions at CPL 3 are #GP(0): MOV CR, INVLPG, WBINVD, RDMSR; RDTSC only
 * with CR4.TSD (SDM Vol. 3A, 5.9). */
static void test_privileged_at_cpl3(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    static const uint8_t insns[][8] = {
        { 0x0F, 0x20, 0xC0 },                         /* mov eax, cr0 */
        { 0x0F, 0x01, 0x3D, 0x00, 0x00, 0x00, 0x00 }, /* invlpg [0] */
        { 0x0F, 0x09 },                               /* wbinvd */
        { 0x0F, 0x32 },                               /* rdmsr */
    };
    for (size_t i = 0; i < sizeof insns / sizeof insns[0]; i++) {
        protected_flat(fx, 3);
        load(fx, CODE, insns[i], sizeof insns[i]);
        cpu->rip = CODE;
        assert_int_equal(expect_exception(cpu, x86_cpu_run(cpu, 0), 13, 0), CODE);
    }
    static const uint8_t rdtsc[] = { 0x0F, 0x31, 0x0F, 0x31 };
    load(fx, CODE, rdtsc, sizeof rdtsc);
    again(fx, 3, CODE);
    assert_int_equal(x86_cpu_run(cpu, 1), X86_EXIT_BUDGET);
    cpu->cr4 = X86_CR4_TSD_BIT;
    assert_int_equal(expect_exception(cpu, x86_cpu_run(cpu, 0), 13, 0), CODE + 2);
}

/* 0F 18-1F hint NOPs and ENDBR32/64 change nothing, even with a memory operand that
 * points at no memory; VMCALL exits with its length. */
static void test_hint_nops_vmcall(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    static const uint8_t code[] = {
        0x0F, 0x18, 0x06, 0xFF, 0xFF,         /* prefetchnta [0xFFFF] */
        0x0F, 0x19, 0xC0,                     /* nop eax */
        0x0F, 0x1A, 0x00, 0x0F, 0x1B, 0x00,   /* the MPX space: NOPs here */
        0x0F, 0x1C, 0x00, 0x0F, 0x1D, 0x00,
        0xF3, 0x0F, 0x1E, 0xFB,               /* endbr32 */
        0xF3, 0x0F, 0x1E, 0xFA,               /* endbr64 */
        0x0F, 0x01, 0xC1,                     /* vmcall */
        0xF4,
    };
    load(fx, CODE, code, sizeof code);
    uint64_t before[16];
    memcpy(before, cpu->gpr, sizeof before);
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_VMCALL);
    assert_int_equal(cpu->rip, CODE + 28);
    assert_int_equal(cpu->exit.insn_len, 3);
    assert_memory_equal(before, cpu->gpr, sizeof before);
    x86_cpu_skip_instruction(cpu);
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
}

/* WRMSR of EFER validates through x86_cpu_efer_valid: SCE, LME, LMA (ignored) and NXE
 * exist; LME cannot change while paging is on (test_cpu_long.c has the activation). */
static void test_efer_valid(void **state)
{
    Fx *fx = *state;
    assert_true(x86_cpu_efer_valid(fx->cpu, 0));
    assert_true(x86_cpu_efer_valid(fx->cpu, X86_EFER_NXE_BIT));
    assert_false(x86_cpu_efer_valid(fx->cpu, ~0ull));
    assert_false(x86_cpu_efer_valid(fx->cpu, 1ull << 1));
    assert_true(x86_cpu_efer_valid(fx->cpu, X86_EFER_LME_BIT));
    assert_true(x86_cpu_efer_valid(fx->cpu, X86_EFER_SCE_BIT));
    fx->cpu->cr0 |= X86_CR0_PE | X86_CR0_PG;
    assert_false(x86_cpu_efer_valid(fx->cpu, X86_EFER_LME_BIT));
    assert_true(x86_cpu_efer_valid(fx->cpu, X86_EFER_NXE_BIT));
    fx->cpu->cr0 &= ~(uint64_t)(X86_CR0_PE | X86_CR0_PG);
}

int main(void)
{
    const struct CMUnitTest walker[] = {
        cmocka_unit_test(test_walk_32bit_4k),
        cmocka_unit_test(test_walk_permissions),
        cmocka_unit_test(test_walk_pse),
        cmocka_unit_test(test_walk_pae),
    };
    const struct CMUnitTest cpu[] = {
        cmocka_unit_test_setup_teardown(test_accessed_dirty, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_first_write_sets_dirty, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_page_fault_not_present, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_page_fault_reserved_bit, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_enter_final_esp_fault, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_page_fault_user, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_tlb_halves_by_privilege, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_code_remap_by_generation, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_stack_read_window_read_only_page, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_remap_after_invlpg, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_write_protect, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_fetch_fault, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_execute_disable, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_tlb_invlpg_cr3_global, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_invlpg_large_page, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_invlpg_global_large_after_cr3, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_mov_cr_checks, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_pdpte_reserved_gp, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_cmpxchg8b, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_sysenter_sysexit, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_privileged_at_cpl3, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_hint_nops_vmcall, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_efer_valid, setup, fx_teardown),
    };
    return cmocka_run_group_tests_name("walker", walker, NULL, NULL) |
           cmocka_run_group_tests_name("cpu", cpu, NULL, NULL);
}
