/*
 * Segmentation and privilege: descriptor loads, far transfers (direct, through call gates
 * and task gates), IRET in all its forms, protected-mode and virtual-8086 event delivery,
 * hardware task switches, the I/O permission checks and the descriptor instructions
 * (LLDT LTR SLDT STR VERR VERW LAR LSL ARPL). SDM Vol. 3A chapters 3, 5, 6, 7 and Vol. 3B
 * chapter 20; each instruction's "Operation" in Vol. 2.
 *
 * Error codes of selector faults are the selector with RPL cleared (SDM Vol. 3A, 6.13),
 * plus EXT (bit 0) when an external event or exception caused the load. Every check is done
 * before any register changes, so a faulting transfer leaves the CPU as it was (stack
 * memory written by pushes before the fault may stay written, as on hardware).
 */
#include "sim/cpu/cpu_internal.h"

/* System descriptor types (SDM Vol. 3A, 3.5, Table 3-2). */
enum {
    SYS_TSS16_AVAIL = 1, SYS_LDT = 2, SYS_TSS16_BUSY = 3, SYS_CALL16 = 4, SYS_TASK_GATE = 5,
    SYS_INT16 = 6, SYS_TRAP16 = 7, SYS_TSS32_AVAIL = 9, SYS_TSS32_BUSY = 11, SYS_CALL32 = 12,
    SYS_INT32 = 14, SYS_TRAP32 = 15,
};
#define TSS_BUSY_BIT 2u         /* type 1/9 -> 3/11 */
#define SEL_RPL(s) ((unsigned)(s) & 3u)
#define SEL_TI 4u
#define SEL_ERR(s) ((uint32_t)(s) & 0xFFFCu)
#define V86_SEG_ATTR (X86_AR_P | X86_AR_S | (3u << X86_AR_DPL_SHIFT) | 3u)   /* 0xF3 */

/* Why a task switch happens: it decides busy bits, NT and the back link (SDM 7.3). */
typedef enum { TS_JMP, TS_CALL, TS_IRET, TS_INT } TaskSource;

typedef struct {
    uint32_t lo, hi;
    uint64_t addr;             /* linear address of the descriptor (its + 4, + 5 wrap
                                * at 4 GiB outside IA-32e mode) */
} Desc;

static inline unsigned desc_dpl(const Desc *d) { return (d->hi >> 13) & 3; }
static inline bool desc_present(const Desc *d) { return (d->hi >> 15) & 1; }
static inline bool desc_s(const Desc *d) { return (d->hi >> 12) & 1; }
static inline unsigned desc_type(const Desc *d) { return (d->hi >> 8) & 0xF; }
static inline bool desc_code(const Desc *d) { return desc_s(d) && (desc_type(d) & X86_SEG_CODE); }
static inline bool desc_conforming(const Desc *d)
{
    return desc_code(d) && (desc_type(d) & X86_SEG_EXPDOWN);
}

/* The descriptor cache form (base, byte-granular limit, VMX access rights). */
static X86Segment desc_segment(const Desc *d, uint16_t sel)
{
    X86Segment s;
    s.selector = sel;
    s.base = (d->lo >> 16) | ((d->hi & 0xFFu) << 16) | (d->hi & 0xFF000000u);
    uint32_t limit = (d->lo & 0xFFFFu) | (d->hi & 0xF0000u);
    if (d->hi & (1u << 23)) limit = (limit << 12) | 0xFFFu;
    s.limit = limit;
    s.attr = ((d->hi >> 8) & 0xFFu) | ((d->hi >> 8) & 0xF000u);
    return s;
}

/* Reads the descriptor of `sel` from the GDT or LDT. False when its 8 bytes are not within
 * the table's limit (or the LDT is null). The read is a supervisor access. */
static bool desc_read(X86Cpu *cpu, uint16_t sel, Desc *d)
{
    uint64_t base;
    uint32_t limit;
    if (sel & SEL_TI) {
        if (cpu->ldtr.attr & X86_AR_UNUSABLE || !(cpu->ldtr.attr & X86_AR_P)) return false;
        base = cpu->ldtr.base;
        limit = cpu->ldtr.limit;
    } else {
        base = cpu->gdtr.base;
        limit = cpu->gdtr.limit;
    }
    if ((uint32_t)(sel | 7u) > limit) return false;
    d->addr = x86_lin_wrap(cpu, base + (sel & ~7u));
    d->lo = sys_read(cpu, d->addr, 4);
    d->hi = sys_read(cpu, x86_lin_wrap(cpu, d->addr + 4), 4);
    return true;
}

/* Sets the accessed bit of a code/data descriptor in memory (SDM Vol. 3A, 3.4.5.1). */
static void desc_set_accessed(X86Cpu *cpu, Desc *d)
{
    if (d->hi & (X86_SEG_ACCESSED << 8)) return;
    d->hi |= X86_SEG_ACCESSED << 8;
    sys_write(cpu, x86_lin_wrap(cpu, d->addr + 5), 1, (d->hi >> 8) & 0xFF);
}

static inline NORETURN void fault_sel(X86Cpu *cpu, int vector, uint32_t err)
{
    x86_fault(cpu, vector, true, err);
}

/* RF in the EFLAGS image a fault-class exception saves, so that the handler's IRET does
 * not meet an instruction breakpoint again (SDM Vol. 3A, 18.3.1.1): not for traps (#DB
 * here, #BP, #OF), aborts (#DF, #MC), interrupts or NMI. */
static inline uint32_t fault_rf(int vector, X86EventKind kind)
{
    if (kind != X86_EVENT_EXCEPTION) return 0;
    switch (vector) {
    case X86_EXC_DB: case X86_EXC_BP: case X86_EXC_OF: case X86_EXC_DF: case 18:
        return 0;
    default:
        return X86_FLAG_RF;
    }
}

/* IA-32e mode's forms (at the end of the file). */
static void deliver_long(X86Cpu *cpu, int vector, X86EventKind kind, bool has_error,
                         uint32_t error_code, uint64_t ret_ip);
static void far_ret_long(X86Cpu *cpu, unsigned osz, uint32_t imm, bool iret);
static void far_call_long(X86Cpu *cpu, uint16_t sel, uint64_t off, unsigned osz);

/* ---------------------------------------------------------------------------------- */
/* Data and stack segment loads                                                          */
/* ---------------------------------------------------------------------------------- */

/* Checks and loads SS or a data segment register in protected mode with CPL `cpl`. `gp` is
 * the vector for type and privilege errors (#GP for MOV/POP/LDS, #TS for task switches),
 * `ext` the EXT bit of error codes. (SDM Vol. 2B, MOV "Operation"; Vol. 3A, 5.7.) */
static void load_data_seg(X86Cpu *cpu, int sreg, uint16_t sel, unsigned cpl, int gp,
                          uint32_t ext)
{
    X86Segment *s = &cpu->seg[sreg];
    if ((sel & ~3u) == 0) {
        /* 64-bit mode allows a null SS below CPL 3 with RPL = CPL (SDM Vol. 2B, MOV);
         * it keeps DPL = CPL (the CPL is SS.DPL here) */
        if (sreg == X86_SS && !(x86_long64(cpu) && cpl < 3 && SEL_RPL(sel) == cpl))
            fault_sel(cpu, gp, ext);
        /* A null selector loads an unusable segment: accesses through it are #GP(0). */
        s->selector = sel;
        s->base = 0;
        s->limit = 0;
        s->attr = X86_AR_UNUSABLE;
        if (sreg == X86_SS) s->attr |= (cpl << X86_AR_DPL_SHIFT) | X86_AR_S | X86_SEG_WRITABLE;
        return;
    }
    Desc d;
    if (!desc_read(cpu, sel, &d)) fault_sel(cpu, gp, SEL_ERR(sel) | ext);
    unsigned type = desc_type(&d), dpl = desc_dpl(&d), rpl = SEL_RPL(sel);
    if (!desc_s(&d)) fault_sel(cpu, gp, SEL_ERR(sel) | ext);
    if (sreg == X86_SS) {
        if (rpl != cpl || dpl != cpl || (type & X86_SEG_CODE) || !(type & X86_SEG_WRITABLE))
            fault_sel(cpu, gp, SEL_ERR(sel) | ext);
        if (!desc_present(&d)) fault_sel(cpu, X86_EXC_SS, SEL_ERR(sel) | ext);
    } else {
        if ((type & X86_SEG_CODE) && !(type & X86_SEG_WRITABLE))
            fault_sel(cpu, gp, SEL_ERR(sel) | ext);          /* execute-only code */
        bool conforming_code = (type & 0xCu) == 0xCu;
        if (!conforming_code && (rpl > dpl || cpl > dpl))
            fault_sel(cpu, gp, SEL_ERR(sel) | ext);
        if (!desc_present(&d)) fault_sel(cpu, X86_EXC_NP, SEL_ERR(sel) | ext);
    }
    desc_set_accessed(cpu, &d);
    *s = desc_segment(&d, sel);
}

/* Virtual-8086 mode segment (SDM Vol. 3B, 20.1.1; the VMCS checks of 27.3.1.2). */
static void load_v86_seg(X86Segment *s, uint16_t sel)
{
    s->selector = sel;
    s->base = (uint32_t)sel << 4;
    s->limit = 0xFFFF;
    s->attr = V86_SEG_ATTR;
}

void x86_load_seg(X86Cpu *cpu, int sreg, uint16_t sel)
{
    X86Segment *s = &cpu->seg[sreg];
    if (LIKELY(!x86_pe(cpu))) {
        /* Real mode (SDM Vol. 3A, 21.1.1): base = selector * 16; the limit and the rest of
         * the attributes are kept from the last load (big real mode keeps a 4 GiB limit
         * loaded in protected mode). The segment is usable and present again. */
        s->selector = sel;
        s->base = (uint32_t)sel << 4;
        s->attr = (s->attr & ~(X86_AR_UNUSABLE | (3u << X86_AR_DPL_SHIFT))) | X86_AR_P |
                  X86_AR_S;
        if (sreg == X86_CS) x86_update_mode(cpu);
        return;
    }
    if (cpu->flags & X86_FLAG_VM) {
        load_v86_seg(s, sel);
        return;
    }
    load_data_seg(cpu, sreg, sel, x86_cpl(cpu), X86_EXC_GP, 0);
}

void x86_cpu_load_real_segment(X86Cpu *cpu, int sreg, uint16_t selector)
{
    X86Segment *s = &cpu->seg[sreg];
    s->selector = selector;
    s->base = (uint32_t)selector << 4;
    x86_update_mode(cpu);
}

/* Segment registers that a return to an outer level must null (SDM Vol. 2A, RET: data or
 * non-conforming code segments with DPL < the new CPL). */
static void null_inaccessible(X86Cpu *cpu, unsigned cpl)
{
    static const int regs[] = { X86_ES, X86_DS, X86_FS, X86_GS };
    for (unsigned i = 0; i < 4; i++) {
        X86Segment *s = &cpu->seg[regs[i]];
        if (s->attr & X86_AR_UNUSABLE) continue;
        unsigned dpl = (s->attr >> X86_AR_DPL_SHIFT) & 3;
        bool conforming_code = (s->attr & 0xCu) == 0xCu;
        if (!conforming_code && dpl < cpl) {
            s->selector = 0;
            /* (64-bit mode uses FS and GS bases whatever the selector: they stay) */
            if (!x86_long64(cpu) || regs[i] < X86_FS) s->base = 0;
            s->limit = 0;
            s->attr = X86_AR_UNUSABLE;
        }
    }
}

/* ---------------------------------------------------------------------------------- */
/* Stacks in a segment that is not loaded yet                                            */
/* ---------------------------------------------------------------------------------- */

typedef struct {
    X86Segment seg;
    uint32_t sp;
    uint32_t err;              /* error code of #SS for this stack */
    bool supervisor;           /* an inner-level stack from the TSS: supervisor accesses
                                * while CPL is still the outer one (SDM Vol. 3A, 4.6) */
} Stack;

static bool stack_ok(const X86Segment *s, uint32_t off, unsigned size)
{
    bool b = s->attr & X86_AR_DB;
    uint64_t top = b ? 0xFFFFFFFFull : 0xFFFFull;
    if ((uint64_t)off + size - 1 > top) return false;
    if (s->attr & X86_SEG_EXPDOWN) return off > s->limit;
    return (uint64_t)off + size - 1 <= s->limit;
}

static void stack_push(X86Cpu *cpu, Stack *st, unsigned size, uint32_t v)
{
    uint32_t m = (st->seg.attr & X86_AR_DB) ? 0xFFFFFFFFu : 0xFFFFu;
    uint32_t sp = (st->sp - size) & m;
    if (!stack_ok(&st->seg, sp, size)) fault_sel(cpu, X86_EXC_SS, st->err);
    if (st->supervisor) sys_write(cpu, (uint32_t)(st->seg.base + sp), size, v);
    else lin_write(cpu, (uint32_t)(st->seg.base + sp), size, v);
    st->sp = sp;
}

static uint32_t stack_pop(X86Cpu *cpu, Stack *st, unsigned size)
{
    uint32_t m = (st->seg.attr & X86_AR_DB) ? 0xFFFFFFFFu : 0xFFFFu;
    uint32_t sp = st->sp & m;
    if (!stack_ok(&st->seg, sp, size)) fault_sel(cpu, X86_EXC_SS, st->err);
    uint32_t v = st->supervisor ? sys_read(cpu, (uint32_t)(st->seg.base + sp), size)
                                : lin_read(cpu, (uint32_t)(st->seg.base + sp), size);
    st->sp = (sp + size) & m;
    return v;
}

static Stack current_stack(const X86Cpu *cpu)
{
    Stack st = { cpu->ss, (uint32_t)cpu->gpr[X86_RSP], 0, false };
    return st;
}

/* Writes SP or ESP back by SS.B. */
static void set_stack(X86Cpu *cpu, const Stack *st)
{
    if (st->seg.attr & X86_AR_DB) cpu->gpr[X86_RSP] = st->sp;
    else cpu->gpr[X86_RSP] = (cpu->gpr[X86_RSP] & ~0xFFFFull) | (uint16_t)st->sp;
}

/* The stack for privilege level `dpl` from the current TSS (SDM Vol. 3A, 7.2.1: SS0:ESP0
 * at 4/8 in a 32-bit TSS, SS0:SP0 at 2/4 in a 16-bit one), checked as a new SS for a CPL
 * of `dpl` (#TS with the selector; not present: #SS). */
static Stack tss_stack(X86Cpu *cpu, unsigned dpl, uint32_t ext)
{
    bool tss32 = (cpu->tr.attr & X86_AR_TYPE_MASK) == SYS_TSS32_BUSY;
    uint32_t off = tss32 ? 4 + 8 * dpl : 2 + 4 * dpl;
    uint32_t need = tss32 ? off + 5 : off + 3;
    if (need > cpu->tr.limit) fault_sel(cpu, X86_EXC_TS, SEL_ERR(cpu->tr.selector) | ext);
    uint64_t b = cpu->tr.base + off;
    Stack st;
    st.sp = tss32 ? sys_read(cpu, (uint32_t)b, 4) : sys_read(cpu, (uint32_t)b, 2);
    uint16_t sel = (uint16_t)sys_read(cpu, (uint32_t)(b + (tss32 ? 4 : 2)), 2);
    if ((sel & ~3u) == 0) fault_sel(cpu, X86_EXC_TS, ext);
    Desc d;
    if (!desc_read(cpu, sel, &d)) fault_sel(cpu, X86_EXC_TS, SEL_ERR(sel) | ext);
    if (SEL_RPL(sel) != dpl || desc_dpl(&d) != dpl || !desc_s(&d) ||
        (desc_type(&d) & (X86_SEG_CODE | X86_SEG_WRITABLE)) != X86_SEG_WRITABLE)
        fault_sel(cpu, X86_EXC_TS, SEL_ERR(sel) | ext);
    if (!desc_present(&d)) fault_sel(cpu, X86_EXC_SS, SEL_ERR(sel) | ext);
    desc_set_accessed(cpu, &d);
    st.seg = desc_segment(&d, sel);
    st.err = SEL_ERR(sel) | ext;
    st.supervisor = dpl < 3;
    return st;
}

/* ---------------------------------------------------------------------------------- */
/* CS loads                                                                              */
/* ---------------------------------------------------------------------------------- */

/* Reads and checks a code segment descriptor as the target of a transfer (present: #NP;
 * not code: #GP; the privilege rule is the caller's). Null: #GP(ext). */
static void code_desc(X86Cpu *cpu, uint16_t sel, Desc *d, uint32_t ext)
{
    if ((sel & ~3u) == 0) fault_sel(cpu, X86_EXC_GP, ext);
    if (!desc_read(cpu, sel, d)) fault_sel(cpu, X86_EXC_GP, SEL_ERR(sel) | ext);
    if (!desc_code(d)) fault_sel(cpu, X86_EXC_GP, SEL_ERR(sel) | ext);
}

/* Loads CS with the checked descriptor at privilege `cpl` and sets EIP (offset checked
 * against the new limit: #GP(0)). */
static void load_cs(X86Cpu *cpu, Desc *d, uint16_t sel, unsigned cpl, uint64_t off)
{
    X86Segment cs = desc_segment(d, (uint16_t)((sel & ~3u) | cpl));
    /* A 64-bit code segment (CS.L in IA-32e mode) has no limit: the offset must be
     * canonical instead (SDM Vol. 2A, JMP "IA-32e mode"); a compatibility-mode one has
     * 32-bit offsets. */
    bool to64 = x86_lma(cpu) && (cs.attr & X86_AR_L);
    if (to64 && (cs.attr & X86_AR_DB)) fault_sel(cpu, X86_EXC_GP, SEL_ERR(sel));
    if (to64 ? !x86_canonical(off) : off > cs.limit) fault_sel(cpu, X86_EXC_GP, 0);
    desc_set_accessed(cpu, d);
    cs.attr |= X86_SEG_ACCESSED;
    cpu->cs = cs;
    x86_update_mode(cpu);
    cpu->next_rip = off;
    x86_end_block(cpu);
}

static void task_switch(X86Cpu *cpu, uint16_t sel, Desc *d, TaskSource src, bool has_error,
                        uint32_t error, uint64_t ret_ip);

/* A task gate or TSS descriptor as a JMP/CALL target (SDM Vol. 2A, JMP "TASK-GATE" and
 * "TASK-STATE-SEGMENT"). */
static void far_to_task(X86Cpu *cpu, uint16_t sel, Desc *d, TaskSource src)
{
    unsigned cpl = x86_cpl(cpu);
    if (desc_dpl(d) < cpl || SEL_RPL(sel) > desc_dpl(d)) fault_sel(cpu, X86_EXC_GP, SEL_ERR(sel));
    if (!desc_present(d)) fault_sel(cpu, X86_EXC_NP, SEL_ERR(sel));
    uint16_t tsel = sel;
    Desc t = *d;
    if (desc_type(d) == SYS_TASK_GATE) {
        tsel = (uint16_t)(d->lo >> 16);
        if ((tsel & SEL_TI) || !desc_read(cpu, tsel, &t)) fault_sel(cpu, X86_EXC_GP, SEL_ERR(tsel));
        unsigned ty = desc_type(&t);
        if (desc_s(&t) || (ty != SYS_TSS16_AVAIL && ty != SYS_TSS32_AVAIL))
            fault_sel(cpu, X86_EXC_GP, SEL_ERR(tsel));
        if (!desc_present(&t)) fault_sel(cpu, X86_EXC_NP, SEL_ERR(tsel));
    } else if (sel & SEL_TI) {
        fault_sel(cpu, X86_EXC_GP, SEL_ERR(sel));
    }
    task_switch(cpu, tsel, &t, src, false, 0, cpu->next_rip);
}

/* A far transfer in real or virtual-8086 mode: CS = selector (base = selector * 16), EIP =
 * offset, which must be within the CS limit (#GP(0)). */
static void real_far_to(X86Cpu *cpu, uint16_t sel, uint32_t off)
{
    if (off > cpu->cs.limit) fault_sel(cpu, X86_EXC_GP, 0);
    x86_load_seg(cpu, X86_CS, sel);
    if (x86_v86(cpu)) cpu->cs.attr = V86_SEG_ATTR;   /* (no mode change) */
    cpu->next_rip = off;
    x86_end_block(cpu);
}

/* The descriptor of a protected-mode far JMP/CALL target: null is #GP(0), a selector
 * outside its table #GP(selector). */
static void far_desc(X86Cpu *cpu, uint16_t sel, Desc *d)
{
    if ((sel & ~3u) == 0) fault_sel(cpu, X86_EXC_GP, 0);
    if (!desc_read(cpu, sel, d)) fault_sel(cpu, X86_EXC_GP, SEL_ERR(sel));
}

/* A code segment as a direct JMP/CALL target: conforming with DPL <= CPL, or
 * non-conforming with RPL <= CPL and DPL = CPL (#GP(selector)); present (#NP). */
static void check_direct_code(X86Cpu *cpu, uint16_t sel, const Desc *d, unsigned cpl)
{
    if (!desc_code(d)) fault_sel(cpu, X86_EXC_GP, SEL_ERR(sel));
    if (desc_conforming(d) ? desc_dpl(d) > cpl : (SEL_RPL(sel) > cpl || desc_dpl(d) != cpl))
        fault_sel(cpu, X86_EXC_GP, SEL_ERR(sel));
    if (!desc_present(d)) fault_sel(cpu, X86_EXC_NP, SEL_ERR(sel));
}

/* A call gate as a JMP/CALL target (SDM Vol. 3A, 5.8.4): gate DPL >= CPL and >= RPL
 * (#GP(gate)), present (#NP(gate)); its code segment a present code segment with DPL <=
 * CPL (#GP/#NP with its selector). Returns that segment's selector and the gate offset. */
static void call_gate_target(X86Cpu *cpu, uint16_t sel, const Desc *g, Desc *c,
                             uint16_t *csel, uint32_t *goff)
{
    unsigned cpl = x86_cpl(cpu);
    if (desc_dpl(g) < cpl || SEL_RPL(sel) > desc_dpl(g)) fault_sel(cpu, X86_EXC_GP, SEL_ERR(sel));
    if (!desc_present(g)) fault_sel(cpu, X86_EXC_NP, SEL_ERR(sel));
    *csel = (uint16_t)(g->lo >> 16);
    *goff = (g->lo & 0xFFFF) | (desc_type(g) == SYS_CALL32 ? (g->hi & 0xFFFF0000u) : 0);
    code_desc(cpu, *csel, c, 0);
    if (desc_dpl(c) > cpl) fault_sel(cpu, X86_EXC_GP, SEL_ERR(*csel));
    if (!desc_present(c)) fault_sel(cpu, X86_EXC_NP, SEL_ERR(*csel));
}

void x86_far_jmp(X86Cpu *cpu, uint16_t sel, uint64_t off, unsigned osz)
{
    if (osz == 2) off &= 0xFFFF;
    else if (osz == 4) off = (uint32_t)off;
    if (!x86_pm(cpu)) {
        real_far_to(cpu, sel, off);
        return;
    }
    unsigned cpl = x86_cpl(cpu);
    Desc d;
    far_desc(cpu, sel, &d);
    if (desc_s(&d)) {
        check_direct_code(cpu, sel, &d, cpl);
        load_cs(cpu, &d, sel, cpl, off);
        return;
    }
    switch (desc_type(&d)) {
    case SYS_CALL16: case SYS_CALL32: {
        /* JMP through a call gate never changes the privilege level. */
        uint16_t csel;
        uint32_t goff;
        Desc c;
        call_gate_target(cpu, sel, &d, &c, &csel, &goff);
        if (!desc_conforming(&c) && desc_dpl(&c) != cpl) fault_sel(cpu, X86_EXC_GP, SEL_ERR(csel));
        load_cs(cpu, &c, csel, cpl, goff);
        return;
    }
    case SYS_TASK_GATE: case SYS_TSS16_AVAIL: case SYS_TSS32_AVAIL:
        far_to_task(cpu, sel, &d, TS_JMP);
        return;
    default:
        fault_sel(cpu, X86_EXC_GP, SEL_ERR(sel));
    }
}

/* Pushes CS and the return EIP (`size` bytes each) on stack `st` and transfers to CS
 * descriptor `c` at privilege `cpl`, offset `off`; commits the stack. */
static void call_to(X86Cpu *cpu, Stack *st, unsigned size, Desc *c, uint16_t csel,
                    unsigned cpl, uint32_t off, uint16_t old_cs, uint32_t ret)
{
    if (off > desc_segment(c, csel).limit) fault_sel(cpu, X86_EXC_GP, 0);
    stack_push(cpu, st, size, old_cs);
    stack_push(cpu, st, size, ret);
    load_cs(cpu, c, csel, cpl, off);
    if (cpl != x86_cpl(cpu)) cpu->ss = st->seg;
    set_stack(cpu, st);
}

void x86_far_call(X86Cpu *cpu, uint16_t sel, uint64_t off, unsigned osz)
{
    if (osz == 2) off &= 0xFFFF;
    else if (osz == 4) off = (uint32_t)off;
    uint32_t ret = (uint32_t)cpu->next_rip;
    uint16_t old_cs = cpu->cs.selector;
    if (x86_lma(cpu)) {
        far_call_long(cpu, sel, off, osz);
        return;
    }
    if (!x86_pm(cpu)) {
        if (off > cpu->cs.limit) fault_sel(cpu, X86_EXC_GP, 0);
        Stack st = current_stack(cpu);
        stack_push(cpu, &st, osz, old_cs);
        stack_push(cpu, &st, osz, ret);
        real_far_to(cpu, sel, off);
        set_stack(cpu, &st);
        return;
    }
    unsigned cpl = x86_cpl(cpu);
    Desc d;
    far_desc(cpu, sel, &d);
    if (desc_s(&d)) {
        check_direct_code(cpu, sel, &d, cpl);
        Stack st = current_stack(cpu);
        call_to(cpu, &st, osz, &d, sel, cpl, off, old_cs, ret);
        return;
    }
    switch (desc_type(&d)) {
    case SYS_CALL16: case SYS_CALL32: break;
    case SYS_TASK_GATE: case SYS_TSS16_AVAIL: case SYS_TSS32_AVAIL:
        far_to_task(cpu, sel, &d, TS_CALL);
        return;
    default:
        fault_sel(cpu, X86_EXC_GP, SEL_ERR(sel));
    }
    /* Call gate (SDM Vol. 3A, 5.8.5-5.8.6; Vol. 2A, CALL "CALL-GATE"): the gate's size
     * sets the size of everything pushed. */
    unsigned gsz = desc_type(&d) == SYS_CALL32 ? 4 : 2;
    uint16_t csel;
    uint32_t goff;
    Desc c;
    call_gate_target(cpu, sel, &d, &c, &csel, &goff);
    unsigned dpl = desc_dpl(&c);
    if (desc_conforming(&c) || dpl == cpl) {
        Stack st = current_stack(cpu);
        call_to(cpu, &st, gsz, &c, csel, cpl, goff, old_cs, ret);
        return;
    }
    /* More privileged: the new stack from the TSS, the old SS:ESP and the gate's parameter
     * count of words/dwords copied from the old stack. */
    Stack ns = tss_stack(cpu, dpl, 0);
    Stack os = current_stack(cpu);
    unsigned count = d.hi & 0x1F;
    if (goff > desc_segment(&c, csel).limit) fault_sel(cpu, X86_EXC_GP, 0);
    stack_push(cpu, &ns, gsz, cpu->ss.selector);
    stack_push(cpu, &ns, gsz, os.sp & ((os.seg.attr & X86_AR_DB) ? 0xFFFFFFFFu : 0xFFFFu));
    for (unsigned i = count; i-- > 0;) {
        Stack p = os;
        p.sp = os.sp + i * gsz;
        stack_push(cpu, &ns, gsz, stack_pop(cpu, &p, gsz));
    }
    call_to(cpu, &ns, gsz, &c, csel, dpl, goff, old_cs, ret);
}

/* The checks of a return to CS selector `sel` (SDM Vol. 2A, RET / IRET "RETURN-TO-..."):
 * RPL below CPL, not code, privilege mismatch: #GP(sel); not present: #NP(sel). */
static void return_cs(X86Cpu *cpu, uint16_t sel, Desc *c)
{
    code_desc(cpu, sel, c, 0);
    unsigned rpl = SEL_RPL(sel);
    if (rpl < x86_cpl(cpu)) fault_sel(cpu, X86_EXC_GP, SEL_ERR(sel));
    if (desc_conforming(c) ? desc_dpl(c) > rpl : desc_dpl(c) != rpl)
        fault_sel(cpu, X86_EXC_GP, SEL_ERR(sel));
    if (!desc_present(c)) fault_sel(cpu, X86_EXC_NP, SEL_ERR(sel));
}

/* The SS of a return to an outer level (#GP with the selector; not present: #SS). */
static X86Segment return_ss(X86Cpu *cpu, uint16_t sel, unsigned rpl)
{
    if ((sel & ~3u) == 0) fault_sel(cpu, X86_EXC_GP, 0);
    Desc d;
    if (!desc_read(cpu, sel, &d)) fault_sel(cpu, X86_EXC_GP, SEL_ERR(sel));
    if (SEL_RPL(sel) != rpl || desc_dpl(&d) != rpl || !desc_s(&d) ||
        (desc_type(&d) & (X86_SEG_CODE | X86_SEG_WRITABLE)) != X86_SEG_WRITABLE)
        fault_sel(cpu, X86_EXC_GP, SEL_ERR(sel));
    if (!desc_present(&d)) fault_sel(cpu, X86_EXC_SS, SEL_ERR(sel));
    desc_set_accessed(cpu, &d);
    return desc_segment(&d, sel);
}

void x86_far_ret(X86Cpu *cpu, unsigned osz, uint32_t imm)
{
    if (x86_long64(cpu)) {
        far_ret_long(cpu, osz, imm, false);
        return;
    }
    Stack st = current_stack(cpu);
    uint32_t ip = stack_pop(cpu, &st, osz);
    uint16_t sel = (uint16_t)stack_pop(cpu, &st, osz);
    if (osz == 2) ip &= 0xFFFF;
    if (!x86_pm(cpu)) {
        real_far_to(cpu, sel, ip);
        st.sp += imm;
        set_stack(cpu, &st);
        return;
    }
    Desc c;
    return_cs(cpu, sel, &c);
    unsigned rpl = SEL_RPL(sel);
    if (rpl == x86_cpl(cpu)) {
        load_cs(cpu, &c, sel, rpl, ip);
        st.sp += imm;
        set_stack(cpu, &st);
        return;
    }
    st.sp += imm;
    uint32_t nsp = stack_pop(cpu, &st, osz);
    uint16_t ssel = (uint16_t)stack_pop(cpu, &st, osz);
    X86Segment ss = return_ss(cpu, ssel, rpl);
    load_cs(cpu, &c, sel, rpl, ip);
    cpu->ss = ss;
    Stack ns = { ss, nsp + imm, 0, false };
    set_stack(cpu, &ns);
    null_inaccessible(cpu, rpl);
}

/* ---------------------------------------------------------------------------------- */
/* IRET                                                                                  */
/* ---------------------------------------------------------------------------------- */

/* EFLAGS as IRET/POPF may load them: `cpl` is the CPL before the instruction (SDM Vol. 2A,
 * IRET: IOPL only at CPL 0, IF only at CPL <= IOPL; VIF/VIP only at CPL 0). */
static uint32_t iret_flags(X86Cpu *cpu, uint32_t v, unsigned osz, unsigned cpl)
{
    uint32_t f = flags_get(cpu);
    uint32_t mask = 0x257FD5u;    /* CF PF AF ZF SF TF IF DF OF IOPL NT RF AC ID */
    if (cpl == 0) mask |= X86_FLAG_VIF | X86_FLAG_VIP;
    if (cpl > 0) mask &= ~X86_FLAG_IOPL;
    if (cpl > x86_iopl(cpu)) mask &= ~X86_FLAG_IF;
    if (osz == 2) mask &= 0xFFFF;
    return ((f & ~mask) | (v & mask)) | X86_FLAG_FIXED;
}

uint32_t x86_popf_mask(X86Cpu *cpu, unsigned osz)
{
    uint32_t mask = 0x3F7FD5u & ~(X86_FLAG_VM | X86_FLAG_VIP | X86_FLAG_VIF | X86_FLAG_RF);
    if (x86_pe(cpu)) {
        unsigned cpl = x86_cpl(cpu);
        if (cpl > 0) mask &= ~X86_FLAG_IOPL;
        if (cpl > x86_iopl(cpu)) mask &= ~X86_FLAG_IF;
    }
    return osz == 2 ? (mask & 0xFFFF) : mask;
}

/* IRET to virtual-8086 mode from CPL 0 with a 32-bit operand size (SDM Vol. 2A, IRET
 * "RETURN-TO-VIRTUAL-8086-MODE"): pops ESP, SS, ES, DS, FS, GS after EIP, CS, EFLAGS. */
static void iret_to_v86(X86Cpu *cpu, Stack *st, uint32_t ip, uint16_t cs, uint32_t fl)
{
    uint32_t nsp = stack_pop(cpu, st, 4);
    uint16_t sel[6];
    sel[X86_SS] = (uint16_t)stack_pop(cpu, st, 4);
    sel[X86_ES] = (uint16_t)stack_pop(cpu, st, 4);
    sel[X86_DS] = (uint16_t)stack_pop(cpu, st, 4);
    sel[X86_FS] = (uint16_t)stack_pop(cpu, st, 4);
    sel[X86_GS] = (uint16_t)stack_pop(cpu, st, 4);
    sel[X86_CS] = cs;
    if ((ip & 0xFFFF) != ip) fault_sel(cpu, X86_EXC_GP, 0);
    for (int s = 0; s < 6; s++) load_v86_seg(&cpu->seg[s], sel[s]);
    cpu->flags = (fl & 0x3F7FD5u) | X86_FLAG_FIXED | X86_FLAG_VM;
    x86_update_mode(cpu);
    cpu->lf_op = LF_NONE;
    cpu->gpr[X86_RSP] = nsp;
    cpu->next_rip = ip;
    x86_end_block(cpu);
}

void x86_iret(X86Cpu *cpu, unsigned osz)
{
    if (x86_lma(cpu)) {
        /* IA-32e mode: no task return (NT: #GP(0)); 64-bit mode always pops SS:RSP
         * (SDM Vol. 2A, IRET "IA-32e-MODE") */
        if (flags_get(cpu) & X86_FLAG_NT) fault_sel(cpu, X86_EXC_GP, 0);
        if (x86_long64(cpu)) {
            far_ret_long(cpu, osz, 0, true);
            return;
        }
    }
    if (x86_v86(cpu)) {
        /* Virtual-8086 mode: IOPL 3 behaves as real mode without touching IOPL; else
         * #GP(0) (no VME; SDM Vol. 3B, 20.2.7). */
        if (x86_iopl(cpu) < 3) fault_sel(cpu, X86_EXC_GP, 0);
    }
    if (!x86_pm(cpu)) {
        Stack st = current_stack(cpu);
        uint32_t ip = stack_pop(cpu, &st, osz);
        uint16_t cs = (uint16_t)stack_pop(cpu, &st, osz);
        uint32_t fl = stack_pop(cpu, &st, osz);
        if (osz == 2) ip &= 0xFFFF;
        uint32_t f = flags_get(cpu);
        uint32_t mask = osz == 2 ? 0x7FD5u : 0x257FD5u;
        if (x86_v86(cpu)) mask &= ~X86_FLAG_IOPL;
        real_far_to(cpu, cs, ip);
        cpu->flags = (f & ~mask) | (fl & mask) | X86_FLAG_FIXED;   /* (VM not in mask) */
        set_stack(cpu, &st);
        return;
    }
    if (flags_get(cpu) & X86_FLAG_NT) {
        /* Return from a nested task: the back link of the current TSS (SDM 7.3). */
        uint16_t link = (uint16_t)sys_read(cpu, (uint32_t)cpu->tr.base, 2);
        Desc t;
        if ((link & SEL_TI) || !desc_read(cpu, link, &t)) fault_sel(cpu, X86_EXC_TS, SEL_ERR(link));
        unsigned ty = desc_type(&t);
        if (desc_s(&t) || (ty != SYS_TSS16_BUSY && ty != SYS_TSS32_BUSY))
            fault_sel(cpu, X86_EXC_TS, SEL_ERR(link));
        if (!desc_present(&t)) fault_sel(cpu, X86_EXC_NP, SEL_ERR(link));
        task_switch(cpu, link, &t, TS_IRET, false, 0, cpu->next_rip);
        return;
    }
    unsigned cpl = x86_cpl(cpu);
    Stack st = current_stack(cpu);
    uint32_t ip = stack_pop(cpu, &st, osz);
    uint16_t sel = (uint16_t)stack_pop(cpu, &st, osz);
    uint32_t fl = stack_pop(cpu, &st, osz);
    if (osz == 4 && (fl & X86_FLAG_VM) && cpl == 0) {
        iret_to_v86(cpu, &st, ip, sel, fl);
        return;
    }
    if (osz == 2) ip &= 0xFFFF;
    Desc c;
    return_cs(cpu, sel, &c);
    unsigned rpl = SEL_RPL(sel);
    uint32_t nf = iret_flags(cpu, fl, osz, cpl);
    if (rpl == cpl) {
        load_cs(cpu, &c, sel, rpl, ip);
        cpu->flags = nf;
        x86_update_mode(cpu);
        cpu->lf_op = LF_NONE;
        set_stack(cpu, &st);
        return;
    }
    uint32_t nsp = stack_pop(cpu, &st, osz);
    uint16_t ssel = (uint16_t)stack_pop(cpu, &st, osz);
    X86Segment ss = return_ss(cpu, ssel, rpl);
    load_cs(cpu, &c, sel, rpl, ip);
    cpu->flags = nf;
    x86_update_mode(cpu);
    cpu->lf_op = LF_NONE;
    cpu->ss = ss;
    Stack ns = { ss, nsp, 0, false };
    set_stack(cpu, &ns);
    null_inaccessible(cpu, rpl);
}

/* ---------------------------------------------------------------------------------- */
/* Event delivery in protected and virtual-8086 mode                                     */
/* ---------------------------------------------------------------------------------- */

void x86_deliver_protected(X86Cpu *cpu, int vector, X86EventKind kind, bool has_error,
                           uint32_t error_code, uint64_t ret_ip)
{
    if (x86_lma(cpu)) {
        deliver_long(cpu, vector, kind, has_error, error_code, ret_ip);
        return;
    }
    uint32_t ext = kind == X86_EVENT_SOFTWARE_INT ? 0 : 1;
    uint32_t gerr = (uint32_t)vector * 8 + 2 + ext;     /* IDT bit set */
    unsigned cpl = x86_cpl(cpu);
    bool v86 = x86_v86(cpu);
    if ((uint32_t)vector * 8 + 7 > cpu->idtr.limit) fault_sel(cpu, X86_EXC_GP, gerr);
    Desc g;
    g.addr = (uint32_t)(cpu->idtr.base + (uint32_t)vector * 8);
    g.lo = sys_read(cpu, g.addr, 4);
    g.hi = sys_read(cpu, x86_lin_wrap(cpu, g.addr + 4), 4);
    unsigned type = desc_type(&g);
    if (desc_s(&g) || !(type == SYS_TASK_GATE || type == SYS_INT16 || type == SYS_TRAP16 ||
                        type == SYS_INT32 || type == SYS_TRAP32))
        fault_sel(cpu, X86_EXC_GP, gerr);
    /* The gate's DPL applies to INT n, INT3 and INTO only (SDM Vol. 3A, 6.12.1.1). */
    if (kind == X86_EVENT_SOFTWARE_INT && desc_dpl(&g) < cpl) fault_sel(cpu, X86_EXC_GP, gerr);
    if (!desc_present(&g)) fault_sel(cpu, X86_EXC_NP, gerr);
    if (type == SYS_TASK_GATE) {
        uint16_t tsel = (uint16_t)(g.lo >> 16);
        Desc t;
        if ((tsel & SEL_TI) || !desc_read(cpu, tsel, &t)) fault_sel(cpu, X86_EXC_TS, SEL_ERR(tsel) | ext);
        unsigned ty = desc_type(&t);
        if (desc_s(&t) || (ty != SYS_TSS16_AVAIL && ty != SYS_TSS32_AVAIL))
            fault_sel(cpu, X86_EXC_GP, SEL_ERR(tsel) | ext);
        if (!desc_present(&t)) fault_sel(cpu, X86_EXC_NP, SEL_ERR(tsel) | ext);
        task_switch(cpu, tsel, &t, TS_INT, has_error, error_code, ret_ip);
        cpu->rip = cpu->next_rip;
        return;
    }
    bool gate32 = type == SYS_INT32 || type == SYS_TRAP32;
    unsigned gsz = gate32 ? 4 : 2;
    uint16_t csel = (uint16_t)(g.lo >> 16);
    uint32_t goff = (g.lo & 0xFFFF) | (gate32 ? (g.hi & 0xFFFF0000u) : 0);
    Desc c;
    code_desc(cpu, csel, &c, ext);
    unsigned dpl = desc_dpl(&c);
    if (dpl > cpl) fault_sel(cpu, X86_EXC_GP, SEL_ERR(csel) | ext);
    if (!desc_present(&c)) fault_sel(cpu, X86_EXC_NP, SEL_ERR(csel) | ext);
    uint32_t f = flags_get(cpu);
    uint16_t old_cs = cpu->cs.selector;
    X86Segment cs = desc_segment(&c, csel);
    if (goff > cs.limit) fault_sel(cpu, X86_EXC_GP, ext);
    Stack st;
    unsigned ncpl;
    if (!desc_conforming(&c) && dpl < cpl) {
        /* To an inner level: the stack of level dpl from the TSS (SDM Vol. 3A, 6.12.1,
         * Figure 6-4); from virtual-8086 mode only to level 0, saving the data segments. */
        if (v86 && dpl != 0) fault_sel(cpu, X86_EXC_GP, SEL_ERR(csel) | ext);
        st = tss_stack(cpu, dpl, ext);
        if (v86) {
            stack_push(cpu, &st, gsz, cpu->gs.selector);
            stack_push(cpu, &st, gsz, cpu->fs.selector);
            stack_push(cpu, &st, gsz, cpu->ds.selector);
            stack_push(cpu, &st, gsz, cpu->es.selector);
        }
        stack_push(cpu, &st, gsz, cpu->ss.selector);
        stack_push(cpu, &st, gsz, (uint32_t)cpu->gpr[X86_RSP]);
        ncpl = dpl;
    } else {
        if (v86) fault_sel(cpu, X86_EXC_GP, SEL_ERR(csel) | ext);
        st = current_stack(cpu);
        ncpl = cpl;
    }
    stack_push(cpu, &st, gsz, f | fault_rf(vector, kind));
    stack_push(cpu, &st, gsz, old_cs);
    stack_push(cpu, &st, gsz, (uint32_t)ret_ip);
    if (has_error) stack_push(cpu, &st, gsz, error_code);
    /* Commit. */
    desc_set_accessed(cpu, &c);
    cs.selector = (uint16_t)((csel & ~3u) | ncpl);
    cs.attr |= X86_SEG_ACCESSED;
    cpu->cs = cs;
    x86_update_mode(cpu);
    if (ncpl != cpl) cpu->ss = st.seg;
    set_stack(cpu, &st);
    if (v86) {
        for (int s = 0; s < 6; s++) {
            if (s == X86_CS || s == X86_SS) continue;
            cpu->seg[s] = (X86Segment){ 0, 0, 0, X86_AR_UNUSABLE };
        }
    }
    f &= ~(X86_FLAG_TF | X86_FLAG_NT | X86_FLAG_VM | X86_FLAG_RF);
    if (type == SYS_INT16 || type == SYS_INT32) f &= ~X86_FLAG_IF;
    cpu->flags = f;
    x86_update_mode(cpu);   /* VM cleared */
    cpu->rip = cpu->next_rip = goff;
}

/* ---------------------------------------------------------------------------------- */
/* Task switches (SDM Vol. 3A, 7.3)                                                      */
/* ---------------------------------------------------------------------------------- */

/* 32-bit TSS offsets (Figure 7-2) and 16-bit (Figure 7-11). */
enum {
    TSS32_CR3 = 0x1C, TSS32_EIP = 0x20, TSS32_EFLAGS = 0x24, TSS32_EAX = 0x28,
    TSS32_ES = 0x48, TSS32_LDT = 0x60, TSS32_T = 0x64, TSS32_IOMAP = 0x66, TSS32_MIN_LIMIT = 0x67,
    TSS16_IP = 0x0E, TSS16_FLAGS = 0x10, TSS16_AX = 0x12, TSS16_ES = 0x22, TSS16_LDT = 0x2A,
    TSS16_MIN_LIMIT = 0x2B,
};

static void set_busy(X86Cpu *cpu, uint16_t sel, bool busy)
{
    Desc d;
    if (!desc_read(cpu, sel, &d)) return;
    uint32_t b = (d.hi >> 8) & 0xFF;
    b = busy ? (b | TSS_BUSY_BIT) : (b & ~TSS_BUSY_BIT);
    sys_write(cpu, x86_lin_wrap(cpu, d.addr + 5), 1, b);
}

/* Loads a segment register of the new task; errors are #TS (not present: #NP, SS: #SS). */
static void task_load_seg(X86Cpu *cpu, int sreg, uint16_t sel, unsigned cpl, bool v86)
{
    if (v86) {
        load_v86_seg(&cpu->seg[sreg], sel);
        return;
    }
    if (sreg != X86_CS) {
        load_data_seg(cpu, sreg, sel, cpl, X86_EXC_TS, 0);
        return;
    }
    Desc c;
    if ((sel & ~3u) == 0 || !desc_read(cpu, sel, &c) || !desc_code(&c))
        fault_sel(cpu, X86_EXC_TS, SEL_ERR(sel));
    if (desc_conforming(&c) ? desc_dpl(&c) > SEL_RPL(sel) : desc_dpl(&c) != SEL_RPL(sel))
        fault_sel(cpu, X86_EXC_TS, SEL_ERR(sel));
    if (!desc_present(&c)) fault_sel(cpu, X86_EXC_NP, SEL_ERR(sel));
    desc_set_accessed(cpu, &c);
    cpu->cs = desc_segment(&c, sel);
    x86_update_mode(cpu);
}

static void task_switch(X86Cpu *cpu, uint16_t sel, Desc *d, TaskSource src, bool has_error,
                        uint32_t error, uint64_t ret_ip)
{
    unsigned ntype = desc_type(d) & ~TSS_BUSY_BIT;
    bool new32 = ntype == SYS_TSS32_AVAIL;
    X86Segment ntss = desc_segment(d, sel);
    if (ntss.limit < (new32 ? TSS32_MIN_LIMIT : TSS16_MIN_LIMIT))
        fault_sel(cpu, X86_EXC_TS, SEL_ERR(sel));
    bool old32 = (cpu->tr.attr & X86_AR_TYPE_MASK) == SYS_TSS32_BUSY;
    uint64_t ob = cpu->tr.base;
    uint32_t f = flags_get(cpu);
    if (src == TS_IRET) f &= ~X86_FLAG_NT;
    /* Save the current task's state into its TSS. */
    if (old32) {
        sys_write(cpu, (uint32_t)(ob + TSS32_EIP), 4, (uint32_t)ret_ip);
        sys_write(cpu, (uint32_t)(ob + TSS32_EFLAGS), 4, f);
        for (int r = 0; r < 8; r++)
            sys_write(cpu, (uint32_t)(ob + TSS32_EAX + 4 * r), 4, (uint32_t)cpu->gpr[r]);
        for (int s = 0; s < 6; s++)
            sys_write(cpu, (uint32_t)(ob + TSS32_ES + 4 * s), 2, cpu->seg[s].selector);
    } else {
        sys_write(cpu, (uint32_t)(ob + TSS16_IP), 2, (uint32_t)ret_ip);
        sys_write(cpu, (uint32_t)(ob + TSS16_FLAGS), 2, f);
        for (int r = 0; r < 8; r++)
            sys_write(cpu, (uint32_t)(ob + TSS16_AX + 2 * r), 2, (uint32_t)cpu->gpr[r]);
        for (int s = 0; s < 4; s++)
            sys_write(cpu, (uint32_t)(ob + TSS16_ES + 2 * s), 2, cpu->seg[s].selector);
    }
    /* Read the new task's state. */
    uint64_t nb = ntss.base;
    uint32_t ncr3 = 0, nip, nfl, ngpr[8], ntrap = 0;
    uint16_t nsel[6] = { 0 }, nldt;
    if (new32) {
        ncr3 = sys_read(cpu, (uint32_t)(nb + TSS32_CR3), 4);
        nip = sys_read(cpu, (uint32_t)(nb + TSS32_EIP), 4);
        nfl = sys_read(cpu, (uint32_t)(nb + TSS32_EFLAGS), 4);
        for (int r = 0; r < 8; r++) ngpr[r] = sys_read(cpu, (uint32_t)(nb + TSS32_EAX + 4 * r), 4);
        for (int s = 0; s < 6; s++)
            nsel[s] = (uint16_t)sys_read(cpu, (uint32_t)(nb + TSS32_ES + 4 * s), 2);
        nldt = (uint16_t)sys_read(cpu, (uint32_t)(nb + TSS32_LDT), 2);
        ntrap = sys_read(cpu, (uint32_t)(nb + TSS32_T), 2) & 1;
    } else {
        nip = sys_read(cpu, (uint32_t)(nb + TSS16_IP), 2);
        nfl = sys_read(cpu, (uint32_t)(nb + TSS16_FLAGS), 2) | (f & 0xFFFF0000u & ~X86_FLAG_VM);
        /* The upper halves of the registers read as ones after a switch to a 16-bit
         * task, as the 386 leaves them (test386.asm POST 0x22 checks it; the SDM leaves
         * them undefined). */
        for (int r = 0; r < 8; r++)
            ngpr[r] = 0xFFFF0000u | sys_read(cpu, (uint32_t)(nb + TSS16_AX + 2 * r), 2);
        for (int s = 0; s < 4; s++)
            nsel[s] = (uint16_t)sys_read(cpu, (uint32_t)(nb + TSS16_ES + 2 * s), 2);
        nldt = (uint16_t)sys_read(cpu, (uint32_t)(nb + TSS16_LDT), 2);
    }
    /* Busy bits, NT and the back link. */
    uint16_t old_tr = cpu->tr.selector;
    if (src == TS_JMP || src == TS_IRET) set_busy(cpu, old_tr, false);
    if (src == TS_CALL || src == TS_INT) {
        sys_write(cpu, (uint32_t)nb, 2, old_tr);
        nfl |= X86_FLAG_NT;
    }
    if (src != TS_IRET) set_busy(cpu, sel, true);
    /* The task register and CR0.TS. */
    cpu->tr = ntss;
    cpu->tr.attr = (cpu->tr.attr & ~X86_AR_TYPE_MASK) | (ntype | TSS_BUSY_BIT);
    cpu->cr0 |= X86_CR0_TS;
    if (new32 && (cpu->cr0 & X86_CR0_PG) && ncr3 != (uint32_t)cpu->cr3) {
        cpu->cr3 = ncr3;
        x86_cpu_tlb_flush(cpu);
    } else if (new32) {
        cpu->cr3 = ncr3;
    }
    /* Registers of the new task, then its LDT and segments (faults here are in the
     * context of the new task, SDM 7.3 step 14). */
    for (int r = 0; r < 8; r++) cpu->gpr[r] = ngpr[r];
    cpu->flags = nfl | X86_FLAG_FIXED;
    x86_update_mode(cpu);
    cpu->lf_op = LF_NONE;
    cpu->rip = cpu->next_rip = nip;
    x86_end_block(cpu);
    for (int s = 0; s < 6; s++) cpu->seg[s].selector = nsel[s];
    cpu->ldtr.selector = nldt;
    if ((nldt & ~3u) == 0) {
        cpu->ldtr.attr = X86_AR_UNUSABLE;
    } else {
        Desc l;
        if ((nldt & SEL_TI) || !desc_read(cpu, nldt, &l) || desc_s(&l) || desc_type(&l) != SYS_LDT)
            fault_sel(cpu, X86_EXC_TS, SEL_ERR(nldt));
        if (!desc_present(&l)) fault_sel(cpu, X86_EXC_TS, SEL_ERR(nldt));
        cpu->ldtr = desc_segment(&l, nldt);
    }
    bool v86 = new32 && (nfl & X86_FLAG_VM);
    unsigned ncpl = v86 ? 3 : SEL_RPL(nsel[X86_CS]);
    task_load_seg(cpu, X86_CS, nsel[X86_CS], ncpl, v86);
    task_load_seg(cpu, X86_SS, nsel[X86_SS], ncpl, v86);
    static const int data[] = { X86_DS, X86_ES, X86_FS, X86_GS };
    for (int i = 0; i < 4; i++) task_load_seg(cpu, data[i], nsel[data[i]], ncpl, v86);
    if (nip > cpu->cs.limit) fault_sel(cpu, X86_EXC_GP, 0);
    if (has_error) {
        Stack st = current_stack(cpu);
        stack_push(cpu, &st, new32 ? 4 : 2, error);
        set_stack(cpu, &st);
    }
    /* The T bit (bit 0 of the word at 100 of a 32-bit TSS): a debug trap once the switch
     * is done, before the new task's first instruction (SDM Vol. 3A, 7.2.1, 18.2.3). */
    if (ntrap) {
        cpu->debug_trap_pending = true;
        cpu->event_check = true;
        x86_jit_stop_chaining(cpu);
    }
}

/* ---------------------------------------------------------------------------------- */
/* I/O permission                                                                        */
/* ---------------------------------------------------------------------------------- */

void x86_io_permission(X86Cpu *cpu, uint16_t port, unsigned size)
{
    if (!x86_pe(cpu)) return;
    if (!x86_v86(cpu) && x86_cpl(cpu) <= x86_iopl(cpu)) return;
    /* The I/O permission bitmap of a 32-bit TSS: every bit of the accessed ports must be 0;
     * the bitmap and the two bytes read must be within the TSS limit. */
    if ((cpu->tr.attr & X86_AR_TYPE_MASK) != SYS_TSS32_BUSY || cpu->tr.limit < TSS32_MIN_LIMIT)
        fault_sel(cpu, X86_EXC_GP, 0);
    uint32_t base = sys_read(cpu, (uint32_t)(cpu->tr.base + TSS32_IOMAP), 2);
    uint32_t off = base + port / 8;
    if (off + 1 > cpu->tr.limit) fault_sel(cpu, X86_EXC_GP, 0);
    uint32_t bits = sys_read(cpu, (uint32_t)(cpu->tr.base + off), 2);
    uint32_t mask = ((1u << size) - 1) << (port & 7);
    if (bits & mask) fault_sel(cpu, X86_EXC_GP, 0);
}

/* ---------------------------------------------------------------------------------- */
/* Descriptor instructions                                                               */
/* ---------------------------------------------------------------------------------- */

/* 0F 00 (SDM Vol. 2): /0 SLDT, /1 STR, /2 LLDT, /3 LTR, /4 VERR, /5 VERW. Real mode and
 * virtual-8086 mode: #UD. */
void op_grp6(X86Cpu *cpu, const X86Insn *in)
{
    if (!x86_pm(cpu) || in->reg > 5) x86_fault(cpu, X86_EXC_UD, false, 0);
    switch (in->reg) {
    case 0: case 1: {
        x86_check_umip(cpu);
        uint16_t v = in->reg == 0 ? cpu->ldtr.selector : cpu->tr.selector;
        if (in->mod == 3) reg_write(cpu, in->rm, in->osz, v);
        else rm_write(cpu, in, 2, v);
        return;
    }
    case 2: {
        x86_require_cpl0(cpu);
        uint16_t sel = (uint16_t)rm_read(cpu, in, 2);
        if ((sel & ~3u) == 0) {
            cpu->ldtr = (X86Segment){ sel, 0, 0, X86_AR_UNUSABLE };
            return;
        }
        Desc d;
        if ((sel & SEL_TI) || !desc_read(cpu, sel, &d)) fault_sel(cpu, X86_EXC_GP, SEL_ERR(sel));
        if (desc_s(&d) || desc_type(&d) != SYS_LDT) fault_sel(cpu, X86_EXC_GP, SEL_ERR(sel));
        if (!desc_present(&d)) fault_sel(cpu, X86_EXC_NP, SEL_ERR(sel));
        cpu->ldtr = desc_segment(&d, sel);
        if (x86_lma(cpu)) cpu->ldtr.base |= (uint64_t)sys_read(cpu, d.addr + 8, 4) << 32;
        return;
    }
    case 3: {
        x86_require_cpl0(cpu);
        uint16_t sel = (uint16_t)rm_read(cpu, in, 2);
        if ((sel & ~3u) == 0) fault_sel(cpu, X86_EXC_GP, 0);
        Desc d;
        if ((sel & SEL_TI) || !desc_read(cpu, sel, &d)) fault_sel(cpu, X86_EXC_GP, SEL_ERR(sel));
        unsigned ty = desc_type(&d);
        if (desc_s(&d) || (ty != SYS_TSS16_AVAIL && ty != SYS_TSS32_AVAIL))
            fault_sel(cpu, X86_EXC_GP, SEL_ERR(sel));
        if (!desc_present(&d)) fault_sel(cpu, X86_EXC_NP, SEL_ERR(sel));
        /* IA-32e mode: a 64-bit TSS (type 9) in a 16-byte descriptor */
        if (x86_lma(cpu) && ty != SYS_TSS32_AVAIL) fault_sel(cpu, X86_EXC_GP, SEL_ERR(sel));
        uint64_t base_hi = x86_lma(cpu) ? sys_read(cpu, d.addr + 8, 4) : 0;
        set_busy(cpu, sel, true);
        cpu->tr = desc_segment(&d, sel);
        cpu->tr.base |= base_hi << 32;
        cpu->tr.attr |= TSS_BUSY_BIT;
        return;
    }
    default: {
        /* VERR/VERW: ZF = 1 when the segment is readable/writable at CPL and RPL. */
        uint16_t sel = (uint16_t)rm_read(cpu, in, 2);
        Desc d;
        bool ok = (sel & ~3u) != 0 && desc_read(cpu, sel, &d) && desc_s(&d);
        if (ok) {
            unsigned ty = desc_type(&d);
            bool conforming_code = (ty & 0xCu) == 0xCu;
            if (!conforming_code &&
                (desc_dpl(&d) < x86_cpl(cpu) || desc_dpl(&d) < SEL_RPL(sel)))
                ok = false;
            else if (in->reg == 4)
                ok = !(ty & X86_SEG_CODE) || (ty & X86_SEG_WRITABLE);
            else
                ok = (ty & (X86_SEG_CODE | X86_SEG_WRITABLE)) == X86_SEG_WRITABLE;
        }
        flags_set_arith(cpu, ok ? X86_FLAG_ZF : 0, X86_FLAG_ZF);
        return;
    }
    }
}

/* 0F 02 LAR / 0F 03 LSL (SDM Vol. 2A): ZF = 1 and the access rights or the limit when
 * the descriptor is of a valid type and visible at CPL and RPL; else ZF = 0. */
void op_lar_lsl(X86Cpu *cpu, const X86Insn *in)
{
    if (!x86_pm(cpu)) x86_fault(cpu, X86_EXC_UD, false, 0);
    uint16_t sel = (uint16_t)rm_read(cpu, in, 2);
    bool lar = in->op == 0x102;
    Desc d;
    bool ok = (sel & ~3u) != 0 && desc_read(cpu, sel, &d);
    if (ok) {
        unsigned ty = desc_type(&d);
        if (!desc_s(&d)) {
            static const uint16_t lar_ok = (1u << 1) | (1u << 2) | (1u << 3) | (1u << 4) |
                                           (1u << 5) | (1u << 9) | (1u << 11) | (1u << 12);
            static const uint16_t lsl_ok = (1u << 1) | (1u << 2) | (1u << 3) | (1u << 9) |
                                           (1u << 11);
            ok = ((lar ? lar_ok : lsl_ok) >> ty) & 1;
        }
        bool conforming_code = desc_s(&d) && (ty & 0xCu) == 0xCu;
        if (ok && !conforming_code &&
            (desc_dpl(&d) < x86_cpl(cpu) || desc_dpl(&d) < SEL_RPL(sel)))
            ok = false;
    }
    flags_set_arith(cpu, ok ? X86_FLAG_ZF : 0, X86_FLAG_ZF);
    if (!ok) return;
    uint32_t v;
    if (lar) v = d.hi & (in->osz == 4 ? 0x00FFFF00u : 0xFF00u);
    else v = desc_segment(&d, sel).limit;
    reg_write(cpu, in->reg, in->osz, v);
}

/* 63: ARPL r/m16, r16 (SDM Vol. 2A): raises the destination's RPL to the source's; ZF
 * says whether it changed. Real and virtual-8086 mode: #UD. */
void op_arpl(X86Cpu *cpu, const X86Insn *in)
{
    if (!x86_pm(cpu)) x86_fault(cpu, X86_EXC_UD, false, 0);
    uint32_t dst = rm_read(cpu, in, 2);
    uint32_t src = reg_read(cpu, in->reg, 2);
    if ((dst & 3) < (src & 3)) {
        rm_write(cpu, in, 2, (dst & ~3u) | (src & 3));
        flags_set_arith(cpu, X86_FLAG_ZF, X86_FLAG_ZF);
    } else {
        flags_set_arith(cpu, 0, X86_FLAG_ZF);
    }
}

/* ---------------------------------------------------------------------------------- */
/* IA-32e mode: 64-bit gates, stacks and returns (SDM Vol. 3A, 5.8.3.1, 6.14, 7.7)         */
/* ---------------------------------------------------------------------------------- */

/* An 8-byte stack access of IA-32e mode's event delivery and returns: a non-canonical
 * address is #SS(err); accesses at an inner level are supervisor ones. */
static void push64(X86Cpu *cpu, uint64_t *rsp, uint64_t v, bool supervisor, uint32_t err)
{
    uint64_t a = *rsp - 8;
    if (!x86_canonical(a)) fault_sel(cpu, X86_EXC_SS, err);
    cpu->implicit_supervisor = supervisor;
    lin_write(cpu, a, 8, v);
    cpu->implicit_supervisor = false;
    *rsp = a;
}

static uint64_t pop_n(X86Cpu *cpu, uint64_t *sp, unsigned size, uint64_t mask)
{
    uint64_t a = *sp & mask;
    uint64_t lin = x86_linear(cpu, X86_SS, a, size, X86_ACCESS_READ);
    uint64_t v = lin_read(cpu, lin, size);
    *sp = (a + size) & mask;
    return v;
}

/* A 64-bit interrupt or trap gate (16 bytes; SDM Vol. 3A, 6.14.1): the target must be a
 * 64-bit code segment; the stack is the current one, the TSS's RSPn for a more privileged
 * level, or IST n; it is aligned to 16 bytes, and SS:RSP, RFLAGS, CS:RIP and the error
 * code are pushed as 8 bytes each whatever the privilege levels. A privilege change loads
 * SS with the null selector of the new CPL. */
static void deliver_long(X86Cpu *cpu, int vector, X86EventKind kind, bool has_error,
                         uint32_t error_code, uint64_t ret_ip)
{
    uint32_t ext = kind == X86_EVENT_SOFTWARE_INT ? 0 : 1;
    uint32_t gerr = (uint32_t)vector * 8 + 2 + ext;
    unsigned cpl = x86_cpl(cpu);
    if ((uint32_t)vector * 16 + 15 > cpu->idtr.limit) fault_sel(cpu, X86_EXC_GP, gerr);
    uint64_t ga = cpu->idtr.base + (uint64_t)vector * 16;
    Desc g;
    g.addr = ga;
    g.lo = sys_read(cpu, ga, 4);
    g.hi = sys_read(cpu, ga + 4, 4);
    uint32_t off_hi = sys_read(cpu, ga + 8, 4);
    uint32_t upper = sys_read(cpu, ga + 12, 4);
    unsigned type = desc_type(&g);
    if (desc_s(&g) || (type != SYS_INT32 && type != SYS_TRAP32) || ((upper >> 8) & 0x1F))
        fault_sel(cpu, X86_EXC_GP, gerr);
    if (kind == X86_EVENT_SOFTWARE_INT && desc_dpl(&g) < cpl) fault_sel(cpu, X86_EXC_GP, gerr);
    if (!desc_present(&g)) fault_sel(cpu, X86_EXC_NP, gerr);
    uint16_t csel = (uint16_t)(g.lo >> 16);
    uint64_t goff = (g.lo & 0xFFFF) | (g.hi & 0xFFFF0000u) | ((uint64_t)off_hi << 32);
    unsigned ist = g.hi & 7;
    Desc c;
    code_desc(cpu, csel, &c, ext);
    unsigned dpl = desc_dpl(&c);
    X86Segment cs = desc_segment(&c, csel);
    if (dpl > cpl || !(cs.attr & X86_AR_L) || (cs.attr & X86_AR_DB))
        fault_sel(cpu, X86_EXC_GP, SEL_ERR(csel) | ext);
    if (!desc_present(&c)) fault_sel(cpu, X86_EXC_NP, SEL_ERR(csel) | ext);
    if (!x86_canonical(goff)) fault_sel(cpu, X86_EXC_GP, ext);
    bool inner = !desc_conforming(&c) && dpl < cpl;
    unsigned ncpl = inner ? dpl : cpl;
    uint64_t rsp = cpu->gpr[X86_RSP];
    if (!x86_long64(cpu) && !inner) rsp &= stack32(cpu) ? 0xFFFFFFFFull : 0xFFFFull;
    if (ist || inner) {
        /* the 64-bit TSS: RSP0-2 at 4, IST1-7 at 36 (SDM Vol. 3A, 8.7, Figure 8-11) */
        uint32_t toff = ist ? 36 + 8 * (ist - 1) : 4 + 8 * dpl;
        if (toff + 7 > cpu->tr.limit) fault_sel(cpu, X86_EXC_TS, SEL_ERR(cpu->tr.selector) | ext);
        uint64_t lo = sys_read(cpu, cpu->tr.base + toff, 4);
        uint64_t hi = sys_read(cpu, cpu->tr.base + toff + 4, 4);
        rsp = lo | hi << 32;
        if (!x86_canonical(rsp)) fault_sel(cpu, X86_EXC_SS, ext);
    }
    rsp &= ~0xFull;
    uint32_t f = flags_get(cpu);
    bool sup = ncpl < 3;
    push64(cpu, &rsp, cpu->ss.selector, sup, ext);
    push64(cpu, &rsp, cpu->gpr[X86_RSP], sup, ext);
    push64(cpu, &rsp, f | fault_rf(vector, kind), sup, ext);
    push64(cpu, &rsp, cpu->cs.selector, sup, ext);
    push64(cpu, &rsp, ret_ip, sup, ext);
    if (has_error) push64(cpu, &rsp, error_code, sup, ext);
    desc_set_accessed(cpu, &c);
    cs.selector = (uint16_t)((csel & ~3u) | ncpl);
    cs.attr |= X86_SEG_ACCESSED;
    cpu->cs = cs;
    if (inner) {
        cpu->ss = (X86Segment){ (uint16_t)ncpl, 0, 0,
                                X86_AR_UNUSABLE | (ncpl << X86_AR_DPL_SHIFT) | X86_AR_S |
                                    X86_SEG_WRITABLE | X86_AR_P };
    }
    cpu->gpr[X86_RSP] = rsp;
    f &= ~(X86_FLAG_TF | X86_FLAG_NT | X86_FLAG_RF | X86_FLAG_VM);
    if (type == SYS_INT32) f &= ~X86_FLAG_IF;
    cpu->flags = f;
    cpu->lf_op = LF_NONE;
    x86_update_mode(cpu);
    cpu->rip = cpu->next_rip = goff;
}

/* RETF and IRET in 64-bit mode (SDM Vol. 2A, RET and IRET "IA-32e-MODE"): RIP, CS (and
 * RFLAGS) popped with the operand size; IRET always pops RSP and SS, RETF only on a
 * return to an outer level. A return to CPL 0-2 in 64-bit mode may load a null SS. */
static void far_ret_long(X86Cpu *cpu, unsigned osz, uint32_t imm, bool iret)
{
    uint64_t sp = cpu->gpr[X86_RSP];
    const uint64_t m = ~0ull;
    uint64_t ip = pop_n(cpu, &sp, osz, m);
    uint16_t sel = (uint16_t)pop_n(cpu, &sp, osz, m);
    uint64_t fl = iret ? pop_n(cpu, &sp, osz, m) : 0;
    unsigned cpl = x86_cpl(cpu);
    Desc c;
    return_cs(cpu, sel, &c);
    unsigned rpl = SEL_RPL(sel);
    X86Segment ncs = desc_segment(&c, sel);
    bool to64 = (ncs.attr & X86_AR_L) != 0;
    if (osz == 2) ip &= 0xFFFF;
    else if (osz == 4 || !to64) ip = (uint32_t)ip;
    uint64_t nsp = 0;
    uint16_t ssel = 0;
    X86Segment ss = cpu->ss;
    bool pop_ss = iret || rpl != cpl;
    if (pop_ss) {
        sp += iret ? 0 : imm;
        nsp = pop_n(cpu, &sp, osz, m);
        ssel = (uint16_t)pop_n(cpu, &sp, osz, m);
        if ((ssel & ~3u) == 0 && to64 && rpl < 3 && SEL_RPL(ssel) == rpl) {
            ss = (X86Segment){ ssel, 0, 0,
                               X86_AR_UNUSABLE | (rpl << X86_AR_DPL_SHIFT) | X86_AR_S |
                                   X86_SEG_WRITABLE | X86_AR_P };
        } else {
            ss = return_ss(cpu, ssel, rpl);
        }
    }
    uint32_t nf = iret ? iret_flags(cpu, (uint32_t)fl, osz, cpl) : 0;
    load_cs(cpu, &c, sel, rpl, ip);
    if (iret) {
        cpu->flags = nf;
        cpu->lf_op = LF_NONE;
    }
    if (pop_ss) {
        cpu->ss = ss;
        if (osz == 2) nsp &= 0xFFFF;
        else if (osz == 4) nsp = (uint32_t)nsp;
        cpu->gpr[X86_RSP] = nsp + (iret ? 0 : imm);
    } else {
        cpu->gpr[X86_RSP] = sp + imm;
    }
    x86_update_mode(cpu);
    if (rpl > cpl) null_inaccessible(cpu, rpl);
}

/* Far CALL in IA-32e mode to a code segment at the same level (call gates, which are
 * 16 bytes here, are not modelled): CS and RIP pushed with the operand size. */
static void far_call_long(X86Cpu *cpu, uint16_t sel, uint64_t off, unsigned osz)
{
    unsigned cpl = x86_cpl(cpu);
    Desc d;
    far_desc(cpu, sel, &d);
    if (!desc_s(&d)) x86_unimplemented(cpu, "far CALL through a gate in IA-32e mode");
    check_direct_code(cpu, sel, &d, cpl);
    uint64_t sp = cpu->gpr[X86_RSP];
    uint64_t m = x86_long64(cpu) ? ~0ull : stack32(cpu) ? 0xFFFFFFFFull : 0xFFFFull;
    uint64_t a1 = (sp - osz) & m, a2 = (sp - 2 * osz) & m;
    mem_write(cpu, X86_SS, a1, osz, cpu->cs.selector);
    mem_write(cpu, X86_SS, a2, osz, cpu->next_rip);
    load_cs(cpu, &d, sel, cpl, off);
    cpu->gpr[X86_RSP] = (cpu->gpr[X86_RSP] & ~m) | a2;
}
