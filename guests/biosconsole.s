# biosconsole: a boot sector (--boot-sector) that writes "int10" with int 10h's teletype,
# then reports on COM1 what the firmware and the machine say about the consoles: the
# BIOS data area's COM1 and COM2 bases (0x400, 0x402), the equipment word (int 11h: bits
# 9-11 serial ports, 4-5 video), the VGA input status register (port 0x3DA) and a byte
# written to and read back from the text window at 0xB8000 (both 0xff when there is no
# VGA: nothing answers there). Ends with debug-exit status 3.
        .include "common.inc"
        .text
        .globl _start
_start:
        ljmp $0, $0x7c00 + start - _start
        .set ORG, 0x7c00
        .macro show name, reg
        pushw \reg
        mov $ORG + \name, %si
        call puts
        pop %ax
        call hex
        .endm
start:
        xor %ax, %ax
        mov %ax, %ds
        mov %ax, %ss
        mov $0x7c00, %sp
        mov $ORG + s_int10, %si
1:      lodsb
        test %al, %al
        jz 2f
        mov $0x0e, %ah
        xor %bx, %bx
        int $0x10
        jmp 1b
2:      show s_com1, 0x400
        show s_com2, 0x402
        int $0x11
        show s_equip, %ax
        mov $0x3da, %dx
        in %dx, %al
        xor %ah, %ah
        show s_status, %ax
        mov $0xb800, %ax
        mov %ax, %es
        movb $'A', %es:0
        movb %es:0, %al
        xor %ah, %ah
        show s_vram, %ax
        mov $0x01, %al
        out %al, $DEBUG_EXIT
        hlt

puts:   mov $COM1, %dx                  # DS:SI, then a blank
1:      lodsb
        test %al, %al
        jz 2f
        out %al, %dx
        jmp 1b
2:      mov $' ', %al
        out %al, %dx
        ret

hex:    mov $4, %cx                     # AX as 4 hex digits and a newline
1:      rol $4, %ax
        push %ax
        and $0x0f, %al
        add $'0', %al
        cmp $'9', %al
        jbe 2f
        add $'a' - '9' - 1, %al
2:      out %al, %dx
        pop %ax
        loop 1b
        mov $'\n', %al
        out %al, %dx
        ret

s_int10: .asciz "int10\r\n"
s_com1: .asciz "com1"
s_com2: .asciz "com2"
s_equip: .asciz "equip"
s_status: .asciz "3da"
s_vram: .asciz "b8000"
        .org 510
        .byte 0x55, 0xaa
