/*
 * The page walker shared by the CPU model and the monitor (see pagewalk.h). Pure: it
 * reads entries through the caller's callback and returns what it found.
 */
#include "sim/cpu/pagewalk.h"


/* Bits 51:12 of an 8-byte entry, cut at MAXPHYADDR. */
static inline uint64_t phys_mask(unsigned maxphyaddr)
{
    return ((1ull << maxphyaddr) - 1) & ~0xFFFull;
}

X86PagingMode x86_paging_mode(const X86PagingRegs *r)
{
    unsigned m = r->maxphyaddr ? r->maxphyaddr : 36;
    if (m > 52) m = 52;
    bool nxe = (r->efer & X86_EFER_NXE_BIT) != 0;
    if (r->efer & X86_EFER_LMA_BIT)
        return (X86PagingMode){4, 8, true, nxe, m};
    if (r->cr4 & X86_CR4_PAE_BIT)
        return (X86PagingMode){3, 8, true, nxe, m};
    return (X86PagingMode){2, 4, (r->cr4 & X86_CR4_PSE_BIT) != 0, false, m};
}

void x86_paging_level(const X86PagingMode *m, int level, unsigned *shift, unsigned *bits)
{
    if (m->levels == 2) {              /* PD: bits 31:22, PT: bits 21:12 */
        *shift = level ? 22 : 12;
        *bits = 10;
    } else {                           /* 9 bits a level from bit 12; PAE's PDPT has 2 */
        *shift = 12 + 9 * (unsigned)level;
        *bits = (m->levels == 3 && level == 2) ? 2 : 9;
    }
}

uint64_t x86_paging_root(const X86PagingMode *m, uint64_t cr3)
{
    if (m->levels == 3) return cr3 & 0xFFFFFFE0ull;   /* SDM 4.4.1: CR3 bits 31:5 */
    if (m->levels == 2) return cr3 & 0xFFFFF000ull;
    return cr3 & phys_mask(m->maxphyaddr);
}

uint64_t x86_pdpte_reserved(unsigned maxphyaddr)
{
    return ~((1ull << maxphyaddr) - 1) | 0x1E6ull;   /* 63:M, 8:5, 2:1 */
}

int x86_pte_decode(const X86PagingMode *m, int level, uint64_t e, uint64_t *addr,
                   uint64_t *size)
{
    if (!(e & X86_PTE_P)) return X86_PTE_NOT_PRESENT;
    unsigned shift, bits;
    x86_paging_level(m, level, &shift, &bits);
    if (m->levels == 2) {
        /* 32-bit paging (SDM 4.3): no reserved bits except in a 4 MiB PDE, where bits
         * 20:13 hold physical-address bits 39:32 up to MAXPHYADDR (PSE-36) and the rest
         * of 21:13 is reserved. */
        if (level == 1 && m->pse && (e & X86_PTE_PS)) {
            unsigned high = (m->maxphyaddr < 40 ? m->maxphyaddr : 40) - 32;
            uint64_t rsvd = (0x1FFull << 13) & ~(((1ull << high) - 1) << 13);
            if (e & rsvd) return X86_PTE_RESERVED;
            *addr = (e & 0xFFC00000ull) | (((e >> 13) & ((1ull << high) - 1)) << 32);
            *size = 1ull << 22;
            return X86_PTE_LEAF;
        }
        *addr = e & 0xFFFFF000ull;
        *size = 4096;
        return level ? X86_PTE_TABLE : X86_PTE_LEAF;
    }
    uint64_t pm = phys_mask(m->maxphyaddr);
    uint64_t rsvd;
    if (m->levels == 3 && level == 2) {
        rsvd = x86_pdpte_reserved(m->maxphyaddr);         /* PAE PDPTE (Table 4-8) */
    } else if (m->levels == 3) {
        rsvd = ~((1ull << m->maxphyaddr) - 1) & ~X86_PTE_XD;   /* PAE PDE/PTE: 62:M */
    } else {
        rsvd = ((1ull << 52) - 1) & ~((1ull << m->maxphyaddr) - 1);   /* IA-32e: 51:M */
        if (level == 3) rsvd |= X86_PTE_PS;               /* PML4E bit 7 */
    }
    if (!m->nxe && !(m->levels == 3 && level == 2)) rsvd |= X86_PTE_XD;
    if (e & rsvd) return X86_PTE_RESERVED;
    bool pdpte_pae = m->levels == 3 && level == 2;
    bool large = level > 0 && level < 3 && !pdpte_pae && (e & X86_PTE_PS);
    if (large) {
        /* 2 MiB / 1 GiB pages: the frame's low bits 20:13 / 29:13 are reserved (bit 12
         * is PAT). */
        uint64_t low = ((1ull << shift) - 1) & ~0x1FFFull;
        if (e & low) return X86_PTE_RESERVED;
        *addr = e & pm & ~((1ull << shift) - 1);
        *size = 1ull << shift;
        return X86_PTE_LEAF;
    }
    *addr = e & pm;
    *size = 4096;
    return level ? X86_PTE_TABLE : X86_PTE_LEAF;
}

int x86_page_walk(const X86PagingRegs *r, uint64_t lin, X86PteReadFn read, void *opaque,
                  X86Walk *w)
{
    *w = (X86Walk){ .writable = true, .user = true };
    if (!x86_paging_enabled(r)) {
        w->gpa = lin;
        w->page_size = 4096;
        return X86_WALK_OK;
    }
    X86PagingMode m = x86_paging_mode(r);
    if (m.levels < 4) lin &= 0xFFFFFFFFull;
    uint64_t table = x86_paging_root(&m, r->cr3);
    for (int level = m.levels - 1; level >= 0; level--) {
        unsigned shift, bits;
        x86_paging_level(&m, level, &shift, &bits);
        uint64_t index = (lin >> shift) & ((1ull << bits) - 1);
        uint64_t e, egpa = table + index * m.entry_size;
        bool pdpte_pae = m.levels == 3 && level == 2;
        if (pdpte_pae && r->pdpte) {
            e = r->pdpte[index];
            egpa = ~0ull;
        } else if (!read(opaque, egpa, m.entry_size, &e)) {
            return X86_WALK_NO_MEMORY;
        }
        w->entry[w->levels] = e;
        w->entry_gpa[w->levels] = egpa;
        w->levels++;
        uint64_t addr, size;
        int kind = x86_pte_decode(&m, level, e, &addr, &size);
        if (kind == X86_PTE_NOT_PRESENT || kind == X86_PTE_RESERVED) {
            w->error = kind == X86_PTE_RESERVED ? (X86_PF_P | X86_PF_RSVD) : 0;
            return X86_WALK_FAULT;
        }
        /* PAE PDPTEs have no R/W, U/S or XD bits (SDM 4.4.1): they do not restrict. */
        if (!pdpte_pae) {
            if (!(e & X86_PTE_RW)) w->writable = false;
            if (!(e & X86_PTE_US)) w->user = false;
            if (m.nxe && (e & X86_PTE_XD)) w->xd = true;
        }
        if (kind == X86_PTE_LEAF) {
            w->gpa = addr | (lin & (size - 1));
            w->page_size = size;
            return X86_WALK_OK;
        }
        table = addr;
    }
    return X86_WALK_FAULT;   /* not reached: level 0 entries are leaves */
}

uint32_t x86_page_access_bits(const X86PagingRegs *r, unsigned access, bool user)
{
    uint32_t err = 0;
    if (access & X86_ACCESS_WRITE) err |= X86_PF_W;
    if (user) err |= X86_PF_U;
    /* I/D is reported only when execute-disable exists for the access (SDM 4.7). */
    if ((access & X86_ACCESS_EXEC) && (r->efer & X86_EFER_NXE_BIT)) err |= X86_PF_I;
    return err;
}

/* SDM Vol. 3A, 4.6.1: user-mode accesses need U/S at every level (and R/W for writes);
 * supervisor writes need R/W only with CR0.WP; fetches from an XD page fault in both
 * modes. No SMEP/SMAP/PKE (CPUID does not claim them). */
uint32_t x86_page_check(const X86PagingRegs *r, const X86Walk *w, unsigned access, bool user)
{
    bool ok = true;
    if (user && !w->user) ok = false;
    if (access & X86_ACCESS_WRITE) {
        if (user ? !w->writable : ((r->cr0 & X86_CR0_WP) && !w->writable)) ok = false;
    }
    if ((access & X86_ACCESS_EXEC) && w->xd) ok = false;
    return ok ? 0 : (X86_PF_P | x86_page_access_bits(r, access, user));
}
