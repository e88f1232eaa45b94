/*
 * Guest programs the benchmarks run, as bytes, so that a library path and the raw-ioctl
 * floor beside it run exactly the same code. Real mode, loaded at guest-physical 0 and
 * started at CS:IP 0000:0000 (like the guests in build/guests).
 */
#ifndef SCRATCHVM_BENCH_GUESTS_H
#define SCRATCHVM_BENCH_GUESTS_H

#include <stddef.h>
#include <stdint.h>

/* The UART scratch register (COM1 + 7): a port a device handles, with no side effects. */
#define BENCH_IO_LOOP_PORT 0x3FF

/*
 * io_loop: N port-I/O exits, then HLT (N + 1 exits in all).
 *
 *         .code16
 *         mov   $0x3ff, %dx          # BA FF 03
 *         mov   $N, %ecx             # 66 B9 nn nn nn nn
 *     1:  out   %al, %dx             # EE
 *         dec   %ecx                 # 66 49
 *         jnz   1b                   # 75 FB
 *         hlt                        # F4
 *
 * N is the imm32 at BENCH_IO_LOOP_COUNT_OFFSET; bench_io_loop_guest() patches it in.
 */
#define BENCH_IO_LOOP_COUNT_OFFSET 5
static const uint8_t bench_io_loop_template[] = {
    0xBA, 0xFF, 0x03,                   /* mov $0x3ff, %dx */
    0x66, 0xB9, 0x00, 0x00, 0x00, 0x00, /* mov $N, %ecx */
    0xEE,                               /* 1: out %al, %dx */
    0x66, 0x49,                         /* dec %ecx */
    0x75, 0xFB,                         /* jnz 1b */
    0xF4,                               /* hlt */
};
#define BENCH_IO_LOOP_SIZE sizeof(bench_io_loop_template)

/* Writes the io_loop guest for `n` (>= 1) OUT exits into out[BENCH_IO_LOOP_SIZE]. */
static inline void bench_io_loop_guest(uint8_t *out, uint32_t n)
{
    for (size_t i = 0; i < BENCH_IO_LOOP_SIZE; i++)
        out[i] = bench_io_loop_template[i];
    for (int i = 0; i < 4; i++)
        out[BENCH_IO_LOOP_COUNT_OFFSET + i] = (uint8_t)(n >> (8 * i));
}

/* The MIPS guests (bench/mips.c) are assembly sources in bench/guests/ (real and 32-bit
 * protected mode), built to GUEST_DIR/bench/NAME.bin. */

#endif
