/* The sim kernel's TSC rate, kvm-clock images and MTRR checks (see sim_time.h). */
#include <string.h>

#include "sim/sim_time.h"

#define NS_PER_SEC 1000000000ull

uint64_t sim_ns_to_tsc(uint64_t ns)
{
    return (uint64_t)((unsigned __int128)ns * SIM_TSC_HZ / NS_PER_SEC);
}

uint64_t sim_tsc_to_ns(uint64_t tsc)
{
    return (uint64_t)((unsigned __int128)tsc * NS_PER_SEC / SIM_TSC_HZ);
}

/* tsc_to_system_mul and tsc_shift for SIM_TSC_HZ, as KVM's kvm_get_time_scale chooses them:
 * the smallest left shift that brings the rate above 1 GHz, so that the 32.32 fixed-point
 * multiplier 10^9 * 2^32 / rate fits in 32 bits. At 2 GHz: shift 0, multiplier 2^31,
 * exact. */
static void time_scale(uint32_t *mul, int8_t *shift)
{
    uint64_t hz = SIM_TSC_HZ;
    int s = 0;
    while (hz <= NS_PER_SEC) {
        hz <<= 1;
        s++;
    }
    *mul = (uint32_t)((NS_PER_SEC << 32) / hz);
    *shift = (int8_t)s;
}

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

void sim_pvclock_vcpu_image(uint8_t out[PVCLOCK_VCPU_SIZE], uint32_t version, uint64_t tsc,
                            uint64_t system_ns, uint8_t flags)
{
    uint32_t mul;
    int8_t shift;
    time_scale(&mul, &shift);
    memset(out, 0, PVCLOCK_VCPU_SIZE);
    put32(out + 0, version);
    put64(out + 8, tsc);          /* tsc_timestamp */
    put64(out + 16, system_ns);   /* system_time */
    put32(out + 24, mul);         /* tsc_to_system_mul */
    out[28] = (uint8_t)shift;     /* tsc_shift */
    out[29] = flags;
}

uint64_t sim_pvclock_read(const uint8_t img[PVCLOCK_VCPU_SIZE], uint64_t tsc)
{
    uint64_t stamp, system_ns;
    uint32_t mul;
    memcpy(&stamp, img + 8, 8);
    memcpy(&system_ns, img + 16, 8);
    memcpy(&mul, img + 24, 4);
    int8_t shift = (int8_t)img[28];
    uint64_t delta = tsc - stamp;
    delta = shift < 0 ? delta >> -shift : delta << shift;
    return system_ns + (uint64_t)(((unsigned __int128)delta * mul) >> 32);
}

void sim_pvclock_wall_image(uint8_t out[PVCLOCK_WALL_SIZE], uint32_t version, uint64_t wall_ns)
{
    put32(out + 0, version);
    put32(out + 4, (uint32_t)(wall_ns / NS_PER_SEC));   /* sec */
    put32(out + 8, (uint32_t)(wall_ns % NS_PER_SEC));   /* nsec */
}

int sim_mtrr_fixed_index(uint32_t msr)
{
    if (msr == MSR_IA32_MTRR_FIX64K_00000)
        return 0;
    if (msr == MSR_IA32_MTRR_FIX16K_80000 || msr == MSR_IA32_MTRR_FIX16K_A0000)
        return 1 + (int)(msr - MSR_IA32_MTRR_FIX16K_80000);
    if (msr >= MSR_IA32_MTRR_FIX4K_C0000 && msr <= MSR_IA32_MTRR_FIX4K_F8000)
        return 3 + (int)(msr - MSR_IA32_MTRR_FIX4K_C0000);
    return -1;
}

/* The memory types an MTRR may hold (SDM Vol. 3A, Table 12-8): 2, 3 and 7 and above are
 * reserved. */
static bool mtrr_type_valid(unsigned t)
{
    return t == 0 || t == 1 || t == 4 || t == 5 || t == 6;
}

bool sim_mtrr_valid(uint32_t msr, uint64_t value)
{
    /* Bits MAXPHYADDR-1:12 of a base or mask are the address; the rest above is reserved. */
    const uint64_t above_phys = ~((1ull << SIM_PHYS_BITS) - 1);
    if (msr == MSR_IA32_MTRR_DEF_TYPE)   /* type 7:0, FE 10, E 11 (Figure 12-6) */
        return !(value & ~0xCFFull) && mtrr_type_valid(value & 0xFF);
    if (sim_mtrr_fixed_index(msr) >= 0) {   /* eight type bytes (12.11.2.2) */
        for (int i = 0; i < 8; i++)
            if (!mtrr_type_valid((value >> (8 * i)) & 0xFF))
                return false;
        return true;
    }
    if (msr >= MSR_IA32_MTRR_PHYSBASE0 && msr < MSR_IA32_MTRR_PHYSBASE0 + 2 * SIM_MTRR_VAR) {
        if ((msr - MSR_IA32_MTRR_PHYSBASE0) & 1)   /* PHYSMASK: V is bit 11 (Figure 12-7) */
            return !(value & (above_phys | 0x7FFull));
        return !(value & (above_phys | 0xF00ull)) && mtrr_type_valid(value & 0xFF);
    }
    return false;
}
