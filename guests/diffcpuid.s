# diffcpuid: a deliberate difference between the kernels, for `scratchvm diff`: it sends
# "a" on COM1 (the same on both), then executes CPUID leaf 0x40000000, whose hypervisor
# signature is "KVMKVMKVM" under KVM and "ScratchVMsim" on the sim kernel (leaf 0's vendor
# string would agree on an Intel host), and sends the signature's first byte and a
# newline; then it halts. diff finds the difference at the second exit, and
# with --step at the CPUID itself.
        .include "common.inc"
        .text
        .globl _start
_start:
        mov $COM1, %dx
        mov $'a', %al
        out %al, %dx
        mov $0x40000000, %eax
        cpuid
        mov $COM1, %dx
        mov %bl, %al
        out %al, %dx
        mov $'\n', %al
        out %al, %dx
        hlt
