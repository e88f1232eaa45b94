# bioscalls: a boot sector (--boot-sector, so the BIOS is there with no disk) that calls
# BIOS services and prints what they return on COM1, one "name value" line each, as hex:
# equipment, base memory, the E820 map, E801h, 88h, A20 status, the configuration
# table's model byte, the video mode, an int 13h call to a drive that is not there and
# two unsupported calls (CF=1, AH=86h expected). Ends with a write to the debug exit.
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
        mov %ax, %es
        mov %ax, %ss
        mov $0x7c00, %sp
        int $0x11
        show s_equip, %ax
        int $0x12
        show s_mem, %ax
        xor %ebx, %ebx                  # the E820 map: base, length (low words, in KiB
e820:   mov $0xe820, %eax               # units of 64 KiB: bits 16-31) and type
        mov $0x534d4150, %edx
        mov $20, %ecx
        mov $0x9000, %di
        int $0x15
        jc 1f
        show s_e820, 0x9002
        show s_len, 0x900a
        show s_type, 0x9010
        test %ebx, %ebx
        jnz e820
1:      mov $0xe801, %ax
        int $0x15
        show s_e801, %ax
        mov $0x88, %ah
        int $0x15
        show s_88, %ax
        mov $0x2402, %ax
        int $0x15
        show s_a20, %ax
        mov $0xc0, %ah
        int $0x15
        show s_model, %es:2(%bx)
        xor %ax, %ax
        mov %ax, %es
        mov $0x0f, %ah
        int $0x10
        show s_mode, %ax
        mov $0x0200, %ax                # drive 81h is not there
        mov $0x81, %dl
        mov $0x0001, %cx
        int $0x13
        sbb %al, %al
        show s_nodisk, %ax
        mov $0x0000, %ax                # int 14h (serial): not provided
        int $0x14
        sbb %al, %al
        show s_unsup, %ax
        mov $0xff00, %ax                # int 10h AH=FFh
        int $0x10
        sbb %al, %al
        show s_unsup, %ax
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

s_equip: .asciz "equip"
s_mem:  .asciz "mem"
s_e820: .asciz "e820"
s_len:  .asciz " len"
s_type: .asciz " type"
s_e801: .asciz "e801"
s_88:   .asciz "88"
s_a20:  .asciz "a20"
s_model: .asciz "model"
s_mode: .asciz "mode"
s_nodisk: .asciz "nodisk"
s_unsup: .asciz "unsup"
        .org 510
        .byte 0x55, 0xaa
