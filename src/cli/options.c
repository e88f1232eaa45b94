/* Command-line parsing for scratchvm. Pure: no I/O except cli_print_usage. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/options.h"

/* Order matches the fields of struct kvm_regs (rax ... r15, rip, rflags). */
const char *const cli_reg_names[] = {
    "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp", "r8", "r9",
    "r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags", NULL,
};

void cli_apply_reg(KvmRegs *regs, const CliRegSetting *r)
{
    __u64 *fields[] = {
        &regs->rax, &regs->rbx, &regs->rcx, &regs->rdx, &regs->rsi, &regs->rdi,
        &regs->rsp, &regs->rbp, &regs->r8,  &regs->r9,  &regs->r10, &regs->r11,
        &regs->r12, &regs->r13, &regs->r14, &regs->r15, &regs->rip, &regs->rflags,
    };
    *fields[r->index] = r->value;
}

int cli_parse_number(const char *s, uint64_t *value)
{
    if (!s || !*s || *s == '-' || *s == '+' || isspace((unsigned char)*s))
        return -1;
    int base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
        if (!isxdigit((unsigned char)*s))
            return -1;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, base);
    if (errno || *end)
        return -1;
    *value = v;
    return 0;
}

int cli_parse_size(const char *s, uint64_t *bytes)
{
    if (!s || !isdigit((unsigned char)*s))
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return -1;
    uint64_t unit = 1ull << 20;   /* a bare number is MiB, as in QEMU */
    if (*end) {
        switch (toupper((unsigned char)*end)) {
        case 'K': unit = 1ull << 10; break;
        case 'M': unit = 1ull << 20; break;
        case 'G': unit = 1ull << 30; break;
        default: return -1;
        }
        end++;
        if (*end == 'i')
            end++;
        if (*end == 'B' || *end == 'b')
            end++;
        if (*end)
            return -1;
    }
    if (v > UINT64_MAX / unit)
        return -1;
    *bytes = v * unit;
    return 0;
}

int cli_parse_seconds(const char *s, uint64_t *ms)
{
    /* Digits, then at most three decimals: "10", "0.5", "2.250". No exponent, no sign. */
    uint64_t whole = 0, frac = 0;
    unsigned places = 0;
    const char *p = s;
    if (!*p || *p == '.')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        whole = whole * 10 + (uint64_t)(*p - '0');
        if (whole > 1000000)
            return -1;
    }
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++) {
            if (++places > 3)
                return -1;
            frac = frac * 10 + (uint64_t)(*p - '0');
        }
        if (places == 0)
            return -1;
    }
    if (*p)
        return -1;
    for (; places < 3; places++)
        frac *= 10;
    *ms = whole * 1000 + frac;
    return *ms > 1000000ull * 1000 ? -1 : 0;
}

void cli_entry_to_cs_ip(uint64_t entry, uint16_t *cs, uint16_t *ip)
{
    *cs = (uint16_t)((entry >> 4) & 0xF000);
    *ip = (uint16_t)(entry - (uint64_t)*cs * 16);
}

static int fail(char *err, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, size, fmt, ap);
    va_end(ap);
    return -1;
}

static int parse_reg(const char *arg, CliOptions *opt, char *err, size_t err_size)
{
    const char *eq = strchr(arg, '=');
    if (!eq)
        return fail(err, err_size, "--reg %s: expected NAME=VALUE", arg);
    if (opt->num_regs == CLI_MAX_REGS)
        return fail(err, err_size, "--reg: at most %d settings", CLI_MAX_REGS);
    size_t len = (size_t)(eq - arg);
    for (int i = 0; cli_reg_names[i]; i++) {
        if (strlen(cli_reg_names[i]) == len && strncasecmp(arg, cli_reg_names[i], len) == 0) {
            uint64_t v;
            if (cli_parse_number(eq + 1, &v) < 0)
                return fail(err, err_size, "--reg %s: '%s' is not a number", arg, eq + 1);
            opt->regs[opt->num_regs++] = (CliRegSetting){i, v};
            return 0;
        }
    }
    return fail(err, err_size, "--reg %.*s: unknown register (rax..rdx, rsi, rdi, rsp, rbp, "
                "r8..r15, rip, rflags)", (int)len, arg);
}

enum {
    OPT_LOAD = 256, OPT_ENTRY, OPT_BOOT_SECTOR, OPT_ROM, OPT_REG, OPT_SERIAL, OPT_VGA,
    OPT_TRACE, OPT_ACCEL, OPT_MAX_EXITS, OPT_MONITOR, OPT_MAX_INSNS, OPT_TIMEOUT,
};

static const struct option long_options[] = {
    {"memory", required_argument, NULL, 'm'},
    {"load", required_argument, NULL, OPT_LOAD},
    {"entry", required_argument, NULL, OPT_ENTRY},
    {"boot-sector", no_argument, NULL, OPT_BOOT_SECTOR},
    {"rom", no_argument, NULL, OPT_ROM},
    {"reg", required_argument, NULL, OPT_REG},
    {"serial", required_argument, NULL, OPT_SERIAL},
    {"vga", no_argument, NULL, OPT_VGA},
    {"trace", required_argument, NULL, OPT_TRACE},
    {"accel", required_argument, NULL, OPT_ACCEL},
    {"max-exits", required_argument, NULL, OPT_MAX_EXITS},
    {"max-insns", required_argument, NULL, OPT_MAX_INSNS},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"monitor", required_argument, NULL, OPT_MONITOR},
    {"paused", no_argument, NULL, 'S'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/* One option of run/demo; 1 when it was --help. */
static int parse_option(int c, const char *arg, CliOptions *opt, char *err, size_t err_size)
{
    uint64_t v;
    switch (c) {
    case 'm':
        if (cli_parse_size(arg, &opt->memory) < 0)
            return fail(err, err_size, "-m %s: expected a size such as 16M, 512K or 1G", arg);
        if (opt->memory < VM_MIN_RAM || opt->memory > VM_MAX_RAM || opt->memory % 4096)
            return fail(err, err_size, "-m %s: memory must be a multiple of 4K from 64K to 3G", arg);
        return 0;
    case OPT_LOAD:
        if (cli_parse_number(arg, &opt->load_addr) < 0)
            return fail(err, err_size, "--load %s: expected an address (decimal or 0x...)", arg);
        opt->load_set = true;
        return 0;
    case OPT_ENTRY:
        if (cli_parse_number(arg, &opt->entry) < 0)
            return fail(err, err_size, "--entry %s: expected an address (decimal or 0x...)", arg);
        if (opt->entry >= 0x100000)
            return fail(err, err_size, "--entry %s: a real-mode entry must be below 1 MiB", arg);
        opt->entry_set = true;
        return 0;
    case OPT_BOOT_SECTOR:
        opt->kind = IMAGE_BOOT_SECTOR;
        return 0;
    case OPT_ROM:
        opt->kind = IMAGE_ROM;
        return 0;
    case OPT_REG:
        return parse_reg(arg, opt, err, err_size);
    case OPT_SERIAL:
        if (strcmp(arg, "stdio") == 0) {
            opt->serial = SERIAL_STDIO;
        } else if (strcmp(arg, "none") == 0) {
            opt->serial = SERIAL_NONE;
        } else if (strncmp(arg, "file:", 5) == 0 && arg[5]) {
            opt->serial = SERIAL_FILE;
            opt->serial_path = arg + 5;
        } else {
            return fail(err, err_size, "--serial %s: expected stdio, file:PATH or none", arg);
        }
        return 0;
    case OPT_VGA:
        opt->vga = true;
        return 0;
    case OPT_TRACE:
        if (strcmp(arg, "exits") == 0) {
            opt->trace_exits = true;
        } else if (strcmp(arg, "stats") == 0) {
            opt->trace_stats = true;
        } else if (strcmp(arg, "exits,stats") == 0 || strcmp(arg, "stats,exits") == 0) {
            opt->trace_exits = opt->trace_stats = true;
        } else {
            return fail(err, err_size, "--trace %s: expected exits, stats or exits,stats", arg);
        }
        return 0;
    case OPT_MONITOR:
        if (strcmp(arg, "stdio") == 0) {
            opt->monitor = MONITOR_STDIO;
        } else if (strncmp(arg, "unix:", 5) == 0 && arg[5]) {
            opt->monitor = MONITOR_UNIX;
            opt->monitor_path = arg + 5;
        } else {
            return fail(err, err_size, "--monitor %s: expected stdio or unix:PATH", arg);
        }
        return 0;
    case 'S':
        opt->paused = true;
        return 0;
    case OPT_ACCEL:
        if (strcmp(arg, "kvm") == 0)
            opt->accel = HV_BACKEND_KVM;
        else if (strcmp(arg, "sim") == 0)
            opt->accel = HV_BACKEND_SIM;
        else if (strcmp(arg, "auto") == 0)
            opt->accel = HV_BACKEND_AUTO;
        else
            return fail(err, err_size, "--accel %s: expected kvm, sim or auto", arg);
        return 0;
    case OPT_MAX_EXITS:
        if (cli_parse_number(arg, &v) < 0 || v == 0)
            return fail(err, err_size, "--max-exits %s: expected a positive number", arg);
        opt->max_exits = v;
        return 0;
    case OPT_MAX_INSNS:
        if (cli_parse_number(arg, &v) < 0 || v == 0)
            return fail(err, err_size, "--max-insns %s: expected a positive number", arg);
        opt->max_insns = v;
        return 0;
    case OPT_TIMEOUT:
        if (cli_parse_seconds(arg, &opt->timeout_ms) < 0 || opt->timeout_ms == 0)
            return fail(err, err_size, "--timeout %s: expected seconds, such as 10 or 0.5 "
                        "(at least 0.001, at most 1000000)", arg);
        return 0;
    case 'h':
        return 1;
    default:
        return fail(err, err_size, "unknown option (see scratchvm --help)");
    }
}

static int check_combination(CliOptions *opt, char *err, size_t err_size)
{
    if (opt->kind == IMAGE_BOOT_SECTOR && (opt->load_set || opt->entry_set))
        return fail(err, err_size, "--boot-sector loads at 0x7C00: it takes no --load or --entry");
    if (opt->kind == IMAGE_ROM && (opt->load_set || opt->entry_set))
        return fail(err, err_size, "--rom starts at the reset vector: it takes no --load or --entry");
    if (opt->paused && opt->monitor == MONITOR_NONE)
        return fail(err, err_size, "-S starts the VM stopped: it needs a --monitor to continue it");
    if (opt->command == CMD_DEMO && opt->kind != IMAGE_FLAT)
        return fail(err, err_size, "demos are flat binaries: no --boot-sector or --rom");
    if (!opt->entry_set) {
        if (opt->load_set && opt->load_addr >= 0x100000)
            return fail(err, err_size, "--load above 1 MiB needs an --entry below 1 MiB");
        opt->entry = opt->load_set ? opt->load_addr : 0;
    }
    return 0;
}

/* The message for getopt_long's ':' (missing argument) or '?' (bad option). `last` is
 * the last argument getopt consumed: the culprit for a long option, but for a short one
 * in a group ("-Zq") the group may not be finished and `last` is an earlier argument, so
 * a short option is named by optopt. glibc sets optopt to 0 for an unknown long option
 * and to the option's value for a long option given an argument it does not take. */
static int option_error(int c, const char *last, char *err, size_t err_size)
{
    bool long_opt = strncmp(last, "--", 2) == 0;
    if (long_opt && optopt != 0) {
        /* Is `last` the long option whose value optopt is ("--vga=1", "--help=x")? */
        size_t len = strcspn(last + 2, "=");
        for (const struct option *o = long_options; o->name; o++)
            if (o->val == optopt && strncmp(o->name, last + 2, len) == 0) {
                if (c == ':')
                    return fail(err, err_size, "--%s needs an argument", o->name);
                return fail(err, err_size, "--%s takes no argument (see scratchvm --help)",
                            o->name);
            }
        long_opt = false;   /* no: a short option after it */
    }
    if (long_opt || optopt == 0 || optopt > 255) {
        if (c == ':')
            return fail(err, err_size, "%s needs an argument", last);
        return fail(err, err_size, "unknown option '%s' (see scratchvm --help)", last);
    }
    if (c == ':')
        return fail(err, err_size, "-%c needs an argument", optopt);
    return fail(err, err_size, "unknown option '-%c' (see scratchvm --help)", optopt);
}

int cli_parse(int argc, char **argv, CliOptions *opt, char *err, size_t err_size)
{
    *opt = (CliOptions){.memory = 16ull << 20, .serial = SERIAL_STDIO, .accel = HV_BACKEND_AUTO};
    err[0] = '\0';
    if (argc < 2)
        return fail(err, err_size, "missing command (see scratchvm --help)");
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        opt->command = CMD_HELP;
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        opt->command = CMD_VERSION;
        return 0;
    }
    if (strcmp(cmd, "info") == 0) {
        opt->command = CMD_INFO;
        if (argc > 2)
            return fail(err, err_size, "info takes no arguments");
        return 0;
    }
    if (strcmp(cmd, "run") == 0)
        opt->command = CMD_RUN;
    else if (strcmp(cmd, "demo") == 0)
        opt->command = CMD_DEMO;
    else
        return fail(err, err_size, "unknown command '%s' (see scratchvm --help)", cmd);

    /* getopt_long over argv[1..]: options and the one operand in any order. */
    int sub_argc = argc - 1;
    char **sub_argv = argv + 1;
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(sub_argc, sub_argv, ":m:hVS", long_options, NULL)) != -1) {
        if (c == ':' || c == '?')
            return option_error(c, sub_argv[optind - 1], err, err_size);
        if (c == 'V') {
            opt->command = CMD_VERSION;
            return 0;
        }
        int r = parse_option(c, optarg, opt, err, err_size);
        if (r < 0)
            return -1;
        if (r == 1) {
            opt->command = CMD_HELP;
            return 0;
        }
    }
    int operands = sub_argc - optind;
    const char *what = opt->command == CMD_RUN ? "run needs one FILE" : "demo needs a name: hello or add";
    if (operands != 1)
        return fail(err, err_size, "%s%s", what, operands > 1 ? " (too many arguments)" : "");
    opt->file = sub_argv[optind];
    if (opt->command == CMD_DEMO && strcmp(opt->file, "hello") != 0 && strcmp(opt->file, "add") != 0)
        return fail(err, err_size, "unknown demo '%s': hello or add", opt->file);
    return check_combination(opt, err, err_size);
}

void cli_print_usage(FILE *out)
{
    fputs(
        "Usage: scratchvm run [options] FILE     run a bare-metal x86 program in a VM\n"
        "       scratchvm demo hello|add [options]\n"
        "       scratchvm info                   hypervisor types, CPU and KVM facts\n"
        "       scratchvm --help | --version\n"
        "\n"
        "FILE is a flat binary loaded at 0 and started in real mode at 0000:0000.\n"
        "\n"
        "Options of run and demo:\n"
        "  -m, --memory SIZE      guest RAM: 64K to 3G, suffix K, M or G (default 16M;\n"
        "                         a bare number is MiB)\n"
        "  --load ADDR            load FILE at guest-physical ADDR (default 0)\n"
        "  --entry ADDR           start at linear ADDR below 1 MiB, as CS = (ADDR >> 4) & 0xF000,\n"
        "                         IP = ADDR - CS * 16 (default: the load address)\n"
        "  --boot-sector          FILE is a 512-byte boot sector (0x55AA signature):\n"
        "                         load it at 0x7C00 and start at 0000:7C00\n"
        "  --rom                  FILE is firmware of up to 256 KiB: read-only, ending at 1 MiB\n"
        "                         and at 4 GiB; start from the reset vector F000:FFF0\n"
        "  --reg NAME=VALUE       set a register before the start (rax..r15, rip, rflags);\n"
        "                         repeatable\n"
        "  --serial stdio|file:PATH|none\n"
        "                         where COM1 (0x3F8) goes (default stdio: the terminal)\n"
        "  --vga                  print the VGA text screen when the VM stops\n"
        "  --trace exits|stats|exits,stats\n"
        "                         exits: one line per VM exit on stderr; stats: at the end,\n"
        "                         exits per reason with share and handling time on stderr\n"
        "  --monitor stdio|unix:PATH\n"
        "                         the QEMU-style monitor: on the console (Ctrl-A c switches\n"
        "                         between it and the serial port), or on a Unix socket that\n"
        "                         takes one command a line and answers in plain text\n"
        "  -S, --paused           start with the vCPU stopped, until the monitor's cont\n"
        "  --accel kvm|sim|auto   the kernel under the VM: Linux KVM, the software model of\n"
        "                         VT-x, or KVM when usable (default auto)\n"
        "  --max-exits N          stop after N VM exits\n"
        "  --max-insns N          stop after N guest instructions (sim only: the software\n"
        "                         backend counts them; an exception delivery counts as one)\n"
        "  --timeout S            stop after S seconds of wall-clock time (e.g. 10 or 0.5)\n"
        "  -h, --help             show this help\n"
        "\n"
        "Devices: 16550A UART at 0x3F8, VGA text at 0xB8000 (cursor at 0x3D4/0x3D5),\n"
        "isa-debug-exit at 0xF4 (a write of V exits with status (V << 1) | 1), debug console\n"
        "at 0xE9.\n"
        "\n"
        "Keys on a terminal: Ctrl-A x quits, Ctrl-A h lists the keys, Ctrl-A c switches\n"
        "between the serial console and the monitor (with --monitor stdio), Ctrl-A Ctrl-A\n"
        "sends Ctrl-A to the guest. Monitor commands: help, info registers|status|cpus|mem|\n"
        "tlb|ept|vmcs|exits, x /fmt addr, xp /fmt addr, stop, cont, step [n], system_reset,\n"
        "quit.\n"
        "\n"
        "Exit status: 0 when the guest halts (or on Ctrl-A x); (V << 1) | 1 when it writes V\n"
        "to the debug-exit port; 2 usage error; 4 FILE unreadable; 6 FILE invalid or too big;\n"
        "8 VM cannot be created (e.g. no accelerator); 10 guest triple fault; 12 invalid guest\n"
        "state or internal error; 14 --max-exits reached; 16 host error; 18 --max-insns\n"
        "reached; 20 --timeout reached; 128+N on signal N.\n",
        out);
}
