/*
 * Linux virtio I/O (issue 26): in Debian's i386 kernel with the check-linux initramfs and
 * its virtio modules (tests/linux: svmtest's "bench" scenario), a sequential read of a
 * 64 MiB virtio disk (dd if=/dev/vda of=/dev/null bs=1M count=64, from a cold page
 * cache) and a 32 MiB download over user networking (busybox wget from an HTTP server of
 * this program's on the host's 127.0.0.1, as 10.0.2.2 in the guest), on the sim backend
 * (`BUILD/scratchvm run --accel sim`) beside QEMU's TCG (`qemu-system-i386 -accel tcg`),
 * the same kernel, initramfs, image, memory, command line and device options
 * (-drive file=F,if=virtio,format=raw -nic user,model=virtio-net-pci), one after the
 * other in each repetition.
 *
 * Each side is a whole process booted once a repetition; the guest prints a line before
 * and after each transfer, and the figures are the host's wall time between the two lines
 * and the process's CPU time (user + system, all threads, from /proc/PID/stat) between
 * them. The guest's own seconds (/proc/uptime) are printed beside, as a check.
 *
 * The repetitions are BENCH_VIRTIO_REPS (default 3): a boot takes seconds. The cache is
 * SCRATCHVM_DEBIAN_CACHE, else check-linux's default; the benchmark never fetches.
 * Skipped, with the reason, without the cached kernel, busybox and modules; the sim
 * column when scratchvm refuses the options (exit status 2 before the kernel ran: no
 * virtio devices yet), QEMU's when qemu-system-i386 cannot run the scenario.
 *
 * Usage: linux_virtio [BUILD_DIR [GUEST_DIR]]   (from the source tree's top)
 * Exits 0 unless the sim backend ran the kernel and the scenario failed.
 */
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include "bench_linux.h"

#define DISK_BYTES (64u << 20)
#define FILE_BYTES (32u << 20)
#define BOOT_TIMEOUT_NS (300ull * 1000000000ull)   /* to "Linux version", far past any boot */
#define STEP_TIMEOUT_NS (600ull * 1000000000ull)   /* from one line to the next */

enum { BLK_START, BLK_END, NET_START, NET_END, NUM_MARKS };
static const char *const marks[NUM_MARKS] = {
    "SVMBENCH-BLK-START", "SVMBENCH-BLK-END", "SVMBENCH-NET-START", "SVMBENCH-NET-END",
};

typedef struct {
    double wall[NUM_MARKS], cpu[NUM_MARKS];   /* ns, at each line */
    char guest[128];                          /* the guest's SVMBENCH-GUEST line */
} Run;

/* Deterministic bytes that no layer can compress or skip (xorshift64). */
static void fill_random(uint8_t *p, size_t n, uint64_t seed)
{
    uint64_t x = seed;
    for (size_t i = 0; i < n; i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        memcpy(p + i, &x, n - i < 8 ? n - i : 8);
    }
}

static int write_all(int fd, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The HTTP server: one child process answering every request on the listening socket
 * with the body (HTTP/1.0, then close), until it is killed or its parent dies. */
static pid_t start_http(int listen_fd, const uint8_t *body, size_t len)
{
    pid_t pid = fork();
    if (pid != 0) return pid;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    char head[160];
    int hl = snprintf(head, sizeof head, "HTTP/1.0 200 OK\r\nContent-Type: "
                      "application/octet-stream\r\nContent-Length: %zu\r\n\r\n", len);
    for (;;) {
        int c = accept(listen_fd, NULL, NULL);
        if (c < 0) {
            if (errno == EINTR) continue;
            _exit(1);
        }
        struct timeval tv = { .tv_sec = 30 };
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        /* the request: read up to its blank line (its content does not matter) */
        char req[4096];
        size_t got = 0;
        while (got < sizeof req - 1) {
            ssize_t r = read(c, req + got, sizeof req - 1 - got);
            if (r <= 0) break;
            got += (size_t)r;
            req[got] = '\0';
            if (strstr(req, "\r\n\r\n")) break;
        }
        if (got && write_all(c, head, (size_t)hl) == 0) write_all(c, body, len);
        close(c);
    }
}

/* The line of the guest's output holding `text`, into out ("" when none). */
static void line_with(const BenchGuest *g, const char *text, char *out, size_t size)
{
    out[0] = '\0';
    const char *hit = g->len ? memmem(g->buf, g->len, text, strlen(text)) : NULL;
    if (!hit) return;
    const char *end = memchr(hit, '\n', g->len - (size_t)(hit - g->buf));
    size_t n = end ? (size_t)(end - hit) : g->len - (size_t)(hit - g->buf);
    if (n && hit[n - 1] == '\r') n--;
    snprintf(out, size, "%.*s", (int)(n < size ? n : size - 1), hit);
}

/* Boots argv and times the marks of the disk, the network or both, as the guest prints
 * them. 0; 1 when scratchvm refused its command line (status 2 before the kernel ran);
 * -1 with the reason in why. */
static int run_once(char *const argv[], bool blk, bool net, Run *out, char *why, size_t why_size)
{
    memset(out, 0, sizeof *out);
    BenchGuest g;
    if (bench_guest_start(&g, argv, why, why_size) != 0) return -1;
    if (bench_guest_wait(&g, "Linux version", BOOT_TIMEOUT_NS) != 0) {
        char line[256];
        line_with(&g, "scratchvm", line, sizeof line);
        bench_guest_stop(&g);
        if (g.ended && WIFEXITED(g.status) && WEXITSTATUS(g.status) == 2) {
            snprintf(why, why_size, "scratchvm refused the options (%s)", line);
            return 1;
        }
        bench_guest_why(&g, argv[0], "Linux version", why, why_size);
        return -1;
    }
    for (int m = 0; m < NUM_MARKS; m++) {
        if (!(m < NET_START ? blk : net)) continue;
        if (bench_guest_wait(&g, marks[m], STEP_TIMEOUT_NS) != 0) {
            line_with(&g, "SVMTEST-FAIL", why, why_size);
            if (!why[0]) bench_guest_why(&g, argv[0], marks[m], why, why_size);
            bench_guest_stop(&g);
            return -1;
        }
        out->wall[m] = (double)(bench_now_ns() - g.t0);
        out->cpu[m] = bench_guest_cpu_ns(&g);
    }
    /* the guest's own seconds: what comes between this mark and the verdict */
    if (bench_guest_wait(&g, "SVMBENCH-GUEST ", STEP_TIMEOUT_NS) != 0 ||
        bench_guest_wait_text(&g, "SVMTEST-PASS", STEP_TIMEOUT_NS, out->guest,
                              sizeof out->guest) != 0) {
        line_with(&g, "SVMTEST-FAIL", why, why_size);
        if (!why[0]) bench_guest_why(&g, argv[0], "SVMTEST-PASS", why, why_size);
        bench_guest_stop(&g);
        return -1;
    }
    out->guest[strcspn(out->guest, "\r\n")] = '\0';
    bench_guest_stop(&g);
    return 0;
}

static void print_skipped(const char *why)
{
    printf("%-40s skipped: %s\n", "virtio-blk read, download (wall, CPU)", why);
}

/* bytes in ns as MiB/s, for the notes */
static double mib_per_s(double bytes, double ns)
{
    return ns > 0 ? bytes / (1 << 20) / (ns / 1e9) : 0;
}

int main(int argc, char **argv)
{
    const char *build = argc > 1 ? argv[1] : "build";
    char svm[PATH_MAX];
    snprintf(svm, sizeof svm, "%s/scratchvm", build);
    int reps = bench_linux_reps("BENCH_VIRTIO_REPS");

    bench_print_header_named("Linux virtio: 64 MiB read of /dev/vda, 32 MiB wget over user "
                             "networking (in the guest)", "sim", "QEMU TCG");
    char why[2 * PATH_MAX + 256];
    BenchLinux l;
    if (bench_linux_prepare_with(&l, true, why, sizeof why) != 0) {
        print_skipped(why);
        return 0;
    }
    char *kernel = l.kernel, *initrd = l.initrd, disk[64];
    snprintf(disk, sizeof disk, "%s/disk.raw", l.dir);
    int status = 0;
    uint8_t *bytes = malloc(DISK_BYTES);
    int listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    pid_t http = -1;
    if (!bytes || listen_fd < 0) {
        print_skipped("out of memory or sockets");
        goto out;
    }
    fill_random(bytes, DISK_BYTES, 0x5c7a7c4u);
    int fd = open(disk, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write_all(fd, bytes, DISK_BYTES) != 0 || close(fd) != 0) {
        snprintf(why, sizeof why, "cannot write %s: %s", disk, strerror(errno));
        print_skipped(why);
        goto out;
    }
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t alen = sizeof addr;
    if (bind(listen_fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(listen_fd, 4) != 0 ||
        getsockname(listen_fd, (struct sockaddr *)&addr, &alen) != 0) {
        snprintf(why, sizeof why, "no HTTP server on 127.0.0.1: %s", strerror(errno));
        print_skipped(why);
        goto out;
    }
    fill_random(bytes, FILE_BYTES, 0x9e3779b97f4a7c15u);
    http = start_http(listen_fd, bytes, FILE_BYTES);
    if (http < 0) {
        snprintf(why, sizeof why, "fork: %s", strerror(errno));
        print_skipped(why);
        goto out;
    }

    /* Both devices in one boot; when scratchvm refuses that command line, one device
     * alone (it may have one of them yet), and QEMU gets the same options. */
    static const struct { const char *devs; bool blk, net; } sets[] = {
        { "blk,net", true, true }, { "blk", true, false }, { "net", false, true },
    };
    char append[3][128], drive[128], nic[] = "user,model=virtio-net-pci";
    snprintf(drive, sizeof drive, "file=%s,if=virtio,format=raw", disk);
    char *argvs[2][3][32];   /* [side][set] */
    for (int set = 0; set < 3; set++) {
        snprintf(append[set], sizeof append[set], "console=ttyS0 panic=-1 svmtest=bench "
                 "svmdevs=%s svmport=%d", sets[set].devs, ntohs(addr.sin_port));
        char *sim_head[] = { svm, "run", "--accel", "sim", "-m", "256", "-no-reboot", NULL };
        char *qemu_head[] = { "qemu-system-i386", "-accel", "tcg", "-m", "256", "-display",
                              "none", "-serial", "stdio", "-monitor", "none", "-no-reboot", NULL };
        for (int side = 0; side < 2; side++) {
            char **a = argvs[side][set];
            int k = 0;
            for (char **h = side ? qemu_head : sim_head; *h; h++) a[k++] = *h;
            char *tail[] = { "-kernel", kernel, "-initrd", initrd, "-append", append[set] };
            for (size_t t = 0; t < sizeof tail / sizeof *tail; t++) a[k++] = tail[t];
            if (sets[set].blk) a[k++] = "-drive", a[k++] = drive;
            if (sets[set].net) a[k++] = "-nic", a[k++] = nic;
            a[k] = NULL;
        }
    }
    /* [side][figure][rep]: side 0 sim, 1 QEMU; figure 0 blk wall, 1 blk CPU, 2 net wall,
     * 3 net CPU */
    double v[2][4][BENCH_MAX_REPS];
    int n[2] = { 0, 0 };
    bool ok[2] = { true, true };
    char side_why[2][sizeof why], refused[3][sizeof why];
    char guest[2][128] = { "", "" };
    int set = -1;   /* the options scratchvm took */
    for (int r = 0; r < reps; r++) {
        /* the order alternates, so neither side always runs on a warmer machine */
        for (int k = 0; k < 2; k++) {
            int side = (k == 0) == (r % 2 == 0) ? 0 : 1;
            if (!ok[side]) continue;
            Run run;
            int rc;
            if (side == 0 && set < 0) {
                for (set = 0; set < 3; set++) {
                    rc = run_once(argvs[0][set], sets[set].blk, sets[set].net, &run,
                                  refused[set], sizeof refused[set]);
                    if (rc <= 0) break;
                }
                if (set == 3) snprintf(side_why[0], sizeof side_why[0], "%s", refused[0]);
                else if (rc < 0) snprintf(side_why[0], sizeof side_why[0], "%s", refused[set]);
            } else {
                int s1 = set >= 0 && set < 3 ? set : 0;   /* QEMU alone: both */
                rc = run_once(argvs[side][s1], sets[s1].blk, sets[s1].net, &run,
                              side_why[side], sizeof side_why[side]);
            }
            if (rc != 0) {
                ok[side] = false;
                if (side == 0 && rc < 0) {
                    fprintf(stderr, "linux_virtio: sim: %s\n", side_why[0]);
                    status = 1;
                }
                continue;
            }
            v[side][0][n[side]] = run.wall[BLK_END] - run.wall[BLK_START];
            v[side][1][n[side]] = run.cpu[BLK_END] - run.cpu[BLK_START];
            v[side][2][n[side]] = run.wall[NET_END] - run.wall[NET_START];
            v[side][3][n[side]] = run.cpu[NET_END] - run.cpu[NET_START];
            snprintf(guest[side], sizeof guest[side], "%.100s", run.guest);
            n[side]++;
        }
    }
    static const char *const figures[4] = {
        "64 MiB virtio-blk read, wall time", "64 MiB virtio-blk read, CPU time",
        "32 MiB wget (user net), wall time", "32 MiB wget (user net), CPU time",
    };
    bool sim_ran = ok[0] && n[0] > 0, qemu_ran = ok[1] && n[1] > 0;
    int used = sim_ran ? set : 0;
    BenchStat st_[2][4];
    for (int side = 0; side < 2; side++)
        for (int f = 0; f < 4; f++) st_[side][f] = bench_stat(v[side][f], n[side], false);
    for (int f = 0; f < 4; f++) {
        bool has = f < 2 ? sets[used].blk : sets[used].net;
        if (sim_ran && has) {
            BenchRow row = { .figure = figures[f], .lib = st_[0][f] };
            if (qemu_ran) row.floor = st_[1][f];
            bench_print_row(&row);
        } else {
            /* why this device's options were refused (its own set, else both at once) */
            const char *w = side_why[0];   /* sim failed, or refused every set */
            if (sim_ran || set == 3) w = refused[f < 2 ? 1 : 2];
            if (sim_ran && set < (f < 2 ? 1 : 2)) w = refused[0];   /* its set not tried */
            printf("%-40s skipped: %s\n", figures[f], w);
        }
    }
    if (sim_ran)
        printf("(%d runs each, options for %s; ratio = sim / QEMU: > 1.0 means sim is slower)\n",
               n[0], sets[used].devs);
    for (int side = 0; side < 2; side++) {
        if (!(side ? qemu_ran : sim_ran)) continue;
        printf("%s (wall medians):", side ? "QEMU TCG" : "sim");
        if (sets[used].blk) printf(" read %.1f MiB/s", mib_per_s(DISK_BYTES, st_[side][0].median));
        if (sets[used].net)
            printf(" download %.1f MiB/s", mib_per_s(FILE_BYTES, st_[side][2].median));
        printf("; the guest's own seconds in the last run: %s\n", guest[side]);
        if (side == 1 && !sim_ran)
            printf("QEMU TCG alone (%d runs): read %.2f s wall, %.2f s CPU; download %.2f s "
                   "wall, %.2f s CPU (medians)\n", n[1], st_[1][0].median / 1e9,
                   st_[1][1].median / 1e9, st_[1][2].median / 1e9, st_[1][3].median / 1e9);
    }
    if (!ok[1]) printf("QEMU skipped: %s\n", side_why[1]);
out:
    if (http > 0) {
        kill(http, SIGKILL);
        waitpid(http, NULL, 0);
    }
    if (listen_fd >= 0) close(listen_fd);
    free(bytes);
    unlink(disk);
    bench_linux_cleanup(&l);
    return status;
}
