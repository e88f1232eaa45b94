/*
 * Shared by the benchmark programs: a monotonic clock, repetitions sized by time (never by
 * this machine's speed), median/min, and one table format for every benchmark.
 *
 * A figure is measured as `reps` repetitions; each repetition runs enough iterations to
 * last about `target_ns` (found by a short calibration), and yields one value per
 * iteration. The table shows the median of the repetitions and, in brackets, the best one
 * (min for times, max for rates).
 */
#ifndef SCRATCHVM_BENCH_UTIL_H
#define SCRATCHVM_BENCH_UTIL_H

#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define BENCH_MAX_REPS 31

static inline uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct {
    double median, best;   /* best: min for times, max for rates */
    int reps;
} BenchStat;

/* Median and best of v[0..n). */
static inline BenchStat bench_stat(const double *v, int n, bool higher_is_better)
{
    double s[BENCH_MAX_REPS];
    BenchStat st = {0, 0, n};
    if (n <= 0 || n > BENCH_MAX_REPS)
        return st;
    memcpy(s, v, (size_t)n * sizeof(*s));
    qsort(s, (size_t)n, sizeof(*s), bench_cmp_double);
    st.median = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    st.best = higher_is_better ? s[n - 1] : s[0];
    return st;
}

/* Repetitions per figure; BENCH_REPS in the environment overrides (3..31). */
static inline int bench_reps(void)
{
    const char *e = getenv("BENCH_REPS");
    int n = e ? atoi(e) : 7;
    return n < 3 ? 3 : n > BENCH_MAX_REPS ? BENCH_MAX_REPS : n;
}

/* Time per repetition in ns; BENCH_TARGET_MS in the environment overrides. */
static inline uint64_t bench_target_ns(void)
{
    const char *e = getenv("BENCH_TARGET_MS");
    long ms = e ? atol(e) : 150;
    return (uint64_t)(ms < 10 ? 10 : ms) * 1000000u;
}

/* How many iterations of something that took `elapsed_ns` for `done` iterations fill
 * `target_ns` (at least 1). */
static inline uint64_t bench_scale(uint64_t done, uint64_t elapsed_ns, uint64_t target_ns)
{
    if (elapsed_ns == 0)
        elapsed_ns = 1;
    double n = (double)done * (double)target_ns / (double)elapsed_ns;
    return n < 1 ? 1 : (uint64_t)n;
}

/* Formats a duration in ns with a unit that keeps 3-4 significant digits. */
static inline const char *bench_fmt_time(char *buf, size_t size, double ns)
{
    if (ns < 1e3)
        snprintf(buf, size, "%.0f ns", ns);
    else if (ns < 1e6)
        snprintf(buf, size, "%.1f us", ns / 1e3);
    else if (ns < 1e9)
        snprintf(buf, size, "%.2f ms", ns / 1e6);
    else
        snprintf(buf, size, "%.2f s", ns / 1e9);
    return buf;
}

static inline const char *bench_fmt_rate(char *buf, size_t size, double per_s)
{
    if (per_s >= 1e6)
        snprintf(buf, size, "%.2f M/s", per_s / 1e6);
    else if (per_s >= 1e3)
        snprintf(buf, size, "%.1f k/s", per_s / 1e3);
    else
        snprintf(buf, size, "%.0f /s", per_s);
    return buf;
}

/* One row: a figure for the library beside its floor. For times the ratio is library /
 * floor, for rates floor / library, so > 1.0 always means slower than the floor.
 * target <= 0: no target, the row is for information. */
typedef struct {
    const char *figure;
    bool is_rate;          /* values are per second, else ns */
    BenchStat lib, floor;  /* floor.reps == 0: no floor here (skipped), no ratio */
    double target;         /* the ratio must be <= target */
    double min_rate;       /* > 0 (rates only): the library's median must be >= this,
                            * per second; shown instead of `target` */
} BenchRow;

/* The title, then the host's CPU count and load: other work on the machine moves every
 * figure, and the reader should see how busy it was. */
static inline void bench_print_title(const char *title)
{
    char load[64] = "?";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (!fgets(load, sizeof(load), f))
            snprintf(load, sizeof(load), "?");
        fclose(f);
        load[strcspn(load, "\n")] = '\0';
    }
    printf("\n%s\n", title);
    printf("host: %ld CPUs online, /proc/loadavg %s\n", sysconf(_SC_NPROCESSORS_ONLN), load);
}

/* fork() for running another program quietly: the child's stdin and stdout (and stderr
 * too when `quiet_stderr`) go to /dev/null. Returns as fork() does. */
static inline pid_t bench_fork_quiet(bool quiet_stderr)
{
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, STDIN_FILENO);
            dup2(null, STDOUT_FILENO);
            if (quiet_stderr)
                dup2(null, STDERR_FILENO);
        }
    }
    return pid;
}

/* The title and host line, then the column heads of library-beside-floor rows. */
static inline void bench_print_header_named(const char *title, const char *lib_name,
                                            const char *floor_name)
{
    bench_print_title(title);
    char lib_col[48], floor_col[48];
    snprintf(lib_col, sizeof(lib_col), "%s median (best)", lib_name);
    snprintf(floor_col, sizeof(floor_col), "%s median (best)", floor_name);
    printf("%-40s %-26s %-26s %7s  %s\n", "figure", lib_col, floor_col, "ratio", "target");
}

/* The usual header: the library beside its floor. */
static inline void bench_print_header(const char *title)
{
    bench_print_header_named(title, "library", "floor");
}

static inline void bench_print_row(const BenchRow *row)
{
    char a[32], b[32], lib[64], flo[64], target[48];
    const char *(*fmt)(char *, size_t, double) = row->is_rate ? bench_fmt_rate : bench_fmt_time;
    snprintf(lib, sizeof(lib), "%s (%s)", fmt(a, sizeof(a), row->lib.median),
             fmt(b, sizeof(b), row->lib.best));
    bool has_floor = row->floor.reps > 0;
    char ratio_s[16] = "-";
    double ratio = 0;
    if (has_floor) {
        snprintf(flo, sizeof(flo), "%s (%s)", fmt(a, sizeof(a), row->floor.median),
                 fmt(b, sizeof(b), row->floor.best));
        ratio = row->is_rate ? row->floor.median / row->lib.median
                             : row->lib.median / row->floor.median;
        /* two significant digits when the library is far faster than its floor */
        snprintf(ratio_s, sizeof(ratio_s), ratio < 0.1 ? "%#.2gx" : "%.2fx", ratio);
    } else {
        snprintf(flo, sizeof(flo), "skipped");
    }
    if (row->is_rate && row->min_rate > 0)
        snprintf(target, sizeof(target), ">= %s %s", fmt(a, sizeof(a), row->min_rate),
                 row->lib.median >= row->min_rate ? "PASS" : "MISS");
    else if (row->target > 0 && has_floor)
        snprintf(target, sizeof(target), "<= %.1fx %s", row->target,
                 ratio <= row->target ? "PASS" : "MISS");
    else if (row->target > 0)
        snprintf(target, sizeof(target), "<= %.1fx (no floor)", row->target);
    else
        snprintf(target, sizeof(target), "(none)");
    printf("%-40s %-26s %-26s %7s  %s\n", row->figure, lib, flo, ratio_s, target);
}

#endif
