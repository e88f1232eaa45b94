# (r) ALU: real mode, registers only, 16- and 32-bit operands (11 per iteration).
        .include "bench.inc"
        bench_header
.Lbench_start:
        mov %cs:count, %ecx
        mov $0x01234567, %eax
        mov $0x89abcdef, %ebx
        mov $0x0f1e2d3c, %edx
        mov $0x4b5a6978, %esi
        mov $0x8796a5b4, %edi
        mov $0xc3d2e1f0, %ebp           # prologue: 8 (with the JMP)
1:      add %bx, %ax
        sub %ax, %dx
        xor %dx, %si
        inc %di
        add %eax, %ebp
        sub %esi, %ebx
        xor %ebp, %edx
        dec %edi
        cmp %ax, %bp
        dec %ecx
        jnz 1b
        hlt
