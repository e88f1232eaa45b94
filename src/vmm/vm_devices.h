/*
 * The VM's side of its devices (src/vmm/vm_devices.c): guest memory as devices see it
 * (DMA), and the PCI device kinds that -device creates. Internal to the library.
 */
#ifndef SCRATCHVM_VMM_VM_DEVICES_H
#define SCRATCHVM_VMM_VM_DEVICES_H

#include "dev/device.h"
#include "dev/dma.h"
#include "dev/pci_bus.h"
#include "hypervisor_sim.h"

/* Guest RAM for device DMA: map finds RAM without announcing a write (reads cost the
 * sim's decoded code nothing), never the VGA hole or MMIO, and for writes never the
 * firmware's read-only slots; `written` announces a write (kvm_note_host_write). Any
 * thread (an I/O thread serving a virtqueue): the memory layout is fixed once the VM
 * runs. The handle refers to svm and lives as long as it does. */
DmaHandle vm_dma_handle(SimpleVM *svm);

/* The VM's PCI bus 0 (with the host bridge and the PIIX3), or NULL. */
PciBus *vm_pci_bus(SimpleVM *svm);

/* A PCI device kind: `create` builds one on `bus` from its -device properties (`props`:
 * "" or "PROP=VALUE[,...]", hostile text from the command line), registers it with
 * vm_device_add, and returns 0 or a negative errno with hv_last_error(). */
typedef struct {
    const char *name;             /* QEMU's -device name, e.g. "virtio-blk-pci" */
    int (*create)(SimpleVM *svm, PciBus *bus, const char *props);
} VmPciDeviceKind;

#endif
