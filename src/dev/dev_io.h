/* Helpers shared by the devices in src/dev (internal, not part of the public API). */
#ifndef SCRATCHVM_DEV_IO_H
#define SCRATCHVM_DEV_IO_H

#include <stddef.h>

/* Writes all `len` bytes to `fd`, retrying after EINTR and partial writes and waiting
 * (a bounded time) while a non-blocking fd is full. A reader that went away must not
 * kill the process, so SIGPIPE is blocked in this thread for the write and a pending one
 * is consumed. Returns 0, or a negative errno when the bytes could not all be written. */
int dev_write_all(int fd, const void *buf, size_t len);

#endif
