/* A program written against the public API only: builds with
 *   cc -std=c17 -Iinclude tests/api/example.c build/libscratchvm.a
 * and nothing else. It runs the seed's example ("Hi!" on COM1), then its own guest,
 * and prints what it saw. Exit 0 when both worked; 77 when no backend can run a VM here. */
#include <stdio.h>
#include <string.h>

#include "hypervisor_sim.h"

int main(void)
{
    KvmDevice *probe = kvm_open();
    if (!probe) {
        printf("skipped: no backend can run a VM here: %s\n", hv_last_error());
        return 77;
    }
    kvm_close(probe);

    if (vm_run_real_mode_example() != 0) {
        fprintf(stderr, "vm_run_real_mode_example: %s\n", hv_last_error());
        return 1;
    }

    /* add %ebx,%eax; mov $0x3f8,%dx; out %al,%dx; hlt */
    static const uint8_t code[] = {0x66, 0x01, 0xD8, 0xBA, 0xF8, 0x03, 0xEE, 0xF4};
    SimpleVM *svm = vm_create(1);
    if (!svm) {
        fprintf(stderr, "vm_create: %s\n", hv_last_error());
        return 1;
    }
    svm->serial->output_fd = -1;
    if (vm_load_code(svm, code, sizeof(code), 0x7C00) != 0)
        return 1;
    svm->vcpu->regs.rax = 'A';   /* the vCPU starts at 0000:7C00 */
    svm->vcpu->regs.rbx = 1;
    int r = vm_run(svm);
    char out[4] = "";
    serial_output_latest(svm->serial, out, sizeof(out) - 1);
    printf("guest sent '%s', stopped %s\n", out, svm->stop_reason == VM_STOP_HLT ? "at hlt" : "?");
    int ok = r == 0 && strcmp(out, "B") == 0 && svm->vcpu->regs.rip == 0x7C08;
    vm_destroy(svm);
    return ok ? 0 : 1;
}
