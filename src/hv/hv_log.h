/*
 * The library's error and log functions (src/kvm/error.c), for code that needs nothing
 * else of the backends: devices and the block layer include this, never kvm/backend.h.
 * Internal to the library.
 */
#ifndef SCRATCHVM_HV_LOG_H
#define SCRATCHVM_HV_LOG_H

#include "hypervisor_sim.h"

/* Records the message as hv_last_error() and returns -err (err may be given either sign). */
int hv_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void hv_clear_error(void);
void hv_log(HvLogLevel level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
