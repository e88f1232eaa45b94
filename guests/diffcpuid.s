# diffcpuid: a deliberate difference between the kernels, for `scratchvm diff`: it sends
# "a" on COM1 (the same on both), then executes CPUID leaf 0x80000002, the first part of
# the brand string: the host's under KVM ("Intel(R) ..." gives EBX "l(R)"), "ScratchVM
# simulated x86" on the sim kernel (EBX "tchV"; leaf 0's vendor and the hypervisor leaf
# 0x40000000's "KVMKVMKVM" would agree), and sends EBX's first byte and a newline; then it
# halts. diff finds the difference at the second exit, and with --step at the CPUID itself.
        .include "common.inc"
        .text
        .globl _start
_start:
        mov $COM1, %dx
        mov $'a', %al
        out %al, %dx
        mov $0x80000002, %eax
        cpuid
        mov $COM1, %dx
        mov %bl, %al
        out %al, %dx
        mov $'\n', %al
        out %al, %dx
        hlt
