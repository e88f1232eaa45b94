# virtio: drives a virtio-blk-pci and a virtio-rng-pci (run with -drive
# file=IMG,if=virtio,format=raw -device virtio-rng-pci) as a virtio 1.0 driver does, from
# flat 32-bit protected mode: finds each on bus 0, walks its vendor capabilities to the
# common, notify, ISR and device configuration structures in its memory BAR, negotiates
# VERSION_1 and INDIRECT_DESC (FEATURES_OK), sets up queue 0 (8 entries, split ring) and goes DRIVER_OK.
# blk: reads the capacity, then in one kick: writes sector 1 (512 bytes of 0xA5 ^ i),
# reads sectors 0-1 back through an indirect table, flushes, and asks GET_ID; polls the
# used ring until the I/O thread has returned all four, checks each status, the data
# (sector 0 starts with "SCRATCHVM" as the test writes the image) and that the ISR says
# "queue" (INTx, MSI-X being off). rng: one 64-byte buffer, filled. Reports on COM1, then
# the debug-exit port: status 0x21 = (0x10 << 1) | 1 when all checks passed, 0x25 when
# one failed or an exception came.
        .include "common.inc"
        .set STACK0, 0x7000
        .set SEL_CODE0, 0x08
        .set SEL_DATA0, 0x10
        .set CONFIG_ADDRESS, 0xCF8
        .set CONFIG_DATA, 0xCFC
        .set DESC, 0x10000              # queue 0: 8 descriptors
        .set AVAIL, 0x11000
        .set USED, 0x12000
        .set HDRS, 0x13000              # request headers, 16 bytes each
        .set STATUS, 0x13100            # status bytes
        .set INDIRECT, 0x13200          # the read's indirect table
        .set WBUF, 0x14000              # sector 1's new bytes
        .set RBUF, 0x15000              # sectors 0-1 read back
        .set IDBUF, 0x16000             # GET_ID's 20 bytes
        .set RNGBUF, 0x17000
        .set WAIT_LOOPS, 0x4000000
        # struct virtio_pci_common_cfg
        .set CC_DFSELECT, 0x00
        .set CC_DF, 0x04
        .set CC_GFSELECT, 0x08
        .set CC_GF, 0x0C
        .set CC_NUMQ, 0x12
        .set CC_STATUS, 0x14
        .set CC_QSELECT, 0x16
        .set CC_QSIZE, 0x18
        .set CC_QENABLE, 0x1C
        .set CC_QNOTIFYOFF, 0x1E
        .set CC_QDESC, 0x20
        .set CC_QDRIVER, 0x28
        .set CC_QDEVICE, 0x30

        .text
        .globl _start
_start:
        enter_pm32
        mov $msg_pm, %esi
        call puts32

        # ---- virtio-blk ----
        mov $0x10421AF4, %eax
        call find_virtio
        mov $msg_blk_found, %esi
        call puts32
        call bring_up
        mov $msg_blk_up, %esi
        call puts32

        mov devcfg, %eax
        mov (%eax), %ecx                # capacity, in 512-byte sectors (low half)
        cmp $128, %ecx                  # the test's image: 64 KiB
        jne fail
        cmpl $0, 4(%eax)
        jne fail

        # The data: sector 1's bytes, and the headers.
        mov $WBUF, %edi
        xor %ecx, %ecx
1:      mov %cl, %al
        xor $0xA5, %al
        mov %al, (%edi,%ecx)
        inc %ecx
        cmp $512, %ecx
        jb 1b
        movl $1, HDRS + 0x00            # OUT, sector 1
        movl $0, HDRS + 0x04
        movl $1, HDRS + 0x08
        movl $0, HDRS + 0x0C
        movl $0, HDRS + 0x10            # IN, sector 0
        movl $0, HDRS + 0x14
        movl $0, HDRS + 0x18
        movl $0, HDRS + 0x1C
        movl $4, HDRS + 0x20            # FLUSH
        movl $0, HDRS + 0x24
        movl $0, HDRS + 0x28
        movl $0, HDRS + 0x2C
        movl $8, HDRS + 0x30            # GET_ID
        movl $0, HDRS + 0x34
        movl $0, HDRS + 0x38
        movl $0, HDRS + 0x3C
        movl $0xEEEEEEEE, STATUS

        # Descriptors (addr, len, flags NEXT=1 WRITE=2 INDIRECT=4, next): 0-2 the write
        # (header, data, status); 3 the read, through an indirect table of 3; 4-5 the
        # flush; 6-7 GET_ID (header; the 20-byte ID and its status in one buffer).
        mov $DESC, %edi
        mov $HDRS, %eax
        mov $16, %ecx
        mov $1, %edx
        mov $1, %ebx
        call put_desc                   # 0: OUT header -> 1
        mov $WBUF, %eax
        mov $512, %ecx
        mov $1, %edx
        mov $2, %ebx
        call put_desc                   # 1: data -> 2
        mov $STATUS, %eax
        mov $1, %ecx
        mov $2, %edx
        xor %ebx, %ebx
        call put_desc                   # 2: status (writable)
        mov $INDIRECT, %eax
        mov $48, %ecx
        mov $4, %edx
        xor %ebx, %ebx
        call put_desc                   # 3: the read, an indirect table of 3
        mov $HDRS + 0x20, %eax
        mov $16, %ecx
        mov $1, %edx
        mov $5, %ebx
        call put_desc                   # 4: FLUSH header -> 5
        mov $STATUS + 2, %eax
        mov $1, %ecx
        mov $2, %edx
        xor %ebx, %ebx
        call put_desc                   # 5: status
        mov $HDRS + 0x30, %eax
        mov $16, %ecx
        mov $1, %edx
        mov $7, %ebx
        call put_desc                   # 6: GET_ID header -> 7
        mov $IDBUF, %eax
        mov $21, %ecx                   # 20 bytes of ID, then its status byte
        mov $2, %edx
        xor %ebx, %ebx
        call put_desc                   # 7: ID + status
        mov $INDIRECT, %edi
        mov $HDRS + 0x10, %eax
        mov $16, %ecx
        mov $1, %edx
        mov $1, %ebx
        call put_desc                   # i0: IN header -> i1
        mov $RBUF, %eax
        mov $1024, %ecx
        mov $3, %edx
        mov $2, %ebx
        call put_desc                   # i1: sectors 0-1 (writable) -> i2
        mov $STATUS + 1, %eax
        mov $1, %ecx
        mov $2, %edx
        xor %ebx, %ebx
        call put_desc                   # i2: status

        movw $0, AVAIL                  # flags: interrupts wanted
        movw $0, AVAIL + 4              # ring: heads 0, 3, 4, 6
        movw $3, AVAIL + 6
        movw $4, AVAIL + 8
        movw $6, AVAIL + 10
        movw $4, AVAIL + 2              # idx: four requests
        call notify0
        mov $4, %eax
        call wait_used
        mov $msg_blk_done, %esi
        call puts32

        cmpl $0xEE000000, STATUS        # OUT, IN, FLUSH: VIRTIO_BLK_S_OK; byte 3 untouched
        jne fail
        cmpb $0, IDBUF + 20             # GET_ID's status after its 20 bytes
        jne fail
        cmpl $0x41524353, RBUF          # "SCRA": sector 0 as the test wrote it
        jne fail
        mov $WBUF, %esi                 # sector 1: what was written
        mov $RBUF + 512, %edi
        mov $512, %ecx
        repe cmpsb
        jne fail
        cmpl $1025, USED + 4 + 8 + 4    # the read returned 1024 bytes and the status
        jne fail
        mov $IDBUF, %esi                # the serial the test gave: "vd0"
        cmpl $0x00306476, (%esi)
        jne fail
        mov isr, %eax
        movzbl (%eax), %eax             # ISR status: bit 0 "queue", cleared by the read
        test $1, %al
        jz fail
        mov isr, %eax
        movzbl (%eax), %eax
        test %al, %al
        jnz fail
        mov $msg_blk_ok, %esi
        call puts32

        # ---- virtio-rng ----
        mov $0x10441AF4, %eax
        call find_virtio
        call bring_up
        mov $DESC, %edi
        mov $RNGBUF, %eax
        mov $64, %ecx
        mov $2, %edx
        xor %ebx, %ebx
        call put_desc
        movw $0, AVAIL + 4
        movw $1, AVAIL + 2
        call notify0
        mov $1, %eax
        call wait_used
        cmpl $64, USED + 4 + 4          # used[0].len: all 64 bytes
        jne fail
        mov $RNGBUF, %esi               # not all zeros (2^-512 to fail by chance)
        xor %eax, %eax
        mov $16, %ecx
2:      or (%esi), %eax
        add $4, %esi
        loop 2b
        test %eax, %eax
        jz fail
        mov $msg_rng_ok, %esi
        call puts32

        mov $msg_ok, %esi
        call puts32
        mov $0x10, %al
        out %al, $0xf4
        hlt

# find_virtio: EAX = device:vendor -> dev = its CONFIG_ADDRESS, bar = its BAR4 (a 32-bit
# memory BAR, placed and enabled), common/notify/isr/devcfg = its structures (from its
# vendor capabilities), notify_mult. Fails when absent.
find_virtio:
        mov %eax, %edi
        mov $0x80000000, %ebx
1:      mov %ebx, %eax
        call cfg_read
        cmp %edi, %eax
        je 2f
        add $0x800, %ebx
        cmp $0x80010000, %ebx
        jb 1b
        jmp fail
2:      mov %ebx, dev
        lea 0x04(%ebx), %eax
        call cfg_read
        and $6, %eax
        cmp $6, %eax                    # memory and bus master on (the VMM's firmware)
        jne fail
        lea 0x20(%ebx), %eax            # BAR4
        call cfg_read
        test $0xF, %al
        jnz fail
        and $0xFFFFFFF0, %eax
        jz fail
        mov %eax, bar
        movl $0, common
        movl $0, notify
        movl $0, isr
        movl $0, devcfg
        lea 0x34(%ebx), %eax
        call cfg_read
        movzbl %al, %esi                # the first capability
3:      test %esi, %esi
        jz 6f
        lea (%ebx,%esi), %eax
        call cfg_read
        cmp $0x09, %al                  # vendor specific: a virtio structure
        jne 5f
        push %eax
        shr $24, %eax                   # cfg_type
        mov %eax, %ecx
        lea 8(%ebx,%esi), %eax          # offset in the BAR
        call cfg_read
        add bar, %eax
        cmp $1, %ecx
        jne 4f
        mov %eax, common
4:      cmp $2, %ecx
        jne 41f
        mov %eax, notify
        push %eax
        lea 16(%ebx,%esi), %eax         # notify_off_multiplier
        call cfg_read
        mov %eax, notify_mult
        pop %eax
41:     cmp $3, %ecx
        jne 42f
        mov %eax, isr
42:     cmp $4, %ecx
        jne 43f
        mov %eax, devcfg
43:     pop %eax
5:      movzbl %ah, %esi
        jmp 3b
6:      cmpl $0, common
        je fail
        cmpl $0, notify
        je fail
        cmpl $0, isr
        je fail
        ret

# bring_up: reset, ACKNOWLEDGE | DRIVER, VERSION_1 and INDIRECT_DESC, FEATURES_OK (checked), queue 0
# with 8 entries at DESC/AVAIL/USED (the rings cleared), DRIVER_OK.
bring_up:
        mov common, %edi
        movb $0, CC_STATUS(%edi)
        cmpb $0, CC_STATUS(%edi)
        jne fail
        movb $3, CC_STATUS(%edi)
        movl $1, CC_DFSELECT(%edi)
        testl $1, CC_DF(%edi)           # VERSION_1 offered
        jz fail
        movl $1, CC_GFSELECT(%edi)
        movl $1, CC_GF(%edi)
        movl $0, CC_DFSELECT(%edi)
        testl $0x10000000, CC_DF(%edi)  # INDIRECT_DESC offered: the read uses it
        jz fail
        movl $0, CC_GFSELECT(%edi)
        movl $0x10000000, CC_GF(%edi)
        movb $0xB, CC_STATUS(%edi)
        testb $8, CC_STATUS(%edi)       # FEATURES_OK kept: the device accepted
        jz fail
        cmpw $1, CC_NUMQ(%edi)
        jb fail
        push %edi
        mov $DESC, %edi                 # clear the rings
        xor %eax, %eax
        mov $(0x3000 / 4), %ecx
        rep stosl
        pop %edi
        movw $0, CC_QSELECT(%edi)
        cmpw $8, CC_QSIZE(%edi)
        jb fail
        movw $8, CC_QSIZE(%edi)
        movl $DESC, CC_QDESC(%edi)      # 64-bit fields as two 32-bit halves
        movl $0, CC_QDESC + 4(%edi)
        movl $AVAIL, CC_QDRIVER(%edi)
        movl $0, CC_QDRIVER + 4(%edi)
        movl $USED, CC_QDEVICE(%edi)
        movl $0, CC_QDEVICE + 4(%edi)
        movzwl CC_QNOTIFYOFF(%edi), %eax
        imul notify_mult, %eax
        add notify, %eax
        mov %eax, qnotify
        movw $1, CC_QENABLE(%edi)
        movb $0xF, CC_STATUS(%edi)
        testb $4, CC_STATUS(%edi)
        jz fail
        ret

# notify0: queue 0's doorbell.
notify0:
        mov qnotify, %eax
        movw $0, (%eax)
        ret

# wait_used: polls until the used ring's idx is EAX; fails after WAIT_LOOPS.
wait_used:
        mov $WAIT_LOOPS, %ecx
1:      cmpw %ax, USED + 2
        je 2f
        pause
        loop 1b
        jmp fail
2:      ret

# put_desc: writes the descriptor (EAX addr, ECX len, DX flags, BX next) at EDI and
# advances EDI by 16.
put_desc:
        mov %eax, (%edi)
        movl $0, 4(%edi)
        mov %ecx, 8(%edi)
        mov %dx, 12(%edi)
        mov %bx, 14(%edi)
        add $16, %edi
        ret

# cfg_read: EAX = CONFIG_ADDRESS -> EAX = the dword (clobbers EDX).
cfg_read:
        and $0xFFFFFFFC, %eax
        mov $CONFIG_ADDRESS, %dx
        out %eax, %dx
        mov $CONFIG_DATA, %dx
        in %dx, %eax
        ret

fault:  mov $SEL_DATA0, %ax
        mov %ax, %ds
        mov $msg_fault, %esi
        call puts32
        jmp 1f
fail:   cli
        mov $msg_fail, %esi
        call puts32
1:      mov $0x12, %al
        out %al, $0xf4
        hlt

        define_puts32

msg_pm:        .asciz "protected mode\n"
msg_blk_found: .asciz "virtio-blk: found, BAR4 placed, capabilities read\n"
msg_blk_up:    .asciz "virtio-blk: FEATURES_OK, queue 0, DRIVER_OK\n"
msg_blk_done:  .asciz "virtio-blk: four requests returned by the I/O thread\n"
msg_blk_ok:    .asciz "virtio-blk: write, read (indirect), flush, GET_ID, ISR ok\n"
msg_rng_ok:    .asciz "virtio-rng: 64 random bytes\n"
msg_ok:        .asciz "virtio: all ok\n"
msg_fail:      .asciz "virtio: a check failed\n"
msg_fault:     .asciz "virtio: unexpected exception\n"

        .p2align 2
dev:         .long 0
bar:         .long 0
common:      .long 0
notify:      .long 0
notify_mult: .long 0
isr:         .long 0
devcfg:      .long 0
qnotify:     .long 0

        .p2align 3
gdt:    .quad 0
        .quad 0x00CF9A000000FFFF        # 0x08: flat 32-bit code, ring 0
        .quad 0x00CF92000000FFFF        # 0x10: flat data, ring 0
gdt_end:
gdt_ptr:
        .word gdt_end - gdt - 1
        .long gdt
        .p2align 3
# 96 interrupt gates to `fault` (a 16-bit offset: the guest is below 64 KiB).
idt:
        .rept 96
        .word fault, SEL_CODE0, 0x8E00, 0
        .endr
idt_end:
idt_ptr:
        .word idt_end - idt - 1
        .long idt
