/*
 * Differential test of the interpreter's fast path: random programs (flag-setting ALU
 * operations in every size, register and memory forms, ADC/SBB, INC/DEC, shifts and
 * rotates, MUL/IMUL, SETcc/CMOVcc, forward Jcc, CALL/RET, indirect CALLs through memory,
 * PUSH/POP, LAHF/SAHF/PUSHF, a loop around it all and, in some programs, self-modifying
 * code) run on two CPUs: one on the
 * fast path (decoded blocks with specialised handlers, their translation to host code
 * from the first, second or sixteenth run, block links, lazy flags, run in slices of
 * random instruction budgets, with host memory-write and TLB events between slices) and
 * one with cpu->slow_path (every instruction looked up alone, generic
 * handlers, flags computed after each). At the end the registers, RFLAGS, RIP, the
 * instructions retired and all of memory must be equal.
 *
 * Three modes: real mode, 32-bit protected mode with flat segments, and the same with
 * paging (one identity-mapped 4 MiB page). The seed is fixed and printed; a failure names
 * the program (DIFF_SEED=s DIFF_PROGRAMS=n reruns the programs up to it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sim/cpu/cpu.h"

#define RAM_SIZE (1u << 20)
#define CODE_BASE 0x10000u
#define DATA_BASE 0x20000u
#define STACK_TOP 0x3FFF0u      /* real mode: SS 0x3000, SP 0xFFF0 */
#define PAGE_DIR 0x50000u
#define COUNTER_OFF 0x800u      /* the loop counter, in the data area */
#define SUBTAB_OFF 0xC00u       /* the subroutines' addresses, for indirect CALLs */
#define MAX_UNITS 64
#define MAX_SUBS 3

/* Two CPUs over two RAMs: each Fx's cpu stays NULL, the test keeps its CPUs apart. */
#include "cpu_fixture.h"

static uint64_t rng;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}
static unsigned pick(unsigned n) { return rnd() % n; }

/* One unit of a program: an instruction (or an inseparable pair), maybe a forward Jcc. */
typedef struct {
    uint8_t b[24];
    int n;
    int jcc_target;           /* >= 0: a Jcc rel8/rel16/32 to this unit (patched later) */
    int jcc_wide;             /* 0F 8x form */
    int call_sub;             /* >= 0: CALL rel to subroutine n */
    int icall_sub;            /* >= 0: CALL through SUBTAB_OFF's slot for subroutine n */
    int imm_at;               /* >= 0: offset of an imm8 the SMC unit may change */
} Unit;

typedef struct {
    bool d32;                 /* CS.D: 32-bit default operand and address size */
    Unit *u;
} Gen;

static void put(Unit *u, uint8_t v) { u->b[u->n++] = v; }
static void put16(Unit *u, uint32_t v) { put(u, (uint8_t)v); put(u, (uint8_t)(v >> 8)); }
static void put32(Unit *u, uint32_t v) { put16(u, v); put16(u, v >> 16); }

/* Registers a random instruction may write: not SP (the stack) nor BX (the base of the
 * memory operands). 8-bit: AL CL DL AH CH DH. */
static const uint8_t dst16[] = { 0, 1, 2, 5, 6, 7 };
static const uint8_t dst8[] = { 0, 1, 2, 4, 5, 6 };
static unsigned dst_reg(unsigned size) { return size == 1 ? dst8[pick(6)] : dst16[pick(6)]; }

/* Operand size 2 or 4, with the 0x66 prefix when it is not CS's default. */
static unsigned opsize(Gen *g)
{
    unsigned sz = pick(2) ? 4 : 2;
    if ((sz == 4) != g->d32) put(g->u, 0x66);
    return sz;
}

/* A ModR/M byte with `reg` and a memory operand in the data area: [disp], [BX+disp8] or
 * (32-bit) [EBX+disp8] through a SIB byte. */
static void modrm_mem(Gen *g, unsigned reg)
{
    Unit *u = g->u;
    unsigned off = pick(0x700);
    switch (pick(3)) {
    case 0:
        if (g->d32) { put(u, (uint8_t)(0x05 | reg << 3)); put32(u, DATA_BASE + off); }
        else { put(u, (uint8_t)(0x06 | reg << 3)); put16(u, off); }
        break;
    case 1:
        put(u, (uint8_t)(0x40 | reg << 3 | (g->d32 ? 3 : 7)));
        put(u, (uint8_t)(pick(256) - 128));
        break;
    default:
        if (g->d32) {
            put(u, (uint8_t)(0x44 | reg << 3));
            put(u, (uint8_t)(pick(4) << 6 | 4 << 3 | 3));   /* no index, base EBX */
        } else {
            put(u, (uint8_t)(0x40 | reg << 3 | 7));
        }
        put(u, (uint8_t)pick(128));
        break;
    }
}

static void modrm_reg(Gen *g, unsigned reg, unsigned rm)
{
    put(g->u, (uint8_t)(0xC0 | reg << 3 | rm));
}

/* An immediate of `size` bytes (imm8 for size 1). */
static void imm(Gen *g, unsigned size)
{
    uint32_t v = pick(4) == 0 ? (pick(2) ? 0xFFFFFFFFu : 0x80000000u >> (32 - 8 * size)) : rnd();
    if (pick(8) == 0) v = 0;
    if (size == 1) put(g->u, (uint8_t)v);
    else if (size == 2) put16(g->u, v);
    else put32(g->u, v);
}

/* One random straight-line instruction (no control transfer). */
static void gen_simple(Gen *g)
{
    Unit *u = g->u;
    bool mem = pick(3) == 0;
    switch (pick(22)) {
    case 0: case 1: case 2: case 3: {     /* ALU r/m, r and r, r/m, all sizes */
        unsigned op = pick(8), byte = pick(4) == 0, dir = pick(2);
        unsigned sz = byte ? 1 : opsize(g);
        put(u, (uint8_t)(op << 3 | dir << 1 | !byte));
        if (mem) modrm_mem(g, dir ? dst_reg(sz) : pick(8));
        else if (dir) modrm_reg(g, dst_reg(sz), pick(8));
        else modrm_reg(g, pick(8), op == 7 ? pick(8) : dst_reg(sz));
        break;
    }
    case 4: case 5: {                     /* group 1 with an immediate */
        unsigned op = pick(8), form = pick(3);   /* 80, 81, 83 */
        unsigned sz = form == 0 ? 1 : opsize(g);
        put(u, form == 0 ? 0x80 : form == 1 ? 0x81 : 0x83);
        if (mem) modrm_mem(g, op);
        else modrm_reg(g, op, dst_reg(sz));
        if (form == 2) { u->imm_at = u->n; imm(g, 1); }
        else imm(g, form == 0 ? 1 : sz);
        break;
    }
    case 6: {                             /* ALU accumulator, immediate */
        unsigned op = pick(8), byte = pick(2);
        unsigned sz = byte ? 1 : opsize(g);
        put(u, (uint8_t)(op << 3 | 4 | !byte));
        imm(g, sz);
        break;
    }
    case 7: {                             /* INC/DEC r, r/m */
        if (pick(2)) {
            opsize(g);
            put(u, (uint8_t)(0x40 | pick(2) << 3 | dst16[pick(6)]));
        } else {
            unsigned byte = pick(2), sz = byte ? 1 : opsize(g);
            put(u, byte ? 0xFE : 0xFF);
            if (mem) modrm_mem(g, pick(2));
            else modrm_reg(g, pick(2), dst_reg(sz));
        }
        break;
    }
    case 8: case 9: {                     /* shifts and rotates */
        unsigned byte = pick(3) == 0, sz = byte ? 1 : opsize(g), form = pick(3);
        put(u, (uint8_t)((form == 0 ? 0xC0 : form == 1 ? 0xD0 : 0xD2) | !byte));
        if (mem) modrm_mem(g, pick(8));
        else modrm_reg(g, pick(8), dst_reg(sz));
        if (form == 0) put(u, (uint8_t)(pick(4) == 0 ? pick(256) : pick(34)));
        break;
    }
    case 10: {                            /* TEST */
        unsigned byte = pick(3) == 0, sz = byte ? 1 : opsize(g);
        if (pick(3) == 0) { put(u, (uint8_t)(0xA8 | !byte)); imm(g, sz); break; }
        put(u, (uint8_t)(0x84 | !byte));
        if (mem) modrm_mem(g, pick(8));
        else modrm_reg(g, pick(8), pick(8));
        break;
    }
    case 11: {                            /* MOV */
        unsigned byte = pick(3) == 0, sz = byte ? 1 : opsize(g);
        switch (pick(4)) {
        case 0: put(u, (uint8_t)(0x88 | !byte));
            if (mem) modrm_mem(g, pick(8)); else modrm_reg(g, pick(8), dst_reg(sz));
            break;
        case 1: put(u, (uint8_t)(0x8A | !byte));
            if (mem) modrm_mem(g, dst_reg(sz)); else modrm_reg(g, dst_reg(sz), pick(8));
            break;
        case 2: put(u, (uint8_t)((byte ? 0xB0 : 0xB8) | dst_reg(sz)));
            imm(g, sz);
            break;
        default: put(u, (uint8_t)(0xC6 | !byte));
            if (mem) modrm_mem(g, 0); else modrm_reg(g, 0, dst_reg(sz));
            imm(g, sz);
            break;
        }
        break;
    }
    case 12: {                            /* SETcc, CMOVcc */
        put(u, 0x0F);
        if (pick(2)) {
            put(u, (uint8_t)(0x90 | pick(16)));
            if (mem) modrm_mem(g, 0); else modrm_reg(g, 0, dst8[pick(6)]);
        } else {
            u->n = 0;
            unsigned sz = opsize(g);
            put(u, 0x0F);
            put(u, (uint8_t)(0x40 | pick(16)));
            if (mem) modrm_mem(g, dst_reg(sz)); else modrm_reg(g, dst_reg(sz), pick(8));
        }
        break;
    }
    case 13: {                            /* MUL, IMUL, NEG, NOT */
        unsigned byte = pick(3) == 0, sz = byte ? 1 : opsize(g);
        unsigned op = 2 + pick(4);
        put(u, byte ? 0xF6 : 0xF7);
        if (mem) modrm_mem(g, op); else modrm_reg(g, op, op <= 3 ? dst_reg(sz) : pick(8));
        break;
    }
    case 14: {                            /* IMUL r, r/m (, imm) */
        unsigned sz = opsize(g), form = pick(3);
        if (form == 0) { put(u, 0x0F); put(u, 0xAF); }
        else put(u, form == 1 ? 0x6B : 0x69);
        if (mem) modrm_mem(g, dst_reg(sz)); else modrm_reg(g, dst_reg(sz), pick(8));
        if (form) imm(g, form == 1 ? 1 : sz);
        break;
    }
    case 15: {                            /* CMC CLC STC */
        static const uint8_t ops[3] = { 0xF5, 0xF8, 0xF9 };
        put(u, ops[pick(3)]);
        break;
    }
    case 16: {                            /* PUSH r; POP r  /  PUSHF; POP r (same size) */
        bool prefix = pick(2);
        if (prefix) put(u, 0x66);
        put(u, pick(2) ? (uint8_t)(0x50 | pick(8)) : 0x9C);
        if (prefix) put(u, 0x66);
        put(u, (uint8_t)(0x58 | dst16[pick(6)]));
        break;
    }
    case 17:                              /* LAHF, SAHF */
        put(u, pick(2) ? 0x9F : 0x9E);
        break;
    case 18: {                            /* LEA, XCHG */
        unsigned sz = opsize(g);
        if (pick(2)) { put(u, 0x8D); modrm_mem(g, dst_reg(sz)); }
        else { put(u, 0x87); modrm_reg(g, dst_reg(sz), dst_reg(sz)); }
        break;
    }
    case 19: {                            /* BT BTS BTR BTC, register forms */
        unsigned sz = opsize(g);
        put(u, 0x0F);
        if (pick(2)) { put(u, (uint8_t)(0xA3 | pick(4) << 3)); modrm_reg(g, pick(8), dst_reg(sz)); }
        else { put(u, 0xBA); modrm_reg(g, 4 + pick(4), dst_reg(sz)); put(u, (uint8_t)pick(64)); }
        break;
    }
    case 20: {                            /* SHLD SHRD XADD CMPXCHG, register forms */
        unsigned sz = opsize(g), k = pick(4);
        put(u, 0x0F);
        static const uint8_t ops[4] = { 0xA4, 0xAD, 0xC1, 0xB1 };
        put(u, ops[k]);
        modrm_reg(g, k >= 2 ? dst_reg(sz) : pick(8), dst_reg(sz));
        if (k == 0) put(u, (uint8_t)pick(40));
        break;
    }
    default: {                            /* ADC/SBB chains: carry through lazy flags */
        unsigned sz = opsize(g), op = 2 + pick(2);
        put(u, (uint8_t)(op << 3 | 1));
        modrm_reg(g, pick(8), dst_reg(sz));
        break;
    }
    }
}

/* Lays out units from `at`; returns the size. Jcc targets and CALLs are patched with
 * `unit_at` (offsets of the units) and `sub_at` (of the subroutines). */
static size_t layout(Unit *units, int n, uint32_t *unit_at, uint32_t at)
{
    uint32_t start = at;
    for (int i = 0; i < n; i++) {
        unit_at[i] = at;
        at += (uint32_t)units[i].n;
    }
    unit_at[n] = at;
    return at - start;
}

typedef struct {
    uint8_t code[4096];
    size_t len;
    uint32_t iterations;
    uint32_t sub_start[MAX_SUBS];   /* offsets in CS of the subroutines */
} Program;

/* A random program for CS.D = d32 at CODE_BASE (offset 0 in CS). */
static void gen_program(Program *p, bool d32)
{
    static Unit body[MAX_UNITS + 1], subs[MAX_SUBS][8];
    static uint32_t body_at[MAX_UNITS + 2], sub_at[MAX_SUBS][10];
    Gen g = { .d32 = d32 };
    int n = 4 + (int)pick(MAX_UNITS - 8);
    int nsubs = (int)pick(MAX_SUBS + 1), sub_len[MAX_SUBS];
    int imm_units[MAX_UNITS], nimm = 0;
    for (int i = 0; i < n; i++) {
        Unit *u = &body[i];
        memset(u, 0, sizeof *u);
        u->jcc_target = u->call_sub = u->icall_sub = u->imm_at = -1;
        g.u = u;
        unsigned k = pick(10);
        if (k == 0 && i + 2 < n) {
            u->jcc_target = i + 1 + (int)pick((unsigned)(n - i - 1 < 8 ? n - i - 1 : 8)) + 1;
            u->jcc_wide = pick(3) == 0;
            if (u->jcc_wide) { put(u, 0x0F); put(u, (uint8_t)(0x80 | pick(16))); u->n += d32 ? 4 : 2; }
            else { put(u, (uint8_t)(0x70 | pick(16))); u->n += 1; }
        } else if (k == 1 && nsubs > 0) {
            u->call_sub = (int)pick((unsigned)nsubs);
            put(u, 0xE8);
            u->n += d32 ? 4 : 2;
        } else if (k == 2 && nsubs > 0) {
            /* FF /2 [slot]: an indirect CALL, so RETs and the translated code's jump
             * cache see targets that a block's links do not hold */
            u->icall_sub = (int)pick((unsigned)nsubs);
            put(u, 0xFF);
            if (d32) { put(u, 0x15); put32(u, DATA_BASE + SUBTAB_OFF + 4u * (unsigned)u->icall_sub); }
            else { put(u, 0x16); put16(u, SUBTAB_OFF + 2u * (unsigned)u->icall_sub); }
        } else {
            gen_simple(&g);
            if (u->imm_at >= 0) imm_units[nimm++] = i;
        }
    }
    /* Self-modifying code: INC of an imm8 of an earlier unit, so the next iteration runs
     * changed bytes (through ES = CS in real mode; flat in 32-bit mode). */
    int smc = nimm > 0 && pick(3) == 0 ? imm_units[pick((unsigned)nimm)] : -1;
    if (smc >= 0) {
        Unit *u = &body[n++];
        memset(u, 0, sizeof *u);
        u->jcc_target = u->call_sub = u->icall_sub = u->imm_at = -1;
        if (!d32) put(u, 0x26);
        put(u, 0xFE);
        put(u, d32 ? 0x05 : 0x06);   /* /0, [disp32] or [disp16]: patched below */
        u->n += d32 ? 4 : 2;
    }
    for (int s = 0; s < nsubs; s++) {
        sub_len[s] = 1 + (int)pick(5);
        for (int i = 0; i < sub_len[s]; i++) {
            Unit *u = &subs[s][i];
            memset(u, 0, sizeof *u);
            u->jcc_target = u->call_sub = u->icall_sub = u->imm_at = -1;
            g.u = u;
            gen_simple(&g);
        }
        Unit *r = &subs[s][sub_len[s]];
        memset(r, 0, sizeof *r);
        r->jcc_target = r->call_sub = r->icall_sub = r->imm_at = -1;
        put(r, 0xC3);
    }
    /* the loop: body; DEC [counter]; JNZ body (0F 85); HLT; subroutines */
    size_t body_len = layout(body, n, body_at, 0);
    uint32_t at = (uint32_t)body_len;
    uint8_t *c = p->code;
    memset(p->code, 0x90, sizeof p->code);
    for (int i = 0; i < n; i++) memcpy(c + body_at[i], body[i].b, (size_t)body[i].n);
    c[at++] = 0xFF;
    c[at++] = d32 ? 0x0D : 0x0E;             /* FF /1 [disp]: DEC of the counter */
    if (d32) { memcpy(c + at, &(uint32_t){ DATA_BASE + COUNTER_OFF }, 4); at += 4; }
    else { c[at] = COUNTER_OFF & 0xFF; c[at + 1] = COUNTER_OFF >> 8; at += 2; }
    c[at++] = 0x0F;
    c[at++] = 0x85;
    int32_t back = -(int32_t)(at + (d32 ? 4 : 2));
    if (d32) { memcpy(c + at, &back, 4); at += 4; }
    else { c[at] = (uint8_t)back; c[at + 1] = (uint8_t)(back >> 8); at += 2; }
    c[at++] = 0xF4;
    uint32_t *sub_start = p->sub_start;
    for (int s = 0; s < nsubs; s++) {
        sub_start[s] = at;
        at += (uint32_t)layout(subs[s], sub_len[s] + 1, sub_at[s], at);
        for (int i = 0; i <= sub_len[s]; i++)
            memcpy(c + sub_at[s][i], subs[s][i].b, (size_t)subs[s][i].n);
    }
    /* patch the relative operands */
    for (int i = 0; i < n; i++) {
        Unit *u = &body[i];
        uint32_t end = body_at[i] + (uint32_t)u->n;
        int32_t rel;
        if (u->jcc_target >= 0) rel = (int32_t)(body_at[u->jcc_target > n ? n : u->jcc_target] - end);
        else if (u->call_sub >= 0) rel = (int32_t)(sub_start[u->call_sub] - end);
        else continue;
        bool narrow = u->jcc_target >= 0 && !u->jcc_wide;
        if (narrow) c[end - 1] = (uint8_t)rel;
        else if (d32) memcpy(c + end - 4, &rel, 4);
        else { c[end - 2] = (uint8_t)rel; c[end - 1] = (uint8_t)(rel >> 8); }
    }
    if (smc >= 0) {
        uint32_t target = body_at[smc] + (uint32_t)body[smc].imm_at;
        uint32_t end = body_at[n - 1] + (uint32_t)body[n - 1].n;
        if (d32) { uint32_t a = CODE_BASE + target; memcpy(c + end - 4, &a, 4); }
        else { c[end - 2] = (uint8_t)target; c[end - 1] = (uint8_t)(target >> 8); }
    }
    p->len = at;
    p->iterations = 1 + pick(6);
}

enum { MODE_REAL, MODE_PROT, MODE_PAGED, MODES };
static const char *const mode_names[MODES] = { "real", "protected", "paged" };

/* Fresh RAM and CPU state for the program (identical on both sides). */
static void setup(X86Cpu *cpu, Fx *m, const Program *p, int mode, const uint32_t regs[8],
                  const uint8_t *data)
{
    memset(m->ram, 0, RAM_SIZE);
    memcpy(m->ram + CODE_BASE, p->code, p->len);
    memcpy(m->ram + DATA_BASE, data, 0x1000);
    for (int s = 0; s < MAX_SUBS; s++) {
        if (mode == MODE_REAL)
            memcpy(m->ram + DATA_BASE + SUBTAB_OFF + 2 * s, &(uint16_t){ (uint16_t)p->sub_start[s] }, 2);
        else
            memcpy(m->ram + DATA_BASE + SUBTAB_OFF + 4 * s, &(uint32_t){ CODE_BASE + p->sub_start[s] }, 4);
    }
    x86_cpu_tlb_flush(cpu);
    x86_cpu_reset(cpu);
    for (int i = 0; i < 8; i++) cpu->gpr[i] = regs[i];
    if (mode == MODE_REAL) {
        x86_cpu_load_real_segment(cpu, X86_CS, CODE_BASE >> 4);
        x86_cpu_load_real_segment(cpu, X86_ES, CODE_BASE >> 4);
        x86_cpu_load_real_segment(cpu, X86_DS, DATA_BASE >> 4);
        x86_cpu_load_real_segment(cpu, X86_FS, 0);
        x86_cpu_load_real_segment(cpu, X86_GS, 0);
        x86_cpu_load_real_segment(cpu, X86_SS, 0x3000);
        cpu->gpr[X86_RSP] = 0xFFF0;
        cpu->gpr[X86_RBX] = 0x100;
        memcpy(m->ram + DATA_BASE + COUNTER_OFF, &(uint16_t){ (uint16_t)p->iterations }, 2);
        cpu->rip = 0;
    } else {
        cpu->cr0 |= X86_CR0_PE;
        for (int i = 0; i < 6; i++) {
            cpu->seg[i].selector = (uint16_t)(i == X86_CS ? 8 : 16);
            cpu->seg[i].base = 0;
            cpu->seg[i].limit = 0xFFFFFFFFu;
            cpu->seg[i].attr = X86_AR_P | X86_AR_S | X86_AR_DB | X86_AR_G |
                               (i == X86_CS ? 0xBu : 0x3u);
        }
        cpu->gpr[X86_RSP] = 0x40000;
        cpu->gpr[X86_RBX] = DATA_BASE + 0x100;
        memcpy(m->ram + DATA_BASE + COUNTER_OFF, &p->iterations, 4);
        cpu->rip = CODE_BASE;
        if (mode == MODE_PAGED) {
            uint32_t pde = 0x83;   /* present, writable, 4 MiB page at 0 */
            memcpy(m->ram + PAGE_DIR, &pde, 4);
            cpu->cr3 = PAGE_DIR;
            cpu->cr4 |= X86_CR4_PSE_BIT;
            cpu->cr0 |= X86_CR0_PG;
        }
    }
}

typedef struct {
    X86Exit exit;
    uint64_t gpr[8], rip, rflags, retired;
} Final;

static void final_state(X86Cpu *cpu, X86Exit e, Final *f)
{
    f->exit = e;
    memcpy(f->gpr, cpu->gpr, sizeof f->gpr);
    f->rip = cpu->rip;
    f->rflags = x86_cpu_get_rflags(cpu);
    f->retired = cpu->instructions_retired;
}

#define MAX_INSNS 200000u

static void run_mode(int mode, uint64_t seed0, unsigned programs)
{
    Fx fm = { calloc(1, RAM_SIZE), NULL }, sm = { calloc(1, RAM_SIZE), NULL };
    assert_non_null(fm.ram);
    assert_non_null(sm.ram);
    X86Cpu *fast = x86_cpu_create(page_fn, &fm), *slow = x86_cpu_create(page_fn, &sm);
    assert_non_null(fast);
    assert_non_null(slow);
    slow->slow_path = true;
    static Program p;
    static uint8_t data[0x1000];
    unsigned hlt = 0, smc = 0;
    for (unsigned k = 0; k < programs; k++) {
        uint64_t seed = seed0 + k * 0x9E3779B97F4A7C15ull + (uint64_t)mode;
        rng = seed | 1;
        gen_program(&p, mode != MODE_REAL);
        uint32_t regs[8];
        for (int i = 0; i < 8; i++)
            regs[i] = pick(4) == 0 ? (pick(2) ? 0 : 0xFFFFFFFFu) : rnd() * 2654435761u;
        for (unsigned i = 0; i < sizeof data; i++) data[i] = (uint8_t)rnd();
        setup(fast, &fm, &p, mode, regs, data);
        /* the translation to host code from a block's first, second or sixteenth run */
        if (fast->jit_threshold) fast->jit_threshold = k % 3 == 2 ? 16 : 1 + k % 3;
        setup(slow, &sm, &p, mode, regs, data);
        Final a, b;
        uint64_t fast0 = fast->instructions_retired, slow0 = slow->instructions_retired;
        X86Exit e = x86_cpu_run(slow, MAX_INSNS);
        final_state(slow, e, &b);
        b.retired -= slow0;
        /* the fast side in slices of random budgets (never past what the slow side ran),
         * with host events between them */
        for (;;) {
            uint64_t left = b.retired - (fast->instructions_retired - fast0);
            uint64_t slice = 1 + pick(pick(4) ? 200 : 8);
            e = x86_cpu_run(fast, slice < left ? slice : left);
            if (e != X86_EXIT_BUDGET || fast->instructions_retired - fast0 >= b.retired) break;
            switch (pick(16)) {
            case 0: x86_cpu_host_wrote_memory(fast); break;
            case 1: x86_cpu_tlb_invalidate(fast); break;
            default: break;
            }
        }
        final_state(fast, e, &a);
        a.retired -= fast0;
        hlt += b.exit == X86_EXIT_HLT;
        smc += memcmp(sm.ram + CODE_BASE, p.code, p.len) != 0;
        bool same = a.exit == b.exit && !memcmp(a.gpr, b.gpr, sizeof a.gpr) && a.rip == b.rip &&
                    a.rflags == b.rflags && a.retired == b.retired &&
                    !memcmp(fm.ram, sm.ram, RAM_SIZE);
        if (!same) {
            print_error("%s mode: program %u of seed %llu (DIFF_SEED=%llu DIFF_PROGRAMS=%u "
                        "reruns it) differs: exit %s/%s rip %llx/%llx rflags %llx/%llx "
                        "retired %llu/%llu\n", mode_names[mode], k, (unsigned long long)seed0,
                        (unsigned long long)seed0, k + 1, x86_exit_name(a.exit),
                        x86_exit_name(b.exit), (unsigned long long)a.rip,
                        (unsigned long long)b.rip, (unsigned long long)a.rflags,
                        (unsigned long long)b.rflags, (unsigned long long)a.retired,
                        (unsigned long long)b.retired);
            for (int i = 0; i < 8; i++)
                if (a.gpr[i] != b.gpr[i])
                    print_error("  gpr[%d] %llx (fast) %llx (slow)\n", i,
                                (unsigned long long)a.gpr[i], (unsigned long long)b.gpr[i]);
            for (unsigned i = 0; i < RAM_SIZE; i++)
                if (fm.ram[i] != sm.ram[i]) {
                    print_error("  memory at %x: %02x (fast) %02x (slow)\n", i, fm.ram[i], sm.ram[i]);
                    break;
                }
            char hex[3 * 64 + 1] = "";
            for (size_t i = 0; i < p.len && i < 64; i++) sprintf(hex + 3 * i, "%02x ", p.code[i]);
            print_error("  code: %s\n", hex);
            fail();
        }
    }
    print_message("%s mode: %u programs from seed %llu, %u ended at HLT, %u modified their code\n",
                  mode_names[mode], programs, (unsigned long long)seed0, hlt, smc);
    /* most programs run to their HLT (the rest fault into zeroed memory alike) */
    assert_true(hlt * 2 > programs);
    x86_cpu_destroy(fast);
    x86_cpu_destroy(slow);
    free(fm.ram);
    free(sm.ram);
}

static uint64_t seed0 = 20261203;
static unsigned programs = 1500;

static void test_real(void **state) { (void)state; run_mode(MODE_REAL, seed0, programs); }
static void test_protected(void **state) { (void)state; run_mode(MODE_PROT, seed0, programs); }
static void test_paged(void **state) { (void)state; run_mode(MODE_PAGED, seed0, programs); }

int main(void)
{
    const char *s = getenv("DIFF_SEED"), *n = getenv("DIFF_PROGRAMS");
    if (s) seed0 = strtoull(s, NULL, 0);
    if (n) programs = (unsigned)strtoul(n, NULL, 0);
    printf("test_cpu_diff: seed %llu, %u programs per mode\n", (unsigned long long)seed0, programs);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real),
        cmocka_unit_test(test_protected),
        cmocka_unit_test(test_paged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
