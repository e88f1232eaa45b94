/*
 * Unit tests of protected-mode segmentation, privilege, gates, tasks and virtual-8086
 * mode in the x86 interpreter: one rule per test (a descriptor check, a gate, a fault
 * class), each against the SDM's stated behaviour (Vol. 3A chapters 3, 5, 6, 7; Vol. 3B
 * chapter 20).
 *
 * Every test starts in flat 32-bit protected mode at CPL 0 with the GDT, IDT and TSS below;
 * each IDT vector points at its own HLT (ring 0), so a test sees which exception was
 * delivered from where the CPU halted, and its error code and frame on the ring-0 stack.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sim/cpu/cpu.h"

#define RAM_SIZE (1u << 20)
#define GDT 0x1000u
#define IDT 0x2000u
#define TSS1 0x3000u
#define TSS2 0x6000u
#define HANDLERS 0x8000u           /* vector v: HLT at HANDLERS + 16 * v */
#define STACK0 0xA000u             /* ring-0 stack top (TSS1.ESP0) */
#define STACK3 0xC000u             /* ring-3 stack top */
#define CODE 0x10000u
#define CODE0 0x11000u             /* ring-0 code reached through gates */
#define TASK_CODE 0x12000u
#define V86_CS 0x2000u             /* V86 code at linear 0x20000 */

/* Selectors of the GDT built by setup(). */
enum {
    SEL_CODE0 = 0x08, SEL_DATA0 = 0x10, SEL_CODE3 = 0x18, SEL_DATA3 = 0x20, SEL_TSS1 = 0x28,
    SEL_RODATA = 0x30, SEL_NOTPRESENT = 0x38, SEL_CALLGATE = 0x40, SEL_TSS2 = 0x48,
    SEL_EXPDOWN = 0x50, SEL_XONLY = 0x58, GDT_LIMIT = 0x5F,
};

#include "cpu_fixture.h"

static void put32(Fx *fx, uint32_t addr, uint32_t v) { memcpy(fx->ram + addr, &v, 4); }
static void put16(Fx *fx, uint32_t addr, uint16_t v) { memcpy(fx->ram + addr, &v, 2); }
static uint32_t get32(Fx *fx, uint32_t addr)
{
    uint32_t v;
    memcpy(&v, fx->ram + addr, 4);
    return v;
}

/* A code/data descriptor: base, 20-bit limit, access byte, flags nibble (G D/B L AVL). */
static void desc(Fx *fx, unsigned sel, uint32_t base, uint32_t limit, unsigned access,
                 unsigned flags)
{
    uint32_t lo = (limit & 0xFFFF) | (base << 16);
    uint32_t hi = ((base >> 16) & 0xFF) | (access << 8) | (limit & 0xF0000) |
                  (flags << 20) | (base & 0xFF000000u);
    put32(fx, GDT + sel, lo);
    put32(fx, GDT + sel + 4, hi);
}

/* A gate at `addr` (IDT entry or GDT call gate): type, DPL, selector, offset, count. */
static void gate(Fx *fx, uint32_t addr, unsigned type, unsigned dpl, uint16_t sel,
                 uint32_t off, unsigned count)
{
    put32(fx, addr, (off & 0xFFFF) | ((uint32_t)sel << 16));
    put32(fx, addr + 4, (off & 0xFFFF0000u) | 0x8000u | (dpl << 13) | (type << 8) | count);
}

static void seg(X86Segment *s, uint16_t sel, uint32_t base, uint32_t limit, uint32_t attr)
{
    *s = (X86Segment){ sel, base, limit, attr };
}

static int setup(void **state)
{
    Fx *fx = fx_create();
    if (!fx) return -1;
    desc(fx, SEL_CODE0, 0, 0xFFFFF, 0x9B, 0xC);
    desc(fx, SEL_DATA0, 0, 0xFFFFF, 0x93, 0xC);
    desc(fx, SEL_CODE3, 0, 0xFFFFF, 0xFB, 0xC);
    desc(fx, SEL_DATA3, 0, 0xFFFFF, 0xF3, 0xC);
    desc(fx, SEL_TSS1, TSS1, 0x68 + 8192, 0x8B, 0);       /* busy: TR */
    desc(fx, SEL_RODATA, 0, 0xFFFFF, 0x91, 0xC);
    desc(fx, SEL_NOTPRESENT, 0, 0xFFFFF, 0x13, 0xC);
    gate(fx, GDT + SEL_CALLGATE, 12, 3, SEL_CODE0, CODE0, 2);
    desc(fx, SEL_TSS2, TSS2, 0x67, 0x89, 0);
    desc(fx, SEL_EXPDOWN, 0, 0xFFF, 0x97, 0x4);             /* expand-down, B = 1 */
    desc(fx, SEL_XONLY, 0, 0xFFFFF, 0x99, 0xC);             /* execute-only code */
    for (unsigned v = 0; v < 256; v++) {
        gate(fx, IDT + 8 * v, 14, 0, SEL_CODE0, HANDLERS + 16 * v, 0);
        fx->ram[HANDLERS + 16 * v] = 0xF4;
    }
    put32(fx, TSS1 + 4, STACK0);
    put16(fx, TSS1 + 8, SEL_DATA0);
    put16(fx, TSS1 + 0x66, 0x68);                           /* I/O bitmap at 0x68 */
    fx->ram[TSS1 + 0x68 + 0x80 / 8] = 1u << (0x80 % 8);      /* port 0x80 denied */
    fx->ram[TSS1 + 0x68 + 8192] = 0xFF;

    X86Cpu *cpu = fx->cpu;
    cpu->cr0 = 0x60000011;
    seg(&cpu->cs, SEL_CODE0, 0, 0xFFFFFFFF, 0xC09B);
    for (int s = 0; s < 6; s++)
        if (s != X86_CS) seg(&cpu->seg[s], SEL_DATA0, 0, 0xFFFFFFFF, 0xC093);
    seg(&cpu->tr, SEL_TSS1, TSS1, 0x68 + 8192, 0x8B);
    seg(&cpu->ldtr, 0, 0, 0, 0x10000);
    cpu->gdtr = (X86DescTable){ GDT, GDT_LIMIT };
    cpu->idtr = (X86DescTable){ IDT, 256 * 8 - 1 };
    cpu->rip = CODE;
    cpu->gpr[X86_RSP] = STACK0;
    x86_cpu_tlb_flush(cpu);
    *state = fx;
    return 0;
}

static void load(Fx *fx, uint32_t addr, const uint8_t *code, size_t n)
{
    memcpy(fx->ram + addr, code, n);
    x86_cpu_invalidate_code(fx->cpu, addr, n);
}

/* Runs to a HLT and checks it is the handler of `vector` (RIP past its HLT). */
static void expect_vector(Fx *fx, int vector)
{
    assert_int_equal(x86_cpu_run(fx->cpu, 100000), X86_EXIT_HLT);
    assert_int_equal(fx->cpu->rip, HANDLERS + 16 * vector + 1);
    assert_int_equal(fx->cpu->cs.selector, SEL_CODE0);
}

/* The ring-0 stack word n (0 = top) at the handler. */
static uint32_t stack_word(Fx *fx, unsigned n)
{
    return get32(fx, (uint32_t)fx->cpu->gpr[X86_RSP] + 4 * n);
}

/* Drops to ring 3 (CS 0x1B, SS 0x23) at CODE with ESP = STACK3. */
static void ring3(Fx *fx)
{
    X86Cpu *cpu = fx->cpu;
    seg(&cpu->cs, SEL_CODE3 | 3, 0, 0xFFFFFFFF, 0xC0FB);
    for (int s = 0; s < 6; s++)
        if (s != X86_CS) seg(&cpu->seg[s], SEL_DATA3 | 3, 0, 0xFFFFFFFF, 0xC0F3);
    cpu->gpr[X86_RSP] = STACK3;
}

/* MOV DS with a not-present descriptor: #NP(selector), the fault's EIP at the MOV. */
static void test_load_not_present(void **state)
{
    Fx *fx = *state;
    static const uint8_t code[] = { 0x66, 0xB8, SEL_NOTPRESENT, 0, 0x8E, 0xD8, 0xF4 };
    load(fx, CODE, code, sizeof code);
    expect_vector(fx, 11);
    assert_int_equal(stack_word(fx, 0), SEL_NOTPRESENT);
    assert_int_equal(stack_word(fx, 1), CODE + 4);
    assert_int_equal(stack_word(fx, 2), SEL_CODE0);
    assert_int_equal(fx->cpu->ds.selector, SEL_DATA0);     /* unchanged */
}

/* A selector past the GDT limit: #GP(selector). */
static void test_load_past_limit(void **state)
{
    Fx *fx = *state;
    static const uint8_t code[] = { 0x66, 0xB8, 0xF8, 0x01, 0x8E, 0xC0, 0xF4 };
    load(fx, CODE, code, sizeof code);
    expect_vector(fx, 13);
    assert_int_equal(stack_word(fx, 0), 0x1F8);
}

/* SS with DPL 3 at CPL 0: #GP(selector); ES with an execute-only code segment: #GP. */
static void test_load_ss_privilege(void **state)
{
    Fx *fx = *state;
    static const uint8_t code[] = { 0x66, 0xB8, SEL_DATA3 | 3, 0, 0x8E, 0xD0, 0xF4 };
    load(fx, CODE, code, sizeof code);
    expect_vector(fx, 13);
    assert_int_equal(stack_word(fx, 0), SEL_DATA3);
}

static void test_load_execute_only(void **state)
{
    Fx *fx = *state;
    static const uint8_t code[] = { 0x66, 0xB8, SEL_XONLY, 0, 0x8E, 0xC0, 0xF4 };
    load(fx, CODE, code, sizeof code);
    expect_vector(fx, 13);
    assert_int_equal(stack_word(fx, 0), SEL_XONLY);
}

/* A null selector loads into DS; an access through it is #GP(0). */
static void test_null_segment_access(void **state)
{
    Fx *fx = *state;
    static const uint8_t code[] = {
        0x31, 0xC0,                    /* xor eax, eax */
        0x8E, 0xD8,                    /* mov ds, ax */
        0x8B, 0x00,                    /* mov eax, [eax] */
        0xF4,
    };
    load(fx, CODE, code, sizeof code);
    expect_vector(fx, 13);
    assert_int_equal(stack_word(fx, 0), 0);
    assert_int_equal(stack_word(fx, 1), CODE + 4);
}

/* A write through a read-only data segment is #GP(0); a read works. */
static void test_readonly_write(void **state)
{
    Fx *fx = *state;
    static const uint8_t code[] = {
        0x66, 0xB8, SEL_RODATA, 0,     /* mov ax, 0x30 */
        0x8E, 0xD8,                    /* mov ds, ax */
        0x8B, 0x1D, 0, 0x10, 0, 0,     /* mov ebx, [0x1000] */
        0x89, 0x1D, 0, 0x10, 0, 0,     /* mov [0x1000], ebx */
        0xF4,
    };
    load(fx, CODE, code, sizeof code);
    expect_vector(fx, 13);
    assert_int_equal(stack_word(fx, 0), 0);
    assert_int_equal(stack_word(fx, 1), CODE + 12);
    assert_int_equal((uint32_t)fx->cpu->gpr[X86_RBX], get32(fx, 0x1000));
}

/* Expand-down (SDM 3.4.5.1): offsets above the limit are valid, at or below it #GP(0). */
static void test_expand_down(void **state)
{
    Fx *fx = *state;
    static const uint8_t code[] = {
        0x66, 0xB8, SEL_EXPDOWN, 0,    /* mov ax, 0x50 */
        0x8E, 0xC0,                    /* mov es, ax */
        0x26, 0x8B, 0x1D, 0, 0x20, 0, 0,  /* mov ebx, es:[0x2000] (valid) */
        0x26, 0x8B, 0x1D, 0, 0x08, 0, 0,  /* mov ebx, es:[0x800] (below the limit) */
        0xF4,
    };
    load(fx, CODE, code, sizeof code);
    expect_vector(fx, 13);
    assert_int_equal(stack_word(fx, 1), CODE + 13);
}

/* INT n from ring 3 through a DPL-3 interrupt gate: the stack switches to SS0:ESP0 and
 * holds SS, ESP, EFLAGS, CS, EIP of ring 3; IF is cleared (SDM 6.12.1, Figure 6-4). */
static void test_int_stack_switch(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    gate(fx, IDT + 8 * 0x80, 14, 3, SEL_CODE0, HANDLERS + 16 * 0x80, 0);
    static const uint8_t code[] = { 0xCD, 0x80, 0xF4 };
    load(fx, CODE, code, sizeof code);
    ring3(fx);
    x86_cpu_set_rflags(cpu, 0x202);
    expect_vector(fx, 0x80);
    assert_int_equal(cpu->gpr[X86_RSP], STACK0 - 20);
    assert_int_equal(cpu->ss.selector, SEL_DATA0);
    assert_int_equal(stack_word(fx, 0), CODE + 2);
    assert_int_equal(stack_word(fx, 1), SEL_CODE3 | 3);
    assert_int_equal(stack_word(fx, 2) & 0x200, 0x200);
    assert_int_equal(stack_word(fx, 3), STACK3);
    assert_int_equal(stack_word(fx, 4), SEL_DATA3 | 3);
    assert_int_equal(x86_cpu_get_rflags(cpu) & 0x200, 0);
}

/* INT n through a gate with DPL < CPL: #GP(vector * 8 + 2) (IDT bit, no EXT). */
static void test_int_gate_dpl(void **state)
{
    Fx *fx = *state;
    static const uint8_t code[] = { 0xCD, 0x81, 0xF4 };
    load(fx, CODE, code, sizeof code);
    ring3(fx);
    expect_vector(fx, 13);
    assert_int_equal(stack_word(fx, 0), 0x81 * 8 + 2);
    assert_int_equal(stack_word(fx, 1), CODE);
}

/* IRET back to ring 3, where HLT is privileged: #GP(0) from ring 3. */
static void test_iret_to_ring3_then_hlt(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    static const uint8_t code[] = {
        0x6A, SEL_DATA3 | 3,           /* push ss */
        0x68, 0x00, 0xC0, 0, 0,        /* push STACK3 */
        0x6A, 0x02,                    /* push eflags */
        0x6A, SEL_CODE3 | 3,           /* push cs */
        0x68, 0x20, 0x00, 0x01, 0x00,  /* push CODE + 0x20 */
        0xCF,                          /* iret */
    };
    load(fx, CODE, code, sizeof code);
    static const uint8_t r3[] = { 0xB8, 0x33, 0, 0, 0, 0xF4 };   /* mov eax, 0x33; hlt */
    load(fx, CODE + 0x20, r3, sizeof r3);
    expect_vector(fx, 13);
    assert_int_equal(cpu->gpr[X86_RAX], 0x33);
    assert_int_equal(stack_word(fx, 0), 0);
    assert_int_equal(stack_word(fx, 1), CODE + 0x25);
    assert_int_equal(stack_word(fx, 2), SEL_CODE3 | 3);
    assert_int_equal(stack_word(fx, 4), STACK3);
}

/* CALL through a 32-bit call gate from ring 3 to ring 0 copies the gate's 2 parameters to
 * the new stack; RETF 8 returns to ring 3 and drops them from the old one (SDM 5.8.5). */
static void test_call_gate_params(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    static const uint8_t code[] = {
        0x6A, 0x11,                    /* push 0x11 */
        0x6A, 0x22,                    /* push 0x22 */
        0x9A, 0, 0, 0, 0, SEL_CALLGATE | 3, 0,   /* call 0x43:0 */
        0xB8, 0x55, 0, 0, 0,           /* mov eax, 0x55 */
        0xF4,                          /* hlt: #GP at ring 3 */
    };
    load(fx, CODE, code, sizeof code);
    static const uint8_t target[] = {
        0x8B, 0x5C, 0x24, 0x08,        /* mov ebx, [esp + 8] (first parameter) */
        0x8B, 0x4C, 0x24, 0x14,        /* mov ecx, [esp + 20] (old SS) */
        0xCA, 0x08, 0x00,              /* retf 8 */
    };
    load(fx, CODE0, target, sizeof target);
    ring3(fx);
    expect_vector(fx, 13);
    assert_int_equal(cpu->gpr[X86_RBX], 0x22);
    assert_int_equal(cpu->gpr[X86_RCX], SEL_DATA3 | 3);
    assert_int_equal(cpu->gpr[X86_RAX], 0x55);
    assert_int_equal(stack_word(fx, 1), CODE + 16);
    assert_int_equal(stack_word(fx, 4), STACK3);          /* both parameters dropped */
}

/* TSS2's task: ring-0 flat segments, EIP TASK_CODE, ESP 0x7000, EAX 0x5555. */
static void tss2_task(Fx *fx)
{
    put32(fx, TSS2 + 0x20, TASK_CODE);
    put32(fx, TSS2 + 0x24, 0x2);
    put32(fx, TSS2 + 0x28, 0x5555);                        /* EAX */
    put32(fx, TSS2 + 0x38, 0x7000);                        /* ESP */
    put16(fx, TSS2 + 0x48, SEL_DATA0);
    put16(fx, TSS2 + 0x4C, SEL_CODE0);
    put16(fx, TSS2 + 0x50, SEL_DATA0);
    put16(fx, TSS2 + 0x54, SEL_DATA0);
}

/* CALL to a TSS: the new task runs with its registers, NT set and the back link; its IRET
 * returns to the caller, clears the new task's busy bit and restores the caller's state
 * (SDM 7.3, 7.4). */
static void test_task_call_iret(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    tss2_task(fx);
    static const uint8_t code[] = {
        0xB8, 0x11, 0x11, 0, 0,        /* mov eax, 0x1111 */
        0x9A, 0, 0, 0, 0, SEL_TSS2, 0, /* call 0x48:0 */
        0xF4,
    };
    load(fx, CODE, code, sizeof code);
    static const uint8_t task[] = {
        0x89, 0xC3,                    /* mov ebx, eax */
        0x9C,                          /* pushfd */
        0x59,                          /* pop ecx */
        0xCF,                          /* iret */
    };
    load(fx, TASK_CODE, task, sizeof task);
    assert_int_equal(x86_cpu_run(cpu, 1000), X86_EXIT_HLT);
    assert_int_equal(cpu->rip, CODE + 13);
    assert_int_equal(cpu->gpr[X86_RAX], 0x1111);
    assert_int_equal(cpu->tr.selector, SEL_TSS1);
    assert_int_equal(get32(fx, TSS2 + 0x2C) & 0x4000, 0x4000);   /* ECX: NT was set */
    assert_int_equal(get32(fx, TSS2 + 0x34), 0x5555);             /* EBX saved */
    assert_int_equal(get32(fx, TSS2) & 0xFFFF, SEL_TSS1);         /* back link */
    assert_int_equal((fx->ram[GDT + SEL_TSS2 + 5] & 0xF), 9);     /* not busy */
    assert_int_equal((fx->ram[GDT + SEL_TSS1 + 5] & 0xF), 11);    /* busy */
    assert_true(cpu->cr0 & X86_CR0_TS);
    assert_int_equal(x86_cpu_get_rflags(cpu) & 0x4000, 0);
}

/* JMP to a TSS whose T bit is set: #DB (a trap, DR6.BT) once the switch is done, before
 * the new task's first instruction, which is the EIP it pushes (SDM Vol. 3A, 7.2.1). */
static void test_task_t_bit(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    tss2_task(fx);
    put16(fx, TSS2 + 0x64, 1);                             /* T */
    static const uint8_t code[] = { 0xEA, 0, 0, 0, 0, SEL_TSS2, 0 };   /* jmp 0x48:0 */
    load(fx, CODE, code, sizeof code);
    static const uint8_t task[] = { 0x40, 0xF4 };          /* inc eax; hlt */
    load(fx, TASK_CODE, task, sizeof task);
    expect_vector(fx, 1);
    assert_int_equal(cpu->tr.selector, SEL_TSS2);
    assert_int_equal(stack_word(fx, 0), TASK_CODE);        /* nothing of the task ran */
    assert_int_equal(cpu->gpr[X86_RAX], 0x5555);           /* the TSS's EAX, no INC */
    assert_true(cpu->dr[6] & X86_DR6_BT);
}

/* Exceptions during delivery: #GP while delivering #GP is #DF (error code 0); a fault
 * while delivering #DF is a triple fault (SDM 6.15, Table 6-5). */
static void test_double_fault(void **state)
{
    Fx *fx = *state;
    /* vector 13's gate not present: #NP while delivering #GP -> #DF */
    put32(fx, IDT + 8 * 13 + 4, get32(fx, IDT + 8 * 13 + 4) & ~0x8000u);
    static const uint8_t code[] = { 0x31, 0xC0, 0x8E, 0xD8, 0x8B, 0x00, 0xF4 };
    load(fx, CODE, code, sizeof code);
    expect_vector(fx, 8);
    assert_int_equal(stack_word(fx, 0), 0);
    assert_int_equal(stack_word(fx, 1), CODE + 4);
}

static void test_triple_fault(void **state)
{
    Fx *fx = *state;
    fx->cpu->idtr.limit = 8 * 8 - 1;        /* #GP and #DF are past the limit */
    static const uint8_t code[] = { 0x31, 0xC0, 0x8E, 0xD8, 0x8B, 0x00, 0xF4 };
    load(fx, CODE, code, sizeof code);
    assert_int_equal(x86_cpu_run(fx->cpu, 1000), X86_EXIT_TRIPLE_FAULT);
}

/* CPL 3 > IOPL 0: the TSS I/O bitmap decides: port 0x60 allowed (an exit), 0x80 #GP(0). */
static void test_io_bitmap(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    static const uint8_t code[] = { 0xE4, 0x60, 0xE6, 0x80, 0xF4 };
    load(fx, CODE, code, sizeof code);
    ring3(fx);
    assert_int_equal(x86_cpu_run(cpu, 1000), X86_EXIT_IO);
    assert_int_equal(cpu->exit.io.port, 0x60);
    x86_cpu_complete_io(cpu);
    expect_vector(fx, 13);
    assert_int_equal(stack_word(fx, 1), CODE + 2);
}

/* CLI at CPL 3 with IOPL 0: #GP(0); with IOPL 3 it clears IF. */
static void test_cli_iopl(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    static const uint8_t code[] = { 0xFA, 0xF4 };
    load(fx, CODE, code, sizeof code);
    ring3(fx);
    x86_cpu_set_rflags(cpu, 0x3202);
    expect_vector(fx, 13);             /* CLI ran (IOPL 3), then HLT at ring 3 faulted */
    assert_int_equal(stack_word(fx, 2) & 0x200, 0);
    assert_int_equal(stack_word(fx, 1), CODE + 1);
    ring3(fx);
    cpu->rip = CODE;
    x86_cpu_set_rflags(cpu, 0x0202);
    expect_vector(fx, 13);
    assert_int_equal(stack_word(fx, 1), CODE);
}

/* IRETD to virtual-8086 mode, where INT n with IOPL < 3 is #GP(0) into ring 0: the frame
 * holds GS, FS, DS, ES of V86 and the data segments are null in the handler (SDM 20.3). */
static void test_v86_int_gp(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    static const uint8_t code[] = {
        0x68, 0x44, 0x44, 0, 0,        /* push gs */
        0x68, 0x33, 0x33, 0, 0,        /* push fs */
        0x68, 0x22, 0x22, 0, 0,        /* push ds */
        0x68, 0x11, 0x11, 0, 0,        /* push es */
        0x68, 0x00, 0x30, 0, 0,        /* push ss = 0x3000 */
        0x68, 0x00, 0x10, 0, 0,        /* push esp = 0x1000 */
        0x68, 0x02, 0x00, 0x02, 0,     /* push eflags = VM | 2 */
        0x68, 0x00, 0x20, 0, 0,        /* push cs = 0x2000 */
        0x68, 0x00, 0x00, 0, 0,        /* push eip = 0 */
        0xCF,                          /* iretd */
    };
    load(fx, CODE, code, sizeof code);
    static const uint8_t v86[] = { 0x8C, 0xD8, 0xCD, 0x21 };   /* mov ax, ds; int 21h */
    load(fx, V86_CS << 4, v86, sizeof v86);
    expect_vector(fx, 13);
    assert_int_equal(cpu->gpr[X86_RAX] & 0xFFFF, 0x2222);
    assert_int_equal(stack_word(fx, 0), 0);                /* error code */
    assert_int_equal(stack_word(fx, 1), 2);                /* EIP of INT */
    assert_int_equal(stack_word(fx, 2), V86_CS);
    assert_int_equal(stack_word(fx, 3) & 0x20000, 0x20000);
    assert_int_equal(stack_word(fx, 4), 0x1000);
    assert_int_equal(stack_word(fx, 5), 0x3000);
    assert_int_equal(stack_word(fx, 6), 0x1111);
    assert_int_equal(stack_word(fx, 7), 0x2222);
    assert_int_equal(stack_word(fx, 8), 0x3333);
    assert_int_equal(stack_word(fx, 9), 0x4444);
    assert_int_equal(cpu->ds.attr & 0x10000, 0x10000);     /* unusable */
    assert_int_equal(x86_cpu_get_rflags(cpu) & 0x20000, 0);
}

/* LAR, LSL, VERR, VERW, ARPL on the test GDT (SDM Vol. 2A/2B). */
static void test_descriptor_instructions(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    static const uint8_t code[] = {
        0x66, 0xB9, SEL_RODATA, 0,     /* mov cx, 0x30 */
        0x0F, 0x02, 0xC1,              /* lar eax, ecx */
        0x0F, 0x03, 0xD9,              /* lsl ebx, ecx */
        0x0F, 0x00, 0xE9,              /* verw cx -> ZF = 0 */
        0x0F, 0x94, 0xC2,              /* sete dl */
        0x0F, 0x00, 0xE1,              /* verr cx -> ZF = 1 */
        0x0F, 0x94, 0xC6,              /* sete dh */
        0x66, 0xBE, 0x03, 0,           /* mov si, 3 */
        0x66, 0xBF, 0x10, 0,           /* mov di, 0x10 */
        0x66, 0x63, 0xF7,              /* arpl di, si -> di = 0x13, ZF = 1 */
        0xF4,
    };
    load(fx, CODE, code, sizeof code);
    assert_int_equal(x86_cpu_run(cpu, 1000), X86_EXIT_HLT);
    assert_int_equal(cpu->gpr[X86_RAX], 0x00CF9100);
    assert_int_equal(cpu->gpr[X86_RBX], 0xFFFFFFFF);
    assert_int_equal(cpu->gpr[X86_RDX] & 0xFFFF, 0x0100);
    assert_int_equal(cpu->gpr[X86_RDI] & 0xFFFF, 0x13);
    assert_true(x86_cpu_get_rflags(cpu) & 0x40);
}

/* Big real mode: after CR0.PE is cleared, a real-mode load of DS sets its base only and
 * keeps the 4 GiB limit loaded in protected mode (SDM Vol. 3A, 21.1.1), so 32-bit offsets
 * past 64 KiB work. */
static void test_unreal_mode(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    static const uint8_t code[] = {
        0x0F, 0x20, 0xC0,              /* mov eax, cr0 */
        0x24, 0xFE,                    /* and al, 0xFE */
        0x0F, 0x22, 0xC0,              /* mov cr0, eax: real mode, caches kept */
        0xEA, 0x10, 0x00, 0x00, 0x00, 0x00, 0x10,   /* jmp far 0x1000:0x0010 (ptr16:32) */
    };
    load(fx, CODE, code, sizeof code);
    static const uint8_t real[] = {
        0x31, 0xC0,                    /* xor ax, ax (32-bit CS kept: xor eax, eax) */
        0x8E, 0xD8,                    /* mov ds, ax */
        0xBB, 0x00, 0x00, 0x08, 0x00,  /* mov ebx, 0x80000 */
        0xC7, 0x03, 0x44, 0x33, 0x22, 0x11,   /* mov dword [ebx], 0x11223344 */
        0x8E, 0xC0,                    /* mov es, ax */
        0xF4,
    };
    load(fx, CODE + 0x10, real, sizeof real);
    assert_int_equal(x86_cpu_run(cpu, 100), X86_EXIT_HLT);
    assert_int_equal(cpu->cr0 & 1, 0);
    assert_int_equal(cpu->cs.base, 0x10000);
    assert_int_equal(cpu->ds.base, 0);
    assert_int_equal(cpu->ds.limit, 0xFFFFFFFF);
    assert_int_equal(get32(fx, 0x80000), 0x11223344);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_load_not_present, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_load_past_limit, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_load_ss_privilege, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_load_execute_only, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_null_segment_access, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_readonly_write, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_expand_down, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_int_stack_switch, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_int_gate_dpl, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_iret_to_ring3_then_hlt, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_call_gate_params, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_task_call_iret, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_task_t_bit, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_double_fault, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_triple_fault, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_io_bitmap, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_cli_iopl, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_v86_int_gp, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_descriptor_instructions, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_unreal_mode, setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
