/*
 * The MC146818 RTC (Motorola MC146818A data sheet) with the PC's CMOS layout.
 *
 * Time is computed, not ticked: the wall clock is `epoch` plus the VM clock, so a guest
 * reads the host's time (host clock) or a fixed, reproducible one (virtual clock). Writes
 * to the time registers while SET (register B bit 7) is on take effect when SET goes off,
 * as a new offset. Register A: UIP (bit 7) is 1 during the last 244 us before each second
 * update, the rate (bits 3:0) sets the periodic interrupt (2^(rate-1) / 32768 s; rates 1
 * and 2 are 3.90625 and 7.8125 ms as on the chip). Register B: PIE, AIE, UIE enable IRQ8;
 * DM (bit 2) binary or BCD; 24/12 (bit 1); the flags in register C (read clears them and
 * lowers IRQ8); register D's VRT is always 1 (the battery is fine). Model choices: the
 * divider bits of register A are stored but the time base is always 32.768 kHz, and
 * daylight saving (DSE) is stored without effect. PC CMOS bytes: 0x10 floppy types (none
 * until rtc_set_floppy_types), 0x14 equipment (VGA, no FPU, the diskettes), 0x15-0x16
 * base memory (640 KiB), 0x17-0x18 and 0x30-0x31 extended memory in KiB (to 65535),
 * 0x34-0x35 memory above 16 MiB in 64 KiB blocks, 0x32 the century (BCD).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dev/dev_io.h"
#include <time.h>

#include "dev/mc146818.h"

#define RTC_SECONDS 0x00
#define RTC_SECONDS_ALARM 0x01
#define RTC_MINUTES 0x02
#define RTC_MINUTES_ALARM 0x03
#define RTC_HOURS 0x04
#define RTC_HOURS_ALARM 0x05
#define RTC_DAY_OF_WEEK 0x06
#define RTC_DAY_OF_MONTH 0x07
#define RTC_MONTH 0x08
#define RTC_YEAR 0x09
#define RTC_REG_A 0x0A
#define RTC_REG_B 0x0B
#define RTC_REG_C 0x0C
#define RTC_REG_D 0x0D
#define CMOS_BASE_MEM_LO 0x15
#define CMOS_EXT_MEM_LO 0x17
#define CMOS_EXT_MEM2_LO 0x30
#define CMOS_CENTURY 0x32
#define CMOS_HIGH_MEM_LO 0x34
#define CMOS_EQUIPMENT 0x14
#define CMOS_FLOPPY_TYPES 0x10

#define REG_A_UIP 0x80
#define REG_A_RATE 0x0F
#define REG_B_SET 0x80
#define REG_B_PIE 0x40
#define REG_B_AIE 0x20
#define REG_B_UIE 0x10
#define REG_B_DM_BINARY 0x04
#define REG_B_24H 0x02
#define REG_C_IRQF 0x80
#define REG_C_PF 0x40
#define REG_C_AF 0x20
#define REG_C_UF 0x10
#define REG_D_VRT 0x80
#define NMI_DISABLE 0x80
#define ALARM_DONT_CARE 0xC0     /* alarm bytes 11xxxxxx match every value */
#define UIP_NS 244000ull
#define NS 1000000000ull

struct Rtc146818 {
    pthread_mutex_t lock;
    uint8_t cmos[CMOS_SIZE];
    uint8_t index;
    bool nmi_disabled;
    int64_t epoch;                /* wall seconds at VM clock 0 */
    uint64_t periodic_start, periodic_seen;
    uint64_t seconds_seen;        /* second updates already accounted for */
    IrqLine irq;
    bool irq_level;
    DevClock clock;
    void (*changed)(void *opaque);
    void *opaque;
};

static uint8_t to_bcd(unsigned v) { return (uint8_t)((v / 10) << 4 | (v % 10)); }
static unsigned from_bcd(uint8_t v) { return (v >> 4) * 10 + (v & 0xF); }

static uint8_t encode(const Rtc146818 *r, unsigned v)
{
    return (r->cmos[RTC_REG_B] & REG_B_DM_BINARY) ? (uint8_t)v : to_bcd(v);
}

static unsigned decode(const Rtc146818 *r, uint8_t v)
{
    return (r->cmos[RTC_REG_B] & REG_B_DM_BINARY) ? v : from_bcd(v);
}

static uint8_t encode_hour(const Rtc146818 *r, unsigned h)
{
    if (r->cmos[RTC_REG_B] & REG_B_24H)
        return encode(r, h);
    unsigned h12 = h % 12 ? h % 12 : 12;
    return (uint8_t)(encode(r, h12) | (h >= 12 ? 0x80 : 0));
}

static unsigned decode_hour(const Rtc146818 *r, uint8_t v)
{
    if (r->cmos[RTC_REG_B] & REG_B_24H)
        return decode(r, v);
    unsigned h = decode(r, v & 0x7F) % 12;
    return (v & 0x80) ? h + 12 : h;
}

static int64_t wall_seconds(const Rtc146818 *r, uint64_t now)
{
    return r->epoch + (int64_t)(now / NS);
}

/* The time registers from the wall clock (unless SET freezes them). */
static void refresh_time(Rtc146818 *r, uint64_t now)
{
    if (r->cmos[RTC_REG_B] & REG_B_SET)
        return;
    time_t t = (time_t)wall_seconds(r, now);
    struct tm tm;
    gmtime_r(&t, &tm);
    r->cmos[RTC_SECONDS] = encode(r, (unsigned)tm.tm_sec);
    r->cmos[RTC_MINUTES] = encode(r, (unsigned)tm.tm_min);
    r->cmos[RTC_HOURS] = encode_hour(r, (unsigned)tm.tm_hour);
    r->cmos[RTC_DAY_OF_WEEK] = encode(r, (unsigned)tm.tm_wday + 1);
    r->cmos[RTC_DAY_OF_MONTH] = encode(r, (unsigned)tm.tm_mday);
    r->cmos[RTC_MONTH] = encode(r, (unsigned)tm.tm_mon + 1);
    r->cmos[RTC_YEAR] = encode(r, (unsigned)tm.tm_year % 100);
    r->cmos[CMOS_CENTURY] = to_bcd((unsigned)(tm.tm_year + 1900) / 100);
}

/* SET went off: the registers the guest wrote become the time. */
static void adopt_time(Rtc146818 *r, uint64_t now)
{
    struct tm tm = {
        .tm_sec = (int)decode(r, r->cmos[RTC_SECONDS]),
        .tm_min = (int)decode(r, r->cmos[RTC_MINUTES]),
        .tm_hour = (int)decode_hour(r, r->cmos[RTC_HOURS]),
        .tm_mday = (int)decode(r, r->cmos[RTC_DAY_OF_MONTH]),
        .tm_mon = (int)decode(r, r->cmos[RTC_MONTH]) - 1,
        .tm_year = (int)(from_bcd(r->cmos[CMOS_CENTURY]) * 100 +
                         decode(r, r->cmos[RTC_YEAR])) - 1900,
    };
    time_t t = timegm(&tm);
    if (t != (time_t)-1)
        r->epoch = (int64_t)t - (int64_t)(now / NS);
    r->seconds_seen = now / NS;
}

/* The periodic interrupt's period in ns, or 0 when the rate is 0 (off). */
static uint64_t periodic_ns(const Rtc146818 *r)
{
    unsigned rate = r->cmos[RTC_REG_A] & REG_A_RATE;
    if (rate == 0)
        return 0;
    if (rate <= 2)
        rate += 7;   /* 1, 2 behave as 8, 9 */
    return (NS << (rate - 1)) / 32768;
}

static void update_irq(Rtc146818 *r)
{
    uint8_t c = r->cmos[RTC_REG_C] & (REG_C_PF | REG_C_AF | REG_C_UF);
    uint8_t en = r->cmos[RTC_REG_B] & (REG_B_PIE | REG_B_AIE | REG_B_UIE);
    if (c & en)   /* the flag bits line up with their enable bits, shifted by 2 */
        r->cmos[RTC_REG_C] |= REG_C_IRQF;
    bool level = (c & en) != 0;
    if (level != r->irq_level) {
        r->irq_level = level;
        irq_line_set(&r->irq, level);
    }
}

static bool alarm_matches(const Rtc146818 *r)
{
    static const uint8_t pairs[3][2] = {{RTC_SECONDS_ALARM, RTC_SECONDS},
                                        {RTC_MINUTES_ALARM, RTC_MINUTES},
                                        {RTC_HOURS_ALARM, RTC_HOURS}};
    for (int i = 0; i < 3; i++) {
        uint8_t a = r->cmos[pairs[i][0]];
        if ((a & ALARM_DONT_CARE) != ALARM_DONT_CARE && a != r->cmos[pairs[i][1]])
            return false;
    }
    return true;
}

/* Flags for the events up to now (lock held). */
static void run_events(Rtc146818 *r, uint64_t now)
{
    uint64_t period = periodic_ns(r);
    if (period) {
        uint64_t n = (now - r->periodic_start) / period;
        if (n > r->periodic_seen) {
            r->periodic_seen = n;
            r->cmos[RTC_REG_C] |= REG_C_PF;
        }
    }
    uint64_t secs = now / NS;
    if (secs > r->seconds_seen && !(r->cmos[RTC_REG_B] & REG_B_SET)) {
        r->seconds_seen = secs;
        refresh_time(r, now);
        r->cmos[RTC_REG_C] |= REG_C_UF;
        if (alarm_matches(r))
            r->cmos[RTC_REG_C] |= REG_C_AF;
    }
    update_irq(r);
}

static void fill_cmos(Rtc146818 *r, uint64_t ram)
{
    uint64_t kib = ram / 1024;
    uint64_t ext = kib > 1024 ? kib - 1024 : 0;
    if (ext > 0xFFFF)
        ext = 0xFFFF;
    uint64_t high = ram > (16ull << 20) ? (ram - (16ull << 20)) / 65536 : 0;
    if (high > 0xFFFF)
        high = 0xFFFF;
    r->cmos[CMOS_EQUIPMENT] = 0x04;   /* bits 5:4 = 00: EGA/VGA; no diskettes, no FPU */
    r->cmos[CMOS_BASE_MEM_LO] = 640 & 0xFF;
    r->cmos[CMOS_BASE_MEM_LO + 1] = 640 >> 8;
    r->cmos[CMOS_EXT_MEM_LO] = r->cmos[CMOS_EXT_MEM2_LO] = (uint8_t)ext;
    r->cmos[CMOS_EXT_MEM_LO + 1] = r->cmos[CMOS_EXT_MEM2_LO + 1] = (uint8_t)(ext >> 8);
    r->cmos[CMOS_HIGH_MEM_LO] = (uint8_t)high;
    r->cmos[CMOS_HIGH_MEM_LO + 1] = (uint8_t)(high >> 8);
}

Rtc146818 *rtc_create(const IrqLine *irq8, const DevClock *clock, int64_t epoch,
                      uint64_t ram_bytes, void (*changed)(void *opaque), void *opaque)
{
    if (!clock)
        return NULL;
    Rtc146818 *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    pthread_mutex_init(&r->lock, NULL);
    if (irq8)
        r->irq = *irq8;
    r->clock = *clock;
    r->changed = changed;
    r->opaque = opaque;
    r->epoch = epoch;
    r->cmos[RTC_REG_A] = 0x26;              /* 32.768 kHz time base, 1024 Hz rate */
    r->cmos[RTC_REG_B] = REG_B_24H;         /* BCD, 24 h, no interrupts */
    r->cmos[RTC_REG_D] = REG_D_VRT;
    fill_cmos(r, ram_bytes);
    uint64_t now = dev_clock_now(clock);
    r->seconds_seen = now / NS;
    r->periodic_start = now;
    refresh_time(r, now);
    return r;
}

void rtc_destroy(Rtc146818 *r)
{
    if (!r)
        return;
    pthread_mutex_destroy(&r->lock);
    free(r);
}

void rtc_set_epoch(Rtc146818 *r, int64_t epoch)
{
    pthread_mutex_lock(&r->lock);
    r->epoch = epoch;
    uint64_t now = dev_clock_now(&r->clock);
    r->seconds_seen = now / NS;
    r->periodic_start = now;
    r->periodic_seen = 0;
    refresh_time(r, now);
    pthread_mutex_unlock(&r->lock);
}

static uint8_t read_data(Rtc146818 *r, uint64_t now)
{
    unsigned i = r->index;
    run_events(r, now);
    if (i <= RTC_YEAR || i == CMOS_CENTURY)
        refresh_time(r, now);
    uint8_t v = r->cmos[i];
    switch (i) {
    case RTC_REG_A:
        v = (uint8_t)((v & ~REG_A_UIP) |
                      (now % NS >= NS - UIP_NS && !(r->cmos[RTC_REG_B] & REG_B_SET)
                           ? REG_A_UIP : 0));
        break;
    case RTC_REG_C:
        r->cmos[RTC_REG_C] = 0;   /* read clears the flags and IRQ8 */
        update_irq(r);
        break;
    case RTC_REG_D:
        v = REG_D_VRT;
        break;
    default:
        break;
    }
    return v;
}

/* True when the interrupt timing changed. */
static bool write_data(Rtc146818 *r, uint8_t v, uint64_t now)
{
    unsigned i = r->index;
    switch (i) {
    case RTC_REG_A:
        r->cmos[i] = v & ~REG_A_UIP;
        r->periodic_start = now;
        r->periodic_seen = 0;
        return true;
    case RTC_REG_B: {
        bool was_set = r->cmos[i] & REG_B_SET;
        if (!was_set && (v & REG_B_SET))
            refresh_time(r, now);   /* freeze what the guest then edits */
        r->cmos[i] = v;
        if (was_set && !(v & REG_B_SET))
            adopt_time(r, now);
        update_irq(r);
        return true;
    }
    case RTC_REG_C:
    case RTC_REG_D:
        return false;   /* read-only */
    default:
        r->cmos[i] = v;
        return false;
    }
}

int rtc_io_read(uint16_t port, uint8_t size, uint32_t *value, void *opaque)
{
    Rtc146818 *r = opaque;
    if (!r || !value)
        return -EINVAL;
    pthread_mutex_lock(&r->lock);
    /* The index register reads back as 0xFF on PCs; the data port gives the byte. */
    uint8_t v = port == RTC_BASE ? 0xFF : read_data(r, dev_clock_now(&r->clock));
    pthread_mutex_unlock(&r->lock);
    *value = dev_byte_on_bus(v, size);
    return 0;
}

int rtc_io_write(uint16_t port, uint8_t size, uint32_t value, void *opaque)
{
    (void)size;
    Rtc146818 *r = opaque;
    if (!r)
        return -EINVAL;
    bool changed = false;
    pthread_mutex_lock(&r->lock);
    if (port == RTC_BASE) {
        r->index = (uint8_t)value & (CMOS_SIZE - 1);
        r->nmi_disabled = value & NMI_DISABLE;
    } else {
        changed = write_data(r, (uint8_t)value, dev_clock_now(&r->clock));
    }
    pthread_mutex_unlock(&r->lock);
    if (changed && r->changed)
        r->changed(r->opaque);
    return 0;
}

uint64_t rtc_advance(Rtc146818 *r, uint64_t now)
{
    pthread_mutex_lock(&r->lock);
    run_events(r, now);
    uint64_t next = DEV_NO_DEADLINE;
    uint8_t b = r->cmos[RTC_REG_B];
    uint64_t period = periodic_ns(r);
    if ((b & REG_B_PIE) && period)
        next = r->periodic_start + (r->periodic_seen + 1) * period;
    if ((b & (REG_B_UIE | REG_B_AIE)) && !(b & REG_B_SET)) {
        uint64_t sec = (now / NS + 1) * NS;
        if (sec < next)
            next = sec;
    }
    pthread_mutex_unlock(&r->lock);
    return next;
}

bool rtc_nmi_disabled(Rtc146818 *r)
{
    pthread_mutex_lock(&r->lock);
    bool d = r->nmi_disabled;
    pthread_mutex_unlock(&r->lock);
    return d;
}

void rtc_set_floppy_types(Rtc146818 *r, uint8_t types)
{
    unsigned drives = (types >> 4 ? 1u : 0) + (types & 0xF ? 1u : 0);
    pthread_mutex_lock(&r->lock);
    r->cmos[CMOS_FLOPPY_TYPES] = types;
    /* Equipment byte: bit 0 diskettes installed, bits 7:6 their count - 1. */
    r->cmos[CMOS_EQUIPMENT] = (uint8_t)((r->cmos[CMOS_EQUIPMENT] & 0x3E) |
                                        (drives ? 1u | (drives - 1) << 6 : 0));
    pthread_mutex_unlock(&r->lock);
}

uint8_t rtc_cmos_byte(Rtc146818 *r, unsigned index)
{
    pthread_mutex_lock(&r->lock);
    uint8_t v = r->cmos[index % CMOS_SIZE];
    pthread_mutex_unlock(&r->lock);
    return v;
}
