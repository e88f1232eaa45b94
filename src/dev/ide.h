/*
 * An IDE (ATA) channel with up to two hard disks or CD-ROMs, programmed I/O only
 * (src/dev/ide.c):
 * the legacy command block (0x1F0-0x1F7 or 0x170-0x177) and the device control / alternate
 * status register (0x3F6 or 0x376), as ATA/ATAPI-6 describes them. Commands: IDENTIFY
 * DEVICE, READ/WRITE SECTORS (LBA28, CHS) and their EXT forms (LBA48), INITIALIZE DEVICE
 * PARAMETERS, SET FEATURES, SET MULTIPLE MODE, FLUSH CACHE (EXT), EXECUTE DEVICE
 * DIAGNOSTIC; anything else is aborted. A CD-ROM is an ATAPI device (the packet signature,
 * IDENTIFY PACKET DEVICE, PACKET with 12-byte MMC commands: TEST UNIT READY, REQUEST
 * SENSE, INQUIRY, READ CAPACITY, READ(10)/(12), MODE SENSE(6)/(10) of the capabilities
 * page, READ TOC formats 0 and 1, GET CONFIGURATION, START STOP UNIT, PREVENT ALLOW
 * MEDIUM REMOVAL, SEEK; others end in CHECK CONDITION with sense ILLEGAL REQUEST). No DMA: every command completes at once (BSY is
 * never seen), with INTRQ raised as ATA says (unless nIEN), so a guest may poll the status
 * register (as SeaBIOS does) or take the interrupt. Guest input is hostile: LBA and count are
 * checked against the disk and a bad one ends the command with ERR (IDNF).
 */
#ifndef SCRATCHVM_DEV_IDE_H
#define SCRATCHVM_DEV_IDE_H

#include <stdint.h>

#include "block/block.h"
#include "hypervisor_sim.h"

#define IDE_PRIMARY_CMD 0x1F0
#define IDE_PRIMARY_CTRL 0x3F6
#define IDE_SECONDARY_CMD 0x170
#define IDE_SECONDARY_CTRL 0x376
#define IDE_CMD_PORTS 8

typedef struct IdeChannel IdeChannel;

/* owner: whoever made the channel (ide_owner gives it back). */
IdeChannel *ide_create(uint16_t cmd_base, uint16_t ctrl_port, void *owner);
void *ide_owner(const IdeChannel *ch);
/* Power-on state: no command in progress, the signature, the default geometry. */
void ide_reset(void *opaque);
/* Wires INTRQ (raised at a command's end and for each PIO block, unless nIEN). */
void ide_set_irq_line(IdeChannel *ch, const IrqLine *irq);
/* unit 0 (master) or 1 (slave); the channel owns bd from then on. -EEXIST, -EINVAL. */
int ide_attach(IdeChannel *ch, int unit, BlockDev *bd);
/* The same for a CD-ROM (2048-byte blocks; never written). */
int ide_attach_cdrom(IdeChannel *ch, int unit, BlockDev *bd);
void ide_destroy(IdeChannel *ch);
int ide_io_read(uint16_t port, uint8_t size, uint32_t *value, void *opaque);
int ide_io_write(uint16_t port, uint8_t size, uint32_t value, void *opaque);

/* The VM's side (src/vmm/vm.c): disk `index` 0-3 (QEMU's -hda..-hdd: primary master,
 * primary slave, secondary master, secondary slave) on the VM's IDE channels (IRQ 14 and
 * 15), created and put on the I/O bus with their first disk; with a PCI bus, the
 * controller is also a PCI IDE function in compatibility mode (PIIX3's IDs), which is
 * how firmware that sees PCI finds it. The VM owns bd from then on (also on failure,
 * when it is closed). */
int vm_add_ide_disk(SimpleVM *svm, int index, BlockDev *bd);
/* The same for a CD-ROM (QEMU's -cdrom is index 2, the secondary master). */
int vm_add_ide_cdrom(SimpleVM *svm, int index, BlockDev *bd);

#endif
