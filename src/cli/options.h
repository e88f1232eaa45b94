/* The scratchvm command line, parsed into a struct with no side effects (unit-tested). */
#ifndef SCRATCHVM_CLI_OPTIONS_H
#define SCRATCHVM_CLI_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hypervisor_sim.h"

/* Exit statuses. Even numbers, because the debug-exit port's (value << 1) | 1 is odd. */
enum {
    EXIT_OK = 0,
    EXIT_USAGE = 2,            /* bad command line */
    EXIT_IMAGE_UNREADABLE = 4, /* the guest file cannot be read */
    EXIT_IMAGE_INVALID = 6,    /* too large, empty, no boot signature, does not fit */
    EXIT_VM_SETUP = 8,         /* no accelerator, no memory, VM creation failed */
    EXIT_GUEST_SHUTDOWN = 10,  /* triple fault */
    EXIT_GUEST_FAILED = 12,    /* invalid guest state or an internal error of the kernel */
    EXIT_MAX_EXITS = 14,       /* --max-exits reached */
    EXIT_HOST_ERROR = 16,      /* the VMM failed while running */
    EXIT_MAX_INSNS = 18,       /* --max-insns reached (sim) */
    EXIT_TIMEOUT = 20,         /* --timeout reached */
};

typedef enum { CMD_NONE, CMD_RUN, CMD_DEMO, CMD_INFO, CMD_HELP, CMD_VERSION } CliCommand;
typedef enum { SERIAL_STDIO, SERIAL_FILE, SERIAL_NONE } SerialMode;
typedef enum { IMAGE_FLAT, IMAGE_BOOT_SECTOR, IMAGE_ROM } ImageKind;
typedef enum { MONITOR_NONE, MONITOR_STDIO, MONITOR_UNIX } MonitorMode;

#define CLI_MAX_REGS 32

typedef struct {
    int index;        /* which struct kvm_regs field, see cli_reg_names */
    uint64_t value;
} CliRegSetting;

typedef struct {
    CliCommand command;
    const char *file;         /* run: the image; demo: the demo's name */
    ImageKind kind;
    uint64_t memory;          /* bytes */
    uint64_t load_addr;
    bool load_set;
    uint64_t entry;           /* linear */
    bool entry_set;
    CliRegSetting regs[CLI_MAX_REGS];
    int num_regs;
    SerialMode serial;
    const char *serial_path;
    bool vga;
    bool trace_exits;
    bool trace_stats;         /* --trace stats: exit statistics on stderr at the end */
    MonitorMode monitor;
    const char *monitor_path; /* --monitor unix:PATH */
    bool paused;              /* -S: start with the vCPU stopped */
    HvBackend accel;
    uint64_t max_exits;
    uint64_t max_insns;       /* --max-insns: guest instructions (sim), 0 none */
    uint64_t timeout_ms;      /* --timeout: wall-clock milliseconds, 0 none */
} CliOptions;

/* Parses argv; on a usage error writes a one-line message into err and returns -1. */
int cli_parse(int argc, char **argv, CliOptions *opt, char *err, size_t err_size);

/* "16M", "512K", "1G", "64" (MiB, as QEMU's -m) → bytes; -1 when malformed. */
int cli_parse_size(const char *s, uint64_t *bytes);
/* Decimal or 0x hexadecimal, the whole string; -1 when malformed or out of range. */
int cli_parse_number(const char *s, uint64_t *value);
/* Seconds with up to three decimals ("10", "0.5") → milliseconds; -1 when malformed or
 * above 1000000 s. */
int cli_parse_seconds(const char *s, uint64_t *ms);
/* Real-mode CS:IP for a linear entry address below 1 MiB. */
void cli_entry_to_cs_ip(uint64_t entry, uint16_t *cs, uint16_t *ip);
/* Applies a setting to regs. */
void cli_apply_reg(KvmRegs *regs, const CliRegSetting *r);
extern const char *const cli_reg_names[];

void cli_print_usage(FILE *out);

#endif
