# (p) ALU: 32-bit protected mode (flat, ring 0), registers only (11 per iteration).
        .include "bench.inc"
        bench_header
        bench_gdt
.Lbench_start:
        bench_enter_pm32
        mov $0x01234567, %eax
        mov $0x89abcdef, %ebx
        mov $0x0f1e2d3c, %edx
        mov $0x4b5a6978, %esi
        mov $0x8796a5b4, %edi
        mov $0xc3d2e1f0, %ebp
1:      add %ebx, %eax
        sub %eax, %edx
        xor %edx, %esi
        inc %edi
        add %eax, %ebp
        sub %esi, %ebx
        xor %ebp, %edx
        dec %edi
        cmp %eax, %ebp
        dec %ecx
        jnz 1b
        hlt
