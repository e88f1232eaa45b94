/*
 * Two debugging ports that test guests use to report without any other device:
 * - QEMU's isa-debug-exit (iobase 0xF4, iosize 4): a write of V asks the VMM to end the
 *   VM, whose exit status is then (V << 1) | 1. Here it only records V; the VMM's run
 *   loop sees `exited` and stops.
 * - The Bochs/QEMU debug console at 0xE9: each byte written appears on the console;
 *   reading returns 0xE9, how a guest detects that the port is there.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dev/dev_io.h"
#include "hv/hv_log.h"

#define DEBUG_EXIT_PORT_COUNT 4   /* 0xF4-0xF7 */

static bool debug_exit_owns(uint32_t port)
{
    return port >= DEBUG_EXIT_PORT && port < DEBUG_EXIT_PORT + DEBUG_EXIT_PORT_COUNT;
}

static bool debug_size_ok(uint8_t size) { return size == 1 || size == 2 || size == 4; }

/* console_fd (-1: nowhere) stays the caller's. NULL on failure, with hv_last_error. */
DebugExit *debug_exit_create(int console_fd)
{
    DebugExit *d = calloc(1, sizeof(*d));
    if (!d) {
        hv_fail(ENOMEM, "debug exit: out of memory");
        return NULL;
    }
    d->console_fd = console_fd < 0 ? -1 : console_fd;
    return d;
}

void debug_exit_destroy(DebugExit *d) { free(d); }

/* Read handler for both ports. The exit port reads 0 (QEMU's device has no read side);
 * the console port reads 0xE9. A wider access is byte reads at consecutive ports, and
 * ports that are neither read as all ones. Returns 0 or -EINVAL. */
int debug_exit_io_read(uint16_t port, uint8_t size, uint32_t *value, void *opaque)
{
    DebugExit *d = opaque;
    if (!d || !value || !debug_size_ok(size))
        return -EINVAL;
    if (debug_exit_owns(port)) {
        *value = 0;
        return 0;
    }
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++) {
        uint32_t p = (uint32_t)port + i;
        bool console = p == DEBUG_CONSOLE_PORT || (d->console_port2 && p == d->console_port2);
        uint32_t b = console ? DEBUG_CONSOLE_PORT : 0xFF;   /* QEMU's readback: 0xE9 */
        v |= b << (8 * i);
    }
    *value = v;
    return 0;
}

/* Write handler for both ports. Any write in 0xF4-0xF7, of any size, records the value
 * and sets `exited`. At 0xE9 the low byte goes to console_fd; a descriptor that fails is
 * logged once and dropped. Returns 0 or -EINVAL. */
int debug_exit_io_write(uint16_t port, uint8_t size, uint32_t value, void *opaque)
{
    DebugExit *d = opaque;
    if (!d || !debug_size_ok(size))
        return -EINVAL;
    if (debug_exit_owns(port)) {
        d->value = size == 4 ? value : value & ((UINT32_C(1) << (8 * size)) - 1);
        d->exited = true;
        return 0;
    }
    if ((port != DEBUG_CONSOLE_PORT && (!d->console_port2 || port != d->console_port2)) ||
        d->console_fd < 0)
        return 0;
    uint8_t byte = (uint8_t)value;
    int err = dev_write_all(d->console_fd, &byte, 1, d->output_cancel);
    if (err < 0 && err != -EAGAIN && err != -ECANCELED) {
        hv_log(HV_LOG_WARN, "debug console: writing to fd %d failed (%s); output stopped",
               d->console_fd, strerror(-err));
        d->console_fd = -1;
    }
    return 0;
}
