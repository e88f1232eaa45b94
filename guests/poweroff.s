# poweroff: powers the machine off as an ACPI OS does after reading \_S5 from the DSDT
# (ACPI 6.5, 7.4.2 and 4.8.3.2.1): SLP_TYP of S5 (0 on this PIIX4-like machine) with SLP_EN
# in PM1a_CNT at port 0x604 (the FADT's PM1a_CNT_BLK). The VMM ends with status 0. Were the
# write ignored, the debug-exit port would end it with status 3.
#   scratchvm run build/guests/poweroff.bin          prints "S5" and exits with 0
        .include "common.inc"
        .set PM1A_CNT, 0x604
        .set SLP_EN, 0x2000
        .text
        .globl _start
_start:
        xor %ax, %ax
        mov %ax, %ds
        mov %ax, %ss
        mov $0x7000, %sp
        puts msg
        mov $PM1A_CNT, %dx
        mov $SLP_EN, %ax        # SLP_TYP 0 (S5) | SLP_EN
        out %ax, %dx
        mov $1, %al
        out %al, $DEBUG_EXIT    # not reached
        hlt
        define_serial_puts
msg:    .asciz "S5\n"
