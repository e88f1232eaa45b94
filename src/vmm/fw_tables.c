/*
 * The firmware tables of fw_tables.h, built from a MachineDesc: the same description the
 * platform wires the devices from, so the tables say what the guest will find.
 *
 * ACPI (ACPI 6.5 chapter 5; FADT revision 3, the ACPI 2.0 layout with 64-bit X_ fields
 * that QEMU's pc machine also uses), in the E segment:
 *   0xE0000  FACS (64-byte aligned; ACPI NVS: the OS writes it at run time)
 *   0xE1000  RSDP, then RSDT, XSDT, FADT, MADT, HPET, DSDT (ACPI reclaimable)
 * MP (Intel MultiProcessor Specification 1.4, chapter 4), with -no-acpi: the floating
 * pointer in the first KiB of the EBDA (4.1: where the OS searches first), the
 * configuration table at 0xE0000.
 *
 * The DSDT's AML comes from the small encoder below rather than from an .asl compiled by
 * iasl at build time: the DSDT holds \_S5 and the PCI host bridge, so a few hundred lines
 * of C keep iasl out of the build's dependencies (the tests use iasl, when present, only
 * to decompile the tables).
 */
#include <errno.h>
#include <string.h>

#include "dev/hpet.h"
#include "vmm/fw_tables.h"

#define ACPI_OEM_ID "SCRVM "          /* 6 bytes */
#define ACPI_OEM_TABLE_ID "SCRATCHV"  /* 8 bytes */
#define ACPI_OEM_REVISION 1
#define ACPI_CREATOR_ID "SVMM"
#define ACPI_CREATOR_REVISION 1
#define ACPI_HEADER_SIZE 36

#define RSDP_SIZE 36                  /* 5.2.5.3, revision 2 */
#define FACS_SIZE 64                  /* 5.2.10 */
#define FADT_SIZE 244                 /* 5.2.9, revision 3 */
#define FADT_REVISION 3
#define HPET_TABLE_SIZE 56            /* IA-PC HPET 1.0a, 3.2.4 */

/* FADT Flags (5.2.9, Table "Fixed ACPI Description Table Fixed Feature Flags"). */
#define FADT_WBINVD (1u << 0)
#define FADT_PROC_C1 (1u << 2)
#define FADT_SLP_BUTTON (1u << 5)     /* no fixed sleep button */
#define FADT_RTC_S4 (1u << 7)
#define FADT_TMR_VAL_EXT (1u << 8)    /* a 32-bit PM timer */
#define FADT_RESET_REG_SUP (1u << 10)
#define FADT_USE_PLATFORM_CLOCK (1u << 15)
/* IAPC_BOOT_ARCH (5.2.9.3): legacy ISA devices, an 8042. */
#define FADT_IAPC_LEGACY_DEVICES (1u << 0)
#define FADT_IAPC_8042 (1u << 1)
#define FADT_C_STATE_NONE_LAT2 0x65   /* > 100 us: C2 not supported */
#define FADT_C_STATE_NONE_LAT3 0x3E9  /* > 1000 us: C3 not supported */
#define CMOS_CENTURY 0x32

/* Generic Address Structure (5.2.3.2). */
#define GAS_SYSTEM_MEMORY 0
#define GAS_SYSTEM_IO 1
#define GAS_ACCESS_BYTE 1
#define GAS_ACCESS_WORD 2
#define GAS_ACCESS_DWORD 3

/* MADT (5.2.12). */
#define MADT_PCAT_COMPAT 1u
#define MADT_LOCAL_APIC 0
#define MADT_IO_APIC 1
#define MADT_INT_OVERRIDE 2
#define MADT_LOCAL_APIC_NMI 4
#define MADT_ENABLED 1u
#define MPS_INTI_POLARITY_HIGH 0x1u   /* 5.2.12.5, Table "MPS INTI Flags" */
#define MPS_INTI_TRIGGER_LEVEL 0xCu
#define MADT_ALL_PROCESSORS 0xFF

/* AML (chapter 20, "ACPI Machine Language Specification"). */
#define AML_ZERO_OP 0x00
#define AML_ONE_OP 0x01
#define AML_NAME_OP 0x08
#define AML_BYTE_PREFIX 0x0A
#define AML_WORD_PREFIX 0x0B
#define AML_DWORD_PREFIX 0x0C
#define AML_QWORD_PREFIX 0x0E
#define AML_SCOPE_OP 0x10
#define AML_BUFFER_OP 0x11
#define AML_PACKAGE_OP 0x12
#define AML_EXT_OP_PREFIX 0x5B
#define AML_DEVICE_OP 0x82             /* after AML_EXT_OP_PREFIX */
#define AML_ROOT_CHAR 0x5C

/* Resource descriptors (6.4): the small I/O port descriptor, the large word and dword
 * address space descriptors, the end tag. */
#define RES_IO_PORT 0x47
#define RES_IO_DECODE16 0x01
#define RES_DWORD_ADDRESS 0x87
#define RES_WORD_ADDRESS 0x88
#define RES_END_TAG 0x79
#define RES_TYPE_MEMORY 0
#define RES_TYPE_IO 1
#define RES_TYPE_BUS 2
#define RES_MIN_MAX_FIXED 0x0C         /* general flags: _MIF, _MAF; producer, positive */
#define RES_IO_ENTIRE_RANGE 0x03
#define RES_MEM_CACHEABLE_RW 0x03
/* EisaId("PNP0A03"), the PCI host bridge (compressed EISA ID, 6.1.5). */
#define EISA_PNP0A03 0x030AD041u
#define DSDT_REVISION 2               /* 64-bit AML integers */

/* MP specification 1.4. */
#define MP_SPEC_REV 4
#define MPFP_SIZE 16
#define MPC_HEADER_SIZE 44
#define MPC_PROCESSOR 0
#define MPC_BUS 1
#define MPC_IOAPIC 2
#define MPC_IOINT 3
#define MPC_LINTSRC 4
#define MPC_PROCESSOR_SIZE 20
#define MPC_ENTRY_SIZE 8
#define MP_CPU_ENABLED 0x01
#define MP_CPU_BSP 0x02
#define MP_CPU_SIGNATURE 0x600        /* family 6 */
#define MP_CPU_FEATURES 0x201         /* FPU, APIC (CPUID.1:EDX) */
#define MP_LAPIC_VERSION 0x14
#define MP_IOAPIC_VERSION 0x11
#define MP_INT 0
#define MP_NMI 1
#define MP_EXTINT 3
#define MP_BUS_ISA 0
#define MP_BUS_PCI 1
#define MP_FLAGS_ACTIVE_LOW 0x3       /* 4.3.4, Table 4-10: PO = 11b */
#define MP_FLAGS_LEVEL 0xC            /* EL = 11b */
#define MP_PCI_INTS (31 * 4)          /* slots 1-31, INTA#-INTD# */
#define MP_ALL_LAPICS 0xFF

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)v); put32(p + 4, (uint32_t)(v >> 32)); }

/* The byte that makes p[0..len) sum to zero (5.2.6: all bytes of a table sum to 0). */
static uint8_t checksum(const uint8_t *p, size_t len)
{
    uint8_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum = (uint8_t)(sum + p[i]);
    return (uint8_t)(0x100 - sum);
}

/* ---- placing tables in the area ---- */

typedef struct {
    uint8_t *area;
    size_t pos;
    bool full;
} Placer;

static uint8_t *place(Placer *pl, size_t len, size_t align, uint64_t *gpa)
{
    size_t at = (pl->pos + align - 1) & ~(align - 1);
    if (at > MACHINE_FW_TABLES_SIZE || len > MACHINE_FW_TABLES_SIZE - at) {
        pl->full = true;
        return NULL;
    }
    pl->pos = at + len;
    *gpa = MACHINE_FW_TABLES_BASE + at;
    return pl->area + at;
}

/* ---- ACPI ---- */

static void acpi_header(uint8_t *t, const char sig[4], uint32_t len, uint8_t revision)
{
    memcpy(t, sig, 4);
    put32(t + 4, len);
    t[8] = revision;
    memcpy(t + 10, ACPI_OEM_ID, 6);
    memcpy(t + 16, ACPI_OEM_TABLE_ID, 8);
    put32(t + 24, ACPI_OEM_REVISION);
    memcpy(t + 28, ACPI_CREATOR_ID, 4);
    put32(t + 32, ACPI_CREATOR_REVISION);
}

static void acpi_seal(uint8_t *t, uint32_t len)
{
    t[9] = 0;
    t[9] = checksum(t, len);
}

static void gas(uint8_t *p, uint8_t space, uint8_t bits, uint8_t access, uint64_t addr)
{
    p[0] = space;
    p[1] = bits;
    p[2] = 0;   /* bit offset */
    p[3] = access;
    put64(p + 4, addr);
}

/* A small AML writer: bytes into a fixed buffer; overflow is remembered, not written. */
typedef struct {
    uint8_t b[4096];
    size_t n;
    bool overflow;
} Aml;

static void aml_byte(Aml *a, uint8_t v)
{
    if (a->n < sizeof(a->b))
        a->b[a->n++] = v;
    else
        a->overflow = true;
}

static void aml_bytes(Aml *a, const void *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        aml_byte(a, ((const uint8_t *)p)[i]);
}

/* PkgLength (20.2.4): the length of what follows the opcode, itself included; one byte
 * up to 63, else a lead byte (count of following bytes in bits 7:6, low nibble) and up
 * to three bytes more. */
static void aml_pkg_length(Aml *a, size_t content)
{
    size_t extra = content + 1 < 0x40 ? 0 : content + 2 < 0x1000 ? 1 : content + 3 < 0x100000 ? 2 : 3;
    size_t total = content + 1 + extra;
    if (extra == 0) {
        aml_byte(a, (uint8_t)total);
        return;
    }
    aml_byte(a, (uint8_t)(extra << 6 | (total & 0xF)));
    for (size_t i = 0; i < extra; i++)
        aml_byte(a, (uint8_t)(total >> (4 + 8 * i)));
}

/* ComputationalData for an integer (20.2.3): the shortest encoding. */
static void aml_integer(Aml *a, uint64_t v)
{
    if (v <= 1) {
        aml_byte(a, v ? AML_ONE_OP : AML_ZERO_OP);
        return;
    }
    unsigned len = v <= 0xFF ? 1 : v <= 0xFFFF ? 2 : v <= 0xFFFFFFFFull ? 4 : 8;
    aml_byte(a, len == 1 ? AML_BYTE_PREFIX : len == 2 ? AML_WORD_PREFIX
                : len == 4 ? AML_DWORD_PREFIX : AML_QWORD_PREFIX);
    for (unsigned i = 0; i < len; i++)
        aml_byte(a, (uint8_t)(v >> 8 * i));
}

/* Name(\NAME, Package() {values}): a root-level NameSeg bound to a package of integers. */
static void aml_name_package(Aml *a, const char seg[4], const uint64_t *values, uint8_t count)
{
    Aml elems = {0};
    for (uint8_t i = 0; i < count; i++)
        aml_integer(&elems, values[i]);
    aml_byte(a, AML_NAME_OP);
    aml_byte(a, AML_ROOT_CHAR);
    aml_bytes(a, seg, 4);
    aml_byte(a, AML_PACKAGE_OP);
    aml_pkg_length(a, 1 + elems.n);
    aml_byte(a, count);   /* NumElements */
    aml_bytes(a, elems.b, elems.n);
    a->overflow |= elems.overflow;
}

/* The DSDT's definition block: \_S5 (7.4.2: SLP_TYPa, SLP_TYPb, two reserved), which is
 * what OSPM needs to power off. The power button is the FADT's fixed feature (PWR_BUTTON
 * flag clear), which by 4.8.2.2.1.1 excludes a control-method PNP0C0C device here; Linux
 * shows it as the LNXPWRBN device. */
/* A block opcode (Scope, Device, Buffer, Package) around an already encoded body. */
static void aml_block(Aml *a, const uint8_t *op, size_t op_len, const Aml *body)
{
    aml_bytes(a, op, op_len);
    aml_pkg_length(a, body->n);
    aml_bytes(a, body->b, body->n);
    a->overflow |= body->overflow;
}

static void aml_name_integer(Aml *a, const char seg[4], uint64_t v)
{
    aml_byte(a, AML_NAME_OP);
    aml_bytes(a, seg, 4);
    aml_integer(a, v);
}

/* Word (bus number, I/O) or dword (memory) address space descriptor of a window the
 * bridge produces, [min, max]. */
static void res_address(Aml *r, bool dword, uint8_t type, uint8_t specific, uint64_t min,
                        uint64_t max)
{
    unsigned w = dword ? 4 : 2;
    aml_byte(r, dword ? RES_DWORD_ADDRESS : RES_WORD_ADDRESS);
    aml_byte(r, (uint8_t)(3 + 5 * w));
    aml_byte(r, 0);
    aml_byte(r, type);
    aml_byte(r, RES_MIN_MAX_FIXED);
    aml_byte(r, specific);
    const uint64_t fields[5] = {0, min, max, 0, max - min + 1};   /* _GRA _MIN _MAX _TRA _LEN */
    for (int f = 0; f < 5; f++)
        for (unsigned i = 0; i < w; i++)
            aml_byte(r, (uint8_t)(fields[f] >> (8 * i)));
}

/* \_SB.PCI0: the host bridge (PNP0A03) with its windows (_CRS: bus 0-255, the
 * configuration ports, all I/O but them, the VGA window and the PCI memory window) and
 * its interrupt routing (_PRT, 6.2.13): INTA-D of each slot to the GSI of its PIRQ,
 * hard-wired (Source 0), so level and active low. */
static void dsdt_pci0(Aml *a)
{
    Aml res = {0};
    res_address(&res, false, RES_TYPE_BUS, 0, 0, 0xFF);
    const uint8_t lo = MACHINE_PCI_CONFIG_ADDRESS & 0xFF, hi = MACHINE_PCI_CONFIG_ADDRESS >> 8;
    const uint8_t cfg_ports[8] = {RES_IO_PORT, RES_IO_DECODE16, lo, hi, lo, hi, 1, 8};
    aml_bytes(&res, cfg_ports, sizeof(cfg_ports));
    res_address(&res, false, RES_TYPE_IO, RES_IO_ENTIRE_RANGE, 0, MACHINE_PCI_CONFIG_ADDRESS - 1);
    res_address(&res, false, RES_TYPE_IO, RES_IO_ENTIRE_RANGE, MACHINE_PCI_CONFIG_ADDRESS + 8,
                0xFFFF);
    res_address(&res, true, RES_TYPE_MEMORY, RES_MEM_CACHEABLE_RW, MACHINE_VGA_HOLE_START,
                MACHINE_VGA_HOLE_END - 1);
    res_address(&res, true, RES_TYPE_MEMORY, RES_MEM_CACHEABLE_RW, MACHINE_PCI_MMIO_BASE,
                MACHINE_PCI_MMIO_END - 1);
    aml_byte(&res, RES_END_TAG);
    aml_byte(&res, 0);   /* checksum 0: treated as correct (6.4.2.9) */
    Aml buf = {0};
    aml_integer(&buf, res.n);
    aml_bytes(&buf, res.b, res.n);
    buf.overflow |= res.overflow;

    Aml prt = {0};
    unsigned entries = 0;
    for (unsigned slot = 1; slot < 32; slot++) {
        for (unsigned pin = 0; pin < 4; pin++) {
            Aml e = {0};
            aml_byte(&e, 4);   /* NumElements: Address, Pin, Source, Source Index */
            aml_integer(&e, (uint64_t)slot << 16 | 0xFFFF);
            aml_integer(&e, pin);
            aml_integer(&e, 0);
            aml_integer(&e, MACHINE_PCI_GSI_BASE + ((slot + pin + 3) & 3));
            const uint8_t op = AML_PACKAGE_OP;
            aml_block(&prt, &op, 1, &e);
            entries++;
        }
    }
    Aml prt_pkg = {0};
    aml_byte(&prt_pkg, (uint8_t)entries);
    aml_bytes(&prt_pkg, prt.b, prt.n);
    prt_pkg.overflow |= prt.overflow;

    Aml dev = {0};
    aml_bytes(&dev, "PCI0", 4);
    aml_name_integer(&dev, "_HID", EISA_PNP0A03);
    aml_name_integer(&dev, "_UID", 0);
    aml_byte(&dev, AML_NAME_OP);
    aml_bytes(&dev, "_CRS", 4);
    const uint8_t buffer_op = AML_BUFFER_OP, package_op = AML_PACKAGE_OP;
    aml_block(&dev, &buffer_op, 1, &buf);
    aml_byte(&dev, AML_NAME_OP);
    aml_bytes(&dev, "_PRT", 4);
    aml_block(&dev, &package_op, 1, &prt_pkg);

    Aml scope = {0};
    aml_byte(&scope, AML_ROOT_CHAR);
    aml_bytes(&scope, "_SB_", 4);
    const uint8_t device_op[2] = {AML_EXT_OP_PREFIX, AML_DEVICE_OP};
    aml_block(&scope, device_op, 2, &dev);
    const uint8_t scope_op = AML_SCOPE_OP;
    aml_block(a, &scope_op, 1, &scope);
}

static void dsdt_aml(Aml *a)
{
    const uint64_t s5[4] = {ACPI_SLP_TYP_S5, ACPI_SLP_TYP_S5, 0, 0};
    aml_name_package(a, "_S5_", s5, 4);
    dsdt_pci0(a);
}

static uint32_t madt_size(const MachineDesc *m)
{
    return ACPI_HEADER_SIZE + 8 + 8 * m->cpus + 12 + 2 * 10 + 6;
}

static void build_madt(const MachineDesc *m, uint8_t *t)
{
    uint32_t len = madt_size(m);
    acpi_header(t, "APIC", len, 1);
    put32(t + 36, (uint32_t)MACHINE_LAPIC_BASE);
    put32(t + 40, MADT_PCAT_COMPAT);   /* the 8259A pair is there too */
    uint8_t *e = t + 44;
    for (unsigned i = 0; i < m->cpus; i++, e += 8) {   /* 5.2.12.2 */
        e[0] = MADT_LOCAL_APIC;
        e[1] = 8;
        e[2] = (uint8_t)i;   /* ACPI processor UID */
        e[3] = (uint8_t)i;   /* APIC ID */
        put32(e + 4, MADT_ENABLED);
    }
    e[0] = MADT_IO_APIC;   /* 5.2.12.3 */
    e[1] = 12;
    e[2] = MACHINE_IOAPIC_ID;
    e[3] = 0;
    put32(e + 4, (uint32_t)MACHINE_IOAPIC_BASE);
    put32(e + 8, 0);       /* GSI base */
    e += 12;
    /* Interrupt source overrides (5.2.12.5), as on a PC: ISA IRQ0 is GSI 2; the SCI is
     * level-triggered, active high (5.2.9: "SCI_INT ... active low, level" unless
     * overridden; QEMU overrides it the same way). */
    const struct { uint8_t irq; uint32_t gsi; uint16_t flags; } iso[2] = {
        {MACHINE_IRQ_PIT, MACHINE_GSI_PIT, 0},
        {MACHINE_IRQ_SCI, MACHINE_IRQ_SCI, MPS_INTI_POLARITY_HIGH | MPS_INTI_TRIGGER_LEVEL},
    };
    for (int i = 0; i < 2; i++, e += 10) {
        e[0] = MADT_INT_OVERRIDE;
        e[1] = 10;
        e[2] = 0;   /* bus: ISA */
        e[3] = iso[i].irq;
        put32(e + 4, iso[i].gsi);
        put16(e + 8, iso[i].flags);
    }
    e[0] = MADT_LOCAL_APIC_NMI;   /* 5.2.12.7: NMI on every processor's LINT1 */
    e[1] = 6;
    e[2] = MADT_ALL_PROCESSORS;
    put16(e + 3, 0);
    e[5] = 1;
    acpi_seal(t, len);
}

static void build_fadt(const MachineDesc *m, uint8_t *t, uint64_t facs, uint64_t dsdt)
{
    acpi_header(t, "FACP", FADT_SIZE, FADT_REVISION);
    put32(t + 36, (uint32_t)facs);
    put32(t + 40, (uint32_t)dsdt);
    put16(t + 46, MACHINE_IRQ_SCI);
    /* SMI_CMD (48) 0: no SMI command port, the system is always in ACPI mode. */
    put32(t + 56, MACHINE_PM1A_EVT_BLK);
    put32(t + 64, MACHINE_PM1A_CNT_BLK);
    put32(t + 76, MACHINE_PM_TMR_BLK);
    t[88] = MACHINE_PM1_EVT_LEN;
    t[89] = MACHINE_PM1_CNT_LEN;
    t[91] = MACHINE_PM_TMR_LEN;
    put16(t + 96, FADT_C_STATE_NONE_LAT2);
    put16(t + 98, FADT_C_STATE_NONE_LAT3);
    t[108] = CMOS_CENTURY;
    put16(t + 109, FADT_IAPC_LEGACY_DEVICES | FADT_IAPC_8042);
    put32(t + 112, FADT_WBINVD | FADT_PROC_C1 | FADT_SLP_BUTTON | FADT_RTC_S4 |
                       FADT_RESET_REG_SUP | FADT_USE_PLATFORM_CLOCK |
                       (m->pm_timer_32bit ? FADT_TMR_VAL_EXT : 0));
    gas(t + 116, GAS_SYSTEM_IO, 8, GAS_ACCESS_BYTE, MACHINE_RESET_PORT);
    t[128] = MACHINE_RESET_VALUE;
    /* X_FIRMWARE_CTRL stays 0: FIRMWARE_CTRL reaches the FACS, and an OS must ignore the
     * 32-bit field when the 64-bit one is set (5.2.9), so one of them says it once. */
    put64(t + 140, dsdt);
    gas(t + 148, GAS_SYSTEM_IO, MACHINE_PM1_EVT_LEN * 8, GAS_ACCESS_WORD, MACHINE_PM1A_EVT_BLK);
    gas(t + 172, GAS_SYSTEM_IO, MACHINE_PM1_CNT_LEN * 8, GAS_ACCESS_WORD, MACHINE_PM1A_CNT_BLK);
    gas(t + 208, GAS_SYSTEM_IO, MACHINE_PM_TMR_LEN * 8, GAS_ACCESS_DWORD, MACHINE_PM_TMR_BLK);
    acpi_seal(t, FADT_SIZE);
}

static void build_hpet(uint8_t *t)
{
    acpi_header(t, "HPET", HPET_TABLE_SIZE, 1);
    put32(t + 36, HPET_CAP_ID_LOW);   /* the Event Timer Block ID: GCAP_ID bits 31:0 */
    gas(t + 40, GAS_SYSTEM_MEMORY, 64, 0, MACHINE_HPET_BASE);
    t[52] = 0;                        /* HPET number */
    put16(t + 53, 0x80);              /* minimum periodic tick without lost interrupts */
    t[55] = 0;                        /* no page protection */
    acpi_seal(t, HPET_TABLE_SIZE);
}

static void note(FwTablesInfo *info, const char *sig, uint64_t gpa)
{
    if (info->count < sizeof(info->tables) / sizeof(info->tables[0])) {
        memcpy(info->signatures[info->count], sig, 4);
        info->signatures[info->count][4] = 0;
        info->tables[info->count++] = gpa;
    }
}

static int build_acpi(const MachineDesc *m, uint8_t *area, FwTablesInfo *info)
{
    Placer pl = {area, 0, false};
    Aml dsdt_body = {0};
    dsdt_aml(&dsdt_body);
    if (dsdt_body.overflow)
        return -ENOSPC;
    /* FADT, MADT, HPET (the DSDT hangs off the FADT) */
    const unsigned SDT_ENTRIES = m->hpet ? 3 : 2;
    uint32_t rsdt_len = ACPI_HEADER_SIZE + 4 * SDT_ENTRIES, xsdt_len = ACPI_HEADER_SIZE + 8 * SDT_ENTRIES;
    uint32_t dsdt_len = ACPI_HEADER_SIZE + (uint32_t)dsdt_body.n;
    uint64_t facs_at, rsdp_at, rsdt_at, xsdt_at, fadt_at, madt_at, hpet_at, dsdt_at;
    uint8_t *facs = place(&pl, FACS_SIZE, 64, &facs_at);
    pl.pos = MACHINE_ACPI_NVS_SIZE;   /* the rest is ACPI reclaimable (machine_e820) */
    uint8_t *rsdp = place(&pl, RSDP_SIZE, 16, &rsdp_at);
    uint8_t *rsdt = place(&pl, rsdt_len, 16, &rsdt_at);
    uint8_t *xsdt = place(&pl, xsdt_len, 16, &xsdt_at);
    uint8_t *fadt = place(&pl, FADT_SIZE, 16, &fadt_at);
    uint8_t *madt = place(&pl, madt_size(m), 16, &madt_at);
    uint8_t *hpet = NULL;
    hpet_at = 0;
    if (m->hpet)
        hpet = place(&pl, HPET_TABLE_SIZE, 16, &hpet_at);
    uint8_t *dsdt = place(&pl, dsdt_len, 16, &dsdt_at);
    if (pl.full)
        return -ENOSPC;

    memcpy(facs, "FACS", 4);   /* 5.2.10: no checksum; version 2 */
    put32(facs + 4, FACS_SIZE);
    facs[32] = 2;
    build_fadt(m, fadt, facs_at, dsdt_at);
    build_madt(m, madt);
    if (hpet)
        build_hpet(hpet);
    acpi_header(dsdt, "DSDT", dsdt_len, DSDT_REVISION);
    memcpy(dsdt + ACPI_HEADER_SIZE, dsdt_body.b, dsdt_body.n);
    acpi_seal(dsdt, dsdt_len);

    const uint64_t sdts[3] = {fadt_at, madt_at, hpet_at};
    acpi_header(rsdt, "RSDT", rsdt_len, 1);
    acpi_header(xsdt, "XSDT", xsdt_len, 1);
    for (unsigned i = 0; i < SDT_ENTRIES; i++) {
        put32(rsdt + ACPI_HEADER_SIZE + 4 * i, (uint32_t)sdts[i]);
        put64(xsdt + ACPI_HEADER_SIZE + 8 * i, sdts[i]);
    }
    acpi_seal(rsdt, rsdt_len);
    acpi_seal(xsdt, xsdt_len);

    memcpy(rsdp, "RSD PTR ", 8);   /* 5.2.5.3 */
    memcpy(rsdp + 9, ACPI_OEM_ID, 6);
    rsdp[15] = 2;                  /* ACPI 2.0+: the XSDT is there */
    put32(rsdp + 16, (uint32_t)rsdt_at);
    put32(rsdp + 20, RSDP_SIZE);
    put64(rsdp + 24, xsdt_at);
    rsdp[8] = checksum(rsdp, 20);  /* the ACPI 1.0 part */
    rsdp[32] = checksum(rsdp, RSDP_SIZE);

    info->rsdp = rsdp_at;
    note(info, "RSDT", rsdt_at);
    note(info, "XSDT", xsdt_at);
    note(info, "FACP", fadt_at);
    note(info, "FACS", facs_at);
    note(info, "APIC", madt_at);
    if (hpet)
        note(info, "HPET", hpet_at);
    note(info, "DSDT", dsdt_at);
    return 0;
}

/* ---- MP table ---- */

static uint8_t *mp_entry(uint8_t **e, uint8_t type)
{
    uint8_t *p = *e;
    p[0] = type;
    *e += type == MPC_PROCESSOR ? MPC_PROCESSOR_SIZE : MPC_ENTRY_SIZE;
    return p;
}

static int build_mp(const MachineDesc *m, uint8_t *area, uint8_t *ebda, FwTablesInfo *info)
{
    if (!ebda)
        return 0;   /* no EBDA in RAM: nowhere the OS would look */
    unsigned entries = m->cpus + 2 + 1 + (MACHINE_ISA_IRQS - 1) + MP_PCI_INTS + 2;
    size_t len = MPC_HEADER_SIZE + m->cpus * MPC_PROCESSOR_SIZE + (entries - m->cpus) * MPC_ENTRY_SIZE;
    if (len > MACHINE_FW_TABLES_SIZE)
        return -ENOSPC;
    uint8_t *t = area, *e = area + MPC_HEADER_SIZE;
    for (unsigned i = 0; i < m->cpus; i++) {   /* 4.3.1 */
        uint8_t *p = mp_entry(&e, MPC_PROCESSOR);
        p[1] = (uint8_t)i;
        p[2] = MP_LAPIC_VERSION;
        p[3] = MP_CPU_ENABLED | (i == 0 ? MP_CPU_BSP : 0);
        put32(p + 4, MP_CPU_SIGNATURE);
        put32(p + 8, MP_CPU_FEATURES);
    }
    uint8_t *bus = mp_entry(&e, MPC_BUS);   /* 4.3.2 */
    bus[1] = MP_BUS_ISA;
    memcpy(bus + 2, "ISA   ", 6);
    bus = mp_entry(&e, MPC_BUS);
    bus[1] = MP_BUS_PCI;
    memcpy(bus + 2, "PCI   ", 6);
    uint8_t *io = mp_entry(&e, MPC_IOAPIC);   /* 4.3.3 */
    io[1] = MACHINE_IOAPIC_ID;
    io[2] = MP_IOAPIC_VERSION;
    io[3] = 1;   /* usable */
    put32(io + 4, (uint32_t)MACHINE_IOAPIC_BASE);
    for (int irq = 0; irq < MACHINE_ISA_IRQS; irq++) {   /* 4.3.4: flags 0, conforming */
        if (irq == 2)
            continue;   /* the cascade */
        uint8_t *p = mp_entry(&e, MPC_IOINT);
        p[1] = MP_INT;
        p[4] = 0;   /* ISA bus */
        p[5] = (uint8_t)irq;
        p[6] = MACHINE_IOAPIC_ID;
        p[7] = (uint8_t)(irq == MACHINE_IRQ_PIT ? MACHINE_GSI_PIT : irq);
    }
    /* PCI INTx (D.3: source bus IRQ = device << 2 | pin, INTA# 0): each slot's pins to
     * the GSI of its PIRQ, level and active low, as the DSDT's _PRT says. */
    for (unsigned slot = 1; slot < 32; slot++) {
        for (unsigned pin = 0; pin < 4; pin++) {
            uint8_t *p = mp_entry(&e, MPC_IOINT);
            p[1] = MP_INT;
            put16(p + 2, MP_FLAGS_ACTIVE_LOW | MP_FLAGS_LEVEL);
            p[4] = MP_BUS_PCI;
            p[5] = (uint8_t)(slot << 2 | pin);
            p[6] = MACHINE_IOAPIC_ID;
            p[7] = (uint8_t)(MACHINE_PCI_GSI_BASE + ((slot + pin + 3) & 3));
        }
    }
    const uint8_t lint_type[2] = {MP_EXTINT, MP_NMI};   /* 4.3.5: LINT0 the 8259A, LINT1 NMI */
    for (int l = 0; l < 2; l++) {
        uint8_t *p = mp_entry(&e, MPC_LINTSRC);
        p[1] = lint_type[l];
        p[6] = MP_ALL_LAPICS;
        p[7] = (uint8_t)l;
    }
    memcpy(t, "PCMP", 4);   /* 4.2, Table 4-2 */
    put16(t + 4, (uint16_t)len);
    t[6] = MP_SPEC_REV;
    memcpy(t + 8, "SCRVM   ", 8);
    memcpy(t + 16, "SCRATCHVM   ", 12);
    put16(t + 34, (uint16_t)entries);
    put32(t + 36, (uint32_t)MACHINE_LAPIC_BASE);
    t[7] = checksum(t, len);

    memcpy(ebda, "_MP_", 4);   /* 4.1, Table 4-1 */
    put32(ebda + 4, (uint32_t)MACHINE_FW_TABLES_BASE);
    ebda[8] = 1;               /* length in 16-byte paragraphs */
    ebda[9] = MP_SPEC_REV;
    ebda[11] = 0;              /* feature byte 1: the configuration table is there */
    ebda[10] = checksum(ebda, MPFP_SIZE);
    info->mp_floating = MACHINE_EBDA_BASE;
    return 0;
}

int fw_tables_build(const MachineDesc *m, uint8_t *area, uint8_t *ebda, FwTablesInfo *info)
{
    if (!m || !area || !info || m->cpus == 0 || m->cpus > 255)
        return -EINVAL;
    memset(info, 0, sizeof(*info));
    memset(area, 0, MACHINE_FW_TABLES_SIZE);
    if (ebda)
        memset(ebda, 0, MPFP_SIZE);   /* no stale floating pointer from an earlier build */
    return m->acpi ? build_acpi(m, area, info) : build_mp(m, area, ebda, info);
}

int fw_tables_install(SimpleVM *svm, const MachineDesc *m, FwTablesInfo *info)
{
    FwTablesInfo none;
    if (!info)
        info = &none;
    memset(info, 0, sizeof(*info));
    if (!svm || !m)
        return -EINVAL;
    if (!machine_has_fw_tables(m))
        return 0;
    uint8_t *area = vm_guest_ram(svm, MACHINE_FW_TABLES_BASE, MACHINE_FW_TABLES_SIZE);
    uint8_t *ebda = vm_guest_ram(svm, MACHINE_EBDA_BASE, MACHINE_EBDA_SIZE);
    if (!area)
        return 0;   /* firmware mapped over the area brings its own tables */
    int r = fw_tables_build(m, area, ebda, info);
    vm_guest_ram_written(svm, MACHINE_FW_TABLES_BASE, MACHINE_FW_TABLES_SIZE);
    if (ebda)
        vm_guest_ram_written(svm, MACHINE_EBDA_BASE, MACHINE_EBDA_SIZE);
    return r;
}
