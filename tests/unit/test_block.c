/* Unit tests for the block layer (src/block) with qemu-img and qemu-io as the
 * oracle: images qemu-img creates are read and written here, then `qemu-img check` must
 * find no errors and qemu-io must read back what was written (and the other way round).
 * Without qemu-img the tests that need it skip with the reason. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "hypervisor_sim.h"
#include "block/block.h"

static char dir[64];

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(cmd, sizeof(cmd), "( ");
    n += vsnprintf(cmd + n, sizeof(cmd) - (size_t)n, fmt, ap);
    snprintf(cmd + n, sizeof(cmd) - (size_t)n, " ) >/dev/null");   /* qemu-io talks */
    va_end(ap);
    int r = system(cmd);
    return WIFEXITED(r) ? WEXITSTATUS(r) : -1;
}

#define need_qemu_img() need_qemu_img_for(__func__)
static void need_qemu_img_for(const char *test)
{
    if (sh("command -v qemu-img >/dev/null && command -v qemu-io >/dev/null") != 0) {
        printf("[ SKIPPED  ] %s: qemu-img / qemu-io not installed (Debian qemu-utils)\n", test);
        skip();
    }
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/svm-block.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    sh("rm -rf %s", dir);
    return 0;
}

static void fill(uint8_t *buf, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = (uint8_t)(i * 31 + seed + (i >> 9));
}

/* qemu-img check finds no errors (and no leaks) in the image. */
static void assert_checks(const char *img)
{
    int r = sh("qemu-img check -q %s/%s", dir, img);
    if (r != 0) {
        sh("qemu-img check %s/%s >&2", dir, img);
        fail_msg("qemu-img check %s: status %d", img, r);
    }
}

/* qemu-io reads back pattern bytes at offset: compares through a raw conversion. */
static void assert_same_as_raw(const char *img, const uint8_t *expect, size_t n)
{
    assert_int_equal(sh("qemu-img convert -O raw %s/%s %s/out.raw", dir, img, dir), 0);
    char path[128];
    snprintf(path, sizeof(path), "%s/out.raw", dir);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t *got = malloc(n);
    assert_int_equal(fread(got, 1, n, f), n);
    fclose(f);
    assert_memory_equal(got, expect, n);
    free(got);
}

static void test_raw(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/disk.raw", dir);
    int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 1 << 20), 0);
    close(fd);
    BlockDev *bd;
    assert_int_equal(block_open(path, BLOCK_FORMAT_AUTO, 0, &bd), 0);
    assert_int_equal(bd->size, 1 << 20);
    uint8_t buf[1024], back[1024];
    fill(buf, sizeof(buf), 1);
    assert_int_equal(block_write(bd, 1000, buf, sizeof(buf)), 0);
    assert_int_equal(block_read(bd, 1000, back, sizeof(back)), 0);
    assert_memory_equal(buf, back, sizeof(buf));
    assert_int_equal(block_read(bd, (1 << 20) - 512, back, 513), -EINVAL);
    assert_int_equal(block_write(bd, UINT64_MAX - 10, buf, 20), -EINVAL);
    block_close(bd);
    /* Read-only and -snapshot: the file does not change. */
    assert_int_equal(block_open(path, BLOCK_FORMAT_RAW, BLOCK_READ_ONLY, &bd), 0);
    assert_int_equal(block_write(bd, 0, buf, 512), -EROFS);
    block_close(bd);
    assert_int_equal(block_open(path, BLOCK_FORMAT_RAW, BLOCK_SNAPSHOT, &bd), 0);
    uint8_t other[3000];
    fill(other, sizeof(other), 9);
    assert_int_equal(block_write(bd, 900, other, sizeof(other)), 0);
    uint8_t got[4096];
    assert_int_equal(block_read(bd, 0, got, sizeof(got)), 0);
    assert_memory_equal(got + 900, other, sizeof(other));
    block_close(bd);
    assert_int_equal(block_open(path, BLOCK_FORMAT_RAW, BLOCK_READ_ONLY, &bd), 0);
    assert_int_equal(block_read(bd, 1000, back, sizeof(back)), 0);
    assert_memory_equal(buf, back, sizeof(back));   /* the snapshot's writes are gone */
    block_close(bd);
}

/* Writes scattered over the image (cluster-straddling, sub-cluster, far apart), checks
 * them here and with qemu-img. */
static void write_read_check(const char *img, const char *create, size_t disk, uint8_t *expect)
{
    assert_int_equal(sh("qemu-img create -q %s %s/%s %zu", create, dir, img, disk), 0);
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, img);
    BlockDev *bd;
    assert_int_equal(block_open(path, BLOCK_FORMAT_AUTO, 0, &bd), 0);
    assert_int_equal(bd->size, disk);
    const struct { uint64_t off; size_t len; } w[] = {
        {0, 512}, {65536 - 100, 300}, {3 * 65536 + 7, 70000}, {disk - 512, 512},
        {disk / 2, 4096}, {512, 512}, {disk / 2 + 100, 10},
    };
    uint8_t *buf = malloc(70000);
    for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
        fill(buf, w[i].len, (unsigned)i + 3);
        assert_int_equal(block_write(bd, w[i].off, buf, w[i].len), 0);
        memcpy(expect + w[i].off, buf, w[i].len);
    }
    uint8_t *all = malloc(disk);
    assert_int_equal(block_read(bd, 0, all, disk), 0);
    assert_memory_equal(all, expect, disk);
    free(all);
    free(buf);
    block_close(bd);
    assert_checks(img);
    assert_same_as_raw(img, expect, disk);
}

static void test_qcow2_versions(void **state)
{
    (void)state;
    need_qemu_img();
    size_t disk = 4 << 20;
    uint8_t *expect = calloc(1, disk);
    write_read_check("v3.qcow2", "-f qcow2", disk, expect);
    memset(expect, 0, disk);
    write_read_check("v2.qcow2", "-f qcow2 -o compat=0.10", disk, expect);
    memset(expect, 0, disk);
    write_read_check("small.qcow2", "-f qcow2 -o cluster_size=512", disk, expect);
    memset(expect, 0, disk);
    write_read_check("rc1.qcow2", "-f qcow2 -o refcount_bits=1,cluster_size=4096", disk, expect);
    memset(expect, 0, disk);
    write_read_check("rc64.qcow2", "-f qcow2 -o refcount_bits=64", disk, expect);
    free(expect);
}

/* qemu-io writes, ScratchVM reads. */
static void test_qcow2_reads_qemu_data(void **state)
{
    (void)state;
    need_qemu_img();
    assert_int_equal(sh("qemu-img create -q -f qcow2 %s/q.qcow2 1M", dir), 0);
    assert_int_equal(sh("qemu-io -c 'write -P 0xab 4096 8192' -c 'write -z 0 512' "
                        "%s/q.qcow2", dir), 0);
    char path[128];
    snprintf(path, sizeof(path), "%s/q.qcow2", dir);
    BlockDev *bd;
    assert_int_equal(block_open(path, BLOCK_FORMAT_QCOW2, BLOCK_READ_ONLY, &bd), 0);
    uint8_t buf[16384];
    assert_int_equal(block_read(bd, 0, buf, sizeof(buf)), 0);
    for (size_t i = 0; i < sizeof(buf); i++)
        assert_int_equal(buf[i], i >= 4096 && i < 12288 ? 0xab : 0);
    block_close(bd);
}

/* raw base ← qcow2 ← qcow2: reads fall through, writes land in the top, the base is
 * untouched. */
static void test_backing_chain(void **state)
{
    (void)state;
    need_qemu_img();
    size_t disk = 2 << 20;
    assert_int_equal(sh("qemu-img create -q -f raw %s/base.raw 2M && qemu-io -f raw -c "
                        "'write -P 0x11 0 2M' %s/base.raw", dir, dir), 0);
    assert_int_equal(sh("cd %s && qemu-img create -q -f qcow2 -b base.raw -F raw mid.qcow2 && "
                        "qemu-io -c 'write -P 0x22 65536 65536' mid.qcow2 && "
                        "qemu-img create -q -f qcow2 -b mid.qcow2 -F qcow2 top.qcow2", dir), 0);
    uint8_t *expect = malloc(disk);
    memset(expect, 0x11, disk);
    memset(expect + 65536, 0x22, 65536);
    char path[128];
    snprintf(path, sizeof(path), "%s/top.qcow2", dir);
    BlockDev *bd;
    assert_int_equal(block_open(path, BLOCK_FORMAT_AUTO, 0, &bd), 0);
    uint8_t *all = malloc(disk);
    assert_int_equal(block_read(bd, 0, all, disk), 0);
    assert_memory_equal(all, expect, disk);
    uint8_t w[1000];
    fill(w, sizeof(w), 5);
    assert_int_equal(block_write(bd, 65536 + 60000, w, sizeof(w)), 0);   /* straddles */
    memcpy(expect + 65536 + 60000, w, sizeof(w));
    assert_int_equal(block_read(bd, 0, all, disk), 0);
    assert_memory_equal(all, expect, disk);
    block_close(bd);
    assert_checks("top.qcow2");
    assert_checks("mid.qcow2");
    assert_same_as_raw("top.qcow2", expect, disk);
    assert_int_equal(sh("qemu-io -f raw -c 'read -P 0x11 0 2M' %s/base.raw", dir), 0);
    /* -snapshot over the chain writes nothing. */
    assert_int_equal(block_open(path, BLOCK_FORMAT_AUTO, BLOCK_SNAPSHOT, &bd), 0);
    assert_int_equal(block_write(bd, 0, w, sizeof(w)), 0);
    block_close(bd);
    assert_same_as_raw("top.qcow2", expect, disk);
    free(all);
    free(expect);
}

static void test_qcow2_refused(void **state)
{
    (void)state;
    need_qemu_img();
    char path[128];
    BlockDev *bd;
    /* Compressed: opens, but reading the compressed cluster is refused. */
    assert_int_equal(sh("cd %s && qemu-img create -q -f raw c.raw 1M && qemu-io -f raw -c "
                        "'write -P 0x5a 0 64k' c.raw && qemu-img convert -c -O qcow2 c.raw "
                        "c.qcow2", dir), 0);
    snprintf(path, sizeof(path), "%s/c.qcow2", dir);
    assert_int_equal(block_open(path, BLOCK_FORMAT_AUTO, 0, &bd), 0);
    uint8_t buf[512];
    assert_int_equal(block_read(bd, 0, buf, sizeof(buf)), -ENOTSUP);
    assert_non_null(strstr(hv_last_error(), "compressed"));
    block_close(bd);
    /* Encrypted (old AES method, made by hand: crypt_method = 1). */
    assert_int_equal(sh("cd %s && qemu-img create -q -f qcow2 e.qcow2 1M && printf '\\000\\000\\000\\001' | "
                        "dd of=e.qcow2 bs=1 seek=32 conv=notrunc status=none", dir), 0);
    snprintf(path, sizeof(path), "%s/e.qcow2", dir);
    assert_int_equal(block_open(path, BLOCK_FORMAT_AUTO, 0, &bd), -ENOTSUP);
    assert_non_null(strstr(hv_last_error(), "encrypted"));
    /* Internal snapshots: their clusters are shared, so the image opens read-only. */
    assert_int_equal(sh("cd %s && qemu-img create -q -f qcow2 s.qcow2 1M && qemu-io -c "
                        "'write -P 7 0 4k' s.qcow2 && qemu-img snapshot -c snap1 s.qcow2", dir), 0);
    snprintf(path, sizeof(path), "%s/s.qcow2", dir);
    assert_int_equal(block_open(path, BLOCK_FORMAT_AUTO, 0, &bd), 0);
    assert_true(bd->read_only);
    assert_int_equal(block_read(bd, 0, buf, sizeof(buf)), 0);
    assert_int_equal(buf[511], 7);
    assert_int_equal(block_write(bd, 0, buf, sizeof(buf)), -EROFS);
    block_close(bd);
    /* A backing file that is itself: a loop. */
    assert_int_equal(sh("cd %s && qemu-img create -q -f qcow2 loop.qcow2 1M && "
                        "qemu-img rebase -u -f qcow2 -b loop.qcow2 -F qcow2 loop.qcow2", dir), 0);
    snprintf(path, sizeof(path), "%s/loop.qcow2", dir);
    assert_int_equal(block_open(path, BLOCK_FORMAT_AUTO, 0, &bd), -ELOOP);
}

/* Hostile headers: every header field of a good image set to bad values is refused at
 * open, or (table entries) at the access, never a crash. */
static void test_qcow2_hostile(void **state)
{
    (void)state;
    need_qemu_img();
    const struct { size_t off; int size; uint64_t value; } bad[] = {
        {4, 4, 1}, {4, 4, 4}, {20, 4, 8}, {20, 4, 31}, {24, 8, 1ull << 62}, {36, 4, 0},
        {36, 4, 0xFFFFFFFF}, {40, 8, 0x1234}, {40, 8, 1ull << 50}, {48, 8, 7},
        {48, 8, 1ull << 40}, {56, 4, 0}, {56, 4, 0xFFFFFFFF}, {72, 8, 1}, {72, 8, 2},
        {72, 8, 1ull << 20}, {96, 4, 7}, {100, 4, 50}, {100, 4, 1u << 30}, {8, 8, 1ull << 40},
    };
    char path[128];
    snprintf(path, sizeof(path), "%s/h.qcow2", dir);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(sh("qemu-img create -q -f qcow2 %s 1M", path), 0);
        uint8_t be[8];
        for (int b = 0; b < bad[i].size; b++)
            be[b] = (uint8_t)(bad[i].value >> (8 * (bad[i].size - 1 - b)));
        int fd = open(path, O_RDWR);
        assert_int_equal(pwrite(fd, be, (size_t)bad[i].size, (off_t)bad[i].off), bad[i].size);
        close(fd);
        BlockDev *bd;
        int r = block_open(path, BLOCK_FORMAT_AUTO, 0, &bd);
        if (r == 0) {
            uint8_t buf[4096];
            block_read(bd, 0, buf, sizeof(buf));
            block_write(bd, 0, buf, sizeof(buf));
            block_close(bd);
            fail_msg("header field at %zu = 0x%llx accepted", bad[i].off,
                     (unsigned long long)bad[i].value);
        }
    }
    /* A corrupt L1 entry (unaligned L2 offset): the access fails, nothing is written. */
    assert_int_equal(sh("qemu-img create -q -f qcow2 %s 1M && qemu-io -c 'write 0 512' %s",
                        path, path), 0);
    int fd = open(path, O_RDWR);
    uint8_t hdr[48];
    assert_int_equal(pread(fd, hdr, sizeof(hdr), 0), (ssize_t)sizeof(hdr));
    uint64_t l1 = 0;
    for (int b = 0; b < 8; b++)
        l1 = l1 << 8 | hdr[40 + b];
    uint8_t e[8] = {0x80, 0, 0, 0, 0, 0, 0x12, 0x00};
    assert_int_equal(pwrite(fd, e, 8, (off_t)l1), 8);
    close(fd);
    BlockDev *bd;
    assert_int_equal(block_open(path, BLOCK_FORMAT_AUTO, 0, &bd), 0);
    uint8_t buf[512];
    assert_int_equal(block_read(bd, 0, buf, sizeof(buf)), -EIO);
    assert_int_equal(block_write(bd, 0, buf, sizeof(buf)), -EIO);
    block_close(bd);
}

/* Random bytes over the header cluster and the tables of a used image: every open, read
 * and write either works or fails with an errno, never crashes (ASan in make check). */
static void test_qcow2_fuzz(void **state)
{
    (void)state;
    need_qemu_img();
    char path[128], good[128];
    snprintf(good, sizeof(good), "%s/fz-good.qcow2", dir);
    snprintf(path, sizeof(path), "%s/fz.qcow2", dir);
    assert_int_equal(sh("qemu-img create -q -f qcow2 -o cluster_size=4096 %s 1M && qemu-io -c "
                        "'write -P 1 0 64k' -c 'write -P 2 512k 8k' %s", good, good), 0);
    FILE *f = fopen(good, "rb");
    static uint8_t img[1 << 20];
    size_t n = fread(img, 1, sizeof(img), f);
    fclose(f);
    srand(777);
    int opened = 0;
    for (int round = 0; round < 300; round++) {
        static uint8_t copy[1 << 20];
        memcpy(copy, img, n);
        int flips = 1 + rand() % 8;
        for (int i = 0; i < flips; i++) {
            size_t at = rand() % 2 ? (size_t)(rand() % 128) : (size_t)rand() % (n < 6 * 4096 ? n : 6 * 4096);
            copy[at] = (uint8_t)rand();
        }
        FILE *o = fopen(path, "wb");
        assert_int_equal(fwrite(copy, 1, n, o), n);
        fclose(o);
        BlockDev *bd;
        if (block_open(path, BLOCK_FORMAT_QCOW2, 0, &bd) < 0)
            continue;
        opened++;
        uint8_t buf[8192];
        for (int k = 0; k < 8 && bd->size >= sizeof(buf); k++) {
            uint64_t off = ((uint64_t)rand() << 16 ^ (uint64_t)rand()) % (bd->size - sizeof(buf) + 1);
            block_read(bd, off, buf, sizeof(buf));
            block_write(bd, off, buf, sizeof(buf));
        }
        block_close(bd);
    }
    printf("  fuzz: %d of 300 mutated images opened, read and written\n", opened);
    assert_true(opened > 50);   /* most mutations hit tables, not the checked header */
}

/* A backing file name is the image's to choose: a FIFO (whose open would wait for a
 * writer), a tty or /dev/zero must be refused at once, never block or read forever.
 * Found by fuzz_qcow2 review: block_open used to open any path with a blocking open(). */
static void test_backing_not_a_file(void **state)
{
    (void)state;
    need_qemu_img();
    char path[128], fifo[128];
    snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    BlockDev *bd;
    assert_int_equal(block_open(fifo, BLOCK_FORMAT_AUTO, BLOCK_READ_ONLY, &bd), -EINVAL);
    assert_non_null(strstr(hv_last_error(), "not a disk image"));
    const char *names[] = {"fifo", "/dev/zero", "/dev/null"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        assert_int_equal(sh("cd %s && rm -f t.qcow2 && qemu-img create -q -f qcow2 t.qcow2 1M && "
                            "qemu-img rebase -u -f qcow2 -b '%s' -F raw t.qcow2", dir, names[i]), 0);
        snprintf(path, sizeof(path), "%s/t.qcow2", dir);
        assert_int_equal(block_open(path, BLOCK_FORMAT_AUTO, 0, &bd), -EINVAL);
        assert_non_null(strstr(hv_last_error(), "backing file"));
    }
}

int main(void)
{
    hv_set_log_level(HV_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raw),
        cmocka_unit_test(test_qcow2_versions),
        cmocka_unit_test(test_qcow2_reads_qemu_data),
        cmocka_unit_test(test_backing_chain),
        cmocka_unit_test(test_qcow2_refused),
        cmocka_unit_test(test_backing_not_a_file),
        cmocka_unit_test(test_qcow2_hostile),
        cmocka_unit_test(test_qcow2_fuzz),
    };
    return cmocka_run_group_tests_name("block", tests, setup, teardown);
}
