# exitcode: writes AL to QEMU's isa-debug-exit port 0xF4; the VMM then exits with status
# (AL << 1) | 1. With RAX 0 at the start (no --reg) it writes 0x10: status 33.
#   scratchvm run --reg rax=0x2a build/guests/exitcode.bin     exits with 85
        .include "common.inc"
        .text
        .globl _start
_start:
        test %eax, %eax
        jnz 1f
        mov $0x10, %al          # the default value
1:      out %al, $DEBUG_EXIT
        hlt                     # not reached: the write ends the VM
