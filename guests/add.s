# add: prints EAX + EBX in decimal on COM1, then halts.
#   scratchvm run --reg rax=40 --reg rbx=2 build/guests/add.bin   prints 42
        .include "common.inc"
        .text
        .globl _start
_start:
        addl %ebx, %eax         # first, before anything touches the inputs
        xor %cx, %cx
        mov %cx, %ds
        mov %cx, %ss
        mov $0x7000, %sp
        mov $digits_end, %di    # digits are written backwards from here
        mov $10, %ecx
1:      xor %edx, %edx
        divl %ecx
        add $'0', %dl
        dec %di
        mov %dl, (%di)
        test %eax, %eax
        jnz 1b
        mov %di, %si
        call serial_puts
        hlt
        define_serial_puts
digits: .space 10               # 4294967295 has ten digits
digits_end:
        .asciz "\n"
