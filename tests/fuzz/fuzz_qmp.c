/*
 * Harness: QMP (src/vmm/qmp.c) and its JSON parser (src/vmm/json.c). The input is parsed
 * as one JSON value (and printed again, which must parse back), then fed as a client's
 * byte stream to a QMP session on a small sim VM whose vCPU thread starts paused, as under
 * `-S -qmp`. Every message the session sends must be one line of valid JSON ending in
 * CRLF: a malformed answer is a finding (abort). screendump is not reachable (the VM has
 * no svm->screendump, as in any program but scratchvm), so no file is written.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "hypervisor_sim.h"
#include "vmm/json.h"
#include "vmm/qmp.h"

/* inc %ax; out %al,$0x80; jmp back: forever, with an I/O exit per turn. */
static const uint8_t guest[] = {0x40, 0xE6, 0x80, 0xEB, 0xFB};

static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    devnull = fuzz_quiet_output();
    return 0;
}

static bool check_message(void *opaque, const char *data, size_t len)
{
    (void)opaque;
    if (len < 2 || data[len - 2] != '\r' || data[len - 1] != '\n' ||
        memchr(data, '\n', len - 1))
        abort();
    JsonValue *v;
    if (json_parse(data, len - 2, &v, NULL, 0) < 0 || v->type != JSON_OBJECT)
        abort();
    json_free(v);
    return true;
}

static void round_trip(const uint8_t *data, size_t size)
{
    JsonValue *v;
    char err[128];
    if (json_parse((const char *)data, size, &v, err, sizeof(err)) < 0) {
        if (!err[0])
            abort();   /* every failure says why */
        return;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (mem) {
        json_print(mem, v);
        fclose(mem);
        JsonValue *again;
        if (json_parse(text, len, &again, err, sizeof(err)) < 0)
            abort();   /* what the printer writes, the parser reads */
        json_free(again);
    }
    free(text);
    json_free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    round_trip(data, size);
    if (size > 16384)
        return 0;   /* the session's own size limit is tested with less */
    SimpleVM *svm = vm_create_bytes(VM_MIN_RAM, HV_BACKEND_SIM);
    if (!svm)
        return 0;
    QemuMonitor *hmp = NULL;
    QmpSession *s = NULL;
    if (vm_load_code(svm, guest, sizeof(guest), 0x7C00) < 0 ||
        vm_thread_start(svm, true, NULL, NULL) < 0 || !(hmp = qemu_monitor_create(svm)) ||
        !(s = qmp_session_create(svm, hmp, check_message, NULL, true)))
        goto out;
    hmp->out = devnull;
    qmp_session_connect(s);
    qmp_session_input(s, (const char *)data, size);
    qmp_session_poll(s);
    qmp_session_shutdown(s, false, "host-signal");
out:
    qmp_session_destroy(s);
    if (hmp)
        qemu_monitor_destroy(hmp);
    vm_thread_quit(svm);
    vm_destroy(svm);
    return 0;
}
