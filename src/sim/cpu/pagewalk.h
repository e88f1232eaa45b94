/*
 * The one page walker: linear -> guest-physical through the guest's own page tables, for
 * the CPU model (mmu.c, with its TLB, A/D bits and #PF) and for the VMM's monitor
 * (src/vmm/paging.c: x, info mem, info tlb). It is a pure function of the paging
 * registers and of what a caller-supplied callback reads from guest-physical memory: it
 * writes nothing (the CPU sets accessed/dirty bits itself from the entry addresses the
 * walk returns) and keeps no state.
 *
 * Modes (SDM Vol. 3A, 4.1): 32-bit paging (2 levels; 4 MiB pages with CR4.PSE, PSE-36
 * address bits up to MAXPHYADDR), PAE paging (PDPTE registers, then 2 levels of 8-byte
 * entries, 2 MiB pages, XD with EFER.NXE) and, for the monitor only, 4-level IA-32e
 * paging (EFER.LMA). Reserved-bit checks follow SDM Vol. 3A 4.3 / 4.4.2 / 4.5.4.
 */
#ifndef SCRATCHVM_SIM_CPU_PAGEWALK_H
#define SCRATCHVM_SIM_CPU_PAGEWALK_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/cpu/cpu.h"   /* X86_CR0_*, X86_CR4_*, X86_EFER_*, X86_ACCESS_* */

/* Paging-structure entry bits (SDM Vol. 3A, 4.3 Tables 4-4..4-10, 4.4.2, 4.5.4). */
#define X86_PTE_P    (1ull << 0)
#define X86_PTE_RW   (1ull << 1)
#define X86_PTE_US   (1ull << 2)
#define X86_PTE_PWT  (1ull << 3)
#define X86_PTE_PCD  (1ull << 4)
#define X86_PTE_A    (1ull << 5)
#define X86_PTE_D    (1ull << 6)
#define X86_PTE_PS   (1ull << 7)
#define X86_PTE_G    (1ull << 8)
#define X86_PTE_XD   (1ull << 63)

/* #PF error code bits (SDM Vol. 3A, 4.7, Figure 4-12). */
#define X86_PF_P    (1u << 0)   /* 0: not present; 1: protection (or reserved bit) */
#define X86_PF_W    (1u << 1)   /* the access was a write */
#define X86_PF_U    (1u << 2)   /* the access was a user-mode access */
#define X86_PF_RSVD (1u << 3)   /* a reserved bit was set in a paging-structure entry */
#define X86_PF_I    (1u << 4)   /* the access was an instruction fetch (NXE = 1 only) */

/* What the walk needs of the CPU. pdpte: PAE's four PDPTE registers as the CPU loaded
 * them (SDM Vol. 3A, 4.4.1), or NULL to read them from CR3 in memory (the monitor, which
 * sees no PDPTE registers). maxphyaddr: physical-address width (bits above it in an entry
 * are reserved). */
typedef struct X86PagingRegs {
    uint64_t cr0, cr3, cr4, efer;
    const uint64_t *pdpte;
    unsigned maxphyaddr;
} X86PagingRegs;

/* Reads the little-endian entry of `size` bytes (4 or 8) at guest-physical `gpa`;
 * returns false when no memory backs it. */
typedef bool (*X86PteReadFn)(void *opaque, uint64_t gpa, unsigned size, uint64_t *value);

/* The result of one walk. On X86_WALK_OK: gpa, page_size, the permissions in force
 * (writable: R/W set at every level; user: U/S set at every level; xd: XD set at some
 * level with NXE) and every entry used, root first, with its guest-physical address (PAE
 * PDPTE registers have entry_gpa ~0: they are not in memory when the CPU uses them).
 * On X86_WALK_FAULT: error has X86_PF_P|X86_PF_RSVD for a reserved bit, 0 for an entry
 * that is not present; entries[] holds those read so far. */
typedef struct X86Walk {
    uint64_t gpa;
    uint64_t page_size;
    unsigned levels;
    uint64_t entry[4];
    uint64_t entry_gpa[4];
    bool writable, user, xd;
    uint32_t error;
} X86Walk;

enum { X86_WALK_OK = 0, X86_WALK_FAULT = 1, X86_WALK_NO_MEMORY = 2 };

/* The geometry and entry rules of one paging mode, shared by the single walk below and
 * the monitor's walk over every leaf (src/vmm/paging.c), so both read entries alike. */
typedef struct X86PagingMode {
    int levels;            /* 2 (32-bit), 3 (PAE), 4 (IA-32e) */
    unsigned entry_size;   /* 4 or 8 */
    bool pse;              /* 32-bit paging: CR4.PSE (4 MiB pages) */
    bool nxe;              /* EFER.NXE (XD bit is defined; else reserved) */
    unsigned maxphyaddr;
} X86PagingMode;

/* How an entry is used at a level (level 0 is the page table, levels-1 the root). */
enum { X86_PTE_NOT_PRESENT = 0, X86_PTE_TABLE, X86_PTE_LEAF, X86_PTE_RESERVED };

X86PagingMode x86_paging_mode(const X86PagingRegs *r);
/* The linear-address bits a level translates: index = (lin >> shift) & ((1 << bits) - 1). */
void x86_paging_level(const X86PagingMode *m, int level, unsigned *shift, unsigned *bits);
/* Guest-physical address of the root table (PAE: the 32-byte aligned PDPT). */
uint64_t x86_paging_root(const X86PagingMode *m, uint64_t cr3);
/* Decodes entry `e` at `level`: X86_PTE_TABLE with *addr = the next table, X86_PTE_LEAF
 * with *addr = the page frame and *size its size, X86_PTE_NOT_PRESENT or
 * X86_PTE_RESERVED (a reserved bit is set). PAE PDPTEs (level 2 of 3) are decoded here
 * too. */
int x86_pte_decode(const X86PagingMode *m, int level, uint64_t e, uint64_t *addr,
                   uint64_t *size);

/* Whether the registers enable paging at all (CR0.PG). */
static inline bool x86_paging_enabled(const X86PagingRegs *r)
{
    return (r->cr0 & X86_CR0_PG) != 0;
}

/* Translates `lin` (truncated to 32 bits outside IA-32e mode). Returns X86_WALK_OK,
 * X86_WALK_FAULT (w->error as above) or X86_WALK_NO_MEMORY (a table entry that `read`
 * could not read). With paging off, gpa = lin with every permission. */
int x86_page_walk(const X86PagingRegs *r, uint64_t lin, X86PteReadFn read, void *opaque,
                  X86Walk *w);

/* The access check of SDM Vol. 3A, 4.6 on a successful walk: `access` is X86_ACCESS_READ,
 * _WRITE or _EXEC (cpu.h values 1, 2, 4), `user` whether it is a user-mode access (CPL 3
 * and not an implicit supervisor access). Returns 0 when allowed, else the #PF error code
 * (P set, with W/U/I describing the access). */
uint32_t x86_page_check(const X86PagingRegs *r, const X86Walk *w, unsigned access, bool user);

/* The #PF error code bits that describe an access (W, U, and I when NXE is on). */
uint32_t x86_page_access_bits(const X86PagingRegs *r, unsigned access, bool user);

/* PAE's PDPTE reserved bits (SDM Vol. 3A, 4.4.1, Table 4-8): 2:1, 8:5, 63:maxphyaddr. */
uint64_t x86_pdpte_reserved(unsigned maxphyaddr);

#endif
