/*
 * The 8254 programmable interval timer at 0x40-0x43 (src/dev/i8254.c) and the PC's system
 * control port B at 0x61, whose bits are counter 2's gate and output, the speaker enable
 * and the refresh toggle. Counter 0's OUT drives IRQ0. Thread-safe.
 */
#ifndef SCRATCHVM_DEV_I8254_H
#define SCRATCHVM_DEV_I8254_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "dev/dev_clock.h"
#include "hypervisor_sim.h"

#define PIT_BASE 0x40
#define PIT_PORT61 0x61
#define PIT_HZ 1193182ull        /* the PC's 14.31818 MHz / 12 */
#define PIT_CHANNELS 3

typedef struct Pit8254 Pit8254;

typedef struct {
    uint8_t mode, rw;             /* mode 0-5; RW 1 LSB, 2 MSB, 3 LSB then MSB */
    bool bcd, gate, out, armed;
    uint32_t reload;              /* the count loaded, 1..65536 (10000 in BCD) */
    uint16_t count;               /* the counting element now */
} PitChannelState;

/* `irq0` is counter 0's OUT; `changed(opaque)` is called (outside the lock) after the guest
 * reprogrammed a counter, so that the VM re-arms its timer for pit_advance. */
Pit8254 *pit_create(const IrqLine *irq0, const DevClock *clock,
                    void (*changed)(void *opaque), void *opaque);
void pit_destroy(Pit8254 *pit);
int pit_io_read(uint16_t port, uint8_t size, uint32_t *value, void *opaque);
int pit_io_write(uint16_t port, uint8_t size, uint32_t value, void *opaque);
int pit_port61_read(uint16_t port, uint8_t size, uint32_t *value, void *opaque);
int pit_port61_write(uint16_t port, uint8_t size, uint32_t value, void *opaque);
/* Pulses IRQ0 for counter 0's rising OUT edges up to `now` (several missed edges coalesce
 * into one pulse, as the PIC's IRR would hold only one) and returns the time of the next
 * one, or DEV_NO_DEADLINE. */
uint64_t pit_advance(Pit8254 *pit, uint64_t now);
void pit_channel_state(Pit8254 *pit, int channel, PitChannelState *out);

#endif
