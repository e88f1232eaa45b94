/*
 * PCI bus 0 (dev/pci.h for devices, dev/pci_bus.h for the machine): configuration space
 * through mechanism #1, an i440FX host bridge and a PIIX3 ISA bridge, BARs that the guest
 * sizes and moves, INTx through the PIIX3 PIRQs, MSI and MSI-X. Facts from the PCI Local
 * Bus Specification 3.0 (header layout 6.1, BARs 6.2.5.1, MSI and MSI-X 6.8) and Intel's
 * 82371SB (PIIX3) datasheet (PIRQRC, 2.2.5).
 *
 * Configuration space is an array of 256 bytes per function with a write mask: a guest
 * write changes only the writable bits, so BAR sizing falls out of the mask (the address
 * bits below the BAR's size are read-only zero). After each write the bus re-derives what
 * the registers mean: where the BARs decode, INTx, MSI and MSI-X enables.
 */
#include "dev/pci_bus.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hv/hv_log.h"
#include "vmm/machine.h"

/* Header registers (PCI 3.0, 6.1). */
#define PCI_VENDOR_ID        0x00
#define PCI_DEVICE_ID        0x02
#define PCI_COMMAND          0x04
#define PCI_STATUS           0x06
#define PCI_REVISION_ID      0x08
#define PCI_CLASS_PROG       0x09
#define PCI_CACHE_LINE_SIZE  0x0C
#define PCI_LATENCY_TIMER    0x0D
#define PCI_HEADER_TYPE      0x0E
#define PCI_BAR0             0x10
#define PCI_SUBSYSTEM_VENDOR 0x2C
#define PCI_SUBSYSTEM_ID     0x2E
#define PCI_CAPABILITY_LIST  0x34
#define PCI_INTERRUPT_LINE   0x3C
#define PCI_INTERRUPT_PIN    0x3D
#define PCI_CAP_START        0x40

#define PCI_COMMAND_IO       0x0001
#define PCI_COMMAND_MEMORY   0x0002
#define PCI_COMMAND_MASTER   0x0004
#define PCI_COMMAND_PARITY   0x0040
#define PCI_COMMAND_SERR     0x0100
#define PCI_COMMAND_INTX_DISABLE 0x0400
#define PCI_COMMAND_WRITABLE (PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | \
                              PCI_COMMAND_PARITY | PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE)
#define PCI_STATUS_INTERRUPT 0x0008
#define PCI_STATUS_CAP_LIST  0x0010
#define PCI_HEADER_MULTIFUNCTION 0x80

#define PCI_BAR_SPACE_IO     0x1
#define PCI_BAR_MEM_TYPE_64  0x4
#define PCI_BAR_PREFETCH     0x8

/* MSI (6.8.1) and MSI-X (6.8.2) registers, from the capability's offset. */
#define MSI_FLAGS            2
#define MSI_FLAGS_ENABLE     0x0001
#define MSI_FLAGS_64BIT      0x0080
#define MSI_ADDRESS_LO       4
#define MSI_DATA_32          8
#define MSI_ADDRESS_HI       8
#define MSI_DATA_64          12
#define MSIX_FLAGS           2
#define MSIX_FLAGS_MASKALL   0x4000
#define MSIX_FLAGS_ENABLE    0x8000
#define MSIX_TABLE           4
#define MSIX_PBA             8
#define MSIX_ENTRY_SIZE      16
#define MSIX_ENTRY_DATA      8
#define MSIX_ENTRY_CTRL      12
#define MSIX_ENTRY_MASKED    0x1
#define MSIX_MAX_VECTORS     2048

/* Intel IDs and registers of the two bridges (82441FX and 82371SB datasheets). */
#define PCI_VENDOR_INTEL     0x8086
#define I440FX_DEVICE_ID     0x1237
#define PIIX3_DEVICE_ID      0x7000
#define I440FX_PAM0          0x59     /* PAM0-6: BIOS shadowing, kept but without effect */
#define I440FX_PAM_COUNT     7
#define I440FX_SMRAM         0x72
#define PIIX3_PIRQRC         0x60     /* PIRQA-D route control, 0x60-0x63 */
#define PIIX3_PIRQRC_DISABLE 0x80
#define PIIX3_PIRQRC_MASK    0x8F
/* The subsystem QEMU gives its emulated chipset functions (Red Hat, "QEMU"), so that
 * info pci and lspci read as on QEMU's pc. */
#define QEMU_SUBSYSTEM_VENDOR 0x1AF4
#define QEMU_SUBSYSTEM_ID     0x1100

#define PIIX3_SLOT 1

/* What a BAR range registered on the I/O or MMIO bus hands back to the bus. */
typedef struct {
    PciDevice *dev;
    int bar;
} BarRef;

struct PciDevice {
    PciBus *bus;
    int slot;
    PciDeviceInfo info;
    PciDeviceOps ops;
    uint8_t config[PCI_CONFIG_SIZE];
    uint8_t wmask[PCI_CONFIG_SIZE];
    uint8_t power_on[PCI_CONFIG_SIZE];    /* config at the firmware step, for resets */
    bool have_power_on;
    PciBar bars[PCI_NUM_BARS];
    bool bar_present[PCI_NUM_BARS];       /* false for the upper half of a 64-bit BAR */
    bool bar_mapped[PCI_NUM_BARS];
    uint64_t bar_addr[PCI_NUM_BARS];      /* where it decodes while mapped */
    BarRef refs[PCI_NUM_BARS];
    uint8_t cap_end;                      /* the next free byte for a capability */
    uint8_t last_cap;                     /* offset of the last capability, 0: none */
    uint8_t msi_cap, msix_cap;            /* 0: none */
    unsigned msix_vectors;
    int msix_bar;
    uint32_t msix_table_offset, msix_pba_offset;
    uint8_t *msix_table;                  /* msix_vectors entries of 16 bytes */
    uint64_t *msix_pba;                   /* one bit per vector */
    int intx_level;                       /* what the device asks for (pci_set_irq) */
    bool bus_master;                      /* the command register's, for DMA threads */
    DmaHandle dma;
};

struct PciBus {
    PciBusWiring w;
    pthread_mutex_t lock;
    uint32_t config_address;              /* CONFIG_ADDRESS (0xCF8) */
    PciDevice *slots[PCI_MAX_SLOTS];
    PciDevice *host, *isa;
    bool pirq_level[MACHINE_PCI_PIRQS];   /* as last driven */
    int pirq_irq[MACHINE_PCI_PIRQS];      /* the ISA IRQ each drives, -1: none */
    bool config_ports;                    /* registered on w.io */
};

/* ---------------------------------------------------------------------------------- */
/* Configuration space helpers                                                         */
/* ---------------------------------------------------------------------------------- */

static uint16_t cfg16(const PciDevice *d, unsigned off)
{
    return (uint16_t)(d->config[off] | d->config[off + 1] << 8);
}

static uint32_t cfg32(const PciDevice *d, unsigned off)
{
    return (uint32_t)cfg16(d, off) | (uint32_t)cfg16(d, off + 2) << 16;
}

static void set16(uint8_t *a, unsigned off, uint16_t v)
{
    a[off] = (uint8_t)v;
    a[off + 1] = (uint8_t)(v >> 8);
}

static void set32(uint8_t *a, unsigned off, uint32_t v)
{
    set16(a, off, (uint16_t)v);
    set16(a, off + 2, (uint16_t)(v >> 16));
}

/* Base address of BAR i as the registers hold it (both halves of a 64-bit BAR). */
static uint64_t bar_register_address(const PciDevice *d, int i)
{
    uint32_t lo = cfg32(d, PCI_BAR0 + 4 * i);
    if (d->bars[i].kind == PCI_BAR_IO)
        return lo & ~UINT32_C(3);
    uint64_t a = lo & ~UINT32_C(0xF);
    if (d->bars[i].kind == PCI_BAR_MEM64)
        a |= (uint64_t)cfg32(d, PCI_BAR0 + 4 * (i + 1)) << 32;
    return a;
}

/* ---------------------------------------------------------------------------------- */
/* Interrupts                                                                          */
/* ---------------------------------------------------------------------------------- */

static bool msi_enabled(const PciDevice *d)
{
    return d->msi_cap && (cfg16(d, d->msi_cap + MSI_FLAGS) & MSI_FLAGS_ENABLE);
}

static bool msix_enabled_locked(const PciDevice *d)
{
    return d->msix_cap && (cfg16(d, d->msix_cap + MSIX_FLAGS) & MSIX_FLAGS_ENABLE);
}

/* The PIRQ that INTx of d reaches (machine.h's swizzle), or -1 without a pin. */
static int device_pirq(const PciDevice *d)
{
    int pin = d->config[PCI_INTERRUPT_PIN];
    if (pin < 1 || pin > 4)
        return -1;
    return (d->slot + pin - 2) & 3;
}

/* An ISA IRQ PIIX3 can route to (82371SB 2.2.5: 3-7, 9-12, 14, 15), else -1. */
static int route_irq(uint8_t pirqrc)
{
    if (pirqrc & PIIX3_PIRQRC_DISABLE)
        return -1;
    int irq = pirqrc & 0x0F;
    return (irq < 3 || irq == 8 || irq == 13) ? -1 : irq;
}

/* Drives each PIRQ as the OR of the INTx lines on it and moves it to the IRQ its route
 * register names. Bus lock held. */
static void update_pirqs(PciBus *bus)
{
    bool level[MACHINE_PCI_PIRQS] = {false};
    for (int s = 0; s < PCI_MAX_SLOTS; s++) {
        const PciDevice *d = bus->slots[s];
        if (!d || !d->intx_level || (cfg16(d, PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE) ||
            msi_enabled(d) || msix_enabled_locked(d))
            continue;
        int p = device_pirq(d);
        if (p >= 0)
            level[p] = true;
    }
    for (int p = 0; p < MACHINE_PCI_PIRQS; p++) {
        int irq = route_irq(bus->isa->config[PIIX3_PIRQRC + p]);
        if (irq != bus->pirq_irq[p]) {
            if (bus->pirq_irq[p] >= 0 && bus->pirq_level[p] && bus->w.set_isa_irq)
                bus->w.set_isa_irq(bus->w.opaque, bus->pirq_irq[p], 0);
            bus->pirq_irq[p] = irq;
            if (irq >= 0 && level[p] && bus->w.set_isa_irq)
                bus->w.set_isa_irq(bus->w.opaque, irq, 1);
        }
        if (level[p] == bus->pirq_level[p])
            continue;
        bus->pirq_level[p] = level[p];
        if (bus->w.set_gsi)
            bus->w.set_gsi(bus->w.opaque, MACHINE_PCI_GSI_BASE + p, level[p]);
        if (irq >= 0 && bus->w.set_isa_irq)
            bus->w.set_isa_irq(bus->w.opaque, irq, level[p]);
    }
}

void pci_set_irq(PciDevice *d, int level)
{
    if (!d)
        return;
    PciBus *bus = d->bus;
    pthread_mutex_lock(&bus->lock);
    d->intx_level = level != 0;
    /* Interrupt Status (status bit 3) shows the device's request whatever the enables. */
    if (d->intx_level)
        d->config[PCI_STATUS] |= PCI_STATUS_INTERRUPT;
    else
        d->config[PCI_STATUS] &= (uint8_t)~PCI_STATUS_INTERRUPT;
    update_pirqs(bus);
    pthread_mutex_unlock(&bus->lock);
}

static void send_msi(PciBus *bus, uint64_t addr, uint32_t data)
{
    if (bus->w.msi)
        bus->w.msi(bus->w.opaque, addr, data);
}

static uint8_t *msix_entry(PciDevice *d, unsigned v) { return d->msix_table + v * MSIX_ENTRY_SIZE; }

static bool msix_vector_masked(PciDevice *d, unsigned v)
{
    return (cfg16(d, d->msix_cap + MSIX_FLAGS) & MSIX_FLAGS_MASKALL) ||
           (msix_entry(d, v)[MSIX_ENTRY_CTRL] & MSIX_ENTRY_MASKED);
}

static void msix_deliver(PciDevice *d, unsigned v)
{
    const uint8_t *e = msix_entry(d, v);
    uint64_t addr = (uint64_t)(e[0] | e[1] << 8 | e[2] << 16 | (uint32_t)e[3] << 24) |
                    (uint64_t)(e[4] | e[5] << 8 | e[6] << 16 | (uint32_t)e[7] << 24) << 32;
    uint32_t data = e[8] | e[9] << 8 | e[10] << 16 | (uint32_t)e[11] << 24;
    send_msi(d->bus, addr, data);
}

/* Delivers the pending vectors that are no longer masked (6.8.2.9). Bus lock held. */
static void msix_flush_pending(PciDevice *d)
{
    if (!msix_enabled_locked(d))
        return;
    for (unsigned v = 0; v < d->msix_vectors; v++) {
        uint64_t bit = UINT64_C(1) << (v % 64);
        if ((d->msix_pba[v / 64] & bit) && !msix_vector_masked(d, v)) {
            d->msix_pba[v / 64] &= ~bit;
            msix_deliver(d, v);
        }
    }
}

void pci_msix_notify(PciDevice *d, unsigned vector)
{
    if (!d || !d->msix_cap || vector >= d->msix_vectors)
        return;
    pthread_mutex_lock(&d->bus->lock);
    if (msix_enabled_locked(d)) {
        if (msix_vector_masked(d, vector))
            d->msix_pba[vector / 64] |= UINT64_C(1) << (vector % 64);
        else
            msix_deliver(d, vector);
    }
    pthread_mutex_unlock(&d->bus->lock);
}

bool pci_msix_enabled(const PciDevice *d)
{
    if (!d)
        return false;
    pthread_mutex_lock(&d->bus->lock);
    bool on = msix_enabled_locked(d);
    pthread_mutex_unlock(&d->bus->lock);
    return on;
}

bool pci_msi_enabled(const PciDevice *d)
{
    if (!d)
        return false;
    pthread_mutex_lock(&d->bus->lock);
    bool on = msi_enabled(d);
    pthread_mutex_unlock(&d->bus->lock);
    return on;
}

void pci_msi_notify(PciDevice *d)
{
    if (!d || !d->msi_cap)
        return;
    pthread_mutex_lock(&d->bus->lock);
    if (msi_enabled(d)) {
        unsigned c = d->msi_cap;
        bool is64 = cfg16(d, c + MSI_FLAGS) & MSI_FLAGS_64BIT;
        uint64_t addr = cfg32(d, c + MSI_ADDRESS_LO);
        if (is64)
            addr |= (uint64_t)cfg32(d, c + MSI_ADDRESS_HI) << 32;
        send_msi(d->bus, addr, cfg16(d, c + (is64 ? MSI_DATA_64 : MSI_DATA_32)));
    }
    pthread_mutex_unlock(&d->bus->lock);
}

/* ---------------------------------------------------------------------------------- */
/* BARs on the I/O and MMIO buses                                                      */
/* ---------------------------------------------------------------------------------- */

static bool in_range(uint64_t off, uint64_t len, uint64_t start, uint64_t size)
{
    return off >= start && off - start < size && len <= size - (off - start);
}

/* MSI-X table and PBA accesses of `size` bytes at `off` into the BAR: true when they are
 * the bus's (served here), false for the device's handlers. */
static bool msix_access(PciDevice *d, int bar, uint64_t off, uint8_t size, bool write,
                        uint64_t *value)
{
    if (!d->msix_cap || bar != d->msix_bar)
        return false;
    uint64_t table_size = (uint64_t)d->msix_vectors * MSIX_ENTRY_SIZE;
    uint64_t pba_size = (uint64_t)(d->msix_vectors + 63) / 64 * 8;
    bool table = in_range(off, size, d->msix_table_offset, table_size);
    bool pba = in_range(off, size, d->msix_pba_offset, pba_size);
    if (!table && !pba) {
        /* An access straddling the table's or PBA's edge: the bus's too, as all ones. */
        uint64_t end = off + size;
        bool touches = (end > d->msix_table_offset && off < d->msix_table_offset + table_size) ||
                       (end > d->msix_pba_offset && off < d->msix_pba_offset + pba_size);
        if (touches && !write)
            *value = size == 8 ? UINT64_MAX : (UINT64_C(1) << (8 * size)) - 1;
        return touches;
    }
    pthread_mutex_lock(&d->bus->lock);
    if (pba) {
        const uint8_t *p = (const uint8_t *)d->msix_pba + (off - d->msix_pba_offset);
        if (!write) {
            uint64_t v = 0;
            memcpy(&v, p, size);
            *value = v;
        }
        /* the PBA is read-only (6.8.2.10) */
    } else {
        uint64_t t = off - d->msix_table_offset;
        if (!write) {
            uint64_t v = 0;
            memcpy(&v, d->msix_table + t, size);
            *value = v;
        } else {
            for (uint8_t i = 0; i < size; i++) {
                uint64_t b = t + i;
                uint8_t byte = (uint8_t)(*value >> (8 * i));
                if (b % MSIX_ENTRY_SIZE == MSIX_ENTRY_CTRL)
                    byte &= MSIX_ENTRY_MASKED;
                else if (b % MSIX_ENTRY_SIZE > MSIX_ENTRY_CTRL)
                    byte = 0;   /* reserved bits of Vector Control */
                d->msix_table[b] = byte;
            }
            msix_flush_pending(d);
        }
    }
    pthread_mutex_unlock(&d->bus->lock);
    return true;
}

/* One access to BAR `bar` at `off`; never reaches the device outside the BAR. */
static int bar_access(const BarRef *ref, uint64_t off, uint8_t size, bool write,
                      uint64_t *value)
{
    PciDevice *d = ref->dev;
    const PciBar *b = &d->bars[ref->bar];
    uint64_t ones = size == 8 ? UINT64_MAX : (UINT64_C(1) << (8 * size)) - 1;
    if (off >= b->size || size > b->size - off) {
        if (!write)
            *value = ones;
        return 0;
    }
    if (msix_access(d, ref->bar, off, size, write, value))
        return 0;
    if (write)
        return b->write ? b->write(d->ops.opaque, ref->bar, off, size, *value) : 0;
    if (!b->read) {
        *value = ones;
        return 0;
    }
    return b->read(d->ops.opaque, ref->bar, off, size, value);
}

static int bar_io_read(uint16_t port, uint8_t size, uint32_t *value, void *opaque)
{
    const BarRef *ref = opaque;
    uint64_t v = 0;
    int r = bar_access(ref, port - ref->dev->bar_addr[ref->bar], size, false, &v);
    *value = (uint32_t)v;
    return r;
}

static int bar_io_write(uint16_t port, uint8_t size, uint32_t value, void *opaque)
{
    const BarRef *ref = opaque;
    uint64_t v = value;
    return bar_access(ref, port - ref->dev->bar_addr[ref->bar], size, true, &v);
}

static int bar_mmio_read(uint64_t addr, uint8_t size, uint64_t *value, void *opaque)
{
    const BarRef *ref = opaque;
    return bar_access(ref, addr - ref->dev->bar_addr[ref->bar], size, false, value);
}

static int bar_mmio_write(uint64_t addr, uint8_t size, uint64_t value, void *opaque)
{
    const BarRef *ref = opaque;
    return bar_access(ref, addr - ref->dev->bar_addr[ref->bar], size, true, &value);
}

static void unmap_bar(PciDevice *d, int i)
{
    if (!d->bar_mapped[i])
        return;
    if (d->bars[i].kind == PCI_BAR_IO)
        io_bus_unregister(d->bus->w.io, (uint16_t)d->bar_addr[i], &d->refs[i]);
    else
        mmio_bus_unregister(d->bus->w.mmio, d->bar_addr[i], &d->refs[i]);
    d->bar_mapped[i] = false;
}

/* Where BAR i decodes now, from the command register and the BAR (0 is "not placed": no
 * decode, as firmware and OSes treat it); false when it does not decode. */
static bool bar_decodes(const PciDevice *d, int i, uint64_t *addr)
{
    uint16_t cmd = cfg16(d, PCI_COMMAND);
    const PciBar *b = &d->bars[i];
    uint64_t a = bar_register_address(d, i);
    *addr = a;
    if (a == 0)
        return false;
    if (b->kind == PCI_BAR_IO)
        return (cmd & PCI_COMMAND_IO) && a + b->size <= 0x10000;
    return (cmd & PCI_COMMAND_MEMORY) && a + (b->size - 1) >= a;
}

/* Moves every BAR of d to where its registers say, on the vCPU thread (bus lock held).
 * A BAR placed over another range (a hostile or careless guest) stays unmapped: the
 * other range keeps its addresses, as first come first served. */
static void update_bars(PciDevice *d)
{
    for (int i = 0; i < PCI_NUM_BARS; i++) {
        if (!d->bar_present[i])
            continue;
        uint64_t addr;
        bool on = bar_decodes(d, i, &addr);
        if (d->bar_mapped[i] && on && d->bar_addr[i] == addr)
            continue;
        unmap_bar(d, i);
        if (!on)
            continue;
        const PciBar *b = &d->bars[i];
        int r;
        if (b->kind == PCI_BAR_IO) {
            const IoPortHandler h = {.base = (uint16_t)addr, .length = (uint16_t)b->size,
                                     .read = bar_io_read, .write = bar_io_write,
                                     .opaque = &d->refs[i], .name = d->info.name};
            r = io_bus_register(d->bus->w.io, &h);
        } else {
            const MmioHandler h = {.base = addr, .length = b->size, .read = bar_mmio_read,
                                   .write = bar_mmio_write, .opaque = &d->refs[i],
                                   .name = d->info.name};
            r = mmio_bus_register(d->bus->w.mmio, &h);
        }
        if (r == 0) {
            d->bar_mapped[i] = true;
            d->bar_addr[i] = addr;
        }
    }
}

/* ---------------------------------------------------------------------------------- */
/* Configuration cycles                                                                */
/* ---------------------------------------------------------------------------------- */

static bool overlaps(unsigned off, unsigned len, unsigned start, unsigned size)
{
    return off < start + size && start < off + len;
}

/* Applies a guest write of `size` bytes at `off` through the write mask and re-derives
 * what changed. Bus lock held. */
static void config_write_locked(PciDevice *d, unsigned off, uint8_t size, uint32_t value)
{
    bool msix_was = msix_enabled_locked(d);
    for (unsigned i = 0; i < size && off + i < PCI_CONFIG_SIZE; i++) {
        unsigned o = off + i;
        uint8_t b = (uint8_t)(value >> (8 * i));
        d->config[o] = (uint8_t)((d->config[o] & ~d->wmask[o]) | (b & d->wmask[o]));
    }
    if (overlaps(off, size, PCI_COMMAND, 2) || overlaps(off, size, PCI_BAR0, 24))
        update_bars(d);
    __atomic_store_n(&d->bus_master, (cfg16(d, PCI_COMMAND) & PCI_COMMAND_MASTER) != 0,
                     __ATOMIC_RELEASE);
    if (d->msix_cap && overlaps(off, size, d->msix_cap + MSIX_FLAGS, 2)) {
        if (msix_enabled_locked(d) != msix_was || msix_enabled_locked(d))
            msix_flush_pending(d);
    }
    update_pirqs(d->bus);
}

static PciDevice *addressed(PciBus *bus, uint32_t address)
{
    if (!(address & 0x80000000u))
        return NULL;
    unsigned busno = (address >> 16) & 0xFF, slot = (address >> 11) & 0x1F;
    unsigned fn = (address >> 8) & 7;
    return busno == 0 && fn == 0 ? bus->slots[slot] : NULL;
}

uint32_t pci_bus_config_read(PciBus *bus, uint32_t address, unsigned offset, uint8_t size)
{
    uint32_t ones = size >= 4 ? 0xFFFFFFFFu : (1u << (8 * size)) - 1;
    PciDevice *d = bus ? addressed(bus, address) : NULL;
    if (!d || offset > 3 || size == 0 || size > 4)
        return ones;
    unsigned off = (address & 0xFC) + offset;
    uint32_t v = 0;
    pthread_mutex_lock(&bus->lock);
    for (unsigned i = 0; i < size; i++)
        v |= (uint32_t)(off + i < PCI_CONFIG_SIZE ? d->config[off + i] : 0xFF) << (8 * i);
    pthread_mutex_unlock(&bus->lock);
    return v;
}

void pci_bus_config_write(PciBus *bus, uint32_t address, unsigned offset, uint8_t size,
                          uint32_t value)
{
    PciDevice *d = bus ? addressed(bus, address) : NULL;
    if (!d || offset > 3 || size == 0 || size > 4)
        return;
    unsigned off = (address & 0xFC) + offset;
    pthread_mutex_lock(&bus->lock);
    config_write_locked(d, off, size, value);
    pthread_mutex_unlock(&bus->lock);
    if (d->ops.config_written)
        d->ops.config_written(d->ops.opaque, off, size, value);
}

/* CONFIG_ADDRESS: a dword register; other sizes at 0xCF8 are not configuration cycles
 * (PCI 3.0, 3.2.2.3.2) and read as an empty bus. */
static int config_address_read(uint16_t port, uint8_t size, uint32_t *value, void *opaque)
{
    (void)port;
    PciBus *bus = opaque;
    *value = size == 4 ? __atomic_load_n(&bus->config_address, __ATOMIC_RELAXED) : 0xFFFFFFFFu;
    return 0;
}

static int config_address_write(uint16_t port, uint8_t size, uint32_t value, void *opaque)
{
    (void)port;
    PciBus *bus = opaque;
    if (size == 4)   /* bits 1:0 read back as 0, bits 30:24 are reserved (0) */
        __atomic_store_n(&bus->config_address, value & 0x80FFFFFCu, __ATOMIC_RELAXED);
    return 0;
}

static int config_data_read(uint16_t port, uint8_t size, uint32_t *value, void *opaque)
{
    PciBus *bus = opaque;
    unsigned offset = port - MACHINE_PCI_CONFIG_DATA;
    if (offset + size > 4)   /* past CONFIG_DATA: those bytes float */
        size = (uint8_t)(4 - offset);
    uint32_t v = pci_bus_config_read(bus, __atomic_load_n(&bus->config_address, __ATOMIC_RELAXED),
                                     offset, size);
    *value = size == 4 ? v : v | (0xFFFFFFFFu << (8 * size));
    return 0;
}

static int config_data_write(uint16_t port, uint8_t size, uint32_t value, void *opaque)
{
    PciBus *bus = opaque;
    unsigned offset = port - MACHINE_PCI_CONFIG_DATA;
    if (offset + size > 4)
        size = (uint8_t)(4 - offset);
    pci_bus_config_write(bus, __atomic_load_n(&bus->config_address, __ATOMIC_RELAXED), offset,
                         size, value);
    return 0;
}

/* ---------------------------------------------------------------------------------- */
/* Functions                                                                           */
/* ---------------------------------------------------------------------------------- */

static void *dma_map_checked(void *opaque, uint64_t gpa, size_t len, bool write)
{
    PciDevice *d = opaque;
    if (!__atomic_load_n(&d->bus_master, __ATOMIC_ACQUIRE))
        return NULL;   /* Bus Master Enable clear: the function cannot reach memory */
    const DmaHandle *m = &d->bus->w.dma;
    return m->map ? m->map(m->opaque, gpa, len, write) : NULL;
}

static void dma_written_through(void *opaque, uint64_t gpa, size_t len)
{
    PciDevice *d = opaque;
    dma_written(&d->bus->w.dma, gpa, len);
}

PciDevice *pci_device_add(PciBus *bus, int slot, const PciDeviceInfo *info,
                          const PciDeviceOps *ops)
{
    if (!bus || !info) {
        hv_fail(EINVAL, "pci: no bus or device description");
        return NULL;
    }
    if (slot < 0) {
        for (int s = 2; s < PCI_MAX_SLOTS && slot < 0; s++)
            if (!bus->slots[s])
                slot = s;
        if (slot < 0) {
            hv_fail(ENOSPC, "pci: bus 0 is full (%d slots)", PCI_MAX_SLOTS);
            return NULL;
        }
    }
    if (slot >= PCI_MAX_SLOTS || bus->slots[slot]) {
        hv_fail(EEXIST, "pci: slot %d is %s", slot,
                slot >= PCI_MAX_SLOTS ? "out of range" : "taken");
        return NULL;
    }
    if (info->interrupt_pin > 4) {
        hv_fail(EINVAL, "pci: interrupt pin %u of %s", info->interrupt_pin,
                info->name ? info->name : "?");
        return NULL;
    }
    PciDevice *d = calloc(1, sizeof(*d));
    if (!d) {
        hv_fail(ENOMEM, "pci: out of memory");
        return NULL;
    }
    d->bus = bus;
    d->slot = slot;
    d->info = *info;
    if (ops)
        d->ops = *ops;
    d->cap_end = PCI_CAP_START;
    d->msix_bar = -1;
    for (int i = 0; i < PCI_NUM_BARS; i++)
        d->refs[i] = (BarRef){d, i};
    d->dma = (DmaHandle){dma_map_checked, dma_written_through, d};
    uint8_t *c = d->config;
    set16(c, PCI_VENDOR_ID, info->vendor_id);
    set16(c, PCI_DEVICE_ID, info->device_id);
    c[PCI_REVISION_ID] = info->revision;
    c[PCI_CLASS_PROG] = (uint8_t)info->class_code;
    set16(c, PCI_CLASS_PROG + 1, (uint16_t)(info->class_code >> 8));
    set16(c, PCI_SUBSYSTEM_VENDOR, info->subsystem_vendor_id);
    set16(c, PCI_SUBSYSTEM_ID, info->subsystem_id);
    c[PCI_INTERRUPT_PIN] = info->interrupt_pin;
    set16(d->wmask, PCI_COMMAND, PCI_COMMAND_WRITABLE);
    d->wmask[PCI_CACHE_LINE_SIZE] = 0xFF;
    d->wmask[PCI_LATENCY_TIMER] = 0xFF;
    d->wmask[PCI_INTERRUPT_LINE] = 0xFF;
    pthread_mutex_lock(&bus->lock);
    bus->slots[slot] = d;
    pthread_mutex_unlock(&bus->lock);
    return d;
}

static void device_free(PciDevice *d)
{
    for (int i = 0; i < PCI_NUM_BARS; i++)
        unmap_bar(d, i);
    free(d->msix_table);
    free(d->msix_pba);
    free(d);
}

void pci_device_remove(PciDevice *d)
{
    if (!d)
        return;
    PciBus *bus = d->bus;
    pthread_mutex_lock(&bus->lock);
    if (bus->slots[d->slot] == d)
        bus->slots[d->slot] = NULL;
    d->intx_level = 0;
    update_pirqs(bus);
    pthread_mutex_unlock(&bus->lock);
    device_free(d);
}

int pci_device_set_bar(PciDevice *d, int bar, const PciBar *desc)
{
    if (!d || !desc || bar < 0 || bar >= PCI_NUM_BARS)
        return hv_fail(EINVAL, "pci: bad BAR");
    bool io = desc->kind == PCI_BAR_IO, is64 = desc->kind == PCI_BAR_MEM64;
    uint64_t size = desc->size;
    if ((size & (size - 1)) || size < (io ? 4u : 16u) || (io && size > 256) ||
        (!is64 && size > (UINT64_C(1) << 31)) || (is64 && bar == PCI_NUM_BARS - 1) ||
        (desc->kind != PCI_BAR_MEM32 && !io && !is64))
        return hv_fail(EINVAL, "pci: BAR%d of %s: size %#llx does not fit its kind", bar,
                       d->info.name ? d->info.name : "?", (unsigned long long)size);
    if (d->bar_present[bar] || (is64 && d->bar_present[bar + 1]) ||
        (bar > 0 && d->bar_present[bar - 1] && d->bars[bar - 1].kind == PCI_BAR_MEM64))
        return hv_fail(EEXIST, "pci: BAR%d of %s is taken", bar, d->info.name ? d->info.name : "?");
    pthread_mutex_lock(&d->bus->lock);
    d->bars[bar] = *desc;
    d->bar_present[bar] = true;
    unsigned off = PCI_BAR0 + 4 * (unsigned)bar;
    uint32_t low = io ? PCI_BAR_SPACE_IO
                      : (is64 ? PCI_BAR_MEM_TYPE_64 : 0) |
                            (desc->prefetchable ? PCI_BAR_PREFETCH : 0);
    set32(d->config, off, low);
    set32(d->wmask, off, (uint32_t)~(size - 1) & (io ? ~UINT32_C(3) : ~UINT32_C(0xF)));
    if (is64) {
        d->bars[bar + 1] = *desc;   /* the upper half: kind for the address, not a BAR */
        set32(d->wmask, off + 4, (uint32_t)(~(size - 1) >> 32));
    }
    pthread_mutex_unlock(&d->bus->lock);
    return 0;
}

int pci_device_add_capability(PciDevice *d, uint8_t id, const void *body, size_t len)
{
    if (!d || (len && !body))
        return -EINVAL;
    unsigned start = (d->cap_end + 3u) & ~3u;
    if (start + 2 + len > PCI_CONFIG_SIZE)
        return hv_fail(ENOSPC, "pci: no room for capability %#x of %s", id,
                       d->info.name ? d->info.name : "?");
    pthread_mutex_lock(&d->bus->lock);
    d->config[start] = id;
    d->config[start + 1] = 0;
    if (len)
        memcpy(&d->config[start + 2], body, len);
    if (d->last_cap)
        d->config[d->last_cap + 1] = (uint8_t)start;
    else
        d->config[PCI_CAPABILITY_LIST] = (uint8_t)start;
    d->config[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
    d->last_cap = (uint8_t)start;
    d->cap_end = (uint8_t)(start + 2 + len == PCI_CONFIG_SIZE ? 0xFF : start + 2 + len);
    pthread_mutex_unlock(&d->bus->lock);
    return (int)start;
}

int pci_device_config_writable(PciDevice *d, unsigned offset, unsigned len)
{
    if (!d || offset < PCI_CAP_START || offset > PCI_CONFIG_SIZE || len > PCI_CONFIG_SIZE - offset)
        return -EINVAL;
    pthread_mutex_lock(&d->bus->lock);
    memset(&d->wmask[offset], 0xFF, len);
    pthread_mutex_unlock(&d->bus->lock);
    return 0;
}

uint8_t *pci_device_config(PciDevice *d) { return d ? d->config : NULL; }

int pci_device_init_msi(PciDevice *d, bool addr64)
{
    if (!d || d->msi_cap)
        return -EINVAL;
    uint8_t body[12] = {0};
    body[0] = addr64 ? MSI_FLAGS_64BIT : 0;   /* one vector: MMC 0 */
    int c = pci_device_add_capability(d, PCI_CAP_ID_MSI, body, addr64 ? 12 : 8);
    if (c < 0)
        return c;
    pthread_mutex_lock(&d->bus->lock);
    d->msi_cap = (uint8_t)c;
    d->wmask[c + MSI_FLAGS] = MSI_FLAGS_ENABLE;
    set32(d->wmask, (unsigned)c + MSI_ADDRESS_LO, 0xFFFFFFFCu);
    if (addr64)
        set32(d->wmask, (unsigned)c + MSI_ADDRESS_HI, 0xFFFFFFFFu);
    set16(d->wmask, (unsigned)c + (addr64 ? MSI_DATA_64 : MSI_DATA_32), 0xFFFF);
    pthread_mutex_unlock(&d->bus->lock);
    return c;
}

int pci_device_init_msix(PciDevice *d, unsigned vectors, int bar, uint32_t table_offset,
                         uint32_t pba_offset)
{
    if (!d || d->msix_cap || vectors == 0 || vectors > MSIX_MAX_VECTORS || bar < 0 ||
        bar >= PCI_NUM_BARS || !d->bar_present[bar] || d->bars[bar].kind == PCI_BAR_IO ||
        (table_offset & 7) || (pba_offset & 7))
        return hv_fail(EINVAL, "pci: bad MSI-X layout for %s", d->info.name ? d->info.name : "?");
    uint64_t table_size = (uint64_t)vectors * MSIX_ENTRY_SIZE;
    uint64_t pba_size = (uint64_t)(vectors + 63) / 64 * 8;
    uint64_t bar_size = d->bars[bar].size;
    if (table_offset > bar_size || table_size > bar_size - table_offset ||
        pba_offset > bar_size || pba_size > bar_size - pba_offset ||
        (pba_offset < table_offset + table_size && table_offset < pba_offset + pba_size))
        return hv_fail(EINVAL, "pci: MSI-X table or PBA outside BAR%d of %s", bar,
                       d->info.name ? d->info.name : "?");
    d->msix_table = calloc(vectors, MSIX_ENTRY_SIZE);
    d->msix_pba = calloc((vectors + 63) / 64, sizeof(uint64_t));
    if (!d->msix_table || !d->msix_pba) {
        free(d->msix_table);
        free(d->msix_pba);
        d->msix_table = NULL;
        d->msix_pba = NULL;
        return hv_fail(ENOMEM, "pci: out of memory");
    }
    for (unsigned v = 0; v < vectors; v++)
        msix_entry(d, v)[MSIX_ENTRY_CTRL] = MSIX_ENTRY_MASKED;
    uint8_t body[10];
    set16(body, 0, (uint16_t)(vectors - 1));
    set32(body, 2, table_offset | (uint32_t)bar);
    set32(body, 6, pba_offset | (uint32_t)bar);
    int c = pci_device_add_capability(d, PCI_CAP_ID_MSIX, body, sizeof(body));
    if (c < 0)
        return c;
    pthread_mutex_lock(&d->bus->lock);
    d->msix_cap = (uint8_t)c;
    d->msix_vectors = vectors;
    d->msix_bar = bar;
    d->msix_table_offset = table_offset;
    d->msix_pba_offset = pba_offset;
    d->wmask[c + MSIX_FLAGS + 1] = (uint8_t)((MSIX_FLAGS_MASKALL | MSIX_FLAGS_ENABLE) >> 8);
    pthread_mutex_unlock(&d->bus->lock);
    return 0;
}

const DmaHandle *pci_device_dma(PciDevice *d) { return d ? &d->dma : NULL; }

void pci_device_address(const PciDevice *d, char *buf, size_t size)
{
    if (d && buf && size)
        snprintf(buf, size, "00:%02x.0", (unsigned)d->slot);
}

/* ---------------------------------------------------------------------------------- */
/* The bus and its bridges                                                             */
/* ---------------------------------------------------------------------------------- */

PciBus *pci_bus_create(const PciBusWiring *w)
{
    if (!w || !w->io || !w->mmio) {
        hv_fail(EINVAL, "pci: the bus needs the I/O and MMIO buses");
        return NULL;
    }
    PciBus *bus = calloc(1, sizeof(*bus));
    if (!bus) {
        hv_fail(ENOMEM, "pci: out of memory");
        return NULL;
    }
    bus->w = *w;
    pthread_mutex_init(&bus->lock, NULL);
    for (int p = 0; p < MACHINE_PCI_PIRQS; p++)
        bus->pirq_irq[p] = -1;
    const PciDeviceInfo host = {"i440FX", PCI_VENDOR_INTEL, I440FX_DEVICE_ID, QEMU_SUBSYSTEM_VENDOR,
                                QEMU_SUBSYSTEM_ID, 0x02, 0x060000, 0};
    const PciDeviceInfo isa = {"PIIX3", PCI_VENDOR_INTEL, PIIX3_DEVICE_ID, QEMU_SUBSYSTEM_VENDOR,
                               QEMU_SUBSYSTEM_ID, 0x00, 0x060100, 0};
    bus->host = pci_device_add(bus, 0, &host, NULL);
    bus->isa = pci_device_add(bus, PIIX3_SLOT, &isa, NULL);
    if (!bus->host || !bus->isa)
        goto fail;
    memset(&bus->host->wmask[I440FX_PAM0], 0xFF, I440FX_PAM_COUNT);
    bus->host->wmask[I440FX_SMRAM] = 0xFF;
    /* PIIX3 is a multi-function device (IDE, USB at 01.1, 01.2 on a real board). */
    bus->isa->config[PCI_HEADER_TYPE] = PCI_HEADER_MULTIFUNCTION;
    for (int p = 0; p < MACHINE_PCI_PIRQS; p++) {
        bus->isa->config[PIIX3_PIRQRC + p] = PIIX3_PIRQRC_DISABLE;
        bus->isa->wmask[PIIX3_PIRQRC + p] = PIIX3_PIRQRC_MASK;
    }
    /* The PIIX3 function decodes I/O and memory and masters from power-on (82371SB). */
    set16(bus->isa->config, PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    set16(bus->host->config, PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
    const IoPortHandler ports[] = {
        {.base = MACHINE_PCI_CONFIG_ADDRESS, .length = 1, .read = config_address_read,
         .write = config_address_write, .opaque = bus, .name = "pci-config-address"},
        {.base = MACHINE_PCI_CONFIG_DATA, .length = 4, .read = config_data_read,
         .write = config_data_write, .opaque = bus, .name = "pci-config-data"},
    };
    if (io_bus_register(w->io, &ports[0]) < 0)
        goto fail;
    if (io_bus_register(w->io, &ports[1]) < 0) {
        io_bus_unregister(w->io, MACHINE_PCI_CONFIG_ADDRESS, bus);
        goto fail;
    }
    bus->config_ports = true;
    return bus;
fail:
    pci_bus_destroy(bus);
    return NULL;
}

void pci_bus_destroy(PciBus *bus)
{
    if (!bus)
        return;
    if (bus->config_ports) {
        io_bus_unregister(bus->w.io, MACHINE_PCI_CONFIG_ADDRESS, bus);
        io_bus_unregister(bus->w.io, MACHINE_PCI_CONFIG_DATA, bus);
    }
    for (int s = 0; s < PCI_MAX_SLOTS; s++)
        if (bus->slots[s])
            device_free(bus->slots[s]);
    pthread_mutex_destroy(&bus->lock);
    free(bus);
}

PciDevice *pci_bus_device(PciBus *bus, int slot)
{
    return bus && slot >= 0 && slot < PCI_MAX_SLOTS ? bus->slots[slot] : NULL;
}

int pci_bus_pirq_route(PciBus *bus, int pirq)
{
    if (!bus || pirq < 0 || pirq >= MACHINE_PCI_PIRQS)
        return -1;
    pthread_mutex_lock(&bus->lock);
    int irq = route_irq(bus->isa->config[PIIX3_PIRQRC + pirq]);
    pthread_mutex_unlock(&bus->lock);
    return irq;
}

/* Places the BARs of one kind in [*next, end), largest first so that natural alignment
 * wastes nothing; a BAR that does not fit stays at 0 (not decoded). Bus lock held. */
static void place_bars(PciBus *bus, bool io, uint64_t *next, uint64_t end)
{
    /* Past the BARs an earlier call placed: devices added one at a time (-device after
     * -device) must not land on each other. */
    for (int s = 0; s < PCI_MAX_SLOTS; s++) {
        PciDevice *d = bus->slots[s];
        for (int i = 0; d && i < PCI_NUM_BARS; i++) {
            uint64_t a = bar_register_address(d, i);
            if (d->bar_present[i] && (d->bars[i].kind == PCI_BAR_IO) == io && a &&
                a + d->bars[i].size > *next && a + d->bars[i].size <= end)
                *next = a + d->bars[i].size;
        }
    }
    for (;;) {
        PciDevice *best = NULL;
        int best_bar = -1;
        for (int s = 0; s < PCI_MAX_SLOTS; s++) {
            PciDevice *d = bus->slots[s];
            for (int i = 0; d && i < PCI_NUM_BARS; i++) {
                if (!d->bar_present[i] || (d->bars[i].kind == PCI_BAR_IO) != io ||
                    bar_register_address(d, i) != 0)
                    continue;
                if (!best || d->bars[i].size > best->bars[best_bar].size) {
                    best = d;
                    best_bar = i;
                }
            }
        }
        if (!best)
            return;
        uint64_t size = best->bars[best_bar].size;
        uint64_t a = (*next + size - 1) & ~(size - 1);
        unsigned off = PCI_BAR0 + 4 * (unsigned)best_bar;
        if (a + size > end || a + size < a) {
            hv_log(HV_LOG_WARN, "pci: no room for BAR%d of %s (%#llx bytes)", best_bar,
                   best->info.name ? best->info.name : "?", (unsigned long long)size);
            best->bar_present[best_bar] = false;   /* skipped; restored by the caller */
            continue;
        }
        set32(best->config, off, (uint32_t)a | (best->config[off] & (io ? 0x3 : 0xF)));
        if (best->bars[best_bar].kind == PCI_BAR_MEM64)
            set32(best->config, off + 4, (uint32_t)(a >> 32));
        *next = a + size;
    }
}

void pci_bus_assign_resources(PciBus *bus)
{
    if (!bus)
        return;
    pthread_mutex_lock(&bus->lock);
    for (int s = 0; s < PCI_MAX_SLOTS; s++) {
        PciDevice *d = bus->slots[s];
        if (d && !d->have_power_on) {
            memcpy(d->power_on, d->config, PCI_CONFIG_SIZE);
            d->have_power_on = true;
        }
    }
    bool present[PCI_MAX_SLOTS][PCI_NUM_BARS];
    for (int s = 0; s < PCI_MAX_SLOTS; s++)
        for (int i = 0; bus->slots[s] && i < PCI_NUM_BARS; i++)
            present[s][i] = bus->slots[s]->bar_present[i];
    uint64_t io = MACHINE_PCI_IO_BASE, mem = MACHINE_PCI_MMIO_BASE;
    place_bars(bus, true, &io, MACHINE_PCI_IO_END);
    place_bars(bus, false, &mem, MACHINE_PCI_MMIO_END);
    for (int p = 0; p < MACHINE_PCI_PIRQS; p++)
        bus->isa->config[PIIX3_PIRQRC + p] = (uint8_t)MACHINE_PCI_PIRQ_IRQ(p);
    for (int s = 0; s < PCI_MAX_SLOTS; s++) {
        PciDevice *d = bus->slots[s];
        if (!d)
            continue;
        for (int i = 0; i < PCI_NUM_BARS; i++)
            d->bar_present[i] = present[s][i];
        uint16_t cmd = cfg16(d, PCI_COMMAND);
        for (int i = 0; i < PCI_NUM_BARS; i++)
            if (d->bar_present[i])
                cmd |= d->bars[i].kind == PCI_BAR_IO ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY;
        if (d != bus->host && d != bus->isa)
            cmd |= PCI_COMMAND_MASTER;
        set16(d->config, PCI_COMMAND, cmd);
        __atomic_store_n(&d->bus_master, (cmd & PCI_COMMAND_MASTER) != 0, __ATOMIC_RELEASE);
        int p = device_pirq(d);
        if (p >= 0)
            d->config[PCI_INTERRUPT_LINE] = (uint8_t)MACHINE_PCI_PIRQ_IRQ(p);
        update_bars(d);
    }
    update_pirqs(bus);
    pthread_mutex_unlock(&bus->lock);
}

void pci_bus_reset(PciBus *bus)
{
    if (!bus)
        return;
    for (int s = 0; s < PCI_MAX_SLOTS; s++) {
        PciDevice *d = bus->slots[s];
        if (!d)
            continue;
        pthread_mutex_lock(&bus->lock);
        for (int i = 0; i < PCI_NUM_BARS; i++)
            unmap_bar(d, i);
        if (d->have_power_on)
            memcpy(d->config, d->power_on, PCI_CONFIG_SIZE);
        for (unsigned v = 0; v < d->msix_vectors; v++) {
            memset(msix_entry(d, v), 0, MSIX_ENTRY_SIZE);
            msix_entry(d, v)[MSIX_ENTRY_CTRL] = MSIX_ENTRY_MASKED;
        }
        if (d->msix_pba)
            memset(d->msix_pba, 0, (d->msix_vectors + 63) / 64 * sizeof(uint64_t));
        d->intx_level = 0;
        __atomic_store_n(&d->bus_master, false, __ATOMIC_RELEASE);
        update_pirqs(bus);
        pthread_mutex_unlock(&bus->lock);
        if (d->ops.reset)
            d->ops.reset(d->ops.opaque);
    }
    pci_bus_assign_resources(bus);
}

/* ---------------------------------------------------------------------------------- */
/* info pci                                                                            */
/* ---------------------------------------------------------------------------------- */

/* The class names QEMU's info pci prints (base class and subclass); others print as
 * "Class NNNN" with the number in decimal, as QEMU does. */
static const struct {
    uint16_t class_id;
    const char *name;
} class_names[] = {
    {0x0100, "SCSI controller"}, {0x0101, "IDE controller"}, {0x0106, "SATA controller"},
    {0x0180, "Storage controller"}, {0x0200, "Ethernet controller"},
    {0x0280, "Network controller"}, {0x0300, "VGA controller"},
    {0x0380, "Display controller"}, {0x0401, "Audio controller"},
    {0x0403, "Audio controller"}, {0x0500, "RAM controller"}, {0x0600, "Host bridge"},
    {0x0601, "ISA bridge"}, {0x0604, "PCI bridge"}, {0x0680, "Bridge"},
    {0x0c03, "USB controller"}, {0x0c05, "SMBus"},
};

void pci_bus_print_info(PciBus *bus, FILE *out)
{
    if (!bus || !out)
        return;
    pthread_mutex_lock(&bus->lock);
    for (int s = 0; s < PCI_MAX_SLOTS; s++) {
        PciDevice *d = bus->slots[s];
        if (!d)
            continue;
        fprintf(out, "  Bus %2d, device %3d, function %d:\n", 0, s, 0);
        uint16_t class_id = cfg16(d, PCI_CLASS_PROG + 1);
        const char *name = NULL;
        for (size_t i = 0; i < sizeof(class_names) / sizeof(class_names[0]); i++)
            if (class_names[i].class_id == class_id)
                name = class_names[i].name;
        if (name)
            fprintf(out, "    %s", name);
        else
            fprintf(out, "    Class %04d", class_id);
        fprintf(out, ": PCI device %04x:%04x\n", cfg16(d, PCI_VENDOR_ID), cfg16(d, PCI_DEVICE_ID));
        fprintf(out, "      PCI subsystem %04x:%04x\n", cfg16(d, PCI_SUBSYSTEM_VENDOR),
                cfg16(d, PCI_SUBSYSTEM_ID));
        if (d->config[PCI_INTERRUPT_PIN])
            fprintf(out, "      IRQ %d, pin %c\n", d->config[PCI_INTERRUPT_LINE],
                    'A' + d->config[PCI_INTERRUPT_PIN] - 1);
        for (int i = 0; i < PCI_NUM_BARS; i++) {
            if (!d->bar_present[i])
                continue;
            const PciBar *b = &d->bars[i];
            uint64_t a = d->bar_mapped[i] ? d->bar_addr[i] : UINT64_MAX;
            if (b->kind == PCI_BAR_IO)
                fprintf(out, "      BAR%d: I/O at 0x%04llx [0x%04llx].\n", i,
                        (unsigned long long)a, (unsigned long long)(a + b->size - 1));
            else
                fprintf(out, "      BAR%d: %d bit%s memory at 0x%08llx [0x%08llx].\n", i,
                        b->kind == PCI_BAR_MEM64 ? 64 : 32, b->prefetchable ? " prefetchable" : "",
                        (unsigned long long)a, (unsigned long long)(a + b->size - 1));
        }
        fprintf(out, "      id \"\"\n");
    }
    pthread_mutex_unlock(&bus->lock);
}
