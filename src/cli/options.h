/* The scratchvm command line, parsed into a struct with no side effects (unit-tested). */
#ifndef SCRATCHVM_CLI_OPTIONS_H
#define SCRATCHVM_CLI_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hypervisor_sim.h"
#include "net/net.h"

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
    EXIT_SANDBOX = 22,         /* the sandbox stopped a forbidden system call */
};

typedef enum { CMD_NONE, CMD_RUN, CMD_DEMO, CMD_INFO, CMD_HELP, CMD_VERSION, CMD_DIFF } CliCommand;
typedef enum { SERIAL_STDIO, SERIAL_FILE, SERIAL_NONE, SERIAL_CHARDEV } SerialMode;
typedef enum { IMAGE_FLAT, IMAGE_BOOT_SECTOR, IMAGE_ROM } ImageKind;
typedef enum { MONITOR_NONE, MONITOR_STDIO, MONITOR_UNIX } MonitorMode;
typedef enum { QMP_NONE, QMP_UNIX, QMP_TCP } QmpMode;
typedef enum { DISPLAY_NONE, DISPLAY_CURSES } DisplayMode;

#define CLI_MAX_REGS 32
#define CLI_MAX_DRIVES 4
#define CLI_MAX_PCI_DEVICES 16

typedef enum { DRIVE_IF_IDE, DRIVE_IF_FLOPPY } DriveInterface;

/* One disk: -drive file=F[,format=raw|qcow2][,if=floppy|ide][,index=N][,snapshot=on]
 * [,media=disk|cdrom], -fda F, -hda F or -cdrom F. */
typedef struct {
    const char *file;         /* points into argv, or into CliOptions.drive_args */
    int format;               /* BlockFormat: 0 auto */
    DriveInterface iface;
    int index;                /* -1: the next free one */
    bool snapshot;
    bool cdrom;               /* -cdrom F or media=cdrom: the BIOS's CD drive (E0h), read-only */
} CliDrive;

/* A disk for a virtio-blk device: -drive file=F,if=virtio[,...] (a device of its own), or
 * -drive id=D,if=none,file=F[,...] for -device virtio-blk-pci,drive=D. */
#define CLI_MAX_VDRIVES 4
typedef struct {
    const char *file;         /* points into CliOptions.vdrive_args */
    const char *id;           /* "" when none; points into vdrive_args */
    int format;               /* BlockFormat: 0 auto */
    bool snapshot, read_only;
    bool if_virtio;           /* if=virtio: its own device; if=none: a -device uses it */
    bool used;                /* a -device took it (cli_check_virtio) */
} CliVirtioDrive;

/* A network back end: -netdev user|tap,id=N,..., or the one of -nic. */
#define CLI_MAX_NETDEVS 4
typedef enum { CLI_NETDEV_USER, CLI_NETDEV_TAP } CliNetdevKind;
typedef struct {
    CliNetdevKind kind;
    char id[32];
    char ifname[16];          /* tap: IFNAMSIZ */
    NetUserConfig user;       /* user: hostfwd=, restrict= */
    bool used;
} CliNetdev;

/* A virtio PCI device, in command-line order: -device virtio-{blk,net,rng}-pci, and the
 * ones -drive if=virtio and -nic make. */
#define CLI_MAX_VIRTIO 8
typedef enum { CLI_VIRTIO_BLK, CLI_VIRTIO_NET, CLI_VIRTIO_RNG } CliVirtioKind;
typedef struct {
    CliVirtioKind kind;
    char drive_id[32];        /* blk: -device's drive=ID, resolved into drive */
    char netdev_id[32];       /* net: -device's netdev=ID, resolved into netdev */
    int drive, netdev;        /* indexes into vdrives / netdevs, -1 before the check */
    uint8_t mac[6];
    bool mac_set;
    char serial[21];          /* blk: serial= (GET_ID's 20 bytes) */
} CliVirtioDevice;

/* A QEMU character device (-chardev, or -serial/-debugcon/-monitor's shorthand for one):
 * where a serial port, the debug console or the monitor reads and writes. */
typedef enum {
    CHR_NONE,    /* not given */
    CHR_STDIO, CHR_FILE, CHR_NULL,
    CHR_UNIX,    /* a Unix socket: path, server, wait */
    CHR_TCP,     /* host, port, server, wait */
    CHR_PTY,     /* a pseudo-terminal, its name printed as QEMU prints it */
    CHR_REF,     /* chardev:ID, resolved by cli_check_qemu */
} CliCharKind;

typedef struct {
    CliCharKind kind;
    char id[32];          /* -chardev's id=, or the ID that chardev:ID names */
    char path[108];       /* file or socket path (sun_path's size) */
    char host[64];        /* tcp: "" is every address (server) or localhost (client) */
    uint16_t port;
    bool server, wait;
} CliChardev;

#define CLI_MAX_CHARDEVS 8

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
    const char *monitor_path; /* --monitor unix:PATH (points into monitor_buf) */
    char monitor_buf[108];    /* the PATH of unix:PATH[,server,nowait]; sun_path's size */
    /* An option that names the image itself (-bios FILE) sets file and this, its name;
     * run then takes no FILE operand. */
    const char *file_option;
    bool monitor_mux;         /* -serial mon:stdio: serial first, Ctrl-A c to the monitor */
    bool paused;              /* -S: start with the vCPU stopped */
    HvBackend accel;
    uint64_t max_exits;
    uint64_t max_insns;       /* --max-insns: guest instructions (sim), 0 none */
    uint64_t timeout_ms;      /* --timeout: wall-clock milliseconds, 0 none */
    const char *kernel;       /* -kernel FILE (then FILE operand is not used) */
    const char *initrd;       /* -initrd FILE[ ARGS][,FILE[ ARGS]...] */
    const char *append;       /* -append CMDLINE */
    CliDrive drives[CLI_MAX_DRIVES];
    int num_drives;
    char drive_args[CLI_MAX_DRIVES][512];   /* -drive strings, cut at commas */
    const char *boot_order;   /* -boot a|c|d|order=...: "acd" by default */
    bool snapshot;            /* -snapshot: every disk writes to a temporary overlay */
    bool pc_testdev;          /* -device pc-testdev */
    /* -device NAME[,...] of a PCI kind (vm_pci_device_known): the arguments, in order. */
    const char *pci_devices[CLI_MAX_PCI_DEVICES];
    int num_pci_devices;
    bool trace_bios;          /* --trace bios: one line per BIOS call, and the unsupported */
    /* -no-shutdown: when the guest ends (halt with IF=0, triple fault, internal error),
     * stop the vCPU and keep the VMM (and its monitor) running, as QEMU does. */
    bool no_shutdown;
    /* -no-reboot: a triple fault ends the VM instead of resetting the vCPU to its start
     * state (svm->reset_on_shutdown, done by the vCPU thread). */
    bool no_reboot;
    /* -no-acpi: no ACPI tables; an MP table describes the CPU and IOAPIC instead. */
    bool no_acpi;
    unsigned smp;             /* -smp: vCPUs (0: the default, 1) */
    VmClockMode clock;        /* --clock */
    bool kernel_irqchip;      /* --irqchip kernel */
    const char *gdb;          /* -gdb tcp:[HOST]:PORT | unix:PATH; -s: tcp::1234 */
    unsigned log_items;       /* -d: VM_LOG_* */
    const char *log_file;     /* -D FILE: the log and the exit trace (default stderr) */
    bool magic_break;         /* --magic-break: XCHG BX,BX stops the VM (sim) */
    bool step;                /* diff --step: compare after every instruction */
    bool accel_set;           /* --accel was given */
    bool sandbox_off;         /* --sandbox off: no seccomp filter (sandbox.h) */
    bool sandbox_log;         /* --sandbox log: forbidden calls logged (audit), not stopped */
    /* QEMU's machine and character-device options (options_qemu.c). */
    CliChardev chardevs[CLI_MAX_CHARDEVS];   /* -chardev BACKEND,id=ID,... */
    int num_chardevs;
    int num_serials;          /* -serial options given: the first is COM1, the second COM2 */
    CliChardev serial_chr[2]; /* COM1 when serial is SERIAL_CHARDEV; COM2 (CHR_NONE: none) */
    CliChardev monitor_chr;   /* -monitor chardev:ID, resolved into monitor by the check */
    CliChardev debugcon;      /* -debugcon: port 0xE9's output (CHR_NONE: stdout, as before) */
    uint16_t debugcon_port;   /* -device isa-debugcon,iobase=N: the console there too (0: none) */
    int cpu_model;            /* -cpu: 1 + index into cli_cpu_models; 0 not given */
    uint64_t cpu_plus, cpu_minus;   /* -cpu's +flag and -flag (CLI_CPU_F_*) */
    bool nodefaults;          /* -nodefaults: no default serial port or VGA output */
    bool daemonize;           /* -daemonize: detach once the VM is set up */
    bool vga_none;            /* -vga none: no VGA text output (no --vga screen, screendump) */
    bool serial_given;        /* some -serial was given (-nodefaults keeps it) */
    char name[64];            /* -name [guest=]NAME: the monitor's info name */
    char process_name[16];    /* -name ...,process=NAME: the thread's name (comm) */
    int rtc_base;             /* -rtc base=: CLI_RTC_UTC, _LOCALTIME or _DATE */
    int64_t rtc_date;         /* base=DATE: seconds since 1970, UTC */
    const char *pidfile;      /* -pidfile FILE */
    /* -qmp unix:PATH|tcp:[HOST]:PORT[,server,nowait]: QMP on a listening socket. */
    QmpMode qmp;
    char qmp_path[108];       /* unix: sun_path's size */
    char qmp_host[64];        /* tcp: "" is every address */
    char qmp_port[8];
    bool qmp_wait;            /* server without nowait: the VM waits for the first client */
    DisplayMode display;      /* -display curses: the VGA text screen on the terminal */
    bool nographic;           /* -nographic: no display (the serial port stays on stdio) */
    /* virtio devices and their back ends (options_virtio.c). */
    CliVirtioDrive vdrives[CLI_MAX_VDRIVES];
    int num_vdrives;
    char vdrive_args[CLI_MAX_VDRIVES][512];
    CliNetdev netdevs[CLI_MAX_NETDEVS];
    int num_netdevs;
    CliVirtioDevice virtio[CLI_MAX_VIRTIO];
    int num_virtio;
} CliOptions;

enum { CLI_RTC_UTC, CLI_RTC_LOCALTIME, CLI_RTC_DATE };

/* One option of run and demo: its spellings, its argument and what it sets. Every name
 * is accepted with one dash or two (QEMU's "-serial" and the GNU "--serial"), and an
 * argument either as the next word or after '=' ("--memory=16M"). Adding an option is
 * one entry of cli_option_table (options.c) and, when it needs one, a handler. */
typedef struct CliOptionSpec CliOptionSpec;

/* What a handler gets: where to write a one-line error, and the option as the user
 * wrote it (so messages say "-monitor" or "--monitor" as typed). */
typedef struct {
    char *buf;
    size_t size;
    const char *spelled;
} CliError;

/* Writes the formatted message to err and returns -1 (a handler's failure). */
int cli_failf(CliError *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Applies one option; arg is NULL for a flag. Returns 0, 1 to stop parsing (--help,
 * --version: the command is set), or -1 with a message in err. */
typedef int (*CliOptionFn)(CliOptions *opt, const char *arg, const CliOptionSpec *spec,
                           CliError *err);

struct CliOptionSpec {
    const char *names;   /* as --help shows them, e.g. "-m, --memory"; ", "-separated */
    const char *arg;     /* the argument's name in --help; NULL: a flag */
    CliOptionFn apply;
    int value;           /* a constant for handlers shared by several options */
    const char *help;    /* --help text; '\n' starts an indented line; NULL: not listed */
};

extern const CliOptionSpec cli_option_table[];

/* Parses argv; on a usage error writes a one-line message into err and returns -1. */
int cli_parse(int argc, char **argv, CliOptions *opt, char *err, size_t err_size);

/* "16M", "512K", "1G", "1T", "64" (MiB, as QEMU's -m) → bytes; -EINVAL when malformed,
 * -ERANGE when it does not fit in 64 bits. */
int cli_parse_size(const char *s, uint64_t *bytes);
/* Decimal or 0x hexadecimal, the whole string; -EINVAL when malformed, -ERANGE when it
 * does not fit in 64 bits. */
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
