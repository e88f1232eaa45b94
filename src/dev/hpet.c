/*
 * The HPET (hpet.h). Register offsets and bits are the IA-PC HPET Specification 1.0a's
 * (2.3 "Register Descriptions"). Time: the main counter is counter_base plus the ticks of
 * the VM clock since base_ns while ENABLE_CNF is set. Each comparator keeps the VM-clock
 * time of its next match (next_ns), recomputed whenever the counter or the timer is
 * reprogrammed; hpet_advance fires what is due and moves periodic comparators on,
 * coalescing matches that were missed (as the 8254 here does).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "dev/hpet.h"

#define HPET_WINDOW 0x400u            /* the register window; its base is 1 KiB aligned */
#define REG_GCAP_ID 0x000
#define REG_GEN_CONF 0x010
#define REG_GINTR_STA 0x020
#define REG_MAIN_CNT 0x0F0
#define REG_TIMER0 0x100
#define TIMER_STRIDE 0x20
#define TIMER_CONF 0x00
#define TIMER_CMP 0x08
#define TIMER_FSB 0x10

#define GEN_ENABLE (1ull << 0)        /* ENABLE_CNF: the counter runs, interrupts allowed */
#define GEN_LEG_RT (1ull << 1)        /* LEG_RT_CNF */
#define TN_INT_TYPE (1ull << 1)       /* 1: level-triggered */
#define TN_INT_ENB (1ull << 2)
#define TN_TYPE_PERIODIC (1ull << 3)
#define TN_PER_INT_CAP (1ull << 4)
#define TN_SIZE_CAP (1ull << 5)       /* a 64-bit comparator */
#define TN_VAL_SET (1ull << 6)
#define TN_32MODE (1ull << 8)
#define TN_ROUTE_SHIFT 9
#define TN_ROUTE_MASK (0x1Full << TN_ROUTE_SHIFT)
#define TN_WRITABLE (TN_INT_TYPE | TN_INT_ENB | TN_TYPE_PERIODIC | TN_VAL_SET | TN_32MODE | \
                     TN_ROUTE_MASK)
#define NS_PER_S 1000000000ull
#define FS_PER_NS 1000000ull

typedef enum { LINE_NONE, LINE_ISA, LINE_GSI } LineKind;

typedef struct {
    uint64_t config;              /* the writable bits of Tn_CONF */
    uint64_t cmp, period;         /* comparator; the periodic increment */
    uint64_t next_ns;             /* VM time of the next match; DEV_NO_DEADLINE */
    LineKind asserted;            /* a level interrupt held on this line */
    int asserted_line;
} HpetTimer;

struct Hpet {
    pthread_mutex_t lock;
    DevClock clock;
    HpetWiring w;
    uint64_t config;              /* GEN_CONF */
    uint64_t isr;                 /* GINTR_STA */
    uint64_t counter_base, base_ns;
    HpetTimer t[HPET_TIMERS];
};

static uint64_t ns_to_ticks(uint64_t ns) { return dev_muldiv(ns, FS_PER_NS, HPET_PERIOD_FS); }

/* ns of `ticks`, or DEV_NO_DEADLINE when that is past the end of time. */
static uint64_t ticks_to_ns(uint64_t ticks)
{
    unsigned __int128 ns = (unsigned __int128)ticks * HPET_PERIOD_FS / FS_PER_NS;
    return ns >= DEV_NO_DEADLINE ? DEV_NO_DEADLINE : (uint64_t)ns;
}

static uint64_t counter_at(const Hpet *h, uint64_t now)
{
    if (!(h->config & GEN_ENABLE))
        return h->counter_base;
    return h->counter_base + ns_to_ticks(now > h->base_ns ? now - h->base_ns : 0);
}

static uint64_t width_mask(const HpetTimer *t)
{
    return t->config & TN_32MODE ? 0xFFFFFFFFull : UINT64_MAX;
}

static void route(const Hpet *h, int n, LineKind *kind, int *line)
{
    if ((h->config & GEN_LEG_RT) && n < 2) {   /* spec 2.3.9.2.1: timer 0 IRQ0, 1 IRQ8 */
        *kind = LINE_ISA;
        *line = n == 0 ? 0 : 8;
    } else {
        *kind = LINE_GSI;
        *line = (int)((h->t[n].config & TN_ROUTE_MASK) >> TN_ROUTE_SHIFT);
    }
}

static void set_line(const Hpet *h, LineKind kind, int line, int level)
{
    IrqSetFn fn = kind == LINE_ISA ? h->w.isa_irq : h->w.gsi_irq;
    if (fn)
        fn(h->w.opaque, line, level);
}

/* A level interrupt is held while its status bit and enables say so, on the current
 * route; anything else releases it. Lock held. */
static void sync_line(Hpet *h, int n)
{
    HpetTimer *t = &h->t[n];
    LineKind kind;
    int line;
    route(h, n, &kind, &line);
    bool want = (t->config & TN_INT_TYPE) && (t->config & TN_INT_ENB) &&
                (h->config & GEN_ENABLE) && (h->isr & (1ull << n));
    if (t->asserted != LINE_NONE && (!want || t->asserted != kind || t->asserted_line != line)) {
        set_line(h, t->asserted, t->asserted_line, 0);
        t->asserted = LINE_NONE;
    }
    if (want && t->asserted == LINE_NONE) {
        t->asserted = kind;
        t->asserted_line = line;
        set_line(h, kind, line, 1);
    }
}

/* The comparator matched: level mode sets Tn_INT_STS and holds the line (until the guest
 * clears the status), edge mode pulses it (spec 2.3.6, 2.3.9.2). Lock held. */
static void fire(Hpet *h, int n)
{
    HpetTimer *t = &h->t[n];
    if (t->config & TN_INT_TYPE) {
        h->isr |= 1ull << n;
        sync_line(h, n);
    } else if (t->config & TN_INT_ENB) {
        LineKind kind;
        int line;
        route(h, n, &kind, &line);
        set_line(h, kind, line, 1);
        set_line(h, kind, line, 0);
    }
}

/* When timer n next matches, from the counter and comparator now. Interrupts disabled (or
 * the counter halted): never, and a periodic comparator stays where it is. Lock held. */
static void arm(Hpet *h, int n, uint64_t now)
{
    HpetTimer *t = &h->t[n];
    t->next_ns = DEV_NO_DEADLINE;
    if (!(h->config & GEN_ENABLE) || !(t->config & TN_INT_ENB))
        return;
    uint64_t c = counter_at(h, now);
    uint64_t delta = (t->cmp - c) & width_mask(t);
    uint64_t ticks = ns_to_ticks(now > h->base_ns ? now - h->base_ns : 0);
    if (delta > UINT64_MAX - ticks)
        return;
    uint64_t at = ticks_to_ns(ticks + delta);
    if (at != DEV_NO_DEADLINE && at <= UINT64_MAX - h->base_ns)
        t->next_ns = h->base_ns + at;
}

static void arm_all(Hpet *h, uint64_t now)
{
    for (int n = 0; n < HPET_TIMERS; n++)
        arm(h, n, now);
}

Hpet *hpet_create(const DevClock *clock, const HpetWiring *wiring)
{
    if (!clock || !wiring)
        return NULL;
    Hpet *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    pthread_mutex_init(&h->lock, NULL);
    h->clock = *clock;
    h->w = *wiring;
    for (int n = 0; n < HPET_TIMERS; n++) {
        h->t[n].cmp = UINT64_MAX;      /* the reset value (spec 2.3.9.1) */
        h->t[n].period = UINT64_MAX;
        h->t[n].next_ns = DEV_NO_DEADLINE;
    }
    return h;
}

void hpet_destroy(Hpet *h)
{
    if (!h)
        return;
    pthread_mutex_destroy(&h->lock);
    free(h);
}

bool hpet_legacy_route(Hpet *h)
{
    pthread_mutex_lock(&h->lock);
    bool on = h->config & GEN_LEG_RT;
    pthread_mutex_unlock(&h->lock);
    return on;
}

/* The 64-bit register at `off` (8-byte aligned within the window). Lock held. */
static uint64_t read_reg(Hpet *h, unsigned off, uint64_t now)
{
    switch (off) {
    case REG_GCAP_ID:
        return HPET_PERIOD_FS << 32 | HPET_CAP_ID_LOW;
    case REG_GEN_CONF:
        return h->config;
    case REG_GINTR_STA:
        return h->isr;
    case REG_MAIN_CNT:
        return counter_at(h, now);
    default:
        break;
    }
    if (off < REG_TIMER0 || off >= REG_TIMER0 + HPET_TIMERS * TIMER_STRIDE)
        return 0;   /* reserved */
    const HpetTimer *t = &h->t[(off - REG_TIMER0) / TIMER_STRIDE];
    switch ((off - REG_TIMER0) % TIMER_STRIDE) {
    case TIMER_CONF:
        return (uint64_t)h->w.route_cap << 32 | TN_SIZE_CAP | TN_PER_INT_CAP |
               (t->config & ~TN_VAL_SET);   /* VAL_SET reads back 0 */
    case TIMER_CMP:
        return t->cmp & width_mask(t);
    default:
        return 0;   /* the FSB route: no FSB delivery */
    }
}

/* Writes the bytes of `mask` of the register at `off`. Lock held. Sets *legacy_changed. */
static void write_reg(Hpet *h, unsigned off, uint64_t data, uint64_t mask, uint64_t now,
                      bool *legacy_changed)
{
    uint64_t v = (read_reg(h, off, now) & ~mask) | (data & mask);
    switch (off) {
    case REG_GEN_CONF: {
        uint64_t old = h->config;
        if ((old ^ v) & GEN_ENABLE) {
            /* Halting keeps the count; starting counts on from it (spec 2.3.5). */
            h->counter_base = counter_at(h, now);
            h->base_ns = now;
        }
        h->config = v & (GEN_ENABLE | GEN_LEG_RT);
        if ((old ^ h->config) & GEN_LEG_RT)
            *legacy_changed = true;
        arm_all(h, now);
        break;
    }
    case REG_GINTR_STA:
        h->isr &= ~(data & mask);   /* write 1 to clear */
        break;
    case REG_MAIN_CNT:
        h->counter_base = v;
        h->base_ns = now;
        arm_all(h, now);
        break;
    default: {
        if (off < REG_TIMER0 || off >= REG_TIMER0 + HPET_TIMERS * TIMER_STRIDE)
            return;
        int n = (int)((off - REG_TIMER0) / TIMER_STRIDE);
        HpetTimer *t = &h->t[n];
        switch ((off - REG_TIMER0) % TIMER_STRIDE) {
        case TIMER_CONF: {
            uint64_t c = (v & TN_WRITABLE);
            unsigned r = (unsigned)((c & TN_ROUTE_MASK) >> TN_ROUTE_SHIFT);
            if (!(h->w.route_cap & (1u << r)))   /* a route it cannot take: kept */
                c = (c & ~TN_ROUTE_MASK) | (t->config & TN_ROUTE_MASK);
            t->config = c;
            if (c & TN_32MODE) {   /* 32-bit mode: the comparator's top half is gone */
                t->cmp &= 0xFFFFFFFFull;
                t->period &= 0xFFFFFFFFull;
            }
            break;
        }
        case TIMER_CMP: {
            uint64_t m = mask & width_mask(t);
            /* A periodic timer's writes set the increment; the comparator itself only
             * with Tn_VAL_SET_CNF (spec 2.3.9.2.2), or in one-shot mode. */
            if (!(t->config & TN_TYPE_PERIODIC) || (t->config & TN_VAL_SET))
                t->cmp = (t->cmp & ~m) | (data & m);
            t->period = (t->period & ~m) | (data & m);
            t->config &= ~TN_VAL_SET;
            break;
        }
        default:
            return;
        }
        arm(h, n, now);
    }
    }
}

int hpet_mmio_read(uint64_t addr, uint8_t size, uint64_t *value, void *opaque)
{
    Hpet *h = opaque;
    if (!h || !value || size == 0 || size > 8)
        return -EINVAL;
    pthread_mutex_lock(&h->lock);
    uint64_t now = dev_clock_now(&h->clock), v = 0;
    for (unsigned i = 0; i < size; i++) {
        unsigned off = (unsigned)(addr + i) & (HPET_WINDOW - 1);
        v |= (read_reg(h, off & ~7u, now) >> 8 * (off & 7) & 0xFF) << 8 * i;
    }
    pthread_mutex_unlock(&h->lock);
    *value = v;
    return 0;
}

int hpet_mmio_write(uint64_t addr, uint8_t size, uint64_t value, void *opaque)
{
    Hpet *h = opaque;
    if (!h || size == 0 || size > 8)
        return -EINVAL;
    pthread_mutex_lock(&h->lock);
    uint64_t now = dev_clock_now(&h->clock);
    bool legacy_changed = false;
    /* Byte lanes grouped by the 64-bit register they fall in (at most two). */
    unsigned i = 0;
    while (i < size) {
        unsigned off = (unsigned)(addr + i) & (HPET_WINDOW - 1), reg = off & ~7u;
        uint64_t data = 0, mask = 0;
        for (; i < size && (((unsigned)(addr + i) & (HPET_WINDOW - 1)) & ~7u) == reg; i++) {
            unsigned lane = ((unsigned)(addr + i) & 7) * 8;
            data |= (value >> 8 * i & 0xFF) << lane;
            mask |= 0xFFull << lane;
        }
        write_reg(h, reg, data, mask, now, &legacy_changed);
    }
    for (int n = 0; n < HPET_TIMERS; n++)
        sync_line(h, n);
    bool legacy = h->config & GEN_LEG_RT;
    pthread_mutex_unlock(&h->lock);
    if (legacy_changed && h->w.legacy)
        h->w.legacy(h->w.opaque, legacy);
    if (h->w.changed)
        h->w.changed(h->w.opaque);
    return 0;
}

uint64_t hpet_advance(Hpet *h, uint64_t now)
{
    pthread_mutex_lock(&h->lock);
    uint64_t next = DEV_NO_DEADLINE;
    for (int n = 0; n < HPET_TIMERS; n++) {
        HpetTimer *t = &h->t[n];
        if (t->next_ns != DEV_NO_DEADLINE && now >= t->next_ns) {
            uint64_t mask = width_mask(t), period = t->period & mask;
            uint64_t period_ns = ticks_to_ns(period);
            if ((t->config & TN_TYPE_PERIODIC) && period && period_ns &&
                period_ns != DEV_NO_DEADLINE) {
                uint64_t k = (now - t->next_ns) / period_ns + 1;   /* missed ones coalesce */
                t->cmp = (t->cmp + k * period) & mask;
                unsigned __int128 at = (unsigned __int128)t->next_ns + (unsigned __int128)k * period_ns;
                t->next_ns = at >= DEV_NO_DEADLINE ? DEV_NO_DEADLINE : (uint64_t)at;
            } else if (t->config & TN_32MODE) {
                /* A one-shot 32-bit comparator matches again when the count wraps. */
                uint64_t wrap = ticks_to_ns(1ull << 32);
                t->next_ns = t->next_ns <= DEV_NO_DEADLINE - wrap - 1 ? t->next_ns + wrap
                                                                       : DEV_NO_DEADLINE;
                while (t->next_ns != DEV_NO_DEADLINE && t->next_ns <= now)
                    t->next_ns = t->next_ns <= DEV_NO_DEADLINE - wrap - 1 ? t->next_ns + wrap
                                                                           : DEV_NO_DEADLINE;
            } else {
                t->next_ns = DEV_NO_DEADLINE;   /* 64 bits wrap after ~5800 years */
            }
            fire(h, n);
        }
        if (t->next_ns < next)
            next = t->next_ns;
    }
    pthread_mutex_unlock(&h->lock);
    return next;
}
