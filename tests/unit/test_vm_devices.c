/* Unit tests for the VM's side of its devices (src/vmm/vm_devices.c, the PCI wiring in
 * src/vmm/platform.c): device records, the DMA handle over guest RAM, PCI INTx to the
 * IOAPIC and the 8259A, MSI to the local APIC, info pci and -device on a real VM (sim),
 * the floppy controller with its CMOS bytes and the PIIX3 IDE function's IDETIM. */
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

#include "dev/edu.h"
#include "dev/fdc.h"
#include "dev/ide.h"
#include "vmm/platform.h"
#include "vmm/vm_devices.h"

static int order[8], norder;

static void rec_reset(void *opaque) { order[norder++] = (int)(intptr_t)opaque; }
static void rec_destroy(void *opaque) { order[norder++] = -(int)(intptr_t)opaque; }

/* Resets go oldest first, destroys newest first. */
static void test_device_records(void **state)
{
    (void)state;
    SimpleVM *svm = vm_create_bytes(1u << 20, HV_BACKEND_SIM);
    assert_non_null(svm);
    norder = 0;
    for (intptr_t i = 1; i <= 3; i++)
        assert_int_equal(vm_device_add(svm, &(DeviceRecord){.name = "rec", .opaque = (void *)i,
                                                            .reset = rec_reset,
                                                            .destroy = rec_destroy}), 0);
    vm_devices_reset(svm);
    assert_int_equal(norder, 3);
    assert_int_equal(order[0], 1);
    assert_int_equal(order[2], 3);
    norder = 0;
    vm_destroy(svm);
    assert_int_equal(norder, 3);
    assert_int_equal(order[0], -3);
    assert_int_equal(order[2], -1);
}

/* DMA reaches RAM only: not the VGA hole, not past the end, not the ROM for writes; a
 * read leaves the sim's host-write generation alone, a write moves it. */
static void test_dma_handle(void **state)
{
    (void)state;
    SimpleVM *svm = vm_create_bytes(2u << 20, HV_BACKEND_SIM);
    assert_non_null(svm);
    static uint8_t rom[65536];
    memset(rom, 0x90, sizeof(rom));
    assert_int_equal(vm_load_rom(svm, rom, sizeof(rom)), 0);
    DmaHandle dma = vm_dma_handle(svm);
    uint32_t v = 0xCAFEF00D;
    uint64_t gen = svm->vm->host_write_gen;
    assert_int_equal(dma_read(&dma, 0x1000, &v, 4), 0);
    assert_true(svm->vm->host_write_gen == gen);
    v = 0xCAFEF00D;
    assert_int_equal(dma_write(&dma, 0x1000, &v, 4), 0);
    assert_true(svm->vm->host_write_gen != gen);
    assert_int_equal(dma_read(&dma, 0x1000, &v, 4), 0);
    assert_int_equal(v, 0xCAFEF00D);
    assert_int_equal(dma_write(&dma, 0xB8000, &v, 4), -EFAULT);   /* VGA hole */
    assert_int_equal(dma_read(&dma, 0x9FFFE, &v, 4), -EFAULT);    /* into it */
    assert_int_equal(dma_write(&dma, (2u << 20) - 2, &v, 4), -EFAULT);
    assert_int_equal(dma_write(&dma, 0xFFFFFFF0u, &v, 4), -EFAULT);   /* ROM */
    assert_int_equal(dma_read(&dma, 0xFFFFFFF0u, &v, 4), 0);
    assert_int_equal(v, 0x90909090u);
    assert_int_equal(dma_read(&dma, UINT64_MAX - 1, &v, 4), -EFAULT);   /* wraps */
    vm_destroy(svm);
}

/* A function on the VM's bus: INTx reaches the IOAPIC pin (active low, as the DSDT
 * says) and the 8259A through PIIX3's route; MSI reaches the local APIC. */
static void test_pci_interrupts_reach_the_controllers(void **state)
{
    (void)state;
    SimpleVM *svm = vm_create_bytes(16u << 20, HV_BACKEND_SIM);
    assert_non_null(svm);
    VmPlatform *p = svm->platform;
    PciBus *bus = vm_pci_bus(svm);
    assert_non_null(bus);
    const PciDeviceInfo info = {"t", 0x1AF4, 0x1005, 0, 0, 0, 0x00FF00, 1};
    PciDevice *d = pci_device_add(bus, 3, &info, NULL);   /* INTA#: PIRQC, GSI 18, IRQ 11 */
    assert_non_null(d);
    pci_bus_assign_resources(bus);
    /* The local APIC enabled (SVR bit 8), as an OS does; IOAPIC pin 18: vector 0x61,
     * level, active low, unmasked. */
    lapic_set_global_enable(p->lapic, true);
    lapic_mmio_write(MACHINE_LAPIC_BASE + 0xF0, 4, 0x1FF, p->lapic);
    const uint64_t rte = 0x61 | 1u << 13 | 1u << 15;
    ioapic_mmio_write(MACHINE_IOAPIC_BASE, 4, 0x10 + 2 * 18, p->ioapic);
    ioapic_mmio_write(MACHINE_IOAPIC_BASE + 0x10, 4, rte, p->ioapic);
    assert_int_equal(lapic_pending_vector(p->lapic), -1);   /* idle: high, so inactive */
    pci_set_irq(d, 1);
    assert_int_equal(lapic_pending_vector(p->lapic), 0x61);
    PicChipState s;
    pic_chip_state(p->pic, 1, &s);
    assert_int_equal(s.irr & 0x08, 0x08);   /* IRQ 11: the slave's IR3 */
    assert_int_equal(s.elcr & 0x0C, 0x0C);  /* IRQs 10 and 11 are level */
    pci_set_irq(d, 0);
    pic_chip_state(p->pic, 1, &s);
    assert_int_equal(s.irr & 0x08, 0);
    /* MSI: vector 0x72, fixed. */
    assert_int_equal(lapic_acknowledge(p->lapic), 0x61);
    int cap = pci_device_init_msi(d, false);
    assert_true(cap > 0);
    uint8_t *cfg = pci_device_config(d);
    const uint32_t a = 0x80000000u | 3u << 11;
    pci_bus_config_write(bus, a | (uint32_t)(cap + 4), 0, 4, 0xFEE00000u);
    pci_bus_config_write(bus, a | (uint32_t)(cap + 8), 0, 2, 0x0072);
    pci_bus_config_write(bus, a | (uint32_t)cap, 2, 2, 1);
    assert_int_equal(cfg[cap + 2] & 1, 1);
    pci_msi_notify(d);
    assert_int_equal(lapic_acknowledge(p->lapic), 0x72);
    /* A message outside the APIC's window, or a reserved vector, delivers nothing. */
    pci_bus_config_write(bus, a | (uint32_t)(cap + 8), 0, 2, 0x0005);
    pci_msi_notify(d);
    pci_bus_config_write(bus, a | (uint32_t)(cap + 4), 0, 4, 0xFED00000u);
    pci_bus_config_write(bus, a | (uint32_t)(cap + 8), 0, 2, 0x0073);
    pci_msi_notify(d);
    assert_int_equal(lapic_pending_vector(p->lapic), -1);
    vm_destroy(svm);
}

static void test_info_pci_and_device_option(void **state)
{
    (void)state;
    SimpleVM *svm = vm_create_bytes(16u << 20, HV_BACKEND_SIM);
    assert_non_null(svm);
    QemuMonitor *mon = qemu_monitor_create(svm);
    assert_non_null(mon);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_int_equal(qemu_monitor_execute(mon, "info pci", out), 0);
    fclose(out);
    assert_non_null(strstr(text, "  Bus  0, device   0, function 0:\n"
                                 "    Host bridge: PCI device 8086:1237\n"));
    assert_non_null(strstr(text, "    ISA bridge: PCI device 8086:7000\n"));
    free(text);
    assert_int_equal(vm_add_pci_device(svm, "no-such-device,x=1"), -ENOENT);
    assert_non_null(strstr(hv_last_error(), "no-such-device"));
    assert_false(vm_pci_device_known("no-such-device", 14));
    qemu_monitor_destroy(mon);
    vm_destroy(svm);
}

/* The guest's view through the ports, on a VM: mechanism #1 and the PCI window kept
 * out of the memory map. */
static void test_config_ports_on_a_vm(void **state)
{
    (void)state;
    SimpleVM *svm = vm_create_bytes(64u << 20, HV_BACKEND_SIM);
    assert_non_null(svm);
    uint32_t v = 0;
    assert_int_equal(io_bus_out(svm->io_bus, 0xCF8, 4, 0x80000800u), 0);
    assert_int_equal(io_bus_in(svm->io_bus, 0xCFC, 4, &v), 0);
    assert_int_equal(v, 0x70008086u);
    /* 0xCF9 is still the reset control register beside CONFIG_ADDRESS. */
    size_t n = 0;
    IoPortHandler *h = io_bus_handlers(svm->io_bus, &n);
    bool rcr = false;
    for (size_t i = 0; i < n; i++)
        rcr |= h[i].base == MACHINE_RESET_PORT;
    assert_true(rcr);
    const MachineDesc m = {.ram_size = 3ull << 30, .cpus = 1, .acpi = true};
    E820Entry e[MACHINE_E820_MAX];
    int count = machine_e820(&m, e);
    for (int i = 0; i < count; i++)
        assert_true(e[i].base + e[i].length <= MACHINE_PCI_MMIO_BASE);
    vm_destroy(svm);
}

/* -device edu: QEMU's educational device (docs/specs/edu.rst) on the VM's bus. */
static void test_edu(void **state)
{
    (void)state;
    SimpleVM *svm = vm_create_bytes(16u << 20, HV_BACKEND_SIM);
    assert_non_null(svm);
    assert_true(vm_pci_device_known("edu", 3));
    assert_int_equal(vm_add_pci_device(svm, "edu,dma_mask=x"), -EINVAL);
    assert_int_equal(vm_add_pci_device(svm, "edu,bus=0"), -EINVAL);
    assert_int_equal(vm_add_pci_device(svm, "edu,dma_mask=0xffffffff"), 0);
    PciBus *bus = vm_pci_bus(svm);
    PciDevice *d = pci_bus_device(bus, 2);
    assert_non_null(d);
    const uint32_t a = 0x80000000u | 2u << 11;
    assert_int_equal(pci_bus_config_read(bus, a, 0, 4), 0x11E81234u);
    uint64_t bar = pci_bus_config_read(bus, a | 0x10, 0, 4) & ~0xFull;
    assert_true(bar >= MACHINE_PCI_MMIO_BASE && bar % EDU_BAR_SIZE == 0);
    MmioBus *m = svm->mmio_bus;
    uint64_t v = 0;
    assert_int_equal(mmio_bus_read(m, bar, 4, &v), 0);
    assert_true(v == 0x010000EDu);
    assert_int_equal(mmio_bus_read(m, bar, 2, &v), 0);   /* not a 4-byte access */
    assert_true(v == 0xFFFF);
    mmio_bus_write(m, bar + 4, 4, 0x12345678);
    assert_int_equal(mmio_bus_read(m, bar + 4, 4, &v), 0);
    assert_true(v == 0xEDCBA987u);
    mmio_bus_write(m, bar + 8, 4, 5);
    assert_int_equal(mmio_bus_read(m, bar + 8, 4, &v), 0);
    assert_true(v == 120);
    /* DMA: RAM -> buffer -> RAM, through the function's checked handle. */
    uint8_t *ram = vm_guest_ram(svm, 0x10000, 0x2000);
    assert_non_null(ram);
    for (int i = 0; i < 100; i++)
        ram[i] = (uint8_t)(i * 7);
    mmio_bus_write(m, bar + 0x80, 8, 0x10000);
    mmio_bus_write(m, bar + 0x88, 8, 0x40000);
    mmio_bus_write(m, bar + 0x90, 8, 100);
    mmio_bus_write(m, bar + 0x98, 8, 1);
    assert_int_equal(mmio_bus_read(m, bar + 0x98, 8, &v), 0);
    assert_true(v == 0);
    mmio_bus_write(m, bar + 0x80, 8, 0x40000);
    mmio_bus_write(m, bar + 0x88, 8, 0x11000);
    mmio_bus_write(m, bar + 0x98, 8, 3);
    assert_memory_equal(ram, ram + 0x1000, 100);
    /* Outside the buffer, or into the VGA hole: nothing happens, the VMM goes on. */
    memset(ram + 0x1000, 0, 100);
    mmio_bus_write(m, bar + 0x80, 8, 0x40F9C);
    mmio_bus_write(m, bar + 0x98, 8, 3);
    mmio_bus_write(m, bar + 0x88, 8, 0xB8000);
    mmio_bus_write(m, bar + 0x80, 8, 0x40000);
    mmio_bus_write(m, bar + 0x90, 8, UINT64_MAX);
    mmio_bus_write(m, bar + 0x98, 8, 3);
    assert_int_equal(ram[0x1000], 0);
    /* Without Bus Master Enable there is no DMA. */
    pci_bus_config_write(bus, a | 0x04, 0, 2, 0x0002);
    mmio_bus_write(m, bar + 0x88, 8, 0x11000);
    mmio_bus_write(m, bar + 0x90, 8, 100);
    mmio_bus_write(m, bar + 0x98, 8, 3);
    assert_int_equal(ram[0x1000], 0);
    /* INTx: raise sets the status and the PIRQ (slot 2 INTA#: PIRQB, IRQ 10). */
    mmio_bus_write(m, bar + 0x60, 4, 0x5);
    assert_int_equal(mmio_bus_read(m, bar + 0x24, 4, &v), 0);
    assert_true(v == 5);
    PicChipState s;
    pic_chip_state(svm->platform->pic, 1, &s);
    assert_int_equal(s.irr & 0x04, 0x04);
    mmio_bus_write(m, bar + 0x64, 4, 0x5);
    pic_chip_state(svm->platform->pic, 1, &s);
    assert_int_equal(s.irr & 0x04, 0);
    vm_destroy(svm);
}

static BlockDev *temp_disk(char *path, uint64_t size)
{
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)size), 0);
    close(fd);
    BlockDev *bd;
    assert_int_equal(block_open(path, BLOCK_FORMAT_RAW, 0, &bd), 0);
    unlink(path);   /* the open image stays until the VM closes it */
    return bd;
}

/* A floppy: the controller on its ports, the CMOS drive type and equipment bits; the
 * ISA DMA controllers are there without one. An IDE disk: the PIIX3 IDE function with
 * its channels' decode enabled (IDETIM bit 15), which the guest may rewrite. */
static void test_floppy_and_ide_on_a_vm(void **state)
{
    (void)state;
    SimpleVM *svm = vm_create_bytes(16u << 20, HV_BACKEND_SIM);
    assert_non_null(svm);
    uint32_t v = 0;
    assert_int_equal(io_bus_in(svm->io_bus, 0x0F, 1, &v), 0);
    assert_int_equal(v, 0xFF);                       /* DMA channels 0-3 masked */
    assert_int_equal(io_bus_unhandled_count(svm->io_bus), 0);
    assert_int_equal(rtc_cmos_byte(svm->platform->rtc, 0x10), 0);
    char fpath[] = "/tmp/scratchvm-vmfd.XXXXXX";
    assert_int_equal(vm_add_floppy(svm, 0, temp_disk(fpath, 737280), true), 0);
    assert_int_equal(rtc_cmos_byte(svm->platform->rtc, 0x10), 0x30);   /* 720 KB */
    assert_int_equal(rtc_cmos_byte(svm->platform->rtc, 0x14) & 0xC1, 0x01);
    char f2path[] = "/tmp/scratchvm-vmfd2.XXXXXX";
    assert_int_equal(vm_add_floppy(svm, 0, temp_disk(f2path, 1474560), true), -EEXIST);
    char f3path[] = "/tmp/scratchvm-vmfd3.XXXXXX";
    assert_int_equal(vm_add_floppy(svm, 1, temp_disk(f3path, 1474560), true), 0);
    assert_int_equal(rtc_cmos_byte(svm->platform->rtc, 0x10), 0x34);
    assert_int_equal(rtc_cmos_byte(svm->platform->rtc, 0x14) & 0xC1, 0x41);
    assert_int_equal(io_bus_in(svm->io_bus, 0x3F4, 1, &v), 0);
    assert_int_equal(v, 0);                          /* in reset until DOR says */
    assert_int_equal(io_bus_out(svm->io_bus, 0x3F2, 1, 0x0C), 0);
    assert_int_equal(io_bus_in(svm->io_bus, 0x3F4, 1, &v), 0);
    assert_int_equal(v, 0x80);
    assert_int_equal(io_bus_unhandled_count(svm->io_bus), 0);
    char hpath[] = "/tmp/scratchvm-vmhd.XXXXXX";
    assert_int_equal(vm_add_ide_disk(svm, 0, temp_disk(hpath, 1 << 20)), 0);
    PciBus *bus = vm_pci_bus(svm);
    const uint32_t a = 0x80000000u | 2u << 11;
    assert_int_equal(pci_bus_config_read(bus, a, 0, 4), 0x70108086u);
    assert_int_equal(pci_bus_config_read(bus, a | 0x40, 0, 4), 0x80008000u);
    pci_bus_config_write(bus, a | 0x40, 0, 2, 0xA307);
    assert_int_equal(pci_bus_config_read(bus, a | 0x40, 0, 4), 0x8000A307u);
    vm_destroy(svm);
}

int main(void)
{
    hv_set_log_level(HV_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_device_records),
        cmocka_unit_test(test_dma_handle),
        cmocka_unit_test(test_pci_interrupts_reach_the_controllers),
        cmocka_unit_test(test_info_pci_and_device_option),
        cmocka_unit_test(test_config_ports_on_a_vm),
        cmocka_unit_test(test_edu),
        cmocka_unit_test(test_floppy_and_ide_on_a_vm),
    };
    return cmocka_run_group_tests_name("vm_devices", tests, NULL, NULL);
}
