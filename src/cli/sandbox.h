/*
 * The VMM's seccomp sandbox (libseccomp): once the VM is set up (guest loaded, disks
 * open, monitor socket listening, vCPU thread started), every thread of the process is
 * confined to the system calls the run loop, the devices, the monitor, the gdb stub and
 * the console need (the table in sandbox.c says why each is there). Any other system call
 * (execve, socket, ptrace, ...) ends the process at once with a one-line message naming
 * the call and exit status EXIT_SANDBOX. `--sandbox off` runs without the filter.
 */
#ifndef SCRATCHVM_CLI_SANDBOX_H
#define SCRATCHVM_CLI_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>

/* Installs the filter on every thread (SECCOMP_FILTER_FLAG_TSYNC). log_only (--sandbox
 * log): a forbidden call is allowed but logged by the kernel (audit, type 1326, in dmesg),
 * to find what the allowlist misses. 0, or -1 with a
 * one-line reason in `why` (e.g. the kernel has no seccomp): the caller decides whether
 * to go on. Call once; the filter cannot be removed. */
int sandbox_install(bool log_only, char *why, size_t why_size);

/* What the configured network back ends add to the allowlist (and nothing when none is
 * configured). User-mode networking (libslirp) opens a host socket for each of the
 * guest's connections at run time; a tap device needs nothing beyond read and write. */
#define SANDBOX_NET_USER 0x1
int sandbox_install_for(bool log_only, unsigned needs, char *why, size_t why_size);

/* A test-only probe (SCRATCHVM_SANDBOX_PROBE=execve in the environment, read at
 * install): makes an execve(2) of a path that does not exist, which the sandbox must
 * stop. Without the sandbox the call just fails with ENOENT and the VMM goes on. */
void sandbox_run_probe(void);

#endif
