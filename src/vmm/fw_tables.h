/*
 * Firmware tables built by the VMM from the machine description (src/vmm/fw_tables.c):
 * ACPI (RSDP, RSDT, XSDT, FADT, FACS, MADT, HPET, DSDT) or, without ACPI, an Intel MP
 * table (floating pointer and configuration table). Internal to the library.
 */
#ifndef SCRATCHVM_VMM_FW_TABLES_H
#define SCRATCHVM_VMM_FW_TABLES_H

#include <stddef.h>
#include <stdint.h>

#include "hypervisor_sim.h"
#include "vmm/machine.h"

/* SLP_TYP of \_S5 (soft off), as PIIX4's PMCNTRL SUS_TYP 000b (82371AB data sheet,
 * 7.2.6); what the PM device compares SLP_TYP with at SLP_EN. */
#define ACPI_SLP_TYP_S5 0

/* Where the tables went. */
typedef struct {
    uint64_t rsdp;                /* ACPI: the RSDP's address, else 0 */
    uint64_t mp_floating;         /* MP: the floating pointer's address, else 0 */
    uint64_t tables[8];           /* ACPI: every table's address (RSDT first), for dumps */
    char signatures[8][5];
    size_t count;
} FwTablesInfo;

/* Builds the tables for `m` in `area`, which is guest-physical
 * [MACHINE_FW_TABLES_BASE, + MACHINE_FW_TABLES_SIZE) (zeroed first); with m->acpi false,
 * the MP floating pointer goes to `ebda` (MACHINE_EBDA_SIZE bytes at MACHINE_EBDA_BASE;
 * may be NULL when RAM does not reach it). 0, -EINVAL, or -ENOSPC. */
int fw_tables_build(const MachineDesc *m, uint8_t *area, uint8_t *ebda, FwTablesInfo *info);
/* Builds them in the VM's RAM (vm_guest_ram), when RAM backs the area; a VM without it
 * gets none (0). */
int fw_tables_install(SimpleVM *svm, const MachineDesc *m, FwTablesInfo *info);

#endif
