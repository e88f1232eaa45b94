/*
 * Harness: virtio-blk requests (src/dev/virtio/virtio_blk.c) through the virtqueue code,
 * on a 64 KiB raw disk in memory (a memfd, rewritten with a pattern per input), served on
 * the harness's thread (no I/O thread). The input is fuzz_virtio.h's; kind 6 serves the
 * queue without a notify, kind 7 re-creates nothing but flushes the disk.
 * Findings: crashes, sanitizer reports, hangs, and a write outside the disk (the memfd
 * must keep its size).
 */
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_virtio.h"

#define DISK_SIZE 65536

static FuzzVirtio fv;
static int disk_fd = -1;
static uint8_t pattern[DISK_SIZE];

static void fuzz_virtio_device_op(FuzzVirtio *f, unsigned kind, unsigned a8, unsigned a16)
{
    (void)a8, (void)a16;
    if (kind == 6)
        virtio_blk_process(f->vd);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_quiet_output();
    disk_fd = memfd_create("fuzz-virtio-blk", MFD_CLOEXEC);
    if (disk_fd < 0)
        abort();
    for (size_t i = 0; i < sizeof(pattern); i++)
        pattern[i] = (uint8_t)(i * 13 + 1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (pwrite(disk_fd, pattern, sizeof(pattern), 0) != (ssize_t)sizeof(pattern) ||
        ftruncate(disk_fd, DISK_SIZE) < 0)
        abort();
    BlockDev *bd = NULL;
    int fd = dup(disk_fd);
    if (fd < 0 || block_raw_open(fd, size > 0 && (data[0] & 0x80), &bd) < 0)
        abort();
    fuzz_virtio_run(&fv, virtio_blk_create(bd, "fuzz", false), data, size);
    block_close(bd);
    struct stat st;
    if (fstat(disk_fd, &st) < 0 || st.st_size != DISK_SIZE)
        abort();   /* a write went past the disk */
    return 0;
}
