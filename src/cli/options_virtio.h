/* The options of the virtio devices and their back ends (issue 26): -drive if=virtio|none,
 * -device virtio-blk-pci|virtio-net-pci|virtio-rng-pci, -netdev and -nic. Pure, as
 * options.c: parsed into CliOptions, done by cli.c. */
#ifndef SCRATCHVM_CLI_OPTIONS_VIRTIO_H
#define SCRATCHVM_CLI_OPTIONS_VIRTIO_H

#include "cli/options.h"

/* Does this -drive value say if=virtio or if=none (a disk for virtio, not the BIOS)? */
bool cli_drive_is_virtio(const char *arg);
int opt_drive_virtio(CliOptions *opt, const char *arg, CliError *e);
int opt_netdev(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e);
int opt_nic(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e);
/* -device DRIVER,...: 0 when DRIVER is a virtio device (parsed), 1 when it is not one,
 * -1 with a message. */
int cli_device_virtio(CliOptions *opt, const char *arg, CliError *e);
/* After parsing: drive= and netdev= references, each back end used once. 0 or -1. */
int cli_check_virtio(CliOptions *opt, char *err, size_t size);

#endif
