/*
 * Internals of the x86 interpreter shared by its files: the decoded instruction, the
 * handler signature, register and memory access helpers, lazy flags.
 */
#ifndef SCRATCHVM_SIM_CPU_INTERNAL_H
#define SCRATCHVM_SIM_CPU_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "sim/cpu/cpu.h"
#include "sim/cpu/pagewalk.h"

#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#define NORETURN __attribute__((noreturn))

/* ---------------------------------------------------------------------------------- */
/* Decoded instructions                                                                 */
/* ---------------------------------------------------------------------------------- */

typedef struct X86Insn X86Insn;
/* Every handler: executes one decoded instruction. cpu->rip is the instruction's address,
 * cpu->next_rip the next one's (a handler that transfers control changes next_rip). Faults
 * leave through x86_fault() and never return. */
typedef void (*X86Handler)(X86Cpu *cpu, const X86Insn *in);

#define X86_REG_NONE 16   /* no register: cpu->gpr_ea[16] is always 0 */
/* Byte registers: 0-3 AL-BL, 4-7 AH-BH, 8-15 R8B-R15B; with a REX prefix the decoder
 * names SPL, BPL, SIL, DIL 20-23 (the low byte of gpr[r & 15]). */
#define X86_REG_BYTE_REX 16

/* Prefix bits in X86Insn.prefix. */
#define PFX_REP    1u   /* F3 */
#define PFX_REPNE  2u   /* F2 */
#define PFX_LOCK   4u
#define PFX_SEG    8u   /* a segment override was given */
#define PFX_OPSIZE 16u
#define PFX_ADSIZE 32u
#define PFX_REX    64u  /* a REX prefix (64-bit mode): byte registers 4-7 are SPL-DIL */
#define PFX_REXW   128u /* REX.W */

struct X86Insn {
    X86Handler fn;
    uint16_t op;          /* opcode; 0x100 | byte for 0F xx */
    uint8_t len;
    uint8_t osz;          /* operand size: 2, 4 or 8 (byte forms know they are bytes) */
    uint8_t asz;          /* address size: 2, 4 or 8 */
    uint8_t prefix;
    uint8_t seg;          /* segment of the memory operand (override or default) */
    uint8_t mod, reg, rm; /* ModR/M fields; mod 3: rm is a register */
    uint8_t base, index, scale; /* effective address: base/index registers or NONE */
    uint8_t has_modrm;    /* bit 0: a ModR/M byte; bit 1: RIP-relative (disp holds the
                           * absolute offset, next IP included: blocks are keyed by IP) */
    uint32_t imm2;        /* far pointer selector, ENTER nesting level */
    uint64_t next_ip;     /* in a decoded block: IP of the next instruction */
    int64_t disp;         /* displacement (moffs: the offset), sign-extended */
    uint64_t imm;         /* immediate, sign-extended to 64 bits where the SDM extends it */
};

/* Operation classes of opcodes.def: what specialised handlers (cpu_spec.c) and host code
 * (jit.c) are chosen by. E = ModR/M r/m, G = ModR/M reg, Z = register in the opcode's low
 * three bits, A = the accumulator, I = immediate, O = moffs. */
enum {
    OC_NONE,      /* the generic handler only */
    OC_ALU_EG, OC_ALU_GE, OC_ALU_AI, OC_GRP1,   /* argument: the ALU operation */
    OC_TEST_EG, OC_TEST_AI, OC_GRP3,
    OC_INC_Z, OC_DEC_Z, OC_PUSH_Z, OC_POP_Z, OC_GRP4, OC_GRP5,
    OC_MOV_EG, OC_MOV_GE, OC_MOV_ZI, OC_MOV_EI, OC_MOV_AO, OC_MOV_OA, OC_LEA, OC_NOP,
    OC_SHIFT,     /* group 2; argument: the count (0 imm8, 1 one, 2 CL) */
    OC_JCC, OC_CMOV, OC_SETCC,                  /* argument: the condition code */
    OC_JMP_REL, OC_CALL_REL, OC_RET, OC_RET_IW, OC_LOOP,
    OC_IMUL3, OC_IMUL2, OC_MOVX,                /* MOVX argument: 1 sign-extends */
};
/* Operand width of a class's operation (opcodes.def). */
enum { W_N, W_B, W_V, W_W };

typedef struct X86OpInfo {
    X86Handler fn;
    uint16_t flags;       /* OPF_* below */
    uint8_t cls;          /* OC_* */
    uint8_t carg;         /* the class's argument */
    uint8_t width;        /* W_* */
} X86OpInfo;
/* Generated from opcodes.def (decode.c): indexed by X86Insn.op & 0x1FF. */
extern const X86OpInfo x86_optab[512];
static inline const X86OpInfo *x86_opinfo(unsigned op) { return &x86_optab[op & 0x1FF]; }
/* The size in bytes of the class operation's operand (W_B 1, W_W 2, W_V the operand size). */
static inline unsigned x86_op_width(const X86Insn *in)
{
    switch (x86_opinfo(in->op)->width) {
    case W_B: return 1;
    case W_W: return 2;
    default: return in->osz;
    }
}

/* Decoder hints per opcode (decode.c). */
#define OPF_MODRM  1u     /* has a ModR/M byte */
#define OPF_IMM8   2u     /* imm8 */
#define OPF_IMMV   4u     /* imm16/32 by operand size */
#define OPF_IMM16  8u     /* imm16 */
#define OPF_END    16u    /* ends a block (control transfer, mode change, exit) */
#define OPF_FAR    32u    /* ptr16:16/32 */
#define OPF_MOFFS  64u    /* moffs by address size */
#define OPF_REL    128u   /* IP-relative branch (imm is a displacement) */
#define OPF_LOCK   256u   /* LOCK allowed with a memory destination (groups: some members) */

/* Decodes one instruction at cpu->cs:ip into *in, and the guest-physical address of its
 * last byte into *last_gpa. Returns 0, or the exception vector when
 * the fetch faults (-1: not executable memory, -2: too long). */
int x86_decode(X86Cpu *cpu, uint64_t ip, X86Insn *in, uint64_t *last_gpa);

/* The same decoding from a byte buffer, without a CPU (the disassembler), for code in
 * `mode`.
 * in->op is the plain opcode (no block-end mark) and in->fn the CPU's handler before
 * specialisation (op_ud when LOCK is not allowed). Returns 0, X86_DECODE_TRUNCATED when
 * bytes[0..avail) ends inside the instruction, or X86_EXC_GP past 15 bytes. */
#define X86_DECODE_TRUNCATED (-3)
int x86_decode_bytes(const uint8_t *bytes, size_t avail, X86Mode mode, X86Insn *in);

/* ---------------------------------------------------------------------------------- */
/* Translation to host code (jit.c)                                                     */
/* ---------------------------------------------------------------------------------- */

/* A translated block: runs it whole, maybe goes on into the blocks its links lead to
 * (with the run loop's checks between them), and returns the last block that ran; or
 * returns NULL at once (nothing done) when the block must run through its handlers. */
typedef struct X86Block *(*X86JitFn)(X86Cpu *cpu);
/* One memory object mapped twice (W^X): written through `base`, run at base + exec_delta. */
typedef struct X86JitArena {
    uint8_t *base;            /* the writable view; NULL where the host is not x86-64 */
    intptr_t exec_delta;      /* the executable view's address less the writable's */
    size_t size, used;
} X86JitArena;
bool x86_jit_arena_init(X86JitArena *a, size_t size);
void x86_jit_arena_free(X86JitArena *a);
/* Translates the block into the arena (b->jit, jit_chain, jit_max_target); false when the
 * arena is full (or there is none). */
bool x86_jit_translate(X86JitArena *a, const X86Cpu *cpu, X86Block *b);
/* The flags as the lazy state has them (translated code's call). */
uint32_t x86_jit_flags(X86Cpu *cpu);
/* Patches static exit `exit` of from's translation to go straight on into to's
 * (translated code's call, when its tail found the link). */
void x86_jit_link(X86Cpu *cpu, X86Block *from, uint32_t exit, const X86Block *to);
X86Block *x86_jit_enter(X86JitFn fn, X86Cpu *cpu);
/* Translated code goes back to the run loop at its next block end (an event waits, a stop
 * is requested). */
static inline void x86_jit_stop_chaining(X86Cpu *cpu)
{
    __atomic_store_n(&cpu->jit_chain_limit, 0, __ATOMIC_SEQ_CST);
}

/* The decoded-block cache's blocks (cpu.c), which translated code reads too. */
typedef struct PageLink {
    X86Block *block;
    struct PageLink *next;
} PageLink;

/* A direct link from a block to a block that ran after it: valid while the generation at
 * gen_off in X86Cpu (chain_gen or global_gen: x86_link_gen_off) is `gen` (no translation
 * or block has gone since) and the target's key (IP, CS base, mode) and code epoch are
 * the current ones. */
typedef struct BlockLink {
    uint64_t ip;             /* RIP the target starts at (~0: empty) */
    X86Block *to;
    uint32_t gen, gen_off;
} BlockLink;

struct X86Block {
    X86Block *next;          /* hash chain by gpa */
    PageLink link[2];        /* membership in the lists of first_page and last_page */
    uint64_t gpa;            /* guest-physical address of the first byte */
    uint64_t cs_base;
    uint64_t ip;
    /* Its bytes are one or two pieces, one per guest-physical page: [gpa, gpa + len0) on
     * first_page and, when its last instruction runs onto the next linear page, [last_page,
     * last_page + len1). The two linear pages may map to any two physical pages, the same
     * one included, so no range ever spans from one piece to the other (block_piece). */
    uint64_t first_page, last_page;   /* last_page == first_page when len1 == 0 */
    uint16_t len0, len1;
    X86Mode mode;            /* the mode it was decoded for; with `user`, part of the key */
    bool user;               /* decoded at CPL 3: its translation reads the TLB's user half */
    uint32_t n;
    uint32_t dead;
    uint32_t epoch;          /* cpu->code_epoch when its bytes were last known current */
    /* It ends with a near transfer (Jcc, JMP, CALL, RET, LOOP, JCXZ, FF /2 /4) or with no
     * transfer at all: nothing it does can change CS, the mode, CPL, TF, the interrupt
     * shadow or paging, so the next block may come through a link without those checks. */
    uint32_t plain_end;
    uintptr_t insns_end;     /* (uintptr_t)&insns[n], the block loop's usual bound */
    uint32_t traced;         /* it went on through a JMP/CALL (trace_target): gaps */
    BlockLink out[2];        /* successors (fall-through, branch target, return sites) */
    X86JitFn jit;            /* its translation to host code, or NULL */
    void *jit_chain;         /* where translated code that ran before it goes on into it
                              * (in the executable view) */
    /* Its exits' checks that x86_jit_link patches, or NULL: 0 and 1 for known targets,
     * 2 and 3 for a RET's (jit_next_slot: the one to take over next). */
    uint8_t *jit_exit[4];
    uint32_t jit_next_slot;
    uint32_t jit_max_target; /* the highest branch target it translated (CS limit check) */
    uint32_t runs;           /* runs through its handlers, until jit_threshold */
    X86Insn insns[];         /* then a copy of the block's bytes: piece 0, then piece 1 */
};

/* A block found by its linear key (IP, CS base, mode, CPL 3 or not) under chain
 * generation `gen`: valid while chain_gen stays `gen`, as a link is (no TLB change, no
 * block gone), so it needs no translation of the IP. Returns and indirect jumps, whose
 * targets overflow a block's two links, come here instead of the hash table: the run
 * loop's lookups and translated code's tails (jit.c) both read it. */
struct JumpCacheEntry {
    uint64_t ip, cs_base;
    X86Block *block;
    X86Mode mode;
    bool user;
    uint32_t gen, gen_off;   /* as a BlockLink's */
};
typedef struct JumpCacheEntry JumpCacheEntry;
#define JUMP_CACHE_SIZE 4096u
static inline uint32_t x86_jump_cache_index(uint64_t lin)
{
    return (uint32_t)(lin ^ (lin >> 12)) & (JUMP_CACHE_SIZE - 1);
}

/* ---------------------------------------------------------------------------------- */
/* Control: faults, exits (cpu.c)                                                       */
/* ---------------------------------------------------------------------------------- */

#define X86_PENDING_END 1u    /* leave the block after this instruction */
/* Leaves the block after this instruction: the block loop runs while the address of the
 * next instruction is below cpu->insn_end, so one compare serves as both the block end
 * and the request (no flag to test after every instruction). */
static inline void x86_end_block(X86Cpu *cpu)
{
    cpu->pending |= X86_PENDING_END;
    cpu->insn_end = 0;
}

/* Raises fault `vector` for the current instruction (return address cpu->rip) and leaves
 * it. Real mode pushes no error code; protected mode pushes `error` when has_error.
 * Traps (INT n, INTO, INT3) deliver through x86_deliver_event with cpu->next_rip. */
NORETURN void x86_fault(X86Cpu *cpu, int vector, bool has_error, uint32_t error);

/* What started an event: the kind decides the return address (software interrupts return
 * past the instruction, the others to cpu->rip), the gate-DPL check (software interrupts
 * only, SDM Vol. 3A, 6.12.1.1) and the EXT bit of error codes (all but software). */
typedef enum {
    X86_EVENT_EXCEPTION, X86_EVENT_SOFTWARE_INT, X86_EVENT_EXTERNAL, X86_EVENT_NMI
} X86EventKind;
/* The one delivery function for exceptions, software interrupts (INT n, INT3, INTO),
 * external interrupts and NMI, in every mode: real-mode IVT, protected-mode IDT with
 * interrupt, trap and task gates, stack switch from the TSS, error codes, virtual-8086
 * exits to ring 0 (SDM Vol. 3A, 6.12 and 21.1.4; Vol. 3B, 20.3). Returns with the CPU at
 * the handler's first instruction; a fault during delivery goes through x86_fault, which
 * applies the double-fault rules and longjmps to the run loop, so it must be called from
 * within x86_cpu_run (a handler, the run loop or its start), never from outside. The
 * return address is cpu->next_rip for software interrupts, else cpu->rip: a caller
 * delivering at an instruction boundary sets both to the next instruction. */
void x86_deliver_event(X86Cpu *cpu, int vector, X86EventKind kind, bool has_error,
                       uint32_t error_code);
/* Leaves x86_cpu_run with `reason` (cpu->exit filled by the caller). RIP is cpu->rip. */
NORETURN void x86_exit(X86Cpu *cpu, X86Exit reason);
/* Leaves with X86_EXIT_UNIMPLEMENTED for the current instruction. */
NORETURN void x86_unimplemented(X86Cpu *cpu, const char *reason);
/* The same from outside x86_cpu_run (completing an exit): recorded now for the current
 * instruction, reported by the next run. */
void x86_defer_unimplemented(X86Cpu *cpu, const char *reason);
/* The protected-mode and virtual-8086 part of x86_deliver_event (cpu_seg.c). */
void x86_deliver_protected(X86Cpu *cpu, int vector, X86EventKind kind, bool has_error,
                           uint32_t error_code, uint64_t ret_ip);
void x86_invalidate_range(X86Cpu *cpu, uint64_t gpa, uint64_t len);
void x86_single_step_after_exit(X86Cpu *cpu);
/* Host debugging (cpu.c): a data access to check against the data breakpoints, and
 * whether a linear page holds one. Called only with X86_DBG_DATA set. */
void x86_debug_data_access(X86Cpu *cpu, uint64_t lin, unsigned size, bool write);
bool x86_debug_page_watched(const X86Cpu *cpu, uint64_t lin_page);
bool x86_page_has_code(X86Cpu *cpu, uint64_t gpa_page);

/* ---------------------------------------------------------------------------------- */
/* Registers                                                                            */
/* ---------------------------------------------------------------------------------- */

/* Operands are 1, 2, 4 or 8 bytes wide, held in uint64_t (a 4-byte register write
 * zero-extends, as in 64-bit mode; the 32-bit modes never see the upper half). */
static inline uint64_t reg_read(const X86Cpu *cpu, unsigned r, unsigned size)
{
    switch (size) {
    case 1: return (r & ~3u) == 4 ? (uint8_t)(cpu->gpr[r - 4] >> 8) : (uint8_t)cpu->gpr[r & 15];
    /* (r & 15: a byte register number 20-23 never reaches past gpr[] whatever the size) */
    case 2: return (uint16_t)cpu->gpr[r & 15];
    case 4: return (uint32_t)cpu->gpr[r & 15];
    default: return cpu->gpr[r & 15];
    }
}

static inline void reg_write(X86Cpu *cpu, unsigned r, unsigned size, uint64_t v)
{
    switch (size) {
    case 1:
        if ((r & ~3u) != 4)
            cpu->gpr[r & 15] = (cpu->gpr[r & 15] & ~0xFFull) | (uint8_t)v;
        else
            cpu->gpr[r - 4] = (cpu->gpr[r - 4] & ~0xFF00ull) | ((uint64_t)(uint8_t)v << 8);
        break;
    case 2: cpu->gpr[r & 15] = (cpu->gpr[r & 15] & ~0xFFFFull) | (uint16_t)v; break;
    case 4: cpu->gpr[r & 15] = (uint32_t)v; break;
    default: cpu->gpr[r & 15] = v; break;
    }
}

static inline uint64_t size_mask(unsigned size)
{
    return size == 1 ? 0xFFu : size == 2 ? 0xFFFFu : size == 4 ? 0xFFFFFFFFu : ~0ull;
}

/* ---------------------------------------------------------------------------------- */
/* Memory (mmu.c). Offsets are already truncated to the address size.                   */
/* ---------------------------------------------------------------------------------- */

/* Segment -> linear: checks the limit (SDM Vol. 3A, 21.1.3 / 5.3) and raises #GP(0), or
 * #SS(0) through SS, when [off, off + size) is outside it. */
NORETURN void x86_limit_fault(X86Cpu *cpu, int seg);
uint64_t x86_linear_slow(X86Cpu *cpu, int seg, uint64_t off, unsigned size, unsigned access);
/* Segment type bits of the access-rights byte (SDM Vol. 3A, 3.4.5.1). */
#define X86_SEG_ACCESSED 1u
#define X86_SEG_WRITABLE 2u   /* data: writable; code: readable */
#define X86_SEG_EXPDOWN  4u   /* data: expand-down; code: conforming */
#define X86_SEG_CODE     8u
/* Whether a segment with access rights `a` takes the fast path for `access`: usable,
 * expand-up, and of a type that allows it (writes: writable data; reads: data or
 * readable code). Everything else (real mode's writes through CS, expand-down, faults)
 * goes the slow way. */
static inline bool seg_fast_type(uint32_t a, unsigned access)
{
    return access == X86_ACCESS_WRITE
               ? (a & (X86_AR_UNUSABLE | 0xEu)) == X86_SEG_WRITABLE
               : (a & (X86_AR_UNUSABLE | X86_SEG_EXPDOWN)) == 0 &&
                     (a & (X86_SEG_CODE | X86_SEG_WRITABLE)) != X86_SEG_CODE;
}
static inline uint64_t x86_linear(X86Cpu *cpu, int seg, uint64_t off, unsigned size,
                                  unsigned access)
{
    const X86Segment *s = &cpu->seg[seg];
    /* the fast path: that, and every byte within the limit (64-bit mode, with its
     * canonical checks and no limits, takes the slow one) */
    if (LIKELY(off + size - 1 <= s->limit && seg_fast_type(s->attr, access) &&
               cpu->mode != X86_MODE_LONG64))
        return (uint32_t)(s->base + off);
    return x86_linear_slow(cpu, seg, off, size, access);
}
uint32_t x86_read_slow(X86Cpu *cpu, uint64_t lin, unsigned size);
void x86_write_slow(X86Cpu *cpu, uint64_t lin, unsigned size, uint32_t v);
uint64_t x86_read64(X86Cpu *cpu, uint64_t lin);
/* The x87 data registers as FXSAVE stores them: 8 slots of 16 bytes from ST0 (cpu_x87.c). */
void x87_fxsave_registers(const X86Cpu *cpu, uint8_t slots[128]);
void x87_fxrstor_registers(X86Cpu *cpu, const uint8_t slots[128]);
void x86_write64(X86Cpu *cpu, uint64_t lin, uint64_t v);
/* MMX registers, aliased on the x87 registers (cpu_x87.c, SDM Vol. 1 9.5): the x87
 * checks of an MMX instruction (#MF if an x87 exception is pending) and its transition
 * (TOP = 0, all registers in use), a register's value, a write (exponent bits all ones), EMMS. */
void x87_mmx_check(X86Cpu *cpu);
void x87_mmx_enter(X86Cpu *cpu);
uint64_t x87_mmx_read(const X86Cpu *cpu, unsigned i);
void x87_mmx_write(X86Cpu *cpu, unsigned i, uint64_t v);
void x87_emms(X86Cpu *cpu);
/* Host pointer of [lin, lin + size) on one page of RAM for `access`, or NULL when it is
 * not RAM; a page fault is raised. */
uint8_t *x86_ram_ptr(X86Cpu *cpu, uint64_t lin, unsigned size, unsigned access);
/* Host bytes [off, off + len) of the 4 KiB host page `page` (a page_fn or TLB result), or
 * NULL when page is NULL or the range is not wholly on it: host pointer arithmetic on
 * guest-derived offsets goes through here, so it cannot leave the page. */
static inline uint8_t *page_bytes(uint8_t *page, uint64_t off, uint64_t len)
{
    if (!page || off > 4096 || len > 4096 - off) return NULL;
    return page + off;
}
/* x86_ram_ptr for bytes this instruction already found to be RAM: that a mapping changed
 * under it is a bug of ours, which ends the run as an internal error, never a host access.
 * `lin` wraps at 4 GiB as every linear address does. */
uint8_t *x86_ram_ptr_known(X86Cpu *cpu, uint64_t lin, unsigned size, unsigned access);
/* The same without faulting or filling the TLB (instruction fetch while decoding, the
 * bytes of an UNIMPLEMENTED exit): host pointer of `lin` and its guest-physical address,
 * or NULL with *pf_error 0 (not RAM) or the #PF error code | X86_PF_REPORTED (a page
 * fault, whose error code may be 0); X86_PF_NO_MEMORY for tables outside RAM. */
#define X86_PF_REPORTED (1u << 30)
#define X86_PF_NO_MEMORY 0xFFFFFFFFu
uint8_t *x86_probe_page(X86Cpu *cpu, uint64_t lin, unsigned access, uint64_t *gpa,
                        uint32_t *pf_error);

/* Current privilege level (SDM Vol. 3A, 5.5; VMX keeps it in SS.DPL, Vol. 3C 25.4.1):
 * 0 in real mode, 3 in virtual-8086 mode. */
static inline unsigned x86_cpl(const X86Cpu *cpu)
{
    if (cpu->mode <= X86_MODE_REAL32) return 0;
    if (cpu->mode == X86_MODE_V86) return 3;
    return (cpu->ss.attr >> X86_AR_DPL_SHIFT) & 3;
}

/* The TLB entry for `lin` in the half of the current privilege level (cpu->tlb_user). */
static inline X86TlbEntry *x86_tlb_entry(X86Cpu *cpu, uint64_t lin)
{
    return &cpu->tlb[((unsigned)cpu->tlb_user << X86_TLB_BITS) | ((lin >> 12) & (X86_TLB_SIZE - 1))];
}

/* Every link and jump cache entry goes: a block or translation gone, the code epoch,
 * a TLB change that may touch global pages. */
static inline void x86_links_invalidate(X86Cpu *cpu)
{
    cpu->chain_gen++;
    cpu->global_gen++;
}

/* The generation a link to block b, which starts at linear `lin`, depends on: global_gen
 * when b lies on one page whose translation a MOV CR3 keeps (paging off, or the TLB holds
 * it as global), else chain_gen. Links are made right after the target's lookup, while
 * its TLB entry is there; if it has gone, chain_gen is the safe choice. */
static inline uint32_t x86_link_gen_off(X86Cpu *cpu, const X86Block *b, uint64_t lin)
{
    if (b->len1) return (uint32_t)offsetof(X86Cpu, chain_gen);
    if (!(cpu->cr0 & X86_CR0_PG)) return (uint32_t)offsetof(X86Cpu, global_gen);
    const X86TlbEntry *e = x86_tlb_entry(cpu, lin);
    return e->tag_exec == (lin >> 12) && e->global ? (uint32_t)offsetof(X86Cpu, global_gen)
                                                   : (uint32_t)offsetof(X86Cpu, chain_gen);
}
static inline uint32_t x86_gen_at(const X86Cpu *cpu, uint32_t gen_off)
{
    uint32_t v;
    memcpy(&v, (const char *)cpu + gen_off, sizeof v);
    return v;
}

/* Paging (mmu.c). The guest-physical address of an instruction fetch at linear `lin`
 * (raises #PF; not-RAM is an UNIMPLEMENTED exit). */
uint64_t x86_fetch_gpa_slow(X86Cpu *cpu, uint64_t lin);
static inline uint64_t x86_fetch_gpa(X86Cpu *cpu, uint64_t lin)
{
    if (LIKELY(!(cpu->cr0 & X86_CR0_PG))) return lin;
    const X86TlbEntry *e = x86_tlb_entry(cpu, lin);
    if (e->tag_exec == (lin >> 12)) return e->gpa_page | (lin & 0xFFF);
    return x86_fetch_gpa_slow(cpu, lin);
}
void x86_tlb_invalidate_page(X86Cpu *cpu, uint64_t lin);
void x86_tlb_flush_nonglobal(X86Cpu *cpu);
bool x86_load_pdptes(X86Cpu *cpu, uint64_t cr3);
/* Every TLB entry goes (MOV CR0/CR4 paging bits, EFER.NXE). */
static inline void x86_tlb_flush_all(X86Cpu *cpu) { x86_cpu_tlb_invalidate(cpu); }

static inline uint64_t ld_le(const uint8_t *p, unsigned size)
{
    if (size == 1) return p[0];
    if (size == 2) { uint16_t v; memcpy(&v, p, 2); return v; }
    if (size == 4) { uint32_t v; memcpy(&v, p, 4); return v; }
    uint64_t v; memcpy(&v, p, 8); return v;
}

static inline void st_le(uint8_t *p, unsigned size, uint64_t v)
{
    if (size == 1) p[0] = (uint8_t)v;
    else if (size == 2) { uint16_t w = (uint16_t)v; memcpy(p, &w, 2); }
    else if (size == 4) { uint32_t w = (uint32_t)v; memcpy(p, &w, 4); }
    else memcpy(p, &v, 8);
}

/* Linear read/write through the TLB: fast path for RAM inside one page. An 8-byte operand
 * off it goes as x86_read64/x86_write64 do (one MMIO exit of 8 bytes). */
static inline uint64_t lin_read(X86Cpu *cpu, uint64_t lin, unsigned size)
{
    const X86TlbEntry *e = x86_tlb_entry(cpu, lin);
    if (LIKELY(e->tag_read == (lin >> 12) && (lin & 0xFFF) <= 4096u - size))
        return ld_le(e->host + (lin & 0xFFF), size);
    if (size == 8) return x86_read64(cpu, lin);
    return x86_read_slow(cpu, lin, size);
}

static inline void lin_write(X86Cpu *cpu, uint64_t lin, unsigned size, uint64_t v)
{
    const X86TlbEntry *e = x86_tlb_entry(cpu, lin);
    if (LIKELY(e->tag_write == (lin >> 12) && (lin & 0xFFF) <= 4096u - size)) {
        st_le(e->host + (lin & 0xFFF), size, v);
        return;
    }
    if (size == 8) x86_write64(cpu, lin, v);
    else x86_write_slow(cpu, lin, size, (uint32_t)v);
}

/* Implicit supervisor accesses (SDM Vol. 3A, 4.6: descriptor tables, the TSS, ...):
 * allowed on supervisor pages whatever the CPL. */
static inline uint32_t sys_read(X86Cpu *cpu, uint64_t lin, unsigned size)
{
    cpu->implicit_supervisor = true;
    uint32_t v = (uint32_t)lin_read(cpu, lin, size);
    cpu->implicit_supervisor = false;
    return v;
}

static inline void sys_write(X86Cpu *cpu, uint64_t lin, unsigned size, uint32_t v)
{
    cpu->implicit_supervisor = true;
    lin_write(cpu, lin, size, v);
    cpu->implicit_supervisor = false;
}

static inline uint64_t mem_read(X86Cpu *cpu, int seg, uint64_t off, unsigned size)
{
    return lin_read(cpu, x86_linear(cpu, seg, off, size, X86_ACCESS_READ), size);
}

static inline void mem_write(X86Cpu *cpu, int seg, uint64_t off, unsigned size, uint64_t v)
{
    lin_write(cpu, x86_linear(cpu, seg, off, size, X86_ACCESS_WRITE), size, v);
}

/* Effective address of the ModR/M memory operand (SDM Vol. 2A, 2.1.5), truncated to the
 * address size. */
static inline uint64_t insn_ea(const X86Cpu *cpu, const X86Insn *in)
{
    uint64_t ea = (uint64_t)in->disp + cpu->gpr_ea[in->base] +
                  (cpu->gpr_ea[in->index] << in->scale);
    return in->asz == 2 ? (ea & 0xFFFF) : in->asz == 4 ? (uint32_t)ea : ea;
}
/* An offset plus `add` wrapped to the address size (the second part of an operand). */
static inline uint64_t ea_add(const X86Insn *in, uint64_t ea, uint64_t add)
{
    ea += add;
    return in->asz == 2 ? (ea & 0xFFFF) : in->asz == 4 ? (uint32_t)ea : ea;
}
/* A linear address outside IA-32e mode wraps at 4 GiB; in it, it is 64 bits wide. */
static inline uint64_t x86_lin_wrap(const X86Cpu *cpu, uint64_t lin)
{
    return (cpu->efer & X86_EFER_LMA_BIT) ? lin : (uint32_t)lin;
}
/* The linear address of CS:RIP. */
static inline uint64_t x86_code_lin(const X86Cpu *cpu)
{
    return x86_lin_wrap(cpu, cpu->cs.base + cpu->rip);
}
/* Canonical: bits 63:47 all equal (SDM Vol. 1, 3.3.7.1; 48-bit linear addresses). */
static inline bool x86_canonical(uint64_t a)
{
    return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

static inline uint64_t rm_read(X86Cpu *cpu, const X86Insn *in, unsigned size)
{
    if (in->mod == 3) return reg_read(cpu, in->rm, size);
    return mem_read(cpu, in->seg, insn_ea(cpu, in), size);
}

static inline void rm_write(X86Cpu *cpu, const X86Insn *in, unsigned size, uint64_t v)
{
    if (in->mod == 3) reg_write(cpu, in->rm, size, v);
    else mem_write(cpu, in->seg, insn_ea(cpu, in), size, v);
}

/* Stack (SS.B selects SP or ESP; SDM Vol. 3A, 6.2 / Vol. 1, 6.2; 64-bit mode: RSP). */
static inline bool stack32(const X86Cpu *cpu) { return (cpu->ss.attr & X86_AR_DB) != 0; }
static inline uint64_t sp_mask(const X86Cpu *cpu)
{
    if (UNLIKELY(cpu->mode == X86_MODE_LONG64)) return ~0ull;
    return stack32(cpu) ? 0xFFFFFFFFu : 0xFFFFu;
}
static inline uint64_t sp_get(const X86Cpu *cpu) { return cpu->gpr[X86_RSP] & sp_mask(cpu); }
static inline void sp_set(X86Cpu *cpu, uint64_t v)
{
    uint64_t m = sp_mask(cpu);
    if (m != 0xFFFF) cpu->gpr[X86_RSP] = v & m;
    else cpu->gpr[X86_RSP] = (cpu->gpr[X86_RSP] & ~0xFFFFull) | (uint16_t)v;
}

/* PUSH/POP: memory first, then SP, so a fault leaves SP unchanged. */
static inline void push(X86Cpu *cpu, unsigned size, uint64_t v)
{
    uint64_t sp = (sp_get(cpu) - size) & sp_mask(cpu);
    mem_write(cpu, X86_SS, sp, size, v);
    sp_set(cpu, sp);
}
static inline uint64_t pop(X86Cpu *cpu, unsigned size)
{
    uint64_t sp = sp_get(cpu);
    uint64_t v = mem_read(cpu, X86_SS, sp, size);
    sp_set(cpu, (sp + size) & sp_mask(cpu));
    return v;
}

/* ---------------------------------------------------------------------------------- */
/* Flags (flags.c)                                                                      */
/* ---------------------------------------------------------------------------------- */

/* Lazy flags: the last flag-setting operation's kind, size, operands and result (masked to
 * its size); the arithmetic flags are computed only when read, and a condition reads only
 * the flags it needs (x86_cond).
 *  LF_ADD, LF_SUB: a +/- b = res: CF is res < a (ADD) or a < b (SUB), a compare.
 *  LF_ADC, LF_SBB: a +/- b +/- carry = res; CF OF AF from the bits of a, b and res.
 *  LF_LOGIC: CF = OF = 0, AF 0 (undefined).
 *  LF_INC, LF_DEC: a +/- 1 = res (b = 1); CF is the one in cpu->flags (keep_cf).
 *  LF_CFOF: CF and OF given as flag bits in lf_src2, AF 0 (shifts, MUL/IMUL).
 *  LF_HOST: the arithmetic bits of host_rflags (jit.c). Only within translated code: it
 *  makes them another kind before a handler runs, and when it returns to the run loop. */
enum { LF_NONE = 0, LF_ADD, LF_SUB, LF_LOGIC, LF_INC, LF_DEC, LF_CFOF, LF_ADC, LF_SBB, LF_HOST };

/* The most significant bit of a size-byte operand. */
/* lf_size is 0 before any flag-setting operation (after reset): mask the shift so it stays
 * defined; sizes 1, 2, 4 and 8 give bits 7, 15, 31 and 63. */
static inline uint64_t size_top(unsigned size)
{
    return (uint64_t)0x80 << (((size - 1) & 7) * 8);
}

/* The arithmetic flags (OSZAPC) of the last lazy operation. */
uint32_t x86_lazy_arith(const X86Cpu *cpu);
extern const uint8_t x86_parity[256];

static inline uint32_t flags_get(X86Cpu *cpu)
{
    if (cpu->lf_op != LF_NONE) {
        cpu->flags = (cpu->flags & ~X86_FLAGS_ARITH) | x86_lazy_arith(cpu);
        cpu->lf_op = LF_NONE;
    }
    return cpu->flags;
}
/* Sets the arithmetic flags in `mask` to those of `v`. */
static inline void flags_set_arith(X86Cpu *cpu, uint32_t v, uint32_t mask)
{
    uint32_t f = flags_get(cpu);
    cpu->flags = (f & ~mask) | (v & mask);
}

/* Single flags from the lazy state, each as its flag bit (0 when clear). */
/* (Operands and result are stored masked to the size, so the compares need no size.
 * SUB and ADD come first: they are what INC/DEC and JB/JAE mostly follow.) */
static inline uint32_t lazy_cf(const X86Cpu *cpu)
{
    uint64_t a = cpu->lf_src1, b = cpu->lf_src2, r = cpu->lf_res;
    unsigned op = cpu->lf_op;
    if (LIKELY(op == LF_SUB)) return a < b ? X86_FLAG_CF : 0;
    if (LIKELY(op == LF_ADD)) return r < a ? X86_FLAG_CF : 0;
    if (op == LF_LOGIC) return 0;
    uint64_t top = size_top(cpu->lf_size);
    switch (op) {
    case LF_ADC: return (((a & b) | ((a | b) & ~r)) & top) ? X86_FLAG_CF : 0;
    case LF_SBB: return (((~a & b) | (~(a ^ b) & r)) & top) ? X86_FLAG_CF : 0;
    case LF_CFOF: return (uint32_t)b & X86_FLAG_CF;
    default: return cpu->flags & X86_FLAG_CF;   /* LF_NONE, LF_INC, LF_DEC */
    }
}
static inline uint32_t lazy_of(const X86Cpu *cpu)
{
    uint64_t top = size_top(cpu->lf_size);
    uint64_t a = cpu->lf_src1, b = cpu->lf_src2, r = cpu->lf_res;
    switch (cpu->lf_op) {
    case LF_ADD: case LF_ADC: case LF_INC: return ((a ^ r) & (b ^ r) & top) ? X86_FLAG_OF : 0;
    case LF_SUB: case LF_SBB: case LF_DEC: return ((a ^ b) & (a ^ r) & top) ? X86_FLAG_OF : 0;
    case LF_LOGIC: return 0;
    case LF_CFOF: return (uint32_t)b & X86_FLAG_OF;
    default: return cpu->flags & X86_FLAG_OF;
    }
}
static inline uint32_t lazy_zf(const X86Cpu *cpu)
{
    if (cpu->lf_op == LF_NONE) return cpu->flags & X86_FLAG_ZF;
    return cpu->lf_res == 0 ? X86_FLAG_ZF : 0;
}
static inline uint32_t lazy_sf(const X86Cpu *cpu)
{
    if (cpu->lf_op == LF_NONE) return cpu->flags & X86_FLAG_SF;
    return (cpu->lf_res & size_top(cpu->lf_size)) ? X86_FLAG_SF : 0;
}
static inline uint32_t lazy_pf(const X86Cpu *cpu)
{
    if (cpu->lf_op == LF_NONE) return cpu->flags & X86_FLAG_PF;
    return x86_parity[cpu->lf_res & 0xFF] ? X86_FLAG_PF : 0;
}
static inline bool get_cf(X86Cpu *cpu) { return lazy_cf(cpu) != 0; }

/* Condition code cc (0..15, as in Jcc) of the current flags (SDM Vol. 1, B.1), computing
 * only the flags it needs from the lazy state. */
static inline bool x86_cond(const X86Cpu *cpu, unsigned cc)
{
    bool r;
    switch (cc >> 1) {
    case 0: r = lazy_of(cpu); break;
    case 1: r = lazy_cf(cpu); break;
    case 2: r = lazy_zf(cpu); break;
    case 3: r = lazy_cf(cpu) || lazy_zf(cpu); break;
    case 4: r = lazy_sf(cpu); break;
    case 5: r = lazy_pf(cpu); break;
    case 6: r = !lazy_sf(cpu) != !lazy_of(cpu); break;
    default: r = lazy_zf(cpu) || (!lazy_sf(cpu) != !lazy_of(cpu)); break;
    }
    return r ^ (cc & 1);
}

/* Before a lazy INC/DEC: make CF concrete in cpu->flags (the other arithmetic flags of
 * cpu->flags stay stale until the next materialization, which recomputes them). */
static inline void keep_cf(X86Cpu *cpu)
{
    if (cpu->lf_op != LF_INC && cpu->lf_op != LF_DEC)
        cpu->flags = (cpu->flags & ~X86_FLAG_CF) | lazy_cf(cpu);
}

static inline void lazy_set(X86Cpu *cpu, unsigned op, unsigned size, uint64_t a, uint64_t b,
                            uint64_t res)
{
    cpu->lf_op = (uint8_t)op;
    cpu->lf_size = (uint8_t)size;
    cpu->lf_src1 = a & size_mask(size);
    cpu->lf_src2 = b & size_mask(size);
    cpu->lf_res = res & size_mask(size);
}
/* A lazy operation whose flags come from its result alone (LF_LOGIC) or with CF/OF given
 * (LF_CFOF: cfof holds X86_FLAG_CF / X86_FLAG_OF). */
static inline void lazy_set_logic(X86Cpu *cpu, unsigned size, uint64_t res)
{
    cpu->lf_op = LF_LOGIC;
    cpu->lf_size = (uint8_t)size;
    cpu->lf_res = res & size_mask(size);
}
static inline void lazy_set_cfof(X86Cpu *cpu, unsigned size, uint64_t res, uint32_t cfof)
{
    cpu->lf_op = LF_CFOF;
    cpu->lf_size = (uint8_t)size;
    cpu->lf_src2 = cfof;
    cpu->lf_res = res & size_mask(size);
}
/* SZP of a result (size bytes) as flag bits. */
static inline uint32_t szp_flags(uint64_t res, unsigned size)
{
    uint64_t m = size_mask(size);
    uint32_t f = 0;
    res &= m;
    if (res == 0) f |= X86_FLAG_ZF;
    if (res & (m ^ (m >> 1))) f |= X86_FLAG_SF;
    if (x86_parity[res & 0xFF]) f |= X86_FLAG_PF;
    return f;
}

/* The ALU operations op (0 ADD, 1 OR, 2 ADC, 3 SBB, 4 AND, 5 SUB, 6 XOR, 7 CMP) on size
 * bytes, in two halves so that a handler can write memory before it sets the flags (a
 * fault on the write leaves the flags as they were): the result (ADC/SBB read CF), then
 * the flags of a op b = r. With constant op and size these are a few instructions. */
static inline __attribute__((always_inline)) uint64_t alu_value(const X86Cpu *cpu, unsigned op,
                                                                unsigned size, uint64_t a,
                                                                uint64_t b)
{
    uint64_t m = size_mask(size);
    switch (op) {
    case 0: return (a + b) & m;
    case 1: return (a | b) & m;
    case 2: return (a + b + (lazy_cf(cpu) ? 1u : 0u)) & m;
    case 3: return (a - b - (lazy_cf(cpu) ? 1u : 0u)) & m;
    case 4: return a & b & m;
    case 6: return (a ^ b) & m;
    default: return (a - b) & m;   /* SUB, CMP */
    }
}
static inline __attribute__((always_inline)) void alu_flags(X86Cpu *cpu, unsigned op,
                                                            unsigned size, uint64_t a,
                                                            uint64_t b, uint64_t r)
{
    switch (op) {
    case 0: lazy_set(cpu, LF_ADD, size, a, b, r); break;
    case 2: lazy_set(cpu, LF_ADC, size, a, b, r); break;
    case 3: lazy_set(cpu, LF_SBB, size, a, b, r); break;
    case 1: case 4: case 6: lazy_set_logic(cpu, size, r); break;
    default: lazy_set(cpu, LF_SUB, size, a, b, r); break;
    }
}
static inline __attribute__((always_inline)) uint64_t alu_inline(X86Cpu *cpu, unsigned op,
                                                                 unsigned size, uint64_t a,
                                                                 uint64_t b)
{
    uint64_t r = alu_value(cpu, op, size, a, b);
    alu_flags(cpu, op, size, a, b, r);
    return r;
}
/* A memory destination op= b: the write comes before the flags, so a fault on it leaves
 * the flags as they were (the instruction had no effect). CMP only reads. */
static inline __attribute__((always_inline)) void alu_mem_inline(X86Cpu *cpu, const X86Insn *in,
                                                                 unsigned op, unsigned size,
                                                                 uint64_t b)
{
    uint64_t lin = x86_linear(cpu, in->seg, insn_ea(cpu, in), size,
                              op == 7 ? X86_ACCESS_READ : X86_ACCESS_WRITE);
    uint64_t a = lin_read(cpu, lin, size);
    uint64_t r = alu_value(cpu, op, size, a, b);
    if (op != 7) lin_write(cpu, lin, size, r);
    alu_flags(cpu, op, size, a, b, r);
}
/* The same for a variable op and size (alu.c). */
uint64_t x86_alu(X86Cpu *cpu, unsigned op, unsigned size, uint64_t a, uint64_t b);

/* SHL/SAL (4, 6), SHR (5), SAR (7) of the size-byte a by count (1..31, or 1..63 for 8
 * bytes, already masked): the result, and CF/OF as flag bits in *cfof. OF for counts above
 * 1 is that of the last 1-bit step (SHL: MSB of the result ^ CF; SHR: 0; SAR: 0), as Intel
 * hardware does. */
static inline __attribute__((always_inline)) uint64_t shift_value(unsigned op, unsigned size,
                                                                  uint64_t a, unsigned count,
                                                                  uint32_t *cfof)
{
    unsigned w = size * 8;
    uint64_t m = size_mask(size), top = size_top(size), r;
    uint32_t cf, of;
    switch (op) {
    case 4: case 6:
        r = count < 64 ? (a << count) & m : 0;
        cf = count <= w ? (a >> (w - count)) & 1 : 0;
        of = ((r & top) != 0) ^ cf;
        break;
    case 5:
        r = a >> count;
        cf = (a >> (count - 1)) & 1;
        of = count == 1 && (a & top) != 0;
        break;
    default: {
        int64_t s = (int64_t)(a << (64 - w)) >> (64 - w);
        r = (uint64_t)(s >> (count > 63 ? 63 : count)) & m;
        cf = (uint32_t)(s >> (count - 1)) & 1;
        of = 0;
        break;
    }
    }
    *cfof = (cf ? X86_FLAG_CF : 0) | (of ? X86_FLAG_OF : 0);
    return r;
}

/* ---------------------------------------------------------------------------------- */
/* Modes, privilege, descriptors (cpu_seg.c)                                            */
/* ---------------------------------------------------------------------------------- */

/* The mode the registers say (cpu.h, X86Mode); cpu->mode holds it between changes. */
static inline X86Mode x86_mode_of(const X86Cpu *cpu)
{
    bool d = (cpu->cs.attr & X86_AR_DB) != 0;
    if (!(cpu->cr0 & X86_CR0_PE)) return d ? X86_MODE_REAL32 : X86_MODE_REAL16;
    if (UNLIKELY(cpu->efer & X86_EFER_LMA_BIT)) {   /* IA-32e mode (SDM Vol. 3A, 2.2) */
        if (cpu->cs.attr & X86_AR_L) return X86_MODE_LONG64;
        return d ? X86_MODE_COMPAT32 : X86_MODE_COMPAT16;
    }
    if (cpu->flags & X86_FLAG_VM) return X86_MODE_V86;   /* SDM Vol. 3B, 20.2.1 */
    return d ? X86_MODE_PROT32 : X86_MODE_PROT16;
}
/* 64-bit mode; IA-32e mode (64-bit or compatibility). */
static inline bool x86_long64(const X86Cpu *cpu) { return cpu->mode == X86_MODE_LONG64; }
static inline bool x86_lma(const X86Cpu *cpu) { return (cpu->efer & X86_EFER_LMA_BIT) != 0; }
/* After every change of CR0.PE, EFLAGS.VM or CS, before anything reads the mode. */
static inline void x86_update_mode(X86Cpu *cpu) { cpu->mode = x86_mode_of(cpu); }
/* The default operand and address size of code in `mode` (CS.D; 64-bit mode's is 4). */
static inline bool x86_mode_code32(X86Mode mode)
{
    return mode == X86_MODE_REAL32 || mode == X86_MODE_PROT32 || mode == X86_MODE_COMPAT32 ||
           mode == X86_MODE_LONG64;
}
static inline bool x86_pe(const X86Cpu *cpu) { return cpu->mode >= X86_MODE_V86; }
/* Virtual-8086 mode: CR0.PE and EFLAGS.VM (SDM Vol. 3B, 20.2.1). */
static inline bool x86_v86(const X86Cpu *cpu) { return cpu->mode == X86_MODE_V86; }
/* Protected mode proper (not real, not virtual-8086). */
static inline bool x86_pm(const X86Cpu *cpu) { return cpu->mode >= X86_MODE_PROT16; }
/* x86_cpl (above, with paging): CPL is SS.DPL as the VMCS defines it. */
static inline unsigned x86_iopl(const X86Cpu *cpu) { return (cpu->flags >> 12) & 3; }
/* CR4.UMIP's #GP(0) above CPL 0, for the instructions that store system state. */
void x86_check_umip(X86Cpu *cpu);
/* Privileged instructions: #GP(0) unless CPL 0 (SDM Vol. 3A, 5.9). */
static inline void x86_require_cpl0(X86Cpu *cpu)
{
    if (UNLIKELY(x86_cpl(cpu) != 0)) x86_fault(cpu, X86_EXC_GP, true, 0);
}

/* Segment loads in the current mode (real mode: base = selector << 4; virtual-8086 mode
 * the same with the fixed attributes; protected mode: a descriptor load with all checks,
 * SDM Vol. 2B, MOV "Operation"). CS is loaded by far transfers only. */
void x86_load_seg(X86Cpu *cpu, int sreg, uint16_t sel);
/* Far JMP/CALL/RET and IRET in every mode (cpu_seg.c). osz is the operand size; ret_ip
 * (CALL) the return address. */
void x86_far_jmp(X86Cpu *cpu, uint16_t sel, uint64_t off, unsigned osz);
void x86_far_call(X86Cpu *cpu, uint16_t sel, uint64_t off, unsigned osz);
void x86_far_ret(X86Cpu *cpu, unsigned osz, uint32_t imm);
void x86_iret(X86Cpu *cpu, unsigned osz);
/* IN/OUT/INS/OUTS permission: CPL <= IOPL, else the TSS I/O bitmap (SDM Vol. 1, 19.5). */
void x86_io_permission(X86Cpu *cpu, uint16_t port, unsigned size);
/* The EFLAGS bits POPF may change at the current CPL and IOPL (SDM Vol. 2B, POPF). */
uint32_t x86_popf_mask(X86Cpu *cpu, unsigned osz);

/* ---------------------------------------------------------------------------------- */
/* Handlers, by family                                                                  */
/* ---------------------------------------------------------------------------------- */

#define H(name) void name(X86Cpu *cpu, const X86Insn *in)
/* cpu_alu.c */
H(op_alu_rm_r); H(op_alu_r_rm); H(op_alu_acc_imm); H(op_grp1);
H(op_inc_r); H(op_dec_r); H(op_grp2); H(op_grp3); H(op_grp4); H(op_grp5_incdec);
H(op_test_rm_r); H(op_test_acc_imm); H(op_imul_r_rm_imm); H(op_imul_r_rm); H(op_shxd);
H(op_xadd); H(op_cmpxchg);
/* cpu_move.c */
H(op_mov_rm_r); H(op_mov_r_rm); H(op_mov_rm_sreg); H(op_mov_sreg_rm); H(op_mov_r_imm);
H(op_mov_rm_imm); H(op_mov_acc_moffs); H(op_mov_moffs_acc); H(op_lea); H(op_xchg_rm_r);
H(op_xchg_acc_r); H(op_push_r); H(op_pop_r); H(op_push_sreg); H(op_pop_sreg);
H(op_push_imm); H(op_pop_rm); H(op_pusha); H(op_popa); H(op_pushf); H(op_popf);
H(op_cbw); H(op_cwd); H(op_movsxd); H(op_lahf); H(op_sahf); H(op_xlat); H(op_lfar); H(op_movzx);
H(op_movsx); H(op_bswap); H(op_enter); H(op_leave); H(op_setcc);
H(op_nop); H(op_salc); H(op_cmovcc);
/* cpu_control.c */
H(op_jcc); H(op_jmp_rel); H(op_jmp_far); H(op_call_rel); H(op_call_far); H(op_ret);
H(op_retf); H(op_iret); H(op_int); H(op_int3); H(op_into); H(op_loop); H(op_jcxz);
H(op_grp5_ctl); H(op_bound); H(op_hlt); H(op_ud); H(op_unimpl);
H(op_sse); H(op_grp15); H(op_movnti); H(op_movbe);
/* Whether cpu_sse.c models this opcode with its mandatory prefix (else op_unimpl). */
/* The mandatory prefixes (bits 0 none, 1 66, 2 F2, 3 F3) with which 0F op is a modelled
 * SSE form; 0: not an SSE opcode the CPU models (cpu_sse.c). */
unsigned x86_sse_forms(unsigned op);
bool x86_sse_modelled(const X86Insn *in);
/* cpu_string.c */
H(op_movs); H(op_cmps); H(op_stos); H(op_lods); H(op_scas);
/* cpu_io.c */
H(op_in); H(op_out); H(op_ins); H(op_outs);
/* cpu_bits.c */
H(op_bt); H(op_bt_imm); H(op_bsf); H(op_bsr);
/* cpu_bcd.c */
H(op_daa); H(op_das); H(op_aaa); H(op_aas); H(op_aam); H(op_aad);
/* cpu_system.c */
H(op_flagop); H(op_mov_cr); H(op_mov_dr); H(op_cpuid); H(op_rdtsc); H(op_rdmsr);
H(op_wrmsr); H(op_grp6); H(op_grp7); H(op_clts); H(op_wbinvd);
/* cpu_x87.c */
H(op_wait); H(op_fpu);
/* cpu_seg.c */
H(op_lar_lsl); H(op_arpl);
H(op_cmpxchg8b); H(op_sysenter); H(op_sysexit); H(op_syscall); H(op_sysret);
#undef H
/* Jcc by condition code, the condition a constant in each (cpu_control.c). */
extern const X86Handler x86_jcc_handlers[16];
/* Replaces a decoded instruction's generic handler by a specialised one where there is
 * one (cpu_spec.c); may swap reg/rm or fill imm as that handler expects. */
void x86_specialize(X86Insn *in);

#endif
