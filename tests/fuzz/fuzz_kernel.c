/*
 * Harness: the -kernel loader (vm_load_kernel in src/vmm/loader.c) with every format it
 * detects: Linux bzImage setup headers, multiboot v1 headers (ELF and the a.out kludge),
 * plain ELF32/ELF64 program headers, plus the command line and modules (multiboot
 * modules, the Linux initrd) that go with them.
 * Input: a flags byte (bits 0-1: guest RAM 64 KiB, 1 MiB, 2 MiB or 8 MiB; bit 2: a
 * command line follows, as a length byte and its bytes; bits 3-5: that many modules
 * follow, each a 16-bit length and its bytes), then the kernel image (the rest).
 * A fresh sim VM per input; the loader's result (0 or a negative errno) is not checked,
 * only that it neither crashes nor touches memory it should not. When it loads, a few
 * hundred instructions are stepped from the entry state it set, so a loader that leaves the vCPU
 * in a state the VM entry checks or the CPU model trip over is a finding too.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "hypervisor_sim.h"

#define FUZZ_KERNEL_MAX_MODULES 7
#define FUZZ_KERNEL_RUN_INSNS 256

static FILE *devnull;
static bool verbose;   /* FUZZ_VERBOSE=1: each input's outcome on stderr (for seeds) */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    devnull = fuzz_quiet_output();
    verbose = getenv("FUZZ_VERBOSE") != NULL;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t ram_sizes[4] = {VM_MIN_RAM, 1u << 20, 2u << 20, 8u << 20};
    FuzzIn in = {data, size};
    unsigned flags = fuzz_take(&in, 1);
    char cmdline[256];
    const char *cmd = NULL;
    if (flags & 4) {
        size_t n = fuzz_take(&in, 1);
        if (n > in.left)
            n = in.left;
        memcpy(cmdline, in.p, n);   /* NUL bytes inside are fine: the string ends there */
        cmdline[n] = '\0';
        in.p += n;
        in.left -= n;
        cmd = cmdline;
    }
    VmModule mods[FUZZ_KERNEL_MAX_MODULES];
    size_t nmods = (flags >> 3) & 7;
    for (size_t i = 0; i < nmods; i++) {
        size_t n = fuzz_take(&in, 2);
        if (n > in.left)
            n = in.left;
        /* A module may be empty (size 0): its data pointer still points into the input. */
        mods[i] = (VmModule){.data = in.p, .size = n, .cmdline = i & 1 ? "mod" : NULL};
        in.p += n;
        in.left -= n;
    }
    /* The image in a buffer of its own size, so ASan sees a read past its end. */
    uint8_t *image = malloc(in.left ? in.left : 1);
    if (!image)
        return 0;
    memcpy(image, in.p, in.left);
    VmKernelSpec k = {.image = image, .size = in.left, .cmdline = cmd,
                      .modules = nmods ? mods : NULL, .num_modules = nmods};

    SimpleVM *svm = vm_create_bytes(ram_sizes[flags & 3], HV_BACKEND_SIM);
    if (svm) {
        int r = vm_load_kernel(svm, &k);
        if (verbose)
            fprintf(stderr, "fuzz_kernel: %s, load: %d %s\n",
                    vm_kernel_format_name(vm_kernel_detect(image, in.left)), r,
                    r < 0 ? hv_last_error() : "");
        /* Stepped, not vm_run: a guest that halts with interrupts on would wait for an
         * interrupt for ever (as it should: only a stop from outside ends it). */
        for (int i = 0; r == 0 && i < FUZZ_KERNEL_RUN_INSNS; i++) {
            r = vm_step(svm);
            if (svm->stop_reason != VM_STOP_STEPPED)
                break;
        }
        if (verbose && svm->vcpu && kvm_vcpu_instructions_retired(svm->vcpu))
            fprintf(stderr, "fuzz_kernel: ran: %d, %llu instructions\n", r,
                    (unsigned long long)kvm_vcpu_instructions_retired(svm->vcpu));
        vm_destroy(svm);
    }
    free(image);
    return 0;
}
