/*
 * The decoder: prefixes, opcode, ModR/M, SIB, displacement and immediates (SDM Vol. 2A,
 * chapter 2 "Instruction Format") into an X86Insn whose handler comes from the one opcode
 * table below (one slot per opcode, and one table for 0F xx).
 */
#include "sim/cpu/cpu_internal.h"

/* The opcode tables: handler and decoder hints per opcode, with the SDM mnemonic. */
static const X86OpInfo x86_optab[256] = {
    /*0x00*/ { op_alu_rm_r, OPF_MODRM },  /* add r/m8, r8 */
    /*0x01*/ { op_alu_rm_r, OPF_MODRM },  /* add r/m, r */
    /*0x02*/ { op_alu_r_rm, OPF_MODRM },  /* add r8, r/m8 */
    /*0x03*/ { op_alu_r_rm, OPF_MODRM },  /* add r, r/m */
    /*0x04*/ { op_alu_acc_imm, OPF_IMM8 },  /* add al, imm8 */
    /*0x05*/ { op_alu_acc_imm, OPF_IMMV },  /* add ax, imm */
    /*0x06*/ { op_push_sreg, 0 },  /* push es */
    /*0x07*/ { op_pop_sreg, 0 },  /* pop es */
    /*0x08*/ { op_alu_rm_r, OPF_MODRM },  /* or r/m8, r8 */
    /*0x09*/ { op_alu_rm_r, OPF_MODRM },  /* or r/m, r */
    /*0x0A*/ { op_alu_r_rm, OPF_MODRM },  /* or r8, r/m8 */
    /*0x0B*/ { op_alu_r_rm, OPF_MODRM },  /* or r, r/m */
    /*0x0C*/ { op_alu_acc_imm, OPF_IMM8 },  /* or al, imm8 */
    /*0x0D*/ { op_alu_acc_imm, OPF_IMMV },  /* or ax, imm */
    /*0x0E*/ { op_push_sreg, 0 },  /* push cs */
    /*0x0F*/ { NULL, 0 },  /* two-byte escape */
    /*0x10*/ { op_alu_rm_r, OPF_MODRM },  /* adc r/m8, r8 */
    /*0x11*/ { op_alu_rm_r, OPF_MODRM },  /* adc r/m, r */
    /*0x12*/ { op_alu_r_rm, OPF_MODRM },  /* adc r8, r/m8 */
    /*0x13*/ { op_alu_r_rm, OPF_MODRM },  /* adc r, r/m */
    /*0x14*/ { op_alu_acc_imm, OPF_IMM8 },  /* adc al, imm8 */
    /*0x15*/ { op_alu_acc_imm, OPF_IMMV },  /* adc ax, imm */
    /*0x16*/ { op_push_sreg, 0 },  /* push ss */
    /*0x17*/ { op_pop_sreg, OPF_END },  /* pop ss */
    /*0x18*/ { op_alu_rm_r, OPF_MODRM },  /* sbb r/m8, r8 */
    /*0x19*/ { op_alu_rm_r, OPF_MODRM },  /* sbb r/m, r */
    /*0x1A*/ { op_alu_r_rm, OPF_MODRM },  /* sbb r8, r/m8 */
    /*0x1B*/ { op_alu_r_rm, OPF_MODRM },  /* sbb r, r/m */
    /*0x1C*/ { op_alu_acc_imm, OPF_IMM8 },  /* sbb al, imm8 */
    /*0x1D*/ { op_alu_acc_imm, OPF_IMMV },  /* sbb ax, imm */
    /*0x1E*/ { op_push_sreg, 0 },  /* push ds */
    /*0x1F*/ { op_pop_sreg, 0 },  /* pop ds */
    /*0x20*/ { op_alu_rm_r, OPF_MODRM },  /* and r/m8, r8 */
    /*0x21*/ { op_alu_rm_r, OPF_MODRM },  /* and r/m, r */
    /*0x22*/ { op_alu_r_rm, OPF_MODRM },  /* and r8, r/m8 */
    /*0x23*/ { op_alu_r_rm, OPF_MODRM },  /* and r, r/m */
    /*0x24*/ { op_alu_acc_imm, OPF_IMM8 },  /* and al, imm8 */
    /*0x25*/ { op_alu_acc_imm, OPF_IMMV },  /* and ax, imm */
    /*0x26*/ { NULL, 0 },  /* prefix es: */
    /*0x27*/ { op_daa, 0 },  /* daa */
    /*0x28*/ { op_alu_rm_r, OPF_MODRM },  /* sub r/m8, r8 */
    /*0x29*/ { op_alu_rm_r, OPF_MODRM },  /* sub r/m, r */
    /*0x2A*/ { op_alu_r_rm, OPF_MODRM },  /* sub r8, r/m8 */
    /*0x2B*/ { op_alu_r_rm, OPF_MODRM },  /* sub r, r/m */
    /*0x2C*/ { op_alu_acc_imm, OPF_IMM8 },  /* sub al, imm8 */
    /*0x2D*/ { op_alu_acc_imm, OPF_IMMV },  /* sub ax, imm */
    /*0x2E*/ { NULL, 0 },  /* prefix cs: */
    /*0x2F*/ { op_das, 0 },  /* das */
    /*0x30*/ { op_alu_rm_r, OPF_MODRM },  /* xor r/m8, r8 */
    /*0x31*/ { op_alu_rm_r, OPF_MODRM },  /* xor r/m, r */
    /*0x32*/ { op_alu_r_rm, OPF_MODRM },  /* xor r8, r/m8 */
    /*0x33*/ { op_alu_r_rm, OPF_MODRM },  /* xor r, r/m */
    /*0x34*/ { op_alu_acc_imm, OPF_IMM8 },  /* xor al, imm8 */
    /*0x35*/ { op_alu_acc_imm, OPF_IMMV },  /* xor ax, imm */
    /*0x36*/ { NULL, 0 },  /* prefix ss: */
    /*0x37*/ { op_aaa, 0 },  /* aaa */
    /*0x38*/ { op_alu_rm_r, OPF_MODRM },  /* cmp r/m8, r8 */
    /*0x39*/ { op_alu_rm_r, OPF_MODRM },  /* cmp r/m, r */
    /*0x3A*/ { op_alu_r_rm, OPF_MODRM },  /* cmp r8, r/m8 */
    /*0x3B*/ { op_alu_r_rm, OPF_MODRM },  /* cmp r, r/m */
    /*0x3C*/ { op_alu_acc_imm, OPF_IMM8 },  /* cmp al, imm8 */
    /*0x3D*/ { op_alu_acc_imm, OPF_IMMV },  /* cmp ax, imm */
    /*0x3E*/ { NULL, 0 },  /* prefix ds: */
    /*0x3F*/ { op_aas, 0 },  /* aas */
    /*0x40*/ { op_inc_r, 0 },  /* inc ax */
    /*0x41*/ { op_inc_r, 0 },  /* inc cx */
    /*0x42*/ { op_inc_r, 0 },  /* inc dx */
    /*0x43*/ { op_inc_r, 0 },  /* inc bx */
    /*0x44*/ { op_inc_r, 0 },  /* inc sp */
    /*0x45*/ { op_inc_r, 0 },  /* inc bp */
    /*0x46*/ { op_inc_r, 0 },  /* inc si */
    /*0x47*/ { op_inc_r, 0 },  /* inc di */
    /*0x48*/ { op_dec_r, 0 },  /* dec ax */
    /*0x49*/ { op_dec_r, 0 },  /* dec cx */
    /*0x4A*/ { op_dec_r, 0 },  /* dec dx */
    /*0x4B*/ { op_dec_r, 0 },  /* dec bx */
    /*0x4C*/ { op_dec_r, 0 },  /* dec sp */
    /*0x4D*/ { op_dec_r, 0 },  /* dec bp */
    /*0x4E*/ { op_dec_r, 0 },  /* dec si */
    /*0x4F*/ { op_dec_r, 0 },  /* dec di */
    /*0x50*/ { op_push_r, 0 },  /* push ax */
    /*0x51*/ { op_push_r, 0 },  /* push cx */
    /*0x52*/ { op_push_r, 0 },  /* push dx */
    /*0x53*/ { op_push_r, 0 },  /* push bx */
    /*0x54*/ { op_push_r, 0 },  /* push sp */
    /*0x55*/ { op_push_r, 0 },  /* push bp */
    /*0x56*/ { op_push_r, 0 },  /* push si */
    /*0x57*/ { op_push_r, 0 },  /* push di */
    /*0x58*/ { op_pop_r, 0 },  /* pop ax */
    /*0x59*/ { op_pop_r, 0 },  /* pop cx */
    /*0x5A*/ { op_pop_r, 0 },  /* pop dx */
    /*0x5B*/ { op_pop_r, 0 },  /* pop bx */
    /*0x5C*/ { op_pop_r, 0 },  /* pop sp */
    /*0x5D*/ { op_pop_r, 0 },  /* pop bp */
    /*0x5E*/ { op_pop_r, 0 },  /* pop si */
    /*0x5F*/ { op_pop_r, 0 },  /* pop di */
    /*0x60*/ { op_pusha, 0 },  /* pusha */
    /*0x61*/ { op_popa, 0 },  /* popa */
    /*0x62*/ { op_bound, OPF_MODRM },  /* bound r, m */
    /*0x63*/ { op_arpl, OPF_MODRM },  /* arpl r/m16, r16 (#UD in real mode) */
    /*0x64*/ { NULL, 0 },  /* prefix fs: */
    /*0x65*/ { NULL, 0 },  /* prefix gs: */
    /*0x66*/ { NULL, 0 },  /* prefix operand size */
    /*0x67*/ { NULL, 0 },  /* prefix address size */
    /*0x68*/ { op_push_imm, OPF_IMMV },  /* push imm */
    /*0x69*/ { op_imul_r_rm_imm, OPF_MODRM | OPF_IMMV },  /* imul r, r/m, imm */
    /*0x6A*/ { op_push_imm, OPF_IMM8 },  /* push imm8 */
    /*0x6B*/ { op_imul_r_rm_imm, OPF_MODRM | OPF_IMM8 },  /* imul r, r/m, imm8 */
    /*0x6C*/ { op_ins, 0 },  /* insb */
    /*0x6D*/ { op_ins, 0 },  /* insw/d */
    /*0x6E*/ { op_outs, 0 },  /* outsb */
    /*0x6F*/ { op_outs, 0 },  /* outsw/d */
    /*0x70*/ { op_jcc, OPF_IMM8 | OPF_REL | OPF_END },  /* jo rel8 */
    /*0x71*/ { op_jcc, OPF_IMM8 | OPF_REL | OPF_END },  /* jno rel8 */
    /*0x72*/ { op_jcc, OPF_IMM8 | OPF_REL | OPF_END },  /* jb rel8 */
    /*0x73*/ { op_jcc, OPF_IMM8 | OPF_REL | OPF_END },  /* jae rel8 */
    /*0x74*/ { op_jcc, OPF_IMM8 | OPF_REL | OPF_END },  /* je rel8 */
    /*0x75*/ { op_jcc, OPF_IMM8 | OPF_REL | OPF_END },  /* jne rel8 */
    /*0x76*/ { op_jcc, OPF_IMM8 | OPF_REL | OPF_END },  /* jbe rel8 */
    /*0x77*/ { op_jcc, OPF_IMM8 | OPF_REL | OPF_END },  /* ja rel8 */
    /*0x78*/ { op_jcc, OPF_IMM8 | OPF_REL | OPF_END },  /* js rel8 */
    /*0x79*/ { op_jcc, OPF_IMM8 | OPF_REL | OPF_END },  /* jns rel8 */
    /*0x7A*/ { op_jcc, OPF_IMM8 | OPF_REL | OPF_END },  /* jp rel8 */
    /*0x7B*/ { op_jcc, OPF_IMM8 | OPF_REL | OPF_END },  /* jnp rel8 */
    /*0x7C*/ { op_jcc, OPF_IMM8 | OPF_REL | OPF_END },  /* jl rel8 */
    /*0x7D*/ { op_jcc, OPF_IMM8 | OPF_REL | OPF_END },  /* jge rel8 */
    /*0x7E*/ { op_jcc, OPF_IMM8 | OPF_REL | OPF_END },  /* jle rel8 */
    /*0x7F*/ { op_jcc, OPF_IMM8 | OPF_REL | OPF_END },  /* jg rel8 */
    /*0x80*/ { op_grp1, OPF_MODRM | OPF_IMM8 },  /* grp1 r/m8, imm8 */
    /*0x81*/ { op_grp1, OPF_MODRM | OPF_IMMV },  /* grp1 r/m, imm */
    /*0x82*/ { op_grp1, OPF_MODRM | OPF_IMM8 },  /* grp1 r/m8, imm8 (alias of 80) */
    /*0x83*/ { op_grp1, OPF_MODRM | OPF_IMM8 },  /* grp1 r/m, simm8 */
    /*0x84*/ { op_test_rm_r, OPF_MODRM },  /* test r/m8, r8 */
    /*0x85*/ { op_test_rm_r, OPF_MODRM },  /* test r/m, r */
    /*0x86*/ { op_xchg_rm_r, OPF_MODRM },  /* xchg r/m8, r8 */
    /*0x87*/ { op_xchg_rm_r, OPF_MODRM },  /* xchg r/m, r */
    /*0x88*/ { op_mov_rm_r, OPF_MODRM },  /* mov r/m8, r8 */
    /*0x89*/ { op_mov_rm_r, OPF_MODRM },  /* mov r/m, r */
    /*0x8A*/ { op_mov_r_rm, OPF_MODRM },  /* mov r8, r/m8 */
    /*0x8B*/ { op_mov_r_rm, OPF_MODRM },  /* mov r, r/m */
    /*0x8C*/ { op_mov_rm_sreg, OPF_MODRM },  /* mov r/m, sreg */
    /*0x8D*/ { op_lea, OPF_MODRM },  /* lea r, m */
    /*0x8E*/ { op_mov_sreg_rm, OPF_MODRM | OPF_END },  /* mov sreg, r/m */
    /*0x8F*/ { op_pop_rm, OPF_MODRM },  /* pop r/m (grp1a) */
    /*0x90*/ { op_nop, 0 },  /* nop / pause */
    /*0x91*/ { op_xchg_acc_r, 0 },  /* xchg ax, cx */
    /*0x92*/ { op_xchg_acc_r, 0 },  /* xchg ax, dx */
    /*0x93*/ { op_xchg_acc_r, 0 },  /* xchg ax, bx */
    /*0x94*/ { op_xchg_acc_r, 0 },  /* xchg ax, sp */
    /*0x95*/ { op_xchg_acc_r, 0 },  /* xchg ax, bp */
    /*0x96*/ { op_xchg_acc_r, 0 },  /* xchg ax, si */
    /*0x97*/ { op_xchg_acc_r, 0 },  /* xchg ax, di */
    /*0x98*/ { op_cbw, 0 },  /* cbw/cwde */
    /*0x99*/ { op_cwd, 0 },  /* cwd/cdq */
    /*0x9A*/ { op_call_far, OPF_FAR | OPF_END },  /* call ptr16:16/32 */
    /*0x9B*/ { op_wait, 0 },  /* wait */
    /*0x9C*/ { op_pushf, 0 },  /* pushf */
    /*0x9D*/ { op_popf, OPF_END },  /* popf */
    /*0x9E*/ { op_sahf, 0 },  /* sahf */
    /*0x9F*/ { op_lahf, 0 },  /* lahf */
    /*0xA0*/ { op_mov_acc_moffs, OPF_MOFFS },  /* mov al, moffs8 */
    /*0xA1*/ { op_mov_acc_moffs, OPF_MOFFS },  /* mov ax, moffs */
    /*0xA2*/ { op_mov_moffs_acc, OPF_MOFFS },  /* mov moffs8, al */
    /*0xA3*/ { op_mov_moffs_acc, OPF_MOFFS },  /* mov moffs, ax */
    /*0xA4*/ { op_movs, 0 },  /* movsb */
    /*0xA5*/ { op_movs, 0 },  /* movsw/d */
    /*0xA6*/ { op_cmps, 0 },  /* cmpsb */
    /*0xA7*/ { op_cmps, 0 },  /* cmpsw/d */
    /*0xA8*/ { op_test_acc_imm, OPF_IMM8 },  /* test al, imm8 */
    /*0xA9*/ { op_test_acc_imm, OPF_IMMV },  /* test ax, imm */
    /*0xAA*/ { op_stos, 0 },  /* stosb */
    /*0xAB*/ { op_stos, 0 },  /* stosw/d */
    /*0xAC*/ { op_lods, 0 },  /* lodsb */
    /*0xAD*/ { op_lods, 0 },  /* lodsw/d */
    /*0xAE*/ { op_scas, 0 },  /* scasb */
    /*0xAF*/ { op_scas, 0 },  /* scasw/d */
    /*0xB0*/ { op_mov_r_imm, OPF_IMM8 },  /* mov al, imm8 */
    /*0xB1*/ { op_mov_r_imm, OPF_IMM8 },  /* mov cl, imm8 */
    /*0xB2*/ { op_mov_r_imm, OPF_IMM8 },  /* mov dl, imm8 */
    /*0xB3*/ { op_mov_r_imm, OPF_IMM8 },  /* mov bl, imm8 */
    /*0xB4*/ { op_mov_r_imm, OPF_IMM8 },  /* mov ah, imm8 */
    /*0xB5*/ { op_mov_r_imm, OPF_IMM8 },  /* mov ch, imm8 */
    /*0xB6*/ { op_mov_r_imm, OPF_IMM8 },  /* mov dh, imm8 */
    /*0xB7*/ { op_mov_r_imm, OPF_IMM8 },  /* mov bh, imm8 */
    /*0xB8*/ { op_mov_r_imm, OPF_IMMV },  /* mov ax, imm */
    /*0xB9*/ { op_mov_r_imm, OPF_IMMV },  /* mov cx, imm */
    /*0xBA*/ { op_mov_r_imm, OPF_IMMV },  /* mov dx, imm */
    /*0xBB*/ { op_mov_r_imm, OPF_IMMV },  /* mov bx, imm */
    /*0xBC*/ { op_mov_r_imm, OPF_IMMV },  /* mov sp, imm */
    /*0xBD*/ { op_mov_r_imm, OPF_IMMV },  /* mov bp, imm */
    /*0xBE*/ { op_mov_r_imm, OPF_IMMV },  /* mov si, imm */
    /*0xBF*/ { op_mov_r_imm, OPF_IMMV },  /* mov di, imm */
    /*0xC0*/ { op_grp2, OPF_MODRM | OPF_IMM8 },  /* grp2 r/m8, imm8 */
    /*0xC1*/ { op_grp2, OPF_MODRM | OPF_IMM8 },  /* grp2 r/m, imm8 */
    /*0xC2*/ { op_ret, OPF_IMM16 | OPF_END },  /* ret imm16 */
    /*0xC3*/ { op_ret, OPF_END },  /* ret */
    /*0xC4*/ { op_lfar, OPF_MODRM },  /* les r, m16:16 */
    /*0xC5*/ { op_lfar, OPF_MODRM },  /* lds r, m16:16 */
    /*0xC6*/ { op_mov_rm_imm, OPF_MODRM | OPF_IMM8 },  /* mov r/m8, imm8 (grp11) */
    /*0xC7*/ { op_mov_rm_imm, OPF_MODRM | OPF_IMMV },  /* mov r/m, imm (grp11) */
    /*0xC8*/ { op_enter, OPF_IMM16 | OPF_IMM8 },  /* enter imm16, imm8 */
    /*0xC9*/ { op_leave, 0 },  /* leave */
    /*0xCA*/ { op_retf, OPF_IMM16 | OPF_END },  /* retf imm16 */
    /*0xCB*/ { op_retf, OPF_END },  /* retf */
    /*0xCC*/ { op_int3, OPF_END },  /* int3 */
    /*0xCD*/ { op_int, OPF_IMM8 | OPF_END },  /* int imm8 */
    /*0xCE*/ { op_into, OPF_END },  /* into */
    /*0xCF*/ { op_iret, OPF_END },  /* iret */
    /*0xD0*/ { op_grp2, OPF_MODRM },  /* grp2 r/m8, 1 */
    /*0xD1*/ { op_grp2, OPF_MODRM },  /* grp2 r/m, 1 */
    /*0xD2*/ { op_grp2, OPF_MODRM },  /* grp2 r/m8, cl */
    /*0xD3*/ { op_grp2, OPF_MODRM },  /* grp2 r/m, cl */
    /*0xD4*/ { op_aam, OPF_IMM8 },  /* aam imm8 */
    /*0xD5*/ { op_aad, OPF_IMM8 },  /* aad imm8 */
    /*0xD6*/ { op_salc, 0 },  /* salc (undocumented) */
    /*0xD7*/ { op_xlat, 0 },  /* xlat */
    /*0xD8*/ { op_fpu, OPF_MODRM },  /* x87 escape D8 */
    /*0xD9*/ { op_fpu, OPF_MODRM },  /* x87 escape D9 */
    /*0xDA*/ { op_fpu, OPF_MODRM },  /* x87 escape DA */
    /*0xDB*/ { op_fpu, OPF_MODRM },  /* x87 escape DB */
    /*0xDC*/ { op_fpu, OPF_MODRM },  /* x87 escape DC */
    /*0xDD*/ { op_fpu, OPF_MODRM },  /* x87 escape DD */
    /*0xDE*/ { op_fpu, OPF_MODRM },  /* x87 escape DE */
    /*0xDF*/ { op_fpu, OPF_MODRM },  /* x87 escape DF */
    /*0xE0*/ { op_loop, OPF_IMM8 | OPF_REL | OPF_END },  /* loopne rel8 */
    /*0xE1*/ { op_loop, OPF_IMM8 | OPF_REL | OPF_END },  /* loope rel8 */
    /*0xE2*/ { op_loop, OPF_IMM8 | OPF_REL | OPF_END },  /* loop rel8 */
    /*0xE3*/ { op_jcxz, OPF_IMM8 | OPF_REL | OPF_END },  /* jcxz rel8 */
    /*0xE4*/ { op_in, OPF_IMM8 },  /* in al, imm8 */
    /*0xE5*/ { op_in, OPF_IMM8 },  /* in ax, imm8 */
    /*0xE6*/ { op_out, OPF_IMM8 },  /* out imm8, al */
    /*0xE7*/ { op_out, OPF_IMM8 },  /* out imm8, ax */
    /*0xE8*/ { op_call_rel, OPF_IMMV | OPF_REL | OPF_END },  /* call rel */
    /*0xE9*/ { op_jmp_rel, OPF_IMMV | OPF_REL | OPF_END },  /* jmp rel */
    /*0xEA*/ { op_jmp_far, OPF_FAR | OPF_END },  /* jmp ptr16:16/32 */
    /*0xEB*/ { op_jmp_rel, OPF_IMM8 | OPF_REL | OPF_END },  /* jmp rel8 */
    /*0xEC*/ { op_in, 0 },  /* in al, dx */
    /*0xED*/ { op_in, 0 },  /* in ax, dx */
    /*0xEE*/ { op_out, 0 },  /* out dx, al */
    /*0xEF*/ { op_out, 0 },  /* out dx, ax */
    /*0xF0*/ { NULL, 0 },  /* prefix lock */
    /*0xF1*/ { op_int3, OPF_END },  /* int1 / icebp */
    /*0xF2*/ { NULL, 0 },  /* prefix repne */
    /*0xF3*/ { NULL, 0 },  /* prefix rep */
    /*0xF4*/ { op_hlt, OPF_END },  /* hlt */
    /*0xF5*/ { op_flagop, 0 },  /* cmc */
    /*0xF6*/ { op_grp3, OPF_MODRM },  /* grp3 r/m8 */
    /*0xF7*/ { op_grp3, OPF_MODRM },  /* grp3 r/m */
    /*0xF8*/ { op_flagop, 0 },  /* clc */
    /*0xF9*/ { op_flagop, 0 },  /* stc */
    /*0xFA*/ { op_flagop, 0 },  /* cli */
    /*0xFB*/ { op_flagop, OPF_END },  /* sti */
    /*0xFC*/ { op_flagop, 0 },  /* cld */
    /*0xFD*/ { op_flagop, 0 },  /* std */
    /*0xFE*/ { op_grp4, OPF_MODRM },  /* grp4 inc/dec r/m8 */
    /*0xFF*/ { op_grp5_incdec, OPF_MODRM },  /* grp5 r/m */
};

static const X86OpInfo x86_optab_0f[256] = {
    /*0x00*/ { op_grp6, OPF_MODRM },  /* grp6 (sldt str lldt ltr verr verw) */
    /*0x01*/ { op_grp7, OPF_MODRM | OPF_END },  /* grp7 (sgdt sidt lgdt lidt smsw lmsw invlpg) */
    /*0x02*/ { op_lar_lsl, OPF_MODRM },  /* lar r, r/m16 (#UD in real mode) */
    /*0x03*/ { op_lar_lsl, OPF_MODRM },  /* lsl r, r/m16 (#UD in real mode) */
    /*0x04*/ { op_unimpl, 0 },  /* not implemented */
    /*0x05*/ { op_ud, 0 },  /* loadall (286 only; #UD on the 386) */
    /*0x06*/ { op_clts, 0 },  /* clts */
    /*0x07*/ { op_unimpl, 0 },  /* not implemented */
    /*0x08*/ { op_wbinvd, 0 },  /* invd */
    /*0x09*/ { op_wbinvd, 0 },  /* wbinvd */
    /*0x0A*/ { op_unimpl, 0 },  /* not implemented */
    /*0x0B*/ { op_ud, 0 },  /* ud2 */
    /*0x0C*/ { op_unimpl, 0 },  /* not implemented */
    /*0x0D*/ { op_unimpl, 0 },  /* not implemented */
    /*0x0E*/ { op_unimpl, 0 },  /* not implemented */
    /*0x0F*/ { op_unimpl, 0 },  /* not implemented */
    /*0x10*/ { op_sse, OPF_MODRM },  /* movups/movupd/movss/movsd x, x/m (cpu_sse.c) */
    /*0x11*/ { op_sse, OPF_MODRM },  /* movups/movupd/movss/movsd x/m, x (cpu_sse.c) */
    /*0x12*/ { op_sse, OPF_MODRM },  /* movlps/movhlps, 66: movlpd x, m64 (cpu_sse.c) */
    /*0x13*/ { op_sse, OPF_MODRM },  /* movlps, 66: movlpd m64, x (cpu_sse.c) */
    /*0x14*/ { op_sse, OPF_MODRM },  /* unpcklps, 66: unpcklpd (cpu_sse.c) */
    /*0x15*/ { op_sse, OPF_MODRM },  /* unpckhps, 66: unpckhpd (cpu_sse.c) */
    /*0x16*/ { op_sse, OPF_MODRM },  /* movhps/movlhps, 66: movhpd x, m64 (cpu_sse.c) */
    /*0x17*/ { op_sse, OPF_MODRM },  /* movhps, 66: movhpd m64, x (cpu_sse.c) */
    /*0x18*/ { op_nop, OPF_MODRM },  /* prefetchh / hint nop r/m (0F 18 /0-/3 prefetch) */
    /*0x19*/ { op_nop, OPF_MODRM },  /* hint nop r/m */
    /*0x1A*/ { op_nop, OPF_MODRM },  /* hint nop r/m (MPX space; no MPX) */
    /*0x1B*/ { op_nop, OPF_MODRM },  /* hint nop r/m (MPX space; no MPX) */
    /*0x1C*/ { op_nop, OPF_MODRM },  /* hint nop r/m */
    /*0x1D*/ { op_nop, OPF_MODRM },  /* hint nop r/m */
    /*0x1E*/ { op_nop, OPF_MODRM },  /* hint nop r/m (F3 0F 1E FA/FB: endbr64/endbr32) */
    /*0x1F*/ { op_nop, OPF_MODRM },  /* nop r/m (multi-byte NOP) */
    /*0x20*/ { op_mov_cr, OPF_MODRM | OPF_END },  /* mov r32, crN */
    /*0x21*/ { op_mov_dr, OPF_MODRM },  /* mov r32, drN */
    /*0x22*/ { op_mov_cr, OPF_MODRM | OPF_END },  /* mov crN, r32 */
    /*0x23*/ { op_mov_dr, OPF_MODRM },  /* mov drN, r32 */
    /*0x24*/ { op_unimpl, 0 },  /* not implemented */
    /*0x25*/ { op_unimpl, 0 },  /* not implemented */
    /*0x26*/ { op_unimpl, 0 },  /* not implemented */
    /*0x27*/ { op_unimpl, 0 },  /* not implemented */
    /*0x28*/ { op_sse, OPF_MODRM },  /* movaps/movapd x, x/m128 (cpu_sse.c) */
    /*0x29*/ { op_sse, OPF_MODRM },  /* movaps/movapd x/m128, x (cpu_sse.c) */
    /*0x2A*/ { op_sse, OPF_MODRM },  /* cvtpi2ps, 66: cvtpi2pd x, mm/m64; F3: cvtsi2ss, F2: cvtsi2sd x, r/m32 (cpu_sse.c) */
    /*0x2B*/ { op_sse, OPF_MODRM },  /* movntps/movntpd m128, x (cpu_sse.c) */
    /*0x2C*/ { op_sse, OPF_MODRM },  /* cvttps2pi, 66: cvttpd2pi mm, x/m; F3: cvttss2si, F2: cvttsd2si r32, x/m (cpu_sse.c) */
    /*0x2D*/ { op_sse, OPF_MODRM },  /* cvtps2pi, 66: cvtpd2pi mm, x/m; F3: cvtss2si, F2: cvtsd2si r32, x/m (cpu_sse.c) */
    /*0x2E*/ { op_sse, OPF_MODRM },  /* ucomiss, 66: ucomisd (cpu_sse.c) */
    /*0x2F*/ { op_sse, OPF_MODRM },  /* comiss, 66: comisd (cpu_sse.c) */
    /*0x30*/ { op_wrmsr, OPF_END },  /* wrmsr */
    /*0x31*/ { op_rdtsc, 0 },  /* rdtsc */
    /*0x32*/ { op_rdmsr, OPF_END },  /* rdmsr */
    /*0x33*/ { op_unimpl, 0 },  /* not implemented */
    /*0x34*/ { op_sysenter, OPF_END },  /* sysenter (P6) */
    /*0x35*/ { op_sysexit, OPF_END },  /* sysexit (P6) */
    /*0x36*/ { op_unimpl, 0 },  /* not implemented */
    /*0x37*/ { op_unimpl, 0 },  /* not implemented */
    /*0x38*/ { op_unimpl, 0 },  /* not implemented */
    /*0x39*/ { op_unimpl, 0 },  /* not implemented */
    /*0x3A*/ { op_unimpl, 0 },  /* not implemented */
    /*0x3B*/ { op_unimpl, 0 },  /* not implemented */
    /*0x3C*/ { op_unimpl, 0 },  /* not implemented */
    /*0x3D*/ { op_unimpl, 0 },  /* not implemented */
    /*0x3E*/ { op_unimpl, 0 },  /* not implemented */
    /*0x3F*/ { op_unimpl, 0 },  /* not implemented */
    /*0x40*/ { op_cmovcc, OPF_MODRM },  /* cmovo r, r/m (P6) */
    /*0x41*/ { op_cmovcc, OPF_MODRM },  /* cmovno r, r/m (P6) */
    /*0x42*/ { op_cmovcc, OPF_MODRM },  /* cmovb r, r/m (P6) */
    /*0x43*/ { op_cmovcc, OPF_MODRM },  /* cmovae r, r/m (P6) */
    /*0x44*/ { op_cmovcc, OPF_MODRM },  /* cmove r, r/m (P6) */
    /*0x45*/ { op_cmovcc, OPF_MODRM },  /* cmovne r, r/m (P6) */
    /*0x46*/ { op_cmovcc, OPF_MODRM },  /* cmovbe r, r/m (P6) */
    /*0x47*/ { op_cmovcc, OPF_MODRM },  /* cmova r, r/m (P6) */
    /*0x48*/ { op_cmovcc, OPF_MODRM },  /* cmovs r, r/m (P6) */
    /*0x49*/ { op_cmovcc, OPF_MODRM },  /* cmovns r, r/m (P6) */
    /*0x4A*/ { op_cmovcc, OPF_MODRM },  /* cmovp r, r/m (P6) */
    /*0x4B*/ { op_cmovcc, OPF_MODRM },  /* cmovnp r, r/m (P6) */
    /*0x4C*/ { op_cmovcc, OPF_MODRM },  /* cmovl r, r/m (P6) */
    /*0x4D*/ { op_cmovcc, OPF_MODRM },  /* cmovge r, r/m (P6) */
    /*0x4E*/ { op_cmovcc, OPF_MODRM },  /* cmovle r, r/m (P6) */
    /*0x4F*/ { op_cmovcc, OPF_MODRM },  /* cmovg r, r/m (P6) */
    /*0x50*/ { op_sse, OPF_MODRM },  /* movmskps, 66: movmskpd r32, x (cpu_sse.c) */
    /*0x51*/ { op_sse, OPF_MODRM },  /* sqrtps/pd/sd/ss (cpu_sse.c) */
    /*0x52*/ { op_sse, OPF_MODRM },  /* rsqrtps, F3: rsqrtss (cpu_sse.c) */
    /*0x53*/ { op_sse, OPF_MODRM },  /* rcpps, F3: rcpss (cpu_sse.c) */
    /*0x54*/ { op_sse, OPF_MODRM },  /* andps/andpd (cpu_sse.c) */
    /*0x55*/ { op_sse, OPF_MODRM },  /* andnps/andnpd (cpu_sse.c) */
    /*0x56*/ { op_sse, OPF_MODRM },  /* orps/orpd (cpu_sse.c) */
    /*0x57*/ { op_sse, OPF_MODRM },  /* xorps/xorpd (cpu_sse.c) */
    /*0x58*/ { op_sse, OPF_MODRM },  /* addps/pd/sd/ss (cpu_sse.c) */
    /*0x59*/ { op_sse, OPF_MODRM },  /* mulps/pd/sd/ss (cpu_sse.c) */
    /*0x5A*/ { op_sse, OPF_MODRM },  /* cvtps2pd, 66: cvtpd2ps, F2: cvtsd2ss, F3: cvtss2sd (cpu_sse.c) */
    /*0x5B*/ { op_sse, OPF_MODRM },  /* cvtdq2ps, 66: cvtps2dq, F3: cvttps2dq (cpu_sse.c) */
    /*0x5C*/ { op_sse, OPF_MODRM },  /* subps/pd/sd/ss (cpu_sse.c) */
    /*0x5D*/ { op_sse, OPF_MODRM },  /* minps/pd/sd/ss (cpu_sse.c) */
    /*0x5E*/ { op_sse, OPF_MODRM },  /* divps/pd/sd/ss (cpu_sse.c) */
    /*0x5F*/ { op_sse, OPF_MODRM },  /* maxps/pd/sd/ss (cpu_sse.c) */
    /*0x60*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: punpcklbw (cpu_sse.c) */
    /*0x61*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: punpcklwd (cpu_sse.c) */
    /*0x62*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: punpckldq (cpu_sse.c) */
    /*0x63*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: packsswb (cpu_sse.c) */
    /*0x64*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: pcmpgtb (cpu_sse.c) */
    /*0x65*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: pcmpgtw (cpu_sse.c) */
    /*0x66*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: pcmpgtd (cpu_sse.c) */
    /*0x67*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: packuswb (cpu_sse.c) */
    /*0x68*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: punpckhbw (cpu_sse.c) */
    /*0x69*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: punpckhwd (cpu_sse.c) */
    /*0x6A*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: punpckhdq (cpu_sse.c) */
    /*0x6B*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: packssdw (cpu_sse.c) */
    /*0x6C*/ { op_sse, OPF_MODRM },  /* 66: punpcklqdq (cpu_sse.c) */
    /*0x6D*/ { op_sse, OPF_MODRM },  /* 66: punpckhqdq (cpu_sse.c) */
    /*0x6E*/ { op_sse, OPF_MODRM },  /* movd mm, r/m32; 66: movd x, r/m32 (cpu_sse.c) */
    /*0x6F*/ { op_sse, OPF_MODRM },  /* movq mm, mm/m64; 66: movdqa, F3: movdqu x, x/m128 (cpu_sse.c) */
    /*0x70*/ { op_sse, OPF_MODRM | OPF_IMM8 },  /* pshufw mm, 66: pshufd, F3: pshufhw, F2: pshuflw x, x/m128, imm8 (cpu_sse.c) */
    /*0x71*/ { op_sse, OPF_MODRM | OPF_IMM8 },  /* none: mm, 66: xmm: grp12 psrlw/psraw/psllw x, imm8 (cpu_sse.c) */
    /*0x72*/ { op_sse, OPF_MODRM | OPF_IMM8 },  /* none: mm, 66: xmm: grp13 psrld/psrad/pslld x, imm8 (cpu_sse.c) */
    /*0x73*/ { op_sse, OPF_MODRM | OPF_IMM8 },  /* none: mm, 66: xmm: grp14 psrlq/psrldq/psllq/pslldq x, imm8 (cpu_sse.c) */
    /*0x74*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: pcmpeqb (cpu_sse.c) */
    /*0x75*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: pcmpeqw (cpu_sse.c) */
    /*0x76*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: pcmpeqd (cpu_sse.c) */
    /*0x77*/ { op_sse, 0 },  /* emms (cpu_sse.c) */
    /*0x78*/ { op_unimpl, 0 },  /* not implemented */
    /*0x79*/ { op_unimpl, 0 },  /* not implemented */
    /*0x7A*/ { op_unimpl, 0 },  /* not implemented */
    /*0x7B*/ { op_unimpl, 0 },  /* not implemented */
    /*0x7C*/ { op_unimpl, 0 },  /* not implemented */
    /*0x7D*/ { op_unimpl, 0 },  /* not implemented */
    /*0x7E*/ { op_sse, OPF_MODRM },  /* movd r/m32, mm; 66: movd r/m32, x; F3: movq x, x/m64 (cpu_sse.c) */
    /*0x7F*/ { op_sse, OPF_MODRM },  /* movq mm/m64, mm; 66: movdqa, F3: movdqu x/m128, x (cpu_sse.c) */
    /*0x80*/ { op_jcc, OPF_IMMV | OPF_REL | OPF_END },  /* jo rel16/32 */
    /*0x81*/ { op_jcc, OPF_IMMV | OPF_REL | OPF_END },  /* jno rel16/32 */
    /*0x82*/ { op_jcc, OPF_IMMV | OPF_REL | OPF_END },  /* jb rel16/32 */
    /*0x83*/ { op_jcc, OPF_IMMV | OPF_REL | OPF_END },  /* jae rel16/32 */
    /*0x84*/ { op_jcc, OPF_IMMV | OPF_REL | OPF_END },  /* je rel16/32 */
    /*0x85*/ { op_jcc, OPF_IMMV | OPF_REL | OPF_END },  /* jne rel16/32 */
    /*0x86*/ { op_jcc, OPF_IMMV | OPF_REL | OPF_END },  /* jbe rel16/32 */
    /*0x87*/ { op_jcc, OPF_IMMV | OPF_REL | OPF_END },  /* ja rel16/32 */
    /*0x88*/ { op_jcc, OPF_IMMV | OPF_REL | OPF_END },  /* js rel16/32 */
    /*0x89*/ { op_jcc, OPF_IMMV | OPF_REL | OPF_END },  /* jns rel16/32 */
    /*0x8A*/ { op_jcc, OPF_IMMV | OPF_REL | OPF_END },  /* jp rel16/32 */
    /*0x8B*/ { op_jcc, OPF_IMMV | OPF_REL | OPF_END },  /* jnp rel16/32 */
    /*0x8C*/ { op_jcc, OPF_IMMV | OPF_REL | OPF_END },  /* jl rel16/32 */
    /*0x8D*/ { op_jcc, OPF_IMMV | OPF_REL | OPF_END },  /* jge rel16/32 */
    /*0x8E*/ { op_jcc, OPF_IMMV | OPF_REL | OPF_END },  /* jle rel16/32 */
    /*0x8F*/ { op_jcc, OPF_IMMV | OPF_REL | OPF_END },  /* jg rel16/32 */
    /*0x90*/ { op_setcc, OPF_MODRM },  /* seto r/m8 */
    /*0x91*/ { op_setcc, OPF_MODRM },  /* setno r/m8 */
    /*0x92*/ { op_setcc, OPF_MODRM },  /* setb r/m8 */
    /*0x93*/ { op_setcc, OPF_MODRM },  /* setae r/m8 */
    /*0x94*/ { op_setcc, OPF_MODRM },  /* sete r/m8 */
    /*0x95*/ { op_setcc, OPF_MODRM },  /* setne r/m8 */
    /*0x96*/ { op_setcc, OPF_MODRM },  /* setbe r/m8 */
    /*0x97*/ { op_setcc, OPF_MODRM },  /* seta r/m8 */
    /*0x98*/ { op_setcc, OPF_MODRM },  /* sets r/m8 */
    /*0x99*/ { op_setcc, OPF_MODRM },  /* setns r/m8 */
    /*0x9A*/ { op_setcc, OPF_MODRM },  /* setp r/m8 */
    /*0x9B*/ { op_setcc, OPF_MODRM },  /* setnp r/m8 */
    /*0x9C*/ { op_setcc, OPF_MODRM },  /* setl r/m8 */
    /*0x9D*/ { op_setcc, OPF_MODRM },  /* setge r/m8 */
    /*0x9E*/ { op_setcc, OPF_MODRM },  /* setle r/m8 */
    /*0x9F*/ { op_setcc, OPF_MODRM },  /* setg r/m8 */
    /*0xA0*/ { op_push_sreg, 0 },  /* push fs */
    /*0xA1*/ { op_pop_sreg, 0 },  /* pop fs */
    /*0xA2*/ { op_cpuid, OPF_END },  /* cpuid */
    /*0xA3*/ { op_bt, OPF_MODRM },  /* bt r/m, r */
    /*0xA4*/ { op_shxd, OPF_MODRM | OPF_IMM8 },  /* shld r/m, r, imm8 */
    /*0xA5*/ { op_shxd, OPF_MODRM },  /* shld r/m, r, cl */
    /*0xA6*/ { op_unimpl, 0 },  /* not implemented */
    /*0xA7*/ { op_unimpl, 0 },  /* not implemented */
    /*0xA8*/ { op_push_sreg, 0 },  /* push gs */
    /*0xA9*/ { op_pop_sreg, 0 },  /* pop gs */
    /*0xAA*/ { op_unimpl, 0 },  /* not implemented */
    /*0xAB*/ { op_bt, OPF_MODRM },  /* bts r/m, r */
    /*0xAC*/ { op_shxd, OPF_MODRM | OPF_IMM8 },  /* shrd r/m, r, imm8 */
    /*0xAD*/ { op_shxd, OPF_MODRM },  /* shrd r/m, r, cl */
    /*0xAE*/ { op_grp15, OPF_MODRM },  /* grp15: fxsave fxrstor ldmxcsr stmxcsr, fences */
    /*0xAF*/ { op_imul_r_rm, OPF_MODRM },  /* imul r, r/m */
    /*0xB0*/ { op_cmpxchg, OPF_MODRM },  /* cmpxchg r/m8, r8 */
    /*0xB1*/ { op_cmpxchg, OPF_MODRM },  /* cmpxchg r/m, r */
    /*0xB2*/ { op_lfar, OPF_MODRM },  /* lss r, m16:16 */
    /*0xB3*/ { op_bt, OPF_MODRM },  /* btr r/m, r */
    /*0xB4*/ { op_lfar, OPF_MODRM },  /* lfs r, m16:16 */
    /*0xB5*/ { op_lfar, OPF_MODRM },  /* lgs r, m16:16 */
    /*0xB6*/ { op_movzx, OPF_MODRM },  /* movzx r, r/m8 */
    /*0xB7*/ { op_movzx, OPF_MODRM },  /* movzx r, r/m16 */
    /*0xB8*/ { op_unimpl, 0 },  /* not implemented */
    /*0xB9*/ { op_ud, OPF_MODRM },  /* ud1 r, r/m */
    /*0xBA*/ { op_bt_imm, OPF_MODRM | OPF_IMM8 },  /* grp8 bt/bts/btr/btc r/m, imm8 */
    /*0xBB*/ { op_bt, OPF_MODRM },  /* btc r/m, r */
    /*0xBC*/ { op_bsf, OPF_MODRM },  /* bsf r, r/m */
    /*0xBD*/ { op_bsr, OPF_MODRM },  /* bsr r, r/m */
    /*0xBE*/ { op_movsx, OPF_MODRM },  /* movsx r, r/m8 */
    /*0xBF*/ { op_movsx, OPF_MODRM },  /* movsx r, r/m16 */
    /*0xC0*/ { op_xadd, OPF_MODRM },  /* xadd r/m8, r8 */
    /*0xC1*/ { op_xadd, OPF_MODRM },  /* xadd r/m, r */
    /*0xC2*/ { op_sse, OPF_MODRM | OPF_IMM8 },  /* cmpps, 66: cmppd, F2: cmpsd, F3: cmpss x, x/m, imm8 (cpu_sse.c) */
    /*0xC3*/ { op_movnti, OPF_MODRM },  /* movnti m32, r32 */
    /*0xC4*/ { op_sse, OPF_MODRM | OPF_IMM8 },  /* none: mm, 66: xmm: pinsrw x, r32/m16, imm8 (cpu_sse.c) */
    /*0xC5*/ { op_sse, OPF_MODRM | OPF_IMM8 },  /* none: mm, 66: xmm: pextrw r32, x, imm8 (cpu_sse.c) */
    /*0xC6*/ { op_sse, OPF_MODRM | OPF_IMM8 },  /* shufps, 66: shufpd x, x/m128, imm8 (cpu_sse.c) */
    /*0xC7*/ { op_cmpxchg8b, OPF_MODRM },  /* grp9: /1 cmpxchg8b m64 (Pentium) */
    /*0xC8*/ { op_bswap, 0 },  /* bswap eax */
    /*0xC9*/ { op_bswap, 0 },  /* bswap ecx */
    /*0xCA*/ { op_bswap, 0 },  /* bswap edx */
    /*0xCB*/ { op_bswap, 0 },  /* bswap ebx */
    /*0xCC*/ { op_bswap, 0 },  /* bswap esp */
    /*0xCD*/ { op_bswap, 0 },  /* bswap ebp */
    /*0xCE*/ { op_bswap, 0 },  /* bswap esi */
    /*0xCF*/ { op_bswap, 0 },  /* bswap edi */
    /*0xD0*/ { op_unimpl, 0 },  /* not implemented */
    /*0xD1*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: psrlw (cpu_sse.c) */
    /*0xD2*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: psrld (cpu_sse.c) */
    /*0xD3*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: psrlq (cpu_sse.c) */
    /*0xD4*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: paddq (cpu_sse.c) */
    /*0xD5*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: pmullw (cpu_sse.c) */
    /*0xD6*/ { op_sse, OPF_MODRM },  /* 66: movq x/m64, x; F3: movq2dq x, mm; F2: movdq2q mm, x (cpu_sse.c) */
    /*0xD7*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: pmovmskb r32, x (cpu_sse.c) */
    /*0xD8*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: psubusb (cpu_sse.c) */
    /*0xD9*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: psubusw (cpu_sse.c) */
    /*0xDA*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: pminub (cpu_sse.c) */
    /*0xDB*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: pand (cpu_sse.c) */
    /*0xDC*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: paddusb (cpu_sse.c) */
    /*0xDD*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: paddusw (cpu_sse.c) */
    /*0xDE*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: pmaxub (cpu_sse.c) */
    /*0xDF*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: pandn (cpu_sse.c) */
    /*0xE0*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: pavgb (cpu_sse.c) */
    /*0xE1*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: psraw (cpu_sse.c) */
    /*0xE2*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: psrad (cpu_sse.c) */
    /*0xE3*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: pavgw (cpu_sse.c) */
    /*0xE4*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: pmulhuw (cpu_sse.c) */
    /*0xE5*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: pmulhw (cpu_sse.c) */
    /*0xE6*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: cvttpd2dq, F2: cvtpd2dq, F3: cvtdq2pd (cpu_sse.c) */
    /*0xE7*/ { op_sse, OPF_MODRM },  /* movntq m64, mm; 66: movntdq m128, x (cpu_sse.c) */
    /*0xE8*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: psubsb (cpu_sse.c) */
    /*0xE9*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: psubsw (cpu_sse.c) */
    /*0xEA*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: pminsw (cpu_sse.c) */
    /*0xEB*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: por (cpu_sse.c) */
    /*0xEC*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: paddsb (cpu_sse.c) */
    /*0xED*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: paddsw (cpu_sse.c) */
    /*0xEE*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: pmaxsw (cpu_sse.c) */
    /*0xEF*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: pxor (cpu_sse.c) */
    /*0xF0*/ { op_unimpl, 0 },  /* not implemented */
    /*0xF1*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: psllw (cpu_sse.c) */
    /*0xF2*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: pslld (cpu_sse.c) */
    /*0xF3*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: psllq (cpu_sse.c) */
    /*0xF4*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: pmuludq (cpu_sse.c) */
    /*0xF5*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: pmaddwd (cpu_sse.c) */
    /*0xF6*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: psadbw (cpu_sse.c) */
    /*0xF7*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: maskmovdqu x, x (cpu_sse.c) */
    /*0xF8*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: psubb (cpu_sse.c) */
    /*0xF9*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: psubw (cpu_sse.c) */
    /*0xFA*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: psubd (cpu_sse.c) */
    /*0xFB*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: psubq (cpu_sse.c) */
    /*0xFC*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: paddb (cpu_sse.c) */
    /*0xFD*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: paddw (cpu_sse.c) */
    /*0xFE*/ { op_sse, OPF_MODRM },  /* none: mm, 66: xmm: paddd (cpu_sse.c) */
    /*0xFF*/ { op_ud, OPF_MODRM },  /* ud0 r, r/m (SDM Vol. 2B, UD: has ModR/M) */
};

/* Where instruction bytes come from: guest memory through CS (the CPU's fetch), or a
 * caller's buffer (the disassembler). Both go through decode_insn below, so the CPU and the
 * disassembler cannot disagree about an instruction's length or operands. */
typedef struct {
    X86Cpu *cpu;          /* NULL: bytes come from buf */
    const uint8_t *buf;
    size_t avail;         /* bytes in buf */
    uint64_t ip;          /* offset of the instruction in CS */
    unsigned n;           /* bytes fetched */
    uint64_t page_lin;    /* linear page of `host` */
    uint64_t page_gpa;    /* its guest-physical page */
    uint8_t *host;
    uint64_t last_gpa;
    int err;
} Fetch;

/* One instruction byte at CS:ip+n: the CS limit applies to every byte (SDM Vol. 3A,
 * 5.3), the instruction may not exceed 15 bytes (SDM Vol. 2A, 2.3.11), and the byte must
 * be in RAM that allows execution. `from_buf` is a compile-time constant in each caller,
 * so the CPU's path keeps no extra branch. */
static inline __attribute__((always_inline)) int fetch8(Fetch *f, uint8_t *out, bool from_buf)
{
    if (from_buf) {
        if (f->n >= X86_MAX_INSN_LEN) return X86_EXC_GP;
        if (f->n >= f->avail) return X86_DECODE_TRUNCATED;
        *out = f->buf[f->n++];
        return 0;
    }
    X86Cpu *cpu = f->cpu;
    uint64_t off = f->ip + f->n;
    if (f->n >= X86_MAX_INSN_LEN) return X86_EXC_GP;
    if (!(cpu->cs.attr & X86_AR_DB)) off &= 0xFFFFFFFFull;
    if (off > cpu->cs.limit) return X86_EXC_GP;
    uint64_t lin = (uint32_t)(cpu->cs.base + off);
    if ((lin & ~0xFFFull) != f->page_lin || !f->host) {
        uint64_t gpa;
        uint32_t pf;
        f->host = x86_probe_page(cpu, lin & ~0xFFFull, X86_ACCESS_EXEC, &gpa, &pf);
        if (!f->host) {
            if (!pf) return -1;
            cpu->fetch_fault_lin = lin;
            cpu->fetch_fault_error = pf;
            return X86_EXC_PF;
        }
        f->page_lin = lin & ~0xFFFull;
        f->page_gpa = gpa;
    }
    uint64_t gpa = f->page_gpa | (lin & 0xFFF);
    f->last_gpa = gpa;
    *out = f->host[lin & 0xFFF];
    f->n++;
    return 0;
}

#define FETCH(v)                                   \
    do {                                           \
        int e_ = fetch8(f, &(v), from_buf);        \
        if (e_) return e_;                         \
    } while (0)

static inline __attribute__((always_inline)) int fetch_imm(Fetch *f, unsigned size,
                                                           uint32_t *out, bool from_buf)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++) {
        uint8_t b;
        int e = fetch8(f, &b, from_buf);
        if (e) return e;
        v |= (uint32_t)b << (8 * i);
    }
    *out = v;
    return 0;
}

#define FETCH_IMM(size, v)                         \
    do {                                           \
        int e_ = fetch_imm(f, (size), &(v), from_buf); \
        if (e_) return e_;                         \
    } while (0)

/* Instructions that accept LOCK, with a memory destination (SDM Vol. 2A, LOCK). */
static bool lockable(const X86Insn *in)
{
    if (in->mod == 3) return false;
    unsigned op = in->op & 0x1FF;
    if (op < 0x40) return (op & 7) <= 1 && (op >> 3) != 7;
    switch (op) {
    case 0x80: case 0x81: case 0x82: case 0x83: return in->reg != 7;
    case 0x86: case 0x87: return true;
    case 0xF6: case 0xF7: return in->reg == 2 || in->reg == 3;
    case 0xFE: case 0xFF: return in->reg <= 1;
    case 0x1AB: case 0x1B3: case 0x1BB: case 0x1B0: case 0x1B1: case 0x1C0: case 0x1C1:
        return true;
    case 0x1BA: return in->reg >= 5;
    case 0x1C7: return in->reg == 1;   /* CMPXCHG8B */
    default: return false;
    }
}

/* The byte-level decoder shared by the CPU and the disassembler: prefixes, opcode, ModR/M,
 * SIB, displacement, immediates from `f` into *in (no handler specialisation: that is the
 * CPU's business). Returns 0 or what fetch8 returned for the byte that failed. */
static inline __attribute__((always_inline)) int decode_insn(Fetch *f, bool d, X86Insn *in,
                                                             bool from_buf)
{
    unsigned osz = d ? 4 : 2, asz = d ? 4 : 2;
    int seg = -1;
    uint8_t prefix = 0, b;
    memset(in, 0, sizeof *in);
    for (;;) {
        FETCH(b);
        switch (b) {
        case 0x26: seg = X86_ES; break;
        case 0x2E: seg = X86_CS; break;
        case 0x36: seg = X86_SS; break;
        case 0x3E: seg = X86_DS; break;
        case 0x64: seg = X86_FS; break;
        case 0x65: seg = X86_GS; break;
        case 0x66: prefix |= PFX_OPSIZE; break;
        case 0x67: prefix |= PFX_ADSIZE; break;
        case 0xF0: prefix |= PFX_LOCK; break;
        case 0xF2: prefix = (uint8_t)((prefix & ~PFX_REP) | PFX_REPNE); break;
        case 0xF3: prefix = (uint8_t)((prefix & ~PFX_REPNE) | PFX_REP); break;
        default: goto opcode;
        }
    }
opcode:;
    const X86OpInfo *info;
    if (b == 0x0F) {
        FETCH(b);
        in->op = 0x100 | b;
        info = &x86_optab_0f[b];
        if (b == 0x38) {   /* the 0F 38 map: every entry has a ModR/M; only MOVBE is here */
            static const X86OpInfo movbe = { op_movbe, OPF_MODRM };
            static const X86OpInfo other = { op_unimpl, OPF_MODRM };
            FETCH(b);
            in->imm2 = b;  /* op stays 0x138: the third byte rides in imm2 (no immediates) */
            info = (b == 0xF0 || b == 0xF1) ? &movbe : &other;
        }
    } else {
        in->op = b;
        info = &x86_optab[b];
    }
    if (prefix & PFX_OPSIZE) osz ^= 6;
    if (prefix & PFX_ADSIZE) asz ^= 6;
    in->osz = (uint8_t)osz;
    in->asz = (uint8_t)asz;
    in->fn = info->fn;
    in->base = in->index = X86_REG_NONE;
    int defseg = X86_DS;
    if (info->flags & OPF_MODRM) {
        uint8_t m;
        FETCH(m);
        in->has_modrm = 1;
        in->mod = m >> 6;
        in->reg = (m >> 3) & 7;
        in->rm = m & 7;
        /* MOV to/from CRn/DRn: "the 2 bits in the mod field are ignored" (SDM Vol. 2B,
         * MOV-Control/Debug Registers): always a register, never displacement bytes. */
        if (in->op >= 0x120 && in->op <= 0x123) in->mod = 3;
        if (in->mod != 3 && asz == 2) {
            /* SDM Vol. 2A, Table 2-1 */
            static const uint8_t base16[8] = { X86_RBX, X86_RBX, X86_RBP, X86_RBP,
                                               X86_REG_NONE, X86_REG_NONE, X86_RBP, X86_RBX };
            static const uint8_t index16[8] = { X86_RSI, X86_RDI, X86_RSI, X86_RDI,
                                                X86_RSI, X86_RDI, X86_REG_NONE, X86_REG_NONE };
            in->base = base16[in->rm];
            in->index = index16[in->rm];
            if (in->mod == 0 && in->rm == 6) {
                uint32_t v;
                FETCH_IMM(2, v);
                in->base = X86_REG_NONE;
                in->disp = (int32_t)v;
            } else if (in->mod == 1) {
                uint32_t v;
                FETCH_IMM(1, v);
                in->disp = (int8_t)v;
            } else if (in->mod == 2) {
                uint32_t v;
                FETCH_IMM(2, v);
                in->disp = (int16_t)v;
            }
            if (in->base == X86_RBP) defseg = X86_SS;
        } else if (in->mod != 3) {
            /* SDM Vol. 2A, Tables 2-2 and 2-3 */
            if (in->rm == 4) {
                uint8_t sib;
                FETCH(sib);
                in->scale = sib >> 6;
                in->index = ((sib >> 3) & 7) == 4 ? X86_REG_NONE : ((sib >> 3) & 7);
                in->base = sib & 7;
                if (in->base == 5 && in->mod == 0) {
                    uint32_t v;
                    FETCH_IMM(4, v);
                    in->base = X86_REG_NONE;
                    in->disp = (int32_t)v;
                }
            } else if (in->rm == 5 && in->mod == 0) {
                uint32_t v;
                FETCH_IMM(4, v);
                in->disp = (int32_t)v;
            } else {
                in->base = in->rm;
            }
            if (in->mod == 1) {
                uint32_t v;
                FETCH_IMM(1, v);
                in->disp = (int8_t)v;
            } else if (in->mod == 2) {
                uint32_t v;
                FETCH_IMM(4, v);
                in->disp = (int32_t)v;
            }
            if (in->base == X86_RSP || in->base == X86_RBP) defseg = X86_SS;
        }
    } else {
        in->reg = in->rm = b & 7;
    }
    in->seg = (uint8_t)(seg >= 0 ? seg : defseg);
    if (seg >= 0) prefix |= PFX_SEG;
    in->prefix = prefix;

    uint8_t fl = info->flags;
    /* TEST r/m, imm in groups 3 (F6/F7 /0 and /1) carries an immediate. */
    if (in->op == 0xFF && in->reg >= 2 && in->reg <= 5) fl |= OPF_END;  /* CALL/JMP */
    if ((in->op == 0xF6 || in->op == 0xF7) && in->reg <= 1)
        fl |= in->op == 0xF6 ? OPF_IMM8 : OPF_IMMV;
    if (fl & OPF_IMM16) {
        uint32_t v;
        FETCH_IMM(2, v);
        in->imm = v;
        if (fl & OPF_IMM8) {       /* ENTER imm16, imm8 */
            FETCH_IMM(1, v);
            in->imm2 = v;
            fl &= (uint8_t)~OPF_IMM8;
        }
    }
    if (fl & OPF_IMM8) {
        uint32_t v;
        FETCH_IMM(1, v);
        in->imm = (uint32_t)(int32_t)(int8_t)v;
    }
    if (fl & OPF_IMMV) {
        uint32_t v;
        FETCH_IMM(osz, v);
        in->imm = osz == 2 ? (uint32_t)(int32_t)(int16_t)v : v;
    }
    if (fl & OPF_FAR) {
        uint32_t v, s;
        FETCH_IMM(osz, v);
        FETCH_IMM(2, s);
        in->imm = v;
        in->imm2 = s;
    }
    if (fl & OPF_MOFFS) {
        uint32_t v;
        FETCH_IMM(asz, v);
        in->disp = (int32_t)v;
        in->mod = 0;
    }
    in->len = (uint8_t)f->n;
    if (in->fn == op_sse && !x86_sse_modelled(in)) in->fn = op_unimpl;
    if ((prefix & PFX_LOCK) && !lockable(in)) in->fn = op_ud;
    if (fl & OPF_END) in->op |= 0x200;
    return 0;
}

int x86_decode(X86Cpu *cpu, uint64_t ip, X86Insn *in, uint64_t *last_gpa)
{
    Fetch f = { .cpu = cpu, .ip = ip, .page_lin = ~0ull };
    int r = decode_insn(&f, (cpu->cs.attr & X86_AR_DB) != 0, in, false);
    if (r) return r;
    /* x86_specialize() looks at the plain opcode; the block-end mark goes back on after. */
    uint16_t end = in->op & 0x200;
    in->op &= 0x1FF;
    if (in->fn != op_ud && !cpu->slow_path) x86_specialize(in);
    in->op |= end;
    *last_gpa = f.last_gpa;
    return 0;
}

int x86_decode_bytes(const uint8_t *bytes, size_t avail, bool d32, X86Insn *in)
{
    Fetch f = { .buf = bytes, .avail = avail };
    int r = decode_insn(&f, d32, in, true);
    in->op &= 0x1FF;
    return r;
}
