/*
 * virtio-blk (virtio 1.x spec, 5.2): a request is a 16-byte header (type, reserved,
 * sector) the device reads, the data, and a status byte the device writes last. Data
 * moves through a bounce buffer in pieces of BLK_CHUNK bytes, so a request of any size
 * costs bounded host memory, and every guest address goes through the queue's DMA
 * handle. A failing disk, a sector past the end or a misshapen request is a status
 * (IOERR, UNSUPP) for the guest, never an error of the VMM.
 *
 * The I/O thread (threaded devices): the driver's notify only writes the eventfd; the
 * thread takes the device lock, serves every available request, and sleeps again. The
 * lock is held across a request, so a reset from the vCPU thread waits for the request
 * in flight and then finds the device idle.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "dev/virtio/virtio_devices.h"
#include "hv/hv_log.h"

#define BLK_CHUNK (128 * 1024)
#define BLK_QUEUE_SIZE 256
#define BLK_CONFIG_SIZE 60      /* struct virtio_blk_config up to write_zeroes_may_unmap */
#define BLK_HDR_SIZE 16

typedef struct {
    VirtioDevice vdev;
    BlockDev *bd;
    uint8_t config[BLK_CONFIG_SIZE];
    char serial[VIRTIO_BLK_ID_BYTES];
    uint8_t *buf;
    VirtqChain chain;
    int kick_fd;                /* eventfd: notifies and the quit request */
    pthread_t thread;
    bool threaded;
    bool quit;
} VirtioBlk;

/* Moves data between the disk at byte `pos` and the chain (from byte `chain_off` of its
 * readable or writable part). 0, or -EIO (disk) / -EFAULT (guest memory). */
static int blk_transfer(VirtioBlk *b, const VirtQueue *vq, uint64_t pos, uint64_t chain_off,
                        uint64_t len, bool to_guest)
{
    while (len) {
        size_t n = len < BLK_CHUNK ? (size_t)len : BLK_CHUNK;
        if (to_guest) {
            if (block_read(b->bd, pos, b->buf, n) < 0)
                return -EIO;
            if (virtq_chain_write(vq, &b->chain, chain_off, b->buf, n) != (long)n)
                return -EFAULT;
        } else {
            if (virtq_chain_read(vq, &b->chain, chain_off, b->buf, n) != (long)n)
                return -EFAULT;
            if (block_write(b->bd, pos, b->buf, n) < 0)
                return -EIO;
        }
        pos += n;
        chain_off += n;
        len -= n;
    }
    return 0;
}

/* Is [sector * 512, + len) inside the disk? */
static bool blk_in_range(const VirtioBlk *b, uint64_t sector, uint64_t len)
{
    if (sector > b->bd->size / VIRTIO_BLK_SECTOR)
        return false;
    uint64_t pos = sector * VIRTIO_BLK_SECTOR;
    return len <= b->bd->size - pos;
}

/* Serves the chain in b->chain; returns the bytes written into the guest's buffers
 * (data and status), the used ring's length. */
static uint32_t blk_request(VirtioBlk *b, const VirtQueue *vq)
{
    VirtqChain *c = &b->chain;
    if (c->in_len < 1)
        return 0;   /* no room for a status: nothing can be said */
    uint64_t status_off = c->in_len - 1;
    uint8_t hdr[BLK_HDR_SIZE];
    uint8_t status = VIRTIO_BLK_S_IOERR;
    uint64_t data_in = 0;
    if (virtq_chain_read(vq, c, 0, hdr, sizeof(hdr)) == (long)sizeof(hdr)) {
        uint32_t type;
        uint64_t sector;
        memcpy(&type, hdr, 4);
        memcpy(&sector, hdr + 8, 8);
        uint64_t out_data = c->out_len - BLK_HDR_SIZE;
        switch (type) {
        case VIRTIO_BLK_T_IN:
            if (status_off % VIRTIO_BLK_SECTOR == 0 && blk_in_range(b, sector, status_off) &&
                blk_transfer(b, vq, sector * VIRTIO_BLK_SECTOR, 0, status_off, true) == 0) {
                status = VIRTIO_BLK_S_OK;
                data_in = status_off;
            }
            break;
        case VIRTIO_BLK_T_OUT:
            if (!b->bd->read_only && out_data % VIRTIO_BLK_SECTOR == 0 &&
                blk_in_range(b, sector, out_data) &&
                blk_transfer(b, vq, sector * VIRTIO_BLK_SECTOR, BLK_HDR_SIZE, out_data, false) == 0)
                status = VIRTIO_BLK_S_OK;
            break;
        case VIRTIO_BLK_T_FLUSH:
            if (block_flush(b->bd) == 0)
                status = VIRTIO_BLK_S_OK;
            break;
        case VIRTIO_BLK_T_GET_ID: {
            uint64_t n = status_off < VIRTIO_BLK_ID_BYTES ? status_off : VIRTIO_BLK_ID_BYTES;
            if (virtq_chain_write(vq, c, 0, b->serial, n) == (long)n) {
                status = VIRTIO_BLK_S_OK;
                data_in = n;
            }
            break;
        }
        default:
            status = VIRTIO_BLK_S_UNSUPP;
            break;
        }
    }
    if (virtq_chain_write(vq, c, status_off, &status, 1) != 1)
        return (uint32_t)data_in;
    return (uint32_t)(data_in + 1);
}

/* Serves the available requests (with the lock), at most the queue's budget; true when
 * more are waiting. */
static bool blk_process_locked(VirtioBlk *b)
{
    VirtioDevice *vd = &b->vdev;
    VirtQueue *vq = &vd->vq[0];
    unsigned budget = virtq_budget(vq);
    for (;;) {
        if (!virtio_running(vd))
            return false;
        virtq_set_notification(vq, false);
        int r = 0;
        while (budget && (r = virtq_pop(vq, &b->chain)) > 0) {
            budget--;
            uint32_t written = blk_request(b, vq);
            if (virtio_complete(vd, 0, b->chain.head, written) < 0)
                return false;
        }
        if (r < 0) {
            virtio_set_needs_reset(vd, "malformed request queue");
            return false;
        }
        virtq_set_notification(vq, true);
        if (!virtq_has_work(vq))   /* a request that came before notifications were back */
            return false;
        if (!budget)
            return true;
        budget--;   /* each round costs: a ring changed by the device's own writes ends too */
    }
}

static void blk_kick(VirtioBlk *b)
{
    uint64_t one = 1;
    ssize_t w = write(b->kick_fd, &one, sizeof(one));
    (void)w;   /* a full counter is a pending kick already */
}

void virtio_blk_process(VirtioDevice *vd)
{
    pthread_mutex_lock(&vd->lock);
    bool more = blk_process_locked(vd->opaque);
    pthread_mutex_unlock(&vd->lock);
    VirtioBlk *b = vd->opaque;
    if (more && b->threaded)
        blk_kick(b);   /* the rest on the next round, after the lock was let go */
}

static void *blk_thread(void *arg)
{
    VirtioBlk *b = arg;
    for (;;) {
        uint64_t v;
        if (read(b->kick_fd, &v, sizeof(v)) < 0 && errno != EINTR && errno != EAGAIN)
            break;
        if (__atomic_load_n(&b->quit, __ATOMIC_ACQUIRE))
            break;
        virtio_blk_process(&b->vdev);
    }
    return NULL;
}

static void blk_queue_notify(VirtioDevice *vd, unsigned q)
{
    VirtioBlk *b = vd->opaque;
    (void)q;
    if (b->threaded)
        blk_kick(b);
    else
        virtio_blk_process(vd);
}

static void blk_destroy(VirtioDevice *vd)
{
    VirtioBlk *b = vd->opaque;
    if (b->threaded) {
        __atomic_store_n(&b->quit, true, __ATOMIC_RELEASE);
        blk_kick(b);
        pthread_join(b->thread, NULL);
    }
    if (b->kick_fd >= 0)
        close(b->kick_fd);
    virtio_device_fini(vd);
    free(b->buf);
    free(b);
}

static const VirtioDeviceOps blk_ops = {
    .queue_notify = blk_queue_notify,
    .destroy = blk_destroy,
};

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

VirtioDevice *virtio_blk_create(BlockDev *bd, const char *serial, bool threaded)
{
    VirtioBlk *b = calloc(1, sizeof(*b));
    if (!b || !(b->buf = malloc(BLK_CHUNK))) {
        free(b);
        hv_fail(ENOMEM, "virtio-blk: out of memory");
        return NULL;
    }
    b->bd = bd;
    b->kick_fd = -1;
    /* GET_ID's 20 bytes: NUL-padded, without a terminator when all are used (5.2.6). */
    if (serial)
        memcpy(b->serial, serial, strnlen(serial, sizeof(b->serial)));
    /* struct virtio_blk_config: capacity in sectors, seg_max, blk_size. */
    uint64_t capacity = bd->size / VIRTIO_BLK_SECTOR;
    memcpy(b->config, &capacity, 8);
    put32(b->config + 12, BLK_QUEUE_SIZE - 2);   /* data segments beside header and status */
    put32(b->config + 20, VIRTIO_BLK_SECTOR);
    uint64_t features = VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) | VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE) |
                        VIRTIO_BIT(VIRTIO_BLK_F_FLUSH);
    if (bd->read_only)
        features |= VIRTIO_BIT(VIRTIO_BLK_F_RO);
    if (virtio_device_init(&b->vdev, "virtio-blk-pci", VIRTIO_ID_BLOCK, &blk_ops, b, features,
                           1, BLK_QUEUE_SIZE, b->config, sizeof(b->config)) < 0) {
        free(b->buf);
        free(b);
        return NULL;
    }
    if (threaded) {
        b->kick_fd = eventfd(0, EFD_CLOEXEC);
        int r = b->kick_fd < 0 ? errno : pthread_create(&b->thread, NULL, blk_thread, b);
        if (r) {
            hv_fail(r, "virtio-blk: cannot start the I/O thread: %s", strerror(r));
            blk_destroy(&b->vdev);
            return NULL;
        }
        b->threaded = true;
    }
    return &b->vdev;
}
