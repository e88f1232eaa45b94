/* Output helpers shared by devices that send guest bytes to a host fd. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>

#include "dev/dev_io.h"

/* How long a full non-blocking fd may stall the vCPU before the bytes are dropped. */
#define DEV_WRITE_STALL_MS 1000

int dev_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    int err = 0;
    sigset_t pipe_set, old_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    /* Was SIGPIPE already pending for this thread before our write? Then it is not ours
     * to consume. */
    sigset_t pending;
    sigpending(&pending);
    bool had_pending = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);

    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            int r = poll(&pfd, 1, DEV_WRITE_STALL_MS);
            if (r > 0 || (r < 0 && errno == EINTR))
                continue;
            err = -EAGAIN;
            break;
        }
        err = n < 0 ? -errno : -EIO;
        break;
    }

    if (err == -EPIPE && !had_pending) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &old_set, NULL);
    return err;
}

static bool window_ok(uint64_t base, uint64_t length, uint64_t addr, uint8_t size)
{
    return size >= 1 && size <= 8 && addr >= base && size <= length &&
           addr - base <= length - size;
}

int dev_memory_read(const uint8_t *mem, uint64_t base, uint64_t length, uint64_t addr,
                    uint8_t size, uint64_t *value)
{
    *value = 0;
    if (!window_ok(base, length, addr, size))
        return -EINVAL;
    memcpy(value, mem + (addr - base), size);   /* little-endian host, as the guest */
    return 0;
}

int dev_memory_write(uint8_t *mem, uint64_t base, uint64_t length, uint64_t addr, uint8_t size,
                     uint64_t value)
{
    if (!window_ok(base, length, addr, size))
        return -EINVAL;
    memcpy(mem + (addr - base), &value, size);
    return 0;
}
