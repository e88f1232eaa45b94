/*
 * The gdb stub: GDB's remote serial protocol over TCP or a Unix socket, in a thread of its
 * own, controlling the vCPU thread (runner.c) as the monitor does.
 *
 * Protocol facts come from GDB's manual ("Remote Protocol": packets, stop replies, target
 * descriptions). Breakpoints and watchpoints go through the KVM API only
 * (vm_set_guest_debug, i.e. KVM_SET_GUEST_DEBUG), so they work the same on both backends:
 * - Z0: a free debug-register slot (below), else an INT3 written into guest memory with
 *   KVM_GUESTDBG_USE_SW_BP so that it exits instead of reaching the guest (QEMU's way);
 * - Z1-Z4: the four debug-register slots (KVM_GUESTDBG_USE_HW_BP, DR7 layout). x86 has no
 *   read-only data breakpoint (SDM Vol. 3A, 18.2.4): Z3 (rwatch) is an access watchpoint.
 * The sim backend checks these in its interpreter; KVM in hardware.
 *
 * Addresses are linear (GDB's $pc is EIP: in real mode with CS != 0 they differ, as under
 * QEMU). The register set is GDB's i386 one: the x87 registers it requires read as after
 * FNINIT and ignore writes (this VMM's KVM API has no FPU state); control registers, EFER
 * and the segment bases are in a "system" group.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "kvm/backend.h"
#include "vmm/paging.h"

#define GDB_PACKET_MAX 4096          /* PacketSize we announce (bytes of packet data) */
#define GDB_SIGINT 2
#define GDB_SIGTRAP 5
#define GDB_MAX_SW_BREAKPOINTS 64
#define GDB_HW_SLOTS 4               /* DR0-DR3 */
#define X86_INT3 0xCC
#define X86_CR0_PE_BIT 1ull
#define DR6_BS (1u << 14)
#define DR7_GE (1u << 9)             /* exact breakpoint enable, recommended (SDM 18.2.4) */

typedef enum { HW_NONE, HW_EXEC, HW_WRITE, HW_READ, HW_ACCESS } HwKind;

typedef struct {
    uint64_t addr;                   /* linear */
    uint64_t gpa;
    uint8_t saved;                   /* the byte the INT3 replaced */
} SwBreakpoint;

typedef struct {
    HwKind kind;
    uint64_t addr;
    unsigned len;
    bool for_z0;                     /* a software breakpoint kept in a debug register */
} HwSlot;

struct GdbStub {
    SimpleVM *svm;
    QemuMonitor *mon;                /* qRcmd: a monitor of its own */
    pthread_t thread;
    bool thread_started;
    int listen_fd;
    char unix_path[108];             /* unlinked at the end */
    int client_fd;
    int wake[2];                     /* the vCPU thread's observer and gdb_stub_stop */
    volatile int quit;               /* atomic: set by gdb_stub_stop, k, monitor quit */
    bool no_ack;
    bool running;                    /* a c/s is in progress: a stop reply is owed */
    SwBreakpoint sw[GDB_MAX_SW_BREAKPOINTS];
    int n_sw;
    HwSlot hw[GDB_HW_SLOTS];
    char in[GDB_PACKET_MAX + 8];
    size_t in_len;
    bool in_packet;
    char out[2 * GDB_PACKET_MAX + 64];
};

/* ---- the socket -------------------------------------------------------------------- */

static bool send_all(GdbStub *g, const char *s, size_t n)
{
    while (n) {
        ssize_t w = send(g->client_fd, s, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        s += w;
        n -= (size_t)w;
    }
    return true;
}

/* Sends $data#checksum (data escaped: # $ } and * are sent as } and the byte ^ 0x20). */
static void put_packet_len(GdbStub *g, const char *data, size_t len)
{
    if (g->client_fd < 0)
        return;
    char *buf = malloc(2 * len + 8);
    if (!buf)
        return;
    size_t n = 0;
    uint8_t sum = 0;
    buf[n++] = '$';
    for (size_t i = 0; i < len; i++) {
        char c = data[i];
        if (c == '#' || c == '$' || c == '}' || c == '*') {
            buf[n++] = '}';
            sum = (uint8_t)(sum + '}');
            c ^= 0x20;
        }
        buf[n++] = c;
        sum = (uint8_t)(sum + (uint8_t)c);
    }
    n += (size_t)snprintf(buf + n, 4, "#%02x", sum);
    send_all(g, buf, n);
    free(buf);
}

static void put_packet(GdbStub *g, const char *data) { put_packet_len(g, data, strlen(data)); }

static const char hexdigits[] = "0123456789abcdef";

static void to_hex(char *out, const uint8_t *bytes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexdigits[bytes[i] >> 4];
        out[2 * i + 1] = hexdigits[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* n bytes from 2n hex digits; -1 when malformed. */
static int from_hex(uint8_t *out, const char *hex, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int hi = hex_value(hex[2 * i]), lo = hi < 0 ? -1 : hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

/* A hex number up to a delimiter; *p moves past it. -1 when there is none. */
static int parse_hex(const char **p, uint64_t *v)
{
    const char *s = *p;
    uint64_t x = 0;
    int n = 0;
    while (hex_value(*s) >= 0 && n < 16) {
        x = x << 4 | (uint64_t)hex_value(*s++);
        n++;
    }
    if (n == 0 || hex_value(*s) >= 0)
        return -1;
    *v = x;
    *p = s;
    return 0;
}

/* ---- registers --------------------------------------------------------------------- */

/* GDB's i386 numbering (org.gnu.gdb.i386.core), then our system registers. */
enum {
    R_EAX, R_ECX, R_EDX, R_EBX, R_ESP, R_EBP, R_ESI, R_EDI, R_EIP, R_EFLAGS,
    R_CS, R_SS, R_DS, R_ES, R_FS, R_GS,
    R_ST0, R_FCTRL = R_ST0 + 8, R_FSTAT, R_FTAG, R_FISEG, R_FIOFF, R_FOSEG, R_FOOFF, R_FOP,
    R_CR0, R_CR2, R_CR3, R_CR4, R_EFER,
    R_CS_BASE, R_SS_BASE, R_DS_BASE, R_ES_BASE, R_FS_BASE, R_GS_BASE,
    R_COUNT
};

static unsigned reg_size(int n)
{
    if (n >= R_ST0 && n < R_ST0 + 8)
        return 10;
    return n == R_EFER ? 8 : 4;
}

static KvmSegment *seg_of(KvmSregs *s, int n)
{
    KvmSegment *segs[] = {&s->cs, &s->ss, &s->ds, &s->es, &s->fs, &s->gs};
    if (n >= R_CS && n <= R_GS)
        return segs[n - R_CS];
    return segs[n - R_CS_BASE];
}

/* Register n as GDB wants it (little endian, reg_size bytes). */
static void reg_get(const KvmRegs *r, KvmSregs *s, int n, uint8_t *out)
{
    uint64_t v = 0;
    const uint64_t gpr[8] = {r->rax, r->rcx, r->rdx, r->rbx, r->rsp, r->rbp, r->rsi, r->rdi};
    memset(out, 0, reg_size(n));
    if (n <= R_EDI)
        v = gpr[n];
    else if (n == R_EIP)
        v = r->rip;
    else if (n == R_EFLAGS)
        v = r->rflags;
    else if (n >= R_CS && n <= R_GS)
        v = seg_of(s, n)->selector;
    else if (n == R_FCTRL)
        v = 0x37F;               /* FNINIT's control word (SDM Vol. 1, 8.1.5) */
    else if (n == R_FTAG)
        v = 0xFFFF;              /* every register empty */
    else if (n == R_CR0)
        v = s->cr0;
    else if (n == R_CR2)
        v = s->cr2;
    else if (n == R_CR3)
        v = s->cr3;
    else if (n == R_CR4)
        v = s->cr4;
    else if (n == R_EFER)
        v = s->efer;
    else if (n >= R_CS_BASE && n <= R_GS_BASE)
        v = seg_of(s, n)->base;
    unsigned sz = reg_size(n) > 8 ? 8 : reg_size(n);
    for (unsigned i = 0; i < sz; i++)
        out[i] = (uint8_t)(v >> (8 * i));
}

/* Writes register n; false for the read-only ones (x87). A segment register written in
 * real mode gets base = selector << 4, as a MOV would load it; in protected mode only the
 * selector changes (the descriptor cache stays, as KVM_SET_SREGS takes it). */
static bool reg_set(KvmRegs *r, KvmSregs *s, int n, const uint8_t *in)
{
    uint64_t v = 0;
    unsigned sz = reg_size(n) > 8 ? 8 : reg_size(n);
    for (unsigned i = 0; i < sz; i++)
        v |= (uint64_t)in[i] << (8 * i);
    __u64 *gpr[8] = {&r->rax, &r->rcx, &r->rdx, &r->rbx, &r->rsp, &r->rbp, &r->rsi, &r->rdi};
    if (n <= R_EDI) {
        *gpr[n] = (*gpr[n] & ~0xFFFFFFFFull) | v;
    } else if (n == R_EIP) {
        r->rip = v;
    } else if (n == R_EFLAGS) {
        r->rflags = v | 2;
    } else if (n >= R_CS && n <= R_GS) {
        KvmSegment *sg = seg_of(s, n);
        sg->selector = (uint16_t)v;
        if (!(s->cr0 & X86_CR0_PE_BIT))
            sg->base = (uint64_t)(uint16_t)v << 4;
    } else if (n == R_CR0) {
        s->cr0 = v;
    } else if (n == R_CR2) {
        s->cr2 = v;
    } else if (n == R_CR3) {
        s->cr3 = v;
    } else if (n == R_CR4) {
        s->cr4 = v;
    } else if (n == R_EFER) {
        s->efer = v;
    } else if (n >= R_CS_BASE && n <= R_GS_BASE) {
        seg_of(s, n)->base = v;
    } else {
        return false;
    }
    return true;
}

/* vCPUs are GDB's threads, id = index + 1 (0 and -1 mean any); the one Hg or Hc chose
 * (svm->sel_vcpu, shared with the monitor's `cpu N`) is the one read, written and
 * stepped; a breakpoint selects the vCPU that hit it. */
static KvmVcpu *cur(GdbStub *g) { return g->svm->vcpus[g->svm->sel_vcpu]; }

static int read_state(GdbStub *g, KvmRegs *r, KvmSregs *s)
{
    int e = kvm_get_regs(cur(g), r);
    return e < 0 ? e : kvm_get_sregs(cur(g), s);
}

static int write_state(GdbStub *g, const KvmRegs *r, const KvmSregs *s)
{
    int e = kvm_set_sregs(cur(g), s);
    return e < 0 ? e : kvm_set_regs(cur(g), r);
}

/* A thread id of H, T (hex; -1 or 0: any): the vCPU index, -1 for any, -2 when it is no
 * vCPU of this VM. */
static int thread_index(GdbStub *g, const char *id)
{
    if (strcmp(id, "-1") == 0 || strcmp(id, "0") == 0)
        return -1;
    char *end;
    unsigned long n = strtoul(id, &end, 16);
    return *id && !*end && n >= 1 && n <= g->svm->num_vcpus ? (int)n - 1 : -2;
}

static void cmd_thread_list(GdbStub *g)
{
    char buf[8 + 3 * VM_MAX_VCPUS] = "m";
    size_t n = 1;
    for (unsigned i = 0; i < g->svm->num_vcpus; i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%02x", i ? "," : "", i + 1);
    put_packet(g, buf);
}

/* The target description (GDB manual, "Target Descriptions"): GDB's i386 core registers
 * and a system group; the architecture is i8086 in real mode (16-bit disassembly) and
 * i386 in protected mode, as CR0.PE says when GDB asks. */
static int target_xml(GdbStub *g, char *buf, size_t size)
{
    KvmRegs r;
    KvmSregs s;
    bool real = read_state(g, &r, &s) == 0 && !(s.cr0 & X86_CR0_PE_BIT);
    static const char *const core32[] = {"eax", "ecx", "edx", "ebx", "esp", "ebp", "esi",
                                         "edi"};
    static const char *const segs[] = {"cs", "ss", "ds", "es", "fs", "gs"};
    static const char *const fpu[] = {"fctrl", "fstat", "ftag", "fiseg", "fioff", "foseg",
                                      "fooff", "fop"};
    FILE *f = fmemopen(buf, size, "w");
    if (!f)
        return -errno;
    fprintf(f, "<?xml version=\"1.0\"?>\n<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n"
               "<target version=\"1.0\">\n<architecture>%s</architecture>\n<osabi>none</osabi>\n"
               "<feature name=\"org.gnu.gdb.i386.core\">\n", real ? "i8086" : "i386");
    fputs("<flags id=\"i386_eflags\" size=\"4\">\n", f);
    static const struct { const char *name; int bit; } fl[] = {
        {"CF", 0}, {"", 1}, {"PF", 2}, {"AF", 4}, {"ZF", 6}, {"SF", 7}, {"TF", 8},
        {"IF", 9}, {"DF", 10}, {"OF", 11}, {"NT", 14}, {"RF", 16}, {"VM", 17}, {"AC", 18},
        {"VIF", 19}, {"VIP", 20}, {"ID", 21}};
    for (size_t i = 0; i < sizeof(fl) / sizeof(fl[0]); i++)
        fprintf(f, "<field name=\"%s\" start=\"%d\" end=\"%d\"/>\n", fl[i].name, fl[i].bit,
                fl[i].bit);
    fputs("</flags>\n", f);
    for (int i = 0; i < 8; i++)
        fprintf(f, "<reg name=\"%s\" bitsize=\"32\" type=\"%s\" regnum=\"%d\"/>\n", core32[i],
                i == R_ESP || i == R_EBP ? "data_ptr" : "int32", i);
    fprintf(f, "<reg name=\"eip\" bitsize=\"32\" type=\"code_ptr\" regnum=\"%d\"/>\n", R_EIP);
    fprintf(f, "<reg name=\"eflags\" bitsize=\"32\" type=\"i386_eflags\" regnum=\"%d\"/>\n",
            R_EFLAGS);
    for (int i = 0; i < 6; i++)
        fprintf(f, "<reg name=\"%s\" bitsize=\"32\" type=\"int32\" regnum=\"%d\"/>\n", segs[i],
                R_CS + i);
    for (int i = 0; i < 8; i++)
        fprintf(f, "<reg name=\"st%d\" bitsize=\"80\" type=\"i387_ext\" regnum=\"%d\"/>\n", i,
                R_ST0 + i);
    for (int i = 0; i < 8; i++)
        fprintf(f, "<reg name=\"%s\" bitsize=\"32\" type=\"int\" group=\"float\" "
                   "regnum=\"%d\"/>\n", fpu[i], R_FCTRL + i);
    fputs("</feature>\n<feature name=\"org.scratchvm.gdb.i386.system\">\n", f);
    static const char *const sys[] = {"cr0", "cr2", "cr3", "cr4"};
    for (int i = 0; i < 4; i++)
        fprintf(f, "<reg name=\"%s\" bitsize=\"32\" type=\"int32\" group=\"system\" "
                   "regnum=\"%d\"/>\n", sys[i], R_CR0 + i);
    fprintf(f, "<reg name=\"efer\" bitsize=\"64\" type=\"int64\" group=\"system\" "
               "regnum=\"%d\"/>\n", R_EFER);
    for (int i = 0; i < 6; i++)
        fprintf(f, "<reg name=\"%s_base\" bitsize=\"32\" type=\"data_ptr\" group=\"system\" "
                   "regnum=\"%d\"/>\n", segs[i], R_CS_BASE + i);
    fputs("</feature>\n</target>\n", f);
    long len = ftell(f);
    bool full = ferror(f) || len < 0 || (size_t)len >= size - 1;
    fclose(f);
    return full ? -ENOSPC : (int)len;
}

/* ---- memory ------------------------------------------------------------------------ */

/* Guest-physical address of linear `lin` (through the guest's page tables). */
static void *guest_byte(GdbStub *g, const KvmSregs *s, uint64_t lin, uint64_t *gpa_out)
{
    uint64_t gpa;
    if (paging_translate(g->svm->vm, s, lin, &gpa) < 0)
        return NULL;
    if (gpa_out)
        *gpa_out = gpa;
    return kvm_guest_ptr(g->svm->vm, gpa, 1);
}

/* Copies guest memory (write: into the guest); the number of bytes done before the first
 * unbacked one. Byte by byte: a range may cross pages and slots. */
static size_t copy_guest(GdbStub *g, uint64_t lin, uint8_t *buf, size_t len, bool write)
{
    KvmRegs r;
    KvmSregs s;
    if (read_state(g, &r, &s) < 0)
        return 0;
    size_t i = 0;
    for (; i < len; i++) {
        uint8_t *p = guest_byte(g, &s, lin + i, NULL);
        if (!p)
            break;
        if (write)
            *p = buf[i];
        else
            buf[i] = *p;
    }
    return i;
}

/* ---- breakpoints ------------------------------------------------------------------- */

/* Hands the breakpoints to the vCPU (KVM_SET_GUEST_DEBUG). */
static int apply_debug(GdbStub *g)
{
    struct kvm_guest_debug dbg = {0};
    if (g->n_sw)
        dbg.control |= KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_SW_BP;
    uint64_t dr7 = 0;
    for (int i = 0; i < GDB_HW_SLOTS; i++) {
        const HwSlot *h = &g->hw[i];
        if (h->kind == HW_NONE)
            continue;
        unsigned rw = h->kind == HW_EXEC ? 0 : h->kind == HW_WRITE ? 1 : 3;
        unsigned len = h->len == 1 ? 0 : h->len == 2 ? 1 : h->len == 4 ? 3 : 2;
        if (h->kind == HW_EXEC)
            len = 0;
        dr7 |= (1ull << (2 * i)) | ((uint64_t)rw << (16 + 4 * i)) |
               ((uint64_t)len << (18 + 4 * i));
        dbg.arch.debugreg[i] = h->addr;
    }
    if (dr7) {
        dbg.control |= KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP;
        dbg.arch.debugreg[7] = dr7 | DR7_GE;
    }
    dbg.control |= g->svm->guest_debug.control & KVM_GUESTDBG_SIM_MAGIC_BREAK;
    if (dbg.control & KVM_GUESTDBG_SIM_MAGIC_BREAK)
        dbg.control |= KVM_GUESTDBG_ENABLE;
    return vm_set_guest_debug(g->svm, &dbg);
}

static int find_sw(GdbStub *g, uint64_t addr)
{
    for (int i = 0; i < g->n_sw; i++)
        if (g->sw[i].addr == addr)
            return i;
    return -1;
}

static int find_hw(GdbStub *g, HwKind kind, uint64_t addr, bool for_z0)
{
    for (int i = 0; i < GDB_HW_SLOTS; i++)
        if (g->hw[i].kind == kind && g->hw[i].addr == addr && g->hw[i].for_z0 == for_z0)
            return i;
    return -1;
}

static int free_hw(GdbStub *g)
{
    for (int i = 0; i < GDB_HW_SLOTS; i++)
        if (g->hw[i].kind == HW_NONE)
            return i;
    return -1;
}

/* A software breakpoint as an INT3 in guest memory (KVM_GUESTDBG_USE_SW_BP). */
static int write_int3(GdbStub *g, uint64_t addr)
{
    if (g->n_sw == GDB_MAX_SW_BREAKPOINTS)
        return -ENOSPC;
    KvmRegs r;
    KvmSregs s;
    uint64_t gpa;
    uint8_t *p;
    if (read_state(g, &r, &s) < 0 || !(p = guest_byte(g, &s, addr, &gpa)))
        return -EFAULT;
    g->sw[g->n_sw++] = (SwBreakpoint){addr, gpa, *p};
    *p = X86_INT3;
    return apply_debug(g);
}

/* Z0 takes a free debug register first: no guest byte changes (ROM, self-checking code
 * and a host KVM that emulates real mode, which delivers INT3 to the guest whatever
 * USE_SW_BP says, all work), and INT3 once the four are taken. */
static const char *insert_sw(GdbStub *g, uint64_t addr)
{
    if (find_sw(g, addr) >= 0 || find_hw(g, HW_EXEC, addr, true) >= 0)
        return "OK";
    int slot = free_hw(g);
    if (slot >= 0) {
        g->hw[slot] = (HwSlot){HW_EXEC, addr, 1, true};
        if (apply_debug(g) == 0)
            return "OK";
        g->hw[slot].kind = HW_NONE;
    }
    int e = write_int3(g, addr);
    return e == -ENOSPC ? "E28" : e == -EFAULT ? "E14" : e < 0 ? "E22" : "OK";
}

/* A Z1-Z4 finds the four debug registers taken: a Z0 kept in one moves to an INT3 to make
 * room. The slot's index, or -1 when none can move. */
static int make_room(GdbStub *g)
{
    for (int i = 0; i < GDB_HW_SLOTS; i++) {
        if (!g->hw[i].for_z0 || g->hw[i].kind != HW_EXEC)
            continue;
        g->hw[i].kind = HW_NONE;
        if (write_int3(g, g->hw[i].addr) == 0)
            return i;
        g->hw[i].kind = HW_EXEC;
    }
    return -1;
}

static void restore_sw(GdbStub *g, const SwBreakpoint *b)
{
    uint8_t *p = kvm_guest_ptr(g->svm->vm, b->gpa, 1);
    if (p && *p == X86_INT3)   /* unless the guest overwrote it */
        *p = b->saved;
}

static const char *remove_sw(GdbStub *g, uint64_t addr)
{
    int slot = find_hw(g, HW_EXEC, addr, true);
    if (slot >= 0) {
        g->hw[slot].kind = HW_NONE;
        return apply_debug(g) < 0 ? "E22" : "OK";
    }
    int i = find_sw(g, addr);
    if (i < 0)
        return "OK";
    restore_sw(g, &g->sw[i]);
    g->sw[i] = g->sw[--g->n_sw];
    return apply_debug(g) < 0 ? "E22" : "OK";
}

static const char *insert_hw(GdbStub *g, HwKind kind, uint64_t addr, uint64_t len)
{
    if (kind != HW_EXEC && ((len != 1 && len != 2 && len != 4 && len != 8) || (addr & (len - 1))))
        return "E22";   /* not one debug register: GDB falls back to single-stepping */
    if (find_hw(g, kind, addr, false) >= 0)
        return "OK";
    int i = free_hw(g);
    if (i < 0)
        i = make_room(g);
    if (i < 0)
        return "E28";   /* all four in use by Z1-Z4 */
    g->hw[i] = (HwSlot){kind, addr, kind == HW_EXEC ? 1 : (unsigned)len, false};
    if (apply_debug(g) < 0) {
        g->hw[i].kind = HW_NONE;
        return "E22";
    }
    return "OK";
}

static const char *remove_hw(GdbStub *g, HwKind kind, uint64_t addr)
{
    int i = find_hw(g, kind, addr, false);
    if (i < 0)
        return "OK";
    g->hw[i].kind = HW_NONE;
    return apply_debug(g) < 0 ? "E22" : "OK";
}

static void remove_all(GdbStub *g)
{
    for (int i = 0; i < g->n_sw; i++)
        restore_sw(g, &g->sw[i]);
    g->n_sw = 0;
    memset(g->hw, 0, sizeof(g->hw));
    if (vm_thread_state(g->svm) != VM_THREAD_ENDED)
        apply_debug(g);
}

/* ---- stop replies ------------------------------------------------------------------ */

/* The reply for how the VM stands now (GDB manual, "Stop Reply Packets"): W with the exit
 * status once it has ended, else T with the signal and why (swbreak, hwbreak, watch). */
static void stop_reply(GdbStub *g, int signal)
{
    SimpleVM *svm = g->svm;
    char buf[96];
    if (vm_thread_state(svm) == VM_THREAD_ENDED) {
        int status = svm->stop_reason == VM_STOP_DEBUG_EXIT
                         ? (int)((svm->debug_exit_value << 1) | 1) & 0xFF
                         : svm->stop_reason == VM_STOP_HLT || svm->stop_reason == VM_STOP_REQUESTED
                               ? 0 : 1;
        snprintf(buf, sizeof(buf), "W%02x", status);
        put_packet(g, buf);
        return;
    }
    const struct kvm_debug_exit_arch *d = &svm->debug_event;
    char why[48] = "";
    if (svm->stop_reason == VM_STOP_DEBUG && signal == GDB_SIGTRAP) {
        if (d->exception == 3 && find_sw(g, d->pc) >= 0) {
            snprintf(why, sizeof(why), "swbreak:;");
        } else if (d->exception == 1) {
            for (int i = 0; i < GDB_HW_SLOTS; i++) {
                if (!(d->dr6 & (1u << i)) || g->hw[i].kind == HW_NONE)
                    continue;
                static const char *const names[] = {"", "hwbreak", "watch", "rwatch", "awatch"};
                if (g->hw[i].kind == HW_EXEC)
                    snprintf(why, sizeof(why), g->hw[i].for_z0 ? "swbreak:;" : "hwbreak:;");
                else
                    snprintf(why, sizeof(why), "%s:%" PRIx64 ";", names[g->hw[i].kind],
                             g->hw[i].addr);
                break;
            }
        }
    }
    snprintf(buf, sizeof(buf), "T%02x%sthread:%02x;", signal, why, svm->sel_vcpu + 1);
    put_packet(g, buf);
}

/* c / s: resume the vCPU. A continue owes its stop reply to the observer (or ^C); a step
 * answers at once. */
static void resume(GdbStub *g, bool step)
{
    SimpleVM *svm = g->svm;
    if (vm_thread_state(svm) == VM_THREAD_ENDED) {
        stop_reply(g, GDB_SIGTRAP);
        return;
    }
    if (step) {
        VmStopReason why = VM_STOP_NONE;
        vm_thread_step(svm, 1, &why);
        stop_reply(g, GDB_SIGTRAP);
        return;
    }
    g->running = true;
    if (vm_thread_resume(svm) < 0) {
        g->running = false;
        stop_reply(g, GDB_SIGTRAP);
    }
}

/* ---- packets ----------------------------------------------------------------------- */

static void cmd_read_registers(GdbStub *g)
{
    KvmRegs r;
    KvmSregs s;
    if (read_state(g, &r, &s) < 0) {
        put_packet(g, "E01");
        return;
    }
    size_t n = 0;
    for (int i = 0; i < R_COUNT; i++) {
        uint8_t v[10];
        reg_get(&r, &s, i, v);
        to_hex(g->out + n, v, reg_size(i));
        n += 2 * reg_size(i);
    }
    put_packet(g, g->out);
}

static void cmd_write_registers(GdbStub *g, const char *hex)
{
    KvmRegs r;
    KvmSregs s;
    if (read_state(g, &r, &s) < 0) {
        put_packet(g, "E01");
        return;
    }
    size_t have = strlen(hex) / 2, off = 0;
    for (int i = 0; i < R_COUNT && off + reg_size(i) <= have; i++) {
        uint8_t v[10];
        if (from_hex(v, hex + 2 * off, reg_size(i)) < 0) {
            put_packet(g, "E01");
            return;
        }
        reg_set(&r, &s, i, v);
        off += reg_size(i);
    }
    put_packet(g, write_state(g, &r, &s) < 0 ? "E01" : "OK");
}

static void cmd_register(GdbStub *g, const char *args, bool write)
{
    uint64_t n;
    KvmRegs r;
    KvmSregs s;
    if (parse_hex(&args, &n) < 0 || n >= R_COUNT || (write && *args++ != '=') ||
        read_state(g, &r, &s) < 0) {
        put_packet(g, "E01");
        return;
    }
    uint8_t v[10];
    if (!write) {
        reg_get(&r, &s, (int)n, v);
        char hex[24];
        to_hex(hex, v, reg_size((int)n));
        put_packet(g, hex);
        return;
    }
    if (strlen(args) != 2 * reg_size((int)n) || from_hex(v, args, reg_size((int)n)) < 0) {
        put_packet(g, "E01");
        return;
    }
    if (!reg_set(&r, &s, (int)n, v)) {
        put_packet(g, "OK");   /* an x87 register: nothing to write */
        return;
    }
    put_packet(g, write_state(g, &r, &s) < 0 ? "E01" : "OK");
}

/* m addr,len / M addr,len:hex / X addr,len:binary. `body_len` for X's binary data. */
static void cmd_memory(GdbStub *g, char kind, const char *args, size_t args_len)
{
    uint64_t addr, len;
    const char *p = args;
    if (parse_hex(&p, &addr) < 0 || *p++ != ',' || parse_hex(&p, &len) < 0 ||
        len > GDB_PACKET_MAX / 2) {
        put_packet(g, "E01");
        return;
    }
    uint8_t buf[GDB_PACKET_MAX / 2];
    if (kind == 'm') {
        size_t n = copy_guest(g, addr, buf, len, false);
        if (n == 0 && len) {
            put_packet(g, "E14");
            return;
        }
        to_hex(g->out, buf, n);
        put_packet(g, g->out);
        return;
    }
    if (*p++ != ':') {
        put_packet(g, "E01");
        return;
    }
    size_t data_len = args_len - (size_t)(p - args);
    if (kind == 'M' ? (data_len != 2 * len || from_hex(buf, p, len) < 0) : data_len != len) {
        put_packet(g, "E01");
        return;
    }
    if (kind == 'X')
        memcpy(buf, p, len);
    put_packet(g, copy_guest(g, addr, buf, len, true) == len ? "OK" : "E14");
}

static void cmd_breakpoint(GdbStub *g, bool insert, const char *args)
{
    uint64_t type, addr, kind;
    const char *p = args;
    if (parse_hex(&p, &type) < 0 || *p++ != ',' || parse_hex(&p, &addr) < 0 || *p++ != ',' ||
        parse_hex(&p, &kind) < 0 || type > 4) {
        put_packet(g, "E01");
        return;
    }
    if (type == 0) {
        put_packet(g, insert ? insert_sw(g, addr) : remove_sw(g, addr));
        return;
    }
    static const HwKind kinds[] = {HW_NONE, HW_EXEC, HW_WRITE, HW_READ, HW_ACCESS};
    put_packet(g, insert ? insert_hw(g, kinds[type], addr, kind) : remove_hw(g, kinds[type], addr));
}

/* qRcmd: a monitor command; its text goes back as O packets (hex), then OK. */
static void cmd_monitor(GdbStub *g, const char *hex)
{
    size_t n = strlen(hex) / 2;
    char line[512];
    if (n >= sizeof(line) || from_hex((uint8_t *)line, hex, n) < 0) {
        put_packet(g, "E01");
        return;
    }
    line[n] = '\0';
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem) {
        put_packet(g, "E01");
        return;
    }
    qemu_monitor_execute(g->mon, line, mem);
    fclose(mem);
    for (size_t off = 0; off < len; off += GDB_PACKET_MAX / 2 - 8) {
        size_t chunk = len - off < GDB_PACKET_MAX / 2 - 8 ? len - off : GDB_PACKET_MAX / 2 - 8;
        g->out[0] = 'O';
        to_hex(g->out + 1, (const uint8_t *)text + off, chunk);
        put_packet(g, g->out);
    }
    free(text);
    put_packet(g, "OK");
    if (g->mon->quit_requested)
        __atomic_store_n(&g->quit, 1, __ATOMIC_SEQ_CST);
}

static void cmd_xfer(GdbStub *g, const char *args)
{
    const char prefix[] = "features:read:target.xml:";
    uint64_t off, len;
    const char *p = args + sizeof(prefix) - 1;
    if (strncmp(args, prefix, sizeof(prefix) - 1) != 0) {
        put_packet(g, "");
        return;
    }
    if (parse_hex(&p, &off) < 0 || *p++ != ',' || parse_hex(&p, &len) < 0) {
        put_packet(g, "E01");
        return;
    }
    char *xml = malloc(16384);
    int n = xml ? target_xml(g, xml, 16384) : -ENOMEM;
    if (n < 0) {
        free(xml);
        put_packet(g, "E01");
        return;
    }
    if (len > GDB_PACKET_MAX - 1)
        len = GDB_PACKET_MAX - 1;
    if (off >= (uint64_t)n) {
        put_packet(g, "l");
    } else {
        size_t chunk = (size_t)n - off < len ? (size_t)n - off : len;
        g->out[0] = off + chunk >= (uint64_t)n ? 'l' : 'm';
        memcpy(g->out + 1, xml + off, chunk);
        put_packet_len(g, g->out, chunk + 1);
    }
    free(xml);
}

static void cmd_vcont(GdbStub *g, const char *args)
{
    if (strcmp(args, "?") == 0) {
        put_packet(g, "vCont;c;C;s;S");
        return;
    }
    if (*args != ';') {
        put_packet(g, "");
        return;
    }
    /* The first action is the one that counts: a step steps the selected vCPU (vCont;s:N
     * selects N), a continue runs them all. */
    char action = args[1];
    const char *colon = strchr(args, ':');
    if (colon && (action == 's' || action == 'S')) {
        char id[16];
        size_t n = strcspn(colon + 1, ";");
        snprintf(id, sizeof(id), "%.*s", (int)(n < sizeof(id) - 1 ? n : sizeof(id) - 1), colon + 1);
        int i = thread_index(g, id);
        if (i >= 0)
            g->svm->sel_vcpu = (unsigned)i;
    }
    if (action == 'c' || action == 'C')
        resume(g, false);
    else if (action == 's' || action == 'S')
        resume(g, true);
    else
        put_packet(g, "E01");
}

static void detach(GdbStub *g)
{
    remove_all(g);
    if (vm_thread_state(g->svm) == VM_THREAD_PAUSED)
        vm_thread_resume(g->svm);
    close(g->client_fd);
    g->client_fd = -1;
    g->running = false;
}

/* One packet's data (NUL-terminated, len bytes: X's may hold NULs). */
static void handle_packet(GdbStub *g, char *pkt, size_t len)
{
    char c = pkt[0];
    char *args = pkt + 1;
    switch (c) {
    case '?':
        stop_reply(g, GDB_SIGTRAP);
        return;
    case 'g':
        cmd_read_registers(g);
        return;
    case 'G':
        cmd_write_registers(g, args);
        return;
    case 'p':
    case 'P':
        cmd_register(g, args, c == 'P');
        return;
    case 'm':
    case 'M':
    case 'X':
        cmd_memory(g, c, args, len - 1);
        return;
    case 'c':
    case 'C':
    case 's':
    case 'S':
        if (*args && c >= 'a') {   /* c addr / s addr: resume at addr */
            uint64_t addr;
            const char *p = args;
            KvmRegs r;
            if (parse_hex(&p, &addr) == 0 && kvm_get_regs(cur(g), &r) == 0) {
                r.rip = addr;
                kvm_set_regs(cur(g), &r);
            }
        }
        resume(g, c == 's' || c == 'S');
        return;
    case 'Z':
    case 'z':
        cmd_breakpoint(g, c == 'Z', args);
        return;
    case 'H': {   /* Hg / Hc: the vCPU for registers and memory, and for steps */
        int i = *args ? thread_index(g, args + 1) : -2;
        if (i >= 0)
            g->svm->sel_vcpu = (unsigned)i;
        put_packet(g, i == -2 ? "E01" : "OK");
        return;
    }
    case 'T':     /* is the thread alive: every vCPU is */
        put_packet(g, thread_index(g, args) >= 0 ? "OK" : "E01");
        return;
    case 'D':
        put_packet(g, "OK");
        detach(g);
        return;
    case 'k':
        remove_all(g);
        vm_thread_end(g->svm);
        close(g->client_fd);
        g->client_fd = -1;
        __atomic_store_n(&g->quit, 1, __ATOMIC_SEQ_CST);
        return;
    case 'v':
        if (strncmp(pkt, "vCont", 5) == 0)
            cmd_vcont(g, pkt + 5);
        else
            put_packet(g, "");
        return;
    case 'q':
    case 'Q':
        break;
    default:
        put_packet(g, "");
        return;
    }
    if (strncmp(pkt, "qSupported", 10) == 0) {
        char buf[160];
        snprintf(buf, sizeof(buf), "PacketSize=%x;qXfer:features:read+;swbreak+;hwbreak+;"
                 "QStartNoAckMode+;vContSupported+", GDB_PACKET_MAX);
        put_packet(g, buf);
    } else if (strcmp(pkt, "QStartNoAckMode") == 0) {
        put_packet(g, "OK");
        g->no_ack = true;
    } else if (strncmp(pkt, "qXfer:", 6) == 0) {
        cmd_xfer(g, pkt + 6);
    } else if (strncmp(pkt, "qRcmd,", 6) == 0) {
        cmd_monitor(g, pkt + 6);
    } else if (strcmp(pkt, "qAttached") == 0) {
        put_packet(g, "1");
    } else if (strcmp(pkt, "qC") == 0) {
        char buf[8];
        snprintf(buf, sizeof(buf), "QC%02x", g->svm->sel_vcpu + 1);
        put_packet(g, buf);
    } else if (strcmp(pkt, "qfThreadInfo") == 0) {
        cmd_thread_list(g);
    } else if (strcmp(pkt, "qsThreadInfo") == 0) {
        put_packet(g, "l");
    } else if (strncmp(pkt, "qSymbol", 7) == 0) {
        put_packet(g, "OK");
    } else {
        put_packet(g, "");
    }
}

/* Bytes from GDB: packets ($...#xx, acknowledged unless in no-ack mode) and ^C. */
static void feed(GdbStub *g, const char *data, size_t n)
{
    for (size_t i = 0; i < n && g->client_fd >= 0; i++) {
        char c = data[i];
        if (!g->in_packet) {
            if (c == '$') {
                g->in_packet = true;
                g->in_len = 0;
            } else if (c == 0x03 && g->running) {
                /* ^C: stop, and report why (a breakpoint may have come first). */
                vm_thread_pause(g->svm);
                g->running = false;
                stop_reply(g, g->svm->stop_reason == VM_STOP_DEBUG ? GDB_SIGTRAP : GDB_SIGINT);
            }
            continue;   /* acks, and anything else between packets */
        }
        if (g->in_len < sizeof(g->in) - 1)
            g->in[g->in_len++] = c;
        else
            g->in_packet = false;   /* too long: dropped, GDB retransmits or gives up */
        /* The end: '#' and two checksum digits. */
        if (g->in_len >= 3 && g->in[g->in_len - 3] == '#') {
            g->in_packet = false;
            size_t len = g->in_len - 3;
            uint8_t sum = 0;
            for (size_t k = 0; k < len; k++)
                sum = (uint8_t)(sum + (uint8_t)g->in[k]);
            int hi = hex_value(g->in[len + 1]), lo = hex_value(g->in[len + 2]);
            bool ok = hi >= 0 && lo >= 0 && (uint8_t)(hi << 4 | lo) == sum;
            if (!g->no_ack && !send_all(g, ok ? "+" : "-", 1))
                return;
            if (!ok)
                continue;
            /* Unescape (} x -> x ^ 0x20) in place. */
            size_t w = 0;
            for (size_t k = 0; k < len; k++)
                g->in[w++] = g->in[k] == '}' && k + 1 < len ? (char)(g->in[++k] ^ 0x20) : g->in[k];
            g->in[w] = '\0';
            if (w)
                handle_packet(g, g->in, w);
        }
    }
}

/* ---- the thread -------------------------------------------------------------------- */

static void observer(SimpleVM *svm, void *opaque)
{
    (void)svm;
    GdbStub *g = opaque;
    char b = 'v';
    if (write(g->wake[1], &b, 1) < 0) {
        /* the pipe is full: a wake-up is pending anyway */
    }
}

/* A new connection: the VM stops for GDB, as under QEMU. */
static void attach(GdbStub *g, int fd)
{
    g->client_fd = fd;
    g->no_ack = false;
    g->in_packet = false;
    g->running = false;
    if (vm_thread_state(g->svm) == VM_THREAD_RUNNING)
        vm_thread_pause(g->svm);
}

static void *stub_main(void *arg)
{
    GdbStub *g = arg;
    char buf[4096];
    while (!__atomic_load_n(&g->quit, __ATOMIC_SEQ_CST)) {
        struct pollfd fds[2] = {
            {g->wake[0], POLLIN, 0},
            {g->client_fd >= 0 ? g->client_fd : g->listen_fd, POLLIN, 0},
        };
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (fds[0].revents & POLLIN) {
            while (read(g->wake[0], buf, sizeof(buf)) > 0) {
            }
            /* The VM paused at a breakpoint or ended while GDB waited for it. */
            if (g->running && g->client_fd >= 0 && vm_thread_state(g->svm) != VM_THREAD_RUNNING) {
                g->running = false;
                stop_reply(g, GDB_SIGTRAP);
            }
        }
        if (__atomic_load_n(&g->quit, __ATOMIC_SEQ_CST))
            break;
        if (!(fds[1].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        if (g->client_fd < 0) {
            int fd = accept4(g->listen_fd, NULL, NULL, SOCK_CLOEXEC);
            if (fd >= 0)
                attach(g, fd);
            continue;
        }
        ssize_t n = read(g->client_fd, buf, sizeof(buf));
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0) {   /* GDB went away: as a detach */
            detach(g);
            continue;
        }
        feed(g, buf, (size_t)n);
    }
    /* Told to quit right after the VM ended: GDB still learns how it ended. */
    if (g->running && g->client_fd >= 0 && vm_thread_state(g->svm) != VM_THREAD_RUNNING)
        stop_reply(g, GDB_SIGTRAP);
    return NULL;
}

/* ---- the listening socket ---------------------------------------------------------- */

/* "tcp:[HOST]:PORT" (HOST empty: every address, as QEMU's -gdb tcp::1234) or "unix:PATH". */
static int listen_on(GdbStub *g, const char *spec)
{
    if (strncmp(spec, "unix:", 5) == 0) {
        const char *path = spec + 5;
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        if (!*path || strlen(path) >= sizeof(addr.sun_path))
            return hv_fail(EINVAL, "-gdb %s: a socket path of 1 to %zu bytes is needed", spec,
                           sizeof(addr.sun_path) - 1);
        strcpy(addr.sun_path, path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return hv_fail(errno, "-gdb: socket: %s", strerror(errno));
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
            unlink(path);
        if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 1) < 0) {
            int e = errno;
            close(fd);
            return hv_fail(e, "-gdb %s: %s", spec, strerror(e));
        }
        snprintf(g->unix_path, sizeof(g->unix_path), "%s", path);
        return fd;
    }
    if (strncmp(spec, "tcp:", 4) != 0)
        return hv_fail(EINVAL, "-gdb %s: expected tcp:[HOST]:PORT or unix:PATH", spec);
    const char *hostport = spec + 4;
    const char *colon = strrchr(hostport, ':');
    if (!colon || !colon[1])
        return hv_fail(EINVAL, "-gdb %s: expected tcp:[HOST]:PORT", spec);
    char host[256];
    size_t hlen = (size_t)(colon - hostport);
    if (hlen >= sizeof(host))
        return hv_fail(EINVAL, "-gdb %s: host name too long", spec);
    memcpy(host, hostport, hlen);
    host[hlen] = '\0';
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res;
    int e = getaddrinfo(hlen ? host : NULL, colon + 1, &hints, &res);
    if (e)
        return hv_fail(EINVAL, "-gdb %s: %s", spec, gai_strerror(e));
    int fd = -1, err = 0;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 1) == 0)
            break;
        err = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return hv_fail(err, "-gdb %s: %s", spec, strerror(err));
    return fd;
}

GdbStub *gdb_stub_start(SimpleVM *svm, const char *spec)
{
    if (!svm || !spec || !svm->runner) {
        hv_fail(EINVAL, "gdb_stub_start: a VM with a vCPU thread is needed");
        return NULL;
    }
    GdbStub *g = calloc(1, sizeof(*g));
    if (!g) {
        hv_fail(ENOMEM, "out of memory");
        return NULL;
    }
    g->svm = svm;
    g->client_fd = -1;
    g->wake[0] = g->wake[1] = -1;
    if ((g->listen_fd = listen_on(g, spec)) < 0)
        goto fail;
    if (pipe2(g->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
        hv_fail(errno, "pipe: %s", strerror(errno));
        goto fail;
    }
    if (!(g->mon = qemu_monitor_create(svm)))
        goto fail;
    vm_thread_set_observer(svm, observer, g);
    int e = pthread_create(&g->thread, NULL, stub_main, g);
    if (e) {
        vm_thread_set_observer(svm, NULL, NULL);
        hv_fail(e, "cannot start the gdb stub thread: %s", strerror(e));
        goto fail;
    }
    g->thread_started = true;
    return g;
fail:
    gdb_stub_stop(g);
    return NULL;
}


void gdb_stub_stop(GdbStub *g)
{
    if (!g)
        return;
    if (g->thread_started) {
        /* The thread handles its wake-up before it looks at quit: a stop reply GDB still
         * waits for (the VM ended) goes out first. */
        vm_thread_set_observer(g->svm, NULL, NULL);
        __atomic_store_n(&g->quit, 1, __ATOMIC_SEQ_CST);
        char b = 'q';
        if (write(g->wake[1], &b, 1) < 0) {
            /* full: the thread wakes anyway */
        }
        pthread_join(g->thread, NULL);
    }
    if (g->client_fd >= 0)
        close(g->client_fd);
    if (g->listen_fd >= 0)
        close(g->listen_fd);
    if (g->unix_path[0])
        unlink(g->unix_path);
    for (int i = 0; i < 2; i++)
        if (g->wake[i] >= 0)
            close(g->wake[i]);
    qemu_monitor_destroy(g->mon);
    free(g);
}
