/* Unit tests for the KVM API layer (src/kvm): slots, the vCPU's initial state, the register
 * mirror, and exit semantics (I/O, string I/O, MMIO, HLT, kick), on every backend. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "backends.h"
#include "hypervisor_sim.h"

#define RAM_SIZE 0x10000   /* 64 KiB at 0: everything above is unbacked (MMIO) */
#define CODE_ADDR 0x1000

typedef struct {
    KvmDevice *kvm;
    KvmVm *vm;
    KvmVcpu *vcpu;
    uint8_t *ram;
} Machine;

/* A VM with 64 KiB of RAM at 0 holding `code` at CODE_ADDR, the vCPU at 0000:1000. */
static Machine machine(HvBackend b, const uint8_t *code, size_t size)
{
    Machine m = {0};
    m.kvm = kvm_open_backend(b);
    assert_non_null(m.kvm);
    m.vm = kvm_create_vm(m.kvm);
    assert_non_null(m.vm);
    assert_int_equal(kvm_set_user_memory_region(m.vm, 0, 0, RAM_SIZE, NULL), 0);
    m.ram = kvm_guest_ptr(m.vm, 0, RAM_SIZE);
    assert_non_null(m.ram);
    memcpy(m.ram + CODE_ADDR, code, size);
    m.vcpu = kvm_create_vcpu(m.vm, 0);
    assert_non_null(m.vcpu);
    m.vcpu->regs.rip = CODE_ADDR;
    return m;
}

static KvmRun *run(Machine *m)
{
    assert_int_equal(kvm_run(m->vcpu), 0);
    return m->vcpu->kvm_run;
}

static void test_open(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    KvmDevice *kvm = kvm_open_backend(b);
    assert_non_null(kvm);
    assert_int_equal(kvm->backend, b);
    assert_int_equal(kvm->api_version, 12);
    assert_true(kvm_check_extension(kvm, KVM_CAP_USER_MEMORY) > 0);
    assert_true(kvm->extensions[KVM_CAP_USER_MEMORY] > 0);
    kvm_close(kvm);
}

static void test_memory_slots(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    KvmDevice *kvm = kvm_open_backend(b);
    KvmVm *vm = kvm_create_vm(kvm);
    assert_non_null(vm);
    assert_int_equal(kvm_set_user_memory_region(vm, 0, 0x1000, 0x800, NULL), -EINVAL);
    assert_int_equal(kvm_set_user_memory_region(vm, 0, 0x800, 0x1000, NULL), -EINVAL);
    assert_int_equal(kvm_set_user_memory_region(vm, KVM_MAX_MEMORY_REGIONS, 0, 0x1000, NULL),
                     -EINVAL);
    assert_int_equal(kvm_set_user_memory_region_flags(vm, 0, 0x80, 0, 0x1000, NULL), -EINVAL);
    assert_int_equal(kvm_set_user_memory_region(vm, 0, 0, 0x4000, NULL), 0);
    assert_non_null(vm->guest_memory);
    assert_int_equal(vm->memory_size, 0x4000);
    assert_int_equal(vm->guest_memory[0x3FFF], 0);   /* the library's memory is zeroed */
    /* Overlaps are refused, neighbours accepted. */
    assert_int_equal(kvm_set_user_memory_region(vm, 1, 0x3000, 0x2000, NULL), -EEXIST);
    assert_int_equal(kvm_set_user_memory_region(vm, 1, 0x4000, 0x2000, NULL), 0);
    assert_int_equal(vm->num_regions, 2);
    /* A slot in use keeps its range. */
    assert_int_equal(kvm_set_user_memory_region(vm, 1, 0x8000, 0x2000, NULL), -EEXIST);
    uint8_t *p = kvm_guest_ptr(vm, 0x4000, 0x2000);
    assert_non_null(p);
    assert_ptr_equal(kvm_guest_ptr(vm, 0x4100, 0x10), p + 0x100);
    assert_null(kvm_guest_ptr(vm, 0x3FF0, 0x20));   /* spans two slots */
    assert_null(kvm_guest_ptr(vm, 0x6000, 1));
    assert_null(kvm_guest_ptr(vm, UINT64_MAX, 2));
    /* size 0 deletes. */
    assert_int_equal(kvm_set_user_memory_region(vm, 1, 0x4000, 0, NULL), 0);
    assert_int_equal(vm->num_regions, 1);
    assert_null(kvm_guest_ptr(vm, 0x4000, 1));
    assert_int_equal(kvm_set_user_memory_region(vm, 1, 0, 0, NULL), -ENOENT);
    /* The caller's own memory. */
    static uint8_t own[0x2000] __attribute__((aligned(4096)));
    assert_int_equal(kvm_set_user_memory_region(vm, 2, 0x10000, sizeof(own), own), 0);
    assert_ptr_equal(kvm_guest_ptr(vm, 0x10000, 1), own);
    kvm_close(kvm);
}

static void test_initial_vcpu_state(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    Machine m = machine(b, (const uint8_t[]){0xF4}, 1);
    KvmRegs regs;
    KvmSregs sregs;
    m.vcpu->regs.rip = 0x7C00;   /* undo machine()'s start address */
    assert_int_equal(kvm_get_regs(m.vcpu, &regs), 0);
    assert_int_equal(kvm_get_sregs(m.vcpu, &sregs), 0);
    assert_int_equal(regs.rip, 0x7C00);
    assert_int_equal(regs.rflags, 0x2);
    assert_int_equal(sregs.cr0 & 1, 0);   /* real mode */
    const KvmSegment *segs[] = {&sregs.cs, &sregs.ds, &sregs.es, &sregs.fs, &sregs.gs, &sregs.ss};
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(segs[i]->selector, 0);
        assert_int_equal(segs[i]->base, 0);
        assert_int_equal(segs[i]->limit, 0xFFFF);
    }
    kvm_close(m.kvm);
}

/* mov $0x1234,%dx; out %al,%dx; mov $0x1234,%bx; hlt */
static const uint8_t out_then_hlt[] = {0xBA, 0x34, 0x12, 0xEE, 0xBB, 0x34, 0x12, 0xF4};

static void test_out_exit_and_register_mirror(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    Machine m = machine(b, out_then_hlt, sizeof(out_then_hlt));
    m.vcpu->regs.rax = 0x55;   /* written into the mirror, loaded at entry */
    KvmRun *r = run(&m);
    assert_int_equal(r->exit_reason, KVM_EXIT_IO);
    assert_int_equal(r->io.direction, KVM_EXIT_IO_OUT);
    assert_int_equal(r->io.port, 0x1234);
    assert_int_equal(r->io.size, 1);
    assert_int_equal(r->io.count, 1);
    assert_int_equal(((uint8_t *)r + r->io.data_offset)[0], 0x55);
    assert_int_equal(m.vcpu->regs.rdx & 0xFFFF, 0x1234);
    r = run(&m);
    assert_int_equal(r->exit_reason, KVM_EXIT_HLT);
    assert_int_equal(m.vcpu->regs.rbx & 0xFFFF, 0x1234);
    assert_int_equal(m.vcpu->regs.rip, CODE_ADDR + sizeof(out_then_hlt));
    KvmRegs regs;
    assert_int_equal(kvm_get_regs(m.vcpu, &regs), 0);
    assert_memory_equal(&regs, &m.vcpu->regs, sizeof(regs));
    kvm_close(m.kvm);
}

static void test_in_completed_by_next_run(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    /* mov $0x1234,%dx; in %dx,%ax; mov %ax,%bx; hlt */
    static const uint8_t code[] = {0xBA, 0x34, 0x12, 0xED, 0x89, 0xC3, 0xF4};
    Machine m = machine(b, code, sizeof(code));
    KvmRun *r = run(&m);
    assert_int_equal(r->exit_reason, KVM_EXIT_IO);
    assert_int_equal(r->io.direction, KVM_EXIT_IO_IN);
    assert_int_equal(r->io.size, 2);
    uint16_t v = 0xBEEF;
    memcpy((uint8_t *)r + r->io.data_offset, &v, 2);
    r = run(&m);
    assert_int_equal(r->exit_reason, KVM_EXIT_HLT);
    assert_int_equal(m.vcpu->regs.rbx & 0xFFFF, 0xBEEF);
    kvm_close(m.kvm);
}

static void test_string_out_with_count(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    /* mov $0x1234,%dx; mov $0x1010,%si; mov $5,%cx; cld; rep outsb; hlt; "ABCDE" at 0x1010 */
    static const uint8_t code[] = {0xBA, 0x34, 0x12, 0xBE, 0x10, 0x10, 0xB9, 0x05,
                                   0x00, 0xFC, 0xF3, 0x6E, 0xF4};
    Machine m = machine(b, code, sizeof(code));
    memcpy(m.ram + 0x1010, "ABCDE", 5);
    char seen[8] = "";
    size_t n = 0;
    KvmRun *r;
    for (r = run(&m); r->exit_reason == KVM_EXIT_IO; r = run(&m)) {
        assert_int_equal(r->io.direction, KVM_EXIT_IO_OUT);
        assert_int_equal(r->io.size, 1);
        assert_true(r->io.count >= 1 && n + r->io.count <= 5);
        memcpy(seen + n, (uint8_t *)r + r->io.data_offset, r->io.count);
        n += r->io.count;
    }
    assert_int_equal(r->exit_reason, KVM_EXIT_HLT);
    assert_string_equal(seen, "ABCDE");
    assert_int_equal(m.vcpu->regs.rcx & 0xFFFF, 0);
    assert_int_equal(m.vcpu->regs.rsi & 0xFFFF, 0x1015);
    kvm_close(m.kvm);
}

static void test_mmio_write_then_read(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    /* mov $0x2000,%ax; mov %ax,%ds; movw $0xbeef,(0x10); mov (0x20),%cx; hlt */
    static const uint8_t code[] = {0xB8, 0x00, 0x20, 0x8E, 0xD8, 0xC7, 0x06, 0x10, 0x00,
                                   0xEF, 0xBE, 0x8B, 0x0E, 0x20, 0x00, 0xF4};
    Machine m = machine(b, code, sizeof(code));
    KvmRun *r = run(&m);
    assert_int_equal(r->exit_reason, KVM_EXIT_MMIO);
    assert_true(r->mmio.is_write);
    assert_int_equal(r->mmio.phys_addr, 0x20010);
    assert_int_equal(r->mmio.len, 2);
    assert_int_equal(r->mmio.data[0], 0xEF);
    assert_int_equal(r->mmio.data[1], 0xBE);
    r = run(&m);
    assert_int_equal(r->exit_reason, KVM_EXIT_MMIO);
    assert_false(r->mmio.is_write);
    assert_int_equal(r->mmio.phys_addr, 0x20020);
    assert_int_equal(r->mmio.len, 2);
    r->mmio.data[0] = 0x34;
    r->mmio.data[1] = 0x12;
    r = run(&m);
    assert_int_equal(r->exit_reason, KVM_EXIT_HLT);
    assert_int_equal(m.vcpu->regs.rcx & 0xFFFF, 0x1234);
    kvm_close(m.kvm);
}

/* A KVM_RUN with immediate_exit set still completes a pending MMIO read, as Linux does
 * (api.rst): the value is in CX and RIP past the instruction, and nothing else ran. */
static void test_mmio_read_completed_by_immediate_exit(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    /* mov $0x2000,%ax; mov %ax,%ds; movw $0xbeef,(0x10); mov (0x20),%cx; hlt */
    static const uint8_t code[] = {0xB8, 0x00, 0x20, 0x8E, 0xD8, 0xC7, 0x06, 0x10, 0x00,
                                   0xEF, 0xBE, 0x8B, 0x0E, 0x20, 0x00, 0xF4};
    Machine m = machine(b, code, sizeof(code));
    KvmRun *r = run(&m);
    assert_int_equal(r->exit_reason, KVM_EXIT_MMIO);   /* the write */
    r = run(&m);
    assert_int_equal(r->exit_reason, KVM_EXIT_MMIO);
    assert_false(r->mmio.is_write);
    r->mmio.data[0] = 0x34;
    r->mmio.data[1] = 0x12;
    r->immediate_exit = 1;
    r = run(&m);
    assert_int_equal(r->exit_reason, KVM_EXIT_INTR);
    assert_int_equal(m.vcpu->regs.rcx & 0xFFFF, 0x1234);
    assert_int_equal(m.vcpu->regs.rip, CODE_ADDR + 15);   /* at the HLT, not past it */
    r->immediate_exit = 0;
    assert_int_equal(run(&m)->exit_reason, KVM_EXIT_HLT);
    assert_int_equal(m.vcpu->regs.rcx & 0xFFFF, 0x1234);
    kvm_close(m.kvm);
}

static void test_immediate_exit(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    Machine m = machine(b, out_then_hlt, sizeof(out_then_hlt));
    m.vcpu->kvm_run->immediate_exit = 1;
    KvmRun *r = run(&m);
    assert_int_equal(r->exit_reason, KVM_EXIT_INTR);
    assert_int_equal(m.vcpu->regs.rip, CODE_ADDR);   /* nothing ran */
    r->immediate_exit = 0;
    assert_int_equal(run(&m)->exit_reason, KVM_EXIT_IO);
    kvm_close(m.kvm);
}

static void *kick_later(void *arg)
{
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
    kvm_vcpu_kick(arg);
    return NULL;
}

/* A guest spinning in `jmp .` makes no exits; a kick from another thread still ends the run. */
static void test_kick_stops_spinning_guest(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    Machine m = machine(b, (const uint8_t[]){0xEB, 0xFE}, 2);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, kick_later, m.vcpu), 0);
    KvmRun *r = run(&m);
    pthread_join(t, NULL);
    assert_int_equal(r->exit_reason, KVM_EXIT_INTR);
    assert_int_equal(m.vcpu->regs.rip, CODE_ADDR);   /* state as of the stop: in the loop */
    /* immediate_exit stays set until the caller clears it. */
    assert_int_equal(run(&m)->exit_reason, KVM_EXIT_INTR);
    kvm_close(m.kvm);
}

/* VM entry checks the guest state as the SDM's entry checks do (Vol. 3C, 27.3.1): a CS
 * of type 1 (read-only data) cannot be entered, even with "unrestricted guest". The
 * checks under test are the software backend's; KVM's are the host's and vary with it. */
static void test_invalid_guest_state_fails_entry(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    if (b != HV_BACKEND_SIM)
        skip_because("the entry checks tested are the sim backend's; KVM's are the host's");
    Machine m = machine(b, out_then_hlt, sizeof(out_then_hlt));
    m.vcpu->sregs.cs.type = 1;
    KvmRun *r = run(&m);
    assert_int_equal(r->exit_reason, KVM_EXIT_FAIL_ENTRY);
    /* Basic exit reason 33 with bit 31, "VM-entry failure" (SDM Vol. 3C, 28.2.1). */
    assert_int_equal(r->fail_entry.hardware_entry_failure_reason, 0x80000021);
    const VMCS *vmcs = kvm_vcpu_vmcs(m.vcpu);
    assert_non_null(vmcs);
    assert_int_equal(vmcs->exit.reason, 0x80000021);
    assert_non_null(strstr(kvm_vcpu_exit_note(m.vcpu), "CS"));
    assert_int_equal(m.vcpu->regs.rip, CODE_ADDR);   /* nothing ran */
    /* A valid CS enters again. */
    m.vcpu->sregs.cs.type = 3;
    assert_int_equal(run(&m)->exit_reason, KVM_EXIT_IO);
    kvm_close(m.kvm);
}

static KvmSegment flat_segment(uint16_t sel, uint8_t type)
{
    return (KvmSegment){.base = 0, .limit = 0xFFFFFFFF, .selector = sel, .type = type,
                        .present = 1, .dpl = 0, .db = 1, .s = 1, .l = 0, .g = 1};
}

/* KVM_SET_SREGS with flat 32-bit protected mode (as a loader entering a 32-bit kernel
 * sets it): the entry checks accept it and the guest runs 32-bit code at once. */
static void test_protected_mode_sregs(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    static const uint8_t code32[] = {
        0xBA, 0x34, 0x12, 0x00, 0x00,   /* mov edx, 0x1234 */
        0xB8, 0x78, 0x56, 0x34, 0x12,   /* mov eax, 0x12345678 (a 32-bit immediate) */
        0xEE,                           /* out dx, al */
        0xF4,                           /* hlt */
    };
    Machine m = machine(b, code32, sizeof(code32));
    KvmSregs *sr = &m.vcpu->sregs;
    sr->cr0 |= 1;
    sr->cs = flat_segment(0x08, 0xB);
    sr->ds = sr->es = sr->fs = sr->gs = sr->ss = flat_segment(0x10, 0x3);
    sr->tr = (KvmSegment){.base = 0x2000, .limit = 0x67, .selector = 0x18, .type = 11,
                          .present = 1};
    m.vcpu->regs.rflags = 2;
    KvmRun *r = run(&m);
    if (b == HV_BACKEND_KVM && r->exit_reason == KVM_EXIT_INTERNAL_ERROR) {
        printf("[ SKIPPED  ] protected mode on kvm: this host's KVM stops with an internal "
               "error (suberror %u)\n", r->internal.suberror);
        kvm_close(m.kvm);
        skip();
    }
    assert_int_equal(r->exit_reason, KVM_EXIT_IO);
    assert_int_equal(r->io.port, 0x1234);
    assert_int_equal(((uint8_t *)r + r->io.data_offset)[0], 0x78);
    assert_int_equal(run(&m)->exit_reason, KVM_EXIT_HLT);
    assert_int_equal(m.vcpu->regs.rip, CODE_ADDR + sizeof(code32));
    assert_int_equal(m.vcpu->regs.rax, 0x12345678);
    assert_int_equal(m.vcpu->sregs.cs.db, 1);
    kvm_close(m.kvm);
}

/* Each exit leaves the VMX view of it in the VMCS (software backend). */
static void test_vmcs_records_exits(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    Machine m = machine(b, out_then_hlt, sizeof(out_then_hlt));
    const VMCS *vmcs = kvm_vcpu_vmcs(m.vcpu);
    if (b != HV_BACKEND_SIM) {
        assert_null(vmcs);   /* KVM's VMCS is not visible from user space */
        kvm_close(m.kvm);
        return;
    }
    KvmRun *r = run(&m);
    assert_int_equal(r->exit_reason, KVM_EXIT_IO);
    assert_int_equal(vmcs->exit.reason, EXIT_REASON_IO_INSTRUCTION);
    assert_int_equal(vmcs->exit.qualification, 0x12340000);   /* out %al,(%dx): size 1 */
    assert_int_equal(vmcs->exit.instruction_length, 1);
    assert_int_equal(vmcs->guest.rip, CODE_ADDR + 3);
    uint64_t v = 0;
    assert_int_equal(vmcs_read(vmcs, 0x4402 /* EXIT_REASON */, &v), 0);
    assert_int_equal(v, EXIT_REASON_IO_INSTRUCTION);
    assert_int_equal(vmcs_read(vmcs, 0x681E /* GUEST_RIP */, &v), 0);
    assert_int_equal(v, CODE_ADDR + 3);
    /* The seed's flat view follows every exit. */
    assert_int_equal(vmcs->exit_reason, EXIT_REASON_IO_INSTRUCTION);
    assert_int_equal(vmcs->exit_qualification, 0x12340000);
    assert_int_equal(vmcs->guest_rip, CODE_ADDR + 3);
    assert_int_equal(vmcs->guest_cs, vmcs->guest.cs.selector);
    assert_int_equal(vmcs->guest_cs_base, vmcs->guest.cs.base);
    assert_int_equal(vmcs->guest_ss, vmcs->guest.ss.selector);
    assert_int_equal(vmcs->guest_cr0, vmcs->guest.cr0);
    assert_int_equal(vmcs->guest_rflags, vmcs->guest.rflags);
    assert_int_equal(vmcs->proc_based_controls, vmcs->control.cpu_based);
    assert_int_equal(vmcs->proc_based_controls2, vmcs->control.secondary);
    assert_int_equal(vmcs->pin_based_controls, vmcs->control.pin_based);
    assert_int_equal(vmcs->exit_controls, vmcs->control.exit_controls);
    assert_int_equal(vmcs->entry_controls, vmcs->control.entry_controls);
    assert_true(vmcs->ept_pointer != 0);
    assert_int_equal(vmcs->ept_pointer, vmcs->control.ept_pointer);
    assert_int_equal(vmcs->host_cr3, vmcs->host.cr3);
    r = run(&m);
    assert_int_equal(r->exit_reason, KVM_EXIT_HLT);
    assert_int_equal(vmcs->exit.reason, EXIT_REASON_HLT);
    assert_int_equal(vmcs->exit.instruction_length, 1);
    assert_int_equal(vmcs->exit_reason, EXIT_REASON_HLT);
    assert_int_equal(vmcs->exit_qualification, 0);
    assert_int_equal(vmcs->guest_rip, vmcs->guest.rip);
    kvm_close(m.kvm);
}

/* Dirty-page logging with KVM_GET_DIRTY_LOG semantics on every backend: one bit per 4 KiB
 * page the guest wrote since the last call, returned and cleared. The first round after
 * logging starts must already hold the guest's writes (see hw_set_memory_region). */
static void test_dirty_log(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    KvmDevice *kvm = kvm_open_backend(b);
    KvmVm *vm = kvm_create_vm(kvm);
    assert_int_equal(kvm_set_user_memory_region_flags(vm, 0, KVM_MEM_LOG_DIRTY_PAGES, 0,
                                                      RAM_SIZE, NULL), 0);
    uint8_t *ram = kvm_guest_ptr(vm, 0, RAM_SIZE);
    /* 1000: mov %ax,(0x2000); mov %ax,(0x5000); mov %ax,(0x7008); hlt
     * 1100: mov %ax,(0x3ffe); hlt   -- a word at the end of page 3 */
    static const uint8_t round1[] = {0xA3, 0x00, 0x20, 0xA3, 0x00, 0x50, 0xA3, 0x08, 0x70, 0xF4};
    static const uint8_t round2[] = {0xA3, 0xFE, 0x3F, 0xF4};
    memcpy(ram + 0x1000, round1, sizeof(round1));
    memcpy(ram + 0x1100, round2, sizeof(round2));
    KvmVcpu *vcpu = kvm_create_vcpu(vm, 0);
    vcpu->regs.rip = 0x1000;
    vcpu->regs.rax = 0xBEEF;
    uint64_t bitmap[1];
    assert_int_equal(kvm_run(vcpu), 0);
    assert_int_equal(vcpu->kvm_run->exit_reason, KVM_EXIT_HLT);
    assert_int_equal(kvm_get_dirty_log(vm, 0, bitmap), 0);
    assert_int_equal(bitmap[0], (1u << 2) | (1u << 5) | (1u << 7));
    assert_int_equal(ram[0x5001], 0xBE);   /* the writes happened */
    assert_int_equal(kvm_get_dirty_log(vm, 0, bitmap), 0);
    assert_int_equal(bitmap[0], 0);        /* read and cleared */
    vcpu->regs.rip = 0x1100;
    assert_int_equal(kvm_run(vcpu), 0);
    assert_int_equal(vcpu->kvm_run->exit_reason, KVM_EXIT_HLT);
    assert_int_equal(kvm_get_dirty_log(vm, 0, bitmap), 0);
    assert_int_equal(bitmap[0], 1u << 3);
    /* Pages written again after a round are caught again. */
    vcpu->regs.rip = 0x1000;
    assert_int_equal(kvm_run(vcpu), 0);
    assert_int_equal(kvm_get_dirty_log(vm, 0, bitmap), 0);
    assert_int_equal(bitmap[0], (1u << 2) | (1u << 5) | (1u << 7));
    assert_int_equal(kvm_get_dirty_log(vm, 1, bitmap), -ENOENT);
    kvm_close(kvm);
}

/* A read-only slot reads as memory; a guest write there reaches the VMM as an MMIO write
 * and leaves the memory as it was. */
static void test_readonly_slot(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    /* mov $0x1000,%ax; mov %ax,%ds; mov (0x10),%bx; movb $0x5a,(0x10); mov (0x10),%cx; hlt */
    static const uint8_t code[] = {0xB8, 0x00, 0x10, 0x8E, 0xD8, 0x8B, 0x1E, 0x10, 0x00,
                                   0xC6, 0x06, 0x10, 0x00, 0x5A, 0x8B, 0x0E, 0x10, 0x00, 0xF4};
    Machine m = machine(b, code, sizeof(code));
    static uint8_t rom[4096] __attribute__((aligned(4096)));
    memset(rom, 0, sizeof(rom));
    rom[0x10] = 0x34;
    rom[0x11] = 0x12;
    assert_int_equal(kvm_set_user_memory_region_flags(m.vm, 1, KVM_MEM_READONLY, 0x10000,
                                                      sizeof(rom), rom), 0);
    KvmRun *r = run(&m);
    assert_int_equal(r->exit_reason, KVM_EXIT_MMIO);
    assert_true(r->mmio.is_write);
    assert_int_equal(r->mmio.phys_addr, 0x10010);
    assert_int_equal(r->mmio.len, 1);
    assert_int_equal(r->mmio.data[0], 0x5A);
    r = run(&m);
    assert_int_equal(r->exit_reason, KVM_EXIT_HLT);
    assert_int_equal(m.vcpu->regs.rbx & 0xFFFF, 0x1234);
    assert_int_equal(m.vcpu->regs.rcx & 0xFFFF, 0x1234);   /* unchanged by the write */
    assert_int_equal(rom[0x10], 0x34);
    kvm_close(m.kvm);
}

/* After a slot is moved to other memory, the guest sees the new memory: nothing cached
 * from the old mapping survives (the software backend's TLB is invalidated). */
static void test_remap_is_seen(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    /* mov $0x1000,%ax; mov %ax,%ds; mov (0x10),%bx; hlt */
    static const uint8_t code[] = {0xB8, 0x00, 0x10, 0x8E, 0xD8, 0x8B, 0x1E, 0x10, 0x00, 0xF4};
    Machine m = machine(b, code, sizeof(code));
    static uint8_t one[4096] __attribute__((aligned(4096))), two[4096] __attribute__((aligned(4096)));
    one[0x10] = 0x11;
    two[0x10] = 0x22;
    assert_int_equal(kvm_set_user_memory_region(m.vm, 1, 0x10000, sizeof(one), one), 0);
    assert_int_equal(run(&m)->exit_reason, KVM_EXIT_HLT);
    assert_int_equal(m.vcpu->regs.rbx & 0xFF, 0x11);
    assert_int_equal(kvm_set_user_memory_region(m.vm, 1, 0x10000, 0, NULL), 0);
    assert_int_equal(kvm_set_user_memory_region(m.vm, 1, 0x10000, sizeof(two), two), 0);
    m.vcpu->regs.rip = CODE_ADDR;
    assert_int_equal(run(&m)->exit_reason, KVM_EXIT_HLT);
    assert_int_equal(m.vcpu->regs.rbx & 0xFF, 0x22);
    /* Unmapped, the same read reaches the VMM. */
    assert_int_equal(kvm_set_user_memory_region(m.vm, 1, 0x10000, 0, NULL), 0);
    m.vcpu->regs.rip = CODE_ADDR;
    KvmRun *r = run(&m);
    assert_int_equal(r->exit_reason, KVM_EXIT_MMIO);
    assert_int_equal(r->mmio.phys_addr, 0x10010);
    kvm_close(m.kvm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open),
        cmocka_unit_test(test_memory_slots),
        cmocka_unit_test(test_initial_vcpu_state),
        cmocka_unit_test(test_out_exit_and_register_mirror),
        cmocka_unit_test(test_in_completed_by_next_run),
        cmocka_unit_test(test_string_out_with_count),
        cmocka_unit_test(test_mmio_write_then_read),
        cmocka_unit_test(test_immediate_exit),
        cmocka_unit_test(test_mmio_read_completed_by_immediate_exit),
        cmocka_unit_test(test_kick_stops_spinning_guest),
        cmocka_unit_test(test_invalid_guest_state_fails_entry),
        cmocka_unit_test(test_protected_mode_sregs),
        cmocka_unit_test(test_vmcs_records_exits),
        cmocka_unit_test(test_dirty_log),
        cmocka_unit_test(test_readonly_slot),
        cmocka_unit_test(test_remap_is_seen),
    };
    return RUN_ON_EVERY_BACKEND(tests);
}
