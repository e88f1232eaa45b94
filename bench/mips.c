/*
 * Guest MIPS: million guest instructions per second on the sim backend (the x86
 * interpreter under the simulated VT-x, through SimpleVM) beside QEMU's TCG
 * (`qemu-system-i386 -accel tcg`), on identical guest bytes: the guests of bench/guests/
 * (built to GUEST_DIR/bench/NAME.bin), each in real mode and in 32-bit protected mode:
 * ALU, memory (loads/stores and REP MOVS/STOS), branchy (Jcc both ways, CALL/RET) and,
 * protected mode only, page tables (paging on: stores to 512 pages, CR3 reloads, INVLPG).
 *
 * Instructions are counted from the guest's structure (prologue + N x per_iteration +
 * epilogue, a REP instruction as one, as the interpreter's instructions_retired and
 * Intel's INST_RETIRED count it). Before timing, a check runs each guest on the bare
 * interpreter (x86_cpu_run, no KVM API), whose instructions_retired must equal that
 * count, and on the sim backend, whose registers at the HLT must be the bare
 * interpreter's; QEMU's run of the same guest must end with the same AL (its exit status).
 *
 * The sim figures time one vm_run from 0000:0000 to the HLT (no other exit). QEMU's
 * startup (process, SeaBIOS, boot) is far longer than a guest run, so its figure is a
 * difference: the guest with 2N iterations minus the guest with N, both whole processes,
 * = the time of N iterations alone (README.md). Wall and CPU time (the process's
 * user + system, all threads) are both shown.
 *
 * Usage: mips [BUILD_DIR [GUEST_DIR]]   (the arguments of bench/run.sh)
 *        mips --repeat GUEST N [GUEST_DIR]: one untimed sim run of N iterations (for perf)
 * Prints a table; exits 0 unless something broke. The QEMU column is skipped, with the
 * reason, when qemu-system-i386 cannot run here.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hypervisor_sim.h"
#include "sim/cpu/cpu.h"

#include "bench_util.h"

#define GUEST_RAM (4u << 20)         /* the page-table guest touches 1-3 MiB */
#define CHECK_ITERATIONS 50
#define MAX_ITERATIONS 0x7FFFFFFFull /* 2N must fit the guests' 32-bit counters */
#define COUNT_OFFSET 2               /* bench.inc: the imm32 count after a short JMP */
#define MAX_GUEST 480                /* fits a boot sector with the QEMU stub */
#define QEMU "qemu-system-i386"
#define QEMU_MAX_REPS 5

typedef struct {
    const char *name;            /* GUEST_DIR/bench/<name>.bin */
    const char *figure;
    uint64_t prologue, per_iteration, epilogue;   /* instructions; epilogue has the HLT */
    double target_mips;          /* > 0: the sim median must reach it */
    bool target_qemu;            /* the sim median must reach QEMU's median */
} MipsGuest;

/* Counts from the listings in bench/guests/ (the check verifies them). */
static const MipsGuest guests[] = {
    {"r_alu", "real: ALU 16/32-bit", 8, 11, 1, 600, false},
    {"r_mem", "real: ld/st + REP MOVSD/W/B", 8, 3 + 5120 + 12, 1, 0, true},
    {"r_branch", "real: Jcc + CALL/RET", 8, 24, 2, 400, false},
    {"p_alu", "pm32: ALU", 21, 11, 1, 600, false},
    {"p_mem", "pm32: ld/st + REP MOVSD/STOSD", 18, 3 + 5120 + 12, 1, 0, true},
    {"p_branch", "pm32: Jcc + CALL/RET", 18, 24, 2, 400, false},
    {"p_paging", "pm32: paging, 512 pages, CR3", 7193, 2376, 1, 0, false},
};
#define NG (sizeof(guests) / sizeof(guests[0]))

typedef struct {
    uint8_t code[MAX_GUEST];
    size_t size;
} GuestImage;

static uint64_t count_insns(const MipsGuest *g, uint64_t n)
{
    return g->prologue + n * g->per_iteration + g->epilogue;
}

static double cpu_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int load_image(const char *dir, const MipsGuest *g, GuestImage *img)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/bench/%s.bin", dir, g->name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "mips: %s: %s\n", path, strerror(errno));
        return -ENOENT;
    }
    img->size = fread(img->code, 1, sizeof(img->code), f);
    int big = fgetc(f) != EOF;
    fclose(f);
    if (big || img->size < 8 || img->code[0] != 0xEB || img->code[img->size - 1] != 0xF4) {
        fprintf(stderr, "mips: %s: not a bench guest (bench/guests/bench.inc)\n", path);
        return -ENOEXEC;
    }
    return 0;
}

static void patch_count(uint8_t *code, uint32_t n)
{
    for (int i = 0; i < 4; i++)
        code[COUNT_OFFSET + i] = (uint8_t)(n >> (8 * i));
}

/* ---------------------------------------------------------------------------------- */
/* The sim backend (SimpleVM) and the bare interpreter                                 */
/* ---------------------------------------------------------------------------------- */

typedef struct {
    SimpleVM *svm;
    KvmRegs regs0;
    KvmSregs sregs0;              /* the state after creation: real mode at 0000:0000 */
} SimSide;

static int side_open(SimSide *s, HvBackend backend)
{
    s->svm = vm_create_bytes(GUEST_RAM, backend);
    if (!s->svm)
        return -EIO;
    s->svm->serial->output_fd = -1;
    s->svm->debug_exit->console_fd = -1;
    s->svm->vcpu->sregs.cs.selector = 0;
    s->svm->vcpu->sregs.cs.base = 0;
    s->svm->vcpu->regs.rip = 0;
    s->regs0 = s->svm->vcpu->regs;
    s->sregs0 = s->svm->vcpu->sregs;
    return 0;
}
static int sim_open(SimSide *s) { return side_open(s, HV_BACKEND_SIM); }

/* The KVM backend beside it: usable[g] when guest g reached its HLT on KVM with the
 * interpreter's registers; else why[g] says what happened (a nested KVM may not run
 * every guest, e.g. paging). */
typedef struct {
    SimSide side;
    bool open;
    char why_not[160];           /* when !open */
    bool usable[NG];
    char why[NG][96];
} KvmSide;

static void kvm_side_open(KvmSide *k)
{
    if (access("/dev/kvm", R_OK | W_OK) != 0) {
        snprintf(k->why_not, sizeof(k->why_not), "/dev/kvm: %s", strerror(errno));
        return;
    }
    int err = side_open(&k->side, HV_BACKEND_KVM);
    if (err < 0) {
        snprintf(k->why_not, sizeof(k->why_not), "cannot create a KVM VM: %s",
                 hv_last_error()[0] ? hv_last_error() : strerror(-err));
        return;
    }
    k->open = true;
}

/* Runs `img` for n iterations to its HLT: wall and CPU ns; regs at the HLT when asked. */
static int sim_run(SimSide *s, const GuestImage *img, uint32_t n, double *wall, double *cpu,
                   KvmRegs *out)
{
    uint8_t code[MAX_GUEST];
    memcpy(code, img->code, img->size);
    patch_count(code, n);
    SimpleVM *svm = s->svm;
    int err = vm_load_code(svm, code, img->size, 0);
    if (err < 0)
        return err;
    svm->vcpu->regs = s->regs0;
    svm->vcpu->sregs = s->sregs0;
    uint64_t before = svm->exit_count;
    double c0 = cpu_now_ns();
    uint64_t t0 = bench_now_ns();
    err = vm_run(svm);
    *wall = (double)(bench_now_ns() - t0);
    *cpu = cpu_now_ns() - c0;
    if (err < 0)
        return err;
    if (svm->stop_reason != VM_STOP_HLT || svm->exit_count - before != 1)
        return -EBADMSG;
    if (out)
        *out = svm->vcpu->regs;
    return 0;
}

static uint8_t *bare_page(void *opaque, uint64_t gpa_page, unsigned access)
{
    (void)access;
    return gpa_page < GUEST_RAM ? (uint8_t *)opaque + gpa_page : NULL;
}

typedef struct {
    X86Cpu *cpu;
    uint8_t *ram;
} BareSide;

static int bare_open(BareSide *b)
{
    b->ram = calloc(1, GUEST_RAM);
    if (!b->ram)
        return -ENOMEM;
    b->cpu = x86_cpu_create(bare_page, b->ram);
    if (!b->cpu) {
        free(b->ram);
        b->ram = NULL;
        return -ENOMEM;
    }
    return 0;
}

static void bare_close(BareSide *b)
{
    if (b->cpu)
        x86_cpu_destroy(b->cpu);
    free(b->ram);
    *b = (BareSide){0};
}

static int bare_run(BareSide *b, const GuestImage *img, uint32_t n, double *wall,
                    uint64_t *retired, uint64_t gpr[8])
{
    X86Cpu *cpu = b->cpu;
    memcpy(b->ram, img->code, img->size);
    patch_count(b->ram, n);
    x86_cpu_reset(cpu);
    x86_cpu_invalidate_code(cpu, 0, img->size);
    for (int i = 0; i < 6; i++)
        x86_cpu_load_real_segment(cpu, i, 0);
    cpu->rip = 0;
    uint64_t before = cpu->instructions_retired, t0 = bench_now_ns();
    X86Exit e = x86_cpu_run(cpu, 0);
    *wall = (double)(bench_now_ns() - t0);
    if (e != X86_EXIT_HLT)
        return -EBADMSG;
    if (retired)
        *retired = cpu->instructions_retired - before;
    if (gpr)
        memcpy(gpr, cpu->gpr, 8 * sizeof(uint64_t));
    return 0;
}

/* ---------------------------------------------------------------------------------- */
/* QEMU TCG                                                                             */
/* ---------------------------------------------------------------------------------- */

/* The boot sector QEMU runs: SeaBIOS loads it at 0000:7C00; this stub copies the guest
 * to guest-physical 0 and jumps to 0000:0000, the sim backend's start, with interrupts
 * off (the guests use no IVT). The guest's last byte, its HLT, becomes OUT %AL, $0xF4:
 * isa-debug-exit ends QEMU with status (AL << 1) | 1, the one instruction that differs.
 *     FA            cli
 *     FC            cld
 *     31 C0         xor   %ax, %ax
 *     8E D8         mov   %ax, %ds
 *     8E C0         mov   %ax, %es
 *     8E D0         mov   %ax, %ss
 *     BC 00 7C      mov   $0x7c00, %sp
 *     BE ll hh      mov   $0x7c00 + STUB_LEN, %si
 *     31 FF         xor   %di, %di
 *     B9 ll hh      mov   $size, %cx
 *     F3 A4         rep movsb
 *     EA 00 00 00 00  ljmp $0, $0
 */
#define STUB_LEN 28
static void qemu_boot_sector(const GuestImage *img, uint32_t n, uint8_t out[512])
{
    size_t size = img->size + 1;   /* the HLT (1 byte) becomes OUT imm8 (2 bytes) */
    const uint8_t stub[STUB_LEN] = {
        0xFA, 0xFC, 0x31, 0xC0, 0x8E, 0xD8, 0x8E, 0xC0, 0x8E, 0xD0, 0xBC, 0x00, 0x7C,
        0xBE, (uint8_t)(0x7C00 + STUB_LEN), (uint8_t)((0x7C00 + STUB_LEN) >> 8),
        0x31, 0xFF, 0xB9, (uint8_t)size, (uint8_t)(size >> 8), 0xF3, 0xA4,
        0xEA, 0x00, 0x00, 0x00, 0x00,
    };
    memset(out, 0, 512);
    memcpy(out, stub, STUB_LEN);
    memcpy(out + STUB_LEN, img->code, img->size);
    patch_count(out + STUB_LEN, n);
    out[STUB_LEN + img->size - 1] = 0xE6;   /* out %al, $0xf4 */
    out[STUB_LEN + img->size] = 0xF4;
    out[510] = 0x55;
    out[511] = 0xAA;
}

typedef struct {
    char dir[64];
    char path[96];
    bool usable;
    char why[160];
} Qemu;

/* Runs QEMU on the boot sector of `img` with n iterations: wall and CPU ns of the whole
 * process, and its exit status. */
static int qemu_run(Qemu *q, const GuestImage *img, uint32_t n, double *wall, double *cpu,
                    int *status)
{
    uint8_t sector[512];
    qemu_boot_sector(img, n, sector);
    int fd = open(q->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return -errno;
    bool ok = write(fd, sector, sizeof(sector)) == (ssize_t)sizeof(sector);
    close(fd);
    if (!ok)
        return -EIO;
    char drive[160];
    snprintf(drive, sizeof(drive), "file=%s,format=raw,if=floppy", q->path);
    uint64_t t0 = bench_now_ns();
    pid_t pid = bench_fork_quiet(true);
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        execlp(QEMU, QEMU, "-accel", "tcg", "-display", "none", "-nodefaults", "-no-reboot",
               "-m", "16", "-device", "isa-debug-exit,iobase=0xf4,iosize=4", "-drive", drive,
               (char *)NULL);
        _exit(127);
    }
    int st;
    struct rusage ru;
    /* a guest that never exits would hang the benchmark: 60 s is far past any run here */
    for (int waited = 0;; waited++) {
        pid_t r = wait4(pid, &st, WNOHANG, &ru);
        if (r == pid)
            break;
        if (r < 0)
            return -errno;
        if (waited > 60000) {
            kill(pid, SIGKILL);
            wait4(pid, &st, 0, &ru);
            return -ETIMEDOUT;
        }
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    *wall = (double)(bench_now_ns() - t0);
    *cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e9 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e3;
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return 0;
}

static void qemu_open(Qemu *q)
{
    *q = (Qemu){0};
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(q->dir, sizeof(q->dir), "%.40s/mips-XXXXXX", tmp);
    if (!mkdtemp(q->dir)) {
        snprintf(q->why, sizeof(q->why), "no temporary directory: %s", strerror(errno));
        return;
    }
    snprintf(q->path, sizeof(q->path), "%s/guest.img", q->dir);
    /* a guest whose HLT is at once the OUT: QEMU must exit with (AL << 1) | 1 */
    GuestImage probe = {.code = {0xEB, 0x04, 0, 0, 0, 0, 0xB0, 0x2A, 0xF4}, .size = 9};
    double wall, cpu;
    int status;
    int err = qemu_run(q, &probe, 0, &wall, &cpu, &status);
    if (err < 0)
        snprintf(q->why, sizeof(q->why), "%s: %s", QEMU, strerror(-err));
    else if (status == 127)
        snprintf(q->why, sizeof(q->why), "%s not found in PATH", QEMU);
    else if (status != ((0x2A << 1) | 1))
        snprintf(q->why, sizeof(q->why), "%s -accel tcg did not run a boot sector "
                 "(exit status %d)", QEMU, status);
    else
        q->usable = true;
}

static void qemu_close(Qemu *q)
{
    if (q->path[0])
        unlink(q->path);
    if (q->dir[0])
        rmdir(q->dir);
}

/* ---------------------------------------------------------------------------------- */

static int check_guest(const MipsGuest *g, const GuestImage *img, Qemu *q)
{
    SimSide s = {0};
    BareSide b = {0};
    uint64_t retired, gpr[8];
    KvmRegs r;
    double wall, cpu;
    int err;
    if ((err = bare_open(&b)) < 0 || (err = sim_open(&s)) < 0)
        goto out;
    if ((err = bare_run(&b, img, CHECK_ITERATIONS, &wall, &retired, gpr)) < 0) {
        fprintf(stderr, "mips: check: %s: the bare interpreter did not reach the HLT\n",
                g->name);
        goto out;
    }
    if (retired != count_insns(g, CHECK_ITERATIONS)) {
        fprintf(stderr, "mips: check: %s: the interpreter retired %llu instructions, the "
                "count says %llu\n", g->name, (unsigned long long)retired,
                (unsigned long long)count_insns(g, CHECK_ITERATIONS));
        err = -EBADMSG;
        goto out;
    }
    if ((err = sim_run(&s, img, CHECK_ITERATIONS, &wall, &cpu, &r)) < 0) {
        fprintf(stderr, "mips: check: %s: the sim backend did not reach the HLT alone\n",
                g->name);
        goto out;
    }
    const uint64_t sim_gpr[8] = {r.rax, r.rcx, r.rdx, r.rbx, r.rsp, r.rbp, r.rsi, r.rdi};
    for (int i = 0; i < 8; i++)
        if ((uint32_t)sim_gpr[i] != (uint32_t)gpr[i]) {
            fprintf(stderr, "mips: check: %s: register %d at the HLT: sim %llx, bare %llx\n",
                    g->name, i, (unsigned long long)sim_gpr[i], (unsigned long long)gpr[i]);
            err = -EBADMSG;
            goto out;
        }
    if (q->usable) {
        int status;
        if ((err = qemu_run(q, img, CHECK_ITERATIONS, &wall, &cpu, &status)) < 0)
            goto out;
        int want = (int)((((uint32_t)gpr[0] & 0xFF) << 1) | 1) & 0xFF;
        if (status != want) {
            fprintf(stderr, "mips: check: %s: QEMU exited with %d, the interpreter's AL "
                    "says %d\n", g->name, status, want);
            err = -EBADMSG;
        }
    }
out:
    vm_destroy(s.svm);
    bare_close(&b);
    return err;
}

static void quiet_log(HvLogLevel level, const char *message, void *opaque)
{
    (void)level, (void)message, (void)opaque;
}

/* Guest g on KVM: it must stop at its HLT alone with the sim backend's registers. */
static void kvm_check(KvmSide *k, SimSide *sim, size_t g, const GuestImage *img)
{
    KvmRegs want, got;
    double wall, cpu;
    int err = sim_run(sim, img, CHECK_ITERATIONS, &wall, &cpu, &want);
    if (err >= 0) {
        hv_set_log_handler(quiet_log, NULL);   /* a failure is reported in the table */
        err = sim_run(&k->side, img, CHECK_ITERATIONS, &wall, &cpu, &got);
        hv_set_log_handler(NULL, NULL);
    }
    if (err == -EBADMSG) {
        VmStopReason why = k->side.svm->stop_reason;
        snprintf(k->why[g], sizeof(k->why[g]), "%s at %04llx:%08llx",
                 why == VM_STOP_SHUTDOWN ? "triple fault"
                 : why == VM_STOP_INTERNAL_ERROR ? "KVM internal error"
                 : why == VM_STOP_FAIL_ENTRY ? "VM entry failed"
                 : why == VM_STOP_HLT ? "exits before the HLT" : "stopped early",
                 (unsigned long long)k->side.svm->vcpu->sregs.cs.selector,
                 (unsigned long long)k->side.svm->vcpu->regs.rip);
        return;
    }
    if (err < 0) {
        snprintf(k->why[g], sizeof(k->why[g]), "%s",
                 hv_last_error()[0] ? hv_last_error() : strerror(-err));
        return;
    }
    const uint64_t a[9] = {want.rax, want.rcx, want.rdx, want.rbx, want.rsp, want.rbp,
                           want.rsi, want.rdi, want.rip};
    const uint64_t b[9] = {got.rax, got.rcx, got.rdx, got.rbx, got.rsp, got.rbp,
                           got.rsi, got.rdi, got.rip};
    if (memcmp(a, b, sizeof(a)) != 0) {
        snprintf(k->why[g], sizeof(k->why[g]), "registers at the HLT differ from sim's");
        return;
    }
    k->usable[g] = true;
}

/* Iterations of `g` that make one sim run last about `target` ns. */
static int calibrate_sim(SimSide *s, const GuestImage *img, uint64_t target, uint32_t *iters)
{
    uint64_t n = 1;
    double wall, cpu;
    for (;;) {
        int err = sim_run(s, img, (uint32_t)n, &wall, &cpu, NULL);
        if (err < 0)
            return err;
        if (wall >= (double)target / 8 || n >= MAX_ITERATIONS) {
            uint64_t want = bench_scale(n, (uint64_t)wall, target);
            *iters = (uint32_t)(want > MAX_ITERATIONS ? MAX_ITERATIONS : want);
            return 0;
        }
        n = n * 2 > MAX_ITERATIONS ? MAX_ITERATIONS : n * 2;
    }
}

/* QEMU: N such that 2N iterations take about `target` ns more than N. Starts from
 * `start` (the sim's N) times 8 and grows until the difference is at least target / 2,
 * so that startup noise cannot shrink N much below a well-measured one. */
static int calibrate_qemu(Qemu *q, const GuestImage *img, uint32_t start, uint64_t target,
                          uint32_t *iters)
{
    uint64_t n = start ? (uint64_t)start * 8 : 8;
    double w1, w2, cpu;
    int st;
    for (int tries = 0;; tries++) {
        if (n > MAX_ITERATIONS / 2)
            n = MAX_ITERATIONS / 2;
        int err;
        if ((err = qemu_run(q, img, (uint32_t)n, &w1, &cpu, &st)) < 0 ||
            (err = qemu_run(q, img, (uint32_t)(2 * n), &w2, &cpu, &st)) < 0)
            return err;
        double d = w2 - w1;
        if (d >= (double)target / 2 || tries == 3 || n == MAX_ITERATIONS / 2) {
            uint64_t want = d > 0 ? bench_scale(n, (uint64_t)d, target) : n;
            if (want < n / 2)
                want = n / 2;
            *iters = (uint32_t)(want > MAX_ITERATIONS / 2 ? MAX_ITERATIONS / 2 : want);
            return 0;
        }
        n *= d > 0 && d < (double)target / 16 ? 8 : 3;
    }
}

/* QEMU's best: the fastest 2N process less the fastest N one. (The best of the
 * differences would take a slow N run's noise for speed.) 0 when that is not positive. */
static double qemu_best(double insns, const double *t1, const double *t2, int n)
{
    BenchStat b1 = bench_stat(t1, n, false), b2 = bench_stat(t2, n, false);
    return b2.best > b1.best ? insns / (b2.best - b1.best) : 0;
}

static const char *fmt_mips(char *buf, size_t size, BenchStat st)
{
    /* (one decimal below 10 MIPS, where a nested KVM's figures lie) */
    if (st.median < 10e6)
        snprintf(buf, size, "%.1f (%.1f)", st.median / 1e6, st.best / 1e6);
    else
        snprintf(buf, size, "%.0f (%.0f)", st.median / 1e6, st.best / 1e6);
    return buf;
}

/* mips --repeat GUEST N [GUEST_DIR]: one sim run, for `perf stat` and profilers. */
static int repeat(int argc, char **argv)
{
    const char *dir = argc > 4 ? argv[4] : "build/guests";
    for (size_t g = 0; g < NG; g++) {
        if (strcmp(guests[g].name, argv[2]) != 0)
            continue;
        GuestImage img;
        SimSide s = {0};
        double wall, cpu;
        int err;
        if (load_image(dir, &guests[g], &img) < 0 || (err = sim_open(&s)) < 0)
            return 1;
        err = sim_run(&s, &img, (uint32_t)strtoul(argv[3], NULL, 0), &wall, &cpu, NULL);
        vm_destroy(s.svm);
        if (err < 0) {
            fprintf(stderr, "mips: %s: %s\n", argv[2], strerror(-err));
            return 1;
        }
        printf("%s: %llu instructions in %.1f ms (%.1f MIPS)\n", argv[2],
               (unsigned long long)count_insns(&guests[g], strtoul(argv[3], NULL, 0)),
               wall / 1e6, (double)count_insns(&guests[g], strtoul(argv[3], NULL, 0)) * 1e3 /
               wall);
        return 0;
    }
    fprintf(stderr, "mips: no guest %s\n", argv[2]);
    return 2;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 4 && strcmp(argv[1], "--repeat") == 0)
        return repeat(argc, argv);
    const char *guest_dir = argc > 2 ? argv[2] : "build/guests";
    uint64_t target = bench_target_ns();
    int reps = bench_reps(), qreps = reps < QEMU_MAX_REPS ? reps : QEMU_MAX_REPS;
    static GuestImage img[NG];
    static double sim_w[NG][BENCH_MAX_REPS], sim_c[NG][BENCH_MAX_REPS];
    static double bare_w[NG][BENCH_MAX_REPS];
    static double q_w[NG][BENCH_MAX_REPS], q_c[NG][BENCH_MAX_REPS];
    /* QEMU's process times (ns) of N and 2N iterations, for its best figure */
    static double q_t[NG][4][BENCH_MAX_REPS];
    static double k_w[NG][BENCH_MAX_REPS], k_c[NG][BENCH_MAX_REPS];
    uint32_t n_sim[NG], n_bare[NG], n_q[NG], n_k[NG];
    static KvmSide kvm;
    SimSide sim = {0};
    BareSide bare = {0};
    Qemu q;
    int err, status = 1;

    for (size_t g = 0; g < NG; g++)
        if (load_image(guest_dir, &guests[g], &img[g]) < 0)
            return 1;
    qemu_open(&q);
    for (size_t g = 0; g < NG; g++)
        if (check_guest(&guests[g], &img[g], &q) < 0) {
            fprintf(stderr, "mips: check failed: %s\n", guests[g].name);
            goto out;
        }
    if ((err = sim_open(&sim)) < 0 || (err = bare_open(&bare)) < 0) {
        fprintf(stderr, "mips: cannot create the VM: %s\n", strerror(-err));
        goto out;
    }
    kvm_side_open(&kvm);
    for (size_t g = 0; kvm.open && g < NG; g++)
        kvm_check(&kvm, &sim, g, &img[g]);
    for (size_t g = 0; g < NG; g++) {
        if ((err = calibrate_sim(&sim, &img[g], target, &n_sim[g])) < 0) {
            fprintf(stderr, "mips: calibrating %s: %s\n", guests[g].name, strerror(-err));
            goto out;
        }
        n_bare[g] = n_sim[g];
        if (kvm.usable[g] && (err = calibrate_sim(&kvm.side, &img[g], target, &n_k[g])) < 0) {
            fprintf(stderr, "mips: calibrating %s on KVM: %s\n", guests[g].name,
                    strerror(-err));
            goto out;
        }
        if (q.usable &&
            (err = calibrate_qemu(&q, &img[g], n_sim[g], target, &n_q[g])) < 0) {
            fprintf(stderr, "mips: calibrating %s on QEMU: %s\n", guests[g].name,
                    strerror(-err));
            goto out;
        }
    }
    /* Interleaved: repetition i of every guest on every side before repetition i + 1. */
    for (int i = 0; i < reps; i++)
        for (size_t g = 0; g < NG; g++) {
            const MipsGuest *gu = &guests[g];
            double wall, cpu;
            if ((err = sim_run(&sim, &img[g], n_sim[g], &wall, &cpu, NULL)) < 0) {
                fprintf(stderr, "mips: %s on sim: %s\n", gu->name, strerror(-err));
                goto out;
            }
            double insns = (double)count_insns(gu, n_sim[g]) * 1e9;
            sim_w[g][i] = insns / wall;
            sim_c[g][i] = insns / (cpu > 0 ? cpu : 1);
            if ((err = bare_run(&bare, &img[g], n_bare[g], &wall, NULL, NULL)) < 0) {
                fprintf(stderr, "mips: %s on the bare interpreter\n", gu->name);
                goto out;
            }
            bare_w[g][i] = (double)count_insns(gu, n_bare[g]) * 1e9 / wall;
            if (kvm.usable[g]) {
                if ((err = sim_run(&kvm.side, &img[g], n_k[g], &wall, &cpu, NULL)) < 0) {
                    fprintf(stderr, "mips: %s on KVM: %s\n", gu->name, strerror(-err));
                    goto out;
                }
                insns = (double)count_insns(gu, n_k[g]) * 1e9;
                k_w[g][i] = insns / wall;
                k_c[g][i] = insns / (cpu > 0 ? cpu : 1);
            }
            if (!q.usable || i >= qreps)
                continue;
            double w1, c1, w2, c2;
            int s1, s2;
            /* the order alternates so that drift hits N and 2N alike */
            bool twofirst = i & 1;
            if ((err = qemu_run(&q, &img[g], twofirst ? 2 * n_q[g] : n_q[g],
                                twofirst ? &w2 : &w1, twofirst ? &c2 : &c1,
                                twofirst ? &s2 : &s1)) < 0 ||
                (err = qemu_run(&q, &img[g], twofirst ? n_q[g] : 2 * n_q[g],
                                twofirst ? &w1 : &w2, twofirst ? &c1 : &c2,
                                twofirst ? &s1 : &s2)) < 0) {
                fprintf(stderr, "mips: %s on QEMU: %s\n", gu->name, strerror(-err));
                goto out;
            }
            double qi = (double)n_q[g] * (double)gu->per_iteration * 1e9;
            q_w[g][i] = qi / (w2 - w1 > 1e3 ? w2 - w1 : 1e3);
            q_c[g][i] = qi / (c2 - c1 > 1e3 ? c2 - c1 : 1e3);
            q_t[g][0][i] = w1, q_t[g][1][i] = w2, q_t[g][2][i] = c1, q_t[g][3][i] = c2;
        }

    bench_print_title("Guest MIPS: sim backend vs QEMU TCG, identical guest bytes");
    printf("%-31s %13s %13s %13s %13s %6s  %s\n", "guest (MIPS: median (best))", "sim wall",
           "sim CPU", "QEMU wall", "QEMU CPU", "ratio", "target (sim CPU median)");
    for (size_t g = 0; g < NG; g++) {
        const MipsGuest *gu = &guests[g];
        BenchStat sw = bench_stat(sim_w[g], reps, true), sc = bench_stat(sim_c[g], reps, true);
        BenchStat qw = {0}, qc = {0};
        char a[32], b[32], c[32] = "skipped", d[32] = "skipped", ratio[16] = "-",
             tgt[64] = "(none)";
        if (q.usable) {
            qw = bench_stat(q_w[g], qreps, true);
            qc = bench_stat(q_c[g], qreps, true);
            double qi = (double)n_q[g] * (double)gu->per_iteration * 1e9;
            qw.best = qemu_best(qi, q_t[g][0], q_t[g][1], qreps);
            qc.best = qemu_best(qi, q_t[g][2], q_t[g][3], qreps);
            fmt_mips(c, sizeof(c), qw);
            fmt_mips(d, sizeof(d), qc);
            snprintf(ratio, sizeof(ratio), "%.2fx", qc.median / sc.median);
        }
        if (gu->target_mips > 0)
            snprintf(tgt, sizeof(tgt), ">= %.0f %s", gu->target_mips,
                     sc.median / 1e6 >= gu->target_mips ? "PASS" : "MISS");
        else if (gu->target_qemu && q.usable)
            snprintf(tgt, sizeof(tgt), ">= QEMU CPU %s", sc.median >= qc.median ? "PASS"
                                                                                 : "MISS");
        else if (gu->target_qemu)
            snprintf(tgt, sizeof(tgt), ">= QEMU (no QEMU)");
        printf("%-31s %13s %13s %13s %13s %6s  %s\n", gu->figure, fmt_mips(a, sizeof(a), sw),
               fmt_mips(b, sizeof(b), sc), c, d, ratio, tgt);
    }
    if (!q.usable)
        printf("  QEMU: skipped: %s\n", q.why);
    printf("  MIPS = million guest instructions per second, counted from the guest's "
           "structure (a REP\n  instruction is one). ratio = QEMU CPU MIPS / sim CPU "
           "MIPS (> 1.0: sim is slower).\n");
    printf("  sim: one vm_run to HLT of ~%.0f ms, %d repetitions; CPU = the process's "
           "CPU time.\n", (double)target / 1e6, reps);
    if (q.usable)
        printf("  QEMU (%s -accel tcg): process with 2N iterations minus process with N "
               "(startup cancels),\n  %d repetitions of ~%.0f ms differences, best = fastest "
               "2N less fastest N;\n  CPU = the child's user + system time.\n", QEMU, qreps,
               (double)target / 1e6);
    printf("  bare interpreter (x86_cpu_run: no KVM API, no VMCS), wall median:\n   ");
    for (size_t g = 0; g < NG; g++) {
        BenchStat st = bench_stat(bare_w[g], reps, true);
        printf(" %s %.0f%s", guests[g].name, st.median / 1e6, g + 1 < NG ? "," : ".\n");
    }
    printf("  N per run:");
    for (size_t g = 0; g < NG; g++) {
        printf(" %s %u", guests[g].name, n_sim[g]);
        if (q.usable)
            printf("/%u", n_q[g]);
        printf("%s", g + 1 < NG ? "," : " (sim/QEMU).\n");
    }
    printf("  KVM backend (the same guests and N-per-run calibration, one vm_run each):");
    if (!kvm.open)
        printf(" skipped: %s.\n", kvm.why_not);
    else
        printf("\n");
    for (size_t g = 0; kvm.open && g < NG; g++) {
        char a[32], b[32];
        if (!kvm.usable[g]) {
            printf("    %-31s skipped: %s\n", guests[g].figure, kvm.why[g]);
            continue;
        }
        printf("    %-31s wall %s, CPU %s MIPS (N %u)\n", guests[g].figure,
               fmt_mips(a, sizeof(a), bench_stat(k_w[g], reps, true)),
               fmt_mips(b, sizeof(b), bench_stat(k_c[g], reps, true)), n_k[g]);
    }
    printf("  checked first: the interpreter retires exactly the counted instructions, "
           "sim ends in the\n  bare interpreter's registers%s.\n",
           q.usable ? " and QEMU exits with its AL" : "");
    status = 0;
out:
    vm_destroy(sim.svm);
    vm_destroy(kvm.side.svm);
    bare_close(&bare);
    qemu_close(&q);
    return status;
}
