/* Unit tests for SimpleVM (src/vmm/vm.c): the loader, firmware, and how vm_run ends for
 * each kind of guest, on every backend. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "backends.h"
#include "hypervisor_sim.h"
#include "kvm/backend.h"

static int quiet_log_count;
static void quiet_log(HvLogLevel level, const char *message, void *opaque)
{
    (void)level;
    (void)message;
    (void)opaque;
    quiet_log_count++;
}

/* A 1 MiB VM with `code` at 0x1000 and the vCPU at 0000:1000, serial output nowhere. */
static SimpleVM *vm_with(HvBackend b, const uint8_t *code, size_t size)
{
    SimpleVM *svm = vm_create_backend(1, b);
    assert_non_null(svm);
    svm->serial->output_fd = -1;
    svm->debug_exit->console_fd = -1;
    assert_int_equal(vm_load_code(svm, code, size, 0x1000), 0);
    svm->vcpu->regs.rip = 0x1000;
    return svm;
}

static void test_create_rejects_bad_sizes(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    assert_null(vm_create_bytes(0, b));
    assert_non_null(strstr(hv_last_error(), "memory size"));
    assert_null(vm_create_bytes(60 * 1024, b));
    assert_null(vm_create_bytes(1024 * 1024 + 1, b));
    assert_null(vm_create_bytes(VM_MAX_RAM + 4096, b));
    assert_null(vm_create_backend(0, b));
    SimpleVM *svm = vm_create_bytes(64 * 1024, b);   /* the smallest */
    assert_non_null(svm);
    vm_destroy(svm);
}

static void test_load_code_bounds(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    SimpleVM *svm = vm_create_backend(1, b);
    assert_non_null(svm);
    uint8_t buf[0x2000];
    memset(buf, 0xAB, sizeof(buf));
    assert_int_equal(vm_load_code(svm, buf, sizeof(buf), 0), 0);
    assert_int_equal(svm->ram[0x1FFF], 0xAB);
    assert_int_equal(vm_load_code(svm, buf, 16, 0x100000 - 16), 0);   /* the last bytes */
    assert_int_equal(vm_load_code(svm, buf, 16, 0x100000 - 8), -EFAULT);   /* past the end */
    assert_int_equal(vm_load_code(svm, buf, 1, UINT64_MAX), -EFAULT);
    assert_int_equal(vm_load_code(svm, buf, 0x2000, 0x9F000), -EFAULT);   /* into the hole */
    assert_non_null(strstr(hv_last_error(), "VGA"));
    assert_int_equal(vm_load_code(svm, buf, 16, 0xB8000), -EFAULT);
    assert_int_equal(vm_load_code(svm, buf, 16, 0xC0000), 0);
    assert_non_null(vm_guest_ram(svm, 0, 0xA0000));
    assert_null(vm_guest_ram(svm, 0, 0xA0001));
    assert_null(vm_guest_ram(svm, 0xFFFFF, 2));
    vm_destroy(svm);
}

static void test_hlt(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    SimpleVM *svm = vm_with(b, (const uint8_t[]){0xF4}, 1);
    assert_int_equal(vm_run(svm), 0);
    assert_int_equal(svm->stop_reason, VM_STOP_HLT);
    assert_int_equal(svm->exit_count, 1);
    vm_destroy(svm);
}

static void test_serial_output(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    /* mov $0x3f8,%dx; mov $'Z',%al; out %al,%dx; hlt */
    static const uint8_t code[] = {0xBA, 0xF8, 0x03, 0xB0, 0x5A, 0xEE, 0xF4};
    SimpleVM *svm = vm_with(b, code, sizeof(code));
    int p[2];
    assert_int_equal(pipe(p), 0);
    svm->serial->output_fd = p[1];
    assert_int_equal(vm_run(svm), 0);
    char c = 0;
    assert_int_equal(read(p[0], &c, 1), 1);
    assert_int_equal(c, 'Z');
    char latest[4];
    assert_int_equal(serial_output_latest(svm->serial, latest, sizeof(latest)), 1);
    assert_int_equal(latest[0], 'Z');
    close(p[0]);
    close(p[1]);
    vm_destroy(svm);
}

static void test_debug_exit(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    /* mov $0x21,%al; out %al,$0xf4; hlt */
    static const uint8_t code[] = {0xB0, 0x21, 0xE6, 0xF4, 0xF4};
    SimpleVM *svm = vm_with(b, code, sizeof(code));
    assert_int_equal(vm_run(svm), 0);
    assert_int_equal(svm->stop_reason, VM_STOP_DEBUG_EXIT);
    assert_int_equal(svm->debug_exit_value, 0x21);
    vm_destroy(svm);
}

static void test_vga_write(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    /* mov $0xb800,%ax; mov %ax,%es; movw $0x0748,%es:0; hlt */
    static const uint8_t code[] = {0xB8, 0x00, 0xB8, 0x8E, 0xC0, 0x26, 0xC7, 0x06,
                                   0x00, 0x00, 0x48, 0x07, 0xF4};
    SimpleVM *svm = vm_with(b, code, sizeof(code));
    assert_int_equal(vm_run(svm), 0);
    assert_int_equal(svm->vga->vram[0], 'H');
    assert_int_equal(svm->vga->vram[1], 0x07);
    char row[VGA_ROW_UTF8_MAX];
    vga_render_row(svm->vga, 0, row, sizeof(row));
    assert_string_equal(row, "H");
    vm_destroy(svm);
}

/* A triple fault: int3 through an IDT of limit 0 (#GP, #DF, shutdown: SDM Vol. 2, INT n,
 * real-address mode). Some kernels (KVM's instruction emulator, as on hosts running real
 * mode without unrestricted guest) ignore that limit in real mode; for them every vector
 * behind the limit leads to a fallback that faults in protected mode instead. */
static void test_triple_fault(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    static const uint8_t code[] = {
        0x0F, 0x01, 0x1E, 0xF0, 0x10,   /* 1000: lidt (0x10f0) */
        0xCC,                           /* 1005: int3 */
        0xFA,                           /* 1006: fallback: cli */
        0x0F, 0x01, 0x16, 0xF0, 0x10,   /* 1007: lgdt (0x10f0) */
        0x0F, 0x20, 0xC0,               /* 100c: mov %cr0,%eax */
        0x0C, 0x01,                     /* 100f: or $1,%al */
        0x0F, 0x22, 0xC0,               /* 1011: mov %eax,%cr0 */
        0x0F, 0x0B,                     /* 1014: ud2 */
    };
    SimpleVM *svm = vm_with(b, code, sizeof(code));
    static const uint8_t empty_table[6] = {0x00, 0x00, 0x00, 0x11, 0x00, 0x00};
    memcpy(svm->ram + 0x10F0, empty_table, sizeof(empty_table));   /* limit 0, base 0x1100 */
    for (int v = 0; v < 32; v++) {
        static const uint8_t fallback[4] = {0x06, 0x10, 0x00, 0x00};   /* 0000:1006 */
        memcpy(svm->ram + 0x1100 + 4 * v, fallback, 4);
    }
    hv_set_log_handler(quiet_log, NULL);
    quiet_log_count = 0;
    assert_int_equal(vm_run(svm), -EIO);
    hv_set_log_handler(NULL, NULL);
    assert_int_equal(svm->stop_reason, VM_STOP_SHUTDOWN);
    assert_true(quiet_log_count > 1);   /* the message and the registers */
    vm_destroy(svm);
}

static void test_max_exits(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    /* mov $0x3ff,%dx; 1: out %al,%dx; jmp 1b */
    static const uint8_t code[] = {0xBA, 0xFF, 0x03, 0xEE, 0xEB, 0xFD};
    SimpleVM *svm = vm_with(b, code, sizeof(code));
    svm->max_exits = 10;
    assert_int_equal(vm_run(svm), -ETIME);
    assert_int_equal(svm->stop_reason, VM_STOP_MAX_EXITS);
    assert_int_equal(svm->exit_count, 10);
    vm_destroy(svm);
}

static void *stop_later(void *arg)
{
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
    vm_request_stop(arg);
    return NULL;
}

static void test_request_stop(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    SimpleVM *svm = vm_with(b, (const uint8_t[]){0xEB, 0xFE}, 2);   /* jmp . */
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, stop_later, svm), 0);
    assert_int_equal(vm_run(svm), -EINTR);
    pthread_join(t, NULL);
    assert_int_equal(svm->stop_reason, VM_STOP_REQUESTED);
    assert_int_equal(svm->vcpu->regs.rip, 0x1000);
    /* The VM can go on afterwards: replace the loop by hlt. */
    vm_guest_ram(svm, 0x1000, 1)[0] = 0xF4;
    assert_int_equal(vm_run(svm), 0);
    assert_int_equal(svm->stop_reason, VM_STOP_HLT);
    vm_destroy(svm);
}

static void test_rom(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    SimpleVM *svm = vm_create_backend(2, b);
    assert_non_null(svm);
    uint8_t big[VM_MAX_ROM + 1];
    memset(big, 0, sizeof(big));
    assert_int_equal(vm_load_rom(svm, big, sizeof(big)), -EFBIG);
    /* At the reset vector: write the ROM's first byte at F000:FFF0, read it back into BL.
     * mov $0xf000,%ax; mov %ax,%ds; movb $0,(0xfff0); mov (0xfff0),%bl; hlt */
    static const uint8_t reset[] = {0xB8, 0x00, 0xF0, 0x8E, 0xD8, 0xC6, 0x06, 0xF0,
                                    0xFF, 0x00, 0x8A, 0x1E, 0xF0, 0xFF, 0xF4};
    uint8_t image[4096];
    memset(image, 0x90, sizeof(image));
    memcpy(image + 0xFF0, reset, sizeof(reset));
    assert_int_equal(vm_load_rom(svm, image, sizeof(image)), 0);
    assert_int_equal(vm_load_rom(svm, image, sizeof(image)), -EBUSY);
    assert_int_equal(svm->vcpu->sregs.cs.selector, 0xF000);
    assert_int_equal(svm->vcpu->sregs.cs.base, 0xFFFF0000);
    assert_int_equal(svm->vcpu->regs.rip, 0xFFF0);
    /* Both windows show the image; RAM stays RAM around it. */
    uint8_t *low = kvm_guest_ptr(svm->vm, 0xFFFF0, 16);
    uint8_t *high = kvm_guest_ptr(svm->vm, 0xFFFFFFF0, 16);
    assert_non_null(low);
    assert_non_null(high);
    assert_memory_equal(low, reset, sizeof(reset));
    assert_memory_equal(high, reset, sizeof(reset));
    assert_non_null(vm_guest_ram(svm, 0xC0000, 0x100000 - 0xC0000 - 4096));
    assert_non_null(vm_guest_ram(svm, 0x100000, 0x100000));
    assert_int_equal(vm_run(svm), 0);
    assert_int_equal(svm->stop_reason, VM_STOP_HLT);
    assert_int_equal(svm->vcpu->regs.rbx & 0xFF, 0xB8);   /* the write was dropped */
    assert_int_equal(low[0], 0xB8);
    vm_destroy(svm);
}

static void test_handle_io_rejects_malformed_exits(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    SimpleVM *svm = vm_with(b, (const uint8_t[]){0xF4}, 1);
    KvmRun *run = svm->vcpu->kvm_run;
    run->exit_reason = KVM_EXIT_IO;
    run->io.direction = KVM_EXIT_IO_OUT;
    run->io.port = 0x3FF;
    run->io.size = 3;
    run->io.count = 1;
    run->io.data_offset = 4096;
    assert_int_equal(vm_handle_io(svm, run), -EPROTO);
    run->io.size = 4;
    run->io.count = 0x40000000;
    assert_int_equal(vm_handle_io(svm, run), -EPROTO);
    run->io.count = 2;
    run->io.data_offset = svm->vcpu->kvm_run_size - 4;
    assert_int_equal(vm_handle_io(svm, run), -EPROTO);
    run->io.size = 1;
    run->io.count = 3;
    run->io.data_offset = 1024;
    memcpy((uint8_t *)run + 1024, "\x11\x22\x33", 3);
    assert_int_equal(vm_handle_io(svm, run), 0);
    assert_int_equal(svm->serial->scr, 0x33);   /* the last of three writes to SCR */
    run->exit_reason = KVM_EXIT_MMIO;
    run->mmio.len = 9;
    assert_int_equal(vm_handle_mmio(svm, run), -EPROTO);
    run->mmio.len = 0;
    assert_int_equal(vm_handle_mmio(svm, run), -EPROTO);
    vm_destroy(svm);
}

/* The KVM_EXIT_IO that malformed_io_run reports, standing in for a broken kernel. */
static struct { uint32_t size, count; uint64_t offset; } bad_io;

static int malformed_io_run(KvmVcpu *vcpu)
{
    KvmRun *run = vcpu->kvm_run;
    run->exit_reason = KVM_EXIT_IO;
    run->io.direction = KVM_EXIT_IO_OUT;
    run->io.port = 0x80;
    run->io.size = (uint8_t)bad_io.size;
    run->io.count = bad_io.count;
    run->io.data_offset = bad_io.offset;
    return 0;
}

/* Issue 24: after a malformed I/O exit, the exit record and the --trace line read the
 * data with its fields unchecked: a size of 8 copied into a 4-byte value, an offset far
 * past the run page, an offset whose sum with the length wraps below the bound. Each must
 * stop the VM with an error and touch nothing outside the run page. */
static void test_malformed_io_exit_trace_and_record(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    static const struct { uint32_t size, count; uint64_t offset; } cases[] = {
        {8, 1, 1024},
        {1, 1, 1ull << 40},
        {4, 2, UINT64_MAX - 3},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        SimpleVM *svm = vm_with(b, (const uint8_t[]){0xF4}, 1);
        hv_set_log_handler(quiet_log, NULL);
        KvmBackendOps ops = *svm->kvm->ops;
        const KvmBackendOps *saved = svm->kvm->ops;
        ops.run = malformed_io_run;
        svm->kvm->ops = &ops;
        bad_io.size = cases[i].size;
        bad_io.count = cases[i].count;
        bad_io.offset = cases[i].offset;
        FILE *trace = fopen("/dev/null", "w");
        assert_non_null(trace);
        svm->trace = trace;
        assert_int_equal(vm_run(svm), -EIO);
        assert_int_equal(svm->stop_reason, VM_STOP_ERROR);
        svm->trace = NULL;
        fclose(trace);
        svm->kvm->ops = saved;
        hv_set_log_handler(NULL, NULL);
        vm_destroy(svm);
    }
}

static void *run_vm_thread(void *arg)
{
    vm_run(arg);
    return NULL;
}

/* Two VMs in one process at the same time: no state is shared between them. */
static void test_two_vms_at_once(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    /* mov $0x3f8,%dx; mov $1000,%cx; 1: mov $C,%al; out %al,%dx; loop 1b; hlt */
    uint8_t code[] = {0xBA, 0xF8, 0x03, 0xB9, 0xE8, 0x03, 0xB0, 'A', 0xEE, 0xE2, 0xFB, 0xF4};
    SimpleVM *a = vm_with(b, code, sizeof(code));
    code[7] = 'B';
    SimpleVM *c = vm_with(b, code, sizeof(code));
    pthread_t ta, tc;
    assert_int_equal(pthread_create(&ta, NULL, run_vm_thread, a), 0);
    assert_int_equal(pthread_create(&tc, NULL, run_vm_thread, c), 0);
    pthread_join(ta, NULL);
    pthread_join(tc, NULL);
    assert_int_equal(a->stop_reason, VM_STOP_HLT);
    assert_int_equal(c->stop_reason, VM_STOP_HLT);
    assert_int_equal(a->serial->output_total, 1000);
    assert_int_equal(c->serial->output_total, 1000);
    char last[256];
    size_t n = serial_output_latest(a->serial, last, sizeof(last));
    for (size_t i = 0; i < n; i++)
        assert_int_equal(last[i], 'A');
    n = serial_output_latest(c->serial, last, sizeof(last));
    for (size_t i = 0; i < n; i++)
        assert_int_equal(last[i], 'B');
    vm_destroy(a);
    vm_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_rejects_bad_sizes),
        cmocka_unit_test(test_load_code_bounds),
        cmocka_unit_test(test_hlt),
        cmocka_unit_test(test_serial_output),
        cmocka_unit_test(test_debug_exit),
        cmocka_unit_test(test_vga_write),
        cmocka_unit_test(test_triple_fault),
        cmocka_unit_test(test_max_exits),
        cmocka_unit_test(test_request_stop),
        cmocka_unit_test(test_rom),
        cmocka_unit_test(test_handle_io_rejects_malformed_exits),
        cmocka_unit_test(test_malformed_io_exit_trace_and_record),
        cmocka_unit_test(test_two_vms_at_once),
    };
    return RUN_ON_EVERY_BACKEND(tests);
}
