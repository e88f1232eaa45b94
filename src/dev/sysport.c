/*
 * Port 0x80 (POST codes) and port 0x92 (system control port A: fast A20 gate, bit 1, and
 * fast reset, bit 0; IBM PS/2 and every PC chipset since) and 0xCF9 (PIIX3 reset control). Accessed by the vCPU thread
 * only; the monitor reads the POST code while the vCPU is paused or as a plain byte.
 */
#include <errno.h>

#include "dev/dev_io.h"
#include "dev/sysport.h"

int post_io_read(uint16_t port, uint8_t size, uint32_t *value, void *opaque)
{
    (void)port;
    if (!opaque || !value)
        return -EINVAL;
    *value = dev_byte_on_bus(0xFF, size);
    return 0;
}

int post_io_write(uint16_t port, uint8_t size, uint32_t value, void *opaque)
{
    (void)port;
    (void)size;   /* a word write puts its low byte on the card's latch */
    PostCode *p = opaque;
    if (!p)
        return -EINVAL;
    __atomic_store_n(&p->code, (uint8_t)value, __ATOMIC_RELAXED);
    __atomic_add_fetch(&p->writes, 1, __ATOMIC_RELAXED);
    return 0;
}

int port92_io_read(uint16_t port, uint8_t size, uint32_t *value, void *opaque)
{
    (void)port;
    Port92 *p = opaque;
    if (!p || !value)
        return -EINVAL;
    *value = dev_byte_on_bus(p->value & (uint8_t)~PORT92_RESET, size);
    return 0;
}

int port92_io_write(uint16_t port, uint8_t size, uint32_t value, void *opaque)
{
    (void)port;
    (void)size;
    Port92 *p = opaque;
    if (!p)
        return -EINVAL;
    uint8_t old = p->value, v = (uint8_t)value;
    p->value = v & (uint8_t)~PORT92_RESET;
    if ((old ^ v) & PORT92_A20 && p->a20)
        p->a20(p->opaque, v & PORT92_A20);
    if ((v & PORT92_RESET) && p->reset)
        p->reset(p->opaque);
    return 0;
}

int rcr_io_read(uint16_t port, uint8_t size, uint32_t *value, void *opaque)
{
    (void)port;
    ResetControl *r = opaque;
    if (!r || !value)
        return -EINVAL;
    *value = dev_byte_on_bus(r->value & RCR_SYS_RST, size);
    return 0;
}

int rcr_io_write(uint16_t port, uint8_t size, uint32_t value, void *opaque)
{
    (void)port;
    (void)size;   /* a wider write puts its low byte on 0xCF9 */
    ResetControl *r = opaque;
    if (!r)
        return -EINVAL;
    r->value = (uint8_t)value & RCR_SYS_RST;
    if ((value & RCR_RST_CPU) && r->reset)
        r->reset(r->opaque);
    return 0;
}
