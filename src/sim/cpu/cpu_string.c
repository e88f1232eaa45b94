/*
 * String instructions: MOVS CMPS STOS LODS SCAS with REP/REPE/REPNE, segment overrides
 * (source only; the destination is always ES) and the address size choosing SI/DI/CX or
 * ESI/EDI/ECX (SDM Vol. 2, MOVS etc. and "REP/REPE/REPZ/REPNE/REPNZ").
 *
 * A REP instruction runs many elements per call. Registers are updated after each
 * element, so a fault or an MMIO read exit in the middle leaves RIP at the instruction with
 * the elements done so far accounted for, and re-executing it continues. After an MMIO
 * write (one element per exit) or STRING_CHUNK elements it also stops and is restarted.
 */
#include "sim/cpu/cpu_internal.h"

#define STRING_CHUNK 65536u

static inline uint32_t idx_get(const X86Cpu *cpu, unsigned r, unsigned asz)
{
    return asz == 2 ? (uint16_t)cpu->gpr[r] : (uint32_t)cpu->gpr[r];
}

static inline void idx_set(X86Cpu *cpu, unsigned r, unsigned asz, uint32_t v)
{
    reg_write(cpu, r, asz, v);
}

static inline unsigned elem_size(const X86Insn *in) { return (in->op & 1) ? in->osz : 1; }

/* How far SI/DI move per element: down when DF is set (SDM Vol. 1, 3.4.3.2). */
static inline int32_t elem_step(const X86Cpu *cpu, unsigned size)
{
    return (cpu->flags & X86_FLAG_DF) ? -(int32_t)size : (int32_t)size;
}

/* Whether a REP loop goes on after an element: count left, and for CMPS/SCAS the
 * REPE/REPNE condition. Leaves RIP at the instruction when it must be resumed later. */
static inline bool rep_next(X86Cpu *cpu, const X86Insn *in, uint32_t *done, bool cmp)
{
    uint32_t c = idx_get(cpu, X86_RCX, in->asz) - 1;
    idx_set(cpu, X86_RCX, in->asz, c);
    /* each element is restarted on its own after an MMIO read exit */
    cpu->mmio_replay_n = cpu->mmio_replay_pos = 0;
    if (c == 0) return false;
    if (cmp) {
        bool zf = flags_get(cpu) & X86_FLAG_ZF;
        if ((in->prefix & PFX_REP) && !zf) return false;
        if ((in->prefix & PFX_REPNE) && zf) return false;
    }
    if (UNLIKELY(cpu->pending) || ++*done >= STRING_CHUNK) {
        cpu->next_rip = cpu->rip;       /* resume the REP at the next run/block */
        cpu->pending |= X86_PENDING_END;
        return false;
    }
    return true;
}

#define REP_PREFIXES (PFX_REP | PFX_REPNE)

void op_movs(X86Cpu *cpu, const X86Insn *in)
{
    unsigned size = elem_size(in), asz = in->asz;
    int32_t d = elem_step(cpu, size);
    bool rep = in->prefix & REP_PREFIXES;
    uint32_t done = 0;
    if (rep && idx_get(cpu, X86_RCX, asz) == 0) return;
    do {
        uint32_t si = idx_get(cpu, X86_RSI, asz), di = idx_get(cpu, X86_RDI, asz);
        uint32_t v = mem_read(cpu, in->seg, si, size);
        mem_write(cpu, X86_ES, di, size, v);
        idx_set(cpu, X86_RSI, asz, si + (uint32_t)d);
        idx_set(cpu, X86_RDI, asz, di + (uint32_t)d);
    } while (rep && rep_next(cpu, in, &done, false));
}

void op_stos(X86Cpu *cpu, const X86Insn *in)
{
    unsigned size = elem_size(in), asz = in->asz;
    int32_t d = elem_step(cpu, size);
    bool rep = in->prefix & REP_PREFIXES;
    uint32_t done = 0, v = reg_read(cpu, X86_RAX, size);
    if (rep && idx_get(cpu, X86_RCX, asz) == 0) return;
    do {
        uint32_t di = idx_get(cpu, X86_RDI, asz);
        mem_write(cpu, X86_ES, di, size, v);
        idx_set(cpu, X86_RDI, asz, di + (uint32_t)d);
    } while (rep && rep_next(cpu, in, &done, false));
}

void op_lods(X86Cpu *cpu, const X86Insn *in)
{
    unsigned size = elem_size(in), asz = in->asz;
    int32_t d = elem_step(cpu, size);
    bool rep = in->prefix & REP_PREFIXES;
    uint32_t done = 0;
    if (rep && idx_get(cpu, X86_RCX, asz) == 0) return;
    do {
        uint32_t si = idx_get(cpu, X86_RSI, asz);
        uint32_t v = mem_read(cpu, in->seg, si, size);
        reg_write(cpu, X86_RAX, size, v);
        idx_set(cpu, X86_RSI, asz, si + (uint32_t)d);
    } while (rep && rep_next(cpu, in, &done, false));
}

/* CMPS: compares [seg:SI] with ES:[DI] (source minus destination). */
void op_cmps(X86Cpu *cpu, const X86Insn *in)
{
    unsigned size = elem_size(in), asz = in->asz;
    int32_t d = elem_step(cpu, size);
    bool rep = in->prefix & REP_PREFIXES;
    uint32_t done = 0;
    if (rep && idx_get(cpu, X86_RCX, asz) == 0) return;
    do {
        uint32_t si = idx_get(cpu, X86_RSI, asz), di = idx_get(cpu, X86_RDI, asz);
        uint32_t a = mem_read(cpu, in->seg, si, size);
        uint32_t b = mem_read(cpu, X86_ES, di, size);
        x86_alu(cpu, 7, size, a, b);
        idx_set(cpu, X86_RSI, asz, si + (uint32_t)d);
        idx_set(cpu, X86_RDI, asz, di + (uint32_t)d);
    } while (rep && rep_next(cpu, in, &done, true));
}

/* SCAS: compares AL/AX/EAX with ES:[DI]. */
void op_scas(X86Cpu *cpu, const X86Insn *in)
{
    unsigned size = elem_size(in), asz = in->asz;
    int32_t d = elem_step(cpu, size);
    bool rep = in->prefix & REP_PREFIXES;
    uint32_t done = 0, acc = reg_read(cpu, X86_RAX, size);
    if (rep && idx_get(cpu, X86_RCX, asz) == 0) return;
    do {
        uint32_t di = idx_get(cpu, X86_RDI, asz);
        uint32_t b = mem_read(cpu, X86_ES, di, size);
        x86_alu(cpu, 7, size, acc, b);
        idx_set(cpu, X86_RDI, asz, di + (uint32_t)d);
    } while (rep && rep_next(cpu, in, &done, true));
}
