/* Split virtqueues (virtqueue.h). Layouts from the virtio 1.x spec, 2.7. */
#include "dev/virtio/virtqueue.h"

#include <errno.h>
#include <string.h>

/* Byte offsets inside the rings (2.7.6, 2.7.8). */
#define AVAIL_FLAGS 0
#define AVAIL_IDX 2
#define AVAIL_RING 4
#define USED_FLAGS 0
#define USED_IDX 2
#define USED_RING 4
#define USED_ELEM_SIZE 8

void virtq_reset(VirtQueue *vq)
{
    const DmaHandle *dma = vq->dma;
    *vq = (VirtQueue){.dma = dma};
}

static uint64_t desc_bytes(const VirtQueue *vq) { return (uint64_t)vq->size * VIRTQ_DESC_SIZE; }
static uint64_t avail_bytes(const VirtQueue *vq) { return 6 + 2 * (uint64_t)vq->size; }
static uint64_t used_bytes(const VirtQueue *vq) { return 6 + 8 * (uint64_t)vq->size; }

bool virtq_usable(const VirtQueue *vq)
{
    if (!vq->ready || vq->broken || vq->size == 0 || vq->size > VIRTQ_MAX_SIZE ||
        (vq->size & (vq->size - 1)))
        return false;
    return dma_map(vq->dma, vq->desc, desc_bytes(vq), false) &&
           dma_map(vq->dma, vq->avail, avail_bytes(vq), false) &&
           dma_map(vq->dma, vq->used, used_bytes(vq), true);
}

static int broken(VirtQueue *vq, int err)
{
    vq->broken = true;
    return err;
}

static int read_avail_idx(const VirtQueue *vq, uint16_t *idx)
{
    int r = dma_read_u16(vq->dma, vq->avail + AVAIL_IDX, idx);
    /* The ring entries are read after the index that published them. */
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    return r;
}

bool virtq_has_work(VirtQueue *vq)
{
    uint16_t idx;
    if (!virtq_usable(vq) || read_avail_idx(vq, &idx) < 0)
        return false;
    return idx != vq->last_avail;
}

typedef struct {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
} Desc;

static int read_desc(const VirtQueue *vq, uint64_t table, uint32_t i, Desc *d)
{
    uint8_t raw[VIRTQ_DESC_SIZE];
    int r = dma_read(vq->dma, table + (uint64_t)i * VIRTQ_DESC_SIZE, raw, sizeof(raw));
    if (r < 0)
        return r;
    memcpy(&d->addr, raw, 8);
    memcpy(&d->len, raw + 8, 4);
    memcpy(&d->flags, raw + 12, 2);
    memcpy(&d->next, raw + 14, 2);
    return 0;
}

/* Appends one buffer to the chain, keeping readable before writable. */
static int add_seg(const VirtQueue *vq, VirtqChain *c, const Desc *d)
{
    if (c->num_out + c->num_in >= vq->size)
        return -EINVAL;                     /* longer than the queue: a loop, or a lie */
    if (d->len && d->addr + d->len - 1 < d->addr)
        return -EFAULT;                     /* wraps past the top of the address space */
    bool writable = d->flags & VIRTQ_DESC_F_WRITE;
    if (!writable && c->num_in)
        return -EINVAL;                     /* a readable buffer after a writable one */
    c->seg[c->num_out + c->num_in] = (VirtqSeg){d->addr, d->len};
    if (writable) {
        c->num_in++;
        c->in_len += d->len;
    } else {
        c->num_out++;
        c->out_len += d->len;
    }
    return 0;
}

/* Walks an indirect table: `len` bytes at `table`, entries chained from 0 by their own
 * NEXT fields, each visited at most once (the count bound). */
static int walk_indirect(const VirtQueue *vq, VirtqChain *c, uint64_t table, uint32_t len)
{
    if (len == 0 || len % VIRTQ_DESC_SIZE)
        return -EINVAL;
    uint32_t n = len / VIRTQ_DESC_SIZE;
    if (table + len - 1 < table || !dma_map(vq->dma, table, len, false))
        return -EFAULT;
    uint32_t i = 0;
    for (uint32_t count = 0;; count++) {
        if (count >= n || i >= n)
            return -EINVAL;
        Desc d;
        int r = read_desc(vq, table, i, &d);
        if (r < 0)
            return r;
        if (d.flags & VIRTQ_DESC_F_INDIRECT)
            return -EINVAL;                 /* no nesting (2.7.5.3.1) */
        if ((r = add_seg(vq, c, &d)) < 0)
            return r;
        if (!(d.flags & VIRTQ_DESC_F_NEXT))
            return 0;
        i = d.next;
    }
}

int virtq_pop(VirtQueue *vq, VirtqChain *c)
{
    if (!virtq_usable(vq))
        return vq->broken ? -EINVAL : 0;
    uint16_t avail_idx;
    if (read_avail_idx(vq, &avail_idx) < 0)
        return broken(vq, -EFAULT);
    uint16_t pending = (uint16_t)(avail_idx - vq->last_avail);
    if (pending == 0)
        return 0;
    if (pending > vq->size)
        return broken(vq, -EINVAL);         /* the driver claims more than the ring holds */
    uint16_t head;
    if (dma_read_u16(vq->dma, vq->avail + AVAIL_RING + 2 * (uint64_t)(vq->last_avail % vq->size),
                     &head) < 0)
        return broken(vq, -EFAULT);
    if (head >= vq->size)
        return broken(vq, -EINVAL);
    c->head = head;
    c->num_out = c->num_in = 0;
    c->out_len = c->in_len = 0;
    uint16_t i = head;
    for (unsigned count = 0;; count++) {
        if (count >= vq->size || i >= vq->size)
            return broken(vq, -EINVAL);
        Desc d;
        int r = read_desc(vq, vq->desc, i, &d);
        if (r < 0)
            return broken(vq, r);
        if (d.flags & VIRTQ_DESC_F_INDIRECT) {
            if (!vq->indirect || (d.flags & VIRTQ_DESC_F_NEXT))
                return broken(vq, -EINVAL);
            if ((r = walk_indirect(vq, c, d.addr, d.len)) < 0)
                return broken(vq, r);
            break;
        }
        if ((r = add_seg(vq, c, &d)) < 0)
            return broken(vq, r);
        if (!(d.flags & VIRTQ_DESC_F_NEXT))
            break;
        i = d.next;
    }
    vq->last_avail++;
    if (vq->event_idx)   /* avail_event: tell me about the next one */
        dma_write_u16(vq->dma, vq->used + USED_RING + USED_ELEM_SIZE * (uint64_t)vq->size,
                      vq->last_avail);
    return 1;
}

int virtq_push(VirtQueue *vq, uint16_t head, uint32_t written)
{
    if (!vq->size)
        return -EINVAL;
    uint64_t elem = vq->used + USED_RING + USED_ELEM_SIZE * (uint64_t)(vq->used_idx % vq->size);
    uint32_t id = head;
    if (dma_write_u32(vq->dma, elem, id) < 0 || dma_write_u32(vq->dma, elem + 4, written) < 0)
        return broken(vq, -EFAULT);
    /* The element is visible before the index that publishes it. */
    __atomic_thread_fence(__ATOMIC_RELEASE);
    vq->used_idx++;
    if (dma_write_u16(vq->dma, vq->used + USED_IDX, vq->used_idx) < 0)
        return broken(vq, -EFAULT);
    return 0;
}

bool virtq_should_notify(VirtQueue *vq)
{
    /* The used index is written before the driver's suppression fields are read. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    uint16_t now = vq->used_idx;
    if (!vq->event_idx) {
        uint16_t flags;
        if (dma_read_u16(vq->dma, vq->avail + AVAIL_FLAGS, &flags) < 0)
            return true;
        return !(flags & VIRTQ_AVAIL_F_NO_INTERRUPT);
    }
    uint16_t used_event;
    bool was_valid = vq->signalled_valid;
    uint16_t old = vq->signalled_used;
    vq->signalled_used = now;
    vq->signalled_valid = true;
    if (!was_valid ||
        dma_read_u16(vq->dma, vq->avail + AVAIL_RING + 2 * (uint64_t)vq->size, &used_event) < 0)
        return true;
    /* 2.7.7.2: interrupt when used_event lies in (old, now]. */
    return (uint16_t)(now - used_event - 1) < (uint16_t)(now - old);
}

void virtq_set_notification(VirtQueue *vq, bool enable)
{
    if (!vq->size)
        return;
    if (vq->event_idx) {
        if (enable)
            dma_write_u16(vq->dma, vq->used + USED_RING + USED_ELEM_SIZE * (uint64_t)vq->size,
                          vq->last_avail);
    } else {
        dma_write_u16(vq->dma, vq->used + USED_FLAGS, enable ? 0 : VIRTQ_USED_F_NO_NOTIFY);
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* Copies between buf and the segments [first, first + n) of c, from byte `offset` of
 * that run of segments on. */
static long chain_copy(const VirtQueue *vq, const VirtqSeg *seg, unsigned n, uint64_t offset,
                       void *buf, uint64_t len, bool to_guest)
{
    uint64_t done = 0;
    for (unsigned i = 0; i < n && done < len; i++) {
        if (offset >= seg[i].len) {
            offset -= seg[i].len;
            continue;
        }
        uint64_t chunk = seg[i].len - offset;
        if (chunk > len - done)
            chunk = len - done;
        uint64_t gpa = seg[i].addr + offset;
        int r = to_guest ? dma_write(vq->dma, gpa, (uint8_t *)buf + done, chunk)
                         : dma_read(vq->dma, gpa, (uint8_t *)buf + done, chunk);
        if (r < 0)
            return r;
        done += chunk;
        offset = 0;
    }
    return (long)done;
}

long virtq_chain_read(const VirtQueue *vq, const VirtqChain *c, uint64_t offset, void *buf,
                      uint64_t len)
{
    return chain_copy(vq, c->seg, c->num_out, offset, buf, len, false);
}

long virtq_chain_write(const VirtQueue *vq, const VirtqChain *c, uint64_t offset,
                       const void *buf, uint64_t len)
{
    return chain_copy(vq, c->seg + c->num_out, c->num_in, offset, (void *)buf, len, true);
}
