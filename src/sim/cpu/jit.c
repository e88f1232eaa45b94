/*
 * Translation of hot decoded blocks to x86-64 host code: a template JIT.
 *
 * The block loop (cpu.c) runs a block's translation in place of its handlers once the
 * block has run cpu->jit_threshold times. A translation keeps the guest's registers where
 * the interpreter keeps them (cpu->gpr, addressed from RBX), so a handler, a fault or an
 * exit in the middle of a translated block sees the state it expects. What it saves is
 * the dispatch (no handler call, RIP store or retired count per instruction) and the
 * flags: guest arithmetic done by the host sets the host's flags as the SDM defines them,
 * so they stay in the host's RFLAGS from one translated instruction to the next and reach
 * cpu->flags only when something else is about to read them.
 *
 * Translated inline: the register forms of the ALU operations, TEST, INC/DEC, MOV, LEA,
 * NOP, ROL/ROR by an immediate and IMUL; MOV and ALU loads and stores, MOV m, imm, PUSH,
 * POP, CALL rel and RET, whose segment and TLB checks are written out (a failed one calls
 * the handler, which does the whole instruction); Jcc and JMP rel. Every other
 * instruction calls its handler as run_block would, with cpu->rip, cpu->next_rip, the
 * retired count and the flags brought up to date first, and the translation leaves after
 * it when the handler ended the block (x86_end_block). A translation's end goes on into
 * the next block's through exits patched once the link is known (x86_jit_link).
 *
 * The arena is W^X: written through one mapping, run from another (x86_jit_arena_init).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "sim/cpu/cpu_internal.h"

#define OFF(field) ((int32_t)offsetof(X86Cpu, field))
#define GPR_OFF(r) (OFF(gpr) + 8 * (int32_t)(r))

/* The arithmetic flags the host's RFLAGS carries over for the guest: OF SF ZF AF PF CF. */
#define ARITH_MASK 0x8D5u

/* The arena is never writable and executable at once: a memfd mapped read-write, where
 * translations are written and patched, and again read-execute, where they run. Without
 * memfd_create (or a second mapping) there is no arena and the handlers run every block.
 * (A forked child shares the arena: like a KVM VM, a CPU runs in the process that made it.) */
static void perf_map_open(void);

bool x86_jit_arena_init(X86JitArena *a, size_t size)
{
    *a = (X86JitArena){ 0 };
#if defined(__x86_64__)
    perf_map_open();
    int fd = memfd_create("scratchvm-jit", MFD_CLOEXEC);
    if (fd < 0) return false;
    void *w = MAP_FAILED, *x = MAP_FAILED;
    if (ftruncate(fd, (off_t)size) == 0) {
        w = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        x = mmap(NULL, size, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
    }
    close(fd);
    if (w == MAP_FAILED || x == MAP_FAILED) {
        if (w != MAP_FAILED) munmap(w, size);
        if (x != MAP_FAILED) munmap(x, size);
        return false;
    }
    a->base = w;
    a->exec_delta = (intptr_t)x - (intptr_t)w;
    a->size = size;
#else
    (void)size;
#endif
    return true;
}

void x86_jit_arena_free(X86JitArena *a)
{
    if (a->base) {
        munmap(a->base + a->exec_delta, a->size);
        munmap(a->base, a->size);
    }
    a->base = NULL;
}

#if !defined(__x86_64__)

bool x86_jit_translate(X86JitArena *a, const X86Cpu *cpu, X86Block *b)
{
    (void)a, (void)cpu, (void)b;
    return false;
}

X86Block *x86_jit_enter(X86JitFn fn, X86Cpu *cpu)
{
    (void)fn, (void)cpu;
    return NULL;
}

#else

uint32_t x86_jit_flags(X86Cpu *cpu) { return flags_get(cpu); }

/* Host registers, by their encoding. RBX holds the X86Cpu pointer. */
enum { RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSI = 6, RDI = 7 };
enum { CC_B = 2, CC_E = 4, CC_NE = 5, CC_A = 7 };

/* Where an inline memory access leaves when a check fails (a TLB miss, a page end, a
 * segment that needs the full check): a call of the instruction's handler, which does it
 * all from the start (the fast path changes nothing before its checks pass). */
typedef struct SlowStub {
    uint8_t *patch[8];        /* rel32 fields of the jumps to it */
    int npatch;
    uint8_t *resume;          /* where the fast path goes on */
    const X86Insn *in;
    uint64_t ip;
    uint32_t uncounted;       /* the count before the instruction */
    bool last;                /* the block's last instruction */
    uint8_t mem;              /* the lazy flag state known there (MEM_*; not in the host) */
    bool writes_flags;        /* the fast path leaves the flags in the host's RFLAGS */
    /* The way out of a failed segment-type or stack-size check, after which the block
     * goes back to the run loop (so what the rest of it takes as checked holds). */
    struct SlowStub *type_stub;
    bool is_type_stub;        /* (so the block ends early: pending, as x86_end_block) */
} SlowStub;
#define MAX_STUBS 80

/* What the translation knows of the lazy flag state in the CPU: anything (at the entry,
 * which a block chained to it may reach with LF_HOST), not LF_HOST (after a handler),
 * LF_NONE (cpu->flags exact), LF_HOST (or, after a stub's handler, cpu->flags exact and
 * equal to host_rflags's). */
enum { MEM_ANY, MEM_LAZY, MEM_EAGER, MEM_HOST };

typedef struct {
    uint8_t *p;
    /* Where the guest's arithmetic flags are. After a translated flag-setting instruction
     * they are in the host's RFLAGS (host) and the CPU state's are older (mem_stale).
     * `mem` says what is known of the CPU state's (lf_op, MEM_*). */
    bool host, host_logic, mem_stale;
    uint8_t mem;
    uint32_t uncounted;       /* instructions not yet added to instructions_retired */
    /* The memory fast paths' way out: the instruction's handler, emitted after the
     * block's code (stub_begin .. stub_end). */
    SlowStub stubs[MAX_STUBS];
    int nstubs;
    /* Checked since the last handler call (which may load segments): the segment's type
     * for reads (1) or writes (2, implying reads); SS.B as at translation. */
    uint8_t seg_ok[8];
    bool stack_ok;
    X86Block *block;
    int nexits;               /* static exits emitted (block->jit_exit) */
    uint8_t *to_tail[8];      /* rel32 fields of the jumps to the block's tail */
    int ntail;
    /* The arena's end. Once a byte would go past it, `overflow` is set and everything
     * from then on goes to `sink` (so fields recorded for patching stay inside it too);
     * x86_jit_translate then throws the translation away. */
    uint8_t *end;
    bool overflow;
    uint8_t sink[32];
} Jit;

/* Where the next n (<= 8) bytes go: never past the arena, whatever the block holds (a
 * block's translation has no size bound the caller could check up front: 32 PUSHes take
 * over 500 bytes each with their stubs). */
static uint8_t *emit_at(Jit *j, size_t n)
{
    if (j->overflow || (size_t)(j->end - j->p) < n) {
        j->overflow = true;
        j->p = j->sink;
    }
    uint8_t *at = j->p;
    j->p += n;
    return at;
}
static void b1(Jit *j, unsigned v) { *emit_at(j, 1) = (uint8_t)v; }
static void b4(Jit *j, uint32_t v) { memcpy(emit_at(j, 4), &v, 4); }
static void b8(Jit *j, uint64_t v) { memcpy(emit_at(j, 8), &v, 8); }

/* An operand-size prefix for 16 bits, REX.W for 64. */
static void size_prefix(Jit *j, unsigned size)
{
    if (size == 2) b1(j, 0x66);
    if (size == 8) b1(j, 0x48);
}

/* `op reg, [rbx + disp]` (or the r/m-destination form the opcode says). */
static void op_mem(Jit *j, unsigned size, unsigned opcode, unsigned reg, int32_t disp)
{
    size_prefix(j, size);
    if (opcode > 0xFF) b1(j, opcode >> 8);
    b1(j, opcode & 0xFF);
    b1(j, 0x80 | (reg & 7) << 3 | RBX);
    b4(j, (uint32_t)disp);
}

/* `op reg, rm` between host registers. */
static void op_reg(Jit *j, unsigned size, unsigned opcode, unsigned reg, unsigned rm)
{
    size_prefix(j, size);
    if (opcode > 0xFF) b1(j, opcode >> 8);
    b1(j, opcode & 0xFF);
    b1(j, 0xC0 | (reg & 7) << 3 | (rm & 7));
}

static void mov_imm32(Jit *j, unsigned reg, uint32_t v)   /* zero-extends to 64 bits */
{
    b1(j, 0xB8 + reg);
    b4(j, v);
}

static void mov_imm64(Jit *j, unsigned reg, uint64_t v)
{
    b1(j, 0x48);
    b1(j, 0xB8 + reg);
    b8(j, v);
}

/* Stores a 64-bit value (a 32-bit one zero-extended) to cpu->field. */
static void store_u64(Jit *j, int32_t disp, uint32_t v)
{
    mov_imm32(j, RAX, v);
    op_mem(j, 8, 0x89, RAX, disp);
}

/* add (sub: /5) qword [rbx + instructions_retired], n: changes the host's flags */
static void add_retired(Jit *j, unsigned ext, uint32_t n)
{
    if (!n) return;
    b1(j, 0x48);
    b1(j, n < 128 ? 0x83 : 0x81);
    b1(j, 0x80 | ext << 3 | RBX);
    b4(j, (uint32_t)OFF(instructions_retired));
    if (n < 128) b1(j, n);
    else b4(j, n);
}

static void count_retired(Jit *j)
{
    if (!j->uncounted) return;
    add_retired(j, 0, j->uncounted);
    j->uncounted = 0;
    j->host = false;
}

/* mov byte [lf_op], kind */
static void set_lf_op(Jit *j, unsigned kind)
{
    b1(j, 0xC6);
    b1(j, 0x80 | RBX);
    b4(j, (uint32_t)OFF(lf_op));
    b1(j, kind);
}

/* cpu->flags's arithmetic bits `mask` from the host RFLAGS image in RAX, the others of
 * ARITH_MASK 0; lf_op = LF_NONE. */
static void flags_from_rax(Jit *j, uint32_t mask)
{
    b1(j, 0x25);                                       /* and eax, mask */
    b4(j, mask);
    op_mem(j, 4, 0x8B, RCX, OFF(flags));               /* mov ecx, [flags] */
    op_reg(j, 4, 0x81, 4, RCX);                        /* and ecx, ~mask */
    b4(j, ~ARITH_MASK);
    op_reg(j, 4, 0x09, RAX, RCX);                      /* or ecx, eax */
    op_mem(j, 4, 0x89, RCX, OFF(flags));               /* mov [flags], ecx */
    set_lf_op(j, LF_NONE);
}

/* The host's flags as they are into cpu->flags (LF_NONE): AF 0 after logic operations,
 * as LF_LOGIC has it. */
static void host_to_eager(Jit *j)
{
    b1(j, 0x9C);                                       /* pushfq */
    b1(j, 0x58);                                       /* pop rax */
    flags_from_rax(j, j->host_logic ? ARITH_MASK & ~X86_FLAG_AF : ARITH_MASK);
    j->host = j->mem_stale = false;
    j->mem = MEM_EAGER;
}

/* LF_HOST's image into cpu->flags (LF_NONE). */
static void image_to_eager(Jit *j)
{
    op_mem(j, 4, 0x8B, RAX, OFF(host_rflags));         /* mov eax, [host_rflags] */
    flags_from_rax(j, ARITH_MASK);
}

/* cmp byte [lf_op], kind */
static void cmp_lf_op(Jit *j, unsigned kind)
{
    b1(j, 0x80);
    b1(j, 0x80 | 7 << 3 | RBX);
    b4(j, (uint32_t)OFF(lf_op));
    b1(j, kind);
}

/* Before anything reads the flags from the CPU state (or changes the host's): the
 * host's flags stored as LF_HOST, the cheapest store (no merge into cpu->flags). */
static void flags_to_mem(Jit *j)
{
    if (!j->host || !j->mem_stale) return;
    b1(j, 0x9C);                                       /* pushfq */
    if (j->host_logic) {
        b1(j, 0x58);                                   /* pop rax */
        b1(j, 0x24);                                   /* and al, ~AF */
        b1(j, (uint8_t)~X86_FLAG_AF);
        op_mem(j, 8, 0x89, RAX, OFF(host_rflags));
    } else {
        op_mem(j, 8, 0x8F, 0, OFF(host_rflags));       /* pop qword [host_rflags] */
    }
    set_lf_op(j, LF_HOST);
    j->mem_stale = false;
    j->mem = MEM_HOST;
}

/* The arithmetic flags in EAX into the host's RFLAGS (DF, TF and AC 0). */
static void popf_arith_eax(Jit *j)
{
    b1(j, 0x25);                                       /* and eax, mask */
    b4(j, ARITH_MASK);
    b1(j, 0x50);                                       /* push rax */
    b1(j, 0x9D);                                       /* popfq */
}

static void call_helper(Jit *j, const void *fn)
{
    op_reg(j, 8, 0x89, RBX, RDI);                      /* mov rdi, rbx */
    mov_imm64(j, RAX, (uint64_t)(uintptr_t)fn);
    op_reg(j, 4, 0xFF, 2, RAX);                        /* call rax */
}

/* The lazy state, not LF_HOST, made exact: a call of flags_get unless it is LF_NONE. */
static void lazy_to_eager(Jit *j)
{
    cmp_lf_op(j, LF_NONE);
    b1(j, 0x74);                                       /* je over the call */
    uint8_t *rel = j->p;
    b1(j, 0);
    call_helper(j, (const void *)x86_jit_flags);
    *rel = (uint8_t)(j->p - rel - 1);
}

/* `jcc rel8` forward; returns the field to patch with rel8_here. */
static uint8_t *jcc8(Jit *j, unsigned cc)
{
    b1(j, 0x70 | cc);
    b1(j, 0);
    return j->p - 1;
}
static void rel8_here(Jit *j, uint8_t *field) { *field = (uint8_t)(j->p - field - 1); }

/* The flags exact in cpu->flags (lf_op LF_NONE). The host's flags are lost. */
static void make_eager(Jit *j)
{
    if (j->host && j->mem_stale) {
        host_to_eager(j);
        return;
    }
    j->host = false;
    switch (j->mem) {
    case MEM_EAGER:
        return;
    case MEM_HOST:
        image_to_eager(j);
        break;
    case MEM_LAZY:
        lazy_to_eager(j);
        break;
    default: {                                         /* MEM_ANY */
        cmp_lf_op(j, LF_HOST);
        uint8_t *lazy = jcc8(j, CC_NE);
        image_to_eager(j);
        b1(j, 0xEB);                                   /* jmp over the lazy case */
        uint8_t *done = j->p;
        b1(j, 0);
        rel8_here(j, lazy);
        lazy_to_eager(j);
        rel8_here(j, done);
    }
    }
    j->mem = MEM_EAGER;
}

/* Before a handler, which reads the lazy state: not LF_HOST (as make_eager, but another
 * lazy kind stays as it is). */
static void mem_for_handler(Jit *j)
{
    if (j->host && j->mem_stale) {
        host_to_eager(j);
    } else if (j->mem == MEM_HOST) {
        image_to_eager(j);
        j->mem = MEM_EAGER;
    } else if (j->mem == MEM_ANY) {
        cmp_lf_op(j, LF_HOST);
        uint8_t *other = jcc8(j, CC_NE);
        image_to_eager(j);
        rel8_here(j, other);
    }
}

/* Before an instruction that reads the flags: into the host's RFLAGS. */
static void flags_to_host(Jit *j)
{
    if (j->host) return;
    if (j->mem == MEM_HOST) {
        op_mem(j, 4, 0x8B, RAX, OFF(host_rflags));     /* mov eax, [host_rflags] */
    } else {
        make_eager(j);
        op_mem(j, 4, 0x8B, RAX, OFF(flags));           /* mov eax, [flags] */
    }
    popf_arith_eax(j);
    j->host = true;
    j->host_logic = false;
}

/* bt dword [rbx + disp], 0 */
static void bt0(Jit *j, int32_t disp)
{
    b1(j, 0x0F);
    b1(j, 0xBA);
    b1(j, 0x80 | 4 << 3 | RBX);
    b4(j, (uint32_t)disp);
    b1(j, 0);
}

/* Before an instruction that reads CF alone (ADC, SBB; INC and DEC keep it) and then sets
 * every arithmetic flag: CF into the host's. */
static void cf_to_host(Jit *j)
{
    if (j->host) return;
    if (j->mem == MEM_HOST) {
        bt0(j, OFF(host_rflags));
    } else if (j->mem == MEM_ANY) {                    /* LF_HOST: chained from a block */
        cmp_lf_op(j, LF_HOST);
        uint8_t *other = jcc8(j, CC_NE);
        bt0(j, OFF(host_rflags));
        b1(j, 0xEB);
        uint8_t *done = j->p;
        b1(j, 0);
        rel8_here(j, other);
        lazy_to_eager(j);
        bt0(j, OFF(flags));
        rel8_here(j, done);
    } else {
        make_eager(j);
        bt0(j, OFF(flags));
    }
}

/* The instruction just translated set every arithmetic flag in the host's RFLAGS. */
static void flags_set(Jit *j, bool logic)
{
    j->host = true;
    j->host_logic = logic;
    j->mem_stale = true;
}

/* The stack window: a page of SS offsets [R12, R12 + 4096) that lies within the SS
 * limit and maps to one page of RAM the TLB let the guest write, at host address R13.
 * A stack access inside it needs no segment or TLB check. Translated code fills it; it
 * holds while only translated code runs (SS and the TLB stay as they are), so it is
 * emptied at the entry from the run loop and after every handler. */
static void stack_window_empty(Jit *j)
{
    b1(j, 0x49);                                       /* mov r12, -2^31: none in it */
    b1(j, 0xC7);
    b1(j, 0xC4);
    b4(j, 0x80000000u);
}

/* push rbx; push r12; push r13 (the SysV ABI's callee-saved: RBX the X86Cpu, R12/R13
 * the stack window), which leaves the host stack 16-byte aligned for calls. */
static void save_regs(Jit *j)
{
    b1(j, 0x53);
    b1(j, 0x41), b1(j, 0x54);
    b1(j, 0x41), b1(j, 0x55);
}
static void restore_regs_ret(Jit *j)
{
    b1(j, 0x41), b1(j, 0x5D);                          /* pop r13 */
    b1(j, 0x41), b1(j, 0x5C);                          /* pop r12 */
    b1(j, 0x5B);                                       /* pop rbx */
    b1(j, 0xC3);                                       /* ret */
}

/* Returns the block to the run loop as the last that ran. */
static void return_block(Jit *j)
{
    mov_imm64(j, RAX, (uint64_t)(uintptr_t)j->block);
    restore_regs_ret(j);
}

/* To the block's tail, which goes on into the next block or back to the run loop; ECX
 * is the static exit that came (x86_jit_link patches it) or -1. */
static void to_tail(Jit *j, int exit)
{
    if (j->ntail == (int)(sizeof j->to_tail / sizeof j->to_tail[0])) {
        return_block(j);
        return;
    }
    mov_imm32(j, RCX, (uint32_t)exit);
    b1(j, 0xE9);
    j->to_tail[j->ntail++] = j->p;
    b4(j, 0);
}

/* The way on into a known target block, by byte offset: a generation (chain_gen or
 * global_gen, its offset at B_GEN_AT) checked against the value x86_jit_link patches in
 * with the jump (both also change with the code epoch and the CS limit links were made
 * under, run_block_fast); until then, and when the check fails, on to `miss`. */
enum { B_GEN_AT = 2, B_GEN = 6, B_JMP = 17, B_LEN = 21 };

static void jcc32(Jit *j, unsigned cc, uint8_t **patch);
static void patch32(uint8_t *field, const uint8_t *to);

/* Emits that check; returns its start, or NULL when the layout came out otherwise. Its
 * jumps to the miss path are left in miss[0..1]. */
static uint8_t *link_body(Jit *j, uint8_t **miss)
{
    uint8_t *start = j->p;
    op_mem(j, 4, 0x81, 7, OFF(chain_gen));              /* cmp dword [chain_gen], gen */
    b4(j, 0);
    jcc32(j, CC_NE, &miss[0]);
    b1(j, 0xE9);                                        /* jmp: the miss path, or the target */
    miss[1] = j->p;
    b4(j, 0);
    return j->p - start == B_LEN ? start : NULL;
}

/* The budget, which stop requests and events zero (jit_chain_limit). */
static void budget_check(Jit *j, uint8_t **miss)
{
    op_mem(j, 8, 0x8B, RAX, OFF(instructions_retired));
    op_mem(j, 8, 0x3B, RAX, OFF(jit_chain_limit));
    jcc32(j, CC_A, miss);
}

/* The block's end at a known RIP, the flags stored: straight on into the target once
 * x86_jit_link has patched it (exits 0 and 1), else through the tail. */
static void leave_static(Jit *j, uint32_t target)
{
    count_retired(j);
    if (j->nexits == 2) {
        store_u64(j, OFF(rip), target);
        to_tail(j, -1);
        return;
    }
    uint8_t *miss[3];
    budget_check(j, &miss[2]);
    j->block->jit_exit[j->nexits] = link_body(j, miss);
    for (int k = 0; k < 3; k++) patch32(miss[k], j->p);
    store_u64(j, OFF(rip), target);
    to_tail(j, j->nexits++);
}

/* The end after a RET, its target in EAX: two patched ways on (exits 2
 * and 3, each for the target RIP in its compare), else RIP stored and the tail. */
static void leave_return(Jit *j)
{
    op_reg(j, 4, 0x89, RAX, RDX);                       /* mov edx, eax */
    count_retired(j);
    uint8_t *miss[6], *next;
    int n = 0;
    budget_check(j, &miss[n++]);
    for (int slot = 2; slot < 4; slot++) {
        uint8_t *start = j->p;
        op_reg(j, 4, 0x81, 7, RDX);                     /* cmp edx, target */
        b4(j, ~0u);
        jcc32(j, CC_NE, slot == 2 ? &next : &miss[n++]);
        uint8_t *body = link_body(j, &miss[n]);
        n += 2;
        j->block->jit_exit[slot] = body ? start : NULL;
        if (slot == 2) patch32(next, j->p);
    }
    for (int k = 0; k < n; k++) patch32(miss[k], j->p);
    op_mem(j, 8, 0x89, RDX, OFF(rip));                  /* (a link needs no RIP) */
    to_tail(j, 2);
}

void x86_jit_link(X86Cpu *cpu, X86Block *from, uint32_t exit, const X86Block *to)
{
    uint8_t *e = NULL;
    if (exit < 2) {
        e = from->jit_exit[exit];
    } else if (exit == 2 && from->jit_exit[2] && from->jit_exit[3]) {
        /* the slot for this target, else the older one */
        uint32_t ip = (uint32_t)to->ip, t2, t3;
        memcpy(&t2, from->jit_exit[2] + 2, 4);
        memcpy(&t3, from->jit_exit[3] + 2, 4);
        unsigned slot = t2 == ip ? 2 : t3 == ip ? 3 : 2 + (from->jit_next_slot ^= 1);
        e = from->jit_exit[slot];
        memcpy(e + 2, &ip, 4);
        e += 12;                                        /* the compare and its jump */
    }
    if (!e) return;
    /* the generation the link depends on (x86_link_gen_off), checked at B_GEN_AT */
    uint32_t off = x86_link_gen_off(cpu, to, x86_lin_wrap(cpu, to->cs_base + to->ip));
    uint32_t gen = x86_gen_at(cpu, off);
    memcpy(e + B_GEN_AT, &off, 4);
    memcpy(e + B_GEN, &gen, 4);
    patch32(e + B_JMP, (const uint8_t *)to->jit_chain - cpu->jit_exec_delta);
}

/* Leaves with RIP from cpu->next_rip (after a handler, which may have ended the block or
 * changed what the run loop checks: back to it). */
static void leave_next_rip(Jit *j)
{
    op_mem(j, 8, 0x8B, RAX, OFF(next_rip));
    op_mem(j, 8, 0x89, RAX, OFF(rip));
    count_retired(j);
    return_block(j);
}

/* `op reg, [base + disp]` for a base register other than RBX (not RSP/RBP). */
static void op_base(Jit *j, unsigned size, unsigned opcode, unsigned reg, unsigned base,
                    int32_t disp)
{
    size_prefix(j, size);
    b1(j, opcode);
    b1(j, 0x80 | (reg & 7) << 3 | base);
    b4(j, (uint32_t)disp);
}

static void jcc32(Jit *j, unsigned cc, uint8_t **patch)
{
    b1(j, 0x0F);
    b1(j, 0x80 | cc);
    *patch = j->p;
    b4(j, 0);
}

static void patch32(uint8_t *field, const uint8_t *to)
{
    uint32_t rel = (uint32_t)(to - field - 4);
    memcpy(field, &rel, 4);
}

/* EAX = the generation whose offset in X86Cpu is the dword at [rsi + disp]. */
static void gen_at_rsi(Jit *j, int32_t disp)
{
    op_base(j, 4, 0x8B, RAX, RSI, disp);                   /* mov eax, [rsi + disp] */
    b1(j, 0x8B), b1(j, 0x04), b1(j, 0x03);                 /* mov eax, [rbx + rax] */
}

/* The checks run_loop makes between linked blocks, then into the next block's
 * translation: room in the budget for a whole block (none while a stop request or an
 * event waits: x86_jit_stop_chaining), a link for this RIP made under the current
 * chain_gen, or else the jump cache's entry for it (returns and indirect jumps to many
 * targets), the target's bytes current, a translation, and the CS limit above its
 * branch targets. Else back to the loop. The block ended plainly (a near transfer or
 * none), so CS, the mode and CPL are those of its own key, which the cache entry must
 * share. */
static void emit_tail(Jit *j)
{
    const X86Block *b = j->block;
    uint8_t *out[12], *probe[2], *found;
    int n = 0;
    budget_check(j, &out[n++]);
    mov_imm64(j, RSI, (uint64_t)(uintptr_t)&b->out[0]);
    op_mem(j, 8, 0x8B, RDX, OFF(rip));
    const int32_t l_ip = (int32_t)offsetof(BlockLink, ip);
    op_base(j, 8, 0x39, RDX, RSI, l_ip);                    /* cmp [rsi + ip], rdx */
    b1(j, 0x74);                                           /* je: the first link */
    uint8_t *first = j->p;
    b1(j, 0);
    b1(j, 0x48);                                           /* add rsi, sizeof(BlockLink) */
    b1(j, 0x83);
    b1(j, 0xC6);
    b1(j, sizeof(BlockLink));
    op_base(j, 8, 0x39, RDX, RSI, l_ip);
    jcc32(j, CC_NE, &probe[0]);
    *first = (uint8_t)(j->p - first - 1);
    gen_at_rsi(j, (int32_t)offsetof(BlockLink, gen_off));
    op_base(j, 4, 0x39, RAX, RSI, (int32_t)offsetof(BlockLink, gen));
    jcc32(j, CC_NE, &probe[1]);
    op_base(j, 8, 0x8B, RDI, RSI, (int32_t)offsetof(BlockLink, to));
    found = j->p;                                          /* RDI: the target block */
    op_mem(j, 4, 0x8B, RAX, OFF(code_epoch));
    op_base(j, 4, 0x39, RAX, RDI, (int32_t)offsetof(X86Block, epoch));
    jcc32(j, CC_NE, &out[n++]);
    op_base(j, 4, 0x8B, RAX, RDI, (int32_t)offsetof(X86Block, jit_max_target));
    op_mem(j, 4, 0x39, RAX, OFF(cs.limit));                /* cmp [cs.limit], eax */
    jcc32(j, CC_B, &out[n++]);
    op_base(j, 8, 0x83, 7, RDI, (int32_t)offsetof(X86Block, jit_chain));
    b1(j, 0);                                              /* cmp qword [jit_chain], 0 */
    jcc32(j, CC_E, &out[n++]);
    op_reg(j, 4, 0x85, RCX, RCX);                          /* test ecx, ecx */
    b1(j, 0x78);                                           /* js: no static exit */
    uint8_t *dynamic = j->p;
    b1(j, 0);
    b1(j, 0x57);                                           /* push rdi (twice: aligned) */
    b1(j, 0x57);
    op_reg(j, 4, 0x89, RCX, RDX);                          /* mov edx, ecx: the exit */
    op_reg(j, 8, 0x89, RDI, RCX);                          /* mov rcx, rdi: the target */
    mov_imm64(j, RSI, (uint64_t)(uintptr_t)b);
    call_helper(j, (const void *)x86_jit_link);
    b1(j, 0x5F);                                           /* pop rdi */
    b1(j, 0x5F);
    *dynamic = (uint8_t)(j->p - dynamic - 1);
    op_base(j, 4, 0xFF, 4, RDI, (int32_t)offsetof(X86Block, jit_chain));   /* jmp [..] */

    /* No link: the jump cache's entry for the linear RIP (x86_jump_cache_index), RDX
     * still the RIP. */
    for (int k = 0; k < 2; k++) patch32(probe[k], j->p);
    op_mem(j, 4, 0x8B, RAX, OFF(cs.base));
    op_reg(j, 4, 0x01, RDX, RAX);                          /* add eax, edx: linear */
    op_reg(j, 4, 0x89, RAX, RCX);                          /* mov ecx, eax */
    b1(j, 0xC1), b1(j, 0xE9), b1(j, 12);                   /* shr ecx, 12 */
    op_reg(j, 4, 0x31, RAX, RCX);                          /* xor ecx, eax */
    b1(j, 0x81), b1(j, 0xE1), b4(j, JUMP_CACHE_SIZE - 1);  /* and ecx, size - 1 */
    _Static_assert(sizeof(JumpCacheEntry) == 40, "the scaling below");
    b1(j, 0x48), b1(j, 0x8D), b1(j, 0x0C), b1(j, 0x89);    /* lea rcx, [rcx + rcx*4] */
    op_mem(j, 8, 0x8B, RSI, OFF(jump_cache));
    b1(j, 0x48), b1(j, 0x8D), b1(j, 0x34), b1(j, 0xCE);    /* lea rsi, [rsi + rcx*8] */
    op_base(j, 8, 0x39, RDX, RSI, (int32_t)offsetof(JumpCacheEntry, ip));
    jcc32(j, CC_NE, &out[n++]);
    op_mem(j, 8, 0x8B, RAX, OFF(cs.base));
    op_base(j, 8, 0x39, RAX, RSI, (int32_t)offsetof(JumpCacheEntry, cs_base));
    jcc32(j, CC_NE, &out[n++]);
    gen_at_rsi(j, (int32_t)offsetof(JumpCacheEntry, gen_off));
    op_base(j, 4, 0x39, RAX, RSI, (int32_t)offsetof(JumpCacheEntry, gen));
    jcc32(j, CC_NE, &out[n++]);
    op_base(j, 4, 0x81, 7, RSI, (int32_t)offsetof(JumpCacheEntry, mode));
    b4(j, (uint32_t)b->mode);                              /* cmp dword [mode], mode */
    jcc32(j, CC_NE, &out[n++]);
    op_base(j, 1, 0x80, 7, RSI, (int32_t)offsetof(JumpCacheEntry, user));
    b1(j, b->user);                                        /* cmp byte [user], user */
    jcc32(j, CC_NE, &out[n++]);
    op_base(j, 8, 0x8B, RDI, RSI, (int32_t)offsetof(JumpCacheEntry, block));
    op_reg(j, 8, 0x85, RDI, RDI);                          /* test rdi, rdi */
    jcc32(j, CC_E, &out[n++]);
    mov_imm32(j, RCX, ~0u);                                /* (no exit to patch) */
    b1(j, 0xE9);
    patch32(emit_at(j, 4), found);
    for (int k = 0; k < n; k++) patch32(out[k], j->p);
    return_block(j);
}

/* The handler of the instruction at `ip`, as run_block calls it (RIP, next RIP set; the
 * retired count and the flags already up to date). The instruction then counts. */
static void handler_call(Jit *j, const X86Insn *in, uint64_t ip)
{
    store_u64(j, OFF(rip), (uint32_t)ip);
    store_u64(j, OFF(next_rip), in->next_ip);
    mov_imm64(j, RSI, (uint64_t)(uintptr_t)in);
    call_helper(j, (const void *)in->fn);
    stack_window_empty(j);              /* (it may have loaded SS or changed the TLB) */
    j->uncounted = 1;
}

/* After a handler: out of the block when it ended it (x86_end_block). */
static void leave_if_ended(Jit *j)
{
    b1(j, 0x48);                                       /* cmp qword [insn_end], 0 */
    b1(j, 0x83);
    b1(j, 0x80 | 7 << 3 | RBX);
    b4(j, (uint32_t)OFF(insn_end));
    b1(j, 0);
    b1(j, 0x75);                                       /* jne over the exit */
    uint8_t *rel = j->p;
    b1(j, 0);
    uint32_t uncounted = j->uncounted;
    leave_next_rip(j);
    j->uncounted = uncounted;
    *rel = (uint8_t)(j->p - rel - 1);
}

/* Runs the instruction's handler. Not the last: leaves if it ended the block. */
static void call_handler(Jit *j, const X86Insn *in, uint64_t ip, bool last)
{
    mem_for_handler(j);
    count_retired(j);
    handler_call(j, in, ip);
    j->host = j->mem_stale = false;
    j->mem = MEM_LAZY;
    memset(j->seg_ok, 0, sizeof j->seg_ok);
    j->stack_ok = false;
    if (last && j->block->plain_end) {
        /* An indirect JMP or CALL, RET imm16, or an instruction before a page end: on
         * through the tail unless the handler ended the block (leave_if_ended). */
        leave_if_ended(j);
        op_mem(j, 8, 0x8B, RAX, OFF(next_rip));
        op_mem(j, 8, 0x89, RAX, OFF(rip));
        count_retired(j);
        to_tail(j, -1);
    } else if (last) {
        leave_next_rip(j);
    } else {
        leave_if_ended(j);
    }
}

/* Guest registers are written whole, 64 bits (a 32-bit result zero-extends, as reg_write
 * does): a narrower store followed by a wider load of the same register, here or in a
 * handler, would miss the host's store forwarding. The 8- and 16-bit part is worked on in
 * a host register: AL/AX/EAX, or AH for AH-BH (and CL/CX/ECX or CH as a source). */
static unsigned reg_base(unsigned r, unsigned size) { return size == 1 && r >= 4 ? r - 4 : r; }
static unsigned reg_part(unsigned host, unsigned r, unsigned size)
{
    return size == 1 && r >= 4 ? host + 4 : host;
}
static void load_reg(Jit *j, unsigned host, unsigned r, unsigned size)
{
    op_mem(j, size == 4 ? 4 : 8, 0x8B, host, GPR_OFF(reg_base(r, size)));
}
static void store_reg(Jit *j, unsigned host, unsigned r, unsigned size)
{
    op_mem(j, 8, 0x89, host, GPR_OFF(reg_base(r, size)));
}
/* The low 16 bits of host register `src` (not RCX) into guest register r. */
static void store_reg16(Jit *j, unsigned src, unsigned r)
{
    load_reg(j, RCX, r, 2);
    op_reg(j, 2, 0x89, src, RCX);                            /* mov cx, src16 */
    store_reg(j, RCX, r, 2);
}

static void imm_by_size(Jit *j, unsigned size, uint32_t imm)
{
    if (size == 1) b1(j, imm);
    else if (size == 2) { b1(j, imm); b1(j, imm >> 8); }
    else b4(j, imm);
}

/* dst = dst OP src (kind: ADD OR ADC SBB AND SUB XOR CMP, as in the opcode's bits 5:3),
 * guest registers of `size` bytes, the source already in RCX's part `src_part`. */
static void alu_rcx(Jit *j, unsigned kind, unsigned size, unsigned dst, unsigned src_part)
{
    load_reg(j, RAX, dst, size);
    op_reg(j, size, kind << 3 | (size == 1 ? 0 : 1), src_part, reg_part(RAX, dst, size));
    if (kind != 7) store_reg(j, RAX, dst, size);
}

static void alu_rr(Jit *j, unsigned kind, unsigned size, unsigned dst, unsigned src)
{
    load_reg(j, RCX, src, size);
    alu_rcx(j, kind, size, dst, reg_part(RCX, src, size));
}

static void alu_ri(Jit *j, unsigned kind, unsigned size, unsigned dst, uint32_t imm)
{
    load_reg(j, RAX, dst, size);
    op_reg(j, size, size == 1 ? 0x80 : 0x81, kind, reg_part(RAX, dst, size));
    imm_by_size(j, size, imm);
    if (kind != 7) store_reg(j, RAX, dst, size);
}

static void test_rr(Jit *j, unsigned size, unsigned a, unsigned b)
{
    load_reg(j, RCX, b, size);
    load_reg(j, RAX, a, size);
    op_reg(j, size, size == 1 ? 0x84 : 0x85, reg_part(RCX, b, size), reg_part(RAX, a, size));
}

static void test_ri(Jit *j, unsigned size, unsigned a, uint32_t imm)
{
    load_reg(j, RAX, a, size);
    op_reg(j, size, size == 1 ? 0xF6 : 0xF7, 0, reg_part(RAX, a, size));
    imm_by_size(j, size, imm);
}

static void incdec(Jit *j, unsigned size, unsigned r, bool dec)
{
    load_reg(j, RAX, r, size);
    op_reg(j, size, size == 1 ? 0xFE : 0xFF, dec, reg_part(RAX, r, size));
    store_reg(j, RAX, r, size);
}

static void mov_rr(Jit *j, unsigned size, unsigned dst, unsigned src)
{
    if (size == 4) {
        load_reg(j, RAX, src, 4);
        store_reg(j, RAX, dst, 4);
        return;
    }
    load_reg(j, RCX, src, size);
    load_reg(j, RAX, dst, size);
    op_reg(j, size, size == 1 ? 0x88 : 0x89, reg_part(RCX, src, size), reg_part(RAX, dst, size));
    store_reg(j, RAX, dst, size);
}

static void mov_ri(Jit *j, unsigned size, unsigned dst, uint32_t imm)
{
    if (size == 4) {
        store_u64(j, GPR_OFF(dst), imm);
        return;
    }
    load_reg(j, RAX, dst, size);
    size_prefix(j, size);
    b1(j, (size == 1 ? 0xB0 : 0xB8) + reg_part(RAX, dst, size));   /* mov part, imm */
    imm_by_size(j, size, imm);
    store_reg(j, RAX, dst, size);
}

/* The effective address of the ModR/M memory operand, as insn_ea computes it, into host
 * register `out` (RAX or RDX); RCX is scratch. No flags change. */
static void ea(Jit *j, const X86Insn *in, unsigned out)
{
    bool base = in->base != X86_REG_NONE, index = in->index != X86_REG_NONE;
    if (base) op_mem(j, 4, 0x8B, out, GPR_OFF(in->base));
    if (index) op_mem(j, 4, 0x8B, RCX, GPR_OFF(in->index));
    if (base && index) {                   /* lea out, [out + rcx * scale + disp32] */
        b1(j, 0x8D);
        b1(j, 0x84 | out << 3);
        b1(j, in->scale << 6 | RCX << 3 | out);
    } else if (base) {                     /* lea out, [out + disp32] */
        b1(j, 0x8D);
        b1(j, 0x80 | out << 3 | out);
    } else if (index) {                    /* lea out, [rcx * scale + disp32] */
        b1(j, 0x8D);
        b1(j, 0x04 | out << 3);
        b1(j, in->scale << 6 | RCX << 3 | 5);
    } else {
        mov_imm32(j, out, (uint32_t)in->disp);
    }
    if (base || index) b4(j, (uint32_t)in->disp);
    if (in->asz == 2) op_reg(j, 4, 0x0FB7, out, out);        /* movzx out, out16 */
}

/* LEA: the effective address without a memory access (no flags). */
static void lea(Jit *j, const X86Insn *in)
{
    ea(j, in, RAX);
    if (in->osz == 4) store_reg(j, RAX, in->reg, 4);
    else store_reg16(j, RAX, in->reg);
}

/* ---------------------------------------------------------------------------------- */
/* Memory operands: the fast path of x86_linear and lin_read/lin_write, inline          */
/* ---------------------------------------------------------------------------------- */

static SlowStub *stub_begin(Jit *j, const X86Insn *in, uint64_t ip, bool last)
{
    SlowStub *st = &j->stubs[j->nstubs++];
    *st = (SlowStub){ .in = in, .ip = ip, .uncounted = j->uncounted, .last = last,
                      .mem = j->mem };
    return st;
}

static void jcc_stub(Jit *j, SlowStub *st, unsigned cc);

/* jcc rel32 to the stub for a failed type check */
static void jcc_type_stub(Jit *j, SlowStub *st, unsigned cc)
{
    if (!st->type_stub) {
        st->type_stub = stub_begin(j, st->in, st->ip, true);
        st->type_stub->uncounted = st->uncounted;
        st->type_stub->is_type_stub = true;
    }
    jcc_stub(j, st->type_stub, cc);
}

/* jcc rel32 to the stub */
static void jcc_stub(Jit *j, SlowStub *st, unsigned cc)
{
    b1(j, 0x0F);
    b1(j, 0x80 | cc);
    /* (a fast path makes at most 3 jumps to one stub; more would be an emitter bug,
     * which drops the translation rather than leave a jump unpatched) */
    if (st->npatch == (int)(sizeof st->patch / sizeof st->patch[0])) j->overflow = true;
    else st->patch[st->npatch++] = j->p;
    b4(j, 0);
}

static void stub_end(Jit *j, SlowStub *st) { st->resume = j->p; }

/* RSI = host address of [seg:EDX, + size) when the segment check, the TLB and the page
 * end let the access go the fast way, else to the stub. EDX stays; RAX and RCX go. */
static void fast_ptr(Jit *j, SlowStub *st, unsigned seg, unsigned size, bool write)
{
    const int32_t s_off = OFF(seg) + (int32_t)(seg * sizeof(X86Segment));
    const int32_t limit = s_off + (int32_t)offsetof(X86Segment, limit);
    uint8_t *full = NULL, *done = NULL;
    if (seg == X86_SS) {                      /* in the stack window: RSI = R13 + EDX - R12 */
        op_reg(j, 8, 0x89, RDX, RCX);                        /* mov rcx, rdx */
        b1(j, 0x4C), b1(j, 0x29), b1(j, 0xE1);               /* sub rcx, r12 */
        op_reg(j, 8, 0x81, 7, RCX);                          /* cmp rcx, 4096 - size */
        b4(j, 4096 - size);
        jcc32(j, CC_A, &full);
        b1(j, 0x49), b1(j, 0x8D), b1(j, 0x74), b1(j, 0x0D), b1(j, 0x00); /* lea rsi, [r13+rcx] */
        b1(j, 0xE9);
        done = j->p;
        b4(j, 0);
        patch32(full, j->p);
        /* The window skips this path's segment checks: a later access in the block that
         * comes here may be the first to make them. */
        j->seg_ok[X86_SS] = 0;
    }
    /* off + size - 1 <= limit, in 64 bits */
    if (size == 1) {
        op_mem(j, 4, 0x3B, RDX, limit);                      /* cmp edx, [limit] */
    } else {
        b1(j, 0x48);                                         /* lea rax, [rdx + size - 1] */
        b1(j, 0x8D);
        b1(j, 0x42);
        b1(j, size - 1);
        op_mem(j, 4, 0x8B, RCX, limit);                      /* mov ecx, [limit] */
        op_reg(j, 8, 0x39, RCX, RAX);                        /* cmp rax, rcx */
    }
    jcc_stub(j, st, CC_A);
    /* seg_fast_type: writable data for writes; no expand-down and not execute-only
     * code for reads; usable */
    if (j->seg_ok[seg] & (write ? 2 : 3)) {
        /* checked earlier in the block */
    } else if (write) {
        j->seg_ok[seg] = 2;
        op_mem(j, 4, 0x8B, RCX, s_off + (int32_t)offsetof(X86Segment, attr));
        op_reg(j, 4, 0x81, 4, RCX);                          /* and ecx, mask */
        b4(j, X86_AR_UNUSABLE | 0xEu);
        op_reg(j, 4, 0x81, 7, RCX);                          /* cmp ecx, WRITABLE */
        b4(j, X86_SEG_WRITABLE);
        jcc_type_stub(j, st, CC_NE);
    } else {
        j->seg_ok[seg] = 1;
        op_mem(j, 4, 0x8B, RCX, s_off + (int32_t)offsetof(X86Segment, attr));
        op_reg(j, 4, 0x81, 4, RCX);
        b4(j, X86_AR_UNUSABLE | X86_SEG_EXPDOWN | X86_SEG_CODE | X86_SEG_WRITABLE);
        op_reg(j, 4, 0xF7, 0, RCX);                          /* test ecx, imm */
        b4(j, X86_AR_UNUSABLE | X86_SEG_EXPDOWN);
        jcc_type_stub(j, st, CC_NE);
        op_reg(j, 4, 0x81, 7, RCX);                          /* cmp ecx, CODE */
        b4(j, X86_SEG_CODE);
        jcc_type_stub(j, st, CC_E);
    }
    /* linear = (uint32_t)(base + off) */
    op_mem(j, 4, 0x8B, RAX, s_off + (int32_t)offsetof(X86Segment, base));
    op_reg(j, 4, 0x01, RDX, RAX);                            /* add eax, edx */
    /* the TLB entry of the page: tag == page number */
    op_reg(j, 4, 0x89, RAX, RCX);                            /* mov ecx, eax */
    op_reg(j, 4, 0xC1, 5, RCX);                              /* shr ecx, 12 */
    b1(j, 12);
    op_reg(j, 4, 0x89, RCX, RSI);                            /* mov esi, ecx */
    op_reg(j, 4, 0x81, 4, RSI);                              /* and esi, entries - 1 */
    b4(j, X86_TLB_SIZE - 1);
    op_reg(j, 4, 0x6B, RSI, RSI);                            /* imul esi, esi, entry size */
    b1(j, sizeof(X86TlbEntry));
    /* the TLB half of the level the block was decoded for (cpu_mode) */
    int32_t e0 = OFF(tlb) + (j->block->user
                                 ? (int32_t)(X86_TLB_SIZE * sizeof(X86TlbEntry)) : 0);
    int32_t tag = e0 + (int32_t)(write ? offsetof(X86TlbEntry, tag_write)
                                       : offsetof(X86TlbEntry, tag_read));
    if (size > 1) {              /* the page of the last byte: one that crosses misses */
        b1(j, 0x8D);                                         /* lea ecx, [rax + size - 1] */
        b1(j, 0x48);
        b1(j, size - 1);
        op_reg(j, 4, 0xC1, 5, RCX);                          /* shr ecx, 12 */
        b1(j, 12);
    }
    b1(j, 0x48);                                             /* cmp [rbx + rsi + tag], rcx */
    b1(j, 0x39);
    b1(j, 0x80 | RCX << 3 | 4);
    b1(j, RSI << 3 | RBX);
    b4(j, (uint32_t)tag);
    jcc_stub(j, st, CC_NE);
    if (seg == X86_SS && !write) op_reg(j, 8, 0x89, RSI, RDI);   /* mov rdi, rsi: the entry */
    b1(j, 0x48);                                             /* mov rsi, [rbx + rsi + addend] */
    b1(j, 0x8B);
    b1(j, 0x80 | RSI << 3 | 4);
    b1(j, RSI << 3 | RBX);
    b4(j, (uint32_t)(e0 + (int32_t)offsetof(X86TlbEntry, addend)));
    op_reg(j, 8, 0x01, RAX, RSI);                            /* add rsi, rax */
    uint8_t *not_writable[2] = { NULL, NULL };
    if (seg == X86_SS && !write) {
        /* A read opens the window too when a write there would pass the same checks:
         * the TLB entry allows writes to the page (its write tag is the page's) and SS
         * is writable (not expand-down: the read check saw to that). Locals read
         * through EBP in a loop without pushes then skip the checks as well. */
        b1(j, 0x48);                                         /* cmp [rbx + rdi + tag_w], rcx */
        b1(j, 0x39);
        b1(j, 0x80 | RCX << 3 | 4);
        b1(j, RDI << 3 | RBX);
        b4(j, (uint32_t)(e0 + (int32_t)offsetof(X86TlbEntry, tag_write)));
        not_writable[0] = jcc8(j, CC_NE);
        op_mem(j, 4, 0xF7, 0, s_off + (int32_t)offsetof(X86Segment, attr));
        b4(j, X86_SEG_WRITABLE);                             /* test dword [attr], W */
        not_writable[1] = jcc8(j, CC_E);
    }
    if (seg == X86_SS) {
        /* The window around EDX: from the offset of its linear page's start, when that
         * is not below 0 and the page's last offset is within the limit. */
        op_reg(j, 4, 0x89, RAX, RCX);                        /* mov ecx, eax */
        op_reg(j, 4, 0x81, 4, RCX);                          /* and ecx, 0xFFF */
        b4(j, 0xFFF);
        op_reg(j, 8, 0x89, RDX, RDI);                        /* mov rdi, rdx */
        op_reg(j, 8, 0x29, RCX, RDI);                        /* sub rdi, rcx */
        uint8_t *below = jcc8(j, CC_B);
        b1(j, 0x48), b1(j, 0x8D), b1(j, 0x87);               /* lea rax, [rdi + 0xFFF] */
        b4(j, 0xFFF);
        op_mem(j, 4, 0x8B, RCX, limit);                      /* mov ecx, [limit] */
        op_reg(j, 8, 0x39, RCX, RAX);                        /* cmp rax, rcx */
        uint8_t *above = jcc8(j, CC_A);
        b1(j, 0x49), b1(j, 0x89), b1(j, 0xFC);               /* mov r12, rdi */
        b1(j, 0x49), b1(j, 0x89), b1(j, 0xF5);               /* mov r13, rsi */
        b1(j, 0x49), b1(j, 0x29), b1(j, 0xD5);               /* sub r13, rdx */
        b1(j, 0x49), b1(j, 0x01), b1(j, 0xFD);               /* add r13, rdi */
        rel8_here(j, below);
        rel8_here(j, above);
        for (int k = 0; k < 2; k++)
            if (not_writable[k]) rel8_here(j, not_writable[k]);
    }
    if (done) patch32(done, j->p);
}
_Static_assert(sizeof(X86TlbEntry) < 128, "a TLB entry's size fits imul's imm8");

/* `op reg, [rsi]` / `op [rsi], reg` on the host address fast_ptr gave. */
static void op_rsi(Jit *j, unsigned size, unsigned opcode, unsigned reg)
{
    size_prefix(j, size);
    if (opcode > 0xFF) b1(j, opcode >> 8);
    b1(j, opcode & 0xFF);
    b1(j, (reg & 7) << 3 | RSI);
}

/* The stack pointer into EDX (SS.B as at translation: guarded), minus `down`. */
static void sp_to_edx(Jit *j, SlowStub *st, bool stack32, int down)
{
    if (!j->stack_ok) {
        op_mem(j, 4, 0xF7, 0, OFF(ss.attr));                 /* test [ss.attr], DB */
        b4(j, X86_AR_DB);
        jcc_type_stub(j, st, stack32 ? CC_E : CC_NE);
        j->stack_ok = true;
    }
    op_mem(j, 4, stack32 ? 0x8B : 0x0FB7, RDX, GPR_OFF(X86_RSP));
    if (down) {
        b1(j, 0x8D);                                         /* lea edx, [rdx - down] */
        b1(j, 0x52);
        b1(j, (uint8_t)(-down));
        if (!stack32) op_reg(j, 4, 0x0FB7, RDX, RDX);        /* movzx edx, dx */
    }
}

/* ESP/SP = EDX + up (after the access). */
static void sp_from_edx(Jit *j, bool stack32, int up)
{
    if (up) {
        b1(j, 0x8D);                                         /* lea edx, [rdx + up] */
        b1(j, 0x52);
        b1(j, up);
    }
    /* SP alone as a word: the stack-16 code here reads it back as a word, which the host
     * forwards from this store */
    if (stack32) store_reg(j, RDX, X86_RSP, 4);
    else op_mem(j, 2, 0x89, RDX, GPR_OFF(X86_RSP));
}

/* Before a fast path: its checks change the host's flags. */
static void mem_prologue(Jit *j)
{
    flags_to_mem(j);
    j->host = false;
}

/* cpu->flags = (cpu->flags & ~keep_out) | ECX. */
static void merge_flags_ecx(Jit *j, uint32_t keep_out)
{
    op_mem(j, 4, 0x8B, RDX, OFF(flags));
    op_reg(j, 4, 0x81, 4, RDX);                              /* and edx, ~keep_out */
    b4(j, ~keep_out);
    op_reg(j, 4, 0x09, RCX, RDX);                            /* or edx, ecx */
    op_mem(j, 4, 0x89, RDX, OFF(flags));
}

/* EDX = bit `bit` of EAX. */
static void bit_of_eax(Jit *j, unsigned reg, unsigned bit)
{
    op_reg(j, 4, 0x89, RAX, reg);                            /* mov reg, eax */
    if (bit) {
        op_reg(j, 4, 0xC1, 5, reg);                          /* shr reg, bit */
        b1(j, bit);
    }
    op_reg(j, 4, 0x83, 4, reg);                              /* and reg, 1 */
    b1(j, 1);
}

/* ROL/ROR r, imm: the result by the host, CF and OF as rot_ri computes them (for every
 * count: CF the bit rotated in, OF the top bit XOR CF for ROL, the top two bits XORed for
 * ROR), the other flags kept. */
static void rotate_ri(Jit *j, unsigned size, unsigned r, bool right, unsigned count)
{
    make_eager(j);                         /* (it merges CF and OF into cpu->flags) */
    unsigned w = size * 8;
    load_reg(j, RAX, r, size);
    op_reg(j, size, size == 1 ? 0xC0 : 0xC1, right, reg_part(RAX, r, size));
    b1(j, count);
    store_reg(j, RAX, r, size);
    if (size == 1 && r >= 4) op_reg(j, 4, 0xC1, 5, RAX), b1(j, 8);   /* shr eax, 8: AH */
    bit_of_eax(j, RCX, w - 1);                               /* ecx = top bit */
    bit_of_eax(j, RDX, right ? w - 2 : 0);                   /* edx = bit 0 / next to top */
    if (right) {                                             /* CF = top, OF = top ^ next */
        op_reg(j, 4, 0x31, RCX, RDX);                        /* xor edx, ecx */
        op_reg(j, 4, 0xC1, 4, RDX);                          /* shl edx, 11 */
        b1(j, 11);
        op_reg(j, 4, 0x09, RDX, RCX);                        /* or ecx, edx */
    } else {                                                 /* CF = bit 0, OF = top ^ CF */
        op_reg(j, 4, 0x31, RDX, RCX);                        /* xor ecx, edx */
        op_reg(j, 4, 0xC1, 4, RCX);                          /* shl ecx, 11 */
        b1(j, 11);
        op_reg(j, 4, 0x09, RDX, RCX);                        /* or ecx, edx */
    }
    merge_flags_ecx(j, X86_FLAG_CF | X86_FLAG_OF);
}

/* IMUL r, r, imm (69/6B) and IMUL r, r (0F AF): CF = OF = the product did not fit, SF ZF
 * PF of the result, AF 0 (mul_flags' LF_CFOF). Every arithmetic flag is written, as an
 * LF_HOST image, so the older ones, wherever they are, do not matter. */
static void imul_rr(Jit *j, unsigned size, unsigned dst, unsigned src, bool has_imm,
                    uint32_t imm)
{
    load_reg(j, RCX, src, size);
    if (has_imm) {
        op_reg(j, size, 0x69, RAX, RCX);                     /* imul eax, ecx, imm */
        imm_by_size(j, size, imm);
    } else {
        load_reg(j, RAX, dst, size);
        op_reg(j, size, 0x0FAF, RAX, RCX);                   /* imul eax, ecx */
    }
    op_reg(j, 4, 0x0F90, 0, RDX);                            /* seto dl */
    if (size == 4) store_reg(j, RAX, dst, 4);
    else store_reg16(j, RAX, dst);
    op_reg(j, size, 0x85, RAX, RAX);                         /* test eax, eax: S Z P */
    b1(j, 0x9C);                                             /* pushfq */
    b1(j, 0x59);                                             /* pop rcx */
    op_reg(j, 4, 0x81, 4, RCX);                              /* and ecx, SF|ZF|PF */
    b4(j, X86_FLAG_SF | X86_FLAG_ZF | X86_FLAG_PF);
    op_reg(j, 4, 0x0FB6, RDX, RDX);                          /* movzx edx, dl */
    op_reg(j, 4, 0x69, RDX, RDX);                            /* imul edx, edx, CF|OF */
    b4(j, X86_FLAG_CF | X86_FLAG_OF);
    op_reg(j, 4, 0x09, RDX, RCX);                            /* or ecx, edx */
    op_mem(j, 8, 0x89, RCX, OFF(host_rflags));               /* an LF_HOST image */
    set_lf_op(j, LF_HOST);
    j->host = j->mem_stale = false;
    j->mem = MEM_HOST;
}

/* SHL (4), SHR (5), SAR (7) r, imm with 0 < count < the operand's width, where the
 * host's result, CF, SF, ZF and PF are shift_value's. With a count of 1 so is its OF, and
 * the flags stay in the host's (AF, undefined, cleared as LF_CFOF has it: host_logic).
 * With a larger count the host's OF is undefined: an LF_HOST image gets this model's
 * (SHL: the result's top bit XOR CF, i.e. SF ^ CF; SHR, SAR: 0). */
static void shift_ri(Jit *j, unsigned size, unsigned r, unsigned kind, unsigned count)
{
    load_reg(j, RAX, r, size);
    op_reg(j, size, size == 1 ? 0xC0 : 0xC1, kind, reg_part(RAX, r, size));
    b1(j, count);
    if (count == 1) {
        store_reg(j, RAX, r, size);
        flags_set(j, true);
        return;
    }
    b1(j, 0x9C);                                             /* pushfq */
    b1(j, 0x59);                                             /* pop rcx */
    store_reg(j, RAX, r, size);
    op_reg(j, 4, 0x81, 4, RCX);                              /* and ecx, CF|SF|ZF|PF */
    b4(j, X86_FLAG_CF | X86_FLAG_SF | X86_FLAG_ZF | X86_FLAG_PF);
    if (kind == 4) {
        op_reg(j, 4, 0x89, RCX, RDX);                        /* mov edx, ecx */
        op_reg(j, 4, 0xC1, 5, RDX);                          /* shr edx, 7: SF */
        b1(j, 7);
        op_reg(j, 4, 0x31, RCX, RDX);                        /* xor edx, ecx: ^ CF */
        op_reg(j, 4, 0x83, 4, RDX);                          /* and edx, 1 */
        b1(j, 1);
        op_reg(j, 4, 0xC1, 4, RDX);                          /* shl edx, 11: OF */
        b1(j, 11);
        op_reg(j, 4, 0x09, RDX, RCX);                        /* or ecx, edx */
    }
    op_mem(j, 8, 0x89, RCX, OFF(host_rflags));               /* an LF_HOST image */
    set_lf_op(j, LF_HOST);
    j->host = j->mem_stale = false;
    j->mem = MEM_HOST;
}

/* MOVZX/MOVSX (0F B6 B7 BE BF): host opcode for a source of `ssize` bytes. */
static unsigned movx_opcode(bool sign, unsigned ssize)
{
    return (sign ? 0x0FBE : 0x0FB6) | (ssize == 2);
}

/* EAX into guest register r as MOVZX/MOVSX/CMOV write it: 32 bits whole, or the low
 * word. */
static void store_osz(Jit *j, unsigned osz, unsigned r)
{
    if (osz == 4) store_reg(j, RAX, r, 4);
    else store_reg16(j, RAX, r);
}

/* ADC (2) and SBB (3) read CF. */
static bool alu_reads_cf(unsigned kind) { return kind == 2 || kind == 3; }

/* Translates the instruction inline; false when it needs its handler (nothing emitted).
 * The operands are as x86_specialize leaves them: a register-form ALU or MOV instruction
 * has its destination in rm and its source in reg, whichever way its opcode has them. */
static bool translate_inline(Jit *j, const X86Insn *in)
{
    if ((in->prefix & PFX_LOCK) || in->fn == op_ud) return false;
    const X86OpInfo *info = x86_opinfo(in->op);
    unsigned osz = in->osz, size = x86_op_width(in), kind = info->carg;
    bool reg_form = in->has_modrm && in->mod == 3;
    switch (info->cls) {
    case OC_ALU_EG: case OC_ALU_GE: case OC_ALU_AI:
        if (info->cls != OC_ALU_AI && !reg_form) return false;
        if (alu_reads_cf(kind)) cf_to_host(j);
        if (info->cls == OC_ALU_AI) alu_ri(j, kind, size, X86_RAX, in->imm);
        else alu_rr(j, kind, size, in->rm, in->reg);
        flags_set(j, kind == 1 || kind == 4 || kind == 6);
        return true;
    case OC_GRP1:                                              /* ALU r, imm */
        if (!reg_form) return false;
        kind = in->reg;
        if (alu_reads_cf(kind)) cf_to_host(j);
        alu_ri(j, kind, size, in->rm, in->imm);
        flags_set(j, kind == 1 || kind == 4 || kind == 6);
        return true;
    case OC_TEST_EG:
        if (!reg_form) return false;
        test_rr(j, size, in->rm, in->reg);
        flags_set(j, true);
        return true;
    case OC_GRP3: case OC_TEST_AI:
        if (info->cls == OC_GRP3 && !(reg_form && in->reg <= 1)) return false;
        test_ri(j, size, info->cls == OC_GRP3 ? in->rm : X86_RAX, in->imm);
        flags_set(j, true);
        return true;
    case OC_INC_Z: case OC_DEC_Z:
        cf_to_host(j);                                         /* INC/DEC keep CF */
        incdec(j, osz, in->reg, info->cls == OC_DEC_Z);
        flags_set(j, false);
        return true;
    case OC_GRP4: case OC_GRP5:
        if (!reg_form || in->reg > 1) return false;
        cf_to_host(j);
        incdec(j, size, in->rm, in->reg == 1);
        flags_set(j, false);
        return true;
    case OC_MOV_EG: case OC_MOV_GE:
        if (!reg_form) return false;
        mov_rr(j, size, in->rm, in->reg);
        return true;
    case OC_MOV_ZI:
        mov_ri(j, size, in->reg, in->imm);
        return true;
    case OC_LEA:
        if (in->mod == 3) return false;
        lea(j, in);
        return true;
    case OC_NOP:
        return !(in->prefix & (PFX_REP | PFX_REPNE));
    case OC_SHIFT: {
        if (!reg_form || info->carg == 2 || in->reg == 2 || in->reg == 3) return false;
        unsigned count = (info->carg == 1 ? 1 : in->imm) & 0x1F;
        if (in->reg <= 1) {
            if (count) rotate_ri(j, size, in->rm, in->reg == 1, count);
            return true;                 /* a count of 0 changes nothing */
        }
        if (count >= size * 8) return false;  /* (the host's CF is undefined there) */
        if (count) shift_ri(j, size, in->rm, in->reg == 6 ? 4 : in->reg, count);
        return true;
    }
    case OC_MOVX:                                              /* MOVZX, MOVSX */
        if (!reg_form) return false;
        load_reg(j, RCX, in->rm, size);
        op_reg(j, 4, movx_opcode(info->carg, size), RAX, reg_part(RCX, in->rm, size));
        store_osz(j, osz, in->reg);
        return true;
    case OC_CMOV:                                              /* CMOVcc r, r */
        if (!reg_form) return false;
        flags_to_host(j);                                      /* (moves keep them) */
        load_reg(j, RCX, in->rm, osz);
        load_reg(j, RAX, in->reg, osz);
        op_reg(j, osz, 0x0F40 | info->carg, RAX, RCX);
        store_osz(j, osz, in->reg);
        return true;
    case OC_SETCC:                                             /* SETcc r8 */
        if (!reg_form) return false;
        flags_to_host(j);
        load_reg(j, RAX, in->rm, 1);
        op_reg(j, 4, 0x0F90 | info->carg, 0, reg_part(RAX, in->rm, 1));
        store_reg(j, RAX, in->rm, 1);
        return true;
    case OC_IMUL3: case OC_IMUL2:
        if (!reg_form) return false;
        imul_rr(j, osz, in->reg, in->rm, info->cls == OC_IMUL3, in->imm);
        return true;
    default:
        return false;
    }
}

/* MOV r, m; MOV m, r; MOV m, imm; ALU r, m (the destination a register); MOVZX/MOVSX
 * r, m; INC/DEC m; CMOVcc r, m; SETcc m; ALU m, r and m, imm; TEST m, r and m, imm;
 * MOV between the accumulator and moffs (A0-A3). */
static bool mem_insn(Jit *j, const X86Insn *in, uint64_t ip, bool last)
{
    const X86OpInfo *info = x86_opinfo(in->op);
    unsigned cls = info->cls;
    if ((cls == OC_MOV_AO || cls == OC_MOV_OA) && !(in->prefix & PFX_LOCK) &&
        in->fn != op_ud && in->base == X86_REG_NONE && in->index == X86_REG_NONE &&
        j->nstubs + 2 <= MAX_STUBS) {                  /* MOV AL/AX/EAX, moffs and back */
        unsigned size = x86_op_width(in);
        bool store = cls == OC_MOV_OA;
        mem_prologue(j);
        SlowStub *st = stub_begin(j, in, ip, last);
        ea(j, in, RDX);
        fast_ptr(j, st, in->seg, size, store);
        if (size != 4 || store) load_reg(j, RAX, X86_RAX, size);
        op_rsi(j, size, (size == 1 ? 0x8A : 0x8B) ^ (store ? 2 : 0), RAX);
        if (!store) store_reg(j, RAX, X86_RAX, size);
        stub_end(j, st);
        return true;
    }
    if ((in->prefix & PFX_LOCK) || in->fn == op_ud || !in->has_modrm || in->mod == 3 ||
        j->nstubs + 2 > MAX_STUBS)
        return false;
    bool alu = cls == OC_ALU_GE;
    bool load = cls == OC_MOV_GE, store = cls == OC_MOV_EG;
    bool store_imm = cls == OC_MOV_EI && in->reg == 0;
    bool incdec_m = (cls == OC_GRP4 || cls == OC_GRP5) && in->reg <= 1;
    if (cls == OC_MOVX) {                              /* MOVZX/MOVSX r, m8/m16 */
        unsigned ssize = x86_op_width(in);
        mem_prologue(j);
        SlowStub *st = stub_begin(j, in, ip, last);
        ea(j, in, RDX);
        fast_ptr(j, st, in->seg, ssize, false);
        op_rsi(j, 4, movx_opcode(info->carg, ssize), RAX);
        store_osz(j, in->osz, in->reg);
        stub_end(j, st);
        return true;
    }
    if (incdec_m) {                                    /* INC/DEC m: CF kept */
        unsigned size = x86_op_width(in);
        make_eager(j);                                 /* CF readable after the checks */
        mem_prologue(j);
        SlowStub *st = stub_begin(j, in, ip, last);
        ea(j, in, RDX);
        fast_ptr(j, st, in->seg, size, true);
        cf_to_host(j);
        op_rsi(j, size, size == 1 ? 0xFE : 0xFF, in->reg);
        flags_set(j, false);
        st->writes_flags = true;
        stub_end(j, st);
        return true;
    }
    if (cls == OC_CMOV) {                              /* CMOVcc r, m: m is always read */
        make_eager(j);                                 /* (no helper call after the load) */
        mem_prologue(j);
        SlowStub *st = stub_begin(j, in, ip, last);
        ea(j, in, RDX);
        fast_ptr(j, st, in->seg, in->osz, false);
        op_rsi(j, in->osz, 0x8B, RCX);
        flags_to_host(j);
        load_reg(j, RAX, in->reg, in->osz);
        op_reg(j, in->osz, 0x0F40 | info->carg, RAX, RCX);
        store_osz(j, in->osz, in->reg);
        j->host = false;                               /* (as the stub leaves them) */
        stub_end(j, st);
        return true;
    }
    if (cls == OC_SETCC) {                             /* SETcc m8 */
        make_eager(j);
        mem_prologue(j);
        SlowStub *st = stub_begin(j, in, ip, last);
        ea(j, in, RDX);
        fast_ptr(j, st, in->seg, 1, true);
        flags_to_host(j);
        op_rsi(j, 4, 0x0F90 | info->carg, 0);
        j->host = false;
        stub_end(j, st);
        return true;
    }
    /* ALU m, r (00 01 08 09 ... 38 39), ALU m, imm (80-83), TEST m, r (84 85), TEST m,
     * imm (F6 F7 /0 /1): memory the destination, or only read (CMP, TEST) */
    bool alu_mr = cls == OC_ALU_EG, alu_mi = cls == OC_GRP1;
    bool test_mr = cls == OC_TEST_EG;
    bool test_mi = cls == OC_GRP3 && in->reg <= 1;
    if (alu_mr || alu_mi || test_mr || test_mi) {
        unsigned size = x86_op_width(in);
        unsigned kind = alu_mr ? info->carg : alu_mi ? in->reg : 8;   /* 8: TEST */
        bool writes = kind < 7;
        if (alu_reads_cf(kind)) make_eager(j);
        mem_prologue(j);
        SlowStub *st = stub_begin(j, in, ip, last);
        ea(j, in, RDX);
        fast_ptr(j, st, in->seg, size, writes);
        if (alu_mr || test_mr) load_reg(j, RCX, in->reg, size);
        if (alu_reads_cf(kind)) cf_to_host(j);
        if (alu_mr) {
            op_rsi(j, size, kind << 3 | (size == 1 ? 0 : 1), reg_part(RCX, in->reg, size));
        } else if (test_mr) {
            op_rsi(j, size, size == 1 ? 0x84 : 0x85, reg_part(RCX, in->reg, size));
        } else {
            op_rsi(j, size, test_mi ? (size == 1 ? 0xF6 : 0xF7) : (size == 1 ? 0x80 : 0x81),
                   test_mi ? 0 : kind);
            imm_by_size(j, size, in->imm);
        }
        flags_set(j, kind == 1 || kind == 4 || kind == 6 || kind == 8);
        st->writes_flags = true;
        stub_end(j, st);
        return true;
    }
    if (!alu && !load && !store && !store_imm) return false;
    unsigned size = x86_op_width(in), kind = info->carg;
    if (alu && alu_reads_cf(kind)) make_eager(j);     /* CF readable after the checks */
    mem_prologue(j);
    SlowStub *st = stub_begin(j, in, ip, last);
    ea(j, in, RDX);
    fast_ptr(j, st, in->seg, size, store || store_imm);
    unsigned part = reg_part(RAX, in->reg, size);
    if (load) {
        if (size != 4) load_reg(j, RAX, in->reg, size);
        op_rsi(j, size, size == 1 ? 0x8A : 0x8B, part);
        store_reg(j, RAX, in->reg, size);
    } else if (store) {
        load_reg(j, RAX, in->reg, size);
        op_rsi(j, size, size == 1 ? 0x88 : 0x89, part);
    } else if (store_imm) {
        op_rsi(j, size, size == 1 ? 0xC6 : 0xC7, 0);
        imm_by_size(j, size, in->imm);
    } else {
        op_rsi(j, size, size == 1 ? 0x8A : 0x8B, RCX);
        if (alu_reads_cf(kind)) cf_to_host(j);
        alu_rcx(j, kind, size, in->reg, RCX);
        flags_set(j, kind == 1 || kind == 4 || kind == 6);
        st->writes_flags = true;
    }
    stub_end(j, st);
    return true;
}

/* PUSH r, POP r, CALL rel, RET: with the stack size SS.B had at translation. */
static bool stack_insn(Jit *j, const X86Insn *in, uint64_t ip, bool last, bool stack32)
{
    unsigned cls = x86_opinfo(in->op)->cls, osz = in->osz;
    bool push = cls == OC_PUSH_Z, pop = cls == OC_POP_Z;
    bool call = cls == OC_CALL_REL, ret = cls == OC_RET;
    if (!(push || pop || call || ret) || (in->prefix & PFX_LOCK) || j->nstubs + 2 > MAX_STUBS)
        return false;
    mem_prologue(j);
    SlowStub *st = stub_begin(j, in, ip, last);
    if (push || call) {
        sp_to_edx(j, st, stack32, (int)osz);
        fast_ptr(j, st, X86_SS, osz, true);
        if (push) {
            load_reg(j, RAX, in->reg, 4);
            op_rsi(j, osz, 0x89, RAX);
        } else {                                             /* the return address */
            op_rsi(j, osz, 0xC7, 0);
            imm_by_size(j, osz, in->next_ip);
        }
        sp_from_edx(j, stack32, 0);
    } else {
        sp_to_edx(j, st, stack32, 0);
        fast_ptr(j, st, X86_SS, osz, false);
        op_rsi(j, 4, osz == 4 ? 0x8B : 0x0FB7, RAX);
        if (ret) {                           /* a target past the CS limit: the handler */
            op_mem(j, 4, 0x3B, RAX, OFF(cs.limit));          /* cmp eax, [cs.limit] */
            jcc_stub(j, st, CC_A);
        }
        sp_from_edx(j, stack32, (int)osz);
        if (pop && osz == 4) store_reg(j, RAX, in->reg, 4);
        else if (pop) store_reg16(j, RAX, in->reg);
        /* (RET ends its block: leave_return stores RIP where it is needed) */
    }
    stub_end(j, st);
    return true;
}

/* The slow way of a fast path: the handler, then back after the instruction (or out of
 * the block when the handler ended it). */
static void emit_stub(Jit *j, const SlowStub *st)
{
    if (!st->npatch) return;
    for (int k = 0; k < st->npatch; k++) patch32(st->patch[k], j->p);
    j->host = j->mem_stale = false;
    j->mem = st->mem;
    mem_for_handler(j);
    add_retired(j, 0, st->uncounted);
    handler_call(j, st->in, st->ip);
    if (st->is_type_stub) {                                  /* or dword [pending], END */
        op_mem(j, 4, 0x81, 1, OFF(pending));
        b4(j, X86_PENDING_END);
    }
    if (st->last) {
        leave_next_rip(j);
        return;
    }
    leave_if_ended(j);
    add_retired(j, 5, st->uncounted);        /* the fast path's count goes on from here */
    if (st->writes_flags) {                  /* the flags into the host's, as it has them */
        call_helper(j, (const void *)x86_jit_flags);
        popf_arith_eax(j);
    }
    b1(j, 0xE9);                                             /* jmp resume */
    b4(j, (uint32_t)(st->resume - j->p - 4));
}

/* Target of a Jcc or JMP rel, as op_jcc / jump_to compute it. */
static uint32_t rel_target(const X86Insn *in)
{
    uint32_t t = in->next_ip + in->imm;
    return in->osz == 2 ? (t & 0xFFFF) : t;
}

static bool is_jcc(unsigned op) { return x86_opinfo(op)->cls == OC_JCC; }
static bool is_jmp_rel(unsigned op) { return x86_opinfo(op)->cls == OC_JMP_REL; }
static bool is_call_rel(unsigned op) { return x86_opinfo(op)->cls == OC_CALL_REL; }

/* IP of the instruction after `in` in its block: a JMP or CALL rel in the middle of a
 * block is one the block went on through (trace_target in cpu.c). */
static uint64_t next_in_block(const X86Insn *in)
{
    return is_jmp_rel(in->op) || is_call_rel(in->op) ? rel_target(in) : in->next_ip;
}

/* The last instruction, a Jcc, on the flags in the host's RFLAGS: each way stores them
 * and leaves. */
static void jcc_last(Jit *j, const X86Insn *in)
{
    uint8_t *taken;
    jcc32(j, x86_opinfo(in->op)->carg, &taken);
    bool logic = j->host_logic, stale = j->mem_stale;
    uint8_t mem = j->mem;
    uint32_t uncounted = j->uncounted;
    for (int way = 0; way < 2; way++) {
        if (way) {
            patch32(taken, j->p);
            j->host = true;
            j->host_logic = logic;
            j->mem_stale = stale;
            j->mem = mem;
            j->uncounted = uncounted;
        }
        flags_to_mem(j);
        j->host = false;
        leave_static(j, way ? rel_target(in) : in->next_ip);
    }
}

/* With SCRATCHVM_PERF_MAP set, each translation is named in /tmp/perf-PID.map (the
 * format perf reads for JIT code) by its guest IP, CS base and guest-physical address,
 * so that `perf report` shows which guest code the time went to. The name ends with the
 * CLOCK_MONOTONIC time of the translation in ns: the arena is reused after it empties,
 * so a sample (`perf record -k CLOCK_MONOTONIC`) belongs to the newest translation at
 * its address made before it. */
static FILE *perf_map;

/* Opened with the arena, before the VMM's sandbox forbids opening files. */
static void perf_map_open(void)
{
    if (perf_map || !getenv("SCRATCHVM_PERF_MAP")) return;
    char path[64];
    snprintf(path, sizeof path, "/tmp/perf-%d.map", (int)getpid());
    perf_map = fopen(path, "a");
}

static void perf_map_note(const uint8_t *code, size_t size, const X86Block *b)
{
    if (!perf_map) return;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    fprintf(perf_map, "%lx %zx guest_%s_%llx_cs%llx_gpa%llx_t%lld\n", (unsigned long)(uintptr_t)code,
            size, b->user ? "user" : "sys", (unsigned long long)b->ip,
            (unsigned long long)b->cs_base, (unsigned long long)b->gpa,
            (long long)now.tv_sec * 1000000000LL + now.tv_nsec);
    fflush(perf_map);
}

bool x86_jit_translate(X86JitArena *a, const X86Cpu *cpu, X86Block *b)
{
    const X86Insn *insns = b->insns;
    uint32_t n = b->n;
    uint64_t ip = b->ip;
    /* A first guess at the room it needs (the most seen is about 540 bytes an
     * instruction, with its stubs); the emitter's own check (emit_at) is the bound. */
    const size_t per_insn = 544;
    bool stack32 = (cpu->ss.attr & X86_AR_DB) != 0;
    if (!a->base || a->used > a->size || a->size - a->used < 256 + (size_t)n * per_insn)
        return false;
    Jit j = { .p = a->base + a->used, .block = b, .end = a->base + a->size };
    uint8_t *start = j.p;
    save_regs(&j);
    op_reg(&j, 8, 0x89, RDI, RBX);                     /* mov rbx, rdi */
    stack_window_empty(&j);
    /* A branch target past the CS limit faults in jump_to: the handlers take such a
     * block. One compare at the entry covers every translated branch. */
    uint32_t max_target = 0;
    for (uint32_t i = 0; i < n; i++) {
        unsigned op = insns[i].op;
        if ((i == n - 1 && is_jcc(op)) || is_jmp_rel(op) || is_call_rel(op)) {
            uint32_t t = rel_target(&insns[i]);
            if (t > max_target) max_target = t;
        }
    }
    uint8_t *bail_rel = NULL;
    if (max_target) {
        op_mem(&j, 4, 0x81, 7, OFF(cs.limit));         /* cmp dword [cs.limit], max */
        b4(&j, max_target);
        jcc32(&j, CC_B, &bail_rel);
    }
    uint8_t *chain_entry = j.p;                        /* (emit_tail checks the limit) */
    uint64_t ip_i = ip;
    for (uint32_t i = 0; i < n; ip_i = next_in_block(&insns[i]), i++) {
        const X86Insn *in = &insns[i];
        bool last = i == n - 1;
        /* a traced JMP (the block goes on at its target): nothing to do */
        if (is_jmp_rel(in->op) && !last) {
            j.uncounted++;
            continue;
        }
        if (last && is_jmp_rel(in->op)) {
            flags_to_mem(&j);
            j.uncounted++;
            leave_static(&j, rel_target(in));
            break;
        }
        if (last && is_jcc(in->op)) {
            flags_to_host(&j);
            j.uncounted++;
            jcc_last(&j, in);
            break;
        }
        bool call = is_call_rel(in->op);
        if ((call || x86_opinfo(in->op)->cls == OC_RET) &&
            stack_insn(&j, in, ip_i, last, stack32)) {
            j.uncounted++;
            if (last && call) leave_static(&j, rel_target(in));
            else if (last) leave_return(&j);   /* RET has its target in EAX */
            continue;
        }
        if (translate_inline(&j, in) || mem_insn(&j, in, ip_i, last) ||
            stack_insn(&j, in, ip_i, last, stack32)) {
            j.uncounted++;
            if (last) {
                flags_to_mem(&j);
                leave_static(&j, in->next_ip);
            }
            continue;
        }
        call_handler(&j, in, ip_i, last);
    }
    for (int k = 0; k < j.nstubs; k++) emit_stub(&j, &j.stubs[k]);
    if (j.ntail) {
        for (int k = 0; k < j.ntail; k++) patch32(j.to_tail[k], j.p);
        emit_tail(&j);
    }
    if (bail_rel) {
        patch32(bail_rel, j.p);
        op_reg(&j, 4, 0x31, RAX, RAX);                 /* xor eax, eax: NULL */
        restore_regs_ret(&j);
    }
    if (j.overflow) {   /* it did not fit: nothing of it may be used */
        for (int k = 0; k < 4; k++) b->jit_exit[k] = NULL;
        b->jit_next_slot = 0;
        return false;
    }
    a->used = (size_t)(j.p - a->base + 15) & ~(size_t)15;
    if (a->used > a->size) a->used = a->size;   /* (the alignment's padding is not written) */
    b->jit_max_target = max_target;
    b->jit_chain = chain_entry + a->exec_delta;
    b->jit = (X86JitFn)(void *)(start + a->exec_delta);
    perf_map_note(start + a->exec_delta, (size_t)(j.p - start), b);
    return true;
}

/* The call into host code of no C type: clang's -fsanitize=function would look for a
 * type signature before it. */
#if defined(__clang__)
__attribute__((no_sanitize("function")))
#endif
X86Block *x86_jit_enter(X86JitFn fn, X86Cpu *cpu)
{
    X86Block *last = fn(cpu);
    if (cpu->lf_op == LF_HOST) flags_get(cpu);     /* (a kind the handlers know) */
    return last;
}

#endif
