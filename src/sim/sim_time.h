/*
 * The sim kernel's time and platform MSRs as pure functions (src/sim/sim_time.c): the
 * TSC's fixed rate and its conversions from the VM clock, the kvm-clock structures in
 * guest memory (Linux Documentation/virt/kvm/x86/msr.rst), and the MTRRs' write checks
 * (SDM Vol. 3A, 12.11). kvm_sim.c keeps the state and calls these.
 */
#ifndef SCRATCHVM_SIM_TIME_H
#define SCRATCHVM_SIM_TIME_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/kvm_para.h>

/* The guest's TSC runs at 2 GHz whatever the host: a fixed rate keeps --clock virtual runs
 * identical on every host, and it is what CPUID 15H/16H and 40000010H state. The APIC
 * timer's input (the "core crystal clock" of CPUID 15H) is 1 GHz, LAPIC_BUS_HZ. */
#define SIM_TSC_HZ 2000000000ull
#define SIM_TSC_KHZ (SIM_TSC_HZ / 1000)
#define SIM_CRYSTAL_HZ 1000000000ull

/* TSC ticks in `ns` nanoseconds of the VM clock, and back (rounded down). */
uint64_t sim_ns_to_tsc(uint64_t ns);
uint64_t sim_tsc_to_ns(uint64_t tsc);

/* KVM's paravirtual CPUID leaves and MSRs are <linux/kvm_para.h>'s (KVM_CPUID_SIGNATURE,
 * KVM_CPUID_FEATURES, KVM_FEATURE_*, MSR_KVM_*_NEW); 40000010H is the timing leaf that
 * QEMU and VMware put after them: EAX TSC kHz, EBX APIC bus kHz. */
#define KVM_CPUID_TIMING 0x40000010u
#define PVCLOCK_TSC_STABLE_BIT 0x01u   /* pvclock flags bit 0 (msr.rst) */

/* struct pvclock_vcpu_time_info (32 bytes) and struct pvclock_wall_clock (12 bytes), as
 * little-endian images in guest memory. */
#define PVCLOCK_VCPU_SIZE 32u
#define PVCLOCK_WALL_SIZE 12u

/* The pvclock_vcpu_time_info image for `version` (even: complete), taken at guest TSC
 * `tsc` and kvm-clock `system_ns`, for a TSC of SIM_TSC_HZ: the guest computes
 * system_ns + ((tsc' - tsc) scaled by tsc_shift) * tsc_to_system_mul >> 32. */
void sim_pvclock_vcpu_image(uint8_t out[PVCLOCK_VCPU_SIZE], uint32_t version, uint64_t tsc,
                            uint64_t system_ns, uint8_t flags);
/* The guest's nanoseconds for TSC `tsc` from an image (the guest's side of the ABI, for
 * tests and checks). */
uint64_t sim_pvclock_read(const uint8_t img[PVCLOCK_VCPU_SIZE], uint64_t tsc);
/* The pvclock_wall_clock image: the wall-clock time (ns since 1970) at kvm-clock 0. */
void sim_pvclock_wall_image(uint8_t out[PVCLOCK_WALL_SIZE], uint32_t version,
                            uint64_t wall_ns);

/* MTRRs (SDM Vol. 3A, 12.11; MSR numbers Vol. 4). Eight variable ranges, the fixed ranges
 * and write-combining, no SMRR. */
#define MSR_IA32_MTRRCAP      0xFEu
#define MSR_IA32_MTRR_DEF_TYPE 0x2FFu
#define MSR_IA32_MTRR_PHYSBASE0 0x200u
#define MSR_IA32_MTRR_FIX64K_00000 0x250u
#define MSR_IA32_MTRR_FIX16K_80000 0x258u
#define MSR_IA32_MTRR_FIX16K_A0000 0x259u
#define MSR_IA32_MTRR_FIX4K_C0000 0x268u
#define MSR_IA32_MTRR_FIX4K_F8000 0x26Fu
#define SIM_MTRR_VAR 8
#define SIM_MTRR_FIXED 11
#define MTRRCAP_FIX (1u << 8)
#define MTRRCAP_WC  (1u << 10)
#define SIM_MTRRCAP (SIM_MTRR_VAR | MTRRCAP_FIX | MTRRCAP_WC)
#define SIM_PHYS_BITS 36   /* MAXPHYADDR: PAE without CPUID 80000008H (SDM Vol. 3A, 4.1.4) */

/* Index 0-10 of a fixed-range MTRR (0x250, 0x258, 0x259, 0x268-0x26F), or -1. */
int sim_mtrr_fixed_index(uint32_t msr);
/* Whether WRMSR of `value` to MTRR `msr` (def type, fixed or variable) is allowed: no
 * reserved bit set and every type field a valid memory type (UC 0, WC 1, WT 4, WP 5,
 * WB 6); else it is #GP(0) (SDM Vol. 3A, 12.11.2-12.11.3). */
bool sim_mtrr_valid(uint32_t msr, uint64_t value);

#endif
