# rom: a 64 KiB firmware image for --rom. The VMM maps it read-only ending at 1 MiB
# (F000:0000 is its first byte) and at 4 GiB; the CPU starts at the reset vector, CS F000
# with base FFFF0000 and IP FFF0: offset 0xFFF0 of the image, which jumps to F000:start.
# Linked at 0, labels are offsets in segment F000. Prints a line, then writes to a byte
# of itself and reads it back: "rom is read-only" when the write was dropped (--rom),
# "rom is writable" when the copy below 1 MiB is RAM (-bios, as QEMU's isapc machine).
# Offset 0 (F000:0000) is a trap, so a VMM that started there instead of at the reset
# vector says so.
        .include "common.inc"
        .text
        .globl _start
_start:
        mov %cs, %ax
        mov %ax, %ds
        xor %ax, %ax
        mov %ax, %ss
        mov $0x7000, %sp
        puts wrong_start
        hlt
start:
        mov %cs, %ax
        mov %ax, %ds
        xor %ax, %ax
        mov %ax, %ss
        mov $0x7000, %sp
        puts hello
        movb target, %al        # 0xA5
        notb target             # a write to ROM: must change nothing
        cmpb target, %al
        jne 1f
        puts read_only
        hlt
1:      puts writable
        hlt
        define_serial_puts
wrong_start:
        .asciz "FAIL: started at offset 0 of the rom, not at the reset vector\n"
hello:  .asciz "rom: running from the reset vector at F000:FFF0\n"
read_only:
        .asciz "rom is read-only\n"
writable:
        .asciz "rom is writable (shadowed in RAM)\n"
target: .byte 0xa5

        .org 0xfff0, 0xff       # the reset vector
        ljmp $0xf000, $start
        .org 0x10000, 0xff      # exactly 64 KiB
