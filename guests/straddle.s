# straddle: an instruction whose bytes lie on two linear pages that map to physical pages
# that are not adjacent (issue 24). A multiboot kernel (a.out kludge, linked at 1 MiB):
# `scratchvm run -m 16 -kernel` and `qemu-system-i386 -m 16 -kernel` print the same.
# With 2-level paging, linear 0x400000 maps to physical 0x204000 throughout and holds, at
# 0x400FF0, `jmp 0x400FFE` and at 0x400FFE the first two bytes of `mov $imm32, %eax`; the
# other three and a `ret` are at 0x401000, whose mapping changes from case to case:
#  below:   physical 0x203000, the page below the first (INVLPG after the change);
#  above:   physical 0xA00000, far above (INVLPG);
#  same:    physical 0x204000, the first page itself (a CR3 reload);
#  rewrite: the same mapping, the bytes at 0x401000 written again;
#  back:    physical 0x203000 again, its bytes as the case `below` left them (INVLPG).
# Each case calls 0x400FF0 100 times (so the call is a JMP target in a traced block, in a
# chained and, on sim, a translated block) and prints EAX and the sum of the 100 results,
# then whether both are what the bytes say. Status (0x11 << 1) | 1 = 35 when every case
# is right, (0x12 << 1) | 1 = 37 when one is not (isa-debug-exit, port 0xF4).
        .set COM1, 0x3f8
        .set DEBUG_EXIT, 0xf4
        .set PD, 0x110000
        .set PT0, 0x111000              # 0-4 MiB, identity
        .set PT1, 0x112000              # 4-8 MiB: only 0x400000 and 0x401000 present
        .set FIRST, 0x204000            # physical page of linear 0x400000
        .set BELOW, 0x203000
        .set ABOVE, 0xA00000
        .set ENTRY, 0x400FF0
        .set STACK, 0x120000
        .set MB_MAGIC, 0x1BADB002
        .set MB_FLAGS, 0x00010000       # bit 16: the load addresses below are valid
        .text
        .code32
        .globl _start
_start: jmp start
        .align 4
mb_header:
        .long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
        .long mb_header, _start, 0, 0, start   # header, load, load end, bss end, entry

start:  mov $STACK, %esp
        # PT0: identity map of 0-4 MiB; PT1: nothing present yet
        xor %ecx, %ecx
1:      mov %ecx, %eax
        shl $12, %eax
        or $3, %eax
        mov %eax, PT0(,%ecx,4)
        movl $0, PT1(,%ecx,4)
        inc %ecx
        cmp $1024, %ecx
        jne 1b
        mov $PD, %edi
        mov $1024, %ecx
        xor %eax, %eax
        rep stosl
        movl $PT0 | 3, PD
        movl $PT1 | 3, PD + 4
        movl $FIRST | 3, PT1
        movl $BELOW | 3, PT1 + 4
        mov $PD, %eax
        mov %eax, %cr3
        mov %cr0, %eax
        or $0x80000000, %eax            # CR0.PG
        mov %eax, %cr0
        jmp 2f
2:      # the first page's bytes, through the linear mapping
        movw $0x0CEB, ENTRY             # jmp ENTRY + 14
        movw $0x44B8, ENTRY + 14        # mov $0x......44, %eax: opcode and low byte
        xor %ebp, %ebp                  # cases that failed

        mov $c_below, %esi
        movl $0xC3112233, 0x401000      # bytes 33 22 11 of the immediate, ret
        mov $0x11223344, %edi
        call run_case

        movl $ABOVE | 3, PT1 + 4
        invlpg 0x401000
        mov $c_above, %esi
        movl $0xC3445566, 0x401000
        mov $0x44556644, %edi
        call run_case

        movl $FIRST | 3, PT1 + 4
        mov %cr3, %eax
        mov %eax, %cr3
        mov $c_same, %esi
        movl $0xC3778899, 0x401000      # (at physical 0x204000, below the first bytes)
        mov $0x77889944, %edi
        call run_case

        mov $c_rewrite, %esi
        movl $0xC3CCBBAA, 0x401000
        mov $0xCCBBAA44, %edi
        call run_case

        movl $BELOW | 3, PT1 + 4
        invlpg 0x401000
        mov $c_back, %esi
        mov $0x11223344, %edi
        call run_case

        mov $0x11, %al
        test %ebp, %ebp
        jz 3f
        mov $0x12, %al
3:      out %al, $DEBUG_EXIT
        hlt
        jmp 3b

# run_case: prints the name at ESI, calls ENTRY 100 times; prints EAX and the sum, then
# "ok" when they are EDI and 100 * EDI, else "FAIL" (and counts it in EBP).
run_case:
        call puts
        xor %ebx, %ebx
        mov $100, %ecx
1:      mov $ENTRY, %eax
        call *%eax
        add %eax, %ebx
        loop 1b
        push %eax
        call puthex
        mov $s_sum, %esi
        call puts
        mov %ebx, %eax
        call puthex
        pop %eax
        imul $100, %edi, %edx
        cmp %edi, %eax
        jne 2f
        cmp %edx, %ebx
        jne 2f
        mov $s_ok, %esi
        jmp puts
2:      inc %ebp
        mov $s_fail, %esi
        jmp puts

# puts: the NUL-terminated string at ESI to COM1 (clobbers EAX, ESI).
puts:   lodsb
        test %al, %al
        jz 1f
        call putc
        jmp puts
1:      ret

# puthex: EAX as 8 hex digits (clobbers EAX).
puthex: push %ecx
        push %edx
        mov %eax, %edx
        mov $8, %ecx
1:      rol $4, %edx
        mov %dl, %al
        and $0xF, %al
        add $'0', %al
        cmp $'9', %al
        jbe 2f
        add $'a' - '9' - 1, %al
2:      call putc
        loop 1b
        pop %edx
        pop %ecx
        ret

# putc: AL to COM1 once the transmitter holds nothing (LSR.THRE).
putc:   push %edx
        push %eax
        mov $COM1 + 5, %dx
1:      in %dx, %al
        test $0x20, %al
        jz 1b
        pop %eax
        mov $COM1, %dx
        out %al, %dx
        pop %edx
        ret

c_below:   .asciz "below:   eax="
c_above:   .asciz "above:   eax="
c_same:    .asciz "same:    eax="
c_rewrite: .asciz "rewrite: eax="
c_back:    .asciz "back:    eax="
s_sum:     .asciz " sum="
s_ok:      .asciz " ok\n"
s_fail:    .asciz " FAIL\n"
