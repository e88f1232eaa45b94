/*
 * Harness: virtio-rng (src/dev/virtio/virtio_rng.c) through the virtqueue code: the
 * input is fuzz_virtio.h's; kinds 6-7 notify the queue too.
 */
#include "fuzz_virtio.h"

static FuzzVirtio fv;

static void fuzz_virtio_device_op(FuzzVirtio *f, unsigned kind, unsigned a8, unsigned a16)
{
    (void)kind, (void)a8, (void)a16;
    virtio_queue_notify(f->vd, 0);
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
    fuzz_virtio_run(&fv, virtio_rng_create(), data, size);
    return 0;
}
