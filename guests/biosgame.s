# biosgame: a boot sector that plays like a small game through the BIOS only: sets text
# mode 3 (int 10h), draws a title, reads keys (int 16h) and echoes them in a box until
# 'q', measures time with the tick count (int 1Ah), then reads its second sector from
# the boot drive (int 13h, DL as the BIOS left it), writes a score sector (sector 3) and
# reads it back. Results go to the screen (int 10h) and a summary to COM1; the guest
# ends through the debug-exit port with 0x10 + the number of failed checks.
# Sector 1 (0x7C00) is the boot sector, sector 2 holds a message, sector 3 the score.
        .include "common.inc"
        .text
        .globl _start
_start:
        ljmp $0, $0x7c00 + start - _start
        .set ORG, 0x7c00
start:
        xor %ax, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %ss
        mov $0x7c00, %sp
        mov %dl, ORG + drive            # the boot drive
        movb $0, ORG + failures
        mov $0x0003, %ax                # mode 3: 80x25 text, cleared
        int $0x10
        mov $0x0200, %ax                # cursor to row 2, column 10
        xor %bh, %bh
        mov $0x020a, %dx
        int $0x10
        mov $ORG + title, %si
        call print
        xor %ah, %ah                    # ticks now
        int $0x1a
        mov %dx, ORG + ticks0
keys:   xor %ah, %ah                    # wait for a key
        int $0x16
        cmp $'q', %al
        je done
        mov $0x0e, %ah                  # echo it
        int $0x10
        jmp keys
done:   xor %ah, %ah
        int $0x1a
        sub ORG + ticks0, %dx           # elapsed ticks: not negative (mod 64K ok)
        mov $0x0e0d, %ax
        int $0x10
        mov $0x0e0a, %ax
        int $0x10
        # Sector 2 (CHS 0/0/2) to 0x8000.
        mov $0x0201, %ax
        mov $0x8000, %bx
        mov $0x0002, %cx
        xor %dh, %dh
        mov ORG + drive, %dl
        int $0x13
        jnc 1f
        incb ORG + failures
1:      mov $0x8000, %si
        call print
        # The score to sector 3 through the LBA extensions, then back with CHS.
        movb $0x2a, 0x9000
        mov $0x4300, %ax
        mov ORG + drive, %dl
        mov $ORG + dap, %si
        int $0x13
        jnc 2f
        incb ORG + failures
2:      movb $0, 0x9000
        mov $0x0201, %ax
        mov $0x9000, %bx
        mov $0x0003, %cx
        xor %dh, %dh
        mov ORG + drive, %dl
        int $0x13
        cmpb $0x2a, 0x9000
        je 3f
        incb ORG + failures
3:      mov $ORG + bye, %si             # and on COM1, for the test
        call serial
        mov ORG + failures, %al
        add $0x10, %al
        out %al, $DEBUG_EXIT
        hlt

print:  lodsb                           # DS:SI via int 10h teletype
        test %al, %al
        jz 1f
        mov $0x0e, %ah
        int $0x10
        jmp print
1:      ret

serial: mov $COM1, %dx
1:      lodsb
        test %al, %al
        jz 2f
        out %al, %dx
        jmp 1b
2:      ret

title:  .asciz "BIOS GAME - type, q quits: "
bye:    .asciz "game over\n"
drive:  .byte 0
failures: .byte 0
ticks0: .word 0
dap:    .byte 16, 0                     # EDD packet: 1 sector from 0000:9000 to LBA 2
        .word 1, 0x9000, 0
        .quad 2
        .org 510
        .byte 0x55, 0xaa
        .asciz "disk says hello"
        .org 1024
        .org 1536
