# (p) branchy: 32-bit protected mode, Jcc both ways on a pseudo-random value (each
# diamond is 3 instructions whichever way it goes) and near CALL/RET two levels deep (the
# same instruction count on every path: 24 per iteration).
        .include "bench.inc"
        bench_header
        bench_gdt
.Lbench_start:
        bench_enter_pm32
        mov $0x12345678, %eax
        xor %ebx, %ebx
        xor %edx, %edx
1:      imul $1103515245, %eax, %eax    # EAX = EAX * 1103515245 + 12345 (mod 2^32)
        add $12345, %eax
        test $0x100, %eax
        jz 2f
        inc %ebx
        jmp 3f
2:      dec %ebx
        jmp 3f
3:      test $0x40000, %eax
        jnz 4f
        add %eax, %edx
        jmp 5f
4:      sub %eax, %edx
        jmp 5f
5:      cmp $0x80000000, %eax
        jb 6f
        call f1
        jmp 7f
6:      call f2
        jmp 7f
7:      dec %ecx
        jnz 1b
        jmp 9f
f1:     push %eax
        xor %eax, %edx
        call g
        pop %eax
        ret
f2:     push %eax
        sub %eax, %edx
        call g
        pop %eax
        ret
g:      rol $3, %edx
        xor %ecx, %ebx
        ret
9:      hlt
