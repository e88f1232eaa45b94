/*
 * The translation of hot blocks to host code (jit.c) against the handlers alone: the same
 * real-mode programs on a CPU that translates every block from its first run and on one
 * that never does, with the state the translation takes as checked changed between runs
 * (a data segment turned expand-down, then too short; SS.B; SS loaded within a block), a
 * stack page that is not all within the SS limit, a load across the end of RAM into MMIO,
 * an interrupt raised after a translated loop or waiting masked through one (STI, POPF,
 * the budget, an interrupt window), a stop request into a loop that chains to itself,
 * and no memory writable and executable at once.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#define RAM_SIZE (1u << 20)
#define MMIO_BASE 0x3000u             /* right after the data page */
#define MMIO_END 0x4000u
#include "cpu_fixture.h"

#define CODE 0x1000u
#define DATA 0x2000u
#define HLT_AT 0x500u

typedef struct {
    Fx *jit, *plain;
} Pair;

static int pair_setup(void **state)
{
    Pair *p = calloc(1, sizeof *p);
    if (!p) return -1;
    p->jit = fx_create_real(CODE, 0x8000);
    p->plain = fx_create_real(CODE, 0x8000);
    if (!p->jit || !p->plain) return -1;
    p->jit->cpu->jit_threshold = 1;
    p->plain->cpu->jit_threshold = 0;
    *state = p;
    return 0;
}

static int pair_teardown(void **state)
{
    Pair *p = *state;
    void *s = p->jit;
    fx_teardown(&s);
    s = p->plain;
    fx_teardown(&s);
    free(p);
    return 0;
}

/* Both CPUs: the code at CODE, vectors 0-31 to a HLT, data from DATA. */
static void pair_load(Pair *p, const uint8_t *code, size_t n)
{
    Fx *f[2] = { p->jit, p->plain };
    for (int i = 0; i < 2; i++) {
        memcpy(f[i]->ram + CODE, code, n);
        for (unsigned k = 0; k < 256; k++) f[i]->ram[DATA + k] = (uint8_t)(k * 37 + 11);
        fx_real_vectors_to_hlt(f[i], 32, HLT_AT);
        x86_cpu_invalidate_code(f[i]->cpu, 0, RAM_SIZE);
    }
}

/* Runs both from CODE with registers cleared to HLT; they must end alike. */
static void pair_run(Pair *p, void (*prepare)(X86Cpu *))
{
    X86Cpu *c[2] = { p->jit->cpu, p->plain->cpu };
    X86Exit e[2];
    for (int i = 0; i < 2; i++) {
        for (int r = 0; r < 8; r++) if (r != X86_RSP) c[i]->gpr[r] = 0;
        c[i]->gpr[X86_RSP] = 0x8000;
        c[i]->rip = CODE;
        if (prepare) prepare(c[i]);
        e[i] = x86_cpu_run(c[i], 1000000);
    }
    assert_int_equal(e[0], X86_EXIT_HLT);
    assert_int_equal(e[1], X86_EXIT_HLT);
    for (int r = 0; r < 8; r++) assert_int_equal(c[0]->gpr[r], c[1]->gpr[r]);
    assert_int_equal(c[0]->rip, c[1]->rip);
    assert_int_equal(x86_cpu_get_rflags(c[0]), x86_cpu_get_rflags(c[1]));
    assert_int_equal(c[0]->instructions_retired, c[1]->instructions_retired);
    assert_memory_equal(p->jit->ram, p->plain->ram, RAM_SIZE);
}

static void test_hot_loop_is_translated(void **state)
{
    Pair *p = *state;
    static const uint8_t code[] = {
        0xB9, 0xE8, 0x03,       /* mov cx, 1000 */
        0x01, 0xD8,             /* 1: add ax, bx */
        0x43,                   /* inc bx */
        0x49,                   /* dec cx */
        0x75, 0xFA,             /* jnz 1b */
        0xF4,                   /* hlt */
    };
    pair_load(p, code, sizeof code);
    pair_run(p, NULL);
    assert_true(p->jit->cpu->jit_translated > 0);
    assert_int_equal(p->plain->cpu->jit_translated, 0);
    assert_int_equal(p->jit->cpu->gpr[X86_RAX] & 0xFFFF, (999 * 1000 / 2) & 0xFFFF);
}

/* W^X: once blocks are translated, no mapping of the process is writable and executable
 * (the arena is one memory object mapped twice). */
static void test_no_writable_executable_mapping(void **state)
{
    test_hot_loop_is_translated(state);
    FILE *maps = fopen("/proc/self/maps", "r");
    if (!maps) skip();
    char line[512], perms[8];
    int mappings = 0;
    while (fgets(line, sizeof line, maps)) {
        if (sscanf(line, "%*s %7s", perms) != 1) continue;
        mappings++;
        if (perms[1] == 'w' && perms[2] == 'x') fail_msg("writable and executable: %s", line);
    }
    fclose(maps);
    assert_true(mappings > 0);
}

/* A loop of loads through DS: sum of the words at DATA, DATA + 2, ... */
static const uint8_t ds_loop[] = {
    0xBE, 0x00, 0x20,           /* mov si, DATA */
    0xB9, 0x40, 0x00,           /* mov cx, 64 */
    0x8B, 0x04,                 /* 1: mov ax, [si] */
    0x01, 0xC2,                 /* add dx, ax */
    0x46, 0x46,                 /* inc si; inc si */
    0x89, 0x44, 0x7E,           /* mov [si + 0x7e], ax */
    0x49,                       /* dec cx */
    0x75, 0xF4,                 /* jnz 1b */
    0xF4,
};

static void ds_expand_down(X86Cpu *cpu)
{
    cpu->ds.attr = (cpu->ds.attr & ~0xFu) | 0x7u;   /* data, read/write, expand-down */
    cpu->ds.limit = 0x0FFF;                         /* offsets 0x1000-0xFFFF */
}

static void ds_expand_down_short(X86Cpu *cpu)
{
    ds_expand_down(cpu);
    cpu->ds.limit = 0x2040;                         /* DATA + 0x40 faults: #GP */
}

static void test_segment_type_changes(void **state)
{
    Pair *p = *state;
    pair_load(p, ds_loop, sizeof ds_loop);
    pair_run(p, NULL);                  /* translated with DS as real mode has it */
    pair_run(p, ds_expand_down);        /* the type check fails: the handlers */
    pair_run(p, ds_expand_down_short);  /* and fault where they should */
    assert_int_equal(p->jit->cpu->rip, HLT_AT + 1);
    pair_run(p, NULL);
}

/* A translated loop of word loads walks up to the end of a RAM page followed by MMIO: the
 * load that straddles it leaves as an MMIO read, as the handlers have it. */
static const uint8_t page_end_loop[] = {
    0xBE, 0xF0, 0x2F,           /* mov si, 0x2ff0 */
    0xB9, 0x20, 0x00,           /* mov cx, 32 */
    0x8B, 0x04,                 /* 1: mov ax, [si] */
    0x01, 0xC2,                 /* add dx, ax */
    0x46,                       /* inc si */
    0x49,                       /* dec cx */
    0x75, 0xF8,                 /* jnz 1b */
    0xF4,
};

static void test_page_end_into_mmio(void **state)
{
    Pair *p = *state;
    pair_load(p, page_end_loop, sizeof page_end_loop);
    X86Cpu *c[2] = { p->jit->cpu, p->plain->cpu };
    for (int i = 0; i < 2; i++) {
        c[i]->rip = CODE;
        assert_int_equal(x86_cpu_run(c[i], 1000), X86_EXIT_MMIO);
    }
    assert_true(c[0]->jit_translated > 0);
    assert_int_equal(c[0]->exit.mmio.gpa, c[1]->exit.mmio.gpa);
    assert_int_equal(c[0]->exit.mmio.gpa, MMIO_BASE);
    assert_int_equal(c[0]->rip, c[1]->rip);
    assert_int_equal(c[0]->instructions_retired, c[1]->instructions_retired);
    for (int r = 0; r < 8; r++) assert_int_equal(c[0]->gpr[r], c[1]->gpr[r]);
}

static const uint8_t stack_loop[] = {
    0xB9, 0x40, 0x00,           /* mov cx, 64 */
    0x50,                       /* 1: push ax */
    0x40,                       /* inc ax */
    0x5B,                       /* pop bx */
    0x01, 0xDA,                 /* add dx, bx */
    0x49,                       /* dec cx */
    0x75, 0xF8,                 /* jnz 1b */
    0xF4,
};

static void stack32(X86Cpu *cpu)
{
    /* ESP past what SP alone reaches; SP alone would be on the stack page of before */
    cpu->ss.attr |= X86_AR_DB;
    cpu->ss.limit = 0xFFFFF;
    cpu->gpr[X86_RSP] = 0x17FF0;
}

static void test_stack_size_changes(void **state)
{
    Pair *p = *state;
    pair_load(p, stack_loop, sizeof stack_loop);
    pair_run(p, NULL);
    pair_run(p, stack32);
    pair_run(p, NULL);
}

/* The stack window (a page of SS offsets translated code writes without checks) after a
 * handler that loads SS within a block: the next push goes to the new SS. */
static const uint8_t lss_loop[0x108] = {
    0xB9, 0x10, 0x00,                   /* mov cx, 16 */
    0x50,                               /* 1: push ax */
    0x0F, 0xB2, 0x26, 0x00, 0x11,       /* lss sp, [0x1100]: 0500:0100 */
    0x53,                               /* push bx */
    0x0F, 0xB2, 0x26, 0x04, 0x11,       /* lss sp, [0x1104]: 0600:0100 */
    0x40,                               /* inc ax */
    0x43, 0x43,                         /* inc bx; inc bx */
    0x49,                               /* dec cx */
    0x75, 0xEE,                         /* jnz 1b */
    0xF4,
    [0x100] = 0x00, 0x01, 0x00, 0x05, 0x00, 0x01, 0x00, 0x06,
};

static void test_stack_window_after_ss_load(void **state)
{
    Pair *p = *state;
    pair_load(p, lss_loop, sizeof lss_loop);
    pair_run(p, NULL);
    assert_true(p->jit->cpu->jit_translated > 0);
    assert_int_equal(p->jit->ram[0x50FE], 15 * 2);    /* the last BX, under SS 0500 */
    assert_int_equal(p->jit->ram[0x60FE], 15);        /* the last AX, under SS 0600 */
}

/* A stack page that is not all within the SS limit: the translated pops fault at the
 * limit, as the handlers' (SP climbs by 2 per iteration from 0x80F0; the limit is
 * 0x80FF, so the pop at 0x8100 raises #SS). */
static const uint8_t climbing_stack[] = {
    0xB9, 0x40, 0x00,                   /* mov cx, 64 */
    0x50,                               /* 1: push ax */
    0x5B,                               /* pop bx */
    0x5B,                               /* pop bx */
    0x49,                               /* dec cx */
    0x75, 0xFA,                         /* jnz 1b */
    0xF4,
};

static void ss_limit_in_page(X86Cpu *cpu)
{
    cpu->ss.limit = 0x80FF;
    cpu->gpr[X86_RSP] = 0x80F0;
}

static void test_stack_window_within_limit(void **state)
{
    Pair *p = *state;
    pair_load(p, climbing_stack, sizeof climbing_stack);
    pair_run(p, ss_limit_in_page);
    assert_true(p->jit->cpu->jit_translated > 0);
    assert_int_equal(p->jit->cpu->rip, HLT_AT + 1);           /* #SS, to the HLT */
    assert_int_equal(p->jit->cpu->gpr[X86_RCX], 64 - 8);
}

/* An interrupt raised after a translated loop is taken at the first instruction. */
static void test_interrupt_after_translated_loop(void **state)
{
    Pair *p = *state;
    static const uint8_t spin[] = { 0x40, 0xEB, 0xFD };   /* 1: inc ax; jmp 1b */
    pair_load(p, spin, sizeof spin);
    X86Cpu *c[2] = { p->jit->cpu, p->plain->cpu };
    for (int i = 0; i < 2; i++) {
        c[i]->rip = CODE;
        x86_cpu_set_rflags(c[i], x86_cpu_get_rflags(c[i]) | X86_FLAG_IF);
        assert_int_equal(x86_cpu_run(c[i], 10001), X86_EXIT_BUDGET);
        x86_cpu_set_intr(c[i], 0x10);
        p->jit->ram[4 * 0x10] = p->plain->ram[4 * 0x10] = HLT_AT & 0xFF;
        p->jit->ram[4 * 0x10 + 1] = p->plain->ram[4 * 0x10 + 1] = HLT_AT >> 8;
        assert_int_equal(x86_cpu_run(c[i], 1000), X86_EXIT_HLT);
    }
    assert_true(c[0]->jit_translated > 0);
    assert_int_equal(c[0]->rip, HLT_AT + 1);
    assert_int_equal(c[0]->instructions_retired, c[1]->instructions_retired);
    assert_int_equal(c[0]->gpr[X86_RAX], c[1]->gpr[X86_RAX]);
}

/* An interrupt that waits while IF=0 through a long translated loop (blocks chain past
 * it: EVENT_SAMPLE_SLICE) is taken exactly where IF becomes 1: after STI and the
 * instruction in its shadow, or right after POPF. The stack frame (the return IP) and the
 * retired counts must match the handlers'. */
static const uint8_t masked_sti[] = {
    0xFA,                       /* cli */
    0xB9, 0x00, 0x04,           /* mov cx, 1024 */
    0x40,                       /* 1: inc ax */
    0x49,                       /* dec cx */
    0x75, 0xFC,                 /* jnz 1b */
    0xFB,                       /* sti */
    0x43,                       /* inc bx: in STI's shadow, runs */
    0x43,                       /* inc bx: the interrupt comes first */
    0xF4,
};
static const uint8_t masked_popf[] = {
    0xFA,                       /* cli */
    0xB9, 0x00, 0x04,           /* mov cx, 1024 */
    0x40,                       /* 1: inc ax */
    0x49,                       /* dec cx */
    0x75, 0xFC,                 /* jnz 1b */
    0x9C,                       /* pushf */
    0x5A,                       /* pop dx */
    0x80, 0xCE, 0x02,           /* or dh, 2: IF */
    0x52,                       /* push dx */
    0x9D,                       /* popf */
    0x43,                       /* inc bx: the interrupt comes first */
    0xF4,
};

static void intr_pending(X86Cpu *cpu) { x86_cpu_set_intr(cpu, 0x10); }

static void test_masked_interrupt_waits_for_sti(void **state)
{
    Pair *p = *state;
    pair_load(p, masked_sti, sizeof masked_sti);
    pair_run(p, intr_pending);
    X86Cpu *c = p->jit->cpu;
    assert_true(c->jit_translated > 0);
    assert_int_equal(c->rip, HLT_AT + 1);
    assert_int_equal(c->gpr[X86_RAX] & 0xFFFF, 1024);
    assert_int_equal(c->gpr[X86_RBX] & 0xFFFF, 1);
    /* the return IP pushed: the second INC BX */
    uint16_t sp = (uint16_t)c->gpr[X86_RSP];
    assert_int_equal(p->jit->ram[sp] | p->jit->ram[sp + 1] << 8, CODE + 10);
}

static void test_masked_interrupt_waits_for_popf(void **state)
{
    Pair *p = *state;
    pair_load(p, masked_popf, sizeof masked_popf);
    pair_run(p, intr_pending);
    X86Cpu *c = p->jit->cpu;
    assert_true(c->jit_translated > 0);
    assert_int_equal(c->gpr[X86_RBX] & 0xFFFF, 0);
    uint16_t sp = (uint16_t)c->gpr[X86_RSP];
    assert_int_equal(p->jit->ram[sp] | p->jit->ram[sp + 1] << 8, CODE + 15);
}

/* With an interrupt waiting masked, a budget still ends the run at its exact count, and
 * an interrupt-window request ends it at the first boundary where IF=1 and no shadow. */
static void test_masked_event_budget_and_window(void **state)
{
    Pair *p = *state;
    pair_load(p, masked_sti, sizeof masked_sti);
    X86Cpu *c[2] = { p->jit->cpu, p->plain->cpu };
    for (int i = 0; i < 2; i++) {
        c[i]->rip = CODE;
        for (int r = 0; r < 8; r++) if (r != X86_RSP) c[i]->gpr[r] = 0;
        x86_cpu_request_irq_window(c[i], true);
        uint64_t start = c[i]->instructions_retired;
        assert_int_equal(x86_cpu_run(c[i], 2001), X86_EXIT_BUDGET);
        assert_int_equal(c[i]->instructions_retired - start, 2001);
        assert_int_equal(x86_cpu_run(c[i], 100000), X86_EXIT_IRQ_WINDOW);
        assert_int_equal(c[i]->rip, CODE + 10);      /* after STI and its shadow */
        x86_cpu_request_irq_window(c[i], false);
    }
    assert_true(c[0]->jit_translated > 0);
    assert_int_equal(c[0]->instructions_retired, c[1]->instructions_retired);
    for (int r = 0; r < 8; r++) assert_int_equal(c[0]->gpr[r], c[1]->gpr[r]);
}

/* The inline forms of MOVZX/MOVSX (register and memory, byte and word sources, AH-BH),
 * SHL/SHR/SAR by an immediate (a count of 1, larger ones, and one past the width, which
 * the handler takes), SETcc and CMOVcc (register and memory, 16 and 32 bits), INC/DEC
 * on memory (CF kept), the ALU with a memory destination (ADC/SBB reading CF, CMP only
 * reading), TEST on memory and MOV between the accumulator and moffs, with the flags each leaves pushed after it, over a loop on changing data
 * (tests/unit/jit_forms.s, assembled with GNU as --32: the bytes below). */
static const uint8_t forms_loop[] = {
    0xC7, 0x06, 0x00, 0x50, 0x40, 0x00, 0xBE, 0x00, 0x20, 0x8B, 0x04, 0x66,
    0x0F, 0xB6, 0xD8, 0x66, 0x0F, 0xBE, 0xD4, 0x0F, 0xB6, 0xEC, 0x66, 0x0F,
    0xBF, 0x3C, 0x66, 0x0F, 0xB6, 0x6C, 0x01, 0x0F, 0xBE, 0x44, 0x03, 0x66,
    0x0F, 0xB7, 0x4C, 0x04, 0x66, 0xC1, 0xE3, 0x05, 0x0F, 0x92, 0xC1, 0x9C,
    0xD1, 0xEA, 0x9C, 0xC0, 0xFC, 0x03, 0x9C, 0x66, 0xC1, 0xEF, 0x1F, 0x9C,
    0xC0, 0xE0, 0x07, 0x9C, 0xC0, 0xE0, 0x09, 0x9C, 0x66, 0xD1, 0xFA, 0x0F,
    0x90, 0xC5, 0x9C, 0xC1, 0xE5, 0x02, 0x72, 0x01, 0x43, 0xD1, 0xE3, 0x9C,
    0x0F, 0x9C, 0xC1, 0x0F, 0x94, 0xC5, 0x66, 0x0F, 0x4F, 0xC7, 0x0F, 0x42,
    0xDD, 0x66, 0x0F, 0x45, 0xD1, 0x9C, 0xFE, 0x44, 0x05, 0x9C, 0x66, 0xFF,
    0x4C, 0x08, 0x9C, 0xFF, 0x44, 0x0A, 0xF9, 0xFF, 0x44, 0x0C, 0x9C, 0x0F,
    0x4D, 0x54, 0x02, 0x66, 0x0F, 0x42, 0x5C, 0x04, 0x0F, 0x95, 0x44, 0x06,
    0x0F, 0x92, 0x44, 0x07, 0x9C, 0x00, 0x54, 0x09, 0x9C, 0x66, 0x29, 0x5C,
    0x0A, 0x9C, 0x11, 0x6C, 0x0C, 0x9C, 0x18, 0x6C, 0x0D, 0x9C, 0x31, 0x5C,
    0x0E, 0x9C, 0x66, 0x39, 0x14, 0x9C, 0x80, 0x4C, 0x0F, 0x41, 0x9C, 0x83,
    0x64, 0x10, 0xF3, 0x9C, 0xF9, 0x66, 0x83, 0x5C, 0x12, 0xF9, 0x9C, 0x81,
    0x7C, 0x14, 0x34, 0x12, 0x9C, 0x84, 0x44, 0x15, 0x9C, 0x66, 0x85, 0x54,
    0x16, 0x9C, 0xF7, 0x44, 0x18, 0x01, 0x80, 0x9C, 0xF6, 0x44, 0x19, 0x80,
    0x9C, 0xA0, 0x03, 0x20, 0x66, 0x01, 0xC2, 0xA1, 0x05, 0x20, 0x66, 0x01,
    0xC2, 0x66, 0xA1, 0x07, 0x20, 0x66, 0x01, 0xC2, 0x88, 0x16, 0x00, 0x21,
    0x89, 0x16, 0x02, 0x21, 0x66, 0x89, 0x16, 0x04, 0x21, 0x83, 0xC6, 0x03,
    0xFF, 0x0E, 0x00, 0x50, 0x0F, 0x85, 0x11, 0xFF, 0xF4,
};

static void test_inline_forms_match_handlers(void **state)
{
    Pair *p = *state;
    pair_load(p, forms_loop, sizeof forms_loop);
    pair_run(p, NULL);
    assert_true(p->jit->cpu->jit_translated > 0);
    assert_int_equal(p->jit->cpu->rip, CODE + sizeof forms_loop);
}

static void *stopper(void *arg)
{
    usleep(50000);
    x86_cpu_request_stop(arg);
    return NULL;
}

/* A translated loop that goes on into itself still obeys a stop request. */
static void test_stop_request_in_chained_loop(void **state)
{
    Pair *p = *state;
    static const uint8_t spin[] = { 0x40, 0xEB, 0xFD };
    pair_load(p, spin, sizeof spin);
    X86Cpu *cpu = p->jit->cpu;
    cpu->rip = CODE;
    alarm(30);                          /* a lost request fails here, not hangs */
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, stopper, cpu), 0);
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_STOPPED);
    pthread_join(t, NULL);
    alarm(0);
    assert_true(cpu->jit_translated > 0);
    assert_true(cpu->instructions_retired > 10000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hot_loop_is_translated, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_no_writable_executable_mapping, pair_setup,
                                        pair_teardown),
        cmocka_unit_test_setup_teardown(test_segment_type_changes, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_stack_size_changes, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_page_end_into_mmio, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_stack_window_after_ss_load, pair_setup,
                                        pair_teardown),
        cmocka_unit_test_setup_teardown(test_stack_window_within_limit, pair_setup,
                                        pair_teardown),
        cmocka_unit_test_setup_teardown(test_interrupt_after_translated_loop, pair_setup,
                                        pair_teardown),
        cmocka_unit_test_setup_teardown(test_stop_request_in_chained_loop, pair_setup,
                                        pair_teardown),
        cmocka_unit_test_setup_teardown(test_inline_forms_match_handlers, pair_setup,
                                        pair_teardown),
        cmocka_unit_test_setup_teardown(test_masked_interrupt_waits_for_sti, pair_setup,
                                        pair_teardown),
        cmocka_unit_test_setup_teardown(test_masked_interrupt_waits_for_popf, pair_setup,
                                        pair_teardown),
        cmocka_unit_test_setup_teardown(test_masked_event_budget_and_window, pair_setup,
                                        pair_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
