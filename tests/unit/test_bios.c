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
#include "block/block.h"
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

/* ---- the CD-ROM: El Torito and int 13h on drive E0h ---- */

#define ISO_SECTORS 40
#define ISO_CATALOG 20
#define ISO_BOOT 21

/* A minimal El Torito CD: boot record at 17, catalog at 20, a 4-sector no-emulation image
 * at 21 (sector i of the image is filled with i, except where the catalog says). */
static void make_iso(uint8_t *iso)
{
    memset(iso, 0, ISO_SECTORS * 2048);
    for (int s = 0; s < ISO_SECTORS; s++)
        memset(iso + s * 2048, s, 2048);
    uint8_t *br = iso + 17 * 2048;
    memset(br, 0, 2048);
    br[0] = 0;
    memcpy(br + 1, "CD001", 5);
    br[6] = 1;
    memcpy(br + 7, "EL TORITO SPECIFICATION", 23);
    put32(br + 0x47, ISO_CATALOG);
    uint8_t *cat = iso + ISO_CATALOG * 2048;
    memset(cat, 0, 2048);
    cat[0] = 1;                           /* validation entry, platform 0 (80x86) */
    memcpy(cat + 4, "ScratchVM", 9);
    cat[30] = 0x55;
    cat[31] = 0xAA;
    uint16_t sum = 0;
    for (int i = 0; i < 32; i += 2)
        sum = (uint16_t)(sum + get16(cat + i));
    put16(cat + 28, (uint16_t)-sum);
    cat[32] = 0x88;                       /* bootable, no emulation, segment 0 (7C0h) */
    put16(cat + 32 + 6, 4);
    put32(cat + 32 + 8, ISO_BOOT);
    iso[ISO_BOOT * 2048 + 510] = 0x55;
    iso[ISO_BOOT * 2048 + 511] = 0xAA;
}

/* Writes iso to a temporary file and opens it read-only as a BlockDev. */
static BlockDev *iso_dev(const uint8_t *iso, size_t size, char *path)
{
    snprintf(path, 64, "/tmp/svm-bios-iso.XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, iso, size), (ssize_t)size);
    close(fd);
    BlockDev *bd;
    assert_int_equal(block_open(path, BLOCK_FORMAT_RAW, BLOCK_READ_ONLY, &bd), 0);
    return bd;
}

static int parse_iso(const uint8_t *iso, size_t size, ElToritoBoot *e)
{
    char path[64];
    BlockDev *bd = iso_dev(iso, size, path);
    int r = vm_bios_eltorito(bd, e);
    block_close(bd);
    unlink(path);
    return r;
}

/* The catalog's fields, and every hostile variant refused with its errno. */
static void test_eltorito_parse(void **state)
{
    (void)state;
    static uint8_t iso[ISO_SECTORS * 2048];
    uint8_t *cat = iso + ISO_CATALOG * 2048, *entry = cat + 32;
    ElToritoBoot e;
    make_iso(iso);
    assert_int_equal(parse_iso(iso, sizeof(iso), &e), 0);
    assert_int_equal(e.media, 0);
    assert_int_equal(e.load_segment, 0x07C0);
    assert_int_equal(e.sectors, 4);
    assert_int_equal(e.load_rba, ISO_BOOT);
    assert_int_equal(e.catalog_rba, ISO_CATALOG);
    assert_int_equal(e.image_size, 2048);
    /* No sector 17, or no boot record there. */
    assert_int_equal(parse_iso(iso, 17 * 2048, &e), -ENOENT);
    iso[17 * 2048 + 7] = 'X';
    assert_int_equal(parse_iso(iso, sizeof(iso), &e), -ENOENT);
    /* The catalog past the end of the image. */
    make_iso(iso);
    put32(iso + 17 * 2048 + 0x47, ISO_SECTORS);
    assert_int_equal(parse_iso(iso, sizeof(iso), &e), -EINVAL);
    put32(iso + 17 * 2048 + 0x47, 0xFFFFFFFF);
    assert_int_equal(parse_iso(iso, sizeof(iso), &e), -EINVAL);
    /* A bad checksum, bad key bytes, a wrong header id, another platform. */
    make_iso(iso);
    cat[28] ^= 1;
    assert_int_equal(parse_iso(iso, sizeof(iso), &e), -EINVAL);
    make_iso(iso);
    cat[31] = 0xAB;
    assert_int_equal(parse_iso(iso, sizeof(iso), &e), -EINVAL);
    make_iso(iso);
    cat[0] = 2;
    assert_int_equal(parse_iso(iso, sizeof(iso), &e), -EINVAL);
    make_iso(iso);
    cat[1] = 0xEF;   /* EFI (its checksum fixed, so the platform is what is refused) */
    put16(cat + 28, (uint16_t)(get16(cat + 28) - 0xEF00));
    assert_int_equal(parse_iso(iso, sizeof(iso), &e), -EINVAL);
    /* The default entry: not bootable, hard disk emulation, an unknown type. */
    make_iso(iso);
    entry[0] = 0x00;
    assert_int_equal(parse_iso(iso, sizeof(iso), &e), -EINVAL);
    make_iso(iso);
    entry[1] = 4;
    assert_int_equal(parse_iso(iso, sizeof(iso), &e), -ENOTSUP);
    entry[1] = 9;
    assert_int_equal(parse_iso(iso, sizeof(iso), &e), -EINVAL);
    /* Load RBAs and sector counts outside the image or conventional memory. */
    make_iso(iso);
    put32(entry + 8, ISO_SECTORS);
    assert_int_equal(parse_iso(iso, sizeof(iso), &e), -EINVAL);
    put32(entry + 8, 0xFFFFFFFF);
    assert_int_equal(parse_iso(iso, sizeof(iso), &e), -EINVAL);
    put32(entry + 8, ISO_SECTORS - 1);   /* 4 virtual sectors fit in its last sector */
    assert_int_equal(parse_iso(iso, sizeof(iso), &e), 0);
    put16(entry + 6, 5);                 /* 5 do not */
    assert_int_equal(parse_iso(iso, sizeof(iso), &e), -EINVAL);
    make_iso(iso);
    put16(entry + 6, 0xFFFF);            /* 32 MiB: past the image */
    assert_int_equal(parse_iso(iso, sizeof(iso), &e), -EINVAL);
    put16(entry + 6, 0);
    assert_int_equal(parse_iso(iso, sizeof(iso), &e), -EINVAL);
    put16(entry + 6, 4);
    put16(entry + 2, 0x9FF0);            /* 2 KiB at 9FF0:0000 runs past 640 KiB */
    assert_int_equal(parse_iso(iso, sizeof(iso), &e), -EINVAL);
    put16(entry + 2, 0xFFFF);
    assert_int_equal(parse_iso(iso, sizeof(iso), &e), -EINVAL);
    put16(entry + 2, 0x0010);            /* over the IVT */
    assert_int_equal(parse_iso(iso, sizeof(iso), &e), -EINVAL);
    put16(entry + 2, 0x2000);
    assert_int_equal(parse_iso(iso, sizeof(iso), &e), 0);
    assert_int_equal(e.load_segment, 0x2000);
    /* A 1.44 MB floppy image must fit in the CD. */
    make_iso(iso);
    entry[1] = 2;
    assert_int_equal(parse_iso(iso, sizeof(iso), &e), -EINVAL);
    assert_int_equal(vm_bios_eltorito(NULL, &e), -EINVAL);
}

/* int 19h boots the CD; int 13h on E0h answers in 2048-byte blocks and refuses writes. */
static void test_cdrom_calls(void **state)
{
    (void)state;
    static uint8_t iso[ISO_SECTORS * 2048];
    char path[64];
    make_iso(iso);
    SimpleVM *svm = bios_vm(NULL);
    BlockDev *bd = iso_dev(iso, sizeof(iso), path);
    assert_int_equal(vm_bios_attach_disk(svm, BIOS_DRIVE_CDROM, bd), 0);
    assert_int_equal(vm_bios_set_boot_order(svm, "d"), 0);
    assert_true(vm_bios_set_boot_order(svm, "x") < 0);
    Regs r = {0};
    uint8_t *f = call(svm, 0x19, &r);
    assert_int_equal(get16(f + 44), 0);        /* CS:IP 0000:7C00 */
    assert_int_equal(get16(f + 42), 0x7C00);
    assert_int_equal(r.edx & 0xFF, 0xE0);
    const uint8_t *boot = vm_guest_ram(svm, 0x7C00, 2048);
    assert_int_equal(boot[0], ISO_BOOT);
    assert_int_equal(boot[510], 0x55);
    assert_int_equal(boot[2047], ISO_BOOT);
    /* 41h, 48h (2048-byte sectors, 40 of them), 15h. */
    r = (Regs){.eax = 0x4100, .ebx = 0x55AA, .edx = 0xE0};
    assert_false(cf(call(svm, 0x13, &r)));
    assert_int_equal(r.ebx & 0xFFFF, 0xAA55);
    uint8_t *p = vm_guest_ram(svm, 0x7000, 0x20);
    memset(p, 0, 0x20);
    put16(p, 0x1A);
    r = (Regs){.eax = 0x4800, .edx = 0xE0, .esi = 0x7000};
    assert_false(cf(call(svm, 0x13, &r)));
    assert_int_equal(get16(p + 24), 2048);
    assert_int_equal(get32(p + 16), ISO_SECTORS);
    r = (Regs){.eax = 0x1500, .edx = 0xE0};
    assert_false(cf(call(svm, 0x13, &r)));
    assert_int_equal(r.eax >> 8 & 0xFF, 0x02);
    /* 4B01h: the specification packet. */
    memset(p, 0xCC, 0x20);
    r = (Regs){.eax = 0x4B01, .edx = 0xE0, .esi = 0x7000};
    assert_false(cf(call(svm, 0x13, &r)));
    assert_int_equal(p[0], 0x13);
    assert_int_equal(p[1], 0);
    assert_int_equal(p[2], 0xE0);
    assert_int_equal(get32(p + 4), ISO_BOOT);
    assert_int_equal(get16(p + 0x0C), 0x07C0);
    assert_int_equal(get16(p + 0x0E), 4);
    assert_int_equal(p[0x13], 0xCC);           /* nothing past the packet */
    r = (Regs){.eax = 0x4B01, .edx = 0xE0, .ds = 0xFFFF, .esi = 0xFFF0};   /* crosses FFFF */
    assert_true(cf(call(svm, 0x13, &r)));
    /* 42h: 2 blocks from LBA 30 into 0000:9000. */
    uint8_t *dap = vm_guest_ram(svm, 0x7100, 16);
    memset(dap, 0, 16);
    dap[0] = 16;
    put16(dap + 2, 2);
    put16(dap + 4, 0x9000);
    dap[8] = 30;
    r = (Regs){.eax = 0x4200, .edx = 0xE0, .esi = 0x7100};
    assert_false(cf(call(svm, 0x13, &r)));
    const uint8_t *buf = vm_guest_ram(svm, 0x9000, 4096);
    assert_int_equal(buf[0], 30);
    assert_int_equal(buf[2047], 30);
    assert_int_equal(buf[2048], 31);
    assert_int_equal(buf[4095], 31);
    /* Hostile packets: the last block and one past it, LBA near 2^64, a count of 65535
     * blocks (128 MiB: past the image and the segment), a buffer crossing its segment. */
    dap[8] = ISO_SECTORS - 1;
    put16(dap + 2, 1);
    r = (Regs){.eax = 0x4200, .edx = 0xE0, .esi = 0x7100};
    assert_false(cf(call(svm, 0x13, &r)));
    put16(dap + 2, 2);
    r = (Regs){.eax = 0x4200, .edx = 0xE0, .esi = 0x7100};
    assert_true(cf(call(svm, 0x13, &r)));
    assert_int_equal(r.eax >> 8 & 0xFF, 0x04);
    assert_int_equal(get16(dap + 2), 0);       /* nothing transferred */
    memset(dap + 8, 0xFF, 8);
    put16(dap + 2, 1);
    r = (Regs){.eax = 0x4200, .edx = 0xE0, .esi = 0x7100};
    assert_true(cf(call(svm, 0x13, &r)));
    memset(dap + 8, 0, 8);
    put16(dap + 2, 0xFFFF);
    r = (Regs){.eax = 0x4200, .edx = 0xE0, .esi = 0x7100};
    assert_true(cf(call(svm, 0x13, &r)));
    put16(dap + 2, 16);                        /* 32 KiB at 0000:9000 fits the image... */
    put16(dap + 4, 0xC000);                    /* ...but not from 0000:C000 */
    uint8_t *edge = vm_guest_ram(svm, 0x10000, 16);
    memset(edge, 0xAB, 16);
    r = (Regs){.eax = 0x4200, .edx = 0xE0, .esi = 0x7100};
    assert_true(cf(call(svm, 0x13, &r)));
    assert_int_equal(r.eax >> 8 & 0xFF, 0x09);
    assert_int_equal(edge[0], 0xAB);
    /* Writes: write-protected (03h); CHS calls: invalid (01h). */
    put16(dap + 2, 1);
    put16(dap + 4, 0x9000);
    r = (Regs){.eax = 0x4300, .edx = 0xE0, .esi = 0x7100};
    assert_true(cf(call(svm, 0x13, &r)));
    assert_int_equal(r.eax >> 8 & 0xFF, 0x03);
    r = (Regs){.eax = 0x0301, .ebx = 0x9000, .ecx = 1, .edx = 0xE0};
    assert_true(cf(call(svm, 0x13, &r)));
    assert_int_equal(r.eax >> 8 & 0xFF, 0x03);
    r = (Regs){.eax = 0x0201, .ebx = 0x9000, .ecx = 1, .edx = 0xE0};
    assert_true(cf(call(svm, 0x13, &r)));
    assert_int_equal(r.eax >> 8 & 0xFF, 0x01);
    r = (Regs){.eax = 0x0800, .edx = 0xE0};
    assert_true(cf(call(svm, 0x13, &r)));
    r = (Regs){.eax = 0x0100, .edx = 0xE0};
    assert_true(cf(call(svm, 0x13, &r)));       /* the last status: 01h */
    assert_int_equal(r.eax >> 8 & 0xFF, 0x01);
    vm_destroy(svm);
    /* The image is unchanged. */
    uint8_t back[2048];
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fread(back, 1, sizeof(back), fp), sizeof(back));
    fclose(fp);
    assert_int_equal(back[0], 0);
    unlink(path);
}

/* Floppy emulation: the 1.44 MB image at the load RBA is drive 00h (write-protected)
 * until AH=4B00h gives drive 00h back. */
static void test_cdrom_floppy_emulation(void **state)
{
    (void)state;
    size_t size = (size_t)ISO_BOOT * 2048 + 1474560;
    uint8_t *iso = calloc(1, size);
    assert_non_null(iso);
    make_iso(iso);
    iso[ISO_CATALOG * 2048 + 33] = 2;          /* media 1.44 MB */
    memset(iso + ISO_BOOT * 2048 + 512, 0x5A, 512);
    char path[64];
    SimpleVM *svm = bios_vm(NULL);
    assert_int_equal(vm_bios_attach_disk(svm, BIOS_DRIVE_CDROM, iso_dev(iso, size, path)), 0);
    Regs r = {0};
    call(svm, 0x19, &r);
    assert_int_equal(r.edx & 0xFF, 0x00);
    assert_int_equal(vm_guest_ram(svm, 0x7C00, 512)[510], 0x55);
    r = (Regs){.eax = 0x0201, .ebx = 0x9000, .ecx = 0x0002, .edx = 0x0000};   /* sector 2 */
    assert_false(cf(call(svm, 0x13, &r)));
    assert_int_equal(*vm_guest_ram(svm, 0x9000, 1), 0x5A);
    r = (Regs){.eax = 0x0800, .edx = 0x00};
    assert_false(cf(call(svm, 0x13, &r)));
    assert_int_equal(r.ecx & 0x3F, 18);
    r = (Regs){.eax = 0x0301, .ebx = 0x9000, .ecx = 0x0002, .edx = 0x0000};
    assert_true(cf(call(svm, 0x13, &r)));
    assert_int_equal(r.eax >> 8 & 0xFF, 0x03);
    uint8_t *p = vm_guest_ram(svm, 0x7000, 0x13);
    r = (Regs){.eax = 0x4B00, .edx = 0x00, .esi = 0x7000};
    assert_false(cf(call(svm, 0x13, &r)));
    assert_int_equal(p[1], 2);
    assert_int_equal(p[2], 0x00);
    r = (Regs){.eax = 0x0201, .ebx = 0x9000, .ecx = 0x0002, .edx = 0x0000};
    assert_true(cf(call(svm, 0x13, &r)));       /* no drive 00h any more */
    vm_destroy(svm);
    unlink(path);
    free(iso);
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
        cmocka_unit_test(test_eltorito_parse),
        cmocka_unit_test(test_cdrom_calls),
        cmocka_unit_test(test_cdrom_floppy_emulation),
    };
    const struct CMUnitTest handoff[] = {cmocka_unit_test(test_kernel_handoff)};
    return cmocka_run_group_tests_name("bios", tests, setup, teardown) |
           cmocka_run_group_tests_name("bios-handoff", handoff, NULL, NULL);
}
