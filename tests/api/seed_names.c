/* A program written against the seed header (../shared/seed/hypervisor_sim.h): it uses
 * every type, field, enumerator, macro and function the seed declares, with the seed's
 * types where the project keeps them, and runs the seed's own example sequence
 * (vm_create(1), vm_load_code at 0x7C00, regs.rip = 0x7C00, vm_run, vm_destroy).
 * `make check-api` builds it with exactly
 *   cc -std=c17 -Iinclude tests/api/seed_names.c build/libscratchvm.a
 * and runs it on each backend (SCRATCHVM_KVM_DEVICE=/nonexistent makes kvm_open choose
 * the software one). Exit 0 when everything held; 77 when no backend can run a VM.
 *
 * Where the project's signature differs from the seed's (documented in the header), the
 * program calls it the project's way and says so: the device handlers return 0 or
 * -errno instead of bool, and port values are 32-bit (serial_io_read, IoPortHandler.read). */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hypervisor_sim.h"

static int failures;

#define CHECK(cond)                                                       \
    do {                                                                  \
        if (!(cond)) {                                                    \
            fprintf(stderr, "seed_names:%d: %s\n", __LINE__, #cond);      \
            failures++;                                                   \
        }                                                                 \
    } while (0)

/* The seed's ioctl numbers and exit codes are Linux's. */
static_assert(KVM_GET_API_VERSION == 0xAE00, "KVM_GET_API_VERSION");
static_assert(KVM_CREATE_VM == 0xAE01, "KVM_CREATE_VM");
static_assert(KVM_CHECK_EXTENSION == 0xAE03, "KVM_CHECK_EXTENSION");
static_assert(KVM_GET_VCPU_MMAP_SIZE == 0xAE04, "KVM_GET_VCPU_MMAP_SIZE");
static_assert(KVM_CREATE_VCPU == 0xAE41, "KVM_CREATE_VCPU");
static_assert(KVM_RUN == 0xAE80, "KVM_RUN");
static_assert(KVM_GET_REGS == 0x8090AE81, "KVM_GET_REGS");
static_assert(KVM_SET_REGS == 0x4090AE82, "KVM_SET_REGS");
static_assert(KVM_GET_SREGS == 0x8138AE83, "KVM_GET_SREGS");
static_assert(KVM_SET_SREGS == 0x4138AE84, "KVM_SET_SREGS");
static_assert(KVM_SET_USER_MEMORY_REGION == 0x4020AE46, "KVM_SET_USER_MEMORY_REGION");
static_assert(KVM_EXIT_UNKNOWN == 0 && KVM_EXIT_EXCEPTION == 1 && KVM_EXIT_IO == 2 &&
              KVM_EXIT_HYPERCALL == 3 && KVM_EXIT_DEBUG == 4 && KVM_EXIT_HLT == 5 &&
              KVM_EXIT_MMIO == 6 && KVM_EXIT_IRQ_WINDOW_OPEN == 7 && KVM_EXIT_SHUTDOWN == 8 &&
              KVM_EXIT_FAIL_ENTRY == 9 && KVM_EXIT_INTERNAL_ERROR == 17, "KVM_EXIT_*");
static_assert(EXIT_REASON_EXCEPTION_NMI == 0 && EXIT_REASON_EXTERNAL_INTERRUPT == 1 &&
              EXIT_REASON_TRIPLE_FAULT == 2 && EXIT_REASON_INIT_SIGNAL == 3 &&
              EXIT_REASON_CPUID == 10 && EXIT_REASON_HLT == 12 && EXIT_REASON_INVLPG == 14 &&
              EXIT_REASON_RDPMC == 15 && EXIT_REASON_RDTSC == 16 && EXIT_REASON_VMCALL == 18 &&
              EXIT_REASON_CR_ACCESS == 28 && EXIT_REASON_IO_INSTRUCTION == 30 &&
              EXIT_REASON_MSR_READ == 31 && EXIT_REASON_MSR_WRITE == 32 &&
              EXIT_REASON_EPT_VIOLATION == 48 && EXIT_REASON_EPT_MISCONFIG == 49,
              "EXIT_REASON_*");
static_assert(EPT_READ == (1 << 0) && EPT_WRITE == (1 << 1) && EPT_EXECUTE == (1 << 2) &&
              EPT_MEMORY_TYPE_MASK == (7 << 3) && EPT_MEMORY_TYPE_UC == (0 << 3) &&
              EPT_MEMORY_TYPE_WB == (6 << 3) && EPT_IGNORE_PAT == (1 << 6) &&
              EPT_LARGE_PAGE == (1 << 7), "EPT_*");

/* Part 1: hypervisor types. */
static void hypervisor_types_part(void)
{
    HypervisorType types[] = {HYPERVISOR_TYPE_1, HYPERVISOR_TYPE_2, HYPERVISOR_KVM};
    CHECK(types[0] != types[1] && types[1] != types[2] && types[0] != types[2]);
    HypervisorInfo info = {.name = "KVM", .type = HYPERVISOR_KVM, .requires_host_os = true,
                           .hardware_virt_required = true, .examples = "QEMU/KVM"};
    CHECK(info.requires_host_os && info.hardware_virt_required && info.examples[0]);
    print_hypervisor_types();
}

/* Part 2: the VMCS view and the CPU's capabilities. */
static void cpu_part(void)
{
    VMCS v = {0};
    v.guest_cr0 = 0x10;
    v.guest_cr3 = v.guest_cr4 = v.guest_rip = v.guest_rsp = 0;
    v.guest_rflags = 2;
    v.guest_cs = v.guest_ss = v.guest_ds = v.guest_es = 0;
    v.guest_cs_base = v.guest_ss_base = 0;
    v.host_cr0 = v.host_cr3 = v.host_cr4 = v.host_rip = v.host_rsp = 0;
    v.pin_based_controls = v.proc_based_controls = v.proc_based_controls2 = 0;
    v.ept_pointer = 0;
    v.exit_controls = v.exit_reason = 0;
    v.exit_qualification = 0;
    v.entry_controls = 0;
    v.entry_interrupt_info = 0;
    VmExitReason r = EXIT_REASON_HLT;
    CHECK(v.guest_rflags == 2 && r == 12);

    CpuVirtCaps caps = check_cpu_virt_support();
    bool flags[] = {caps.vmx_supported, caps.svm_supported, caps.ept_supported,
                    caps.npt_supported, caps.unrestricted_guest};
    printf("caps: vmx %d svm %d ept %d npt %d unrestricted_guest %d\n", flags[0], flags[1],
           flags[2], flags[3], flags[4]);
    CHECK(!(caps.vmx_supported && caps.svm_supported));   /* one vendor's extension */
    CHECK(!caps.npt_supported || caps.svm_supported);
    CHECK(!caps.ept_supported || caps.vmx_supported);
}

/* Part 3: the KVM API by hand: one OUT, then HLT. */
static void kvm_part(void)
{
    KvmDevice *kvm = kvm_open();
    if (!kvm) {
        failures++;
        return;
    }
    int fd = kvm->fd;
    CHECK(kvm->api_version == 12);
    bool ext0 = kvm->extensions[0];
    (void)fd, (void)ext0;
    KvmVm *vm = kvm_create_vm(kvm);
    CHECK(vm != NULL);
    if (!vm)
        goto out;
    size_t size = 1 << 20;
    uint8_t *mem = aligned_alloc(4096, size);
    CHECK(mem != NULL);
    if (!mem)
        goto out;
    memset(mem, 0, size);
    /* mov $0x3f8,%dx; mov $'K',%al; out %al,%dx; hlt */
    static const uint8_t code[] = {0xBA, 0xF8, 0x03, 0xB0, 'K', 0xEE, 0xF4};
    memcpy(mem + 0x7C00, code, sizeof(code));
    CHECK(kvm_set_user_memory_region(vm, 0, 0, size, mem) == 0);
    KvmUserspaceMemoryRegion *region = vm->memory_regions;
    size_t regions = (size_t)vm->num_regions;
    CHECK(regions == 1 && region->slot == 0 && region->flags == 0 &&
          region->guest_phys_addr == 0 && region->memory_size == size &&
          region->userspace_addr == (uint64_t)(uintptr_t)mem);
    CHECK(vm->fd == vm->fd && vm->kvm == kvm);
    uint8_t *gm = vm->guest_memory;
    size_t gsize = vm->memory_size;
    CHECK(gm == mem && gsize == size);

    KvmVcpu *vcpu = kvm_create_vcpu(vm, 0);
    CHECK(vcpu != NULL);
    if (!vcpu)
        goto free_mem;
    CHECK(vcpu->vm == vm && vcpu->vcpu_id == 0 && vcpu->fd == vcpu->fd);
    CHECK(vcpu->kvm_run != NULL && vcpu->kvm_run_size >= sizeof(KvmRun));
    KvmRegs regs;
    CHECK(kvm_get_regs(vcpu, &regs) == 0);
    regs.rax = regs.rbx = regs.rcx = regs.rdx = 0;
    regs.rsi = regs.rdi = regs.rsp = regs.rbp = 0;
    regs.r8 = regs.r9 = regs.r10 = regs.r11 = regs.r12 = regs.r13 = regs.r14 = regs.r15 = 0;
    regs.rip = 0x7C00;
    regs.rflags = 2;
    CHECK(kvm_set_regs(vcpu, &regs) == 0);
    KvmSregs *sr = &vcpu->sregs;
    KvmSegment *segs[] = {&sr->cs, &sr->ds, &sr->es, &sr->fs, &sr->gs, &sr->ss, &sr->tr, &sr->ldt};
    for (size_t i = 0; i < sizeof(segs) / sizeof(segs[0]); i++) {
        KvmSegment *s = segs[i];
        uint64_t sum = s->base + s->limit + s->selector + s->type + s->present + s->dpl +
                       s->db + s->s + s->l + s->g + s->avl + s->unusable;
        (void)sum;
    }
    uint64_t sys = sr->gdt.base + sr->gdt.limit + sr->idt.base + sr->idt.limit + sr->cr0 +
                   sr->cr2 + sr->cr3 + sr->cr4 + sr->cr8 + sr->efer + sr->apic_base;
    (void)sys;
    CHECK(sr->cs.selector == 0 && (sr->cr0 & 1) == 0);   /* real mode */
    vcpu->regs = regs;

    KvmRun *run = vcpu->kvm_run;
    run->request_interrupt_window = 0;
    run->immediate_exit = 0;
    (void)run->padding1;
    int r = kvm_run(vcpu);
    CHECK(r == 0 && run->exit_reason == KVM_EXIT_IO);
    if (r == 0 && run->exit_reason == KVM_EXIT_IO) {
        /* Linux's values: KVM_EXIT_IO_OUT is 1 (the seed's comment has them swapped). */
        CHECK(run->io.direction == KVM_EXIT_IO_OUT && run->io.size == 1 &&
              run->io.port == 0x3F8 && run->io.count == 1);
        CHECK(((uint8_t *)run)[run->io.data_offset] == 'K');
    }
    uint64_t misc = run->ready_for_interrupt_injection + run->if_flag + run->flags + run->cr8 +
                    run->apic_base + run->mmio.phys_addr + run->mmio.data[0] + run->mmio.len +
                    run->mmio.is_write + run->hypercall.nr + run->hypercall.args[0] +
                    run->hypercall.ret + run->hypercall.longmode;
    (void)misc;
    r = kvm_run(vcpu);
    CHECK(r == 0 && run->exit_reason == KVM_EXIT_HLT);
    CHECK(kvm_get_regs(vcpu, &regs) == 0 && regs.rip == 0x7C07);
    printf("kvm api: OUT 'K' to 0x3f8, then HLT at 0x%llx on %s\n",
           (unsigned long long)regs.rip - 1, hv_backend_name(kvm->backend));
free_mem:
    kvm_close(kvm);   /* frees the VM and vCPU; the memory is ours */
    free(mem);
    return;
out:
    kvm_close(kvm);
}

/* Part 4: EPT tables. */
static void ept_part(void)
{
    EptContext *ept = ept_create(1 << 20);
    CHECK(ept != NULL);
    if (!ept)
        return;
    uint8_t *page = aligned_alloc(4096, 4096);
    CHECK(ept->pml4 != NULL && ept->guest_phys_size == 1 << 20);
    void *base = ept->host_memory_base;
    (void)base;
    uint64_t hpa = (uint64_t)(uintptr_t)page;
    CHECK(ept_map_page(ept, 0x1000, hpa, EPT_READ | EPT_WRITE | EPT_EXECUTE) == 0);
    EptTable *pml4 = ept->pml4;
    CHECK((pml4->entries[0] & (EPT_READ | EPT_WRITE | EPT_EXECUTE)) != 0);
    CHECK((pml4->entries[0] & EPT_LARGE_PAGE) == 0);
    (void)(EPT_MEMORY_TYPE_MASK | EPT_MEMORY_TYPE_UC | EPT_MEMORY_TYPE_WB | EPT_IGNORE_PAT);
    /* A read of a mapped page already translates: the kernel resolves it. */
    CHECK(ept_handle_violation(ept, 0x1000, 1) == 0);
    /* An unmapped one is the VMM's (MMIO). */
    CHECK(ept_handle_violation(ept, 0x5000, 1) != 0);
    ept_destroy(ept);
    free(page);
}

/* Part 5: devices, through the seed's names. */
static void device_part(void)
{
    SerialPort *sp = serial_create();
    CHECK(sp != NULL);
    if (!sp)
        return;
    /* Project convention: 0 on success, the value in a 32-bit port word. */
    CHECK(serial_io_write(0x3F8, 1, 'S', sp) == 0);
    uint32_t lsr = 0;
    CHECK(serial_io_read(0x3FD, 1, &lsr, sp) == 0 && (lsr & 0x20));
    CHECK(sp->output_pos == 1 && sp->output_buffer[0] == 'S');
    uint8_t regs = sp->rbr | sp->thr | sp->ier | sp->iir | sp->lcr | sp->mcr | sp->lsr | sp->msr;
    (void)regs;
    serial_destroy(sp);

    VgaDevice *vga = vga_create();
    CHECK(vga != NULL && vga->vram != NULL);
    if (!vga)
        return;
    CHECK(vga_mmio_write(0xB8000, 2, 0x0748, vga) == 0);   /* 'H', grey on black */
    uint64_t cell = 0;
    CHECK(vga_mmio_read(0xB8000, 2, &cell, vga) == 0 && cell == 0x0748);
    CHECK(vga->cursor_x == 0 && vga->cursor_y == 0);
    vga_display(vga);
    vga_destroy(vga);   /* the project's; the seed has no destructor for it */

    IoPortHandler io = {.port = 0x3F8, .size = 8, .read = NULL, .write = NULL, .opaque = NULL};
    MmioHandler mmio = {.base = 0xB8000, .size = 0x8000, .read = NULL, .write = NULL, .opaque = NULL};
    CHECK(io.port == 0x3F8 && io.size == 8 && mmio.size == 0x8000);
}

/* Part 6: the seed's example sequence, then the monitor over what it built. */
static void simple_vm_part(void)
{
    /* mov $0x3f8,%dx; mov $'H',%al; out %al,%dx; mov $'i',%al; out; mov $'!',%al; out; hlt */
    static const uint8_t code[] = {0xBA, 0xF8, 0x03, 0xB0, 'H', 0xEE, 0xB0, 'i', 0xEE,
                                   0xB0, '!', 0xEE, 0xF4};
    SimpleVM *svm = vm_create(1);
    CHECK(svm != NULL);
    if (!svm)
        return;
    svm->serial->output_fd = -1;   /* keep it in output_buffer only */
    CHECK(vm_load_code(svm, code, sizeof(code), 0x7c00) == 0);
    svm->vcpu->regs.rip = 0x7c00;
    int r = vm_run(svm);
    CHECK(r == 0);
    CHECK(svm->serial->output_pos == 3 && memcmp(svm->serial->output_buffer, "Hi!", 3) == 0);
    CHECK(svm->vcpu->regs.rip == 0x7c00 + sizeof(code));
    KvmDevice *kvm = svm->kvm;
    KvmVm *vm = svm->vm;
    VgaDevice *vga = svm->vga;
    EptContext *ept = svm->ept;
    bool running = svm->running;
    (void)vga, (void)running;
    CHECK(kvm != NULL && vm != NULL);

    /* The sim backend's VMCS, in the seed's flat names: the last exit was the HLT. */
    const VMCS *v = kvm_vcpu_vmcs(svm->vcpu);
    if (v) {
        CHECK(v->exit_reason == EXIT_REASON_HLT);
        /* The flat view is the VMCS's guest RIP (the sim records it past the HLT). */
        CHECK(v->guest_rip == v->guest.rip && v->guest_rip >= 0x7c00 + sizeof(code) - 1 &&
              v->guest_rip <= 0x7c00 + sizeof(code));
        CHECK(v->guest_cs == 0 && v->guest_cs_base == 0);
        CHECK(v->ept_pointer != 0 && ept != NULL);
        CHECK((v->proc_based_controls & (1u << 7)) != 0);   /* HLT exiting */
        CHECK(v->guest_cr0 == v->guest.cr0 && v->host_cr3 == v->host.cr3);
        printf("vmcs: exit_reason %u guest_rip 0x%llx ept_pointer %s\n", v->exit_reason,
               (unsigned long long)v->guest_rip, v->ept_pointer ? "set" : "0");
    } else {
        printf("vmcs: not visible on %s (the host kernel owns it)\n",
               hv_backend_name(kvm->backend));
    }

    QemuMonitor *mon = qemu_monitor_create(vm);   /* the seed's form: from the KvmVm */
    CHECK(mon != NULL);
    if (mon) {
        CHECK(mon->vm == vm && mon->num_vcpus == 1 && mon->vcpus[0] == svm->vcpu);
        bool com1 = false;
        for (size_t i = 0; i < mon->num_io_handlers; i++)
            com1 |= mon->io_handlers[i].port == 0x3F8 && mon->io_handlers[i].size == 8;
        CHECK(com1);
        bool text = false;
        for (size_t i = 0; i < mon->num_mmio_handlers; i++)
            text |= mon->mmio_handlers[i].base == 0xB8000 && mon->mmio_handlers[i].size == 0x8000;
        CHECK(text);
        printf("monitor: %zu vcpu, %zu io handlers, %zu mmio handlers\n", mon->num_vcpus,
               mon->num_io_handlers, mon->num_mmio_handlers);
        qemu_cmd_info_registers(mon, 0);
        qemu_cmd_info_mem(mon);
        qemu_cmd_x(mon, 0x7c00, 4);
        qemu_cmd_stop(mon);
        qemu_cmd_cont(mon);
        qemu_cmd_quit(mon);
        qemu_monitor_destroy(mon);   /* the project's; the seed has none */
    }
    KvmRun *run = svm->vcpu->kvm_run;
    (void)run;
    void (*handle_io)(SimpleVM *, KvmRun *) = NULL;   /* the seed's vm_handle_io returns void */
    (void)handle_io;
    (void)vm_handle_io, (void)vm_handle_mmio;
    vm_destroy(svm);
}

int main(void)
{
    KvmDevice *probe = kvm_open();
    if (!probe) {
        printf("skipped: no backend can run a VM here: %s\n", hv_last_error());
        return 77;
    }
    printf("backend: %s\n", hv_backend_name(probe->backend));
    kvm_close(probe);
    hypervisor_types_part();
    cpu_part();
    kvm_part();
    ept_part();
    device_part();
    simple_vm_part();
    CHECK(vm_run_real_mode_example() == 0);
    printf("%s\n", failures ? "seed names: FAILED" : "seed names: ok");
    return failures ? 1 : 0;
}
