/*
 * Coalesced MMIO (KVM_CAP_COALESCED_MMIO) against the semantics of Linux's
 * (Documentation/virt/kvm/api.rst, KVM_REGISTER_COALESCED_MMIO), on the sim backend and on
 * Linux KVM alike: writes wholly inside a zone go to the ring in order without an exit,
 * of 1, 2, 4 and 8 bytes; the ring keeps one slot free and a write that finds it full exits
 * as usual; reads exit; writes over a zone's edge exit whole; unregistering drops the
 * zones that hold the range given. Then SimpleVM on every backend: VGA text writes after
 * the first (an EPT violation exit) are coalesced, the devices see them before the next
 * exit is handled (an MMIO read, port I/O), a single step keeps all of an instruction's
 * writes, and the screen is complete when vm_run returns; without coalescing every write
 * exits.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "backends.h"
#include "hypervisor_sim.h"

#define CODE 0x1000u
#define WRITES 300u   /* more than a ring holds (169 of KVM_COALESCED_MMIO_RING_MAX = 170) */

/* Real mode at 0000:1000: WRITES word stores of 0, 1, 2, ... to B800:0000 upwards, one per
 * instruction, then OUT to port 0x80, a word read of B800:0000 into BX, HLT. */
static const uint8_t guest[] = {
    0xB8, 0x00, 0xB8,                   /* mov $0xb800, %ax */
    0x8E, 0xC0,                         /* mov %ax, %es */
    0x31, 0xFF,                         /* xor %di, %di */
    0x31, 0xC0,                         /* xor %ax, %ax */
    0xB9, WRITES & 0xFF, WRITES >> 8,   /* mov $WRITES, %cx */
    0xAB,                               /* 1: stosw */
    0x40,                               /* inc %ax */
    0xE2, 0xFC,                         /* loop 1b */
    0xE6, 0x80,                         /* out %al, $0x80 */
    0x26, 0x8B, 0x1E, 0x00, 0x00,       /* mov %es:0, %bx */
    0xF4,                               /* hlt */
};

typedef struct {
    HvBackend backend;
    KvmDevice *kvm;
    KvmVm *vm;
    KvmVcpu *vcpu;
    uint8_t *mem;
} Raw;

static void raw_open_code(Raw *r, HvBackend b, const uint8_t *code, size_t len)
{
    r->backend = b;
    r->kvm = kvm_open_backend(b);
    assert_non_null(r->kvm);
    r->vm = kvm_create_vm(r->kvm);
    assert_non_null(r->vm);
    r->mem = mmap(NULL, 0xA0000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(r->mem != MAP_FAILED);
    memcpy(r->mem + CODE, code, len);
    assert_int_equal(kvm_set_user_memory_region(r->vm, 0, 0, 0xA0000, r->mem), 0);
    r->vcpu = kvm_create_vcpu(r->vm, 0);
    assert_non_null(r->vcpu);
    r->vcpu->sregs.cs.selector = 0;
    r->vcpu->sregs.cs.base = 0;
}

static void raw_open(Raw *r, HvBackend b)
{
    raw_open_code(r, b, guest, sizeof guest);
}

static void raw_restart(Raw *r)
{
    KvmRegs regs;
    assert_int_equal(kvm_get_regs(r->vcpu, &regs), 0);
    regs.rip = CODE;
    assert_int_equal(kvm_set_regs(r->vcpu, &regs), 0);
}

static void raw_close(Raw *r)
{
    kvm_destroy_vcpu(r->vcpu);
    kvm_destroy_vm(r->vm);
    kvm_close(r->kvm);
    munmap(r->mem, 0xA0000);
}

typedef struct {
    uint64_t gpa[WRITES];
    uint32_t len[WRITES];
    uint64_t data[WRITES];
    unsigned n;
} Seen;

static void collect(void *opaque, uint64_t gpa, uint32_t len, uint64_t data)
{
    Seen *s = opaque;
    assert_true(s->n < WRITES);
    s->gpa[s->n] = gpa;
    s->len[s->n] = len;
    s->data[s->n++] = data;
}

/* Entries pending in the ring. */
static unsigned pending(const struct kvm_coalesced_mmio_ring *ring)
{
    uint32_t max = (uint32_t)KVM_COALESCED_MMIO_RING_MAX;
    return (ring->last + max - ring->first) % max;
}

/* Runs until the ring is full again after a restart: the write that finds it full exits;
 * checks and drains the `room` entries before it. */
static void run_to_full_ring(Raw *r, struct kvm_coalesced_mmio_ring *ring, unsigned room)
{
    KvmRun *run = r->vcpu->kvm_run;
    assert_int_equal(kvm_run(r->vcpu), 0);
    assert_int_equal(run->exit_reason, KVM_EXIT_MMIO);
    assert_true(run->mmio.is_write);
    assert_int_equal(run->mmio.phys_addr, VGA_TEXT_BASE + 2 * room);
    assert_int_equal(run->mmio.len, 2);
    assert_int_equal(run->mmio.data[0], room & 0xFF);
    assert_int_equal(pending(ring), room);
    Seen seen = {0};
    assert_int_equal(kvm_coalesced_mmio_drain(ring, collect, &seen), room);
    for (unsigned i = 0; i < room; i++) {
        assert_int_equal(seen.gpa[i], VGA_TEXT_BASE + 2 * i);
        assert_int_equal(seen.len[i], 2);
        assert_int_equal(seen.data[i], i);
    }
    assert_int_equal(pending(ring), 0);
}

static void test_ring_order_and_full(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    Raw r;
    raw_open(&r, b);
    int off = kvm_check_extension(r.kvm, KVM_CAP_COALESCED_MMIO);
    if (b == HV_BACKEND_KVM && off <= 0) {
        raw_close(&r);
        skip_because("this KVM has no KVM_CAP_COALESCED_MMIO");
    }
    assert_int_equal(off, 2);   /* KVM_COALESCED_MMIO_PAGE_OFFSET on x86 */
    struct kvm_coalesced_mmio_ring *ring = kvm_coalesced_mmio_ring(r.vcpu);
    assert_non_null(ring);
    assert_ptr_equal(ring, (uint8_t *)r.vcpu->kvm_run + 2 * 4096);
    assert_int_equal(pending(ring), 0);
    assert_int_equal(kvm_register_coalesced_mmio(r.vm, VGA_TEXT_BASE, VGA_TEXT_SIZE), 0);
    raw_restart(&r);
    KvmRun *run = r.vcpu->kvm_run;
    const unsigned room = (unsigned)KVM_COALESCED_MMIO_RING_MAX - 1;

    /* the ring fills: the write that finds it full exits, the ones before are queued */
    run_to_full_ring(&r, ring, room);

    /* the rest go to the ring (wrapping round its end) and the OUT exits after them */
    assert_int_equal(kvm_run(r.vcpu), 0);
    assert_int_equal(run->exit_reason, KVM_EXIT_IO);
    assert_int_equal(run->io.port, 0x80);
    unsigned rest = WRITES - room - 1;
    assert_int_equal(pending(ring), rest);
    Seen seen = {0};
    assert_int_equal(kvm_coalesced_mmio_drain(ring, collect, &seen), rest);
    for (unsigned i = 0; i < rest; i++) {
        assert_int_equal(seen.gpa[i], VGA_TEXT_BASE + 2 * (room + 1 + i));
        assert_int_equal(seen.data[i], room + 1 + i);
    }

    /* a read inside the zone exits as usual */
    assert_int_equal(kvm_run(r.vcpu), 0);
    assert_int_equal(run->exit_reason, KVM_EXIT_MMIO);
    assert_false(run->mmio.is_write);
    assert_int_equal(run->mmio.phys_addr, VGA_TEXT_BASE);
    run->mmio.data[0] = 0x34;
    run->mmio.data[1] = 0x12;
    assert_int_equal(kvm_run(r.vcpu), 0);
    assert_int_equal(run->exit_reason, KVM_EXIT_HLT);
    KvmRegs regs;
    assert_int_equal(kvm_get_regs(r.vcpu, &regs), 0);
    assert_int_equal(regs.rbx & 0xFFFF, 0x1234);
    assert_int_equal(pending(ring), 0);

    /* unregistering a range wider than the zone leaves it (Linux drops only the zones
     * that hold the whole range): the ring fills as before */
    assert_int_equal(kvm_unregister_coalesced_mmio(r.vm, 0xA0000, 0x20000), 0);
    raw_restart(&r);
    run_to_full_ring(&r, ring, room);

    /* a range inside the zone drops it: the next write exits */
    assert_int_equal(kvm_unregister_coalesced_mmio(r.vm, VGA_TEXT_BASE + 0x100, 2), 0);
    raw_restart(&r);
    assert_int_equal(kvm_run(r.vcpu), 0);
    assert_int_equal(run->exit_reason, KVM_EXIT_MMIO);
    assert_int_equal(run->mmio.phys_addr, VGA_TEXT_BASE);
    assert_int_equal(pending(ring), 0);

    /* a zone of one byte: a word write there is not wholly inside, so it exits */
    assert_int_equal(kvm_register_coalesced_mmio(r.vm, VGA_TEXT_BASE + 2, 1), 0);
    assert_int_equal(kvm_run(r.vcpu), 0);   /* completes the write at B8000 */
    assert_int_equal(run->exit_reason, KVM_EXIT_MMIO);
    assert_int_equal(run->mmio.phys_addr, VGA_TEXT_BASE + 2);
    assert_int_equal(run->mmio.len, 2);
    assert_int_equal(pending(ring), 0);

    /* bad zones (refused before they reach the kernel) */
    assert_int_equal(kvm_register_coalesced_mmio(r.vm, VGA_TEXT_BASE, 0), -EINVAL);
    assert_int_equal(kvm_register_coalesced_mmio(r.vm, ~0ull - 1, 16), -EINVAL);
    raw_close(&r);
}

/* Real mode at 0000:1000, the zone [B8100, B8110) at ES = B810: a byte, a word, a dword
 * and a qword (CMPXCHG8B: an 8-byte read, which exits, then an 8-byte write) inside it,
 * a dword over its end and a word over its start (both exit whole), then a read in it,
 * HLT. */
#define ZONE 0xB8100u
static const uint8_t sizes_guest[] = {
    0x31, 0xC0,                                     /* xor %ax, %ax */
    0x8E, 0xD8,                                     /* mov %ax, %ds */
    0xB8, 0x10, 0xB8,                               /* mov $0xb810, %ax */
    0x8E, 0xC0,                                     /* mov %ax, %es */
    0x26, 0xC6, 0x06, 0x00, 0x00, 0x11,             /* movb $0x11, %es:0 */
    0x26, 0xC7, 0x06, 0x02, 0x00, 0x22, 0x22,       /* movw $0x2222, %es:2 */
    0x66, 0x26, 0xC7, 0x06, 0x04, 0x00, 0x44, 0x44, 0x44, 0x44, /* movl $0x44444444, %es:4 */
    0x66, 0x31, 0xC0,                               /* xor %eax, %eax */
    0x66, 0x31, 0xD2,                               /* xor %edx, %edx */
    0x66, 0xBB, 0x88, 0x77, 0x66, 0x55,             /* mov $0x55667788, %ebx */
    0x66, 0xB9, 0x44, 0x33, 0x22, 0x11,             /* mov $0x11223344, %ecx */
    0x26, 0x0F, 0xC7, 0x0E, 0x08, 0x00,             /* cmpxchg8b %es:8 */
    0x66, 0x26, 0xC7, 0x06, 0x0E, 0x00, 0x55, 0x55, 0x55, 0x55, /* movl $0x55555555, %es:0xe */
    0xB8, 0x0F, 0xB8,                               /* mov $0xb80f, %ax */
    0x8E, 0xD8,                                     /* mov %ax, %ds */
    0xC7, 0x06, 0x0F, 0x00, 0x66, 0x66,             /* movw $0x6666, 0xf (0xB80FF) */
    0x26, 0x8B, 0x1E, 0x00, 0x00,                   /* mov %es:0, %bx */
    0xF4,                                           /* hlt */
};

static void expect_mmio(const KvmRun *run, bool write, uint64_t gpa, uint32_t len)
{
    assert_int_equal(run->exit_reason, KVM_EXIT_MMIO);
    assert_int_equal(run->mmio.is_write, write);
    assert_int_equal(run->mmio.phys_addr, gpa);
    assert_int_equal(run->mmio.len, len);
}

static void test_ring_sizes_and_edges(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    Raw r;
    raw_open_code(&r, b, sizes_guest, sizeof sizes_guest);
    struct kvm_coalesced_mmio_ring *ring = kvm_coalesced_mmio_ring(r.vcpu);
    if (!ring) {
        raw_close(&r);
        skip_because("no coalesced MMIO ring on %s", hv_backend_name(b));
    }
    assert_int_equal(kvm_register_coalesced_mmio(r.vm, ZONE, 0x10), 0);
    raw_restart(&r);
    KvmRun *run = r.vcpu->kvm_run;
    Seen seen = {0};

    /* byte, word, dword kept; CMPXCHG8B's read exits (answered: 0, so it stores ECX:EBX) */
    assert_int_equal(kvm_run(r.vcpu), 0);
    expect_mmio(run, false, ZONE + 8, 8);
    memset(run->mmio.data, 0, sizeof run->mmio.data);
    assert_int_equal(kvm_coalesced_mmio_drain(ring, collect, &seen), 3);
    /* its 8-byte write kept, the dword over the zone's end exits whole */
    assert_int_equal(kvm_run(r.vcpu), 0);
    expect_mmio(run, true, ZONE + 0xE, 4);
    assert_int_equal(kvm_coalesced_mmio_drain(ring, collect, &seen), 1);
    /* the word over its start exits whole, the read in it exits */
    assert_int_equal(kvm_run(r.vcpu), 0);
    expect_mmio(run, true, ZONE - 1, 2);
    assert_int_equal(kvm_run(r.vcpu), 0);
    expect_mmio(run, false, ZONE, 2);
    assert_int_equal(kvm_run(r.vcpu), 0);
    assert_int_equal(run->exit_reason, KVM_EXIT_HLT);
    assert_int_equal(pending(ring), 0);

    static const struct { uint64_t gpa; uint32_t len; uint64_t data; } want[] = {
        {ZONE, 1, 0x11}, {ZONE + 2, 2, 0x2222}, {ZONE + 4, 4, 0x44444444},
        {ZONE + 8, 8, 0x1122334455667788ull},
    };
    assert_int_equal(seen.n, 4);
    for (unsigned i = 0; i < 4; i++) {
        assert_int_equal(seen.gpa[i], want[i].gpa);
        assert_int_equal(seen.len[i], want[i].len);
        assert_int_equal(seen.data[i], want[i].data);
    }
    raw_close(&r);
}

/* A ring the VMM broke (first out of range) makes writes exit; nothing is lost. */
static void test_ring_hostile_indices(void **state)
{
    (void)state;
    Raw r;
    raw_open(&r, HV_BACKEND_SIM);
    struct kvm_coalesced_mmio_ring *ring = kvm_coalesced_mmio_ring(r.vcpu);
    assert_int_equal(kvm_register_coalesced_mmio(r.vm, VGA_TEXT_BASE, VGA_TEXT_SIZE), 0);
    raw_restart(&r);
    ring->last = 100000;
    assert_int_equal(kvm_run(r.vcpu), 0);
    assert_int_equal(r.vcpu->kvm_run->exit_reason, KVM_EXIT_MMIO);
    assert_int_equal(r.vcpu->kvm_run->mmio.phys_addr, VGA_TEXT_BASE);
    Seen seen = {0};
    kvm_coalesced_mmio_drain(ring, collect, &seen);
    assert_int_equal(seen.n, 0);
    raw_close(&r);
}

/* SimpleVM's view: the OUT's handler checks that every VGA write before it is on the
 * screen when it runs (the ring is drained before an exit is handled). */
#define ORDER_PORT 0xE0
typedef struct {
    SimpleVM *svm;
    bool called;
    unsigned words_on_screen;
} OrderProbe;

static int probe_write(uint16_t port, uint8_t size, uint32_t value, void *opaque)
{
    (void)port, (void)size, (void)value;
    OrderProbe *p = opaque;
    p->called = true;
    unsigned n = 0;
    for (unsigned i = 0; i < WRITES; i++) {
        uint16_t v;
        memcpy(&v, p->svm->vga->vram + 2 * i, 2);
        n += v == i;
    }
    p->words_on_screen = n;
    return 0;
}

static void screen_complete(SimpleVM *svm)
{
    for (unsigned i = 0; i < WRITES; i++) {
        uint16_t v;
        memcpy(&v, svm->vga->vram + 2 * i, 2);
        if (v != i) fail_msg("vram word %u is %u", i, v);
    }
}

/* The guest's WRITES words, then an OUT to ORDER_PORT, a read of the last word written
 * (into BX), HLT: the OUT and the read see every write; the screen is complete when
 * vm_run returns; the first write is still an EPT violation exit (sim: in the trace).
 * With coalescing, far fewer exits than writes and exits + coalesced writes = all. */
static void run_simplevm_vga(HvBackend b, bool coalesce)
{
    SimpleVM *svm = vm_create_backend(1, b);
    assert_non_null(svm);
    svm->serial->output_fd = -1;
    svm->debug_exit->console_fd = -1;
    svm->no_coalesced_mmio = !coalesce;
    OrderProbe probe = {.svm = svm};
    const IoPortHandler h = {.base = ORDER_PORT, .length = 1, .write = probe_write,
                             .opaque = &probe, .name = "order-probe"};
    assert_int_equal(io_bus_register(svm->io_bus, &h), 0);
    uint8_t code[sizeof guest];
    memcpy(code, guest, sizeof guest);
    code[17] = ORDER_PORT;
    code[21] = (2 * (WRITES - 1)) & 0xFF;   /* mov %es:2*(WRITES-1), %bx */
    code[22] = (2 * (WRITES - 1)) >> 8;
    assert_int_equal(vm_load_code(svm, code, sizeof code, CODE), 0);
    svm->vcpu->regs.rip = CODE;
    char *trace = NULL;
    size_t trace_len = 0;
    FILE *tf = open_memstream(&trace, &trace_len);
    assert_non_null(tf);
    svm->trace = tf;
    assert_int_equal(vm_run(svm), 0);
    svm->trace = NULL;
    fclose(tf);
    screen_complete(svm);
    assert_true(probe.called);
    assert_int_equal(probe.words_on_screen, WRITES);
    KvmRegs regs;
    assert_int_equal(kvm_get_regs(svm->vcpu, &regs), 0);
    assert_int_equal(regs.rbx & 0xFFFF, WRITES - 1);
    bool ring = svm->coalesced_ring != NULL;
    printf("[ NOTE     ] %s%s: %llu exits, %llu writes coalesced%s\n", hv_backend_name(b),
           coalesce ? "" : " (no_coalesced_mmio)", (unsigned long long)svm->exit_count,
           (unsigned long long)svm->coalesced_writes,
           coalesce && !ring ? " (no coalesced MMIO here)" : "");
    if (b == HV_BACKEND_SIM) {
        assert_int_equal(ring, coalesce);
        assert_non_null(strstr(trace, "exit 48 EPT_VIOLATION gpa=0xb8000 qual=0x182 -> "
                                      "KVM_EXIT_MMIO write addr=0xb8000 len=2 data=0x0\n"));
    }
    /* every write, the OUT, the read and the HLT are an exit or a coalesced write */
    assert_int_equal(svm->coalesced_writes + svm->exit_count, WRITES + 3);
    if (ring) {
        /* the first write, one per full ring (169 writes kept before it), OUT, read, HLT */
        assert_int_equal(svm->exit_count, 5);
        assert_non_null(strstr(trace, "coalesced MMIO: 169 writes from the ring\n"));
    } else {
        assert_int_equal(svm->coalesced_writes, 0);
        assert_null(strstr(trace, "coalesced MMIO"));
    }
    free(trace);
    vm_destroy(svm);
}

static void test_simplevm_vga(void **state)
{
    run_simplevm_vga(TEST_BACKEND(state), true);
}

static void test_simplevm_vga_uncoalesced(void **state)
{
    run_simplevm_vga(TEST_BACKEND(state), false);
}

/* Single steps: the first VGA write exits (and starts coalescing), then one dword over a
 * page edge inside the window is two writes, both kept: the step that runs it ends after
 * it with both on the screen, and the next step is the HLT. */
static const uint8_t step_guest[] = {
    0xB8, 0x00, 0xB8,                               /* mov $0xb800, %ax */
    0x8E, 0xC0,                                     /* mov %ax, %es */
    0x26, 0xC7, 0x06, 0x00, 0x00, 0x01, 0x00,       /* movw $1, %es:0 */
    0x66, 0x26, 0xC7, 0x06, 0xFE, 0x0F, 0x33, 0x33, 0x22, 0x22, /* movl $0x22223333, %es:0xffe */
    0xF4,                                           /* hlt */
};

static void test_simplevm_step(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    SimpleVM *svm = vm_create_backend(1, b);
    assert_non_null(svm);
    svm->serial->output_fd = -1;
    svm->debug_exit->console_fd = -1;
    assert_int_equal(vm_load_code(svm, step_guest, sizeof step_guest, CODE), 0);
    svm->vcpu->regs.rip = CODE;
    for (int i = 0; i < 3; i++) {   /* mov, mov, the first write */
        assert_int_equal(vm_step(svm), 0);
        assert_int_equal(svm->stop_reason, VM_STOP_STEPPED);
    }
    assert_int_equal(svm->vcpu->regs.rip, CODE + 12);
    assert_int_equal(vm_coalesced_mmio_usable(svm), svm->coalesced_ring != NULL);
    assert_int_equal(vm_step(svm), 0);
    assert_int_equal(svm->stop_reason, VM_STOP_STEPPED);
    assert_int_equal(svm->vcpu->regs.rip, CODE + 22);
    static const uint8_t want[4] = {0x33, 0x33, 0x22, 0x22};
    assert_memory_equal(svm->vga->vram + 0xFFE, want, 4);
    if (svm->coalesced_ring)
        assert_int_equal(svm->coalesced_writes, 2);
    assert_int_equal(vm_step(svm), 0);
    assert_int_equal(svm->stop_reason, VM_STOP_HLT);
    printf("[ NOTE     ] %s: %llu exits, %llu writes coalesced\n", hv_backend_name(b),
           (unsigned long long)svm->exit_count, (unsigned long long)svm->coalesced_writes);
    vm_destroy(svm);
}

int main(void)
{
    const struct CMUnitTest sim_tests[] = {
        cmocka_unit_test(test_ring_hostile_indices),
    };
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring_order_and_full),
        cmocka_unit_test(test_ring_sizes_and_edges),
        cmocka_unit_test(test_simplevm_vga),
        cmocka_unit_test(test_simplevm_vga_uncoalesced),
        cmocka_unit_test(test_simplevm_step),
    };
    return cmocka_run_group_tests_name("sim ring", sim_tests, NULL, NULL) |
           RUN_ON_EVERY_BACKEND(tests);
}
