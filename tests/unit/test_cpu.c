/*
 * Unit tests of the x86 interpreter (src/sim/cpu) for what the single-step conformance
 * tests do not cover: the exit protocol (I/O, MMIO, CPUID/MSR), stop and budget,
 * self-modifying code, triple fault, UNIMPLEMENTED exits, 32-bit addressing.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "sim/cpu/cpu.h"

#define RAM_SIZE (1u << 20)
#define MMIO_BASE 0xB8000u
#define MMIO_END 0xC0000u
#define CODE 0x1000u

#include "cpu_fixture.h"

static int setup(void **state)
{
    Fx *fx = fx_create_real(CODE, 0x8000);
    if (!fx) return -1;
    *state = fx;
    return 0;
}

static void load(Fx *fx, uint32_t addr, const uint8_t *code, size_t n)
{
    memcpy(fx->ram + addr, code, n);
    x86_cpu_invalidate_code(fx->cpu, addr, n);
}

static void test_out_and_in(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    static const uint8_t code[] = {
        0xB0, 0x42,             /* mov al, 42h */
        0xE6, 0x80,             /* out 80h, al */
        0xBA, 0xF8, 0x03,       /* mov dx, 3F8h */
        0xEC,                   /* in al, dx */
        0xF4,                   /* hlt */
    };
    load(fx, CODE, code, sizeof code);
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_IO);
    assert_int_equal(cpu->exit.io.port, 0x80);
    assert_int_equal(cpu->exit.io.size, 1);
    assert_false(cpu->exit.io.in);
    assert_true(cpu->exit.io.imm);
    assert_int_equal(cpu->exit.io.count, 1);
    assert_int_equal(cpu->exit.io.data[0], 0x42);
    assert_int_equal(cpu->rip, CODE + 2);            /* at the OUT */
    assert_int_equal(cpu->exit.insn_len, 2);
    x86_cpu_complete_io(cpu);
    assert_int_equal(cpu->rip, CODE + 4);
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_IO);
    assert_true(cpu->exit.io.in);
    assert_false(cpu->exit.io.imm);
    assert_int_equal(cpu->exit.io.port, 0x3F8);
    assert_int_equal(cpu->rip, CODE + 7);
    cpu->exit.io.data[0] = 0x5A;
    x86_cpu_complete_io(cpu);
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
    assert_int_equal(cpu->gpr[X86_RAX] & 0xFF, 0x5A);
    assert_int_equal(cpu->rip, CODE + 9);            /* past the HLT */
}

static void test_rep_outsb_insb(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    static const uint8_t code[] = {
        0xBE, 0x00, 0x30,       /* mov si, 3000h */
        0xB9, 0x05, 0x00,       /* mov cx, 5 */
        0xBA, 0xE9, 0x00,       /* mov dx, 0E9h */
        0xF3, 0x6E,             /* rep outsb */
        0xBF, 0x00, 0x40,       /* mov di, 4000h */
        0xB9, 0x03, 0x00,       /* mov cx, 3 */
        0xF3, 0x6C,             /* rep insb */
        0xF4,
    };
    load(fx, CODE, code, sizeof code);
    memcpy(fx->ram + 0x3000, "hello", 5);
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_IO);
    assert_true(cpu->exit.io.string);
    assert_true(cpu->exit.io.rep);
    assert_false(cpu->exit.io.in);
    assert_int_equal(cpu->exit.io.port, 0xE9);
    assert_int_equal(cpu->exit.io.count, 5);
    assert_memory_equal(cpu->exit.io.data, "hello", 5);
    assert_int_equal(cpu->rip, CODE + 9);
    x86_cpu_complete_io(cpu);
    assert_int_equal(cpu->gpr[X86_RSI] & 0xFFFF, 0x3005);
    assert_int_equal(cpu->gpr[X86_RCX] & 0xFFFF, 0);
    assert_int_equal(cpu->rip, CODE + 11);
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_IO);
    assert_true(cpu->exit.io.in);
    assert_int_equal(cpu->exit.io.count, 3);
    memcpy(cpu->exit.io.data, "abc", 3);
    x86_cpu_complete_io(cpu);
    assert_memory_equal(fx->ram + 0x4000, "abc", 3);
    assert_int_equal(cpu->gpr[X86_RDI] & 0xFFFF, 0x4003);
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
}

/* A REP INSB with more elements than fit before the end of the page: two exits. */
static void test_rep_insb_page_split(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    static const uint8_t code[] = {
        0xBF, 0xFE, 0x4F,       /* mov di, 4FFEh */
        0xB9, 0x04, 0x00,       /* mov cx, 4 */
        0xF3, 0x6C,             /* rep insb */
        0xF4,
    };
    load(fx, CODE, code, sizeof code);
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_IO);
    assert_int_equal(cpu->exit.io.count, 2);
    memcpy(cpu->exit.io.data, "AB", 2);
    x86_cpu_complete_io(cpu);
    assert_int_equal(cpu->rip, CODE + 6);            /* still at the REP INSB */
    assert_int_equal(cpu->gpr[X86_RCX] & 0xFFFF, 2);
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_IO);
    assert_int_equal(cpu->exit.io.count, 2);
    memcpy(cpu->exit.io.data, "CD", 2);
    x86_cpu_complete_io(cpu);
    assert_memory_equal(fx->ram + 0x4FFE, "ABCD", 4);
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
}

static void test_mmio(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    static const uint8_t code[] = {
        0xB8, 0x00, 0xB8,             /* mov ax, 0B800h */
        0x8E, 0xC0,                   /* mov es, ax */
        0xBB, 0x11, 0x11,             /* mov bx, 1111h */
        0x26, 0x8B, 0x1E, 0x00, 0x00, /* mov bx, [es:0] */
        0x26, 0xC7, 0x06, 0x02, 0x00, 0x78, 0x56, /* mov word [es:2], 5678h */
        0x26, 0x83, 0x06, 0x04, 0x00, 0x01,       /* add word [es:4], 1 */
        0xF4,
    };
    load(fx, CODE, code, sizeof code);
    /* read: exits at the instruction with no side effects */
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_MMIO);
    assert_false(cpu->exit.mmio.is_write);
    assert_int_equal(cpu->exit.mmio.gpa, 0xB8000);
    assert_int_equal(cpu->exit.mmio.size, 2);
    assert_int_equal(cpu->rip, CODE + 8);
    assert_int_equal(cpu->gpr[X86_RBX] & 0xFFFF, 0x1111);
    x86_cpu_complete_mmio(cpu, 0x1234);
    /* write: the instruction completes first */
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_MMIO);
    assert_int_equal(cpu->gpr[X86_RBX] & 0xFFFF, 0x1234);
    assert_true(cpu->exit.mmio.is_write);
    assert_int_equal(cpu->exit.mmio.gpa, 0xB8002);
    assert_int_equal(cpu->exit.mmio.size, 2);
    assert_int_equal(cpu->exit.mmio.data, 0x5678);
    assert_int_equal(cpu->rip, CODE + 20);
    /* read-modify-write: a read exit, then a write exit */
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_MMIO);
    assert_false(cpu->exit.mmio.is_write);
    assert_int_equal(cpu->exit.mmio.gpa, 0xB8004);
    assert_int_equal(cpu->rip, CODE + 20);
    x86_cpu_complete_mmio(cpu, 41);
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_MMIO);
    assert_true(cpu->exit.mmio.is_write);
    assert_int_equal(cpu->exit.mmio.data, 42);
    assert_int_equal(cpu->rip, CODE + 26);
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
}

/* REP STOSW to MMIO: one element per exit. */
static void test_rep_stos_mmio(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    static const uint8_t code[] = {
        0xB8, 0x00, 0xB8, 0x8E, 0xC0, /* mov ax, 0B800h; mov es, ax */
        0x31, 0xFF,                   /* xor di, di */
        0xB9, 0x03, 0x00,             /* mov cx, 3 */
        0xB8, 0x41, 0x07,             /* mov ax, 0741h */
        0xF3, 0xAB,                   /* rep stosw */
        0xF4,
    };
    load(fx, CODE, code, sizeof code);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_MMIO);
        assert_true(cpu->exit.mmio.is_write);
        assert_int_equal(cpu->exit.mmio.gpa, 0xB8000 + 2 * i);
        assert_int_equal(cpu->exit.mmio.data, 0x0741);
        assert_int_equal(cpu->rip, i < 2 ? CODE + 13 : CODE + 15);
    }
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
    assert_int_equal(cpu->gpr[X86_RCX] & 0xFFFF, 0);
}

/* PUSHA with the stack in MMIO: eight writes, reported one per run, the instruction
 * completed at the first. */
static void test_mmio_multiple_writes(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    static const uint8_t code[] = { 0x60, 0xF4 };   /* pusha */
    load(fx, CODE, code, sizeof code);
    x86_cpu_load_real_segment(cpu, X86_SS, 0xB800);
    cpu->gpr[X86_RSP] = 0x100;
    for (int r = 0; r < 8; r++) cpu->gpr[r] = r == X86_RSP ? 0x100 : 0x1000 + r;
    for (int i = 0; i < 8; i++) {
        assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_MMIO);
        assert_true(cpu->exit.mmio.is_write);
        assert_int_equal(cpu->exit.mmio.gpa, 0xB8000 + 0x100 - 2 * (i + 1));
        assert_int_equal(cpu->exit.mmio.data, i == X86_RSP ? 0x100 : 0x1000 + i);
        assert_int_equal(cpu->rip, CODE + 1);
        assert_int_equal(cpu->gpr[X86_RSP] & 0xFFFF, 0xF0);
    }
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
}

/* REP MOVSW from MMIO to RAM: one read exit per element, each completed by re-execution. */
static void test_rep_movs_from_mmio(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    static const uint8_t code[] = {
        0xB8, 0x00, 0xB8, 0x8E, 0xD8, /* mov ax, 0B800h; mov ds, ax */
        0x31, 0xF6,                   /* xor si, si */
        0xBF, 0x00, 0x30,             /* mov di, 3000h */
        0xB9, 0x03, 0x00,             /* mov cx, 3 */
        0xF3, 0xA5,                   /* rep movsw */
        0xF4,
    };
    load(fx, CODE, code, sizeof code);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_MMIO);
        assert_false(cpu->exit.mmio.is_write);
        assert_int_equal(cpu->exit.mmio.gpa, 0xB8000 + 2 * i);
        assert_int_equal(cpu->rip, CODE + 13);
        assert_int_equal(cpu->gpr[X86_RCX] & 0xFFFF, 3 - i);
        x86_cpu_complete_mmio(cpu, 0xA0 + i);
    }
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
    assert_int_equal(fx->ram[0x3000], 0xA0);
    assert_int_equal(fx->ram[0x3002], 0xA1);
    assert_int_equal(fx->ram[0x3004], 0xA2);
}

static void test_cpuid_msr(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    static const uint8_t code[] = {
        0x0F, 0xA2,             /* cpuid */
        0x0F, 0x32,             /* rdmsr */
        0x0F, 0x30,             /* wrmsr */
        0xF4,
    };
    load(fx, CODE, code, sizeof code);
    /* #GP handler for the injected fault: IVT[13] -> 0:2000 (hlt) */
    fx->ram[13 * 4] = 0x00; fx->ram[13 * 4 + 1] = 0x20;
    fx->ram[0x2000] = 0xF4;
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_CPUID);
    assert_int_equal(cpu->rip, CODE);
    assert_int_equal(cpu->exit.insn_len, 2);
    cpu->gpr[X86_RAX] = 0x12345678;
    x86_cpu_skip_instruction(cpu);
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_RDMSR);
    assert_int_equal(cpu->rip, CODE + 2);
    x86_cpu_skip_instruction(cpu);
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_WRMSR);
    assert_int_equal(cpu->rip, CODE + 4);
    assert_int_equal(x86_cpu_raise_exception(cpu, 13, true, 0), 0);
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
    assert_int_equal(cpu->rip, 0x2001);
    /* the pushed return address is the WRMSR (a fault) */
    assert_int_equal(fx->ram[0x8000 - 6] | fx->ram[0x8000 - 5] << 8, CODE + 4);
}

static void *stopper(void *arg)
{
    usleep(20000);
    x86_cpu_request_stop(arg);
    return NULL;
}

static void test_stop_and_budget(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    static const uint8_t code[] = { 0x40, 0xEB, 0xFD };   /* inc ax; jmp $-1 */
    load(fx, CODE, code, sizeof code);
    uint64_t before = cpu->instructions_retired;
    assert_int_equal(x86_cpu_run(cpu, 1000), X86_EXIT_BUDGET);
    assert_int_equal(cpu->instructions_retired - before, 1000);
    assert_int_equal(cpu->gpr[X86_RAX] & 0xFFFF, 500);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, stopper, cpu), 0);
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_STOPPED);
    pthread_join(t, NULL);
    /* the request is cleared when the run returns */
    assert_int_equal(x86_cpu_run(cpu, 10), X86_EXIT_BUDGET);
}

static void test_self_modifying_code(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    static const uint8_t code[] = {
        0xB0, 0x11,                         /* 1000: mov al, 11h */
        0xF4,                               /* 1002: hlt */
        /* 1003: patch the immediate of the instruction at 1000, then jump there */
        0xC6, 0x06, 0x01, 0x10, 0x77,       /* mov byte [1001h], 77h */
        0xEB, 0xF6,                         /* jmp 1000h */
        /* 100A: patch the next instruction in the same block */
        0xC6, 0x06, 0x10, 0x10, 0x55,       /* mov byte [1010h], 55h */
        0xB0, 0x22,                         /* 100F: mov al, 22h */
        0xF4,
    };
    load(fx, CODE, code, sizeof code);
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
    assert_int_equal(cpu->gpr[X86_RAX] & 0xFF, 0x11);
    cpu->rip = 0x1003;
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
    assert_int_equal(cpu->gpr[X86_RAX] & 0xFF, 0x77);
    cpu->rip = 0x100A;
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
    assert_int_equal(cpu->gpr[X86_RAX] & 0xFF, 0x55);
    /* the host writes code and says so */
    fx->ram[0x1001] = 0x99;
    x86_cpu_invalidate_code(cpu, 0x1001, 1);
    cpu->rip = 0x1000;
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
    assert_int_equal(cpu->gpr[X86_RAX] & 0xFF, 0x99);
}

/* A block goes on through a forward JMP or CALL (trace_target): a store into an
 * instruction after the JMP is still seen, and a store into the bytes it jumps over
 * (data) neither is lost nor changes what runs. */
static void test_self_modifying_code_trace(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    static const uint8_t code[] = {
        0xC6, 0x06, 0x0B, 0x10, 0x66,       /* 1000: mov byte [100Bh], 66h */
        0xEB, 0x03,                         /* 1005: jmp 100Ah */
        0x00, 0x00, 0x00,                   /* 1007: over these */
        0xB0, 0x22,                         /* 100A: mov al, 22h (patched above) */
        /* 100C: a loop that jumps over its counter and increments it */
        0xB9, 0x05, 0x00,                   /* mov cx, 5 */
        0xEB, 0x02,                         /* 100F: jmp 1013h */
        0x00, 0x00,                         /* 1011: the counter */
        0xFF, 0x06, 0x11, 0x10,             /* 1013: inc word [1011h] */
        0xE2, 0xF6,                         /* 1017: loop 100Fh */
        0xF4,                               /* 1019: hlt */
    };
    load(fx, CODE, code, sizeof code);
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
    assert_int_equal(cpu->gpr[X86_RAX] & 0xFF, 0x66);
    assert_int_equal(fx->ram[0x1011] | fx->ram[0x1012] << 8, 5);
    assert_int_equal(cpu->rip, 0x101A);
}

static void test_triple_fault(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    static const uint8_t code[] = { 0xCD, 0x21 };   /* int 21h */
    load(fx, CODE, code, sizeof code);
    cpu->idtr.limit = 0x1F;   /* vectors 0-7 only: #GP (13) and #DF (8) are past it */
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_TRIPLE_FAULT);
}

/* Vector 0x21 past the limit -> #GP -> handler (vector 13 within the limit). */
static void test_idt_limit_gp(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    static const uint8_t code[] = { 0xCD, 0x21 };
    load(fx, CODE, code, sizeof code);
    cpu->idtr.limit = 13 * 4 + 3;
    fx->ram[13 * 4] = 0x00; fx->ram[13 * 4 + 1] = 0x20;
    fx->ram[0x2000] = 0xF4;
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
    assert_int_equal(cpu->rip, 0x2001);
    assert_int_equal(fx->ram[0x8000 - 6] | fx->ram[0x8000 - 5] << 8, CODE);   /* fault */
}

static void test_unimplemented(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    static const uint8_t code[] = { 0x90, 0x0F, 0x0D, 0x08 };   /* nop; prefetchw (not modelled) */
    load(fx, CODE, code, sizeof code);
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_UNIMPLEMENTED);
    assert_int_equal(cpu->rip, CODE + 1);
    assert_int_equal(cpu->exit.unimpl.linear, CODE + 1);
    assert_true(cpu->exit.unimpl.len >= 2);
    assert_int_equal(cpu->exit.unimpl.bytes[0], 0x0F);
    assert_int_equal(cpu->exit.unimpl.bytes[1], 0x0D);
    assert_true(strlen(cpu->exit.unimpl.reason) > 0);
}

/* The x87 control/status subset: power-on CW 0040H; FNINIT gives CW 037FH, SW 0 (what
 * FPU probes and kvm-unit-tests' realmode check); FLDCW keeps bit 6 set and the reserved
 * bits clear; FNSTSW AX; FNCLEX; CR0.EM makes them #NM. */
static void test_x87_control_words(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    static const uint8_t code[] = {
        0xD9, 0x3E, 0x00, 0x30,   /* fnstcw [0x3000]: power-on value */
        0xDB, 0xE3,               /* fninit */
        0xDD, 0x3E, 0x02, 0x30,   /* fnstsw [0x3002] */
        0xD9, 0x3E, 0x04, 0x30,   /* fnstcw [0x3004] */
        0xD9, 0x2E, 0x10, 0x30,   /* fldcw [0x3010] (0xFFFF) */
        0xD9, 0x3E, 0x06, 0x30,   /* fnstcw [0x3006] */
        0xB8, 0x34, 0x12,         /* mov ax, 0x1234 */
        0xDB, 0xE2,               /* fnclex */
        0xDF, 0xE0,               /* fnstsw ax */
        0xF4,
    };
    load(fx, CODE, code, sizeof code);
    fx->ram[0x3010] = fx->ram[0x3011] = 0xFF;
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
    assert_int_equal(fx->ram[0x3000] | fx->ram[0x3001] << 8, 0x0040);
    assert_int_equal(fx->ram[0x3002] | fx->ram[0x3003] << 8, 0x0000);
    assert_int_equal(fx->ram[0x3004] | fx->ram[0x3005] << 8, 0x037F);
    assert_int_equal(fx->ram[0x3006] | fx->ram[0x3007] << 8, 0x1F7F);
    assert_int_equal(cpu->gpr[X86_RAX] & 0xFFFF, 0);

    static const uint8_t nm[] = { 0xDB, 0xE3 };   /* fninit with CR0.EM: #NM */
    load(fx, CODE, nm, sizeof nm);
    cpu->rip = CODE;
    cpu->cr0 |= X86_CR0_EM;
    fx->ram[7 * 4] = 0x00; fx->ram[7 * 4 + 1] = 0x20;   /* IVT[7] -> 0000:2000 */
    fx->ram[7 * 4 + 2] = fx->ram[7 * 4 + 3] = 0;
    fx->ram[0x2000] = 0xF4;
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
    assert_int_equal(cpu->rip, 0x2001);
}

/* Setting CR0.PE keeps running: the descriptor caches loaded in real mode stay valid
 * (CPL 0), so the next instructions run in 16-bit protected mode (SDM Vol. 3A, 10.9.1). */
static void test_protected_mode_entry(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    static const uint8_t code[] = {
        0x0F, 0x20, 0xC0,             /* mov eax, cr0 */
        0x66, 0x83, 0xC8, 0x01,       /* or eax, 1 */
        0x0F, 0x22, 0xC0,             /* mov cr0, eax */
        0x90,
        0xF4,                         /* hlt */
    };
    load(fx, CODE, code, sizeof code);
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
    assert_true(cpu->cr0 & X86_CR0_PE);
    assert_int_equal(cpu->rip, CODE + 12);
}

static void test_sib_addressing(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    static const uint8_t code[] = {
        0x67, 0x66, 0x8B, 0x44, 0xB3, 0x10,   /* mov eax, [ebx+esi*4+10h] */
        0x67, 0x66, 0x8D, 0x0C, 0x76,         /* lea ecx, [esi+esi*2] */
        0x67, 0x8B, 0x14, 0x25, 0x00, 0x60, 0x00, 0x00, /* mov dx, [6000h] (SIB, no base) */
        0x66, 0x0F, 0xB7, 0xFA,               /* movzx edi, dx */
        0xF4,
    };
    load(fx, CODE, code, sizeof code);
    cpu->gpr[X86_RBX] = 0x5000;
    cpu->gpr[X86_RSI] = 3;
    uint32_t v = 0xDEADBEEF;
    memcpy(fx->ram + 0x5000 + 12 + 0x10, &v, 4);
    fx->ram[0x6000] = 0x34; fx->ram[0x6001] = 0x12;
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
    assert_int_equal(cpu->gpr[X86_RAX], 0xDEADBEEF);
    assert_int_equal(cpu->gpr[X86_RCX], 9);
    assert_int_equal(cpu->gpr[X86_RDX] & 0xFFFF, 0x1234);
    assert_int_equal(cpu->gpr[X86_RDI], 0x1234);
}

/* An offset past the 64 KiB limit with 32-bit addressing is #GP in real mode. */
static void test_limit_fault_32bit(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    static const uint8_t code[] = { 0x67, 0x8B, 0x03, 0xF4 };   /* mov ax, [ebx] */
    load(fx, CODE, code, sizeof code);
    fx->ram[13 * 4] = 0x00; fx->ram[13 * 4 + 1] = 0x20;
    fx->ram[0x2000] = 0xF4;
    cpu->gpr[X86_RBX] = 0x10000;
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
    assert_int_equal(cpu->rip, 0x2001);
}

/* RFLAGS round trip with lazily computed flags. */
static void test_flags_materialize(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    static const uint8_t code[] = { 0xB0, 0xFF, 0x04, 0x01, 0xF4 };  /* mov al,FF; add al,1 */
    load(fx, CODE, code, sizeof code);
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
    uint64_t f = x86_cpu_get_rflags(cpu);
    assert_true(f & X86_FLAG_CF);
    assert_true(f & X86_FLAG_ZF);
    assert_true(f & X86_FLAG_AF);
    assert_true(f & X86_FLAG_PF);
    assert_false(f & X86_FLAG_SF);
    x86_cpu_set_rflags(cpu, 0x8D5);
    assert_int_equal(x86_cpu_get_rflags(cpu), 0x8D7);
}

static void test_reset_state(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    x86_cpu_reset(cpu);
    assert_int_equal(cpu->cs.selector, 0xF000);
    assert_int_equal(cpu->cs.base, 0xFFFF0000ull);
    assert_int_equal(cpu->rip, 0xFFF0);
    assert_int_equal(cpu->gpr[X86_RDX], 0x600);
    assert_int_equal(cpu->cr0, 0x60000010);
    assert_int_equal(x86_cpu_get_rflags(cpu), 2);
    assert_int_equal(cpu->idtr.limit, 0x3FF);
    assert_int_equal(cpu->gdtr.limit, 0xFFFF);
}

/* STI and MOV SS block interrupts for one instruction; the state is visible between runs
 * and kept when that instruction exits before completing. */
static void test_interrupt_shadow(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    static const uint8_t code[] = {
        0xFB,                   /* sti */
        0xE6, 0x80,             /* out 80h, al */
        0x8E, 0xD0,             /* mov ss, ax */
        0x90,                   /* nop */
        0xF4,
    };
    load(fx, CODE, code, sizeof code);
    cpu->gpr[X86_RAX] = 0;
    assert_int_equal(x86_cpu_run(cpu, 1), X86_EXIT_BUDGET);
    assert_int_equal(cpu->interrupt_shadow, 1);
    assert_true(x86_cpu_get_rflags(cpu) & X86_FLAG_IF);
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_IO);
    assert_int_equal(cpu->interrupt_shadow, 1);      /* the OUT has not completed */
    x86_cpu_complete_io(cpu);
    assert_int_equal(cpu->interrupt_shadow, 0);
    assert_int_equal(x86_cpu_run(cpu, 1), X86_EXIT_BUDGET);
    assert_int_equal(cpu->interrupt_shadow, 2);
    assert_int_equal(x86_cpu_run(cpu, 1), X86_EXIT_BUDGET);
    assert_int_equal(cpu->interrupt_shadow, 0);
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
}

/* 0x67: REP MOVSB with ESI/EDI/ECX; 0x66: 32-bit STOSD. */
static void test_string_32bit_addressing(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    static const uint8_t code[] = {
        0x67, 0xF3, 0xA4,       /* rep movsb (ESI, EDI, ECX) */
        0x66, 0xB8, 0x44, 0x33, 0x22, 0x11, /* mov eax, 11223344h */
        0x66, 0xAB,             /* stosd (DI) */
        0xF4,
    };
    load(fx, CODE, code, sizeof code);
    memcpy(fx->ram + 0x3000, "0123456789", 10);
    cpu->gpr[X86_RSI] = 0x3000;
    cpu->gpr[X86_RDI] = 0x4000;
    cpu->gpr[X86_RCX] = 10;
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
    assert_memory_equal(fx->ram + 0x4000, "0123456789", 10);
    assert_int_equal(cpu->gpr[X86_RSI], 0x300A);
    assert_int_equal(cpu->gpr[X86_RDI], 0x400E);
    assert_int_equal(cpu->gpr[X86_RCX], 0);
    assert_int_equal(fx->ram[0x400A] | fx->ram[0x400D] << 24, 0x11000044);
}

/* TF: a #DB trap after each instruction (SDM Vol. 3A, 18.3.1.4). */
static void test_single_step_trap(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    static const uint8_t code[] = { 0x40, 0x40, 0xF4 };   /* inc ax; inc ax; hlt */
    load(fx, CODE, code, sizeof code);
    fx->ram[1 * 4] = 0x00; fx->ram[1 * 4 + 1] = 0x20;       /* IVT[1] -> 0:2000 */
    fx->ram[0x2000] = 0xF4;
    x86_cpu_set_rflags(cpu, 0x102);
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
    assert_int_equal(cpu->rip, 0x2001);
    assert_int_equal(cpu->gpr[X86_RAX] & 0xFFFF, 1);        /* trapped after one inc */
    assert_int_equal(fx->ram[0x8000 - 6] | fx->ram[0x8000 - 5] << 8, CODE + 1);
    assert_false(x86_cpu_get_rflags(cpu) & X86_FLAG_TF);
    assert_true(cpu->dr[6] & X86_DR6_BS);                    /* DR6 says: single step */
}

/* DIV overflow and divide by zero: #DE, a fault (IP of the DIV). */
static void test_divide_error(void **state)
{
    Fx *fx = *state;
    X86Cpu *cpu = fx->cpu;
    static const uint8_t code[] = { 0x66, 0xF7, 0xF3, 0xF4 };   /* div ebx */
    load(fx, CODE, code, sizeof code);
    fx->ram[0] = 0x00; fx->ram[1] = 0x20;
    fx->ram[0x2000] = 0xF4;
    cpu->gpr[X86_RDX] = 5;
    cpu->gpr[X86_RAX] = 0;
    cpu->gpr[X86_RBX] = 5;    /* quotient 2^32: overflow */
    assert_int_equal(x86_cpu_run(cpu, 0), X86_EXIT_HLT);
    assert_int_equal(cpu->rip, 0x2001);
    assert_int_equal(fx->ram[0x8000 - 6] | fx->ram[0x8000 - 5] << 8, CODE);
    assert_int_equal(cpu->gpr[X86_RAX], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_out_and_in, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_rep_outsb_insb, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_rep_insb_page_split, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_mmio, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_rep_stos_mmio, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_mmio_multiple_writes, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_rep_movs_from_mmio, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_cpuid_msr, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_stop_and_budget, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_self_modifying_code, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_self_modifying_code_trace, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_triple_fault, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_idt_limit_gp, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_unimplemented, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_x87_control_words, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_protected_mode_entry, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_sib_addressing, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_limit_fault_32bit, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_flags_materialize, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_reset_state, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_interrupt_shadow, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_string_32bit_addressing, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_single_step_trap, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_divide_error, setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
