# pciedu: drives QEMU's edu device (run with -device edu) as a driver would, from flat
# 32-bit protected mode: finds it on bus 0 through mechanism #1, checks its registers
# (identification, liveness, factorial), moves 100 bytes RAM -> device -> RAM by DMA,
# takes its interrupt as INTx through the PIIX3 PIRQ and the 8259A (the IRQ its
# interrupt line register names), then as an MSI to the local APIC. Reports on COM1,
# then the debug-exit port: status 0x21 = (0x10 << 1) | 1 when all checks passed, 0x25 =
# (0x12 << 1) | 1 when one failed, an exception came or an interrupt did not.
        .include "common.inc"
        .set STACK0, 0x7000
        .set SEL_CODE0, 0x08
        .set SEL_DATA0, 0x10
        .set CONFIG_ADDRESS, 0xCF8
        .set CONFIG_DATA, 0xCFC
        .set LAPIC, 0xFEE00000
        .set RAM_SRC, 0x8000
        .set RAM_DST, 0x9000
        .set VEC_PIC, 0x20              # the 8259A pair at vectors 0x20-0x2F
        .set VEC_MSI, 0x51
        .set WAIT_LOOPS, 0x100000

        .text
        .globl _start
_start:
        enter_pm32
        mov $msg_pm, %esi
        call puts32

        # Find 1234:11e8 on bus 0.
        mov $0x80000000, %ebx
find:   mov %ebx, %eax
        call cfg_read
        cmp $0x11E81234, %eax
        je found
        add $0x800, %ebx
        cmp $0x80010000, %ebx
        jb find
        jmp fail
found:  mov %ebx, dev
        lea 0x10(%ebx), %eax
        call cfg_read
        test $0xF, %al                  # a 32-bit memory BAR
        jnz fail
        and $0xFFFFFFF0, %eax
        jz fail
        mov %eax, %edi                  # EDI: the registers
        lea 0x04(%ebx), %eax
        call cfg_read
        and $6, %eax
        cmp $6, %eax                    # memory and bus master on (the VMM's firmware)
        jne fail
        mov $msg_found, %esi
        call puts32

        cmpl $0x010000ED, (%edi)
        jne fail
        movl $0x12345678, 4(%edi)
        cmpl $0xEDCBA987, 4(%edi)
        jne fail
        movl $10, 8(%edi)
        testl $1, 0x20(%edi)            # computing: done at once here, polled as a driver does
        jnz fail
        cmpl $3628800, 8(%edi)
        jne fail
        mov $msg_regs, %esi
        call puts32

        # DMA: 100 bytes from RAM_SRC to the device's buffer, then back to RAM_DST.
        mov $RAM_SRC, %edx
        xor %ecx, %ecx
1:      lea 7(%ecx,%ecx,2), %eax
        movb %al, (%edx,%ecx)
        inc %ecx
        cmp $100, %ecx
        jb 1b
        movl $RAM_SRC, 0x80(%edi)
        movl $0x40000, 0x88(%edi)
        movl $100, 0x90(%edi)
        movl $1, 0x98(%edi)
        call dma_wait
        movl $0x40000, 0x80(%edi)
        movl $RAM_DST, 0x88(%edi)
        movl $3, 0x98(%edi)
        call dma_wait
        mov $RAM_SRC, %esi
        push %edi
        mov $RAM_DST, %edi
        mov $100, %ecx
        repe cmpsb
        pop %edi
        jne fail
        mov $msg_dma, %esi
        call puts32

        # INTx: the 8259A pair at 0x20/0x28, only the cascade and our IRQ unmasked.
        mov dev, %eax
        add $0x3C, %eax
        call cfg_read
        movzbl %al, %ecx                # the interrupt line: 10 or 11
        cmp $8, %ecx
        jb fail
        cmp $15, %ecx
        ja fail
        mov %ecx, irq
        mov $0x11, %al
        out %al, $0x20
        out %al, $0xA0
        mov $VEC_PIC, %al
        out %al, $0x21
        mov $VEC_PIC + 8, %al
        out %al, $0xA1
        mov $4, %al
        out %al, $0x21
        mov $2, %al
        out %al, $0xA1
        mov $1, %al
        out %al, $0x21
        out %al, $0xA1
        mov $0xFB, %al
        out %al, $0x21
        mov $1, %eax
        sub $8, %ecx
        shl %cl, %eax
        not %al
        out %al, $0xA1
        mov irq, %eax
        add $VEC_PIC, %eax
        mov $intx_handler, %edx
        call set_gate
        movl $0, hits
        sti
        movl $0x40, 0x60(%edi)          # raise: interrupt status 0x40
        call wait_hit
        cli
        cmpl $0, 0x24(%edi)             # the handler acknowledged it
        jne fail
        mov $msg_intx, %esi
        call puts32

        # MSI: the 8259A masked, the local APIC on (SVR), the message to vector VEC_MSI.
        mov $0xFF, %al
        out %al, $0x21
        out %al, $0xA1
        movl $0x1FF, LAPIC + 0xF0
        mov $VEC_MSI, %eax
        mov $msi_handler, %edx
        call set_gate
        mov dev, %eax
        add $0x34, %eax
        call cfg_read
        movzbl %al, %esi                # the first capability
2:      test %esi, %esi
        jz fail
        mov dev, %eax
        add %esi, %eax
        call cfg_read
        cmp $0x05, %al
        je 3f
        movzbl %ah, %esi
        jmp 2b
3:      mov dev, %eax                   # 64-bit MSI: address at +4, +8, data at +12
        lea 4(%eax,%esi), %eax
        mov $LAPIC, %ecx
        call cfg_write
        mov dev, %eax
        lea 8(%eax,%esi), %eax
        xor %ecx, %ecx
        call cfg_write
        mov dev, %eax
        lea 12(%eax,%esi), %eax
        mov $VEC_MSI, %ecx
        call cfg_write
        mov dev, %eax
        add %esi, %eax
        call cfg_read
        mov %eax, %ecx
        or $0x00010000, %ecx            # Message Control bit 0: MSI Enable
        mov dev, %eax
        add %esi, %eax
        call cfg_write
        movl $0, hits
        sti
        movl $0x80, 0x60(%edi)
        call wait_hit
        cli
        cmpl $0, 0x24(%edi)
        jne fail
        mov $msg_msi, %esi
        call puts32

        mov $msg_ok, %esi
        call puts32
        mov $0x10, %al
        out %al, $0xf4
        hlt

# The handlers: count the hit, acknowledge everything at the device, then EOI.
intx_handler:
        push %eax
        incl hits
        mov 0x24(%edi), %eax
        mov %eax, 0x64(%edi)
        mov $0x20, %al
        out %al, $0xA0
        out %al, $0x20
        pop %eax
        iret
msi_handler:
        incl hits
        push %eax
        mov 0x24(%edi), %eax
        mov %eax, 0x64(%edi)
        movl $0, LAPIC + 0xB0
        pop %eax
        iret

# wait_hit: spins (IF=1) until an interrupt counted a hit; fails after WAIT_LOOPS.
wait_hit:
        mov $WAIT_LOOPS, %ecx
1:      cmpl $0, hits
        jne 2f
        pause
        loop 1b
        jmp fail
2:      ret

# dma_wait: polls the DMA command's start bit, as the spec's example does.
dma_wait:
        mov $WAIT_LOOPS, %ecx
1:      testl $1, 0x98(%edi)
        jz 2f
        loop 1b
        jmp fail
2:      ret

# set_gate: an interrupt gate for vector EAX to EDX (below 64 KiB).
set_gate:
        lea idt(,%eax,8), %eax
        mov %dx, (%eax)
        movw $SEL_CODE0, 2(%eax)
        movw $0x8E00, 4(%eax)
        movw $0, 6(%eax)
        ret

# cfg_read: EAX = CONFIG_ADDRESS -> EAX = the dword (clobbers EDX).
cfg_read:
        and $0xFFFFFFFC, %eax
        mov $CONFIG_ADDRESS, %dx
        out %eax, %dx
        mov $CONFIG_DATA, %dx
        in %dx, %eax
        ret

# cfg_write: EAX = CONFIG_ADDRESS, ECX = the dword (clobbers EAX, EDX).
cfg_write:
        and $0xFFFFFFFC, %eax
        mov $CONFIG_ADDRESS, %dx
        out %eax, %dx
        mov %ecx, %eax
        mov $CONFIG_DATA, %dx
        out %eax, %dx
        ret

fault:  mov $SEL_DATA0, %ax
        mov %ax, %ds
        mov $msg_fault, %esi
        call puts32
        jmp 1f
fail:   cli
        mov $msg_fail, %esi
        call puts32
1:      mov $0x12, %al
        out %al, $0xf4
        hlt

        define_puts32

msg_pm:    .asciz "protected mode\n"
msg_found: .asciz "edu: found, BAR0 placed and enabled\n"
msg_regs:  .asciz "edu: identification, liveness, factorial ok\n"
msg_dma:   .asciz "edu: DMA to the device and back ok\n"
msg_intx:  .asciz "edu: INTx through the PIRQ and the 8259A ok\n"
msg_msi:   .asciz "edu: MSI to the local APIC ok\n"
msg_ok:    .asciz "pciedu: all ok\n"
msg_fail:  .asciz "pciedu: a check failed\n"
msg_fault: .asciz "pciedu: unexpected exception\n"

        .p2align 2
dev:    .long 0
irq:    .long 0
hits:   .long 0

        .p2align 3
gdt:    .quad 0
        .quad 0x00CF9A000000FFFF        # 0x08: flat 32-bit code, ring 0
        .quad 0x00CF92000000FFFF        # 0x10: flat data, ring 0
gdt_end:
gdt_ptr:
        .word gdt_end - gdt - 1
        .long gdt
        .p2align 3
# 96 interrupt gates to `fault` (a 16-bit offset: the guest is below 64 KiB); set_gate
# replaces the ones the test takes.
idt:
        .rept 96
        .word fault, SEL_CODE0, 0x8E00, 0
        .endr
idt_end:
idt_ptr:
        .word idt_end - idt - 1
        .long idt
