# (r) branchy: real mode, Jcc both ways on a pseudo-random value (each diamond is 3
# instructions whichever way it goes) and near CALL/RET two levels deep (the
# same instruction count on every path: 24 per iteration).
        .include "bench.inc"
        bench_header
.Lbench_start:
        mov %cs:count, %ecx
        xor %ax, %ax
        mov %ax, %ss
        mov $0x9000, %sp
        mov $0x1234, %ax
        xor %bx, %bx
        xor %dx, %dx                    # prologue: 8 (with the JMP)
1:      imul $25173, %ax, %ax           # AX = AX * 25173 + 13849 (mod 2^16)
        add $13849, %ax
        test $1, %al
        jz 2f
        inc %bx
        jmp 3f
2:      dec %bx
        jmp 3f
3:      test $4, %ah
        jnz 4f
        add %ax, %dx
        jmp 5f
4:      sub %ax, %dx
        jmp 5f
5:      cmp $0x8000, %ax
        jb 6f
        call f1
        jmp 7f
6:      call f2
        jmp 7f
7:      dec %ecx
        jnz 1b                          # per iteration: 2 + 4 + 4 + 4 + 8 + 2 = 24
        jmp 9f
f1:     push %ax
        xor %ax, %dx
        call g
        pop %ax
        ret                             # f1: 5 + g
f2:     push %ax
        sub %ax, %dx
        call g
        pop %ax
        ret                             # f2: 5 + g
g:      rol $3, %dx
        xor %cx, %bx
        ret                             # g: 3
9:      hlt
