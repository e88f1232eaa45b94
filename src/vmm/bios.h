/*
 * The built-in BIOS's VMM side (src/vmm/bios.c): the firmware image (bios/bios.s) is
 * mapped at 0xF0000 and hands each BIOS call to the VMM through the BIOS call port; the
 * services run here, on the guest's saved registers, with the disks of the block layer.
 */
#ifndef SCRATCHVM_VMM_BIOS_H
#define SCRATCHVM_VMM_BIOS_H

#include <stdio.h>

#include "hypervisor_sim.h"
#include "block/block.h"

/* The paravirtual BIOS call port: a 32-bit OUT of (SS << 16) | SP, the real-mode address
 * of the call frame (layout in bios/bios.s). Other sizes and INs are ignored. */
#define BIOS_CALL_PORT 0x0B00

/* BIOS drive numbers (int 13h DL). */
#define BIOS_DRIVE_FLOPPY0 0x00
#define BIOS_DRIVE_FLOPPY1 0x01
#define BIOS_DRIVE_HD0 0x80
#define BIOS_DRIVE_HD1 0x81
/* The CD-ROM: 0xE0, the number SeaBIOS gives its first CD drive, clear of the hard disks
 * (80h-81h) and of what DOS-era code probes. Its int 13h sectors are 2048 bytes. */
#define BIOS_DRIVE_CDROM 0xE0

#define CD_SECTOR 2048u

/* What the El Torito boot catalog's initial/default entry asks for ("El Torito" Bootable
 * CD-ROM Format Specification 1.0, sections 2.0-2.3). */
typedef struct {
    uint8_t media;          /* 0 no emulation; 1, 2, 3 floppy 1.2 / 1.44 / 2.88 MB */
    uint16_t load_segment;  /* 0x07C0 when the entry says 0 */
    uint16_t sectors;       /* 512-byte virtual sectors to load (no emulation) */
    uint32_t load_rba;      /* first 2048-byte sector of the boot image */
    uint32_t catalog_rba;
    uint64_t image_size;    /* bytes the BIOS maps: the floppy's size, or sectors * 512 */
} ElToritoBoot;

/* Reads the boot record volume descriptor (sector 17) and the boot catalog of cd, checks
 * them (validation entry's header, key bytes and checksum, a bootable x86 initial entry,
 * every sector inside the image, a no-emulation image loading within 0x500-0x9FFFF), and
 * fills *out. 0, or -ENOENT (no El Torito), -EINVAL (malformed) or -ENOTSUP (hard disk
 * emulation) with the reason in hv_last_error(). */
int vm_bios_eltorito(BlockDev *cd, ElToritoBoot *out);

/* Maps the BIOS at 0xF0000 (and 4 GiB - 64 KiB), registers the call port, and leaves the
 * vCPU at the reset vector: the BIOS's POST then boots through int 19h. */
int vm_bios_install(SimpleVM *svm);
/* Gives a disk to the BIOS as `drive` (0x00, 0x01, 0x80, 0x81, or BIOS_DRIVE_CDROM for a
 * CD image, which should be opened read-only); the BIOS owns bd from
 * then on (closed by vm_destroy). -EEXIST when the drive has one, -EINVAL for others. */
int vm_bios_attach_disk(SimpleVM *svm, uint8_t drive, BlockDev *bd);
/* Whether the BIOS can use bd as a disk (it has a sector): 0, or -EINVAL with the reason
 * in hv_last_error(). */
int vm_bios_check_disk(const BlockDev *bd);
/* Boot order for int 19h: letters 'a' (floppy), 'c' (hard disk) and 'd' (CD-ROM, El
 * Torito), e.g. "ac", "d", "cad". The default, "acd", boots a lone CD. */
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
