/* Unit tests for the loader (src/vmm/loader.c): each format on crafted images, the entry
 * state it sets, and truncated or hostile headers (which must be refused with a message,
 * never crash or write outside RAM). A 32-bit multiboot guest also runs on each backend. */
#include <elf.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "backends.h"
#include "hypervisor_sim.h"

#define MIB (1024u * 1024u)

static void quiet(HvLogLevel level, const char *message, void *opaque)
{
    (void)level;
    (void)message;
    (void)opaque;
}

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static SimpleVM *sim_vm(size_t mib)
{
    SimpleVM *svm = vm_create_backend(mib, HV_BACKEND_SIM);
    assert_non_null(svm);
    svm->serial->output_fd = -1;
    svm->debug_exit->console_fd = -1;
    return svm;
}

/* 32-bit code: exits through port 0xF4 with mem_lower from the multiboot information
 * when EAX holds the boot magic, else halts. */
static const uint8_t mb_code[] = {
    0x3D, 0x02, 0xB0, 0xAD, 0x2B,   /* cmp $0x2BADB002, %eax */
    0x75, 0x09,                     /* jne hlt2 */
    0x8B, 0x43, 0x04,               /* mov 4(%ebx), %eax */
    0x66, 0xBA, 0xF4, 0x00,         /* mov $0xf4, %dx */
    0xEF,                           /* out %eax, (%dx) */
    0xF4,                           /* hlt */
    0xF4,                           /* hlt2: hlt */
};

/* A multiboot image with the a.out kludge: header at 0, loaded at `load`, code at +32. */
static size_t aout_image(uint8_t *img, uint32_t load, uint32_t extra_flags)
{
    memset(img, 0, 64);
    uint32_t flags = 0x10002 | extra_flags;
    put32(img, 0x1BADB002);
    put32(img + 4, flags);
    put32(img + 8, (uint32_t)-(0x1BADB002u + flags));
    put32(img + 12, load);        /* header_addr */
    put32(img + 16, load);        /* load_addr */
    put32(img + 20, 0);           /* load_end_addr: the whole file */
    put32(img + 24, load + 0x1000);   /* bss_end_addr */
    put32(img + 28, load + 32);   /* entry_addr */
    memcpy(img + 32, mb_code, sizeof(mb_code));
    return 32 + sizeof(mb_code);
}

/* An ELF32 executable: one PT_LOAD of the whole file at paddr, entry at the code after the
 * headers (and a multiboot header before it when mb is true). */
static size_t elf32_image(uint8_t *img, uint32_t paddr, bool mb)
{
    memset(img, 0, 512);
    Elf32_Ehdr *eh = (Elf32_Ehdr *)img;
    memcpy(eh->e_ident, ELFMAG, SELFMAG);
    eh->e_ident[EI_CLASS] = ELFCLASS32;
    eh->e_ident[EI_DATA] = ELFDATA2LSB;
    eh->e_ident[EI_VERSION] = EV_CURRENT;
    eh->e_type = ET_EXEC;
    eh->e_machine = EM_386;
    eh->e_version = EV_CURRENT;
    eh->e_phoff = sizeof(Elf32_Ehdr);
    eh->e_ehsize = sizeof(Elf32_Ehdr);
    eh->e_phentsize = sizeof(Elf32_Phdr);
    eh->e_phnum = 1;
    size_t off = sizeof(Elf32_Ehdr) + sizeof(Elf32_Phdr);
    if (mb) {
        put32(img + off, 0x1BADB002);
        put32(img + off + 4, 2);
        put32(img + off + 8, (uint32_t)-(0x1BADB002u + 2));
        off += 12;
    }
    memcpy(img + off, mb_code, sizeof(mb_code));
    eh->e_entry = paddr + (uint32_t)off;
    size_t size = off + sizeof(mb_code);
    Elf32_Phdr *ph = (Elf32_Phdr *)(img + sizeof(Elf32_Ehdr));
    ph->p_type = PT_LOAD;
    ph->p_offset = 0;
    ph->p_vaddr = ph->p_paddr = paddr;
    ph->p_filesz = (uint32_t)size;
    ph->p_memsz = (uint32_t)size + 0x100;
    ph->p_flags = PF_R | PF_X;
    return size;
}

static void assert_flat32_entry(SimpleVM *svm, uint64_t rip)
{
    const KvmSregs *s = &svm->vcpu->sregs;
    assert_true(s->cr0 & 1);
    assert_false(s->cr0 & 0x80000000u);
    assert_int_equal(svm->vcpu->regs.rip, rip);
    assert_int_equal(svm->vcpu->regs.rflags, 2);   /* IF = 0 */
    const KvmSegment *segs[] = {&s->cs, &s->ds, &s->es, &s->ss, &s->fs, &s->gs};
    for (int i = 0; i < 6; i++) {
        assert_int_equal(segs[i]->base, 0);
        assert_int_equal(segs[i]->limit, 0xFFFFFFFF);
        assert_int_equal(segs[i]->db, 1);
        assert_int_equal(segs[i]->present, 1);
    }
    assert_int_equal(s->cs.selector, 0x10);
    assert_int_equal(s->cs.type, 0xB);
    assert_int_equal(s->ds.selector, 0x18);
    /* The GDT in RAM holds the descriptors the selectors name. */
    const uint8_t *gdt = vm_guest_ram(svm, s->gdt.base, 32);
    assert_non_null(gdt);
    assert_int_equal(s->gdt.limit, 31);
    assert_int_equal(get64(gdt + 0x10), 0x00CF9A000000FFFFull);
    assert_int_equal(get64(gdt + 0x18), 0x00CF92000000FFFFull);
}

static void test_detect(void **state)
{
    (void)state;
    uint8_t img[512] = {0};
    assert_int_equal(vm_kernel_detect(img, 0), -ENOEXEC);
    assert_int_equal(vm_kernel_detect(img, sizeof(img)), -ENOEXEC);
    size_t n = aout_image(img, 0x100000, 0);
    assert_int_equal(vm_kernel_detect(img, n), VM_KERNEL_MULTIBOOT);
    img[8] ^= 1;   /* checksum wrong: not multiboot */
    assert_int_equal(vm_kernel_detect(img, n), -ENOEXEC);
    n = elf32_image(img, 0x100000, false);
    assert_int_equal(vm_kernel_detect(img, n), VM_KERNEL_ELF32);
    n = elf32_image(img, 0x100000, true);
    assert_int_equal(vm_kernel_detect(img, n), VM_KERNEL_MULTIBOOT);
    assert_int_equal(vm_kernel_detect(img, 3), -ENOEXEC);   /* truncated magic */
}

static void test_multiboot_aout(void **state)
{
    (void)state;
    SimpleVM *svm = sim_vm(16);
    uint8_t img[64];
    size_t n = aout_image(img, 0x100000, 0);
    VmModule mods[2] = {{(const uint8_t *)"first", 5, "mod1 arg"}, {(const uint8_t *)"xy", 2, NULL}};
    VmKernelSpec k = {.image = img, .size = n, .cmdline = "console=ttyS0", .modules = mods,
                      .num_modules = 2};
    assert_int_equal(vm_load_kernel(svm, &k), 0);
    assert_flat32_entry(svm, 0x100020);
    assert_int_equal(svm->vcpu->regs.rax, 0x2BADB002);
    assert_memory_equal(vm_guest_ram(svm, 0x100020, sizeof(mb_code)), mb_code, sizeof(mb_code));
    assert_int_equal(*vm_guest_ram(svm, 0x100800, 1), 0);   /* bss */
    uint64_t mbi = svm->vcpu->regs.rbx;
    const uint8_t *info = vm_guest_ram(svm, mbi, 88);
    assert_non_null(info);
    uint32_t flags = get32(info);
    assert_true(flags & 0x1);     /* mem_lower/upper */
    assert_true(flags & 0x2);     /* boot device */
    assert_true(flags & 0x4);     /* cmdline */
    assert_true(flags & 0x8);     /* modules */
    assert_true(flags & 0x40);    /* memory map */
    assert_int_equal(get32(info + 4), 639);
    assert_int_equal(get32(info + 8), 15 * 1024);
    assert_int_equal(get32(info + 12), 0x8000FFFF);
    assert_string_equal((const char *)vm_guest_ram(svm, get32(info + 16), 14), "console=ttyS0");
    assert_int_equal(get32(info + 20), 2);
    const uint8_t *m = vm_guest_ram(svm, get32(info + 24), 32);
    assert_non_null(m);
    uint32_t s0 = get32(m), e0 = get32(m + 4), s1 = get32(m + 16);
    assert_int_equal(s0 % 4096, 0);
    assert_true(s0 >= 0x101000);   /* after the bss */
    assert_int_equal(e0 - s0, 5);
    assert_memory_equal(vm_guest_ram(svm, s0, 5), "first", 5);
    assert_int_equal(s1 % 4096, 0);
    assert_memory_equal(vm_guest_ram(svm, s1, 2), "xy", 2);
    assert_string_equal((const char *)vm_guest_ram(svm, get32(m + 8), 9), "mod1 arg");
    assert_string_equal((const char *)vm_guest_ram(svm, get32(m + 24), 1), "");
    /* The memory map: RAM below 639 KiB and from 1 MiB to the end. */
    uint32_t len = get32(info + 44);
    const uint8_t *map = vm_guest_ram(svm, get32(info + 48), len);
    assert_non_null(map);
    assert_int_equal(len % 24, 0);
    uint64_t usable = 0;
    for (uint32_t i = 0; i < len; i += 24) {
        assert_int_equal(get32(map + i), 20);
        if (get32(map + i + 20) == 1)
            usable += get64(map + i + 12);
    }
    assert_int_equal(usable, 0x9FC00 + 15 * MIB);
    vm_destroy(svm);
}

static void test_multiboot_elf(void **state)
{
    (void)state;
    SimpleVM *svm = sim_vm(4);
    uint8_t img[512];
    size_t n = elf32_image(img, 0x8000, true);   /* loaded low, as realmode.flat is */
    VmKernelSpec k = {.image = img, .size = n};
    assert_int_equal(vm_load_kernel(svm, &k), 0);
    assert_flat32_entry(svm, 0x8000 + sizeof(Elf32_Ehdr) + sizeof(Elf32_Phdr) + 12);
    assert_int_equal(svm->vcpu->regs.rax, 0x2BADB002);
    assert_true(svm->vcpu->regs.rbx >= 0x8000 + n + 0x100);   /* after the segment's bss */
    const uint8_t *info = vm_guest_ram(svm, svm->vcpu->regs.rbx, 88);
    assert_false(get32(info) & 0x4);   /* no command line */
    assert_int_equal(get32(info + 8), 3 * 1024);
    vm_destroy(svm);
}

static void test_plain_elf(void **state)
{
    (void)state;
    SimpleVM *svm = sim_vm(4);
    uint8_t img[512];
    size_t n = elf32_image(img, 0x200000, false);
    VmKernelSpec k = {.image = img, .size = n};
    assert_int_equal(vm_load_kernel(svm, &k), 0);
    assert_flat32_entry(svm, 0x200000 + sizeof(Elf32_Ehdr) + sizeof(Elf32_Phdr));
    assert_memory_equal(vm_guest_ram(svm, 0x200000, 4), ELFMAG, 4);
    k.cmdline = "x";
    assert_int_equal(vm_load_kernel(svm, &k), -EINVAL);
    /* ELF64: refused with a reason, nothing loaded. */
    uint8_t img64[sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr)] = {0};
    Elf64_Ehdr *eh = (Elf64_Ehdr *)img64;
    memcpy(eh->e_ident, ELFMAG, SELFMAG);
    eh->e_ident[EI_CLASS] = ELFCLASS64;
    eh->e_ident[EI_DATA] = ELFDATA2LSB;
    eh->e_type = ET_EXEC;
    eh->e_machine = EM_X86_64;
    eh->e_entry = 0x100000;
    eh->e_phoff = sizeof(Elf64_Ehdr);
    eh->e_phentsize = sizeof(Elf64_Phdr);
    eh->e_phnum = 1;
    Elf64_Phdr *ph = (Elf64_Phdr *)(img64 + sizeof(Elf64_Ehdr));
    ph->p_type = PT_LOAD;
    ph->p_paddr = 0x100000;
    ph->p_filesz = ph->p_memsz = sizeof(img64);
    k = (VmKernelSpec){.image = img64, .size = sizeof(img64)};
    assert_int_equal(vm_kernel_detect(img64, sizeof(img64)), VM_KERNEL_ELF64);
    assert_int_equal(vm_load_kernel(svm, &k), -ENOEXEC);
    assert_non_null(strstr(hv_last_error(), "long mode"));
    vm_destroy(svm);
}

/* Every hostile ELF or multiboot header is refused with a message and no crash. */
static void test_hostile_headers(void **state)
{
    (void)state;
    SimpleVM *svm = sim_vm(4);
    uint8_t img[512];
    struct { const char *what; size_t off; uint32_t value; int size; } cases[] = {
        {"phoff past the end", offsetof(Elf32_Ehdr, e_phoff), 0xFFFFFFF0, 4},
        {"phnum huge", offsetof(Elf32_Ehdr, e_phnum), 0xFFFF, 2},
        {"phentsize wrong", offsetof(Elf32_Ehdr, e_phentsize), 16, 2},
        {"no phdrs", offsetof(Elf32_Ehdr, e_phnum), 0, 2},
        {"machine", offsetof(Elf32_Ehdr, e_machine), EM_ARM, 2},
        {"type", offsetof(Elf32_Ehdr, e_type), ET_DYN, 2},
        {"p_offset past end", sizeof(Elf32_Ehdr) + offsetof(Elf32_Phdr, p_offset), 0x7FFFFFFF, 4},
        {"p_filesz past end", sizeof(Elf32_Ehdr) + offsetof(Elf32_Phdr, p_filesz), 0x10000, 4},
        {"p_memsz < p_filesz", sizeof(Elf32_Ehdr) + offsetof(Elf32_Phdr, p_memsz), 1, 4},
        {"p_paddr beyond RAM", sizeof(Elf32_Ehdr) + offsetof(Elf32_Phdr, p_paddr), 0x10000000, 4},
        {"p_paddr wraps 4G", sizeof(Elf32_Ehdr) + offsetof(Elf32_Phdr, p_paddr), 0xFFFFFF00, 4},
        {"p_paddr in VGA hole", sizeof(Elf32_Ehdr) + offsetof(Elf32_Phdr, p_paddr), 0xA0000, 4},
        {"p_memsz huge", sizeof(Elf32_Ehdr) + offsetof(Elf32_Phdr, p_memsz), 0xFFFFFFFF, 4},
    };
    for (size_t mb = 0; mb < 2; mb++) {
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            size_t n = elf32_image(img, 0x100000, mb);
            if (cases[i].size == 4)
                put32(img + cases[i].off, cases[i].value);
            else
                put16(img + cases[i].off, (uint16_t)cases[i].value);
            VmKernelSpec k = {.image = img, .size = n};
            int r = vm_load_kernel(svm, &k);
            if (r == 0)
                fail_msg("%s (multiboot %zu) was accepted", cases[i].what, mb);
            assert_true(r == -ENOEXEC || r == -EFBIG);
            assert_true(strlen(hv_last_error()) > 10);
        }
    }
    /* Truncated at every length: refused (or detected as nothing), never read past. */
    size_t full = elf32_image(img, 0x100000, true);
    for (size_t n = 0; n < full; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, img, n);
        VmKernelSpec k = {.image = copy, .size = n};
        assert_true(vm_load_kernel(svm, &k) < 0);
        free(copy);
    }
    /* a.out kludge fields. */
    struct { const char *what; size_t off; uint32_t value; } mb[] = {
        {"header_addr below load_addr", 12, 0xFFFFF},
        {"load_addr too low for offset", 16, 0x0F0000},
        {"load_end before load", 20, 0x0FFFFF},
        {"load_end past file", 20, 0x200000},
        {"bss_end before load_end", 24, 0x100001},
        {"entry outside", 28, 0x300000},
        {"beyond RAM", 12, 0x7FFFF000},
    };
    for (size_t i = 0; i < sizeof(mb) / sizeof(mb[0]); i++) {
        size_t n = aout_image(img, 0x100000, 0);
        put32(img + mb[i].off, mb[i].value);
        if (strcmp(mb[i].what, "beyond RAM") == 0)
            put32(img + 16, 0x7FFFF000);
        VmKernelSpec k = {.image = img, .size = n};
        if (vm_load_kernel(svm, &k) == 0)
            fail_msg("a.out kludge: %s was accepted", mb[i].what);
    }
    size_t n = aout_image(img, 0x100000, 0x8);   /* a requirement bit Multiboot lacks */
    VmKernelSpec k = {.image = img, .size = n};
    assert_int_equal(vm_load_kernel(svm, &k), -ENOEXEC);
    assert_non_null(strstr(hv_last_error(), "0x8"));
    n = aout_image(img, 0x100000, 0x4);   /* a video mode: booted in text mode */
    k = (VmKernelSpec){.image = img, .size = n};
    assert_int_equal(vm_load_kernel(svm, &k), 0);
    assert_false(get32(vm_guest_ram(svm, svm->vcpu->regs.rbx, 4)) & (3u << 11));
    n = aout_image(img, 0x100000, 0);
    VmModule big = {NULL, 0, NULL};
    uint8_t *huge = calloc(1, 4 * MIB);
    big.data = huge;
    big.size = 4 * MIB;   /* a module larger than the free RAM */
    k = (VmKernelSpec){.image = img, .size = n, .modules = &big, .num_modules = 1};
    assert_int_equal(vm_load_kernel(svm, &k), -EFBIG);
    free(huge);
    vm_destroy(svm);
}

/* A bzImage: 4 setup sectors + boot sector, header version `version`. */
static size_t bzimage(uint8_t *img, size_t ksize, uint16_t version)
{
    size_t size = 5 * 512 + ksize;
    memset(img, 0, size);
    img[0x1F1] = 4;
    put16(img + 0x1FE, 0xAA55);
    img[0x201] = 0x66;   /* header to 0x268 */
    memcpy(img + 0x202, "HdrS", 4);
    put16(img + 0x206, version);
    img[0x211] = 0x01;   /* LOADED_HIGH */
    put32(img + 0x214, 0x100000);
    put32(img + 0x22C, 0x37FFFFFF);
    put32(img + 0x238, 255);
    put32(img + 0x260, 0x200000);   /* init_size */
    for (size_t i = 0; i < ksize; i++)
        img[5 * 512 + i] = (uint8_t)(i * 7);
    return size;
}

static void test_linux(void **state)
{
    (void)state;
    SimpleVM *svm = sim_vm(32);
    static uint8_t img[5 * 512 + 8192];
    size_t n = bzimage(img, 8192, 0x20F);
    VmModule initrd[2] = {{(const uint8_t *)"0123456789", 10, NULL},
                          {(const uint8_t *)"abc", 3, NULL}};
    VmKernelSpec k = {.image = img, .size = n, .cmdline = "console=ttyS0", .modules = initrd,
                      .num_modules = 2};
    assert_int_equal(vm_kernel_detect(img, n), VM_KERNEL_LINUX);
    assert_int_equal(vm_load_kernel(svm, &k), 0);
    assert_flat32_entry(svm, 0x100000);
    assert_memory_equal(vm_guest_ram(svm, 0x100000, 8192), img + 5 * 512, 8192);
    uint64_t bp_at = svm->vcpu->regs.rsi;
    const uint8_t *bp = vm_guest_ram(svm, bp_at, 4096);
    assert_non_null(bp);
    assert_memory_equal(bp + 0x202, "HdrS", 4);
    assert_int_equal(bp[0x210], 0xFF);   /* type_of_loader */
    assert_string_equal((const char *)vm_guest_ram(svm, get32(bp + 0x228), 14), "console=ttyS0");
    uint32_t rd = get32(bp + 0x218), rdsize = get32(bp + 0x21C);
    assert_int_equal(rdsize, 13);
    assert_int_equal(rd % 4096, 0);
    assert_true(rd >= 0x300000 && rd + rdsize <= 32 * MIB);   /* after init_size, in RAM */
    assert_memory_equal(vm_guest_ram(svm, rd, 13), "0123456789abc", 13);
    int e820 = bp[0x1E8];
    assert_true(e820 >= 3 && e820 <= 6);   /* with the ACPI NVS and data ranges */
    uint64_t usable = 0;
    for (int i = 0; i < e820; i++)
        if (get32(bp + 0x2D0 + i * 20 + 16) == 1)
            usable += get64(bp + 0x2D0 + i * 20 + 8);
    assert_int_equal(usable, 0x9FC00 + 31 * MIB);
    /* initrd_addr_max bounds the initrd. */
    put32(img + 0x22C, 0x7FFFFF);
    assert_int_equal(vm_load_kernel(svm, &k), 0);
    bp = vm_guest_ram(svm, bp_at, 4096);
    assert_true(get32(bp + 0x218) + 13 <= 0x800000);
    vm_destroy(svm);
}

/* The kernel decompresses at pref_address (or its load address aligned to
 * kernel_alignment) and needs init_size bytes there: RAM is checked against that, and the
 * initrd goes above it (issue 25: Debian's 686 kernel runs at 16 MiB with init_size
 * 0x1018000, and with 20 MiB of RAM the guest used to hang). The boot parameters describe
 * the VGA text screen. */
static void test_linux_runtime_range_and_vga(void **state)
{
    (void)state;
    static uint8_t img[5 * 512 + 4096];
    size_t n = bzimage(img, 4096, 0x20F);
    img[0x234] = 1;                              /* relocatable */
    put32(img + 0x230, 0x1000000);               /* kernel_alignment 16 MiB */
    put32(img + 0x258, 0x1000000);               /* pref_address 16 MiB */
    put32(img + 0x25C, 0);
    put32(img + 0x260, 0x400000);                /* init_size 4 MiB */
    VmModule rd = {(const uint8_t *)"initrd", 6, NULL};
    VmKernelSpec k = {.image = img, .size = n, .modules = &rd, .num_modules = 1};
    SimpleVM *small = sim_vm(18);                /* 20 MiB are needed */
    assert_int_equal(vm_load_kernel(small, &k), -EFBIG);
    assert_non_null(strstr(hv_last_error(), "0x1400000"));
    vm_destroy(small);
    SimpleVM *svm = sim_vm(32);
    assert_int_equal(vm_load_kernel(svm, &k), 0);
    const uint8_t *bp = vm_guest_ram(svm, svm->vcpu->regs.rsi, 4096);
    assert_non_null(bp);
    assert_true(get32(bp + 0x218) >= 0x1400000);   /* the initrd above the runtime range */
    assert_int_equal(bp[0x06], 3);               /* orig_video_mode: 80x25 colour text */
    assert_int_equal(bp[0x07], 80);
    assert_int_equal(bp[0x0E], 25);
    assert_int_equal(bp[0x0F], 1);               /* orig_video_isVGA */
    /* Not relocatable: pref_address whatever the load address. */
    img[0x234] = 0;
    put32(img + 0x258, 0x1E00000);
    assert_int_equal(vm_load_kernel(svm, &k), -EFBIG);   /* 0x1E00000 + 4 MiB */
    vm_destroy(svm);
}

/* A 64-bit bzImage (xloadflags bit 0) on a vCPU without long mode: refused with the
 * reason, not started to halt silently in its decompressor. */
/* A 64-bit bzImage (XLF_KERNEL_64) loads through its 32-bit entry when CPUID claims long
 * mode, as the sim CPU's does (issue 27); without LM the loader refuses it (a vCPU
 * without long mode would halt silently in the decompressor). */
static void test_linux_64bit_with_long_mode(void **state)
{
    (void)state;
    SimpleVM *svm = sim_vm(32);
    static uint8_t img[5 * 512 + 1024];
    size_t n = bzimage(img, 1024, 0x20F);
    put16(img + 0x236, 0x0001);   /* XLF_KERNEL_64 */
    VmKernelSpec k = {.image = img, .size = n};
    uint32_t ext[4];
    assert_int_equal(kvm_vcpu_get_cpuid(svm->vcpu, 0x80000001, 0, ext), 0);
    assert_true(ext[3] & (1u << 29));   /* the sim CPU has long mode */
    assert_int_equal(vm_load_kernel(svm, &k), 0);
    put16(img + 0x236, 0x0004);   /* a 32-bit kernel with the 32-bit EFI handover */
    assert_int_equal(vm_load_kernel(svm, &k), 0);
    vm_destroy(svm);
}

static void test_linux_hostile(void **state)
{
    (void)state;
    SimpleVM *svm = sim_vm(8);
    static uint8_t img[5 * 512 + 1024];
    VmKernelSpec k = {.image = img};
    k.size = bzimage(img, 1024, 0x205);
    assert_int_equal(vm_load_kernel(svm, &k), -ENOEXEC);   /* protocol too old */
    assert_non_null(strstr(hv_last_error(), "2.06"));
    k.size = bzimage(img, 1024, 0x20F);
    img[0x211] = 0;
    assert_int_equal(vm_load_kernel(svm, &k), -ENOEXEC);   /* zImage */
    k.size = bzimage(img, 1024, 0x20F);
    img[0x1F1] = 200;   /* setup past the file */
    assert_int_equal(vm_load_kernel(svm, &k), -ENOEXEC);
    k.size = bzimage(img, 1024, 0x20F);
    img[0x201] = 0x10;   /* header too short for cmdline_size */
    assert_int_equal(vm_load_kernel(svm, &k), -ENOEXEC);
    k.size = bzimage(img, 1024, 0x20F);
    char cmdline[300];
    memset(cmdline, 'a', sizeof(cmdline) - 1);
    cmdline[sizeof(cmdline) - 1] = '\0';
    k.cmdline = cmdline;   /* longer than cmdline_size (255) */
    assert_int_equal(vm_load_kernel(svm, &k), -E2BIG);
    k.cmdline = NULL;
    put32(img + 0x260, 0x10000000);   /* init_size beyond RAM */
    assert_int_equal(vm_load_kernel(svm, &k), -EFBIG);
    k.size = bzimage(img, 1024, 0x20F);
    put32(img + 0x22C, 0x1FFFFF);   /* initrd_addr_max below the kernel's end */
    VmModule rd = {(const uint8_t *)"x", 1, NULL};
    k.modules = &rd;
    k.num_modules = 1;
    assert_int_equal(vm_load_kernel(svm, &k), -EFBIG);
    k.modules = NULL;
    k.num_modules = 0;
    /* Truncated at every length up to the kernel. */
    for (size_t n = 0; n < 5 * 512 + 1; n++) {
        k.size = n;
        assert_true(vm_load_kernel(svm, &k) < 0);
    }
    vm_destroy(svm);
}

/* Issue 24: a file that ends inside the setup header, right after "HdrS", was detected
 * as Linux and then its version read past the end. Each image is a heap block of exactly
 * its size, so ASan sees any byte read beyond it. */
static void test_linux_truncated_after_magic(void **state)
{
    (void)state;
    SimpleVM *svm = sim_vm(8);
    for (size_t n = 0x206; n <= 0x208; n++) {
        uint8_t *img = calloc(1, n);
        assert_non_null(img);
        put16(img + 0x1FE, 0xAA55);
        memcpy(img + 0x202, "HdrS", 4);
        if (n == 0x208)
            put16(img + 0x206, 0x20F);
        assert_int_equal(vm_kernel_detect(img, n), VM_KERNEL_LINUX);
        VmKernelSpec k = {.image = img, .size = n};
        assert_int_equal(vm_load_kernel(svm, &k), -ENOEXEC);
        free(img);
    }
    vm_destroy(svm);
}

/* Debian's memtest86+ (when installed): a real bzImage the loader must take. */
static void test_memtest_image(void **state)
{
    (void)state;
    FILE *f = fopen("/boot/memtest86+ia32.bin", "rb");
    if (!f) {
        printf("[ SKIPPED  ] test_memtest_image: /boot/memtest86+ia32.bin is not installed\n");
        skip();
    }
    static uint8_t img[1 << 20];
    size_t n = fread(img, 1, sizeof(img), f);
    fclose(f);
    SimpleVM *svm = sim_vm(64);
    VmKernelSpec k = {.image = img, .size = n, .cmdline = "console=ttyS0"};
    assert_int_equal(vm_kernel_detect(img, n), VM_KERNEL_LINUX);
    assert_int_equal(vm_load_kernel(svm, &k), 0);
    assert_flat32_entry(svm, 0x100000);
    vm_destroy(svm);
}

static void test_boot_sector_and_flat(void **state)
{
    (void)state;
    SimpleVM *svm = sim_vm(1);
    uint8_t sector[512] = {0xF4};
    assert_int_equal(vm_load_boot_sector(svm, sector, 512), -ENOEXEC);
    sector[510] = 0x55;
    sector[511] = 0xAA;
    assert_int_equal(vm_load_boot_sector(svm, sector, 511), -ENOEXEC);
    assert_int_equal(vm_load_boot_sector(svm, sector, 512), 0);
    assert_int_equal(svm->vcpu->sregs.cs.selector, 0);
    assert_int_equal(svm->vcpu->regs.rip, 0x7C00);
    assert_int_equal(vm_load_flat(svm, sector, 16, 0x12340, 0x12345), 0);
    assert_int_equal(svm->vcpu->sregs.cs.selector, 0x1000);
    assert_int_equal(svm->vcpu->regs.rip, 0x2345);
    assert_int_equal(vm_load_flat(svm, sector, 16, 0xFFFF8, 0), -EFBIG);
    assert_int_equal(vm_load_flat(svm, sector, 16, 0, 0x100000), -EINVAL);
    vm_destroy(svm);
}

/* The 32-bit entry runs: the guest checks EAX and reads mem_lower through EBX. */
static void test_multiboot_runs(void **state)
{
    HvBackend b = TEST_BACKEND(state);
    SimpleVM *svm = vm_create_backend(4, b);
    assert_non_null(svm);
    svm->serial->output_fd = -1;
    uint8_t img[64];
    size_t n = aout_image(img, 0x100000, 0);
    VmKernelSpec k = {.image = img, .size = n};
    assert_int_equal(vm_load_kernel(svm, &k), 0);
    hv_set_log_handler(quiet, NULL);
    int r = vm_run(svm);
    hv_set_log_handler(NULL, NULL);
    if (r < 0 && b == HV_BACKEND_SIM && svm->stop_reason == VM_STOP_INTERNAL_ERROR &&
        strstr(kvm_vcpu_exit_note(svm->vcpu), "protected mode")) {
        printf("[ SKIPPED  ] test_multiboot_runs: sim: %s\n", kvm_vcpu_exit_note(svm->vcpu));
        vm_destroy(svm);
        skip();
    }
    assert_int_equal(r, 0);
    assert_int_equal(svm->stop_reason, VM_STOP_DEBUG_EXIT);
    assert_int_equal(svm->debug_exit_value, 639);
    vm_destroy(svm);
}

int main(void)
{
    hv_set_log_level(HV_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detect),
        cmocka_unit_test(test_multiboot_aout),
        cmocka_unit_test(test_multiboot_elf),
        cmocka_unit_test(test_plain_elf),
        cmocka_unit_test(test_hostile_headers),
        cmocka_unit_test(test_linux),
        cmocka_unit_test(test_linux_hostile),
        cmocka_unit_test(test_linux_runtime_range_and_vga),
        cmocka_unit_test(test_linux_64bit_with_long_mode),
        cmocka_unit_test(test_linux_truncated_after_magic),
        cmocka_unit_test(test_memtest_image),
        cmocka_unit_test(test_boot_sector_and_flat),
    };
    const struct CMUnitTest run_tests[] = {
        cmocka_unit_test(test_multiboot_runs),
    };
    return cmocka_run_group_tests_name("loader", tests, NULL, NULL) | RUN_ON_EVERY_BACKEND(run_tests);
}
