/* Unit tests for the sim kernel's extended page tables (src/sim/ept.c), against the SDM's
 * entry formats, EPTP, violation qualifications and misconfigurations (Vol. 3C, "VMX
 * Support for Address Translation"). The tables are walked here from C, independently of
 * the module, to check the raw entries. Host addresses are never dereferenced by the
 * module, so the tests use plain numbers for them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hypervisor_sim.h"

#define KiB 1024ull
#define MiB (1024ull * KiB)
#define GiB (1024ull * MiB)

#define R EPT_READ
#define W EPT_WRITE
#define X EPT_EXECUTE
#define RWX (R | W | X)

#define A_R EPT_ACCESS_READ
#define A_W EPT_ACCESS_WRITE
#define A_X EPT_ACCESS_EXEC

/* ---- an independent walker ---- */

static unsigned idx(uint64_t gpa, int level) { return (gpa >> (12 + 9 * (level - 1))) & 511; }

static EptTable *next_table(uint64_t e) { return (EptTable *)(uintptr_t)(e & EPT_ADDR_MASK); }

/* The raw entry for gpa at `level` (4 = PML4E .. 1 = PTE); the entries above must be
 * present non-leaf entries. */
static uint64_t *raw_entry(const EptContext *ept, uint64_t gpa, int level)
{
    EptTable *t = ept->pml4;
    for (int l = 4;; l--) {
        uint64_t *e = &t->entries[idx(gpa, l)];
        if (l == level)
            return e;
        assert_true(*e & RWX);
        assert_false(*e & EPT_LARGE_PAGE);
        t = next_table(*e);
    }
}

/* The level of the leaf translating gpa (3: 1 GiB, 2: 2 MiB, 1: 4 KiB), 0 when none. */
static int leaf_level(const EptContext *ept, uint64_t gpa)
{
    EptTable *t = ept->pml4;
    for (int l = 4; l >= 1; l--) {
        uint64_t e = t->entries[idx(gpa, l)];
        if (e == 0)
            return 0;
        if (l == 1 || (l < 4 && (e & EPT_LARGE_PAGE)))
            return l;
        t = next_table(e);
    }
    return 0;
}

/* Counts the non-zero entries of one table. */
static int used_entries(const EptTable *t)
{
    int n = 0;
    for (int i = 0; i < 512; i++)
        n += t->entries[i] != 0;
    return n;
}

/* A non-leaf entry as the module writes it: present (RWX), no reserved bits 7:3, the
 * address of a 4 KiB-aligned table. */
static void assert_nonleaf(uint64_t e)
{
    assert_int_equal(e & RWX, RWX);
    assert_int_equal(e & 0xF8, 0);
    assert_int_equal(e & EPT_ADDR_RESERVED_MASK, 0);
    assert_int_not_equal(e & EPT_ADDR_MASK, 0);
}

static void expect_ok(EptContext *ept, uint64_t gpa, uint32_t access, uint64_t want_hpa)
{
    uint64_t hpa = ~0ull, q = ~0ull;
    assert_int_equal(ept_translate(ept, gpa, access, &hpa, &q), EPT_OK);
    assert_int_equal(hpa, want_hpa);
    assert_int_equal(q, 0);
}

static void expect_violation(EptContext *ept, uint64_t gpa, uint32_t access, uint64_t want_q)
{
    uint64_t hpa = 0, q = ~0ull;
    assert_int_equal(ept_translate(ept, gpa, access, &hpa, &q), EPT_VIOLATION);
    assert_int_equal(q, want_q);
}

static void expect_misconfig(EptContext *ept, uint64_t gpa, uint32_t access)
{
    uint64_t q = ~0ull;
    assert_int_equal(ept_translate(ept, gpa, access, NULL, &q), EPT_MISCONFIG);
    assert_int_equal(q, 0);
}

/* ---- tables and walks ---- */

static void test_create_and_pointer(void **state)
{
    (void)state;
    EptContext *ept = ept_create(64 * MiB);
    assert_non_null(ept);
    assert_non_null(ept->pml4);
    assert_int_equal((uintptr_t)ept->pml4 & 0xFFF, 0);
    assert_int_equal(used_entries(ept->pml4), 0);
    assert_int_equal(ept_table_count(ept), 1);
    assert_int_equal(ept->guest_phys_size, 64 * MiB);

    /* EPTP (SDM Vol. 3C, "Extended-Page-Table Pointer"): WB in 2:0, walk length - 1 in 5:3,
     * A/D enable in 6, reserved 11:7 clear, PML4 address from 12. */
    uint64_t eptp = ept_pointer(ept);
    assert_int_equal(eptp & 7, 6);
    assert_int_equal((eptp >> 3) & 7, 3);
    assert_int_equal(eptp & (1ull << 6), 0);
    assert_int_equal(eptp & 0xF80, 0);
    assert_int_equal(eptp & ~0xFFFull, (uint64_t)(uintptr_t)ept->pml4);
    ept_enable_accessed_dirty(ept, true);
    assert_int_equal(ept_pointer(ept), eptp | (1ull << 6));
    ept_enable_accessed_dirty(ept, false);
    assert_int_equal(ept_pointer(ept), eptp);
    assert_int_equal(ept_pointer(NULL), 0);
    ept_destroy(ept);
    ept_destroy(NULL);
}

static void test_capabilities(void **state)
{
    (void)state;
    EptContext *ept = ept_create(0);
    uint64_t caps = ept_vpid_capabilities(ept);
    /* SDM Vol. 3D A.10: bits 0, 6, 8, 14, 16, 17, 21. */
    assert_int_equal(caps, (1ull << 0) | (1ull << 6) | (1ull << 8) | (1ull << 14) |
                               (1ull << 16) | (1ull << 17) | (1ull << 21));
    ept_set_execute_only(ept, false);
    assert_int_equal(ept_vpid_capabilities(ept) & 1, 0);
    ept_destroy(ept);
}

static void test_walk_4k(void **state)
{
    (void)state;
    EptContext *ept = ept_create(0);
    uint64_t gpa = 0x0000123456789000ull & (EPT_GPA_LIMIT - 1);
    uint64_t hpa = 0xABCDE000;
    assert_int_equal(ept_map_page(ept, gpa, hpa, R | X), 0);
    assert_int_equal(ept_table_count(ept), 4);

    for (int l = 4; l >= 2; l--) {
        uint64_t e = *raw_entry(ept, gpa, l);
        assert_nonleaf(e);
        assert_int_equal((uintptr_t)next_table(e) & 0xFFF, 0);
    }
    /* PML4E, PDPTE, PDE each hold one entry. */
    assert_int_equal(used_entries(ept->pml4), 1);
    uint64_t pte = *raw_entry(ept, gpa, 1);
    assert_int_equal(pte, hpa | R | X | EPT_MEMORY_TYPE_WB);
    assert_int_equal((pte >> 3) & 7, 6);   /* WB */
    assert_int_equal(pte & EPT_IGNORE_PAT, 0);
    assert_int_equal(leaf_level(ept, gpa), 1);

    expect_ok(ept, gpa, A_R, hpa);
    expect_ok(ept, gpa + 0xFFF, A_R | A_X, hpa + 0xFFF);
    expect_ok(ept, gpa + 0x123, A_X, hpa + 0x123);
    /* The neighbours are not mapped: a violation with nothing readable. */
    expect_violation(ept, gpa + 0x1000, A_R, EPTQ_READ);
    expect_violation(ept, gpa - 1, A_W, EPTQ_WRITE);
    ept_destroy(ept);
}

static void test_walk_2m(void **state)
{
    (void)state;
    EptContext *ept = ept_create(0);
    uint64_t gpa = 5 * GiB + 6 * MiB, hpa = 0x7FE00000;
    assert_int_equal(ept_map_range(ept, gpa, hpa, 2 * MiB, RWX), 0);
    assert_int_equal(ept_table_count(ept), 3);   /* PML4, PDPT, PD: no PT */
    uint64_t *pd_slot = raw_entry(ept, gpa, 2);
    assert_int_equal(*pd_slot, hpa | RWX | EPT_MEMORY_TYPE_WB | EPT_LARGE_PAGE);
    assert_int_equal(*pd_slot & 0x1FF000, 0);   /* 20:12 reserved */
    /* One entry covers the whole range. */
    EptTable *pd = next_table(*raw_entry(ept, gpa, 3));
    assert_int_equal(used_entries(pd), 1);
    assert_int_equal(leaf_level(ept, gpa + 2 * MiB - 1), 2);

    expect_ok(ept, gpa, A_R | A_W | A_X, hpa);
    expect_ok(ept, gpa + 0x12345, A_W, hpa + 0x12345);
    expect_ok(ept, gpa + 2 * MiB - 1, A_R, hpa + 2 * MiB - 1);
    expect_violation(ept, gpa + 2 * MiB, A_R, EPTQ_READ);
    ept_destroy(ept);
}

static void test_walk_1g(void **state)
{
    (void)state;
    EptContext *ept = ept_create(0);
    uint64_t gpa = 3 * GiB, hpa = 7 * GiB;
    assert_int_equal(ept_map_range(ept, gpa, hpa, GiB, R | W), 0);
    assert_int_equal(ept_table_count(ept), 2);   /* PML4 and PDPT */
    uint64_t *pdpte = raw_entry(ept, gpa, 3);
    assert_int_equal(*pdpte, hpa | R | W | EPT_MEMORY_TYPE_WB | EPT_LARGE_PAGE);
    assert_int_equal(*pdpte & 0x3FFFF000, 0);   /* 29:12 reserved */
    assert_int_equal(used_entries(next_table(*raw_entry(ept, gpa, 4))), 1);

    expect_ok(ept, gpa + GiB - 8, A_R | A_W, hpa + GiB - 8);
    expect_ok(ept, gpa + 0x2345678, A_R, hpa + 0x2345678);
    expect_violation(ept, gpa, A_X, EPTQ_FETCH | EPTQ_READABLE | EPTQ_WRITABLE);
    ept_destroy(ept);
}

/* 1 GiB and 2 MiB pages wherever both addresses and the size allow, 4 KiB elsewhere. */
static void test_map_range_page_sizes(void **state)
{
    (void)state;
    EptContext *ept = ept_create(0);
    uint64_t start = 2 * MiB - 4 * KiB, end = 2 * GiB + 2 * MiB + 4 * KiB;
    assert_int_equal(ept_map_range(ept, start, start, end - start, RWX), 0);
    assert_int_equal(leaf_level(ept, start), 1);
    for (uint64_t a = 2 * MiB; a < GiB; a += 2 * MiB)
        assert_int_equal(leaf_level(ept, a), 2);
    assert_int_equal(leaf_level(ept, GiB), 3);
    assert_int_equal(leaf_level(ept, 2 * GiB), 2);
    assert_int_equal(leaf_level(ept, 2 * GiB + 2 * MiB), 1);
    assert_int_equal(leaf_level(ept, end), 0);
    /* PML4, PDPT, PD [0,1G), PT [0,2M), PD [2G,3G), PT [2G+2M, ...) */
    assert_int_equal(ept_table_count(ept), 6);
    for (uint64_t a = start; a < end; a += 0x1234567)
        expect_ok(ept, a, A_R, a);
    ept_destroy(ept);

    /* The host address is only 4 KiB aligned: 4 KiB pages throughout. */
    ept = ept_create(0);
    assert_int_equal(ept_map_range(ept, 2 * MiB, 0x1000, 4 * MiB, R), 0);
    assert_int_equal(leaf_level(ept, 2 * MiB), 1);
    assert_int_equal(leaf_level(ept, 4 * MiB), 1);
    assert_int_equal(ept_table_count(ept), 1 + 1 + 1 + 2);
    expect_ok(ept, 5 * MiB + 7, A_R, 0x1000 + 3 * MiB + 7);
    ept_destroy(ept);
}

/* ---- permissions against accesses (SDM Vol. 3C 28.2.1, qualification bits 5:0) ---- */

static void test_permission_access_table(void **state)
{
    (void)state;
    /* For each permission set: whether it is a misconfiguration (SDM "EPT
     * Misconfigurations": 010b and 110b always; 100b only without execute-only support),
     * and for each access mask 1..7 whether it is allowed. */
    static const struct {
        uint32_t perms;
        bool misconfig;            /* with the execute-only capability */
        bool misconfig_no_xo;      /* without it */
        uint8_t allowed;           /* bit a set: access mask a is allowed */
    } rows[8] = {
        {0,         false, false, 0},
        {R,         false, false, 1u << A_R},
        {W,         true,  true,  0},
        {R | W,     false, false, (1u << A_R) | (1u << A_W) | (1u << (A_R | A_W))},
        {X,         false, true,  1u << A_X},
        {R | X,     false, false, (1u << A_R) | (1u << A_X) | (1u << (A_R | A_X))},
        {W | X,     true,  true,  0},
        {R | W | X, false, false, 0xFE},
    };
    for (int xo = 1; xo >= 0; xo--) {
        for (int i = 0; i < 8; i++) {
            EptContext *ept = ept_create(0);
            ept_set_execute_only(ept, xo);
            uint64_t gpa = 0x40000000 + 0x3000, hpa = 0x9000;
            assert_int_equal(ept_map_page(ept, gpa, hpa, rows[i].perms), 0);
            /* Stored as given. */
            assert_int_equal(*raw_entry(ept, gpa, 1) & RWX, rows[i].perms);
            for (uint32_t access = 1; access <= 7; access++) {
                uint64_t hpa_out = 0, q = ~0ull;
                int rc = ept_translate(ept, gpa + 0x10, access, &hpa_out, &q);
                bool mc = xo ? rows[i].misconfig : rows[i].misconfig_no_xo;
                if (mc) {
                    assert_int_equal(rc, EPT_MISCONFIG);
                    assert_int_equal(q, 0);
                } else if (rows[i].allowed & (1u << access)) {
                    assert_int_equal(rc, EPT_OK);
                    assert_int_equal(hpa_out, hpa + 0x10);
                } else {
                    assert_int_equal(rc, EPT_VIOLATION);
                    /* 2:0 the access, 5:3 the permissions, 7 and 8 clear. */
                    assert_int_equal(q, (uint64_t)access | ((uint64_t)rows[i].perms << 3));
                }
            }
            ept_destroy(ept);
        }
    }
}

/* Bits 5:3 are the AND over every level; a not-present entry gives 0. */
static void test_qualification_and_over_levels(void **state)
{
    (void)state;
    EptContext *ept = ept_create(0);
    uint64_t gpa = 0x12345000;
    assert_int_equal(ept_map_page(ept, gpa, 0x5000, RWX), 0);
    uint64_t *pde = raw_entry(ept, gpa, 2), saved = *pde;
    *pde = (saved & ~(uint64_t)RWX) | R | X;   /* the PDE takes W away */
    expect_violation(ept, gpa, A_W, EPTQ_WRITE | EPTQ_READABLE | EPTQ_EXECUTABLE);
    expect_ok(ept, gpa, A_R | A_X, 0x5000);
    uint64_t *pml4e = raw_entry(ept, gpa, 4), saved4 = *pml4e;
    *pml4e = (saved4 & ~(uint64_t)RWX) | R;
    expect_violation(ept, gpa, A_R | A_X, EPTQ_READ | EPTQ_FETCH | EPTQ_READABLE);
    *pml4e = saved4;
    *pde = saved;

    /* Not present at each level. */
    expect_violation(ept, 1ull << 40, A_R | A_W | A_X, EPTQ_ACCESS_MASK);          /* PML4E */
    expect_violation(ept, gpa + GiB, A_R, EPTQ_READ);                              /* PDPTE */
    expect_violation(ept, gpa + 2 * MiB, A_X, EPTQ_FETCH);                         /* PDE */
    expect_violation(ept, gpa + 4 * KiB, A_W, EPTQ_WRITE);                         /* PTE */
    ept_destroy(ept);
}

/* ---- misconfigurations (SDM Vol. 3C, "EPT Misconfigurations") ---- */

/* Sets *slot to v, checks the translation of gpa for `access` gives want, restores. */
static void poke(EptContext *ept, uint64_t *slot, uint64_t v, uint64_t gpa, uint32_t access,
                 int want)
{
    uint64_t saved = *slot;
    *slot = v;
    uint64_t q = ~0ull;
    int rc = ept_translate(ept, gpa, access, NULL, &q);
    *slot = saved;
    assert_int_equal(rc, want);
    if (want == EPT_MISCONFIG)
        assert_int_equal(q, 0);
}

static void test_misconfigurations(void **state)
{
    (void)state;
    EptContext *ept = ept_create(0);
    uint64_t g4 = 0x10000000, g2 = 0x40000000, g1 = 0x80000000;
    assert_int_equal(ept_map_page(ept, g4, 0x1000, RWX), 0);
    assert_int_equal(ept_map_range(ept, g2, 0x40000000, 2 * MiB, RWX), 0);
    assert_int_equal(ept_map_range(ept, 4 * GiB, 4 * GiB, GiB, RWX), 0);
    g1 = 4 * GiB;
    uint64_t *pml4e = raw_entry(ept, g4, 4), *pdpte = raw_entry(ept, g4, 3);
    uint64_t *pde = raw_entry(ept, g4, 2), *pte = raw_entry(ept, g4, 1);
    uint64_t *leaf2m = raw_entry(ept, g2, 2), *leaf1g = raw_entry(ept, g1, 3);
    expect_ok(ept, g4, A_R, 0x1000);
    expect_ok(ept, g2, A_R, 0x40000000);
    expect_ok(ept, g1, A_R, 4 * GiB);

    /* Bits 2:0 = 010b (write-only) and 110b (write/execute), at every level. */
    uint64_t *all[] = {pml4e, pdpte, pde, pte};
    for (int i = 0; i < 4; i++) {
        uint64_t base = *all[i] & ~(uint64_t)RWX;
        poke(ept, all[i], base | W, g4, A_R, EPT_MISCONFIG);
        poke(ept, all[i], base | W | X, g4, A_X, EPT_MISCONFIG);
        /* Execute-only is allowed with the capability... */
        poke(ept, all[i], base | X, g4, A_X, EPT_OK);
        ept_set_execute_only(ept, false);
        /* ...and a misconfiguration without it. */
        poke(ept, all[i], base | X, g4, A_X, EPT_MISCONFIG);
        ept_set_execute_only(ept, true);
        /* Reserved address bits 51:48 (MAXPHYADDR 48). */
        poke(ept, all[i], *all[i] | (1ull << 48), g4, A_R, EPT_MISCONFIG);
        poke(ept, all[i], *all[i] | (1ull << 51), g4, A_R, EPT_MISCONFIG);
        /* Ignored bits are not reserved: 11, 52-62 (bit 63 only with #VE). */
        poke(ept, all[i], *all[i] | (1ull << 11) | (0x7FFull << 52), g4, A_R, EPT_OK);
    }
    /* PML4E: bits 7:3 reserved (bit 7: no large page at that level). */
    for (int b = 3; b <= 7; b++)
        poke(ept, pml4e, *pml4e | (1ull << b), g4, A_R, EPT_MISCONFIG);
    /* Non-leaf PDPTE and PDE: bits 6:3 reserved (memory type, ignore-PAT). */
    for (int b = 3; b <= 6; b++) {
        poke(ept, pdpte, *pdpte | (1ull << b), g4, A_R, EPT_MISCONFIG);
        poke(ept, pde, *pde | (1ull << b), g4, A_R, EPT_MISCONFIG);
    }
    /* Leaf memory types: 2, 3 and 7 are reserved; 0, 1, 4, 5, 6 are fine. In every leaf. */
    uint64_t *leaves[] = {pte, leaf2m, leaf1g};
    uint64_t leaf_gpa[] = {g4, g2, g1};
    for (int i = 0; i < 3; i++) {
        for (uint64_t mt = 0; mt < 8; mt++) {
            uint64_t v = (*leaves[i] & ~(uint64_t)EPT_MEMORY_TYPE_MASK) | (mt << 3);
            bool bad = mt == 2 || mt == 3 || mt == 7;
            poke(ept, leaves[i], v, leaf_gpa[i], A_R, bad ? EPT_MISCONFIG : EPT_OK);
        }
        poke(ept, leaves[i], *leaves[i] | EPT_IGNORE_PAT, leaf_gpa[i], A_R, EPT_OK);
    }
    /* PTE bit 7 is ignored. */
    poke(ept, pte, *pte | EPT_LARGE_PAGE, g4, A_R, EPT_OK);
    /* Large-page reserved address bits: 2 MiB 20:12, 1 GiB 29:12. */
    poke(ept, leaf2m, *leaf2m | (1ull << 12), g2, A_R, EPT_MISCONFIG);
    poke(ept, leaf2m, *leaf2m | (1ull << 20), g2, A_R, EPT_MISCONFIG);
    poke(ept, leaf1g, *leaf1g | (1ull << 12), g1, A_R, EPT_MISCONFIG);
    poke(ept, leaf1g, *leaf1g | (1ull << 29), g1, A_R, EPT_MISCONFIG);
    /* Not-present entries are never misconfigured: bits 63:3 are ignored then. */
    poke(ept, pte, (7ull << 3) | (1ull << 51) | (1ull << 7), g4, A_R, EPT_VIOLATION);
    poke(ept, pdpte, (7ull << 3) | (1ull << 50), g4, A_R, EPT_VIOLATION);
    /* A misconfiguration in a later entry wins over permissions taken earlier (a
     * misconfiguration is found during the walk, a violation after it). */
    uint64_t saved = *pde;
    *pde = (saved & ~(uint64_t)RWX) | R;
    poke(ept, pte, (*pte & ~(uint64_t)RWX) | W, g4, A_W, EPT_MISCONFIG);
    *pde = saved;
    expect_ok(ept, g4, A_R, 0x1000);
    ept_destroy(ept);
}

/* ---- unmap, splitting, freeing ---- */

static void test_unmap_inside_2m(void **state)
{
    (void)state;
    EptContext *ept = ept_create(0);
    uint64_t gpa = 6 * MiB, hpa = 100 * MiB;
    assert_int_equal(ept_map_range(ept, gpa, hpa, 2 * MiB, R | X), 0);
    assert_int_equal(ept_table_count(ept), 3);
    assert_int_equal(ept_unmap(ept, gpa + 0x5000, 4 * KiB), 0);
    assert_int_equal(ept_table_count(ept), 4);   /* the 2 MiB page became a PT */
    assert_nonleaf(*raw_entry(ept, gpa, 2));
    EptTable *pt = next_table(*raw_entry(ept, gpa, 2));
    assert_int_equal(used_entries(pt), 511);
    assert_int_equal(pt->entries[4], (hpa + 0x4000) | R | X | EPT_MEMORY_TYPE_WB);
    expect_violation(ept, gpa + 0x5000, A_R, EPTQ_READ);
    expect_ok(ept, gpa + 0x4FFF, A_R, hpa + 0x4FFF);
    expect_ok(ept, gpa + 0x6000, A_X, hpa + 0x6000);
    expect_ok(ept, gpa, A_R, hpa);
    expect_ok(ept, gpa + 2 * MiB - 1, A_R, hpa + 2 * MiB - 1);
    /* Unmapping the rest frees the PT, PD and PDPT. */
    assert_int_equal(ept_unmap(ept, gpa, 2 * MiB), 0);
    assert_int_equal(ept_table_count(ept), 1);
    assert_int_equal(used_entries(ept->pml4), 0);
    ept_destroy(ept);
}

static void test_unmap_inside_1g(void **state)
{
    (void)state;
    EptContext *ept = ept_create(0);
    uint64_t gpa = GiB, hpa = 8 * GiB, hole = gpa + 3 * MiB + 0x7000;
    assert_int_equal(ept_map_range(ept, gpa, hpa, GiB, RWX), 0);
    assert_int_equal(ept_table_count(ept), 2);
    assert_int_equal(ept_unmap(ept, hole, 4 * KiB), 0);
    assert_int_equal(ept_table_count(ept), 4);   /* 1 GiB → PD of 2 MiB → PT of 4 KiB */
    assert_int_equal(leaf_level(ept, hole), 0);
    assert_int_equal(leaf_level(ept, hole + 0x1000), 1);
    assert_int_equal(leaf_level(ept, gpa), 2);
    assert_int_equal(leaf_level(ept, gpa + GiB - 1), 2);
    /* The 2 MiB siblings are proper large leaves with their own addresses. */
    assert_int_equal(*raw_entry(ept, gpa + 8 * MiB, 2),
                     (hpa + 8 * MiB) | RWX | EPT_MEMORY_TYPE_WB | EPT_LARGE_PAGE);
    expect_violation(ept, hole, A_W, EPTQ_WRITE);
    expect_ok(ept, hole - 1, A_W, hpa + (hole - 1 - gpa));
    expect_ok(ept, hole + 0x1000, A_R, hpa + (hole + 0x1000 - gpa));
    expect_ok(ept, gpa + 0x100000, A_R, hpa + 0x100000);
    expect_ok(ept, gpa + GiB - 1, A_X, hpa + GiB - 1);
    assert_int_equal(ept_unmap(ept, gpa, GiB), 0);
    assert_int_equal(ept_table_count(ept), 1);
    ept_destroy(ept);
}

static void test_unmap_frees_empty_tables(void **state)
{
    (void)state;
    EptContext *ept = ept_create(0);
    uint64_t gpas[] = {0, 0x1000, 5 * GiB, 1ull << 40, (1ull << 47) + 0x3000};
    for (size_t i = 0; i < sizeof(gpas) / sizeof(gpas[0]); i++)
        assert_int_equal(ept_map_page(ept, gpas[i], 0x2000 * (i + 1), R), 0);
    /* PML4; PDPT, PD, PT for 0 and 0x1000; PD, PT for 5 GiB (same PML4E); three each for
     * 2^40 and 2^47. */
    assert_int_equal(ept_table_count(ept), 1 + 3 + 2 + 3 + 3);
    size_t before = ept_table_count(ept);
    assert_int_equal(ept_unmap(ept, 0, 4 * KiB), 0);
    assert_int_equal(ept_table_count(ept), before);   /* 0x1000 keeps the PT */
    expect_ok(ept, 0x1000, A_R, 0x4000);
    assert_int_equal(ept_unmap(ept, 0x1000, 4 * KiB), 0);
    assert_int_equal(ept_table_count(ept), before - 2);   /* the PDPT still holds 5 GiB */
    /* A range with holes, spanning several PML4 entries. */
    assert_int_equal(ept_unmap(ept, GiB, (1ull << 48) - GiB), 0);
    assert_int_equal(ept_table_count(ept), 1);
    assert_int_equal(used_entries(ept->pml4), 0);
    /* Unmapping nothing is fine. */
    assert_int_equal(ept_unmap(ept, 0, 2 * MiB), 0);
    ept_destroy(ept);
}

/* ---- replace on map ---- */

static void test_map_replaces(void **state)
{
    (void)state;
    EptContext *ept = ept_create(0);
    uint64_t gpa = 10 * MiB;
    assert_int_equal(ept_map_page(ept, gpa, 0x1000, R), 0);
    assert_int_equal(ept_map_page(ept, gpa, 0x2000, R | W), 0);
    assert_int_equal(ept_table_count(ept), 4);
    expect_ok(ept, gpa, A_W, 0x2000);

    /* A 2 MiB mapping over 4 KiB ones frees their PT. */
    assert_int_equal(ept_map_page(ept, gpa + 0x5000, 0x9000, X), 0);
    assert_int_equal(ept_map_range(ept, gpa, 64 * MiB, 2 * MiB, R), 0);
    assert_int_equal(ept_table_count(ept), 3);
    assert_int_equal(leaf_level(ept, gpa), 2);
    expect_ok(ept, gpa + 0x5000, A_R, 64 * MiB + 0x5000);

    /* A 4 KiB mapping inside the 2 MiB page splits it; the neighbours keep theirs. */
    assert_int_equal(ept_map_page(ept, gpa + 0x3000, 0x7000, RWX), 0);
    assert_int_equal(ept_table_count(ept), 4);
    expect_ok(ept, gpa + 0x3000, A_X, 0x7000);
    expect_ok(ept, gpa + 0x2000, A_R, 64 * MiB + 0x2000);
    expect_violation(ept, gpa + 0x4000, A_W, EPTQ_WRITE | EPTQ_READABLE);

    /* And inside a 1 GiB page: two levels of splitting. */
    assert_int_equal(ept_map_range(ept, 2 * GiB, 2 * GiB, GiB, R), 0);
    size_t before = ept_table_count(ept);
    assert_int_equal(ept_map_page(ept, 2 * GiB + 0x1000, 0x8000, R | W), 0);
    assert_int_equal(ept_table_count(ept), before + 2);
    expect_ok(ept, 2 * GiB + 0x1000, A_W, 0x8000);
    expect_ok(ept, 2 * GiB, A_R, 2 * GiB);
    expect_ok(ept, 3 * GiB - 1, A_R, 3 * GiB - 1);
    /* A 1 GiB mapping over the split one frees both levels below it. */
    assert_int_equal(ept_map_range(ept, 2 * GiB, 5 * GiB, GiB, R), 0);
    assert_int_equal(ept_table_count(ept), before);
    expect_ok(ept, 2 * GiB + 0x1000, A_R, 5 * GiB + 0x1000);
    ept_destroy(ept);
}

/* ---- accessed and dirty flags (SDM Vol. 3C, "Accessed and Dirty Flags for EPT") ---- */

static void test_accessed_dirty(void **state)
{
    (void)state;
    EptContext *ept = ept_create(0);
    uint64_t gpa = 0x300000, big = 0x40000000;
    assert_int_equal(ept_map_page(ept, gpa, 0x1000, R | W), 0);
    assert_int_equal(ept_map_range(ept, big, 0x80000000, 2 * MiB, R | W), 0);
    /* Disabled: nothing is set. */
    expect_ok(ept, gpa, A_W, 0x1000);
    for (int l = 4; l >= 1; l--)
        assert_int_equal(*raw_entry(ept, gpa, l) & (EPT_ACCESSED | EPT_DIRTY), 0);

    ept_enable_accessed_dirty(ept, true);
    expect_ok(ept, gpa, A_R, 0x1000);
    for (int l = 4; l >= 1; l--)
        assert_int_equal(*raw_entry(ept, gpa, l) & (EPT_ACCESSED | EPT_DIRTY), EPT_ACCESSED);
    expect_ok(ept, gpa, A_W, 0x1000);
    assert_true(*raw_entry(ept, gpa, 1) & EPT_DIRTY);
    for (int l = 4; l >= 2; l--)
        assert_int_equal(*raw_entry(ept, gpa, l) & EPT_DIRTY, 0);
    /* A large page: D in the PDE that maps it. */
    expect_ok(ept, big + 8, A_R, 0x80000008);
    assert_int_equal(*raw_entry(ept, big, 2) & (EPT_ACCESSED | EPT_DIRTY), EPT_ACCESSED);
    expect_ok(ept, big + 8, A_W, 0x80000008);
    assert_true(*raw_entry(ept, big, 2) & EPT_DIRTY);
    /* A violation is not an access: no flag is set on the way (the model's choice). */
    assert_int_equal(ept_map_page(ept, 0x50000000, 0x2000, R), 0);
    expect_violation(ept, 0x50000000, A_W, EPTQ_WRITE | EPTQ_READABLE);
    assert_int_equal(*raw_entry(ept, 0x50000000, 2) & EPT_ACCESSED, 0);
    assert_int_equal(*raw_entry(ept, 0x50000000, 1) & (EPT_ACCESSED | EPT_DIRTY), 0);
    /* The flags do not change the translation. */
    expect_ok(ept, gpa + 4, A_R | A_W, 0x1004);
    ept_destroy(ept);
}

/* ---- dirty logging and violations ---- */

static void test_dirty_logging(void **state)
{
    (void)state;
    EptContext *ept = ept_create(0);
    uint64_t base = 4 * MiB, hpa = 32 * MiB;
    assert_int_equal(ept_map_range(ept, base, hpa, 2 * MiB, RWX), 0);
    assert_int_equal(ept_map_page(ept, base + 2 * MiB, 0x1000, R | X), 0);   /* a ROM page */
    size_t tables = ept_table_count(ept);
    assert_int_equal(ept_log_dirty_start(ept, base, 2 * MiB + 8 * KiB), 0);
    assert_int_equal(ept_table_count(ept), tables + 1);   /* the 2 MiB page was split */
    assert_int_equal(leaf_level(ept, base), 1);
    for (uint64_t a = base; a < base + 2 * MiB; a += 4 * KiB)
        assert_int_equal(*raw_entry(ept, a, 1) & RWX, R | X);

    /* Reads still go through; a write is a violation the kernel resolves. */
    uint64_t page = base + 0x7000;
    expect_ok(ept, page, A_R, hpa + 0x7000);
    expect_violation(ept, page + 8, A_W, EPTQ_WRITE | EPTQ_READABLE | EPTQ_EXECUTABLE);
    uint64_t q = EPTQ_WRITE | EPTQ_READABLE | EPTQ_EXECUTABLE | EPTQ_LINEAR_VALID |
                 EPTQ_TRANSLATION;
    assert_int_equal(ept_handle_violation(ept, page + 8, q), 0);
    expect_ok(ept, page + 8, A_W, hpa + 0x7008);
    assert_int_equal(*raw_entry(ept, page, 1) & RWX, RWX);
    /* A second violation for the same page (a stale TLB) is resolved too. */
    assert_int_equal(ept_handle_violation(ept, page, q), 0);

    /* One bit per page of the range asked for, returned and cleared. */
    uint64_t bitmap[9];
    memset(bitmap, 0xAA, sizeof(bitmap));
    assert_int_equal(ept_get_dirty_log(ept, base, 2 * MiB + 8 * KiB, bitmap), 0);
    assert_int_equal(bitmap[0], 1ull << 7);
    for (int i = 1; i < 9; i++)
        assert_int_equal(bitmap[i], 0);
    assert_int_equal(ept_get_dirty_log(ept, base, 2 * MiB + 8 * KiB, bitmap), 0);
    assert_int_equal(bitmap[0], 0);
    /* The page reported is write-protected again. */
    expect_violation(ept, page, A_W, EPTQ_WRITE | EPTQ_READABLE | EPTQ_EXECUTABLE);
    assert_int_equal(ept_handle_violation(ept, page, EPTQ_WRITE), 0);
    /* A sub-range: bits count from its start. */
    assert_int_equal(ept_handle_violation(ept, base + 0x41000, EPTQ_WRITE | EPTQ_READ), 0);
    assert_int_equal(ept_get_dirty_log(ept, base + 0x40000, 64 * KiB, bitmap), 0);
    assert_int_equal(bitmap[0], 1ull << 1);
    assert_int_equal(ept_get_dirty_log(ept, base, 2 * MiB, bitmap), 0);
    assert_int_equal(bitmap[0], 1ull << 7);

    /* Writes to the read-only page and to unmapped memory belong to the VMM. */
    assert_int_equal(ept_handle_violation(ept, base + 2 * MiB, EPTQ_WRITE), -EFAULT);
    assert_int_equal(ept_handle_violation(ept, base + 2 * MiB + 4 * KiB, EPTQ_WRITE), -EFAULT);
    assert_int_equal(ept_handle_violation(ept, 0xFEE00000, EPTQ_READ), -EFAULT);
    /* A fetch from a logged page that is not executable stays a violation. */
    assert_int_equal(ept_map_page(ept, base + 0x9000, 0x9000, R | W), 0);
    assert_int_equal(*raw_entry(ept, base + 0x9000, 1) & RWX, R);   /* W withheld */
    assert_int_equal(ept_handle_violation(ept, base + 0x9000, EPTQ_WRITE | EPTQ_FETCH),
                     -EFAULT);
    assert_int_equal(ept_handle_violation(ept, base + 0x9000, EPTQ_WRITE), 0);
    assert_int_equal(*raw_entry(ept, base + 0x9000, 1) & RWX, R | W);

    /* Mapping ranges inside a logged range uses 4 KiB pages. */
    assert_int_equal(ept_map_range(ept, base, hpa, 2 * MiB, RWX), 0);
    assert_int_equal(leaf_level(ept, base), 1);
    expect_violation(ept, base, A_W, EPTQ_WRITE | EPTQ_READABLE | EPTQ_EXECUTABLE);

    /* Overlaps, unknown ranges. */
    assert_int_equal(ept_log_dirty_start(ept, base + 2 * MiB, 4 * KiB), -EEXIST);
    assert_int_equal(ept_log_dirty_stop(ept, base, 2 * MiB), -ENOENT);
    assert_int_equal(ept_get_dirty_log(ept, base, 4 * MiB, bitmap), -ENOENT);

    /* Stopping gives W back to the pages that had it. */
    assert_int_equal(ept_log_dirty_stop(ept, base, 2 * MiB + 8 * KiB), 0);
    expect_ok(ept, base + 0x1000, A_W, hpa + 0x1000);
    expect_violation(ept, base + 2 * MiB, A_W, EPTQ_WRITE | EPTQ_READABLE | EPTQ_EXECUTABLE);
    assert_int_equal(ept_get_dirty_log(ept, base, 4 * KiB, bitmap), -ENOENT);
    /* Without logging a write to a read-only page is the VMM's. */
    assert_int_equal(ept_handle_violation(ept, base + 2 * MiB, EPTQ_WRITE), -EFAULT);
    ept_destroy(ept);
}

/* Two logged ranges; a range asked for that spans both. */
static void test_dirty_log_two_ranges(void **state)
{
    (void)state;
    EptContext *ept = ept_create(0);
    assert_int_equal(ept_map_range(ept, 0, 0x100000, 256 * KiB, RWX), 0);
    assert_int_equal(ept_log_dirty_start(ept, 0, 128 * KiB), 0);
    assert_int_equal(ept_log_dirty_start(ept, 128 * KiB, 128 * KiB), 0);
    assert_int_equal(ept_handle_violation(ept, 0x1F000, EPTQ_WRITE), 0);
    assert_int_equal(ept_handle_violation(ept, 0x20000, EPTQ_WRITE), 0);
    assert_int_equal(ept_handle_violation(ept, 0x3F000, EPTQ_WRITE), 0);
    uint64_t bitmap[1];
    assert_int_equal(ept_get_dirty_log(ept, 0, 256 * KiB, bitmap), 0);
    assert_int_equal(bitmap[0], (1ull << 31) | (1ull << 32) | (1ull << 63));
    ept_destroy(ept);   /* frees the logs too */
}

/* A misconfigured entry is the VMM's, not the kernel's. */
static void test_violation_on_misconfig(void **state)
{
    (void)state;
    EptContext *ept = ept_create(0);
    assert_int_equal(ept_map_page(ept, 0x1000, 0x1000, W), 0);
    expect_misconfig(ept, 0x1000, A_R);
    assert_int_equal(ept_handle_violation(ept, 0x1000, EPTQ_WRITE), -EFAULT);
    assert_int_equal(ept_handle_violation(ept, 0x1000, 0), -EINVAL);
    assert_int_equal(ept_handle_violation(NULL, 0x1000, EPTQ_WRITE), -EINVAL);
    assert_int_equal(ept_handle_violation(ept, 1ull << 48, EPTQ_WRITE), -EINVAL);
    ept_destroy(ept);
}

/* ---- generation counter ---- */

static void test_generation(void **state)
{
    (void)state;
    EptContext *ept = ept_create(0);
    uint64_t g = ept_generation(ept), bitmap[16];   /* 4 MiB: 1024 pages */
#define BUMPS(expr)                                       \
    do {                                                  \
        assert_int_equal((expr), 0);                      \
        assert_true(ept_generation(ept) > g);             \
        g = ept_generation(ept);                          \
    } while (0)
#define SAME(expr)                                        \
    do {                                                  \
        (void)(expr);                                     \
        assert_int_equal(ept_generation(ept), g);         \
    } while (0)
    BUMPS(ept_map_page(ept, 0x1000, 0x1000, R));
    BUMPS(ept_map_page(ept, 0x1000, 0x1000, R | W));           /* permission change */
    BUMPS(ept_map_range(ept, 2 * MiB, 2 * MiB, 2 * MiB, RWX));
    BUMPS(ept_unmap(ept, 2 * MiB + 0x3000, 4 * KiB));          /* split and unmap */
    SAME(ept_unmap(ept, 64 * MiB, 4 * KiB));                   /* nothing there */
    SAME(ept_translate(ept, 0x1000, A_W, NULL, NULL));
    BUMPS(ept_log_dirty_start(ept, 0, 4 * MiB));               /* write-protect */
    BUMPS(ept_handle_violation(ept, 0x1000, EPTQ_WRITE));      /* W restored */
    BUMPS(ept_get_dirty_log(ept, 0, 4 * MiB, bitmap));         /* write-protect again */
    SAME(ept_get_dirty_log(ept, 0, 4 * MiB, bitmap));          /* nothing dirty */
    SAME(ept_handle_violation(ept, 0x9000000, EPTQ_READ));     /* MMIO: -EFAULT */
    BUMPS(ept_log_dirty_stop(ept, 0, 4 * MiB));                /* W given back */
    ept_enable_accessed_dirty(ept, true);
    assert_true(ept_generation(ept) > g);
    g = ept_generation(ept);
    SAME(ept_translate(ept, 0x1000, A_W, NULL, NULL));         /* sets A/D: no flush */
    BUMPS(ept_unmap(ept, 0, 4 * MiB));
#undef BUMPS
#undef SAME
    ept_destroy(ept);
}

/* ---- bad arguments ---- */

static void test_bad_arguments(void **state)
{
    (void)state;
    assert_null(ept_create((size_t)(1ull << 48) + 4096));
    EptContext *ept = ept_create(0);
    uint64_t hpa, q, bitmap[1];
    assert_int_equal(ept_translate(NULL, 0, A_R, &hpa, &q), -EINVAL);
    assert_int_equal(ept_translate(ept, 0, 0, &hpa, &q), -EINVAL);
    assert_int_equal(ept_translate(ept, 0, 8, &hpa, &q), -EINVAL);
    assert_int_equal(ept_translate(ept, 1ull << 48, A_R, &hpa, &q), -EINVAL);
    assert_int_equal(ept_translate(ept, ~0ull, A_R, &hpa, &q), -EINVAL);
    assert_int_equal(ept_translate(ept, (1ull << 48) - 1, A_R, NULL, NULL), EPT_VIOLATION);

    assert_int_equal(ept_map_page(NULL, 0, 0, R), -EINVAL);
    assert_int_equal(ept_map_page(ept, 0x1001, 0, R), -EINVAL);
    assert_int_equal(ept_map_page(ept, 0, 0x10, R), -EINVAL);
    assert_int_equal(ept_map_page(ept, 0, 0, 8), -EINVAL);
    assert_int_equal(ept_map_page(ept, 1ull << 48, 0, R), -EINVAL);
    assert_int_equal(ept_map_page(ept, 0, 1ull << 48, R), -EINVAL);
    assert_int_equal(ept_map_range(ept, 0, 0, 0, R), -EINVAL);
    assert_int_equal(ept_map_range(ept, 0, 0, 0x800, R), -EINVAL);
    assert_int_equal(ept_map_range(ept, (1ull << 48) - 4096, 0, 8192, R), -EINVAL);
    assert_int_equal(ept_map_range(ept, 0, (1ull << 48) - 4096, 8192, R), -EINVAL);
    assert_int_equal(ept_map_range(ept, 0, 0, ~0ull & ~0xFFFull, R), -EINVAL);
    assert_int_equal(ept_unmap(NULL, 0, 4096), -EINVAL);
    assert_int_equal(ept_unmap(ept, 0x10, 4096), -EINVAL);
    assert_int_equal(ept_unmap(ept, 0, 0), -EINVAL);
    assert_int_equal(ept_log_dirty_start(NULL, 0, 4096), -EINVAL);
    assert_int_equal(ept_log_dirty_start(ept, 0, 0), -EINVAL);
    assert_int_equal(ept_log_dirty_stop(ept, 0, 4096), -ENOENT);
    assert_int_equal(ept_log_dirty_start(ept, 0, 4096), 0);
    assert_int_equal(ept_get_dirty_log(ept, 0, 4096, NULL), -EINVAL);
    assert_int_equal(ept_get_dirty_log(NULL, 0, 4096, bitmap), -EINVAL);
    assert_int_equal(ept_get_dirty_log(ept, 0, 4096, bitmap), 0);
    assert_int_equal(bitmap[0], 0);
    assert_int_equal(ept_table_count(NULL), 0);
    assert_int_equal(ept_generation(NULL), 0);
    /* Nothing was mapped by the failures. */
    assert_int_equal(ept_table_count(ept), 1);
    ept_destroy(ept);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_and_pointer),
        cmocka_unit_test(test_capabilities),
        cmocka_unit_test(test_walk_4k),
        cmocka_unit_test(test_walk_2m),
        cmocka_unit_test(test_walk_1g),
        cmocka_unit_test(test_map_range_page_sizes),
        cmocka_unit_test(test_permission_access_table),
        cmocka_unit_test(test_qualification_and_over_levels),
        cmocka_unit_test(test_misconfigurations),
        cmocka_unit_test(test_unmap_inside_2m),
        cmocka_unit_test(test_unmap_inside_1g),
        cmocka_unit_test(test_unmap_frees_empty_tables),
        cmocka_unit_test(test_map_replaces),
        cmocka_unit_test(test_accessed_dirty),
        cmocka_unit_test(test_dirty_logging),
        cmocka_unit_test(test_dirty_log_two_ranges),
        cmocka_unit_test(test_violation_on_misconfig),
        cmocka_unit_test(test_generation),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
