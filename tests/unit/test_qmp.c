/* Unit tests for the JSON parser and printer (src/vmm/json.c) and the QMP session
 * (src/vmm/qmp.c) on a sim VM, without sockets. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hypervisor_sim.h"
#include "vmm/json.h"
#include "vmm/qmp.h"

static JsonValue *parse_ok(const char *text)
{
    JsonValue *v = NULL;
    char err[128];
    int e = json_parse(text, strlen(text), &v, err, sizeof(err));
    if (e < 0)
        fail_msg("'%s' did not parse: %s", text, err);
    return v;
}

static void parse_bad(const char *text, size_t len, const char *why)
{
    JsonValue *v = (JsonValue *)1;
    char err[128] = "";
    int e = json_parse(text, len, &v, err, sizeof(err));
    if (e >= 0)
        fail_msg("'%.60s' parsed, expected an error (%s)", text, why);
    assert_null(v);
    assert_true(err[0] != '\0');
    if (why && !strstr(err, why))
        fail_msg("'%.60s': error '%s', expected '%s'", text, err, why);
}

static char *print(const JsonValue *v)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    json_print(f, v);
    fclose(f);
    return text;
}

static void test_json_values(void **state)
{
    (void)state;
    JsonValue *v = parse_ok(" {\"a\": [1, -2, 0.5, 1e3, true, false, null], \"b\": \"x\\ty\","
                            " \"c\": {}} ");
    assert_int_equal(v->type, JSON_OBJECT);
    const JsonValue *a = json_get(v, "a");
    assert_int_equal(a->count, 7);
    assert_true(a->items[0]->is_int);
    assert_int_equal(a->items[1]->integer, -2);
    assert_false(a->items[2]->is_int);
    assert_true(a->items[3]->number == 1000.0);
    assert_true(a->items[4]->boolean);
    assert_false(a->items[5]->boolean);
    assert_int_equal(a->items[6]->type, JSON_NULL);
    assert_string_equal(json_get(v, "b")->string, "x\ty");
    assert_null(json_get(v, "d"));
    char *text = print(v);
    assert_string_equal(text, "{\"a\": [1, -2, 0.5, 1000, true, false, null], \"b\": \"x\\ty\", "
                              "\"c\": {}}");
    free(text);
    json_free(v);
}

static void test_json_unicode(void **state)
{
    (void)state;
    JsonValue *v = parse_ok("\"\\u00e9\\u20ac\\ud83d\\ude00 \xc3\xa9 \\/\"");
    assert_string_equal(v->string, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 \xc3\xa9 /");
    json_free(v);
    /* Printing: control characters escaped, UTF-8 kept, stray bytes as Latin-1. */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    json_print_string(f, "a\x01\"\\\xc3\xa9\xff\r\n");
    fclose(f);
    assert_string_equal(text, "\"a\\u0001\\\"\\\\\xc3\xa9\\u00ff\\r\\n\"");
    free(text);
}

static void test_json_hostile(void **state)
{
    (void)state;
    parse_bad("", 0, "expecting value");
    parse_bad("{", 1, NULL);
    parse_bad("[1,]", 4, "expecting value");
    parse_bad("{\"a\":1,}", 8, "string key");
    parse_bad("{\"a\" 1}", 7, "':'");
    parse_bad("01", 2, "after the value");
    parse_bad("1.", 2, "bad number");
    parse_bad("-", 1, "expecting value");
    parse_bad("1e", 2, "bad number");
    parse_bad("tru", 3, "expecting value");
    parse_bad("\"abc", 4, "unterminated");
    parse_bad("\"a\x01\"", 4, "control character");
    parse_bad("\"\\x\"", 4, "bad escape");
    parse_bad("\"\\u12\"", 6, "\\u");
    parse_bad("\"\\ud800\"", 8, "surrogate");
    parse_bad("\"\\udc00\"", 8, "surrogate");
    parse_bad("\"\\u0000\"", 8, "\\u0000");
    parse_bad("\"\xc0\x80\"", 4, "UTF-8");          /* overlong NUL */
    parse_bad("\"\xed\xa0\x80\"", 5, "UTF-8");      /* an encoded surrogate */
    parse_bad("\"\xf4\x90\x80\x80\"", 6, "UTF-8");  /* above U+10FFFF */
    parse_bad("\"\xe2\x82\"", 4, "UTF-8");          /* cut short */
    parse_bad("{\"a\":1,\"a\":2}", 13, "duplicate");
    parse_bad("[1] [2]", 7, "after the value");
    parse_bad("{\"a\":1}\0", 8, "after the value");
    parse_bad("1e99999999999999999999999999999999999999999999999999999999999999999", 67,
              "too long");
    /* Depth: 32 levels parse, 33 do not; a million '[' is refused without recursion. */
    char deep[80];
    memset(deep, '[', 32);
    memset(deep + 32, ']', 32);
    JsonValue *v;
    assert_int_equal(json_parse(deep, 64, &v, NULL, 0), 0);
    json_free(v);
    memset(deep, '[', 33);
    memset(deep + 33, ']', 33);
    parse_bad(deep, 66, "nesting");
    size_t big = 1u << 20;
    char *huge = malloc(big);
    memset(huge, '[', big);
    parse_bad(huge, JSON_MAX_INPUT, "nesting");
    parse_bad(huge, big, "longer than");
    /* Many members: bounded, not quadratic in the whole input. */
    char *p = huge;
    *p++ = '{';
    for (int i = 0; i < 300; i++)
        p += sprintf(p, "%s\"k%d\":%d", i ? "," : "", i, i);
    *p++ = '}';
    parse_bad(huge, (size_t)(p - huge), "members");
    free(huge);
}

/* ---- the QMP session ----------------------------------------------------------------- */

typedef struct {
    SimpleVM *svm;
    QemuMonitor *hmp;
    QmpSession *s;
    char *out;            /* everything sent, concatenated */
    size_t len;
    FILE *f;
    char *last;           /* talk's answer */
} Fixture;

static bool capture(void *opaque, const char *data, size_t len)
{
    Fixture *fx = opaque;
    fwrite(data, 1, len, fx->f);
    fflush(fx->f);
    return true;
}

/* inc %ax; out %al,$0x80; jmp back */
static const uint8_t spin[] = {0x40, 0xE6, 0x80, 0xEB, 0xFB};

static int setup(void **state)
{
    Fixture *fx = calloc(1, sizeof(*fx));
    fx->svm = vm_create_bytes(1 << 20, HV_BACKEND_SIM);
    assert_non_null(fx->svm);
    assert_int_equal(vm_load_code(fx->svm, spin, sizeof(spin), 0x7C00), 0);
    assert_int_equal(vm_thread_start(fx->svm, true, NULL, NULL), 0);
    fx->hmp = qemu_monitor_create(fx->svm);
    fx->f = open_memstream(&fx->out, &fx->len);
    fx->s = qmp_session_create(fx->svm, fx->hmp, capture, fx, true);
    assert_non_null(fx->s);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    Fixture *fx = *state;
    qmp_session_destroy(fx->s);
    qemu_monitor_destroy(fx->hmp);
    vm_thread_quit(fx->svm);
    vm_destroy(fx->svm);
    fclose(fx->f);
    free(fx->out);
    free(fx->last);
    free(fx);
    return 0;
}

/* Sends text and returns what came back since the last call (valid until the next). */
static const char *talk(Fixture *fx, const char *text)
{
    size_t before = fx->len;
    qmp_session_input(fx->s, text, strlen(text));
    fflush(fx->f);
    free(fx->last);
    fx->last = strndup(fx->out + before, fx->len - before);
    return fx->last;
}

static void expect(const char *got, const char *want)
{
    if (!strstr(got, want))
        fail_msg("got '%s', expected it to contain '%s'", got, want);
}

static void test_qmp_negotiation(void **state)
{
    Fixture *fx = *state;
    qmp_session_connect(fx->s);
    fflush(fx->f);
    assert_string_equal(fx->out, "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 1, "
                        "\"major\": 0}, \"package\": \"ScratchVM " SCRATCHVM_VERSION "\"}, "
                        "\"capabilities\": []}}\r\n");
    assert_string_equal(talk(fx, "{\"execute\": \"query-status\", \"id\": 7}\n"),
                        "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"Expecting "
                        "capabilities negotiation with 'qmp_capabilities'\"}, \"id\": 7}\r\n");
    assert_string_equal(talk(fx, "{\"execute\": \"qmp_capabilities\", \"id\": {\"x\": [1]}}"),
                        "{\"return\": {}, \"id\": {\"x\": [1]}}\r\n");
    expect(talk(fx, "{\"execute\": \"qmp_capabilities\"}"),
           "\"CommandNotFound\", \"desc\": \"Capabilities negotiation is already complete");
    assert_string_equal(talk(fx, "{\"execute\": \"query-status\"}"),
                        "{\"return\": {\"status\": \"prelaunch\", \"singlestep\": false, "
                        "\"running\": false}}\r\n");
    /* A reconnect negotiates again. */
    qmp_session_disconnect(fx->s);
    qmp_session_connect(fx->s);
    expect(talk(fx, "{\"execute\": \"stop\"}"), "Expecting capabilities negotiation");
}

static void test_qmp_errors(void **state)
{
    Fixture *fx = *state;
    qmp_session_connect(fx->s);
    talk(fx, "{\"execute\": \"qmp_capabilities\"}");
    expect(talk(fx, "{\"execute\": \"frobnicate\", \"id\": \"q\"}"),
           "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command frobnicate has "
           "not been found\"}, \"id\": \"q\"}\r\n");
    expect(talk(fx, "[1, 2]"), "QMP input must be a JSON object");
    expect(talk(fx, "{\"id\": 1}"), "QMP input lacks member 'execute'");
    expect(talk(fx, "{\"execute\": 1}"), "'execute' must be a string");
    expect(talk(fx, "{\"execute\": \"stop\", \"arguments\": 1}"), "'arguments' must be an object");
    expect(talk(fx, "{\"execute\": \"stop\", \"extra\": 1}"), "member 'extra' is unexpected");
    expect(talk(fx, "{\"execute\": \"stop\", \"arguments\": {\"a\": 1}}"),
           "Parameter 'a' is unexpected");
    expect(talk(fx, "{\"execute\": \"human-monitor-command\"}"),
           "Parameter 'command-line' is missing");
    expect(talk(fx, "{\"execute\": \"human-monitor-command\", \"arguments\": "
                    "{\"command-line\": 5}}"),
           "Invalid parameter type for 'command-line', expected: string");
    expect(talk(fx, "{\"execute\": \"query-status\",, }"), "\"GenericError\", \"desc\": \"JSON parse error");
    expect(talk(fx, "\"\\ud800\"\n"), "JSON parse error");
    /* Framing: two commands on one line, one command over lines; still in sync after. */
    const char *two = talk(fx, "{\"execute\": \"query-version\", \"id\": 1}{\"execute\":\n"
                               "\"query-version\", \"id\": 2}");
    expect(two, "\"id\": 1}\r\n{\"return\": ");
    expect(two, "\"id\": 2}\r\n");
    /* Too long: refused once, dropped to the newline, then in sync again. */
    char *big = malloc(JSON_MAX_INPUT + 100);
    memset(big, ' ', JSON_MAX_INPUT + 98);
    big[0] = '[';
    big[1] = '"';
    big[JSON_MAX_INPUT + 98] = '\n';
    big[JSON_MAX_INPUT + 99] = '\0';
    expect(talk(fx, big), "input longer than");
    free(big);
    assert_string_equal(talk(fx, "{\"execute\": \"query-status\", \"id\": 3}"),
                        "{\"return\": {\"status\": \"prelaunch\", \"singlestep\": false, "
                        "\"running\": false}, \"id\": 3}\r\n");
}

static void test_qmp_control(void **state)
{
    Fixture *fx = *state;
    qmp_session_connect(fx->s);
    talk(fx, "{\"execute\": \"qmp_capabilities\"}");
    const char *r = talk(fx, "{\"execute\": \"cont\"}");
    expect(r, "{\"event\": \"RESUME\", \"timestamp\": {\"seconds\": ");
    expect(r, "}}\r\n{\"return\": {}}\r\n");
    expect(talk(fx, "{\"execute\": \"query-status\"}"), "\"status\": \"running\"");
    r = talk(fx, "{\"execute\": \"stop\"}");
    expect(r, "{\"event\": \"STOP\", \"timestamp\": ");
    expect(talk(fx, "{\"execute\": \"query-status\"}"), "{\"status\": \"paused\", "
           "\"singlestep\": false, \"running\": false}");
    /* An HMP command changes the state too: the event follows. */
    r = talk(fx, "{\"execute\": \"human-monitor-command\", \"arguments\": "
                 "{\"command-line\": \"info status\"}}");
    /* (then the guest's POST code line, once its OUT to port 0x80 ran) */
    expect(r, "{\"return\": \"VM status: paused\\r\\n");
    r = talk(fx, "{\"execute\": \"human-monitor-command\", \"arguments\": "
                 "{\"command-line\": \"info registers\", \"cpu-index\": 0}}");
    expect(r, "{\"return\": \"EAX=");
    expect(r, "\\r\\nEIP=");
    expect(talk(fx, "{\"execute\": \"human-monitor-command\", \"arguments\": "
                    "{\"command-line\": \"info registers\", \"cpu-index\": 1}}"),
           "CPU 1 is not present");   /* one vCPU */
    r = talk(fx, "{\"execute\": \"system_reset\"}");
    expect(r, "{\"return\": {}}\r\n{\"event\": \"RESET\", \"data\": {\"guest\": false, "
              "\"reason\": \"host-qmp-system-reset\"}, \"timestamp\": ");
    r = talk(fx, "{\"execute\": \"query-cpus-fast\"}");
    expect(r, "{\"return\": [{\"thread-id\": ");
    expect(r, "\"cpu-index\": 0, \"target\": \"x86_64\"}]}");
    expect(talk(fx, "{\"execute\": \"screendump\", \"arguments\": {\"filename\": \"/tmp/x\"}}"),
           "screendump is not available");
    r = talk(fx, "{\"execute\": \"quit\", \"id\": 9}");
    expect(r, "{\"return\": {}, \"id\": 9}\r\n{\"event\": \"SHUTDOWN\", \"data\": {\"guest\": "
              "false, \"reason\": \"host-qmp-quit\"}");
    assert_null(strstr(r, "STOP"));
    assert_true(qmp_session_quit_requested(fx->s));
}

#define T(f) cmocka_unit_test(f)
#define TS(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_json_values),
        T(test_json_unicode),
        T(test_json_hostile),
        TS(test_qmp_negotiation),
        TS(test_qmp_errors),
        TS(test_qmp_control),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
