/*
 * The REP string instructions' bulk path (src/sim/cpu/cpu_string.c) against the element
 * path (cpu->string_elementwise): the same state before, the same state after (registers,
 * flags, RIP, every byte of RAM including page tables' accessed/dirty bits, CR2, the
 * instructions retired and the sequence of exits), for MOVS STOS LODS SCAS CMPS with 8-,
 * 16- and 32-bit elements, 16- and 32-bit address sizes, both DF directions, in real mode
 * and in 32-bit protected mode with paging, over page ends, segment limits, page faults,
 * MMIO, overlapping operands and counts past one execution's chunk. Then what the bulk
 * path must keep doing on its own: a REP STOS over decoded code, and a REP broken off by
 * the instruction budget taking an interrupt and resuming.
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
#define MMIO_BASE 0xB8000u          /* guest-physical [B8000, C0000) is not RAM */
#define MMIO_END 0xC0000u
#define CODE 0x1000u
#define HANDLER 0x0F00u              /* every exception vector lands on a HLT here */
#define GDT 0x0500u
#define IDT 0x0600u
#define PD 0x90000u
#define PT 0x91000u
#define ABSENT_PAGE 0x47000u         /* not present with paging */
#define MAX_EXITS 512
#define IDT_VECTORS 64

typedef struct {
    uint8_t *ram;
    X86Cpu *cpu;
    uint64_t retired0;
} Machine;

/* The RAM every scenario starts from (few distinct byte values, so that SCAS and CMPS
 * find matches and mismatches), and the two machines the scenarios reuse. */
static uint8_t *pristine;
static Machine reused[2];

static uint8_t *page_fn(void *opaque, uint64_t gpa_page, unsigned access)
{
    (void)access;
    Machine *m = opaque;
    if (gpa_page >= MMIO_BASE && gpa_page < MMIO_END) return NULL;
    return gpa_page < RAM_SIZE ? m->ram + gpa_page : NULL;
}

/* What a scenario sets up. */
typedef struct {
    bool pm;                /* 32-bit protected mode (flat CS/DS/SS), else real mode */
    bool paging;            /* pm: 2-level paging, identity, ABSENT_PAGE not present */
    uint8_t prefixes[3];    /* 66 / 67 / F3 / F2 / segment overrides, 0 = none */
    uint8_t opcode;         /* A4 A5 AA AB AC AD A6 A7 AE AF */
    bool df;
    uint32_t ecx, esi, edi, eax;
    uint32_t es_limit;      /* pm: ES limit (byte granular) when not 0 */
    uint32_t fill_seed;
    int equal_from;         /* CMPS: this many bytes at EDI copied from ESI (-1: none),
                             * the ones the run goes over (below them with DF) */
    bool data_at_64k;       /* DS and ES based at 0x10000 (16-bit addressing) */
} Scenario;

typedef struct {
    uint64_t gpr[8], rip, flags, cr2, retired;
    int exits[MAX_EXITS];
    uint64_t exit_gpa[MAX_EXITS];
    int n_exits;
    uint8_t *ram;
} Outcome;

static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

static void machine_create(Machine *m)
{
    if (!pristine) {
        pristine = calloc(1, RAM_SIZE);
        assert_non_null(pristine);
        uint32_t seed = 1;
        for (uint32_t i = 0x2000; i < RAM_SIZE; i++) pristine[i] = (uint8_t)(lcg(&seed) % 3);
    }
    m->ram = malloc(RAM_SIZE);
    assert_non_null(m->ram);
    m->cpu = x86_cpu_create(page_fn, m);
    assert_non_null(m->cpu);
}

/* Puts machine m (created or reused) in the scenario's state. */
static void machine_init(Machine *m, const Scenario *sc, bool elementwise)
{
    if (!m->cpu) machine_create(m);
    memcpy(m->ram, pristine, RAM_SIZE);
    uint32_t seed = sc->fill_seed;
    for (int i = 0; i < 64; i++)   /* a few bytes that differ from scenario to scenario */
        m->ram[0x10000 + lcg(&seed) % 0x70000] = (uint8_t)lcg(&seed);
    if (sc->equal_from > 0) {
        uint32_t base = sc->data_at_64k ? 0x10000 : 0, n = (uint32_t)sc->equal_from;
        uint32_t s0 = base + sc->esi, d0 = base + sc->edi;
        if (sc->df) {
            s0 = s0 > n ? s0 - n + 4 : 0;
            d0 = d0 > n ? d0 - n + 4 : 0;
        }
        if (s0 >= 0x2000 && d0 >= 0x2000 && s0 + n <= MMIO_BASE && d0 + n <= MMIO_BASE)
            memmove(m->ram + d0, m->ram + s0, n);
    }
    X86Cpu *cpu = m->cpu;
    x86_cpu_reset(cpu);
    x86_cpu_tlb_flush(cpu);   /* RAM was replaced: no decoded code, no translations */
    m->retired0 = cpu->instructions_retired;
    cpu->string_elementwise = elementwise;
    /* the instruction, then HLT */
    uint8_t *c = m->ram + CODE;
    for (int i = 0; i < 3; i++)
        if (sc->prefixes[i]) *c++ = sc->prefixes[i];
    *c++ = sc->opcode;
    *c++ = 0xF4;
    m->ram[HANDLER] = 0xF4;
    for (int s = 0; s < 6; s++) x86_cpu_load_real_segment(cpu, s, 0);
    if (!sc->pm) {
        for (int v = 0; v < IDT_VECTORS; v++) put32(m->ram + 4 * v, HANDLER);   /* 0000:0F00 */
    } else {
        /* GDT: null, 08 code32, 10 data32 flat, 18 data32 with a limit */
        static const uint64_t gdt[4] = {0, 0x00CF9A000000FFFFull, 0x00CF92000000FFFFull,
                                        0x0040920000000000ull};
        memcpy(m->ram + GDT, gdt, sizeof gdt);
        for (int v = 0; v < IDT_VECTORS; v++) {   /* 32-bit interrupt gates, 08:HANDLER */
            uint8_t *g = m->ram + IDT + 8 * v;
            put32(g, (0x08u << 16) | HANDLER);
            put32(g + 4, 0x8E00u);
        }
        cpu->gdtr.base = GDT;
        cpu->gdtr.limit = sizeof gdt - 1;
        cpu->idtr.base = IDT;
        cpu->idtr.limit = IDT_VECTORS * 8 - 1;
        cpu->cr0 |= X86_CR0_PE;
        cpu->cs = (X86Segment){0x08, 0, 0xFFFFFFFFu, 0xC09Bu};
        X86Segment data = {0x10, 0, 0xFFFFFFFFu, 0xC093u};
        cpu->ds = cpu->ss = cpu->fs = cpu->gs = cpu->es = data;
        if (sc->es_limit) cpu->es = (X86Segment){0x18, 0, sc->es_limit, 0x4093u};
        if (sc->paging) {
            for (uint32_t i = 0; i < 1024; i++) put32(m->ram + PT + 4 * i, (i << 12) | 3u);
            put32(m->ram + PT + 4 * (ABSENT_PAGE >> 12), ABSENT_PAGE);   /* P = 0 */
            put32(m->ram + PD, PT | 3u);
            cpu->cr3 = PD;
            cpu->cr0 |= X86_CR0_PG;
            x86_cpu_tlb_flush(cpu);
        }
    }
    if (sc->data_at_64k) {
        cpu->ds.base = cpu->es.base = 0x10000;
        if (!sc->pm) {
            x86_cpu_load_real_segment(cpu, X86_DS, 0x1000);
            x86_cpu_load_real_segment(cpu, X86_ES, 0x1000);
        }
    }
    cpu->rip = CODE;
    cpu->gpr[X86_RSP] = 0x1F00;
    cpu->gpr[X86_RCX] = sc->ecx;
    cpu->gpr[X86_RSI] = sc->esi;
    cpu->gpr[X86_RDI] = sc->edi;
    cpu->gpr[X86_RAX] = sc->eax;
    x86_cpu_set_rflags(cpu, 0x2 | (sc->df ? X86_FLAG_DF : 0));
}

/* Runs to the HLT (the instruction's own, or the exception handler's), completing MMIO
 * reads with a value made of the address. */
static void machine_run(Machine *m, Outcome *o)
{
    X86Cpu *cpu = m->cpu;
    memset(o, 0, sizeof *o);
    for (;;) {
        X86Exit e = x86_cpu_run(cpu, 0);
        assert_true(o->n_exits < MAX_EXITS);
        o->exits[o->n_exits] = e;
        o->exit_gpa[o->n_exits++] = e == X86_EXIT_MMIO ? cpu->exit.mmio.gpa : 0;
        if (e == X86_EXIT_HLT) break;
        assert_int_equal(e, X86_EXIT_MMIO);
        if (!cpu->exit.mmio.is_write)
            x86_cpu_complete_mmio(cpu, (cpu->exit.mmio.gpa * 0x01010101u) & 0xFFFFFFFFu);
    }
    memcpy(o->gpr, cpu->gpr, sizeof o->gpr);
    o->rip = cpu->rip;
    o->flags = x86_cpu_get_rflags(cpu);
    o->cr2 = cpu->cr2;
    o->retired = cpu->instructions_retired - m->retired0;
    o->ram = m->ram;
}

static void machine_free(Machine *m)
{
    if (m->cpu) x86_cpu_destroy(m->cpu);
    free(m->ram);
    *m = (Machine){0};
}

static int group_teardown(void **state)
{
    (void)state;
    machine_free(&reused[0]);
    machine_free(&reused[1]);
    free(pristine);
    pristine = NULL;
    return 0;
}

static char describe_buf[256];
static const char *describe(const Scenario *sc)
{
    snprintf(describe_buf, sizeof describe_buf,
             "%s%s op %02X pfx %02X %02X %02X df %d ecx %x esi %x edi %x es_limit %x",
             sc->pm ? "pm" : "real", sc->paging ? "+pg" : "", sc->opcode, sc->prefixes[0],
             sc->prefixes[1], sc->prefixes[2], sc->df, sc->ecx, sc->esi, sc->edi,
             sc->es_limit);
    return describe_buf;
}

/* Runs the scenario both ways and requires the same outcome. Returns the bulk one's
 * number of exits (for the callers that want to see an MMIO exit or a fault happen). */
static int compare(const Scenario *sc, Outcome *bulk_out)
{
    Machine *pa = &reused[0], *pb = &reused[1];
    Outcome oa, ob;
    machine_init(pa, sc, false);
    machine_init(pb, sc, true);
    machine_run(pa, &oa);
    machine_run(pb, &ob);
    Machine a = *pa, b = *pb;
    bool same = memcmp(oa.gpr, ob.gpr, sizeof oa.gpr) == 0 && oa.rip == ob.rip &&
                oa.flags == ob.flags && oa.cr2 == ob.cr2 && oa.retired == ob.retired &&
                oa.n_exits == ob.n_exits &&
                memcmp(oa.exits, ob.exits, sizeof(int) * (size_t)oa.n_exits) == 0 &&
                memcmp(oa.exit_gpa, ob.exit_gpa, sizeof(uint64_t) * (size_t)oa.n_exits) == 0;
    size_t diff = RAM_SIZE;
    for (size_t i = 0; memcmp(a.ram, b.ram, RAM_SIZE) != 0 && i < RAM_SIZE; i++)
        if (a.ram[i] != b.ram[i]) {
            diff = i;
            break;
        }
    if (!same || diff != RAM_SIZE) {
        print_error("%s\n", describe(sc));
        print_error("  bulk:    ecx %llx esi %llx edi %llx eax %llx rip %llx flags %llx exits %d "
                    "retired %llu\n", (unsigned long long)oa.gpr[1], (unsigned long long)oa.gpr[6],
                    (unsigned long long)oa.gpr[7], (unsigned long long)oa.gpr[0],
                    (unsigned long long)oa.rip, (unsigned long long)oa.flags, oa.n_exits,
                    (unsigned long long)oa.retired);
        print_error("  element: ecx %llx esi %llx edi %llx eax %llx rip %llx flags %llx exits %d "
                    "retired %llu\n", (unsigned long long)ob.gpr[1], (unsigned long long)ob.gpr[6],
                    (unsigned long long)ob.gpr[7], (unsigned long long)ob.gpr[0],
                    (unsigned long long)ob.rip, (unsigned long long)ob.flags, ob.n_exits,
                    (unsigned long long)ob.retired);
        if (diff != RAM_SIZE) print_error("  RAM differs first at %zx\n", diff);
    }
    if (bulk_out) *bulk_out = oa;
    int n = oa.n_exits;
    assert_true(same);
    assert_int_equal(diff, RAM_SIZE);
    return n;
}

static const uint8_t opcodes[] = {0xA4, 0xA5, 0xAA, 0xAB, 0xAC, 0xAD, 0xA6, 0xA7, 0xAE, 0xAF};

/* Places (ESI, EDI) near page ends, in the same page, overlapping, far apart. */
static const uint32_t places[][2] = {
    {0x10000, 0x20000}, {0x10FFE, 0x21FFF}, {0x10801, 0x10802}, {0x10802, 0x10801},
    {0x30000, 0x30000}, {0x12FFD, 0x22003}, {0x4FFF0, 0x5FFF0}, {0x1FFFF, 0x2FFFE},
};

/* Every opcode x operand size x address size x DF x REP/REPNE x place x count, in
 * real mode and in protected mode without and with paging. */
static void test_bulk_matches_elements(void **state)
{
    (void)state;
    static const uint32_t counts[] = {1, 3, 0x801, 0x1803, 0x10005};
    int cases = 0;
    for (int mode = 0; mode < 3; mode++)
        for (size_t op = 0; op < sizeof opcodes; op++)
            for (int o16 = 0; o16 < 2; o16++)
                for (int a16 = 0; a16 < 2; a16++)
                    for (int df = 0; df < 2; df++)
                        for (int rep = 0; rep < 2; rep++) {
                            uint8_t opc = opcodes[op];
                            bool cmp = opc == 0xA6 || opc == 0xA7 || opc == 0xAE || opc == 0xAF;
                            if (rep && !cmp) continue;   /* F2 on MOVS/STOS/LODS: as F3 */
                            for (size_t pl = 0; pl < sizeof places / sizeof places[0]; pl++)
                                for (size_t ct = 0; ct < sizeof counts / sizeof counts[0]; ct++) {
                                    Scenario sc = {0};
                                    sc.pm = mode > 0;
                                    sc.paging = mode == 2;
                                    /* real mode: the default sizes are 16-bit; pm: 32 */
                                    bool want16 = o16, wanta16 = a16;
                                    int k = 0;
                                    if (want16 == sc.pm) sc.prefixes[k++] = 0x66;
                                    if (wanta16 == sc.pm) sc.prefixes[k++] = 0x67;
                                    sc.prefixes[k++] = rep ? 0xF2 : 0xF3;
                                    sc.opcode = opc;
                                    sc.df = df;
                                    sc.ecx = counts[ct];
                                    sc.esi = places[pl][0];
                                    sc.edi = places[pl][1];
                                    if (wanta16) {   /* 16-bit: a 64 KiB at 0x10000 */
                                        sc.esi &= 0xFFFF;
                                        sc.edi &= 0xFFFF;
                                        sc.ecx &= 0xFFFF;
                                        sc.data_at_64k = true;
                                    }
                                    sc.eax = 0x01000200u;
                                    sc.fill_seed = (uint32_t)(cases * 7 + 1);
                                    sc.equal_from = cmp && !rep ? 0x2345 : -1;
                                    /* keep 32-bit runs inside RAM and out of MMIO */
                                    if (!wanta16 && sc.ecx > 0x1803) continue;
                                    compare(&sc, NULL);
                                    cases++;
                                }
                        }
    print_message("  %d scenarios compared\n", cases);
}

/* Counts past one execution's STRING_CHUNK (65536) elements, 16-bit SI/DI wrapping. */
static void test_bulk_long_and_wrapping(void **state)
{
    (void)state;
    for (size_t op = 0; op < sizeof opcodes; op++)
        for (int df = 0; df < 2; df++) {
            /* 32-bit: 0x14001 elements, up from (0x40000, 0x10000) or down from
             * (0x90000, 0x60000), the operands overlapping for dwords */
            Scenario sc = {.pm = true, .opcode = opcodes[op], .df = df, .ecx = 0x14001,
                           .esi = df ? 0x90000 : 0x40000, .edi = df ? 0x60000 : 0x10000,
                           .eax = 7, .fill_seed = 3, .equal_from = 0x20000};
            sc.prefixes[0] = 0xF3;
            compare(&sc, NULL);
            /* real mode, 16-bit: the whole 64 KiB twice over, wrapping SI/DI */
            Scenario r = {.opcode = opcodes[op], .df = df, .ecx = 0xFFFF, .esi = 0x8001,
                          .edi = 0x7FFF, .eax = 1, .fill_seed = 9, .equal_from = -1,
                          .data_at_64k = true};
            r.prefixes[0] = 0xF3;
            compare(&r, NULL);
        }
}

/* The run meets a segment limit (#GP through ES with its limit) or a page that is not
 * present (#PF): the fault leaves ECX/ESI/EDI at the faulting element, in both paths. */
static void test_bulk_faults(void **state)
{
    (void)state;
    for (size_t op = 0; op < sizeof opcodes; op++)
        for (int df = 0; df < 2; df++) {
            bool uses_es = opcodes[op] != 0xAC && opcodes[op] != 0xAD;
            Scenario sc = {.pm = true, .opcode = opcodes[op], .df = df, .ecx = 0x3000,
                           .esi = 0x30000, .edi = df ? 0x26010 : 0x23FF0, .eax = 5,
                           .fill_seed = 4, .equal_from = 0x4000};
            sc.prefixes[0] = 0xF3;
            /* ES limit: reached part-way up (DF=0); going down the first element faults */
            sc.es_limit = 0x24802;
            Outcome o;
            compare(&sc, &o);
            bool writes = opcodes[op] == 0xA4 || opcodes[op] == 0xA5 || opcodes[op] == 0xAA ||
                          opcodes[op] == 0xAB;
            if (writes && !df) assert_int_equal(o.rip, HANDLER + 1);   /* the #GP came */
            (void)uses_es;
            /* #PF: the run reaches ABSENT_PAGE from below (DF=0) or above (DF=1) */
            Scenario pf = sc;
            pf.es_limit = 0;
            pf.paging = true;
            pf.esi = df ? ABSENT_PAGE + 0x2010 : ABSENT_PAGE - 0x1010;
            pf.edi = pf.esi + 0x8000;
            compare(&pf, &o);
            if (opcodes[op] == 0xA4 || opcodes[op] == 0xAC || opcodes[op] == 0xA5 ||
                opcodes[op] == 0xAD) {
                assert_int_equal(o.rip, HANDLER + 1);
                assert_int_equal(o.cr2 & ~0xFFFull, ABSENT_PAGE);
            }
        }
}

/* Operands that run into MMIO (B8000) part-way: the element path's exits, one per
 * element, with the same values. */
static void test_bulk_mmio(void **state)
{
    (void)state;
    for (size_t op = 0; op < sizeof opcodes; op++) {
        Scenario sc = {.pm = true, .opcode = opcodes[op], .ecx = 0x50, .esi = MMIO_BASE - 0x40,
                       .edi = MMIO_BASE - 0x20, .eax = 5, .fill_seed = 5, .equal_from = -1};
        sc.prefixes[0] = 0xF3;
        Outcome o;
        int exits = compare(&sc, &o);
        bool compares = opcodes[op] == 0xA6 || opcodes[op] == 0xA7 || opcodes[op] >= 0xAE;
        if (!compares)   /* REPE CMPS/SCAS may stop before reaching MMIO */
            assert_true(exits > 1);   /* MMIO exits came before the HLT */
    }
}

/* A REP STOS over decoded code must still drop it (the TLB never maps code writable). */
static void test_bulk_stos_over_code(void **state)
{
    (void)state;
    for (int elementwise = 0; elementwise < 2; elementwise++) {
        Scenario sc = {.pm = true, .opcode = 0xAA, .equal_from = -1};
        Machine m = {0};
        machine_init(&m, &sc, elementwise);
        X86Cpu *cpu = m.cpu;
        /* a routine at 0x5000 that sets EBX = 1 and halts: run it, so it is decoded */
        static const uint8_t first[] = {0xBB, 0x01, 0x00, 0x00, 0x00, 0xF4};
        memcpy(m.ram + 0x5000, first, sizeof first);
        cpu->rip = 0x5000;
        assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
        assert_int_equal(cpu->gpr[X86_RBX], 1);
        /* at CODE: REP STOSB fills 0x5000.. with 0x43 (INC EBX) for 5 bytes, REP STOSB of
         * one byte puts a HLT after them, JMP 0x5000 */
        static const uint8_t code[] = {
            0xBF, 0x00, 0x50, 0x00, 0x00,   /* mov $0x5000, %edi */
            0xB9, 0x05, 0x00, 0x00, 0x00,   /* mov $5, %ecx */
            0xB0, 0x43,                     /* mov $0x43, %al */
            0xF3, 0xAA,                     /* rep stosb */
            0xB9, 0x01, 0x00, 0x00, 0x00,   /* mov $1, %ecx */
            0xB0, 0xF4,                     /* mov $0xf4, %al */
            0xF3, 0xAA,                     /* rep stosb */
            0xE9, 0xE4, 0x3F, 0x00, 0x00,   /* jmp 0x5000 (from CODE + 0x1C) */
        };
        memcpy(m.ram + CODE, code, sizeof code);
        x86_cpu_invalidate_code(cpu, CODE, sizeof code);
        cpu->rip = CODE;
        cpu->gpr[X86_RBX] = 0;
        assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
        assert_int_equal(cpu->gpr[X86_RBX], 5);        /* the new code ran, not the old */
        assert_int_equal(cpu->rip, 0x5006);
        /* the same with the code on the page of the REP itself, just after it */
        static const uint8_t self[] = {
            0xBF, 0x0E, 0x10, 0x00, 0x00,   /* mov $CODE + 14, %edi */
            0xB9, 0x04, 0x00, 0x00, 0x00,   /* mov $4, %ecx */
            0xB0, 0x43,                     /* mov $0x43, %al */
            0xF3, 0xAA,                     /* rep stosb: over the next 4 bytes */
            0xF4, 0xF4, 0xF4, 0xF4, 0xF4,   /* HLTs, become INC EBX x 4, then HLT */
        };
        memcpy(m.ram + CODE, self, sizeof self);
        x86_cpu_invalidate_code(cpu, CODE, sizeof self);
        cpu->rip = CODE;
        cpu->gpr[X86_RBX] = 0;
        assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
        assert_int_equal(cpu->gpr[X86_RBX], 4);
        assert_int_equal(cpu->rip, CODE + 19);
        machine_free(&m);
    }
}

/* A long REP is broken off after one execution (65536 elements) by the budget, takes an
 * interrupt there (its return address is the REP, with ECX what is left) and resumes to
 * the end after the IRET: in both paths alike. */
static void test_bulk_interrupted(void **state)
{
    (void)state;
    uint64_t ecx_at_break[2], rdi_end[2];
    for (int elementwise = 0; elementwise < 2; elementwise++) {
        Scenario sc = {.pm = true, .opcode = 0xAB, .ecx = 0x18000, .edi = 0x40000,
                       .eax = 0xA5A5A5A5u, .equal_from = -1};
        sc.prefixes[0] = 0xF3;
        Machine m = {0};
        machine_init(&m, &sc, elementwise);
        X86Cpu *cpu = m.cpu;
        m.ram[HANDLER] = 0xCF;   /* the handler: IRET */
        x86_cpu_set_rflags(cpu, 0x2 | X86_FLAG_IF);
        assert_int_equal(x86_cpu_run(cpu, 1), X86_EXIT_BUDGET);
        assert_int_equal(cpu->rip, CODE);            /* still at the REP */
        ecx_at_break[elementwise] = cpu->gpr[X86_RCX];
        assert_int_equal(cpu->gpr[X86_RCX], 0x18000 - 0x10000);
        assert_int_equal(cpu->gpr[X86_RDI], 0x40000 + 4 * 0x10000);
        x86_cpu_set_intr(cpu, 0x20);
        assert_int_equal(x86_cpu_run(cpu, 1), X86_EXIT_BUDGET);   /* delivered, IRET */
        uint32_t ret;
        memcpy(&ret, m.ram + 0x1F00 - 12, 4);
        assert_int_equal(ret, CODE);                 /* the interrupt returned to the REP */
        assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
        assert_int_equal(cpu->gpr[X86_RCX], 0);
        rdi_end[elementwise] = cpu->gpr[X86_RDI];
        for (uint32_t a = 0x40000; a < 0x40000 + 4 * 0x18000; a += 4) {
            uint32_t v;
            memcpy(&v, m.ram + a, 4);
            if (v != 0xA5A5A5A5u) fail_msg("STOSD missed %x", a);
        }
        machine_free(&m);
    }
    assert_int_equal(ecx_at_break[0], ecx_at_break[1]);
    assert_int_equal(rdi_end[0], rdi_end[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bulk_matches_elements),
        cmocka_unit_test(test_bulk_long_and_wrapping),
        cmocka_unit_test(test_bulk_faults),
        cmocka_unit_test(test_bulk_mmio),
        cmocka_unit_test(test_bulk_stos_over_code),
        cmocka_unit_test(test_bulk_interrupted),
    };
    return cmocka_run_group_tests(tests, NULL, group_teardown);
}
