# lapic_timer: the local APIC's timer and a self-IPI, from real mode with 4 GiB segment
# limits ("big real mode": the VMM loads DS with limit 0xFFFFFFFF, see test_parity.c and
# tests/unit/test_platform.c), so that 32-bit addresses reach the xAPIC at 0xFEE00000.
# Enables the APIC (SVR), runs the timer periodic at vector 0x40 with divide by 1 and an
# initial count of 1000000 (1 ms at the 1 GHz APIC clock) for EBX ticks (0: 100) asleep in
# HLT (the handler masks the timer at the last one, so no tick can follow), sends itself
# vector 0x41 through the ICR, and prints
#   "lapic ver=VVVVVVVV ticks=NNNN ipi=NNNN isr=XXXXXXXX"  (hex)
        .include "common.inc"
        .set APIC, 0xfee00000
        .set APIC_VER, APIC + 0x30
        .set APIC_EOI, APIC + 0xb0
        .set APIC_SVR, APIC + 0xf0
        .set APIC_ISR2, APIC + 0x120     # ISR bits 64-95
        .set APIC_ICR_LO, APIC + 0x300
        .set APIC_LVT_TIMER, APIC + 0x320
        .set APIC_TIMER_ICR, APIC + 0x380
        .set APIC_TIMER_DCR, APIC + 0x3e0
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
        movw $ipi, 0x41 * 4
        movw $0, 0x41 * 4 + 2
        test %ebx, %ebx
        jnz 1f
        mov $100, %bx
1:      mov %bx, wanted
        mov $0xff, %al          # the 8259A stays masked: only the APIC interrupts
        out %al, $0x21
        out %al, $0xa1
        addr32 movl $0x1ff, APIC_SVR   # APIC enabled, spurious vector 0xff
        addr32 movl $0xb, APIC_TIMER_DCR       # divide by 1
        addr32 movl $0x20040, APIC_LVT_TIMER   # periodic, vector 0x40
        addr32 movl $1000000, APIC_TIMER_ICR
wait:
        sti
        hlt
        cli
        mov ticks, %ax
        cmp wanted, %ax
        jb wait
        addr32 movl $0x40041, APIC_ICR_LO      # fixed, shorthand self, vector 0x41
        # STI; HLT: the IPI is taken after the HLT (the STI shadow covers it). A window that
        # opens and closes between two exits (STI; NOP; CLI) is not seen by this host's
        # KVM, whose real mode runs in its instruction emulator (measured).
        sti
        hlt
        cli
        puts msg_ver
        addr32 movl APIC_VER, %eax
        mov $8, %cx
        call serial_hex
        puts msg_ticks
        xor %eax, %eax
        mov ticks, %ax
        mov $4, %cx
        call serial_hex
        puts msg_ipi
        xor %eax, %eax
        mov ipis, %ax
        mov $4, %cx
        call serial_hex
        puts msg_isr
        addr32 movl APIC_ISR2, %eax    # nothing in service any more
        mov $8, %cx
        call serial_hex
        puts msg_nl
        hlt

timer:
        push %ax
        incw ticks
        mov ticks, %ax
        cmp wanted, %ax
        jb 1f
        addr32 movl $0x10040, APIC_LVT_TIMER    # enough: mask the timer
1:      addr32 movl $0, APIC_EOI
        pop %ax
        iret
ipi:
        incw ipis
        addr32 movl $0, APIC_EOI
        iret

        define_serial_puts
        define_serial_putc
        define_serial_hex
ticks:  .word 0
ipis:   .word 0
wanted: .word 0
msg_ver:   .asciz "lapic ver="
msg_ticks: .asciz " ticks="
msg_ipi:   .asciz " ipi="
msg_isr:   .asciz " isr="
msg_nl:    .asciz "\n"
