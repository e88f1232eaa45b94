/*
 * The KVM API boundary: what a kernel (hw: Linux kvm.ko, sim: the software VT-x model)
 * provides under the public kvm_* functions. src/kvm/kvm.c owns the bookkeeping (device,
 * VM and vCPU structs, memory the library maps); a backend only talks to its kernel.
 */
#ifndef SCRATCHVM_KVM_BACKEND_H
#define SCRATCHVM_KVM_BACKEND_H

#include "hypervisor_sim.h"

typedef struct KvmBackendOps {
    const char *name;
    /* Fills kvm->api_version and kvm->extensions; kvm->fd as the backend needs. */
    int (*open)(KvmDevice *kvm);
    void (*close)(KvmDevice *kvm);
    int (*check_extension)(KvmDevice *kvm, int cap);
    int (*create_vm)(KvmVm *vm);
    void (*destroy_vm)(KvmVm *vm);
    /* `r` is already validated and recorded in vm->memory_regions. */
    int (*set_memory_region)(KvmVm *vm, const KvmUserspaceMemoryRegion *r);
    int (*get_dirty_log)(KvmVm *vm, uint32_t slot, uint64_t *bitmap);
    /* Sets kvm_run and kvm_run_size; leaves registers in the reset state of the kernel. */
    int (*create_vcpu)(KvmVcpu *vcpu);
    void (*destroy_vcpu)(KvmVcpu *vcpu);
    int (*get_regs)(KvmVcpu *vcpu, KvmRegs *regs);
    int (*set_regs)(KvmVcpu *vcpu, const KvmRegs *regs);
    int (*get_sregs)(KvmVcpu *vcpu, KvmSregs *sregs);
    int (*set_sregs)(KvmVcpu *vcpu, const KvmSregs *sregs);
    /* One entry and exit. Loads vcpu->regs/sregs where they differ from *_synced, and
     * leaves the state at the exit in both. */
    int (*run)(KvmVcpu *vcpu);
    /* Makes a run in progress in another thread end soon; immediate_exit is already set. */
    void (*kick)(KvmVcpu *vcpu);
    /* KVM_SET_GUEST_DEBUG with Linux's semantics (control bits already validated):
     * SINGLESTEP, USE_SW_BP, USE_HW_BP with arch.debugreg[0-3, 7]; see kvm_set_guest_debug2. */
    int (*set_guest_debug)(KvmVcpu *vcpu, const struct kvm_guest_debug *dbg);
    /* KVM_INTERRUPT (userspace irqchip): latches `irq` for injection at the first entry
     * where the guest can take it; -EEXIST while one is still latched. */
    int (*interrupt)(KvmVcpu *vcpu, uint32_t irq);
    /* KVM_NMI: an NMI for the guest. */
    int (*nmi)(KvmVcpu *vcpu);
    /* The in-kernel irqchip (KVM only; NULL on sim): KVM_CREATE_IRQCHIP and
     * KVM_CREATE_PIT2 before any vCPU, KVM_IRQ_LINE, KVM_GET_IRQCHIP, KVM_GET_LAPIC. */
    int (*create_irqchip)(KvmVm *vm);
    int (*irq_line)(KvmVm *vm, uint32_t irq, int level);
    int (*get_irqchip)(KvmVm *vm, struct kvm_irqchip *chip);
    int (*get_lapic)(KvmVcpu *vcpu, struct kvm_lapic_state *lapic);
    /* KVM_REGISTER_COALESCED_MMIO / KVM_UNREGISTER_COALESCED_MMIO (NULL: not supported). */
    int (*coalesced_mmio)(KvmVm *vm, const struct kvm_coalesced_mmio_zone *zone, bool add);
    /* The vCPU's coalesced MMIO ring (KVM_COALESCED_MMIO_PAGE_OFFSET of its mmap), or NULL. */
    struct kvm_coalesced_mmio_ring *(*coalesced_ring)(KvmVcpu *vcpu);
    /* KVM_GET_MSRS / KVM_SET_MSRS: the number of entries done (they stop at the first
     * MSR the kernel refuses), or a negative errno. */
    int (*get_msrs)(KvmVcpu *vcpu, struct kvm_msrs *msrs);
    int (*set_msrs)(KvmVcpu *vcpu, struct kvm_msrs *msrs);
    /* KVM_GET_TSC_KHZ: the guest TSC's frequency in kHz, or a negative errno. */
    int (*tsc_khz)(KvmVcpu *vcpu);
    /* KVM_GET_CPUID2's entry for (function, index): the CPUID the vCPU reports; -ENOENT
     * when it has none (CPUID then answers with the highest basic leaf). */
    int (*get_cpuid)(KvmVcpu *vcpu, uint32_t function, uint32_t index, uint32_t out[4]);
} KvmBackendOps;

extern const KvmBackendOps kvm_hw_ops;
extern const KvmBackendOps kvm_sim_ops;   /* NULL-free table; open() fails until sim exists */

/* /dev/kvm, or what SCRATCHVM_KVM_DEVICE names (src/kvm/kvm_probe.c). */
const char *hv_kvm_device_path(void);

/* kvm_guest_ptr without announcing a host write (host_write_gen stays): for readers, and
 * for writers that call kvm_note_host_write after writing (device DMA). Any thread: the
 * memory slots change only while no vCPU runs and no device works (VM setup). */
void *kvm_guest_lookup(KvmVm *vm, uint64_t gpa, size_t len, bool writable);

/* Library-wide helpers (src/kvm/error.c). */
#include "hv/hv_log.h"

#endif
