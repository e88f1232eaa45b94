# diffcpuid: a deliberate difference between the kernels, for `scratchvm diff`: it sends
# "a" on COM1 (the same on both), then executes CPUID leaf 0, whose vendor string is the
# host CPU's under KVM and "ScratchVMsim" on the sim kernel, and sends the vendor's first
# byte and a newline; then it halts. diff finds the difference at the second exit, and
# with --step at the CPUID itself.
        .include "common.inc"
        .text
        .globl _start
_start:
        mov $COM1, %dx
        mov $'a', %al
        out %al, %dx
        xor %eax, %eax
        cpuid
        mov $COM1, %dx
        mov %bl, %al
        out %al, %dx
        mov $'\n', %al
        out %al, %dx
        hlt
