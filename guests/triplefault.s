# triplefault: makes the CPU shut down (a triple fault), which KVM reports as
# KVM_EXIT_SHUTDOWN; the VMM prints the registers and exits with status 10.
# In real mode: an IDT of limit 0 at 0x1000, then int3. Vector 3 is past the limit: #GP;
# vector 13 is past it too: #DF; and vector 8: shutdown (SDM Vol. 2, INT n, real-address
# mode: "IF ((vector_number << 2) + 3) is not within IDT limit THEN #GP").
# Some kernels do not check that limit in real mode (KVM's instruction emulator, which
# runs real mode on hosts without unrestricted guest support, reads the vector anyway).
# So the table behind the limit is filled with a fallback: it says so on COM1 and faults
# in protected mode instead, where every CPU checks the IDT limit.
        .include "common.inc"
        .set IVT, 0x1000                # base of the IDT: clear of the code at 0
        .text
        .globl _start
_start:
        xor %ax, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %ss
        mov $0x7000, %sp
        puts message
        cld
        mov $IVT, %di           # 32 vectors, all 0000:fallback
        mov $32, %cx
1:      mov $fallback, %ax
        stosw
        xor %ax, %ax
        stosw
        loop 1b
        lidt empty_idt
        int3                    # a strict CPU shuts down here

fallback:
        puts no_limit
        cli
        lgdt empty_idt          # GDT and IDT both of limit 0
        lidt empty_idt
        mov %cr0, %eax
        or $1, %eax             # CR0.PE: protected mode, CS still as it was cached
        mov %eax, %cr0
        ud2                     # #UD past the IDT limit: #GP, #DF, shutdown
        puts survived           # not reached
        hlt

        define_serial_puts
empty_idt:
        .word 0                 # limit
        .long IVT               # base
message:
        .asciz "about to triple fault\n"
no_limit:
        .asciz "real-mode IDT limit not enforced here: faulting in protected mode\n"
survived:
        .asciz "FAIL: still running after ud2 with an empty IDT\n"
