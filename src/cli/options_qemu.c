/* QEMU's machine, CPU and character-device options (issue 30). Pure, as options.c: the
 * options are parsed into CliOptions; cli.c does what they say. Each either means what it
 * means in QEMU or is refused with the reason. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/options_qemu.h"
#include "cli/options_virtio.h"

/* "OPTION ARG: why", as options.c's messages. */
static int refuse(CliError *e, const char *arg, const char *why)
{
    return cli_failf(e, "%s %s: %s", e->spelled, arg, why);
}

/* The next "key[=value]" item of a comma-separated list: *p advances past it. The key and
 * value are copied (cut to their buffers' sizes); value is "" when there is no '='. */
static bool next_item(const char **p, char *key, size_t ksize, char *val, size_t vsize,
                      bool *has_value)
{
    if (!**p)
        return false;
    size_t n = strcspn(*p, ",");
    const char *eq = memchr(*p, '=', n);
    size_t kn = eq ? (size_t)(eq - *p) : n;
    snprintf(key, ksize, "%.*s", (int)kn, *p);
    if (eq)
        snprintf(val, vsize, "%.*s", (int)(n - kn - 1), eq + 1);
    else
        val[0] = '\0';
    *has_value = eq != NULL;
    *p += n + ((*p)[n] == ',');
    return true;
}

/* Copies src, cut to size - 1 bytes (callers check lengths where a cut would matter). */
static void copy_str(char *dst, size_t size, const char *src)
{
    size_t n = strnlen(src, size - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* QEMU's booleans: on/off, yes/no, true/false. 1 true, 0 false, -1 neither. */
static int parse_bool(const char *v)
{
    if (!strcmp(v, "on") || !strcmp(v, "yes") || !strcmp(v, "true"))
        return 1;
    if (!strcmp(v, "off") || !strcmp(v, "no") || !strcmp(v, "false"))
        return 0;
    return -1;
}

/* ---- -smp ---- */

/* -smp [cpus=]N[,maxcpus=N][,sockets=N][,dies=N][,clusters=N][,cores=N][,threads=N]
 * (QEMU's spellings): 1 to VM_MAX_VCPUS vCPUs. The topology, when given, must multiply to
 * the count (no CPU hotplug: maxcpus is the count too); a missing count is the product,
 * as in QEMU. The guest sees N processors (MADT, MP table), not sockets or threads. */
int opt_smp(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e)
{
    (void)spec;
    static const char *const keys[] = {"cpus", "maxcpus", "sockets", "dies", "clusters",
                                       "cores", "threads", "books", "drawers", NULL};
    uint64_t values[9] = {0};   /* by keys[]; 0: not given */
    char key[32], val[32];
    bool has;
    bool first = true;
    for (const char *p = arg; next_item(&p, key, sizeof(key), val, sizeof(val), &has); first = false) {
        const char *num = has ? val : key;
        int k = 0;   /* a bare number is the count */
        if (has) {
            k = -1;
            for (int i = 0; keys[i]; i++)
                if (strcmp(key, keys[i]) == 0)
                    k = i;
            if (k < 0)
                return cli_failf(e, "%s %s: unknown property '%s' (cpus, maxcpus, sockets, dies, "
                             "cores, threads)", e->spelled, arg, key);
        } else if (!first) {
            return refuse(e, arg, "expected [cpus=]N[,maxcpus=N,sockets=N,cores=N,threads=N]");
        }
        uint64_t n;
        if (cli_parse_number(num, &n) < 0)
            return cli_failf(e, "%s %s: '%s' is not a number", e->spelled, arg, num);
        if (n == 0 && (!has || k == 0))
            return refuse(e, arg, "at least one CPU");
        if (n > 1024)
            return refuse(e, arg, "at most " VM_MAX_VCPUS_TEXT " CPUs");
        values[k] = n;
    }
    if (!*arg)
        return refuse(e, arg, "expected a CPU count");
    uint64_t product = 1;
    bool topology = false;
    for (int i = 2; keys[i]; i++) {
        if (values[i]) {
            product *= values[i];
            topology = true;
        }
    }
    uint64_t cpus = values[0] ? values[0] : values[1] ? values[1] : product;
    if (values[1] && values[1] != cpus)
        return refuse(e, arg, "maxcpus must equal cpus (no CPU hotplug)");
    if (topology && product != cpus) {
        char why[128];
        snprintf(why, sizeof(why), "the topology has %llu CPUs, not %llu (sockets * dies * "
                 "clusters * cores * threads must be the count)", (unsigned long long)product,
                 (unsigned long long)cpus);
        return refuse(e, arg, why);
    }
    if (cpus < 1 || cpus > VM_MAX_VCPUS)
        return refuse(e, arg, "between 1 and " VM_MAX_VCPUS_TEXT " CPUs");
    opt->smp = (unsigned)cpus;
    return 0;
}

/* ---- -machine / -M ---- */

/* Sets the accelerator from QEMU's accel= list ("kvm", "tcg", "kvm:tcg": the first that
 * works, which is --accel auto). */
static int machine_accel(CliOptions *opt, const char *v)
{
    if (!strcmp(v, "kvm"))
        opt->accel = HV_BACKEND_KVM;
    else if (!strcmp(v, "tcg"))
        opt->accel = HV_BACKEND_SIM;
    else if (!strcmp(v, "kvm:tcg"))
        opt->accel = HV_BACKEND_AUTO;
    else
        return -1;
    opt->accel_set = true;
    return 0;
}

/* -machine [type=]NAME[,accel=kvm|tcg|kvm:tcg][,acpi=on|off][,usb=off][,vmport=off]...:
 * the machine is QEMU's pc (i440FX + PIIX3); q35, microvm, isapc and others are refused. */
int opt_machine(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e)
{
    (void)spec;
    char key[64], val[64];
    bool has, first = true;
    for (const char *p = arg; next_item(&p, key, sizeof(key), val, sizeof(val), &has); first = false) {
        const char *type = !has && first ? key : !strcmp(key, "type") ? val : NULL;
        if (type) {
            if (!strcmp(type, "help"))
                return refuse(e, arg, "the one machine is pc (Standard PC (i440FX + PIIX, 1996))");
            if (strcmp(type, "pc") != 0 && strncmp(type, "pc-i440fx", 9) != 0)
                return cli_failf(e, "%s %s: only the pc machine (i440FX + PIIX3) is emulated, not "
                             "'%s'", e->spelled, arg, type);
            continue;
        }
        int b = parse_bool(val);
        if (!strcmp(key, "accel")) {
            if (machine_accel(opt, val) < 0)
                return cli_failf(e, "%s %s: accel=%s: expected kvm, tcg or kvm:tcg", e->spelled,
                             arg, val);
        } else if (!strcmp(key, "acpi") && b >= 0) {
            opt->no_acpi = !b;
        } else if ((!strcmp(key, "usb") || !strcmp(key, "vmport") || !strcmp(key, "hpet") ||
                    !strcmp(key, "smm") || !strcmp(key, "pit") || !strcmp(key, "sata")) && b >= 0) {
            /* The pc machine's devices: there is no USB, vmport, SATA or SMM here; the HPET
             * and the PIT always are. */
            bool present = !strcmp(key, "hpet") || !strcmp(key, "pit");
            if (b != present)
                return cli_failf(e, "%s %s: %s=%s: %s", e->spelled, arg, key, val,
                             present ? "it is always there" : "there is no such device here");
        } else if (!strcmp(key, "kernel-irqchip") && (b >= 0 || !strcmp(val, "split"))) {
            if (!strcmp(val, "split"))
                return cli_failf(e, "%s %s: kernel-irqchip=split is not supported (on or off)",
                             e->spelled, arg);
            opt->kernel_irqchip = b;
        } else {
            return cli_failf(e, "%s %s: property '%s%s%s' is not supported (accel=, acpi=, "
                         "kernel-irqchip=)", e->spelled, arg, key, has ? "=" : "", val);
        }
    }
    if (!*arg)
        return refuse(e, arg, "expected a machine: pc");
    return 0;
}

/* ---- -cpu ---- */

/* The CPUID features -cpu names, in QEMU's spelling (its feature words' names). */
static const char *const feature_names[] = {
    "fpu", "vme", "de", "pse", "tsc", "msr", "pae", "mce", "cx8", "apic", "sep", "mtrr",
    "pge", "mca", "cmov", "pat", "pse36", "clflush", "mmx", "fxsr", "sse", "sse2", "pni",
    "cx16", "lm", "syscall", "nx", "lahf-lm", "svm", "movbe", "tsc-deadline", "hypervisor",
    "rdtscp", "umip", "tsc-adjust", "ssse3", "sse4.1", "sse4.2", "popcnt", "vmx", "x2apic",
    "aes", "xsave", "avx", "ss", "ht", NULL,
};
#define F(name) (1ull << cpu_feature_##name)
enum {
    cpu_feature_fpu, cpu_feature_vme, cpu_feature_de, cpu_feature_pse, cpu_feature_tsc,
    cpu_feature_msr, cpu_feature_pae, cpu_feature_mce, cpu_feature_cx8, cpu_feature_apic,
    cpu_feature_sep, cpu_feature_mtrr, cpu_feature_pge, cpu_feature_mca, cpu_feature_cmov,
    cpu_feature_pat, cpu_feature_pse36, cpu_feature_clflush, cpu_feature_mmx, cpu_feature_fxsr,
    cpu_feature_sse, cpu_feature_sse2, cpu_feature_pni, cpu_feature_cx16, cpu_feature_lm,
    cpu_feature_syscall, cpu_feature_nx, cpu_feature_lahf_lm, cpu_feature_svm,
    cpu_feature_movbe, cpu_feature_tsc_deadline, cpu_feature_hypervisor, cpu_feature_rdtscp,
    cpu_feature_umip, cpu_feature_tsc_adjust,
};

/* QEMU's feature sets (target/i386's I486_FEATURES, PENTIUM_FEATURES, PPRO_FEATURES ...),
 * facts of its documented CPU models. */
#define I486 (F(fpu) | F(vme) | F(pse))
#define PENTIUM (I486 | F(de) | F(tsc) | F(msr) | F(mce) | F(cx8) | F(mmx) | F(apic))
#define PENTIUM2 (PENTIUM | F(pae) | F(sep) | F(mtrr) | F(pge) | F(mca) | F(cmov) | F(pat) | \
                  F(pse36) | F(fxsr))
#define PPRO (F(fpu) | F(de) | F(pse) | F(tsc) | F(msr) | F(mce) | F(cx8) | F(pge) | F(cmov) | \
              F(pat) | F(fxsr) | F(mmx) | F(sse) | F(sse2) | F(pae) | F(sep) | F(apic))
#define KVM_COMMON (PPRO | F(vme) | F(mtrr) | F(clflush) | F(mca) | F(pse36) | F(pni))

const CliCpuModel cli_cpu_models[] = {
    {"host", 0},   /* the host's, through KVM (KVM_GET_SUPPORTED_CPUID) */
    {"max", 0},    /* all the backend's CPU offers */
    {"486", I486},
    {"pentium", PENTIUM},
    {"pentium2", PENTIUM2},
    {"pentium3", PENTIUM2 | F(sse)},
    {"qemu32", PPRO | F(pni)},
    {"kvm32", KVM_COMMON},
    {"qemu64", (KVM_COMMON & ~F(vme)) | F(cx16) | F(lm) | F(syscall) | F(nx) | F(lahf_lm) | F(svm)},
    {"kvm64", KVM_COMMON | F(cx16) | F(lm) | F(syscall) | F(nx)},
    {NULL, 0},
};

uint64_t cli_sim_cpu_features(void)
{
    /* kvm_sim.c's cpuid_leaf: CPUID.1:EDX, 1:ECX, 7 and 80000001H:EDX. SSE and SSE2 are
     * claimed where their floating point runs on the host (x86-64, X86_SSE_FP_ON_HOST). */
    uint64_t f = F(fpu) | F(pse) | F(tsc) | F(msr) | F(pae) | F(cx8) | F(apic) | F(sep) |
                 F(mtrr) | F(pge) | F(cmov) | F(pat) | F(pse36) | F(mmx) | F(fxsr) |
                 F(movbe) | F(tsc_deadline) | F(hypervisor) | F(nx) | F(rdtscp) | F(umip) |
                 F(tsc_adjust);
#if defined(__x86_64__)
    f |= F(sse) | F(sse2);
#endif
    return f;
}

void cli_cpu_feature_names(uint64_t mask, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; feature_names[i] && n < size; i++)
        if (mask & (1ull << i))
            n += (size_t)snprintf(buf + n, size - n, "%s%s", n ? ", " : "", feature_names[i]);
}

/* A feature by QEMU's name or its aliases ('_' for '-', sse3 for pni); -1 unknown. */
static int find_feature(const char *name)
{
    char norm[32];
    if (strlen(name) >= sizeof(norm))
        return -1;
    memcpy(norm, name, strlen(name) + 1);
    for (char *c = norm; *c; c++)
        if (*c == '_')
            *c = '-';
    if (!strcmp(norm, "sse3"))
        strcpy(norm, "pni");
    if (!strcmp(norm, "sse4-1"))
        strcpy(norm, "sse4.1");
    if (!strcmp(norm, "sse4-2"))
        strcpy(norm, "sse4.2");
    for (int i = 0; feature_names[i]; i++)
        if (!strcmp(norm, feature_names[i]))
            return i;
    return -1;
}

/* -cpu MODEL[,+feat][,-feat][,feat=on|off][,feat]: the model and the changes asked for;
 * cli_cpu_check compares them with the backend's CPU once it is known. */
int opt_cpu(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e)
{
    (void)spec;
    size_t len = strcspn(arg, ",");
    opt->cpu_model = 0;
    for (int i = 0; cli_cpu_models[i].name; i++)
        if (strlen(cli_cpu_models[i].name) == len && !strncmp(arg, cli_cpu_models[i].name, len))
            opt->cpu_model = i + 1;
    if (!opt->cpu_model)
        return cli_failf(e, "%s %s: unknown CPU model '%.*s' (host, max, 486, pentium, pentium2, "
                     "pentium3, qemu32, kvm32, qemu64, kvm64)", e->spelled, arg, (int)len, arg);
    opt->cpu_plus = opt->cpu_minus = 0;
    char key[40], val[16];
    bool has;
    for (const char *p = arg + len + (arg[len] == ','); next_item(&p, key, sizeof(key), val,
                                                                 sizeof(val), &has);) {
        const char *name = key;
        int on = 1;
        if (key[0] == '+' || key[0] == '-') {
            on = key[0] == '+';
            name = key + 1;
            if (has)
                return cli_failf(e, "%s %s: '%s=%s': +FEATURE and -FEATURE take no value",
                             e->spelled, arg, key, val);
        } else if (has && (on = parse_bool(val)) < 0) {
            return cli_failf(e, "%s %s: '%s=%s': expected on or off", e->spelled, arg, key, val);
        }
        int f = find_feature(name);
        if (f < 0)
            return cli_failf(e, "%s %s: unknown or unsupported CPU feature '%s'", e->spelled, arg,
                         name);
        *(on ? &opt->cpu_plus : &opt->cpu_minus) |= 1ull << f;
        *(on ? &opt->cpu_minus : &opt->cpu_plus) &= ~(1ull << f);
    }
    return 0;
}

int cli_cpu_check(const CliOptions *opt, uint64_t features, bool kvm, char *msg, size_t size)
{
    if (!opt->cpu_model)
        return 0;
    const CliCpuModel *m = &cli_cpu_models[opt->cpu_model - 1];
    const char *cpu = kvm ? "KVM" : "sim";
    char names[400];
    msg[0] = '\0';
    if (!strcmp(m->name, "host") && !kvm) {
        snprintf(msg, size, "-cpu host: CPU model 'host' requires KVM (the sim CPU is its own "
                 "model: -cpu max)");
        return -1;
    }
    if (opt->cpu_plus & ~features) {
        cli_cpu_feature_names(opt->cpu_plus & ~features, names, sizeof(names));
        snprintf(msg, size, "-cpu %s: the %s CPU has no %s", m->name, cpu, names);
        return -1;
    }
    if (opt->cpu_minus & features) {
        cli_cpu_feature_names(opt->cpu_minus & features, names, sizeof(names));
        snprintf(msg, size, "-cpu %s: cannot remove %s: the %s CPU's CPUID is fixed", m->name,
                 names, cpu);
        return -1;
    }
    uint64_t lacks = m->features & ~features;
    if (!lacks)
        return 0;
    cli_cpu_feature_names(lacks, names, sizeof(names));
    snprintf(msg, size, "warning: -cpu %s: the %s CPU model is fixed and lacks %s; the guest "
             "sees the %s CPU's CPUID (-cpu max)", m->name, cpu, names, cpu);
    return 1;
}

/* ---- -name, -rtc, flags, -pidfile ---- */

/* -name [guest=]NAME[,process=NAME][,debug-threads=on|off]. */
int opt_name(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e)
{
    (void)spec;
    char key[32], val[128];
    bool has, first = true;
    for (const char *p = arg; next_item(&p, key, sizeof(key), val, sizeof(val), &has); first = false) {
        if (!has && first) {
            size_t n = strcspn(arg, ",");   /* the whole name, even past key's size */
            if (n >= sizeof(opt->name))
                return refuse(e, arg, "the name is too long (at most 63 bytes)");
            snprintf(opt->name, sizeof(opt->name), "%.*s", (int)n, arg);
        } else if (!strcmp(key, "guest") && has) {
            if (strlen(val) >= sizeof(opt->name))
                return refuse(e, arg, "the name is too long (at most 63 bytes)");
            copy_str(opt->name, sizeof(opt->name), val);
        } else if (!strcmp(key, "process") && has) {
            /* the thread's comm holds 15 bytes */
            size_t n = strnlen(val, sizeof(opt->process_name) - 1);
            memcpy(opt->process_name, val, n);
            opt->process_name[n] = '\0';
        } else if (!strcmp(key, "debug-threads") && has && parse_bool(val) >= 0) {
            /* the vCPU thread is named anyway */
        } else {
            return cli_failf(e, "%s %s: unknown property '%s' (guest=, process=, debug-threads=)",
                         e->spelled, arg, key);
        }
    }
    return 0;
}

/* QEMU's -rtc base=DATE: "2006-06-17T16:01:21" or "2006-06-17", UTC. */
static int parse_date(const char *s, int64_t *out)
{
    struct tm tm = {0};
    const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end || *end) {
        tm = (struct tm){0};
        end = strptime(s, "%Y-%m-%d", &tm);
        if (!end || *end)
            return -EINVAL;
    }
    if (tm.tm_year < 0 || tm.tm_year > 8099)   /* 1900 .. 9999: the CMOS has a century */
        return -ERANGE;
    *out = (int64_t)timegm(&tm);
    return 0;
}

/* -rtc [base=utc|localtime|DATE][,clock=host|rt|vm][,driftfix=none|slew]. */
int opt_rtc(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e)
{
    (void)spec;
    char key[32], val[64];
    bool has;
    for (const char *p = arg; next_item(&p, key, sizeof(key), val, sizeof(val), &has);) {
        if (!strcmp(key, "base") && has) {
            if (!strcmp(val, "utc")) {
                opt->rtc_base = CLI_RTC_UTC;
            } else if (!strcmp(val, "localtime")) {
                opt->rtc_base = CLI_RTC_LOCALTIME;
            } else if (parse_date(val, &opt->rtc_date) == 0) {
                opt->rtc_base = CLI_RTC_DATE;
            } else {
                return cli_failf(e, "%s %s: base=%s: expected utc, localtime or a date such as "
                             "2006-06-17T16:01:21", e->spelled, arg, val);
            }
        } else if (!strcmp(key, "clock") && has && !strcmp(val, "host")) {
            /* the RTC reads the VM clock, which is the host's (or --clock virtual) */
        } else if (!strcmp(key, "clock") && has) {
            return cli_failf(e, "%s %s: clock=%s: only host (--clock virtual is the "
                         "reproducible clock)", e->spelled, arg, val);
        } else if (!strcmp(key, "driftfix") && has && !strcmp(val, "none")) {
            /* no interrupts are lost to catch up on */
        } else {
            return cli_failf(e, "%s %s: '%s%s%s' is not supported (base=utc|localtime|DATE, "
                         "clock=host, driftfix=none)", e->spelled, arg, key, has ? "=" : "", val);
        }
    }
    return 0;
}

/* Flags: spec->value 'n' -nodefaults, 'z' -daemonize. */
int opt_qemu_flag(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e)
{
    (void)arg, (void)e;
    if (spec->value == 'n')
        opt->nodefaults = true;
    else if (spec->value == 'z')
        opt->daemonize = true;
    return 0;
}

int opt_pidfile(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e)
{
    (void)spec;
    if (!*arg)
        return refuse(e, arg, "needs a file name");
    opt->pidfile = arg;
    return 0;
}

/* ---- -vga, -device ---- */

/* -vga std|none: std is the VGA text device (the default); none: no VGA output. The
 * graphics cards (cirrus, vmware, qxl, virtio) are not emulated. */
int opt_vga_type(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e)
{
    (void)spec;
    if (!strcmp(arg, "std"))
        opt->vga_none = false;
    else if (!strcmp(arg, "none"))
        opt->vga_none = true;
    else
        return cli_failf(e, "%s %s: only std (VGA text mode, the default) or none: the '%s' card "
                     "is not emulated", e->spelled, arg, arg);
    return 0;
}

/* -device isa-debugcon[,iobase=N][,chardev=ID]: the debug console (0xE9, always there)
 * also at iobase N, with its output to chardev ID (as -debugcon chardev:ID). SeaBIOS logs
 * to iobase=0x402. */
static int isa_debugcon(CliOptions *opt, const char *arg, CliError *e)
{
    char key[32], val[64];
    bool has;
    for (const char *p = arg + 12 + (arg[12] == ','); next_item(&p, key, sizeof(key), val,
                                                                sizeof(val), &has);) {
        uint64_t n;
        if (has && !strcmp(key, "iobase") && cli_parse_number(val, &n) == 0 && n <= 0xFFFF) {
            opt->debugcon_port = n == DEBUG_CONSOLE_PORT ? 0 : (uint16_t)n;
        } else if (has && !strcmp(key, "chardev") && val[0]) {
            char ref[80];
            snprintf(ref, sizeof(ref), "chardev:%s", val);
            if (cli_parse_serial_chardev(opt, ref, &opt->debugcon, e) != 0)
                return -1;
        } else {
            return cli_failf(e, "%s %s: isa-debugcon takes iobase=PORT and chardev=ID",
                         e->spelled, arg);
        }
    }
    return 0;
}

/* -device DRIVER[,PROP=VALUE...]: pc-testdev (no properties), isa-debug-exit, which is
 * always at 0xf4: its iobase must say so, iosize is 1 to 4 (numbers are compared as
 * numbers: 0x04, 0x4 and 4 are one value), isa-debugcon, and the PCI device kinds
 * (vm_add_pci_device). */
int opt_device(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e)
{
    (void)spec;
    int virtio = cli_device_virtio(opt, arg, e);
    if (virtio <= 0)
        return virtio;
    size_t len = strcspn(arg, ",");
    bool testdev = len == 10 && !strncmp(arg, "pc-testdev", 10);
    bool debug_exit = len == 14 && !strncmp(arg, "isa-debug-exit", 14);
    if (len == 12 && !strncmp(arg, "isa-debugcon", 12))
        return isa_debugcon(opt, arg, e);
    if (!testdev && !debug_exit && vm_pci_device_known(arg, len)) {
        /* a PCI device: its properties are its kind's to check, when the VM is made */
        if (opt->num_pci_devices == CLI_MAX_PCI_DEVICES)
            return cli_failf(e, "%s %s: at most %d PCI devices", e->spelled, arg,
                         CLI_MAX_PCI_DEVICES);
        opt->pci_devices[opt->num_pci_devices++] = arg;
        return 0;
    }
    if (!testdev && !debug_exit) {
        const char *pci = vm_pci_device_names();
        return cli_failf(e, "%s %s: only pc-testdev, isa-debug-exit (at 0xf4, always there) and "
                     "isa-debugcon%s%s",
                     e->spelled, arg, *pci ? ", or a PCI device: " : "", pci);
    }
    char key[32], val[32];
    bool has;
    for (const char *p = arg + len + (arg[len] == ','); next_item(&p, key, sizeof(key), val,
                                                                 sizeof(val), &has);) {
        uint64_t n;
        if (!has || cli_parse_number(val, &n) < 0)
            return cli_failf(e, "%s %s: '%s' is not PROPERTY=NUMBER", e->spelled, arg, key);
        if (debug_exit && !strcmp(key, "iobase")) {
            if (n != 0xf4)
                return cli_failf(e, "%s %s: isa-debug-exit is at iobase=0xf4 only (not %#llx)",
                             e->spelled, arg, (unsigned long long)n);
        } else if (debug_exit && !strcmp(key, "iosize")) {
            if (n < 1 || n > 4)
                return cli_failf(e, "%s %s: iosize=%s: 1 to 4 ports at 0xf4", e->spelled, arg, val);
        } else {
            return cli_failf(e, "%s %s: property '%s' is not supported%s", e->spelled, arg, key,
                         debug_exit ? " (iobase=0xf4, iosize=1..4)" : "");
        }
    }
    if (testdev)
        opt->pc_testdev = true;
    return 0;
}

/* ---- character devices ---- */

/* "HOST:PORT" into c (tcp); -1 when malformed. */
static int parse_host_port(const char *s, size_t n, CliChardev *c)
{
    const char *colon = NULL;
    for (size_t i = 0; i < n; i++)
        if (s[i] == ':')
            colon = s + i;
    if (!colon || (size_t)(colon - s) >= sizeof(c->host))
        return -1;
    char port[8];
    size_t pn = n - (size_t)(colon + 1 - s);
    if (pn == 0 || pn >= sizeof(port))
        return -1;
    memcpy(port, colon + 1, pn);
    port[pn] = '\0';
    uint64_t v;
    if (cli_parse_number(port, &v) < 0 || v == 0 || v > 65535)
        return -1;
    snprintf(c->host, sizeof(c->host), "%.*s", (int)(colon - s), s);
    c->port = (uint16_t)v;
    return 0;
}

/* The socket options after tcp:HOST:PORT or unix:PATH: server, nowait, server=on|off,
 * wait=on|off. QEMU's server waits for its first client unless told nowait. */
static int socket_props(const char *p, CliChardev *c)
{
    char key[16], val[16];
    bool has;
    c->server = false;
    c->wait = true;
    if (*p == ',')
        p++;
    while (next_item(&p, key, sizeof(key), val, sizeof(val), &has)) {
        int b = has ? parse_bool(val) : 1;
        if (b < 0)
            return -1;
        if (!strcmp(key, "server"))
            c->server = b;
        else if (!strcmp(key, "nowait") && !has)
            c->wait = false;
        else if (!strcmp(key, "wait"))
            c->wait = b;
        else if (strcmp(key, "nodelay") != 0)
            return -1;
    }
    return 0;
}

int cli_parse_serial_chardev(CliOptions *opt, const char *arg, CliChardev *c, CliError *e)
{
    (void)opt;
    *c = (CliChardev){0};
    if (!strcmp(arg, "pty")) {
        c->kind = CHR_PTY;
    } else if (!strncmp(arg, "chardev:", 8) && arg[8]) {
        if (strlen(arg + 8) >= sizeof(c->id))
            return refuse(e, arg, "the id is too long");
        c->kind = CHR_REF;
        copy_str(c->id, sizeof(c->id), arg + 8);
    } else if (!strncmp(arg, "tcp:", 4)) {
        size_t n = strcspn(arg + 4, ",");
        c->kind = CHR_TCP;
        if (parse_host_port(arg + 4, n, c) < 0 || socket_props(arg + 4 + n, c) < 0)
            return refuse(e, arg, "expected tcp:[HOST]:PORT[,server][,nowait]");
    } else if (!strncmp(arg, "unix:", 5) && arg[5] && arg[5] != ',') {
        size_t n = strcspn(arg + 5, ",");
        c->kind = CHR_UNIX;
        if (n >= sizeof(c->path))
            return refuse(e, arg, "the path is too long");
        snprintf(c->path, sizeof(c->path), "%.*s", (int)n, arg + 5);
        if (socket_props(arg + 5 + n, c) < 0)
            return refuse(e, arg, "expected unix:PATH[,server][,nowait]");
    } else if (!strncmp(arg, "file:", 5) && arg[5]) {
        if (strlen(arg + 5) >= sizeof(c->path))
            return refuse(e, arg, "the path is too long");
        c->kind = CHR_FILE;
        copy_str(c->path, sizeof(c->path), arg + 5);
    } else if (!strcmp(arg, "null") || !strcmp(arg, "none")) {
        c->kind = CHR_NULL;
    } else if (!strcmp(arg, "stdio")) {
        c->kind = CHR_STDIO;
    } else {
        return 1;
    }
    return 0;
}

/* -chardev BACKEND,id=ID[,...]: stdio, null, file,path=P, pty, socket,path=P or
 * socket,host=H,port=N, with server=on|off and wait=on|off. */
int opt_chardev(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e)
{
    (void)spec;
    if (opt->num_chardevs == CLI_MAX_CHARDEVS)
        return cli_failf(e, "%s: at most %d character devices", e->spelled, CLI_MAX_CHARDEVS);
    CliChardev c = {.wait = true};
    size_t len = strcspn(arg, ",");
    char backend[16];
    snprintf(backend, sizeof(backend), "%.*s", (int)(len < 15 ? len : 15), arg);
    if (!strcmp(backend, "stdio"))
        c.kind = CHR_STDIO;
    else if (!strcmp(backend, "null"))
        c.kind = CHR_NULL;
    else if (!strcmp(backend, "file"))
        c.kind = CHR_FILE;
    else if (!strcmp(backend, "pty"))
        c.kind = CHR_PTY;
    else if (!strcmp(backend, "socket"))
        c.kind = CHR_UNIX;   /* or CHR_TCP, by its properties */
    else
        return cli_failf(e, "%s %s: backend '%.*s' is not supported (stdio, null, file, pty, "
                     "socket)", e->spelled, arg, (int)len, arg);
    char key[16], val[112];
    bool has, tcp = false;
    for (const char *p = arg + len + (arg[len] == ','); next_item(&p, key, sizeof(key), val,
                                                                 sizeof(val), &has);) {
        int b = has ? parse_bool(val) : 1;
        if (!strcmp(key, "id") && has && *val && strlen(val) < sizeof(c.id)) {
            copy_str(c.id, sizeof(c.id), val);
        } else if (!strcmp(key, "path") && has && *val &&
                   (c.kind == CHR_FILE || c.kind == CHR_UNIX)) {
            if (strlen(val) >= sizeof(c.path))
                return refuse(e, arg, "the path is too long");
            copy_str(c.path, sizeof(c.path), val);
        } else if (!strcmp(key, "host") && has && c.kind == CHR_UNIX &&
                   strlen(val) < sizeof(c.host)) {
            copy_str(c.host, sizeof(c.host), val);
            tcp = true;
        } else if (!strcmp(key, "port") && has && c.kind == CHR_UNIX) {
            uint64_t v;
            if (cli_parse_number(val, &v) < 0 || v == 0 || v > 65535)
                return cli_failf(e, "%s %s: port=%s: expected 1 to 65535", e->spelled, arg, val);
            c.port = (uint16_t)v;
            tcp = true;
        } else if (!strcmp(key, "server") && b >= 0 && c.kind == CHR_UNIX) {
            c.server = b;
        } else if (!strcmp(key, "wait") && b >= 0 && c.kind == CHR_UNIX) {
            c.wait = b;
        } else if (!strcmp(key, "nowait") && !has && c.kind == CHR_UNIX) {
            c.wait = false;
        } else if ((!strcmp(key, "signal") || !strcmp(key, "mux") || !strcmp(key, "logappend"))
                   && b == 0) {
            /* QEMU's defaults here anyway: no mux, no signals from the chardev */
        } else {
            return cli_failf(e, "%s %s: property '%s%s%s' is not supported", e->spelled, arg, key,
                         has ? "=" : "", has ? val : "");
        }
    }
    if (!c.id[0])
        return refuse(e, arg, "needs id=ID (at most 31 bytes)");
    if (c.kind == CHR_FILE && !c.path[0])
        return refuse(e, arg, "file needs path=PATH");
    if (c.kind == CHR_UNIX) {
        if (tcp) {
            c.kind = CHR_TCP;
            if (!c.port || c.path[0])
                return refuse(e, arg, "socket needs path=PATH or host=HOST,port=PORT");
        } else if (!c.path[0]) {
            return refuse(e, arg, "socket needs path=PATH or host=HOST,port=PORT");
        }
    }
    for (int i = 0; i < opt->num_chardevs; i++)
        if (!strcmp(opt->chardevs[i].id, c.id))
            return cli_failf(e, "%s %s: duplicate id '%s'", e->spelled, arg, c.id);
    opt->chardevs[opt->num_chardevs++] = c;
    return 0;
}

/* -debugcon DEV: port 0xE9's output. stdio, file:PATH, null/none, chardev:ID, tcp:, unix:,
 * pty as -serial takes them. */
int opt_debugcon(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e)
{
    (void)spec;
    int r = cli_parse_serial_chardev(opt, arg, &opt->debugcon, e);
    if (r > 0)
        return refuse(e, arg, "expected stdio, file:PATH, null, none, pty, tcp:HOST:PORT, "
                      "unix:PATH or chardev:ID");
    return r;
}

/* chardev:ID → the -chardev it names (copied over *c, which keeps being the user's). */
static int resolve(CliOptions *opt, CliChardev *c, const char *what, char *err, size_t size)
{
    if (c->kind != CHR_REF)
        return 0;
    for (int i = 0; i < opt->num_chardevs; i++) {
        if (!strcmp(opt->chardevs[i].id, c->id)) {
            *c = opt->chardevs[i];
            return 0;
        }
    }
    snprintf(err, size, "%s chardev:%s: no -chardev with id=%s", what, c->id, c->id);
    return -1;
}

int cli_check_qemu(CliOptions *opt, char *err, size_t size)
{
    if (resolve(opt, &opt->serial_chr[0], "-serial", err, size) < 0 ||
        resolve(opt, &opt->serial_chr[1], "-serial", err, size) < 0 ||
        resolve(opt, &opt->debugcon, "-debugcon", err, size) < 0 ||
        resolve(opt, &opt->monitor_chr, "-monitor", err, size) < 0)
        return -1;
    /* A chardev COM1 that is stdio, a file or null is the serial mode of before. */
    CliChardev *com1 = &opt->serial_chr[0];
    if (opt->serial == SERIAL_CHARDEV && com1->kind == CHR_STDIO)
        opt->serial = SERIAL_STDIO;
    else if (opt->serial == SERIAL_CHARDEV && com1->kind == CHR_NULL)
        opt->serial = SERIAL_NONE;
    else if (opt->serial == SERIAL_CHARDEV && com1->kind == CHR_FILE) {
        opt->serial = SERIAL_FILE;
        opt->serial_path = com1->path;
    }
    if (opt->serial_chr[1].kind == CHR_STDIO) {
        snprintf(err, size, "-serial stdio: the terminal is COM1's; COM2 takes file:, null, "
                 "pty, tcp:, unix: or chardev:");
        return -1;
    }
    if (opt->monitor_chr.kind == CHR_STDIO) {
        opt->monitor = MONITOR_STDIO;
    } else if (opt->monitor_chr.kind == CHR_UNIX && opt->monitor_chr.server) {
        copy_str(opt->monitor_buf, sizeof(opt->monitor_buf), opt->monitor_chr.path);
        opt->monitor = MONITOR_UNIX;
        opt->monitor_path = opt->monitor_buf;
    } else if (opt->monitor_chr.kind == CHR_NULL) {
        opt->monitor = MONITOR_NONE;
    } else if (opt->monitor_chr.kind != CHR_NONE) {
        snprintf(err, size, "-monitor chardev:%s: the monitor takes a stdio, null or "
                 "socket,path=P,server=on chardev", opt->monitor_chr.id);
        return -1;
    }
    /* QEMU's -nodefaults: no default serial port (and no default VGA). */
    if (opt->nodefaults && !opt->serial_given)
        opt->serial = SERIAL_NONE;
    if (opt->nodefaults)
        opt->vga_none = true;
    if (opt->vga_none && opt->vga) {
        snprintf(err, size, "--vga prints the VGA text screen: not with -vga none or "
                 "-nodefaults");
        return -1;
    }
    if (opt->vga_none && opt->display == DISPLAY_CURSES) {
        snprintf(err, size, "-display curses shows the VGA text screen: not with -vga none "
                 "or -nodefaults");
        return -1;
    }
    if (opt->daemonize) {
        bool stdio = opt->serial == SERIAL_STDIO || opt->monitor == MONITOR_STDIO ||
                     opt->serial_chr[1].kind == CHR_STDIO || opt->debugcon.kind == CHR_STDIO;
        for (int i = 0; i < opt->num_chardevs; i++)
            stdio |= opt->chardevs[i].kind == CHR_STDIO;
        if (stdio) {
            snprintf(err, size, "-daemonize: -nographic, -serial stdio and -monitor stdio are "
                     "incompatible with it (the terminal is left): give -serial and -monitor "
                     "elsewhere");
            return -1;
        }
        if (opt->debugcon.kind == CHR_NONE)
            opt->debugcon.kind = CHR_NULL;   /* port 0xE9 wrote to the terminal */
    }
    return 0;
}
