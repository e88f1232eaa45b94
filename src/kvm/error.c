/* Error messages and the library log. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kvm/backend.h"

static _Thread_local char last_error[256];

static HvLogFn log_fn;
static void *log_opaque;
static HvLogLevel log_max = HV_LOG_WARN;

const char *hv_last_error(void) { return last_error; }

void hv_clear_error(void) { last_error[0] = '\0'; }

/* Records a message for hv_last_error() and returns -err, so callers can write
 * `return hv_fail(EINVAL, "...")`. */
int hv_fail(int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof(last_error), fmt, ap);
    va_end(ap);
    return err > 0 ? -err : err;
}

void hv_set_log_handler(HvLogFn fn, void *opaque)
{
    log_fn = fn;
    log_opaque = opaque;
}

void hv_set_log_level(HvLogLevel max_level) { log_max = max_level; }

void hv_log(HvLogLevel level, const char *fmt, ...)
{
    if (level > log_max)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (log_fn) {
        log_fn(level, msg, log_opaque);
        return;
    }
    static const char *const prefix[] = {"error", "warning", "info", "debug"};
    fprintf(stderr, "scratchvm: %s: %s\n", prefix[level], msg);
}
