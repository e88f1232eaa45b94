/*
 * The sim backend: a software model of a VT-x processor under the KVM API.
 *
 * One KVM_RUN is one VM entry and one VM exit as the VMM sees them (DESIGN.md, "Inside the
 * sim kernel"): the vCPU's registers are loaded into the interpreter and stored in the
 * VMCS guest-state area, which is checked as VM entry checks it (SDM Vol. 3C, 27.3.1);
 * the interpreter runs; each exit is recorded in the VMCS (basic exit reason, exit
 * qualification, instruction length, guest-physical and linear address) and then either
 * handled here, as kvm.ko handles it (CPUID, MSRs), or turned into a struct kvm_run exit
 * with Linux KVM's semantics (I/O and MMIO completed by the next KVM_RUN, HLT, SHUTDOWN,
 * FAIL_ENTRY, INTERNAL_ERROR).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "kvm/backend.h"
#include "sim/cpu/cpu.h"
#include "sim/sim_time.h"
#include "sim/vmcs.h"

#define SIM_PAGE 4096u
#define SIM_PAGE_CACHE 1024u   /* sim_page translations a vCPU keeps */
/* struct kvm_run, the I/O data page (KVM_PIO_PAGE_OFFSET), the coalesced MMIO ring
 * (KVM_COALESCED_MMIO_PAGE_OFFSET): Linux's x86 layout of the vCPU mapping. */
#define SIM_RING_PAGE 2u
#define SIM_RUN_SIZE (3 * SIM_PAGE)
#define SIM_COALESCED_ZONES 32   /* zones per VM (KVM_REGISTER_COALESCED_MMIO) */
#define SIM_IO_DATA_OFFSET SIM_PAGE

/* MSRs the kernel emulates (SDM Vol. 4); the MTRRs and KVM's in sim/sim_time.h. */
#define MSR_IA32_TSC          0x10
#define MSR_IA32_PLATFORM_ID  0x17
#define MSR_IA32_APIC_BASE    0x1B
#define MSR_IA32_EBL_CR_POWERON 0x2A
#define MSR_IA32_FEATURE_CONTROL 0x3A
#define MSR_IA32_TSC_ADJUST   0x3B
#define MSR_IA32_BIOS_UPDT_TRIG 0x79
#define MSR_IA32_BIOS_SIGN_ID 0x8B
#define MSR_IA32_DEBUGCTL     0x1D9
#define MSR_IA32_TSC_DEADLINE 0x6E0
#define MSR_IA32_SYSENTER_CS  0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MISC_ENABLE  0x1A0
#define MSR_IA32_TSC_AUX      0xC0000103
#define MSR_IA32_PAT          0x277
#define MSR_IA32_EFER         0xC0000080
#define MSR_IA32_STAR         0xC0000081
#define MSR_IA32_LSTAR        0xC0000082
#define MSR_IA32_CSTAR        0xC0000083
#define MSR_IA32_FMASK        0xC0000084
#define MSR_IA32_FS_BASE      0xC0000100
#define MSR_IA32_GS_BASE      0xC0000101
#define MSR_IA32_KERNEL_GS_BASE 0xC0000102
#define APIC_BASE_DEFAULT     0xFEE00900ull   /* BSP, enabled, at 0xFEE00000 */
#define APIC_BASE_BSP         (1ull << 8)
#define APIC_BASE_EN          (1ull << 11)
#define APIC_BASE_MASK        0x0000000FFFFFF000ull   /* bits 35:12 (MAXPHYADDR 36) */
#define PAT_DEFAULT           0x0007040600070406ull
/* IA32_MISC_ENABLE as KVM resets it (PEBS and BTS unavailable, read-only to the guest)
 * plus fast strings (bit 0), which Linux checks on family 6 model 13 and later. */
#define MISC_ENABLE_FAST_STRING   (1ull << 0)
#define MISC_ENABLE_EMON          (1ull << 7)
#define MISC_ENABLE_BTS_UNAVAIL   (1ull << 11)
#define MISC_ENABLE_PEBS_UNAVAIL  (1ull << 12)
#define MISC_ENABLE_RESET (MISC_ENABLE_FAST_STRING | MISC_ENABLE_BTS_UNAVAIL | \
                           MISC_ENABLE_PEBS_UNAVAIL)
/* IA32_FEATURE_CONTROL as firmware leaves it on a CPU without VMX or SMX to offer: locked
 * (bit 0), nothing enabled; a write is then #GP (SDM Vol. 3C, 24.7). */
#define FEATURE_CONTROL_LOCKED 1ull
/* IA32_BIOS_SIGN_ID: KVM's default microcode revision, 1 in bits 63:32 (kvm_arch_vcpu_create
 * sets microcode_version 0x100000000); a guest's write is ignored. */
#define SIM_MICROCODE_REV 0x100000000ull

typedef enum {
    PENDING_NONE, PENDING_IO, PENDING_MMIO_READ, PENDING_HYPERCALL, PENDING_MSR
} SimPending;

typedef struct {
    /* Every guest-physical access of the VM's vCPUs goes through these tables (DESIGN.md:
     * memory slots become EPT mappings). Changed only while no vCPU runs. */
    EptContext *ept;
    /* Coalesced MMIO: the zones, and the ring (one per VM, as Linux's, in the vCPU's
     * mapping at page SIM_RING_PAGE; NULL until the vCPU exists). */
    struct kvm_coalesced_mmio_zone zones[SIM_COALESCED_ZONES];
    int num_zones;
    struct kvm_coalesced_mmio_ring *ring;
    /* The VM clock the TSC and kvm-clock count (kvm_vm_set_clock): kvm-clock is
     * clock_fn() - clock_base nanoseconds; wall_ns is the wall-clock time (ns since 1970)
     * at kvm-clock 0. */
    uint64_t (*clock_fn)(void *opaque);
    void *clock_opaque;
    uint64_t clock_base, wall_ns;
    uint64_t wall_clock_msr;   /* MSR_KVM_WALL_CLOCK_NEW: one per VM, as in KVM */
} SimVm;

typedef struct {
    X86Cpu *cpu;
    KvmVm *vm;
    VMCS vmcs;
    SimPending pending;
    uint64_t ept_generation;   /* of the EPT the TLB was filled from */
    /* sim_page's last EPT translations (page-table pages walked on every TLB miss, the
     * pages the TLB maps), each valid while the EPT's generation is its own. */
    struct SimPageCache {
        uint64_t gpa_page;     /* ~0: empty */
        uint64_t generation;
        uint8_t *host;
        unsigned access;       /* the X86_ACCESS_* bits the EPT allowed */
    } page_cache[SIM_PAGE_CACHE];
    /* The last EPT walk that did not give the CPU a page, for the exit that follows. */
    uint64_t fault_gpa_page, fault_qualification;
    int fault_result;          /* EPT_VIOLATION or EPT_MISCONFIG */
    uint64_t kernel_exits;     /* EPT violations resolved here (dirty logging) */
    uint64_t pat;
    char note[128];         /* why the last run could not go on (INTERNAL_ERROR, FAIL_ENTRY) */
    bool singlestep;        /* KVM_GUESTDBG_SINGLESTEP (sim_set_guest_debug) */
    uint64_t insn_limit;    /* kvm_vcpu_set_instruction_limit: retired instructions, 0 none */
    bool limit_reached;     /* the last run ended at insn_limit */
    KvmEventFn event_fn;    /* kvm_vcpu_set_event_hook */
    void *event_opaque;
    bool step_done;         /* single-step: the last exit's instruction is complete */
    uint64_t icount_deadline;   /* kvm_vcpu_set_icount_deadline; UINT64_MAX: none */
    uint64_t apic_base;         /* IA32_APIC_BASE, as KVM keeps it for a userspace APIC */
    uint8_t apic_id;            /* the initial APIC ID: the vCPU id (CPUID leaf 1 EBX) */
    uint64_t host_write_gen;    /* the VM's host_write_gen at the last run's entry */
    /* Time: the guest's TSC is the VM clock at SIM_TSC_HZ plus tsc_offset (IA32_TSC and
     * IA32_TSC_ADJUST writes move it); kvm-clock's MSR and the version last written. */
    uint64_t tsc_offset, tsc_adjust;
    uint64_t system_time_msr;
    uint32_t pvclock_version;
    /* MTRRs (SDM Vol. 3A, 12.11): MTRRdefType, the 11 fixed-range registers, and
     * PHYSBASE/PHYSMASK pairs; memory types have no effect on this CPU. */
    uint64_t mtrr_def, mtrr_fixed[SIM_MTRR_FIXED], mtrr_var[2 * SIM_MTRR_VAR];
    uint64_t misc_enable;
    /* KVM_EXIT_X86_RDMSR / WRMSR: the MSR user space completes at the next KVM_RUN. */
    bool msr_exit_read;
} SimVcpu;

/* ---- memory: the interpreter's pages come from the EPT ---- */

/* Guest-physical page -> host page through the EPT (the host-physical address of a page
 * is its host virtual address in the simulator). A write to a page write-protected for
 * dirty logging is an EPT violation the kernel resolves at once, as KVM does without PML;
 * any other violation or misconfiguration returns NULL and is remembered for the exit the
 * CPU takes next (MMIO). */
static void page_cache_reset(SimVcpu *sc)
{
    for (unsigned i = 0; i < SIM_PAGE_CACHE; i++)
        sc->page_cache[i].gpa_page = ~0ull;
}

/* sim_page without a cached translation: the EPT walk, and the cache filled from it. */
static __attribute__((noinline)) uint8_t *sim_page_walk(SimVcpu *sc, EptContext *ept,
                                                        uint64_t gpa_page, unsigned access)
{
    uint64_t hpa, qualification;
    int r = ept_translate(ept, gpa_page, access, &hpa, &qualification);
    if (r == EPT_VIOLATION && ept_handle_violation(ept, gpa_page, qualification) == 0) {
        sc->kernel_exits++;
        /* Only this page gained write permission: nothing the TLB holds went stale. */
        sc->ept_generation = ept_generation(ept);
        r = ept_translate(ept, gpa_page, access, &hpa, &qualification);
    }
    if (r == EPT_OK) {
        uint8_t *host = (uint8_t *)(uintptr_t)hpa;
        if (ept && !ept->accessed_dirty) {
            struct SimPageCache *c = &sc->page_cache[(gpa_page >> 12) % SIM_PAGE_CACHE];
            if (c->gpa_page != gpa_page || c->generation != ept->generation || c->host != host)
                *c = (struct SimPageCache){gpa_page, ept->generation, host, 0};
            c->access |= access;
        }
        return host;
    }
    sc->fault_gpa_page = gpa_page;
    sc->fault_qualification = qualification;
    sc->fault_result = r;
    return NULL;
}

static uint8_t *sim_page(void *opaque, uint64_t gpa_page, unsigned access)
{
    SimVcpu *sc = opaque;
    EptContext *ept = ((SimVm *)sc->vm->backend_data)->ept;
    /* Every change of a mapping or its permissions bumps the generation, so a translation
     * cached under the current one is what ept_translate would give; not with EPT A/D
     * bits, which each translation must set (sim_page_walk caches none then). */
    const struct SimPageCache *c = &sc->page_cache[(gpa_page >> 12) % SIM_PAGE_CACHE];
    if (__builtin_expect(ept && c->gpa_page == gpa_page && c->generation == ept->generation &&
                         (c->access & access) == access && !ept->accessed_dirty, 1))
        return c->host;
    return sim_page_walk(sc, ept, gpa_page, access);
}

/* Writes `len` bytes at guest-physical `gpa` as the kernel writes guest memory (KVM's
 * kvm_write_guest): through the EPT, page by page, with write permission (dirty logging
 * records it); -EFAULT, and nothing written, when any byte is not writable RAM. Decoded
 * code there is dropped, as for any host write. */
static int guest_write(SimVcpu *sc, uint64_t gpa, const void *data, size_t len)
{
    if (len == 0 || gpa + len < gpa)
        return -EFAULT;
    uint64_t first = gpa & ~(uint64_t)(SIM_PAGE - 1), last = (gpa + len - 1) & ~(uint64_t)(SIM_PAGE - 1);
    for (uint64_t page = first;; page += SIM_PAGE) {
        if (!sim_page(sc, page, X86_ACCESS_WRITE))
            return -EFAULT;
        if (page == last)
            break;
    }
    const uint8_t *src = data;
    while (len) {
        uint64_t page = gpa & ~(uint64_t)(SIM_PAGE - 1);
        size_t n = SIM_PAGE - (size_t)(gpa - page);
        if (n > len)
            n = len;
        memcpy(sim_page(sc, page, X86_ACCESS_WRITE) + (gpa - page), src, n);
        x86_cpu_invalidate_code(sc->cpu, gpa, n);
        gpa += n;
        src += n;
        len -= n;
    }
    return 0;
}

/* Reads 4 bytes of guest RAM at `gpa` (in one page); -EFAULT when it is not RAM. */
static int guest_read32(SimVcpu *sc, uint64_t gpa, uint32_t *v)
{
    uint64_t page = gpa & ~(uint64_t)(SIM_PAGE - 1);
    if (gpa - page > SIM_PAGE - 4)
        return -EFAULT;
    uint8_t *p = sim_page(sc, page, X86_ACCESS_READ);
    if (!p)
        return -EFAULT;
    memcpy(v, p + (gpa - page), 4);
    return 0;
}

/* ---- time: the VM clock, the TSC and kvm-clock ---- */

/* The default VM clock, the host's as in Linux KVM (CLOCK_MONOTONIC). */
static uint64_t host_clock_ns(void *opaque)
{
    (void)opaque;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t host_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* kvm-clock: nanoseconds of the VM clock since it was set. */
static uint64_t kvmclock_ns(const SimVm *sv)
{
    return sv->clock_fn(sv->clock_opaque) - sv->clock_base;
}

static uint64_t guest_tsc(const SimVcpu *sc)
{
    return sim_ns_to_tsc(kvmclock_ns(sc->vm->backend_data)) + sc->tsc_offset;
}

/* RDTSC and RDTSCP read this (X86Cpu.tsc_read). */
static uint64_t cpu_tsc_read(void *opaque) { return guest_tsc(opaque); }

/* Writes the vCPU's pvclock_vcpu_time_info when kvm-clock is on (MSR_KVM_SYSTEM_TIME_NEW
 * bit 0), with the version protocol of Documentation/virt/kvm/x86/msr.rst: the version
 * goes odd, the fields are written, then it goes even (the vCPU is stopped meanwhile, but
 * the guest may read the page from elsewhere). An address that is not RAM is ignored, as
 * KVM leaves such a clock unwritten. Called on enable and whenever the TSC's relation to
 * the VM clock changes (IA32_TSC, IA32_TSC_ADJUST, kvm_vm_set_clock); in between the
 * guest's extrapolation is exact, both counting the same clock. */
static void kvmclock_update(SimVcpu *sc)
{
    if (!(sc->system_time_msr & 1))
        return;
    uint64_t gpa = sc->system_time_msr & ~1ull;
    uint32_t version;
    if (guest_read32(sc, gpa, &version) < 0)
        return;
    /* Start from the guest's value, made even (junk at enable, as KVM does). */
    version = (version + 1) & ~1u;
    uint8_t img[PVCLOCK_VCPU_SIZE];
    uint64_t ns = kvmclock_ns(sc->vm->backend_data);
    uint64_t tsc = sim_ns_to_tsc(ns) + sc->tsc_offset;
    uint32_t odd = version + 1;
    if (guest_write(sc, gpa, &odd, 4) < 0)
        return;
    sim_pvclock_vcpu_image(img, odd, tsc, ns, PVCLOCK_TSC_STABLE_BIT);
    guest_write(sc, gpa + 4, img + 4, sizeof img - 4);
    sc->pvclock_version = version + 2;
    guest_write(sc, gpa, &sc->pvclock_version, 4);
}

/* MSR_KVM_WALL_CLOCK_NEW: the wall-clock time at kvm-clock 0, once, at the address
 * written; its version goes odd then even. An address that is not RAM is ignored. */
static void kvmclock_wall(SimVcpu *sc, uint64_t gpa)
{
    SimVm *sv = sc->vm->backend_data;
    uint32_t version;
    if (guest_read32(sc, gpa, &version) < 0)
        return;
    version = (version + 1) & ~1u;
    uint8_t img[PVCLOCK_WALL_SIZE];
    uint32_t odd = version + 1;
    if (guest_write(sc, gpa, &odd, 4) < 0)
        return;
    sim_pvclock_wall_image(img, version + 2, sv->wall_ns);
    guest_write(sc, gpa + 4, img + 4, sizeof img - 4);
    guest_write(sc, gpa, img, 4);
}

/* Sets the TSC to `value` now (WRMSR IA32_TSC): the offset moves, and IA32_TSC_ADJUST
 * with it by the same amount (SDM Vol. 3B, 18.17.3). */
static void set_tsc(SimVcpu *sc, uint64_t value)
{
    uint64_t now = guest_tsc(sc);
    sc->tsc_adjust += value - now;
    sc->tsc_offset += value - now;
    kvmclock_update(sc);
}

int kvm_vm_set_clock(KvmVm *vm, uint64_t (*now_ns)(void *opaque), void *opaque,
                     uint64_t wall_ns)
{
    if (!vm || !now_ns)
        return -EINVAL;
    if (vm->kvm->backend != HV_BACKEND_SIM)
        return -ENOTSUP;
    SimVm *sv = vm->backend_data;
    sv->clock_fn = now_ns;
    sv->clock_opaque = opaque;
    sv->clock_base = now_ns(opaque);
    sv->wall_ns = wall_ns;
    for (KvmVcpu *v = vm->vcpus; v; v = v->next) {
        SimVcpu *sc = v->backend_data;
        if (!sc)
            continue;
        sc->tsc_offset = 0;   /* every TSC restarts at 0 with kvm-clock, as at reset */
        sc->tsc_adjust = 0;
        kvmclock_update(sc);
    }
    return 0;
}

static const KvmUserspaceMemoryRegion *find_region(KvmVm *vm, uint32_t slot)
{
    for (int i = 0; i < vm->num_regions; i++)
        if (vm->memory_regions[i].slot == slot)
            return &vm->memory_regions[i];
    return NULL;
}

/* ---- the device and the VM ---- */

static int sim_check_extension(KvmDevice *kvm, int cap)
{
    (void)kvm;
    switch (cap) {
    case KVM_CAP_USER_MEMORY:
    case KVM_CAP_IMMEDIATE_EXIT:
    case KVM_CAP_READONLY_MEM:
    case KVM_CAP_EXT_CPUID:
        return 1;
    case KVM_CAP_NR_MEMSLOTS:
        return KVM_MAX_MEMORY_REGIONS;
    case KVM_CAP_COALESCED_MMIO:
        return SIM_RING_PAGE;   /* as Linux: the ring's page offset in the vCPU mapping */
    case KVM_CAP_NR_VCPUS:
    case KVM_CAP_MAX_VCPUS:
        return 1;
    default:
        return 0;
    }
}

static int sim_open(KvmDevice *kvm)
{
    kvm->api_version = KVM_API_VERSION;
    for (int cap = 0; cap < 64; cap++)
        kvm->extensions[cap] = sim_check_extension(kvm, cap);
    return 0;
}

static void sim_close(KvmDevice *kvm) { (void)kvm; }

static int sim_create_vm(KvmVm *vm)
{
    SimVm *sv = calloc(1, sizeof(*sv));
    if (!sv)
        return hv_fail(ENOMEM, "out of memory");
    sv->ept = ept_create(0);
    if (!sv->ept) {
        free(sv);
        return hv_fail(ENOMEM, "out of memory for the EPT");
    }
    sv->clock_fn = host_clock_ns;
    sv->clock_base = host_clock_ns(NULL);
    sv->wall_ns = host_wall_ns();
    vm->backend_data = sv;
    return 0;
}

/* Whether [gpa, gpa + len) lies wholly inside zone `z` (no sum can wrap: a zone is
 * checked not to wrap when it is added, and the tests are written as differences). */
static bool zone_holds(const struct kvm_coalesced_mmio_zone *z, uint64_t gpa, uint64_t len)
{
    return gpa >= z->addr && len <= z->size && gpa - z->addr <= z->size - len;
}

/* KVM_REGISTER_COALESCED_MMIO adds a zone (overlaps are allowed, as in Linux);
 * KVM_UNREGISTER_COALESCED_MMIO drops every zone that holds the whole range given, as
 * Linux's kvm_vm_ioctl_unregister_coalesced_mmio does (a range wider than a zone leaves
 * it in place). -EINVAL for a pio field other than 0 or 1 or a zone that wraps, -ENOTSUP
 * for port I/O zones, -ENOBUFS when SIM_COALESCED_ZONES are in use. */
static int sim_coalesced_mmio(KvmVm *vm, const struct kvm_coalesced_mmio_zone *z, bool add)
{
    SimVm *sv = vm->backend_data;
    if (z->pio > 1)
        return hv_fail(EINVAL, "coalesced MMIO zone: pio is %u, not 0 or 1", z->pio);
    if (z->pio)
        return hv_fail(ENOTSUP, "coalesced port I/O is not implemented on the sim backend");
    if (z->addr + z->size < z->addr)
        return hv_fail(EINVAL, "coalesced MMIO zone 0x%llx+0x%x wraps",
                       (unsigned long long)z->addr, z->size);
    if (add) {
        if (sv->num_zones == SIM_COALESCED_ZONES)
            return hv_fail(ENOBUFS, "too many coalesced MMIO zones (%d)", SIM_COALESCED_ZONES);
        sv->zones[sv->num_zones++] = *z;
        return 0;
    }
    int k = 0;
    for (int i = 0; i < sv->num_zones; i++)
        if (!zone_holds(&sv->zones[i], z->addr, z->size))
            sv->zones[k++] = sv->zones[i];
    sv->num_zones = k;
    return 0;
}

static struct kvm_coalesced_mmio_ring *sim_coalesced_ring(KvmVcpu *vcpu)
{
    return ((SimVm *)vcpu->vm->backend_data)->ring;
}

/* A guest MMIO write the kernel keeps (Linux's coalesced_mmio_write): wholly inside a
 * zone, and room in the ring, which keeps one slot free so that first == last means
 * empty. False: the write exits to the VMM as usual. */
static bool coalesce_write(SimVm *sv, uint64_t gpa, unsigned len, uint64_t data)
{
    struct kvm_coalesced_mmio_ring *ring = sv->ring;
    if (!ring || sv->num_zones == 0 || len == 0 || len > 8)
        return false;
    bool in_zone = false;
    for (int i = 0; i < sv->num_zones && !in_zone; i++)
        in_zone = zone_holds(&sv->zones[i], gpa, len);
    if (!in_zone)
        return false;
    const uint32_t max = (uint32_t)KVM_COALESCED_MMIO_RING_MAX;
    uint32_t last = ring->last;
    uint32_t first = __atomic_load_n(&ring->first, __ATOMIC_ACQUIRE);
    if (last >= max || first >= max || (last + 1) % max == first)
        return false;   /* full (or a ring the VMM broke): exit */
    struct kvm_coalesced_mmio *m = &ring->coalesced_mmio[last];
    m->phys_addr = gpa;
    m->len = len;
    m->pad = 0;
    memset(m->data, 0, sizeof(m->data));
    memcpy(m->data, &data, len);
    __atomic_store_n(&ring->last, (last + 1) % max, __ATOMIC_RELEASE);
    return true;
}

static void sim_destroy_vm(KvmVm *vm)
{
    SimVm *sv = vm->backend_data;
    if (sv)
        ept_destroy(sv->ept);
    free(sv);
}

static uint32_t slot_permissions(uint32_t flags)
{
    return EPT_READ | EPT_EXECUTE | ((flags & KVM_MEM_READONLY) ? 0 : EPT_WRITE);
}

/* A memory slot becomes an EPT mapping of its range (large pages where they fit);
 * KVM_MEM_READONLY maps without write, KVM_MEM_LOG_DIRTY_PAGES write-protects the pages
 * so that writes are recorded. The slot table still holds the slot's previous state. */
static int sim_set_memory_region(KvmVm *vm, const KvmUserspaceMemoryRegion *r)
{
    EptContext *ept = ((SimVm *)vm->backend_data)->ept;
    const KvmUserspaceMemoryRegion *old = find_region(vm, r->slot);
    int err = 0;
    if (old) {
        if (old->flags & KVM_MEM_LOG_DIRTY_PAGES)
            err = ept_log_dirty_stop(ept, old->guest_phys_addr, old->memory_size);
        if (err == 0)
            err = ept_unmap(ept, old->guest_phys_addr, old->memory_size);
        if (err < 0)
            return hv_fail(err, "EPT: cannot unmap slot %u", r->slot);
        if (r->memory_size == 0)
            return 0;
    }
    err = ept_map_range(ept, r->guest_phys_addr, r->userspace_addr, r->memory_size,
                        slot_permissions(r->flags));
    if (err == 0 && (r->flags & KVM_MEM_LOG_DIRTY_PAGES))
        err = ept_log_dirty_start(ept, r->guest_phys_addr, r->memory_size);
    if (err < 0) {
        ept_unmap(ept, r->guest_phys_addr, r->memory_size);
        return hv_fail(err, "EPT: cannot map slot %u at 0x%llx", r->slot,
                       (unsigned long long)r->guest_phys_addr);
    }
    return 0;
}

static int sim_get_dirty_log(KvmVm *vm, uint32_t slot, uint64_t *bitmap)
{
    const KvmUserspaceMemoryRegion *r = find_region(vm, slot);
    EptContext *ept = ((SimVm *)vm->backend_data)->ept;
    int err = ept_get_dirty_log(ept, r->guest_phys_addr, r->memory_size, bitmap);
    return err < 0 ? hv_fail(err, "EPT: cannot read the dirty log of slot %u", slot) : 0;
}

/* ---- the vCPU and its registers ---- */

static int sim_create_vcpu(KvmVcpu *vcpu)
{
    SimVcpu *sc = calloc(1, sizeof(*sc));
    if (!sc)
        return hv_fail(ENOMEM, "out of memory");
    sc->vm = vcpu->vm;
    sc->cpu = x86_cpu_create(sim_page, sc);
    if (!sc->cpu) {
        free(sc);
        return hv_fail(ENOMEM, "out of memory for the vCPU");
    }
    vcpu->kvm_run = mmap(NULL, SIM_RUN_SIZE, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (vcpu->kvm_run == MAP_FAILED) {
        vcpu->kvm_run = NULL;
        x86_cpu_destroy(sc->cpu);
        free(sc);
        return hv_fail(ENOMEM, "out of memory for the run structure");
    }
    vcpu->kvm_run_size = SIM_RUN_SIZE;
    /* One ring per VM, as in Linux: in the first vCPU's mapping (the others' page
     * SIM_RING_PAGE is unused; the VMM reads the ring through any vCPU). */
    SimVm *sv = vcpu->vm->backend_data;
    if (!sv->ring)
        sv->ring = (struct kvm_coalesced_mmio_ring *)((uint8_t *)vcpu->kvm_run +
                                                      SIM_RING_PAGE * SIM_PAGE);
    x86_cpu_reset(sc->cpu);
    /* The VM's vCPUs run in turn on one thread (the VMM's run loop): their decoded code
     * is kept coherent with each other's writes (cross-modifying code). */
    for (KvmVcpu *other = vcpu->vm->vcpus; other; other = other->next)
        if (other != vcpu && other->backend_data) {
            x86_cpu_share_code(sc->cpu, ((SimVcpu *)other->backend_data)->cpu);
            break;
        }
    /* The IDTR after reset has limit FFFFh (SDM Vol. 3A, 10.1.1, Table 10-1), which is what
     * Linux KVM's vCPU reset loads and KVM_GET_SREGS shows (vmx_vcpu_reset writes
     * GUEST_IDTR_LIMIT 0xffff). The CPU model's own reset uses 3FFh (the 80286's value). */
    sc->cpu->idtr.limit = 0xFFFF;
    vmcs_init_controls(&sc->vmcs);
    EptContext *ept = ((SimVm *)vcpu->vm->backend_data)->ept;
    sc->vmcs.control.ept_pointer = ept_pointer(ept);
    sc->ept_generation = ept_generation(ept);
    page_cache_reset(sc);
    sc->pat = PAT_DEFAULT;
    sc->icount_deadline = UINT64_MAX;
    /* Only vCPU 0 is the boot processor (IA32_APIC_BASE.BSP, SDM Vol. 3A, 9.4.1). */
    sc->apic_base = vcpu->vcpu_id == 0 ? APIC_BASE_DEFAULT : APIC_BASE_DEFAULT & ~APIC_BASE_BSP;
    sc->apic_id = (uint8_t)vcpu->vcpu_id;
    sc->misc_enable = MISC_ENABLE_RESET;
    /* The TSC starts at 0 with the vCPU (KVM: kvm_synchronize_tsc(vcpu, 0) at creation);
     * a later vCPU of the VM joins the others' TSC, as KVM matches a vCPU's TSC write of
     * 0 to the VM's (so the processors' TSCs agree, which Linux checks at SMP boot). */
    sc->tsc_offset = 0 - sim_ns_to_tsc(kvmclock_ns(vcpu->vm->backend_data));
    for (KvmVcpu *other = vcpu->vm->vcpus; other; other = other->next)
        if (other != vcpu && other->backend_data)
            sc->tsc_offset = ((SimVcpu *)other->backend_data)->tsc_offset;
    sc->cpu->tsc_read = cpu_tsc_read;
    sc->cpu->tsc_opaque = sc;
    vcpu->backend_data = sc;
    return 0;
}

static void sim_destroy_vcpu(KvmVcpu *vcpu)
{
    SimVcpu *sc = vcpu->backend_data;
    SimVm *sv = vcpu->vm->backend_data;
    if (vcpu->kvm_run && sv && (uint8_t *)sv->ring == (uint8_t *)vcpu->kvm_run + SIM_RING_PAGE * SIM_PAGE)
        sv->ring = NULL;
    if (vcpu->kvm_run)
        munmap(vcpu->kvm_run, vcpu->kvm_run_size);
    if (sc)
        x86_cpu_destroy(sc->cpu);
    free(sc);
}

/* struct kvm_regs order: rax rbx rcx rdx rsi rdi rsp rbp r8..r15. */
static const int kvm_gpr_order[16] = {
    X86_RAX, X86_RBX, X86_RCX, X86_RDX, X86_RSI, X86_RDI, X86_RSP, X86_RBP,
    X86_R8, X86_R9, X86_R10, X86_R11, X86_R12, X86_R13, X86_R14, X86_R15,
};

static int sim_get_regs(KvmVcpu *vcpu, KvmRegs *regs)
{
    X86Cpu *cpu = ((SimVcpu *)vcpu->backend_data)->cpu;
    __u64 *out = &regs->rax;   /* rax ... r15 are consecutive in struct kvm_regs */
    for (int i = 0; i < 16; i++)
        out[i] = cpu->gpr[kvm_gpr_order[i]];
    regs->rip = cpu->rip;
    regs->rflags = x86_cpu_get_rflags(cpu);
    return 0;
}

static int sim_set_regs(KvmVcpu *vcpu, const KvmRegs *regs)
{
    X86Cpu *cpu = ((SimVcpu *)vcpu->backend_data)->cpu;
    const __u64 *in = &regs->rax;
    for (int i = 0; i < 16; i++)
        cpu->gpr[kvm_gpr_order[i]] = in[i];
    cpu->rip = regs->rip;
    x86_cpu_set_rflags(cpu, regs->rflags | X86_FLAG_FIXED);
    return 0;
}

static void segment_to_kvm(const X86Segment *s, KvmSegment *k)
{
    *k = (KvmSegment){
        .base = s->base,
        .limit = s->limit,
        .selector = s->selector,
        .type = s->attr & X86_AR_TYPE_MASK,
        .s = !!(s->attr & X86_AR_S),
        .dpl = (s->attr >> X86_AR_DPL_SHIFT) & 3,
        .present = !!(s->attr & X86_AR_P),
        .avl = !!(s->attr & X86_AR_AVL),
        .l = !!(s->attr & X86_AR_L),
        .db = !!(s->attr & X86_AR_DB),
        .g = !!(s->attr & X86_AR_G),
        .unusable = !!(s->attr & X86_AR_UNUSABLE),
    };
}

static void segment_from_kvm(const KvmSegment *k, X86Segment *s)
{
    s->selector = k->selector;
    s->base = k->base;
    s->limit = k->limit;
    s->attr = (k->type & X86_AR_TYPE_MASK) | (k->s ? X86_AR_S : 0) |
              ((uint32_t)(k->dpl & 3) << X86_AR_DPL_SHIFT) | (k->present ? X86_AR_P : 0) |
              (k->avl ? X86_AR_AVL : 0) | (k->l ? X86_AR_L : 0) | (k->db ? X86_AR_DB : 0) |
              (k->g ? X86_AR_G : 0) | (k->unusable ? X86_AR_UNUSABLE : 0);
}

static int sim_get_sregs(KvmVcpu *vcpu, KvmSregs *sregs)
{
    X86Cpu *cpu = ((SimVcpu *)vcpu->backend_data)->cpu;
    memset(sregs, 0, sizeof(*sregs));
    segment_to_kvm(&cpu->cs, &sregs->cs);
    segment_to_kvm(&cpu->ds, &sregs->ds);
    segment_to_kvm(&cpu->es, &sregs->es);
    segment_to_kvm(&cpu->fs, &sregs->fs);
    segment_to_kvm(&cpu->gs, &sregs->gs);
    segment_to_kvm(&cpu->ss, &sregs->ss);
    segment_to_kvm(&cpu->tr, &sregs->tr);
    segment_to_kvm(&cpu->ldtr, &sregs->ldt);
    sregs->gdt = (struct kvm_dtable){.base = cpu->gdtr.base, .limit = cpu->gdtr.limit};
    sregs->idt = (struct kvm_dtable){.base = cpu->idtr.base, .limit = cpu->idtr.limit};
    sregs->cr0 = cpu->cr0;
    sregs->cr2 = cpu->cr2;
    sregs->cr3 = cpu->cr3;
    sregs->cr4 = cpu->cr4;
    sregs->cr8 = cpu->cr8;
    sregs->efer = cpu->efer;
    sregs->apic_base = ((SimVcpu *)vcpu->backend_data)->apic_base;
    return 0;
}

static int sim_set_sregs(KvmVcpu *vcpu, const KvmSregs *sregs)
{
    X86Cpu *cpu = ((SimVcpu *)vcpu->backend_data)->cpu;
    bool mode_change = cpu->cr0 != sregs->cr0 || cpu->cr3 != sregs->cr3 ||
                       cpu->cr4 != sregs->cr4 || cpu->efer != sregs->efer;
    segment_from_kvm(&sregs->cs, &cpu->cs);
    segment_from_kvm(&sregs->ds, &cpu->ds);
    segment_from_kvm(&sregs->es, &cpu->es);
    segment_from_kvm(&sregs->fs, &cpu->fs);
    segment_from_kvm(&sregs->gs, &cpu->gs);
    segment_from_kvm(&sregs->ss, &cpu->ss);
    segment_from_kvm(&sregs->tr, &cpu->tr);
    segment_from_kvm(&sregs->ldt, &cpu->ldtr);
    cpu->gdtr = (X86DescTable){.base = sregs->gdt.base, .limit = sregs->gdt.limit};
    cpu->idtr = (X86DescTable){.base = sregs->idt.base, .limit = sregs->idt.limit};
    cpu->cr0 = sregs->cr0;
    cpu->cr2 = sregs->cr2;
    cpu->cr3 = sregs->cr3;
    cpu->cr4 = sregs->cr4;
    cpu->cr8 = sregs->cr8;
    cpu->efer = sregs->efer;
    ((SimVcpu *)vcpu->backend_data)->apic_base = sregs->apic_base;
    x86_cpu_update_mode(cpu);
    if (mode_change)
        x86_cpu_tlb_flush(cpu);   /* what was cached depends on the mode */
    return 0;
}

/* ---- VM entry ---- */

static void vmcs_segment(VmcsSegment *v, const X86Segment *s)
{
    v->selector = s->selector;
    v->base = s->base;
    v->limit = s->limit;
    v->access_rights = s->attr;
}

/* The guest-state area as the CPU's state is now (at entry, and at every exit). */
static void store_guest_state(VMCS *vmcs, X86Cpu *cpu)
{
    vmcs->guest.cr0 = cpu->cr0;
    vmcs->guest.cr3 = cpu->cr3;
    vmcs->guest.cr4 = cpu->cr4;
    vmcs->guest.dr7 = cpu->dr[7];
    vmcs->guest.rsp = cpu->gpr[X86_RSP];
    vmcs->guest.rip = cpu->rip;
    vmcs->guest.rflags = x86_cpu_get_rflags(cpu);
    vmcs_segment(&vmcs->guest.es, &cpu->es);
    vmcs_segment(&vmcs->guest.cs, &cpu->cs);
    vmcs_segment(&vmcs->guest.ss, &cpu->ss);
    vmcs_segment(&vmcs->guest.ds, &cpu->ds);
    vmcs_segment(&vmcs->guest.fs, &cpu->fs);
    vmcs_segment(&vmcs->guest.gs, &cpu->gs);
    vmcs_segment(&vmcs->guest.ldtr, &cpu->ldtr);
    vmcs_segment(&vmcs->guest.tr, &cpu->tr);
    vmcs->guest.gdtr_base = cpu->gdtr.base;
    vmcs->guest.gdtr_limit = cpu->gdtr.limit;
    vmcs->guest.idtr_base = cpu->idtr.base;
    vmcs->guest.idtr_limit = cpu->idtr.limit;
    vmcs->guest.ia32_efer = cpu->efer;
    /* "IA-32e mode guest" follows EFER.LMA, as KVM keeps it (SDM Vol. 3C, 26.2.1.2 and
     * 28.2: VM exits store LMA into it) */
    if (cpu->efer & X86_EFER_LMA_BIT)
        vmcs->control.entry_controls |= VMX_ENTRY_IA32E_MODE_GUEST;
    else
        vmcs->control.entry_controls &= ~VMX_ENTRY_IA32E_MODE_GUEST;
    /* Interruptibility (SDM Vol. 3C, 25.4.2, Table 25-3): bits 0-1 the STI / MOV SS shadow,
     * bit 3 blocking by NMI. */
    vmcs->guest.interruptibility_state = cpu->interrupt_shadow | (cpu->nmi_blocked ? 8u : 0u);
    vmcs->guest.activity_state = cpu->activity_state;
}

static void record_exit(SimVcpu *sc, uint32_t basic, uint64_t qualification)
{
    VMCS *v = &sc->vmcs;
    const X86ExitInfo *e = &sc->cpu->exit;
    store_guest_state(v, sc->cpu);
    v->exit.reason = vmx_exit_reason((uint16_t)basic, false);
    v->exit.qualification = qualification;
    v->exit.instruction_length = e->insn_len;
    v->exit.guest_physical_address = 0;
    v->exit.guest_linear_address = 0;
}

/* The I/O data page (KVM_PIO_PAGE_OFFSET) comes before the coalesced MMIO ring's page. */
_Static_assert(SIM_IO_DATA_OFFSET + X86_IO_BUFFER_SIZE <= SIM_RING_PAGE * SIM_PAGE,
               "the I/O data page holds the interpreter's I/O buffer");
_Static_assert(sizeof(((KvmRun *)0)->mmio.data) == 8, "kvm_run.mmio.data is 8 bytes");

/* Bytes of an I/O exit's data (size * count), which are copied between the interpreter's
 * buffer and the I/O data page; -ERANGE when they would not fit either. The interpreter
 * keeps them in bounds (io_chunk); this is the copy's own check, so that a violation stops
 * the VM as an internal error instead of copying. */
static int io_data_len(const X86ExitInfo *e, size_t *len)
{
    size_t size = e->io.size, count = e->io.count;
    if ((size != 1 && size != 2 && size != 4) || count == 0 ||
        count > X86_IO_BUFFER_SIZE / size)
        return -ERANGE;
    *len = size * count;
    return 0;
}

/* Bytes of an MMIO exit's data (1 to 8, kvm_run.mmio.data's size), or -ERANGE. */
static int mmio_data_len(const X86ExitInfo *e, size_t *len)
{
    if (e->mmio.size == 0 || e->mmio.size > sizeof(uint64_t))
        return -ERANGE;
    *len = e->mmio.size;
    return 0;
}

/* Completes what the last exit left to the next KVM_RUN (Linux: complete_userspace_io).
 * Returns 0, or -ERANGE when the exit's data does not fit its buffer (nothing copied). */
static int complete_pending(SimVcpu *sc, KvmRun *run)
{
    X86Cpu *cpu = sc->cpu;
    size_t n;
    switch (sc->pending) {
    case PENDING_IO:
        if (cpu->exit.io.in) {
            if (io_data_len(&cpu->exit, &n) < 0)
                return -ERANGE;
            memcpy(cpu->exit.io.data, (uint8_t *)run + SIM_IO_DATA_OFFSET, n);
        }
        x86_cpu_complete_io(cpu);
        break;
    case PENDING_MMIO_READ: {
        uint64_t v = 0;
        if (mmio_data_len(&cpu->exit, &n) < 0)
            return -ERANGE;
        memcpy(&v, run->mmio.data, n);
        x86_cpu_complete_mmio(cpu, v);
        break;
    }
    case PENDING_HYPERCALL:
        /* Linux's complete_hypercall_exit: RAX = the VMM's answer, RIP past VMCALL. */
        cpu->gpr[X86_RAX] = run->hypercall.ret;
        x86_cpu_skip_instruction(cpu);
        break;
    case PENDING_MSR:
        /* Linux's complete_emulated_msr_access: #GP when user space set error, else the
         * data of an RDMSR in EDX:EAX; RIP past the instruction. */
        if (run->msr.error) {
            x86_cpu_raise_exception(cpu, X86_EXC_GP, true, 0);
            break;
        }
        if (sc->msr_exit_read) {
            cpu->gpr[X86_RAX] = (uint32_t)run->msr.data;
            cpu->gpr[X86_RDX] = run->msr.data >> 32;
        }
        x86_cpu_skip_instruction(cpu);
        break;
    case PENDING_NONE:
        break;
    }
    sc->pending = PENDING_NONE;
    return 0;
}

/* ---- exits handled "in the kernel" ---- */

/* CPUID.1:EDX (SDM Vol. 2A, CPUID, Table 3-11): exactly what the interpreter implements.
 * No VME, DE, MCE, APIC, MTRR, MCA or later flags until those exist. */
#define CPUID_1_EDX_FPU   (1u << 0)    /* x87 FPU on chip (src/sim/cpu/cpu_x87.c) */
#define CPUID_1_EDX_PSE   (1u << 3)    /* 4 MiB pages with CR4.PSE */
#define CPUID_1_EDX_TSC   (1u << 4)    /* RDTSC, CR4.TSD */
#define CPUID_1_EDX_MSR   (1u << 5)    /* RDMSR / WRMSR */
#define CPUID_1_EDX_PAE   (1u << 6)    /* PAE paging, 36-bit physical addresses */
#define CPUID_1_EDX_CX8   (1u << 8)    /* CMPXCHG8B */
#define CPUID_1_EDX_SEP   (1u << 11)   /* SYSENTER / SYSEXIT and their MSRs */
#define CPUID_1_EDX_PGE   (1u << 13)   /* global pages with CR4.PGE */
#define CPUID_1_EDX_CMOV  (1u << 15)   /* CMOVcc */
#define CPUID_1_EDX_PAT   (1u << 16)   /* IA32_PAT (memory types have no effect here) */
#define CPUID_1_EDX_PSE36 (1u << 17)   /* 4 MiB pages above 4 GiB (bits 16:13 of a PDE) */
/* FXSR, SSE and SSE2: FXSAVE/FXRSTOR, CR4.OSFXSR, MXCSR and every XMM instruction of SSE
 * and SSE2 (src/sim/cpu/cpu_sse.c), whose floating point runs as the same instruction on
 * an x86-64 host: elsewhere SSE and SSE2 are not claimed (X86_SSE_FP_ON_HOST). MMX
 * (plain C integer on the x87 registers) is claimed everywhere. */
#define CPUID_1_EDX_MMX   (1u << 23)   /* MMX registers on the x87's (cpu_sse.c, cpu_x87.c) */
#define CPUID_1_EDX_FXSR  (1u << 24)
#define CPUID_1_EDX_SSE   (1u << 25)
#define CPUID_1_EDX_SSE2  (1u << 26)
#define CPUID_1_EDX_MTRR  (1u << 12)   /* MTRRcap, fixed and 8 variable ranges, def type */
#define CPUID_1_EDX_SIMD  (X86_SSE_FP_ON_HOST ? CPUID_1_EDX_SSE | CPUID_1_EDX_SSE2 : 0u)
#define CPUID_1_EDX (CPUID_1_EDX_FPU | CPUID_1_EDX_PSE | CPUID_1_EDX_TSC | CPUID_1_EDX_MSR | \
                     CPUID_1_EDX_PAE | CPUID_1_EDX_CX8 | CPUID_1_EDX_SEP | CPUID_1_EDX_MTRR | \
                     CPUID_1_EDX_PGE | \
                     CPUID_1_EDX_CMOV | CPUID_1_EDX_PAT | CPUID_1_EDX_PSE36 | CPUID_1_EDX_FXSR | \
                     CPUID_1_EDX_MMX | CPUID_1_EDX_SIMD)
#define CPUID_1_EDX_APIC  (1u << 9)    /* follows IA32_APIC_BASE.EN (cpuid_leaf) */
#define CPUID_1_ECX_MOVBE (1u << 22)
/* TSC-deadline mode of the APIC timer: MSR 0x6E0 goes to the VMM's APIC (emulate_msr). */
#define CPUID_1_ECX_TSC_DEADLINE (1u << 24)
#define CPUID_1_ECX_HYPERVISOR (1u << 31)
#define CPUID_80000001_EDX_NX (1u << 20)   /* EFER.NXE and the XD bit */
#define CPUID_80000001_EDX_RDTSCP (1u << 27)   /* RDTSCP and IA32_TSC_AUX */
/* IA-32e mode: long mode, SYSCALL/SYSRET in 64-bit mode, 1 GiB pages, LAHF/SAHF in
 * 64-bit mode, CMPXCHG16B (src/sim/cpu/cpu_seg.c, cpu_system.c, pagewalk.c). */
#define CPUID_80000001_EDX_SYSCALL (1u << 11)
#define CPUID_80000001_EDX_PDPE1GB (1u << 26)
#define CPUID_80000001_EDX_LM (1u << 29)
#define CPUID_80000001_ECX_LAHF_LM (1u << 0)
#define CPUID_1_ECX_CX16 (1u << 13)
/* The TSC runs at one rate in every state, halted included (SDM Vol. 3B, 18.17.1). */
#define CPUID_7_EBX_TSC_ADJUST (1u << 1)   /* IA32_TSC_ADJUST */
#define CPUID_7_ECX_UMIP (1u << 2)         /* CR4.UMIP */
#define CPUID_MAX_BASIC 0x16   /* 15H: TSC/crystal ratio, 16H: frequencies; 2-6, 8-14H zero */

/* CPUID as the kernel answers it for this vCPU. Leaves without content read as zeros, which
 * each of them defines as "nothing to report" (no caches described, no topology, no PMU). */
static void cpuid_leaf(const SimVcpu *sc, uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    /* The vendor is Intel's: this is a model of a VT-x processor, and software picks its
     * vendor-specific paths by this string (kvm-unit-tests' pmu_init takes AMD's K7
     * performance MSRs for any other vendor, as Linux does). The hypervisor leaves are
     * KVM's (Documentation/virt/kvm/x86/cpuid.rst), as Linux KVM offers them, so that
     * guests find kvm-clock; the brand string names ScratchVM. */
    static const char vendor[] = "GenuineIntel";          /* 12 bytes: EBX, EDX, ECX */
    static const char hypervisor[12] = "KVMKVMKVM\0\0";
    static const char brand[48] = "ScratchVM simulated x86 (P6, x87, PAE)";
    memset(r, 0, 4 * sizeof(r[0]));
    switch (leaf) {
    case 0:
        r[0] = CPUID_MAX_BASIC;
        memcpy(&r[1], vendor, 4);
        memcpy(&r[3], vendor + 4, 4);
        memcpy(&r[2], vendor + 8, 4);
        break;
    case 1:
        /* Family 6 model 15 (Core 2) stepping 11: software ignores SEP on family 6 below
         * model 3 stepping 3 (SDM Vol. 2B, SYSENTER), and Linux drops PAT on family 6
         * below model 15 for a Pentium III erratum (arch/x86/kernel/cpu/intel.c). */
        r[0] = 0x6FB;
        r[1] = (uint32_t)sc->apic_id << 24;   /* the initial APIC ID (EBX[31:24]) */
        r[2] = CPUID_1_ECX_MOVBE | CPUID_1_ECX_TSC_DEADLINE | CPUID_1_ECX_HYPERVISOR |
               CPUID_1_ECX_CX16;
        /* The APIC bit follows IA32_APIC_BASE.EN, as KVM's kvm_update_cpuid_runtime makes
         * it (SDM Vol. 3A, 11.4.3: a globally disabled APIC is absent from CPUID). */
        r[3] = CPUID_1_EDX | ((sc->apic_base & APIC_BASE_EN) ? CPUID_1_EDX_APIC : 0);
        break;
    case 7:
        if (sub == 0) {   /* EAX = 0: subleaf 0 is the only one */
            r[1] = CPUID_7_EBX_TSC_ADJUST;
            r[2] = CPUID_7_ECX_UMIP;
        }
        break;
    case 0x15:
        /* TSC = crystal * EBX / EAX (SDM Vol. 2A, CPUID leaf 15H); the crystal is the APIC
         * timer's input, as Linux assumes when it reads this leaf. */
        r[0] = 1;
        r[1] = (uint32_t)(SIM_TSC_HZ / SIM_CRYSTAL_HZ);
        r[2] = (uint32_t)SIM_CRYSTAL_HZ;
        break;
    case 0x16:   /* base and maximum frequency, bus (reference) frequency, in MHz */
        r[0] = r[1] = (uint32_t)(SIM_TSC_HZ / 1000000);
        r[2] = (uint32_t)(SIM_CRYSTAL_HZ / 1000000);
        break;
    case KVM_CPUID_SIGNATURE:
        r[0] = KVM_CPUID_TIMING;   /* the highest hypervisor leaf */
        memcpy(&r[1], hypervisor, 4);
        memcpy(&r[2], hypervisor + 4, 4);
        memcpy(&r[3], hypervisor + 8, 4);
        break;
    case KVM_CPUID_FEATURES:
        /* kvm-clock through the new MSRs, with a stable TSC (one clock, one vCPU); port
         * I/O needs no delays. */
        r[0] = (1u << KVM_FEATURE_CLOCKSOURCE2) | (1u << KVM_FEATURE_NOP_IO_DELAY) |
               (1u << KVM_FEATURE_CLOCKSOURCE_STABLE_BIT);
        break;
    case KVM_CPUID_TIMING:   /* TSC and APIC bus frequencies in kHz */
        r[0] = (uint32_t)SIM_TSC_KHZ;
        r[1] = (uint32_t)(SIM_CRYSTAL_HZ / 1000);
        break;
    case 0x80000000:
        r[0] = 0x80000008;
        break;
    case 0x80000001:
        r[2] = CPUID_80000001_ECX_LAHF_LM;
        r[3] = CPUID_80000001_EDX_NX | CPUID_80000001_EDX_RDTSCP | CPUID_80000001_EDX_SYSCALL |
               CPUID_80000001_EDX_PDPE1GB | CPUID_80000001_EDX_LM;
        break;
    case 0x80000008:   /* physical and linear address widths */
        r[0] = X86_MAXPHYADDR | (48u << 8);
        break;
    case 0x80000002: case 0x80000003: case 0x80000004:
        memcpy(r, brand + 16 * (leaf - 0x80000002), 16);
        break;
    case 0x80000007:
        /* No invariant TSC, as QEMU's default CPU models: with it Linux rates the TSC
         * above kvm-clock and leaves kvm-clock (the TSC would be as good here, but a
         * guest on kvm-clock is what a KVM user expects and what the issue asks). */
        break;
    default:
        break;
    }
}

static void emulate_cpuid(SimVcpu *sc)
{
    X86Cpu *cpu = sc->cpu;
    uint32_t r[4];
    cpuid_leaf(sc, (uint32_t)cpu->gpr[X86_RAX], (uint32_t)cpu->gpr[X86_RCX], r);
    cpu->gpr[X86_RAX] = r[0];
    cpu->gpr[X86_RBX] = r[1];
    cpu->gpr[X86_RCX] = r[2];
    cpu->gpr[X86_RDX] = r[3];
    x86_cpu_skip_instruction(cpu);
}

/* Whether a PAT value is valid: each of the 8 entries a defined memory type (0, 1, 4, 5,
 * 6, 7; SDM Vol. 3A, 13.12.2), else WRMSR is #GP(0) (KVM: kvm_pat_valid). */
static bool pat_valid(uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        unsigned t = (unsigned)(v >> (8 * i)) & 0xFF;
        if (t > 7 || t == 2 || t == 3) return false;
    }
    return true;
}

/* What an MSR access comes to: done, #GP(0), or an exit to user space. */
enum { MSR_OK, MSR_GP, MSR_USER };

/* The MTRR `msr` names, or NULL. */
static uint64_t *mtrr_reg(SimVcpu *sc, uint32_t msr)
{
    if (msr == MSR_IA32_MTRR_DEF_TYPE)
        return &sc->mtrr_def;
    int i = sim_mtrr_fixed_index(msr);
    if (i >= 0)
        return &sc->mtrr_fixed[i];
    if (msr >= MSR_IA32_MTRR_PHYSBASE0 && msr < MSR_IA32_MTRR_PHYSBASE0 + 2 * SIM_MTRR_VAR)
        return &sc->mtrr_var[msr - MSR_IA32_MTRR_PHYSBASE0];
    return NULL;
}

/* RDMSR as the kernel answers it (SDM Vol. 4 for the architectural MSRs, KVM's
 * kvm_get_msr_common for the choices KVM makes); `host`: KVM_GET_MSRS from user space. */
static int msr_get(SimVcpu *sc, uint32_t msr, uint64_t *v, bool host)
{
    X86Cpu *cpu = sc->cpu;
    uint64_t *mtrr = mtrr_reg(sc, msr);
    if (mtrr) {
        *v = *mtrr;
        return MSR_OK;
    }
    switch (msr) {
    case MSR_IA32_TSC: *v = guest_tsc(sc); return MSR_OK;
    case MSR_IA32_TSC_ADJUST: *v = sc->tsc_adjust; return MSR_OK;
    case MSR_IA32_PLATFORM_ID: *v = 0; return MSR_OK;      /* KVM: 0 */
    case MSR_IA32_EBL_CR_POWERON: *v = 0; return MSR_OK;   /* KVM: 0 */
    case MSR_IA32_FEATURE_CONTROL: *v = FEATURE_CONTROL_LOCKED; return MSR_OK;
    case MSR_IA32_BIOS_SIGN_ID: *v = SIM_MICROCODE_REV; return MSR_OK;
    case MSR_IA32_MTRRCAP: *v = SIM_MTRRCAP; return MSR_OK;
    case MSR_IA32_DEBUGCTL: *v = 0; return MSR_OK;
    case 0x179: case 0x17A:   /* IA32_MCG_CAP (no banks), IA32_MCG_STATUS: KVM has them */
        *v = 0;
        return MSR_OK;
    case MSR_IA32_SYSENTER_CS: *v = cpu->sysenter_cs; return MSR_OK;
    case MSR_IA32_SYSENTER_ESP: *v = cpu->sysenter_esp; return MSR_OK;
    case MSR_IA32_SYSENTER_EIP: *v = cpu->sysenter_eip; return MSR_OK;
    case MSR_IA32_PAT: *v = sc->pat; return MSR_OK;
    case MSR_IA32_EFER: *v = cpu->efer; return MSR_OK;
    case MSR_IA32_STAR: *v = cpu->star; return MSR_OK;
    case MSR_IA32_LSTAR: *v = cpu->lstar; return MSR_OK;
    case MSR_IA32_CSTAR: *v = cpu->cstar; return MSR_OK;
    case MSR_IA32_FMASK: *v = cpu->fmask; return MSR_OK;
    case MSR_IA32_FS_BASE: *v = cpu->fs.base; return MSR_OK;
    case MSR_IA32_GS_BASE: *v = cpu->gs.base; return MSR_OK;
    case MSR_IA32_KERNEL_GS_BASE: *v = cpu->kernel_gs_base; return MSR_OK;
    case MSR_IA32_APIC_BASE: *v = sc->apic_base; return MSR_OK;
    case MSR_IA32_MISC_ENABLE: *v = sc->misc_enable; return MSR_OK;
    case MSR_IA32_TSC_AUX: *v = cpu->tsc_aux; return MSR_OK;
    case MSR_KVM_SYSTEM_TIME_NEW: *v = sc->system_time_msr; return MSR_OK;
    case MSR_KVM_WALL_CLOCK_NEW:
        *v = ((SimVm *)sc->vm->backend_data)->wall_clock_msr;
        return MSR_OK;
    case MSR_IA32_TSC_DEADLINE:
        /* The APIC is user space's: the access goes there (KVM_EXIT_X86_RDMSR). */
        return host ? MSR_GP : MSR_USER;
    default:
        return MSR_GP;
    }
}

/* WRMSR as the kernel does it; MSR_GP for a value the SDM makes #GP(0). */
static int msr_set(SimVcpu *sc, uint32_t msr, uint64_t value, bool host)
{
    X86Cpu *cpu = sc->cpu;
    uint64_t *mtrr = mtrr_reg(sc, msr);
    if (mtrr) {
        if (!sim_mtrr_valid(msr, value))
            return MSR_GP;
        *mtrr = value;
        return MSR_OK;
    }
    switch (msr) {
    case MSR_IA32_TSC:
        set_tsc(sc, value);
        return MSR_OK;
    case MSR_IA32_TSC_ADJUST:
        /* A write adds its difference to the TSC too (SDM Vol. 3B, 18.17.3). */
        sc->tsc_offset += value - sc->tsc_adjust;
        sc->tsc_adjust = value;
        kvmclock_update(sc);
        return MSR_OK;
    case MSR_IA32_BIOS_SIGN_ID:     /* the guest's write (before CPUID) is ignored */
    case MSR_IA32_BIOS_UPDT_TRIG:   /* no microcode update is loaded (KVM ignores it) */
        return MSR_OK;
    case MSR_IA32_DEBUGCTL:
        /* LBR (bit 0) and BTF (bit 1) are dropped, as KVM drops them; other bits #GP. */
        return (value & ~3ull) ? MSR_GP : MSR_OK;
    case MSR_IA32_SYSENTER_CS: cpu->sysenter_cs = value; return MSR_OK;
    case MSR_IA32_SYSENTER_ESP: cpu->sysenter_esp = value; return MSR_OK;
    case MSR_IA32_SYSENTER_EIP: cpu->sysenter_eip = value; return MSR_OK;
    case MSR_IA32_PAT:
        if (!pat_valid(value)) return MSR_GP;
        sc->pat = value;
        return MSR_OK;
    case MSR_IA32_EFER:
        if (!x86_cpu_efer_valid(cpu, value)) return MSR_GP;
        x86_cpu_set_efer(cpu, value);
        return MSR_OK;
    /* SDM Vol. 4, Table 2-2: addresses must be canonical, FMASK's upper half is reserved */
    case MSR_IA32_STAR: cpu->star = value; return MSR_OK;
    case MSR_IA32_LSTAR: case MSR_IA32_CSTAR: case MSR_IA32_FS_BASE: case MSR_IA32_GS_BASE:
    case MSR_IA32_KERNEL_GS_BASE: {
        if ((uint64_t)((int64_t)(value << 16) >> 16) != value) return MSR_GP;
        uint64_t *p = msr == MSR_IA32_LSTAR ? &cpu->lstar : msr == MSR_IA32_CSTAR ? &cpu->cstar
                    : msr == MSR_IA32_FS_BASE ? &cpu->fs.base
                    : msr == MSR_IA32_GS_BASE ? &cpu->gs.base : &cpu->kernel_gs_base;
        *p = value;
        return MSR_OK;
    }
    case MSR_IA32_FMASK:
        if (value >> 32) return MSR_GP;
        cpu->fmask = value;
        return MSR_OK;
    case MSR_IA32_APIC_BASE:
        /* BSP (bit 8) is read-only; EN (bit 11) and the base are the guest's (SDM Vol. 3A,
         * 11.4.4); reserved bits raise #GP. The VMM's APIC follows EN. */
        if (value & ~(APIC_BASE_MASK | APIC_BASE_EN | APIC_BASE_BSP)) return MSR_GP;
        if (!host)
            value = (value & ~APIC_BASE_BSP) | (sc->apic_base & APIC_BASE_BSP);
        sc->apic_base = value;
        return MSR_OK;
    case MSR_IA32_MISC_ENABLE:
        /* KVM: PEBS/BTS-unavailable are read-only (#GP on change), EMON is ignored; the rest
         * is kept. */
        if (!host) {
            if ((value ^ sc->misc_enable) & (MISC_ENABLE_BTS_UNAVAIL | MISC_ENABLE_PEBS_UNAVAIL))
                return MSR_GP;
            value = (value & ~MISC_ENABLE_EMON) | (sc->misc_enable & MISC_ENABLE_EMON);
        }
        sc->misc_enable = value;
        return MSR_OK;
    case MSR_IA32_FEATURE_CONTROL:
        return host ? MSR_OK : MSR_GP;   /* locked (SDM Vol. 3C, 24.7) */
    case MSR_IA32_TSC_AUX:
        if (value >> 32) return MSR_GP;   /* bits 63:32 are reserved (SDM Vol. 4) */
        cpu->tsc_aux = value;
        return MSR_OK;
    case MSR_KVM_SYSTEM_TIME_NEW:
        /* Bit 0 enables; the structure is at the rest of the value (msr.rst). */
        sc->system_time_msr = value;
        kvmclock_update(sc);
        return MSR_OK;
    case MSR_KVM_WALL_CLOCK_NEW:
        ((SimVm *)sc->vm->backend_data)->wall_clock_msr = value;
        kvmclock_wall(sc, value);
        return MSR_OK;
    case MSR_IA32_TSC_DEADLINE:
        return host ? MSR_GP : MSR_USER;
    default:
        return MSR_GP;
    }
}

/* RDMSR/WRMSR (SDM Vol. 2B): known MSRs are emulated, others raise #GP(0) as KVM does by
 * default (ignore_msrs=0), and so does a value the SDM forbids (a reserved EFER bit, an
 * invalid PAT or MTRR type, ...), instead of a state that VM entry would reject. The
 * APIC's MSR goes to user space, which owns the APIC: KVM_EXIT_X86_RDMSR/WRMSR as Linux
 * reports an MSR it leaves to user space (api.rst, KVM_CAP_X86_USER_SPACE_MSR; here with
 * reason KVM_MSR_EXIT_REASON_FILTER); true when the run must return for it. */
static bool emulate_msr(KvmVcpu *vcpu, SimVcpu *sc, bool write)
{
    X86Cpu *cpu = sc->cpu;
    uint32_t msr = (uint32_t)cpu->gpr[X86_RCX];
    uint64_t value = ((cpu->gpr[X86_RDX] & 0xFFFFFFFFull) << 32) |
                     (cpu->gpr[X86_RAX] & 0xFFFFFFFFull);
    int r = write ? msr_set(sc, msr, value, false) : msr_get(sc, msr, &value, false);
    if (r == MSR_GP) {
        x86_cpu_raise_exception(cpu, X86_EXC_GP, true, 0);
        return false;
    }
    if (r == MSR_USER) {
        KvmRun *run = vcpu->kvm_run;
        run->exit_reason = write ? KVM_EXIT_X86_WRMSR : KVM_EXIT_X86_RDMSR;
        memset(&run->msr, 0, sizeof(run->msr));
        run->msr.reason = KVM_MSR_EXIT_REASON_FILTER;
        run->msr.index = msr;
        run->msr.data = write ? value : 0;
        sc->msr_exit_read = !write;
        sc->pending = PENDING_MSR;
        return true;
    }
    if (!write) {
        cpu->gpr[X86_RAX] = (uint32_t)value;
        cpu->gpr[X86_RDX] = value >> 32;
    }
    x86_cpu_skip_instruction(cpu);
    return false;
}

/* KVM_GET_MSRS / KVM_SET_MSRS (host-initiated accesses): the number of MSRs done, stopping
 * at the first one the kernel refuses, as Linux's msr_io does. */
static int sim_msrs(KvmVcpu *vcpu, struct kvm_msrs *msrs, bool write)
{
    SimVcpu *sc = vcpu->backend_data;
    uint32_t i;
    for (i = 0; i < msrs->nmsrs; i++) {
        struct kvm_msr_entry *e = &msrs->entries[i];
        int r = write ? msr_set(sc, e->index, e->data, true)
                      : msr_get(sc, e->index, (uint64_t *)&e->data, true);
        if (r != MSR_OK)
            break;
    }
    return (int)i;
}

static int sim_get_msrs(KvmVcpu *vcpu, struct kvm_msrs *msrs) { return sim_msrs(vcpu, msrs, false); }
static int sim_set_msrs(KvmVcpu *vcpu, struct kvm_msrs *msrs) { return sim_msrs(vcpu, msrs, true); }

static int sim_tsc_khz(KvmVcpu *vcpu)
{
    (void)vcpu;
    return (int)SIM_TSC_KHZ;
}

static int sim_get_cpuid(KvmVcpu *vcpu, uint32_t function, uint32_t index, uint32_t out[4])
{
    cpuid_leaf(vcpu->backend_data, function, index, out);
    return 0;
}

/* ---- KVM_RUN ---- */

static void set_internal_error(SimVcpu *sc, KvmRun *run, const char *what)
{
    const X86ExitInfo *e = &sc->cpu->exit;
    snprintf(sc->note, sizeof(sc->note), "%s", what);
    run->exit_reason = KVM_EXIT_INTERNAL_ERROR;
    run->internal.suberror = KVM_INTERNAL_ERROR_EMULATION;
    /* Linux's layout with KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES: flags,
     * instruction size, then the bytes; we add the linear address after them. */
    memset(run->internal.data, 0, sizeof(run->internal.data));
    run->internal.data[0] = KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES;
    /* the bytes fill data[2] and data[3] at most: data[4] is the address */
    _Static_assert(sizeof e->unimpl.bytes <= 2 * sizeof run->internal.data[0],
                   "the instruction bytes fit data[2..3]");
    size_t len = e->unimpl.len < sizeof e->unimpl.bytes ? e->unimpl.len : sizeof e->unimpl.bytes;
    run->internal.data[1] = len;
    memcpy(&run->internal.data[2], e->unimpl.bytes, len);
    run->internal.data[4] = e->unimpl.linear;
    run->internal.ndata = 5;
}

static void sim_report_debug(KvmVcpu *vcpu, SimVcpu *sc);

/* Turns an interpreter exit into a VMX exit in the VMCS and, for the exits the VMM handles,
 * into a kvm_run exit. Returns true when the run must return to user space. */
static bool handle_exit(KvmVcpu *vcpu, SimVcpu *sc, X86Exit x)
{
    X86Cpu *cpu = sc->cpu;
    const X86ExitInfo *e = &cpu->exit;
    KvmRun *run = vcpu->kvm_run;
    switch (x) {
    case X86_EXIT_HLT:
        record_exit(sc, EXIT_REASON_HLT, 0);
        run->exit_reason = KVM_EXIT_HLT;
        return true;
    case X86_EXIT_IO: {
        uint64_t q = vmx_io_qualification(e->io.size, e->io.in, e->io.string, e->io.rep,
                                          e->io.imm, e->io.port);
        record_exit(sc, EXIT_REASON_IO_INSTRUCTION, q);
        if (e->io.string)
            sc->vmcs.exit.guest_linear_address = e->io.guest_linear;
        run->exit_reason = KVM_EXIT_IO;
        run->io.direction = e->io.in ? KVM_EXIT_IO_IN : KVM_EXIT_IO_OUT;
        run->io.size = e->io.size;
        run->io.port = e->io.port;
        run->io.count = e->io.count;
        run->io.data_offset = SIM_IO_DATA_OFFSET;
        size_t n;
        if (io_data_len(e, &n) < 0) {
            set_internal_error(sc, run, "internal error: I/O exit data larger than its page");
            return true;
        }
        if (!e->io.in)
            memcpy((uint8_t *)run + SIM_IO_DATA_OFFSET, e->io.data, n);
        sc->pending = PENDING_IO;
        return true;
    }
    case X86_EXIT_MMIO: {
        /* The EPT walk refused the access (SDM Vol. 3C, 29.3.3): basic reason 48 with the
         * walk's qualification (access and permissions found), a valid guest-linear
         * address and a final translation; or 49 for a misconfigured entry, which no
         * memory slot makes and the VMM cannot serve. */
        uint64_t page = e->mmio.gpa & ~0xFFFull;
        bool known = sc->fault_gpa_page == page;
        if (known && sc->fault_result == EPT_MISCONFIG) {
            record_exit(sc, EXIT_REASON_EPT_MISCONFIG, 0);
            sc->vmcs.exit.guest_physical_address = e->mmio.gpa;
            set_internal_error(sc, run, "EPT misconfiguration");
            return true;
        }
        uint64_t access = e->mmio.is_write ? EPTQ_WRITE : EPTQ_READ;
        uint64_t walk = known ? sc->fault_qualification & ~EPTQ_ACCESS_MASK : 0;
        record_exit(sc, EXIT_REASON_EPT_VIOLATION,
                    access | walk | EPTQ_LINEAR_VALID | EPTQ_TRANSLATION);
        sc->vmcs.exit.guest_physical_address = e->mmio.gpa;
        sc->vmcs.exit.guest_linear_address = e->mmio.linear;
        /* A write in a coalesced zone stays in the kernel: into the ring, and the guest
         * goes on (the instruction is complete; its further writes, if any, come from the
         * next x86_cpu_run of this KVM_RUN, each kept or exiting in turn). */
        if (e->mmio.is_write &&
            coalesce_write(vcpu->vm->backend_data, e->mmio.gpa, e->mmio.size, e->mmio.data)) {
            sc->kernel_exits++;
            return false;
        }
        size_t n;
        if (mmio_data_len(e, &n) < 0) {
            set_internal_error(sc, run, "internal error: MMIO exit larger than 8 bytes");
            return true;
        }
        run->exit_reason = KVM_EXIT_MMIO;
        run->mmio.phys_addr = e->mmio.gpa;
        run->mmio.len = (uint32_t)n;
        run->mmio.is_write = e->mmio.is_write;
        memset(run->mmio.data, 0, sizeof(run->mmio.data));
        if (e->mmio.is_write)
            memcpy(run->mmio.data, &e->mmio.data, n);
        else
            sc->pending = PENDING_MMIO_READ;
        return true;
    }
    case X86_EXIT_CPUID:
        record_exit(sc, EXIT_REASON_CPUID, 0);
        emulate_cpuid(sc);
        return false;
    case X86_EXIT_RDMSR:
    case X86_EXIT_WRMSR:
        record_exit(sc, x == X86_EXIT_RDMSR ? EXIT_REASON_MSR_READ : EXIT_REASON_MSR_WRITE, 0);
        return emulate_msr(vcpu, sc, x == X86_EXIT_WRMSR);
    case X86_EXIT_VMCALL:
        /* VMCALL (basic reason 18) becomes KVM_EXIT_HYPERCALL with the register
         * convention of KVM's hypercalls (Documentation/virt/kvm/x86/hypercalls.rst): nr in
         * RAX, arguments in RBX, RCX, RDX, RSI. Linux itself handles its KVM_HC_* calls in
         * the kernel and exits to user space only for those enabled with
         * KVM_CAP_EXIT_HYPERCALL (README, "VMCALL"). */
        record_exit(sc, EXIT_REASON_VMCALL, 0);
        run->exit_reason = KVM_EXIT_HYPERCALL;
        memset(&run->hypercall, 0, sizeof(run->hypercall));
        run->hypercall.nr = cpu->gpr[X86_RAX];
        run->hypercall.args[0] = cpu->gpr[X86_RBX];
        run->hypercall.args[1] = cpu->gpr[X86_RCX];
        run->hypercall.args[2] = cpu->gpr[X86_RDX];
        run->hypercall.args[3] = cpu->gpr[X86_RSI];
        sc->pending = PENDING_HYPERCALL;
        return true;
    case X86_EXIT_TRIPLE_FAULT:
        record_exit(sc, EXIT_REASON_TRIPLE_FAULT, 0);
        run->exit_reason = KVM_EXIT_SHUTDOWN;
        return true;
    case X86_EXIT_STOPPED:
        /* A kick is an IPI on hardware: an external-interrupt exit, then -EINTR. */
        record_exit(sc, EXIT_REASON_EXTERNAL_INTERRUPT, 0);
        run->exit_reason = KVM_EXIT_INTR;
        return true;
    case X86_EXIT_IRQ_WINDOW:
        /* "Interrupt-window exiting" (SDM Vol. 3C, 26.2): the VMM asked for a window. */
        record_exit(sc, EXIT_REASON_INTERRUPT_WINDOW, 0);
        run->exit_reason = KVM_EXIT_IRQ_WINDOW_OPEN;
        return true;
    case X86_EXIT_UNIMPLEMENTED:
    case X86_EXIT_INVALID_STATE:
        store_guest_state(&sc->vmcs, cpu);
        set_internal_error(sc, run, e->unimpl.reason);
        return true;
    case X86_EXIT_DEBUG:
        sim_report_debug(vcpu, sc);
        return true;
    case X86_EXIT_BUDGET:
        if (cpu->instructions_retired >= sc->icount_deadline) {
            /* The icount deadline is this model's VMX-preemption timer (SDM Vol. 3C,
             * 26.5.1): exit reason 52, then -EINTR as for a signal. */
            record_exit(sc, EXIT_REASON_PREEMPTION_TIMER, 0);
            run->exit_reason = KVM_EXIT_INTR;
            return true;
        }
        break;
    case X86_EXIT_NONE:
        break;
    }
    store_guest_state(&sc->vmcs, cpu);
    set_internal_error(sc, run, "unexpected exit of the interpreter");
    return true;
}

/* What Linux reports at every exit for a userspace interrupt controller
 * (post_kvm_run_save): IF, and whether KVM_INTERRUPT may be used now. */
static void sim_interrupt_state(KvmVcpu *vcpu)
{
    X86Cpu *cpu = ((SimVcpu *)vcpu->backend_data)->cpu;
    KvmRun *run = vcpu->kvm_run;
    run->if_flag = (cpu->flags & X86_FLAG_IF) != 0;
    run->ready_for_interrupt_injection = x86_cpu_interruptible(cpu) && cpu->intr_vector < 0;
    run->cr8 = cpu->cr8;
    run->apic_base = ((SimVcpu *)vcpu->backend_data)->apic_base;
}

/* After every exit: the registers the VMM sees, the interrupt state in kvm_run, and the
 * seed's flat view of the VMCS. */
static void sim_mirror_out(KvmVcpu *vcpu)
{
    sim_interrupt_state(vcpu);
    vmcs_update_seed_view(&((SimVcpu *)vcpu->backend_data)->vmcs);
    sim_get_regs(vcpu, &vcpu->regs);
    sim_get_sregs(vcpu, &vcpu->sregs);
    vcpu->regs_synced = vcpu->regs;
    vcpu->sregs_synced = vcpu->sregs;
}

/* ---- single-stepping (KVM_SET_GUEST_DEBUG) ---- */

/* The interpreter checks what is asked for (X86_DBG_*), nothing when nothing is. */
static int sim_set_guest_debug(KvmVcpu *vcpu, const struct kvm_guest_debug *dbg)
{
    SimVcpu *sc = vcpu->backend_data;
    uint32_t control = dbg->control;
    bool on = control & KVM_GUESTDBG_ENABLE;
    sc->singlestep = on && (control & KVM_GUESTDBG_SINGLESTEP);
    sc->step_done = false;
    uint32_t flags = 0, dr7 = 0;
    if (on && (control & KVM_GUESTDBG_USE_SW_BP))
        flags |= X86_DBG_INT3;
    if (on && (control & KVM_GUESTDBG_SIM_MAGIC_BREAK))
        flags |= X86_DBG_MAGIC;
    if (on && (control & KVM_GUESTDBG_USE_HW_BP)) {
        dr7 = (uint32_t)dbg->arch.debugreg[7];
        for (int i = 0; i < 4; i++) {
            if (!X86_DR7_ENABLED(dr7, i))
                continue;
            flags |= X86_DR7_RW(dr7, i) == 0 ? X86_DBG_EXEC : X86_DBG_DATA;
        }
    }
    uint64_t addr[4];
    for (int i = 0; i < 4; i++)
        addr[i] = dbg->arch.debugreg[i];
    x86_cpu_set_debug(sc->cpu, flags, dr7, addr);
    return 0;
}

/* A debug event the host asked for (X86_EXIT_DEBUG), as Linux reports it: KVM_EXIT_DEBUG
 * with the exception, DR6 and the linear PC. In the VMCS it is the exception exit a VMM
 * intercepting #BP / #DB gets (basic reason 0, interruption information: vector and type
 * software or hardware exception, SDM Vol. 3C, 28.2.2; a #DB's qualification holds B0-B3,
 * 28.2.1). The magic breakpoint has no hardware exit: it is recorded as a #DB. */
static void sim_report_debug(KvmVcpu *vcpu, SimVcpu *sc)
{
    X86Cpu *cpu = sc->cpu;
    KvmRun *run = vcpu->kvm_run;
    bool int3 = cpu->dbg_event == X86_DBG_EVENT_INT3;
    uint32_t vector = int3 ? X86_EXC_BP : X86_EXC_DB;
    record_exit(sc, EXIT_REASON_EXCEPTION_NMI, int3 ? 0 : cpu->dbg_dr6);
    sc->vmcs.exit.interruption_info = VMX_INTR_INFO_VALID | vector |
                                      ((int3 ? 6u : 3u) << VMX_INTR_INFO_TYPE_SHIFT);
    sc->vmcs.exit.instruction_length = int3 ? 1 : 0;
    run->exit_reason = KVM_EXIT_DEBUG;
    memset(&run->debug, 0, sizeof(run->debug));
    run->debug.arch.exception = cpu->dbg_event == X86_DBG_EVENT_MAGIC
                                    ? KVM_DEBUG_EXCEPTION_MAGIC_BREAK : vector;
    run->debug.arch.pc = (uint32_t)(cpu->cs.base + cpu->rip);
    run->debug.arch.dr6 = 0xFFFF0FF0u | cpu->dbg_dr6;   /* reserved bits read as 1 */
    run->debug.arch.dr7 = cpu->dbg_dr7 | 0x400;
}

/* The exit of a completed single step, as Linux KVM reports it for KVM_GUESTDBG_SINGLESTEP:
 * KVM_EXIT_DEBUG with #DB, DR6.BS and the linear address of the next instruction. In the
 * VMCS it is a monitor-trap-flag exit (basic reason 37, SDM Vol. 3C, "Monitor Trap Flag"),
 * which is how a VT-x VMM steps one instruction. */
static void sim_report_step(KvmVcpu *vcpu, SimVcpu *sc)
{
    KvmRun *run = vcpu->kvm_run;
    record_exit(sc, EXIT_REASON_MONITOR_TRAP_FLAG, 0);
    sc->vmcs.exit.instruction_length = 0;
    run->exit_reason = KVM_EXIT_DEBUG;
    memset(&run->debug, 0, sizeof(run->debug));
    run->debug.arch.exception = X86_EXC_DB;
    run->debug.arch.pc = sc->cpu->cs.base + sc->cpu->rip;
    run->debug.arch.dr6 = 0xFFFF4FF0;   /* BS (bit 14) over DR6's reserved-1 bits */
    run->debug.arch.dr7 = 0x400;
}

/* One KVM_RUN in single-step mode: at most one instruction. An instruction that already
 * completed at the last exit (an OUT or IN finished by complete_pending, an MMIO write)
 * ends here at once, as Linux completes it and then reports the step; an exit the kernel
 * handles itself (CPUID, MSRs) completes its instruction and so ends the step too. */
/* The instruction limit as the VMX-preemption timer (SDM Vol. 3C, "VMX-Preemption
 * Timer"): it counts down retired instructions here, and its expiry is exit reason 52,
 * which user space sees as KVM_EXIT_INTR (kvm_vcpu_instruction_limit_reached tells it
 * apart from a kick). Returns the budget for the next x86_cpu_run (0: none), or true in
 * *expired when nothing is left. */
static uint64_t sim_budget(SimVcpu *sc, uint64_t want, bool *expired)
{
    *expired = false;
    if (!sc->insn_limit)
        return want;
    uint64_t done = sc->cpu->instructions_retired;
    if (done >= sc->insn_limit) {
        *expired = true;
        return 0;
    }
    uint64_t left = sc->insn_limit - done;
    return want && want < left ? want : left;
}

static void sim_report_limit(KvmVcpu *vcpu, SimVcpu *sc)
{
    record_exit(sc, EXIT_REASON_PREEMPTION_TIMER, 0);
    sc->vmcs.exit.instruction_length = 0;
    sc->limit_reached = true;
    vcpu->kvm_run->exit_reason = KVM_EXIT_INTR;
}

static void sim_run_singlestep(KvmVcpu *vcpu, SimVcpu *sc)
{
    X86Cpu *cpu = sc->cpu;
    bool queued_write = cpu->mmio_wq_head < cpu->mmio_wq_n;
    if (sc->step_done && !queued_write) {
        sc->step_done = false;
        sim_report_step(vcpu, sc);
        return;
    }
    bool expired;
    sim_budget(sc, 1, &expired);
    if (expired) {
        sim_report_limit(vcpu, sc);
        return;
    }
    X86Exit x = x86_cpu_run(cpu, 1);
    if (x == X86_EXIT_BUDGET) {
        sim_report_step(vcpu, sc);
        return;
    }
    /* A write the kernel kept (coalesced MMIO) may be followed by more writes of the same
     * instruction: they are the same step's, kept or exiting in turn. */
    while (!handle_exit(vcpu, sc, x)) {
        if (x != X86_EXIT_MMIO || cpu->mmio_wq_head >= cpu->mmio_wq_n) {
            sim_report_step(vcpu, sc);
            return;
        }
        x = x86_cpu_run(cpu, 1);   /* the next queued write; nothing is executed */
    }
    sc->step_done = x == X86_EXIT_IO || (x == X86_EXIT_MMIO && cpu->exit.mmio.is_write);
}

static int sim_run(KvmVcpu *vcpu)
{
    SimVcpu *sc = vcpu->backend_data;
    X86Cpu *cpu = sc->cpu;
    KvmRun *run = vcpu->kvm_run;
    EptContext *ept = ((SimVm *)vcpu->vm->backend_data)->ept;

    if (memcmp(&vcpu->sregs, &vcpu->sregs_synced, sizeof(vcpu->sregs)) != 0)
        sim_set_sregs(vcpu, &vcpu->sregs);
    if (memcmp(&vcpu->regs, &vcpu->regs_synced, sizeof(vcpu->regs)) != 0)
        sim_set_regs(vcpu, &vcpu->regs);
    /* The EPT changed since the TLB was filled (slots, dirty-log write protection). */
    if (ept_generation(ept) != sc->ept_generation) {
        sc->ept_generation = ept_generation(ept);
        x86_cpu_tlb_invalidate(cpu);
    }
    sc->fault_gpa_page = ~0ull;
    /* The VMM may have written guest memory since the last run: unless it announces its
     * writes (host_writes_announced, as SimpleVM does), assume it did; then every decoded
     * block is compared with memory before it runs again. */
    uint64_t host_gen = __atomic_load_n(&vcpu->vm->host_write_gen, __ATOMIC_ACQUIRE);
    if (!vcpu->vm->host_writes_announced || host_gen != sc->host_write_gen) {
        sc->host_write_gen = host_gen;
        x86_cpu_host_wrote_memory(cpu);
    }
    sc->note[0] = '\0';
    sc->limit_reached = false;
    bool read_pending = sc->pending == PENDING_MMIO_READ;
    if (complete_pending(sc, run) < 0) {
        store_guest_state(&sc->vmcs, cpu);
        set_internal_error(sc, run, "internal error: the last exit's data is larger than "
                                    "its buffer");
        sc->pending = PENDING_NONE;
        sim_mirror_out(vcpu);
        return 0;
    }

    if (__atomic_load_n(&run->immediate_exit, __ATOMIC_SEQ_CST)) {
        /* Linux finishes the pending exit's instruction before it looks at immediate_exit
         * ("to complete pending operations without allowing any further instructions to
         * be executed", api.rst). An I/O exit is complete by now; an MMIO read completes
         * when its instruction runs again with the value (x86_cpu_complete_mmio), so run
         * that one instruction, unless an event would be delivered before it (then the
         * replay waits for the next entry, as before). A second MMIO access of the same
         * instruction exits as it would in Linux. */
        if (read_pending && cpu->intr_vector < 0 && !cpu->nmi_pending &&
            cpu->pending_vector < 0 && !sc->singlestep) {
            X86Exit x = x86_cpu_run(cpu, 1);
            if (x != X86_EXIT_BUDGET && handle_exit(vcpu, sc, x)) {
                sim_mirror_out(vcpu);
                return 0;
            }
        }
        run->exit_reason = KVM_EXIT_INTR;
        sim_mirror_out(vcpu);
        return 0;
    }

    /* VM entry: the guest-state area from the vCPU, checked (SDM Vol. 3C, 27.3.1). */
    store_guest_state(&sc->vmcs, cpu);
    uint64_t qualification = 0;
    if (vmcs_check_guest_state(&sc->vmcs, &qualification, sc->note, sizeof(sc->note)) != 0) {
        sc->vmcs.exit.reason = vmx_exit_reason(EXIT_REASON_INVALID_GUEST_STATE, true);
        sc->vmcs.exit.qualification = qualification;
        run->exit_reason = KVM_EXIT_FAIL_ENTRY;
        run->fail_entry.hardware_entry_failure_reason = sc->vmcs.exit.reason;
        run->fail_entry.cpu = 0;
        sim_mirror_out(vcpu);
        return 0;
    }

    /* request_interrupt_window (Linux: enable_irq_window): when the guest can take an
     * interrupt at entry, the exit is immediate; else at the first instruction boundary
     * where it can. */
    bool want_window = run->request_interrupt_window != 0;
    if (want_window && x86_cpu_interruptible(cpu) && cpu->intr_vector < 0) {
        record_exit(sc, EXIT_REASON_INTERRUPT_WINDOW, 0);
        sc->vmcs.exit.instruction_length = 0;
        run->exit_reason = KVM_EXIT_IRQ_WINDOW_OPEN;
        sim_mirror_out(vcpu);
        return 0;
    }
    x86_cpu_request_irq_window(cpu, want_window);
    if (sc->singlestep) {
        sim_run_singlestep(vcpu, sc);
    } else {
        for (;;) {
            /* The icount deadline (--clock virtual) and the instruction limit
             * (--max-insns): the nearer one bounds the run. */
            uint64_t until_deadline = 0;
            if (sc->icount_deadline != UINT64_MAX)
                until_deadline = sc->icount_deadline > cpu->instructions_retired
                                     ? sc->icount_deadline - cpu->instructions_retired : 1;
            bool expired;
            uint64_t budget = sim_budget(sc, until_deadline, &expired);
            if (expired) {
                sim_report_limit(vcpu, sc);
                break;
            }
            X86Exit x = x86_cpu_run(cpu, budget);
            if (x == X86_EXIT_BUDGET && sc->insn_limit &&
                cpu->instructions_retired < sc->icount_deadline)
                continue;   /* the limit: reported by the next sim_budget */
            if (handle_exit(vcpu, sc, x))
                break;
        }
    }
    x86_cpu_request_irq_window(cpu, false);
    sim_mirror_out(vcpu);
    return 0;
}

static int sim_interrupt(KvmVcpu *vcpu, uint32_t irq)
{
    X86Cpu *cpu = ((SimVcpu *)vcpu->backend_data)->cpu;
    if (cpu->intr_vector >= 0)
        return -EEXIST;   /* as Linux: one latched vector at a time */
    x86_cpu_set_intr(cpu, (int)irq);
    vcpu->kvm_run->ready_for_interrupt_injection = 0;
    return 0;
}

static int sim_nmi(KvmVcpu *vcpu)
{
    x86_cpu_set_nmi(((SimVcpu *)vcpu->backend_data)->cpu);
    return 0;
}

int kvm_vcpu_set_a20(KvmVcpu *vcpu, bool enabled)
{
    if (!vcpu || vcpu->vm->kvm->backend != HV_BACKEND_SIM)
        return -ENOTSUP;
    x86_cpu_set_a20(((SimVcpu *)vcpu->backend_data)->cpu, enabled);
    return 0;
}

int kvm_vcpu_icount(KvmVcpu *vcpu, uint64_t *count)
{
    if (!vcpu || !count || vcpu->vm->kvm->backend != HV_BACKEND_SIM)
        return -ENOTSUP;
    *count = ((SimVcpu *)vcpu->backend_data)->cpu->instructions_retired;
    return 0;
}

int kvm_vcpu_set_icount_deadline(KvmVcpu *vcpu, uint64_t count)
{
    if (!vcpu || vcpu->vm->kvm->backend != HV_BACKEND_SIM)
        return -ENOTSUP;
    ((SimVcpu *)vcpu->backend_data)->icount_deadline = count;
    return 0;
}

static void sim_kick(KvmVcpu *vcpu)
{
    x86_cpu_request_stop(((SimVcpu *)vcpu->backend_data)->cpu);
}

/* The interpreter's event hook: the state in KVM's structs, then the VMM's function. */
static void sim_event(void *opaque, int vector, bool software, bool has_error, uint32_t error)
{
    KvmVcpu *vcpu = opaque;
    SimVcpu *sc = vcpu->backend_data;
    KvmEventInfo ev = {.vector = vector, .software = software, .has_error_code = has_error,
                       .error_code = error};
    sim_get_regs(vcpu, &ev.regs);
    sim_get_sregs(vcpu, &ev.sregs);
    sc->event_fn(sc->event_opaque, &ev);
}

int kvm_vcpu_set_event_hook(KvmVcpu *vcpu, KvmEventFn fn, void *opaque)
{
    if (!vcpu)
        return -EINVAL;
    if (vcpu->vm->kvm->backend != HV_BACKEND_SIM)
        return hv_fail(ENOTSUP, "KVM delivers interrupts and exceptions in the kernel: "
                       "user space cannot log them (QEMU's -d int needs TCG too)");
    SimVcpu *sc = vcpu->backend_data;
    sc->event_fn = fn;
    sc->event_opaque = opaque;
    sc->cpu->event_hook = fn ? sim_event : NULL;
    sc->cpu->event_opaque = vcpu;
    return 0;
}

const VMCS *kvm_vcpu_vmcs(KvmVcpu *vcpu)
{
    if (!vcpu || vcpu->vm->kvm->backend != HV_BACKEND_SIM)
        return NULL;
    return &((SimVcpu *)vcpu->backend_data)->vmcs;
}

EptContext *kvm_vm_ept(KvmVm *vm)
{
    if (!vm || vm->kvm->backend != HV_BACKEND_SIM)
        return NULL;
    return ((SimVm *)vm->backend_data)->ept;
}

int kvm_vcpu_set_instruction_limit(KvmVcpu *vcpu, uint64_t limit)
{
    if (!vcpu)
        return -EINVAL;
    if (vcpu->vm->kvm->backend != HV_BACKEND_SIM)
        return hv_fail(ENOTSUP, "an instruction limit needs the software backend (--accel sim)");
    ((SimVcpu *)vcpu->backend_data)->insn_limit = limit;
    return 0;
}

uint64_t kvm_vcpu_instructions_retired(KvmVcpu *vcpu)
{
    if (!vcpu || vcpu->vm->kvm->backend != HV_BACKEND_SIM)
        return 0;
    return ((SimVcpu *)vcpu->backend_data)->cpu->instructions_retired;
}

bool kvm_vcpu_instruction_limit_reached(KvmVcpu *vcpu)
{
    if (!vcpu || vcpu->vm->kvm->backend != HV_BACKEND_SIM)
        return false;
    return ((SimVcpu *)vcpu->backend_data)->limit_reached;
}

const char *kvm_vcpu_exit_note(KvmVcpu *vcpu)
{
    if (!vcpu || vcpu->vm->kvm->backend != HV_BACKEND_SIM)
        return "";
    return ((SimVcpu *)vcpu->backend_data)->note;
}

const KvmBackendOps kvm_sim_ops = {
    .name = "sim",
    .open = sim_open,
    .close = sim_close,
    .check_extension = sim_check_extension,
    .create_vm = sim_create_vm,
    .destroy_vm = sim_destroy_vm,
    .set_memory_region = sim_set_memory_region,
    .get_dirty_log = sim_get_dirty_log,
    .coalesced_mmio = sim_coalesced_mmio,
    .coalesced_ring = sim_coalesced_ring,
    .create_vcpu = sim_create_vcpu,
    .destroy_vcpu = sim_destroy_vcpu,
    .get_regs = sim_get_regs,
    .set_regs = sim_set_regs,
    .get_sregs = sim_get_sregs,
    .set_sregs = sim_set_sregs,
    .run = sim_run,
    .kick = sim_kick,
    .set_guest_debug = sim_set_guest_debug,
    .interrupt = sim_interrupt,
    .nmi = sim_nmi,
    .get_msrs = sim_get_msrs,
    .set_msrs = sim_set_msrs,
    .tsc_khz = sim_tsc_khz,
    .get_cpuid = sim_get_cpuid,
};
