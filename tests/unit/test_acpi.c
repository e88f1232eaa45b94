/* Unit tests for the firmware tables (src/vmm/fw_tables.c, machine.c) and the ACPI
 * platform devices (src/dev/acpi_pm.c, hpet.c): checksums and lengths against the ACPI
 * 6.5 and MP 1.4 layouts, the MADT's entries, the E820 map, the PM timer's rate (by hand
 * and on the virtual clock), S5 as a poweroff, the power button and the SCI, the HPET's
 * comparators, hostile register writes, and iasl -d on every table (when iasl is here). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "backends.h"
#include "dev/acpi_pm.h"
#include "dev/hpet.h"
#include "vmm/fw_tables.h"
#include "vmm/machine.h"
#include "vmm/platform.h"

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t get32(const uint8_t *p) { return get16(p) | (uint32_t)get16(p + 2) << 16; }
static uint64_t get64(const uint8_t *p) { return get32(p) | (uint64_t)get32(p + 4) << 32; }

static uint8_t sum(const uint8_t *p, size_t n)
{
    uint8_t s = 0;
    for (size_t i = 0; i < n; i++)
        s = (uint8_t)(s + p[i]);
    return s;
}

static uint8_t area[MACHINE_FW_TABLES_SIZE];
static uint8_t ebda[MACHINE_EBDA_SIZE];

/* The table at guest-physical gpa in the area. */
static const uint8_t *at(uint64_t gpa)
{
    assert_true(gpa >= MACHINE_FW_TABLES_BASE &&
                gpa < MACHINE_FW_TABLES_BASE + MACHINE_FW_TABLES_SIZE);
    return area + (gpa - MACHINE_FW_TABLES_BASE);
}

static const MachineDesc pc = {.ram_size = 256u << 20, .cpus = 1, .acpi = true, .hpet = true};

/* RSDP → XSDT/RSDT → FADT (→ FACS, DSDT), MADT, HPET: every checksum zero, every length
 * as the specification's layout gives it, the two root tables agreeing. */
static void test_acpi_tables_checksums_and_lengths(void **state)
{
    (void)state;
    FwTablesInfo info;
    assert_int_equal(fw_tables_build(&pc, area, ebda, &info), 0);
    assert_true(info.rsdp % 16 == 0 && info.rsdp >= 0xE0000 && info.rsdp < 0x100000);
    const uint8_t *rsdp = at(info.rsdp);
    assert_memory_equal(rsdp, "RSD PTR ", 8);
    assert_int_equal(sum(rsdp, 20), 0);
    assert_int_equal(sum(rsdp, 36), 0);
    assert_int_equal(rsdp[15], 2);
    assert_int_equal(get32(rsdp + 20), 36);
    const uint8_t *rsdt = at(get32(rsdp + 16)), *xsdt = at(get64(rsdp + 24));
    assert_memory_equal(rsdt, "RSDT", 4);
    assert_memory_equal(xsdt, "XSDT", 4);
    assert_int_equal(sum(rsdt, get32(rsdt + 4)), 0);
    assert_int_equal(sum(xsdt, get32(xsdt + 4)), 0);
    unsigned n = (get32(rsdt + 4) - 36) / 4;
    assert_int_equal(n, 3);
    assert_int_equal(get32(xsdt + 4), 36 + 8 * n);
    static const struct { const char *sig; uint32_t len; } want[] = {
        {"FACP", 244}, {"APIC", 44 + 8 + 12 + 20 + 6}, {"HPET", 56}};
    for (unsigned i = 0; i < n; i++) {
        assert_int_equal(get32(rsdt + 36 + 4 * i), get64(xsdt + 36 + 8 * i));
        const uint8_t *t = at(get32(rsdt + 36 + 4 * i));
        assert_memory_equal(t, want[i].sig, 4);
        assert_int_equal(get32(t + 4), want[i].len);
        assert_int_equal(sum(t, get32(t + 4)), 0);
        assert_memory_equal(t + 10, "SCRVM ", 6);
    }
    /* The FADT: the blocks where the devices are, the SCI, the reset register, flags. */
    const uint8_t *fadt = at(get32(rsdt + 36));
    assert_int_equal(fadt[8], 3);
    assert_int_equal(get16(fadt + 46), 9);
    assert_int_equal(get32(fadt + 56), MACHINE_PM1A_EVT_BLK);
    assert_int_equal(get32(fadt + 64), MACHINE_PM1A_CNT_BLK);
    assert_int_equal(get32(fadt + 76), MACHINE_PM_TMR_BLK);
    assert_int_equal(fadt[88], 4);
    assert_int_equal(fadt[89], 2);
    assert_int_equal(fadt[91], 4);
    uint32_t flags = get32(fadt + 112);
    assert_true(flags & (1u << 10));      /* RESET_REG_SUP */
    assert_false(flags & (1u << 8));      /* a 24-bit PM timer, as PIIX4's */
    assert_false(flags & (1u << 4));      /* the power button is the fixed feature */
    assert_int_equal(fadt[116], 1);       /* RESET_REG in system I/O */
    assert_int_equal(get64(fadt + 120), 0xCF9);
    assert_int_equal(fadt[128], 6);
    assert_int_equal(fadt[148], 1);       /* X_PM1a_EVT_BLK */
    assert_int_equal(fadt[149], 32);
    assert_int_equal(get64(fadt + 152), MACHINE_PM1A_EVT_BLK);
    assert_int_equal(get64(fadt + 212), MACHINE_PM_TMR_BLK);
    /* The FACS: 64-byte aligned, in the ACPI NVS page; the DSDT holds \_S5. */
    uint64_t facs_at = get32(fadt + 36);
    assert_int_equal(facs_at % 64, 0);
    assert_true(facs_at < MACHINE_FW_TABLES_BASE + MACHINE_ACPI_NVS_SIZE);
    assert_memory_equal(at(facs_at), "FACS", 4);
    assert_int_equal(get32(at(facs_at) + 4), 64);
    const uint8_t *dsdt = at(get64(fadt + 140));
    assert_int_equal(get32(fadt + 40), get64(fadt + 140));
    assert_memory_equal(dsdt, "DSDT", 4);
    assert_int_equal(sum(dsdt, get32(dsdt + 4)), 0);
    static const uint8_t s5[] = {0x08, 0x5C, '_', 'S', '5', '_', 0x12, 0x06, 0x04, 0, 0, 0, 0};
    assert_true(get32(dsdt + 4) > 36 + sizeof(s5));
    assert_memory_equal(dsdt + 36, s5, sizeof(s5));
    /* then Scope (\_SB) { Device (PCI0) ... } (its contents: iasl's test below) */
    assert_int_equal(dsdt[36 + sizeof(s5)], 0x10);
    /* HPET: the event timer block ID is the capabilities register's low half. */
    const uint8_t *hpet = at(get32(rsdt + 44));
    assert_int_equal(get32(hpet + 36), 0x8086A201u);
    assert_int_equal(hpet[40], 0);        /* system memory */
    assert_int_equal(get64(hpet + 44), MACHINE_HPET_BASE);
}

/* MADT: one enabled local APIC per vCPU of the description, the IOAPIC, IRQ0 → GSI 2, the
 * SCI level/high, LINT1 NMI. */
static void test_madt_entries(void **state)
{
    (void)state;
    for (unsigned cpus = 1; cpus <= 4; cpus += 3) {
        MachineDesc m = pc;
        m.cpus = cpus;
        FwTablesInfo info;
        assert_int_equal(fw_tables_build(&m, area, NULL, &info), 0);
        const uint8_t *madt = NULL;
        for (size_t i = 0; i < info.count; i++)
            if (!strcmp(info.signatures[i], "APIC"))
                madt = at(info.tables[i]);
        assert_non_null(madt);
        uint32_t len = get32(madt + 4);
        assert_int_equal(sum(madt, len), 0);
        assert_int_equal(get32(madt + 36), 0xFEE00000u);
        assert_int_equal(get32(madt + 40), 1);   /* PCAT_COMPAT */
        unsigned lapics = 0, ioapics = 0, overrides = 0, nmis = 0;
        for (uint32_t off = 44; off < len; off += madt[off + 1]) {
            const uint8_t *e = madt + off;
            assert_true(e[1] >= 2 && off + e[1] <= len);
            switch (e[0]) {
            case 0:
                assert_int_equal(e[1], 8);
                assert_int_equal(e[3], lapics);       /* APIC IDs 0.. */
                assert_int_equal(get32(e + 4), 1);    /* enabled */
                lapics++;
                break;
            case 1:
                assert_int_equal(e[1], 12);
                assert_int_equal(get32(e + 4), 0xFEC00000u);
                assert_int_equal(get32(e + 8), 0);
                ioapics++;
                break;
            case 2:
                assert_int_equal(e[1], 10);
                if (e[3] == 0) {
                    assert_int_equal(get32(e + 4), 2);
                    assert_int_equal(get16(e + 8), 0);
                } else {
                    assert_int_equal(e[3], 9);
                    assert_int_equal(get32(e + 4), 9);
                    assert_int_equal(get16(e + 8), 0xD);   /* level, active high */
                }
                overrides++;
                break;
            case 4:
                assert_int_equal(e[5], 1);   /* LINT1 */
                nmis++;
                break;
            default:
                fail_msg("unexpected MADT entry type %u", e[0]);
            }
        }
        assert_int_equal(lapics, cpus);
        assert_int_equal(ioapics, 1);
        assert_int_equal(overrides, 2);
        assert_int_equal(nmis, 1);
    }
}

/* -no-acpi: the MP floating pointer in the EBDA and a configuration table it points to. */
static void test_mp_table(void **state)
{
    (void)state;
    MachineDesc m = pc;
    m.acpi = false;
    m.cpus = 2;
    FwTablesInfo info;
    assert_int_equal(fw_tables_build(&m, area, ebda, &info), 0);
    assert_int_equal(info.rsdp, 0);
    assert_int_equal(info.mp_floating, MACHINE_EBDA_BASE);
    assert_memory_equal(ebda, "_MP_", 4);
    assert_int_equal(sum(ebda, 16), 0);
    assert_int_equal(ebda[8], 1);
    assert_int_equal(ebda[9], 4);
    const uint8_t *t = at(get32(ebda + 4));
    assert_memory_equal(t, "PCMP", 4);
    uint16_t len = get16(t + 4), entries = get16(t + 34);
    assert_int_equal(sum(t, len), 0);
    assert_int_equal(get32(t + 36), 0xFEE00000u);
    unsigned cpus = 0, buses = 0, ioapics = 0, ints = 0, pci_ints = 0, lints = 0, count = 0;
    for (const uint8_t *e = t + 44; e < t + len; count++) {
        switch (e[0]) {
        case 0: cpus++; assert_true(e[3] & 1); e += 20; continue;
        case 1:
            assert_memory_equal(e + 2, buses++ == 0 ? "ISA   " : "PCI   ", 6);
            assert_int_equal(e[1], buses - 1);
            break;
        case 2: ioapics++; assert_int_equal(get32(e + 4), 0xFEC00000u); break;
        case 3:
            if (e[4] == 1) {   /* PCI: level, active low, to the PIRQ's GSI */
                pci_ints++;
                assert_int_equal(get16(e + 2), 0x0F);
                if (e[5] == (3 << 2 | 0))   /* slot 3 INTA#: PIRQC */
                    assert_int_equal(e[7], 18);
                if (e[5] == (1 << 2 | 1))   /* slot 1 INTB#: PIRQB */
                    assert_int_equal(e[7], 17);
                break;
            }
            ints++;
            if (e[5] == 0)
                assert_int_equal(e[7], 2);
            break;
        case 4: lints++; break;
        default: fail_msg("unexpected MP entry type %u", e[0]);
        }
        e += 8;
    }
    assert_int_equal(count, entries);
    assert_int_equal(cpus, 2);
    assert_int_equal(buses, 2);
    assert_int_equal(ioapics, 1);
    assert_int_equal(ints, 15);
    assert_int_equal(pci_ints, 31 * 4);
    assert_int_equal(lints, 2);
    /* Back to ACPI: no stale floating pointer. */
    assert_int_equal(fw_tables_build(&pc, area, ebda, &info), 0);
    assert_memory_not_equal(ebda, "_MP_", 4);
}

static void test_e820(void **state)
{
    (void)state;
    E820Entry e[MACHINE_E820_MAX];
    int n = machine_e820(&pc, e);
    uint64_t ram = 0, end = 0;
    int nvs = 0, acpi = 0;
    for (int i = 0; i < n; i++) {
        assert_true(e[i].base >= end);   /* in order, no overlap */
        end = e[i].base + e[i].length;
        if (e[i].type == E820_RAM)
            ram += e[i].length;
        nvs += e[i].type == E820_NVS && e[i].base == 0xE0000;
        acpi += e[i].type == E820_ACPI && e[i].base == 0xE1000 && end == 0xF0000;
    }
    assert_int_equal(ram, 0x9FC00 + 255 * (1u << 20));
    assert_int_equal(nvs, 1);
    assert_int_equal(acpi, 1);
    MachineDesc small = pc;
    small.ram_size = 512 * 1024;   /* no RAM at 0xE0000: no tables to describe */
    n = machine_e820(&small, e);
    for (int i = 0; i < n; i++)
        assert_true(e[i].type == E820_RAM || e[i].type == E820_RESERVED);
}

/* ---- the PM device on a clock moved by hand ---- */

typedef struct {
    uint64_t now;
    int sci, sleeps, changes;
    unsigned slp_typ;
    int isa[16], gsi[24], isa_edges[16], gsi_edges[24];
    bool legacy;
} Fake;

static uint64_t fake_now(void *o) { return ((Fake *)o)->now; }
static void fake_sci(void *o, int line, int level) { assert_int_equal(line, 9); ((Fake *)o)->sci = level; }
static void fake_sleep(void *o, unsigned t) { ((Fake *)o)->sleeps++; ((Fake *)o)->slp_typ = t; }
static void fake_changed(void *o) { ((Fake *)o)->changes++; }

static AcpiPm *make_pm(Fake *f, bool bits32)
{
    const DevClock clock = {fake_now, f};
    const IrqLine sci = {fake_sci, f, 9};
    AcpiPm *pm = acpi_pm_create(0x600, &sci, &clock, bits32, fake_sleep, fake_changed, f);
    assert_non_null(pm);
    return pm;
}

static uint32_t pm_in(AcpiPm *pm, uint16_t port, uint8_t size)
{
    uint32_t v = 0;
    assert_int_equal(acpi_pm_io_read(port, size, &v, pm), 0);
    return v;
}

static void pm_out(AcpiPm *pm, uint16_t port, uint8_t size, uint32_t v)
{
    assert_int_equal(acpi_pm_io_write(port, size, v, pm), 0);
}

static void test_pm_timer_rate_and_width(void **state)
{
    (void)state;
    Fake f = {0};
    AcpiPm *pm = make_pm(&f, false);
    f.now = 1000000000ull;   /* one second: 3579545 ticks */
    assert_int_equal(pm_in(pm, 0x608, 4), 3579545u);
    f.now = 5000000000ull;   /* 17897725 ticks, 24 bits */
    assert_int_equal(pm_in(pm, 0x608, 4), 17897725u & 0xFFFFFF);
    assert_int_equal(pm_in(pm, 0x609, 1), (17897725u >> 8) & 0xFF);
    pm_out(pm, 0x608, 4, 0);   /* read-only */
    assert_int_equal(pm_in(pm, 0x608, 4), 17897725u & 0xFFFFFF);
    /* TMR_STS: the top bit changed since power-on; with TMR_EN, the SCI. */
    assert_true(pm_in(pm, 0x600, 2) & ACPI_PM1_TMR);
    pm_out(pm, 0x602, 2, ACPI_PM1_TMR);
    assert_int_equal(f.sci, 1);
    assert_true(f.changes >= 1);
    pm_out(pm, 0x600, 2, ACPI_PM1_TMR);   /* write 1 to clear */
    assert_int_equal(f.sci, 0);
    uint64_t next = acpi_pm_advance(pm, f.now);
    assert_true(next > f.now && next - f.now <= 2343750000ull + 1);   /* 2^23 ticks */
    f.now = next;
    acpi_pm_advance(pm, f.now);
    assert_int_equal(f.sci, 1);
    acpi_pm_destroy(pm);
    pm = make_pm(&f, true);
    f.now = 5000000000ull;
    assert_int_equal(pm_in(pm, 0x608, 4), 17897725u);
    acpi_pm_destroy(pm);
}

static void test_pm_power_button_and_sci(void **state)
{
    (void)state;
    Fake f = {0};
    AcpiPm *pm = make_pm(&f, false);
    assert_int_equal(pm_in(pm, 0x604, 2) & ACPI_PM1_SCI_EN, ACPI_PM1_SCI_EN);
    acpi_pm_power_button(pm);   /* not enabled: the status only */
    assert_int_equal(f.sci, 0);
    assert_true(pm_in(pm, 0x600, 2) & ACPI_PM1_PWRBTN);
    pm_out(pm, 0x602, 2, ACPI_PM1_PWRBTN);
    assert_int_equal(f.sci, 1);   /* a level while status and enable are both set */
    pm_out(pm, 0x601, 1, ACPI_PM1_PWRBTN >> 8);   /* byte-wide write 1 to clear */
    assert_int_equal(f.sci, 0);
    assert_false(pm_in(pm, 0x600, 2) & ACPI_PM1_PWRBTN);
    acpi_pm_power_button(pm);
    assert_int_equal(f.sci, 1);
    /* SLP_TYP then SLP_EN (as Linux writes them): one sleep request with that type. */
    pm_out(pm, 0x604, 2, 5u << 10 | ACPI_PM1_SCI_EN);
    assert_int_equal(f.sleeps, 0);
    pm_out(pm, 0x604, 2, 5u << 10 | ACPI_PM1_SLP_EN | ACPI_PM1_SCI_EN);
    assert_int_equal(f.sleeps, 1);
    assert_int_equal(f.slp_typ, 5);
    assert_false(pm_in(pm, 0x604, 2) & ACPI_PM1_SLP_EN);   /* write-only */
    acpi_pm_destroy(pm);
}

/* ---- the HPET ---- */

static void fake_isa(void *o, int line, int level)
{
    Fake *f = o;
    assert_true(line == 0 || line == 8);
    if (level && !f->isa[line])
        f->isa_edges[line]++;
    f->isa[line] = level;
}

static void fake_gsi(void *o, int gsi, int level)
{
    Fake *f = o;
    assert_true(gsi >= 0 && gsi < 24);
    if (level && !f->gsi[gsi])
        f->gsi_edges[gsi]++;
    f->gsi[gsi] = level;
}

static void fake_legacy(void *o, bool on) { ((Fake *)o)->legacy = on; }

static Hpet *make_hpet(Fake *f)
{
    const DevClock clock = {fake_now, f};
    const HpetWiring w = {fake_isa, fake_gsi, fake_legacy, fake_changed, f, MACHINE_HPET_ROUTE_CAP};
    Hpet *h = hpet_create(&clock, &w);
    assert_non_null(h);
    return h;
}

static uint64_t hr(Hpet *h, unsigned off, uint8_t size)
{
    uint64_t v = 0;
    assert_int_equal(hpet_mmio_read(MACHINE_HPET_BASE + off, size, &v, h), 0);
    return v;
}

static void hw(Hpet *h, unsigned off, uint8_t size, uint64_t v)
{
    assert_int_equal(hpet_mmio_write(MACHINE_HPET_BASE + off, size, v, h), 0);
}

static void test_hpet_counter_and_comparators(void **state)
{
    (void)state;
    Fake f = {.now = 1000};
    Hpet *h = make_hpet(&f);
    assert_int_equal(hr(h, 0, 8), 10000000ull << 32 | 0x8086A201u);
    assert_int_equal(hr(h, 4, 4), 10000000u);        /* the period, by its half */
    assert_int_equal(hr(h, 0x104, 4), 0x00F00104u);  /* timer 0's route capabilities */
    assert_int_equal(hr(h, 0xF0, 8), 0);
    hw(h, 0x10, 4, 1);                                /* ENABLE_CNF */
    f.now += 1000;                                    /* 1 us: 100 ticks */
    assert_int_equal(hr(h, 0xF0, 8), 100);
    hw(h, 0x10, 4, 0);                                /* halted: the count stays */
    f.now += 1000;
    assert_int_equal(hr(h, 0xF0, 4), 100);
    /* Timer 2: one-shot, 32-bit, edge, routed to GSI 20, at count 1100. */
    hw(h, 0x140, 4, 1u << 2 | 1u << 8 | 20u << 9);
    hw(h, 0x148, 4, 1100);
    hw(h, 0x10, 4, 1);
    assert_int_equal(hpet_advance(h, f.now), f.now + 10000);
    hpet_advance(h, f.now + 9999);
    assert_int_equal(f.gsi_edges[20], 0);
    uint64_t next = hpet_advance(h, f.now + 10000);
    assert_int_equal(f.gsi_edges[20], 1);
    assert_int_equal(f.gsi[20], 0);                   /* edge: a pulse */
    assert_true(next > f.now + 40ull * 1000000000ull); /* a 32-bit one-shot: after the wrap */
    /* A route outside Tn_INT_ROUTE_CAP is not taken. */
    hw(h, 0x140, 4, 1u << 2 | 1u << 8 | 5u << 9);
    assert_int_equal((hr(h, 0x140, 4) >> 9) & 0x1F, 20);
    /* Timer 0: periodic in legacy replacement mode (as Linux programs it): IRQ0. */
    hw(h, 0x10, 4, 0);
    hw(h, 0x100, 4, 1u << 2 | 1u << 3 | 1u << 6 | 1u << 8);   /* periodic, VAL_SET, 32-bit */
    uint64_t c = hr(h, 0xF0, 8);
    hw(h, 0x108, 4, (uint32_t)(c + 1000));            /* the first match */
    hw(h, 0x108, 4, 1000);                            /* then the period: 10 us */
    hw(h, 0x10, 4, 3);                                /* ENABLE_CNF | LEG_RT_CNF */
    assert_true(f.legacy);
    uint64_t t0 = f.now;
    for (int i = 1; i <= 5; i++)
        hpet_advance(h, t0 + (uint64_t)i * 10000);
    assert_int_equal(f.isa_edges[0], 5);
    /* Missed periods coalesce into one interrupt; the comparator moves past now. */
    hpet_advance(h, t0 + 1000000);
    assert_int_equal(f.isa_edges[0], 6);
    assert_true(hr(h, 0x108, 8) > hr(h, 0xF0, 8));
    /* Level mode on timer 1 (legacy: IRQ8): held until GINTR_STA is cleared. */
    hw(h, 0x120, 4, 1u << 1 | 1u << 2);
    hw(h, 0x128, 8, hr(h, 0xF0, 8) + 5);
    hpet_advance(h, f.now + 50);
    assert_int_equal(f.isa[8], 1);
    assert_int_equal(hr(h, 0x20, 8) & 2, 2);
    hw(h, 0x20, 8, 2);
    assert_int_equal(f.isa[8], 0);
    hw(h, 0x10, 4, 1);
    assert_false(f.legacy);
    hpet_destroy(h);
}

/* Whatever a guest writes, at any width and offset, nothing hangs: advance always
 * returns and every deadline is in the future or none. */
static void test_hostile_registers(void **state)
{
    (void)state;
    Fake f = {.now = 12345};
    Hpet *h = make_hpet(&f);
    AcpiPm *pm = make_pm(&f, false);
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    static const uint64_t patterns[] = {0, 1, ~0ull, 0x8000000000000000ull, 0xFFFFFFFFull};
    for (int i = 0; i < 20000; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        unsigned off = (unsigned)(seed >> 20) % 0x400;
        uint8_t size = (uint8_t)(1u << ((seed >> 40) % 4));
        uint64_t v = (seed >> 50) & 1 ? patterns[(seed >> 44) % 5] : seed;
        hw(h, off, size, v);
        pm_out(pm, (uint16_t)(0x600 + off % 14), size > 4 ? 4 : size, (uint32_t)v);
        f.now += (seed >> 33) % 100000;
        uint64_t next = hpet_advance(h, f.now);
        assert_true(next > f.now);
        next = acpi_pm_advance(pm, f.now);
        assert_true(next > f.now);
    }
    hpet_destroy(h);
    acpi_pm_destroy(pm);
}

/* ---- a VM ---- */

/* Real-mode code: reads the PM timer, spins n iterations (two instructions each), reads
 * it again; EAX = the difference; HLT with IF=0 ends the VM. */
static size_t pm_rate_code(uint8_t *c, uint32_t n)
{
    static const uint8_t head[] = {0xBA, 0x08, 0x06, 0x66, 0xED, 0x66, 0x89, 0xC3, 0x66, 0xB9};
    static const uint8_t tail[] = {0x66, 0x49, 0x75, 0xFC, 0x66, 0xED, 0x66, 0x29, 0xD8, 0xF4};
    size_t k = 0;
    memcpy(c, head, sizeof(head));
    k += sizeof(head);
    for (int i = 0; i < 4; i++)
        c[k++] = (uint8_t)(n >> 8 * i);
    memcpy(c + k, tail, sizeof(tail));
    return k + sizeof(tail);
}

static void test_pm_timer_virtual_clock(void **state)
{
    (void)state;
    uint32_t result[2];
    for (int run = 0; run < 2; run++) {
        SimpleVM *svm = vm_create_bytes(16u << 20, HV_BACKEND_SIM);
        assert_non_null(svm);
        assert_int_equal(vm_set_clock(svm, VM_CLOCK_VIRTUAL), 0);
        uint8_t code[64];
        size_t len = pm_rate_code(code, 1000000);
        assert_int_equal(vm_load_flat(svm, code, len, 0x1000, 0x1000), 0);
        vm_run(svm);
        assert_int_equal(svm->stop_reason, VM_STOP_HLT);
        result[run] = (uint32_t)svm->vcpu->regs.rax;
        vm_destroy(svm);
    }
    /* 2,000,002 instructions between the reads: 2000002 ns at 3.579545 MHz. */
    uint64_t want = 2000002ull * 3579545 / 1000000000;
    assert_true(result[0] + 1 >= want && result[0] <= want + 1);
    assert_int_equal(result[0], result[1]);   /* reproducible */
}

static void test_s5_poweroff_and_power_button(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    SimpleVM *svm = vm_create_bytes(16u << 20, b);
    assert_non_null(svm);
    assert_true(vm_acpi_enabled(svm));
    assert_int_not_equal(vm_acpi_rsdp(svm), 0);
    /* mov dx,0x604; mov ax,SLP_EN|SLP_TYP(S5); out dx,ax; mov al,1; out 0xf4,al */
    const uint8_t code[] = {0xBA, 0x04, 0x06, 0xB8, 0x00, 0x20 | ACPI_SLP_TYP_S5 << 2, 0xEF,
                            0xB0, 0x01, 0xE6, 0xF4};
    assert_int_equal(vm_load_flat(svm, code, sizeof(code), 0x1000, 0x1000), 0);
    vm_run(svm);
    assert_int_equal(svm->stop_reason, VM_STOP_POWEROFF);
    /* The power button sets PWRBTN_STS (read back through the bus). */
    assert_int_equal(vm_power_button(svm), 0);
    uint32_t v = 0;
    assert_int_equal(io_bus_in(svm->io_bus, MACHINE_PM1A_EVT_BLK, 2, &v), 0);
    assert_true(v & ACPI_PM1_PWRBTN);
    /* -no-acpi: an MP table, no RSDP, no power button. */
    assert_int_equal(vm_set_acpi(svm, false), -EBUSY);
    vm_destroy(svm);
    svm = vm_create_bytes(16u << 20, b);
    assert_non_null(svm);
    assert_int_equal(vm_set_acpi(svm, false), 0);
    assert_int_equal(vm_acpi_rsdp(svm), 0);
    assert_memory_equal(vm_guest_ram(svm, MACHINE_EBDA_BASE, 4), "_MP_", 4);
    assert_int_equal(vm_power_button(svm), -ENOTSUP);
    vm_destroy(svm);
}

/* The tables as the guest sees them, each written to a file and decompiled by iasl -d,
 * which must succeed (ACPICA's own parser and checksum checks). */
static void test_iasl_decompiles_every_table(void **state)
{
    (void)state;
    if (system("command -v iasl >/dev/null 2>&1") != 0)
        skip_because("iasl not found (Debian package acpica-tools)");
    SimpleVM *svm = vm_create_bytes(64u << 20, HV_BACKEND_SIM);
    assert_non_null(svm);
    char dir[] = "/tmp/scratchvm-acpi.XXXXXX";
    assert_non_null(mkdtemp(dir));
    const FwTablesInfo *info = &svm->platform->tables;
    assert_true(info->count >= 7);
    for (size_t i = 0; i < info->count; i++) {
        const uint8_t *t = vm_guest_ram(svm, info->tables[i], 8);
        assert_non_null(t);
        uint32_t len = get32(t + 4);
        t = vm_guest_ram(svm, info->tables[i], len);
        assert_non_null(t);
        char path[128], cmd[512];
        snprintf(path, sizeof(path), "%s/%s.dat", dir, info->signatures[i]);
        FILE *out = fopen(path, "wb");
        assert_non_null(out);
        assert_int_equal(fwrite(t, 1, len, out), len);
        fclose(out);
        snprintf(cmd, sizeof(cmd), "cd %s && iasl -d %s.dat > %s.log 2>&1", dir,
                 info->signatures[i], info->signatures[i]);
        int status = system(cmd);
        if (status != 0) {
            snprintf(cmd, sizeof(cmd), "cat %s/%s.log", dir, info->signatures[i]);
            if (system(cmd)) {
            }
            fail_msg("iasl -d %s failed (%d)", info->signatures[i], status);
        }
        print_message("  iasl -d %s.dat: ok\n", info->signatures[i]);
    }
    /* The DSDT's PCI host bridge as ACPICA reads it: its ID, windows and routing (slot 3
     * INTA# is PIRQC: GSI 18; slot 1 INTB# is PIRQB: GSI 17). */
    static const char *const expect[] = {
        "Device (PCI0)", "EisaId (\"PNP0A03\")", "WordBusNumber", "0x00FF,",
        "0x0CF8,", "0x0CF7,", "0x0D00,", "0xFFFF,", "0x000A0000,", "0x000BFFFF,",
        "0xC0000000,", "0xFEBFFFFF,", "Name (_PRT, Package (0x7C)",
        "0x0003FFFF, \n                    Zero, \n                    Zero, \n                    0x12",
    };
    char dsl[128];
    snprintf(dsl, sizeof(dsl), "%s/DSDT.dsl", dir);
    FILE *in = fopen(dsl, "r");
    assert_non_null(in);
    static char text[65536];
    size_t n = fread(text, 1, sizeof(text) - 1, in);
    fclose(in);
    text[n] = '\0';
    for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++)
        if (!strstr(text, expect[i]))
            fail_msg("DSDT.dsl lacks \"%s\":\n%s", expect[i], text);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    vm_destroy(svm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_acpi_tables_checksums_and_lengths),
        cmocka_unit_test(test_madt_entries),
        cmocka_unit_test(test_mp_table),
        cmocka_unit_test(test_e820),
        cmocka_unit_test(test_pm_timer_rate_and_width),
        cmocka_unit_test(test_pm_power_button_and_sci),
        cmocka_unit_test(test_hpet_counter_and_comparators),
        cmocka_unit_test(test_hostile_registers),
        cmocka_unit_test(test_pm_timer_virtual_clock),
        cmocka_unit_test(test_iasl_decompiles_every_table),
    };
    const struct CMUnitTest per_backend[] = {
        cmocka_unit_test(test_s5_poweroff_and_power_button),
    };
    return cmocka_run_group_tests(tests, NULL, NULL) | RUN_ON_EVERY_BACKEND(per_backend);
}
