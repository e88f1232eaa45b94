/*
 * QEMU's educational PCI device "edu" (src/dev/edu.c), as QEMU's docs/specs/edu.rst
 * describes it: 1234:11e8 with 1 MiB of MMIO in BAR0 (identification, liveness check,
 * factorial, interrupt raise and acknowledge, a DMA engine with a 4 KiB buffer), INTx
 * or MSI. A small real device that exercises the PCI layer end to end: BARs, INTx
 * through the PIRQs, MSI, and DMA through the checked handle. Internal to the library.
 */
#ifndef SCRATCHVM_DEV_EDU_H
#define SCRATCHVM_DEV_EDU_H

#include <stdint.h>

#include "dev/pci.h"

#define EDU_VENDOR_ID   0x1234
#define EDU_DEVICE_ID   0x11E8
#define EDU_BAR_SIZE    0x100000u
#define EDU_DMA_MASK_DEFAULT ((UINT64_C(1) << 28) - 1)

typedef struct Edu Edu;

/* An edu at the first free slot of `bus`; DMA addresses are masked with dma_mask (the
 * device's "dma_mask" property). NULL with hv_last_error(). */
Edu *edu_create(PciBus *bus, uint64_t dma_mask);
void edu_destroy(Edu *e);
PciDevice *edu_pci(Edu *e);

#endif
