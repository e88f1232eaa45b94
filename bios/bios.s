# ScratchVM's built-in BIOS: 64 KiB mapped read-only at F000:0000 (0xF0000-0xFFFFF).
#
# The firmware is thin on purpose: every software interrupt (and the IRQ vectors except
# IRQ 0) enters one of 256 stubs that push the vector number and jump to `common`, which
# saves the caller's registers on the caller's stack and hands the VMM that frame with a
# single 32-bit OUT of SS:SP to the BIOS call port (0x0B00, see src/vmm/bios.c). The VMM
# services the call (int 10h video, 13h disks through the block layer, 15h memory map,
# 16h keyboard, 1Ah clock, 19h boot, ...) by reading and writing the frame and guest
# memory, and the stub returns with IRET, so the caller sees the new registers and FLAGS.
# A call that must wait (int 16h AH=00h with no key) comes back with bit 15 of the vector
# word set: the stub enables interrupts for a moment and asks again.
#
# Frame at SS:SP when the VMM looks (offsets in bytes):
#   0 GS  2 FS  4 ES  6 DS  8 EDI 12 ESI 16 EBP 20 ESP 24 EBX 28 EDX 32 ECX 36 EAX
#   40 vector (bit 15: retry)  42 IP  44 CS  46 FLAGS   (what INT pushed)
#
# IRQ 0 (int 08h) is counted here, in the BIOS data area, and chains to int 1Ch, as PC
# BIOSes do; that keeps the tick count moving without a VMM exit per tick.
        .code16
        .set BIOS_CALL_PORT, 0x0b00
        .set VEC_POST, 0x100            # the vector word of the POST call
        .set RETRY, 0x80                # high byte of the vector word
        .set BDA_TICKS, 0x46c
        .set BDA_MIDNIGHT, 0x470
        .set BDA_PIT_SEEN, 0x4ff        # 1 once IRQ 0 has ticked (the VMM stops counting)
        .set TICKS_PER_DAY, 0x1800b0
        .set PIC1_CMD, 0x20
        .set PIC_EOI, 0x20

        .text
        .globl _start
_start:
header:                                 # read by the VMM from the image
        .ascii "SVMBIOS1"
        .word stubs                     # 8: stub of vector N at stubs + 8 * N
        .word config_table              # 10: int 15h AH=C0h
        .word diskette_params           # 12: int 1Eh vector, int 13h AH=08h ES:DI
        .word irq0                      # 14: int 08h
        .word iret_only                 # 16: int 1Ch and other do-nothing vectors
        .word halt                      # 18: where an unhandled CPU exception ends

        .balign 8
stubs:
        .set vec, 0
        .rept 256
        .balign 8
        .byte 0x68                      # push $vec (imm16, the same length for every vector)
        .word vec
        .byte 0xe9                      # jmp common (rel16)
        .word common - (. + 2)
        .set vec, vec + 1
        .endr

common:
        pushal
        push %ds
        push %es
        push %fs
        push %gs
again:
        mov %ss, %ax
        shl $16, %eax
        mov %sp, %ax
        mov $BIOS_CALL_PORT, %dx
        out %eax, %dx
        mov %sp, %bp
        testb $RETRY, 41(%bp)
        jz done
        andb $~RETRY, 41(%bp)
        sti                             # let IRQs (keyboard, timer) in while waiting
        nop
        nop
        cli
        jmp again
done:
        pop %gs
        pop %fs
        pop %es
        pop %ds
        popal
        add $2, %sp
        iret

# IRQ 0: one more tick since midnight, int 1Ch, end of interrupt.
irq0:
        push %ds
        push %ax
        xor %ax, %ax
        mov %ax, %ds
        movb $1, BDA_PIT_SEEN
        incl BDA_TICKS
        cmpl $TICKS_PER_DAY, BDA_TICKS
        jb 1f
        movl $0, BDA_TICKS
        movb $1, BDA_MIDNIGHT
1:      int $0x1c
        mov $PIC_EOI, %al
        out %al, $PIC1_CMD
        pop %ax
        pop %ds
iret_only:
        iret

halt:
        cli
        hlt
        jmp halt

# Power-on: a stack below the boot sector, the POST call (IVT, BDA, screen), then int 19h.
post:
        cli
        cld
        xor %ax, %ax
        mov %ax, %ss
        mov $0x7c00, %sp
        mov %ax, %ds
        mov %ax, %es
        pushf
        push %cs
        push $1f
        push $VEC_POST
        jmp common
1:      int $0x19
        jmp halt

# int 15h AH=C0h: the system configuration table (IBM PC/AT BIOS layout).
config_table:
        .word 8                         # bytes that follow
        .byte 0xfc                      # model: AT
        .byte 0x00                      # submodel
        .byte 0x01                      # BIOS revision
        .byte 0x70                      # feature 1: RTC, int 15h AH=4Fh, 2nd PIC
        .byte 0x40, 0, 0, 0             # feature 2: int 16h AH=09h... (none else)

# The diskette parameter table (int 1Eh): 1.44 MB, 18 sectors of 512 bytes.
diskette_params:
        .byte 0xaf, 0x02, 0x25, 0x02, 18, 0x1b, 0xff, 0x6c, 0xf6, 0x0f, 0x08

        .org 0xfff0
reset:
        ljmp $0xf000, $post
        .ascii "12/02/26"               # BIOS date at F000:FFF5
        .byte 0
        .byte 0xfc                      # model byte at F000:FFFE
        .byte 0
