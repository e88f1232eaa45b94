# protmode: enters 32-bit protected mode and exercises segmentation, privilege and tasks,
# reporting each step on COM1 and the result through the debug-exit port (status 0x23 =
# (0x11 << 1) | 1 when every step passed, 0x25 = (0x12 << 1) | 1 when one failed).
#  1. a null selector loaded into FS, then an access through it: #GP(0);
#  2. a not-present descriptor loaded into DS: #NP(selector);
#  3. IRET to ring 3, CLI there with IOPL 0: #GP(0) from ring 3 (the handler returns to
#     ring 3), then INT 0x80 through a DPL-3 interrupt gate: the CPU switches to the ring-0
#     stack of the TSS and pushes ring 3's SS:ESP and CS:EIP;
#  4. CALL to a TSS: a hardware task switch (the new task sees NT and the back link) and
#     its IRET back (SDM Vol. 3A chapters 5-7).
# No paging: linear = physical. Loaded at 0, started at 0000:0000.
        .include "common.inc"
        .set STACK0, 0x7000             # ring-0 stack (TSS.ESP0)
        .set STACK3, 0x6000             # ring-3 stack
        .set TSS1, 0x5000               # the first task's TSS
        .set TSS2, 0x5100               # the task CALLed in step 4
        .set SEL_CODE0, 0x08
        .set SEL_DATA0, 0x10
        .set SEL_CODE3, 0x18
        .set SEL_DATA3, 0x20
        .set SEL_TSS1, 0x28
        .set SEL_TSS2, 0x30
        .set SEL_ABSENT, 0x38
        .text
        .globl _start
_start:
        enter_pm32                      # common.inc: flat 32-bit ring 0, ESP = STACK0
        call build_tables
        mov $SEL_TSS1, %ax
        ltr %ax
        mov $msg_pm, %esi
        call puts32

        # 1. null FS, then an access through it
        movl $step1_done, recover
        xor %eax, %eax
        mov %ax, %fs
        movl %fs:0, %eax
        jmp fail                        # not reached: #GP
step1_done:
        cmpl $13, last_vector
        jne fail
        cmpl $0, last_error
        jne fail
        mov $msg_gp, %esi
        call puts32

        # 2. a not-present data segment
        movl $step2_done, recover
        mov $SEL_ABSENT, %ax
        mov %ax, %ds
        jmp fail
step2_done:
        cmpl $11, last_vector
        jne fail
        cmpl $SEL_ABSENT, last_error
        jne fail
        mov $msg_np, %esi
        call puts32

        # 3. ring 3: IRET there
        movl $ring3_after_cli, recover
        pushl $SEL_DATA3 | 3
        pushl $STACK3
        pushl $0x002                    # IOPL 0, IF 0
        pushl $SEL_CODE3 | 3
        pushl $ring3
        iret
ring3:
        cli                             # CPL 3 > IOPL 0: #GP(0)
        jmp ring3                       # not reached
ring3_after_cli:
        int $0x80                       # to int80 at ring 0
        jmp ring3_after_cli             # not reached

int80:  # ring 0 again, on the TSS's stack: EIP, CS, EFLAGS, ESP, SS of ring 3
        mov $SEL_DATA0, %ax
        mov %ax, %ds
        cmpl $13, last_vector           # the CLI fault came from ring 3
        jne fail
        cmpl $SEL_CODE3 | 3, last_cs
        jne fail
        cmpl $ring3_after_cli + 2, 0(%esp)
        jne fail
        cmpl $SEL_CODE3 | 3, 4(%esp)
        jne fail
        cmpl $STACK3, 12(%esp)
        jne fail
        cmpl $SEL_DATA3 | 3, 16(%esp)
        jne fail
        cmp $STACK0 - 20, %esp
        jne fail
        mov %cs, %ax
        cmp $SEL_CODE0, %ax
        jne fail
        mov $STACK0, %esp
        mov $msg_ring3, %esi
        call puts32

        # 4. a task switch by CALL, and back by IRET
        mov $0x1111, %eax
        lcall $SEL_TSS2, $0
        cmp $0x1111, %eax               # the first task's registers came back
        jne fail
        cmpl $0x2222, task2_ran
        jne fail
        str %ax
        cmp $SEL_TSS1, %ax
        jne fail
        mov $msg_task, %esi
        call puts32

        mov $msg_ok, %esi
        call puts32
        mov $0x11, %al
        out %al, $DEBUG_EXIT
        hlt

task2:  # the second task: NT set, back link = the first task
        pushf
        pop %eax
        test $0x4000, %eax
        jz fail
        movzwl TSS2, %eax
        cmp $SEL_TSS1, %eax
        jne fail
        movl $0x2222, task2_ran
        iret                            # back to the first task
        jmp fail

fail:
        mov $SEL_DATA0, %ax
        mov %ax, %ds
        mov %ax, %ss
        mov $STACK0, %esp
        mov $msg_fail, %esi
        call puts32
        mov $0x12, %al
        out %al, $DEBUG_EXIT
        hlt

# Exceptions 11 and 13 (with an error code): record vector, error code and the faulting
# CS, then return to `recover` (in the faulting ring: IRET keeps the saved CS).
exc11:  pushl $11
        jmp exc_common
exc13:  pushl $13
exc_common:
        push %eax
        mov %ds, %ax
        push %eax
        mov $SEL_DATA0, %ax
        mov %ax, %ds
        mov 8(%esp), %eax
        mov %eax, last_vector
        mov 12(%esp), %eax
        mov %eax, last_error
        mov 20(%esp), %eax
        mov %eax, last_cs
        mov recover, %eax
        mov %eax, 16(%esp)              # the return EIP
        pop %eax
        cmpl $SEL_CODE3 | 3, last_cs
        jne 1f
        mov $SEL_DATA3 | 3, %eax        # back to ring 3: its data segment
1:      mov %ax, %ds
        pop %eax
        add $8, %esp                    # vector, error code
        iret

# The IDT (vectors 0-0x80: 11, 13 and 0x80 present) and the two TSSs.
build_tables:
        mov $idt, %edi
        mov $exc11, %eax
        mov $11, %ebx
        mov $0x8E00, %edx               # present, DPL 0, 32-bit interrupt gate
        call set_gate
        mov $exc13, %eax
        mov $13, %ebx
        call set_gate
        mov $int80, %eax
        mov $0x80, %ebx
        mov $0xEE00, %edx               # DPL 3
        call set_gate
        movl $STACK0, TSS1 + 4          # ESP0
        movl $SEL_DATA0, TSS1 + 8       # SS0
        movw $0x68, TSS1 + 0x66         # no I/O bitmap (past the limit)
        movl $task2, TSS2 + 0x20        # EIP
        movl $0x2, TSS2 + 0x24          # EFLAGS
        movl $STACK0 - 0x800, TSS2 + 0x38   # ESP
        movl $SEL_DATA0, TSS2 + 0x48    # ES
        movl $SEL_CODE0, TSS2 + 0x4C    # CS
        movl $SEL_DATA0, TSS2 + 0x50    # SS
        movl $SEL_DATA0, TSS2 + 0x54    # DS
        movl $SEL_DATA0, TSS2 + 0x58    # FS
        movl $SEL_DATA0, TSS2 + 0x5C    # GS
        ret

# set_gate: IDT entry EBX -> CS 0x08 : EAX, type/attributes in DX.
set_gate:
        mov %ax, (%edi,%ebx,8)
        movw $SEL_CODE0, 2(%edi,%ebx,8)
        mov %dx, 4(%edi,%ebx,8)
        shr $16, %eax
        mov %ax, 6(%edi,%ebx,8)
        ret

        define_puts32               # common.inc: DS:ESI -> COM1

        .balign 8
gdt:    .quad 0
        .quad 0x00CF9A000000FFFF        # 0x08 ring-0 code, flat 32-bit
        .quad 0x00CF92000000FFFF        # 0x10 ring-0 data
        .quad 0x00CFFA000000FFFF        # 0x18 ring-3 code
        .quad 0x00CFF2000000FFFF        # 0x20 ring-3 data
        .quad 0x0000890050000067        # 0x28 32-bit TSS at 0x5000
        .quad 0x0000890051000067        # 0x30 32-bit TSS at 0x5100
        .quad 0x00CF12000000FFFF        # 0x38 data, not present
gdt_end:
gdt_ptr:
        .word gdt_end - gdt - 1
        .long gdt
idt_ptr:
        .word 0x81 * 8 - 1
        .long idt
recover:     .long 0
last_vector: .long 0
last_error:  .long 0
last_cs:     .long 0
task2_ran:   .long 0
msg_pm:    .asciz "protected mode\n"
msg_gp:    .asciz "#GP(0) on a null FS\n"
msg_np:    .asciz "#NP(0x38) on a not-present DS\n"
msg_ring3: .asciz "ring 3: CLI #GP, INT 0x80 switched to the ring-0 stack\n"
msg_task:  .asciz "task switch: CALL to a TSS and IRET back\n"
msg_ok:    .asciz "protmode: all ok\n"
msg_fail:  .asciz "protmode: FAIL\n"
        .balign 8
idt:    .fill 0x81 * 8, 1, 0
