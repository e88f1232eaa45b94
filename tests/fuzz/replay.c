/*
 * Runs a harness on files without libFuzzer: `fuzz_x-replay FILE|DIR...` feeds every file
 * (a directory: each regular file in it) to LLVMFuzzerTestOneInput once. Built with the
 * normal compiler in every `make check` flavour, so the committed corpora (seeds and the
 * inputs of past findings, tests/fuzz/corpus/<harness>/) are regression tests under
 * ASan+UBSan too. Exit 0 when every input ran, 1 when a file could not be read.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

#define REPLAY_MAX_INPUT (1u << 20)

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    uint8_t *buf = malloc(REPLAY_MAX_INPUT);
    size_t n = buf ? fread(buf, 1, REPLAY_MAX_INPUT, f) : 0;
    fclose(f);
    if (!buf) {
        fprintf(stderr, "replay: out of memory\n");
        return -1;
    }
    /* A copy of exactly n bytes, so ASan sees a read past the input as libFuzzer would. */
    uint8_t *exact = malloc(n ? n : 1);
    if (exact) {
        memcpy(exact, buf, n);
        LLVMFuzzerTestOneInput(exact, n);
    }
    free(exact);
    free(buf);
    return exact ? 0 : -1;
}

static int replay_path(const char *path, unsigned *count)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        (*count)++;
        return replay_file(path);
    }
    struct dirent **names;
    int n = scandir(path, &names, NULL, alphasort);
    if (n < 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    int ret = 0;
    for (int i = 0; i < n; i++) {
        char full[4096];
        snprintf(full, sizeof(full), "%s/%s", path, names[i]->d_name);
        struct stat fs;
        if (names[i]->d_name[0] != '.' && stat(full, &fs) == 0 && S_ISREG(fs.st_mode)) {
            (*count)++;
            if (replay_file(full) < 0)
                ret = -1;
        }
        free(names[i]);
    }
    free(names);
    return ret;
}

int main(int argc, char **argv)
{
    LLVMFuzzerInitialize(&argc, &argv);
    unsigned count = 0;
    int ret = 0;
    for (int i = 1; i < argc; i++)
        if (replay_path(argv[i], &count) < 0)
            ret = 1;
    fprintf(stderr, "replay: %s: %u inputs%s\n", argv[0], count, ret ? ", some unreadable" : "");
    return ret;
}
