/*
 * x86_disassemble (src/sim/cpu/disasm.c):
 * - exact objdump text for common real-mode and 32-bit instructions (each expected string
 *   is what `objdump -D -b binary -m i8086` / `-m i386` (binutils 2.40) prints for the bytes);
 * - arguments, truncated input, unknown opcodes;
 * - the disassembler's table covers every opcode the CPU's decoder knows, with the
 *   decoder's lengths;
 * - capstone (CS_ARCH_X86, CS_MODE_16/32, AT&T) as an independent oracle over the
 *   systematic corpus of disasm_corpus.h: lengths must agree exactly wherever capstone
 *   decodes an instruction the CPU accepts; mnemonics must agree after a normalisation that
 *   only removes cosmetic differences (listed in mnemonic_base / aliases below).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <capstone/capstone.h>

#include "hypervisor_sim.h"
#include "sim/cpu/cpu_internal.h"
#include "disasm_corpus.h"

typedef struct {
    int bits;
    uint64_t ip;
    const char *hex;      /* instruction bytes */
    const char *text;     /* objdump's text */
} Fixed;

static const Fixed fixed[] = {
    /* 16-bit (objdump -m i8086) */
    { 16, 0, "baf803", "mov    $0x3f8,%dx" },
    { 16, 0, "ee", "out    %al,(%dx)" },
    { 16, 0, "f3a5", "rep movsw %ds:(%si),%es:(%di)" },
    { 16, 0, "ea5be000f0", "ljmp   $0xf000,$0xe05b" },
    { 16, 0x7b27, "e80001", "call   0x7c2a" },
    { 16, 0xb, "e80001", "call   0x10e" },
    { 16, 0, "c3", "ret" },
    { 16, 0, "90", "nop" },
    { 16, 0, "c70600100100", "movw   $0x1,0x1000" },
    { 16, 0, "830705", "addw   $0x5,(%bx)" },
    { 16, 0, "268b07", "mov    %es:(%bx),%ax" },
    { 16, 0, "2690", "es nop" },
    { 16, 0, "f00107", "lock add %ax,(%bx)" },
    { 16, 0, "f3a6", "repz cmpsb %es:(%di),%ds:(%si)" },
    { 16, 0, "f2ae", "repnz scas %es:(%di),%al" },
    { 16, 0, "660fb6c0", "movzbl %al,%eax" },
    { 16, 0, "0fb607", "movzbw (%bx),%ax" },
    { 16, 0, "0fbf07", "movsww (%bx),%ax" },
    { 16, 0, "6660", "pushal" },
    { 16, 0, "61", "popa" },
    { 16, 0, "6698", "cwtl" },
    { 16, 0, "98", "cbtw" },
    { 16, 0, "6699", "cltd" },
    { 16, 0, "cd10", "int    $0x10" },
    { 16, 0, "cc", "int3" },
    { 16, 0, "0f20c0", "mov    %cr0,%eax" },
    { 16, 0, "0f22d8", "mov    %eax,%cr3" },
    { 16, 0, "0fa2", "cpuid" },
    { 16, 0, "0f31", "rdtsc" },
    { 16, 0, "0f32", "rdmsr" },
    { 16, 0, "0f30", "wrmsr" },
    { 16, 0, "0f44c1", "cmove  %cx,%ax" },
    { 16, 0, "678b0488", "mov    (%eax,%ecx,4),%ax" },
    { 16, 0, "66678b442408", "mov    0x8(%esp),%eax" },
    { 16, 0, "8ed8", "mov    %ax,%ds" },
    { 16, 0, "8cc8", "mov    %cs,%ax" },
    { 16, 0, "683412", "push   $0x1234" },
    { 16, 0, "6aff", "push   $0xffff" },
    { 16, 0, "666aff", "pushl  $0xffffffff" },
    { 16, 0, "c20400", "ret    $0x4" },
    { 16, 0, "cb", "lret" },
    { 16, 0, "cf", "iret" },
    { 16, 0, "66cf", "iretl" },
    { 16, 0, "c8100001", "enter  $0x10,$0x1" },
    { 16, 0, "ff17", "call   *(%bx)" },
    { 16, 0, "ff2f", "ljmp   *(%bx)" },
    { 16, 0, "ffe0", "jmp    *%ax" },
    { 16, 0, "d7", "xlat   %ds:(%bx)" },
    { 16, 0, "a03412", "mov    0x1234,%al" },
    { 16, 0, "a33412", "mov    %ax,0x1234" },
    { 16, 0, "6c", "insb   (%dx),%es:(%di)" },
    { 16, 0, "6f", "outsw  %ds:(%si),(%dx)" },
    { 16, 0, "e460", "in     $0x60,%al" },
    { 16, 0, "e680", "out    %al,$0x80" },
    { 16, 0, "ed", "in     (%dx),%ax" },
    { 16, 0, "d127", "shlw   (%bx)" },
    { 16, 0, "c12703", "shlw   $0x3,(%bx)" },
    { 16, 0, "d327", "shlw   %cl,(%bx)" },
    { 16, 0, "0f9407", "sete   (%bx)" },
    { 16, 0, "0fc8", "bswap  %ax" },
    { 16, 0, "91", "xchg   %ax,%cx" },
    { 16, 0, "d40a", "aam    $0xa" },
    { 16, 0, "0fba2703", "btw    $0x3,(%bx)" },
    { 16, 0, "0fa4c304", "shld   $0x4,%ax,%bx" },
    { 16, 0, "0fa507", "shld   %cl,%ax,(%bx)" },
    { 16, 0, "6bc3fe", "imul   $0xfffe,%bx,%ax" },
    { 16, 0, "0fafc3", "imul   %bx,%ax" },
    { 16, 0, "f60701", "testb  $0x1,(%bx)" },
    { 16, 0, "f737", "divw   (%bx)" },
    { 16, 0, "8b46fe", "mov    -0x2(%bp),%ax" },
    { 16, 0, "8b8600ff", "mov    -0x100(%bp),%ax" },
    { 16, 0, "678b0500100000", "addr32 mov 0x1000,%ax" },
    { 16, 0, "c407", "les    (%bx),%ax" },
    { 16, 0, "0fb207", "lss    (%bx),%ax" },
    { 16, 0, "0fb407", "lfs    (%bx),%ax" },
    { 16, 0, "6207", "bound  %ax,(%bx)" },
    { 16, 0, "8d4702", "lea    0x2(%bx),%ax" },
    { 16, 0x79, "66e800010000", "calll  0x17f" },
    { 16, 0x7f, "74fe", "je     0x7f" },
    { 16, 0x81, "0f840001", "je     0x185" },
    { 16, 0x85, "e3fe", "jcxz   0x85" },
    { 16, 0x87, "67e3fe", "jecxz  0x88" },
    { 16, 0, "0f01160010", "lgdtw  0x1000" },
    { 16, 0, "0f01e0", "smsw   %ax" },
    { 16, 0, "9c", "pushf" },
    { 16, 0, "669d", "popfl" },
    { 16, 0, "0fa0", "push   %fs" },
    { 16, 0, "0fa9", "pop    %gs" },
    { 16, 0, "0f1f00", "nopw   (%bx,%si)" },
    { 16, 0, "0f0b", "ud2" },
    { 16, 0, "0fb107", "cmpxchg %ax,(%bx)" },
    { 16, 0, "0fc107", "xadd   %ax,(%bx)" },
    { 16, 0, "fe07", "incb   (%bx)" },
    { 16, 0, "66a5", "movsl  %ds:(%si),%es:(%di)" },
    { 16, 0, "2ea5", "movsw  %cs:(%si),%es:(%di)" },
    { 16, 0, "f3ab", "rep stos %ax,%es:(%di)" },
    { 16, 0, "26aa", "es stos %al,%es:(%di)" },
    { 16, 0, "67ac", "lods   %ds:(%esi),%al" },
    { 16, 0, "f390", "pause" },
    { 16, 0, "fb", "sti" },
    { 16, 0, "fa", "cli" },
    { 16, 0, "f4", "hlt" },
    { 16, 0, "66c3", "retl" },
    { 16, 0, "66cb", "lretl" },
    { 16, 0, "66ff37", "pushl  (%bx)" },
    { 16, 0, "66ff1f", "lcalll *(%bx)" },
    { 16, 0, "9a000000f0", "lcall  $0xf000,$0x0" },
    { 16, 0, "6606", "pushl  %es" },
    { 16, 0, "6650", "push   %eax" },
    { 16, 0, "0f0116" "0010", "lgdtw  0x1000" },
    { 16, 0x11, "66eb00", "data32 jmp 0x14" },
    { 16, 0, "dc e1", "fsub   %st,%st(1)" },
    { 16, 0, "d8c1", "fadd   %st(1),%st" },
    { 16, 0, "dfe0", "fnstsw %ax" },
    { 16, 0, "d9c9", "fxch   %st(1)" },
    { 16, 0, "2e7400", "je,pn  0x3" },
    /* MOV CR/DR ignore the mod bits, UD0 takes a ModR/M (SDM): the CPU's decoder got
     * these lengths wrong before this comparison found them. */
    { 16, 0, "0f2006", "mov    %cr0,%esi" },
    { 16, 0, "0f233f", "mov    %edi,%db7" },
    { 16, 0, "660f2200", "data32 mov %eax,%cr0" },
    { 16, 0, "0fff00", "ud0    (%bx,%si),%ax" },
    /* Pentium / P6 additions (objdump -m i8086 / i386 text) */
    { 16, 0, "0fc70f", "cmpxchg8b (%bx)" },
    { 32, 0, "0fc708", "cmpxchg8b (%eax)" },
    { 32, 0, "f00fc70c24", "lock cmpxchg8b (%esp)" },
    { 32, 0, "660fc708", "data16 cmpxchg8b (%eax)" },
    { 32, 0, "0f34", "sysenter" },
    { 32, 0, "0f35", "sysexit" },
    { 32, 0, "0f01c1", "vmcall" },
    { 32, 0, "0f1800", "prefetchnta (%eax)" },
    { 32, 0, "0f1818", "prefetcht2 (%eax)" },
    { 32, 0, "0f1820", "nopl   (%eax)" },
    { 32, 0, "0f18c0", "nop    %eax" },
    { 32, 0, "0f1900", "nopl   (%eax)" },
    { 32, 0, "660f1900", "nopw   (%eax)" },
    { 32, 0, "0f1ec8", "nop    %eax" },
    { 32, 0, "f30f1efb", "endbr32" },
    { 32, 0, "f30f1efa", "endbr64" },
    { 32, 0, "f3f30f1efa", "repz endbr64" },
    /* 32-bit (objdump -m i386) */
    { 32, 0, "b8f8030000", "mov    $0x3f8,%eax" },
    { 32, 0, "8b442408", "mov    0x8(%esp),%eax" },
    { 32, 0, "8b0488", "mov    (%eax,%ecx,4),%eax" },
    { 32, 0, "8b0420", "mov    (%eax,%eiz,1),%eax" },
    { 32, 0, "0f1f440000", "nopl   0x0(%eax,%eax,1)" },
    { 32, 0, "668b07", "mov    (%edi),%ax" },
    { 32, 0, "67668b07", "mov    (%bx),%ax" },
    { 32, 0, "f3a5", "rep movsl %ds:(%esi),%es:(%edi)" },
    { 32, 0, "66f3a5", "rep movsw %ds:(%esi),%es:(%edi)" },
    { 32, 0x1000, "e8fb0f0000", "call   0x2000" },
    { 32, 0, "6660", "pushaw" },
    { 32, 0, "66cf", "iretw" },
    { 32, 0, "cf", "iret" },
    { 32, 0, "0fb7c0", "movzwl %ax,%eax" },
    { 32, 0, "0fbec0", "movsbl %al,%eax" },
    { 32, 0, "ea78563412cdab", "ljmp   $0xabcd,$0x12345678" },
    { 32, 0, "c7050010000001000000", "movl   $0x1,0x1000" },
    { 32, 0, "0f011500100000", "lgdtl  0x1000" },
    { 32, 0, "f00fb10a", "lock cmpxchg %ecx,(%edx)" },
    { 32, 0, "0f23f8", "mov    %eax,%db7" },
    /* SSE/SSE2 (objdump -m i386) */
    { 32, 0, "660f70c11b", "pshufd $0x1b,%xmm1,%xmm0" },
    { 32, 0, "0fc2c100", "cmpeqps %xmm1,%xmm0" },
    { 32, 0, "0fc2c108", "cmpps  $0x8,%xmm1,%xmm0" },
    { 32, 0, "f30fc20001", "cmpltss (%eax),%xmm0" },
    { 32, 0, "660f73d904", "psrldq $0x4,%xmm1" },
    { 32, 0, "f30f2a00", "cvtsi2ss (%eax),%xmm0" },
    { 32, 0, "f20f2dc0", "cvtsd2si %xmm0,%eax" },
    { 32, 0, "660fc40005", "pinsrw $0x5,(%eax),%xmm0" },
    { 32, 0, "660fc5c103", "pextrw $0x3,%xmm1,%eax" },
    { 32, 0, "0f50c1", "movmskps %xmm1,%eax" },
    { 32, 0, "660ff7c1", "maskmovdqu %xmm1,%xmm0" },
    { 32, 0, "0f12c1", "movhlps %xmm1,%xmm0" },
    { 32, 0, "0f1300", "movlps %xmm0,(%eax)" },
    { 32, 0, "0fc6c11b", "shufps $0x1b,%xmm1,%xmm0" },
    { 32, 0, "f30fe6c1", "cvtdq2pd %xmm1,%xmm0" },
    { 32, 0, "660f2f00", "comisd (%eax),%xmm0" },
    { 32, 0, "660f72e003", "psrad  $0x3,%xmm0" },
    { 32, 0, "660ff4c1", "pmuludq %xmm1,%xmm0" },
    /* MMX, and SSE/SSE2 on MMX registers (objdump -m i386) */
    { 32, 0, "0f77", "emms" },
    { 32, 0, "0f70c11b", "pshufw $0x1b,%mm1,%mm0" },
    { 32, 0, "0f2ac1", "cvtpi2ps %mm1,%xmm0" },
    { 32, 0, "0f2dc1", "cvtps2pi %xmm1,%mm0" },
    { 32, 0, "660f2c00", "cvttpd2pi (%eax),%mm0" },
    { 32, 0, "f30fd6c1", "movq2dq %mm1,%xmm0" },
    { 32, 0, "f20fd6c1", "movdq2q %xmm1,%mm0" },
    { 32, 0, "0ffcc1", "paddb  %mm1,%mm0" },
    { 32, 0, "0f7ec0", "movd   %mm0,%eax" },
    { 32, 0, "0f7f00", "movq   %mm0,(%eax)" },
    { 32, 0, "0fe700", "movntq %mm0,(%eax)" },
    { 32, 0, "0ff7c1", "maskmovq %mm1,%mm0" },
    { 32, 0, "0fc5c103", "pextrw $0x3,%mm1,%eax" },
    { 32, 0, "0f73f104", "psllq  $0x4,%mm1" },
};

static size_t unhex(const char *hex, uint8_t *out, size_t max)
{
    size_t n = 0;
    unsigned v = 0, k = 0;
    for (const char *p = hex; *p && n < max; p++) {
        if (*p == ' ') continue;
        unsigned d = (unsigned)(*p <= '9' ? *p - '0' : (*p | 0x20) - 'a' + 10);
        v = v * 16 + d;
        if (++k == 2) { out[n++] = (uint8_t)v; v = 0; k = 0; }
    }
    return n;
}

static void test_objdump_text(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        uint8_t b[16];
        size_t n = unhex(fixed[i].hex, b, sizeof b);
        char out[96];
        int r = x86_disassemble(b, n, fixed[i].ip, fixed[i].bits, out, sizeof out);
        if (r != (int)n || strcmp(out, fixed[i].text) != 0)
            print_error("%d-bit %s: got %d \"%s\", want %zu \"%s\"\n", fixed[i].bits,
                        fixed[i].hex, r, out, n, fixed[i].text);
        assert_int_equal(r, (int)n);
        assert_string_equal(out, fixed[i].text);
    }
}

static void test_arguments(void **state)
{
    (void)state;
    const uint8_t nop = 0x90, mov[3] = { 0xB8, 0x34, 0x12 };
    char out[64];
    assert_int_equal(x86_disassemble(&nop, 1, 0, 16, NULL, 10), -EINVAL);
    assert_int_equal(x86_disassemble(&nop, 1, 0, 16, out, 0), -EINVAL);
    assert_int_equal(x86_disassemble(&nop, 1, 0, 64, out, sizeof out), -EINVAL);
    assert_int_equal(x86_disassemble(&nop, 1, 0, 8, out, sizeof out), -EINVAL);
    assert_int_equal(x86_disassemble(NULL, 1, 0, 16, out, sizeof out), -EINVAL);
    /* Bytes run out before the instruction ends. */
    assert_int_equal(x86_disassemble(mov, 0, 0, 16, out, sizeof out), -ENODATA);
    assert_string_equal(out, "(bad)");
    assert_int_equal(x86_disassemble(mov, 2, 0, 16, out, sizeof out), -ENODATA);
    assert_non_null(strstr(out, "(bad)"));
    assert_int_equal(x86_disassemble(mov, 3, 0, 32, out, sizeof out), -ENODATA);
    assert_int_equal(x86_disassemble(mov, 3, 0, 16, out, sizeof out), 3);
    assert_string_equal(out, "mov    $0x1234,%ax");
    /* A small buffer gets a cut, NUL-terminated text. */
    char small[6];
    memset(small, 'x', sizeof small);
    assert_int_equal(x86_disassemble(mov, 3, 0, 16, small, sizeof small), 3);
    assert_string_equal(small, "mov  ");
    /* Unknown to the CPU model: "(bad)", one byte, even behind prefixes. */
    /* SSE3 haddps/haddpd: not modelled (CPUID claims no SSE3) */
    const uint8_t sse[] = { 0xF2, 0x0F, 0x7C, 0xC0 }, psse[] = { 0x66, 0x0F, 0x7C, 0xC0 };
    assert_int_equal(x86_disassemble(sse, sizeof sse, 0, 16, out, sizeof out), 1);
    assert_string_equal(out, "(bad)");
    assert_int_equal(x86_disassemble(psse, sizeof psse, 0, 32, out, sizeof out), 1);
    assert_string_equal(out, "(bad)");
    /* Fifteen prefixes and an opcode: longer than 15 bytes (#GP on the CPU). */
    uint8_t longi[16];
    memset(longi, 0x66, 15);
    longi[15] = 0x90;
    assert_int_equal(x86_disassemble(longi, sizeof longi, 0, 16, out, sizeof out), 1);
    assert_string_equal(out, "(bad)");
    /* A #UD encoding the decoder sizes: "(bad)" with the decoder's length. */
    const uint8_t lea_reg[] = { 0x8D, 0xC0 };
    assert_int_equal(x86_disassemble(lea_reg, 2, 0, 16, out, sizeof out), 2);
    assert_string_equal(out, "(bad)");
}

/* Whatever the bytes, lengths and output size: a length within the bytes given, or
 * -ENODATA, and a NUL-terminated text inside the buffer (run it under the sanitizers). */
static void test_random_bytes(void **state)
{
    (void)state;
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < 200000; i++) {
        uint8_t b[16];
        for (size_t k = 0; k < sizeof b; k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            /* Mostly prefixes and 0F now and then, so long and odd forms come up. */
            b[k] = (x & 0x300) == 0 ? corpus_prefix_sets[(x >> 12) % 17][1] : (uint8_t)(x >> 24);
            if ((x & 0xF000) == 0) b[k] = 0x0F;
        }
        size_t len = (size_t)((x >> 32) % 17);
        size_t out_size = 1 + (size_t)((x >> 40) % 96);
        int bits = (x >> 50) & 1 ? 32 : 16;
        char out[97];
        memset(out, 'Z', sizeof out);
        int r = x86_disassemble(b, len, x >> 20, bits, out, out_size);
        assert_true(r == -ENODATA || (r >= 1 && r <= 15 && (size_t)r <= len));
        assert_true(strlen(out) < out_size);
        assert_int_equal(out[out_size], 'Z');
    }
}

/* Every opcode the CPU's decoder knows has a disassembler entry, with the decoder's length;
 * every one it does not know is "(bad)" with length 1. */
static void test_covers_decoder(void **state)
{
    (void)state;
    static const uint8_t modrms[] = { 0x00, 0x07, 0x46, 0x84, 0xC0, 0xD8, 0x27, 0xE8, 0xF0,
                                      0x4F /* /1 with memory: CMPXCHG8B */ };
    unsigned known = 0;
    for (int bits = 16; bits <= 32; bits += 16) {
        for (unsigned op = 0; op < 0x200; op++) {
            if (op < 0x100 && (corpus_is_prefix(op) || op == 0x0F)) continue;
            bool named = false;
            bool unknown = false;
            for (size_t m = 0; m < sizeof modrms; m++) {
                uint8_t b[16] = { 0 };
                size_t n = 0;
                if (op > 0xFF) b[n++] = 0x0F;
                b[n++] = (uint8_t)op;
                b[n++] = modrms[m];
                for (; n < 15; n++) b[n] = (uint8_t)(0x11 * n);
                X86Insn in;
                assert_int_equal(x86_decode_bytes(b, 15, bits == 32 ? X86_MODE_PROT32 : X86_MODE_PROT16, &in), 0);
                char out[96];
                int r = x86_disassemble(b, 15, 0, bits, out, sizeof out);
                unknown = in.fn == op_unimpl;
                if (unknown) {
                    assert_int_equal(r, 1);
                    assert_string_equal(out, "(bad)");
                    continue;
                }
                assert_int_equal(r, in.len);
                if (strcmp(out, "(bad)") != 0) named = true;
            }
            if (!unknown) {
                if (!named) print_error("opcode %#x (%d-bit) never named\n", op, bits);
                assert_true(named);
                known++;
            }
        }
    }
    print_message("disasm: %u opcode slots (16- and 32-bit) known to the CPU, all named\n",
                  known);
}

/* ---------------------------------------------------------------------------------- */
/* capstone as the oracle                                                               */
/* ---------------------------------------------------------------------------------- */

/* The mnemonic without prefixes and branch hints: the last word before the operands,
 * after dropping prefix words and ",pn"/",pt". */
static void mnemonic_base(const char *text, char *out, size_t size)
{
    static const char *const prefixes[] = {
        "data32", "data16", "addr32", "addr16", "lock", "rep", "repz", "repnz", "repe", "repne",
        "es", "cs", "ss", "ds", "fs", "gs", "bnd", "notrack", "xacquire", "xrelease",
    };
    char buf[128];
    snprintf(buf, sizeof buf, "%s", text);
    char *save = NULL, *word = strtok_r(buf, " \t", &save), *last = word;
    while (word) {
        bool pfx = false;
        for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
            if (strcmp(word, prefixes[i]) == 0) pfx = true;
        last = word;
        if (!pfx) break;
        word = strtok_r(NULL, " \t", &save);
    }
    snprintf(out, size, "%s", last ? last : "");
    char *comma = strchr(out, ',');
    if (comma) *comma = '\0';
}

/* Spellings of one instruction that differ between objdump (ours) and capstone 4. They are
 * names only: the encodings are the same instructions (SDM Vol. 2 lists both names). */
static const char *const aliases[][2] = {
    { "fwait", "wait" }, { "xlat", "xlatb" }, { "int1", "int1" }, { "sal", "shl" },
    { "cbtw", "cbw" }, { "cwtl", "cwde" }, { "cwtd", "cwd" }, { "cltd", "cdq" },
    { "jcxz", "jcxz" }, { "iret", "iretw" }, { "pusha", "pushaw" }, { "popa", "popaw" },
    { "pushal", "pushal" }, { "pushf", "pushfw" }, { "popf", "popfw" }, { "movsww", "movsx" },
    { "fnstsw", "fstsw" }, { "fnstcw", "fstcw" }, { "fnstenv", "fstenv" }, { "fnsave", "fsave" },
    { "fnclex", "fclex" }, { "fninit", "finit" }, { "ud1", "ud1l" }, { "ud0", "ud0l" },
    { "syscall", "loadall" }, { "fucomip", "fucompi" }, { "fcomip", "fcompi" },
    { "enter", "enterw" }, { "leave", "leavew" },
    /* C0-D3 /6 is the undocumented alias of /4: objdump calls it shl, capstone sal. */
    { "shl", "sal" },
    /* 66 90 and F3 90: objdump says "xchg %eax,%eax" and "pause", capstone 4 "nop". */
    { "xchg", "nop" }, { "pause", "nop" },
    /* capstone 4 defects (objdump and the SDM agree with ours), names only:
     * 98/99 in 16-bit code are CBW/CWD (cbtw/cwtd), capstone 4 prints the 32-bit names;
     * 67 E3 in 16-bit code tests ECX (jecxz), capstone 4 still prints jcxz. */
    { "cbtw", "cwtl" }, { "cwtd", "cltd" }, { "jecxz", "jcxz" }, { "jcxz", "jecxz" },
};

/* Not cosmetic, and not an error: F3 0F BC/BD are TZCNT/LZCNT on CPUs with BMI1/ABM and
 * BSF/BSR with an ignored prefix before them; the CPU model is the earlier kind (its CPUID
 * has no BMI1/ABM), so it executes, and the disassembler shows, "repz bsf". Counted apart. */
static bool model_difference(const char *ours, const char *theirs)
{
    return (strcmp(ours, "bsf") == 0 && strncmp(theirs, "tzcnt", 5) == 0) ||
           (strcmp(ours, "bsr") == 0 && strncmp(theirs, "lzcnt", 5) == 0);
}

/* capstone 4 length defects: UD1 (0F B9) and UD0 (0F FF) take a ModR/M byte (SDM Vol. 2B,
 * "UD - Undefined Instruction"; objdump agrees), capstone 4 decodes them without one. They
 * are counted and reported apart, never silently. */
static bool capstone_length_defect(const uint8_t *b)
{
    size_t i = 0;
    while (i < 15 && corpus_is_prefix(b[i])) i++;
    return i < 14 && b[i] == 0x0F && (b[i + 1] == 0xB9 || b[i + 1] == 0xFF);
}

/* capstone 4 SIMD-prefix defects: in 16-bit code it ignores the mandatory prefix (66, F2,
 * F3) of an SSE instruction, and in 32-bit code a 66 that is not the last prefix before
 * 0F (66 67 0F 10 is MOVUPD to the SDM and objdump, MOVUPS to capstone). Only 0F opcodes
 * the CPU models as SSE forms count here; they are reported apart, never silently. */
static bool capstone_simd_prefix_defect(const uint8_t *b, int bits)
{
    size_t i = 0;
    bool has66 = false, rep = false;
    while (i < 14 && corpus_is_prefix(b[i])) {
        has66 |= b[i] == 0x66;
        rep |= b[i] == 0xF2 || b[i] == 0xF3;
        i++;
    }
    if (i >= 14 || b[i] != 0x0F || !x86_sse_forms(b[i + 1])) return false;
    if (bits == 16) return has66 || rep;
    return has66 && !rep && i > 0 && b[i - 1] != 0x66;
}

/* Whether `a` is `b` with one AT&T size suffix (b, w, l, q, s, t) added. */
static bool plus_suffix(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    return la == lb + 1 && strncmp(a, b, lb) == 0 && strchr("bwlqst", a[lb]) != NULL;
}

static bool strip_suffix_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la && lb && la == lb && strncmp(a, b, la - 1) == 0 && strchr("bwlqst", a[la - 1]) &&
        strchr("bwlqst", b[lb - 1]))
        return true;
    return false;
}

static bool mnemonics_agree(const char *ours, const char *theirs)
{
    if (strcmp(ours, theirs) == 0 || plus_suffix(ours, theirs) || plus_suffix(theirs, ours) ||
        strip_suffix_equal(ours, theirs))
        return true;
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
        const char *a = aliases[i][0], *b = aliases[i][1];
        if ((strcmp(ours, a) == 0 || plus_suffix(ours, a)) &&
            (strcmp(theirs, b) == 0 || plus_suffix(theirs, b) || strip_suffix_equal(theirs, b)))
            return true;
    }
    /* movzx/movsx: objdump writes the two sizes (movzbl), capstone one or two. */
    if ((strncmp(ours, "movz", 4) == 0 && strncmp(theirs, "movz", 4) == 0) ||
        (strncmp(ours, "movs", 4) == 0 && strlen(ours) == 6 && strncmp(theirs, "movs", 4) == 0 &&
         strlen(theirs) >= 5))
        return true;
    return false;
}

typedef struct {
    csh cs;
    int bits;
    unsigned long total, accepted, decoded, len_ok, len_bad, len_defect, mn_ok, mn_bad, mn_model;
    unsigned long mn_defect;
    unsigned shown;
    char seen[64][32];    /* mismatch kinds already shown */
    unsigned nseen;
} Oracle;

/* Shows the first example of each kind of disagreement only. */
static bool first_of_kind(Oracle *o, const char *kind)
{
    for (unsigned i = 0; i < o->nseen; i++)
        if (strcmp(o->seen[i], kind) == 0) return false;
    if (o->nseen < 64) snprintf(o->seen[o->nseen++], sizeof o->seen[0], "%s", kind);
    return o->shown++ < 60;
}

static void oracle_one(const CorpusItem *it, void *ctx)
{
    Oracle *o = ctx;
    char ours[128];
    o->total++;
    int r = x86_disassemble(it->bytes, it->len, 0x1000, o->bits, ours, sizeof ours);
    if (r <= 0 || strcmp(ours, "(bad)") == 0) return;   /* the CPU does not accept it */
    o->accepted++;
    cs_insn *insn = NULL;
    size_t count = cs_disasm(o->cs, it->bytes, it->len, 0x1000, 1, &insn);
    if (count != 1) return;
    o->decoded++;
    char full[sizeof insn->mnemonic + sizeof insn->op_str + 2], a[64], b[64];
    snprintf(full, sizeof full, "%s %s", insn->mnemonic, insn->op_str);
    if ((int)insn->size == r) {
        o->len_ok++;
    } else if (capstone_length_defect(it->bytes)) {
        o->len_defect++;
        cs_free(insn, count);
        return;
    } else {
        o->len_bad++;
        char kind[32];
        snprintf(kind, sizeof kind, "len %.20s", insn->mnemonic);
        if (first_of_kind(o, kind)) {
            char hex[48] = "";
            for (int i = 0; i < 15; i++) snprintf(hex + 2 * i, 3, "%02x", it->bytes[i]);
            print_error("%d-bit %s: length %d \"%s\", capstone %u \"%s\"\n", o->bits, hex, r,
                        ours, insn->size, full);
        }
    }
    mnemonic_base(ours, a, sizeof a);
    mnemonic_base(insn->mnemonic, b, sizeof b);
    if (mnemonics_agree(a, b)) {
        o->mn_ok++;
    } else if (model_difference(a, b)) {
        o->mn_model++;
    } else if (capstone_simd_prefix_defect(it->bytes, o->bits)) {
        o->mn_defect++;
    } else {
        o->mn_bad++;
        char kind[32];
        snprintf(kind, sizeof kind, "%.14s|%.14s", a, b);
        if (first_of_kind(o, kind)) {
            char hex[48] = "";
            for (int i = 0; i < (int)insn->size && i < 15; i++)
                snprintf(hex + 2 * i, 3, "%02x", it->bytes[i]);
            print_error("%d-bit %s: mnemonic \"%s\" (%s), capstone \"%s\"\n", o->bits, hex, a,
                        ours, full);
        }
    }
    cs_free(insn, count);
}

static void test_capstone_oracle(void **state)
{
    (void)state;
    unsigned long all_len_bad = 0, all_mn_bad = 0;
    for (int bits = 16; bits <= 32; bits += 16) {
        Oracle o = { .bits = bits };
        assert_int_equal(cs_open(CS_ARCH_X86, bits == 16 ? CS_MODE_16 : CS_MODE_32, &o.cs),
                         CS_ERR_OK);
        assert_int_equal(cs_option(o.cs, CS_OPT_SYNTAX, CS_OPT_SYNTAX_ATT), CS_ERR_OK);
        corpus_walk(oracle_one, &o);
        cs_close(&o.cs);
        print_message("capstone %d-bit: %lu corpus entries, %lu accepted by the CPU decoder, "
                      "%lu also decoded by capstone: length agrees %lu, differs %lu "
                      "(+%lu UD0/UD1, capstone 4's defect); mnemonic agrees %lu, differs %lu "
                      "(+%lu F3 0F BC/BD: bsf/bsr on this CPU model, tzcnt/lzcnt to capstone; "
                      "+%lu SSE forms whose mandatory prefix capstone 4 ignores)\n",
                      bits, o.total, o.accepted, o.decoded, o.len_ok, o.len_bad, o.len_defect,
                      o.mn_ok, o.mn_bad, o.mn_model, o.mn_defect);
        assert_true(o.decoded > 100000);
        all_len_bad += o.len_bad;
        all_mn_bad += o.mn_bad;
    }
    assert_int_equal(all_len_bad, 0);
    assert_int_equal(all_mn_bad, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_objdump_text),
        cmocka_unit_test(test_arguments),
        cmocka_unit_test(test_random_bytes),
        cmocka_unit_test(test_covers_decoder),
        cmocka_unit_test(test_capstone_oracle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
