/* Raw-mode terminal and the Ctrl-A escape keys. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli/console.h"

const char console_help_text[] =
    "\r\n"
    "C-a h    print this help\r\n"
    "C-a x    exit emulator\r\n"
    "C-a c    switch between console and monitor\r\n"
    "C-a C-a  sends C-a\r\n";

ConsoleAction console_escape_feed(ConsoleEscape *st, uint8_t byte, uint8_t *out)
{
    if (!st->escape_pending) {
        if (byte == CONSOLE_ESCAPE) {
            st->escape_pending = true;
            return CONSOLE_NOTHING;
        }
        *out = byte;
        return CONSOLE_SEND;
    }
    st->escape_pending = false;
    switch (byte) {
    case CONSOLE_ESCAPE:
        *out = CONSOLE_ESCAPE;
        return CONSOLE_SEND;
    case 'x': case 'X':
        return CONSOLE_QUIT;
    case 'h': case 'H': case '?':
        return CONSOLE_HELP;
    case 'c': case 'C':
        return CONSOLE_SWITCH;
    default:
        return CONSOLE_NOTHING;
    }
}

/* The one terminal of this process: saved once, restored on every way out. */
static struct termios saved_termios;
static int saved_fd = -1;
/* What undoes a full-screen display (the alternate screen, hidden cursor), written
 * before the settings are restored; NULL when there is none. */
static const char *volatile leave_sequence;
static int leave_fd = -1;

void console_set_leave_sequence(int fd, const char *seq)
{
    leave_fd = fd;
    leave_sequence = seq;
}

/* Async-signal-safe: write(2) only, once. */
void console_leave_screen(void)
{
    const char *seq = leave_sequence;
    leave_sequence = NULL;
    if (seq) {
        size_t n = strlen(seq);
        while (n) {
            ssize_t w = write(leave_fd, seq, n);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break;
            seq += w;
            n -= (size_t)w;
        }
    }
}

void console_restore(void)
{
    console_leave_screen();
    if (saved_fd >= 0) {
        tcsetattr(saved_fd, TCSAFLUSH, &saved_termios);
        saved_fd = -1;
    }
}

/* The signals that end the process without atexit (a crash, an abort): the terminal is
 * restored in their handler, then the action they had before (the default, or a
 * sanitizer's report) takes them. */
static const int fatal_signals[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL};
#define FATAL_SIGNALS (sizeof fatal_signals / sizeof fatal_signals[0])
static struct sigaction fatal_previous[FATAL_SIGNALS];

/* Async-signal-safe calls only: write, tcsetattr, sigaction, raise. */
static void on_fatal_signal(int sig, siginfo_t *info, void *context)
{
    (void)context;
    int saved_errno = errno;
    console_leave_screen();
    if (saved_fd >= 0)
        tcsetattr(saved_fd, TCSANOW, &saved_termios);   /* no wait for pending output */
    for (size_t i = 0; i < FATAL_SIGNALS; i++)
        if (fatal_signals[i] == sig)
            sigaction(sig, &fatal_previous[i], NULL);
    /* A fault the CPU raised comes again when this returns, to the previous action; a
     * signal that was sent (kill, raise, abort) is sent again, delivered on return. */
    if (info->si_code <= 0)
        raise(sig);
    errno = saved_errno;
}

static void catch_fatal_signals(void)
{
    for (size_t i = 0; i < FATAL_SIGNALS; i++) {
        struct sigaction sa = {.sa_sigaction = on_fatal_signal, .sa_flags = SA_SIGINFO};
        sigemptyset(&sa.sa_mask);
        sigaction(fatal_signals[i], &sa, &fatal_previous[i]);
    }
}

void console_write_all(int fd, const char *s, size_t n)
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

int console_raw_enable(int fd)
{
    struct termios t;
    if (!isatty(fd) || tcgetattr(fd, &t) < 0)
        return -1;
    saved_termios = t;
    t.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
    t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
    t.c_cflag &= ~(tcflag_t)(CSIZE | PARENB);
    t.c_cflag |= CS8;
    t.c_oflag |= OPOST;   /* the guest's "\n" still returns the carriage */
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    if (tcsetattr(fd, TCSAFLUSH, &t) < 0)
        return -1;
    saved_fd = fd;
    static int registered;
    if (!registered++) {
        atexit(console_restore);
        catch_fatal_signals();
    }
    return 0;
}
