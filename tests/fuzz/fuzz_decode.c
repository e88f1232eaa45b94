/*
 * Harness: the decoder and the disassembler (x86_decode_bytes, x86_disassemble).
 * Every offset is also decoded as 64-bit code (the disassembler has no 64-bit form yet).
 * Input: byte 0 picks the mode (bit 0: 32-bit code, else 16-bit) and the text buffer size
 * (bits 1-7: 1..128 bytes, so truncation is fuzzed too); the rest is instruction bytes,
 * decoded at every offset. Checks the contracts, not only the absence of crashes: a
 * decode either fails with its documented codes or gives a length of 1..15 within the
 * bytes, the disassembler agrees with the decoder on the length, and its text is always
 * NUL-terminated within the buffer.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "hypervisor_sim.h"
#include "sim/cpu/cpu_internal.h"

#define FUZZ_DECODE_MAX_OFFSETS 64

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool d32 = data[0] & 1;
    size_t out_size = 1 + (data[0] >> 1);
    data++;
    size--;
    for (size_t off = 0; off < size && off < FUZZ_DECODE_MAX_OFFSETS; off++) {
        X86Insn in;
        memset(&in, 0, sizeof(in));
        X86Mode mode = d32 ? X86_MODE_PROT32 : X86_MODE_PROT16;
        int d = x86_decode_bytes(data + off, size - off, mode, &in);
        if (d != 0 && d != X86_DECODE_TRUNCATED && d != X86_EXC_GP)
            abort();
        if (d == 0 && (in.len < 1 || in.len > X86_MAX_INSN_LEN || in.len > size - off))
            abort();
        X86Insn in64;
        int d64 = x86_decode_bytes(data + off, size - off, X86_MODE_LONG64, &in64);
        if (d64 != 0 && d64 != X86_DECODE_TRUNCATED && d64 != X86_EXC_GP)
            abort();
        if (d64 == 0 && (in64.len < 1 || in64.len > X86_MAX_INSN_LEN || in64.len > size - off ||
                         in64.reg > 23 || in64.rm > 23 || in64.base > X86_REG_NONE ||
                         in64.index > X86_REG_NONE))
            abort();
        char *text = malloc(out_size);
        if (!text)
            return 0;
        memset(text, 'x', out_size);
        int n = x86_disassemble(data + off, size - off, 0xFFF0 + off, d32 ? 32 : 16, text,
                                out_size);
        if (!memchr(text, 0, out_size))
            abort();
        if (n != -ENODATA && (n < 1 || n > X86_MAX_INSN_LEN))
            abort();
        if (d == 0 && n != in.len && n != 1)   /* 1: "(bad)", an opcode the CPU lacks */
            abort();
        free(text);
    }
    return 0;
}
