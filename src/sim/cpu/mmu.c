/*
 * Guest memory: segment -> linear -> physical -> host, through one path.
 *
 * x86_linear() (inline in cpu_internal.h) applies the segment; the TLB maps linear pages
 * to host pages for RAM; everything else comes here. Paging (CR0.PG) and EPT will join in
 * x86_translate(). Accesses that are not RAM leave the guest as MMIO exits:
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

#include "sim/cpu/cpu_internal.h"

/* The limit check that failed or needs the slow path: expand-down data segments
 * (SDM Vol. 3A, 3.4.5.1: valid offsets are limit+1 .. 0xFFFF or 0xFFFFFFFF by D/B). */
uint64_t x86_linear_slow(X86Cpu *cpu, int seg, uint32_t off, unsigned size, unsigned access)
{
    (void)access;
    const X86Segment *s = &cpu->seg[seg];
    bool expand_down = (s->attr & X86_AR_S) && !(s->attr & 8u) && (s->attr & 4u);
    if (expand_down) {
        uint64_t top = (s->attr & X86_AR_DB) ? 0xFFFFFFFFull : 0xFFFFull;
        if ((uint64_t)off > s->limit && (uint64_t)off + size - 1 <= top)
            return (uint32_t)(s->base + off);
    } else if ((uint64_t)off + size - 1 <= s->limit) {
        return (uint32_t)(s->base + off);
    }
    x86_limit_fault(cpu, seg);
}

/* Real mode: a limit violation is #GP(0), or #SS(0) through SS (SDM Vol. 3A, 21.1.3 and
 * the "Real-Address Mode Exceptions" of each instruction in Vol. 2). */
void x86_limit_fault(X86Cpu *cpu, int seg)
{
    x86_fault(cpu, seg == X86_SS ? X86_EXC_SS : X86_EXC_GP, true, 0);
}

/* Linear -> guest-physical. No paging yet: executing with CR0.PE=1 leaves the
 * interpreter before any access, so linear == physical here. */
static inline uint64_t x86_translate(X86Cpu *cpu, uint64_t lin, unsigned access)
{
    (void)cpu;
    (void)access;
    return lin;
}

/* Host page for the linear page of `lin` when RAM allows `access`, filling the TLB; NULL
 * for MMIO. Write entries are not installed on pages that hold decoded code, so writes
 * there come back here and invalidate it. */
static uint8_t *tlb_fill(X86Cpu *cpu, uint64_t lin, unsigned access, uint64_t *gpa_out)
{
    uint64_t vpage = lin >> 12;
    uint64_t gpa = x86_translate(cpu, lin, access);
    uint64_t gpage = gpa & ~0xFFFull;
    *gpa_out = gpa;
    uint8_t *host = cpu->page_fn(cpu->page_opaque, gpage, access);
    if (!host) return NULL;
    X86TlbEntry *e = &cpu->tlb[vpage & (X86_TLB_SIZE - 1)];
    if (e->host != host || e->gpa_page != gpage ||
        (e->tag_read != vpage && e->tag_write != vpage)) {
        e->tag_read = e->tag_write = ~0ull;
        e->host = host;
        e->gpa_page = gpage;
    }
    if (access == X86_ACCESS_READ) {
        e->tag_read = vpage;
    } else if (access == X86_ACCESS_WRITE) {
        /* no fast-path writes to a page with decoded code: x86_write_slow checks them */
        if (!x86_page_has_code(cpu, gpage)) e->tag_write = vpage;
    }
    return host;
}

uint8_t *x86_ram_ptr(X86Cpu *cpu, uint64_t lin, unsigned size, unsigned access)
{
    uint64_t gpa;
    if ((lin & 0xFFF) + size > 4096) return NULL;
    uint8_t *host = tlb_fill(cpu, lin, access, &gpa);
    if (host && access == X86_ACCESS_WRITE && x86_page_has_code(cpu, gpa & ~0xFFFull))
        x86_invalidate_range(cpu, gpa, size);   /* the caller writes there */
    return host ? host + (lin & 0xFFF) : NULL;
}

static uint32_t mmio_read(X86Cpu *cpu, uint64_t gpa, uint64_t lin, unsigned size)
{
    if (cpu->mmio_wq_n > 0)
        x86_unimplemented(cpu, "an MMIO read after an MMIO write in one instruction");
    if (cpu->mmio_replay_pos < cpu->mmio_replay_n) {
        int i = cpu->mmio_replay_pos++;
        if (cpu->mmio_replay_gpa[i] == gpa) return (uint32_t)cpu->mmio_replay[i];
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

static void mmio_write(X86Cpu *cpu, uint64_t gpa, uint64_t lin, unsigned size, uint32_t v)
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
    cpu->exit.linear = (uint32_t)(cpu->cs.base + cpu->rip);
    cpu->exit.mmio.gpa = gpa;
    cpu->exit.mmio.linear = lin;
    cpu->exit.mmio.size = (uint8_t)size;
    cpu->exit.mmio.is_write = true;
    cpu->exit.mmio.data = v;
    cpu->run_exit = X86_EXIT_MMIO;
    cpu->pending |= X86_PENDING_END;
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
static uint32_t read_split(X86Cpu *cpu, uint64_t lin, unsigned size)
{
    uint32_t v = 0;
    for (unsigned off = 0; off < size;) {
        uint64_t l = lin + off, gpa;
        unsigned n = first_page_part(l, size - off);
        const uint8_t *h = tlb_fill(cpu, l, X86_ACCESS_READ, &gpa);
        uint32_t part = 0;
        if (h) {
            for (unsigned i = 0; i < n; i++) part |= (uint32_t)h[(l & 0xFFF) + i] << (8 * i);
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
static void write_split(X86Cpu *cpu, uint64_t lin, unsigned size, uint32_t v)
{
    unsigned first = first_page_part(lin, size);
    const unsigned len[2] = {first, size - first};
    uint64_t l[2] = {lin, lin + first}, gpa[2];
    uint8_t *h[2];
    for (int p = 0; p < 2; p++) h[p] = tlb_fill(cpu, l[p], X86_ACCESS_WRITE, &gpa[p]);
    for (int p = 0; p < 2; p++) {
        uint32_t part = (uint32_t)((uint64_t)v >> (8 * (p ? first : 0)));
        if (!h[p]) {
            mmio_write(cpu, gpa[p], l[p], len[p], part & (uint32_t)((1ull << (8 * len[p])) - 1));
            continue;
        }
        if (x86_page_has_code(cpu, gpa[p] & ~0xFFFull)) x86_invalidate_range(cpu, gpa[p], len[p]);
        for (unsigned i = 0; i < len[p]; i++) h[p][(l[p] & 0xFFF) + i] = (uint8_t)(part >> (8 * i));
    }
}

uint32_t x86_read_slow(X86Cpu *cpu, uint64_t lin, unsigned size)
{
    uint64_t gpa;
    if ((lin & 0xFFF) + size > 4096) return read_split(cpu, lin, size);
    uint8_t *host = tlb_fill(cpu, lin, X86_ACCESS_READ, &gpa);
    if (host) return ld_le(host + (lin & 0xFFF), size);
    return mmio_read(cpu, gpa, lin, size);
}

void x86_write_slow(X86Cpu *cpu, uint64_t lin, unsigned size, uint32_t v)
{
    uint64_t gpa;
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
