/*
 * The block layer: disk images the BIOS reads and writes (int 13h), one file per format
 * (raw.c, qcow2.c) behind one interface (block.c), plus the temporary overlay
 * of -snapshot / snapshot=on. Byte offsets, any length; every call is bounds-checked
 * against the virtual size. Image files are hostile input: a malformed header or table
 * is an error with a message in hv_last_error(), never a crash or a write outside the
 * image.
 */
#ifndef SCRATCHVM_VMM_BLOCK_H
#define SCRATCHVM_VMM_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { BLOCK_FORMAT_AUTO, BLOCK_FORMAT_RAW, BLOCK_FORMAT_QCOW2 } BlockFormat;

#define BLOCK_READ_ONLY 0x1   /* open the file read-only; writes fail with -EROFS */
#define BLOCK_SNAPSHOT 0x2    /* writes go to a temporary overlay, the image is not written */

#define BLOCK_MAX_BACKING_DEPTH 64   /* a longer chain (or a loop) is refused */

typedef struct BlockDev BlockDev;

typedef struct {
    const char *name;
    int (*read)(BlockDev *bd, uint64_t offset, void *buf, size_t len);
    int (*write)(BlockDev *bd, uint64_t offset, const void *buf, size_t len);
    int (*flush)(BlockDev *bd);
    void (*close)(BlockDev *bd);
} BlockOps;

struct BlockDev {
    const BlockOps *ops;
    uint64_t size;        /* virtual size in bytes */
    bool read_only;
    void *state;          /* the format's own */
};

/* Opens an image: format AUTO probes the qcow2 magic (else raw). flags: BLOCK_*. `depth`
 * counts backing files (0 for the image itself). 0 with *out set, or a negative errno. */
int block_open_depth(const char *path, BlockFormat fmt, int flags, int depth, BlockDev **out);
int block_open(const char *path, BlockFormat fmt, int flags, BlockDev **out);
/* [offset, offset + len) must lie within the virtual size: -EINVAL otherwise. */
int block_read(BlockDev *bd, uint64_t offset, void *buf, size_t len);
int block_write(BlockDev *bd, uint64_t offset, const void *buf, size_t len);
int block_flush(BlockDev *bd);
void block_close(BlockDev *bd);
const char *block_format_name(BlockFormat fmt);
/* "raw" / "qcow2" → format; -EINVAL for anything else. */
int block_parse_format(const char *name, BlockFormat *fmt);

/* Whole-buffer pread/pwrite on an image file (raw.c): bytes past the end of the
 * file read as zeros; errors are messages. */
int block_pread_full(int fd, void *buf, size_t len, uint64_t offset);
int block_pwrite_full(int fd, const void *buf, size_t len, uint64_t offset);

/* Calls fn(ctx, offset, buf, n) on each piece of [offset, offset + len) that stays within
 * one aligned `chunk` (a power of two), buf advancing with it; stops at the first error.
 * Writes pass their const buffer through `buf` and do not change it. */
typedef int (*BlockChunkFn)(void *ctx, uint64_t offset, uint8_t *buf, size_t len);
int block_for_each_chunk(uint64_t offset, uint8_t *buf, size_t len, uint64_t chunk,
                         BlockChunkFn fn, void *ctx);

/* Format back ends (opened by block_open; `fd` is theirs on success). */
int block_raw_open(int fd, bool read_only, BlockDev **out);
int block_qcow2_open(int fd, const char *path, bool read_only, int depth, BlockDev **out);
/* A read-only device of `size` bytes at `offset` in base, which it does not own (base must
 * outlive it); writes fail with -EROFS. -EINVAL when the window is not inside base. */
int block_view_open(BlockDev *base, uint64_t offset, uint64_t size, BlockDev **out);
/* Wraps base (which it then owns) in a temporary overlay that takes every write. */
int block_snapshot_wrap(BlockDev *base, BlockDev **out);

#endif
