/*
 * The public KVM API: backend choice and the bookkeeping shared by every backend (device,
 * VM and vCPU structs, memory slots, memory the library maps, the register mirror).
 * Talking to a kernel is the backend's job (kvm_hw.c, src/sim/kvm_sim.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kvm/backend.h"

#define PAGE_SIZE 4096u

struct HvMapping {
    void *addr;
    size_t size;
    uint32_t slot;
    struct HvMapping *next;
};

const char *hv_backend_name(HvBackend b)
{
    switch (b) {
    case HV_BACKEND_AUTO: return "auto";
    case HV_BACKEND_KVM: return "kvm";
    case HV_BACKEND_SIM: return "sim";
    }
    return "?";
}

KvmDevice *kvm_open(void) { return kvm_open_backend(HV_BACKEND_AUTO); }

/* AUTO picks KVM when usable and otherwise the software backend, saying so once. */
KvmDevice *kvm_open_backend(HvBackend b)
{
    hv_clear_error();
    char why[160] = "";
    if (b == HV_BACKEND_AUTO) {
        if (kvm_hw_usable(why, sizeof(why))) {
            b = HV_BACKEND_KVM;
        } else {
            static _Atomic int said;
            if (!said++)
                hv_log(HV_LOG_WARN, "KVM is not usable (%s): using the software backend", why);
            b = HV_BACKEND_SIM;
        }
    }
    KvmDevice *kvm = calloc(1, sizeof(*kvm));
    if (!kvm) {
        hv_fail(ENOMEM, "out of memory");
        return NULL;
    }
    kvm->fd = -1;
    kvm->backend = b;
    kvm->ops = b == HV_BACKEND_KVM ? &kvm_hw_ops : &kvm_sim_ops;
    int r = kvm->ops->open(kvm);
    if (r < 0) {
        free(kvm);
        errno = -r;
        return NULL;
    }
    return kvm;
}

int kvm_check_extension(KvmDevice *kvm, int cap)
{
    if (!kvm)
        return -EINVAL;
    return kvm->ops->check_extension(kvm, cap);
}

KvmVm *kvm_create_vm(KvmDevice *kvm)
{
    if (!kvm) {
        hv_fail(EINVAL, "kvm_create_vm: no device");
        return NULL;
    }
    KvmVm *vm = calloc(1, sizeof(*vm));
    if (!vm) {
        hv_fail(ENOMEM, "out of memory");
        return NULL;
    }
    vm->fd = -1;
    vm->kvm = kvm;
    int r = kvm->ops->create_vm(vm);
    if (r < 0) {
        free(vm);
        errno = -r;
        return NULL;
    }
    vm->next = kvm->vms;
    kvm->vms = vm;
    return vm;
}

static KvmUserspaceMemoryRegion *find_slot(KvmVm *vm, uint32_t slot)
{
    for (int i = 0; i < vm->num_regions; i++)
        if (vm->memory_regions[i].slot == slot)
            return &vm->memory_regions[i];
    return NULL;
}

static void unmap_slot_memory(KvmVm *vm, uint32_t slot)
{
    for (struct HvMapping **p = &vm->mappings; *p; p = &(*p)->next) {
        if ((*p)->slot == slot) {
            struct HvMapping *m = *p;
            *p = m->next;
            munmap(m->addr, m->size);
            free(m);
            return;
        }
    }
}

static void refresh_guest_memory(KvmVm *vm)
{
    /* the memory behind guest-physical addresses changed: decoded code must be checked */
    __atomic_add_fetch(&vm->host_write_gen, 1, __ATOMIC_RELEASE);
    if (vm->num_regions == 0) {
        vm->guest_memory = NULL;
        vm->memory_size = 0;
    } else if (!vm->guest_memory) {
        vm->guest_memory = (uint8_t *)(uintptr_t)vm->memory_regions[0].userspace_addr;
        vm->memory_size = vm->memory_regions[0].memory_size;
    }
}

static int delete_slot(KvmVm *vm, uint32_t slot)
{
    KvmUserspaceMemoryRegion *r = find_slot(vm, slot);
    if (!r)
        return hv_fail(ENOENT, "memory slot %u does not exist", slot);
    KvmUserspaceMemoryRegion del = *r;
    del.memory_size = 0;
    int err = vm->kvm->ops->set_memory_region(vm, &del);
    if (err < 0)
        return err;
    if (vm->guest_memory == (uint8_t *)(uintptr_t)r->userspace_addr)
        vm->guest_memory = NULL;
    *r = vm->memory_regions[--vm->num_regions];
    unmap_slot_memory(vm, slot);
    refresh_guest_memory(vm);
    return 0;
}

int kvm_set_user_memory_region(KvmVm *vm, uint32_t slot, uint64_t guest_addr, uint64_t size,
                               void *host_addr)
{
    return kvm_set_user_memory_region_flags(vm, slot, 0, guest_addr, size, host_addr);
}

/* Validates and records a slot, maps memory when host_addr is NULL, then hands the slot to
 * the backend. A slot keeps its range; only its flags can change in place (as in KVM). */
int kvm_set_user_memory_region_flags(KvmVm *vm, uint32_t slot, uint32_t flags,
                                     uint64_t guest_addr, uint64_t size, void *host_addr)
{
    hv_clear_error();
    if (!vm)
        return hv_fail(EINVAL, "no VM");
    if (slot >= KVM_MAX_MEMORY_REGIONS)
        return hv_fail(EINVAL, "memory slot %u: at most %d slots", slot, KVM_MAX_MEMORY_REGIONS);
    if (size == 0)
        return delete_slot(vm, slot);
    if (flags & ~(uint32_t)(KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY))
        return hv_fail(EINVAL, "memory slot %u: unknown flags 0x%x", slot, flags);
    if ((guest_addr | size) & (PAGE_SIZE - 1) || ((uintptr_t)host_addr & (PAGE_SIZE - 1)))
        return hv_fail(EINVAL, "memory slot %u: address and size must be 4 KiB aligned", slot);
    if (guest_addr + size < guest_addr)
        return hv_fail(EINVAL, "memory slot %u: range wraps", slot);

    KvmUserspaceMemoryRegion *existing = find_slot(vm, slot);
    if (existing) {
        bool same = existing->guest_phys_addr == guest_addr && existing->memory_size == size &&
                    (!host_addr || existing->userspace_addr == (uintptr_t)host_addr);
        if (!same)
            return hv_fail(EEXIST, "memory slot %u is in use (delete it first)", slot);
        KvmUserspaceMemoryRegion r = *existing;
        r.flags = flags;
        int err = vm->kvm->ops->set_memory_region(vm, &r);
        if (err < 0)
            return err;
        existing->flags = flags;
        return 0;
    }
    for (int i = 0; i < vm->num_regions; i++) {
        const KvmUserspaceMemoryRegion *o = &vm->memory_regions[i];
        if (guest_addr < o->guest_phys_addr + o->memory_size &&
            o->guest_phys_addr < guest_addr + size)
            return hv_fail(EEXIST, "memory slot %u overlaps slot %u", slot, o->slot);
    }

    struct HvMapping *mapping = NULL;
    if (!host_addr) {
        mapping = calloc(1, sizeof(*mapping));
        if (!mapping)
            return hv_fail(ENOMEM, "out of memory");
        host_addr = mmap(NULL, size, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (host_addr == MAP_FAILED) {
            free(mapping);
            return hv_fail(errno, "cannot map %llu bytes of guest memory: %s",
                           (unsigned long long)size, strerror(errno));
        }
        mapping->addr = host_addr;
        mapping->size = size;
        mapping->slot = slot;
    }
    KvmUserspaceMemoryRegion r = {
        .slot = slot,
        .flags = flags,
        .guest_phys_addr = guest_addr,
        .memory_size = size,
        .userspace_addr = (uintptr_t)host_addr,
    };
    int err = vm->kvm->ops->set_memory_region(vm, &r);
    if (err < 0) {
        if (mapping) {
            munmap(mapping->addr, mapping->size);
            free(mapping);
        }
        return err;
    }
    vm->memory_regions[vm->num_regions++] = r;
    if (mapping) {
        mapping->next = vm->mappings;
        vm->mappings = mapping;
    }
    refresh_guest_memory(vm);
    return 0;
}

void *kvm_guest_lookup(KvmVm *vm, uint64_t gpa, size_t len, bool writable)
{
    if (!vm || gpa + len < gpa)
        return NULL;
    for (int i = 0; i < vm->num_regions; i++) {
        const KvmUserspaceMemoryRegion *r = &vm->memory_regions[i];
        if (writable && (r->flags & KVM_MEM_READONLY))
            continue;
        if (gpa >= r->guest_phys_addr && gpa + len <= r->guest_phys_addr + r->memory_size)
            return (uint8_t *)(uintptr_t)r->userspace_addr + (gpa - r->guest_phys_addr);
    }
    return NULL;
}

/* kvm_guest_ptr, and with `writable` only a slot the guest can write (not
 * KVM_MEM_READONLY: firmware). */
static void *guest_ptr(KvmVm *vm, uint64_t gpa, size_t len, bool writable)
{
    void *p = kvm_guest_lookup(vm, gpa, len, writable);
    if (p)   /* the caller may write: the sim backend checks decoded code at the next run */
        __atomic_add_fetch(&vm->host_write_gen, 1, __ATOMIC_RELEASE);
    return p;
}

void *kvm_guest_ptr(KvmVm *vm, uint64_t gpa, size_t len) { return guest_ptr(vm, gpa, len, false); }

void *kvm_guest_ptr_writable(KvmVm *vm, uint64_t gpa, size_t len)
{
    return guest_ptr(vm, gpa, len, true);
}

static int coalesced_zone(KvmVm *vm, uint64_t addr, uint32_t size, bool add)
{
    if (!vm)
        return hv_fail(EINVAL, "coalesced MMIO: no VM");
    if (size == 0 || addr + size < addr)
        return hv_fail(EINVAL, "coalesced MMIO zone 0x%llx+0x%x: empty or wrapping",
                       (unsigned long long)addr, size);
    if (!vm->kvm->ops->coalesced_mmio || kvm_check_extension(vm->kvm, KVM_CAP_COALESCED_MMIO) <= 0)
        return hv_fail(ENOTSUP, "the %s backend has no coalesced MMIO (KVM_CAP_COALESCED_MMIO)",
                       vm->kvm->ops->name);
    struct kvm_coalesced_mmio_zone zone = {.addr = addr, .size = size};
    return vm->kvm->ops->coalesced_mmio(vm, &zone, add);
}

int kvm_register_coalesced_mmio(KvmVm *vm, uint64_t addr, uint32_t size)
{
    return coalesced_zone(vm, addr, size, true);
}

int kvm_unregister_coalesced_mmio(KvmVm *vm, uint64_t addr, uint32_t size)
{
    return coalesced_zone(vm, addr, size, false);
}

struct kvm_coalesced_mmio_ring *kvm_coalesced_mmio_ring(KvmVcpu *vcpu)
{
    if (!vcpu || !vcpu->vm->kvm->ops->coalesced_ring)
        return NULL;
    return vcpu->vm->kvm->ops->coalesced_ring(vcpu);
}

unsigned kvm_coalesced_mmio_drain(struct kvm_coalesced_mmio_ring *ring,
                                  void (*write)(void *opaque, uint64_t gpa, uint32_t len,
                                                uint64_t data),
                                  void *opaque)
{
    if (!ring)
        return 0;
    unsigned n = 0;
    uint32_t first = ring->first;
    /* the kernel publishes an entry, then `last`; the VMM reads `last`, then the entry */
    uint32_t last = __atomic_load_n(&ring->last, __ATOMIC_ACQUIRE);
    if (first >= KVM_COALESCED_MMIO_RING_MAX || last >= KVM_COALESCED_MMIO_RING_MAX)
        return 0;   /* indices out of range: nothing in it can be trusted */
    while (first != last) {
        const struct kvm_coalesced_mmio *m = &ring->coalesced_mmio[first];
        uint32_t len = m->len <= 8 ? m->len : 8;
        uint64_t data = 0;
        memcpy(&data, m->data, len);
        write(opaque, m->phys_addr, len, data);
        first = (first + 1) % (uint32_t)KVM_COALESCED_MMIO_RING_MAX;
        n++;
    }
    __atomic_store_n(&ring->first, first, __ATOMIC_RELEASE);
    return n;
}

void kvm_note_host_write(KvmVm *vm, uint64_t gpa, uint64_t len)
{
    (void)gpa;
    (void)len;
    if (vm)
        __atomic_add_fetch(&vm->host_write_gen, 1, __ATOMIC_RELEASE);
}

int kvm_get_dirty_log(KvmVm *vm, uint32_t slot, uint64_t *bitmap)
{
    if (!vm || !bitmap)
        return hv_fail(EINVAL, "kvm_get_dirty_log: bad arguments");
    const KvmUserspaceMemoryRegion *r = find_slot(vm, slot);
    if (!r)
        return hv_fail(ENOENT, "memory slot %u does not exist", slot);
    if (!(r->flags & KVM_MEM_LOG_DIRTY_PAGES))
        return hv_fail(ENOENT, "memory slot %u does not log dirty pages", slot);
    return vm->kvm->ops->get_dirty_log(vm, slot, bitmap);
}

/* The seed's initial vCPU state: real mode, flat 64 KiB segments at 0, 0000:7C00. */
static void seed_initial_state(KvmRegs *regs, KvmSregs *sregs)
{
    KvmSegment *segs[] = {&sregs->cs, &sregs->ds, &sregs->es,
                          &sregs->fs, &sregs->gs, &sregs->ss};
    for (size_t i = 0; i < sizeof(segs) / sizeof(segs[0]); i++) {
        segs[i]->selector = 0;
        segs[i]->base = 0;
        segs[i]->limit = 0xFFFF;
    }
    memset(regs, 0, sizeof(*regs));
    regs->rip = 0x7C00;
    regs->rflags = 0x2;
}

KvmVcpu *kvm_create_vcpu(KvmVm *vm, int vcpu_id)
{
    if (!vm || vcpu_id < 0) {
        hv_fail(EINVAL, "kvm_create_vcpu: bad arguments");
        return NULL;
    }
    KvmVcpu *vcpu = calloc(1, sizeof(*vcpu));
    if (!vcpu) {
        hv_fail(ENOMEM, "out of memory");
        return NULL;
    }
    vcpu->fd = -1;
    vcpu->vm = vm;
    vcpu->vcpu_id = vcpu_id;
    const KvmBackendOps *ops = vm->kvm->ops;
    int r = ops->create_vcpu(vcpu);
    if (r < 0)
        goto fail_free;
    if ((r = ops->get_sregs(vcpu, &vcpu->sregs)) < 0 || (r = ops->get_regs(vcpu, &vcpu->regs)) < 0)
        goto fail_destroy;
    seed_initial_state(&vcpu->regs, &vcpu->sregs);
    if ((r = ops->set_sregs(vcpu, &vcpu->sregs)) < 0 || (r = ops->set_regs(vcpu, &vcpu->regs)) < 0)
        goto fail_destroy;
    vcpu->regs_synced = vcpu->regs;
    vcpu->sregs_synced = vcpu->sregs;
    vcpu->next = vm->vcpus;
    vm->vcpus = vcpu;
    return vcpu;

fail_destroy:
    ops->destroy_vcpu(vcpu);
fail_free:
    free(vcpu);
    errno = -r;
    return NULL;
}

void kvm_destroy_vcpu(KvmVcpu *vcpu)
{
    if (!vcpu)
        return;
    for (KvmVcpu **p = &vcpu->vm->vcpus; *p; p = &(*p)->next) {
        if (*p == vcpu) {
            *p = vcpu->next;
            break;
        }
    }
    vcpu->vm->kvm->ops->destroy_vcpu(vcpu);
    free(vcpu);
}

int kvm_set_regs(KvmVcpu *vcpu, const KvmRegs *regs)
{
    if (!vcpu || !regs)
        return -EINVAL;
    int r = vcpu->vm->kvm->ops->set_regs(vcpu, regs);
    if (r == 0)
        vcpu->regs = vcpu->regs_synced = *regs;
    return r;
}

/* While the caller has written vcpu->regs and not run yet, that is the vCPU's state;
 * otherwise the kernel is asked. */
int kvm_get_regs(KvmVcpu *vcpu, KvmRegs *regs)
{
    if (!vcpu || !regs)
        return -EINVAL;
    if (memcmp(&vcpu->regs, &vcpu->regs_synced, sizeof(*regs)) != 0) {
        *regs = vcpu->regs;
        return 0;
    }
    int r = vcpu->vm->kvm->ops->get_regs(vcpu, regs);
    if (r == 0)
        vcpu->regs = vcpu->regs_synced = *regs;
    return r;
}

int kvm_set_sregs(KvmVcpu *vcpu, const KvmSregs *sregs)
{
    if (!vcpu || !sregs)
        return -EINVAL;
    int r = vcpu->vm->kvm->ops->set_sregs(vcpu, sregs);
    if (r == 0)
        vcpu->sregs = vcpu->sregs_synced = *sregs;
    return r;
}

int kvm_get_sregs(KvmVcpu *vcpu, KvmSregs *sregs)
{
    if (!vcpu || !sregs)
        return -EINVAL;
    if (memcmp(&vcpu->sregs, &vcpu->sregs_synced, sizeof(*sregs)) != 0) {
        *sregs = vcpu->sregs;
        return 0;
    }
    int r = vcpu->vm->kvm->ops->get_sregs(vcpu, sregs);
    if (r == 0)
        vcpu->sregs = vcpu->sregs_synced = *sregs;
    return r;
}

int kvm_run(KvmVcpu *vcpu)
{
    if (!vcpu)
        return -EINVAL;
    return vcpu->vm->kvm->ops->run(vcpu);
}

void kvm_vcpu_kick(KvmVcpu *vcpu)
{
    if (!vcpu || !vcpu->kvm_run)
        return;
    __atomic_store_n(&vcpu->kvm_run->immediate_exit, 1, __ATOMIC_SEQ_CST);
    if (vcpu->vm->kvm->ops->kick)
        vcpu->vm->kvm->ops->kick(vcpu);
}

int kvm_interrupt(KvmVcpu *vcpu, uint32_t irq)
{
    if (!vcpu || irq > 255)
        return -EINVAL;
    return vcpu->vm->kvm->ops->interrupt(vcpu, irq);
}

int kvm_create_irqchip(KvmVm *vm)
{
    if (!vm)
        return -EINVAL;
    if (!vm->kvm->ops->create_irqchip)
        return hv_fail(ENOTSUP, "an in-kernel irqchip needs the kvm backend");
    if (vm->vcpus)
        return hv_fail(EBUSY, "KVM_CREATE_IRQCHIP must come before the first vCPU");
    int r = vm->kvm->ops->create_irqchip(vm);
    if (r == 0)
        vm->kernel_irqchip = true;
    return r;
}

int kvm_irq_line(KvmVm *vm, uint32_t irq, int level)
{
    if (!vm || !vm->kernel_irqchip)
        return -EINVAL;
    return vm->kvm->ops->irq_line(vm, irq, level);
}

int kvm_get_irqchip(KvmVm *vm, struct kvm_irqchip *chip)
{
    if (!vm || !chip || !vm->kernel_irqchip)
        return -EINVAL;
    return vm->kvm->ops->get_irqchip(vm, chip);
}

int kvm_get_lapic(KvmVcpu *vcpu, struct kvm_lapic_state *lapic)
{
    if (!vcpu || !lapic || !vcpu->vm->kernel_irqchip)
        return -EINVAL;
    return vcpu->vm->kvm->ops->get_lapic(vcpu, lapic);
}

int kvm_vcpu_get_msrs(KvmVcpu *vcpu, struct kvm_msrs *msrs)
{
    if (!vcpu || !msrs)
        return -EINVAL;
    return vcpu->vm->kvm->ops->get_msrs(vcpu, msrs);
}

int kvm_vcpu_set_msrs(KvmVcpu *vcpu, struct kvm_msrs *msrs)
{
    if (!vcpu || !msrs)
        return -EINVAL;
    return vcpu->vm->kvm->ops->set_msrs(vcpu, msrs);
}

int kvm_vcpu_get_msr(KvmVcpu *vcpu, uint32_t index, uint64_t *value)
{
    /* struct kvm_msrs ends in a flexible array: one entry after its header */
    _Alignas(struct kvm_msr_entry) uint8_t buf[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
    struct kvm_msrs *m = (struct kvm_msrs *)buf;
    memset(buf, 0, sizeof buf);
    m->nmsrs = 1;
    m->entries[0].index = index;
    int r = kvm_vcpu_get_msrs(vcpu, m);
    if (r < 0)
        return r;
    if (r != 1)
        return -EINVAL;
    *value = m->entries[0].data;
    return 0;
}

int kvm_vcpu_set_msr(KvmVcpu *vcpu, uint32_t index, uint64_t value)
{
    _Alignas(struct kvm_msr_entry) uint8_t buf[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
    struct kvm_msrs *m = (struct kvm_msrs *)buf;
    memset(buf, 0, sizeof buf);
    m->nmsrs = 1;
    m->entries[0].index = index;
    m->entries[0].data = value;
    int r = kvm_vcpu_set_msrs(vcpu, m);
    return r < 0 ? r : r == 1 ? 0 : -EINVAL;
}

int kvm_vcpu_tsc_khz(KvmVcpu *vcpu)
{
    if (!vcpu)
        return -EINVAL;
    return vcpu->vm->kvm->ops->tsc_khz(vcpu);
}

int kvm_vcpu_get_cpuid(KvmVcpu *vcpu, uint32_t function, uint32_t index, uint32_t out[4])
{
    if (!vcpu || !out)
        return -EINVAL;
    return vcpu->vm->kvm->ops->get_cpuid(vcpu, function, index, out);
}

int kvm_nmi(KvmVcpu *vcpu)
{
    if (!vcpu)
        return -EINVAL;
    return vcpu->vm->kvm->ops->nmi(vcpu);
}

int kvm_set_guest_debug(KvmVcpu *vcpu, uint32_t control)
{
    if (control & ~(uint32_t)(KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP))
        return hv_fail(EINVAL, "guest debug control 0x%x: only ENABLE and SINGLESTEP", control);
    struct kvm_guest_debug dbg = {.control = control};
    return kvm_set_guest_debug2(vcpu, &dbg);
}

int kvm_set_guest_debug2(KvmVcpu *vcpu, const struct kvm_guest_debug *dbg)
{
    if (!vcpu || !dbg)
        return -EINVAL;
    uint32_t known = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP | KVM_GUESTDBG_USE_SW_BP |
                     KVM_GUESTDBG_USE_HW_BP;
    if (vcpu->vm->kvm->backend == HV_BACKEND_SIM)
        known |= KVM_GUESTDBG_SIM_MAGIC_BREAK;
    if (dbg->control & ~known)
        return hv_fail(EINVAL, "guest debug control 0x%x: unsupported bits 0x%x on %s",
                       dbg->control, dbg->control & ~known, vcpu->vm->kvm->ops->name);
    return vcpu->vm->kvm->ops->set_guest_debug(vcpu, dbg);
}

void kvm_destroy_vm(KvmVm *vm)
{
    if (!vm)
        return;
    while (vm->vcpus)
        kvm_destroy_vcpu(vm->vcpus);
    for (KvmVm **p = &vm->kvm->vms; *p; p = &(*p)->next) {
        if (*p == vm) {
            *p = vm->next;
            break;
        }
    }
    vm->kvm->ops->destroy_vm(vm);
    while (vm->mappings) {
        struct HvMapping *m = vm->mappings;
        vm->mappings = m->next;
        munmap(m->addr, m->size);
        free(m);
    }
    free(vm);
}

void kvm_close(KvmDevice *kvm)
{
    if (!kvm)
        return;
    while (kvm->vms)
        kvm_destroy_vm(kvm->vms);
    kvm->ops->close(kvm);
    free(kvm);
}
