/* Unit tests for the virtio PCI transport (src/dev/virtio/virtio_pci.c) on a real PCI bus
 * (src/dev/pci.c) with recording wiring and a flat guest memory: the capabilities a
 * driver walks, the common configuration field by field (64-bit fields in 32-bit halves),
 * feature negotiation through it, INTx with the ISR, MSI-X vectors, the PCI configuration
 * access capability, and hostile register writes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dev/pci_bus.h"
#include "dev/virtio/virtio_devices.h"
#include "dev/virtio/virtio_pci.h"

#define SLOT 3

typedef struct {
    int gsi_level[24];
    int msis;
    uint32_t msi_data;
} Wires;

typedef struct {
    IoBus *io;
    MmioBus *mmio;
    PciBus *bus;
    uint8_t ram[1 << 20];
    DmaFlat flat;
    Wires w;
    VirtioPci *vp;
    uint64_t bar, msix_bar;
} Rig;

static void rec_gsi(void *opaque, int gsi, int level) { ((Wires *)opaque)->gsi_level[gsi] = level; }
static void rec_isa(void *opaque, int irq, int level) { (void)opaque, (void)irq, (void)level; }
static void rec_msi(void *opaque, uint64_t addr, uint32_t data)
{
    (void)addr;
    Wires *w = opaque;
    w->msis++;
    w->msi_data = data;
}

static uint32_t cfg_addr(unsigned reg) { return 0x80000000u | SLOT << 11 | (reg & 0xFC); }
static uint32_t cfg_read(Rig *r, unsigned reg, uint8_t size)
{
    return pci_bus_config_read(r->bus, cfg_addr(reg), reg & 3, size);
}
static void cfg_write(Rig *r, unsigned reg, uint8_t size, uint32_t v)
{
    pci_bus_config_write(r->bus, cfg_addr(reg), reg & 3, size, v);
}
static uint64_t rd(Rig *r, uint64_t off, uint8_t size)
{
    uint64_t v = 0;
    assert_int_equal(mmio_bus_read(r->mmio, r->bar + off, size, &v), 0);
    return v;
}
static void wr(Rig *r, uint64_t off, uint8_t size, uint64_t v)
{
    assert_int_equal(mmio_bus_write(r->mmio, r->bar + off, size, v), 0);
}

static int setup(void **state)
{
    Rig *r = calloc(1, sizeof(*r));
    hv_set_log_level(HV_LOG_ERROR);
    r->io = io_bus_create();
    r->mmio = mmio_bus_create();
    r->flat = (DmaFlat){r->ram, sizeof(r->ram)};
    const PciBusWiring w = {.io = r->io, .mmio = r->mmio, .dma = dma_flat_handle(&r->flat),
                            .set_gsi = rec_gsi, .set_isa_irq = rec_isa, .msi = rec_msi,
                            .opaque = &r->w};
    r->bus = pci_bus_create(&w);
    assert_non_null(r->bus);
    r->vp = virtio_pci_create(r->bus, SLOT, virtio_rng_create());
    assert_non_null(r->vp);
    pci_bus_assign_resources(r->bus);
    r->bar = cfg_read(r, 0x10 + 4 * VIRTIO_PCI_BAR, 4) & ~0xFull;
    r->msix_bar = cfg_read(r, 0x10 + 4 * VIRTIO_PCI_MSIX_BAR, 4) & ~0xFull;
    assert_true(r->bar != 0 && r->msix_bar != 0 && r->bar != r->msix_bar);
    *state = r;
    return 0;
}

static int teardown(void **state)
{
    Rig *r = *state;
    virtio_pci_destroy(r->vp);
    pci_bus_destroy(r->bus);
    io_bus_destroy(r->io);
    mmio_bus_destroy(r->mmio);
    free(r);
    return 0;
}

/* Offset of the vendor capability of cfg_type `type` (0 when absent). */
static unsigned find_cap(Rig *r, uint8_t type)
{
    for (unsigned c = cfg_read(r, 0x34, 1), n = 0; c && n < 48; c = cfg_read(r, c + 1, 1), n++)
        if (cfg_read(r, c, 1) == PCI_CAP_ID_VENDOR && cfg_read(r, c + 3, 1) == type)
            return c;
    return 0;
}

static void test_identity_and_caps(void **state)
{
    Rig *r = *state;
    assert_int_equal(cfg_read(r, 0, 4), 0x10441AF4);          /* 1AF4:1040 + 4 (rng) */
    assert_int_equal(cfg_read(r, 8, 1), 1);                   /* revision 1: modern */
    assert_int_equal(cfg_read(r, 0x2C, 4), 0x11001AF4);       /* subsystem */
    assert_true(cfg_read(r, 6, 2) & 0x10);                    /* capability list */
    struct {
        uint8_t type;
        uint32_t offset, len;
        uint8_t cap_len;
    } want[] = {{1, VIRTIO_PCI_COMMON_OFF, 0x1000, 16}, {3, VIRTIO_PCI_ISR_OFF, 0x1000, 16},
                {4, VIRTIO_PCI_DEVICE_OFF, 0x1000, 16}, {2, VIRTIO_PCI_NOTIFY_OFF, 0x1000, 20},
                {5, 0, 0, 20}};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        unsigned c = find_cap(r, want[i].type);
        assert_true(c >= 0x40);
        assert_int_equal(cfg_read(r, c + 2, 1), want[i].cap_len);
        if (want[i].type != 5) {
            assert_int_equal(cfg_read(r, c + 4, 1), VIRTIO_PCI_BAR);
            assert_int_equal(cfg_read(r, c + 8, 4), want[i].offset);
            assert_int_equal(cfg_read(r, c + 12, 4), want[i].len);
        }
    }
    assert_int_equal(cfg_read(r, find_cap(r, 2) + 16, 4), VIRTIO_PCI_NOTIFY_MULT);
}

/* What bring-up looks like through the registers; returns with queue 0 enabled. */
static void bring_up(Rig *r)
{
    wr(r, 0x14, 1, 0);
    wr(r, 0x14, 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    wr(r, 0x00, 4, 1);
    assert_int_equal(rd(r, 0x04, 4) & 1, 1);                  /* VERSION_1 */
    wr(r, 0x08, 4, 1);
    wr(r, 0x0C, 4, 1);
    wr(r, 0x08, 4, 0);
    wr(r, 0x0C, 4, 0);
    wr(r, 0x14, 1, 0xB);
    assert_int_equal(rd(r, 0x14, 1), 0xB);                    /* FEATURES_OK kept */
    assert_int_equal(rd(r, 0x12, 2), 1);                      /* num_queues */
    wr(r, 0x16, 2, 0);
    assert_int_equal(rd(r, 0x18, 2), 64);                     /* the device's maximum */
    wr(r, 0x18, 2, 8);
    wr(r, 0x20, 4, 0x1000);                                   /* desc, in 32-bit halves */
    wr(r, 0x24, 4, 0);
    wr(r, 0x28, 8, 0x2000);                                   /* driver area, 64-bit */
    wr(r, 0x30, 4, 0x3000);
    wr(r, 0x34, 4, 0);
    assert_true(rd(r, 0x20, 8) == 0x1000);
    assert_true(rd(r, 0x28, 4) == 0x2000);
    assert_true(rd(r, 0x30, 8) == 0x3000);
    wr(r, 0x1C, 2, 1);
    assert_int_equal(rd(r, 0x1C, 2), 1);
    wr(r, 0x20, 4, 0x9000);                                   /* fixed once enabled */
    assert_true(rd(r, 0x20, 8) == 0x1000);
    wr(r, 0x14, 1, 0xF);
    assert_int_equal(rd(r, 0x14, 1), 0xF);
}

/* One 16-byte writable buffer on queue 0 (8 entries at 0x1000/0x2000/0x3000), kicked. */
static void request(Rig *r, uint16_t n)
{
    uint64_t addr = 0x8000 + 16u * n;
    uint32_t len = 16;
    uint16_t flags = VIRTQ_DESC_F_WRITE, idx = (uint16_t)(n + 1), slot = n % 8;
    memcpy(r->ram + 0x1000 + 16 * slot, &addr, 8);
    memcpy(r->ram + 0x1000 + 16 * slot + 8, &len, 4);
    memcpy(r->ram + 0x1000 + 16 * slot + 12, &flags, 2);
    memcpy(r->ram + 0x2000 + 4 + 2 * slot, &slot, 2);
    memcpy(r->ram + 0x2000 + 2, &idx, 2);
    uint16_t noff = (uint16_t)rd(r, 0x1E, 2);
    wr(r, VIRTIO_PCI_NOTIFY_OFF + (uint64_t)noff * VIRTIO_PCI_NOTIFY_MULT, 2, 0);
}

static uint16_t used_idx(Rig *r) { uint16_t v; memcpy(&v, r->ram + 0x3002, 2); return v; }

static void test_intx_and_isr(void **state)
{
    Rig *r = *state;
    bring_up(r);
    request(r, 0);
    assert_int_equal(used_idx(r), 1);
    int pin_gsi = -1;
    for (int g = 0; g < 24; g++)
        if (r->w.gsi_level[g])
            pin_gsi = g;
    assert_true(pin_gsi >= 0);                                /* INTA# asserted */
    assert_int_equal(rd(r, VIRTIO_PCI_ISR_OFF, 1), VIRTIO_ISR_QUEUE);
    assert_int_equal(r->w.gsi_level[pin_gsi], 0);             /* the read lowered it */
    assert_int_equal(rd(r, VIRTIO_PCI_ISR_OFF, 1), 0);
    assert_int_equal(r->w.msis, 0);
}

static void test_msix_vectors(void **state)
{
    Rig *r = *state;
    unsigned cap = cfg_read(r, 0x34, 1);
    while (cap && cfg_read(r, cap, 1) != PCI_CAP_ID_MSIX)
        cap = cfg_read(r, cap + 1, 1);
    assert_true(cap != 0);
    assert_int_equal(cfg_read(r, cap + 2, 2) & 0x7FF, 1);     /* two vectors: queue, config */
    /* Entry 1: to vector 0x41, unmasked; MSI-X on. */
    assert_int_equal(mmio_bus_write(r->mmio, r->msix_bar + 16, 4, 0xFEE00000u), 0);
    assert_int_equal(mmio_bus_write(r->mmio, r->msix_bar + 16 + 8, 4, 0x41), 0);
    assert_int_equal(mmio_bus_write(r->mmio, r->msix_bar + 16 + 12, 4, 0), 0);
    cfg_write(r, cap + 2, 2, 0x8000);
    bring_up(r);
    wr(r, 0x10, 2, 7);                                        /* no such vector */
    assert_int_equal(rd(r, 0x10, 2), VIRTIO_NO_VECTOR);
    wr(r, 0x16, 2, 0);
    wr(r, 0x1A, 2, 1);
    assert_int_equal(rd(r, 0x1A, 2), 1);
    request(r, 0);
    assert_int_equal(r->w.msis, 1);
    assert_int_equal(r->w.msi_data, 0x41);
    wr(r, 0x1A, 2, VIRTIO_NO_VECTOR);                         /* no vector: no interrupt */
    request(r, 1);
    assert_int_equal(used_idx(r), 2);
    assert_int_equal(r->w.msis, 1);
}

static void test_pci_cfg_access(void **state)
{
    Rig *r = *state;
    unsigned c = find_cap(r, 5);
    /* Name status (common config 0x14, 1 byte), write it through the window, read back. */
    cfg_write(r, c + 4, 1, VIRTIO_PCI_BAR);
    cfg_write(r, c + 8, 4, 0x14);
    cfg_write(r, c + 12, 4, 1);
    cfg_write(r, c + 16, 4, VIRTIO_STATUS_ACKNOWLEDGE);
    assert_int_equal(rd(r, 0x14, 1), VIRTIO_STATUS_ACKNOWLEDGE);
    cfg_write(r, c + 12, 4, 1);                               /* names it again: a read */
    assert_int_equal(cfg_read(r, c + 16, 1), VIRTIO_STATUS_ACKNOWLEDGE);
    /* A window outside the BAR or of a bad length does nothing. */
    cfg_write(r, c + 8, 4, 0xFFFFFFF0u);
    cfg_write(r, c + 16, 4, 0);
    cfg_write(r, c + 8, 4, 0x14);
    cfg_write(r, c + 12, 4, 3);
    cfg_write(r, c + 16, 4, 0);
    assert_int_equal(rd(r, 0x14, 1), VIRTIO_STATUS_ACKNOWLEDGE);
}

static void test_hostile_registers(void **state)
{
    Rig *r = *state;
    /* Every offset and size of the BAR with garbage, twice, then a clean bring-up works. */
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (int round = 0; round < 2; round++)
        for (uint64_t off = 0; off < VIRTIO_PCI_BAR_SIZE; off += 2) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            uint8_t size = (uint8_t)(1u << (x & 3));
            if (off % size)
                continue;
            wr(r, off, size, x);
            (void)rd(r, off, size);
        }
    wr(r, 0x14, 1, 0);
    memset(r->ram, 0, 0x10000);
    bring_up(r);
    request(r, 0);
    assert_int_equal(used_idx(r), 1);
    uint32_t len;
    memcpy(&len, r->ram + 0x3004 + 4, 4);
    assert_int_equal(len, 16);
}

/* The bus's reset (a system reset) resets the device: queues gone, status 0. */
static void test_reset(void **state)
{
    Rig *r = *state;
    bring_up(r);
    pci_bus_reset(r->bus);
    r->bar = cfg_read(r, 0x10 + 4 * VIRTIO_PCI_BAR, 4) & ~0xFull;
    assert_int_equal(rd(r, 0x14, 1), 0);
    wr(r, 0x16, 2, 0);
    assert_int_equal(rd(r, 0x1C, 2), 0);
    assert_true(rd(r, 0x20, 8) == 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_identity_and_caps), T(test_intx_and_isr), T(test_msix_vectors),
        T(test_pci_cfg_access), T(test_hostile_registers), T(test_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
