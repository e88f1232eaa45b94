/*
 * The loader: every way an image gets into a SimpleVM and the vCPU state it starts in.
 *
 *   flat binary      vm_load_flat: bytes at an address, real mode CS:IP from the entry
 *   boot sector      vm_load_boot_sector: 512 bytes with 0x55AA at 0x7C00, 0000:7C00
 *   firmware         vm_load_rom (vm.c maps it): the reset vector
 *   -kernel          vm_load_kernel: Linux bzImage (boot protocol >= 2.06), multiboot v1
 *                    (ELF or the a.out kludge), plain ELF32/ELF64; 32-bit protected-mode
 *                    entry with flat segments
 *
 * Images are hostile input: every header field is checked against the file and against
 * RAM before a byte is copied, and every copy goes through vm_guest_ram. A bad image is
 * -ENOEXEC (malformed) or -EFBIG (does not fit) with a message in hv_last_error().
 *
 * Guest-physical layout of a -kernel boot:
 *   the GDT of the 32-bit entry (null, null, code 0x10, data 0x18): at 0x1000 for Linux,
 *            after the loader's other data for multiboot and ELF
 *   Linux:   boot_params (the "zero page") at 0x10000, command line at 0x20000, the
 *            protected-mode kernel at 0x100000, the initrd as high as initrd_addr_max and
 *            RAM allow; ESP 0x10000.
 *   multiboot / ELF: the segments where their headers say; modules page-aligned after
 *            the highest loaded byte; then the multiboot information, memory map and
 *            strings (QEMU places them after the kernel too).
 */
#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "kvm/backend.h"
#include "vmm/machine.h"
#include "vmm/platform.h"

#define KIB 1024ull
#define MIB (1024ull * KIB)
#define GIB (1024ull * MIB)
#define PAGE_SIZE 4096ull

#define BOOT_SECTOR_ADDR 0x7C00
#define BOOT_SECTOR_SIZE 512

/* The 32-bit entry's GDT (Linux boot protocol: __BOOT_CS 0x10, __BOOT_DS 0x18). */
#define LINUX_GDT_ADDR 0x1000
#define LOADER_GDT_SIZE 32
#define LOADER_CS 0x10
#define LOADER_DS 0x18
/* Flat 4 GiB descriptors (SDM Vol. 3A, 3.4.5): G=1, D/B=1, P=1, DPL 0, S=1. */
#define GDT_FLAT_CODE 0x00CF9A000000FFFFull   /* type 0xA: execute/read */
#define GDT_FLAT_DATA 0x00CF92000000FFFFull   /* type 0x2: read/write */
#define SEG_TYPE_CODE_RX_ACCESSED 0xB
#define SEG_TYPE_DATA_RW_ACCESSED 0x3
#define X86_CR0_PE 0x1ull
#define X86_CR0_NW (1ull << 29)
#define X86_CR0_CD (1ull << 30)

/* ---- Linux boot protocol (Documentation/arch/x86/boot.rst) ---- */
#define LINUX_BOOT_PARAMS_ADDR 0x10000
#define LINUX_CMDLINE_ADDR 0x20000
#define LINUX_KERNEL_ADDR 0x100000
#define LINUX_STACK_TOP 0x10000
#define BP_SCREEN_INFO 0x000        /* struct screen_info (what the real-mode setup finds) */
#define SI_ORIG_Y 0x01              /* u8: cursor row */
#define SI_ORIG_VIDEO_MODE 0x06     /* u8: BIOS video mode */
#define SI_ORIG_VIDEO_COLS 0x07     /* u8 */
#define SI_ORIG_VIDEO_LINES 0x0E    /* u8 */
#define SI_ORIG_VIDEO_IS_VGA 0x0F   /* u8: 1 for a VGA adapter */
#define SI_ORIG_VIDEO_POINTS 0x10   /* u16: character height */
#define BP_ACPI_RSDP_ADDR 0x070     /* u64, protocol 2.14 */
#define BP_ALT_MEM_K 0x1E0          /* u32: extended memory in KiB */
#define BP_E820_ENTRIES 0x1E8       /* u8 */
#define BP_SETUP_SECTS 0x1F1        /* u8: 0 means 4 */
#define BP_VID_MODE 0x1FA           /* u16 */
#define BP_BOOT_FLAG 0x1FE          /* u16: 0xAA55 */
#define BP_JUMP 0x200               /* u16; byte 0x201 is the header length past 0x202 */
#define BP_HEADER 0x202             /* u32: "HdrS" */
#define BP_VERSION 0x206            /* u16 */
#define BP_TYPE_OF_LOADER 0x210     /* u8 */
#define BP_LOADFLAGS 0x211          /* u8 */
#define BP_CODE32_START 0x214       /* u32 */
#define BP_RAMDISK_IMAGE 0x218      /* u32 */
#define BP_RAMDISK_SIZE 0x21C       /* u32 */
#define BP_CMD_LINE_PTR 0x228       /* u32 */
#define BP_INITRD_ADDR_MAX 0x22C    /* u32 */
#define BP_KERNEL_ALIGNMENT 0x230   /* u32, protocol 2.05 */
#define BP_RELOCATABLE 0x234        /* u8, protocol 2.05 */
#define BP_XLOADFLAGS 0x236         /* u16, protocol 2.12 */
#define BP_CMDLINE_SIZE 0x238       /* u32, protocol 2.06 */
#define BP_PREF_ADDRESS 0x258       /* u64, protocol 2.10 */
#define BP_INIT_SIZE 0x260          /* u32, protocol 2.10 */
#define BP_E820_TABLE 0x2D0         /* 20-byte entries */
#define BP_E820_MAX 128
#define LINUX_HDRS_MAGIC 0x53726448u   /* "HdrS" */
#define LINUX_MIN_VERSION 0x206
#define LINUX_RSDP_VERSION 0x20E       /* acpi_rsdp_addr is read from 2.14 on */
#define LINUX_LOADED_HIGH 0x01
#define LINUX_CAN_USE_HEAP 0x80
#define LINUX_LOADER_UNDEFINED 0xFF
#define LINUX_DEFAULT_INITRD_MAX 0x37FFFFFFu
#define LINUX_HEADER_MIN_END 0x23C     /* through cmdline_size */

/* ---- Multiboot 0.6.96 ---- */
#define MB_HEADER_MAGIC 0x1BADB002u
#define MB_BOOT_MAGIC 0x2BADB002u
#define MB_SEARCH 8192
#define MB_FLAG_PAGE_ALIGN (1u << 0)
#define MB_FLAG_MEMORY_INFO (1u << 1)
#define MB_FLAG_VIDEO_MODE (1u << 2)
#define MB_FLAG_AOUT_KLUDGE (1u << 16)
/* Bit 2 asks for video mode information. There is no linear framebuffer to describe, so
 * the information's VBE and framebuffer flags stay clear, and the kernel (which must test
 * them) goes on in text mode; QEMU's multiboot loader boots such kernels the same way. */
#define MB_FLAGS_UNDERSTOOD_LOW (MB_FLAG_PAGE_ALIGN | MB_FLAG_MEMORY_INFO | MB_FLAG_VIDEO_MODE)
#define MB_INFO_MEMORY (1u << 0)
#define MB_INFO_BOOTDEV (1u << 1)
#define MB_INFO_CMDLINE (1u << 2)
#define MB_INFO_MODS (1u << 3)
#define MB_INFO_MEM_MAP (1u << 6)
#define MB_INFO_LOADER_NAME (1u << 9)
#define MB_INFO_SIZE 120
#define MB_MODULE_SIZE 16
#define MB_MMAP_ENTRY_SIZE 24           /* the size field (4) + 20 bytes it counts */
#define MB_BOOT_DEVICE 0x8000FFFFu      /* BIOS disk 0x80, no partition (as QEMU) */
#define LOADER_NAME "ScratchVM"

#define LOW_RAM_END MACHINE_LOW_RAM_END

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)rd16(p) | (uint32_t)rd16(p + 2) << 16; }
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void wr32(uint8_t *p, uint32_t v) { wr16(p, (uint16_t)v); wr16(p + 2, (uint16_t)(v >> 16)); }
static void wr64(uint8_t *p, uint64_t v) { wr32(p, (uint32_t)v); wr32(p + 4, (uint32_t)(v >> 32)); }
static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

/* Copies len bytes to guest-physical gpa; -EFBIG with a message when any byte is not RAM. */
static int copy_in(SimpleVM *svm, uint64_t gpa, const void *src, uint64_t len, const char *what)
{
    if (len == 0)
        return 0;
    uint8_t *dst = gpa + len < gpa ? NULL : vm_guest_ram(svm, gpa, len);
    if (!dst)
        return hv_fail(EFBIG, "%s: 0x%" PRIx64 " bytes at 0x%" PRIx64 " are not all in the "
                       "guest's RAM (%zu bytes, VGA window 0xA0000-0xBFFFF)", what, len, gpa,
                       svm->ram_size);
    memcpy(dst, src, len);
    return 0;
}

static int zero_in(SimpleVM *svm, uint64_t gpa, uint64_t len, const char *what)
{
    if (len == 0)
        return 0;
    uint8_t *dst = gpa + len < gpa ? NULL : vm_guest_ram(svm, gpa, len);
    if (!dst)
        return hv_fail(EFBIG, "%s: 0x%" PRIx64 " bytes at 0x%" PRIx64 " are not all in the "
                       "guest's RAM (%zu bytes)", what, len, gpa, svm->ram_size);
    memset(dst, 0, len);
    return 0;
}

int vm_load_code(SimpleVM *svm, const uint8_t *code, size_t size, uint64_t addr)
{
    if (!svm || (!code && size))
        return hv_fail(EINVAL, "vm_load_code: bad arguments");
    if (addr + size < addr || addr + size > svm->ram_size)
        return hv_fail(EFAULT, "%zu bytes at 0x%" PRIx64 " do not fit in %zu bytes of RAM", size,
                       addr, svm->ram_size);
    uint8_t *dst = vm_guest_ram(svm, addr, size);
    if (!dst)
        return hv_fail(EFAULT, "%zu bytes at 0x%" PRIx64 " overlap the VGA window 0x%x-0x%x",
                       size, addr, VM_VGA_HOLE_START, VM_VGA_HOLE_END - 1);
    memcpy(dst, code, size);
    return 0;
}

static void set_real_mode_entry(SimpleVM *svm, uint64_t entry)
{
    uint16_t cs = (uint16_t)((entry >> 4) & 0xF000);
    svm->vcpu->sregs.cs.selector = cs;
    svm->vcpu->sregs.cs.base = (uint64_t)cs << 4;
    svm->vcpu->regs.rip = entry - (uint64_t)cs * 16;
}

int vm_load_flat(SimpleVM *svm, const uint8_t *image, size_t size, uint64_t addr, uint64_t entry)
{
    if (!svm || !image || size == 0)
        return hv_fail(EINVAL, "vm_load_flat: bad arguments");
    if (entry >= 1 * MIB)
        return hv_fail(EINVAL, "entry 0x%" PRIx64 ": a real-mode entry must be below 1 MiB",
                       entry);
    int r = vm_load_code(svm, image, size, addr);
    if (r < 0)
        return r == -EFAULT ? -EFBIG : r;
    set_real_mode_entry(svm, entry);
    return 0;
}

int vm_check_boot_sector(const uint8_t *image, size_t size)
{
    if (size != BOOT_SECTOR_SIZE)
        return hv_fail(ENOEXEC, "a boot sector is 512 bytes, this file has %zu", size);
    if (image[510] != 0x55 || image[511] != 0xAA)
        return hv_fail(ENOEXEC, "no boot signature (bytes 510-511 are %02x %02x, not 55 aa)",
                       image[510], image[511]);
    return 0;
}

int vm_load_boot_sector(SimpleVM *svm, const uint8_t *image, size_t size)
{
    if (!svm || !image)
        return hv_fail(EINVAL, "vm_load_boot_sector: bad arguments");
    int r = vm_check_boot_sector(image, size);
    if (r < 0)
        return r;
    return vm_load_flat(svm, image, size, BOOT_SECTOR_ADDR, BOOT_SECTOR_ADDR);
}

/* ---- the 32-bit protected-mode entry ---- */

static void flat_segment(KvmSegment *s, uint16_t selector, uint8_t type)
{
    *s = (KvmSegment){.base = 0, .limit = 0xFFFFFFFF, .selector = selector, .type = type,
                      .present = 1, .dpl = 0, .db = 1, .s = 1, .l = 0, .g = 1};
}

/* Writes the GDT and puts the vCPU in 32-bit protected mode at `entry` with flat 4 GiB
 * segments (CS 0x10, data 0x18), paging off, interrupts off (Multiboot 0.6.96 section 3.2,
 * Linux boot protocol "32-bit boot protocol"). General registers are zeroed. */
static int set_protected_mode_entry(SimpleVM *svm, uint32_t entry, uint64_t gdt_addr)
{
    uint8_t gdt[LOADER_GDT_SIZE] = {0};
    wr64(gdt + LOADER_CS, GDT_FLAT_CODE);
    wr64(gdt + LOADER_DS, GDT_FLAT_DATA);
    int r = copy_in(svm, gdt_addr, gdt, sizeof(gdt), "GDT");
    if (r < 0)
        return r;
    KvmSregs *s = &svm->vcpu->sregs;
    flat_segment(&s->cs, LOADER_CS, SEG_TYPE_CODE_RX_ACCESSED);
    flat_segment(&s->ds, LOADER_DS, SEG_TYPE_DATA_RW_ACCESSED);
    s->es = s->ss = s->fs = s->gs = s->ds;
    s->gdt.base = gdt_addr;
    s->gdt.limit = sizeof(gdt) - 1;
    s->idt.base = 0;
    s->idt.limit = 0x3FF;
    /* Caches on (CD = NW = 0), as after a BIOS: a boot loader runs with them enabled. */
    s->cr0 = (s->cr0 & ~(X86_CR0_CD | X86_CR0_NW)) | X86_CR0_PE;
    KvmRegs *regs = &svm->vcpu->regs;
    *regs = (KvmRegs){.rip = entry, .rflags = 0x2};
    return 0;
}

/* The memory map (E820 / multiboot): the machine's one map (machine_e820). */
static int memory_map(SimpleVM *svm, E820Entry e[MACHINE_E820_MAX])
{
    return machine_e820(&svm->platform->machine, e);
}

/* ---- ELF (System V ABI; the segments are loaded at p_paddr, as multiboot loaders do) ---- */

typedef struct {
    bool is64;
    uint64_t entry;
    uint64_t low, high;   /* loaded bytes span [low, high) */
} ElfInfo;

/* Validates the ELF header and program headers against the file; loads every PT_LOAD
 * segment (file bytes, then zeros to p_memsz) when svm is not NULL. */
static int elf_load(SimpleVM *svm, const uint8_t *img, size_t size, ElfInfo *info)
{
    if (size < EI_NIDENT || memcmp(img, ELFMAG, SELFMAG) != 0)
        return hv_fail(ENOEXEC, "not an ELF file");
    bool is64 = img[EI_CLASS] == ELFCLASS64;
    if (img[EI_CLASS] != ELFCLASS32 && !is64)
        return hv_fail(ENOEXEC, "ELF class %u: neither ELF32 nor ELF64", img[EI_CLASS]);
    if (img[EI_DATA] != ELFDATA2LSB)
        return hv_fail(ENOEXEC, "ELF data encoding %u: x86 is little-endian", img[EI_DATA]);
    size_t ehsize = is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
    if (size < ehsize)
        return hv_fail(ENOEXEC, "ELF header truncated: %zu bytes", size);
    uint16_t type = rd16(img + 16), machine = rd16(img + 18);
    if (type != ET_EXEC)
        return hv_fail(ENOEXEC, "ELF type %u: only executables (ET_EXEC) are loaded", type);
    if (machine != (is64 ? EM_X86_64 : EM_386))
        return hv_fail(ENOEXEC, "ELF machine %u: not %s", machine, is64 ? "x86-64" : "i386");
    uint64_t phoff, entry;
    uint16_t phentsize, phnum;
    if (is64) {
        entry = rd64(img + 24);
        phoff = rd64(img + 32);
        phentsize = rd16(img + 54);
        phnum = rd16(img + 56);
    } else {
        entry = rd32(img + 24);
        phoff = rd32(img + 28);
        phentsize = rd16(img + 42);
        phnum = rd16(img + 44);
    }
    size_t want = is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
    if (phnum == 0)
        return hv_fail(ENOEXEC, "ELF file has no program headers");
    if (phentsize != want)
        return hv_fail(ENOEXEC, "ELF program header size %u, expected %zu", phentsize, want);
    if (phoff > size || (uint64_t)phnum * phentsize > size - phoff)
        return hv_fail(ENOEXEC, "ELF program headers (%u at offset 0x%" PRIx64 ") run past the "
                       "end of the file (%zu bytes)", phnum, phoff, size);
    *info = (ElfInfo){.is64 = is64, .entry = entry, .low = UINT64_MAX, .high = 0};
    int loads = 0;
    for (uint16_t i = 0; i < phnum; i++) {
        const uint8_t *ph = img + phoff + (uint64_t)i * phentsize;
        uint64_t offset, paddr, filesz, memsz;
        uint32_t ptype = rd32(ph);
        if (is64) {
            offset = rd64(ph + 8);
            paddr = rd64(ph + 24);
            filesz = rd64(ph + 32);
            memsz = rd64(ph + 40);
        } else {
            offset = rd32(ph + 4);
            paddr = rd32(ph + 12);
            filesz = rd32(ph + 16);
            memsz = rd32(ph + 20);
        }
        if (ptype != PT_LOAD || memsz == 0)
            continue;
        if (offset > size || filesz > size - offset)
            return hv_fail(ENOEXEC, "ELF segment %u: file bytes [0x%" PRIx64 ", +0x%" PRIx64
                           ") run past the end of the file (%zu bytes)", i, offset, filesz, size);
        if (filesz > memsz)
            return hv_fail(ENOEXEC, "ELF segment %u: file size 0x%" PRIx64 " exceeds memory "
                           "size 0x%" PRIx64, i, filesz, memsz);
        if (paddr + memsz < paddr || paddr + memsz > 4 * GIB)
            return hv_fail(ENOEXEC, "ELF segment %u: 0x%" PRIx64 " bytes at 0x%" PRIx64
                           " pass 4 GiB", i, memsz, paddr);
        if (svm) {
            char what[32];
            snprintf(what, sizeof(what), "ELF segment %u", i);
            int r = copy_in(svm, paddr, img + offset, filesz, what);
            if (r == 0)
                r = zero_in(svm, paddr + filesz, memsz - filesz, what);
            if (r < 0)
                return r;
        }
        if (paddr < info->low)
            info->low = paddr;
        if (paddr + memsz > info->high)
            info->high = paddr + memsz;
        loads++;
    }
    if (loads == 0)
        return hv_fail(ENOEXEC, "ELF file has no loadable segment");
    return 0;
}

/* ---- multiboot v1 ---- */

typedef struct {
    size_t offset;        /* of the header in the file */
    uint32_t flags;
    uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
} MultibootHeader;

/* Finds a multiboot header (32-bit aligned, in the first 8192 bytes, checksum right). */
static bool multiboot_find(const uint8_t *img, size_t size, MultibootHeader *h)
{
    size_t limit = size < MB_SEARCH ? size : MB_SEARCH;
    for (size_t off = 0; off + 12 <= limit; off += 4) {
        uint32_t magic = rd32(img + off), flags = rd32(img + off + 4), sum = rd32(img + off + 8);
        if (magic == MB_HEADER_MAGIC && (uint32_t)(magic + flags + sum) == 0) {
            *h = (MultibootHeader){.offset = off, .flags = flags};
            return true;
        }
    }
    return false;
}

static int multiboot_check_header(const uint8_t *img, size_t size, MultibootHeader *h)
{
    uint32_t unknown = h->flags & 0xFFFF & ~MB_FLAGS_UNDERSTOOD_LOW;
    if (unknown)
        return hv_fail(ENOEXEC, "multiboot header flags 0x%x: requirement bits 0x%x are not "
                       "defined by Multiboot 0.6.96", h->flags, unknown);
    if (h->flags & MB_FLAG_VIDEO_MODE)
        hv_log(HV_LOG_INFO, "multiboot: the kernel asks for a video mode; it gets text mode "
               "(no VBE or framebuffer information)");
    if (!(h->flags & MB_FLAG_AOUT_KLUDGE))
        return 0;
    if (h->offset + 32 > size)
        return hv_fail(ENOEXEC, "multiboot header at 0x%zx: the address fields run past the "
                       "end of the file", h->offset);
    const uint8_t *p = img + h->offset + 12;
    h->header_addr = rd32(p);
    h->load_addr = rd32(p + 4);
    h->load_end_addr = rd32(p + 8);
    h->bss_end_addr = rd32(p + 12);
    h->entry_addr = rd32(p + 16);
    if (h->load_addr > h->header_addr || h->header_addr - h->load_addr > h->offset)
        return hv_fail(ENOEXEC, "multiboot load_addr 0x%x / header_addr 0x%x do not match "
                       "the header's file offset 0x%zx", h->load_addr, h->header_addr,
                       h->offset);
    uint64_t file_start = h->offset - (h->header_addr - h->load_addr);
    uint64_t end = h->load_end_addr ? h->load_end_addr : h->load_addr + (size - file_start);
    if (end < h->load_addr || end - h->load_addr > size - file_start)
        return hv_fail(ENOEXEC, "multiboot load_end_addr 0x%x: outside the file (load_addr "
                       "0x%x, %zu bytes)", h->load_end_addr, h->load_addr, size);
    if (h->bss_end_addr && h->bss_end_addr < end)
        return hv_fail(ENOEXEC, "multiboot bss_end_addr 0x%x is below load_end_addr 0x%" PRIx64,
                       h->bss_end_addr, end);
    if (end > UINT32_MAX)
        return hv_fail(ENOEXEC, "multiboot image passes 4 GiB");
    h->load_end_addr = (uint32_t)end;
    return 0;
}

/* Bump allocator over guest RAM for the loader's own data: never in the VGA window or the
 * BIOS area, always below RAM's end. */
typedef struct { SimpleVM *svm; uint64_t next; } Placer;

static int place(Placer *p, uint64_t size, uint64_t align, uint64_t *gpa, const char *what)
{
    uint64_t at = align_up(p->next, align);
    if (at < 1 * MIB && at + size > VM_VGA_HOLE_START)
        at = 1 * MIB;
    if (at + size < at || at + size > p->svm->ram_size)
        return hv_fail(EFBIG, "%s (%" PRIu64 " bytes) does not fit in RAM after 0x%" PRIx64
                       " (%zu bytes of RAM)", what, size, p->next, p->svm->ram_size);
    *gpa = at;
    p->next = at + size;
    return 0;
}

static int place_string(Placer *p, const char *s, uint32_t *gpa, const char *what)
{
    uint64_t at = 0;
    size_t len = strlen(s) + 1;
    int r = place(p, len, 1, &at, what);
    if (r == 0)
        r = copy_in(p->svm, at, s, len, what);
    *gpa = (uint32_t)at;
    return r;
}

static int load_multiboot(SimpleVM *svm, const VmKernelSpec *k, MultibootHeader *h)
{
    int r = multiboot_check_header(k->image, k->size, h);
    if (r < 0)
        return r;
    uint64_t entry, high;
    if (h->flags & MB_FLAG_AOUT_KLUDGE) {
        uint64_t file_start = h->offset - (h->header_addr - h->load_addr);
        uint64_t len = h->load_end_addr - h->load_addr;
        if ((r = copy_in(svm, h->load_addr, k->image + file_start, len, "multiboot image")) < 0)
            return r;
        high = h->bss_end_addr ? h->bss_end_addr : h->load_end_addr;
        if ((r = zero_in(svm, h->load_end_addr, high - h->load_end_addr, "multiboot bss")) < 0)
            return r;
        if (h->entry_addr < h->load_addr || h->entry_addr >= high)
            return hv_fail(ENOEXEC, "multiboot entry_addr 0x%x is outside the image "
                           "[0x%x, 0x%" PRIx64 ")", h->entry_addr, h->load_addr, high);
        entry = h->entry_addr;
    } else {
        ElfInfo info;
        if ((r = elf_load(NULL, k->image, k->size, &info)) < 0 ||
            (r = elf_load(svm, k->image, k->size, &info)) < 0) {
            char why[256];
            snprintf(why, sizeof(why), "%s", hv_last_error());
            return hv_fail(r, "multiboot kernel without the a.out kludge: %s", why);
        }
        if (info.entry > UINT32_MAX)
            return hv_fail(ENOEXEC, "multiboot ELF entry 0x%" PRIx64 " is above 4 GiB",
                           info.entry);
        entry = info.entry;
        high = info.high;
    }

    Placer p = {svm, align_up(high, PAGE_SIZE)};
    uint8_t info[MB_INFO_SIZE] = {0};
    uint32_t flags = MB_INFO_MEMORY | MB_INFO_BOOTDEV | MB_INFO_MEM_MAP | MB_INFO_LOADER_NAME;
    uint64_t mods_at = 0;
    if (k->num_modules) {
        /* Module bytes first, page-aligned (header flag 0 asks for it; always done). */
        uint32_t starts[VM_MAX_MODULES];
        if (k->num_modules > VM_MAX_MODULES)
            return hv_fail(E2BIG, "%zu modules: at most %d", k->num_modules, VM_MAX_MODULES);
        for (size_t i = 0; i < k->num_modules; i++) {
            uint64_t at;
            if ((r = place(&p, k->modules[i].size, PAGE_SIZE, &at, "multiboot module")) < 0 ||
                (r = copy_in(svm, at, k->modules[i].data, k->modules[i].size, "module")) < 0)
                return r;
            starts[i] = (uint32_t)at;
        }
        uint8_t mods[VM_MAX_MODULES * MB_MODULE_SIZE] = {0};
        for (size_t i = 0; i < k->num_modules; i++) {
            uint32_t str;
            const char *s = k->modules[i].cmdline ? k->modules[i].cmdline : "";
            if ((r = place_string(&p, s, &str, "module string")) < 0)
                return r;
            wr32(mods + i * MB_MODULE_SIZE, starts[i]);
            wr32(mods + i * MB_MODULE_SIZE + 4, starts[i] + (uint32_t)k->modules[i].size);
            wr32(mods + i * MB_MODULE_SIZE + 8, str);
        }
        size_t len = k->num_modules * MB_MODULE_SIZE;
        if ((r = place(&p, len, 4, &mods_at, "module list")) < 0 ||
            (r = copy_in(svm, mods_at, mods, len, "module list")) < 0)
            return r;
        flags |= MB_INFO_MODS;
        wr32(info + 20, (uint32_t)k->num_modules);
        wr32(info + 24, (uint32_t)mods_at);
    }
    uint32_t str;
    if (k->cmdline) {
        if ((r = place_string(&p, k->cmdline, &str, "command line")) < 0)
            return r;
        flags |= MB_INFO_CMDLINE;
        wr32(info + 16, str);
    }
    if ((r = place_string(&p, LOADER_NAME, &str, "loader name")) < 0)
        return r;
    wr32(info + 64, str);
    E820Entry map[MACHINE_E820_MAX];
    int n = memory_map(svm, map);
    uint8_t mmap[MACHINE_E820_MAX * MB_MMAP_ENTRY_SIZE];
    for (int i = 0; i < n; i++) {
        uint8_t *e = mmap + i * MB_MMAP_ENTRY_SIZE;
        wr32(e, MB_MMAP_ENTRY_SIZE - 4);
        wr64(e + 4, map[i].base);
        wr64(e + 12, map[i].length);
        wr32(e + 20, map[i].type);
    }
    uint64_t mmap_at, info_at;
    if ((r = place(&p, (uint64_t)n * MB_MMAP_ENTRY_SIZE, 4, &mmap_at, "memory map")) < 0 ||
        (r = copy_in(svm, mmap_at, mmap, (uint64_t)n * MB_MMAP_ENTRY_SIZE, "memory map")) < 0)
        return r;
    wr32(info + 0, flags);
    wr32(info + 4, (uint32_t)(LOW_RAM_END / KIB < svm->ram_size / KIB ? LOW_RAM_END / KIB
                                                                      : svm->ram_size / KIB));
    wr32(info + 8, svm->ram_size > 1 * MIB ? (uint32_t)((svm->ram_size - 1 * MIB) / KIB) : 0);
    wr32(info + 12, MB_BOOT_DEVICE);
    wr32(info + 44, (uint32_t)n * MB_MMAP_ENTRY_SIZE);
    wr32(info + 48, (uint32_t)mmap_at);
    if ((r = place(&p, sizeof(info), 8, &info_at, "multiboot information")) < 0 ||
        (r = copy_in(svm, info_at, info, sizeof(info), "multiboot information")) < 0)
        return r;
    uint64_t gdt_at;
    if ((r = place(&p, LOADER_GDT_SIZE, 8, &gdt_at, "GDT")) < 0 ||
        (r = set_protected_mode_entry(svm, (uint32_t)entry, gdt_at)) < 0)
        return r;
    svm->vcpu->regs.rax = MB_BOOT_MAGIC;
    svm->vcpu->regs.rbx = info_at;
    return 0;
}

/* ---- Linux bzImage ---- */

static int linux_check(const uint8_t *img, size_t size)
{
    if (size < BP_HEADER + 4 || rd16(img + BP_BOOT_FLAG) != 0xAA55 ||
        rd32(img + BP_HEADER) != LINUX_HDRS_MAGIC)
        return hv_fail(ENOEXEC, "not a Linux kernel (no HdrS setup header)");
    /* vm_kernel_detect needs only "HdrS": the version field after it may be cut off. */
    if (size < BP_VERSION + 2)
        return hv_fail(ENOEXEC, "Linux setup header truncated at %zu bytes", size);
    uint16_t version = rd16(img + BP_VERSION);
    if (version < LINUX_MIN_VERSION)
        return hv_fail(ENOEXEC, "Linux boot protocol %u.%02u: at least 2.06 is needed",
                       version >> 8, version & 0xFF);
    uint64_t hdr_end = BP_HEADER + (uint64_t)img[BP_JUMP + 1];
    if (hdr_end < LINUX_HEADER_MIN_END || hdr_end > size)
        return hv_fail(ENOEXEC, "Linux setup header: length field %u (header end 0x%" PRIx64
                       ") is too short or past the end of the file (%zu bytes)",
                       img[BP_JUMP + 1], hdr_end, size);
    if (!(img[BP_LOADFLAGS] & LINUX_LOADED_HIGH))
        return hv_fail(ENOEXEC, "zImage (loaded low) is not supported: only bzImage");
    unsigned sects = img[BP_SETUP_SECTS] ? img[BP_SETUP_SECTS] : 4;
    if ((uint64_t)(sects + 1) * 512 >= size)
        return hv_fail(ENOEXEC, "Linux setup of %u sectors leaves no kernel in %zu bytes",
                       sects, size);
    return 0;
}

/* Where the kernel decompresses and runs, and how much it needs there before it reads the
 * memory map (boot.rst, "init_size" and "pref_address"): a non-relocatable kernel moves
 * itself to pref_address; a relocatable one runs at its load address aligned up to
 * kernel_alignment, but never below pref_address (the decompressor's lowest address, as
 * it was built). Before protocol 2.10 neither field exists: the load address and the
 * image alone. */
static void linux_runtime_range(const uint8_t *img, uint64_t hdr_end, uint64_t *run_at,
                                uint64_t *init_size)
{
    uint16_t version = rd16(img + BP_VERSION);
    *run_at = LINUX_KERNEL_ADDR;
    *init_size = 0;
    if (version < 0x20A || hdr_end < BP_INIT_SIZE + 4)
        return;
    *init_size = rd32(img + BP_INIT_SIZE);
    uint64_t pref = rd64(img + BP_PREF_ADDRESS);
    uint32_t align = rd32(img + BP_KERNEL_ALIGNMENT);
    uint64_t at = LINUX_KERNEL_ADDR;
    if (img[BP_RELOCATABLE] && align && !(align & (align - 1)))
        at = align_up(at, align);
    if (!img[BP_RELOCATABLE] || pref > at)
        at = pref && pref < (1ull << 32) ? pref : at;
    *run_at = at;
}

/* struct screen_info as the real-mode setup leaves it on a VGA in 80x25 text mode (BIOS
 * mode 3): without it Linux finds no VGA and takes the dummy console. */
static void linux_screen_info(uint8_t *bp)
{
    uint8_t *si = bp + BP_SCREEN_INFO;
    si[SI_ORIG_Y] = 0;
    si[SI_ORIG_VIDEO_MODE] = 3;
    si[SI_ORIG_VIDEO_COLS] = 80;
    si[SI_ORIG_VIDEO_LINES] = 25;
    si[SI_ORIG_VIDEO_IS_VGA] = 1;
    wr16(si + SI_ORIG_VIDEO_POINTS, 16);
}

/* xloadflags (protocol 2.12) bit 0: a 64-bit kernel. Its 32-bit entry checks for long
 * mode and, without it, halts with nothing said: refused here with the reason instead. */
#define LINUX_XLF_KERNEL_64 0x0001u
#define CPUID_80000001_EDX_LM (1u << 29)

static int linux_check_long_mode(SimpleVM *svm, const uint8_t *img, uint64_t hdr_end)
{
    if (rd16(img + BP_VERSION) < 0x20C || hdr_end < BP_XLOADFLAGS + 2 ||
        !(rd16(img + BP_XLOADFLAGS) & LINUX_XLF_KERNEL_64))
        return 0;
    uint32_t max[4], ext[4];
    if (kvm_vcpu_get_cpuid(svm->vcpu, 0x80000000, 0, max) == 0 && max[0] >= 0x80000001 &&
        kvm_vcpu_get_cpuid(svm->vcpu, 0x80000001, 0, ext) == 0 &&
        (ext[3] & CPUID_80000001_EDX_LM))
        return 0;
    return hv_fail(ENOEXEC, "a 64-bit Linux kernel: this vCPU has no long mode "
                   "(CPUID.80000001h:EDX.LM; the software backend does not model x86-64 yet)");
}

static int load_linux(SimpleVM *svm, const VmKernelSpec *k)
{
    const uint8_t *img = k->image;
    int r = linux_check(img, k->size);
    if (r < 0)
        return r;
    if ((r = linux_check_long_mode(svm, img, BP_HEADER + (uint64_t)img[BP_JUMP + 1])) < 0)
        return r;
    unsigned sects = img[BP_SETUP_SECTS] ? img[BP_SETUP_SECTS] : 4;
    uint64_t setup_size = (uint64_t)(sects + 1) * 512;
    uint64_t ksize = k->size - setup_size;
    uint64_t hdr_end = BP_HEADER + (uint64_t)img[BP_JUMP + 1];
    uint64_t run_at, init_size;
    linux_runtime_range(img, hdr_end, &run_at, &init_size);
    /* RAM must hold the image as loaded and the range it decompresses and runs in. */
    uint64_t kernel_end = LINUX_KERNEL_ADDR + ksize;
    if (run_at + init_size > kernel_end)
        kernel_end = run_at + init_size;
    if (kernel_end > svm->ram_size)
        return hv_fail(EFBIG, "Linux kernel needs RAM up to 0x%" PRIx64 " (kernel %" PRIu64
                       " bytes, run at 0x%" PRIx64 " with init_size 0x%" PRIx64 "), the VM has "
                       "%zu bytes", kernel_end, ksize, run_at, init_size, svm->ram_size);
    if ((r = copy_in(svm, LINUX_KERNEL_ADDR, img + setup_size, ksize, "Linux kernel")) < 0)
        return r;

    uint8_t bp[4096] = {0};
    memcpy(bp + BP_SETUP_SECTS, img + BP_SETUP_SECTS, hdr_end - BP_SETUP_SECTS);
    bp[BP_TYPE_OF_LOADER] = LINUX_LOADER_UNDEFINED;
    bp[BP_LOADFLAGS] &= (uint8_t)~LINUX_CAN_USE_HEAP;   /* no real-mode setup runs */
    wr16(bp + BP_VID_MODE, 0xFFFF);                      /* "normal" */
    linux_screen_info(bp);
    wr32(bp + BP_CODE32_START, LINUX_KERNEL_ADDR);
    wr32(bp + BP_ALT_MEM_K, svm->ram_size > 1 * MIB ? (uint32_t)((svm->ram_size - 1 * MIB) / KIB) : 0);

    const char *cmdline = k->cmdline ? k->cmdline : "";
    uint32_t cmdline_size = rd32(img + BP_CMDLINE_SIZE);
    size_t len = strlen(cmdline);
    if (len > cmdline_size)
        return hv_fail(E2BIG, "command line of %zu bytes: this kernel takes at most %u", len,
                       cmdline_size);
    if ((r = copy_in(svm, LINUX_CMDLINE_ADDR, cmdline, len + 1, "command line")) < 0)
        return r;
    wr32(bp + BP_CMD_LINE_PTR, LINUX_CMDLINE_ADDR);

    if (k->num_modules) {
        uint64_t total = 0;
        for (size_t i = 0; i < k->num_modules; i++) {
            if (k->modules[i].size > UINT32_MAX - total)
                return hv_fail(EFBIG, "initrd larger than 4 GiB");
            total += k->modules[i].size;
        }
        uint64_t max = rd32(img + BP_INITRD_ADDR_MAX);
        if (max == 0)
            max = LINUX_DEFAULT_INITRD_MAX;
        uint64_t top = svm->ram_size < max + 1 ? svm->ram_size : max + 1;
        if (total > top || ((top - total) & ~(PAGE_SIZE - 1)) < align_up(kernel_end, PAGE_SIZE))
            return hv_fail(EFBIG, "initrd of %" PRIu64 " bytes does not fit between the kernel "
                           "(end 0x%" PRIx64 ") and 0x%" PRIx64 " (RAM end or initrd_addr_max)",
                           total, kernel_end, top);
        uint64_t at = (top - total) & ~(PAGE_SIZE - 1), cur = at;
        for (size_t i = 0; i < k->num_modules; i++) {
            if ((r = copy_in(svm, cur, k->modules[i].data, k->modules[i].size, "initrd")) < 0)
                return r;
            cur += k->modules[i].size;
        }
        wr32(bp + BP_RAMDISK_IMAGE, (uint32_t)at);
        wr32(bp + BP_RAMDISK_SIZE, (uint32_t)total);
    }

    E820Entry map[MACHINE_E820_MAX];
    int n = memory_map(svm, map);
    bp[BP_E820_ENTRIES] = (uint8_t)n;
    for (int i = 0; i < n; i++) {
        uint8_t *e = bp + BP_E820_TABLE + i * 20;
        wr64(e, map[i].base);
        wr64(e + 8, map[i].length);
        wr32(e + 16, map[i].type);
    }
    /* The RSDP directly (boot.rst, "acpi_rsdp_addr"), as well as where the kernel would
     * search for it. */
    if (rd16(img + BP_VERSION) >= LINUX_RSDP_VERSION)
        wr64(bp + BP_ACPI_RSDP_ADDR, vm_acpi_rsdp(svm));
    if ((r = copy_in(svm, LINUX_BOOT_PARAMS_ADDR, bp, sizeof(bp), "boot_params")) < 0)
        return r;
    if ((r = set_protected_mode_entry(svm, LINUX_KERNEL_ADDR, LINUX_GDT_ADDR)) < 0)
        return r;
    svm->vcpu->regs.rsi = LINUX_BOOT_PARAMS_ADDR;
    svm->vcpu->regs.rsp = LINUX_STACK_TOP;
    return 0;
}

/* ---- entry points ---- */

int vm_kernel_detect(const uint8_t *image, size_t size)
{
    MultibootHeader h;
    if (!image)
        return -EINVAL;
    if (size >= BP_HEADER + 4 && rd16(image + BP_BOOT_FLAG) == 0xAA55 &&
        rd32(image + BP_HEADER) == LINUX_HDRS_MAGIC)
        return VM_KERNEL_LINUX;
    if (multiboot_find(image, size, &h))
        return VM_KERNEL_MULTIBOOT;
    if (size >= EI_NIDENT && memcmp(image, ELFMAG, SELFMAG) == 0)
        return image[EI_CLASS] == ELFCLASS64 ? VM_KERNEL_ELF64 : VM_KERNEL_ELF32;
    return -ENOEXEC;
}

const char *vm_kernel_format_name(int format)
{
    switch (format) {
    case VM_KERNEL_LINUX: return "Linux bzImage";
    case VM_KERNEL_MULTIBOOT: return "multiboot";
    case VM_KERNEL_ELF32: return "ELF32";
    case VM_KERNEL_ELF64: return "ELF64";
    default: return "unknown";
    }
}

int vm_load_kernel(SimpleVM *svm, const VmKernelSpec *k)
{
    if (!svm || !k || !k->image || (k->num_modules && !k->modules))
        return hv_fail(EINVAL, "vm_load_kernel: bad arguments");
    for (size_t i = 0; i < k->num_modules; i++)
        if (!k->modules[i].data && k->modules[i].size)
            return hv_fail(EINVAL, "vm_load_kernel: module %zu has no data", i);
    int format = vm_kernel_detect(k->image, k->size);
    MultibootHeader h;
    switch (format) {
    case VM_KERNEL_LINUX:
        return load_linux(svm, k);
    case VM_KERNEL_MULTIBOOT:
        multiboot_find(k->image, k->size, &h);
        return load_multiboot(svm, k, &h);
    case VM_KERNEL_ELF32:
    case VM_KERNEL_ELF64: {
        ElfInfo info;
        int r = elf_load(NULL, k->image, k->size, &info);
        if (r < 0)
            return r;
        if (info.is64)
            return hv_fail(ENOEXEC, "ELF64 kernel (entry 0x%" PRIx64 "): its 64-bit entry needs "
                           "long mode, which the loader does not set up yet (the sim CPU has "
                           "no long mode)", info.entry);
        if (k->num_modules || k->cmdline)
            return hv_fail(EINVAL, "a plain ELF kernel gets no -initrd or -append (only "
                           "multiboot and Linux kernels take them)");
        if ((r = elf_load(svm, k->image, k->size, &info)) < 0)
            return r;
        Placer p = {svm, align_up(info.high, PAGE_SIZE)};
        uint64_t gdt_at;
        if ((r = place(&p, LOADER_GDT_SIZE, 8, &gdt_at, "GDT")) < 0 ||
            (r = set_protected_mode_entry(svm, (uint32_t)info.entry, gdt_at)) < 0)
            return r;
        return 0;
    }
    default:
        return hv_fail(ENOEXEC, "not a kernel: no Linux setup header, multiboot header or ELF "
                       "header");
    }
}
