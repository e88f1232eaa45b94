/*
 * The block layer's front: opening an image in its format, bounds-checked reads and
 * writes, and the temporary overlay of -snapshot (a deleted temporary file that takes
 * every write at 4 KiB granularity, with a bitmap of the chunks it holds).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hv/hv_log.h"
#include "block/block.h"

#define QCOW2_MAGIC_BYTES "QFI\xfb"
#define OVERLAY_CHUNK 4096u

const char *block_format_name(BlockFormat fmt)
{
    switch (fmt) {
    case BLOCK_FORMAT_RAW: return "raw";
    case BLOCK_FORMAT_QCOW2: return "qcow2";
    default: return "auto";
    }
}

int block_parse_format(const char *name, BlockFormat *fmt)
{
    if (strcmp(name, "raw") == 0)
        *fmt = BLOCK_FORMAT_RAW;
    else if (strcmp(name, "qcow2") == 0)
        *fmt = BLOCK_FORMAT_QCOW2;
    else
        return -EINVAL;
    return 0;
}

int block_open_depth(const char *path, BlockFormat fmt, int flags, int depth, BlockDev **out)
{
    if (depth > BLOCK_MAX_BACKING_DEPTH)
        return hv_fail(ELOOP, "%s: backing chain deeper than %d images (a loop?)", path,
                       BLOCK_MAX_BACKING_DEPTH);
    bool ro = (flags & (BLOCK_READ_ONLY | BLOCK_SNAPSHOT)) != 0;
    /* O_NONBLOCK: a FIFO (named by the user, or as a backing file by a hostile image)
     * would block the open until a writer comes; it is refused below instead. */
    int fd = open(path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return hv_fail(errno, "%s: %s", path, strerror(errno));
    /* Only a regular file or a block device is an image: a character device (a tty,
     * /dev/zero, /dev/stdin) or a FIFO could block every read or never end. */
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return hv_fail(e, "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
        close(fd);
        return hv_fail(EINVAL, "%s: not a disk image (neither a regular file nor a block "
                       "device)", path);
    }
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
        int e = errno;
        close(fd);
        return hv_fail(e, "%s: %s", path, strerror(e));
    }
    if (fmt == BLOCK_FORMAT_AUTO) {
        char magic[4] = {0};
        int r = block_pread_full(fd, magic, sizeof(magic), 0);
        if (r < 0) {
            close(fd);
            return r;
        }
        fmt = memcmp(magic, QCOW2_MAGIC_BYTES, 4) == 0 ? BLOCK_FORMAT_QCOW2 : BLOCK_FORMAT_RAW;
    }
    BlockDev *bd = NULL;
    int r = fmt == BLOCK_FORMAT_QCOW2 ? block_qcow2_open(fd, path, ro, depth, &bd)
                                      : block_raw_open(fd, ro, &bd);
    if (r < 0) {
        close(fd);
        return r;
    }
    if (flags & BLOCK_SNAPSHOT) {
        if ((r = block_snapshot_wrap(bd, &bd)) < 0)
            return r;
    }
    *out = bd;
    return 0;
}

int block_open(const char *path, BlockFormat fmt, int flags, BlockDev **out)
{
    return block_open_depth(path, fmt, flags, 0, out);
}

static int check_range(BlockDev *bd, uint64_t offset, size_t len)
{
    if (!bd || offset > bd->size || len > bd->size - offset)
        return -EINVAL;
    return 0;
}

int block_read(BlockDev *bd, uint64_t offset, void *buf, size_t len)
{
    int r = check_range(bd, offset, len);
    return r < 0 || len == 0 ? r : bd->ops->read(bd, offset, buf, len);
}

int block_write(BlockDev *bd, uint64_t offset, const void *buf, size_t len)
{
    int r = check_range(bd, offset, len);
    if (r < 0 || len == 0)
        return r;
    if (bd->read_only)
        return -EROFS;
    return bd->ops->write(bd, offset, buf, len);
}

int block_flush(BlockDev *bd)
{
    return bd && bd->ops->flush && !bd->read_only ? bd->ops->flush(bd) : 0;
}

void block_close(BlockDev *bd)
{
    if (bd)
        bd->ops->close(bd);
}

int block_for_each_chunk(uint64_t offset, uint8_t *buf, size_t len, uint64_t chunk,
                         BlockChunkFn fn, void *ctx)
{
    while (len) {
        size_t n = (size_t)(chunk - (offset & (chunk - 1)));
        if (n > len)
            n = len;
        int r = fn(ctx, offset, buf, n);
        if (r < 0)
            return r;
        buf += n;
        offset += n;
        len -= n;
    }
    return 0;
}

/* ---- the -snapshot overlay ---- */

typedef struct {
    BlockDev *base;
    int fd;             /* the deleted temporary file, as large as the disk */
    uint8_t *present;   /* one bit per chunk held by the overlay */
} Overlay;

static bool chunk_present(const Overlay *o, uint64_t chunk)
{
    return o->present[chunk / 8] & (1u << (chunk % 8));
}

static int overlay_read_chunk(void *ctx, uint64_t offset, uint8_t *p, size_t n)
{
    Overlay *o = ctx;
    return chunk_present(o, offset / OVERLAY_CHUNK) ? block_pread_full(o->fd, p, n, offset)
                                                    : block_read(o->base, offset, p, n);
}

static int overlay_read(BlockDev *bd, uint64_t offset, void *buf, size_t len)
{
    return block_for_each_chunk(offset, buf, len, OVERLAY_CHUNK, overlay_read_chunk, bd->state);
}

/* Within one chunk. The first write to a chunk copies the base's bytes in first. */
static int overlay_write_chunk(void *ctx, uint64_t offset, uint8_t *p, size_t n)
{
    Overlay *o = ctx;
    uint64_t chunk = offset / OVERLAY_CHUNK, start = chunk * OVERLAY_CHUNK;
    if (chunk_present(o, chunk))
        return block_pwrite_full(o->fd, p, n, offset);
    uint8_t tmp[OVERLAY_CHUNK];
    uint64_t size = o->base->size;
    size_t whole = size - start < OVERLAY_CHUNK ? (size_t)(size - start) : OVERLAY_CHUNK;
    int r = block_read(o->base, start, tmp, whole);
    if (r < 0)
        return r;
    memcpy(tmp + (offset - start), p, n);
    if ((r = block_pwrite_full(o->fd, tmp, whole, start)) < 0)
        return r;
    o->present[chunk / 8] |= (uint8_t)(1u << (chunk % 8));
    return 0;
}

static int overlay_write(BlockDev *bd, uint64_t offset, const void *buf, size_t len)
{
    return block_for_each_chunk(offset, (uint8_t *)buf, len, OVERLAY_CHUNK, overlay_write_chunk,
                                bd->state);
}

static void overlay_close(BlockDev *bd)
{
    Overlay *o = bd->state;
    block_close(o->base);
    close(o->fd);
    free(o->present);
    free(o);
    free(bd);
}

static const BlockOps overlay_ops = {"snapshot", overlay_read, overlay_write, NULL,
                                     overlay_close};

int block_snapshot_wrap(BlockDev *base, BlockDev **out)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) {
        int err = errno;
        block_close(base);
        return hv_fail(err, "-snapshot: cannot create a temporary file in %s: %s", dir,
                       strerror(err));
    }
    uint64_t chunks = (base->size + OVERLAY_CHUNK - 1) / OVERLAY_CHUNK;
    BlockDev *bd = calloc(1, sizeof(*bd));
    Overlay *o = calloc(1, sizeof(*o));
    uint8_t *present = calloc(chunks / 8 + 1, 1);
    if (!bd || !o || !present) {
        free(bd);
        free(o);
        free(present);
        close(fd);
        block_close(base);
        return hv_fail(ENOMEM, "-snapshot: out of memory");
    }
    *o = (Overlay){.base = base, .fd = fd, .present = present};
    *bd = (BlockDev){.ops = &overlay_ops, .size = base->size, .read_only = false, .state = o};
    *out = bd;
    return 0;
}

/* ---- a read-only window on another device (El Torito floppy emulation) ---- */

typedef struct {
    BlockDev *base;
    uint64_t offset;
} View;

static int view_read(BlockDev *bd, uint64_t offset, void *buf, size_t len)
{
    View *v = bd->state;
    return block_read(v->base, v->offset + offset, buf, len);
}

static int view_write(BlockDev *bd, uint64_t offset, const void *buf, size_t len)
{
    (void)bd, (void)offset, (void)buf, (void)len;
    return -EROFS;
}

static void view_close(BlockDev *bd)
{
    free(bd->state);
    free(bd);
}

static const BlockOps view_ops = {"view", view_read, view_write, NULL, view_close};

int block_view_open(BlockDev *base, uint64_t offset, uint64_t size, BlockDev **out)
{
    if (!base || offset > base->size || size > base->size - offset)
        return hv_fail(EINVAL, "a window of %" PRIu64 " bytes at %" PRIu64 " is not inside "
                       "the image", size, offset);
    BlockDev *bd = calloc(1, sizeof(*bd));
    View *v = calloc(1, sizeof(*v));
    if (!bd || !v) {
        free(bd);
        free(v);
        return hv_fail(ENOMEM, "out of memory");
    }
    *v = (View){base, offset};
    *bd = (BlockDev){.ops = &view_ops, .size = size, .read_only = true, .state = v};
    *out = bd;
    return 0;
}
