/*
 * Two small PC ports (src/dev/sysport.c):
 * - 0x80, the POST code port: firmware writes its progress codes there; the last one is
 *   kept (info status, the exit trace). Reads float (0xFF), as on an ISA bus with a POST
 *   card.
 * - 0x92, system control port A ("fast A20 and reset"): bit 1 gates A20, bit 0 written as
 *   1 pulses the CPU's reset.
 * - 0xCF9, the reset control register of the PIIX3 (Intel 82371SB data sheet, 2.3.3 "RC"),
 *   which the ACPI FADT names as RESET_REG: writing bit 2 (RST_CPU) resets, bit 1 (SYS_RST)
 *   choosing a hard reset; here both end the VM as a reset pulse does.
 */
#ifndef SCRATCHVM_DEV_SYSPORT_H
#define SCRATCHVM_DEV_SYSPORT_H

#include <stdbool.h>
#include <stdint.h>

#define POST_PORT 0x80
#define PORT92 0x92
#define PORT92_RESET 0x01
#define PORT92_A20 0x02

typedef struct {
    uint8_t code;                 /* the last POST code */
    uint64_t writes;              /* how many were written */
} PostCode;

typedef struct {
    uint8_t value;                /* bits 1 (A20) and 7:2 as written; bit 0 reads 0 */
    /* a20(opaque, on) after each change of bit 1; reset(opaque) for a 0 -> 1 of bit 0 */
    void (*a20)(void *opaque, bool on);
    void (*reset)(void *opaque);
    void *opaque;
} Port92;

#define RCR_SYS_RST 0x02
#define RCR_RST_CPU 0x04

typedef struct {
    uint8_t value;                /* bit 1 as written (bit 2 reads 0: it is a pulse) */
    void (*reset)(void *opaque);  /* a write with RST_CPU set */
    void *opaque;
} ResetControl;

int post_io_read(uint16_t port, uint8_t size, uint32_t *value, void *opaque);
int post_io_write(uint16_t port, uint8_t size, uint32_t value, void *opaque);
int port92_io_read(uint16_t port, uint8_t size, uint32_t *value, void *opaque);
int port92_io_write(uint16_t port, uint8_t size, uint32_t value, void *opaque);
int rcr_io_read(uint16_t port, uint8_t size, uint32_t *value, void *opaque);
int rcr_io_write(uint16_t port, uint8_t size, uint32_t value, void *opaque);

#endif
