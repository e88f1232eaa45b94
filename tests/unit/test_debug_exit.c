/* Unit tests for the isa-debug-exit port and the 0xE9 debug console (src/dev/debug_exit.c). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "hypervisor_sim.h"

static int log_count;
static void count_log(HvLogLevel level, const char *message, void *opaque)
{
    (void)level;
    (void)message;
    (void)opaque;
    log_count++;
}

static int setup(void **state)
{
    (void)state;
    log_count = 0;
    hv_set_log_handler(count_log, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    hv_set_log_handler(NULL, NULL);
    return 0;
}

static void test_exit_value_each_size(void **state)
{
    (void)state;
    const struct { uint16_t port; uint8_t size; uint32_t value, want; } cases[] = {
        {0xF4, 1, 0x31, 0x31},
        {0xF4, 2, 0x1234, 0x1234},
        {0xF4, 4, 0xDEADBEEF, 0xDEADBEEF},
        {0xF4, 1, 0x1FF, 0xFF},   /* only the access size counts */
        {0xF7, 1, 0x07, 0x07},    /* any port of the 4-port range */
        {0xF5, 2, 0x0, 0x0},      /* zero is a value too */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        DebugExit *d = debug_exit_create(-1);
        assert_non_null(d);
        assert_false(d->exited);
        assert_int_equal(debug_exit_io_write(cases[i].port, cases[i].size, cases[i].value, d),
                         0);
        assert_true(d->exited);
        assert_int_equal(d->value, cases[i].want);
        debug_exit_destroy(d);
    }
}

static void test_exit_reads_zero(void **state)
{
    (void)state;
    DebugExit *d = debug_exit_create(-1);
    uint32_t v = 0xFFFF;
    assert_int_equal(debug_exit_io_read(DEBUG_EXIT_PORT, 1, &v, d), 0);
    assert_int_equal(v, 0);
    assert_int_equal(debug_exit_io_read(DEBUG_EXIT_PORT, 4, &v, d), 0);
    assert_int_equal(v, 0);
    assert_false(d->exited);   /* reading does not end the VM */
    debug_exit_destroy(d);
}

static void test_console_to_pipe(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    DebugExit *d = debug_exit_create(fds[1]);
    const char *msg = "PASS\n";
    for (const char *p = msg; *p; p++)
        assert_int_equal(debug_exit_io_write(DEBUG_CONSOLE_PORT, 1, (uint8_t)*p, d), 0);
    /* A 2-byte OUT: only the low byte is for 0xE9. */
    assert_int_equal(debug_exit_io_write(DEBUG_CONSOLE_PORT, 2, 0x4121, d), 0);
    char got[16] = {0};
    assert_int_equal(read(fds[0], got, sizeof(got) - 1), 6);
    assert_string_equal(got, "PASS\n!");
    assert_false(d->exited);
    debug_exit_destroy(d);
    close(fds[0]);
    close(fds[1]);
}

static void test_console_read_signature(void **state)
{
    (void)state;
    DebugExit *d = debug_exit_create(-1);
    uint32_t v;
    assert_int_equal(debug_exit_io_read(DEBUG_CONSOLE_PORT, 1, &v, d), 0);
    assert_int_equal(v, 0xE9);
    assert_int_equal(debug_exit_io_read(DEBUG_CONSOLE_PORT, 2, &v, d), 0);
    assert_int_equal(v, 0xFFE9);   /* 0xEA is nobody's */
    /* Console output nowhere: written bytes vanish quietly. */
    assert_int_equal(debug_exit_io_write(DEBUG_CONSOLE_PORT, 1, 'x', d), 0);
    assert_int_equal(log_count, 0);
    debug_exit_destroy(d);
}

static void test_console_closed_reader(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    close(fds[0]);
    DebugExit *d = debug_exit_create(fds[1]);
    assert_int_equal(debug_exit_io_write(DEBUG_CONSOLE_PORT, 1, 'a', d), 0);
    assert_int_equal(debug_exit_io_write(DEBUG_CONSOLE_PORT, 1, 'b', d), 0);
    assert_int_equal(d->console_fd, -1);
    assert_int_equal(log_count, 1);
    debug_exit_destroy(d);
    close(fds[1]);
}

static void test_bad_sizes(void **state)
{
    (void)state;
    DebugExit *d = debug_exit_create(-1);
    uint32_t v;
    assert_int_equal(debug_exit_io_write(DEBUG_EXIT_PORT, 3, 1, d), -EINVAL);
    assert_int_equal(debug_exit_io_read(DEBUG_EXIT_PORT, 8, &v, d), -EINVAL);
    assert_false(d->exited);
    debug_exit_destroy(d);
}

static void test_through_bus(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    DebugExit *d = debug_exit_create(fds[1]);
    IoBus *bus = io_bus_create();
    IoPortHandler ex = {.base = DEBUG_EXIT_PORT, .length = 4, .read = debug_exit_io_read,
                        .write = debug_exit_io_write, .opaque = d, .name = "debug-exit"};
    IoPortHandler con = {.base = DEBUG_CONSOLE_PORT, .length = 1, .read = debug_exit_io_read,
                         .write = debug_exit_io_write, .opaque = d, .name = "debug-console"};
    assert_int_equal(io_bus_register(bus, &ex), 0);
    assert_int_equal(io_bus_register(bus, &con), 0);
    assert_int_equal(io_bus_out(bus, DEBUG_CONSOLE_PORT, 1, 'k'), 0);
    assert_int_equal(io_bus_out(bus, DEBUG_EXIT_PORT, 4, 0x10), 0);
    assert_true(d->exited);
    assert_int_equal(d->value, 0x10);
    char c;
    assert_int_equal(read(fds[0], &c, 1), 1);
    assert_int_equal(c, 'k');
    io_bus_destroy(bus);
    debug_exit_destroy(d);
    close(fds[0]);
    close(fds[1]);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_exit_value_each_size),
        T(test_exit_reads_zero),
        T(test_console_to_pipe),
        T(test_console_read_signature),
        T(test_console_closed_reader),
        T(test_bad_sizes),
        T(test_through_bus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
