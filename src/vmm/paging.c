/* Walks of the guest's page tables for the VMM (see paging.h). */
#include <errno.h>
#include <string.h>

#include "vmm/paging.h"

#define ADDR_MASK_64 0x000FFFFFFFFFF000ull   /* bits 51:12 of a PAE / IA-32e entry */

typedef struct {
    int levels;           /* 2 (32-bit), 3 (PAE), 4 (IA-32e) */
    unsigned entry_size;  /* 4 or 8 */
    bool large_pages;     /* PS is honoured above level 0 (32-bit paging: CR4.PSE) */
} PagingMode;

bool paging_long_mode(const KvmSregs *s) { return (s->efer & X86_EFER_LMA) != 0; }

static PagingMode paging_mode(const KvmSregs *s)
{
    if (s->efer & X86_EFER_LMA)
        return (PagingMode){4, 8, true};
    if (s->cr4 & X86_CR4_PAE_BIT)
        return (PagingMode){3, 8, true};
    return (PagingMode){2, 4, (s->cr4 & X86_CR4_PSE_BIT) != 0};
}

/* Bits of the virtual address each level translates: the index shift and width. */
static void level_geometry(PagingMode m, int level, unsigned *shift, unsigned *bits)
{
    if (m.levels == 2) {              /* level 1: PD (bits 31:22), 0: PT (21:12) */
        *shift = level ? 22 : 12;
        *bits = 10;
    } else {                          /* 9 bits a level from 12; PAE's PDPT has 2 */
        *shift = 12 + 9 * (unsigned)level;
        *bits = (m.levels == 3 && level == 2) ? 2 : 9;
    }
}

static bool read_entry(KvmVm *vm, PagingMode m, uint64_t gpa, uint64_t *e)
{
    const uint8_t *p = kvm_guest_ptr(vm, gpa, m.entry_size);
    if (!p)
        return false;
    *e = 0;
    memcpy(e, p, m.entry_size);
    return true;
}

static uint64_t table_address(PagingMode m, uint64_t e)
{
    return m.entry_size == 4 ? (e & 0xFFFFF000ull) : (e & ADDR_MASK_64);
}

/* A large leaf's frame: 4 MiB pages of 32-bit paging keep address bits 39:32 in 20:13
 * (PSE-36); larger PAE / IA-32e pages keep the frame in bits 51:12, PAT in bit 12. */
static uint64_t leaf_frame(PagingMode m, uint64_t e, uint64_t size)
{
    if (size == 4096)
        return table_address(m, e);
    if (m.entry_size == 4)
        return (e & 0xFFC00000ull) | ((e & 0x1FE000ull) << 19);
    return e & ADDR_MASK_64 & ~(size - 1);
}

static uint64_t canonical(PagingMode m, uint64_t va)
{
    if (m.levels == 4 && (va & (1ull << 47)))
        va |= 0xFFFF000000000000ull;
    return va;
}

/* One walk of the tables: its bounds and where it is. A guest's tables are guest input:
 * an entry may point back at a table on its own path (a PML4 whose entries point at the
 * PML4 is a 512^4-leaf tree) or many entries at one table, so the walk is bounded
 * (issue 15, item 3). */
typedef struct {
    KvmVm *vm;
    PagingMode m;
    PagingLeafFn fn;
    void *opaque;
    uint64_t path[4];     /* the tables from the root down to the one being walked */
    unsigned tables;      /* tables walked so far */
} PagingWalk;

static int walk_level(PagingWalk *w, int level, uint64_t table, uint64_t va_base, uint64_t prot)
{
    PagingMode m = w->m;
    int depth = m.levels - 1 - level;
    /* A table already on the path (a recursive entry) maps the tables themselves: not
     * walked again, or the walk would be exponential. */
    for (int d = 0; d < depth; d++)
        if (w->path[d] == table)
            return 0;
    if (++w->tables > PAGING_WALK_MAX_TABLES)
        return -E2BIG;
    w->path[depth] = table;
    unsigned shift, bits;
    level_geometry(m, level, &shift, &bits);
    for (uint64_t i = 0; i < (1ull << bits); i++) {
        uint64_t e;
        if (!read_entry(w->vm, m, table + i * m.entry_size, &e) || !(e & PTE_P))
            continue;
        uint64_t va = va_base | (i << shift);
        /* PAE's PDPTEs have no RW/US bits: they do not restrict. */
        bool pdpte_pae = m.levels == 3 && level == 2;
        uint64_t p = pdpte_pae ? prot : (prot & (e | ~(PTE_RW | PTE_US)));
        if (m.entry_size == 8 && (e & PTE_NX))
            p |= PTE_NX;
        /* PS means a large page in a PDE, and in a PDPTE of IA-32e paging (1 GiB). */
        bool large = level > 0 && level < 3 && !pdpte_pae && m.large_pages && (e & PTE_PS);
        int r;
        if (level == 0 || large)
            r = w->fn(w->opaque, canonical(m, va), 1ull << shift, e, leaf_frame(m, e, 1ull << shift), p);
        else
            r = walk_level(w, level - 1, table_address(m, e), va, p);
        if (r)
            return r;
    }
    return 0;
}

/* CR3: the page directory (32-bit), the 32-byte aligned PDPT (PAE) or the PML4. */
static uint64_t root_table(PagingMode m, const KvmSregs *s)
{
    if (m.levels == 3)
        return s->cr3 & 0xFFFFFFE0ull;
    return m.levels == 2 ? s->cr3 & 0xFFFFF000ull : s->cr3 & ADDR_MASK_64;
}

int paging_walk(KvmVm *vm, const KvmSregs *s, PagingLeafFn fn, void *opaque)
{
    if (!(s->cr0 & X86_CR0_PG_BIT))
        return -EINVAL;
    PagingWalk w = {.vm = vm, .m = paging_mode(s), .fn = fn, .opaque = opaque};
    return walk_level(&w, w.m.levels - 1, root_table(w.m, s), 0, PTE_P | PTE_RW | PTE_US);
}

int paging_translate(KvmVm *vm, const KvmSregs *s, uint64_t va, uint64_t *gpa)
{
    if (!(s->cr0 & X86_CR0_PG_BIT)) {
        *gpa = va;
        return 0;
    }
    PagingMode m = paging_mode(s);
    if (m.levels < 4)
        va &= 0xFFFFFFFFull;
    uint64_t table = root_table(m, s);
    for (int level = m.levels - 1; level >= 0; level--) {
        unsigned shift, bits;
        level_geometry(m, level, &shift, &bits);
        uint64_t index = (va >> shift) & ((1ull << bits) - 1);
        uint64_t e;
        if (!read_entry(vm, m, table + index * m.entry_size, &e) || !(e & PTE_P))
            return -EFAULT;
        bool pdpte_pae = m.levels == 3 && level == 2;
        if (level == 0 || (level < 3 && !pdpte_pae && m.large_pages && (e & PTE_PS))) {
            uint64_t size = 1ull << shift;
            *gpa = leaf_frame(m, e, size) | (va & (size - 1));
            return 0;
        }
        table = table_address(m, e);
    }
    return -EFAULT;
}
