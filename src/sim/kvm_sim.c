/*
 * The sim backend: a software model of a VT-x processor under the KVM API.
 * Not implemented yet (issue "Software backend"): opening it fails with ENOSYS.
 */
#include <errno.h>

#include "kvm/backend.h"

static int sim_open(KvmDevice *kvm)
{
    (void)kvm;
    return hv_fail(ENOSYS, "the software backend (sim) is not available yet");
}

const KvmBackendOps kvm_sim_ops = {
    .name = "sim",
    .open = sim_open,
};
