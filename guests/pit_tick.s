# pit_tick: sleeps in HLT and counts PIT ticks. The 8259A pair is initialised as a PC BIOS
# does (IRQ0-7 at vectors 8-15, IRQ8-15 at 0x70-0x77), counter 0 of the 8254 runs in mode 2
# at 1193182 / divisor Hz, and the IRQ0 handler counts ticks and sends a non-specific EOI.
# The main loop is STI; HLT (the STI shadow covers the HLT, so no tick falls between
# them); the handler masks IRQ0 once it has counted the ticks wanted. A wake-up may take
# more than one tick (a tick that comes while the last is handled is taken before CLI, as
# on hardware), so the program checks 1 <= wake-ups <= ticks. Prints
# "ticks=NNNN wakeups=ok" (hex) and halts with IF=0.
#   EBX: ticks to wait for (0: 100); ECX: divisor (0: 1193, about 1 kHz; 0x10000: 65536)
#   EDX: 1 ends through the debug-exit port (status 1) instead of HLT, for an in-kernel
#   irqchip, where HLT never leaves the kernel
        .include "common.inc"
        .set PIC1, 0x20
        .set PIC2, 0xa0
        .set PIT_CH0, 0x40
        .set PIT_CTRL, 0x43
        .set IVT_IRQ0, 8 * 4
        .text
        .globl _start
_start:
        jmp main
        .org 0x400              # the IVT is below: vector 8 is written at run time
main:
        cli
        mov %dl, exit_port
        xor %ax, %ax
        mov %ax, %ds
        mov %ax, %ss
        mov $0x7000, %sp
        movw $irq0, IVT_IRQ0
        movw $0, IVT_IRQ0 + 2
        test %ebx, %ebx
        jnz 1f
        mov $100, %bx
1:      mov %bx, wanted
        test %ecx, %ecx
        jnz 2f
        mov $1193, %cx
2:      # ICW1: edge, cascade, ICW4 follows; ICW2: vector bases; ICW3: slave on IR2;
        # ICW4: 8086 mode, normal EOI
        mov $0x11, %al
        out %al, $PIC1
        out %al, $PIC2
        mov $0x08, %al
        out %al, $PIC1 + 1
        mov $0x70, %al
        out %al, $PIC2 + 1
        mov $0x04, %al
        out %al, $PIC1 + 1
        mov $0x02, %al
        out %al, $PIC2 + 1
        mov $0x01, %al
        out %al, $PIC1 + 1
        out %al, $PIC2 + 1
        mov $0xfe, %al          # OCW1: only IRQ0
        out %al, $PIC1 + 1
        mov $0xff, %al
        out %al, $PIC2 + 1
        mov $0x34, %al          # counter 0, LSB then MSB, mode 2, binary
        out %al, $PIT_CTRL
        mov %cl, %al
        out %al, $PIT_CH0
        mov %ch, %al
        out %al, $PIT_CH0
wait:
        sti
        hlt
        cli
        incw wakeups
        mov ticks, %ax
        cmp wanted, %ax
        jb wait
        puts msg_ticks
        xor %eax, %eax
        mov ticks, %ax
        mov $4, %cx
        call serial_hex
        mov wakeups, %ax
        test %ax, %ax
        jz 4f
        cmp ticks, %ax
        ja 4f
        puts msg_ok
        jmp 5f
4:      puts msg_bad
5:
        cmpb $1, exit_port
        jne 3f
        xor %al, %al
        out %al, $DEBUG_EXIT
3:      hlt

irq0:
        push %ax
        incw ticks
        mov ticks, %ax
        cmp wanted, %ax
        jb 1f
        mov $0xff, %al          # enough: mask the timer (OCW1)
        out %al, $PIC1 + 1
1:      mov $0x20, %al          # OCW2: non-specific EOI
        out %al, $PIC1
        pop %ax
        iret

        define_serial_puts
        define_serial_putc
        define_serial_hex
ticks:  .word 0
wakeups: .word 0
wanted: .word 0
exit_port: .byte 0
msg_ticks:   .asciz "ticks="
msg_ok:      .asciz " wakeups=ok\n"
msg_bad:     .asciz " wakeups=bad\n"
