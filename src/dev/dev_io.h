/* Helpers shared by the devices in src/dev (internal, not part of the public API). */
#ifndef SCRATCHVM_DEV_IO_H
#define SCRATCHVM_DEV_IO_H

#include <stddef.h>
#include <stdint.h>

/* Writes all `len` bytes to `fd`, retrying after EINTR and partial writes and waiting
 * (a bounded time) while a non-blocking fd is full. A reader that went away must not
 * kill the process, so SIGPIPE is blocked in this thread for the write and a pending one
 * is consumed. Returns 0, or a negative errno when the bytes could not all be written. */
int dev_write_all(int fd, const void *buf, size_t len);

/* An MMIO window that behaves as plain memory: `size` bytes (1-8) at addr of the window
 * [base, base + length) backed by mem. -EINVAL when the access leaves the window. */
int dev_memory_read(const uint8_t *mem, uint64_t base, uint64_t length, uint64_t addr,
                    uint8_t size, uint64_t *value);
int dev_memory_write(uint8_t *mem, uint64_t base, uint64_t length, uint64_t addr, uint8_t size,
                     uint64_t value);

#endif
