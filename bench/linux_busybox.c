/*
 * Linux user space: a busybox workload in Debian's i386 kernel with the check-linux
 * initramfs (bench_linux.h), on the sim backend and on QEMU's TCG, the same kernel,
 * initramfs, memory and command line. After the boot, the bench types one command line
 * on the serial console that runs, with a marker line after each step:
 *   gen     seq 1 500000 > /tmp/t           (3.4 MB of text)
 *   awk     seq 1 300000 | awk sum          (a pipe and an interpreter)
 *   sha256  sha256sum /tmp/t                (integer crypto)
 *   gzip    gzip -6 of /tmp/t               (compression)
 * and times each step from its marker to the next as they appear on the console (the
 * host's clock: the guest's own clock is what is being measured), and the process's CPU
 * time (all threads) over the whole workload. The boot itself is linux_boot's row.
 *
 * The results are checked: the sum and the hash against the host's own computation, the
 * compressed size equal on both sides (the same busybox). A wrong result fails the bench.
 * Repetitions: BENCH_LINUX_REPS (default 3). Skipped with the reason when the Debian
 * packages are not cached; QEMU's column when qemu-system-i386 cannot run it.
 *
 * Usage: linux_busybox [BUILD_DIR [GUEST_DIR]]   (from the source tree's top)
 */
#include "bench_linux.h"

#define BOOT_TIMEOUT_NS (300ull * 1000000000ull)
#define STEP_TIMEOUT_NS (300ull * 1000000000ull)
#define PROMPT "svm# "
#define SEQ_TEXT_N 500000
#define SUM_N 300000
#define STEPS 4

static const char *const step_names[STEPS] = {
    "gen: seq 1 500000 > file",
    "awk: seq 1 300000 | awk sum",
    "sha256sum of 3.4 MB",
    "gzip -6 of 3.4 MB",
};

/* The command line: each marker is typed as W-""Sn so that the terminal's echo of the
 * line does not contain it; only the echo command's output does. */
static const char workload[] =
    "echo W-\"\"S0; seq 1 500000 > /tmp/t; echo W-\"\"S1; "
    "seq 1 300000 | awk '{ s += $1 } END { printf \"SUM=%.0f\\n\", s }'; echo W-\"\"S2; "
    "sha256sum /tmp/t; echo W-\"\"S3; "
    "gzip -6 -c /tmp/t | wc -c; echo W-\"\"S4\n";

typedef struct {
    double step[STEPS];   /* wall, ns */
    double wall, cpu;     /* the whole workload */
    char sum[32], hash[72];
    long gz_size;
} Workload;

/* The host's answers: the sum of 1..SUM_N and the SHA-256 of seq 1 SEQ_TEXT_N. */
static int host_expected(char *hash, size_t hash_size, char *sum, size_t sum_size)
{
    snprintf(sum, sum_size, "%llu", (unsigned long long)SUM_N * (SUM_N + 1) / 2);
    FILE *p = popen("seq 1 500000 | sha256sum", "r");
    if (!p) return -1;
    char line[128] = "";
    bool ok = fgets(line, sizeof line, p) != NULL;
    if (pclose(p) != 0 || !ok) return -1;
    line[strcspn(line, " \n")] = '\0';
    snprintf(hash, hash_size, "%s", line);
    return strlen(hash) == 64 ? 0 : -1;
}

/* The first word of the line of `text` that starts with a hex digit run of 64 (the
 * hash), the SUM= value and the lone number (the gzip size) from the step outputs. */
static void parse_results(Workload *w, const char *sum_out, const char *sha_out,
                          const char *gz_out)
{
    const char *s = strstr(sum_out, "SUM=");
    if (s) sscanf(s + 4, "%31[0-9]", w->sum);
    for (const char *p = sha_out; *p; p++) {
        if (strspn(p, "0123456789abcdef") == 64) {
            memcpy(w->hash, p, 64);
            w->hash[64] = '\0';
            break;
        }
    }
    w->gz_size = -1;
    for (const char *p = gz_out; *p; p++) {
        if (*p >= '0' && *p <= '9' && (p == gz_out || p[-1] == '\n' || p[-1] == '\r')) {
            w->gz_size = strtol(p, NULL, 10);
            break;
        }
    }
}

static int run_workload(char *const argv[], Workload *w, char *why, size_t why_size)
{
    BenchGuest g;
    memset(w, 0, sizeof *w);
    if (bench_guest_start(&g, argv, why, why_size) != 0) return -1;
    char out[STEPS + 1][4096];
    int r = -1;
    const char *failed_at = PROMPT;
    if (bench_guest_wait(&g, PROMPT, BOOT_TIMEOUT_NS) != 0) goto fail;
    bench_guest_send(&g, workload);
    double marks[STEPS + 1], cpu0 = 0;
    for (int i = 0; i <= STEPS; i++) {
        char mark[16];
        snprintf(mark, sizeof mark, "W-S%d", i);
        failed_at = "a workload marker";
        if (bench_guest_wait_text(&g, mark, STEP_TIMEOUT_NS, out[i], sizeof out[i]) != 0)
            goto fail;
        marks[i] = (double)bench_now_ns();
        if (i == 0) cpu0 = bench_guest_cpu_ns(&g);
    }
    double cpu1 = bench_guest_cpu_ns(&g);
    for (int i = 0; i < STEPS; i++) w->step[i] = marks[i + 1] - marks[i];
    w->wall = marks[STEPS] - marks[0];
    w->cpu = cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1;
    /* out[i] holds what came before marker i: step i's output is in out[i + 1] */
    parse_results(w, out[2], out[3], out[4]);
    r = 0;
fail:
    bench_guest_stop(&g);
    if (r != 0) bench_guest_why(&g, argv[0], failed_at, why, why_size);
    return r;
}

static void print_skipped(const char *why)
{
    printf("%-40s skipped: %s\n", "busybox workload", why);
}

/* A result that differs from the host's answer (or, for gzip, from the other side's). */
static bool check_results(const char *side, const Workload *w, const char *sum,
                          const char *hash)
{
    bool ok = strcmp(w->sum, sum) == 0 && strcmp(w->hash, hash) == 0 && w->gz_size > 0;
    if (!ok)
        fprintf(stderr, "linux_busybox: %s computed sum \"%s\" (expected %s), sha256 \"%s\" "
                "(expected %s), gzip size %ld\n", side, w->sum, sum, w->hash, hash, w->gz_size);
    return ok;
}

int main(int argc, char **argv)
{
    const char *build = argc > 1 ? argv[1] : "build";
    char svm[PATH_MAX];
    snprintf(svm, sizeof svm, "%s/scratchvm", build);
    int reps = bench_linux_reps("BENCH_LINUX_REPS");

    bench_print_header_named("Linux user space: a busybox workload after the boot (wall per "
                             "step, CPU over all)", "sim", "QEMU TCG");
    char why[2 * PATH_MAX + 256], qwhy[512] = "";
    char sum[32], hash[72];
    if (host_expected(hash, sizeof hash, sum, sizeof sum) != 0) {
        print_skipped("the host's seq and sha256sum could not compute the expected results");
        return 0;
    }
    BenchLinux l;
    if (bench_linux_prepare(&l, why, sizeof why) != 0) {
        print_skipped(why);
        return 0;
    }
    char *sim_argv[] = { svm, "run", "--accel", "sim", "-m", "256", "-kernel", l.kernel,
                         "-initrd", l.initrd, "-append", "console=ttyS0", NULL };
    char *qemu_argv[] = { "qemu-system-i386", "-accel", "tcg", "-m", "256", "-display", "none",
                          "-serial", "stdio", "-monitor", "none", "-no-reboot", "-kernel",
                          l.kernel, "-initrd", l.initrd, "-append", "console=ttyS0", NULL };
    double sv[STEPS + 2][BENCH_MAX_REPS], qv[STEPS + 2][BENCH_MAX_REPS];
    int ns = 0, nq = 0, status = 0;
    long gz_sim = -1, gz_qemu = -1;
    bool qemu_ok = true;
    for (int r = 0; r < reps; r++) {
        for (int side = 0; side < 2; side++) {
            bool sim = (side == 0) == (r % 2 == 0);
            Workload w;
            if (sim) {
                if (run_workload(sim_argv, &w, why, sizeof why) != 0) {
                    fprintf(stderr, "linux_busybox: sim: %s\n", why);
                    status = 1;
                    goto out;
                }
                if (!check_results("sim", &w, sum, hash)) {
                    status = 1;
                    goto out;
                }
                gz_sim = w.gz_size;
                for (int i = 0; i < STEPS; i++) sv[i][ns] = w.step[i];
                sv[STEPS][ns] = w.wall;
                sv[STEPS + 1][ns++] = w.cpu;
            } else if (qemu_ok) {
                if (run_workload(qemu_argv, &w, qwhy, sizeof qwhy) != 0 ||
                    !check_results("QEMU", &w, sum, hash)) {
                    qemu_ok = false;
                    if (!*qwhy) snprintf(qwhy, sizeof qwhy, "its results were wrong");
                    continue;
                }
                gz_qemu = w.gz_size;
                for (int i = 0; i < STEPS; i++) qv[i][nq] = w.step[i];
                qv[STEPS][nq] = w.wall;
                qv[STEPS + 1][nq++] = w.cpu;
            }
        }
    }
    if (qemu_ok && gz_sim != gz_qemu) {
        fprintf(stderr, "linux_busybox: gzip -6 made %ld bytes on sim, %ld on QEMU\n", gz_sim,
                gz_qemu);
        status = 1;
    }
    for (int i = 0; i < STEPS + 2; i++) {
        BenchRow row = { .figure = i < STEPS ? step_names[i]
                                   : i == STEPS ? "whole workload, wall time"
                                   : "whole workload, CPU time" };
        row.lib = bench_stat(sv[i], ns, false);
        if (qemu_ok) row.floor = bench_stat(qv[i], nq, false);
        bench_print_row(&row);
    }
    printf("(%d runs each; ratio = sim / QEMU: > 1.0 means sim is slower; results checked: "
           "sum %s, sha256 %.12s..., gzip %ld bytes)\n", ns, sum, hash, gz_sim);
    if (!qemu_ok) printf("QEMU skipped: %s\n", qwhy);
out:
    bench_linux_cleanup(&l);
    return status;
}
