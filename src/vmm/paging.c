/* Walks of the guest's page tables for the VMM (see paging.h). */
#include <errno.h>
#include <string.h>

#include "vmm/paging.h"
#include "sim/cpu/pagewalk.h"

/* The monitor reads entries with the CPU model's own rules (src/sim/cpu/pagewalk.c: mode,
 * level geometry, entry decoding, reserved bits), so `x`, `info mem` and `info tlb` see
 * exactly the mappings the sim CPU uses. The physical-address width is taken as 52 (the
 * architectural maximum): the monitor also reads the tables of a KVM guest, whose
 * MAXPHYADDR is the host's. */
#define MONITOR_MAXPHYADDR 52

bool paging_long_mode(const KvmSregs *s) { return (s->efer & X86_EFER_LMA_BIT) != 0; }

static X86PagingRegs paging_regs(const KvmSregs *s)
{
    return (X86PagingRegs){.cr0 = s->cr0, .cr3 = s->cr3, .cr4 = s->cr4, .efer = s->efer,
                           .pdpte = NULL, .maxphyaddr = MONITOR_MAXPHYADDR};
}

/* Table entries through the bounds-checked guest-physical accessor: an entry no memory
 * slot backs reads as absent. */
static bool read_entry(void *opaque, uint64_t gpa, unsigned size, uint64_t *e)
{
    const uint8_t *p = kvm_guest_ptr(opaque, gpa, size);
    if (!p)
        return false;
    *e = 0;
    memcpy(e, p, size);
    return true;
}

static uint64_t canonical(const X86PagingMode *m, uint64_t va)
{
    if (m->levels == 4 && (va & (1ull << 47)))
        va |= 0xFFFF000000000000ull;
    return va;
}

/* One walk of the tables: its bounds and where it is. A guest's tables are guest input:
 * an entry may point back at a table on its own path (a PML4 whose entries point at the
 * PML4 is a 512^4-leaf tree) or many entries at one table, so the walk is bounded
 * (issue 15, item 3). */
typedef struct {
    KvmVm *vm;
    X86PagingMode m;
    PagingLeafFn fn;
    void *opaque;
    uint64_t path[4];     /* the tables from the root down to the one being walked */
    unsigned tables;      /* tables walked so far */
} PagingWalk;

static int walk_level(PagingWalk *w, int level, uint64_t table, uint64_t va_base, uint64_t prot)
{
    const X86PagingMode *m = &w->m;
    int depth = m->levels - 1 - level;
    /* A table already on the path (a recursive entry) maps the tables themselves: not
     * walked again, or the walk would be exponential. */
    for (int d = 0; d < depth; d++)
        if (w->path[d] == table)
            return 0;
    if (++w->tables > PAGING_WALK_MAX_TABLES)
        return -E2BIG;
    w->path[depth] = table;
    unsigned shift, bits;
    x86_paging_level(m, level, &shift, &bits);
    for (uint64_t i = 0; i < (1ull << bits); i++) {
        uint64_t e, addr, size;
        if (!read_entry(w->vm, table + i * m->entry_size, m->entry_size, &e))
            continue;
        int kind = x86_pte_decode(m, level, e, &addr, &size);
        if (kind != X86_PTE_TABLE && kind != X86_PTE_LEAF)
            continue;          /* not present, or a reserved bit: no translation */
        uint64_t va = va_base | (i << shift);
        /* PAE's PDPTEs have no RW/US/XD bits: they do not restrict. */
        bool pdpte_pae = m->levels == 3 && level == 2;
        uint64_t p = pdpte_pae ? prot : (prot & (e | ~(PTE_RW | PTE_US)));
        if (!pdpte_pae && m->nxe && (e & PTE_NX))
            p |= PTE_NX;
        int r;
        if (kind == X86_PTE_LEAF)
            r = w->fn(w->opaque, canonical(m, va), size, e, addr, p);
        else
            r = walk_level(w, level - 1, addr, va, p);
        if (r)
            return r;
    }
    return 0;
}

int paging_walk(KvmVm *vm, const KvmSregs *s, PagingLeafFn fn, void *opaque)
{
    if (!(s->cr0 & X86_CR0_PG_BIT))
        return -EINVAL;
    X86PagingRegs r = paging_regs(s);
    PagingWalk w = {.vm = vm, .m = x86_paging_mode(&r), .fn = fn, .opaque = opaque};
    return walk_level(&w, w.m.levels - 1, x86_paging_root(&w.m, s->cr3), 0,
                      PTE_P | PTE_RW | PTE_US);
}

/* One address: the CPU model's walk itself (x86_page_walk). */
int paging_translate(KvmVm *vm, const KvmSregs *s, uint64_t va, uint64_t *gpa)
{
    X86PagingRegs r = paging_regs(s);
    X86Walk w;
    if (x86_page_walk(&r, va, read_entry, vm, &w) != X86_WALK_OK)
        return -EFAULT;
    *gpa = w.gpa;
    return 0;
}
