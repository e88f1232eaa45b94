/*
 * Harness: the device register interfaces of a SimpleVM on the sim backend, through the
 * VMM's own exit handlers (vm_handle_io, vm_handle_mmio) and the buses, as a guest's port
 * and MMIO accesses reach them: UART, VGA (CRTC, status, text window), debug exit and
 * debugcon, and whatever else the VM registers (the targets come from io_bus_handlers and
 * mmio_bus_handlers, so a device added to vm.c is fuzzed without touching this file).
 * Input: a stream of operations. Op byte: bits 0-2 the kind (FUZZ_DEV_*), bits 3-4 the
 * size (1, 2, 4, 8; port I/O caps at 4), bit 5 string I/O (a count byte follows), bits
 * 6-7 the target (3: a raw 16-bit port / 32-bit address, else a registered range chosen
 * by the next byte and an offset byte); then the value (4 bytes; 8 for MMIO writes).
 * Fresh VM per input, so every finding replays; at most FUZZ_DEV_OPS ops. The VM has an
 * IDE disk and a floppy (a 64 KiB image whose writes go to a snapshot overlay), so the IDE
 * channel's task file and data port, the floppy controller and the ISA DMA controllers
 * (whose transfers reach guest RAM) are among the targets.
 */
#include <stdio.h>
#include <string.h>

#include <stdlib.h>
#include <unistd.h>

#include "block/block.h"
#include "dev/fdc.h"
#include "dev/ide.h"
#include "fuzz.h"
#include "hypervisor_sim.h"

#define FUZZ_DEV_OPS 4096

enum { FUZZ_DEV_IN, FUZZ_DEV_OUT, FUZZ_DEV_MMIO_READ, FUZZ_DEV_MMIO_WRITE, FUZZ_DEV_SERIAL_RX,
       FUZZ_DEV_VGA_RENDER, FUZZ_DEV_KINDS };

static FILE *devnull;
static char disk_path[] = "/tmp/scratchvm-fuzz-ide.XXXXXX";
static bool have_disk;

static void remove_disk(void) { unlink(disk_path); }

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    devnull = fuzz_quiet_output();
    int fd = mkstemp(disk_path);
    if (fd >= 0) {
        have_disk = ftruncate(fd, 64 * 1024) == 0;
        close(fd);
        atexit(remove_disk);
    }
    return 0;
}

/* A port: raw, or inside one of the registered ranges. */
static uint16_t pick_port(SimpleVM *svm, FuzzIn *in, unsigned target)
{
    size_t n = 0;
    IoPortHandler *h = io_bus_handlers(svm->io_bus, &n);
    if (target == 3 || !n)
        return (uint16_t)fuzz_take(in, 2);
    const IoPortHandler *r = &h[fuzz_take(in, 1) % n];
    return (uint16_t)(r->base + fuzz_take(in, 1) % (r->length + 1u));   /* +1: one past */
}

static uint64_t pick_addr(SimpleVM *svm, FuzzIn *in, unsigned target)
{
    size_t n = 0;
    MmioHandler *h = mmio_bus_handlers(svm->mmio_bus, &n);
    if (target == 3 || !n)
        return fuzz_take(in, 4);
    const MmioHandler *r = &h[fuzz_take(in, 1) % n];
    uint64_t off = fuzz_take(in, 2);
    return r->base + off % (r->length + 8);             /* and a few bytes past the end */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    SimpleVM *svm = vm_create_bytes(VM_MIN_RAM, HV_BACKEND_SIM);
    if (!svm)
        return 0;
    BlockDev *bd;
    if (have_disk && block_open(disk_path, BLOCK_FORMAT_RAW, BLOCK_SNAPSHOT, &bd) == 0)
        vm_add_ide_disk(svm, 0, bd);   /* the VM owns bd, also when this fails */
    if (have_disk && block_open(disk_path, BLOCK_FORMAT_RAW, BLOCK_SNAPSHOT, &bd) == 0)
        vm_add_floppy(svm, 0, bd, true);   /* the same image as a floppy: FDC and ISA DMA */
    KvmRun *run = svm->vcpu->kvm_run;
    FuzzIn in = { data, size };
    for (int op = 0; op < FUZZ_DEV_OPS && in.left; op++) {
        unsigned b = fuzz_take(&in, 1);
        unsigned kind = (b & 7) % FUZZ_DEV_KINDS;
        unsigned sz = 1u << ((b >> 3) & 3);
        bool string = b & 0x20;
        unsigned target = b >> 6;
        if (kind == FUZZ_DEV_IN || kind == FUZZ_DEV_OUT) {
            if (sz == 8)
                sz = 4;
            uint32_t count = string ? 1 + fuzz_take(&in, 1) : 1;
            run->exit_reason = KVM_EXIT_IO;
            run->io.direction = kind == FUZZ_DEV_IN ? KVM_EXIT_IO_IN : KVM_EXIT_IO_OUT;
            run->io.size = (uint8_t)sz;
            run->io.port = pick_port(svm, &in, target);
            run->io.count = count;
            /* Where the sim kernel puts the data (the MMIO fields share the union). */
            run->io.data_offset = sizeof(*run);
            uint8_t *buf = (uint8_t *)run + run->io.data_offset;
            if (run->io.data_offset + (uint64_t)sz * count > svm->vcpu->kvm_run_size)
                continue;
            for (uint32_t i = 0; i < sz * count; i++)
                buf[i] = (uint8_t)fuzz_take(&in, 1);
            vm_handle_io(svm, run);
        } else if (kind == FUZZ_DEV_MMIO_READ || kind == FUZZ_DEV_MMIO_WRITE) {
            run->exit_reason = KVM_EXIT_MMIO;
            run->mmio.phys_addr = pick_addr(svm, &in, target);
            run->mmio.len = sz;
            run->mmio.is_write = kind == FUZZ_DEV_MMIO_WRITE;
            uint64_t v = fuzz_take(&in, 4);
            v |= (uint64_t)fuzz_take(&in, 4) << 32;
            memcpy(run->mmio.data, &v, sizeof(v));
            vm_handle_mmio(svm, run);
        } else if (kind == FUZZ_DEV_SERIAL_RX) {
            size_t n = fuzz_take(&in, 1);
            if (n > in.left)
                n = in.left;
            serial_receive(svm->serial, in.p, n);
            in.p += n;
            in.left -= n;
        } else if (devnull) {
            vga_display_to(svm->vga, devnull);
            char row[256];
            vga_render_row(svm->vga, (int)(int8_t)fuzz_take(&in, 1), row, sizeof(row));
        }
    }
    vm_destroy(svm);
    return 0;
}
