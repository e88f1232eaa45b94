/*
 * SimpleVM: one vCPU, RAM, COM1, VGA text mode and the debug-exit port, on any backend.
 * Owns the run loop: every exit the kernel hands to user space is dispatched here.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <linux/kvm_para.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "dev/device.h"
#include "dev/fdc.h"
#include "dev/ide.h"
#include "kvm/backend.h"
#include "vmm/bios.h"
#include "vmm/paging.h"
#include "vmm/platform.h"
#include "vmm/vm_devices.h"

#define KIB 1024ull
#define MIB (1024ull * KIB)
#define GIB (1024ull * MIB)
#define PAGE_SIZE 4096ull
#define X86_MAX_PREFIXES 14   /* an instruction is at most 15 bytes */
#define X86_RFLAGS_IF (1u << 9)
#define X86_DB_VECTOR 1       /* #DB (SDM Vol. 3A, 6.3.1) */
#define X86_PF_VECTOR 14      /* #PF */
#define X86_RFLAGS_VM (1ull << 17)   /* virtual-8086 mode (SDM Vol. 1, 3.4.3.3) */

/* Memory slots of the layout below. */
enum {
    SLOT_LOW_RAM,   /* [0, 0xA0000) */
    SLOT_HIGH_RAM,  /* [0xC0000, RAM end), or [0xC0000, ROM start) with firmware */
    SLOT_EXT_RAM,   /* [1 MiB, RAM end) with firmware */
    SLOT_ROM_LOW,   /* firmware ending at 1 MiB */
    SLOT_ROM_HIGH,  /* the same image ending at 4 GiB */
};

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* The vCPU whose exit the run loop handles, and the one the tools look at. */
static KvmVcpu *cur_vcpu(const SimpleVM *svm) { return svm->vcpus[svm->cur_vcpu]; }
static KvmVcpu *sel_vcpu(const SimpleVM *svm) { return svm->vcpus[svm->sel_vcpu]; }

/* A vCPU's turn on the sim backend, in retired instructions: short enough that a vCPU
 * spinning on a lock held by another one gives way soon (about a millisecond), long
 * enough that the switch (every decoded block checked once against memory) is cheap. */
#define SMP_SLICE_INSNS 200000ull
/* The KVM backend cannot count instructions: the slicer thread kicks the running vCPU
 * out of KVM_RUN this often. */
#define SMP_SLICE_NS 2000000ull

SimpleVM *vm_create(size_t memory_mb) { return vm_create_backend(memory_mb, HV_BACKEND_AUTO); }

SimpleVM *vm_create_backend(size_t memory_mb, HvBackend b)
{
    if (memory_mb == 0 || memory_mb > VM_MAX_RAM / MIB) {
        hv_fail(EINVAL, "memory size %zu MiB: must be 1 to %llu MiB", memory_mb, VM_MAX_RAM / MIB);
        return NULL;
    }
    return vm_create_bytes(memory_mb * MIB, b);
}

/* Maps RAM as slots around the VGA hole: [0, 0xA0000) and [0xC0000, end). */
static int map_ram(SimpleVM *svm)
{
    uint64_t low_end = min_u64(svm->ram_size, VM_VGA_HOLE_START);
    int r = kvm_set_user_memory_region(svm->vm, SLOT_LOW_RAM, 0, low_end, svm->ram);
    if (r < 0)
        return r;
    if (svm->ram_size > VM_VGA_HOLE_END) {
        r = kvm_set_user_memory_region(svm->vm, SLOT_HIGH_RAM, VM_VGA_HOLE_END,
                                       svm->ram_size - VM_VGA_HOLE_END,
                                       svm->ram + VM_VGA_HOLE_END);
    }
    svm->vm->guest_memory = svm->ram;
    svm->vm->memory_size = svm->ram_size;
    return r;
}

static int register_devices(SimpleVM *svm)
{
    /* Named fields: the struct also has the seed's names for the range. */
#define IO(b, n, r, w, o, label) {.base = b, .length = n, .read = r, .write = w, .opaque = o, .name = label}
    const IoPortHandler io[] = {
        IO(COM1_BASE, 8, serial_io_read, serial_io_write, svm->serial, "serial"),
        IO(DEBUG_EXIT_PORT, 4, debug_exit_io_read, debug_exit_io_write, svm->debug_exit,
           "isa-debug-exit"),
        IO(DEBUG_CONSOLE_PORT, 1, debug_exit_io_read, debug_exit_io_write, svm->debug_exit,
           "debugcon"),
        IO(FW_CFG_PORT_SELECTOR, 2, fw_cfg_io_read, fw_cfg_io_write, svm->fw_cfg, "fw_cfg"),
    };
    const IoPortHandler vga_io[] = {
        IO(VGA_CRTC_INDEX, 2, vga_io_read, vga_io_write, svm->vga, "vga-crtc"),
        IO(VGA_INPUT_STATUS, 1, vga_io_read, vga_io_write, svm->vga, "vga-status"),
    };
#undef IO
    for (size_t i = 0; i < sizeof(io) / sizeof(io[0]); i++) {
        int r = io_bus_register(svm->io_bus, &io[i]);
        if (r < 0)
            return hv_fail(r, "cannot register %s at port 0x%x", io[i].name, io[i].base);
    }
    if (!svm->vga)
        return 0;   /* VM_FLAG_NO_VGA: the ports and windows answer as nothing does */
    for (size_t i = 0; i < sizeof(vga_io) / sizeof(vga_io[0]); i++) {
        int r = io_bus_register(svm->io_bus, &vga_io[i]);
        if (r < 0)
            return hv_fail(r, "cannot register %s at port 0x%x", vga_io[i].name, vga_io[i].base);
    }
    const MmioHandler vga = {.base = VGA_TEXT_BASE, .length = VGA_TEXT_SIZE,
                             .read = vga_mmio_read, .write = vga_mmio_write,
                             .opaque = svm->vga, .name = "vga-text"};
    const MmioHandler gfx = {.base = VGA_GRAPHICS_BASE, .length = VGA_GRAPHICS_SIZE,
                             .read = vga_graphics_mmio_read, .write = vga_graphics_mmio_write,
                             .opaque = svm->vga, .name = "vga-graphics"};
    int r = mmio_bus_register(svm->mmio_bus, &vga);
    if (r == 0)
        r = mmio_bus_register(svm->mmio_bus, &gfx);
    return r < 0 ? hv_fail(r, "cannot register the VGA windows") : 0;
}

/* Device records of the devices SimpleVM names (the fields stay, for the seed's API). */
static void destroy_fw_cfg(void *opaque)
{
    SimpleVM *svm = opaque;
    io_bus_unregister(svm->io_bus, FW_CFG_PORT_SELECTOR, svm->fw_cfg);
    fw_cfg_destroy(svm->fw_cfg);
    svm->fw_cfg = NULL;
}

static void destroy_testdev(void *opaque)
{
    SimpleVM *svm = opaque;
    io_bus_unregister(svm->io_bus, PC_TESTDEV_IOPORT, svm->testdev);
    io_bus_unregister(svm->io_bus, PC_TESTDEV_IRQ_PORT, svm->testdev);
    mmio_bus_unregister(svm->mmio_bus, PC_TESTDEV_IOMEM, svm->testdev);
    pc_testdev_destroy(svm->testdev);
    svm->testdev = NULL;
}

static void destroy_serial2(void *opaque)
{
    SimpleVM *svm = opaque;
    io_bus_unregister(svm->io_bus, COM2_BASE, svm->serial2);
    svm->serial2->irq = (IrqLine){0};
    serial_destroy(svm->serial2);
    svm->serial2 = NULL;
}

SimpleVM *vm_create_bytes(size_t memory_bytes, HvBackend b)
{
    return vm_create_flags(memory_bytes, b, 0);
}

SimpleVM *vm_create_flags(size_t memory_bytes, HvBackend b, unsigned flags)
{
    hv_clear_error();
    if (memory_bytes < VM_MIN_RAM || memory_bytes > VM_MAX_RAM || memory_bytes % PAGE_SIZE) {
        hv_fail(EINVAL, "memory size %zu bytes: must be a multiple of 4 KiB from 64 KiB to 3 GiB",
                memory_bytes);
        return NULL;
    }
    SimpleVM *svm = calloc(1, sizeof(*svm));
    if (!svm) {
        hv_fail(ENOMEM, "out of memory");
        return NULL;
    }
    svm->ram_size = memory_bytes;
    /* Guest RAM between two PROT_NONE guards (VM_RAM_GUARD each): a VMM access that
     * runs off either end of RAM faults at once instead of reaching other host memory
     * unnoticed. The guards are address space only, never backed. */
    uint8_t *area = mmap(NULL, memory_bytes + 2 * VM_RAM_GUARD, PROT_NONE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (area == MAP_FAILED ||
        mprotect(area + VM_RAM_GUARD, memory_bytes, PROT_READ | PROT_WRITE) < 0) {
        int e = errno;
        if (area != MAP_FAILED)
            munmap(area, memory_bytes + 2 * VM_RAM_GUARD);
        hv_fail(e, "cannot map %zu bytes of guest RAM: %s", memory_bytes, strerror(e));
        goto fail;
    }
    svm->ram = area + VM_RAM_GUARD;
    if (!(svm->kvm = kvm_open_backend(b)) || !(svm->vm = kvm_create_vm(svm->kvm)))
        goto fail;
    svm->vm->owner = svm;
    /* Every VMM access to guest RAM takes a fresh pointer from vm_guest_ram (DESIGN.md), and
     * writes through svm->ram are announced (vm_guest_ram_written): the sim backend need
     * not recheck decoded code after exits that wrote nothing. */
    svm->vm->host_writes_announced = true;
    if ((flags & VM_FLAG_KERNEL_IRQCHIP) && kvm_create_irqchip(svm->vm) < 0)
        goto fail;
    if (map_ram(svm) < 0)
        goto fail;
    if (!(svm->vcpu = kvm_create_vcpu(svm->vm, 0)))
        goto fail;
    svm->vcpus[0] = svm->vcpu;
    svm->num_vcpus = 1;
    svm->ept = kvm_vm_ept(svm->vm);   /* sim: the VM's own tables; KVM: the host's, unseen */
    svm->io_bus = io_bus_create();
    svm->mmio_bus = mmio_bus_create();
    svm->serial = serial_create_at(COM1_BASE, STDOUT_FILENO);
    svm->vga = flags & VM_FLAG_NO_VGA ? NULL : vga_create();
    svm->debug_exit = debug_exit_create(STDOUT_FILENO);
    if (!svm->io_bus || !svm->mmio_bus || !svm->serial ||
        (!svm->vga && !(flags & VM_FLAG_NO_VGA)) || !svm->debug_exit ||
        !(svm->fw_cfg = fw_cfg_create(memory_bytes, 1)) ||
        vm_device_add(svm, &(DeviceRecord){.name = "fw_cfg", .opaque = svm,
                                           .destroy = destroy_fw_cfg}) < 0) {
        hv_fail(ENOMEM, "out of memory");
        goto fail;
    }
    svm->serial->output_cancel = &svm->output_cancel;
    svm->debug_exit->output_cancel = &svm->output_cancel;
    if (register_devices(svm) < 0 || !(svm->platform = platform_create(svm)) ||
        platform_install_tables(svm->platform) < 0)
        goto fail;
    return svm;

fail:
    {
        int err = errno;
        vm_destroy(svm);
        errno = err;
    }
    return NULL;
}

int vm_add_pc_testdev(SimpleVM *svm)
{
    if (!svm)
        return hv_fail(EINVAL, "vm_add_pc_testdev: no VM");
    if (svm->testdev)
        return hv_fail(EEXIST, "pc-testdev is already there");
    if (!(svm->testdev = pc_testdev_create()))
        return -ENOMEM;
    int added = vm_device_add(svm, &(DeviceRecord){.name = "pc-testdev", .opaque = svm,
                                                   .destroy = destroy_testdev});
    if (added < 0)
        return added;
    svm->testdev->set_irq = platform_set_isa_irq;   /* QEMU wires its lines to the ISA bus */
    svm->testdev->irq_opaque = svm->platform;
    const IoPortHandler io[] = {
        {.base = PC_TESTDEV_IOPORT, .length = 5, .read = pc_testdev_io_read,
         .write = pc_testdev_io_write, .opaque = svm->testdev, .name = "pc-testdev"},
        {.base = PC_TESTDEV_IRQ_PORT, .length = PC_TESTDEV_IRQS, .read = pc_testdev_io_read,
         .write = pc_testdev_io_write, .opaque = svm->testdev, .name = "pc-testdev-irq"},
    };
    for (size_t i = 0; i < sizeof(io) / sizeof(io[0]); i++) {
        int r = io_bus_register(svm->io_bus, &io[i]);
        if (r < 0)
            return hv_fail(r, "cannot register %s at port 0x%x", io[i].name, io[i].base);
    }
    const MmioHandler mem = {.base = PC_TESTDEV_IOMEM, .length = PC_TESTDEV_IOMEM_SIZE,
                             .read = pc_testdev_mmio_read, .write = pc_testdev_mmio_write,
                             .opaque = svm->testdev, .name = "pc-testdev-iomem"};
    int r = mmio_bus_register(svm->mmio_bus, &mem);
    return r < 0 ? hv_fail(r, "cannot register the pc-testdev I/O memory") : 0;
}

uint8_t *vm_guest_ram(SimpleVM *svm, uint64_t gpa, uint64_t len)
{
    if (!svm || len > SIZE_MAX)
        return NULL;
    /* Firmware is not RAM (its slots are read-only to the guest): a service or a load
     * that wrote there would change the ROM behind the guest's back. */
    return kvm_guest_ptr_writable(svm->vm, gpa, (size_t)len);
}

void vm_guest_ram_written(SimpleVM *svm, uint64_t gpa, uint64_t len)
{
    if (svm)
        kvm_note_host_write(svm->vm, gpa, len);
}

static int load_rom(SimpleVM *svm, const uint8_t *image, size_t size, bool shadow);

int vm_load_rom(SimpleVM *svm, const uint8_t *image, size_t size)
{
    return load_rom(svm, image, size, false);
}

int vm_load_rom_shadowed(SimpleVM *svm, const uint8_t *image, size_t size)
{
    if (svm && svm->ram_size < 1 * MIB)
        return hv_fail(EINVAL, "firmware in RAM below 1 MiB needs at least 1 MiB of RAM");
    return load_rom(svm, image, size, true);
}

/* The firmware at the top of 4 GiB (ROM) and below 1 MiB: ROM too, or (shadow) a copy in
 * RAM that the firmware may write. Then the reset state. */
static int load_rom(SimpleVM *svm, const uint8_t *image, size_t size, bool shadow)
{
    if (!svm || !image)
        return hv_fail(EINVAL, "vm_load_rom: bad arguments");
    if (size == 0 || size > VM_MAX_ROM)
        return hv_fail(EFBIG, "firmware of %zu bytes: must be 1 byte to 256 KiB", size);
    if (svm->rom)
        return hv_fail(EBUSY, "firmware is already loaded");
    size_t mapped = (size + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
    uint8_t *rom = mmap(NULL, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (rom == MAP_FAILED)
        return hv_fail(errno, "cannot map firmware: %s", strerror(errno));
    memset(rom, 0xFF, mapped - size);   /* erased flash below a short image */
    memcpy(rom + mapped - size, image, size);
    svm->rom = rom;
    svm->rom_size = mapped;

    /* RAM above the VGA hole gives way to the firmware below 1 MiB. */
    uint64_t rom_low = 1 * MIB - mapped;
    int r = 0;
    if (shadow) {
        if (rom_low < VM_VGA_HOLE_END)
            return hv_fail(EFBIG, "firmware of %zu bytes reaches into the VGA hole", size);
        memcpy(svm->ram + rom_low, rom, mapped);
        vm_guest_ram_written(svm, rom_low, mapped);
    } else if (svm->ram_size > VM_VGA_HOLE_END) {
        if ((r = kvm_set_user_memory_region(svm->vm, SLOT_HIGH_RAM, 0, 0, NULL)) < 0)
            return r;
        uint64_t high_end = min_u64(svm->ram_size, rom_low);
        if (high_end > VM_VGA_HOLE_END &&
            (r = kvm_set_user_memory_region(svm->vm, SLOT_HIGH_RAM, VM_VGA_HOLE_END,
                                            high_end - VM_VGA_HOLE_END,
                                            svm->ram + VM_VGA_HOLE_END)) < 0)
            return r;
        if (svm->ram_size > 1 * MIB &&
            (r = kvm_set_user_memory_region(svm->vm, SLOT_EXT_RAM, 1 * MIB,
                                            svm->ram_size - 1 * MIB, svm->ram + 1 * MIB)) < 0)
            return r;
    }
    if ((!shadow && (r = kvm_set_user_memory_region_flags(svm->vm, SLOT_ROM_LOW,
                                                          KVM_MEM_READONLY, rom_low, mapped,
                                                          rom)) < 0) ||
        (r = kvm_set_user_memory_region_flags(svm->vm, SLOT_ROM_HIGH, KVM_MEM_READONLY,
                                              4 * GIB - mapped, mapped, rom)) < 0)
        return r;
    /* Writes to firmware arrive as MMIO writes; like ROM on a PC, they are dropped. */
    const MmioHandler low = {.base = rom_low, .length = mapped, .name = "rom"};
    const MmioHandler high = {.base = 4 * GIB - mapped, .length = mapped, .name = "rom-high"};
    if ((!shadow && (r = mmio_bus_register(svm->mmio_bus, &low)) < 0) ||
        (r = mmio_bus_register(svm->mmio_bus, &high)) < 0)
        return hv_fail(r, "cannot register the firmware window");

    /* The x86 reset state (SDM Vol. 3A, 10.1.4): CS F000 with base FFFF0000, IP FFF0. */
    KvmVcpu *vcpu = svm->vcpu;
    vcpu->sregs.cs.selector = 0xF000;
    vcpu->sregs.cs.base = 0xFFFF0000;
    vcpu->sregs.cs.limit = 0xFFFF;
    vcpu->regs.rip = 0xFFF0;
    return 0;
}

/* An IDE channel's device record: opaque is the channel; it knows its ports. */
static void destroy_ide(void *opaque)
{
    IdeChannel *ch = opaque;
    SimpleVM *svm = ide_owner(ch);
    for (int c = 0; c < 2; c++) {
        if (svm->ide[c] != ch)
            continue;
        io_bus_unregister(svm->io_bus, c ? IDE_SECONDARY_CMD : IDE_PRIMARY_CMD, ch);
        io_bus_unregister(svm->io_bus, c ? IDE_SECONDARY_CTRL : IDE_PRIMARY_CTRL, ch);
        svm->ide[c] = NULL;
    }
    ide_destroy(ch);
}

static void destroy_ide_pci(void *opaque) { pci_device_remove(opaque); }

#define PIIX_IDETIM 0x40
#define PIIX_IDETIM_DECODE 0x8000

/* With a PCI bus, firmware looks for IDE controllers there (SeaBIOS scans ISA ports only
 * on a machine without PCI): a PIIX3 IDE function in compatibility mode (prog-if 80h:
 * both channels at their legacy ports and IRQs, bus master capable), without BARs (no
 * DMA here). PIIX3 has it at 00:01.1; this bus has functions 0 only, so it takes a slot
 * of its own. */
static int add_ide_pci_function(SimpleVM *svm)
{
    PciBus *bus = vm_pci_bus(svm);
    if (!bus)
        return 0;
    const PciDeviceInfo info = {.name = "piix3-ide", .vendor_id = 0x8086, .device_id = 0x7010,
                                .class_code = 0x010180};
    PciDevice *d = pci_device_add(bus, -1, &info, NULL);
    if (!d)
        return -ENOSPC;
    /* IDETIM (82371SB data sheet: 40-41h primary, 42-43h secondary): bit 15, IDE
     * decode enable, set as firmware leaves it (Linux's ata_piix skips a channel without
     * it); the timing bits are the guest's to write and change nothing here. */
    uint8_t *config = pci_device_config(d);
    config[PIIX_IDETIM + 1] = config[PIIX_IDETIM + 3] = PIIX_IDETIM_DECODE >> 8;
    if (pci_device_config_writable(d, PIIX_IDETIM, 4) < 0)
        return -EINVAL;
    return vm_device_add(svm, &(DeviceRecord){.name = "piix3-ide", .opaque = d,
                                              .destroy = destroy_ide_pci});
}

static int add_ide_drive(SimpleVM *svm, int index, BlockDev *bd, bool cdrom)
{
    if (!svm || !bd || index < 0 || index > 3) {
        block_close(bd);
        return hv_fail(EINVAL, "vm_add_ide_disk: bad arguments");
    }
    int c = index / 2;
    if (!svm->ide[c]) {
        uint16_t cmd = c ? IDE_SECONDARY_CMD : IDE_PRIMARY_CMD;
        uint16_t ctrl = c ? IDE_SECONDARY_CTRL : IDE_PRIMARY_CTRL;
        IdeChannel *ch = ide_create(cmd, ctrl, svm);
        if (!ch) {
            block_close(bd);
            return -ENOMEM;
        }
        svm->ide[c] = ch;
        ide_set_irq_line(ch, &(IrqLine){platform_set_isa_irq, svm->platform,
                                        c ? MACHINE_IRQ_IDE1 : MACHINE_IRQ_IDE0});
        int r = vm_device_add(svm, &(DeviceRecord){.name = c ? "ide1" : "ide0", .opaque = ch,
                                                   .reset = ide_reset, .destroy = destroy_ide});
        if (r == 0 && !svm->ide[1 - c])
            r = add_ide_pci_function(svm);   /* once, with the first channel */
        if (r < 0) {
            block_close(bd);
            return r;
        }
        const IoPortHandler io[] = {
            {.base = cmd, .length = IDE_CMD_PORTS, .read = ide_io_read, .write = ide_io_write,
             .opaque = ch, .name = c ? "ide1" : "ide0"},
            {.base = ctrl, .length = 1, .read = ide_io_read, .write = ide_io_write,
             .opaque = ch, .name = c ? "ide1-control" : "ide0-control"},
        };
        for (int i = 0; i < 2; i++) {
            if ((r = io_bus_register(svm->io_bus, &io[i])) < 0) {
                block_close(bd);   /* the channel stays, empty, until the VM goes */
                return hv_fail(r, "cannot register IDE channel %d at port 0x%x", c, io[i].base);
            }
        }
    }
    int r = cdrom ? ide_attach_cdrom(svm->ide[c], index % 2, bd)
                  : ide_attach(svm->ide[c], index % 2, bd);
    if (r < 0)
        block_close(bd);
    return r;
}

int vm_add_ide_disk(SimpleVM *svm, int index, BlockDev *bd)
{
    return add_ide_drive(svm, index, bd, false);
}

int vm_add_ide_cdrom(SimpleVM *svm, int index, BlockDev *bd)
{
    return add_ide_drive(svm, index, bd, true);
}

static void destroy_fdc(void *opaque)
{
    SimpleVM *svm = opaque;
    fdc_destroy(svm->fdc);
    svm->fdc = NULL;
}

static void reset_fdc(void *opaque) { fdc_reset(((SimpleVM *)opaque)->fdc); }

int vm_add_floppy(SimpleVM *svm, unsigned unit, BlockDev *bd, bool owned)
{
    if (!svm || !svm->platform || !bd || unit >= FDC_DRIVES) {
        if (owned)
            block_close(bd);
        return hv_fail(EINVAL, "vm_add_floppy: bad arguments");
    }
    if (!svm->fdc) {
        const IrqLine irq = {platform_set_isa_irq, svm->platform, MACHINE_IRQ_FDC};
        if (!(svm->fdc = fdc_create(svm->platform->isa_dma, FDC_DMA_CHANNEL, &irq))) {
            if (owned)
                block_close(bd);
            return hv_fail(ENOMEM, "out of memory");
        }
        int r = vm_device_add(svm, &(DeviceRecord){.name = "isa-fdc", .opaque = svm,
                                                   .reset = reset_fdc, .destroy = destroy_fdc});
        const IoPortHandler io[] = {
            {.base = FDC_BASE, .length = FDC_PORTS, .read = fdc_io_read, .write = fdc_io_write,
             .opaque = svm->fdc, .name = "fdc"},
            {.base = FDC_DIR_PORT, .length = 1, .read = fdc_io_read, .write = fdc_io_write,
             .opaque = svm->fdc, .name = "fdc-dir"},
        };
        for (int i = 0; i < 2 && r == 0; i++)
            if ((r = io_bus_register(svm->io_bus, &io[i])) < 0)
                hv_fail(r, "cannot register the floppy controller at port 0x%x", io[i].base);
        if (r < 0) {
            if (owned)
                block_close(bd);
            return r;
        }
    }
    int r = fdc_attach(svm->fdc, unit, bd, owned);
    if (r < 0) {
        if (owned)
            block_close(bd);
        return hv_fail(-r, "floppy drive %u: %s", unit,
                       r == -EEXIST ? "already has a disk" : "not a floppy image");
    }
    rtc_set_floppy_types(svm->platform->rtc, fdc_cmos_drive_types(svm->fdc));
    return 0;
}

static void log_event(void *opaque, const KvmEventInfo *ev);

int vm_set_cpus(SimpleVM *svm, unsigned n)
{
    if (!svm || !svm->platform)
        return hv_fail(EINVAL, "-smp: no VM");
    if (n < 1 || n > VM_MAX_VCPUS)
        return hv_fail(EINVAL, "-smp %u: between 1 and %d vCPUs", n, VM_MAX_VCPUS);
    if (svm->exit_count || svm->runner)
        return hv_fail(EBUSY, "the vCPUs are chosen before the VM first runs");
    if (n < svm->num_vcpus)
        return hv_fail(EBUSY, "-smp %u: the VM has %u vCPUs already", n, svm->num_vcpus);
    while (svm->num_vcpus < n) {
        unsigned i = svm->num_vcpus;
        KvmVcpu *v = kvm_create_vcpu(svm->vm, (int)i);
        if (!v)
            return hv_fail(ENOMEM, "vCPU %u: %s", i, hv_last_error());
        svm->vcpus[i] = v;
        svm->num_vcpus = i + 1;
        int r = platform_add_cpu(svm->platform, i);
        if (r < 0)
            return r;
        if (svm->guest_debug.control && (r = kvm_set_guest_debug2(v, &svm->guest_debug)) < 0)
            return r;
        if ((svm->log_items & VM_LOG_INT) && (r = kvm_vcpu_set_event_hook(v, log_event, svm)) < 0)
            return r;
    }
    svm->platform->machine.cpus = n;
    fw_cfg_set_cpus(svm->fw_cfg, (uint16_t)n);
    return platform_install_tables(svm->platform);
}

int vm_add_debugcon_port(SimpleVM *svm, uint16_t port)
{
    if (!svm || port == DEBUG_CONSOLE_PORT)
        return svm ? 0 : hv_fail(EINVAL, "vm_add_debugcon_port: no VM");
    if (svm->debug_exit->console_port2)
        return hv_fail(EEXIST, "the debug console already has a second port");
    const IoPortHandler io = {.base = port, .length = 1, .read = debug_exit_io_read,
                              .write = debug_exit_io_write, .opaque = svm->debug_exit,
                              .name = "isa-debugcon"};
    int r = io_bus_register(svm->io_bus, &io);
    if (r < 0)
        return hv_fail(r, "cannot register the debug console at port 0x%x", port);
    svm->debug_exit->console_port2 = port;
    return 0;
}

int vm_add_firmware_config(SimpleVM *svm, uint16_t sercon_port)
{
    if (!svm || !svm->fw_cfg)
        return hv_fail(EINVAL, "vm_add_firmware_config: no VM");
    /* QEMU's etc/e820: packed little-endian {u64 address, u64 length, u32 type}; the RAM
     * from 0, whose holes below 1 MiB the firmware knows itself. */
    uint8_t e820[20] = {0};
    for (int i = 0; i < 8; i++)
        e820[8 + i] = (uint8_t)((uint64_t)svm->ram_size >> (8 * i));
    e820[16] = 1;   /* E820 RAM */
    int r = fw_cfg_add_file(svm->fw_cfg, "etc/e820", e820, sizeof(e820));
    const uint8_t port[2] = {(uint8_t)sercon_port, (uint8_t)(sercon_port >> 8)};
    if (r == 0 && sercon_port)
        r = fw_cfg_add_file(svm->fw_cfg, "etc/sercon-port", port, sizeof(port));
    return r;
}

/* The data of a KVM_EXIT_IO: NULL unless size is 1, 2 or 4, count is not 0 and
 * [data_offset, + size * count) lies in the run mapping. Every reader of the data (the
 * handler, the exit record, the trace) takes it from here: the fields come from the
 * kernel and are never used unchecked (issue 24; data_offset is 64 bits, so the bound is
 * tested without adding to it). */
static uint8_t *io_exit_data(const SimpleVM *svm, KvmRun *run)
{
    uint32_t size = run->io.size, count = run->io.count;
    uint64_t bytes = (uint64_t)size * count, mapped = svm->vcpu->kvm_run_size;
    if ((size != 1 && size != 2 && size != 4) || count == 0 || run->io.data_offset > mapped ||
        bytes > mapped - run->io.data_offset)
        return NULL;
    return (uint8_t *)run + run->io.data_offset;
}

/* Port I/O exit: each of `count` elements goes to the bus; IN data is left in the run page
 * for the next entry. */
int vm_handle_io(SimpleVM *svm, KvmRun *run)
{
    uint32_t size = run->io.size, count = run->io.count;
    uint8_t *data = io_exit_data(svm, run);
    if (!data)
        return hv_fail(EPROTO, "malformed I/O exit: port 0x%x size %u count %u offset %llu",
                       run->io.port, size, count, (unsigned long long)run->io.data_offset);
    for (uint32_t i = 0; i < count; i++, data += size) {
        uint32_t v = 0;
        int r;
        if (run->io.direction == KVM_EXIT_IO_IN) {
            r = io_bus_in(svm->io_bus, run->io.port, (uint8_t)size, &v);
            memcpy(data, &v, size);
        } else {
            memcpy(&v, data, size);
            r = io_bus_out(svm->io_bus, run->io.port, (uint8_t)size, v);
        }
        if (r < 0)
            return hv_fail(r, "I/O port 0x%x: device error %d", run->io.port, r);
    }
    return 0;
}

int vm_handle_mmio(SimpleVM *svm, KvmRun *run)
{
    uint32_t len = run->mmio.len;
    if (len == 0 || len > sizeof(run->mmio.data))
        return hv_fail(EPROTO, "malformed MMIO exit: length %u", len);
    uint64_t v = 0;
    int r;
    if (run->mmio.is_write) {
        memcpy(&v, run->mmio.data, len);
        r = mmio_bus_write(svm->mmio_bus, run->mmio.phys_addr, (uint8_t)len, v);
    } else {
        r = mmio_bus_read(svm->mmio_bus, run->mmio.phys_addr, (uint8_t)len, &v);
        memcpy(run->mmio.data, &v, len);
    }
    return r < 0 ? hv_fail(r, "MMIO at 0x%llx: device error %d",
                           (unsigned long long)run->mmio.phys_addr, r)
                 : 0;
}

/* One line per exit: on the software backend first the VMX exit as the VMCS records it
 * (basic reason, qualification, guest-physical address for EPT exits), then what the
 * VMM got. */
static void trace_exit(SimpleVM *svm, KvmRun *run)
{
    FILE *out = svm->trace;
    const VMCS *vmcs = kvm_vcpu_vmcs(cur_vcpu(svm));
    if (svm->num_vcpus > 1)
        fprintf(out, "cpu %u: ", svm->cur_vcpu);
    fputs("exit ", out);
    if (vmcs) {
        uint32_t basic = vmcs->exit.reason & 0xFFFF;
        const char *vmx = vmx_exit_reason_name(basic);
        fprintf(out, "%u %s", basic, vmx ? vmx : "?");
        if (basic == EXIT_REASON_EPT_VIOLATION || basic == EXIT_REASON_EPT_MISCONFIG)
            fprintf(out, " gpa=0x%llx", (unsigned long long)vmcs->exit.guest_physical_address);
        fprintf(out, " qual=0x%llx -> ", (unsigned long long)vmcs->exit.qualification);
    }
    const char *name = kvm_exit_reason_name(run->exit_reason);
    char what[32];
    if (!name) {
        snprintf(what, sizeof(what), "%u", run->exit_reason);
        name = what;
    }
    fprintf(out, "KVM_EXIT_%s", name);
    if (run->exit_reason == KVM_EXIT_IO) {
        const uint8_t *data = io_exit_data(svm, run);
        fprintf(out, " %s port=0x%x size=%u", run->io.direction == KVM_EXIT_IO_IN ? "in" : "out",
                run->io.port, run->io.size);
        if (run->io.count > 1)
            fprintf(out, " count=%u", run->io.count);
        if (!data) {
            fprintf(out, " offset=%llu (malformed)\n", (unsigned long long)run->io.data_offset);
            return;
        }
        fputs(" data=", out);
        uint32_t shown = run->io.count < 8 ? run->io.count : 8;
        for (uint32_t i = 0; i < shown; i++) {
            uint32_t v = 0;
            memcpy(&v, data + i * run->io.size, run->io.size);
            fprintf(out, "%s0x%x", i ? "," : "", v);
        }
        if (shown < run->io.count)
            fputs(",...", out);
        if (run->io.port == POST_PORT && run->io.direction == KVM_EXIT_IO_OUT)
            fprintf(out, " (POST code 0x%02x)", *data);
    } else if (run->exit_reason == KVM_EXIT_MMIO) {
        uint64_t v = 0;
        memcpy(&v, run->mmio.data, run->mmio.len <= 8 ? run->mmio.len : 8);
        fprintf(out, " %s addr=0x%llx len=%u data=0x%" PRIx64, run->mmio.is_write ? "write" : "read",
                (unsigned long long)run->mmio.phys_addr, run->mmio.len, v);
    }
    fputc('\n', out);
}

void vm_dump_registers(SimpleVM *svm, FILE *out)
{
    const KvmRegs *r = &sel_vcpu(svm)->regs;
    const KvmSregs *s = &sel_vcpu(svm)->sregs;
    fprintf(out,
            "RAX=%016llx RBX=%016llx RCX=%016llx RDX=%016llx\n"
            "RSI=%016llx RDI=%016llx RBP=%016llx RSP=%016llx\n"
            "RIP=%016llx RFL=%08llx CR0=%08llx EFER=%08llx\n",
            r->rax, r->rbx, r->rcx, r->rdx, r->rsi, r->rdi, r->rbp, r->rsp, r->rip, r->rflags,
            s->cr0, s->efer);
    const struct { const char *name; const KvmSegment *seg; } segs[] = {
        {"ES", &s->es}, {"CS", &s->cs}, {"SS", &s->ss},
        {"DS", &s->ds}, {"FS", &s->fs}, {"GS", &s->gs},
    };
    for (size_t i = 0; i < sizeof(segs) / sizeof(segs[0]); i++)
        fprintf(out, "%s =%04x %016llx %08x\n", segs[i].name, segs[i].seg->selector,
                segs[i].seg->base, segs[i].seg->limit);
}

/* Logs a failure and the registers, one log line per dump line. */
static void log_failure(SimpleVM *svm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_failure(SimpleVM *svm, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    hv_fail(EIO, "%s", msg);
    hv_log(HV_LOG_ERROR, "%s", msg);
    char *dump = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&dump, &len);
    if (!mem)
        return;
    vm_dump_registers(svm, mem);
    fclose(mem);
    for (char *line = strtok(dump, "\n"); line; line = strtok(NULL, "\n"))
        hv_log(HV_LOG_ERROR, "  %s", line);
    free(dump);
}

/* KVM_EXIT_INTERNAL_ERROR: what went wrong, the instruction bytes when the kernel gives
 * them (KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES: data[1] is the length, the
 * bytes follow from data[2]), and the software backend's own reason. */
static void describe_internal_error(SimpleVM *svm, const KvmRun *run)
{
    static const char *const suberrors[] = {
        [KVM_INTERNAL_ERROR_EMULATION] = "instruction emulation failed",
        [KVM_INTERNAL_ERROR_SIMUL_EX] = "exception while delivering an exception",
        [KVM_INTERNAL_ERROR_DELIVERY_EV] = "event delivery failed",
    };
    uint32_t sub = run->internal.suberror;
    const char *what = sub < sizeof(suberrors) / sizeof(suberrors[0]) && suberrors[sub]
                           ? suberrors[sub] : "internal error";
    char detail[200] = "";
    size_t n = 0;
    uint32_t ndata = run->internal.ndata < 16 ? run->internal.ndata : 16;
    if (sub == KVM_INTERNAL_ERROR_EMULATION && ndata >= 2 &&
        (run->internal.data[0] & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES)) {
        uint8_t bytes[16];
        uint64_t len = run->internal.data[1] < sizeof(bytes) ? run->internal.data[1] : 0;
        memcpy(bytes, &run->internal.data[2], sizeof(bytes));
        n += (size_t)snprintf(detail, sizeof(detail), " at %04x:%04llx, bytes",
                              cur_vcpu(svm)->sregs.cs.selector, cur_vcpu(svm)->regs.rip);
        /* KVM sets the flag with a length of 0 when it could not fetch the instruction
         * (e.g. a real-mode guest in the instruction emulator of a nested KVM). */
        if (len == 0)
            n += (size_t)snprintf(detail + n, sizeof(detail) - n, ": none given by KVM");
        for (uint64_t i = 0; i < len && i < 8; i++)
            n += (size_t)snprintf(detail + n, sizeof(detail) - n, " %02x", bytes[i]);
        if (len > 8)
            snprintf(detail + n, sizeof(detail) - n, " ...");
    } else {
        for (uint32_t i = 0; i < ndata && n < sizeof(detail) - 20; i++)
            n += (size_t)snprintf(detail + n, sizeof(detail) - n, "%s 0x%llx", i ? "" : ", data:",
                                  (unsigned long long)run->internal.data[i]);
    }
    const char *note = kvm_vcpu_exit_note(cur_vcpu(svm));
    log_failure(svm, "KVM internal error %u (%s)%s%s%s", sub, what, detail, *note ? ": " : "",
                note);
}

void vm_request_stop(SimpleVM *svm)
{
    if (!svm)
        return;
    /* The flag first, then the kick (which sets immediate_exit): a run loop that sees the
     * kick's KVM_EXIT_INTR, or enters KVM_RUN after it, then sees the flag too. */
    __atomic_store_n(&svm->stop_requested, 1, __ATOMIC_SEQ_CST);
    for (unsigned i = 0; i < svm->num_vcpus; i++)
        kvm_vcpu_kick(svm->vcpus[i]);   /* whichever is in KVM_RUN now */
    platform_wake(svm->platform);   /* a vCPU waiting in HLT */
}

static void stop(SimpleVM *svm, VmStopReason why) { svm->stop_reason = why; }

static void coalesced_write(void *opaque, uint64_t gpa, uint32_t len, uint64_t data)
{
    SimpleVM *svm = opaque;
    int r = mmio_bus_write(svm->mmio_bus, gpa, (uint8_t)len, data);
    if (r < 0)
        hv_log(HV_LOG_WARN, "coalesced MMIO write at 0x%llx+%u: device error %d",
               (unsigned long long)gpa, len, r);
}

/* Hands the writes the kernel kept in the coalesced MMIO ring to their devices, oldest
 * first. Called before any exit is handled and when a run ends, so that the devices see
 * the guest's writes in its order beside everything else it does. */
static void drain_coalesced(SimpleVM *svm)
{
    if (!svm->coalesced_ring)
        return;
    unsigned n = kvm_coalesced_mmio_drain(svm->coalesced_ring, coalesced_write, svm);
    svm->coalesced_writes += n;
    if (n && svm->trace)
        fprintf(svm->trace, "coalesced MMIO: %u writes from the ring\n", n);
}

bool vm_coalesced_mmio_usable(SimpleVM *svm)
{
    return svm && !svm->no_coalesced_mmio &&
           kvm_check_extension(svm->kvm, KVM_CAP_COALESCED_MMIO) > 0 &&
           kvm_coalesced_mmio_ring(svm->vcpu) != NULL;
}

/* After the first guest write to the VGA text window exited (an EPT violation on sim, as
 * on hardware): from now on such writes go to the ring, if the backend has one; without
 * KVM_CAP_COALESCED_MMIO every write goes on exiting. */
static void maybe_coalesce_vga(SimpleVM *svm, const KvmRun *run)
{
    if (svm->vga_coalesce_tried || svm->no_coalesced_mmio || !svm->vga || !run->mmio.is_write ||
        run->mmio.phys_addr < VGA_TEXT_BASE || run->mmio.phys_addr >= VGA_TEXT_BASE + VGA_TEXT_SIZE)
        return;
    svm->vga_coalesce_tried = true;
    if (!vm_coalesced_mmio_usable(svm))
        return;
    if (kvm_register_coalesced_mmio(svm->vm, VGA_TEXT_BASE, VGA_TEXT_SIZE) < 0) {
        hv_log(HV_LOG_INFO, "VGA text writes are not coalesced: %s", hv_last_error());
        return;
    }
    svm->coalesced_ring = kvm_coalesced_mmio_ring(svm->vcpu);
}

/* Dispatches one exit; sets svm->stop_reason when the VM must stop. */
static void dispatch_exit(SimpleVM *svm, KvmRun *run)
{
    const KvmSregs *s = &cur_vcpu(svm)->sregs;
    const KvmRegs *r = &cur_vcpu(svm)->regs;
    VmCpu *cpu = &svm->platform->cpu[svm->cur_vcpu];
    switch (run->exit_reason) {
    case KVM_EXIT_IO:
        if (vm_handle_io(svm, run) < 0) {
            log_failure(svm, "%s", hv_last_error());
            stop(svm, VM_STOP_ERROR);
        } else if (svm->debug_exit->exited) {
            svm->debug_exit_value = svm->debug_exit->value;
            stop(svm, VM_STOP_DEBUG_EXIT);
        } else if (svm->platform->poweroff_requested) {
            svm->platform->poweroff_requested = false;
            stop(svm, VM_STOP_POWEROFF);
        } else if (svm->platform->reset_requested) {
            /* A reset pulse (port 0x92 bit 0, the 8042's 0xFE, the reset register 0xCF9):
             * the VM ends as after a triple fault, which resets a PC too. */
            svm->platform->reset_requested = false;   /* once: the vCPU may be reset */
            hv_log(HV_LOG_WARN, "the guest pulsed the reset line at %04x:%04llx",
                   s->cs.selector, r->rip);
            stop(svm, VM_STOP_SHUTDOWN);
        }
        break;
    case KVM_EXIT_MMIO:
        if (vm_handle_mmio(svm, run) < 0) {
            log_failure(svm, "%s", hv_last_error());
            stop(svm, VM_STOP_ERROR);
        } else {
            maybe_coalesce_vga(svm, run);
        }
        break;
    case KVM_EXIT_HLT:
        /* With IF=1 an interrupt can wake the vCPU: it waits (platform_wait_halted) at the
         * top of the run loop. With IF=0 nothing but an NMI could, and none comes: the VM
         * ends, as it always did; an AP of several stays halted instead (until an NMI or
         * INIT), as APs park themselves so. */
        if (r->rflags & X86_RFLAGS_IF) {
            cpu->halted = true;
        } else if (svm->cur_vcpu != 0) {
            cpu->halted = true;
            cpu->halt_masked = true;
        } else {
            stop(svm, VM_STOP_HLT);
        }
        break;
    case KVM_EXIT_IRQ_WINDOW_OPEN:
        break;   /* the next entry injects (platform_before_run) */
    case KVM_EXIT_DEBUG:
        /* Only asked for through vm_set_guest_debug: a breakpoint the debugger set. */
        svm->debug_event = run->debug.arch;
        stop(svm, VM_STOP_DEBUG);
        break;
    case KVM_EXIT_SHUTDOWN:
        if (!svm->reset_on_shutdown)
            log_failure(svm, "guest triple fault (shutdown) at %04x:%04llx", s->cs.selector, r->rip);
        else if (svm->log_items & VM_LOG_GUEST_ERRORS)
            fprintf(svm->log ? svm->log : stderr,
                    "Triple fault at %04x:%08llx: resetting the vCPU (-no-reboot ends the VM)\n",
                    s->cs.selector, r->rip);
        stop(svm, VM_STOP_SHUTDOWN);
        break;
    case KVM_EXIT_FAIL_ENTRY:
        log_failure(svm, "VM entry failed: invalid guest state (hardware reason 0x%llx)%s%s",
                    (unsigned long long)run->fail_entry.hardware_entry_failure_reason,
                    *kvm_vcpu_exit_note(cur_vcpu(svm)) ? ": " : "",
                    kvm_vcpu_exit_note(cur_vcpu(svm)));
        stop(svm, VM_STOP_FAIL_ENTRY);
        break;
    case KVM_EXIT_INTERNAL_ERROR:
        describe_internal_error(svm, run);
        stop(svm, VM_STOP_INTERNAL_ERROR);
        break;
    case KVM_EXIT_X86_RDMSR:
    case KVM_EXIT_X86_WRMSR:
        platform_msr(svm->platform, run);
        break;
    case KVM_EXIT_HYPERCALL:
        /* SimpleVM implements no hypercall: the answer is Linux KVM's for a number it does
         * not know, -KVM_ENOSYS in RAX (32 bits outside 64-bit mode), so a guest's VMCALL
         * ends alike on both backends (kvm_emulate_hypercall). */
        run->hypercall.ret = run->hypercall.longmode ? (uint64_t)-(int64_t)KVM_ENOSYS
                                                      : (uint32_t)-KVM_ENOSYS;
        break;
    default: {
        const char *name = kvm_exit_reason_name(run->exit_reason);
        log_failure(svm, "unexpected exit KVM_EXIT_%s (%u)", name ? name : "?", run->exit_reason);
        stop(svm, VM_STOP_ERROR);
    }
    }
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* One exit of `reason` handled in ns nanoseconds. Only the vCPU thread writes the stats and
 * the monitor reads them only while the vCPU is paused, so no lock or atomic is needed. */
static void count_exit(VmExitStat *st, uint64_t ns)
{
    if (st->count == 0 || ns < st->min_ns)
        st->min_ns = ns;
    if (ns > st->max_ns)
        st->max_ns = ns;
    st->count++;
    st->total_ns += ns;
    st->sum_sq_ns += (double)ns * (double)ns;
}

/* An I/O or MMIO exit is finished by the next KVM_RUN (an IN's data, an MMIO read's value,
 * RIP past the instruction). Before the VM stops, KVM_RUN with immediate_exit set does
 * just that and returns at once (Linux: complete_userspace_io, then -EINTR), so the
 * registers a monitor shows are exact and nothing runs twice when the VM goes on. */
static void complete_pending_exit(SimpleVM *svm, KvmVcpu *vcpu)
{
    KvmRun *run = vcpu->kvm_run;
    __atomic_store_n(&run->immediate_exit, 1, __ATOMIC_SEQ_CST);
    if (kvm_run(vcpu) < 0)
        hv_log(HV_LOG_WARN, "completing the last exit before a stop: %s", hv_last_error());
    drain_coalesced(svm);
    __atomic_store_n(&run->immediate_exit, 0, __ATOMIC_SEQ_CST);
}

/* Keeps what describes the exit (svm->last_exit) before the next KVM_RUN reuses kvm_run. */
static void record_exit(SimpleVM *svm, KvmRun *run)
{
    svm->last_exit.reason = run->exit_reason;
    if (run->exit_reason == KVM_EXIT_IO) {
        svm->last_exit.io_direction = run->io.direction;
        svm->last_exit.io_size = run->io.size;
        svm->last_exit.io_port = run->io.port;
        svm->last_exit.io_count = run->io.count;
        uint64_t n = (uint64_t)run->io.size * run->io.count;
        if (n > sizeof(svm->last_exit.io_data))
            n = sizeof(svm->last_exit.io_data);
        const uint8_t *data = io_exit_data(svm, run);
        memset(svm->last_exit.io_data, 0, sizeof(svm->last_exit.io_data));
        if (data)
            memcpy(svm->last_exit.io_data, data, n);
    } else if (run->exit_reason == KVM_EXIT_MMIO) {
        svm->last_exit.mmio_addr = run->mmio.phys_addr;
        svm->last_exit.mmio_len = run->mmio.len;
        svm->last_exit.mmio_write = run->mmio.is_write;
        memcpy(svm->last_exit.mmio_data, run->mmio.data, sizeof(svm->last_exit.mmio_data));
    }
}

/* Completes the exits that the vCPUs' next KVM_RUNs would complete (a stop). */
static void complete_all_pending(SimpleVM *svm, bool pending[])
{
    for (unsigned i = 0; i < svm->num_vcpus; i++) {
        if (!pending[i])
            continue;
        unsigned keep = svm->cur_vcpu;
        svm->cur_vcpu = i;   /* an MMIO read completes on its own vCPU's APIC page */
        complete_pending_exit(svm, svm->vcpus[i]);
        svm->cur_vcpu = keep;
        pending[i] = false;
    }
}

/* Several vCPUs: the next one after `c` in turn that can run (INIT and SIPI applied),
 * c itself last; -1 when all wait (halted, or for a SIPI). */
static int next_ready(SimpleVM *svm, unsigned c)
{
    for (unsigned k = 1; k <= svm->num_vcpus; k++) {
        unsigned i = (c + k) % svm->num_vcpus;
        if (platform_cpu_ready(svm->platform, i))
            return (int)i;
    }
    return -1;
}

/* The run loop of vm_run and vm_step: enters the guest until stop_reason is set. A step
 * starts at RIP step_from, on the selected vCPU alone.
 *
 * Several vCPUs run in turn on this one thread (DESIGN.md, "Threads"): a vCPU keeps the
 * thread until its turn ends (sim: SMP_SLICE_INSNS retired instructions through the
 * icount deadline; KVM: the slicer's kick), it halts or waits for a SIPI, or a kick
 * (an interrupt from another thread) ends its run; the next ready one in index order
 * follows. Exits are handled between runs, so devices see one vCPU at a time. */
static void run_loop(SimpleVM *svm, bool step, uint64_t step_from)
{
    VmPlatform *p = svm->platform;
    VmExitStats *stats = &svm->exit_stats;
    bool smp = svm->num_vcpus > 1;
    bool pending[VM_MAX_VCPUS] = {false};   /* its last exit is completed by its next KVM_RUN */
    bool turn_over = false;
    if (step)
        svm->cur_vcpu = svm->sel_vcpu;
    while (svm->stop_reason == VM_STOP_NONE) {
        /* A stop request stays set until this check consumes it: wherever it lands (in
         * KVM_RUN, in an exit's handling, between two steps), the loop ends here. */
        if (__atomic_exchange_n(&svm->stop_requested, 0, __ATOMIC_SEQ_CST)) {
            complete_all_pending(svm, pending);
            stop(svm, VM_STOP_REQUESTED);
            break;
        }
        unsigned c = svm->cur_vcpu;
        if (smp && !step && (turn_over || !platform_cpu_ready(p, c))) {
            int next = next_ready(svm, c);
            if (next < 0) {
                platform_wait_halted(p);
                continue;
            }
            turn_over = false;
            c = (unsigned)next;
            __atomic_store_n(&svm->cur_vcpu, c, __ATOMIC_RELAXED);
            uint64_t icount;
            if (kvm_vcpu_icount(svm->vcpus[c], &icount) == 0)
                p->cpu[c].slice_end = icount + SMP_SLICE_INSNS;
        } else if (step ? p->cpu[c].halted || (smp && !platform_cpu_ready(p, c))
                        : !smp && p->cpu[c].halted) {
            if (step) {
                stop(svm, VM_STOP_HLT);   /* a step ends at a HLT (the monitor resumes it) */
                break;
            }
            platform_wait_halted(p);
            if (svm->stop_requested)
                continue;
        }
        KvmVcpu *vcpu = svm->vcpus[c];
        KvmRun *run = vcpu->kvm_run;
        platform_before_run(p, c);
        if (kvm_run(vcpu) < 0) {
            log_failure(svm, "%s", hv_last_error());
            stop(svm, VM_STOP_ERROR);
            break;
        }
        uint64_t t0 = now_ns();
        uint32_t reason = run->exit_reason;
        drain_coalesced(svm);   /* the guest's earlier writes first, in order */
        platform_after_run(p);
        pending[c] = false;
        p->cpu[c].exits++;
        if (reason == KVM_EXIT_INTR) {
            /* Cleared before the loop looks at stop_requested again: a kick that comes
             * later sets it anew (vm_request_stop sets the flag before the kick). */
            __atomic_store_n(&run->immediate_exit, 0, __ATOMIC_SEQ_CST);
            if (kvm_vcpu_instruction_limit_reached(vcpu))
                stop(svm, VM_STOP_MAX_INSNS);
            turn_over = true;   /* its turn, a timer event, or a kick: the next one's go */
        } else if (step && reason == KVM_EXIT_DEBUG) {
            /* The step's own #DB (no B0-B3), or a breakpoint the step ran into. */
            svm->exit_count++;
            svm->debug_event = run->debug.arch;
            bool bp = run->debug.arch.exception != X86_DB_VECTOR || (run->debug.arch.dr6 & 0xF);
            stop(svm, bp ? VM_STOP_DEBUG : VM_STOP_STEPPED);
        } else {
            svm->exit_count++;
            dispatch_exit(svm, run);
            record_exit(svm, run);   /* after: with an IN's or MMIO read's answer */
            if (svm->trace)
                trace_exit(svm, run);
            pending[c] = reason == KVM_EXIT_IO || reason == KVM_EXIT_MMIO;
            if (svm->stop_reason == VM_STOP_NONE && svm->max_exits &&
                svm->exit_count >= svm->max_exits)
                stop(svm, VM_STOP_MAX_EXITS);
            if (step && pending[c] && svm->stop_reason == VM_STOP_NONE) {
                /* The stepped instruction made an I/O or MMIO exit. Linux under nested KVM
                 * completes it on the next KVM_RUN and then runs on to the instruction
                 * after before reporting the step; so complete it here with an immediate
                 * exit, and the step is done once RIP has moved. (An MMIO read on sim
                 * is re-executed with its value by the next entry: RIP has not moved,
                 * and that entry ends the step.) */
                complete_pending_exit(svm, vcpu);
                pending[c] = false;
                if (vcpu->regs.rip != step_from)
                    stop(svm, VM_STOP_STEPPED);
            }
            if (reason == KVM_EXIT_DEBUG)
                svm->sel_vcpu = c;   /* the debugger looks at the vCPU that stopped */
        }
        uint64_t ns = now_ns() - t0;
        if (reason < VM_EXIT_STATS_KVM)
            count_exit(&stats->kvm[reason], ns);
        /* An immediate exit on sim makes no VM exit: the VMCS still holds the last one. */
        const VMCS *vmcs = kvm_vcpu_vmcs(vcpu);
        uint32_t basic = vmcs ? vmcs->exit.reason & 0xFFFF : VM_EXIT_STATS_VMX;
        if (basic < VM_EXIT_STATS_VMX &&
            (reason != KVM_EXIT_INTR || basic == EXIT_REASON_EXTERNAL_INTERRUPT))
            count_exit(&stats->vmx[basic], ns);
    }
    /* A stop for another reason right after an I/O exit (--max-exits, a debug exit)
     * still leaves the instruction complete for whoever looks at the registers. */
    if (svm->stop_reason != VM_STOP_ERROR)
        complete_all_pending(svm, pending);
    drain_coalesced(svm);   /* the screen is never stale when a run ends */
}

static int run_result(SimpleVM *svm)
{
    switch (svm->stop_reason) {
    case VM_STOP_HLT:
    case VM_STOP_DEBUG_EXIT:
    case VM_STOP_STEPPED:
        return 0;
    case VM_STOP_REQUESTED:
    case VM_STOP_DEBUG:
        return -EINTR;
    case VM_STOP_MAX_EXITS:
    case VM_STOP_MAX_INSNS:
        return -ETIME;
    default:
        return -EIO;
    }
}

/* Whether the VM stopped at an instruction breakpoint that is still set at CS:RIP; then
 * *without is the debug setting with the debug registers that hold it disabled. */
static bool at_instruction_breakpoint(SimpleVM *svm, struct kvm_guest_debug *without)
{
    if (svm->stop_reason != VM_STOP_DEBUG || svm->debug_event.exception != X86_DB_VECTOR ||
        !(svm->guest_debug.control & KVM_GUESTDBG_USE_HW_BP))
        return false;
    *without = svm->guest_debug;
    uint64_t dr7 = without->arch.debugreg[7];
    uint64_t lin = sel_vcpu(svm)->sregs.cs.base + sel_vcpu(svm)->regs.rip;
    bool found = false;
    for (int i = 0; i < 4; i++) {
        bool exec = ((dr7 >> (16 + 4 * i)) & 3) == 0 && ((dr7 >> (2 * i)) & 3);
        if (exec && without->arch.debugreg[i] == lin && lin == svm->debug_event.pc) {
            without->arch.debugreg[7] &= ~(3ull << (2 * i));
            found = true;
        }
    }
    return found;
}

/* The KVM backend's turns (several vCPUs on one thread): every SMP_SLICE_NS the vCPU
 * in KVM_RUN is kicked out, and the run loop gives the next one its go. */
typedef struct {
    SimpleVM *svm;
    pthread_t thread;
    int stop;
} Slicer;

static void *slicer_main(void *arg)
{
    Slicer *s = arg;
    const struct timespec slice = {0, (long)SMP_SLICE_NS};
    while (!__atomic_load_n(&s->stop, __ATOMIC_SEQ_CST)) {
        nanosleep(&slice, NULL);
        kvm_vcpu_kick(s->svm->vcpus[__atomic_load_n(&s->svm->cur_vcpu, __ATOMIC_RELAXED)]);
    }
    return NULL;
}

int vm_run(SimpleVM *svm)
{
    if (!svm)
        return -EINVAL;
    /* Resuming at the instruction breakpoint that stopped the VM: it runs once without
     * (vm_step), as the RF flag makes x86 do, which Linux KVM leaves to user space. */
    struct kvm_guest_debug without;
    if (at_instruction_breakpoint(svm, &without)) {
        vm_step(svm);
        if (svm->stop_reason != VM_STOP_STEPPED)
            return run_result(svm);
    }
    svm->stop_reason = VM_STOP_NONE;
    svm->running = true;
    Slicer slicer = {.svm = svm};
    uint64_t icount;
    /* KVM counts no instructions: turns end by time (the sim's icount deadline does it
     * there). Without the slicer, a vCPU spinning on a lock another vCPU holds would keep
     * the thread for ever. */
    bool sliced = svm->num_vcpus > 1 && kvm_vcpu_icount(svm->vcpu, &icount) < 0 &&
                  pthread_create(&slicer.thread, NULL, slicer_main, &slicer) == 0;
    run_loop(svm, false, 0);
    if (sliced) {
        __atomic_store_n(&slicer.stop, 1, __ATOMIC_SEQ_CST);
        pthread_join(slicer.thread, NULL);
    }
    svm->running = false;
    return run_result(svm);
}

/* Whether the instruction at CS:RIP is a HLT that will execute (and not fault), decoded
 * as the CPU fetches it: each byte at offset IP + i must be within the CS limit (no wrap:
 * past the limit the fetch is #GP, SDM Vol. 3A, 5.3), the bytes are read at CS.base +
 * offset through the guest's paging, legacy prefixes (and REX in 64-bit code) come before
 * the opcode, and the whole instruction is at most 15 bytes. LOCK HLT is #UD, and HLT
 * outside ring 0 or in virtual-8086 mode is #GP (SDM Vol. 2A, HLT): not a HLT either.
 *
 * Under nested KVM a single-stepped HLT does not halt (the next KVM_RUN goes on past it),
 * so vm_step runs a HLT without single-stepping: it is then an ordinary HLT exit, as on
 * the sim backend. A wrong "yes" here would run the guest free: hence the exactness. */
static bool next_is_hlt(SimpleVM *svm)
{
    const KvmSregs *s = &sel_vcpu(svm)->sregs;
    const KvmRegs *r = &sel_vcpu(svm)->regs;
    bool code64 = paging_long_mode(s) && s->cs.l;
    if ((s->cr0 & 1) && (s->ss.dpl != 0 || (r->rflags & X86_RFLAGS_VM)))
        return false;
    for (uint64_t i = 0; i <= X86_MAX_PREFIXES; i++) {
        uint64_t offset = r->rip + i, linear;
        if (code64) {
            linear = s->cs.base + offset;
        } else {
            offset &= 0xFFFFFFFFull;
            if (offset > s->cs.limit)
                return false;
            linear = (s->cs.base + offset) & 0xFFFFFFFFull;
        }
        uint64_t gpa;
        if (paging_translate(svm->vm, s, linear, &gpa) < 0)
            return false;
        const uint8_t *b = kvm_guest_ptr(svm->vm, gpa, 1);
        if (!b)
            return false;
        switch (*b) {
        case 0x26: case 0x2E: case 0x36: case 0x3E: case 0x64: case 0x65:
        case 0x66: case 0x67: case 0xF2: case 0xF3:
            continue;
        case 0xF0:
            return false;   /* LOCK HLT: #UD */
        default:
            if (code64 && (*b & 0xF0) == 0x40)
                continue;   /* REX */
            return *b == 0xF4;
        }
    }
    return false;           /* 15 prefixes: longer than an instruction may be */
}

int vm_set_guest_debug(SimpleVM *svm, const struct kvm_guest_debug *dbg)
{
    if (!svm || !dbg)
        return -EINVAL;
    int r = 0;
    for (unsigned i = 0; i < svm->num_vcpus && r == 0; i++)
        r = kvm_set_guest_debug2(svm->vcpus[i], dbg);   /* breakpoints hold on every vCPU */
    if (r == 0)
        svm->guest_debug = *dbg;
    return r;
}

/* -d int: one line per event in QEMU's layout (target/i386 do_interrupt_all's log line:
 * counter, vector, error code, software or not, CPL, CS:EIP, pc, SS:ESP, CR2 for #PF or
 * EAX otherwise), then the registers as info registers shows them. */
static void log_event(void *opaque, const KvmEventInfo *ev)
{
    SimpleVM *svm = opaque;
    FILE *o = svm->log ? svm->log : stderr;
    const KvmRegs *r = &ev->regs;
    const KvmSregs *s = &ev->sregs;
    int cpl = (s->cr0 & 1) ? s->cs.dpl : 0;
    fprintf(o, "%6" PRIu64 ": v=%02x e=%04x i=%d cpl=%d IP=%04x:%08llx pc=%08llx SP=%04x:%08llx",
            svm->events_logged++, ev->vector, ev->error_code, ev->software, cpl, s->cs.selector,
            r->rip, s->cs.base + r->rip, s->ss.selector, r->rsp);
    if (ev->vector == X86_PF_VECTOR)
        fprintf(o, " CR2=%08llx\n", s->cr2);
    else
        fprintf(o, " env->regs[R_EAX]=%08llx\n", r->rax);
    qemu_dump_cpu_state(o, svm, r, s);
}

int vm_set_log(SimpleVM *svm, unsigned items, FILE *out)
{
    if (!svm)
        return -EINVAL;
    svm->log_items = items;
    svm->log = out;
    FILE *o = out ? out : stderr;
    if (items & VM_LOG_EXITS)
        svm->trace = o;
    if (items & VM_LOG_BIOS) {
        fflush(o);
        svm->debug_exit->console_fd = fileno(o);
    }
    int r = 0;
    for (unsigned i = 0; i < svm->num_vcpus && r == 0 && (items & VM_LOG_INT); i++)
        r = kvm_vcpu_set_event_hook(svm->vcpus[i], log_event, svm);
    return r;
}

/* One instruction with the debugger's breakpoints and single-stepping. */
static int step_once(SimpleVM *svm)
{
    bool hlt = next_is_hlt(svm);
    /* Single-stepping on top of the debugger's breakpoints. */
    struct kvm_guest_debug dbg = svm->guest_debug;
    uint32_t control = hlt ? 0 : KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP;
    dbg.control |= control;
    KvmVcpu *vcpu = sel_vcpu(svm);
    int r = kvm_set_guest_debug2(vcpu, &dbg);
    if (r < 0)
        return r;
    svm->stop_reason = VM_STOP_NONE;
    svm->running = true;
    run_loop(svm, true, vcpu->regs.rip);
    svm->running = false;
    if (control && (r = kvm_set_guest_debug2(vcpu, &svm->guest_debug)) < 0)
        return r;
    return run_result(svm);
}

int vm_step(SimpleVM *svm)
{
    if (!svm)
        return -EINVAL;
    /* At the instruction breakpoint that stopped the VM, the step runs it without that
     * breakpoint (RF, SDM Vol. 3A, 18.3.1.1): else it would report the breakpoint again. */
    struct kvm_guest_debug without;
    if (!at_instruction_breakpoint(svm, &without))
        return step_once(svm);
    struct kvm_guest_debug saved = svm->guest_debug;
    svm->guest_debug = without;
    int r = step_once(svm);
    svm->guest_debug = saved;
    int e = kvm_set_guest_debug2(sel_vcpu(svm), &saved);
    return r < 0 ? r : e;
}

void vm_destroy(SimpleVM *svm)
{
    if (!svm)
        return;
    vm_thread_quit(svm);
    /* Before the buses they unregister from, and before the VM's memory goes: a device's
     * own thread (a virtio I/O thread) may be in the middle of DMA until it is stopped. */
    vm_devices_destroy(svm);
    kvm_close(svm->kvm);
    platform_destroy(svm->platform);
    io_bus_destroy(svm->io_bus);
    mmio_bus_destroy(svm->mmio_bus);
    serial_destroy(svm->serial);
    vga_destroy(svm->vga);
    debug_exit_destroy(svm->debug_exit);
    vm_bios_destroy(svm->bios);
    if (svm->rom)
        munmap(svm->rom, svm->rom_size);
    if (svm->ram)
        munmap(svm->ram - VM_RAM_GUARD, svm->ram_size + 2 * VM_RAM_GUARD);
    free(svm);
}

int vm_add_serial2(SimpleVM *svm, int output_fd)
{
    if (!svm || !svm->platform)
        return hv_fail(EINVAL, "COM2: no VM");
    if (svm->serial2)
        return hv_fail(EEXIST, "COM2 is already there");
    SerialPort *s = serial_create_at(COM2_BASE, output_fd);
    if (!s)
        return hv_fail(ENOMEM, "out of memory");
    s->output_cancel = &svm->output_cancel;
    const IoPortHandler io = {.base = COM2_BASE, .length = 8, .read = serial_io_read,
                              .write = serial_io_write, .opaque = s, .name = "serial1"};
    int r = io_bus_register(svm->io_bus, &io);
    if (r < 0) {
        serial_destroy(s);
        return hv_fail(r, "cannot register COM2 at port 0x%x", COM2_BASE);
    }
    s->irq = (IrqLine){platform_set_isa_irq, svm->platform, MACHINE_IRQ_COM2};
    svm->serial2 = s;
    if ((r = vm_device_add(svm, &(DeviceRecord){.name = "serial1", .opaque = svm,
                                                 .destroy = destroy_serial2})) < 0)
        return r;
    /* The DSDT lists it; firmware already running (or a BIOS already past POST) keeps
     * the tables and the BIOS data area it has. */
    return svm->exit_count ? 0 : platform_set_com2(svm->platform);
}

/* The seed's example, as bytes: mov dx,0x3f8; mov al,c; out dx,al (x4); hlt. */
int vm_run_real_mode_example(void)
{
    static const uint8_t code[] = {
        0xBA, 0xF8, 0x03,         /* mov $0x3f8, %dx */
        0xB0, 'H', 0xEE,          /* mov $'H', %al; out %al, %dx */
        0xB0, 'i', 0xEE,
        0xB0, '!', 0xEE,
        0xB0, '\n', 0xEE,
        0xF4,                     /* hlt */
    };
    SimpleVM *svm = vm_create(1);
    if (!svm)
        return -errno;
    int r = vm_load_code(svm, code, sizeof(code), 0x1000);
    if (r == 0) {
        svm->vcpu->regs.rip = 0x1000;
        r = vm_run(svm);
    }
    vm_destroy(svm);
    return r;
}
