/*
 * The decoder: prefixes, opcode, ModR/M, SIB, displacement and immediates (SDM Vol. 2A,
 * chapter 2 "Instruction Format") into an X86Insn whose handler comes from the opcode
 * table below (generated from opcodes.def: one slot per one-byte and per 0F xx opcode).
 */
#include "sim/cpu/cpu_internal.h"

/* The opcode table: handler, decoder hints and class per opcode (one-byte opcodes, then
 * 0F xx at 0x100 | xx), from opcodes.def. */
const X86OpInfo x86_optab[512] = {
#define X(op, mn, fn, fl, form, farg, cls, carg, w) [op] = { fn, fl, cls, carg, w },
#include "sim/cpu/opcodes.def"
#undef X
};
/* Every slot has its row (the compiler rejects a second row for one slot). */
enum {
#define X(op, ...) + 1
    OPCODE_ROWS = 0
#include "sim/cpu/opcodes.def"
#undef X
};
_Static_assert(OPCODE_ROWS == 512, "opcodes.def must have one row per opcode");

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
    bool long64;          /* 64-bit mode: no CS limit, canonical RIP */
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
    uint64_t off = f->ip + f->n, lin;
    if (f->n >= X86_MAX_INSN_LEN) return X86_EXC_GP;
    if (LIKELY(!f->long64)) {
        if (!(cpu->cs.attr & X86_AR_DB)) off &= 0xFFFFFFFFull;
        if (off > cpu->cs.limit) return X86_EXC_GP;
        lin = x86_lin_wrap(cpu, cpu->cs.base + off);
    } else {
        lin = off;   /* (SDM Vol. 3A, 5.3.1: no limit; a non-canonical RIP is #GP(0)) */
        if (!x86_canonical(lin)) return X86_EXC_GP;
    }
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

/* 64-bit mode (SDM Vol. 2A, Appendix A.2.5 and each instruction's "64-Bit Mode"): the
 * one-byte opcodes that are #UD there (PUSH/POP ES CS SS DS, DAA DAS AAA AAS, PUSHA POPA,
 * BOUND, 82, far CALL/JMP ptr, LES LDS, INTO, AAM AAD, SALC), a bit per opcode. */
static const uint32_t invalid64[8] = {
    [0] = (1u << 0x06) | (1u << 0x07) | (1u << 0x0E) | (1u << 0x16) | (1u << 0x17) |
          (1u << 0x1E) | (1u << 0x1F),
    [1] = (1u << (0x27 - 0x20)) | (1u << (0x2F - 0x20)) | (1u << (0x37 - 0x20)) |
          (1u << (0x3F - 0x20)),
    [3] = (1u << (0x60 - 0x60)) | (1u << (0x61 - 0x60)) | (1u << (0x62 - 0x60)),
    [4] = (1u << (0x82 - 0x80)) | (1u << (0x9A - 0x80)),
    [6] = (1u << (0xC4 - 0xC0)) | (1u << (0xC5 - 0xC0)) | (1u << (0xCE - 0xC0)) |
          (1u << (0xD4 - 0xC0)) | (1u << (0xD5 - 0xC0)) | (1u << (0xD6 - 0xC0)),
    [7] = (1u << (0xEA - 0xE0)),
};
static const X86OpInfo ud_info = { op_ud, 0, OC_NONE, 0, W_N };
/* 63 is MOVSXD r, r/m32 in 64-bit mode (ARPL elsewhere). */
static const X86OpInfo movsxd_info = { op_movsxd, OPF_MODRM, OC_NONE, 0, W_N };

/* Opcodes whose operand size is 64 bits by default in 64-bit mode (66 makes it 16):
 * PUSH/POP, PUSHF/POPF, ENTER/LEAVE, PUSH/POP FS GS, POP r/m (SDM Vol. 2A, Table
 * 2.2.1.7 "Default 64-Bit Operand Size"). */
static inline bool default64(unsigned op)
{
    return (op >= 0x50 && op <= 0x5F) || op == 0x68 || op == 0x6A || op == 0x8F ||
           op == 0x9C || op == 0x9D || op == 0xC8 || op == 0xC9 || op == 0x1A0 ||
           op == 0x1A1 || op == 0x1A8 || op == 0x1A9;
}
/* Opcodes whose ModR/M reg field extends the opcode (groups, x87): REX.R leaves it. */
static inline bool reg_is_opcode(unsigned op)
{
    switch (op) {
    case 0x80: case 0x81: case 0x82: case 0x83: case 0x8F: case 0xC0: case 0xC1: case 0xC6:
    case 0xC7: case 0xD0: case 0xD1: case 0xD2: case 0xD3: case 0xF6: case 0xF7: case 0xFE:
    case 0xFF: case 0x100: case 0x101: case 0x171: case 0x172: case 0x173: case 0x1AE:
    case 0x1BA: case 0x1C7:
        return true;
    default:
        return (op >= 0xD8 && op <= 0xDF) || (op >= 0x118 && op <= 0x11F);
    }
}

/* Near branches: 64-bit whatever the prefixes (Jcc, JMP, CALL, RET, LOOP, JRCXZ). */
static inline bool near_branch(unsigned op)
{
    return (op >= 0x70 && op <= 0x7F) || (op >= 0x180 && op <= 0x18F) || op == 0xE8 ||
           op == 0xE9 || op == 0xEB || op == 0xC2 || op == 0xC3 || (op >= 0xE0 && op <= 0xE3);
}
/* Which ModR/M fields name byte registers (bit 0 reg, bit 1 r/m): a REX prefix makes
 * their 4-7 SPL BPL SIL DIL instead of AH CH DH BH. */
static inline unsigned byte_regs(unsigned op)
{
    switch (op) {
    case 0x00: case 0x02: case 0x08: case 0x0A: case 0x10: case 0x12: case 0x18: case 0x1A:
    case 0x20: case 0x22: case 0x28: case 0x2A: case 0x30: case 0x32: case 0x38: case 0x3A:
    case 0x84: case 0x86: case 0x88: case 0x8A: case 0x1C0: case 0x1B0:
        return 3;
    case 0x80: case 0xC0: case 0xC6: case 0xD0: case 0xD2: case 0xF6: case 0xFE:
    case 0x1B6: case 0x1BE:
        return 2;
    default:
        return (op >= 0x190 && op <= 0x19F) ? 2 : 0;
    }
}

/* Instructions that accept LOCK, with a memory destination (SDM Vol. 2A, LOCK): those
 * opcodes.def marks, of groups the members that write their r/m operand. */
static bool lockable(const X86Insn *in, const X86OpInfo *info)
{
    if (in->mod == 3 || !(info->flags & OPF_LOCK)) return false;
    switch (info->cls) {
    case OC_GRP1: return in->reg != 7;                       /* not CMP */
    case OC_GRP3: return in->reg == 2 || in->reg == 3;       /* NOT, NEG */
    case OC_GRP4: case OC_GRP5: return in->reg <= 1;         /* INC, DEC */
    default: break;
    }
    if (in->op == 0x1BA) return in->reg >= 5;                /* BTS BTR BTC imm8 */
    if (in->op == 0x1C7) return in->reg == 1;                /* CMPXCHG8B */
    return true;
}

/* The byte-level decoder shared by the CPU and the disassembler: prefixes, opcode, ModR/M,
 * SIB, displacement, immediates from `f` into *in (no handler specialisation: that is the
 * CPU's business). Returns 0 or what fetch8 returned for the byte that failed. */
static inline __attribute__((always_inline)) int decode_insn(Fetch *f, X86Mode mode,
                                                             X86Insn *in, bool from_buf)
{
    const bool m64 = mode == X86_MODE_LONG64;
    unsigned osz = x86_mode_code32(mode) ? 4 : 2, asz = m64 ? 8 : osz;
    int seg = -1;
    uint8_t prefix = 0, b, rex = 0;
    memset(in, 0, sizeof *in);
    for (;;) {
        FETCH(b);
        /* REX (40-4F in 64-bit mode) counts only as the last prefix before the opcode:
         * a legacy prefix after it cancels it (SDM Vol. 2A, 2.2.1). */
        if (m64 && (b & 0xF0) == 0x40) {
            rex = b;
            continue;
        }
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
        rex = 0;
    }
opcode:;
    const X86OpInfo *info;
    if (b == 0x0F) {
        FETCH(b);
        in->op = 0x100 | b;
        info = &x86_optab[in->op];
        if (b == 0x38) {   /* the 0F 38 map: every entry has a ModR/M; only MOVBE is here */
            static const X86OpInfo movbe = { op_movbe, OPF_MODRM, OC_NONE, 0, W_N };
            static const X86OpInfo other = { op_unimpl, OPF_MODRM, OC_NONE, 0, W_N };
            FETCH(b);
            in->imm2 = b;  /* op stays 0x138: the third byte rides in imm2 (no immediates) */
            /* INVPCID (66 0F 38 82): CPUID does not claim it, so #UD */
            static const X86OpInfo invpcid = { op_ud, OPF_MODRM, OC_NONE, 0, W_N };
            info = (b == 0xF0 || b == 0xF1) ? &movbe : (b == 0x82 && (prefix & PFX_OPSIZE)) ? &invpcid : &other;
        }
    } else {
        in->op = b;
        info = &x86_optab[b];
    }
    if (prefix & PFX_OPSIZE) osz ^= 6;
    if (prefix & PFX_ADSIZE) asz = m64 ? 4 : asz ^ 6;
    if (m64) {
        if (rex) prefix |= PFX_REX;
        if (rex & 8) {
            prefix |= PFX_REXW;
            osz = 8;
        } else if (default64(in->op)) {
            osz = osz == 2 ? 2 : 8;
        }
        if (in->op < 0x100 && invalid64[in->op >> 5] >> (in->op & 31) & 1) info = &ud_info;
        if (in->op == 0x63) info = &movsxd_info;
        if (in->op == 0x90 && (rex & 1)) info = &x86_optab[0x91];   /* XCHG R8, rAX */
    }
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
        if ((rex & 4) && !reg_is_opcode(in->op)) in->reg |= 8;   /* REX.R */
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
            /* (REX.X extends the index, REX.B the base; SIB index 4 without REX.X is
             * none, and base 5 / rm 5 with mod 0 is decided on the 3 bits: Table 2-5) */
            if (in->rm == 4) {
                uint8_t sib;
                FETCH(sib);
                unsigned index = ((sib >> 3) & 7) | ((rex & 2) << 2);
                in->scale = sib >> 6;
                in->index = index == 4 ? X86_REG_NONE : (uint8_t)index;
                in->base = (sib & 7) | ((rex & 1) << 3);
                if ((sib & 7) == 5 && in->mod == 0) {
                    uint32_t v;
                    FETCH_IMM(4, v);
                    in->base = X86_REG_NONE;
                    in->disp = (int32_t)v;
                }
            } else if (in->rm == 5 && in->mod == 0) {
                uint32_t v;
                FETCH_IMM(4, v);
                in->disp = (int32_t)v;
                if (m64) in->has_modrm |= 2;   /* RIP-relative (SDM Vol. 2A, 2.2.1.6) */
            } else {
                in->base = in->rm | ((rex & 1) << 3);
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
        /* REX.B (x87 register forms name ST(i): no REX there) */
        if (in->mod == 3 && !(in->op >= 0xD8 && in->op <= 0xDF)) in->rm |= (rex & 1) << 3;
        if (rex && (byte_regs(in->op) & 1) && (in->reg & ~3u) == 4) in->reg += X86_REG_BYTE_REX;
        if (rex && (byte_regs(in->op) & 2) && in->mod == 3 && (in->rm & ~3u) == 4)
            in->rm += X86_REG_BYTE_REX;
    } else {
        in->reg = in->rm = (b & 7) | ((rex & 1) << 3);
        if (rex && (in->op & 0xF8) == 0xB0 && (in->reg & ~3u) == 4)
            in->reg = in->rm = (uint8_t)(in->reg + X86_REG_BYTE_REX);   /* MOV SPL..DIL, imm8 */
    }
    /* Near branches are 64-bit whatever 66 says (Intel); FF /6 PUSH defaults to 64. */
    if (m64 && info->cls == OC_GRP5 && !(rex & 8) && in->op == 0xFF) {
        if (in->reg == 2 || in->reg == 4) osz = 8;
        else if (in->reg == 6) osz = osz == 2 ? 2 : 8;
        in->osz = (uint8_t)osz;
    }
    if (m64 && near_branch(in->op)) in->osz = 8, osz = 8;
    in->seg = (uint8_t)(seg >= 0 ? seg : defseg);
    if (seg >= 0) prefix |= PFX_SEG;
    in->prefix = prefix;

    uint16_t fl = info->flags;
    if (info->cls == OC_GRP5 && in->reg >= 2 && in->reg <= 5) fl |= OPF_END;  /* CALL/JMP */
    /* TEST r/m, imm in groups 3 (F6/F7 /0 and /1) carries an immediate. */
    if (info->cls == OC_GRP3 && in->reg <= 1) fl |= in->op == 0xF6 ? OPF_IMM8 : OPF_IMMV;
    if (fl & OPF_IMM16) {
        uint32_t v;
        FETCH_IMM(2, v);
        in->imm = v;
        if (fl & OPF_IMM8) {       /* ENTER imm16, imm8 */
            FETCH_IMM(1, v);
            in->imm2 = v;
            fl &= (uint16_t)~OPF_IMM8;
        }
    }
    if (fl & OPF_IMM8) {
        uint32_t v;
        FETCH_IMM(1, v);
        in->imm = (uint64_t)(int64_t)(int8_t)v;
    }
    if (fl & OPF_IMMV) {
        uint32_t v;
        FETCH_IMM(osz == 8 ? 4 : osz, v);
        in->imm = osz == 2 ? (uint64_t)(int64_t)(int16_t)v : (uint64_t)(int64_t)(int32_t)v;
        if (osz == 8 && (in->op & 0xF8) == 0xB8) {   /* MOV r64, imm64 */
            uint32_t hi;
            FETCH_IMM(4, hi);
            in->imm = (uint64_t)hi << 32 | v;
        }
    }
    if (fl & OPF_FAR) {
        uint32_t v, s;
        FETCH_IMM(osz, v);
        FETCH_IMM(2, s);
        in->imm = v;
        in->imm2 = s;
    }
    if (fl & OPF_MOFFS) {
        uint32_t v, hi = 0;
        FETCH_IMM(asz == 8 ? 4 : asz, v);
        if (asz == 8) FETCH_IMM(4, hi);
        in->disp = (int64_t)((uint64_t)hi << 32 | v);
        in->mod = 0;
    }
    in->len = (uint8_t)f->n;
    if (in->has_modrm & 2) in->disp += (int64_t)(f->ip + f->n);   /* from the next RIP */
    if (in->fn == op_sse && !x86_sse_modelled(in)) in->fn = op_unimpl;
    if ((prefix & PFX_LOCK) && !lockable(in, info)) in->fn = op_ud;
    if (fl & OPF_END) in->op |= 0x200;
    return 0;
}

int x86_decode(X86Cpu *cpu, uint64_t ip, X86Insn *in, uint64_t *last_gpa)
{
    Fetch f = { .cpu = cpu, .ip = ip, .page_lin = ~0ull, .long64 = cpu->mode == X86_MODE_LONG64 };
    int r = decode_insn(&f, cpu->mode, in, false);
    if (r) return r;
    /* x86_specialize() looks at the plain opcode; the block-end mark goes back on after. */
    uint16_t end = in->op & 0x200;
    in->op &= 0x1FF;
    /* The specialised handlers are the legacy modes' (32-bit offsets and stacks). */
    if (in->fn != op_ud && !cpu->slow_path && cpu->mode < X86_MODE_COMPAT16) x86_specialize(in);
    in->op |= end;
    *last_gpa = f.last_gpa;
    return 0;
}

int x86_decode_bytes(const uint8_t *bytes, size_t avail, X86Mode mode, X86Insn *in)
{
    Fetch f = { .buf = bytes, .avail = avail };
    int r = decode_insn(&f, mode, in, true);
    in->op &= 0x1FF;
    return r;
}
