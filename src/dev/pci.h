/*
 * PCI as a device sees it: the part of the PCI layer (src/dev/pci.c) that a PCI function
 * such as virtio-pci uses. A function describes itself (IDs, class, BARs, capabilities),
 * and the bus does the rest: configuration space through mechanism #1, BAR sizing and
 * relocation by the guest (its ranges move on the I/O and MMIO buses), the command
 * register's enable bits, INTx through the PIIX3 PIRQ routing to the IOAPIC, MSI and
 * MSI-X to the local APIC. Everything a guest writes is hostile: the bus keeps read-only
 * bits read-only and never calls a BAR handler outside the BAR. Internal to the library.
 */
#ifndef SCRATCHVM_DEV_PCI_H
#define SCRATCHVM_DEV_PCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dev/dma.h"

typedef struct PciBus PciBus;
typedef struct PciDevice PciDevice;

#define PCI_CONFIG_SIZE 256
#define PCI_NUM_BARS 6

/* Standard capability IDs used here (PCI Local Bus 3.0, appendix H). */
#define PCI_CAP_ID_MSI    0x05
#define PCI_CAP_ID_VENDOR 0x09
#define PCI_CAP_ID_MSIX   0x11

typedef struct {
    const char *name;             /* QEMU's device name: "virtio-blk-pci", for info pci */
    uint16_t vendor_id, device_id;
    uint16_t subsystem_vendor_id, subsystem_id;
    uint8_t revision;
    uint32_t class_code;          /* base class, subclass, prog-if: 0x010000 (SCSI storage) */
    uint8_t interrupt_pin;        /* 1 = INTA# ... 4 = INTD#, 0: none */
} PciDeviceInfo;

/* BAR kinds. A 64-bit memory BAR uses two BAR slots (bar and bar + 1). */
typedef enum { PCI_BAR_IO, PCI_BAR_MEM32, PCI_BAR_MEM64 } PciBarKind;

typedef struct {
    PciBarKind kind;
    uint64_t size;                /* a power of two: >= 4 for I/O, >= 16 for memory */
    bool prefetchable;
    /* `offset` is from the BAR's base, always inside it; size 1, 2, 4 or 8. The bus only
     * calls these while the BAR is mapped (its enable bit in the command register set). */
    int (*read)(void *opaque, int bar, uint64_t offset, uint8_t size, uint64_t *value);
    int (*write)(void *opaque, int bar, uint64_t offset, uint8_t size, uint64_t value);
} PciBar;

typedef struct {
    /* Called after the guest wrote configuration space (the bus already applied the
     * write to the standard registers); NULL: nothing. */
    void (*config_written)(void *opaque, uint32_t offset, uint8_t size, uint32_t value);
    /* The guest reset the function, or the VM reset: back to power-on state. */
    void (*reset)(void *opaque);
    void *opaque;
} PciDeviceOps;

/* Adds a function at 00:slot.0 (slot -1: the first free slot from 2, QEMU's first for
 * -device). NULL with hv_last_error() when the slot is taken or the bus is full. */
PciDevice *pci_device_add(PciBus *bus, int slot, const PciDeviceInfo *info,
                          const PciDeviceOps *ops);
/* Takes the function off the bus (its BARs unmapped, its INTx line dropped) and frees
 * it; the device's own state stays its owner's. On the vCPU thread or while it is
 * paused, as the device's destroy. NULL is ignored. */
void pci_device_remove(PciDevice *d);
/* Declares BAR `bar` (0-5); call before the guest runs. 0 or -EINVAL. */
int pci_device_set_bar(PciDevice *d, int bar, const PciBar *desc);
/* Appends a capability with ID `id` and `len` bytes of body (after the ID and next
 * pointer) to the list; returns its offset in configuration space, or -ENOSPC. */
int pci_device_add_capability(PciDevice *d, uint8_t id, const void *body, size_t len);
/* The function's configuration space (PCI_CONFIG_SIZE bytes), for a device to read its
 * capabilities' registers as the guest left them. */
uint8_t *pci_device_config(PciDevice *d);

/* Capability bodies are read-only to the guest (the device fills them); this opens
 * [offset, offset + len) of configuration space (offset >= 0x40) to guest writes, e.g.
 * virtio's PCI configuration access capability. 0 or -EINVAL. */
int pci_device_config_writable(PciDevice *d, unsigned offset, unsigned len);

/* MSI with one vector (Multiple Message Capable 0), 32- or 64-bit message address: the
 * capability's offset, or a negative errno. pci_msi_notify sends the message while the
 * guest has enabled it (no per-vector masking), else does nothing. Any thread. */
int pci_device_init_msi(PciDevice *d, bool addr64);
bool pci_msi_enabled(const PciDevice *d);
void pci_msi_notify(PciDevice *d);

/* MSI-X with `vectors` entries, its table and PBA in BAR `bar` at the given offsets (the
 * bus serves those ranges of the BAR itself; the device's handlers see the rest). */
int pci_device_init_msix(PciDevice *d, unsigned vectors, int bar, uint32_t table_offset,
                         uint32_t pba_offset);
bool pci_msix_enabled(const PciDevice *d);
/* Signals MSI-X vector `vector` (sets its pending bit while it or the function is masked,
 * delivered when unmasked). Any thread. */
void pci_msix_notify(PciDevice *d, unsigned vector);
/* Sets the function's INTx line (ignored while the command register's Interrupt Disable
 * bit is set or MSI or MSI-X is enabled, and re-evaluated when they change). Any thread. */
void pci_set_irq(PciDevice *d, int level);

/* Guest memory for the function's DMA: reads and writes fail (-EFAULT) while the command
 * register's Bus Master Enable bit is clear, as on real hardware. */
const DmaHandle *pci_device_dma(PciDevice *d);

/* 00:slot.fn as info pci and lspci print it, e.g. "00:03.0". */
void pci_device_address(const PciDevice *d, char *buf, size_t size);

#endif
