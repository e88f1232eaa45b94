/* Unit tests for the virtio core (src/dev/virtio): split virtqueues against hostile rings,
 * feature negotiation and reset, and the blk, rng and net devices driven end to end at the
 * VirtioDevice level by a small driver written here over a DmaFlat "guest memory". */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "hypervisor_sim.h"
#include "block/block.h"
#include "dev/virtio/virtio_devices.h"

#define MEM_SIZE (1u << 20)
#define DESC 0x1000u
#define AVAIL 0x3000u
#define USED 0x4000u
#define QSTRIDE 0x8000u   /* queue q's rings at q * QSTRIDE */
#define DATA 0x40000u

typedef struct {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
} Seg;

/* A guest driver over a flat memory. */
typedef struct {
    DmaFlat flat;
    DmaHandle dma;
    VirtioDevice *vd;
    uint16_t avail_idx[VIRTIO_MAX_QUEUES];
    uint16_t next_desc[VIRTIO_MAX_QUEUES];
    int irqs[VIRTIO_MAX_QUEUES + 1];     /* per queue, [VIRTIO_MAX_QUEUES]: config */
    pthread_mutex_t lock;
    pthread_cond_t cond;
} Driver;

static uint8_t *mem_at(Driver *d, uint64_t gpa) { return d->flat.mem + gpa; }
static void put16(Driver *d, uint64_t gpa, uint16_t v) { memcpy(mem_at(d, gpa), &v, 2); }
static uint16_t get16(Driver *d, uint64_t gpa) { uint16_t v; memcpy(&v, mem_at(d, gpa), 2); return v; }
static uint32_t get32(Driver *d, uint64_t gpa) { uint32_t v; memcpy(&v, mem_at(d, gpa), 4); return v; }

static void on_irq(void *transport, VirtioDevice *vd, int queue)
{
    (void)vd;
    Driver *d = transport;
    pthread_mutex_lock(&d->lock);
    d->irqs[queue < 0 ? VIRTIO_MAX_QUEUES : queue]++;
    pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&d->lock);
}

static void driver_init(Driver *d)
{
    memset(d, 0, sizeof(*d));
    d->flat.mem = calloc(1, MEM_SIZE);
    d->flat.size = MEM_SIZE;
    d->dma = dma_flat_handle(&d->flat);
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->cond, NULL);
}

static void driver_fini(Driver *d)
{
    virtio_device_destroy(d->vd);
    free(d->flat.mem);
}

/* Negotiates `features` (of those offered) and brings queues up with `size` entries. */
static void driver_start(Driver *d, VirtioDevice *vd, uint64_t features, uint16_t size)
{
    d->vd = vd;
    vd->interrupt = on_irq;
    vd->transport = d;
    virtio_device_set_dma(vd, &d->dma);
    virtio_set_status(vd, 0);
    virtio_set_status(vd, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    uint64_t offered = virtio_get_features(vd, 0) | (uint64_t)virtio_get_features(vd, 1) << 32;
    features &= offered;
    virtio_set_driver_features(vd, 0, (uint32_t)features);
    virtio_set_driver_features(vd, 1, (uint32_t)(features >> 32));
    virtio_set_status(vd, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                              VIRTIO_STATUS_FEATURES_OK);
    assert_true(virtio_get_status(vd) & VIRTIO_STATUS_FEATURES_OK);
    for (unsigned q = 0; q < vd->num_queues; q++) {
        VirtQueue *vq = &vd->vq[q];
        vq->size = size;
        vq->desc = DESC + q * QSTRIDE;
        vq->avail = AVAIL + q * QSTRIDE;
        vq->used = USED + q * QSTRIDE;
        vq->ready = true;
    }
    virtio_set_status(vd, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                              VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
    assert_true(virtio_running(vd));
}

static void write_desc(Driver *d, uint64_t table, unsigned i, uint64_t addr, uint32_t len,
                       uint16_t flags, uint16_t next)
{
    uint8_t *p = mem_at(d, table + 16ull * i);
    memcpy(p, &addr, 8);
    memcpy(p + 8, &len, 4);
    memcpy(p + 12, &flags, 2);
    memcpy(p + 14, &next, 2);
}

/* Publishes head in the available ring of queue q. */
static void publish(Driver *d, unsigned q, uint16_t head)
{
    uint16_t size = d->vd->vq[q].size;
    uint64_t avail = AVAIL + q * QSTRIDE;
    put16(d, avail + 4 + 2 * (d->avail_idx[q] % size), head);
    d->avail_idx[q]++;
    put16(d, avail + 2, d->avail_idx[q]);
}

/* Adds a chain of n segments (flags: VIRTQ_DESC_F_WRITE or 0) to queue q; returns its head. */
static uint16_t add_chain(Driver *d, unsigned q, const Seg *segs, unsigned n)
{
    uint16_t size = d->vd->vq[q].size;
    uint16_t head = d->next_desc[q];
    for (unsigned i = 0; i < n; i++) {
        uint16_t idx = (uint16_t)((head + i) % size);
        uint16_t next = (uint16_t)((idx + 1) % size);
        write_desc(d, DESC + q * QSTRIDE, idx, segs[i].addr, segs[i].len,
                   (uint16_t)(segs[i].flags | (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0)), next);
    }
    d->next_desc[q] = (uint16_t)((head + n) % size);
    publish(d, q, head);
    return head;
}

static uint16_t used_idx(Driver *d, unsigned q) { return get16(d, USED + q * QSTRIDE + 2); }
static uint32_t used_len(Driver *d, unsigned q, uint16_t i)
{
    return get32(d, USED + q * QSTRIDE + 4 + 8 * (i % d->vd->vq[q].size) + 4);
}
static uint32_t used_id(Driver *d, unsigned q, uint16_t i)
{
    return get32(d, USED + q * QSTRIDE + 4 + 8 * (i % d->vd->vq[q].size));
}

/* ---- virtqueue ---- */

/* A bare queue on flat memory for the parser tests. */
typedef struct {
    Driver d;
    VirtQueue vq;
    VirtqChain c;
} Bare;

static Bare *bare_new(uint16_t size, bool indirect, bool event_idx)
{
    Bare *b = calloc(1, sizeof(*b));
    driver_init(&b->d);
    b->vq = (VirtQueue){.size = size, .ready = true, .desc = DESC, .avail = AVAIL, .used = USED,
                        .dma = &b->d.dma, .indirect = indirect, .event_idx = event_idx};
    return b;
}

static void bare_free(Bare *b)
{
    free(b->d.flat.mem);
    free(b);
}

static void bare_publish(Bare *b, uint16_t head)
{
    put16(&b->d, AVAIL + 4 + 2 * (b->d.avail_idx[0] % b->vq.size), head);
    put16(&b->d, AVAIL + 2, ++b->d.avail_idx[0]);
}

static void test_chain_order_and_copy(void **state)
{
    (void)state;
    Bare *b = bare_new(8, false, false);
    memcpy(mem_at(&b->d, DATA), "hello, ", 7);
    memcpy(mem_at(&b->d, DATA + 0x100), "world", 5);
    write_desc(&b->d, DESC, 3, DATA, 7, VIRTQ_DESC_F_NEXT, 5);
    write_desc(&b->d, DESC, 5, DATA + 0x100, 5, VIRTQ_DESC_F_NEXT, 1);
    write_desc(&b->d, DESC, 1, DATA + 0x200, 4, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
    write_desc(&b->d, DESC, 2, DATA + 0x300, 6, VIRTQ_DESC_F_WRITE, 0);
    assert_int_equal(virtq_pop(&b->vq, &b->c), 0);   /* nothing published yet */
    bare_publish(b, 3);
    assert_true(virtq_has_work(&b->vq));
    assert_int_equal(virtq_pop(&b->vq, &b->c), 1);
    assert_int_equal(b->c.head, 3);
    assert_int_equal(b->c.num_out, 2);
    assert_int_equal(b->c.num_in, 2);
    assert_int_equal(b->c.out_len, 12);
    assert_int_equal(b->c.in_len, 10);
    char buf[16] = {0};
    assert_int_equal(virtq_chain_read(&b->vq, &b->c, 0, buf, sizeof(buf)), 12);
    assert_memory_equal(buf, "hello, world", 12);
    assert_int_equal(virtq_chain_read(&b->vq, &b->c, 9, buf, 2), 2);
    assert_memory_equal(buf, "rl", 2);
    /* A write spanning both writable buffers; one too long stops at their end. */
    assert_int_equal(virtq_chain_write(&b->vq, &b->c, 2, "ABCDEF", 6), 6);
    assert_memory_equal(mem_at(&b->d, DATA + 0x202), "AB", 2);
    assert_memory_equal(mem_at(&b->d, DATA + 0x300), "CDEF", 4);
    assert_int_equal(virtq_chain_write(&b->vq, &b->c, 0, "0123456789abcdef", 16), 10);
    assert_int_equal(virtq_push(&b->vq, b->c.head, 10), 0);
    assert_int_equal(get16(&b->d, USED + 2), 1);
    assert_int_equal(get32(&b->d, USED + 4), 3);
    assert_int_equal(get32(&b->d, USED + 8), 10);
    assert_false(virtq_has_work(&b->vq));
    bare_free(b);
}

static void test_chain_loop(void **state)
{
    (void)state;
    Bare *b = bare_new(4, false, false);
    write_desc(&b->d, DESC, 0, DATA, 8, VIRTQ_DESC_F_NEXT, 1);
    write_desc(&b->d, DESC, 1, DATA, 8, VIRTQ_DESC_F_NEXT, 0);   /* back to 0 */
    bare_publish(b, 0);
    assert_int_equal(virtq_pop(&b->vq, &b->c), -EINVAL);
    assert_true(b->vq.broken);
    assert_int_equal(virtq_pop(&b->vq, &b->c), -EINVAL);   /* stays broken */
    assert_false(virtq_has_work(&b->vq));
    bare_free(b);
}

static void test_chain_bad_fields(void **state)
{
    (void)state;
    /* Each case: one descriptor 0 (and 1) that breaks a rule. */
    struct {
        uint64_t addr;
        uint32_t len;
        uint16_t flags, next;
        int expect;
    } cases[] = {
        {0xfffffffffffffff0ull, 0x20, 0, 0, -EFAULT},            /* length wraps */
        {DATA, 8, VIRTQ_DESC_F_NEXT, 9, -EINVAL},                /* next past the table */
        {DATA, 8, VIRTQ_DESC_F_INDIRECT, 0, -EINVAL},            /* indirect not negotiated */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        Bare *b = bare_new(8, false, false);
        write_desc(&b->d, DESC, 0, cases[i].addr, cases[i].len, cases[i].flags, cases[i].next);
        bare_publish(b, 0);
        assert_int_equal(virtq_pop(&b->vq, &b->c), cases[i].expect);
        bare_free(b);
    }
    /* A readable buffer after a writable one. */
    Bare *b = bare_new(8, false, false);
    write_desc(&b->d, DESC, 0, DATA, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
    write_desc(&b->d, DESC, 1, DATA, 8, 0, 0);
    bare_publish(b, 0);
    assert_int_equal(virtq_pop(&b->vq, &b->c), -EINVAL);
    bare_free(b);
    /* A head past the table, and an available index that jumps past the ring. */
    b = bare_new(8, false, false);
    bare_publish(b, 8);
    assert_int_equal(virtq_pop(&b->vq, &b->c), -EINVAL);
    bare_free(b);
    b = bare_new(8, false, false);
    put16(&b->d, AVAIL + 2, 9);
    assert_int_equal(virtq_pop(&b->vq, &b->c), -EINVAL);
    bare_free(b);
    /* Rings outside memory: the queue is not usable, nothing is read. */
    b = bare_new(8, false, false);
    b->vq.desc = MEM_SIZE - 16;
    assert_false(virtq_usable(&b->vq));
    assert_int_equal(virtq_pop(&b->vq, &b->c), 0);
    bare_free(b);
}

static void test_indirect(void **state)
{
    (void)state;
    Bare *b = bare_new(8, true, false);
    uint64_t table = DATA + 0x1000;
    write_desc(&b->d, table, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 2);
    write_desc(&b->d, table, 2, DATA + 0x100, 100, VIRTQ_DESC_F_NEXT, 1);
    write_desc(&b->d, table, 1, DATA + 0x200, 1, VIRTQ_DESC_F_WRITE, 0);
    write_desc(&b->d, DESC, 4, table, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
    bare_publish(b, 4);
    assert_int_equal(virtq_pop(&b->vq, &b->c), 1);
    assert_int_equal(b->c.head, 4);
    assert_int_equal(b->c.num_out, 2);
    assert_int_equal(b->c.num_in, 1);
    assert_int_equal(b->c.out_len, 116);
    bare_free(b);

    /* Nested, misshapen, looping inside, INDIRECT|NEXT: all refused. */
    for (int k = 0; k < 4; k++) {
        b = bare_new(8, true, false);
        uint32_t len = 2 * 16;
        uint16_t head_flags = VIRTQ_DESC_F_INDIRECT;
        write_desc(&b->d, table, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 1);
        write_desc(&b->d, table, 1, DATA, 16, 0, 0);
        if (k == 0)
            write_desc(&b->d, table, 1, table, 32, VIRTQ_DESC_F_INDIRECT, 0);
        if (k == 1)
            len = 20;
        if (k == 2)
            write_desc(&b->d, table, 1, DATA, 16, VIRTQ_DESC_F_NEXT, 0);
        if (k == 3)
            head_flags |= VIRTQ_DESC_F_NEXT;
        write_desc(&b->d, DESC, 0, table, len, head_flags, 1);
        bare_publish(b, 0);
        assert_int_equal(virtq_pop(&b->vq, &b->c), -EINVAL);
        bare_free(b);
    }
}

static void test_notification_suppression(void **state)
{
    (void)state;
    /* Without the event index: VIRTQ_AVAIL_F_NO_INTERRUPT. */
    Bare *b = bare_new(8, false, false);
    write_desc(&b->d, DESC, 0, DATA, 8, 0, 0);
    bare_publish(b, 0);
    assert_int_equal(virtq_pop(&b->vq, &b->c), 1);
    virtq_push(&b->vq, 0, 0);
    assert_true(virtq_should_notify(&b->vq));
    put16(&b->d, AVAIL, VIRTQ_AVAIL_F_NO_INTERRUPT);
    assert_false(virtq_should_notify(&b->vq));
    virtq_set_notification(&b->vq, false);
    assert_int_equal(get16(&b->d, USED), VIRTQ_USED_F_NO_NOTIFY);
    bare_free(b);

    /* With it: interrupt only when used_event is crossed; avail_event follows the device. */
    b = bare_new(8, false, true);
    for (int i = 0; i < 4; i++) {
        write_desc(&b->d, DESC, (unsigned)i, DATA, 8, 0, 0);
        bare_publish(b, (uint16_t)i);
    }
    uint64_t used_event = AVAIL + 4 + 2 * 8, avail_event = USED + 4 + 8 * 8;
    put16(&b->d, used_event, 2);   /* "interrupt me when entry 2 is used" */
    bool notified[4];
    for (int i = 0; i < 4; i++) {
        assert_int_equal(virtq_pop(&b->vq, &b->c), 1);
        assert_int_equal(get16(&b->d, avail_event), i + 1);
        virtq_push(&b->vq, b->c.head, 0);
        notified[i] = virtq_should_notify(&b->vq);
    }
    assert_true(notified[0]);    /* the first interrupt always goes */
    assert_false(notified[1]);
    assert_true(notified[2]);    /* used_idx went 2 -> 3: entry 2 used */
    assert_false(notified[3]);
    bare_free(b);
}

/* ---- the device core ---- */

static void test_negotiation_and_reset(void **state)
{
    (void)state;
    Driver d;
    driver_init(&d);
    VirtioDevice *vd = virtio_rng_create();
    assert_non_null(vd);
    d.vd = vd;
    virtio_device_set_dma(vd, &d.dma);
    assert_true(virtio_get_features(vd, 1) & 1);   /* VERSION_1 */
    /* FEATURES_OK without VERSION_1, or with a feature not offered: refused. */
    virtio_set_status(vd, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    virtio_set_driver_features(vd, 0, 0);
    virtio_set_status(vd, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                              VIRTIO_STATUS_FEATURES_OK);
    assert_false(virtio_get_status(vd) & VIRTIO_STATUS_FEATURES_OK);
    virtio_set_driver_features(vd, 1, 1 | 0x100);
    virtio_set_status(vd, VIRTIO_STATUS_FEATURES_OK);
    assert_false(virtio_get_status(vd) & VIRTIO_STATUS_FEATURES_OK);
    /* DRIVER_OK before FEATURES_OK does not start it. */
    virtio_set_status(vd, VIRTIO_STATUS_DRIVER_OK);
    assert_false(virtio_running(vd));
    virtio_set_driver_features(vd, 1, 1);
    virtio_set_status(vd, VIRTIO_STATUS_FEATURES_OK);
    assert_true(virtio_get_status(vd) & VIRTIO_STATUS_FEATURES_OK);
    /* Features are frozen from FEATURES_OK on. */
    virtio_set_driver_features(vd, 0, 0xffffffff);
    assert_int_equal(virtio_get_driver_features(vd, 0), 0);
    vd->vq[0].ready = true;
    vd->vq[0].desc = 0x1234;
    virtio_set_status(vd, 0);
    assert_int_equal(virtio_get_status(vd), 0);
    assert_false(vd->vq[0].ready);
    assert_int_equal(vd->vq[0].desc, 0);
    assert_int_equal(vd->vq[0].size, vd->queue_max);
    assert_int_equal(virtio_get_driver_features(vd, 1), 0);
    driver_fini(&d);
}

static void test_needs_reset(void **state)
{
    (void)state;
    Driver d;
    driver_init(&d);
    driver_start(&d, virtio_rng_create(), ~0ull, 8);
    /* A loop in the chain: NEEDS_RESET and a config interrupt, not a hang. */
    write_desc(&d, DESC, 0, DATA, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 0);
    publish(&d, 0, 0);
    virtio_queue_notify(d.vd, 0);
    assert_true(virtio_get_status(d.vd) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    assert_int_equal(d.irqs[VIRTIO_MAX_QUEUES], 1);
    assert_int_equal(virtio_isr_read_clear(d.vd), VIRTIO_ISR_CONFIG);
    assert_int_equal(virtio_isr_read_clear(d.vd), 0);
    assert_false(virtio_running(d.vd));
    /* After a reset it works again. */
    memset(d.avail_idx, 0, sizeof(d.avail_idx));
    memset(d.next_desc, 0, sizeof(d.next_desc));
    memset(mem_at(&d, AVAIL), 0, 0x1000);
    memset(mem_at(&d, USED), 0, 0x1000);
    driver_start(&d, d.vd, ~0ull, 8);
    add_chain(&d, 0, (Seg[]){{DATA, 64, VIRTQ_DESC_F_WRITE}}, 1);
    virtio_queue_notify(d.vd, 0);
    assert_int_equal(used_idx(&d, 0), 1);
    assert_int_equal(used_len(&d, 0, 0), 64);
    driver_fini(&d);
}

/* ---- virtio-rng ---- */

static void test_rng(void **state)
{
    (void)state;
    Driver d;
    driver_init(&d);
    driver_start(&d, virtio_rng_create(), ~0ull, 16);
    add_chain(&d, 0, (Seg[]){{DATA, 100, VIRTQ_DESC_F_WRITE}, {DATA + 0x1000, 28, VIRTQ_DESC_F_WRITE}}, 2);
    /* More than one request may ask for: capped. */
    add_chain(&d, 0, (Seg[]){{DATA + 0x2000, 0x80000, VIRTQ_DESC_F_WRITE}}, 1);
    /* Not RAM: nothing written, no crash. */
    add_chain(&d, 0, (Seg[]){{MEM_SIZE + 0x1000, 16, VIRTQ_DESC_F_WRITE}}, 1);
    virtio_queue_notify(d.vd, 0);
    assert_int_equal(used_idx(&d, 0), 3);
    assert_int_equal(used_len(&d, 0, 0), 128);
    assert_int_equal(used_len(&d, 0, 1), VIRTIO_RNG_MAX_REQUEST);
    assert_int_equal(used_len(&d, 0, 2), 0);
    static const uint8_t zero[100];
    assert_memory_not_equal(mem_at(&d, DATA), zero, 100);
    assert_true(d.irqs[0] >= 1);
    assert_int_equal(virtio_isr_read_clear(d.vd) & VIRTIO_ISR_QUEUE, VIRTIO_ISR_QUEUE);
    driver_fini(&d);
}

/* ---- virtio-blk ---- */

static char image_path[64];

static BlockDev *open_image(uint64_t size, bool read_only)
{
    snprintf(image_path, sizeof(image_path), "/tmp/scratchvm-test-virtio-XXXXXX");
    int fd = mkstemp(image_path);
    assert_true(fd >= 0);
    uint8_t *pattern = malloc(size);
    for (uint64_t i = 0; i < size; i++)
        pattern[i] = (uint8_t)(i * 7 + i / 512);
    assert_int_equal(write(fd, pattern, size), (ssize_t)size);
    free(pattern);
    close(fd);
    BlockDev *bd;
    assert_int_equal(block_open(image_path, BLOCK_FORMAT_RAW, read_only ? BLOCK_READ_ONLY : 0, &bd), 0);
    return bd;
}

/* Puts a request header at gpa. */
static void put_hdr(Driver *d, uint64_t gpa, uint32_t type, uint64_t sector)
{
    memset(mem_at(d, gpa), 0, 16);
    memcpy(mem_at(d, gpa), &type, 4);
    memcpy(mem_at(d, gpa + 8), &sector, 8);
}

#define HDR(i) (DATA + 0x100 * (i))
#define STATUS(i) (DATA + 0x100 * (i) + 0x80)
#define BUF 0x80000u

static uint8_t status_of(Driver *d, int i) { return *mem_at(d, STATUS(i)); }

static void test_blk_requests(void **state)
{
    (void)state;
    Driver d;
    driver_init(&d);
    BlockDev *bd = open_image(64 * 1024, false);
    VirtioDevice *vd = virtio_blk_create(bd, "scratch-serial", false);
    assert_non_null(vd);
    uint64_t capacity;
    memcpy(&capacity, vd->config, 8);
    assert_int_equal(capacity, 128);
    assert_int_equal(virtio_config_read(vd, 0, 8), 128);
    assert_int_equal(virtio_config_read(vd, 20, 4), 512);
    assert_int_equal(virtio_config_read(vd, 1000, 4), 0);   /* outside: zeros */
    driver_start(&d, vd, ~0ull, 32);

    /* 0: write 2 sectors at sector 3 from two buffers. */
    memset(mem_at(&d, BUF), 0xab, 512);
    memset(mem_at(&d, BUF + 0x1000), 0xcd, 512);
    put_hdr(&d, HDR(0), VIRTIO_BLK_T_OUT, 3);
    add_chain(&d, 0, (Seg[]){{HDR(0), 16, 0}, {BUF, 512, 0}, {BUF + 0x1000, 512, 0},
                             {STATUS(0), 1, VIRTQ_DESC_F_WRITE}}, 4);
    /* 1: read 3 sectors at 2 back, through an indirect table. */
    put_hdr(&d, HDR(1), VIRTIO_BLK_T_IN, 2);
    uint64_t table = DATA + 0x8000;
    write_desc(&d, table, 0, HDR(1), 16, VIRTQ_DESC_F_NEXT, 1);
    write_desc(&d, table, 1, BUF + 0x2000, 1536, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
    write_desc(&d, table, 2, STATUS(1), 1, VIRTQ_DESC_F_WRITE, 0);
    write_desc(&d, DESC, 20, table, 48, VIRTQ_DESC_F_INDIRECT, 0);
    publish(&d, 0, 20);
    /* 2: flush; 3: GET_ID; 4: past the end; 5: unknown type; 6: data not RAM;
     * 7: length not a multiple of 512. */
    put_hdr(&d, HDR(2), VIRTIO_BLK_T_FLUSH, 0);
    add_chain(&d, 0, (Seg[]){{HDR(2), 16, 0}, {STATUS(2), 1, VIRTQ_DESC_F_WRITE}}, 2);
    put_hdr(&d, HDR(3), VIRTIO_BLK_T_GET_ID, 0);
    add_chain(&d, 0, (Seg[]){{HDR(3), 16, 0}, {BUF + 0x3000, 20, VIRTQ_DESC_F_WRITE},
                             {STATUS(3), 1, VIRTQ_DESC_F_WRITE}}, 3);
    put_hdr(&d, HDR(4), VIRTIO_BLK_T_IN, 127);
    add_chain(&d, 0, (Seg[]){{HDR(4), 16, 0}, {BUF + 0x4000, 1024, VIRTQ_DESC_F_WRITE},
                             {STATUS(4), 1, VIRTQ_DESC_F_WRITE}}, 3);
    put_hdr(&d, HDR(5), 77, 0);
    add_chain(&d, 0, (Seg[]){{HDR(5), 16, 0}, {STATUS(5), 1, VIRTQ_DESC_F_WRITE}}, 2);
    put_hdr(&d, HDR(6), VIRTIO_BLK_T_IN, 0);
    add_chain(&d, 0, (Seg[]){{HDR(6), 16, 0}, {MEM_SIZE - 256, 512, VIRTQ_DESC_F_WRITE},
                             {STATUS(6), 1, VIRTQ_DESC_F_WRITE}}, 3);
    put_hdr(&d, HDR(7), VIRTIO_BLK_T_OUT, 0);
    add_chain(&d, 0, (Seg[]){{HDR(7), 16, 0}, {BUF, 100, 0}, {STATUS(7), 1, VIRTQ_DESC_F_WRITE}}, 3);
    for (int i = 0; i < 8; i++)
        *mem_at(&d, STATUS(i)) = 0xee;
    virtio_queue_notify(vd, 0);

    assert_int_equal(used_idx(&d, 0), 8);
    assert_int_equal(used_len(&d, 0, 0), 1);
    assert_int_equal(used_id(&d, 0, 1), 20);
    assert_int_equal(used_len(&d, 0, 1), 1537);
    uint8_t want[1536];
    for (int i = 0; i < 512; i++)   /* sector 2 as the image had it, then the written two */
        want[i] = (uint8_t)((2 * 512 + i) * 7 + (2 * 512 + i) / 512);
    memset(want + 512, 0xab, 512);
    memset(want + 1024, 0xcd, 512);
    assert_memory_equal(mem_at(&d, BUF + 0x2000), want, sizeof(want));
    uint8_t expect_status[8] = {VIRTIO_BLK_S_OK, VIRTIO_BLK_S_OK, VIRTIO_BLK_S_OK, VIRTIO_BLK_S_OK,
                                VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_UNSUPP, VIRTIO_BLK_S_IOERR,
                                VIRTIO_BLK_S_IOERR};
    for (int i = 0; i < 8; i++)
        assert_int_equal(status_of(&d, i), expect_status[i]);
    assert_memory_equal(mem_at(&d, BUF + 0x3000), "scratch-serial\0\0\0\0\0\0", 20);
    assert_int_equal(used_len(&d, 0, 3), 21);
    virtio_device_destroy(vd);
    d.vd = NULL;

    /* The file has the written sectors (through a fresh open, after the flush). */
    block_close(bd);
    FILE *f = fopen(image_path, "rb");
    uint8_t disk[1024];
    assert_int_equal(fseek(f, 3 * 512, SEEK_SET), 0);
    assert_int_equal(fread(disk, 1, sizeof(disk), f), sizeof(disk));
    fclose(f);
    assert_memory_equal(disk, want + 512, 1024);
    unlink(image_path);
    driver_fini(&d);
}

static void test_blk_read_only(void **state)
{
    (void)state;
    Driver d;
    driver_init(&d);
    BlockDev *bd = open_image(8192, true);
    VirtioDevice *vd = virtio_blk_create(bd, NULL, false);
    assert_true(virtio_get_features(vd, 0) & VIRTIO_BIT(VIRTIO_BLK_F_RO));
    driver_start(&d, vd, ~0ull, 8);
    put_hdr(&d, HDR(0), VIRTIO_BLK_T_OUT, 0);
    memset(mem_at(&d, BUF), 0x11, 512);
    add_chain(&d, 0, (Seg[]){{HDR(0), 16, 0}, {BUF, 512, 0}, {STATUS(0), 1, VIRTQ_DESC_F_WRITE}}, 3);
    virtio_queue_notify(vd, 0);
    assert_int_equal(status_of(&d, 0), VIRTIO_BLK_S_IOERR);
    uint8_t first;
    assert_int_equal(block_read(bd, 0, &first, 1), 0);
    assert_int_equal(first, 0);
    driver_fini(&d);
    block_close(bd);
    unlink(image_path);
}

/* Guest memory in two slots with a hole between (as RAM around the VGA window): a map
 * that crosses from one into the other is refused, as the VM's is. */
#define HOLE_START 0xA0000u
#define HOLE_END 0xC0000u
static void *slots_map(void *opaque, uint64_t gpa, size_t len, bool write)
{
    (void)write;
    DmaFlat *f = opaque;
    uint64_t end = gpa + len;
    bool low = end <= HOLE_START, high = gpa >= HOLE_END && end <= f->size;
    return low || high ? f->mem + gpa : NULL;
}

static void test_blk_buffers_across_slots(void **state)
{
    (void)state;
    Driver d;
    driver_init(&d);
    d.dma = (DmaHandle){.map = slots_map, .opaque = &d.flat};
    BlockDev *bd = open_image(8192, false);
    VirtioDevice *vd = virtio_blk_create(bd, NULL, false);
    driver_start(&d, vd, ~0ull, 16);
    /* A read into a buffer that runs from RAM into the hole, one in the hole, one that
     * ends exactly at it, and one that starts past it. */
    uint64_t bufs[4] = {HOLE_START - 256, HOLE_START + 0x1000, HOLE_START - 512, HOLE_END};
    uint8_t want[4] = {VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_OK, VIRTIO_BLK_S_OK};
    for (int i = 0; i < 4; i++) {
        put_hdr(&d, HDR(i), VIRTIO_BLK_T_IN, 1);
        *mem_at(&d, STATUS(i)) = 0xee;
        add_chain(&d, 0, (Seg[]){{HDR(i), 16, 0}, {bufs[i], 512, VIRTQ_DESC_F_WRITE},
                                 {STATUS(i), 1, VIRTQ_DESC_F_WRITE}}, 3);
    }
    virtio_queue_notify(vd, 0);
    assert_int_equal(used_idx(&d, 0), 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(status_of(&d, i), want[i]);
    assert_int_equal(*mem_at(&d, HOLE_END + 100), (uint8_t)((512 + 100) * 7 + 1));
    assert_false(virtio_get_status(vd) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    driver_fini(&d);
    block_close(bd);
    unlink(image_path);
}

/* The I/O thread: the notify only kicks it; completion comes back as an interrupt. */
static void test_blk_thread(void **state)
{
    (void)state;
    Driver d;
    driver_init(&d);
    BlockDev *bd = open_image(1 << 20, false);
    VirtioDevice *vd = virtio_blk_create(bd, NULL, true);
    assert_non_null(vd);
    driver_start(&d, vd, ~0ull, 64);
    for (int i = 0; i < 16; i++) {
        put_hdr(&d, HDR(i), VIRTIO_BLK_T_IN, (uint64_t)i * 8);
        add_chain(&d, 0, (Seg[]){{HDR(i), 16, 0}, {BUF + (uint64_t)i * 4096, 4096, VIRTQ_DESC_F_WRITE},
                                 {STATUS(i), 1, VIRTQ_DESC_F_WRITE}}, 3);
        virtio_queue_notify(vd, 0);
    }
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 30;   /* a safety net only: the test waits for the interrupts */
    pthread_mutex_lock(&d.lock);
    while (used_idx(&d, 0) != 16) {
        if (pthread_cond_timedwait(&d.cond, &d.lock, &deadline) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&d.lock);
    assert_int_equal(used_idx(&d, 0), 16);
    for (int i = 0; i < 16; i++) {
        assert_int_equal(status_of(&d, i), VIRTIO_BLK_S_OK);
        uint64_t pos = (uint64_t)i * 4096 + 100;
        assert_int_equal(*mem_at(&d, BUF + pos), (uint8_t)(pos * 7 + pos / 512));
    }
    /* Reset while the thread may be working, then destroy: no use after free (ASan). */
    put_hdr(&d, HDR(0), VIRTIO_BLK_T_IN, 0);
    add_chain(&d, 0, (Seg[]){{HDR(0), 16, 0}, {BUF, 65536, VIRTQ_DESC_F_WRITE},
                             {STATUS(0), 1, VIRTQ_DESC_F_WRITE}}, 3);
    virtio_queue_notify(vd, 0);
    virtio_set_status(vd, 0);
    assert_false(vd->vq[0].ready);
    driver_fini(&d);
    block_close(bd);
    unlink(image_path);
}

/* ---- virtio-net ---- */

typedef struct {
    uint8_t frame[2048];
    size_t len;
    int count;
} Sent;

static void on_sent(void *opaque, const uint8_t *frame, size_t len)
{
    Sent *s = opaque;
    s->count++;
    s->len = len < sizeof(s->frame) ? len : sizeof(s->frame);
    memcpy(s->frame, frame, s->len);
}

static void test_net(void **state)
{
    (void)state;
    Driver d;
    driver_init(&d);
    Sent sent = {0};
    const uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
    VirtioDevice *vd = virtio_net_create(net_callback_create(on_sent, &sent), mac);
    assert_non_null(vd);
    assert_int_equal(virtio_config_read(vd, 0, 1), 0x52);
    assert_int_equal(virtio_config_read(vd, 5, 1), 0x56);
    assert_int_equal(virtio_config_read(vd, 6, 2), VIRTIO_NET_S_LINK_UP);
    /* A frame before the driver is there: dropped. */
    virtio_net_receive(vd, (const uint8_t *)"early", 5);
    driver_start(&d, vd, ~0ull, 16);

    /* Transmit: header + frame in two pieces. */
    memset(mem_at(&d, DATA), 0, 12);
    memcpy(mem_at(&d, DATA + 12), "ethernet", 8);
    memcpy(mem_at(&d, BUF), "-frame", 6);
    add_chain(&d, 1, (Seg[]){{DATA, 20, 0}, {BUF, 6, 0}}, 2);
    /* A header alone: nothing to send, still returned. */
    add_chain(&d, 1, (Seg[]){{DATA, 12, 0}}, 1);
    virtio_queue_notify(vd, 1);
    assert_int_equal(sent.count, 1);
    assert_int_equal(sent.len, 14);
    assert_memory_equal(sent.frame, "ethernet-frame", 14);
    assert_int_equal(used_idx(&d, 1), 2);

    /* Receive with no buffer: kept, delivered when the driver adds one and kicks. */
    virtio_net_receive(vd, (const uint8_t *)"incoming", 8);
    assert_int_equal(used_idx(&d, 0), 0);
    add_chain(&d, 0, (Seg[]){{BUF + 0x1000, 1526, VIRTQ_DESC_F_WRITE}}, 1);
    virtio_queue_notify(vd, 0);
    assert_int_equal(used_idx(&d, 0), 1);
    assert_int_equal(used_len(&d, 0, 0), 20);
    assert_int_equal(get16(&d, BUF + 0x1000 + 10), 1);   /* num_buffers */
    assert_memory_equal(mem_at(&d, BUF + 0x1010 - 4), "incoming", 8);
    /* Straight in when a buffer is there; a buffer too small gets nothing. */
    add_chain(&d, 0, (Seg[]){{BUF + 0x2000, 12, VIRTQ_DESC_F_WRITE}, {BUF + 0x3000, 100, VIRTQ_DESC_F_WRITE}}, 2);
    add_chain(&d, 0, (Seg[]){{BUF + 0x4000, 15, VIRTQ_DESC_F_WRITE}}, 1);
    virtio_net_receive(vd, (const uint8_t *)"second", 6);
    virtio_net_receive(vd, (const uint8_t *)"toolong", 7);
    assert_int_equal(used_idx(&d, 0), 3);
    assert_int_equal(used_len(&d, 0, 1), 18);
    assert_memory_equal(mem_at(&d, BUF + 0x3000), "second", 6);
    assert_int_equal(used_len(&d, 0, 2), 0);
    driver_fini(&d);
}

static void test_hostfwd_parse(void **state)
{
    (void)state;
    NetHostFwd f;
    char err[200];
    assert_int_equal(net_parse_hostfwd("tcp::5555-:22", &f, err, sizeof(err)), 0);
    assert_false(f.udp);
    assert_int_equal(f.host_port, 5555);
    assert_int_equal(f.guest_port, 22);
    assert_int_equal(f.host_addr, 0);
    assert_int_equal(net_parse_hostfwd("udp:127.0.0.1:6000-10.0.2.15:53", &f, err, sizeof(err)), 0);
    assert_true(f.udp);
    assert_int_equal(f.host_addr, htonl(0x7f000001));
    assert_int_equal(f.guest_addr, htonl(0x0a00020f));
    assert_int_equal(net_parse_hostfwd("::8080-:80", &f, err, sizeof(err)), 0);
    const char *bad[] = {"tcp:5555-:22", "tcp::5555:22", "tcp::0-:22", "tcp::70000-:22",
                         "sctp::1-:2", "tcp:1.2.3:5-:6", "tcp::5-:x", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(net_parse_hostfwd(bad[i], &f, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "hostfwd="));
}

/* libslirp end to end without a guest: the guest's DHCP DISCOVER gets an OFFER of
 * 10.0.2.15 from 10.0.2.2 through the back end's thread. */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    uint8_t frame[1600];
    size_t len;
} Caught;

static void catch_frame(void *opaque, const uint8_t *frame, size_t len)
{
    Caught *c = opaque;
    pthread_mutex_lock(&c->lock);
    if (!c->len && len <= sizeof(c->frame)) {
        memcpy(c->frame, frame, len);
        c->len = len;
        pthread_cond_broadcast(&c->cond);
    }
    pthread_mutex_unlock(&c->lock);
}

static uint16_t ip_checksum(const uint8_t *p, size_t n)
{
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += (uint32_t)p[i] << 8 | p[i + 1];
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static void test_user_dhcp(void **state)
{
    (void)state;
    NetUserConfig cfg = {0};
    NetBackend *nb = net_user_create(&cfg);
    assert_non_null(nb);
    assert_string_equal(net_backend_kind(nb), "user");
    Caught c = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}, 0};
    assert_int_equal(net_backend_start(nb, catch_frame, &c), 0);
    /* Ethernet + IPv4 + UDP 68->67 + BOOTP DISCOVER. */
    uint8_t f[14 + 20 + 8 + 240 + 4] = {0};
    const uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
    memset(f, 0xff, 6);
    memcpy(f + 6, mac, 6);
    f[12] = 0x08;
    uint8_t *ip = f + 14, *udp = ip + 20, *bootp = udp + 8;
    size_t udp_len = 8 + 240 + 4;
    ip[0] = 0x45;
    ip[2] = (uint8_t)((20 + udp_len) >> 8);
    ip[3] = (uint8_t)(20 + udp_len);
    ip[8] = 64;
    ip[9] = 17;
    memset(ip + 16, 0xff, 4);
    uint16_t sum = ip_checksum(ip, 20);
    ip[10] = (uint8_t)(sum >> 8);
    ip[11] = (uint8_t)sum;
    udp[1] = 68;
    udp[3] = 67;
    udp[4] = (uint8_t)(udp_len >> 8);
    udp[5] = (uint8_t)udp_len;
    bootp[0] = 1;       /* BOOTREQUEST */
    bootp[1] = 1;       /* Ethernet */
    bootp[2] = 6;
    bootp[4] = 0x12;    /* xid */
    memcpy(bootp + 28, mac, 6);
    bootp[236] = 99, bootp[237] = 130, bootp[238] = 83, bootp[239] = 99;   /* magic */
    bootp[240] = 53, bootp[241] = 1, bootp[242] = 1;                        /* DISCOVER */
    bootp[243] = 255;
    assert_int_equal(net_backend_send(nb, f, sizeof(f)), 0);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 30;   /* safety net: slirp answers at once */
    pthread_mutex_lock(&c.lock);
    while (!c.len && pthread_cond_timedwait(&c.cond, &c.lock, &deadline) != ETIMEDOUT)
        ;
    pthread_mutex_unlock(&c.lock);
    net_backend_destroy(nb);
    assert_true(c.len >= 14 + 20 + 8 + 240);
    const uint8_t *rip = c.frame + 14, *rbootp = rip + 28;
    assert_int_equal(rbootp[0], 2);                               /* BOOTREPLY */
    assert_memory_equal(rbootp + 16, "\x0a\x00\x02\x0f", 4);      /* yiaddr 10.0.2.15 */
    assert_memory_equal(rip + 12, "\x0a\x00\x02\x02", 4);         /* from 10.0.2.2 */
}

int main(void)
{
    hv_set_log_level(HV_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_order_and_copy),
        cmocka_unit_test(test_chain_loop),
        cmocka_unit_test(test_chain_bad_fields),
        cmocka_unit_test(test_indirect),
        cmocka_unit_test(test_notification_suppression),
        cmocka_unit_test(test_negotiation_and_reset),
        cmocka_unit_test(test_needs_reset),
        cmocka_unit_test(test_rng),
        cmocka_unit_test(test_blk_requests),
        cmocka_unit_test(test_blk_read_only),
        cmocka_unit_test(test_blk_buffers_across_slots),
        cmocka_unit_test(test_blk_thread),
        cmocka_unit_test(test_net),
        cmocka_unit_test(test_hostfwd_parse),
        cmocka_unit_test(test_user_dhcp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
