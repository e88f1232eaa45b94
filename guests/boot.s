# boot: a 512-byte boot sector for --boot-sector (loaded at 0x7C00, started at 0000:7C00).
# Linked at 0, so it first far-jumps to 07C0:start, where its labels are offsets from
# CS; then checks its own signature at 0000:7DFE and prints a line.
        .include "common.inc"
        .text
        .globl _start
_start:
        ljmp $0x07c0, $start
start:
        mov %cs, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %ss
        mov $0x7000, %sp        # 07C0:7000 = 0xEC00, above the sector
        puts loaded
        xor %ax, %ax            # the signature, seen from segment 0
        mov %ax, %es
        cmpw $0xaa55, %es:0x7dfe
        jne 1f
        puts sig_ok
        hlt
1:      puts sig_bad
        hlt
        define_serial_puts
loaded: .asciz "boot sector running at 07c0:0000\n"
sig_ok: .asciz "signature 55 aa at 0x7dfe\n"
sig_bad:
        .asciz "signature missing at 0x7dfe\n"
        .org 510
        .byte 0x55, 0xaa
