/* Raw images: the file's bytes are the disk's bytes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hv/hv_log.h"
#include "block/block.h"

typedef struct { int fd; } RawImage;

int block_pread_full(int fd, void *buf, size_t len, uint64_t offset)
{
    uint8_t *p = buf;
    while (len) {
        ssize_t n = pread(fd, p, len, (off_t)offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return hv_fail(errno, "image read at %llu: %s", (unsigned long long)offset,
                           strerror(errno));
        if (n == 0) {
            memset(p, 0, len);
            return 0;
        }
        p += n;
        len -= (size_t)n;
        offset += (uint64_t)n;
    }
    return 0;
}

int block_pwrite_full(int fd, const void *buf, size_t len, uint64_t offset)
{
    const uint8_t *p = buf;
    while (len) {
        ssize_t n = pwrite(fd, p, len, (off_t)offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return hv_fail(n < 0 ? errno : EIO, "image write at %llu: %s",
                           (unsigned long long)offset, n < 0 ? strerror(errno) : "short write");
        p += n;
        len -= (size_t)n;
        offset += (uint64_t)n;
    }
    return 0;
}

static int raw_read(BlockDev *bd, uint64_t offset, void *buf, size_t len)
{
    return block_pread_full(((RawImage *)bd->state)->fd, buf, len, offset);
}

static int raw_write(BlockDev *bd, uint64_t offset, const void *buf, size_t len)
{
    return block_pwrite_full(((RawImage *)bd->state)->fd, buf, len, offset);
}

static int raw_flush(BlockDev *bd)
{
    return fdatasync(((RawImage *)bd->state)->fd) < 0 ? -errno : 0;
}

static void raw_close(BlockDev *bd)
{
    RawImage *raw = bd->state;
    close(raw->fd);
    free(raw);
    free(bd);
}

static const BlockOps raw_ops = {"raw", raw_read, raw_write, raw_flush, raw_close};

int block_raw_open(int fd, bool read_only, BlockDev **out)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return hv_fail(errno, "fstat: %s", strerror(errno));
    BlockDev *bd = calloc(1, sizeof(*bd));
    RawImage *raw = calloc(1, sizeof(*raw));
    if (!bd || !raw) {
        free(bd);
        free(raw);
        return hv_fail(ENOMEM, "out of memory");
    }
    raw->fd = fd;
    *bd = (BlockDev){.ops = &raw_ops, .size = (uint64_t)st.st_size, .read_only = read_only,
                     .state = raw};
    *out = bd;
    return 0;
}
