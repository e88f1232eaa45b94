# spinout: prints a line, then loops forever writing the UART scratch register (0x3FF):
# one VM exit per iteration, for --max-exits.
        .include "common.inc"
        .text
        .globl _start
_start:
        xor %ax, %ax
        mov %ax, %ds
        mov %ax, %ss
        mov $0x7000, %sp
        puts message
        mov $COM1+7, %dx        # SCR
1:      inc %al
        out %al, %dx
        jmp 1b
        define_serial_puts
message:
        .asciz "spinning with OUTs\n"
