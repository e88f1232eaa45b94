# pcihostile: a hostile guest on the PCI bus, from flat 32-bit protected mode. It finds the
# functions of bus 0 through configuration mechanism #1 (0xCF8/0xCFC) and checks the two
# bridges (00:00.0 i440FX 8086:1237, 00:01.0 PIIX3 8086:7000); sizes and moves every BAR
# it finds and reads and writes each one where it put it; then writes pseudo-random
# garbage at every size to every configuration register of every function of bus 0
# (present or not) and to every port of the mechanism, and reads every BAR address any
# function then claims, at every size. The VMM must survive all of it: afterwards the
# bridges must still answer with their IDs, absent functions all ones. Reports on COM1,
# then the debug-exit port: status 0x21 = (0x10 << 1) | 1 when all checks passed, 0x25 =
# (0x12 << 1) | 1 when one failed or an exception came.
        .include "common.inc"
        .set STACK0, 0x7000
        .set SEL_CODE0, 0x08
        .set SEL_DATA0, 0x10
        .set CONFIG_ADDRESS, 0xCF8
        .set CONFIG_DATA, 0xCFC
        .set ROUNDS, 1                  # garbage passes over all of configuration space
        .set BUSES_END, 0x010000        # bus 0 (bus << 16)

        .text
        .globl _start
_start:
        enter_pm32
        mov $msg_pm, %esi
        call puts32

        # The bridges, then nothing at 00:1f.0 or 00:01.1.
        mov $0x80000000, %eax
        call cfg_read
        cmp $0x12378086, %eax
        jne fail
        mov $0x80000800, %eax
        call cfg_read
        cmp $0x70008086, %eax
        jne fail
        mov $0x8000F800, %eax
        call cfg_read
        cmp $0xFFFFFFFF, %eax
        jne fail
        mov $0x80000900, %eax
        call cfg_read
        cmp $0xFFFFFFFF, %eax
        jne fail
        # The PIIX3's PIRQ routes, as the VMM's firmware step leaves them: 10, 10, 11, 11.
        mov $0x80000860, %eax
        call cfg_read
        cmp $0x0B0B0A0A, %eax
        jne fail
        mov $msg_bridges, %esi
        call puts32

        # Every BAR of every function on bus 0: size it, put it back, read and write it.
        xor %ebx, %ebx                  # devfn << 8
bars_next_fn:
        mov %ebx, %eax
        or $0x80000000, %eax
        call cfg_read
        cmp $0xFFFFFFFF, %eax
        je bars_fn_done
        mov $0x10, %edi                 # BAR register
bars_next_bar:
        mov %ebx, %eax
        or $0x80000000, %eax
        or %edi, %eax
        mov %eax, %ebp                  # the BAR's CONFIG_ADDRESS
        call cfg_read
        mov %eax, %esi                  # its value
        mov %ebp, %eax
        mov $0xFFFFFFFF, %ecx
        call cfg_write                  # sizing
        mov %ebp, %eax
        call cfg_read
        mov %eax, %ecx                  # the mask (unused beyond the access below)
        mov %ebp, %eax
        mov %esi, %ecx
        call cfg_write                  # back where it was
        test %esi, %esi
        jz bars_bar_done
        test $1, %esi
        jz bars_mem
        mov %esi, %edx                  # I/O: every size at its first port
        and $0xFFFC, %edx
        in %dx, %al
        in %dx, %ax
        in %dx, %eax
        out %al, %dx
        jmp bars_bar_done
bars_mem:
        mov %esi, %edx
        and $0xFFFFFFF0, %edx
        cmp $0x00100000, %edx           # never RAM: the guest's own code is there
        jb bars_bar_done
        movb (%edx), %al
        movw (%edx), %ax
        movl (%edx), %eax
        movl %eax, 4(%edx)
bars_bar_done:
        add $4, %edi
        cmp $0x28, %edi
        jb bars_next_bar
bars_fn_done:
        add $0x100, %ebx
        cmp $0x10000, %ebx
        jb bars_next_fn
        mov $msg_bars, %esi
        call puts32

        # Garbage: ROUNDS passes; each writes every dword register of every function of
        # bus 0 with a pseudo-random dword, then a byte and a word at a random data
        # port, then a random CONFIG_ADDRESS and a random data port access of each size.
        mov $0x2545F491, %ebp           # xorshift32 state
        mov $ROUNDS, %ecx
garbage_round:
        push %ecx
        xor %ebx, %ebx                  # bus << 16 | devfn << 8 | register
garbage_next:
        mov %ebx, %eax
        or $0x80000000, %eax
        mov $CONFIG_ADDRESS, %dx
        out %eax, %dx
        call random
        mov $CONFIG_DATA, %dx
        out %eax, %dx
        mov %eax, %edi
        and $3, %edi
        lea CONFIG_DATA(%edi), %edx
        out %al, %dx
        in %dx, %al
        mov $CONFIG_DATA + 2, %dx
        shr $8, %eax
        out %ax, %dx
        in %dx, %ax
        mov $CONFIG_DATA + 3, %dx
        out %ax, %dx                    # over the register's end
        in %dx, %eax
        call random                     # the address register itself: anything
        mov $CONFIG_ADDRESS, %dx
        out %al, %dx
        out %ax, %dx
        add $4, %ebx
        cmp $BUSES_END, %ebx
        jb garbage_next
        pop %ecx
        loop garbage_round
        mov $msg_garbage, %esi
        call puts32

        # Whatever BARs now claim: read there, at every size (memory above 1 MiB only, the
        # guest's own code is below; not the ports that report).
        xor %ebx, %ebx                  # devfn << 8
scan_fn:
        mov $0x10, %edi
scan_bar:
        mov %ebx, %eax
        or %edi, %eax
        or $0x80000000, %eax
        call cfg_read
        mov %eax, %esi
        test $1, %esi
        jz scan_mem
        mov %esi, %edx
        and $0xFFFC, %edx
        cmp $0xF4, %dx
        je scan_done
        cmp $0x3F8, %dx
        je scan_done
        in %dx, %al
        in %dx, %eax
        jmp scan_done
scan_mem:
        and $0xFFFFFFF0, %esi
        cmp $0x00100000, %esi
        jb scan_done
        movb (%esi), %al
        movw (%esi), %ax
        movl (%esi), %eax
scan_done:
        add $4, %edi
        cmp $0x28, %edi
        jb scan_bar
        add $0x100, %ebx
        cmp $0x10000, %ebx
        jb scan_fn
        mov $msg_scan, %esi
        call puts32

        # The bridges are still there; an absent function reads all ones.
        mov $0x80000000, %eax
        call cfg_read
        cmp $0x12378086, %eax
        jne fail
        mov $0x80000800, %eax
        call cfg_read
        cmp $0x70008086, %eax
        jne fail
        mov $0x8000F800, %eax
        call cfg_read
        cmp $0xFFFFFFFF, %eax
        jne fail
        mov $msg_ok, %esi
        call puts32
        mov $0x10, %al
        out %al, $0xf4
        hlt

# cfg_read: EAX = CONFIG_ADDRESS -> EAX = the dword (clobbers EDX).
cfg_read:
        mov $CONFIG_ADDRESS, %dx
        out %eax, %dx
        mov $CONFIG_DATA, %dx
        in %dx, %eax
        ret

# cfg_write: EAX = CONFIG_ADDRESS, ECX = the dword (clobbers EAX, EDX).
cfg_write:
        mov $CONFIG_ADDRESS, %dx
        out %eax, %dx
        mov %ecx, %eax
        mov $CONFIG_DATA, %dx
        out %eax, %dx
        ret

# random: the next xorshift32 value of EBP into EBP and EAX.
random:
        mov %ebp, %eax
        shl $13, %eax
        xor %eax, %ebp
        mov %ebp, %eax
        shr $17, %eax
        xor %eax, %ebp
        mov %ebp, %eax
        shl $5, %eax
        xor %eax, %ebp
        mov %ebp, %eax
        ret

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

msg_pm:      .asciz "protected mode\n"
msg_bridges: .asciz "bridges: i440FX at 00:00.0, PIIX3 at 00:01.0\n"
msg_bars:    .asciz "bars: sized, moved back and accessed\n"
msg_garbage: .asciz "garbage: every register of bus 0 written\n"
msg_scan:    .asciz "bars: whatever they claim now accessed\n"
msg_ok:      .asciz "pcihostile: all ok\n"
msg_fail:    .asciz "pcihostile: a value was wrong\n"
msg_fault:   .asciz "pcihostile: unexpected exception\n"

        .p2align 3
gdt:    .quad 0
        .quad 0x00CF9A000000FFFF        # 0x08: flat 32-bit code, ring 0
        .quad 0x00CF92000000FFFF        # 0x10: flat data, ring 0
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
