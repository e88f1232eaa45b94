# echo: reads COM1 (poll LSR.DR, then read RBR) and sends each byte back until '\r' or
# '\n', then prints a newline and halts.
#   printf 'hi there\n' | scratchvm run build/guests/echo.bin     prints "hi there"
        .include "common.inc"
        .set LSR_DR, 0x01       # line status: data ready
        .text
        .globl _start
_start:
        xor %ax, %ax
        mov %ax, %ds
        mov %ax, %ss
        mov $0x7000, %sp
1:      mov $COM1+5, %dx        # LSR
        in %dx, %al
        test $LSR_DR, %al
        jz 1b
        mov $COM1, %dx          # RBR
        in %dx, %al
        cmp $'\r', %al
        je 2f
        cmp $'\n', %al
        je 2f
        call serial_putc
        jmp 1b
2:      mov $'\n', %al
        call serial_putc
        hlt
        define_serial_putc
