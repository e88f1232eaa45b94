/*
 * The disassembler: one instruction from a byte buffer, in AT&T syntax as GNU objdump
 * prints it. It does not decode by itself: lengths, prefixes, ModR/M, SIB, displacements
 * and immediates come from the interpreter's x86_decode_bytes (decode.c), so what it shows
 * is exactly what the sim CPU would execute. This file only names what was decoded: one
 * mnemonic/operand-form entry per opcode, generated from opcodes.def as decode.c's table is.
 * Output format facts (operand order, suffixes, "rep"/"repz" choice, %eiz, "data32") follow
 * objdump's observable output; see tests/unit/test_disasm.c for the checked cases.
 */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>

#include "hypervisor_sim.h"
#include "sim/cpu/cpu_internal.h"

/* How an opcode's operands print (AT&T: sources first, destination last). E = ModR/M r/m,
 * G = ModR/M reg, Z = register in the opcode's low 3 bits; B = byte, V = operand size. */
enum {
    D_BAD,      /* not an instruction the CPU model knows: "(bad)", length 1 */
    D_PREFIX,   /* a prefix byte (never reaches the printer: the decoder consumes it) */
    D_NONE,     /* no operands */
    D_EB_GB, D_EV_GV, D_GB_EB, D_GV_EV, D_EW_GW, D_GV_EW,
    D_AL_IB, D_AX_IV,
    D_ZV,       /* inc/dec/push/pop r */
    D_XCHG,     /* xchg r, ax */
    D_NOP,      /* 90: nop, pause (F3), xchg eax,eax (66) */
    D_ZB_IB, D_ZV_IV,
    D_JB, D_JV, D_LOOP, D_JCXZ,
    D_GRP1, D_GRP1A, D_GRP2, D_GRP3, D_GRP4, D_GRP5, D_GRP6, D_GRP7, D_GRP8, D_GRP11,
    D_EV_SW, D_SW_EW,
    D_GV_M,     /* lea, bound: memory only */
    D_GV_MP,    /* les/lds/lss/lfs/lgs: memory only */
    D_SREG,     /* push/pop sreg (arg: the segment register) */
    D_STACK,    /* suffix w/l when the operand size is not the mode's default */
    D_PUSH_I, D_RET_IW, D_ENTER, D_IB, D_FAR, D_IMUL3,
    D_MOFFS, D_STR, D_XLAT, D_IO, D_CONV,
    D_SHXD, D_CRDR, D_MOVX, D_EB, D_BSWAP, D_NOP_EV, D_FPU, D_HINT, D_GRP9,
    D_SSE,      /* the XMM instructions of cpu_sse.c (mnemonic by mandatory prefix) */
    D_GRP15, D_MOVNTI,
};

typedef struct X86DisForm {
    const char *mn;       /* mnemonic (NULL: the form names it) */
    uint8_t form;         /* D_* */
    uint8_t arg;          /* D_SREG: segment register; D_CRDR: 1 for debug registers */
} X86DisForm;

/* Mnemonic and operand form per opcode (one-byte, then 0F xx at 0x100 | xx), from
 * opcodes.def, the table the decoder's comes from. */
static const X86DisForm dis_optab[512] = {
#define X(op, mn, fn, fl, form, farg, cls, carg, w) [op] = { mn, form, farg },
#include "sim/cpu/opcodes.def"
#undef X
};

static const char *const reg8[8] = { "al", "cl", "dl", "bl", "ah", "ch", "dh", "bh" };
static const char *const reg16[8] = { "ax", "cx", "dx", "bx", "sp", "bp", "si", "di" };
static const char *const reg32[8] = { "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi" };
static const char *const sreg[8] = { "es", "cs", "ss", "ds", "fs", "gs", "?", "?" };
static const char *const alu_mn[8] = { "add", "or", "adc", "sbb", "and", "sub", "xor", "cmp" };
static const char *const shift_mn[8] = { "rol", "ror", "rcl", "rcr", "shl", "shr", "shl", "sar" };

/* The printer's state for one instruction. The used_* flags record whether a prefix showed
 * in the operands or the mnemonic; objdump names prefixes that did not ("data32 jmp",
 * "es nop", "addr32 mov 0x1000,%ax"), and so does this. */
typedef struct {
    const X86Insn *in;
    const uint8_t *bytes;
    uint64_t ip;
    unsigned dsz;         /* the mode's default operand/address size: 2 or 4 */
    bool used_osz, used_asz, used_seg, used_rep;
    bool simd_prefix;     /* F2/F3 chose an SSE instruction: not a prefix word */
    bool bad;             /* an encoding the CPU raises #UD for: "(bad)" */
    bool notrack;         /* the 3E prefix printed as "notrack" */
    char mn[24];
    char ops[128];
    size_t n;             /* characters in ops */
} Dis;

static void ops_put(Dis *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ops_put(Dis *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (d->n < sizeof d->ops) {
        int k = vsnprintf(d->ops + d->n, sizeof d->ops - d->n, fmt, ap);
        if (k > 0) d->n += (size_t)k;
        if (d->n >= sizeof d->ops) d->n = sizeof d->ops - 1;
    }
    va_end(ap);
}

static void comma(Dis *d) { ops_put(d, ","); }

static char sfx(unsigned size) { return size == 1 ? 'b' : size == 2 ? 'w' : 'l'; }

/* The mnemonic, with `suffix` appended when it is not 0. */
static void set_mn(Dis *d, const char *mn, char suffix)
{
    if (suffix) snprintf(d->mn, sizeof d->mn, "%s%c", mn, suffix);
    else snprintf(d->mn, sizeof d->mn, "%s", mn);
}

/* Suffix of a stack-size instruction: only when the operand size is not the default. */
static char stack_sfx(Dis *d)
{
    d->used_osz = true;
    return d->in->osz != d->dsz ? sfx(d->in->osz) : 0;
}

static void put_reg(Dis *d, unsigned r, unsigned size)
{
    ops_put(d, "%%%s", size == 1 ? reg8[r & 7] : size == 2 ? reg16[r & 7] : reg32[r & 7]);
}

/* A general register of the operand size (which makes the 0x66 prefix visible). */
static void put_regv(Dis *d, unsigned r)
{
    d->used_osz = true;
    put_reg(d, r, d->in->osz);
}

static void put_imm(Dis *d, uint64_t v, unsigned size)
{
    ops_put(d, "$0x%" PRIx64, v & size_mask(size));
}

static void put_disp_signed(Dis *d, int32_t disp)
{
    if (disp < 0) ops_put(d, "-0x%x", (uint32_t)0 - (uint32_t)disp);
    else ops_put(d, "0x%x", (uint32_t)disp);
}

/* The SIB byte, when the instruction has one (found again from the raw bytes: the decoder
 * keeps base/index/scale but not whether they came from a SIB byte, which objdump shows
 * through %eiz). */
static int sib_byte(const Dis *d)
{
    const X86Insn *in = d->in;
    if (in->asz != 4 || in->mod == 3 || in->rm != 4 || !in->has_modrm) return -1;
    unsigned i = 0;
    while (i < in->len) {
        uint8_t b = d->bytes[i];
        if (b == 0x26 || b == 0x2E || b == 0x36 || b == 0x3E || b == 0x64 || b == 0x65 ||
            b == 0x66 || b == 0x67 || b == 0xF0 || b == 0xF2 || b == 0xF3) i++;
        else break;
    }
    i += in->op == 0x138 ? 3 : (in->op & 0x100) ? 2 : 1;   /* opcode (0F 38 xx: three bytes) */
    i += 1;                          /* ModR/M */
    return i < in->len ? d->bytes[i] : -1;
}

/* The segment-override byte that counts (the last one), or 0. */
static uint8_t last_seg_prefix(const Dis *d)
{
    uint8_t seg = 0;
    for (unsigned i = 0; i < d->in->len; i++) {
        uint8_t b = d->bytes[i];
        if (b == 0x26 || b == 0x2E || b == 0x36 || b == 0x3E || b == 0x64 || b == 0x65) seg = b;
        else if (b != 0x66 && b != 0x67 && b != 0xF0 && b != 0xF2 && b != 0xF3) break;
    }
    return seg;
}

static void put_seg_override(Dis *d)
{
    if (d->notrack) return;
    if (d->in->prefix & PFX_SEG) {
        ops_put(d, "%%%s:", sreg[d->in->seg]);
        d->used_seg = true;
    }
}

/* The ModR/M memory operand (SDM Vol. 2A, 2.1.5): seg:disp(base,index,scale). A
 * displacement shows when the encoding has one (mod 1/2, or no base register), even 0. */
static void put_mem(Dis *d)
{
    const X86Insn *in = d->in;
    bool has_base = in->base != X86_REG_NONE, has_index = in->index != X86_REG_NONE;
    put_seg_override(d);
    if (in->asz == 2) {
        /* 16-bit forms (SDM Vol. 2A, Table 2-1): (%bx,%si), (%si), (%bp), disp16. */
        if (!has_base && !has_index) {
            /* objdump names 0x67 on a bare disp32 in 16-bit code ("addr32 mov 0x1000,%ax")
             * but not on a bare disp16 in 32-bit code. */
            ops_put(d, "0x%x", (uint32_t)in->disp & 0xFFFF);
            d->used_asz = true;
            return;
        }
        if (in->mod == 1 || in->mod == 2) put_disp_signed(d, in->disp);
        if (has_base && has_index) ops_put(d, "(%%%s,%%%s)", reg16[in->base], reg16[in->index]);
        else ops_put(d, "(%%%s)", reg16[has_base ? in->base : in->index]);
        d->used_asz = true;
        return;
    }
    /* 32-bit forms (Tables 2-2, 2-3). A SIB byte whose index is 100 ("none") shows as
     * %eiz, as objdump shows it, unless it only encodes (%esp) or a bare disp32. */
    int sib = sib_byte(d);
    /* (objdump leaves %eiz out of a bare disp32 with scale 1 only in 16-bit code.) */
    bool eiz = sib >= 0 && !has_index &&
               (has_base ? ((sib & 7) != 4 || (sib >> 6) != 0)
                         : ((sib >> 6) != 0 || d->dsz == 4));
    if (!has_base && !has_index && !eiz) {
        ops_put(d, "0x%x", (uint32_t)in->disp);
        return;
    }
    if (!has_base) ops_put(d, "0x%x", (uint32_t)in->disp);
    else if (in->mod == 1 || in->mod == 2) put_disp_signed(d, in->disp);
    ops_put(d, "(");
    if (has_base) ops_put(d, "%%%s", reg32[in->base]);
    if (has_index) ops_put(d, ",%%%s,%u", reg32[in->index], 1u << in->scale);
    else if (eiz) ops_put(d, ",%%eiz,%u", 1u << in->scale);
    ops_put(d, ")");
    /* Only registers show the address size: objdump still names 0x67 on a bare disp32. */
    if (has_base || has_index) d->used_asz = true;
}

/* r/m operand of `size` bytes. */
static void put_rm(Dis *d, unsigned size)
{
    if (d->in->mod == 3) put_reg(d, d->in->rm, size);
    else put_mem(d);
}

static void put_rmv(Dis *d)
{
    d->used_osz = true;
    put_rm(d, d->in->osz);
}

/* Mnemonic with the size suffix objdump adds when no register operand gives the size:
 * a memory r/m without a register operand. */
static void set_mn_sized(Dis *d, const char *mn, unsigned size)
{
    if (size != 1) d->used_osz = true;
    set_mn(d, mn, d->in->mod != 3 ? sfx(size) : 0);
}

/* Conditional branches: CS/DS overrides are the static prediction hints (SDM Vol. 2A,
 * 2.1.1), ",pn"/",pt" on the mnemonic. */
static void put_hint(Dis *d)
{
    const X86Insn *in = d->in;
    bool cond = (in->op >= 0x70 && in->op <= 0x7F) || (in->op >= 0x180 && in->op <= 0x18F) ||
                (in->op >= 0xE0 && in->op <= 0xE3);
    if (!cond || !(in->prefix & PFX_SEG) || (in->seg != X86_CS && in->seg != X86_DS)) return;
    size_t n = strlen(d->mn);
    snprintf(d->mn + n, sizeof d->mn - n, "%s", in->seg == X86_CS ? ",pn" : ",pt");
    d->used_seg = true;
}

/* Branch target: EIP wraps within the operand size as on the CPU (SDM Vol. 2A, Jcc: "the
 * upper two bytes of EIP are cleared" for a 16-bit operand size). In 16-bit code the bits
 * of `ip` above 64 KiB are kept, so a caller that passes CS.base + IP with a 64 KiB-aligned
 * base still reads right (objdump does the same). */
static void put_target(Dis *d)
{
    const X86Insn *in = d->in;
    uint64_t mask = size_mask(in->osz);
    uint64_t t = d->ip + in->len + (uint64_t)(int64_t)(int32_t)in->imm;
    uint64_t high = d->dsz == 2 ? d->ip & ~mask : 0;
    ops_put(d, "0x%" PRIx64, (t & mask) | high);
}

/* x87 (SDM Vol. 2A, Tables ): memory forms by escape and reg field, and the
 * register forms the model's ESC opcodes cover. The CPU itself has no FPU yet (they exit
 * or raise #NM), but the names help reading code that uses them. */
static const char *const fpu_mem[8][8] = {
    { "fadds", "fmuls", "fcoms", "fcomps", "fsubs", "fsubrs", "fdivs", "fdivrs" },
    { "flds", NULL, "fsts", "fstps", "fldenv", "fldcw", "fnstenv", "fnstcw" },
    { "fiaddl", "fimull", "ficoml", "ficompl", "fisubl", "fisubrl", "fidivl", "fidivrl" },
    { "fildl", "fisttpl", "fistl", "fistpl", NULL, "fldt", NULL, "fstpt" },
    { "faddl", "fmull", "fcoml", "fcompl", "fsubl", "fsubrl", "fdivl", "fdivrl" },
    { "fldl", "fisttpll", "fstl", "fstpl", "frstor", NULL, "fnsave", "fnstsw" },
    { "fiadds", "fimuls", "ficoms", "ficomps", "fisubs", "fisubrs", "fidivs", "fidivrs" },
    { "filds", "fisttps", "fists", "fistps", "fbld", "fildll", "fbstp", "fistpll" },
};
static const char *const fpu_arith[8] = {
    "fadd", "fmul", "fcom", "fcomp", "fsub", "fsubr", "fdiv", "fdivr",
};
/* D9 E0..FF: one name per ModR/M byte (NULL: not an instruction). */
static const char *const fpu_d9_e0[32] = {
    "fchs", "fabs", NULL, NULL, "ftst", "fxam", NULL, NULL,
    "fld1", "fldl2t", "fldl2e", "fldpi", "fldlg2", "fldln2", "fldz", NULL,
    "f2xm1", "fyl2x", "fptan", "fpatan", "fxtract", "fprem1", "fdecstp", "fincstp",
    "fprem", "fyl2xp1", "fsqrt", "fsincos", "frndint", "fscale", "fsin", "fcos",
};

static void dis_fpu(Dis *d)
{
    const X86Insn *in = d->in;
    unsigned esc = in->op - 0xD8, reg = in->reg, i = in->rm;
    unsigned modrm = 0xC0 | (reg << 3) | i;
    if (in->mod != 3) {
        if (!fpu_mem[esc][reg]) { d->bad = true; return; }
        /* fldenv/fnstenv/frstor/fnsave: the environment's layout follows the operand size;
         * objdump names the non-default one (s: 16-bit, l: 32-bit). */
        bool env = (esc == 1 || esc == 5) && (reg == 4 || reg == 6);
        d->used_osz = env;
        set_mn(d, fpu_mem[esc][reg], env && in->osz != d->dsz ? (in->osz == 4 ? 'l' : 's') : 0);
        put_mem(d);
        return;
    }
    static const char *const fcmov[8] = { "fcmovb", "fcmove", "fcmovbe", "fcmovu",
                                          "fcmovnb", "fcmovne", "fcmovnbe", "fcmovnu" };
    switch (esc) {
    case 0:                       /* D8: op %st(i),%st; fcom/fcomp %st(i) */
        set_mn(d, fpu_arith[reg], 0);
        if (reg == 2 || reg == 3) ops_put(d, "%%st(%u)", i);
        else ops_put(d, "%%st(%u),%%st", i);
        return;
    case 1:                       /* D9 */
        if (reg == 0) { set_mn(d, "fld", 0); ops_put(d, "%%st(%u)", i); return; }
        if (reg == 1) { set_mn(d, "fxch", 0); ops_put(d, "%%st(%u)", i); return; }
        if (modrm == 0xD0) { set_mn(d, "fnop", 0); return; }
        if (modrm >= 0xE0 && fpu_d9_e0[modrm - 0xE0]) { set_mn(d, fpu_d9_e0[modrm - 0xE0], 0); return; }
        break;
    case 2:                       /* DA */
        if (reg < 4) { set_mn(d, fcmov[reg], 0); ops_put(d, "%%st(%u),%%st", i); return; }
        if (modrm == 0xE9) { set_mn(d, "fucompp", 0); return; }
        break;
    case 3:                       /* DB */
        if (reg < 4) { set_mn(d, fcmov[reg + 4], 0); ops_put(d, "%%st(%u),%%st", i); return; }
        if (modrm == 0xE2) { set_mn(d, "fnclex", 0); return; }
        if (modrm == 0xE3) { set_mn(d, "fninit", 0); return; }
        if (reg == 5 || reg == 6) {
            set_mn(d, reg == 5 ? "fucomi" : "fcomi", 0);
            ops_put(d, "%%st(%u),%%st", i);
            return;
        }
        break;
    case 4:                       /* DC: op %st,%st(i) (AT&T names, as objdump) */
        if (reg == 2 || reg == 3) break;
        set_mn(d, fpu_arith[reg], 0);
        ops_put(d, "%%st,%%st(%u)", i);
        return;
    case 5: {                     /* DD */
        static const char *const dd[8] = { "ffree", NULL, "fst", "fstp", "fucom", "fucomp",
                                           NULL, NULL };
        if (!dd[reg]) break;
        set_mn(d, dd[reg], 0);
        ops_put(d, "%%st(%u)", i);
        return;
    }
    case 6: {                     /* DE: op-and-pop %st,%st(i) */
        static const char *const de[8] = { "faddp", "fmulp", NULL, NULL, "fsubp", "fsubrp",
                                           "fdivp", "fdivrp" };
        if (modrm == 0xD9) { set_mn(d, "fcompp", 0); return; }
        if (!de[reg]) break;
        set_mn(d, de[reg], 0);
        ops_put(d, "%%st,%%st(%u)", i);
        return;
    }
    default:                      /* DF */
        if (modrm == 0xE0) { set_mn(d, "fnstsw", 0); ops_put(d, "%%ax"); return; }
        if (reg == 5 || reg == 6) {
            set_mn(d, reg == 5 ? "fucomip" : "fcomip", 0);
            ops_put(d, "%%st(%u),%%st", i);
            return;
        }
        break;
    }
    d->bad = true;
}

/* String instructions (SDM Vol. 2A, "MOVS", ...): implicit operands, printed in full as
 * objdump does; movs/cmps/ins/outs carry the size in the mnemonic, the others in the
 * accumulator operand. */
static void dis_string(Dis *d, const char *mn)
{
    const X86Insn *in = d->in;
    unsigned size = (in->op & 1) ? in->osz : 1;
    const char *si = in->asz == 4 ? "esi" : "si", *di = in->asz == 4 ? "edi" : "di";
    const char *acc = size == 1 ? "al" : size == 2 ? "ax" : "eax";
    bool src = in->op != 0xAA && in->op != 0xAB && in->op != 0xAE && in->op != 0xAF &&
               in->op != 0x6C && in->op != 0x6D;
    if (size != 1) d->used_osz = true;
    d->used_asz = true;
    d->used_rep = true;
    if (src) d->used_seg = (in->prefix & PFX_SEG) != 0;
    switch (in->op & ~1u) {
    case 0xA4:   /* movs */
        set_mn(d, mn, sfx(size));
        ops_put(d, "%%%s:(%%%s),%%es:(%%%s)", sreg[in->seg], si, di);
        break;
    case 0xA6:   /* cmps */
        set_mn(d, mn, sfx(size));
        ops_put(d, "%%es:(%%%s),%%%s:(%%%s)", di, sreg[in->seg], si);
        break;
    case 0xAA:   /* stos */
        set_mn(d, mn, 0);
        ops_put(d, "%%%s,%%es:(%%%s)", acc, di);
        break;
    case 0xAC:   /* lods */
        set_mn(d, mn, 0);
        ops_put(d, "%%%s:(%%%s),%%%s", sreg[in->seg], si, acc);
        break;
    case 0xAE:   /* scas */
        set_mn(d, mn, 0);
        ops_put(d, "%%es:(%%%s),%%%s", di, acc);
        break;
    case 0x6C:   /* ins */
        set_mn(d, mn, sfx(size));
        ops_put(d, "(%%dx),%%es:(%%%s)", di);
        break;
    default:     /* outs */
        set_mn(d, mn, sfx(size));
        ops_put(d, "%%%s:(%%%s),(%%dx)", sreg[in->seg], si);
        break;
    }
}

/* Groups: the ModR/M reg field picks the operation (SDM Vol. 2A, Table A-6). */
static void dis_group(Dis *d, unsigned form)
{
    const X86Insn *in = d->in;
    unsigned size = (in->op & 1) ? in->osz : 1;
    switch (form) {
    case D_GRP1:
        if (in->op == 0x82) size = 1;
        set_mn_sized(d, alu_mn[in->reg], size);
        put_imm(d, in->imm, size);
        comma(d);
        put_rm(d, size);
        break;
    case D_GRP2:
        set_mn_sized(d, shift_mn[in->reg], size);
        if (in->op <= 0xC1) { put_imm(d, in->imm, 1); comma(d); }
        else if (in->op >= 0xD2) ops_put(d, "%%cl,");
        put_rm(d, size);
        break;
    case D_GRP3: {
        static const char *const g3[8] = { "test", "test", "not", "neg", "mul", "imul", "div",
                                           "idiv" };
        set_mn_sized(d, g3[in->reg], size);
        if (in->reg <= 1) { put_imm(d, in->imm, size); comma(d); }
        put_rm(d, size);
        break;
    }
    case D_GRP4:
        if (in->reg > 1) { d->bad = true; return; }
        set_mn_sized(d, in->reg ? "dec" : "inc", 1);
        put_rm(d, 1);
        break;
    case D_GRP5: {
        static const char *const g5[8] = { "inc", "dec", "call", "lcall", "jmp", "ljmp", "push",
                                           NULL };
        if (!g5[in->reg] || ((in->reg == 3 || in->reg == 5) && in->mod == 3)) {
            d->bad = true;
            return;
        }
        if (in->reg <= 1) {
            set_mn_sized(d, g5[in->reg], in->osz);
        } else {
            char s = stack_sfx(d);
            set_mn(d, g5[in->reg], in->mod == 3 ? 0 : s);
            if (in->reg < 6) ops_put(d, "*");
            /* 3E on an indirect near CALL/JMP is CET's "notrack" to objdump. */
            if ((in->reg == 2 || in->reg == 4) && (in->prefix & PFX_SEG) && in->seg == X86_DS &&
                last_seg_prefix(d) == 0x3E) {
                d->notrack = true;
                put_rmv(d);
                break;
            }
        }
        put_rmv(d);
        break;
    }
    case D_GRP1A:
        if (in->reg != 0) { d->bad = true; return; }
        set_mn(d, "pop", in->mod == 3 ? 0 : stack_sfx(d));
        put_rmv(d);
        break;
    case D_GRP11:
        if (in->reg != 0) { d->bad = true; return; }
        set_mn_sized(d, "mov", size);
        put_imm(d, in->imm, size);
        comma(d);
        put_rm(d, size);
        break;
    case D_GRP6: {
        static const char *const g6[8] = { "sldt", "str", "lldt", "ltr", "verr", "verw", NULL,
                                           NULL };
        if (!g6[in->reg]) { d->bad = true; return; }
        set_mn(d, g6[in->reg], 0);
        if (in->reg <= 1 && in->mod == 3) put_regv(d, in->rm);
        else put_rm(d, 2);
        break;
    }
    case D_GRP7: {
        static const char *const g7[8] = { "sgdt", "sidt", "lgdt", "lidt", "smsw", NULL, "lmsw",
                                           "invlpg" };
        if (in->mod == 3 && in->reg == 0 && in->rm == 1) {   /* 0F 01 C1 */
            set_mn(d, "vmcall", 0);
            break;
        }
        /* Register forms other than SMSW/LMSW are VMX/SSE3-era instructions: #UD here. */
        if (!g7[in->reg] || (in->mod == 3 && in->reg != 4 && in->reg != 6)) {
            d->bad = true;
            return;
        }
        if (in->reg <= 3) {
            d->used_osz = true;
            set_mn(d, g7[in->reg], sfx(in->osz));
        } else {
            set_mn(d, g7[in->reg], 0);
        }
        if (in->reg == 4 && in->mod == 3) put_regv(d, in->rm);
        else put_rm(d, 2);
        break;
    }
    case D_GRP9:   /* 0F C7: only /1 with memory, CMPXCHG8B, on this CPU */
        if (in->reg != 1 || in->mod == 3) { d->bad = true; return; }
        set_mn(d, "cmpxchg8b", 0);
        put_rm(d, 8);
        break;
    case D_GRP8: {
        static const char *const g8[4] = { "bt", "bts", "btr", "btc" };
        if (in->reg < 4) { d->bad = true; return; }
        set_mn_sized(d, g8[in->reg - 4], in->osz);
        put_imm(d, in->imm, 1);
        comma(d);
        put_rmv(d);
        break;
    }
    default:
        d->bad = true;
        break;
    }
}

static void put_xmm(Dis *d, unsigned r) { ops_put(d, "%%xmm%u", r & 7); }

static void put_xmm_rm(Dis *d)
{
    if (d->in->mod == 3) put_xmm(d, d->in->rm);
    else put_mem(d);
}

/* The SSE forms cpu_sse.c models (the decoder makes every other prefix combination
 * op_unimpl, so it never reaches here). Mnemonics by mandatory prefix: none, 66, F2, F3. */
enum {
    S_LOAD,     /* xmm/m, xmm */
    S_STORE,    /* xmm, xmm/m */
    S_IMM,      /* $imm, xmm/m, xmm */
    S_SHIFT,    /* $imm, xmm (r/m, register only): groups 12-14 */
    S_FROM_GPR, /* r/m32, xmm */
    S_TO_GPR,   /* xmm/m, r32 */
    S_MASK,     /* xmm, r32: register only */
    S_MEM_LOAD, /* m, xmm: memory only */
    S_MEM_STORE,/* xmm, m: memory only */
    S_REG,      /* xmm, xmm: register only */
};

typedef struct {
    const char *mn[4];
    uint8_t form;
} SseName;

static const SseName *sse_name(unsigned op)
{
#define E(o, a, b, c, d, f) case o: { static const SseName n = { { a, b, c, d }, f }; return &n; }
    switch (op) {
    E(0x10, "movups", "movupd", "movsd", "movss", S_LOAD)
    E(0x11, "movups", "movupd", "movsd", "movss", S_STORE)
    E(0x12, "movlps", "movlpd", NULL, NULL, S_LOAD)
    E(0x13, "movlps", "movlpd", NULL, NULL, S_MEM_STORE)
    E(0x14, "unpcklps", "unpcklpd", NULL, NULL, S_LOAD)
    E(0x15, "unpckhps", "unpckhpd", NULL, NULL, S_LOAD)
    E(0x16, "movhps", "movhpd", NULL, NULL, S_LOAD)
    E(0x17, "movhps", "movhpd", NULL, NULL, S_MEM_STORE)
    E(0x28, "movaps", "movapd", NULL, NULL, S_LOAD)
    E(0x29, "movaps", "movapd", NULL, NULL, S_STORE)
    E(0x2A, NULL, NULL, "cvtsi2sd", "cvtsi2ss", S_FROM_GPR)
    E(0x2B, "movntps", "movntpd", NULL, NULL, S_MEM_STORE)
    E(0x2C, NULL, NULL, "cvttsd2si", "cvttss2si", S_TO_GPR)
    E(0x2D, NULL, NULL, "cvtsd2si", "cvtss2si", S_TO_GPR)
    E(0x2E, "ucomiss", "ucomisd", NULL, NULL, S_LOAD)
    E(0x2F, "comiss", "comisd", NULL, NULL, S_LOAD)
    E(0x50, "movmskps", "movmskpd", NULL, NULL, S_MASK)
    E(0x51, "sqrtps", "sqrtpd", "sqrtsd", "sqrtss", S_LOAD)
    E(0x52, "rsqrtps", NULL, NULL, "rsqrtss", S_LOAD)
    E(0x53, "rcpps", NULL, NULL, "rcpss", S_LOAD)
    E(0x54, "andps", "andpd", NULL, NULL, S_LOAD)
    E(0x55, "andnps", "andnpd", NULL, NULL, S_LOAD)
    E(0x56, "orps", "orpd", NULL, NULL, S_LOAD)
    E(0x57, "xorps", "xorpd", NULL, NULL, S_LOAD)
    E(0x58, "addps", "addpd", "addsd", "addss", S_LOAD)
    E(0x59, "mulps", "mulpd", "mulsd", "mulss", S_LOAD)
    E(0x5A, "cvtps2pd", "cvtpd2ps", "cvtsd2ss", "cvtss2sd", S_LOAD)
    E(0x5B, "cvtdq2ps", "cvtps2dq", NULL, "cvttps2dq", S_LOAD)
    E(0x5C, "subps", "subpd", "subsd", "subss", S_LOAD)
    E(0x5D, "minps", "minpd", "minsd", "minss", S_LOAD)
    E(0x5E, "divps", "divpd", "divsd", "divss", S_LOAD)
    E(0x5F, "maxps", "maxpd", "maxsd", "maxss", S_LOAD)
    E(0x6F, NULL, "movdqa", NULL, "movdqu", S_LOAD)
    E(0x7F, NULL, "movdqa", NULL, "movdqu", S_STORE)
    E(0x70, NULL, "pshufd", "pshuflw", "pshufhw", S_IMM)
    E(0xC2, "cmpps", "cmppd", "cmpsd", "cmpss", S_IMM)
    E(0xC6, "shufps", "shufpd", NULL, NULL, S_IMM)
    E(0xE6, NULL, "cvttpd2dq", "cvtpd2dq", "cvtdq2pd", S_LOAD)
    E(0xE7, NULL, "movntdq", NULL, NULL, S_MEM_STORE)
    E(0xF7, NULL, "maskmovdqu", NULL, NULL, S_REG)
    default: break;
    }
#undef E
    /* 66 0F 60-6D, 74-76, D1-FE: the two-operand integer instructions */
    static const SseName integer[0x100] = {
        [0x60] = { { NULL, "punpcklbw" }, S_LOAD }, [0x61] = { { NULL, "punpcklwd" }, S_LOAD }, [0x62] = { { NULL, "punpckldq" }, S_LOAD }, [0x63] = { { NULL, "packsswb" }, S_LOAD },
        [0x64] = { { NULL, "pcmpgtb" }, S_LOAD }, [0x65] = { { NULL, "pcmpgtw" }, S_LOAD }, [0x66] = { { NULL, "pcmpgtd" }, S_LOAD }, [0x67] = { { NULL, "packuswb" }, S_LOAD },
        [0x68] = { { NULL, "punpckhbw" }, S_LOAD }, [0x69] = { { NULL, "punpckhwd" }, S_LOAD }, [0x6A] = { { NULL, "punpckhdq" }, S_LOAD }, [0x6B] = { { NULL, "packssdw" }, S_LOAD },
        [0x6C] = { { NULL, "punpcklqdq" }, S_LOAD }, [0x6D] = { { NULL, "punpckhqdq" }, S_LOAD }, [0x74] = { { NULL, "pcmpeqb" }, S_LOAD }, [0x75] = { { NULL, "pcmpeqw" }, S_LOAD },
        [0x76] = { { NULL, "pcmpeqd" }, S_LOAD }, [0xD1] = { { NULL, "psrlw" }, S_LOAD }, [0xD2] = { { NULL, "psrld" }, S_LOAD }, [0xD3] = { { NULL, "psrlq" }, S_LOAD },
        [0xD4] = { { NULL, "paddq" }, S_LOAD }, [0xD5] = { { NULL, "pmullw" }, S_LOAD }, [0xD8] = { { NULL, "psubusb" }, S_LOAD }, [0xD9] = { { NULL, "psubusw" }, S_LOAD },
        [0xDA] = { { NULL, "pminub" }, S_LOAD }, [0xDB] = { { NULL, "pand" }, S_LOAD }, [0xDC] = { { NULL, "paddusb" }, S_LOAD }, [0xDD] = { { NULL, "paddusw" }, S_LOAD },
        [0xDE] = { { NULL, "pmaxub" }, S_LOAD }, [0xDF] = { { NULL, "pandn" }, S_LOAD }, [0xE0] = { { NULL, "pavgb" }, S_LOAD }, [0xE1] = { { NULL, "psraw" }, S_LOAD },
        [0xE2] = { { NULL, "psrad" }, S_LOAD }, [0xE3] = { { NULL, "pavgw" }, S_LOAD }, [0xE4] = { { NULL, "pmulhuw" }, S_LOAD }, [0xE5] = { { NULL, "pmulhw" }, S_LOAD },
        [0xE8] = { { NULL, "psubsb" }, S_LOAD }, [0xE9] = { { NULL, "psubsw" }, S_LOAD }, [0xEA] = { { NULL, "pminsw" }, S_LOAD }, [0xEB] = { { NULL, "por" }, S_LOAD },
        [0xEC] = { { NULL, "paddsb" }, S_LOAD }, [0xED] = { { NULL, "paddsw" }, S_LOAD }, [0xEE] = { { NULL, "pmaxsw" }, S_LOAD }, [0xEF] = { { NULL, "pxor" }, S_LOAD },
        [0xF1] = { { NULL, "psllw" }, S_LOAD }, [0xF2] = { { NULL, "pslld" }, S_LOAD }, [0xF3] = { { NULL, "psllq" }, S_LOAD }, [0xF4] = { { NULL, "pmuludq" }, S_LOAD },
        [0xF5] = { { NULL, "pmaddwd" }, S_LOAD }, [0xF6] = { { NULL, "psadbw" }, S_LOAD }, [0xF8] = { { NULL, "psubb" }, S_LOAD }, [0xF9] = { { NULL, "psubw" }, S_LOAD },
        [0xFA] = { { NULL, "psubd" }, S_LOAD }, [0xFB] = { { NULL, "psubq" }, S_LOAD }, [0xFC] = { { NULL, "paddb" }, S_LOAD }, [0xFD] = { { NULL, "paddw" }, S_LOAD }, [0xFE] = { { NULL, "paddd" }, S_LOAD },
    };
    return integer[op & 0xFF].mn[1] ? &integer[op & 0xFF] : NULL;
}

static void put_mm(Dis *d, unsigned r) { ops_put(d, "%%mm%u", r & 7); }

static void put_mm_rm(Dis *d)
{
    if (d->in->mod == 3) put_mm(d, d->in->rm);
    else put_mem(d);
}

/* The prefix-less forms on MMX registers (cpu_sse.c's op_mmx). */
static void dis_mmx(Dis *d, const SseName *n)
{
    const X86Insn *in = d->in;
    unsigned op = in->op & 0xFF, imm = in->imm & 0xFF;
    bool reg = in->mod == 3;
    switch (op) {
    case 0x77: set_mn(d, "emms", 0); return;
    case 0x6E: set_mn(d, "movd", 0); put_rm(d, 4); comma(d); put_mm(d, in->reg); return;
    case 0x7E: set_mn(d, "movd", 0); put_mm(d, in->reg); comma(d); put_rm(d, 4); return;
    case 0x6F: set_mn(d, "movq", 0); put_mm_rm(d); comma(d); put_mm(d, in->reg); return;
    case 0x7F: set_mn(d, "movq", 0); put_mm(d, in->reg); comma(d); put_mm_rm(d); return;
    case 0xE7:
        if (reg) break;
        set_mn(d, "movntq", 0); put_mm(d, in->reg); comma(d); put_mem(d);
        return;
    case 0x70:
        set_mn(d, "pshufw", 0); put_imm(d, imm, 1); comma(d); put_mm_rm(d); comma(d);
        put_mm(d, in->reg);
        return;
    case 0x71: case 0x72: case 0x73: {
        static const char *const grp[3][8] = {
            { NULL, NULL, "psrlw", NULL, "psraw", NULL, "psllw", NULL },
            { NULL, NULL, "psrld", NULL, "psrad", NULL, "pslld", NULL },
            { NULL, NULL, "psrlq", NULL, NULL, NULL, "psllq", NULL },
        };
        const char *mn = grp[op - 0x71][in->reg];
        if (!reg || !mn) break;
        set_mn(d, mn, 0); put_imm(d, imm, 1); comma(d); put_mm(d, in->rm);
        return;
    }
    case 0xC4:
        set_mn(d, "pinsrw", 0); put_imm(d, imm, 1); comma(d); put_rm(d, 4); comma(d);
        put_mm(d, in->reg);
        return;
    case 0xC5:
        if (!reg) break;
        set_mn(d, "pextrw", 0); put_imm(d, imm, 1); comma(d); put_mm(d, in->rm); comma(d);
        put_reg(d, in->reg, 4);
        return;
    case 0xD7:
        if (!reg) break;
        set_mn(d, "pmovmskb", 0); put_mm(d, in->rm); comma(d); put_reg(d, in->reg, 4);
        return;
    case 0xF7:
        if (!reg) break;
        set_mn(d, "maskmovq", 0); put_mm(d, in->rm); comma(d); put_mm(d, in->reg);
        return;
    default:
        if (!n || !n->mn[1] || op == 0x6C || op == 0x6D) break;
        set_mn(d, n->mn[1], 0); put_mm_rm(d); comma(d); put_mm(d, in->reg);
        return;
    }
    d->bad = true;
}

/* The SSE/SSE2 forms between MMX and XMM registers. */
static void dis_sse_mmx(Dis *d, unsigned op, unsigned p)
{
    const X86Insn *in = d->in;
    bool reg = in->mod == 3;
    if (op == 0xD6) {
        if (!reg) { d->bad = true; return; }
        if (p == 3) { set_mn(d, "movq2dq", 0); put_mm(d, in->rm); comma(d); put_xmm(d, in->reg); }
        else { set_mn(d, "movdq2q", 0); put_xmm(d, in->rm); comma(d); put_mm(d, in->reg); }
        return;
    }
    if (op == 0x2A) {
        set_mn(d, p ? "cvtpi2pd" : "cvtpi2ps", 0);
        put_mm_rm(d);
        comma(d);
        put_xmm(d, in->reg);
        return;
    }
    static const char *const cvt[2][2] = { { "cvttps2pi", "cvtps2pi" }, { "cvttpd2pi", "cvtpd2pi" } };
    set_mn(d, cvt[p][op == 0x2D], 0);
    put_xmm_rm(d);
    comma(d);
    put_mm(d, in->reg);
}

static void dis_sse(Dis *d)
{
    const X86Insn *in = d->in;
    unsigned op = in->op & 0xFF, imm = in->imm & 0xFF;
    unsigned p = (in->prefix & PFX_REP) ? 3 : (in->prefix & PFX_REPNE) ? 2
               : (in->prefix & PFX_OPSIZE) ? 1 : 0;
    if (p == 1) d->used_osz = true;
    if (p >= 2) d->simd_prefix = true;
    bool reg = in->mod == 3;
    if (p == 0 && ((op >= 0x60 && op <= 0x7F) || op == 0xC4 || op == 0xC5 || op >= 0xD1)) {
        dis_mmx(d, sse_name(op));
        return;
    }
    if (((op == 0x2A || op == 0x2C || op == 0x2D) && p <= 1) || (op == 0xD6 && p >= 2)) {
        dis_sse_mmx(d, op, p);
        return;
    }
    switch (op) {   /* the forms that do not fit the table */
    case 0x12: case 0x16:
        if (reg && p == 1) { d->bad = true; return; }
        if (reg) {
            set_mn(d, op == 0x12 ? "movhlps" : "movlhps", 0);
            put_xmm(d, in->rm);
            comma(d);
            put_xmm(d, in->reg);
            return;
        }
        break;
    case 0x6E: case 0x7E:
        if (op == 0x7E && p == 3) {   /* movq xmm/m64, xmm */
            set_mn(d, "movq", 0);
            put_xmm_rm(d);
            comma(d);
            put_xmm(d, in->reg);
            return;
        }
        set_mn(d, "movd", 0);
        if (op == 0x6E) { put_rm(d, 4); comma(d); put_xmm(d, in->reg); }
        else { put_xmm(d, in->reg); comma(d); put_rm(d, 4); }
        return;
    case 0xD6:
        set_mn(d, "movq", 0);
        put_xmm(d, in->reg);
        comma(d);
        put_xmm_rm(d);
        return;
    case 0xD7:
        if (!reg) { d->bad = true; return; }
        set_mn(d, "pmovmskb", 0);
        put_xmm(d, in->rm);
        comma(d);
        put_reg(d, in->reg, 4);
        return;
    case 0x71: case 0x72: case 0x73: {   /* groups 12-14 */
        static const char *const grp[3][8] = {
            { NULL, NULL, "psrlw", NULL, "psraw", NULL, "psllw", NULL },
            { NULL, NULL, "psrld", NULL, "psrad", NULL, "pslld", NULL },
            { NULL, NULL, "psrlq", "psrldq", NULL, NULL, "psllq", "pslldq" },
        };
        const char *mn = grp[op - 0x71][in->reg];
        if (!reg || !mn) { d->bad = true; return; }
        set_mn(d, mn, 0);
        put_imm(d, imm, 1);
        comma(d);
        put_xmm(d, in->rm);
        return;
    }
    case 0xC4:
        set_mn(d, "pinsrw", 0);
        put_imm(d, imm, 1);
        comma(d);
        put_rm(d, 4);
        comma(d);
        put_xmm(d, in->reg);
        return;
    case 0xC5:
        if (!reg) { d->bad = true; return; }
        set_mn(d, "pextrw", 0);
        put_imm(d, imm, 1);
        comma(d);
        put_xmm(d, in->rm);
        comma(d);
        put_reg(d, in->reg, 4);
        return;
    case 0xC2:
        if (imm < 8) {   /* objdump names the predicate: cmpeqps ... cmpordsd */
            static const char *const pred[8] = { "eq", "lt", "le", "unord", "neq", "nlt", "nle", "ord" };
            static const char *const sfx4[4] = { "ps", "pd", "sd", "ss" };
            char mn[16];
            snprintf(mn, sizeof mn, "cmp%s%s", pred[imm], sfx4[p]);
            set_mn(d, mn, 0);
            put_xmm_rm(d);
            comma(d);
            put_xmm(d, in->reg);
            return;
        }
        break;
    default:
        break;
    }
    const SseName *n = sse_name(op);
    const char *mn = n ? n->mn[p] : NULL;
    if (!mn) { d->bad = true; return; }
    set_mn(d, mn, 0);
    switch (n->form) {
    case S_LOAD: put_xmm_rm(d); comma(d); put_xmm(d, in->reg); break;
    case S_STORE: put_xmm(d, in->reg); comma(d); put_xmm_rm(d); break;
    case S_IMM: put_imm(d, imm, 1); comma(d); put_xmm_rm(d); comma(d); put_xmm(d, in->reg); break;
    case S_FROM_GPR: put_rm(d, 4); comma(d); put_xmm(d, in->reg); break;
    case S_TO_GPR: put_xmm_rm(d); comma(d); put_reg(d, in->reg, 4); break;
    case S_MASK:
        if (!reg) { d->bad = true; return; }
        put_xmm(d, in->rm); comma(d); put_reg(d, in->reg, 4);
        break;
    case S_MEM_STORE:
        if (reg) { d->bad = true; return; }
        put_xmm(d, in->reg); comma(d); put_mem(d);
        break;
    case S_REG:
        if (!reg) { d->bad = true; return; }
        put_xmm(d, in->rm); comma(d); put_xmm(d, in->reg);
        break;
    default:
        if (reg) { d->bad = true; return; }
        put_mem(d); comma(d); put_xmm(d, in->reg);
        break;
    }
}

/* 0F AE as cpu_sse.c models it: FXSAVE FXRSTOR LDMXCSR STMXCSR with memory, the fences
 * with a register; no mandatory prefix. */
static void dis_grp15(Dis *d)
{
    const X86Insn *in = d->in;
    static const char *const mem[4] = { "fxsave", "fxrstor", "ldmxcsr", "stmxcsr" };
    static const char *const fence[3] = { "lfence", "mfence", "sfence" };
    if (in->prefix & (PFX_REP | PFX_REPNE | PFX_OPSIZE)) { d->bad = true; return; }
    if (in->mod == 3) {
        if (in->reg < 5) { d->bad = true; return; }
        set_mn(d, fence[in->reg - 5], 0);
        return;
    }
    if (in->reg > 3) { d->bad = true; return; }
    set_mn(d, mem[in->reg], 0);
    put_mem(d);
}

/* 0F 38 F0/F1 MOVBE (the only 0F 38 instruction modelled): memory only, no F2/F3. */
static void dis_movbe(Dis *d)
{
    const X86Insn *in = d->in;
    if (in->mod == 3 || (in->prefix & (PFX_REP | PFX_REPNE))) { d->bad = true; return; }
    set_mn(d, "movbe", 0);
    if (in->imm2 == 0xF0) { put_mem(d); comma(d); put_regv(d, in->reg); }
    else { put_regv(d, in->reg); comma(d); put_mem(d); }
}

/* Fills d->mn and d->ops for the decoded instruction. */
static void dis_insn(Dis *d, const X86DisForm *f)
{
    const X86Insn *in = d->in;
    unsigned op = in->op;
    switch (f->form) {
    case D_NONE: set_mn(d, f->mn, 0); break;
    case D_EB_GB: set_mn(d, f->mn, 0); put_reg(d, in->reg, 1); comma(d); put_rm(d, 1); break;
    case D_EV_GV: set_mn(d, f->mn, 0); put_regv(d, in->reg); comma(d); put_rmv(d); break;
    case D_GB_EB: set_mn(d, f->mn, 0); put_rm(d, 1); comma(d); put_reg(d, in->reg, 1); break;
    case D_GV_EV: set_mn(d, f->mn, 0); put_rmv(d); comma(d); put_regv(d, in->reg); break;
    case D_EW_GW: set_mn(d, f->mn, 0); put_reg(d, in->reg, 2); comma(d); put_rm(d, 2); break;
    case D_GV_EW: set_mn(d, f->mn, 0); put_rmv(d); comma(d); put_regv(d, in->reg); break;
    case D_AL_IB: set_mn(d, f->mn, 0); put_imm(d, in->imm, 1); ops_put(d, ",%%al"); break;
    case D_AX_IV:
        set_mn(d, f->mn, 0);
        put_imm(d, in->imm, in->osz);
        comma(d);
        put_regv(d, 0);
        break;
    case D_ZV: set_mn(d, f->mn, 0); put_regv(d, op & 7); break;
    case D_XCHG: set_mn(d, f->mn, 0); put_regv(d, 0); comma(d); put_regv(d, op & 7); break;
    case D_NOP:
        if (in->prefix & PFX_REP) { set_mn(d, "pause", 0); d->used_rep = true; }
        else if (in->osz != d->dsz) {
            set_mn(d, "xchg", 0);
            put_regv(d, 0);
            comma(d);
            put_regv(d, 0);
        } else set_mn(d, f->mn, 0);
        break;
    case D_ZB_IB:
        set_mn(d, f->mn, 0);
        put_imm(d, in->imm, 1);
        comma(d);
        put_reg(d, op & 7, 1);
        break;
    case D_ZV_IV:
        set_mn(d, f->mn, 0);
        put_imm(d, in->imm, in->osz);
        comma(d);
        put_regv(d, op & 7);
        break;
    case D_JB: set_mn(d, f->mn, 0); put_hint(d); put_target(d); break;
    case D_JV:
        d->used_osz = true;
        set_mn(d, f->mn, (op == 0xE8 || op == 0xE9) && in->osz != d->dsz ? sfx(in->osz) : 0);
        put_hint(d);
        put_target(d);
        break;
    case D_LOOP:
        d->used_asz = true;
        set_mn(d, f->mn, in->asz != d->dsz ? sfx(in->asz) : 0);
        put_hint(d);
        put_target(d);
        break;
    case D_JCXZ:
        d->used_asz = true;
        set_mn(d, in->asz == 4 ? "jecxz" : "jcxz", 0);
        put_hint(d);
        put_target(d);
        break;
    case D_SSE: dis_sse(d); break;
    case D_GRP15: dis_grp15(d); break;
    case D_MOVNTI:
        if (d->in->mod == 3 || (d->in->prefix & (PFX_REP | PFX_REPNE | PFX_OPSIZE))) {
            d->bad = true;
            break;
        }
        set_mn(d, "movnti", 0);
        put_reg(d, d->in->reg, 4);
        comma(d);
        put_mem(d);
        break;
    case D_GRP1: case D_GRP1A: case D_GRP2: case D_GRP3: case D_GRP4: case D_GRP5:
    case D_GRP6: case D_GRP7: case D_GRP8: case D_GRP9: case D_GRP11:
        dis_group(d, f->form);
        break;
    case D_EV_SW:
        set_mn(d, f->mn, 0);
        ops_put(d, "%%%s,", sreg[in->reg]);
        if (in->mod == 3) put_regv(d, in->rm);
        else put_rm(d, 2);
        break;
    case D_SW_EW:
        set_mn(d, f->mn, 0);
        if (in->mod == 3) put_regv(d, in->rm);
        else put_rm(d, 2);
        ops_put(d, ",%%%s", sreg[in->reg]);
        break;
    case D_GV_M:
    case D_GV_MP:
        if (in->mod == 3) { d->bad = true; break; }   /* #UD: needs a memory operand */
        set_mn(d, f->mn, 0);
        if (op == 0x62) {         /* bound: objdump keeps Intel's operand order */
            put_regv(d, in->reg);
            comma(d);
            put_mem(d);
            break;
        }
        put_mem(d);
        comma(d);
        put_regv(d, in->reg);
        break;
    case D_SREG: set_mn(d, f->mn, stack_sfx(d)); ops_put(d, "%%%s", sreg[f->arg]); break;
    case D_STACK: set_mn(d, f->mn, stack_sfx(d)); break;
    case D_PUSH_I:
        set_mn(d, f->mn, stack_sfx(d));
        put_imm(d, in->imm, in->osz);
        break;
    case D_RET_IW: set_mn(d, f->mn, stack_sfx(d)); put_imm(d, in->imm, 2); break;
    case D_ENTER:
        set_mn(d, f->mn, stack_sfx(d));
        put_imm(d, in->imm, 2);
        comma(d);
        put_imm(d, in->imm2, 1);
        break;
    case D_IB: set_mn(d, f->mn, 0); put_imm(d, in->imm, 1); break;
    case D_FAR:
        set_mn(d, f->mn, stack_sfx(d));
        ops_put(d, "$0x%x,$0x%" PRIx64, in->imm2 & 0xFFFF, in->imm & size_mask(in->osz));
        break;
    case D_IMUL3:
        set_mn(d, f->mn, 0);
        put_imm(d, in->imm, in->osz);
        comma(d);
        put_rmv(d);
        comma(d);
        put_regv(d, in->reg);
        break;
    case D_MOFFS: {
        unsigned size = (op & 1) ? in->osz : 1;
        set_mn(d, f->mn, 0);
        if (op >= 0xA2) { put_reg(d, 0, size); comma(d); }
        put_seg_override(d);
        ops_put(d, "0x%" PRIx64, (uint64_t)in->disp & size_mask(in->asz));
        if (op < 0xA2) { comma(d); put_reg(d, 0, size); }
        if (size != 1) d->used_osz = true;
        break;
    }
    case D_STR: dis_string(d, f->mn); break;
    case D_XLAT:
        set_mn(d, f->mn, 0);
        ops_put(d, "%%%s:(%%%s)", sreg[in->seg], in->asz == 4 ? "ebx" : "bx");
        d->used_asz = true;
        d->used_seg = (in->prefix & PFX_SEG) != 0;
        break;
    case D_IO: {
        unsigned size = (op & 1) ? in->osz : 1;
        bool imm = op < 0xE8, is_in = (op & 2) == 0;
        set_mn(d, f->mn, 0);
        if (size != 1) d->used_osz = true;
        if (is_in) {
            if (imm) put_imm(d, in->imm, 1);
            else ops_put(d, "(%%dx)");
            comma(d);
            put_reg(d, 0, size);
        } else {
            put_reg(d, 0, size);
            comma(d);
            if (imm) put_imm(d, in->imm, 1);
            else ops_put(d, "(%%dx)");
        }
        break;
    }
    case D_CONV:
        d->used_osz = true;
        if (op == 0x98) set_mn(d, in->osz == 4 ? "cwtl" : "cbtw", 0);
        else set_mn(d, in->osz == 4 ? "cltd" : "cwtd", 0);
        break;
    case D_SHXD:
        set_mn(d, f->mn, 0);
        if (op & 1) ops_put(d, "%%cl,");
        else { put_imm(d, in->imm, 1); comma(d); }
        put_regv(d, in->reg);
        comma(d);
        put_rmv(d);
        break;
    case D_CRDR: {
        /* Always 32-bit registers (SDM Vol. 2A, "MOV - Move to/from Control Registers"). */
        const char *ctl = f->arg ? "db" : "cr";
        set_mn(d, f->mn, 0);
        if (op & 2) ops_put(d, "%%%s,%%%s%u", reg32[in->rm], ctl, in->reg);
        else ops_put(d, "%%%s%u,%%%s", ctl, in->reg, reg32[in->rm]);
        break;
    }
    case D_MOVX: {
        unsigned src = (op & 1) ? 2 : 1;
        char m[8];
        snprintf(m, sizeof m, "%s%c", f->mn, sfx(src));
        d->used_osz = true;
        set_mn(d, m, sfx(in->osz));
        put_rm(d, src);
        comma(d);
        put_regv(d, in->reg);
        break;
    }
    case D_EB: set_mn(d, f->mn, 0); put_rm(d, 1); break;
    case D_BSWAP: set_mn(d, f->mn, 0); put_regv(d, op & 7); break;
    case D_NOP_EV:
        set_mn_sized(d, f->mn, in->osz);
        put_rmv(d);
        break;
    case D_FPU: dis_fpu(d); break;
    case D_HINT: {
        /* 0F 18-1E: PREFETCHh for 0F 18 /0-/3 with memory, ENDBR32/64 for F3 0F 1E FB/FA;
         * the rest of the space is a NOP on this CPU (no MPX, CLDEMOTE: objdump names
         * those encodings after the extensions). */
        static const char *const pf[4] = { "prefetchnta", "prefetcht0", "prefetcht1",
                                           "prefetcht2" };
        if (op == 0x118 && in->mod != 3 && in->reg < 4) {
            set_mn(d, pf[in->reg], 0);
            put_rm(d, 1);
        } else if (op == 0x11E && (in->prefix & PFX_REP) && in->mod == 3 && in->reg == 7 &&
                   (in->rm == 2 || in->rm == 3)) {
            d->used_rep = true;
            set_mn(d, in->rm == 3 ? "endbr32" : "endbr64", 0);
        } else {
            set_mn_sized(d, f->mn, in->osz);
            put_rmv(d);
        }
        break;
    }
    default: d->bad = true; break;
    }
}

/* Prefix words and the mnemonic (14 prefixes of 9 characters still fit). */
typedef struct {
    char s[160];
    size_t n;
} Head;

static void head_put(Head *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void head_put(Head *h, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (h->n < sizeof h->s) {
        int k = vsnprintf(h->s + h->n, sizeof h->s - h->n, fmt, ap);
        if (k > 0) h->n += (size_t)k;
        if (h->n >= sizeof h->s) h->n = sizeof h->s - 1;
    }
    va_end(ap);
}

static bool is_prefix(uint8_t b)
{
    return b == 0x26 || b == 0x2E || b == 0x36 || b == 0x3E || b == 0x64 || b == 0x65 ||
           b == 0x66 || b == 0x67 || b == 0xF0 || b == 0xF2 || b == 0xF3;
}

/* 0 segment, 1 operand size, 2 address size, 3 lock, 4 rep (F2/F3 cancel each other). */
static unsigned prefix_kind(uint8_t b)
{
    switch (b) {
    case 0x66: return 1;
    case 0x67: return 2;
    case 0xF0: return 3;
    case 0xF2: case 0xF3: return 4;
    default: return 0;
    }
}

static unsigned seg_of_prefix(uint8_t b)
{
    switch (b) {
    case 0x26: return X86_ES;
    case 0x2E: return X86_CS;
    case 0x36: return X86_SS;
    case 0x3E: return X86_DS;
    case 0x64: return X86_FS;
    default: return X86_GS;
    }
}

/* RET and the indirect CALL/JMP: where F2 is MPX's "bnd" to objdump. */
static bool op_is_near_ret_or_indirect(const X86Insn *in)
{
    unsigned cls = x86_opinfo(in->op)->cls;
    return cls == OC_RET || cls == OC_RET_IW || (cls == OC_GRP5 && (in->reg == 2 || in->reg == 4));
}

/* Writes "(bad)" and returns `ret`. */
static int dis_bad(char *out, size_t out_size, int ret)
{
    snprintf(out, out_size, "(bad)");
    return ret;
}

int x86_disassemble(const uint8_t *bytes, size_t len, uint64_t ip, int bits, char *out,
                    size_t out_size)
{
    if (!out || out_size == 0) return -EINVAL;
    out[0] = '\0';
    if ((bits != 16 && bits != 32) || (!bytes && len)) return -EINVAL;
    if (len == 0) return dis_bad(out, out_size, -ENODATA);

    X86Insn in;
    int r = x86_decode_bytes(bytes, len, bits == 32 ? X86_MODE_PROT32 : X86_MODE_PROT16, &in);
    if (r == X86_DECODE_TRUNCATED) {
        snprintf(out, out_size, "(bad) (truncated)");
        return -ENODATA;
    }
    /* Past 15 bytes (a run of prefixes): the CPU raises #GP; show one byte as bad. */
    if (r != 0) return dis_bad(out, out_size, 1);

    static const X86DisForm movbe = { "movbe", D_NONE, 0 };   /* printed by dis_movbe */
    bool is_movbe = in.op == 0x138 && in.fn == op_movbe;
    const X86DisForm *f = is_movbe ? &movbe
                        : &dis_optab[in.op & 0x1FF];
    /* What the CPU model does not know is what its own table says it does not know. */
    if (!in.fn || in.fn == op_unimpl || f->form == D_BAD || f->form == D_PREFIX)
        return dis_bad(out, out_size, 1);

    Dis d = { .in = &in, .bytes = bytes, .ip = ip, .dsz = bits == 32 ? 4 : 2 };
    if (is_movbe) dis_movbe(&d);
    else dis_insn(&d, f);
    if (d.bad) return dis_bad(out, out_size, in.len);

    /* Prefixes objdump prints as words, in byte order: those the operands did not already
     * show. Of repeated prefixes of one kind, the last is the one that counts. */
    Head hd = { .n = 0 };
    hd.s[0] = '\0';
#define HEAD(...) head_put(&hd, __VA_ARGS__)
    unsigned npfx = 0;
    while (npfx < in.len && is_prefix(bytes[npfx])) npfx++;
    bool branch = f->form == D_JB || f->form == D_JV || op_is_near_ret_or_indirect(&in);
    bool hle = (in.prefix & PFX_LOCK) ||
               (in.mod != 3 && (in.op == 0x86 || in.op == 0x87));
    unsigned cls = x86_opinfo(in.op)->cls;
    bool release_store = in.mod != 3 && (cls == OC_MOV_EG || cls == OC_MOV_EI);
    for (unsigned i = 0; i < npfx; i++) {
        uint8_t b = bytes[i];
        bool last = true;
        for (unsigned j = i + 1; j < npfx; j++)
            if (prefix_kind(bytes[j]) == prefix_kind(b)) last = false;
        switch (prefix_kind(b)) {
        case 0:   /* segment */
            if (last && d.notrack) HEAD("notrack ");
            else if (!last || !d.used_seg) HEAD("%s ", sreg[seg_of_prefix(b)]);
            break;
        case 1:
            if (!last || !d.used_osz) HEAD("%s ", bits == 16 ? "data32" : "data16");
            break;
        case 2:
            if (!last || !d.used_asz) HEAD("%s ", bits == 16 ? "addr32" : "addr16");
            break;
        case 3:
            HEAD("lock ");
            break;
        default:  /* F2/F3: only the last one counts */
            if (!last) HEAD("%s ", b == 0xF3 ? "repz" : "repnz");
            else if (d.simd_prefix) break;
            else if (b == 0xF3 && d.used_rep && (f->form == D_NOP || f->form == D_HINT))
                break;   /* pause, endbr32/64: F3 is part of the mnemonic */
            else if (d.used_rep) {
                /* rep for the string moves; repz/repnz where ZF ends the loop */
                bool cond = (in.op & ~1u) == 0xA6 || (in.op & ~1u) == 0xAE;
                HEAD("%s ", b == 0xF2 ? "repnz" : cond ? "repz" : "rep");
            } else if (b == 0xF2 && branch) HEAD("bnd ");
            else if (hle) HEAD("%s ", b == 0xF2 ? "xacquire" : "xrelease");
            else if (b == 0xF3 && release_store) HEAD("xrelease ");
            else HEAD("%s ", b == 0xF3 ? "repz" : "repnz");
            break;
        }
    }
    HEAD("%s", d.mn);
#undef HEAD
    if (d.n) snprintf(out, out_size, "%-6s %s", hd.s, d.ops);
    else snprintf(out, out_size, "%s", hd.s);
    return in.len;
}
