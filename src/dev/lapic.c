/*
 * The local APIC, xAPIC mode (Intel SDM Vol. 3A, chapter 11 "Advanced Programmable
 * Interrupt Controller (APIC)"; register map Table 11-1).
 *
 * The registers are 32 bits wide on 16-byte boundaries of the 4 KiB page; an access of
 * another size or alignment reads 0 and is ignored on write (the SDM leaves it undefined).
 * Interrupts: a fixed interrupt sets its IRR bit (and TMR for level); the highest IRR
 * vector whose priority class is above the PPR is delivered; acknowledging moves it to
 * ISR; EOI clears the highest ISR bit and, for a level vector, broadcasts the EOI (to the
 * IOAPIC). The timer counts down at LAPIC_BUS_HZ / divide from the initial count, computed
 * from the clock, not ticked. ICR: fixed-mode IPIs to this APIC (shorthand self, all
 * including self, or physical/logical destinations that match it) set IRR; with an IPI
 * hook (several vCPUs) every send goes to the platform, which routes it. TSC-deadline mode (SDM Vol. 3A, 11.5.4.1): the
 * platform turns the guest's IA32_TSC_DEADLINE into a time on the VM clock
 * (lapic_set_tsc_deadline); in that mode the initial count is ignored, and changing into
 * or out of it disarms the timer. Model choices: the error LVT fires for illegal vectors
 * only, and the base is fixed at 0xFEE00000.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dev/lapic.h"

/* Register offsets (SDM Vol. 3A, Table 11-1) */
#define APIC_ID      0x020
#define APIC_VERSION 0x030
#define APIC_TPR     0x080
#define APIC_APR     0x090
#define APIC_PPR     0x0A0
#define APIC_EOI     0x0B0
#define APIC_LDR     0x0D0
#define APIC_DFR     0x0E0
#define APIC_SVR     0x0F0
#define APIC_ISR     0x100
#define APIC_TMR     0x180
#define APIC_IRR     0x200
#define APIC_ESR     0x280
#define APIC_ICR_LO  0x300
#define APIC_ICR_HI  0x310
#define APIC_LVT_TIMER   0x320
#define APIC_LVT_THERMAL 0x330
#define APIC_LVT_PERF    0x340
#define APIC_LVT_LINT0   0x350
#define APIC_LVT_LINT1   0x360
#define APIC_LVT_ERROR   0x370
#define APIC_TIMER_ICR   0x380
#define APIC_TIMER_CCR   0x390
#define APIC_TIMER_DCR   0x3E0

/* Version register: version 14h (integrated xAPIC), max LVT entry 5 (six entries). */
#define APIC_VERSION_VALUE ((5u << 16) | 0x14u)
/* SVR */
#define SVR_ENABLE 0x100
#define SVR_FOCUS_OFF 0x200
/* LVT bits (SDM Vol. 3A, Figure 11-8) */
#define LVT_VECTOR 0xFFu
#define LVT_DM_SHIFT 8
#define LVT_DM_MASK (7u << LVT_DM_SHIFT)
#define LVT_DM_FIXED 0
#define LVT_DM_NMI 4
#define LVT_DM_EXTINT 7
#define LVT_PENDING (1u << 12)
#define LVT_POLARITY (1u << 13)
#define LVT_REMOTE_IRR (1u << 14)
#define LVT_LEVEL (1u << 15)
#define LVT_MASKED (1u << 16)
#define LVT_TIMER_PERIODIC (1u << 17)
#define LVT_TIMER_TSC_DEADLINE (1u << 18)
#define LVT_TIMER_MODE (LVT_TIMER_PERIODIC | LVT_TIMER_TSC_DEADLINE)
/* ICR (SDM Vol. 3A, Figure 11-12) */
#define ICR_DEST_LOGICAL (1u << 11)
#define ICR_LEVEL_ASSERT (1u << 14)
#define ICR_TRIGGER_LEVEL (1u << 15)
#define ICR_SHORTHAND_SHIFT 18
#define ICR_WRITABLE 0x000CCFFFu
/* ESR bits */
#define ESR_SEND_ILLEGAL_VECTOR (1u << 5)
#define ESR_RECV_ILLEGAL_VECTOR (1u << 6)
#define ESR_ILLEGAL_REGISTER (1u << 7)

enum { LVT_TIMER, LVT_THERMAL, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR, LVT_COUNT };

struct Lapic {
    pthread_mutex_t lock;
    uint32_t id, tpr, ldr, dfr, svr, esr, esr_pending, icr_lo, icr_hi;
    uint32_t lvt[LVT_COUNT];
    uint32_t isr[8], tmr[8], irr[8];
    uint32_t initial_count, dcr;
    uint64_t timer_start;         /* when the count was loaded (or the period began) */
    bool timer_running;
    uint64_t tsc_deadline;        /* IA32_TSC_DEADLINE; 0: disarmed */
    uint64_t tsc_deadline_ns;     /* when it falls due on the VM clock */
    bool global_enable;
    bool nmi_pending;             /* an NMI IPI to self, not yet taken by the platform */
    bool bsp;                     /* the boot processor: firmware left it in virtual wire mode */
    DevClock clock;
    /* lapic_set_ipi_hook: every ICR send goes there (the platform routes it). */
    void (*ipi)(void *opaque, uint32_t icr_lo, uint32_t icr_hi);
    void (*notify)(void *opaque);
    void (*eoi)(void *opaque, int vector);
    void (*changed)(void *opaque);
    void *opaque;
};

static bool get_bit(const uint32_t *tab, int v) { return (tab[v >> 5] >> (v & 31)) & 1; }
static void set_bit(uint32_t *tab, int v) { tab[v >> 5] |= 1u << (v & 31); }
static void clear_bit(uint32_t *tab, int v) { tab[v >> 5] &= ~(1u << (v & 31)); }

static int highest_bit(const uint32_t *tab)
{
    for (int i = 7; i >= 0; i--)
        if (tab[i])
            return i * 32 + 31 - __builtin_clz(tab[i]);
    return -1;
}

/* PPR (SDM Vol. 3A, 11.8.3.1): TPR when its class is at least the highest in service. */
static uint32_t ppr(const Lapic *a)
{
    int isrv = highest_bit(a->isr);
    uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xF0;
    return (a->tpr & 0xF0) >= isr_class ? a->tpr & 0xFF : isr_class;
}

static bool tsc_deadline_mode(const Lapic *a)
{
    return (a->lvt[LVT_TIMER] & LVT_TIMER_MODE) == LVT_TIMER_TSC_DEADLINE;
}

static bool sw_enabled(const Lapic *a) { return a->global_enable && (a->svr & SVR_ENABLE); }

static int pending_locked(const Lapic *a)
{
    if (!sw_enabled(a))
        return -1;
    int v = highest_bit(a->irr);
    return v >= 0 && ((uint32_t)v & 0xF0) > (ppr(a) & 0xF0) ? v : -1;
}

/* The divider from DCR bits 0, 1 and 3 (SDM Vol. 3A, Figure 11-10): 2^(n+1), 111b = 1. */
static unsigned divide_shift(uint32_t dcr)
{
    unsigned n = (dcr & 3) | ((dcr >> 1) & 4);
    return (n + 1) & 7;
}

static uint64_t timer_period_ns(const Lapic *a)
{
    return dev_muldiv((uint64_t)a->initial_count << divide_shift(a->dcr), 1000000000ull,
                      LAPIC_BUS_HZ);
}

static uint32_t current_count(const Lapic *a, uint64_t now)
{
    if (!a->timer_running || a->initial_count == 0)
        return 0;
    uint64_t period = timer_period_ns(a);
    uint64_t elapsed = now > a->timer_start ? now - a->timer_start : 0;
    if (elapsed >= period) {
        if (!(a->lvt[LVT_TIMER] & LVT_TIMER_PERIODIC))
            return 0;
        elapsed %= period;
    }
    uint64_t ticks = dev_muldiv(elapsed, LAPIC_BUS_HZ, 1000000000ull) >> divide_shift(a->dcr);
    return (uint32_t)(a->initial_count - ticks);
}

/* Accepts a fixed interrupt; vectors 0-15 are illegal (SDM Vol. 3A, 11.5.3). Returns true
 * when it became deliverable. */
static bool accept_locked(Lapic *a, int vector, bool level)
{
    if (vector < 16) {
        a->esr_pending |= ESR_RECV_ILLEGAL_VECTOR;
        return false;
    }
    int before = pending_locked(a);
    set_bit(a->irr, vector);
    if (level)
        set_bit(a->tmr, vector);
    else
        clear_bit(a->tmr, vector);
    return pending_locked(a) != before;
}

static void unlock_notify(Lapic *a, bool notify)
{
    pthread_mutex_unlock(&a->lock);
    if (notify && a->notify)
        a->notify(a->opaque);
}

static void reset(Lapic *a, uint8_t id)
{
    a->id = (uint32_t)id << 24;
    a->tpr = a->ldr = a->esr = a->esr_pending = a->icr_lo = a->icr_hi = 0;
    a->dfr = 0xFFFFFFFF;
    a->svr = 0xFF;
    for (int i = 0; i < LVT_COUNT; i++)
        a->lvt[i] = LVT_MASKED;
    /* What PC firmware leaves on the BSP (virtual wire mode): LINT0 ExtINT for the 8259A,
     * LINT1 NMI (MP spec 3.6.2.2). An AP keeps the power-up state: all masked. */
    if (a->bsp) {
        a->lvt[LVT_LINT0] = LVT_DM_EXTINT << LVT_DM_SHIFT;
        a->lvt[LVT_LINT1] = LVT_DM_NMI << LVT_DM_SHIFT;
    }
    memset(a->isr, 0, sizeof(a->isr));
    memset(a->tmr, 0, sizeof(a->tmr));
    memset(a->irr, 0, sizeof(a->irr));
    a->initial_count = a->dcr = 0;
    a->timer_running = false;
    a->tsc_deadline = 0;
    a->global_enable = true;
}

Lapic *lapic_create(uint8_t id, const DevClock *clock, void (*notify)(void *opaque),
                    void (*eoi)(void *opaque, int vector), void (*changed)(void *opaque),
                    void *opaque)
{
    if (!clock)
        return NULL;
    Lapic *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    pthread_mutex_init(&a->lock, NULL);
    a->bsp = id == 0;
    reset(a, id);
    a->clock = *clock;
    a->notify = notify;
    a->eoi = eoi;
    a->changed = changed;
    a->opaque = opaque;
    return a;
}

void lapic_destroy(Lapic *a)
{
    if (!a)
        return;
    pthread_mutex_destroy(&a->lock);
    free(a);
}

static uint32_t read_reg(Lapic *a, uint32_t off)
{
    if (off >= APIC_ISR && off < APIC_ISR + 0x80)
        return a->isr[(off - APIC_ISR) >> 4];
    if (off >= APIC_TMR && off < APIC_TMR + 0x80)
        return a->tmr[(off - APIC_TMR) >> 4];
    if (off >= APIC_IRR && off < APIC_IRR + 0x80)
        return a->irr[(off - APIC_IRR) >> 4];
    if (off >= APIC_LVT_TIMER && off <= APIC_LVT_ERROR)
        return a->lvt[(off - APIC_LVT_TIMER) >> 4];
    switch (off) {
    case APIC_ID: return a->id;
    case APIC_VERSION: return APIC_VERSION_VALUE;
    case APIC_TPR: return a->tpr;
    case APIC_APR: return 0;
    case APIC_PPR: return ppr(a);
    case APIC_LDR: return a->ldr;
    case APIC_DFR: return a->dfr;
    case APIC_SVR: return a->svr;
    case APIC_ESR: return a->esr;
    case APIC_ICR_LO: return a->icr_lo;
    case APIC_ICR_HI: return a->icr_hi;
    case APIC_TIMER_ICR: return a->initial_count;
    case APIC_TIMER_CCR: return current_count(a, dev_clock_now(&a->clock));
    case APIC_TIMER_DCR: return a->dcr;
    default: return 0;   /* reserved, and EOI (write-only) */
    }
}

/* Whether this APIC is destination `dest` (SDM Vol. 3A, 11.6.2.1-2): physical, the APIC
 * ID; logical, the LDR under the DFR's flat or cluster model; 0xFF is a broadcast in
 * either (as KVM's xAPIC takes it). */
static bool matches_locked(const Lapic *a, uint8_t dest, bool logical)
{
    if (dest == 0xFF)
        return true;
    if (!logical)
        return dest == (uint8_t)(a->id >> 24);
    uint8_t ldr = (uint8_t)(a->ldr >> 24);
    if ((a->dfr >> 28) == 0xF)
        return (dest & ldr) != 0;                                  /* flat */
    return (dest >> 4) == (ldr >> 4) && (dest & ldr & 0xF) != 0;   /* cluster */
}

/* Whether this APIC is a destination of an IPI in ICR (SDM Vol. 3A, 11.6.2). */
static bool icr_targets_self(const Lapic *a)
{
    switch ((a->icr_lo >> ICR_SHORTHAND_SHIFT) & 3) {
    case 1: case 2: return true;   /* self; all including self */
    case 3: return false;          /* all excluding self: nobody else here */
    default: break;
    }
    return matches_locked(a, (uint8_t)(a->icr_hi >> 24), a->icr_lo & ICR_DEST_LOGICAL);
}

/* A register write; true when an interrupt may have become deliverable. Sets *eoi_vector
 * for a level EOI and *timer_changed when the timer moved. */
static bool write_reg(Lapic *a, uint32_t off, uint32_t v, int *eoi_vector, bool *timer_changed,
                      bool *ipi_sent)
{
    uint64_t now;
    switch (off) {
    case APIC_ID:
        a->id = v & 0xFF000000u;
        return false;
    case APIC_TPR:
        a->tpr = v & 0xFF;
        return true;
    case APIC_EOI: {
        int vec = highest_bit(a->isr);
        if (vec >= 0) {
            clear_bit(a->isr, vec);
            if (get_bit(a->tmr, vec))
                *eoi_vector = vec;
        }
        return true;
    }
    case APIC_LDR:
        a->ldr = v & 0xFF000000u;
        return false;
    case APIC_DFR:
        a->dfr = v | 0x0FFFFFFFu;
        return false;
    case APIC_SVR:
        a->svr = v & 0x3FF;
        if (!(a->svr & SVR_ENABLE))
            for (int i = 0; i < LVT_COUNT; i++)
                a->lvt[i] |= LVT_MASKED;   /* software disable masks the LVT (11.4.7.2) */
        return true;
    case APIC_ESR:
        a->esr = a->esr_pending;   /* a write latches the errors since the last one */
        a->esr_pending = 0;
        return false;
    case APIC_ICR_LO:
        a->icr_lo = v & ICR_WRITABLE;
        if (a->ipi) {
            unsigned dm = (v >> LVT_DM_SHIFT) & 7;
            if ((dm == LVT_DM_FIXED || dm == 1) && (v & LVT_VECTOR) < 16) {
                a->esr_pending |= ESR_SEND_ILLEGAL_VECTOR;   /* not sent (11.5.3) */
                return false;
            }
            *ipi_sent = true;   /* the platform routes it, to this APIC too */
            return false;
        }
        if (((v >> LVT_DM_SHIFT) & 7) == LVT_DM_NMI && icr_targets_self(a)) {
            /* Delivery mode NMI: the vector is ignored (SDM Vol. 3A, 11.6.1). */
            a->nmi_pending = true;
            return true;
        }
        if (((v >> LVT_DM_SHIFT) & 7) == LVT_DM_FIXED && icr_targets_self(a)) {
            if ((v & LVT_VECTOR) < 16) {
                a->esr_pending |= ESR_SEND_ILLEGAL_VECTOR;
                return false;
            }
            return accept_locked(a, (int)(v & LVT_VECTOR), v & ICR_TRIGGER_LEVEL);
        }
        return false;
    case APIC_ICR_HI:
        a->icr_hi = v & 0xFF000000u;
        return false;
    case APIC_TIMER_ICR:
        if (tsc_deadline_mode(a))
            return false;   /* ignored in TSC-deadline mode (11.5.4.1) */
        now = dev_clock_now(&a->clock);
        a->initial_count = v;
        a->timer_start = now;
        a->timer_running = v != 0;
        *timer_changed = true;
        return false;
    case APIC_TIMER_DCR:
        a->dcr = v & 0xB;
        *timer_changed = true;
        return false;
    default:
        break;
    }
    if (off >= APIC_LVT_TIMER && off <= APIC_LVT_ERROR) {
        int i = (int)((off - APIC_LVT_TIMER) >> 4);
        uint32_t keep = a->lvt[i] & (LVT_PENDING | LVT_REMOTE_IRR);
        static const uint32_t writable[LVT_COUNT] = {
            [LVT_TIMER] = LVT_VECTOR | LVT_MASKED | LVT_TIMER_PERIODIC | LVT_TIMER_TSC_DEADLINE,
            [LVT_THERMAL] = LVT_VECTOR | LVT_DM_MASK | LVT_MASKED,
            [LVT_PERF] = LVT_VECTOR | LVT_DM_MASK | LVT_MASKED,
            [LVT_LINT0] = LVT_VECTOR | LVT_DM_MASK | LVT_POLARITY | LVT_LEVEL | LVT_MASKED,
            [LVT_LINT1] = LVT_VECTOR | LVT_DM_MASK | LVT_POLARITY | LVT_LEVEL | LVT_MASKED,
            [LVT_ERROR] = LVT_VECTOR | LVT_MASKED,
        };
        uint32_t nv = (v & writable[i]) | keep;
        if (!(a->svr & SVR_ENABLE))
            nv |= LVT_MASKED;
        if (i == LVT_TIMER && ((nv & LVT_TIMER_MODE) == LVT_TIMER_TSC_DEADLINE) !=
                                  tsc_deadline_mode(a)) {
            /* Into or out of TSC-deadline mode disarms the timer (SDM Vol. 3A, 11.5.4.1),
             * the initial count too, as KVM's apic_update_lvtt does. */
            a->initial_count = 0;
            a->timer_running = false;
            a->tsc_deadline = 0;
        }
        a->lvt[i] = nv;
        if (i == LVT_TIMER)
            *timer_changed = true;
        return true;   /* LINT0 may now pass the 8259A */
    }
    a->esr_pending |= ESR_ILLEGAL_REGISTER;   /* a read-only or reserved register */
    return false;
}

int lapic_mmio_read(uint64_t addr, uint8_t size, uint64_t *value, void *opaque)
{
    Lapic *a = opaque;
    if (!a || !value)
        return -EINVAL;
    uint32_t off = (uint32_t)(addr - LAPIC_BASE) & 0xFFF;
    *value = 0;
    if (size != 4 || (off & 0xF))
        return 0;
    pthread_mutex_lock(&a->lock);
    *value = read_reg(a, off);
    pthread_mutex_unlock(&a->lock);
    return 0;
}

int lapic_mmio_write(uint64_t addr, uint8_t size, uint64_t value, void *opaque)
{
    Lapic *a = opaque;
    if (!a)
        return -EINVAL;
    uint32_t off = (uint32_t)(addr - LAPIC_BASE) & 0xFFF;
    if (size != 4 || (off & 0xF))
        return 0;
    int eoi_vector = -1;
    bool timer_changed = false, ipi_sent = false;
    pthread_mutex_lock(&a->lock);
    bool notify = write_reg(a, off, (uint32_t)value, &eoi_vector, &timer_changed, &ipi_sent);
    notify = notify && (pending_locked(a) >= 0 || a->nmi_pending);
    uint32_t icr_lo = a->icr_lo, icr_hi = a->icr_hi;
    unlock_notify(a, notify);
    if (ipi_sent)
        a->ipi(a->opaque, icr_lo, icr_hi);
    if (eoi_vector >= 0 && a->eoi)
        a->eoi(a->opaque, eoi_vector);
    if (timer_changed && a->changed)
        a->changed(a->opaque);
    return 0;
}

uint64_t lapic_tsc_deadline(Lapic *a)
{
    pthread_mutex_lock(&a->lock);
    uint64_t v = tsc_deadline_mode(a) ? a->tsc_deadline : 0;
    pthread_mutex_unlock(&a->lock);
    return v;
}

void lapic_set_tsc_deadline(Lapic *a, uint64_t tsc, uint64_t due_ns)
{
    pthread_mutex_lock(&a->lock);
    bool changed = tsc_deadline_mode(a);
    if (changed) {   /* in other modes the write is ignored (11.5.4.1) */
        a->tsc_deadline = tsc;
        a->tsc_deadline_ns = due_ns;
    }
    pthread_mutex_unlock(&a->lock);
    if (changed && a->changed)
        a->changed(a->opaque);
}

void lapic_set_global_enable(Lapic *a, bool enabled)
{
    pthread_mutex_lock(&a->lock);
    if (a->global_enable && !enabled) {
        uint8_t id = (uint8_t)(a->id >> 24);
        reset(a, id);   /* a global disable resets the APIC state (11.4.3) */
        a->global_enable = false;
    } else if (enabled) {
        a->global_enable = true;
    }
    pthread_mutex_unlock(&a->lock);
}

void lapic_deliver(Lapic *a, int vector, bool level)
{
    pthread_mutex_lock(&a->lock);
    bool notify = accept_locked(a, vector, level);
    unlock_notify(a, notify);
}

bool lapic_accepts_pic(Lapic *a)
{
    pthread_mutex_lock(&a->lock);
    uint32_t l = a->lvt[LVT_LINT0];
    bool ok = !a->global_enable ||
              (!(l & LVT_MASKED) && ((l & LVT_DM_MASK) >> LVT_DM_SHIFT) == LVT_DM_EXTINT);
    pthread_mutex_unlock(&a->lock);
    return ok;
}

bool lapic_take_nmi(Lapic *a)
{
    pthread_mutex_lock(&a->lock);
    bool nmi = a->nmi_pending;
    a->nmi_pending = false;
    pthread_mutex_unlock(&a->lock);
    return nmi;
}

bool lapic_nmi_pending(Lapic *a)
{
    pthread_mutex_lock(&a->lock);
    bool nmi = a->nmi_pending;
    pthread_mutex_unlock(&a->lock);
    return nmi;
}

int lapic_pending_vector(Lapic *a)
{
    pthread_mutex_lock(&a->lock);
    int v = pending_locked(a);
    pthread_mutex_unlock(&a->lock);
    return v;
}

int lapic_acknowledge(Lapic *a)
{
    pthread_mutex_lock(&a->lock);
    int v = pending_locked(a);
    if (v >= 0) {
        clear_bit(a->irr, v);
        set_bit(a->isr, v);
    }
    pthread_mutex_unlock(&a->lock);
    return v;
}

uint64_t lapic_advance(Lapic *a, uint64_t now)
{
    pthread_mutex_lock(&a->lock);
    bool notify = false;
    uint64_t next = DEV_NO_DEADLINE;
    if (tsc_deadline_mode(a) && a->tsc_deadline) {
        /* Due: the interrupt unless masked, and the MSR reads 0 again (11.5.4.1). */
        if (now >= a->tsc_deadline_ns) {
            uint32_t l = a->lvt[LVT_TIMER];
            if (!(l & LVT_MASKED) && a->global_enable)
                notify = accept_locked(a, (int)(l & LVT_VECTOR), false);
            a->tsc_deadline = 0;
        } else {
            next = a->tsc_deadline_ns;
        }
    } else if (a->timer_running && a->initial_count) {
        uint64_t period = timer_period_ns(a);
        if (period == 0)
            period = 1;
        uint64_t due = a->timer_start + period;
        if (now >= due) {
            uint32_t l = a->lvt[LVT_TIMER];
            if (!(l & LVT_MASKED) && a->global_enable)
                notify = accept_locked(a, (int)(l & LVT_VECTOR), false);
            if (l & LVT_TIMER_PERIODIC) {
                /* Missed periods coalesce, as an IRR bit holds one interrupt. */
                a->timer_start += (now - a->timer_start) / period * period;
                due = a->timer_start + period;
            } else {
                a->timer_running = false;
                due = DEV_NO_DEADLINE;
            }
        }
        next = due;
    }
    unlock_notify(a, notify);
    return next;
}

static void print_lvt(FILE *out, const char *name, uint32_t lvt, bool is_timer)
{
    static const char *const dm_name[8] = {"Fixed", "LowPri", "SMI", "Res", "NMI", "INIT",
                                           "Res", "ExtINT"};
    unsigned dm = (lvt & LVT_DM_MASK) >> LVT_DM_SHIFT;
    fprintf(out, "%s\t 0x%08x %s %-5s %-6s %-7s %-12s %-6s", name, lvt,
            lvt & LVT_POLARITY ? "active-lo" : "active-hi", lvt & LVT_LEVEL ? "level" : "edge",
            lvt & LVT_MASKED ? "masked" : "", lvt & LVT_PENDING ? "pending" : "",
            !is_timer ? "" : lvt & LVT_TIMER_PERIODIC ? "periodic"
                           : lvt & LVT_TIMER_TSC_DEADLINE ? "tsc-deadline" : "one-shot",
            dm_name[dm]);
    if (dm != LVT_DM_NMI)
        fprintf(out, " (vec %u)\n", lvt & LVT_VECTOR);
    else
        fputc('\n', out);
}

static void print_vectors(FILE *out, const char *name, const uint32_t *tab, const uint32_t *tmr)
{
    bool empty = true;
    fprintf(out, "%s\t ", name);
    for (int i = 0; i < 256; i++) {
        if (get_bit(tab, i)) {
            fprintf(out, "%u%s ", i, get_bit(tmr, i) ? "(level)" : "");
            empty = false;
        }
    }
    fprintf(out, "%s\n", empty ? "(none)" : "");
}

void lapic_get_page(Lapic *a, uint8_t page[LAPIC_REG_PAGE])
{
    memset(page, 0, LAPIC_REG_PAGE);
    pthread_mutex_lock(&a->lock);
    for (uint32_t off = 0; off < LAPIC_REG_PAGE; off += 16) {
        uint32_t v = read_reg(a, off);
        memcpy(page + off, &v, sizeof(v));
    }
    pthread_mutex_unlock(&a->lock);
}

static uint32_t page_reg(const uint8_t *page, uint32_t off)
{
    uint32_t v;
    memcpy(&v, page + off, sizeof(v));
    return v;
}

static void page_vectors(const uint8_t *page, uint32_t base, uint32_t tab[8])
{
    for (int i = 0; i < 8; i++)
        tab[i] = page_reg(page, base + 16u * (uint32_t)i);
}

void lapic_print_page(const uint8_t page[LAPIC_REG_PAGE], FILE *out)
{
    static const char *const shorthand[4] = {"no-shorthand", "self", "all-self", "all"};
    uint32_t svr = page_reg(page, APIC_SVR), dcr = page_reg(page, APIC_TIMER_DCR);
    uint32_t icr_lo = page_reg(page, APIC_ICR_LO), icr_hi = page_reg(page, APIC_ICR_HI);
    uint32_t dfr = page_reg(page, APIC_DFR), ldr = page_reg(page, APIC_LDR);
    uint32_t isr[8], irr[8], tmr[8];
    page_vectors(page, APIC_ISR, isr);
    page_vectors(page, APIC_IRR, irr);
    page_vectors(page, APIC_TMR, tmr);
    fprintf(out, "dumping local APIC state for CPU %-2d\n\n", 0);
    print_lvt(out, "LVT0", page_reg(page, APIC_LVT_LINT0), false);
    print_lvt(out, "LVT1", page_reg(page, APIC_LVT_LINT1), false);
    print_lvt(out, "LVTPC", page_reg(page, APIC_LVT_PERF), false);
    print_lvt(out, "LVTERR", page_reg(page, APIC_LVT_ERROR), false);
    print_lvt(out, "LVTTHMR", page_reg(page, APIC_LVT_THERMAL), false);
    print_lvt(out, "LVTT", page_reg(page, APIC_LVT_TIMER), true);
    fprintf(out, "Timer\t DCR=0x%x (divide by %u) initial_count = %u current_count = %u\n",
            dcr, 1u << divide_shift(dcr), page_reg(page, APIC_TIMER_ICR),
            page_reg(page, APIC_TIMER_CCR));
    fprintf(out, "SPIV\t 0x%08x APIC %s, focus=%s, spurious vec %u\n", svr,
            svr & SVR_ENABLE ? "enabled" : "disabled", svr & SVR_FOCUS_OFF ? "off" : "on",
            svr & LVT_VECTOR);
    unsigned sh = (icr_lo >> ICR_SHORTHAND_SHIFT) & 3;
    fprintf(out, "ICR\t 0x%08x %s %s %s %s\n", icr_lo,
            icr_lo & ICR_DEST_LOGICAL ? "logical" : "physical",
            icr_lo & ICR_TRIGGER_LEVEL ? "level" : "edge",
            icr_lo & ICR_LEVEL_ASSERT ? "assert" : "de-assert", shorthand[sh]);
    fprintf(out, "ICR2\t 0x%08x", icr_hi);
    if (sh)
        fputc('\n', out);
    else if (icr_lo & ICR_DEST_LOGICAL)
        fprintf(out, " mask %x\n", icr_hi >> 24);
    else
        fprintf(out, " cpu %u (APIC ID)\n", icr_hi >> 24);
    fprintf(out, "ESR\t 0x%08x\n", page_reg(page, APIC_ESR));
    print_vectors(out, "ISR", isr, tmr);
    print_vectors(out, "IRR", irr, tmr);
    fprintf(out, "\nAPR 0x%02x TPR 0x%02x DFR 0x%02x LDR 0x%02x", page_reg(page, APIC_APR),
            page_reg(page, APIC_TPR), dfr >> 28, ldr >> 24);
    if ((dfr >> 28) == 0)
        fprintf(out, "(cluster %u: id %u)", ldr >> 28, (ldr >> 24) & 0xF);
    fprintf(out, " PPR 0x%02x\n", page_reg(page, APIC_PPR));
}

void lapic_print_info(Lapic *a, FILE *out)
{
    uint8_t page[LAPIC_REG_PAGE];
    lapic_get_page(a, page);
    lapic_print_page(page, out);
}

void lapic_set_ipi_hook(Lapic *a, void (*ipi)(void *opaque, uint32_t icr_lo, uint32_t icr_hi))
{
    pthread_mutex_lock(&a->lock);
    a->ipi = ipi;
    pthread_mutex_unlock(&a->lock);
}

bool lapic_matches(Lapic *a, uint8_t dest, bool logical)
{
    pthread_mutex_lock(&a->lock);
    bool m = a->global_enable && matches_locked(a, dest, logical);
    pthread_mutex_unlock(&a->lock);
    return m;
}

uint8_t lapic_id(Lapic *a)
{
    pthread_mutex_lock(&a->lock);
    uint8_t id = (uint8_t)(a->id >> 24);
    pthread_mutex_unlock(&a->lock);
    return id;
}

void lapic_init_reset(Lapic *a)
{
    pthread_mutex_lock(&a->lock);
    uint32_t id = a->id;
    bool enabled = a->global_enable;
    reset(a, (uint8_t)(id >> 24));
    a->global_enable = enabled;   /* INIT leaves IA32_APIC_BASE alone */
    a->nmi_pending = false;
    pthread_mutex_unlock(&a->lock);
    if (a->changed)
        a->changed(a->opaque);   /* the timer stopped */
}

void lapic_raise_nmi(Lapic *a)
{
    pthread_mutex_lock(&a->lock);
    a->nmi_pending = true;
    unlock_notify(a, true);
}
