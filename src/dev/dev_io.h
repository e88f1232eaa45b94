/* Helpers shared by the devices in src/dev (internal, not part of the public API). */
#ifndef SCRATCHVM_DEV_IO_H
#define SCRATCHVM_DEV_IO_H

#include <stddef.h>
#include <stdint.h>

/* Writes all `len` bytes to `fd`, retrying after EINTR and partial writes and waiting
 * (at most 1 s) while the fd is full, blocking or not; a wait ends at once when `cancel`
 * (may be NULL) points at a non-zero flag. A reader that went away must not kill the
 * process, so SIGPIPE is blocked in this thread for the write and a pending one is
 * consumed. Returns 0, -EAGAIN (stalled), -ECANCELED, or another negative errno when the
 * bytes could not all be written. */
int dev_write_all(int fd, const void *buf, size_t len, const int *cancel);

/* An MMIO window that behaves as plain memory: `size` bytes (1-8) at addr of the window
 * [base, base + length) backed by mem. -EINVAL when the access leaves the window. */
int dev_memory_read(const uint8_t *mem, uint64_t base, uint64_t length, uint64_t addr,
                    uint8_t size, uint64_t *value);
int dev_memory_write(uint8_t *mem, uint64_t base, uint64_t length, uint64_t addr, uint8_t size,
                     uint64_t value);

#endif
