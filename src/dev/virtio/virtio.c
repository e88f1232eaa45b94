/* The transport-independent virtio device (virtio.h). */
#include "dev/virtio/virtio.h"

#include <errno.h>
#include <string.h>

#include "hv/hv_log.h"

int virtio_device_init(VirtioDevice *vd, const char *name, uint16_t type,
                       const VirtioDeviceOps *ops, void *opaque, uint64_t features,
                       unsigned num_queues, uint16_t queue_max, uint8_t *config,
                       uint32_t config_size)
{
    if (num_queues == 0 || num_queues > VIRTIO_MAX_QUEUES || queue_max == 0 ||
        queue_max > VIRTQ_MAX_SIZE || (queue_max & (queue_max - 1)))
        return hv_fail(EINVAL, "%s: bad queue layout", name);
    memset(vd, 0, sizeof(*vd));
    vd->name = name;
    vd->device_type = type;
    vd->ops = ops;
    vd->opaque = opaque;
    vd->features = features | VIRTIO_BIT(VIRTIO_F_VERSION_1) |
                   VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC) | VIRTIO_BIT(VIRTIO_F_EVENT_IDX);
    vd->num_queues = num_queues;
    vd->queue_max = queue_max;
    vd->config = config;
    vd->config_size = config_size;
    vd->config_vector = VIRTIO_NO_VECTOR;
    for (unsigned i = 0; i < num_queues; i++) {
        virtq_reset(&vd->vq[i]);
        vd->vq[i].size = queue_max;
        vd->vq[i].msix_vector = VIRTIO_NO_VECTOR;
    }
    int r = pthread_mutex_init(&vd->lock, NULL);
    return r ? hv_fail(r, "%s: mutex: %s", name, strerror(r)) : 0;
}

void virtio_device_fini(VirtioDevice *vd)
{
    pthread_mutex_destroy(&vd->lock);
}

void virtio_device_destroy(VirtioDevice *vd)
{
    if (vd && vd->ops->destroy)
        vd->ops->destroy(vd);
}

void virtio_device_set_dma(VirtioDevice *vd, const DmaHandle *dma)
{
    pthread_mutex_lock(&vd->lock);
    vd->dma = dma;
    for (unsigned i = 0; i < vd->num_queues; i++)
        vd->vq[i].dma = dma;
    pthread_mutex_unlock(&vd->lock);
}

uint8_t virtio_get_status(VirtioDevice *vd)
{
    pthread_mutex_lock(&vd->lock);
    uint8_t s = vd->status;
    pthread_mutex_unlock(&vd->lock);
    return s;
}

/* Back to power-on state (with the lock): queues, features, status, interrupts. */
static void reset_locked(VirtioDevice *vd)
{
    for (unsigned i = 0; i < vd->num_queues; i++) {
        virtq_reset(&vd->vq[i]);
        vd->vq[i].dma = vd->dma;
        vd->vq[i].size = vd->queue_max;
        vd->vq[i].msix_vector = VIRTIO_NO_VECTOR;
    }
    vd->driver_features = 0;
    vd->status = 0;
    vd->config_vector = VIRTIO_NO_VECTOR;
    __atomic_store_n(&vd->isr, 0, __ATOMIC_SEQ_CST);
    if (vd->ops->reset)
        vd->ops->reset(vd);
}

void virtio_set_status(VirtioDevice *vd, uint8_t status)
{
    pthread_mutex_lock(&vd->lock);
    if (status == 0) {
        reset_locked(vd);
        pthread_mutex_unlock(&vd->lock);
        return;
    }
    uint8_t old = vd->status;
    if ((status & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK)) {
        /* 3.1.1: only offered features, and this is a modern-only device. */
        bool ok = !(vd->driver_features & ~vd->features) &&
                  (vd->driver_features & VIRTIO_BIT(VIRTIO_F_VERSION_1));
        if (!ok) {
            status &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
        } else {
            for (unsigned i = 0; i < vd->num_queues; i++) {
                vd->vq[i].event_idx = vd->driver_features & VIRTIO_BIT(VIRTIO_F_EVENT_IDX);
                vd->vq[i].indirect = vd->driver_features & VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC);
            }
        }
    }
    /* The driver cannot clear bits but by a reset, nor set NEEDS_RESET. */
    status = (uint8_t)((status | old) & ~VIRTIO_STATUS_DEVICE_NEEDS_RESET) |
             (old & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    if ((status & VIRTIO_STATUS_DRIVER_OK) && !(status & VIRTIO_STATUS_FEATURES_OK))
        status &= (uint8_t)~VIRTIO_STATUS_DRIVER_OK;   /* DRIVER_OK before features: no */
    vd->status = status;
    if ((status & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK) && vd->ops->driver_ok)
        vd->ops->driver_ok(vd);
    pthread_mutex_unlock(&vd->lock);
}

uint32_t virtio_get_features(VirtioDevice *vd, unsigned select)
{
    return select < 2 ? (uint32_t)(vd->features >> (32 * select)) : 0;
}

uint32_t virtio_get_driver_features(VirtioDevice *vd, unsigned select)
{
    pthread_mutex_lock(&vd->lock);
    uint32_t v = select < 2 ? (uint32_t)(vd->driver_features >> (32 * select)) : 0;
    pthread_mutex_unlock(&vd->lock);
    return v;
}

void virtio_set_driver_features(VirtioDevice *vd, unsigned select, uint32_t value)
{
    pthread_mutex_lock(&vd->lock);
    if (select < 2 && !(vd->status & VIRTIO_STATUS_FEATURES_OK)) {
        uint64_t mask = 0xffffffffull << (32 * select);
        vd->driver_features = (vd->driver_features & ~mask) | ((uint64_t)value << (32 * select));
    }
    pthread_mutex_unlock(&vd->lock);
}

void virtio_queue_notify(VirtioDevice *vd, unsigned q)
{
    if (q >= vd->num_queues)
        return;
    pthread_mutex_lock(&vd->lock);
    bool live = virtio_running(vd) && vd->vq[q].ready;
    pthread_mutex_unlock(&vd->lock);
    if (live && vd->ops->queue_notify)
        vd->ops->queue_notify(vd, q);
}

uint64_t virtio_config_read(VirtioDevice *vd, uint32_t offset, uint32_t len)
{
    uint64_t v = 0;
    pthread_mutex_lock(&vd->lock);
    if (len <= 8 && offset < vd->config_size && len <= vd->config_size - offset)
        memcpy(&v, vd->config + offset, len);
    pthread_mutex_unlock(&vd->lock);
    return v;
}

void virtio_config_write(VirtioDevice *vd, uint32_t offset, uint32_t len, uint64_t value)
{
    pthread_mutex_lock(&vd->lock);
    if (vd->ops->config_write && len <= 8 && offset < vd->config_size &&
        len <= vd->config_size - offset)
        vd->ops->config_write(vd, offset, &value, len);
    pthread_mutex_unlock(&vd->lock);
}

uint8_t virtio_isr_read_clear(VirtioDevice *vd)
{
    return __atomic_exchange_n(&vd->isr, 0, __ATOMIC_SEQ_CST);
}

bool virtio_running(const VirtioDevice *vd)
{
    return (vd->status & VIRTIO_STATUS_DRIVER_OK) &&
           !(vd->status & (VIRTIO_STATUS_DEVICE_NEEDS_RESET | VIRTIO_STATUS_FAILED));
}

static void raise_irq(VirtioDevice *vd, int queue, uint8_t isr_bit)
{
    __atomic_or_fetch(&vd->isr, isr_bit, __ATOMIC_SEQ_CST);
    if (vd->interrupt)
        vd->interrupt(vd->transport, vd, queue);
}

int virtio_complete(VirtioDevice *vd, unsigned q, uint16_t head, uint32_t written)
{
    VirtQueue *vq = &vd->vq[q];
    int r = virtq_push(vq, head, written);
    if (r < 0) {
        virtio_set_needs_reset(vd, "the used ring is not in RAM");
        return r;
    }
    if (virtq_should_notify(vq))
        raise_irq(vd, (int)q, VIRTIO_ISR_QUEUE);
    return 0;
}

void virtio_set_needs_reset(VirtioDevice *vd, const char *why)
{
    if (vd->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
        return;
    hv_log(HV_LOG_INFO, "%s: the driver broke the virtio rules (%s): the device needs a reset",
           vd->name, why);
    vd->status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    if (vd->status & VIRTIO_STATUS_DRIVER_OK)
        virtio_config_changed(vd);
}

void virtio_config_changed(VirtioDevice *vd)
{
    vd->config_generation++;
    raise_irq(vd, VIRTIO_CONFIG_IRQ, VIRTIO_ISR_CONFIG);
}
