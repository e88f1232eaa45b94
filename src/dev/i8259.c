/*
 * The PC's two 8259A programmable interrupt controllers (Intel 8259A data sheet, order
 * 231468): the master's INT goes to the CPU, the slave's INT to the master's IR2.
 *
 * What is modelled: ICW1-ICW4 (single/cascade, LTIM, ICW4 AEOI and SFNM), OCW1 (IMR),
 * OCW2 (non-specific / specific EOI, rotate on EOI, rotate in AEOI mode, set priority),
 * OCW3 (read IRR/ISR, poll, special mask mode), the priority resolver with rotation, edge
 * and level triggering per line through the ELCR (0x4D0/0x4D1, as PC chipsets have it),
 * spurious IRQ7/IRQ15 when a request goes away before INTA. Model choices: 8086 mode only
 * (ICW4 uPM=0, the 8080 call format has no use in a PC), the buffered-mode bits are kept
 * nowhere, and the cascade is fixed at IR2 whatever ICW3 says, as the PC wires it. A chip
 * is in an undefined state until its first ICW sequence (data sheet: it must be
 * initialised before use); here its INT stays low until then, so firmware and guests
 * that never program it (the built-in BIOS, polling guests) never see an interrupt.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dev/dev_io.h"

#include "dev/i8259.h"

/* ICW1 (A0=0, D4=1) */
#define ICW1_IC4   0x01   /* ICW4 follows */
#define ICW1_SNGL  0x02   /* single chip: no ICW3 */
#define ICW1_LTIM  0x08   /* level-triggered inputs */
#define ICW1_INIT  0x10
/* ICW4 */
#define ICW4_AEOI  0x02
#define ICW4_SFNM  0x10
/* OCW3 (A0=0, D4=0, D3=1) */
#define OCW3_SEL   0x08
#define OCW3_RIS   0x01
#define OCW3_RR    0x02
#define OCW3_P     0x04
#define OCW3_SMM   0x20
#define OCW3_ESMM  0x40
/* OCW2 commands: bits 7-5 (R, SL, EOI) */
#define OCW2_ROTATE_AEOI_CLEAR 0
#define OCW2_EOI               1
#define OCW2_NOP               2
#define OCW2_SPECIFIC_EOI      3
#define OCW2_ROTATE_AEOI_SET   4
#define OCW2_ROTATE_EOI        5
#define OCW2_SET_PRIORITY      6
#define OCW2_ROTATE_SPECIFIC   7
/* ELCR: IRQ 0, 1, 2 (master) and 8, 13 (slave) are always edge-triggered on a PC. */
#define ELCR_MASTER_MASK 0xF8
#define ELCR_SLAVE_MASK  0xDE
#define NO_LEVEL 8

typedef struct {
    PicChipState s;
    uint8_t last_level;   /* input levels, for edge detection */
    bool ltim, single, icw4_needed, master;
    bool initialized;     /* an ICW sequence has completed */
} PicChip;

struct Pic8259 {
    pthread_mutex_t lock;
    PicChip chip[2];
    bool int_out;
    void (*notify)(void *opaque);
    void *opaque;
    uint64_t counts[PIC_IRQ_LINES];
};

/* Priority 0 (highest) .. 7 of the first bit of mask in the rotated order, or NO_LEVEL. */
static int highest_priority(uint8_t mask, uint8_t priority_add)
{
    for (int p = 0; p < 8; p++)
        if (mask & (1u << ((p + priority_add) & 7)))
            return p;
    return NO_LEVEL;
}

/* The level the chip would raise INT for: a request that is not masked and has a higher
 * priority than everything in service (special mask mode: in-service levels that are
 * masked do not count; special fully nested: the cascade input may nest), or -1. */
static int chip_request(const PicChip *c)
{
    if (!c->initialized)
        return -1;   /* never initialised (ICW1-4): its INT stays low, see the top */
    int p = highest_priority(c->s.irr & ~c->s.imr, c->s.priority_add);
    if (p == NO_LEVEL)
        return -1;
    uint8_t in = c->s.isr;
    if (c->s.special_mask)
        in &= ~c->s.imr;
    if (c->master && c->s.special_fully_nested)
        in &= (uint8_t)~(1u << PIC_CASCADE_IRQ);
    return p < highest_priority(in, c->s.priority_add) ? (p + c->s.priority_add) & 7 : -1;
}

static uint8_t chip_level_mask(const PicChip *c) { return c->ltim ? 0xFF : c->s.elcr; }

/* An input pin changes: level-triggered pins follow it in IRR; edge-triggered ones latch
 * a 0 -> 1 transition. */
static void chip_set_input(PicChip *c, int irq, int level)
{
    uint8_t bit = (uint8_t)(1u << irq);
    if (chip_level_mask(c) & bit) {
        if (level)
            c->s.irr |= bit;
        else
            c->s.irr &= (uint8_t)~bit;
    } else if (level && !(c->last_level & bit)) {
        c->s.irr |= bit;
    }
    if (level)
        c->last_level |= bit;
    else
        c->last_level &= (uint8_t)~bit;
}

/* INTA for `irq`: ISR set (or the AEOI rotation), an edge request consumed. A level
 * request stays in IRR while its line is high. */
static void chip_intack(PicChip *c, int irq)
{
    uint8_t bit = (uint8_t)(1u << irq);
    if (c->s.auto_eoi) {
        if (c->s.rotate_on_auto_eoi)
            c->s.priority_add = (uint8_t)((irq + 1) & 7);
    } else {
        c->s.isr |= bit;
    }
    if (!(chip_level_mask(c) & bit))
        c->s.irr &= (uint8_t)~bit;
}

/* Propagates the slave's INT to IR2 and recomputes INT; true when it just went high. */
static bool pic_update(Pic8259 *pic)
{
    chip_set_input(&pic->chip[0], PIC_CASCADE_IRQ, chip_request(&pic->chip[1]) >= 0);
    bool out = chip_request(&pic->chip[0]) >= 0;
    bool rose = out && !pic->int_out;
    pic->int_out = out;
    return rose;
}

static void pic_unlock_notify(Pic8259 *pic, bool rose)
{
    pthread_mutex_unlock(&pic->lock);
    if (rose && pic->notify)
        pic->notify(pic->opaque);
}

static void chip_reset(PicChip *c, bool master)
{
    uint8_t elcr = c->s.elcr;
    bool initialized = c->initialized;
    memset(c, 0, sizeof(*c));
    c->master = master;
    c->s.elcr = elcr;
    c->initialized = initialized;
}

Pic8259 *pic_create(void (*notify)(void *opaque), void *opaque)
{
    Pic8259 *pic = calloc(1, sizeof(*pic));
    if (!pic)
        return NULL;
    pthread_mutex_init(&pic->lock, NULL);
    chip_reset(&pic->chip[0], true);
    chip_reset(&pic->chip[1], false);
    pic->notify = notify;
    pic->opaque = opaque;
    return pic;
}

void pic_destroy(Pic8259 *pic)
{
    if (!pic)
        return;
    pthread_mutex_destroy(&pic->lock);
    free(pic);
}

void pic_set_irq(void *opaque, int line, int level)
{
    Pic8259 *pic = opaque;
    if (!pic || line < 0 || line >= PIC_IRQ_LINES)
        return;
    pthread_mutex_lock(&pic->lock);
    PicChip *c = &pic->chip[line >> 3];
    if (level && !(c->last_level & (1u << (line & 7))))
        pic->counts[line]++;
    chip_set_input(c, line & 7, level);
    pic_unlock_notify(pic, pic_update(pic));
}

bool pic_interrupt_pending(Pic8259 *pic)
{
    pthread_mutex_lock(&pic->lock);
    bool out = pic->int_out;
    pthread_mutex_unlock(&pic->lock);
    return out;
}

int pic_acknowledge(Pic8259 *pic)
{
    pthread_mutex_lock(&pic->lock);
    PicChip *m = &pic->chip[0], *s = &pic->chip[1];
    int irq = chip_request(m), vector;
    if (irq < 0) {
        vector = m->s.irq_base + 7;   /* the request went away: spurious IRQ7, no ISR bit */
    } else {
        chip_intack(m, irq);
        if (irq == PIC_CASCADE_IRQ) {
            int sirq = chip_request(s);
            if (sirq >= 0) {
                chip_intack(s, sirq);
                vector = s->s.irq_base + sirq;
            } else {
                vector = s->s.irq_base + 7;   /* spurious IRQ15 */
            }
        } else {
            vector = m->s.irq_base + irq;
        }
    }
    pic_unlock_notify(pic, pic_update(pic));
    return vector;
}

/* OCW2: the EOI and rotation commands. */
static void chip_ocw2(PicChip *c, uint8_t v)
{
    int level = v & 7, p;
    switch (v >> 5) {
    case OCW2_ROTATE_AEOI_CLEAR:
        c->s.rotate_on_auto_eoi = false;
        break;
    case OCW2_ROTATE_AEOI_SET:
        c->s.rotate_on_auto_eoi = true;
        break;
    case OCW2_EOI:
    case OCW2_ROTATE_EOI:
        p = highest_priority(c->s.isr, c->s.priority_add);
        if (p != NO_LEVEL) {
            int irq = (p + c->s.priority_add) & 7;
            c->s.isr &= (uint8_t)~(1u << irq);
            if (v >> 5 == OCW2_ROTATE_EOI)
                c->s.priority_add = (uint8_t)((irq + 1) & 7);
        }
        break;
    case OCW2_SPECIFIC_EOI:
        c->s.isr &= (uint8_t)~(1u << level);
        break;
    case OCW2_ROTATE_SPECIFIC:
        c->s.isr &= (uint8_t)~(1u << level);
        c->s.priority_add = (uint8_t)((level + 1) & 7);
        break;
    case OCW2_SET_PRIORITY:
        c->s.priority_add = (uint8_t)((level + 1) & 7);
        break;
    default:   /* OCW2_NOP */
        break;
    }
}

static void chip_write(PicChip *c, bool a0, uint8_t v)
{
    if (!a0) {
        if (v & ICW1_INIT) {
            /* ICW1 (data sheet, "Initialization Command Words"): IMR cleared, IR7 lowest
             * priority, special mask off, IRR selected for reads, edge sense reset. */
            chip_reset(c, c->master);
            c->ltim = v & ICW1_LTIM;
            c->single = v & ICW1_SNGL;
            c->icw4_needed = v & ICW1_IC4;
            c->s.init_step = 2;
        } else if (v & OCW3_SEL) {
            if (v & OCW3_P)
                c->s.poll = true;
            if (v & OCW3_RR)
                c->s.read_isr = v & OCW3_RIS;
            if (v & OCW3_ESMM)
                c->s.special_mask = v & OCW3_SMM;
        } else {
            chip_ocw2(c, v);
        }
        return;
    }
    switch (c->s.init_step) {
    case 2:
        c->s.irq_base = v & 0xF8;
        c->s.init_step = c->single ? (c->icw4_needed ? 4 : 0) : 3;
        c->initialized = c->s.init_step == 0;
        break;
    case 3:   /* ICW3: the cascade wiring, fixed on a PC */
        c->s.init_step = c->icw4_needed ? 4 : 0;
        c->initialized = c->s.init_step == 0;
        break;
    case 4:
        c->s.auto_eoi = v & ICW4_AEOI;
        c->s.special_fully_nested = v & ICW4_SFNM;
        c->s.init_step = 0;
        c->initialized = true;
        break;
    default:
        c->s.imr = v;   /* OCW1 */
        break;
    }
}

/* A read of the even port in poll mode is the INTA: bit 7 set and the level when a
 * request is there (data sheet, "The Poll Command"). */
static uint8_t chip_read(PicChip *c, bool a0)
{
    if (a0)
        return c->s.imr;
    if (c->s.poll) {
        c->s.poll = false;
        int irq = chip_request(c);
        if (irq < 0)
            return 0;
        chip_intack(c, irq);
        return (uint8_t)(0x80 | irq);
    }
    return c->s.read_isr ? c->s.isr : c->s.irr;
}

static PicChip *port_chip(Pic8259 *pic, uint16_t port)
{
    return &pic->chip[(port & 0xF0) == PIC_SLAVE_BASE ? 1 : 0];
}

int pic_io_read(uint16_t port, uint8_t size, uint32_t *value, void *opaque)
{
    Pic8259 *pic = opaque;
    if (!pic || !value)
        return -EINVAL;
    pthread_mutex_lock(&pic->lock);
    uint8_t v = chip_read(port_chip(pic, port), port & 1);
    bool rose = pic_update(pic);
    /* Wider reads: the chip drives the low byte only; the rest of the bus floats. */
    *value = dev_byte_on_bus(v, size);
    pic_unlock_notify(pic, rose);
    return 0;
}

int pic_io_write(uint16_t port, uint8_t size, uint32_t value, void *opaque)
{
    (void)size;   /* the low byte reaches the chip */
    Pic8259 *pic = opaque;
    if (!pic)
        return -EINVAL;
    pthread_mutex_lock(&pic->lock);
    chip_write(port_chip(pic, port), port & 1, (uint8_t)value);
    pic_unlock_notify(pic, pic_update(pic));
    return 0;
}

int pic_elcr_read(uint16_t port, uint8_t size, uint32_t *value, void *opaque)
{
    Pic8259 *pic = opaque;
    if (!pic || !value)
        return -EINVAL;
    pthread_mutex_lock(&pic->lock);
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++) {
        unsigned p = port + i - PIC_ELCR_BASE;
        v |= (uint32_t)(p < 2 ? pic->chip[p].s.elcr : 0xFF) << (8 * i);
    }
    *value = v;
    pthread_mutex_unlock(&pic->lock);
    return 0;
}

int pic_elcr_write(uint16_t port, uint8_t size, uint32_t value, void *opaque)
{
    Pic8259 *pic = opaque;
    if (!pic)
        return -EINVAL;
    pthread_mutex_lock(&pic->lock);
    for (unsigned i = 0; i < size; i++) {
        unsigned p = port + i - PIC_ELCR_BASE;
        if (p < 2)
            pic->chip[p].s.elcr = (uint8_t)(value >> (8 * i)) &
                                  (p ? ELCR_SLAVE_MASK : ELCR_MASTER_MASK);
    }
    pic_unlock_notify(pic, pic_update(pic));
    return 0;
}

void pic_chip_state(Pic8259 *pic, int chip, PicChipState *out)
{
    pthread_mutex_lock(&pic->lock);
    *out = pic->chip[chip ? 1 : 0].s;
    pthread_mutex_unlock(&pic->lock);
}

void pic_irq_counts(Pic8259 *pic, uint64_t counts[PIC_IRQ_LINES])
{
    pthread_mutex_lock(&pic->lock);
    memcpy(counts, pic->counts, sizeof(pic->counts));
    pthread_mutex_unlock(&pic->lock);
}

void pic_print_chip(int chip, const PicChipState *s, FILE *out)
{
    fprintf(out,
            "pic%d: irr=%02x imr=%02x isr=%02x hprio=%d irq_base=%02x rr_sel=%d elcr=%02x "
            "fnm=%d\n",
            chip, s->irr, s->imr, s->isr, s->priority_add, s->irq_base, s->read_isr, s->elcr,
            s->special_fully_nested);
}

void pic_print_info(Pic8259 *pic, FILE *out)
{
    for (int i = 0; i < 2; i++) {
        PicChipState s;
        pic_chip_state(pic, i, &s);
        pic_print_chip(i, &s, out);
    }
}
