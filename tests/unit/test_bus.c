/* Unit tests for the port-I/O and MMIO buses (src/dev/bus.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hypervisor_sim.h"

/* A fake device that records the last access it saw. */
typedef struct {
    int id;
    int reads, writes;
    uint64_t last_addr;
    uint8_t last_size;
    uint64_t last_value;
    uint64_t read_value;   /* what reads return (before the bus masks it) */
    int error;             /* returned when negative */
} Fake;

static int fake_io_read(uint16_t port, uint8_t size, uint32_t *value, void *opaque)
{
    Fake *f = opaque;
    f->reads++;
    f->last_addr = port;
    f->last_size = size;
    *value = (uint32_t)f->read_value;
    return f->error;
}

static int fake_io_write(uint16_t port, uint8_t size, uint32_t value, void *opaque)
{
    Fake *f = opaque;
    f->writes++;
    f->last_addr = port;
    f->last_size = size;
    f->last_value = value;
    return f->error;
}

static int fake_mmio_read(uint64_t addr, uint8_t size, uint64_t *value, void *opaque)
{
    Fake *f = opaque;
    f->reads++;
    f->last_addr = addr;
    f->last_size = size;
    *value = f->read_value;
    return f->error;
}

static int fake_mmio_write(uint64_t addr, uint8_t size, uint64_t value, void *opaque)
{
    Fake *f = opaque;
    f->writes++;
    f->last_addr = addr;
    f->last_size = size;
    f->last_value = value;
    return f->error;
}

static IoPortHandler io_range(uint16_t base, uint16_t length, Fake *f)
{
    return (IoPortHandler){.base = base, .length = length, .read = fake_io_read,
                           .write = fake_io_write, .opaque = f, .name = "fake"};
}

static MmioHandler mmio_range(uint64_t base, uint64_t length, Fake *f)
{
    return (MmioHandler){.base = base, .length = length, .read = fake_mmio_read,
                         .write = fake_mmio_write, .opaque = f, .name = "fake"};
}

/* Log messages are counted instead of printed. */
static int log_count;
static void count_log(HvLogLevel level, const char *message, void *opaque)
{
    (void)level;
    (void)message;
    (void)opaque;
    log_count++;
}

static int setup_log(void **state)
{
    (void)state;
    log_count = 0;
    hv_set_log_handler(count_log, NULL);
    return 0;
}

static int teardown_log(void **state)
{
    (void)state;
    hv_set_log_handler(NULL, NULL);
    return 0;
}

/* ---- port I/O ---------------------------------------------------------------------- */

static void test_io_adjacent_ranges_allowed(void **state)
{
    (void)state;
    IoBus *bus = io_bus_create();
    Fake a = {.id = 1}, b = {.id = 2}, c = {.id = 3};
    IoPortHandler ha = io_range(0x100, 8, &a), hb = io_range(0x108, 8, &b),
                  hc = io_range(0xF8, 8, &c);
    assert_int_equal(io_bus_register(bus, &ha), 0);
    assert_int_equal(io_bus_register(bus, &hb), 0);   /* right after */
    assert_int_equal(io_bus_register(bus, &hc), 0);   /* right before */
    io_bus_destroy(bus);
}

static void test_io_overlap_refused(void **state)
{
    (void)state;
    IoBus *bus = io_bus_create();
    Fake a = {0};
    IoPortHandler h = io_range(0x100, 0x10, &a);   /* [0x100, 0x110) */
    assert_int_equal(io_bus_register(bus, &h), 0);
    const struct { uint16_t base, length; } shapes[] = {
        {0x100, 0x10},   /* identical */
        {0x0F8, 0x09},   /* ends on the first port */
        {0x0F0, 0x20},   /* covers it */
        {0x104, 0x04},   /* inside */
        {0x10F, 0x08},   /* starts on the last port */
        {0x100, 0x01},   /* first port alone */
        {0x10F, 0x01},   /* last port alone */
        {0x000, 0xFFFF}, /* almost everything */
    };
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        IoPortHandler o = io_range(shapes[i].base, shapes[i].length, &a);
        assert_int_equal(io_bus_register(bus, &o), -EEXIST);
    }
    /* Between two ranges: overlaps the one after. */
    IoPortHandler h2 = io_range(0x200, 0x10, &a), o2 = io_range(0x1F0, 0x11, &a);
    assert_int_equal(io_bus_register(bus, &h2), 0);
    assert_int_equal(io_bus_register(bus, &o2), -EEXIST);
    io_bus_destroy(bus);
}

static void test_io_bad_ranges_refused(void **state)
{
    (void)state;
    IoBus *bus = io_bus_create();
    Fake a = {0};
    IoPortHandler empty = io_range(0x100, 0, &a), past = io_range(0xFFF0, 0x11, &a),
                  top = io_range(0xFFF0, 0x10, &a);
    assert_int_equal(io_bus_register(bus, &empty), -EINVAL);
    assert_int_equal(io_bus_register(bus, &past), -EINVAL);
    assert_int_equal(io_bus_register(bus, &top), 0);   /* ends exactly at 0xFFFF */
    assert_int_equal(io_bus_register(bus, NULL), -EINVAL);
    io_bus_destroy(bus);
}

static void test_io_lookup_at_edges(void **state)
{
    (void)state;
    IoBus *bus = io_bus_create();
    Fake a = {.read_value = 0xAA}, b = {.read_value = 0xBB}, c = {.read_value = 0xCC};
    IoPortHandler ha = io_range(0x3F8, 8, &a), hb = io_range(0x400, 1, &b),
                  hc = io_range(0x0, 1, &c);
    /* Registered out of order: the bus sorts. */
    assert_int_equal(io_bus_register(bus, &hb), 0);
    assert_int_equal(io_bus_register(bus, &ha), 0);
    assert_int_equal(io_bus_register(bus, &hc), 0);
    uint32_t v;
    assert_int_equal(io_bus_in(bus, 0x3F8, 1, &v), 0);
    assert_int_equal(v, 0xAA);
    assert_int_equal(a.last_addr, 0x3F8);   /* absolute port */
    assert_int_equal(io_bus_in(bus, 0x3FF, 1, &v), 0);
    assert_int_equal(v, 0xAA);
    assert_int_equal(a.last_addr, 0x3FF);
    assert_int_equal(io_bus_in(bus, 0x400, 1, &v), 0);
    assert_int_equal(v, 0xBB);
    assert_int_equal(io_bus_in(bus, 0x0, 1, &v), 0);
    assert_int_equal(v, 0xCC);
    assert_int_equal(io_bus_unhandled_count(bus), 0);
    assert_int_equal(io_bus_in(bus, 0x3F7, 1, &v), 0);   /* just before */
    assert_int_equal(v, 0xFF);
    assert_int_equal(io_bus_in(bus, 0x401, 1, &v), 0);   /* just after */
    assert_int_equal(v, 0xFF);
    assert_int_equal(io_bus_unhandled_count(bus), 2);
    assert_int_equal(a.reads, 2);
    assert_int_equal(b.reads, 1);
    /* Writes reach the handler with the absolute port, size and value. */
    assert_int_equal(io_bus_out(bus, 0x3FC, 2, 0x1234), 0);
    assert_int_equal(a.writes, 1);
    assert_int_equal(a.last_addr, 0x3FC);
    assert_int_equal(a.last_size, 2);
    assert_int_equal(a.last_value, 0x1234);
    io_bus_destroy(bus);
}

static void test_io_many_ranges_binary_search(void **state)
{
    (void)state;
    IoBus *bus = io_bus_create();
    Fake f[64];
    for (int i = 63; i >= 0; i--) {   /* descending: every insert goes to the front */
        f[i] = (Fake){.id = i, .read_value = (uint64_t)i};
        IoPortHandler h = io_range((uint16_t)(i * 16), 4, &f[i]);
        assert_int_equal(io_bus_register(bus, &h), 0);
    }
    for (int i = 0; i < 64; i++) {
        uint32_t v;
        assert_int_equal(io_bus_in(bus, (uint16_t)(i * 16 + 3), 1, &v), 0);
        assert_int_equal(v, (uint32_t)i);
        assert_int_equal(io_bus_in(bus, (uint16_t)(i * 16 + 4), 1, &v), 0);
        assert_int_equal(v, 0xFF);
    }
    assert_int_equal(io_bus_unhandled_count(bus), 64);
    io_bus_destroy(bus);
}

static void test_io_unknown_all_ones_and_counted(void **state)
{
    (void)state;
    IoBus *bus = io_bus_create();
    uint32_t v = 0;
    assert_int_equal(io_bus_in(bus, 0x80, 1, &v), 0);
    assert_int_equal(v, 0xFF);
    assert_int_equal(io_bus_in(bus, 0x80, 2, &v), 0);
    assert_int_equal(v, 0xFFFF);
    assert_int_equal(io_bus_in(bus, 0x80, 4, &v), 0);
    assert_int_equal(v, 0xFFFFFFFFu);
    assert_int_equal(io_bus_out(bus, 0x80, 1, 0x12), 0);
    assert_int_equal(io_bus_unhandled_count(bus), 4);
    /* Logged once for port 0x80, once for 0x81. */
    assert_int_equal(log_count, 1);
    assert_int_equal(io_bus_in(bus, 0x81, 1, &v), 0);
    assert_int_equal(log_count, 2);
    assert_int_equal(io_bus_unhandled_count(bus), 5);
    io_bus_destroy(bus);
}

static void test_io_sizes_rejected(void **state)
{
    (void)state;
    IoBus *bus = io_bus_create();
    Fake a = {0};
    IoPortHandler h = io_range(0x60, 4, &a);
    assert_int_equal(io_bus_register(bus, &h), 0);
    uint32_t v;
    const uint8_t bad[] = {0, 3, 5, 8};
    for (size_t i = 0; i < sizeof(bad); i++) {
        assert_int_equal(io_bus_in(bus, 0x60, bad[i], &v), -EINVAL);
        assert_int_equal(io_bus_out(bus, 0x60, bad[i], 0), -EINVAL);
    }
    assert_int_equal(a.reads + a.writes, 0);
    assert_int_equal(io_bus_unhandled_count(bus), 0);
    io_bus_destroy(bus);
}

static void test_io_value_masked_to_size(void **state)
{
    (void)state;
    IoBus *bus = io_bus_create();
    Fake a = {.read_value = 0x12345678};
    IoPortHandler h = io_range(0x60, 4, &a);
    assert_int_equal(io_bus_register(bus, &h), 0);
    uint32_t v;
    assert_int_equal(io_bus_in(bus, 0x60, 1, &v), 0);
    assert_int_equal(v, 0x78);
    assert_int_equal(io_bus_in(bus, 0x60, 2, &v), 0);
    assert_int_equal(v, 0x5678);
    assert_int_equal(io_bus_in(bus, 0x60, 4, &v), 0);
    assert_int_equal(v, 0x12345678);
    assert_int_equal(io_bus_out(bus, 0x60, 1, 0xABCD), 0);
    assert_int_equal(a.last_value, 0xCD);
    io_bus_destroy(bus);
}

static void test_io_null_callbacks_and_errors(void **state)
{
    (void)state;
    IoBus *bus = io_bus_create();
    Fake a = {.read_value = 0x11, .error = -EIO};
    IoPortHandler none = {.base = 0x70, .length = 2, .name = "none"};
    IoPortHandler failing = io_range(0x72, 1, &a);
    assert_int_equal(io_bus_register(bus, &none), 0);
    assert_int_equal(io_bus_register(bus, &failing), 0);
    uint32_t v = 0;
    assert_int_equal(io_bus_in(bus, 0x71, 2, &v), 0);
    assert_int_equal(v, 0xFFFF);
    assert_int_equal(io_bus_out(bus, 0x70, 1, 1), 0);
    assert_int_equal(io_bus_unhandled_count(bus), 0);   /* registered: not unknown */
    assert_int_equal(io_bus_in(bus, 0x72, 1, &v), -EIO);
    assert_int_equal(io_bus_out(bus, 0x72, 1, 1), -EIO);
    io_bus_destroy(bus);
}

/* ---- MMIO -------------------------------------------------------------------------- */

static void test_mmio_overlap_and_edges(void **state)
{
    (void)state;
    MmioBus *bus = mmio_bus_create();
    Fake a = {.read_value = 0xA}, b = {.read_value = 0xB};
    MmioHandler ha = mmio_range(0xB8000, 0x8000, &a), hb = mmio_range(0xC0000, 0x1000, &b);
    assert_int_equal(mmio_bus_register(bus, &ha), 0);
    assert_int_equal(mmio_bus_register(bus, &hb), 0);   /* adjacent */
    const struct { uint64_t base, length; } shapes[] = {
        {0xB8000, 0x8000}, {0xB0000, 0x8001}, {0xBFFFF, 1}, {0xB9000, 0x10},
        {0xA0000, 0x20000}, {0xBFFFF, 2}, {0xC0FFF, 0x100},
    };
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        MmioHandler o = mmio_range(shapes[i].base, shapes[i].length, &a);
        assert_int_equal(mmio_bus_register(bus, &o), -EEXIST);
    }
    MmioHandler empty = mmio_range(0x1000, 0, &a), wrap = mmio_range(UINT64_MAX - 1, 3, &a),
                top = mmio_range(UINT64_MAX - 1, 2, &a);
    assert_int_equal(mmio_bus_register(bus, &empty), -EINVAL);
    assert_int_equal(mmio_bus_register(bus, &wrap), -EINVAL);
    assert_int_equal(mmio_bus_register(bus, &top), 0);   /* ends at the last address */

    uint64_t v;
    assert_int_equal(mmio_bus_read(bus, 0xB8000, 1, &v), 0);
    assert_int_equal(v, 0xA);
    assert_int_equal(a.last_addr, 0xB8000);
    assert_int_equal(mmio_bus_read(bus, 0xBFFFF, 1, &v), 0);
    assert_int_equal(v, 0xA);
    assert_int_equal(mmio_bus_read(bus, 0xC0000, 1, &v), 0);
    assert_int_equal(v, 0xB);
    assert_int_equal(mmio_bus_read(bus, UINT64_MAX, 1, &v), 0);
    assert_int_equal(v, 0xA);   /* the `top` range uses fake a */
    assert_int_equal(mmio_bus_read(bus, 0xB7FFF, 1, &v), 0);
    assert_int_equal(v, 0xFF);
    assert_int_equal(mmio_bus_read(bus, 0xC1000, 1, &v), 0);
    assert_int_equal(v, 0xFF);
    assert_int_equal(mmio_bus_unhandled_count(bus), 2);
    assert_int_equal(mmio_bus_write(bus, 0xB8010, 8, 0x1122334455667788ull), 0);
    assert_int_equal(a.last_addr, 0xB8010);
    assert_int_equal(a.last_size, 8);
    assert_int_equal(a.last_value, 0x1122334455667788ull);
    mmio_bus_destroy(bus);
}

static void test_mmio_unknown_all_ones_per_size(void **state)
{
    (void)state;
    MmioBus *bus = mmio_bus_create();
    uint64_t v;
    assert_int_equal(mmio_bus_read(bus, 0xFEE00000, 1, &v), 0);
    assert_int_equal(v, 0xFF);
    assert_int_equal(mmio_bus_read(bus, 0xFEE00000, 2, &v), 0);
    assert_int_equal(v, 0xFFFF);
    assert_int_equal(mmio_bus_read(bus, 0xFEE00000, 4, &v), 0);
    assert_int_equal(v, 0xFFFFFFFFu);
    assert_int_equal(mmio_bus_read(bus, 0xFEE00000, 8, &v), 0);
    assert_true(v == UINT64_MAX);
    assert_int_equal(mmio_bus_write(bus, 0xFEE00FFF, 4, 0), 0);
    assert_int_equal(mmio_bus_unhandled_count(bus), 5);
    assert_int_equal(log_count, 1);   /* one page: one message */
    const uint8_t bad[] = {0, 9, 16};
    for (size_t i = 0; i < sizeof(bad); i++) {
        assert_int_equal(mmio_bus_read(bus, 0, bad[i], &v), -EINVAL);
        assert_int_equal(mmio_bus_write(bus, 0, bad[i], 0), -EINVAL);
    }
    assert_int_equal(mmio_bus_unhandled_count(bus), 5);
    /* Sizes KVM gives when it splits an access at a page boundary: all ones as well. */
    for (uint8_t size = 1; size <= 8; size++) {
        assert_int_equal(mmio_bus_read(bus, 0xFEE00000, size, &v), 0);
        assert_true(v == (size == 8 ? UINT64_MAX : (UINT64_C(1) << (8 * size)) - 1));
        assert_int_equal(mmio_bus_write(bus, 0xFEE00000, size, 0), 0);
    }
    mmio_bus_destroy(bus);
}

static void test_mmio_log_bounded(void **state)
{
    (void)state;
    MmioBus *bus = mmio_bus_create();
    uint64_t v;
    for (uint64_t page = 0; page < 1000; page++) {
        assert_int_equal(mmio_bus_read(bus, page << 12, 4, &v), 0);
        assert_int_equal(mmio_bus_read(bus, (page << 12) + 8, 4, &v), 0);
    }
    assert_int_equal(mmio_bus_unhandled_count(bus), 2000);
    assert_int_equal(log_count, 64);   /* one per page for the first 64 pages */
    mmio_bus_destroy(bus);
    assert_int_equal(log_count, 65);   /* and the totals at the end */
}

/* A scan of every port (issue 15, item 9: once 65,520 warning lines) logs the first 16
 * ports, then one line with the totals when the bus goes away. */
static void test_io_port_scan_log_bounded(void **state)
{
    (void)state;
    IoBus *bus = io_bus_create();
    uint32_t v;
    for (uint32_t port = 0; port < 0x10000; port++) {
        assert_int_equal(io_bus_in(bus, (uint16_t)port, 1, &v), 0);
        assert_int_equal(io_bus_out(bus, (uint16_t)port, 1, 0), 0);
    }
    assert_int_equal(io_bus_unhandled_count(bus), 2 * 0x10000);
    assert_int_equal(log_count, 16);
    io_bus_destroy(bus);
    assert_int_equal(log_count, 17);
}

static void test_mmio_masking_null_and_errors(void **state)
{
    (void)state;
    MmioBus *bus = mmio_bus_create();
    Fake a = {.read_value = 0x1122334455667788ull};
    Fake e = {.error = -EFAULT};
    MmioHandler ha = mmio_range(0x1000, 0x1000, &a), he = mmio_range(0x3000, 0x10, &e);
    MmioHandler none = {.base = 0x2000, .length = 0x1000, .name = "none"};
    assert_int_equal(mmio_bus_register(bus, &ha), 0);
    assert_int_equal(mmio_bus_register(bus, &he), 0);
    assert_int_equal(mmio_bus_register(bus, &none), 0);
    uint64_t v;
    assert_int_equal(mmio_bus_read(bus, 0x1000, 1, &v), 0);
    assert_true(v == 0x88);
    assert_int_equal(mmio_bus_read(bus, 0x1000, 2, &v), 0);
    assert_true(v == 0x7788);
    assert_int_equal(mmio_bus_read(bus, 0x1000, 4, &v), 0);
    assert_true(v == 0x55667788);
    assert_int_equal(mmio_bus_read(bus, 0x1000, 8, &v), 0);
    assert_true(v == 0x1122334455667788ull);
    assert_int_equal(mmio_bus_write(bus, 0x1004, 2, 0xABCDEF), 0);
    assert_true(a.last_value == 0xCDEF);
    assert_int_equal(mmio_bus_read(bus, 0x2000, 4, &v), 0);
    assert_true(v == 0xFFFFFFFFu);
    assert_int_equal(mmio_bus_write(bus, 0x2000, 4, 1), 0);
    assert_int_equal(mmio_bus_read(bus, 0x3000, 4, &v), -EFAULT);
    assert_int_equal(mmio_bus_write(bus, 0x3000, 4, 1), -EFAULT);
    assert_int_equal(mmio_bus_unhandled_count(bus), 0);
    mmio_bus_destroy(bus);
}

static void test_two_buses_independent(void **state)
{
    (void)state;
    /* No shared state: the same port is logged once per bus. */
    IoBus *b1 = io_bus_create(), *b2 = io_bus_create();
    uint32_t v;
    assert_int_equal(io_bus_in(b1, 0x99, 1, &v), 0);
    assert_int_equal(io_bus_in(b2, 0x99, 1, &v), 0);
    assert_int_equal(log_count, 2);
    assert_int_equal(io_bus_unhandled_count(b1), 1);
    assert_int_equal(io_bus_unhandled_count(b2), 1);
    io_bus_destroy(b1);
    io_bus_destroy(b2);
}

/* The seed's names for a range (port/size, size) register the same range, and the bus
 * lists its handlers with both spellings filled in. */
static void test_seed_range_names(void **state)
{
    (void)state;
    Fake a = {0}, b = {0};
    IoBus *io = io_bus_create();
    IoPortHandler seed = {.port = 0x3F8, .size = 8, .read = fake_io_read, .opaque = &a};
    assert_int_equal(io_bus_register(io, &seed), 0);
    IoPortHandler big = io_range(0x1000, 0x200, &b);
    assert_int_equal(io_bus_register(io, &big), 0);
    uint32_t v;
    assert_int_equal(io_bus_in(io, 0x3FF, 1, &v), 0);
    assert_int_equal(a.reads, 1);
    size_t n;
    IoPortHandler *list = io_bus_handlers(io, &n);
    assert_int_equal(n, 2);
    assert_int_equal(list[0].base, 0x3F8);
    assert_int_equal(list[0].length, 8);
    assert_int_equal(list[0].port, 0x3F8);
    assert_int_equal(list[0].size, 8);
    assert_int_equal(list[1].port, 0x1000);
    assert_int_equal(list[1].size, 0);   /* 512 ports: more than the seed's uint8_t */
    io_bus_destroy(io);

    MmioBus *mmio = mmio_bus_create();
    MmioHandler m = {.base = 0xB8000, .size = 0x8000, .read = fake_mmio_read, .opaque = &a};
    assert_int_equal(mmio_bus_register(mmio, &m), 0);
    MmioHandler *ml = mmio_bus_handlers(mmio, &n);
    assert_int_equal(n, 1);
    assert_int_equal(ml[0].length, 0x8000);
    assert_int_equal(ml[0].size, 0x8000);
    mmio_bus_destroy(mmio);
}

/* A byte-addressed device that remembers every access's size: for the pieces of an MMIO
 * access of an odd size. */
typedef struct {
    uint64_t base;
    uint8_t bytes[16];
    uint8_t sizes[16];
    int n;
} ByteDevice;

static int byte_dev_read(uint64_t addr, uint8_t size, uint64_t *value, void *opaque)
{
    ByteDevice *d = opaque;
    uint64_t v = 0;
    for (uint8_t i = 0; i < size; i++)
        v |= (uint64_t)d->bytes[addr - d->base + i] << (8 * i);
    *value = v;
    d->sizes[d->n++ % 16] = size;
    return 0;
}

static int byte_dev_write(uint64_t addr, uint8_t size, uint64_t value, void *opaque)
{
    ByteDevice *d = opaque;
    for (uint8_t i = 0; i < size; i++)
        d->bytes[addr - d->base + i] = (uint8_t)(value >> (8 * i));
    d->sizes[d->n++ % 16] = size;
    return 0;
}

/* KVM splits an access that crosses a page into MMIO into fragments of 1 to 7 bytes (issue
 * 15, item 2): the bus takes every length up to 8 as pieces of 4, 2 and 1 bytes in
 * address order, and the value is assembled little endian. */
static void test_mmio_odd_sizes_split(void **state)
{
    (void)state;
    MmioBus *bus = mmio_bus_create();
    ByteDevice d = {.base = 0xB8000};
    MmioHandler h = {.base = 0xB8000, .length = 16, .read = byte_dev_read, .write = byte_dev_write, .opaque = &d, .name = "bytes"};
    assert_int_equal(mmio_bus_register(bus, &h), 0);
    assert_int_equal(mmio_bus_write(bus, 0xB8000, 7, 0x77665544332211ull), 0);
    assert_int_equal(d.n, 3);
    assert_int_equal(d.sizes[0], 4);
    assert_int_equal(d.sizes[1], 2);
    assert_int_equal(d.sizes[2], 1);
    const uint8_t want[8] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x00};
    assert_memory_equal(d.bytes, want, 8);
    uint64_t v = 0;
    d.n = 0;
    assert_int_equal(mmio_bus_read(bus, 0xB8001, 3, &v), 0);
    assert_true(v == 0x443322);
    assert_int_equal(d.n, 2);   /* 2 + 1 */
    assert_int_equal(mmio_bus_read(bus, 0xB8000, 5, &v), 0);
    assert_true(v == 0x5544332211ull);
    assert_int_equal(mmio_bus_read(bus, 0xB8000, 6, &v), 0);
    assert_true(v == 0x665544332211ull);
    /* A piece past the device's range is an unknown address: all ones there. */
    assert_int_equal(mmio_bus_read(bus, 0xB800C, 7, &v), 0);
    assert_true((v >> 32) == 0xFFFFFF);
    assert_true((v & 0xFFFFFFFF) == 0);
    mmio_bus_destroy(bus);
}

/* A range comes off by base and owner: another owner's base, or an address inside the
 * range, removes nothing; after removal the ports are unhandled and can be registered
 * again (a PCI BAR moving), and the neighbours keep working. */
static void test_io_unregister(void **state)
{
    (void)state;
    IoBus *bus = io_bus_create();
    Fake a = {.id = 1, .read_value = 0xA}, b = {.id = 2, .read_value = 0xB};
    IoPortHandler ha = {.base = 0xC000, .length = 0x20, .read = fake_io_read, .opaque = &a, .name = "a"};
    IoPortHandler hb = {.base = 0xC020, .length = 0x20, .read = fake_io_read, .opaque = &b, .name = "b"};
    assert_int_equal(io_bus_register(bus, &ha), 0);
    assert_int_equal(io_bus_register(bus, &hb), 0);
    assert_int_equal(io_bus_unregister(bus, 0xC000, &b), -ENOENT);
    assert_int_equal(io_bus_unregister(bus, 0xC004, &a), -ENOENT);
    assert_int_equal(io_bus_unregister(bus, 0xC000, &a), 0);
    assert_int_equal(io_bus_unregister(bus, 0xC000, &a), -ENOENT);
    size_t n = 0;
    IoPortHandler *list = io_bus_handlers(bus, &n);
    assert_int_equal(n, 1);
    assert_int_equal(list[0].base, 0xC020);
    uint32_t v = 0;
    assert_int_equal(io_bus_in(bus, 0xC010, 4, &v), 0);
    assert_int_equal(v, 0xFFFFFFFFu);
    assert_int_equal(a.reads, 0);
    assert_int_equal(io_bus_in(bus, 0xC020, 1, &v), 0);
    assert_int_equal(v, 0xB);
    ha.base = 0xD000;
    assert_int_equal(io_bus_register(bus, &ha), 0);
    assert_int_equal(io_bus_in(bus, 0xD01F, 1, &v), 0);
    assert_int_equal(v, 0xA);
    assert_int_equal(io_bus_unregister(NULL, 0xD000, &a), -EINVAL);
    io_bus_destroy(bus);
}

static void test_mmio_unregister(void **state)
{
    (void)state;
    MmioBus *bus = mmio_bus_create();
    Fake a = {.id = 1, .read_value = 0x1234};
    MmioHandler h = {.base = 0xFEBF0000ull, .length = 0x1000, .read = fake_mmio_read,
                     .write = fake_mmio_write, .opaque = &a, .name = "bar"};
    assert_int_equal(mmio_bus_register(bus, &h), 0);
    assert_int_equal(mmio_bus_unregister(bus, 0xFEBF0000ull, NULL), -ENOENT);
    assert_int_equal(mmio_bus_unregister(bus, 0xFEBF0000ull, &a), 0);
    uint64_t v = 0;
    assert_int_equal(mmio_bus_read(bus, 0xFEBF0000ull, 4, &v), 0);
    assert_true(v == 0xFFFFFFFFu);
    assert_int_equal(a.reads, 0);
    h.base = 0xC0000000ull;
    assert_int_equal(mmio_bus_register(bus, &h), 0);
    assert_int_equal(mmio_bus_read(bus, 0xC0000FFCull, 2, &v), 0);
    assert_true(v == 0x1234);
    /* Empty again, then a lookup on an empty bus. */
    assert_int_equal(mmio_bus_unregister(bus, 0xC0000000ull, &a), 0);
    size_t n = 1;
    mmio_bus_handlers(bus, &n);
    assert_int_equal(n, 0);
    assert_int_equal(mmio_bus_unregister(bus, 0xC0000000ull, &a), -ENOENT);
    mmio_bus_destroy(bus);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup_log, teardown_log)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_io_adjacent_ranges_allowed),
        T(test_seed_range_names),
        T(test_io_overlap_refused),
        T(test_io_bad_ranges_refused),
        T(test_io_lookup_at_edges),
        T(test_io_many_ranges_binary_search),
        T(test_io_unknown_all_ones_and_counted),
        T(test_io_sizes_rejected),
        T(test_io_value_masked_to_size),
        T(test_io_null_callbacks_and_errors),
        T(test_mmio_overlap_and_edges),
        T(test_mmio_unknown_all_ones_per_size),
        T(test_mmio_log_bounded),
        T(test_mmio_masking_null_and_errors),
        T(test_mmio_odd_sizes_split),
        T(test_io_port_scan_log_bounded),
        T(test_two_buses_independent),
        T(test_io_unregister),
        T(test_mmio_unregister),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
