/*
 * virtio PCI devices on a VM (src/vmm/vm_virtio.c): each becomes a function of bus 0 in
 * the next free slot, with a device record so that the VM resets (through the bus) and
 * destroys it like any other device. Before the first run. Internal to the library.
 */
#ifndef SCRATCHVM_VMM_VM_VIRTIO_H
#define SCRATCHVM_VMM_VM_VIRTIO_H

#include <stdint.h>

#include "block/block.h"
#include "hypervisor_sim.h"
#include "net/net.h"

/* A virtio-blk-pci disk on bd, which the VM owns from here (closed with the device, or at
 * once on failure); `serial` (up to 20 bytes, may be NULL) answers GET_ID. 0 or a negative
 * errno with hv_last_error(). */
int vm_add_virtio_blk(SimpleVM *svm, BlockDev *bd, const char *serial);
/* A virtio-net-pci NIC on nb (owned from here, as bd above) with MAC `mac`. */
int vm_add_virtio_net(SimpleVM *svm, NetBackend *nb, const uint8_t mac[6]);
/* A virtio-rng-pci. */
int vm_add_virtio_rng(SimpleVM *svm);

#endif
