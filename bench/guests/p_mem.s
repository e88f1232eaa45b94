# (p) memory: 32-bit protected mode, dword loads and stores over 4 KiB at 0x10000 and
# 0x20000, then REP MOVSD of 4 KiB, REP STOSD of 2 KiB and REP MOVSB of 1 KiB.
        .include "bench.inc"
        bench_header
        bench_gdt
.Lbench_start:
        bench_enter_pm32
        mov %ecx, %ebp
        cld
        xor %edx, %edx
1:      mov $0x10000, %esi
        mov $0x20000, %edi
        mov $512, %ebx
2:      mov (%esi), %eax                # load
        add %eax, %edx
        mov %edx, (%edi)                # store
        mov 4(%edi), %eax               # load
        inc %eax
        mov %eax, 4(%esi)               # store
        add $8, %esi
        add $8, %edi
        dec %ebx
        jnz 2b                          # 10 x 512
        mov $0x10000, %esi
        mov $0x20000, %edi
        mov $1024, %ecx
        rep movsl                       # 1024 dwords
        mov %edx, %eax
        mov $512, %ecx
        rep stosl                       # 512 dwords
        mov $0x10000, %esi
        mov $1024, %ecx
        rep movsb                       # 1024 bytes
        dec %ebp
        jnz 1b                          # per iteration: 3 + 5120 + 12
        hlt
