/*
 * The sim kernel's VMCS: one table of the fields the VMCS struct holds, VMREAD/VMWRITE
 * over it, the control values the sim runs with, the guest-state checks of VM entry and
 * the exit-qualification layouts. Facts from the Intel SDM Vol. 3C (see vmcs.h).
 */
#include "sim/vmcs.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* One row: VMCS_<sfx> is the encoding, "<sfx>" the name, `member` the struct field. The
 * width and type are the encoding's own bits, so the table cannot contradict them. */
#define FIELD(sfx, member)                                                              \
    {                                                                                   \
        VMCS_##sfx, #sfx, offsetof(VMCS, member), sizeof(((VMCS *)0)->member),          \
            (VmcsFieldWidth)VMCS_ENC_WIDTH(VMCS_##sfx),                                 \
            (VmcsFieldType)VMCS_ENC_TYPE(VMCS_##sfx)                                    \
    }

/* Every field of the VMCS struct, in encoding order (SDM Vol. 3C Appendix B). */
static const VmcsFieldInfo vmcs_fields[] = {
    /* B.1.1 16-bit control */
    FIELD(VIRTUAL_PROCESSOR_ID, control.vpid),
    /* B.1.2 16-bit guest state */
    FIELD(GUEST_ES_SELECTOR, guest.es.selector),
    FIELD(GUEST_CS_SELECTOR, guest.cs.selector),
    FIELD(GUEST_SS_SELECTOR, guest.ss.selector),
    FIELD(GUEST_DS_SELECTOR, guest.ds.selector),
    FIELD(GUEST_FS_SELECTOR, guest.fs.selector),
    FIELD(GUEST_GS_SELECTOR, guest.gs.selector),
    FIELD(GUEST_LDTR_SELECTOR, guest.ldtr.selector),
    FIELD(GUEST_TR_SELECTOR, guest.tr.selector),
    /* B.1.3 16-bit host state */
    FIELD(HOST_ES_SELECTOR, host.es_selector),
    FIELD(HOST_CS_SELECTOR, host.cs_selector),
    FIELD(HOST_SS_SELECTOR, host.ss_selector),
    FIELD(HOST_DS_SELECTOR, host.ds_selector),
    FIELD(HOST_FS_SELECTOR, host.fs_selector),
    FIELD(HOST_GS_SELECTOR, host.gs_selector),
    FIELD(HOST_TR_SELECTOR, host.tr_selector),
    /* B.2.1 64-bit control */
    FIELD(IO_BITMAP_A, control.io_bitmap_a),
    FIELD(IO_BITMAP_B, control.io_bitmap_b),
    FIELD(MSR_BITMAP, control.msr_bitmap),
    FIELD(TSC_OFFSET, control.tsc_offset),
    FIELD(EPT_POINTER, control.ept_pointer),
    /* B.2.2 64-bit read-only data */
    FIELD(GUEST_PHYSICAL_ADDRESS, exit.guest_physical_address),
    /* B.2.3 64-bit guest state */
    FIELD(VMCS_LINK_POINTER, guest.vmcs_link_pointer),
    FIELD(GUEST_IA32_DEBUGCTL, guest.ia32_debugctl),
    FIELD(GUEST_IA32_PAT, guest.ia32_pat),
    FIELD(GUEST_IA32_EFER, guest.ia32_efer),
    /* B.2.4 64-bit host state */
    FIELD(HOST_IA32_PAT, host.ia32_pat),
    FIELD(HOST_IA32_EFER, host.ia32_efer),
    /* B.3.1 32-bit control */
    FIELD(PIN_BASED_VM_EXEC_CONTROL, control.pin_based),
    FIELD(CPU_BASED_VM_EXEC_CONTROL, control.cpu_based),
    FIELD(EXCEPTION_BITMAP, control.exception_bitmap),
    FIELD(VM_EXIT_CONTROLS, control.exit_controls),
    FIELD(VM_ENTRY_CONTROLS, control.entry_controls),
    FIELD(VM_ENTRY_INTERRUPTION_INFO, control.entry_interruption_info),
    FIELD(VM_ENTRY_EXCEPTION_ERROR_CODE, control.entry_exception_error_code),
    FIELD(VM_ENTRY_INSTRUCTION_LEN, control.entry_instruction_length),
    FIELD(SECONDARY_VM_EXEC_CONTROL, control.secondary),
    /* B.3.2 32-bit read-only data */
    FIELD(VM_INSTRUCTION_ERROR, exit.vm_instruction_error),
    FIELD(EXIT_REASON, exit.reason),
    FIELD(VM_EXIT_INTERRUPTION_INFO, exit.interruption_info),
    FIELD(VM_EXIT_INTERRUPTION_ERROR_CODE, exit.interruption_error_code),
    FIELD(IDT_VECTORING_INFO, exit.idt_vectoring_info),
    FIELD(IDT_VECTORING_ERROR_CODE, exit.idt_vectoring_error_code),
    FIELD(VM_EXIT_INSTRUCTION_LEN, exit.instruction_length),
    FIELD(VM_EXIT_INSTRUCTION_INFO, exit.instruction_info),
    /* B.3.3 32-bit guest state */
    FIELD(GUEST_ES_LIMIT, guest.es.limit),
    FIELD(GUEST_CS_LIMIT, guest.cs.limit),
    FIELD(GUEST_SS_LIMIT, guest.ss.limit),
    FIELD(GUEST_DS_LIMIT, guest.ds.limit),
    FIELD(GUEST_FS_LIMIT, guest.fs.limit),
    FIELD(GUEST_GS_LIMIT, guest.gs.limit),
    FIELD(GUEST_LDTR_LIMIT, guest.ldtr.limit),
    FIELD(GUEST_TR_LIMIT, guest.tr.limit),
    FIELD(GUEST_GDTR_LIMIT, guest.gdtr_limit),
    FIELD(GUEST_IDTR_LIMIT, guest.idtr_limit),
    FIELD(GUEST_ES_AR_BYTES, guest.es.access_rights),
    FIELD(GUEST_CS_AR_BYTES, guest.cs.access_rights),
    FIELD(GUEST_SS_AR_BYTES, guest.ss.access_rights),
    FIELD(GUEST_DS_AR_BYTES, guest.ds.access_rights),
    FIELD(GUEST_FS_AR_BYTES, guest.fs.access_rights),
    FIELD(GUEST_GS_AR_BYTES, guest.gs.access_rights),
    FIELD(GUEST_LDTR_AR_BYTES, guest.ldtr.access_rights),
    FIELD(GUEST_TR_AR_BYTES, guest.tr.access_rights),
    FIELD(GUEST_INTERRUPTIBILITY_INFO, guest.interruptibility_state),
    FIELD(GUEST_ACTIVITY_STATE, guest.activity_state),
    FIELD(GUEST_SYSENTER_CS, guest.sysenter_cs),
    /* B.4.1 natural-width control */
    FIELD(CR0_GUEST_HOST_MASK, control.cr0_guest_host_mask),
    FIELD(CR4_GUEST_HOST_MASK, control.cr4_guest_host_mask),
    FIELD(CR0_READ_SHADOW, control.cr0_read_shadow),
    FIELD(CR4_READ_SHADOW, control.cr4_read_shadow),
    /* B.4.2 natural-width read-only data */
    FIELD(EXIT_QUALIFICATION, exit.qualification),
    FIELD(GUEST_LINEAR_ADDRESS, exit.guest_linear_address),
    /* B.4.3 natural-width guest state */
    FIELD(GUEST_CR0, guest.cr0),
    FIELD(GUEST_CR3, guest.cr3),
    FIELD(GUEST_CR4, guest.cr4),
    FIELD(GUEST_ES_BASE, guest.es.base),
    FIELD(GUEST_CS_BASE, guest.cs.base),
    FIELD(GUEST_SS_BASE, guest.ss.base),
    FIELD(GUEST_DS_BASE, guest.ds.base),
    FIELD(GUEST_FS_BASE, guest.fs.base),
    FIELD(GUEST_GS_BASE, guest.gs.base),
    FIELD(GUEST_LDTR_BASE, guest.ldtr.base),
    FIELD(GUEST_TR_BASE, guest.tr.base),
    FIELD(GUEST_GDTR_BASE, guest.gdtr_base),
    FIELD(GUEST_IDTR_BASE, guest.idtr_base),
    FIELD(GUEST_DR7, guest.dr7),
    FIELD(GUEST_RSP, guest.rsp),
    FIELD(GUEST_RIP, guest.rip),
    FIELD(GUEST_RFLAGS, guest.rflags),
    FIELD(GUEST_PENDING_DBG_EXCEPTIONS, guest.pending_debug_exceptions),
    FIELD(GUEST_SYSENTER_ESP, guest.sysenter_esp),
    FIELD(GUEST_SYSENTER_EIP, guest.sysenter_eip),
    /* B.4.4 natural-width host state */
    FIELD(HOST_CR0, host.cr0),
    FIELD(HOST_CR3, host.cr3),
    FIELD(HOST_CR4, host.cr4),
    FIELD(HOST_FS_BASE, host.fs_base),
    FIELD(HOST_GS_BASE, host.gs_base),
    FIELD(HOST_TR_BASE, host.tr_base),
    FIELD(HOST_GDTR_BASE, host.gdtr_base),
    FIELD(HOST_IDTR_BASE, host.idtr_base),
    FIELD(HOST_RSP, host.rsp),
    FIELD(HOST_RIP, host.rip),
};

/* The struct member of each field must be exactly as wide as the field (16-bit: 2 bytes,
 * 32-bit: 4, 64-bit and natural-width: 8); the unit tests check every row. */

size_t vmcs_field_count(void)
{
    return ARRAY_SIZE(vmcs_fields);
}

const VmcsFieldInfo *vmcs_field_at(size_t i)
{
    return i < ARRAY_SIZE(vmcs_fields) ? &vmcs_fields[i] : NULL;
}

/* The row whose encoding is exactly `encoding` (access type full), or NULL. The table is
 * sorted, so a binary search. */
const VmcsFieldInfo *vmcs_field_find(uint32_t encoding)
{
    size_t lo = 0, hi = ARRAY_SIZE(vmcs_fields);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (vmcs_fields[mid].encoding == encoding)
            return &vmcs_fields[mid];
        if (vmcs_fields[mid].encoding < encoding)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* The field an encoding names, and whether it is the high-half access of a 64-bit field.
 * NULL when unsupported: no such field, reserved encoding bits set, or access type high
 * on a field that is not 64-bit (SDM Vol. 3C 25.11.2: "the access type must be full for
 * 16-bit, 32-bit and natural-width fields"). */
static const VmcsFieldInfo *lookup(uint32_t encoding, bool *high)
{
    *high = encoding & VMCS_ENC_ACCESS_HIGH;
    const VmcsFieldInfo *f = vmcs_field_find(encoding & ~VMCS_ENC_ACCESS_HIGH);
    if (f && *high && f->width != VMCS_WIDTH_64)
        return NULL;
    return f;
}

const char *vmcs_field_name(uint32_t encoding)
{
    bool high;
    const VmcsFieldInfo *f = lookup(encoding, &high);
    return f ? f->name : NULL;
}

static uint64_t load_member(const VMCS *vmcs, const VmcsFieldInfo *f)
{
    const unsigned char *p = (const unsigned char *)vmcs + f->offset;
    switch (f->size) {
    case 2: { uint16_t v; memcpy(&v, p, sizeof(v)); return v; }
    case 4: { uint32_t v; memcpy(&v, p, sizeof(v)); return v; }
    default: { uint64_t v; memcpy(&v, p, sizeof(v)); return v; }
    }
}

/* Stores `value` truncated to the member's size: VMWRITE ignores the source's bits beyond
 * the field's width (SDM Vol. 3C 31.3, VMWRITE "Operation"). */
static void store_member(VMCS *vmcs, const VmcsFieldInfo *f, uint64_t value)
{
    unsigned char *p = (unsigned char *)vmcs + f->offset;
    switch (f->size) {
    case 2: { uint16_t v = (uint16_t)value; memcpy(p, &v, sizeof(v)); break; }
    case 4: { uint32_t v = (uint32_t)value; memcpy(p, &v, sizeof(v)); break; }
    default: memcpy(p, &value, sizeof(value)); break;
    }
}

/* VMfailValid(error): the error number goes to the VM-instruction error field (SDM Vol.
 * 3C 31.2, "Conventions"). */
static int fail_valid(VMCS *vmcs, uint32_t error)
{
    vmcs->exit.vm_instruction_error = error;
    return -EINVAL;
}

/* VMREAD (SDM Vol. 3C 31.3). The error path writes vm_instruction_error through a cast:
 * the VMCS is the sim's own mutable state, the parameter is const for the success path.
 * VMsucceed clears only RFLAGS status bits, never the error field. */
int vmcs_read(const VMCS *vmcs, uint32_t encoding, uint64_t *value)
{
    if (!vmcs || !value)
        return -EINVAL;
    bool high;
    const VmcsFieldInfo *f = lookup(encoding, &high);
    if (!f)
        return fail_valid((VMCS *)vmcs, VMX_ERROR_UNSUPPORTED_COMPONENT);
    uint64_t v = load_member(vmcs, f);
    *value = high ? v >> 32 : v;
    return 0;
}

/* VMWRITE (SDM Vol. 3C 31.3): unsupported component (12) is checked before read-only
 * (13). The sim does not report "VMWRITE to any supported field" (IA32_VMX_MISC bit 29),
 * so exit-information fields are read-only to VMWRITE. */
int vmcs_write(VMCS *vmcs, uint32_t encoding, uint64_t value)
{
    if (!vmcs)
        return -EINVAL;
    bool high;
    const VmcsFieldInfo *f = lookup(encoding, &high);
    if (!f)
        return fail_valid(vmcs, VMX_ERROR_UNSUPPORTED_COMPONENT);
    if (f->type == VMCS_TYPE_EXIT_INFO)
        return fail_valid(vmcs, VMX_ERROR_READ_ONLY_COMPONENT);
    if (high)
        value = (load_member(vmcs, f) & 0xFFFFFFFFull) | ((value & 0xFFFFFFFFull) << 32);
    store_member(vmcs, f, value);
    return 0;
}

/* ------------------------------------------------------------------------------------ */
/* Controls                                                                              */
/* ------------------------------------------------------------------------------------ */

#define CR0_PE (1ull << 0)
#define CR0_PG (1ull << 31)
#define CR4_VMXE (1ull << 13)

/* The controls of every sim guest. Each value keeps the default1 bits a real VMX CPU
 * reports (SDM Vol. 3C Appendix A.3-A.5) and sets only bits a real CPU with EPT and
 * unrestricted guest allows to be 1, so the same VMCS would pass the control checks of
 * 27.2.1 on hardware; primary controls assume the TRUE_PROCBASED_CTLS MSR (IA32_VMX_BASIC
 * bit 55, every CPU with unrestricted guest has it), which lets CR3-load/store exiting be
 * 0 once EPT is on. */
void vmcs_init_controls(VMCS *vmcs)
{
    uint64_t eptp = vmcs->control.ept_pointer;
    memset(&vmcs->control, 0, sizeof(vmcs->control));
    vmcs->control.ept_pointer = eptp;

    /* The sim has no external interrupts or NMIs yet; should it get them, they exit. */
    vmcs->control.pin_based =
        VMX_PIN_DEFAULT1 | VMX_PIN_EXTERNAL_INTERRUPT_EXITING | VMX_PIN_NMI_EXITING;
    /* HLT and every I/O instruction exit (no I/O bitmaps); without MSR bitmaps every
     * RDMSR/WRMSR exits; CPUID exits unconditionally. */
    vmcs->control.cpu_based = VMX_PROC_TRUE_DEFAULT1 | VMX_PROC_HLT_EXITING |
                              VMX_PROC_UNCONDITIONAL_IO_EXITING | VMX_PROC_ACTIVATE_SECONDARY;
    vmcs->control.secondary =
        VMX_PROC2_ENABLE_EPT | VMX_PROC2_ENABLE_VPID | VMX_PROC2_UNRESTRICTED_GUEST;
    /* The host (the sim kernel) is 64-bit; PAT and EFER are switched on entry and exit. */
    vmcs->control.exit_controls = VMX_EXIT_DEFAULT1 | VMX_EXIT_HOST_ADDRESS_SPACE_SIZE |
                                  VMX_EXIT_SAVE_IA32_PAT | VMX_EXIT_LOAD_IA32_PAT |
                                  VMX_EXIT_SAVE_IA32_EFER | VMX_EXIT_LOAD_IA32_EFER;
    /* Default1 includes "load debug controls"; no IA-32e mode guest. */
    vmcs->control.entry_controls =
        VMX_ENTRY_DEFAULT1 | VMX_ENTRY_LOAD_IA32_PAT | VMX_ENTRY_LOAD_IA32_EFER;
    /* The guest handles its own exceptions; a triple fault exits regardless. */
    vmcs->control.exception_bitmap = 0;
    /* The guest owns all of CR0: the interpreter implements every bit an unrestricted
     * guest may change. The host owns CR4.VMXE and shows it as 0: the sim offers no
     * nested VMX, so a guest setting it exits (CR access) and can be refused. */
    vmcs->control.cr0_guest_host_mask = 0;
    vmcs->control.cr0_read_shadow = 0;
    vmcs->control.cr4_guest_host_mask = CR4_VMXE;
    vmcs->control.cr4_read_shadow = 0;
    /* VPID 0 is the host's; a guest tags its TLB entries with 1 (27.2.1.1). */
    vmcs->control.vpid = 1;
    /* No VMCS shadowing: the link pointer must be ~0 (27.3.1.5). */
    vmcs->guest.vmcs_link_pointer = ~0ull;
}

/* ------------------------------------------------------------------------------------ */
/* Guest-state checks (SDM Vol. 3C 27.3.1)                                               */
/* ------------------------------------------------------------------------------------ */

#define AR_TYPE_MASK 0xFu
#define AR_S (1u << 4)
#define AR_DPL(ar) (((ar) >> 5) & 3u)
#define AR_P (1u << 7)
#define AR_RESERVED_11_8 0x00000F00u
#define AR_L (1u << 13)
#define AR_G (1u << 15)
#define AR_UNUSABLE (1u << 16)
#define AR_RESERVED_31_17 0xFFFE0000u

#define RFLAGS_TF (1ull << 8)
#define RFLAGS_IF (1ull << 9)
#define RFLAGS_VM (1ull << 17)
#define RFLAGS_RESERVED_0 0xFFFFFFFFFFC08028ull   /* 63:22, 15, 5, 3 */
#define RFLAGS_RESERVED_1 (1ull << 1)

#define DEBUGCTL_BTF (1ull << 1)
/* IA32_DEBUGCTL bits the SDM defines (Vol. 3B, "IA32_DEBUGCTL MSR"): 0, 1 and 15:6. */
#define DEBUGCTL_DEFINED 0x000000000000FFC3ull
/* IA32_EFER bits: SCE 0, LME 8, LMA 10, NXE 11 (Vol. 3A 2.2.1). */
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define EFER_DEFINED 0x0000000000000D01ull
#define PENDING_DBG_RESERVED 0xFFFFFFFFFFFFAFF0ull   /* 11:4, 13, 15, 63:16 (see below) */

typedef struct {
    const VMCS *vmcs;
    uint64_t *qualification;
    char *why;
    size_t why_size;
} Check;

/* Records a failed check: the qualification and the formatted reason. Returns -EINVAL. */
__attribute__((format(printf, 3, 4)))
static int reject(const Check *c, uint64_t qualification, const char *fmt, ...)
{
    if (c->qualification)
        *c->qualification = qualification;
    if (c->why && c->why_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->why, c->why_size, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

/* Canonical for 48-bit linear addresses: bits 63:47 all equal (the sim has no LA57). */
static bool canonical(uint64_t a)
{
    uint64_t top = a >> 47;
    return top == 0 || top == 0x1FFFF;
}

/* Bit 15 (G) against the limit (27.3.1.2): limit bits 11:0 not all 1 needs G = 0, any of
 * limit bits 31:20 set needs G = 1. */
static const char *granularity_error(uint32_t limit, uint32_t ar)
{
    if ((limit & 0xFFFu) != 0xFFFu && (ar & AR_G))
        return "G is 1 but limit bits 11:0 are not all 1";
    if ((limit & 0xFFF00000u) && !(ar & AR_G))
        return "G is 0 but limit bits 31:20 are not all 0";
    return NULL;
}

/* 27.3.1.1: CR0, CR3, CR4, DR7, IA32_DEBUGCTL, SYSENTER, PAT and EFER. */
static int check_control_registers(const Check *c, bool ug, bool ia32e)
{
    const VMCS *v = c->vmcs;
    uint64_t cr0 = v->guest.cr0, cr4 = v->guest.cr4;
    uint64_t fixed0 = VMX_SIM_CR0_FIXED0;
    if (ug)
        fixed0 &= ~(CR0_PE | CR0_PG);
    if ((cr0 & fixed0) != fixed0)
        return reject(c, 0, "guest CR0 0x%llx: fixed-1 bits 0x%llx are not all set",
                      (unsigned long long)cr0, (unsigned long long)fixed0);
    if (cr0 & ~VMX_SIM_CR0_FIXED1)
        return reject(c, 0, "guest CR0 0x%llx: fixed-0 bits 0x%llx are set",
                      (unsigned long long)cr0,
                      (unsigned long long)(cr0 & ~VMX_SIM_CR0_FIXED1));
    if ((cr0 & CR0_PG) && !(cr0 & CR0_PE))
        return reject(c, 0, "guest CR0 0x%llx: PG is 1 but PE is 0", (unsigned long long)cr0);
    /* an IA-32e mode guest pages with PAE (27.3.1.1) */
    if (ia32e && (!(cr0 & CR0_PG) || !(cr4 & (1u << 5))))
        return reject(c, 0, "\"IA-32e mode guest\" with CR0 0x%llx, CR4 0x%llx: PG and PAE must be 1",
                      (unsigned long long)cr0, (unsigned long long)cr4);
    if ((cr4 & VMX_SIM_CR4_FIXED0) != VMX_SIM_CR4_FIXED0)
        return reject(c, 0, "guest CR4 0x%llx: fixed-1 bits are not all set",
                      (unsigned long long)cr4);
    if (cr4 & ~VMX_SIM_CR4_FIXED1)
        return reject(c, 0, "guest CR4 0x%llx: bits 0x%llx are not supported in VMX operation",
                      (unsigned long long)cr4, (unsigned long long)(cr4 & ~VMX_SIM_CR4_FIXED1));
    if (v->guest.cr3 >> VMX_SIM_MAXPHYADDR)
        return reject(c, 0, "guest CR3 0x%llx: bits beyond the physical-address width (%d) are set",
                      (unsigned long long)v->guest.cr3, VMX_SIM_MAXPHYADDR);
    if (v->control.entry_controls & VMX_ENTRY_LOAD_DEBUG_CONTROLS) {
        if (v->guest.ia32_debugctl & ~DEBUGCTL_DEFINED)
            return reject(c, 0, "guest IA32_DEBUGCTL 0x%llx: reserved bits are set",
                          (unsigned long long)v->guest.ia32_debugctl);
        if (v->guest.dr7 >> 32)
            return reject(c, 0, "guest DR7 0x%llx: bits 63:32 must be 0",
                          (unsigned long long)v->guest.dr7);
    }
    if (!canonical(v->guest.sysenter_esp))
        return reject(c, 0, "guest IA32_SYSENTER_ESP 0x%llx is not canonical",
                      (unsigned long long)v->guest.sysenter_esp);
    if (!canonical(v->guest.sysenter_eip))
        return reject(c, 0, "guest IA32_SYSENTER_EIP 0x%llx is not canonical",
                      (unsigned long long)v->guest.sysenter_eip);
    if (v->control.entry_controls & VMX_ENTRY_LOAD_IA32_PAT) {
        for (int i = 0; i < 8; i++) {
            unsigned type = (unsigned)(v->guest.ia32_pat >> (8 * i)) & 0xFFu;
            if (type == 2 || type == 3 || type > 7)
                return reject(c, 0, "guest IA32_PAT 0x%llx: entry %d has memory type %u",
                              (unsigned long long)v->guest.ia32_pat, i, type);
        }
    }
    if (v->control.entry_controls & VMX_ENTRY_LOAD_IA32_EFER) {
        uint64_t efer = v->guest.ia32_efer;
        if (efer & ~EFER_DEFINED)
            return reject(c, 0, "guest IA32_EFER 0x%llx: reserved bits are set",
                          (unsigned long long)efer);
        if (!!(efer & EFER_LMA) != ia32e)
            return reject(c, 0, "guest IA32_EFER 0x%llx: LMA differs from \"IA-32e mode guest\"",
                          (unsigned long long)efer);
        if ((cr0 & CR0_PG) && !!(efer & EFER_LME) != !!(efer & EFER_LMA))
            return reject(c, 0, "guest IA32_EFER 0x%llx: LME differs from LMA with CR0.PG = 1",
                          (unsigned long long)efer);
    }
    return 0;
}

/* 27.3.1.2 for CS, SS, DS, ES, FS and GS outside virtual-8086 mode. */
static int check_code_data_segments(const Check *c, bool ug)
{
    const VMCS *v = c->vmcs;
    const VmcsSegment *cs = &v->guest.cs, *ss = &v->guest.ss;
    uint32_t cs_type = cs->access_rights & AR_TYPE_MASK;
    bool pe = v->guest.cr0 & CR0_PE;

    /* Selectors: SS.RPL = CS.RPL unless unrestricted guest. */
    if (!ug && (ss->selector & 3) != (cs->selector & 3))
        return reject(c, 0, "guest SS selector 0x%x: RPL differs from CS's", ss->selector);

    /* Bases: CS bits 63:32 zero; usable SS, DS, ES likewise; FS, GS canonical. */
    if (cs->base >> 32)
        return reject(c, 0, "guest CS base 0x%llx: bits 63:32 must be 0",
                      (unsigned long long)cs->base);
    const struct { const char *name; const VmcsSegment *s; } low4g[] = {
        {"SS", ss}, {"DS", &v->guest.ds}, {"ES", &v->guest.es}};
    for (size_t i = 0; i < ARRAY_SIZE(low4g); i++)
        if (!(low4g[i].s->access_rights & AR_UNUSABLE) && (low4g[i].s->base >> 32))
            return reject(c, 0, "guest %s base 0x%llx: bits 63:32 must be 0", low4g[i].name,
                          (unsigned long long)low4g[i].s->base);
    if (!canonical(v->guest.fs.base))
        return reject(c, 0, "guest FS base 0x%llx is not canonical",
                      (unsigned long long)v->guest.fs.base);
    if (!canonical(v->guest.gs.base))
        return reject(c, 0, "guest GS base 0x%llx is not canonical",
                      (unsigned long long)v->guest.gs.base);

    /* CS access rights. */
    /* These apply whatever CS's unusable bit says ("if the register is CS or ..."). */
    uint32_t ar = cs->access_rights;
    bool type_ok = cs_type == 9 || cs_type == 11 || cs_type == 13 || cs_type == 15 ||
                   (ug && cs_type == 3);
    if (!type_ok)
        return reject(c, 0, "guest CS access rights: type 0x%x is not allowed for CS", cs_type);
    if (!(ar & AR_S))
        return reject(c, 0, "guest CS access rights 0x%x: S must be 1", ar);
    if (cs_type == 3 && AR_DPL(ar) != 0)
        return reject(c, 0, "guest CS access rights 0x%x: DPL must be 0 with type 3", ar);
    if ((cs_type == 9 || cs_type == 11) && AR_DPL(ar) != AR_DPL(ss->access_rights))
        return reject(c, 0,
                      "guest CS access rights 0x%x: non-conforming CS DPL differs from SS DPL",
                      ar);
    if ((cs_type == 13 || cs_type == 15) && AR_DPL(ar) > AR_DPL(ss->access_rights))
        return reject(c, 0, "guest CS access rights 0x%x: conforming CS DPL is above SS DPL", ar);
    if (!(ar & AR_P))
        return reject(c, 0, "guest CS access rights 0x%x: P must be 1", ar);
    if (ar & AR_RESERVED_11_8)
        return reject(c, 0, "guest CS access rights 0x%x: reserved bits 11:8 must be 0", ar);
    const char *g = granularity_error(cs->limit, ar);
    if (g)
        return reject(c, 0, "guest CS access rights 0x%x, limit 0x%x: %s", ar, cs->limit, g);
    if (ar & AR_RESERVED_31_17)
        return reject(c, 0, "guest CS access rights 0x%x: reserved bits 31:17 must be 0", ar);
    if ((c->vmcs->control.entry_controls & VMX_ENTRY_IA32E_MODE_GUEST) && (ar & AR_L) &&
        (ar & (1u << 14)))   /* D/B */
        return reject(c, 0, "guest CS access rights 0x%x: L and D/B are both 1", ar);

    /* SS DPL. */
    ar = ss->access_rights;
    if (!ug && AR_DPL(ar) != (ss->selector & 3u))
        return reject(c, 0, "guest SS access rights 0x%x: DPL differs from the selector's RPL",
                      ar);
    if ((cs_type == 3 || !pe) && AR_DPL(ar) != 0)
        return reject(c, 0, "guest SS access rights 0x%x: DPL must be 0 %s", ar,
                      pe ? "with CS type 3" : "in real mode (CR0.PE = 0)");

    /* SS, DS, ES, FS, GS when usable. */
    const struct { const char *name; const VmcsSegment *s; } data[] = {
        {"SS", ss}, {"DS", &v->guest.ds}, {"ES", &v->guest.es},
        {"FS", &v->guest.fs}, {"GS", &v->guest.gs}};
    for (size_t i = 0; i < ARRAY_SIZE(data); i++) {
        const char *name = data[i].name;
        const VmcsSegment *s = data[i].s;
        ar = s->access_rights;
        if (ar & AR_UNUSABLE)
            continue;
        uint32_t type = ar & AR_TYPE_MASK;
        if (i == 0) {
            if (type != 3 && type != 7)
                return reject(c, 0, "guest SS access rights: type 0x%x is not allowed for SS",
                              type);
        } else {
            if (!(type & 1))
                return reject(c, 0, "guest %s access rights: type 0x%x is not accessed", name,
                              type);
            if ((type & 8) && !(type & 2))
                return reject(c, 0,
                              "guest %s access rights: type 0x%x is an unreadable code segment",
                              name, type);
        }
        if (!(ar & AR_S))
            return reject(c, 0, "guest %s access rights 0x%x: S must be 1", name, ar);
        if (!ug && i != 0 && type <= 11 && AR_DPL(ar) < (s->selector & 3u))
            return reject(c, 0, "guest %s access rights 0x%x: DPL is below the selector's RPL",
                          name, ar);
        if (!(ar & AR_P))
            return reject(c, 0, "guest %s access rights 0x%x: P must be 1", name, ar);
        if (ar & AR_RESERVED_11_8)
            return reject(c, 0, "guest %s access rights 0x%x: reserved bits 11:8 must be 0",
                          name, ar);
        g = granularity_error(s->limit, ar);
        if (g)
            return reject(c, 0, "guest %s access rights 0x%x, limit 0x%x: %s", name, ar,
                          s->limit, g);
        if (ar & AR_RESERVED_31_17)
            return reject(c, 0, "guest %s access rights 0x%x: reserved bits 31:17 must be 0",
                          name, ar);
    }
    return 0;
}

/* 27.3.1.2 for CS, SS, DS, ES, FS and GS in virtual-8086 mode (RFLAGS.VM = 1): base =
 * selector * 16, limit 0xFFFF, access rights 0xF3 (present, DPL 3, accessed read/write
 * data), whatever the segment. */
static int check_v86_segments(const Check *c)
{
    const VMCS *v = c->vmcs;
    const struct { const char *name; const VmcsSegment *s; } segs[] = {
        {"CS", &v->guest.cs}, {"SS", &v->guest.ss}, {"DS", &v->guest.ds},
        {"ES", &v->guest.es}, {"FS", &v->guest.fs}, {"GS", &v->guest.gs}};
    for (size_t i = 0; i < ARRAY_SIZE(segs); i++) {
        const VmcsSegment *s = segs[i].s;
        if (s->base != (uint64_t)s->selector << 4)
            return reject(c, 0, "guest %s base 0x%llx: must be the selector 0x%x * 16 in "
                          "virtual-8086 mode", segs[i].name, (unsigned long long)s->base,
                          s->selector);
        if (s->limit != 0xFFFF)
            return reject(c, 0, "guest %s limit 0x%x: must be 0xFFFF in virtual-8086 mode",
                          segs[i].name, s->limit);
        if (s->access_rights != 0xF3)
            return reject(c, 0, "guest %s access rights 0x%x: must be 0xF3 in virtual-8086 "
                          "mode", segs[i].name, s->access_rights);
    }
    return 0;
}

/* 27.3.1.2 for TR and LDTR (the system segments), outside IA-32e mode. */
static int check_system_segments(const Check *c)
{
    const VmcsSegment *tr = &c->vmcs->guest.tr, *ldtr = &c->vmcs->guest.ldtr;
    uint32_t ar = tr->access_rights;
    if (tr->selector & 4)
        return reject(c, 0, "guest TR selector 0x%x: TI must be 0", tr->selector);
    if (!canonical(tr->base))
        return reject(c, 0, "guest TR base 0x%llx is not canonical", (unsigned long long)tr->base);
    if ((ar & AR_TYPE_MASK) != 3 && (ar & AR_TYPE_MASK) != 11)
        return reject(c, 0, "guest TR access rights: type 0x%x is not a busy TSS",
                      ar & AR_TYPE_MASK);
    if (ar & AR_S)
        return reject(c, 0, "guest TR access rights 0x%x: S must be 0", ar);
    if (!(ar & AR_P))
        return reject(c, 0, "guest TR access rights 0x%x: P must be 1", ar);
    if (ar & AR_RESERVED_11_8)
        return reject(c, 0, "guest TR access rights 0x%x: reserved bits 11:8 must be 0", ar);
    const char *g = granularity_error(tr->limit, ar);
    if (g)
        return reject(c, 0, "guest TR access rights 0x%x, limit 0x%x: %s", ar, tr->limit, g);
    if (ar & AR_UNUSABLE)
        return reject(c, 0, "guest TR access rights 0x%x: TR cannot be unusable", ar);
    if (ar & AR_RESERVED_31_17)
        return reject(c, 0, "guest TR access rights 0x%x: reserved bits 31:17 must be 0", ar);

    ar = ldtr->access_rights;
    if (ar & AR_UNUSABLE)
        return 0;
    if (ldtr->selector & 4)
        return reject(c, 0, "guest LDTR selector 0x%x: TI must be 0", ldtr->selector);
    if (!canonical(ldtr->base))
        return reject(c, 0, "guest LDTR base 0x%llx is not canonical",
                      (unsigned long long)ldtr->base);
    if ((ar & AR_TYPE_MASK) != 2)
        return reject(c, 0, "guest LDTR access rights: type 0x%x is not an LDT",
                      ar & AR_TYPE_MASK);
    if (ar & AR_S)
        return reject(c, 0, "guest LDTR access rights 0x%x: S must be 0", ar);
    if (!(ar & AR_P))
        return reject(c, 0, "guest LDTR access rights 0x%x: P must be 1", ar);
    if (ar & AR_RESERVED_11_8)
        return reject(c, 0, "guest LDTR access rights 0x%x: reserved bits 11:8 must be 0", ar);
    g = granularity_error(ldtr->limit, ar);
    if (g)
        return reject(c, 0, "guest LDTR access rights 0x%x, limit 0x%x: %s", ar, ldtr->limit, g);
    if (ar & AR_RESERVED_31_17)
        return reject(c, 0, "guest LDTR access rights 0x%x: reserved bits 31:17 must be 0", ar);
    return 0;
}

/* 27.3.1.3 (GDTR, IDTR) and 27.3.1.4 (RIP, RFLAGS). */
static int check_tables_rip_rflags(const Check *c, uint32_t intr_type, bool intr_valid)
{
    const VMCS *v = c->vmcs;
    if (!canonical(v->guest.gdtr_base))
        return reject(c, 0, "guest GDTR base 0x%llx is not canonical",
                      (unsigned long long)v->guest.gdtr_base);
    if (!canonical(v->guest.idtr_base))
        return reject(c, 0, "guest IDTR base 0x%llx is not canonical",
                      (unsigned long long)v->guest.idtr_base);
    if (v->guest.gdtr_limit >> 16)
        return reject(c, 0, "guest GDTR limit 0x%x: bits 31:16 must be 0", v->guest.gdtr_limit);
    if (v->guest.idtr_limit >> 16)
        return reject(c, 0, "guest IDTR limit 0x%x: bits 31:16 must be 0", v->guest.idtr_limit);

    /* Not 64-bit mode (IA-32e mode guest with CS.L): RIP bits 63:32 must be 0. */
    bool long64 = (v->control.entry_controls & VMX_ENTRY_IA32E_MODE_GUEST) &&
                  (v->guest.cs.access_rights & AR_L);
    if (!long64 && (v->guest.rip >> 32))
        return reject(c, 0, "guest RIP 0x%llx: bits 63:32 must be 0 outside 64-bit mode",
                      (unsigned long long)v->guest.rip);

    uint64_t rf = v->guest.rflags;
    if (rf & RFLAGS_RESERVED_0)
        return reject(c, 0, "guest RFLAGS 0x%llx: reserved bits 0x%llx must be 0",
                      (unsigned long long)rf, (unsigned long long)(rf & RFLAGS_RESERVED_0));
    if (!(rf & RFLAGS_RESERVED_1))
        return reject(c, 0, "guest RFLAGS 0x%llx: reserved bit 1 must be 1",
                      (unsigned long long)rf);
    if (rf & RFLAGS_VM) {
        if (!(v->guest.cr0 & CR0_PE))
            return reject(c, 0, "guest RFLAGS 0x%llx: VM must be 0 when CR0.PE = 0",
                          (unsigned long long)rf);
    }
    if (intr_valid && intr_type == VMX_INTR_TYPE_EXTERNAL_INTERRUPT && !(rf & RFLAGS_IF))
        return reject(c, 0, "guest RFLAGS 0x%llx: IF must be 1 to inject an external interrupt",
                      (unsigned long long)rf);
    return 0;
}

/* 27.3.1.5: activity state, interruptibility state, pending debug exceptions, VMCS link
 * pointer. */
static int check_non_register_state(const Check *c, uint32_t intr_type, bool intr_valid,
                                    uint32_t intr_vector)
{
    const VMCS *v = c->vmcs;
    uint32_t act = v->guest.activity_state, irq = v->guest.interruptibility_state;
    bool blocking = irq & (VMX_INTERRUPTIBILITY_STI | VMX_INTERRUPTIBILITY_MOV_SS);

    if (act > VMX_ACTIVITY_WAIT_FOR_SIPI)
        return reject(c, 0, "guest activity state %u is not defined", act);
    if (act != VMX_ACTIVITY_ACTIVE && act != VMX_ACTIVITY_HLT)
        return reject(c, 0,
                      "guest activity state %u is not supported by the sim (active and HLT only)",
                      act);
    if (act == VMX_ACTIVITY_HLT && AR_DPL(v->guest.ss.access_rights) != 0)
        return reject(c, 0, "guest activity state HLT needs SS.DPL = 0");
    if (act != VMX_ACTIVITY_ACTIVE && blocking)
        return reject(c, 0,
                      "guest activity state %u: blocking by STI or MOV SS needs the active state",
                      act);
    if (act == VMX_ACTIVITY_HLT && intr_valid) {
        bool allowed = intr_type == VMX_INTR_TYPE_EXTERNAL_INTERRUPT ||
                       intr_type == VMX_INTR_TYPE_NMI ||
                       (intr_type == VMX_INTR_TYPE_HARDWARE_EXCEPTION &&
                        (intr_vector == 1 || intr_vector == 18)) ||
                       (intr_type == VMX_INTR_TYPE_OTHER_EVENT && intr_vector == 0);
        if (!allowed)
            return reject(c, 0,
                          "guest activity state HLT: event type %u vector %u cannot be injected",
                          intr_type, intr_vector);
    }

    if (irq & 0xFFFFFFE0u)
        return reject(c, 0, "guest interruptibility state 0x%x: reserved bits 31:5 must be 0", irq);
    if (irq & VMX_INTERRUPTIBILITY_ENCLAVE)
        return reject(c, 0,
                      "guest interruptibility state 0x%x: "
                      "enclave interruption needs SGX, which the sim lacks",
                      irq);
    if ((irq & VMX_INTERRUPTIBILITY_STI) && (irq & VMX_INTERRUPTIBILITY_MOV_SS))
        return reject(c, 0,
                      "guest interruptibility state 0x%x: blocking by STI and by MOV SS together",
                      irq);
    if ((irq & VMX_INTERRUPTIBILITY_STI) && !(v->guest.rflags & RFLAGS_IF))
        return reject(c, 0,
                      "guest interruptibility state 0x%x: blocking by STI needs RFLAGS.IF = 1",
                      irq);
    if (irq & VMX_INTERRUPTIBILITY_SMI)
        return reject(c, 0, "guest interruptibility state 0x%x: blocking by SMI outside SMM", irq);
    if (intr_valid && intr_type == VMX_INTR_TYPE_EXTERNAL_INTERRUPT && blocking)
        return reject(c, 0,
                      "guest interruptibility state 0x%x: "
                      "an external interrupt is injected under STI or MOV SS blocking",
                      irq);
    if (intr_valid && intr_type == VMX_INTR_TYPE_NMI) {
        if (irq & VMX_INTERRUPTIBILITY_MOV_SS)
            return reject(c, 0,
                          "guest interruptibility state 0x%x: "
                          "an NMI is injected under MOV SS blocking",
                          irq);
        /* Implementation-specific; this model refuses it, with its own qualification. */
        if (irq & VMX_INTERRUPTIBILITY_STI)
            return reject(c, VMX_ENTRY_FAIL_QUAL_NMI_STI,
                          "guest interruptibility state 0x%x: "
                          "an NMI is injected under STI blocking",
                          irq);
        if ((v->control.pin_based & VMX_PIN_VIRTUAL_NMIS) && (irq & VMX_INTERRUPTIBILITY_NMI))
            return reject(c, 0,
                          "guest interruptibility state 0x%x: "
                          "an NMI is injected under virtual-NMI blocking",
                          irq);
    }

    /* Pending debug exceptions: 11:4, 13, 15, 63:17 reserved; bit 16 (RTM) needs RTM,
     * which the sim lacks, so it is refused with them. */
    uint64_t pd = v->guest.pending_debug_exceptions;
    if (pd & PENDING_DBG_RESERVED)
        return reject(c, 0, "guest pending debug exceptions 0x%llx: reserved bits are set",
                      (unsigned long long)pd);
    if (blocking || act == VMX_ACTIVITY_HLT) {
        bool tf = v->guest.rflags & RFLAGS_TF, btf = v->guest.ia32_debugctl & DEBUGCTL_BTF;
        bool bs = pd & VMX_PENDING_DBG_BS;
        if (tf && !btf && !bs)
            return reject(c, 0,
                          "guest pending debug exceptions 0x%llx: "
                          "BS must be 1 with RFLAGS.TF = 1 and DEBUGCTL.BTF = 0",
                          (unsigned long long)pd);
        if ((!tf || btf) && bs)
            return reject(c, 0,
                          "guest pending debug exceptions 0x%llx: "
                          "BS must be 0 with RFLAGS.TF = 0 or DEBUGCTL.BTF = 1",
                          (unsigned long long)pd);
    }

    /* The sim has no VMCS shadowing and keeps no other VMCS in guest memory: any value
     * other than ~0 would fail the SDM's revision-identifier check of the linked VMCS. */
    if (v->guest.vmcs_link_pointer != ~0ull)
        return reject(c, VMX_ENTRY_FAIL_QUAL_LINK_POINTER,
                      "guest VMCS link pointer 0x%llx is not FFFFFFFF_FFFFFFFFH",
                      (unsigned long long)v->guest.vmcs_link_pointer);
    return 0;
}

/* SDM Vol. 3C 27.3.1 in its order: control registers and MSRs, segment registers,
 * descriptor tables, RIP and RFLAGS, non-register state. The PDPTE checks (27.3.1.6) are
 * left to the kernel, which owns guest memory; the VMCS struct has no PDPTE fields. */
int vmcs_check_guest_state(const VMCS *vmcs, uint64_t *qualification, char *why,
                           size_t why_size)
{
    Check c = {vmcs, qualification, why, why_size};
    if (qualification)
        *qualification = VMX_ENTRY_FAIL_QUAL_DEFAULT;
    if (why && why_size)
        why[0] = '\0';
    if (!vmcs)
        return reject(&c, 0, "no VMCS");

    bool secondary = vmcs->control.cpu_based & VMX_PROC_ACTIVATE_SECONDARY;
    bool ug = secondary && (vmcs->control.secondary & VMX_PROC2_UNRESTRICTED_GUEST);
    bool ia32e = vmcs->control.entry_controls & VMX_ENTRY_IA32E_MODE_GUEST;
    uint32_t info = vmcs->control.entry_interruption_info;
    bool intr_valid = info & VMX_INTR_INFO_VALID;
    uint32_t intr_type = (info & VMX_INTR_INFO_TYPE_MASK) >> VMX_INTR_INFO_TYPE_SHIFT;
    uint32_t intr_vector = info & VMX_INTR_INFO_VECTOR_MASK;

    int r;
    if ((r = check_control_registers(&c, ug, ia32e)) != 0)
        return r;
    bool v86 = (vmcs->guest.rflags & RFLAGS_VM) && (vmcs->guest.cr0 & CR0_PE);
    if ((r = v86 ? check_v86_segments(&c)
                                               : check_code_data_segments(&c, ug)) != 0)
        return r;
    if ((r = check_system_segments(&c)) != 0)
        return r;
    if ((r = check_tables_rip_rflags(&c, intr_type, intr_valid)) != 0)
        return r;
    return check_non_register_state(&c, intr_type, intr_valid, intr_vector);
}

/* ------------------------------------------------------------------------------------ */
/* Exit information                                                                      */
/* ------------------------------------------------------------------------------------ */

/* SDM Vol. 3C 28.2.1, "Exit Qualification for I/O Instructions": size - 1 in 2:0, IN in
 * 3, string in 4, REP in 5, immediate operand in 6, port in 31:16. */
uint64_t vmx_io_qualification(uint8_t size, bool in, bool string, bool rep, bool imm,
                              uint16_t port)
{
    uint64_t q = (uint64_t)((size - 1u) & VMX_IO_QUAL_SIZE_MASK);
    if (in)
        q |= VMX_IO_QUAL_IN;
    if (string)
        q |= VMX_IO_QUAL_STRING;
    if (rep)
        q |= VMX_IO_QUAL_REP;
    if (imm)
        q |= VMX_IO_QUAL_IMMEDIATE;
    return q | ((uint64_t)port << VMX_IO_QUAL_PORT_SHIFT);
}

/* SDM Vol. 3C 25.9.1, "Format of Exit Reason": basic reason in 15:0, bit 31 for a
 * VM-entry failure (27.8). */
uint32_t vmx_exit_reason(uint16_t basic, bool entry_failure)
{
    return (uint32_t)basic | (entry_failure ? VMX_EXIT_REASON_ENTRY_FAILURE : 0u);
}

/* SDM Vol. 3C 28.2.1, "Exit Qualification for Control-Register Accesses": CR number in
 * 3:0, access type in 5:4, LMSW operand type in 6, GPR in 11:8, LMSW source data in
 * 31:16 (LMSW only). */
uint64_t vmx_cr_qualification(uint8_t cr, uint8_t access, uint8_t gpr, bool lmsw_memory,
                              uint16_t lmsw_data)
{
    uint64_t q = (uint64_t)(cr & VMX_CR_QUAL_CR_MASK);
    q |= (uint64_t)(access & 3u) << VMX_CR_QUAL_ACCESS_SHIFT;
    if (access == VMX_CR_ACCESS_LMSW) {
        if (lmsw_memory)
            q |= VMX_CR_QUAL_LMSW_MEMORY;
        q |= (uint64_t)lmsw_data << VMX_CR_QUAL_LMSW_DATA_SHIFT;
    } else if (access == VMX_CR_ACCESS_MOV_TO_CR || access == VMX_CR_ACCESS_MOV_FROM_CR) {
        q |= (uint64_t)(gpr & 0xFu) << VMX_CR_QUAL_GPR_SHIFT;
    }
    return q;
}

/* The seed's names are a flat copy of the fields VMREAD reads (SDM Vol. 3C Appendix B):
 * guest state, host state, the execution, exit and entry controls and the exit
 * information. */
void vmcs_update_seed_view(VMCS *v)
{
    v->guest_cr0 = v->guest.cr0;
    v->guest_cr3 = v->guest.cr3;
    v->guest_cr4 = v->guest.cr4;
    v->guest_rip = v->guest.rip;
    v->guest_rsp = v->guest.rsp;
    v->guest_rflags = v->guest.rflags;
    v->guest_cs = v->guest.cs.selector;
    v->guest_ss = v->guest.ss.selector;
    v->guest_ds = v->guest.ds.selector;
    v->guest_es = v->guest.es.selector;
    v->guest_cs_base = v->guest.cs.base;
    v->guest_ss_base = v->guest.ss.base;
    v->host_cr0 = v->host.cr0;
    v->host_cr3 = v->host.cr3;
    v->host_cr4 = v->host.cr4;
    v->host_rip = v->host.rip;
    v->host_rsp = v->host.rsp;
    v->pin_based_controls = v->control.pin_based;
    v->proc_based_controls = v->control.cpu_based;
    v->proc_based_controls2 = v->control.secondary;
    v->ept_pointer = v->control.ept_pointer;
    v->exit_controls = v->control.exit_controls;
    v->exit_reason = v->exit.reason;
    v->exit_qualification = v->exit.qualification;
    v->entry_controls = v->control.entry_controls;
    v->entry_interrupt_info = v->control.entry_interruption_info;
}
