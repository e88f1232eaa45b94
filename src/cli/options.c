/* Command-line parsing for scratchvm. Pure: no I/O except cli_print_usage. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/options.h"
#include "cli/options_qemu.h"
#include "cli/options_virtio.h"

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
        return -EINVAL;
    int base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
        if (!isxdigit((unsigned char)*s))
            return -EINVAL;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, base);
    if (*end)
        return -EINVAL;
    if (errno == ERANGE)
        return -ERANGE;
    if (errno)
        return -EINVAL;
    *value = v;
    return 0;
}

int cli_parse_size(const char *s, uint64_t *bytes)
{
    if (!s || !isdigit((unsigned char)*s))
        return -EINVAL;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    bool too_big = errno == ERANGE;
    uint64_t unit = 1ull << 20;   /* a bare number is MiB, as in QEMU */
    if (*end) {
        switch (toupper((unsigned char)*end)) {
        case 'K': unit = 1ull << 10; break;
        case 'M': unit = 1ull << 20; break;
        case 'G': unit = 1ull << 30; break;
        case 'T': unit = 1ull << 40; break;
        default: return -EINVAL;
        }
        end++;
        if (*end == 'i')
            end++;
        if (*end == 'B' || *end == 'b')
            end++;
        if (*end)
            return -EINVAL;
    }
    if (too_big || v > UINT64_MAX / unit)
        return -ERANGE;
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

/* "OPTION ARG: why", naming the option as the user spelled it. */
static int bad_value(CliError *e, const char *arg, const char *why)
{
    return fail(e->buf, e->size, "%s %s: %s", e->spelled, arg, why);
}

/* ---- the handlers: one per kind of option, in the order of the table ---- */

static int opt_memory(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e)
{
    (void)spec;
    const char *size = strncmp(arg, "size=", 5) == 0 ? arg + 5 : arg;   /* QEMU's -m size=N */
    int r = cli_parse_size(size, &opt->memory);
    if (r == -ERANGE || (r == 0 && opt->memory > VM_MAX_RAM))
        return bad_value(e, arg, "too large: guest RAM is at most 3G (64K to 3G)");
    if (r < 0)
        return bad_value(e, arg, "expected a size such as 16M, 512K or 1G");
    if (opt->memory < VM_MIN_RAM)
        return bad_value(e, arg, "too small: guest RAM is at least 64K (64K to 3G)");
    if (opt->memory % 4096)
        return bad_value(e, arg, "guest RAM is a multiple of 4K (64K to 3G)");
    return 0;
}

static int opt_address(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e)
{
    uint64_t v;
    if (cli_parse_number(arg, &v) < 0)
        return bad_value(e, arg, "expected an address (decimal or 0x...)");
    if (spec->value == 'l') {
        opt->load_addr = v;
        opt->load_set = true;
        return 0;
    }
    if (v >= 0x100000)
        return bad_value(e, arg, "a real-mode entry must be below 1 MiB");
    opt->entry = v;
    opt->entry_set = true;
    return 0;
}

static int opt_kind(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e)
{
    (void)arg, (void)e;
    opt->kind = (ImageKind)spec->value;
    return 0;
}

/* -bios FILE: QEMU names the firmware image with the option, so FILE is the image. */
static int opt_bios(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e)
{
    (void)spec;
    if (opt->file_option)
        return bad_value(e, arg, "the image is already named");
    opt->file_option = "-bios";
    opt->file = arg;
    opt->kind = IMAGE_ROM;
    return 0;
}

static int opt_reg(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e)
{
    (void)spec;
    const char *eq = strchr(arg, '=');
    if (!eq)
        return bad_value(e, arg, "expected NAME=VALUE");
    if (opt->num_regs == CLI_MAX_REGS)
        return fail(e->buf, e->size, "%s: at most %d settings", e->spelled, CLI_MAX_REGS);
    size_t len = (size_t)(eq - arg);
    for (int i = 0; cli_reg_names[i]; i++) {
        if (strlen(cli_reg_names[i]) == len && strncasecmp(arg, cli_reg_names[i], len) == 0) {
            uint64_t v;
            int r = cli_parse_number(eq + 1, &v);
            if (r == -ERANGE)
                return fail(e->buf, e->size, "%s %s: '%s' is out of range (64 bits at most)",
                            e->spelled, arg, eq + 1);
            if (r < 0)
                return fail(e->buf, e->size, "%s %s: '%s' is not a number", e->spelled, arg,
                            eq + 1);
            opt->regs[opt->num_regs++] = (CliRegSetting){i, v};
            return 0;
        }
    }
    return fail(e->buf, e->size, "%s %.*s: unknown register (rax..rdx, rsi, rdi, rsp, rbp, "
                "r8..r15, rip, rflags)", e->spelled, (int)len, arg);
}

/* -serial: the first is COM1, a second COM2 (QEMU's serial0, serial1). Besides the
 * spellings below, a character device (tcp:, unix:, pty, chardev:ID: options_qemu.c). */
static int opt_serial(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e)
{
    (void)spec;
    int port = opt->num_serials++;
    opt->serial_given = true;
    if (port >= 2)
        return bad_value(e, arg, "at most two serial ports (COM1 at 0x3f8, COM2 at 0x2f8)");
    if (port == 1) {
        int r = cli_parse_serial_chardev(opt, arg, &opt->serial_chr[1], e);
        if (r > 0)
            return bad_value(e, arg, "COM2 takes file:PATH, null, none, pty, tcp:HOST:PORT, "
                             "unix:PATH or chardev:ID");
        return r;
    }
    if (strcmp(arg, "stdio") == 0) {
        opt->serial = SERIAL_STDIO;
    } else if (strcmp(arg, "mon:stdio") == 0) {
        /* QEMU: the serial port and the monitor share the terminal (Ctrl-A c). */
        opt->serial = SERIAL_STDIO;
        opt->monitor = MONITOR_STDIO;
        opt->monitor_mux = true;
    } else if (strcmp(arg, "none") == 0 || strcmp(arg, "null") == 0) {
        opt->serial = SERIAL_NONE;
    } else if (strncmp(arg, "file:", 5) == 0 && arg[5]) {
        opt->serial = SERIAL_FILE;
        opt->serial_path = arg + 5;
    } else {
        int r = cli_parse_serial_chardev(opt, arg, &opt->serial_chr[0], e);
        if (r > 0)
            return bad_value(e, arg, "expected stdio, mon:stdio, file:PATH, none, pty, "
                             "tcp:[HOST]:PORT[,server,nowait], unix:PATH or chardev:ID");
        if (r == 0)
            opt->serial = SERIAL_CHARDEV;
        return r;
    }
    return 0;
}

static int opt_flag(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e)
{
    (void)arg, (void)e;
    switch (spec->value) {
    case 'v': opt->vga = true; break;
    case 'S': opt->paused = true; break;
    case 'k':                                        /* -enable-kvm */
        opt->accel = HV_BACKEND_KVM;
        opt->accel_set = true;
        break;
    case 'r': opt->no_reboot = true; break;
    case 'A': opt->no_acpi = true; break;
    case 's': opt->no_shutdown = true; break;
    case 'M': opt->magic_break = true; break;
    case 'T': opt->step = true; break;
    case 'N': opt->nographic = true; break;
    default: break;                                  /* accepted, nothing to change */
    }
    return 0;
}

/* -display none (no display: the default) or curses (the VGA text screen on the
 * terminal); QEMU's graphical displays are not there. */
static int opt_display(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e)
{
    (void)spec;
    if (strcmp(arg, "none") == 0)
        opt->display = DISPLAY_NONE;
    else if (strcmp(arg, "curses") == 0)
        opt->display = DISPLAY_CURSES;
    else
        return bad_value(e, arg, "only 'none' or 'curses' (the VGA text screen on the terminal)");
    return 0;
}

/* A comma-separated list of exits, stats and bios. */
static int opt_trace(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e)
{
    (void)spec;
    if (!*arg)
        return bad_value(e, arg, "expected exits, stats or bios");
    for (const char *p = arg; *p;) {
        size_t len = strcspn(p, ",");
        if (len == 5 && strncmp(p, "exits", 5) == 0)
            opt->trace_exits = true;
        else if (len == 5 && strncmp(p, "stats", 5) == 0)
            opt->trace_stats = true;
        else if (len == 4 && strncmp(p, "bios", 4) == 0)
            opt->trace_bios = true;
        else
            return bad_value(e, arg, "expected exits, stats, bios or a comma-separated list of "
                             "them");
        p += len;
        if (*p == ',' && *++p == '\0')
            return bad_value(e, arg, "empty item");
    }
    return 0;
}

/* -kernel, -initrd, -append: strings kept for the loader. */
static int opt_kernel(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e)
{
    (void)e;
    const char **field = spec->value == 'k' ? &opt->kernel
                         : spec->value == 'i' ? &opt->initrd : &opt->append;
    *field = arg;
    return 0;
}

/* -drive KEY=VALUE,... (QEMU's keys file, format, if, index, snapshot, media), -fda, -hda,
 * -cdrom. */
static int opt_drive(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e)
{
    if (spec->value == 'd' && cli_drive_is_virtio(arg))
        return opt_drive_virtio(opt, arg, e);   /* a virtio-blk disk, not the BIOS's */
    if (opt->num_drives == CLI_MAX_DRIVES)
        return fail(e->buf, e->size, "%s: at most %d disks", e->spelled, CLI_MAX_DRIVES);
    CliDrive *d = &opt->drives[opt->num_drives];
    *d = (CliDrive){.iface = spec->value == 'f' ? DRIVE_IF_FLOPPY : DRIVE_IF_IDE,
                    .index = spec->value == 'd' ? -1 : 0, .cdrom = spec->value == 'r'};
    if (spec->value != 'd') {
        if (!*arg)
            return bad_value(e, arg, "needs a file");
        d->file = arg;
        opt->num_drives++;
        return 0;
    }
    char *buf = opt->drive_args[opt->num_drives];
    if (strlen(arg) >= sizeof(opt->drive_args[0]))
        return bad_value(e, "...", "too long");
    strcpy(buf, arg);
    for (char *save = NULL, *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq)
            return fail(e->buf, e->size, "%s %s: '%s' is not KEY=VALUE", e->spelled, arg, kv);
        *eq = '\0';
        const char *v = eq + 1;
        uint64_t n;
        if (strcmp(kv, "file") == 0 && *v) {
            d->file = v;
        } else if (strcmp(kv, "format") == 0 && (strcmp(v, "raw") == 0 || strcmp(v, "qcow2") == 0)) {
            d->format = strcmp(v, "raw") == 0 ? 1 : 2;   /* BLOCK_FORMAT_RAW / _QCOW2 */
        } else if (strcmp(kv, "if") == 0 && (strcmp(v, "floppy") == 0 || strcmp(v, "ide") == 0)) {
            d->iface = strcmp(v, "floppy") == 0 ? DRIVE_IF_FLOPPY : DRIVE_IF_IDE;
        } else if (strcmp(kv, "index") == 0 && cli_parse_number(v, &n) == 0 && n < 2) {
            d->index = (int)n;
        } else if (strcmp(kv, "snapshot") == 0 && (strcmp(v, "on") == 0 || strcmp(v, "off") == 0)) {
            d->snapshot = strcmp(v, "on") == 0;
        } else if (strcmp(kv, "media") == 0 && (strcmp(v, "disk") == 0 || strcmp(v, "cdrom") == 0)) {
            d->cdrom = strcmp(v, "cdrom") == 0;
        } else {
            return fail(e->buf, e->size, "%s: %s=%s is not supported (file=, format=raw|qcow2, "
                        "if=floppy|ide, index=0|1, snapshot=on|off, media=disk|cdrom)", e->spelled,
                        kv, v);
        }
    }
    if (!d->file)
        return bad_value(e, arg, "no file=");
    if (d->cdrom && d->iface == DRIVE_IF_FLOPPY)
        return bad_value(e, arg, "a CD-ROM is not a floppy (media=cdrom takes if=ide)");
    opt->num_drives++;
    return 0;
}

static int opt_boot(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e)
{
    (void)spec;
    const char *order = strncmp(arg, "order=", 6) == 0 ? arg + 6 : arg;
    if (!*order || strlen(order) > 4 || strspn(order, "acd") != strlen(order))
        return bad_value(e, arg, "expected letters a (floppy), c (disk), d (CD-ROM), e.g. d or cad");
    opt->boot_order = order;
    return 0;
}

static int opt_snapshot(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e)
{
    (void)arg, (void)spec, (void)e;
    opt->snapshot = true;
    return 0;
}

/* Is s, from p on, only QEMU's socket properties that describe what ScratchVM does anyway
 * (a listening server that does not wait for a client)? */
static bool server_properties_only(const char *p)
{
    static const char *const ok[] = {"server", "server=on", "nowait", "wait=off", NULL};
    while (*p == ',') {
        p++;
        size_t len = strcspn(p, ",");
        bool known = false;
        for (int i = 0; ok[i]; i++)
            known |= strlen(ok[i]) == len && strncmp(p, ok[i], len) == 0;
        if (!known)
            return false;
        p += len;
    }
    return *p == '\0';
}

static int opt_monitor(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e)
{
    (void)spec;
    if (strcmp(arg, "stdio") == 0) {
        opt->monitor = MONITOR_STDIO;
    } else if (strcmp(arg, "none") == 0) {
        opt->monitor = MONITOR_NONE;
    } else if (strncmp(arg, "chardev:", 8) == 0 && arg[8]) {
        /* resolved by cli_check_qemu, once every -chardev is known */
        if (cli_parse_serial_chardev(opt, arg, &opt->monitor_chr, e) != 0)
            return -1;
    } else if (strncmp(arg, "unix:", 5) == 0 && arg[5] && arg[5] != ',') {
        /* unix:PATH[,server][,nowait]: the path ends at the first comma, as in QEMU. */
        size_t len = strcspn(arg + 5, ",");
        if (!server_properties_only(arg + 5 + len))
            return bad_value(e, arg, "a unix: monitor takes only ,server and ,nowait");
        if (len >= sizeof(opt->monitor_buf))
            return bad_value(e, arg, "the path is too long");
        memcpy(opt->monitor_buf, arg + 5, len);
        opt->monitor_buf[len] = '\0';
        opt->monitor = MONITOR_UNIX;
        opt->monitor_path = opt->monitor_buf;
    } else {
        return bad_value(e, arg, "expected stdio, unix:PATH, chardev:ID or none");
    }
    return 0;
}

/* -qmp's socket properties (QEMU's): the socket listens in every case here; as a server
 * (server, server=on) it waits for its first client before the VM starts, unless nowait
 * or wait=off. 0, or -1 for anything else. */
static int qmp_properties(const char *p, bool *wait)
{
    static const struct { const char *name; int server, wait; } props[] = {
        {"server", 1, -1}, {"server=on", 1, -1}, {"nowait", -1, 0}, {"wait=off", -1, 0},
        {"wait", -1, 1}, {"wait=on", -1, 1},
    };
    bool server = false, w = true;
    while (*p == ',') {
        p++;
        size_t len = strcspn(p, ",");
        size_t i = 0, n = sizeof(props) / sizeof(props[0]);
        while (i < n && !(strlen(props[i].name) == len && strncmp(p, props[i].name, len) == 0))
            i++;
        if (i == n)
            return -1;
        if (props[i].server >= 0)
            server = props[i].server;
        if (props[i].wait >= 0)
            w = props[i].wait;
        p += len;
    }
    *wait = server && w;
    return *p == '\0' ? 0 : -1;
}

/* -qmp unix:PATH[,server][,nowait] | tcp:[HOST]:PORT[,server][,nowait] (also server=on,
 * wait=on|off): a listening socket; with server and no nowait, as QEMU, the VM starts
 * once the first client has connected. */
static int opt_qmp(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e)
{
    (void)spec;
    bool unix_socket = strncmp(arg, "unix:", 5) == 0, tcp = strncmp(arg, "tcp:", 4) == 0;
    const char *rest = arg + (unix_socket ? 5 : 4);
    size_t len = strcspn(rest, ",");
    if ((!unix_socket && !tcp) || len == 0)
        return bad_value(e, arg, "expected unix:PATH,server[,nowait] or tcp:[HOST]:PORT,server[,nowait]");
    if (qmp_properties(rest + len, &opt->qmp_wait) < 0)
        return bad_value(e, arg, "a QMP socket takes only ,server and ,nowait (or server=on, "
                         "wait=on|off)");
    if (unix_socket) {
        if (len >= sizeof(opt->qmp_path))
            return bad_value(e, arg, "the path is too long");
        memcpy(opt->qmp_path, rest, len);
        opt->qmp_path[len] = '\0';
        opt->qmp = QMP_UNIX;
        return 0;
    }
    const char *colon = memrchr(rest, ':', len);
    size_t hlen = colon ? (size_t)(colon - rest) : 0, plen = colon ? len - hlen - 1 : 0;
    if (!colon || plen == 0 || plen >= sizeof(opt->qmp_port) || hlen >= sizeof(opt->qmp_host) ||
        strspn(colon + 1, "0123456789") < plen)
        return bad_value(e, arg, "expected tcp:[HOST]:PORT");
    if (hlen >= 2 && rest[0] == '[' && rest[hlen - 1] == ']') {   /* [::1]: IPv6 */
        memcpy(opt->qmp_host, rest + 1, hlen - 2);
        opt->qmp_host[hlen - 2] = '\0';
    } else {
        memcpy(opt->qmp_host, rest, hlen);
        opt->qmp_host[hlen] = '\0';
    }
    memcpy(opt->qmp_port, colon + 1, plen);
    opt->qmp_port[plen] = '\0';
    opt->qmp = QMP_TCP;
    return 0;
}

static int opt_accel(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e)
{
    (void)spec;
    opt->accel_set = true;
    size_t len = strcspn(arg, ",");   /* QEMU's -accel NAME[,prop=value...] */
    if (arg[len])
        return bad_value(e, arg, "accelerator properties are not supported");
    if (strcmp(arg, "kvm") == 0)
        opt->accel = HV_BACKEND_KVM;
    else if (strcmp(arg, "sim") == 0 || strcmp(arg, "tcg") == 0)   /* tcg: QEMU's software CPU */
        opt->accel = HV_BACKEND_SIM;
    else if (strcmp(arg, "auto") == 0)
        opt->accel = HV_BACKEND_AUTO;
    else
        return bad_value(e, arg, "expected kvm, sim (or tcg) or auto");
    return 0;
}

static int opt_clock(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e)
{
    (void)spec;
    if (strcmp(arg, "host") == 0)
        opt->clock = VM_CLOCK_HOST;
    else if (strcmp(arg, "virtual") == 0)
        opt->clock = VM_CLOCK_VIRTUAL;
    else
        return bad_value(e, arg, "expected host or virtual");
    return 0;
}

static int opt_sandbox(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e)
{
    (void)spec;
    opt->sandbox_off = opt->sandbox_log = false;
    if (strcmp(arg, "off") == 0)
        opt->sandbox_off = true;
    else if (strcmp(arg, "log") == 0)
        opt->sandbox_log = true;
    else if (strcmp(arg, "on") != 0)
        return bad_value(e, arg, "expected on, off or log");
    return 0;
}

static int opt_irqchip(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e)
{
    (void)spec;
    if (strcmp(arg, "user") == 0)
        opt->kernel_irqchip = false;
    else if (strcmp(arg, "kernel") == 0)
        opt->kernel_irqchip = true;
    else
        return bad_value(e, arg, "expected user or kernel");
    return 0;
}

/* --max-exits N and --max-insns N: a positive count; spec->value says which ('e', 'i'). */
static int opt_limit(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e)
{
    uint64_t v;
    if (cli_parse_number(arg, &v) < 0 || v == 0)
        return bad_value(e, arg, "expected a positive number");
    if (spec->value == 'i')
        opt->max_insns = v;
    else
        opt->max_exits = v;
    return 0;
}

static int opt_timeout(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e)
{
    (void)spec;
    if (cli_parse_seconds(arg, &opt->timeout_ms) < 0 || opt->timeout_ms == 0)
        return bad_value(e, arg, "expected seconds, such as 10 or 0.5 (at least 0.001, at "
                         "most 1000000)");
    return 0;
}

/* -s (spec->value 's': QEMU's tcp::1234) and -gdb tcp:[HOST]:PORT | unix:PATH. */
static int opt_gdb(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e)
{
    if (spec->value == 's') {
        opt->gdb = "tcp::1234";
        return 0;
    }
    if (strncmp(arg, "tcp:", 4) != 0 && (strncmp(arg, "unix:", 5) != 0 || !arg[5]))
        return bad_value(e, arg, "expected tcp:[HOST]:PORT or unix:PATH");
    opt->gdb = arg;
    return 0;
}

/* -d ITEM,... with QEMU's item names (VM_LOG_*); -D FILE. */
static int opt_log(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e)
{
    if (spec->value == 'D') {
        opt->log_file = arg;
        return 0;
    }
    static const struct { const char *name; unsigned bit; } names[] = {
        {"int", VM_LOG_INT}, {"cpu_reset", VM_LOG_CPU_RESET},
        {"guest_errors", VM_LOG_GUEST_ERRORS}, {"exits", VM_LOG_EXITS}, {"bios", VM_LOG_BIOS},
    };
    for (const char *p = arg; *p;) {
        size_t len = strcspn(p, ",");
        bool found = false;
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
            if (strlen(names[i].name) == len && strncmp(p, names[i].name, len) == 0) {
                opt->log_items |= names[i].bit;
                found = true;
            }
        if (!found)
            return fail(e->buf, e->size, "%s %s: unknown item '%.*s' (int, cpu_reset, "
                        "guest_errors, exits, bios)", e->spelled, arg, (int)len, p);
        p += len + (p[len] == ',');
    }
    return 0;
}

static int opt_command(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e)
{
    (void)arg, (void)e;
    opt->command = (CliCommand)spec->value;
    return 1;
}

/* Every option of run and demo, in --help's order. */
const CliOptionSpec cli_option_table[] = {
    {"-m, --memory", "SIZE", opt_memory, 0,
     "guest RAM: 64K to 3G, suffix K, M or G (default 128M, as QEMU;\na bare number is MiB)"},
    {"--load", "ADDR", opt_address, 'l', "load FILE at guest-physical ADDR (default 0)"},
    {"--entry", "ADDR", opt_address, 'e',
     "start at linear ADDR below 1 MiB, as CS = (ADDR >> 4) & 0xF000,\n"
     "IP = ADDR - CS * 16 (default: the load address)"},
    {"--boot-sector", NULL, opt_kind, IMAGE_BOOT_SECTOR,
     "FILE is a 512-byte boot sector (0x55AA signature):\nload it at 0x7C00 and start at 0000:7C00"},
    {"--rom", NULL, opt_kind, IMAGE_ROM,
     "FILE is firmware of up to 256 KiB: read-only, ending at 1 MiB\n"
     "and at 4 GiB; start from the reset vector F000:FFF0"},
    {"-bios", "FILE", opt_bios, 0,
     "FILE is the firmware (SeaBIOS), as --rom FILE but in RAM below\n"
     "1 MiB, with fw_cfg's etc/e820, -hda/-hdb and -cdrom (ATAPI) on\n"
     "IDE and -fda in the floppy controller (no other FILE)"},
    {"--reg", "NAME=VALUE", opt_reg, 0,
     "set a register before the start (rax..r15, rip, rflags);\nrepeatable"},
    {"-serial, --serial", "stdio|mon:stdio|file:PATH|none|pty|tcp:..|unix:..|chardev:ID",
     opt_serial, 0,
     "where COM1 (0x3F8) goes (default stdio: the terminal;\n"
     "mon:stdio: the terminal, shared with the monitor; pty: a new\n"
     "pseudo-terminal; tcp:[HOST]:PORT[,server,nowait], unix:PATH[,server,\n"
     "nowait]: a socket). A second -serial is COM2 (0x2F8, IRQ3)"},
    {"--vga", NULL, opt_flag, 'v', "print the VGA text screen when the VM stops"},
    {"-nographic", NULL, opt_flag, 'N', "no display: the serial port on the terminal (the default)"},
    {"-display", "none|curses", opt_display, 0,
     "curses: the VGA text screen live on the terminal (colours,\n"
     "cursor; keys go to the PS/2 keyboard, COM1's output is not\n"
     "shown; Ctrl-A x quits); none: no display (the default)"},
    {"-kernel", "FILE", opt_kernel, 'k',
     "boot a kernel instead of FILE: Linux bzImage (boot protocol\n"
     "2.06+), multiboot v1 (ELF or a.out kludge) or ELF32, entered in\n"
     "32-bit protected mode as its format says"},
    {"-initrd", "F[ ARGS][,F...]", opt_kernel, 'i',
     "multiboot modules (each with its string), or Linux's initrd"},
    {"-append", "CMDLINE", opt_kernel, 'a', "the kernel command line"},
    {"-drive", "file=F[,format=raw|qcow2][,if=floppy|ide|virtio|none][,index=0|1]"
     "[,snapshot=on][,media=cdrom][,id=D][,readonly=on]", opt_drive,
     'd', "a disk for the built-in BIOS (int 13h); without FILE the BIOS\n"
     "boots (POST, then int 19h); with --boot-sector FILE the sector\n"
     "starts at once with the BIOS and disks there. if=virtio: a\n"
     "virtio-blk-pci disk instead (served on an I/O thread; the BIOS\n"
     "does not boot it); if=none,id=D: one for -device virtio-blk-pci"},
    {"-fda", "F", opt_drive, 'f', "the first floppy disk (-drive file=F,if=floppy)"},
    {"-hda", "F", opt_drive, 'h', "the first hard disk (-drive file=F,if=ide)"},
    {"-cdrom", "F", opt_drive, 'r', "a CD image (ISO 9660, raw or qcow2), read-only, as the BIOS's\n"
     "drive E0h; bootable through El Torito (-drive file=F,media=cdrom)"},
    {"-boot", "[order=]a|c|d...", opt_boot, 0, "boot order of int 19h: a floppy, c disk, d CD-ROM\n"
     "(default acd: the first one that boots)"},
    {"-snapshot", NULL, opt_snapshot, 0, "disks write to a temporary overlay, never to their files"},
    {"-device", "pc-testdev|isa-debug-exit[,iobase=0xf4,iosize=N]|virtio-blk-pci,drive=D"
     "[,serial=S]|virtio-net-pci,netdev=N[,mac=MAC]|virtio-rng-pci|PCI[,...]", opt_device, 0,
     "QEMU's test device (ports 0xe0-0xe4, 0x2000-0x2017, I/O memory\n"
     "at 0xff000000), as kvm-unit-tests use it; isa-debug-exit is\n"
     "always at 0xf4 (numbers compare as numbers: 0x04 = 4); or a\n"
     "PCI device in the next free slot of bus 0 (info pci lists them):\n"
     "virtio 1.0 devices (modern interface only, no legacy I/O BAR): a\n"
     "disk of -drive id=D,if=none, a NIC on -netdev N (MAC by default\n"
     "52:54:00:12:34:56, then :57...), random bytes from getrandom"},
    {"-netdev", "user,id=N[,hostfwd=[tcp|udp]:[HADDR]:HPORT-[GADDR]:GPORT][,restrict=on]"
     "|tap,id=N,ifname=T[,script=no,downscript=no]", opt_netdev, 0,
     "a network back end: user is libslirp's user-mode network (the\n"
     "guest gets 10.0.2.15 by DHCP, the host is 10.0.2.2, DNS 10.0.2.3;\n"
     "hostfwd= forwards a host port to the guest); tap is the host's tap\n"
     "device T (it must exist, or run as root; no scripts are run)"},
    {"-nic", "user|tap[,...netdev properties][,model=virtio-net-pci][,mac=MAC]|none", opt_nic, 0,
     "a virtio-net-pci NIC and its back end in one (the model is always\n"
     "virtio-net-pci: QEMU's default e1000 is not emulated)"},
    {"--trace", "exits|stats|bios[,...]", opt_trace, 0,
     "exits: one line per VM exit on stderr (and one per batch of\n"
     "VGA writes taken from the coalesced MMIO ring); stats: at the\n"
     "end, exits per reason with share and handling time on stderr;\n"
     "bios: one line per BIOS call, unsupported ones counted"},
    {"-monitor, --monitor", "stdio|unix:PATH[,server,nowait]|none", opt_monitor, 0,
     "the QEMU-style monitor: on the console (Ctrl-A c switches\n"
     "between it and the serial port; from a pipe, commands come from\n"
     "stdin), or on a Unix socket that takes one command a line and\n"
     "answers in plain text. With a monitor the VMM outlives the guest:\n"
     "a halt, a triple fault or an internal error stops the vCPU for\n"
     "inspection, and quit ends the VMM (with the guest's exit status)"},
    {"-qmp", "unix:PATH,server[,nowait]|tcp:[HOST]:PORT,server[,nowait]", opt_qmp, 0,
     "QMP, QEMU's JSON protocol, on a listening socket (one client at\n"
     "a time). Without nowait (or wait=off) the VM starts once the\n"
     "first client has connected, as QEMU's. As with a monitor, the\n"
     "VMM outlives the guest until quit"},
    {"-S, --paused", NULL, opt_flag, 'S',
     "start with the vCPU stopped, until the monitor's or gdb's cont"},
    {"-s", NULL, opt_gdb, 's', "the gdb stub at tcp::1234 (as -gdb tcp::1234)"},
    {"-gdb", "tcp:[HOST]:PORT|unix:PATH", opt_gdb, 0,
     "the gdb stub: GDB's remote protocol at that socket (with -S,\n"
     "the VM waits for gdb's continue)"},
    {"-d", "ITEM,...", opt_log, 'd',
     "log int (interrupts and exceptions, sim), cpu_reset,\n"
     "guest_errors, exits (as --trace exits), bios (port 0xE9)"},
    {"-D", "FILE", opt_log, 'D', "write the log and the exit trace to FILE (default stderr)"},
    {"--magic-break", NULL, opt_flag, 'M',
     "Bochs's magic breakpoint XCHG BX,BX stops the VM for the\nmonitor and gdb (sim only)"},
    {"-no-shutdown", NULL, opt_flag, 's',
     "as with a monitor, the VMM outlives the guest (quit, Ctrl-A x\n"
     "or a signal ends it; without any input left, it ends at once)"},
    {"-no-reboot", NULL, opt_flag, 'r',
     "a triple fault ends the VM (default: the vCPU is reset to its\nstart state, as a PC resets)"},
    {"-no-acpi", NULL, opt_flag, 'A',
     "no ACPI tables (RSDP, FADT, MADT, HPET, DSDT, ...): an Intel MP\n"
     "table describes the CPU and the IOAPIC instead"},
    {"-accel, --accel", "kvm|sim|tcg|auto", opt_accel, 0,
     "the kernel under the VM: Linux KVM, the software model of\n"
     "VT-x (tcg is QEMU's name for it), or KVM when usable (default auto)"},
    {"-enable-kvm", NULL, opt_flag, 'k', "as -accel kvm"},
    {"--max-exits", "N", opt_limit, 'e', "stop after N VM exits (diff: compare at most N)"},
    {"--max-insns", "N", opt_limit, 'i',
     "stop after N guest instructions (sim only: the software\n"
     "backend counts them; an exception delivery counts as one)"},
    {"--timeout", "S", opt_timeout, 0, "stop after S seconds of wall-clock time (e.g. 10 or 0.5)"},
    {"--step", NULL, opt_flag, 'T', "diff: compare after every instruction (single-stepping)"},
    {"--clock", "host|virtual", opt_clock, 0,
     "guest time: the host's clock (default), or sim only: one ns\n"
     "per retired instruction, reproducible bit for bit"},
    {"--irqchip", "user|kernel", opt_irqchip, 0,
     "interrupt controllers and PIT in the VMM (default), or KVM\n"
     "only: in the kernel (KVM_CREATE_IRQCHIP, KVM_CREATE_PIT2), which\n"
     "also handles HLT: the guest ends through port 0xF4"},
    {"--sandbox", "on|off|log", opt_sandbox, 0,
     "after setup, a seccomp filter allows only the system calls the\n"
     "run loop, devices, monitor and console need; any other ends the\n"
     "VMM with status 22 (default on; off: for debugging, strace; log:\n"
     "forbidden calls go on, logged by the kernel's audit in dmesg)"},
    /* QEMU's machine, CPU and character-device options (options_qemu.c). */
    {"-machine, -M", "pc[,accel=kvm|tcg|kvm:tcg][,acpi=on|off]", opt_machine, 0,
     "the machine: QEMU's pc (i440FX + PIIX3) is the only one;\n"
     "accel= as -accel (kvm:tcg: auto), acpi=off as -no-acpi"},
    {"-smp", "[cpus=]N[,sockets=S,cores=C,threads=T]", opt_smp, 0,
     "N vCPUs (1-" VM_MAX_VCPUS_TEXT "); a topology must multiply to N"},
    {"-cpu", "MODEL[,+FEAT|-FEAT...]", opt_cpu, 0,
     "host (KVM), max, qemu64, qemu32, kvm64, kvm32, pentium[2|3], 486:\n"
     "the backend's CPUID is fixed, so a model it differs from is\n"
     "named with what it lacks; +FEAT it lacks and -FEAT it has are\n"
     "refused"},
    {"-nodefaults", NULL, opt_qemu_flag, 'n',
     "no default devices: COM1 goes nowhere unless -serial says so,\n"
     "and no VGA output (as -vga none)"},
    {"-name", "NAME[,process=P]", opt_name, 0,
     "the VM's name (the monitor's info name); process= names the\nthread"},
    {"-rtc", "base=utc|localtime|DATE", opt_rtc, 0,
     "the RTC's time: UTC (default), the host's local time, or a\n"
     "start date (2006-06-17T16:01:21 or 2006-06-17, UTC)"},
    {"-pidfile", "FILE", opt_pidfile, 0, "write the VMM's process id to FILE (removed at exit)"},
    {"-daemonize", NULL, opt_qemu_flag, 'z',
     "detach once the VM is set up (needs -serial and -monitor away\n"
     "from the terminal; errors before that are still printed)"},
    {"-debugcon", "stdio|file:PATH|null|chardev:ID|...", opt_debugcon, 0,
     "where the 0xE9 debug console goes (default: stdout)"},
    {"-chardev", "BACKEND,id=ID[,...]", opt_chardev, 0,
     "a character device for -serial/-monitor/-debugcon chardev:ID:\n"
     "stdio, null, file,path=P, pty, socket,path=P|host=H,port=N\n"
     "[,server=on][,wait=off]"},
    {"-vga", "std|none", opt_vga_type, 0,
     "std: the VGA text device (default); none: no VGA output. One\n"
     "dash: QEMU's -vga TYPE; --vga is the flag above"},
    {"-h, --help", NULL, opt_command, CMD_HELP, "show this help"},
    {"-V, --version", NULL, opt_command, CMD_VERSION, "show the version"},
    {NULL, NULL, NULL, 0, NULL},
};

/* Does `name` (dashes stripped, ending at len) appear in the entry's names? */
static bool spec_has_name(const CliOptionSpec *spec, const char *name, size_t len)
{
    for (const char *p = spec->names; *p;) {
        p += strspn(p, "-, ");
        size_t n = strcspn(p, ", ");
        if (n == len && strncmp(p, name, len) == 0)
            return true;
        p += n;
    }
    return false;
}

static const CliOptionSpec *find_option(const char *name, size_t len)
{
    for (const CliOptionSpec *s = cli_option_table; s->names; s++)
        if (spec_has_name(s, name, len))
            return s;
    return NULL;
}

/* Parses the options and the operand of run and demo, argv[0] being the command. */
static int parse_run_args(int argc, char **argv, CliOptions *opt, char *err, size_t err_size)
{
    const char *operands[2];
    int num_operands = 0;
    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (options_done || a[0] != '-' || a[1] == '\0') {
            if (num_operands < 2)
                operands[num_operands] = a;
            num_operands++;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            options_done = true;
            continue;
        }
        /* One dash or two, then the whole name: never a group of short options. */
        const char *name = a + (a[1] == '-' ? 2 : 1);
        size_t len = strcspn(name, "=");
        const char *inline_arg = name[len] == '=' ? name + len + 1 : NULL;
        const CliOptionSpec *spec = len ? find_option(name, len) : NULL;
        /* QEMU's -vga TYPE (one dash) is not scratchvm's --vga flag: the TYPE is never
         * read as the guest's FILE. */
        for (const CliOptionSpec *v = cli_option_table; v->names && a[1] != '-' && len == 3 &&
                                                        strncmp(name, "vga", 3) == 0; v++)
            if (strcmp(v->names, "-vga") == 0)
                spec = v;
        char spelled[64];
        snprintf(spelled, sizeof(spelled), "%.*s", (int)(name - a + len), a);
        if (!spec)
            return fail(err, err_size, "unknown option '%s' (see scratchvm --help)", spelled);
        const char *arg = NULL;
        if (spec->arg) {
            if (inline_arg)
                arg = inline_arg;
            else if (i + 1 < argc)
                arg = argv[++i];
            else
                return fail(err, err_size, "%s needs an argument (%s)", spelled, spec->arg);
        } else if (inline_arg) {
            return fail(err, err_size, "%s takes no argument (see scratchvm --help)", spelled);
        }
        CliError e = {err, err_size, spelled};
        int r = spec->apply(opt, arg, spec, &e);
        if (r != 0)
            return r < 0 ? -1 : 1;
    }
    if (opt->kernel && opt->command == CMD_RUN) {
        if (num_operands > 0)
            return fail(err, err_size, "run -kernel takes no FILE (got '%s')", operands[0]);
        return 0;
    }
    if (opt->num_drives && num_operands == 0 && opt->command == CMD_RUN && !opt->file_option)
        return 0;   /* the BIOS boots the disks */
    if (opt->file_option && opt->command != CMD_DEMO) {
        if (num_operands > 0)
            return fail(err, err_size, "%s names the image: no other FILE (%s)",
                        opt->file_option, operands[0]);
        return 0;
    }
    const char *what = opt->command == CMD_RUN    ? "run needs one FILE"
                       : opt->command == CMD_DIFF ? "diff needs one FILE"
                                                  : "demo needs a name: hello or add";
    if (num_operands != 1)
        return fail(err, err_size, "%s%s", what, num_operands > 1 ? " (too many arguments)" : "");
    opt->file = operands[0];
    return 0;
}

static int check_combination(CliOptions *opt, char *err, size_t err_size)
{
    if (opt->kind == IMAGE_BOOT_SECTOR && (opt->load_set || opt->entry_set))
        return fail(err, err_size, "--boot-sector loads at 0x7C00: it takes no --load or --entry");
    if (opt->kind == IMAGE_ROM && (opt->load_set || opt->entry_set))
        return fail(err, err_size, "--rom starts at the reset vector: it takes no --load or --entry");
    if (opt->paused && opt->monitor == MONITOR_NONE && !opt->gdb && opt->qmp == QMP_NONE)
        return fail(err, err_size,
                    "-S starts the VM stopped: it needs a --monitor, -qmp or -gdb to continue it");
    if (opt->display == DISPLAY_CURSES && opt->nographic)
        return fail(err, err_size, "-nographic cannot be used with -display curses");
    if (opt->display == DISPLAY_CURSES && opt->monitor == MONITOR_STDIO)
        return fail(err, err_size, "-display curses takes the terminal: the monitor needs "
                    "unix:PATH (or -qmp)");
    if (opt->step && opt->command != CMD_DIFF)
        return fail(err, err_size, "--step is an option of diff");
    if (opt->command == CMD_DIFF &&
        (opt->accel_set || opt->monitor != MONITOR_NONE || opt->gdb || opt->paused ||
         opt->qmp != QMP_NONE || opt->display != DISPLAY_NONE ||
         opt->magic_break || opt->log_items || opt->log_file || opt->trace_exits ||
         opt->trace_stats || opt->vga))
        return fail(err, err_size, "diff runs the guest on kvm and sim itself: it takes the "
                    "loading options, --serial file:PATH, --max-exits and --step only");
    if (opt->magic_break && opt->monitor == MONITOR_NONE && !opt->gdb && opt->qmp == QMP_NONE)
        return fail(err, err_size, "--magic-break stops the VM: it needs a --monitor or -gdb "
                    "to continue it");
    if (opt->kernel && (opt->kind != IMAGE_FLAT || opt->load_set || opt->entry_set))
        return fail(err, err_size, "-kernel starts the kernel as its format says: no "
                    "--boot-sector, --rom, -bios, --load or --entry");
    if (opt->num_drives && opt->kernel)
        return fail(err, err_size, "disks are read by the BIOS: -kernel boots without it");
    bool qemu_firmware = opt->kind == IMAGE_ROM && opt->file_option &&
                         strcmp(opt->file_option, "-bios") == 0;   /* disks on IDE, the FDC */
    if (opt->num_drives && !qemu_firmware &&
        (opt->kind == IMAGE_ROM || (opt->file && opt->kind == IMAGE_FLAT)))
        return fail(err, err_size, "disks need the built-in BIOS: boot them alone, or with "
                    "--boot-sector FILE (a flat binary or --rom runs without it)");
    if (opt->command == CMD_DEMO && (opt->num_drives || opt->kernel))
        return fail(err, err_size, "demos take no disks or -kernel");
    if ((opt->initrd || opt->append) && !opt->kernel)
        return fail(err, err_size, "-initrd and -append need a -kernel");
    if ((opt->command == CMD_DIFF || opt->command == CMD_DEMO) && opt->num_virtio)
        return fail(err, err_size, "%s takes no virtio devices", opt->command == CMD_DIFF ?
                    "diff" : "a demo");
    if (opt->command == CMD_DIFF && (opt->kernel || opt->num_drives || opt->pc_testdev))
        return fail(err, err_size, "diff runs flat binaries, boot sectors and firmware: no "
                    "-kernel, disks or -device");
    if (opt->command == CMD_DEMO && opt->kind != IMAGE_FLAT)
        return fail(err, err_size, "demos are flat binaries: no --boot-sector, --rom or -bios");
    if (opt->command == CMD_DEMO && strcmp(opt->file, "hello") != 0 && strcmp(opt->file, "add") != 0)
        return fail(err, err_size, "unknown demo '%s': hello or add", opt->file);
    if (!opt->entry_set) {
        if (opt->load_set && opt->load_addr >= 0x100000)
            return fail(err, err_size, "--load above 1 MiB needs an --entry below 1 MiB");
        opt->entry = opt->load_set ? opt->load_addr : 0;
    }
    return 0;
}

int cli_parse(int argc, char **argv, CliOptions *opt, char *err, size_t err_size)
{
    *opt = (CliOptions){.memory = 128ull << 20, .serial = SERIAL_STDIO, .accel = HV_BACKEND_AUTO};
    err[0] = '\0';
    if (argc < 2)
        return fail(err, err_size, "missing command (see scratchvm --help)");
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0 ||
        strcmp(cmd, "-help") == 0) {
        opt->command = CMD_HELP;
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0 || strcmp(cmd, "-version") == 0) {
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
    else if (strcmp(cmd, "diff") == 0)
        opt->command = CMD_DIFF;
    else if (strcmp(cmd, "demo") == 0)
        opt->command = CMD_DEMO;
    else if (cmd[0] == '-')   /* a QEMU habit: options without the command */
        return fail(err, err_size, "unknown command '%s': did you mean 'scratchvm run %s ...'? "
                    "(see scratchvm --help)", cmd, cmd);
    else
        return fail(err, err_size, "unknown command '%s' (see scratchvm --help)", cmd);
    int r = parse_run_args(argc - 1, argv + 1, opt, err, err_size);
    if (r != 0)
        return r < 0 ? -1 : 0;   /* 1: --help or --version said what to do */
    if (cli_check_virtio(opt, err, err_size) < 0)
        return -1;
    if (cli_check_qemu(opt, err, err_size) < 0)
        return -1;
    return check_combination(opt, err, err_size);
}

#define HELP_COLUMN 25

/* The table's entries as --help lists them: names and argument, then the text at a
 * fixed column (on the next line when the names are longer). */
static void print_option_help(FILE *out)
{
    for (const CliOptionSpec *s = cli_option_table; s->names; s++) {
        if (!s->help)
            continue;
        int w = fprintf(out, "  %s%s%s", s->names, s->arg ? " " : "", s->arg ? s->arg : "");
        if (w > HELP_COLUMN - 1) {
            fputc('\n', out);
            w = 0;
        }
        for (const char *line = s->help; *line;) {
            size_t n = strcspn(line, "\n");
            fprintf(out, "%*s%.*s\n", HELP_COLUMN - w, "", (int)n, line);
            w = 0;
            line += n + (line[n] == '\n');
        }
    }
}

void cli_print_usage(FILE *out)
{
    fputs(
        "Usage: scratchvm run [options] FILE     run a bare-metal x86 program in a VM\n"
        "       scratchvm run [options] -kernel FILE [-initrd FILES] [-append CMDLINE]\n"
        "       scratchvm run [options] -fda|-hda|-cdrom|-drive DISK   boot disks with the BIOS\n"
        "       scratchvm demo hello|add [options]\n"
        "       scratchvm diff [--step] [options] FILE\n"
        "                                        run FILE on kvm and sim in lockstep and show\n"
        "                                        where they first differ (status 0: agreed,\n"
        "                                        1: diverged); the state is compared at every\n"
        "                                        exit, or with --step after every instruction\n"
        "       scratchvm info                   hypervisor types, CPU and KVM facts\n"
        "       scratchvm --help | --version\n"
        "\n"
        "FILE is a flat binary loaded at 0 and started in real mode at 0000:0000.\n"
        "\n"
        "Options of run and demo (each also with one dash or two, as QEMU's -serial or\n"
        "--serial; an argument as the next word or after '='):\n",
        out);
    print_option_help(out);
    fputs(
        "\n"
        "Devices: 16550A UART at 0x3F8 (IRQ4), VGA text at 0xB8000 (cursor at 0x3D4/0x3D5),\n"
        "8259A PIC pair at 0x20/0xA0 (ELCR 0x4D0), 8254 PIT at 0x40 (IRQ0), port 0x61,\n"
        "RTC/CMOS at 0x70 (IRQ8), i8042 keyboard at 0x60/0x64 (IRQ1), ports 0x80, 0x92,\n"
        "xAPIC at 0xFEE00000, IOAPIC at 0xFEC00000,\n"
        "isa-debug-exit at 0xF4 (a write of V exits with status (V << 1) | 1), debug console\n"
        "at 0xE9.\n"
        "\n"
        "Keys on a terminal: Ctrl-A x quits, Ctrl-A h lists the keys, Ctrl-A c switches\n"
        "between the serial console and the monitor (with --monitor stdio), Ctrl-A Ctrl-A\n"
        "sends Ctrl-A to the guest.\n"
        "\n"
        "Monitor commands (help CMD in the monitor says more):\n",
        out);
    qemu_monitor_print_commands(out);   /* the monitor's own table: never out of date */
    fputs(
        "\n"
        "Exit status: 0 when the guest halts (or on Ctrl-A x); (V << 1) | 1 when it writes V\n"
        "to the debug-exit port; 2 usage error; 4 FILE unreadable; 6 FILE invalid or too big;\n"
        "8 VM cannot be created (e.g. no accelerator); 10 guest triple fault; 12 invalid guest\n"
        "state or internal error; 14 --max-exits reached; 16 host error; 18 --max-insns\n"
        "reached; 20 --timeout reached; 22 the sandbox stopped a forbidden system call;\n"
        "128+N on signal N.\n",
        out);
}

int cli_failf(CliError *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->buf, err->size, fmt, ap);
    va_end(ap);
    return -1;
}
