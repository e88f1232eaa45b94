# (r) memory: real mode, word loads and stores through DS (1000:0000) and ES (2000:0000)
# over 2 KiB of each, then REP MOVSD of 2 KiB, REP MOVSW of 1 KiB and REP MOVSB of 512
# bytes from DS to ES.
        .include "bench.inc"
        bench_header
.Lbench_start:
        mov %cs:count, %ebp
        mov $0x1000, %ax
        mov %ax, %ds
        mov $0x2000, %ax
        mov %ax, %es
        cld
        xor %dx, %dx                    # prologue: 8
1:      xor %si, %si
        xor %di, %di
        mov $512, %bx
2:      mov (%si), %ax                  # load, DS
        add %ax, %dx
        mov %dx, %es:(%di)              # store, ES
        mov %es:2(%di), %ax             # load, ES
        inc %ax
        mov %ax, 2(%si)                 # store, DS
        add $4, %si
        add $4, %di
        dec %bx
        jnz 2b                          # 10 x 512
        xor %si, %si
        xor %di, %di
        mov $512, %cx
        rep movsl                       # 512 dwords
        xor %si, %si
        xor %di, %di
        mov $512, %cx
        rep movsw                       # 512 words
        mov $512, %cx
        rep movsb                       # 512 bytes
        dec %ebp
        jnz 1b                          # per iteration: 3 + 5120 + 12
        hlt
