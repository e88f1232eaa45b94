/*
 * Harness: the split-virtqueue parser (src/dev/virtio/virtqueue.c) alone, on a flat 64 KiB
 * guest memory. Input: a flags byte (bit 0 indirect descriptors, bit 1 event index; bits
 * 4-7 the queue size exponent), the desc, avail and used addresses (16 bits each, then a
 * byte whose bit 0 moves the address near the top of the 64-bit space), a count of steps
 * (each pops a chain, copies its readable bytes out and its writable bytes in, and returns
 * it), then the memory image. Checks the chain contract: at most `size` segments, totals
 * that add up, copies that never report more than asked.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "dev/virtio/virtqueue.h"

#define MEM 65536

static uint8_t mem[MEM];
static uint8_t buf[4096];
static VirtqChain chain;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_quiet_output();
    return 0;
}

static uint64_t take_addr(FuzzIn *in)
{
    uint64_t a = fuzz_take(in, 2);
    return fuzz_take(in, 1) & 1 ? a | 0xffffffffffff0000ull : a;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FuzzIn in = {data, size};
    unsigned flags = fuzz_take(&in, 1);
    DmaFlat flat = {mem, sizeof(mem)};
    DmaHandle dma = dma_flat_handle(&flat);
    VirtQueue vq = {.dma = &dma};
    virtq_reset(&vq);
    vq.size = (uint16_t)(1u << ((flags >> 4) % 10));
    vq.indirect = flags & 1;
    vq.event_idx = flags & 2;
    vq.desc = take_addr(&in);
    vq.avail = take_addr(&in);
    vq.used = take_addr(&in);
    vq.ready = true;
    unsigned steps = fuzz_take(&in, 1) % 64;
    memset(mem, 0, sizeof(mem));
    memcpy(mem, in.p, in.left < sizeof(mem) ? in.left : sizeof(mem));
    for (unsigned s = 0; s < steps; s++) {
        virtq_set_notification(&vq, s & 1);
        (void)virtq_has_work(&vq);
        int r = virtq_pop(&vq, &chain);
        if (r <= 0)
            break;
        if (chain.num_out + chain.num_in > vq.size)
            abort();
        uint64_t out = 0, inl = 0;
        for (unsigned i = 0; i < chain.num_out; i++)
            out += chain.seg[i].len;
        for (unsigned i = 0; i < chain.num_in; i++)
            inl += chain.seg[chain.num_out + i].len;
        if (out != chain.out_len || inl != chain.in_len)
            abort();
        long n = virtq_chain_read(&vq, &chain, s, buf, sizeof(buf));
        if (n > (long)sizeof(buf))
            abort();
        memset(buf, (int)s, sizeof(buf));
        n = virtq_chain_write(&vq, &chain, s, buf, sizeof(buf));
        if (n > (long)sizeof(buf))
            abort();
        (void)virtq_push(&vq, chain.head, n > 0 ? (uint32_t)n : 0);
        (void)virtq_should_notify(&vq);
    }
    return 0;
}
