/* One guest, two kernels: every guest program of build/guests runs once on HV_BACKEND_KVM
 * and once on HV_BACKEND_SIM, set up as the integration tests (tests/guests/run.sh) set it
 * up, and everything the VMM can observe at its end must be the same on both: the bytes
 * sent on COM1 and on the 0xE9 debug console, the VGA text screen and cursor, how the run
 * ended (vm_run's result, stop_reason, the debug-exit value, the number of exits, the
 * unhandled port and MMIO accesses), every register of struct kvm_regs, and in struct
 * kvm_sregs every segment register (selector, base, limit, attributes), GDTR, IDTR, the
 * control registers, EFER and the APIC base.
 *
 * The guests are found in $SCRATCHVM_GUEST_DIR (the Makefile sets it) or build/guests
 * (relative to the working directory: `make check` runs tests from the repository root).
 * Without /dev/kvm the test skips: the sim backend alone has nothing to compare with. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "hypervisor_sim.h"
#include "vmm/bios.h"
#include "block/block.h"

#define MIB (1024u * 1024u)
#define DEFAULT_MEMORY (16 * MIB)        /* the scratchvm command's default (-m 16M) */
#define PARITY_MAX_EXITS 100000          /* every guest that ends ends long before this */
#define WATCHDOG_MS 10000                /* a guest that should end but has not by then */

/* LOAD_BIOS_SECTOR: --boot-sector with the built-in BIOS (POST from C, the sector at
 * 0x7C00); LOAD_BIOS_FLOPPY: the image as floppy A: (-fda -snapshot), booted by the BIOS
 * from the reset vector; LOAD_KERNEL: -kernel (vm_load_kernel, a multiboot kernel). */
typedef enum {
    LOAD_FLAT, LOAD_BOOT_SECTOR, LOAD_ROM, LOAD_BIOS_SECTOR, LOAD_BIOS_FLOPPY, LOAD_KERNEL
} LoadKind;

/* How one guest is set up: the arguments tests/guests/run.sh gives it. */
typedef struct {
    const char *name;           /* GUEST_DIR/NAME.bin */
    LoadKind load;              /* flat at 0 entered at 0000:0000, --boot-sector, --rom */
    size_t memory;              /* bytes of RAM; 0: DEFAULT_MEMORY */
    uint64_t rax, rbx;          /* --reg rax=..., --reg rbx=... */
    const char *serial_input;   /* bytes queued for COM1 before the run (stdin) */
    uint64_t max_exits;         /* --max-exits; 0: PARITY_MAX_EXITS as a bound */
    unsigned stop_after_ms;     /* a guest that never ends: vm_request_stop after this */
    bool exit_status_only;      /* compare how it ended, nothing else (see its entry) */
    bool exit_count_may_differ; /* the kernels split its I/O into exits differently */
    bool virtual_clock;         /* sim runs with --clock virtual (KVM has only host time) */
    bool big_real;              /* DS with a 4 GiB limit at entry, to reach the xAPIC */
    const char *pci_device;     /* -device SPEC (vm_add_pci_device), or NULL */
    const char *differs_on_purpose; /* not compared: why (the guest is built to differ) */
    /* Set when the nested KVM of some hosts cannot run the guest: if KVM stops with an
     * internal error, the test says so with KVM's own message and checks the sim run alone
     * against sim_serial_end (the end of its COM1 output) and sim_debug_exit. */
    const char *kvm_cannot;
    VmStopReason kvm_cannot_stop;   /* how kvm then stops; 0: VM_STOP_INTERNAL_ERROR */
    const char *sim_serial_end;
    uint32_t sim_debug_exit;
} ParityGuest;

static const ParityGuest guests[] = {
    {.name = "add", .rax = 40, .rbx = 2},
    {.name = "badport"},
    {.name = "beyondram", .memory = 64 * 1024},
    {.name = "bioscalls", .load = LOAD_BIOS_SECTOR},
    {.name = "biosconsole", .load = LOAD_BIOS_SECTOR},
    {.name = "bioskeys", .load = LOAD_BIOS_SECTOR, .serial_input = "\033[Aa\033OPq"},
    /* Keys queued before the run: int 16h never waits, so the exits are the same. */
    {.name = "biosgame", .load = LOAD_BIOS_FLOPPY, .serial_input = "hi!q"},
    {.name = "boot", .load = LOAD_BOOT_SECTOR},
    {.name = "cdboot", .differs_on_purpose = "an El Torito image: it boots from an ISO that "
                                             "tests/guests/run.sh builds with xorriso"},
    {.name = "debugcon"},
    {.name = "floppyboot", .differs_on_purpose = "reads sectors of a 1.44 MB image that "
                                                  "tests/guests/seabios.sh prepares"},
    {.name = "com2", .differs_on_purpose = "needs COM2, which only the scratchvm command adds "
                                          "(a second -serial; tests/guests/run.sh)"},
    {.name = "echo", .serial_input = "hi there\n"},
    {.name = "diffcpuid", .differs_on_purpose = "CPUID's brand string differs on purpose "
                                               "(scratchvm diff's test, tests/guests/run.sh)"},
    {.name = "exitcode", .rax = 42},
    {.name = "gdbtarget"},
    {.name = "hello"},
    /* Interrupt-driven: 100 PIT ticks at 1 kHz, each waking the vCPU from HLT. KVM keeps
     * host time, sim the virtual clock (so its side is reproducible); the program's
     * result and every exit the VMM handles (EOIs and HLTs) must be the same. */
    {.name = "pit_tick", .virtual_clock = true},
    /* The same for the local APIC's timer and a self-IPI, through MMIO exits. */
    {.name = "lapic_timer", .virtual_clock = true, .big_real = true},
    /* The TSC-deadline timer and kvm-clock (tests/unit/test_timemsr.c): KVM has no
     * TSC-deadline timer for a user-space APIC (it ignores MSR 0x6E0), so the guest would
     * wait there forever. */
    {.name = "tsc_deadline", .differs_on_purpose = "TSC-deadline needs KVM's in-kernel APIC "
                                                   "(test_timemsr.c runs it on sim)"},
    /* COM1 input through IRQ4 (the bytes are queued before the run). */
    {.name = "uart_rx", .serial_input = "hello irq\n", .virtual_clock = true},
    /* Keyboard interrupts: with no key typed it sleeps in HLT (IF=1) until stopped, at the
     * same instruction on both. (test_i8042.c and the terminal test type keys.) */
    {.name = "kbd_irq", .stop_after_ms = 200},
    {.name = "rom", .load = LOAD_ROM},
    {.name = "rom2k", .load = LOAD_ROM},
    /* `jmp .` makes no exit at all: stopped from another thread, it must stop at the same
     * instruction with the same registers on both kernels. */
    {.name = "spin", .stop_after_ms = 200},
    /* One OUT per iteration: the 1000th exit is the same instruction on both. */
    {.name = "spinout", .max_exits = 1000},
    /* REP OUTS: Linux KVM's instruction emulator moves one element per KVM_EXIT_IO (em_out
     * passes count 1; only INS reads ahead), the sim CPU up to a page per exit
     * (src/sim/cpu/cpu_io.c), so the number of exits differs (kvm 114, sim 96). That is a
     * difference from Linux KVM in the sim CPU, reported rather than hidden: everything
     * else, the bytes sent included, is still compared. */
    {.name = "strio", .exit_count_may_differ = true},
    /* The guest shuts down through one of two paths (guests/triplefault.s): at int3, on a
     * CPU that enforces the real-mode IDT limit (the sim CPU, as the SDM says), or in its
     * protected-mode fallback, on a kernel that ignores that limit (this host's KVM does:
     * its real mode runs in KVM's instruction emulator). The serial output, RIP, CR0 and
     * the registers then legitimately differ; only how the run ended is compared, and each
     * side's output must be one of the two the guest documents. */
    {.name = "triplefault", .exit_status_only = true},
    /* Protected mode, rings and a task switch. The nested paravirtual KVM (kvm_pvm) of the
     * build machines cannot emulate its first protected-mode IRET (KVM_EXIT_INTERNAL_ERROR,
     * "instruction emulation failed" at the IRET of its #GP handler). */
    /* The SMP litmus guest, here on one vCPU (its SMP runs: tests/guests/run.sh); 32-bit
     * protected mode, which the same nested KVM may fail to emulate. */
    {.name = "smp", .kvm_cannot = "protected mode", .sim_serial_end = "xmc=ok\n",
     .sim_debug_exit = 0x11},
    {.name = "protmode", .kvm_cannot = "protected-mode IRET", .sim_serial_end = "all ok\n",
     .sim_debug_exit = 0x11},
    /* Paging and page faults. The nested paravirtual KVM of the build machines shuts the
     * guest down (KVM_EXIT_SHUTDOWN) at the MOV to CR0 that sets PG. */
    {.name = "paging", .kvm_cannot = "paging (MOV to CR0.PG: shutdown)",
     .kvm_cannot_stop = VM_STOP_SHUTDOWN,
     .sim_serial_end = "all ok\n", .sim_debug_exit = 0x11},
    /* An instruction on two pages mapped to unrelated physical pages (-kernel: multiboot);
     * paging, which the same nested KVM cannot run. */
    {.name = "straddle", .load = LOAD_KERNEL, .memory = 16 << 20,
     .kvm_cannot = "paging (MOV to CR0.PG: shutdown)", .kvm_cannot_stop = VM_STOP_SHUTDOWN,
     .sim_serial_end = "back:    eax=11223344 sum=b15c0690 ok\n", .sim_debug_exit = 0x11},
    /* ACPI S5 through PM1a_CNT: the VMM's device on both. */
    {.name = "poweroff"},
    {.name = "vga"},
    /* MMIO of 1-8 bytes over device edges: the same exits (an 8-byte one whole) on both. */
    {.name = "mmiosizes"},
    /* PCI: configuration cycles, BARs and the edu device's registers, DMA, INTx and MSI,
     * the VMM's devices on both kernels (MSI with the user-space irqchip). */
    {.name = "pcihostile", .pci_device = "edu"},
    {.name = "pciedu", .pci_device = "edu"},
    {.name = "virtio", .differs_on_purpose = "needs a virtio disk image, which only the "
                                            "scratchvm command adds (tests/guests/run.sh)"},
    {.name = "virtionet", .differs_on_purpose = "needs a virtio NIC on libslirp, which only "
                                               "the scratchvm command adds (tests/guests/run.sh)"},
};
#define NUM_GUESTS (sizeof(guests) / sizeof(guests[0]))

static const char *const triplefault_outputs[] = {
    "about to triple fault\n",
    "about to triple fault\nreal-mode IDT limit not enforced here: faulting in protected mode\n",
};

/* ---- what one run leaves behind ---- */

typedef struct {
    int run_result;               /* vm_run's return value */
    VmStopReason stop_reason;
    uint32_t debug_exit_value;
    uint64_t exit_count;
    uint64_t coalesced_writes;    /* VGA writes that went through the coalesced MMIO ring */
    uint64_t io_unhandled, mmio_unhandled;
    bool watchdog_fired;          /* a guest that should end did not */
    char *serial;                 /* everything sent on COM1 */
    size_t serial_len;
    char *console;                /* everything sent to port 0xE9 */
    size_t console_len;
    uint8_t vram[VGA_TEXT_SIZE];
    int cursor_x, cursor_y;
    KvmRegs regs;
    KvmSregs sregs;
    bool ended_at_out;            /* the last exit was an OUT (debug exit, --max-exits) */
    uint32_t exit_insn_len;       /* sim: the VMCS's VM-exit instruction length of it */
    char log[1024];               /* the library's diagnostics during the run */
    size_t log_len;
} Outcome;

static void outcome_free(Outcome *o)
{
    free(o->serial);
    free(o->console);
}

static const char *guest_dir;
static bool kvm_ok;
static char kvm_why[256];
/* Whether a kernel reports RIP past an OUT at its KVM_EXIT_IO (see probe_out_rip). */
static bool out_rip_past[3];

static void capture_log(HvLogLevel level, const char *message, void *opaque)
{
    (void)level;
    Outcome *o = opaque;
    int n = snprintf(o->log + o->log_len, sizeof(o->log) - o->log_len, "    %s\n", message);
    if (n > 0)
        o->log_len = o->log_len + (size_t)n < sizeof(o->log) ? o->log_len + (size_t)n
                                                             : sizeof(o->log) - 1;
}

/* The whole contents of fd (a memfd the device wrote), NUL-terminated. */
static char *slurp_fd(int fd, size_t *len)
{
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    char *buf = malloc((size_t)st.st_size + 1);
    assert_non_null(buf);
    ssize_t n = pread(fd, buf, (size_t)st.st_size, 0);
    assert_int_equal(n, st.st_size);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

static uint8_t *read_guest(const char *name, size_t *size)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s.bin", guest_dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *buf = malloc(VM_MAX_ROM + 1);
    assert_non_null(buf);
    *size = fread(buf, 1, VM_MAX_ROM + 1, f);
    fclose(f);
    assert_true(*size > 0 && *size <= VM_MAX_ROM);
    return buf;
}

/* ---- the watchdog: stops a guest from another thread ---- */

typedef struct {
    SimpleVM *svm;
    unsigned ms;
    bool done, fired;
    pthread_mutex_t lock;
    pthread_cond_t cond;
} Watchdog;

static void *watchdog_main(void *arg)
{
    Watchdog *w = arg;
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += w->ms / 1000;
    deadline.tv_nsec += (long)(w->ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&w->lock);
    while (!w->done) {
        if (pthread_cond_timedwait(&w->cond, &w->lock, &deadline) == ETIMEDOUT) {
            w->fired = true;
            vm_request_stop(w->svm);
            break;
        }
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

/* Builds the guest's VM on backend b, runs it to its end and records what is observable. */
static void run_guest(const ParityGuest *g, const uint8_t *image, size_t size, HvBackend b,
                      Outcome *o)
{
    memset(o, 0, sizeof(*o));
    SimpleVM *svm = vm_create_bytes(g->memory ? g->memory : DEFAULT_MEMORY, b);
    if (!svm)
        fail_msg("%s: cannot create a VM on %s: %s", g->name, hv_backend_name(b),
                 hv_last_error());
    int serial_fd = memfd_create("parity-serial", MFD_CLOEXEC);
    int console_fd = memfd_create("parity-console", MFD_CLOEXEC);
    assert_true(serial_fd >= 0 && console_fd >= 0);
    svm->serial->output_fd = serial_fd;
    svm->debug_exit->console_fd = console_fd;
    if (g->pci_device)
        assert_int_equal(vm_add_pci_device(svm, g->pci_device), 0);

    /* As the scratchvm command's load_guest does. */
    KvmVcpu *vcpu = svm->vcpu;
    switch (g->load) {
    case LOAD_ROM:
        assert_int_equal(vm_load_rom(svm, image, size), 0);
        break;
    case LOAD_BOOT_SECTOR:
        assert_int_equal(size, 512);
        assert_int_equal(vm_load_code(svm, image, size, 0x7C00), 0);
        vcpu->sregs.cs.selector = 0;
        vcpu->sregs.cs.base = 0;
        vcpu->regs.rip = 0x7C00;
        break;
    case LOAD_BIOS_SECTOR:
        assert_int_equal(vm_bios_install(svm), 0);
        assert_int_equal(vm_bios_post(svm), 0);
        assert_int_equal(vm_load_boot_sector(svm, image, size), 0);
        break;
    case LOAD_BIOS_FLOPPY: {
        char path[] = "/tmp/parity-floppy.XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, image, size), (ssize_t)size);
        close(fd);
        BlockDev *bd;
        assert_int_equal(block_open(path, BLOCK_FORMAT_RAW, BLOCK_SNAPSHOT, &bd), 0);
        unlink(path);
        assert_int_equal(vm_bios_install(svm), 0);
        assert_int_equal(vm_bios_attach_disk(svm, BIOS_DRIVE_FLOPPY0, bd), 0);
        break;
    }
    case LOAD_KERNEL: {
        VmKernelSpec k = {.image = image, .size = size};
        assert_int_equal(vm_load_kernel(svm, &k), 0);
        break;
    }
    case LOAD_FLAT:
        assert_int_equal(vm_load_code(svm, image, size, 0), 0);
        vcpu->sregs.cs.selector = 0;
        vcpu->sregs.cs.base = 0;
        vcpu->regs.rip = 0;
        break;
    }
    vcpu->regs.rax = g->rax;
    vcpu->regs.rbx = g->rbx;
    if (g->big_real) {
        vcpu->sregs.ds.limit = 0xFFFFFFFF;
        vcpu->sregs.ds.g = 1;
    }
    if (g->serial_input) {
        size_t n = strlen(g->serial_input);
        assert_int_equal(serial_receive(svm->serial, (const uint8_t *)g->serial_input, n), n);
    }
    svm->max_exits = g->max_exits ? g->max_exits : PARITY_MAX_EXITS;
    if (g->virtual_clock && b == HV_BACKEND_SIM)
        assert_int_equal(vm_set_clock(svm, VM_CLOCK_VIRTUAL), 0);

    Watchdog w = {.svm = svm, .ms = g->stop_after_ms ? g->stop_after_ms : WATCHDOG_MS};
    pthread_mutex_init(&w.lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w.cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, watchdog_main, &w), 0);

    hv_set_log_handler(capture_log, o);
    o->run_result = vm_run(svm);
    hv_set_log_handler(NULL, NULL);

    pthread_mutex_lock(&w.lock);
    w.done = true;
    pthread_cond_signal(&w.cond);
    pthread_mutex_unlock(&w.lock);
    pthread_join(thread, NULL);
    pthread_cond_destroy(&w.cond);
    pthread_mutex_destroy(&w.lock);
    o->watchdog_fired = w.fired && !g->stop_after_ms;

    o->stop_reason = svm->stop_reason;
    o->debug_exit_value = svm->debug_exit_value;
    o->exit_count = svm->exit_count;
    o->coalesced_writes = svm->coalesced_writes;
    o->io_unhandled = io_bus_unhandled_count(svm->io_bus);
    o->mmio_unhandled = mmio_bus_unhandled_count(svm->mmio_bus);
    o->serial = slurp_fd(serial_fd, &o->serial_len);
    o->console = slurp_fd(console_fd, &o->console_len);
    memcpy(o->vram, svm->vga->vram, VGA_TEXT_SIZE);
    o->cursor_x = svm->vga->cursor_x;
    o->cursor_y = svm->vga->cursor_y;
    assert_int_equal(kvm_get_regs(vcpu, &o->regs), 0);
    assert_int_equal(kvm_get_sregs(vcpu, &o->sregs), 0);
    const KvmRun *run = vcpu->kvm_run;
    o->ended_at_out = run->exit_reason == KVM_EXIT_IO && run->io.direction == KVM_EXIT_IO_OUT;
    const VMCS *vmcs = kvm_vcpu_vmcs(vcpu);
    o->exit_insn_len = vmcs ? vmcs->exit.instruction_length : 0;
    close(serial_fd);
    close(console_fd);
    vm_destroy(svm);
}

/* ---- comparing two runs ---- */

typedef struct {
    char *text;
    size_t len;
    FILE *out;
    int differences;
} Diff;

static void differ(Diff *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void differ(Diff *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("  ", d->out);
    vfprintf(d->out, fmt, ap);
    fputc('\n', d->out);
    va_end(ap);
    d->differences++;
}

/* A byte string as C-escaped text, at most 160 bytes of it. */
static void print_escaped(FILE *out, const char *s, size_t len)
{
    fputc('"', out);
    for (size_t i = 0; i < len && i < 160; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n')
            fputs("\\n", out);
        else if (c == '\\' || c == '"')
            fprintf(out, "\\%c", c);
        else if (c < 0x20 || c >= 0x7F)
            fprintf(out, "\\x%02x", c);
        else
            fputc(c, out);
    }
    fputs(len > 160 ? "\"..." : "\"", out);
}

static void compare_bytes(Diff *d, const char *what, const char *k, size_t klen, const char *s,
                          size_t slen)
{
    if (klen == slen && memcmp(k, s, klen) == 0)
        return;
    size_t at = 0;
    while (at < klen && at < slen && k[at] == s[at])
        at++;
    fprintf(d->out, "  %s differs from byte %zu on:\n    kvm (%zu bytes): ", what, at, klen);
    print_escaped(d->out, k, klen);
    fprintf(d->out, "\n    sim (%zu bytes): ", slen);
    print_escaped(d->out, s, slen);
    fputc('\n', d->out);
    d->differences++;
}

static const char *stop_name(VmStopReason r)
{
    static const char *const names[] = {
        [VM_STOP_NONE] = "NONE",
        [VM_STOP_HLT] = "HLT",
        [VM_STOP_DEBUG_EXIT] = "DEBUG_EXIT",
        [VM_STOP_SHUTDOWN] = "SHUTDOWN",
        [VM_STOP_FAIL_ENTRY] = "FAIL_ENTRY",
        [VM_STOP_INTERNAL_ERROR] = "INTERNAL_ERROR",
        [VM_STOP_MAX_EXITS] = "MAX_EXITS",
        [VM_STOP_REQUESTED] = "REQUESTED",
        [VM_STOP_ERROR] = "ERROR",
    };
    return (unsigned)r < sizeof(names) / sizeof(names[0]) && names[r] ? names[r] : "?";
}

static void compare_exit(Diff *d, const Outcome *k, const Outcome *s)
{
    if (k->stop_reason != s->stop_reason)
        differ(d, "stop reason: kvm %s, sim %s", stop_name(k->stop_reason),
               stop_name(s->stop_reason));
    if (k->debug_exit_value != s->debug_exit_value)
        differ(d, "debug-exit value: kvm 0x%x, sim 0x%x", k->debug_exit_value,
               s->debug_exit_value);
    if (k->run_result != s->run_result)
        differ(d, "vm_run result: kvm %d, sim %d", k->run_result, s->run_result);
}

/* RIP at an OUT exit. Linux KVM leaves RIP at the OUT until the next KVM_RUN completes it
 * when the exit comes from a VMX/SVM I/O intercept (kvm_fast_pio_out), which the sim
 * kernel models; when its instruction emulator ran the OUT (real mode on hosts without
 * unrestricted guest, e.g. kvm_pvm), it writes RIP back past the OUT before exiting
 * (x86_emulate_instruction, writeback for a PIO out). Both are Linux KVM: when the two
 * kernels differ here (probed once, see probe_out_rip) and the run ended at an OUT, the
 * RIP that advances is compared with the other's RIP plus the OUT's length (from the sim
 * VMCS's VM-exit instruction length). Every other register is compared as it is. */
static uint64_t expected_kvm_rip(const Outcome *k, const Outcome *s, bool *adjusted)
{
    *adjusted = false;
    if (!k->ended_at_out || !s->ended_at_out ||
        out_rip_past[HV_BACKEND_KVM] == out_rip_past[HV_BACKEND_SIM])
        return s->regs.rip;
    *adjusted = true;
    return out_rip_past[HV_BACKEND_KVM] ? s->regs.rip + s->exit_insn_len
                                        : s->regs.rip - s->exit_insn_len;
}

static void compare_regs(Diff *d, const Outcome *ko, const Outcome *so)
{
    const KvmRegs *k = &ko->regs, *s = &so->regs;
    bool adjusted;
    uint64_t want_rip = expected_kvm_rip(ko, so, &adjusted);
    if (adjusted)
        fprintf(d->out, "  (ended at an OUT: kvm reports RIP %s it, sim %s it; compared kvm "
                "RIP %llx with sim RIP %llx %c %u)\n",
                out_rip_past[HV_BACKEND_KVM] ? "past" : "at",
                out_rip_past[HV_BACKEND_SIM] ? "past" : "at", (unsigned long long)k->rip,
                (unsigned long long)s->rip, out_rip_past[HV_BACKEND_KVM] ? '+' : '-',
                so->exit_insn_len);
    if (k->rip != want_rip)
        differ(d, "%-6s kvm %016llx  sim %016llx%s", "rip", (unsigned long long)k->rip,
               (unsigned long long)s->rip, adjusted ? " (after the OUT adjustment)" : "");
    static const char *const names[] = {
        "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp", "r8", "r9",
        "r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags",
    };
    /* struct kvm_regs is 18 consecutive __u64 in this order. */
    _Static_assert(sizeof(KvmRegs) == sizeof(names) / sizeof(names[0]) * sizeof(__u64),
                   "struct kvm_regs is 18 registers");
    const __u64 *kv = &k->rax, *sv = &s->rax;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (kv[i] != sv[i] && &kv[i] != &k->rip)
            differ(d, "%-6s kvm %016llx  sim %016llx", names[i], (unsigned long long)kv[i],
                   (unsigned long long)sv[i]);
}

/* The special registers: every segment register and its cache, the descriptor tables and
 * the control registers, as scratchvm diff compares them (the library's vm_compare_sregs;
 * lines "name  kvm  |  sim"). The interrupt bitmap is for an in-kernel interrupt
 * controller, which neither kernel has here. */
static void compare_sregs(Diff *d, const KvmSregs *k, const KvmSregs *s)
{
    d->differences += vm_compare_sregs(d->out, k, s);
}

static void compare_vga(Diff *d, const Outcome *k, const Outcome *s)
{
    if (k->cursor_x != s->cursor_x || k->cursor_y != s->cursor_y)
        differ(d, "VGA cursor: kvm row %d col %d, sim row %d col %d", k->cursor_y, k->cursor_x,
               s->cursor_y, s->cursor_x);
    if (memcmp(k->vram, s->vram, VGA_TEXT_SIZE) == 0)
        return;
    /* The rows of the visible screen that differ, as text; then whether the attributes
     * or the memory past the screen do. */
    uint8_t kv[VGA_TEXT_SIZE], sv[VGA_TEXT_SIZE];
    memcpy(kv, k->vram, sizeof(kv));
    memcpy(sv, s->vram, sizeof(sv));
    VgaDevice kd = {.vram = kv}, sd = {.vram = sv};
    for (int row = 0; row < VGA_ROWS; row++) {
        size_t off = (size_t)row * VGA_COLS * 2;
        if (memcmp(kv + off, sv + off, VGA_COLS * 2) == 0)
            continue;
        char kr[VGA_ROW_UTF8_MAX], sr[VGA_ROW_UTF8_MAX];
        vga_render_row(&kd, row, kr, sizeof(kr));
        vga_render_row(&sd, row, sr, sizeof(sr));
        differ(d, "VGA row %2d: kvm \"%s\"\n              sim \"%s\"%s", row, kr, sr,
               strcmp(kr, sr) == 0 ? " (attributes differ)" : "");
    }
    size_t screen = (size_t)VGA_ROWS * VGA_COLS * 2;
    if (memcmp(kv + screen, sv + screen, VGA_TEXT_SIZE - screen) != 0)
        differ(d, "VGA memory past the visible screen differs");
}

static void print_outcome_log(FILE *out, const char *backend, const Outcome *o)
{
    if (o->log_len)
        fprintf(out, "  log on %s:\n%s", backend, o->log);
}

/* Runs one guest on both kernels and compares. */
static void test_guest(void **state)
{
    const ParityGuest *g = *state;
    if (!guest_dir || !kvm_ok) {
        printf("[ SKIPPED  ] %s: %s\n", g->name, !guest_dir ? "no guest directory (see above)" :
               "KVM is not usable here (see above)");
        skip();
    }
    if (g->differs_on_purpose) {
        printf("[ SKIPPED  ] %s: %s\n", g->name, g->differs_on_purpose);
        skip();
    }
    size_t size = 0;
    uint8_t *image = read_guest(g->name, &size);
    if (!image) {
        printf("[ SKIPPED  ] %s: %s/%s.bin not found (run `make` first)\n", g->name, guest_dir,
               g->name);
        skip();
    }
    Outcome k, s;
    run_guest(g, image, size, HV_BACKEND_KVM, &k);
    run_guest(g, image, size, HV_BACKEND_SIM, &s);
    free(image);

    Diff d = {.out = stdout};
    VmStopReason cannot = g->kvm_cannot_stop ? g->kvm_cannot_stop : VM_STOP_INTERNAL_ERROR;
    if (g->kvm_cannot && k.stop_reason == cannot) {
        printf("[ SKIPPED  ] %s on kvm: this host's KVM cannot run it (%s); its report:\n%s",
               g->name, g->kvm_cannot, k.log);
        size_t n = strlen(g->sim_serial_end);
        if (s.stop_reason != VM_STOP_DEBUG_EXIT || s.debug_exit_value != g->sim_debug_exit)
            differ(&d, "sim: stop %s, debug exit 0x%x, expected debug exit 0x%x",
                   stop_name(s.stop_reason), s.debug_exit_value, g->sim_debug_exit);
        if (s.serial_len < n || memcmp(s.serial + s.serial_len - n, g->sim_serial_end, n) != 0)
            differ(&d, "sim: serial output does not end with the expected text");
        else
            printf("  sim alone: debug exit 0x%x, %zu serial bytes ending as expected\n",
                   s.debug_exit_value, s.serial_len);
        outcome_free(&k);
        outcome_free(&s);
        fflush(stdout);
        if (d.differences) fail_msg("%s: sim run differs from its expectation", g->name);
        return;
    }
    printf("[ PARITY   ] %s:\n", g->name);
    if (k.watchdog_fired || s.watchdog_fired)
        differ(&d, "did not end within %d ms: kvm %s, sim %s", WATCHDOG_MS,
               k.watchdog_fired ? "stopped by the watchdog" : "ended",
               s.watchdog_fired ? "stopped by the watchdog" : "ended");
    compare_exit(&d, &k, &s);
    if (g->exit_status_only) {
        /* See the guest's table entry for why nothing else is compared. */
        for (int side = 0; side < 2; side++) {
            const Outcome *o = side ? &s : &k;
            bool known = false;
            for (size_t i = 0; i < sizeof(triplefault_outputs) / sizeof(triplefault_outputs[0]);
                 i++)
                known |= strcmp(o->serial, triplefault_outputs[i]) == 0;
            if (!known) {
                fprintf(stdout, "  %s's serial output is neither path's: ", side ? "sim" : "kvm");
                print_escaped(stdout, o->serial, o->serial_len);
                fputc('\n', stdout);
                d.differences++;
            }
        }
    } else {
        compare_bytes(&d, "serial output", k.serial, k.serial_len, s.serial, s.serial_len);
        compare_bytes(&d, "debug console (0xE9)", k.console, k.console_len, s.console,
                      s.console_len);
        compare_vga(&d, &k, &s);
        if (k.exit_count != s.exit_count && g->exit_count_may_differ)
            printf("  (exits to the VMM: kvm %" PRIu64 ", sim %" PRIu64 "; not compared, see "
                   "the guest's entry)\n", k.exit_count, s.exit_count);
        else if (k.exit_count != s.exit_count)
            differ(&d, "exits to the VMM: kvm %" PRIu64 ", sim %" PRIu64, k.exit_count,
                   s.exit_count);
        /* both kernels batch the VGA text writes after the first alike (KVM_CAP_COALESCED_MMIO) */
        if (k.coalesced_writes != s.coalesced_writes && !g->exit_count_may_differ)
            differ(&d, "coalesced MMIO writes: kvm %" PRIu64 ", sim %" PRIu64,
                   k.coalesced_writes, s.coalesced_writes);
        if (k.io_unhandled != s.io_unhandled)
            differ(&d, "unhandled port accesses: kvm %" PRIu64 ", sim %" PRIu64,
                   k.io_unhandled, s.io_unhandled);
        if (k.mmio_unhandled != s.mmio_unhandled)
            differ(&d, "unhandled MMIO accesses: kvm %" PRIu64 ", sim %" PRIu64,
                   k.mmio_unhandled, s.mmio_unhandled);
        compare_regs(&d, &k, &s);
        compare_sregs(&d, &k.sregs, &s.sregs);
    }
    if (d.differences) {
        print_outcome_log(stdout, "kvm", &k);
        print_outcome_log(stdout, "sim", &s);
    } else {
        printf("  same on both: %s%s, %" PRIu64 " exits, %" PRIu64 " coalesced MMIO writes, "
               "%zu serial bytes, RIP %04llx:%04llx%s\n",
               stop_name(k.stop_reason), g->exit_status_only ? " (exit status only)" : "",
               k.exit_count, k.coalesced_writes, k.serial_len, (unsigned long long)k.sregs.cs.selector,
               (unsigned long long)k.regs.rip, g->exit_status_only ? " on kvm" : "");
    }
    outcome_free(&k);
    outcome_free(&s);
    fflush(stdout);   /* the diff above, before cmocka's verdict on stderr */
    if (d.differences)
        fail_msg("%s: %d difference%s between kvm and sim", g->name, d.differences,
                 d.differences == 1 ? "" : "s");
}

/* Every guest in the directory has a setup here: a new guest cannot go untested. */
static void test_every_guest_has_a_setup(void **state)
{
    (void)state;
    if (!guest_dir) {
        printf("[ SKIPPED  ] %s: no guest directory (see above)\n", __func__);
        skip();
    }
    DIR *dir = opendir(guest_dir);
    assert_non_null(dir);
    int missing = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        size_t len = strlen(e->d_name);
        if (len <= 4 || strcmp(e->d_name + len - 4, ".bin") != 0)
            continue;
        bool found = false;
        for (size_t i = 0; i < NUM_GUESTS; i++)
            found |= strlen(guests[i].name) == len - 4 &&
                     strncmp(guests[i].name, e->d_name, len - 4) == 0;
        if (!found) {
            printf("  %s/%s has no entry in test_parity.c's table\n", guest_dir, e->d_name);
            missing++;
        }
    }
    closedir(dir);
    assert_int_equal(missing, 0);
}

/* Whether backend b reports RIP past an OUT at its KVM_EXIT_IO: runs `out %al,$0x80; hlt`
 * at 0000:1000 for one exit. */
static bool probe_out_rip(HvBackend b)
{
    static const uint8_t code[] = {0xE6, 0x80, 0xF4};
    SimpleVM *svm = vm_create_bytes(64 * 1024, b);
    if (!svm)
        return false;
    svm->serial->output_fd = -1;
    svm->debug_exit->console_fd = -1;
    bool past = false;
    if (vm_load_code(svm, code, sizeof(code), 0x1000) == 0) {
        svm->vcpu->regs.rip = 0x1000;
        svm->max_exits = 1;
        hv_set_log_level(HV_LOG_ERROR);   /* port 0x80 is unhandled: no warning */
        vm_run(svm);
        hv_set_log_level(HV_LOG_WARN);
        past = svm->vcpu->regs.rip == 0x1000 + 2;
    }
    vm_destroy(svm);
    return past;
}

static int group_setup(void **state)
{
    (void)state;
    const char *env = getenv("SCRATCHVM_GUEST_DIR");
    const char *dir = env && *env ? env : "build/guests";
    struct stat st;
    if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) {
        guest_dir = dir;
    } else {
        printf("[ SKIPPED  ] every parity test: no guests at %s (set SCRATCHVM_GUEST_DIR, or "
               "run `make` and run the test from the repository root)\n", dir);
    }
    kvm_ok = kvm_hw_usable(kvm_why, sizeof(kvm_why));
    if (!kvm_ok)
        printf("[ SKIPPED  ] every parity test: KVM is not usable here (%s); the sim backend "
               "alone has nothing to compare with\n", kvm_why);
    if (kvm_ok) {
        out_rip_past[HV_BACKEND_KVM] = probe_out_rip(HV_BACKEND_KVM);
        out_rip_past[HV_BACKEND_SIM] = probe_out_rip(HV_BACKEND_SIM);
        printf("[ PARITY   ] at an OUT exit, RIP is %s the OUT on kvm, %s it on sim\n",
               out_rip_past[HV_BACKEND_KVM] ? "past" : "at",
               out_rip_past[HV_BACKEND_SIM] ? "past" : "at");
    }
    return 0;
}

int main(void)
{
    struct CMUnitTest tests[NUM_GUESTS + 1];
    tests[0] = (struct CMUnitTest)cmocka_unit_test(test_every_guest_has_a_setup);
    for (size_t i = 0; i < NUM_GUESTS; i++) {
        tests[i + 1] = (struct CMUnitTest){
            .name = guests[i].name,
            .test_func = test_guest,
            .initial_state = (void *)&guests[i],
        };
    }
    return cmocka_run_group_tests_name("parity", tests, group_setup, NULL);
}
