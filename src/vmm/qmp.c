/*
 * QMP (qmp.h): QEMU's JSON protocol over one client connection. Message shapes, error
 * classes and wording follow QEMU's documented protocol (docs/interop/qmp-spec.rst and
 * the QAPI schema's command and event descriptions); the code is our own.
 *
 * The client's bytes are cut into JSON values by a small scanner that counts brackets
 * outside strings (as QEMU's JSON streamer does, so a command may span lines or share
 * one); each value is parsed by json.c, checked and executed. Control commands go through
 * the HMP monitor's own functions, so QMP and HMP do the same thing.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "vmm/json.h"
#include "vmm/qmp.h"

struct QmpSession {
    SimpleVM *svm;
    QemuMonitor *hmp;
    QmpSendFn send;
    void *opaque;
    bool connected;       /* a client is there and takes what is sent */
    bool negotiated;      /* qmp_capabilities was executed */
    bool was_running;     /* the run state last reported (STOP/RESUME) */
    bool prelaunch;       /* -S and never run yet */
    bool shutdown_sent;
    bool quit_seen;
    /* The scanner: the value being gathered. */
    char buf[JSON_MAX_INPUT + 1];
    size_t len;
    long depth;
    bool in_string, escape, discarding;
    /* Events a command causes that QEMU sends after its answer (RESET, POWERDOWN). */
    char after[256];
};

static void send_text(QmpSession *s, const char *data, size_t len)
{
    if (s->connected && !s->send(s->opaque, data, len))
        s->connected = false;
}

/* Sends what a memstream gathered, plus QEMU's CRLF. */
static void send_stream(QmpSession *s, FILE *f, char **text, size_t *len)
{
    fputs("\r\n", f);
    fclose(f);
    if (*text)
        send_text(s, *text, *len);
    free(*text);
}

/* An event: {"event": NAME[, "data": DATA], "timestamp": {...}}; data is JSON text. */
static void send_event(QmpSession *s, const char *name, const char *data)
{
    if (!s->connected || !s->negotiated)
        return;   /* QEMU sends events only after capabilities negotiation */
    struct timeval tv;
    gettimeofday(&tv, NULL);
    char msg[512];
    int n = snprintf(msg, sizeof(msg),
                     "{\"event\": \"%s\"%s%s, \"timestamp\": {\"seconds\": %lld, "
                     "\"microseconds\": %ld}}\r\n",
                     name, data ? ", \"data\": " : "", data ? data : "", (long long)tv.tv_sec,
                     (long)tv.tv_usec);
    if (n > 0 && (size_t)n < sizeof(msg))
        send_text(s, msg, (size_t)n);
}

QmpSession *qmp_session_create(SimpleVM *svm, QemuMonitor *hmp, QmpSendFn send, void *opaque,
                               bool prelaunch)
{
    if (!svm || !hmp || !send) {
        errno = EINVAL;
        return NULL;
    }
    QmpSession *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->svm = svm;
    s->hmp = hmp;
    s->send = send;
    s->opaque = opaque;
    s->prelaunch = prelaunch;
    s->was_running = !prelaunch;
    return s;
}

void qmp_session_destroy(QmpSession *s) { free(s); }

static void scanner_reset(QmpSession *s)
{
    s->len = 0;
    s->depth = 0;
    s->in_string = s->escape = false;
}

void qmp_session_connect(QmpSession *s)
{
    s->connected = true;
    s->negotiated = false;
    s->discarding = false;
    scanner_reset(s);
    unsigned major = 0, minor = 0, micro = 0;
    sscanf(SCRATCHVM_VERSION, "%u.%u.%u", &major, &minor, &micro);
    char msg[256];
    int n = snprintf(msg, sizeof(msg),
                     "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": %u, \"minor\": %u, "
                     "\"major\": %u}, \"package\": \"ScratchVM " SCRATCHVM_VERSION "\"}, "
                     "\"capabilities\": []}}\r\n",
                     micro, minor, major);
    send_text(s, msg, (size_t)n);
}

void qmp_session_disconnect(QmpSession *s)
{
    s->connected = false;
    scanner_reset(s);
}

bool qmp_session_quit_requested(const QmpSession *s) { return s->hmp->quit_requested; }

void qmp_session_shutdown(QmpSession *s, bool guest, const char *reason)
{
    if (s->shutdown_sent)
        return;
    s->shutdown_sent = true;
    char data[128];
    snprintf(data, sizeof(data), "{\"guest\": %s, \"reason\": \"%s\"}", guest ? "true" : "false",
             reason);
    send_event(s, "SHUTDOWN", data);
}

void qmp_session_poll(QmpSession *s)
{
    if (s->hmp->quit_requested) {
        if (!s->quit_seen) {   /* QEMU's quit: the answer, then SHUTDOWN, and no STOP */
            s->quit_seen = true;
            qmp_session_shutdown(s, false, "host-qmp-quit");
        }
        return;
    }
    bool running = vm_thread_state(s->svm) == VM_THREAD_RUNNING;
    if (running)
        s->prelaunch = false;
    if (running != s->was_running) {
        s->was_running = running;
        send_event(s, running ? "RESUME" : "STOP", NULL);
    }
}

/* ---- commands ------------------------------------------------------------------------ */

typedef struct {
    const char *class;    /* "GenericError", "CommandNotFound", ... */
    char desc[512];
} QmpError;

static int qmp_fail(QmpError *err, const char *class, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int qmp_fail(QmpError *err, const char *class, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err->class = class;
    vsnprintf(err->desc, sizeof(err->desc), fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* One parameter a command takes: its name, JSON type and whether it must be there. */
typedef struct {
    const char *name;
    JsonType type;
    bool required;
} QmpParam;

typedef struct QmpCommand {
    const char *name;
    /* Prints the "return" value to ret; or fills err and returns negative. */
    int (*run)(QmpSession *s, const JsonValue *args, FILE *ret, QmpError *err);
    QmpParam params[4];
} QmpCommand;

/* QEMU's words for arguments that do not fit the command. */
static int check_args(const QmpCommand *c, const JsonValue *args, QmpError *err)
{
    for (size_t i = 0; args && i < args->count; i++) {
        const QmpParam *p = NULL;
        for (const QmpParam *q = c->params; q < c->params + 4 && q->name; q++)
            if (!strcmp(q->name, args->keys[i]))
                p = q;
        if (!p)
            return qmp_fail(err, "GenericError", "Parameter '%.100s' is unexpected",
                            args->keys[i]);
        const JsonValue *v = args->items[i];
        bool ok = v->type == p->type || (p->type == JSON_NUMBER && v->type == JSON_NUMBER);
        if (ok && p->type == JSON_NUMBER && !v->is_int)
            ok = false;   /* every number a command here takes is an integer */
        if (!ok)
            return qmp_fail(err, "GenericError", "Invalid parameter type for '%s', expected: %s",
                            p->name, p->type == JSON_NUMBER ? "integer" : json_type_name(p->type));
    }
    for (const QmpParam *q = c->params; q < c->params + 4 && q->name; q++)
        if (q->required && !json_get(args, q->name))
            return qmp_fail(err, "GenericError", "Parameter '%s' is missing", q->name);
    return 0;
}

/* Runs an HMP command line; its text is the error of a command that failed. */
static int hmp_run(QmpSession *s, const char *line, QmpError *err)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem)
        return qmp_fail(err, "GenericError", "out of memory");
    int e = qemu_monitor_execute(s->hmp, line, mem);
    fclose(mem);
    if (e < 0) {
        while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
            text[--len] = '\0';
        qmp_fail(err, "GenericError", "%s", text && *text ? text : strerror(-e));
    }
    free(text);
    return e < 0 ? e : 0;
}

static int run_capabilities(QmpSession *s, const JsonValue *args, FILE *ret, QmpError *err)
{
    const JsonValue *enable = json_get(args, "enable");
    for (size_t i = 0; enable && i < enable->count; i++) {
        const JsonValue *c = enable->items[i];
        return qmp_fail(err, "GenericError", "Capability '%.100s' not available",
                        c->type == JSON_STRING ? c->string : "?");
    }
    s->negotiated = true;
    fputs("{}", ret);
    return 0;
}

static const char *run_state_name(QmpSession *s, bool *running)
{
    *running = false;
    switch (vm_thread_state(s->svm)) {
    case VM_THREAD_RUNNING:
        *running = true;
        return "running";
    case VM_THREAD_PAUSED:
        if (s->svm->stop_reason == VM_STOP_DEBUG)
            return "debug";
        return s->prelaunch ? "prelaunch" : "paused";
    case VM_THREAD_ENDED:
        break;
    }
    switch (s->svm->stop_reason) {
    case VM_STOP_FAIL_ENTRY:
    case VM_STOP_INTERNAL_ERROR:
        return "internal-error";
    case VM_STOP_HLT:
        return "paused";   /* halted with interrupts off: QEMU has no closer word */
    default:
        return "shutdown";
    }
}

static int run_query_status(QmpSession *s, const JsonValue *args, FILE *ret, QmpError *err)
{
    (void)args;
    (void)err;
    bool running;
    const char *status = run_state_name(s, &running);
    fprintf(ret, "{\"status\": \"%s\", \"singlestep\": false, \"running\": %s}", status,
            running ? "true" : "false");
    return 0;
}

static int run_simple_hmp(QmpSession *s, const char *line, FILE *ret, QmpError *err)
{
    if (hmp_run(s, line, err) < 0)
        return -EINVAL;
    fputs("{}", ret);
    return 0;
}

static int run_stop(QmpSession *s, const JsonValue *a, FILE *ret, QmpError *err)
{
    (void)a;
    return run_simple_hmp(s, "stop", ret, err);
}

static int run_cont(QmpSession *s, const JsonValue *a, FILE *ret, QmpError *err)
{
    (void)a;
    return run_simple_hmp(s, "cont", ret, err);
}

static int run_quit(QmpSession *s, const JsonValue *a, FILE *ret, QmpError *err)
{
    (void)a;
    return run_simple_hmp(s, "quit", ret, err);
}

static int run_system_reset(QmpSession *s, const JsonValue *a, FILE *ret, QmpError *err)
{
    (void)a;
    if (run_simple_hmp(s, "system_reset", ret, err) < 0)
        return -EINVAL;
    snprintf(s->after, sizeof(s->after), "RESET");
    return 0;
}

static int run_system_powerdown(QmpSession *s, const JsonValue *a, FILE *ret, QmpError *err)
{
    (void)a;
    if (run_simple_hmp(s, "system_powerdown", ret, err) < 0)
        return -EINVAL;
    snprintf(s->after, sizeof(s->after), "POWERDOWN");
    return 0;
}

/* HMP's output as one string, with QEMU's CRLF line ends. */
static int run_hmp(QmpSession *s, const JsonValue *args, FILE *ret, QmpError *err)
{
    const JsonValue *cpu = json_get(args, "cpu-index");
    if (cpu && (cpu->integer < 0 || cpu->integer >= (long long)s->svm->num_vcpus))
        return qmp_fail(err, "GenericError", "CPU %lld is not present", (long long)cpu->integer);
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem)
        return qmp_fail(err, "GenericError", "out of memory");
    /* cpu-index: the command looks at that vCPU, as after HMP's `cpu N`, for itself only. */
    unsigned keep = s->svm->sel_vcpu;
    if (cpu)
        s->svm->sel_vcpu = (unsigned)cpu->integer;
    qemu_monitor_execute(s->hmp, json_get(args, "command-line")->string, mem);
    if (cpu)
        s->svm->sel_vcpu = keep;
    fclose(mem);
    char *crlf = malloc(2 * len + 1), *o = crlf;
    if (!crlf) {
        free(text);
        return qmp_fail(err, "GenericError", "out of memory");
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r'))
            *o++ = '\r';
        *o++ = text[i] ? text[i] : ' ';
    }
    *o = '\0';
    json_print_string(ret, crlf);
    free(crlf);
    free(text);
    return 0;
}

static int run_query_cpus_fast(QmpSession *s, const JsonValue *a, FILE *ret, QmpError *err)
{
    (void)a;
    (void)err;
    /* One entry per vCPU; each is a package of its own (CPUID describes no cores or
     * threads), as QEMU's -smp N puts N sockets; they share the one vCPU thread. */
    fputc('[', ret);
    for (unsigned i = 0; i < s->svm->num_vcpus; i++)
        fprintf(ret, "%s{\"thread-id\": %d, \"props\": {\"core-id\": 0, \"thread-id\": 0, "
                "\"socket-id\": %u}, \"qom-path\": \"/machine/unattached/device[%u]\", "
                "\"cpu-index\": %u, \"target\": \"x86_64\"}", i ? ", " : "",
                vm_thread_id(s->svm), i, i, i);
    fputc(']', ret);
    return 0;
}

static int run_query_version(QmpSession *s, const JsonValue *a, FILE *ret, QmpError *err)
{
    (void)s;
    (void)a;
    (void)err;
    unsigned major = 0, minor = 0, micro = 0;
    sscanf(SCRATCHVM_VERSION, "%u.%u.%u", &major, &minor, &micro);
    fprintf(ret, "{\"qemu\": {\"micro\": %u, \"minor\": %u, \"major\": %u}, "
            "\"package\": \"ScratchVM " SCRATCHVM_VERSION "\"}", micro, minor, major);
    return 0;
}

/* screendump: PNG unless "format": "ppm" (the HMP command's default; QEMU's is PPM). */
static int run_screendump(QmpSession *s, const JsonValue *args, FILE *ret, QmpError *err)
{
    const JsonValue *fmt = json_get(args, "format"), *head = json_get(args, "head");
    bool ppm = false;
    if (fmt && strcmp(fmt->string, "png") && !(ppm = !strcmp(fmt->string, "ppm")))
        return qmp_fail(err, "GenericError", "Parameter 'format' does not accept value '%.64s'",
                        fmt->string);
    if (head && head->integer != 0)
        return qmp_fail(err, "GenericError", "Head %lld does not exist",
                        (long long)head->integer);
    if (!s->svm->screendump)
        return qmp_fail(err, "GenericError", "screendump is not available in this program");
    if (!s->svm->vga)
        return qmp_fail(err, "GenericError", "There is no console to take a screendump from");
    bool paused = vm_thread_state(s->svm) == VM_THREAD_RUNNING && vm_thread_pause(s->svm) == 0;
    int e = s->svm->screendump(s->svm->vga, json_get(args, "filename")->string, NULL, ppm);
    if (paused)
        vm_thread_resume(s->svm);
    if (e < 0)
        return qmp_fail(err, "GenericError", "%s", hv_last_error());
    fputs("{}", ret);
    return 0;
}

static int run_query_commands(QmpSession *s, const JsonValue *a, FILE *ret, QmpError *err);

static const QmpCommand qmp_commands[] = {
    {"qmp_capabilities", run_capabilities, {{"enable", JSON_ARRAY, false}}},
    {"query-status", run_query_status, {{0}}},
    {"stop", run_stop, {{0}}},
    {"cont", run_cont, {{0}}},
    {"system_reset", run_system_reset, {{0}}},
    {"system_powerdown", run_system_powerdown, {{0}}},
    {"quit", run_quit, {{0}}},
    {"human-monitor-command", run_hmp,
     {{"command-line", JSON_STRING, true}, {"cpu-index", JSON_NUMBER, false}}},
    {"query-cpus-fast", run_query_cpus_fast, {{0}}},
    {"screendump", run_screendump,
     {{"filename", JSON_STRING, true}, {"device", JSON_STRING, false},
      {"head", JSON_NUMBER, false}, {"format", JSON_STRING, false}}},
    {"query-version", run_query_version, {{0}}},
    {"query-commands", run_query_commands, {{0}}},
};
#define QMP_NUM_COMMANDS (sizeof(qmp_commands) / sizeof(qmp_commands[0]))

static int run_query_commands(QmpSession *s, const JsonValue *a, FILE *ret, QmpError *err)
{
    (void)s;
    (void)a;
    (void)err;
    fputc('[', ret);
    for (size_t i = 0; i < QMP_NUM_COMMANDS; i++)
        fprintf(ret, "%s{\"name\": \"%s\"}", i ? ", " : "", qmp_commands[i].name);
    fputc(']', ret);
    return 0;
}

/* Checks a request's shape as QEMU does; the command to run, or NULL with err filled. */
static const QmpCommand *check_request(QmpSession *s, const JsonValue *req, QmpError *err)
{
    if (req->type != JSON_OBJECT) {
        qmp_fail(err, "GenericError", "QMP input must be a JSON object");
        return NULL;
    }
    const JsonValue *exec = NULL, *args = NULL;
    for (size_t i = 0; i < req->count; i++) {
        const char *k = req->keys[i];
        if (!strcmp(k, "execute")) {
            exec = req->items[i];
        } else if (!strcmp(k, "arguments")) {
            args = req->items[i];
        } else if (strcmp(k, "id")) {
            qmp_fail(err, "GenericError", "QMP input member '%.100s' is unexpected", k);
            return NULL;
        }
    }
    if (!exec) {
        qmp_fail(err, "GenericError", "QMP input lacks member 'execute'");
        return NULL;
    }
    if (exec->type != JSON_STRING) {
        qmp_fail(err, "GenericError", "QMP input member 'execute' must be a string");
        return NULL;
    }
    if (args && args->type != JSON_OBJECT) {
        qmp_fail(err, "GenericError", "QMP input member 'arguments' must be an object");
        return NULL;
    }
    bool caps = !strcmp(exec->string, "qmp_capabilities");
    if (!s->negotiated && !caps) {
        qmp_fail(err, "CommandNotFound", "Expecting capabilities negotiation with "
                 "'qmp_capabilities'");
        return NULL;
    }
    if (s->negotiated && caps) {
        qmp_fail(err, "CommandNotFound", "Capabilities negotiation is already complete, "
                 "command ignored");
        return NULL;
    }
    for (size_t i = 0; i < QMP_NUM_COMMANDS; i++) {
        if (!strcmp(qmp_commands[i].name, exec->string))
            return check_args(&qmp_commands[i], args, err) < 0 ? NULL : &qmp_commands[i];
    }
    qmp_fail(err, "CommandNotFound", "The command %.100s has not been found", exec->string);
    return NULL;
}

/* One complete value from the client: parsed, executed, answered. */
static void handle_message(QmpSession *s, const char *text, size_t len)
{
    JsonValue *req = NULL;
    QmpError err = {0};
    char why[128];
    const QmpCommand *cmd = NULL;
    if (json_parse(text, len, &req, why, sizeof(why)) < 0)
        qmp_fail(&err, "GenericError", "JSON parse error, %s", why);
    else
        cmd = check_request(s, req, &err);
    char *ret_text = NULL;
    size_t ret_len = 0;
    FILE *ret = open_memstream(&ret_text, &ret_len);
    if (!ret) {
        json_free(req);
        return;
    }
    s->after[0] = '\0';
    if (cmd && cmd->run(s, json_get(req, "arguments"), ret, &err) < 0)
        cmd = NULL;
    fclose(ret);
    /* Run-state events a command caused come first, as QEMU's stop and cont send them. */
    if (!s->hmp->quit_requested)
        qmp_session_poll(s);
    char *msg = NULL;
    size_t msg_len = 0;
    FILE *m = open_memstream(&msg, &msg_len);
    if (m) {
        if (cmd) {
            fputs("{\"return\": ", m);
            fputs(ret_text ? ret_text : "{}", m);
        } else {
            fputs("{\"error\": {\"class\": ", m);
            json_print_string(m, err.class ? err.class : "GenericError");
            fputs(", \"desc\": ", m);
            json_print_string(m, err.desc);
            fputc('}', m);
        }
        const JsonValue *id = json_get(req, "id");
        if (id) {
            fputs(", \"id\": ", m);
            json_print(m, id);
        }
        fputc('}', m);
        send_stream(s, m, &msg, &msg_len);
    }
    free(ret_text);
    json_free(req);
    if (s->after[0] == 'R')
        send_event(s, "RESET", "{\"guest\": false, \"reason\": \"host-qmp-system-reset\"}");
    else if (s->after[0] == 'P')
        send_event(s, "POWERDOWN", NULL);
    qmp_session_poll(s);   /* quit: SHUTDOWN after the answer */
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

void qmp_session_input(QmpSession *s, const char *data, size_t len)
{
    for (size_t i = 0; i < len && s->connected && !s->hmp->quit_requested; i++) {
        char c = data[i];
        if (s->discarding) {
            if (c == '\n')
                s->discarding = false;
            continue;
        }
        if (s->len == 0 && is_space(c))
            continue;
        if (s->len >= JSON_MAX_INPUT) {
            QmpError err;
            qmp_fail(&err, "GenericError", "JSON parse error, input longer than %d bytes",
                     JSON_MAX_INPUT);
            char msg[256];
            int n = snprintf(msg, sizeof(msg),
                             "{\"error\": {\"class\": \"GenericError\", \"desc\": \"%s\"}}\r\n",
                             err.desc);
            send_text(s, msg, (size_t)n);
            scanner_reset(s);
            s->discarding = c != '\n';
            continue;
        }
        s->buf[s->len++] = c;
        bool complete = false;
        if (s->in_string) {
            if (s->escape)
                s->escape = false;
            else if (c == '\\')
                s->escape = true;
            else if (c == '"')
                s->in_string = false;
        } else if (c == '"') {
            s->in_string = true;
        } else if (c == '{' || c == '[') {
            s->depth++;
        } else if (c == '}' || c == ']') {
            complete = --s->depth <= 0;
        } else if (c == '\n' && s->depth == 0) {
            complete = true;   /* a bare scalar (an error), ended by its line */
        }
        if (complete) {
            size_t n = s->len;
            s->buf[n] = '\0';
            scanner_reset(s);
            handle_message(s, s->buf, n);
        }
    }
}
