/*
 * The MC146818 real-time clock and its CMOS RAM at ports 0x70 (index, bit 7 NMI disable)
 * and 0x71 (data) (src/dev/mc146818.c). IRQ8 for the periodic, alarm and update-ended
 * interrupts. Thread-safe.
 */
#ifndef SCRATCHVM_DEV_MC146818_H
#define SCRATCHVM_DEV_MC146818_H

#include <stdbool.h>
#include <stdint.h>

#include "dev/dev_clock.h"
#include "hypervisor_sim.h"

#define RTC_BASE 0x70
#define CMOS_SIZE 128

typedef struct Rtc146818 Rtc146818;

/* `epoch`: the wall-clock time (seconds since 1970, UTC) at VM clock 0; the RAM size
 * fills the CMOS memory-size bytes. `changed(opaque)`: the periodic rate or an interrupt
 * enable changed. */
Rtc146818 *rtc_create(const IrqLine *irq8, const DevClock *clock, int64_t epoch,
                      uint64_t ram_bytes, void (*changed)(void *opaque), void *opaque);
void rtc_destroy(Rtc146818 *rtc);
void rtc_set_epoch(Rtc146818 *rtc, int64_t epoch);
int rtc_io_read(uint16_t port, uint8_t size, uint32_t *value, void *opaque);
int rtc_io_write(uint16_t port, uint8_t size, uint32_t value, void *opaque);
/* Raises IRQ8 for the events due by `now`; the next event's time or DEV_NO_DEADLINE. */
uint64_t rtc_advance(Rtc146818 *rtc, uint64_t now);
/* Port 0x70 bit 7: NMIs are masked. */
bool rtc_nmi_disabled(Rtc146818 *rtc);
uint8_t rtc_cmos_byte(Rtc146818 *rtc, unsigned index);
/* The floppy drive types (register 0x10: drive 0 in bits 7:4, drive 1 in 3:0) and the
 * diskette bits of the equipment byte (0x14) that go with them. */
void rtc_set_floppy_types(Rtc146818 *rtc, uint8_t types);

#endif
