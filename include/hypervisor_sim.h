/*
 * ScratchVM public API.
 *
 * A micro VMM over the Linux KVM API. Two kernels implement that API: the real kvm.ko
 * through /dev/kvm (HV_BACKEND_KVM) and a software model of a VT-x processor
 * (HV_BACKEND_SIM). Everything in this header works on either.
 *
 * The KVM structures are the kernel's own (<linux/kvm.h>): KvmRegs is struct kvm_regs,
 * KvmRun is struct kvm_run, and the KVM_EXIT_* codes keep their Linux values.
 *
 * Conventions: functions return 0 or a negative errno, or NULL on failure; after a
 * failure hv_last_error() holds a one-line message for the caller to print. Nothing here
 * exits the process.
 *
 * The seed contract (../shared/seed/hypervisor_sim.h): every type, field, enumerator,
 * macro and function it names exists here with its meaning; tests/api/seed_names.c uses
 * them all. Where a project type is richer, the seed's fields come first in the seed's
 * order (HypervisorInfo, CpuVirtCaps, VMCS) or are added beside the project's
 * (IoPortHandler.port/size, MmioHandler.size, QemuMonitor.vm/vcpus/..._handlers). Kept
 * on purpose, by DESIGN.md's convention: the device handlers (serial_io_read,
 * vga_mmio_read, ..., IoPortHandler.read) return 0 or -errno where the seed returns bool,
 * port values are 32-bit, and vm_handle_io / qemu_cmd_* return int where the seed's
 * return void. KvmRun.io.direction has Linux's values (KVM_EXIT_IO_OUT is 1).
 */
#ifndef HYPERVISOR_SIM_H
#define HYPERVISOR_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <linux/kvm.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SCRATCHVM_VERSION "0.1.0"

/* ------------------------------------------------------------------------------------ */
/* Errors and logging                                                                    */
/* ------------------------------------------------------------------------------------ */

/* The message of the last failure in this thread ("" when none). */
const char *hv_last_error(void);

typedef enum { HV_LOG_ERROR = 0, HV_LOG_WARN = 1, HV_LOG_INFO = 2, HV_LOG_DEBUG = 3 } HvLogLevel;
typedef void (*HvLogFn)(HvLogLevel level, const char *message, void *opaque);

/* Where library diagnostics go: NULL restores the default (stderr). Messages above
 * `max_level` are dropped; the default is HV_LOG_WARN. */
void hv_set_log_handler(HvLogFn fn, void *opaque);
void hv_set_log_level(HvLogLevel max_level);

/* ------------------------------------------------------------------------------------ */
/* Hypervisor types                                                                      */
/* ------------------------------------------------------------------------------------ */

typedef enum {
    HYPERVISOR_TYPE_1,      /* bare metal: the hypervisor is the host OS */
    HYPERVISOR_TYPE_2,      /* hosted: runs as a program on a host OS */
    HYPERVISOR_KVM,         /* hybrid ("type 1.5"): a host OS kernel turned hypervisor */
    HYPERVISOR_TYPE_HYBRID = HYPERVISOR_KVM,   /* the same, by what it is */
} HypervisorType;

/* The seed's fields first, in the seed's order; then the project's. */
typedef struct {
    const char *name;
    HypervisorType type;
    bool requires_host_os;        /* runs on (or inside) a general-purpose host OS */
    bool hardware_virt_required;  /* cannot run guests without VT-x / AMD-V */
    const char *examples;         /* products of this kind, e.g. "ESXi, Xen, Hyper-V" */
    const char *vendor;
    const char *description;
} HypervisorInfo;

extern const HypervisorInfo hypervisor_types[];
extern const size_t hypervisor_types_count;

const char *hypervisor_type_name(HypervisorType type);
void print_hypervisor_types(void);              /* to stdout */
void print_hypervisor_types_to(FILE *out);

/* ------------------------------------------------------------------------------------ */
/* CPU virtualization capabilities (facts read from this machine)                        */
/* ------------------------------------------------------------------------------------ */

typedef enum { CAP_UNKNOWN = -1, CAP_NO = 0, CAP_YES = 1 } CapState;

#define CPU_VIRT_MAX_KVM_CAPS 128

typedef struct {
    int number;   /* KVM_CAP_* */
    int value;    /* what KVM_CHECK_EXTENSION returned (> 0) */
} KvmCapValue;

typedef struct {
    /* The seed's view: true only when known supported (CAP_YES below); false when absent
     * or unknown. */
    bool vmx_supported;           /* Intel VT-x: vmx == CAP_YES */
    bool svm_supported;           /* AMD-V: svm == CAP_YES */
    bool ept_supported;           /* Extended Page Tables: ept == CAP_YES */
    bool npt_supported;           /* AMD nested page tables: npt == CAP_YES */
    bool unrestricted_guest;      /* VT-x runs real mode unpaged: unrestricted == CAP_YES */

    char vendor[13];              /* CPUID.0 vendor string */
    char brand[49];               /* CPUID.80000002h-4h */
    bool hypervisor_present;      /* CPUID.1:ECX[31] */
    char hypervisor_vendor[13];   /* CPUID.40000000h, "" when none */
    CapState vmx;                 /* CPUID.1:ECX[5] */
    CapState svm;                 /* CPUID.80000001h:ECX[2] */
    CapState npt;                 /* CPUID.8000000Ah:EDX[0], SVM CPUs only */
    CapState ept;                 /* IA32_VMX_PROCBASED_CTLS2 allowed-1 bit 1 */
    CapState unrestricted;        /* unrestricted guest: IA32_VMX_PROCBASED_CTLS2 allowed-1 bit 7 */
    char msr_status[96];          /* why EPT/UG are unknown, when they are */

    bool kvm_present;             /* /dev/kvm exists */
    bool kvm_usable;              /* opened, API version 12, a VM could be created */
    char kvm_status[128];         /* why not, when not */
    int kvm_api_version;          /* -1 when it could not be read */
    int kvm_num_caps;
    KvmCapValue kvm_caps[CPU_VIRT_MAX_KVM_CAPS];
} CpuVirtCaps;

/* Reads CPUID, the VMX capability MSRs (when /dev/cpu/0/msr is readable) and /dev/kvm.
 * Prints nothing; what cannot be read is CAP_UNKNOWN. */
CpuVirtCaps check_cpu_virt_support(void);
void print_cpu_virt_caps(FILE *out, const CpuVirtCaps *caps);
const char *kvm_cap_name(int cap);   /* "SYNC_REGS", ... or NULL */

/* ------------------------------------------------------------------------------------ */
/* VMX: the VMCS and exit reasons (Intel SDM Vol. 3C, Appendix B and C)                  */
/* ------------------------------------------------------------------------------------ */

typedef enum {
    EXIT_REASON_EXCEPTION_NMI = 0,
    EXIT_REASON_EXTERNAL_INTERRUPT = 1,
    EXIT_REASON_TRIPLE_FAULT = 2,
    EXIT_REASON_INIT_SIGNAL = 3,
    EXIT_REASON_SIPI = 4,
    EXIT_REASON_IO_SMI = 5,
    EXIT_REASON_OTHER_SMI = 6,
    EXIT_REASON_INTERRUPT_WINDOW = 7,
    EXIT_REASON_NMI_WINDOW = 8,
    EXIT_REASON_TASK_SWITCH = 9,
    EXIT_REASON_CPUID = 10,
    EXIT_REASON_GETSEC = 11,
    EXIT_REASON_HLT = 12,
    EXIT_REASON_INVD = 13,
    EXIT_REASON_INVLPG = 14,
    EXIT_REASON_RDPMC = 15,
    EXIT_REASON_RDTSC = 16,
    EXIT_REASON_RSM = 17,
    EXIT_REASON_VMCALL = 18,
    EXIT_REASON_VMCLEAR = 19,
    EXIT_REASON_VMLAUNCH = 20,
    EXIT_REASON_VMPTRLD = 21,
    EXIT_REASON_VMPTRST = 22,
    EXIT_REASON_VMREAD = 23,
    EXIT_REASON_VMRESUME = 24,
    EXIT_REASON_VMWRITE = 25,
    EXIT_REASON_VMXOFF = 26,
    EXIT_REASON_VMXON = 27,
    EXIT_REASON_CR_ACCESS = 28,
    EXIT_REASON_DR_ACCESS = 29,
    EXIT_REASON_IO_INSTRUCTION = 30,
    EXIT_REASON_MSR_READ = 31,
    EXIT_REASON_MSR_WRITE = 32,
    EXIT_REASON_INVALID_GUEST_STATE = 33,
    EXIT_REASON_MSR_LOADING = 34,
    EXIT_REASON_MWAIT_INSTRUCTION = 36,
    EXIT_REASON_MONITOR_TRAP_FLAG = 37,
    EXIT_REASON_MONITOR_INSTRUCTION = 39,
    EXIT_REASON_PAUSE_INSTRUCTION = 40,
    EXIT_REASON_MCE_DURING_VMENTRY = 41,
    EXIT_REASON_TPR_BELOW_THRESHOLD = 43,
    EXIT_REASON_APIC_ACCESS = 44,
    EXIT_REASON_VIRTUALIZED_EOI = 45,
    EXIT_REASON_GDTR_IDTR = 46,
    EXIT_REASON_LDTR_TR = 47,
    EXIT_REASON_EPT_VIOLATION = 48,
    EXIT_REASON_EPT_MISCONFIG = 49,
    EXIT_REASON_INVEPT = 50,
    EXIT_REASON_RDTSCP = 51,
    EXIT_REASON_PREEMPTION_TIMER = 52,
    EXIT_REASON_INVVPID = 53,
    EXIT_REASON_WBINVD = 54,
    EXIT_REASON_XSETBV = 55,
    EXIT_REASON_APIC_WRITE = 56,
    EXIT_REASON_RDRAND = 57,
    EXIT_REASON_INVPCID = 58,
    EXIT_REASON_VMFUNC = 59,
    EXIT_REASON_ENCLS = 60,
    EXIT_REASON_RDSEED = 61,
    EXIT_REASON_PML_FULL = 62,
    EXIT_REASON_XSAVES = 63,
    EXIT_REASON_XRSTORS = 64,
    EXIT_REASON_PCONFIG = 65,
    EXIT_REASON_SPP_EVENT = 66,
    EXIT_REASON_UMWAIT = 67,
    EXIT_REASON_TPAUSE = 68,
    EXIT_REASON_LOADIWKEY = 69,
    EXIT_REASON_ENCLV = 70,
    EXIT_REASON_ENQCMD_PASID_FAILURE = 72,
    EXIT_REASON_ENQCMDS_PASID_FAILURE = 73,
    EXIT_REASON_BUS_LOCK = 74,
    EXIT_REASON_INSTRUCTION_TIMEOUT = 75,
    EXIT_REASON_SEAMCALL = 76,
    EXIT_REASON_TDCALL = 77,
} VmExitReason;

const char *vmx_exit_reason_name(uint32_t basic_reason);  /* "IO_INSTRUCTION", or NULL */
/* The name of a kvm_run exit_reason (KVM_EXIT_IO → "IO", KVM_EXIT_HLT → "HLT"), or NULL. */
const char *kvm_exit_reason_name(uint32_t kvm_exit_reason);

typedef struct {
    uint16_t selector;
    uint64_t base;
    uint32_t limit;
    uint32_t access_rights;   /* VMX format: type, S, DPL, P, AVL, L, D/B, G, unusable (16) */
} VmcsSegment;

/* The readable view of a VMCS. vmcs_read/vmcs_write (software backend) address the
 * fields of guest, host, control and exit by their SDM encodings.
 *
 * The struct starts with the seed's flat view, in the seed's order and types (so a
 * program written against the seed reads them at the seed's offsets): a copy of the
 * fields below, which vmcs_update_seed_view() refreshes; the sim backend calls it after
 * every VM exit, so kvm_vcpu_vmcs(vcpu)->exit_reason is the last exit's reason. */
typedef struct {
    uint64_t guest_cr0;
    uint64_t guest_cr3;
    uint64_t guest_cr4;
    uint64_t guest_rip;
    uint64_t guest_rsp;
    uint64_t guest_rflags;
    uint16_t guest_cs;            /* selectors */
    uint16_t guest_ss;
    uint16_t guest_ds;
    uint16_t guest_es;
    uint64_t guest_cs_base;
    uint64_t guest_ss_base;
    uint64_t host_cr0;
    uint64_t host_cr3;
    uint64_t host_cr4;
    uint64_t host_rip;
    uint64_t host_rsp;
    uint32_t pin_based_controls;
    uint32_t proc_based_controls;     /* primary processor-based controls */
    uint32_t proc_based_controls2;    /* secondary */
    uint64_t ept_pointer;
    uint32_t exit_controls;
    uint32_t exit_reason;             /* the full 32-bit field: basic reason in bits 15:0 */
    uint64_t exit_qualification;
    uint32_t entry_controls;
    uint64_t entry_interrupt_info;    /* VM-entry interruption-information field */

    struct {
        uint64_t cr0, cr3, cr4, dr7;
        uint64_t rsp, rip, rflags;
        VmcsSegment es, cs, ss, ds, fs, gs, ldtr, tr;
        uint64_t gdtr_base, idtr_base;
        uint32_t gdtr_limit, idtr_limit;
        uint64_t ia32_debugctl, ia32_pat, ia32_efer;
        uint32_t sysenter_cs;
        uint64_t sysenter_esp, sysenter_eip;
        uint32_t interruptibility_state, activity_state;
        uint64_t pending_debug_exceptions, vmcs_link_pointer;
    } guest;
    struct {
        uint64_t cr0, cr3, cr4, rsp, rip;
        uint16_t cs_selector, ss_selector, ds_selector, es_selector, fs_selector,
            gs_selector, tr_selector;
        uint64_t fs_base, gs_base, tr_base, gdtr_base, idtr_base;
        uint64_t ia32_pat, ia32_efer;
    } host;
    struct {
        uint32_t pin_based, cpu_based, secondary, exit_controls, entry_controls;
        uint32_t exception_bitmap;
        uint64_t io_bitmap_a, io_bitmap_b, msr_bitmap;
        uint64_t tsc_offset;
        uint64_t cr0_guest_host_mask, cr4_guest_host_mask, cr0_read_shadow, cr4_read_shadow;
        uint64_t ept_pointer;
        uint16_t vpid;
        uint32_t entry_interruption_info, entry_exception_error_code, entry_instruction_length;
    } control;
    struct {
        uint32_t reason;
        uint64_t qualification;
        uint64_t guest_linear_address, guest_physical_address;
        uint32_t interruption_info, interruption_error_code;
        uint32_t idt_vectoring_info, idt_vectoring_error_code;
        uint32_t instruction_length, instruction_info;
        uint32_t vm_instruction_error;
    } exit;
} VMCS;

/* The parts of a VMCS field encoding (SDM Vol. 3C 25.11.2): bits 14:13 and 11:10. */
typedef enum {
    VMCS_WIDTH_16 = 0,
    VMCS_WIDTH_64 = 1,
    VMCS_WIDTH_32 = 2,
    VMCS_WIDTH_NATURAL = 3,   /* 64 bits on a 64-bit host */
} VmcsFieldWidth;

typedef enum {
    VMCS_TYPE_CONTROL = 0,
    VMCS_TYPE_EXIT_INFO = 1,  /* VM-exit information: read-only to VMWRITE */
    VMCS_TYPE_GUEST = 2,
    VMCS_TYPE_HOST = 3,
} VmcsFieldType;

/* One field of the VMCS struct: its SDM encoding (Appendix B), its name without the
 * "VMCS_" prefix ("GUEST_RIP"), where the struct keeps it, and the encoding's parts. */
typedef struct {
    uint32_t encoding;
    const char *name;
    size_t offset;            /* offsetof(VMCS, ...) */
    size_t size;              /* bytes of the struct member: 2, 4 or 8 */
    VmcsFieldWidth width;
    VmcsFieldType type;
} VmcsFieldInfo;

/* VMREAD (SDM Vol. 3C 31.3): the field named by `encoding`, zero-extended into *value; a
 * 64-bit field's encoding | 1 reads its high 32 bits. An encoding that names no field of
 * the struct fails with -EINVAL and VM-instruction error 12, which is stored in
 * vmcs->exit.vm_instruction_error (so `vmcs` must not point to a const object). Success
 * leaves vm_instruction_error alone, as VMsucceed does. */
int vmcs_read(const VMCS *vmcs, uint32_t encoding, uint64_t *value);
/* VMWRITE (SDM Vol. 3C 31.3): stores the low 16/32 bits of `value` in a 16/32-bit field,
 * all of it in a 64-bit or natural-width field, or its low 32 bits in the high half of a
 * 64-bit field (encoding | 1). Fails with -EINVAL and VM-instruction error 12 for an
 * unsupported encoding, 13 for a VM-exit information field (read-only). */
int vmcs_write(VMCS *vmcs, uint32_t encoding, uint64_t value);
/* Copies guest, host, control and exit fields into the seed's flat view at the start of
 * the struct. */
void vmcs_update_seed_view(VMCS *vmcs);
/* "GUEST_RIP" for VMCS_GUEST_RIP (the same name for a 64-bit field's high half), or NULL
 * when the encoding names no supported field. */
const char *vmcs_field_name(uint32_t encoding);
/* Every supported field, in encoding order: for i < vmcs_field_count(). NULL past it. */
size_t vmcs_field_count(void);
const VmcsFieldInfo *vmcs_field_at(size_t i);

/* ------------------------------------------------------------------------------------ */
/* The KVM API                                                                           */
/* ------------------------------------------------------------------------------------ */

typedef struct kvm_regs KvmRegs;
typedef struct kvm_segment KvmSegment;
typedef struct kvm_sregs KvmSregs;
typedef struct kvm_userspace_memory_region KvmUserspaceMemoryRegion;
typedef struct kvm_run KvmRun;

typedef enum { HV_BACKEND_AUTO, HV_BACKEND_KVM, HV_BACKEND_SIM } HvBackend;

const char *hv_backend_name(HvBackend b);   /* "auto", "kvm", "sim" */

#define KVM_MAX_MEMORY_REGIONS 32

struct KvmBackendOps;
struct KvmVm;

typedef struct KvmDevice {
    int fd;                       /* /dev/kvm; -1 on the software backend */
    int api_version;              /* KVM_GET_API_VERSION (12) */
    int extensions[64];           /* KVM_CHECK_EXTENSION for capability numbers 0..63 */
    HvBackend backend;            /* HV_BACKEND_KVM or HV_BACKEND_SIM, never AUTO */
    const struct KvmBackendOps *ops;
    void *backend_data;
    struct KvmVm *vms;            /* VMs created on this device, freed by kvm_close */
} KvmDevice;

typedef struct KvmVm {
    int fd;                       /* KVM_CREATE_VM; -1 on the software backend */
    KvmDevice *kvm;
    KvmUserspaceMemoryRegion memory_regions[KVM_MAX_MEMORY_REGIONS];
    int num_regions;
    uint8_t *guest_memory;        /* host address of the first region */
    size_t memory_size;           /* its size */
    void *backend_data;
    struct KvmVm *next;
    struct KvmVcpu *vcpus;
    struct HvMapping *mappings;   /* memory the library mapped for regions */
    struct SimpleVM *owner;       /* the SimpleVM built on this VM (vm_create), or NULL */
    bool kernel_irqchip;          /* kvm_create_irqchip succeeded */
    /* Host writes to guest memory (the sim backend's decoded code must see them). By
     * default the sim backend assumes the host may have written anywhere at every
     * KVM_RUN, as a VMM with its own mapping may (Linux KVM needs no telling), and checks
     * each decoded block against memory before it runs again. An owner that announces its
     * writes sets host_writes_announced: then only a change of host_write_gen (every
     * kvm_guest_ptr, kvm_note_host_write and memory-region change bumps it) costs that. */
    bool host_writes_announced;
    uint64_t host_write_gen;
} KvmVm;

typedef struct KvmVcpu {
    int fd;                       /* KVM_CREATE_VCPU; -1 on the software backend */
    KvmVm *vm;
    int vcpu_id;
    KvmRun *kvm_run;
    size_t kvm_run_size;
    /* The vCPU's registers: valid after every kvm_run(); whatever a caller writes here is
     * loaded into the vCPU before the next entry. */
    KvmRegs regs;
    KvmSregs sregs;
    KvmRegs regs_synced;          /* what the backend last reported, to detect writes */
    KvmSregs sregs_synced;
    void *backend_data;
    struct KvmVcpu *next;
} KvmVcpu;

/* Opens a backend. AUTO is KVM when /dev/kvm is usable, otherwise the software backend
 * (saying so once through the log). */
KvmDevice *kvm_open(void);
KvmDevice *kvm_open_backend(HvBackend b);
/* Whether /dev/kvm can run a VM here; `why` (may be NULL) says why not. */
bool kvm_hw_usable(char *why, size_t why_size);
int kvm_check_extension(KvmDevice *kvm, int cap);   /* >0 supported, 0 not, <0 error */
KvmVm *kvm_create_vm(KvmDevice *kvm);
void kvm_destroy_vm(KvmVm *vm);
/* Maps [guest_addr, guest_addr + size) to host_addr; NULL host_addr: the library maps
 * zeroed memory and frees it with the VM. size 0 deletes the slot. */
int kvm_set_user_memory_region(KvmVm *vm, uint32_t slot, uint64_t guest_addr, uint64_t size,
                               void *host_addr);
int kvm_set_user_memory_region_flags(KvmVm *vm, uint32_t slot, uint32_t flags,
                                     uint64_t guest_addr, uint64_t size, void *host_addr);
/* Host address of guest-physical [gpa, gpa + len) when one memory region backs all of it,
 * else NULL. The caller may write there until the next KVM_RUN (a pointer kept across
 * runs needs kvm_note_host_write after a later write, when host_writes_announced). */
void *kvm_guest_ptr(KvmVm *vm, uint64_t gpa, size_t len);
/* kvm_guest_ptr without the read-only (KVM_MEM_READONLY) slots: guest memory the guest
 * itself could write, for the VMM's writes on the guest's behalf (DMA, firmware services). */
void *kvm_guest_ptr_writable(KvmVm *vm, uint64_t gpa, size_t len);
/* The host wrote guest-physical [gpa, gpa + len) through a pointer it kept (or its own
 * mapping): the next KVM_RUN drops decoded code that changed there. */
void kvm_note_host_write(KvmVm *vm, uint64_t gpa, uint64_t len);
/* A vCPU in the initial state: real mode, segment selectors and bases 0, limits 0xFFFF,
 * RIP 0x7C00, RFLAGS 0x2. */
KvmVcpu *kvm_create_vcpu(KvmVm *vm, int vcpu_id);
void kvm_destroy_vcpu(KvmVcpu *vcpu);
int kvm_set_regs(KvmVcpu *vcpu, const KvmRegs *regs);
int kvm_get_regs(KvmVcpu *vcpu, KvmRegs *regs);
int kvm_set_sregs(KvmVcpu *vcpu, const KvmSregs *sregs);
int kvm_get_sregs(KvmVcpu *vcpu, KvmSregs *sregs);
/* One KVM_RUN: enters the guest until the next exit, described in vcpu->kvm_run.
 * A signal or immediate_exit ends it with exit_reason KVM_EXIT_INTR and returns 0. */
int kvm_run(KvmVcpu *vcpu);
/* From any thread: a kvm_run() in progress returns soon with KVM_EXIT_INTR, and so does
 * the next one, at once, until the caller clears kvm_run->immediate_exit. */
void kvm_vcpu_kick(KvmVcpu *vcpu);
/* KVM_INTERRUPT, with the interrupt controller in user space: `irq` (0-255) is latched and
 * injected at the first entry where the guest can take it (IF=1, no STI/MOV SS shadow).
 * Only when kvm_run->ready_for_interrupt_injection says so; -EEXIST while one is still
 * latched. With kvm_run->request_interrupt_window = 1 the next KVM_RUN ends with
 * KVM_EXIT_IRQ_WINDOW_OPEN as soon as the guest can take one. */
int kvm_interrupt(KvmVcpu *vcpu, uint32_t irq);
/* KVM only, before the first vCPU: KVM_CREATE_IRQCHIP and KVM_CREATE_PIT2 (PIC pair, IOAPIC,
 * LAPIC and PIT in the kernel, which also handles HLT). -ENOTSUP on sim. Then interrupt
 * lines go through KVM_IRQ_LINE, and the kernel's state is read with KVM_GET_IRQCHIP
 * (chip_id 0 master PIC, 1 slave, 2 IOAPIC) and KVM_GET_LAPIC. */
int kvm_create_irqchip(KvmVm *vm);
int kvm_irq_line(KvmVm *vm, uint32_t irq, int level);
int kvm_get_irqchip(KvmVm *vm, struct kvm_irqchip *chip);
int kvm_get_lapic(KvmVcpu *vcpu, struct kvm_lapic_state *lapic);
/* KVM_NMI: a non-maskable interrupt, delivered at the next instruction boundary outside an
 * NMI handler. */
int kvm_nmi(KvmVcpu *vcpu);
/* Software backend: the A20 gate (physical address bit 20 masked while closed). Linux KVM
 * has no A20 gate (-ENOTSUP): there it is always open. */
int kvm_vcpu_set_a20(KvmVcpu *vcpu, bool enabled);
/* The software backend's count of retired guest instructions (the virtual clock of
 * --clock virtual); -ENOTSUP on KVM. */
int kvm_vcpu_icount(KvmVcpu *vcpu, uint64_t *count);
/* Software backend: the run ends (KVM_EXIT_INTR, a VMX-preemption-timer exit in the VMCS)
 * once the icount reaches `count`, exactly; UINT64_MAX: never. -ENOTSUP on KVM. */
int kvm_vcpu_set_icount_deadline(KvmVcpu *vcpu, uint64_t count);
/* Software backend: the clock its kernel counts guest time on (the TSC at 2 GHz, kvm-clock,
 * halted time included), instead of the host's CLOCK_MONOTONIC: now_ns(opaque) in
 * nanoseconds, never going back; kvm-clock and every vCPU's TSC restart at 0 at this call,
 * and `wall_ns` (ns since 1970) is the wall-clock time then (MSR_KVM_WALL_CLOCK_NEW). Call
 * it before the first kvm_run; now_ns is called on the vCPU's thread. -ENOTSUP on KVM. */
int kvm_vm_set_clock(KvmVm *vm, uint64_t (*now_ns)(void *opaque), void *opaque,
                     uint64_t wall_ns);
/* KVM_GET_MSRS / KVM_SET_MSRS: the number of entries done (stopping at the first MSR the
 * kernel refuses), or a negative errno; host-initiated, so e.g. IA32_TSC reads the TSC
 * now. kvm_vcpu_get_msr / kvm_vcpu_set_msr: one MSR, 0 or a negative errno. */
int kvm_vcpu_get_msrs(KvmVcpu *vcpu, struct kvm_msrs *msrs);
int kvm_vcpu_set_msrs(KvmVcpu *vcpu, struct kvm_msrs *msrs);
int kvm_vcpu_get_msr(KvmVcpu *vcpu, uint32_t index, uint64_t *value);
int kvm_vcpu_set_msr(KvmVcpu *vcpu, uint32_t index, uint64_t value);
/* KVM_GET_TSC_KHZ: the guest TSC's rate in kHz (2000000 on the software backend). */
int kvm_vcpu_tsc_khz(KvmVcpu *vcpu);
/* KVM_GET_CPUID2, one entry: what CPUID (EAX = function, ECX = index) reports in the guest
 * into out[] (EAX, EBX, ECX, EDX). 0, or -ENOENT when the vCPU has no such leaf. */
int kvm_vcpu_get_cpuid(KvmVcpu *vcpu, uint32_t function, uint32_t index, uint32_t out[4]);
/* KVM_SET_GUEST_DEBUG with `control` KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP: each
 * kvm_run() then executes at most one guest instruction and ends with KVM_EXIT_DEBUG
 * (after any I/O or MMIO exit the instruction makes, which the next kvm_run completes).
 * 0 turns single-stepping off. -EINVAL for other control bits. */
int kvm_set_guest_debug(KvmVcpu *vcpu, uint32_t control);
/* KVM_SET_GUEST_DEBUG with the whole struct, Linux's semantics on both backends:
 * - KVM_GUESTDBG_USE_SW_BP: a guest INT3 (CC) is not delivered; the run ends with
 *   KVM_EXIT_DEBUG, debug.arch.exception 3, RIP and debug.arch.pc at the INT3;
 * - KVM_GUESTDBG_USE_HW_BP: arch.debugreg[0-3] are linear addresses and debugreg[7] their
 *   DR7 enables, R/W and LEN (SDM Vol. 3A, 18.2.4); a hit ends the run with KVM_EXIT_DEBUG,
 *   exception 1 and debug.arch.dr6 B0-B3 saying which (instruction: RIP at it; data: past
 *   the access);
 * - KVM_GUESTDBG_SINGLESTEP as kvm_set_guest_debug;
 * - KVM_GUESTDBG_SIM_MAGIC_BREAK (sim only, -EINVAL on KVM, which cannot trap it): Bochs's
 *   magic breakpoint XCHG BX,BX ends the run after it with KVM_EXIT_DEBUG and exception
 *   KVM_DEBUG_EXCEPTION_MAGIC_BREAK. */
#define KVM_GUESTDBG_SIM_MAGIC_BREAK (1u << 30)
#define KVM_DEBUG_EXCEPTION_MAGIC_BREAK 0x100u   /* not a vector: no exception happened */
int kvm_set_guest_debug2(KvmVcpu *vcpu, const struct kvm_guest_debug *dbg);
/* An interrupt or exception as the vCPU delivers it: the state just before delivery
 * (RIP at the faulting or INT instruction). */
typedef struct {
    int vector;
    bool software;                /* INT n, INT3, INTO */
    bool has_error_code;
    uint32_t error_code;
    KvmRegs regs;
    KvmSregs sregs;
} KvmEventInfo;
typedef void (*KvmEventFn)(void *opaque, const KvmEventInfo *event);
/* The software backend calls fn (NULL: off) from the vCPU's thread for every interrupt and
 * exception it delivers (QEMU's -d int). -ENOTSUP on KVM, which delivers events inside the
 * kernel where user space cannot see them. */
int kvm_vcpu_set_event_hook(KvmVcpu *vcpu, KvmEventFn fn, void *opaque);
/* The software backend's VMCS of this vCPU as of its last exit (guest state, exit reason,
 * qualification, ...); NULL on KVM, whose VMCS user space cannot see. */
const VMCS *kvm_vcpu_vmcs(KvmVcpu *vcpu);
/* Why the software backend's last run could not go on (the reason behind an
 * INTERNAL_ERROR or FAIL_ENTRY exit); "" when there is none or on KVM. */
const char *kvm_vcpu_exit_note(KvmVcpu *vcpu);
/* The software backend's instruction limit (--max-insns): once the vCPU has retired
 * `limit` guest instructions in all (an exception delivery counts as one), kvm_run()
 * returns KVM_EXIT_INTR, at once and at every later run, with the VMCS recording a
 * VMX-preemption-timer exit (reason 52: the timer counts instructions here). 0 removes
 * the limit. -ENOTSUP on KVM, which has no such count. */
int kvm_vcpu_set_instruction_limit(KvmVcpu *vcpu, uint64_t limit);
/* Guest instructions the software backend's vCPU has retired (0 on KVM), and whether
 * its instruction limit stopped the last run. */
uint64_t kvm_vcpu_instructions_retired(KvmVcpu *vcpu);
bool kvm_vcpu_instruction_limit_reached(KvmVcpu *vcpu);
/* Closes the device and frees every VM and vCPU created on it. */
void kvm_close(KvmDevice *kvm);
/* Dirty-page log of a slot created with KVM_MEM_LOG_DIRTY_PAGES: one bit per 4 KiB page,
 * returned and cleared. */
int kvm_get_dirty_log(KvmVm *vm, uint32_t slot, uint64_t *bitmap);
/* Coalesced MMIO (KVM_CAP_COALESCED_MMIO, Documentation/virt/kvm/api.rst): guest writes
 * that fall wholly inside a registered zone do not exit; the kernel appends them (address,
 * length, data) to a ring the VMM drains in order, and exits as usual only when the ring
 * is full. Reads in a zone exit as usual. -ENOTSUP when the backend has no such
 * capability, -EINVAL for an empty or wrapping zone, -ENOBUFS for too many zones.
 * Unregistering drops every zone that holds all of [addr, addr + size), as Linux does
 * (a range wider than a zone leaves that zone registered). */
int kvm_register_coalesced_mmio(KvmVm *vm, uint64_t addr, uint32_t size);
int kvm_unregister_coalesced_mmio(KvmVm *vm, uint64_t addr, uint32_t size);
/* The ring of coalesced writes (struct kvm_coalesced_mmio_ring at
 * KVM_COALESCED_MMIO_PAGE_OFFSET pages into the vCPU's kvm_run mapping): entries
 * [first, last) modulo KVM_COALESCED_MMIO_RING_MAX are pending; the kernel writes `last`,
 * the VMM `first`. NULL when the backend has none. */
struct kvm_coalesced_mmio_ring *kvm_coalesced_mmio_ring(KvmVcpu *vcpu);
/* Entries in a ring of one 4 KiB page (KVM_COALESCED_MMIO_MAX with PAGE_SIZE 4096). */
#define KVM_COALESCED_MMIO_RING_MAX \
    ((4096 - sizeof(struct kvm_coalesced_mmio_ring)) / sizeof(struct kvm_coalesced_mmio))
/* Hands the pending entries of `ring`, oldest first, to write(opaque, gpa, len, data) and
 * marks them consumed. Returns how many there were. */
unsigned kvm_coalesced_mmio_drain(struct kvm_coalesced_mmio_ring *ring,
                                  void (*write)(void *opaque, uint64_t gpa, uint32_t len,
                                                uint64_t data),
                                  void *opaque);

/* ------------------------------------------------------------------------------------ */
/* EPT (Intel SDM Vol. 3C, "VMX Support for Address Translation")                        */
/* ------------------------------------------------------------------------------------ */

/* The software backend's extended page tables (src/sim/ept.c). They are real tables: 512
 * eight-byte entries per 4 KiB table, with the SDM's entry formats (Vol. 3C, "EPT
 * Translation Mechanism", tables of EPT PML4E/PDPTE/PDE/PTE formats). In the simulator a
 * host-physical address is a host virtual address, so the address field of a non-leaf
 * entry points at the next EptTable and the tables can be walked from C starting at
 * `pml4`. Leaves hold the host address given to ept_map_*.
 *
 * Model choices (what the sim would report in IA32_VMX_EPT_VPID_CAP, ept_vpid_capabilities):
 * page-walk length 4, UC and WB memory types, 2 MiB and 1 GiB pages, accessed/dirty flags,
 * execute-only translations (on by default; ept_set_execute_only turns the capability off
 * to model a processor without it). The physical-address width is EPT_MAXPHYADDR (48):
 * address bits 51:48 of an entry are reserved, and host addresses must be below 2^48.
 *
 * Not thread-safe: the sim kernel serialises updates against its vCPUs. */

/* Entry bits (SDM Vol. 3C, "EPT Translation Mechanism", Tables "Format of an EPT ...") */
#define EPT_READ              (1u << 0)
#define EPT_WRITE             (1u << 1)
#define EPT_EXECUTE           (1u << 2)
#define EPT_PERM_MASK         (EPT_READ | EPT_WRITE | EPT_EXECUTE)
#define EPT_MEMORY_TYPE_MASK  (7u << 3)
#define EPT_MEMORY_TYPE_UC    (0u << 3)
#define EPT_MEMORY_TYPE_WC    (1u << 3)
#define EPT_MEMORY_TYPE_WT    (4u << 3)
#define EPT_MEMORY_TYPE_WP    (5u << 3)
#define EPT_MEMORY_TYPE_WB    (6u << 3)
#define EPT_MEMORY_TYPE_SHIFT 3
#define EPT_IGNORE_PAT        (1u << 6)
#define EPT_LARGE_PAGE        (1u << 7)
#define EPT_ACCESSED          (1u << 8)   /* when EPTP bit 6 enables accessed/dirty flags */
#define EPT_DIRTY             (1u << 9)   /* leaves only */
/* Bit 52 is ignored by the processor in every EPT entry format; the module uses it to mark
 * a leaf whose write permission it removed for dirty logging (restored on the first write,
 * ept_handle_violation). */
#define EPT_SW_DIRTY_WP       (1ull << 52)
#define EPT_ADDR_MASK         0x000FFFFFFFFFF000ull   /* bits 51:12 */
#define EPT_MAXPHYADDR        48
#define EPT_ADDR_RESERVED_MASK (EPT_ADDR_MASK & ~((1ull << EPT_MAXPHYADDR) - 1)) /* 51:48 */

#define EPT_ENTRIES_PER_TABLE 512
#define EPT_PAGE_SIZE_4K      0x1000ull
#define EPT_PAGE_SIZE_2M      0x200000ull
#define EPT_PAGE_SIZE_1G      0x40000000ull
#define EPT_GPA_LIMIT         (1ull << 48)   /* a four-level walk translates 48 bits */

/* EPTP (SDM Vol. 3C, "Extended-Page-Table Pointer (EPTP)") */
#define EPTP_MEMORY_TYPE_WB   6ull           /* bits 2:0 */
#define EPTP_WALK_LENGTH_SHIFT 3             /* bits 5:3: page-walk length minus one */
#define EPTP_WALK_LENGTH_4    (3ull << EPTP_WALK_LENGTH_SHIFT)
#define EPTP_ACCESSED_DIRTY   (1ull << 6)

/* IA32_VMX_EPT_VPID_CAP, EPT bits (SDM Vol. 3D, Appendix A.10) */
#define MSR_IA32_VMX_EPT_VPID_CAP      0x48C
#define VMX_EPT_CAP_EXECUTE_ONLY       (1ull << 0)
#define VMX_EPT_CAP_WALK_LENGTH_4      (1ull << 6)
#define VMX_EPT_CAP_MEMORY_TYPE_UC     (1ull << 8)
#define VMX_EPT_CAP_MEMORY_TYPE_WB     (1ull << 14)
#define VMX_EPT_CAP_PAGE_2M            (1ull << 16)
#define VMX_EPT_CAP_PAGE_1G            (1ull << 17)
#define VMX_EPT_CAP_ACCESSED_DIRTY     (1ull << 21)

/* What ept_translate is asked for: the access of the violation qualification bits 2:0. */
#define EPT_ACCESS_READ  1u
#define EPT_ACCESS_WRITE 2u
#define EPT_ACCESS_EXEC  4u

/* ept_translate results (errors are negative errnos). */
#define EPT_OK        0
#define EPT_VIOLATION 1
#define EPT_MISCONFIG 2

/* Exit qualification for EPT violations (SDM Vol. 3C, 28.2.1, Table "Exit Qualification
 * for EPT Violations"). */
#define EPTQ_READ             (1ull << 0)   /* the access was a data read */
#define EPTQ_WRITE            (1ull << 1)   /* a data write */
#define EPTQ_FETCH            (1ull << 2)   /* an instruction fetch */
#define EPTQ_ACCESS_MASK      (EPTQ_READ | EPTQ_WRITE | EPTQ_FETCH)
#define EPTQ_READABLE         (1ull << 3)   /* AND of bit 0 of the entries walked */
#define EPTQ_WRITABLE         (1ull << 4)   /* AND of bit 1 */
#define EPTQ_EXECUTABLE       (1ull << 5)   /* AND of bit 2 */
#define EPTQ_PERM_SHIFT       3
#define EPTQ_LINEAR_VALID     (1ull << 7)   /* set by the caller: a linear address exists */
#define EPTQ_TRANSLATION      (1ull << 8)   /* set by the caller: final translation access */

typedef struct {
    uint64_t entries[512];
} EptTable;

struct EptDirtyRange;

typedef struct {
    EptTable *pml4;               /* host address of the PML4 (4 KiB aligned) */
    size_t guest_phys_size;       /* the RAM size given to ept_create (informational) */
    uint8_t *host_memory_base;    /* the caller's; the module does not use it */
    size_t table_count;           /* tables allocated, PML4 included */
    uint64_t generation;          /* bumped by every change that can invalidate a TLB entry */
    bool accessed_dirty;          /* EPTP bit 6 */
    bool execute_only;            /* the execute-only capability (default true) */
    struct EptDirtyRange *dirty_ranges;   /* ranges being dirty-logged (private) */
    size_t dirty_range_count;
} EptContext;

/* An empty set of tables (a zeroed PML4); NULL on allocation failure or a size past 2^48.
 * guest_memory_size is kept for reports; mappings may lie anywhere below 2^48. */
/* The software backend's EPT of this VM (its memory slots as EPT mappings); NULL on KVM,
 * where the host kernel owns the real EPT. */
EptContext *kvm_vm_ept(KvmVm *vm);
EptContext *ept_create(size_t guest_memory_size);
/* Frees every table, the dirty log and the context. NULL is ignored. */
void ept_destroy(EptContext *ept);
/* Maps one 4 KiB page gpa → hpa, write-back, with `permissions` (EPT_READ|EPT_WRITE|
 * EPT_EXECUTE, 0..7, stored as given: 0 is a not-present leaf, W-only a misconfiguration).
 * Replaces what was there (splitting a large page around it). Addresses 4 KiB aligned,
 * gpa and hpa below 2^48. -EINVAL, -ENOMEM. In a dirty-logged range W is withheld until the
 * first write. */
int ept_map_page(EptContext *ept, uint64_t guest_phys, uint64_t host_phys, uint32_t permissions);
/* Maps [gpa, gpa + size) → [hpa, ...) using 1 GiB and 2 MiB pages wherever both addresses
 * and the remaining size allow (and no dirty-logged range is involved), 4 KiB elsewhere.
 * On -ENOMEM the pages mapped so far stay mapped. */
int ept_map_range(EptContext *ept, uint64_t gpa, uint64_t hpa, uint64_t size,
                  uint32_t permissions);
/* Unmaps [gpa, gpa + size) (4 KiB aligned), splitting large pages that straddle its ends and
 * freeing tables that become empty. Unmapped holes in the range are fine. */
int ept_unmap(EptContext *ept, uint64_t gpa, uint64_t size);
/* Translates gpa for `access` (EPT_ACCESS_* mask, 1..7): EPT_OK with *hpa; EPT_VIOLATION
 * with *exit_qualification bits 5:0 (SDM 28.2.1; bits 7 and 8 are the caller's);
 * EPT_MISCONFIG (qualification 0). A misconfigured entry found on the walk wins over
 * permissions; a not-present entry ends the walk (a violation, bits 5:3 = 0). When
 * accessed/dirty flags are enabled a successful translation sets A in every entry walked
 * and D in the leaf for writes; a violation sets nothing (a model choice). Callers: pass
 * EPT_ACCESS_WRITE for guest paging-structure accesses when A/D is on (the SDM treats them
 * as writes), and cache a writable translation only from a write translation, so that D
 * is set. hpa and exit_qualification may be NULL. -EINVAL for a NULL context, a bad access
 * or gpa >= 2^48. No allocation: a straight four-level walk. */
int ept_translate(EptContext *ept, uint64_t gpa, uint32_t access, uint64_t *hpa,
                  uint64_t *exit_qualification);
/* The kernel's part of an EPT violation at gpa (qualification bits 2:0 give the access):
 * 0 when resolved here (a write to a page write-protected for dirty logging: the page is
 * marked dirty and writable again; or the access already translates), -EFAULT when the
 * access belongs to the VMM (MMIO, a read-only mapping, a misconfiguration), -EINVAL for bad
 * arguments. */
int ept_handle_violation(EptContext *ept, uint64_t guest_phys, uint64_t exit_qualification);
/* The EPTP: PML4 address | WB (bits 2:0) | walk length 4 - 1 (bits 5:3) | A/D (bit 6). */
uint64_t ept_pointer(const EptContext *ept);
/* EPTP bit 6: whether translations set accessed and dirty flags (SDM Vol. 3C, "Accessed and Dirty Flags for
 * EPT"). */
void ept_enable_accessed_dirty(EptContext *ept, bool enable);
/* Whether an X-only entry (bits 2:0 = 100b) is allowed or a misconfiguration. */
void ept_set_execute_only(EptContext *ept, bool supported);
/* The EPT bits of IA32_VMX_EPT_VPID_CAP this context implements (VMX_EPT_CAP_*). */
uint64_t ept_vpid_capabilities(const EptContext *ept);
size_t ept_table_count(const EptContext *ept);
uint64_t ept_generation(const EptContext *ept);
/* Starts logging writes to [gpa, gpa + size): splits large pages there into 4 KiB ones and
 * write-protects every writable page. -EEXIST when it overlaps a logged range. */
int ept_log_dirty_start(EptContext *ept, uint64_t gpa, uint64_t size);
/* Stops logging a range given exactly as to ept_log_dirty_start (-ENOENT otherwise) and
 * gives write-protected pages their write permission back. */
int ept_log_dirty_stop(EptContext *ept, uint64_t gpa, uint64_t size);
/* One bit per 4 KiB page of [gpa, gpa + size) into bitmap ((pages + 63) / 64 words, whole
 * words written): the pages written since the last call, cleared as returned; the pages
 * reported are write-protected again. Every page must be in a logged range (-ENOENT). */
int ept_get_dirty_log(EptContext *ept, uint64_t gpa, uint64_t size, uint64_t *bitmap);

/* ------------------------------------------------------------------------------------ */
/* Buses and devices                                                                     */
/* ------------------------------------------------------------------------------------ */

/* Port I/O: `port` is the absolute port, `size` 1, 2 or 4. Return 0 or a negative errno. */
typedef int (*IoReadFn)(uint16_t port, uint8_t size, uint32_t *value, void *opaque);
typedef int (*IoWriteFn)(uint16_t port, uint8_t size, uint32_t value, void *opaque);
/* MMIO: `addr` is the absolute guest-physical address, `size` 1, 2, 4 or 8. */
typedef int (*MmioReadFn)(uint64_t addr, uint8_t size, uint64_t *value, void *opaque);
typedef int (*MmioWriteFn)(uint64_t addr, uint8_t size, uint64_t value, void *opaque);

/* The handler types keep the project's convention (0 or -errno, DESIGN.md) where the
 * seed's return bool: the device functions below (serial_io_read, ...) follow them. */
typedef struct {
    uint16_t base;
    uint16_t length;   /* ports [base, base + length); 0: the seed's [port, port + size) */
    IoReadFn read;     /* NULL: reads as all ones */
    IoWriteFn write;   /* NULL: writes are dropped */
    void *opaque;
    const char *name;
    /* The seed's names for the range (initialize by name: .base/.length or .port/.size).
     * The bus fills both pairs in what it lists (io_bus_handlers); size is 0 for a range
     * of more than 255 ports. */
    uint16_t port;
    uint8_t size;
} IoPortHandler;

typedef struct {
    uint64_t base;
    uint64_t length;   /* bytes [base, base + length); 0: the seed's size */
    MmioReadFn read;
    MmioWriteFn write;
    void *opaque;
    const char *name;
    uint64_t size;     /* the seed's name for length; the bus fills both */
} MmioHandler;

typedef struct IoBus IoBus;
typedef struct MmioBus MmioBus;

IoBus *io_bus_create(void);
void io_bus_destroy(IoBus *bus);
/* Copies *h; -EEXIST when the range overlaps one already registered, -EINVAL when empty
 * or past port 0xFFFF. */
int io_bus_register(IoBus *bus, const IoPortHandler *h);
/* Removes the range that starts at `base` and was registered with `opaque` (its owner):
 * 0, or -ENOENT. Like registration, not locked against dispatch: call it from the thread
 * that runs the vCPU (a device's own handler may, e.g. a PCI BAR moving), or while the
 * vCPU is paused. */
int io_bus_unregister(IoBus *bus, uint16_t base, const void *opaque);
/* The handlers registered, sorted by first port (length filled in): valid until the next
 * registration or unregistration. *count gets how many. */
IoPortHandler *io_bus_handlers(IoBus *bus, size_t *count);
/* Unknown ports read as all ones and drop writes; both are counted. */
int io_bus_in(IoBus *bus, uint16_t port, uint8_t size, uint32_t *value);
int io_bus_out(IoBus *bus, uint16_t port, uint8_t size, uint32_t value);
uint64_t io_bus_unhandled_count(const IoBus *bus);

MmioBus *mmio_bus_create(void);
void mmio_bus_destroy(MmioBus *bus);
int mmio_bus_register(MmioBus *bus, const MmioHandler *h);
/* As io_bus_unregister: the range at `base` owned by `opaque`; 0 or -ENOENT. */
int mmio_bus_unregister(MmioBus *bus, uint64_t base, const void *opaque);
MmioHandler *mmio_bus_handlers(MmioBus *bus, size_t *count);
int mmio_bus_read(MmioBus *bus, uint64_t addr, uint8_t size, uint64_t *value);
int mmio_bus_write(MmioBus *bus, uint64_t addr, uint8_t size, uint64_t value);
uint64_t mmio_bus_unhandled_count(const MmioBus *bus);

/* An interrupt line from a device to an interrupt controller: the device calls
 * irq_line_set(line, level) and never knows which controller (or which pin) is behind it;
 * the VM wires every line in one place (src/vmm/platform.c). An unwired line (set NULL)
 * goes nowhere. Level 1 is asserted; edge-triggered inputs see the 0 -> 1 transitions. */
typedef void (*IrqSetFn)(void *opaque, int line, int level);
typedef struct {
    IrqSetFn set;
    void *opaque;                 /* the controller */
    int line;                     /* its input pin */
} IrqLine;

static inline void irq_line_set(const IrqLine *l, int level)
{
    if (l && l->set)
        l->set(l->opaque, l->line, level);
}

/* 16550A UART. */
#define COM1_BASE 0x3F8
#define SERIAL_INPUT_CAPACITY 4096

typedef struct SerialPort {
    uint16_t base;
    uint8_t rbr, thr, ier, iir, lcr, mcr, lsr, msr;
    uint8_t scr, fcr, dll, dlm;
    char output_buffer[256];      /* the latest bytes the guest sent, a ring */
    size_t output_pos;            /* index of the next byte in output_buffer */
    uint64_t output_total;        /* bytes the guest sent in all */
    int output_fd;                /* where transmitted bytes go; -1: nowhere */
    const int *output_cancel;     /* non-zero: stop waiting for a full output_fd (NULL) */
    /* Received bytes waiting for the guest (host input, or loopback). */
    uint8_t input[SERIAL_INPUT_CAPACITY];
    size_t input_head, input_count;
    bool thr_interrupt_pending;
    void *lock;                   /* the device is shared by the vCPU and input threads */
    /* INTR output (IRQ4 for COM1): an interrupt identified in IIR, gated by MCR OUT2 as
     * on the PC's serial adapters. Set by the VM that wires it; unwired: nowhere. */
    IrqLine irq;
    bool irq_level;
} SerialPort;

SerialPort *serial_create(void);                       /* COM1, output nowhere */
SerialPort *serial_create_at(uint16_t base, int output_fd);
int serial_io_read(uint16_t port, uint8_t size, uint32_t *value, void *opaque);
int serial_io_write(uint16_t port, uint8_t size, uint32_t value, void *opaque);
/* Host → guest: queues bytes for the receiver; returns how many fit. Thread-safe. */
size_t serial_receive(SerialPort *sp, const uint8_t *data, size_t len);
/* Copies the latest min(n, 256, output_total) transmitted bytes, oldest first. */
size_t serial_output_latest(SerialPort *sp, char *buf, size_t n);
void serial_destroy(SerialPort *sp);

/* VGA text mode: 80x25 cells of (character, attribute) at 0xB8000 (MMIO), cursor through
 * CRTC index/data ports 0x3D4/0x3D5 (registers 0x0E/0x0F). */
#define VGA_TEXT_BASE 0xB8000
#define VGA_TEXT_SIZE 0x8000
#define VGA_GRAPHICS_BASE 0xA0000
#define VGA_GRAPHICS_SIZE 0x10000
#define VGA_COLS 80
#define VGA_ROWS 25
#define VGA_CRTC_INDEX 0x3D4
#define VGA_CRTC_DATA 0x3D5
#define VGA_INPUT_STATUS 0x3DA

typedef struct VgaDevice {
    uint8_t *vram;                /* VGA_TEXT_SIZE bytes */
    uint8_t *graphics;            /* VGA_GRAPHICS_SIZE bytes at 0xA0000 (mode 13h) */
    int cursor_x, cursor_y;
    uint8_t crtc_index;
    uint8_t crtc[25];
    bool written;                 /* the guest has written the screen */
    uint8_t input_status1;        /* port 0x3DA: retrace bits 0 and 3 toggle on each read */
} VgaDevice;

VgaDevice *vga_create(void);
int vga_mmio_read(uint64_t addr, uint8_t size, uint64_t *value, void *opaque);
int vga_mmio_write(uint64_t addr, uint8_t size, uint64_t value, void *opaque);
int vga_io_read(uint16_t port, uint8_t size, uint32_t *value, void *opaque);
/* The 64 KiB graphics window at 0xA0000 (mode 13h's 320x200 bytes): plain memory. */
int vga_graphics_mmio_read(uint64_t addr, uint8_t size, uint64_t *value, void *opaque);
int vga_graphics_mmio_write(uint64_t addr, uint8_t size, uint64_t value, void *opaque);
void vga_clear_graphics(VgaDevice *vga);
int vga_io_write(uint16_t port, uint8_t size, uint32_t value, void *opaque);
/* The screen as 25 lines of text (code page 437 shown as UTF-8, trailing blanks cut). */
void vga_display(VgaDevice *vga);                       /* to stdout */
void vga_display_to(VgaDevice *vga, FILE *out);
/* One row (0..24) as UTF-8, trailing blanks cut, NUL-terminated in buf; a row needs at
 * most VGA_ROW_UTF8_MAX bytes. Stops before a character that would not fit. Returns the
 * length (0 for a bad row). */
#define VGA_ROW_UTF8_MAX (VGA_COLS * 3 + 1)
size_t vga_render_row(const VgaDevice *vga, int row, char *buf, size_t size);
void vga_destroy(VgaDevice *vga);
/* The Unicode character of code page 437's code c, as the VGA character ROM draws it. */
uint16_t vga_cp437_unicode(uint8_t c);
/* The text screen as a picture (src/dev/vga_png.c): 80x25 cells of 9x16 pixels (720x400,
 * VGA mode 3's dot clock: the 9th column repeats the 8th for C0h-DFh, the line-drawing
 * characters), the 16-colour palette, glyphs from an 8-pixel-wide PSF console font read
 * at run time: font_path, else $SCRATCHVM_VGA_FONT, else VGA_DEFAULT_FONT (Debian's
 * console-setup-linux). Written as PNG (libpng) or, with ppm true, binary PPM. 0, or a
 * negative errno with hv_last_error(). */
#define VGA_DEFAULT_FONT "/usr/share/consolefonts/Uni2-VGA16.psf.gz"
int vga_screendump(const VgaDevice *vga, const char *path, const char *font_path, bool ppm);

/* QEMU's isa-debug-exit at port 0xF4 (a write of V ends the VM with status (V << 1) | 1)
 * and the 0xE9 debug console (bytes written go to the console; reads return 0xE9). */
#define DEBUG_EXIT_PORT 0xF4
#define DEBUG_CONSOLE_PORT 0xE9

typedef struct DebugExit {
    bool exited;
    uint32_t value;               /* what the guest wrote */
    int console_fd;               /* 0xE9 output; -1: nowhere */
    const int *output_cancel;     /* non-zero: stop waiting for a full console_fd (NULL) */
    uint16_t console_port2;       /* a second console port (vm_add_debugcon_port), or 0 */
} DebugExit;

DebugExit *debug_exit_create(int console_fd);
int debug_exit_io_read(uint16_t port, uint8_t size, uint32_t *value, void *opaque);
int debug_exit_io_write(uint16_t port, uint8_t size, uint32_t value, void *opaque);
void debug_exit_destroy(DebugExit *d);

/* QEMU's fw_cfg, traditional I/O interface (src/dev/fw_cfg.c): selector 0x510, data
 * 0x511. */
#define FW_CFG_PORT_SELECTOR 0x510
#define FW_CFG_PORT_DATA 0x511
#define FW_CFG_SIGNATURE 0x0000
#define FW_CFG_ID 0x0001
#define FW_CFG_RAM_SIZE 0x0003
#define FW_CFG_NB_CPUS 0x0005
#define FW_CFG_MAX_CPUS 0x000F
#define FW_CFG_FILE_DIR 0x0019
#define FW_CFG_FILE_FIRST 0x0020
#define FW_CFG_ID_TRADITIONAL 0x1
#define FW_CFG_MAX_FILES 16
#define FW_CFG_FILE_NAME 56

typedef struct {
    char name[FW_CFG_FILE_NAME];
    uint8_t *data;
    uint32_t size;
} FwCfgFile;

typedef struct FwCfg {
    uint16_t selector;
    uint32_t offset;              /* the next byte of the selected item */
    uint64_t ram_size;
    uint16_t cpus;
    FwCfgFile files[FW_CFG_MAX_FILES];
    int num_files;
} FwCfg;

FwCfg *fw_cfg_create(uint64_t ram_size, uint16_t cpus);
/* FW_CFG_NB_CPUS and FW_CFG_MAX_CPUS (vm_set_cpus). */
void fw_cfg_set_cpus(FwCfg *fw, uint16_t cpus);
/* A file in the directory (selector FW_CFG_FILE_FIRST + n); the data is copied. */
int fw_cfg_add_file(FwCfg *fw, const char *name, const void *data, uint32_t size);
int fw_cfg_io_read(uint16_t port, uint8_t size, uint32_t *value, void *opaque);
int fw_cfg_io_write(uint16_t port, uint8_t size, uint32_t value, void *opaque);
void fw_cfg_destroy(FwCfg *fw);

/* QEMU's pc-testdev (src/dev/pc_testdev.c): scratch register 0xE0-0xE3, page flush 0xE4,
 * IRQ lines 0x2000-0x2017, 4 KiB of I/O memory at 0xFF000000. */
#define PC_TESTDEV_IOPORT 0xE0
#define PC_TESTDEV_FLUSH_PORT 0xE4
#define PC_TESTDEV_IRQ_PORT 0x2000
#define PC_TESTDEV_IRQS 24
#define PC_TESTDEV_IOMEM 0xFF000000ull
#define PC_TESTDEV_IOMEM_SIZE 4096

typedef struct PcTestdev {
    uint32_t ioport;
    uint64_t page_flushes;
    uint8_t irq_level[PC_TESTDEV_IRQS];
    /* Where IRQ line changes go (the VM's interrupt controllers); NULL: kept only. */
    void (*set_irq)(void *opaque, int line, int level);
    void *irq_opaque;
    uint8_t iomem[PC_TESTDEV_IOMEM_SIZE];
} PcTestdev;

PcTestdev *pc_testdev_create(void);
int pc_testdev_io_read(uint16_t port, uint8_t size, uint32_t *value, void *opaque);
int pc_testdev_io_write(uint16_t port, uint8_t size, uint32_t value, void *opaque);
int pc_testdev_mmio_read(uint64_t addr, uint8_t size, uint64_t *value, void *opaque);
int pc_testdev_mmio_write(uint64_t addr, uint8_t size, uint64_t value, void *opaque);
void pc_testdev_destroy(PcTestdev *t);

/* ------------------------------------------------------------------------------------ */
/* QEMU-style monitor                                                                    */
/* ------------------------------------------------------------------------------------ */

struct SimpleVM;

/* QEMU's human monitor (HMP) for a SimpleVM: commands and output formats are QEMU's
 * (info registers, x, xp, ...). Answers go to mon->out (stdout unless set). Commands that
 * read guest state pause a running vCPU for the moment they need (between two guest
 * instructions) and resume it. Nothing typed can crash or hang the VMM: a bad command is
 * a one-line error. */
typedef struct QemuMonitor {
    struct SimpleVM *svm;         /* the VM it inspects and controls */
    /* The seed's view of the VM, refreshed before each command: its KVM VM, its vCPUs
     * and the handlers on its buses (pointers into the VM; read them, do not free them). */
    KvmVm *vm;
    struct KvmVcpu **vcpus;
    size_t num_vcpus;
    IoPortHandler *io_handlers;
    size_t num_io_handlers;
    MmioHandler *mmio_handlers;
    size_t num_mmio_handlers;
    FILE *out;
    bool quit_requested;          /* `quit` was given: the VM has ended, the front end ends */
    char default_format;          /* x/xp: the last format and size given (QEMU keeps them) */
    int default_size;
    const char *name;             /* -name: what info name prints (NULL: nothing) */
    const char *block_info;       /* what info block prints, from the front end (NULL: nothing) */
    /* gdbserver SPEC: starts the gdb stub, set by the front end that can (NULL: not
     * available). 0, or a negative errno with the reason in why. */
    int (*gdbserver)(struct QemuMonitor *mon, const char *spec, char *why, size_t size);
    void *opaque;                 /* the front end's */
    bool no_files;                /* memsave and pmemsave refused (e.g. under a fuzzer) */
} QemuMonitor;

QemuMonitor *qemu_monitor_create(struct SimpleVM *vm);
/* The seed's form: the monitor of the SimpleVM that `vm` belongs to (vm_create made it);
 * NULL with an error for a KvmVm made by hand. qemu_monitor_create(x) picks this one when
 * x is a KvmVm * (C11 _Generic), so seed programs and project code both call it by name. */
QemuMonitor *qemu_monitor_create_kvm(KvmVm *vm);
#ifndef __cplusplus   /* C11 only; C++ callers pick the function by name */
#define qemu_monitor_create(vm) \
    _Generic((vm), KvmVm *: qemu_monitor_create_kvm, default: (qemu_monitor_create))(vm)
#endif
void qemu_monitor_destroy(QemuMonitor *mon);
/* Executes one command line ("info registers", "x /4xb 0x7c00", ...) and writes the
 * answer to `out`. 0, or a negative errno after a one-line error on `out` (-ENOENT for
 * an unknown command, -EINVAL for bad arguments). An empty line does nothing. */
int qemu_monitor_execute(QemuMonitor *mon, const char *line, FILE *out);
/* Every command's name and every info subcommand, as a list for a front end's help. */
void qemu_monitor_print_commands(FILE *out);
int qemu_cmd_help(QemuMonitor *mon, const char *command);   /* NULL: every command */
int qemu_cmd_info_registers(QemuMonitor *mon, int vcpu_id);
/* info registers' text for a given state (QEMU's x86_cpu_dump_state layout), e.g. for the
 * -d int log. */
void qemu_dump_cpu_state(FILE *out, struct SimpleVM *vm, const KvmRegs *r, const KvmSregs *s);
int qemu_cmd_info_status(QemuMonitor *mon);
int qemu_cmd_info_cpus(QemuMonitor *mon);
int qemu_cmd_info_mem(QemuMonitor *mon);
int qemu_cmd_info_tlb(QemuMonitor *mon);
int qemu_cmd_info_ept(QemuMonitor *mon);
int qemu_cmd_info_vmcs(QemuMonitor *mon);
int qemu_cmd_info_exits(QemuMonitor *mon);
/* The interrupt controllers: the 8259A pair and the IOAPIC; IRQ counts; the local APIC. */
int qemu_cmd_info_pic(QemuMonitor *mon);
int qemu_cmd_info_irq(QemuMonitor *mon);
int qemu_cmd_info_lapic(QemuMonitor *mon);
/* QEMU's info pci: every function of bus 0, its IDs, IRQ and BARs. */
int qemu_cmd_info_pci(QemuMonitor *mon);
/* QEMU's `nmi`: an NMI for the vCPU at its next entry (masked while port 0x70 bit 7 is set). */
int qemu_cmd_nmi(QemuMonitor *mon);
/* x: `count` units of the default format and size (initially QEMU's: hex words) at
 * guest-virtual addr. */
int qemu_cmd_x(QemuMonitor *mon, uint64_t addr, int count);
/* x and xp with QEMU's format letters: format x d u o c i, size 1 2 4 8 (0: default). */
int qemu_cmd_memory_dump(QemuMonitor *mon, uint64_t addr, int count, char format, int size,
                         bool physical);
int qemu_cmd_stop(QemuMonitor *mon);
int qemu_cmd_cont(QemuMonitor *mon);
int qemu_cmd_step(QemuMonitor *mon, unsigned count);
int qemu_cmd_system_reset(QemuMonitor *mon);
/* QEMU's system_powerdown: presses the ACPI power button (vm_power_button). */
int qemu_cmd_system_powerdown(QemuMonitor *mon);
int qemu_cmd_quit(QemuMonitor *mon);

/* ------------------------------------------------------------------------------------ */
/* SimpleVM: one vCPU, RAM, COM1, VGA text, debug exit                                   */
/* ------------------------------------------------------------------------------------ */

/* Guest-physical layout: RAM from 0, except the legacy VGA hole [0xA0000, 0xC0000),
 * which is MMIO. */
#define VM_VGA_HOLE_START 0xA0000
#define VM_VGA_HOLE_END   0xC0000
#define VM_MIN_RAM (64ull * 1024)               /* 64 KiB */
/* Inaccessible host address space (PROT_NONE) on each side of guest RAM. */
#define VM_RAM_GUARD (2ull * 1024 * 1024)
#define VM_MAX_RAM (3ull * 1024 * 1024 * 1024)  /* 3 GiB: the top GiB is for firmware */
#define VM_MAX_ROM (256ull * 1024)              /* 256 KiB */
#define VM_MAX_VCPUS 8                          /* -smp 1-8 */
#define VM_MAX_VCPUS_TEXT "8"

typedef enum {
    VM_STOP_NONE,
    VM_STOP_HLT,            /* the guest halted */
    VM_STOP_DEBUG_EXIT,     /* the guest wrote the debug-exit port */
    VM_STOP_SHUTDOWN,       /* triple fault */
    VM_STOP_FAIL_ENTRY,     /* invalid guest state */
    VM_STOP_INTERNAL_ERROR, /* the CPU model or the kernel cannot go on */
    VM_STOP_MAX_EXITS,      /* --max-exits reached */
    VM_STOP_REQUESTED,      /* vm_request_stop() */
    VM_STOP_ERROR,          /* a host error (see hv_last_error) */
    VM_STOP_STEPPED,        /* vm_step() executed its instruction */
    VM_STOP_MAX_INSNS,      /* --max-insns reached (sim: kvm_vcpu_set_instruction_limit) */
    VM_STOP_DEBUG,          /* a breakpoint, watchpoint or magic breakpoint (debug_event) */
    VM_STOP_POWEROFF,       /* the guest powered the machine off (ACPI S5) */
} VmStopReason;

/* Exit statistics, as `perf kvm stat` keeps them: per exit reason, how many and how long
 * the VMM took to handle them (from the exit to the next entry, CLOCK_MONOTONIC). */
#define VM_EXIT_STATS_KVM 64      /* KVM_EXIT_* codes below this are counted */
#define VM_EXIT_STATS_VMX 80      /* VMX basic exit reasons below this (sim backend) */
typedef struct {
    uint64_t count;
    uint64_t total_ns, min_ns, max_ns;
    double sum_sq_ns;             /* sum of squared times, for the spread */
} VmExitStat;
typedef struct {
    VmExitStat kvm[VM_EXIT_STATS_KVM];   /* by kvm_run->exit_reason */
    VmExitStat vmx[VM_EXIT_STATS_VMX];   /* by the VMCS basic exit reason (sim only) */
} VmExitStats;

struct VmRunner;
struct VmPlatform;

/* Where guest time comes from: the host's monotonic clock, or (sim backend only) the count
 * of retired instructions, 1 ns each, so that a run is reproducible bit for bit. */
typedef enum { VM_CLOCK_HOST, VM_CLOCK_VIRTUAL } VmClockMode;

typedef struct SimpleVM {
    KvmDevice *kvm;
    KvmVm *vm;
    KvmVcpu *vcpu;
    SerialPort *serial;
    VgaDevice *vga;               /* NULL with VM_FLAG_NO_VGA */
    EptContext *ept;
    QemuMonitor *monitor;
    bool running;

    IoBus *io_bus;
    MmioBus *mmio_bus;
    DebugExit *debug_exit;
    size_t ram_size;
    uint8_t *ram;                 /* host address of guest-physical 0 */

    VmStopReason stop_reason;
    uint32_t debug_exit_value;
    uint64_t exit_count;
    /* Coalesced MMIO for the VGA text window: registered after its first write exit (which
     * stays an EPT violation / KVM_EXIT_MMIO, as traces show), when the backend has the
     * capability; the run loop drains the ring before it handles any exit and when it
     * ends. coalesced_writes counts the writes that came through the ring. */
    struct kvm_coalesced_mmio_ring *coalesced_ring;
    bool vga_coalesce_tried;
    bool no_coalesced_mmio;       /* set before vm_run: never register (every write exits) */
    uint64_t coalesced_writes;
    uint64_t max_exits;           /* 0: no limit */
    FILE *trace;                  /* one line per exit when set (and one per ring drained) */
    volatile int stop_requested;  /* set by vm_request_stop() from any thread */
    /* Set when the VM is ending (vm_thread_quit): device output waiting for a full fd
     * gives up at once, so a stalled reader cannot hold the VMM's exit. */
    int output_cancel;
    uint8_t *rom;                 /* firmware image mapping (vm_load_rom), or NULL */
    size_t rom_size;
    /* Written by the vCPU thread in vm_run; read only while it is paused. */
    VmExitStats exit_stats;
    struct VmRunner *runner;      /* the vCPU thread (vm_thread_start), or NULL */
    /* The PC platform: interrupt controllers, timers, clock (src/vmm/platform.c). */
    struct VmPlatform *platform;
    struct Bios *bios;            /* the built-in BIOS (src/vmm/bios.h), or NULL */
    FwCfg *fw_cfg;                /* QEMU's fw_cfg at 0x510 (always there, as on QEMU's pc) */
    PcTestdev *testdev;           /* -device pc-testdev (vm_add_pc_testdev), or NULL */
    /* Debugging: what the debugger asked for (vm_set_guest_debug; vm_step adds single-
     * stepping to it) and the last KVM_EXIT_DEBUG (VM_STOP_DEBUG, or a step's). */
    struct kvm_guest_debug guest_debug;
    struct kvm_debug_exit_arch debug_event;
    /* The log (vm_set_log): what is logged (VM_LOG_*) and where. */
    unsigned log_items;
    FILE *log;
    uint64_t events_logged;       /* -d int's counter */
    /* A triple fault resets the vCPU to its start state and the VM goes on, as a PC
     * resets (QEMU without -no-reboot); false: it ends the VM (VM_STOP_SHUTDOWN). Done by
     * the vCPU thread (vm_thread_start). */
    bool reset_on_shutdown;
    uint64_t resets;              /* how many times that happened */
    /* The monitor's screendump: vga_screendump, set by the front end (the scratchvm command
     * sets it; it needs libpng and zlib, which a program using only the rest of the
     * library does not link). NULL: screendump says it is not available. */
    int (*screendump)(const VgaDevice *vga, const char *path, const char *font_path, bool ppm);
    /* The last exit vm_run handled, as kvm_run described it before the next KVM_RUN (which
     * completes an I/O or MMIO exit) reused the structure: for scratchvm diff. */
    struct {
        uint32_t reason;          /* KVM_EXIT_* */
        uint8_t io_direction, io_size;
        uint16_t io_port;
        uint32_t io_count;
        uint8_t io_data[64];      /* the first bytes of the data */
        uint64_t mmio_addr;
        uint32_t mmio_len;
        bool mmio_write;
        uint8_t mmio_data[8];
    } last_exit;
    SerialPort *serial2;          /* COM2 (vm_add_serial2), or NULL */
    struct IdeChannel *ide[2];    /* IDE channels with disks (vm_add_ide_disk), or NULL */
    struct Fdc *fdc;              /* the floppy controller (vm_add_floppy), or NULL */
    /* The devices the VM creates, resets and destroys by their records (src/dev/device.h),
     * newest first. */
    struct DeviceRecord *devices;
    /* SMP (vm_set_cpus): the vCPUs, vcpus[0] == vcpu (the boot processor). The run loop
     * runs them in turn on the one vCPU thread; cur_vcpu is the one it has in hand (whose
     * exit is being handled; the LAPIC page is that vCPU's), sel_vcpu the one the tools
     * look at (the monitor's `cpu N`, vm_step, the debugger). */
    KvmVcpu *vcpus[VM_MAX_VCPUS];
    unsigned num_vcpus;
    unsigned cur_vcpu;
    unsigned sel_vcpu;
} SimpleVM;

/* The log items (QEMU's -d names). */
#define VM_LOG_INT          1u    /* interrupts and exceptions, QEMU's format (sim only) */
#define VM_LOG_CPU_RESET    2u    /* "CPU Reset (CPU 0)" and the state before it */
#define VM_LOG_GUEST_ERRORS 4u    /* triple faults that reset the vCPU */
#define VM_LOG_EXITS        8u    /* one line per VM exit (svm->trace) */
#define VM_LOG_BIOS         16u   /* the debug console (port 0xE9), where firmware writes */

SimpleVM *vm_create(size_t memory_mb);
SimpleVM *vm_create_backend(size_t memory_mb, HvBackend b);
/* Same, with the size in bytes (at least 64 KiB, a multiple of 4 KiB). */
SimpleVM *vm_create_bytes(size_t memory_bytes, HvBackend b);
/* The same with VM_FLAG_*: VM_FLAG_KERNEL_IRQCHIP puts the interrupt controllers and the
 * PIT in the KVM kernel (kvm_create_irqchip; KVM only). The kernel then also handles HLT:
 * a guest ends through the debug-exit port or from outside, not by halting. */
#define VM_FLAG_KERNEL_IRQCHIP 1u
/* VM_FLAG_NO_VGA (QEMU's -vga none): no VGA device (svm->vga is NULL): ports 0x3D4/0x3DA
 * and the windows at 0xA0000/0xB8000 answer as unclaimed ones do, and the built-in BIOS's
 * int 10h teletype writes to COM1 instead, as a serial-console option ROM would. */
#define VM_FLAG_NO_VGA 2u
SimpleVM *vm_create_flags(size_t memory_bytes, HvBackend b, unsigned flags);
/* Copies code to guest-physical addr; -EFAULT when any byte falls outside RAM. */
int vm_load_code(SimpleVM *svm, const uint8_t *code, size_t size, uint64_t addr);
/* Maps a read-only firmware image (at most 256 KiB) ending at 1 MiB and again at 4 GiB,
 * and puts the vCPU in the x86 reset state (CS F000 base FFFF0000, IP FFF0). */
int vm_load_rom(SimpleVM *svm, const uint8_t *image, size_t size);
/* The same, but below 1 MiB the image is copied into RAM, which the firmware may write (its
 * data lives there), as on QEMU's isapc machine; the copy at 4 GiB stays ROM. Needs at
 * least 1 MiB of RAM. For SeaBIOS, which writes its F segment once it has "unlocked" it. */
int vm_load_rom_shadowed(SimpleVM *svm, const uint8_t *image, size_t size);
/* The fw_cfg files QEMU gives its firmware (SeaBIOS): etc/e820 (the RAM), and with a
 * sercon_port (not 0) etc/sercon-port, which makes SeaBIOS's int 10h a console on that
 * serial port (there is no VGA BIOS here). Once, before the first run. */
int vm_add_firmware_config(SimpleVM *svm, uint16_t sercon_port);
/* The debug console also at `port` (QEMU's -device isa-debugcon,iobase=PORT; SeaBIOS
 * writes its log to 0x402): the same output, and 0xE9 read back there. */
int vm_add_debugcon_port(SimpleVM *svm, uint16_t port);
/* Adds QEMU's pc-testdev (ports 0xE0-0xE4, 0x2000-0x2017, I/O memory at 0xFF000000). */
int vm_add_pc_testdev(SimpleVM *svm);
/* Adds a PCI device as QEMU's -device spells it: "NAME[,PROP=VALUE...]" (names in
 * vm_pci_device_names). Before the first run; the VM places its BARs (the firmware's
 * work). 0, or a negative errno with hv_last_error(). */
int vm_add_pci_device(SimpleVM *svm, const char *spec);
/* Whether NAME (the first `len` bytes) is a PCI device kind vm_add_pci_device knows. */
bool vm_pci_device_known(const char *name, size_t len);
/* The known kinds, comma-separated ("" when there are none), for messages. */
const char *vm_pci_device_names(void);
/* The loader (src/vmm/loader.c). Images are hostile: every header field is checked against
 * the file and RAM; failures are -ENOEXEC (malformed), -EFBIG (does not fit), -E2BIG (a
 * command line too long) or -EINVAL, with the reason in hv_last_error(). */
/* A flat binary at guest-physical addr, the vCPU in real mode at linear entry (< 1 MiB) as
 * CS = (entry >> 4) & 0xF000, IP = entry - CS * 16. */
int vm_load_flat(SimpleVM *svm, const uint8_t *image, size_t size, uint64_t addr,
                 uint64_t entry);
/* 0, or -ENOEXEC when image is not 512 bytes ending in 55 AA. */
int vm_check_boot_sector(const uint8_t *image, size_t size);
/* A boot sector at 0x7C00, the vCPU at 0000:7C00. */
int vm_load_boot_sector(SimpleVM *svm, const uint8_t *image, size_t size);

typedef enum {
    VM_KERNEL_LINUX = 1,          /* bzImage, boot protocol >= 2.06 */
    VM_KERNEL_MULTIBOOT,          /* multiboot v1: ELF or the a.out kludge */
    VM_KERNEL_ELF32,
    VM_KERNEL_ELF64,
} VmKernelFormat;
#define VM_MAX_MODULES 64
typedef struct {
    const uint8_t *data;
    size_t size;
    const char *cmdline;          /* multiboot: the module's string (NULL: "") */
} VmModule;
typedef struct {
    const uint8_t *image;
    size_t size;
    const char *cmdline;          /* -append; NULL: none */
    const VmModule *modules;      /* -initrd: multiboot modules, or Linux's initrd (the
                                   * files concatenated) */
    size_t num_modules;
} VmKernelSpec;
/* The format of a -kernel image (VmKernelFormat), or -ENOEXEC. Looks only at magic
 * numbers: Linux first, then a multiboot header, then ELF. */
int vm_kernel_detect(const uint8_t *image, size_t size);
const char *vm_kernel_format_name(int format);
/* Loads a kernel as its format says and sets the vCPU's entry state: 32-bit protected
 * mode, flat segments CS 0x10 / DS 0x18 from a GDT in guest RAM, paging and interrupts
 * off; multiboot: EAX 0x2BADB002, EBX the information structure (memory map, command line,
 * modules, boot device); Linux: ESI boot_params (E820 map, command line, initrd). ELF64
 * kernels are refused (no long-mode entry yet). */
int vm_load_kernel(SimpleVM *svm, const VmKernelSpec *k);
/* Host address of guest RAM [gpa, gpa + len), or NULL when any byte of it is not RAM (past
 * the end, in the VGA hole, or firmware): the one way the VMM reaches guest memory. */
uint8_t *vm_guest_ram(SimpleVM *svm, uint64_t gpa, uint64_t len);
/* A SimpleVM announces host writes (KvmVm.host_writes_announced): the pointer
 * vm_guest_ram returns is good for writes until the next vm_run/vm_step; after writing
 * through svm->ram, vm->guest_memory or a pointer kept across a run, call this, else the
 * sim backend may go on running code it decoded before the write. */
void vm_guest_ram_written(SimpleVM *svm, uint64_t gpa, uint64_t len);
/* Runs until the guest halts or stops (svm->stop_reason says how). Returns 0 for HLT and
 * debug exit, a negative errno otherwise; diagnostics go through the log. */
int vm_run(SimpleVM *svm);
/* Asks a vm_run() in another thread to return at once (VM_STOP_REQUESTED). It returns
 * between two guest instructions, with an I/O or MMIO exit it was handling completed, so
 * the registers are exact and a later vm_run() goes on where this one stopped. The request
 * is kept until a run loop sees it: made while no vm_run() runs, it makes the next one
 * return at once (the vCPU thread clears it when it starts a command). */
void vm_request_stop(SimpleVM *svm);
/* Executes one guest instruction (KVM_GUESTDBG_SINGLESTEP), handling the I/O and MMIO
 * exits it makes: VM_STOP_STEPPED, or how the VM stopped (a HLT gives VM_STOP_HLT with
 * RIP past it, on every backend). Returns 0 when stepped or halted, else as vm_run. */
int vm_step(SimpleVM *svm);
/* Whether vm_run will batch the guest's VGA text writes after the first (coalesced MMIO:
 * the backend has KVM_CAP_COALESCED_MMIO and its ring, and svm->no_coalesced_mmio is not
 * set). vm_lockstep uses it so that both VMs batch alike or neither does. */
bool vm_coalesced_mmio_usable(SimpleVM *svm);
/* Sets the breakpoints the vCPU obeys (KVM_SET_GUEST_DEBUG, see kvm_set_guest_debug2);
 * a hit stops vm_run with VM_STOP_DEBUG and svm->debug_event. The VM must not be running. */
int vm_set_guest_debug(SimpleVM *svm, const struct kvm_guest_debug *dbg);
/* Logs `items` (VM_LOG_*) to `out` (the caller's stream; NULL: stderr). -ENOTSUP when the
 * backend cannot log an item (VM_LOG_INT on KVM): the others are set anyway. */
int vm_set_log(SimpleVM *svm, unsigned items, FILE *out);

/* The vCPU thread (src/vmm/runner.c): vm_run in a thread of its own that can be paused
 * and resumed from another thread (the monitor's stop, cont and step). */
typedef enum {
    VM_THREAD_PAUSED,             /* waiting for vm_thread_resume/step/quit */
    VM_THREAD_RUNNING,
    VM_THREAD_ENDED,              /* the VM stopped for good (svm->stop_reason) or quit */
} VmThreadState;
/* Starts the thread, paused or running. `on_end` (may be NULL) is called from the thread
 * once the VM has ended. -EBUSY when a thread exists. */
int vm_thread_start(SimpleVM *svm, bool paused, void (*on_end)(SimpleVM *svm, void *opaque),
                    void *opaque);
VmThreadState vm_thread_state(SimpleVM *svm);
/* Stops a running VM between two instructions and waits until it is paused. 0, or -ESRCH
 * when the VM has ended (or there is no thread). */
int vm_thread_pause(SimpleVM *svm);
/* Resumes a paused VM; -ESRCH when it has ended. */
int vm_thread_resume(SimpleVM *svm);
/* From a paused VM: executes up to n instructions and waits; stops early when the VM
 * stops otherwise (*why: VM_STOP_STEPPED, VM_STOP_HLT, ...). -EBUSY when running;
 * -ETIMEDOUT when no instruction completed for 250 ms and the step was stopped (the VM is
 * paused again, *why VM_STOP_REQUESTED): a step never runs unbounded. */
int vm_thread_step(SimpleVM *svm, unsigned n, VmStopReason *why);
/* Whether the vCPU is halted (a step or the run ended in HLT): resuming ends the VM
 * (nothing in this VMM ever wakes a halted vCPU). */
bool vm_thread_halted(SimpleVM *svm);
/* The Linux thread id of the vCPU thread (info cpus), 0 when there is none. */
int vm_thread_id(SimpleVM *svm);
/* `fn` (NULL: none) is called from the vCPU thread whenever the thread stops on its own:
 * paused by a debug event (VM_STOP_DEBUG) or ended. One observer (the gdb stub). Once
 * this returns, the previous observer is not being called any more. */
void vm_thread_set_observer(SimpleVM *svm, void (*fn)(SimpleVM *svm, void *opaque),
                            void *opaque);
/* Ends the VM (VM_STOP_REQUESTED when it was running or paused) and waits until the
 * thread has ended; the thread stays for vm_thread_quit, so that other threads using the
 * VM (the gdb stub, the console) may still ask it about its state. */
void vm_thread_end(SimpleVM *svm);
/* Ends the VM (VM_STOP_REQUESTED when it was running or paused) and joins the thread. */
void vm_thread_quit(SimpleVM *svm);
/* Resets the vCPU to the state it had when the thread started (system_reset). Paused VM
 * only: -EBUSY otherwise. */
int vm_thread_reset(SimpleVM *svm);
int vm_handle_io(SimpleVM *svm, KvmRun *run);
int vm_handle_mmio(SimpleVM *svm, KvmRun *run);
/* The firmware tables the VMM builds in guest RAM at creation (0xE0000-0xEFFFF, when RAM
 * reaches 1 MiB): ACPI (RSDP, RSDT, XSDT, FADT, FACS, MADT, HPET, DSDT), or with `enabled`
 * false (QEMU's -no-acpi) an Intel MP table. Before the first run: -EBUSY after. */
int vm_set_acpi(SimpleVM *svm, bool enabled);
/* SMP (QEMU's -smp N): the VM gets n vCPUs (1 to VM_MAX_VCPUS), svm->vcpus[0] staying
 * svm->vcpu, the boot processor; the others (APIC IDs 1 to n-1) wait for INIT and Startup
 * IPIs. The firmware tables (MADT, MP table) and fw_cfg list them. Before the first run
 * (-EBUSY after); vCPUs are only added. */
int vm_set_cpus(SimpleVM *svm, unsigned n);
/* COM2: a second 16550A at COM2_BASE on ISA IRQ 3 (QEMU's serial1), its output to
 * output_fd (-1: nowhere), owned by the VM (svm->serial2). -EEXIST when there is one. */
#define COM2_BASE 0x2F8
int vm_add_serial2(SimpleVM *svm, int output_fd);
/* The RTC's start (QEMU's -rtc base=): VM_RTC_UTC (default), VM_RTC_LOCALTIME (the host's
 * local time, as DOS and Windows keep the CMOS clock), or VM_RTC_DATE: the RTC reads `date`
 * (seconds since 1970, UTC) now and runs on from there. Call after vm_set_clock. */
typedef enum { VM_RTC_UTC, VM_RTC_LOCALTIME, VM_RTC_DATE } VmRtcBase;
int vm_set_rtc_base(SimpleVM *svm, VmRtcBase base, int64_t date);
bool vm_acpi_enabled(SimpleVM *svm);
/* Guest-physical address of the ACPI RSDP, 0 when there is none. */
uint64_t vm_acpi_rsdp(SimpleVM *svm);
/* A press of the ACPI fixed-feature power button: PWRBTN_STS, and the SCI (IRQ 9) when the
 * guest enabled it; an ACPI guest then powers off (VM_STOP_POWEROFF). -ENOTSUP without
 * ACPI. Any thread. */
int vm_power_button(SimpleVM *svm);
/* Chooses the guest clock before the first run. VM_CLOCK_VIRTUAL needs the sim backend
 * (-ENOTSUP on KVM). */
int vm_set_clock(SimpleVM *svm, VmClockMode mode);
VmClockMode vm_clock(SimpleVM *svm);
/* A key typed on the host (ASCII or a control byte) for the PS/2 keyboard: its scancodes
 * (set 2, translated to set 1 by the 8042 as PCs do) and IRQ1. -EAGAIN when the keyboard's
 * queue is full or the byte has no key. Any thread. */
int vm_send_key(SimpleVM *svm, uint8_t ascii);
/* Keys by set 2 make code (0xE0xx: extended), pressed in order and released in reverse,
 * as a chord (Ctrl-Left: 0x14, 0xE06B); at most 16. -EAGAIN as vm_send_key. Any thread. */
int vm_send_key_chord(SimpleVM *svm, const uint16_t *set2, size_t n);
/* Which interrupt controller model each backend runs (scratchvm info). */
void print_interrupt_models(FILE *out);
/* The VM's timer (a timerfd): the thread that owns time (the front end's main loop) polls
 * it for POLLIN and then calls vm_service_timers, which raises the due timer interrupts
 * and kicks the vCPU. -1 with the virtual clock, where the vCPU thread keeps time itself.
 * A halted vCPU services its timers itself too, so vm_run alone also wakes from HLT. */
int vm_timer_fd(SimpleVM *svm);
void vm_service_timers(SimpleVM *svm);
/* Writes a register dump (with RIP, RFLAGS, segments and CR0) to `out`. */
void vm_dump_registers(SimpleVM *svm, FILE *out);
void vm_destroy(SimpleVM *svm);
/* The seed's example: a real-mode program that prints "Hi!" on COM1 and halts. */
int vm_run_real_mode_example(void);

/* ------------------------------------------------------------------------------------ */
/* Lockstep differential runs (src/vmm/lockstep.c)                                        */
/* ------------------------------------------------------------------------------------ */

/* The differences between two vCPU states (every register of KVM_GET_REGS, the segment
 * registers with their caches, GDTR, IDTR, CR0-CR4, CR8, EFER, APIC_BASE), one line each on `out`
 * (NULL: only counted) as "name  a  |  b". Returns how many. */
int vm_compare_state(FILE *out, const KvmRegs *ar, const KvmSregs *as, const KvmRegs *br,
                     const KvmSregs *bs);
/* The same for the special registers alone (and APIC_BASE). */
int vm_compare_sregs(FILE *out, const KvmSregs *as, const KvmSregs *bs);
typedef struct {
    bool step;                    /* compare after every instruction (single-stepping) */
    uint64_t max_steps;           /* exits or instructions to compare at most; 0: no limit */
    unsigned timeout_ms;          /* by exits: a step taking longer ends the run; 0: none */
    const char *name_a, *name_b;  /* for the report, e.g. "kvm" and "sim" */
} LockstepOptions;
enum { LOCKSTEP_AGREED = 0, LOCKSTEP_DIVERGED = 1, LOCKSTEP_LIMIT = 2, LOCKSTEP_TIMEOUT = 3 };
/* Runs two VMs loaded alike, one exit (or instruction) each at a time, comparing how
 * they stopped, the exits and the states after each; at the first difference writes both
 * states, the differences and the instruction to `out`. Neither VM may have a vCPU thread.
 * LOCKSTEP_* or a negative errno. */
int vm_lockstep(SimpleVM *a, SimpleVM *b, const LockstepOptions *opt, FILE *out);

/* ------------------------------------------------------------------------------------ */
/* gdb stub (src/vmm/gdbstub.c)                                                           */
/* ------------------------------------------------------------------------------------ */

/* GDB's remote protocol for a VM whose vCPU thread runs (vm_thread_start), served by a
 * thread of its own at `spec`: "tcp:[HOST]:PORT" (no HOST: every address) or "unix:PATH".
 * A connecting GDB stops the VM; one GDB at a time; a new one may connect after the last
 * detached. NULL with hv_last_error() when the socket cannot be set up. */
typedef struct GdbStub GdbStub;
GdbStub *gdb_stub_start(SimpleVM *svm, const char *spec);
/* Sends a stop reply GDB still waits for, closes the sockets, joins the thread. */
void gdb_stub_stop(GdbStub *g);

/* ------------------------------------------------------------------------------------ */
/* Disassembler (src/sim/cpu/disasm.c)                                                   */
/* ------------------------------------------------------------------------------------ */

/* Disassembles one instruction at `ip` from bytes[0..len) in 16- or 32-bit code
 * (bits = 16 or 32, as CS.D and the mode give). Writes AT&T syntax as GNU objdump prints it
 * (e.g. "mov    $0x3f8,%dx", "out    %al,(%dx)", "rep movsw %ds:(%si),%es:(%di)",
 * "ljmp   $0xf000,$0xe05b", "call   0x7c2a") into out and returns the instruction's length
 * (1..15), or a negative errno: -EINVAL for bad arguments, -ENODATA when bytes run out
 * before the instruction ends (out then says "(bad)"/truncated). An opcode the CPU model does
 * not know disassembles as "(bad)" with length 1.
 * `ip` is the instruction's offset in CS (IP/EIP): branch targets are ip + length + rel,
 * wrapped to the operand size as the CPU wraps them. Lengths and operands come from the
 * interpreter's own decoder, so they are exactly what the sim CPU would execute. The text is
 * cut to fit out_size (always NUL-terminated). */
int x86_disassemble(const uint8_t *bytes, size_t len, uint64_t ip, int bits, char *out,
                    size_t out_size);

#ifdef __cplusplus
}
#endif

#endif /* HYPERVISOR_SIM_H */
