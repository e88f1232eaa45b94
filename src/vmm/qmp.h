/* QMP, the QEMU Machine Protocol, on one client connection at a time (src/vmm/qmp.c).
 *
 * The session is transport-free: the front end (src/cli/cli.c) owns the socket, hands the
 * client's bytes to qmp_session_input and sends what the session gives its send function.
 * Messages follow QEMU's documented protocol (docs/interop/qmp-spec): a greeting on
 * connect, `qmp_capabilities` before anything else, one JSON object per command, answers
 * {"return": ...} or {"error": {"class", "desc"}} with the command's "id" echoed, and
 * events {"event", "data", "timestamp"}; every message ends in CRLF, as QEMU sends it.
 * Everything runs on the thread that owns the monitor (the front end's main loop). */
#ifndef SCRATCHVM_VMM_QMP_H
#define SCRATCHVM_VMM_QMP_H

#include <stdbool.h>
#include <stddef.h>

#include "hypervisor_sim.h"

typedef struct QmpSession QmpSession;

/* Sends len bytes to the client; false when the client is gone (the session then stays
 * quiet until the next qmp_session_connect). */
typedef bool (*QmpSendFn)(void *opaque, const char *data, size_t len);

/* A session on svm; human-monitor-command runs on `hmp` (not owned). NULL with errno set
 * when out of memory. `prelaunch`: the VM was started paused (-S): query-status says
 * "prelaunch" until it first runs. */
QmpSession *qmp_session_create(SimpleVM *svm, QemuMonitor *hmp, QmpSendFn send, void *opaque,
                               bool prelaunch);
void qmp_session_destroy(QmpSession *s);

/* A client connected: sends the greeting; negotiation starts over. */
void qmp_session_connect(QmpSession *s);
/* The client left: nothing is sent until the next connect. */
void qmp_session_disconnect(QmpSession *s);
/* Bytes from the client: each complete JSON value is executed and answered. A value
 * longer than JSON_MAX_INPUT is answered with an error and dropped up to the next
 * newline. */
void qmp_session_input(QmpSession *s, const char *data, size_t len);
/* Emits STOP or RESUME when the vCPU's run state changed since the last look (whoever
 * changed it: QMP, the HMP monitor, gdb, the guest). The front end calls it on each turn
 * of its loop. */
void qmp_session_poll(QmpSession *s);
/* The SHUTDOWN event (once per session): guest true when the guest asked for it, reason
 * one of QEMU's ShutdownCause names ("guest-shutdown", "guest-reset", "host-qmp-quit",
 * "host-signal", "host-ui"). */
void qmp_session_shutdown(QmpSession *s, bool guest, const char *reason);
/* Whether `quit` was executed (through QMP or human-monitor-command). */
bool qmp_session_quit_requested(const QmpSession *s);

#endif
