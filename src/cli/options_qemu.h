/* QEMU's machine, CPU and character-device options (issue 30): the handlers of
 * cli_option_table's QEMU block, and the pure checks cli.c makes once the backend is known.
 * Kept apart from options.c so that options of other work land in other hunks. */
#ifndef SCRATCHVM_CLI_OPTIONS_QEMU_H
#define SCRATCHVM_CLI_OPTIONS_QEMU_H

#include "cli/options.h"

int opt_smp(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e);
int opt_machine(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e);
int opt_cpu(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e);
int opt_name(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e);
int opt_rtc(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e);
int opt_qemu_flag(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e);
int opt_pidfile(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e);
int opt_debugcon(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e);
int opt_vga_type(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e);
int opt_device(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e);
int opt_chardev(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e);

/* -serial VALUE beyond stdio/mon:stdio/file:/none/null: tcp:, unix:, pty, chardev:ID.
 * Returns 0 and fills *c, 1 when VALUE is none of these, -1 with a message. */
int cli_parse_serial_chardev(CliOptions *opt, const char *arg, CliChardev *c, CliError *e);

/* After parsing: -nodefaults, -daemonize and chardev:ID references. 0 or -1 with err. */
int cli_check_qemu(CliOptions *opt, char *err, size_t err_size);

/* The CPU models -cpu knows, with QEMU's CPUID feature names. */
typedef struct {
    const char *name;
    uint64_t features;    /* CLI_CPU_F_* bits */
} CliCpuModel;
extern const CliCpuModel cli_cpu_models[];
/* The sim CPU's features (src/sim/kvm_sim.c's CPUID), CLI_CPU_F_* bits. */
uint64_t cli_sim_cpu_features(void);
/* The names of the bits in mask, ", "-separated, into buf. */
void cli_cpu_feature_names(uint64_t mask, char *buf, size_t size);
/* Checks -cpu against the backend's CPU (features: what its CPUID offers; kvm: whether
 * it is Linux KVM). Returns 0, 1 with a warning in msg (the model differs, the guest runs
 * with the backend's CPUID), or -1 with the refusal in msg. */
int cli_cpu_check(const CliOptions *opt, uint64_t features, bool kvm, char *msg, size_t size);

#endif
