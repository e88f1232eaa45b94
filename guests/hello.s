# hello: prints a greeting on COM1 and halts.
        .include "common.inc"
        .text
        .globl _start
_start:
        xor %ax, %ax
        mov %ax, %ds
        mov %ax, %ss
        mov $0x7000, %sp
        puts message
        hlt
        define_serial_puts
message:
        .asciz "Hello, World!\n"
