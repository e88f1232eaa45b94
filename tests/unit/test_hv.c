/* Host facts: the hypervisor types table, CPU virtualization capabilities, exit names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "hypervisor_sim.h"
#include "hv/cpu_caps.h"

/* Runs a print function into memory; the caller frees the result. */
#define CAPTURE(buf, stmt)                                                                  \
    do {                                                                                    \
        size_t capture_len_;                                                                \
        FILE *out = open_memstream(&(buf), &capture_len_);                                  \
        assert_non_null(out);                                                               \
        stmt;                                                                               \
        assert_int_equal(fclose(out), 0);                                                   \
    } while (0)

static void test_hypervisor_table_entries(void **state)
{
    (void)state;
    assert_true(hypervisor_types_count >= 8);
    bool seen[3] = {false, false, false};
    for (size_t i = 0; i < hypervisor_types_count; i++) {
        const HypervisorInfo *h = &hypervisor_types[i];
        assert_non_null(h->name);
        assert_true(h->name[0] != '\0');
        assert_non_null(h->vendor);
        assert_true(h->vendor[0] != '\0');
        assert_non_null(h->description);
        assert_true(h->description[0] != '\0');
        assert_null(strchr(h->description, '\n'));
        assert_true(h->type == HYPERVISOR_TYPE_1 || h->type == HYPERVISOR_TYPE_2 ||
                    h->type == HYPERVISOR_TYPE_HYBRID);
        seen[h->type] = true;
        if (strcmp(h->name, "KVM") == 0) {
            assert_int_equal(h->type, HYPERVISOR_KVM);   /* the seed's name */
            assert_true(h->requires_host_os && h->hardware_virt_required);
        }
        /* The seed's fields: a Type 1 hypervisor is the host; a Type 2 needs one. */
        assert_non_null(h->examples);
        assert_true(h->examples[0] != '\0');
        if (h->type == HYPERVISOR_TYPE_1)
            assert_false(h->requires_host_os);
        if (h->type == HYPERVISOR_TYPE_2)
            assert_true(h->requires_host_os);
        if (strcmp(h->name, "QEMU (TCG)") == 0 || strcmp(h->name, "Xen") == 0)
            assert_false(h->hardware_virt_required);   /* TCG and PV guests need no VT-x */
    }
    assert_true(seen[HYPERVISOR_TYPE_1] && seen[HYPERVISOR_TYPE_2] &&
                seen[HYPERVISOR_TYPE_HYBRID]);
    assert_string_equal(hypervisor_type_name(HYPERVISOR_TYPE_1), "Type 1");
    assert_string_equal(hypervisor_type_name(HYPERVISOR_TYPE_2), "Type 2");
    assert_string_equal(hypervisor_type_name(HYPERVISOR_TYPE_HYBRID), "Hybrid");
}

static void test_hypervisor_table_printed(void **state)
{
    (void)state;
    char *text = NULL;
    CAPTURE(text, print_hypervisor_types_to(out));

    /* Header row first, with the four columns in order. */
    char *name = strstr(text, "NAME"), *type = strstr(text, "TYPE");
    char *vendor = strstr(text, "VENDOR"), *desc = strstr(text, "DESCRIPTION");
    assert_true(name == text);
    assert_true(type && vendor && desc && name < type && type < vendor && vendor < desc);
    size_t type_col = (size_t)(type - text);

    /* One row per entry, in table order, with its type aligned under TYPE. */
    const char *line = strchr(text, '\n') + 1;
    for (size_t i = 0; i < hypervisor_types_count; i++) {
        const HypervisorInfo *h = &hypervisor_types[i];
        const char *eol = strchr(line, '\n');
        assert_non_null(eol);
        assert_memory_equal(line, h->name, strlen(h->name));
        const char *tn = hypervisor_type_name(h->type);
        assert_memory_equal(line + type_col, tn, strlen(tn));
        const char *v = strstr(line, h->vendor), *d = strstr(line, h->description);
        assert_true(v && d && v < eol && d < eol);
        line = eol + 1;
    }
    assert_non_null(strstr(text, "Type 1"));
    assert_non_null(strstr(text, "Type 2"));
    assert_non_null(strstr(text, "bare-metal"));
    free(text);
}

/* Whether `flag` is a word of the first "flags" line of /proc/cpuinfo. */
static bool cpuinfo_has_flag(const char *flag)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    assert_non_null(f);
    char *line = NULL;
    size_t cap = 0;
    bool found = false, seen_flags = false;
    while (!seen_flags && getline(&line, &cap, f) > 0) {
        if (strncmp(line, "flags", 5) != 0)
            continue;
        seen_flags = true;
        char *p = strchr(line, ':');
        assert_non_null(p);
        for (char *save = NULL, *w = strtok_r(p + 1, " \t\n", &save); w;
             w = strtok_r(NULL, " \t\n", &save))
            if (strcmp(w, flag) == 0)
                found = true;
    }
    free(line);
    fclose(f);
    assert_true(seen_flags);
    return found;
}

static void test_cpu_caps_agree_with_cpuinfo(void **state)
{
    (void)state;
    CpuVirtCaps c = check_cpu_virt_support();
    assert_true(c.vendor[0] != '\0');
    assert_int_equal(c.hypervisor_present, cpuinfo_has_flag("hypervisor"));
    /* Linux shows vmx/svm exactly when CPUID reports them (and the firmware has not
     * disabled them, which would show up here as a mismatch worth a look). */
    assert_int_equal(c.vmx, cpuinfo_has_flag("vmx") ? CAP_YES : CAP_NO);
    assert_int_equal(c.svm, cpuinfo_has_flag("svm") ? CAP_YES : CAP_NO);
    if (c.hypervisor_present)
        assert_true(c.hypervisor_vendor[0] != '\0');
    else
        assert_string_equal(c.hypervisor_vendor, "");
    if (c.svm != CAP_YES)
        assert_int_equal(c.npt, CAP_UNKNOWN);
    else if (cpuinfo_has_flag("npt"))
        assert_int_equal(c.npt, CAP_YES);
    if (c.vmx != CAP_YES) {
        assert_int_equal(c.ept, CAP_UNKNOWN);
        assert_int_equal(c.unrestricted, CAP_UNKNOWN);
        assert_string_equal(c.msr_status, "VMX not reported by CPUID");
    } else if (access("/dev/cpu/0/msr", R_OK) != 0) {
        assert_int_equal(c.ept, CAP_UNKNOWN);
        assert_true(c.msr_status[0] != '\0');
    }
    if (c.ept == CAP_UNKNOWN || c.unrestricted == CAP_UNKNOWN)
        assert_true(c.msr_status[0] != '\0');
    /* The seed's booleans: true exactly when known supported. */
    assert_int_equal(c.vmx_supported, c.vmx == CAP_YES);
    assert_int_equal(c.svm_supported, c.svm == CAP_YES);
    assert_int_equal(c.ept_supported, c.ept == CAP_YES);
    assert_int_equal(c.npt_supported, c.npt == CAP_YES);
    assert_int_equal(c.unrestricted_guest, c.unrestricted == CAP_YES);
}

/* Decoding of the VMX capability MSRs, with values shaped like real ones. */
static void test_vmx_msr_decoding(void **state)
{
    (void)state;
    const uint64_t secondary_allowed = (uint64_t)(1u << 31) << 32;
    CapState ept = CAP_UNKNOWN, ug = CAP_UNKNOWN;

    /* Allowed-0 bits (31:0) say nothing about what may be 1. */
    assert_false(vmx_secondary_controls_allowed(0x00000000FFFFFFFFull));
    vmx_decode_secondary_caps(0x00000000FFFFFFFFull, ~0ull, &ept, &ug);
    assert_int_equal(ept, CAP_NO);
    assert_int_equal(ug, CAP_NO);

    assert_true(vmx_secondary_controls_allowed(secondary_allowed));
    vmx_decode_secondary_caps(secondary_allowed, (uint64_t)((1u << 1) | (1u << 7)) << 32, &ept,
                              &ug);
    assert_int_equal(ept, CAP_YES);
    assert_int_equal(ug, CAP_YES);

    vmx_decode_secondary_caps(secondary_allowed, (uint64_t)(1u << 1) << 32 | 0xFFu, &ept, &ug);
    assert_int_equal(ept, CAP_YES);
    assert_int_equal(ug, CAP_NO);

    vmx_decode_secondary_caps(secondary_allowed, 0xFFFFFFFFull, &ept, &ug);
    assert_int_equal(ept, CAP_NO);
    assert_int_equal(ug, CAP_NO);
}

static void test_kvm_facts(void **state)
{
    (void)state;
    CpuVirtCaps c = check_cpu_virt_support();
    char why[128] = "unset";
    bool usable = kvm_hw_usable(why, sizeof(why));

    assert_int_equal(c.kvm_present, access("/dev/kvm", F_OK) == 0);
    assert_int_equal(c.kvm_usable, usable);
    if (usable) {
        assert_string_equal(why, "");
        assert_int_equal(c.kvm_api_version, KVM_API_VERSION);
        assert_true(c.kvm_num_caps > 0 && c.kvm_num_caps <= CPU_VIRT_MAX_KVM_CAPS);
        bool sync_regs = false;
        for (int i = 0; i < c.kvm_num_caps; i++) {
            assert_true(c.kvm_caps[i].value > 0);
            assert_non_null(kvm_cap_name(c.kvm_caps[i].number));
            if (c.kvm_caps[i].number == KVM_CAP_SYNC_REGS)
                sync_regs = true;
        }
        assert_true(sync_regs);
    } else {
        assert_true(why[0] != '\0');
        assert_null(strchr(why, '\n'));
        assert_string_equal(c.kvm_status, why);
    }
    if (!c.kvm_present) {
        assert_false(usable);
        assert_string_equal(why, "/dev/kvm: No such file or directory");
        assert_int_equal(c.kvm_api_version, -1);
        assert_int_equal(c.kvm_num_caps, 0);
    }
    /* A NULL reason buffer is allowed. */
    assert_int_equal(kvm_hw_usable(NULL, 0), usable);
}

static void test_kvm_cap_names(void **state)
{
    (void)state;
    assert_string_equal(kvm_cap_name(KVM_CAP_SYNC_REGS), "SYNC_REGS");
    assert_string_equal(kvm_cap_name(KVM_CAP_IRQCHIP), "IRQCHIP");
    assert_string_equal(kvm_cap_name(KVM_CAP_USER_MEMORY), "USER_MEMORY");
    assert_string_equal(kvm_cap_name(KVM_CAP_IMMEDIATE_EXIT), "IMMEDIATE_EXIT");
    assert_null(kvm_cap_name(-1));
    assert_null(kvm_cap_name(100000));
}

static bool report_has_note(const CpuVirtCaps *c)
{
    char *text = NULL;
    CAPTURE(text, print_cpu_virt_caps(out, c));
    assert_non_null(strstr(text, "CPU\n"));
    assert_non_null(strstr(text, "\nKVM\n"));
    assert_true(strstr(text, "CPU\n") < strstr(text, "\nKVM\n"));
    assert_non_null(strstr(text, "VMX (Intel VT-x)"));
    assert_non_null(strstr(text, "SVM (AMD-V)"));
    assert_non_null(strstr(text, "/dev/kvm"));
    /* No line is longer than about 100 columns. */
    for (const char *l = text; *l;) {
        const char *eol = strchr(l, '\n');
        assert_non_null(eol);
        assert_true(eol - l <= 100);
        l = eol + 1;
    }
    bool note = strstr(text, "nested or paravirtual") != NULL;
    free(text);
    return note;
}

static void test_report_on_this_machine(void **state)
{
    (void)state;
    CpuVirtCaps c = check_cpu_virt_support();
    char *text = NULL;
    CAPTURE(text, print_cpu_virt_caps(out, &c));
    assert_non_null(strstr(text, c.vendor));
    if (c.kvm_usable) {
        assert_non_null(strstr(text, "present, usable"));
        assert_non_null(strstr(text, "SYNC_REGS"));
    }
    if (c.vmx != CAP_YES)
        assert_non_null(strstr(text, "EPT                  unknown (VMX not reported by CPUID)"));
    free(text);
    bool expect = c.hypervisor_present && c.vmx != CAP_YES && c.svm != CAP_YES && c.kvm_usable;
    assert_int_equal(report_has_note(&c), expect);
}

static void test_report_note_rule(void **state)
{
    (void)state;
    CpuVirtCaps c;
    memset(&c, 0, sizeof(c));
    strcpy(c.vendor, "AuthenticAMD");
    strcpy(c.brand, "AMD EPYC");
    c.hypervisor_present = true;
    strcpy(c.hypervisor_vendor, "KVMKVMKVM");
    c.vmx = c.svm = CAP_NO;
    c.npt = c.ept = c.unrestricted = CAP_UNKNOWN;
    strcpy(c.msr_status, "VMX not reported by CPUID");
    c.kvm_present = c.kvm_usable = true;
    c.kvm_api_version = 12;
    /* Enough capabilities to need several wrapped lines. */
    for (int i = 0; i < 60; i++)
        c.kvm_caps[c.kvm_num_caps++] = (KvmCapValue){.number = i, .value = i % 3 + 1};
    assert_true(report_has_note(&c));

    char *text = NULL;
    CAPTURE(text, print_cpu_virt_caps(out, &c));
    assert_non_null(strstr(text, "yes (KVMKVMKVM)"));
    assert_non_null(strstr(text, "capabilities (60)"));
    assert_non_null(strstr(text, "IRQCHIP"));
    assert_non_null(strstr(text, " HLT=2"));
    assert_non_null(strstr(text, "NPT                  unknown (SVM not reported by CPUID)"));
    free(text);

    CpuVirtCaps d = c;
    d.hypervisor_present = false;
    assert_false(report_has_note(&d));
    d = c;
    d.vmx = CAP_YES;
    assert_false(report_has_note(&d));
    d = c;
    d.svm = CAP_YES;
    assert_false(report_has_note(&d));
    d = c;
    d.kvm_usable = false;
    strcpy(d.kvm_status, "/dev/kvm: Permission denied");
    assert_false(report_has_note(&d));
    CAPTURE(text, print_cpu_virt_caps(out, &d));
    assert_non_null(strstr(text, "present, not usable: /dev/kvm: Permission denied"));
    free(text);
}

static void test_vmx_exit_reason_names(void **state)
{
    (void)state;
    assert_string_equal(vmx_exit_reason_name(0), "EXCEPTION_NMI");
    assert_string_equal(vmx_exit_reason_name(2), "TRIPLE_FAULT");
    assert_string_equal(vmx_exit_reason_name(10), "CPUID");
    assert_string_equal(vmx_exit_reason_name(12), "HLT");
    assert_string_equal(vmx_exit_reason_name(30), "IO_INSTRUCTION");
    assert_string_equal(vmx_exit_reason_name(48), "EPT_VIOLATION");
    assert_string_equal(vmx_exit_reason_name(49), "EPT_MISCONFIG");
    assert_string_equal(vmx_exit_reason_name(64), "XRSTORS");
    assert_null(vmx_exit_reason_name(35));
    assert_null(vmx_exit_reason_name(38));
    assert_null(vmx_exit_reason_name(42));
    assert_string_equal(vmx_exit_reason_name(37), "MONITOR_TRAP_FLAG");
    assert_string_equal(vmx_exit_reason_name(65), "PCONFIG");
    assert_string_equal(vmx_exit_reason_name(74), "BUS_LOCK");
    assert_string_equal(vmx_exit_reason_name(77), "TDCALL");
    assert_null(vmx_exit_reason_name(71));
    assert_null(vmx_exit_reason_name(78));
    assert_null(vmx_exit_reason_name(1000));
    assert_null(vmx_exit_reason_name(UINT32_MAX));
    /* Every other number up to 77 has a name. */
    for (uint32_t r = 0; r <= 77; r++)
        if (r != 35 && r != 38 && r != 42 && r != 71)
            assert_non_null(vmx_exit_reason_name(r));
}

static void test_kvm_exit_reason_names(void **state)
{
    (void)state;
    assert_string_equal(kvm_exit_reason_name(KVM_EXIT_IO), "IO");
    assert_string_equal(kvm_exit_reason_name(KVM_EXIT_HLT), "HLT");
    assert_string_equal(kvm_exit_reason_name(KVM_EXIT_MMIO), "MMIO");
    assert_string_equal(kvm_exit_reason_name(KVM_EXIT_SHUTDOWN), "SHUTDOWN");
    assert_string_equal(kvm_exit_reason_name(KVM_EXIT_FAIL_ENTRY), "FAIL_ENTRY");
    assert_string_equal(kvm_exit_reason_name(KVM_EXIT_INTERNAL_ERROR), "INTERNAL_ERROR");
    assert_string_equal(kvm_exit_reason_name(KVM_EXIT_INTR), "INTR");
    assert_string_equal(kvm_exit_reason_name(KVM_EXIT_DEBUG), "DEBUG");
    assert_null(kvm_exit_reason_name(1000));
    assert_null(kvm_exit_reason_name(UINT32_MAX));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hypervisor_table_entries),
        cmocka_unit_test(test_hypervisor_table_printed),
        cmocka_unit_test(test_cpu_caps_agree_with_cpuinfo),
        cmocka_unit_test(test_vmx_msr_decoding),
        cmocka_unit_test(test_kvm_facts),
        cmocka_unit_test(test_kvm_cap_names),
        cmocka_unit_test(test_report_on_this_machine),
        cmocka_unit_test(test_report_note_rule),
        cmocka_unit_test(test_vmx_exit_reason_names),
        cmocka_unit_test(test_kvm_exit_reason_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
