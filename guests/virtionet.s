# virtionet: drives a virtio-net-pci on user-mode networking (run with -nic user) as a
# virtio 1.0 driver does, from flat 32-bit protected mode: finds it on bus 0, walks its
# vendor capabilities, negotiates VERSION_1 and MAC (FEATURES_OK), reads the MAC from the
# device configuration (52:54:00:12:34:56, the default), sets up the receive queue (four
# 2 KiB buffers) and the transmit queue, goes DRIVER_OK, sends a DHCP DISCOVER and waits
# for libslirp's OFFER: 10.0.2.15 for our MAC, from the host 10.0.2.2. Reports on COM1,
# then the debug-exit port: status 0x21 = (0x10 << 1) | 1 when all checks passed, 0x25
# when one failed or an exception came.
        .include "common.inc"
        .set STACK0, 0x7000
        .set SEL_CODE0, 0x08
        .set SEL_DATA0, 0x10
        .set CONFIG_ADDRESS, 0xCF8
        .set CONFIG_DATA, 0xCFC
        .set QBASE, 0x10000             # queue q's rings at QBASE + q * 0x4000
        .set QSTRIDE, 0x4000
        .set DESC_OFF, 0x0000           # 8 descriptors
        .set AVAIL_OFF, 0x1000
        .set USED_OFF, 0x2000
        .set RXBUF, 0x20000             # four 2 KiB receive buffers
        .set NET_HDR, 12                # struct virtio_net_hdr (VERSION_1: with num_buffers)
        .set WAIT_LOOPS, 0x4000000
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

        mov $0x10411AF4, %eax
        call find_virtio
        mov common, %edi
        movb $0, CC_STATUS(%edi)
        movb $3, CC_STATUS(%edi)        # ACKNOWLEDGE | DRIVER
        movl $1, CC_DFSELECT(%edi)
        testl $1, CC_DF(%edi)           # VERSION_1
        jz fail
        movl $0, CC_DFSELECT(%edi)
        testl $0x20, CC_DF(%edi)        # VIRTIO_NET_F_MAC
        jz fail
        movl $1, CC_GFSELECT(%edi)
        movl $1, CC_GF(%edi)
        movl $0, CC_GFSELECT(%edi)
        movl $0x20, CC_GF(%edi)
        movb $0xB, CC_STATUS(%edi)
        testb $8, CC_STATUS(%edi)       # FEATURES_OK kept
        jz fail
        cmpw $2, CC_NUMQ(%edi)
        jb fail
        mov devcfg, %eax                # the MAC, and ours in the DISCOVER is the same
        cmpl $0x12005452, (%eax)
        jne fail
        cmpw $0x5634, 4(%eax)
        jne fail
        mov $QBASE, %edi                # clear both queues' rings
        xor %eax, %eax
        mov $(2 * QSTRIDE / 4), %ecx
        rep stosl
        xor %ebx, %ebx
        call setup_queue                # 0: receive
        mov %eax, rx_notify
        mov $1, %ebx
        call setup_queue                # 1: transmit
        mov %eax, tx_notify
        mov common, %edi
        movb $0xF, CC_STATUS(%edi)      # DRIVER_OK
        testb $4, CC_STATUS(%edi)
        jz fail
        mov $msg_up, %esi
        call puts32

        # Four receive buffers, then the kick.
        mov $QBASE + DESC_OFF, %edi
        xor %ecx, %ecx
1:      mov %ecx, %eax
        shl $11, %eax
        add $RXBUF, %eax
        mov %eax, (%edi)
        movl $0, 4(%edi)
        movl $2048, 8(%edi)
        movw $2, 12(%edi)               # device-writable
        movw $0, 14(%edi)
        mov %cx, QBASE + AVAIL_OFF + 4(,%ecx,2)
        add $16, %edi
        inc %ecx
        cmp $4, %ecx
        jb 1b
        movw $4, QBASE + AVAIL_OFF + 2
        mov rx_notify, %eax
        movw $0, (%eax)

        # The DISCOVER: header + frame in one device-readable buffer.
        mov $QBASE + QSTRIDE + DESC_OFF, %edi
        movl $tx_frame, (%edi)
        movl $0, 4(%edi)
        movl $tx_end - tx_frame, 8(%edi)
        movl $0, 12(%edi)
        movw $0, QBASE + QSTRIDE + AVAIL_OFF + 4
        movw $1, QBASE + QSTRIDE + AVAIL_OFF + 2
        mov tx_notify, %eax
        movw $1, (%eax)
        mov $QBASE + QSTRIDE + USED_OFF, %ebx
        mov $1, %eax
        call wait_used                  # the frame went out
        mov $msg_sent, %esi
        call puts32

        mov $QBASE + USED_OFF, %ebx
        mov $1, %eax
        call wait_used                  # a frame came in
        mov QBASE + USED_OFF + 4, %eax  # used[0].id: which buffer
        cmp $4, %eax
        jae fail
        shl $11, %eax
        lea RXBUF + NET_HDR(%eax), %esi # the Ethernet frame
        cmpw $1, RXBUF + 10(%eax)       # num_buffers
        jne fail
        cmpl $0xFFFFFFFF, (%esi)        # to the broadcast (slirp's OFFER) or to our MAC
        je 2f
        cmpl $0x12005452, (%esi)
        jne fail
2:
        cmpw $0x0008, 12(%esi)          # IPv4
        jne fail
        cmpb $17, 14 + 9(%esi)          # UDP
        jne fail
        cmpl $0x0202000A, 14 + 12(%esi) # from 10.0.2.2
        jne fail
        cmpw $0x4400, 14 + 20 + 2(%esi) # to port 68
        jne fail
        cmpb $2, 14 + 28(%esi)          # BOOTREPLY
        jne fail
        cmpl $0x0F02000A, 14 + 28 + 16(%esi)   # yiaddr 10.0.2.15
        jne fail
        mov $msg_offer, %esi
        call puts32

        mov $msg_ok, %esi
        call puts32
        mov $0x10, %al
        out %al, $0xf4
        hlt

# setup_queue: queue EBX with 8 entries at QBASE + EBX * QSTRIDE; EAX = its doorbell.
setup_queue:
        mov common, %edi
        mov %bx, CC_QSELECT(%edi)
        cmpw $8, CC_QSIZE(%edi)
        jb fail
        movw $8, CC_QSIZE(%edi)
        mov %ebx, %eax
        imul $QSTRIDE, %eax
        add $QBASE, %eax
        mov %eax, CC_QDESC(%edi)
        movl $0, CC_QDESC + 4(%edi)
        add $AVAIL_OFF, %eax
        mov %eax, CC_QDRIVER(%edi)
        movl $0, CC_QDRIVER + 4(%edi)
        add $USED_OFF - AVAIL_OFF, %eax
        mov %eax, CC_QDEVICE(%edi)
        movl $0, CC_QDEVICE + 4(%edi)
        movw $1, CC_QENABLE(%edi)
        movzwl CC_QNOTIFYOFF(%edi), %eax
        imul notify_mult, %eax
        add notify, %eax
        ret

# wait_used: polls until the used ring at EBX has idx EAX; fails after WAIT_LOOPS.
wait_used:
        mov $WAIT_LOOPS, %ecx
1:      cmpw %ax, 2(%ebx)
        je 2f
        pause
        loop 1b
        jmp fail
2:      ret

# find_virtio: EAX = device:vendor -> bar (BAR4, a 32-bit memory BAR, placed and
# enabled), common/notify/isr/devcfg (from its vendor capabilities), notify_mult.
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
2:      lea 0x04(%ebx), %eax
        call cfg_read
        and $6, %eax
        cmp $6, %eax
        jne fail
        lea 0x20(%ebx), %eax
        call cfg_read
        test $0xF, %al
        jnz fail
        and $0xFFFFFFF0, %eax
        jz fail
        mov %eax, bar
        lea 0x34(%ebx), %eax
        call cfg_read
        movzbl %al, %esi
3:      test %esi, %esi
        jz 6f
        lea (%ebx,%esi), %eax
        call cfg_read
        cmp $0x09, %al
        jne 5f
        push %eax
        shr $24, %eax
        mov %eax, %ecx
        lea 8(%ebx,%esi), %eax
        call cfg_read
        add bar, %eax
        cmp $1, %ecx
        jne 4f
        mov %eax, common
4:      cmp $2, %ecx
        jne 41f
        mov %eax, notify
        push %eax
        lea 16(%ebx,%esi), %eax
        call cfg_read
        mov %eax, notify_mult
        pop %eax
41:     cmp $4, %ecx
        jne 43f
        mov %eax, devcfg
43:     pop %eax
5:      movzbl %ah, %esi
        jmp 3b
6:      cmpl $0, common
        je fail
        cmpl $0, notify
        je fail
        cmpl $0, devcfg
        je fail
        ret

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

msg_pm:    .asciz "protected mode\n"
msg_up:    .asciz "virtio-net: MAC 52:54:00:12:34:56, two queues, DRIVER_OK\n"
msg_sent:  .asciz "virtio-net: DHCP DISCOVER sent\n"
msg_offer: .asciz "virtio-net: DHCP OFFER of 10.0.2.15 from 10.0.2.2\n"
msg_ok:    .asciz "virtionet: all ok\n"
msg_fail:  .asciz "virtionet: a check failed\n"
msg_fault: .asciz "virtionet: unexpected exception\n"

        .p2align 2
bar:         .long 0
common:      .long 0
notify:      .long 0
notify_mult: .long 0
devcfg:      .long 0
rx_notify:   .long 0
tx_notify:   .long 0

# The DISCOVER as the transmit buffer: the virtio-net header (all zero: no offloads),
# Ethernet to the broadcast, IPv4 0.0.0.0 -> 255.255.255.255 (header checksum 0x79de
# for these fixed fields), UDP 68 -> 67 without a checksum, BOOTP with our MAC and the
# DHCP magic, option 53 (message type) = 1 (DISCOVER), end.
        .p2align 2
tx_frame:
        .fill NET_HDR, 1, 0
        .byte 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x08, 0x00
        .byte 0x45, 0x00, 0x01, 0x10, 0x00, 0x00, 0x00, 0x00, 0x40, 0x11, 0x79, 0xde
        .byte 0, 0, 0, 0, 255, 255, 255, 255
        .byte 0x00, 68, 0x00, 67, 0x00, 0xfc, 0x00, 0x00
        .byte 1, 1, 6, 0, 0x12, 0x34, 0x56, 0x78        # op, htype, hlen, hops, xid
        .fill 20, 1, 0                                  # secs, flags, ciaddr..giaddr
        .byte 0x52, 0x54, 0x00, 0x12, 0x34, 0x56        # chaddr
        .fill 10 + 64 + 128, 1, 0                       # chaddr's rest, sname, file
        .byte 99, 130, 83, 99, 53, 1, 1, 255
tx_end:

        .p2align 3
gdt:    .quad 0
        .quad 0x00CF9A000000FFFF        # 0x08: flat 32-bit code, ring 0
        .quad 0x00CF92000000FFFF        # 0x10: flat data, ring 0
gdt_end:
gdt_ptr:
        .word gdt_end - gdt - 1
        .long gdt
        .p2align 3
idt:
        .rept 96
        .word fault, SEL_CODE0, 0x8E00, 0
        .endr
idt_end:
idt_ptr:
        .word idt_end - idt - 1
        .long idt
