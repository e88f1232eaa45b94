/*
 * The machine the single-step tests run on: a sim VM (HV_BACKEND_SIM) driven through the
 * public KVM API, with one vCPU and one memory slot of 16 MiB of flat RAM at
 * guest-physical 0, reused for every test. This is the only part of sst-run that knows how
 * the CPU is driven.
 */
#ifndef SST_CPU_H
#define SST_CPU_H

#include <stddef.h>
#include <stdint.h>

#define SST_RAM_SIZE (16u << 20)

/* Registers in the MOO order. */
enum {
    SST_AX, SST_BX, SST_CX, SST_DX, SST_CS, SST_SS, SST_DS, SST_ES,
    SST_SP, SST_BP, SST_SI, SST_DI, SST_IP, SST_FLAGS, SST_NREGS
};

typedef struct SstMachine SstMachine;

/* NULL on failure, with the reason in `why`. */
SstMachine *sst_machine_create(char *why, size_t why_size);
void sst_machine_destroy(SstMachine *m);
/* The RAM (guest-physical 0 .. SST_RAM_SIZE), the memory slot's host memory. The caller
 * writes it freely between runs: the kernel notices what changed at the next KVM_RUN. */
uint8_t *sst_machine_ram(SstMachine *m);
/* Loads the registers (real mode), runs until HLT, and returns the registers at the HLT.
 * 0 on HLT; -1 otherwise (another exit, too many exits, or no HLT within a second) with a
 * reason in `why`. */
int sst_machine_run(SstMachine *m, const uint16_t init[SST_NREGS], uint16_t final[SST_NREGS],
                    char *why, size_t why_size);

#endif
