/*
 * The I/O APIC at 0xFEC00000 (src/dev/ioapic.c): 24 redirection entries, edge and level
 * inputs with remote IRR, EOI broadcast from the local APIC. Thread-safe.
 */
#ifndef SCRATCHVM_DEV_IOAPIC_H
#define SCRATCHVM_DEV_IOAPIC_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "vmm/machine.h"

#define IOAPIC_BASE MACHINE_IOAPIC_BASE   /* where it sits: the machine layout's */
#define IOAPIC_SIZE 0x20ull
#define IOAPIC_PINS 24

typedef struct IoApic IoApic;

/* A message to the local APICs (82093AA 3.2.4; the MSI data's fields are the same):
 * delivery mode IOAPIC_DM_*, destination `dest` in physical or logical mode. */
#define IOAPIC_DM_FIXED 0u
#define IOAPIC_DM_LOWEST 1u
#define IOAPIC_DM_SMI 2u
#define IOAPIC_DM_NMI 4u
#define IOAPIC_DM_INIT 5u
#define IOAPIC_DM_EXTINT 7u
typedef struct {
    int vector;
    bool level;
    uint8_t dest;
    bool logical;
    unsigned mode;
} IoApicMessage;

/* `deliver(opaque, m)` sends a fixed, lowest-priority or NMI message to the local APICs
 * (outside the lock; the platform routes it by destination). */
IoApic *ioapic_create(void (*deliver)(void *opaque, const IoApicMessage *m),
                      void *opaque);
void ioapic_destroy(IoApic *io);
/* IrqSetFn: input pin 0-23. */
void ioapic_set_irq(void *io, int pin, int level);
/* EOI broadcast: clears remote IRR of the entries with this vector and re-delivers a
 * level input that is still asserted. */
void ioapic_eoi(IoApic *io, int vector);
int ioapic_mmio_read(uint64_t addr, uint8_t size, uint64_t *value, void *opaque);
int ioapic_mmio_write(uint64_t addr, uint8_t size, uint64_t value, void *opaque);
uint64_t ioapic_redirection(IoApic *io, int pin);
/* QEMU's `info pic` lines for the IOAPIC. */
void ioapic_print_info(IoApic *io, FILE *out);
void ioapic_print_entries(uint32_t id, const uint64_t rte[IOAPIC_PINS], uint32_t irr, FILE *out);

#endif
