/*
 * The x87 FPU (SDM Vol. 1, chapter 8; the instruction pages of Vol. 2A/2B; opcode map
 * Vol. 2D, A.5): every D8-DF escape opcode of a Pentium Pro class FPU.
 *
 * What this file models itself: the register stack (physical R0-R7, TOP in SW 13:11,
 * ST(i) = R[(TOP + i) & 7]), the full tag word (computed from each value written), stack
 * overflow and underflow (#IS: IE + SF, C1 = 1 for overflow, 0 for underflow; with IE
 * masked the QNaN "real indefinite" is the result, Vol. 1, 8.5.1.1), the exception flags
 * and their masks, ES/B, the pending-exception rule (an unmasked exception is reported by
 * the next waiting x87 instruction or WAIT: #MF with CR0.NE = 1, Vol. 1, 8.6 and Vol. 3A
 * 2.5), #NM for CR0.EM/TS, the last-instruction pointers (FIP/FCS, FDP/FDS, FOP), the
 * environment and save images of FLDENV/FNSTENV/FRSTOR/FNSAVE in their four formats
 * (16/32-bit, real/protected, Vol. 1, Figures 8-9 to 8-12), FXCH, FCMOVcc, FFREE,
 * FINCSTP/FDECSTP, FCHS, FABS and the moves between registers.
 *
 * What it leaves to the host: the numerics. The host is x86 (enforced below), whose x87
 * unit is the architecture being modelled, so each arithmetic step (an add, a rounding
 * to int32, FPREM's partial remainder, FSIN, ...) runs as the same x87 instruction on the
 * host, in one asm block: FNCLEX, FLDCW with the guest's control word (its precision and
 * rounding control and its exception masks), the operands loaded as 80-bit values, the
 * instruction, then FNSAVE, which is a non-waiting instruction, so an exception the guest
 * left unmasked stays pending in the saved image and never traps on the host; FNSAVE also
 * leaves the host FPU initialised. Results, exception flags (IE DE ZE OE UE PE), C0-C3
 * and, with unmasked overflow/underflow, the exponent-adjusted result are therefore the
 * host's, bit for bit. The host never sees an empty register: stack faults are decided
 * here first.
 *
 * Choices and deviations (documented, not hidden):
 * - A memory operand of an arithmetic instruction (FADD m32, FIMUL m16, ...) is first
 *   converted to 80 bits (FLD m32 / FILD on the host, exact, with its IE/DE for SNaN and
 *   denormal operands), then the register form runs: same result and flags.
 * - After arithmetic, C0, C2 and C3 (undefined, Vol. 2) are left unchanged; C1 is the
 *   host's (round-up indication).
 * - With an unmasked IE, DE or ZE nothing is written and nothing is popped (Vol. 1,
 *   4.9.1); a store to memory is also suppressed by an unmasked OE or UE.
 * - FOP is stored by every non-control instruction (the Pentium Pro behaviour; newer
 *   processors may store it only with an unmasked exception pending).
 * - With CR0.NE = 0 there is no FERR#/IRQ 13 wiring: a pending exception is ignored, as
 *   if IGNNE# were asserted.
 * - FISTTP (SSE3) is #UD, as CPUID claims no SSE3; the reserved encodings of A.5 are #UD;
 *   the undocumented aliases (FSTP1, FXCH4, FCOM2, FCOMP3/5, FSTP8/9, FXCH7, FFREEP)
 *   behave as their documented twins.
 */
#include <string.h>

#include "sim/cpu/cpu_internal.h"

#if !defined(__x86_64__) && !defined(__i386__)
#error "cpu_x87.c computes x87 numerics on the host's x87 unit: build on an x86 host"
#endif

/* x87 status word (Vol. 1, 8.1.3, Figure 8-4). */
#define SW_IE  0x0001u   /* invalid operation */
#define SW_DE  0x0002u   /* denormal operand */
#define SW_ZE  0x0004u   /* zero divide */
#define SW_OE  0x0008u   /* overflow */
#define SW_UE  0x0010u   /* underflow */
#define SW_PE  0x0020u   /* precision */
#define SW_SF  0x0040u   /* stack fault */
#define SW_ES  0x0080u   /* exception summary */
#define SW_C0  0x0100u
#define SW_C1  0x0200u
#define SW_C2  0x0400u
#define SW_TOP_SHIFT 11
#define SW_TOP (7u << SW_TOP_SHIFT)
#define SW_C3  0x4000u
#define SW_B   0x8000u   /* busy: mirrors ES on the 387 and later */
#define SW_EXC 0x003Fu
#define SW_CC  (SW_C0 | SW_C1 | SW_C2 | SW_C3)
/* Control word (Vol. 1, 8.1.5): exception masks in bits 5:0 (as SW_EXC), PC 9:8, RC 11:10. */
#define CW_IM  0x0001u
/* Tags (Vol. 1, 8.1.7). */
#define TAG_VALID   0u
#define TAG_ZERO    1u
#define TAG_SPECIAL 2u
#define TAG_EMPTY   3u

typedef struct { uint8_t b[10]; } F80;

/* The QNaN floating-point indefinite (Vol. 1, 4.8.3.7, Table 4-3): sign 1, exponent all
 * ones, significand 1.1000...; packed BCD indefinite has the same ten bytes. */
static const F80 f80_indefinite = { { 0, 0, 0, 0, 0, 0, 0, 0xC0, 0xFF, 0xFF } };

static unsigned f80_tag(const F80 *v)
{
    uint64_t m;
    memcpy(&m, v->b, 8);
    unsigned e = (v->b[8] | (unsigned)v->b[9] << 8) & 0x7FFF;
    if (e == 0) return m == 0 ? TAG_ZERO : TAG_SPECIAL;   /* zero, denormal */
    if (e == 0x7FFF) return TAG_SPECIAL;                  /* infinity, NaN */
    return (m >> 63) ? TAG_VALID : TAG_SPECIAL;           /* normal, unnormal */
}

/* ---------------------------------------------------------------------------------- */
/* The host's x87 unit                                                                  */
/* ---------------------------------------------------------------------------------- */

/* FNSAVE image in the 32-bit protected-mode format (what 64-bit mode stores too). */
typedef struct HostImage {
    uint16_t cw, cw_hi, sw, sw_hi, tw, tw_hi;
    uint32_t fip, fcs_fop, fdp, fds;
    F80 st[8];                /* ST(0) first */
} HostImage;
_Static_assert(sizeof(HostImage) == 108, "FNSAVE image is 108 bytes");

typedef struct HostOut {
    HostImage img;            /* the status word and ST0, ST1 (when in use) */
    uint8_t zf, pf, cf;       /* EFLAGS after the instruction (FCOMI, FUCOMI) */
} HostOut;

enum HostOp {
    H_ADD, H_MUL, H_SUB, H_SUBR, H_DIV, H_DIVR,           /* ST0 = a op b */
    H_COM, H_UCOM, H_COMI, H_UCOMI, H_TST, H_XAM,
    H_SQRT, H_RNDINT, H_SCALE, H_PREM, H_PREM1, H_XTRACT,
    H_F2XM1, H_YL2X, H_YL2XP1, H_PTAN, H_PATAN, H_SIN, H_COS, H_SINCOS,
    H_LD32, H_LD64, H_ILD16, H_ILD32, H_ILD64, H_BLD,      /* push from m */
    H_ST32, H_ST64, H_IST16, H_IST32, H_IST64, H_BSTP,     /* store a to m, pop */
    H_LD1, H_LDL2T, H_LDL2E, H_LDPI, H_LDLG2, H_LDLN2, H_LDZ,
    H_ST80,                   /* FSTP m80: not a host operation (no conversion) */
};

static const uint16_t host_cw_masked = 0x037F;   /* FNINIT's: every exception masked */

#define HOST_X87_CLOBBERS \
    "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)", "st(7)", "rax", "memory", "cc"
/* One host instruction `insn` with ST0 = *a, ST1 = *b and the guest's control word; the
 * status word after it, ST0 and (when in use) ST1 in r->img, ZF/PF/CF in r. The stack
 * starts empty with TOP 0 and holds one to three values after `insn` (TOP 7, 6 or 5):
 * exactly those are popped, after FNCLEX and under the host's masked control word, so
 * nothing can trap and TOP is 0 again. (FNSAVE did this at several times the cost: 60%
 * of this function in a Linux awk profile; popping an empty register costs a microcode
 * assist.) */
#define HOST_RUN(insn)                                                                  \
    __asm__ volatile("fnclex\n\t"                                                       \
                     "fldcw %[cw]\n\t"                                                  \
                     "fldt %[b]\n\t"                                                    \
                     "fldt %[a]\n\t" insn "\n\t"                                        \
                     "setz %[zf]\n\t"                                                   \
                     "setp %[pf]\n\t"                                                   \
                     "setc %[cf]\n\t"                                                   \
                     "fnstsw %%ax\n\t"                                                  \
                     "mov %%ax, %[sw]\n\t"                                              \
                     "fnclex\n\t"                                                       \
                     "fldcw %[hcw]\n\t"                                                 \
                     "fstpt %[st0]\n\t"                                                 \
                     "and $0x3800, %%ax\n\t"                                            \
                     "cmp $0x3800, %%ax\n\t"                                            \
                     "je 1f\n\t"                                                        \
                     "fstpt %[st1]\n\t"                                                 \
                     "cmp $0x3000, %%ax\n\t"                                            \
                     "je 1f\n\t"                                                        \
                     "fstp %%st(0)\n"                                                  \
                     "1:"                                                               \
                     : [sw] "=m"(r->img.sw), [st0] "=m"(r->img.st[0]),                  \
                       [st1] "=m"(r->img.st[1]), [m] "+m"(*m), [zf] "=m"(r->zf),        \
                       [pf] "=m"(r->pf), [cf] "=m"(r->cf)                               \
                     : [cw] "m"(cw), [hcw] "m"(host_cw_masked), [a] "m"(*a), [b] "m"(*b) \
                     : HOST_X87_CLOBBERS)

/* Runs host operation `op` (enum HostOp) under control word `cw` on a (ST0) and b (ST1),
 * with `m` as the memory operand of loads and stores. Never faults: every exception the
 * guest unmasked is left pending in r->img.sw and the host FPU is initialised after. */
static void host_x87(unsigned op, uint16_t cw, const F80 *a, const F80 *b, F80 *m, HostOut *r)
{
    switch (op) {
    case H_ADD:    HOST_RUN(".byte 0xD8, 0xC1"); break;   /* fadd st0, st1 */
    case H_MUL:    HOST_RUN(".byte 0xD8, 0xC9"); break;   /* fmul st0, st1 */
    case H_SUB:    HOST_RUN(".byte 0xD8, 0xE1"); break;   /* fsub st0, st1: st0 - st1 */
    case H_SUBR:   HOST_RUN(".byte 0xD8, 0xE9"); break;   /* fsubr st0, st1: st1 - st0 */
    case H_DIV:    HOST_RUN(".byte 0xD8, 0xF1"); break;   /* fdiv st0, st1: st0 / st1 */
    case H_DIVR:   HOST_RUN(".byte 0xD8, 0xF9"); break;   /* fdivr st0, st1: st1 / st0 */
    case H_COM:    HOST_RUN(".byte 0xD8, 0xD1"); break;   /* fcom st1 */
    case H_UCOM:   HOST_RUN(".byte 0xDD, 0xE1"); break;   /* fucom st1 */
    case H_COMI:   HOST_RUN(".byte 0xDB, 0xF1"); break;   /* fcomi st0, st1 */
    case H_UCOMI:  HOST_RUN(".byte 0xDB, 0xE9"); break;   /* fucomi st0, st1 */
    case H_TST:    HOST_RUN(".byte 0xD9, 0xE4"); break;
    case H_XAM:    HOST_RUN(".byte 0xD9, 0xE5"); break;
    case H_SQRT:   HOST_RUN(".byte 0xD9, 0xFA"); break;
    case H_RNDINT: HOST_RUN(".byte 0xD9, 0xFC"); break;
    case H_SCALE:  HOST_RUN(".byte 0xD9, 0xFD"); break;
    case H_PREM:   HOST_RUN(".byte 0xD9, 0xF8"); break;
    case H_PREM1:  HOST_RUN(".byte 0xD9, 0xF5"); break;
    case H_XTRACT: HOST_RUN(".byte 0xD9, 0xF4"); break;
    case H_F2XM1:  HOST_RUN(".byte 0xD9, 0xF0"); break;
    case H_YL2X:   HOST_RUN(".byte 0xD9, 0xF1"); break;
    case H_YL2XP1: HOST_RUN(".byte 0xD9, 0xF9"); break;
    case H_PTAN:   HOST_RUN(".byte 0xD9, 0xF2"); break;
    case H_PATAN:  HOST_RUN(".byte 0xD9, 0xF3"); break;
    case H_SIN:    HOST_RUN(".byte 0xD9, 0xFE"); break;
    case H_COS:    HOST_RUN(".byte 0xD9, 0xFF"); break;
    case H_SINCOS: HOST_RUN(".byte 0xD9, 0xFB"); break;
    case H_LD32:   HOST_RUN("flds %[m]"); break;
    case H_LD64:   HOST_RUN("fldl %[m]"); break;
    case H_ILD16:  HOST_RUN("filds %[m]"); break;
    case H_ILD32:  HOST_RUN("fildl %[m]"); break;
    case H_ILD64:  HOST_RUN("fildll %[m]"); break;
    case H_BLD:    HOST_RUN("fbld %[m]"); break;
    case H_ST32:   HOST_RUN("fstps %[m]"); break;
    case H_ST64:   HOST_RUN("fstpl %[m]"); break;
    case H_IST16:  HOST_RUN("fistps %[m]"); break;
    case H_IST32:  HOST_RUN("fistpl %[m]"); break;
    case H_IST64:  HOST_RUN("fistpll %[m]"); break;
    case H_BSTP:   HOST_RUN("fbstp %[m]"); break;
    case H_LD1:    HOST_RUN(".byte 0xD9, 0xE8"); break;
    case H_LDL2T:  HOST_RUN(".byte 0xD9, 0xE9"); break;
    case H_LDL2E:  HOST_RUN(".byte 0xD9, 0xEA"); break;
    case H_LDPI:   HOST_RUN(".byte 0xD9, 0xEB"); break;
    case H_LDLG2:  HOST_RUN(".byte 0xD9, 0xEC"); break;
    case H_LDLN2:  HOST_RUN(".byte 0xD9, 0xED"); break;
    default:       HOST_RUN(".byte 0xD9, 0xEE"); break;   /* H_LDZ */
    }
}

/* How many registers the host operation pushed (1), popped (-1) or neither (0). */
static int host_delta(const HostOut *r)
{
    return 6 - (int)((r->img.sw >> SW_TOP_SHIFT) & 7);
}

/* ---------------------------------------------------------------------------------- */
/* The register stack                                                                   */
/* ---------------------------------------------------------------------------------- */

static inline unsigned fpu_top(const X86Cpu *cpu) { return (cpu->fpu_sw >> SW_TOP_SHIFT) & 7; }
static inline unsigned st_phys(const X86Cpu *cpu, unsigned i) { return (fpu_top(cpu) + i) & 7; }
static inline unsigned phys_tag(const X86Cpu *cpu, unsigned p) { return (cpu->fpu_tw >> (2 * p)) & 3; }
static inline bool st_empty(const X86Cpu *cpu, unsigned i)
{
    return phys_tag(cpu, st_phys(cpu, i)) == TAG_EMPTY;
}
static inline void set_phys_tag(X86Cpu *cpu, unsigned p, unsigned tag)
{
    cpu->fpu_tw = (uint16_t)((cpu->fpu_tw & ~(3u << (2 * p))) | (tag << (2 * p)));
}
static inline F80 st_get(const X86Cpu *cpu, unsigned i)
{
    F80 v;
    memcpy(v.b, cpu->fpu_reg[st_phys(cpu, i)], 10);
    return v;
}
static void st_set(X86Cpu *cpu, unsigned i, const F80 *v)
{
    unsigned p = st_phys(cpu, i);
    memcpy(cpu->fpu_reg[p], v->b, 10);
    set_phys_tag(cpu, p, f80_tag(v));
}
static inline void set_top(X86Cpu *cpu, unsigned top)
{
    cpu->fpu_sw = (uint16_t)((cpu->fpu_sw & ~SW_TOP) | ((top & 7) << SW_TOP_SHIFT));
}
static void fpu_pop(X86Cpu *cpu)
{
    set_phys_tag(cpu, fpu_top(cpu), TAG_EMPTY);
    set_top(cpu, fpu_top(cpu) + 1);
}
static void fpu_push(X86Cpu *cpu, const F80 *v)
{
    set_top(cpu, fpu_top(cpu) - 1);
    st_set(cpu, 0, v);
}

/* ES and B: set while an exception flag is set whose mask bit is clear (Vol. 1, 8.1.3.x;
 * FLDCW, FLDENV and FRSTOR can raise or clear it too). */
static void update_es(X86Cpu *cpu)
{
    if (cpu->fpu_sw & ~cpu->fpu_cw & SW_EXC) cpu->fpu_sw |= SW_ES | SW_B;
    else cpu->fpu_sw &= (uint16_t)~(SW_ES | SW_B);
}

static void set_c1(X86Cpu *cpu, bool c1)
{
    cpu->fpu_sw = (uint16_t)((cpu->fpu_sw & ~SW_C1) | (c1 ? SW_C1 : 0));
}

/* Stack overflow (a push onto a register in use) or underflow (an empty source): IE, SF
 * and C1 = overflow (Vol. 1, 8.5.1.1). Returns true when IE is masked: the caller gives
 * the masked response (the indefinite); unmasked, nothing else changes. */
static bool stack_fault(X86Cpu *cpu, bool overflow)
{
    cpu->fpu_sw |= SW_IE | SW_SF;
    set_c1(cpu, overflow);
    update_es(cpu);
    return (cpu->fpu_cw & CW_IM) != 0;
}

/* Merges the host's exception flags and the condition codes in `cc` into the status word;
 * returns the exceptions the guest left unmasked. */
static unsigned merge(X86Cpu *cpu, const HostOut *r, unsigned cc)
{
    unsigned exc = r->img.sw & SW_EXC;
    cpu->fpu_sw = (uint16_t)((cpu->fpu_sw & ~cc) | (r->img.sw & cc) | exc);
    update_es(cpu);
    return exc & ~cpu->fpu_cw & SW_EXC;
}
/* Unmasked exceptions after which the destination is not written and nothing popped. */
#define BLOCK_REG (SW_IE | SW_DE | SW_ZE)
#define BLOCK_MEM (SW_IE | SW_DE | SW_ZE | SW_OE | SW_UE)

/* The pending-exception check of every waiting x87 instruction and WAIT (Vol. 1, 8.6):
 * #MF with CR0.NE = 1 (with NE = 0 see the file comment). */
static void check_pending(X86Cpu *cpu)
{
    if ((cpu->fpu_sw & SW_ES) && (cpu->cr0 & X86_CR0_NE)) x86_fault(cpu, X86_EXC_MF, false, 0);
}

/* 9B WAIT/FWAIT: #NM when CR0.MP and CR0.TS are both set (Vol. 3A, 2.5, Table 2-2),
 * then the pending x87 exception, if any. */
void op_wait(X86Cpu *cpu, const X86Insn *in)
{
    (void)in;
    if ((cpu->cr0 & (X86_CR0_MP | X86_CR0_TS)) == (X86_CR0_MP | X86_CR0_TS))
        x86_fault(cpu, X86_EXC_NM, false, 0);
    check_pending(cpu);
}

/* ---------------------------------------------------------------------------------- */
/* Memory operands                                                                      */
/* ---------------------------------------------------------------------------------- */

static inline uint64_t ea_plus(const X86Insn *in, uint64_t ea, unsigned k)
{
    return ea_add(in, ea, k);
}

/* Reads n bytes of the memory operand (in 4-, 2- and 1-byte pieces). */
static void fmem_read(X86Cpu *cpu, const X86Insn *in, uint8_t *p, unsigned n)
{
    uint64_t ea = insn_ea(cpu, in);
    unsigned k = 0;
    while (k < n) {
        unsigned sz = n - k >= 4 ? 4 : n - k >= 2 ? 2 : 1;
        st_le(p + k, sz, mem_read(cpu, in->seg, ea_plus(in, ea, k), sz));
        k += sz;
    }
}

/* Writes n bytes. A fault part way leaves the CPU state untouched (callers change the
 * FPU only after), so the restarted instruction writes the same bytes again. */
static void fmem_write(X86Cpu *cpu, const X86Insn *in, const uint8_t *p, unsigned n)
{
    uint64_t ea = insn_ea(cpu, in);
    unsigned k = 0;
    while (k < n) {
        unsigned sz = n - k >= 4 ? 4 : n - k >= 2 ? 2 : 1;
        mem_write(cpu, in->seg, ea_plus(in, ea, k), sz, ld_le(p + k, sz));
        k += sz;
    }
}

/* The last non-control instruction (Vol. 1, 8.1.8): FIP/FCS, FOP and, for a memory
 * operand, FDP/FDS. */
static void note_insn(X86Cpu *cpu, const X86Insn *in)
{
    cpu->fpu_fip = (uint32_t)cpu->rip;
    cpu->fpu_fcs = cpu->cs.selector;
    cpu->fpu_fop = (uint16_t)(((in->op & 7u) << 8) | (in->mod << 6) | (in->reg << 3) | in->rm);
    if (in->mod != 3) {
        cpu->fpu_fdp = insn_ea(cpu, in);
        cpu->fpu_fds = cpu->seg[in->seg].selector;
    }
}

/* ---------------------------------------------------------------------------------- */
/* Instruction families                                                                 */
/* ---------------------------------------------------------------------------------- */

static const F80 f80_zero;

/* Converts a memory operand (m32fp, m64fp, m16int, m32int, m64int, m80bcd) with the
 * host's FLD/FILD/FBLD. Returns false when an unmasked exception blocks the instruction. */
static bool load_convert(X86Cpu *cpu, unsigned hop, F80 *m, F80 *out)
{
    HostOut r;
    host_x87(hop, cpu->fpu_cw, &f80_zero, &f80_zero, m, &r);
    if (merge(cpu, &r, 0) & BLOCK_REG) return false;
    *out = r.img.st[0];
    return true;
}

static const unsigned arith_hop[8] = { H_ADD, H_MUL, 0, 0, H_SUB, H_SUBR, H_DIV, H_DIVR };

/* FADD FMUL FSUB FSUBR FDIV FDIVR (and their P and I forms): ST(dst) = ST(dst) op other,
 * `kind` the D8 reg field (4: dst - other, 5: other - dst, 6: dst / other, 7: other /
 * dst); pops once after when `pop`. */
static void fpu_arith(X86Cpu *cpu, unsigned kind, unsigned dst, const F80 *other,
                      bool other_empty, bool pop)
{
    if (st_empty(cpu, dst) || other_empty) {
        if (!stack_fault(cpu, false)) return;
        st_set(cpu, dst, &f80_indefinite);
    } else {
        F80 a = st_get(cpu, dst), m = f80_zero;
        HostOut r;
        host_x87(arith_hop[kind], cpu->fpu_cw, &a, other, &m, &r);
        if (merge(cpu, &r, SW_C1) & BLOCK_REG) return;
        st_set(cpu, dst, &r.img.st[0]);
    }
    if (pop) fpu_pop(cpu);
}

/* FCOM FCOMP FCOMPP FUCOM* FICOM* (C3 C2 C0) and FCOMI FUCOMI(P) (ZF PF CF; OF SF AF
 * cleared): ST(0) against `other`, then `pops` pops. Underflow masked: unordered. */
static void fpu_compare(X86Cpu *cpu, unsigned hop, const F80 *other, bool other_empty,
                        unsigned pops)
{
    bool eflags = hop == H_COMI || hop == H_UCOMI;
    if (st_empty(cpu, 0) || other_empty) {
        /* "unordered" whether IE is masked or not (as the host does) */
        if (eflags)
            flags_set_arith(cpu, X86_FLAG_ZF | X86_FLAG_PF | X86_FLAG_CF, X86_FLAGS_ARITH);
        else
            cpu->fpu_sw |= SW_C0 | SW_C2 | SW_C3;
        if (!stack_fault(cpu, false)) return;
    } else {
        F80 a = st_get(cpu, 0), m = f80_zero;
        HostOut r;
        host_x87(hop, cpu->fpu_cw, &a, other, &m, &r);
        unsigned unmasked = merge(cpu, &r, eflags ? SW_C1 : SW_CC);
        /* FCOMI sets the flags even when its IE is unmasked (as the host does) */
        if (eflags)
            flags_set_arith(cpu, (r.zf ? X86_FLAG_ZF : 0) | (r.pf ? X86_FLAG_PF : 0) |
                                     (r.cf ? X86_FLAG_CF : 0), X86_FLAGS_ARITH);
        if (unmasked & BLOCK_REG) return;
    }
    while (pops--) fpu_pop(cpu);
}

/* A push of `v` (FLD and the loads): overflow when ST(7) is in use. */
static void fpu_load(X86Cpu *cpu, const F80 *v)
{
    if (!st_empty(cpu, 7)) {
        if (!stack_fault(cpu, true)) return;
        v = &f80_indefinite;
    } else {
        set_c1(cpu, false);
    }
    fpu_push(cpu, v);
}

/* FLD m32/m64, FILD m16/m32/m64, FBLD m80: the memory is read first (faults), overflow
 * is decided before the conversion's own exceptions. */
static void fpu_load_mem(X86Cpu *cpu, const X86Insn *in, unsigned hop, unsigned n)
{
    F80 m = f80_zero, v;
    fmem_read(cpu, in, m.b, n);
    if (!st_empty(cpu, 7)) {
        if (stack_fault(cpu, true)) fpu_push(cpu, &f80_indefinite);
        return;
    }
    if (!load_convert(cpu, hop, &m, &v)) return;
    set_c1(cpu, false);
    fpu_push(cpu, &v);
}

/* FST/FSTP m32/m64, FIST/FISTP m16/m32/m64, FBSTP m80, FSTP m80. */
static void fpu_store_mem(X86Cpu *cpu, const X86Insn *in, unsigned hop, unsigned n, bool pop)
{
    F80 m = f80_zero;
    if (st_empty(cpu, 0)) {
        if (!(cpu->fpu_cw & CW_IM)) { stack_fault(cpu, false); return; }
        /* the indefinite of the destination format (Vol. 1, 4.8.3.7, Table 4-3) */
        static const uint8_t ind32[4] = { 0, 0, 0xC0, 0xFF };
        static const uint8_t ind64[8] = { 0, 0, 0, 0, 0, 0, 0xF8, 0xFF };
        if (hop == H_ST32) memcpy(m.b, ind32, 4);
        else if (hop == H_ST64) memcpy(m.b, ind64, 8);
        else if (hop == H_IST16 || hop == H_IST32 || hop == H_IST64) m.b[n - 1] = 0x80;
        else m = f80_indefinite;   /* m80fp, m80bcd */
        fmem_write(cpu, in, m.b, n);
        stack_fault(cpu, false);
    } else {
        F80 a = st_get(cpu, 0);
        HostOut r;
        if (hop == H_ST80) {
            m = a;   /* FSTP m80: no conversion, no exception */
            memset(&r, 0, sizeof r);
        } else {
            host_x87(hop, cpu->fpu_cw, &a, &f80_zero, &m, &r);
            if ((r.img.sw & SW_EXC & ~cpu->fpu_cw) & BLOCK_MEM) {
                merge(cpu, &r, SW_C1);
                return;
            }
        }
        fmem_write(cpu, in, m.b, n);
        if (hop == H_ST80) set_c1(cpu, false);
        else merge(cpu, &r, SW_C1);
    }
    if (pop) fpu_pop(cpu);
}

/* The D9 E0-FF operations on ST(0) (and ST(1)) computed by the host: `nin` operands,
 * the CC bits that the instruction defines, and what the host's stack did (push, pop). */
static void fpu_special(X86Cpu *cpu, unsigned hop, unsigned nin, unsigned cc)
{
    bool push = hop == H_XTRACT || hop == H_PTAN || hop == H_SINCOS;
    if (st_empty(cpu, 0) || (nin == 2 && st_empty(cpu, 1))) {
        if (hop == H_TST) {   /* unordered, masked or not (as FCOM) */
            cpu->fpu_sw |= SW_C0 | SW_C2 | SW_C3;
            stack_fault(cpu, false);
            return;
        }
        if (!stack_fault(cpu, false)) return;
        if (hop == H_YL2X || hop == H_YL2XP1 || hop == H_PATAN) {
            st_set(cpu, 1, &f80_indefinite);
            fpu_pop(cpu);
            return;
        }
        st_set(cpu, 0, &f80_indefinite);
        if (push) fpu_load(cpu, &f80_indefinite);
        return;
    }
    if (push && !st_empty(cpu, 7)) {
        if (!stack_fault(cpu, true)) return;
        st_set(cpu, 0, &f80_indefinite);
        fpu_push(cpu, &f80_indefinite);
        return;
    }
    F80 a = st_get(cpu, 0), b = nin == 2 ? st_get(cpu, 1) : f80_zero, m = f80_zero;
    HostOut r;
    host_x87(hop, cpu->fpu_cw, &a, &b, &m, &r);
    if (merge(cpu, &r, cc) & BLOCK_REG) return;
    if (hop == H_TST || hop == H_XAM) return;
    switch (host_delta(&r)) {
    case 1:    /* FXTRACT, FPTAN, FSINCOS completed */
        st_set(cpu, 0, &r.img.st[1]);
        fpu_push(cpu, &r.img.st[0]);
        break;
    case -1:   /* FYL2X, FYL2XP1, FPATAN */
        st_set(cpu, 1, &r.img.st[0]);
        fpu_pop(cpu);
        break;
    default:
        st_set(cpu, 0, &r.img.st[0]);   /* FPREM, FSCALE, ... keep ST(1) */
        break;
    }
}

/* FXAM (Vol. 2A, FXAM): an empty ST(0) is classified here (C3 C0 = 1, C1 the sign). */
static void fpu_xam(X86Cpu *cpu)
{
    if (st_empty(cpu, 0)) {
        F80 a = st_get(cpu, 0);
        cpu->fpu_sw = (uint16_t)((cpu->fpu_sw & ~SW_CC) | SW_C3 | SW_C0 |
                                 ((a.b[9] & 0x80) ? SW_C1 : 0));
        return;
    }
    fpu_special(cpu, H_XAM, 1, SW_CC);
}

/* FXCH ST(i): an empty register is first given the indefinite (masked underflow). */
static void fpu_xch(X86Cpu *cpu, unsigned i)
{
    if (st_empty(cpu, 0) || st_empty(cpu, i)) {
        if (!stack_fault(cpu, false)) return;
        if (st_empty(cpu, 0)) st_set(cpu, 0, &f80_indefinite);
        if (st_empty(cpu, i)) st_set(cpu, i, &f80_indefinite);
    } else {
        set_c1(cpu, false);
    }
    F80 a = st_get(cpu, 0), b = st_get(cpu, i);
    st_set(cpu, 0, &b);
    st_set(cpu, i, &a);
}

/* FST/FSTP ST(i) (no conversion). */
static void fpu_st_reg(X86Cpu *cpu, unsigned i, bool pop)
{
    if (st_empty(cpu, 0)) {
        if (!stack_fault(cpu, false)) return;
        st_set(cpu, i, &f80_indefinite);
    } else {
        F80 a = st_get(cpu, 0);
        st_set(cpu, i, &a);
        set_c1(cpu, false);
    }
    if (pop) fpu_pop(cpu);
}

/* FCMOVcc ST(0), ST(i) (DA C0-DF, DB C0-DF): cc as in Jcc. */
static void fpu_cmov(X86Cpu *cpu, unsigned cc, unsigned i)
{
    if (st_empty(cpu, 0) || st_empty(cpu, i)) {
        if (stack_fault(cpu, false)) st_set(cpu, 0, &f80_indefinite);
        return;
    }
    set_c1(cpu, false);
    if (x86_cond(cpu, cc)) {
        F80 v = st_get(cpu, i);
        st_set(cpu, 0, &v);
    }
}

/* ---------------------------------------------------------------------------------- */
/* Environment and state images (Vol. 1, 8.1.10, Figures 8-9 to 8-12)                  */
/* ---------------------------------------------------------------------------------- */

static inline void put16(uint8_t *p, uint32_t v) { st_le(p, 2, v); }
static inline void put32(uint8_t *p, uint32_t v) { st_le(p, 4, v); }

/* The environment in the format of the mode and operand size; returns its size. Real
 * and virtual-8086 mode store the 20/32-bit linear pointers (segment << 4 + offset). */
static unsigned env_image(const X86Cpu *cpu, unsigned osz, uint8_t *p)
{
    bool real = !x86_pm(cpu);
    uint32_t fip = cpu->fpu_fip, fdp = cpu->fpu_fdp, fop = cpu->fpu_fop & 0x7FFu;
    if (real) {
        fip += (uint32_t)cpu->fpu_fcs << 4;
        fdp += (uint32_t)cpu->fpu_fds << 4;
    }
    if (osz == 4) {
        put32(p + 0, 0xFFFF0000u | cpu->fpu_cw);
        put32(p + 4, 0xFFFF0000u | cpu->fpu_sw);
        put32(p + 8, 0xFFFF0000u | cpu->fpu_tw);
        if (real) {
            put32(p + 12, 0xFFFF0000u | (fip & 0xFFFF));
            put32(p + 16, ((fip >> 16) << 12) | fop);
            put32(p + 20, 0xFFFF0000u | (fdp & 0xFFFF));
            put32(p + 24, (fdp >> 16) << 12);
        } else {
            put32(p + 12, fip);
            put32(p + 16, cpu->fpu_fcs | (fop << 16));
            put32(p + 20, fdp);
            put32(p + 24, 0xFFFF0000u | cpu->fpu_fds);
        }
        return 28;
    }
    put16(p + 0, cpu->fpu_cw);
    put16(p + 2, cpu->fpu_sw);
    put16(p + 4, cpu->fpu_tw);
    if (real) {
        put16(p + 6, fip & 0xFFFF);
        put16(p + 8, (((fip >> 16) & 0xF) << 12) | fop);
        put16(p + 10, fdp & 0xFFFF);
        put16(p + 12, ((fdp >> 16) & 0xF) << 12);
    } else {
        put16(p + 6, fip & 0xFFFF);
        put16(p + 8, cpu->fpu_fcs);
        put16(p + 10, fdp & 0xFFFF);
        put16(p + 12, cpu->fpu_fds);
    }
    return 14;
}

/* Loads an environment image (FLDENV, FRSTOR). The tag word marks registers empty or in
 * use; the tags of those in use are recomputed from their contents, as the processor
 * does. Real-mode pointers are kept as linear addresses with selector 0. */
static void env_load(X86Cpu *cpu, unsigned osz, const uint8_t *p)
{
    bool real = !x86_pm(cpu);
    uint16_t cw, sw, tw;
    if (osz == 4) {
        cw = (uint16_t)ld_le(p, 2); sw = (uint16_t)ld_le(p + 4, 2); tw = (uint16_t)ld_le(p + 8, 2);
        if (real) {
            cpu->fpu_fip = ld_le(p + 12, 2) | ((ld_le(p + 16, 4) >> 12) & 0xFFFF) << 16;
            cpu->fpu_fop = (uint16_t)(ld_le(p + 16, 2) & 0x7FF);
            cpu->fpu_fdp = ld_le(p + 20, 2) | ((ld_le(p + 24, 4) >> 12) & 0xFFFF) << 16;
            cpu->fpu_fcs = cpu->fpu_fds = 0;
        } else {
            cpu->fpu_fip = ld_le(p + 12, 4);
            cpu->fpu_fcs = (uint16_t)ld_le(p + 16, 2);
            cpu->fpu_fop = (uint16_t)((ld_le(p + 16, 4) >> 16) & 0x7FF);
            cpu->fpu_fdp = ld_le(p + 20, 4);
            cpu->fpu_fds = (uint16_t)ld_le(p + 24, 2);
        }
    } else {
        cw = (uint16_t)ld_le(p, 2); sw = (uint16_t)ld_le(p + 2, 2); tw = (uint16_t)ld_le(p + 4, 2);
        if (real) {
            cpu->fpu_fip = ld_le(p + 6, 2) | (ld_le(p + 8, 2) >> 12) << 16;
            cpu->fpu_fop = (uint16_t)(ld_le(p + 8, 2) & 0x7FF);
            cpu->fpu_fdp = ld_le(p + 10, 2) | (ld_le(p + 12, 2) >> 12) << 16;
            cpu->fpu_fcs = cpu->fpu_fds = 0;
        } else {
            cpu->fpu_fip = ld_le(p + 6, 2);
            cpu->fpu_fcs = (uint16_t)ld_le(p + 8, 2);
            cpu->fpu_fdp = ld_le(p + 10, 2);
            cpu->fpu_fds = (uint16_t)ld_le(p + 12, 2);
        }
    }
    cpu->fpu_cw = (uint16_t)((cw & 0x1F3F) | 0x0040);   /* as FLDCW */
    cpu->fpu_sw = sw;
    for (unsigned r = 0; r < 8; r++) {
        F80 v;
        memcpy(v.b, cpu->fpu_reg[r], 10);
        set_phys_tag(cpu, r, ((tw >> (2 * r)) & 3) == TAG_EMPTY ? TAG_EMPTY : f80_tag(&v));
    }
    update_es(cpu);
}

static void fpu_fninit(X86Cpu *cpu)
{
    cpu->fpu_cw = 0x037F;   /* Vol. 1, 8.1.x Table 8-x: the FINIT/FNINIT state */
    cpu->fpu_sw = 0;
    cpu->fpu_tw = 0xFFFF;
    cpu->fpu_fip = cpu->fpu_fdp = 0;
    cpu->fpu_fcs = cpu->fpu_fds = cpu->fpu_fop = 0;
}

/* ---------------------------------------------------------------------------------- */
/* Decoding (Vol. 2D, A.5: the escape opcode maps)                                      */
/* ---------------------------------------------------------------------------------- */

/* The instructions that do not check for a pending exception (Vol. 1, 8.6 / 8.3.x):
 * FNINIT FNCLEX FNSTSW FNSTCW FNSTENV FNSAVE and the 8087/287 FNENI FNDISI FNSETPM. */
static bool nonwaiting(unsigned esc, const X86Insn *in)
{
    if (in->mod == 3)
        return (esc == 3 && in->reg == 4 && in->rm <= 4) || (esc == 7 && in->reg == 4 && in->rm == 0);
    return (esc == 1 && (in->reg == 6 || in->reg == 7)) || (esc == 5 && (in->reg == 6 || in->reg == 7));
}

/* Control instructions do not change FIP/FDP/FOP (Vol. 1, 8.1.8). */
static bool control_insn(unsigned esc, const X86Insn *in)
{
    if (in->mod == 3)   /* FNENI..FNSETPM, FNCLEX, FNINIT; FNSTSW AX */
        return (esc == 3 && in->reg == 4) || (esc == 7 && in->reg == 4 && in->rm == 0);
    if (esc == 1) return in->reg >= 4;                    /* FLDENV FLDCW FNSTENV FNSTCW */
    if (esc == 5) return in->reg >= 4;                    /* FRSTOR FNSAVE FNSTSW */
    return false;
}

static NORETURN void fpu_ud(X86Cpu *cpu) { x86_fault(cpu, X86_EXC_UD, false, 0); }

/* Memory forms. */
static void fpu_mem(X86Cpu *cpu, const X86Insn *in, unsigned esc)
{
    unsigned reg = in->reg;
    F80 m = f80_zero, v;
    switch (esc) {
    case 0: case 2: case 4: case 6: {   /* arithmetic with m32fp, m32int, m64fp, m16int */
        static const unsigned hop[4] = { H_LD32, H_ILD32, H_LD64, H_ILD16 };
        static const unsigned size[4] = { 4, 4, 8, 2 };
        fmem_read(cpu, in, m.b, size[esc / 2]);
        if (st_empty(cpu, 0)) {   /* the operand is not converted */
            if (reg == 2 || reg == 3) fpu_compare(cpu, H_COM, &f80_zero, true, reg == 3);
            else fpu_arith(cpu, reg, 0, &f80_zero, true, false);
            return;
        }
        if (!load_convert(cpu, hop[esc / 2], &m, &v)) return;
        if (reg == 2 || reg == 3) fpu_compare(cpu, H_COM, &v, false, reg == 3);
        else fpu_arith(cpu, reg, 0, &v, false, false);
        return;
    }
    case 1:
        switch (reg) {
        case 0: fpu_load_mem(cpu, in, H_LD32, 4); return;
        case 2: fpu_store_mem(cpu, in, H_ST32, 4, false); return;
        case 3: fpu_store_mem(cpu, in, H_ST32, 4, true); return;
        case 4: {   /* FLDENV */
            uint8_t buf[28];
            fmem_read(cpu, in, buf, in->osz == 4 ? 28 : 14);
            env_load(cpu, in->osz, buf);
            return;
        }
        case 5: {   /* FLDCW: bit 6 reads as 1, bits 7 and 13-15 as 0 */
            uint8_t buf[2];
            fmem_read(cpu, in, buf, 2);
            cpu->fpu_cw = (uint16_t)((ld_le(buf, 2) & 0x1F3F) | 0x0040);
            update_es(cpu);
            return;
        }
        case 6: {   /* FNSTENV: then all exceptions masked (Vol. 2A, FSTENV) */
            uint8_t buf[28];
            unsigned n = env_image(cpu, in->osz, buf);
            fmem_write(cpu, in, buf, n);
            cpu->fpu_cw |= SW_EXC;
            update_es(cpu);
            return;
        }
        case 7: {   /* FNSTCW */
            uint8_t buf[2];
            put16(buf, cpu->fpu_cw);
            fmem_write(cpu, in, buf, 2);
            return;
        }
        }
        fpu_ud(cpu);
    case 3:
        switch (reg) {
        case 0: fpu_load_mem(cpu, in, H_ILD32, 4); return;
        case 2: fpu_store_mem(cpu, in, H_IST32, 4, false); return;
        case 3: fpu_store_mem(cpu, in, H_IST32, 4, true); return;
        case 5:   /* FLD m80fp: no conversion, no exception */
            fmem_read(cpu, in, m.b, 10);
            fpu_load(cpu, &m);
            return;
        case 7: fpu_store_mem(cpu, in, H_ST80, 10, true); return;
        }
        fpu_ud(cpu);   /* /1 FISTTP (SSE3), /4 /6 reserved */
    case 5:
        switch (reg) {
        case 0: fpu_load_mem(cpu, in, H_LD64, 8); return;
        case 2: fpu_store_mem(cpu, in, H_ST64, 8, false); return;
        case 3: fpu_store_mem(cpu, in, H_ST64, 8, true); return;
        case 4: {   /* FRSTOR */
            uint8_t buf[108];
            unsigned envsz = in->osz == 4 ? 28 : 14;
            fmem_read(cpu, in, buf, envsz + 80);
            for (unsigned i = 0; i < 8; i++) {   /* ST(i) in the image's order, TOP loaded */
                unsigned top = (ld_le(buf + (in->osz == 4 ? 4 : 2), 2) >> SW_TOP_SHIFT) & 7;
                memcpy(cpu->fpu_reg[(top + i) & 7], buf + envsz + 10 * i, 10);
            }
            env_load(cpu, in->osz, buf);
            return;
        }
        case 6: {   /* FNSAVE: then FNINIT */
            uint8_t buf[108];
            unsigned envsz = env_image(cpu, in->osz, buf);
            for (unsigned i = 0; i < 8; i++) memcpy(buf + envsz + 10 * i, cpu->fpu_reg[st_phys(cpu, i)], 10);
            fmem_write(cpu, in, buf, envsz + 80);
            fpu_fninit(cpu);
            return;
        }
        case 7: {   /* FNSTSW m2byte */
            uint8_t buf[2];
            put16(buf, cpu->fpu_sw);
            fmem_write(cpu, in, buf, 2);
            return;
        }
        }
        fpu_ud(cpu);   /* /1 FISTTP (SSE3), /5 reserved */
    default:   /* 7 */
        switch (reg) {
        case 0: fpu_load_mem(cpu, in, H_ILD16, 2); return;
        case 2: fpu_store_mem(cpu, in, H_IST16, 2, false); return;
        case 3: fpu_store_mem(cpu, in, H_IST16, 2, true); return;
        case 4: fpu_load_mem(cpu, in, H_BLD, 10); return;
        case 5: fpu_load_mem(cpu, in, H_ILD64, 8); return;
        case 6: fpu_store_mem(cpu, in, H_BSTP, 10, true); return;
        case 7: fpu_store_mem(cpu, in, H_IST64, 8, true); return;
        }
        fpu_ud(cpu);   /* /1 FISTTP (SSE3) */
    }
}

/* D9 E0-FF. */
static void fpu_d9_special(X86Cpu *cpu, unsigned low)
{
    static const unsigned consts[7] = { H_LD1, H_LDL2T, H_LDL2E, H_LDPI, H_LDLG2, H_LDLN2, H_LDZ };
    F80 a;
    switch (low) {
    case 0x00: case 0x01:   /* FCHS, FABS */
        if (st_empty(cpu, 0)) {
            if (stack_fault(cpu, false)) st_set(cpu, 0, &f80_indefinite);
            return;
        }
        a = st_get(cpu, 0);
        a.b[9] = low == 0 ? (uint8_t)(a.b[9] ^ 0x80) : (uint8_t)(a.b[9] & 0x7F);
        st_set(cpu, 0, &a);
        set_c1(cpu, false);
        return;
    case 0x04: fpu_special(cpu, H_TST, 1, SW_CC); return;
    case 0x05: fpu_xam(cpu); return;
    case 0x08: case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x0E: {
        if (!st_empty(cpu, 7)) {
            if (stack_fault(cpu, true)) fpu_push(cpu, &f80_indefinite);
            return;
        }
        F80 m = f80_zero;
        HostOut r;
        host_x87(consts[low - 8], cpu->fpu_cw, &f80_zero, &f80_zero, &m, &r);
        merge(cpu, &r, SW_C1);
        fpu_push(cpu, &r.img.st[0]);
        return;
    }
    case 0x10: fpu_special(cpu, H_F2XM1, 1, SW_C1); return;
    case 0x11: fpu_special(cpu, H_YL2X, 2, SW_C1); return;
    case 0x12: fpu_special(cpu, H_PTAN, 1, SW_C1 | SW_C2); return;
    case 0x13: fpu_special(cpu, H_PATAN, 2, SW_C1); return;
    case 0x14: fpu_special(cpu, H_XTRACT, 1, SW_C1); return;
    case 0x15: fpu_special(cpu, H_PREM1, 2, SW_CC); return;
    case 0x16: case 0x17:   /* FDECSTP, FINCSTP */
        set_top(cpu, fpu_top(cpu) + (low == 0x16 ? 7u : 1u));
        set_c1(cpu, false);
        return;
    case 0x18: fpu_special(cpu, H_PREM, 2, SW_CC); return;
    case 0x19: fpu_special(cpu, H_YL2XP1, 2, SW_C1); return;
    case 0x1A: fpu_special(cpu, H_SQRT, 1, SW_C1); return;
    case 0x1B: fpu_special(cpu, H_SINCOS, 1, SW_C1 | SW_C2); return;
    case 0x1C: fpu_special(cpu, H_RNDINT, 1, SW_C1); return;
    case 0x1D: fpu_special(cpu, H_SCALE, 2, SW_C1); return;
    case 0x1E: fpu_special(cpu, H_SIN, 1, SW_C1 | SW_C2); return;
    case 0x1F: fpu_special(cpu, H_COS, 1, SW_C1 | SW_C2); return;
    }
    fpu_ud(cpu);   /* E2 E3 E6 E7 EF */
}

/* Register forms (mod = 3). */
static void fpu_reg(X86Cpu *cpu, const X86Insn *in, unsigned esc)
{
    unsigned reg = in->reg, i = in->rm;
    F80 v = st_get(cpu, i);
    bool vi_empty = st_empty(cpu, i);
    switch (esc) {
    case 0:   /* op ST(0), ST(i) */
        if (reg == 2 || reg == 3) fpu_compare(cpu, H_COM, &v, vi_empty, reg == 3);
        else fpu_arith(cpu, reg, 0, &v, vi_empty, false);
        return;
    case 1:
        switch (reg) {
        case 0:   /* FLD ST(i): overflow first, then an empty source */
            if (vi_empty && st_empty(cpu, 7)) {
                if (stack_fault(cpu, false)) fpu_push(cpu, &f80_indefinite);
                return;
            }
            fpu_load(cpu, &v);
            return;
        case 1: fpu_xch(cpu, i); return;
        case 2: if (i == 0) return; break;   /* FNOP */
        case 3: fpu_st_reg(cpu, i, true); return;   /* FSTP1 */
        default: fpu_d9_special(cpu, (reg - 4) * 8 + i); return;
        }
        fpu_ud(cpu);
    case 2:
        if (reg < 4) { static const unsigned cc[4] = { 2, 4, 6, 10 }; fpu_cmov(cpu, cc[reg], i); return; }
        if (reg == 5 && i == 1) {   /* FUCOMPP */
            F80 b = st_get(cpu, 1);
            fpu_compare(cpu, H_UCOM, &b, st_empty(cpu, 1), 2);
            return;
        }
        fpu_ud(cpu);
    case 3:
        if (reg < 4) { static const unsigned cc[4] = { 3, 5, 7, 11 }; fpu_cmov(cpu, cc[reg], i); return; }
        if (reg == 4) {
            switch (i) {
            case 0: case 1: case 4: return;   /* FNENI, FNDISI, FNSETPM: no-ops on the 387+ */
            case 2: cpu->fpu_sw &= 0x7F00; return;   /* FNCLEX: flags, SF, ES, B */
            case 3: fpu_fninit(cpu); return;
            }
            fpu_ud(cpu);
        }
        if (reg == 5) { fpu_compare(cpu, H_UCOMI, &v, vi_empty, 0); return; }
        if (reg == 6) { fpu_compare(cpu, H_COMI, &v, vi_empty, 0); return; }
        fpu_ud(cpu);
    case 4: case 6: {   /* op ST(i), ST(0) [and pop] */
        bool pop = esc == 6;
        if (reg == 2 || reg == 3) {   /* FCOM2, FCOMP3; DE: FCOMP5, FCOMPP (D9) */
            if (pop && reg == 3) {
                if (i != 1) fpu_ud(cpu);
                F80 b = st_get(cpu, 1);
                fpu_compare(cpu, H_COM, &b, st_empty(cpu, 1), 2);
                return;
            }
            fpu_compare(cpu, H_COM, &v, vi_empty, reg == 3 || pop);
            return;
        }
        F80 a = st_get(cpu, 0);
        fpu_arith(cpu, reg >= 4 ? reg ^ 1 : reg, i, &a, st_empty(cpu, 0), pop);
        return;
    }
    case 5:
        switch (reg) {
        case 0: set_phys_tag(cpu, st_phys(cpu, i), TAG_EMPTY); return;   /* FFREE */
        case 1: fpu_xch(cpu, i); return;                                   /* FXCH4 */
        case 2: fpu_st_reg(cpu, i, false); return;
        case 3: fpu_st_reg(cpu, i, true); return;
        case 4: fpu_compare(cpu, H_UCOM, &v, vi_empty, 0); return;
        case 5: fpu_compare(cpu, H_UCOM, &v, vi_empty, 1); return;
        }
        fpu_ud(cpu);
    default:   /* 7 */
        switch (reg) {
        case 0: set_phys_tag(cpu, st_phys(cpu, i), TAG_EMPTY); fpu_pop(cpu); return;   /* FFREEP */
        case 1: fpu_xch(cpu, i); return;                                                /* FXCH7 */
        case 2: case 3: fpu_st_reg(cpu, i, true); return;                               /* FSTP8/9 */
        case 4:
            if (i == 0) { reg_write(cpu, X86_RAX, 2, cpu->fpu_sw); return; }   /* FNSTSW AX */
            break;
        case 5: fpu_compare(cpu, H_UCOMI, &v, vi_empty, 1); return;
        case 6: fpu_compare(cpu, H_COMI, &v, vi_empty, 1); return;
        }
        fpu_ud(cpu);
    }
}

/* D8-DF: the x87 escape. #NM with CR0.EM or CR0.TS (Vol. 3A, 2.5, Table 2-2), then the
 * pending-exception check of the waiting instructions, then the instruction. */
void op_fpu(X86Cpu *cpu, const X86Insn *in)
{
    if (cpu->cr0 & (X86_CR0_EM | X86_CR0_TS)) x86_fault(cpu, X86_EXC_NM, false, 0);
    unsigned esc = in->op & 7;   /* D8 + esc */
    if (!nonwaiting(esc, in)) check_pending(cpu);
    if (!control_insn(esc, in)) note_insn(cpu, in);
    if (in->mod == 3) fpu_reg(cpu, in, esc);
    else fpu_mem(cpu, in, esc);
}

/* FXSAVE's x87 registers (cpu_sse.c builds the rest of the image): ST0-ST7, each in a
 * 16-byte slot (SDM Vol. 2A, FXSAVE, Table 3-53). */
void x87_fxsave_registers(const X86Cpu *cpu, uint8_t slots[128])
{
    memset(slots, 0, 128);
    for (unsigned i = 0; i < 8; i++) memcpy(slots + 16 * i, cpu->fpu_reg[st_phys(cpu, i)], 10);
}

/* FXRSTOR's: called with TOP and the abridged tags already restored (empty or not), it
 * loads ST0-ST7 and gives each register that is not empty its full tag from its value. */
void x87_fxrstor_registers(X86Cpu *cpu, const uint8_t slots[128])
{
    for (unsigned i = 0; i < 8; i++) {
        unsigned p = st_phys(cpu, i);
        memcpy(cpu->fpu_reg[p], slots + 16 * i, 10);
        if (phys_tag(cpu, p) != TAG_EMPTY) {
            F80 v;
            memcpy(v.b, slots + 16 * i, 10);
            set_phys_tag(cpu, p, f80_tag(&v));
        }
    }
}

/* ---------------------------------------------------------------------------------- */
/* MMX registers (SDM Vol. 1, 9.5): MMi is the significand of physical register Ri     */
/* ---------------------------------------------------------------------------------- */

/* An MMX instruction first takes a pending unmasked x87 exception (#MF; Vol. 2, each
 * MMX instruction's exceptions). */
void x87_mmx_check(X86Cpu *cpu)
{
    check_pending(cpu);
}

/* The x87 side of every MMX instruction but EMMS (Vol. 1, 9.5.1, Table 9-2), once it can
 * no longer fault: TOP becomes 0 and every register is in use. The full tags are given
 * from the values, as FSTENV would compute them from an abridged "valid" tag. */
void x87_mmx_enter(X86Cpu *cpu)
{
    set_top(cpu, 0);
    for (unsigned p = 0; p < 8; p++) {
        F80 v;
        memcpy(v.b, cpu->fpu_reg[p], 10);
        set_phys_tag(cpu, p, f80_tag(&v));
    }
}

uint64_t x87_mmx_read(const X86Cpu *cpu, unsigned i)
{
    uint64_t v;
    memcpy(&v, cpu->fpu_reg[i & 7], 8);
    return v;
}

/* An MMX write also sets bits 79:64 (sign and exponent) to ones (Table 9-2). */
void x87_mmx_write(X86Cpu *cpu, unsigned i, uint64_t v)
{
    F80 r;
    memcpy(r.b, &v, 8);
    r.b[8] = r.b[9] = 0xFF;
    memcpy(cpu->fpu_reg[i & 7], r.b, 10);
    set_phys_tag(cpu, i & 7, f80_tag(&r));
}

/* EMMS: every register empty and TOP 0 (Vol. 1, 9.5.1, Table 9-2); nothing else changes. */
void x87_emms(X86Cpu *cpu)
{
    cpu->fpu_tw = 0xFFFF;
    set_top(cpu, 0);
}
