/*
 * The seccomp sandbox (sandbox.h). The filter is an allowlist: each entry of
 * sandbox_allowed below is a system call some part of the VMM makes after setup, with
 * what makes it. Everything else traps (SCMP_ACT_TRAP): the SIGSYS handler writes one
 * line naming the call, restores the terminal and ends the process with EXIT_SANDBOX.
 *
 * What the VMM does before the filter (and so needs no entry): reading the guest image,
 * kernel, initrd and BIOS files, opening the disks (and creating the -snapshot overlay),
 * /dev/kvm and the VM and vCPU file descriptors, mmap of guest RAM and kvm_run, the
 * monitor's and QMP's listening sockets (and QMP's getaddrinfo), the gdb stub's socket
 * and thread, the vCPU thread, the timerfd, -D's log file and --serial file:'s file.
 *
 * Argument filters narrow the risky ones: ioctl only with the request numbers the hw
 * backend and the terminal use; clone only for threads (CLONE_THREAD), clone3 answered
 * ENOSYS so glibc falls back to clone; socket-level calls only on the sockets that exist
 * (no socket(2), connect(2) or bind(2) at all). openat stays: the monitor's (and QMP's)
 * screendump writes a PNG to a path the user names and reads the console font; unlink
 * stays: the monitor and QMP sockets are removed at exit. That the filter cannot check
 * paths is the known limit of seccomp (QEMU's -sandbox has the same one).
 *
 * virtio: the blk I/O threads use pread64/pwrite64/fdatasync and their eventfd (read,
 * write), virtio-rng getrandom, a tap back end read/write/poll: all in the table already.
 * User-mode networking (-netdev user, SANDBOX_NET_USER) adds what libslirp calls when the
 * guest opens a TCP connection or sends UDP/ICMP: socket (AF_INET and AF_INET6 only),
 * connect, getsockname, getpeername, accept (a hostfwd client; accept4 is there) and
 * ioctl FIONREAD (bytes waiting on a UDP socket). Without -netdev user none of these is
 * allowed.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "cli/console.h"
#include "cli/options.h"
#include "cli/sandbox.h"

/* System calls allowed with any arguments, and why. */
static const struct {
    int nr;
    const char *why;
} sandbox_allowed[] = {
    /* I/O on descriptors that exist */
    {SCMP_SYS(read), "console input, the signal pipe, the timerfd, monitor socket"},
    {SCMP_SYS(write), "guest serial output, messages, monitor answers, log file"},
    {SCMP_SYS(readv), "stdio (glibc may gather)"},
    {SCMP_SYS(writev), "stdio (glibc may scatter)"},
    {SCMP_SYS(pread64), "disk reads (int 13h), qcow2 tables"},
    {SCMP_SYS(pwrite64), "disk writes, qcow2 cluster allocation, -snapshot overlay"},
    {SCMP_SYS(lseek), "stdio streams"},
    {SCMP_SYS(close), "closing clients, files at exit"},
    {SCMP_SYS(fstat), "stdio's first use of a stream; screendump's file"},
    {SCMP_SYS(newfstatat), "glibc's fstat(), same use"},
    {SCMP_SYS(fcntl), "F_GETFL/F_SETFL on descriptors"},
    {SCMP_SYS(fdatasync), "disk flush (int 13h, qcow2)"},
    {SCMP_SYS(fsync), "disk flush"},
    {SCMP_SYS(ftruncate), "raw images and the overlay"},
    {SCMP_SYS(poll), "the main loop (console, monitor, timer, signals), gdb stub"},
    {SCMP_SYS(ppoll), "glibc's poll() on some builds"},
    {SCMP_SYS(pipe2), "the main loop's done and signal pipes"},
    {SCMP_SYS(dup), "stdio"},
    /* files the monitor writes or reads at run time */
    {SCMP_SYS(openat), "screendump FILE (PNG out) and the console font (gz in)"},
    {SCMP_SYS(unlink), "removing the monitor's and QMP's sockets at exit"},
    /* sockets that already exist */
    {SCMP_SYS(accept4), "monitor socket, QMP socket and gdb stub clients"},
    {SCMP_SYS(setsockopt), "SO_SNDTIMEO on a monitor or QMP client"},
    {SCMP_SYS(getsockopt), "socket errors"},
    {SCMP_SYS(sendto), "gdb stub and QMP answers (send)"},
    {SCMP_SYS(recvfrom), "gdb stub packets (recv)"},
    {SCMP_SYS(sendmsg), "socket writes"},
    {SCMP_SYS(recvmsg), "socket reads"},
    {SCMP_SYS(shutdown), "ending a client connection"},
    /* memory */
    {SCMP_SYS(brk), "malloc"},
    {SCMP_SYS(mmap), "malloc of large blocks, thread arenas"},
    {SCMP_SYS(munmap), "free, VM teardown at exit"},
    {SCMP_SYS(mremap), "realloc (open_memstream of monitor answers)"},
    {SCMP_SYS(mprotect), "malloc arenas of new threads"},
    {SCMP_SYS(madvise), "free of thread stacks and arenas"},
    /* threads, signals, time */
    {SCMP_SYS(futex), "mutexes and condition variables (vCPU thread, devices)"},
    {SCMP_SYS(set_robust_list), "a new thread's start (glibc)"},
    {SCMP_SYS(rseq), "a new thread's start (glibc)"},
    {SCMP_SYS(sched_yield), "spin waits"},
    {SCMP_SYS(gettid), "glibc, logging"},
    {SCMP_SYS(getpid), "glibc (raise, abort)"},
    {SCMP_SYS(tgkill), "kicking the vCPU out of KVM_RUN (pthread_kill); raise"},
    {SCMP_SYS(rt_sigaction), "signal handlers"},
    {SCMP_SYS(rt_sigprocmask), "thread signal masks"},
    {SCMP_SYS(rt_sigreturn), "return from every signal handler"},
    {SCMP_SYS(rt_sigpending), "serial output: was SIGPIPE pending before the write"},
    {SCMP_SYS(rt_sigtimedwait), "serial output: consuming the SIGPIPE of a closed reader"},
    {SCMP_SYS(sigaltstack), "thread exit (glibc), sanitizers"},
    {SCMP_SYS(restart_syscall), "an interrupted sleep resumed"},
    {SCMP_SYS(clock_gettime), "guest time, --timeout, statistics (when not in the vDSO)"},
    {SCMP_SYS(gettimeofday), "time (when not in the vDSO)"},
    {SCMP_SYS(clock_nanosleep), "the BIOS's waits (usleep), pacing"},
    {SCMP_SYS(nanosleep), "usleep"},
    {SCMP_SYS(timerfd_settime), "arming the guest's timers (PIT, LAPIC, RTC)"},
    {SCMP_SYS(timerfd_gettime), "reading them"},
    {SCMP_SYS(getrandom), "glibc's malloc and hash seeds"},
    {SCMP_SYS(exit), "a thread ends"},
    {SCMP_SYS(exit_group), "the process ends"},
};

/* Sanitizer builds (make check's ASan+UBSan flavour, make fuzz) only: LeakSanitizer's
 * check at exit stops the threads with ptrace from a helper process of its own, and the
 * runtimes read /proc. These widen the filter a lot (a process may be created), so they
 * exist only in test builds; a release build has none of them. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANDBOX_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANDBOX_SANITIZER 1
#endif
#endif
#ifdef SANDBOX_SANITIZER
static const int sandbox_sanitizer_allowed[] = {
    SCMP_SYS(sched_getaffinity), SCMP_SYS(prctl), SCMP_SYS(ptrace), SCMP_SYS(wait4),
    SCMP_SYS(getdents64), SCMP_SYS(getdents), SCMP_SYS(readlink), SCMP_SYS(readlinkat), SCMP_SYS(getppid),
    SCMP_SYS(prlimit64), SCMP_SYS(getrlimit), SCMP_SYS(process_vm_readv), SCMP_SYS(kill),
    SCMP_SYS(open), SCMP_SYS(stat), SCMP_SYS(lstat), SCMP_SYS(uname), SCMP_SYS(sched_getparam),
};
#endif

/* ioctl requests allowed: the hw backend's run-time calls, and the terminal's. (The
 * argument comparisons are spelled out: libseccomp's SCMP_A1() macro leaves a field to
 * the compiler, which clang's -Wmissing-field-initializers rejects.) */
static const unsigned long sandbox_ioctls[] = {
    KVM_RUN, KVM_GET_REGS, KVM_SET_REGS, KVM_GET_SREGS, KVM_SET_SREGS, KVM_INTERRUPT,
    KVM_NMI, KVM_SET_GUEST_DEBUG, KVM_IRQ_LINE, KVM_GET_IRQCHIP, KVM_GET_LAPIC,
    KVM_GET_DIRTY_LOG, KVM_SET_USER_MEMORY_REGION, KVM_CHECK_EXTENSION,
    KVM_REGISTER_COALESCED_MMIO, KVM_UNREGISTER_COALESCED_MMIO,   /* the VGA text window */
    TCGETS, TCSETS, TCSETSW, TCSETSF, TIOCGWINSZ,
};

/* The names of the system calls, resolved before the filter goes in: the SIGSYS handler
 * must not call malloc (the trapped call may have been made inside it). */
#define SANDBOX_MAX_NR 512
static const char *syscall_names[SANDBOX_MAX_NR];

static void write_str(const char *s)
{
    ssize_t r = write(STDERR_FILENO, s, strlen(s));
    (void)r;
}

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    int nr = si->si_syscall;
    char num[16];
    int n = 0;
    unsigned v = nr < 0 ? 0u : (unsigned)nr;
    char rev[12];
    do
        rev[n++] = (char)('0' + v % 10);
    while ((v /= 10) && n < (int)sizeof(rev));
    for (int i = 0; i < n; i++)
        num[i] = rev[n - 1 - i];
    num[n] = '\0';
    console_restore();
    write_str("scratchvm: sandbox: forbidden system call ");
    write_str(nr >= 0 && nr < SANDBOX_MAX_NR && syscall_names[nr] ? syscall_names[nr] : "?");
    write_str(" (");
    write_str(num);
    write_str("): the VMM is stopped (--sandbox off runs without the filter)\n");
    _exit(EXIT_SANDBOX);
}

int sandbox_install(bool log_only, char *why, size_t why_size)
{
    return sandbox_install_for(log_only, 0, why, why_size);
}

/* The rules of SANDBOX_NET_USER. */
static int allow_net_user(scmp_filter_ctx ctx)
{
    static const int calls[] = {SCMP_SYS(connect), SCMP_SYS(getsockname),
                                SCMP_SYS(getpeername), SCMP_SYS(accept)};
    int r = 0;
    for (size_t i = 0; r == 0 && i < sizeof(calls) / sizeof(calls[0]); i++)
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, calls[i], 0);
    static const int domains[] = {AF_INET, AF_INET6};
    for (size_t i = 0; r == 0 && i < sizeof(domains) / sizeof(domains[0]); i++)
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
                             (struct scmp_arg_cmp){.arg = 0, .op = SCMP_CMP_EQ,
                                                   .datum_a = (scmp_datum_t)domains[i], .datum_b = 0});
    if (r == 0)
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
                             (struct scmp_arg_cmp){.arg = 1, .op = SCMP_CMP_EQ,
                                                   .datum_a = FIONREAD, .datum_b = 0});
    return r;
}

int sandbox_install_for(bool log_only, unsigned needs, char *why, size_t why_size)
{
    for (int nr = 0; nr < SANDBOX_MAX_NR; nr++)
        syscall_names[nr] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
    struct sigaction sa = {.sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO};
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSYS, &sa, NULL) < 0) {
        snprintf(why, why_size, "sigaction(SIGSYS): %s", strerror(errno));
        return -1;
    }
    scmp_filter_ctx ctx = seccomp_init(log_only ? SCMP_ACT_LOG : SCMP_ACT_TRAP);
    if (!ctx) {
        snprintf(why, why_size, "seccomp_init failed");
        return -1;
    }
    int r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
    const char *what = "seccomp_attr_set(TSYNC)";
    for (size_t i = 0; r == 0 && i < sizeof(sandbox_allowed) / sizeof(sandbox_allowed[0]); i++) {
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, sandbox_allowed[i].nr, 0);
        what = "seccomp_rule_add";
    }
    for (size_t i = 0; r == 0 && i < sizeof(sandbox_ioctls) / sizeof(sandbox_ioctls[0]); i++) {
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
                             (struct scmp_arg_cmp){.arg = 1, .op = SCMP_CMP_EQ,
                                                   .datum_a = sandbox_ioctls[i], .datum_b = 0});
        what = "seccomp_rule_add(ioctl)";
    }
    if (r == 0 && (needs & SANDBOX_NET_USER)) {
        r = allow_net_user(ctx);
        what = "seccomp_rule_add(net user)";
    }
#ifdef SANDBOX_SANITIZER
    for (size_t i = 0; r == 0 && i < sizeof(sandbox_sanitizer_allowed) / sizeof(int); i++)
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, sandbox_sanitizer_allowed[i], 0);
    /* LeakSanitizer's helper is a clone without CLONE_THREAD. */
    if (r == 0)
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 0);
#else
    /* Threads only: a clone without CLONE_THREAD would be a new process. */
    if (r == 0)
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                             (struct scmp_arg_cmp){.arg = 0, .op = SCMP_CMP_MASKED_EQ,
                                                   .datum_a = CLONE_THREAD, .datum_b = CLONE_THREAD});
#endif
    /* clone3 passes its flags in memory, which a filter cannot read: ENOSYS makes glibc
     * use clone instead. */
    if (r == 0)
        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    if (r == 0) {
        what = "seccomp_load";
        r = seccomp_load(ctx);
    }
    seccomp_release(ctx);
    if (r != 0) {
        snprintf(why, why_size, "%s: %s", what, strerror(-r));
        return -1;
    }
    return 0;
}

void sandbox_run_probe(void)
{
    const char *probe = getenv("SCRATCHVM_SANDBOX_PROBE");
    if (probe && strcmp(probe, "execve") == 0) {
        char *const argv[] = {"/nonexistent/scratchvm-sandbox-probe", NULL};
        char *const envp[] = {NULL};
        long r = syscall(SYS_execve, argv[0], argv, envp);
        fprintf(stderr, "scratchvm: sandbox probe: execve returned %ld (%s)\n", r,
                strerror(errno));
    }
}
