# strio: string I/O, where one VM exit carries many elements (kvm_run io.count > 1).
# Prints a line with `rep outsb` to COM1, fills 8 bytes with `rep insb` from port 0x1234
# (no device: all ones) and 4 words with `rep insw`, prints them in hex, and halts:
#   string I/O to COM1
#   insb: ffffffffffffffff
#   insw: ffffffffffffffff
        .include "common.inc"
        .text
        .globl _start
_start:
        xor %ax, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %ss
        mov $0x7000, %sp
        cld
        mov $line, %si          # rep outsb: DS:SI -> port DX, CX times
        mov $line_end - line, %cx
        mov $COM1, %dx
        rep outsb
        mov $buf, %di           # rep insb: port DX -> ES:DI
        mov $8, %cx
        mov $0x1234, %dx
        rep insb
        puts insb_msg
        call print_buf
        movl $0, buf            # clear, then rep insw
        movl $0, buf + 4
        mov $buf, %di
        mov $4, %cx
        mov $0x1234, %dx
        rep insw
        puts insw_msg
        call print_buf
        hlt

# print_buf: the 8 bytes at buf in hex, then a newline.
print_buf:
        mov buf, %eax
        mov $8, %cx
        call serial_hex
        mov buf + 4, %eax
        mov $8, %cx
        call serial_hex
        mov $'\n', %al
        jmp serial_putc

        define_serial_puts
        define_serial_putc
        define_serial_hex
line:   .ascii "string I/O to COM1\n"
line_end:
insb_msg:
        .asciz "insb: "
insw_msg:
        .asciz "insw: "
buf:    .long 0x11111111, 0x22222222
