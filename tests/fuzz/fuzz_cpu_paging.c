/*
 * Harness: the interpreter and its block cache and translations under guest paging that
 * the input sets up and changes: 32-bit and PAE tables, 4 KiB pages of a window that may
 * alias each other, map out of order (reversed, far apart) or onto the page tables
 * themselves, a 4 MiB (PAE: 2 MiB) page, code that starts just before a page end so its
 * instructions cross into the next linear page, and between exits host edits of entries
 * and code bytes, CR3 switches and restarts, while the guest itself may write the tables,
 * INVLPG or reload CR3. Input format: fuzz_paging.h; bit 7 of byte 0 translates every
 * block to host code from its first run (else the default threshold).
 * The bug class it is for: a decoded block keyed by its first byte's physical page whose
 * last instruction runs onto a second linear page mapped anywhere (issue 24).
 */
#include "fuzz_paging.h"

static bool verbose;   /* FUZZ_VERBOSE=1: each input's exits on stderr (for seeds) */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    verbose = getenv("FUZZ_VERBOSE") != NULL;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    PgInput p;
    pg_parse(&p, data, size);
    PgVm vm;
    if (!pg_create(&vm, &p, data, size, PG_RAM))
        return 0;
    if ((p.flags & PG_JIT) && vm.cpu->jit_threshold)
        vm.cpu->jit_threshold = 1;
    pg_run(&vm, &p, verbose ? stderr : NULL);
    pg_destroy(&vm);
    return 0;
}
