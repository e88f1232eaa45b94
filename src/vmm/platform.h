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

typedef struct VmPlatform {
    SimpleVM *svm;
    Pic8259 *pic;
    Pit8254 *pit;
    Lapic *lapic;
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
    /* vCPU thread only: */
    bool halted;                  /* in HLT with IF=1, waiting for an interrupt */
    int held_vector;              /* acknowledged, not yet taken by KVM_INTERRUPT; -1 */
    bool nmi_pending;
    bool apic_nmi;                /* an NMI IPI from the local APIC, not yet injected */
    uint64_t injected;            /* interrupts injected */
    pthread_t vcpu_thread;
    bool vcpu_thread_known;
    bool kernel_irqchip;          /* KVM_CREATE_IRQCHIP: lines go to KVM_IRQ_LINE */
    uint64_t kernel_irq_counts[PIC_IRQ_LINES];
} VmPlatform;

/* Builds the platform and registers its ports on svm->io_bus. NULL on failure (logged
 * through hv_fail). */
VmPlatform *platform_create(SimpleVM *svm);
void platform_destroy(VmPlatform *p);
/* Before each KVM_RUN: injects what the controllers have when the vCPU can take it, else
 * asks for an interrupt window. */
void platform_before_run(VmPlatform *p);
/* After each KVM_RUN: keeps the virtual clock's timers, or the host's when due. */
void platform_after_run(VmPlatform *p);
/* Completes a KVM_EXIT_X86_RDMSR/WRMSR: the APIC's IA32_TSC_DEADLINE, else #GP. */
void platform_msr(VmPlatform *p, KvmRun *run);
/* Blocks (no CPU) until an interrupt is pending or a stop is requested; with the virtual
 * clock, halting skips time to the next timer event. */
void platform_wait_halted(VmPlatform *p);
/* Wakes platform_wait_halted (a stop request). Any thread. */
void platform_wake(VmPlatform *p);
bool platform_interrupt_pending(VmPlatform *p);
/* An NMI for the vCPU at its next entry (the monitor's nmi). Any thread. */
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
