/*
 * Shared by the Linux benchmarks (linux_boot.c, linux_busybox.c): Debian's i386 kernel and
 * the check-linux initramfs (tests/linux: the packages fetch-debian.sh caches, the archive
 * mkinitramfs.sh builds from its busybox), and a guest run as a whole process whose serial
 * console is a pair of pipes: the bench writes commands to it and waits for lines.
 *
 * The cache is SCRATCHVM_DEBIAN_CACHE, else check-linux's default
 * (${XDG_CACHE_HOME:-$HOME/.cache}/scratchvm/debian-i386); a benchmark never fetches.
 */
#ifndef SCRATCHVM_BENCH_LINUX_H
#define SCRATCHVM_BENCH_LINUX_H

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

#define BENCH_LINUX_MKINITRAMFS "tests/linux/mkinitramfs.sh"

static inline bool bench_file_ok(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
}

/* Repetitions of a Linux benchmark: the environment variable `name` (default 3; a boot
 * takes seconds, so they are not sized by time), within 1..BENCH_MAX_REPS. */
static inline int bench_linux_reps(const char *name)
{
    const char *e = getenv(name);
    int reps = e ? atoi(e) : 3;
    return reps < 1 ? 1 : reps > BENCH_MAX_REPS ? BENCH_MAX_REPS : reps;
}

typedef struct {
    char kernel[PATH_MAX + 16];
    char initrd[PATH_MAX];
    char dir[32];                 /* the temporary directory holding the initramfs */
} BenchLinux;

/* Finds the cached kernel and builds the initramfs in a temporary directory, with the
 * cache's virtio modules and the guest's half of the virtio tests when `virtio` (the
 * scenarios of tests/linux/svmtest, chosen by svmtest= on the kernel's command line). 0,
 * or -1 with the reason to print as "skipped" in why. */
static inline int bench_linux_prepare_with(BenchLinux *l, bool virtio, char *why,
                                           size_t why_size)
{
    char cache[PATH_MAX], busybox[PATH_MAX + 16], modules[PATH_MAX + 16],
        order[PATH_MAX + 32];
    const char *env = getenv("SCRATCHVM_DEBIAN_CACHE");
    if (env && *env) {
        snprintf(cache, sizeof cache, "%s", env);
    } else {
        const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
        if (xdg && *xdg) snprintf(cache, sizeof cache, "%s/scratchvm/debian-i386", xdg);
        else snprintf(cache, sizeof cache, "%s/.cache/scratchvm/debian-i386", home ? home : "");
    }
    snprintf(l->kernel, sizeof l->kernel, "%s/vmlinuz", cache);
    snprintf(busybox, sizeof busybox, "%s/busybox", cache);
    snprintf(modules, sizeof modules, "%s/modules", cache);
    snprintf(order, sizeof order, "%s/load-order", modules);
    if (!bench_file_ok(l->kernel) || !bench_file_ok(busybox) ||
        (virtio && !bench_file_ok(order))) {
        snprintf(why, why_size, "Debian's kernel%s are not cached in %s "
                 "(tests/linux/fetch-debian.sh %s fetches them)",
                 virtio ? ", busybox and virtio modules" : " and busybox", cache, cache);
        return -1;
    }
    if (!bench_file_ok(BENCH_LINUX_MKINITRAMFS)) {
        snprintf(why, why_size, "%s not found (run from the source tree's top)",
                 BENCH_LINUX_MKINITRAMFS);
        return -1;
    }
    snprintf(l->dir, sizeof l->dir, "/tmp/bench_linux-XXXXXX");
    if (!mkdtemp(l->dir)) {
        snprintf(why, why_size, "no temporary directory: %s", strerror(errno));
        return -1;
    }
    snprintf(l->initrd, sizeof l->initrd, "%s/initrd.gz", l->dir);
    char *mk[] = { "/bin/bash", BENCH_LINUX_MKINITRAMFS, busybox, l->initrd,
                   virtio ? modules : NULL, NULL };
    pid_t pid = bench_fork_quiet(true);
    if (pid == 0) {
        execv(mk[0], mk);
        _exit(127);
    }
    int st = -1;
    if (pid > 0) waitpid(pid, &st, 0);
    if (pid < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0 || !bench_file_ok(l->initrd)) {
        snprintf(why, why_size, "%s could not build the initramfs (status %d)",
                 BENCH_LINUX_MKINITRAMFS, pid > 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        unlink(l->initrd);
        rmdir(l->dir);
        return -1;
    }
    return 0;
}

static inline int bench_linux_prepare(BenchLinux *l, char *why, size_t why_size)
{
    return bench_linux_prepare_with(l, false, why, why_size);
}

static inline void bench_linux_cleanup(BenchLinux *l)
{
    unlink(l->initrd);
    rmdir(l->dir);
}

/* A guest process: its stdin (the serial console's input) and its output, which the
 * bench reads through a window that keeps the tail of what came before. */
typedef struct {
    pid_t pid;
    int in_fd, out_fd;
    uint64_t t0;                  /* fork */
    char buf[65536];              /* output since the last marker found, trimmed */
    size_t len;
    bool ended;                   /* the output closed: the process ended */
    int status;                   /* wait status once reaped */
    struct rusage ru;
} BenchGuest;

static inline int bench_guest_start(BenchGuest *g, char *const argv[], char *why,
                                    size_t why_size)
{
    int in[2], out[2];
    memset(g, 0, sizeof *g);
    g->pid = -1;
    if (pipe(in) != 0 || pipe(out) != 0) {
        snprintf(why, why_size, "pipe: %s", strerror(errno));
        return -1;
    }
    g->t0 = bench_now_ns();
    g->pid = fork();
    if (g->pid < 0) {
        snprintf(why, why_size, "fork: %s", strerror(errno));
        return -1;
    }
    if (g->pid == 0) {
        dup2(in[0], STDIN_FILENO);
        dup2(out[1], STDOUT_FILENO);
        dup2(out[1], STDERR_FILENO);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    g->in_fd = in[1];
    g->out_fd = out[0];
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

/* Waits until `mark` appears in the output (0: the output after it stays in the window,
 * and what came before it goes to `before`, truncated, when that is not NULL), or the
 * process ends or `timeout_ns` from now passes (-1). */
static inline int bench_guest_wait_text(BenchGuest *g, const char *mark, uint64_t timeout_ns,
                                        char *before, size_t before_size)
{
    size_t mlen = strlen(mark);
    uint64_t t0 = bench_now_ns();
    for (;;) {
        char *hit = g->len ? memmem(g->buf, g->len, mark, mlen) : NULL;
        if (hit) {
            if (before && before_size) {
                size_t n = (size_t)(hit - g->buf);
                if (n >= before_size) n = before_size - 1;
                memcpy(before, g->buf, n);
                before[n] = '\0';
            }
            size_t after = (size_t)(hit - g->buf) + mlen;
            memmove(g->buf, g->buf + after, g->len - after);
            g->len -= after;
            return 0;
        }
        if (g->ended || bench_now_ns() - t0 > timeout_ns)
            return -1;
        if (g->len > sizeof g->buf / 2) {   /* keep only the tail the mark could start in */
            size_t drop = g->len - mlen;
            memmove(g->buf, g->buf + drop, g->len - drop);
            g->len -= drop;
        }
        struct pollfd p = { .fd = g->out_fd, .events = POLLIN };
        int r = poll(&p, 1, 200);
        if (r <= 0) continue;
        ssize_t n = read(g->out_fd, g->buf + g->len, sizeof g->buf - g->len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            g->ended = true;
            continue;
        }
        g->len += (size_t)n;
    }
}

static inline int bench_guest_wait(BenchGuest *g, const char *mark, uint64_t timeout_ns)
{
    return bench_guest_wait_text(g, mark, timeout_ns, NULL, 0);
}

static inline void bench_guest_send(BenchGuest *g, const char *text)
{
    size_t len = strlen(text);
    while (len) {
        ssize_t n = write(g->in_fd, text, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        text += n;
        len -= (size_t)n;
    }
}

/* CPU time (user + system, all threads) the running process has used so far, in ns;
 * -1 when /proc does not say. */
static inline double bench_guest_cpu_ns(const BenchGuest *g)
{
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)g->pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    /* the fields after the command's closing parenthesis: state is field 3, utime 14 */
    char *p = strrchr(line, ')');
    if (!p) return -1;
    unsigned long long utime = 0, stime = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
               &stime) != 2)
        return -1;
    return (double)(utime + stime) * 1e9 / (double)sysconf(_SC_CLK_TCK);
}

/* Kills and reaps the process: g->ru then has its whole CPU time. */
static inline void bench_guest_stop(BenchGuest *g)
{
    if (g->pid <= 0) return;
    kill(g->pid, SIGKILL);
    close(g->in_fd);
    close(g->out_fd);
    while (wait4(g->pid, &g->status, 0, &g->ru) < 0 && errno == EINTR) {}
    g->pid = -1;
}

static inline double bench_rusage_cpu_ns(const struct rusage *ru)
{
    return (double)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) * 1e9 +
           (double)(ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) * 1e3;
}

/* Why a guest did not show a line: it could not be run, it ended, or time ran out. */
static inline void bench_guest_why(const BenchGuest *g, const char *prog, const char *mark,
                                   char *why, size_t why_size)
{
    if (g->ended && WIFEXITED(g->status) && WEXITSTATUS(g->status) == 127)
        snprintf(why, why_size, "%s: not found", prog);
    else if (g->ended)
        snprintf(why, why_size, "%s ended (status %d) before \"%s\"", prog,
                 WIFEXITED(g->status) ? WEXITSTATUS(g->status) : -1, mark);
    else
        snprintf(why, why_size, "no \"%s\" in time", mark);
}

#endif
