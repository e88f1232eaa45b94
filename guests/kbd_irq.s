# kbd_irq: takes keyboard interrupts (IRQ1) while asleep in HLT. Runs the 8042's self-test
# (command AAh, result 55h read by polling the status port) with interrupts still off, sets
# up the 8259A with only IRQ1 unmasked (vector 9), then stores each scancode the handler
# reads from port 0x60 (set 1: the 8042 translates) until Enter's break code (9Ch). Prints
# "kbd test=55 irqs=NNNN: SC SC ..." (hex) and halts.
        .include "common.inc"
        .set PIC1, 0x20
        .set KBD_DATA, 0x60
        .set KBD_STATUS, 0x64
        .set IVT_IRQ1, 9 * 4
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
        movw $irq1, IVT_IRQ1
        movw $0, IVT_IRQ1 + 2
        mov $0xaa, %al          # controller self-test
        out %al, $KBD_STATUS
1:      in $KBD_STATUS, %al
        test $0x01, %al         # output buffer full?
        jz 1b
        in $KBD_DATA, %al
        mov %al, selftest
        init_pic 0xfd          # only IRQ1 (vector 9)
        mov $codes, %di
        mov %di, tail
wait:
        sti
        hlt
        cli
        cmpb $0, done
        je wait
        puts msg_test
        xor %eax, %eax
        mov selftest, %al
        mov $2, %cx
        call serial_hex
        puts msg_irqs
        xor %eax, %eax
        mov irqs, %ax
        mov $4, %cx
        call serial_hex
        mov $':', %al
        call serial_putc
        mov $codes, %si
2:      cmp tail, %si
        jae 3f
        mov $' ', %al
        call serial_putc
        xor %eax, %eax
        lodsb
        push %si
        mov $2, %cx
        call serial_hex
        pop %si
        jmp 2b
3:      mov $'\n', %al
        call serial_putc
        hlt

irq1:
        push %ax
        push %di
        incw irqs
        in $KBD_DATA, %al
        mov tail, %di
        cmp $codes + 60, %di
        jae 1f
        stosb
        mov %di, tail
1:      cmp $0x9c, %al          # Enter released
        jne 2f
        movb $1, done
2:      mov $0x20, %al
        out %al, $PIC1
        pop %di
        pop %ax
        iret

        define_serial_putc
        define_serial_puts
        define_serial_hex
irqs:   .word 0
tail:   .word 0
done:   .byte 0
selftest: .byte 0
msg_test: .asciz "kbd test="
msg_irqs: .asciz " irqs="
codes:  .fill 64, 1, 0
