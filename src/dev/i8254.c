/*
 * The 8254 programmable interval timer (Intel 8254 data sheet, order 231164) and port
 * 0x61 (system control port B of the PC/AT).
 *
 * Counters are computed, not ticked: each keeps the time its count was loaded (or its gate
 * triggered it), and its counting element and OUT at any moment follow from the ticks of
 * the 1.193182 MHz clock since then, per mode:
 *   0 interrupt on terminal count   OUT low until the count expires, then high
 *   1 hardware one-shot             OUT low from a gate trigger for N ticks
 *   2 rate generator                OUT low for one tick every N ticks
 *   3 square wave                   OUT high for ceil(N/2) ticks, low for floor(N/2)
 *   4 software strobe               OUT low for one tick N ticks after the count is written
 *   5 hardware strobe               the same, N ticks after a gate trigger
 * A low gate suspends counting in modes 0 and 4 and holds OUT high (and reloads on the
 * rising edge) in modes 2 and 3; a rising gate triggers modes 1 and 5. Counters 0 and 1
 * have their gates tied high, as on a PC; counter 2's gate is port 0x61 bit 0.
 * Reads: counter latch command, read-back command (count and/or status of several
 * counters), LSB/MSB/both access with the byte flip-flop, BCD counting.
 * Model choices: a new count takes effect at once in modes 2 and 3 (the chip waits for the
 * current period's end); mode 3's counting element is shown decrementing by two through
 * each half-period.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dev/dev_io.h"

#include "dev/i8254.h"

/* Control word (port 0x43) */
#define PIT_CW_SC_SHIFT 6
#define PIT_CW_READ_BACK 3
#define PIT_CW_RW_SHIFT 4
#define PIT_CW_RW_LATCH 0
#define PIT_CW_MODE_SHIFT 1
#define PIT_CW_BCD 0x01
/* Read-back command bits */
#define PIT_RB_NOT_COUNT 0x20
#define PIT_RB_NOT_STATUS 0x10
#define PIT_RB_CNT(n) (0x02u << (n))
/* Status byte */
#define PIT_ST_OUT 0x80
#define PIT_ST_NULL 0x40
/* Port 0x61 */
#define P61_GATE2 0x01
#define P61_SPEAKER 0x02
#define P61_RW_MASK 0x0F       /* bits 2-3: parity/channel check enables, kept */
#define P61_REFRESH 0x10
#define P61_OUT2 0x20
#define REFRESH_PERIOD_NS 15085   /* DRAM refresh request every 15.085 us (counter 1 = 18) */

typedef struct {
    PitChannelState s;
    uint64_t start_ns;        /* when the count was loaded or triggered */
    uint64_t paused_ticks;    /* modes 0/4 with the gate low: ticks counted before */
    bool paused;
    uint16_t latch;
    bool latched, latch_msb;  /* a latched count; with RW 3 the LSB was read */
    uint8_t status;
    bool status_latched;
    bool null_count;
    bool loaded;              /* a count was written since the mode was set */
    bool write_msb, read_msb; /* the byte flip-flop of RW 3 */
    uint8_t lsb_written;
    uint64_t edges;           /* counter 0: OUT rising edges already sent to IRQ0 */
} PitChannel;

struct Pit8254 {
    pthread_mutex_t lock;
    PitChannel ch[PIT_CHANNELS];
    uint8_t port61;
    IrqLine irq0;
    DevClock clock;
    void (*changed)(void *opaque);
    void *opaque;
};

static uint64_t ticks_since(const PitChannel *c, uint64_t now)
{
    if (c->paused)
        return c->paused_ticks;
    return now > c->start_ns ? dev_muldiv(now - c->start_ns, PIT_HZ, 1000000000ull) : 0;
}

/* The time of tick `t` after the start (rounded up to a whole ns). */
static uint64_t tick_time(const PitChannel *c, uint64_t t)
{
    return c->start_ns + (uint64_t)(((unsigned __int128)t * 1000000000ull + PIT_HZ - 1) / PIT_HZ);
}

static uint32_t modulus(const PitChannel *c) { return c->s.bcd ? 10000 : 65536; }

static uint16_t to_bcd(uint32_t v)
{
    return (uint16_t)((v % 10) | ((v / 10 % 10) << 4) | ((v / 100 % 10) << 8) |
                      ((v / 1000 % 10) << 12));
}

static uint32_t from_bcd(uint16_t v)
{
    return (v & 0xF) % 10 + ((v >> 4) & 0xF) % 10 * 10 + ((v >> 8) & 0xF) % 10 * 100 +
           ((v >> 12) & 0xF) % 10 * 1000;
}

/* The counting element and OUT at `now` (binary count; BCD is applied when read). */
static void channel_eval(const PitChannel *c, uint64_t now, uint32_t *count, bool *out)
{
    uint32_t n = c->s.reload, m = modulus(c);
    if (!c->s.armed) {
        *count = n % m;
        *out = c->s.mode != 0;
        return;
    }
    uint64_t t = ticks_since(c, now);
    switch (c->s.mode) {
    case 2:
        if (!c->s.gate) {
            *count = n % m;
            *out = true;
            return;
        }
        *count = (uint32_t)(n - t % n);
        *out = *count != 1;
        return;
    case 3: {
        if (!c->s.gate) {
            *count = n % m;
            *out = true;
            return;
        }
        uint64_t high = (n + 1) / 2, phase = t % n;
        *out = phase < high;
        uint64_t into = *out ? phase : phase - high;
        uint64_t c2 = n - 2 * into;
        *count = (uint32_t)(c2 >= 2 ? c2 : 2) & ~1u;
        return;
    }
    case 0:
    case 1:
        *count = (uint32_t)((n + m - t % m) % m);
        *out = t >= n;
        return;
    default:   /* 4, 5: strobe */
        *count = (uint32_t)((n + m - t % m) % m);
        *out = t != n;
        return;
    }
}

/* Counter 0's rising OUT edges in (start, start + t]. */
static uint64_t edges_until(const PitChannel *c, uint64_t t)
{
    uint32_t n = c->s.reload;
    if (!c->s.armed || c->paused)
        return 0;
    switch (c->s.mode) {
    case 0: case 1: return t >= n;
    case 2: case 3: return c->s.gate ? t / n : 0;
    default: return t >= (uint64_t)n + 1;
    }
}

/* The tick of edge number k (1-based), or UINT64_MAX when it never comes. */
static uint64_t edge_tick(const PitChannel *c, uint64_t k)
{
    uint32_t n = c->s.reload;
    if (!c->s.armed || c->paused)
        return UINT64_MAX;
    switch (c->s.mode) {
    case 0: case 1: return k == 1 ? n : UINT64_MAX;
    case 2: case 3: return c->s.gate ? k * n : UINT64_MAX;
    default: return k == 1 ? (uint64_t)n + 1 : UINT64_MAX;
    }
}

static void channel_start(PitChannel *c, uint64_t now)
{
    c->s.armed = true;
    c->paused = false;
    c->start_ns = now;
    c->edges = 0;
}

/* A gate level change (counter 2 only: port 0x61 bit 0). */
static void channel_set_gate(PitChannel *c, bool gate, uint64_t now)
{
    if (gate == c->s.gate)
        return;
    uint8_t mode = c->s.mode;
    c->s.gate = gate;
    if (mode == 0 || mode == 4) {
        if (!c->s.armed)
            return;
        if (!gate) {
            c->paused_ticks = ticks_since(c, now);
            c->paused = true;
        } else {
            uint64_t back = (uint64_t)(((unsigned __int128)c->paused_ticks * 1000000000ull) /
                                       PIT_HZ);
            c->paused = false;
            c->start_ns = now > back ? now - back : 0;
        }
    } else if (gate && c->loaded) {
        channel_start(c, now);   /* 1, 5: trigger; 2, 3: reload */
    }
}

/* A complete count written: 0 stands for the largest count. Modes 0, 2, 3 and 4 start
 * counting; 1 and 5 wait for a gate trigger. */
static void channel_load(PitChannel *c, uint16_t raw, uint64_t now)
{
    uint32_t n = c->s.bcd ? from_bcd(raw) : raw;
    c->s.reload = n ? n : modulus(c);
    if (c->s.mode == 2 || c->s.mode == 3) {
        if (c->s.reload == 1)
            c->s.reload = 2;   /* 1 is illegal in these modes; the chip misbehaves */
    }
    c->loaded = true;
    c->null_count = false;
    if (c->s.mode == 1 || c->s.mode == 5)
        c->s.armed = false;
    else
        channel_start(c, now);
    if (!c->s.gate && (c->s.mode == 0 || c->s.mode == 4)) {
        c->paused = true;
        c->paused_ticks = 0;
    }
}

static uint16_t channel_read_value(const PitChannel *c, uint64_t now)
{
    uint32_t count;
    bool out;
    channel_eval(c, now, &count, &out);
    return c->s.bcd ? to_bcd(count % 10000) : (uint16_t)count;
}

static uint8_t channel_status(const PitChannel *c, uint64_t now)
{
    uint32_t count;
    bool out;
    channel_eval(c, now, &count, &out);
    return (uint8_t)((out ? PIT_ST_OUT : 0) | (c->null_count ? PIT_ST_NULL : 0) |
                     (c->s.rw << PIT_CW_RW_SHIFT) | (c->s.mode << PIT_CW_MODE_SHIFT) |
                     (c->s.bcd ? PIT_CW_BCD : 0));
}

static void channel_latch(PitChannel *c, uint64_t now)
{
    if (c->latched)
        return;   /* a second latch before the first was read is ignored */
    c->latch = channel_read_value(c, now);
    c->latched = true;
    c->latch_msb = false;
}

/* Port 0x43: a mode, a counter latch or a read-back command. */
static void pit_control(Pit8254 *pit, uint8_t v, uint64_t now)
{
    unsigned sc = v >> PIT_CW_SC_SHIFT;
    if (sc == PIT_CW_READ_BACK) {
        for (int i = 0; i < PIT_CHANNELS; i++) {
            PitChannel *c = &pit->ch[i];
            if (!(v & PIT_RB_CNT(i)))
                continue;
            if (!(v & PIT_RB_NOT_COUNT))
                channel_latch(c, now);
            if (!(v & PIT_RB_NOT_STATUS) && !c->status_latched) {
                c->status = channel_status(c, now);
                c->status_latched = true;
            }
        }
        return;
    }
    PitChannel *c = &pit->ch[sc];
    unsigned rw = (v >> PIT_CW_RW_SHIFT) & 3;
    if (rw == PIT_CW_RW_LATCH) {
        channel_latch(c, now);
        return;
    }
    unsigned mode = (v >> PIT_CW_MODE_SHIFT) & 7;
    c->s.mode = (uint8_t)(mode > 5 ? mode - 4 : mode);   /* 110b, 111b are modes 2, 3 */
    c->s.rw = (uint8_t)rw;
    c->s.bcd = v & PIT_CW_BCD;
    c->s.armed = false;
    c->loaded = false;
    c->paused = false;
    c->null_count = true;
    c->write_msb = c->read_msb = false;
    c->latched = c->status_latched = false;
    c->edges = 0;
}

static void channel_write(PitChannel *c, uint8_t v, uint64_t now)
{
    switch (c->s.rw) {
    case 1:
        channel_load(c, v, now);
        break;
    case 2:
        channel_load(c, (uint16_t)(v << 8), now);
        break;
    default:
        if (!c->write_msb) {
            c->lsb_written = v;
            c->write_msb = true;
            if (c->s.mode == 0)
                c->s.armed = false;   /* mode 0: the first byte stops the count */
        } else {
            c->write_msb = false;
            channel_load(c, (uint16_t)(c->lsb_written | (v << 8)), now);
        }
        break;
    }
}

static uint8_t channel_read(PitChannel *c, uint64_t now)
{
    if (c->status_latched) {
        c->status_latched = false;
        return c->status;
    }
    uint16_t v = c->latched ? c->latch : channel_read_value(c, now);
    bool msb;
    switch (c->s.rw) {
    case 1: msb = false; break;
    case 2: msb = true; break;
    default:
        msb = c->latched ? c->latch_msb : c->read_msb;
        break;
    }
    if (c->latched) {
        if (c->s.rw == 3 && !c->latch_msb)
            c->latch_msb = true;
        else
            c->latched = false;
    } else if (c->s.rw == 3) {
        c->read_msb = !c->read_msb;
    }
    return msb ? (uint8_t)(v >> 8) : (uint8_t)v;
}

Pit8254 *pit_create(const IrqLine *irq0, const DevClock *clock,
                    void (*changed)(void *opaque), void *opaque)
{
    if (!clock)
        return NULL;
    Pit8254 *pit = calloc(1, sizeof(*pit));
    if (!pit)
        return NULL;
    pthread_mutex_init(&pit->lock, NULL);
    if (irq0)
        pit->irq0 = *irq0;
    pit->clock = *clock;
    pit->changed = changed;
    pit->opaque = opaque;
    for (int i = 0; i < PIT_CHANNELS; i++) {
        PitChannel *c = &pit->ch[i];
        c->s.rw = 3;
        c->s.reload = 65536;
        c->s.gate = i != 2;   /* counter 2's gate is port 0x61 bit 0, low at reset */
    }
    return pit;
}

void pit_destroy(Pit8254 *pit)
{
    if (!pit)
        return;
    pthread_mutex_destroy(&pit->lock);
    free(pit);
}

int pit_io_read(uint16_t port, uint8_t size, uint32_t *value, void *opaque)
{
    Pit8254 *pit = opaque;
    if (!pit || !value)
        return -EINVAL;
    unsigned i = port - PIT_BASE;
    uint8_t v = 0xFF;   /* the control register cannot be read */
    pthread_mutex_lock(&pit->lock);
    if (i < PIT_CHANNELS)
        v = channel_read(&pit->ch[i], dev_clock_now(&pit->clock));
    pthread_mutex_unlock(&pit->lock);
    *value = dev_byte_on_bus(v, size);
    return 0;
}

int pit_io_write(uint16_t port, uint8_t size, uint32_t value, void *opaque)
{
    (void)size;
    Pit8254 *pit = opaque;
    if (!pit)
        return -EINVAL;
    unsigned i = port - PIT_BASE;
    pthread_mutex_lock(&pit->lock);
    uint64_t now = dev_clock_now(&pit->clock);
    if (i < PIT_CHANNELS)
        channel_write(&pit->ch[i], (uint8_t)value, now);
    else if (i == 3)
        pit_control(pit, (uint8_t)value, now);
    pthread_mutex_unlock(&pit->lock);
    if (pit->changed)
        pit->changed(pit->opaque);
    return 0;
}

int pit_port61_read(uint16_t port, uint8_t size, uint32_t *value, void *opaque)
{
    (void)port;
    Pit8254 *pit = opaque;
    if (!pit || !value)
        return -EINVAL;
    pthread_mutex_lock(&pit->lock);
    uint64_t now = dev_clock_now(&pit->clock);
    uint32_t count;
    bool out2;
    channel_eval(&pit->ch[2], now, &count, &out2);
    uint8_t v = (pit->port61 & P61_RW_MASK) | ((now / REFRESH_PERIOD_NS) & 1 ? P61_REFRESH : 0) |
                (out2 ? P61_OUT2 : 0);
    pthread_mutex_unlock(&pit->lock);
    *value = dev_byte_on_bus(v, size);
    return 0;
}

int pit_port61_write(uint16_t port, uint8_t size, uint32_t value, void *opaque)
{
    (void)port;
    (void)size;
    Pit8254 *pit = opaque;
    if (!pit)
        return -EINVAL;
    pthread_mutex_lock(&pit->lock);
    pit->port61 = (uint8_t)value & P61_RW_MASK;
    channel_set_gate(&pit->ch[2], value & P61_GATE2, dev_clock_now(&pit->clock));
    pthread_mutex_unlock(&pit->lock);
    return 0;
}

uint64_t pit_advance(Pit8254 *pit, uint64_t now)
{
    pthread_mutex_lock(&pit->lock);
    PitChannel *c = &pit->ch[0];
    uint64_t edges = edges_until(c, ticks_since(c, now));
    bool pulse = edges > c->edges;
    if (pulse)
        c->edges = edges;
    uint64_t t = edge_tick(c, c->edges + 1);
    uint64_t next = t == UINT64_MAX ? DEV_NO_DEADLINE : tick_time(c, t);
    pthread_mutex_unlock(&pit->lock);
    if (pulse) {
        /* IRQ0 is edge-triggered: the rising edge is what the PIC latches. */
        irq_line_set(&pit->irq0, 1);
        irq_line_set(&pit->irq0, 0);
    }
    return next;
}

void pit_channel_state(Pit8254 *pit, int channel, PitChannelState *out)
{
    pthread_mutex_lock(&pit->lock);
    PitChannel *c = &pit->ch[channel % PIT_CHANNELS];
    *out = c->s;
    uint32_t count;
    channel_eval(c, dev_clock_now(&pit->clock), &count, &out->out);
    out->count = (uint16_t)count;
    pthread_mutex_unlock(&pit->lock);
}
