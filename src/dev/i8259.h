/*
 * The PC's pair of 8259A programmable interrupt controllers (src/dev/i8259.c): master at
 * 0x20/0x21, slave at 0xA0/0xA1 cascaded on the master's IR2, edge/level control (ELCR)
 * at 0x4D0/0x4D1. Thread-safe: devices raise lines from any thread, the vCPU thread
 * acknowledges.
 */
#ifndef SCRATCHVM_DEV_I8259_H
#define SCRATCHVM_DEV_I8259_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "hypervisor_sim.h"

#define PIC_MASTER_BASE 0x20
#define PIC_SLAVE_BASE 0xA0
#define PIC_ELCR_BASE 0x4D0
#define PIC_IRQ_LINES 16
#define PIC_CASCADE_IRQ 2

typedef struct Pic8259 Pic8259;

/* The state of one chip, as `info pic` shows it. */
typedef struct {
    uint8_t irr, imr, isr, elcr;
    uint8_t priority_add;         /* the level with the highest priority */
    uint8_t irq_base;             /* ICW2: vector of IR0 */
    bool read_isr;                /* OCW3 RIS: reads of the even port give ISR */
    bool special_fully_nested;    /* ICW4 SFNM */
    bool special_mask;            /* OCW3 SMM */
    bool auto_eoi, rotate_on_auto_eoi, poll;
    int init_step;                /* 0: initialised; 2-4: the ICW expected next */
} PicChipState;

/* `notify(opaque)` is called (outside the lock) each time the INT output to the CPU goes
 * from low to high, so that the VM can wake or kick the vCPU. NULL on allocation failure. */
Pic8259 *pic_create(void (*notify)(void *opaque), void *opaque);
void pic_destroy(Pic8259 *pic);
/* IrqSetFn for IRQ 0-15 (8-15 on the slave). Out-of-range lines are ignored. */
void pic_set_irq(void *pic, int line, int level);
/* The INT output: an unmasked request beats what is in service. */
bool pic_interrupt_pending(Pic8259 *pic);
/* The INTA cycle: the vector of the highest-priority request, setting ISR (unless AEOI);
 * with no request left (it went away), the spurious IRQ7 (or IRQ15) vector. */
int pic_acknowledge(Pic8259 *pic);
int pic_io_read(uint16_t port, uint8_t size, uint32_t *value, void *opaque);
int pic_io_write(uint16_t port, uint8_t size, uint32_t value, void *opaque);
int pic_elcr_read(uint16_t port, uint8_t size, uint32_t *value, void *opaque);
int pic_elcr_write(uint16_t port, uint8_t size, uint32_t value, void *opaque);
/* A copy of chip 0 (master) or 1 (slave). */
void pic_chip_state(Pic8259 *pic, int chip, PicChipState *out);
/* How many times each IRQ line was raised (0 -> 1), for `info irq`. */
void pic_irq_counts(Pic8259 *pic, uint64_t counts[PIC_IRQ_LINES]);
/* QEMU's `info pic` lines for both chips. */
void pic_print_info(Pic8259 *pic, FILE *out);
/* One chip's line (also for KVM's in-kernel PIC, read with KVM_GET_IRQCHIP). */
void pic_print_chip(int chip, const PicChipState *s, FILE *out);

#endif
