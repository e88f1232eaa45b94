/*
 * Host writes to guest code on the sim backend (src/sim/kvm_sim.c, KvmVm.host_write_gen):
 * the sim backend keeps decoded blocks across KVM_RUNs and rechecks them against memory
 * only when the host may have written guest memory. A SimpleVM announces its writes (each
 * vm_guest_ram pointer, vm_guest_ram_written), a raw KVM API user does not and gets the
 * check at every run. Each test overwrites code that has run and must see the new code.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "hypervisor_sim.h"

#define CODE 0x1000u

/* mov $v, %al; hlt */
static void put_code(uint8_t *p, uint8_t v)
{
    p[0] = 0xB0;
    p[1] = v;
    p[2] = 0xF4;
}

static SimpleVM *sim_vm(void)
{
    SimpleVM *svm = vm_create_backend(1, HV_BACKEND_SIM);
    assert_non_null(svm);
    svm->serial->output_fd = -1;
    svm->debug_exit->console_fd = -1;
    return svm;
}

/* vm_load_code of `mov $v, %al; hlt` at CODE. */
static void load_mov_al(SimpleVM *svm, uint8_t v)
{
    uint8_t code[3];
    put_code(code, v);
    assert_int_equal(vm_load_code(svm, code, sizeof code, CODE), 0);
}

/* Runs CS:IP 0000:CODE to the HLT; returns AL. */
static unsigned run_al(SimpleVM *svm)
{
    svm->vcpu->regs.rip = CODE;
    assert_int_equal(vm_run(svm), 0);
    assert_int_equal(svm->stop_reason, VM_STOP_HLT);
    return (unsigned)(svm->vcpu->regs.rax & 0xFF);
}

/* Every way the VMM writes: vm_load_code, a fresh vm_guest_ram pointer, a kept pointer
 * announced with vm_guest_ram_written, svm->ram announced. */
static void test_simplevm_writes_are_seen(void **state)
{
    (void)state;
    SimpleVM *svm = sim_vm();
    load_mov_al(svm, 1);
    assert_int_equal(run_al(svm), 1);
    load_mov_al(svm, 2);
    assert_int_equal(run_al(svm), 2);
    uint8_t *p = vm_guest_ram(svm, CODE + 1, 1);
    *p = 3;
    assert_int_equal(run_al(svm), 3);
    *p = 4;                                   /* kept across a run: announced */
    vm_guest_ram_written(svm, CODE + 1, 1);
    assert_int_equal(run_al(svm), 4);
    svm->ram[CODE + 1] = 5;
    vm_guest_ram_written(svm, CODE + 1, 1);
    assert_int_equal(run_al(svm), 5);
    vm_destroy(svm);
}

/* The point of announcing: an exit after which the host wrote nothing costs no recheck.
 * Shown by the contract's other side: a write through svm->ram that is NOT announced is
 * not looked for, so the code decoded before it runs again; announcing it fixes that.
 * (If this starts failing because the new code runs, the sim backend is rechecking
 * blocks after every exit again.) */
static void test_unannounced_write_costs_nothing(void **state)
{
    (void)state;
    SimpleVM *svm = sim_vm();
    load_mov_al(svm, 1);
    assert_int_equal(run_al(svm), 1);
    assert_int_equal(run_al(svm), 1);         /* a run with no host write in between */
    svm->ram[CODE + 1] = 9;                   /* not announced */
    assert_int_equal(run_al(svm), 1);         /* the decoded block was not rechecked */
    vm_guest_ram_written(svm, CODE + 1, 1);
    assert_int_equal(run_al(svm), 9);
    vm_destroy(svm);
}

/* A raw KVM API user writes its own mapping between runs without telling anyone, as it
 * may with Linux KVM: the sim backend must see it at the next run. */
static void test_raw_api_writes_are_seen(void **state)
{
    (void)state;
    KvmDevice *kvm = kvm_open_backend(HV_BACKEND_SIM);
    assert_non_null(kvm);
    KvmVm *vm = kvm_create_vm(kvm);
    assert_non_null(vm);
    size_t size = 1u << 20;
    uint8_t *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(mem != MAP_FAILED);
    put_code(mem + CODE, 1);
    assert_int_equal(kvm_set_user_memory_region(vm, 0, 0, size, mem), 0);
    KvmVcpu *vcpu = kvm_create_vcpu(vm, 0);
    assert_non_null(vcpu);
    vcpu->sregs.cs.selector = 0;
    vcpu->sregs.cs.base = 0;
    for (uint8_t v = 1; v <= 3; v++) {
        put_code(mem + CODE, v);              /* straight into the mapping */
        KvmRegs regs;
        assert_int_equal(kvm_get_regs(vcpu, &regs), 0);
        regs.rip = CODE;
        assert_int_equal(kvm_set_regs(vcpu, &regs), 0);
        assert_int_equal(kvm_run(vcpu), 0);
        assert_int_equal(vcpu->kvm_run->exit_reason, KVM_EXIT_HLT);
        assert_int_equal(kvm_get_regs(vcpu, &regs), 0);
        assert_int_equal(regs.rax & 0xFF, v);
    }
    kvm_destroy_vcpu(vcpu);
    kvm_destroy_vm(vm);
    kvm_close(kvm);
    munmap(mem, size);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simplevm_writes_are_seen),
        cmocka_unit_test(test_unannounced_write_costs_nothing),
        cmocka_unit_test(test_raw_api_writes_are_seen),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
