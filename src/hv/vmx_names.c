/* Names of VM-exit reasons: Intel's basic exit reasons and Linux KVM's KVM_EXIT_* codes. */
#include <stddef.h>

#include "hypervisor_sim.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Intel SDM Vol. 3C, Appendix C "VMX Basic Exit Reasons": the numbers of VmExitReason.
 * Numbers 35, 38 and 42 are not assigned. */
static const char *const vmx_exit_reason_names[] = {
    [EXIT_REASON_EXCEPTION_NMI] = "EXCEPTION_NMI",
    [EXIT_REASON_EXTERNAL_INTERRUPT] = "EXTERNAL_INTERRUPT",
    [EXIT_REASON_TRIPLE_FAULT] = "TRIPLE_FAULT",
    [EXIT_REASON_INIT_SIGNAL] = "INIT_SIGNAL",
    [EXIT_REASON_SIPI] = "SIPI",
    [EXIT_REASON_IO_SMI] = "IO_SMI",
    [EXIT_REASON_OTHER_SMI] = "OTHER_SMI",
    [EXIT_REASON_INTERRUPT_WINDOW] = "INTERRUPT_WINDOW",
    [EXIT_REASON_NMI_WINDOW] = "NMI_WINDOW",
    [EXIT_REASON_TASK_SWITCH] = "TASK_SWITCH",
    [EXIT_REASON_CPUID] = "CPUID",
    [EXIT_REASON_GETSEC] = "GETSEC",
    [EXIT_REASON_HLT] = "HLT",
    [EXIT_REASON_INVD] = "INVD",
    [EXIT_REASON_INVLPG] = "INVLPG",
    [EXIT_REASON_RDPMC] = "RDPMC",
    [EXIT_REASON_RDTSC] = "RDTSC",
    [EXIT_REASON_RSM] = "RSM",
    [EXIT_REASON_VMCALL] = "VMCALL",
    [EXIT_REASON_VMCLEAR] = "VMCLEAR",
    [EXIT_REASON_VMLAUNCH] = "VMLAUNCH",
    [EXIT_REASON_VMPTRLD] = "VMPTRLD",
    [EXIT_REASON_VMPTRST] = "VMPTRST",
    [EXIT_REASON_VMREAD] = "VMREAD",
    [EXIT_REASON_VMRESUME] = "VMRESUME",
    [EXIT_REASON_VMWRITE] = "VMWRITE",
    [EXIT_REASON_VMXOFF] = "VMXOFF",
    [EXIT_REASON_VMXON] = "VMXON",
    [EXIT_REASON_CR_ACCESS] = "CR_ACCESS",
    [EXIT_REASON_DR_ACCESS] = "DR_ACCESS",
    [EXIT_REASON_IO_INSTRUCTION] = "IO_INSTRUCTION",
    [EXIT_REASON_MSR_READ] = "MSR_READ",
    [EXIT_REASON_MSR_WRITE] = "MSR_WRITE",
    [EXIT_REASON_INVALID_GUEST_STATE] = "INVALID_GUEST_STATE",
    [EXIT_REASON_MSR_LOADING] = "MSR_LOADING",
    [EXIT_REASON_MWAIT_INSTRUCTION] = "MWAIT_INSTRUCTION",
    [EXIT_REASON_MONITOR_TRAP_FLAG] = "MONITOR_TRAP_FLAG",
    [EXIT_REASON_MONITOR_INSTRUCTION] = "MONITOR_INSTRUCTION",
    [EXIT_REASON_PAUSE_INSTRUCTION] = "PAUSE_INSTRUCTION",
    [EXIT_REASON_MCE_DURING_VMENTRY] = "MCE_DURING_VMENTRY",
    [EXIT_REASON_TPR_BELOW_THRESHOLD] = "TPR_BELOW_THRESHOLD",
    [EXIT_REASON_APIC_ACCESS] = "APIC_ACCESS",
    [EXIT_REASON_VIRTUALIZED_EOI] = "VIRTUALIZED_EOI",
    [EXIT_REASON_GDTR_IDTR] = "GDTR_IDTR",
    [EXIT_REASON_LDTR_TR] = "LDTR_TR",
    [EXIT_REASON_EPT_VIOLATION] = "EPT_VIOLATION",
    [EXIT_REASON_EPT_MISCONFIG] = "EPT_MISCONFIG",
    [EXIT_REASON_INVEPT] = "INVEPT",
    [EXIT_REASON_RDTSCP] = "RDTSCP",
    [EXIT_REASON_PREEMPTION_TIMER] = "PREEMPTION_TIMER",
    [EXIT_REASON_INVVPID] = "INVVPID",
    [EXIT_REASON_WBINVD] = "WBINVD",
    [EXIT_REASON_XSETBV] = "XSETBV",
    [EXIT_REASON_APIC_WRITE] = "APIC_WRITE",
    [EXIT_REASON_RDRAND] = "RDRAND",
    [EXIT_REASON_INVPCID] = "INVPCID",
    [EXIT_REASON_VMFUNC] = "VMFUNC",
    [EXIT_REASON_ENCLS] = "ENCLS",
    [EXIT_REASON_RDSEED] = "RDSEED",
    [EXIT_REASON_PML_FULL] = "PML_FULL",
    [EXIT_REASON_XSAVES] = "XSAVES",
    [EXIT_REASON_XRSTORS] = "XRSTORS",
};

/* The name of basic exit reason `basic_reason` (bits 15:0 of the exit-reason field)
 * without the EXIT_REASON_ prefix, e.g. "IO_INSTRUCTION"; NULL when it has none. */
const char *vmx_exit_reason_name(uint32_t basic_reason)
{
    if (basic_reason >= ARRAY_SIZE(vmx_exit_reason_names))
        return NULL;
    return vmx_exit_reason_names[basic_reason];
}

/* kvm_run.exit_reason codes of <linux/kvm.h>. Codes newer than the oldest headers we
 * build against are guarded, so the table holds exactly what the headers define. */
static const char *const kvm_exit_reason_names[] = {
    [KVM_EXIT_UNKNOWN] = "UNKNOWN",
    [KVM_EXIT_EXCEPTION] = "EXCEPTION",
    [KVM_EXIT_IO] = "IO",
    [KVM_EXIT_HYPERCALL] = "HYPERCALL",
    [KVM_EXIT_DEBUG] = "DEBUG",
    [KVM_EXIT_HLT] = "HLT",
    [KVM_EXIT_MMIO] = "MMIO",
    [KVM_EXIT_IRQ_WINDOW_OPEN] = "IRQ_WINDOW_OPEN",
    [KVM_EXIT_SHUTDOWN] = "SHUTDOWN",
    [KVM_EXIT_FAIL_ENTRY] = "FAIL_ENTRY",
    [KVM_EXIT_INTR] = "INTR",
    [KVM_EXIT_SET_TPR] = "SET_TPR",
    [KVM_EXIT_TPR_ACCESS] = "TPR_ACCESS",
    [KVM_EXIT_S390_SIEIC] = "S390_SIEIC",
    [KVM_EXIT_S390_RESET] = "S390_RESET",
    [KVM_EXIT_DCR] = "DCR",
    [KVM_EXIT_NMI] = "NMI",
    [KVM_EXIT_INTERNAL_ERROR] = "INTERNAL_ERROR",
    [KVM_EXIT_OSI] = "OSI",
    [KVM_EXIT_WATCHDOG] = "WATCHDOG",
    [KVM_EXIT_S390_TSCH] = "S390_TSCH",
    [KVM_EXIT_EPR] = "EPR",
    [KVM_EXIT_SYSTEM_EVENT] = "SYSTEM_EVENT",
    [KVM_EXIT_S390_STSI] = "S390_STSI",
    [KVM_EXIT_IOAPIC_EOI] = "IOAPIC_EOI",
    [KVM_EXIT_HYPERV] = "HYPERV",
    [KVM_EXIT_ARM_NISV] = "ARM_NISV",
#ifdef KVM_EXIT_X86_RDMSR
    [KVM_EXIT_X86_RDMSR] = "X86_RDMSR",
#endif
#ifdef KVM_EXIT_X86_WRMSR
    [KVM_EXIT_X86_WRMSR] = "X86_WRMSR",
#endif
#ifdef KVM_EXIT_DIRTY_RING_FULL
    [KVM_EXIT_DIRTY_RING_FULL] = "DIRTY_RING_FULL",
#endif
#ifdef KVM_EXIT_AP_RESET_HOLD
    [KVM_EXIT_AP_RESET_HOLD] = "AP_RESET_HOLD",
#endif
#ifdef KVM_EXIT_X86_BUS_LOCK
    [KVM_EXIT_X86_BUS_LOCK] = "X86_BUS_LOCK",
#endif
#ifdef KVM_EXIT_XEN
    [KVM_EXIT_XEN] = "XEN",
#endif
#ifdef KVM_EXIT_RISCV_SBI
    [KVM_EXIT_RISCV_SBI] = "RISCV_SBI",
#endif
#ifdef KVM_EXIT_RISCV_CSR
    [KVM_EXIT_RISCV_CSR] = "RISCV_CSR",
#endif
#ifdef KVM_EXIT_NOTIFY
    [KVM_EXIT_NOTIFY] = "NOTIFY",
#endif
#ifdef KVM_EXIT_LOONGARCH_IOCSR
    [KVM_EXIT_LOONGARCH_IOCSR] = "LOONGARCH_IOCSR",
#endif
#ifdef KVM_EXIT_MEMORY_FAULT
    [KVM_EXIT_MEMORY_FAULT] = "MEMORY_FAULT",
#endif
#ifdef KVM_EXIT_TDX
    [KVM_EXIT_TDX] = "TDX",
#endif
};

/* The name of a KVM_EXIT_* code without the prefix, e.g. "IO"; NULL when unknown. */
const char *kvm_exit_reason_name(uint32_t kvm_exit_reason)
{
    if (kvm_exit_reason >= ARRAY_SIZE(kvm_exit_reason_names))
        return NULL;
    return kvm_exit_reason_names[kvm_exit_reason];
}
