/*
 * The vCPU: state, reset, the run loop, the decoded-block cache, exceptions and exits.
 *
 * Execution decodes once and executes many times: a block (up to BLOCK_MAX instructions,
 * ending at a control transfer or a page boundary, but going on through a forward direct
 * JMP/CALL on its page: trace_target) is decoded into an array
 * of X86Insn, each with its handler pointer, and kept in a hash table keyed by the
 * guest-physical address of its first byte (plus CS base, IP and mode). Pages that hold
 * decoded code are marked in a bitmap; the TLB never maps them writable, so a guest write
 * there takes the slow path, which drops the page's blocks (self-modifying code). The host
 * drops code with x86_cpu_invalidate_code / x86_cpu_tlb_flush. A block that has run
 * jit_threshold times is translated to host code (jit.c) and runs as that from then on,
 * going on into the blocks its links lead to.
 *
 * Faults and exits leave a handler with longjmp to the run loop (cpu->jmp); handlers write
 * registers only after their memory accesses, so a fault or an MMIO read exit leaves the
 * instruction without side effects.
 */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "sim/cpu/cpu_internal.h"

#define BLOCK_MAX 32
#define HASH_BITS 16
#define HASH_SIZE (1u << HASH_BITS)
#define ARENA_SIZE (32u << 20)
#define CODE_BITMAP_PAGES (1ull << 20)   /* pages below 4 GiB are tracked */
#define JIT_ARENA_SIZE (64u << 20)
#define JIT_THRESHOLD 16

static inline uint8_t *block_bytes(const X86Block *b)
{
    return (uint8_t *)&b->insns[b->n];
}

/* The most bytes a block keeps: trace_target keeps a traced block's gaps within it. */
#define BLOCK_BYTES_MAX (BLOCK_MAX * X86_MAX_INSN_LEN)

/* One piece of a block's bytes: guest-physical [gpa, gpa + len), within one page. */
typedef struct {
    uint64_t gpa;
    uint32_t len;
} CodePiece;

/* Piece i (0 or 1) of the block's bytes; false when it has no such piece. Every user of a
 * block's bytes goes through this: the pieces are on unrelated physical pages. */
static inline bool block_piece(const X86Block *b, unsigned i, CodePiece *p)
{
    if (i == 0) *p = (CodePiece){ b->gpa, b->len0 };
    else if (i == 1 && b->len1) *p = (CodePiece){ b->last_page, b->len1 };
    else return false;
    return true;
}

#define PAGE_HASH_SIZE 1024u


typedef struct X86CodeCache {
    X86Block *hash[HASH_SIZE];
    PageLink *pages[PAGE_HASH_SIZE];   /* blocks by the pages their bytes are on */
    JumpCacheEntry jump_cache[JUMP_CACHE_SIZE];
    uint8_t *arena;
    size_t used;
    uint8_t *bitmap;         /* one bit per 4 KiB guest-physical page below 4 GiB */
    X86JitArena jit;         /* the blocks' translations, emptied with the arena */
    bool jit_full;           /* a translation did not fit: empty both at the next build */
} X86CodeCache;

static inline unsigned block_hash(uint64_t gpa)
{
    return (unsigned)((gpa ^ (gpa >> HASH_BITS)) & (HASH_SIZE - 1));
}

static inline unsigned page_hash(uint64_t gpa_page)
{
    return (unsigned)((gpa_page >> 12) & (PAGE_HASH_SIZE - 1));
}

static void code_flush_all(X86Cpu *cpu)
{
    X86CodeCache *c = cpu->code;
    memset(c->hash, 0, sizeof c->hash);
    memset(c->pages, 0, sizeof c->pages);
    memset(c->bitmap, 0, CODE_BITMAP_PAGES / 8);
    c->used = 0;
    c->jit.used = 0;
    c->jit_full = false;
    x86_links_invalidate(cpu);   /* every link points into the arena being reused */
    x86_end_block(cpu);
}

/* Whether gpa_page holds code decoded by this CPU or by one sharing its memory
 * (x86_cpu_share_code): a write there must drop it from every cache. */
bool x86_page_has_code(X86Cpu *cpu, uint64_t gpa_page)
{
    uint64_t p = gpa_page >> 12;
    if (p >= CODE_BITMAP_PAGES) return false;
    X86Cpu *c = cpu;
    do {
        if ((c->code->bitmap[p >> 3] >> (p & 7)) & 1) return true;
        c = c->code_peer;
    } while (c && c != cpu);
    return false;
}

static void block_unhash(X86CodeCache *c, X86Block *b)
{
    for (X86Block **pp = &c->hash[block_hash(b->gpa)]; *pp; pp = &(*pp)->next) {
        if (*pp == b) {
            *pp = b->next;
            return;
        }
    }
}

/* Whether guest-physical [start, end), which meets the block's first piece, writes bytes
 * the block runs: a block with gaps (the bytes a JMP or CALL went over, maybe data) is hit
 * only through its instructions, all on its first page (trace_target). */
static bool block_bytes_hit(const X86Block *b, uint64_t start, uint64_t end)
{
    if (!b->traced || b->len1) return true;
    uint64_t ipmask = x86_mode_code32(b->mode) ? 0xFFFFFFFFu : 0xFFFFu;
    for (uint32_t i = 0; i < b->n; i++) {
        const X86Insn *in = &b->insns[i];
        uint64_t ip = (in->next_ip - in->len) & ipmask;
        uint64_t g = b->first_page + ((b->cs_base + ip) & 0xFFF);
        if (g < end && start < g + in->len) return true;
    }
    return false;
}

/* Whether guest-physical [start, end) writes bytes of the block on page gpa_page (one
 * piece, or both when its two linear pages map to that one page). */
static bool block_meets(const X86Block *b, uint64_t gpa_page, uint64_t start, uint64_t end)
{
    CodePiece p;
    for (unsigned i = 0; block_piece(b, i, &p); i++) {
        if ((p.gpa & ~0xFFFull) != gpa_page || !(p.gpa < end && start < p.gpa + p.len))
            continue;
        if (i == 1 || block_bytes_hit(b, start, end)) return true;
    }
    return false;
}

/* Drops the blocks on page gpa_page that have bytes in [start, end); when none is left on
 * the page, it is no longer a code page (writes there take the TLB fast path again). A
 * peer (x86_cpu_share_code) is not running: its blocks go, nothing of its run changes. */
static void invalidate_in_page(X86Cpu *cpu, uint64_t gpa_page, uint64_t start, uint64_t end,
                               bool self)
{
    X86CodeCache *c = cpu->code;
    uint64_t p = gpa_page >> 12;
    if (p >= CODE_BITMAP_PAGES || !((c->bitmap[p >> 3] >> (p & 7)) & 1)) return;
    bool live = false;
    PageLink **pp = &c->pages[page_hash(gpa_page)];
    while (*pp) {
        PageLink *l = *pp;
        X86Block *b = l->block;
        if (b->dead) {
            *pp = l->next;           /* a dead block's other link: drop it too */
        } else if (b->first_page == gpa_page || b->last_page == gpa_page) {
            if (block_meets(b, gpa_page, start, end)) {
                b->dead = 1;
                block_unhash(c, b);
                *pp = l->next;
                x86_links_invalidate(cpu);
                if (self) x86_end_block(cpu);
            } else {
                live = true;
                pp = &l->next;
            }
        } else {
            pp = &l->next;
        }
    }
    if (!live) c->bitmap[p >> 3] &= (uint8_t)~(1u << (p & 7));
}

/* Guest-physical [gpa, gpa + len) was written: drop the decoded blocks with bytes there
 * (self-modifying code is detected at byte granularity, so data next to code on the same
 * page does not throw the code away). */
void x86_invalidate_range(X86Cpu *cpu, uint64_t gpa, uint64_t len)
{
    if (len == 0) return;
    uint64_t end = gpa + len;
    for (uint64_t p = gpa & ~0xFFFull; p < end; p += 4096) {
        invalidate_in_page(cpu, p, gpa, end, true);
        for (X86Cpu *peer = cpu->code_peer; peer && peer != cpu; peer = peer->code_peer)
            invalidate_in_page(peer, p, gpa, end, false);
    }
}

static void mark_code_page(X86Cpu *cpu, uint64_t gpa_page)
{
    uint64_t p = gpa_page >> 12;
    if (p >= CODE_BITMAP_PAGES) return;
    cpu->code->bitmap[p >> 3] |= (uint8_t)(1u << (p & 7));
    X86Cpu *c = cpu;
    do {   /* no CPU sharing the memory may write the page through its TLB any more */
        for (unsigned i = 0; i < 2 * X86_TLB_SIZE; i++)
            if (c->tlb[i].gpa_page == gpa_page) c->tlb[i].tag_write = ~0ull;
        c = c->code_peer;
    } while (c && c != cpu);
}

/* The mode a block is decoded for, part of its key. X86_CHECK_MODE builds (the sanitizer
 * tests) check at every lookup that the mode was updated wherever it changed. */
static inline X86Mode cpu_mode(X86Cpu *cpu)
{
#ifdef X86_CHECK_MODE
    if (UNLIKELY(cpu->mode != x86_mode_of(cpu)))
        x86_unimplemented(cpu, "internal error: the CPU mode was not updated");
#endif
    return cpu->mode;
}

static bool block_bytes_io(X86Cpu *cpu, const X86Block *b, uint8_t *copy,
                           const uint8_t *expect);

/* A block's last instruction that cannot change what the run loop checks between blocks
 * (CS, mode, CPL, flags other than OSZAPC, shadows, paging): a near transfer, or any
 * instruction that is not a block ender (the block ended at its size or a page end). */
static bool plain_transfer(const X86Insn *in)
{
    if (!(in->op & 0x200)) return true;
    switch (x86_opinfo(in->op)->cls) {
    case OC_JCC: case OC_CALL_REL: case OC_JMP_REL: case OC_RET: case OC_RET_IW: case OC_LOOP:
        return true;
    case OC_GRP5:
        return in->reg == 2 || in->reg == 4;
    default:
        return false;
    }
}

/* A block goes on through a direct JMP or CALL whose target lies ahead of its bytes on
 * the same linear page (so the same guest-physical page, whose translation the block's
 * lookup checks, and its first piece still covers every byte it runs, the ones jumped
 * over too): branchy code runs fewer, longer blocks. The target, or ~0 to end the block.
 * `next` is the IP after the instruction; the block's first piece ends at page offset
 * `end_off` so far. */
static uint64_t trace_target(const X86Cpu *cpu, const X86Block *b, const X86Insn *in,
                             uint64_t next, uint32_t end_off)
{
    unsigned cls = x86_opinfo(in->op)->cls;
    if (cls != OC_CALL_REL && cls != OC_JMP_REL) return ~0ull;
    if (b->mode == X86_MODE_LONG64) return ~0ull;   /* (canonical checks: not here) */
    uint32_t target = (uint32_t)next + in->imm;
    if (in->osz == 2) target &= 0xFFFF;
    if (target > cpu->cs.limit) return ~0ull;       /* the transfer faults: let it */
    uint64_t lin = (uint32_t)(b->cs_base + target), start = (uint32_t)(b->cs_base + b->ip);
    if ((lin >> 12) != (start >> 12)) return ~0ull;
    uint32_t off = (uint32_t)(lin & 0xFFF);
    if (off < end_off) return ~0ull;                /* not ahead */
    /* The copy must fit the room block_build reserved: the bytes so far with the gap,
     * then at most BLOCK_MAX - n more instructions. */
    if (off - (start & 0xFFF) + (uint64_t)(BLOCK_MAX - b->n) * X86_MAX_INSN_LEN >
        BLOCK_BYTES_MAX)
        return ~0ull;
    return target;
}

/* Decodes the block at CS:RIP. A fault on its first instruction is raised; a later one
 * just ends the block before that instruction. */
static X86Block *block_build(X86Cpu *cpu, uint64_t gpa, X86Mode mode, bool user)
{
    X86CodeCache *c = cpu->code;
    size_t need = sizeof(X86Block) + BLOCK_MAX * sizeof(X86Insn) + BLOCK_BYTES_MAX + 16;
    if (c->used + need > ARENA_SIZE || c->jit_full) code_flush_all(cpu);
    X86Block *b = (X86Block *)(c->arena + c->used);
    b->jit = NULL;
    b->jit_chain = NULL;
    memset(b->jit_exit, 0, sizeof b->jit_exit);
    b->jit_next_slot = 0;
    b->runs = 0;
    b->gpa = gpa;
    b->cs_base = cpu->cs.base;
    b->ip = cpu->rip;
    b->mode = mode;
    b->user = user;
    b->n = 0;
    b->traced = 0;
    for (int i = 0; i < 2; i++)
        b->out[i] = (BlockLink){ ~0ull, NULL, 0, (uint32_t)offsetof(X86Cpu, chain_gen) };
    b->first_page = gpa & ~0xFFFull;
    b->last_page = b->first_page;
    b->len1 = 0;
    uint64_t ip = cpu->rip;
    uint64_t ipmask = mode == X86_MODE_LONG64 ? ~0ull
                      : x86_mode_code32(mode) ? 0xFFFFFFFFull : 0xFFFFull;
    uint64_t start_lin = x86_lin_wrap(cpu, b->cs_base + ip);
    uint32_t end_off = start_lin & 0xFFF;   /* where the first piece ends on its page */
    while (b->n < BLOCK_MAX) {
        X86Insn *in = &b->insns[b->n];
        uint64_t g1;   /* guest-physical address of its last byte */
        /* Instructions start on the block's linear page; one whose bytes go on into the
         * next linear page (whatever physical page that maps to) is the last. */
        uint64_t lin = x86_lin_wrap(cpu, b->cs_base + ip);
        if ((lin >> 12) != (start_lin >> 12)) break;
        int r = x86_decode(cpu, ip, in, &g1);
        if (r != 0) {
            if (b->n > 0) break;
            if (r == -1) x86_unimplemented(cpu, "instruction fetch from memory that is not RAM");
            if (r == X86_EXC_PF) {     /* the fetch's page fault (x86_decode recorded it) */
                cpu->cr2 = x86_lin_wrap(cpu, cpu->fetch_fault_lin);
                if (cpu->fetch_fault_error == X86_PF_NO_MEMORY)
                    x86_unimplemented(cpu, "a page-table entry in memory that is not RAM");
                x86_fault(cpu, X86_EXC_PF, true, cpu->fetch_fault_error & ~X86_PF_REPORTED);
            }
            x86_fault(cpu, r == -2 ? X86_EXC_GP : r, true, 0);
        }
        /* (the decoder's offsets are not wrapped at 64 KiB: see fetch8) */
        uint64_t last_lin = x86_lin_wrap(cpu, b->cs_base + ip + in->len - 1);
        b->n++;
        if ((last_lin >> 12) != (start_lin >> 12)) {
            b->last_page = g1 & ~0xFFFull;
            b->len1 = (uint16_t)((last_lin & 0xFFF) + 1);
            end_off = 4096;
        } else if ((last_lin & 0xFFF) + 1 > end_off) {
            end_off = (last_lin & 0xFFF) + 1;
        }
        ip = (ip + in->len) & ipmask;
        in->next_ip = ip;
        b->plain_end = plain_transfer(in);
        bool end = in->op >= 0x200;       /* decoder marks block enders with 0x200 */
        in->op &= 0x1FF;
        if (b->len1) break;
        if (end) {
            uint64_t target = trace_target(cpu, b, in, ip, end_off);
            if (target == ~0ull) break;
            ip = target;                  /* the block goes on at the JMP's or CALL's target */
            b->traced = 1;
        }
    }
    b->epoch = cpu->code_epoch;
    b->len0 = (uint16_t)(end_off - (start_lin & 0xFFF));
    /* the room reserved above; a decoder or trace_target bug stops the VM, not the host */
    if (b->len0 + b->len1 > BLOCK_BYTES_MAX)
        x86_unimplemented(cpu, "internal error: a decoded block's bytes exceed its room");
    if (!block_bytes_io(cpu, b, block_bytes(b), NULL))
        x86_unimplemented(cpu, "instruction fetch from memory that is not RAM");
    b->insns_end = (uintptr_t)&b->insns[b->n];
    c->used += sizeof(X86Block) + b->n * sizeof(X86Insn) + b->len0 + b->len1;
    c->used = (c->used + 15) & ~(size_t)15;
    b->dead = 0;
    mark_code_page(cpu, b->first_page);
    b->link[0] = (PageLink){ b, c->pages[page_hash(b->first_page)] };
    c->pages[page_hash(b->first_page)] = &b->link[0];
    if (b->last_page != b->first_page) {   /* (a second piece on the same page: one link) */
        mark_code_page(cpu, b->last_page);
        b->link[1] = (PageLink){ b, c->pages[page_hash(b->last_page)] };
        c->pages[page_hash(b->last_page)] = &b->link[1];
    }
    unsigned h = block_hash(gpa);
    b->next = c->hash[h];
    c->hash[h] = b;
    return b;
}

/* Host bytes of guest-physical [gpa, gpa + len) when the range is RAM within one page;
 * NULL otherwise (the check that keeps a length from crossing into other host memory). */
static const uint8_t *code_piece_host(X86Cpu *cpu, uint64_t gpa, uint32_t len)
{
    uint64_t page = gpa & ~0xFFFull;
    if ((gpa & 0xFFF) + (uint64_t)len > 4096) return NULL;
    const uint8_t *host = cpu->page_fn(cpu->page_opaque, page, X86_ACCESS_EXEC);
    return host ? host + (gpa & 0xFFF) : NULL;
}

/* Copies the block's bytes (its pieces, in order) into `copy`, or compares them with
 * `expect` when that is given. False when a piece is not RAM (or differs). */
static bool block_bytes_io(X86Cpu *cpu, const X86Block *b, uint8_t *copy,
                           const uint8_t *expect)
{
    CodePiece p;
    for (unsigned i = 0; block_piece(b, i, &p); i++) {
        const uint8_t *host = code_piece_host(cpu, p.gpa, p.len);
        if (!host) return false;
        if (expect) {
            if (memcmp(host, expect, p.len) != 0) return false;
            expect += p.len;
        } else {
            memcpy(copy, host, p.len);
            copy += p.len;
        }
    }
    return true;
}

/* A block whose last instruction runs onto the next linear page is only valid while that
 * page still maps to the same guest-physical page (blocks are keyed by the first byte's
 * guest-physical address). Without paging only the A20 gate moves pages, and changing it
 * empties the code cache. */
static bool block_second_page_current(X86Cpu *cpu, const X86Block *b, uint64_t lin)
{
    if (LIKELY(!b->len1) || !(cpu->cr0 & X86_CR0_PG)) return true;
    uint64_t last_lin = x86_lin_wrap(cpu, (lin & ~0xFFFull) + 0x1000);
    uint64_t gpa;
    uint32_t err;
    if (!x86_probe_page(cpu, last_lin, X86_ACCESS_EXEC, &gpa, &err)) return false;
    return (gpa & ~0xFFFull) == b->last_page;
}

static inline JumpCacheEntry *jump_cache_entry(X86Cpu *cpu, uint64_t lin)
{
    return &cpu->code->jump_cache[x86_jump_cache_index(lin)];
}

static X86Block *block_lookup_slow(X86Cpu *cpu, uint64_t lin, X86Mode mode, bool user);

static X86Block *block_lookup(X86Cpu *cpu)
{
    uint64_t lin = x86_code_lin(cpu);
    X86Mode mode = cpu_mode(cpu);
    bool user = x86_cpl(cpu) == 3;
    JumpCacheEntry *e = jump_cache_entry(cpu, lin);
    if (e->gen == x86_gen_at(cpu, e->gen_off) && e->ip == cpu->rip &&
        e->cs_base == cpu->cs.base && e->mode == mode && e->user == user && e->block)
        return e->block;
    X86Block *b = block_lookup_slow(cpu, lin, mode, user);
    /* (a build may have emptied the cache and bumped the generations: the entry takes
     * the new) */
    uint32_t off = x86_link_gen_off(cpu, b, lin);
    *e = (JumpCacheEntry){ cpu->rip, cpu->cs.base, b, mode, user, x86_gen_at(cpu, off), off };
    return b;
}

static X86Block *block_lookup_slow(X86Cpu *cpu, uint64_t lin, X86Mode mode, bool user)
{
    /* a RIP past the canonical range (sequential execution, a completed exit) is #GP(0)
     * at that RIP (SDM Vol. 1, 3.3.7.1) */
    if (UNLIKELY(mode == X86_MODE_LONG64 && !x86_canonical(lin))) x86_fault(cpu, X86_EXC_GP, true, 0);
    uint64_t gpa = x86_fetch_gpa(cpu, lin);   /* raises #PF for the first byte */
    for (X86Block *b = cpu->code->hash[block_hash(gpa)]; b; b = b->next) {
        if (b->gpa != gpa || b->ip != cpu->rip || b->cs_base != cpu->cs.base || b->mode != mode ||
            b->user != user)
            continue;
        if (UNLIKELY(!block_second_page_current(cpu, b, lin))) {
            b->dead = 1;
            block_unhash(cpu->code, b);
            x86_links_invalidate(cpu);
            break;
        }
        if (LIKELY(b->epoch == cpu->code_epoch))
            return b;
        /* The host may have written guest memory since this block was decoded. */
        if (block_bytes_io(cpu, b, NULL, block_bytes(b))) {
            b->epoch = cpu->code_epoch;
            return b;
        }
        b->dead = 1;
        block_unhash(cpu->code, b);
        x86_links_invalidate(cpu);
        break;
    }
    return block_build(cpu, gpa, mode, user);
}

void x86_cpu_host_wrote_memory(X86Cpu *cpu)
{
    cpu->code_epoch++;
    x86_links_invalidate(cpu);   /* (so translated links check a generation alone) */
}

/* ---------------------------------------------------------------------------------- */
/* Exceptions and exits                                                                 */
/* ---------------------------------------------------------------------------------- */

/* Exception classes for double faults (SDM Vol. 3A, 6.15, Tables 6-4 and 6-5). */
enum { EXC_BENIGN = 0, EXC_CONTRIBUTORY = 1, EXC_DOUBLE = 2, EXC_PAGE = 3 };

static int exc_class(int vector)
{
    switch (vector) {
    case X86_EXC_DF: return EXC_DOUBLE;
    case X86_EXC_PF: return EXC_PAGE;
    case X86_EXC_DE: case X86_EXC_TS: case X86_EXC_NP: case X86_EXC_SS: case X86_EXC_GP:
        return EXC_CONTRIBUTORY;
    default: return EXC_BENIGN;
    }
}

/* Real-address-mode interrupt and exception handling (SDM Vol. 3A, 21.1.4): the vector's
 * 4-byte IVT entry must be within the IDTR limit, else #GP; push FLAGS, CS, IP; clear IF,
 * TF and AC; load CS:IP from the entry. No error code is pushed. */
static void deliver_real(X86Cpu *cpu, int vector, uint64_t ret_ip)
{
    if ((uint32_t)vector * 4 + 3 > cpu->idtr.limit) x86_fault(cpu, X86_EXC_GP, true, 0);
    uint64_t entry = cpu->idtr.base + (uint32_t)vector * 4;
    uint32_t ip = lin_read(cpu, (uint32_t)entry, 2);
    uint32_t cs = lin_read(cpu, (uint32_t)(entry + 2), 2);
    uint32_t f = flags_get(cpu);
    uint32_t sp = sp_get(cpu), m = sp_mask(cpu);
    uint32_t sp1 = (sp - 2) & m, sp2 = (sp - 4) & m, sp3 = (sp - 6) & m;
    mem_write(cpu, X86_SS, sp1, 2, f);
    mem_write(cpu, X86_SS, sp2, 2, cpu->cs.selector);
    mem_write(cpu, X86_SS, sp3, 2, (uint32_t)ret_ip);
    sp_set(cpu, sp3);
    cpu->flags = f & ~(X86_FLAG_IF | X86_FLAG_TF | X86_FLAG_AC | X86_FLAG_RF);
    x86_load_seg(cpu, X86_CS, (uint16_t)cs);
    cpu->rip = cpu->next_rip = ip;
}

void x86_deliver_event(X86Cpu *cpu, int vector, X86EventKind kind, bool has_error,
                       uint32_t error_code)
{
    uint64_t ret_ip = kind == X86_EVENT_SOFTWARE_INT ? cpu->next_rip : cpu->rip;
    /* The host's log (-d int) sees every event with the state before delivery. */
    if (UNLIKELY(cpu->event_hook != NULL))
        cpu->event_hook(cpu->event_opaque, vector, kind == X86_EVENT_SOFTWARE_INT, has_error,
                        error_code);
    if (cpu->event_depth == 0)
        cpu->event_class = kind == X86_EVENT_EXCEPTION ? exc_class(vector) : EXC_BENIGN;
    cpu->event_depth++;
    cpu->events_delivered++;
    if (x86_pe(cpu))
        x86_deliver_protected(cpu, vector, kind, has_error, error_code, ret_ip);
    else
        deliver_real(cpu, vector, ret_ip);
    x86_end_block(cpu);
    cpu->event_depth = 0;
}

/* The one place exceptions are raised. A fault while delivering an event combines with
 * it as SDM Vol. 3A, 6.15 ("Interrupt 8", Table 6-5) says: contributory after contributory,
 * or contributory or #PF after #PF, is #DF (error code 0); any fault while delivering #DF
 * is a triple fault (shutdown); otherwise the new exception is delivered. An exception
 * delivery counts as one instruction for the budget. */
void x86_fault(X86Cpu *cpu, int vector, bool has_error, uint32_t error)
{
    cpu->fault_error = has_error ? error : 0;
    cpu->mmio_replay_n = cpu->mmio_replay_pos = 0;
    if (cpu->event_depth > 0) {
        int first = cpu->event_class, second = exc_class(vector);
        cpu->event_depth = 0;
        if (first == EXC_DOUBLE) x86_exit(cpu, X86_EXIT_TRIPLE_FAULT);
        if ((first == EXC_CONTRIBUTORY && second == EXC_CONTRIBUTORY) ||
            (first == EXC_PAGE && (second == EXC_CONTRIBUTORY || second == EXC_PAGE))) {
            vector = X86_EXC_DF;
            has_error = true;
            error = 0;
        }
    }
    cpu->instructions_retired++;
    x86_deliver_event(cpu, vector, X86_EVENT_EXCEPTION, has_error, error);
    longjmp(cpu->jmp, 1);
}

void x86_exit(X86Cpu *cpu, X86Exit reason)
{
    if (reason != X86_EXIT_HLT) {
        cpu->exit.rip = cpu->rip;
        cpu->exit.linear = x86_code_lin(cpu);
        /* RIP stays at an instruction that ran under an interrupt shadow: keep it */
        if (cpu->shadow_active) cpu->interrupt_shadow |= cpu->shadow_saved;
    }
    cpu->shadow_active = false;
    cpu->run_exit = reason;
    longjmp(cpu->jmp, 2);
}

/* Records the current instruction's bytes (as far as they can be read), its linear
 * address and the reason in cpu->exit.unimpl. */
static void record_unimplemented(X86Cpu *cpu, const char *reason)
{
    uint64_t lin = x86_code_lin(cpu);
    cpu->exit.unimpl.linear = lin;
    cpu->exit.unimpl.len = 0;
    for (unsigned i = 0; i < X86_MAX_INSN_LEN; i++) {
        uint64_t gpa;
        uint32_t err;
        const uint8_t *p = x86_probe_page(cpu, x86_lin_wrap(cpu, lin + i), X86_ACCESS_READ, &gpa, &err);
        if (!p) break;
        cpu->exit.unimpl.bytes[i] = *p;
        cpu->exit.unimpl.len = (uint8_t)(i + 1);
    }
    snprintf(cpu->exit.unimpl.reason, sizeof cpu->exit.unimpl.reason, "%s", reason);
}

/* Leaves with X86_EXIT_UNIMPLEMENTED for the current instruction. */
void x86_unimplemented(X86Cpu *cpu, const char *reason)
{
    record_unimplemented(cpu, reason);
    x86_exit(cpu, X86_EXIT_UNIMPLEMENTED);
}

void x86_defer_unimplemented(X86Cpu *cpu, const char *reason)
{
    if (cpu->deferred_unimpl) return;   /* the first reason is the one reported */
    record_unimplemented(cpu, reason);
    cpu->exit.rip = cpu->rip;
    cpu->exit.linear = x86_code_lin(cpu);
    cpu->deferred_unimpl = true;
}

/* ---------------------------------------------------------------------------------- */
/* Run loop                                                                             */
/* ---------------------------------------------------------------------------------- */

static void event_check_update(X86Cpu *cpu)
{
    cpu->event_check = cpu->intr_vector >= 0 || cpu->nmi_pending || cpu->irq_window_exit ||
                       cpu->debug_trap_pending;
    if (cpu->event_check) x86_jit_stop_chaining(cpu);
}

bool x86_cpu_interruptible(const X86Cpu *cpu)
{
    return (cpu->flags & X86_FLAG_IF) && !cpu->interrupt_shadow;
}

/* Whether sample_events would act now: a pending trap, an NMI not blocked, or INTR (or
 * an interrupt-window request) with IF=1 and no shadow. An event that waits otherwise
 * can only become ready through an instruction that ends its block (STI, POPF, IRET, a
 * task switch: not plain ends, after which the run loop samples) or from outside the
 * run (which starts by sampling). */
static inline bool event_ready(const X86Cpu *cpu)
{
    if (cpu->debug_trap_pending) return true;
    if (cpu->nmi_pending && !cpu->nmi_blocked && !(cpu->interrupt_shadow & 2)) return true;
    return (cpu->intr_vector >= 0 || cpu->irq_window_exit) && x86_cpu_interruptible(cpu);
}

/* Instructions blocks may run chained while an event waits masked before the run loop
 * samples it again: the bound on interrupt latency the IF=1 paths above do not cover
 * (and on the staleness of a pin the sampling alone would see). Returning to the loop
 * after every block instead costs about a quarter of a Linux boot, whose decompressor and
 * long stretches of kernel run with IF=0 and a timer interrupt pending (issue 28). */
#define EVENT_SAMPLE_SLICE 1024

/* Translated code's budget for going on into the next block (jit_chain_limit): the run's,
 * less a block, or 0 while an event is ready or a stop is requested, or the next sample
 * while an event waits masked. Set before the stop request is read, as
 * x86_cpu_request_stop sets the request before zeroing it, so one of the two sees the
 * other. */
static void chain_limit_set(X86Cpu *cpu, uint64_t limit)
{
    uint64_t v = limit >= BLOCK_MAX ? limit - BLOCK_MAX : 0;
    if (cpu->event_check) {
        if (event_ready(cpu)) {
            v = 0;
        } else {
            if (cpu->instructions_retired >= cpu->event_sample_at)
                cpu->event_sample_at = cpu->instructions_retired + EVENT_SAMPLE_SLICE;
            if (v > cpu->event_sample_at) v = cpu->event_sample_at;
        }
    }
    /* (a locked store costs more than the rest of a block boundary: the value found
     * there, when it is v, was stored before any stop request that the load below
     * misses zeroes it) */
    if (__atomic_load_n(&cpu->jit_chain_limit, __ATOMIC_SEQ_CST) != v)
        __atomic_store_n(&cpu->jit_chain_limit, v, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&cpu->stop_request, __ATOMIC_SEQ_CST)) x86_jit_stop_chaining(cpu);
}

/* At an instruction boundary: takes a pending NMI (blocked by MOV SS, SDM Vol. 3A, 6.8.3,
 * and by an NMI handler until IRET, 6.7.1), else an external interrupt when IF=1 and no
 * shadow (6.8.1), else ends the run when the kernel asked for an interrupt window. The
 * delivery itself may fault (vector past the IVT limit): that longjmps like any fault. */
static void __attribute__((noinline)) sample_events(X86Cpu *cpu)
{
    /* A trap of the previous instruction comes before NMI and INTR (SDM Vol. 3A, 6.9):
     * here the T bit of the TSS a task switch loaded (7.2.1), DR6.BT. */
    if (cpu->debug_trap_pending) {
        cpu->debug_trap_pending = false;
        event_check_update(cpu);
        cpu->dr[6] |= X86_DR6_BT;
        cpu->next_rip = cpu->rip;
        x86_deliver_event(cpu, X86_EXC_DB, X86_EVENT_EXCEPTION, false, 0);
        return;
    }
    if (cpu->nmi_pending && !cpu->nmi_blocked && !(cpu->interrupt_shadow & 2)) {
        cpu->nmi_pending = false;
        cpu->nmi_blocked = true;
        event_check_update(cpu);
        cpu->next_rip = cpu->rip;
        x86_deliver_event(cpu, X86_EXC_NMI, X86_EVENT_NMI, false, 0);
        return;
    }
    if (!x86_cpu_interruptible(cpu))
        return;
    if (cpu->intr_vector >= 0) {
        int v = cpu->intr_vector;
        cpu->intr_vector = -1;
        event_check_update(cpu);
        cpu->next_rip = cpu->rip;
        x86_deliver_event(cpu, v, X86_EVENT_EXTERNAL, false, 0);
    } else if (cpu->irq_window_exit) {
        cpu->exit.rip = cpu->rip;
        cpu->exit.linear = x86_code_lin(cpu);
        cpu->exit.insn_len = 0;
        cpu->run_exit = X86_EXIT_IRQ_WINDOW;
    }
}

void x86_cpu_set_intr(X86Cpu *cpu, int vector)
{
    cpu->intr_vector = vector >= 0 && vector <= 255 ? vector : -1;
    event_check_update(cpu);
}

void x86_cpu_set_a20(X86Cpu *cpu, bool enabled)
{
    uint64_t mask = enabled ? ~0ull : ~(1ull << 20);
    if (mask != cpu->a20_mask) {
        cpu->a20_mask = mask;
        x86_cpu_tlb_flush(cpu);   /* every cached translation and block key moved */
    }
}

void x86_cpu_set_nmi(X86Cpu *cpu)
{
    cpu->nmi_pending = true;
    event_check_update(cpu);
}

void x86_cpu_request_irq_window(X86Cpu *cpu, bool on)
{
    cpu->irq_window_exit = on;
    event_check_update(cpu);
}

/* Executes the block's instructions, at most n. */
static inline void run_block(X86Cpu *cpu, const X86Block *b, uint32_t n)
{
    const X86Insn *in = b->insns;
    cpu->insn_end = LIKELY(n >= b->n) ? b->insns_end : (uintptr_t)(in + n);
    do {
        cpu->next_rip = in->next_ip;   /* the block starts at b->ip = cpu->rip */
        in->fn(cpu, in);
        cpu->rip = cpu->next_rip;
        cpu->instructions_retired++;
        in++;
    } while ((uintptr_t)in < cpu->insn_end);
}

/* Runs the block, at most n instructions: its translation when it has one and may run
 * whole, else its handlers (translating it once it has run jit_threshold times). A
 * translation may go on into the blocks after it (as the loop below would): returns the
 * last block that ran. */
static inline X86Block *run_block_fast(X86Cpu *cpu, X86Block *b, uint32_t n)
{
    if (b->jit && LIKELY(n >= b->n)) {
        /* Links between translations were checked against the CS limit when made: only
         * a block-ending instruction, after which translated code returns here, or the
         * host can change it. */
        if (UNLIKELY(cpu->cs.limit != cpu->jit_linked_cs_limit)) {
            cpu->jit_linked_cs_limit = cpu->cs.limit;
            x86_links_invalidate(cpu);
        }
        /* nonzero while translated code runs: a handler that ends a block zeroes it */
        cpu->insn_end = b->insns_end;
        X86Block *last = x86_jit_enter(b->jit, cpu);
        if (LIKELY(last != NULL)) return last;
    } else if (UNLIKELY(++b->runs == cpu->jit_threshold)) {
        /* IA-32e code (64-bit and compatibility mode: 64-bit addresses, REX registers,
         * canonical checks, 64-bit stacks) runs through the handlers only: the JIT
         * emits the legacy modes' forms alone. */
        if (b->mode >= X86_MODE_COMPAT16) return (run_block(cpu, b, n), b);
        if (x86_jit_translate(&cpu->code->jit, cpu, b)) cpu->jit_translated++;
        else cpu->code->jit_full = cpu->code->jit.base != NULL;
    }
    run_block(cpu, b, n);
    return b;
}

/* Bytes an x86 breakpoint covers (DR7 LEN encoding, SDM Vol. 3A, 18.2.5). */
static unsigned dr_len(unsigned len) { return len == 0 ? 1 : len == 1 ? 2 : len == 3 ? 4 : 8; }

/* An instruction breakpoint at CS:RIP, unless it is the one the last exit reported (the
 * RF flag's role, SDM Vol. 3A, 18.3.1.1). Sets dbg_dr6. */
static bool debug_exec_hit(X86Cpu *cpu)
{
    uint64_t lin = x86_code_lin(cpu);
    uint64_t resume = cpu->dbg_resume_linear;
    cpu->dbg_resume_linear = ~0ull;
    uint32_t hits = 0;
    for (int i = 0; i < 4; i++)
        if (X86_DR7_ENABLED(cpu->dbg_dr7, i) && X86_DR7_RW(cpu->dbg_dr7, i) == 0 &&
            cpu->dbg_addr[i] == lin)
            hits |= 1u << i;
    if (!hits || lin == resume) return false;
    cpu->dbg_dr6 = hits;
    cpu->dbg_event = X86_DBG_EVENT_BREAKPOINT;
    cpu->dbg_resume_linear = lin;
    return true;
}

/* A data access [lin, lin + size) by the current instruction (mmu.c's slow paths: pages
 * with a data breakpoint get no TLB entries). A hit ends the run after the instruction. */
void x86_debug_data_access(X86Cpu *cpu, uint64_t lin, unsigned size, bool write)
{
    uint32_t hits = 0;
    for (int i = 0; i < 4; i++) {
        unsigned rw = X86_DR7_RW(cpu->dbg_dr7, i);
        if (!X86_DR7_ENABLED(cpu->dbg_dr7, i) || rw == 0 || rw == 2 || (rw == 1 && !write))
            continue;
        uint64_t a = cpu->dbg_addr[i], n = dr_len(X86_DR7_LEN(cpu->dbg_dr7, i));
        if (lin < a + n && a < lin + size) hits |= 1u << i;
    }
    if (!hits) return;
    cpu->dbg_dr6 |= hits;
    cpu->dbg_event = X86_DBG_EVENT_BREAKPOINT;
    if (cpu->run_exit == X86_EXIT_NONE) cpu->run_exit = X86_EXIT_DEBUG;
    x86_end_block(cpu);
}

/* Whether the linear page holds a data breakpoint (no TLB entry for it then). */
bool x86_debug_page_watched(const X86Cpu *cpu, uint64_t lin_page)
{
    for (int i = 0; i < 4; i++) {
        unsigned rw = X86_DR7_RW(cpu->dbg_dr7, i);
        if (!X86_DR7_ENABLED(cpu->dbg_dr7, i) || rw == 0 || rw == 2) continue;
        uint64_t a = cpu->dbg_addr[i], n = dr_len(X86_DR7_LEN(cpu->dbg_dr7, i));
        if ((a >> 12) <= lin_page && lin_page <= ((a + n - 1) >> 12)) return true;
    }
    return false;
}

void x86_cpu_set_debug(X86Cpu *cpu, uint32_t flags, uint32_t dr7, const uint64_t addr[4])
{
    cpu->dbg_flags = flags;
    cpu->dbg_dr7 = dr7;
    for (int i = 0; i < 4; i++) cpu->dbg_addr[i] = addr ? (uint32_t)addr[i] : 0;
    cpu->dbg_resume_linear = ~0ull;
    x86_cpu_tlb_invalidate(cpu);
}

/* The block that runs after `from` (a block with a plain end, so CS, the mode and the
 * paging state are those of its own lookup) at the current RIP, when one of its links
 * still holds: no translation or decoded block has gone since the link was made
 * (chain_gen) and the target's bytes are known current (code epoch). Else NULL. */
static inline bool link_current(const X86Cpu *cpu, const BlockLink *l)
{
    return l->gen == x86_gen_at(cpu, l->gen_off);
}

static inline X86Block *chain_follow(X86Cpu *cpu, const X86Block *from)
{
    uint64_t rip = cpu->rip;
    const BlockLink *l = &from->out[0];
    if (l->ip != rip) l++;
    if (l->ip == rip && link_current(cpu, l) && LIKELY(l->to->epoch == cpu->code_epoch))
        return l->to;
    return NULL;
}

/* Links `from` to `to` (which starts at the current RIP, just looked up): into a slot for
 * the same RIP or a stale one, else the newest link goes first. */
static inline void chain_install(X86Cpu *cpu, X86Block *from, X86Block *to)
{
    uint32_t off = x86_link_gen_off(cpu, to, x86_code_lin(cpu));
    BlockLink nl = { cpu->rip, to, x86_gen_at(cpu, off), off };
    for (int i = 0; i < 2; i++) {
        if (from->out[i].ip == nl.ip || !link_current(cpu, &from->out[i])) {
            from->out[i] = nl;
            return;
        }
    }
    from->out[1] = from->out[0];
    from->out[0] = nl;
}

/* The slow path at a block boundary: an interrupt shadow, TF, an MMIO read's replay or
 * host debugging. Runs one block (one instruction when single-stepping) without links. */
static void __attribute__((noinline)) run_block_slow(X86Cpu *cpu, uint32_t n)
{
    /* An MMIO read's replay re-executes an instruction already past its check. */
    if ((cpu->dbg_flags & X86_DBG_EXEC) && !cpu->mmio_replay_n && debug_exec_hit(cpu)) {
        cpu->run_exit = X86_EXIT_DEBUG;
        return;
    }
    uint32_t shadow = cpu->interrupt_shadow;
    bool tf = cpu->flags & X86_FLAG_TF;
    bool single = shadow || tf || cpu->mmio_replay_n || (cpu->dbg_flags & X86_DBG_EXEC);
    X86Block *b = block_lookup(cpu);
    uint64_t events = cpu->events_delivered;
    if (single) {
        n = 1;
        cpu->shadow_saved = shadow;
        cpu->shadow_active = shadow != 0;
        cpu->interrupt_shadow = 0;
    }
    cpu->pending = 0;
    run_block(cpu, b, n);
    if (single) {
        cpu->shadow_active = false;
        cpu->mmio_replay_n = cpu->mmio_replay_pos = 0;
        /* Single-step trap after the instruction (SDM Vol. 3A, 18.3.1.4); after MOV SS
         * / POP SS it is delayed to the end of the next instruction (SDM Vol. 2B, MOV). */
        if (tf && !(cpu->interrupt_shadow & 2) && cpu->run_exit == X86_EXIT_NONE &&
            cpu->events_delivered == events) {   /* not after INT n (TF cleared) */
            cpu->next_rip = cpu->rip;
            cpu->dr[6] |= X86_DR6_BS;   /* single step (SDM Vol. 3A, 18.2.3) */
            x86_deliver_event(cpu, X86_EXC_DB, X86_EVENT_EXCEPTION, false, 0);
        }
    }
}

/* The reference path (cpu->slow_path, for the differential test): every instruction is
 * looked up through the hash table and runs alone, and its flags are computed at once
 * (no lazy state survives an instruction). */
static void __attribute__((noinline)) run_insn_reference(X86Cpu *cpu)
{
    X86Block *b = block_lookup(cpu);
    cpu->pending = 0;
    run_block(cpu, b, 1);
    flags_get(cpu);
}

/* The checks a block boundary needs only after a block that may have changed the state
 * they look at (a block without a plain end, an event, an exception, the start of a run):
 * the TLB's privilege level and whether the slow path must run. */
static inline bool boundary_slow(X86Cpu *cpu)
{
    /* Each privilege level has its TLB half: a change of CPL (which only a block-ending
     * instruction or an event can make) switches halves (mmu.c). Links stay valid: a
     * block is decoded for one level (its key's `user`), so its links lead to blocks of it. */
    cpu->tlb_user = x86_cpl(cpu) == 3;
    return cpu->interrupt_shadow | (cpu->flags & X86_FLAG_TF) | cpu->mmio_replay_n |
           cpu->dbg_flags | cpu->slow_path;
}

static void __attribute__((noinline)) run_loop(X86Cpu *cpu, uint64_t limit)
{
    /* The block that ran last when it had a plain end and nothing else happened since
     * (no event, no pending end): the next block may come through its links. */
    X86Block *prev = NULL;
    chain_limit_set(cpu, limit);
    for (;;) {
        if (UNLIKELY(__atomic_load_n(&cpu->stop_request, __ATOMIC_RELAXED))) {
            cpu->run_exit = X86_EXIT_STOPPED;
            return;
        }
        uint32_t n = BLOCK_MAX;
        if (UNLIKELY(cpu->instructions_retired + BLOCK_MAX > limit)) {
            if (cpu->instructions_retired >= limit) {
                cpu->run_exit = X86_EXIT_BUDGET;
                return;
            }
            n = (uint32_t)(limit - cpu->instructions_retired);
        }
        /* After the budget: an event that became deliverable with the last instruction
         * of a budget (a step, an icount deadline) is taken at the next run. */
        if (UNLIKELY(cpu->event_check)) {
            uint64_t events = cpu->events_delivered;
            sample_events(cpu);
            if (cpu->run_exit != X86_EXIT_NONE) return;
            if (cpu->events_delivered != events) prev = NULL;
            chain_limit_set(cpu, limit);
        }
        X86Block *b;
        if (prev) {
            b = chain_follow(cpu, prev);
            if (UNLIKELY(!b)) {
                uint32_t gen = cpu->chain_gen;
                b = block_lookup(cpu);
                /* (a lookup that emptied the cache has bumped chain_gen: prev is gone) */
                if (cpu->chain_gen == gen) chain_install(cpu, prev, b);
            }
        } else if (UNLIKELY(boundary_slow(cpu))) {
            if (cpu->slow_path) run_insn_reference(cpu);
            else run_block_slow(cpu, n);
            if (UNLIKELY(cpu->run_exit != X86_EXIT_NONE)) return;
            continue;
        } else {
            b = block_lookup(cpu);
        }
        cpu->pending = 0;
        /* Blocks that follow each other through links run here, with only the checks a
         * plain end leaves to make: a stop request, an event, the budget. */
        for (;;) {
            b = run_block_fast(cpu, b, n);
            if (UNLIKELY(cpu->run_exit != X86_EXIT_NONE)) return;
            if (!b->plain_end || cpu->pending) {
                prev = NULL;
                break;
            }
            prev = b;
            if (UNLIKELY(__atomic_load_n(&cpu->stop_request, __ATOMIC_RELAXED)))
                break;
            if (UNLIKELY(cpu->event_check) &&
                (event_ready(cpu) || cpu->instructions_retired >= cpu->event_sample_at))
                break;
            if (UNLIKELY(cpu->instructions_retired + BLOCK_MAX > limit)) break;
            X86Block *next = chain_follow(cpu, b);
            if (UNLIKELY(!next)) break;
            b = next;
            n = BLOCK_MAX;
        }
    }
}

X86Exit x86_cpu_run(X86Cpu *cpu, uint64_t max_instructions)
{
    uint64_t limit = max_instructions ? cpu->instructions_retired + max_instructions : UINT64_MAX;
    if (cpu->mmio_wq_head < cpu->mmio_wq_n) {
        /* the next MMIO write of the last instruction */
        int i = cpu->mmio_wq_head++;
        cpu->exit.mmio.gpa = cpu->mmio_wq[i].gpa;
        cpu->exit.mmio.linear = cpu->mmio_wq[i].linear;
        cpu->exit.mmio.size = cpu->mmio_wq[i].size;
        cpu->exit.mmio.data = cpu->mmio_wq[i].data;
        cpu->exit.mmio.is_write = true;
        cpu->exit.reason = X86_EXIT_MMIO;
        return X86_EXIT_MMIO;
    }
    cpu->mmio_wq_n = cpu->mmio_wq_head = 0;
    if (UNLIKELY(cpu->deferred_unimpl)) {   /* exit.unimpl was filled then */
        cpu->deferred_unimpl = false;
        cpu->run_exit = cpu->exit.reason = X86_EXIT_UNIMPLEMENTED;
        return X86_EXIT_UNIMPLEMENTED;
    }
    cpu->run_exit = X86_EXIT_NONE;
    x86_update_mode(cpu);   /* the host may have set registers since the last run */
    cpu->dbg_event = X86_DBG_EVENT_NONE;
    cpu->dbg_dr6 = 0;
    cpu->shadow_active = false;
    cpu->activity_state = X86_ACTIVITY_ACTIVE;   /* the kernel resumes a halted CPU */
    /* an MMIO exit may have left in the middle of an implicit supervisor access */
    cpu->implicit_supervisor = false;
    switch (setjmp(cpu->jmp)) {
    case 0:
        if (cpu->pending_vector >= 0) {
            int v = cpu->pending_vector;
            cpu->pending_vector = -1;
            cpu->next_rip = cpu->rip;
            x86_deliver_event(cpu, v, X86_EVENT_EXCEPTION, cpu->pending_has_error,
                              cpu->pending_error);
        }
        break;
    case 1: /* an exception was delivered: go on (after reporting an MMIO write the
             * faulting instruction made first) */
        cpu->pending = 0;
        cpu->shadow_active = false;
        if (cpu->run_exit != X86_EXIT_NONE) goto out;
        break;
    default: /* an exit */
        goto out;
    }
    run_loop(cpu, limit);
out:
    cpu->pending = 0;
    cpu->event_depth = 0;
    X86Exit e = cpu->run_exit;
    /* A stop request is sticky: it is consumed only by the run that reports it. A request
     * that lands while this run leaves for another exit (CPUID, an MSR, I/O) stays set, so
     * the next run, which the kernel may start at once for an exit it handles itself,
     * returns X86_EXIT_STOPPED before executing anything (issue 15, item 1). */
    if (e == X86_EXIT_STOPPED)
        __atomic_store_n(&cpu->stop_request, 0, __ATOMIC_RELAXED);
    cpu->exit.reason = e;
    if (e == X86_EXIT_MMIO && !cpu->exit.mmio.is_write) cpu->mmio_replay_pos = 0;
    return e;
}

void x86_cpu_request_stop(X86Cpu *cpu)
{
    __atomic_store_n(&cpu->stop_request, 1, __ATOMIC_SEQ_CST);
    x86_jit_stop_chaining(cpu);
}

void x86_cpu_complete_mmio(X86Cpu *cpu, uint64_t data)
{
    int n = cpu->mmio_replay_n;
    if (n >= (int)(sizeof cpu->mmio_replay / sizeof cpu->mmio_replay[0])) return;
    cpu->mmio_replay[n] = data;
    cpu->mmio_replay_gpa[n] = cpu->exit.mmio.gpa;
    cpu->mmio_replay_n = n + 1;
    cpu->mmio_replay_pos = 0;
}

void x86_cpu_skip_instruction(X86Cpu *cpu)
{
    X86Mode mode = x86_mode_of(cpu);
    uint64_t mask = mode == X86_MODE_LONG64 ? ~0ull : x86_mode_code32(mode) ? 0xFFFFFFFFull : 0xFFFFull;
    cpu->rip = (cpu->rip + cpu->exit.insn_len) & mask;
    cpu->interrupt_shadow = 0;
    cpu->instructions_retired++;
    x86_single_step_after_exit(cpu);
}

/* An instruction completed outside the run loop (after an exit) under TF: its
 * single-step trap is delivered at the start of the next run. */
void x86_single_step_after_exit(X86Cpu *cpu)
{
    if ((cpu->flags & X86_FLAG_TF) && cpu->pending_vector < 0) {
        cpu->dr[6] |= X86_DR6_BS;
        cpu->pending_vector = X86_EXC_DB;
        cpu->pending_has_error = false;
    }
}

int x86_cpu_raise_exception(X86Cpu *cpu, int vector, bool has_error_code, uint32_t error_code)
{
    if (vector < 0 || vector > 255) return -EINVAL;
    cpu->fault_error = has_error_code ? error_code : 0;   /* real mode pushes none */
    cpu->pending_vector = vector;
    cpu->pending_has_error = has_error_code;
    cpu->pending_error = error_code;
    return 0;
}

/* ---------------------------------------------------------------------------------- */
/* Life cycle                                                                           */
/* ---------------------------------------------------------------------------------- */

X86Cpu *x86_cpu_create(X86PageFn page_fn, void *opaque)
{
    if (!page_fn) return NULL;
    X86Cpu *cpu = calloc(1, sizeof *cpu);
    if (!cpu) return NULL;
    cpu->code = calloc(1, sizeof *cpu->code);
    if (!cpu->code) goto fail_cpu;
    cpu->jump_cache = cpu->code->jump_cache;
    cpu->code->arena = malloc(ARENA_SIZE);
    if (!cpu->code->arena) goto fail_code;
    cpu->code->bitmap = calloc(1, CODE_BITMAP_PAGES / 8);
    if (!cpu->code->bitmap) goto fail_arena;
    /* without executable memory the handlers run every block */
    if (x86_jit_arena_init(&cpu->code->jit, JIT_ARENA_SIZE)) {
        cpu->jit_threshold = JIT_THRESHOLD;
        cpu->jit_exec_delta = cpu->code->jit.exec_delta;
    }
    cpu->page_fn = page_fn;
    cpu->page_opaque = opaque;
    x86_cpu_reset(cpu);
    return cpu;
fail_arena:
    free(cpu->code->arena);
fail_code:
    free(cpu->code);
fail_cpu:
    free(cpu);
    return NULL;
}

void x86_cpu_share_code(X86Cpu *cpu, X86Cpu *peer)
{
    if (!cpu || !peer || cpu == peer || cpu->code_peer) return;
    cpu->code_peer = peer->code_peer ? peer->code_peer : peer;
    peer->code_peer = cpu;
    /* Code the others decoded is now write-protected for this one too. */
    x86_cpu_tlb_invalidate(cpu);
}

void x86_cpu_destroy(X86Cpu *cpu)
{
    if (!cpu) return;
    if (cpu->code_peer) {   /* leave the ring */
        X86Cpu *prev = cpu->code_peer;
        while (prev->code_peer != cpu) prev = prev->code_peer;
        prev->code_peer = cpu->code_peer == prev ? NULL : cpu->code_peer;
    }
    x86_jit_arena_free(&cpu->code->jit);
    free(cpu->code->bitmap);
    free(cpu->code->arena);
    free(cpu->code);
    free(cpu);
}

/* SDM Vol. 3A, 10.1.1, Table 10-1 (processor state following power-up/reset). */
void x86_cpu_reset(X86Cpu *cpu)
{
    memset(cpu->gpr, 0, sizeof cpu->gpr);
    cpu->gpr[X86_RDX] = 0x600;
    cpu->rip = 0xFFF0;
    for (int i = 0; i < 6; i++) {
        cpu->seg[i].selector = 0;
        cpu->seg[i].base = 0;
        cpu->seg[i].limit = 0xFFFF;
        /* present, read/write data, accessed; CS: execute/read code, accessed */
        cpu->seg[i].attr = X86_AR_P | X86_AR_S | 0x3;
    }
    cpu->cs.selector = 0xF000;
    cpu->cs.base = 0xFFFF0000ull;
    cpu->cs.attr = X86_AR_P | X86_AR_S | 0xB;
    cpu->ldtr = (X86Segment){ 0, 0, 0xFFFF, X86_AR_P | 0x2 };
    cpu->tr = (X86Segment){ 0, 0, 0xFFFF, X86_AR_P | 0xB };
    cpu->gdtr = (X86DescTable){ 0, 0xFFFF };
    cpu->idtr = (X86DescTable){ 0, 0x3FF };
    cpu->cr0 = 0x60000010;
    cpu->cr2 = cpu->cr3 = cpu->cr4 = cpu->cr8 = 0;
    memset(cpu->dr, 0, sizeof cpu->dr);
    cpu->dr[6] = 0xFFFF0FF0;
    cpu->dr[7] = 0x400;
    cpu->efer = 0;
    cpu->sysenter_cs = cpu->sysenter_esp = cpu->sysenter_eip = 0;
    cpu->fpu_cw = 0x0040;   /* x87 power-on state (SDM Vol. 3A, Table 10-1) */
    cpu->fpu_sw = 0;
    cpu->fpu_tw = 0x5555;   /* R0-R7 hold +0.0 */
    memset(cpu->fpu_reg, 0, sizeof cpu->fpu_reg);
    cpu->fpu_fop = cpu->fpu_fcs = cpu->fpu_fds = 0;
    cpu->fpu_fip = cpu->fpu_fdp = 0;
    memset(cpu->xmm, 0, sizeof cpu->xmm);
    cpu->mxcsr = 0x1F80;    /* all SIMD exceptions masked (SDM Vol. 3A, Table 10-1) */
    cpu->implicit_supervisor = false;
    cpu->tlb_user = false;
    cpu->flags = X86_FLAG_FIXED;
    x86_update_mode(cpu);
    cpu->lf_op = LF_NONE;
    cpu->interrupt_shadow = 0;
    cpu->pending_vector = -1;
    cpu->intr_vector = -1;
    cpu->nmi_pending = cpu->nmi_blocked = cpu->irq_window_exit = false;
    cpu->debug_trap_pending = false;
    cpu->event_check = 0;
    cpu->activity_state = X86_ACTIVITY_ACTIVE;
    cpu->a20_mask = ~0ull;
    cpu->mmio_replay_n = cpu->mmio_replay_pos = 0;
    cpu->mmio_wq_n = cpu->mmio_wq_head = 0;
    cpu->io_pending = false;
    cpu->deferred_unimpl = false;
    cpu->dbg_resume_linear = ~0ull;
    memset(&cpu->exit, 0, sizeof cpu->exit);
    x86_cpu_tlb_flush(cpu);
}

void x86_cpu_tlb_invalidate(X86Cpu *cpu)
{
    x86_links_invalidate(cpu);
    for (unsigned i = 0; i < 2 * X86_TLB_SIZE; i++) {
        cpu->tlb[i].tag_read = cpu->tlb[i].tag_write = cpu->tlb[i].tag_exec = ~0ull;
        cpu->tlb[i].global = false;
        cpu->tlb[i].host = NULL;
        cpu->tlb[i].gpa_page = ~0ull;
    }
    memset(cpu->tlb_large, 0, sizeof cpu->tlb_large);
}

void x86_cpu_tlb_flush(X86Cpu *cpu)
{
    x86_cpu_tlb_invalidate(cpu);
    cpu->pdpte_loaded = false;     /* the host changed the registers: read them again */
    code_flush_all(cpu);
}

void x86_cpu_invalidate_code(X86Cpu *cpu, uint64_t gpa, uint64_t len)
{
    if (len == 0) return;
    uint64_t first = gpa & ~0xFFFull, last = (gpa + len - 1) & ~0xFFFull;
    if ((last - first) >> 12 > 64) {
        code_flush_all(cpu);
        for (X86Cpu *peer = cpu->code_peer; peer && peer != cpu; peer = peer->code_peer)
            x86_cpu_host_wrote_memory(peer);   /* each block checked before it runs */
        return;
    }
    x86_invalidate_range(cpu, gpa, len);
}

const char *x86_exit_name(X86Exit e)
{
    static const char *const names[] = {
        "NONE", "HLT", "IO", "MMIO", "CPUID", "RDMSR", "WRMSR", "TRIPLE_FAULT",
        "UNIMPLEMENTED", "STOPPED", "BUDGET", "INVALID_STATE", "IRQ_WINDOW", "VMCALL", "DEBUG",
    };
    return (unsigned)e < sizeof names / sizeof names[0] ? names[e] : "?";
}

void x86_cpu_update_mode(X86Cpu *cpu) { x86_update_mode(cpu); }
