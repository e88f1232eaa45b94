/*
 * sst-run's machine: the interpreter with 16 MiB of RAM at guest-physical 0 (every
 * address below 16 MiB is RAM; nothing else exists). IN reads all ones; OUT is dropped.
 */
#include "sst_cpu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/cpu/cpu.h"

struct SstMachine {
    X86Cpu *cpu;
    uint8_t *ram;
};

static uint8_t *page_fn(void *opaque, uint64_t gpa_page, unsigned access)
{
    (void)access;
    SstMachine *m = opaque;
    if (gpa_page >= SST_RAM_SIZE) return NULL;
    return m->ram + gpa_page;
}

SstMachine *sst_machine_create(void)
{
    SstMachine *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->ram = calloc(1, SST_RAM_SIZE);
    if (!m->ram) {
        free(m);
        return NULL;
    }
    m->cpu = x86_cpu_create(page_fn, m);
    if (!m->cpu) {
        free(m->ram);
        free(m);
        return NULL;
    }
    return m;
}

void sst_machine_destroy(SstMachine *m)
{
    if (!m) return;
    x86_cpu_destroy(m->cpu);
    free(m->ram);
    free(m);
}

uint8_t *sst_machine_ram(SstMachine *m) { return m->ram; }

void sst_machine_ram_written(SstMachine *m, uint32_t addr, uint32_t len)
{
    x86_cpu_invalidate_code(m->cpu, addr, len);
}

int sst_machine_run(SstMachine *m, const uint16_t in[SST_NREGS], uint16_t out[SST_NREGS],
                    uint64_t budget, char *why, size_t why_size)
{
    X86Cpu *cpu = m->cpu;
    static const int gpr_of[] = { X86_RAX, X86_RBX, X86_RCX, X86_RDX };
    static const int seg_of[] = { X86_CS, X86_SS, X86_DS, X86_ES };
    static const int gpr2_of[] = { X86_RSP, X86_RBP, X86_RSI, X86_RDI };
    memset(cpu->gpr, 0, sizeof cpu->gpr);
    for (int i = 0; i < 4; i++) {
        cpu->gpr[gpr_of[i]] = in[SST_AX + i];
        cpu->gpr[gpr2_of[i]] = in[SST_SP + i];
        X86Segment *s = &cpu->seg[seg_of[i]];
        s->selector = in[SST_CS + i];
        s->base = (uint32_t)in[SST_CS + i] << 4;
        s->limit = 0xFFFF;
        s->attr = 0x93;
    }
    cpu->cs.attr = 0x9B;
    cpu->fs = cpu->gs = (X86Segment){ 0, 0, 0xFFFF, 0x93 };
    cpu->idtr.base = 0;
    cpu->idtr.limit = 0x3FF;
    cpu->cr0 = 0x60000010;
    cpu->interrupt_shadow = 0;
    cpu->rip = in[SST_IP];
    /* real mode on a 286: IOPL and NT (bits 12-15) cannot be set */
    x86_cpu_set_rflags(cpu, in[SST_FLAGS] & 0x0FFF);
    uint64_t left = budget;
    for (;;) {
        uint64_t before = cpu->instructions_retired;
        X86Exit e = x86_cpu_run(cpu, left);
        uint64_t used = cpu->instructions_retired - before;
        left = used >= left ? 0 : left - used;
        if (e == X86_EXIT_HLT) break;
        if (e == X86_EXIT_IO) {
            if (cpu->exit.io.in) memset(cpu->exit.io.data, 0xFF, cpu->exit.io.size * cpu->exit.io.count);
            x86_cpu_complete_io(cpu);
            if (left == 0) left = 1;
            continue;
        }
        if (e == X86_EXIT_UNIMPLEMENTED)
            snprintf(why, why_size, "exit UNIMPLEMENTED at %05llx: %s",
                     (unsigned long long)cpu->exit.unimpl.linear, cpu->exit.unimpl.reason);
        else
            snprintf(why, why_size, "exit %s at %04x:%04llx", x86_exit_name(e), cpu->cs.selector,
                     (unsigned long long)cpu->rip);
        return -1;
    }
    for (int i = 0; i < 4; i++) {
        out[SST_AX + i] = (uint16_t)cpu->gpr[gpr_of[i]];
        out[SST_SP + i] = (uint16_t)cpu->gpr[gpr2_of[i]];
        out[SST_CS + i] = cpu->seg[seg_of[i]].selector;
    }
    out[SST_IP] = (uint16_t)cpu->rip;
    out[SST_FLAGS] = (uint16_t)x86_cpu_get_rflags(cpu);
    return 0;
}
