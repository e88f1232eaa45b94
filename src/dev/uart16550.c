/*
 * A 16550A UART, after the National Semiconductor / TI PC16550D data sheet.
 *
 * What the model keeps and what it simplifies:
 * - Transmission is instantaneous: a byte written to THR leaves at once, so THRE and TEMT
 *   are always set and the "THR empty" interrupt is raised again right after each write.
 * - Reception comes from a queue (SERIAL_INPUT_CAPACITY bytes) filled by the host
 *   (serial_receive, from any thread) or by the transmitter in loopback mode. It stands
 *   for both the receive FIFO and the line behind it, so LSR.DR is set while it holds a
 *   byte, in FIFO mode or not. Host input keeps queueing in loopback mode too: it waits
 *   on the host side of the line rather than being lost. In FIFO mode, received data is
 *   reported as "data available" (0x04), never as a character timeout (0x0C).
 * - The interrupt output follows IIR (data sheet Table IV priorities: line status, received
 *   data, THR empty, modem status) and reaches sp->irq only while MCR OUT2 is set, which
 *   on PC serial adapters gates the INTR line to the bus (IRQ4 for COM1).
 * - Baud rate, word length, parity and break are stored (LCR, divisor latch) but have no
 *   effect: there is no wire.
 *
 * The vCPU thread (serial_io_read/write) and the host input thread (serial_receive) share
 * the device, so every entry point takes sp->lock. Bytes for output_fd are written after
 * the lock is dropped: a stalled terminal must not block the input thread, which is also
 * the thread that sees the user's "quit" keys.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dev/dev_io.h"
#include "hv/hv_log.h"

/* Register offsets from the base port (data sheet Table II). */
#define UART_RBR 0   /* receiver buffer (read, DLAB=0) */
#define UART_THR 0   /* transmitter holding (write, DLAB=0) */
#define UART_DLL 0   /* divisor latch LSB (DLAB=1) */
#define UART_IER 1   /* interrupt enable (DLAB=0) */
#define UART_DLM 1   /* divisor latch MSB (DLAB=1) */
#define UART_IIR 2   /* interrupt identification (read) */
#define UART_FCR 2   /* FIFO control (write) */
#define UART_LCR 3   /* line control */
#define UART_MCR 4   /* modem control */
#define UART_LSR 5   /* line status */
#define UART_MSR 6   /* modem status */
#define UART_SCR 7   /* scratch */
#define UART_NUM_REGS 8

#define UART_IER_ERBFI 0x01   /* enable received data available interrupt */
#define UART_IER_ETBEI 0x02   /* enable transmitter holding register empty interrupt */
#define UART_IER_ELSI 0x04    /* enable receiver line status interrupt */
#define UART_IER_EDSSI 0x08   /* enable modem status interrupt */
#define UART_IER_MASK 0x0F    /* bits 4-7 are always 0 */

#define UART_IIR_NO_INT 0x01  /* bit 0: 1 = no interrupt pending */
#define UART_IIR_ID_MASK 0x0E
#define UART_IIR_RLS 0x06     /* receiver line status (highest priority) */
#define UART_IIR_RDA 0x04     /* received data available */
#define UART_IIR_THRE 0x02    /* transmitter holding register empty */
#define UART_IIR_MS 0x00      /* modem status (lowest priority) */
#define UART_IIR_FIFOS 0xC0   /* bits 7:6 set when FCR0 = 1 */

#define UART_FCR_FIFO_ENABLE 0x01
#define UART_FCR_RCVR_RESET 0x02
#define UART_FCR_XMIT_RESET 0x04
#define UART_FCR_DMA_MODE 0x08
#define UART_FCR_TRIGGER_MASK 0xC0

#define UART_LCR_DLAB 0x80    /* divisor latch access bit */

#define UART_MCR_DTR 0x01
#define UART_MCR_RTS 0x02
#define UART_MCR_OUT1 0x04
#define UART_MCR_OUT2 0x08
#define UART_MCR_LOOP 0x10
#define UART_MCR_MASK 0x1F    /* bits 5-7 are always 0 */

#define UART_LSR_DR 0x01      /* data ready */
#define UART_LSR_OE 0x02      /* overrun error */
#define UART_LSR_PE 0x04      /* parity error */
#define UART_LSR_FE 0x08      /* framing error */
#define UART_LSR_BI 0x10      /* break interrupt */
#define UART_LSR_THRE 0x20    /* transmitter holding register empty */
#define UART_LSR_TEMT 0x40    /* transmitter empty */
#define UART_LSR_RXFE 0x80    /* error in receiver FIFO */
#define UART_LSR_ERRORS (UART_LSR_OE | UART_LSR_PE | UART_LSR_FE | UART_LSR_BI)

#define UART_MSR_DCTS 0x01    /* delta clear to send */
#define UART_MSR_DDSR 0x02    /* delta data set ready */
#define UART_MSR_TERI 0x04    /* trailing edge ring indicator */
#define UART_MSR_DDCD 0x08    /* delta data carrier detect */
#define UART_MSR_DELTAS 0x0F
#define UART_MSR_CTS 0x10
#define UART_MSR_DSR 0x20
#define UART_MSR_RI 0x40
#define UART_MSR_DCD 0x80

/* Outside loopback the port looks connected to a ready terminal: CTS, DSR and DCD. */
#define UART_MSR_CONNECTED (UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD)

/* Divisor 12: 9600 baud from the PC's 1.8432 MHz clock, what a PC BIOS leaves. */
#define UART_DEFAULT_DIVISOR 12

/* Bytes for output_fd gathered during one access (at most 4) and written once the lock
 * is dropped. */
typedef struct {
    uint8_t bytes[4];
    size_t count;
} UartPending;

static pthread_mutex_t *uart_lock(SerialPort *sp) { return (pthread_mutex_t *)sp->lock; }

/* The interrupt the data sheet's priority order picks (Table IV), as IIR bits 3:0. */
static uint8_t uart_interrupt_id(const SerialPort *sp)
{
    if ((sp->ier & UART_IER_ELSI) && (sp->lsr & UART_LSR_ERRORS))
        return UART_IIR_RLS;
    if ((sp->ier & UART_IER_ERBFI) && sp->input_count > 0)
        return UART_IIR_RDA;
    if ((sp->ier & UART_IER_ETBEI) && sp->thr_interrupt_pending)
        return UART_IIR_THRE;
    if ((sp->ier & UART_IER_EDSSI) && (sp->msr & UART_MSR_DELTAS))
        return UART_IIR_MS;
    return UART_IIR_NO_INT;
}

/* Recomputes the derived bits of LSR and IIR after any change, so the public struct
 * always shows what the guest would read. */
static void uart_update(SerialPort *sp)
{
    sp->lsr |= UART_LSR_THRE | UART_LSR_TEMT;
    if (sp->input_count > 0)
        sp->lsr |= UART_LSR_DR;
    else
        sp->lsr &= (uint8_t)~UART_LSR_DR;
    sp->iir = uart_interrupt_id(sp);
    if (sp->fcr & UART_FCR_FIFO_ENABLE)
        sp->iir |= UART_IIR_FIFOS;
    bool level = !(sp->iir & UART_IIR_NO_INT) && (sp->mcr & UART_MCR_OUT2);
    if (level != sp->irq_level) {
        sp->irq_level = level;
        irq_line_set(&sp->irq, level);   /* lock order: UART, then the controller */
    }
}

/* Sets MSR's line bits from MCR (loopback) or to a connected terminal, and raises the
 * delta bits for the lines that changed. TERI is the trailing edge of RI: RI going from
 * 1 to 0 in MSR (the RI pin going from low to high). */
static void uart_update_modem_lines(SerialPort *sp)
{
    uint8_t lines = UART_MSR_CONNECTED;
    if (sp->mcr & UART_MCR_LOOP) {
        lines = 0;
        if (sp->mcr & UART_MCR_RTS)
            lines |= UART_MSR_CTS;
        if (sp->mcr & UART_MCR_DTR)
            lines |= UART_MSR_DSR;
        if (sp->mcr & UART_MCR_OUT1)
            lines |= UART_MSR_RI;
        if (sp->mcr & UART_MCR_OUT2)
            lines |= UART_MSR_DCD;
    }
    uint8_t old = sp->msr & 0xF0, changed = old ^ lines;
    uint8_t deltas = sp->msr & UART_MSR_DELTAS;
    if (changed & UART_MSR_CTS)
        deltas |= UART_MSR_DCTS;
    if (changed & UART_MSR_DSR)
        deltas |= UART_MSR_DDSR;
    if (changed & UART_MSR_DCD)
        deltas |= UART_MSR_DDCD;
    if ((old & UART_MSR_RI) && !(lines & UART_MSR_RI))
        deltas |= UART_MSR_TERI;
    sp->msr = lines | deltas;
}

static void uart_queue_clear(SerialPort *sp)
{
    sp->input_head = 0;
    sp->input_count = 0;
}

/* Appends up to `len` bytes to the receive queue; returns how many fit. */
static size_t uart_queue_push(SerialPort *sp, const uint8_t *data, size_t len)
{
    size_t room = SERIAL_INPUT_CAPACITY - sp->input_count;
    size_t n = len < room ? len : room;
    for (size_t i = 0; i < n; i++)
        sp->input[(sp->input_head + sp->input_count + i) % SERIAL_INPUT_CAPACITY] = data[i];
    sp->input_count += n;
    return n;
}

/* The transmitter: the byte leaves at once. In loopback it arrives at the receiver (an
 * overrun when the queue is full: the byte is lost and LSR.OE set); otherwise it goes to
 * the ring and, after the lock is dropped, to output_fd. */
static void uart_transmit(SerialPort *sp, uint8_t byte, UartPending *out)
{
    sp->thr = byte;
    if (sp->mcr & UART_MCR_LOOP) {
        if (uart_queue_push(sp, &byte, 1) == 0)
            sp->lsr |= UART_LSR_OE;
    } else {
        sp->output_buffer[sp->output_pos] = (char)byte;
        sp->output_pos = (sp->output_pos + 1) % sizeof(sp->output_buffer);
        sp->output_total++;
        if (sp->output_fd >= 0 && out->count < sizeof(out->bytes))
            out->bytes[out->count++] = byte;
    }
    /* Writing THR clears the THRE interrupt; the holding register empties at once, which
     * raises it again. */
    sp->thr_interrupt_pending = true;
}

/* FCR: bit 0 must be 1 for the other bits to be programmed. Bits 1 and 2 reset the
 * FIFOs and clear themselves. Toggling bit 0 alone keeps the receive queue: it also
 * holds host input that has not reached the chip yet. */
static void uart_write_fcr(SerialPort *sp, uint8_t value)
{
    if (!(value & UART_FCR_FIFO_ENABLE)) {
        sp->fcr = 0;
        return;
    }
    if (value & UART_FCR_RCVR_RESET)
        uart_queue_clear(sp);
    /* UART_FCR_XMIT_RESET: the transmitter never holds anything. */
    sp->fcr = value & (UART_FCR_FIFO_ENABLE | UART_FCR_DMA_MODE | UART_FCR_TRIGGER_MASK);
}

/* One byte read at register `reg`, with the data sheet's side effects (reading RBR pops
 * a byte, IIR clears a reported THRE interrupt, LSR clears the error bits, MSR clears
 * the delta bits). */
static uint8_t uart_read_reg(SerialPort *sp, unsigned reg)
{
    bool dlab = sp->lcr & UART_LCR_DLAB;
    uint8_t v;
    switch (reg) {
    case UART_RBR:
        if (dlab)
            return sp->dll;
        if (sp->input_count > 0) {
            sp->rbr = sp->input[sp->input_head];
            sp->input_head = (sp->input_head + 1) % SERIAL_INPUT_CAPACITY;
            sp->input_count--;
        }
        return sp->rbr;   /* empty: the last byte again, as the holding register does */
    case UART_IER:
        return dlab ? sp->dlm : sp->ier;
    case UART_IIR:
        uart_update(sp);
        v = sp->iir;
        if ((v & (UART_IIR_ID_MASK | UART_IIR_NO_INT)) == UART_IIR_THRE)
            sp->thr_interrupt_pending = false;
        return v;
    case UART_LCR:
        return sp->lcr;
    case UART_MCR:
        return sp->mcr;
    case UART_LSR:
        uart_update(sp);
        v = sp->lsr;
        sp->lsr &= (uint8_t) ~(UART_LSR_ERRORS | UART_LSR_RXFE);
        return v;
    case UART_MSR:
        v = sp->msr;
        sp->msr &= (uint8_t)~UART_MSR_DELTAS;
        return v;
    case UART_SCR:
        return sp->scr;
    default:
        return 0xFF;
    }
}

/* One byte written at register `reg`. */
static void uart_write_reg(SerialPort *sp, unsigned reg, uint8_t value, UartPending *out)
{
    bool dlab = sp->lcr & UART_LCR_DLAB;
    switch (reg) {
    case UART_THR:
        if (dlab)
            sp->dll = value;
        else
            uart_transmit(sp, value, out);
        break;
    case UART_IER:
        if (dlab) {
            sp->dlm = value;
        } else {
            uint8_t old = sp->ier;
            sp->ier = value & UART_IER_MASK;
            /* Enabling ETBEI while THR is empty raises the THRE interrupt. */
            if (!(old & UART_IER_ETBEI) && (sp->ier & UART_IER_ETBEI) &&
                (sp->lsr & UART_LSR_THRE))
                sp->thr_interrupt_pending = true;
        }
        break;
    case UART_FCR:
        uart_write_fcr(sp, value);
        break;
    case UART_LCR:
        sp->lcr = value;
        break;
    case UART_MCR:
        sp->mcr = value & UART_MCR_MASK;
        uart_update_modem_lines(sp);
        break;
    case UART_LSR:   /* LSR and MSR writes are factory test only: ignored */
    case UART_MSR:
        break;
    case UART_SCR:
        sp->scr = value;
        break;
    default:
        break;
    }
}

/* Sends what an access transmitted to output_fd, outside the lock. A failing fd is
 * logged and then no longer used (output continues in the ring); a stall only loses
 * the bytes at hand. */
static void uart_flush_pending(SerialPort *sp, int fd, const UartPending *out)
{
    if (out->count == 0 || fd < 0)
        return;
    int err = dev_write_all(fd, out->bytes, out->count, sp->output_cancel);
    if (err == 0 || err == -ECANCELED)   /* cancelled: the VM is ending */
        return;
    if (err == -EAGAIN) {
        hv_log(HV_LOG_WARN, "serial %#x: output fd %d stalled; %zu byte(s) dropped",
               sp->base, fd, out->count);
        return;
    }
    pthread_mutex_lock(uart_lock(sp));
    bool first = sp->output_fd == fd;
    if (first)
        sp->output_fd = -1;
    pthread_mutex_unlock(uart_lock(sp));
    if (first)
        hv_log(HV_LOG_WARN, "serial %#x: writing to fd %d failed (%s); output stopped",
               sp->base, fd, strerror(-err));
}

static bool uart_size_ok(uint8_t size) { return size == 1 || size == 2 || size == 4; }

/* Bus read handler. An access of 2 or 4 bytes is that many byte reads at consecutive
 * ports, little-endian, as an 8-bit device on the ISA bus sees it; ports past the eight
 * registers read as 0xFF. Returns 0 or -EINVAL. */
int serial_io_read(uint16_t port, uint8_t size, uint32_t *value, void *opaque)
{
    SerialPort *sp = opaque;
    if (!sp || !value || !uart_size_ok(size))
        return -EINVAL;
    uint32_t v = 0;
    pthread_mutex_lock(uart_lock(sp));
    for (unsigned i = 0; i < size; i++) {
        uint32_t reg = (uint32_t)port + i - sp->base;
        uint8_t b = reg < UART_NUM_REGS ? uart_read_reg(sp, reg) : 0xFF;
        v |= (uint32_t)b << (8 * i);
    }
    uart_update(sp);
    pthread_mutex_unlock(uart_lock(sp));
    *value = v;
    return 0;
}

/* Bus write handler; byte-split like serial_io_read, bytes past the registers dropped.
 * Returns 0 or -EINVAL. */
int serial_io_write(uint16_t port, uint8_t size, uint32_t value, void *opaque)
{
    SerialPort *sp = opaque;
    if (!sp || !uart_size_ok(size))
        return -EINVAL;
    UartPending out = {.count = 0};
    pthread_mutex_lock(uart_lock(sp));
    int fd = sp->output_fd;
    for (unsigned i = 0; i < size; i++) {
        uint32_t reg = (uint32_t)port + i - sp->base;
        if (reg < UART_NUM_REGS)
            uart_write_reg(sp, reg, (uint8_t)(value >> (8 * i)), &out);
    }
    uart_update(sp);
    pthread_mutex_unlock(uart_lock(sp));
    uart_flush_pending(sp, fd, &out);
    return 0;
}

/* Host → guest. Queues what fits and returns that count; the caller keeps the rest (no
 * overrun: the host side waits, as a terminal under flow control would). */
size_t serial_receive(SerialPort *sp, const uint8_t *data, size_t len)
{
    if (!sp || (!data && len > 0))
        return 0;
    pthread_mutex_lock(uart_lock(sp));
    size_t n = uart_queue_push(sp, data, len);
    uart_update(sp);
    pthread_mutex_unlock(uart_lock(sp));
    return n;
}

/* Copies the latest min(n, 256, output_total) transmitted bytes to buf, oldest first;
 * returns the count. No NUL is added. */
size_t serial_output_latest(SerialPort *sp, char *buf, size_t n)
{
    if (!sp || !buf)
        return 0;
    pthread_mutex_lock(uart_lock(sp));
    size_t ring = sizeof(sp->output_buffer);
    size_t k = n < ring ? n : ring;
    if (sp->output_total < k)
        k = (size_t)sp->output_total;
    size_t start = (sp->output_pos + ring - k) % ring;
    for (size_t i = 0; i < k; i++)
        buf[i] = sp->output_buffer[(start + i) % ring];
    pthread_mutex_unlock(uart_lock(sp));
    return k;
}

/* A UART at `base` in its reset state (data sheet Table VI), transmitting to output_fd
 * (-1: nowhere; the fd stays the caller's). NULL on failure, with hv_last_error set. */
SerialPort *serial_create_at(uint16_t base, int output_fd)
{
    pthread_mutex_t *lock = NULL;
    SerialPort *sp = calloc(1, sizeof(*sp));
    if (!sp)
        goto fail;
    lock = malloc(sizeof(*lock));
    if (!lock)
        goto fail_sp;
    if (pthread_mutex_init(lock, NULL) != 0)
        goto fail_lock;
    sp->lock = lock;
    sp->base = base;
    sp->output_fd = output_fd < 0 ? -1 : output_fd;
    sp->dll = UART_DEFAULT_DIVISOR;
    sp->dlm = 0;
    sp->msr = UART_MSR_CONNECTED;
    uart_update(sp);   /* LSR = THRE|TEMT, IIR = no interrupt */
    return sp;

fail_lock:
    free(lock);
fail_sp:
    free(sp);
fail:
    hv_fail(ENOMEM, "serial: cannot create the UART at %#x", base);
    return NULL;
}

SerialPort *serial_create(void) { return serial_create_at(COM1_BASE, -1); }

/* Frees the device; output_fd is not closed (it belongs to the caller). */
void serial_destroy(SerialPort *sp)
{
    if (!sp)
        return;
    if (sp->lock) {
        pthread_mutex_destroy(uart_lock(sp));
        free(sp->lock);
    }
    free(sp);
}
