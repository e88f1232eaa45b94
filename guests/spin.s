# spin: prints a line, then loops forever in the guest with `jmp .`, which makes no VM
# exits at all: the VMM must stop it from outside (a signal, Ctrl-A x).
        .include "common.inc"
        .text
        .globl _start
_start:
        xor %ax, %ax
        mov %ax, %ds
        mov %ax, %ss
        mov $0x7000, %sp
        puts message
        jmp .
        define_serial_puts
message:
        .asciz "spinning\n"
