/*
 * ACPI PM1a event and control blocks, the PM timer and the SCI (acpi_pm.h). Registers by
 * byte: PM1_STS (+0, 16 bits, write 1 to clear), PM1_EN (+2), PM1_CNT (+4), a reserved
 * word (+6), PM_TMR (+8, read-only). An access of any width is split into bytes, so a
 * guest writing any size at any port of the block reaches a defined register (and bytes
 * past the block float, as unclaimed ISA ports do).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "dev/acpi_pm.h"

#define PM_STS 0
#define PM_EN 2
#define PM_CNT 4
#define PM_TMR 8
/* The status bits that raise the SCI with their enables (4.8.3.1). */
#define PM1_SCI_EVENTS (ACPI_PM1_TMR | ACPI_PM1_GBL | ACPI_PM1_PWRBTN | ACPI_PM1_SLPBTN | \
                        ACPI_PM1_RTC)
#define PM1_STS_W1C (PM1_SCI_EVENTS | ACPI_PM1_BM_STS | ACPI_PM1_WAK_STS)
/* PM1_CNT bits a guest can write and read back (SLP_EN is write-only, SCI_EN is set by
 * firmware's ACPI_ENABLE, which this machine does not have: it stays set). */
#define PM1_CNT_RW (ACPI_PM1_BM_RLD | ACPI_PM1_SLP_TYP_MASK)

struct AcpiPm {
    pthread_mutex_t lock;
    uint16_t base;
    uint16_t sts, en, cnt;
    unsigned timer_bits;          /* 24 or 32 */
    uint64_t tmr_msb_seen;        /* top-bit changes of the timer counted into TMR_STS */
    bool sci_level;
    IrqLine sci;
    DevClock clock;
    void (*sleep)(void *opaque, unsigned slp_typ);
    void (*changed)(void *opaque);
    void *opaque;
};

static uint64_t timer_ticks(const AcpiPm *pm, uint64_t now)
{
    (void)pm;   /* one rate for every instance; the width is applied by the callers */
    return dev_muldiv(now, ACPI_PM_TIMER_HZ, 1000000000ull);
}

/* How many times the timer's top bit has changed by `now`. */
static uint64_t msb_changes(const AcpiPm *pm, uint64_t now)
{
    return timer_ticks(pm, now) >> (pm->timer_bits - 1);
}

/* The SCI follows SCI_EN and the enabled status bits (a level, 4.7.2.5); lock held. */
static void update_sci(AcpiPm *pm)
{
    bool level = (pm->cnt & ACPI_PM1_SCI_EN) && (pm->sts & pm->en & PM1_SCI_EVENTS);
    if (level != pm->sci_level) {
        pm->sci_level = level;
        irq_line_set(&pm->sci, level);
    }
}

/* TMR_STS: set once the top bit changed since it was last cleared (4.8.3.3). */
static void update_tmr_sts(AcpiPm *pm, uint64_t now)
{
    if (msb_changes(pm, now) != pm->tmr_msb_seen)
        pm->sts |= ACPI_PM1_TMR;
}

AcpiPm *acpi_pm_create(uint16_t base, const IrqLine *sci, const DevClock *clock,
                       bool timer_32bit, void (*sleep)(void *opaque, unsigned slp_typ),
                       void (*changed)(void *opaque), void *opaque)
{
    if (!clock)
        return NULL;
    AcpiPm *pm = calloc(1, sizeof(*pm));
    if (!pm)
        return NULL;
    pthread_mutex_init(&pm->lock, NULL);
    pm->base = base;
    if (sci)
        pm->sci = *sci;
    pm->clock = *clock;
    pm->timer_bits = timer_32bit ? 32 : 24;
    pm->cnt = ACPI_PM1_SCI_EN;
    pm->sleep = sleep;
    pm->changed = changed;
    pm->opaque = opaque;
    pm->tmr_msb_seen = msb_changes(pm, dev_clock_now(&pm->clock));
    return pm;
}

void acpi_pm_destroy(AcpiPm *pm)
{
    if (!pm)
        return;
    pthread_mutex_destroy(&pm->lock);
    free(pm);
}

uint32_t acpi_pm_timer_at(AcpiPm *pm, uint64_t now)
{
    uint64_t mask = pm->timer_bits == 32 ? 0xFFFFFFFFull : 0xFFFFFFull;
    return (uint32_t)(timer_ticks(pm, now) & mask);
}

static uint8_t read_byte(AcpiPm *pm, unsigned off, uint64_t now)
{
    switch (off) {
    case PM_STS: case PM_STS + 1:
        update_tmr_sts(pm, now);
        return (uint8_t)(pm->sts >> 8 * (off - PM_STS));
    case PM_EN: case PM_EN + 1:
        return (uint8_t)(pm->en >> 8 * (off - PM_EN));
    case PM_CNT: case PM_CNT + 1:
        return (uint8_t)(pm->cnt >> 8 * (off - PM_CNT));
    case PM_TMR: case PM_TMR + 1: case PM_TMR + 2: case PM_TMR + 3:
        return (uint8_t)(acpi_pm_timer_at(pm, now) >> 8 * (off - PM_TMR));
    default:
        return off < ACPI_PM_LEN ? 0 : 0xFF;   /* reserved reads 0; past the block floats */
    }
}

int acpi_pm_io_read(uint16_t port, uint8_t size, uint32_t *value, void *opaque)
{
    AcpiPm *pm = opaque;
    if (!pm || !value || (size != 1 && size != 2 && size != 4))
        return -EINVAL;
    pthread_mutex_lock(&pm->lock);
    uint64_t now = dev_clock_now(&pm->clock);
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint32_t)read_byte(pm, (uint16_t)(port - pm->base) + i, now) << 8 * i;
    update_sci(pm);
    pthread_mutex_unlock(&pm->lock);
    *value = v;
    return 0;
}

int acpi_pm_io_write(uint16_t port, uint8_t size, uint32_t value, void *opaque)
{
    AcpiPm *pm = opaque;
    if (!pm || (size != 1 && size != 2 && size != 4))
        return -EINVAL;
    pthread_mutex_lock(&pm->lock);
    uint64_t now = dev_clock_now(&pm->clock);
    uint16_t old_en = pm->en;
    bool sleep = false;
    unsigned slp_typ = 0;
    for (unsigned i = 0; i < size; i++) {
        unsigned off = (uint16_t)(port - pm->base) + i, shift = 8 * (off & 1);
        uint16_t b = (uint16_t)((value >> 8 * i) & 0xFF) << shift;
        switch (off) {
        case PM_STS: case PM_STS + 1:
            update_tmr_sts(pm, now);
            if (b & ACPI_PM1_TMR)
                pm->tmr_msb_seen = msb_changes(pm, now);
            pm->sts &= (uint16_t)~(b & PM1_STS_W1C);
            break;
        case PM_EN: case PM_EN + 1:
            pm->en = (uint16_t)((pm->en & ~(0xFFu << shift)) | (b & PM1_SCI_EVENTS));
            break;
        case PM_CNT: case PM_CNT + 1:
            pm->cnt = (uint16_t)((pm->cnt & ~((0xFFu << shift) & PM1_CNT_RW)) | (b & PM1_CNT_RW));
            if (b & ACPI_PM1_SLP_EN) {   /* 4.8.3.2.1: SLP_EN enters the SLP_TYP state */
                sleep = true;
                slp_typ = (pm->cnt & ACPI_PM1_SLP_TYP_MASK) >> ACPI_PM1_SLP_TYP_SHIFT;
            }
            break;
        default:
            break;   /* the timer is read-only; reserved and past-the-end bytes drop */
        }
    }
    update_sci(pm);
    bool tmr_en_changed = (old_en ^ pm->en) & ACPI_PM1_TMR;
    pthread_mutex_unlock(&pm->lock);
    if (tmr_en_changed && pm->changed)
        pm->changed(pm->opaque);
    if (sleep && pm->sleep)
        pm->sleep(pm->opaque, slp_typ);
    return 0;
}

void acpi_pm_power_button(AcpiPm *pm)
{
    if (!pm)
        return;
    pthread_mutex_lock(&pm->lock);
    pm->sts |= ACPI_PM1_PWRBTN;
    update_sci(pm);
    pthread_mutex_unlock(&pm->lock);
}

uint64_t acpi_pm_advance(AcpiPm *pm, uint64_t now)
{
    pthread_mutex_lock(&pm->lock);
    update_tmr_sts(pm, now);
    update_sci(pm);
    uint64_t next = DEV_NO_DEADLINE;
    if (pm->en & ACPI_PM1_TMR) {
        /* The first ns at which the tick count reaches the next top-bit change. */
        uint64_t tick = (msb_changes(pm, now) + 1) << (pm->timer_bits - 1);
        next = (uint64_t)(((unsigned __int128)tick * 1000000000ull + ACPI_PM_TIMER_HZ - 1) /
                          ACPI_PM_TIMER_HZ);
    }
    pthread_mutex_unlock(&pm->lock);
    return next;
}
