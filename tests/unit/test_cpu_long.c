/*
 * IA-32e mode on the software CPU:
 * - the decoder in 64-bit mode against capstone (CS_MODE_64) over a systematic corpus
 *   (every one-byte and 0F opcode, REX and legacy prefix combinations, ModR/M forms with
 *   SIB, disp8/disp32 and RIP-relative): lengths must agree exactly;
 * - REX (R/X/B extension, W, SPL-DIL, REX cancelled by a later prefix), RIP-relative
 *   offsets, imm64 and moffs64, the 64-bit default operand size, #UD opcodes;
 * - the activation sequence (SDM Vol. 3A, 10.8.5): PAE + LME, then CR0.PG sets LMA;
 *   PG without PAE, LME changes under paging and clearing PG in 64-bit mode are refused;
 * - 64-bit arithmetic run in 64-bit mode against the host CPU (the same instruction).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <capstone/capstone.h>

#define RAM_SIZE (4u << 20)
#include "cpu_fixture.h"
#include "sim/cpu/cpu_internal.h"

/* ---------------------------------------------------------------------------------- */
/* The decoder against capstone                                                          */
/* ---------------------------------------------------------------------------------- */

static int is_legacy_prefix(unsigned b)
{
    return b == 0x26 || b == 0x2E || b == 0x36 || b == 0x3E || b == 0x64 || b == 0x65 ||
           b == 0x66 || b == 0x67 || b == 0xF0 || b == 0xF2 || b == 0xF3;
}

/* Lengths capstone 4 gets wrong, counted apart (never silently): UD1 0F B9 and UD0 0F FF
 * take a ModR/M (SDM Vol. 2B "UD"), as test_disasm.c notes; RET imm16 (C2) has a 16-bit
 * immediate whatever REX.W says (capstone reads 4 bytes); 67 does not change a near
 * branch's rel32 (capstone reads rel16 with 67 and REX.W together). */
static bool capstone_defect(unsigned op, const uint8_t *b, size_t npfx)
{
    bool has67 = false, rexw = false;
    for (size_t i = 0; i < npfx; i++) {
        has67 |= b[i] == 0x67;
        rexw |= (b[i] & 0xF8) == 0x48;
    }
    bool near = op == 0xE8 || op == 0xE9 || (op >= 0x180 && op <= 0x18F);
    return op == 0x1B9 || op == 0x1FF || (op == 0xC2 && rexw) || (near && has67 && rexw);
}

/* Not a defect: the two vendors differ. With 66, a near CALL/JMP/Jcc in 64-bit mode has a
 * 64-bit operand size and rel32 on Intel processors (SDM Vol. 2A, JMP/CALL/Jcc "64-bit
 * mode"), rel16 on AMD's, which capstone follows. This CPU is Intel's. */
static bool vendor_difference(unsigned op, const uint8_t *b, size_t npfx)
{
    bool has66 = false;
    for (size_t i = 0; i < npfx; i++) has66 |= b[i] == 0x66;
    return has66 && (op == 0xE8 || op == 0xE9 || (op >= 0x180 && op <= 0x18F));
}

static void test_decoder_vs_capstone(void **state)
{
    (void)state;
    csh cs;
    assert_int_equal(cs_open(CS_ARCH_X86, CS_MODE_64, &cs), CS_ERR_OK);
    static const uint8_t prefixes[][3] = {
        { 0 }, { 1, 0x48 }, { 1, 0x41 }, { 1, 0x4C }, { 1, 0x42 }, { 1, 0x40 }, { 1, 0x66 },
        { 1, 0x67 }, { 2, 0x66, 0x48 }, { 2, 0x67, 0x49 }, { 2, 0x48, 0x66 }, { 1, 0xF3 },
        { 2, 0x66, 0x41 },
    };
    static const uint8_t modrms[] = { 0x00, 0x05, 0x04, 0x0C, 0x44, 0x45, 0x84, 0x85, 0xC0,
                                      0xC5, 0xE4, 0x3D, 0x14, 0x7C, 0xBC };
    unsigned long checked = 0, bad = 0, defects = 0, vendor = 0;
    for (unsigned op = 0; op < 0x200; op++) {
        if (op < 0x100 && (is_legacy_prefix(op) || op == 0x0F || (op & 0xF0) == 0x40)) continue;
        if (op == 0x138 || op == 0x13A) continue;   /* three-byte maps: not modelled */
        for (size_t p = 0; p < sizeof prefixes / sizeof prefixes[0]; p++) {
            for (size_t m = 0; m < sizeof modrms; m++) {
                uint8_t b[16];
                size_t n = 0;
                for (unsigned i = 0; i < prefixes[p][0]; i++) b[n++] = prefixes[p][1 + i];
                if (op > 0xFF) b[n++] = 0x0F;
                b[n++] = (uint8_t)op;
                b[n++] = modrms[m];
                for (size_t i = n; i < 16; i++) b[i] = (uint8_t)(0x11 * i + 3);
                X86Insn in;
                int r = x86_decode_bytes(b, 15, X86_MODE_LONG64, &in);
                if (r != 0 || in.fn == op_unimpl || in.fn == op_ud) continue;
                cs_insn *insn = NULL;
                size_t count = cs_disasm(cs, b, 15, 0x1000, 1, &insn);
                if (count != 1) continue;   /* capstone has no such instruction */
                checked++;
                if (insn->size != in.len) {
                    if (capstone_defect(op, b, prefixes[p][0])) {
                        defects++;
                    } else if (vendor_difference(op, b, prefixes[p][0])) {
                        vendor++;
                    } else {
                        static unsigned shown_op = ~0u;
                        if (shown_op != op)
                            print_error("64-bit %02x %02x %02x %02x %02x: length %u, capstone %u "
                                        "\"%s %s\"\n", b[0], b[1], b[2], b[3], b[4], in.len,
                                        insn->size, insn->mnemonic, insn->op_str);
                        shown_op = op;
                        bad++;
                    }
                }
                cs_free(insn, count);
            }
        }
    }
    cs_close(&cs);
    print_message("64-bit lengths: %lu checked against capstone, %lu differ, %lu capstone "
                  "defects (UD0/UD1, REX.W C2, 67 REX.W branches), %lu Intel/AMD differences (66 with near "
                  "branches)\n", checked, bad, defects, vendor);
    assert_true(checked > 20000);
    assert_int_equal(bad, 0);
}

static void decode64(const uint8_t *b, size_t n, X86Insn *in)
{
    assert_int_equal(x86_decode_bytes(b, n, X86_MODE_LONG64, in), 0);
}

static void test_rex_fields(void **state)
{
    (void)state;
    X86Insn in;
    /* 4E 8B 44 8D 10: mov r8, [rbp + r9*4 + 0x10] (REX.W R X) */
    decode64((const uint8_t[]){ 0x4E, 0x8B, 0x44, 0x8D, 0x10 }, 5, &in);
    assert_int_equal(in.len, 5);
    assert_int_equal(in.osz, 8);
    assert_int_equal(in.reg, X86_R8);
    assert_int_equal(in.base, X86_RBP);
    assert_int_equal(in.index, X86_R9);
    assert_int_equal(in.scale, 2);
    assert_int_equal(in.disp, 0x10);
    /* 41 8B C5: mov eax, r13d (REX.B on r/m, 32-bit) */
    decode64((const uint8_t[]){ 0x41, 0x8B, 0xC5 }, 3, &in);
    assert_int_equal(in.osz, 4);
    assert_int_equal(in.rm, X86_R13);
    /* 43 8B 04 24: SIB base 4 with REX.B is R12, index 4 with REX.X is... none without X */
    decode64((const uint8_t[]){ 0x41, 0x8B, 0x04, 0x24 }, 4, &in);
    assert_int_equal(in.base, X86_R12);
    assert_int_equal(in.index, X86_REG_NONE);
    decode64((const uint8_t[]){ 0x42, 0x8B, 0x04, 0x24 }, 4, &in);
    assert_int_equal(in.base, X86_RSP);
    assert_int_equal(in.index, X86_R12);
    /* 41 8B 45 00: [r13 + 0] needs its disp8 as [rbp] does */
    decode64((const uint8_t[]){ 0x41, 0x8B, 0x45, 0x00 }, 4, &in);
    assert_int_equal(in.len, 4);
    assert_int_equal(in.base, X86_R13);
    /* 40 88 E0: mov al, spl (AH becomes SPL with any REX) */
    decode64((const uint8_t[]){ 0x40, 0x88, 0xE0 }, 3, &in);
    assert_int_equal(in.reg, X86_RSP + X86_REG_BYTE_REX);
    decode64((const uint8_t[]){ 0x88, 0xE0 }, 2, &in);
    assert_int_equal(in.reg, 4);   /* AH */
    /* 40 B6 05: mov sil, 5 */
    decode64((const uint8_t[]){ 0x40, 0xB6, 0x05 }, 3, &in);
    assert_int_equal(in.reg, X86_RSI + X86_REG_BYTE_REX);
    /* 48 66 89 C0: a legacy prefix after REX cancels it: mov ax, ax */
    decode64((const uint8_t[]){ 0x48, 0x66, 0x89, 0xC0 }, 4, &in);
    assert_int_equal(in.osz, 2);
    /* 66 48 89 C0: REX.W wins over 66 */
    decode64((const uint8_t[]){ 0x66, 0x48, 0x89, 0xC0 }, 4, &in);
    assert_int_equal(in.osz, 8);
    /* 41 90: xchg r8, rax (not NOP) */
    decode64((const uint8_t[]){ 0x41, 0x90 }, 2, &in);
    assert_int_equal(in.reg, X86_R8);
    assert_ptr_equal(in.fn, op_xchg_acc_r);
    /* 48 / 40-4F are REX prefixes, never INC/DEC */
    decode64((const uint8_t[]){ 0x48, 0xFF, 0xC0 }, 3, &in);
    assert_int_equal(in.len, 3);
    assert_int_equal(in.osz, 8);
}

static void test_rip_relative_and_immediates(void **state)
{
    (void)state;
    X86Insn in;
    /* 48 8B 05 10 00 00 00: mov rax, [rip + 0x10]: the offset from the next RIP (a buffer
     * decodes at IP 0, so 7 + 0x10) */
    decode64((const uint8_t[]){ 0x48, 0x8B, 0x05, 0x10, 0, 0, 0 }, 7, &in);
    assert_int_equal(in.len, 7);
    assert_true(in.has_modrm & 2);
    assert_int_equal(in.base, X86_REG_NONE);
    assert_int_equal(in.disp, 7 + 0x10);
    /* with an immediate after the displacement: C7 05 disp32 imm32 */
    decode64((const uint8_t[]){ 0xC7, 0x05, 0xF0, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4 }, 10, &in);
    assert_int_equal(in.len, 10);
    assert_int_equal(in.disp, 10 - 16);
    /* 41 8B 05 ...: REX.B does not turn RIP-relative into r13 */
    decode64((const uint8_t[]){ 0x41, 0x8B, 0x05, 0, 0, 0, 0 }, 7, &in);
    assert_true(in.has_modrm & 2);
    /* SIB with base 5, mod 0: disp32 without base, not RIP-relative */
    decode64((const uint8_t[]){ 0x8B, 0x04, 0x25, 0x00, 0x10, 0, 0 }, 7, &in);
    assert_false(in.has_modrm & 2);
    assert_int_equal(in.disp, 0x1000);
    /* 48 B8 imm64 */
    decode64((const uint8_t[]){ 0x48, 0xB8, 1, 2, 3, 4, 5, 6, 7, 0x88 }, 10, &in);
    assert_int_equal(in.len, 10);
    assert_true(in.imm == 0x8807060504030201ull);
    /* B8 imm32 without REX.W */
    decode64((const uint8_t[]){ 0xB8, 1, 2, 3, 0x84 }, 5, &in);
    assert_int_equal(in.len, 5);
    /* 48 05 imm32: sign-extended to 64 */
    decode64((const uint8_t[]){ 0x48, 0x05, 0, 0, 0, 0x80 }, 6, &in);
    assert_true(in.imm == 0xFFFFFFFF80000000ull);
    /* A1 moffs64; 67 A1 moffs32 */
    decode64((const uint8_t[]){ 0xA1, 1, 2, 3, 4, 5, 6, 7, 8 }, 9, &in);
    assert_int_equal(in.len, 9);
    assert_true((uint64_t)in.disp == 0x0807060504030201ull);
    decode64((const uint8_t[]){ 0x67, 0xA1, 1, 2, 3, 4 }, 6, &in);
    assert_int_equal(in.len, 6);
    assert_int_equal(in.asz, 4);
}

static void test_defaults_and_invalid(void **state)
{
    (void)state;
    X86Insn in;
    decode64((const uint8_t[]){ 0x50 }, 1, &in);           /* push rax */
    assert_int_equal(in.osz, 8);
    decode64((const uint8_t[]){ 0x66, 0x50 }, 2, &in);     /* push ax */
    assert_int_equal(in.osz, 2);
    decode64((const uint8_t[]){ 0x41, 0x5F }, 2, &in);     /* pop r15 */
    assert_int_equal(in.reg, X86_R15);
    assert_int_equal(in.osz, 8);
    decode64((const uint8_t[]){ 0xE8, 0, 0, 0, 0 }, 5, &in);   /* call rel32 */
    assert_int_equal(in.osz, 8);
    assert_int_equal(in.len, 5);
    decode64((const uint8_t[]){ 0x66, 0xE8, 0, 0, 0, 0 }, 6, &in);   /* 66 ignored (Intel) */
    assert_int_equal(in.osz, 8);
    decode64((const uint8_t[]){ 0xFF, 0xD0 }, 2, &in);     /* call rax */
    assert_int_equal(in.osz, 8);
    decode64((const uint8_t[]){ 0x9C }, 1, &in);           /* pushfq */
    assert_int_equal(in.osz, 8);
    decode64((const uint8_t[]){ 0x89, 0xC0 }, 2, &in);     /* mov eax, eax: 32 by default */
    assert_int_equal(in.osz, 4);
    assert_int_equal(in.asz, 8);
    static const uint8_t invalid[] = { 0x06, 0x07, 0x0E, 0x16, 0x17, 0x1E, 0x1F, 0x27, 0x2F,
                                       0x37, 0x3F, 0x60, 0x61, 0x62, 0x82, 0x9A, 0xC4, 0xC5,
                                       0xCE, 0xD4, 0xD5, 0xD6, 0xEA };
    for (size_t i = 0; i < sizeof invalid; i++) {
        uint8_t b[15] = { invalid[i], 0xC0 };
        decode64(b, sizeof b, &in);
        assert_ptr_equal(in.fn, op_ud);
        /* the same bytes in 32-bit code are instructions */
        assert_int_equal(x86_decode_bytes(b, sizeof b, X86_MODE_PROT32, &in), 0);
        assert_ptr_not_equal(in.fn, op_ud);
    }
    decode64((const uint8_t[]){ 0x63, 0xC1 }, 2, &in);     /* movsxd, not arpl */
    assert_ptr_equal(in.fn, op_movsxd);
}

/* ---------------------------------------------------------------------------------- */
/* The activation sequence and 64-bit execution on the bare CPU                          */
/* ---------------------------------------------------------------------------------- */

#define GDT 0x1000
#define PML4 0x2000
#define PDPT 0x3000
#define CODE 0x10000
#define STACK 0x80000

static void put64(Fx *fx, uint64_t a, uint64_t v) { memcpy(fx->ram + a, &v, 8); }

/* Flat 32-bit protected mode with paging off, a GDT (1: 32-bit code, 2: data, 3: 64-bit
 * code), a PML4 whose first PDPTE maps the first GiB with a 1 GiB page, and no IDT (an
 * exception is a triple fault). */
static Fx *fx_prot32(void)
{
    Fx *fx = fx_create();
    assert_non_null(fx);
    X86Cpu *cpu = fx->cpu;
    put64(fx, GDT + 8, 0x00CF9B000000FFFFull);
    put64(fx, GDT + 16, 0x00CF93000000FFFFull);
    put64(fx, GDT + 24, 0x00AF9B000000FFFFull);
    put64(fx, PML4, PDPT | 3);
    put64(fx, PDPT, 0x83);   /* 1 GiB, present, writable */
    cpu->gdtr = (X86DescTable){ GDT, 31 };
    cpu->idtr = (X86DescTable){ 0, 0 };
    cpu->cr0 = X86_CR0_PE | X86_CR0_ET;
    cpu->cr3 = PML4;
    X86Segment code = { 8, 0, 0xFFFFFFFF, 0xB | X86_AR_S | X86_AR_P | X86_AR_DB | X86_AR_G };
    X86Segment data = { 16, 0, 0xFFFFFFFF, 0x3 | X86_AR_S | X86_AR_P | X86_AR_DB | X86_AR_G };
    cpu->cs = code;
    cpu->ss = cpu->ds = cpu->es = cpu->fs = cpu->gs = data;
    cpu->rip = CODE;
    cpu->gpr[X86_RSP] = STACK;
    x86_cpu_update_mode(cpu);
    return fx;
}

static X86Exit run_code(Fx *fx, const uint8_t *code, size_t n)
{
    memcpy(fx->ram + CODE, code, n);
    x86_cpu_tlb_flush(fx->cpu);
    return x86_cpu_run(fx->cpu, 10000);
}

static void test_activation(void **state)
{
    (void)state;
    Fx *fx = fx_prot32();
    X86Cpu *cpu = fx->cpu;
    /* EFER: SCE LME NXE are valid; reserved bits are not */
    assert_true(x86_cpu_efer_valid(cpu, X86_EFER_LME_BIT | X86_EFER_SCE_BIT | X86_EFER_NXE_BIT));
    assert_false(x86_cpu_efer_valid(cpu, 1ull << 2));
    x86_cpu_set_efer(cpu, X86_EFER_LME_BIT | X86_EFER_LMA_BIT);
    assert_int_equal(cpu->efer, X86_EFER_LME_BIT);   /* LMA is the CPU's to set */
    static const uint8_t enable[] = {
        0x0F, 0x20, 0xE0,                   /* mov eax, cr4 */
        0x83, 0xC8, 0x20,                   /* or eax, PAE */
        0x0F, 0x22, 0xE0,                   /* mov cr4, eax */
        0x0F, 0x20, 0xC0,                   /* mov eax, cr0 */
        0x0D, 0x00, 0x00, 0x00, 0x80,       /* or eax, PG */
        0x0F, 0x22, 0xC0,                   /* mov cr0, eax: LMA, compatibility mode */
        0xEA, 0x20, 0x00, 0x01, 0x00, 0x18, 0x00,   /* jmp far 0x18:0x10020 */
        0, 0, 0, 0, 0,
        /* 0x10020, 64-bit code: */
        0x48, 0xB8, 1, 0, 0, 0, 1, 0, 0, 0,  /* mov rax, 0x100000001 */
        0x48, 0x8D, 0x1D, 0xF0, 0xFF, 0xFF, 0xFF,  /* lea rbx, [rip - 16] */
        0xF4,
    };
    assert_int_equal(run_code(fx, enable, sizeof enable), X86_EXIT_HLT);
    assert_true(cpu->efer & X86_EFER_LMA_BIT);
    assert_int_equal(cpu->mode, X86_MODE_LONG64);
    assert_true(cpu->gpr[X86_RAX] == 0x100000001ull);
    assert_true(cpu->gpr[X86_RBX] == 0x10020 + 10 + 7 - 16);
    /* LME cannot change under paging */
    assert_false(x86_cpu_efer_valid(cpu, 0));
    /* clearing PG in 64-bit mode: #GP (a triple fault here: no IDT), nothing changed */
    static const uint8_t clear_pg[] = {
        0x0F, 0x20, 0xC0, 0x25, 0xFF, 0xFF, 0xFF, 0x7F, 0x0F, 0x22, 0xC0, 0xF4,
    };
    cpu->rip = CODE;
    assert_int_equal(run_code(fx, clear_pg, sizeof clear_pg), X86_EXIT_TRIPLE_FAULT);
    assert_true(cpu->cr0 & X86_CR0_PG);
    assert_true(cpu->efer & X86_EFER_LMA_BIT);
    /* clearing CR4.PAE in IA-32e mode: #GP */
    static const uint8_t clear_pae[] = {
        0x0F, 0x20, 0xE0, 0x83, 0xE0, 0xDF, 0x0F, 0x22, 0xE0, 0xF4,
    };
    cpu->rip = CODE;
    assert_int_equal(run_code(fx, clear_pae, sizeof clear_pae), X86_EXIT_TRIPLE_FAULT);
    assert_true(cpu->cr4 & X86_CR4_PAE_BIT);
    fx_teardown((void **)&fx);

    /* PG with LME but without PAE: #GP, LMA stays clear */
    fx = fx_prot32();
    cpu = fx->cpu;
    x86_cpu_set_efer(cpu, X86_EFER_LME_BIT);
    static const uint8_t no_pae[] = {
        0x0F, 0x20, 0xC0, 0x0D, 0x00, 0x00, 0x00, 0x80, 0x0F, 0x22, 0xC0, 0xF4,
    };
    assert_int_equal(run_code(fx, no_pae, sizeof no_pae), X86_EXIT_TRIPLE_FAULT);
    assert_false(cpu->efer & X86_EFER_LMA_BIT);
    assert_false(cpu->cr0 & X86_CR0_PG);
    fx_teardown((void **)&fx);
}

/* The CPU in 64-bit mode at CODE (as after the sequence above). */
static Fx *fx_long64(void)
{
    Fx *fx = fx_prot32();
    X86Cpu *cpu = fx->cpu;
    cpu->cr4 = X86_CR4_PAE_BIT;
    cpu->cr0 |= X86_CR0_PG;
    cpu->efer = X86_EFER_LME_BIT | X86_EFER_LMA_BIT;
    cpu->cs = (X86Segment){ 0x18, 0, 0xFFFFFFFF, 0xB | X86_AR_S | X86_AR_P | X86_AR_L | X86_AR_G };
    x86_cpu_update_mode(cpu);
    return fx;
}

/* Runs `code` (ending in HLT) in 64-bit mode from registers `in`; the registers after. */
static void run64(const uint8_t *code, size_t n, const uint64_t in[16], uint64_t out[16],
                  uint32_t *flags)
{
    Fx *fx = fx_long64();
    memcpy(fx->cpu->gpr, in, 16 * sizeof in[0]);
    fx->cpu->gpr[X86_RSP] = STACK;
    assert_int_equal(run_code(fx, code, n), X86_EXIT_HLT);
    memcpy(out, fx->cpu->gpr, 16 * sizeof out[0]);
    *flags = (uint32_t)x86_cpu_get_rflags(fx->cpu);
    fx_teardown((void **)&fx);
}

#define ARITH (X86_FLAG_CF | X86_FLAG_ZF | X86_FLAG_SF | X86_FLAG_OF | X86_FLAG_PF)

#if defined(__x86_64__)
/* The host runs the same instruction on the same inputs (RAX, RDX, RCX, RBX as in[0..3]). */
#define HOST_CASE(INSN, MASK)                                                             \
    do {                                                                                  \
        uint64_t a = in[0], d = in[2], c = in[1], bx = in[3], fl;                         \
        __asm__ volatile("push %[f]\n\tpopfq\n\t" INSN "\n\tpushfq\n\tpop %[f]"           \
                         : "+a"(a), "+d"(d), "+c"(c), "+b"(bx), [f] "=&r"(fl)             \
                         : "[f]"((uint64_t)0x202)                                         \
                         : "cc");                                                         \
        assert_true(out[X86_RAX] == a);                                                   \
        assert_true(out[X86_RDX] == d);                                                   \
        assert_true(out[X86_RCX] == c);                                                   \
        assert_true(out[X86_RBX] == bx);                                                  \
        assert_int_equal(flags & (MASK), (uint32_t)fl & (MASK));                          \
    } while (0)
#endif

static void test_alu64_vs_host(void **state)
{
    (void)state;
#if defined(__x86_64__)
    static const uint64_t values[] = { 0, 1, 2, 0x7FFFFFFFFFFFFFFFull, 0x8000000000000000ull,
                                       0xFFFFFFFFFFFFFFFFull, 0x123456789ABCDEF0ull,
                                       0xFFFFFFFF00000000ull, 0x00000000FFFFFFFFull, 63, 64,
                                       0xFEDCBA9876543210ull };
    const size_t nv = sizeof values / sizeof values[0];
    for (size_t i = 0; i < nv; i++) {
        for (size_t j = 0; j < nv; j++) {
            uint64_t in[16] = { 0 }, out[16];
            uint32_t flags;
            in[X86_RAX] = values[i];
            in[X86_RCX] = values[j];
            in[X86_RDX] = values[(i + j) % nv];
            in[X86_RBX] = values[(i * 7 + j) % nv];
            /* mul rcx: 48 F7 E1 */
            run64((const uint8_t[]){ 0x48, 0xF7, 0xE1, 0xF4 }, 4, in, out, &flags);
            HOST_CASE("mulq %%rcx", X86_FLAG_CF | X86_FLAG_OF);
            /* imul rcx (one operand) */
            run64((const uint8_t[]){ 0x48, 0xF7, 0xE9, 0xF4 }, 4, in, out, &flags);
            HOST_CASE("imulq %%rcx", X86_FLAG_CF | X86_FLAG_OF);
            /* imul rax, rcx */
            run64((const uint8_t[]){ 0x48, 0x0F, 0xAF, 0xC1, 0xF4 }, 5, in, out, &flags);
            HOST_CASE("imulq %%rcx, %%rax", X86_FLAG_CF | X86_FLAG_OF);
            /* add/sub/adc/sbb/and/xor/cmp rax, rcx */
            run64((const uint8_t[]){ 0x48, 0x01, 0xC8, 0xF4 }, 4, in, out, &flags);
            HOST_CASE("addq %%rcx, %%rax", ARITH);
            run64((const uint8_t[]){ 0x48, 0x29, 0xC8, 0xF4 }, 4, in, out, &flags);
            HOST_CASE("subq %%rcx, %%rax", ARITH);
            run64((const uint8_t[]){ 0x48, 0x31, 0xC8, 0xF4 }, 4, in, out, &flags);
            HOST_CASE("xorq %%rcx, %%rax", ARITH & ~X86_FLAG_OF);
            run64((const uint8_t[]){ 0x48, 0x39, 0xC8, 0xF4 }, 4, in, out, &flags);
            HOST_CASE("cmpq %%rcx, %%rax", ARITH);
            /* 32-bit results zero-extend: add eax, ecx */
            run64((const uint8_t[]){ 0x01, 0xC8, 0xF4 }, 3, in, out, &flags);
            HOST_CASE("addl %%ecx, %%eax", ARITH);
            /* shl/shr/sar/rol rax, cl (count masked to 6 bits) */
            run64((const uint8_t[]){ 0x48, 0xD3, 0xE0, 0xF4 }, 4, in, out, &flags);
            HOST_CASE("shlq %%cl, %%rax", (in[X86_RCX] & 63) == 1 ? ARITH : (in[X86_RCX] & 63) ? ARITH & ~X86_FLAG_OF : 0);
            run64((const uint8_t[]){ 0x48, 0xD3, 0xE8, 0xF4 }, 4, in, out, &flags);
            HOST_CASE("shrq %%cl, %%rax", (in[X86_RCX] & 63) == 1 ? ARITH : (in[X86_RCX] & 63) ? ARITH & ~X86_FLAG_OF : 0);
            run64((const uint8_t[]){ 0x48, 0xD3, 0xF8, 0xF4 }, 4, in, out, &flags);
            HOST_CASE("sarq %%cl, %%rax", (in[X86_RCX] & 63) ? ARITH & ~X86_FLAG_OF : 0);
            /* shld/shrd rax, rdx, cl */
            run64((const uint8_t[]){ 0x48, 0x0F, 0xA5, 0xD0, 0xF4 }, 5, in, out, &flags);
            HOST_CASE("shldq %%cl, %%rdx, %%rax", (in[X86_RCX] & 63) ? X86_FLAG_CF | X86_FLAG_ZF | X86_FLAG_SF | X86_FLAG_PF : 0);
            run64((const uint8_t[]){ 0x48, 0x0F, 0xAD, 0xD0, 0xF4 }, 5, in, out, &flags);
            HOST_CASE("shrdq %%cl, %%rdx, %%rax", (in[X86_RCX] & 63) ? X86_FLAG_CF | X86_FLAG_ZF | X86_FLAG_SF | X86_FLAG_PF : 0);
            /* bswap rax, cqo, cdqe, movsxd rax, ecx */
            run64((const uint8_t[]){ 0x48, 0x0F, 0xC8, 0xF4 }, 4, in, out, &flags);
            HOST_CASE("bswapq %%rax", 0);
            run64((const uint8_t[]){ 0x48, 0x99, 0xF4 }, 3, in, out, &flags);
            HOST_CASE("cqto", 0);
            run64((const uint8_t[]){ 0x48, 0x98, 0xF4 }, 3, in, out, &flags);
            HOST_CASE("cltq", 0);
            run64((const uint8_t[]){ 0x48, 0x63, 0xC1, 0xF4 }, 4, in, out, &flags);
            HOST_CASE("movslq %%ecx, %%rax", 0);
            /* bsr rax, rcx (the destination is unchanged for 0 on this host and model) */
            if (in[X86_RCX]) {
                run64((const uint8_t[]){ 0x48, 0x0F, 0xBD, 0xC1, 0xF4 }, 5, in, out, &flags);
                HOST_CASE("bsrq %%rcx, %%rax", X86_FLAG_ZF);
                run64((const uint8_t[]){ 0x48, 0x0F, 0xBC, 0xC1, 0xF4 }, 5, in, out, &flags);
                HOST_CASE("bsfq %%rcx, %%rax", X86_FLAG_ZF);
            }
            /* div/idiv rcx when the quotient fits (else #DE: triple fault here) */
            unsigned __int128 n = ((unsigned __int128)in[X86_RDX] << 64) | in[X86_RAX];
            if (in[X86_RCX] && (n / in[X86_RCX]) >> 64 == 0) {
                run64((const uint8_t[]){ 0x48, 0xF7, 0xF1, 0xF4 }, 4, in, out, &flags);
                HOST_CASE("divq %%rcx", 0);
            }
            __int128 sn = (__int128)n, sd = (int64_t)in[X86_RCX];
            if (sd && !(sd == -1 && (n >> 127)) && sn / sd <= INT64_MAX && sn / sd >= INT64_MIN) {
                run64((const uint8_t[]){ 0x48, 0xF7, 0xF9, 0xF4 }, 4, in, out, &flags);
                HOST_CASE("idivq %%rcx", 0);
            }
        }
    }
#else
    skip();
#endif
}

/* PUSH/POP, CALL/RET with 8-byte slots and RIP-relative data in 64-bit mode. */
static void test_stack_and_rip_relative(void **state)
{
    (void)state;
    Fx *fx = fx_long64();
    X86Cpu *cpu = fx->cpu;
    static const uint8_t code[] = {
        0x48, 0xB8, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,  /* mov rax, imm64 */
        0x50,                                   /* push rax */
        0x41, 0x5B,                             /* pop r11 */
        0xE8, 0x02, 0x00, 0x00, 0x00,           /* call +2 */
        0xEB, 0x0A,                             /* jmp to the store */
        0x4C, 0x8B, 0x14, 0x24,                 /* mov r10, [rsp] (the return address) */
        0xC3,                                   /* ret */
        0x00, 0x00, 0x00, 0x00, 0x00,
        0x48, 0x89, 0x05, 0x09, 0x00, 0x00, 0x00,   /* mov [rip + 9], rax */
        0xF4,
    };
    assert_int_equal(run_code(fx, code, sizeof code), X86_EXIT_HLT);
    assert_true(cpu->gpr[X86_R11] == 0x1122334455667788ull);
    assert_true(cpu->gpr[X86_R10] == CODE + 18);
    assert_true(cpu->gpr[X86_RSP] == STACK);
    uint64_t stored;
    memcpy(&stored, fx->ram + CODE + 30 + 7 + 9, 8);
    assert_true(stored == 0x1122334455667788ull);
    fx_teardown((void **)&fx);
}

/* SSE conversions with 64-bit integers (REX.W) against the host's. */
static void test_sse_conversions64(void **state)
{
    (void)state;
#if defined(__x86_64__)
    static const int64_t values[] = { 0, 1, -1, 123456789012345ll, -98765432109876ll,
                                      INT64_MAX, INT64_MIN, 1ll << 53, (1ll << 53) + 1 };
    static const uint8_t code[] = {
        0xF2, 0x48, 0x0F, 0x2A, 0xC0,   /* cvtsi2sd xmm0, rax */
        0xF2, 0x48, 0x0F, 0x2C, 0xC8,   /* cvttsd2si rcx, xmm0 */
        0x66, 0x48, 0x0F, 0x7E, 0xC2,   /* movq rdx, xmm0 */
        0xF3, 0x48, 0x0F, 0x2A, 0xC8,   /* cvtsi2ss xmm1, rax */
        0xF3, 0x48, 0x0F, 0x2D, 0xD9,   /* cvtss2si rbx, xmm1 */
        0xF4,
    };
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        Fx *fx = fx_long64();
        X86Cpu *cpu = fx->cpu;
        cpu->cr4 |= X86_CR4_OSFXSR_BIT | X86_CR4_OSXMMEXCPT_BIT;
        cpu->gpr[X86_RAX] = (uint64_t)values[i];
        assert_int_equal(run_code(fx, code, sizeof code), X86_EXIT_HLT);
        double d = (double)values[i];
        uint64_t bits;
        memcpy(&bits, &d, 8);
        int64_t t, r;
        float f;
        __asm__("cvttsd2si %1, %0" : "=r"(t) : "x"(d));
        __asm__("cvtsi2ss %1, %0" : "=x"(f) : "r"(values[i]));
        __asm__("cvtss2si %1, %0" : "=r"(r) : "x"(f));
        assert_true(cpu->gpr[X86_RDX] == bits);
        assert_true(cpu->gpr[X86_RCX] == (uint64_t)t);
        assert_true(cpu->gpr[X86_RBX] == (uint64_t)r);
        fx_teardown((void **)&fx);
    }
#else
    skip();
#endif
}

/* Hostile encodings in 64-bit mode: REX.R on MOV DR (DR8-15) and on MOV Sreg is #UD, and
 * nothing outside the register file changes (no write past dr[] or seg[]). */
static void test_rex_hostile(void **state)
{
    (void)state;
    Fx *fx = fx_long64();
    X86Cpu *cpu = fx->cpu;
    uint64_t dr[8];
    memcpy(dr, cpu->dr, sizeof dr);
    X86Segment seg[8];
    memcpy(seg, cpu->seg, sizeof seg);
    static const uint8_t mov_dr8[] = { 0x44, 0x0F, 0x23, 0xC0, 0xF4 };   /* mov dr8, rax */
    cpu->gpr[X86_RAX] = 0x1234;
    assert_int_equal(run_code(fx, mov_dr8, sizeof mov_dr8), X86_EXIT_TRIPLE_FAULT);
    assert_memory_equal(dr, cpu->dr, sizeof dr);
    fx_teardown((void **)&fx);
    fx = fx_long64();
    cpu = fx->cpu;
    static const uint8_t mov_sreg[] = { 0x44, 0x8E, 0xC0, 0xF4 };   /* mov es(+8), ax */
    assert_int_equal(run_code(fx, mov_sreg, sizeof mov_sreg), X86_EXIT_TRIPLE_FAULT);
    assert_int_equal(cpu->es.selector, seg[X86_ES].selector);
    fx_teardown((void **)&fx);
    /* MOV DR7 with bits 63:32 set: #GP */
    fx = fx_long64();
    cpu = fx->cpu;
    static const uint8_t mov_dr7[] = { 0x0F, 0x23, 0xF8, 0xF4 };     /* mov dr7, rax */
    cpu->gpr[X86_RAX] = 1ull << 32;
    assert_int_equal(run_code(fx, mov_dr7, sizeof mov_dr7), X86_EXIT_TRIPLE_FAULT);
    assert_int_equal(cpu->dr[7], 0x400);
    fx_teardown((void **)&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decoder_vs_capstone),
        cmocka_unit_test(test_rex_fields),
        cmocka_unit_test(test_rip_relative_and_immediates),
        cmocka_unit_test(test_defaults_and_invalid),
        cmocka_unit_test(test_activation),
        cmocka_unit_test(test_alu64_vs_host),
        cmocka_unit_test(test_stack_and_rip_relative),
        cmocka_unit_test(test_rex_hostile),
        cmocka_unit_test(test_sse_conversions64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
