/*
 * QEMU's pc-testdev (the KVM project's test device): a 32-bit scratch register at ports
 * 0xE0-0xE3 (byte, word and dword accesses at any offset read back what was written
 * there), a page-flush port at 0xE4 (the guest names a page whose mappings the
 * hypervisor must drop; nothing here caches guest pages, so it only counts), IRQ lines
 * at ports 0x2000-0x2017 (a write of V to 0x2000 + n sets ISA IRQ line n to V != 0,
 * through the set_irq callback: the VM wires them to its ISA lines), and 4 KiB of I/O
 * memory at 0xFF000000 that behaves as plain memory but is reached only through MMIO
 * exits (emulator tests use it).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dev/dev_io.h"
#include "hv/hv_log.h"

PcTestdev *pc_testdev_create(void)
{
    PcTestdev *t = calloc(1, sizeof(*t));
    if (!t)
        hv_fail(ENOMEM, "pc-testdev: out of memory");
    return t;
}

void pc_testdev_destroy(PcTestdev *t) { free(t); }

/* The bits of the scratch register an access of `size` at `port` covers. */
static uint32_t ioport_mask(uint16_t port, uint8_t size, unsigned *shift)
{
    *shift = (unsigned)(port - PC_TESTDEV_IOPORT) * 8;
    uint32_t m = size >= 4 ? 0xFFFFFFFFu : (1u << (size * 8)) - 1;
    return *shift >= 32 ? 0 : m << *shift;
}

int pc_testdev_io_read(uint16_t port, uint8_t size, uint32_t *value, void *opaque)
{
    PcTestdev *t = opaque;
    *value = 0;
    if (port >= PC_TESTDEV_IOPORT && port < PC_TESTDEV_IOPORT + 4) {
        unsigned shift;
        uint32_t mask = ioport_mask(port, size, &shift);
        *value = (t->ioport & mask) >> shift;
    } else if (port >= PC_TESTDEV_IRQ_PORT && port < PC_TESTDEV_IRQ_PORT + PC_TESTDEV_IRQS) {
        *value = t->irq_level[port - PC_TESTDEV_IRQ_PORT];
    }
    return 0;
}

int pc_testdev_io_write(uint16_t port, uint8_t size, uint32_t value, void *opaque)
{
    PcTestdev *t = opaque;
    if (port >= PC_TESTDEV_IOPORT && port < PC_TESTDEV_IOPORT + 4) {
        unsigned shift;
        uint32_t mask = ioport_mask(port, size, &shift);
        t->ioport = (t->ioport & ~mask) | ((value << shift) & mask);
    } else if (port == PC_TESTDEV_FLUSH_PORT) {
        t->page_flushes++;
    } else if (port >= PC_TESTDEV_IRQ_PORT && port < PC_TESTDEV_IRQ_PORT + PC_TESTDEV_IRQS) {
        int line = port - PC_TESTDEV_IRQ_PORT;
        t->irq_level[line] = value != 0;   /* QEMU: !!data */
        if (t->set_irq)
            t->set_irq(t->irq_opaque, line, value != 0);
    }
    return 0;
}

int pc_testdev_mmio_read(uint64_t addr, uint8_t size, uint64_t *value, void *opaque)
{
    PcTestdev *t = opaque;
    return dev_memory_read(t->iomem, PC_TESTDEV_IOMEM, PC_TESTDEV_IOMEM_SIZE, addr, size, value);
}

int pc_testdev_mmio_write(uint64_t addr, uint8_t size, uint64_t value, void *opaque)
{
    PcTestdev *t = opaque;
    return dev_memory_write(t->iomem, PC_TESTDEV_IOMEM, PC_TESTDEV_IOMEM_SIZE, addr, size, value);
}
