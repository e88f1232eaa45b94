# cdboot: an El Torito no-emulation boot image (2048 bytes: four 512-byte virtual sectors)
# for `-cdrom`. Through the BIOS only: prints with int 10h, checks the CD drive's int 13h
# answers (41h extensions, 48h 2048-byte sectors, 4B01h emulation status, 43h write
# protected), then finds HELLO.TXT in the ISO 9660 root directory with AH=42h reads
# (2048-byte blocks) and prints its first line. Ends through the debug-exit port with
# 0x10 + the number of failed checks (status 33 when all passed).
        .include "common.inc"
        .text
        .globl _start
        .set ORG, 0x7c00
        .set BUF, 0x9000                # one CD sector, past the 2 KiB image
_start:
        ljmp $0, $ORG + start - _start  # entered at 0000:7C00 or 07C0:0000: one CS
start:
        xor %ax, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %ss
        mov $ORG, %sp
        mov %dl, ORG + drive
        movb $0, ORG + failures
        mov $ORG + m_boot, %si
        call print
        mov ORG + drive, %al
        call hex8
        call newline

        mov $0x41, %ah                  # EDD installation check
        mov $0x55aa, %bx
        mov ORG + drive, %dl
        int $0x13
        jc 1f
        cmp $0xaa55, %bx
        jne 1f
        mov $ORG + m_edd, %si
        call print
        jmp 2f
1:      call failed
2:      movw $0x1a, BUF                 # drive parameters: 2048 bytes a sector
        mov $0x48, %ah
        mov $BUF, %si
        mov ORG + drive, %dl
        int $0x13
        jc 1f
        cmpw $2048, BUF + 24
        jne 1f
        mov $ORG + m_sector, %si
        call print
        jmp 2f
1:      call failed
2:      mov $0x4b01, %ax                # El Torito status: no emulation, drive E0h
        mov $BUF, %si
        mov ORG + drive, %dl
        int $0x13
        jc 1f
        cmpw $0x0013, BUF               # packet size 13h, media 0 (no emulation)
        jne 1f
        mov ORG + drive, %al
        cmp BUF + 2, %al
        jne 1f
        mov $ORG + m_status, %si
        call print
        jmp 2f
1:      call failed
2:      movl $16, ORG + dap + 8         # a write fails: write protected (03h)
        mov $0x4300, %ax
        mov $ORG + dap, %si
        mov ORG + drive, %dl
        int $0x13
        jnc 1f
        cmp $0x03, %ah
        jne 1f
        mov $ORG + m_wp, %si
        call print
        jmp 2f
1:      call failed

2:      movl $16, ORG + dap + 8         # the primary volume descriptor
        call read
        jc 9f
        cmpl $0x30444301, BUF           # type 1, "CD0"
        jne 9f
        mov BUF + 156 + 2, %eax         # the root directory's extent
        mov %eax, ORG + dap + 8
        call read
        jc 9f
        mov $BUF, %bx
3:      movzbw (%bx), %cx               # directory records: length, extent at 2, name at 33
        jcxz 9f
        cmpb $11, 32(%bx)
        jne 4f
        lea 33(%bx), %si
        mov $ORG + name, %di
        push %cx
        mov $11, %cx
        repe cmpsb
        pop %cx
        je 5f
4:      add %cx, %bx
        cmp $BUF + 2048 - 34, %bx
        jb 3b
        jmp 9f
5:      mov 2(%bx), %eax
        mov %eax, ORG + dap + 8
        call read
        jc 9f
        mov $ORG + m_file, %si
        call print
        movb $0, BUF + 80               # its first line (the file ends in \n)
        mov $BUF, %si
        call print
        jmp 8f
9:      call failed
8:      mov ORG + failures, %al
        add $0x10, %al
        out %al, $DEBUG_EXIT
        hlt

# read: one 2048-byte block at the DAP's LBA into BUF; CF on error.
read:   movw $1, ORG + dap + 2
        mov $0x4200, %ax
        mov $ORG + dap, %si
        mov ORG + drive, %dl
        int $0x13
        ret

failed: incb ORG + failures
        mov $ORG + m_fail, %si
        jmp print

newline:
        mov $ORG + m_nl, %si
# print: DS:SI (NUL-terminated) through int 10h teletype; "\n" becomes "\r\n".
print:  lodsb
        test %al, %al
        jz 2f
        cmp $'\n', %al
        jne 1f
        mov $0x0e0d, %ax
        int $0x10
        mov $'\n', %al
1:      mov $0x0e, %ah
        xor %bx, %bx
        int $0x10
        jmp print
2:      ret

hex8:   push %ax
        shr $4, %al
        call 1f
        pop %ax
1:      and $0x0f, %al
        add $'0', %al
        cmp $'9', %al
        jbe 2f
        add $'a' - '9' - 1, %al
2:      mov $0x0e, %ah
        xor %bx, %bx
        int $0x10
        ret

        .balign 4
dap:    .byte 16, 0
        .word 1                         # blocks
        .word BUF, 0                    # buffer 0000:9000
        .quad 0                         # LBA
drive:  .byte 0
failures:
        .byte 0
name:   .ascii "HELLO.TXT;1"
m_boot: .asciz "El Torito boot, drive "
m_edd:  .asciz "int 13h extensions\n"
m_sector:
        .asciz "2048-byte sectors\n"
m_status:
        .asciz "no emulation\n"
m_wp:   .asciz "write protected\n"
m_file: .asciz "HELLO.TXT: "
m_fail: .asciz "FAILED\n"
m_nl:   .asciz "\n"
        .org 2048
