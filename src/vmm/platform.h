/*
 * The PC platform around the vCPU (src/vmm/platform.c): the 8259A pair, the 8254 and port
 * 0x61, the VM's clock and its one timer, and the glue that turns the interrupt
 * controllers' output into KVM_INTERRUPT (userspace irqchip on both backends). Internal to
 * the library.
 */
#ifndef SCRATCHVM_VMM_PLATFORM_H
#define SCRATCHVM_VMM_PLATFORM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "dev/acpi_pm.h"
#include "dev/dev_clock.h"
#include "dev/hpet.h"
#include "dev/i8042.h"
#include "dev/i8237.h"
#include "dev/i8254.h"
#include "dev/i8259.h"
#include "dev/ioapic.h"
#include "dev/lapic.h"
#include "dev/mc146818.h"
#include "dev/pci_bus.h"
#include "dev/sysport.h"
#include "hypervisor_sim.h"
#include "vmm/fw_tables.h"
#include "vmm/machine.h"

/* One vCPU's part of the platform: its local APIC and what the VMM injects into it. The
 * run loop's thread owns it; the NMI flags are atomics (any thread raises them). */
typedef struct VmCpu {
    struct VmPlatform *p;
    unsigned index;               /* svm->vcpus[index]; its APIC ID too */
    Lapic *lapic;
    bool halted;                  /* in HLT, waiting for an interrupt */
    bool halt_masked;             /* an AP's HLT with IF=0: only an NMI or INIT wakes it */
    int held_vector;              /* acknowledged, not yet taken by KVM_INTERRUPT; -1 */
    bool nmi_pending;             /* the monitor's nmi */
    uint64_t exits;               /* KVM_RUNs that returned (info cpus) */
    bool apic_nmi;                /* an NMI from a local APIC (IPI, MSI), not yet injected */
    uint64_t injected;            /* interrupts injected */
    /* The multiprocessor states that a user-space APIC keeps (KVM_MP_STATE_INIT_RECEIVED
     * is wait_sipi): an AP waits for a Startup IPI from creation and after an INIT. */
    bool wait_sipi;
    bool init_pending;            /* an INIT arrived: applied before the vCPU runs again */
    int sipi_vector;              /* a Startup IPI arrived while waiting; -1 */
    uint64_t slice_end;           /* sim: the icount where its turn ends (vm.c) */
    KvmRegs reset_regs;           /* the state at creation, which INIT restores */
    KvmSregs reset_sregs;
} VmCpu;

typedef struct VmPlatform {
    SimpleVM *svm;
    Pic8259 *pic;
    Pit8254 *pit;
    Lapic *lapic;                 /* cpu[0]'s: the boot processor's */
    IoApic *ioapic;
    Rtc146818 *rtc;
    I8042 *kbd;
    AcpiPm *pm;                   /* the ACPI PM1a blocks, PM timer and SCI */
    Hpet *hpet;                   /* NULL with the kernel irqchip */
    PciBus *pci;                  /* bus 0; a device record of the VM owns it */
    IsaDma *isa_dma;              /* the 8237A pair (channel 2: the floppy controller) */
    bool msi_warned;
    PostCode post;
    Port92 port92;
    ResetControl rcr;             /* port 0xCF9, the FADT's reset register */
    MachineDesc machine;          /* what the firmware tables describe */
    FwTablesInfo tables;          /* where they are in guest RAM */
    bool hpet_legacy;             /* the HPET took ISA IRQ0 and IRQ8 from the 8254 and RTC */
    bool poweroff_requested;      /* the guest entered S5 (SLP_EN): the VM ends */
    bool a20;                     /* the A20 gate is open */
    bool a20_warned;
    bool reset_requested;         /* a reset pulse (port 0x92, the 8042): the VM ends */
    VmClockMode clock_mode;
    int64_t rtc_shift;            /* -rtc base=: seconds the RTC is ahead of UTC */
    DevClock clock;
    uint64_t skipped_ns;          /* virtual clock: time skipped while halted */
    pthread_mutex_t timer_lock;   /* serialises vm_service_timers between threads */
    uint64_t next_deadline;       /* of the devices, on the VM clock; DEV_NO_DEADLINE */
    int timer_fd;                 /* host clock: armed for next_deadline */
    int wake_fd;                  /* eventfd: an interrupt is pending, or a stop */
    VmCpu cpu[VM_MAX_VCPUS];      /* ncpus of them: one per vCPU */
    unsigned ncpus;
    pthread_t vcpu_thread;
    bool vcpu_thread_known;
    bool kernel_irqchip;          /* KVM_CREATE_IRQCHIP: lines go to KVM_IRQ_LINE */
    uint64_t kernel_irq_counts[PIC_IRQ_LINES];
} VmPlatform;

/* Builds the platform and registers its ports on svm->io_bus. NULL on failure (logged
 * through hv_fail). */
VmPlatform *platform_create(SimpleVM *svm);
void platform_destroy(VmPlatform *p);
/* vm_set_cpus: the platform part of vCPU svm->vcpus[index] (its APIC; an AP waits for
 * a SIPI). 0 or -errno. */
int platform_add_cpu(VmPlatform *p, unsigned index);
/* Before vCPU c may run: applies an INIT or SIPI that came for it; false while it waits
 * for a SIPI or halts with nothing to wake it. */
bool platform_cpu_ready(VmPlatform *p, unsigned c);
/* Before each KVM_RUN of vCPU c: injects what the controllers have when it can take it,
 * else asks for an interrupt window; sim: sets its icount deadline (the next timer event
 * with --clock virtual, and the end of its turn, slice_end, with several vCPUs). */
void platform_before_run(VmPlatform *p, unsigned c);
/* After each KVM_RUN: keeps the virtual clock's timers, or the host's when due. */
void platform_after_run(VmPlatform *p);
/* Completes a KVM_EXIT_X86_RDMSR/WRMSR: the APIC's IA32_TSC_DEADLINE, else #GP. */
void platform_msr(VmPlatform *p, KvmRun *run);
/* Routes a message to the local APICs by destination (IOAPIC, MSI, IPI; SDM Vol. 3A,
 * 11.6): fixed to each, lowest priority to the lowest-numbered vCPU of the set (a PC's
 * arbitration may pick any), NMI, INIT and Startup. `from` is the sending vCPU for the
 * ICR's shorthands (1 self, 2 all, 3 all but self), -1 for a device. */
void platform_deliver(VmPlatform *p, int from, unsigned shorthand, const IoApicMessage *m);
/* Blocks (no CPU) until some vCPU can run (an interrupt is pending for a halted one) or a
 * stop is requested; with the virtual clock, halting skips time to the next timer event. */
void platform_wait_halted(VmPlatform *p);
/* Wakes platform_wait_halted (a stop request). Any thread. */
void platform_wake(VmPlatform *p);
bool platform_interrupt_pending(VmPlatform *p, unsigned c);
/* Whether any vCPU could run (not waiting for a SIPI, not halted without an interrupt). */
bool platform_any_ready(VmPlatform *p);
/* An NMI for every vCPU at its next entry (the monitor's nmi, as QEMU's). Any thread. */
void platform_request_nmi(VmPlatform *p);
/* Sets ISA interrupt line `line` (0-15) of the VmPlatform `opaque` to `level`, as a device
 * outside the platform (pc-testdev) drives it: to the 8259A pair and the IOAPIC, or to
 * KVM_IRQ_LINE with the kernel irqchip. Other lines are ignored. */
void platform_set_isa_irq(void *opaque, int line, int level);
/* (Re)builds the firmware tables in RAM from p->machine (at creation, and when the
 * description changes before the first run). */
int platform_install_tables(VmPlatform *p);
/* COM2 is there: the description says so and the tables are rebuilt. */
int platform_set_com2(VmPlatform *p);
/* Opens or closes the A20 gate (port 0x92, the 8042's output port). */
void platform_set_a20(VmPlatform *p, bool on);

#endif
