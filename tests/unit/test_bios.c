/* Unit tests for the BIOS services (src/vmm/bios.c) through their call port, as the
 * firmware's stubs reach them: results in the frame, and hostile frames and arguments
 * (buffers outside RAM, huge counts and LBAs, windows off the screen, random frames)
 * that must end in an error status, never a crash or a write outside guest RAM. The
 * guests that call the BIOS for real run in test_parity.c and tests/guests/run.sh. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <time.h>

#include "hypervisor_sim.h"
#include "vmm/bios.h"
#include "vmm/block.h"
#include "vmm/platform.h"

#define FRAME 0x6000
enum { F_ES = 4, F_DS = 6, F_EDI = 8, F_ESI = 12, F_EBX = 24, F_EDX = 28, F_ECX = 32,
       F_EAX = 36, F_VECTOR = 40, F_FLAGS = 46 };

typedef struct { uint32_t eax, ebx, ecx, edx, esi, edi; uint16_t ds, es; } Regs;

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint16_t get16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }

/* One BIOS call: the frame at 0000:6000, then the stub's OUT. Returns the frame. */
static uint8_t *call(SimpleVM *svm, int vector, Regs *r)
{
    uint8_t *f = vm_guest_ram(svm, FRAME, 48);
    memset(f, 0, 48);
    put16(f + F_ES, r->es);
    put16(f + F_DS, r->ds);
    put32(f + F_EDI, r->edi);
    put32(f + F_ESI, r->esi);
    put32(f + F_EBX, r->ebx);
    put32(f + F_EDX, r->edx);
    put32(f + F_ECX, r->ecx);
    put32(f + F_EAX, r->eax);
    put16(f + F_VECTOR, (uint16_t)vector);
    put16(f + F_FLAGS, 0x0002);
    assert_int_equal(io_bus_out(svm->io_bus, BIOS_CALL_PORT, 4, FRAME), 0);
    r->eax = get32(f + F_EAX);
    r->ebx = get32(f + F_EBX);
    r->ecx = get32(f + F_ECX);
    r->edx = get32(f + F_EDX);
    return f;
}

static bool cf(const uint8_t *f) { return get16(f + F_FLAGS) & 1; }

static SimpleVM *bios_vm(const char *disk_path)
{
    SimpleVM *svm = vm_create_backend(16, HV_BACKEND_SIM);
    assert_non_null(svm);
    svm->serial->output_fd = -1;
    assert_int_equal(vm_bios_install(svm), 0);
    if (disk_path) {
        BlockDev *bd;
        assert_int_equal(block_open(disk_path, BLOCK_FORMAT_RAW, 0, &bd), 0);
        assert_int_equal(vm_bios_attach_disk(svm, BIOS_DRIVE_HD0, bd), 0);
    }
    assert_int_equal(vm_bios_post(svm), 0);
    return svm;
}

static char disk[64];

static int setup(void **state)
{
    (void)state;
    snprintf(disk, sizeof(disk), "/tmp/svm-bios-disk.XXXXXX");
    int fd = mkstemp(disk);
    if (fd < 0)
        return -1;
    uint8_t sector[512];
    for (int i = 0; i < 64; i++) {   /* 64 sectors, each filled with its number */
        memset(sector, i, sizeof(sector));
        if (write(fd, sector, sizeof(sector)) != (ssize_t)sizeof(sector))
            return -1;
    }
    close(fd);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(disk);
    return 0;
}

static void test_post_ivt_bda(void **state)
{
    (void)state;
    SimpleVM *svm = bios_vm(disk);
    const uint8_t *ivt = vm_guest_ram(svm, 0, 0x500);
    assert_int_equal(get16(ivt + 0x13 * 4 + 2), 0xF000);   /* every vector into the BIOS */
    assert_int_equal(get16(ivt + 0x413), 639);
    assert_int_equal(ivt[0x475], 1);                        /* one hard disk */
    assert_int_equal(ivt[0x449], 3);                        /* mode 3 */
    assert_true(vm_bios_attach_disk(svm, 0x42, NULL) < 0);
    vm_destroy(svm);
}

static void test_disk_calls(void **state)
{
    (void)state;
    SimpleVM *svm = bios_vm(disk);
    /* CHS: cylinder 0, head 1, sector 3 = LBA 63 + 2 = 65: past the 64 sectors. */
    Regs r = {.eax = 0x0201, .ebx = 0x8000, .ecx = 0x0003, .edx = 0x0180};
    uint8_t *f = call(svm, 0x13, &r);
    assert_true(cf(f));
    assert_int_equal(r.eax >> 8 & 0xFF, 0x04);
    r = (Regs){.eax = 0x0202, .ebx = 0x8000, .ecx = 0x0005, .edx = 0x0080};   /* LBA 4, 5 */
    f = call(svm, 0x13, &r);
    assert_false(cf(f));
    assert_int_equal(r.eax & 0xFFFF, 0x0002);
    const uint8_t *buf = vm_guest_ram(svm, 0x8000, 1024);
    assert_int_equal(buf[0], 4);
    assert_int_equal(buf[1023], 5);
    /* A buffer in the VGA window: error 09h, nothing read. */
    r = (Regs){.eax = 0x0201, .es = 0xA000, .ebx = 0, .ecx = 0x0001, .edx = 0x0080};
    f = call(svm, 0x13, &r);
    assert_true(cf(f));
    assert_int_equal(r.eax >> 8 & 0xFF, 0x09);
    /* Extensions: check, then a packet with LBA 10, 1 sector to 0000:9000. */
    r = (Regs){.eax = 0x4100, .ebx = 0x55AA, .edx = 0x80};
    f = call(svm, 0x13, &r);
    assert_false(cf(f));
    assert_int_equal(r.ebx & 0xFFFF, 0xAA55);
    uint8_t *dap = vm_guest_ram(svm, 0x7000, 16);
    memset(dap, 0, 16);
    dap[0] = 16;
    put16(dap + 2, 1);
    put16(dap + 4, 0x9000);
    dap[8] = 10;
    r = (Regs){.eax = 0x4200, .edx = 0x80, .esi = 0x7000};
    f = call(svm, 0x13, &r);
    assert_false(cf(f));
    assert_int_equal(*vm_guest_ram(svm, 0x9000, 1), 10);
    /* Hostile packets: LBA near 2^64, a count past the disk, a buffer past RAM. */
    memset(dap + 8, 0xFF, 8);
    r = (Regs){.eax = 0x4200, .edx = 0x80, .esi = 0x7000};
    assert_true(cf(call(svm, 0x13, &r)));
    dap[8] = 1;
    memset(dap + 9, 0, 7);
    put16(dap + 2, 0xFFFF);
    r = (Regs){.eax = 0x4300, .edx = 0x80, .esi = 0x7000};
    assert_true(cf(call(svm, 0x13, &r)));
    put16(dap + 2, 1);
    put16(dap + 6, 0xFFFF);   /* FFFF:9000 is past 1 MiB + ... in 16 MiB RAM it is RAM */
    put16(dap + 4, 0xFFFF);
    r = (Regs){.eax = 0x4200, .edx = 0x80, .esi = 0x7000};
    call(svm, 0x13, &r);
    r = (Regs){.eax = 0x4200, .edx = 0x80, .ds = 0xFFFF, .esi = 0xFFFF};   /* DAP at the edge */
    call(svm, 0x13, &r);
    /* A write, then the data on the file. */
    memset(vm_guest_ram(svm, 0x9000, 512), 0xEE, 512);
    r = (Regs){.eax = 0x0301, .ebx = 0x9000, .ecx = 0x0001, .edx = 0x0080};
    assert_false(cf(call(svm, 0x13, &r)));
    /* Parameters and the absent drives. */
    r = (Regs){.eax = 0x0800, .edx = 0x80};
    assert_false(cf(call(svm, 0x13, &r)));
    assert_int_equal(r.edx & 0xFF, 1);
    assert_int_equal((r.ecx & 0x3F), 63);
    r = (Regs){.eax = 0x0201, .ebx = 0x8000, .ecx = 1, .edx = 0x81};
    assert_true(cf(call(svm, 0x13, &r)));
    r = (Regs){.eax = 0x0201, .ebx = 0x8000, .ecx = 1, .edx = 0x00};
    assert_true(cf(call(svm, 0x13, &r)));
    vm_destroy(svm);
    FILE *fp = fopen(disk, "rb");
    uint8_t first[512];
    assert_int_equal(fread(first, 1, 512, fp), 512);
    fclose(fp);
    assert_int_equal(first[0], 0xEE);
    assert_int_equal(first[511], 0xEE);
}

/* Issue 24: buffers the BIOS must not use. A transfer whose ES:BX + count x 512 runs
 * past the end of its segment (the guest's offset wraps to ES:0000; it never names the
 * next segment's bytes) and one into the read-only firmware fail with CF=1 (int 13h:
 * AH=09h), and no byte outside what the guest named changes. */
static void test_buffer_bounds(void **state)
{
    (void)state;
    SimpleVM *svm = bios_vm(disk);
    uint8_t *past = vm_guest_ram(svm, 0x10000, 512);
    memset(past, 0xAB, 512);
    /* CHS, LBA 4 and 5 at 0000:FE00: the second sector would land at 1000:0000. */
    Regs r = {.eax = 0x0202, .ebx = 0xFE00, .ecx = 0x0005, .edx = 0x0080};
    uint8_t *f = call(svm, 0x13, &r);
    assert_true(cf(f));
    assert_int_equal(r.eax >> 8 & 0xFF, 0x09);
    assert_int_equal(r.eax & 0xFF, 0);
    assert_int_equal(past[0], 0xAB);
    /* Up to the last byte of the segment is fine. */
    r = (Regs){.eax = 0x0202, .ebx = 0xFC00, .ecx = 0x0005, .edx = 0x0080};
    assert_false(cf(call(svm, 0x13, &r)));
    assert_int_equal(*vm_guest_ram(svm, 0xFFFF, 1), 5);
    assert_int_equal(past[0], 0xAB);
    /* The same through an EDD packet: 2 blocks from LBA 4 to 0000:FE00. */
    uint8_t *dap = vm_guest_ram(svm, 0x7000, 16);
    memset(dap, 0, 16);
    dap[0] = 16;
    put16(dap + 2, 2);
    put16(dap + 4, 0xFE00);
    dap[8] = 4;
    r = (Regs){.eax = 0x4200, .edx = 0x80, .esi = 0x7000};
    assert_true(cf(call(svm, 0x13, &r)));
    assert_int_equal(r.eax >> 8 & 0xFF, 0x09);
    assert_int_equal(get16(dap + 2), 0);   /* no block transferred */
    assert_int_equal(past[0], 0xAB);
    /* A packet or a result buffer that crosses the segment's end. */
    r = (Regs){.eax = 0x4200, .edx = 0x80, .esi = 0xFFF8};
    assert_true(cf(call(svm, 0x13, &r)));
    r = (Regs){.eax = 0x4800, .edx = 0x80, .esi = 0xFFF0};
    put16(vm_guest_ram(svm, 0xFFF0, 2), 0x1A);
    assert_true(cf(call(svm, 0x13, &r)));
    assert_int_equal(past[0], 0xAB);
    r = (Regs){.eax = 0xE820, .edx = 0x534D4150, .ecx = 20, .edi = 0xFFF0};
    assert_true(cf(call(svm, 0x15, &r)));
    assert_int_equal(past[0], 0xAB);
    /* The firmware at F000:0000 is read-only to the guest (its slot is KVM_MEM_READONLY):
     * not a buffer either, and the ROM stays as it was. */
    r = (Regs){.eax = 0x0201, .es = 0xF000, .ebx = 0, .ecx = 0x0001, .edx = 0x0080};
    assert_true(cf(call(svm, 0x13, &r)));
    assert_int_equal(r.eax >> 8 & 0xFF, 0x09);
    assert_memory_equal(kvm_guest_ptr(svm->vm, 0xF0000, 8), "SVMBIOS1", 8);
    r = (Regs){.eax = 0xE820, .edx = 0x534D4150, .ecx = 20, .es = 0xF000, .edi = 0};
    assert_true(cf(call(svm, 0x15, &r)));
    assert_memory_equal(kvm_guest_ptr(svm->vm, 0xF0000, 8), "SVMBIOS1", 8);
    vm_destroy(svm);
}

static void test_video_and_misc(void **state)
{
    (void)state;
    SimpleVM *svm = bios_vm(NULL);
    Regs r = {.eax = 0x0E41};
    call(svm, 0x10, &r);
    assert_int_equal(svm->vga->vram[0], 'A');
    assert_int_equal(svm->vga->cursor_x, 1);
    r = (Regs){.eax = 0x0200, .edx = 0x1850};   /* row 24, column 80 → clamped */
    call(svm, 0x10, &r);
    assert_int_equal(svm->vga->cursor_y, 24);
    r = (Regs){.eax = 0x0E0A};                  /* a line feed on the last row scrolls */
    call(svm, 0x10, &r);
    r = (Regs){.eax = 0x0601, .ebx = 0x1700, .ecx = 0, .edx = 0xFFFF};   /* window off-screen */
    call(svm, 0x10, &r);
    r = (Regs){.eax = 0x0958, .ebx = 0x1F, .ecx = 0xFFFF};              /* CX huge: bounded */
    call(svm, 0x10, &r);
    r = (Regs){.eax = 0x0013};
    call(svm, 0x10, &r);
    r = (Regs){.eax = 0x0F00};
    call(svm, 0x10, &r);
    assert_int_equal(r.eax & 0xFF, 0x13);
    /* E820 with a bad index or a buffer outside RAM. */
    r = (Regs){.eax = 0xE820, .edx = 0x534D4150, .ebx = 99, .ecx = 20, .edi = 0x9000};
    assert_true(cf(call(svm, 0x15, &r)));
    r = (Regs){.eax = 0xE820, .edx = 0x534D4150, .ecx = 20, .es = 0xA000};
    assert_true(cf(call(svm, 0x15, &r)));
    uint64_t before = vm_bios_unsupported(svm);
    r = (Regs){.eax = 0x1234};
    uint8_t *f = call(svm, 0x14, &r);
    assert_true(cf(f));
    assert_int_equal(r.eax >> 8 & 0xFF, 0x86);
    assert_int_equal(vm_bios_unsupported(svm), before + 1);
    /* int 16h AH=05h stores a key that AH=00h then reads; int 15h AH=86h waits. */
    r = (Regs){.eax = 0x0500, .ecx = 0x1C0D};
    call(svm, 0x16, &r);
    assert_int_equal(r.eax & 0xFF, 0);
    r = (Regs){.eax = 0x0000};
    call(svm, 0x16, &r);
    assert_int_equal(r.eax & 0xFFFF, 0x1C0D);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    r = (Regs){.eax = 0x8600, .ecx = 0, .edx = 20000};   /* 20 ms */
    f = call(svm, 0x15, &r);
    assert_true(get16(f + F_VECTOR) & 0x8000);            /* come back later */
    int rounds = 0;
    while (get16(f + F_VECTOR) & 0x8000 && rounds++ < 1000) {
        put16(f + F_VECTOR, 0x15);
        assert_int_equal(io_bus_out(svm->io_bus, BIOS_CALL_PORT, 4, FRAME), 0);
    }
    assert_false(get16(f + F_VECTOR) & 0x8000);
    assert_false(cf(f));
    /* The wait is for the time asked, however few retries a loaded host gets to run. */
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int64_t waited_us = (t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000;
    assert_true(rounds >= 1);
    assert_true(waited_us >= 19000);
    /* A frame that is not in RAM is ignored. */
    assert_int_equal(io_bus_out(svm->io_bus, BIOS_CALL_PORT, 4, 0xA000u << 16), 0);
    /* So is one that crosses the end of its segment (a stack that wrapped): the bytes
     * past 0000:FFFF are not its own, and an int 11h there wrote AX into them. */
    uint8_t *next = vm_guest_ram(svm, 0x10000, 16);
    memset(next, 0, 16);
    put16(next + 8, 0x11);   /* where the vector would be, at frame + 40 */
    assert_int_equal(io_bus_out(svm->io_bus, BIOS_CALL_PORT, 4, 0xFFE0), 0);
    for (int i = 0; i < 16; i++)
        assert_int_equal(next[i], i == 8 ? 0x11 : 0);
    assert_int_equal(io_bus_out(svm->io_bus, BIOS_CALL_PORT, 1, 0), 0);
    vm_destroy(svm);
}

/* Random frames: every vector and register value, under the sanitizers in make check. */
static void test_random_frames(void **state)
{
    (void)state;
    SimpleVM *svm = bios_vm(disk);
    srand(12345);
    for (int i = 0; i < 20000; i++) {
        Regs r = {(uint32_t)rand(), (uint32_t)rand(), (uint32_t)rand(), (uint32_t)rand(),
                  (uint32_t)rand(), (uint32_t)rand(), (uint16_t)rand(), (uint16_t)rand()};
        static const int vectors[] = {0x10, 0x11, 0x12, 0x13, 0x15, 0x16, 0x1A, 0x09, 0x08, 0x70, 0x14};
        int v = vectors[rand() % (int)(sizeof(vectors) / sizeof(vectors[0]))];
        if ((v == 0x16 && ((r.eax >> 8 & 0xEF) == 0)) || (v == 0x15 && (r.eax >> 8 & 0xFF) == 0x86))
            continue;   /* a read that waits for a key: returns "retry" */
        if (v == 0x13 && (r.eax >> 8 & 0xFF) == 0x03)
            continue;   /* keep the disk's contents for the other tests */
        if (v == 0x13 && (r.eax >> 8 & 0xFF) == 0x43)
            continue;
        call(svm, v, &r);
    }
    vm_destroy(svm);
}

/* The firmware's hand-off before -kernel (as SeaBIOS leaves QEMU's machine): IVT entry 8
 * in the BIOS, the 8259A pair initialised at 08h/70h with IRQ0 and the cascade open, and
 * the PIT's channel 0 running: IRQ0 arrives as vector 8. */
static void test_kernel_handoff(void **state)
{
    (void)state;
    SimpleVM *svm = vm_create_backend(16, HV_BACKEND_SIM);
    assert_non_null(svm);
    assert_int_equal(vm_bios_kernel_handoff(svm), 0);
    const uint8_t *ivt = vm_guest_ram(svm, 8 * 4, 4);
    assert_int_equal(ivt[2] | ivt[3] << 8, 0xF000);
    PicChipState m, sl;
    pic_chip_state(svm->platform->pic, 0, &m);
    pic_chip_state(svm->platform->pic, 1, &sl);
    assert_int_equal(m.init_step, 0);
    assert_int_equal(sl.init_step, 0);
    assert_int_equal(m.irq_base, 0x08);
    assert_int_equal(sl.irq_base, 0x70);
    assert_int_equal(m.imr, 0xFA);
    assert_int_equal(sl.imr, 0xFF);
    /* 65536 PIT clocks at 1193182 Hz later, IRQ0 is pending: vector 8. */
    pit_advance(svm->platform->pit, dev_clock_now(&svm->platform->clock) + 60000000ull);
    assert_true(pic_interrupt_pending(svm->platform->pic));
    assert_int_equal(pic_acknowledge(svm->platform->pic), 0x08);
    vm_destroy(svm);
}

int main(void)
{
    hv_set_log_level(HV_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_post_ivt_bda),
        cmocka_unit_test(test_disk_calls),
        cmocka_unit_test(test_buffer_bounds),
        cmocka_unit_test(test_video_and_misc),
        cmocka_unit_test(test_random_frames),
    };
    const struct CMUnitTest handoff[] = {cmocka_unit_test(test_kernel_handoff)};
    return cmocka_run_group_tests_name("bios", tests, setup, teardown) |
           cmocka_run_group_tests_name("bios-handoff", handoff, NULL, NULL);
}
