/*
 * The guest's own page tables, read by the VMM (monitor: x, info mem, info tlb; step's
 * look at the next instruction). Legacy 32-bit paging (with CR4.PSE 4 MiB pages), PAE and
 * 4-level IA-32e paging (SDM Vol. 3A, chapter "Paging"). Tables are read through
 * kvm_guest_ptr, bounds-checked: an entry no memory slot backs reads as not present.
 */
#ifndef SCRATCHVM_VMM_PAGING_H
#define SCRATCHVM_VMM_PAGING_H

#include "hypervisor_sim.h"

/* Page-table entry bits (SDM Vol. 3A, "Paging", tables of entry formats). */
#define PTE_P   (1ull << 0)
#define PTE_RW  (1ull << 1)
#define PTE_US  (1ull << 2)
#define PTE_PWT (1ull << 3)
#define PTE_PCD (1ull << 4)
#define PTE_A   (1ull << 5)
#define PTE_D   (1ull << 6)
#define PTE_PS  (1ull << 7)
#define PTE_G   (1ull << 8)
#define PTE_NX  (1ull << 63)

#define X86_CR0_PG_BIT  (1ull << 31)

/* One leaf of the tables: virtual address (canonical), size, the leaf entry, the physical
 * frame it maps and the permissions in force (P, RW and US ANDed down the walk, NX ORed).
 * Return non-zero to stop the walk. */
typedef int (*PagingLeafFn)(void *opaque, uint64_t va, uint64_t size, uint64_t pte,
                            uint64_t frame, uint64_t prot);

/* At most this many tables are walked (repeats count): 8 GiB of 4 KiB pages, a few
 * milliseconds; a self-referencing or absurdly aliased set of tables stops there. */
#define PAGING_WALK_MAX_TABLES 4096u

/* Every present leaf, in address order. A table that is already on the path to an entry
 * (a recursive mapping) is not walked again: its virtual range is left out. 0, -E2BIG once
 * PAGING_WALK_MAX_TABLES tables were walked (the leaves so far were given), or what fn
 * returned. */
int paging_walk(KvmVm *vm, const KvmSregs *s, PagingLeafFn fn, void *opaque);
/* Linear → guest-physical; identity when paging is off. -EFAULT when not mapped. */
int paging_translate(KvmVm *vm, const KvmSregs *s, uint64_t va, uint64_t *gpa);
/* Whether the guest is in IA-32e mode (EFER.LMA) and whether CS is a 64-bit segment. */
bool paging_long_mode(const KvmSregs *s);

#endif
