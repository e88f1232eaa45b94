/*
 * The local APIC in xAPIC mode at 0xFEE00000 (src/dev/lapic.c), one per vCPU: ID,
 * version, TPR/APR/PPR, EOI, LDR/DFR, SVR, ISR/TMR/IRR, ESR, ICR (self-IPIs, NMI too), the LVT with
 * its timer (one-shot, periodic, TSC-deadline; divide configuration), LINT0 as ExtINT from the 8259A and
 * LINT1 as NMI. Thread-safe.
 */
#ifndef SCRATCHVM_DEV_LAPIC_H
#define SCRATCHVM_DEV_LAPIC_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "dev/dev_clock.h"

#include "vmm/machine.h"

#define LAPIC_BASE MACHINE_LAPIC_BASE   /* where it sits: the machine layout's */
#define LAPIC_SIZE 0x1000ull
#define LAPIC_BUS_HZ 1000000000ull   /* the timer's clock before the divider, as KVM's */

typedef struct Lapic Lapic;

/* `notify(opaque)` (outside the lock): an interrupt became deliverable. `eoi(opaque,
 * vector)`: a level-triggered vector was ended (EOI broadcast to the IOAPIC); may be NULL.
 * `changed(opaque)`: the timer was reprogrammed. */
Lapic *lapic_create(uint8_t id, const DevClock *clock, void (*notify)(void *opaque),
                    void (*eoi)(void *opaque, int vector), void (*changed)(void *opaque),
                    void *opaque);
void lapic_destroy(Lapic *a);
int lapic_mmio_read(uint64_t addr, uint8_t size, uint64_t *value, void *opaque);
int lapic_mmio_write(uint64_t addr, uint8_t size, uint64_t value, void *opaque);
/* IA32_TSC_DEADLINE (MSR 6E0H): its value (0 outside TSC-deadline mode or when
 * disarmed), and a write, which the caller has turned into `due_ns` on the VM clock (the
 * first instant the TSC reaches `tsc`); 0 disarms, and outside TSC-deadline mode the write
 * is ignored. */
uint64_t lapic_tsc_deadline(Lapic *a);
void lapic_set_tsc_deadline(Lapic *a, uint64_t tsc, uint64_t due_ns);
/* IA32_APIC_BASE bit 11 (global enable), as the vCPU reports it. */
void lapic_set_global_enable(Lapic *a, bool enabled);
/* A fixed interrupt arrives (from the IOAPIC or an IPI); level: TMR set. */
void lapic_deliver(Lapic *a, int vector, bool level);
/* Whether LINT0 passes the 8259A's INTR (ExtINT and unmasked, or the APIC disabled). */
bool lapic_accepts_pic(Lapic *a);
/* An NMI IPI this APIC sent itself (ICR delivery mode NMI): true once per IPI, clearing
 * it; the caller raises the vCPU's NMI. lapic_nmi_pending only looks. */
bool lapic_take_nmi(Lapic *a);
bool lapic_nmi_pending(Lapic *a);
/* The highest IRR vector above the processor priority, or -1. */
int lapic_pending_vector(Lapic *a);
/* Interrupt acknowledge: IRR -> ISR of that vector; returns it, or -1. */
int lapic_acknowledge(Lapic *a);
/* Fires the timer when due (IRR of its vector unless masked); returns the next deadline
 * or DEV_NO_DEADLINE. */
uint64_t lapic_advance(Lapic *a, uint64_t now);
/* SMP: `ipi(opaque, icr_lo, icr_hi)` (outside the lock) receives every IPI this APIC
 * sends, whatever its destination, self included; without a hook only IPIs to this APIC
 * itself are delivered (one vCPU). */
void lapic_set_ipi_hook(Lapic *a, void (*ipi)(void *opaque, uint32_t icr_lo, uint32_t icr_hi));
/* Whether this (globally enabled) APIC is the destination `dest` of a message in physical
 * or logical (flat or cluster, per its DFR) mode; 0xFF is a broadcast. */
bool lapic_matches(Lapic *a, uint8_t dest, bool logical);
uint8_t lapic_id(Lapic *a);
/* An INIT (IPI or signal): the registers as at power-up, the APIC ID kept (SDM Vol. 3A,
 * 11.4.7.3). */
void lapic_init_reset(Lapic *a);
/* An NMI delivered to this APIC (an IPI from another one, an MSI): lapic_take_nmi reports
 * it once. */
void lapic_raise_nmi(Lapic *a);
/* QEMU's `info lapic` text. */
void lapic_print_info(Lapic *a, FILE *out);
/* The registers as the APIC page holds them (offsets 0-3F0h, 32 bits every 16 bytes): the
 * layout of struct kvm_lapic_state, so that KVM's in-kernel APIC prints the same way. */
#define LAPIC_REG_PAGE 1024
void lapic_get_page(Lapic *a, uint8_t page[LAPIC_REG_PAGE]);
void lapic_print_page(const uint8_t page[LAPIC_REG_PAGE], FILE *out);

#endif
