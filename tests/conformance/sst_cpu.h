/*
 * The machine the single-step tests run on: one CPU and 16 MiB of flat RAM, reused for
 * every test. This is the only part of sst-run that knows how the CPU is driven (today the
 * interpreter directly; later a sim VM through the public KVM API).
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

SstMachine *sst_machine_create(void);
void sst_machine_destroy(SstMachine *m);
/* The RAM (guest-physical 0 .. SST_RAM_SIZE). After writing it, call
 * sst_machine_ram_written so decoded code there is dropped. */
uint8_t *sst_machine_ram(SstMachine *m);
void sst_machine_ram_written(SstMachine *m, uint32_t addr, uint32_t len);
/* Loads the registers (real mode), runs until HLT (at most `budget` instructions), and
 * returns the registers at the HLT. 0 on HLT; -1 otherwise with a reason in `why`. */
int sst_machine_run(SstMachine *m, const uint16_t init[SST_NREGS], uint16_t final[SST_NREGS],
                    uint64_t budget, char *why, size_t why_size);

#endif
