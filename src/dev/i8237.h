/*
 * The PC's two 8237A DMA controllers (Intel 8237A data sheet) and their page registers
 * (src/dev/i8237.c): controller 1 at ports 0x00-0x0F with the 8-bit channels 0-3,
 * controller 2 at 0xC0-0xDE (even ports) with the 16-bit channels 4-7 (4 cascades
 * controller 1), the page registers at 0x81-0x8F (0x80, also a page register on a PC, is
 * the POST port: sysport.c keeps it). Per channel: base and current address and count
 * (written low byte then high through the byte-pointer flip-flop), mode (transfer type,
 * auto-initialize, decrement), mask; per controller: command (controller disable),
 * status (TC reached, cleared by the read; requests), master clear, clear mask, write all
 * mask bits. Transfers happen when a device asks (isa_dma_transfer), not by DREQ timing:
 * the device moves a whole buffer at once, as a single or demand mode transfer would,
 * and the channel stops at terminal count (count 0xFFFF after the last byte), where it
 * reloads (auto-initialize) or masks itself. Guest memory is reached through the checked
 * DmaHandle only; bytes whose address is not RAM read as 0xFF and are dropped on write,
 * as on an ISA bus with nothing there.
 */
#ifndef SCRATCHVM_DEV_I8237_H
#define SCRATCHVM_DEV_I8237_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dev/dma.h"

#define ISA_DMA1_BASE 0x00
#define ISA_DMA1_PORTS 16
#define ISA_DMA2_BASE 0xC0
#define ISA_DMA2_PORTS 32
#define ISA_DMA_PAGE_BASE 0x81   /* 0x81-0x8F: 0x80 stays the POST port */
#define ISA_DMA_PAGE_PORTS 15
#define ISA_DMA_CHANNELS 8

typedef struct IsaDma IsaDma;

/* mem: guest memory as the controllers see it (copied). */
IsaDma *isa_dma_create(const DmaHandle *mem);
void isa_dma_destroy(IsaDma *d);
/* Power-on state (a master clear of both controllers): every channel masked. */
void isa_dma_reset(void *opaque);
/* Every port of the three ranges above. */
int isa_dma_io_read(uint16_t port, uint8_t size, uint32_t *value, void *opaque);
int isa_dma_io_write(uint16_t port, uint8_t size, uint32_t value, void *opaque);

/* Whether channel ch would serve a request now: unmasked, its controller enabled (the
 * cascade of controller 1 through channel 4 is taken as always set up). */
bool isa_dma_ready(const IsaDma *d, unsigned ch);
/* Serves `len` bytes of device data on channel ch as its mode register says: a write
 * transfer copies buf to memory, a read transfer fills buf from memory, a verify moves
 * nothing; addresses and the count advance in every case. Stops at terminal count: the
 * bytes served (len, or fewer when TC came first or the channel is not ready), *tc set
 * when TC was reached. 16-bit channels serve whole words (an odd last byte is dropped). */
size_t isa_dma_transfer(IsaDma *d, unsigned ch, uint8_t *buf, size_t len, bool *tc);

#endif
