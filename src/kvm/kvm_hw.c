/*
 * The hw backend: Linux KVM through ioctls on /dev/kvm (Documentation/virt/kvm/api.rst).
 * Registers travel in the kvm_run page (KVM_CAP_SYNC_REGS) so that an exit costs no extra
 * ioctl; only what the caller changed is marked dirty for the next entry.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/kvm_para.h>

#include "kvm/backend.h"

/* Where real mode on Intel without unrestricted guest keeps KVM's TSS (three pages): just
 * below the 256 KiB firmware window under 4 GiB. */
#define HW_TSS_ADDR 0xFFFBD000u

typedef struct {
    int vcpu_mmap_size;
} HwDevice;

/* KVM_GET_SUPPORTED_CPUID, given to every vCPU. It describes the host's KVM, not a device
 * or a VM, and it is slow (the kernel executes CPUID for every leaf; under nested
 * virtualization each one is an exit to the outer hypervisor: about 0.5 ms per call here,
 * more than the rest of a VM's lifecycle), so it is fetched once per process. */
static pthread_mutex_t hw_cpuid_lock = PTHREAD_MUTEX_INITIALIZER;
static struct kvm_cpuid2 *hw_cpuid;

typedef struct {
    bool sync_regs;
    /* Who is inside KVM_RUN, so that a kick signals only a thread that is there. */
    pthread_mutex_t lock;
    bool in_run;
    pthread_t thread;
} HwVcpu;

/* The signal that knocks a vCPU thread out of KVM_RUN (EINTR). Its handler does nothing:
 * the interruption is the point. */
#define HW_KICK_SIGNAL (SIGRTMIN + 1)

static void hw_kick_handler(int sig) { (void)sig; }

static void hw_install_kick_handler(void)
{
    struct sigaction sa = {.sa_handler = hw_kick_handler};
    sigemptyset(&sa.sa_mask);
    sigaction(HW_KICK_SIGNAL, &sa, NULL);   /* no SA_RESTART: KVM_RUN must return */
}

static int hw_errno(const char *what)
{
    int err = errno;
    return hv_fail(err, "%s: %s", what, strerror(err));
}

/* KVM_CHECK_EXTENSION on /dev/kvm for capabilities 0..63: system-wide answers, the same for
 * every device, so the 64 ioctls are made once per process and copied to each device. */
static void hw_system_extensions(KvmDevice *kvm)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static bool known;
    static int values[64];
    _Static_assert(sizeof(values) == sizeof(kvm->extensions), "one value per capability");
    pthread_mutex_lock(&lock);
    if (!known) {
        for (int cap = 0; cap < 64; cap++) {
            int v = ioctl(kvm->fd, KVM_CHECK_EXTENSION, cap);
            values[cap] = v > 0 ? v : 0;
        }
        known = true;
    }
    memcpy(kvm->extensions, values, sizeof(values));
    pthread_mutex_unlock(&lock);
}

static int hw_open(KvmDevice *kvm)
{
    HwDevice *hd = calloc(1, sizeof(*hd));
    if (!hd)
        return hv_fail(ENOMEM, "out of memory");
    kvm->fd = open(hv_kvm_device_path(), O_RDWR | O_CLOEXEC);
    if (kvm->fd < 0) {
        int r = hw_errno(hv_kvm_device_path());
        free(hd);
        return r;
    }
    kvm->api_version = ioctl(kvm->fd, KVM_GET_API_VERSION, 0);
    if (kvm->api_version != KVM_API_VERSION) {
        int r = hv_fail(ENOTSUP, "/dev/kvm: API version %d, need %d", kvm->api_version,
                        KVM_API_VERSION);
        close(kvm->fd);
        free(hd);
        return r;
    }
    hd->vcpu_mmap_size = ioctl(kvm->fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (hd->vcpu_mmap_size < (int)sizeof(struct kvm_run)) {
        int r = hw_errno("KVM_GET_VCPU_MMAP_SIZE");
        close(kvm->fd);
        free(hd);
        return r;
    }
    hw_system_extensions(kvm);
    kvm->backend_data = hd;
    return 0;
}

static void hw_close(KvmDevice *kvm)
{
    free(kvm->backend_data);
    if (kvm->fd >= 0)
        close(kvm->fd);
}

static int hw_check_extension(KvmDevice *kvm, int cap)
{
    int v = ioctl(kvm->fd, KVM_CHECK_EXTENSION, cap);
    return v < 0 ? -errno : v;
}

static int hw_create_vm(KvmVm *vm)
{
    vm->fd = ioctl(vm->kvm->fd, KVM_CREATE_VM, 0);
    if (vm->fd < 0)
        return hw_errno("KVM_CREATE_VM");
    if (hw_check_extension(vm->kvm, KVM_CAP_SET_TSS_ADDR) > 0 &&
        ioctl(vm->fd, KVM_SET_TSS_ADDR, (unsigned long)HW_TSS_ADDR) < 0) {
        int r = hw_errno("KVM_SET_TSS_ADDR");
        close(vm->fd);
        return r;
    }
    return 0;
}

static void hw_destroy_vm(KvmVm *vm)
{
    if (vm->fd >= 0)
        close(vm->fd);
}

static int hw_get_dirty_log(KvmVm *vm, uint32_t slot, uint64_t *bitmap);

static int hw_set_memory_region(KvmVm *vm, const KvmUserspaceMemoryRegion *r)
{
    if ((r->flags & KVM_MEM_READONLY) && hw_check_extension(vm->kvm, KVM_CAP_READONLY_MEM) <= 0)
        return hv_fail(ENOTSUP, "this KVM has no read-only memory slots (KVM_CAP_READONLY_MEM)");
    bool was_logging = false;
    for (int i = 0; i < vm->num_regions; i++)
        if (vm->memory_regions[i].slot == r->slot)
            was_logging = vm->memory_regions[i].flags & KVM_MEM_LOG_DIRTY_PAGES;
    if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, r) < 0)
        return hw_errno("KVM_SET_USER_MEMORY_REGION");
    if (!(r->flags & KVM_MEM_LOG_DIRTY_PAGES) || was_logging || r->memory_size == 0)
        return 0;
    /* Measured on our build machines (nested KVM): the first KVM_GET_DIRTY_LOG after
     * logging starts comes back empty although the guest wrote pages. Live migration reads
     * and discards a first round anyway; so do we, once, here. */
    size_t words = (r->memory_size / 4096 + 63) / 64;
    uint64_t *scratch = calloc(words, sizeof(uint64_t));
    if (!scratch)
        return hv_fail(ENOMEM, "out of memory");
    int err = hw_get_dirty_log(vm, r->slot, scratch);
    free(scratch);
    return err;
}

static int hw_get_dirty_log(KvmVm *vm, uint32_t slot, uint64_t *bitmap)
{
    struct kvm_dirty_log log = {.slot = slot, .dirty_bitmap = bitmap};
    if (ioctl(vm->fd, KVM_GET_DIRTY_LOG, &log) < 0)
        return hw_errno("KVM_GET_DIRTY_LOG");
    return 0;
}

/* Frees the process-wide CPUID table at exit, so leak checkers see nothing left. */
__attribute__((destructor)) static void hw_free_cpuid(void)
{
    free(hw_cpuid);
    hw_cpuid = NULL;
}

/* The CPUID KVM supports (see hw_cpuid): fetched on first use, then shared by every device
 * of the process until it exits. 256 entries is KVM_MAX_CPUID_ENTRIES, enough at once;
 * E2BIG still grows the table. */
static int hw_supported_cpuid(KvmDevice *kvm, struct kvm_cpuid2 **out)
{
    int r = 0;
    pthread_mutex_lock(&hw_cpuid_lock);
    for (int n = 256; !hw_cpuid && n <= 4096; n *= 2) {
        struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
        if (!c) {
            r = hv_fail(ENOMEM, "out of memory");
            break;
        }
        c->nent = n;
        if (ioctl(kvm->fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
            hw_cpuid = c;
            break;
        }
        int err = errno;
        free(c);
        if (err != E2BIG) {
            r = hv_fail(err, "KVM_GET_SUPPORTED_CPUID: %s", strerror(err));
            break;
        }
    }
    *out = hw_cpuid;
    pthread_mutex_unlock(&hw_cpuid_lock);
    if (r == 0 && !*out)
        r = hv_fail(E2BIG, "KVM_GET_SUPPORTED_CPUID: too many entries");
    return r;
}

/* CPUID bits of KVM_GET_SUPPORTED_CPUID that only KVM's in-kernel APIC can back
 * (Documentation/virt/kvm/x86/cpuid.rst, msr.rst). With the APIC in user space, an xAPIC
 * at 0xFEE00000 (the sim kernel offers the same), they are cleared, as QEMU clears
 * PV_UNHALT without a kernel irqchip: x2APIC (its MSRs are the kernel APIC's), and the
 * paravirtual features that deliver through it: PV_UNHALT (kicks), PV_SEND_IPI and
 * ASYNC_PF_INT (interrupt-based async page faults, whose MSR KVM refuses then). The
 * kvm-clock leaves stay: KVM keeps the clock in the kernel on either irqchip. KVM does not
 * report TSC-deadline here, and ignores MSR 0x6E0 for a user-space APIC. */
#define HW_CPUID_1_ECX_X2APIC (1u << 21)

static void hw_cpuid_for_user_apic(struct kvm_cpuid2 *c)
{
    for (uint32_t i = 0; i < c->nent; i++) {
        struct kvm_cpuid_entry2 *e = &c->entries[i];
        if (e->function == 1)
            e->ecx &= ~HW_CPUID_1_ECX_X2APIC;
        if (e->function == KVM_CPUID_FEATURES)
            e->eax &= ~((1u << KVM_FEATURE_PV_UNHALT) | (1u << KVM_FEATURE_PV_SEND_IPI) |
                        (1u << KVM_FEATURE_ASYNC_PF_INT));
    }
}

/* KVM_GET_SUPPORTED_CPUID leaves the initial APIC ID to user space: leaf 1 EBX[31:24]
 * and leaf 0BH EDX (x2APIC ID) are this vCPU's id, which is its APIC's (SDM Vol. 2A,
 * CPUID), so that each processor finds itself in the MADT. */
static void hw_cpuid_apic_id(struct kvm_cpuid2 *c, uint32_t id)
{
    for (uint32_t i = 0; i < c->nent; i++) {
        struct kvm_cpuid_entry2 *e = &c->entries[i];
        if (e->function == 1)
            e->ebx = (e->ebx & 0x00FFFFFFu) | (id << 24);
        if (e->function == 0xB)
            e->edx = id;
    }
}

static int hw_create_vcpu(KvmVcpu *vcpu)
{
    KvmDevice *kvm = vcpu->vm->kvm;
    HwDevice *hd = kvm->backend_data;
    HwVcpu *hv = calloc(1, sizeof(*hv));
    if (!hv)
        return hv_fail(ENOMEM, "out of memory");
    int r;
    vcpu->fd = ioctl(vcpu->vm->fd, KVM_CREATE_VCPU, (unsigned long)vcpu->vcpu_id);
    if (vcpu->fd < 0) {
        r = hw_errno("KVM_CREATE_VCPU");
        goto fail_free;
    }
    struct kvm_cpuid2 *cpuid;
    if ((r = hw_supported_cpuid(kvm, &cpuid)) < 0)
        goto fail_close;
    size_t cpuid_size = sizeof(*cpuid) + cpuid->nent * sizeof(cpuid->entries[0]);
    struct kvm_cpuid2 *mine = malloc(cpuid_size);
    if (!mine) {
        r = hv_fail(ENOMEM, "out of memory");
        goto fail_close;
    }
    memcpy(mine, cpuid, cpuid_size);
    if (!vcpu->vm->kernel_irqchip)
        hw_cpuid_for_user_apic(mine);
    hw_cpuid_apic_id(mine, (uint32_t)vcpu->vcpu_id);
    r = ioctl(vcpu->fd, KVM_SET_CPUID2, mine);
    free(mine);
    if (r < 0) {
        r = hw_errno("KVM_SET_CPUID2");
        goto fail_close;
    }
    vcpu->kvm_run_size = (size_t)hd->vcpu_mmap_size;
    vcpu->kvm_run = mmap(NULL, vcpu->kvm_run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
    if (vcpu->kvm_run == MAP_FAILED) {
        vcpu->kvm_run = NULL;
        r = hw_errno("mmap of the kvm_run structure");
        goto fail_close;
    }
    const unsigned need = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS;
    hv->sync_regs = ((unsigned)hw_check_extension(kvm, KVM_CAP_SYNC_REGS) & need) == need;
    pthread_mutex_init(&hv->lock, NULL);
    static pthread_once_t kick_once = PTHREAD_ONCE_INIT;
    pthread_once(&kick_once, hw_install_kick_handler);
    vcpu->backend_data = hv;
    return 0;

fail_close:
    close(vcpu->fd);
    vcpu->fd = -1;
fail_free:
    free(hv);
    return r;
}

static void hw_destroy_vcpu(KvmVcpu *vcpu)
{
    HwVcpu *hv = vcpu->backend_data;
    if (hv)
        pthread_mutex_destroy(&hv->lock);
    if (vcpu->kvm_run)
        munmap(vcpu->kvm_run, vcpu->kvm_run_size);
    if (vcpu->fd >= 0)
        close(vcpu->fd);
    free(vcpu->backend_data);
}

static int hw_get_regs(KvmVcpu *vcpu, KvmRegs *regs)
{
    return ioctl(vcpu->fd, KVM_GET_REGS, regs) < 0 ? hw_errno("KVM_GET_REGS") : 0;
}

static int hw_set_regs(KvmVcpu *vcpu, const KvmRegs *regs)
{
    return ioctl(vcpu->fd, KVM_SET_REGS, regs) < 0 ? hw_errno("KVM_SET_REGS") : 0;
}

static int hw_get_sregs(KvmVcpu *vcpu, KvmSregs *sregs)
{
    return ioctl(vcpu->fd, KVM_GET_SREGS, sregs) < 0 ? hw_errno("KVM_GET_SREGS") : 0;
}

static int hw_set_sregs(KvmVcpu *vcpu, const KvmSregs *sregs)
{
    return ioctl(vcpu->fd, KVM_SET_SREGS, sregs) < 0 ? hw_errno("KVM_SET_SREGS") : 0;
}

/* Loads what the caller changed in the mirror, enters, and mirrors the state at the exit.
 * EINTR (a signal, or immediate_exit) is an exit of its own: KVM_EXIT_INTR. */
static int hw_run(KvmVcpu *vcpu)
{
    KvmRun *run = vcpu->kvm_run;
    HwVcpu *hv = vcpu->backend_data;
    bool regs_dirty = memcmp(&vcpu->regs, &vcpu->regs_synced, sizeof(vcpu->regs)) != 0;
    bool sregs_dirty = memcmp(&vcpu->sregs, &vcpu->sregs_synced, sizeof(vcpu->sregs)) != 0;
    int r;

    if (hv->sync_regs) {
        run->kvm_valid_regs = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS;
        run->kvm_dirty_regs = 0;
        if (regs_dirty) {
            run->s.regs.regs = vcpu->regs;
            run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
        }
        if (sregs_dirty) {
            run->s.regs.sregs = vcpu->sregs;
            run->kvm_dirty_regs |= KVM_SYNC_X86_SREGS;
        }
    } else {
        if (sregs_dirty && (r = hw_set_sregs(vcpu, &vcpu->sregs)) < 0)
            return r;
        if (regs_dirty && (r = hw_set_regs(vcpu, &vcpu->regs)) < 0)
            return r;
    }

    pthread_mutex_lock(&hv->lock);
    hv->in_run = true;
    hv->thread = pthread_self();
    pthread_mutex_unlock(&hv->lock);
    int err = 0;
    if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
        err = errno;
        if (err == EINTR || err == EAGAIN)
            run->exit_reason = KVM_EXIT_INTR;
    }
    pthread_mutex_lock(&hv->lock);
    hv->in_run = false;
    pthread_mutex_unlock(&hv->lock);

    if (hv->sync_regs) {
        vcpu->regs = vcpu->regs_synced = run->s.regs.regs;
        vcpu->sregs = vcpu->sregs_synced = run->s.regs.sregs;
        run->kvm_dirty_regs = 0;
    } else {
        if ((r = hw_get_regs(vcpu, &vcpu->regs)) < 0 || (r = hw_get_sregs(vcpu, &vcpu->sregs)) < 0)
            return r;
        vcpu->regs_synced = vcpu->regs;
        vcpu->sregs_synced = vcpu->sregs;
    }
    if (err && err != EINTR && err != EAGAIN)
        return hv_fail(err, "KVM_RUN: %s", strerror(err));
    return 0;
}

static void hw_kick(KvmVcpu *vcpu)
{
    HwVcpu *hv = vcpu->backend_data;
    pthread_mutex_lock(&hv->lock);
    if (hv->in_run && !pthread_equal(hv->thread, pthread_self()))
        pthread_kill(hv->thread, HW_KICK_SIGNAL);
    pthread_mutex_unlock(&hv->lock);
}

static int hw_set_guest_debug(KvmVcpu *vcpu, const struct kvm_guest_debug *dbg)
{
    struct kvm_guest_debug copy = *dbg;   /* the ioctl's argument is not const */
    return ioctl(vcpu->fd, KVM_SET_GUEST_DEBUG, &copy) < 0 ? hw_errno("KVM_SET_GUEST_DEBUG") : 0;
}

static int hw_interrupt(KvmVcpu *vcpu, uint32_t irq)
{
    struct kvm_interrupt intr = {.irq = irq};
    if (ioctl(vcpu->fd, KVM_INTERRUPT, &intr) < 0)
        return errno == EEXIST ? -EEXIST : hw_errno("KVM_INTERRUPT");
    return 0;
}

static int hw_nmi(KvmVcpu *vcpu)
{
    return ioctl(vcpu->fd, KVM_NMI, 0) < 0 ? hw_errno("KVM_NMI") : 0;
}

/* KVM_CREATE_IRQCHIP (8259A pair, IOAPIC and a LAPIC per vCPU in the kernel) and
 * KVM_CREATE_PIT2 (the 8254 and port 0x61 in the kernel): before the first vCPU. */
static int hw_create_irqchip(KvmVm *vm)
{
    if (ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0) < 0)
        return hw_errno("KVM_CREATE_IRQCHIP");
    struct kvm_pit_config pit = {.flags = 0};
    if (ioctl(vm->fd, KVM_CREATE_PIT2, &pit) < 0)
        return hw_errno("KVM_CREATE_PIT2");
    return 0;
}

static int hw_irq_line(KvmVm *vm, uint32_t irq, int level)
{
    struct kvm_irq_level l = {.irq = irq, .level = (uint32_t)level};
    return ioctl(vm->fd, KVM_IRQ_LINE, &l) < 0 ? hw_errno("KVM_IRQ_LINE") : 0;
}

static int hw_get_irqchip(KvmVm *vm, struct kvm_irqchip *chip)
{
    return ioctl(vm->fd, KVM_GET_IRQCHIP, chip) < 0 ? hw_errno("KVM_GET_IRQCHIP") : 0;
}

static int hw_get_lapic(KvmVcpu *vcpu, struct kvm_lapic_state *lapic)
{
    return ioctl(vcpu->fd, KVM_GET_LAPIC, lapic) < 0 ? hw_errno("KVM_GET_LAPIC") : 0;
}

static int hw_get_msrs(KvmVcpu *vcpu, struct kvm_msrs *msrs)
{
    int r = ioctl(vcpu->fd, KVM_GET_MSRS, msrs);
    return r < 0 ? hw_errno("KVM_GET_MSRS") : r;
}

static int hw_set_msrs(KvmVcpu *vcpu, struct kvm_msrs *msrs)
{
    int r = ioctl(vcpu->fd, KVM_SET_MSRS, msrs);
    return r < 0 ? hw_errno("KVM_SET_MSRS") : r;
}

static int hw_tsc_khz(KvmVcpu *vcpu)
{
    int r = ioctl(vcpu->fd, KVM_GET_TSC_KHZ, 0);
    return r < 0 ? hw_errno("KVM_GET_TSC_KHZ") : r;
}

static int hw_get_cpuid(KvmVcpu *vcpu, uint32_t function, uint32_t index, uint32_t out[4])
{
    enum { MAX = 256 };   /* KVM_MAX_CPUID_ENTRIES */
    struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + MAX * sizeof(c->entries[0]));
    if (!c)
        return hv_fail(ENOMEM, "out of memory");
    c->nent = MAX;
    int r = -ENOENT;
    if (ioctl(vcpu->fd, KVM_GET_CPUID2, c) < 0) {
        r = hw_errno("KVM_GET_CPUID2");
    } else {
        for (uint32_t i = 0; i < c->nent && i < MAX; i++) {
            const struct kvm_cpuid_entry2 *e = &c->entries[i];
            if (e->function != function ||
                ((e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) && e->index != index))
                continue;
            out[0] = e->eax, out[1] = e->ebx, out[2] = e->ecx, out[3] = e->edx;
            r = 0;
            break;
        }
    }
    free(c);
    return r;
}

static int hw_coalesced_mmio(KvmVm *vm, const struct kvm_coalesced_mmio_zone *zone, bool add)
{
    if (ioctl(vm->fd, add ? KVM_REGISTER_COALESCED_MMIO : KVM_UNREGISTER_COALESCED_MMIO,
              zone) < 0)
        return hw_errno(add ? "KVM_REGISTER_COALESCED_MMIO" : "KVM_UNREGISTER_COALESCED_MMIO");
    return 0;
}

/* The ring is the page KVM_CHECK_EXTENSION(KVM_CAP_COALESCED_MMIO) names in the vCPU's
 * mapping (KVM_COALESCED_MMIO_PAGE_OFFSET); the ring's size assumes 4 KiB pages. */
static struct kvm_coalesced_mmio_ring *hw_coalesced_ring(KvmVcpu *vcpu)
{
    int off = hw_check_extension(vcpu->vm->kvm, KVM_CAP_COALESCED_MMIO);
    if (off <= 0 || sysconf(_SC_PAGESIZE) != 4096 ||
        (size_t)(off + 1) * 4096 > vcpu->kvm_run_size)
        return NULL;
    return (struct kvm_coalesced_mmio_ring *)((uint8_t *)vcpu->kvm_run + (size_t)off * 4096);
}

const KvmBackendOps kvm_hw_ops = {
    .name = "kvm",
    .open = hw_open,
    .close = hw_close,
    .check_extension = hw_check_extension,
    .create_vm = hw_create_vm,
    .destroy_vm = hw_destroy_vm,
    .set_memory_region = hw_set_memory_region,
    .get_dirty_log = hw_get_dirty_log,
    .coalesced_mmio = hw_coalesced_mmio,
    .coalesced_ring = hw_coalesced_ring,
    .create_vcpu = hw_create_vcpu,
    .destroy_vcpu = hw_destroy_vcpu,
    .get_regs = hw_get_regs,
    .set_regs = hw_set_regs,
    .get_sregs = hw_get_sregs,
    .set_sregs = hw_set_sregs,
    .run = hw_run,
    .kick = hw_kick,
    .set_guest_debug = hw_set_guest_debug,
    .interrupt = hw_interrupt,
    .nmi = hw_nmi,
    .create_irqchip = hw_create_irqchip,
    .irq_line = hw_irq_line,
    .get_irqchip = hw_get_irqchip,
    .get_lapic = hw_get_lapic,
    .get_msrs = hw_get_msrs,
    .set_msrs = hw_set_msrs,
    .tsc_khz = hw_tsc_khz,
    .get_cpuid = hw_get_cpuid,
};
