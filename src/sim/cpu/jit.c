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
 * Translated inline: the register forms of ADD, OR, ADC, SBB, AND, SUB, XOR, CMP, TEST,
 * INC, DEC and MOV (8, 16 and 32 bits), MOV r, imm (B0-BF), LEA, NOP, and Jcc/JMP rel. Every other
 * instruction calls its handler as run_block would, with cpu->rip, cpu->next_rip, the
 * retired count and the flags brought up to date first, and the translation leaves after
 * it when the handler ended the block (x86_end_block).
 */
#include <stddef.h>
#include <sys/mman.h>

#include "sim/cpu/cpu_internal.h"

#define OFF(field) ((int32_t)offsetof(X86Cpu, field))
#define GPR_OFF(r) (OFF(gpr) + 8 * (int32_t)(r))

/* The arithmetic flags the host's RFLAGS carries over for the guest: OF SF ZF AF PF CF. */
#define ARITH_MASK 0x8D5u

bool x86_jit_arena_init(X86JitArena *a, size_t size)
{
    a->used = 0;
    a->size = 0;
    a->base = NULL;
#if defined(__x86_64__)
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    if (p == MAP_FAILED) return false;
    a->base = p;
    a->size = size;
#endif
    return true;
}

void x86_jit_arena_free(X86JitArena *a)
{
    if (a->base) munmap(a->base, a->size);
    a->base = NULL;
}

#if !defined(__x86_64__)

X86JitFn x86_jit_translate(X86JitArena *a, const X86Insn *insns, uint32_t n, uint64_t ip)
{
    (void)a, (void)insns, (void)n, (void)ip;
    return NULL;
}

int x86_jit_enter(X86JitFn fn, X86Cpu *cpu)
{
    (void)fn, (void)cpu;
    return 1;
}

#else

/* Host registers, by their encoding. RBX holds the X86Cpu pointer. */
enum { RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSI = 6, RDI = 7 };

typedef struct {
    uint8_t *p;
    /* Where the guest's arithmetic flags are. After a translated flag-setting instruction
     * they are in the host's RFLAGS (host) and cpu->flags/lazy state is older (mem_stale);
     * after a handler they are in the lazy state. mem_eager: cpu->flags is exact and
     * lf_op is LF_NONE, so it can be loaded without computing anything. */
    bool host, host_logic, mem_stale, mem_eager;
    uint32_t uncounted;       /* instructions not yet added to instructions_retired */
} Jit;

static void b1(Jit *j, unsigned v) { *j->p++ = (uint8_t)v; }
static void b4(Jit *j, uint32_t v) { memcpy(j->p, &v, 4); j->p += 4; }
static void b8(Jit *j, uint64_t v) { memcpy(j->p, &v, 8); j->p += 8; }

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

/* The guest register r of `size` bytes in cpu->gpr: AH-BH are byte 1 of RAX-RBX. */
static int32_t guest_reg(unsigned r, unsigned size)
{
    if (size == 1 && r >= 4) return GPR_OFF(r - 4) + 1;
    return GPR_OFF(r);
}

/* Stores a 64-bit value (a 32-bit one zero-extended) to cpu->field. */
static void store_u64(Jit *j, int32_t disp, uint32_t v)
{
    mov_imm32(j, RAX, v);
    op_mem(j, 8, 0x89, RAX, disp);
}

static void count_retired(Jit *j)
{
    if (!j->uncounted) return;
    /* add qword [rbx + instructions_retired], imm8/imm32: changes the host's flags */
    b1(j, 0x48);
    if (j->uncounted < 128) {
        b1(j, 0x83);
        b1(j, 0x80 | RBX);
        b4(j, (uint32_t)OFF(instructions_retired));
        b1(j, j->uncounted);
    } else {
        b1(j, 0x81);
        b1(j, 0x80 | RBX);
        b4(j, (uint32_t)OFF(instructions_retired));
        b4(j, j->uncounted);
    }
    j->uncounted = 0;
    j->host = false;
}

/* cpu->flags's arithmetic bits from the host RFLAGS image in RAX; lf_op = LF_NONE. */
static void flags_from_rax(Jit *j)
{
    b1(j, 0x25);                                       /* and eax, mask */
    b4(j, j->host_logic ? ARITH_MASK & ~X86_FLAG_AF : ARITH_MASK);   /* logic: AF 0 */
    op_mem(j, 4, 0x8B, RCX, OFF(flags));               /* mov ecx, [flags] */
    op_reg(j, 4, 0x81, 4, RCX);                        /* and ecx, ~mask */
    b4(j, ~ARITH_MASK);
    op_reg(j, 4, 0x09, RAX, RCX);                      /* or ecx, eax */
    op_mem(j, 4, 0x89, RCX, OFF(flags));               /* mov [flags], ecx */
    b1(j, 0xC6);                                       /* mov byte [lf_op], LF_NONE */
    b1(j, 0x80 | RBX);
    b4(j, (uint32_t)OFF(lf_op));
    b1(j, LF_NONE);
}

/* Before anything reads the flags from the CPU state (or changes the host's). */
static void flags_to_mem(Jit *j)
{
    if (!j->host || !j->mem_stale) return;
    b1(j, 0x9C);                                       /* pushfq */
    b1(j, 0x58);                                       /* pop rax */
    flags_from_rax(j);
    j->mem_stale = false;
    j->mem_eager = true;
}

/* Before an instruction that reads the flags: into the host's RFLAGS. False when they are
 * in the lazy state, which only the handler reads. */
static bool flags_to_host(Jit *j)
{
    if (j->host) return true;
    if (!j->mem_eager) return false;
    op_mem(j, 4, 0x8B, RAX, OFF(flags));               /* mov eax, [flags] */
    b1(j, 0x25);                                       /* and eax, mask: DF, TF, AC 0 */
    b4(j, ARITH_MASK);
    b1(j, 0x50);                                       /* push rax */
    b1(j, 0x9D);                                       /* popfq */
    j->host = true;
    j->host_logic = false;
    return true;
}

/* The instruction just translated set every arithmetic flag in the host's RFLAGS. */
static void flags_set(Jit *j, bool logic)
{
    j->host = true;
    j->host_logic = logic;
    j->mem_stale = true;
    j->mem_eager = false;
}

/* Leaves the translation (returns 0) with RIP already stored. */
static void leave(Jit *j)
{
    count_retired(j);
    op_reg(j, 4, 0x31, RAX, RAX);                      /* xor eax, eax */
    b1(j, 0x5B);                                       /* pop rbx */
    b1(j, 0xC3);                                       /* ret */
}

/* Leaves with RIP from cpu->next_rip (after a handler). */
static void leave_next_rip(Jit *j)
{
    op_mem(j, 8, 0x8B, RAX, OFF(next_rip));
    op_mem(j, 8, 0x89, RAX, OFF(rip));
    leave(j);
}

/* Runs the instruction's handler. Not the last: leaves if it ended the block. */
static void call_handler(Jit *j, const X86Insn *in, uint64_t ip, bool last)
{
    flags_to_mem(j);
    count_retired(j);
    store_u64(j, OFF(rip), (uint32_t)ip);
    store_u64(j, OFF(next_rip), in->next_ip);
    op_reg(j, 8, 0x89, RBX, RDI);                      /* mov rdi, rbx */
    mov_imm64(j, RSI, (uint64_t)(uintptr_t)in);
    mov_imm64(j, RAX, (uint64_t)(uintptr_t)in->fn);
    op_reg(j, 4, 0xFF, 2, RAX);                        /* call rax */
    j->uncounted = 1;
    j->host = j->mem_stale = j->mem_eager = false;
    if (last) {
        leave_next_rip(j);
        return;
    }
    /* cmp qword [rbx + insn_end], 0; jne over the exit */
    b1(j, 0x48);
    b1(j, 0x83);
    b1(j, 0x80 | 7 << 3 | RBX);
    b4(j, (uint32_t)OFF(insn_end));
    b1(j, 0);
    b1(j, 0x75);
    uint8_t *rel = j->p;
    b1(j, 0);
    Jit exit = *j;
    leave_next_rip(&exit);
    j->p = exit.p;
    *rel = (uint8_t)(j->p - rel - 1);
    j->uncounted = 1;
}

/* dst = dst OP src (kind: ADD OR ADC SBB AND SUB XOR CMP, as in the opcode's bits 5:3),
 * guest registers of `size` bytes. */
static void alu_rr(Jit *j, unsigned kind, unsigned size, unsigned dst, unsigned src)
{
    int32_t d = guest_reg(dst, size), s = guest_reg(src, size);
    op_mem(j, size, size == 1 ? 0x8A : 0x8B, RCX, s);         /* mov (e)c(x/l), src */
    if (size == 4 && kind != 7) {
        op_mem(j, 4, 0x8B, RAX, d);                            /* mov eax, dst */
        op_reg(j, 4, kind << 3 | 1, RCX, RAX);                 /* op eax, ecx */
        op_mem(j, 8, 0x89, RAX, d);                            /* mov dst, rax: zero-extends */
    } else {
        op_mem(j, size, kind << 3 | (size == 1 ? 0 : 1), RCX, d);   /* op dst, c(x/l) */
    }
}

static void alu_ri(Jit *j, unsigned kind, unsigned size, unsigned dst, uint32_t imm)
{
    int32_t d = guest_reg(dst, size);
    if (size == 4 && kind != 7) {
        op_mem(j, 4, 0x8B, RAX, d);
        op_reg(j, 4, 0x81, kind, RAX);                         /* op eax, imm32 */
        b4(j, imm);
        op_mem(j, 8, 0x89, RAX, d);
        return;
    }
    op_mem(j, size, size == 1 ? 0x80 : 0x81, kind, d);         /* op dst, imm */
    if (size == 1) b1(j, imm);
    else if (size == 2) { b1(j, imm); b1(j, imm >> 8); }
    else b4(j, imm);
}

static void test_rr(Jit *j, unsigned size, unsigned a, unsigned b)
{
    op_mem(j, size, size == 1 ? 0x8A : 0x8B, RCX, guest_reg(b, size));
    op_mem(j, size, size == 1 ? 0x84 : 0x85, RCX, guest_reg(a, size));
}

static void test_ri(Jit *j, unsigned size, unsigned a, uint32_t imm)
{
    op_mem(j, size, size == 1 ? 0xF6 : 0xF7, 0, guest_reg(a, size));
    if (size == 1) b1(j, imm);
    else if (size == 2) { b1(j, imm); b1(j, imm >> 8); }
    else b4(j, imm);
}

static void incdec(Jit *j, unsigned size, unsigned r, bool dec)
{
    int32_t d = guest_reg(r, size);
    if (size == 4) {
        op_mem(j, 4, 0x8B, RAX, d);
        op_reg(j, 4, 0xFF, dec, RAX);
        op_mem(j, 8, 0x89, RAX, d);
    } else {
        op_mem(j, size, size == 1 ? 0xFE : 0xFF, dec, d);
    }
}

static void mov_rr(Jit *j, unsigned size, unsigned dst, unsigned src)
{
    op_mem(j, size, size == 1 ? 0x8A : 0x8B, RAX, guest_reg(src, size));
    op_mem(j, size == 4 ? 8 : size, size == 1 ? 0x88 : 0x89, RAX, guest_reg(dst, size));
}

static void mov_ri(Jit *j, unsigned size, unsigned dst, uint32_t imm)
{
    if (size == 4) {
        store_u64(j, guest_reg(dst, 4), imm);
        return;
    }
    op_mem(j, size, size == 1 ? 0xC6 : 0xC7, 0, guest_reg(dst, size));
    if (size == 1) b1(j, imm);
    else { b1(j, imm); b1(j, imm >> 8); }
}

/* LEA: the effective address without a memory access (no flags). */
static void lea(Jit *j, const X86Insn *in)
{
    bool base = in->base != X86_REG_NONE, index = in->index != X86_REG_NONE;
    if (base) op_mem(j, 4, 0x8B, RCX, GPR_OFF(in->base));
    if (index) op_mem(j, 4, 0x8B, RDX, GPR_OFF(in->index));
    if (base && index) {                   /* lea eax, [rcx + rdx * scale + disp32] */
        b1(j, 0x8D);
        b1(j, 0x84);
        b1(j, in->scale << 6 | RDX << 3 | RCX);
    } else if (base) {                     /* lea eax, [rcx + disp32] */
        b1(j, 0x8D);
        b1(j, 0x81);
    } else if (index) {                    /* lea eax, [rdx * scale + disp32] */
        b1(j, 0x8D);
        b1(j, 0x04);
        b1(j, in->scale << 6 | RDX << 3 | 5);
    } else {
        mov_imm32(j, RAX, (uint32_t)in->disp);
    }
    if (base || index) b4(j, (uint32_t)in->disp);
    if (in->asz == 2) op_reg(j, 4, 0x0FB7, RAX, RAX);        /* movzx eax, ax */
    op_mem(j, in->osz == 4 ? 8 : 2, 0x89, RAX, GPR_OFF(in->reg));
}

/* Whether the instruction, a register form, reads or writes the flags as kind does. */
static bool alu_reads_cf(unsigned kind) { return kind == 2 || kind == 3; }

/* Translates the instruction inline; false when it needs its handler (nothing emitted).
 * The operands are as x86_specialize leaves them: a register-form ALU or MOV instruction
 * has its destination in rm and its source in reg, whichever way its opcode has them. */
static bool translate_inline(Jit *j, const X86Insn *in)
{
    if ((in->prefix & PFX_LOCK) || in->fn == op_ud) return false;
    unsigned op = in->op, osz = in->osz;
    bool reg_form = in->has_modrm && in->mod == 3;
    if (op < 0x40 && (op & 7) < 6) {                          /* ALU: 00-05 ... 38-3D */
        unsigned kind = op >> 3 & 7, form = op & 7;
        unsigned size = (form & 1) ? osz : 1;
        if (form < 4 && !reg_form) return false;
        if (alu_reads_cf(kind) && !flags_to_host(j)) return false;
        if (form >= 4) alu_ri(j, kind, size, X86_RAX, in->imm);
        else alu_rr(j, kind, size, in->rm, in->reg);
        flags_set(j, kind == 1 || kind == 4 || kind == 6);
        return true;
    }
    if (op >= 0x80 && op <= 0x83 && reg_form) {                /* group 1, immediate */
        unsigned kind = in->reg, size = (op & 1) ? osz : 1;
        if (alu_reads_cf(kind) && !flags_to_host(j)) return false;
        alu_ri(j, kind, size, in->rm, in->imm);
        flags_set(j, kind == 1 || kind == 4 || kind == 6);
        return true;
    }
    if ((op == 0x84 || op == 0x85) && reg_form) {
        test_rr(j, op == 0x84 ? 1 : osz, in->rm, in->reg);
        flags_set(j, true);
        return true;
    }
    if (op == 0xA8 || op == 0xA9 || ((op == 0xF6 || op == 0xF7) && reg_form && in->reg <= 1)) {
        unsigned size = (op == 0xA8 || op == 0xF6) ? 1 : osz;
        test_ri(j, size, op >= 0xF6 ? in->rm : X86_RAX, in->imm);
        flags_set(j, true);
        return true;
    }
    bool inc_r = op >= 0x40 && op <= 0x4F;
    if (inc_r || ((op == 0xFE || op == 0xFF) && reg_form && in->reg <= 1)) {
        if (!flags_to_host(j)) return false;                   /* INC/DEC keep CF */
        if (inc_r) incdec(j, osz, in->reg, op >= 0x48);
        else incdec(j, op == 0xFE ? 1 : osz, in->rm, in->reg == 1);
        flags_set(j, false);
        return true;
    }
    if (op >= 0x88 && op <= 0x8B && reg_form) {
        unsigned size = (op & 1) ? osz : 1;
        mov_rr(j, size, in->rm, in->reg);
        return true;
    }
    if (op >= 0xB0 && op <= 0xBF) {
        mov_ri(j, op < 0xB8 ? 1 : osz, in->reg, in->imm);
        return true;
    }
    if (op == 0x8D && in->mod != 3) {
        lea(j, in);
        return true;
    }
    if (op == 0x90 && !(in->prefix & (PFX_REP | PFX_REPNE))) return true;
    return false;
}

/* Target of a Jcc or JMP rel, as op_jcc / jump_to compute it. */
static uint32_t rel_target(const X86Insn *in)
{
    uint32_t t = in->next_ip + in->imm;
    return in->osz == 2 ? (t & 0xFFFF) : t;
}

static bool is_jcc(unsigned op) { return (op >= 0x70 && op <= 0x7F) || (op >= 0x180 && op <= 0x18F); }
static bool is_jmp_rel(unsigned op) { return op == 0xE9 || op == 0xEB; }

/* IP of the instruction after `in` in its block: a JMP or CALL rel in the middle of a
 * block is one the block went on through (trace_target in cpu.c). */
static uint64_t next_in_block(const X86Insn *in)
{
    return is_jmp_rel(in->op) || in->op == 0xE8 ? rel_target(in) : in->next_ip;
}

/* The last instruction, a Jcc: RIP from the flags, which stay in the host until stored. */
static void jcc_last(Jit *j, const X86Insn *in)
{
    b1(j, 0x9C);                                       /* pushfq */
    mov_imm32(j, RDX, in->next_ip);                    /* not taken */
    mov_imm32(j, RCX, rel_target(in));
    op_reg(j, 4, 0x0F40 | (in->op & 15), RDX, RCX);    /* cmovcc edx, ecx */
    b1(j, 0x58);                                       /* pop rax */
    if (j->mem_stale) flags_from_rax(j);
    op_mem(j, 8, 0x89, RDX, OFF(rip));
    j->host = false;
    leave(j);
}

X86JitFn x86_jit_translate(X86JitArena *a, const X86Insn *insns, uint32_t n, uint64_t ip)
{
    /* room for the longest translation of one instruction, and its exit */
    const size_t per_insn = 160;
    if (!a->base || a->size - a->used < 64 + (size_t)n * per_insn) return NULL;
    Jit j = { .p = a->base + a->used };
    uint8_t *start = j.p;
    b1(&j, 0x53);                                      /* push rbx */
    op_reg(&j, 8, 0x89, RDI, RBX);                     /* mov rbx, rdi */
    /* A branch target past the CS limit faults in jump_to: the handlers take such a
     * block. One compare at the entry covers every translated branch. */
    uint32_t max_target = 0;
    for (uint32_t i = 0; i < n; i++) {
        unsigned op = insns[i].op;
        if ((i == n - 1 && is_jcc(op)) || is_jmp_rel(op)) {
            uint32_t t = rel_target(&insns[i]);
            if (t > max_target) max_target = t;
        }
    }
    uint8_t *bail_rel = NULL;
    if (max_target) {
        op_mem(&j, 4, 0x81, 7, OFF(cs.limit));         /* cmp dword [cs.limit], max */
        b4(&j, max_target);
        b1(&j, 0x0F);                                  /* jb bail */
        b1(&j, 0x82);
        bail_rel = j.p;
        b4(&j, 0);
    }
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
            store_u64(&j, OFF(rip), rel_target(in));
            leave(&j);
            break;
        }
        if (last && is_jcc(in->op) && flags_to_host(&j)) {
            j.uncounted++;
            jcc_last(&j, in);
            break;
        }
        if (translate_inline(&j, in)) {
            j.uncounted++;
            if (last) {
                flags_to_mem(&j);
                store_u64(&j, OFF(rip), in->next_ip);
                leave(&j);
            }
            continue;
        }
        call_handler(&j, in, ip_i, last);
    }
    if (bail_rel) {
        uint32_t rel = (uint32_t)(j.p - bail_rel - 4);
        memcpy(bail_rel, &rel, 4);
        mov_imm32(&j, RAX, 1);
        b1(&j, 0x5B);                                  /* pop rbx */
        b1(&j, 0xC3);
    }
    a->used = (size_t)(j.p - a->base + 15) & ~(size_t)15;
    return (X86JitFn)(void *)start;
}

/* The call into host code of no C type: clang's -fsanitize=function would look for a
 * type signature before it. */
#if defined(__clang__)
__attribute__((no_sanitize("function")))
#endif
int x86_jit_enter(X86JitFn fn, X86Cpu *cpu)
{
    return fn(cpu);
}

#endif
