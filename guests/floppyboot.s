# floppyboot: a boot sector for a floppy disk that works through the firmware's int 13h,
# as a small boot-sector OS does: reports the boot drive and the geometry (AH=08h), reads
# sectors across the disk with CHS (AH=02h: the second sector, the last of track 0, the
# first of head 1 and of cylinder 1, the disk's last sector, and four at once), writes one
# (AH=03h) and reads it back, resets the drive (AH=00h) and reads again. Each sector the
# test prepared starts with a NUL-terminated text that is printed on COM1; errors print
# "err" and AH. Ends through the debug-exit port with 1 (status 3) when every call
# succeeded, else 0x10 + the number of failures.
        .include "common.inc"
        .text
        .globl _start
_start:
        ljmp $0, $0x7c00 + start - _start
        .set ORG, 0x7c00
        .set BUF, 0x8000
start:
        cld
        xor %ax, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %ss
        mov $0x7c00, %sp
        mov %dl, ORG + drive
        mov $ORG + s_boot, %si
        mov %dx, %ax
        xor %ah, %ah
        call show
        mov $0x08, %ah                  # drive parameters
        mov ORG + drive, %dl
        int $0x13
        jc 1f
        push %dx
        mov $ORG + s_geom, %si
        mov %cx, %ax
        call show
        pop %ax
        mov $ORG + s_heads, %si
        call show
        jmp 2f
1:      call failed
2:      xor %ax, %ax                    # AH=08h left ES:DI at its parameter table
        mov %ax, %es
        mov $ORG + table, %di
reads:  mov (%di), %cx
        cmp $0xffff, %cx
        je multi
        mov 2(%di), %dh
        mov $0x0201, %ax
        mov $BUF, %bx
        call disk
        jc 1f
        mov $BUF, %si
        call text
1:      add $4, %di
        jmp reads
multi:  mov $0x0204, %ax                # sectors 15-18 of cylinder 0, head 0 (LBA 14-17)
        mov $0x000f, %cx
        xor %dh, %dh
        mov $BUF, %bx
        call disk
        jc write
        mov $BUF, %si
2:      push %si
        call text
        pop %si
        add $512, %si
        cmp $BUF + 4 * 512, %si
        jb 2b
write:  mov $ORG + s_written, %si       # the text to a sector of its own, then back
        mov $BUF, %di
        mov $s_written_end - s_written, %cx
        rep movsb
        mov $0x0301, %ax
        mov $0x0207, %cx                # cylinder 2, sector 7, head 1: LBA 96
        mov $1, %dh
        mov $BUF, %bx
        call disk
        movb $0, BUF
        mov $0x0201, %ax
        mov $BUF, %bx
        mov $0x0207, %cx
        mov $1, %dh
        call disk
        jc 1f
        mov $BUF, %si
        call text
1:      xor %ah, %ah                    # reset, then the second sector again
        mov ORG + drive, %dl
        int $0x13
        jnc 1f
        call failed
1:      mov $0x0201, %ax
        mov $0x0002, %cx
        xor %dh, %dh
        mov $BUF, %bx
        call disk
        jc 1f
        mov $BUF, %si
        call text
1:      mov $0x01, %al
        mov ORG + failures, %ah
        test %ah, %ah
        jz 1f
        mov %ah, %al
        add $0x10, %al
1:      out %al, $DEBUG_EXIT
        hlt

# int 13h with AX, CX, DH as given, ES:BX = BX, DL the boot drive; CF and "err AH" on
# failure.
disk:   mov ORG + drive, %dl
        int $0x13
        jnc 1f
        call failed
        stc
1:      ret

failed: incb ORG + failures
        mov $ORG + s_err, %si
        mov %ah, %al
        xor %ah, %ah
        # fall through
show:   push %ax                        # the text at SI, a blank, AX in hex, a newline
        call puts
        mov $' ', %al
        out %al, %dx
        pop %ax
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
        jmp newline

text:   movb $0, 32(%si)                # a sector's text (at most 32 bytes), a newline
        call puts
newline:
        mov $'\n', %al
        out %al, %dx
        ret

puts:   mov $COM1, %dx                  # DS:SI until NUL
1:      lodsb
        test %al, %al
        jz 2f
        out %al, %dx
        jmp 1b
2:      ret

# CX, DH of the single-sector reads (LBA 1, 17, 18, 36, 2879 of a 1.44 MB disk).
table:  .word 0x0002, 0, 0x0012, 0, 0x0001, 1, 0x0101, 0, 0x4f12, 1, 0xffff
drive:  .byte 0
failures: .byte 0
s_boot: .asciz "floppyboot dl"
s_geom: .asciz "geom cx"
s_heads: .asciz "geom dx"
s_err:  .asciz "err"
s_written: .asciz "written by floppyboot"
s_written_end:
        .org 510
        .byte 0x55, 0xaa
