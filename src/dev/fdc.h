/*
 * A floppy disk controller compatible with the Intel 82077AA in PC/AT mode (src/dev/fdc.c),
 * as a PC has it: ports 0x3F0-0x3F5 and 0x3F7 (0x3F6 is the IDE channel's), IRQ 6, ISA
 * DMA channel 2. Two 3.5"/5.25" drives whose media geometry and data rate follow the
 * image size (the PC formats from 160 KB to 2.88 MB; other sizes read as a 1.44 MB or
 * 2.88 MB disk with the sectors past the image missing), read and written through the
 * block layer. Registers: DOR (reset, DMA gate, drive select, motors), TDR, MSR/DSR
 * (software reset, data rate), FIFO, DIR (disk change) / CCR (data rate). Commands:
 * READ DATA, WRITE DATA, READ ID, FORMAT TRACK, RECALIBRATE, SEEK, SENSE INTERRUPT STATUS,
 * SENSE DRIVE STATUS, SPECIFY, CONFIGURE, VERSION, LOCK, DUMPREG, PERPENDICULAR MODE;
 * anything else is answered with ST0 = 0x80 (invalid command). Data moves by DMA, or
 * through the FIFO byte by byte when SPECIFY chose non-DMA mode (READ and WRITE DATA;
 * FORMAT TRACK takes its IDs by DMA only). Commands complete at once: there is no rotation
 * or seek timing, READ/WRITE DATA seek to the command's cylinder themselves (an implied
 * seek, which PC firmware relies on), and the motor bits are not checked. Guest input is
 * hostile: every cylinder, head, sector and size is checked against the media and the
 * image.
 */
#ifndef SCRATCHVM_DEV_FDC_H
#define SCRATCHVM_DEV_FDC_H

#include <stdbool.h>
#include <stdint.h>

#include "block/block.h"
#include "dev/i8237.h"
#include "hypervisor_sim.h"

#define FDC_BASE 0x3F0          /* SRA..FIFO at 0x3F0-0x3F5 */
#define FDC_PORTS 6
#define FDC_DIR_PORT 0x3F7      /* DIR (read) / CCR (write) */
#define FDC_DMA_CHANNEL 2
#define FDC_DRIVES 2            /* drives that can hold a disk (the controller selects 4) */

typedef struct Fdc Fdc;

/* dma: the ISA DMA the controller uses (not owned), channel dma_channel; irq: its line. */
Fdc *fdc_create(IsaDma *dma, unsigned dma_channel, const IrqLine *irq);
/* Puts bd in drive unit (0 or 1); owned: the controller closes it when destroyed.
 * -EINVAL (bad unit, or a disk of under 512 bytes), -EEXIST. On failure bd is untouched. */
int fdc_attach(Fdc *f, unsigned unit, BlockDev *bd, bool owned);
/* Hardware reset: the controller held in reset (DOR 0), configuration at its defaults;
 * the drives keep their disks, whose change line is set. */
void fdc_reset(void *opaque);
void fdc_destroy(Fdc *f);
/* The CMOS drive-type byte (register 0x10): drive 0 in bits 7:4, drive 1 in 3:0 (1 360 KB,
 * 2 1.2 MB, 3 720 KB, 4 1.44 MB, 5 2.88 MB, 0 none). */
uint8_t fdc_cmos_drive_types(const Fdc *f);
int fdc_io_read(uint16_t port, uint8_t size, uint32_t *value, void *opaque);
int fdc_io_write(uint16_t port, uint8_t size, uint32_t value, void *opaque);

/* The VM's side (src/vmm/vm.c): disk bd in floppy drive unit 0 or 1 of the VM's
 * controller, created on first use with its ports, IRQ 6 and the platform's DMA channel 2,
 * the CMOS drive types updated. owned: the VM closes bd (else its owner, the built-in
 * BIOS, outlives the controller). On failure an owned bd is closed. */
int vm_add_floppy(SimpleVM *svm, unsigned unit, BlockDev *bd, bool owned);

#endif
