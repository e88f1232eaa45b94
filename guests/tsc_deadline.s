# tsc_deadline: the TSC, kvm-clock and the APIC's TSC-deadline timer, from big real mode
# (DS with a 4 GiB limit, as lapic_timer). Leaves its results in RAM for
# tests/unit/test_timemsr.c, then halts with IF=0:
#   0x500 TSC before arming, 0x508 the deadline (+1000000 ticks, 500 us at 2 GHz),
#   0x510 IA32_TSC_DEADLINE read back, 0x518 the TSC in the timer's handler,
#   0x520 IA32_TSC_DEADLINE in the handler (0: it fired), 0x528 the TSC after enabling
#   kvm-clock, 0x530 interrupts taken;
#   0x600 pvclock_vcpu_time_info (MSR_KVM_SYSTEM_TIME_NEW), 0x640 pvclock_wall_clock.
# Before that, kvm-clock at an address outside RAM (2 GiB) must be ignored.
        .include "common.inc"
        .set APIC, 0xfee00000
        .set APIC_EOI, APIC + 0xb0
        .set APIC_SVR, APIC + 0xf0
        .set APIC_LVT_TIMER, APIC + 0x320
        .set MSR_TSC_DEADLINE, 0x6e0
        .set MSR_KVM_WALL_CLOCK_NEW, 0x4b564d00
        .set MSR_KVM_SYSTEM_TIME_NEW, 0x4b564d01
        .text
        .globl _start
_start:
        jmp main
        .org 0x400              # the IVT is below
main:
        cli
        xor %ax, %ax
        mov %ax, %ss
        mov $0x7000, %sp
        movw $timer, 0x40 * 4
        movw $0, 0x40 * 4 + 2
        mov $0xff, %al          # the 8259A stays masked: only the APIC interrupts
        out %al, $0x21
        out %al, $0xa1
        # kvm-clock: first at an address that is not RAM (ignored), then at 0x600
        mov $MSR_KVM_SYSTEM_TIME_NEW, %ecx
        mov $0x80000001, %eax
        xor %edx, %edx
        wrmsr
        mov $0x601, %eax
        wrmsr
        mov $MSR_KVM_WALL_CLOCK_NEW, %ecx
        mov $0x640, %eax
        wrmsr
        rdtsc
        mov %eax, 0x528
        mov %edx, 0x52c
        # the timer in TSC-deadline mode, vector 0x40
        addr32 movl $0x1ff, APIC_SVR
        addr32 movl $0x40040, APIC_LVT_TIMER
        rdtsc
        mov %eax, 0x500
        mov %edx, 0x504
        add $1000000, %eax
        adc $0, %edx
        mov %eax, 0x508
        mov %edx, 0x50c
        mov $MSR_TSC_DEADLINE, %ecx
        wrmsr
        rdmsr
        mov %eax, 0x510
        mov %edx, 0x514
wait:
        sti
        hlt
        cli
        cmpw $0, 0x530
        je wait
        hlt

timer:
        rdtsc
        mov %eax, 0x518
        mov %edx, 0x51c
        mov $MSR_TSC_DEADLINE, %ecx
        rdmsr
        mov %eax, 0x520
        mov %edx, 0x524
        incw 0x530
        addr32 movl $0, APIC_EOI
        iret
