/*
 * Harness: disk images through the block layer (src/block) as the BIOS's int 13h
 * reaches them: block_open probes the format (qcow2 by its magic, else raw) and opens
 * the backing chain, then reads, writes and flushes go through the L1/L2 tables and the
 * refcounts (or the -snapshot overlay).
 * Input: a flags byte (bit 0: -snapshot; bit 1: read-only; bit 2: format qcow2 forced
 * rather than probed), the image (a 16-bit length and its bytes), a backing file (a
 * 16-bit length and its bytes, written as "b" beside the image, so a header naming "b"
 * reaches it; that file may itself name "b", a loop the depth limit ends), then up to
 * FUZZ_QCOW2_OPS operations: a kind byte (bits 0-1: read, write, flush; bit 7: the offset
 * counts 512-byte sectors), a 32-bit offset (taken modulo the virtual size + 1, so most
 * land inside) and a 16-bit length (+1).
 * The files live in a directory of the harness's own (mkdtemp in /dev/shm, else /tmp),
 * rewritten per input, removed at exit.
 * Only crashes, sanitizer reports and hangs are findings: a corrupt image may well read
 * back other bytes than were written (its tables can overlap its data).
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "hypervisor_sim.h"
#include "block/block.h"

#define FUZZ_QCOW2_OPS 12
#define FUZZ_QCOW2_WRITES 4      /* a write may allocate clusters of up to 2 MiB each */

static FILE *devnull;
static bool verbose;   /* FUZZ_VERBOSE=1: each input's outcome on stderr (for seeds) */
static char dir_path[64], image_path[64], backing_path[64];
static uint8_t iobuf[65536];

/* At a normal exit (a crash leaves them, with the input that made them). */
static void remove_files(void)
{
    unlink(image_path);
    unlink(backing_path);
    rmdir(dir_path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    devnull = fuzz_quiet_output();
    verbose = getenv("FUZZ_VERBOSE") != NULL;
    /* In memory when /dev/shm exists: flushes and cluster allocations cost no disk. */
    static char shm[] = "/dev/shm/scratchvm-fuzz-qcow2-XXXXXX";
    static char tmp[] = "/tmp/scratchvm-fuzz-qcow2-XXXXXX";
    const char *dir = mkdtemp(shm);
    if (!dir && !(dir = mkdtemp(tmp)))
        abort();
    snprintf(dir_path, sizeof(dir_path), "%s", dir);
    snprintf(image_path, sizeof(image_path), "%s/image", dir);
    snprintf(backing_path, sizeof(backing_path), "%s/b", dir);
    atexit(remove_files);
    return 0;
}

static int write_file(const char *path, FuzzIn *in)
{
    size_t n = fuzz_take(in, 2);
    if (n > in->left)
        n = in->left;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    ssize_t w = write(fd, in->p, n);
    close(fd);
    in->p += n;
    in->left -= n;
    return w == (ssize_t)n ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FuzzIn in = {data, size};
    unsigned flags = fuzz_take(&in, 1);
    if (write_file(image_path, &in) < 0 || write_file(backing_path, &in) < 0)
        return 0;
    int open_flags = (flags & 1 ? BLOCK_SNAPSHOT : 0) | (flags & 2 ? BLOCK_READ_ONLY : 0);
    BlockDev *bd = NULL;
    int r = block_open(image_path, flags & 4 ? BLOCK_FORMAT_QCOW2 : BLOCK_FORMAT_AUTO,
                       open_flags, &bd);
    if (verbose)
        fprintf(stderr, "fuzz_qcow2: open: %d %s\n", r, r < 0 ? hv_last_error() : "");
    if (r < 0)
        return 0;
    unsigned writes = 0;
    for (int op = 0; op < FUZZ_QCOW2_OPS && in.left; op++) {
        unsigned kind = fuzz_take(&in, 1);
        uint64_t off = fuzz_take(&in, 4);
        size_t len = fuzz_take(&in, 2) + 1u;
        if (kind & 0x80)
            off *= 512;
        if (bd->size + 1 != 0)
            off %= bd->size + 1;
        switch (kind & 3) {
        case 0:
            r = block_read(bd, off, iobuf, len);
            break;
        case 1:
            if (writes++ >= FUZZ_QCOW2_WRITES)
                break;
            memset(iobuf, (int)(0xA5 ^ op), len);
            r = block_write(bd, off, iobuf, len);
            break;
        default:
            r = block_flush(bd);
            break;
        }
        if (verbose)
            fprintf(stderr, "fuzz_qcow2: op %u at %llu+%zu: %d %s\n", kind & 3,
                    (unsigned long long)off, len, r, r < 0 ? hv_last_error() : "");
    }
    block_close(bd);
    return 0;
}
