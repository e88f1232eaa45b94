/*
 * The PC platform: which device is wired to which interrupt line (the one place that
 * knows), the VM clock and its timer, and interrupt injection through the KVM API.
 *
 * Interrupts (a userspace irqchip, on KVM as on sim): a device raises an IrqLine; the
 * 8259A pair computes its INT output; on a rising INT the platform writes its wake
 * eventfd and kicks the vCPU out of KVM_RUN. Before every KVM_RUN, platform_before_run
 * follows Linux's protocol for a userspace controller (api.rst, "KVM_INTERRUPT"): when
 * kvm_run->ready_for_interrupt_injection and if_flag allow, the PIC is acknowledged (INTA)
 * and its vector goes to KVM_INTERRUPT; otherwise request_interrupt_window makes KVM
 * return with KVM_EXIT_IRQ_WINDOW_OPEN as soon as the guest can take one.
 *
 * Time: one timer, a timerfd on CLOCK_MONOTONIC armed for the earliest device deadline.
 * The front end's main thread polls it (vm_timer_fd / vm_service_timers); a halted vCPU
 * blocks in poll on it and on the wake eventfd, so an idle guest costs no CPU. With the
 * virtual clock (sim), time is the retired-instruction count plus what halts skipped: the
 * vCPU thread sets the sim's icount deadline to the next device event, and a halt jumps
 * straight to it, so the same guest always sees the same interrupts at the same
 * instructions.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "kvm/backend.h"
#include "vmm/platform.h"
#include "vmm/vm_devices.h"

#define X86_RFLAGS_IF (1u << 9)
#define APIC_BASE_ENABLE (1ull << 11)   /* IA32_APIC_BASE bit 11 (SDM Vol. 3A, 11.4.4) */
/* The wall clock of --clock virtual: 2000-01-01 00:00:00 UTC, the same for every run. */
#define VIRTUAL_EPOCH 946684800
/* Timer events come at most every 50 us (20 kHz): a guest that programs a 1-clock PIT
 * period or a 1 ns APIC timer gets its interrupts coalesced, not a VMM spinning on its
 * timer (host timers do not go faster anyway). */
#define MIN_TIMER_INTERVAL_NS 50000ull
/* A bus range by field name (the structs also carry the seed's names for the range). */
#define DEV_RANGE(b, n, r, w, o, label) \
    {.base = (b), .length = (n), .read = (r), .write = (w), .opaque = (o), .name = (label)}
/* MSRs the platform sets up or serves (SDM Vol. 4). */
#define MSR_IA32_TSC          0x10
#define MSR_IA32_TSC_DEADLINE 0x6E0
#define MSR_MTRR_PHYSBASE0    0x200
#define MSR_MTRR_PHYSMASK0    0x201
#define MSR_MTRR_FIX64K_00000 0x250
#define MSR_MTRR_FIX16K_80000 0x258
#define MSR_MTRR_FIX16K_A0000 0x259
#define MSR_MTRR_FIX4K_C0000  0x268
#define MSR_MTRR_DEF_TYPE     0x2FF
#define MTRR_UC 0x00
#define MTRR_WB 0x06
#define MTRR_BYTES(t) (0x0101010101010101ull * (t))
#define MTRR_DEF_E_FE 0xC00ull        /* MTRRs and fixed ranges enabled (Figure 12-6) */
#define MTRR_MASK_VALID (1ull << 11)
#define MTRR_PHYS_MASK 0xFFFFFF000ull   /* MAXPHYADDR 36 */
#define PCI_HOLE_BASE 0xC0000000ull   /* RAM ends at 3 GiB at most (VM_MAX_RAM) */

static bool nmi_waiting(VmCpu *c);

static uint64_t host_now_ns(void *opaque)
{
    (void)opaque;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Virtual time: 1 ns per retired instruction (of all vCPUs), plus the time halts skipped. Read on the
 * vCPU thread (device accesses, timers) or while the vCPU is paused. */
static uint64_t virtual_now_ns(void *opaque)
{
    VmPlatform *p = opaque;
    uint64_t total = 0;
    /* Several vCPUs run in turn on one thread: time is every instruction any retired. */
    for (unsigned i = 0; i < p->svm->num_vcpus; i++) {
        uint64_t icount = 0;
        kvm_vcpu_icount(p->svm->vcpus[i], &icount);
        total += icount;
    }
    return total + p->skipped_ns;
}

/* The VM clock the devices read: they keep this one function, whatever the mode. */
static uint64_t vm_now_ns(void *opaque)
{
    VmPlatform *p = opaque;
    return p->clock_mode == VM_CLOCK_VIRTUAL ? virtual_now_ns(p) : host_now_ns(NULL);
}

/* The RTC's epoch: the wall-clock second at VM clock 0. The host clock is CLOCK_MONOTONIC,
 * whose 0 is the host's boot, not the VM's start: time(NULL) there put the guest's date
 * ahead by the host's uptime. */
static int64_t rtc_epoch(VmPlatform *p)
{
    if (p->clock_mode == VM_CLOCK_VIRTUAL)
        return VIRTUAL_EPOCH + p->rtc_shift;
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    uint64_t now = host_now_ns(NULL);
    return (int64_t)wall.tv_sec - (int64_t)(now / 1000000000ull) -
           ((uint64_t)wall.tv_nsec < now % 1000000000ull ? 1 : 0) + p->rtc_shift;
}

int vm_set_rtc_base(SimpleVM *svm, VmRtcBase base, int64_t date)
{
    if (!svm || !svm->platform)
        return hv_fail(EINVAL, "-rtc: no VM");
    if (svm->exit_count)
        return hv_fail(EBUSY, "the RTC's base is chosen before the VM first runs");
    VmPlatform *p = svm->platform;
    p->rtc_shift = 0;
    int64_t now = rtc_epoch(p) + (int64_t)(vm_now_ns(p) / 1000000000ull);   /* UTC, seconds */
    switch (base) {
    case VM_RTC_UTC:
        break;
    case VM_RTC_LOCALTIME: {
        time_t t = (time_t)now;
        struct tm tm;
        if (!localtime_r(&t, &tm))
            return hv_fail(EINVAL, "-rtc base=localtime: the host's local time is unknown");
        p->rtc_shift = tm.tm_gmtoff;
        break;
    }
    case VM_RTC_DATE:
        p->rtc_shift = date - now;
        break;
    default:
        return hv_fail(EINVAL, "-rtc: unknown base %d", (int)base);
    }
    rtc_set_epoch(p->rtc, rtc_epoch(p));
    return 0;
}

/* The sim kernel's TSC and kvm-clock count the same VM clock as the devices, so that the
 * guest's time, halts skipped by --clock virtual included, is one (KVM counts the host's
 * clock, which is what the devices read there). The wall clock at its start is the RTC's. */
static void set_kernel_clock(VmPlatform *p)
{
    uint64_t wall_ns;
    if (p->clock_mode == VM_CLOCK_VIRTUAL) {
        wall_ns = (uint64_t)VIRTUAL_EPOCH * 1000000000ull;
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        wall_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    }
    kvm_vm_set_clock(p->svm->vm, vm_now_ns, p, wall_ns);   /* -ENOTSUP on KVM: its own */
}

/* The MTRRs as PC firmware leaves them (SeaBIOS does the same): write-back by default, the
 * VGA window A0000-BFFFF uncacheable, and the 32-bit PCI hole (3 GiB to 4 GiB: the IOAPIC,
 * the LAPIC, device memory) uncacheable through variable range 0 (SDM Vol. 3A, 12.11).
 * Linux leaves PAT off when the MTRRs are disabled. */
static void set_firmware_mtrrs(KvmVcpu *vcpu)
{
    static const struct { uint32_t msr; uint64_t value; } mtrrs[] = {
        {MSR_MTRR_FIX64K_00000, MTRR_BYTES(MTRR_WB)},
        {MSR_MTRR_FIX16K_80000, MTRR_BYTES(MTRR_WB)},
        {MSR_MTRR_FIX16K_A0000, MTRR_BYTES(MTRR_UC)},
        {MSR_MTRR_FIX4K_C0000 + 0, MTRR_BYTES(MTRR_WB)},
        {MSR_MTRR_FIX4K_C0000 + 1, MTRR_BYTES(MTRR_WB)},
        {MSR_MTRR_FIX4K_C0000 + 2, MTRR_BYTES(MTRR_WB)},
        {MSR_MTRR_FIX4K_C0000 + 3, MTRR_BYTES(MTRR_WB)},
        {MSR_MTRR_FIX4K_C0000 + 4, MTRR_BYTES(MTRR_WB)},
        {MSR_MTRR_FIX4K_C0000 + 5, MTRR_BYTES(MTRR_WB)},
        {MSR_MTRR_FIX4K_C0000 + 6, MTRR_BYTES(MTRR_WB)},
        {MSR_MTRR_FIX4K_C0000 + 7, MTRR_BYTES(MTRR_WB)},
        {MSR_MTRR_PHYSBASE0, PCI_HOLE_BASE | MTRR_UC},
        {MSR_MTRR_PHYSMASK0, (~(0x100000000ull - PCI_HOLE_BASE - 1) & MTRR_PHYS_MASK) |
                                 MTRR_MASK_VALID},
        {MSR_MTRR_DEF_TYPE, MTRR_DEF_E_FE | MTRR_WB},
    };
    for (size_t i = 0; i < sizeof(mtrrs) / sizeof(mtrrs[0]); i++) {
        int r = kvm_vcpu_set_msr(vcpu, mtrrs[i].msr, mtrrs[i].value);
        if (r < 0) {
            hv_log(HV_LOG_INFO, "MTRR 0x%x not set up: %s", mtrrs[i].msr, strerror(-r));
            return;
        }
    }
}

static bool on_vcpu_thread(VmPlatform *p)
{
    return p->vcpu_thread_known && pthread_equal(p->vcpu_thread, pthread_self());
}

static void wake_write(VmPlatform *p)
{
    uint64_t one = 1;
    if (write(p->wake_fd, &one, sizeof(one)) < 0) {
        /* the counter is saturated: a wake-up is pending anyway */
    }
}

/* The PIC's INT went high: a halted vCPU wakes, a running one leaves the guest so that
 * the next entry injects. The vCPU thread itself needs neither. */
static void on_interrupt(void *opaque)
{
    VmPlatform *p = opaque;
    if (on_vcpu_thread(p))
        return;
    wake_write(p);
    /* The vCPU in KVM_RUN now (the interrupt may be another's: its turn then comes). */
    kvm_vcpu_kick(p->svm->vcpus[__atomic_load_n(&p->svm->cur_vcpu, __ATOMIC_RELAXED)]);
}

static void cpu_on_interrupt(void *opaque) { on_interrupt(((VmCpu *)opaque)->p); }

void platform_wake(VmPlatform *p)
{
    if (p)
        wake_write(p);
}

/* Advances every timer device to now, raising its due interrupts, and arms the one timer
 * for the earliest next deadline. Any thread; serialised by timer_lock. */
static void service_timers(VmPlatform *p)
{
    pthread_mutex_lock(&p->timer_lock);
    uint64_t now = dev_clock_now(&p->clock);
    uint64_t next = pit_advance(p->pit, now);
    for (unsigned i = 0; i < p->ncpus; i++) {
        uint64_t apic = lapic_advance(p->cpu[i].lapic, now);
        if (apic < next)
            next = apic;
    }
    uint64_t rtc = rtc_advance(p->rtc, now);
    if (rtc < next)
        next = rtc;
    uint64_t pm = acpi_pm_advance(p->pm, now);
    if (pm < next)
        next = pm;
    if (p->hpet) {
        uint64_t hpet = hpet_advance(p->hpet, now);
        if (hpet < next)
            next = hpet;
    }
    if (next != DEV_NO_DEADLINE && next < now + MIN_TIMER_INTERVAL_NS)
        next = now + MIN_TIMER_INTERVAL_NS;
    __atomic_store_n(&p->next_deadline, next, __ATOMIC_RELAXED);   /* read by after_run */
    if (p->clock_mode == VM_CLOCK_HOST) {
        struct itimerspec its = {0};
        if (next != DEV_NO_DEADLINE) {
            its.it_value.tv_sec = (time_t)(next / 1000000000ull);
            its.it_value.tv_nsec = (long)(next % 1000000000ull);
            if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
                its.it_value.tv_nsec = 1;   /* zero would disarm */
        }
        timerfd_settime(p->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
    }   /* the virtual clock's deadline: platform_before_run */
    pthread_mutex_unlock(&p->timer_lock);
}

/* An ISA interrupt line: both controllers see it (PIC mode or APIC mode is the guest's
 * choice, by masking one of them). */
static void isa_set_irq(void *opaque, int line, int level)
{
    VmPlatform *p = opaque;
    if (p->kernel_irqchip) {
        if (level && line >= 0 && line < PIC_IRQ_LINES)
            __atomic_add_fetch(&p->kernel_irq_counts[line], 1, __ATOMIC_RELAXED);
        if (kvm_irq_line(p->svm->vm, (uint32_t)line, level) < 0)
            hv_log(HV_LOG_WARN, "%s", hv_last_error());
        return;
    }
    pic_set_irq(p->pic, line, level);
    ioapic_set_irq(p->ioapic, line == MACHINE_IRQ_PIT ? MACHINE_GSI_PIT : line, level);
}

/* The 8254's IRQ0 and the RTC's IRQ8 while the HPET's legacy replacement route has not
 * taken them (HPET 1.0a, 2.3.9.2.1: the route replaces those interrupts). */
static void legacy_timer_irq(void *opaque, int line, int level)
{
    VmPlatform *p = opaque;
    if (!__atomic_load_n(&p->hpet_legacy, __ATOMIC_ACQUIRE))
        isa_set_irq(p, line, level);
}

/* An IOAPIC pin by GSI number (the HPET's routes): below 16 the ISA line of that number
 * reaches the 8259A too, as QEMU's pc wires its GSIs (the cascade, 2, excepted). */
static void gsi_set_irq(void *opaque, int gsi, int level)
{
    VmPlatform *p = opaque;
    if (gsi < 0 || gsi >= MACHINE_IOAPIC_PINS)
        return;
    if (p->kernel_irqchip) {
        if (kvm_irq_line(p->svm->vm, (uint32_t)gsi, level) < 0)
            hv_log(HV_LOG_WARN, "%s", hv_last_error());
        return;
    }
    if (gsi < MACHINE_ISA_IRQS && gsi != 2)
        pic_set_irq(p->pic, gsi, level);
    ioapic_set_irq(p->ioapic, gsi, level);
}

static void hpet_legacy_changed(void *opaque, bool on)
{
    __atomic_store_n(&((VmPlatform *)opaque)->hpet_legacy, on, __ATOMIC_RELEASE);
}

/* SLP_EN with SLP_TYP: S5 (\_S5 of the DSDT) powers the machine off; the other sleep
 * states are not offered (no \_S1-\_S4), so a guest asking for one just goes on. */
static void acpi_sleep(void *opaque, unsigned slp_typ)
{
    VmPlatform *p = opaque;
    if (slp_typ == ACPI_SLP_TYP_S5)
        p->poweroff_requested = true;
    else
        hv_log(HV_LOG_WARN, "the guest asked for ACPI sleep type %u, which the machine lacks",
               slp_typ);
}

int platform_install_tables(VmPlatform *p)
{
    int r = fw_tables_install(p->svm, &p->machine, &p->tables);
    return r < 0 ? hv_fail(-r, "cannot build the firmware tables") : 0;
}

int platform_set_com2(VmPlatform *p)
{
    p->machine.com2 = true;
    return platform_install_tables(p);
}

void platform_set_isa_irq(void *opaque, int line, int level)
{
    VmPlatform *p = opaque;
    if (line < 0 || line >= PIC_IRQ_LINES)
        return;   /* the ISA bus has 16 lines (pc-testdev names up to 24) */
    isa_set_irq(p, line, level);
}

/* A PIRQ's IOAPIC pin. PCI INTx is active low (PCI 3.0, 2.2.6) and the DSDT says so
 * with hard-wired GSIs, so the user-space IOAPIC sees the electrical level (asserted is
 * low) and applies the polarity the OS programs. KVM's IOAPIC takes the logical level
 * and ignores polarity, so it gets that. */
static void pci_set_gsi(void *opaque, int gsi, int level)
{
    VmPlatform *p = opaque;
    if (p->kernel_irqchip) {
        if (kvm_irq_line(p->svm->vm, (uint32_t)gsi, level) < 0)
            hv_log(HV_LOG_WARN, "%s", hv_last_error());
        return;
    }
    ioapic_set_irq(p->ioapic, gsi, !level);
}

/* A PIRQ that PIIX3 routes to the 8259A (not to the IOAPIC's ISA pin: PIIX3 steers
 * PIRQs to the PIC inputs only). */
static void pci_set_isa_irq(void *opaque, int irq, int level)
{
    VmPlatform *p = opaque;
    if (irq < 0 || irq >= PIC_IRQ_LINES)
        return;
    if (p->kernel_irqchip) {
        /* KVM's line feeds its PIC and IOAPIC pin alike; the IOAPIC pin stays masked by
         * an OS that uses the GSI. */
        if (kvm_irq_line(p->svm->vm, (uint32_t)irq, level) < 0)
            hv_log(HV_LOG_WARN, "%s", hv_last_error());
        return;
    }
    pic_set_irq(p->pic, irq, level);
}

/* An MSI (PCI 3.0, 6.8.1.3; SDM Vol. 3A, 11.11): address 0xFEE0_0000 | destination
 * ID << 12 | destination mode (bit 2, logical), data: vector (7:0), delivery mode
 * (10:8), trigger mode (15). Fixed and lowest-priority deliver the vector, NMI the NMI,
 * routed by destination (platform_deliver); others (SMI, INIT, ExtINT) and addresses
 * outside the APIC's window are dropped, as is a vector below 16 (reserved: the APIC
 * would flag an illegal vector). */
static void pci_msi(void *opaque, uint64_t addr, uint32_t data)
{
    VmPlatform *p = opaque;
    if ((addr & 0xFFF00000ull) != MACHINE_LAPIC_BASE)
        return;
    if (p->kernel_irqchip) {
        if (!p->msi_warned)
            hv_log(HV_LOG_WARN, "MSI with the kernel irqchip is not supported here (no "
                   "KVM_SIGNAL_MSI): the message to 0x%llx is dropped",
                   (unsigned long long)addr);
        p->msi_warned = true;
        return;
    }
    IoApicMessage m = {.vector = (int)(data & 0xFF), .level = (data >> 15) & 1,
                       .dest = (uint8_t)(addr >> 12), .logical = (addr >> 2) & 1,
                       .mode = (data >> 8) & 7};
    if (m.mode == IOAPIC_DM_NMI || ((m.mode == IOAPIC_DM_FIXED || m.mode == IOAPIC_DM_LOWEST) &&
                                    m.vector >= 16))
        platform_deliver(p, -1, 0, &m);
}

static void pci_bus_reset_hook(void *opaque) { pci_bus_reset(opaque); }
static void pci_bus_destroy_hook(void *opaque) { pci_bus_destroy(opaque); }

/* Bus 0 with its bridges, wired to the interrupt controllers; the VM's device list owns
 * it. The firmware step (BARs, PIRQ routes, ELCR) is done here for the bridges and again
 * for each device added. */
static int create_pci(VmPlatform *p)
{
    const PciBusWiring w = {.io = p->svm->io_bus, .mmio = p->svm->mmio_bus,
                            .dma = vm_dma_handle(p->svm), .set_gsi = pci_set_gsi,
                            .set_isa_irq = pci_set_isa_irq, .msi = pci_msi, .opaque = p};
    if (!p->kernel_irqchip)   /* INTx idles high: the electrical level of an idle line */
        for (int n = 0; n < MACHINE_PCI_PIRQS; n++)
            ioapic_set_irq(p->ioapic, MACHINE_PCI_GSI_BASE + n, 1);
    PciBus *bus = pci_bus_create(&w);
    if (!bus)
        return -ENOMEM;
    int r = vm_device_add(p->svm, &(DeviceRecord){.name = "pci", .opaque = bus,
                                                  .reset = pci_bus_reset_hook,
                                                  .destroy = pci_bus_destroy_hook});
    if (r < 0)
        return r;
    p->pci = bus;
    pci_bus_assign_resources(bus);
    if (!p->kernel_irqchip) {
        /* PCI interrupts are level-triggered: the ELCR says so for the PIRQs' IRQs. */
        uint32_t elcr = 0;
        for (int n = 0; n < MACHINE_PCI_PIRQS; n++)
            elcr |= 1u << MACHINE_PCI_PIRQ_IRQ(n);
        pic_elcr_write(PIC_ELCR_BASE, 1, elcr & 0xFF, p->pic);
        pic_elcr_write(PIC_ELCR_BASE + 1, 1, elcr >> 8, p->pic);
    }
    return 0;
}

static void ioapic_to_lapic(void *opaque, const IoApicMessage *m)
{
    platform_deliver(opaque, -1, 0, m);
}

static void lapic_eoi_broadcast(void *opaque, int vector)
{
    ioapic_eoi(((VmCpu *)opaque)->p->ioapic, vector);
}

static void lapic_timer_changed(void *opaque) { service_timers(((VmCpu *)opaque)->p); }

/* ICR fields (SDM Vol. 3A, Figure 11-12). */
#define ICR_VECTOR 0xFFu
#define ICR_DM_SHIFT 8
#define ICR_DEST_LOGICAL (1u << 11)
#define ICR_LEVEL_ASSERT (1u << 14)
#define ICR_TRIGGER_LEVEL (1u << 15)
#define ICR_SHORTHAND_SHIFT 18

/* An IPI that vCPU `opaque` sent through its ICR. */
static void lapic_ipi(void *opaque, uint32_t lo, uint32_t hi)
{
    VmCpu *c = opaque;
    IoApicMessage m = {.vector = (int)(lo & ICR_VECTOR), .level = (lo & ICR_TRIGGER_LEVEL) != 0,
                       .dest = (uint8_t)(hi >> 24), .logical = (lo & ICR_DEST_LOGICAL) != 0,
                       .mode = (lo >> ICR_DM_SHIFT) & 7};
    /* INIT level de-assert only resynchronises arbitration IDs (11.6.1): nothing here. */
    if (m.mode == IOAPIC_DM_INIT && m.level && !(lo & ICR_LEVEL_ASSERT))
        return;
    platform_deliver(c->p, (int)c->index, (lo >> ICR_SHORTHAND_SHIFT) & 3, &m);
}

#define IPI_DM_STARTUP 6u

void platform_deliver(VmPlatform *p, int from, unsigned shorthand, const IoApicMessage *m)
{
    bool lowest_done = false;
    for (unsigned i = 0; i < p->ncpus; i++) {
        VmCpu *c = &p->cpu[i];
        bool hit;
        switch (shorthand) {
        case 1: hit = (int)i == from; break;
        case 2: hit = true; break;
        case 3: hit = (int)i != from; break;
        default: hit = lapic_matches(c->lapic, m->dest, m->logical); break;
        }
        if (!hit)
            continue;
        switch (m->mode) {
        case IOAPIC_DM_LOWEST:
            /* Lowest priority: the lowest-numbered vCPU of the set (documented choice;
             * a PC arbitrates by priority, which software cannot rely on anyway). */
            if (lowest_done)
                break;
            lowest_done = true;
            lapic_deliver(c->lapic, m->vector, m->level);
            break;
        case IOAPIC_DM_FIXED:
            lapic_deliver(c->lapic, m->vector, m->level);
            break;
        case IOAPIC_DM_NMI:
            lapic_raise_nmi(c->lapic);
            break;
        case IOAPIC_DM_INIT:
            __atomic_store_n(&c->init_pending, true, __ATOMIC_RELEASE);
            on_interrupt(p);
            break;
        case IPI_DM_STARTUP:
            /* Only a vCPU waiting for one takes it; the others ignore it (SDM Vol. 3A,
             * 9.4.4). Applied before it runs (platform_cpu_ready). */
            if (__atomic_load_n(&c->wait_sipi, __ATOMIC_ACQUIRE) ||
                __atomic_load_n(&c->init_pending, __ATOMIC_ACQUIRE))
                __atomic_store_n(&c->sipi_vector, m->vector, __ATOMIC_RELEASE);
            on_interrupt(p);
            break;
        default:
            break;   /* SMI, ExtINT by IPI: not modelled */
        }
    }
}

/* The platform part of vCPU `index`: its APIC (ID = index), its start state for INIT. */
static int add_cpu(VmPlatform *p, unsigned index)
{
    VmCpu *c = &p->cpu[index];
    *c = (VmCpu){.p = p, .index = index, .held_vector = -1, .sipi_vector = -1,
                 .wait_sipi = index != 0};
    c->lapic = lapic_create((uint8_t)index, &p->clock, cpu_on_interrupt, lapic_eoi_broadcast,
                            lapic_timer_changed, c);
    if (!c->lapic)
        return -ENOMEM;
    KvmVcpu *vcpu = p->svm->vcpus[index];
    if (vcpu && (kvm_get_regs(vcpu, &c->reset_regs) < 0 || kvm_get_sregs(vcpu, &c->reset_sregs) < 0))
        return -EIO;
    /* After INIT the BSP starts at the reset vector (SDM Vol. 3A, 10.1.4: CS F000 with
     * base FFFF0000, IP FFF0); an AP's CS:IP then come from its SIPI. */
    c->reset_sregs.cs.selector = 0xF000;
    c->reset_sregs.cs.base = 0xFFFF0000;
    c->reset_sregs.cs.limit = 0xFFFF;
    c->reset_regs.rip = 0xFFF0;
    p->ncpus = index + 1;
    return 0;
}

int platform_add_cpu(VmPlatform *p, unsigned index)
{
    if (!p || index >= VM_MAX_VCPUS || index != p->ncpus)
        return hv_fail(EINVAL, "vCPU %u: added out of order", index);
    int r = add_cpu(p, index);
    if (r < 0)
        return hv_fail(-r, "vCPU %u: cannot create its local APIC", index);
    set_firmware_mtrrs(p->svm->vcpus[index]);   /* firmware sets up every processor */
    kvm_vcpu_set_a20(p->svm->vcpus[index], p->a20);
    /* With several APICs every IPI goes through the platform (platform_deliver). */
    for (unsigned i = 0; i <= index; i++)
        lapic_set_ipi_hook(p->cpu[i].lapic, lapic_ipi);
    return 0;
}

/* INIT (SDM Vol. 3A, 9.4 and 11.6.1; as KVM's kvm_apic_accept_events): the vCPU returns
 * to its creation state and its APIC to power-up; an AP then waits for a SIPI, the BSP
 * starts again at the reset vector. SIPI: CS = vector << 8 (base vector << 12), IP 0. */
bool platform_cpu_ready(VmPlatform *p, unsigned idx)
{
    VmCpu *c = &p->cpu[idx];
    if (p->kernel_irqchip)
        return true;   /* the kernel's APIC keeps the MP state */
    KvmVcpu *vcpu = p->svm->vcpus[idx];
    if (__atomic_exchange_n(&c->init_pending, false, __ATOMIC_ACQ_REL)) {
        kvm_set_sregs(vcpu, &c->reset_sregs);
        kvm_set_regs(vcpu, &c->reset_regs);
        lapic_init_reset(c->lapic);
        c->halted = c->halt_masked = false;
        c->held_vector = -1;
        __atomic_store_n(&c->wait_sipi, idx != 0, __ATOMIC_RELEASE);
    }
    int sipi = __atomic_exchange_n(&c->sipi_vector, -1, __ATOMIC_ACQ_REL);
    if (sipi >= 0 && c->wait_sipi) {
        KvmSregs sregs = c->reset_sregs;
        KvmRegs regs = c->reset_regs;
        sregs.cs.selector = (uint16_t)(sipi << 8);
        sregs.cs.base = (uint64_t)sipi << 12;
        regs.rip = 0;
        kvm_set_sregs(vcpu, &sregs);
        kvm_set_regs(vcpu, &regs);
        __atomic_store_n(&c->wait_sipi, false, __ATOMIC_RELEASE);
    }
    if (c->wait_sipi)
        return false;
    if (c->halted && c->halt_masked)
        return nmi_waiting(c);
    /* A halted vCPU wakes at its interrupt (platform_before_run injects it). */
    return !c->halted || platform_interrupt_pending(p, idx);
}

/* The A20 gate: port 0x92 and the 8042's output port drive the one gate, the last write
 * deciding (as QEMU wires both to one line). Only the sim CPU can close it; Linux KVM has
 * no A20 gate. */
void platform_set_a20(VmPlatform *p, bool on)
{
    p->a20 = on;
    int r = 0;
    for (unsigned i = 0; i < p->svm->num_vcpus; i++)
        r = kvm_vcpu_set_a20(p->svm->vcpus[i], on);
    if (r == -ENOTSUP && !on && !p->a20_warned) {
        p->a20_warned = true;
        hv_log(HV_LOG_WARN, "the guest closed the A20 gate: KVM has none, addresses keep bit 20");
    }
}

static void port92_a20(void *opaque, bool on) { platform_set_a20(opaque, on); }

static void request_reset(void *opaque) { ((VmPlatform *)opaque)->reset_requested = true; }

/* The APIC page: each vCPU sees its own APIC there, so the one whose exit this is. */
static int cur_lapic_read(uint64_t addr, uint8_t size, uint64_t *value, void *opaque)
{
    VmPlatform *p = opaque;
    return lapic_mmio_read(addr, size, value, p->cpu[p->svm->cur_vcpu].lapic);
}

static int cur_lapic_write(uint64_t addr, uint8_t size, uint64_t value, void *opaque)
{
    VmPlatform *p = opaque;
    return lapic_mmio_write(addr, size, value, p->cpu[p->svm->cur_vcpu].lapic);
}

/* A device was reprogrammed: its deadline may have moved. */
static void on_timer_change(void *opaque) { service_timers(opaque); }

VmPlatform *platform_create(SimpleVM *svm)
{
    VmPlatform *p = calloc(1, sizeof(*p));
    if (!p) {
        hv_fail(ENOMEM, "out of memory");
        return NULL;
    }
    p->svm = svm;
    p->a20 = true;
    p->port92 = (Port92){PORT92_A20, port92_a20, request_reset, p};
    p->rcr = (ResetControl){0, request_reset, p};
    p->kernel_irqchip = svm->vm->kernel_irqchip;
    p->machine = (MachineDesc){.ram_size = svm->ram_size, .cpus = 1, .acpi = true,
                               .pm_timer_32bit = false, .hpet = !p->kernel_irqchip};
    p->next_deadline = DEV_NO_DEADLINE;
    p->clock_mode = VM_CLOCK_HOST;
    p->clock = (DevClock){vm_now_ns, p};
    pthread_mutex_init(&p->timer_lock, NULL);
    p->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    p->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->timer_fd < 0 || p->wake_fd < 0) {
        hv_fail(errno, "timerfd/eventfd: %s", strerror(errno));
        goto fail;
    }
    p->pic = pic_create(on_interrupt, p);
    if (add_cpu(p, 0) < 0)
        goto nomem;
    p->lapic = p->cpu[0].lapic;
    p->ioapic = ioapic_create(ioapic_to_lapic, p);
    const IrqLine irq0 = {legacy_timer_irq, p, MACHINE_IRQ_PIT};
    p->pit = pit_create(&irq0, &p->clock, on_timer_change, p);
    const IrqLine irq1 = {isa_set_irq, p, MACHINE_IRQ_KBD};
    p->kbd = i8042_create(&irq1, port92_a20, request_reset, p);
    const IrqLine irq8 = {legacy_timer_irq, p, MACHINE_IRQ_RTC};
    p->rtc = rtc_create(&irq8, &p->clock, rtc_epoch(p), svm->ram_size, on_timer_change, p);
    const IrqLine sci = {isa_set_irq, p, MACHINE_IRQ_SCI};
    p->pm = acpi_pm_create(MACHINE_ACPI_PM_BASE, &sci, &p->clock, p->machine.pm_timer_32bit,
                           acpi_sleep, on_timer_change, p);
    if (p->machine.hpet) {
        const HpetWiring w = {isa_set_irq, gsi_set_irq, hpet_legacy_changed, on_timer_change, p,
                              MACHINE_HPET_ROUTE_CAP};
        p->hpet = hpet_create(&p->clock, &w);
    }
    const DmaHandle mem = vm_dma_handle(svm);
    p->isa_dma = isa_dma_create(&mem);
    if (!p->pic || !p->pit || !p->lapic || !p->ioapic || !p->rtc || !p->kbd || !p->pm ||
        !p->isa_dma ||
        (p->machine.hpet && !p->hpet)) {
nomem:
        hv_fail(ENOMEM, "out of memory");
        goto fail;
    }
    svm->serial->irq = (IrqLine){isa_set_irq, p, MACHINE_IRQ_COM1};
    /* The RTC, the 8042, the ACPI PM block and ports 0x80, 0x92, 0xCF9 are the VMM's with
     * either irqchip (KVM has none of them). */
    const IoPortHandler common[] = {
        DEV_RANGE(RTC_BASE, 2, rtc_io_read, rtc_io_write, p->rtc, "mc146818"),
        DEV_RANGE(POST_PORT, 1, post_io_read, post_io_write, &p->post, "post"),
        DEV_RANGE(PORT92, 1, port92_io_read, port92_io_write, &p->port92, "port92"),
        DEV_RANGE(I8042_DATA, 1, i8042_io_read, i8042_io_write, p->kbd, "i8042-data"),
        DEV_RANGE(I8042_COMMAND, 1, i8042_io_read, i8042_io_write, p->kbd, "i8042-command"),
        DEV_RANGE(MACHINE_ACPI_PM_BASE, MACHINE_ACPI_PM_LEN, acpi_pm_io_read, acpi_pm_io_write,
                  p->pm, "acpi-pm"),
        DEV_RANGE(MACHINE_RESET_PORT, 1, rcr_io_read, rcr_io_write, &p->rcr, "reset-control"),
        /* The DMA controllers: KVM's irqchip has none either. */
        DEV_RANGE(ISA_DMA1_BASE, ISA_DMA1_PORTS, isa_dma_io_read, isa_dma_io_write, p->isa_dma,
                  "i8237-dma1"),
        DEV_RANGE(ISA_DMA2_BASE, ISA_DMA2_PORTS, isa_dma_io_read, isa_dma_io_write, p->isa_dma,
                  "i8237-dma2"),
        DEV_RANGE(ISA_DMA_PAGE_BASE, ISA_DMA_PAGE_PORTS, isa_dma_io_read, isa_dma_io_write,
                  p->isa_dma, "dma-page"),
    };
    for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++) {
        int err = io_bus_register(svm->io_bus, &common[i]);
        if (err < 0) {
            hv_fail(-err, "cannot register %s at port 0x%x", common[i].name, common[i].base);
            goto fail;
        }
    }
    if (vm_device_add(svm, &(DeviceRecord){.name = "i8237", .opaque = p->isa_dma,
                                           .reset = isa_dma_reset}) < 0)
        goto fail;
    set_kernel_clock(p);
    set_firmware_mtrrs(svm->vcpu);
    if (create_pci(p) < 0) {
        hv_fail(ENOMEM, "cannot create the PCI bus: %s", hv_last_error());
        goto fail;
    }
    if (p->kernel_irqchip)
        return p;   /* the kernel has the controllers, the PIT and port 0x61 */
    const MmioHandler mmio[] = {
        DEV_RANGE(MACHINE_LAPIC_BASE, LAPIC_SIZE, cur_lapic_read, cur_lapic_write, p, "lapic"),
        DEV_RANGE(MACHINE_IOAPIC_BASE, 0x1000, ioapic_mmio_read, ioapic_mmio_write, p->ioapic,
                  "ioapic"),
        DEV_RANGE(MACHINE_HPET_BASE, MACHINE_HPET_SIZE, hpet_mmio_read, hpet_mmio_write,
                  p->hpet, "hpet"),
    };
    for (size_t i = 0; i < sizeof(mmio) / sizeof(mmio[0]); i++) {
        int r = mmio_bus_register(svm->mmio_bus, &mmio[i]);
        if (r < 0) {
            hv_fail(-r, "cannot register the %s", mmio[i].name);
            goto fail;
        }
    }
    const IoPortHandler io[] = {
        DEV_RANGE(PIC_MASTER_BASE, 2, pic_io_read, pic_io_write, p->pic, "i8259-master"),
        DEV_RANGE(PIC_SLAVE_BASE, 2, pic_io_read, pic_io_write, p->pic, "i8259-slave"),
        DEV_RANGE(PIC_ELCR_BASE, 2, pic_elcr_read, pic_elcr_write, p->pic, "elcr"),
        DEV_RANGE(PIT_BASE, 4, pit_io_read, pit_io_write, p->pit, "i8254"),
        DEV_RANGE(PIT_PORT61, 1, pit_port61_read, pit_port61_write, p->pit, "port61"),
    };
    for (size_t i = 0; i < sizeof(io) / sizeof(io[0]); i++) {
        int r = io_bus_register(svm->io_bus, &io[i]);
        if (r < 0) {
            hv_fail(-r, "cannot register %s at port 0x%x", io[i].name, io[i].base);
            goto fail;
        }
    }
    return p;
fail:
    platform_destroy(p);
    return NULL;
}

void platform_destroy(VmPlatform *p)
{
    if (!p)
        return;
    if (p->svm->serial)
        p->svm->serial->irq = (IrqLine){0};
    pit_destroy(p->pit);
    hpet_destroy(p->hpet);
    acpi_pm_destroy(p->pm);
    rtc_destroy(p->rtc);
    i8042_destroy(p->kbd);
    isa_dma_destroy(p->isa_dma);
    ioapic_destroy(p->ioapic);
    for (unsigned i = 0; i < p->ncpus; i++)
        lapic_destroy(p->cpu[i].lapic);
    pic_destroy(p->pic);
    if (p->timer_fd >= 0)
        close(p->timer_fd);
    if (p->wake_fd >= 0)
        close(p->wake_fd);
    pthread_mutex_destroy(&p->timer_lock);
    free(p);
}

/* The 8259A's INTR reaches the boot processor through LINT0 (ExtINT) or with its APIC
 * disabled (the APs' LINT0 is masked from power-up; SDM Vol. 3A, 11.4.7.1). */
static bool pic_pending(VmPlatform *p, unsigned c)
{
    return c == 0 && pic_interrupt_pending(p->pic) && lapic_accepts_pic(p->cpu[0].lapic);
}

void platform_request_nmi(VmPlatform *p)
{
    for (unsigned i = 0; i < p->ncpus; i++)
        __atomic_store_n(&p->cpu[i].nmi_pending, true, __ATOMIC_RELEASE);
    wake_write(p);
    kvm_vcpu_kick(p->svm->vcpus[__atomic_load_n(&p->svm->cur_vcpu, __ATOMIC_RELAXED)]);
}

static bool nmi_waiting(VmCpu *c)
{
    return __atomic_load_n(&c->nmi_pending, __ATOMIC_ACQUIRE) ||
           __atomic_load_n(&c->apic_nmi, __ATOMIC_ACQUIRE) || lapic_nmi_pending(c->lapic);
}

bool platform_interrupt_pending(VmPlatform *p, unsigned idx)
{
    VmCpu *c = &p->cpu[idx];
    return c->held_vector >= 0 || __atomic_load_n(&c->nmi_pending, __ATOMIC_ACQUIRE) ||
           __atomic_load_n(&c->apic_nmi, __ATOMIC_ACQUIRE) || lapic_nmi_pending(c->lapic) ||
           lapic_pending_vector(c->lapic) >= 0 || pic_pending(p, idx) ||
           __atomic_load_n(&c->init_pending, __ATOMIC_ACQUIRE);
}

bool platform_any_ready(VmPlatform *p)
{
    for (unsigned i = 0; i < p->ncpus; i++) {
        VmCpu *c = &p->cpu[i];
        if (__atomic_load_n(&c->init_pending, __ATOMIC_ACQUIRE) ||
            (__atomic_load_n(&c->wait_sipi, __ATOMIC_ACQUIRE)
                 ? __atomic_load_n(&c->sipi_vector, __ATOMIC_ACQUIRE) >= 0
                 : !c->halted || (c->halt_masked ? nmi_waiting(c)
                                                 : platform_interrupt_pending(p, i))))
            return true;
    }
    return false;
}

/* The INTA cycle: the local APIC's highest deliverable vector, else the 8259A's. */
static int acknowledge(VmPlatform *p, unsigned c)
{
    int v = lapic_acknowledge(p->cpu[c].lapic);
    if (v < 0 && pic_pending(p, c))
        v = pic_acknowledge(p->pic);
    return v;
}

/* sim: the icount where vCPU c's run must stop: the next timer event with the virtual
 * clock (time is all vCPUs' instructions, but only this one runs until then), the end of
 * its turn with several vCPUs. */
static void set_icount_deadline(VmPlatform *p, unsigned c, KvmVcpu *vcpu)
{
    uint64_t icount;
    if (kvm_vcpu_icount(vcpu, &icount) < 0)
        return;
    uint64_t deadline = UINT64_MAX;
    if (p->clock_mode == VM_CLOCK_VIRTUAL) {
        uint64_t next = __atomic_load_n(&p->next_deadline, __ATOMIC_RELAXED);
        if (next != DEV_NO_DEADLINE) {
            uint64_t now = dev_clock_now(&p->clock);
            deadline = icount + (next > now ? next - now : 0);
        }
    }
    if (p->ncpus > 1 && p->cpu[c].slice_end < deadline)
        deadline = p->cpu[c].slice_end;
    kvm_vcpu_set_icount_deadline(vcpu, deadline);
}

void platform_before_run(VmPlatform *p, unsigned idx)
{
    VmCpu *c = &p->cpu[idx];
    KvmVcpu *vcpu = p->svm->vcpus[idx];
    KvmRun *run = vcpu->kvm_run;
    if (p->kernel_irqchip) {
        if (__atomic_load_n(&c->nmi_pending, __ATOMIC_ACQUIRE) && kvm_nmi(vcpu) == 0)
            __atomic_store_n(&c->nmi_pending, false, __ATOMIC_RELEASE);
        return;   /* the kernel injects the rest */
    }
    if (!p->vcpu_thread_known) {
        p->vcpu_thread = pthread_self();
        p->vcpu_thread_known = true;
        service_timers(p);
    }
    set_icount_deadline(p, idx, vcpu);
    if (lapic_take_nmi(c->lapic))   /* an NMI IPI: the NMI pin, not the RTC's gate */
        __atomic_store_n(&c->apic_nmi, true, __ATOMIC_RELEASE);
    if (__atomic_load_n(&c->apic_nmi, __ATOMIC_ACQUIRE) && kvm_nmi(vcpu) == 0) {
        __atomic_store_n(&c->apic_nmi, false, __ATOMIC_RELEASE);
        c->halted = c->halt_masked = false;
    }
    if (__atomic_load_n(&c->nmi_pending, __ATOMIC_ACQUIRE) && !rtc_nmi_disabled(p->rtc) &&
        kvm_nmi(vcpu) == 0) {
        __atomic_store_n(&c->nmi_pending, false, __ATOMIC_RELEASE);
        c->halted = c->halt_masked = false;
    }
    lapic_set_global_enable(c->lapic, vcpu->sregs.apic_base & APIC_BASE_ENABLE);
    bool ready = run->ready_for_interrupt_injection && run->if_flag;
    if (ready && c->held_vector < 0)
        c->held_vector = acknowledge(p, idx);
    if (ready && c->held_vector >= 0) {
        int r = kvm_interrupt(vcpu, (uint32_t)c->held_vector);
        if (r == 0) {
            c->held_vector = -1;
            c->halted = false;
            c->injected++;
        } else if (r != -EEXIST) {
            hv_log(HV_LOG_WARN, "KVM_INTERRUPT: %s", hv_last_error());
        }
    }
    run->request_interrupt_window = platform_interrupt_pending(p, idx);
}

/* The TSC-deadline MSR of the user-space APIC (KVM_EXIT_X86_RDMSR/WRMSR): a deadline in
 * TSC ticks becomes a time on the VM clock from the TSC now (KVM_GET_MSRS) and its rate
 * (KVM_GET_TSC_KHZ), rounded up so that the interrupt never comes before the TSC reaches
 * it. Any other MSR is #GP, as for a kernel that does not know it. */
void platform_msr(VmPlatform *p, KvmRun *run)
{
    KvmVcpu *vcpu = p->svm->vcpus[p->svm->cur_vcpu];
    Lapic *lapic = p->cpu[p->svm->cur_vcpu].lapic;
    run->msr.error = 1;
    if (run->msr.index != MSR_IA32_TSC_DEADLINE || p->kernel_irqchip)
        return;
    if (run->exit_reason == KVM_EXIT_X86_RDMSR) {
        run->msr.data = lapic_tsc_deadline(lapic);
        run->msr.error = 0;
        return;
    }
    uint64_t tsc_now;
    int khz = kvm_vcpu_tsc_khz(vcpu);
    if (khz <= 0 || kvm_vcpu_get_msr(vcpu, MSR_IA32_TSC, &tsc_now) < 0)
        return;
    uint64_t now = dev_clock_now(&p->clock), due = now;
    uint64_t deadline = run->msr.data;
    if (deadline > tsc_now)
        due += (uint64_t)(((unsigned __int128)(deadline - tsc_now) * 1000000u + (unsigned)khz - 1) /
                          (unsigned)khz);
    lapic_set_tsc_deadline(lapic, deadline, due);
    run->msr.error = 0;
}

void platform_after_run(VmPlatform *p)
{
    if (p->clock_mode == VM_CLOCK_VIRTUAL) {
        if (dev_clock_now(&p->clock) >= p->next_deadline)
            service_timers(p);
    } else if (p->next_deadline != DEV_NO_DEADLINE &&
               host_now_ns(NULL) >= __atomic_load_n(&p->next_deadline, __ATOMIC_RELAXED)) {
        service_timers(p);   /* without a main loop, exits keep time too */
    }
}

void platform_wait_halted(VmPlatform *p)
{
    SimpleVM *svm = p->svm;
    for (;;) {
        uint64_t drain;
        while (read(p->wake_fd, &drain, sizeof(drain)) > 0) {
        }
        if (svm->stop_requested || platform_any_ready(p))
            return;
        if (p->clock_mode == VM_CLOCK_VIRTUAL) {
            service_timers(p);
            if (platform_any_ready(p))
                return;
            uint64_t now = dev_clock_now(&p->clock);
            if (p->next_deadline != DEV_NO_DEADLINE) {
                /* Nothing runs while halted: time jumps to the next event. */
                if (p->next_deadline > now)
                    p->skipped_ns += p->next_deadline - now;
                service_timers(p);
                continue;
            }
        }
        struct pollfd fds[2] = {
            {p->wake_fd, POLLIN, 0},
            {p->clock_mode == VM_CLOCK_HOST ? p->timer_fd : -1, POLLIN, 0},
        };
        if (poll(fds, 2, -1) < 0 && errno != EINTR)
            return;
        if (fds[1].revents & POLLIN) {
            uint64_t expirations;
            if (read(p->timer_fd, &expirations, sizeof(expirations)) > 0)
                service_timers(p);
        }
    }
}

/* ---- the public part ---- */

int vm_set_acpi(SimpleVM *svm, bool enabled)
{
    if (!svm || !svm->platform)
        return -EINVAL;
    if (svm->exit_count)
        return hv_fail(EBUSY, "the firmware tables are chosen before the VM first runs");
    svm->platform->machine.acpi = enabled;
    return platform_install_tables(svm->platform);
}

bool vm_acpi_enabled(SimpleVM *svm)
{
    return svm && svm->platform && svm->platform->machine.acpi;
}

uint64_t vm_acpi_rsdp(SimpleVM *svm)
{
    return svm && svm->platform ? svm->platform->tables.rsdp : 0;
}

int vm_power_button(SimpleVM *svm)
{
    if (!svm || !svm->platform)
        return -EINVAL;
    if (!svm->platform->machine.acpi)
        return hv_fail(ENOTSUP, "the machine has no ACPI (-no-acpi): no power button");
    acpi_pm_power_button(svm->platform->pm);
    return 0;
}

int vm_set_clock(SimpleVM *svm, VmClockMode mode)
{
    if (!svm || !svm->platform || (mode != VM_CLOCK_HOST && mode != VM_CLOCK_VIRTUAL))
        return -EINVAL;
    VmPlatform *p = svm->platform;
    if (mode == VM_CLOCK_VIRTUAL) {
        uint64_t icount;
        if (kvm_vcpu_icount(svm->vcpu, &icount) < 0)
            return hv_fail(ENOTSUP, "--clock virtual needs the sim backend (instruction counts)");
    }
    if (svm->exit_count)
        return hv_fail(EBUSY, "the clock is chosen before the VM first runs");
    p->clock_mode = mode;
    rtc_set_epoch(p->rtc, rtc_epoch(p));
    set_kernel_clock(p);
    service_timers(p);
    return 0;
}

VmClockMode vm_clock(SimpleVM *svm)
{
    return svm && svm->platform ? svm->platform->clock_mode : VM_CLOCK_HOST;
}

int vm_send_key(SimpleVM *svm, uint8_t ascii)
{
    if (!svm || !svm->platform)
        return -EINVAL;
    return i8042_host_key(svm->platform->kbd, ascii) ? 0 : -EAGAIN;
}

int vm_send_key_chord(SimpleVM *svm, const uint16_t *set2, size_t n)
{
    if (!svm || !svm->platform || !set2)
        return -EINVAL;
    return i8042_press_keys(svm->platform->kbd, set2, n);
}

int vm_timer_fd(SimpleVM *svm)
{
    if (!svm || !svm->platform || svm->platform->clock_mode != VM_CLOCK_HOST)
        return -1;
    return svm->platform->timer_fd;
}

void vm_service_timers(SimpleVM *svm)
{
    if (!svm || !svm->platform || svm->platform->clock_mode != VM_CLOCK_HOST)
        return;
    uint64_t expirations;
    if (read(svm->platform->timer_fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
        return;
    service_timers(svm->platform);
}

void print_interrupt_models(FILE *out)
{
    fputs("Interrupt controllers and timers\n"
          "  kvm    user space: 8259A pair, 8254 PIT, IOAPIC and xAPIC (its page through MMIO\n"
          "         exits), injected with KVM_INTERRUPT / KVM_EXIT_IRQ_WINDOW_OPEN, KVM_NMI\n"
          "  sim    the same devices; KVM_INTERRUPT drives the simulated CPU's INTR pin, HLT\n"
          "         is the VMCS activity state HLT; --clock virtual (1 ns per instruction)\n"
          "  time   one timerfd in the main thread (host clock) drives PIT, LAPIC timer,\n"
          "         RTC, HPET and the ACPI PM timer; the 8042 keyboard, RTC, ACPI PM block\n"
          "         (SCI on IRQ 9), the 8237A DMA pair, ports 0x80/0x92/0xCF9 are the\n"
          "         VMM's on both\n"
          "  --irqchip kernel (kvm): KVM's PIC, IOAPIC, LAPIC and PIT in the kernel\n",
          out);
}
