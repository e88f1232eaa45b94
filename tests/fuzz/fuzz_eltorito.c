/*
 * Harness: a CD image as the built-in BIOS reads it (src/vmm/bios.c): the El Torito boot
 * record and boot catalog (vm_bios_eltorito), int 19h booting the CD (no emulation or a
 * floppy image as drive 00h), then int 13h calls on drives E0h and 00h with registers,
 * buffers and disk address packets from the input.
 * Input: a flags byte (bit 0: a well-formed boot record at sector 17, else its bytes come
 * from the input; bit 1: RAM 1 MiB rather than 64 KiB), the image's size in 2048-byte
 * sectors (a byte, 18 + n), the boot record's catalog RBA (32 bits), 64 bytes of the
 * catalog (validation and initial entries), then up to FUZZ_CD_CALLS calls: AX, a drive
 * byte (bit 0: 00h, else E0h), DS, SI, ES, BX (16 bits each) and 16 bytes of memory at
 * DS:SI (a packet). The image is in memory; its other bytes are a pattern.
 * Only crashes, sanitizer reports and hangs are findings.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "hypervisor_sim.h"
#include "vmm/bios.h"
#include "block/block.h"

#define FUZZ_CD_CALLS 8
#define FRAME 0x6000   /* the call frame, as the firmware's stubs leave it */

static int mem_read(BlockDev *bd, uint64_t offset, void *buf, size_t len)
{
    memcpy(buf, (uint8_t *)bd->state + offset, len);
    return 0;
}

static int mem_write(BlockDev *bd, uint64_t offset, const void *buf, size_t len)
{
    (void)bd, (void)offset, (void)buf, (void)len;
    return -30;   /* EROFS: a CD */
}

static void mem_close(BlockDev *bd)
{
    free(bd->state);
    free(bd);
}

static const BlockOps mem_ops = {"memory", mem_read, mem_write, NULL, mem_close};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_quiet_output();
    return 0;
}

static void put16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FuzzIn in = {data, size};
    unsigned flags = fuzz_take(&in, 1);
    uint64_t sectors = 18 + fuzz_take(&in, 1);
    uint32_t catalog = fuzz_take(&in, 4);
    uint8_t *img = malloc(sectors * CD_SECTOR);
    BlockDev *bd = calloc(1, sizeof(*bd));
    if (!img || !bd) {
        free(img);
        free(bd);
        return 0;
    }
    for (uint64_t i = 0; i < sectors * CD_SECTOR; i++)
        img[i] = (uint8_t)(i / CD_SECTOR);
    uint8_t *br = img + 17 * CD_SECTOR;
    if (flags & 1) {
        memset(br, 0, 64);
        memcpy(br + 1, "CD001\1EL TORITO SPECIFICATION", 29);
    } else {
        for (int i = 0; i < 40; i++)
            br[i] = (uint8_t)fuzz_take(&in, 1);
    }
    memcpy(br + 0x47, &catalog, 4);
    uint8_t *cat = img + (catalog < sectors ? catalog : sectors - 1) * CD_SECTOR;
    for (int i = 0; i < 64; i++)
        cat[i] = (uint8_t)fuzz_take(&in, 1);
    *bd = (BlockDev){.ops = &mem_ops, .size = sectors * CD_SECTOR, .read_only = true,
                     .state = img};
    ElToritoBoot e;
    vm_bios_eltorito(bd, &e);

    SimpleVM *svm = vm_create_bytes(flags & 2 ? 1024 * 1024 : VM_MIN_RAM, HV_BACKEND_SIM);
    if (!svm || vm_bios_install(svm) < 0 ||
        vm_bios_attach_disk(svm, BIOS_DRIVE_CDROM, bd) < 0) {
        if (svm)
            vm_destroy(svm);
        block_close(bd);
        return 0;
    }
    vm_bios_post(svm);
    uint8_t *f = vm_guest_ram(svm, FRAME, 48);
    memset(f, 0, 48);
    put16(f + 40, 0x19);
    io_bus_out(svm->io_bus, BIOS_CALL_PORT, 4, FRAME);
    for (int c = 0; c < FUZZ_CD_CALLS && in.left; c++) {
        memset(f, 0, 48);
        put16(f + 36, fuzz_take(&in, 2));                     /* AX */
        put16(f + 28, fuzz_take(&in, 1) & 1 ? 0x00 : 0xE0);  /* DL */
        uint32_t ds = fuzz_take(&in, 2), si = fuzz_take(&in, 2);
        put16(f + 6, ds);
        put16(f + 12, si);
        put16(f + 4, fuzz_take(&in, 2));                      /* ES */
        put16(f + 24, fuzz_take(&in, 2));                     /* BX */
        put16(f + 40, 0x13);
        put16(f + 46, 0x0002);
        uint8_t *pkt = vm_guest_ram(svm, (uint64_t)ds * 16 + si, 16);
        for (int i = 0; i < 16; i++) {
            uint8_t v = (uint8_t)fuzz_take(&in, 1);
            if (pkt && (uint64_t)ds * 16 + si + i != FRAME)
                pkt[i] = v;
        }
        f = vm_guest_ram(svm, FRAME, 48);
        io_bus_out(svm->io_bus, BIOS_CALL_PORT, 4, FRAME);
    }
    vm_destroy(svm);
    return 0;
}
