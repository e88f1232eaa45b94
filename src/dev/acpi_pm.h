/*
 * The ACPI fixed hardware of the PM1a blocks and the PM timer (src/dev/acpi_pm.c), as a
 * PIIX4's power management function presents them (ACPI 6.5, 4.8 "ACPI Hardware
 * Programming Model"): PM1_STS/PM1_EN, PM1_CNT, the PM timer at 3.579545 MHz, and the SCI.
 * The block is PM_LEN (12) ports from the base given at creation: PM1a_EVT_BLK at +0,
 * PM1a_CNT_BLK at +4, PM_TMR_BLK at +8. Thread-safe.
 */
#ifndef SCRATCHVM_DEV_ACPI_PM_H
#define SCRATCHVM_DEV_ACPI_PM_H

#include <stdbool.h>
#include <stdint.h>

#include "dev/dev_clock.h"
#include "hypervisor_sim.h"

#define ACPI_PM_TIMER_HZ 3579545ull   /* ACPI 6.5, 4.8.3.3: the PM timer's frequency */
#define ACPI_PM_LEN 12

/* PM1_STS / PM1_EN bits (ACPI 6.5, 4.8.3.1.1 and 4.8.3.1.2). */
#define ACPI_PM1_TMR       (1u << 0)
#define ACPI_PM1_BM_STS    (1u << 4)
#define ACPI_PM1_GBL       (1u << 5)
#define ACPI_PM1_PWRBTN    (1u << 8)
#define ACPI_PM1_SLPBTN    (1u << 9)
#define ACPI_PM1_RTC       (1u << 10)
#define ACPI_PM1_WAK_STS   (1u << 15)
/* PM1_CNT bits (4.8.3.2.1). */
#define ACPI_PM1_SCI_EN    (1u << 0)
#define ACPI_PM1_BM_RLD    (1u << 1)
#define ACPI_PM1_GBL_RLS   (1u << 2)
#define ACPI_PM1_SLP_TYP_SHIFT 10
#define ACPI_PM1_SLP_TYP_MASK  (7u << ACPI_PM1_SLP_TYP_SHIFT)
#define ACPI_PM1_SLP_EN    (1u << 13)

typedef struct AcpiPm AcpiPm;

/* `sci` is the SCI (level, active high); `clock` the VM's; the timer counts 32 bits when
 * `timer_32bit` (FADT TMR_VAL_EXT), else 24. `sleep(opaque, slp_typ)` is called (outside
 * the lock) when the guest writes SLP_EN, with the SLP_TYP it wrote; `changed(opaque)`
 * when TMR_EN changed, so that the VM re-arms its timer for acpi_pm_advance. The device
 * starts in ACPI mode (SCI_EN set): the machine has no SMI command port (FADT SMI_CMD 0,
 * ACPI 6.5 5.2.9: "the system is always in ACPI mode"). */
AcpiPm *acpi_pm_create(uint16_t base, const IrqLine *sci, const DevClock *clock,
                       bool timer_32bit, void (*sleep)(void *opaque, unsigned slp_typ),
                       void (*changed)(void *opaque), void *opaque);
void acpi_pm_destroy(AcpiPm *pm);
int acpi_pm_io_read(uint16_t port, uint8_t size, uint32_t *value, void *opaque);
int acpi_pm_io_write(uint16_t port, uint8_t size, uint32_t value, void *opaque);
/* A press of the fixed-feature power button (4.8.2.2.1): PWRBTN_STS, and the SCI when
 * PWRBTN_EN is set. Any thread. */
void acpi_pm_power_button(AcpiPm *pm);
/* Sets TMR_STS when the timer's top bit changed by `now` (raising the SCI with TMR_EN) and
 * returns when it next changes while TMR_EN is set, else DEV_NO_DEADLINE. */
uint64_t acpi_pm_advance(AcpiPm *pm, uint64_t now);
/* The timer's count at `now` (24 or 32 bits). */
uint32_t acpi_pm_timer_at(AcpiPm *pm, uint64_t now);

#endif
