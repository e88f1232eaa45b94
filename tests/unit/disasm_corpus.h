/*
 * The systematic instruction corpus of test_disasm.c: every one-byte and 0F xx opcode with
 * ModR/M bytes over all reg fields and the addressing forms (16-bit disp8/disp16, 32-bit
 * SIB with and without base/index, disp8/disp32, register), then again behind prefix
 * combinations (66, 67, F2, F3, F0, segment overrides). The bytes after ModR/M/SIB are a
 * fixed pattern, so displacements and immediates take non-trivial values. Header-only so
 * a developer's comparison tool (against `objdump -D`) can walk the very same corpus.
 */
#ifndef SCRATCHVM_TESTS_DISASM_CORPUS_H
#define SCRATCHVM_TESTS_DISASM_CORPUS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    uint8_t bytes[16];
    size_t len;           /* bytes available (always 15: the maximum instruction length) */
} CorpusItem;

/* Calls fn(item, ctx) for every corpus entry. Returns the number of entries. */
typedef void (*CorpusFn)(const CorpusItem *item, void *ctx);

static const uint8_t corpus_prefix_sets[][4] = {
    { 0 }, { 1, 0x66 }, { 1, 0x67 }, { 2, 0x66, 0x67 }, { 1, 0xF3 }, { 1, 0xF2 }, { 1, 0xF0 },
    { 1, 0x26 }, { 1, 0x2E }, { 1, 0x36 }, { 1, 0x3E }, { 1, 0x64 }, { 1, 0x65 },
    { 2, 0xF0, 0x66 }, { 2, 0xF3, 0x66 }, { 2, 0x67, 0xF3 }, { 3, 0x65, 0x67, 0x66 },
};

/* (mod, rm) pairs: every 16-bit form's kind and the 32-bit SIB/disp32 cases. */
static const uint8_t corpus_modrm_full[][2] = {
    { 0, 0 }, { 0, 4 }, { 0, 5 }, { 0, 6 }, { 0, 7 }, { 1, 2 }, { 1, 4 }, { 1, 6 },
    { 2, 3 }, { 2, 4 }, { 2, 5 }, { 3, 0 }, { 3, 3 }, { 3, 6 },
};
static const uint8_t corpus_modrm_short[][2] = {
    { 0, 4 }, { 0, 5 }, { 0, 6 }, { 1, 4 }, { 2, 7 }, { 3, 1 },
};
/* SIB bytes: index+base, no index (100) with base ESP, base 101 (disp32 when mod 0),
 * index 100 with another base (objdump's %eiz). */
static const uint8_t corpus_sib[] = { 0x88, 0x24, 0x25, 0x05, 0xE5, 0x20 };

static const uint8_t corpus_tail[] = { 0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC, 0xDE, 0xF0,
                                       0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77 };

static inline int corpus_is_prefix(unsigned b)
{
    return b == 0x26 || b == 0x2E || b == 0x36 || b == 0x3E || b == 0x64 || b == 0x65 ||
           b == 0x66 || b == 0x67 || b == 0xF0 || b == 0xF2 || b == 0xF3;
}

static inline void corpus_emit(CorpusFn fn, void *ctx, const uint8_t *pfx, unsigned op,
                               int modrm, int sib, size_t *count)
{
    CorpusItem it;
    size_t n = 0;
    for (unsigned i = 0; i < pfx[0]; i++) it.bytes[n++] = pfx[1 + i];
    if (op > 0xFF) it.bytes[n++] = 0x0F;
    it.bytes[n++] = (uint8_t)op;
    if (modrm >= 0) it.bytes[n++] = (uint8_t)modrm;
    if (sib >= 0) it.bytes[n++] = (uint8_t)sib;
    for (size_t i = 0; n < sizeof it.bytes; i++) it.bytes[n++] = corpus_tail[i];
    it.len = 15;
    fn(&it, ctx);
    (*count)++;
}

/* Every opcode (0x00..0xFF and 0x100 | 0F xx) under every prefix set: with ModR/M
 * variants (all reg fields; SIB bytes where rm is 100), or two different tails (for
 * opcodes that take no ModR/M the ModR/M byte is just the first immediate byte). */
static inline size_t corpus_walk(CorpusFn fn, void *ctx)
{
    size_t count = 0;
    for (size_t p = 0; p < sizeof corpus_prefix_sets / sizeof corpus_prefix_sets[0]; p++) {
        const uint8_t *pfx = corpus_prefix_sets[p];
        for (unsigned op = 0; op < 0x200; op++) {
            if (op < 0x100 && (corpus_is_prefix(op) || op == 0x0F)) continue;
            const uint8_t (*forms)[2] = p == 0 ? corpus_modrm_full : corpus_modrm_short;
            size_t nforms = p == 0 ? sizeof corpus_modrm_full / sizeof corpus_modrm_full[0]
                                   : sizeof corpus_modrm_short / sizeof corpus_modrm_short[0];
            for (size_t f = 0; f < nforms; f++) {
                for (unsigned reg = 0; reg < 8; reg++) {
                    unsigned modrm = (unsigned)(forms[f][0] << 6) | (reg << 3) | forms[f][1];
                    if (forms[f][0] != 3 && forms[f][1] == 4) {
                        for (size_t s = 0; s < sizeof corpus_sib; s++)
                            corpus_emit(fn, ctx, pfx, op, (int)modrm, corpus_sib[s], &count);
                    } else {
                        corpus_emit(fn, ctx, pfx, op, (int)modrm, -1, &count);
                    }
                }
            }
        }
    }
    return count;
}

#endif
