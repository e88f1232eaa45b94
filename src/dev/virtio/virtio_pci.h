/*
 * The virtio 1.x PCI transport, modern interface only (virtio 1.x spec, 4.1): vendor
 * capabilities for the common, notify, ISR and device configuration in one memory BAR
 * (BAR 4), the PCI configuration access capability, MSI-X (BAR 1, one vector per queue
 * plus one for configuration changes) and INTx with the ISR status when MSI-X is off.
 * IDs 1AF4:1040 + device type, revision 1. The legacy (0.9.5, I/O BAR) interface is not
 * offered: a driver must speak virtio 1.0 (Linux does since 4.0). Internal to the library.
 */
#ifndef SCRATCHVM_DEV_VIRTIO_PCI_H
#define SCRATCHVM_DEV_VIRTIO_PCI_H

#include "dev/pci.h"
#include "dev/virtio/virtio.h"

typedef struct VirtioPci VirtioPci;

/* BAR layout. */
#define VIRTIO_PCI_BAR 4
#define VIRTIO_PCI_BAR_SIZE 0x4000
#define VIRTIO_PCI_COMMON_OFF 0x0000
#define VIRTIO_PCI_ISR_OFF 0x1000
#define VIRTIO_PCI_DEVICE_OFF 0x2000
#define VIRTIO_PCI_NOTIFY_OFF 0x3000
#define VIRTIO_PCI_NOTIFY_MULT 4
#define VIRTIO_PCI_MSIX_BAR 1
#define VIRTIO_PCI_MSIX_BAR_SIZE 0x1000

/* Puts vd on the bus at 00:slot.0 (slot -1: the first free). The transport owns vd from
 * here on, even when it fails. NULL with hv_last_error(). */
VirtioPci *virtio_pci_create(PciBus *bus, int slot, VirtioDevice *vd);
/* Destroys the device (its threads first) and the transport's state; the bus keeps the
 * function's slot, as the VM is going away. */
void virtio_pci_destroy(VirtioPci *vp);
VirtioDevice *virtio_pci_device(VirtioPci *vp);
PciDevice *virtio_pci_function(VirtioPci *vp);

#endif
