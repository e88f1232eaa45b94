/*
 * qcow2 images, versions 2 and 3 (QEMU's docs/interop/qcow2.txt): a two-level table
 * (L1 → L2 → data clusters), refcounts (a refcount table → refcount blocks), clusters
 * allocated on first write at the end of the file, and a backing file (raw or qcow2, any
 * depth) for clusters the image does not hold. Compressed clusters, encryption, external
 * data files, extended L2 entries and dirty or corrupt images are refused with a message;
 * images with internal snapshots are opened read-only (their clusters are shared).
 *
 * Writes keep the image consistent for `qemu-img check` at every step that completes:
 * the data cluster is written first, then its refcount, then the L2 entry, then the L1
 * entry; a new cluster's refcount is 1, so entries carry the COPIED flag (bit 63).
 */
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hv/hv_log.h"
#include "block/block.h"

#define QCOW2_MAGIC 0x514649FBu          /* "QFI\xfb" */
#define QCOW2_V2_HEADER 72
#define QCOW2_V3_HEADER 104
#define QCOW2_MIN_CLUSTER_BITS 9
#define QCOW2_MAX_CLUSTER_BITS 21
#define QCOW2_MAX_L1_ENTRIES (32u << 20)
#define QCOW2_MAX_REFTABLE_CLUSTERS (8u << 20)
#define QCOW2_MAX_SIZE (1ull << 55)
#define QCOW2_OFFSET_MASK 0x00FFFFFFFFFFFE00ull   /* bits 9-55 of L1/L2/refcount entries */
#define QCOW2_COPIED (1ull << 63)
#define QCOW2_COMPRESSED (1ull << 62)
#define QCOW2_ZERO 1ull                             /* L2 bit 0 (v3): reads as zeros */
#define QCOW2_INCOMPAT_DIRTY (1ull << 0)
#define QCOW2_INCOMPAT_CORRUPT (1ull << 1)
#define QCOW2_INCOMPAT_EXTERNAL_DATA (1ull << 2)
#define QCOW2_INCOMPAT_COMPRESSION (1ull << 3)
#define QCOW2_INCOMPAT_EXTENDED_L2 (1ull << 4)
#define QCOW2_EXT_END 0
#define QCOW2_EXT_BACKING_FORMAT 0xE2792ACAu
#define QCOW2_MAX_BACKING_NAME 1023

typedef struct {
    int fd;
    const char *path;
    unsigned cluster_bits;
    uint64_t cluster_size;
    unsigned l2_bits;              /* log2 of the entries in an L2 table */
    uint64_t l1_entries;
    uint64_t l1_offset;
    uint64_t *l1;                  /* host byte order */
    uint64_t reftable_offset;
    uint64_t reftable_entries;
    uint64_t *reftable;
    unsigned refcount_order;       /* refcount width 1 << order bits */
    uint64_t file_end;             /* where the next cluster goes (cluster-aligned) */
    BlockDev *backing;             /* NULL: unallocated clusters read as zeros */
} Qcow2;

static uint64_t be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}
static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static int corrupt(const Qcow2 *q, const char *fmt, uint64_t value)
{
    return hv_fail(EIO, "%s: corrupt qcow2 image: %s 0x%" PRIx64, q->path, fmt, value);
}

/* Whether a host offset from a table is usable: cluster-aligned and not the header. */
static bool host_offset_ok(const Qcow2 *q, uint64_t off)
{
    return off && (off & (q->cluster_size - 1)) == 0;
}

/* ---- refcounts ---- */

static uint64_t refblock_entries(const Qcow2 *q)
{
    return q->cluster_size * 8 >> q->refcount_order;
}

static int read_refcount(Qcow2 *q, uint64_t cluster, uint64_t *value)
{
    uint64_t per = refblock_entries(q), ti = cluster / per, bi = cluster % per;
    *value = 0;
    if (ti >= q->reftable_entries || !(q->reftable[ti] & QCOW2_OFFSET_MASK))
        return 0;
    uint64_t block = q->reftable[ti] & QCOW2_OFFSET_MASK;
    if (!host_offset_ok(q, block))
        return corrupt(q, "refcount block offset", block);
    unsigned bits = 1u << q->refcount_order;
    uint8_t buf[8] = {0};
    if (bits >= 8) {
        int r = block_pread_full(q->fd, buf, bits / 8, block + bi * (bits / 8));
        if (r < 0)
            return r;
        for (unsigned i = 0; i < bits / 8; i++)
            *value = *value << 8 | buf[i];
    } else {
        int r = block_pread_full(q->fd, buf, 1, block + bi * bits / 8);
        if (r < 0)
            return r;
        *value = (buf[0] >> (bi * bits % 8)) & ((1u << bits) - 1);
    }
    return 0;
}

static int allocate_cluster(Qcow2 *q, uint64_t *off);

/* Adds one to the refcount of the cluster at host offset `off`, creating its refcount
 * block when there is none (that block counts itself, possibly in itself). */
static int refcount_increment(Qcow2 *q, uint64_t off)
{
    uint64_t cluster = off >> q->cluster_bits;
    uint64_t per = refblock_entries(q), ti = cluster / per, bi = cluster % per;
    if (ti >= q->reftable_entries)
        return hv_fail(ENOSPC, "%s: the qcow2 refcount table is full (growing it is not "
                       "supported)", q->path);
    int r;
    uint64_t block = q->reftable[ti] & QCOW2_OFFSET_MASK;
    if (!block) {
        /* A new refcount block, at the end of the file. */
        block = q->file_end;
        q->file_end += q->cluster_size;
        uint8_t *zero = calloc(1, q->cluster_size);
        if (!zero)
            return hv_fail(ENOMEM, "out of memory");
        r = block_pwrite_full(q->fd, zero, q->cluster_size, block);
        free(zero);
        if (r < 0)
            return r;
        uint8_t e[8];
        put_be64(e, block);
        if ((r = block_pwrite_full(q->fd, e, 8, q->reftable_offset + ti * 8)) < 0)
            return r;
        q->reftable[ti] = block;
        if ((r = refcount_increment(q, block)) < 0)
            return r;
    } else if (!host_offset_ok(q, block)) {
        return corrupt(q, "refcount block offset", block);
    }
    uint64_t value;
    if ((r = read_refcount(q, cluster, &value)) < 0)
        return r;
    unsigned bits = 1u << q->refcount_order;
    if (bits < 64 && value + 1 >= (1ull << bits))
        return hv_fail(EOVERFLOW, "%s: refcount overflow at cluster %" PRIu64, q->path, cluster);
    value++;
    uint8_t buf[8];
    if (bits >= 8) {
        for (int i = (int)(bits / 8) - 1; i >= 0; i--, value >>= 8)
            buf[i] = (uint8_t)value;
        return block_pwrite_full(q->fd, buf, bits / 8, block + bi * (bits / 8));
    }
    uint64_t at = block + bi * bits / 8;
    if ((r = block_pread_full(q->fd, buf, 1, at)) < 0)
        return r;
    unsigned shift = (unsigned)(bi * bits % 8);
    buf[0] = (uint8_t)((buf[0] & ~(((1u << bits) - 1) << shift)) | (value << shift));
    return block_pwrite_full(q->fd, buf, 1, at);
}

/* A fresh cluster at the end of the file, zeroed on disk, refcount 1. */
static int allocate_cluster(Qcow2 *q, uint64_t *off)
{
    uint64_t at = q->file_end;
    q->file_end += q->cluster_size;
    int r = refcount_increment(q, at);
    if (r < 0)
        return r;
    *off = at;
    return 0;
}

/* ---- reading and writing ---- */

/* The L2 entry for guest offset `off` (0 when no L2 table), and where it lives. */
static int l2_lookup(Qcow2 *q, uint64_t off, uint64_t *entry, uint64_t *entry_at)
{
    uint64_t l1i = off >> (q->cluster_bits + q->l2_bits);
    uint64_t l2i = (off >> q->cluster_bits) & ((1ull << q->l2_bits) - 1);
    *entry = 0;
    *entry_at = 0;
    if (l1i >= q->l1_entries)
        return corrupt(q, "offset beyond the L1 table", off);
    uint64_t l2 = q->l1[l1i] & QCOW2_OFFSET_MASK;
    if (!l2)
        return 0;
    if (!host_offset_ok(q, l2))
        return corrupt(q, "L2 table offset", l2);
    uint8_t e[8];
    *entry_at = l2 + l2i * 8;
    int r = block_pread_full(q->fd, e, 8, *entry_at);
    if (r < 0)
        return r;
    *entry = be64(e);
    return 0;
}

/* The bytes of guest [off, off + len) that the image itself does not hold. */
static int read_unallocated(Qcow2 *q, uint64_t off, uint8_t *buf, size_t len)
{
    memset(buf, 0, len);
    if (!q->backing || off >= q->backing->size)
        return 0;
    size_t n = q->backing->size - off < len ? (size_t)(q->backing->size - off) : len;
    return block_read(q->backing, off, buf, n);
}

/* Reads within one cluster. */
static int read_chunk(Qcow2 *q, uint64_t off, uint8_t *buf, size_t len)
{
    uint64_t e, at;
    int r = l2_lookup(q, off, &e, &at);
    if (r < 0)
        return r;
    if (e & QCOW2_COMPRESSED)
        return hv_fail(ENOTSUP, "%s: compressed qcow2 clusters are not supported", q->path);
    uint64_t host = e & QCOW2_OFFSET_MASK;
    if (e & QCOW2_ZERO) {
        memset(buf, 0, len);
        return 0;
    }
    if (!host)
        return read_unallocated(q, off, buf, len);
    if (!host_offset_ok(q, host))
        return corrupt(q, "data cluster offset", host);
    return block_pread_full(q->fd, buf, len, host + (off & (q->cluster_size - 1)));
}

static int read_chunk_cb(void *ctx, uint64_t off, uint8_t *buf, size_t len)
{
    return read_chunk(ctx, off, buf, len);
}

static int qcow2_read(BlockDev *bd, uint64_t offset, void *buf, size_t len)
{
    Qcow2 *q = bd->state;
    return block_for_each_chunk(offset, buf, len, q->cluster_size, read_chunk_cb, q);
}

/* The L2 table for guest offset `off`, created (zeroed, refcount 1) when missing. */
static int l2_table_for_write(Qcow2 *q, uint64_t off, uint64_t *l2)
{
    uint64_t l1i = off >> (q->cluster_bits + q->l2_bits);
    if (l1i >= q->l1_entries)
        return corrupt(q, "offset beyond the L1 table", off);
    uint64_t e = q->l1[l1i];
    if (e & QCOW2_OFFSET_MASK) {
        if (!(e & QCOW2_COPIED))
            return hv_fail(ENOTSUP, "%s: L2 table shared with a snapshot: not written", q->path);
        *l2 = e & QCOW2_OFFSET_MASK;
        return host_offset_ok(q, *l2) ? 0 : corrupt(q, "L2 table offset", *l2);
    }
    uint64_t at;
    int r = allocate_cluster(q, &at);
    if (r < 0)
        return r;
    uint8_t *zero = calloc(1, q->cluster_size);
    if (!zero)
        return hv_fail(ENOMEM, "out of memory");
    r = block_pwrite_full(q->fd, zero, q->cluster_size, at);
    free(zero);
    if (r < 0)
        return r;
    uint8_t be[8];
    put_be64(be, at | QCOW2_COPIED);
    if ((r = block_pwrite_full(q->fd, be, 8, q->l1_offset + l1i * 8)) < 0)
        return r;
    q->l1[l1i] = at | QCOW2_COPIED;
    *l2 = at;
    return 0;
}

/* Writes within one cluster. */
static int write_chunk(Qcow2 *q, uint64_t off, const uint8_t *buf, size_t len)
{
    uint64_t l2 = 0;
    int r = l2_table_for_write(q, off, &l2);
    if (r < 0)
        return r;
    uint64_t l2i = (off >> q->cluster_bits) & ((1ull << q->l2_bits) - 1);
    uint64_t at = l2 + l2i * 8;
    uint8_t be[8];
    if ((r = block_pread_full(q->fd, be, 8, at)) < 0)
        return r;
    uint64_t e = be64(be), host = e & QCOW2_OFFSET_MASK;
    uint64_t in = off & (q->cluster_size - 1);
    if (e & QCOW2_COMPRESSED)
        return hv_fail(ENOTSUP, "%s: compressed qcow2 clusters are not supported", q->path);
    if (host && !(e & QCOW2_ZERO)) {
        if (!(e & QCOW2_COPIED))
            return hv_fail(ENOTSUP, "%s: cluster shared with a snapshot: not written", q->path);
        if (!host_offset_ok(q, host))
            return corrupt(q, "data cluster offset", host);
        return block_pwrite_full(q->fd, buf, len, host + in);
    }
    /* A new cluster: what the guest saw before (backing or zeros), then the new bytes. */
    uint8_t *cluster = malloc(q->cluster_size);
    if (!cluster)
        return hv_fail(ENOMEM, "out of memory");
    uint64_t start = off - in;
    if (e & QCOW2_ZERO)
        memset(cluster, 0, q->cluster_size);
    else if ((r = read_unallocated(q, start, cluster, q->cluster_size)) < 0)
        goto out;
    memcpy(cluster + in, buf, len);
    uint64_t new_host;
    if (host) {
        new_host = host;   /* a preallocated zero cluster keeps its place */
        if (!(e & QCOW2_COPIED)) {
            r = hv_fail(ENOTSUP, "%s: cluster shared with a snapshot: not written", q->path);
            goto out;
        }
    } else if ((r = allocate_cluster(q, &new_host)) < 0) {
        goto out;
    }
    if ((r = block_pwrite_full(q->fd, cluster, q->cluster_size, new_host)) < 0)
        goto out;
    put_be64(be, new_host | QCOW2_COPIED);
    r = block_pwrite_full(q->fd, be, 8, at);
out:
    free(cluster);
    return r;
}

static int write_chunk_cb(void *ctx, uint64_t off, uint8_t *buf, size_t len)
{
    return write_chunk(ctx, off, buf, len);
}

static int qcow2_write(BlockDev *bd, uint64_t offset, const void *buf, size_t len)
{
    Qcow2 *q = bd->state;
    return block_for_each_chunk(offset, (uint8_t *)buf, len, q->cluster_size, write_chunk_cb, q);
}

static int qcow2_flush(BlockDev *bd)
{
    return fdatasync(((Qcow2 *)bd->state)->fd) < 0 ? -errno : 0;
}

static void qcow2_free(Qcow2 *q)
{
    block_close(q->backing);
    free(q->l1);
    free(q->reftable);
    free((char *)q->path);
    free(q);
}

static void qcow2_close(BlockDev *bd)
{
    Qcow2 *q = bd->state;
    close(q->fd);
    qcow2_free(q);
    free(bd);
}

static const BlockOps qcow2_ops = {"qcow2", qcow2_read, qcow2_write, qcow2_flush, qcow2_close};

/* Reads a table of n big-endian 64-bit entries at off into host order. */
static int read_table(Qcow2 *q, uint64_t off, uint64_t n, uint64_t **out)
{
    uint64_t *t = calloc(n ? n : 1, 8);
    if (!t)
        return hv_fail(ENOMEM, "out of memory");
    int r = block_pread_full(q->fd, t, n * 8, off);
    if (r < 0) {
        free(t);
        return r;
    }
    for (uint64_t i = 0; i < n; i++)
        t[i] = be64((const uint8_t *)&t[i]);
    *out = t;
    return 0;
}

/* The backing file's name and format (header extensions), opened relative to the
 * image's directory. */
static int open_backing(Qcow2 *q, const uint8_t *hdr, size_t hdr_len, uint64_t file_size,
                        int depth)
{
    uint64_t name_off = be64(hdr + 8);
    uint32_t name_len = be32(hdr + 16);
    if (!name_off)
        return 0;
    if (name_len == 0 || name_len > QCOW2_MAX_BACKING_NAME || name_off > file_size ||
        name_len > file_size - name_off)
        return corrupt(q, "backing file name length/offset", name_off);
    char name[QCOW2_MAX_BACKING_NAME + 1];
    int r = block_pread_full(q->fd, name, name_len, name_off);
    if (r < 0)
        return r;
    name[name_len] = '\0';
    if (strlen(name) != name_len)
        return corrupt(q, "backing file name with a NUL byte at length", name_len);
    BlockFormat fmt = BLOCK_FORMAT_AUTO;
    /* Header extensions: from the header's end to the first cluster's end. */
    uint64_t ext = hdr_len;
    uint8_t eh[8];
    while (ext + 8 <= q->cluster_size) {
        if ((r = block_pread_full(q->fd, eh, 8, ext)) < 0)
            return r;
        uint32_t type = be32(eh), len = be32(eh + 4);
        if (type == QCOW2_EXT_END)
            break;
        if (len > q->cluster_size - ext - 8)
            return corrupt(q, "header extension length", len);
        if (type == QCOW2_EXT_BACKING_FORMAT) {
            char f[16] = {0};
            if (len >= sizeof(f))
                return corrupt(q, "backing format length", len);
            if ((r = block_pread_full(q->fd, f, len, ext + 8)) < 0)
                return r;
            if (block_parse_format(f, &fmt) < 0)
                return hv_fail(ENOTSUP, "%s: backing format '%s' is not supported (raw or "
                               "qcow2)", q->path, f);
        }
        ext += 8 + ((len + 7) & ~7u);
    }
    char path[PATH_MAX];
    if (name[0] == '/') {
        snprintf(path, sizeof(path), "%s", name);
    } else {
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s", q->path);
        snprintf(path, sizeof(path), "%s/%s", dirname(dir), name);
    }
    r = block_open_depth(path, fmt, BLOCK_READ_ONLY, depth + 1, &q->backing);
    if (r < 0 && depth == 0) {
        char why[256];
        snprintf(why, sizeof(why), "%s", hv_last_error());
        return hv_fail(r, "%s: backing file: %s", q->path, why);
    }
    return r;
}

int block_qcow2_open(int fd, const char *path, bool read_only, int depth, BlockDev **out)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return hv_fail(errno, "%s: %s", path, strerror(errno));
    uint64_t file_size = (uint64_t)st.st_size;
    Qcow2 *q = calloc(1, sizeof(*q));
    BlockDev *bd = calloc(1, sizeof(*bd));
    char *name = strdup(path);
    if (!q || !bd || !name) {
        free(q);
        free(bd);
        free(name);
        return hv_fail(ENOMEM, "out of memory");
    }
    q->fd = fd;
    q->path = name;
    uint8_t hdr[QCOW2_V3_HEADER + 8] = {0};
    int r = block_pread_full(fd, hdr, sizeof(hdr), 0);
    if (r < 0)
        goto fail;
    uint32_t version = be32(hdr + 4);
    if (be32(hdr) != QCOW2_MAGIC || file_size < QCOW2_V2_HEADER) {
        r = hv_fail(EINVAL, "%s: not a qcow2 image", path);
        goto fail;
    }
    if (version != 2 && version != 3) {
        r = hv_fail(ENOTSUP, "%s: qcow2 version %u is not supported (2 or 3)", path, version);
        goto fail;
    }
    q->cluster_bits = be32(hdr + 20);
    if (q->cluster_bits < QCOW2_MIN_CLUSTER_BITS || q->cluster_bits > QCOW2_MAX_CLUSTER_BITS) {
        r = corrupt(q, "cluster_bits", q->cluster_bits);
        goto fail;
    }
    q->cluster_size = 1ull << q->cluster_bits;
    q->l2_bits = q->cluster_bits - 3;
    uint64_t size = be64(hdr + 24);
    if (be32(hdr + 32) != 0) {
        r = hv_fail(ENOTSUP, "%s: encrypted qcow2 images are not supported", path);
        goto fail;
    }
    q->l1_entries = be32(hdr + 36);
    q->l1_offset = be64(hdr + 40);
    q->reftable_offset = be64(hdr + 48);
    uint32_t reftable_clusters = be32(hdr + 56);
    uint32_t nb_snapshots = be32(hdr + 60);
    size_t hdr_len = QCOW2_V2_HEADER;
    q->refcount_order = 4;
    if (version == 3) {
        uint64_t incompat = be64(hdr + 72);
        hdr_len = be32(hdr + 100);
        q->refcount_order = be32(hdr + 96);
        if (incompat & QCOW2_INCOMPAT_DIRTY) {
            r = hv_fail(ENOTSUP, "%s: the qcow2 image is dirty (refcounts may be stale): "
                        "repair it with qemu-img check -r all", path);
            goto fail;
        }
        if (incompat & QCOW2_INCOMPAT_CORRUPT) {
            r = hv_fail(EIO, "%s: the qcow2 image is marked corrupt", path);
            goto fail;
        }
        if (incompat & QCOW2_INCOMPAT_EXTERNAL_DATA) {
            r = hv_fail(ENOTSUP, "%s: qcow2 external data files are not supported", path);
            goto fail;
        }
        if (incompat & QCOW2_INCOMPAT_EXTENDED_L2) {
            r = hv_fail(ENOTSUP, "%s: qcow2 extended L2 entries are not supported", path);
            goto fail;
        }
        if (incompat & ~(QCOW2_INCOMPAT_COMPRESSION)) {
            r = hv_fail(ENOTSUP, "%s: unknown qcow2 incompatible features 0x%" PRIx64, path,
                        incompat);
            goto fail;
        }
        if (hdr_len < QCOW2_V3_HEADER || hdr_len > q->cluster_size || q->refcount_order > 6) {
            r = corrupt(q, "v3 header length or refcount order", hdr_len);
            goto fail;
        }
    }
    uint64_t per_l1 = 1ull << (q->cluster_bits + q->l2_bits);
    if (size > QCOW2_MAX_SIZE || q->l1_entries > QCOW2_MAX_L1_ENTRIES ||
        q->l1_entries < (size + per_l1 - 1) / per_l1) {
        r = corrupt(q, "virtual size / L1 size", size);
        goto fail;
    }
    if (!host_offset_ok(q, q->l1_offset) || q->l1_offset > file_size ||
        q->l1_entries * 8 > file_size - q->l1_offset) {
        r = corrupt(q, "L1 table offset", q->l1_offset);
        goto fail;
    }
    if (!host_offset_ok(q, q->reftable_offset) || reftable_clusters == 0 ||
        reftable_clusters > QCOW2_MAX_REFTABLE_CLUSTERS ||
        q->reftable_offset > file_size ||
        (uint64_t)reftable_clusters * q->cluster_size > file_size - q->reftable_offset) {
        r = corrupt(q, "refcount table offset", q->reftable_offset);
        goto fail;
    }
    q->reftable_entries = (uint64_t)reftable_clusters * q->cluster_size / 8;
    if ((r = read_table(q, q->l1_offset, q->l1_entries, &q->l1)) < 0 ||
        (r = read_table(q, q->reftable_offset, q->reftable_entries, &q->reftable)) < 0)
        goto fail;
    q->file_end = (file_size + q->cluster_size - 1) & ~(q->cluster_size - 1);
    if ((r = open_backing(q, hdr, hdr_len, file_size, depth)) < 0)
        goto fail;
    if (nb_snapshots && !read_only) {
        hv_log(HV_LOG_WARN, "%s: has %u internal snapshots: opened read-only", path,
               nb_snapshots);
        read_only = true;
    }
    *bd = (BlockDev){.ops = &qcow2_ops, .size = size, .read_only = read_only, .state = q};
    *out = bd;
    return 0;
fail:
    qcow2_free(q);
    free(bd);
    return r;
}
