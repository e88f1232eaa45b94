/*
 * The I/O APIC (Intel 82093AA data sheet, order 290566): IOREGSEL at offset 0, IOWIN at
 * 0x10; registers 0 (ID), 1 (version: 24 entries, version 11h), 2 (arbitration) and
 * 10h-3Fh, the 24 redirection entries (low and high halves).
 *
 * An unmasked edge input interrupts on its rising edge; a level input while it is high
 * and its remote IRR is clear; a level delivery sets remote IRR, which the local APIC's
 * EOI for that vector clears (and, the line still high, delivers again). Model choices:
 * fixed, lowest-priority and NMI messages go to the platform with their destination,
 * which picks the local APICs; the other delivery modes (SMI, INIT, ExtINT) are kept in
 * the entry but deliver nothing; polarity is
 * applied to the input level when the pin is evaluated, so an OS that reprograms a pin's
 * polarity (PCI's active-low INTx lines) sees the line as it is then.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dev/ioapic.h"

#define IOREGSEL 0x00
#define IOWIN 0x10
#define IOAPIC_REG_ID 0x00
#define IOAPIC_REG_VERSION 0x01
#define IOAPIC_REG_ARB 0x02
#define IOAPIC_REG_REDTBL 0x10
#define IOAPIC_VERSION_VALUE (((IOAPIC_PINS - 1u) << 16) | 0x11u)

/* Redirection entry bits (82093AA, 3.2.4) */
#define RTE_VECTOR 0xFFull
#define RTE_DM_SHIFT 8
#define RTE_DM_MASK (7ull << RTE_DM_SHIFT)
#define RTE_DEST_LOGICAL (1ull << 11)
#define RTE_DELIVERY_STATUS (1ull << 12)
#define RTE_POLARITY_LOW (1ull << 13)
#define RTE_REMOTE_IRR (1ull << 14)
#define RTE_LEVEL (1ull << 15)
#define RTE_MASKED (1ull << 16)
#define RTE_DEST_SHIFT 56
#define RTE_WRITABLE (RTE_VECTOR | RTE_DM_MASK | RTE_DEST_LOGICAL | RTE_POLARITY_LOW | \
                      RTE_LEVEL | RTE_MASKED | (0xFFull << RTE_DEST_SHIFT))

struct IoApic {
    pthread_mutex_t lock;
    uint32_t id, regsel;
    uint64_t rte[IOAPIC_PINS];
    uint32_t input;               /* input pins as driven (electrical level) */
    void (*deliver)(void *opaque, const IoApicMessage *m);
    void *opaque;
};

typedef IoApicMessage Delivery;

/* Whether pin i is asserted: its input through the entry's polarity. */
static bool pin_active(const IoApic *io, int i)
{
    bool high = (io->input >> i) & 1;
    return (io->rte[i] & RTE_POLARITY_LOW) ? !high : high;
}

/* Whether pin i interrupts now; marks remote IRR for a level delivery. */
static bool service_pin(IoApic *io, int i, Delivery *d)
{
    uint64_t e = io->rte[i];
    if ((e & RTE_MASKED) || !pin_active(io, i))
        return false;
    unsigned dm = (unsigned)((e & RTE_DM_MASK) >> RTE_DM_SHIFT);
    if (dm != IOAPIC_DM_FIXED && dm != IOAPIC_DM_LOWEST && dm != IOAPIC_DM_NMI)
        return false;   /* see above */
    if ((e & RTE_LEVEL) && dm != IOAPIC_DM_NMI) {
        if (e & RTE_REMOTE_IRR)
            return false;
        io->rte[i] |= RTE_REMOTE_IRR;
    }
    *d = (Delivery){(int)(e & RTE_VECTOR), (e & RTE_LEVEL) != 0 && dm != IOAPIC_DM_NMI,
                    (uint8_t)(e >> RTE_DEST_SHIFT), (e & RTE_DEST_LOGICAL) != 0, dm};
    return true;
}

static void send(IoApic *io, const Delivery *d, int n)
{
    for (int i = 0; i < n; i++)
        if (io->deliver)
            io->deliver(io->opaque, &d[i]);
}

IoApic *ioapic_create(void (*deliver)(void *opaque, const IoApicMessage *m),
                      void *opaque)
{
    IoApic *io = calloc(1, sizeof(*io));
    if (!io)
        return NULL;
    pthread_mutex_init(&io->lock, NULL);
    for (int i = 0; i < IOAPIC_PINS; i++)
        io->rte[i] = RTE_MASKED;
    io->deliver = deliver;
    io->opaque = opaque;
    return io;
}

void ioapic_destroy(IoApic *io)
{
    if (!io)
        return;
    pthread_mutex_destroy(&io->lock);
    free(io);
}

void ioapic_set_irq(void *opaque, int pin, int level)
{
    IoApic *io = opaque;
    if (!io || pin < 0 || pin >= IOAPIC_PINS)
        return;
    pthread_mutex_lock(&io->lock);
    uint32_t bit = 1u << pin;
    bool was_active = pin_active(io, pin);
    if (level)
        io->input |= bit;
    else
        io->input &= ~bit;
    bool rising = pin_active(io, pin) && !was_active;
    Delivery d;
    bool fire = (rising || (io->rte[pin] & RTE_LEVEL)) && service_pin(io, pin, &d);
    pthread_mutex_unlock(&io->lock);
    if (fire)
        send(io, &d, 1);
}

void ioapic_eoi(IoApic *io, int vector)
{
    Delivery d[IOAPIC_PINS];
    int n = 0;
    pthread_mutex_lock(&io->lock);
    for (int i = 0; i < IOAPIC_PINS; i++) {
        if ((io->rte[i] & RTE_VECTOR) != (uint64_t)vector || !(io->rte[i] & RTE_REMOTE_IRR))
            continue;
        io->rte[i] &= ~RTE_REMOTE_IRR;
        if (service_pin(io, i, &d[n]))
            n++;
    }
    pthread_mutex_unlock(&io->lock);
    send(io, d, n);
}

static uint32_t read_reg(IoApic *io)
{
    uint32_t r = io->regsel;
    if (r == IOAPIC_REG_ID)
        return io->id;
    if (r == IOAPIC_REG_VERSION)
        return IOAPIC_VERSION_VALUE;
    if (r == IOAPIC_REG_ARB)
        return io->id;
    if (r >= IOAPIC_REG_REDTBL && r < IOAPIC_REG_REDTBL + 2 * IOAPIC_PINS) {
        uint64_t e = io->rte[(r - IOAPIC_REG_REDTBL) / 2];
        return (r & 1) ? (uint32_t)(e >> 32) : (uint32_t)e;
    }
    return 0xFFFFFFFF;
}

int ioapic_mmio_read(uint64_t addr, uint8_t size, uint64_t *value, void *opaque)
{
    IoApic *io = opaque;
    if (!io || !value)
        return -EINVAL;
    uint32_t off = (uint32_t)(addr - IOAPIC_BASE);
    pthread_mutex_lock(&io->lock);
    uint32_t v = off == IOREGSEL ? io->regsel : off == IOWIN ? read_reg(io) : 0;
    pthread_mutex_unlock(&io->lock);
    *value = size >= 4 ? v : v & ((1u << (8 * size)) - 1);
    return 0;
}

int ioapic_mmio_write(uint64_t addr, uint8_t size, uint64_t value, void *opaque)
{
    (void)size;
    IoApic *io = opaque;
    if (!io)
        return -EINVAL;
    uint32_t off = (uint32_t)(addr - IOAPIC_BASE), v = (uint32_t)value;
    Delivery d;
    bool fire = false;
    pthread_mutex_lock(&io->lock);
    if (off == IOREGSEL) {
        io->regsel = v & 0xFF;
    } else if (off == IOWIN) {
        uint32_t r = io->regsel;
        if (r == IOAPIC_REG_ID) {
            io->id = v & 0x0F000000u;
        } else if (r >= IOAPIC_REG_REDTBL && r < IOAPIC_REG_REDTBL + 2 * IOAPIC_PINS) {
            int pin = (int)(r - IOAPIC_REG_REDTBL) / 2;
            uint64_t e = io->rte[pin];
            if (r & 1)
                e = (e & 0xFFFFFFFFull) | ((uint64_t)v << 32);
            else
                e = (e & ~0xFFFFFFFFull) | v;
            io->rte[pin] = (e & RTE_WRITABLE) | (io->rte[pin] & RTE_REMOTE_IRR);
            /* Unmasking a level input that is high delivers it. */
            if (io->rte[pin] & RTE_LEVEL)
                fire = service_pin(io, pin, &d);
        }
    }
    pthread_mutex_unlock(&io->lock);
    if (fire)
        send(io, &d, 1);
    return 0;
}

uint64_t ioapic_redirection(IoApic *io, int pin)
{
    pthread_mutex_lock(&io->lock);
    uint64_t e = pin >= 0 && pin < IOAPIC_PINS ? io->rte[pin] : 0;
    pthread_mutex_unlock(&io->lock);
    return e;
}

void ioapic_print_entries(uint32_t id, const uint64_t rte[IOAPIC_PINS], uint32_t irr, FILE *out)
{
    static const char *const dm[8] = {"fixed", "lowpri", "smi", "res3", "nmi", "init",
                                      "res6", "extint"};
    fprintf(out, "ioapic0: ver=0x%x id=0x%02x sel=0x%02x (redir[%u])\n", 0x11u, id >> 24,
            0u, 0u);
    for (int i = 0; i < IOAPIC_PINS; i++) {
        uint64_t e = rte[i];
        fprintf(out, "  pin %-2u 0x%016llx dest=%llx vec=%-3llu %s %-5s %-6s %-6s %s\n", i,
                (unsigned long long)e, (unsigned long long)(e >> RTE_DEST_SHIFT),
                (unsigned long long)(e & RTE_VECTOR),
                e & RTE_POLARITY_LOW ? "active-lo" : "active-hi",
                e & RTE_LEVEL ? "level" : "edge", e & RTE_MASKED ? "masked" : "",
                dm[(e & RTE_DM_MASK) >> RTE_DM_SHIFT],
                e & RTE_DEST_LOGICAL ? "logical" : "physical");
    }
    fprintf(out, "  IRR %08x\n", irr);
}

void ioapic_print_info(IoApic *io, FILE *out)
{
    pthread_mutex_lock(&io->lock);
    uint64_t rte[IOAPIC_PINS];
    memcpy(rte, io->rte, sizeof(rte));
    uint32_t id = io->id, irr = 0;
    for (int i = 0; i < IOAPIC_PINS; i++)
        irr |= (uint32_t)pin_active(io, i) << i;
    pthread_mutex_unlock(&io->lock);
    ioapic_print_entries(id, rte, irr, out);
}
