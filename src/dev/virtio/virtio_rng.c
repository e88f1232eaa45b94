/*
 * virtio-rng (virtio 1.x spec, 5.4): one queue of device-writable buffers, filled from
 * getrandom(2) on the notifying thread (it does not block once the host's pool is
 * initialised). A request gets at most VIRTIO_RNG_MAX_REQUEST bytes; the spec lets the
 * device fill less than the buffers hold and say how much in the used ring.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

#include "dev/virtio/virtio_devices.h"
#include "hv/hv_log.h"

#define RNG_QUEUE_SIZE 64
#define RNG_CHUNK 4096

typedef struct {
    VirtioDevice vdev;
    VirtqChain chain;
} VirtioRng;

/* Fills the chain's writable buffers; returns the bytes written. */
static uint32_t rng_fill(VirtioRng *r, const VirtQueue *vq)
{
    uint64_t want = r->chain.in_len < VIRTIO_RNG_MAX_REQUEST ? r->chain.in_len
                                                             : VIRTIO_RNG_MAX_REQUEST;
    uint8_t buf[RNG_CHUNK];
    uint64_t done = 0;
    while (done < want) {
        size_t n = want - done < sizeof(buf) ? (size_t)(want - done) : sizeof(buf);
        ssize_t got = getrandom(buf, n, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (virtq_chain_write(vq, &r->chain, done, buf, (uint64_t)got) != got)
            break;
        done += (uint64_t)got;
    }
    return (uint32_t)done;
}

static void rng_queue_notify(VirtioDevice *vd, unsigned q)
{
    VirtioRng *r = vd->opaque;
    (void)q;
    pthread_mutex_lock(&vd->lock);
    VirtQueue *vq = &vd->vq[0];
    int got;
    for (unsigned budget = virtq_budget(vq);
         budget && virtio_running(vd) && (got = virtq_pop(vq, &r->chain)) != 0; budget--) {
        if (got < 0) {
            virtio_set_needs_reset(vd, "malformed request queue");
            break;
        }
        if (virtio_complete(vd, 0, r->chain.head, rng_fill(r, vq)) < 0)
            break;
    }
    pthread_mutex_unlock(&vd->lock);
}

static void rng_destroy(VirtioDevice *vd)
{
    virtio_device_fini(vd);
    free(vd->opaque);
}

static const VirtioDeviceOps rng_ops = {
    .queue_notify = rng_queue_notify,
    .destroy = rng_destroy,
};

VirtioDevice *virtio_rng_create(void)
{
    VirtioRng *r = calloc(1, sizeof(*r));
    if (!r) {
        hv_fail(ENOMEM, "virtio-rng: out of memory");
        return NULL;
    }
    if (virtio_device_init(&r->vdev, "virtio-rng-pci", VIRTIO_ID_RNG, &rng_ops, r, 0, 1,
                           RNG_QUEUE_SIZE, NULL, 0) < 0) {
        free(r);
        return NULL;
    }
    return &r->vdev;
}
