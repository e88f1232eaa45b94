/*
 * Harness: virtio-net (src/dev/virtio/virtio_net.c) on a test back end: transmitted
 * frames are checked for their bound, received ones come from the input. The input is
 * fuzz_virtio.h's; kind 6 delivers a frame of (16-bit argument % 2048) bytes taken from
 * guest memory at a byte's offset (as the back end's thread would), kind 7 serves the
 * transmit queue directly.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_virtio.h"

static FuzzVirtio fv;

static void sent(void *opaque, const uint8_t *frame, size_t len)
{
    (void)opaque;
    (void)frame;
    if (len == 0 || len > VIRTIO_NET_MAX_FRAME)
        abort();
}

static void fuzz_virtio_device_op(FuzzVirtio *f, unsigned kind, unsigned a8, unsigned a16)
{
    if (kind == 6) {
        /* A copy: a back end's frame is host memory, never the guest's own buffers. */
        static uint8_t frame[2048];
        size_t len = a16 % 2048, off = a8 * 64u;
        memcpy(frame, f->mem + off, len);
        virtio_net_receive(f->vd, frame, len);
    } else {
        virtio_net_process_tx(f->vd);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_quiet_output();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
    fuzz_virtio_run(&fv, virtio_net_create(net_callback_create(sent, NULL), mac), data, size);
    return 0;
}
