/* Whether the real KVM (/dev/kvm) can run a VM on this host. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kvm/backend.h"

/* The KVM device: /dev/kvm, unless SCRATCHVM_KVM_DEVICE names another path (tests use it
 * to stand for a machine without KVM). */
const char *hv_kvm_device_path(void)
{
    const char *path = getenv("SCRATCHVM_KVM_DEVICE");
    return path && *path ? path : "/dev/kvm";
}

__attribute__((format(printf, 3, 4)))
static void set_why(char *why, size_t why_size, const char *fmt, ...)
{
    if (!why || why_size == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_size, fmt, ap);
    va_end(ap);
}

/* Opens /dev/kvm read-write, checks KVM_GET_API_VERSION == KVM_API_VERSION (12) and that
 * KVM_CREATE_VM succeeds, then closes every descriptor it opened. Returns true when all
 * of that works; otherwise false with a one-line reason in `why` (when non-NULL and
 * why_size > 0; "" on success). Prints nothing, caches nothing, leaves errno unspecified. */
bool kvm_hw_usable(char *why, size_t why_size)
{
    set_why(why, why_size, "%s", "");

    int kvm = open(hv_kvm_device_path(), O_RDWR | O_CLOEXEC);
    if (kvm < 0) {
        set_why(why, why_size, "%s: %s", hv_kvm_device_path(), strerror(errno));
        return false;
    }

    bool ok = false;
    int version = ioctl(kvm, KVM_GET_API_VERSION, 0);
    if (version < 0) {
        set_why(why, why_size, "KVM_GET_API_VERSION: %s", strerror(errno));
        goto out_close_kvm;
    }
    if (version != KVM_API_VERSION) {
        set_why(why, why_size, "KVM API version %d, need %d", version, KVM_API_VERSION);
        goto out_close_kvm;
    }

    int vm;
    do
        vm = ioctl(kvm, KVM_CREATE_VM, 0);
    while (vm < 0 && errno == EINTR);
    if (vm < 0) {
        set_why(why, why_size, "KVM_CREATE_VM: %s", strerror(errno));
        goto out_close_kvm;
    }
    close(vm);
    ok = true;

out_close_kvm:
    close(kvm);
    return ok;
}
