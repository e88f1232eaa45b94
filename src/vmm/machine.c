/*
 * The machine's memory map (machine.h): one builder for every E820 consumer.
 */
#include "vmm/machine.h"

int machine_e820(const MachineDesc *m, E820Entry e[MACHINE_E820_MAX])
{
    int n = 0;
    uint64_t ram = m->ram_size;
    e[n++] = (E820Entry){0, ram < MACHINE_LOW_RAM_END ? ram : MACHINE_LOW_RAM_END, E820_RAM};
    if (ram > MACHINE_LOW_RAM_END)
        e[n++] = (E820Entry){MACHINE_EBDA_BASE, MACHINE_VGA_HOLE_START - MACHINE_EBDA_BASE,
                             E820_RESERVED};
    if (machine_has_fw_tables(m)) {
        if (m->acpi) {
            e[n++] = (E820Entry){MACHINE_FW_TABLES_BASE, MACHINE_ACPI_NVS_SIZE, E820_NVS};
            e[n++] = (E820Entry){MACHINE_FW_TABLES_BASE + MACHINE_ACPI_NVS_SIZE,
                                 MACHINE_FW_TABLES_SIZE - MACHINE_ACPI_NVS_SIZE, E820_ACPI};
        } else {
            e[n++] = (E820Entry){MACHINE_FW_TABLES_BASE, MACHINE_FW_TABLES_SIZE, E820_RESERVED};
        }
    }
    e[n++] = (E820Entry){MACHINE_BIOS_AREA_START, MACHINE_HIGH_RAM_START - MACHINE_BIOS_AREA_START,
                         E820_RESERVED};
    if (ram > MACHINE_HIGH_RAM_START)
        e[n++] = (E820Entry){MACHINE_HIGH_RAM_START, ram - MACHINE_HIGH_RAM_START, E820_RAM};
    return n;
}
