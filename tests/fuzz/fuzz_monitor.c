/*
 * Harness: the monitor's command parser and commands (qemu_monitor_execute) on a small
 * sim VM whose vCPU thread starts paused, as under `-S --monitor`. The guest is a counting
 * loop (so `cont`, `stop`, `step` and the `x /i` disassembly have something to act on).
 * Input: up to FUZZ_MON_LINES lines split at '\n' (NUL bytes stay inside a line up to the
 * NUL, as a C string ends there); the answers go to /dev/null. A fresh VM per input, so a
 * finding replays. A command that does not return in libFuzzer's -timeout is a finding.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "hypervisor_sim.h"

#define FUZZ_MON_LINES 8
#define FUZZ_MON_LINE_MAX 4096

static FILE *devnull;

/* inc %ax; out %al,$0x80; jmp back: forever, with an I/O exit per turn. */
static const uint8_t guest[] = { 0x40, 0xE6, 0x80, 0xEB, 0xFB };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    devnull = fuzz_quiet_output();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!devnull)
        return 0;
    SimpleVM *svm = vm_create_bytes(VM_MIN_RAM, HV_BACKEND_SIM);
    if (!svm)
        return 0;
    QemuMonitor *mon = NULL;
    char *line = malloc(FUZZ_MON_LINE_MAX + 1);
    if (!line || vm_load_code(svm, guest, sizeof(guest), 0x7C00) < 0 ||
        vm_thread_start(svm, true, NULL, NULL) < 0 || !(mon = qemu_monitor_create(svm)))
        goto out;
    mon->no_files = true;   /* memsave/pmemsave would write wherever the input says */
    size_t pos = 0;
    for (int l = 0; l < FUZZ_MON_LINES && pos < size; l++) {
        const uint8_t *nl = memchr(data + pos, '\n', size - pos);
        size_t len = nl ? (size_t)(nl - (data + pos)) : size - pos;
        size_t n = len < FUZZ_MON_LINE_MAX ? len : FUZZ_MON_LINE_MAX;
        memcpy(line, data + pos, n);
        line[n] = 0;
        pos += len + 1;
        qemu_monitor_execute(mon, line, devnull);
    }
out:
    if (mon)
        qemu_monitor_destroy(mon);
    vm_thread_quit(svm);
    vm_destroy(svm);
    free(line);
    return 0;
}
