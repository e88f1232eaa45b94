/*
 * PCI as the machine sees it: the bus-facing half of the PCI layer (src/dev/pci.c). The
 * VM creates one bus 0 with an i440FX host bridge at 00:00.0 and a PIIX3 PCI-to-ISA
 * bridge at 00:01.0 (its PIRQ route registers 0x60-0x63), registers configuration
 * mechanism #1 on the I/O bus, and wires INTx and MSI to its interrupt controllers. The
 * device-facing half is dev/pci.h. Internal to the library.
 *
 * Threads: configuration cycles and BAR accesses come from the vCPU thread (BARs move on
 * the I/O and MMIO buses from there); pci_set_irq and pci_msix_notify may come from any
 * thread. One mutex per bus guards the functions' state; device callbacks (BAR handlers,
 * config_written, reset) run without it, so they may signal interrupts.
 */
#ifndef SCRATCHVM_DEV_PCI_BUS_H
#define SCRATCHVM_DEV_PCI_BUS_H

#include <stdio.h>

#include "dev/pci.h"
#include "hypervisor_sim.h"

#define PCI_MAX_SLOTS 32

/* What the bus is plugged into. Every callback may be called from any thread, with the
 * bus's lock held (they must not call back into the bus). */
typedef struct {
    IoBus *io;                    /* where I/O BARs and the configuration ports go */
    MmioBus *mmio;                /* where memory BARs go */
    DmaHandle dma;                /* guest memory, for the functions' bus-master DMA */
    /* PIRQ n (0-3) is asserted (level 1) or not: the IOAPIC pin MACHINE_PCI_GSI_BASE + n. */
    void (*set_gsi)(void *opaque, int gsi, int level);
    /* ISA IRQ `irq` of the 8259A, as PIIX3 routes a PIRQ to it: asserted or not. */
    void (*set_isa_irq)(void *opaque, int irq, int level);
    /* An MSI: the dword `data` written to `addr` (0xFEExxxxx: the local APIC). */
    void (*msi)(void *opaque, uint64_t addr, uint32_t data);
    void *opaque;
} PciBusWiring;

/* A bus with the host bridge and the PIIX3, configuration mechanism #1 registered on
 * w->io. NULL with hv_last_error(). */
PciBus *pci_bus_create(const PciBusWiring *w);
/* Unregisters every range of the bus and its functions, then frees them (the devices'
 * own state is their owners'). */
void pci_bus_destroy(PciBus *bus);
/* Power-on state for every function (BARs unmapped, command 0, routes disabled), each
 * function's ops.reset, then the firmware step again. */
void pci_bus_reset(PciBus *bus);
/* The firmware's part, as SeaBIOS does it for QEMU: every BAR gets an address in the I/O
 * or MMIO window (sized order, naturally aligned) and its enable bit, the PIRQs their
 * ISA IRQs, each function's interrupt line the IRQ its pin reaches. Called by the VM
 * before the first run (after the devices are added), and by pci_bus_reset. */
void pci_bus_assign_resources(PciBus *bus);
/* Mechanism #1 without the ports, for tests and the monitor: CONFIG_ADDRESS `address`
 * (bit 31 enable, bus 23:16, device 15:11, function 10:8, register 7:2), `size` bytes at
 * byte `offset` (0-3) of the dword. Absent functions read all ones. */
uint32_t pci_bus_config_read(PciBus *bus, uint32_t address, unsigned offset, uint8_t size);
void pci_bus_config_write(PciBus *bus, uint32_t address, unsigned offset, uint8_t size,
                          uint32_t value);
/* QEMU's `info pci`. */
void pci_bus_print_info(PciBus *bus, FILE *out);
/* The function at 00:slot.0, or NULL. */
PciDevice *pci_bus_device(PciBus *bus, int slot);
/* The ISA IRQ PIIX3 routes PIRQ n to, or -1 while the route is disabled. */
int pci_bus_pirq_route(PciBus *bus, int pirq);

#endif
