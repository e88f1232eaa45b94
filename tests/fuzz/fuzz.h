/*
 * Shared by the libFuzzer harnesses of tests/fuzz (one surface each, fuzz_<name>.c) and by
 * replay.c, the driver that runs a harness's corpus without libFuzzer in `make check`.
 */
#ifndef SCRATCHVM_TESTS_FUZZ_H
#define SCRATCHVM_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* libFuzzer's entry points. Returns 0; a finding is a crash or a sanitizer report. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Input bytes taken one field at a time; past the end every field reads as 0. */
typedef struct {
    const uint8_t *p;
    size_t left;
} FuzzIn;

static inline uint32_t fuzz_take(FuzzIn *in, unsigned bytes)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < bytes && in->left; i++, in->p++, in->left--)
        v |= (uint32_t)*in->p << (8 * i);
    return v;
}

/* Points fd 1 at /dev/null (the devices write the guest's console there, and a fuzzer's
 * stdout full of guest bytes helps no one: libFuzzer reports on stderr), logs only errors,
 * and returns a /dev/null stream for the answers of the code under test (NULL on failure). */
FILE *fuzz_quiet_output(void);

#endif
