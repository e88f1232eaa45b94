/*
 * Facts about this machine's virtualization support: CPUID, the VMX capability MSRs and
 * /dev/kvm. check_cpu_virt_support() only reads; print_cpu_virt_caps() only prints.
 * Whatever cannot be read is reported as unknown, with the reason, never guessed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define HAVE_X86_CPUID 1
#endif

#include "hv/cpu_caps.h"
#include "kvm/backend.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* CPUID leaves and feature bits (Intel SDM Vol. 2A "CPUID"; AMD APM Vol. 3, "CPUID"). */
#define CPUID_LEAF_VENDOR            0x00000000u
#define CPUID_LEAF_FEATURES          0x00000001u
#define CPUID_1_ECX_VMX              (1u << 5)   /* Virtual Machine Extensions */
#define CPUID_1_ECX_HYPERVISOR       (1u << 31)  /* reserved for hypervisor use: set in a VM */
#define CPUID_LEAF_HYPERVISOR_BASE   0x40000000u /* EBX,ECX,EDX: hypervisor vendor */
#define CPUID_LEAF_EXT_BASE          0x80000000u
#define CPUID_LEAF_EXT_FEATURES      0x80000001u
#define CPUID_80000001_ECX_SVM       (1u << 2)   /* Secure Virtual Machine (AMD-V) */
#define CPUID_LEAF_BRAND_FIRST       0x80000002u /* ..0x80000004: brand string */
#define CPUID_LEAF_BRAND_LAST        0x80000004u
#define CPUID_LEAF_SVM_FEATURES      0x8000000Au
#define CPUID_8000000A_EDX_NP        (1u << 0)   /* nested paging */

/* VMX capability MSRs (Intel SDM Vol. 3D, Appendix A "VMX Capability Reporting Facility"
 * and Vol. 4 "Model-Specific Registers"). Bits 63:32 of a control MSR are the allowed-1
 * settings: a control may be 1 only where that bit is 1. */
#define IA32_VMX_PROCBASED_CTLS      0x482
#define IA32_VMX_PROCBASED_CTLS2     0x48B
/* Primary processor-based VM-execution controls (SDM Vol. 3C, "Processor-Based
 * VM-Execution Controls"). */
#define CPU_BASED_ACTIVATE_SECONDARY_CONTROLS (1u << 31)
/* Secondary processor-based VM-execution controls (same section). */
#define SECONDARY_EXEC_ENABLE_EPT         (1u << 1)
#define SECONDARY_EXEC_UNRESTRICTED_GUEST (1u << 7)

#define MSR_DEVICE_CPU0 "/dev/cpu/0/msr"
#include "kvm/backend.h"   /* hv_kvm_device_path */
#define KVM_DEVICE_PATH hv_kvm_device_path()

/* KVM_CHECK_EXTENSION capabilities of <linux/kvm.h>. The ones that are arch-conditional
 * or newer than Linux 4.11's headers are guarded, so the table holds exactly what the
 * headers at hand define. */
static const struct {
    int number;
    const char *name;
} kvm_cap_names[] = {
    {KVM_CAP_IRQCHIP, "IRQCHIP"},
    {KVM_CAP_HLT, "HLT"},
    {KVM_CAP_MMU_SHADOW_CACHE_CONTROL, "MMU_SHADOW_CACHE_CONTROL"},
    {KVM_CAP_USER_MEMORY, "USER_MEMORY"},
    {KVM_CAP_SET_TSS_ADDR, "SET_TSS_ADDR"},
    {KVM_CAP_VAPIC, "VAPIC"},
    {KVM_CAP_EXT_CPUID, "EXT_CPUID"},
    {KVM_CAP_CLOCKSOURCE, "CLOCKSOURCE"},
    {KVM_CAP_NR_VCPUS, "NR_VCPUS"},
    {KVM_CAP_NR_MEMSLOTS, "NR_MEMSLOTS"},
    {KVM_CAP_PIT, "PIT"},
    {KVM_CAP_NOP_IO_DELAY, "NOP_IO_DELAY"},
    {KVM_CAP_PV_MMU, "PV_MMU"},
    {KVM_CAP_MP_STATE, "MP_STATE"},
    {KVM_CAP_COALESCED_MMIO, "COALESCED_MMIO"},
    {KVM_CAP_SYNC_MMU, "SYNC_MMU"},
    {KVM_CAP_IOMMU, "IOMMU"},
    {KVM_CAP_DESTROY_MEMORY_REGION_WORKS, "DESTROY_MEMORY_REGION_WORKS"},
    {KVM_CAP_USER_NMI, "USER_NMI"},
#ifdef KVM_CAP_SET_GUEST_DEBUG
    {KVM_CAP_SET_GUEST_DEBUG, "SET_GUEST_DEBUG"},
#endif
#ifdef KVM_CAP_REINJECT_CONTROL
    {KVM_CAP_REINJECT_CONTROL, "REINJECT_CONTROL"},
#endif
    {KVM_CAP_IRQ_ROUTING, "IRQ_ROUTING"},
    {KVM_CAP_IRQ_INJECT_STATUS, "IRQ_INJECT_STATUS"},
    {KVM_CAP_ASSIGN_DEV_IRQ, "ASSIGN_DEV_IRQ"},
    {KVM_CAP_JOIN_MEMORY_REGIONS_WORKS, "JOIN_MEMORY_REGIONS_WORKS"},
#ifdef KVM_CAP_MCE
    {KVM_CAP_MCE, "MCE"},
#endif
    {KVM_CAP_IRQFD, "IRQFD"},
#ifdef KVM_CAP_PIT2
    {KVM_CAP_PIT2, "PIT2"},
#endif
    {KVM_CAP_SET_BOOT_CPU_ID, "SET_BOOT_CPU_ID"},
#ifdef KVM_CAP_PIT_STATE2
    {KVM_CAP_PIT_STATE2, "PIT_STATE2"},
#endif
    {KVM_CAP_IOEVENTFD, "IOEVENTFD"},
    {KVM_CAP_SET_IDENTITY_MAP_ADDR, "SET_IDENTITY_MAP_ADDR"},
#ifdef KVM_CAP_XEN_HVM
    {KVM_CAP_XEN_HVM, "XEN_HVM"},
#endif
    {KVM_CAP_ADJUST_CLOCK, "ADJUST_CLOCK"},
    {KVM_CAP_INTERNAL_ERROR_DATA, "INTERNAL_ERROR_DATA"},
#ifdef KVM_CAP_VCPU_EVENTS
    {KVM_CAP_VCPU_EVENTS, "VCPU_EVENTS"},
#endif
    {KVM_CAP_S390_PSW, "S390_PSW"},
    {KVM_CAP_PPC_SEGSTATE, "PPC_SEGSTATE"},
    {KVM_CAP_HYPERV, "HYPERV"},
    {KVM_CAP_HYPERV_VAPIC, "HYPERV_VAPIC"},
    {KVM_CAP_HYPERV_SPIN, "HYPERV_SPIN"},
    {KVM_CAP_PCI_SEGMENT, "PCI_SEGMENT"},
    {KVM_CAP_PPC_PAIRED_SINGLES, "PPC_PAIRED_SINGLES"},
    {KVM_CAP_INTR_SHADOW, "INTR_SHADOW"},
#ifdef KVM_CAP_DEBUGREGS
    {KVM_CAP_DEBUGREGS, "DEBUGREGS"},
#endif
    {KVM_CAP_X86_ROBUST_SINGLESTEP, "X86_ROBUST_SINGLESTEP"},
    {KVM_CAP_PPC_OSI, "PPC_OSI"},
    {KVM_CAP_PPC_UNSET_IRQ, "PPC_UNSET_IRQ"},
    {KVM_CAP_ENABLE_CAP, "ENABLE_CAP"},
#ifdef KVM_CAP_XSAVE
    {KVM_CAP_XSAVE, "XSAVE"},
#endif
#ifdef KVM_CAP_XCRS
    {KVM_CAP_XCRS, "XCRS"},
#endif
    {KVM_CAP_PPC_GET_PVINFO, "PPC_GET_PVINFO"},
    {KVM_CAP_PPC_IRQ_LEVEL, "PPC_IRQ_LEVEL"},
    {KVM_CAP_ASYNC_PF, "ASYNC_PF"},
    {KVM_CAP_TSC_CONTROL, "TSC_CONTROL"},
    {KVM_CAP_GET_TSC_KHZ, "GET_TSC_KHZ"},
    {KVM_CAP_PPC_BOOKE_SREGS, "PPC_BOOKE_SREGS"},
    {KVM_CAP_SPAPR_TCE, "SPAPR_TCE"},
    {KVM_CAP_PPC_SMT, "PPC_SMT"},
    {KVM_CAP_PPC_RMA, "PPC_RMA"},
    {KVM_CAP_MAX_VCPUS, "MAX_VCPUS"},
    {KVM_CAP_PPC_HIOR, "PPC_HIOR"},
    {KVM_CAP_PPC_PAPR, "PPC_PAPR"},
    {KVM_CAP_SW_TLB, "SW_TLB"},
    {KVM_CAP_ONE_REG, "ONE_REG"},
    {KVM_CAP_S390_GMAP, "S390_GMAP"},
    {KVM_CAP_TSC_DEADLINE_TIMER, "TSC_DEADLINE_TIMER"},
    {KVM_CAP_S390_UCONTROL, "S390_UCONTROL"},
    {KVM_CAP_SYNC_REGS, "SYNC_REGS"},
    {KVM_CAP_PCI_2_3, "PCI_2_3"},
    {KVM_CAP_KVMCLOCK_CTRL, "KVMCLOCK_CTRL"},
    {KVM_CAP_SIGNAL_MSI, "SIGNAL_MSI"},
    {KVM_CAP_PPC_GET_SMMU_INFO, "PPC_GET_SMMU_INFO"},
    {KVM_CAP_S390_COW, "S390_COW"},
    {KVM_CAP_PPC_ALLOC_HTAB, "PPC_ALLOC_HTAB"},
    {KVM_CAP_READONLY_MEM, "READONLY_MEM"},
    {KVM_CAP_IRQFD_RESAMPLE, "IRQFD_RESAMPLE"},
    {KVM_CAP_PPC_BOOKE_WATCHDOG, "PPC_BOOKE_WATCHDOG"},
    {KVM_CAP_PPC_HTAB_FD, "PPC_HTAB_FD"},
    {KVM_CAP_S390_CSS_SUPPORT, "S390_CSS_SUPPORT"},
    {KVM_CAP_PPC_EPR, "PPC_EPR"},
    {KVM_CAP_ARM_PSCI, "ARM_PSCI"},
    {KVM_CAP_ARM_SET_DEVICE_ADDR, "ARM_SET_DEVICE_ADDR"},
    {KVM_CAP_DEVICE_CTRL, "DEVICE_CTRL"},
    {KVM_CAP_IRQ_MPIC, "IRQ_MPIC"},
    {KVM_CAP_PPC_RTAS, "PPC_RTAS"},
    {KVM_CAP_IRQ_XICS, "IRQ_XICS"},
    {KVM_CAP_ARM_EL1_32BIT, "ARM_EL1_32BIT"},
    {KVM_CAP_SPAPR_MULTITCE, "SPAPR_MULTITCE"},
    {KVM_CAP_EXT_EMUL_CPUID, "EXT_EMUL_CPUID"},
    {KVM_CAP_HYPERV_TIME, "HYPERV_TIME"},
    {KVM_CAP_IOAPIC_POLARITY_IGNORED, "IOAPIC_POLARITY_IGNORED"},
    {KVM_CAP_ENABLE_CAP_VM, "ENABLE_CAP_VM"},
    {KVM_CAP_S390_IRQCHIP, "S390_IRQCHIP"},
    {KVM_CAP_IOEVENTFD_NO_LENGTH, "IOEVENTFD_NO_LENGTH"},
    {KVM_CAP_VM_ATTRIBUTES, "VM_ATTRIBUTES"},
    {KVM_CAP_ARM_PSCI_0_2, "ARM_PSCI_0_2"},
    {KVM_CAP_PPC_FIXUP_HCALL, "PPC_FIXUP_HCALL"},
    {KVM_CAP_PPC_ENABLE_HCALL, "PPC_ENABLE_HCALL"},
    {KVM_CAP_CHECK_EXTENSION_VM, "CHECK_EXTENSION_VM"},
    {KVM_CAP_S390_USER_SIGP, "S390_USER_SIGP"},
    {KVM_CAP_S390_VECTOR_REGISTERS, "S390_VECTOR_REGISTERS"},
    {KVM_CAP_S390_MEM_OP, "S390_MEM_OP"},
    {KVM_CAP_S390_USER_STSI, "S390_USER_STSI"},
    {KVM_CAP_S390_SKEYS, "S390_SKEYS"},
    {KVM_CAP_MIPS_FPU, "MIPS_FPU"},
    {KVM_CAP_MIPS_MSA, "MIPS_MSA"},
    {KVM_CAP_S390_INJECT_IRQ, "S390_INJECT_IRQ"},
    {KVM_CAP_S390_IRQ_STATE, "S390_IRQ_STATE"},
    {KVM_CAP_PPC_HWRNG, "PPC_HWRNG"},
    {KVM_CAP_DISABLE_QUIRKS, "DISABLE_QUIRKS"},
    {KVM_CAP_X86_SMM, "X86_SMM"},
    {KVM_CAP_MULTI_ADDRESS_SPACE, "MULTI_ADDRESS_SPACE"},
    {KVM_CAP_GUEST_DEBUG_HW_BPS, "GUEST_DEBUG_HW_BPS"},
    {KVM_CAP_GUEST_DEBUG_HW_WPS, "GUEST_DEBUG_HW_WPS"},
    {KVM_CAP_SPLIT_IRQCHIP, "SPLIT_IRQCHIP"},
    {KVM_CAP_IOEVENTFD_ANY_LENGTH, "IOEVENTFD_ANY_LENGTH"},
    {KVM_CAP_HYPERV_SYNIC, "HYPERV_SYNIC"},
    {KVM_CAP_S390_RI, "S390_RI"},
    {KVM_CAP_SPAPR_TCE_64, "SPAPR_TCE_64"},
    {KVM_CAP_ARM_PMU_V3, "ARM_PMU_V3"},
    {KVM_CAP_VCPU_ATTRIBUTES, "VCPU_ATTRIBUTES"},
    {KVM_CAP_MAX_VCPU_ID, "MAX_VCPU_ID"},
    {KVM_CAP_X2APIC_API, "X2APIC_API"},
    {KVM_CAP_S390_USER_INSTR0, "S390_USER_INSTR0"},
    {KVM_CAP_MSI_DEVID, "MSI_DEVID"},
    {KVM_CAP_PPC_HTM, "PPC_HTM"},
    {KVM_CAP_SPAPR_RESIZE_HPT, "SPAPR_RESIZE_HPT"},
    {KVM_CAP_PPC_MMU_RADIX, "PPC_MMU_RADIX"},
    {KVM_CAP_PPC_MMU_HASH_V3, "PPC_MMU_HASH_V3"},
    {KVM_CAP_IMMEDIATE_EXIT, "IMMEDIATE_EXIT"},
#ifdef KVM_CAP_MIPS_VZ
    {KVM_CAP_MIPS_VZ, "MIPS_VZ"},
#endif
#ifdef KVM_CAP_MIPS_TE
    {KVM_CAP_MIPS_TE, "MIPS_TE"},
#endif
#ifdef KVM_CAP_MIPS_64BIT
    {KVM_CAP_MIPS_64BIT, "MIPS_64BIT"},
#endif
#ifdef KVM_CAP_S390_GS
    {KVM_CAP_S390_GS, "S390_GS"},
#endif
#ifdef KVM_CAP_S390_AIS
    {KVM_CAP_S390_AIS, "S390_AIS"},
#endif
#ifdef KVM_CAP_SPAPR_TCE_VFIO
    {KVM_CAP_SPAPR_TCE_VFIO, "SPAPR_TCE_VFIO"},
#endif
#ifdef KVM_CAP_X86_DISABLE_EXITS
    {KVM_CAP_X86_DISABLE_EXITS, "X86_DISABLE_EXITS"},
#endif
#ifdef KVM_CAP_ARM_USER_IRQ
    {KVM_CAP_ARM_USER_IRQ, "ARM_USER_IRQ"},
#endif
#ifdef KVM_CAP_S390_CMMA_MIGRATION
    {KVM_CAP_S390_CMMA_MIGRATION, "S390_CMMA_MIGRATION"},
#endif
#ifdef KVM_CAP_PPC_FWNMI
    {KVM_CAP_PPC_FWNMI, "PPC_FWNMI"},
#endif
#ifdef KVM_CAP_PPC_SMT_POSSIBLE
    {KVM_CAP_PPC_SMT_POSSIBLE, "PPC_SMT_POSSIBLE"},
#endif
#ifdef KVM_CAP_HYPERV_SYNIC2
    {KVM_CAP_HYPERV_SYNIC2, "HYPERV_SYNIC2"},
#endif
#ifdef KVM_CAP_HYPERV_VP_INDEX
    {KVM_CAP_HYPERV_VP_INDEX, "HYPERV_VP_INDEX"},
#endif
#ifdef KVM_CAP_S390_AIS_MIGRATION
    {KVM_CAP_S390_AIS_MIGRATION, "S390_AIS_MIGRATION"},
#endif
#ifdef KVM_CAP_PPC_GET_CPU_CHAR
    {KVM_CAP_PPC_GET_CPU_CHAR, "PPC_GET_CPU_CHAR"},
#endif
#ifdef KVM_CAP_S390_BPB
    {KVM_CAP_S390_BPB, "S390_BPB"},
#endif
#ifdef KVM_CAP_GET_MSR_FEATURES
    {KVM_CAP_GET_MSR_FEATURES, "GET_MSR_FEATURES"},
#endif
#ifdef KVM_CAP_HYPERV_EVENTFD
    {KVM_CAP_HYPERV_EVENTFD, "HYPERV_EVENTFD"},
#endif
#ifdef KVM_CAP_HYPERV_TLBFLUSH
    {KVM_CAP_HYPERV_TLBFLUSH, "HYPERV_TLBFLUSH"},
#endif
#ifdef KVM_CAP_S390_HPAGE_1M
    {KVM_CAP_S390_HPAGE_1M, "S390_HPAGE_1M"},
#endif
#ifdef KVM_CAP_NESTED_STATE
    {KVM_CAP_NESTED_STATE, "NESTED_STATE"},
#endif
#ifdef KVM_CAP_ARM_INJECT_SERROR_ESR
    {KVM_CAP_ARM_INJECT_SERROR_ESR, "ARM_INJECT_SERROR_ESR"},
#endif
#ifdef KVM_CAP_MSR_PLATFORM_INFO
    {KVM_CAP_MSR_PLATFORM_INFO, "MSR_PLATFORM_INFO"},
#endif
#ifdef KVM_CAP_PPC_NESTED_HV
    {KVM_CAP_PPC_NESTED_HV, "PPC_NESTED_HV"},
#endif
#ifdef KVM_CAP_HYPERV_SEND_IPI
    {KVM_CAP_HYPERV_SEND_IPI, "HYPERV_SEND_IPI"},
#endif
#ifdef KVM_CAP_COALESCED_PIO
    {KVM_CAP_COALESCED_PIO, "COALESCED_PIO"},
#endif
#ifdef KVM_CAP_HYPERV_ENLIGHTENED_VMCS
    {KVM_CAP_HYPERV_ENLIGHTENED_VMCS, "HYPERV_ENLIGHTENED_VMCS"},
#endif
#ifdef KVM_CAP_EXCEPTION_PAYLOAD
    {KVM_CAP_EXCEPTION_PAYLOAD, "EXCEPTION_PAYLOAD"},
#endif
#ifdef KVM_CAP_ARM_VM_IPA_SIZE
    {KVM_CAP_ARM_VM_IPA_SIZE, "ARM_VM_IPA_SIZE"},
#endif
#ifdef KVM_CAP_MANUAL_DIRTY_LOG_PROTECT
    {KVM_CAP_MANUAL_DIRTY_LOG_PROTECT, "MANUAL_DIRTY_LOG_PROTECT"},
#endif
#ifdef KVM_CAP_HYPERV_CPUID
    {KVM_CAP_HYPERV_CPUID, "HYPERV_CPUID"},
#endif
#ifdef KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2
    {KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, "MANUAL_DIRTY_LOG_PROTECT2"},
#endif
#ifdef KVM_CAP_PPC_IRQ_XIVE
    {KVM_CAP_PPC_IRQ_XIVE, "PPC_IRQ_XIVE"},
#endif
#ifdef KVM_CAP_ARM_SVE
    {KVM_CAP_ARM_SVE, "ARM_SVE"},
#endif
#ifdef KVM_CAP_ARM_PTRAUTH_ADDRESS
    {KVM_CAP_ARM_PTRAUTH_ADDRESS, "ARM_PTRAUTH_ADDRESS"},
#endif
#ifdef KVM_CAP_ARM_PTRAUTH_GENERIC
    {KVM_CAP_ARM_PTRAUTH_GENERIC, "ARM_PTRAUTH_GENERIC"},
#endif
#ifdef KVM_CAP_PMU_EVENT_FILTER
    {KVM_CAP_PMU_EVENT_FILTER, "PMU_EVENT_FILTER"},
#endif
#ifdef KVM_CAP_ARM_IRQ_LINE_LAYOUT_2
    {KVM_CAP_ARM_IRQ_LINE_LAYOUT_2, "ARM_IRQ_LINE_LAYOUT_2"},
#endif
#ifdef KVM_CAP_HYPERV_DIRECT_TLBFLUSH
    {KVM_CAP_HYPERV_DIRECT_TLBFLUSH, "HYPERV_DIRECT_TLBFLUSH"},
#endif
#ifdef KVM_CAP_PPC_GUEST_DEBUG_SSTEP
    {KVM_CAP_PPC_GUEST_DEBUG_SSTEP, "PPC_GUEST_DEBUG_SSTEP"},
#endif
#ifdef KVM_CAP_ARM_NISV_TO_USER
    {KVM_CAP_ARM_NISV_TO_USER, "ARM_NISV_TO_USER"},
#endif
#ifdef KVM_CAP_ARM_INJECT_EXT_DABT
    {KVM_CAP_ARM_INJECT_EXT_DABT, "ARM_INJECT_EXT_DABT"},
#endif
#ifdef KVM_CAP_S390_VCPU_RESETS
    {KVM_CAP_S390_VCPU_RESETS, "S390_VCPU_RESETS"},
#endif
#ifdef KVM_CAP_S390_PROTECTED
    {KVM_CAP_S390_PROTECTED, "S390_PROTECTED"},
#endif
#ifdef KVM_CAP_PPC_SECURE_GUEST
    {KVM_CAP_PPC_SECURE_GUEST, "PPC_SECURE_GUEST"},
#endif
#ifdef KVM_CAP_HALT_POLL
    {KVM_CAP_HALT_POLL, "HALT_POLL"},
#endif
#ifdef KVM_CAP_ASYNC_PF_INT
    {KVM_CAP_ASYNC_PF_INT, "ASYNC_PF_INT"},
#endif
#ifdef KVM_CAP_LAST_CPU
    {KVM_CAP_LAST_CPU, "LAST_CPU"},
#endif
#ifdef KVM_CAP_SMALLER_MAXPHYADDR
    {KVM_CAP_SMALLER_MAXPHYADDR, "SMALLER_MAXPHYADDR"},
#endif
#ifdef KVM_CAP_S390_DIAG318
    {KVM_CAP_S390_DIAG318, "S390_DIAG318"},
#endif
#ifdef KVM_CAP_STEAL_TIME
    {KVM_CAP_STEAL_TIME, "STEAL_TIME"},
#endif
#ifdef KVM_CAP_X86_USER_SPACE_MSR
    {KVM_CAP_X86_USER_SPACE_MSR, "X86_USER_SPACE_MSR"},
#endif
#ifdef KVM_CAP_X86_MSR_FILTER
    {KVM_CAP_X86_MSR_FILTER, "X86_MSR_FILTER"},
#endif
#ifdef KVM_CAP_ENFORCE_PV_FEATURE_CPUID
    {KVM_CAP_ENFORCE_PV_FEATURE_CPUID, "ENFORCE_PV_FEATURE_CPUID"},
#endif
#ifdef KVM_CAP_SYS_HYPERV_CPUID
    {KVM_CAP_SYS_HYPERV_CPUID, "SYS_HYPERV_CPUID"},
#endif
#ifdef KVM_CAP_DIRTY_LOG_RING
    {KVM_CAP_DIRTY_LOG_RING, "DIRTY_LOG_RING"},
#endif
#ifdef KVM_CAP_X86_BUS_LOCK_EXIT
    {KVM_CAP_X86_BUS_LOCK_EXIT, "X86_BUS_LOCK_EXIT"},
#endif
#ifdef KVM_CAP_PPC_DAWR1
    {KVM_CAP_PPC_DAWR1, "PPC_DAWR1"},
#endif
#ifdef KVM_CAP_SET_GUEST_DEBUG2
    {KVM_CAP_SET_GUEST_DEBUG2, "SET_GUEST_DEBUG2"},
#endif
#ifdef KVM_CAP_SGX_ATTRIBUTE
    {KVM_CAP_SGX_ATTRIBUTE, "SGX_ATTRIBUTE"},
#endif
#ifdef KVM_CAP_VM_COPY_ENC_CONTEXT_FROM
    {KVM_CAP_VM_COPY_ENC_CONTEXT_FROM, "VM_COPY_ENC_CONTEXT_FROM"},
#endif
#ifdef KVM_CAP_PTP_KVM
    {KVM_CAP_PTP_KVM, "PTP_KVM"},
#endif
#ifdef KVM_CAP_HYPERV_ENFORCE_CPUID
    {KVM_CAP_HYPERV_ENFORCE_CPUID, "HYPERV_ENFORCE_CPUID"},
#endif
#ifdef KVM_CAP_SREGS2
    {KVM_CAP_SREGS2, "SREGS2"},
#endif
#ifdef KVM_CAP_EXIT_HYPERCALL
    {KVM_CAP_EXIT_HYPERCALL, "EXIT_HYPERCALL"},
#endif
#ifdef KVM_CAP_PPC_RPT_INVALIDATE
    {KVM_CAP_PPC_RPT_INVALIDATE, "PPC_RPT_INVALIDATE"},
#endif
#ifdef KVM_CAP_BINARY_STATS_FD
    {KVM_CAP_BINARY_STATS_FD, "BINARY_STATS_FD"},
#endif
#ifdef KVM_CAP_EXIT_ON_EMULATION_FAILURE
    {KVM_CAP_EXIT_ON_EMULATION_FAILURE, "EXIT_ON_EMULATION_FAILURE"},
#endif
#ifdef KVM_CAP_ARM_MTE
    {KVM_CAP_ARM_MTE, "ARM_MTE"},
#endif
#ifdef KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM
    {KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM, "VM_MOVE_ENC_CONTEXT_FROM"},
#endif
#ifdef KVM_CAP_VM_GPA_BITS
    {KVM_CAP_VM_GPA_BITS, "VM_GPA_BITS"},
#endif
#ifdef KVM_CAP_XSAVE2
    {KVM_CAP_XSAVE2, "XSAVE2"},
#endif
#ifdef KVM_CAP_SYS_ATTRIBUTES
    {KVM_CAP_SYS_ATTRIBUTES, "SYS_ATTRIBUTES"},
#endif
#ifdef KVM_CAP_PPC_AIL_MODE_3
    {KVM_CAP_PPC_AIL_MODE_3, "PPC_AIL_MODE_3"},
#endif
#ifdef KVM_CAP_S390_MEM_OP_EXTENSION
    {KVM_CAP_S390_MEM_OP_EXTENSION, "S390_MEM_OP_EXTENSION"},
#endif
#ifdef KVM_CAP_PMU_CAPABILITY
    {KVM_CAP_PMU_CAPABILITY, "PMU_CAPABILITY"},
#endif
#ifdef KVM_CAP_DISABLE_QUIRKS2
    {KVM_CAP_DISABLE_QUIRKS2, "DISABLE_QUIRKS2"},
#endif
#ifdef KVM_CAP_VM_TSC_CONTROL
    {KVM_CAP_VM_TSC_CONTROL, "VM_TSC_CONTROL"},
#endif
#ifdef KVM_CAP_SYSTEM_EVENT_DATA
    {KVM_CAP_SYSTEM_EVENT_DATA, "SYSTEM_EVENT_DATA"},
#endif
#ifdef KVM_CAP_ARM_SYSTEM_SUSPEND
    {KVM_CAP_ARM_SYSTEM_SUSPEND, "ARM_SYSTEM_SUSPEND"},
#endif
#ifdef KVM_CAP_S390_PROTECTED_DUMP
    {KVM_CAP_S390_PROTECTED_DUMP, "S390_PROTECTED_DUMP"},
#endif
#ifdef KVM_CAP_X86_TRIPLE_FAULT_EVENT
    {KVM_CAP_X86_TRIPLE_FAULT_EVENT, "X86_TRIPLE_FAULT_EVENT"},
#endif
#ifdef KVM_CAP_X86_NOTIFY_VMEXIT
    {KVM_CAP_X86_NOTIFY_VMEXIT, "X86_NOTIFY_VMEXIT"},
#endif
#ifdef KVM_CAP_VM_DISABLE_NX_HUGE_PAGES
    {KVM_CAP_VM_DISABLE_NX_HUGE_PAGES, "VM_DISABLE_NX_HUGE_PAGES"},
#endif
#ifdef KVM_CAP_S390_ZPCI_OP
    {KVM_CAP_S390_ZPCI_OP, "S390_ZPCI_OP"},
#endif
#ifdef KVM_CAP_S390_CPU_TOPOLOGY
    {KVM_CAP_S390_CPU_TOPOLOGY, "S390_CPU_TOPOLOGY"},
#endif
#ifdef KVM_CAP_DIRTY_LOG_RING_ACQ_REL
    {KVM_CAP_DIRTY_LOG_RING_ACQ_REL, "DIRTY_LOG_RING_ACQ_REL"},
#endif
#ifdef KVM_CAP_S390_PROTECTED_ASYNC_DISABLE
    {KVM_CAP_S390_PROTECTED_ASYNC_DISABLE, "S390_PROTECTED_ASYNC_DISABLE"},
#endif
#ifdef KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP
    {KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP, "DIRTY_LOG_RING_WITH_BITMAP"},
#endif
#ifdef KVM_CAP_PMU_EVENT_MASKED_EVENTS
    {KVM_CAP_PMU_EVENT_MASKED_EVENTS, "PMU_EVENT_MASKED_EVENTS"},
#endif
#ifdef KVM_CAP_COUNTER_OFFSET
    {KVM_CAP_COUNTER_OFFSET, "COUNTER_OFFSET"},
#endif
#ifdef KVM_CAP_ARM_EAGER_SPLIT_CHUNK_SIZE
    {KVM_CAP_ARM_EAGER_SPLIT_CHUNK_SIZE, "ARM_EAGER_SPLIT_CHUNK_SIZE"},
#endif
#ifdef KVM_CAP_ARM_SUPPORTED_BLOCK_SIZES
    {KVM_CAP_ARM_SUPPORTED_BLOCK_SIZES, "ARM_SUPPORTED_BLOCK_SIZES"},
#endif
#ifdef KVM_CAP_ARM_SUPPORTED_REG_MASK_RANGES
    {KVM_CAP_ARM_SUPPORTED_REG_MASK_RANGES, "ARM_SUPPORTED_REG_MASK_RANGES"},
#endif
#ifdef KVM_CAP_USER_MEMORY2
    {KVM_CAP_USER_MEMORY2, "USER_MEMORY2"},
#endif
#ifdef KVM_CAP_MEMORY_FAULT_INFO
    {KVM_CAP_MEMORY_FAULT_INFO, "MEMORY_FAULT_INFO"},
#endif
#ifdef KVM_CAP_MEMORY_ATTRIBUTES
    {KVM_CAP_MEMORY_ATTRIBUTES, "MEMORY_ATTRIBUTES"},
#endif
#ifdef KVM_CAP_GUEST_MEMFD
    {KVM_CAP_GUEST_MEMFD, "GUEST_MEMFD"},
#endif
#ifdef KVM_CAP_VM_TYPES
    {KVM_CAP_VM_TYPES, "VM_TYPES"},
#endif
#ifdef KVM_CAP_PRE_FAULT_MEMORY
    {KVM_CAP_PRE_FAULT_MEMORY, "PRE_FAULT_MEMORY"},
#endif
#ifdef KVM_CAP_X86_APIC_BUS_CYCLES_NS
    {KVM_CAP_X86_APIC_BUS_CYCLES_NS, "X86_APIC_BUS_CYCLES_NS"},
#endif
#ifdef KVM_CAP_X86_GUEST_MODE
    {KVM_CAP_X86_GUEST_MODE, "X86_GUEST_MODE"},
#endif
};

/* The name of KVM_CAP_* number `cap` without the prefix ("SYNC_REGS"), or NULL when the
 * headers we were built with do not define it. */
const char *kvm_cap_name(int cap)
{
    for (size_t i = 0; i < ARRAY_SIZE(kvm_cap_names); i++)
        if (kvm_cap_names[i].number == cap)
            return kvm_cap_names[i].name;
    return NULL;
}

/* Copies `len` bytes of `src` into `dst` (size len + 1) and trims surrounding blanks and
 * NULs: CPUID strings are fixed-size and padded either way. */
static void copy_trimmed(char *dst, const char *src, size_t len)
{
    while (len > 0 && (*src == ' ' || *src == '\0')) {
        src++;
        len--;
    }
    while (len > 0 && (src[len - 1] == ' ' || src[len - 1] == '\0'))
        len--;
    memcpy(dst, src, len);
    dst[len] = '\0';
    /* A NUL inside the string ends it; that is what a C string can show. */
}

#ifdef HAVE_X86_CPUID
/* Fills vendor, brand, the hypervisor bit and vendor, VMX, SVM and NPT from CPUID,
 * asking only for leaves the CPU reports (max basic / max extended leaf). */
static void read_cpuid(CpuVirtCaps *c)
{
    unsigned int max_leaf = 0, eax = 0, ebx = 0, ecx = 0, edx = 0;
    char buf[48];

    if (!__get_cpuid(CPUID_LEAF_VENDOR, &max_leaf, &ebx, &ecx, &edx))
        return;
    memcpy(buf + 0, &ebx, 4);
    memcpy(buf + 4, &edx, 4);
    memcpy(buf + 8, &ecx, 4);
    copy_trimmed(c->vendor, buf, 12);

    if (max_leaf >= CPUID_LEAF_FEATURES &&
        __get_cpuid(CPUID_LEAF_FEATURES, &eax, &ebx, &ecx, &edx)) {
        c->vmx = (ecx & CPUID_1_ECX_VMX) ? CAP_YES : CAP_NO;
        c->hypervisor_present = (ecx & CPUID_1_ECX_HYPERVISOR) != 0;
    }

    /* Leaves 40000000h-400000FFh belong to the hypervisor and exist only when it sets
     * CPUID.1:ECX[31]; __get_cpuid() would compare them with the basic maximum leaf. */
    if (c->hypervisor_present) {
        __cpuid(CPUID_LEAF_HYPERVISOR_BASE, eax, ebx, ecx, edx);
        memcpy(buf + 0, &ebx, 4);
        memcpy(buf + 4, &ecx, 4);
        memcpy(buf + 8, &edx, 4);
        copy_trimmed(c->hypervisor_vendor, buf, 12);
    }

    unsigned int max_ext = __get_cpuid_max(CPUID_LEAF_EXT_BASE, NULL);
    if (max_ext >= CPUID_LEAF_EXT_FEATURES &&
        __get_cpuid(CPUID_LEAF_EXT_FEATURES, &eax, &ebx, &ecx, &edx))
        c->svm = (ecx & CPUID_80000001_ECX_SVM) ? CAP_YES : CAP_NO;

    if (max_ext >= CPUID_LEAF_BRAND_LAST) {
        for (unsigned int i = 0; i < 3; i++) {
            __cpuid(CPUID_LEAF_BRAND_FIRST + i, eax, ebx, ecx, edx);
            memcpy(buf + 16 * i + 0, &eax, 4);
            memcpy(buf + 16 * i + 4, &ebx, 4);
            memcpy(buf + 16 * i + 8, &ecx, 4);
            memcpy(buf + 16 * i + 12, &edx, 4);
        }
        copy_trimmed(c->brand, buf, 48);
    }

    /* The SVM feature leaf means something only on a CPU that reports SVM. */
    if (c->svm == CAP_YES && max_ext >= CPUID_LEAF_SVM_FEATURES &&
        __get_cpuid(CPUID_LEAF_SVM_FEATURES, &eax, &ebx, &ecx, &edx))
        c->npt = (edx & CPUID_8000000A_EDX_NP) ? CAP_YES : CAP_NO;
}
#endif

bool vmx_secondary_controls_allowed(uint64_t procbased_ctls)
{
    uint32_t allowed1 = (uint32_t)(procbased_ctls >> 32);
    return (allowed1 & CPU_BASED_ACTIVATE_SECONDARY_CONTROLS) != 0;
}

void vmx_decode_secondary_caps(uint64_t procbased_ctls, uint64_t procbased_ctls2,
                               CapState *ept, CapState *unrestricted_guest)
{
    if (!vmx_secondary_controls_allowed(procbased_ctls)) {
        /* No secondary controls at all: neither feature can be turned on. */
        *ept = CAP_NO;
        *unrestricted_guest = CAP_NO;
        return;
    }
    uint32_t allowed1 = (uint32_t)(procbased_ctls2 >> 32);
    *ept = (allowed1 & SECONDARY_EXEC_ENABLE_EPT) ? CAP_YES : CAP_NO;
    *unrestricted_guest = (allowed1 & SECONDARY_EXEC_UNRESTRICTED_GUEST) ? CAP_YES : CAP_NO;
}

#ifdef HAVE_X86_CPUID
/* Reads MSR `msr` of CPU 0 through the msr driver. Returns 0, or -1 with msr_status
 * saying why. */
static int read_msr(int fd, uint32_t msr, const char *msr_name, uint64_t *value,
                    CpuVirtCaps *c)
{
    ssize_t n = pread(fd, value, sizeof(*value), msr);
    if (n == (ssize_t)sizeof(*value))
        return 0;
    snprintf(c->msr_status, sizeof(c->msr_status), "rdmsr %s (0x%X): %s", msr_name,
             (unsigned)msr, n < 0 ? strerror(errno) : "short read");
    return -1;
}

/* EPT and unrestricted guest from the VMX capability MSRs (SDM Vol. 3D, A.3.2 and
 * A.3.3): both need "activate secondary controls" allowed-1 in IA32_VMX_PROCBASED_CTLS,
 * then their own allowed-1 bit in IA32_VMX_PROCBASED_CTLS2. Leaves both CAP_UNKNOWN with
 * msr_status set when VMX is not reported or the MSRs cannot be read. */
static void read_vmx_msrs(CpuVirtCaps *c)
{
    if (c->vmx != CAP_YES) {
        snprintf(c->msr_status, sizeof(c->msr_status), "VMX not reported by CPUID");
        return;
    }
    int fd = open(MSR_DEVICE_CPU0, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        snprintf(c->msr_status, sizeof(c->msr_status), MSR_DEVICE_CPU0 ": %s%s",
                 strerror(err),
                 err == ENOENT ? " (try: modprobe msr)"
                 : (err == EACCES || err == EPERM) ? " (needs root with CAP_SYS_RAWIO)"
                                                   : "");
        return;
    }

    uint64_t procbased, procbased2 = 0;
    if (read_msr(fd, IA32_VMX_PROCBASED_CTLS, "IA32_VMX_PROCBASED_CTLS", &procbased, c) < 0)
        goto out;
    if (vmx_secondary_controls_allowed(procbased) &&
        read_msr(fd, IA32_VMX_PROCBASED_CTLS2, "IA32_VMX_PROCBASED_CTLS2", &procbased2, c) < 0)
        goto out;
    vmx_decode_secondary_caps(procbased, procbased2, &c->ept, &c->unrestricted);
out:
    close(fd);
}
#endif

/* /dev/kvm: presence, kvm_hw_usable(), the API version and every capability for which
 * KVM_CHECK_EXTENSION returns > 0 (in table order, at most CPU_VIRT_MAX_KVM_CAPS). */
static void read_kvm(CpuVirtCaps *c)
{
    struct stat st;
    c->kvm_present = stat(KVM_DEVICE_PATH, &st) == 0;
    c->kvm_usable = kvm_hw_usable(c->kvm_status, sizeof(c->kvm_status));
    if (!c->kvm_present)
        return;

    int fd = open(KVM_DEVICE_PATH, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return;
    int version = ioctl(fd, KVM_GET_API_VERSION, 0);
    c->kvm_api_version = version < 0 ? -1 : version;
    for (size_t i = 0; i < ARRAY_SIZE(kvm_cap_names); i++) {
        if (c->kvm_num_caps >= CPU_VIRT_MAX_KVM_CAPS)
            break;
        int r = ioctl(fd, KVM_CHECK_EXTENSION, kvm_cap_names[i].number);
        if (r > 0)
            c->kvm_caps[c->kvm_num_caps++] =
                (KvmCapValue){.number = kvm_cap_names[i].number, .value = r};
    }
    close(fd);
}

/* See the header. Reads CPUID (this CPU), MSRs (CPU 0) and /dev/kvm; prints nothing. */
CpuVirtCaps check_cpu_virt_support(void)
{
    CpuVirtCaps c;
    memset(&c, 0, sizeof(c));
    c.vmx = c.svm = c.npt = c.ept = c.unrestricted = CAP_UNKNOWN;
    c.kvm_api_version = -1;

#ifdef HAVE_X86_CPUID
    read_cpuid(&c);
    read_vmx_msrs(&c);
#else
    snprintf(c.msr_status, sizeof(c.msr_status), "not an x86 CPU");
#endif
    read_kvm(&c);
    c.vmx_supported = c.vmx == CAP_YES;
    c.svm_supported = c.svm == CAP_YES;
    c.ept_supported = c.ept == CAP_YES;
    c.npt_supported = c.npt == CAP_YES;
    c.unrestricted_guest = c.unrestricted == CAP_YES;
    return c;
}

/* ------------------------------------------------------------------------------------ */
/* The report                                                                            */
/* ------------------------------------------------------------------------------------ */

#define REPORT_LABEL_WIDTH 20
#define REPORT_INDENT (2 + REPORT_LABEL_WIDTH + 1)
#define REPORT_WIDTH 100

static void print_label(FILE *out, const char *label)
{
    fprintf(out, "  %-*s ", REPORT_LABEL_WIDTH, label);
}

static void print_cap_state(FILE *out, const char *label, CapState s, const char *why)
{
    print_label(out, label);
    switch (s) {
    case CAP_YES:
        fputs("yes\n", out);
        break;
    case CAP_NO:
        fputs("no\n", out);
        break;
    default:
        fprintf(out, "unknown (%s)\n", why && why[0] ? why : "not readable");
        break;
    }
}

/* Appends `word` at column *col, starting a new indented line when it would pass
 * REPORT_WIDTH. The first word of a line follows the label. */
static void print_wrapped_word(FILE *out, const char *word, int *col)
{
    int len = (int)strlen(word);
    if (*col > REPORT_INDENT && *col + 1 + len > REPORT_WIDTH) {
        fprintf(out, "\n%*s", REPORT_INDENT, "");
        *col = REPORT_INDENT;
    }
    if (*col > REPORT_INDENT) {
        fputc(' ', out);
        (*col)++;
    }
    fputs(word, out);
    *col += len;
}

/* Prints `text` after the label, word-wrapped at REPORT_WIDTH. */
static void print_wrapped_text(FILE *out, const char *label, const char *text)
{
    char word[128];
    int col = REPORT_INDENT;
    print_label(out, label);
    while (*text) {
        while (*text == ' ')
            text++;
        size_t n = strcspn(text, " ");
        if (n == 0)
            break;
        if (n >= sizeof(word))
            n = sizeof(word) - 1;
        memcpy(word, text, n);
        word[n] = '\0';
        text += strcspn(text, " ");
        print_wrapped_word(out, word, &col);
    }
    fputc('\n', out);
}

/* Writes the CPU and KVM sections for `caps` to `out`, and a note when /dev/kvm works on a
 * virtual CPU that shows neither VMX nor SVM (nested or paravirtual KVM). */
void print_cpu_virt_caps(FILE *out, const CpuVirtCaps *caps)
{
    const CpuVirtCaps *c = caps;

    fputs("CPU\n", out);
    print_label(out, "vendor");
    fprintf(out, "%s\n", c->vendor[0] ? c->vendor : "unknown");
    print_label(out, "model");
    fprintf(out, "%s\n", c->brand[0] ? c->brand : "unknown");
    print_label(out, "hypervisor");
    if (c->hypervisor_present)
        fprintf(out, "yes (%s)\n", c->hypervisor_vendor[0] ? c->hypervisor_vendor : "no vendor id");
    else
        fputs("no\n", out);
    print_cap_state(out, "VMX (Intel VT-x)", c->vmx, "CPUID not available");
    print_cap_state(out, "SVM (AMD-V)", c->svm, "CPUID not available");
    print_cap_state(out, "NPT", c->npt,
                    c->svm != CAP_YES ? "SVM not reported by CPUID"
                                      : "CPUID leaf 8000000Ah not reported");
    print_cap_state(out, "EPT", c->ept, c->msr_status);
    print_cap_state(out, "unrestricted guest", c->unrestricted, c->msr_status);

    fputs("KVM\n", out);
    print_label(out, KVM_DEVICE_PATH);
    if (!c->kvm_present)
        fputs("absent\n", out);
    else if (c->kvm_usable)
        fputs("present, usable\n", out);
    else
        fprintf(out, "present, not usable: %s\n", c->kvm_status[0] ? c->kvm_status : "unknown");
    print_label(out, "API version");
    if (c->kvm_api_version >= 0)
        fprintf(out, "%d\n", c->kvm_api_version);
    else
        fputs("unknown\n", out);

    char label[32], word[64];
    snprintf(label, sizeof(label), "capabilities (%d)", c->kvm_num_caps);
    print_label(out, label);
    int col = REPORT_INDENT;
    if (c->kvm_num_caps == 0)
        print_wrapped_word(out, "none", &col);
    for (int i = 0; i < c->kvm_num_caps && i < CPU_VIRT_MAX_KVM_CAPS; i++) {
        const char *name = kvm_cap_name(c->kvm_caps[i].number);
        char unnamed[24];
        if (!name) {
            snprintf(unnamed, sizeof(unnamed), "CAP_%d", c->kvm_caps[i].number);
            name = unnamed;
        }
        if (c->kvm_caps[i].value > 1)
            snprintf(word, sizeof(word), "%s=%d", name, c->kvm_caps[i].value);
        else
            snprintf(word, sizeof(word), "%s", name);
        print_wrapped_word(out, word, &col);
    }
    fputc('\n', out);

    if (c->hypervisor_present && c->vmx != CAP_YES && c->svm != CAP_YES && c->kvm_usable)
        print_wrapped_text(out, "note",
                           "KVM is nested or paravirtual here: this CPU is virtual (hypervisor "
                           "bit set) and reports neither VMX nor SVM, yet /dev/kvm runs VMs, "
                           "so the host kernel has hardware virtualization that the guest CPU "
                           "flags do not show.");
}
