# com2: echoes what COM2 (0x2F8) receives back to COM2 until '\n', then writes "com2 ok"
# on COM1 and halts: the second -serial is a 16550A of its own.
        .include "common.inc"
        .set COM2, 0x2f8
        .set LSR_DR, 0x01       # line status: data ready
        .text
        .globl _start
_start:
        xor %ax, %ax
        mov %ax, %ds
        mov %ax, %ss
        mov $0x7000, %sp
1:      mov $COM2+5, %dx        # LSR
        in %dx, %al
        test $LSR_DR, %al
        jz 1b
        mov $COM2, %dx          # RBR
        in %dx, %al
        out %al, %dx            # THR: back to the sender
        cmp $'\n', %al
        jne 1b
        puts done
        hlt
        define_serial_puts
done:
        .asciz "com2 ok\n"
