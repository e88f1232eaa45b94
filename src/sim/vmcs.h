/* TEMPORARY stand-in on branch sim-wip only: replaced by the vmcs branch (real checks). */
#include "hypervisor_sim.h"
void vmcs_init_controls(VMCS *vmcs);
int vmcs_check_guest_state(const VMCS *vmcs, uint64_t *qualification, char *why, size_t why_size);
uint64_t vmx_io_qualification(uint8_t size, bool in, bool string, bool rep, bool imm, uint16_t port);
uint32_t vmx_exit_reason(uint16_t basic, bool entry_failure);
