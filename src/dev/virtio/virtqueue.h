/*
 * Split virtqueues (virtio 1.x spec, 2.7): the descriptor table, the available ring the
 * driver fills and the used ring the device fills, all in guest memory and all hostile.
 * Every field is read through the queue's DmaHandle at the moment it is needed (no
 * pointer into guest memory is kept), so a ring that moves or a queue that is reset
 * between two calls never leaves a stale pointer behind. A chain is bounded by the queue
 * size (the spec's limit for the driver, 2.7.5.3.1), an indirect table by its own length,
 * and an indirect table may not contain another. Internal to the library.
 */
#ifndef SCRATCHVM_DEV_VIRTIO_VIRTQUEUE_H
#define SCRATCHVM_DEV_VIRTIO_VIRTQUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "dev/dma.h"

/* The largest queue a device offers here: also the bound on a chain's segments. */
#define VIRTQ_MAX_SIZE 256

/* Descriptor flags (2.7.5). */
#define VIRTQ_DESC_F_NEXT     1
#define VIRTQ_DESC_F_WRITE    2
#define VIRTQ_DESC_F_INDIRECT 4
/* Ring flags (2.7.6, 2.7.8). */
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY     1

#define VIRTQ_DESC_SIZE 16

typedef struct {
    /* Set by the transport from the driver's writes. */
    uint16_t size;            /* entries: a power of two, 1..VIRTQ_MAX_SIZE */
    bool ready;
    uint64_t desc, avail, used;
    uint16_t msix_vector;
    /* Set by the device core from the negotiated features. */
    bool event_idx;           /* VIRTIO_F_EVENT_IDX */
    bool indirect;            /* VIRTIO_F_INDIRECT_DESC */
    const DmaHandle *dma;
    /* The device's position. */
    uint16_t last_avail;      /* next available-ring entry to take */
    uint16_t used_idx;        /* next used-ring entry to fill */
    uint16_t signalled_used;  /* used_idx at the last interrupt (event index) */
    bool signalled_valid;
    bool broken;              /* the driver broke the rules: the queue stops */
} VirtQueue;

/* One buffer of a chain: guest-physical [addr, addr + len). */
typedef struct {
    uint64_t addr;
    uint32_t len;
} VirtqSeg;

/* A descriptor chain taken from the available ring: the device-readable segments first
 * (out), then the device-writable ones (in), as the spec orders them (2.7.4.2). */
typedef struct {
    uint16_t head;
    unsigned num_out, num_in;
    uint64_t out_len, in_len;   /* total bytes of each direction */
    VirtqSeg seg[VIRTQ_MAX_SIZE];
} VirtqChain;

/* How many chains a device serves per kick at most: a driver whose used ring overlaps its
 * available ring can make every completion publish a new request, so an unbounded loop
 * would never end. Twice the ring is more than a well-behaved driver ever has waiting. */
static inline unsigned virtq_budget(const VirtQueue *vq) { return 2u * vq->size; }

/* Back to the state before the driver set the queue up. */
void virtq_reset(VirtQueue *vq);
/* Is the queue usable: ready, a valid size, and its three areas in guest memory? */
bool virtq_usable(const VirtQueue *vq);
/* Takes the next available chain into *c: 1 when there was one, 0 when the ring is
 * empty, -EFAULT/-EINVAL when the ring or the chain breaks the rules (a loop, a length
 * that wraps, memory that is not RAM, a readable buffer after a writable one, nested or
 * misshapen indirect tables). A broken queue stays broken (vq->broken) until reset. */
int virtq_pop(VirtQueue *vq, VirtqChain *c);
/* Returns chain `head` with `written` bytes to the used ring. 0, or -EFAULT. */
int virtq_push(VirtQueue *vq, uint16_t head, uint32_t written);
/* After pushes: does the driver want an interrupt now (VIRTQ_AVAIL_F_NO_INTERRUPT, or
 * used_event with the event index)? Records the interrupt as sent when it says yes. */
bool virtq_should_notify(VirtQueue *vq);
/* Is another chain waiting? (false for an unusable or broken queue) */
bool virtq_has_work(VirtQueue *vq);
/* Asks the driver to notify (or not) about new available buffers: avail_event with the
 * event index, VIRTQ_USED_F_NO_NOTIFY without. */
void virtq_set_notification(VirtQueue *vq, bool enable);

/* Copies up to `len` bytes of the chain's readable data, from byte `offset` on, into
 * buf; returns the bytes copied, or -EFAULT. */
long virtq_chain_read(const VirtQueue *vq, const VirtqChain *c, uint64_t offset, void *buf,
                      uint64_t len);
/* Copies `len` bytes into the chain's writable buffers from byte `offset` on; returns the
 * bytes copied (fewer when the buffers are shorter), or -EFAULT. */
long virtq_chain_write(const VirtQueue *vq, const VirtqChain *c, uint64_t offset,
                       const void *buf, uint64_t len);

#endif
