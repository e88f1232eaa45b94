# bioskeys: a boot sector (--boot-sector) that reads keys with int 16h AH=00h and prints
# each keystroke (AX: scan code, ASCII) as 4 hex digits and a newline on COM1, until 'q';
# then debug-exit status 3. Keys without ASCII (arrows, F1...) have ASCII 00.
        .include "common.inc"
        .text
        .globl _start
_start:
        ljmp $0, $0x7c00 + start - _start
start:
        xor %ax, %ax
        mov %ax, %ds
        mov %ax, %ss
        mov $0x7c00, %sp
1:      xor %ah, %ah
        int $0x16
        push %ax
        call hex
        pop %ax
        cmp $'q', %al
        jne 1b
        mov $0x01, %al
        out %al, $DEBUG_EXIT
        hlt

hex:    mov $COM1, %dx                  # AX as 4 hex digits and a newline
        mov $4, %cx
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
        .org 510
        .byte 0x55, 0xaa
