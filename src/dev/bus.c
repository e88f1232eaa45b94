/*
 * The port-I/O bus and the MMIO bus: they route a guest access to the device that owns
 * the address. Each bus keeps its ranges in an array sorted by base; a lookup is a binary
 * search, because it happens on every I/O or MMIO exit.
 *
 * Unknown addresses behave like an empty ISA bus: reads float to all ones, writes vanish.
 * Such accesses are counted and logged, but rarely (once per port for the first few
 * ports, once per MMIO page for the first few pages), so a guest probing hardware cannot
 * flood the log: a scan of every port writes IO_WARN_PORTS lines, and one summary line
 * with the totals when the bus is destroyed (the VM's end).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hv/hv_log.h"

/* MMIO pages whose first unhandled access is logged; later pages are silent. */
#define MMIO_WARN_PAGES 64
/* Ports whose first unhandled access is logged; later ports are silent (issue 15, item 9:
 * a 7-byte port scan once wrote 65,520 lines). */
#define IO_WARN_PORTS 16
#define MMIO_PAGE_SHIFT 12

/* Sorted, non-overlapping ranges [first, last] with one entry (a handler) each: what both
 * buses need, whatever the entry's type. first[] is searched on every exit. */
typedef struct {
    uint64_t *first, *last;
    void *entries;
    size_t entry_size, count, capacity;
} RangeList;

struct IoBus {
    RangeList ranges;        /* of IoPortHandler */
    uint64_t unhandled;
    uint64_t warned[65536 / 64];   /* one bit per port: seen unhandled already */
    unsigned ports;                /* distinct unhandled ports seen */
};

struct MmioBus {
    RangeList ranges;        /* of MmioHandler */
    uint64_t unhandled;
    uint64_t warned_pages[MMIO_WARN_PAGES];
    size_t warned_count;
    uint64_t unlogged;             /* unhandled accesses on pages past the logged ones */
};

static void range_list_free(RangeList *l)
{
    free(l->first);
    free(l->last);
    free(l->entries);
}

/* Index of the first range whose first address is above `key` (0..count); the range that
 * may hold `key` is the one before it. */
static size_t range_upper_bound(const RangeList *l, uint64_t key)
{
    size_t lo = 0, hi = l->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (l->first[mid] > key)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* The entry whose range holds `key`, or NULL. */
static const void *range_find(const RangeList *l, uint64_t key)
{
    size_t i = range_upper_bound(l, key);
    if (i == 0 || key > l->last[i - 1])
        return NULL;
    return (const char *)l->entries + (i - 1) * l->entry_size;
}

/* Inserts a copy of `entry` for [first, last] in order. -EEXIST when it overlaps a range
 * already there, -ENOMEM. */
static int range_insert(RangeList *l, uint64_t first, uint64_t last, const void *entry)
{
    size_t i = range_upper_bound(l, first);
    if ((i > 0 && l->last[i - 1] >= first) || (i < l->count && l->first[i] <= last))
        return -EEXIST;
    if (l->count == l->capacity) {
        size_t cap = l->capacity ? l->capacity * 2 : 8;
        uint64_t *f = realloc(l->first, cap * sizeof(*f));
        if (f)
            l->first = f;
        uint64_t *la = f ? realloc(l->last, cap * sizeof(*la)) : NULL;
        if (la)
            l->last = la;
        void *e = la ? realloc(l->entries, cap * l->entry_size) : NULL;
        if (!e)
            return -ENOMEM;
        l->entries = e;
        l->capacity = cap;
    }
    size_t tail = l->count - i;
    memmove(&l->first[i + 1], &l->first[i], tail * sizeof(uint64_t));
    memmove(&l->last[i + 1], &l->last[i], tail * sizeof(uint64_t));
    char *slot = (char *)l->entries + i * l->entry_size;
    memmove(slot + l->entry_size, slot, tail * l->entry_size);
    l->first[i] = first;
    l->last[i] = last;
    memcpy(slot, entry, l->entry_size);
    l->count++;
    return 0;
}

/* Removes the range that starts at `first` when `owns(entry, owner)` says it is the
 * owner's. -ENOENT otherwise. */
static int range_remove(RangeList *l, uint64_t first, bool (*owns)(const void *, const void *),
                        const void *owner)
{
    size_t i = range_upper_bound(l, first);
    if (i == 0 || l->first[i - 1] != first)
        return -ENOENT;
    i--;
    char *slot = (char *)l->entries + i * l->entry_size;
    if (!owns(slot, owner))
        return -ENOENT;
    size_t tail = l->count - i - 1;
    memmove(&l->first[i], &l->first[i + 1], tail * sizeof(uint64_t));
    memmove(&l->last[i], &l->last[i + 1], tail * sizeof(uint64_t));
    memmove(slot, slot + l->entry_size, tail * l->entry_size);
    l->count--;
    return 0;
}

static const uint32_t io_size_mask[5] = {0, 0xFF, 0xFFFF, 0, 0xFFFFFFFFu};

static uint64_t mmio_size_mask(uint8_t size)
{
    return size == 8 ? UINT64_MAX : (UINT64_C(1) << (size * 8)) - 1;
}

static bool io_size_ok(uint8_t size) { return size == 1 || size == 2 || size == 4; }

static bool mmio_size_ok(uint8_t size)
{
    return size == 1 || size == 2 || size == 4 || size == 8;
}

/* ---------------------------------------------------------------------------------- */
/* Port I/O                                                                            */
/* ---------------------------------------------------------------------------------- */

IoBus *io_bus_create(void)
{
    IoBus *bus = calloc(1, sizeof(*bus));
    if (!bus)
        hv_fail(ENOMEM, "io bus: out of memory");
    else
        bus->ranges.entry_size = sizeof(IoPortHandler);
    return bus;
}

void io_bus_destroy(IoBus *bus)
{
    if (!bus)
        return;
    if (bus->ports > IO_WARN_PORTS)
        hv_log(HV_LOG_WARN, "%llu unhandled port accesses to %u ports in all (the first %u "
               "ports were logged)", (unsigned long long)bus->unhandled, bus->ports,
               IO_WARN_PORTS);
    range_list_free(&bus->ranges);
    free(bus);
}

static const IoPortHandler *io_find(const IoBus *bus, uint16_t port)
{
    return range_find(&bus->ranges, port);
}

/* Inserts a copy of *h in base order. Returns 0, -EINVAL for an empty range or one that
 * runs past port 0xFFFF, -EEXIST when it overlaps a registered range, -ENOMEM. The bus
 * keeps h->name and h->opaque as pointers: they must outlive the bus. */
int io_bus_register(IoBus *bus, const IoPortHandler *h)
{
    if (!bus || !h)
        return -EINVAL;
    IoPortHandler entry = *h;
    if (entry.length == 0 && entry.base == 0) {   /* the seed's spelling of the range */
        entry.base = entry.port;
        entry.length = entry.size;
    }
    uint32_t base = entry.base, end = base + entry.length;   /* end is exclusive */
    if (entry.length == 0 || end > 0x10000)
        return hv_fail(EINVAL, "io bus: bad range %#x+%u for %s", base, entry.length,
                       h->name ? h->name : "?");
    entry.port = entry.base;
    entry.size = entry.length <= UINT8_MAX ? (uint8_t)entry.length : 0;
    int err = range_insert(&bus->ranges, base, end - 1, &entry);
    if (err == -EEXIST)
        return hv_fail(EEXIST, "io bus: ports %#x-%#x of %s overlap a registered range",
                       base, end - 1, h->name ? h->name : "?");
    return err < 0 ? hv_fail(err, "io bus: out of memory") : 0;
}

static bool io_owned(const void *entry, const void *owner)
{
    return ((const IoPortHandler *)entry)->opaque == owner;
}

/* Removes the range registered at `base` with `opaque`; the ports are unhandled again.
 * -ENOENT when no range of that owner starts there. */
int io_bus_unregister(IoBus *bus, uint16_t base, const void *opaque)
{
    if (!bus)
        return -EINVAL;
    return range_remove(&bus->ranges, base, io_owned, opaque);
}

IoPortHandler *io_bus_handlers(IoBus *bus, size_t *count)
{
    *count = bus ? bus->ranges.count : 0;
    return bus ? bus->ranges.entries : NULL;
}

MmioHandler *mmio_bus_handlers(MmioBus *bus, size_t *count)
{
    *count = bus ? bus->ranges.count : 0;
    return bus ? bus->ranges.entries : NULL;
}

/* Counts an access nobody handles; logs it the first time this port is seen, for the
 * first IO_WARN_PORTS ports (the last of those lines says that the log stops there). */
static void io_unhandled(IoBus *bus, uint16_t port, uint8_t size, bool write, uint32_t value)
{
    bus->unhandled++;
    uint64_t bit = UINT64_C(1) << (port % 64);
    if (bus->warned[port / 64] & bit)
        return;
    bus->warned[port / 64] |= bit;
    if (++bus->ports > IO_WARN_PORTS)
        return;
    if (bus->ports == IO_WARN_PORTS)
        hv_log(HV_LOG_WARN, "unhandled %s port 0x%04x (size %u); no further unhandled ports "
               "are logged (a count follows at the end)", write ? "OUT to" : "IN from", port,
               size);
    else if (write)
        hv_log(HV_LOG_WARN, "unhandled OUT to port 0x%04x (size %u, value 0x%x); further "
               "accesses to this port are not logged", port, size, value);
    else
        hv_log(HV_LOG_WARN, "unhandled IN from port 0x%04x (size %u); reads as all ones, "
               "further accesses to this port are not logged", port, size);
}

/* An IN of `size` bytes at `port`. The handler that owns `port` answers for the whole
 * access; the value is masked to the size. Returns 0, -EINVAL for a bad size, or the
 * handler's error (then *value is all ones). */
int io_bus_in(IoBus *bus, uint16_t port, uint8_t size, uint32_t *value)
{
    if (!bus || !value || !io_size_ok(size))
        return -EINVAL;
    uint32_t mask = io_size_mask[size];
    const IoPortHandler *h = io_find(bus, port);
    if (!h) {
        io_unhandled(bus, port, size, false, 0);
        *value = mask;
        return 0;
    }
    if (!h->read) {
        *value = mask;
        return 0;
    }
    uint32_t v = 0;
    int err = h->read(port, size, &v, h->opaque);
    *value = err < 0 ? mask : v & mask;
    return err < 0 ? err : 0;
}

/* An OUT of `size` bytes at `port`; the value is masked to the size before the handler
 * sees it. Returns 0, -EINVAL for a bad size, or the handler's error. */
int io_bus_out(IoBus *bus, uint16_t port, uint8_t size, uint32_t value)
{
    if (!bus || !io_size_ok(size))
        return -EINVAL;
    value &= io_size_mask[size];
    const IoPortHandler *h = io_find(bus, port);
    if (!h) {
        io_unhandled(bus, port, size, true, value);
        return 0;
    }
    if (!h->write)
        return 0;
    int err = h->write(port, size, value, h->opaque);
    return err < 0 ? err : 0;
}

uint64_t io_bus_unhandled_count(const IoBus *bus) { return bus ? bus->unhandled : 0; }

/* ---------------------------------------------------------------------------------- */
/* MMIO                                                                                */
/* ---------------------------------------------------------------------------------- */

MmioBus *mmio_bus_create(void)
{
    MmioBus *bus = calloc(1, sizeof(*bus));
    if (!bus)
        hv_fail(ENOMEM, "mmio bus: out of memory");
    else
        bus->ranges.entry_size = sizeof(MmioHandler);
    return bus;
}

void mmio_bus_destroy(MmioBus *bus)
{
    if (!bus)
        return;
    if (bus->unlogged)
        hv_log(HV_LOG_WARN, "%llu unhandled MMIO accesses in all, %llu of them past the %u "
               "pages logged", (unsigned long long)bus->unhandled,
               (unsigned long long)bus->unlogged, MMIO_WARN_PAGES);
    range_list_free(&bus->ranges);
    free(bus);
}

static const MmioHandler *mmio_find(const MmioBus *bus, uint64_t addr)
{
    return range_find(&bus->ranges, addr);
}

/* Inserts a copy of *h in base order. Returns 0, -EINVAL for an empty range or one that
 * wraps past the top of the 64-bit address space, -EEXIST on overlap, -ENOMEM. */
int mmio_bus_register(MmioBus *bus, const MmioHandler *h)
{
    if (!bus || !h)
        return -EINVAL;
    MmioHandler entry = *h;
    if (entry.length == 0)
        entry.length = entry.size;   /* the seed's spelling */
    entry.size = entry.length;
    if (entry.length == 0 || entry.length - 1 > UINT64_MAX - entry.base)
        return hv_fail(EINVAL, "mmio bus: bad range %#llx+%#llx for %s",
                       (unsigned long long)entry.base, (unsigned long long)entry.length,
                       h->name ? h->name : "?");
    uint64_t last = entry.base + (entry.length - 1);
    int err = range_insert(&bus->ranges, entry.base, last, &entry);
    if (err == -EEXIST)
        return hv_fail(EEXIST, "mmio bus: %#llx-%#llx of %s overlaps a registered range",
                       (unsigned long long)h->base, (unsigned long long)last,
                       h->name ? h->name : "?");
    return err < 0 ? hv_fail(err, "mmio bus: out of memory") : 0;
}

static bool mmio_owned(const void *entry, const void *owner)
{
    return ((const MmioHandler *)entry)->opaque == owner;
}

int mmio_bus_unregister(MmioBus *bus, uint64_t base, const void *opaque)
{
    if (!bus)
        return -EINVAL;
    return range_remove(&bus->ranges, base, mmio_owned, opaque);
}

/* Counts an access nobody handles; logs the first one on each of the first
 * MMIO_WARN_PAGES pages (a linear scan is fine: this is the slow, rare path). */
static void mmio_unhandled(MmioBus *bus, uint64_t addr, uint8_t size, bool write)
{
    bus->unhandled++;
    uint64_t page = addr >> MMIO_PAGE_SHIFT;
    for (size_t i = 0; i < bus->warned_count; i++)
        if (bus->warned_pages[i] == page)
            return;
    if (bus->warned_count == MMIO_WARN_PAGES) {
        bus->unlogged++;
        return;
    }
    bus->warned_pages[bus->warned_count++] = page;
    hv_log(HV_LOG_WARN, "unhandled MMIO %s at 0x%llx (size %u); %s", write ? "write" : "read",
           (unsigned long long)addr, size,
           bus->warned_count == MMIO_WARN_PAGES
               ? "no further unhandled MMIO is logged"
               : "further accesses to this page are not logged");
}

/* The first piece of an access of `size` bytes (1 to 8) that is not 1, 2, 4 or 8 bytes:
 * the largest of 4, 2, 1 that fits. KVM gives user space such sizes when it splits an
 * access at a page boundary (a 4-byte read at 0xB7FFF is 1 byte at 0xB7FFF and 3 at
 * 0xB8000); devices see only the sizes a bus cycle has. */
static uint8_t mmio_piece(uint8_t size) { return size >= 4 ? 4 : size >= 2 ? 2 : 1; }

static int mmio_read_one(MmioBus *bus, uint64_t addr, uint8_t size, uint64_t *value);
static int mmio_write_one(MmioBus *bus, uint64_t addr, uint8_t size, uint64_t value);

/* A read of `size` bytes (1 to 8) at guest-physical `addr`, answered by the range that
 * holds `addr`; a size other than 1, 2, 4 or 8 is read as pieces in address order, each
 * from the range that holds it. Returns 0, -EINVAL for a bad size, or the handler's error
 * (*value all ones). */
int mmio_bus_read(MmioBus *bus, uint64_t addr, uint8_t size, uint64_t *value)
{
    if (!bus || !value || size == 0 || size > 8)
        return -EINVAL;
    if (mmio_size_ok(size))
        return mmio_read_one(bus, addr, size, value);
    uint64_t v = 0;
    int err = 0;
    for (uint8_t off = 0; off < size && err == 0;) {
        uint8_t n = mmio_piece((uint8_t)(size - off));
        uint64_t part = 0;
        err = mmio_read_one(bus, addr + off, n, &part);
        v |= part << (8 * off);
        off = (uint8_t)(off + n);
    }
    *value = err < 0 ? mmio_size_mask(size) : v;
    return err;
}

/* A write of `size` bytes (1 to 8) at `addr`, masked to the size; other sizes than 1, 2,
 * 4 and 8 are written as pieces in address order. Returns 0, -EINVAL for a bad size, or
 * the handler's error. */
int mmio_bus_write(MmioBus *bus, uint64_t addr, uint8_t size, uint64_t value)
{
    if (!bus || size == 0 || size > 8)
        return -EINVAL;
    if (mmio_size_ok(size))
        return mmio_write_one(bus, addr, size, value);
    int err = 0;
    for (uint8_t off = 0; off < size && err == 0;) {
        uint8_t n = mmio_piece((uint8_t)(size - off));
        err = mmio_write_one(bus, addr + off, n, value >> (8 * off));
        off = (uint8_t)(off + n);
    }
    return err;
}

/* One bus cycle of 1, 2, 4 or 8 bytes. */
static int mmio_read_one(MmioBus *bus, uint64_t addr, uint8_t size, uint64_t *value)
{
    uint64_t mask = mmio_size_mask(size);
    const MmioHandler *h = mmio_find(bus, addr);
    if (!h) {
        mmio_unhandled(bus, addr, size, false);
        *value = mask;
        return 0;
    }
    if (!h->read) {
        *value = mask;
        return 0;
    }
    uint64_t v = 0;
    int err = h->read(addr, size, &v, h->opaque);
    *value = err < 0 ? mask : v & mask;
    return err < 0 ? err : 0;
}

static int mmio_write_one(MmioBus *bus, uint64_t addr, uint8_t size, uint64_t value)
{
    value &= mmio_size_mask(size);
    const MmioHandler *h = mmio_find(bus, addr);
    if (!h) {
        mmio_unhandled(bus, addr, size, true);
        return 0;
    }
    if (!h->write)
        return 0;
    int err = h->write(addr, size, value, h->opaque);
    return err < 0 ? err : 0;
}

uint64_t mmio_bus_unhandled_count(const MmioBus *bus) { return bus ? bus->unhandled : 0; }
