# (p) page tables: 32-bit protected mode with 2-level paging (4 KiB pages, identity map
# of 0-4 MiB). Per iteration: a store to each of 512 pages (1-3 MiB: twice the TLB's 256
# entries, so every store misses the interpreter's TLB and walks), a MOV to CR3 (a TLB
# flush), then INVLPG and a load on 64 of those pages.
        .include "bench.inc"
        .set PD, 0x4000
        .set PT, 0x5000
        bench_header
        bench_gdt
.Lbench_start:
        bench_enter_pm32
        mov %ecx, %ebp
        xor %ecx, %ecx
1:      mov %ecx, %eax                  # PTE i = i << 12 | P | RW
        shl $12, %eax
        or $3, %eax
        mov %eax, PT(,%ecx,4)
        inc %ecx
        cmp $1024, %ecx
        jne 1b
        movl $PT | 3, PD
        mov $PD, %eax
        mov %eax, %cr3
        mov %cr0, %eax
        or $0x80000000, %eax            # CR0.PG
        mov %eax, %cr0
        jmp 2f
2:      xor %edx, %edx
3:      mov $0x100000, %edi
        mov $512, %ecx
4:      mov %ebp, (%edi)                # a store to a new page
        add $4096, %edi
        dec %ecx
        jnz 4b                          # 4 x 512
        mov $PD, %eax
        mov %eax, %cr3
        mov $0x100000, %edi
        mov $64, %ecx
5:      invlpg (%edi)
        add (%edi), %edx
        add $8192, %edi
        dec %ecx
        jnz 5b                          # 5 x 64
        dec %ebp
        jnz 3b                          # per iteration: 2 + 2048 + 4 + 320 + 2
        hlt
