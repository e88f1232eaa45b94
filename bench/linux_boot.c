/*
 * Linux boot: Debian's i386 kernel and the check-linux initramfs (tests/linux: the
 * packages fetch-debian.sh caches, the archive mkinitramfs.sh builds from its busybox)
 * booted to the kernel's "Run /init" line on the serial console, on the sim backend
 * (`BUILD/scratchvm run --accel sim`) and on QEMU's TCG (`qemu-system-i386 -accel tcg`),
 * the same kernel, initramfs, memory and command line, one after the other in each
 * repetition so that the machine's load hits both alike. Each boot is a whole process,
 * timed from fork to the line (wall), and its CPU time (user + system, all threads) is
 * what it used until it is killed at the line.
 *
 * A boot takes seconds, not milliseconds: the repetitions are BENCH_LINUX_REPS (default
 * 3), not sized by time. The cache is SCRATCHVM_DEBIAN_CACHE, else check-linux's default
 * (${XDG_CACHE_HOME:-$HOME/.cache}/scratchvm/debian-i386); the benchmark never fetches.
 * Skipped, with the reason, when the packages are not cached or the initramfs cannot be
 * built; QEMU's column when qemu-system-i386 cannot boot the kernel here.
 *
 * Usage: linux_boot [BUILD_DIR [GUEST_DIR]]   (the arguments of bench/run.sh, from the
 * source tree's top: tests/linux/mkinitramfs.sh is found there)
 * Exits 0 unless the sim backend failed to reach the line.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"

#define MARK "Run /init"
#define BOOT_TIMEOUT_NS (180ull * 1000000000ull)   /* far past any boot here */
#define MKINITRAMFS "tests/linux/mkinitramfs.sh"

typedef struct {
    double wall, cpu;   /* ns */
} Boot;

static bool file_ok(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
}

/* Runs argv with its output on a pipe until MARK appears in it: the wall and CPU time to
 * there (then the process is killed). 0, or -1 with the reason in why (no MARK: the
 * end of the output, the exit status, or the timeout). */
static int boot_once(char *const argv[], Boot *out, char *why, size_t why_size)
{
    int pfd[2];
    if (pipe(pfd) != 0) {
        snprintf(why, why_size, "pipe: %s", strerror(errno));
        return -1;
    }
    uint64_t t0 = bench_now_ns();
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(why, why_size, "fork: %s", strerror(errno));
        close(pfd[0]);
        close(pfd[1]);
        return -1;
    }
    if (pid == 0) {
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0) dup2(null, STDIN_FILENO);
        dup2(pfd[1], STDOUT_FILENO);
        dup2(pfd[1], STDERR_FILENO);
        close(pfd[0]);
        close(pfd[1]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(pfd[1]);
    /* the line may arrive split across reads: keep the tail of the previous one */
    char buf[4096 + sizeof MARK];
    size_t keep = 0;
    bool found = false, timed_out = false;
    for (;;) {
        uint64_t now = bench_now_ns();
        if (now - t0 > BOOT_TIMEOUT_NS) {
            timed_out = true;
            break;
        }
        struct pollfd p = { .fd = pfd[0], .events = POLLIN };
        int r = poll(&p, 1, 1000);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) continue;
        ssize_t n = read(pfd[0], buf + keep, sizeof buf - keep - 1);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;   /* the process ended without the line */
        size_t len = keep + (size_t)n;
        buf[len] = '\0';
        if (memmem(buf, len, MARK, sizeof MARK - 1)) {
            found = true;
            break;
        }
        keep = len < sizeof MARK - 1 ? len : sizeof MARK - 1;
        memmove(buf, buf + len - keep, keep);
    }
    out->wall = (double)(bench_now_ns() - t0);
    kill(pid, SIGKILL);
    close(pfd[0]);
    int st;
    struct rusage ru;
    while (wait4(pid, &st, 0, &ru) < 0 && errno == EINTR) {}
    out->cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e9 +
               (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e3;
    if (found) return 0;
    if (timed_out)
        snprintf(why, why_size, "no \"%s\" within %llu s", MARK,
                 (unsigned long long)(BOOT_TIMEOUT_NS / 1000000000ull));
    else if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
        snprintf(why, why_size, "%s: not found", argv[0]);
    else
        snprintf(why, why_size, "%s ended (status %d) before \"%s\"", argv[0],
                 WIFEXITED(st) ? WEXITSTATUS(st) : -1, MARK);
    return -1;
}

static void print_skipped(const char *why)
{
    printf("%-40s skipped: %s\n", "boot to \"Run /init\" (wall, CPU)", why);
}

int main(int argc, char **argv)
{
    const char *build = argc > 1 ? argv[1] : "build";
    char cache[PATH_MAX], kernel[PATH_MAX + 16], busybox[PATH_MAX + 16], svm[PATH_MAX];
    const char *env = getenv("SCRATCHVM_DEBIAN_CACHE");
    if (env && *env) {
        snprintf(cache, sizeof cache, "%s", env);
    } else {
        const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
        if (xdg && *xdg) snprintf(cache, sizeof cache, "%s/scratchvm/debian-i386", xdg);
        else snprintf(cache, sizeof cache, "%s/.cache/scratchvm/debian-i386", home ? home : "");
    }
    snprintf(kernel, sizeof kernel, "%s/vmlinuz", cache);
    snprintf(busybox, sizeof busybox, "%s/busybox", cache);
    snprintf(svm, sizeof svm, "%s/scratchvm", build);
    const char *reps_env = getenv("BENCH_LINUX_REPS");
    int reps = reps_env ? atoi(reps_env) : 3;
    if (reps < 1) reps = 1;
    if (reps > BENCH_MAX_REPS) reps = BENCH_MAX_REPS;

    bench_print_header_named("Linux boot: Debian i386 kernel to \"" MARK "\" (whole processes)",
                             "sim", "QEMU TCG");
    char why[2 * PATH_MAX + 256];
    if (!file_ok(kernel) || !file_ok(busybox)) {
        snprintf(why, sizeof why, "Debian's kernel and busybox are not cached in %s "
                 "(tests/linux/fetch-debian.sh %s fetches them)", cache, cache);
        print_skipped(why);
        return 0;
    }
    if (!file_ok(MKINITRAMFS)) {
        snprintf(why, sizeof why, "%s not found (run from the source tree's top)", MKINITRAMFS);
        print_skipped(why);
        return 0;
    }
    char dir[] = "/tmp/linux_boot-XXXXXX";
    if (!mkdtemp(dir)) {
        snprintf(why, sizeof why, "no temporary directory: %s", strerror(errno));
        print_skipped(why);
        return 0;
    }
    char initrd[64];
    snprintf(initrd, sizeof initrd, "%s/initrd.gz", dir);
    char *mk[] = { "/bin/bash", MKINITRAMFS, busybox, initrd, NULL };
    pid_t pid = bench_fork_quiet(true);
    if (pid == 0) {
        execv(mk[0], mk);
        _exit(127);
    }
    int st = -1;
    if (pid > 0) waitpid(pid, &st, 0);
    if (pid < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0 || !file_ok(initrd)) {
        snprintf(why, sizeof why, "%s could not build the initramfs (status %d)", MKINITRAMFS,
                 pid > 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        print_skipped(why);
        rmdir(dir);
        return 0;
    }

    char *sim_argv[] = { svm, "run", "--accel", "sim", "-m", "256", "-kernel", kernel,
                         "-initrd", initrd, "-append", "console=ttyS0", NULL };
    char *qemu_argv[] = { "qemu-system-i386", "-accel", "tcg", "-m", "256", "-display", "none",
                          "-serial", "stdio", "-monitor", "none", "-no-reboot", "-kernel",
                          kernel, "-initrd", initrd, "-append", "console=ttyS0", NULL };
    double sw[BENCH_MAX_REPS], sc[BENCH_MAX_REPS], qw[BENCH_MAX_REPS], qc[BENCH_MAX_REPS];
    int ns = 0, nq = 0;
    bool qemu_ok = true;
    char qwhy[256] = "";
    int status = 0;
    for (int r = 0; r < reps; r++) {
        Boot b;
        /* the order alternates, so neither side always runs on a warmer machine */
        for (int side = 0; side < 2; side++) {
            bool sim = (side == 0) == (r % 2 == 0);
            if (sim) {
                if (boot_once(sim_argv, &b, why, sizeof why) != 0) {
                    fprintf(stderr, "linux_boot: sim: %s\n", why);
                    status = 1;
                    goto out;
                }
                sw[ns] = b.wall;
                sc[ns++] = b.cpu;
            } else if (qemu_ok) {
                if (boot_once(qemu_argv, &b, qwhy, sizeof qwhy) != 0) {
                    qemu_ok = false;
                    continue;
                }
                qw[nq] = b.wall;
                qc[nq++] = b.cpu;
            }
        }
    }
    BenchRow wall = { .figure = "boot to \"Run /init\", wall time" };
    BenchRow cpu = { .figure = "boot to \"Run /init\", CPU time" };
    wall.lib = bench_stat(sw, ns, false);
    cpu.lib = bench_stat(sc, ns, false);
    if (qemu_ok) {
        wall.floor = bench_stat(qw, nq, false);
        cpu.floor = bench_stat(qc, nq, false);
    }
    bench_print_row(&wall);
    bench_print_row(&cpu);
    printf("(%d boots each; ratio = sim / QEMU: > 1.0 means sim is slower)\n", ns);
    if (!qemu_ok) printf("QEMU skipped: %s\n", qwhy);
out:
    unlink(initrd);
    rmdir(dir);
    return status;
}
