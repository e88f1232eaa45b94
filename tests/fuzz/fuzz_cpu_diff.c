/*
 * Harness: differential test of the translation to host code (jit.c) against the
 * handlers alone. Each input (the format of fuzz_paging.h; bit 7 of byte 0 is ignored) runs
 * twice on fresh VMs: with every block translated from its first run (jit_threshold 1)
 * and with no translation at all (jit_threshold 0). The exits (reason, RIP, I/O and MMIO
 * details), the registers, RFLAGS, the segment registers, CR0/2/3/4, EFER, the descriptor
 * table registers, the instructions retired and guest RAM must be the same; abort() says
 * what differed.
 *
 * Why all of it can be compared exactly:
 * - Budgets: both paths stop at the same instruction. The run loop gives a block at most
 *   the budget left (n), a translation runs only when the whole block fits (cpu.c,
 *   run_block_fast: n >= b->n; else the handlers run n of it), and translated code goes on
 *   into a linked block only while instructions_retired is at most the budget less a
 *   block (jit_chain_limit), the bound the handler loop uses for its links. An exception
 *   counts one instruction on both paths. So instructions_retired (and the TSC, which
 *   counts instructions) agree at every exit, budget exits included.
 * - RFLAGS: translated arithmetic leaves the host's flags (LF_HOST) where the handlers keep
 *   lazy state; x86_cpu_get_rflags materialises either. The flags the SDM leaves undefined
 *   are the host's on one side and flags.c's choice on the other (AF 0 after logic ops,
 *   shifts and multiplies, as Intel hardware does); tests/unit/test_cpu_diff.c compares all
 *   of RFLAGS across the same two paths, so a difference there is a finding too.
 * - The TLB and the block cache are not architectural, but both runs make the same
 *   accesses in the same order (an inline fast path that misses calls the handler, which
 *   does the whole access), so even stale translations (a table edited without INVLPG)
 *   are the same on both sides.
 * - RAM: only pages that either run handed out writable or the harness wrote can differ;
 *   those are compared (fuzz_cpu_page_fn's dirty bits).
 */
#include <inttypes.h>

#include "fuzz_paging.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static void differ(const char *what, uint64_t jit, uint64_t interp)
{
    fprintf(stderr, "fuzz_cpu_diff: %s differs: translated 0x%" PRIx64 ", handlers 0x%" PRIx64
            "\n", what, jit, interp);
    abort();
}

static void compare_exits(const PgVm *j, const PgVm *h)
{
    for (int i = 0; i < j->nexits && i < h->nexits; i++) {
        const PgExit *a = &j->exits[i], *b = &h->exits[i];
        char what[48];
        snprintf(what, sizeof what, "exit %d: reason", i);
        if (a->reason != b->reason) differ(what, a->reason, b->reason);
        snprintf(what, sizeof what, "exit %d (%s): RIP", i, x86_exit_name(a->reason));
        if (a->rip != b->rip) differ(what, a->rip, b->rip);
        snprintf(what, sizeof what, "exit %d (%s): details", i, x86_exit_name(a->reason));
        if (a->a != b->a) differ(what, a->a, b->a);
        if (a->b != b->b) differ(what, a->b, b->b);
        if (a->c != b->c) differ(what, a->c, b->c);
    }
    if (j->nexits != h->nexits) differ("number of exits", (uint64_t)j->nexits, (uint64_t)h->nexits);
}

static void compare_state(X86Cpu *a, X86Cpu *b)
{
    static const char *const gpr[8] = { "EAX", "ECX", "EDX", "EBX", "ESP", "EBP", "ESI", "EDI" };
    static const char *const sreg[8] = { "ES", "CS", "SS", "DS", "FS", "GS", "LDTR", "TR" };
    for (int r = 0; r < 8; r++)
        if (a->gpr[r] != b->gpr[r]) differ(gpr[r], a->gpr[r], b->gpr[r]);
    if (a->rip != b->rip) differ("RIP", a->rip, b->rip);
    uint64_t fa = x86_cpu_get_rflags(a), fb = x86_cpu_get_rflags(b);
    if (fa != fb) differ("RFLAGS", fa, fb);
    for (int s = 0; s < 8; s++) {
        const X86Segment *x = &a->seg[s], *y = &b->seg[s];
        if (x->selector != y->selector) differ(sreg[s], x->selector, y->selector);
        if (x->base != y->base || x->limit != y->limit || x->attr != y->attr)
            differ(sreg[s], x->base ^ (uint64_t)x->limit << 32 ^ x->attr,
                   y->base ^ (uint64_t)y->limit << 32 ^ y->attr);
    }
    if (a->cr0 != b->cr0) differ("CR0", a->cr0, b->cr0);
    if (a->cr2 != b->cr2) differ("CR2", a->cr2, b->cr2);
    if (a->cr3 != b->cr3) differ("CR3", a->cr3, b->cr3);
    if (a->cr4 != b->cr4) differ("CR4", a->cr4, b->cr4);
    if (a->efer != b->efer) differ("EFER", a->efer, b->efer);
    if (a->gdtr.base != b->gdtr.base || a->gdtr.limit != b->gdtr.limit)
        differ("GDTR", a->gdtr.base, b->gdtr.base);
    if (a->idtr.base != b->idtr.base || a->idtr.limit != b->idtr.limit)
        differ("IDTR", a->idtr.base, b->idtr.base);
    if (a->instructions_retired != b->instructions_retired)
        differ("instructions retired", a->instructions_retired, b->instructions_retired);
}

static void compare_ram(const PgVm *j, const PgVm *h)
{
    for (uint64_t page = 0; page < j->f.ram_size; page += 4096) {
        unsigned bit = 1u << ((page >> 12) & 7);
        if (!((j->dirty[page >> 15] | h->dirty[page >> 15]) & bit))
            continue;
        const uint8_t *x = j->f.ram + page, *y = h->f.ram + page;
        if (memcmp(x, y, 4096) == 0)
            continue;
        for (unsigned i = 0; i < 4096; i++)
            if (x[i] != y[i]) {
                char what[48];
                snprintf(what, sizeof what, "RAM byte at 0x%" PRIx64, page + i);
                differ(what, x[i], y[i]);
            }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    PgInput p;
    pg_parse(&p, data, size);
    PgVm jit, interp;
    if (!pg_create(&jit, &p, data, size, PG_RAM_DIFF))
        return 0;
    if (!pg_create(&interp, &p, data, size, PG_RAM_DIFF)) {
        pg_destroy(&jit);
        return 0;
    }
    /* without an executable arena (not an x86-64 host) there is nothing to compare */
    if (jit.cpu->jit_threshold) {
        jit.cpu->jit_threshold = 1;
        interp.cpu->jit_threshold = 0;
        pg_run(&jit, &p, NULL);
        pg_run(&interp, &p, NULL);
        compare_exits(&jit, &interp);
        compare_state(jit.cpu, interp.cpu);
        compare_ram(&jit, &interp);
    }
    pg_destroy(&interp);
    pg_destroy(&jit);
    return 0;
}
