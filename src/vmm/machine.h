/*
 * The machine layout: where things are on ScratchVM's PC (QEMU's `pc` machine), for every
 * part of the VMM that has to agree on it: the platform wiring the devices, the firmware
 * tables describing them (ACPI, MP), the E820 map handed to the guest by the loader and by
 * the BIOS. One description: a guest address, port or IRQ is spelled here and nowhere else
 * (DESIGN.md, "The machine"). Older constants still live beside their devices and move here
 * as they are touched. Internal to the library.
 */
#ifndef SCRATCHVM_VMM_MACHINE_H
#define SCRATCHVM_VMM_MACHINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- guest-physical memory ---- */
#define MACHINE_LOW_RAM_END     0x9FC00ull   /* conventional RAM ends at 639 KiB */
#define MACHINE_EBDA_BASE       0x9FC00ull   /* the extended BIOS data area, 1 KiB */
#define MACHINE_EBDA_SIZE       0x400ull
#define MACHINE_VGA_HOLE_START  0xA0000ull
#define MACHINE_VGA_HOLE_END    0xC0000ull
/* Firmware tables (ACPI, or the MP configuration table) in RAM of the BIOS area that the
 * ACPI RSDP search covers (ACPI 6.5, 5.2.5.1: 0xE0000-0xFFFFF, 16-byte aligned); the
 * built-in BIOS occupies 0xF0000-0xFFFFF, so the tables take the E segment. Its first page
 * is ACPI NVS (the FACS: the OS writes it at run time, 5.2.10), the rest ACPI reclaimable. */
#define MACHINE_FW_TABLES_BASE  0xE0000ull
#define MACHINE_FW_TABLES_SIZE  0x10000ull
#define MACHINE_ACPI_NVS_SIZE   0x1000ull
#define MACHINE_BIOS_AREA_START 0xF0000ull
#define MACHINE_HIGH_RAM_START  0x100000ull  /* extended memory */

/* ---- MMIO ---- */
/* The PCI memory window: where the VMM places memory BARs and what the DSDT's PCI0 _CRS
 * offers the OS, from the top of the largest RAM (VM_MAX_RAM, 3 GiB) up to the IOAPIC.
 * Never RAM, so machine_e820 does not list it. */
#define MACHINE_PCI_MMIO_BASE   0xC0000000ull
#define MACHINE_PCI_MMIO_END    0xFEC00000ull   /* exclusive */
#define MACHINE_IOAPIC_BASE     0xFEC00000ull
#define MACHINE_HPET_BASE       0xFED00000ull
#define MACHINE_HPET_SIZE       0x400ull
#define MACHINE_LAPIC_BASE      0xFEE00000ull

/* ---- I/O ports ---- */
/* The ACPI PM block where QEMU's PIIX4 PM puts it (PMBASE 0x600). */
#define MACHINE_ACPI_PM_BASE    0x600
#define MACHINE_PM1A_EVT_BLK    (MACHINE_ACPI_PM_BASE + 0x0)   /* PM1_STS, PM1_EN */
#define MACHINE_PM1_EVT_LEN     4
#define MACHINE_PM1A_CNT_BLK    (MACHINE_ACPI_PM_BASE + 0x4)
#define MACHINE_PM1_CNT_LEN     2
#define MACHINE_PM_TMR_BLK      (MACHINE_ACPI_PM_BASE + 0x8)
#define MACHINE_PM_TMR_LEN      4
#define MACHINE_ACPI_PM_LEN     0xC
/* PCI configuration mechanism #1 (PCI Local Bus 3.0, 3.2.2.3.2): CONFIG_ADDRESS is a
 * dword register at 0xCF8 (0xCF9 is the reset control register, a byte), CONFIG_DATA
 * the four ports 0xCFC-0xCFF. */
#define MACHINE_PCI_CONFIG_ADDRESS 0xCF8
#define MACHINE_PCI_CONFIG_DATA    0xCFC
/* The PCI I/O window: where the VMM places I/O BARs, and the DSDT's PCI0 _CRS. */
#define MACHINE_PCI_IO_BASE     0xC000
#define MACHINE_PCI_IO_END      0x10000         /* exclusive */
/* PIIX3's reset control register (the FADT's RESET_REG): bit 2 with bit 1 resets. */
#define MACHINE_RESET_PORT      0xCF9
#define MACHINE_RESET_VALUE     0x06

/* ---- interrupts: ISA IRQ lines (8259A inputs) and IOAPIC pins (GSIs) ---- */
#define MACHINE_IRQ_PIT   0
#define MACHINE_IRQ_KBD   1
#define MACHINE_IRQ_COM1  4
#define MACHINE_IRQ_COM2  3
#define MACHINE_IRQ_FDC   6      /* the floppy controller (ISA DMA channel 2) */
#define MACHINE_IRQ_RTC   8
#define MACHINE_IRQ_IDE0  14     /* the IDE channels (legacy mode) */
#define MACHINE_IRQ_IDE1  15
#define MACHINE_IRQ_SCI   9      /* level, active high (MADT override, ACPI 5.2.12.5) */
#define MACHINE_GSI_PIT   2      /* ISA IRQ0 reaches IOAPIC pin 2, as PC chipsets wire it */
#define MACHINE_ISA_IRQS  16
#define MACHINE_IOAPIC_ID 0
#define MACHINE_IOAPIC_PINS 24
/* PCI INTx: device pin P (1 = INTA#) of slot S drives PIIX3 PIRQ (S + P - 2) mod 4, the
 * swizzle of QEMU's pc. Each PIRQ reaches IOAPIC pin MACHINE_PCI_GSI_BASE + n (level,
 * active low, as the DSDT's _PRT says with its hard-wired GSIs: ACPI 6.5, 6.2.13) and,
 * when its PIIX3 route register (0x60 + n) enables it, the 8259A's IRQ of that register.
 * The VMM's firmware step routes PIRQA-D to ISA IRQs 10, 10, 11, 11 (level in the ELCR),
 * what SeaBIOS gives QEMU's pc, and writes those into the functions' interrupt line. */
#define MACHINE_PCI_PIRQS       4
#define MACHINE_PCI_GSI_BASE    16
#define MACHINE_PCI_PIRQ_IRQ(n) ((n) < 2 ? 10 : 11)
/* The HPET's comparators may use these IOAPIC pins (Tn_INT_ROUTE_CAP): 2, 8 and 20-23
 * (QEMU's pc offers 16-23; 16-19 are the PCI INTx lines here, idle high until the OS
 * makes them active low). */
#define MACHINE_HPET_ROUTE_CAP 0x00F00104u

/* What the machine is: everything the firmware tables describe comes from here. */
typedef struct {
    uint64_t ram_size;           /* bytes of RAM from 0 (the VGA hole aside) */
    unsigned cpus;               /* vCPUs: one local APIC each, APIC IDs 0..cpus-1 */
    bool acpi;                   /* ACPI tables; false (-no-acpi): an Intel MP table */
    bool pm_timer_32bit;         /* the PM timer counts 32 bits (FADT TMR_VAL_EXT), else 24 */
    bool hpet;                   /* an HPET at MACHINE_HPET_BASE (not with KVM's irqchip) */
    bool com2;                   /* a second 16550A (COM2_BASE, MACHINE_IRQ_COM2) */
} MachineDesc;

/* Whether RAM backs the firmware-table area (a VM of less than 1 MiB has none). */
static inline bool machine_has_fw_tables(const MachineDesc *m)
{
    return m->ram_size >= MACHINE_HIGH_RAM_START;
}

/* E820 address range types (ACPI 6.5, 15.2 "E820 Assignment"). */
#define E820_RAM      1
#define E820_RESERVED 2
#define E820_ACPI     3   /* ACPI reclaimable */
#define E820_NVS      4   /* ACPI NVS */
#define MACHINE_E820_MAX 8

typedef struct {
    uint64_t base, length;
    uint32_t type;
} E820Entry;

/* The one memory map of the machine, in address order, for the -kernel loader (boot_params
 * and the multiboot map) and the BIOS's int 15h E820h: RAM below the EBDA, the EBDA and the
 * BIOS area reserved, the firmware tables as ACPI NVS / reclaimable (ACPI) or reserved (MP
 * table), RAM from 1 MiB. Returns the count (at most MACHINE_E820_MAX). */
int machine_e820(const MachineDesc *m, E820Entry e[MACHINE_E820_MAX]);

#endif
