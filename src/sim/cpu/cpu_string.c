/*
 * String instructions: MOVS CMPS STOS LODS SCAS with REP/REPE/REPNE, segment overrides
 * (source only; the destination is always ES) and the address size choosing SI/DI/CX or
 * ESI/EDI/ECX (SDM Vol. 2, MOVS etc. and "REP/REPE/REPZ/REPNE/REPNZ").
 *
 * A REP instruction runs many elements per call. Registers are updated after each
 * element, so a fault or an MMIO read exit in the middle leaves RIP at the instruction with
 * the elements done so far accounted for, and re-executing it continues. After an MMIO
 * write (one element per exit) or STRING_CHUNK elements it also stops and is restarted.
 *
 * The bulk path: a REP instruction's elements that lie on one linear page of RAM for
 * every operand, inside the segment limits (the inline fast path's rules, so the same
 * accesses that x86_linear would let through) and without wrapping SI/DI, go as one host
 * memcpy / memset / compare loop, with the registers updated once for the run. Whatever
 * the bulk path cannot prove safe takes one element the usual way, which raises the
 * fault, makes the MMIO exit, sets the accessed and dirty bits, fills the TLB or drops
 * decoded code on the page (the TLB never maps a page with code writable, so a REP STOS
 * over code goes element by element and each element invalidates what it hits). Between
 * page runs it stops as the element path does, on anything pending, a stop request or
 * STRING_CHUNK elements. cpu->string_elementwise turns the bulk path off (tests compare
 * the two).
 */
#include "sim/cpu/cpu_internal.h"

#define STRING_CHUNK 65536u

static inline uint64_t idx_get(const X86Cpu *cpu, unsigned r, unsigned asz)
{
    return cpu->gpr[r] & size_mask(asz);
}

static inline void idx_set(X86Cpu *cpu, unsigned r, unsigned asz, uint64_t v)
{
    reg_write(cpu, r, asz, v);
}

static inline unsigned elem_size(const X86Insn *in) { return (in->op & 1) ? in->osz : 1; }

/* How far SI/DI move per element: down when DF is set (SDM Vol. 1, 3.4.3.2). */
static inline int32_t elem_step(const X86Cpu *cpu, unsigned size)
{
    return (cpu->flags & X86_FLAG_DF) ? -(int32_t)size : (int32_t)size;
}

/* Whether a REP loop goes on after an element: count left, and for CMPS/SCAS the
 * REPE/REPNE condition. Leaves RIP at the instruction when it must be resumed later. */
static inline bool rep_next(X86Cpu *cpu, const X86Insn *in, uint32_t *done, bool cmp)
{
    uint64_t c = (idx_get(cpu, X86_RCX, in->asz) - 1) & size_mask(in->asz);
    idx_set(cpu, X86_RCX, in->asz, c);
    /* each element is restarted on its own after an MMIO read exit */
    cpu->mmio_replay_n = cpu->mmio_replay_pos = 0;
    if (c == 0) return false;
    if (cmp) {
        bool zf = flags_get(cpu) & X86_FLAG_ZF;
        if ((in->prefix & PFX_REP) && !zf) return false;
        if ((in->prefix & PFX_REPNE) && zf) return false;
    }
    if (UNLIKELY(cpu->pending) || ++*done >= STRING_CHUNK) {
        cpu->next_rip = cpu->rip;       /* resume the REP at the next run/block */
        x86_end_block(cpu);
        return false;
    }
    return true;
}

#define REP_PREFIXES (PFX_REP | PFX_REPNE)

/* ---------------------------------------------------------------------------------- */
/* The bulk path                                                                        */
/* ---------------------------------------------------------------------------------- */

static inline uint32_t min_u32(uint32_t a, uint32_t b) { return a < b ? a : b; }

/* How many elements from offset `off` of segment `seg` (going down when `down`) can go in
 * bulk for `access`: all inside the segment limit with the type allowing the access
 * (expand-up only: x86_linear's fast path), none wrapping the address size, all on the
 * linear page of the first, which the TLB maps for `access`. At most `max`; 0 when the
 * first element itself must go the element way. *host: the first element's bytes. */
static uint32_t bulk_span(X86Cpu *cpu, int seg, uint32_t off, unsigned size, unsigned asz,
                          bool down, unsigned access, uint32_t max, uint8_t **host)
{
    const X86Segment *s = &cpu->seg[seg];
    bool type_ok = seg_fast_type(s->attr, access);
    uint64_t amask = asz == 2 ? 0xFFFFu : 0xFFFFFFFFu;
    uint64_t top = s->limit < amask ? s->limit : amask;   /* last usable offset */
    if (!type_ok || (uint64_t)off + size - 1 > top) return 0;
    uint32_t n = max;
    if (down)
        n = min_u32(n, off / size + 1);                          /* down to offset 0 */
    else
        n = (uint32_t)((top - off + 1) / size < n ? (top - off + 1) / size : n);
    uint32_t lin = (uint32_t)(s->base + off);
    unsigned po = lin & 0xFFFu;
    if (po + size > 4096) return 0;                              /* straddles: element */
    n = min_u32(n, down ? po / size + 1 : (4096 - po) / size);
    const X86TlbEntry *e = x86_tlb_entry(cpu, lin);
    uint64_t tag = access == X86_ACCESS_WRITE ? e->tag_write : e->tag_read;
    if (tag != (lin >> 12)) return 0;
    *host = e->host + po;
    return n;
}

/* Whether the bulk path may run now: not turned off, no host debugging (data
 * breakpoints check every access), no MMIO read being replayed. */
static inline bool bulk_ok(const X86Cpu *cpu)
{
    /* (64-bit mode: element by element, for its canonical checks and 64-bit counts) */
    return !cpu->string_elementwise && !cpu->dbg_flags && !cpu->mmio_replay_n &&
           cpu->mode != X86_MODE_LONG64;
}

/* [p, p + n * size) going up, or the n elements ending with the one at p going down:
 * the lowest byte. */
static inline uint8_t *bulk_low(uint8_t *p, uint32_t n, unsigned size, bool down)
{
    return down ? p - (size_t)(n - 1) * size : p;
}

/* After k bulk elements: SI and/or DI (`uses`: the index registers the instruction
 * steps) by k elements, RCX by k. */
enum { USES_SI = 1, USES_DI = 2 };
static inline void bulk_advance(X86Cpu *cpu, const X86Insn *in, unsigned uses, uint32_t k,
                                int32_t d)
{
    unsigned asz = in->asz;
    if (uses & USES_SI) idx_set(cpu, X86_RSI, asz, idx_get(cpu, X86_RSI, asz) + (uint32_t)d * k);
    if (uses & USES_DI) idx_set(cpu, X86_RDI, asz, idx_get(cpu, X86_RDI, asz) + (uint32_t)d * k);
    idx_set(cpu, X86_RCX, asz, idx_get(cpu, X86_RCX, asz) - k);
}

/* After a bulk run of k elements (count already updated): whether the REP goes on in this
 * execution; when it must stop early it leaves RIP at the instruction, as rep_next. */
static inline bool bulk_continue(X86Cpu *cpu, const X86Insn *in, uint32_t *done, uint32_t k)
{
    if (idx_get(cpu, X86_RCX, in->asz) == 0) return false;
    *done += k;
    if (UNLIKELY(cpu->pending) || *done >= STRING_CHUNK ||
        __atomic_load_n(&cpu->stop_request, __ATOMIC_RELAXED)) {
        cpu->next_rip = cpu->rip;
        x86_end_block(cpu);
        return false;
    }
    return true;
}

/* The end of a bulk run of k elements: the registers advanced, then whether the REP goes
 * on (not when the run stopped at an element that ends it: SCAS/CMPS). */
static inline bool bulk_done(X86Cpu *cpu, const X86Insn *in, unsigned uses, uint32_t k,
                             int32_t d, bool stopped, uint32_t *done)
{
    bulk_advance(cpu, in, uses, k, d);
    return !stopped && bulk_continue(cpu, in, done, k);
}

/* MOVS: the elements in bulk from the current registers; 0 when none could go. Overlapping
 * source and destination are copied element by element in the instruction's order (a
 * MOVSB with DI = SI + 1 replicates a byte, as the CPU does). */
static uint32_t bulk_movs(X86Cpu *cpu, const X86Insn *in, unsigned size, uint32_t max)
{
    bool down = cpu->flags & X86_FLAG_DF;
    uint32_t si = idx_get(cpu, X86_RSI, in->asz), di = idx_get(cpu, X86_RDI, in->asz);
    uint8_t *src, *dst;
    uint32_t n = bulk_span(cpu, in->seg, si, size, in->asz, down, X86_ACCESS_READ, max, &src);
    if (n) n = bulk_span(cpu, X86_ES, di, size, in->asz, down, X86_ACCESS_WRITE, n, &dst);
    if (!n) return 0;
    size_t bytes = (size_t)n * size;
    uint8_t *s0 = bulk_low(src, n, size, down), *d0 = bulk_low(dst, n, size, down);
    /* (as integers: the two may be on different host objects, which C's pointer
     * comparisons do not define) */
    uintptr_t sa = (uintptr_t)s0, da = (uintptr_t)d0;
    if (sa + bytes <= da || da + bytes <= sa) {
        memcpy(d0, s0, bytes);
    } else {
        ptrdiff_t step = down ? -(ptrdiff_t)size : (ptrdiff_t)size;
        for (uint32_t i = 0; i < n; i++)
            st_le(dst + step * (ptrdiff_t)i, size, ld_le(src + step * (ptrdiff_t)i, size));
    }
    return n;
}

static uint32_t bulk_stos(X86Cpu *cpu, const X86Insn *in, unsigned size, uint32_t max,
                          uint32_t v)
{
    bool down = cpu->flags & X86_FLAG_DF;
    uint8_t *dst;
    uint32_t n = bulk_span(cpu, X86_ES, idx_get(cpu, X86_RDI, in->asz), size, in->asz, down,
                           X86_ACCESS_WRITE, max, &dst);
    if (!n) return 0;
    uint8_t *d0 = bulk_low(dst, n, size, down);
    if (size == 1) {
        memset(d0, (int)(uint8_t)v, n);
    } else {
        for (uint32_t i = 0; i < n; i++) st_le(d0 + (size_t)i * size, size, v);
    }
    return n;
}

/* LODS: only the last element read stays in the accumulator. */
static uint32_t bulk_lods(X86Cpu *cpu, const X86Insn *in, unsigned size, uint32_t max)
{
    bool down = cpu->flags & X86_FLAG_DF;
    uint8_t *src;
    uint32_t n = bulk_span(cpu, in->seg, idx_get(cpu, X86_RSI, in->asz), size, in->asz, down,
                           X86_ACCESS_READ, max, &src);
    if (!n) return 0;
    ptrdiff_t step = down ? -(ptrdiff_t)size : (ptrdiff_t)size;
    reg_write(cpu, X86_RAX, size, ld_le(src + step * (ptrdiff_t)(n - 1), size));
    return n;
}

/* CMPS (src_seg:SI against ES:DI) and SCAS (the accumulator against ES:DI, src NULL):
 * compares until the count runs out or the REPE/REPNE condition stops it; the flags are
 * those of the last comparison. *stopped: the condition ended the instruction. */
static uint32_t bulk_compare(X86Cpu *cpu, const X86Insn *in, unsigned size, uint32_t max,
                             bool scas, uint32_t acc, bool *stopped)
{
    bool down = cpu->flags & X86_FLAG_DF;
    uint8_t *src = NULL, *dst;
    uint32_t n = max;
    if (!scas) {
        n = bulk_span(cpu, in->seg, idx_get(cpu, X86_RSI, in->asz), size, in->asz, down,
                      X86_ACCESS_READ, n, &src);
        if (!n) return 0;
    }
    n = bulk_span(cpu, X86_ES, idx_get(cpu, X86_RDI, in->asz), size, in->asz, down,
                  X86_ACCESS_READ, n, &dst);
    if (!n) return 0;
    bool stop_ne = in->prefix & PFX_REP, stop_eq = in->prefix & PFX_REPNE;
    ptrdiff_t step = down ? -(ptrdiff_t)size : (ptrdiff_t)size;
    uint32_t a = 0, b = 0, k = 0;
    *stopped = false;
    while (k < n) {
        a = scas ? acc : ld_le(src + step * (ptrdiff_t)k, size);
        b = ld_le(dst + step * (ptrdiff_t)k, size);
        k++;
        if ((stop_ne && a != b) || (stop_eq && a == b)) {
            *stopped = true;
            break;
        }
    }
    x86_alu(cpu, 7, size, a, b);
    return k;
}

void op_movs(X86Cpu *cpu, const X86Insn *in)
{
    unsigned size = elem_size(in), asz = in->asz;
    int32_t d = elem_step(cpu, size);
    bool rep = in->prefix & REP_PREFIXES;
    uint32_t done = 0;
    if (rep && idx_get(cpu, X86_RCX, asz) == 0) return;
    for (;;) {
        if (rep && bulk_ok(cpu)) {
            uint32_t max = min_u32(idx_get(cpu, X86_RCX, asz), STRING_CHUNK - done);
            uint32_t k = bulk_movs(cpu, in, size, max);
            if (k) {
                if (!bulk_done(cpu, in, USES_SI | USES_DI, k, d, false, &done)) return;
                continue;
            }
        }
        uint64_t si = idx_get(cpu, X86_RSI, asz), di = idx_get(cpu, X86_RDI, asz);
        uint64_t v = mem_read(cpu, in->seg, si, size);
        mem_write(cpu, X86_ES, di, size, v);
        idx_set(cpu, X86_RSI, asz, si + (uint64_t)(int64_t)d);
        idx_set(cpu, X86_RDI, asz, di + (uint64_t)(int64_t)d);
        if (!rep || !rep_next(cpu, in, &done, false)) return;
    }
}

void op_stos(X86Cpu *cpu, const X86Insn *in)
{
    unsigned size = elem_size(in), asz = in->asz;
    int32_t d = elem_step(cpu, size);
    bool rep = in->prefix & REP_PREFIXES;
    uint32_t done = 0;
    uint64_t v = reg_read(cpu, X86_RAX, size);
    if (rep && idx_get(cpu, X86_RCX, asz) == 0) return;
    for (;;) {
        if (rep && bulk_ok(cpu)) {
            uint32_t max = min_u32(idx_get(cpu, X86_RCX, asz), STRING_CHUNK - done);
            uint32_t k = bulk_stos(cpu, in, size, max, v);
            if (k) {
                if (!bulk_done(cpu, in, USES_DI, k, d, false, &done)) return;
                continue;
            }
        }
        uint64_t di = idx_get(cpu, X86_RDI, asz);
        mem_write(cpu, X86_ES, di, size, v);
        idx_set(cpu, X86_RDI, asz, di + (uint64_t)(int64_t)d);
        if (!rep || !rep_next(cpu, in, &done, false)) return;
    }
}

void op_lods(X86Cpu *cpu, const X86Insn *in)
{
    unsigned size = elem_size(in), asz = in->asz;
    int32_t d = elem_step(cpu, size);
    bool rep = in->prefix & REP_PREFIXES;
    uint32_t done = 0;
    if (rep && idx_get(cpu, X86_RCX, asz) == 0) return;
    for (;;) {
        if (rep && bulk_ok(cpu)) {
            uint32_t max = min_u32(idx_get(cpu, X86_RCX, asz), STRING_CHUNK - done);
            uint32_t k = bulk_lods(cpu, in, size, max);
            if (k) {
                if (!bulk_done(cpu, in, USES_SI, k, d, false, &done)) return;
                continue;
            }
        }
        uint64_t si = idx_get(cpu, X86_RSI, asz);
        uint64_t v = mem_read(cpu, in->seg, si, size);
        reg_write(cpu, X86_RAX, size, v);
        idx_set(cpu, X86_RSI, asz, si + (uint64_t)(int64_t)d);
        if (!rep || !rep_next(cpu, in, &done, false)) return;
    }
}

/* CMPS: compares [seg:SI] with ES:[DI] (source minus destination). */
void op_cmps(X86Cpu *cpu, const X86Insn *in)
{
    unsigned size = elem_size(in), asz = in->asz;
    int32_t d = elem_step(cpu, size);
    bool rep = in->prefix & REP_PREFIXES;
    uint32_t done = 0;
    if (rep && idx_get(cpu, X86_RCX, asz) == 0) return;
    for (;;) {
        if (rep && bulk_ok(cpu)) {
            uint32_t max = min_u32(idx_get(cpu, X86_RCX, asz), STRING_CHUNK - done);
            bool stopped;
            uint32_t k = bulk_compare(cpu, in, size, max, false, 0, &stopped);
            if (k) {
                if (!bulk_done(cpu, in, USES_SI | USES_DI, k, d, stopped, &done)) return;
                continue;
            }
        }
        uint64_t si = idx_get(cpu, X86_RSI, asz), di = idx_get(cpu, X86_RDI, asz);
        uint64_t a = mem_read(cpu, in->seg, si, size);
        uint64_t b = mem_read(cpu, X86_ES, di, size);
        x86_alu(cpu, 7, size, a, b);
        idx_set(cpu, X86_RSI, asz, si + (uint64_t)(int64_t)d);
        idx_set(cpu, X86_RDI, asz, di + (uint64_t)(int64_t)d);
        if (!rep || !rep_next(cpu, in, &done, true)) return;
    }
}

/* SCAS: compares AL/AX/EAX with ES:[DI]. */
void op_scas(X86Cpu *cpu, const X86Insn *in)
{
    unsigned size = elem_size(in), asz = in->asz;
    int32_t d = elem_step(cpu, size);
    bool rep = in->prefix & REP_PREFIXES;
    uint32_t done = 0;
    uint64_t acc = reg_read(cpu, X86_RAX, size);
    if (rep && idx_get(cpu, X86_RCX, asz) == 0) return;
    for (;;) {
        if (rep && bulk_ok(cpu)) {
            uint32_t max = min_u32(idx_get(cpu, X86_RCX, asz), STRING_CHUNK - done);
            bool stopped;
            uint32_t k = bulk_compare(cpu, in, size, max, true, acc, &stopped);
            if (k) {
                if (!bulk_done(cpu, in, USES_DI, k, d, stopped, &done)) return;
                continue;
            }
        }
        uint64_t di = idx_get(cpu, X86_RDI, asz);
        uint64_t b = mem_read(cpu, X86_ES, di, size);
        x86_alu(cpu, 7, size, acc, b);
        idx_set(cpu, X86_RDI, asz, di + (uint64_t)(int64_t)d);
        if (!rep || !rep_next(cpu, in, &done, true)) return;
    }
}
