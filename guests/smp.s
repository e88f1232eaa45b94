# smp: every processor of the machine at work, and the memory-model litmus tests.
# The BSP reads the CPU count from fw_cfg (FW_CFG_NB_CPUS), wakes the APs with INIT and
# two Startup IPIs (all-excluding-self, vector 1: the APs start at 0100:0000 = 0x1000 in
# real mode, SDM Vol. 3A, 9.4.4), and each AP goes to 32-bit protected mode on its own
# stack. Then, on every processor at once:
#  locked: ITERS `lock incl` of one counter each: the total must be exact;
#  mp:     message passing: the BSP writes data then flag (MP_ROUNDS rounds), an AP waits for
#          flag and must see the data written before it (TSO keeps stores in order);
#  cx8:    a 64-bit counter incremented ITERS times each with a LOCK CMPXCHG8B loop (the
#          carry into the high half crosses 2^32 on the way): exact;
#  ipi:    the BSP sends AP 1 fixed IPIs (physical destination) one by one, each waiting
#          for its handler; one all-excluding-self IPI reaches every AP; one IPI to the
#          APs' logical flat destinations (LDR bit = APIC ID) reaches those named; an NMI
#          IPI reaches AP 1's NMI handler;
#  xmc:    cross-modifying code: the BSP runs a function often enough to have it decoded
#          (and translated), AP 1 rewrites its immediate, the BSP must run the new one.
# Prints "smp: cpus=N locked=... mp=... cx8=... ipi=... nmi=... xmc=..." on COM1 and writes
# 0x11 to the debug-exit port (status 0x23) when all passed, 0x12 (0x25) otherwise.
        .include "common.inc"
        .set ITERS, 100000
        .set MP_ROUNDS, 200
        .set STACK0, 0x7000             # the BSP's; AP n's: STACK_AP + n * 0x400
        .set STACK_AP, 0x8000
        .set SEL_CODE0, 0x08
        .set SEL_DATA0, 0x10
        .set APIC, 0xfee00000
        .set APIC_ID, APIC + 0x20
        .set APIC_EOI, APIC + 0xb0
        .set APIC_LDR, APIC + 0xd0
        .set APIC_DFR, APIC + 0xe0
        .set APIC_SVR, APIC + 0xf0
        .set APIC_ICR_LO, APIC + 0x300
        .set APIC_ICR_HI, APIC + 0x310
        .set FW_CFG_SEL, 0x510
        .set FW_CFG_DATA, 0x511
        .set VEC_PHYS, 0x40
        .set VEC_ALL, 0x41
        .set VEC_LOGICAL, 0x42
        .set PHYS_IPIS, 50
        .text
        .globl _start
_start:
        enter_pm32
        call build_idt
        lidt idt_ptr
        mov $0xff, %al                  # the 8259A masked: only the APICs interrupt
        out %al, $0x21
        out %al, $0xa1
        movl $0x1ff, APIC_SVR           # APIC on, spurious vector 0xff
        # CPU count from fw_cfg (key 5, 16 bits little-endian)
        mov $FW_CFG_SEL, %dx
        mov $5, %ax
        out %ax, %dx
        mov $FW_CFG_DATA, %dx
        in %dx, %al
        movzbl %al, %ebx
        in %dx, %al
        movzbl %al, %eax
        shl $8, %eax
        or %eax, %ebx
        mov %ebx, ncpus
        # INIT, then two Startup IPIs, to all excluding self (SDM Vol. 3A, 9.4.4.1)
        cmp $1, %ebx
        je 2f
        movl $0x000c4500, APIC_ICR_LO   # INIT, assert, all excluding self
        movl $0x000c4601, APIC_ICR_LO   # Startup, vector 1 (0x1000)
        movl $0x000c4601, APIC_ICR_LO   # the second SIPI: ignored by started APs
1:      mov started, %eax               # wait for every AP
        inc %eax
        cmp ncpus, %eax
        jne 1b
2:      mov $100, %ecx                  # xmc: the function decoded and hot
3:      call xmc_fn
        loop 3b
        movl $1, go                     # all processors start the tests together
        call work
        # mp: the BSP is the writer
        mov $1, %ecx
3:      mov %ecx, mp_data
        mov %ecx, mp_flag
        cmpl $1, ncpus
        je 5f
4:      cmp %ecx, mp_ack                # the AP's answer (so rounds do not overrun)
        jne 4b
5:      inc %ecx
        cmp $MP_ROUNDS, %ecx
        jbe 3b
        # wait for the APs' halves
6:      mov finished, %eax
        inc %eax
        cmp ncpus, %eax
        jne 6b
        call ipis
        # check and report
        mov $msg_cpus, %esi
        call puts32
        mov ncpus, %eax
        call put_dec
        mov $msg_locked, %esi
        call puts32
        mov ncpus, %eax
        imul $ITERS, %eax
        cmp %eax, locked_count
        call verdict
        mov $msg_mp, %esi
        call puts32
        cmpl $0, mp_bad
        call verdict
        mov $msg_cx8, %esi
        call puts32
        mov ncpus, %eax
        imul $ITERS, %eax
        add $0xfffff000, %eax           # the counter starts just below 2^32
        mov $0, %edx
        adc $0, %edx
        cmp %eax, cx8_count
        jne 7f
        cmp %edx, cx8_count + 4
7:      call verdict
        mov $msg_ipi, %esi
        call puts32
        cmpl $0, ipi_bad
        call verdict
        mov $msg_nmi, %esi
        call puts32
        cmpl $0, nmi_bad
        call verdict
        mov $msg_xmc, %esi
        call puts32
        call xmc_fn                     # AP 1 made it return 2 (1 with one CPU)
        mov $1, %edx
        cmpl $2, ncpus
        jb 9f
        mov $2, %edx
9:      cmp %edx, %eax
        call verdict
        mov $msg_nl, %esi
        call puts32
        mov $0x11, %al
        cmpl $0, failures
        je 8f
        mov $0x12, %al
8:      out %al, $DEBUG_EXIT
        cli
        hlt

# xmc_fn: returns its immediate in EAX (AP 1 rewrites it).
xmc_fn:
        mov $1, %eax
        ret

# verdict: ZF set (the flags of the caller's compare) prints "ok", else "FAIL" and counts
# a failure.
verdict:
        mov $msg_ok, %esi
        je 1f
        incl failures
        mov $msg_fail, %esi
1:      call puts32
        ret

# work: this processor's share of the locked and CMPXCHG8B counters (keeps EBX, EDI).
work:
        push %ebx
        push %edi
        mov $ITERS, %ecx
1:      lock incl locked_count
        loop 1b
        mov $ITERS, %ecx
2:      mov cx8_count, %eax             # a torn read is harmless: CMPXCHG8B checks it
        mov cx8_count + 4, %edx
3:      mov %eax, %ebx
        mov %edx, %edi
        add $1, %ebx
        adc $0, %edi
        push %ecx
        mov %edi, %ecx
        lock cmpxchg8b cx8_count        # EDX:EAX reloaded on failure
        pop %ecx
        jne 3b
        loop 2b
        pop %edi
        pop %ebx
        ret

# ipis (BSP): the IPI checks; each AP's handler counts into its slot.
ipis:
        cmpl $2, ncpus
        jb 9f
        # fixed, physical destination 1, one at a time
        mov $1, %ecx
1:      movl $0x01000000, APIC_ICR_HI
        movl $VEC_PHYS, APIC_ICR_LO     # fixed, physical, no shorthand
2:      cmp %ecx, phys_count + 4
        jb 2b
        inc %ecx
        cmp $PHYS_IPIS, %ecx
        jbe 1b
        # all excluding self
        movl $0x000c0000 + VEC_ALL, APIC_ICR_LO
        mov $1, %ebx
3:      cmp ncpus, %ebx
        jae 4f
        cmpl $1, all_count(,%ebx,4)
        jne 3b                          # wait until this AP took it
        inc %ebx
        jmp 3b
4:      # logical flat: the APs set LDR = 1 << id; destination 0xFE names every AP
        movl $0xfe000000, APIC_ICR_HI
        movl $0x800 + VEC_LOGICAL, APIC_ICR_LO
        mov $1, %ebx
5:      cmp ncpus, %ebx
        jae 6f
        cmpl $1, logical_count(,%ebx,4)
        jne 5b
        inc %ebx
        jmp 5b
6:      # NMI to AP 1
        movl $0x01000000, APIC_ICR_HI
        movl $0x400, APIC_ICR_LO        # delivery mode NMI
7:      cmpl $1, nmi_count
        jne 7b
        # the BSP itself received none of them
        cmpl $0, phys_count
        jne 8f
        cmpl $0, all_count
        jne 8f
        cmpl $0, logical_count
        jne 8f
        cmpl $PHYS_IPIS, phys_count + 4
        jne 8f
        ret
8:      movl $1, ipi_bad
9:      ret

# put_dec: EAX in decimal on COM1 (below 10^10; clobbers EAX-EDX, ESI).
put_dec:
        mov $decbuf + 11, %esi
        movb $0, (%esi)
        mov $10, %ebx
1:      xor %edx, %edx
        div %ebx
        add $'0', %dl
        dec %esi
        mov %dl, (%esi)
        test %eax, %eax
        jnz 1b
        call puts32
        ret

        define_puts32

# 32-bit interrupt gates for the IPI vectors and NMI (everything else stays absent).
build_idt:
        mov $nmi_handler, %eax
        mov $2, %ebx
        call set_gate
        mov $phys_handler, %eax
        mov $VEC_PHYS, %ebx
        call set_gate
        mov $all_handler, %eax
        mov $VEC_ALL, %ebx
        call set_gate
        mov $logical_handler, %eax
        mov $VEC_LOGICAL, %ebx
        call set_gate
        ret
set_gate:
        lea idt(,%ebx,8), %edi
        mov %ax, (%edi)
        movw $SEL_CODE0, 2(%edi)
        movw $0x8e00, 4(%edi)           # present, DPL 0, 32-bit interrupt gate
        shr $16, %eax
        mov %ax, 6(%edi)
        ret

# The handlers count in the slot of the processor that took them (APIC ID).
        .macro count_irq table
        push %eax
        mov APIC_ID, %eax
        shr $24, %eax
        lock incl \table(,%eax,4)
        movl $0, APIC_EOI
        pop %eax
        iret
        .endm
phys_handler:
        count_irq phys_count
all_handler:
        count_irq all_count
logical_handler:
        count_irq logical_count
nmi_handler:
        push %eax
        mov APIC_ID, %eax
        shr $24, %eax
        cmp $1, %eax
        je 1f
        movl $1, nmi_bad                # only AP 1 was sent one
1:      lock incl nmi_count
        pop %eax
        iret

# ---- the APs: real mode at 0100:0000 ----
        .code16
        .org 0x1000
ap_start:
        cli
        xor %ax, %ax
        mov %ax, %ds
        lgdtl gdt_ptr
        mov %cr0, %eax
        or $1, %eax
        mov %eax, %cr0
        ljmpl $SEL_CODE0, $ap_pm32
        .code32
ap_pm32:
        mov $SEL_DATA0, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %ss
        mov %ax, %fs
        mov %ax, %gs
        mov APIC_ID, %eax
        shr $24, %eax
        mov %eax, %ebx                  # EBX: this AP's APIC ID
        shl $10, %eax
        lea STACK_AP(%eax), %esp
        lidt idt_ptr
        movl $0x1ff, APIC_SVR
        movl $0xffffffff, APIC_DFR      # flat model
        mov %ebx, %ecx
        mov $1, %eax
        shl %cl, %eax
        shl $24, %eax
        mov %eax, APIC_LDR              # logical ID: bit n for APIC ID n
        lock incl started
1:      cmpl $0, go
        je 1b
        call work
        cmp $1, %ebx                    # AP 1 reads the BSP's messages
        jne 4f
        mov $1, %ecx
2:      cmp %ecx, mp_flag
        jne 2b
        cmp %ecx, mp_data               # the data was stored before the flag
        je 3f
        movl $1, mp_bad
3:      mov %ecx, mp_ack
        inc %ecx
        cmp $MP_ROUNDS, %ecx
        jbe 2b
        movl $2, xmc_fn + 1             # the immediate of the BSP's hot function
4:      lock incl finished
        sti
5:      hlt                             # IPIs from here on
        jmp 5b

        .data
        .p2align 3
gdt:    .quad 0
        .quad 0x00cf9a000000ffff        # 0x08: code, base 0, 4 GiB, 32-bit
        .quad 0x00cf92000000ffff        # 0x10: data
gdt_end:
gdt_ptr:
        .word gdt_end - gdt - 1
        .long gdt
idt_ptr:
        .word 256 * 8 - 1
        .long idt
cx8_count:
        .long 0xfffff000, 0             # just below 2^32: the carry is exercised
ncpus:  .long 0
started: .long 0
finished: .long 0
go:     .long 0
failures: .long 0
locked_count: .long 0
mp_data: .long 0
mp_flag: .long 0
mp_ack: .long 0
mp_bad: .long 0
ipi_bad: .long 0
nmi_bad: .long 0
nmi_count: .long 0
phys_count: .fill 8, 4, 0
all_count: .fill 8, 4, 0
logical_count: .fill 8, 4, 0
decbuf: .fill 12, 1, 0
msg_cpus: .asciz "smp: cpus="
msg_locked: .asciz " locked="
msg_mp: .asciz " mp="
msg_cx8: .asciz " cx8="
msg_ipi: .asciz " ipi="
msg_nmi: .asciz " nmi="
msg_xmc: .asciz " xmc="
msg_ok: .asciz "ok"
msg_fail: .asciz "FAIL"
msg_nl: .asciz "\n"
        .p2align 3
idt:    .fill 256, 8, 0
