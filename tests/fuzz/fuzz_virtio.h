/*
 * What the virtio device harnesses (fuzz_virtio_blk.c, fuzz_virtio_net.c,
 * fuzz_virtio_rng.c) share: a hostile driver over a flat 64 KiB guest memory.
 *
 * Input: a header (driver features: 4 bytes; then per queue: a size exponent byte and the
 * desc, avail and used addresses as 3 bytes each: 16 bits and a flag byte whose bit 0
 * puts the address near the top of the 64-bit space, so lengths wrap), then up to
 * FUZZ_VIRTIO_OPS operations of 4 bytes (kind, a byte, 16 bits), then the memory image
 * (the rest, copied from address 0). Operations: notify a queue; reset and set up again;
 * poke a memory byte (rings and requests change between notifies); move a queue's rings
 * (disable, new address, enable); write a raw status; read or write the device
 * configuration; kind 6-7 the device's own (fuzz_virtio_device_op).
 */
#ifndef SCRATCHVM_TESTS_FUZZ_VIRTIO_H
#define SCRATCHVM_TESTS_FUZZ_VIRTIO_H

#include <string.h>

#include "fuzz.h"
#include "dev/virtio/virtio_devices.h"

#define FUZZ_VIRTIO_MEM 65536
#define FUZZ_VIRTIO_OPS 24

typedef struct {
    uint8_t mem[FUZZ_VIRTIO_MEM];
    DmaFlat flat;
    DmaHandle dma;
    VirtioDevice *vd;
    uint32_t features;
    uint8_t size_exp[VIRTIO_MAX_QUEUES];
    uint64_t addr[VIRTIO_MAX_QUEUES][3];
    int irqs;
} FuzzVirtio;

/* The device's own operation (kind 6 or 7), defined by each harness. */
static void fuzz_virtio_device_op(FuzzVirtio *f, unsigned kind, unsigned a8, unsigned a16);

static void fuzz_virtio_irq(void *transport, VirtioDevice *vd, int queue)
{
    (void)vd;
    (void)queue;
    ((FuzzVirtio *)transport)->irqs++;
}

static uint64_t fuzz_virtio_addr(FuzzIn *in)
{
    uint64_t a = fuzz_take(in, 2);
    return fuzz_take(in, 1) & 1 ? a | 0xffffffffffff0000ull : a;
}

/* What a driver does to bring the device up (virtio 1.x spec, 3.1.1). */
static void fuzz_virtio_start(FuzzVirtio *f)
{
    VirtioDevice *vd = f->vd;
    virtio_set_status(vd, 0);
    virtio_set_status(vd, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    virtio_set_driver_features(vd, 0, f->features);
    virtio_set_driver_features(vd, 1, 1);   /* VERSION_1 */
    virtio_set_status(vd, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                              VIRTIO_STATUS_FEATURES_OK);
    pthread_mutex_lock(&vd->lock);
    for (unsigned q = 0; q < vd->num_queues; q++) {
        VirtQueue *vq = &vd->vq[q];
        vq->size = (uint16_t)(1u << (f->size_exp[q] % 10));   /* 512 is too big: refused */
        vq->desc = f->addr[q][0];
        vq->avail = f->addr[q][1];
        vq->used = f->addr[q][2];
        vq->ready = true;
    }
    pthread_mutex_unlock(&vd->lock);
    virtio_set_status(vd, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                              VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
}

/* Runs one input on a freshly created device (which it destroys). */
static void fuzz_virtio_run(FuzzVirtio *f, VirtioDevice *vd, const uint8_t *data, size_t size)
{
    if (!vd)
        return;
    FuzzIn in = {data, size};
    f->vd = vd;
    f->irqs = 0;
    f->flat = (DmaFlat){f->mem, sizeof(f->mem)};
    f->dma = dma_flat_handle(&f->flat);
    vd->interrupt = fuzz_virtio_irq;
    vd->transport = f;
    virtio_device_set_dma(vd, &f->dma);
    f->features = fuzz_take(&in, 4);
    for (unsigned q = 0; q < vd->num_queues; q++) {
        f->size_exp[q] = (uint8_t)fuzz_take(&in, 1);
        for (int k = 0; k < 3; k++)
            f->addr[q][k] = fuzz_virtio_addr(&in);
    }
    uint8_t ops[FUZZ_VIRTIO_OPS][4];
    unsigned nops = fuzz_take(&in, 1) % (FUZZ_VIRTIO_OPS + 1);
    for (unsigned i = 0; i < nops; i++)
        for (int k = 0; k < 4; k++)
            ops[i][k] = (uint8_t)fuzz_take(&in, 1);
    memset(f->mem, 0, sizeof(f->mem));
    memcpy(f->mem, in.p, in.left < sizeof(f->mem) ? in.left : sizeof(f->mem));
    fuzz_virtio_start(f);
    for (unsigned i = 0; i < nops; i++) {
        unsigned kind = ops[i][0] & 7, a8 = ops[i][1], a16 = ops[i][2] | ops[i][3] << 8;
        unsigned q = a8 % vd->num_queues;
        switch (kind) {
        case 0:
            virtio_queue_notify(vd, q);
            break;
        case 1:
            f->features = (uint32_t)a16 << 16 | a8;
            fuzz_virtio_start(f);
            break;
        case 2:
            f->mem[a16] = (uint8_t)a8;
            break;
        case 3:
            pthread_mutex_lock(&vd->lock);
            vd->vq[q].ready = false;
            vd->vq[q].desc = a16;
            vd->vq[q].avail = (a16 + 0x1000u) & 0xffff;
            vd->vq[q].used = (a16 + 0x2000u) & 0xffff;
            vd->vq[q].ready = true;
            pthread_mutex_unlock(&vd->lock);
            break;
        case 4:
            virtio_set_status(vd, (uint8_t)a8);
            break;
        case 5:
            if (a8 & 1)
                virtio_config_write(vd, a16 & 0xff, 1u << (a8 >> 1 & 3), a16);
            else
                (void)virtio_config_read(vd, a16 & 0xff, 1u << (a8 >> 1 & 3));
            break;
        default:
            fuzz_virtio_device_op(f, kind, a8, a16);
            break;
        }
    }
    virtio_device_destroy(vd);
}

#endif
