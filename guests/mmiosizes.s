# mmiosizes: MMIO of every size (1, 2, 4 and 8 bytes; 8 through CMPXCHG8B) at device
# windows, misaligned across their edges (RAM->VGA, VGA->RAM, LAPIC->nothing, ...), above
# RAM and at the top of the 4 GiB space, from flat 32-bit protected mode. A hostile guest:
# the VMM must split each access at the edges, answer every part, and go on. Where the
# bytes are known (RAM and VGA text memory) it checks them. Run with -device pc-testdev to
# reach its I/O memory page too. Reports on COM1, then the debug-exit port: status 0x21 =
# (0x10 << 1) | 1 when every check passed, 0x25 = (0x12 << 1) | 1 when one failed or an
# exception came. Also checks that a dword at linear 0xFFFFFFFE wraps to linear 0.
        .include "common.inc"
        .set STACK0, 0x7000
        .set SEL_CODE0, 0x08
        .set SEL_DATA0, 0x10
        .set SEL_DATA_AT_16, 0x18
        .set VGA, 0xB8000
        .set LAPIC, 0xFEE00000
        .set IOAPIC, 0xFEC00000
        .set TESTDEV_MEM, 0xFF000000

# every_size ADDR: reads ADDR as 1, 2, 4 and 8 bytes, then writes it as 1, 2, 4 and 8
# bytes (CMPXCHG8B always writes: the old value when the compare fails).
        .macro every_size addr
        movb \addr, %al
        movw \addr, %ax
        movl \addr, %eax
        cmpxchg8b \addr
        movb %al, \addr
        movw %ax, \addr
        movl %eax, \addr
        cmpxchg8b \addr
        .endm

# put8 ADDR: stores EDI:ESI as 8 bytes at ADDR with two CMPXCHG8B (the first loads what
# is there, so the second's compare succeeds and stores ECX:EBX).
        .macro put8 addr
        mov %esi, %ebx
        mov %edi, %ecx
        cmpxchg8b \addr
        cmpxchg8b \addr
        .endm

# expect SIZE ADDR VALUE: fails unless the SIZE (b, w, l) at ADDR compares equal to VALUE.
        .macro expect size, addr, value
        .ifc \size,b
        cmpb $\value, \addr
        .endif
        .ifc \size,w
        cmpw $\value, \addr
        .endif
        .ifc \size,l
        cmpl $\value, \addr
        .endif
        jne fail
        .endm

        .text
        .globl _start
_start:
        enter_pm32
        mov $msg_pm, %esi
        call puts32
        mov $0x55667788, %esi           # the 8 bytes put8 stores: 88 77 66 55 44 33 22 11
        mov $0x11223344, %edi

        # RAM -> the VGA graphics window (0x9FFFC), that window -> the unbacked hole
        # (0xAFFFC), the hole -> VGA text memory (0xB7FFC), VGA text -> RAM (0xBFFFC): 8
        # bytes over each edge, then misaligned reads over it. The hole reads as all ones.
        every_size VGA
        every_size VGA+0x7FF9
        put8 0x9FFFC
        expect l, 0x9FFFC, 0x55667788
        expect l, 0xA0000, 0x11223344
        expect l, 0x9FFFE, 0x33445566
        expect w, 0x9FFFF, 0x4455
        put8 0xAFFFC
        expect l, 0xAFFFC, 0x55667788
        expect l, 0xB0000, 0xFFFFFFFF
        expect l, 0xAFFFE, 0xFFFF5566
        put8 VGA-4
        expect l, VGA-4, 0xFFFFFFFF
        expect l, VGA, 0x11223344
        expect l, VGA-2, 0x3344FFFF
        put8 VGA+0x7FFC
        expect l, VGA+0x7FFC, 0x55667788
        expect l, VGA+0x8000, 0x11223344
        expect l, VGA+0x7FFD, 0x44556677
        mov $msg_vga, %esi
        call puts32

        # The VGA graphics window and the hole behind it, the LAPIC and IOAPIC pages and
        # the page after each: sizes and edges. Their values are the devices' own.
        every_size 0xA0000
        every_size 0xAFFFD
        every_size 0xB0000
        every_size LAPIC+0x30
        every_size LAPIC+0x22
        every_size LAPIC+0xFFC
        every_size LAPIC+0xFFF
        every_size IOAPIC
        movl $1, IOAPIC                 # IOREGSEL = the version (read-only) for IOWIN
        every_size IOAPIC+0x0E
        every_size IOAPIC+0xFFD
        every_size TESTDEV_MEM
        every_size TESTDEV_MEM+0xFFB
        mov $msg_dev, %esi
        call puts32

        # Above RAM (with -m 16M: 0xFFFFFC is RAM's last dword), far above it, and the top
        # of the address space: the last byte, word, dword and qword below 4 GiB.
        every_size 0xFFFFFC
        every_size 0x40000000
        movb 0xFFFFFFFF, %al
        movb %al, 0xFFFFFFFF
        every_size 0xFFFFFFF8
        movw 0xFFFFFFFE, %ax
        movl 0xFFFFFFFC, %eax
        # A dword at linear 0xFFFFFFFE wraps to linear 0 (a segment based at 0x10):
        # 0xFF 0xFF from above 4 GiB's last page, then this image's first bytes, FA 31.
        mov $SEL_DATA_AT_16, %ax
        mov %ax, %fs
        expect l, %fs:0xFFFFFFEE, 0x31FAFFFF
        mov $SEL_DATA0, %ax
        mov %ax, %fs
        mov $msg_top, %esi
        call puts32

        # RAM still holds what was put there.
        expect l, 0x9FFFC, 0x55667788
        mov $msg_ok, %esi
        call puts32
        mov $0x10, %al
        out %al, $0xf4
        hlt

fault:  mov $SEL_DATA0, %ax
        mov %ax, %ds
        mov $msg_fault, %esi
        call puts32
        jmp 1f
fail:   mov $msg_fail, %esi
        call puts32
1:      mov $0x12, %al
        out %al, $0xf4
        hlt

        define_puts32

msg_pm:    .asciz "protected mode\n"
msg_vga:   .asciz "vga: sizes 1-8 and the edges of its windows ok\n"
msg_dev:   .asciz "devices: sizes 1-8 and edges answered\n"
msg_top:   .asciz "above RAM and at 0xFFFFFFFF answered\n"
msg_ok:    .asciz "mmiosizes: all ok\n"
msg_fail:  .asciz "mmiosizes: a value was wrong\n"
msg_fault: .asciz "mmiosizes: unexpected exception\n"

        .p2align 3
gdt:    .quad 0
        .quad 0x00CF9A000000FFFF        # 0x08: flat 32-bit code, ring 0
        .quad 0x00CF92000000FFFF        # 0x10: flat data, ring 0
        .quad 0x00CF92000010FFFF        # 0x18: 4 GiB data based at 0x10
gdt_end:
gdt_ptr:
        .word gdt_end - gdt - 1
        .long gdt
        .p2align 3
# 32 interrupt gates to `fault` (a 16-bit offset: the guest is below 64 KiB).
idt:
        .rept 32
        .word fault, SEL_CODE0, 0x8E00, 0
        .endr
idt_end:
idt_ptr:
        .word idt_end - idt - 1
        .long idt
