/*
 * virtio-net (virtio 1.x spec, 5.1) on a net back end: queue 0 receives, queue 1
 * transmits; no control queue, no offloads, no mergeable receive buffers. Every frame
 * carries the 12-byte struct virtio_net_hdr in front (VERSION_1 always has num_buffers),
 * all zero from the device but num_buffers = 1, and ignored from the driver.
 *
 * Locks: the back end delivers frames on its own thread, holding its lock, and the
 * receive path takes the device's; so the transmit path copies a frame out of the guest
 * with the device's lock, drops it, and only then calls the back end. `tx_lock` keeps the
 * one transmit buffer to one sender at a time.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dev/virtio/virtio_devices.h"
#include "hv/hv_log.h"

#define NET_QUEUE_SIZE 256
#define NET_RXQ 0
#define NET_TXQ 1
#define NET_CONFIG_SIZE 12       /* mac, status, max_virtqueue_pairs, mtu */
#define NET_PENDING 64           /* frames kept while the guest has no receive buffer */

typedef struct {
    uint8_t *data;
    size_t len;
} PendingFrame;

typedef struct {
    VirtioDevice vdev;
    NetBackend *backend;
    uint8_t config[NET_CONFIG_SIZE];
    VirtqChain rx_chain, tx_chain;
    PendingFrame pending[NET_PENDING];
    unsigned pending_head, pending_count;
    pthread_mutex_t tx_lock;
    uint8_t tx_buf[VIRTIO_NET_MAX_FRAME];
    uint64_t rx_dropped;
} VirtioNet;

/* Writes one frame into the next receive buffer (with the device lock): 1 done, 0 no
 * buffer (or not running), -1 the queue broke. */
static int rx_one(VirtioNet *n, const uint8_t *frame, size_t len)
{
    VirtioDevice *vd = &n->vdev;
    VirtQueue *vq = &vd->vq[NET_RXQ];
    if (!virtio_running(vd))
        return 0;
    int r = virtq_pop(vq, &n->rx_chain);
    if (r < 0) {
        virtio_set_needs_reset(vd, "malformed receive queue");
        return -1;
    }
    if (r == 0)
        return 0;
    uint8_t hdr[VIRTIO_NET_HDR_SIZE] = {0};
    hdr[10] = 1;   /* num_buffers */
    uint32_t written = 0;
    if (n->rx_chain.in_len >= VIRTIO_NET_HDR_SIZE + len &&
        virtq_chain_write(vq, &n->rx_chain, 0, hdr, sizeof(hdr)) == (long)sizeof(hdr) &&
        virtq_chain_write(vq, &n->rx_chain, sizeof(hdr), frame, len) == (long)len)
        written = (uint32_t)(sizeof(hdr) + len);
    else
        n->rx_dropped++;   /* a buffer too small or not RAM: the frame is lost */
    return virtio_complete(vd, NET_RXQ, n->rx_chain.head, written) < 0 ? -1 : 1;
}

/* Delivers waiting frames while there are buffers (with the device lock). */
static void rx_flush_pending(VirtioNet *n)
{
    while (n->pending_count) {
        PendingFrame *f = &n->pending[n->pending_head];
        if (rx_one(n, f->data, f->len) <= 0)
            return;
        free(f->data);
        f->data = NULL;
        n->pending_head = (n->pending_head + 1) % NET_PENDING;
        n->pending_count--;
    }
}

static void drop_pending(VirtioNet *n)
{
    for (unsigned i = 0; i < NET_PENDING; i++) {
        free(n->pending[i].data);
        n->pending[i].data = NULL;
    }
    n->pending_head = n->pending_count = 0;
}

static void net_receive(void *opaque, const uint8_t *frame, size_t len)
{
    VirtioNet *n = opaque;
    VirtioDevice *vd = &n->vdev;
    if (len > VIRTIO_NET_MAX_FRAME - VIRTIO_NET_HDR_SIZE)
        return;
    pthread_mutex_lock(&vd->lock);
    rx_flush_pending(n);
    if (n->pending_count == 0 && rx_one(n, frame, len) != 0) {
        pthread_mutex_unlock(&vd->lock);
        return;
    }
    /* No buffer now: keep it for the guest's next kick, while the driver is there. */
    uint8_t *copy = virtio_running(vd) && n->pending_count < NET_PENDING ? malloc(len ? len : 1)
                                                                        : NULL;
    if (copy) {
        memcpy(copy, frame, len);
        unsigned tail = (n->pending_head + n->pending_count) % NET_PENDING;
        n->pending[tail] = (PendingFrame){copy, len};
        n->pending_count++;
    } else {
        n->rx_dropped++;
    }
    pthread_mutex_unlock(&vd->lock);
}

void virtio_net_receive(VirtioDevice *vd, const uint8_t *frame, size_t len)
{
    net_receive(vd->opaque, frame, len);
}

void virtio_net_process_tx(VirtioDevice *vd)
{
    VirtioNet *n = vd->opaque;
    pthread_mutex_lock(&n->tx_lock);
    for (unsigned budget = virtq_budget(&vd->vq[NET_TXQ]); budget; budget--) {
        pthread_mutex_lock(&vd->lock);
        VirtQueue *vq = &vd->vq[NET_TXQ];
        int r = virtio_running(vd) ? virtq_pop(vq, &n->tx_chain) : 0;
        if (r < 0)
            virtio_set_needs_reset(vd, "malformed transmit queue");
        long len = -1;
        if (r > 0) {
            uint64_t total = n->tx_chain.out_len;
            if (total > VIRTIO_NET_HDR_SIZE && total <= sizeof(n->tx_buf))
                len = virtq_chain_read(vq, &n->tx_chain, VIRTIO_NET_HDR_SIZE, n->tx_buf,
                                       total - VIRTIO_NET_HDR_SIZE);
            if (virtio_complete(vd, NET_TXQ, n->tx_chain.head, 0) < 0)
                r = -1;
        }
        pthread_mutex_unlock(&vd->lock);
        if (r <= 0)
            break;
        if (len > 0)   /* else too short, too long or not RAM: dropped */
            net_backend_send(n->backend, n->tx_buf, (size_t)len);
    }
    pthread_mutex_unlock(&n->tx_lock);
}

static void net_queue_notify(VirtioDevice *vd, unsigned q)
{
    VirtioNet *n = vd->opaque;
    if (q == NET_TXQ) {
        virtio_net_process_tx(vd);
    } else if (q == NET_RXQ) {
        pthread_mutex_lock(&vd->lock);
        rx_flush_pending(n);
        pthread_mutex_unlock(&vd->lock);
    }
}

static void net_reset(VirtioDevice *vd)
{
    drop_pending(vd->opaque);
}

static void net_destroy(VirtioDevice *vd)
{
    VirtioNet *n = vd->opaque;
    net_backend_destroy(n->backend);   /* its thread delivers no frame after this */
    drop_pending(n);
    pthread_mutex_destroy(&n->tx_lock);
    virtio_device_fini(vd);
    free(n);
}

static const VirtioDeviceOps net_ops = {
    .queue_notify = net_queue_notify,
    .reset = net_reset,
    .destroy = net_destroy,
};

VirtioDevice *virtio_net_create(NetBackend *backend, const uint8_t mac[6])
{
    VirtioNet *n = calloc(1, sizeof(*n));
    if (!n) {
        net_backend_destroy(backend);
        hv_fail(ENOMEM, "virtio-net: out of memory");
        return NULL;
    }
    n->backend = backend;
    memcpy(n->config, mac, 6);
    n->config[6] = VIRTIO_NET_S_LINK_UP;
    n->config[8] = 1;   /* max_virtqueue_pairs (only read with VIRTIO_NET_F_MQ) */
    uint64_t features = VIRTIO_BIT(VIRTIO_NET_F_MAC) | VIRTIO_BIT(VIRTIO_NET_F_STATUS);
    if (virtio_device_init(&n->vdev, "virtio-net-pci", VIRTIO_ID_NET, &net_ops, n, features, 2,
                           NET_QUEUE_SIZE, n->config, sizeof(n->config)) < 0) {
        net_backend_destroy(backend);
        free(n);
        return NULL;
    }
    pthread_mutex_init(&n->tx_lock, NULL);
    if (net_backend_start(backend, net_receive, n) < 0) {
        net_destroy(&n->vdev);
        return NULL;
    }
    return &n->vdev;
}
