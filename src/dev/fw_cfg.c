/*
 * QEMU's firmware configuration device, the traditional I/O interface (QEMU's
 * docs/specs/fw_cfg.rst): a 16-bit selector written to port 0x510 picks an item, and
 * reads of port 0x511 return its bytes one after another (zeros past its end). Items:
 * the signature "QEMU", the interface ID (1: the traditional interface, no DMA), the
 * RAM size, the number of CPUs (and its maximum), and the file directory (a big-endian
 * count, then per file its size, selector and 56-byte name) with the files added by
 * fw_cfg_add_file. Writes through the data port are ignored, as QEMU has done since
 * version 2.4.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hv/hv_log.h"

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++, v >>= 8)
        p[i] = (uint8_t)v;
}

static void put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

void fw_cfg_set_cpus(FwCfg *fw, uint16_t cpus)
{
    if (fw)
        fw->cpus = cpus;
}

FwCfg *fw_cfg_create(uint64_t ram_size, uint16_t cpus)
{
    FwCfg *fw = calloc(1, sizeof(*fw));
    if (!fw) {
        hv_fail(ENOMEM, "fw_cfg: out of memory");
        return NULL;
    }
    fw->ram_size = ram_size;
    fw->cpus = cpus;
    return fw;
}

void fw_cfg_destroy(FwCfg *fw)
{
    if (!fw)
        return;
    for (int i = 0; i < fw->num_files; i++)
        free(fw->files[i].data);
    free(fw);
}

int fw_cfg_add_file(FwCfg *fw, const char *name, const void *data, uint32_t size)
{
    if (!fw || !name || (!data && size))
        return hv_fail(EINVAL, "fw_cfg_add_file: bad arguments");
    if (fw->num_files == FW_CFG_MAX_FILES || strlen(name) >= FW_CFG_FILE_NAME)
        return hv_fail(ENOSPC, "fw_cfg: no room for file '%s'", name);
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return hv_fail(ENOMEM, "fw_cfg: out of memory");
    memcpy(copy, data, size);
    FwCfgFile *f = &fw->files[fw->num_files++];
    snprintf(f->name, sizeof(f->name), "%s", name);
    f->data = copy;
    f->size = size;
    return 0;
}

/* Byte `offset` of item `key`; 0 past its end or for an unknown key. */
static uint8_t item_byte(const FwCfg *fw, uint16_t key, uint32_t offset)
{
    uint8_t buf[8] = {0};
    int len = 0;
    switch (key) {
    case FW_CFG_SIGNATURE:
        memcpy(buf, "QEMU", 4);
        len = 4;
        break;
    case FW_CFG_ID:
        put_le(buf, FW_CFG_ID_TRADITIONAL, 4);
        len = 4;
        break;
    case FW_CFG_RAM_SIZE:
        put_le(buf, fw->ram_size, 8);
        len = 8;
        break;
    case FW_CFG_NB_CPUS:
    case FW_CFG_MAX_CPUS:
        put_le(buf, fw->cpus, 2);
        len = 2;
        break;
    case FW_CFG_FILE_DIR: {
        /* 4 bytes of count, then 64 bytes per file. */
        if (offset < 4) {
            put_be(buf, (uint64_t)fw->num_files, 4);
            return buf[offset];
        }
        uint32_t i = (offset - 4) / 64, at = (offset - 4) % 64;
        if (i >= (uint32_t)fw->num_files)
            return 0;
        uint8_t entry[64] = {0};
        put_be(entry, fw->files[i].size, 4);
        put_be(entry + 4, FW_CFG_FILE_FIRST + i, 2);
        memcpy(entry + 8, fw->files[i].name, strlen(fw->files[i].name));
        return entry[at];
    }
    default:
        if (key >= FW_CFG_FILE_FIRST && key - FW_CFG_FILE_FIRST < fw->num_files) {
            const FwCfgFile *f = &fw->files[key - FW_CFG_FILE_FIRST];
            return offset < f->size ? f->data[offset] : 0;
        }
        return 0;
    }
    return offset < (uint32_t)len ? buf[offset] : 0;
}

int fw_cfg_io_read(uint16_t port, uint8_t size, uint32_t *value, void *opaque)
{
    FwCfg *fw = opaque;
    *value = 0;
    if (port != FW_CFG_PORT_DATA)
        return 0;   /* the selector reads as 0 */
    for (uint8_t i = 0; i < size; i++) {
        *value |= (uint32_t)item_byte(fw, fw->selector, fw->offset) << (8 * i);
        if (fw->offset < UINT32_MAX)
            fw->offset++;
    }
    return 0;
}

int fw_cfg_io_write(uint16_t port, uint8_t size, uint32_t value, void *opaque)
{
    FwCfg *fw = opaque;
    (void)size;
    if (port == FW_CFG_PORT_SELECTOR) {
        fw->selector = (uint16_t)value;   /* 16-bit register: wider writes keep the low word */
        fw->offset = 0;
    }
    return 0;
}
