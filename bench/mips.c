/*
 * Guest MIPS: million guest instructions per second on the sim backend (the x86
 * interpreter under the simulated VT-x, through the public API) beside KVM, on the three
 * guests of bench_guests.h: (1) a register ALU loop, (2) a memory loop with REP MOVS,
 * (3) a CALL/RET loop. Both backends run identical bytes through SimpleVM
 * (vm_create_bytes with HV_BACKEND_SIM / HV_BACKEND_KVM); each run is one vm_run from
 * CS:IP 0000:0000 to the guest's HLT, with no other exit.
 *
 * Instructions are counted from the guest's structure (bench_mips_instructions():
 * prologue + iterations x per-iteration + the HLT, a REP MOVS as one instruction), the
 * same count for both backends: the API does not show the interpreter's
 * instructions_retired. Before timing, a check runs each guest briefly on the bare
 * interpreter (x86_cpu_run, no KVM API), whose instructions_retired must equal that count,
 * and on every backend, whose registers and memory at the HLT must agree.
 *
 * The ratio is sim time / KVM time for the same instructions (= KVM MIPS / sim MIPS), so
 * > 1.0 means the sim backend is slower, as in every benchmark table. The bare interpreter
 * runs the same guests too (a note under the table): the difference is what the KVM API,
 * VM entry and exit cost the sim backend.
 *
 * Usage: mips [BUILD_DIR [GUEST_DIR]]   (the arguments of bench/run.sh; not used)
 * Prints a table; exits 0 unless something broke. KVM is skipped, with the reason, when
 * /dev/kvm is not usable.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hypervisor_sim.h"
#include "sim/cpu/cpu.h"

#include "bench_guests.h"
#include "bench_util.h"

#define GUEST_RAM (1u << 20)
#define TARGET_ALU_SIM_MIPS 150.0   /* the target for (1) on sim */
#define CHECK_ITERATIONS 100        /* iterations of each guest in the check */
#define MAX_ITERATIONS 0xFFFFFFFFull /* the guests' loop counters are 32-bit */

enum { SIDE_SIM, SIDE_KVM, SIDE_BARE, SIDES };
static const char *const side_names[SIDES] = {"sim", "KVM", "bare interpreter"};

/* One place a guest runs: a SimpleVM on a backend, or the bare interpreter. */
typedef struct {
    SimpleVM *svm;                /* SIDE_SIM, SIDE_KVM */
    X86Cpu *cpu;                  /* SIDE_BARE */
    uint8_t *ram;                 /* SIDE_BARE: GUEST_RAM bytes at guest-physical 0 */
} Side;

/* What a run leaves behind, to compare the backends. */
typedef struct {
    uint64_t gpr[8];              /* rax rcx rdx rbx rsp rbp rsi rdi */
    uint64_t rip, flags;          /* flags: the arithmetic ones (CF PF AF ZF SF OF) */
    uint64_t retired;             /* SIDE_BARE: instructions retired by the run */
    uint8_t ds_buf[BENCH_MIPS_MEM_LEN], es_buf[BENCH_MIPS_MEM_LEN];
} RunResult;

#define ARITH_FLAGS 0x8D5u

static int fail(const char *what, int err)
{
    fprintf(stderr, "mips: %s: %s%s%s\n", what, strerror(err < 0 ? -err : err),
            hv_last_error()[0] ? "; library: " : "", hv_last_error());
    return 1;
}

static uint8_t *bare_page(void *opaque, uint64_t gpa_page, unsigned access)
{
    (void)access;
    return gpa_page < GUEST_RAM ? (uint8_t *)opaque + gpa_page : NULL;
}

static int side_open(Side *s, int which)
{
    *s = (Side){0};
    if (which == SIDE_BARE) {
        if (!(s->ram = calloc(1, GUEST_RAM)) || !(s->cpu = x86_cpu_create(bare_page, s->ram))) {
            free(s->ram);
            return -ENOMEM;
        }
        x86_cpu_reset(s->cpu);
        return 0;
    }
    s->svm = vm_create_bytes(GUEST_RAM, which == SIDE_SIM ? HV_BACKEND_SIM : HV_BACKEND_KVM);
    if (!s->svm)
        return -EIO;
    s->svm->serial->output_fd = -1;
    s->svm->debug_exit->console_fd = -1;
    s->svm->vcpu->sregs.cs.selector = 0;
    s->svm->vcpu->sregs.cs.base = 0;
    return 0;
}

static void side_close(Side *s)
{
    vm_destroy(s->svm);
    if (s->cpu)
        x86_cpu_destroy(s->cpu);
    free(s->ram);
    *s = (Side){0};
}

/* Loads guest `g` for `n` iterations, runs it from 0000:0000 to its HLT and puts the
 * elapsed ns in *ns (and, when `res`, the state at the HLT in *res). -EBADMSG when the
 * run ended any other way, or with an exit before the HLT. */
static int side_run(Side *s, const BenchMipsGuest *g, uint32_t n, uint64_t *ns, RunResult *res)
{
    uint8_t code[BENCH_MIPS_MAX_SIZE];
    bench_mips_guest(g, code, n);
    if (s->cpu) {
        X86Cpu *cpu = s->cpu;
        memcpy(s->ram, code, g->size);
        x86_cpu_invalidate_code(cpu, 0, g->size);
        for (int i = 0; i < 6; i++)
            x86_cpu_load_real_segment(cpu, i, 0);
        cpu->rip = 0;
        uint64_t before = cpu->instructions_retired, t0 = bench_now_ns();
        X86Exit e = x86_cpu_run(cpu, 0);
        *ns = bench_now_ns() - t0;
        if (e != X86_EXIT_HLT)
            return -EBADMSG;
        if (res) {
            memcpy(res->gpr, cpu->gpr, sizeof(res->gpr));
            res->rip = cpu->rip;
            res->flags = x86_cpu_get_rflags(cpu) & ARITH_FLAGS;
            res->retired = cpu->instructions_retired - before;
            memcpy(res->ds_buf, s->ram + BENCH_MIPS_MEM_DS, BENCH_MIPS_MEM_LEN);
            memcpy(res->es_buf, s->ram + BENCH_MIPS_MEM_ES, BENCH_MIPS_MEM_LEN);
        }
        return 0;
    }
    SimpleVM *svm = s->svm;
    int err = vm_load_code(svm, code, g->size, 0);
    if (err < 0)
        return err;
    svm->vcpu->regs.rip = 0;
    uint64_t before = svm->exit_count, t0 = bench_now_ns();
    err = vm_run(svm);
    *ns = bench_now_ns() - t0;
    if (err < 0)
        return err;
    if (svm->stop_reason != VM_STOP_HLT || svm->exit_count - before != 1)
        return -EBADMSG;
    if (res) {
        const KvmRegs *r = &svm->vcpu->regs;
        const uint64_t gpr[8] = {r->rax, r->rcx, r->rdx, r->rbx, r->rsp, r->rbp, r->rsi, r->rdi};
        memcpy(res->gpr, gpr, sizeof(gpr));
        res->rip = r->rip;
        res->flags = r->rflags & ARITH_FLAGS;
        res->retired = 0;
        const uint8_t *ds = vm_guest_ram(svm, BENCH_MIPS_MEM_DS, BENCH_MIPS_MEM_LEN);
        const uint8_t *es = vm_guest_ram(svm, BENCH_MIPS_MEM_ES, BENCH_MIPS_MEM_LEN);
        if (!ds || !es)
            return -EFAULT;
        memcpy(res->ds_buf, ds, BENCH_MIPS_MEM_LEN);
        memcpy(res->es_buf, es, BENCH_MIPS_MEM_LEN);
    }
    return 0;
}

/* The check, on fresh sides (the memory guest's results depend on what RAM held): the
 * bare interpreter retires exactly the instructions we count (its HLT included), and
 * every side ends in the same state. */
static int check_guest(Side sides[SIDES], const bool present[SIDES], const BenchMipsGuest *g)
{
    static RunResult res[SIDES];
    uint64_t ns;
    int err;
    for (int k = 0; k < SIDES; k++) {
        if (!present[k])
            continue;
        if ((err = side_run(&sides[k], g, CHECK_ITERATIONS, &ns, &res[k])) < 0) {
            fprintf(stderr, "mips: check: %s on %s: run failed\n", g->name, side_names[k]);
            return err;
        }
    }
    uint64_t want = bench_mips_instructions(g, CHECK_ITERATIONS);
    if (res[SIDE_BARE].retired != want) {
        fprintf(stderr, "mips: check: %s: the interpreter retired %llu instructions, the "
                "count says %llu\n", g->name, (unsigned long long)res[SIDE_BARE].retired,
                (unsigned long long)want);
        return -EBADMSG;
    }
    for (int k = 0; k < SIDES; k++) {
        if (!present[k] || k == SIDE_BARE)
            continue;
        const RunResult *a = &res[SIDE_BARE], *b = &res[k];
        if (memcmp(a->gpr, b->gpr, sizeof(a->gpr)) || a->rip != b->rip ||
            a->flags != b->flags || memcmp(a->ds_buf, b->ds_buf, sizeof(a->ds_buf)) ||
            memcmp(a->es_buf, b->es_buf, sizeof(a->es_buf))) {
            fprintf(stderr, "mips: check: %s: %s and the bare interpreter disagree at the HLT "
                    "(rax %llx/%llx, rip %llx/%llx)\n", g->name, side_names[k],
                    (unsigned long long)b->gpr[0], (unsigned long long)a->gpr[0],
                    (unsigned long long)b->rip, (unsigned long long)a->rip);
            return -EBADMSG;
        }
    }
    return 0;
}

/* Iterations of `g` that make one run last about `target` ns on side `s`. */
static int calibrate(Side *s, const BenchMipsGuest *g, uint64_t target, uint32_t *iters)
{
    uint64_t n = 1, ns;
    for (;;) {
        int err = side_run(s, g, (uint32_t)n, &ns, NULL);
        if (err < 0)
            return err;
        if (ns >= target / 8 || n >= MAX_ITERATIONS) {
            uint64_t want = bench_scale(n, ns, target);
            *iters = (uint32_t)(want > MAX_ITERATIONS ? MAX_ITERATIONS : want);
            return 0;
        }
        n = n * 2 > MAX_ITERATIONS ? MAX_ITERATIONS : n * 2;
    }
}

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *title = "Guest MIPS: sim backend vs KVM, identical guest bytes through SimpleVM";
    char why[160] = "";
    bool present[SIDES] = {true, kvm_hw_usable(why, sizeof(why)), true};
    Side sides[SIDES] = {{0}};
    int err, status = 1;
    enum { NG = BENCH_MIPS_GUESTS };

    /* Runs last ~2 x BENCH_TARGET_MS (300 ms): long enough that one vm_run's entry and
     * exit are noise, short enough for 7 interleaved repetitions of 9 runs. */
    uint64_t target = 2 * bench_target_ns();
    int reps = bench_reps();
    uint32_t iters[NG][SIDES];
    double rate[NG][SIDES][BENCH_MAX_REPS];

    for (size_t g = 0; g < NG; g++) {
        for (int k = 0; k < SIDES; k++)
            if (present[k] && (err = side_open(&sides[k], k)) < 0) {
                fail(side_names[k], err);
                goto out;
            }
        if ((err = check_guest(sides, present, &bench_mips_guests[g])) < 0) {
            fail("check", err);
            goto out;
        }
        for (int k = 0; k < SIDES; k++)
            side_close(&sides[k]);
    }
    for (int k = 0; k < SIDES; k++)
        if (present[k] && (err = side_open(&sides[k], k)) < 0) {
            fail(side_names[k], err);
            goto out;
        }
    for (size_t g = 0; g < NG; g++)
        for (int k = 0; k < SIDES; k++)
            if (present[k] &&
                (err = calibrate(&sides[k], &bench_mips_guests[g], target, &iters[g][k])) < 0) {
                fprintf(stderr, "mips: calibrating %s on %s\n", bench_mips_guests[g].name,
                        side_names[k]);
                fail("calibrate", err);
                goto out;
            }
    /* Interleaved: repetition i of every guest on every side before repetition i + 1. */
    for (int i = 0; i < reps; i++)
        for (size_t g = 0; g < NG; g++)
            for (int k = 0; k < SIDES; k++) {
                if (!present[k])
                    continue;
                const BenchMipsGuest *gu = &bench_mips_guests[g];
                uint64_t ns;
                if ((err = side_run(&sides[k], gu, iters[g][k], &ns, NULL)) < 0) {
                    fprintf(stderr, "mips: %s on %s\n", gu->name, side_names[k]);
                    fail("run", err);
                    goto out;
                }
                rate[g][k][i] = (double)bench_mips_instructions(gu, iters[g][k]) * 1e9 /
                                (double)(ns ? ns : 1);
            }

    bench_print_header_named(title, "sim", "KVM");
    BenchRow rows[NG];
    for (size_t g = 0; g < NG; g++) {
        rows[g] = (BenchRow){.figure = bench_mips_guests[g].name, .is_rate = true,
                             .lib = bench_stat(rate[g][SIDE_SIM], reps, true)};
        if (present[SIDE_KVM])
            rows[g].floor = bench_stat(rate[g][SIDE_KVM], reps, true);
        if (g == 0)
            rows[g].min_rate = TARGET_ALU_SIM_MIPS * 1e6;
        bench_print_row(&rows[g]);
    }
    double alu = rows[0].lib.median / 1e6;
    printf("target: (1) ALU loop on sim: >= %.0f MIPS  %s (median %.1f MIPS)\n",
           TARGET_ALU_SIM_MIPS, alu >= TARGET_ALU_SIM_MIPS ? "PASS" : "MISS", alu);
    if (!present[SIDE_KVM])
        printf("  KVM: skipped: not usable here (%s)\n", why);
    printf("  M/s = million guest instructions per second (MIPS), counted from the guest's "
           "structure, the\n  same count on both backends: a REP MOVS is one instruction "
           "(as the interpreter retires it).\n");
    printf("  ratio = sim time / KVM time for the same instructions (KVM MIPS / sim MIPS); "
           "> 1.0: sim is slower.\n");
    printf("  %d repetitions, interleaved guest by guest and backend by backend; each run "
           "~%.0f ms, one vm_run to HLT.\n", reps, (double)target / 1e6);
    for (size_t g = 0; g < NG; g++) {
        const BenchMipsGuest *gu = &bench_mips_guests[g];
        printf("  (%zu) %llu + N x %llu + 1 instructions", g + 1,
               (unsigned long long)gu->prologue, (unsigned long long)gu->per_iteration);
        if (gu->rep_elements)
            printf(" (+ N x %llu REP elements)", (unsigned long long)gu->rep_elements);
        printf("; N = %u sim", iters[g][SIDE_SIM]);
        if (present[SIDE_KVM])
            printf(", %u KVM", iters[g][SIDE_KVM]);
        printf(", %u bare.\n", iters[g][SIDE_BARE]);
    }
    printf("  bare interpreter (x86_cpu_run: no KVM API, no VMCS), median (best):\n   ");
    for (size_t g = 0; g < NG; g++) {
        BenchStat st = bench_stat(rate[g][SIDE_BARE], reps, true);
        char a[32], b[32];
        printf(" (%zu) %s (%s)%s", g + 1, bench_fmt_rate(a, sizeof(a), st.median),
               bench_fmt_rate(b, sizeof(b), st.best), g + 1 < NG ? "," : ".\n");
    }
    printf("  checked first: the interpreter retires exactly the counted instructions, and "
           "%s\n  in the same registers and memory as the bare interpreter.\n",
           present[SIDE_KVM] ? "sim and KVM end" : "sim ends");
    status = 0;
out:
    for (int k = 0; k < SIDES; k++)
        side_close(&sides[k]);
    return status;
}
