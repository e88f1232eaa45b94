/*
 * The x86 interpreter: the vCPU of the sim kernel.
 *
 * An x86 CPU in real, protected, virtual-8086 and IA-32e mode (segmentation, privilege,
 * gates, tasks; integer instructions to x86-64, x87, SSE2), written as a full x86 CPU: segment
 * registers keep their whole descriptor cache, operand/address size come from CS.D, the
 * mode and the 0x66/0x67 prefixes, every memory access goes segment -> linear -> physical
 * through one function (mmu.c) and every exception is raised through one function that
 * knows the mode (cpu.c).
 *
 * The sim kernel owns guest memory; the CPU asks for host pages through X86PageFn and
 * caches them in a software TLB. Sensitive instructions (HLT, I/O, CPUID, RDMSR/WRMSR) and
 * accesses to memory that is not RAM leave x86_cpu_run() with an X86Exit and the details
 * in cpu->exit, following Linux KVM's semantics as a VMM sees them.
 *
 * Threads: everything except x86_cpu_request_stop() must be called from the thread that
 * owns the CPU, and never while x86_cpu_run() is running.
 */
#ifndef SCRATCHVM_SIM_CPU_H
#define SCRATCHVM_SIM_CPU_H

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Access kinds for X86PageFn. */
#define X86_ACCESS_READ  1u
#define X86_ACCESS_WRITE 2u
#define X86_ACCESS_EXEC  4u

/* Returns the host address of the 4 KiB guest-physical page `gpa_page` when RAM allows
 * `access` there, or NULL when the access must leave the guest (MMIO, read-only memory). */
typedef uint8_t *(*X86PageFn)(void *opaque, uint64_t gpa_page, unsigned access);

/* General-purpose registers in x86 encoding order. */
enum {
    X86_RAX, X86_RCX, X86_RDX, X86_RBX, X86_RSP, X86_RBP, X86_RSI, X86_RDI,
    X86_R8, X86_R9, X86_R10, X86_R11, X86_R12, X86_R13, X86_R14, X86_R15,
};

/* Segment registers in x86 encoding order (sreg field of ModR/M), then LDTR and TR. */
enum { X86_ES, X86_CS, X86_SS, X86_DS, X86_FS, X86_GS, X86_LDTR, X86_TR };

/* RFLAGS bits (SDM Vol. 1, 3.4.3). */
#define X86_FLAG_CF   (1u << 0)
#define X86_FLAG_FIXED (1u << 1)   /* reserved, always 1 */
#define X86_FLAG_PF   (1u << 2)
#define X86_FLAG_AF   (1u << 4)
#define X86_FLAG_ZF   (1u << 6)
#define X86_FLAG_SF   (1u << 7)
#define X86_FLAG_TF   (1u << 8)
#define X86_FLAG_IF   (1u << 9)
#define X86_FLAG_DF   (1u << 10)
#define X86_FLAG_OF   (1u << 11)
#define X86_FLAG_IOPL (3u << 12)
#define X86_FLAG_NT   (1u << 14)
#define X86_FLAG_RF   (1u << 16)
#define X86_FLAG_VM   (1u << 17)
#define X86_FLAG_AC   (1u << 18)
#define X86_FLAG_VIF  (1u << 19)
#define X86_FLAG_VIP  (1u << 20)
#define X86_FLAG_ID   (1u << 21)
#define X86_FLAGS_ARITH (X86_FLAG_CF | X86_FLAG_PF | X86_FLAG_AF | X86_FLAG_ZF | \
                         X86_FLAG_SF | X86_FLAG_OF)

/* CR0 bits (SDM Vol. 3A, 2.5). */
#define X86_CR0_PE (1u << 0)
#define X86_CR0_MP (1u << 1)
#define X86_CR0_EM (1u << 2)
#define X86_CR0_TS (1u << 3)
#define X86_CR0_ET (1u << 4)
#define X86_CR0_NE (1u << 5)
#define X86_CR0_WP (1u << 16)
#define X86_CR0_AM (1u << 18)
#define X86_CR0_NW (1u << 29)
#define X86_CR0_CD (1u << 30)
#define X86_CR0_PG (1u << 31)

/* CR4 bits this CPU implements (SDM Vol. 3A, 2.5); the others are reserved here and a
 * MOV to CR4 that sets one raises #GP(0). */
#define X86_CR4_TSD_BIT (1u << 2)
#define X86_CR4_DE_BIT  (1u << 3)
#define X86_CR4_PSE_BIT (1u << 4)
#define X86_CR4_PAE_BIT (1u << 5)
#define X86_CR4_PGE_BIT (1u << 7)
#define X86_CR4_OSFXSR_BIT (1u << 9)     /* FXSAVE/FXRSTOR with XMM state; SSE enabled */
#define X86_CR4_OSXMMEXCPT_BIT (1u << 10) /* unmasked SIMD FP exceptions as #XM */
#define X86_CR4_UMIP_BIT (1u << 11)   /* SGDT SIDT SLDT SMSW STR only at CPL 0 */
#define X86_CR4_SUPPORTED (X86_CR4_TSD_BIT | X86_CR4_PSE_BIT | X86_CR4_PAE_BIT | X86_CR4_PGE_BIT | \
                           X86_CR4_OSFXSR_BIT | X86_CR4_OSXMMEXCPT_BIT | X86_CR4_UMIP_BIT)
/* IA32_EFER bits this CPU implements (SDM Vol. 3A, 2.2.1): SCE, LME, LMA (set by the CPU
 * when paging is enabled with LME, read-only to WRMSR), NXE. */
#define X86_EFER_SCE_BIT (1ull << 0)
#define X86_EFER_LME_BIT (1ull << 8)
#define X86_EFER_LMA_BIT (1ull << 10)
#define X86_EFER_NXE_BIT (1ull << 11)
#define X86_EFER_SUPPORTED (X86_EFER_SCE_BIT | X86_EFER_LME_BIT | X86_EFER_LMA_BIT | X86_EFER_NXE_BIT)
/* The physical-address width (CPUID has no leaf 80000008H: SDM Vol. 3A 4.1.4 says 36). */
#define X86_MAXPHYADDR 36

/* Segment access rights in the VMX format (SDM Vol. 3C, 25.4.1, Table 25-2). */
#define X86_AR_TYPE_MASK 0xFu
#define X86_AR_S         (1u << 4)
#define X86_AR_DPL_SHIFT 5
#define X86_AR_P         (1u << 7)
#define X86_AR_AVL       (1u << 12)
#define X86_AR_L         (1u << 13)
#define X86_AR_DB        (1u << 14)
#define X86_AR_G         (1u << 15)
#define X86_AR_UNUSABLE  (1u << 16)

/* Exception vectors (SDM Vol. 3A, 6.3.1, Table 6-1). */
enum {
    X86_EXC_DE = 0, X86_EXC_DB = 1, X86_EXC_NMI = 2, X86_EXC_BP = 3, X86_EXC_OF = 4,
    X86_EXC_BR = 5, X86_EXC_UD = 6, X86_EXC_NM = 7, X86_EXC_DF = 8, X86_EXC_TS = 10,
    X86_EXC_NP = 11, X86_EXC_SS = 12, X86_EXC_GP = 13, X86_EXC_PF = 14, X86_EXC_MF = 16,
    X86_EXC_AC = 17, X86_EXC_XM = 19,
};

/* SSE/SSE2 floating point runs as the same instruction on the host (cpu_sse.c), so it is
 * modelled, and CPUID claims SSE/SSE2, only on x86-64 hosts. */
#if defined(__x86_64__)
#define X86_SSE_FP_ON_HOST 1
#else
#define X86_SSE_FP_ON_HOST 0
#endif

/* The operating mode (SDM Vol. 3A, 2.2 and 5.2.1): what the decoder's default operand and
 * address size and the privilege rules depend on. Computed from CR0.PE, EFLAGS.VM, CS.D,
 * CS.L and EFER.LMA where those change (x86_cpu_update_mode), never per instruction. Real
 * mode honours a CS.D left set by protected mode (REAL32: 32-bit code without PE). With
 * EFER.LMA, CS.L selects 64-bit mode, else CS.D compatibility mode 32 or 16. */
typedef enum {
    X86_MODE_REAL16, X86_MODE_REAL32, X86_MODE_V86, X86_MODE_PROT16, X86_MODE_PROT32,
    X86_MODE_COMPAT16, X86_MODE_COMPAT32, X86_MODE_LONG64,
} X86Mode;

typedef struct X86Segment {
    uint16_t selector;
    uint64_t base;
    uint32_t limit;     /* byte granular, as the VMCS holds it */
    uint32_t attr;      /* VMX access-rights format, X86_AR_* */
} X86Segment;

typedef struct X86DescTable {
    uint64_t base;
    uint16_t limit;
} X86DescTable;

typedef enum {
    X86_EXIT_NONE = 0,
    X86_EXIT_HLT,             /* RIP past the HLT */
    X86_EXIT_IO,              /* cpu->exit.io; RIP at the instruction; x86_cpu_complete_io */
    X86_EXIT_MMIO,            /* cpu->exit.mmio; reads: x86_cpu_complete_mmio */
    X86_EXIT_CPUID,           /* RIP at the instruction; x86_cpu_skip_instruction */
    X86_EXIT_RDMSR,
    X86_EXIT_WRMSR,
    X86_EXIT_TRIPLE_FAULT,    /* shutdown */
    X86_EXIT_UNIMPLEMENTED,   /* cpu->exit.unimpl */
    X86_EXIT_STOPPED,         /* x86_cpu_request_stop() */
    X86_EXIT_BUDGET,          /* max_instructions executed */
    X86_EXIT_INVALID_STATE,   /* cpu->exit.unimpl.reason says why */
    X86_EXIT_IRQ_WINDOW,      /* x86_cpu_request_irq_window: IF=1 and no interrupt shadow */
    X86_EXIT_VMCALL,          /* RIP at the instruction, exit.insn_len; the kernel sets RAX
                               * and calls x86_cpu_skip_instruction */
    X86_EXIT_DEBUG,           /* a debug event the host asked for: cpu->dbg_event */
} X86Exit;

/* Debug events the host (the sim kernel's KVM_SET_GUEST_DEBUG) asks for, in dbg_flags.
 * With dbg_flags 0 nothing is checked anywhere: the cost is one test per block. */
#define X86_DBG_INT3  1u   /* INT3 (CC) exits instead of delivering #BP; RIP at the INT3 */
#define X86_DBG_EXEC  2u   /* instruction breakpoints in dbg_dr7/dbg_addr: RIP at it */
#define X86_DBG_DATA  4u   /* data breakpoints in dbg_dr7/dbg_addr: RIP past the access */
#define X86_DBG_MAGIC 8u   /* Bochs's magic breakpoint XCHG BX,BX exits; RIP past it */

/* DR7 fields (SDM Vol. 3A, 18.2.4): L0-L3/G0-G3 enable, R/W and LEN per breakpoint. */
#define X86_DR7_ENABLED(dr7, i) (((dr7) >> (2 * (i))) & 3u)
#define X86_DR7_RW(dr7, i)      (((dr7) >> (16 + 4 * (i))) & 3u)   /* 0 exec, 1 write, 3 rw */
#define X86_DR7_LEN(dr7, i)     (((dr7) >> (18 + 4 * (i))) & 3u)   /* 0:1 1:2 3:4 2:8 bytes */
#define X86_DR6_BS (1u << 14)
#define X86_DR6_BT (1u << 15)   /* task switch to a TSS with T = 1 */

typedef enum {
    X86_DBG_EVENT_NONE,
    X86_DBG_EVENT_INT3,       /* software breakpoint (#BP) */
    X86_DBG_EVENT_BREAKPOINT, /* instruction or data breakpoint (#DB), dbg_dr6 says which */
    X86_DBG_EVENT_MAGIC,      /* XCHG BX,BX */
} X86DebugEvent;

#define X86_IO_BUFFER_SIZE 4096
#define X86_MAX_INSN_LEN 15

typedef struct X86ExitInfo {
    X86Exit reason;
    uint64_t rip;             /* RIP of the instruction that caused the exit */
    uint64_t linear;          /* its linear address (CS.base + RIP) */
    uint8_t insn_len;         /* its length (VM-exit instruction length) */
    struct {
        uint16_t port;
        uint8_t size;         /* 1, 2 or 4 */
        bool in;              /* IN/INS (else OUT/OUTS) */
        bool string;          /* INS/OUTS */
        bool rep;             /* REP prefix */
        bool imm;             /* port from an immediate operand (else DX) */
        uint8_t addr_size;    /* string: 2 or 4 (VM-exit instruction information) */
        uint8_t seg;          /* string: segment register of the memory operand */
        uint32_t count;       /* elements this exit transfers */
        uint64_t guest_linear;/* string: linear address of the first element */
        uint8_t data[X86_IO_BUFFER_SIZE];
    } io;
    struct {
        uint64_t gpa;
        uint64_t linear;
        uint8_t size;         /* 1 to 4; the part of a page-straddling access may be 3 */
        bool is_write;
        uint64_t data;        /* write: the value written (little endian) */
    } mmio;
    struct {
        uint8_t bytes[X86_MAX_INSN_LEN];
        uint8_t len;          /* bytes[] that could be read */
        uint64_t linear;
        char reason[96];
    } unimpl;
} X86ExitInfo;

typedef struct X86Block X86Block;
/* One 4 KiB linear page: a tag per access kind (the linear page number when that access
 * may take the fast path, else ~0), so the permissions of the walk are cached with the
 * translation. With paging, tag_write is set only once the page is dirty (a first write
 * takes the slow path and sets D), and entries hold only what the privilege level in
 * cpu->tlb_user may do. */
typedef struct X86TlbEntry {
    uint64_t tag_read;
    uint64_t tag_write;
    uint64_t tag_exec;
    uint8_t *host;            /* host address of the page */
    uintptr_t addend;         /* host - linear: a linear address on the page plus this is
                               * its host address (translated code) */
    uint64_t gpa_page;
    uint8_t page_shift;       /* the guest page it came from: 12, 21 or 22 */
    bool global;              /* G with CR4.PGE: kept across CR3 writes */
} X86TlbEntry;

#define X86_TLB_BITS 10
#define X86_TLB_SIZE (1u << X86_TLB_BITS)    /* entries per privilege level */
#define X86_TLB_LARGE_BITS 2048u

struct X86Cpu {
    /* --- architectural state, read and written by the sim kernel between runs --- */
    union {
        uint64_t gpr[16];
        /* The same registers and a slot that stays 0, which an effective address without a
         * base or index register (X86_REG_NONE) reads: no test for it per access. */
        uint64_t gpr_ea[17];
    };
    uint64_t rip;
    union {
        X86Segment seg[8];
        struct { X86Segment es, cs, ss, ds, fs, gs, ldtr, tr; };
    };
    X86DescTable gdtr, idtr;
    uint64_t cr0, cr2, cr3, cr4, cr8;
    uint64_t dr[8];
    uint64_t efer;
    uint64_t sysenter_cs, sysenter_esp, sysenter_eip;   /* IA32_SYSENTER_* MSRs */
    /* IA32_STAR, LSTAR, CSTAR, FMASK (SYSCALL/SYSRET) and IA32_KERNEL_GS_BASE (SWAPGS);
     * IA32_FS_BASE and IA32_GS_BASE are fs.base and gs.base. */
    uint64_t star, lstar, cstar, fmask, kernel_gs_base;
    uint64_t tsc;                 /* RDTSC value base; counts instructions */
    /* When set, RDTSC/RDTSCP read the TSC from the kernel (sim: the VM clock at a fixed
     * rate) instead of tsc + instructions_retired; only RDTSC calls it, no hot path. */
    uint64_t (*tsc_read)(void *opaque);
    void *tsc_opaque;
    uint64_t tsc_aux;             /* IA32_TSC_AUX, which RDTSCP returns in ECX */
    /* The x87 FPU (cpu_x87.c; SDM Vol. 1, chapter 8): the physical data registers R0-R7 as
     * 80-bit little-endian images (ST(i) is R[(TOP + i) & 7], TOP = SW bits 13:11), the
     * control, status and full tag words (2 bits per physical register: 00 valid, 01 zero,
     * 10 special, 11 empty), and the last non-control instruction's pointers and opcode
     * (FIP is the offset in FCS, FDP the offset in FDS; FOP is 11 bits). */
    uint8_t fpu_reg[8][10];
    uint16_t fpu_cw, fpu_sw, fpu_tw;
    uint16_t fpu_fop, fpu_fcs, fpu_fds;
    uint32_t fpu_fip, fpu_fdp;
    uint64_t xmm[16][2];          /* XMM0-15 (8-15 in 64-bit mode), low quadword first */
    uint32_t mxcsr;
    /* Interrupt shadow (SDM Vol. 3C, 25.4.2 interruptibility state): bit 0 blocking by STI,
     * bit 1 blocking by MOV SS / POP SS. Lasts until the end of the next instruction. */
    uint32_t interrupt_shadow;
    uint64_t instructions_retired;
    uint32_t code_epoch;          /* bumped when the host may have written guest memory */
    X86ExitInfo exit;

    /* --- internal: use x86_cpu_get_rflags / x86_cpu_set_rflags for RFLAGS --- */
    X86Mode mode;                 /* x86_cpu_update_mode after CR0, EFLAGS.VM, EFER, CS */
    uint32_t flags;               /* RFLAGS; arithmetic bits valid when lf_op == 0 */
    uint8_t lf_op;                /* lazy flags: kind of the last arithmetic operation */
    uint8_t lf_size;              /* its operand size in bytes: 1, 2, 4 or 8 */
    uint64_t lf_res, lf_src1, lf_src2;   /* masked to lf_size */
    uint64_t host_rflags;         /* LF_HOST: translated code's host RFLAGS image (jit.c) */

    uint64_t next_rip;            /* during an instruction: RIP of the next one */
    uint32_t pending;             /* X86_PENDING_*: leave the block after this insn */
    uintptr_t insn_end;           /* the running block's end; 0 after x86_end_block */
    uint32_t shadow_saved;        /* interrupt shadow of the instruction running now */
    bool shadow_active;
    volatile int stop_request;
    X86Exit run_exit;
    jmp_buf jmp;
    int event_depth;              /* an event is being delivered (for #DF / shutdown) */
    int event_class;              /* its class: 0 benign/software, 1 contributory, 2 #DF */
    uint64_t events_delivered;    /* interrupts and exceptions delivered so far */
    int pending_vector;           /* injected by the kernel: delivered at the next run */
    /* The INTR pin (SDM Vol. 3A, 6.8.1): an external interrupt the kernel latched
     * (KVM_INTERRUPT), taken at the first instruction boundary with IF=1 and no interrupt
     * shadow. The NMI pin is blocked from delivery until the next IRET (6.7.1). */
    int intr_vector;              /* -1: INTR is low */
    bool nmi_pending, nmi_blocked;
    bool debug_trap_pending;      /* a new task's TSS had T = 1: #DB before its first insn */
    bool irq_window_exit;         /* leave with X86_EXIT_IRQ_WINDOW once interruptible */
    /* Nonzero while any of the above needs looking at: the one word the run loop tests
     * between blocks, so an idle pin costs a load and a branch per block. */
    uint32_t event_check;
    /* While an event waits that the CPU cannot take yet (IF=0, a shadow, NMIs blocked),
     * blocks go on chaining until instructions_retired passes this; then the run loop
     * samples the pins again (cpu.c, EVENT_SAMPLE_SLICE). */
    uint64_t event_sample_at;
    /* Activity state (SDM Vol. 3C, 25.4.2): X86_ACTIVITY_HLT from a HLT until the next
     * run, which leaves it as the kernel wakes it (an interrupt, or KVM's resume past
     * HLT). */
    uint32_t activity_state;
    uint64_t a20_mask;            /* ~0, or ~(1 << 20) while the A20 gate is closed */
    bool pending_has_error;       /* ... with this error code (protected mode) */
    uint32_t pending_error;
    /* MMIO read replay (a read exit is completed by re-executing with the value). */
    uint64_t mmio_replay[16];
    uint64_t mmio_replay_gpa[16];
    int mmio_replay_n, mmio_replay_pos;
    /* MMIO writes of the last instruction: the first is reported by its exit, the others
     * one per following x86_cpu_run (in order; the instruction has completed). */
    struct { uint64_t gpa, linear, data; uint8_t size; } mmio_wq[8];
    int mmio_wq_n, mmio_wq_head;
    bool io_pending;              /* an I/O exit waits for x86_cpu_complete_io */
    /* An internal error found outside a run (x86_cpu_complete_io cannot leave through
     * x86_exit), recorded in exit.unimpl: the next x86_cpu_run reports it as
     * X86_EXIT_UNIMPLEMENTED once the queued MMIO writes are out. */
    bool deferred_unimpl;
    uint32_t io_elem_rep;         /* REP: elements left before this exit (for RCX) */
    uint8_t io_insn_len;

    /* Debugging (X86_DBG_*), set by the host between runs. */
    uint32_t dbg_flags;
    uint32_t dbg_dr7;             /* the host's breakpoints, DR7's layout */
    uint64_t dbg_addr[4];         /* their linear addresses, as DR0-DR3 */
    X86DebugEvent dbg_event;      /* after X86_EXIT_DEBUG: what happened */
    uint32_t dbg_dr6;             /* B0-B3 of the breakpoints that hit */
    uint64_t dbg_resume_linear;   /* RF: the instruction breakpoint here is skipped once */
    /* Every event delivered (x86_deliver_event): for the host's interrupt log. */
    void (*event_hook)(void *opaque, int vector, bool software, bool has_error,
                       uint32_t error_code);
    void *event_opaque;

    X86PageFn page_fn;
    void *page_opaque;
    /* Paging (mmu.c): PAE's PDPTE registers (SDM Vol. 3A, 4.4.1), loaded by MOV CR0/CR3/
     * CR4; not loaded after the host set the registers (then read from memory at the
     * next walk, as KVM loads them at KVM_SET_SREGS). */
    uint64_t pdpte[4];
    bool pdpte_loaded;
    bool tlb_user;                /* CPL 3 uses the TLB's user half (else CPL 0-2) */
    bool implicit_supervisor;     /* the access in progress is an implicit supervisor one */
    uint64_t fetch_fault_lin;     /* a #PF while decoding: its address and error code */
    uint32_t fetch_fault_error;
    uint32_t fault_error;         /* error code of the exception being raised */
    bool string_elementwise;      /* tests: REP string instructions without the bulk path
                                   * (cpu_string.c), one element at a time */
    /* Two TLBs of X86_TLB_SIZE entries: CPL 0-2's, then CPL 3's, so that a system call or
     * an interrupt from user mode switches halves instead of emptying one. */
    X86TlbEntry tlb[2 * X86_TLB_SIZE];
    /* Linear 2 MiB regions ((lin >> 21) mod 2048) where the TLB may hold a piece of a
     * large page: INVLPG elsewhere only needs the two entries its page indexes. A bit
     * stays set until a full flush (x86_cpu_tlb_invalidate). */
    uint64_t tlb_large[X86_TLB_LARGE_BITS / 64];
    struct X86CodeCache *code;    /* decoded blocks (cpu.c) */
    struct JumpCacheEntry *jump_cache;   /* code's, for translated code (cpu_internal.h) */
    /* The next CPU sharing this one's guest memory (x86_cpu_share_code), in a ring; NULL
     * alone. The CPUs of a ring run in turn on one thread, never at once. */
    struct X86Cpu *code_peer;
    /* Bumped whenever a cached translation or decoded block may have gone (a TLB flush or
     * INVLPG, a block dropped, the block cache emptied), decoded code may be stale (the
     * code epoch) or the CS limit translations were linked under changed: direct links
     * between blocks (cpu.c, jit.c) made under another value are not followed. */
    uint32_t chain_gen;
    /* The same but for a MOV CR3 that keeps global pages: links to a block whose page
     * has a global translation (a kernel's, under CR4.PGE) or no translation at all
     * (paging off) check this one, and survive address-space switches. */
    uint32_t global_gen;
    /* Testing (set before the first run, or flush with x86_cpu_tlb_flush): the reference
     * path: no block links, one instruction per hash lookup, generic handlers, flags
     * computed after every instruction. The differential test compares it with the fast
     * path. */
    bool slow_path;
    /* Runs of a decoded block before it is translated to host code (jit.c); 0: never,
     * the handlers alone. x86_cpu_create sets the default; tests change it between
     * runs. */
    uint32_t jit_threshold;
    /* Translated code goes on into the next block only while instructions_retired is at
     * most this (the run's budget less a block; set by the run loop). */
    uint64_t jit_chain_limit;
    uint32_t jit_linked_cs_limit; /* the CS limit of the current chain_gen's links */
    intptr_t jit_exec_delta;      /* the JIT arena's executable view less its writable */
    uint64_t jit_translated;      /* blocks translated so far */
};
typedef struct X86Cpu X86Cpu;

X86Cpu *x86_cpu_create(X86PageFn page_fn, void *opaque);
void x86_cpu_destroy(X86Cpu *cpu);
/* The power-on state (SDM Vol. 3A, 10.1.1, Table 10-1). */
void x86_cpu_reset(X86Cpu *cpu);
/* Forget every cached page pointer and decoded block (the kernel changed mappings). */
void x86_cpu_tlb_flush(X86Cpu *cpu);
/* Forget every cached page pointer (the EPT changed). Decoded blocks stay: each is checked
 * against memory after an x86_cpu_host_wrote_memory() anyway. */
void x86_cpu_tlb_invalidate(X86Cpu *cpu);
/* SMP, several CPUs on one guest memory, run in turn on one thread (never at once):
 * cpu joins peer's group; from then on a page any of them decoded code from is
 * write-protected in all their TLBs, and a write by any of them (or the host's through
 * x86_cpu_invalidate_code) drops the blocks there from every cache. x86_cpu_destroy
 * leaves the group. */
void x86_cpu_share_code(X86Cpu *cpu, X86Cpu *peer);
/* The host wrote guest-physical [gpa, gpa + len): drop decoded code there. */
void x86_cpu_invalidate_code(X86Cpu *cpu, uint64_t gpa, uint64_t len);
/* The host may have written guest memory anywhere since the last run (as a VMM can at any
 * exit): every decoded block is checked against memory the next time it runs. */
void x86_cpu_host_wrote_memory(X86Cpu *cpu);
/* Sets what the host debugs (X86_DBG_*, DR7 layout, DR0-DR3 linear addresses); drops
 * cached page mappings so that data breakpoints see every access. */
void x86_cpu_set_debug(X86Cpu *cpu, uint32_t flags, uint32_t dr7, const uint64_t addr[4]);
/* Runs until an exit; max_instructions 0 = no limit. */
X86Exit x86_cpu_run(X86Cpu *cpu, uint64_t max_instructions);
/* Activity states (SDM Vol. 3C, 25.4.2, Table 25-3). */
#define X86_ACTIVITY_ACTIVE 0u
#define X86_ACTIVITY_HLT    1u

/* Drives the INTR pin: vector 0-255 is latched until delivered (-1 lowers the pin). */
void x86_cpu_set_intr(X86Cpu *cpu, int vector);
/* The A20 gate (A20M#): closed, physical address bit 20 reads as 0. Open at reset. */
void x86_cpu_set_a20(X86Cpu *cpu, bool enabled);
/* Raises the NMI pin: vector 2 at the next boundary outside a MOV SS shadow and outside
 * an NMI handler. */
void x86_cpu_set_nmi(X86Cpu *cpu);
/* While `on`, the run leaves with X86_EXIT_IRQ_WINDOW at the first instruction boundary
 * where an external interrupt could be taken (IF=1, no shadow, INTR not latched). */
void x86_cpu_request_irq_window(X86Cpu *cpu, bool on);
/* IF=1 and no STI / MOV SS shadow: an external interrupt would be taken now. */
bool x86_cpu_interruptible(const X86Cpu *cpu);
/* From any thread: the run returns X86_EXIT_STOPPED at the next block boundary. The
 * request stays pending across runs that end for other reasons, until a run has returned
 * X86_EXIT_STOPPED (a kick is never lost between two runs). */
void x86_cpu_request_stop(X86Cpu *cpu);

uint64_t x86_cpu_get_rflags(X86Cpu *cpu);
void x86_cpu_set_rflags(X86Cpu *cpu, uint64_t rflags);

/* After X86_EXIT_IO: takes IN data from cpu->exit.io.data, updates registers and RIP. */
void x86_cpu_complete_io(X86Cpu *cpu);
/* After an MMIO read exit: the value read; the instruction is re-executed with it. */
void x86_cpu_complete_mmio(X86Cpu *cpu, uint64_t data);
/* After X86_EXIT_CPUID / RDMSR / WRMSR handled by the kernel: RIP past the instruction. */
void x86_cpu_skip_instruction(X86Cpu *cpu);
/* Injects an exception, delivered at the start of the next run (e.g. #GP for a bad MSR).
 * The return address is the current RIP (a fault). Real mode pushes no error code;
 * protected mode pushes error_code when has_error_code.
 * Returns 0, or -EINVAL for a vector outside 0-255. */
int x86_cpu_raise_exception(X86Cpu *cpu, int vector, bool has_error_code,
                            uint32_t error_code);
/* Whether `value` is a valid IA32_EFER for WRMSR on this CPU: no bit outside
 * X86_EFER_SUPPORTED (else WRMSR raises #GP(0), SDM Vol. 2B WRMSR and Vol. 3A 2.2.1). */
bool x86_cpu_efer_valid(const X86Cpu *cpu, uint64_t value);
/* WRMSR to IA32_EFER: the value is valid (x86_cpu_efer_valid); flushes the TLB when NXE
 * changes (SDM Vol. 3A, 4.10.4.1). */
void x86_cpu_set_efer(X86Cpu *cpu, uint64_t value);
/* The host changed CR0, EFER or CS directly (KVM_SET_SREGS): the mode follows them. (Each
 * x86_cpu_run starts with it too.) */
void x86_cpu_update_mode(X86Cpu *cpu);
/* Sets a segment register as a real-mode load would: selector, base = selector << 4;
 * limit and attributes are kept (SDM Vol. 3A, 21.1.1). For tests and loaders. */
void x86_cpu_load_real_segment(X86Cpu *cpu, int sreg, uint16_t selector);
const char *x86_exit_name(X86Exit e);

#ifdef __cplusplus
}
#endif

#endif
