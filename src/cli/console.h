/* The terminal as a VM console: raw mode that is always undone, and QEMU's Ctrl-A keys. */
#ifndef SCRATCHVM_CLI_CONSOLE_H
#define SCRATCHVM_CLI_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONSOLE_ESCAPE 0x01   /* Ctrl-A */

typedef enum {
    CONSOLE_NOTHING,   /* swallowed (the escape key itself, or an unknown escape) */
    CONSOLE_SEND,      /* give *out to the guest */
    CONSOLE_QUIT,      /* Ctrl-A x */
    CONSOLE_HELP,      /* Ctrl-A h */
    CONSOLE_SWITCH,    /* Ctrl-A c: between the serial console and the monitor */
} ConsoleAction;

typedef struct {
    bool escape_pending;
} ConsoleEscape;

/* Feeds one byte typed on the console. */
ConsoleAction console_escape_feed(ConsoleEscape *st, uint8_t byte, uint8_t *out);

extern const char console_help_text[];

/* Puts the terminal on fd in raw mode (no echo, no line editing, no signals; output
 * processing kept so that "\n" still starts a line) and arranges for it to be restored at
 * exit and on a fatal signal (SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL, which then end
 * the process as before). 0 on success, -1 when fd is not a terminal. */
int console_raw_enable(int fd);
/* Writes all n bytes of s to fd, going on after EINTR and short writes; gives up
 * silently on an error (a terminal that went away). */
void console_write_all(int fd, const char *s, size_t n);
/* Restores the terminal; async-signal-safe, idempotent. */
void console_restore(void);
/* A full-screen display registers the bytes that undo it on fd (a static string); they
 * are written by console_leave_screen, which console_restore and the fatal-signal
 * handler call first: the screen is left on every way out. */
void console_set_leave_sequence(int fd, const char *seq);
/* Writes the leave sequence once (async-signal-safe); nothing when none is set. */
void console_leave_screen(void);

#endif
