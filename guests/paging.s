# paging: enters 32-bit protected mode, turns on 2-level paging (CR0.PG with CR0.WP) and
# takes page faults that its #PF handler repairs, reporting each step on COM1 and the
# result through the debug-exit port (status 0x23 = (0x11 << 1) | 1 when every step
# passed, 0x25 = (0x12 << 1) | 1 when one failed):
#  1. a read of a page that is not present: #PF with CR2 = the address and error code 0;
#     the handler sets P and runs INVLPG, the read is retried and sees the page's bytes;
#  2. a supervisor write to a read-only page with CR0.WP = 1: #PF error code 3 (P | W);
#     the handler sets R/W, the retried write lands;
#  3. accessed and dirty bits: the read page has A and not D, the written page A and D;
#  4. a 4 MiB page (CR4.PSE) at 8 MiB mapping physical 0: the same bytes as at 0;
#  5. PAE paging with EFER.NXE: a CALL to a page whose PTE has XD is #PF error code 0x11
#     (P | I/D) with CR2 = the target; the handler clears XD and the CALL is retried.
# SDM Vol. 3A chapter 4. Loaded at 0, started at 0000:0000.
        .include "common.inc"
        .set STACK0, 0x7000
        .set PD, 0x10000                # page directory
        .set PT, 0x11000                # page table of 0-4 MiB (identity)
        .set ABSENT, 0x40000            # step 1: not present at first
        .set RDONLY, 0x41000            # step 2: read-only at first
        .set PDPT, 0x12000              # PAE: page-directory-pointer table
        .set PAE_PD, 0x13000
        .set PAE_PT, 0x14000            # 0-2 MiB by 4 KiB pages
        .set NOEXEC, 0x42000            # step 5: XD at first
        .set SEL_CODE0, 0x08
        .set SEL_DATA0, 0x10
        .text
        .globl _start
_start:
        enter_pm32                      # common.inc: flat 32-bit ring 0, ESP = STACK0
        # the #PF gate (vector 14): present, DPL 0, 32-bit interrupt gate
        mov $exc14, %eax
        mov %ax, idt + 14 * 8
        movw $SEL_CODE0, idt + 14 * 8 + 2
        movw $0x8E00, idt + 14 * 8 + 4
        shr $16, %eax
        mov %ax, idt + 14 * 8 + 6
        # identity page table for 0-4 MiB: present, writable, supervisor
        xor %ecx, %ecx
1:      mov %ecx, %eax
        shl $12, %eax
        or $3, %eax
        mov %eax, PT(,%ecx,4)
        inc %ecx
        cmp $1024, %ecx
        jne 1b
        andl $~1, PT + (ABSENT >> 12) * 4       # not present
        andl $~2, PT + (RDONLY >> 12) * 4       # read-only
        movl $PT | 3, PD
        movl $0x00000083, PD + 2 * 4            # 8 MiB: 4 MiB page of physical 0 (PS)
        movl $0x5A5A1234, ABSENT                # the bytes step 1 must read
        mov $PD, %eax
        mov %eax, %cr3
        mov %cr4, %eax
        or $0x10, %eax                          # CR4.PSE
        mov %eax, %cr4
        mov %cr0, %eax
        or $0x80010000, %eax                    # CR0.PG | CR0.WP
        mov %eax, %cr0
        jmp 2f
2:      mov $msg_pg, %esi
        call puts32

        # 1. a read of a page that is not present
        mov ABSENT, %eax
        cmp $0x5A5A1234, %eax
        jne fail
        cmpl $1, pf_count
        jne fail
        cmpl $ABSENT, last_cr2
        jne fail
        cmpl $0, last_error
        jne fail
        mov $msg_np, %esi
        call puts32

        # 2. a write to a read-only page (CR0.WP)
        movl $0xC0FFEE, RDONLY + 8
        cmpl $0xC0FFEE, RDONLY + 8
        jne fail
        cmpl $2, pf_count
        jne fail
        cmpl $RDONLY + 8, last_cr2
        jne fail
        cmpl $3, last_error
        jne fail
        mov $msg_wp, %esi
        call puts32

        # 3. accessed and dirty bits
        mov PT + (ABSENT >> 12) * 4, %eax
        and $0x60, %eax
        cmp $0x20, %eax                         # A, not D
        jne fail
        mov PT + (RDONLY >> 12) * 4, %eax
        and $0x60, %eax
        cmp $0x60, %eax                         # A and D
        jne fail
        testl $0x20, PD                         # the PDE was used: A
        jz fail
        mov $msg_ad, %esi
        call puts32

        # 4. the 4 MiB page
        mov 0x800000 + ABSENT, %eax
        cmp $0x5A5A1234, %eax
        jne fail
        mov $msg_pse, %esi
        call puts32

        # 5. PAE with execute-disable: paging off, PAE tables, EFER.NXE, paging on
        mov %cr0, %eax
        and $0x7FFFFFFF, %eax
        mov %eax, %cr0
        xor %ecx, %ecx
1:      mov %ecx, %eax
        shl $12, %eax
        or $3, %eax
        mov %eax, PAE_PT(,%ecx,8)
        movl $0, PAE_PT + 4(,%ecx,8)
        inc %ecx
        cmp $512, %ecx
        jne 1b
        orl $0x80000000, PAE_PT + (NOEXEC >> 12) * 8 + 4   # XD
        movb $0xC3, NOEXEC                       # ret
        movl $PAE_PT | 3, PAE_PD
        movl $0x200000 | 0x83, PAE_PD + 8        # 2-4 MiB: a 2 MiB page
        movl $PAE_PD | 1, PDPT
        movl $1, pae_mode
        mov $0xC0000080, %ecx                    # IA32_EFER
        rdmsr
        or $0x800, %eax                          # NXE
        wrmsr
        mov %cr4, %eax
        or $0x20, %eax                           # CR4.PAE
        mov %eax, %cr4
        mov $PDPT, %eax
        mov %eax, %cr3
        mov %cr0, %eax
        or $0x80000000, %eax
        mov %eax, %cr0
        jmp 2f
2:      call NOEXEC
        cmpl $3, pf_count
        jne fail
        cmpl $NOEXEC, last_cr2
        jne fail
        cmpl $0x11, last_error
        jne fail
        mov $msg_nx, %esi
        call puts32

        mov $msg_ok, %esi
        call puts32
        mov $0x11, %al
        out %al, $DEBUG_EXIT
        hlt

fail:
        mov $msg_fail, %esi
        call puts32
        mov $0x12, %al
        out %al, $DEBUG_EXIT
        hlt

# #PF: records CR2 and the error code, makes the PTE present and writable (PAE: clears
# XD), INVLPG, and returns to the faulting instruction, which runs again.
exc14:
        push %eax
        push %ebx
        mov %cr2, %eax
        mov %eax, last_cr2
        mov 8(%esp), %ebx                       # the error code
        mov %ebx, last_error
        incl pf_count
        cmpl $4, pf_count                       # a fault loop: give up
        jae fail
        shr $12, %eax
        cmpl $0, pae_mode
        jne 1f
        cmp $1024, %eax
        jae fail
        orl $3, PT(,%eax,4)
        jmp 2f
1:      cmp $512, %eax                          # PAE: clear XD of the 8-byte PTE
        jae fail
        andl $0x7FFFFFFF, PAE_PT + 4(,%eax,8)
2:      mov last_cr2, %eax
        invlpg (%eax)
        pop %ebx
        pop %eax
        add $4, %esp                            # the error code
        iret

        define_puts32               # common.inc: DS:ESI -> COM1

        .balign 8
gdt:    .quad 0
        .quad 0x00CF9A000000FFFF        # 0x08 ring-0 code, flat 32-bit
        .quad 0x00CF92000000FFFF        # 0x10 ring-0 data
gdt_end:
gdt_ptr:
        .word gdt_end - gdt - 1
        .long gdt
idt_ptr:
        .word 15 * 8 - 1
        .long idt
pf_count:   .long 0
last_cr2:   .long 0
last_error: .long 0
pae_mode:   .long 0
msg_pg:   .asciz "paging on\n"
msg_np:   .asciz "#PF(0) on a page not present, CR2 ok, retried after INVLPG\n"
msg_wp:   .asciz "#PF(3) on a read-only page with CR0.WP\n"
msg_ad:   .asciz "accessed and dirty bits set\n"
msg_pse:  .asciz "4 MiB page\n"
msg_nx:   .asciz "PAE: #PF(0x11) on a fetch from an XD page\n"
msg_ok:   .asciz "paging: all ok\n"
msg_fail: .asciz "paging: FAIL\n"
        .balign 8
idt:    .fill 15 * 8, 1, 0
