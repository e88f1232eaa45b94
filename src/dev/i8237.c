/*
 * The PC's ISA DMA: two 8237A controllers and the page registers (see i8237.h).
 */
#include "dev/i8237.h"

#include <stdlib.h>
#include <string.h>

#include "dev/dev_io.h"

/* Register numbers within a controller (8237A data sheet, "Register Codes"). */
#define REG_STATUS_COMMAND 0x8   /* read: status; write: command */
#define REG_REQUEST 0x9
#define REG_SINGLE_MASK 0xA
#define REG_MODE 0xB
#define REG_CLEAR_FLIP_FLOP 0xC
#define REG_TEMP_MASTER_CLEAR 0xD /* read: temporary register; write: master clear */
#define REG_CLEAR_MASK 0xE
#define REG_ALL_MASK 0xF

#define COMMAND_DISABLE 0x04      /* controller disable */
#define MASK_SET 0x04             /* single mask / request: bit 2 sets, else clears */
#define MODE_TYPE(m) (((m) >> 2) & 3)
#define MODE_AUTOINIT 0x10
#define MODE_DECREMENT 0x20
#define TYPE_WRITE 1              /* I/O to memory */
#define TYPE_READ 2               /* memory to I/O */

typedef struct {
    uint16_t base_addr, base_count;
    uint16_t cur_addr, cur_count;
    uint8_t mode;
} DmaChannel;

typedef struct {
    DmaChannel ch[4];
    uint8_t command;
    uint8_t status;               /* bits 3:0 TC reached, 7:4 requests */
    uint8_t mask;                 /* bits 3:0, set = masked */
    bool high_byte;               /* the byte pointer flip-flop */
} Dma8237;

struct IsaDma {
    Dma8237 ctl[2];
    uint8_t page[16];             /* ports 0x80-0x8F (index 0 unused: the POST port) */
    DmaHandle mem;
};

/* The page register port of each channel, as the PC/AT wires them. */
static const uint8_t page_port[ISA_DMA_CHANNELS] = {0x87, 0x83, 0x81, 0x82,
                                                     0x8F, 0x8B, 0x89, 0x8A};

IsaDma *isa_dma_create(const DmaHandle *mem)
{
    IsaDma *d = mem ? calloc(1, sizeof(*d)) : NULL;
    if (!d)
        return NULL;
    d->mem = *mem;
    isa_dma_reset(d);
    return d;
}

void isa_dma_destroy(IsaDma *d) { free(d); }

static void master_clear(Dma8237 *c)
{
    c->command = 0;
    c->status = 0;
    c->mask = 0xF;
    c->high_byte = false;
}

void isa_dma_reset(void *opaque)
{
    IsaDma *d = opaque;
    DmaHandle mem = d->mem;
    memset(d, 0, sizeof(*d));
    d->mem = mem;
    master_clear(&d->ctl[0]);
    master_clear(&d->ctl[1]);
}

/* The controller and register of a port, or -1 for a port without one (the odd ports of
 * controller 2). */
static int decode(uint16_t port, Dma8237 **c, IsaDma *d)
{
    if (port < ISA_DMA1_BASE + ISA_DMA1_PORTS) {
        *c = &d->ctl[0];
        return port - ISA_DMA1_BASE;
    }
    if (port >= ISA_DMA2_BASE && port < ISA_DMA2_BASE + ISA_DMA2_PORTS && !(port & 1)) {
        *c = &d->ctl[1];
        return (port - ISA_DMA2_BASE) >> 1;
    }
    return -1;
}

static uint8_t read_byte(IsaDma *d, uint16_t port)
{
    if (port >= 0x80 && port <= 0x8F)
        return d->page[port - 0x80];
    Dma8237 *c;
    int reg = decode(port, &c, d);
    if (reg < 0)
        return 0xFF;
    if (reg < 8) {
        DmaChannel *x = &c->ch[reg >> 1];
        uint16_t v = reg & 1 ? x->cur_count : x->cur_addr;
        uint8_t b = c->high_byte ? (uint8_t)(v >> 8) : (uint8_t)v;
        c->high_byte = !c->high_byte;
        return b;
    }
    switch (reg) {
    case REG_STATUS_COMMAND: {
        uint8_t s = c->status;
        c->status &= 0xF0;   /* the TC bits clear on read */
        return s;
    }
    case REG_TEMP_MASTER_CLEAR:
        return 0;            /* memory-to-memory transfers are not modelled */
    case REG_ALL_MASK:
        return (uint8_t)(0xF0 | c->mask);
    default:
        return 0xFF;
    }
}

static void write_byte(IsaDma *d, uint16_t port, uint8_t v)
{
    if (port >= 0x80 && port <= 0x8F) {
        d->page[port - 0x80] = v;
        return;
    }
    Dma8237 *c;
    int reg = decode(port, &c, d);
    if (reg < 0)
        return;
    if (reg < 8) {
        DmaChannel *x = &c->ch[reg >> 1];
        uint16_t *base = reg & 1 ? &x->base_count : &x->base_addr;
        uint16_t *cur = reg & 1 ? &x->cur_count : &x->cur_addr;
        *base = c->high_byte ? (uint16_t)((*base & 0x00FF) | v << 8)
                             : (uint16_t)((*base & 0xFF00) | v);
        *cur = *base;   /* writing the base writes the current register too */
        c->high_byte = !c->high_byte;
        return;
    }
    unsigned ch = v & 3;
    switch (reg) {
    case REG_STATUS_COMMAND: c->command = v; break;
    case REG_REQUEST:
        if (v & MASK_SET)
            c->status |= (uint8_t)(0x10 << ch);
        else
            c->status &= (uint8_t)~(0x10 << ch);
        break;
    case REG_SINGLE_MASK:
        if (v & MASK_SET)
            c->mask |= (uint8_t)(1 << ch);
        else
            c->mask &= (uint8_t)~(1 << ch);
        break;
    case REG_MODE: c->ch[ch].mode = v; break;
    case REG_CLEAR_FLIP_FLOP: c->high_byte = false; break;
    case REG_TEMP_MASTER_CLEAR: master_clear(c); break;
    case REG_CLEAR_MASK: c->mask = 0; break;
    case REG_ALL_MASK: c->mask = v & 0xF; break;
    default: break;
    }
}

int isa_dma_io_read(uint16_t port, uint8_t size, uint32_t *value, void *opaque)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < size && i < 4; i++)   /* a wide access: bytes at port + i */
        v |= (uint32_t)read_byte(opaque, (uint16_t)(port + i)) << (8 * i);
    *value = v;
    return 0;
}

int isa_dma_io_write(uint16_t port, uint8_t size, uint32_t value, void *opaque)
{
    for (unsigned i = 0; i < size && i < 4; i++)
        write_byte(opaque, (uint16_t)(port + i), (uint8_t)(value >> (8 * i)));
    return 0;
}

bool isa_dma_ready(const IsaDma *d, unsigned ch)
{
    if (!d || ch >= ISA_DMA_CHANNELS)
        return false;
    /* Controller 1 reaches the bus through channel 4 of controller 2 (cascade), which is
     * taken as always programmed so: firmware sets it up once (SeaBIOS does, the built-in
     * BIOS does not), and masking or disabling it is not modelled. */
    const Dma8237 *c = &d->ctl[ch / 4];
    return !(c->command & COMMAND_DISABLE) && !(c->mask & (1u << (ch % 4)));
}

/* One run of `n` units at guest address gpa, in increasing addresses: a bulk copy, or
 * byte by byte where not all of it is RAM (non-RAM bytes read 0xFF, writes vanish). */
static void move(IsaDma *d, unsigned type, uint64_t gpa, uint8_t *buf, size_t bytes)
{
    if (type == TYPE_WRITE) {
        if (dma_write(&d->mem, gpa, buf, bytes) < 0)
            for (size_t i = 0; i < bytes; i++)
                (void)dma_write(&d->mem, gpa + i, buf + i, 1);
    } else if (type == TYPE_READ) {
        if (dma_read(&d->mem, gpa, buf, bytes) < 0)
            for (size_t i = 0; i < bytes; i++)
                if (dma_read(&d->mem, gpa + i, buf + i, 1) < 0)
                    buf[i] = 0xFF;
    }
}

size_t isa_dma_transfer(IsaDma *d, unsigned ch, uint8_t *buf, size_t len, bool *tc)
{
    bool reached = false;
    size_t done = 0;
    if (tc)
        *tc = false;
    if (!d || !buf || !isa_dma_ready(d, ch))
        return 0;
    Dma8237 *c = &d->ctl[ch / 4];
    DmaChannel *x = &c->ch[ch % 4];
    unsigned unit = ch >= 4 ? 2 : 1;
    unsigned type = MODE_TYPE(x->mode);
    uint8_t page = d->page[page_port[ch] - 0x80];
    while (!reached && len - done >= unit) {
        /* A run: up to TC, the end of the 64K (128K) the address register spans, or the
         * buffer; one unit when the address counts down. */
        size_t units = (len - done) / unit;
        size_t to_tc = (size_t)x->cur_count + 1;
        size_t to_wrap = x->mode & MODE_DECREMENT ? 1 : 0x10000u - x->cur_addr;
        size_t n = units < to_tc ? units : to_tc;
        n = n < to_wrap ? n : to_wrap;
        uint64_t gpa = unit == 1 ? ((uint64_t)page << 16 | x->cur_addr)
                                 : ((uint64_t)(page & 0xFE) << 16 | (uint64_t)x->cur_addr << 1);
        move(d, type, gpa, buf + done, n * unit);
        done += n * unit;
        x->cur_addr = (uint16_t)(x->mode & MODE_DECREMENT ? x->cur_addr - n : x->cur_addr + n);
        if (n == to_tc) {   /* the count went past 0: terminal count */
            reached = true;
            c->status |= (uint8_t)(1u << (ch % 4));
            c->status &= (uint8_t)~(0x10u << (ch % 4));
            if (x->mode & MODE_AUTOINIT) {
                x->cur_addr = x->base_addr;
                x->cur_count = x->base_count;
            } else {
                x->cur_count = 0xFFFF;
                c->mask |= (uint8_t)(1u << (ch % 4));
            }
        } else {
            x->cur_count = (uint16_t)(x->cur_count - n);
        }
    }
    if (tc)
        *tc = reached;
    return done;
}
