/*
 * Guest memory: segment -> linear -> physical -> host, through one path.
 *
 * x86_linear() (inline in cpu_internal.h) applies the segment; the TLB maps linear pages
 * to host pages for RAM with the permissions of the walk; everything else comes here:
 * guest paging (CR0.PG: the walker of pagewalk.c, #PF, accessed/dirty bits) gives the
 * guest-physical address, then page_fn goes through the EPT to host memory. Accesses that are not RAM leave the guest as MMIO exits:
 * - a read exits with RIP at the instruction and no side effects; x86_cpu_complete_mmio
 *   records the value and the instruction is re-executed, taking it from the replay log;
 * - a write completes the instruction and exits after it; when one instruction writes MMIO
 *   several times (PUSHA, INT with the stack in MMIO), each following x86_cpu_run reports
 *   the next write without executing anything. A read after a write in one instruction is
 *   an UNIMPLEMENTED exit (re-executing would repeat the writes).
 * An access that straddles two pages is split at the page boundary as the hardware splits
 * it (and KVM's emulator, which gives user space one MMIO exit per fragment): the part on
 * a RAM page goes to RAM, the part on a page that is not RAM is an MMIO access of its own
 * size (1 to 3 bytes of a 4-byte access) at its own guest-physical address.
 */
#include <stdio.h>
#include <string.h>

#include "sim/cpu/cpu_internal.h"

/* The accesses the inline fast path leaves here (SDM Vol. 3A, 5.3-5.5): in protected mode
 * an unusable (null) segment, a write to code or read-only data, or a read of
 * execute-only code is #GP(0) (#SS(0) through SS); real mode has no type checks (a write
 * through CS works). Then the limit: expand-down data segments allow offsets limit+1 ..
 * 0xFFFF or 0xFFFFFFFF by D/B (3.4.5.1), every other segment 0 .. limit. */
uint64_t x86_linear_slow(X86Cpu *cpu, int seg, uint64_t off, unsigned size, unsigned access)
{
    const X86Segment *s = &cpu->seg[seg];
    uint32_t a = s->attr;
    if (cpu->mode == X86_MODE_LONG64) {
        /* 64-bit mode (SDM Vol. 3A, 3.2.4 and 5.3.1): no limit or type checks, the base of
         * FS and GS only, and a non-canonical address is #GP(0), #SS(0) through SS. */
        uint64_t lin = (seg == X86_FS || seg == X86_GS) ? s->base + off : off;
        if (UNLIKELY(!x86_canonical(lin) || !x86_canonical(lin + size - 1)))
            x86_limit_fault(cpu, seg);
        return lin;
    }
    if (x86_pm(cpu)) {
        if (a & X86_AR_UNUSABLE) x86_limit_fault(cpu, seg);
        if (access == X86_ACCESS_WRITE) {
            if ((a & (X86_SEG_CODE | X86_SEG_WRITABLE)) != X86_SEG_WRITABLE)
                x86_limit_fault(cpu, seg);
        } else if (access == X86_ACCESS_READ) {
            if ((a & (X86_SEG_CODE | X86_SEG_WRITABLE)) == X86_SEG_CODE)
                x86_limit_fault(cpu, seg);
        }
    }
    bool expand_down = (a & X86_AR_S) && !(a & X86_SEG_CODE) && (a & X86_SEG_EXPDOWN);
    if (expand_down) {
        uint64_t top = (a & X86_AR_DB) ? 0xFFFFFFFFull : 0xFFFFull;
        if ((uint64_t)off > s->limit && (uint64_t)off + size - 1 <= top)
            return (uint32_t)(s->base + off);
    } else if ((uint64_t)off + size - 1 <= s->limit) {
        return (uint32_t)(s->base + off);
    }
    x86_limit_fault(cpu, seg);
}

/* A segment violation: #GP(0), or #SS(0) through SS (SDM Vol. 3A, 6.15 "Interrupt 12"
 * and "Interrupt 13"; real mode: 21.1.3). */
void x86_limit_fault(X86Cpu *cpu, int seg)
{
    x86_fault(cpu, seg == X86_SS ? X86_EXC_SS : X86_EXC_GP, true, 0);
}

/* ---------------------------------------------------------------------------------- */
/* Paging: linear -> guest-physical (SDM Vol. 3A, chapter 4), then EPT in page_fn        */
/* ---------------------------------------------------------------------------------- */

/* Page-table entries are read from guest-physical memory through page_fn, i.e. through
 * the EPT, as the hardware's walk is (SDM Vol. 3C, 29.3.2: guest paging-structure
 * accesses are guest-physical accesses). Entries are naturally aligned: never straddle. */
static bool pte_read(void *opaque, uint64_t gpa, unsigned size, uint64_t *value)
{
    X86Cpu *cpu = opaque;
    /* (alignment keeps an entry on its page; page_bytes makes that a check, not a
     * promise of the walker's) */
    const uint8_t *h = page_bytes(cpu->page_fn(cpu->page_opaque, gpa & ~0xFFFull, X86_ACCESS_READ),
                                  gpa & 0xFFF, size);
    if (!h || (size != 4 && size != 8)) return false;
    /* constant sizes: inline loads, not a libc call per entry */
    if (size == 8) {
        memcpy(value, h, 8);
    } else {
        uint32_t v;
        memcpy(&v, h, 4);
        *value = v;
    }
    return true;
}

static inline X86PagingRegs paging_regs(const X86Cpu *cpu)
{
    return (X86PagingRegs){
        .cr0 = cpu->cr0, .cr3 = cpu->cr3, .cr4 = cpu->cr4, .efer = cpu->efer,
        .pdpte = cpu->pdpte_loaded ? cpu->pdpte : NULL, .maxphyaddr = X86_MAXPHYADDR,
    };
}

/* Sets A in every entry the walk used and, for a write, D in the leaf (SDM Vol. 3A,
 * 4.8), once the access is known to be allowed. The update goes through the EPT with
 * write access (dirty logging sees it); a table that is not writable RAM keeps its bits
 * (a documented simplification: hardware would take an EPT violation). */
static void set_accessed_dirty(X86Cpu *cpu, X86Walk *w, unsigned access, unsigned entry_size)
{
    bool pae = entry_size == 8;
    for (unsigned i = 0; i < w->levels; i++) {
        /* PAE PDPTEs have no accessed bit: bits 8:5 are reserved (SDM 4.4.1); IA-32e
         * paging's root (PML4E) has one */
        if (pae && i == 0 && !x86_lma(cpu)) continue;
        uint64_t need = X86_PTE_A;
        if (i == w->levels - 1 && (access & X86_ACCESS_WRITE)) need |= X86_PTE_D;
        if (w->entry_gpa[i] == ~0ull || (w->entry[i] & need) == need) continue;
        uint64_t gpa = w->entry_gpa[i];
        uint8_t *h = page_bytes(cpu->page_fn(cpu->page_opaque, gpa & ~0xFFFull, X86_ACCESS_WRITE),
                                gpa & 0xFFF, entry_size);
        if (!h) continue;
        w->entry[i] |= need;
        if (pae) {
            memcpy(h, &w->entry[i], 8);
        } else {
            uint32_t v = (uint32_t)w->entry[i];
            memcpy(h, &v, 4);
        }
        if (x86_page_has_code(cpu, gpa & ~0xFFFull)) x86_invalidate_range(cpu, gpa, entry_size);
    }
}

/* Whether this access is a user-mode one (SDM Vol. 3A, 4.6: CPL 3, except implicit
 * supervisor accesses such as descriptor-table and TSS reads). */
static inline bool user_access(const X86Cpu *cpu)
{
    return x86_cpl(cpu) == 3 && !cpu->implicit_supervisor;
}

/* Translates `lin` for `access` with paging on. Returns true (w filled, A/D set), or false
 * with *err the #PF error code (which may be 0: a supervisor read of a page that is not
 * present), or X86_PF_NO_MEMORY when a table entry is not in RAM. */
static bool x86_translate(X86Cpu *cpu, uint64_t lin, unsigned access, bool user, X86Walk *w,
                          uint32_t *err)
{
    /* PDPTE registers not loaded since the host set CR3/CR4 (KVM loads them at
     * KVM_SET_SREGS): load them now; if that fails the walk reads them from memory. */
    if ((cpu->cr4 & X86_CR4_PAE_BIT) && !cpu->pdpte_loaded && !x86_lma(cpu))
        x86_load_pdptes(cpu, cpu->cr3);
    X86PagingRegs r = paging_regs(cpu);
    int st = x86_page_walk(&r, lin, pte_read, cpu, w);
    if (st == X86_WALK_NO_MEMORY) {
        *err = X86_PF_NO_MEMORY;
        return false;
    }
    if (st == X86_WALK_FAULT) {
        *err = w->error | x86_page_access_bits(&r, access, user);
        return false;
    }
    *err = x86_page_check(&r, w, access, user);
    if (*err) return false;
    set_accessed_dirty(cpu, w, access, (cpu->cr4 & X86_CR4_PAE_BIT) ? 8 : 4);
    return true;
}

/* #PF: CR2 = the linear address, then the exception with its error code (SDM Vol. 3A,
 * 6.15 "Interrupt 14"). */
static NORETURN void page_fault(X86Cpu *cpu, uint64_t lin, uint32_t err)
{
    cpu->implicit_supervisor = false;
    if (err == X86_PF_NO_MEMORY) x86_unimplemented(cpu, "a page-table entry in memory that is not RAM");
    err &= ~X86_PF_REPORTED;
    cpu->cr2 = x86_lin_wrap(cpu, lin);
    x86_fault(cpu, X86_EXC_PF, true, err);
}

uint8_t *x86_probe_page(X86Cpu *cpu, uint64_t lin, unsigned access, uint64_t *gpa,
                        uint32_t *pf_error)
{
    *pf_error = 0;
    uint64_t g = lin;
    if (cpu->cr0 & X86_CR0_PG) {
        X86Walk w;
        uint32_t err;
        if (!x86_translate(cpu, lin, access, user_access(cpu), &w, &err)) {
            /* a fault with error code 0 is still a fault: report it as not-0 */
            *pf_error = err | X86_PF_REPORTED;
            return NULL;
        }
        g = w.gpa;
    }
    g &= cpu->a20_mask;   /* the A20 gate (A20M#) masks the physical address */
    *gpa = g;
    uint8_t *host = cpu->page_fn(cpu->page_opaque, g & ~0xFFFull, access);
    return host ? host + (g & 0xFFF) : NULL;
}

/* The linear page an entry holds, ~0 when it holds none. */
static inline uint64_t tlb_tag(const X86TlbEntry *e)
{
    return e->tag_read != ~0ull ? e->tag_read : e->tag_write != ~0ull ? e->tag_write : e->tag_exec;
}

static inline unsigned large_region(uint64_t lin)
{
    return (unsigned)(lin >> 21) & (X86_TLB_LARGE_BITS - 1);
}

/* Records that the TLB may hold a piece of the large page of `lin` (2^shift bytes): every
 * 2 MiB region it covers, or all of them for a page larger than 4 MiB. Only a full
 * flush (x86_cpu_tlb_invalidate) clears the record. */
static inline void tlb_note_large(X86Cpu *cpu, uint64_t lin, unsigned shift)
{
    if (shift > 22) {
        memset(cpu->tlb_large, 0xFF, sizeof cpu->tlb_large);
        return;
    }
    unsigned r = large_region(lin) & (shift == 22 ? ~1u : ~0u);   /* even: one word */
    cpu->tlb_large[r / 64] |= (shift == 22 ? 3ull : 1ull) << (r % 64);
}

/* Host page for the linear page of `lin` when RAM allows `access`, filling the TLB; NULL
 * for MMIO. A page fault is raised here. Write entries are not installed on pages that
 * hold decoded code, so writes there come back here and invalidate it. With paging, an
 * entry is tagged only for what the TLB's privilege level (cpu->tlb_user) may do, and
 * the stricter of it and this access's level: user pages are also fine for supervisor
 * accesses (no SMAP), so a tag never grants more than the walk allowed. */
static uint8_t *tlb_fill(X86Cpu *cpu, uint64_t lin, unsigned access, uint64_t *gpa_out)
{
    uint64_t vpage = lin >> 12;
    uint64_t gpa = lin;
    bool r_ok = true, w_ok = true, x_ok = true, global = false;
    uint8_t shift = 12;
    if (cpu->cr0 & X86_CR0_PG) {
        bool user = user_access(cpu);
        X86Walk w;
        uint32_t err;
        if (!x86_translate(cpu, lin, access, user, &w, &err)) page_fault(cpu, lin, err);
        gpa = w.gpa;
        bool strict_user = user || cpu->tlb_user;
        r_ok = !strict_user || w.user;
        bool writable = strict_user ? w.writable : (w.writable || !(cpu->cr0 & X86_CR0_WP));
        w_ok = r_ok && writable && (w.entry[w.levels - 1] & X86_PTE_D);
        x_ok = r_ok && !w.xd;
        shift = (uint8_t)__builtin_ctzll(w.page_size);
        global = (cpu->cr4 & X86_CR4_PGE_BIT) && (w.entry[w.levels - 1] & X86_PTE_G);
    }
    if (cpu->a20_mask != ~0ull) {
        gpa &= cpu->a20_mask;   /* A20M#: bit 20 of the physical address forced to 0 */
        shift = 12;             /* a larger TLB page would span the masked bit */
    }
    uint64_t gpage = gpa & ~0xFFFull;
    *gpa_out = gpa;
    uint8_t *host = cpu->page_fn(cpu->page_opaque, gpage, access);
    if (!host) return NULL;
    /* A page with a data breakpoint stays out of the TLB: its accesses come here. */
    if (UNLIKELY(cpu->dbg_flags & X86_DBG_DATA) && x86_debug_page_watched(cpu, vpage))
        return host;
    X86TlbEntry *e = x86_tlb_entry(cpu, lin);
    if (e->host != host || e->gpa_page != gpage ||
        (e->tag_read != vpage && e->tag_write != vpage && e->tag_exec != vpage)) {
        e->tag_read = e->tag_write = e->tag_exec = ~0ull;
        e->host = host;
        e->addend = (uintptr_t)host - (uintptr_t)(vpage << 12);
        e->gpa_page = gpage;
    }
    e->page_shift = shift;
    e->global = global;
    if (shift > 12) tlb_note_large(cpu, lin, shift);
    if (access == X86_ACCESS_READ) {
        if (r_ok) e->tag_read = vpage;
    } else if (access == X86_ACCESS_WRITE) {
        /* no fast-path writes to a page with decoded code: x86_write_slow checks them */
        if (w_ok && !x86_page_has_code(cpu, gpage)) e->tag_write = vpage;
    } else if (access == X86_ACCESS_EXEC) {
        if (x_ok) e->tag_exec = vpage;
    }
    return host;
}

uint64_t x86_fetch_gpa_slow(X86Cpu *cpu, uint64_t lin)
{
    uint64_t gpa;
    if (!tlb_fill(cpu, lin, X86_ACCESS_EXEC, &gpa))
        x86_unimplemented(cpu, "instruction fetch from memory that is not RAM");
    return gpa;
}

static void drop_if_on_page(X86TlbEntry *e, uint64_t vpage)
{
    uint64_t tag = tlb_tag(e);
    if (tag == ~0ull) return;
    unsigned s = e->page_shift > 12 ? e->page_shift - 12u : 0u;
    if ((tag >> s) == (vpage >> s)) e->tag_read = e->tag_write = e->tag_exec = ~0ull;
}

/* INVLPG (SDM Vol. 3A, 4.10.4.1): drops the TLB's entries for the page that holds
 * `lin`, global or not, including every 4 KiB piece cached of a large page. A 4 KiB
 * page can only sit at its own index in each half; the pieces of a large page can sit
 * anywhere, so a region that may hold one is searched whole. */
void x86_tlb_invalidate_page(X86Cpu *cpu, uint64_t lin)
{
    lin = x86_lin_wrap(cpu, lin);
    uint64_t vpage = lin >> 12;
    x86_links_invalidate(cpu);
    unsigned r = large_region(lin);
    if (!(cpu->tlb_large[r / 64] & (1ull << (r % 64)))) {
        unsigned i = (unsigned)vpage & (X86_TLB_SIZE - 1);
        drop_if_on_page(&cpu->tlb[i], vpage);
        drop_if_on_page(&cpu->tlb[X86_TLB_SIZE + i], vpage);
        return;
    }
    for (unsigned i = 0; i < 2 * X86_TLB_SIZE; i++) drop_if_on_page(&cpu->tlb[i], vpage);
}

/* A MOV to CR3 (SDM Vol. 3A, 4.10.4.1): every non-global entry goes. The large-page
 * regions stay marked: a superset is still correct, and recounting them from the global
 * entries at every address-space switch doubled this function's share of a Linux
 * fork/exec profile. */
void x86_tlb_flush_nonglobal(X86Cpu *cpu)
{
    cpu->chain_gen++;        /* (global_gen stays: global pages keep their translation) */
    for (unsigned i = 0; i < 2 * X86_TLB_SIZE; i++)
        if (!cpu->tlb[i].global) cpu->tlb[i].tag_read = cpu->tlb[i].tag_write = cpu->tlb[i].tag_exec = ~0ull;
}

/* Loads PAE's four PDPTE registers from CR3 (SDM Vol. 3A, 4.4.1). Returns false, and
 * changes nothing, when an entry is not in RAM or a present one has a reserved bit: the
 * MOV that loads them raises #GP(0). */
bool x86_load_pdptes(X86Cpu *cpu, uint64_t cr3)
{
    uint64_t p[4];
    uint64_t base = cr3 & 0xFFFFFFE0ull;
    for (int i = 0; i < 4; i++) {
        if (!pte_read(cpu, base + 8u * (unsigned)i, 8, &p[i])) return false;
        if ((p[i] & X86_PTE_P) && (p[i] & x86_pdpte_reserved(X86_MAXPHYADDR))) return false;
    }
    memcpy(cpu->pdpte, p, sizeof p);
    cpu->pdpte_loaded = true;
    return true;
}

/* Host pointer of [lin, lin + size) on one page of RAM; raises a page fault, NULL for
 * memory that is not RAM. */
uint8_t *x86_ram_ptr(X86Cpu *cpu, uint64_t lin, unsigned size, unsigned access)
{
    uint64_t gpa;
    if ((lin & 0xFFF) + size > 4096) return NULL;
    if (UNLIKELY(cpu->dbg_flags & X86_DBG_DATA) && access != X86_ACCESS_EXEC)
        x86_debug_data_access(cpu, lin, size, access == X86_ACCESS_WRITE);
    uint8_t *host = tlb_fill(cpu, lin, access, &gpa);
    if (host && access == X86_ACCESS_WRITE && x86_page_has_code(cpu, gpa & ~0xFFFull))
        x86_invalidate_range(cpu, gpa, size);   /* the caller writes there */
    return host ? host + (lin & 0xFFF) : NULL;
}

uint8_t *x86_ram_ptr_known(X86Cpu *cpu, uint64_t lin, unsigned size, unsigned access)
{
    uint8_t *p = x86_ram_ptr(cpu, x86_lin_wrap(cpu, lin), size, access);
    if (!p) x86_unimplemented(cpu, "internal error: memory checked as RAM is no longer RAM");
    return p;
}

static uint64_t mmio_read(X86Cpu *cpu, uint64_t gpa, uint64_t lin, unsigned size)
{
    if (cpu->mmio_wq_n > 0)
        x86_unimplemented(cpu, "an MMIO read after an MMIO write in one instruction");
    if (cpu->mmio_replay_pos < cpu->mmio_replay_n) {
        int i = cpu->mmio_replay_pos++;
        /* only the access's bytes: the VMM's answer may carry more (fuzz finding:
         * a byte DIV read 0x100 from MMIO and divided the host by zero) */
        uint64_t v = cpu->mmio_replay[i];
        if (cpu->mmio_replay_gpa[i] == gpa) return size >= 8 ? v : v & ((1ull << (8 * size)) - 1);
        x86_unimplemented(cpu, "MMIO read replay does not match the re-executed access");
    }
    if (cpu->mmio_replay_n == (int)(sizeof cpu->mmio_replay / sizeof cpu->mmio_replay[0]))
        x86_unimplemented(cpu, "too many MMIO reads in one instruction");
    cpu->exit.mmio.gpa = gpa;
    cpu->exit.mmio.linear = lin;
    cpu->exit.mmio.size = (uint8_t)size;
    cpu->exit.mmio.is_write = false;
    cpu->exit.mmio.data = 0;
    x86_exit(cpu, X86_EXIT_MMIO);
}

static void mmio_write(X86Cpu *cpu, uint64_t gpa, uint64_t lin, unsigned size, uint64_t v)
{
    int n = cpu->mmio_wq_n;
    if (n == (int)(sizeof cpu->mmio_wq / sizeof cpu->mmio_wq[0]))
        x86_unimplemented(cpu, "too many MMIO writes in one instruction");
    cpu->mmio_wq[n].gpa = gpa;
    cpu->mmio_wq[n].linear = lin;
    cpu->mmio_wq[n].data = v;
    cpu->mmio_wq[n].size = (uint8_t)size;
    cpu->mmio_wq_n = n + 1;
    cpu->mmio_wq_head = 1;
    if (n > 0) return;            /* reported by the next runs */
    cpu->exit.rip = cpu->rip;     /* the instruction; RIP will be past it at the exit */
    cpu->exit.linear = x86_code_lin(cpu);
    cpu->exit.mmio.gpa = gpa;
    cpu->exit.mmio.linear = lin;
    cpu->exit.mmio.size = (uint8_t)size;
    cpu->exit.mmio.is_write = true;
    cpu->exit.mmio.data = v;
    cpu->run_exit = X86_EXIT_MMIO;
    x86_end_block(cpu);
}

/* Bytes of an access at `lin` of `size` that lie on its first page. */
static inline unsigned first_page_part(uint64_t lin, unsigned size)
{
    unsigned room = 4096u - (unsigned)(lin & 0xFFF);
    return room < size ? room : size;
}

/* A read that crosses a page boundary: each page's part from RAM, or as an MMIO read of
 * that part alone (an exit; the re-executed instruction then takes its value from the
 * replay log and goes on to the next part). Little endian: the first page's bytes are the
 * low bytes. */
static uint64_t read_split(X86Cpu *cpu, uint64_t lin, unsigned size)
{
    uint64_t v = 0;
    for (unsigned off = 0; off < size;) {
        uint64_t l = x86_lin_wrap(cpu, lin + off), gpa;   /* wraps at 4 GiB outside IA-32e mode */
        unsigned n = first_page_part(l, size - off);
        const uint8_t *h = tlb_fill(cpu, l, X86_ACCESS_READ, &gpa);
        uint64_t part = 0;
        if (h) {
            for (unsigned i = 0; i < n; i++) part |= (uint64_t)h[(l & 0xFFF) + i] << (8 * i);
        } else {
            part = mmio_read(cpu, gpa, l, n);
        }
        v |= part << (8 * off);
        off += n;
    }
    return v;
}

/* A write that crosses a page boundary: both pages are looked up before any byte is
 * written; then each part goes to RAM (dropping decoded code there) or is queued as an
 * MMIO write of that part alone. */
static void write_split(X86Cpu *cpu, uint64_t lin, unsigned size, uint64_t v)
{
    unsigned first = first_page_part(lin, size);
    const unsigned len[2] = {first, size - first};
    uint64_t l[2] = {lin, x86_lin_wrap(cpu, lin + first)}, gpa[2];
    uint8_t *h[2];
    for (int p = 0; p < 2; p++) h[p] = tlb_fill(cpu, l[p], X86_ACCESS_WRITE, &gpa[p]);
    for (int p = 0; p < 2; p++) {
        uint64_t part = v >> (8 * (p ? first : 0));
        if (!h[p]) {   /* each part is under 8 bytes: the mask's shift is defined */
            mmio_write(cpu, gpa[p], l[p], len[p], part & ((1ull << (8 * len[p])) - 1));
            continue;
        }
        if (x86_page_has_code(cpu, gpa[p] & ~0xFFFull)) x86_invalidate_range(cpu, gpa[p], len[p]);
        for (unsigned i = 0; i < len[p]; i++) h[p][(l[p] & 0xFFF) + i] = (uint8_t)(part >> (8 * i));
    }
}

uint32_t x86_read_slow(X86Cpu *cpu, uint64_t lin, unsigned size)
{
    uint64_t gpa;
    if (UNLIKELY(cpu->dbg_flags & X86_DBG_DATA)) x86_debug_data_access(cpu, lin, size, false);
    if ((lin & 0xFFF) + size > 4096) return (uint32_t)read_split(cpu, lin, size);
    uint8_t *host = tlb_fill(cpu, lin, X86_ACCESS_READ, &gpa);
    if (host) return ld_le(host + (lin & 0xFFF), size);
    return (uint32_t)mmio_read(cpu, gpa, lin, size);
}

void x86_write_slow(X86Cpu *cpu, uint64_t lin, unsigned size, uint32_t v)
{
    uint64_t gpa;
    if (UNLIKELY(cpu->dbg_flags & X86_DBG_DATA)) x86_debug_data_access(cpu, lin, size, true);
    if ((lin & 0xFFF) + size > 4096) {
        write_split(cpu, lin, size, v);
        return;
    }
    uint8_t *host = tlb_fill(cpu, lin, X86_ACCESS_WRITE, &gpa);
    if (!host) {
        mmio_write(cpu, gpa, lin, size, v);
        return;
    }
    if (x86_page_has_code(cpu, gpa & ~0xFFFull)) x86_invalidate_range(cpu, gpa, size);
    st_le(host + (lin & 0xFFF), size, v);
}

/* An 8-byte access (CMPXCHG8B m64) is one access per page it touches, as on the bus and
 * in KVM's emulator: MMIO sees one exit of up to 8 bytes, not two dwords. */
uint64_t x86_read64(X86Cpu *cpu, uint64_t lin)
{
    uint64_t gpa, v;
    if (UNLIKELY(cpu->dbg_flags & X86_DBG_DATA)) x86_debug_data_access(cpu, lin, 8, false);
    if ((lin & 0xFFF) + 8 > 4096) return read_split(cpu, lin, 8);
    const uint8_t *host = tlb_fill(cpu, lin, X86_ACCESS_READ, &gpa);
    if (!host) return mmio_read(cpu, gpa, lin, 8);
    memcpy(&v, host + (lin & 0xFFF), 8);   /* little-endian host, as ld_le assumes */
    return v;
}

void x86_write64(X86Cpu *cpu, uint64_t lin, uint64_t v)
{
    uint64_t gpa;
    if (UNLIKELY(cpu->dbg_flags & X86_DBG_DATA)) x86_debug_data_access(cpu, lin, 8, true);
    if ((lin & 0xFFF) + 8 > 4096) {
        write_split(cpu, lin, 8, v);
        return;
    }
    uint8_t *host = tlb_fill(cpu, lin, X86_ACCESS_WRITE, &gpa);
    if (!host) {
        mmio_write(cpu, gpa, lin, 8, v);
        return;
    }
    if (x86_page_has_code(cpu, gpa & ~0xFFFull)) x86_invalidate_range(cpu, gpa, 8);
    memcpy(host + (lin & 0xFFF), &v, 8);
}
