/*
 * Harness: the virtio PCI transport (src/dev/virtio/virtio_pci.c) on a real PCI bus
 * (src/dev/pci.c), as a hostile guest reaches it: configuration space (the capabilities,
 * the PCI configuration access window, MSI-X control), the registers of BAR 4 (common,
 * ISR, device configuration, notify) and the MSI-X table, with the virtqueues in a flat
 * 64 KiB guest memory. Input: a byte choosing the device (blk on a 64 KiB memfd disk,
 * net on a test back end, rng), up to FUZZ_PCI_OPS operations of 8 bytes (kind, size
 * exponent, 16-bit offset, 32-bit value), then the memory image. Operations: BAR 4
 * write, BAR 4 read, configuration write, configuration read, MSI-X BAR write, a memory
 * byte, the device's own (blk: serve the queue; net: deliver a frame), the bus's reset.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "dev/pci_bus.h"
#include "dev/virtio/virtio_devices.h"
#include "dev/virtio/virtio_pci.h"

#define FUZZ_PCI_OPS 48
#define MEM 65536
#define DISK 65536
#define SLOT 3

static uint8_t mem[MEM];
static int disk_fd = -1;

static void no_gsi(void *opaque, int gsi, int level) { (void)opaque, (void)gsi, (void)level; }
static void no_msi(void *opaque, uint64_t addr, uint32_t data) { (void)opaque, (void)addr, (void)data; }

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_quiet_output();
    disk_fd = memfd_create("fuzz-virtio-pci", MFD_CLOEXEC);
    if (disk_fd < 0 || ftruncate(disk_fd, DISK) < 0)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FuzzIn in = {data, size};
    unsigned which = fuzz_take(&in, 1) % 3;
    uint8_t ops[FUZZ_PCI_OPS][8];
    unsigned nops = fuzz_take(&in, 1) % (FUZZ_PCI_OPS + 1);
    for (unsigned i = 0; i < nops; i++)
        for (int k = 0; k < 8; k++)
            ops[i][k] = (uint8_t)fuzz_take(&in, 1);
    memset(mem, 0, sizeof(mem));
    memcpy(mem, in.p, in.left < sizeof(mem) ? in.left : sizeof(mem));

    IoBus *io = io_bus_create();
    MmioBus *mmio = mmio_bus_create();
    DmaFlat flat = {mem, sizeof(mem)};
    const PciBusWiring w = {.io = io, .mmio = mmio, .dma = dma_flat_handle(&flat),
                            .set_gsi = no_gsi, .set_isa_irq = no_gsi, .msi = no_msi};
    PciBus *bus = pci_bus_create(&w);
    BlockDev *bd = NULL;
    VirtioDevice *vd;
    if (which == 0) {
        int fd = dup(disk_fd);
        if (fd < 0 || block_raw_open(fd, false, &bd) < 0)
            abort();
        vd = virtio_blk_create(bd, "fuzz", false);
    } else if (which == 1) {
        static const uint8_t mac[6] = {0x52, 0x54, 0, 0x12, 0x34, 0x56};
        vd = virtio_net_create(net_callback_create(NULL, NULL), mac);
    } else {
        vd = virtio_rng_create();
    }
    VirtioPci *vp = bus && vd ? virtio_pci_create(bus, SLOT, vd) : NULL;
    if (!vp)
        abort();
    pci_bus_assign_resources(bus);
    uint32_t base = 0x80000000u | SLOT << 11;
    uint64_t bar4 = pci_bus_config_read(bus, base | (0x10 + 4 * VIRTIO_PCI_BAR), 0, 4) & ~0xFull;
    uint64_t bar1 = pci_bus_config_read(bus, base | (0x10 + 4 * VIRTIO_PCI_MSIX_BAR), 0, 4) & ~0xFull;
    for (unsigned i = 0; i < nops; i++) {
        unsigned kind = ops[i][0] & 7;
        uint8_t sz = (uint8_t)(1u << (ops[i][1] & 3));
        unsigned off = ops[i][2] | ops[i][3] << 8;
        uint32_t val;
        memcpy(&val, &ops[i][4], 4);
        uint64_t v;
        switch (kind) {
        case 0:
            mmio_bus_write(mmio, bar4 + (off % VIRTIO_PCI_BAR_SIZE & ~(sz - 1u)), sz, val);
            break;
        case 1:
            mmio_bus_read(mmio, bar4 + (off % VIRTIO_PCI_BAR_SIZE & ~(sz - 1u)), sz, &v);
            break;
        case 2:
            pci_bus_config_write(bus, base | (off & 0xFC), off & 3, sz > 4 ? 4 : sz, val);
            break;
        case 3:
            (void)pci_bus_config_read(bus, base | (off & 0xFC), off & 3, sz > 4 ? 4 : sz);
            break;
        case 4:
            mmio_bus_write(mmio, bar1 + (off % VIRTIO_PCI_MSIX_BAR_SIZE & ~(sz - 1u)), sz, val);
            break;
        case 5:
            mem[off] = (uint8_t)val;
            break;
        case 6:
            if (which == 0) {
                virtio_blk_process(vd);
            } else if (which == 1) {
                uint8_t frame[256];
                memset(frame, (int)val, sizeof(frame));
                virtio_net_receive(vd, frame, off % sizeof(frame));
            }
            break;
        default:
            pci_bus_reset(bus);
            bar4 = pci_bus_config_read(bus, base | (0x10 + 4 * VIRTIO_PCI_BAR), 0, 4) & ~0xFull;
            bar1 = pci_bus_config_read(bus, base | (0x10 + 4 * VIRTIO_PCI_MSIX_BAR), 0, 4) & ~0xFull;
            break;
        }
    }
    virtio_pci_destroy(vp);
    block_close(bd);
    pci_bus_destroy(bus);
    io_bus_destroy(io);
    mmio_bus_destroy(mmio);
    return 0;
}
