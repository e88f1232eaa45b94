/*
 * A virtio 1.x device, independent of its transport (virtio 1.x spec, 2 and 3): feature
 * negotiation, the status state machine (FEATURES_OK, DRIVER_OK, DEVICE_NEEDS_RESET,
 * reset by writing 0), the queues and the device-specific configuration space. The
 * transport (virtio_pci.c) turns the guest's register accesses into the calls below and
 * supplies the interrupt; a device type (virtio_blk.c, ...) supplies VirtioDeviceOps.
 *
 * Threads: the transport calls in on the vCPU thread; a device may serve its queues on a
 * thread of its own. `lock` guards the status, the features and the queues: a device
 * holds it from taking a chain to returning it, so a reset (which takes it too) never
 * sees a request half done and no request completes into a queue after its reset.
 * Internal to the library.
 */
#ifndef SCRATCHVM_DEV_VIRTIO_VIRTIO_H
#define SCRATCHVM_DEV_VIRTIO_VIRTIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "dev/dma.h"
#include "dev/virtio/virtqueue.h"

/* Device status bits (2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED 128

/* Reserved feature bits (6). */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32

/* Device types (5). */
#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG 4

/* ISR status bits (4.1.4.5). */
#define VIRTIO_ISR_QUEUE 1
#define VIRTIO_ISR_CONFIG 2

#define VIRTIO_MAX_QUEUES 8
#define VIRTIO_NO_VECTOR 0xffff
/* The queue argument of VirtioDevice.interrupt for a configuration change. */
#define VIRTIO_CONFIG_IRQ (-1)

#define VIRTIO_BIT(n) (1ull << (n))

typedef struct VirtioDevice VirtioDevice;

typedef struct {
    /* The driver made buffers available on queue q (the vCPU thread, without `lock`):
     * serve them, or wake the thread that does. */
    void (*queue_notify)(VirtioDevice *vd, unsigned q);
    /* The driver wrote the device configuration (with `lock`); NULL: read-only. */
    void (*config_write)(VirtioDevice *vd, uint32_t offset, const void *data, uint32_t len);
    /* Reset (with `lock`, after the queues were reset): drop the device's own state. */
    void (*reset)(VirtioDevice *vd);
    /* DRIVER_OK was set (with `lock`): the queues are live. */
    void (*driver_ok)(VirtioDevice *vd);
    /* Frees the device type's state, vd included (no thread of it left running). */
    void (*destroy)(VirtioDevice *vd);
} VirtioDeviceOps;

struct VirtioDevice {
    const char *name;             /* QEMU's device name, "virtio-blk-pci" */
    uint16_t device_type;         /* VIRTIO_ID_* */
    const VirtioDeviceOps *ops;
    void *opaque;                 /* the device type's state */
    uint64_t features;            /* offered: the device's, VERSION_1, INDIRECT, EVENT_IDX */
    uint64_t driver_features;     /* what the driver accepted (a subset, checked) */
    uint8_t status;
    uint8_t isr;                  /* VIRTIO_ISR_*: atomic, read-and-clear by the transport */
    uint8_t config_generation;
    uint16_t config_vector;
    unsigned num_queues;
    uint16_t queue_max;           /* the size each queue offers (the driver may lower it) */
    VirtQueue vq[VIRTIO_MAX_QUEUES];
    uint8_t *config;              /* the device-specific configuration structure */
    uint32_t config_size;
    const DmaHandle *dma;
    /* From the transport: raise queue q's interrupt (or the config change's). Any
     * thread; called with `lock`. */
    void (*interrupt)(void *transport, VirtioDevice *vd, int queue);
    void *transport;
    pthread_mutex_t lock;
};

/* Fills in a device: device-specific features `features` (VERSION_1, INDIRECT_DESC and
 * EVENT_IDX are added), `num_queues` queues of up to `queue_max` entries. */
int virtio_device_init(VirtioDevice *vd, const char *name, uint16_t type,
                       const VirtioDeviceOps *ops, void *opaque, uint64_t features,
                       unsigned num_queues, uint16_t queue_max, uint8_t *config,
                       uint32_t config_size);
void virtio_device_fini(VirtioDevice *vd);
/* The device type's destroy (NULL is nothing). */
void virtio_device_destroy(VirtioDevice *vd);
/* Memory for the queues (the transport's bus-master-checked handle). */
void virtio_device_set_dma(VirtioDevice *vd, const DmaHandle *dma);

/* The transport's side, each taking `lock` itself. */
uint8_t virtio_get_status(VirtioDevice *vd);
/* Applies the driver's write: 0 resets; FEATURES_OK is refused (left clear) when the
 * features are not acceptable; DRIVER_OK starts the device. */
void virtio_set_status(VirtioDevice *vd, uint8_t status);
uint32_t virtio_get_features(VirtioDevice *vd, unsigned select);
uint32_t virtio_get_driver_features(VirtioDevice *vd, unsigned select);
/* Ignored once FEATURES_OK is set (3.1.1). */
void virtio_set_driver_features(VirtioDevice *vd, unsigned select, uint32_t value);
/* The driver kicked queue q (ignored unless DRIVER_OK and the queue is enabled). */
void virtio_queue_notify(VirtioDevice *vd, unsigned q);
/* Device configuration bytes [offset, offset + len) (len <= 8); out of range: zeros, and
 * writes ignored. */
uint64_t virtio_config_read(VirtioDevice *vd, uint32_t offset, uint32_t len);
void virtio_config_write(VirtioDevice *vd, uint32_t offset, uint32_t len, uint64_t value);
/* ISR status, cleared by the read (4.1.4.5.1). */
uint8_t virtio_isr_read_clear(VirtioDevice *vd);

/* The device's side (with `lock` held). */
/* Is the device live (DRIVER_OK, not NEEDS_RESET)? */
bool virtio_running(const VirtioDevice *vd);
/* Returns a chain and raises the queue's interrupt when the driver wants one. */
int virtio_complete(VirtioDevice *vd, unsigned q, uint16_t head, uint32_t written);
/* The driver broke the rules on queue q: DEVICE_NEEDS_RESET and a config interrupt
 * (2.1.2); the device stops using its queues until reset. */
void virtio_set_needs_reset(VirtioDevice *vd, const char *why);
/* The device configuration changed (e.g. the link): generation and interrupt. */
void virtio_config_changed(VirtioDevice *vd);

#endif
