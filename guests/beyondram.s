# beyondram: run with -m 64K. Reads and writes guest-physical memory past the end of RAM
# (0x20000, segment 0x2000). No memory backs it, so each access reaches the VMM as MMIO:
# reads are all ones and writes are dropped. Prints
#   20000: ffffffff
#   after write: ff
#   ram ok
# and halts. The last line checks that RAM below the end (0xFFF0) still works.
        .include "common.inc"
        .text
        .globl _start
_start:
        xor %ax, %ax
        mov %ax, %ds
        mov %ax, %ss
        mov $0x7000, %sp
        mov $0x2000, %ax
        mov %ax, %es
        mov $0x20000, %eax      # the address, then what a dword read there gives
        mov $5, %cx
        call serial_hex
        puts colon
        mov %es:0, %eax
        mov $8, %cx
        call serial_hex
        puts newline
        movb $0x5a, %es:0       # a write: dropped
        puts after
        xor %eax, %eax
        mov %es:0, %al
        mov $2, %cx
        call serial_hex
        puts newline
        mov $0x0fff, %ax        # 0FFF:0000 = 0xFFF0: RAM, 16 bytes below its end
        mov %ax, %es
        movl $0xc0ffee11, %es:0
        cmpl $0xc0ffee11, %es:0
        jne 1f
        puts ram_ok
        hlt
1:      puts ram_bad
        hlt
        define_serial_puts
        define_serial_putc
        define_serial_hex
colon:  .asciz ": "
newline:
        .asciz "\n"
after:  .asciz "after write: "
ram_ok: .asciz "ram ok\n"
ram_bad:
        .asciz "FAIL: RAM at 0xFFF0 did not keep a write\n"
