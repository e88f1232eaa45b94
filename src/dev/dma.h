/*
 * Guest memory as a device sees it (DMA): the only way a device touches guest RAM.
 * Addresses and lengths come from the guest and are hostile: every access is checked
 * against RAM (wrapping, holes, MMIO, read-only firmware) and fails with -EFAULT, nothing
 * copied, when any byte is not RAM the device may access. The handle is a pair of
 * functions so that the VM, a unit test or a fuzzer can each supply the memory behind it.
 * Internal to the library.
 */
#ifndef SCRATCHVM_DEV_DMA_H
#define SCRATCHVM_DEV_DMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    /* Host address of guest-physical [gpa, gpa + len) when RAM backs all of it (and the
     * guest could write it, for `write`), else NULL. len > 0 and gpa + len does not wrap
     * (the dma_* helpers check before calling). */
    void *(*map)(void *opaque, uint64_t gpa, size_t len, bool write);
    /* The device wrote [gpa, gpa + len) through a mapping: the software CPU drops decoded
     * code there. May be NULL (nothing to tell). */
    void (*written)(void *opaque, uint64_t gpa, size_t len);
    void *opaque;
} DmaHandle;

/* Copies guest [gpa, gpa + len) to buf; 0, or -EFAULT (len 0 is 0). */
int dma_read(const DmaHandle *d, uint64_t gpa, void *buf, size_t len);
/* Copies buf to guest [gpa, gpa + len) and announces the write; 0, or -EFAULT. */
int dma_write(const DmaHandle *d, uint64_t gpa, const void *buf, size_t len);
/* A checked host pointer to [gpa, gpa + len), for zero-copy I/O (readv into guest
 * buffers): NULL when not all RAM. After writing through it, call dma_written. The
 * pointer is valid until the VM's memory layout changes (not across a reset). */
void *dma_map(const DmaHandle *d, uint64_t gpa, size_t len, bool write);
void dma_written(const DmaHandle *d, uint64_t gpa, size_t len);
/* Fixed-width little-endian accesses (virtqueue fields), 0 or -EFAULT. */
int dma_read_u16(const DmaHandle *d, uint64_t gpa, uint16_t *v);
int dma_read_u32(const DmaHandle *d, uint64_t gpa, uint32_t *v);
int dma_read_u64(const DmaHandle *d, uint64_t gpa, uint64_t *v);
int dma_write_u16(const DmaHandle *d, uint64_t gpa, uint16_t v);
int dma_write_u32(const DmaHandle *d, uint64_t gpa, uint32_t v);

/* A handle on a flat buffer as guest-physical [0, size): for unit tests and fuzzers. */
typedef struct {
    uint8_t *mem;
    uint64_t size;
} DmaFlat;
DmaHandle dma_flat_handle(DmaFlat *flat);

#endif
