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

/* How long a full fd may stall the vCPU before the bytes are dropped, and how often a
 * wait looks at the caller's cancel flag. */
#define DEV_WRITE_STALL_MS 1000
#define DEV_WRITE_SLICE_MS 20

/* Waits until fd can take bytes: 0 (writable, or an error the write will report), -EAGAIN
 * after DEV_WRITE_STALL_MS, -ECANCELED as soon as *cancel is set, or -errno of poll. */
static int wait_writable(int fd, const int *cancel)
{
    for (int waited = 0;; waited += DEV_WRITE_SLICE_MS) {
        if (cancel && __atomic_load_n(cancel, __ATOMIC_SEQ_CST))
            return -ECANCELED;
        if (waited >= DEV_WRITE_STALL_MS)
            return -EAGAIN;
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        int r = poll(&pfd, 1, DEV_WRITE_SLICE_MS);
        if (r > 0)
            return 0;
        if (r < 0 && errno != EINTR)
            return -errno;
    }
}

int dev_write_all(int fd, const void *buf, size_t len, const int *cancel)
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
        /* Never write() while the fd is full, blocking or not: a stalled reader must
         * not block this thread in the kernel, where neither the stall limit nor a stop
         * of the VM (cancel) could reach it (issue 15, item 5). Once poll says POLLOUT,
         * a pipe, socket or terminal takes a small write (devices write at most 4 bytes
         * at once) without blocking. */
        if ((err = wait_writable(fd, cancel)) < 0)
            break;
        ssize_t n = write(fd, p, len);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
            continue;
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
