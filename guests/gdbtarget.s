# gdbtarget: a guest for debugger tests (tests/guests/gdb.sh). It counts a word in memory
# up in a loop; at the end it prints the count on COM1 and exits through the debug-exit
# port with 0x21. Labels the tests use are at fixed addresses (see the .org lines), so a
# script without symbols can set breakpoints and watchpoints by address:
#   0x0000 _start       0x0040 loop_top      0x0080 counter (word)     0x0090 magic
        .include "common.inc"
        .text
        .globl _start
_start:
        xor %ax, %ax
        mov %ax, %ds
        mov %ax, %ss
        mov $0x7000, %sp
        movw $0, counter
        mov $5, %cx
        jmp loop_top
        .org 0x40
loop_top:
        incw counter            # 0x40: the watched write
        nop
        loop loop_top
        call magic
        mov counter, %ax
        add $'0', %al
        call serial_putc
        mov $'\n', %al
        call serial_putc
        mov $0x21, %al
        out %al, $DEBUG_EXIT
        hlt
        .org 0x80
counter: .word 0
        .org 0x90
magic:
        xchg %bx, %bx           # Bochs's magic breakpoint (with --magic-break)
        ret
        define_serial_putc
