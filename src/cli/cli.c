/*
 * The scratchvm command: parses the command line, builds a SimpleVM, runs its vCPU in a
 * thread of its own while this thread owns the terminal (input to COM1, Ctrl-A keys,
 * signals), and turns how the VM stopped into an exit status.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/console.h"
#include "cli/options.h"

extern const unsigned char demo_hello[], demo_add[];
extern const size_t demo_hello_size, demo_add_size;

static void error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("scratchvm: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* Reads a whole image of at most `limit` bytes. Returns an exit status (0 when read). */
static int read_image(const char *path, uint64_t limit, uint8_t **data, size_t *size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        error("%s: %s", path, strerror(errno));
        return EXIT_IMAGE_UNREADABLE;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || S_ISDIR(st.st_mode)) {
        error("%s: %s", path, S_ISDIR(st.st_mode) ? "is a directory" : strerror(errno));
        close(fd);
        return EXIT_IMAGE_UNREADABLE;
    }
    size_t cap = 64 * 1024, len = 0;
    uint8_t *buf = malloc(cap);
    int status = 0;
    for (;;) {
        if (!buf) {
            error("%s: out of memory", path);
            status = EXIT_HOST_ERROR;
            break;
        }
        if (len == cap) {
            if (len > limit)
                break;
            uint8_t *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                buf = NULL;
                continue;
            }
            buf = bigger;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            error("%s: %s", path, strerror(errno));
            status = EXIT_IMAGE_UNREADABLE;
            break;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    if (status == 0 && len > limit) {
        error("%s: too large: more than %llu bytes", path, (unsigned long long)limit);
        status = EXIT_IMAGE_INVALID;
    } else if (status == 0 && len == 0) {
        error("%s: empty file", path);
        status = EXIT_IMAGE_INVALID;
    }
    if (status) {
        free(buf);
        return status;
    }
    *data = buf;
    *size = len;
    return 0;
}

/* Loads the image as the options say and sets the start registers. */
static int load_guest(SimpleVM *svm, const CliOptions *opt, const uint8_t *image, size_t size)
{
    const char *name = opt->file;
    int r;
    uint64_t entry = opt->entry;
    switch (opt->kind) {
    case IMAGE_ROM:
        if ((r = vm_load_rom(svm, image, size)) < 0) {
            error("%s: %s", name, hv_last_error());
            return r == -EFBIG ? EXIT_IMAGE_INVALID : EXIT_VM_SETUP;
        }
        break;
    case IMAGE_BOOT_SECTOR:
        if (size != 512) {
            error("%s: a boot sector is 512 bytes, this file has %zu", name, size);
            return EXIT_IMAGE_INVALID;
        }
        if (image[510] != 0x55 || image[511] != 0xAA) {
            error("%s: no boot signature (bytes 510-511 are %02x %02x, not 55 aa)", name,
                  image[510], image[511]);
            return EXIT_IMAGE_INVALID;
        }
        entry = 0x7C00;
        /* fall through */
    case IMAGE_FLAT: {
        uint64_t addr = opt->kind == IMAGE_BOOT_SECTOR ? 0x7C00 : opt->load_addr;
        if (vm_load_code(svm, image, size, addr) < 0) {
            error("%s: %s", name, hv_last_error());
            return EXIT_IMAGE_INVALID;
        }
        uint16_t cs, ip;
        cli_entry_to_cs_ip(entry, &cs, &ip);
        svm->vcpu->sregs.cs.selector = cs;
        svm->vcpu->sregs.cs.base = (uint64_t)cs << 4;
        svm->vcpu->regs.rip = ip;
        break;
    }
    }
    for (int i = 0; i < opt->num_regs; i++)
        cli_apply_reg(&svm->vcpu->regs, &opt->regs[i]);
    return 0;
}

/* ---- running: the vCPU thread and the console loop ---- */

static int signal_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    if (write(signal_pipe[1], &b, 1) < 0) {
        /* the pipe is full: a stop is already on its way */
    }
    errno = saved;
}

typedef struct {
    SimpleVM *svm;
    int done_fd;      /* written when vm_run returns */
} VcpuThread;

static void *vcpu_main(void *arg)
{
    VcpuThread *t = arg;
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    sigaddset(&block, SIGQUIT);
    pthread_sigmask(SIG_BLOCK, &block, NULL);
    vm_run(t->svm);
    unsigned char b = 1;
    while (write(t->done_fd, &b, 1) < 0 && errno == EINTR) {
    }
    return NULL;
}

static void install_signal_handlers(void)
{
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaction(sigs[i], &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static void write_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

/* The console side of a running VM: keys typed for the guest wait here until its UART
 * takes them. */
typedef struct {
    SimpleVM *svm;
    bool input_open;      /* stdin still gives input for the guest */
    bool escapes;         /* stdin is the terminal: Ctrl-A keys, keys are never held back */
    bool stopping;
    ConsoleEscape esc;
    uint8_t pending[SERIAL_INPUT_CAPACITY];
    size_t pending_len;
    uint64_t dropped;     /* keys typed beyond the backlog (a UART overrun) */
} Console;

static void console_stop(Console *c)
{
    if (!c->stopping) {
        c->stopping = true;
        vm_request_stop(c->svm);
    }
}

static void console_queue(Console *c, uint8_t byte)
{
    if (c->pending_len < sizeof(c->pending))
        c->pending[c->pending_len++] = byte;
    else
        c->dropped++;
}

/* Reads what stdin has and sorts it into keys for the guest and console commands. */
static void console_read(Console *c)
{
    uint8_t in[256];
    ssize_t n = read(STDIN_FILENO, in, sizeof(in));
    if (n < 0 && errno == EINTR)
        return;
    if (n <= 0) {
        c->input_open = false;   /* end of input: the guest keeps running */
        return;
    }
    for (ssize_t i = 0; i < n; i++) {
        uint8_t key = in[i];
        if (!c->escapes) {
            console_queue(c, key);
            continue;
        }
        switch (console_escape_feed(&c->esc, in[i], &key)) {
        case CONSOLE_SEND:
            console_queue(c, key);
            break;
        case CONSOLE_QUIT:
            console_stop(c);
            break;
        case CONSOLE_HELP:
            write_all(STDOUT_FILENO, console_help_text, strlen(console_help_text));
            break;
        case CONSOLE_NOTHING:
            break;
        }
    }
}

static void console_feed_guest(Console *c)
{
    size_t sent = serial_receive(c->svm->serial, c->pending, c->pending_len);
    memmove(c->pending, c->pending + sent, c->pending_len - sent);
    c->pending_len -= sent;
}

/* Runs the VM to its end while serving the console: input for COM1, Ctrl-A keys on a
 * terminal, and signals, all in one poll so that none of them waits for another. A
 * terminal is always read (Ctrl-A x must work while the guest ignores its input); a pipe
 * is read only once the guest has taken what came before. Returns the signal that ended
 * the run, 0, or -1 when the run could not start. */
static int run_with_console(SimpleVM *svm, bool console_input, bool escapes)
{
    int done[2];
    if (pipe2(done, O_CLOEXEC) < 0 || pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
        error("pipe: %s", strerror(errno));
        return -1;
    }
    install_signal_handlers();
    VcpuThread t = {svm, done[1]};
    pthread_t thread;
    if (pthread_create(&thread, NULL, vcpu_main, &t) != 0) {
        error("cannot start the vCPU thread");
        return -1;
    }
    Console *c = calloc(1, sizeof(*c));
    if (!c) {
        vm_request_stop(svm);
        pthread_join(thread, NULL);
        error("out of memory");
        return -1;
    }
    *c = (Console){.svm = svm, .input_open = console_input, .escapes = escapes};
    int stop_signal = 0;
    for (;;) {
        bool read_stdin = c->input_open && (c->escapes || c->pending_len == 0);
        struct pollfd fds[3] = {
            {done[0], POLLIN, 0},
            {signal_pipe[0], POLLIN, 0},
            {read_stdin ? STDIN_FILENO : -1, POLLIN, 0},
        };
        /* While keys wait, look again shortly: the guest frees its queue by reading. */
        int timeout_ms = c->pending_len && !c->stopping ? 10 : -1;
        if (poll(fds, 3, timeout_ms) < 0 && errno != EINTR)
            break;
        if (fds[0].revents)
            break;
        if (fds[1].revents & POLLIN) {
            unsigned char sig;
            if (read(signal_pipe[0], &sig, 1) == 1 && !stop_signal)
                stop_signal = sig;
            console_stop(c);
        }
        if (fds[2].revents & (POLLIN | POLLHUP | POLLERR))
            console_read(c);
        if (c->pending_len && !c->stopping)
            console_feed_guest(c);
    }
    pthread_join(thread, NULL);
    close(done[0]);
    close(done[1]);
    if (c->dropped)
        error("warning: %llu typed keys were dropped: the guest did not read them",
              (unsigned long long)c->dropped);
    free(c);
    return stop_signal;
}

static int exit_status(SimpleVM *svm, const CliOptions *opt, int stop_signal)
{
    if (stop_signal)
        return 128 + stop_signal;
    switch (svm->stop_reason) {
    case VM_STOP_HLT:
    case VM_STOP_REQUESTED:
    case VM_STOP_STEPPED:
        return EXIT_OK;
    case VM_STOP_DEBUG_EXIT:
        return (int)((svm->debug_exit_value << 1) | 1) & 0xFF;
    case VM_STOP_SHUTDOWN:
        return EXIT_GUEST_SHUTDOWN;
    case VM_STOP_FAIL_ENTRY:
    case VM_STOP_INTERNAL_ERROR:
        return EXIT_GUEST_FAILED;
    case VM_STOP_MAX_EXITS:
        error("stopped after %llu exits (--max-exits)", (unsigned long long)opt->max_exits);
        return EXIT_MAX_EXITS;
    case VM_STOP_NONE:
    case VM_STOP_ERROR:
        break;
    }
    return EXIT_HOST_ERROR;
}

static int cmd_run(const CliOptions *opt)
{
    uint8_t *image = NULL;
    size_t size = 0;
    int status;
    if (opt->command == CMD_DEMO) {
        bool hello = strcmp(opt->file, "hello") == 0;
        size = hello ? demo_hello_size : demo_add_size;
        image = malloc(size);
        if (!image)
            return EXIT_HOST_ERROR;
        memcpy(image, hello ? demo_hello : demo_add, size);
    } else {
        uint64_t limit = opt->kind == IMAGE_ROM ? VM_MAX_ROM : opt->memory;
        if ((status = read_image(opt->file, limit, &image, &size)) != 0)
            return status;
    }

    SimpleVM *svm = vm_create_bytes(opt->memory, opt->accel);
    if (!svm) {
        error("cannot create the VM: %s", hv_last_error());
        free(image);
        return EXIT_VM_SETUP;
    }
    int serial_fd = -1;
    if (opt->serial == SERIAL_STDIO) {
        serial_fd = STDOUT_FILENO;
    } else if (opt->serial == SERIAL_FILE) {
        serial_fd = open(opt->serial_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (serial_fd < 0) {
            error("--serial file:%s: %s", opt->serial_path, strerror(errno));
            status = EXIT_USAGE;
            goto out;
        }
    }
    svm->serial->output_fd = serial_fd;

    if ((status = load_guest(svm, opt, image, size)) != 0)
        goto out;
    if (opt->command == CMD_DEMO && strcmp(opt->file, "add") == 0 && opt->num_regs == 0) {
        svm->vcpu->regs.rax = 40;   /* the demo's sum, unless --reg says otherwise */
        svm->vcpu->regs.rbx = 2;
    }
    svm->trace = opt->trace_exits ? stderr : NULL;
    svm->max_exits = opt->max_exits;

    bool interactive = opt->serial == SERIAL_STDIO && console_raw_enable(STDIN_FILENO) == 0;
    int stop_signal = run_with_console(svm, opt->serial == SERIAL_STDIO, interactive);
    console_restore();
    if (stop_signal < 0) {
        status = EXIT_HOST_ERROR;
        goto out;
    }
    if (opt->vga) {
        fflush(stdout);
        vga_display_to(svm->vga, stdout);
        fflush(stdout);
    }
    status = exit_status(svm, opt, stop_signal);
out:
    if (serial_fd > STDERR_FILENO)
        close(serial_fd);
    vm_destroy(svm);
    free(image);
    return status;
}

/* Without fds 0-2, /dev/kvm and guest files would take their numbers and the guest's
 * console output would be written into them. */
static void ensure_standard_fds(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
            int null = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
            if (null >= 0 && null != fd) {
                dup2(null, fd);
                close(null);
            }
        }
    }
}

int cli_main(int argc, char **argv)
{
    ensure_standard_fds();
    CliOptions opt;
    char err[256];
    if (cli_parse(argc, argv, &opt, err, sizeof(err)) < 0) {
        error("%s", err);
        return EXIT_USAGE;
    }
    switch (opt.command) {
    case CMD_HELP:
        cli_print_usage(stdout);
        return EXIT_OK;
    case CMD_VERSION:
        printf("scratchvm %s\n", SCRATCHVM_VERSION);
        return EXIT_OK;
    case CMD_INFO: {
        print_hypervisor_types_to(stdout);
        putchar('\n');
        CpuVirtCaps caps = check_cpu_virt_support();
        print_cpu_virt_caps(stdout, &caps);
        return EXIT_OK;
    }
    case CMD_RUN:
    case CMD_DEMO:
        return cmd_run(&opt);
    case CMD_NONE:
        break;
    }
    return EXIT_USAGE;
}
