# debugcon: writes a line to the 0xE9 debug console (its bytes go to the VMM's standard
# output), reads 0xE9 back (0xE9 when the port is there) and prints that on COM1:
#   debug console
#   port e9 reads e9
        .include "common.inc"
        .set DEBUGCON, 0xe9
        .text
        .globl _start
_start:
        xor %ax, %ax
        mov %ax, %ds
        mov %ax, %ss
        mov $0x7000, %sp
        mov $line, %si
1:      lodsb
        test %al, %al
        jz 2f
        out %al, $DEBUGCON
        jmp 1b
2:      puts reads
        xor %eax, %eax
        in $DEBUGCON, %al
        mov $2, %cx
        call serial_hex
        mov $'\n', %al
        call serial_putc
        hlt
        define_serial_puts
        define_serial_putc
        define_serial_hex
line:   .asciz "debug console\n"
reads:  .asciz "port e9 reads "
