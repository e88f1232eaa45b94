# uart_rx: receives a line on COM1 through IRQ4 interrupts while asleep in HLT. Enables the
# received-data interrupt (IER bit 0) and OUT2 (MCR bit 3, which gates the UART's INTR to
# the bus on a PC), unmasks IRQ4 at the 8259A (vector 0x0C), and stores each byte the
# handler reads until a newline (or a carriage return, stored as a newline). Prints "rx irqs=NNNN: LINE" (hex count) and halts.
        .include "common.inc"
        .set PIC1, 0x20
        .set IVT_IRQ4, 0x0c * 4
        .text
        .globl _start
_start:
        jmp main
        .org 0x400
main:
        cli
        xor %ax, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %ss
        mov $0x7000, %sp
        movw $irq4, IVT_IRQ4
        movw $0, IVT_IRQ4 + 2
        init_pic 0xef          # only IRQ4 (vector 0x0c)
        mov $COM1 + 4, %dx      # MCR: DTR, RTS, OUT2
        mov $0x0b, %al
        out %al, %dx
        mov $COM1 + 1, %dx      # IER: received data available
        mov $0x01, %al
        out %al, %dx
        mov $line, %di
        mov %di, tail
wait:
        sti
        hlt
        cli
        cmpb $0, done
        je wait
        mov $COM1 + 1, %dx      # IER off
        xor %al, %al
        out %al, %dx
        puts msg
        xor %eax, %eax
        mov irqs, %ax
        mov $4, %cx
        call serial_hex
        puts msg_colon
        puts line
        hlt

irq4:
        push %ax
        push %dx
        push %di
        incw irqs
        mov tail, %di
1:      mov $COM1 + 5, %dx      # LSR: data ready?
        in %dx, %al
        test $0x01, %al
        jz 2f
        mov $COM1, %dx
        in %dx, %al
        cmp $line + 60, %di
        jae 1b                  # a long line: the rest is dropped
        stosb
        cmp $'\n', %al
        je 3f
        cmp $'\r', %al          # Enter on a raw terminal
        jne 1b
        movb $'\n', -1(%di)
3:      movb $1, done
        jmp 1b
2:      mov %di, tail
        mov $0x20, %al
        out %al, $PIC1
        pop %di
        pop %dx
        pop %ax
        iret

        define_serial_puts
        define_serial_putc
        define_serial_hex
irqs:   .word 0
tail:   .word 0
done:   .byte 0
msg:    .asciz "rx irqs="
msg_colon: .asciz ": "
line:   .fill 64, 1, 0
