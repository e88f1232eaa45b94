# badport: IN and OUT of sizes 1, 2 and 4 at ports no device handles (0x1234, 0xFFFC, 0x10)
# and at the POST code port 0x80, which a write-only latch holds. An empty ISA bus reads
# as all ones and ignores writes, so it prints
#   0080: ff ffff ffffffff
# per port, and halts. The VMM warns once per unhandled port on stderr.
        .include "common.inc"
        .text
        .globl _start
_start:
        xor %ax, %ax
        mov %ax, %ds
        mov %ax, %ss
        mov $0x7000, %sp
        mov $ports, %si
1:      lodsw                   # the next port
        push %si
        call probe
        pop %si
        cmp $ports_end, %si
        jb 1b
        hlt

# probe: AX = port. Writes then reads it with each size, printing what was read.
probe:  mov %ax, %di
        movzwl %ax, %eax
        mov $4, %cx
        call serial_hex
        mov $':', %al
        call serial_putc
        mov %di, %dx            # OUT of each size: to be dropped
        mov $0x12, %al
        out %al, %dx
        mov $0x1234, %ax
        out %ax, %dx
        mov $0x12345678, %eax
        out %eax, %dx
        call space
        xor %eax, %eax          # IN byte
        mov %di, %dx
        in %dx, %al
        mov $2, %cx
        call serial_hex
        call space
        xor %eax, %eax          # IN word
        mov %di, %dx
        in %dx, %ax
        mov $4, %cx
        call serial_hex
        call space
        xor %eax, %eax          # IN dword
        mov %di, %dx
        in %dx, %eax
        mov $8, %cx
        call serial_hex
        mov $'\n', %al
        jmp serial_putc         # tail call

space:  mov $' ', %al
        jmp serial_putc

        define_serial_putc
        define_serial_hex
ports:  .word 0x0080, 0x1234, 0xfffc, 0x0010   # (0x00-0x0F: the DMA controller)
ports_end:
