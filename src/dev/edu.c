/*
 * QEMU's edu device (edu.h). Everything runs on the vCPU thread: the factorial and the
 * DMA complete within the register write that starts them (the status and command bits
 * read as done at once; QEMU finishes them a little later, which a driver polling the
 * bits cannot tell apart).
 */
#include "dev/edu.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hv/hv_log.h"

/* Registers (offsets in BAR0). Below EDU_REG_DMA_SRC only 4-byte accesses exist. */
#define EDU_REG_ID          0x00
#define EDU_REG_ALIVE       0x04
#define EDU_REG_FACTORIAL   0x08
#define EDU_REG_STATUS      0x20
#define EDU_REG_IRQ_STATUS  0x24
#define EDU_REG_IRQ_RAISE   0x60
#define EDU_REG_IRQ_ACK     0x64
#define EDU_REG_DMA_SRC     0x80
#define EDU_REG_DMA_DST     0x88
#define EDU_REG_DMA_COUNT   0x90
#define EDU_REG_DMA_CMD     0x98
#define EDU_ID_VALUE        0x010000EDu   /* version 1.0 */
#define EDU_STATUS_COMPUTING 0x01
#define EDU_STATUS_IRQ_FACT  0x80
#define EDU_IRQ_FACTORIAL    0x00000001u
#define EDU_IRQ_DMA          0x00000100u
#define EDU_DMA_START        0x01
#define EDU_DMA_TO_RAM       0x02
#define EDU_DMA_IRQ          0x04
#define EDU_DMA_BUFFER       0x40000u
#define EDU_DMA_BUFFER_SIZE  4096u

struct Edu {
    PciDevice *pci;
    uint64_t dma_mask;
    uint32_t alive, factorial, status, irq_status;
    uint64_t dma_src, dma_dst, dma_count, dma_cmd;
    uint8_t buffer[EDU_DMA_BUFFER_SIZE];
};

/* INTx follows the interrupt status while MSI is off; with MSI each raise is a message
 * (the driver still acknowledges, as the spec says). */
static void raise_irq(Edu *e, uint32_t bits)
{
    e->irq_status |= bits;
    if (!e->irq_status)
        return;
    if (pci_msi_enabled(e->pci))
        pci_msi_notify(e->pci);
    else
        pci_set_irq(e->pci, 1);
}

static void ack_irq(Edu *e, uint32_t bits)
{
    e->irq_status &= ~bits;
    if (!e->irq_status && !pci_msi_enabled(e->pci))
        pci_set_irq(e->pci, 0);
}

/* The transfer the DMA registers describe, between guest memory (through the function's
 * checked handle: Bus Master Enable, RAM only) and the 4 KiB buffer. A transfer outside
 * the buffer, or memory the device may not reach, does nothing: QEMU stops the VM
 * there, a hostile guest must not. */
static void run_dma(Edu *e)
{
    bool to_ram = e->dma_cmd & EDU_DMA_TO_RAM;
    uint64_t buf_addr = to_ram ? e->dma_src : e->dma_dst;
    uint64_t ram_addr = (to_ram ? e->dma_dst : e->dma_src) & e->dma_mask;
    uint64_t n = e->dma_count;
    if (buf_addr >= EDU_DMA_BUFFER && n <= EDU_DMA_BUFFER_SIZE &&
        buf_addr - EDU_DMA_BUFFER <= EDU_DMA_BUFFER_SIZE - n) {
        uint8_t *b = e->buffer + (buf_addr - EDU_DMA_BUFFER);
        const DmaHandle *dma = pci_device_dma(e->pci);
        int r = to_ram ? dma_write(dma, ram_addr, b, (size_t)n)
                       : dma_read(dma, ram_addr, b, (size_t)n);
        if (r < 0)
            hv_log(HV_LOG_DEBUG, "edu: DMA of %llu bytes at 0x%llx refused",
                   (unsigned long long)n, (unsigned long long)ram_addr);
    }
    e->dma_cmd &= ~(uint64_t)EDU_DMA_START;
    if (e->dma_cmd & EDU_DMA_IRQ)
        raise_irq(e, EDU_IRQ_DMA);
}

static int edu_read(void *opaque, int bar, uint64_t offset, uint8_t size, uint64_t *value)
{
    (void)bar;
    Edu *e = opaque;
    uint64_t v = UINT64_MAX;   /* what an access the device does not decode reads */
    if (offset < EDU_REG_DMA_SRC && size == 4) {
        switch (offset) {
        case EDU_REG_ID: v = EDU_ID_VALUE; break;
        case EDU_REG_ALIVE: v = e->alive; break;
        case EDU_REG_FACTORIAL: v = e->factorial; break;
        case EDU_REG_STATUS: v = e->status; break;
        case EDU_REG_IRQ_STATUS: v = e->irq_status; break;
        default: break;
        }
    } else if (offset >= EDU_REG_DMA_SRC && (size == 4 || size == 8)) {
        switch (offset) {
        case EDU_REG_DMA_SRC: v = e->dma_src; break;
        case EDU_REG_DMA_DST: v = e->dma_dst; break;
        case EDU_REG_DMA_COUNT: v = e->dma_count; break;
        case EDU_REG_DMA_CMD: v = e->dma_cmd; break;
        default:
            if (offset >= EDU_DMA_BUFFER && offset - EDU_DMA_BUFFER <= EDU_DMA_BUFFER_SIZE - size) {
                v = 0;
                memcpy(&v, e->buffer + (offset - EDU_DMA_BUFFER), size);
            }
            break;
        }
    }
    *value = v;
    return 0;
}

static int edu_write(void *opaque, int bar, uint64_t offset, uint8_t size, uint64_t value)
{
    (void)bar;
    Edu *e = opaque;
    if (offset < EDU_REG_DMA_SRC && size == 4) {
        uint32_t v = (uint32_t)value;
        switch (offset) {
        case EDU_REG_ALIVE:
            e->alive = ~v;
            break;
        case EDU_REG_FACTORIAL:
            if (e->status & EDU_STATUS_COMPUTING)
                break;
            uint32_t f = 1;
            for (uint32_t i = 2; i <= v && f; i++)   /* wraps as 32 bits do; 0 stays 0 */
                f *= i;
            e->factorial = f;
            if (e->status & EDU_STATUS_IRQ_FACT)
                raise_irq(e, EDU_IRQ_FACTORIAL);
            break;
        case EDU_REG_STATUS:
            e->status = (e->status & EDU_STATUS_COMPUTING) | (v & EDU_STATUS_IRQ_FACT);
            break;
        case EDU_REG_IRQ_RAISE:
            raise_irq(e, v);
            break;
        case EDU_REG_IRQ_ACK:
            ack_irq(e, v);
            break;
        default:
            break;
        }
    } else if (offset >= EDU_REG_DMA_SRC && (size == 4 || size == 8)) {
        switch (offset) {
        case EDU_REG_DMA_SRC: e->dma_src = value; break;
        case EDU_REG_DMA_DST: e->dma_dst = value; break;
        case EDU_REG_DMA_COUNT: e->dma_count = value; break;
        case EDU_REG_DMA_CMD:
            if (!(e->dma_cmd & EDU_DMA_START)) {
                e->dma_cmd = value;
                if (value & EDU_DMA_START)
                    run_dma(e);
            }
            break;
        default:
            if (offset >= EDU_DMA_BUFFER && offset - EDU_DMA_BUFFER <= EDU_DMA_BUFFER_SIZE - size)
                memcpy(e->buffer + (offset - EDU_DMA_BUFFER), &value, size);
            break;
        }
    }
    return 0;
}

static void edu_reset(void *opaque)
{
    Edu *e = opaque;
    PciDevice *pci = e->pci;
    uint64_t mask = e->dma_mask;
    memset(e, 0, sizeof(*e));
    e->pci = pci;
    e->dma_mask = mask;
    pci_set_irq(pci, 0);
}

Edu *edu_create(PciBus *bus, uint64_t dma_mask)
{
    Edu *e = calloc(1, sizeof(*e));
    if (!e) {
        hv_fail(ENOMEM, "edu: out of memory");
        return NULL;
    }
    e->dma_mask = dma_mask;
    const PciDeviceInfo info = {"edu", EDU_VENDOR_ID, EDU_DEVICE_ID, 0x1AF4, 0x1100, 0x10,
                                0x00FF00, 1};
    const PciDeviceOps ops = {NULL, edu_reset, e};
    const PciBar bar = {PCI_BAR_MEM32, EDU_BAR_SIZE, false, edu_read, edu_write};
    if (!(e->pci = pci_device_add(bus, -1, &info, &ops)) ||
        pci_device_set_bar(e->pci, 0, &bar) < 0 || pci_device_init_msi(e->pci, true) < 0) {
        edu_destroy(e);
        return NULL;
    }
    return e;
}

void edu_destroy(Edu *e)
{
    if (!e)
        return;
    pci_device_remove(e->pci);
    free(e);
}

PciDevice *edu_pci(Edu *e) { return e ? e->pci : NULL; }
