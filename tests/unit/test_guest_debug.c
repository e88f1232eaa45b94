/* KVM_SET_GUEST_DEBUG through the KVM API (kvm_set_guest_debug2, via vm_set_guest_debug)
 * on every backend: instruction and data breakpoints in the debug registers, INT3 with
 * USE_SW_BP, the magic breakpoint, and what KVM_EXIT_DEBUG reports for each. The sim
 * backend implements them in its interpreter. On this host KVM runs real-mode code in its
 * instruction emulator, which checks instruction breakpoints but neither data breakpoints
 * nor USE_SW_BP: those cases run on sim and say so on kvm. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "backends.h"
#include "hypervisor_sim.h"

/* 0000:7C00: mov ax,0x1234; mov [0x7d00],ax; mov bx,[0x7d00]; xchg bx,bx; nop; hlt */
static const uint8_t code[] = {0xB8, 0x34, 0x12,             /* 7C00 */
                               0xA3, 0x00, 0x7D,             /* 7C03 */
                               0x8B, 0x1E, 0x00, 0x7D,       /* 7C06 */
                               0x87, 0xDB,                   /* 7C0A */
                               0x90,                         /* 7C0C */
                               0xF4};                        /* 7C0D */

#define DR7_L(i) (1ull << (2 * (i)))
#define DR7_RW(i, rw) ((uint64_t)(rw) << (16 + 4 * (i)))
#define DR7_LEN(i, len) ((uint64_t)(len) << (18 + 4 * (i)))
#define DR6_B(i) (1u << (i))

static SimpleVM *vm_for(HvBackend b)
{
    SimpleVM *svm = vm_create_backend(1, b);
    assert_non_null(svm);
    svm->serial->output_fd = -1;
    svm->debug_exit->console_fd = -1;
    assert_int_equal(vm_load_code(svm, code, sizeof(code), 0x7C00), 0);
    svm->vcpu->regs.rip = 0x7C00;
    return svm;
}

static uint64_t rip_of(SimpleVM *svm)
{
    KvmRegs r;
    assert_int_equal(kvm_get_regs(svm->vcpu, &r), 0);
    return r.rip;
}

static void test_instruction_breakpoint(void **state)
{
    SimpleVM *svm = vm_for(TEST_BACKEND(state));
    struct kvm_guest_debug dbg = {.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP};
    dbg.arch.debugreg[1] = 0x7C06;
    dbg.arch.debugreg[7] = DR7_L(1);
    assert_int_equal(vm_set_guest_debug(svm, &dbg), 0);
    vm_run(svm);
    assert_int_equal(svm->stop_reason, VM_STOP_DEBUG);
    assert_int_equal(svm->debug_event.exception, 1);          /* #DB */
    assert_true(svm->debug_event.dr6 & DR6_B(1));
    assert_int_equal(svm->debug_event.pc, 0x7C06);
    assert_int_equal(rip_of(svm), 0x7C06);                    /* before the instruction */
    /* A step from there executes it (the breakpoint is not reported again, as RF makes
     * x86 do), with the breakpoint still set. */
    assert_int_equal(vm_step(svm), 0);
    assert_int_equal(svm->stop_reason, VM_STOP_STEPPED);
    assert_int_equal(rip_of(svm), 0x7C0A);
    /* Back at it, a run goes on past it too. */
    svm->vcpu->regs.rip = 0x7C06;
    vm_run(svm);
    assert_int_equal(svm->stop_reason, VM_STOP_DEBUG);
    assert_int_equal(rip_of(svm), 0x7C06);
    vm_run(svm);
    assert_int_equal(svm->stop_reason, VM_STOP_HLT);
    assert_int_equal(svm->vcpu->regs.rbx & 0xFFFF, 0x1234);
    vm_destroy(svm);
}

/* A write watchpoint and a read/write watchpoint: reported after the instruction. */
static void test_data_breakpoints(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    if (b == HV_BACKEND_KVM) {
        printf("[ NOTE     ] data breakpoints: not checked on kvm, whose real mode here is "
               "KVM's instruction emulator (it never reports them)\n");
        return;
    }
    SimpleVM *svm = vm_for(b);
    struct kvm_guest_debug dbg = {.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP};
    dbg.arch.debugreg[2] = 0x7D00;
    dbg.arch.debugreg[7] = DR7_L(2) | DR7_RW(2, 1) | DR7_LEN(2, 1);   /* write, 2 bytes */
    assert_int_equal(vm_set_guest_debug(svm, &dbg), 0);
    vm_run(svm);
    assert_int_equal(svm->stop_reason, VM_STOP_DEBUG);
    assert_int_equal(svm->debug_event.exception, 1);
    assert_true(svm->debug_event.dr6 & DR6_B(2));
    assert_int_equal(rip_of(svm), 0x7C06);                    /* past the MOV that wrote */
    /* The read by the next MOV does not trigger a write watchpoint; RW=3 does. */
    dbg.arch.debugreg[7] = DR7_L(2) | DR7_RW(2, 3) | DR7_LEN(2, 1);
    assert_int_equal(vm_set_guest_debug(svm, &dbg), 0);
    vm_run(svm);
    assert_int_equal(svm->stop_reason, VM_STOP_DEBUG);
    assert_int_equal(rip_of(svm), 0x7C0A);                    /* past the MOV that read */
    assert_int_equal(svm->vcpu->regs.rbx & 0xFFFF, 0x1234);
    vm_run(svm);
    assert_int_equal(svm->stop_reason, VM_STOP_HLT);
    vm_destroy(svm);
}

/* USE_SW_BP: an INT3 written over an instruction exits with #BP and RIP at the INT3. */
static void test_int3(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    if (b == HV_BACKEND_KVM) {
        printf("[ NOTE     ] USE_SW_BP: not checked on kvm: its real-mode emulator here "
               "delivers INT3 to the guest\n");
        return;
    }
    SimpleVM *svm = vm_for(b);
    uint8_t *p = vm_guest_ram(svm, 0x7C0C, 1);
    *p = 0xCC;
    struct kvm_guest_debug dbg = {.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_SW_BP};
    assert_int_equal(vm_set_guest_debug(svm, &dbg), 0);
    vm_run(svm);
    assert_int_equal(svm->stop_reason, VM_STOP_DEBUG);
    assert_int_equal(svm->debug_event.exception, 3);
    assert_int_equal(svm->debug_event.pc, 0x7C0C);
    assert_int_equal(rip_of(svm), 0x7C0C);
    const VMCS *vmcs = kvm_vcpu_vmcs(svm->vcpu);
    assert_int_equal(vmcs->exit.reason & 0xFFFF, EXIT_REASON_EXCEPTION_NMI);
    assert_int_equal(vmcs->exit.interruption_info, 0x80000603u);   /* valid, sw exc, #BP */
    *p = 0x90;                            /* a pointer kept across a run: announce it */
    vm_guest_ram_written(svm, 0x7C0C, 1);
    vm_run(svm);
    assert_int_equal(svm->stop_reason, VM_STOP_HLT);
    vm_destroy(svm);
}

static void test_magic_break(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    SimpleVM *svm = vm_for(b);
    struct kvm_guest_debug dbg = {.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SIM_MAGIC_BREAK};
    if (b == HV_BACKEND_KVM) {
        assert_int_equal(vm_set_guest_debug(svm, &dbg), -EINVAL);   /* no such exit */
        vm_destroy(svm);
        return;
    }
    assert_int_equal(vm_set_guest_debug(svm, &dbg), 0);
    vm_run(svm);
    assert_int_equal(svm->stop_reason, VM_STOP_DEBUG);
    assert_int_equal(svm->debug_event.exception, KVM_DEBUG_EXCEPTION_MAGIC_BREAK);
    assert_int_equal(rip_of(svm), 0x7C0C);                    /* past the XCHG */
    vm_run(svm);
    assert_int_equal(svm->stop_reason, VM_STOP_HLT);
    vm_destroy(svm);
}

/* Single steps keep the breakpoints: a step onto nothing special is a step; the control
 * bits a kernel does not know are refused. */
static void test_step_with_breakpoints(void **state)
{
    SimpleVM *svm = vm_for(TEST_BACKEND(state));
    struct kvm_guest_debug dbg = {.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP};
    dbg.arch.debugreg[0] = 0x7C0D;
    dbg.arch.debugreg[7] = DR7_L(0);
    assert_int_equal(vm_set_guest_debug(svm, &dbg), 0);
    assert_int_equal(vm_step(svm), 0);
    assert_int_equal(svm->stop_reason, VM_STOP_STEPPED);
    assert_int_equal(rip_of(svm), 0x7C03);
    vm_run(svm);   /* the breakpoint is still there after the step */
    assert_int_equal(svm->stop_reason, VM_STOP_DEBUG);
    assert_int_equal(rip_of(svm), 0x7C0D);
    struct kvm_guest_debug bad = {.control = KVM_GUESTDBG_ENABLE | (1u << 29)};
    assert_int_equal(vm_set_guest_debug(svm, &bad), -EINVAL);
    vm_destroy(svm);
}

/* An instruction breakpoint on an MMIO read reports once: the read's completion re-executes
 * the instruction on sim, which must not hit the breakpoint again. */
static void test_breakpoint_on_mmio_read(void **state)
{
    /* mov ax,0xb800; mov ds,ax; mov al,[0]; hlt */
    static const uint8_t mmio[] = {0xB8, 0x00, 0xB8, 0x8E, 0xD8, 0xA0, 0x00, 0x00, 0xF4};
    SimpleVM *svm = vm_create_backend(1, TEST_BACKEND(state));
    assert_non_null(svm);
    svm->serial->output_fd = -1;
    assert_int_equal(vm_load_code(svm, mmio, sizeof(mmio), 0x7C00), 0);
    svm->vcpu->regs.rip = 0x7C00;
    struct kvm_guest_debug dbg = {.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP};
    dbg.arch.debugreg[3] = 0x7C05;
    dbg.arch.debugreg[7] = DR7_L(3);
    assert_int_equal(vm_set_guest_debug(svm, &dbg), 0);
    vm_run(svm);
    assert_int_equal(svm->stop_reason, VM_STOP_DEBUG);
    assert_int_equal(rip_of(svm), 0x7C05);
    vm_run(svm);
    assert_int_equal(svm->stop_reason, VM_STOP_HLT);
    assert_int_equal(svm->vcpu->regs.rax & 0xFF, ' ');   /* the cleared screen's blank */
    vm_destroy(svm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_instruction_breakpoint),
        cmocka_unit_test(test_data_breakpoints),
        cmocka_unit_test(test_int3),
        cmocka_unit_test(test_magic_break),
        cmocka_unit_test(test_step_with_breakpoints),
        cmocka_unit_test(test_breakpoint_on_mmio_read),
    };
    return RUN_ON_EVERY_BACKEND(tests);
}
