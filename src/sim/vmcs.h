/*
 * The sim kernel's VMCS: field encodings, VMREAD/VMWRITE, the control values the sim runs
 * with, the guest-state checks of VM entry, and the exit-qualification layouts.
 *
 * Every number here is from the Intel SDM Vol. 3C: field encodings from Appendix B
 * ("Field Encoding in VMCS"), the encoding anatomy from 25.11.2, the control bits from
 * 25.6 / 25.7 / 25.8, the entry checks from 27.3.1 and the exit qualifications from 28.2.1.
 * (Section numbers follow the current SDM; editions before 2023 number these chapters one
 * lower: 24.11.2, 26.3.1, 27.2.1.)
 */
#ifndef SCRATCHVM_SIM_VMCS_H
#define SCRATCHVM_SIM_VMCS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hypervisor_sim.h"

/* ------------------------------------------------------------------------------------ */
/* Encoding anatomy (SDM Vol. 3C 25.11.2, "Structure of VMCS Component Encoding")        */
/* ------------------------------------------------------------------------------------ */

#define VMCS_ENC_ACCESS_HIGH      0x0001u            /* bit 0: high 32 bits of a 64-bit field */
#define VMCS_ENC_INDEX(e)         (((e) >> 1) & 0x1FFu)    /* bits 9:1 */
#define VMCS_ENC_TYPE(e)          (((e) >> 10) & 0x3u)     /* bits 11:10, VmcsFieldType */
#define VMCS_ENC_WIDTH(e)         (((e) >> 13) & 0x3u)     /* bits 14:13, VmcsFieldWidth */
#define VMCS_ENC_RESERVED_MASK    0xFFFF9000u        /* bit 12 and bits 31:15 must be 0 */

/* VM-instruction error numbers (SDM Vol. 3C 31.4, "VM Instruction Error Numbers") used here. */
#define VMX_ERROR_UNSUPPORTED_COMPONENT 12u  /* VMREAD/VMWRITE from/to unsupported component */
#define VMX_ERROR_READ_ONLY_COMPONENT   13u  /* VMWRITE to read-only VMCS component */

/* ------------------------------------------------------------------------------------ */
/* Field encodings (SDM Vol. 3C Appendix B): every field the VMCS struct holds           */
/* ------------------------------------------------------------------------------------ */

/* B.1.1 16-bit control fields */
#define VMCS_VIRTUAL_PROCESSOR_ID          0x0000u
/* B.1.2 16-bit guest-state fields */
#define VMCS_GUEST_ES_SELECTOR             0x0800u
#define VMCS_GUEST_CS_SELECTOR             0x0802u
#define VMCS_GUEST_SS_SELECTOR             0x0804u
#define VMCS_GUEST_DS_SELECTOR             0x0806u
#define VMCS_GUEST_FS_SELECTOR             0x0808u
#define VMCS_GUEST_GS_SELECTOR             0x080Au
#define VMCS_GUEST_LDTR_SELECTOR           0x080Cu
#define VMCS_GUEST_TR_SELECTOR             0x080Eu
/* B.1.3 16-bit host-state fields */
#define VMCS_HOST_ES_SELECTOR              0x0C00u
#define VMCS_HOST_CS_SELECTOR              0x0C02u
#define VMCS_HOST_SS_SELECTOR              0x0C04u
#define VMCS_HOST_DS_SELECTOR              0x0C06u
#define VMCS_HOST_FS_SELECTOR              0x0C08u
#define VMCS_HOST_GS_SELECTOR              0x0C0Au
#define VMCS_HOST_TR_SELECTOR              0x0C0Cu

/* B.2.1 64-bit control fields (encoding | 1 is the high half) */
#define VMCS_IO_BITMAP_A                   0x2000u
#define VMCS_IO_BITMAP_B                   0x2002u
#define VMCS_MSR_BITMAP                    0x2004u
#define VMCS_TSC_OFFSET                    0x2010u
#define VMCS_EPT_POINTER                   0x201Au
/* B.2.2 64-bit read-only data fields */
#define VMCS_GUEST_PHYSICAL_ADDRESS        0x2400u
/* B.2.3 64-bit guest-state fields */
#define VMCS_VMCS_LINK_POINTER             0x2800u
#define VMCS_GUEST_IA32_DEBUGCTL           0x2802u
#define VMCS_GUEST_IA32_PAT                0x2804u
#define VMCS_GUEST_IA32_EFER               0x2806u
/* B.2.4 64-bit host-state fields */
#define VMCS_HOST_IA32_PAT                 0x2C00u
#define VMCS_HOST_IA32_EFER                0x2C02u

/* B.3.1 32-bit control fields */
#define VMCS_PIN_BASED_VM_EXEC_CONTROL     0x4000u
#define VMCS_CPU_BASED_VM_EXEC_CONTROL     0x4002u
#define VMCS_EXCEPTION_BITMAP              0x4004u
#define VMCS_VM_EXIT_CONTROLS              0x400Cu
#define VMCS_VM_ENTRY_CONTROLS             0x4012u
#define VMCS_VM_ENTRY_INTERRUPTION_INFO    0x4016u
#define VMCS_VM_ENTRY_EXCEPTION_ERROR_CODE 0x4018u
#define VMCS_VM_ENTRY_INSTRUCTION_LEN      0x401Au
#define VMCS_SECONDARY_VM_EXEC_CONTROL     0x401Eu
/* B.3.2 32-bit read-only data fields */
#define VMCS_VM_INSTRUCTION_ERROR          0x4400u
#define VMCS_EXIT_REASON                   0x4402u
#define VMCS_VM_EXIT_INTERRUPTION_INFO     0x4404u
#define VMCS_VM_EXIT_INTERRUPTION_ERROR_CODE 0x4406u
#define VMCS_IDT_VECTORING_INFO            0x4408u
#define VMCS_IDT_VECTORING_ERROR_CODE      0x440Au
#define VMCS_VM_EXIT_INSTRUCTION_LEN       0x440Cu
#define VMCS_VM_EXIT_INSTRUCTION_INFO      0x440Eu
/* B.3.3 32-bit guest-state fields */
#define VMCS_GUEST_ES_LIMIT                0x4800u
#define VMCS_GUEST_CS_LIMIT                0x4802u
#define VMCS_GUEST_SS_LIMIT                0x4804u
#define VMCS_GUEST_DS_LIMIT                0x4806u
#define VMCS_GUEST_FS_LIMIT                0x4808u
#define VMCS_GUEST_GS_LIMIT                0x480Au
#define VMCS_GUEST_LDTR_LIMIT              0x480Cu
#define VMCS_GUEST_TR_LIMIT                0x480Eu
#define VMCS_GUEST_GDTR_LIMIT              0x4810u
#define VMCS_GUEST_IDTR_LIMIT              0x4812u
#define VMCS_GUEST_ES_AR_BYTES             0x4814u
#define VMCS_GUEST_CS_AR_BYTES             0x4816u
#define VMCS_GUEST_SS_AR_BYTES             0x4818u
#define VMCS_GUEST_DS_AR_BYTES             0x481Au
#define VMCS_GUEST_FS_AR_BYTES             0x481Cu
#define VMCS_GUEST_GS_AR_BYTES             0x481Eu
#define VMCS_GUEST_LDTR_AR_BYTES           0x4820u
#define VMCS_GUEST_TR_AR_BYTES             0x4822u
#define VMCS_GUEST_INTERRUPTIBILITY_INFO   0x4824u
#define VMCS_GUEST_ACTIVITY_STATE          0x4826u
#define VMCS_GUEST_SYSENTER_CS             0x482Au

/* B.4.1 natural-width control fields */
#define VMCS_CR0_GUEST_HOST_MASK           0x6000u
#define VMCS_CR4_GUEST_HOST_MASK           0x6002u
#define VMCS_CR0_READ_SHADOW               0x6004u
#define VMCS_CR4_READ_SHADOW               0x6006u
/* B.4.2 natural-width read-only data fields */
#define VMCS_EXIT_QUALIFICATION            0x6400u
#define VMCS_GUEST_LINEAR_ADDRESS          0x640Au
/* B.4.3 natural-width guest-state fields */
#define VMCS_GUEST_CR0                     0x6800u
#define VMCS_GUEST_CR3                     0x6802u
#define VMCS_GUEST_CR4                     0x6804u
#define VMCS_GUEST_ES_BASE                 0x6806u
#define VMCS_GUEST_CS_BASE                 0x6808u
#define VMCS_GUEST_SS_BASE                 0x680Au
#define VMCS_GUEST_DS_BASE                 0x680Cu
#define VMCS_GUEST_FS_BASE                 0x680Eu
#define VMCS_GUEST_GS_BASE                 0x6810u
#define VMCS_GUEST_LDTR_BASE               0x6812u
#define VMCS_GUEST_TR_BASE                 0x6814u
#define VMCS_GUEST_GDTR_BASE               0x6816u
#define VMCS_GUEST_IDTR_BASE               0x6818u
#define VMCS_GUEST_DR7                     0x681Au
#define VMCS_GUEST_RSP                     0x681Cu
#define VMCS_GUEST_RIP                     0x681Eu
#define VMCS_GUEST_RFLAGS                  0x6820u
#define VMCS_GUEST_PENDING_DBG_EXCEPTIONS  0x6822u
#define VMCS_GUEST_SYSENTER_ESP            0x6824u
#define VMCS_GUEST_SYSENTER_EIP            0x6826u
/* B.4.4 natural-width host-state fields */
#define VMCS_HOST_CR0                      0x6C00u
#define VMCS_HOST_CR3                      0x6C02u
#define VMCS_HOST_CR4                      0x6C04u
#define VMCS_HOST_FS_BASE                  0x6C06u
#define VMCS_HOST_GS_BASE                  0x6C08u
#define VMCS_HOST_TR_BASE                  0x6C0Au
#define VMCS_HOST_GDTR_BASE                0x6C0Cu
#define VMCS_HOST_IDTR_BASE                0x6C0Eu
#define VMCS_HOST_RSP                      0x6C14u
#define VMCS_HOST_RIP                      0x6C16u

/* ------------------------------------------------------------------------------------ */
/* VM-execution, VM-exit and VM-entry control bits (SDM Vol. 3C 25.6, 25.7, 25.8)         */
/* ------------------------------------------------------------------------------------ */

/* Pin-based controls (25.6.1, "Definitions of Pin-Based VM-Execution Controls"). Bits 1,
 * 2 and 4 are default1 (Appendix A.3.1). */
#define VMX_PIN_EXTERNAL_INTERRUPT_EXITING (1u << 0)
#define VMX_PIN_NMI_EXITING                (1u << 3)
#define VMX_PIN_VIRTUAL_NMIS               (1u << 5)
#define VMX_PIN_PREEMPTION_TIMER           (1u << 6)
#define VMX_PIN_POSTED_INTERRUPTS          (1u << 7)
#define VMX_PIN_DEFAULT1                   0x00000016u

/* Primary processor-based controls (25.6.2, "Definitions of Primary Processor-Based
 * VM-Execution Controls"). Default1 bits: 1, 4-6, 8, 13-16
 * and 26; with the IA32_VMX_TRUE_PROCBASED_CTLS MSR (IA32_VMX_BASIC bit 55) the two
 * CR3-exiting bits 15 and 16 may be 0 (Appendix A.3.2). */
#define VMX_PROC_INTERRUPT_WINDOW_EXITING  (1u << 2)
#define VMX_PROC_USE_TSC_OFFSETTING        (1u << 3)
#define VMX_PROC_HLT_EXITING               (1u << 7)
#define VMX_PROC_INVLPG_EXITING            (1u << 9)
#define VMX_PROC_MWAIT_EXITING             (1u << 10)
#define VMX_PROC_RDPMC_EXITING             (1u << 11)
#define VMX_PROC_RDTSC_EXITING             (1u << 12)
#define VMX_PROC_CR3_LOAD_EXITING          (1u << 15)
#define VMX_PROC_CR3_STORE_EXITING         (1u << 16)
#define VMX_PROC_CR8_LOAD_EXITING          (1u << 19)
#define VMX_PROC_CR8_STORE_EXITING         (1u << 20)
#define VMX_PROC_USE_TPR_SHADOW            (1u << 21)
#define VMX_PROC_NMI_WINDOW_EXITING        (1u << 22)
#define VMX_PROC_MOV_DR_EXITING            (1u << 23)
#define VMX_PROC_UNCONDITIONAL_IO_EXITING  (1u << 24)
#define VMX_PROC_USE_IO_BITMAPS            (1u << 25)
#define VMX_PROC_MONITOR_TRAP_FLAG         (1u << 27)
#define VMX_PROC_USE_MSR_BITMAPS           (1u << 28)
#define VMX_PROC_MONITOR_EXITING           (1u << 29)
#define VMX_PROC_PAUSE_EXITING             (1u << 30)
#define VMX_PROC_ACTIVATE_SECONDARY        (1u << 31)
#define VMX_PROC_DEFAULT1                  0x0401E172u
#define VMX_PROC_TRUE_DEFAULT1             0x04006172u

/* Secondary processor-based controls (25.6.2, "Definitions of Secondary Processor-Based
 * VM-Execution Controls"); no default1 bits. */
#define VMX_PROC2_VIRTUALIZE_APIC_ACCESSES (1u << 0)
#define VMX_PROC2_ENABLE_EPT               (1u << 1)
#define VMX_PROC2_DESCRIPTOR_TABLE_EXITING (1u << 2)
#define VMX_PROC2_ENABLE_RDTSCP            (1u << 3)
#define VMX_PROC2_ENABLE_VPID              (1u << 5)
#define VMX_PROC2_WBINVD_EXITING           (1u << 6)
#define VMX_PROC2_UNRESTRICTED_GUEST       (1u << 7)
#define VMX_PROC2_VMCS_SHADOWING           (1u << 14)

/* VM-exit controls (25.7.1, "Definitions of Primary VM-Exit Controls"). Default1 bits:
 * 0-8, 10, 11, 13, 14, 16, 17. */
#define VMX_EXIT_SAVE_DEBUG_CONTROLS       (1u << 2)
#define VMX_EXIT_HOST_ADDRESS_SPACE_SIZE   (1u << 9)
#define VMX_EXIT_LOAD_PERF_GLOBAL_CTRL     (1u << 12)
#define VMX_EXIT_ACK_INTERRUPT_ON_EXIT     (1u << 15)
#define VMX_EXIT_SAVE_IA32_PAT             (1u << 18)
#define VMX_EXIT_LOAD_IA32_PAT             (1u << 19)
#define VMX_EXIT_SAVE_IA32_EFER            (1u << 20)
#define VMX_EXIT_LOAD_IA32_EFER            (1u << 21)
#define VMX_EXIT_SAVE_PREEMPTION_TIMER     (1u << 22)
#define VMX_EXIT_DEFAULT1                  0x00036DFFu

/* VM-entry controls (25.8.1, "Definitions of VM-Entry Controls"). Default1 bits: 0-8, 12. */
#define VMX_ENTRY_LOAD_DEBUG_CONTROLS      (1u << 2)
#define VMX_ENTRY_IA32E_MODE_GUEST         (1u << 9)
#define VMX_ENTRY_TO_SMM                   (1u << 10)
#define VMX_ENTRY_DEACTIVATE_DUAL_MONITOR  (1u << 11)
#define VMX_ENTRY_LOAD_PERF_GLOBAL_CTRL    (1u << 13)
#define VMX_ENTRY_LOAD_IA32_PAT            (1u << 14)
#define VMX_ENTRY_LOAD_IA32_EFER           (1u << 15)
#define VMX_ENTRY_DEFAULT1                 0x000011FFu

/* VM-entry interruption-information field (25.8.3, "Format of the VM-Entry
 * Interruption-Information Field"). */
#define VMX_INTR_INFO_VECTOR_MASK          0x000000FFu
#define VMX_INTR_INFO_TYPE_SHIFT           8
#define VMX_INTR_INFO_TYPE_MASK            (7u << 8)
#define VMX_INTR_INFO_DELIVER_ERROR_CODE   (1u << 11)
#define VMX_INTR_INFO_VALID                (1u << 31)
enum {
    VMX_INTR_TYPE_EXTERNAL_INTERRUPT = 0,
    VMX_INTR_TYPE_NMI = 2,
    VMX_INTR_TYPE_HARDWARE_EXCEPTION = 3,
    VMX_INTR_TYPE_SOFTWARE_INTERRUPT = 4,
    VMX_INTR_TYPE_PRIVILEGED_SOFTWARE_EXCEPTION = 5,
    VMX_INTR_TYPE_SOFTWARE_EXCEPTION = 6,
    VMX_INTR_TYPE_OTHER_EVENT = 7,
};

/* Guest interruptibility state (25.4.2, "Format of Interruptibility State"). */
#define VMX_INTERRUPTIBILITY_STI           (1u << 0)
#define VMX_INTERRUPTIBILITY_MOV_SS        (1u << 1)
#define VMX_INTERRUPTIBILITY_SMI           (1u << 2)
#define VMX_INTERRUPTIBILITY_NMI           (1u << 3)
#define VMX_INTERRUPTIBILITY_ENCLAVE       (1u << 4)

/* Guest activity state (25.4.2). */
enum {
    VMX_ACTIVITY_ACTIVE = 0,
    VMX_ACTIVITY_HLT = 1,
    VMX_ACTIVITY_SHUTDOWN = 2,
    VMX_ACTIVITY_WAIT_FOR_SIPI = 3,
};

/* Pending debug exceptions (25.4.2, "Format of Pending-Debug-Exceptions"). */
#define VMX_PENDING_DBG_B0_B3              0x0000000Fu
#define VMX_PENDING_DBG_ENABLED_BP         (1u << 12)
#define VMX_PENDING_DBG_BS                 (1u << 14)
#define VMX_PENDING_DBG_RTM                (1u << 16)

/* ------------------------------------------------------------------------------------ */
/* What the sim's VMX model reports (its "capability MSRs", SDM Vol. 3C Appendix A)      */
/* ------------------------------------------------------------------------------------ */

/* IA32_VMX_CR0_FIXED0/1 (A.7). Real CPUs report FIXED0 = 0x80000021 (PG, NE, PE) and
 * KVM hides the forced NE behind the CR0 guest/host mask. The sim's vCPU is the
 * interpreter, which runs on the guest's own CR0, so the model reports NE as flexible:
 * FIXED0 holds only PE and PG, which "unrestricted guest" exempts. FIXED1 is that of real
 * CPUs: any of the low 32 bits, none of 63:32. */
#define VMX_SIM_CR0_FIXED0                 0x0000000080000001ull
#define VMX_SIM_CR0_FIXED1                 0x00000000FFFFFFFFull
/* IA32_VMX_CR4_FIXED0/1 (A.8). Real CPUs report FIXED0 = 0x2000 (VMXE) and KVM shadows
 * it. The guest's view of CR4 is what the interpreter runs on, and a guest that never
 * executes VMX code has VMXE = 0 (the reset state), so the sim reports FIXED0 = 0 and
 * keeps VMXE in the CR4 guest/host mask instead (see vmcs_init_controls). FIXED1: bits
 * 10:0 (VME ... OSXMMEXCPT), UMIP (11) and VMXE; the later features (LA57, SMXE, FSGSBASE,
 * PCIDE, OSXSAVE, SMEP, SMAP, PKE, ...) are not modelled by the interpreter. */
#define VMX_SIM_CR4_FIXED0                 0x0000000000000000ull
#define VMX_SIM_CR4_FIXED1                 0x0000000000002FFFull
/* MAXPHYADDR: the sim's CPUID has no leaf 80000008H, and then it is 36 (Vol. 3A 4.1.4). */
#define VMX_SIM_MAXPHYADDR                 36
/* IA32_VMX_MISC bits 8:6 (A.6): the sim supports the HLT activity state only. */

/* ------------------------------------------------------------------------------------ */
/* Entry checks and controls                                                             */
/* ------------------------------------------------------------------------------------ */

/* Exit qualifications of a VM-entry failure due to invalid guest state (SDM Vol. 3C
 * 27.8, "VM-Entry Failures During or After Loading Guest State"). */
#define VMX_ENTRY_FAIL_QUAL_DEFAULT        0u
#define VMX_ENTRY_FAIL_QUAL_PDPTE          2u
#define VMX_ENTRY_FAIL_QUAL_NMI_STI        3u
#define VMX_ENTRY_FAIL_QUAL_LINK_POINTER   4u

/* Fills vmcs->control with the controls the sim kernel runs with and sets the guest's
 * VMCS link pointer to ~0. Every control field is overwritten except ept_pointer, which
 * the EPT code sets when it builds the tables. */
void vmcs_init_controls(VMCS *vmcs);

/* The guest-state checks of VM entry (SDM Vol. 3C 27.3.1) that apply to a guest the sim
 * can run. Returns 0 when the state passes; otherwise -EINVAL, with *qualification (may
 * be NULL) set to the exit qualification of the failed entry (VMX_ENTRY_FAIL_QUAL_*) and
 * a one-line reason naming the check in why (may be NULL, truncated to why_size). */
int vmcs_check_guest_state(const VMCS *vmcs, uint64_t *qualification, char *why,
                           size_t why_size);

/* The full description of one supported field, including where it lives in VMCS. */
const VmcsFieldInfo *vmcs_field_find(uint32_t encoding);

/* ------------------------------------------------------------------------------------ */
/* Exit information (SDM Vol. 3C 28.2.1, "Basic VM-Exit Information")                    */
/* ------------------------------------------------------------------------------------ */

/* Exit reason field (25.9.1, "Format of Exit Reason"): basic reason in 15:0, bit 31 set
 * for a VM-entry failure. */
#define VMX_EXIT_REASON_BASIC_MASK         0x0000FFFFu
#define VMX_EXIT_REASON_ENTRY_FAILURE      (1u << 31)

/* I/O instructions (28.2.1, "Exit Qualification for I/O Instructions"). */
#define VMX_IO_QUAL_SIZE_MASK              0x7u      /* bits 2:0: size - 1 */
#define VMX_IO_QUAL_IN                     (1u << 3)
#define VMX_IO_QUAL_STRING                 (1u << 4)
#define VMX_IO_QUAL_REP                    (1u << 5)
#define VMX_IO_QUAL_IMMEDIATE              (1u << 6)
#define VMX_IO_QUAL_PORT_SHIFT             16

/* Control-register accesses (28.2.1, "Exit Qualification for Control-Register Accesses"). */
#define VMX_CR_QUAL_CR_MASK                0xFu      /* bits 3:0 */
#define VMX_CR_QUAL_ACCESS_SHIFT           4         /* bits 5:4 */
#define VMX_CR_QUAL_LMSW_MEMORY            (1u << 6)
#define VMX_CR_QUAL_GPR_SHIFT              8         /* bits 11:8 */
#define VMX_CR_QUAL_LMSW_DATA_SHIFT        16        /* bits 31:16 */
enum {
    VMX_CR_ACCESS_MOV_TO_CR = 0,
    VMX_CR_ACCESS_MOV_FROM_CR = 1,
    VMX_CR_ACCESS_CLTS = 2,
    VMX_CR_ACCESS_LMSW = 3,
};

/* The exit qualification of an I/O-instruction exit: `size` is 1, 2 or 4 bytes, `in` for
 * IN/INS, `string` for INS/OUTS, `rep` for a REP prefix, `imm` when the port was an
 * immediate operand (not DX). */
uint64_t vmx_io_qualification(uint8_t size, bool in, bool string, bool rep, bool imm,
                              uint16_t port);
/* The exit-reason field for basic reason `basic`, with bit 31 when the exit is a failed
 * VM entry. */
uint32_t vmx_exit_reason(uint16_t basic, bool entry_failure);
/* The exit qualification of a control-register access: `cr` 0..15, `access` one of
 * VMX_CR_ACCESS_*, `gpr` the register operand of MOV CR (0 RAX ... 15 R15), and for LMSW
 * whether its operand was in memory and its 16-bit source data. */
uint64_t vmx_cr_qualification(uint8_t cr, uint8_t access, uint8_t gpr, bool lmsw_memory,
                              uint16_t lmsw_data);

#endif /* SCRATCHVM_SIM_VMCS_H */
