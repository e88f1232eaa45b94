/*
 * Port I/O: IN, OUT, INS, OUTS leave the interpreter as X86_EXIT_IO with Linux KVM's
 * semantics (Documentation/virt/kvm/api.rst, KVM_EXIT_IO): RIP stays at the instruction;
 * OUT data is in cpu->exit.io.data; x86_cpu_complete_io() on the next entry stores IN data
 * (register or memory), updates SI/DI/CX and advances RIP (a REP form with elements left
 * stays at the instruction and continues on the next run).
 *
 * REP INS/OUTS move several elements per exit: up to the end (or start, DF=1) of the page,
 * the buffer size and the count, and never past the segment limit; the first element's
 * limit fault is raised instead of exiting. An element in memory that is not RAM moves
 * alone: OUTS reads it as MMIO first, INS stores it as MMIO writes after the I/O exit.
 * Real mode has no I/O permission checks.
 */
#include "sim/cpu/cpu_internal.h"

static void io_begin(X86Cpu *cpu, const X86Insn *in, uint16_t port, unsigned size, bool is_in)
{
    x86_io_permission(cpu, port, size);
    cpu->exit.io.port = port;
    cpu->exit.io.size = (uint8_t)size;
    cpu->exit.io.in = is_in;
    cpu->exit.io.string = false;
    cpu->exit.io.rep = false;
    cpu->exit.io.imm = !(in->op & 8);
    cpu->exit.io.count = 1;
    cpu->exit.io.addr_size = in->asz;
    cpu->exit.io.seg = X86_DS;
    cpu->exit.io.guest_linear = 0;
    cpu->exit.insn_len = in->len;
    cpu->io_insn_len = in->len;
    cpu->io_pending = true;
}

static uint16_t io_port(const X86Cpu *cpu, const X86Insn *in)
{
    return (in->op & 8) ? (uint16_t)cpu->gpr[X86_RDX] : (uint16_t)(in->imm & 0xFF);
}

/* The operand size of IN/OUT/INS/OUTS: 1, 2 or 4 (REX.W does not make it 8: SDM Vol. 2A,
 * IN "64-bit mode"). */
static inline unsigned io_size(const X86Insn *in)
{
    return (in->op & 1) ? (in->osz == 2 ? 2 : 4) : 1;
}

/* E4 E5 EC ED: IN AL/AX/EAX, imm8/DX */
void op_in(X86Cpu *cpu, const X86Insn *in)
{
    unsigned size = io_size(in);
    io_begin(cpu, in, io_port(cpu, in), size, true);
    memset(cpu->exit.io.data, 0, 4);
    x86_exit(cpu, X86_EXIT_IO);
}

/* E6 E7 EE EF: OUT imm8/DX, AL/AX/EAX */
void op_out(X86Cpu *cpu, const X86Insn *in)
{
    unsigned size = io_size(in);
    io_begin(cpu, in, io_port(cpu, in), size, false);
    st_le(cpu->exit.io.data, size, reg_read(cpu, X86_RAX, size));
    x86_exit(cpu, X86_EXIT_IO);
}

/* How many elements of a string I/O starting at offset `off` of segment `seg` this exit
 * moves (at least 1: the first element was checked by the caller). */
static uint32_t io_chunk(X86Cpu *cpu, const X86Insn *in, int seg, uint64_t off, unsigned size,
                         uint64_t lin0)
{
    if (!(in->prefix & (PFX_REP | PFX_REPNE))) return 1;
    uint64_t cx = cpu->gpr[X86_RCX] & size_mask(in->asz);
    uint32_t max = X86_IO_BUFFER_SIZE / size;
    if (cx < max) max = (uint32_t)cx;
    bool down = cpu->flags & X86_FLAG_DF;
    const X86Segment *s = &cpu->seg[seg];
    uint32_t n = 1;
    while (n < max) {
        int64_t o = down ? (int64_t)off - (int64_t)n * size : (int64_t)off + (int64_t)n * size;
        if (o < 0 || (uint64_t)o + size - 1 > s->limit) break;
        if (in->asz == 2 && (uint64_t)o + size - 1 > 0xFFFF) break;
        uint64_t lin = down ? lin0 - (uint64_t)n * size : lin0 + (uint64_t)n * size;
        if ((lin >> 12) != (lin0 >> 12) || ((lin + size - 1) >> 12) != (lin0 >> 12)) break;
        n++;
    }
    return n;
}

static void string_io(X86Cpu *cpu, const X86Insn *in, bool is_in)
{
    unsigned size = io_size(in);
    bool rep = in->prefix & (PFX_REP | PFX_REPNE);
    if (rep) {
        if ((cpu->gpr[X86_RCX] & size_mask(in->asz)) == 0) return;
    }
    int seg = is_in ? X86_ES : in->seg;
    unsigned ir = is_in ? X86_RDI : X86_RSI;
    uint64_t off = cpu->gpr[ir] & size_mask(in->asz);
    uint64_t lin = x86_linear(cpu, seg, off, size, is_in ? X86_ACCESS_WRITE : X86_ACCESS_READ);
    bool all_ram = true;
    for (unsigned i = 0; i < size; i++)      /* the element may straddle two pages */
        all_ram &= x86_ram_ptr(cpu, x86_lin_wrap(cpu, lin + i), 1,
                               is_in ? X86_ACCESS_WRITE : X86_ACCESS_READ) != NULL;
    /* Memory that is not RAM takes one element per exit, as KVM's emulator does: an OUTS
     * reads it first (an MMIO read exit, replayed when the instruction runs again), an INS
     * writes it when the I/O completes (queued MMIO writes, reported by the next runs). */
    uint32_t n = all_ram ? io_chunk(cpu, in, seg, off, size, lin) : 1;
    uint32_t mmio_value = 0;
    if (!all_ram && !is_in) mmio_value = lin_read(cpu, lin, size);
    io_begin(cpu, in, (uint16_t)cpu->gpr[X86_RDX], size, is_in);
    cpu->exit.io.string = true;
    cpu->exit.io.rep = rep;
    cpu->exit.io.imm = false;
    cpu->exit.io.seg = (uint8_t)seg;
    cpu->exit.io.count = n;
    cpu->exit.io.guest_linear = lin;
    if (!is_in && !all_ram) {
        st_le(cpu->exit.io.data, size, mmio_value);
    } else if (!is_in) {
        bool down = cpu->flags & X86_FLAG_DF;
        for (uint32_t k = 0; k < n; k++) {
            uint64_t l = down ? lin - (uint64_t)k * size : lin + (uint64_t)k * size;
            for (unsigned i = 0; i < size; i++)   /* (k * size + i < n * size <= the buffer) */
                cpu->exit.io.data[k * size + i] =
                    *x86_ram_ptr_known(cpu, l + i, 1, X86_ACCESS_READ);
        }
    }
    x86_exit(cpu, X86_EXIT_IO);
}

void op_ins(X86Cpu *cpu, const X86Insn *in) { string_io(cpu, in, true); }
void op_outs(X86Cpu *cpu, const X86Insn *in) { string_io(cpu, in, false); }

/* A byte an INS stores to MMIO: joined to the queued write before it when it is the next
 * byte of the same page, else a write of its own. x86_cpu_run reports the queue, one
 * MMIO exit each, before the guest goes on (an element makes at most two: one a page). */
static void queue_mmio_byte(X86Cpu *cpu, uint64_t gpa, uint64_t lin, uint8_t byte)
{
    int n = cpu->mmio_wq_n;
    if (n > 0) {
        __typeof__(cpu->mmio_wq[0]) *w = &cpu->mmio_wq[n - 1];
        if (w->gpa + w->size == gpa && (gpa & 0xFFF) != 0 && w->size < 8) {
            w->data |= (uint64_t)byte << (8 * w->size);
            w->size++;
            return;
        }
    }
    /* An element that was not RAM at the exit queues at most two writes (one a page);
     * more come only when the host took RAM away since the exit, as a whole REP chunk
     * then turns into MMIO. This runs outside x86_cpu_run, where x86_unimplemented
     * cannot leave: the error waits for the next run and the byte is dropped. */
    if (n == (int)(sizeof cpu->mmio_wq / sizeof cpu->mmio_wq[0])) {
        x86_defer_unimplemented(cpu, "internal error: the MMIO write queue is full (the "
                                     "memory of an INS changed before it completed)");
        return;
    }
    cpu->mmio_wq[n].gpa = gpa;
    cpu->mmio_wq[n].linear = lin;
    cpu->mmio_wq[n].data = byte;
    cpu->mmio_wq[n].size = 1;
    cpu->mmio_wq_n = n + 1;
    cpu->mmio_wq_head = 0;
}

void x86_cpu_complete_io(X86Cpu *cpu)
{
    if (!cpu->io_pending) return;
    cpu->io_pending = false;
    X86ExitInfo *e = &cpu->exit;
    unsigned size = e->io.size;
    X86Mode mode = x86_mode_of(cpu);
    uint64_t ipmask = mode == X86_MODE_LONG64 ? ~0ull : x86_mode_code32(mode) ? 0xFFFFFFFFull : 0xFFFFull;
    if (!e->io.string) {
        if (e->io.in) reg_write(cpu, X86_RAX, size, ld_le(e->io.data, size));
        cpu->rip = (cpu->rip + cpu->io_insn_len) & ipmask;
        cpu->interrupt_shadow = 0;
        cpu->instructions_retired++;
        x86_single_step_after_exit(cpu);
        return;
    }
    unsigned asz = e->io.addr_size;
    bool down = cpu->flags & X86_FLAG_DF;
    unsigned ir = e->io.in ? X86_RDI : X86_RSI;
    uint32_t n = e->io.count;
    if (e->io.in) {
        for (uint32_t k = 0; k < n; k++) {
            uint64_t l = down ? e->io.guest_linear - (uint64_t)k * size
                              : e->io.guest_linear + (uint64_t)k * size;
            for (unsigned i = 0; i < size; i++) {
                /* outside the run loop: no fault may be raised here (the exit checked
                 * these pages; a mapping the host changed since just drops the byte) */
                uint64_t gpa;
                uint32_t pf;
                uint8_t *p = x86_probe_page(cpu, x86_lin_wrap(cpu, l + i), X86_ACCESS_WRITE, &gpa, &pf);
                if (p) {
                    if (x86_page_has_code(cpu, gpa & ~0xFFFull)) x86_invalidate_range(cpu, gpa, 1);
                    *p = e->io.data[k * size + i];
                } else if (!pf) {
                    queue_mmio_byte(cpu, gpa, x86_lin_wrap(cpu, l + i), e->io.data[k * size + i]);
                }
            }
        }
    }
    /* an OUTS from MMIO read its element: the next element is a new read, not a replay */
    cpu->mmio_replay_n = cpu->mmio_replay_pos = 0;
    uint64_t idx = cpu->gpr[ir] & size_mask(asz);
    idx = down ? idx - (uint64_t)n * size : idx + (uint64_t)n * size;
    reg_write(cpu, ir, asz, idx);
    bool more = false;
    if (e->io.rep) {
        uint64_t cx = (cpu->gpr[X86_RCX] - n) & size_mask(asz);
        reg_write(cpu, X86_RCX, asz, cx);
        more = cx != 0;
    }
    if (!more) {
        cpu->rip = (cpu->rip + cpu->io_insn_len) & ipmask;
        cpu->interrupt_shadow = 0;
        cpu->instructions_retired++;
        x86_single_step_after_exit(cpu);
    }
}
