/*
 * The built-in BIOS's VMM side (src/vmm/bios.c): the firmware image (bios/bios.s) is
 * mapped at 0xF0000 and hands each BIOS call to the VMM through the BIOS call port; the
 * services run here, on the guest's saved registers, with the disks of the block layer.
 */
#ifndef SCRATCHVM_VMM_BIOS_H
#define SCRATCHVM_VMM_BIOS_H

#include <stdio.h>

#include "hypervisor_sim.h"
#include "vmm/block.h"

/* The paravirtual BIOS call port: a 32-bit OUT of (SS << 16) | SP, the real-mode address
 * of the call frame (layout in bios/bios.s). Other sizes and INs are ignored. */
#define BIOS_CALL_PORT 0x0B00

/* BIOS drive numbers (int 13h DL). */
#define BIOS_DRIVE_FLOPPY0 0x00
#define BIOS_DRIVE_FLOPPY1 0x01
#define BIOS_DRIVE_HD0 0x80
#define BIOS_DRIVE_HD1 0x81

/* Maps the BIOS at 0xF0000 (and 4 GiB - 64 KiB), registers the call port, and leaves the
 * vCPU at the reset vector: the BIOS's POST then boots through int 19h. */
int vm_bios_install(SimpleVM *svm);
/* Gives a disk to the BIOS as `drive` (0x00, 0x01, 0x80, 0x81); the BIOS owns bd from
 * then on (closed by vm_destroy). -EEXIST when the drive has one, -EINVAL for others. */
int vm_bios_attach_disk(SimpleVM *svm, uint8_t drive, BlockDev *bd);
/* Whether the BIOS can use bd as a disk (it has a sector): 0, or -EINVAL with the reason
 * in hv_last_error(). */
int vm_bios_check_disk(const BlockDev *bd);
/* Boot order for int 19h: letters 'a' (floppy) and 'c' (hard disk), e.g. "ac", "c". */
int vm_bios_set_boot_order(SimpleVM *svm, const char *order);
/* What POST does (IVT, BDA, the screen in mode 3), done from C: for a boot sector loaded
 * straight to 0x7C00. */
int vm_bios_post(SimpleVM *svm);
/* What the firmware leaves before a -kernel boot (QEMU: SeaBIOS): the BIOS installed and
 * POST's IVT and BDA, the 8259A pair at vectors 08h/70h with IRQ0 open, the 8254 ticking
 * at 18.2 Hz. The loader then sets the kernel's entry state. */
int vm_bios_kernel_handoff(SimpleVM *svm);
/* `--trace bios`: one line per call to `out` (NULL: none). */
void vm_bios_set_trace(SimpleVM *svm, FILE *out);
/* Calls made and calls answered "unsupported" (CF=1, AH=86h). */
uint64_t vm_bios_calls(const SimpleVM *svm);
uint64_t vm_bios_unsupported(const SimpleVM *svm);
/* The unsupported calls, one line per (vector, AH) pair with its count. */
void vm_bios_print_unsupported(const SimpleVM *svm, FILE *out);
void vm_bios_destroy(struct Bios *bios);

#endif
