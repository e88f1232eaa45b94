/* The clock a device reads (internal to src/dev and src/vmm): nanoseconds on the VM's time
 * base, host monotonic time or the sim's instruction count (--clock virtual). */
#ifndef SCRATCHVM_DEV_CLOCK_H
#define SCRATCHVM_DEV_CLOCK_H

#include <stdint.h>

typedef struct {
    uint64_t (*now_ns)(void *opaque);
    void *opaque;
} DevClock;

/* No deadline: what a timer device returns when nothing of it is due. */
#define DEV_NO_DEADLINE UINT64_MAX

static inline uint64_t dev_clock_now(const DevClock *c) { return c->now_ns(c->opaque); }

/* a * b / c without overflow of the product (c > 0). */
static inline uint64_t dev_muldiv(uint64_t a, uint64_t b, uint64_t c)
{
    return (uint64_t)((unsigned __int128)a * b / c);
}

#endif
