/* Unit tests for the PCI bus (src/dev/pci.c): configuration mechanism #1, the bridges,
 * BAR sizing, relocation and enables, the firmware step, INTx through the PIIX3 PIRQs,
 * MSI, MSI-X, DMA gating, info pci, reset and hostile configuration writes. The bus runs
 * on its own I/O and MMIO buses with recording wiring: no VM. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dev/pci_bus.h"
#include "vmm/machine.h"

#define MAX_EVENTS 64

typedef struct {
    int gsi[24];                  /* last level per GSI */
    int isa[16];                  /* last level per ISA IRQ */
    int isa_changes;
    uint64_t msi_addr[MAX_EVENTS];
    uint32_t msi_data[MAX_EVENTS];
    int msis;
} Wires;

static void rec_gsi(void *opaque, int gsi, int level)
{
    Wires *w = opaque;
    assert_true(gsi >= 0 && gsi < 24);
    w->gsi[gsi] = level;
}

static void rec_isa(void *opaque, int irq, int level)
{
    Wires *w = opaque;
    assert_true(irq >= 0 && irq < 16);
    w->isa[irq] = level;
    w->isa_changes++;
}

static void rec_msi(void *opaque, uint64_t addr, uint32_t data)
{
    Wires *w = opaque;
    assert_true(w->msis < MAX_EVENTS);
    w->msi_addr[w->msis] = addr;
    w->msi_data[w->msis++] = data;
}

/* A test function: remembers the last BAR access. */
typedef struct {
    int reads, writes, resets;
    int bar;
    uint64_t offset, value;
    uint8_t size;
} Fn;

static int fn_read(void *opaque, int bar, uint64_t offset, uint8_t size, uint64_t *value)
{
    Fn *f = opaque;
    f->reads++;
    f->bar = bar;
    f->offset = offset;
    f->size = size;
    *value = 0xA0 + (uint64_t)bar;
    return 0;
}

static int fn_write(void *opaque, int bar, uint64_t offset, uint8_t size, uint64_t value)
{
    Fn *f = opaque;
    f->writes++;
    f->bar = bar;
    f->offset = offset;
    f->size = size;
    f->value = value;
    return 0;
}

static void fn_reset(void *opaque) { ((Fn *)opaque)->resets++; }

typedef struct {
    IoBus *io;
    MmioBus *mmio;
    PciBus *bus;
    Wires w;
    uint8_t ram[0x10000];
    DmaFlat flat;
    Fn fn;
} Rig;

static int setup(void **state)
{
    Rig *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    hv_set_log_handler(NULL, NULL);
    r->io = io_bus_create();
    r->mmio = mmio_bus_create();
    r->flat = (DmaFlat){r->ram, sizeof(r->ram)};
    const PciBusWiring w = {.io = r->io, .mmio = r->mmio, .dma = dma_flat_handle(&r->flat),
                            .set_gsi = rec_gsi, .set_isa_irq = rec_isa, .msi = rec_msi,
                            .opaque = &r->w};
    r->bus = pci_bus_create(&w);
    assert_non_null(r->bus);
    *state = r;
    return 0;
}

static int teardown(void **state)
{
    Rig *r = *state;
    pci_bus_destroy(r->bus);
    size_t n = 1;
    io_bus_handlers(r->io, &n);
    assert_int_equal(n, 0);   /* the bus took every range it registered with it */
    mmio_bus_handlers(r->mmio, &n);
    assert_int_equal(n, 0);
    io_bus_destroy(r->io);
    mmio_bus_destroy(r->mmio);
    free(r);
    return 0;
}

static uint32_t cfg_addr(int slot, int fn, unsigned reg)
{
    return 0x80000000u | (uint32_t)slot << 11 | (uint32_t)fn << 8 | reg;
}

/* Through the ports, as a guest does. */
static uint32_t in_cfg(Rig *r, int slot, unsigned reg, uint8_t size)
{
    assert_int_equal(io_bus_out(r->io, 0xCF8, 4, cfg_addr(slot, 0, reg & 0xFC)), 0);
    uint32_t v = 0;
    assert_int_equal(io_bus_in(r->io, (uint16_t)(0xCFC + (reg & 3)), size, &v), 0);
    return v;
}

static void out_cfg(Rig *r, int slot, unsigned reg, uint8_t size, uint32_t value)
{
    assert_int_equal(io_bus_out(r->io, 0xCF8, 4, cfg_addr(slot, 0, reg & 0xFC)), 0);
    assert_int_equal(io_bus_out(r->io, (uint16_t)(0xCFC + (reg & 3)), size, value), 0);
}

/* Slot 3 (INTA#): BAR0 I/O 32 bytes, BAR1 32-bit memory 4 KiB, BAR2-3 64-bit
 * prefetchable memory 16 KiB. */
static PciDevice *add_fn(Rig *r, int slot)
{
    const PciDeviceInfo info = {"test-fn", 0x1AF4, 0x1042, 0x1AF4, 0x0002, 1, 0x010000, 1};
    const PciDeviceOps ops = {NULL, fn_reset, &r->fn};
    PciDevice *d = pci_device_add(r->bus, slot, &info, &ops);
    assert_non_null(d);
    const PciBar io = {PCI_BAR_IO, 32, false, fn_read, fn_write};
    const PciBar m32 = {PCI_BAR_MEM32, 4096, false, fn_read, fn_write};
    const PciBar m64 = {PCI_BAR_MEM64, 16384, true, fn_read, fn_write};
    assert_int_equal(pci_device_set_bar(d, 0, &io), 0);
    assert_int_equal(pci_device_set_bar(d, 1, &m32), 0);
    assert_int_equal(pci_device_set_bar(d, 2, &m64), 0);
    assert_int_equal(pci_device_set_bar(d, 3, &m32), -EEXIST);   /* the upper half */
    return d;
}

static void test_config_mechanism(void **state)
{
    Rig *r = *state;
    assert_int_equal(in_cfg(r, 0, 0, 4), 0x12378086u);
    assert_int_equal(in_cfg(r, 1, 0, 4), 0x70008086u);
    assert_int_equal(in_cfg(r, 0, 2, 2), 0x1237);
    assert_int_equal(in_cfg(r, 1, 3, 1), 0x70);
    assert_int_equal(in_cfg(r, 0, 0x08, 4) >> 8, 0x060000);   /* host bridge */
    assert_int_equal(in_cfg(r, 1, 0x08, 4) >> 8, 0x060100);   /* ISA bridge */
    assert_int_equal(in_cfg(r, 1, 0x0E, 1), 0x80);            /* multi-function */
    assert_int_equal(in_cfg(r, 0, 0x2C, 4), 0x11001AF4u);
    /* Nothing at slot 5, at 01.1, on bus 1, or with the enable bit clear. */
    assert_int_equal(in_cfg(r, 5, 0, 4), 0xFFFFFFFFu);
    assert_int_equal(pci_bus_config_read(r->bus, cfg_addr(1, 1, 0), 0, 4), 0xFFFFFFFFu);
    assert_int_equal(pci_bus_config_read(r->bus, cfg_addr(0, 0, 0) | 1u << 16, 0, 4),
                     0xFFFFFFFFu);
    assert_int_equal(pci_bus_config_read(r->bus, 0, 0, 4), 0xFFFFFFFFu);
    uint32_t v = 0;
    assert_int_equal(io_bus_out(r->io, 0xCF8, 4, 0x80000003u), 0);
    assert_int_equal(io_bus_in(r->io, 0xCF8, 4, &v), 0);
    assert_int_equal(v, 0x80000000u);   /* bits 1:0 read 0 */
    /* A byte access to 0xCF8 is no configuration cycle: the register keeps its value. */
    assert_int_equal(io_bus_out(r->io, 0xCF8, 1, 0), 0);
    assert_int_equal(io_bus_in(r->io, 0xCF8, 4, &v), 0);
    assert_int_equal(v, 0x80000000u);
    /* A word at 0xCFF: one byte of the register, the other floats. */
    assert_int_equal(io_bus_in(r->io, 0xCFF, 2, &v), 0);
    assert_int_equal(v, 0xFF12);
    /* Read-only IDs stay; the latency timer is writable; the vendor ID is not. */
    out_cfg(r, 0, 0, 4, 0);
    assert_int_equal(in_cfg(r, 0, 0, 4), 0x12378086u);
    out_cfg(r, 0, 0x0D, 1, 0x40);
    assert_int_equal(in_cfg(r, 0, 0x0D, 1), 0x40);
}

static void test_bar_sizing_relocation_enables(void **state)
{
    Rig *r = *state;
    PciDevice *d = add_fn(r, 3);
    /* Sizing: all ones, read back the mask and the type bits. */
    out_cfg(r, 3, 0x10, 4, 0xFFFFFFFFu);
    assert_int_equal(in_cfg(r, 3, 0x10, 4), 0xFFFFFFE1u);
    out_cfg(r, 3, 0x14, 4, 0xFFFFFFFFu);
    assert_int_equal(in_cfg(r, 3, 0x14, 4), 0xFFFFF000u);
    out_cfg(r, 3, 0x18, 4, 0xFFFFFFFFu);
    out_cfg(r, 3, 0x1C, 4, 0xFFFFFFFFu);
    assert_int_equal(in_cfg(r, 3, 0x18, 4), 0xFFFFC00Cu);
    assert_int_equal(in_cfg(r, 3, 0x1C, 4), 0xFFFFFFFFu);
    /* No decode while the command register's enables are clear. */
    out_cfg(r, 3, 0x10, 4, 0xC100);
    out_cfg(r, 3, 0x14, 4, 0xE0000000u);
    out_cfg(r, 3, 0x18, 4, 0);
    out_cfg(r, 3, 0x1C, 4, 1);   /* 0x1_0000_0000 */
    uint32_t v = 0;
    uint64_t m = 0;
    assert_int_equal(io_bus_in(r->io, 0xC104, 1, &v), 0);
    assert_int_equal(v, 0xFF);
    assert_int_equal(r->fn.reads, 0);
    out_cfg(r, 3, 0x04, 2, 0x0001);   /* I/O only */
    assert_int_equal(io_bus_in(r->io, 0xC104, 2, &v), 0);
    assert_int_equal(v, 0xA0);
    assert_int_equal(r->fn.bar, 0);
    assert_int_equal(r->fn.offset, 4);
    assert_int_equal(mmio_bus_read(r->mmio, 0xE0000010u, 4, &m), 0);
    assert_true(m == 0xFFFFFFFFu);
    assert_int_equal(r->fn.reads, 1);
    out_cfg(r, 3, 0x04, 2, 0x0003);
    assert_int_equal(mmio_bus_write(r->mmio, 0xE0000FF8u, 8, 0x1122334455667788ull), 0);
    assert_int_equal(r->fn.bar, 1);
    assert_int_equal(r->fn.offset, 0xFF8);
    assert_true(r->fn.value == 0x1122334455667788ull);
    assert_int_equal(mmio_bus_read(r->mmio, 0x100003FFCull, 4, &m), 0);
    assert_int_equal(r->fn.bar, 2);
    assert_int_equal(r->fn.offset, 0x3FFC);
    /* An access running past the BAR's end never reaches the device. */
    int reads = r->fn.reads;
    assert_int_equal(io_bus_in(r->io, 0xC11E, 4, &v), 0);
    assert_int_equal(v, 0xFFFFFFFFu);
    assert_int_equal(r->fn.reads, reads);
    /* Relocation: the old range is gone, the new one answers. */
    out_cfg(r, 3, 0x10, 4, 0xC200);
    assert_int_equal(io_bus_in(r->io, 0xC100, 1, &v), 0);
    assert_int_equal(v, 0xFF);
    assert_int_equal(r->fn.reads, reads);
    assert_int_equal(io_bus_in(r->io, 0xC21F, 1, &v), 0);
    assert_int_equal(v, 0xA0);
    assert_int_equal(r->fn.offset, 0x1F);
    out_cfg(r, 3, 0x14, 4, 0xE0100000u);
    reads = r->fn.reads;
    assert_int_equal(mmio_bus_read(r->mmio, 0xE0000000u, 4, &m), 0);
    assert_int_equal(r->fn.reads, reads);
    assert_int_equal(mmio_bus_read(r->mmio, 0xE0100000u, 4, &m), 0);
    assert_int_equal(r->fn.reads, reads + 1);
    /* A BAR moved over another range stays unmapped; the other range keeps working. */
    Fn other = {0};
    const MmioHandler h = {.base = 0xE0200000u, .length = 0x1000,
                           .read = NULL, .opaque = &other, .name = "other"};
    assert_int_equal(mmio_bus_register(r->mmio, &h), 0);
    out_cfg(r, 3, 0x14, 4, 0xE0200000u);
    reads = r->fn.reads;
    assert_int_equal(mmio_bus_read(r->mmio, 0xE0200000u, 4, &m), 0);
    assert_int_equal(r->fn.reads, reads);
    assert_int_equal(mmio_bus_unregister(r->mmio, 0xE0200000u, &other), 0);
    /* I/O decode off: the ports go. An I/O BAR past 0xFFFF does not decode. */
    out_cfg(r, 3, 0x04, 2, 0x0002);
    assert_int_equal(io_bus_in(r->io, 0xC200, 1, &v), 0);
    assert_int_equal(v, 0xFF);
    out_cfg(r, 3, 0x04, 2, 0x0003);
    out_cfg(r, 3, 0x10, 4, 0xFFFF0);
    size_t n = 0;
    IoPortHandler *hs = io_bus_handlers(r->io, &n);
    for (size_t i = 0; i < n; i++)
        assert_string_not_equal(hs[i].name, "test-fn");
    (void)d;
}

static void test_firmware_assignment(void **state)
{
    Rig *r = *state;
    add_fn(r, 3);
    PciDevice *d4 = add_fn(r, 4);
    pci_bus_assign_resources(r->bus);
    for (int slot = 3; slot <= 4; slot++) {
        uint32_t io = in_cfg(r, slot, 0x10, 4), m32 = in_cfg(r, slot, 0x14, 4);
        uint64_t m64 = (in_cfg(r, slot, 0x18, 4) & ~0xFu) |
                       (uint64_t)in_cfg(r, slot, 0x1C, 4) << 32;
        assert_true((io & 1) && (io & ~3u) >= MACHINE_PCI_IO_BASE && (io & 31) == 1);
        assert_true(m32 >= MACHINE_PCI_MMIO_BASE && m32 < MACHINE_PCI_MMIO_END && m32 % 4096 == 0);
        assert_true(m64 >= MACHINE_PCI_MMIO_BASE && m64 < MACHINE_PCI_MMIO_END && m64 % 16384 == 0);
        assert_int_equal(in_cfg(r, slot, 0x04, 2) & 7, 7);
    }
    /* INTA# of slot 3 is PIRQC (IRQ 11), of slot 4 PIRQD (IRQ 11). */
    assert_int_equal(in_cfg(r, 3, 0x3C, 2), 0x010B);
    assert_int_equal(in_cfg(r, 4, 0x3C, 2), 0x010B);
    assert_int_equal(in_cfg(r, 1, 0x60, 4), 0x0B0B0A0Au);
    assert_int_equal(pci_bus_pirq_route(r->bus, 0), 10);
    /* The BARs decode where they were put. */
    uint32_t v = 0;
    uint32_t io4 = in_cfg(r, 4, 0x10, 4) & ~3u;
    assert_int_equal(io_bus_in(r->io, (uint16_t)(io4 + 2), 1, &v), 0);
    assert_int_equal(v, 0xA0);
    char addr[16];
    pci_device_address(d4, addr, sizeof(addr));
    assert_string_equal(addr, "00:04.0");
}

static void test_intx_pirq_routing(void **state)
{
    Rig *r = *state;
    PciDevice *d3 = add_fn(r, 3);
    const PciDeviceInfo info = {"pin-b", 0x1AF4, 0x1005, 0, 0, 0, 0x00FF00, 2};
    PciDevice *d2 = pci_device_add(r->bus, 2, &info, NULL);   /* 2 + INTB# - 2 = PIRQC */
    assert_non_null(d2);
    pci_bus_assign_resources(r->bus);
    pci_set_irq(d3, 1);
    assert_int_equal(r->w.gsi[MACHINE_PCI_GSI_BASE + 2], 1);
    assert_int_equal(r->w.isa[11], 1);
    assert_int_equal(in_cfg(r, 3, 0x06, 2) & 0x08, 0x08);   /* interrupt status */
    /* Shared PIRQ: it stays asserted until both lines drop. */
    pci_set_irq(d2, 1);
    pci_set_irq(d3, 0);
    assert_int_equal(r->w.gsi[MACHINE_PCI_GSI_BASE + 2], 1);
    pci_set_irq(d2, 0);
    assert_int_equal(r->w.gsi[MACHINE_PCI_GSI_BASE + 2], 0);
    assert_int_equal(r->w.isa[11], 0);
    /* Route PIRQC to IRQ 5 while asserted: 11 drops, 5 rises. */
    pci_set_irq(d3, 1);
    out_cfg(r, 1, 0x62, 1, 5);
    assert_int_equal(r->w.isa[11], 0);
    assert_int_equal(r->w.isa[5], 1);
    assert_int_equal(pci_bus_pirq_route(r->bus, 2), 5);
    /* Disabled route (bit 7), or a reserved IRQ (0-2, 8, 13): the 8259A sees nothing. */
    out_cfg(r, 1, 0x62, 1, 0x85);
    assert_int_equal(r->w.isa[5], 0);
    assert_int_equal(pci_bus_pirq_route(r->bus, 2), -1);
    out_cfg(r, 1, 0x62, 1, 13);
    assert_int_equal(pci_bus_pirq_route(r->bus, 2), -1);
    assert_int_equal(r->w.gsi[MACHINE_PCI_GSI_BASE + 2], 1);   /* the IOAPIC still does */
    /* Interrupt Disable masks the line; status still shows it. */
    out_cfg(r, 3, 0x04, 2, 0x0407);
    assert_int_equal(r->w.gsi[MACHINE_PCI_GSI_BASE + 2], 0);
    assert_int_equal(in_cfg(r, 3, 0x06, 2) & 0x08, 0x08);
    out_cfg(r, 3, 0x04, 2, 0x0007);
    assert_int_equal(r->w.gsi[MACHINE_PCI_GSI_BASE + 2], 1);
    pci_set_irq(d3, 0);
    assert_int_equal(r->w.gsi[MACHINE_PCI_GSI_BASE + 2], 0);
}

static void test_msi(void **state)
{
    Rig *r = *state;
    PciDevice *d = add_fn(r, 3);
    int cap = pci_device_init_msi(d, true);
    assert_true(cap >= 0x40);
    assert_int_equal(in_cfg(r, 3, 0x34, 1), cap);
    assert_int_equal(in_cfg(r, 3, 0x06, 2) & 0x10, 0x10);
    assert_int_equal(in_cfg(r, 3, (unsigned)cap, 2), 0x0005);   /* ID 05h, last */
    assert_int_equal(in_cfg(r, 3, (unsigned)cap + 2, 2), 0x0080);   /* 64-bit, one vector */
    pci_msi_notify(d);
    assert_int_equal(r->w.msis, 0);
    out_cfg(r, 3, (unsigned)cap + 4, 4, 0xFEE00003u);   /* bits 1:0 are read-only 0 */
    out_cfg(r, 3, (unsigned)cap + 8, 4, 0);
    out_cfg(r, 3, (unsigned)cap + 12, 2, 0x4041);
    out_cfg(r, 3, (unsigned)cap + 2, 2, 0x0071);   /* enable; MME stays 0 */
    assert_int_equal(in_cfg(r, 3, (unsigned)cap + 2, 2), 0x0081);
    assert_true(pci_msi_enabled(d));
    pci_msi_notify(d);
    assert_int_equal(r->w.msis, 1);
    assert_true(r->w.msi_addr[0] == 0xFEE00000u);
    assert_int_equal(r->w.msi_data[0], 0x4041);
    /* INTx is not used while MSI is on. */
    pci_set_irq(d, 1);
    assert_int_equal(r->w.gsi[MACHINE_PCI_GSI_BASE + 2], 0);
    out_cfg(r, 3, (unsigned)cap + 2, 2, 0);
    assert_int_equal(r->w.gsi[MACHINE_PCI_GSI_BASE + 2], 1);
}

static void test_msix(void **state)
{
    Rig *r = *state;
    PciDevice *d = add_fn(r, 3);
    assert_int_equal(pci_device_init_msix(d, 4, 1, 0x0, 0x800), 0);
    assert_int_equal(pci_device_init_msix(d, 4, 1, 0x0, 0x800), -EINVAL);
    pci_bus_assign_resources(r->bus);
    uint64_t bar = in_cfg(r, 3, 0x14, 4) & ~0xFu;
    unsigned cap = in_cfg(r, 3, 0x34, 1);
    assert_int_equal(in_cfg(r, 3, cap, 1), 0x11);
    assert_int_equal(in_cfg(r, 3, cap + 2, 2), 3);          /* table size - 1 */
    assert_int_equal(in_cfg(r, 3, cap + 4, 4), 0x000 | 1);  /* BIR 1 */
    assert_int_equal(in_cfg(r, 3, cap + 8, 4), 0x800 | 1);
    uint64_t v = 0;
    /* Entries start masked. */
    assert_int_equal(mmio_bus_read(r->mmio, bar + 2 * 16 + 12, 4, &v), 0);
    assert_true(v == 1);
    assert_int_equal(mmio_bus_write(r->mmio, bar + 2 * 16, 8, 0xFEE01000u), 0);
    assert_int_equal(mmio_bus_write(r->mmio, bar + 2 * 16 + 8, 4, 0x52), 0);
    assert_int_equal(mmio_bus_write(r->mmio, bar + 2 * 16 + 12, 4, 0xFFFFFFFEu), 0);
    assert_int_equal(mmio_bus_read(r->mmio, bar + 2 * 16 + 12, 4, &v), 0);
    assert_true(v == 0);   /* reserved bits stay 0 */
    /* Disabled: a notify is dropped. */
    pci_msix_notify(d, 2);
    assert_int_equal(r->w.msis, 0);
    /* Enabled with the function masked: pending, then delivered on unmask. */
    out_cfg(r, 3, cap + 2, 2, 0xC000);
    assert_true(pci_msix_enabled(d));
    pci_msix_notify(d, 2);
    assert_int_equal(r->w.msis, 0);
    assert_int_equal(mmio_bus_read(r->mmio, bar + 0x800, 8, &v), 0);
    assert_true(v == 4);
    out_cfg(r, 3, cap + 2, 2, 0x8000);
    assert_int_equal(r->w.msis, 1);
    assert_true(r->w.msi_addr[0] == 0xFEE01000u);
    assert_int_equal(r->w.msi_data[0], 0x52);
    assert_int_equal(mmio_bus_read(r->mmio, bar + 0x800, 8, &v), 0);
    assert_true(v == 0);
    /* Vector mask: pending until the entry is unmasked. */
    assert_int_equal(mmio_bus_write(r->mmio, bar + 2 * 16 + 12, 4, 1), 0);
    pci_msix_notify(d, 2);
    assert_int_equal(r->w.msis, 1);
    assert_int_equal(mmio_bus_write(r->mmio, bar + 0x800, 8, 0), 0);   /* PBA: read-only */
    assert_int_equal(mmio_bus_read(r->mmio, bar + 0x800, 1, &v), 0);
    assert_true(v == 4);
    assert_int_equal(mmio_bus_write(r->mmio, bar + 2 * 16 + 12, 4, 0), 0);
    assert_int_equal(r->w.msis, 2);
    /* Unmasked: at once. Out-of-range vectors are ignored. */
    pci_msix_notify(d, 2);
    assert_int_equal(r->w.msis, 3);
    pci_msix_notify(d, 4);
    pci_msix_notify(d, UINT32_MAX);
    assert_int_equal(r->w.msis, 3);
    /* The rest of the BAR is the device's. */
    int reads = r->fn.reads;
    assert_int_equal(mmio_bus_read(r->mmio, bar + 0x900, 4, &v), 0);
    assert_int_equal(r->fn.reads, reads + 1);
    assert_int_equal(r->fn.offset, 0x900);
    /* INTx is not used while MSI-X is on. */
    pci_set_irq(d, 1);
    assert_int_equal(r->w.gsi[MACHINE_PCI_GSI_BASE + 2], 0);
}

static void test_dma_needs_bus_master(void **state)
{
    Rig *r = *state;
    PciDevice *d = add_fn(r, 3);
    const DmaHandle *dma = pci_device_dma(d);
    uint32_t v = 0x12345678;
    assert_int_equal(dma_write(dma, 0x100, &v, 4), -EFAULT);
    out_cfg(r, 3, 0x04, 2, 0x0004);
    assert_int_equal(dma_write(dma, 0x100, &v, 4), 0);
    assert_int_equal(r->ram[0x100], 0x78);
    assert_int_equal(dma_read(dma, sizeof(r->ram) - 2, &v, 4), -EFAULT);   /* past RAM */
    out_cfg(r, 3, 0x04, 2, 0);
    assert_int_equal(dma_read(dma, 0x100, &v, 4), -EFAULT);
}

static void test_info_pci(void **state)
{
    Rig *r = *state;
    add_fn(r, 3);
    pci_bus_assign_resources(r->bus);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    pci_bus_print_info(r->bus, out);
    fclose(out);
    static const char expect[] =
        "  Bus  0, device   0, function 0:\n"
        "    Host bridge: PCI device 8086:1237\n"
        "      PCI subsystem 1af4:1100\n"
        "      id \"\"\n"
        "  Bus  0, device   1, function 0:\n"
        "    ISA bridge: PCI device 8086:7000\n"
        "      PCI subsystem 1af4:1100\n"
        "      id \"\"\n"
        "  Bus  0, device   3, function 0:\n"
        "    SCSI controller: PCI device 1af4:1042\n"
        "      PCI subsystem 1af4:0002\n"
        "      IRQ 11, pin A\n"
        "      BAR0: I/O at 0xc000 [0xc01f].\n"
        "      BAR1: 32 bit memory at 0xc0004000 [0xc0004fff].\n"
        "      BAR2: 64 bit prefetchable memory at 0xc0000000 [0xc0003fff].\n"
        "      id \"\"\n";
    assert_string_equal(text, expect);
    free(text);
}

static void test_reset(void **state)
{
    Rig *r = *state;
    PciDevice *d = add_fn(r, 3);
    assert_true(pci_device_init_msi(d, false) > 0);
    pci_bus_assign_resources(r->bus);
    uint32_t io = in_cfg(r, 3, 0x10, 4);
    out_cfg(r, 3, 0x10, 4, 0xD000);
    out_cfg(r, 3, 0x3C, 1, 5);
    out_cfg(r, 1, 0x60, 4, 0x80808080u);
    pci_set_irq(d, 1);
    pci_bus_reset(r->bus);
    assert_int_equal(r->fn.resets, 1);
    assert_int_equal(in_cfg(r, 3, 0x10, 4), io);   /* the firmware step again */
    assert_int_equal(in_cfg(r, 3, 0x3C, 1), 11);
    assert_int_equal(in_cfg(r, 1, 0x60, 4), 0x0B0B0A0Au);
    assert_int_equal(in_cfg(r, 3, 0x06, 2) & 0x08, 0);
    assert_int_equal(r->w.gsi[MACHINE_PCI_GSI_BASE + 2], 0);
    uint32_t v = 0;
    assert_int_equal(io_bus_in(r->io, 0xD000, 1, &v), 0);
    assert_int_equal(v, 0xFF);
}

static void test_add_errors(void **state)
{
    Rig *r = *state;
    const PciDeviceInfo info = {"x", 1, 2, 0, 0, 0, 0, 1};
    assert_null(pci_device_add(r->bus, 0, &info, NULL));   /* the host bridge's */
    assert_null(pci_device_add(r->bus, 32, &info, NULL));
    const PciDeviceInfo bad_pin = {"x", 1, 2, 0, 0, 0, 0, 5};
    assert_null(pci_device_add(r->bus, 2, &bad_pin, NULL));
    PciDevice *d = pci_device_add(r->bus, -1, &info, NULL);
    assert_non_null(d);
    char a[16];
    pci_device_address(d, a, sizeof(a));
    assert_string_equal(a, "00:02.0");
    const PciBar odd = {PCI_BAR_MEM32, 24, false, NULL, NULL};
    assert_int_equal(pci_device_set_bar(d, 0, &odd), -EINVAL);
    const PciBar big_io = {PCI_BAR_IO, 512, false, NULL, NULL};
    assert_int_equal(pci_device_set_bar(d, 0, &big_io), -EINVAL);
    const PciBar last64 = {PCI_BAR_MEM64, 4096, false, NULL, NULL};
    assert_int_equal(pci_device_set_bar(d, 5, &last64), -EINVAL);
    assert_int_equal(pci_device_set_bar(d, 6, &odd), -EINVAL);
    /* MSI-X needs a memory BAR that holds the table and the PBA apart. */
    const PciBar m = {PCI_BAR_MEM32, 4096, false, NULL, NULL};
    assert_int_equal(pci_device_set_bar(d, 0, &m), 0);
    assert_int_equal(pci_device_init_msix(d, 4, 1, 0, 0x800), -EINVAL);
    assert_int_equal(pci_device_init_msix(d, 4, 0, 0, 0x20), -EINVAL);
    assert_int_equal(pci_device_init_msix(d, 4, 0, 0xFF8, 0x800), -EINVAL);
    assert_int_equal(pci_device_init_msix(d, 0, 0, 0, 0x800), -EINVAL);
    /* Capabilities fill configuration space, then -ENOSPC. */
    uint8_t body[40] = {0};
    int last = 0, c;
    while ((c = pci_device_add_capability(d, PCI_CAP_ID_VENDOR, body, sizeof(body))) > 0)
        last = c;
    assert_int_equal(c, -ENOSPC);
    assert_true(last > 0x40 && last + 2 + 40 <= 256);
    /* Vendor capabilities are read-only unless the device opens them. */
    out_cfg(r, 2, 0x44, 4, 0xFFFFFFFFu);
    assert_int_equal(in_cfg(r, 2, 0x44, 4), 0);
    assert_int_equal(pci_device_config_writable(d, 0x44, 4), 0);
    out_cfg(r, 2, 0x44, 4, 0xFFFFFFFFu);
    assert_int_equal(in_cfg(r, 2, 0x44, 4), 0xFFFFFFFFu);
    assert_int_equal(pci_device_config_writable(d, 0x10, 4), -EINVAL);
    assert_int_equal(pci_device_config_writable(d, 0xFE, 4), -EINVAL);
    for (int s = 3; s < PCI_MAX_SLOTS; s++)
        assert_non_null(pci_device_add(r->bus, -1, &info, NULL));
    assert_null(pci_device_add(r->bus, -1, &info, NULL));
}

/* Garbage to every configuration register of every function and to every port of the
 * mechanism, at every size: the bus must stay consistent (ASan and UBSan watch the
 * memory), the bridges keep their IDs, and no range ends up on top of another. */
static void test_hostile_config_writes(void **state)
{
    Rig *r = *state;
    PciDevice *d = add_fn(r, 3);
    assert_int_equal(pci_device_init_msix(d, 8, 1, 0x100, 0x200), 0);
    assert_true(pci_device_init_msi(d, true) > 0);
    pci_bus_assign_resources(r->bus);
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (int round = 0; round < 20000; round++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint8_t sizes[3] = {1, 2, 4};
        uint8_t size = sizes[x % 3];
        uint16_t port = (uint16_t)(0xCF8 + (x >> 8) % 8);
        uint32_t addr = (uint32_t)(x >> 16);
        if (round % 2)   /* bus 0, so that real functions are hit often */
            addr = 0x80000000u | (addr & 0xFFFF);
        uint32_t value = (uint32_t)(x >> 32);
        if (x & 0x100000)
            io_bus_out(r->io, 0xCF8, 4, addr);
        uint32_t v;
        if (x & 0x200000)
            io_bus_in(r->io, port, size, &v);
        else
            io_bus_out(r->io, port, size, value);
        pci_set_irq(d, (int)(x >> 40) & 1);
        pci_msix_notify(d, (unsigned)(x >> 44) % 10);
        pci_msi_notify(d);
        uint64_t m;
        mmio_bus_read(r->mmio, MACHINE_PCI_MMIO_BASE + ((x >> 20) & 0x7FFF), size, &m);
    }
    assert_int_equal(in_cfg(r, 0, 0, 4), 0x12378086u);
    assert_int_equal(in_cfg(r, 1, 0, 4), 0x70008086u);
    assert_int_equal(in_cfg(r, 3, 0, 4), 0x10421AF4u);
    size_t n = 0;
    IoPortHandler *hs = io_bus_handlers(r->io, &n);
    for (size_t i = 1; i < n; i++)
        assert_true((uint32_t)hs[i - 1].base + hs[i - 1].length <= hs[i].base);
    MmioHandler *ms = mmio_bus_handlers(r->mmio, &n);
    for (size_t i = 1; i < n; i++)
        assert_true(ms[i - 1].base + ms[i - 1].length <= ms[i].base);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_config_mechanism),
        T(test_bar_sizing_relocation_enables),
        T(test_firmware_assignment),
        T(test_intx_pirq_routing),
        T(test_msi),
        T(test_msix),
        T(test_dma_needs_bus_master),
        T(test_info_pci),
        T(test_reset),
        T(test_add_errors),
        T(test_hostile_config_writes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
