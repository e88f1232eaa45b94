/*
 * The sim backend's cache of EPT translations (sim_page in src/sim/kvm_sim.c), which the
 * page walk uses for every page-table read and accessed/dirty update: a translation
 * cached before the EPT changed must not be used after it. Each test runs a 32-bit paged
 * guest whose page table sits in its own memory slot, changes what backs that slot or its
 * permissions, and checks that the next walk sees the change.
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

#define RAM_SIZE 0x100000u
#define CODE 0x1000u
#define PD 0x2000u
#define PT_LOW 0x3000u        /* identity map of 0-4 MiB */
#define PT_SLOT 0x200000u     /* slot 1: the page table of 4-8 MiB */
#define PTE_P 1u
#define PTE_RW 2u
#define PTE_A 0x20u

typedef struct {
    KvmDevice *kvm;
    KvmVm *vm;
    KvmVcpu *vcpu;
    uint8_t *ram;
} Guest;

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

static struct kvm_segment flat(uint16_t sel, uint8_t type)
{
    return (struct kvm_segment){ .base = 0, .limit = 0xFFFFFFFF, .selector = sel, .type = type,
                                 .present = 1, .dpl = 0, .db = 1, .s = 1, .g = 1 };
}

/* RAM in slot 0 with the code at CODE, PD[0] -> identity map, PD[1] -> the table at
 * PT_SLOT (slot 1, made by the caller); flat 32-bit protected mode with paging. */
static void guest_init(Guest *g, const uint8_t *code, size_t len)
{
    g->kvm = kvm_open_backend(HV_BACKEND_SIM);
    assert_non_null(g->kvm);
    g->vm = kvm_create_vm(g->kvm);
    assert_non_null(g->vm);
    assert_int_equal(kvm_set_user_memory_region(g->vm, 0, 0, RAM_SIZE, NULL), 0);
    g->ram = kvm_guest_ptr(g->vm, 0, RAM_SIZE);
    assert_non_null(g->ram);
    memcpy(g->ram + CODE, code, len);
    put32(g->ram + PD, PT_LOW | PTE_P | PTE_RW);
    put32(g->ram + PD + 4, PT_SLOT | PTE_P | PTE_RW);
    for (uint32_t i = 0; i < 256; i++) put32(g->ram + PT_LOW + 4 * i, (i << 12) | PTE_P | PTE_RW);
    put32(g->ram + 0x5000, 0x11);
    put32(g->ram + 0x6000, 0x22);
    g->vcpu = kvm_create_vcpu(g->vm, 0);
    assert_non_null(g->vcpu);
    KvmSregs s;
    assert_int_equal(kvm_get_sregs(g->vcpu, &s), 0);
    s.cs = flat(8, 0xB);
    s.ds = s.es = s.fs = s.gs = s.ss = flat(16, 0x3);
    s.cr0 = 0x80000011;   /* PG, ET, PE */
    s.cr3 = PD;
    s.cr4 = 0;
    assert_int_equal(kvm_set_sregs(g->vcpu, &s), 0);
}

static uint32_t run_eax(Guest *g)
{
    KvmRegs regs;
    assert_int_equal(kvm_get_regs(g->vcpu, &regs), 0);
    regs.rip = CODE;
    regs.rflags = 2;
    assert_int_equal(kvm_set_regs(g->vcpu, &regs), 0);
    assert_int_equal(kvm_run(g->vcpu), 0);
    assert_int_equal(g->vcpu->kvm_run->exit_reason, KVM_EXIT_HLT);
    assert_int_equal(kvm_get_regs(g->vcpu, &regs), 0);
    return (uint32_t)regs.rax;
}

static void guest_fini(Guest *g)
{
    kvm_destroy_vcpu(g->vcpu);
    kvm_destroy_vm(g->vm);
    kvm_close(g->kvm);
}

/* mov ecx, cr3; mov cr3, ecx; mov eax, [0x400000]; hlt */
static const uint8_t load_4m[] = {
    0x0F, 0x20, 0xD9, 0x0F, 0x22, 0xD9, 0xA1, 0x00, 0x00, 0x40, 0x00, 0xF4,
};

/* The page table's slot is pointed at other host memory: the walk must read the new
 * table, not the host page it cached for that guest-physical page. */
static void test_slot_moved(void **state)
{
    (void)state;
    Guest g;
    guest_init(&g, load_4m, sizeof load_4m);
    uint8_t *a = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uint8_t *b = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(a != MAP_FAILED && b != MAP_FAILED);
    put32(a, 0x5000 | PTE_P | PTE_RW | PTE_A);
    put32(b, 0x6000 | PTE_P | PTE_RW | PTE_A);
    assert_int_equal(kvm_set_user_memory_region(g.vm, 1, PT_SLOT, 4096, a), 0);
    assert_int_equal(run_eax(&g), 0x11);
    assert_int_equal(run_eax(&g), 0x11);
    assert_int_equal(kvm_set_user_memory_region(g.vm, 1, PT_SLOT, 0, NULL), 0);
    assert_int_equal(kvm_set_user_memory_region(g.vm, 1, PT_SLOT, 4096, b), 0);
    assert_int_equal(run_eax(&g), 0x22);
    guest_fini(&g);
    munmap(a, 4096);
    munmap(b, 4096);
}

/* The page table is dirty-logged: the walk's accessed-bit update is a write the log must
 * record in every round, also after the translation was cached with write permission
 * (KVM_GET_DIRTY_LOG write-protects the page again). */
static void test_dirty_log_sees_every_round(void **state)
{
    (void)state;
    Guest g;
    guest_init(&g, load_4m, sizeof load_4m);
    assert_int_equal(kvm_set_user_memory_region_flags(g.vm, 1, KVM_MEM_LOG_DIRTY_PAGES, PT_SLOT,
                                                      4096, NULL), 0);
    uint8_t *pt = kvm_guest_ptr(g.vm, PT_SLOT, 4096);
    assert_non_null(pt);
    uint64_t bitmap[1];
    for (int round = 0; round < 3; round++) {
        put32(pt, 0x5000 | PTE_P | PTE_RW);   /* A clear: the walk sets it */
        kvm_note_host_write(g.vm, PT_SLOT, 4);
        assert_int_equal(kvm_get_dirty_log(g.vm, 1, bitmap), 0);
        assert_int_equal(bitmap[0], 0);
        assert_int_equal(run_eax(&g), 0x11);
        assert_int_equal(get32(pt), 0x5000 | PTE_P | PTE_RW | PTE_A);
        assert_int_equal(kvm_get_dirty_log(g.vm, 1, bitmap), 0);
        assert_int_equal(bitmap[0], 1);
    }
    guest_fini(&g);
}

/* The table page changes in place (the host rewrites the PTE; the guest reloads CR3): the
 * cached host pointer is still the page, and the walk reads the new entry through it. */
static void test_table_rewritten(void **state)
{
    (void)state;
    Guest g;
    guest_init(&g, load_4m, sizeof load_4m);
    assert_int_equal(kvm_set_user_memory_region(g.vm, 1, PT_SLOT, 4096, NULL), 0);
    uint8_t *pt = kvm_guest_ptr(g.vm, PT_SLOT, 4096);
    put32(pt, 0x5000 | PTE_P | PTE_RW | PTE_A);
    assert_int_equal(run_eax(&g), 0x11);
    put32(pt, 0x6000 | PTE_P | PTE_RW | PTE_A);
    kvm_note_host_write(g.vm, PT_SLOT, 4);
    assert_int_equal(run_eax(&g), 0x22);
    guest_fini(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slot_moved),
        cmocka_unit_test(test_dirty_log_sees_every_round),
        cmocka_unit_test(test_table_rewritten),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
