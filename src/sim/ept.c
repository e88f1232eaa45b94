/*
 * Extended page tables of the software backend (Intel SDM Vol. 3C, "VMX Support for
 * Address Translation").
 *
 * The tables are real: 4 KiB-aligned EptTables of 512 entries in the SDM's formats, linked
 * by host address (in the simulator a host-physical address is a host virtual address).
 * This file owns them: it builds them (map, unmap, dirty-log write protection), walks them
 * as the processor does (ept_translate, on every TLB miss of the interpreter) and resolves
 * the EPT violations that the kernel handles itself (dirty logging).
 *
 * Entries this file writes:
 *  - non-leaf: address of the next table | R | W | X (permissions live in the leaves);
 *  - leaf:     hpa | permissions as given | WB | large-page bit at the 1 GiB / 2 MiB levels,
 *              EPT_SW_DIRTY_WP (an ignored bit) while W is withheld for dirty logging.
 * So inside this file an entry is empty when it is 0 (leaves always carry a memory type),
 * a leaf at level 1 or with bit 7 at levels 2-3, and a table pointer otherwise.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hypervisor_sim.h"
#include "kvm/backend.h"

/* Levels as the SDM numbers the walk: 4 = PML4, 3 = PDPT, 2 = PD, 1 = PT. */
#define LEVEL_PML4 4
#define LEVEL_PDPT 3
#define LEVEL_PD   2
#define LEVEL_PT   1
#define EPT_INDEX_BITS 9
#define EPT_INDEX_MASK 0x1FFull
#define EPT_PAGE_SHIFT 12

/* 64-bit forms of the header's bits, so that ~ clears only the bit meant. */
#define E_READ     ((uint64_t)EPT_READ)
#define E_WRITE    ((uint64_t)EPT_WRITE)
#define E_EXEC     ((uint64_t)EPT_EXECUTE)
#define E_PERMS    ((uint64_t)EPT_PERM_MASK)
#define E_MEMTYPE  ((uint64_t)EPT_MEMORY_TYPE_MASK)
#define E_LARGE    ((uint64_t)EPT_LARGE_PAGE)
#define E_ACCESSED ((uint64_t)EPT_ACCESSED)
#define E_DIRTY    ((uint64_t)EPT_DIRTY)
#define E_NONLEAF_PERMS (E_READ | E_WRITE | E_EXEC)

/* Reserved bits besides the address bits 51:MAXPHYADDR (SDM Vol. 3C, EPT entry formats):
 * PML4E bits 7:3; PDPTE/PDE referencing a table bits 6:3 (bit 7 is the page-size bit, 0);
 * PDPTE mapping 1 GiB bits 29:12; PDE mapping 2 MiB bits 20:12. */
#define RSVD_PML4E        0xF8ull
#define RSVD_NONLEAF      0x78ull
#define RSVD_LEAF_1G      0x3FFFF000ull
#define RSVD_LEAF_2M      0x1FF000ull

/* Memory types 2, 3 and 7 are reserved in a leaf (SDM Vol. 3C, "EPT Misconfigurations"). */
#define MEMTYPE_RESERVED_SET ((1u << 2) | (1u << 3) | (1u << 7))

/* A range being dirty-logged: one bit per 4 KiB page. */
struct EptDirtyRange {
    uint64_t gpa, size;
    uint64_t *bitmap;
};

static inline uint64_t level_page_size(int level)
{
    return 1ull << (EPT_PAGE_SHIFT + EPT_INDEX_BITS * (level - 1));
}

static inline unsigned level_index(uint64_t gpa, int level)
{
    return (unsigned)((gpa >> (EPT_PAGE_SHIFT + EPT_INDEX_BITS * (level - 1))) & EPT_INDEX_MASK);
}

static inline EptTable *entry_table(uint64_t e)
{
    return (EptTable *)(uintptr_t)(e & EPT_ADDR_MASK);
}

/* Whether entry e at `level` points at a table (as this file writes entries). */
static inline bool entry_is_table(uint64_t e, int level)
{
    return e != 0 && level > LEVEL_PT && (level == LEVEL_PML4 || !(e & E_LARGE));
}

static void bump(EptContext *ept) { ept->generation++; }

/* A zeroed, 4 KiB-aligned table, counted; NULL when out of memory. */
static EptTable *table_alloc(EptContext *ept)
{
    EptTable *t = aligned_alloc(EPT_PAGE_SIZE_4K, sizeof(EptTable));
    if (!t)
        return NULL;
    memset(t, 0, sizeof(*t));
    ept->table_count++;
    return t;
}

/* Frees table t of `level` and every table below it. */
static void table_free(EptContext *ept, EptTable *t, int level)
{
    if (level > LEVEL_PT) {
        for (unsigned i = 0; i < EPT_ENTRIES_PER_TABLE; i++)
            if (entry_is_table(t->entries[i], level))
                table_free(ept, entry_table(t->entries[i]), level - 1);
    }
    free(t);
    ept->table_count--;
}

static bool table_empty(const EptTable *t)
{
    for (unsigned i = 0; i < EPT_ENTRIES_PER_TABLE; i++)
        if (t->entries[i])
            return false;
    return true;
}

/* Replaces the large leaf in *slot (at level 3 or 2) by a table of 512 leaves one level
 * down that map the same addresses with the same attributes (permissions, memory type,
 * ignore-PAT, A/D, software bits). -ENOMEM leaves *slot as it was. */
static int split_large(EptContext *ept, uint64_t *slot, int level)
{
    EptTable *t = table_alloc(ept);
    if (!t)
        return -ENOMEM;
    uint64_t e = *slot;
    uint64_t child_size = level_page_size(level - 1);
    uint64_t base = e & EPT_ADDR_MASK & ~(level_page_size(level) - 1);
    uint64_t attrs = (e & ~EPT_ADDR_MASK & ~E_LARGE) | (level - 1 > LEVEL_PT ? E_LARGE : 0);
    for (unsigned i = 0; i < EPT_ENTRIES_PER_TABLE; i++)
        t->entries[i] = (base + i * child_size) | attrs;
    *slot = (uint64_t)(uintptr_t)t | E_NONLEAF_PERMS;
    return 0;
}

/* The logged range holding gpa, or NULL. */
static struct EptDirtyRange *dirty_range_at(EptContext *ept, uint64_t gpa)
{
    for (size_t i = 0; i < ept->dirty_range_count; i++) {
        struct EptDirtyRange *r = &ept->dirty_ranges[i];
        if (gpa - r->gpa < r->size)
            return r;
    }
    return NULL;
}

static bool dirty_overlaps(const EptContext *ept, uint64_t gpa, uint64_t size)
{
    for (size_t i = 0; i < ept->dirty_range_count; i++) {
        const struct EptDirtyRange *r = &ept->dirty_ranges[i];
        if (gpa < r->gpa + r->size && r->gpa < gpa + size)
            return true;
    }
    return false;
}

/* Checks a range argument: 4 KiB aligned, not empty, below 2^48. */
static bool range_ok(uint64_t addr, uint64_t size)
{
    return size != 0 && !(addr & (EPT_PAGE_SIZE_4K - 1)) && !(size & (EPT_PAGE_SIZE_4K - 1)) &&
           addr < EPT_GPA_LIMIT && size <= EPT_GPA_LIMIT - addr;
}

/* Writes `leaf` as the entry translating gpa at `level` (1, 2 or 3): creates the tables on
 * the way, splits a large page on the way, frees a subtree the leaf replaces. */
static int set_leaf(EptContext *ept, uint64_t gpa, int level, uint64_t leaf)
{
    EptTable *t = ept->pml4;
    for (int l = LEVEL_PML4; l > level; l--) {
        uint64_t *slot = &t->entries[level_index(gpa, l)];
        if (*slot == 0) {
            EptTable *child = table_alloc(ept);
            if (!child)
                return -ENOMEM;
            *slot = (uint64_t)(uintptr_t)child | E_NONLEAF_PERMS;
        } else if (!entry_is_table(*slot, l)) {
            int rc = split_large(ept, slot, l);
            if (rc < 0)
                return rc;
        }
        t = entry_table(*slot);
    }
    uint64_t *slot = &t->entries[level_index(gpa, level)];
    if (entry_is_table(*slot, level))
        table_free(ept, entry_table(*slot), level - 1);
    *slot = leaf;
    bump(ept);
    return 0;
}

/* The leaf this file writes for hpa at `level`; W is withheld inside a logged range. */
static uint64_t make_leaf(EptContext *ept, uint64_t gpa, uint64_t hpa, uint32_t perms, int level)
{
    uint64_t leaf = hpa | perms | EPT_MEMORY_TYPE_WB | (level > LEVEL_PT ? E_LARGE : 0);
    if ((leaf & E_WRITE) && ept->dirty_range_count && dirty_range_at(ept, gpa))
        leaf = (leaf & ~E_WRITE) | EPT_SW_DIRTY_WP;
    return leaf;
}

static bool map_args_ok(const EptContext *ept, uint64_t gpa, uint64_t hpa, uint64_t size,
                        uint32_t perms)
{
    return ept && ept->pml4 && perms <= EPT_PERM_MASK && range_ok(gpa, size) &&
           range_ok(hpa, size) && hpa + size <= (1ull << EPT_MAXPHYADDR);
}

EptContext *ept_create(size_t guest_memory_size)
{
    if ((uint64_t)guest_memory_size > EPT_GPA_LIMIT) {
        hv_fail(EINVAL, "ept: guest memory of %zu bytes is past the 48-bit EPT reach",
                guest_memory_size);
        return NULL;
    }
    EptContext *ept = calloc(1, sizeof(*ept));
    if (!ept) {
        hv_fail(ENOMEM, "ept: out of memory");
        return NULL;
    }
    ept->pml4 = table_alloc(ept);
    if (!ept->pml4) {
        free(ept);
        hv_fail(ENOMEM, "ept: out of memory");
        return NULL;
    }
    ept->guest_phys_size = guest_memory_size;
    ept->execute_only = true;
    return ept;
}

void ept_destroy(EptContext *ept)
{
    if (!ept)
        return;
    if (ept->pml4)
        table_free(ept, ept->pml4, LEVEL_PML4);
    for (size_t i = 0; i < ept->dirty_range_count; i++)
        free(ept->dirty_ranges[i].bitmap);
    free(ept->dirty_ranges);
    free(ept);
}

int ept_map_page(EptContext *ept, uint64_t guest_phys, uint64_t host_phys, uint32_t permissions)
{
    if (!map_args_ok(ept, guest_phys, host_phys, EPT_PAGE_SIZE_4K, permissions))
        return -EINVAL;
    return set_leaf(ept, guest_phys, LEVEL_PT,
                    make_leaf(ept, guest_phys, host_phys, permissions, LEVEL_PT));
}

int ept_map_range(EptContext *ept, uint64_t gpa, uint64_t hpa, uint64_t size,
                  uint32_t permissions)
{
    if (!map_args_ok(ept, gpa, hpa, size, permissions))
        return -EINVAL;
    while (size) {
        int level = LEVEL_PT;
        for (int l = LEVEL_PDPT; l > LEVEL_PT; l--) {
            uint64_t ps = level_page_size(l);
            if (!(gpa & (ps - 1)) && !(hpa & (ps - 1)) && size >= ps &&
                !dirty_overlaps(ept, gpa, ps)) {
                level = l;
                break;
            }
        }
        int rc = set_leaf(ept, gpa, level, make_leaf(ept, gpa, hpa, permissions, level));
        if (rc < 0)
            return rc;
        uint64_t ps = level_page_size(level);
        gpa += ps;
        hpa += ps;
        size -= ps;
    }
    return 0;
}

/* Unmaps [start, end) within table t of `level`, whose first entry maps `base`; splits
 * leaves that straddle the ends and frees child tables that become empty. */
static int unmap_in(EptContext *ept, EptTable *t, int level, uint64_t base, uint64_t start,
                    uint64_t end)
{
    uint64_t ps = level_page_size(level);
    for (unsigned i = level_index(start, level); i < EPT_ENTRIES_PER_TABLE; i++) {
        uint64_t lo = base + i * ps, hi = lo + ps;
        if (lo >= end)
            break;
        uint64_t *slot = &t->entries[i];
        if (*slot == 0)
            continue;
        uint64_t s = start > lo ? start : lo, e = end < hi ? end : hi;
        if (!entry_is_table(*slot, level)) {
            if (s == lo && e == hi) {
                *slot = 0;
                bump(ept);
                continue;
            }
            int rc = split_large(ept, slot, level);   /* partial: level > 1 */
            if (rc < 0)
                return rc;
        }
        EptTable *child = entry_table(*slot);
        int rc = unmap_in(ept, child, level - 1, lo, s, e);
        if (table_empty(child)) {
            table_free(ept, child, level - 1);
            *slot = 0;
            bump(ept);
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

int ept_unmap(EptContext *ept, uint64_t gpa, uint64_t size)
{
    if (!ept || !ept->pml4 || !range_ok(gpa, size))
        return -EINVAL;
    return unmap_in(ept, ept->pml4, LEVEL_PML4, 0, gpa, gpa + size);
}

/* Whether a present entry at `level` is misconfigured (SDM Vol. 3C, "EPT
 * Misconfigurations"): bits 2:0 = 010b or 110b; 100b without the execute-only capability;
 * a reserved bit set (address bits 51:MAXPHYADDR; PML4E bits 7:3; non-leaf PDPTE/PDE bits
 * 6:3; 1 GiB leaf bits 29:12; 2 MiB leaf bits 20:12); a leaf memory type of 2, 3 or 7.
 * *leaf says whether the walk ends here. */
static inline bool entry_misconfigured(const EptContext *ept, uint64_t e, int level, bool *leaf)
{
    uint64_t rwx = e & E_PERMS;
    if (rwx == E_WRITE || rwx == (E_WRITE | E_EXEC))
        return true;
    if (rwx == E_EXEC && !ept->execute_only)
        return true;
    if (e & EPT_ADDR_RESERVED_MASK)
        return true;
    if (level == LEVEL_PML4) {
        *leaf = false;
        return (e & RSVD_PML4E) != 0;
    }
    *leaf = level == LEVEL_PT || (e & E_LARGE);
    if (!*leaf)
        return (e & RSVD_NONLEAF) != 0;
    if (level == LEVEL_PDPT && (e & RSVD_LEAF_1G))
        return true;
    if (level == LEVEL_PD && (e & RSVD_LEAF_2M))
        return true;
    return (MEMTYPE_RESERVED_SET >> ((e & E_MEMTYPE) >> EPT_MEMORY_TYPE_SHIFT)) & 1;
}

/* The walk of SDM Vol. 3C, "EPT Translation Mechanism", without side effects.
 * Returns EPT_OK (a leaf was reached), EPT_VIOLATION (a not-present entry) or EPT_MISCONFIG.
 * *perms is the AND of bits 2:0 of the entries walked (0 when one is not present), *upper
 * the same over the non-leaf entries only; slots[] gets the entries walked (PML4E first),
 * *depth how many. Permissions against the access are the caller's check. */
static inline int ept_walk(const EptContext *ept, uint64_t gpa, uint64_t *slots[4], int *depth,
                           uint64_t *perms, uint64_t *upper)
{
    const EptTable *t = ept->pml4;
    uint64_t p = E_PERMS, up = E_PERMS;
    for (int level = LEVEL_PML4, n = 0;; level--) {
        uint64_t *slot = (uint64_t *)&t->entries[level_index(gpa, level)];
        uint64_t e = *slot;
        slots[n++] = slot;
        *depth = n;
        p &= e;
        if (!(e & E_PERMS)) {
            *perms = 0;
            *upper = up;
            return EPT_VIOLATION;
        }
        bool leaf;
        if (entry_misconfigured(ept, e, level, &leaf))
            return EPT_MISCONFIG;
        if (leaf) {
            *perms = p & E_PERMS;
            *upper = up & E_PERMS;
            return EPT_OK;
        }
        up &= e;
        t = entry_table(e);
    }
}

int ept_translate(EptContext *ept, uint64_t gpa, uint32_t access, uint64_t *hpa,
                  uint64_t *exit_qualification)
{
    if (!ept || !ept->pml4 || access == 0 || access > EPT_PERM_MASK || gpa >= EPT_GPA_LIMIT)
        return -EINVAL;
    uint64_t *slots[4], perms, upper;
    int depth;
    int rc = ept_walk(ept, gpa, slots, &depth, &perms, &upper);
    if (rc == EPT_MISCONFIG) {
        if (exit_qualification)
            *exit_qualification = 0;   /* the SDM defines none for misconfigurations */
        return EPT_MISCONFIG;
    }
    if (rc == EPT_VIOLATION || (access & ~perms)) {
        if (exit_qualification)
            *exit_qualification = access | (perms << EPTQ_PERM_SHIFT);
        return EPT_VIOLATION;
    }
    uint64_t *leaf = slots[depth - 1];
    if (ept->accessed_dirty) {
        /* SDM Vol. 3C, "Accessed and Dirty Flags for EPT": A in every entry used, D in
         * the leaf on a write. */
        for (int i = 0; i < depth; i++)
            *slots[i] |= E_ACCESSED;
        if (access & EPT_ACCESS_WRITE)
            *leaf |= E_DIRTY;
    }
    if (hpa) {
        uint64_t ps = level_page_size(LEVEL_PML4 + 1 - depth);
        *hpa = (*leaf & EPT_ADDR_MASK & ~(ps - 1)) | (gpa & (ps - 1));
    }
    if (exit_qualification)
        *exit_qualification = 0;
    return EPT_OK;
}

/* Marks the 4 KiB page of gpa dirty in its logged range, if any. */
static void dirty_mark(EptContext *ept, uint64_t gpa)
{
    struct EptDirtyRange *r = dirty_range_at(ept, gpa);
    if (r) {
        uint64_t page = (gpa - r->gpa) >> EPT_PAGE_SHIFT;
        r->bitmap[page / 64] |= 1ull << (page % 64);
    }
}

int ept_handle_violation(EptContext *ept, uint64_t guest_phys, uint64_t exit_qualification)
{
    uint64_t access = exit_qualification & EPTQ_ACCESS_MASK;
    if (!ept || !ept->pml4 || access == 0 || guest_phys >= EPT_GPA_LIMIT)
        return -EINVAL;
    uint64_t *slots[4], perms, upper;
    int depth;
    int rc = ept_walk(ept, guest_phys, slots, &depth, &perms, &upper);
    if (rc == EPT_MISCONFIG)
        return -EFAULT;
    if (rc == EPT_OK && !(access & ~perms))
        return 0;   /* already allowed (a stale TLB entry): the access is retried */
    if (rc != EPT_OK || !(access & EPTQ_WRITE))
        return -EFAULT;
    uint64_t *leaf = slots[depth - 1];
    if (!(*leaf & EPT_SW_DIRTY_WP))
        return -EFAULT;   /* really read-only: the VMM's (e.g. a ROM write) */
    if (access & ~(upper & ((*leaf & E_PERMS) | E_WRITE)))
        return -EFAULT;   /* W alone would not make the access legal */
    *leaf = (*leaf | E_WRITE) & ~EPT_SW_DIRTY_WP;
    dirty_mark(ept, guest_phys);
    bump(ept);
    return 0;
}

uint64_t ept_pointer(const EptContext *ept)
{
    if (!ept || !ept->pml4)
        return 0;
    return (uint64_t)(uintptr_t)ept->pml4 | EPTP_MEMORY_TYPE_WB | EPTP_WALK_LENGTH_4 |
           (ept->accessed_dirty ? EPTP_ACCESSED_DIRTY : 0);
}

void ept_enable_accessed_dirty(EptContext *ept, bool enable)
{
    if (ept && ept->accessed_dirty != enable) {
        ept->accessed_dirty = enable;
        bump(ept);   /* TLB entries filled without setting A/D must go */
    }
}

void ept_set_execute_only(EptContext *ept, bool supported)
{
    if (ept && ept->execute_only != supported) {
        ept->execute_only = supported;
        bump(ept);
    }
}

uint64_t ept_vpid_capabilities(const EptContext *ept)
{
    uint64_t caps = VMX_EPT_CAP_WALK_LENGTH_4 | VMX_EPT_CAP_MEMORY_TYPE_UC |
                    VMX_EPT_CAP_MEMORY_TYPE_WB | VMX_EPT_CAP_PAGE_2M | VMX_EPT_CAP_PAGE_1G |
                    VMX_EPT_CAP_ACCESSED_DIRTY;
    if (!ept || ept->execute_only)
        caps |= VMX_EPT_CAP_EXECUTE_ONLY;
    return caps;
}

size_t ept_table_count(const EptContext *ept) { return ept ? ept->table_count : 0; }

uint64_t ept_generation(const EptContext *ept) { return ept ? ept->generation : 0; }

typedef enum { PROTECT, UNPROTECT } ProtectOp;

/* Write-protects (PROTECT: W → EPT_SW_DIRTY_WP) or gives back W (UNPROTECT) to every leaf
 * in [start, end). PROTECT first splits large pages overlapping the range into 4 KiB pages,
 * so that a write is logged per page. Returns 0 or -ENOMEM (pages done so far stay done). */
static int protect_range(EptContext *ept, uint64_t start, uint64_t end, ProtectOp op)
{
    bool changed = false;
    int rc = 0;
    uint64_t a = start;
    while (a < end) {
        EptTable *t = ept->pml4;
        int level = LEVEL_PML4;
        uint64_t *slot;
        for (;;) {
            slot = &t->entries[level_index(a, level)];
            if (*slot == 0 || level == LEVEL_PT)
                break;
            if (!entry_is_table(*slot, level)) {
                if (op == UNPROTECT)
                    break;
                rc = split_large(ept, slot, level);
                if (rc < 0)
                    goto out;
                changed = true;
            }
            t = entry_table(*slot);
            level--;
        }
        if (*slot != 0) {
            if (op == PROTECT && (*slot & E_WRITE)) {
                *slot = (*slot & ~E_WRITE) | EPT_SW_DIRTY_WP;
                changed = true;
            } else if (op == UNPROTECT && (*slot & EPT_SW_DIRTY_WP)) {
                *slot = (*slot | E_WRITE) & ~EPT_SW_DIRTY_WP;
                changed = true;
            }
        }
        uint64_t ps = level_page_size(level);
        a = (a & ~(ps - 1)) + ps;
    }
out:
    if (changed)
        bump(ept);
    return rc;
}

int ept_log_dirty_start(EptContext *ept, uint64_t gpa, uint64_t size)
{
    if (!ept || !ept->pml4 || !range_ok(gpa, size))
        return -EINVAL;
    if (dirty_overlaps(ept, gpa, size))
        return -EEXIST;
    uint64_t pages = size >> EPT_PAGE_SHIFT;
    uint64_t *bitmap = calloc((size_t)((pages + 63) / 64), sizeof(uint64_t));
    if (!bitmap)
        return -ENOMEM;
    struct EptDirtyRange *ranges =
        realloc(ept->dirty_ranges, (ept->dirty_range_count + 1) * sizeof(*ranges));
    if (!ranges) {
        free(bitmap);
        return -ENOMEM;
    }
    ept->dirty_ranges = ranges;
    ranges[ept->dirty_range_count++] = (struct EptDirtyRange){gpa, size, bitmap};
    int rc = protect_range(ept, gpa, gpa + size, PROTECT);
    if (rc < 0) {
        ept_log_dirty_stop(ept, gpa, size);
        return rc;
    }
    return 0;
}

int ept_log_dirty_stop(EptContext *ept, uint64_t gpa, uint64_t size)
{
    if (!ept || !ept->pml4 || !range_ok(gpa, size))
        return -EINVAL;
    for (size_t i = 0; i < ept->dirty_range_count; i++) {
        struct EptDirtyRange *r = &ept->dirty_ranges[i];
        if (r->gpa != gpa || r->size != size)
            continue;
        free(r->bitmap);
        ept->dirty_ranges[i] = ept->dirty_ranges[--ept->dirty_range_count];
        /* Cannot fail: UNPROTECT never allocates. */
        return protect_range(ept, gpa, gpa + size, UNPROTECT);
    }
    return -ENOENT;
}

int ept_get_dirty_log(EptContext *ept, uint64_t gpa, uint64_t size, uint64_t *bitmap)
{
    if (!ept || !ept->pml4 || !bitmap || !range_ok(gpa, size))
        return -EINVAL;
    for (uint64_t a = gpa; a < gpa + size;) {
        struct EptDirtyRange *r = dirty_range_at(ept, a);
        if (!r)
            return -ENOENT;
        a = r->gpa + r->size;
    }
    uint64_t pages = size >> EPT_PAGE_SHIFT;
    memset(bitmap, 0, (size_t)((pages + 63) / 64) * sizeof(uint64_t));
    struct EptDirtyRange *r = NULL;
    for (uint64_t i = 0; i < pages; i++) {
        uint64_t a = gpa + (i << EPT_PAGE_SHIFT);
        if (!r || a - r->gpa >= r->size)
            r = dirty_range_at(ept, a);
        uint64_t page = (a - r->gpa) >> EPT_PAGE_SHIFT;
        uint64_t bit = 1ull << (page % 64);
        if (!(r->bitmap[page / 64] & bit))
            continue;
        r->bitmap[page / 64] &= ~bit;
        bitmap[i / 64] |= 1ull << (i % 64);
        /* Write-protect again, so the next write is seen (4 KiB: never allocates). */
        protect_range(ept, a, a + EPT_PAGE_SIZE_4K, PROTECT);
    }
    return 0;
}
