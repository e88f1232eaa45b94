# vga: draws a known screen in VGA text mode (80x25 cells of char + attribute at
# 0xB8000), puts the cursor at row 12, column 34 through the CRTC, reads the cursor back
# and prints it on COM1 as "cursor 03e2", then halts.
#   scratchvm run --vga build/guests/vga.bin
        .include "common.inc"
        .set CRTC_INDEX, 0x3d4
        .set CRTC_DATA, 0x3d5
        .set CURSOR_HIGH, 0x0e  # CRTC cursor location high/low registers
        .set CURSOR_LOW, 0x0f
        .set CURSOR_POS, 12 * 80 + 34
        .text
        .globl _start
_start:
        xor %ax, %ax
        mov %ax, %ds
        mov %ax, %ss
        mov $0x7000, %sp
        mov $0xb800, %ax
        mov %ax, %es
        cld
        xor %di, %di            # clear: 2000 cells of blank, grey on black
        mov $0x0720, %ax
        mov $80 * 25, %cx
        rep stosw
        mov $title, %si         # row 0, column 0
        xor %di, %di
        call vputs
        mov $box_top, %si       # a frame: rows 5 to 9, columns 10 to 41
        mov $(5 * 80 + 10) * 2, %di
        call vputs
        mov $6, %bx
1:      mov $box_side, %si
        imul $160, %bx, %di
        add $10 * 2, %di
        call vputs
        inc %bx
        cmp $9, %bx
        jb 1b
        mov $box_bottom, %si
        mov $(9 * 80 + 10) * 2, %di
        call vputs
        mov $inside, %si        # text inside the frame: row 7, column 13
        mov $(7 * 80 + 13) * 2, %di
        call vputs
        mov $footer, %si        # row 24, column 4
        mov $(24 * 80 + 4) * 2, %di
        call vputs

        mov $CRTC_INDEX, %dx    # cursor location, high byte then low byte
        mov $CURSOR_HIGH, %al
        out %al, %dx
        inc %dx
        mov $CURSOR_POS >> 8, %al
        out %al, %dx
        dec %dx
        mov $CURSOR_LOW, %al
        out %al, %dx
        inc %dx
        mov $CURSOR_POS & 0xff, %al
        out %al, %dx

        mov $cursor_msg, %si    # read the location back and print it
        call serial_puts
        mov $CRTC_INDEX, %dx
        mov $CURSOR_HIGH, %al
        out %al, %dx
        inc %dx
        in %dx, %al
        mov %al, %ah
        dec %dx
        mov $CURSOR_LOW, %al
        out %al, %dx
        inc %dx
        in %dx, %al
        movzwl %ax, %eax
        mov $4, %cx
        call serial_hex
        mov $'\n', %al
        call serial_putc
        hlt

# vputs: DS:SI (NUL-terminated) -> ES:DI as cells with attribute 0x1f (clobbers AX, SI, DI).
vputs:  mov $0x1f, %ah
1:      lodsb
        test %al, %al
        jz 2f
        stosw
        jmp 1b
2:      ret

        define_serial_puts
        define_serial_putc
        define_serial_hex

title:  .asciz "ScratchVM VGA text mode test"
box_top:                        # CP437 double-line box drawing characters
        .byte 0xc9
        .fill 30, 1, 0xcd
        .byte 0xbb, 0
box_side:
        .byte 0xba
        .fill 30, 1, 0x20
        .byte 0xba, 0
box_bottom:
        .byte 0xc8
        .fill 30, 1, 0xcd
        .byte 0xbc, 0
inside: .asciz "Hello from 0xB8000!"
footer: .asciz "row 24: the last line of the screen"
cursor_msg:
        .asciz "cursor "
