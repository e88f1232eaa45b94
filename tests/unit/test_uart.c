/* Unit tests for the 16550A UART (src/dev/uart16550.c), against the PC16550D data sheet. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "hypervisor_sim.h"

/* Register offsets and bits, spelled out again here so the tests check the data sheet
 * rather than the implementation's constants. */
enum { RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4,
       LSR = 5, MSR = 6, SCR = 7 };

static uint8_t rd(SerialPort *sp, unsigned reg)
{
    uint32_t v = 0xDEAD;
    assert_int_equal(serial_io_read((uint16_t)(sp->base + reg), 1, &v, sp), 0);
    assert_true(v <= 0xFF);
    return (uint8_t)v;
}

static void wr(SerialPort *sp, unsigned reg, uint8_t value)
{
    assert_int_equal(serial_io_write((uint16_t)(sp->base + reg), 1, value, sp), 0);
}

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
    log_count = 0;
    hv_set_log_handler(count_log, NULL);
    SerialPort *sp = serial_create();
    assert_non_null(sp);
    *state = sp;
    return 0;
}

static int teardown(void **state)
{
    serial_destroy(*state);
    hv_set_log_handler(NULL, NULL);
    return 0;
}

static void test_reset_state(void **state)
{
    SerialPort *sp = *state;
    assert_int_equal(sp->base, 0x3F8);
    assert_int_equal(sp->output_fd, -1);
    assert_int_equal(rd(sp, IER), 0x00);
    assert_int_equal(rd(sp, IIR), 0x01);   /* no interrupt pending, FIFOs off */
    assert_int_equal(rd(sp, LCR), 0x00);
    assert_int_equal(rd(sp, MCR), 0x00);
    assert_int_equal(rd(sp, LSR), 0x60);   /* THRE | TEMT */
    assert_int_equal(rd(sp, MSR), 0xB0);   /* CTS, DSR, DCD: a connected terminal */
    assert_int_equal(rd(sp, MSR), 0xB0);   /* no deltas to clear */
}

static void test_dlab_switching(void **state)
{
    SerialPort *sp = *state;
    wr(sp, IER, 0x05);
    wr(sp, LCR, 0x83);   /* DLAB + 8 data bits */
    wr(sp, DLL, 0x01);   /* 115200 baud */
    wr(sp, DLM, 0x02);
    assert_int_equal(rd(sp, DLL), 0x01);
    assert_int_equal(rd(sp, DLM), 0x02);
    assert_int_equal(rd(sp, LCR), 0x83);
    assert_int_equal(sp->output_total, 0);   /* writing DLL did not transmit */
    wr(sp, LCR, 0x03);
    assert_int_equal(rd(sp, IER), 0x05);     /* IER was not touched by the DLM write */
    assert_int_equal(sp->dll, 0x01);
    assert_int_equal(sp->dlm, 0x02);
    wr(sp, THR, 'x');
    assert_int_equal(sp->output_total, 1);
    wr(sp, LCR, 0x80);
    assert_int_equal(rd(sp, DLL), 0x01);     /* the latch kept its value */
}

static void test_ier_upper_bits_zero(void **state)
{
    SerialPort *sp = *state;
    wr(sp, IER, 0xFF);
    assert_int_equal(rd(sp, IER), 0x0F);
    wr(sp, MCR, 0xFF);
    assert_int_equal(rd(sp, MCR), 0x1F);
}

static void test_lsr_after_write(void **state)
{
    SerialPort *sp = *state;
    for (int i = 0; i < 10; i++) {
        wr(sp, THR, (uint8_t)('0' + i));
        assert_int_equal(rd(sp, LSR) & 0x60, 0x60);   /* transmitted at once */
    }
    assert_int_equal(sp->output_total, 10);
    assert_int_equal(rd(sp, LSR), 0x60);
    /* LSR and MSR writes are ignored. */
    wr(sp, LSR, 0x00);
    wr(sp, MSR, 0x00);
    assert_int_equal(rd(sp, LSR), 0x60);
    assert_int_equal(rd(sp, MSR), 0xB0);
}

static void test_output_to_pipe(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    SerialPort *sp = serial_create_at(0x2F8, fds[1]);
    assert_non_null(sp);
    const char *msg = "Hello, COM2\r\n";
    for (const char *p = msg; *p; p++)
        wr(sp, THR, (uint8_t)*p);
    char got[64] = {0};
    ssize_t n = read(fds[0], got, sizeof(got) - 1);
    assert_int_equal(n, (ssize_t)strlen(msg));
    assert_string_equal(got, msg);
    assert_int_equal(sp->output_total, strlen(msg));
    serial_destroy(sp);
    close(fds[0]);
    close(fds[1]);
}

static void test_output_closed_reader_survives(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    close(fds[0]);   /* nobody reads: write() gets EPIPE, and SIGPIPE must not kill us */
    SerialPort *sp = serial_create_at(COM1_BASE, fds[1]);
    wr(sp, THR, 'a');
    wr(sp, THR, 'b');
    assert_int_equal(sp->output_fd, -1);   /* given up on after the first failure */
    assert_int_equal(log_count, 1);
    assert_int_equal(sp->output_total, 2); /* the ring still has the bytes */
    char buf[4];
    assert_int_equal(serial_output_latest(sp, buf, sizeof(buf)), 2);
    assert_memory_equal(buf, "ab", 2);
    serial_destroy(sp);
    close(fds[1]);
}

static void test_output_ring_wraps(void **state)
{
    SerialPort *sp = *state;
    char buf[300];
    assert_int_equal(serial_output_latest(sp, buf, sizeof(buf)), 0);
    for (int i = 0; i < 300; i++)
        wr(sp, THR, (uint8_t)i);
    assert_int_equal(sp->output_total, 300);
    assert_int_equal(sp->output_pos, 300 % 256);
    assert_int_equal(serial_output_latest(sp, buf, sizeof(buf)), 256);   /* capped */
    for (int i = 0; i < 256; i++)
        assert_int_equal((uint8_t)buf[i], (uint8_t)(300 - 256 + i));
    assert_int_equal(serial_output_latest(sp, buf, 10), 10);
    for (int i = 0; i < 10; i++)
        assert_int_equal((uint8_t)buf[i], (uint8_t)(290 + i));
    assert_int_equal(serial_output_latest(sp, buf, 0), 0);
}

static void test_output_latest_before_wrap(void **state)
{
    SerialPort *sp = *state;
    const char *msg = "Hi!";
    for (const char *p = msg; *p; p++)
        wr(sp, THR, (uint8_t)*p);
    char buf[16];
    assert_int_equal(serial_output_latest(sp, buf, sizeof(buf)), 3);
    assert_memory_equal(buf, "Hi!", 3);
    assert_int_equal(serial_output_latest(sp, buf, 2), 2);
    assert_memory_equal(buf, "i!", 2);
}

static void test_input_queue_and_dr(void **state)
{
    SerialPort *sp = *state;
    assert_int_equal(rd(sp, LSR) & 0x01, 0);
    assert_int_equal(serial_receive(sp, (const uint8_t *)"abc", 3), 3);
    assert_int_equal(rd(sp, LSR), 0x61);   /* DR */
    assert_int_equal(rd(sp, RBR), 'a');
    assert_int_equal(rd(sp, LSR) & 0x01, 1);
    assert_int_equal(rd(sp, RBR), 'b');
    assert_int_equal(rd(sp, RBR), 'c');
    assert_int_equal(rd(sp, LSR), 0x60);
    assert_int_equal(rd(sp, RBR), 'c');    /* empty: the holding register keeps 'c' */
    assert_int_equal(rd(sp, LSR), 0x60);
}

static void test_input_capacity(void **state)
{
    SerialPort *sp = *state;
    static uint8_t data[SERIAL_INPUT_CAPACITY + 100];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 7);
    assert_int_equal(serial_receive(sp, data, sizeof(data)), SERIAL_INPUT_CAPACITY);
    assert_int_equal(serial_receive(sp, data, 1), 0);
    assert_int_equal(rd(sp, LSR) & 0x02, 0);   /* host input waits: no overrun */
    assert_int_equal(rd(sp, RBR), data[0]);
    assert_int_equal(serial_receive(sp, data + SERIAL_INPUT_CAPACITY, 5), 1);
    for (size_t i = 1; i <= SERIAL_INPUT_CAPACITY; i++)
        assert_int_equal(rd(sp, RBR), data[i]);   /* order kept across the wrap */
    assert_int_equal(rd(sp, LSR) & 0x01, 0);
    assert_int_equal(serial_receive(sp, NULL, 0), 0);
}

static void test_iir_rda(void **state)
{
    SerialPort *sp = *state;
    serial_receive(sp, (const uint8_t *)"z", 1);
    assert_int_equal(rd(sp, IIR), 0x01);   /* not enabled */
    wr(sp, IER, 0x01);                     /* ERBFI */
    assert_int_equal(rd(sp, IIR), 0x04);
    assert_int_equal(rd(sp, IIR), 0x04);   /* reading IIR does not clear it */
    assert_int_equal(rd(sp, RBR), 'z');
    assert_int_equal(rd(sp, IIR), 0x01);   /* reading the data does */
}

static void test_thre_interrupt_rules(void **state)
{
    SerialPort *sp = *state;
    assert_int_equal(rd(sp, IIR), 0x01);
    wr(sp, IER, 0x02);                     /* enabling ETBEI with THR empty raises it */
    assert_int_equal(rd(sp, IIR), 0x02);
    assert_int_equal(rd(sp, IIR), 0x01);   /* reading IIR with THRE reported clears it */
    wr(sp, IER, 0x02);                     /* already enabled: no new edge */
    assert_int_equal(rd(sp, IIR), 0x01);
    wr(sp, THR, 'x');                      /* THR empties at once: raised again */
    assert_int_equal(rd(sp, IIR), 0x02);
    assert_int_equal(rd(sp, IIR), 0x01);
    wr(sp, IER, 0x00);
    wr(sp, IER, 0x02);                     /* re-enabling raises it again */
    assert_int_equal(rd(sp, IIR), 0x02);

    /* A higher priority source hides THRE; reading IIR then leaves THRE pending. */
    wr(sp, IER, 0x03);
    wr(sp, THR, 'y');
    serial_receive(sp, (const uint8_t *)"q", 1);
    assert_int_equal(rd(sp, IIR), 0x04);
    assert_int_equal(rd(sp, RBR), 'q');
    assert_int_equal(rd(sp, IIR), 0x02);
    assert_int_equal(rd(sp, IIR), 0x01);
}

static void test_iir_priority(void **state)
{
    SerialPort *sp = *state;
    /* Fill the receive queue through loopback, then overrun it: LSR.OE. */
    wr(sp, MCR, 0x10);
    rd(sp, MSR);                           /* clear the deltas of entering loopback */
    static uint8_t fill[SERIAL_INPUT_CAPACITY];
    memset(fill, 'f', sizeof(fill));
    assert_int_equal(serial_receive(sp, fill, sizeof(fill)), SERIAL_INPUT_CAPACITY);
    wr(sp, THR, 'o');                      /* no room: overrun */
    wr(sp, MCR, 0x12);                     /* loopback + RTS: CTS rises, DCTS set */
    wr(sp, IER, 0x0F);                     /* everything enabled */
    assert_int_equal(rd(sp, IIR), 0x06);   /* receiver line status first */
    assert_int_equal(rd(sp, LSR) & 0x03, 0x03);   /* OE | DR; the read clears OE */
    assert_int_equal(rd(sp, LSR) & 0x02, 0);
    assert_int_equal(rd(sp, IIR), 0x04);   /* then received data */
    for (int i = 0; i < SERIAL_INPUT_CAPACITY; i++)
        assert_int_equal(rd(sp, RBR), 'f');   /* the overrun byte was lost */
    assert_int_equal(rd(sp, LSR) & 0x01, 0);
    assert_int_equal(rd(sp, IIR), 0x02);   /* then THR empty (cleared by this read) */
    assert_int_equal(rd(sp, IIR), 0x00);   /* then modem status */
    assert_int_equal(rd(sp, MSR) & 0x0F, 0x01);   /* DCTS; the read clears it */
    assert_int_equal(rd(sp, IIR), 0x01);
}

static void test_fifo_bits(void **state)
{
    SerialPort *sp = *state;
    wr(sp, FCR, 0x01);
    assert_int_equal(rd(sp, IIR), 0xC1);
    assert_int_equal(sp->fcr & 0x01, 0x01);
    wr(sp, FCR, 0xC1);                     /* trigger level 14 */
    assert_int_equal(sp->fcr, 0xC1);
    serial_receive(sp, (const uint8_t *)"abc", 3);
    wr(sp, IER, 0x01);
    assert_int_equal(rd(sp, IIR), 0xC4);
    wr(sp, FCR, 0xC7);                     /* clear both FIFOs; bits 1-2 self-clear */
    assert_int_equal(sp->fcr, 0xC1);
    assert_int_equal(rd(sp, LSR) & 0x01, 0);
    assert_int_equal(rd(sp, IIR), 0xC1);
    serial_receive(sp, (const uint8_t *)"d", 1);
    wr(sp, FCR, 0x02);                     /* FCR0 = 0: other bits not programmed */
    assert_int_equal(sp->fcr, 0x00);
    assert_int_equal(rd(sp, LSR) & 0x01, 0x01);   /* not cleared */
    assert_int_equal(rd(sp, IIR), 0x04);          /* FIFOs off: bits 7:6 = 0 */
}

static void test_loopback(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
    SerialPort *sp = serial_create_at(COM1_BASE, fds[1]);
    wr(sp, MCR, 0x10);
    wr(sp, THR, 0x5A);
    assert_int_equal(rd(sp, LSR), 0x61);   /* received, and THR empty again */
    assert_int_equal(rd(sp, RBR), 0x5A);
    assert_int_equal(sp->output_total, 0);
    char c;
    assert_int_equal(read(fds[0], &c, 1), -1);   /* nothing reached the fd */
    assert_int_equal(errno, EAGAIN);
    wr(sp, MCR, 0x00);                     /* back to normal: the byte goes out */
    wr(sp, THR, 0xA5);
    assert_int_equal(read(fds[0], &c, 1), 1);
    assert_int_equal((uint8_t)c, 0xA5);
    assert_int_equal(rd(sp, LSR) & 0x01, 0);
    serial_destroy(sp);
    close(fds[0]);
    close(fds[1]);
}

static void test_loopback_msr_mirror(void **state)
{
    SerialPort *sp = *state;
    wr(sp, MCR, 0x10);                     /* loopback, all outputs off */
    /* CTS, DSR and DCD fell: their delta bits are set; RI did not change. */
    assert_int_equal(rd(sp, MSR), 0x0B);
    assert_int_equal(rd(sp, MSR), 0x00);   /* deltas cleared by the read */
    wr(sp, MCR, 0x10 | 0x02);              /* RTS → CTS */
    assert_int_equal(rd(sp, MSR), 0x11);
    wr(sp, MCR, 0x10 | 0x01);              /* DTR → DSR (and CTS falls) */
    assert_int_equal(rd(sp, MSR), 0x23);
    wr(sp, MCR, 0x10 | 0x04);              /* OUT1 → RI (leading edge: no TERI) */
    assert_int_equal(rd(sp, MSR), 0x42);
    wr(sp, MCR, 0x10 | 0x08);              /* OUT2 → DCD; RI falls: TERI */
    assert_int_equal(rd(sp, MSR), 0x8C);
    wr(sp, MCR, 0x1F);
    assert_int_equal(rd(sp, MSR) & 0xF0, 0xF0);
    wr(sp, MCR, 0x0F);                     /* leave loopback: a connected terminal */
    assert_int_equal(rd(sp, MSR), 0xB4);   /* RI fell: TERI only */
    assert_int_equal(rd(sp, MSR), 0xB0);
}

static void test_modem_status_interrupt(void **state)
{
    SerialPort *sp = *state;
    wr(sp, IER, 0x08);                     /* EDSSI */
    assert_int_equal(rd(sp, IIR), 0x01);
    wr(sp, MCR, 0x10);
    assert_int_equal(rd(sp, IIR), 0x00);
    assert_int_equal(rd(sp, IIR), 0x00);   /* only an MSR read clears it */
    rd(sp, MSR);
    assert_int_equal(rd(sp, IIR), 0x01);
}

static void test_scratch(void **state)
{
    SerialPort *sp = *state;
    for (int v = 0; v < 256; v += 17) {
        wr(sp, SCR, (uint8_t)v);
        assert_int_equal(rd(sp, SCR), v);
    }
    wr(sp, LCR, 0x80);                     /* DLAB does not affect the scratch register */
    wr(sp, SCR, 0x42);
    assert_int_equal(rd(sp, SCR), 0x42);
}

static void test_wide_access_split(void **state)
{
    SerialPort *sp = *state;
    uint32_t v;
    wr(sp, LCR, 0x80);
    /* out %ax, %dx at the base with DLAB: AL → DLL, AH → DLM. */
    assert_int_equal(serial_io_write(COM1_BASE, 2, 0x0180, sp), 0);
    assert_int_equal(sp->dll, 0x80);
    assert_int_equal(sp->dlm, 0x01);
    assert_int_equal(serial_io_read(COM1_BASE, 2, &v, sp), 0);
    assert_int_equal(v, 0x0180);
    wr(sp, LCR, 0x03);
    /* A 2-byte write at SCR: SCR gets the low byte, the port after the UART the rest. */
    assert_int_equal(serial_io_write(COM1_BASE + SCR, 2, 0xEE77, sp), 0);
    assert_int_equal(rd(sp, SCR), 0x77);
    assert_int_equal(serial_io_read(COM1_BASE + SCR, 2, &v, sp), 0);
    assert_int_equal(v, 0xFF77);
    /* A 4-byte read at MCR: MCR, LSR, MSR, SCR. */
    wr(sp, MCR, 0x03);
    assert_int_equal(serial_io_read(COM1_BASE + MCR, 4, &v, sp), 0);
    assert_int_equal(v, 0x77B06003u);
    /* A 2-byte write at THR sends one byte and sets IER with the other. */
    assert_int_equal(serial_io_write(COM1_BASE, 2, 0x0241, sp), 0);
    assert_int_equal(sp->output_total, 1);
    assert_int_equal(sp->output_buffer[0], 'A');
    assert_int_equal(rd(sp, IER), 0x02);
}

static void test_bad_sizes(void **state)
{
    SerialPort *sp = *state;
    uint32_t v;
    assert_int_equal(serial_io_read(COM1_BASE, 3, &v, sp), -EINVAL);
    assert_int_equal(serial_io_read(COM1_BASE, 8, &v, sp), -EINVAL);
    assert_int_equal(serial_io_write(COM1_BASE, 0, 0, sp), -EINVAL);
    assert_int_equal(serial_io_read(COM1_BASE, 1, &v, NULL), -EINVAL);
    assert_int_equal(sp->output_total, 0);
}

static void test_bus_integration(void **state)
{
    SerialPort *sp = *state;
    IoBus *bus = io_bus_create();
    IoPortHandler h = {.base = COM1_BASE, .length = 8, .read = serial_io_read,
                       .write = serial_io_write, .opaque = sp, .name = "com1"};
    assert_int_equal(io_bus_register(bus, &h), 0);
    assert_int_equal(io_bus_out(bus, COM1_BASE, 1, 'H'), 0);
    assert_int_equal(io_bus_out(bus, COM1_BASE, 1, 'i'), 0);
    uint32_t v;
    assert_int_equal(io_bus_in(bus, COM1_BASE + LSR, 1, &v), 0);
    assert_int_equal(v, 0x60);
    char buf[2];
    assert_int_equal(serial_output_latest(sp, buf, 2), 2);
    assert_memory_equal(buf, "Hi", 2);
    io_bus_destroy(bus);
}

/* The host side of the receive test: sends `total` bytes 0,1,2,... in small chunks,
 * retrying what does not fit, as a terminal thread would. */
typedef struct {
    SerialPort *sp;
    size_t total;
} Sender;

static void *sender_thread(void *arg)
{
    Sender *s = arg;
    uint8_t chunk[37];
    size_t sent = 0;
    while (sent < s->total) {
        size_t n = s->total - sent < sizeof(chunk) ? s->total - sent : sizeof(chunk);
        for (size_t i = 0; i < n; i++)
            chunk[i] = (uint8_t)(sent + i);
        size_t done = serial_receive(s->sp, chunk, n);
        sent += done;
        if (done < n)
            sched_yield();
    }
    return NULL;
}

static void test_receive_from_other_thread(void **state)
{
    SerialPort *sp = *state;
    Sender s = {.sp = sp, .total = 3 * SERIAL_INPUT_CAPACITY + 123};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, sender_thread, &s), 0);
    size_t got = 0;
    bool in_order = true;
    while (got < s.total) {   /* the guest: poll LSR.DR, then read RBR */
        if (!(rd(sp, LSR) & 0x01)) {
            sched_yield();
            continue;
        }
        uint8_t b = rd(sp, RBR);
        in_order = in_order && b == (uint8_t)got;
        got++;
    }
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_true(in_order);
    assert_int_equal(rd(sp, LSR) & 0x03, 0);   /* drained, never overrun */
}

static void test_instances_independent(void **state)
{
    SerialPort *a = *state;
    SerialPort *b = serial_create_at(0x2F8, -1);
    wr(a, SCR, 0x11);
    wr(b, SCR, 0x22);
    wr(a, THR, 'a');
    serial_receive(b, (const uint8_t *)"b", 1);
    assert_int_equal(rd(a, SCR), 0x11);
    assert_int_equal(rd(b, SCR), 0x22);
    assert_int_equal(a->output_total, 1);
    assert_int_equal(b->output_total, 0);
    assert_int_equal(rd(a, LSR) & 0x01, 0);
    assert_int_equal(rd(b, LSR) & 0x01, 1);
    uint32_t v;   /* a port below b's base is not b's register */
    assert_int_equal(serial_io_read(0x2F7, 1, &v, b), 0);
    assert_int_equal(v, 0xFF);
    serial_destroy(b);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_reset_state),
        T(test_dlab_switching),
        T(test_ier_upper_bits_zero),
        T(test_lsr_after_write),
        T(test_output_to_pipe),
        T(test_output_closed_reader_survives),
        T(test_output_ring_wraps),
        T(test_output_latest_before_wrap),
        T(test_input_queue_and_dr),
        T(test_input_capacity),
        T(test_iir_rda),
        T(test_thre_interrupt_rules),
        T(test_iir_priority),
        T(test_fifo_bits),
        T(test_loopback),
        T(test_loopback_msr_mirror),
        T(test_modem_status_interrupt),
        T(test_scratch),
        T(test_wide_access_split),
        T(test_bad_sizes),
        T(test_bus_integration),
        T(test_receive_from_other_thread),
        T(test_instances_independent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
