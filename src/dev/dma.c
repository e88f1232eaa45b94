/* Checked guest-memory access for devices (dma.h). */
#include "dev/dma.h"

#include <errno.h>
#include <string.h>

/* The range is non-empty and does not wrap past the top of the 64-bit address space. */
static bool range_ok(uint64_t gpa, size_t len)
{
    return len > 0 && gpa + (uint64_t)len - 1 >= gpa;
}

void *dma_map(const DmaHandle *d, uint64_t gpa, size_t len, bool write)
{
    if (!d || !d->map || !range_ok(gpa, len))
        return NULL;
    return d->map(d->opaque, gpa, len, write);
}

void dma_written(const DmaHandle *d, uint64_t gpa, size_t len)
{
    if (d && d->written && len)
        d->written(d->opaque, gpa, len);
}

int dma_read(const DmaHandle *d, uint64_t gpa, void *buf, size_t len)
{
    if (len == 0)
        return 0;
    const void *p = dma_map(d, gpa, len, false);
    if (!p)
        return -EFAULT;
    memcpy(buf, p, len);
    return 0;
}

int dma_write(const DmaHandle *d, uint64_t gpa, const void *buf, size_t len)
{
    if (len == 0)
        return 0;
    void *p = dma_map(d, gpa, len, true);
    if (!p)
        return -EFAULT;
    memcpy(p, buf, len);
    dma_written(d, gpa, len);
    return 0;
}

/* The host is little-endian x86, as the guest: fields copy as they are. */
int dma_read_u16(const DmaHandle *d, uint64_t gpa, uint16_t *v) { return dma_read(d, gpa, v, 2); }
int dma_read_u32(const DmaHandle *d, uint64_t gpa, uint32_t *v) { return dma_read(d, gpa, v, 4); }
int dma_read_u64(const DmaHandle *d, uint64_t gpa, uint64_t *v) { return dma_read(d, gpa, v, 8); }
int dma_write_u16(const DmaHandle *d, uint64_t gpa, uint16_t v) { return dma_write(d, gpa, &v, 2); }
int dma_write_u32(const DmaHandle *d, uint64_t gpa, uint32_t v) { return dma_write(d, gpa, &v, 4); }

static void *flat_map(void *opaque, uint64_t gpa, size_t len, bool write)
{
    (void)write;
    const DmaFlat *f = opaque;
    if (gpa >= f->size || len > f->size - gpa)
        return NULL;
    return f->mem + gpa;
}

DmaHandle dma_flat_handle(DmaFlat *flat)
{
    return (DmaHandle){.map = flat_map, .written = NULL, .opaque = flat};
}
