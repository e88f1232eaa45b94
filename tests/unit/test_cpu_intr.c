/* The sim CPU's interrupt pins (src/sim/cpu/cpu.c): INTR sampled at instruction boundaries
 * with IF and the STI / MOV SS shadows (SDM Vol. 3A, 6.8.1-6.8.3), the interrupt-window
 * exit, NMI blocking until IRET, and HLT's activity state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim/cpu/cpu.h"

#define RAM_SIZE (1u << 20)
#define CODE 0x1000u
#define HANDLER 0x2000u
#define STACK 0x8000u

#include "cpu_fixture.h"

/* Real mode at CODE; vectors 2 and 0x20 lead to a HLT at HANDLER. */
static int setup(void **state)
{
    Fx *fx = fx_create_real(CODE, STACK);
    if (!fx) return -1;
    fx_real_vectors_to_hlt(fx, 256, HANDLER);
    *state = fx;
    return 0;
}

static void load(Fx *fx, const uint8_t *code, size_t n) { memcpy(fx->ram + CODE, code, n); }

/* The IP the interrupt pushed (the interrupted instruction's address). */
static uint16_t pushed_ip(Fx *fx)
{
    uint32_t sp = (uint32_t)fx->cpu->gpr[X86_RSP] & 0xFFFF;
    return (uint16_t)(fx->ram[sp] | fx->ram[sp + 1] << 8);
}

static void test_intr_waits_for_if_and_the_sti_shadow(void **state)
{
    Fx *fx = *state;
    /* nop; sti; nop; nop; hlt: taken after the nop that follows STI, not before. */
    static const uint8_t code[] = {0x90, 0xFB, 0x90, 0x90, 0xF4};
    load(fx, code, sizeof code);
    x86_cpu_set_intr(fx->cpu, 0x20);
    assert_int_equal(x86_cpu_run(fx->cpu, 0), X86_EXIT_HLT);
    assert_int_equal(fx->cpu->rip, HANDLER + 1);   /* the handler's HLT */
    assert_int_equal(pushed_ip(fx), CODE + 3);
    assert_int_equal(fx->cpu->intr_vector, -1);
    assert_int_equal(fx->cpu->activity_state, X86_ACTIVITY_HLT);
}

static void test_mov_ss_shadow(void **state)
{
    Fx *fx = *state;
    /* With IF=1: mov %ax,%ss; nop; hlt. The pin raised after MOV SS is taken only after
     * the NOP that MOV SS shadows (SDM Vol. 3A, 6.8.3). */
    static const uint8_t code[] = {0x8E, 0xD0, 0x90, 0xF4};
    load(fx, code, sizeof code);
    x86_cpu_set_rflags(fx->cpu, 0x202);
    assert_int_equal(x86_cpu_run(fx->cpu, 1), X86_EXIT_BUDGET);
    assert_int_equal(fx->cpu->interrupt_shadow & 2, 2);
    x86_cpu_set_intr(fx->cpu, 0x20);
    assert_int_equal(x86_cpu_run(fx->cpu, 0), X86_EXIT_HLT);
    assert_int_equal(fx->cpu->rip, HANDLER + 1);
    assert_int_equal(pushed_ip(fx), CODE + 3);
}

static void test_interrupt_window_exit(void **state)
{
    Fx *fx = *state;
    static const uint8_t code[] = {0x90, 0xFB, 0x90, 0x90, 0xF4};   /* IF=0 at first */
    load(fx, code, sizeof code);
    x86_cpu_request_irq_window(fx->cpu, true);
    assert_int_equal(x86_cpu_run(fx->cpu, 0), X86_EXIT_IRQ_WINDOW);
    assert_int_equal(fx->cpu->rip, CODE + 3);   /* after STI and its shadowed NOP */
    assert_true(x86_cpu_interruptible(fx->cpu));
    x86_cpu_request_irq_window(fx->cpu, false);
}

static void test_nmi_ignores_if_and_blocks_until_iret(void **state)
{
    Fx *fx = *state;
    static const uint8_t code[] = {0x90, 0x90, 0xF4};   /* IF=0 */
    load(fx, code, sizeof code);
    fx->ram[HANDLER] = 0x90;       /* nop */
    fx->ram[HANDLER + 1] = 0xCF;   /* iret */
    x86_cpu_set_nmi(fx->cpu);
    /* A budget of one: the delivery (not an instruction) and the handler's NOP. */
    assert_int_equal(x86_cpu_run(fx->cpu, 1), X86_EXIT_BUDGET);
    assert_true(fx->cpu->nmi_blocked);
    assert_int_equal(fx->cpu->rip, HANDLER + 1);
    x86_cpu_set_nmi(fx->cpu);                   /* a second NMI waits for the IRET */
    assert_int_equal(x86_cpu_run(fx->cpu, 1), X86_EXIT_BUDGET);
    assert_false(fx->cpu->nmi_blocked);
    assert_int_equal(fx->cpu->rip, CODE);
    assert_int_equal(x86_cpu_run(fx->cpu, 1), X86_EXIT_BUDGET);   /* now the second one */
    assert_int_equal(fx->cpu->rip, HANDLER + 1);
    assert_true(fx->cpu->nmi_blocked);
}

static void test_intr_delivery_faults_past_the_ivt_limit(void **state)
{
    Fx *fx = *state;
    static const uint8_t code[] = {0xFB, 0x90, 0xF4};
    load(fx, code, sizeof code);
    fx->cpu->idtr.limit = 0x3F;   /* 16 vectors: 0x20 is beyond, #GP (13) is within */
    x86_cpu_set_intr(fx->cpu, 0x20);
    assert_int_equal(x86_cpu_run(fx->cpu, 0), X86_EXIT_HLT);
    assert_int_equal(fx->cpu->rip, HANDLER + 1);   /* through vector 13 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_intr_waits_for_if_and_the_sti_shadow, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_mov_ss_shadow, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_interrupt_window_exit, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_nmi_ignores_if_and_blocks_until_iret, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_intr_delivery_faults_past_the_ivt_limit, setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
