/* Internals of src/hv/cpu_caps.c that the unit tests exercise without the hardware. */
#ifndef SCRATCHVM_HV_CPU_CAPS_H
#define SCRATCHVM_HV_CPU_CAPS_H

#include <stdint.h>

#include "hypervisor_sim.h"

/* Decodes EPT and unrestricted-guest support from the raw values of
 * IA32_VMX_PROCBASED_CTLS and IA32_VMX_PROCBASED_CTLS2 (SDM Vol. 3D, A.3.2 and A.3.3).
 * When "activate secondary controls" is not allowed-1, both are CAP_NO and
 * `procbased_ctls2` is ignored (the MSR need not even exist then). */
void vmx_decode_secondary_caps(uint64_t procbased_ctls, uint64_t procbased_ctls2,
                               CapState *ept, CapState *unrestricted_guest);

/* Whether IA32_VMX_PROCBASED_CTLS2 is worth reading: "activate secondary controls" is
 * allowed-1 in IA32_VMX_PROCBASED_CTLS. */
bool vmx_secondary_controls_allowed(uint64_t procbased_ctls);

#endif
