/* Unit tests for the sim's VMCS (src/sim/vmcs.c) against the Intel SDM Vol. 3C: field
 * encodings (Appendix B), VMREAD/VMWRITE (chapter 31), the guest-state checks of VM
 * entry (27.3.1) and the exit-qualification layouts (28.2.1). The encodings are spelled
 * out again here as numbers, so the tests check the SDM rather than the constants. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hypervisor_sim.h"
#include "sim/vmcs.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------------------------ */
/* Encodings                                                                             */
/* ------------------------------------------------------------------------------------ */

/* Every field the VMCS struct holds, with its SDM encoding written as a number and the
 * struct member it must land in. */
#define M(enc, member) {enc, #member, offsetof(VMCS, member), sizeof(((VMCS *)0)->member)}
static const struct {
    uint32_t encoding;
    const char *member;
    size_t offset, size;
} expected[] = {
    M(0x0000, control.vpid),
    M(0x0800, guest.es.selector), M(0x0802, guest.cs.selector), M(0x0804, guest.ss.selector),
    M(0x0806, guest.ds.selector), M(0x0808, guest.fs.selector), M(0x080A, guest.gs.selector),
    M(0x080C, guest.ldtr.selector), M(0x080E, guest.tr.selector),
    M(0x0C00, host.es_selector), M(0x0C02, host.cs_selector), M(0x0C04, host.ss_selector),
    M(0x0C06, host.ds_selector), M(0x0C08, host.fs_selector), M(0x0C0A, host.gs_selector),
    M(0x0C0C, host.tr_selector),
    M(0x2000, control.io_bitmap_a), M(0x2002, control.io_bitmap_b),
    M(0x2004, control.msr_bitmap), M(0x2010, control.tsc_offset),
    M(0x201A, control.ept_pointer),
    M(0x2400, exit.guest_physical_address),
    M(0x2800, guest.vmcs_link_pointer), M(0x2802, guest.ia32_debugctl),
    M(0x2804, guest.ia32_pat), M(0x2806, guest.ia32_efer),
    M(0x2C00, host.ia32_pat), M(0x2C02, host.ia32_efer),
    M(0x4000, control.pin_based), M(0x4002, control.cpu_based),
    M(0x4004, control.exception_bitmap), M(0x400C, control.exit_controls),
    M(0x4012, control.entry_controls), M(0x4016, control.entry_interruption_info),
    M(0x4018, control.entry_exception_error_code), M(0x401A, control.entry_instruction_length),
    M(0x401E, control.secondary),
    M(0x4400, exit.vm_instruction_error), M(0x4402, exit.reason),
    M(0x4404, exit.interruption_info), M(0x4406, exit.interruption_error_code),
    M(0x4408, exit.idt_vectoring_info), M(0x440A, exit.idt_vectoring_error_code),
    M(0x440C, exit.instruction_length), M(0x440E, exit.instruction_info),
    M(0x4800, guest.es.limit), M(0x4802, guest.cs.limit), M(0x4804, guest.ss.limit),
    M(0x4806, guest.ds.limit), M(0x4808, guest.fs.limit), M(0x480A, guest.gs.limit),
    M(0x480C, guest.ldtr.limit), M(0x480E, guest.tr.limit),
    M(0x4810, guest.gdtr_limit), M(0x4812, guest.idtr_limit),
    M(0x4814, guest.es.access_rights), M(0x4816, guest.cs.access_rights),
    M(0x4818, guest.ss.access_rights), M(0x481A, guest.ds.access_rights),
    M(0x481C, guest.fs.access_rights), M(0x481E, guest.gs.access_rights),
    M(0x4820, guest.ldtr.access_rights), M(0x4822, guest.tr.access_rights),
    M(0x4824, guest.interruptibility_state), M(0x4826, guest.activity_state),
    M(0x482A, guest.sysenter_cs),
    M(0x6000, control.cr0_guest_host_mask), M(0x6002, control.cr4_guest_host_mask),
    M(0x6004, control.cr0_read_shadow), M(0x6006, control.cr4_read_shadow),
    M(0x6400, exit.qualification), M(0x640A, exit.guest_linear_address),
    M(0x6800, guest.cr0), M(0x6802, guest.cr3), M(0x6804, guest.cr4),
    M(0x6806, guest.es.base), M(0x6808, guest.cs.base), M(0x680A, guest.ss.base),
    M(0x680C, guest.ds.base), M(0x680E, guest.fs.base), M(0x6810, guest.gs.base),
    M(0x6812, guest.ldtr.base), M(0x6814, guest.tr.base),
    M(0x6816, guest.gdtr_base), M(0x6818, guest.idtr_base), M(0x681A, guest.dr7),
    M(0x681C, guest.rsp), M(0x681E, guest.rip), M(0x6820, guest.rflags),
    M(0x6822, guest.pending_debug_exceptions), M(0x6824, guest.sysenter_esp),
    M(0x6826, guest.sysenter_eip),
    M(0x6C00, host.cr0), M(0x6C02, host.cr3), M(0x6C04, host.cr4),
    M(0x6C06, host.fs_base), M(0x6C08, host.gs_base), M(0x6C0A, host.tr_base),
    M(0x6C0C, host.gdtr_base), M(0x6C0E, host.idtr_base),
    M(0x6C14, host.rsp), M(0x6C16, host.rip),
};

/* The encodings this module's brief names, with the SDM's numbers. */
static void test_named_encodings(void **state)
{
    (void)state;
    assert_int_equal(VMCS_GUEST_RIP, 0x681E);
    assert_int_equal(VMCS_GUEST_CR0, 0x6800);
    assert_int_equal(VMCS_GUEST_CS_SELECTOR, 0x0802);
    assert_int_equal(VMCS_GUEST_CS_LIMIT, 0x4802);
    assert_int_equal(VMCS_GUEST_CS_AR_BYTES, 0x4816);
    assert_int_equal(VMCS_GUEST_CS_BASE, 0x6808);
    assert_int_equal(VMCS_EXIT_REASON, 0x4402);
    assert_int_equal(VMCS_EXIT_QUALIFICATION, 0x6400);
    assert_int_equal(VMCS_VM_EXIT_INSTRUCTION_LEN, 0x440C);
    assert_int_equal(VMCS_VM_EXIT_INSTRUCTION_INFO, 0x440E);
    assert_int_equal(VMCS_GUEST_PHYSICAL_ADDRESS, 0x2400);
    assert_int_equal(VMCS_GUEST_LINEAR_ADDRESS, 0x640A);
    assert_int_equal(VMCS_EPT_POINTER, 0x201A);
    assert_int_equal(VMCS_VM_INSTRUCTION_ERROR, 0x4400);
    assert_int_equal(VMCS_VMCS_LINK_POINTER, 0x2800);
    assert_int_equal(VMCS_GUEST_INTERRUPTIBILITY_INFO, 0x4824);
    assert_int_equal(VMCS_GUEST_ACTIVITY_STATE, 0x4826);
    assert_int_equal(VMCS_SECONDARY_VM_EXEC_CONTROL, 0x401E);
    assert_int_equal(VMCS_VIRTUAL_PROCESSOR_ID, 0x0000);
}

/* The implementation's table is exactly the expected one: same encodings, same members,
 * in encoding order, and each row's width and type are its encoding's bits 14:13 and
 * 11:10 (SDM 25.11.2), with a struct member as wide as the field. */
static void test_table_matches_sdm(void **state)
{
    (void)state;
    assert_int_equal(vmcs_field_count(), ARRAY_SIZE(expected));
    assert_null(vmcs_field_at(vmcs_field_count()));
    for (size_t i = 0; i < ARRAY_SIZE(expected); i++) {
        const VmcsFieldInfo *f = vmcs_field_at(i);
        assert_non_null(f);
        assert_int_equal(f->encoding, expected[i].encoding);
        assert_int_equal(f->offset, expected[i].offset);
        assert_int_equal(f->size, expected[i].size);
        assert_int_equal(f->width, (expected[i].encoding >> 13) & 3);
        assert_int_equal(f->type, (expected[i].encoding >> 10) & 3);
        assert_int_equal(f->encoding & 1, 0);
        assert_int_equal(f->encoding & 0x1000, 0);
        size_t bytes = f->width == VMCS_WIDTH_16 ? 2 : f->width == VMCS_WIDTH_32 ? 4 : 8;
        assert_int_equal(f->size, bytes);
        if (i)
            assert_true(vmcs_field_at(i - 1)->encoding < f->encoding);
        assert_non_null(f->name);
        assert_string_equal(vmcs_field_name(f->encoding), f->name);
        assert_ptr_equal(vmcs_field_find(f->encoding), f);
    }
}

static void test_field_names(void **state)
{
    (void)state;
    assert_string_equal(vmcs_field_name(0x681E), "GUEST_RIP");
    assert_string_equal(vmcs_field_name(0x0802), "GUEST_CS_SELECTOR");
    assert_string_equal(vmcs_field_name(0x4402), "EXIT_REASON");
    assert_string_equal(vmcs_field_name(0x201A), "EPT_POINTER");
    assert_string_equal(vmcs_field_name(0x201B), "EPT_POINTER");
    assert_string_equal(vmcs_field_name(0x2800), "VMCS_LINK_POINTER");
    assert_null(vmcs_field_name(0x0001));
    assert_null(vmcs_field_name(0x681F));
    assert_null(vmcs_field_name(0x7FFF));
    const VmcsFieldInfo *f = vmcs_field_find(0x440C);
    assert_non_null(f);
    assert_int_equal(f->width, VMCS_WIDTH_32);
    assert_int_equal(f->type, VMCS_TYPE_EXIT_INFO);
    f = vmcs_field_find(0x6C16);
    assert_int_equal(f->width, VMCS_WIDTH_NATURAL);
    assert_int_equal(f->type, VMCS_TYPE_HOST);
}

/* ------------------------------------------------------------------------------------ */
/* VMREAD / VMWRITE                                                                      */
/* ------------------------------------------------------------------------------------ */

static uint64_t member(const VMCS *v, size_t i)
{
    const unsigned char *p = (const unsigned char *)v + expected[i].offset;
    if (expected[i].size == 2) { uint16_t x; memcpy(&x, p, 2); return x; }
    if (expected[i].size == 4) { uint32_t x; memcpy(&x, p, 4); return x; }
    uint64_t x;
    memcpy(&x, p, 8);
    return x;
}

static void set_member(VMCS *v, size_t i, uint64_t value)
{
    unsigned char *p = (unsigned char *)v + expected[i].offset;
    if (expected[i].size == 2) { uint16_t x = (uint16_t)value; memcpy(p, &x, 2); }
    else if (expected[i].size == 4) { uint32_t x = (uint32_t)value; memcpy(p, &x, 4); }
    else memcpy(p, &value, 8);
}

static uint64_t width_mask(size_t i)
{
    return expected[i].size == 2 ? 0xFFFFull : expected[i].size == 4 ? 0xFFFFFFFFull : ~0ull;
}

/* Every writable field: VMWRITE lands in its member and nowhere else; every field: the
 * member reads back through VMREAD. */
static void test_round_trip_every_field(void **state)
{
    (void)state;
    const uint64_t pattern = 0x8877665544332211ull;
    for (size_t i = 0; i < ARRAY_SIZE(expected); i++) {
        VMCS v, zero;
        memset(&v, 0, sizeof(v));
        memset(&zero, 0, sizeof(zero));
        uint64_t value = pattern ^ (uint64_t)i;
        bool exit_info = ((expected[i].encoding >> 10) & 3) == VMCS_TYPE_EXIT_INFO;
        if (!exit_info) {
            assert_int_equal(vmcs_write(&v, expected[i].encoding, value), 0);
            assert_int_equal(member(&v, i), value & width_mask(i));
            set_member(&v, i, 0);   /* nothing else was touched */
            if (memcmp(&v, &zero, sizeof(v)) != 0)
                fail_msg("VMWRITE 0x%04x wrote outside %s", expected[i].encoding,
                         expected[i].member);
        }
        memset(&v, 0, sizeof(v));
        set_member(&v, i, value);
        uint64_t got = 0xDEAD;
        assert_int_equal(vmcs_read(&v, expected[i].encoding, &got), 0);
        if (got != (value & width_mask(i)))
            fail_msg("VMREAD 0x%04x (%s): 0x%llx", expected[i].encoding, expected[i].member,
                     (unsigned long long)got);
        assert_int_equal(v.exit.vm_instruction_error,
                         expected[i].encoding == 0x4400 ? (uint32_t)value : 0);
    }
}

static void test_width_truncation(void **state)
{
    (void)state;
    VMCS v;
    memset(&v, 0, sizeof(v));
    uint64_t r;
    /* 16-bit: the low 16 bits are kept; reads zero-extend. */
    assert_int_equal(vmcs_write(&v, 0x0802, 0xFFFFFFFFFFFFF000ull), 0);
    assert_int_equal(v.guest.cs.selector, 0xF000);
    assert_int_equal(vmcs_read(&v, 0x0802, &r), 0);
    assert_int_equal(r, 0xF000);
    assert_int_equal(v.guest.cs.base, 0);   /* the neighbours are untouched */
    /* 32-bit likewise. */
    assert_int_equal(vmcs_write(&v, 0x4802, 0x123456789ull), 0);
    assert_int_equal(v.guest.cs.limit, 0x23456789u);
    v.guest.cs.access_rights = 0xFFFFFFFFu;
    assert_int_equal(vmcs_read(&v, 0x4816, &r), 0);
    assert_int_equal(r, 0xFFFFFFFFull);
    /* Natural width: 64 bits on a 64-bit host. */
    assert_int_equal(vmcs_write(&v, 0x681E, 0xFFFF800012345678ull), 0);
    assert_int_equal(v.guest.rip, 0xFFFF800012345678ull);
    assert_int_equal(vmcs_read(&v, 0x681E, &r), 0);
    assert_int_equal(r, 0xFFFF800012345678ull);
}

/* A 64-bit field in full, or its high half through encoding | 1 (SDM 25.11.2). */
static void test_high_half(void **state)
{
    (void)state;
    VMCS v;
    memset(&v, 0, sizeof(v));
    uint64_t r;
    assert_int_equal(vmcs_write(&v, 0x201A, 0x1122334455667788ull), 0);
    assert_int_equal(v.control.ept_pointer, 0x1122334455667788ull);
    assert_int_equal(vmcs_read(&v, 0x201B, &r), 0);
    assert_int_equal(r, 0x11223344ull);
    /* A high write keeps the low half and takes the low 32 bits of the source. */
    assert_int_equal(vmcs_write(&v, 0x201B, 0xFFFFFFFFAABBCCDDull), 0);
    assert_int_equal(v.control.ept_pointer, 0xAABBCCDD55667788ull);
    assert_int_equal(vmcs_read(&v, 0x201A, &r), 0);
    assert_int_equal(r, 0xAABBCCDD55667788ull);
    /* The read-only guest-physical address reads in halves too. */
    v.exit.guest_physical_address = 0x0000000FFEE01000ull;
    assert_int_equal(vmcs_read(&v, 0x2401, &r), 0);
    assert_int_equal(r, 0xF);
    assert_int_equal(v.exit.vm_instruction_error, 0);
}

static void expect_vmfail(VMCS *v, int rc, uint32_t error)
{
    assert_int_equal(rc, -EINVAL);
    assert_int_equal(v->exit.vm_instruction_error, error);
    v->exit.vm_instruction_error = 0;
}

/* Unsupported components fail with VM-instruction error 12 (SDM 31.4). */
static void test_unsupported_encodings(void **state)
{
    (void)state;
    static const uint32_t bad[] = {
        0x0001,     /* high access type on a 16-bit field */
        0x7FFF,     /* nothing there */
        0x0002,     /* posted-interrupt notification vector: not in the struct */
        0x2006,     /* VM-exit MSR-store address: a hole in the struct's table */
        0x4003,     /* high access type on a 32-bit field */
        0x681F,     /* high access type on a natural-width field */
        0x6C10,     /* host IA32_SYSENTER_ESP: not in the struct */
        0x1000 | 0x681E,  /* reserved bit 12 */
        0x10000 | 0x681E, /* bits 31:15 */
        0xFFFFFFFF,
    };
    VMCS v;
    memset(&v, 0, sizeof(v));
    uint64_t r = 0x55;
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        expect_vmfail(&v, vmcs_read(&v, bad[i], &r), 12);
        expect_vmfail(&v, vmcs_write(&v, bad[i], 1), 12);
    }
    assert_int_equal(r, 0x55);
    /* Unsupported wins over read-only: the high half of a 32-bit exit field. */
    expect_vmfail(&v, vmcs_write(&v, 0x4403, 1), 12);
    assert_int_equal(vmcs_read(NULL, 0x681E, &r), -EINVAL);
    assert_int_equal(vmcs_read(&v, 0x681E, NULL), -EINVAL);
    assert_int_equal(vmcs_write(NULL, 0x681E, 0), -EINVAL);
}

/* VMWRITE to any VM-exit information field fails with 13 and changes nothing. */
static void test_read_only_fields(void **state)
{
    (void)state;
    VMCS v, before;
    int n = 0;
    for (size_t i = 0; i < ARRAY_SIZE(expected); i++) {
        if (((expected[i].encoding >> 10) & 3) != VMCS_TYPE_EXIT_INFO)
            continue;
        n++;
        memset(&v, 0, sizeof(v));
        set_member(&v, i, 7);
        if (expected[i].encoding != 0x4400) {
            before = v;
            assert_int_equal(vmcs_write(&v, expected[i].encoding, 0x1234), -EINVAL);
            assert_int_equal(v.exit.vm_instruction_error, 13);
            v.exit.vm_instruction_error = 0;
            assert_memory_equal(&v, &before, sizeof(v));
        } else {
            assert_int_equal(vmcs_write(&v, expected[i].encoding, 0x1234), -EINVAL);
            assert_int_equal(v.exit.vm_instruction_error, 13);
        }
        if (expected[i].size == 8) {
            assert_int_equal(vmcs_write(&v, expected[i].encoding | 1, 1), -EINVAL);
            /* 64-bit exit field's high half: read-only too; natural: unsupported */
            assert_int_equal(v.exit.vm_instruction_error,
                             ((expected[i].encoding >> 13) & 3) == VMCS_WIDTH_64 ? 13 : 12);
        }
    }
    assert_int_equal(n, 11);   /* every exit field of the struct */
}

/* VMsucceed does not clear the VM-instruction error field (SDM 31.2). */
static void test_success_keeps_error(void **state)
{
    (void)state;
    VMCS v;
    memset(&v, 0, sizeof(v));
    uint64_t r;
    expect_vmfail(&v, vmcs_write(&v, 0x4402, 1), 13);
    v.exit.vm_instruction_error = 13;
    assert_int_equal(vmcs_write(&v, 0x681E, 0xFFF0), 0);
    assert_int_equal(vmcs_read(&v, 0x681E, &r), 0);
    assert_int_equal(v.exit.vm_instruction_error, 13);
}

/* ------------------------------------------------------------------------------------ */
/* Controls                                                                              */
/* ------------------------------------------------------------------------------------ */

static void test_init_controls(void **state)
{
    (void)state;
    VMCS v;
    memset(&v, 0xA5, sizeof(v));
    v.control.ept_pointer = 0x1000 | (3 << 3) | 6;
    vmcs_init_controls(&v);
    assert_int_equal(v.control.ept_pointer, 0x1000 | (3 << 3) | 6);
    /* Default1 bits (SDM Appendix A.3-A.5) are all set. */
    assert_int_equal(v.control.pin_based & 0x16, 0x16);
    assert_int_equal(v.control.cpu_based & 0x04006172, 0x04006172);
    assert_int_equal(v.control.exit_controls & 0x00036DFF, 0x00036DFF);
    assert_int_equal(v.control.entry_controls & 0x000011FF, 0x000011FF);
    /* The named controls. */
    assert_true(v.control.cpu_based & (1u << 7));     /* HLT exiting */
    assert_true(v.control.cpu_based & (1u << 24));    /* unconditional I/O exiting */
    assert_false(v.control.cpu_based & (1u << 25));   /* no I/O bitmaps */
    assert_true(v.control.cpu_based & (1u << 31));    /* activate secondary controls */
    assert_false(v.control.cpu_based & (3u << 15));   /* no CR3 exiting with EPT */
    assert_true(v.control.secondary & (1u << 1));     /* enable EPT */
    assert_true(v.control.secondary & (1u << 5));     /* enable VPID */
    assert_true(v.control.secondary & (1u << 7));     /* unrestricted guest */
    assert_true(v.control.exit_controls & (1u << 9)); /* 64-bit host */
    assert_false(v.control.entry_controls & (1u << 9)); /* no IA-32e mode guest */
    assert_int_equal(v.control.cr4_guest_host_mask, 1u << 13);
    assert_int_equal(v.control.cr0_guest_host_mask, 0);
    assert_int_equal(v.control.vpid, 1);
    assert_int_equal(v.control.entry_interruption_info, 0);
    assert_int_equal(v.guest.vmcs_link_pointer, ~0ull);
}

/* ------------------------------------------------------------------------------------ */
/* Guest-state checks (SDM 27.3.1)                                                       */
/* ------------------------------------------------------------------------------------ */

static void seg(VmcsSegment *s, uint16_t sel, uint64_t base, uint32_t limit, uint32_t ar)
{
    s->selector = sel;
    s->base = base;
    s->limit = limit;
    s->access_rights = ar;
}

/* The x86 reset state (SDM Vol. 3A, "Processor State After Reset") with the sim's controls. */
static void reset_state(VMCS *v)
{
    memset(v, 0, sizeof(*v));
    vmcs_init_controls(v);
    v->guest.cr0 = 0x60000010;
    v->guest.rflags = 2;
    v->guest.rip = 0xFFF0;
    v->guest.dr7 = 0x400;
    v->guest.ia32_pat = 0x0007040600070406ull;
    seg(&v->guest.cs, 0xF000, 0xFFFF0000, 0xFFFF, 0x9B);
    seg(&v->guest.ss, 0, 0, 0xFFFF, 0x93);
    seg(&v->guest.ds, 0, 0, 0xFFFF, 0x93);
    seg(&v->guest.es, 0, 0, 0xFFFF, 0x93);
    seg(&v->guest.fs, 0, 0, 0xFFFF, 0x93);
    seg(&v->guest.gs, 0, 0, 0xFFFF, 0x93);
    seg(&v->guest.ldtr, 0, 0, 0xFFFF, 0x82);
    seg(&v->guest.tr, 0, 0, 0xFFFF, 0x8B);
    v->guest.gdtr_limit = 0xFFFF;
    v->guest.idtr_limit = 0xFFFF;
}

/* Flat 32-bit protected mode with paging, for the checks that differ without
 * "unrestricted guest". */
static void protected_state(VMCS *v)
{
    reset_state(v);
    v->guest.cr0 = 0x80000031;
    v->guest.cr3 = 0x1000;
    seg(&v->guest.cs, 0x08, 0, 0xFFFFFFFF, 0xC09B);
    seg(&v->guest.ss, 0x10, 0, 0xFFFFFFFF, 0xC093);
    seg(&v->guest.ds, 0x10, 0, 0xFFFFFFFF, 0xC093);
    seg(&v->guest.es, 0x10, 0, 0xFFFFFFFF, 0xC093);
    seg(&v->guest.fs, 0, 0, 0, 0x10000);
    seg(&v->guest.gs, 0, 0, 0, 0x10000);
    seg(&v->guest.tr, 0x18, 0x5000, 0x67, 0x8B);
    seg(&v->guest.ldtr, 0, 0, 0, 0x10000);
}

/* Virtual-8086 mode (27.3.1.2): every segment base = selector * 16, limit 0xFFFF, AR 0xF3. */
static void v86_state(VMCS *v)
{
    protected_state(v);
    v->guest.rflags = 0x20002;
    seg(&v->guest.cs, 0x1234, 0x12340, 0xFFFF, 0xF3);
    seg(&v->guest.ss, 0x2000, 0x20000, 0xFFFF, 0xF3);
    seg(&v->guest.ds, 0, 0, 0xFFFF, 0xF3);
    seg(&v->guest.es, 0xB800, 0xB8000, 0xFFFF, 0xF3);
    seg(&v->guest.fs, 1, 0x10, 0xFFFF, 0xF3);
    seg(&v->guest.gs, 0xFFFF, 0xFFFF0, 0xFFFF, 0xF3);
}

static void no_ug(VMCS *v)
{
    protected_state(v);
    v->control.secondary &= ~VMX_PROC2_UNRESTRICTED_GUEST;
}

static int check(const VMCS *v, uint64_t *qual, char *why, size_t n)
{
    *qual = 0xBAD;
    return vmcs_check_guest_state(v, qual, why, n);
}

static void test_reset_state_passes(void **state)
{
    (void)state;
    VMCS v;
    uint64_t q;
    char why[160] = "x";
    reset_state(&v);
    assert_int_equal(check(&v, &q, why, sizeof(why)), 0);
    assert_int_equal(q, 0);
    assert_string_equal(why, "");
    protected_state(&v);
    if (check(&v, &q, why, sizeof(why)) != 0)
        fail_msg("protected mode: %s", why);
    no_ug(&v);
    if (check(&v, &q, why, sizeof(why)) != 0)
        fail_msg("protected mode, no unrestricted guest: %s", why);
    v86_state(&v);
    if (check(&v, &q, why, sizeof(why)) != 0)
        fail_msg("virtual-8086 mode: %s", why);
    no_ug(&v);
    assert_int_equal(vmcs_check_guest_state(&v, NULL, NULL, 0), 0);
    assert_int_equal(vmcs_check_guest_state(NULL, &q, why, sizeof(why)), -EINVAL);
}

/* States that pass although they look unusual: each is legal per the SDM. */
static void test_legal_variants_pass(void **state)
{
    (void)state;
    VMCS v;
    uint64_t q;
    char why[160];
#define PASSES(setup)                                                                   \
    do {                                                                                \
        reset_state(&v);                                                                \
        setup;                                                                          \
        if (check(&v, &q, why, sizeof(why)) != 0)                                       \
            fail_msg("%s: %s", #setup, why);                                            \
    } while (0)
    PASSES(v.guest.cs.access_rights = 0x93);                     /* CS type 3, UG */
    PASSES(v.guest.ds.access_rights = 0x10000; v.guest.ds.base = 1ull << 40); /* unusable */
    PASSES(v.guest.ldtr.access_rights = 0x10000 | 0x1F);         /* unusable LDTR */
    PASSES(v.guest.cr0 = 0x00000010);                            /* no NE in the sim */
    PASSES(v.guest.cr0 = 0x60000011);                            /* PE without PG */
    PASSES(v.guest.cs.limit = 0xFFFFFFFF; v.guest.cs.access_rights = 0x809B); /* G */
    PASSES(v.guest.activity_state = 1);                          /* HLT */
    PASSES(v.guest.activity_state = 1;
           v.control.entry_interruption_info = 0x80000020; v.guest.rflags = 0x202);
    PASSES(v.guest.rflags = 0x202; v.guest.interruptibility_state = 1);
    PASSES(v.guest.rflags = 0x302; v.guest.interruptibility_state = 2;
           v.guest.pending_debug_exceptions = 1u << 14);         /* BS with TF */
    PASSES(v.guest.interruptibility_state = 8);                  /* NMI blocking */
    PASSES(v.guest.cs.access_rights = 0x9F);                     /* conforming, DPL 0 */
    PASSES(v.guest.tr.access_rights = 0x83);                     /* 16-bit busy TSS */
    PASSES(v.guest.cr4 = 1u << 13);                              /* VMXE allowed, */
    PASSES(v.guest.cr4 = 0x7FF);                                 /* not required */
    PASSES(v.guest.ss.access_rights = 0x10000);                  /* unusable SS */
#undef PASSES
}

typedef struct {
    const char *name;
    void (*base)(VMCS *v);
    void (*mutate)(VMCS *v);
    const char *reason;   /* a substring of the reason */
    uint64_t qualification;
} CheckCase;

#define MUT(nm, body) static void mut_##nm(VMCS *v) { body; }
/* 27.3.1.1 */
MUT(cr0_pg_no_pe, v->guest.cr0 = 0x80000010)
MUT(cr0_high, v->guest.cr0 |= 1ull << 32)
MUT(cr0_no_pe_pg, v->guest.cr0 = 0x00000030)
MUT(cr4_reserved, v->guest.cr4 = 1u << 17)
MUT(cr3_wide, v->guest.cr3 = 1ull << 36)
MUT(dr7_high, v->guest.dr7 = 0x100000400ull)
MUT(debugctl, v->guest.ia32_debugctl = 1u << 2)
MUT(sysenter_esp, v->guest.sysenter_esp = 0x0000800000000000ull)
MUT(sysenter_eip, v->guest.sysenter_eip = 0x8000000000000000ull)
MUT(pat, v->guest.ia32_pat = 0x0007040600070402ull)
MUT(efer_reserved, v->guest.ia32_efer = 2)
MUT(efer_lma, v->guest.ia32_efer = 1u << 10)
MUT(efer_lme_pg, v->guest.ia32_efer = 1u << 8)
MUT(ia32e, v->control.entry_controls |= 1u << 9)
/* 27.3.1.2: selectors and bases */
MUT(ss_rpl, v->guest.ss.selector = 0x13)
MUT(cs_base, v->guest.cs.base = 1ull << 32)
MUT(ds_base, v->guest.ds.base = 0x100000000ull)
MUT(fs_base, v->guest.fs.base = 0x0000800000000000ull)
MUT(gs_base, v->guest.gs.access_rights = 0x93; v->guest.gs.limit = 0xFFFF;
    v->guest.gs.base = 0xFFFF7FFFFFFFFFFFull)
MUT(tr_ti, v->guest.tr.selector = 4)
MUT(tr_base, v->guest.tr.base = 0x0001000000000000ull)
MUT(ldtr_ti, v->guest.ldtr.selector = 0x0C)
MUT(ldtr_base, v->guest.ldtr.base = 0x0000800000000000ull)
/* 27.3.1.2: CS access rights */
MUT(cs_type2, v->guest.cs.access_rights = 0x92)
MUT(cs_type3_no_ug, v->guest.cs.access_rights = 0x93)
MUT(cs_type3_dpl, v->guest.cs.access_rights = 0xF3)
MUT(cs_s, v->guest.cs.access_rights = 0x8B)
MUT(cs_dpl_nonconf, v->guest.cs.access_rights = 0xFB)
MUT(cs_dpl_conf, v->guest.cs.access_rights = 0xFF)
MUT(cs_p, v->guest.cs.access_rights = 0x1B)
MUT(cs_res_11_8, v->guest.cs.access_rights = 0x19B)
MUT(cs_g_set, v->guest.cs.access_rights = 0x809B; v->guest.cs.limit = 0xFFFE)
MUT(cs_g_clear, v->guest.cs.limit = 0xFFFFFFFF)
MUT(cs_res_31_17, v->guest.cs.access_rights = 0x2009B)
/* SS */
MUT(ss_type, v->guest.ss.access_rights = 0x9B)
MUT(ss_dpl_real, v->guest.cs.access_rights = 0x9F; v->guest.ss.access_rights = 0xF3)
MUT(ss_dpl_type3, v->guest.cs.access_rights = 0x93; v->guest.ss.access_rights = 0xF3;
    v->guest.cr0 = 0x60000011)
MUT(ss_dpl_rpl, v->guest.ss.selector = 0x13; v->guest.cs.selector = 0x0B)
/* DS, ES, FS, GS */
MUT(ds_accessed, v->guest.ds.access_rights = 0x92)
MUT(es_code_unreadable, v->guest.es.access_rights = 0x99)
MUT(fs_s, v->guest.fs.access_rights = 0x83)
MUT(ds_dpl_rpl, v->guest.ds.selector = 0x13)
MUT(gs_p, v->guest.gs.access_rights = 0x13)
MUT(ds_res_11_8, v->guest.ds.access_rights = 0x493)
MUT(es_g_clear, v->guest.es.limit = 0x100000)
MUT(ss_g_set, v->guest.ss.access_rights = 0x8093; v->guest.ss.limit = 0x1000)
MUT(ds_res_31_17, v->guest.ds.access_rights = 0x40093)
/* TR, LDTR */
MUT(tr_type, v->guest.tr.access_rights = 0x89)
MUT(tr_s, v->guest.tr.access_rights = 0x9B)
MUT(tr_p, v->guest.tr.access_rights = 0x0B)
MUT(tr_res_11_8, v->guest.tr.access_rights = 0x18B)
MUT(tr_g, v->guest.tr.limit = 0x100000)
MUT(tr_unusable, v->guest.tr.access_rights = 0x1008B)
MUT(tr_res_31_17, v->guest.tr.access_rights = 0x2008B)
MUT(ldtr_type, v->guest.ldtr.access_rights = 0x83)
MUT(ldtr_s, v->guest.ldtr.access_rights = 0x92)
MUT(ldtr_p, v->guest.ldtr.access_rights = 0x02)
MUT(ldtr_res_11_8, v->guest.ldtr.access_rights = 0x882)
MUT(ldtr_g, v->guest.ldtr.access_rights = 0x8082; v->guest.ldtr.limit = 0x1000)
MUT(ldtr_res_31_17, v->guest.ldtr.access_rights = 0x80082)
/* 27.3.1.3 */
MUT(gdtr_limit, v->guest.gdtr_limit = 0x10000)
MUT(idtr_limit, v->guest.idtr_limit = 0xFFFF0000)
MUT(gdtr_base, v->guest.gdtr_base = 0x0000800000000000ull)
MUT(idtr_base, v->guest.idtr_base = 0x7FFF000000000000ull)
/* 27.3.1.4 */
MUT(rip_high, v->guest.rip = 0x100000000ull)
MUT(rflags_bit3, v->guest.rflags = 0x0A)
MUT(rflags_bit5, v->guest.rflags = 0x22)
MUT(rflags_bit15, v->guest.rflags = 0x8002)
MUT(rflags_bit22, v->guest.rflags = 0x400002)
MUT(rflags_bit1, v->guest.rflags = 0)
MUT(rflags_vm_real, v->guest.rflags = 0x20002)
MUT(rflags_vm_pe, v->guest.rflags = 0x20002)
MUT(v86_limit, v86_state(v); v->guest.ds.limit = 0xFFFFF)
MUT(v86_ar, v86_state(v); v->guest.ss.access_rights = 0x93)
MUT(rflags_if_inject, v->control.entry_interruption_info = 0x80000020)
/* 27.3.1.5 */
MUT(activity_undefined, v->guest.activity_state = 4)
MUT(activity_shutdown, v->guest.activity_state = 2)
MUT(activity_hlt_dpl, v->guest.cs.access_rights = 0xC0FB; v->guest.ss.access_rights = 0xC0F3;
    v->guest.activity_state = 1)
MUT(activity_hlt_sti, v->guest.rflags = 0x202; v->guest.interruptibility_state = 1;
    v->guest.activity_state = 1)
MUT(activity_hlt_inject, v->guest.activity_state = 1;
    v->control.entry_interruption_info = 0x80000B0D)
MUT(irq_reserved, v->guest.interruptibility_state = 0x20)
MUT(irq_enclave, v->guest.interruptibility_state = 0x10)
MUT(irq_sti_movss, v->guest.rflags = 0x202; v->guest.interruptibility_state = 3)
MUT(irq_sti_no_if, v->guest.interruptibility_state = 1)
MUT(irq_smi, v->guest.interruptibility_state = 4)
MUT(irq_extint_movss, v->guest.rflags = 0x202; v->guest.interruptibility_state = 2;
    v->control.entry_interruption_info = 0x80000020)
MUT(irq_nmi_movss, v->guest.interruptibility_state = 2;
    v->control.entry_interruption_info = 0x80000202)
MUT(irq_nmi_sti, v->guest.rflags = 0x202; v->guest.interruptibility_state = 1;
    v->control.entry_interruption_info = 0x80000202)
MUT(irq_vnmi, v->control.pin_based |= 1u << 5; v->guest.interruptibility_state = 8;
    v->control.entry_interruption_info = 0x80000202)
MUT(pending_reserved, v->guest.pending_debug_exceptions = 0x10)
MUT(pending_rtm, v->guest.pending_debug_exceptions = 1u << 16)
MUT(pending_bs_missing, v->guest.rflags = 0x302; v->guest.interruptibility_state = 1)
MUT(pending_bs_extra, v->guest.activity_state = 1;
    v->guest.pending_debug_exceptions = 1u << 14)
MUT(link_pointer, v->guest.vmcs_link_pointer = 0)
#undef MUT

#define CASE(nm, base, reason) {#nm, base, mut_##nm, reason, 0}
#define CASE_Q(nm, base, reason, q) {#nm, base, mut_##nm, reason, q}
static const CheckCase check_cases[] = {
    CASE(cr0_pg_no_pe, reset_state, "guest CR0 0x80000010: PG is 1 but PE is 0"),
    CASE(cr0_high, reset_state, "guest CR0 0x160000010: fixed-0 bits 0x100000000 are set"),
    CASE(cr0_no_pe_pg, no_ug, "guest CR0 0x30: fixed-1 bits 0x80000001 are not all set"),
    CASE(cr4_reserved, reset_state, "guest CR4 0x20000: bits 0x20000 are not supported"),
    CASE(cr3_wide, protected_state, "guest CR3 0x1000000000: bits beyond the physical-address width"),
    CASE(dr7_high, reset_state, "guest DR7 0x100000400: bits 63:32 must be 0"),
    CASE(debugctl, reset_state, "guest IA32_DEBUGCTL 0x4: reserved bits"),
    CASE(sysenter_esp, reset_state, "guest IA32_SYSENTER_ESP 0x800000000000 is not canonical"),
    CASE(sysenter_eip, reset_state, "guest IA32_SYSENTER_EIP 0x8000000000000000 is not canonical"),
    CASE(pat, reset_state, "guest IA32_PAT 0x7040600070402: entry 0 has memory type 2"),
    CASE(efer_reserved, reset_state, "guest IA32_EFER 0x2: reserved bits"),
    CASE(efer_lma, reset_state, "LMA differs from \"IA-32e mode guest\""),
    CASE(efer_lme_pg, protected_state, "LME differs from LMA with CR0.PG = 1"),
    CASE(ia32e, reset_state, "\"IA-32e mode guest\" with CR0 0x60000010"),
    CASE(ss_rpl, no_ug, "guest SS selector 0x13: RPL differs from CS's"),
    CASE(cs_base, reset_state, "guest CS base 0x100000000: bits 63:32 must be 0"),
    CASE(ds_base, reset_state, "guest DS base 0x100000000: bits 63:32 must be 0"),
    CASE(fs_base, reset_state, "guest FS base 0x800000000000 is not canonical"),
    CASE(gs_base, reset_state, "guest GS base 0xffff7fffffffffff is not canonical"),
    CASE(tr_ti, reset_state, "guest TR selector 0x4: TI must be 0"),
    CASE(tr_base, reset_state, "guest TR base 0x1000000000000 is not canonical"),
    CASE(ldtr_ti, reset_state, "guest LDTR selector 0xc: TI must be 0"),
    CASE(ldtr_base, reset_state, "guest LDTR base 0x800000000000 is not canonical"),
    CASE(cs_type2, reset_state, "guest CS access rights: type 0x2 is not allowed for CS"),
    CASE(cs_type3_no_ug, no_ug, "guest CS access rights: type 0x3 is not allowed for CS"),
    CASE(cs_type3_dpl, reset_state, "guest CS access rights 0xf3: DPL must be 0 with type 3"),
    CASE(cs_s, reset_state, "guest CS access rights 0x8b: S must be 1"),
    CASE(cs_dpl_nonconf, reset_state, "guest CS access rights 0xfb: non-conforming CS DPL differs from SS DPL"),
    CASE(cs_dpl_conf, reset_state, "guest CS access rights 0xff: conforming CS DPL is above SS DPL"),
    CASE(cs_p, reset_state, "guest CS access rights 0x1b: P must be 1"),
    CASE(cs_res_11_8, reset_state, "guest CS access rights 0x19b: reserved bits 11:8 must be 0"),
    CASE(cs_g_set, reset_state, "guest CS access rights 0x809b, limit 0xfffe: G is 1 but limit bits 11:0"),
    CASE(cs_g_clear, reset_state, "guest CS access rights 0x9b, limit 0xffffffff: G is 0 but limit bits 31:20"),
    CASE(cs_res_31_17, reset_state, "guest CS access rights 0x2009b: reserved bits 31:17 must be 0"),
    CASE(ss_type, reset_state, "guest SS access rights: type 0xb is not allowed for SS"),
    CASE(ss_dpl_real, reset_state, "guest SS access rights 0xf3: DPL must be 0 in real mode"),
    CASE(ss_dpl_type3, reset_state, "guest SS access rights 0xf3: DPL must be 0 with CS type 3"),
    CASE(ss_dpl_rpl, no_ug, "guest SS access rights 0xc093: DPL differs from the selector's RPL"),
    CASE(ds_accessed, reset_state, "guest DS access rights: type 0x2 is not accessed"),
    CASE(es_code_unreadable, reset_state, "guest ES access rights: type 0x9 is an unreadable code segment"),
    CASE(fs_s, reset_state, "guest FS access rights 0x83: S must be 1"),
    CASE(ds_dpl_rpl, no_ug, "guest DS access rights 0xc093: DPL is below the selector's RPL"),
    CASE(gs_p, reset_state, "guest GS access rights 0x13: P must be 1"),
    CASE(ds_res_11_8, reset_state, "guest DS access rights 0x493: reserved bits 11:8 must be 0"),
    CASE(es_g_clear, reset_state, "guest ES access rights 0x93, limit 0x100000: G is 0"),
    CASE(ss_g_set, reset_state, "guest SS access rights 0x8093, limit 0x1000: G is 1"),
    CASE(ds_res_31_17, reset_state, "guest DS access rights 0x40093: reserved bits 31:17 must be 0"),
    CASE(tr_type, reset_state, "guest TR access rights: type 0x9 is not a busy TSS"),
    CASE(tr_s, reset_state, "guest TR access rights 0x9b: S must be 0"),
    CASE(tr_p, reset_state, "guest TR access rights 0xb: P must be 1"),
    CASE(tr_res_11_8, reset_state, "guest TR access rights 0x18b: reserved bits 11:8 must be 0"),
    CASE(tr_g, reset_state, "guest TR access rights 0x8b, limit 0x100000: G is 0"),
    CASE(tr_unusable, reset_state, "guest TR access rights 0x1008b: TR cannot be unusable"),
    CASE(tr_res_31_17, reset_state, "guest TR access rights 0x2008b: reserved bits 31:17 must be 0"),
    CASE(ldtr_type, reset_state, "guest LDTR access rights: type 0x3 is not an LDT"),
    CASE(ldtr_s, reset_state, "guest LDTR access rights 0x92: S must be 0"),
    CASE(ldtr_p, reset_state, "guest LDTR access rights 0x2: P must be 1"),
    CASE(ldtr_res_11_8, reset_state, "guest LDTR access rights 0x882: reserved bits 11:8 must be 0"),
    CASE(ldtr_g, reset_state, "guest LDTR access rights 0x8082, limit 0x1000: G is 1 but limit bits 11:0"),
    CASE(ldtr_res_31_17, reset_state, "guest LDTR access rights 0x80082: reserved bits 31:17 must be 0"),
    CASE(gdtr_limit, reset_state, "guest GDTR limit 0x10000: bits 31:16 must be 0"),
    CASE(idtr_limit, reset_state, "guest IDTR limit 0xffff0000: bits 31:16 must be 0"),
    CASE(gdtr_base, reset_state, "guest GDTR base 0x800000000000 is not canonical"),
    CASE(idtr_base, reset_state, "guest IDTR base 0x7fff000000000000 is not canonical"),
    CASE(rip_high, reset_state, "guest RIP 0x100000000: bits 63:32 must be 0"),
    CASE(rflags_bit3, reset_state, "guest RFLAGS 0xa: reserved bits 0x8 must be 0"),
    CASE(rflags_bit5, reset_state, "guest RFLAGS 0x22: reserved bits 0x20 must be 0"),
    CASE(rflags_bit15, reset_state, "guest RFLAGS 0x8002: reserved bits 0x8000 must be 0"),
    CASE(rflags_bit22, reset_state, "guest RFLAGS 0x400002: reserved bits 0x400000 must be 0"),
    CASE(rflags_bit1, reset_state, "guest RFLAGS 0x0: reserved bit 1 must be 1"),
    CASE(rflags_vm_real, reset_state, "guest RFLAGS 0x20002: VM must be 0 when CR0.PE = 0"),
    CASE(rflags_vm_pe, protected_state, "guest CS base 0x0: must be the selector 0x8 * 16 in virtual-8086 mode"),
    CASE(v86_limit, protected_state, "guest DS limit 0xfffff: must be 0xFFFF in virtual-8086 mode"),
    CASE(v86_ar, protected_state, "guest SS access rights 0x93: must be 0xF3 in virtual-8086 mode"),
    CASE(rflags_if_inject, reset_state, "IF must be 1 to inject an external interrupt"),
    CASE(activity_undefined, reset_state, "guest activity state 4 is not defined"),
    CASE(activity_shutdown, reset_state, "guest activity state 2 is not supported by the sim"),
    CASE(activity_hlt_dpl, protected_state, "guest activity state HLT needs SS.DPL = 0"),
    CASE(activity_hlt_sti, reset_state, "guest activity state 1: blocking by STI or MOV SS needs the active state"),
    CASE(activity_hlt_inject, reset_state, "guest activity state HLT: event type 3 vector 13 cannot be injected"),
    CASE(irq_reserved, reset_state, "guest interruptibility state 0x20: reserved bits 31:5 must be 0"),
    CASE(irq_enclave, reset_state, "guest interruptibility state 0x10: enclave interruption"),
    CASE(irq_sti_movss, reset_state, "guest interruptibility state 0x3: blocking by STI and by MOV SS together"),
    CASE(irq_sti_no_if, reset_state, "guest interruptibility state 0x1: blocking by STI needs RFLAGS.IF = 1"),
    CASE(irq_smi, reset_state, "guest interruptibility state 0x4: blocking by SMI outside SMM"),
    CASE(irq_extint_movss, reset_state, "an external interrupt is injected under STI or MOV SS blocking"),
    CASE(irq_nmi_movss, reset_state, "an NMI is injected under MOV SS blocking"),
    CASE_Q(irq_nmi_sti, reset_state, "an NMI is injected under STI blocking", 3),
    CASE(irq_vnmi, reset_state, "an NMI is injected under virtual-NMI blocking"),
    CASE(pending_reserved, reset_state, "guest pending debug exceptions 0x10: reserved bits"),
    CASE(pending_rtm, reset_state, "guest pending debug exceptions 0x10000: reserved bits"),
    CASE(pending_bs_missing, reset_state, "BS must be 1 with RFLAGS.TF = 1 and DEBUGCTL.BTF = 0"),
    CASE(pending_bs_extra, reset_state, "BS must be 0 with RFLAGS.TF = 0 or DEBUGCTL.BTF = 1"),
    CASE_Q(link_pointer, reset_state, "guest VMCS link pointer 0x0 is not FFFFFFFF_FFFFFFFFH", 4),
};
#undef CASE
#undef CASE_Q

/* One rule: the base state passes, the mutated one fails with the reason and the exit
 * qualification of SDM 27.8. */
static void test_check_case(void **state)
{
    const CheckCase *c = *state;
    VMCS v;
    uint64_t q;
    char why[200];
    c->base(&v);
    if (check(&v, &q, why, sizeof(why)) != 0)
        fail_msg("%s: the base state fails: %s", c->name, why);
    c->mutate(&v);
    assert_int_equal(check(&v, &q, why, sizeof(why)), -EINVAL);
    if (!strstr(why, c->reason))
        fail_msg("%s: reason \"%s\" does not contain \"%s\"", c->name, why, c->reason);
    assert_int_equal(q, c->qualification);
    assert_null(strchr(why, '\n'));
    /* A short buffer truncates, NULL outputs are fine. */
    char tiny[8];
    assert_int_equal(vmcs_check_guest_state(&v, NULL, tiny, sizeof(tiny)), -EINVAL);
    assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
    assert_int_equal(vmcs_check_guest_state(&v, NULL, NULL, 0), -EINVAL);
}

/* ------------------------------------------------------------------------------------ */
/* Exit information (SDM 28.2.1)                                                         */
/* ------------------------------------------------------------------------------------ */

static void test_io_qualification(void **state)
{
    (void)state;
    /* out %al, $0xe9 */
    assert_int_equal(vmx_io_qualification(1, false, false, false, true, 0xE9), 0x00E90040);
    /* in (%dx), %ax with DX = 0x3F8 */
    assert_int_equal(vmx_io_qualification(2, true, false, false, false, 0x3F8), 0x03F80009);
    /* rep outsb with DX = 0x3F8 */
    assert_int_equal(vmx_io_qualification(1, false, true, true, false, 0x3F8), 0x03F80030);
    /* in $0xff, %eax: size 4 is 3 in bits 2:0 */
    assert_int_equal(vmx_io_qualification(4, true, false, false, true, 0xFF), 0x00FF004B);
    assert_int_equal(vmx_io_qualification(1, true, true, true, false, 0xFFFF), 0xFFFF0038);
}

static void test_exit_reason(void **state)
{
    (void)state;
    assert_int_equal(vmx_exit_reason(EXIT_REASON_IO_INSTRUCTION, false), 30);
    assert_int_equal(vmx_exit_reason(EXIT_REASON_INVALID_GUEST_STATE, true), 0x80000021u);
    assert_int_equal(vmx_exit_reason(EXIT_REASON_HLT, false), 12);
}

static void test_cr_qualification(void **state)
{
    (void)state;
    /* mov %eax, %cr0 */
    assert_int_equal(vmx_cr_qualification(0, VMX_CR_ACCESS_MOV_TO_CR, 0, false, 0), 0x0);
    /* mov %cr3, %ebx */
    assert_int_equal(vmx_cr_qualification(3, VMX_CR_ACCESS_MOV_FROM_CR, 3, false, 0), 0x313);
    /* mov %esi, %cr4 */
    assert_int_equal(vmx_cr_qualification(4, VMX_CR_ACCESS_MOV_TO_CR, 6, false, 0), 0x604);
    /* clts */
    assert_int_equal(vmx_cr_qualification(0, VMX_CR_ACCESS_CLTS, 0, false, 0), 0x20);
    /* lmsw (mem) with source 0x0001 */
    assert_int_equal(vmx_cr_qualification(0, VMX_CR_ACCESS_LMSW, 0, true, 1), 0x10070);
}

int main(void)
{
    const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_named_encodings),
        cmocka_unit_test(test_table_matches_sdm),
        cmocka_unit_test(test_field_names),
        cmocka_unit_test(test_round_trip_every_field),
        cmocka_unit_test(test_width_truncation),
        cmocka_unit_test(test_high_half),
        cmocka_unit_test(test_unsupported_encodings),
        cmocka_unit_test(test_read_only_fields),
        cmocka_unit_test(test_success_keeps_error),
        cmocka_unit_test(test_init_controls),
        cmocka_unit_test(test_reset_state_passes),
        cmocka_unit_test(test_legal_variants_pass),
        cmocka_unit_test(test_io_qualification),
        cmocka_unit_test(test_exit_reason),
        cmocka_unit_test(test_cr_qualification),
    };
    /* One cmocka test per guest-state rule, named after it. */
    size_t n = ARRAY_SIZE(fixed) + ARRAY_SIZE(check_cases);
    struct CMUnitTest *tests = calloc(n, sizeof(*tests));
    if (!tests)
        return 1;
    memcpy(tests, fixed, sizeof(fixed));
    for (size_t i = 0; i < ARRAY_SIZE(check_cases); i++) {
        struct CMUnitTest *t = &tests[ARRAY_SIZE(fixed) + i];
        t->name = check_cases[i].name;
        t->test_func = test_check_case;
        t->initial_state = (void *)&check_cases[i];
    }
    int failed = _cmocka_run_group_tests("vmcs", tests, n, NULL, NULL);
    free(tests);
    return failed;
}
