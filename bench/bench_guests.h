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

/*
 * The MIPS guests (bench/mips.c): straight-line work in a loop of N iterations, then HLT,
 * with no exit before the HLT. Each is identical bytes on every backend; N is the imm32 at
 * BENCH_MIPS_COUNT_OFFSET, patched in by bench_mips_guest(). The instructions a run
 * executes are exactly prologue + N * per_iteration + 1 (the HLT), with a REP MOVS
 * counted as ONE instruction whatever its element count (as the interpreter's
 * instructions_retired and Intel's INST_RETIRED count it); `rep_elements` says how many
 * elements each iteration's REP instructions move besides.
 *
 * (1) alu: registers only, 16- and 32-bit operands.
 *     0:  66 B9 nn nn nn nn   mov   $N, %ecx
 *     6:  66 B8 67 45 23 01   mov   $0x01234567, %eax
 *     C:  66 BB EF CD AB 89   mov   $0x89abcdef, %ebx
 *    12:  66 BA 3C 2D 1E 0F   mov   $0x0f1e2d3c, %edx
 *    18:  66 BE 78 69 5A 4B   mov   $0x4b5a6978, %esi
 *    1E:  66 BF B4 A5 96 87   mov   $0x8796a5b4, %edi
 *    24:  66 BD F0 E1 D2 C3   mov   $0xc3d2e1f0, %ebp       # prologue: 7
 *    2A:  01 D8             1: add   %bx, %ax
 *    2C:  29 C2                sub   %ax, %dx
 *    2E:  31 D6                xor   %dx, %si
 *    30:  47                   inc   %di
 *    31:  66 01 C5             add   %eax, %ebp
 *    34:  66 29 F3             sub   %esi, %ebx
 *    37:  66 31 EA             xor   %ebp, %edx
 *    3A:  66 4F                dec   %edi
 *    3C:  39 C5                cmp   %ax, %bp
 *    3E:  66 49                dec   %ecx
 *    40:  75 E8                jnz   1b                     # per iteration: 11
 *    42:  F4                   hlt
 */
static const uint8_t bench_mips_alu[] = {
    0x66, 0xB9, 0x00, 0x00, 0x00, 0x00, 0x66, 0xB8, 0x67, 0x45, 0x23, 0x01,
    0x66, 0xBB, 0xEF, 0xCD, 0xAB, 0x89, 0x66, 0xBA, 0x3C, 0x2D, 0x1E, 0x0F,
    0x66, 0xBE, 0x78, 0x69, 0x5A, 0x4B, 0x66, 0xBF, 0xB4, 0xA5, 0x96, 0x87,
    0x66, 0xBD, 0xF0, 0xE1, 0xD2, 0xC3,
    0x01, 0xD8, 0x29, 0xC2, 0x31, 0xD6, 0x47, 0x66, 0x01, 0xC5, 0x66, 0x29, 0xF3,
    0x66, 0x31, 0xEA, 0x66, 0x4F, 0x39, 0xC5, 0x66, 0x49, 0x75, 0xE8,
    0xF4,
};

/*
 * (2) mem: per iteration, 512 passes of word loads and stores through DS (0x1000:0000,
 * linear 0x10000) and ES (0x2000:0000, linear 0x20000) over 2 KiB of each, then REP MOVSW
 * of 2 KiB and REP MOVSB of 1 KiB from DS to ES.
 *     0:  66 BD nn nn nn nn   mov   $N, %ebp
 *     6:  B8 00 10            mov   $0x1000, %ax
 *     9:  8E D8               mov   %ax, %ds
 *     B:  B8 00 20            mov   $0x2000, %ax
 *     E:  8E C0               mov   %ax, %es
 *    10:  FC                  cld
 *    11:  31 D2               xor   %dx, %dx                # prologue: 7
 *    13:  31 F6            1: xor   %si, %si
 *    15:  31 FF               xor   %di, %di
 *    17:  BB 00 02            mov   $512, %bx
 *    1A:  8B 04            2: mov   (%si), %ax              # load, DS
 *    1C:  01 C2               add   %ax, %dx
 *    1E:  26 89 15            mov   %dx, %es:(%di)          # store, ES
 *    21:  26 8B 45 02         mov   %es:2(%di), %ax         # load, ES
 *    25:  40                  inc   %ax
 *    26:  89 44 02            mov   %ax, 2(%si)             # store, DS
 *    29:  83 C6 04            add   $4, %si
 *    2C:  83 C7 04            add   $4, %di
 *    2F:  4B                  dec   %bx
 *    30:  75 E8               jnz   2b                      # 10 x 512
 *    32:  31 F6               xor   %si, %si
 *    34:  31 FF               xor   %di, %di
 *    36:  B9 00 04            mov   $1024, %cx
 *    39:  F3 A5               rep movsw                     # 1024 elements, 2 KiB
 *    3B:  B9 00 04            mov   $1024, %cx
 *    3E:  F3 A4               rep movsb                     # 1024 elements, 1 KiB
 *    40:  66 4D               dec   %ebp
 *    42:  75 CF               jnz   1b                      # per iteration: 3 + 5120 + 8
 *    44:  F4                  hlt
 */
static const uint8_t bench_mips_mem[] = {
    0x66, 0xBD, 0x00, 0x00, 0x00, 0x00, 0xB8, 0x00, 0x10, 0x8E, 0xD8,
    0xB8, 0x00, 0x20, 0x8E, 0xC0, 0xFC, 0x31, 0xD2,
    0x31, 0xF6, 0x31, 0xFF, 0xBB, 0x00, 0x02,
    0x8B, 0x04, 0x01, 0xC2, 0x26, 0x89, 0x15, 0x26, 0x8B, 0x45, 0x02, 0x40,
    0x89, 0x44, 0x02, 0x83, 0xC6, 0x04, 0x83, 0xC7, 0x04, 0x4B, 0x75, 0xE8,
    0x31, 0xF6, 0x31, 0xFF, 0xB9, 0x00, 0x04, 0xF3, 0xA5, 0xB9, 0x00, 0x04, 0xF3, 0xA4,
    0x66, 0x4D, 0x75, 0xCF,
    0xF4,
};
#define BENCH_MIPS_MEM_DS 0x10000u   /* linear bases of the buffers, for checks */
#define BENCH_MIPS_MEM_ES 0x20000u
#define BENCH_MIPS_MEM_LEN 0xC00u    /* bytes of each buffer the guest touches: 3 KiB */

/*
 * (3) call: near CALL and RET, two levels deep, PUSH/POP in both callees; stack at
 * 0000:8000.
 *     0:  66 B9 nn nn nn nn   mov   $N, %ecx
 *     6:  31 C0               xor   %ax, %ax
 *     8:  8E D0               mov   %ax, %ss
 *     A:  BC 00 80            mov   $0x8000, %sp
 *     D:  B8 11 11            mov   $0x1111, %ax
 *    10:  BB 22 22            mov   $0x2222, %bx
 *    13:  31 D2               xor   %dx, %dx
 *    15:  BE 33 33            mov   $0x3333, %si            # prologue: 8
 *    18:  E8 08 00         1: call  f
 *    1B:  E8 05 00            call  f
 *    1E:  66 49               dec   %ecx
 *    20:  75 F6               jnz   1b                      # per iteration: 4 + 2 x 14
 *    22:  F4                  hlt
 *    23:  53               f: push  %bx
 *    24:  56                  push  %si
 *    25:  89 C3               mov   %ax, %bx
 *    27:  E8 05 00            call  g
 *    2A:  01 DA               add   %bx, %dx
 *    2C:  5E                  pop   %si
 *    2D:  5B                  pop   %bx
 *    2E:  C3                  ret                           # f: 8
 *    2F:  51               g: push  %cx
 *    30:  89 F1               mov   %si, %cx
 *    32:  01 C8               add   %cx, %ax
 *    34:  46                  inc   %si
 *    35:  59                  pop   %cx
 *    36:  C3                  ret                           # g: 6
 */
static const uint8_t bench_mips_call[] = {
    0x66, 0xB9, 0x00, 0x00, 0x00, 0x00, 0x31, 0xC0, 0x8E, 0xD0, 0xBC, 0x00, 0x80,
    0xB8, 0x11, 0x11, 0xBB, 0x22, 0x22, 0x31, 0xD2, 0xBE, 0x33, 0x33,
    0xE8, 0x08, 0x00, 0xE8, 0x05, 0x00, 0x66, 0x49, 0x75, 0xF6,
    0xF4,
    0x53, 0x56, 0x89, 0xC3, 0xE8, 0x05, 0x00, 0x01, 0xDA, 0x5E, 0x5B, 0xC3,
    0x51, 0x89, 0xF1, 0x01, 0xC8, 0x46, 0x59, 0xC3,
};

#define BENCH_MIPS_COUNT_OFFSET 2
#define BENCH_MIPS_MAX_SIZE 128

typedef struct {
    const char *name;           /* the table's figure */
    const uint8_t *code;
    size_t size;
    uint64_t prologue;          /* instructions before the loop */
    uint64_t per_iteration;     /* instructions per iteration, a REP MOVS as one */
    uint64_t rep_elements;      /* elements the REP MOVS of one iteration move */
} BenchMipsGuest;

static const BenchMipsGuest bench_mips_guests[] = {
    {"(1) ALU loop, 16/32-bit registers", bench_mips_alu, sizeof(bench_mips_alu), 7, 11, 0},
    {"(2) memory loop, DS/ES + REP MOVS", bench_mips_mem, sizeof(bench_mips_mem), 7,
     3 + 512 * 10 + 8, 1024 + 1024},
    {"(3) CALL/RET loop, PUSH/POP in callee", bench_mips_call, sizeof(bench_mips_call), 8,
     4 + 2 * (8 + 6), 0},
};
#define BENCH_MIPS_GUESTS (sizeof(bench_mips_guests) / sizeof(bench_mips_guests[0]))

/* Instructions a run of `g` with `n` iterations executes, its HLT included. */
static inline uint64_t bench_mips_instructions(const BenchMipsGuest *g, uint32_t n)
{
    return g->prologue + (uint64_t)n * g->per_iteration + 1;
}

/* Writes guest `g` for `n` (>= 1) iterations into out[g->size]. */
static inline void bench_mips_guest(const BenchMipsGuest *g, uint8_t *out, uint32_t n)
{
    for (size_t i = 0; i < g->size; i++)
        out[i] = g->code[i];
    for (int i = 0; i < 4; i++)
        out[BENCH_MIPS_COUNT_OFFSET + i] = (uint8_t)(n >> (8 * i));
}

#endif
