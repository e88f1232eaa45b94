/*
 * KVM backend overhead: what the library (SimpleVM over the KVM API) costs beside a
 * minimal program that does the same work with raw ioctls on /dev/kvm (the floor).
 *
 *   (a) VM lifecycle: create a 16 MiB VM, load the hello guest, run it to HLT, destroy.
 *   (b) Port-I/O exits per second: the io_loop guest (bench_guests.h) OUTs to the UART
 *       scratch register; the library dispatches each exit through the bus to the UART.
 *   (c) Whole process: fork/exec/wait of `scratchvm run --serial none hello.bin`, beside
 *       this program re-executed to do (a)'s floor once (`--floor-process`).
 *
 * Usage: kvm_overhead BUILD_DIR [GUEST_DIR]   (GUEST_DIR defaults to build/guests)
 *        kvm_overhead --floor-process GUEST.bin   (internal: one raw lifecycle, then exit)
 *        kvm_overhead --explain GUEST_DIR
 *            prices the library's extra steps one by one against the floor (not run by
 *            `make bench`: it takes longer)
 *        kvm_overhead --repeat a-lib|a-floor|b-lib|b-floor COUNT GUEST_DIR
 *            one path alone, untimed, for perf/strace/callgrind: COUNT lifecycles (a), or
 *            one io_loop run of COUNT exits (b)
 * Prints a table; exits 0 unless something broke (a benchmark reports, it does not judge).
 * Skips, with the reason, when /dev/kvm is not usable.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "hypervisor_sim.h"

#include "bench_guests.h"
#include "bench_util.h"

#define GUEST_RAM (16u * 1024 * 1024)
#define HELLO_TEXT "Hello, World!\n"
#define TARGET_RATIO 1.2

/* ==================================================================================== */
/* The floor: raw KVM ioctls, no library. The same work as SimpleVM on the KVM backend:  */
/* the same RAM size and memory slots (map_ram in src/vmm/vm.c), the same registers, the  */
/* same answers to the same exits. It leaves out what the library adds for guests that   */
/* need it (KVM_SET_TSS_ADDR, KVM_SET_CPUID2, devices, sync regs): that is the overhead   */
/* this benchmark measures.                                                              */
/* ==================================================================================== */

typedef struct {
    int kvm, vm, vcpu;
    uint8_t *mem;
    struct kvm_run *run;
    size_t run_size;
    char out[64];          /* bytes the guest sent to COM1's THR (the first 64) */
    size_t out_len;
    uint8_t scratch;       /* the UART scratch register */
    uint64_t exits;
} RawVm;

/* Library steps the floor can add one at a time (--explain), to price each of them.
 * The benchmark itself runs the floor with none. */
enum {
    RAW_CHECK_EXTENSIONS = 1u << 0,  /* GET_API_VERSION + 64 KVM_CHECK_EXTENSION per open */
    RAW_SET_TSS_ADDR = 1u << 1,      /* KVM_CHECK_EXTENSION + KVM_SET_TSS_ADDR per VM */
    RAW_CPUID_PER_VM = 1u << 2,      /* KVM_GET_SUPPORTED_CPUID (64 then 128 entries) +
                                      * KVM_SET_CPUID2 per vCPU */
    RAW_CPUID_CACHED = 1u << 3,      /* KVM_SET_CPUID2 of a table fetched once per process */
    RAW_SYNC_REGS = 1u << 4,         /* regs and sregs in kvm_run at every exit */
    RAW_EXTRA_REGS = 1u << 5,        /* GET_REGS + a second SET_SREGS/SET_REGS at creation */
};
static unsigned raw_extras;

static struct kvm_cpuid2 *raw_get_supported_cpuid(int kvm)
{
    for (unsigned n = 64; n <= 4096; n *= 2) {
        struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
        if (!c)
            return NULL;
        c->nent = n;
        if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, c) == 0)
            return c;
        int err = errno;
        free(c);
        if (err != E2BIG)
            return NULL;
    }
    return NULL;
}

/* The extras chosen in raw_extras, done where the library does them. */
static int raw_open_extras(RawVm *r)
{
    if (raw_extras & RAW_CHECK_EXTENSIONS) {
        if (ioctl(r->kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
            return -ENOTSUP;
        for (int cap = 0; cap < 64; cap++)
            (void)ioctl(r->kvm, KVM_CHECK_EXTENSION, cap);
    }
    return 0;
}

static int raw_vm_extras(RawVm *r)
{
    if ((raw_extras & RAW_SET_TSS_ADDR) && ioctl(r->kvm, KVM_CHECK_EXTENSION, KVM_CAP_SET_TSS_ADDR) > 0 &&
        ioctl(r->vm, KVM_SET_TSS_ADDR, 0xFFFBD000ul) < 0)
        return -errno;
    return 0;
}

static int raw_vcpu_extras(RawVm *r)
{
    static struct kvm_cpuid2 *cached;
    if (raw_extras & RAW_CPUID_PER_VM) {
        struct kvm_cpuid2 *c = raw_get_supported_cpuid(r->kvm);
        int err = c && ioctl(r->vcpu, KVM_SET_CPUID2, c) == 0 ? 0 : -(errno ? errno : EIO);
        free(c);
        if (err < 0)
            return err;
    }
    if (raw_extras & RAW_CPUID_CACHED) {
        if (!cached && !(cached = raw_get_supported_cpuid(r->kvm)))
            return -EIO;
        if (ioctl(r->vcpu, KVM_SET_CPUID2, cached) < 0)
            return -errno;
    }
    if (raw_extras & RAW_EXTRA_REGS) {
        struct kvm_regs regs;
        struct kvm_sregs sregs;
        if (ioctl(r->vcpu, KVM_GET_SREGS, &sregs) < 0 || ioctl(r->vcpu, KVM_GET_REGS, &regs) < 0 ||
            ioctl(r->vcpu, KVM_SET_SREGS, &sregs) < 0 || ioctl(r->vcpu, KVM_SET_REGS, &regs) < 0)
            return -errno;
    }
    if (raw_extras & RAW_SYNC_REGS)
        r->run->kvm_valid_regs = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS;
    return 0;
}

static void raw_close(RawVm *r)
{
    if (r->run)
        munmap(r->run, r->run_size);
    if (r->vcpu >= 0)
        close(r->vcpu);
    if (r->mem)
        munmap(r->mem, GUEST_RAM);
    if (r->vm >= 0)
        close(r->vm);
    if (r->kvm >= 0)
        close(r->kvm);
}

/* CS:IP 0000:0000, real-mode segments at 0 with 64 KiB limits, everything else 0. */
static int raw_set_start_regs(RawVm *r)
{
    struct kvm_sregs sregs;
    if (ioctl(r->vcpu, KVM_GET_SREGS, &sregs) < 0)
        return -errno;
    struct kvm_segment *segs[] = {&sregs.cs, &sregs.ds, &sregs.es, &sregs.fs, &sregs.gs,
                                  &sregs.ss};
    for (size_t i = 0; i < sizeof(segs) / sizeof(segs[0]); i++) {
        segs[i]->selector = 0;
        segs[i]->base = 0;
        segs[i]->limit = 0xFFFF;
    }
    if (ioctl(r->vcpu, KVM_SET_SREGS, &sregs) < 0)
        return -errno;
    struct kvm_regs regs = {.rip = 0, .rflags = 0x2};
    if (ioctl(r->vcpu, KVM_SET_REGS, &regs) < 0)
        return -errno;
    return 0;
}

/* A VM with `code` at guest-physical 0 and one vCPU about to run it. */
static int raw_open(RawVm *r, const uint8_t *code, size_t size)
{
    *r = (RawVm){.kvm = -1, .vm = -1, .vcpu = -1};
    int err = 0;
    if ((r->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC)) < 0)
        goto fail;
    if ((err = raw_open_extras(r)) < 0 ||
        (r->vm = ioctl(r->kvm, KVM_CREATE_VM, 0)) < 0 || (err = raw_vm_extras(r)) < 0) {
        if (err < 0)
            errno = -err;
        goto fail;
    }
    r->mem = mmap(NULL, GUEST_RAM, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r->mem == MAP_FAILED) {
        r->mem = NULL;
        goto fail;
    }
    memcpy(r->mem, code, size);
    struct kvm_userspace_memory_region low = {
        .slot = 0, .guest_phys_addr = 0, .memory_size = 0xA0000,
        .userspace_addr = (uintptr_t)r->mem,
    };
    struct kvm_userspace_memory_region high = {
        .slot = 1, .guest_phys_addr = 0xC0000, .memory_size = GUEST_RAM - 0xC0000,
        .userspace_addr = (uintptr_t)(r->mem + 0xC0000),
    };
    if (ioctl(r->vm, KVM_SET_USER_MEMORY_REGION, &low) < 0 ||
        ioctl(r->vm, KVM_SET_USER_MEMORY_REGION, &high) < 0)
        goto fail;
    if ((r->vcpu = ioctl(r->vm, KVM_CREATE_VCPU, 0)) < 0)
        goto fail;
    int run_size = ioctl(r->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (run_size < (int)sizeof(struct kvm_run))
        goto fail;
    r->run_size = (size_t)run_size;
    r->run = mmap(NULL, r->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, r->vcpu, 0);
    if (r->run == MAP_FAILED) {
        r->run = NULL;
        goto fail;
    }
    if ((err = raw_vcpu_extras(r)) < 0 || (err = raw_set_start_regs(r)) < 0) {
        errno = -err;
        goto fail;
    }
    return 0;
fail:
    err = errno ? errno : EIO;
    raw_close(r);
    return -err;
}

/* KVM_RUN until HLT. IN from LSR (0x3FD) reads 0x60 (THR and transmitter empty), OUT to
 * THR (0x3F8) is kept in r->out, OUT to the scratch register (0x3FF) is stored; any
 * other exit is an error (-EPROTO). */
static int raw_run(RawVm *r)
{
    struct kvm_run *run = r->run;
    for (;;) {
        if (ioctl(r->vcpu, KVM_RUN, 0) < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return -errno;
        }
        r->exits++;
        switch (run->exit_reason) {
        case KVM_EXIT_HLT:
            return 0;
        case KVM_EXIT_IO: {
            uint8_t *data = (uint8_t *)run + run->io.data_offset;
            if (run->io.size != 1)
                return -EPROTO;
            for (uint32_t i = 0; i < run->io.count; i++) {
                if (run->io.direction == KVM_EXIT_IO_IN && run->io.port == 0x3FD) {
                    data[i] = 0x60;
                } else if (run->io.direction == KVM_EXIT_IO_OUT && run->io.port == 0x3F8) {
                    if (r->out_len < sizeof(r->out))
                        r->out[r->out_len++] = (char)data[i];
                } else if (run->io.direction == KVM_EXIT_IO_OUT &&
                           run->io.port == BENCH_IO_LOOP_PORT) {
                    r->scratch = data[i];
                } else {
                    return -EPROTO;
                }
            }
            break;
        }
        default:
            return -EPROTO;
        }
    }
}

/* Exits of the last raw lifecycle (for the notes under the table). */
static uint64_t raw_hello_exits;

/* (a), floor: one whole lifecycle. */
static int raw_hello_once(const uint8_t *code, size_t size)
{
    RawVm r;
    int err = raw_open(&r, code, size);
    if (err < 0)
        return err;
    err = raw_run(&r);
    raw_hello_exits = r.exits;
    if (err == 0 && (r.out_len != strlen(HELLO_TEXT) || memcmp(r.out, HELLO_TEXT, r.out_len)))
        err = -EBADMSG;
    raw_close(&r);
    return err;
}

/* ==================================================================================== */
/* The library: SimpleVM on the KVM backend.                                             */
/* ==================================================================================== */

static SimpleVM *lib_open(const uint8_t *code, size_t size)
{
    SimpleVM *svm = vm_create_bytes(GUEST_RAM, HV_BACKEND_KVM);
    if (!svm)
        return NULL;
    svm->serial->output_fd = -1;
    svm->debug_exit->console_fd = -1;
    if (vm_load_code(svm, code, size, 0) < 0) {
        vm_destroy(svm);
        return NULL;
    }
    svm->vcpu->sregs.cs.selector = 0;
    svm->vcpu->sregs.cs.base = 0;
    svm->vcpu->regs.rip = 0;
    return svm;
}

/* (a), library: one whole lifecycle. */
static int lib_hello_once(const uint8_t *code, size_t size)
{
    SimpleVM *svm = lib_open(code, size);
    if (!svm)
        return -EIO;
    int err = vm_run(svm);
    char out[64];
    size_t n = serial_output_latest(svm->serial, out, sizeof(out));
    if (err == 0 && (svm->stop_reason != VM_STOP_HLT || n != strlen(HELLO_TEXT) ||
                     memcmp(out, HELLO_TEXT, n)))
        err = -EBADMSG;
    vm_destroy(svm);
    return err;
}

/* ==================================================================================== */
/* Measurement                                                                           */
/* ==================================================================================== */

static const char *hello_path;
static uint8_t hello_code[4096];
static size_t hello_size;

static int fail(const char *what, int err)
{
    fprintf(stderr, "kvm_overhead: %s: %s%s%s\n", what, strerror(err < 0 ? -err : err),
            hv_last_error()[0] ? "; library: " : "", hv_last_error());
    return 1;
}

static int read_file(const char *path, uint8_t *buf, size_t cap, size_t *size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, cap);
    int err = n < 0 ? -errno : (size_t)n == cap ? -EFBIG : 0;
    close(fd);
    *size = n > 0 ? (size_t)n : 0;
    return err;
}

typedef int (*LifecycleFn)(const uint8_t *code, size_t size);

/* Runs `iters` lifecycles; ns per lifecycle in *per_iter. */
static int time_lifecycles(LifecycleFn fn, uint64_t iters, double *per_iter)
{
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < iters; i++) {
        int err = fn(hello_code, hello_size);
        if (err < 0)
            return err;
    }
    *per_iter = (double)(bench_now_ns() - t0) / (double)iters;
    return 0;
}

/* Iterations of fn that last about one repetition (after one untimed warm-up). */
static int calibrate_lifecycles(LifecycleFn fn, uint64_t *iters)
{
    int err = fn(hello_code, hello_size);
    if (err < 0)
        return err;
    uint64_t target = bench_target_ns(), n = 1;
    for (;;) {
        uint64_t t0 = bench_now_ns();
        for (uint64_t i = 0; i < n; i++)
            if ((err = fn(hello_code, hello_size)) < 0)
                return err;
        uint64_t dt = bench_now_ns() - t0;
        if (dt >= target / 8 || n >= (1u << 20)) {
            *iters = bench_scale(n, dt, target);
            return 0;
        }
        n *= 2;
    }
}

/* (a): library and floor repetitions interleaved, so drift hits both alike. */
static int bench_lifecycle(BenchRow *row, uint64_t *lib_iters, uint64_t *floor_iters)
{
    int reps = bench_reps(), err;
    double lib[BENCH_MAX_REPS], flo[BENCH_MAX_REPS];
    if ((err = calibrate_lifecycles(lib_hello_once, lib_iters)) < 0)
        return fail("(a) library lifecycle", err);
    if ((err = calibrate_lifecycles(raw_hello_once, floor_iters)) < 0)
        return fail("(a) floor lifecycle", err);
    for (int i = 0; i < reps; i++) {
        if ((err = time_lifecycles(lib_hello_once, *lib_iters, &lib[i])) < 0)
            return fail("(a) library lifecycle", err);
        if ((err = time_lifecycles(raw_hello_once, *floor_iters, &flo[i])) < 0)
            return fail("(a) floor lifecycle", err);
    }
    row->lib = bench_stat(lib, reps, false);
    row->floor = bench_stat(flo, reps, false);
    return 0;
}

/* One run of the io_loop guest on the library; exits per second in *rate. */
static int lib_io_loop(SimpleVM *svm, uint32_t n, double *rate)
{
    svm->vcpu->regs.rip = 0;
    uint64_t before = svm->exit_count, t0 = bench_now_ns();
    int err = vm_run(svm);
    uint64_t dt = bench_now_ns() - t0, exits = svm->exit_count - before;
    if (err < 0)
        return err;
    if (svm->stop_reason != VM_STOP_HLT || exits != (uint64_t)n + 1)
        return -EBADMSG;
    *rate = (double)exits * 1e9 / (double)(dt ? dt : 1);
    return 0;
}

static int raw_io_loop(RawVm *r, uint32_t n, double *rate)
{
    int err = raw_set_start_regs(r);
    if (err < 0)
        return err;
    uint64_t before = r->exits, t0 = bench_now_ns();
    err = raw_run(r);
    uint64_t dt = bench_now_ns() - t0, exits = r->exits - before;
    if (err < 0)
        return err;
    if (exits != (uint64_t)n + 1)
        return -EBADMSG;
    *rate = (double)exits * 1e9 / (double)(dt ? dt : 1);
    return 0;
}

/* (b): one VM per side, created once; each repetition is one run of the same guest. */
static int bench_io_exits(BenchRow *row, uint32_t *exits_per_rep)
{
    int reps = bench_reps(), err;
    double lib[BENCH_MAX_REPS], flo[BENCH_MAX_REPS], rate;
    uint8_t code[BENCH_IO_LOOP_SIZE];
    RawVm raw;
    int status = 1;

    /* Calibrate N on the library: a repetition lasts about the target time. */
    uint32_t n = 256;
    bench_io_loop_guest(code, n);
    SimpleVM *svm = lib_open(code, sizeof(code));
    if (!svm)
        return fail("(b) library VM", errno ? errno : EIO);
    if ((err = raw_open(&raw, code, sizeof(code))) < 0) {
        vm_destroy(svm);
        return fail("(b) floor VM", err);
    }
    for (;;) {
        bench_io_loop_guest(code, n);
        if ((err = vm_load_code(svm, code, sizeof(code), 0)) < 0 ||
            (err = lib_io_loop(svm, n, &rate)) < 0) {
            fail("(b) library run", err);
            goto out;
        }
        double dt = (double)(n + 1) * 1e9 / rate;
        if (dt >= (double)bench_target_ns() / 8 || n >= (1u << 30)) {
            double want = rate * (double)bench_target_ns() / 1e9;
            n = want < 256 ? 256 : want > (1u << 30) ? (1u << 30) : (uint32_t)want;
            break;
        }
        n *= 2;
    }
    bench_io_loop_guest(code, n);
    if ((err = vm_load_code(svm, code, sizeof(code), 0)) < 0) {
        fail("(b) library load", err);
        goto out;
    }
    memcpy(raw.mem, code, sizeof(code));
    for (int i = 0; i < reps; i++) {
        if ((err = lib_io_loop(svm, n, &lib[i])) < 0) {
            fail("(b) library run", err);
            goto out;
        }
        if ((err = raw_io_loop(&raw, n, &flo[i])) < 0) {
            fail("(b) floor run", err);
            goto out;
        }
    }
    row->lib = bench_stat(lib, reps, true);
    row->floor = bench_stat(flo, reps, true);
    *exits_per_rep = n + 1;
    status = 0;
out:
    raw_close(&raw);
    vm_destroy(svm);
    return status;
}

/* fork/exec/wait of argv with stdin and stdout on /dev/null; 0 when it exited 0. */
static int spawn_wait(char *const argv[])
{
    pid_t pid = bench_fork_quiet(false);
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        execv(argv[0], argv);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -errno;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -ECHILD;
}

static int time_spawns(char *const argv[], uint64_t runs, double *per_run)
{
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < runs; i++) {
        int err = spawn_wait(argv);
        if (err < 0)
            return err;
    }
    *per_run = (double)(bench_now_ns() - t0) / (double)runs;
    return 0;
}

/* (c): the mean per run of each repetition; the mean over all runs goes to *means. */
static int bench_process(BenchRow *row, const char *scratchvm, uint64_t *runs, double means[2])
{
    char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (len < 0)
        return fail("/proc/self/exe", errno);
    self[len] = '\0';
    char *lib_argv[] = {(char *)scratchvm, "run", "--serial", "none", (char *)hello_path, NULL};
    char *floor_argv[] = {self, "--floor-process", (char *)hello_path, NULL};
    int reps = bench_reps(), err;
    double lib[BENCH_MAX_REPS], flo[BENCH_MAX_REPS], dt;

    if ((err = spawn_wait(lib_argv)) < 0)
        return fail(scratchvm, err);
    if ((err = spawn_wait(floor_argv)) < 0)
        return fail("(c) floor process", err);
    uint64_t n = 1;
    for (;;) {
        if ((err = time_spawns(lib_argv, n, &dt)) < 0)
            return fail(scratchvm, err);
        if (dt * (double)n >= (double)bench_target_ns() / 8 || n >= 4096)
            break;
        n *= 2;
    }
    *runs = bench_scale(n, (uint64_t)(dt * (double)n), bench_target_ns());
    means[0] = means[1] = 0;
    for (int i = 0; i < reps; i++) {
        if ((err = time_spawns(lib_argv, *runs, &lib[i])) < 0)
            return fail(scratchvm, err);
        if ((err = time_spawns(floor_argv, *runs, &flo[i])) < 0)
            return fail("(c) floor process", err);
        means[0] += lib[i] / reps;
        means[1] += flo[i] / reps;
    }
    row->lib = bench_stat(lib, reps, false);
    row->floor = bench_stat(flo, reps, false);
    return 0;
}

/* --explain: the floor with the library's steps added one at a time, then all of them,
 * then the library itself; each line is what that variant costs over the floor. */
static int explain(const char *guests)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/hello.bin", guests);
    int err = read_file(path, hello_code, sizeof(hello_code), &hello_size);
    if (err < 0)
        return fail(path, err);
    static const struct {
        const char *name;
        unsigned extras;
        bool library;
    } v[] = {
        {"floor", 0, false},
        {"+ GET_API_VERSION, 64 CHECK_EXTENSION", RAW_CHECK_EXTENSIONS, false},
        {"+ SET_TSS_ADDR", RAW_SET_TSS_ADDR, false},
        {"+ GET_SUPPORTED_CPUID x2, SET_CPUID2", RAW_CPUID_PER_VM, false},
        {"+ SET_CPUID2 (table fetched once)", RAW_CPUID_CACHED, false},
        {"+ sync regs at every exit", RAW_SYNC_REGS, false},
        {"+ GET_REGS, 2nd SET_SREGS/SET_REGS", RAW_EXTRA_REGS, false},
        {"+ all of the above, CPUID per VM", RAW_CHECK_EXTENSIONS | RAW_SET_TSS_ADDR |
         RAW_CPUID_PER_VM | RAW_SYNC_REGS | RAW_EXTRA_REGS, false},
        {"+ all of the above, CPUID once", RAW_CHECK_EXTENSIONS | RAW_SET_TSS_ADDR |
         RAW_CPUID_CACHED | RAW_SYNC_REGS | RAW_EXTRA_REGS, false},
        {"library (vm_create_bytes ... vm_destroy)", 0, true},
    };
    enum { NV = sizeof(v) / sizeof(v[0]) };
    int reps = bench_reps();
    uint64_t iters[NV];
    double t[NV][BENCH_MAX_REPS];
    for (int j = 0; j < NV; j++) {
        raw_extras = v[j].extras;
        if ((err = calibrate_lifecycles(v[j].library ? lib_hello_once : raw_hello_once,
                                        &iters[j])) < 0)
            return fail(v[j].name, err);
        iters[j] = iters[j] / 2 ? iters[j] / 2 : 1;
    }
    for (int i = 0; i < reps; i++)
        for (int j = 0; j < NV; j++) {
            raw_extras = v[j].extras;
            if ((err = time_lifecycles(v[j].library ? lib_hello_once : raw_hello_once, iters[j],
                                       &t[j][i])) < 0)
                return fail(v[j].name, err);
        }
    raw_extras = 0;
    printf("(a) lifecycle, %d repetitions: median (best), and the median over the floor\n", reps);
    BenchStat base = bench_stat(t[0], reps, false);
    for (int j = 0; j < NV; j++) {
        BenchStat st = bench_stat(t[j], reps, false);
        char a[32], b[32];
        printf("  %-42s %10s (%10s)  %+8.1f us\n", v[j].name,
               bench_fmt_time(a, sizeof(a), st.median), bench_fmt_time(b, sizeof(b), st.best),
               (st.median - base.median) / 1e3);
    }

    /* (b): ns per exit for the floor, the floor with sync regs, and the library. */
    uint8_t code[BENCH_IO_LOOP_SIZE];
    const uint32_t n = 20000;
    bench_io_loop_guest(code, n);
    double rate[3][BENCH_MAX_REPS];
    RawVm plain, synced;
    SimpleVM *svm = lib_open(code, sizeof(code));
    if (!svm)
        return fail("library VM", EIO);
    if ((err = raw_open(&plain, code, sizeof(code))) < 0)
        return fail("floor VM", err);
    raw_extras = RAW_SYNC_REGS;
    if ((err = raw_open(&synced, code, sizeof(code))) < 0)
        return fail("floor VM", err);
    raw_extras = 0;
    for (int i = 0; i < reps; i++)
        if ((err = raw_io_loop(&plain, n, &rate[0][i])) < 0 ||
            (err = raw_io_loop(&synced, n, &rate[1][i])) < 0 ||
            (err = lib_io_loop(svm, n, &rate[2][i])) < 0)
            return fail("io loop", err);
    static const char *const names[3] = {"floor", "+ sync regs at every exit", "library"};
    printf("(b) one port-I/O exit, %u exits x %d repetitions: median ns per exit\n", n + 1, reps);
    double floor_ns = 1e9 / bench_stat(rate[0], reps, true).median;
    for (int j = 0; j < 3; j++) {
        double ns = 1e9 / bench_stat(rate[j], reps, true).median;
        printf("  %-42s %8.0f ns  %+6.0f ns\n", names[j], ns, ns - floor_ns);
    }
    raw_close(&plain);
    raw_close(&synced);
    vm_destroy(svm);
    return 0;
}

/* --repeat: one path alone, for profilers. */
static int repeat(const char *what, uint64_t count, const char *guests)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/hello.bin", guests);
    int err = read_file(path, hello_code, sizeof(hello_code), &hello_size);
    if (err < 0)
        return fail(path, err);
    bool is_lib = strcmp(what, "a-lib") == 0 || strcmp(what, "b-lib") == 0;
    if (what[0] == 'a') {
        for (uint64_t i = 0; i < count; i++)
            if ((err = (is_lib ? lib_hello_once : raw_hello_once)(hello_code, hello_size)) < 0)
                return fail(what, err);
        return 0;
    }
    uint8_t code[BENCH_IO_LOOP_SIZE];
    uint32_t n = count > (1u << 30) ? (1u << 30) : count ? (uint32_t)count : 1;
    bench_io_loop_guest(code, n);
    double rate;
    if (is_lib) {
        SimpleVM *svm = lib_open(code, sizeof(code));
        if (!svm)
            return fail(what, EIO);
        err = lib_io_loop(svm, n, &rate);
        vm_destroy(svm);
    } else {
        RawVm raw;
        if ((err = raw_open(&raw, code, sizeof(code))) == 0)
            err = raw_io_loop(&raw, n, &rate);
        raw_close(&raw);
    }
    if (err < 0)
        return fail(what, err);
    printf("%s: %.0f exits/s\n", what, rate);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--explain") == 0) {
        setvbuf(stdout, NULL, _IOLBF, 0);
        return explain(argv[2]);
    }
    if (argc == 5 && strcmp(argv[1], "--repeat") == 0 && argv[2][0] &&
        strchr("ab", argv[2][0]) && (!strcmp(argv[2] + 1, "-lib") || !strcmp(argv[2] + 1, "-floor")))
        return repeat(argv[2], strtoull(argv[3], NULL, 0), argv[4]);
    if (argc == 3 && strcmp(argv[1], "--floor-process") == 0) {
        /* (c)'s floor: read the guest, one raw lifecycle, exit. */
        int err = read_file(argv[2], hello_code, sizeof(hello_code), &hello_size);
        if (err == 0)
            err = raw_hello_once(hello_code, hello_size);
        return err < 0;
    }
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s BUILD_DIR [GUEST_DIR]\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *build = argv[1], *guests = argc > 2 ? argv[2] : "build/guests";
    static char scratchvm[4096], hello[4096];
    snprintf(scratchvm, sizeof(scratchvm), "%s/scratchvm", build);
    snprintf(hello, sizeof(hello), "%s/hello.bin", guests);
    hello_path = hello;

    const char *title = "KVM backend: SimpleVM library vs raw-ioctl floor";
    char why[160];
    if (!kvm_hw_usable(why, sizeof(why))) {
        printf("\n%s\nskipped: KVM is not usable here (%s)\n", title, why);
        return 0;
    }
    int err = read_file(hello, hello_code, sizeof(hello_code), &hello_size);
    if (err < 0)
        return fail(hello, err);
    if (access(scratchvm, X_OK) != 0)
        return fail(scratchvm, errno);

    BenchRow a = {.figure = "(a) VM lifecycle, hello guest", .target = TARGET_RATIO};
    BenchRow b = {.figure = "(b) port-I/O exits per second", .is_rate = true,
                  .target = TARGET_RATIO};
    BenchRow c = {.figure = "(c) scratchvm run --serial none hello", .target = 0};
    uint64_t a_lib_iters = 0, a_floor_iters = 0, c_runs = 0;
    uint32_t b_exits = 0;
    double c_means[2] = {0, 0};
    if (bench_lifecycle(&a, &a_lib_iters, &a_floor_iters) ||
        bench_io_exits(&b, &b_exits) || bench_process(&c, scratchvm, &c_runs, c_means))
        return 1;

    bench_print_header(title);
    bench_print_row(&a);
    bench_print_row(&b);
    bench_print_row(&c);
    char t1[32], t2[32];
    printf("  %d repetitions per figure, interleaved library/floor; median (best of them).\n",
           a.lib.reps);
    printf("  (a) %llu library / %llu floor lifecycles per repetition; 16 MiB, %zu-byte guest, "
           "%llu exits each.\n", (unsigned long long)a_lib_iters,
           (unsigned long long)a_floor_iters, hello_size, (unsigned long long)raw_hello_exits);
    printf("  (b) %u exits per repetition (OUT to port 0x%x, then HLT); one VM per side.\n",
           b_exits, BENCH_IO_LOOP_PORT);
    printf("  (c) %llu runs per repetition; mean over all %llu runs: library %s, floor %s "
           "(this program, --floor-process).\n", (unsigned long long)c_runs,
           (unsigned long long)c_runs * (unsigned long long)c.lib.reps,
           bench_fmt_time(t1, sizeof(t1), c_means[0]), bench_fmt_time(t2, sizeof(t2), c_means[1]));
    return 0;
}
