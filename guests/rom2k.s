# rom2k: a 2 KiB firmware image for --rom, smaller than a page. The VMM maps one 4 KiB
# page ending at 1 MiB with the image in its top half, so the image starts at 0xFF800
# (segment FF80; labels, linked at 0, are offsets in it) and the half page below it reads
# as erased flash (0xFF). The reset vector is the image's last 16 bytes.
# Prints the line below and halts:
#   rom2k: below the image: ff
        .include "common.inc"
        .text
        .globl _start
_start:
        mov %cs, %ax            # FF80
        mov %ax, %ds
        xor %ax, %ax
        mov %ax, %ss
        mov $0x7000, %sp
        puts hello
        mov $0xff00, %ax        # FF00:07FF = 0xFF7FF, the byte below the image
        mov %ax, %es
        xor %eax, %eax
        mov %es:0x7ff, %al
        mov $2, %cx
        call serial_hex
        mov $'\n', %al
        call serial_putc
        hlt
        define_serial_puts
        define_serial_putc
        define_serial_hex
hello:  .asciz "rom2k: below the image: "

        .org 0x7f0, 0xff        # the reset vector: linear 0xFFFF0 = FF80:07F0
        ljmp $0xff80, $_start
        .org 0x800, 0xff
