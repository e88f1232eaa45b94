/*
 * The HPET (src/dev/hpet.c), as QEMU's pc machine has it (IA-PC HPET Specification 1.0a):
 * a 64-bit main counter at 100 MHz (period 10 ns) from the VM's clock and 3 comparators,
 * each one-shot or periodic, 32- or 64-bit, edge or level, routed to an IOAPIC pin of
 * Tn_INT_ROUTE_CAP or, with the legacy replacement route, timer 0 to ISA IRQ0 and timer 1
 * to ISA IRQ8 (the 8254 and the RTC then lose those lines). No FSB (MSI) delivery.
 * The device decodes the offset within its 1 KiB window. Thread-safe.
 */
#ifndef SCRATCHVM_DEV_HPET_H
#define SCRATCHVM_DEV_HPET_H

#include <stdbool.h>
#include <stdint.h>

#include "dev/dev_clock.h"
#include "hypervisor_sim.h"

#define HPET_TIMERS 3
#define HPET_PERIOD_FS 10000000ull          /* 10 ns a tick, 100 MHz (as QEMU) */
#define HPET_VENDOR_ID 0x8086u
#define HPET_REV_ID 0x01u
/* General capabilities and ID, low 32 bits (spec 2.3.4): also the ACPI HPET table's Event
 * Timer Block ID. */
#define HPET_CAP_COUNT_SIZE (1u << 13)      /* a 64-bit main counter */
#define HPET_CAP_LEG_RT     (1u << 15)      /* legacy replacement route capable */
#define HPET_CAP_ID_LOW (HPET_VENDOR_ID << 16 | HPET_CAP_LEG_RT | HPET_CAP_COUNT_SIZE | \
                         (HPET_TIMERS - 1u) << 8 | HPET_REV_ID)

typedef struct Hpet Hpet;

/* Interrupts go to isa_irq(opaque, line, level) for the legacy replacement route (ISA
 * lines 0 and 8) and to gsi_irq(opaque, pin, level) for an IOAPIC pin of `route_cap`.
 * legacy(opaque, on) is called when LEG_RT_CNF changes (the VM then cuts the 8254's and the
 * RTC's lines), changed(opaque) after a register write (re-arm the VM's timer for
 * hpet_advance); both outside the lock. */
typedef struct {
    IrqSetFn isa_irq;
    IrqSetFn gsi_irq;
    void (*legacy)(void *opaque, bool on);
    void (*changed)(void *opaque);
    void *opaque;
    uint32_t route_cap;
} HpetWiring;

Hpet *hpet_create(const DevClock *clock, const HpetWiring *wiring);
void hpet_destroy(Hpet *h);
int hpet_mmio_read(uint64_t addr, uint8_t size, uint64_t *value, void *opaque);
int hpet_mmio_write(uint64_t addr, uint8_t size, uint64_t value, void *opaque);
/* Fires the comparators that matched by `now`; the time of the next match or
 * DEV_NO_DEADLINE. */
uint64_t hpet_advance(Hpet *h, uint64_t now);
bool hpet_legacy_route(Hpet *h);

#endif
