/*
 * The i8042 PS/2 controller at 0x60 (data) and 0x64 (status / command) with a keyboard
 * behind it (src/dev/i8042.c): IRQ1, scancode set 2 translated to set 1, host keys turned
 * into scancodes, the output port's A20 gate and reset line. Thread-safe: the vCPU thread
 * reads and writes the ports, the console thread types keys.
 */
#ifndef SCRATCHVM_DEV_I8042_H
#define SCRATCHVM_DEV_I8042_H

#include <stdbool.h>
#include <stdint.h>

#include "hypervisor_sim.h"

#define I8042_DATA 0x60
#define I8042_COMMAND 0x64
#define I8042_QUEUE 256

typedef struct I8042 I8042;

/* a20(opaque, on): the output port's bit 1 changed; reset(opaque): bit 0 went low (a
 * reset pulse). */
I8042 *i8042_create(const IrqLine *irq1, void (*a20)(void *opaque, bool on),
                    void (*reset)(void *opaque), void *opaque);
void i8042_destroy(I8042 *k);
int i8042_io_read(uint16_t port, uint8_t size, uint32_t *value, void *opaque);
int i8042_io_write(uint16_t port, uint8_t size, uint32_t value, void *opaque);
/* A key typed on the host console (an ASCII or control byte, US layout): its make and break
 * codes, with Shift or Ctrl around them where the byte needs them. False for a byte with
 * no key, or when the keyboard's queue is full. */
bool i8042_host_key(I8042 *k, uint8_t ascii);
/* The set 2 make code (0xE0xx: extended) of a key by QEMU's name ("a", "ret", "ctrl",
 * "f1", "up", ...), or -ENOENT. */
int i8042_key_code(const char *name);
/* The monitor's sendkey: presses the n keys (set 2 codes) in order and releases them in
 * reverse. -EAGAIN when the keyboard is not scanning or its queue has no room. */
int i8042_press_keys(I8042 *k, const uint16_t *set2, size_t n);

#endif
