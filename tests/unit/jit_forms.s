# The program of test_jit.c's test_inline_forms_match_handlers (GNU as --32).
.code16
    movw $64, 0x5000
    movw $0x2000, %si
1:  movw (%si), %ax
    movzbl %al, %ebx
    movsbl %ah, %edx
    movzbw %ah, %bp
    movswl (%si), %edi
    movzbl 1(%si), %ebp
    movsbw 3(%si), %ax
    movzwl 4(%si), %ecx
    shll $5, %ebx
    setc %cl
    pushf
    shrw $1, %dx
    pushf
    sarb $3, %ah
    pushf
    shrl $31, %edi
    pushf
    shlb $7, %al
    pushf
    shlb $9, %al
    pushf
    sarl $1, %edx
    seto %ch
    pushf
    shlw $2, %bp
    jc 2f
    incw %bx
2:  shlw $1, %bx
    pushf
    setl %cl
    sete %ch
    cmovgl %edi, %eax
    cmovbw %bp, %bx
    cmovnel %ecx, %edx
    pushf
    incb 5(%si)
    pushf
    decl 8(%si)
    pushf
    incw 10(%si)
    stc
    incw 12(%si)
    pushf
    cmovgew 2(%si), %dx
    cmovbl 4(%si), %ebx
    setnz 6(%si)
    setc 7(%si)
    pushf
    addb %dl, 9(%si)
    pushf
    subl %ebx, 10(%si)
    pushf
    adcw %bp, 12(%si)
    pushf
    sbbb %ch, 13(%si)
    pushf
    xorw %bx, 14(%si)
    pushf
    cmpl %edx, (%si)
    pushf
    orb $0x41, 15(%si)
    pushf
    andw $0xFFF3, 16(%si)
    pushf
    stc
    sbbl $-7, 18(%si)
    pushf
    cmpw $0x1234, 20(%si)
    pushf
    testb %al, 21(%si)
    pushf
    testl %edx, 22(%si)
    pushf
    testw $0x8001, 24(%si)
    pushf
    testb $0x80, 25(%si)
    pushf
    movb 0x2003, %al
    addl %eax, %edx
    movw 0x2005, %ax
    addl %eax, %edx
    movl 0x2007, %eax
    addl %eax, %edx
    movb %dl, 0x2100
    movw %dx, 0x2102
    movl %edx, 0x2104
    addw $3, %si
    decw 0x5000
    jnz 1b
    hlt
