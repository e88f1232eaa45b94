/*
 * The virtio PCI transport (virtio_pci.h), register layouts from the virtio 1.x spec,
 * 4.1.4. The common configuration is served field by field: an access of any width at
 * any offset reads or writes the bytes of the fields it covers, so a driver that splits
 * a 64-bit queue address into two 32-bit writes (as the spec allows) gets what it meant.
 */
#include "dev/virtio/virtio_pci.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hv/hv_log.h"

/* Capability types (4.1.4). */
#define CAP_COMMON 1
#define CAP_NOTIFY 2
#define CAP_ISR 3
#define CAP_DEVICE 4
#define CAP_PCI_CFG 5

/* struct virtio_pci_common_cfg offsets. */
#define CC_DFSELECT 0x00
#define CC_DF 0x04
#define CC_GFSELECT 0x08
#define CC_GF 0x0c
#define CC_MSIX 0x10
#define CC_NUMQ 0x12
#define CC_STATUS 0x14
#define CC_CFGGEN 0x15
#define CC_Q_SELECT 0x16
#define CC_Q_SIZE 0x18
#define CC_Q_MSIX 0x1a
#define CC_Q_ENABLE 0x1c
#define CC_Q_NOFF 0x1e
#define CC_Q_DESCLO 0x20
#define CC_Q_AVAILLO 0x28
#define CC_Q_USEDLO 0x30
#define CC_SIZE 0x38

#define VIRTIO_PCI_VENDOR 0x1af4
#define VIRTIO_PCI_DEVICE_BASE 0x1040
#define VIRTIO_PCI_SUBSYSTEM 0x1100

struct VirtioPci {
    VirtioDevice *vd;
    PciDevice *pd;
    uint32_t device_feature_select, driver_feature_select;
    uint16_t queue_select;
    unsigned msix_vectors;
    int pci_cfg_cap;            /* offset of the configuration access capability */
    /* What the bus was given, kept for as long as the function exists. */
    PciDeviceInfo info;
    PciDeviceOps ops;
    PciBar bar, msix_bar;
};

static uint16_t queue_count(const VirtioPci *vp) { return (uint16_t)vp->vd->num_queues; }

/* The queue selected, or NULL when queue_select names none. */
static VirtQueue *selected_queue(VirtioPci *vp)
{
    return vp->queue_select < vp->vd->num_queues ? &vp->vd->vq[vp->queue_select] : NULL;
}

/* The common configuration as the driver sees it now. */
static void common_snapshot(VirtioPci *vp, uint8_t cc[CC_SIZE])
{
    VirtioDevice *vd = vp->vd;
    memset(cc, 0, CC_SIZE);
    uint32_t df = virtio_get_features(vd, vp->device_feature_select);
    uint32_t gf = virtio_get_driver_features(vd, vp->driver_feature_select);
    uint16_t numq = queue_count(vp);
    pthread_mutex_lock(&vd->lock);
    memcpy(cc + CC_DFSELECT, &vp->device_feature_select, 4);
    memcpy(cc + CC_DF, &df, 4);
    memcpy(cc + CC_GFSELECT, &vp->driver_feature_select, 4);
    memcpy(cc + CC_GF, &gf, 4);
    memcpy(cc + CC_MSIX, &vd->config_vector, 2);
    memcpy(cc + CC_NUMQ, &numq, 2);
    cc[CC_STATUS] = vd->status;
    cc[CC_CFGGEN] = vd->config_generation;
    memcpy(cc + CC_Q_SELECT, &vp->queue_select, 2);
    const VirtQueue *vq = selected_queue(vp);
    if (vq) {
        uint16_t enable = vq->ready, noff = vp->queue_select;
        memcpy(cc + CC_Q_SIZE, &vq->size, 2);
        memcpy(cc + CC_Q_MSIX, &vq->msix_vector, 2);
        memcpy(cc + CC_Q_ENABLE, &enable, 2);
        memcpy(cc + CC_Q_NOFF, &noff, 2);
        memcpy(cc + CC_Q_DESCLO, &vq->desc, 8);
        memcpy(cc + CC_Q_AVAILLO, &vq->avail, 8);
        memcpy(cc + CC_Q_USEDLO, &vq->used, 8);
    }
    pthread_mutex_unlock(&vd->lock);
}

/* A vector the function has, else NO_VECTOR (what the driver reads back: 4.1.5.1.2). */
static uint16_t checked_vector(const VirtioPci *vp, uint16_t v)
{
    return v < vp->msix_vectors ? v : VIRTIO_NO_VECTOR;
}

/* Applies field `off` of the written snapshot. */
static void common_apply(VirtioPci *vp, unsigned off, const uint8_t cc[CC_SIZE])
{
    VirtioDevice *vd = vp->vd;
    uint16_t v16;
    uint32_t v32;
    uint64_t v64;
    memcpy(&v16, cc + off, 2);
    memcpy(&v32, cc + off, 4);
    switch (off) {
    case CC_DFSELECT:
        vp->device_feature_select = v32;
        return;
    case CC_GFSELECT:
        vp->driver_feature_select = v32;
        return;
    case CC_GF:
        virtio_set_driver_features(vd, vp->driver_feature_select, v32);
        return;
    case CC_STATUS:
        virtio_set_status(vd, cc[CC_STATUS]);
        if (cc[CC_STATUS] == 0) {
            pci_set_irq(vp->pd, 0);
            vp->queue_select = 0;
        }
        return;
    case CC_Q_SELECT:
        vp->queue_select = v16;
        return;
    default:
        break;
    }
    pthread_mutex_lock(&vd->lock);
    VirtQueue *vq = selected_queue(vp);
    if (off == CC_MSIX) {
        vd->config_vector = checked_vector(vp, v16);
    } else if (vq && off == CC_Q_MSIX) {
        vq->msix_vector = checked_vector(vp, v16);
    } else if (vq && !vq->ready) {   /* the rest is fixed once the queue is enabled */
        switch (off) {
        case CC_Q_SIZE:
            vq->size = v16;     /* a bad size leaves the queue unusable (virtq_usable) */
            break;
        case CC_Q_ENABLE:
            if (v16 == 1) {
                vq->ready = true;
                vq->last_avail = vq->used_idx = 0;
                vq->signalled_valid = false;
            }
            break;
        case CC_Q_DESCLO:
        case CC_Q_AVAILLO:
        case CC_Q_USEDLO:
            memcpy(&v64, cc + off, 8);
            *(off == CC_Q_DESCLO ? &vq->desc : off == CC_Q_AVAILLO ? &vq->avail : &vq->used) = v64;
            break;
        default:
            break;
        }
    }
    pthread_mutex_unlock(&vd->lock);
}

/* The fields of the common configuration, by offset and size. */
static const struct {
    uint8_t off, size;
} common_fields[] = {
    {CC_DFSELECT, 4}, {CC_DF, 4}, {CC_GFSELECT, 4}, {CC_GF, 4}, {CC_MSIX, 2}, {CC_NUMQ, 2},
    {CC_STATUS, 1}, {CC_CFGGEN, 1}, {CC_Q_SELECT, 2}, {CC_Q_SIZE, 2}, {CC_Q_MSIX, 2},
    {CC_Q_ENABLE, 2}, {CC_Q_NOFF, 2}, {CC_Q_DESCLO, 8}, {CC_Q_AVAILLO, 8}, {CC_Q_USEDLO, 8},
};

static void common_write(VirtioPci *vp, uint64_t offset, uint8_t size, uint64_t value)
{
    if (offset >= CC_SIZE)
        return;
    uint8_t cc[CC_SIZE];
    common_snapshot(vp, cc);
    uint64_t n = size < CC_SIZE - offset ? size : CC_SIZE - offset;
    memcpy(cc + offset, &value, n);
    for (size_t i = 0; i < sizeof(common_fields) / sizeof(common_fields[0]); i++) {
        unsigned f = common_fields[i].off, fend = f + common_fields[i].size;
        if (f < offset + n && offset < fend)
            common_apply(vp, f, cc);
    }
}

static uint64_t bar_read(VirtioPci *vp, uint64_t offset, uint8_t size, bool side_effects)
{
    uint64_t v = 0;
    if (offset < VIRTIO_PCI_ISR_OFF) {
        uint8_t cc[CC_SIZE];
        if (offset < CC_SIZE) {
            common_snapshot(vp, cc);
            memcpy(&v, cc + offset, size < CC_SIZE - offset ? size : CC_SIZE - offset);
        }
    } else if (offset < VIRTIO_PCI_DEVICE_OFF) {
        if (offset == VIRTIO_PCI_ISR_OFF) {
            if (!side_effects)
                return __atomic_load_n(&vp->vd->isr, __ATOMIC_SEQ_CST);
            v = virtio_isr_read_clear(vp->vd);
            pci_set_irq(vp->pd, 0);   /* the read deasserts INTx (4.1.4.5.1) */
            /* unless an I/O thread raised it again in between: never lose that one */
            if (__atomic_load_n(&vp->vd->isr, __ATOMIC_SEQ_CST))
                pci_set_irq(vp->pd, 1);
        }
    } else if (offset < VIRTIO_PCI_NOTIFY_OFF) {
        v = virtio_config_read(vp->vd, (uint32_t)(offset - VIRTIO_PCI_DEVICE_OFF), size);
    }
    return v;   /* notify: reads as 0 */
}

static void bar_write(VirtioPci *vp, uint64_t offset, uint8_t size, uint64_t value)
{
    if (offset < VIRTIO_PCI_ISR_OFF) {
        common_write(vp, offset, size, value);
    } else if (offset < VIRTIO_PCI_DEVICE_OFF) {
        /* ISR is read-only */
    } else if (offset < VIRTIO_PCI_NOTIFY_OFF) {
        virtio_config_write(vp->vd, (uint32_t)(offset - VIRTIO_PCI_DEVICE_OFF), size, value);
    } else {
        uint64_t q = (offset - VIRTIO_PCI_NOTIFY_OFF) / VIRTIO_PCI_NOTIFY_MULT;
        if (q < vp->vd->num_queues)
            virtio_queue_notify(vp->vd, (unsigned)q);
    }
}

static int on_bar_read(void *opaque, int bar, uint64_t offset, uint8_t size, uint64_t *value)
{
    *value = bar == VIRTIO_PCI_BAR ? bar_read(opaque, offset, size, true) : 0;
    return 0;
}

static int on_bar_write(void *opaque, int bar, uint64_t offset, uint8_t size, uint64_t value)
{
    if (bar == VIRTIO_PCI_BAR)
        bar_write(opaque, offset, size, value);
    return 0;
}

/* The configuration access capability (4.1.4.8): the driver names bar, offset and length
 * in it, then writes pci_cfg_data to write the BAR there; reads of pci_cfg_data see what
 * was there when the window was last named (the bus calls no hook on configuration
 * reads), without the ISR's read-to-clear. */
#define PCICFG_BAR 4          /* from the capability's start */
#define PCICFG_OFFSET 8
#define PCICFG_LENGTH 12
#define PCICFG_DATA 16

static void on_config_written(void *opaque, uint32_t offset, uint8_t size, uint32_t value)
{
    (void)value;
    VirtioPci *vp = opaque;
    if (vp->pci_cfg_cap <= 0)
        return;
    uint32_t cap = (uint32_t)vp->pci_cfg_cap;
    if (offset + size <= cap + PCICFG_BAR || offset >= cap + PCICFG_DATA + 4)
        return;
    uint8_t *cfg = pci_device_config(vp->pd);
    uint32_t bar_off, len;
    memcpy(&bar_off, cfg + cap + PCICFG_OFFSET, 4);
    memcpy(&len, cfg + cap + PCICFG_LENGTH, 4);
    bool ok = cfg[cap + PCICFG_BAR] == VIRTIO_PCI_BAR && (len == 1 || len == 2 || len == 4) &&
              bar_off < VIRTIO_PCI_BAR_SIZE && bar_off % len == 0;
    if (!ok)
        return;
    if (offset >= cap + PCICFG_DATA) {
        uint32_t data;
        memcpy(&data, cfg + cap + PCICFG_DATA, 4);
        bar_write(vp, bar_off, (uint8_t)len, data);
    } else {
        uint32_t data = (uint32_t)bar_read(vp, bar_off, (uint8_t)len, false);
        memcpy(cfg + cap + PCICFG_DATA, &data, 4);
    }
}

static void on_reset(void *opaque)
{
    VirtioPci *vp = opaque;
    virtio_set_status(vp->vd, 0);
    vp->device_feature_select = vp->driver_feature_select = 0;
    vp->queue_select = 0;
    pci_set_irq(vp->pd, 0);
}

/* Called by the device with its lock held, on any thread. */
static void on_interrupt(void *transport, VirtioDevice *vd, int queue)
{
    VirtioPci *vp = transport;
    if (pci_msix_enabled(vp->pd)) {
        uint16_t vector = queue < 0 ? vd->config_vector : vd->vq[queue].msix_vector;
        if (vector != VIRTIO_NO_VECTOR)
            pci_msix_notify(vp->pd, vector);
    } else {
        pci_set_irq(vp->pd, 1);
    }
}

static uint32_t class_of(uint16_t type)
{
    switch (type) {
    case VIRTIO_ID_NET:
        return 0x020000;   /* Ethernet controller */
    case VIRTIO_ID_BLOCK:
        return 0x010000;   /* SCSI storage controller, as QEMU's virtio-blk */
    case VIRTIO_ID_CONSOLE:
        return 0x078000;   /* other communication controller */
    default:
        return 0x00ff00;   /* unclassified */
    }
}

static int add_cap(PciDevice *pd, uint8_t type, uint32_t offset, uint32_t length,
                   const void *extra, size_t extra_len)
{
    /* struct virtio_pci_cap after cap_vndr and cap_next. */
    uint8_t body[2 + 16 + 4] = {0};
    body[0] = (uint8_t)(2 + 14 + extra_len);   /* cap_len, counting vndr and next */
    body[1] = type;
    body[2] = type == CAP_PCI_CFG ? 0 : VIRTIO_PCI_BAR;
    memcpy(body + 6, &offset, 4);
    memcpy(body + 10, &length, 4);
    if (extra_len)
        memcpy(body + 14, extra, extra_len);
    return pci_device_add_capability(pd, PCI_CAP_ID_VENDOR, body, 14 + extra_len);
}

static const PciDeviceOps virtio_pci_ops = {
    .config_written = on_config_written,
    .reset = on_reset,
};

VirtioPci *virtio_pci_create(PciBus *bus, int slot, VirtioDevice *vd)
{
    VirtioPci *vp = calloc(1, sizeof(*vp));
    if (!vp) {
        virtio_device_destroy(vd);
        hv_fail(ENOMEM, "%s: out of memory", vd->name);
        return NULL;
    }
    vp->vd = vd;
    vp->msix_vectors = vd->num_queues + 1;
    vp->info = (PciDeviceInfo){
        .name = vd->name,
        .vendor_id = VIRTIO_PCI_VENDOR,
        .device_id = (uint16_t)(VIRTIO_PCI_DEVICE_BASE + vd->device_type),
        .subsystem_vendor_id = VIRTIO_PCI_VENDOR,
        .subsystem_id = VIRTIO_PCI_SUBSYSTEM,
        .revision = 1,
        .class_code = class_of(vd->device_type),
        .interrupt_pin = 1,
    };
    vp->ops = virtio_pci_ops;
    vp->ops.opaque = vp;
    vp->bar = (PciBar){.kind = PCI_BAR_MEM32, .size = VIRTIO_PCI_BAR_SIZE,
                       .read = on_bar_read, .write = on_bar_write};
    vp->msix_bar = (PciBar){.kind = PCI_BAR_MEM32, .size = VIRTIO_PCI_MSIX_BAR_SIZE,
                            .read = on_bar_read, .write = on_bar_write};
    const uint32_t mult = VIRTIO_PCI_NOTIFY_MULT;
    const uint8_t no_data[4] = {0};
    if (!(vp->pd = pci_device_add(bus, slot, &vp->info, &vp->ops)) ||
        pci_device_set_bar(vp->pd, VIRTIO_PCI_BAR, &vp->bar) < 0 ||
        pci_device_set_bar(vp->pd, VIRTIO_PCI_MSIX_BAR, &vp->msix_bar) < 0 ||
        pci_device_init_msix(vp->pd, vp->msix_vectors, VIRTIO_PCI_MSIX_BAR, 0,
                             VIRTIO_PCI_MSIX_BAR_SIZE / 2) < 0 ||
        add_cap(vp->pd, CAP_COMMON, VIRTIO_PCI_COMMON_OFF, 0x1000, NULL, 0) < 0 ||
        add_cap(vp->pd, CAP_ISR, VIRTIO_PCI_ISR_OFF, 0x1000, NULL, 0) < 0 ||
        add_cap(vp->pd, CAP_DEVICE, VIRTIO_PCI_DEVICE_OFF, 0x1000, NULL, 0) < 0 ||
        add_cap(vp->pd, CAP_NOTIFY, VIRTIO_PCI_NOTIFY_OFF, 0x1000, &mult, 4) < 0 ||
        (vp->pci_cfg_cap = add_cap(vp->pd, CAP_PCI_CFG, 0, 0, no_data, 4)) < 0 ||
        /* the driver writes bar, offset, length and data of that capability */
        pci_device_config_writable(vp->pd, (unsigned)vp->pci_cfg_cap + PCICFG_BAR, 16) < 0) {
        hv_fail(ENOSPC, "%s: cannot add the PCI function", vd->name);
        virtio_device_destroy(vd);
        free(vp);
        return NULL;
    }
    vd->interrupt = on_interrupt;
    vd->transport = vp;
    virtio_device_set_dma(vd, pci_device_dma(vp->pd));
    return vp;
}

void virtio_pci_destroy(VirtioPci *vp)
{
    if (!vp)
        return;
    virtio_device_destroy(vp->vd);
    free(vp);
}

VirtioDevice *virtio_pci_device(VirtioPci *vp) { return vp->vd; }
PciDevice *virtio_pci_function(VirtioPci *vp) { return vp->pd; }
