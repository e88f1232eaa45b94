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
#include "bench_linux.h"

#define MARK "Run /init"
#define BOOT_TIMEOUT_NS (180ull * 1000000000ull)   /* far past any boot here */

typedef struct {
    double wall, cpu;   /* ns */
} Boot;

/* Runs argv until MARK appears in its output: the wall and CPU time to there (then the
 * process is killed). 0, or -1 with the reason in why. */
static int boot_once(char *const argv[], Boot *out, char *why, size_t why_size)
{
    BenchGuest g;
    if (bench_guest_start(&g, argv, why, why_size) != 0) return -1;
    int r = bench_guest_wait(&g, MARK, BOOT_TIMEOUT_NS);
    out->wall = (double)(bench_now_ns() - g.t0);
    bench_guest_stop(&g);
    out->cpu = bench_rusage_cpu_ns(&g.ru);
    if (r != 0) bench_guest_why(&g, argv[0], MARK, why, why_size);
    return r;
}

static void print_skipped(const char *why)
{
    printf("%-40s skipped: %s\n", "boot to \"Run /init\" (wall, CPU)", why);
}

int main(int argc, char **argv)
{
    const char *build = argc > 1 ? argv[1] : "build";
    char svm[PATH_MAX];
    snprintf(svm, sizeof svm, "%s/scratchvm", build);
    int reps = bench_linux_reps("BENCH_LINUX_REPS");

    bench_print_header_named("Linux boot: Debian i386 kernel to \"" MARK "\" (whole processes)",
                             "sim", "QEMU TCG");
    char why[2 * PATH_MAX + 256];
    BenchLinux l;
    if (bench_linux_prepare(&l, why, sizeof why) != 0) {
        print_skipped(why);
        return 0;
    }
    const char *kernel = l.kernel, *initrd = l.initrd;
    char *sim_argv[] = { svm, "run", "--accel", "sim", "-m", "256", "-kernel", (char *)kernel,
                         "-initrd", (char *)initrd, "-append", "console=ttyS0", NULL };
    char *qemu_argv[] = { "qemu-system-i386", "-accel", "tcg", "-m", "256", "-display", "none",
                          "-serial", "stdio", "-monitor", "none", "-no-reboot", "-kernel",
                          (char *)kernel, "-initrd", (char *)initrd, "-append", "console=ttyS0",
                          NULL };
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
    bench_linux_cleanup(&l);
    return status;
}
