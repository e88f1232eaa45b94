/* TEMPORARY stand-in on branch sim-wip only: replaced by the vmcs branch. */
#include "sim/vmcs.h"
void vmcs_init_controls(VMCS *vmcs) { (void)vmcs; }
int vmcs_check_guest_state(const VMCS *vmcs, uint64_t *q, char *why, size_t n) { (void)vmcs; (void)q; (void)why; (void)n; return 0; }
uint64_t vmx_io_qualification(uint8_t size, bool in, bool string, bool rep, bool imm, uint16_t port) { return (uint64_t)(size - 1) | (in << 3) | (string << 4) | (rep << 5) | (imm << 6) | ((uint64_t)port << 16); }
uint32_t vmx_exit_reason(uint16_t basic, bool f) { return basic | (f ? 0x80000000u : 0); }
