/*
 * The scratchvm command: parses the command line, builds a SimpleVM, runs its vCPU in a
 * thread of its own while this thread owns the terminal (input to COM1, Ctrl-A keys,
 * signals), and turns how the VM stopped into an exit status.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <netdb.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/console.h"
#include "cli/display.h"
#include "cli/options.h"
#include "cli/options_qemu.h"
#include "cli/sandbox.h"
#include "vmm/bios.h"
#include "vmm/keyseq.h"
#include "block/block.h"
#include "dev/fdc.h"
#include "dev/ide.h"
#include "vmm/qmp.h"
#include "vmm/vm_virtio.h"

extern const unsigned char demo_hello[], demo_add[];
extern const size_t demo_hello_size, demo_add_size;

static void error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("scratchvm: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* Reads a whole image of at most `limit` bytes (`what` names the limit). Only a regular
 * file is an image: a FIFO or a device could block or never end, so it is refused before
 * any read (opened O_NONBLOCK, so that even a FIFO without a writer answers at once), and
 * so is a file whose size already exceeds the limit. Returns an exit status (0 when
 * read). */
static int read_image(const char *path, uint64_t limit, const char *what, uint8_t **data,
                      size_t *size)
{
    struct stat st;
    /* stat() first: a device is not even opened (opening some has effects). */
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
        error("%s: not a regular file", path);
        return EXIT_IMAGE_UNREADABLE;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        error("%s: %s", path, strerror(errno));
        return EXIT_IMAGE_UNREADABLE;
    }
    if (fstat(fd, &st) < 0) {
        error("%s: %s", path, strerror(errno));
        close(fd);
        return EXIT_IMAGE_UNREADABLE;
    }
    if (!S_ISREG(st.st_mode)) {
        error("%s: %s", path, S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
        close(fd);
        return EXIT_IMAGE_UNREADABLE;
    }
    if ((uint64_t)st.st_size > limit) {
        error("%s: too large: %llu bytes, more than the %s (%llu bytes)", path,
              (unsigned long long)st.st_size, what, (unsigned long long)limit);
        close(fd);
        return EXIT_IMAGE_INVALID;
    }
    fcntl(fd, F_SETFL, 0);   /* a regular file: plain blocking reads */
    size_t cap = 64 * 1024, len = 0;
    uint8_t *buf = malloc(cap);
    int status = 0;
    for (;;) {
        if (!buf) {
            error("%s: out of memory", path);
            status = EXIT_HOST_ERROR;
            break;
        }
        if (len == cap) {
            if (len > limit)
                break;
            uint8_t *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                buf = NULL;
                continue;
            }
            buf = bigger;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            error("%s: %s", path, strerror(errno));
            status = EXIT_IMAGE_UNREADABLE;
            break;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    if (status == 0 && len > limit) {
        error("%s: too large: more than %llu bytes", path, (unsigned long long)limit);
        status = EXIT_IMAGE_INVALID;
    } else if (status == 0 && len == 0) {
        error("%s: empty file", path);
        status = EXIT_IMAGE_INVALID;
    }
    if (status) {
        free(buf);
        return status;
    }
    *data = buf;
    *size = len;
    return 0;
}

/* -bios FILE: QEMU's firmware (SeaBIOS), which gets QEMU's treatment (below). */
static bool qemu_firmware(const CliOptions *opt)
{
    return opt->kind == IMAGE_ROM && opt->file_option && strcmp(opt->file_option, "-bios") == 0;
}

/* With the VGA screen shown (--vga, -display curses), SeaBIOS draws on it through a VGA
 * BIOS: SeaVGABIOS for an ISA VGA (vgabios-isavga.bin, beside the -bios image as in
 * Debian's seabios package), handed over as QEMU hands it, the fw_cfg file vgaroms/...
 * Without it SeaBIOS's int 10h has no screen (said once). Returns an exit status. */
static int add_vga_bios(SimpleVM *svm, const CliOptions *opt)
{
    char path[4096];
    const char *slash = strrchr(opt->file, '/');
    int dir = slash ? (int)(slash - opt->file + 1) : 0;
    snprintf(path, sizeof(path), "%.*svgabios-isavga.bin", dir, opt->file);
    if (access(path, R_OK) != 0) {
        error("warning: %s: %s: the firmware has no VGA BIOS, its screen stays blank", path,
              strerror(errno));
        return 0;
    }
    uint8_t *data;
    size_t len;
    int status = read_image(path, VM_MAX_ROM, "largest option ROM", &data, &len);
    if (status)
        return status;
    int r = fw_cfg_add_file(svm->fw_cfg, "vgaroms/vgabios-isavga.bin", data, (uint32_t)len);
    free(data);
    if (r < 0) {
        error("%s: %s", path, hv_last_error());
        return EXIT_VM_SETUP;
    }
    return 0;
}

/* Loads the image as the options say and sets the start registers. */
static int load_guest(SimpleVM *svm, const CliOptions *opt, const uint8_t *image, size_t size)
{
    const char *name = opt->file;
    int r;
    switch (opt->kind) {
    case IMAGE_ROM:
        /* -bios is QEMU's firmware (SeaBIOS): it keeps its data in its F segment, which
         * it makes writable through the i440FX's PAM registers; without them, as on QEMU's
         * isapc, the copy below 1 MiB is RAM. It reads its configuration from fw_cfg; its
         * int 10h is the serial console unless the VGA screen is shown. */
        if (qemu_firmware(opt) && svm->ram_size >= (1u << 20)) {
            bool screen = opt->vga || opt->display == DISPLAY_CURSES;
            if ((r = vm_load_rom_shadowed(svm, image, size)) < 0 ||
                (r = vm_add_firmware_config(svm, screen ? 0 : COM1_BASE)) < 0) {
                error("%s: %s", name, hv_last_error());
                return r == -EFBIG ? EXIT_IMAGE_INVALID : EXIT_VM_SETUP;
            }
            int status = screen ? add_vga_bios(svm, opt) : 0;
            if (status)
                return status;
        } else if ((r = vm_load_rom(svm, image, size)) < 0) {
            error("%s: %s", name, hv_last_error());
            return r == -EFBIG ? EXIT_IMAGE_INVALID : EXIT_VM_SETUP;
        }
        break;
    case IMAGE_BOOT_SECTOR:
    case IMAGE_FLAT:
        r = opt->kind == IMAGE_BOOT_SECTOR ? vm_load_boot_sector(svm, image, size)
                                           : vm_load_flat(svm, image, size, opt->load_addr,
                                                          opt->entry);
        if (r < 0) {
            error("%s: %s", name, hv_last_error());
            return EXIT_IMAGE_INVALID;
        }
        break;
    }
    return 0;
}

/* The disks of -drive/-fda/-hda, opened through the block layer before the VM exists, so
 * that a bad image is the one error a user sees (not after the backend's notices). */
typedef struct {
    BlockDev *bd[CLI_MAX_DRIVES];
    uint8_t drive[CLI_MAX_DRIVES];   /* BIOS drive numbers */
    int n;
} CliDisks;

static void close_disks(CliDisks *disks)
{
    for (int i = 0; i < disks->n; i++)
        block_close(disks->bd[i]);
    disks->n = 0;
}

/* Opens every drive of the command line into *disks (closed again on failure). Returns 0
 * or the exit status after printing the error. */
static int open_disks(const CliOptions *opt, CliDisks *disks)
{
    int next[2] = {0, 0};   /* the next free index per interface */
    bool used[2][2] = {{false}}, cdrom = false;
    disks->n = 0;
    for (int i = 0; i < opt->num_drives; i++) {
        const CliDrive *d = &opt->drives[i];
        if (d->cdrom) {   /* one CD drive, E0h; its image is never written */
            BlockDev *bd;
            if (cdrom) {
                error("%s: the BIOS has one CD-ROM drive", d->file);
                close_disks(disks);
                return EXIT_USAGE;
            }
            cdrom = true;
            if (block_open(d->file, (BlockFormat)d->format, BLOCK_READ_ONLY, &bd) < 0) {
                error("%s", hv_last_error());
                close_disks(disks);
                return EXIT_IMAGE_UNREADABLE;
            }
            disks->bd[disks->n] = bd;
            disks->drive[disks->n++] = BIOS_DRIVE_CDROM;
            continue;
        }
        int iface = d->iface == DRIVE_IF_FLOPPY;
        int index = d->index >= 0 ? d->index : next[iface];
        while (d->index < 0 && index < 2 && used[iface][index])
            index++;
        if (index >= 2 || used[iface][index]) {
            error("%s: no free %s drive (two of each)", d->file, iface ? "floppy" : "ide");
            close_disks(disks);
            return EXIT_USAGE;
        }
        used[iface][index] = true;
        next[iface] = index + 1;
        int flags = d->snapshot || opt->snapshot ? BLOCK_SNAPSHOT : 0;
        BlockDev *bd;
        if (block_open(d->file, (BlockFormat)d->format, flags, &bd) < 0) {
            error("%s", hv_last_error());
            close_disks(disks);
            return EXIT_IMAGE_UNREADABLE;
        }
        disks->bd[disks->n] = bd;
        disks->drive[disks->n++] = (uint8_t)((iface ? BIOS_DRIVE_FLOPPY0 : BIOS_DRIVE_HD0) + index);
        if (vm_bios_check_disk(bd) < 0) {
            error("%s: %s", d->file, hv_last_error());
            close_disks(disks);
            return EXIT_IMAGE_INVALID;
        }
    }
    return 0;
}

/* The monitor's info block, QEMU's lines for each disk. NULL when there is none (or no
 * memory). */
static char *block_info_text(const CliOptions *opt, const CliDisks *disks)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = disks->n ? open_memstream(&text, &len) : NULL;
    if (!f)
        return NULL;
    for (int i = 0; i < disks->n; i++) {
        const CliDrive *d = &opt->drives[i];
        uint8_t drive = disks->drive[i];
        char name[16];
        if (drive >= BIOS_DRIVE_HD0)
            snprintf(name, sizeof(name), "ide0-hd%d", drive - BIOS_DRIVE_HD0);
        else
            snprintf(name, sizeof(name), "floppy%d", drive);
        fprintf(f, "%s%s (#block%d): %s (%s)\n", i ? "\n" : "", name, i, d->file,
                d->format ? block_format_name((BlockFormat)d->format) : disks->bd[i]->ops->name);
        if (drive < BIOS_DRIVE_HD0)
            fprintf(f, "    Removable device: not locked, tray closed\n");
        fprintf(f, "    Cache mode:       writeback\n");
        if (d->snapshot || opt->snapshot)
            fprintf(f, "    Snapshot:         on (writes go to a deleted temporary file)\n");
    }
    fclose(f);
    return text;
}

/* Hands the opened disks to the VM's BIOS, which owns them from then on. */
static int attach_disks(SimpleVM *svm, const CliOptions *opt, CliDisks *disks)
{
    for (int i = 0; i < disks->n; i++) {
        BlockDev *bd = disks->bd[i];
        uint8_t drive = disks->drive[i];
        if (vm_bios_attach_disk(svm, drive, bd) < 0) {
            error("%s", hv_last_error());
            close_disks(disks);
            return EXIT_IMAGE_INVALID;
        }
        disks->bd[i] = NULL;
        /* The same disk in the floppy controller, for an OS that drives it itself; the
         * BIOS owns it and outlives the controller. */
        if (drive <= BIOS_DRIVE_FLOPPY1 && vm_add_floppy(svm, drive, bd, false) < 0) {
            error("%s: %s", opt->drives[i].file, hv_last_error());
            close_disks(disks);
            return EXIT_VM_SETUP;
        }
    }
    disks->n = 0;
    if (opt->boot_order && vm_bios_set_boot_order(svm, opt->boot_order) < 0) {
        error("%s", hv_last_error());
        return EXIT_USAGE;
    }
    return 0;
}

/* -bios FIRMWARE with disks: the hard disks on the IDE channels (hda, hdb: the primary
 * master and slave), the CD as an ATAPI device where QEMU puts -cdrom (the secondary
 * master) and the floppies in the floppy controller, which the VM owns from then on. */
static int attach_ide_disks(SimpleVM *svm, const CliOptions *opt, CliDisks *disks)
{
    for (int i = 0; i < disks->n; i++) {
        uint8_t drive = disks->drive[i];
        BlockDev *bd = disks->bd[i];
        disks->bd[i] = NULL;
        if (drive <= BIOS_DRIVE_FLOPPY1) {
            if (vm_add_floppy(svm, drive, bd, true) < 0) {
                error("%s: %s", opt->drives[i].file, hv_last_error());
                close_disks(disks);
                return EXIT_VM_SETUP;
            }
            continue;
        }
        int r = drive == BIOS_DRIVE_CDROM ? vm_add_ide_cdrom(svm, 2, bd)
                                          : vm_add_ide_disk(svm, drive - BIOS_DRIVE_HD0, bd);
        if (r < 0) {
            error("%s: %s", opt->drives[i].file, hv_last_error());
            close_disks(disks);
            return EXIT_VM_SETUP;
        }
    }
    disks->n = 0;
    return 0;
}

/* A BIOS machine: the BIOS, the disks, and either the boot sector at 0x7C00 (POST done
 * from C) or the reset vector (the BIOS's own POST and int 19h). */
static int load_bios_machine(SimpleVM *svm, const CliOptions *opt, CliDisks *disks,
                             const uint8_t *image, size_t size)
{
    if (vm_bios_install(svm) < 0) {
        error("BIOS: %s", hv_last_error());
        return EXIT_VM_SETUP;
    }
    int status = attach_disks(svm, opt, disks);
    if (status)
        return status;
    vm_bios_set_trace(svm, opt->trace_bios ? stderr : NULL);
    if (!image)
        return 0;
    if (vm_bios_post(svm) < 0 || vm_load_boot_sector(svm, image, size) < 0) {
        error("%s: %s", opt->file, hv_last_error());
        return EXIT_IMAGE_INVALID;
    }
    /* DL names the boot drive, as int 19h leaves it: the first hard disk when there is
     * one and no floppy, else 00h (also with no disk at all, as before the BIOS). */
    bool floppy = false, hd = false;
    for (int i = 0; i < opt->num_drives; i++)
        if (!opt->drives[i].cdrom)
            *(opt->drives[i].iface == DRIVE_IF_FLOPPY ? &floppy : &hd) = true;
    if (hd && !floppy)
        svm->vcpu->regs.rdx = BIOS_DRIVE_HD0;
    return 0;
}

/* -kernel with -initrd and -append: reads the files and hands them to the loader. */
static int load_kernel(SimpleVM *svm, const CliOptions *opt, const uint8_t *image, size_t size)
{
    VmModule mods[VM_MAX_MODULES];
    char *strings[VM_MAX_MODULES];
    uint8_t *datas[VM_MAX_MODULES];
    size_t n = 0;
    int status = 0;
    char *list = opt->initrd ? strdup(opt->initrd) : NULL;
    if (opt->initrd && !list)
        return EXIT_HOST_ERROR;
    for (char *save = NULL, *item = list ? strtok_r(list, ",", &save) : NULL; item;
         item = strtok_r(NULL, ",", &save)) {
        if (n == VM_MAX_MODULES) {
            error("-initrd: at most %d files", VM_MAX_MODULES);
            status = EXIT_USAGE;
            goto out;
        }
        /* "FILE ARGS": the file is the first word, the module's string all of it. */
        strings[n] = item;
        char path[4096];
        size_t plen = strcspn(item, " ");
        snprintf(path, sizeof(path), "%.*s", (int)plen, item);
        if ((status = read_image(path, opt->memory, "guest RAM", &datas[n], &mods[n].size)) != 0)
            goto out;
        mods[n].data = datas[n];
        mods[n].cmdline = strings[n];
        n++;
    }
    VmKernelSpec k = {.image = image, .size = size, .cmdline = opt->append, .modules = mods,
                      .num_modules = n};
    /* QEMU's firmware runs before its -kernel loader; kvm-unit-tests' realmode relies on
     * the 8259A, the PIT and the IVT it leaves. */
    int r = vm_bios_kernel_handoff(svm);
    if (r < 0) {
        error("%s: the firmware's hand-off: %s", opt->kernel, hv_last_error());
        status = EXIT_VM_SETUP;
        goto out;
    }
    r = vm_load_kernel(svm, &k);
    if (r < 0) {
        error("%s: %s", opt->kernel, hv_last_error());
        status = r == -EINVAL || r == -E2BIG ? EXIT_USAGE : EXIT_IMAGE_INVALID;
    }
out:
    for (size_t i = 0; i < n; i++)
        free(datas[i]);
    free(list);
    return status;
}

/* ---- character devices: -serial tcp:/unix:/pty/chardev:, COM2, -debugcon ---- */

/* An opened character device of a serial port: where its output goes (fd) and, for a
 * server that did not wait, the socket that takes its next client. Input read from fd
 * waits in buf until the UART takes it. */
typedef struct {
    SerialPort *port;     /* NULL: this slot is unused */
    int fd;               /* the output (and for sockets and ptys the input), or -1 */
    int listen_fd;        /* a server's socket, or -1 */
    bool input;           /* fd is also read (socket, pty) */
    const char *unlink_path;   /* a Unix socket server's path, removed at the end */
    uint8_t buf[256];
    size_t len;
} CliCharIn;

/* A listening or connected socket for a tcp:/unix: chardev; -1 after printing why. */
static int chardev_socket(const CliChardev *c, const char *label, bool *listening)
{
    int fd = -1;
    *listening = c->server;
    if (c->kind == CHR_UNIX) {
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", c->path);
        if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
            goto fail;
        if (c->server) {
            struct stat st;
            if (lstat(c->path, &st) == 0 && S_ISSOCK(st.st_mode))
                unlink(c->path);
            if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 1) < 0)
                goto fail;
        } else if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
            goto fail;
        }
        return fd;
    }
    char port[8];
    snprintf(port, sizeof(port), "%u", c->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = c->server ? AI_PASSIVE : 0}, *ai = NULL;
    int r = getaddrinfo(c->host[0] ? c->host : (c->server ? NULL : "localhost"), port, &hints, &ai);
    if (r != 0) {
        error("%s: tcp:%s:%u: %s", label, c->host, c->port, gai_strerror(r));
        return -1;
    }
    errno = ECONNREFUSED;
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        if ((fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol)) < 0)
            continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (c->server ? bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 1) == 0
                      : connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd >= 0)
        return fd;
fail:
    error("%s: %s%s: %s", label, c->kind == CHR_UNIX ? "unix:" : "tcp:",
          c->kind == CHR_UNIX ? c->path : c->host, strerror(errno));
    if (fd >= 0)
        close(fd);
    return -1;
}

/* Opens the character device c for `label` (QEMU's serial0, serial1, debugcon): *fd is
 * where output goes (-1: nowhere), *listen_fd a server's socket still waiting for its
 * client (nowait), *input whether fd is read too. Returns 0, or the exit status after
 * printing why. */
static int chardev_open(const CliChardev *c, const char *label, int *fd, int *listen_fd,
                        bool *input)
{
    *fd = *listen_fd = -1;
    *input = false;
    switch (c->kind) {
    case CHR_NONE:
    case CHR_NULL:
    case CHR_REF:
        return 0;
    case CHR_STDIO:
        *fd = STDOUT_FILENO;
        return 0;
    case CHR_FILE:
        if ((*fd = open(c->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
            error("%s: file:%s: %s", label, c->path, strerror(errno));
            return EXIT_USAGE;
        }
        return 0;
    case CHR_PTY: {
        int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        struct termios t;
        if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0 || !ptsname(m)) {
            error("%s: pty: %s", label, strerror(errno));
            if (m >= 0)
                close(m);
            return EXIT_HOST_ERROR;
        }
        if (tcgetattr(m, &t) == 0) {   /* the guest's bytes pass untouched */
            cfmakeraw(&t);
            tcsetattr(m, TCSANOW, &t);
        }
        fcntl(m, F_SETFL, O_NONBLOCK);
        printf("char device redirected to %s (label %s)\n", ptsname(m), label);
        fflush(stdout);
        *fd = m;
        *input = true;
        return 0;
    }
    case CHR_UNIX:
    case CHR_TCP: {
        bool listening;
        int s = chardev_socket(c, label, &listening);
        if (s < 0)
            return EXIT_VM_SETUP;
        *input = true;
        if (!listening) {
            *fd = s;
            return 0;
        }
        if (!c->wait) {
            *listen_fd = s;
            return 0;
        }
        /* QEMU's server waits for its first client before the VM starts. */
        if (c->kind == CHR_TCP)
            error("info: waiting for a connection on tcp:%s:%u,server=on (label %s)", c->host,
                  c->port, label);
        else
            error("info: waiting for a connection on unix:%s,server=on (label %s)", c->path,
                  label);
        while ((*fd = accept4(s, NULL, NULL, SOCK_CLOEXEC)) < 0 && errno == EINTR) {
        }
        close(s);
        if (*fd < 0) {
            error("%s: accept: %s", label, strerror(errno));
            return EXIT_HOST_ERROR;
        }
        return 0;
    }
    }
    return 0;
}

/* A new client of a nowait server: it becomes the port's output and input. */
static void charin_accept(CliCharIn *ci)
{
    int fd = accept4(ci->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0)
        return;
    ci->fd = fd;
    ci->port->output_fd = fd;
}

/* Reads what the port's chardev has; at its end a server's client is dropped (the next
 * one is accepted), anything else stops being read. */
static void charin_read(CliCharIn *ci)
{
    ssize_t n = read(ci->fd, ci->buf, sizeof(ci->buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n > 0) {
        ci->len = (size_t)n;
        return;
    }
    if (ci->listen_fd >= 0) {
        ci->port->output_fd = -1;   /* output goes nowhere until the next client */
        close(ci->fd);
        ci->fd = -1;
    } else {
        ci->input = false;
    }
}

static void charin_feed(CliCharIn *ci)
{
    size_t sent = serial_receive(ci->port, ci->buf, ci->len);
    memmove(ci->buf, ci->buf + sent, ci->len - sent);
    ci->len -= sent;
}

static void charin_close(CliCharIn *ci)
{
    if (ci->port)
        ci->port->output_fd = -1;
    if (ci->fd > STDERR_FILENO)
        close(ci->fd);
    if (ci->listen_fd >= 0)
        close(ci->listen_fd);
    if (ci->unlink_path)   /* as the monitor's socket: no stale socket is left behind */
        unlink(ci->unlink_path);
    ci->fd = ci->listen_fd = -1;
    ci->unlink_path = NULL;
    ci->port = NULL;
}

/* ---- running: the vCPU thread, the console loop and the monitor ---- */

static int signal_pipe[2] = {-1, -1};
/* -daemonize: the child's report to the waiting parent, once setup is over (cmd_run). */
static int *cli_daemon_ready;

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    if (write(signal_pipe[1], &b, 1) < 0) {
        /* the pipe is full: a stop is already on its way */
    }
    errno = saved;
}

/* Called by the vCPU thread once the VM has ended: wakes the console loop. */
static void on_vm_end(SimpleVM *svm, void *opaque)
{
    (void)svm;
    int fd = *(int *)opaque;
    unsigned char b = 1;
    while (write(fd, &b, 1) < 0 && errno == EINTR) {
    }
}

static void install_signal_handlers(void)
{
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaction(sigs[i], &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

#define MONITOR_PROMPT "(scratchvm) "
#define MONITOR_LINE_MAX 256

/* The console side of a running VM: keys typed for the guest wait here until its UART
 * takes them; with --monitor stdio, Ctrl-A c gives the keys to the monitor instead. */
typedef struct {
    SimpleVM *svm;
    QemuMonitor *mon;     /* --monitor stdio, else NULL */
    bool input_open;      /* stdin still gives input */
    bool escapes;         /* Ctrl-A keys are read (a terminal, or --monitor stdio) */
    bool echo;            /* the terminal is raw: the monitor echoes what is typed */
    bool stopping;
    bool in_monitor;      /* keys go to the monitor */
    bool greeted;
    bool quit_key;        /* Ctrl-A x ended the run */
    bool full_screen;     /* -display curses: the terminal shows the VGA screen */
    ConsoleEscape esc;
    char line[MONITOR_LINE_MAX];
    size_t line_len;
    bool line_too_long;   /* keys were lost past MONITOR_LINE_MAX: the line is refused */
    uint8_t pending[SERIAL_INPUT_CAPACITY];
    size_t pending_len;
    uint64_t dropped;     /* keys typed beyond the backlog (a UART overrun) */
    /* The PS/2 keyboard hears the terminal's keys: its sequences (ESC [ A) as the keys
     * they stand for; a sequence not complete within KEYSEQ_TIMEOUT_MS is its bytes. */
    KeySeq kbd_seq;
    uint64_t kbd_seq_ms;  /* when the pending sequence began */
    /* SeaBIOS on the serial console (-bios, no screen) reads its keys from COM1 as well
     * as from the keyboard, as QEMU's -nographic gives them to COM1 only: the PS/2
     * keyboard would double every key. */
    bool serial_keys_only;
} Console;

/* The monitor's Unix socket: one client at a time, a line a command. */
typedef struct {
    QemuMonitor *mon;
    int listen_fd;
    int client_fd;        /* -1: none; the next connection is accepted then */
    char buf[1024];
    size_t len;
    bool discarding;      /* the rest of a line that was too long: dropped up to '\n' */
} MonitorSocket;

/* -qmp: the listening socket and its one client, whose bytes go to the QMP session. */
typedef struct {
    QmpSession *session;
    QemuMonitor *hmp;     /* its own monitor for human-monitor-command */
    int listen_fd;
    int client_fd;        /* -1: none; the next connection is accepted then */
} QmpSocket;

/* Sends an answer to the socket's client; false when it could not take it in time. */
static bool write_answer(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        s += w;
        n -= (size_t)w;
    }
    return true;
}

/* The session's transport: a client that does not take an answer within the send
 * timeout is dropped (qmp_client_close), as on the monitor socket. */
static bool qmp_send(void *opaque, const char *data, size_t len)
{
    QmpSocket *q = opaque;
    return q->client_fd >= 0 && write_answer(q->client_fd, data, len);
}

static void qmp_client_close(QmpSocket *q)
{
    if (q->client_fd >= 0) {
        close(q->client_fd);
        q->client_fd = -1;
        qmp_session_disconnect(q->session);
    }
}

static void qmp_client_read(QmpSocket *q)
{
    char buf[4096];
    ssize_t n = read(q->client_fd, buf, sizeof(buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        qmp_client_close(q);
        return;
    }
    qmp_session_input(q->session, buf, (size_t)n);
}

static uint64_t monotonic_ms(void);

static void keyboard_events(Console *c, const KeyEvent *ev, int n)
{
    for (int i = 0; i < n; i++) {
        uint16_t chord[4];
        size_t keys = keyseq_set2_chord(&ev[i], chord);
        if (keys)
            vm_send_key_chord(c->svm, chord, keys);
        else
            vm_send_key(c->svm, ev[i].byte);
    }
}

static void keyboard_key(Console *c, uint8_t byte)
{
    bool was_pending = keyseq_pending(&c->kbd_seq);
    KeyEvent ev[KEYSEQ_MAX];
    keyboard_events(c, ev, keyseq_feed(&c->kbd_seq, byte, ev));
    if (!was_pending && keyseq_pending(&c->kbd_seq))
        c->kbd_seq_ms = monotonic_ms();
}

/* A sequence that stalled (or input that ended in one): its bytes are keys after all. */
static void keyboard_flush(Console *c, bool now)
{
    if (!keyseq_pending(&c->kbd_seq) ||
        (!now && monotonic_ms() - c->kbd_seq_ms < KEYSEQ_TIMEOUT_MS))
        return;
    KeyEvent ev[KEYSEQ_MAX];
    keyboard_events(c, ev, keyseq_flush(&c->kbd_seq, ev));
}

static void console_stop(Console *c)
{
    if (!c->stopping) {
        c->stopping = true;
        vm_thread_end(c->svm);
    }
}

static void console_queue(Console *c, uint8_t byte)
{
    if (c->pending_len < sizeof(c->pending))
        c->pending[c->pending_len++] = byte;
    else
        c->dropped++;
}

static void say_out(const char *s) { console_write_all(STDOUT_FILENO, s, strlen(s)); }

static void monitor_prompt(Console *c)
{
    if (!c->greeted) {
        say_out("ScratchVM " SCRATCHVM_VERSION " monitor - type 'help' for more information\n");
        c->greeted = true;
    }
    say_out(MONITOR_PROMPT);
}

/* A key for the monitor's line: Enter runs it, backspace erases, printable keys are kept
 * (and echoed: the terminal is raw). */
static void monitor_key(Console *c, uint8_t key)
{
    if (key == '\r' || key == '\n') {
        if (c->echo)
            say_out("\n");
        c->line[c->line_len] = '\0';
        fflush(stdout);
        if (c->line_too_long)   /* a cut line must not run as something else */
            say_out("command line too long\n");
        else
            qemu_monitor_execute(c->mon, c->line, stdout);
        fflush(stdout);
        c->line_len = 0;
        c->line_too_long = false;
        if (c->mon->quit_requested)
            c->stopping = true;   /* the VM has ended; the loop sees it */
        else if (c->in_monitor)
            say_out(MONITOR_PROMPT);
    } else if (key == 0x7F || key == '\b') {
        if (c->line_len) {
            c->line_len--;
            if (c->echo)
                say_out("\b \b");
        }
    } else if (key >= 0x20 && key < 0x7F && c->line_len < sizeof(c->line) - 1) {
        c->line[c->line_len++] = (char)key;
        if (c->echo)
            console_write_all(STDOUT_FILENO, (const char *)&key, 1);
    } else if (key >= 0x20 && key < 0x7F) {
        c->line_too_long = true;
    }
}

/* Reads what stdin has and sorts it into keys for the guest, the monitor and console
 * commands. */
static void console_read(Console *c)
{
    uint8_t in[256];
    ssize_t n = read(STDIN_FILENO, in, sizeof(in));
    if (n < 0 && errno == EINTR)
        return;
    if (n <= 0) {
        c->input_open = false;   /* end of input: the guest keeps running */
        keyboard_flush(c, true);
        return;
    }
    for (ssize_t i = 0; i < n && !c->stopping; i++) {
        uint8_t key = in[i];
        ConsoleAction a = c->escapes ? console_escape_feed(&c->esc, in[i], &key) : CONSOLE_SEND;
        switch (a) {
        case CONSOLE_SEND:
            if (c->in_monitor) {
                monitor_key(c, key);
            } else {
                /* COM1 too: the BIOS's int 16h reads it when no int 09h filled its buffer. */
                console_queue(c, key);
                if (!c->serial_keys_only)
                    keyboard_key(c, key);   /* the PS/2 keyboard hears it too */
            }
            break;
        case CONSOLE_QUIT:
            c->quit_key = true;
            console_stop(c);
            break;
        case CONSOLE_HELP:
            if (c->full_screen)
                break;   /* it would be drawn over at once */
            console_write_all(STDOUT_FILENO, console_help_text, strlen(console_help_text));
            if (c->in_monitor)
                say_out(MONITOR_PROMPT);
            break;
        case CONSOLE_SWITCH:
            if (!c->mon)
                break;
            c->in_monitor = !c->in_monitor;
            if (c->in_monitor) {
                say_out("\n");
                monitor_prompt(c);
            } else {
                say_out("\n");
            }
            break;
        case CONSOLE_NOTHING:
            break;
        }
    }
}

static void console_feed_guest(Console *c)
{
    size_t sent = serial_receive(c->svm->serial, c->pending, c->pending_len);
    memmove(c->pending, c->pending + sent, c->pending_len - sent);
    c->pending_len -= sent;
}

/* Runs each complete line of the client's input and sends the answers back. A line
 * longer than the buffer is refused once with "command line too long" and the rest of it,
 * up to its newline, is dropped: no tail of it runs as a command of its own. */
static void socket_commands(MonitorSocket *ms)
{
    char *start = ms->buf, *nl;
    while ((nl = memchr(start, '\n', ms->len - (size_t)(start - ms->buf))) != NULL) {
        *nl = '\0';
        if (ms->discarding) {   /* the end of a refused line */
            ms->discarding = false;
            start = nl + 1;
            continue;
        }
        char *answer = NULL;
        size_t answer_len = 0;
        FILE *mem = open_memstream(&answer, &answer_len);
        if (mem) {
            qemu_monitor_execute(ms->mon, start, mem);
            fclose(mem);
            if (!write_answer(ms->client_fd, answer, answer_len)) {
                free(answer);
                close(ms->client_fd);
                ms->client_fd = -1;
                ms->len = 0;
                ms->discarding = false;
                return;
            }
        }
        free(answer);
        start = nl + 1;
        if (ms->mon->quit_requested)
            break;
    }
    size_t left = ms->len - (size_t)(start - ms->buf);
    memmove(ms->buf, start, left);
    ms->len = left;
    if (ms->discarding) {
        ms->len = 0;            /* still inside the refused line */
    } else if (ms->len == sizeof(ms->buf)) {   /* a line longer than the buffer: refuse it */
        const char msg[] = "command line too long\n";
        write_answer(ms->client_fd, msg, sizeof(msg) - 1);
        ms->len = 0;
        ms->discarding = true;
    }
}

static void socket_read(MonitorSocket *ms)
{
    ssize_t n = read(ms->client_fd, ms->buf + ms->len, sizeof(ms->buf) - ms->len);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        close(ms->client_fd);
        ms->client_fd = -1;
        ms->len = 0;
        ms->discarding = false;   /* a new client starts on a fresh line */
        return;
    }
    ms->len += (size_t)n;
    socket_commands(ms);
}

/* Whether the VMM outlives this end of the guest: with a monitor (or -no-shutdown) a
 * guest that halted, triple-faulted or could not go on leaves the vCPU stopped for
 * inspection, as QEMU's -no-shutdown does; quit (or Ctrl-A x, a signal) ends the VMM.
 * -no-reboot hook: today a triple fault always ends the guest; a reset-on-triple-fault
 * (QEMU's default without -no-reboot) would restart the vCPU here instead. */
static bool outlives_guest(const CliOptions *opt, const SimpleVM *svm)
{
    if (opt->monitor == MONITOR_NONE && opt->qmp == QMP_NONE && !opt->no_shutdown)
        return false;
    switch (svm->stop_reason) {
    case VM_STOP_HLT:
    case VM_STOP_SHUTDOWN:
    case VM_STOP_FAIL_ENTRY:
    case VM_STOP_INTERNAL_ERROR:
        return true;
    case VM_STOP_POWEROFF:
        return opt->no_shutdown;   /* as QEMU: a monitor alone does not keep it */
    default:
        return false;   /* debug exit, --max-exits, quit, host errors: the VMM ends */
    }
}

static const char *guest_end_text(VmStopReason r)
{
    switch (r) {
    case VM_STOP_HLT: return "the guest halted";
    case VM_STOP_SHUTDOWN: return "the guest triple-faulted";
    case VM_STOP_FAIL_ENTRY: return "the guest state is invalid";
    case VM_STOP_INTERNAL_ERROR: return "the guest hit an internal error";
    case VM_STOP_POWEROFF: return "the guest powered off";
    default: return "the guest stopped";
    }
}

/* Runs the VM to its end while serving the console: input for COM1, Ctrl-A keys, the
 * monitor (console or socket), and signals, all in one poll so that none of them waits
 * for another. A terminal is always read (Ctrl-A x must work while the guest ignores its
 * input); a pipe is read only once the guest has taken what came before. Returns the
 * signal that ended the run, 0, or -1 when the run could not start. */
static uint64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The monitor's gdbserver: the stub started at run time, where the sandbox allows the
 * socket (--sandbox off); with the sandbox on, the reason and what to do instead. */
typedef struct {
    GdbStub **gdb;        /* run_with_console's stub, stopped at its end */
    bool sandboxed;
} RuntimeGdb;

static int monitor_gdbserver(QemuMonitor *mon, const char *spec, char *why, size_t size)
{
    RuntimeGdb *rg = mon->opaque;
    if (*rg->gdb) {
        snprintf(why, size, "a gdb stub is already running (one per VM)");
        return -EBUSY;
    }
    if (rg->sandboxed) {
        snprintf(why, size, "the sandbox allows no new sockets once the VM runs: start the "
                 "stub with -gdb %s (or -s), or run with --sandbox off", spec);
        return -EPERM;
    }
    if (!(*rg->gdb = gdb_stub_start(mon->svm, spec))) {
        snprintf(why, size, "%s", hv_last_error());
        return -EIO;
    }
    return 0;
}

static int run_with_console(SimpleVM *svm, const CliOptions *opt, bool console_input,
                            bool terminal, QemuMonitor *mon, int listen_fd, CliCharIn *chr,
                            QmpSocket *qmp, bool *timed_out)
{
    int done[2];
    if (pipe2(done, O_CLOEXEC) < 0 || pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
        error("pipe: %s", strerror(errno));
        return -1;
    }
    install_signal_handlers();
    Console *c = calloc(1, sizeof(*c));
    if (!c) {
        error("out of memory");
        return -1;
    }
    bool stdio_monitor = opt->monitor == MONITOR_STDIO;
    *c = (Console){
        .svm = svm,
        .mon = stdio_monitor ? mon : NULL,
        .input_open = console_input || stdio_monitor || opt->display == DISPLAY_CURSES,
        .full_screen = opt->display == DISPLAY_CURSES,
        .serial_keys_only = qemu_firmware(opt) && !opt->vga && opt->display != DISPLAY_CURSES,
        .escapes = terminal || stdio_monitor,
        .echo = terminal,
        /* Without the serial port on the console, keys can only be for the monitor; and
         * from a pipe, -monitor stdio reads commands, as QEMU's does (-serial mon:stdio
         * shares the input: the serial port first, Ctrl-A c to the monitor). */
        .in_monitor = stdio_monitor &&
                      (opt->serial != SERIAL_STDIO || (!terminal && !opt->monitor_mux)),
    };
    MonitorSocket ms = {.mon = mon, .listen_fd = listen_fd, .client_fd = -1};
    int done_fd = done[1];
    if (vm_thread_start(svm, opt->paused, on_vm_end, &done_fd) < 0) {
        error("%s", hv_last_error());
        free(c);
        return -1;
    }
    GdbStub *gdb = NULL;
    RuntimeGdb rg = {&gdb, !opt->sandbox_off};
    if (mon) {
        mon->gdbserver = monitor_gdbserver;
        mon->opaque = &rg;
    }
    if (opt->gdb && !(gdb = gdb_stub_start(svm, opt->gdb))) {
        error("%s", hv_last_error());
        vm_thread_quit(svm);
        free(c);
        return -1;
    }
    /* Setup is over: from here on, only the system calls the loop, the devices, the
     * monitor and the console make (sandbox.c). */
    if (!opt->sandbox_off) {
        char why[160];
        unsigned needs = 0;
        for (int i = 0; i < opt->num_netdevs; i++)
            if (opt->netdevs[i].kind == CLI_NETDEV_USER)
                needs |= SANDBOX_NET_USER;   /* libslirp's sockets, opened as the guest asks */
        if (sandbox_install_for(opt->sandbox_log, needs, why, sizeof(why)) < 0) {
            error("--sandbox: cannot install the seccomp filter: %s (--sandbox off runs "
                  "without it)", why);
            gdb_stub_stop(gdb);
            vm_thread_quit(svm);
            free(c);
            return -1;
        }
    }
    sandbox_run_probe();
    if (c->in_monitor)
        monitor_prompt(c);
    /* After the sandbox: drawing is only write(2). */
    TextDisplay *display = opt->display == DISPLAY_CURSES ? display_open(svm->vga, STDOUT_FILENO)
                                                          : NULL;
    uint64_t next_refresh = 0;
    int stop_signal = 0;
    /* --timeout: wall-clock time from the start, paused or not; this loop ends the VM. */
    uint64_t deadline = opt->timeout_ms ? monotonic_ms() + opt->timeout_ms : 0;
    *timed_out = false;
    bool guest_ended = false;   /* the guest has ended but the VMM goes on (outlives_guest) */
    for (;;) {
        bool read_stdin = c->input_open && (c->escapes || c->pending_len == 0);
        struct pollfd fds[12] = {
            {guest_ended ? -1 : done[0], POLLIN, 0},
            {signal_pipe[0], POLLIN, 0},
            {read_stdin ? STDIN_FILENO : -1, POLLIN, 0},
            {ms.listen_fd >= 0 && ms.client_fd < 0 ? ms.listen_fd : -1, POLLIN, 0},
            {ms.client_fd, POLLIN, 0},
            /* Guest time: this thread owns the VM's timer (DESIGN.md, "Threads"). */
            {vm_timer_fd(svm), POLLIN, 0},
            {qmp->listen_fd >= 0 && qmp->client_fd < 0 ? qmp->listen_fd : -1, POLLIN, 0},
            {qmp->client_fd, POLLIN, 0},
        };
        bool chr_pending = false;
        for (int i = 0; i < 2; i++) {   /* the serial ports' sockets and ptys */
            CliCharIn *ci = &chr[i];
            fds[8 + 2 * i] = (struct pollfd){ci->port && ci->fd < 0 ? ci->listen_fd : -1, POLLIN, 0};
            fds[9 + 2 * i] = (struct pollfd){ci->port && ci->input && ci->len == 0 ? ci->fd : -1,
                                             POLLIN, 0};
            chr_pending |= ci->port && ci->len;
        }
        /* While keys wait, look again shortly: the guest frees its queue by reading. */
        int timeout_ms = (c->pending_len || chr_pending) && !c->stopping ? 10 : -1;
        if (deadline && !c->stopping) {
            uint64_t now = monotonic_ms();
            int left = now >= deadline ? 0 : (int)(deadline - now < 60000 ? deadline - now : 60000);
            if (timeout_ms < 0 || left < timeout_ms)
                timeout_ms = left;
        }
        if (display && (timeout_ms < 0 || timeout_ms > DISPLAY_REFRESH_MS))
            timeout_ms = DISPLAY_REFRESH_MS;
        if (keyseq_pending(&c->kbd_seq)) {
            uint64_t waited = monotonic_ms() - c->kbd_seq_ms;
            int left = waited >= KEYSEQ_TIMEOUT_MS ? 0 : (int)(KEYSEQ_TIMEOUT_MS - waited);
            if (timeout_ms < 0 || left < timeout_ms)
                timeout_ms = left;
        }
        if (poll(fds, 12, timeout_ms) < 0 && errno != EINTR)
            break;
        if (display && monotonic_ms() >= next_refresh) {
            display_refresh(display);
            next_refresh = monotonic_ms() + DISPLAY_REFRESH_MS;
        }
        for (int i = 0; i < 2; i++) {
            if (fds[8 + 2 * i].revents & POLLIN)
                charin_accept(&chr[i]);
            if (fds[9 + 2 * i].revents & (POLLIN | POLLHUP | POLLERR))
                charin_read(&chr[i]);
            if (chr[i].port && chr[i].len && !c->stopping)
                charin_feed(&chr[i]);
        }
        if (fds[0].revents && qmp->session) {
            /* QEMU's SHUTDOWN for an end the guest asked for; the other ends are a STOP
             * (qmp_session_poll) when the VMM outlives them. */
            if (svm->stop_reason == VM_STOP_POWEROFF)
                qmp_session_shutdown(qmp->session, true, "guest-shutdown");
            else if (svm->stop_reason == VM_STOP_SHUTDOWN)
                qmp_session_shutdown(qmp->session, true, "guest-reset");
        }
        if (fds[0].revents) {
            if (c->stopping || !outlives_guest(opt, svm))
                break;
            guest_ended = true;
            char note[160];
            snprintf(note, sizeof(note), "scratchvm: %s; the vCPU is stopped%s\n",
                     guest_end_text(svm->stop_reason),
                     mon || qmp->session ? ": the monitor's quit ends the VMM" : " (-no-shutdown)");
            if (c->in_monitor && c->echo)
                say_out("\n");
            fflush(stdout);
            console_write_all(STDERR_FILENO, note, strlen(note));
            if (c->in_monitor && c->echo)
                say_out(MONITOR_PROMPT);
        }
        if (fds[5].revents & POLLIN)
            vm_service_timers(svm);
        if (deadline && !c->stopping && monotonic_ms() >= deadline) {
            *timed_out = true;
            console_stop(c);
        }
        if (fds[1].revents & POLLIN) {
            unsigned char sig;
            if (read(signal_pipe[0], &sig, 1) == 1 && !stop_signal)
                stop_signal = sig;
            console_stop(c);
        }
        if (fds[2].revents & (POLLIN | POLLHUP | POLLERR))
            console_read(c);
        keyboard_flush(c, false);
        if (fds[3].revents & POLLIN && (ms.client_fd = accept4(ms.listen_fd, NULL, NULL,
                                                                SOCK_CLOEXEC)) >= 0) {
            /* A client that stops reading must not stall this loop (and Ctrl-A x): an
             * answer it does not take within 2 s is dropped with the connection. */
            struct timeval tv = {.tv_sec = 2};
            setsockopt(ms.client_fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        }
        if (ms.client_fd >= 0 && (fds[4].revents & (POLLIN | POLLHUP | POLLERR)))
            socket_read(&ms);
        if (fds[6].revents & POLLIN && (qmp->client_fd = accept4(qmp->listen_fd, NULL, NULL,
                                                                  SOCK_CLOEXEC)) >= 0) {
            struct timeval tv = {.tv_sec = 2};   /* as the monitor socket's clients */
            setsockopt(qmp->client_fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
            qmp_session_connect(qmp->session);
        }
        if (qmp->client_fd >= 0 && (fds[7].revents & (POLLIN | POLLHUP | POLLERR)))
            qmp_client_read(qmp);
        if (qmp->session) {
            qmp_session_poll(qmp->session);
            if (qmp_session_quit_requested(qmp->session))
                console_stop(c);
        }
        if (mon && mon->quit_requested)
            console_stop(c);
        if (guest_ended) {
            /* No thread is left to report the end: a stop ends the loop here. Nor does
             * waiting help when nothing can send a command or a key any more. */
            bool commands = (c->mon && c->input_open) || ms.listen_fd >= 0 || qmp->listen_fd >= 0 ||
                            (c->escapes && c->echo && c->input_open);
            if (c->stopping)
                break;
            if (!commands) {
                error("no monitor input is left: ending");
                break;
            }
        }
        if (c->pending_len && !c->stopping)
            console_feed_guest(c);
    }
    if (qmp->session && stop_signal)
        qmp_session_shutdown(qmp->session, false, "host-signal");
    else if (qmp->session && c->quit_key)
        qmp_session_shutdown(qmp->session, false, "host-ui");
    qmp_client_close(qmp);
    display_close(display);
    /* The stub first: it uses the vCPU thread, and sends GDB the VM's end. */
    gdb_stub_stop(gdb);
    vm_thread_quit(svm);
    if (ms.client_fd >= 0)
        close(ms.client_fd);
    close(done[0]);
    close(done[1]);
    if (c->in_monitor && c->echo)
        say_out("\n");
    if (c->dropped)
        error("warning: %llu typed keys were dropped: the guest did not read them",
              (unsigned long long)c->dropped);
    free(c);
    return stop_signal;
}

/* --monitor unix:PATH (and -qmp unix:PATH): a listening socket at PATH (a stale socket
 * there is replaced); `what` names the option in messages. */
static int unix_listen(const char *what, const char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(addr.sun_path)) {
        error("%s unix:%s: the path is too long", what, path);
        return -1;
    }
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error("%s: socket: %s", what, strerror(errno));
        return -1;
    }
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path);
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 4) < 0) {
        error("%s unix:%s: %s", what, path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int monitor_listen(const char *path) { return unix_listen("--monitor", path); }

/* -qmp tcp:[HOST]:PORT: a listening TCP socket (no HOST: every address). */
static int tcp_listen(const char *what, const char *host, const char *port)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE}, *res;
    int e = getaddrinfo(*host ? host : NULL, port, &hints, &res);
    if (e) {
        error("%s tcp:%s:%s: %s", what, host, port, gai_strerror(e));
        return -1;
    }
    int fd = -1, err = 0;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, a->ai_addr, a->ai_addrlen) < 0 || listen(fd, 4) < 0) {
            err = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        error("%s tcp:%s:%s: %s", what, host, port, strerror(err));
    return fd;
}

/* -qmp ...,server without nowait: as QEMU's, the VM starts once the first client has
 * connected; the session greets it at once. Returns 0 or the exit status. */
static int qmp_wait_client(const CliOptions *opt, QmpSocket *qmp)
{
    if (opt->qmp == QMP_TCP)
        error("info: QMP waiting for a connection on tcp:%s:%s,server=on", opt->qmp_host,
              opt->qmp_port);
    else
        error("info: QMP waiting for a connection on unix:%s,server=on", opt->qmp_path);
    while ((qmp->client_fd = accept4(qmp->listen_fd, NULL, NULL, SOCK_CLOEXEC)) < 0 &&
           errno == EINTR) {
    }
    if (qmp->client_fd < 0) {
        error("-qmp: accept: %s", strerror(errno));
        return EXIT_HOST_ERROR;
    }
    struct timeval tv = {.tv_sec = 2};   /* as the run loop's clients */
    setsockopt(qmp->client_fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    qmp_session_connect(qmp->session);
    return 0;
}

static int exit_status(SimpleVM *svm, const CliOptions *opt, int stop_signal, bool timed_out)
{
    if (stop_signal)
        return 128 + stop_signal;
    if (timed_out) {
        error("stopped after %llu.%03llu s (--timeout)",
              (unsigned long long)(opt->timeout_ms / 1000),
              (unsigned long long)(opt->timeout_ms % 1000));
        return EXIT_TIMEOUT;
    }
    switch (svm->stop_reason) {
    case VM_STOP_HLT:
    case VM_STOP_REQUESTED:
    case VM_STOP_STEPPED:
    case VM_STOP_DEBUG:
    case VM_STOP_POWEROFF:
        return EXIT_OK;
    case VM_STOP_DEBUG_EXIT:
        return (int)((svm->debug_exit_value << 1) | 1) & 0xFF;
    case VM_STOP_SHUTDOWN:
        return EXIT_GUEST_SHUTDOWN;
    case VM_STOP_FAIL_ENTRY:
    case VM_STOP_INTERNAL_ERROR:
        return EXIT_GUEST_FAILED;
    case VM_STOP_MAX_EXITS:
        error("stopped after %llu exits (--max-exits)", (unsigned long long)opt->max_exits);
        return EXIT_MAX_EXITS;
    case VM_STOP_MAX_INSNS:
        error("stopped after %llu instructions (--max-insns)",
              (unsigned long long)opt->max_insns);
        return EXIT_MAX_INSNS;
    case VM_STOP_NONE:
    case VM_STOP_ERROR:
        break;
    }
    return EXIT_HOST_ERROR;
}

/* -d guest_errors with -D: the library's warnings (unhandled ports and MMIO, ...) go to the
 * log file; errors go there and to stderr, where the user looks for why the VM ended. */
static void log_to_file(HvLogLevel level, const char *message, void *opaque)
{
    static const char *const prefix[] = {"error", "warning", "info", "debug"};
    fprintf(opaque, "%s: %s\n", prefix[level], message);
    if (level == HV_LOG_ERROR)
        fprintf(stderr, "scratchvm: error: %s\n", message);
}

/* The log and trace (-d, -D, --trace exits) and the magic breakpoint. -D's file is
 * line-buffered: the debug console writes between its lines. Returns an exit status. */
static int setup_debugging(SimpleVM *svm, const CliOptions *opt, FILE **log)
{
    if (opt->log_file) {
        if (!(*log = fopen(opt->log_file, "we"))) {
            error("-D %s: %s", opt->log_file, strerror(errno));
            return EXIT_USAGE;
        }
        setvbuf(*log, NULL, _IOLBF, 0);
    }
    FILE *out = *log ? *log : stderr;
    unsigned items = opt->log_items | (opt->trace_exits ? VM_LOG_EXITS : 0);
    if (*log && (items & VM_LOG_GUEST_ERRORS))
        hv_set_log_handler(log_to_file, *log);
    if (vm_set_log(svm, items, out) < 0)
        error("warning: -d int: %s", hv_last_error());
    if (opt->magic_break) {
        struct kvm_guest_debug dbg = svm->guest_debug;
        dbg.control |= KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SIM_MAGIC_BREAK;
        if (vm_set_guest_debug(svm, &dbg) < 0) {
            error("--magic-break: KVM cannot stop at XCHG BX,BX (it is no exit); use --accel "
                  "sim (%s)", hv_last_error());
            return EXIT_USAGE;
        }
    }
    return 0;
}

/* The guest's bytes: a demo's, or FILE's. Returns an exit status (0 when read). */
static int guest_image(const CliOptions *opt, uint8_t **image, size_t *size)
{
    if (opt->command == CMD_DEMO) {
        bool hello = strcmp(opt->file, "hello") == 0;
        *size = hello ? demo_hello_size : demo_add_size;
        *image = malloc(*size);
        if (!*image)
            return EXIT_HOST_ERROR;
        memcpy(*image, hello ? demo_hello : demo_add, *size);
        return 0;
    }
    if (!opt->file && !opt->kernel)
        return 0;   /* disks only: the BIOS boots them */
    uint64_t limit = opt->kind == IMAGE_ROM ? VM_MAX_ROM : opt->memory;
    const char *what = opt->kind == IMAGE_ROM ? "largest firmware" : "guest RAM";
    return read_image(opt->kernel ? opt->kernel : opt->file, limit, what, image, size);
}

/* scratchvm diff: the guest on KVM and on the sim kernel in lockstep (src/vmm/lockstep.c).
 * The report goes to stdout; the guest's serial output only to --serial file:PATH (from
 * the KVM VM). Exit status: 0 agreed, 1 diverged, 8 a VM cannot be created (KVM not
 * usable), 14 the --max-exits limit, 16 no exit within the timeout or a host error. */
static int cmd_diff(const CliOptions *opt)
{
    if (opt->smp > 1) {
        /* Lockstep compares one instruction stream; with several vCPUs the two kernels'
         * interleavings differ (KVM's are the host's scheduling), so nothing would match. */
        error("diff: -smp %u: the lockstep comparison runs one vCPU", opt->smp);
        return EXIT_USAGE;
    }
    uint8_t *image = NULL;
    size_t size = 0;
    int status = guest_image(opt, &image, &size);
    if (status)
        return status;
    SimpleVM *vm[2] = {NULL, NULL};
    const HvBackend backends[2] = {HV_BACKEND_KVM, HV_BACKEND_SIM};
    int serial_fd = -1;
    for (int i = 0; i < 2 && status == 0; i++) {
        if (!(vm[i] = vm_create_bytes(opt->memory, backends[i]))) {
            error("diff: cannot create the %s VM: %s", hv_backend_name(backends[i]),
                  hv_last_error());
            status = EXIT_VM_SETUP;
            break;
        }
        vm[i]->serial->output_fd = -1;
        vm[i]->debug_exit->console_fd = -1;
        status = load_guest(vm[i], opt, image, size);
    }
    if (status == 0 && opt->serial == SERIAL_FILE) {
        serial_fd = open(opt->serial_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (serial_fd < 0) {
            error("--serial file:%s: %s", opt->serial_path, strerror(errno));
            status = EXIT_USAGE;
        } else {
            vm[0]->serial->output_fd = serial_fd;
        }
    }
    if (status == 0) {
        LockstepOptions lo = {.step = opt->step, .max_steps = opt->max_exits,
                              .timeout_ms = 10000, .name_a = "kvm", .name_b = "sim"};
        int r = vm_lockstep(vm[0], vm[1], &lo, stdout);
        status = r == LOCKSTEP_AGREED ? EXIT_OK : r == LOCKSTEP_DIVERGED ? 1
               : r == LOCKSTEP_LIMIT ? EXIT_MAX_EXITS : EXIT_HOST_ERROR;
        if (r < 0)
            error("diff: %s", strerror(-r));
    }
    if (serial_fd >= 0)
        close(serial_fd);
    vm_destroy(vm[0]);
    vm_destroy(vm[1]);
    free(image);
    return status;
}

/* -daemonize, as QEMU's: the process forks at once; the parent waits until the child has
 * set the VM up (errors until then still reach the terminal) and ends with 0, or with the
 * child's status when setup failed. Returns -1 in the child (go on), else the parent's
 * status. *ready is where the child reports. */
static int daemonize(int *ready)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        error("-daemonize: pipe: %s", strerror(errno));
        return EXIT_HOST_ERROR;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        error("-daemonize: fork: %s", strerror(errno));
        return EXIT_HOST_ERROR;
    }
    if (pid > 0) {
        close(p[1]);
        unsigned char st = EXIT_HOST_ERROR;   /* the child died before it said */
        while (read(p[0], &st, 1) < 0 && errno == EINTR) {
        }
        close(p[0]);
        return st;
    }
    close(p[0]);
    setsid();
    *ready = p[1];
    return -1;
}

/* The child is set up: the parent may end; the terminal is let go of. */
static void daemon_ready(int *ready, int status)
{
    if (*ready < 0)
        return;
    unsigned char st = (unsigned char)status;
    while (write(*ready, &st, 1) < 0 && errno == EINTR) {
    }
    close(*ready);
    *ready = -1;
    if (status == 0) {
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0) {
            dup2(null, STDIN_FILENO);
            dup2(null, STDOUT_FILENO);
            dup2(null, STDERR_FILENO);
            close(null);
        }
    }
}

static int write_pidfile(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        error("-pidfile %s: %s", path, strerror(errno));
        return EXIT_USAGE;
    }
    char line[32];
    int n = snprintf(line, sizeof(line), "%d\n", (int)getpid());
    console_write_all(fd, line, (size_t)n);
    close(fd);
    return 0;
}

static int cmd_run_vm(const CliOptions *opt);

/* run: -daemonize and -pidfile around the VM's life. */
static int cmd_run(const CliOptions *opt)
{
    int ready = -1;
    if (opt->daemonize) {
        int parent = daemonize(&ready);
        if (parent >= 0)
            return parent;
    }
    if (opt->process_name[0])
        prctl(PR_SET_NAME, opt->process_name, 0, 0, 0);
    int status = opt->pidfile ? write_pidfile(opt->pidfile) : 0;
    if (status == 0) {
        cli_daemon_ready = ready >= 0 ? &ready : NULL;
        status = cmd_run_vm(opt);
        cli_daemon_ready = NULL;
    }
    daemon_ready(&ready, status);   /* a setup failure: the parent ends with it */
    if (opt->pidfile && status != EXIT_USAGE)
        unlink(opt->pidfile);
    return status;
}

/* The VM's COM1/COM2 character devices and -debugcon. Returns 0 or the exit status. */
static int open_chardevs(SimpleVM *svm, const CliOptions *opt, CliCharIn chr[2], int *debug_fd)
{
    for (int i = 0; i < 2; i++) {
        const CliChardev *c = &opt->serial_chr[i];
        if (i == 0 && opt->serial != SERIAL_CHARDEV)
            continue;
        if (i == 1 && c->kind == CHR_NONE)
            continue;
        int fd, lfd;
        bool input;
        int status = chardev_open(c, i ? "serial1" : "serial0", &fd, &lfd, &input);
        if (status)
            return status;
        chr[i] = (CliCharIn){.port = i ? svm->serial2 : svm->serial, .fd = fd,
                             .listen_fd = lfd, .input = input,
                             .unlink_path = c->kind == CHR_UNIX && c->server ? c->path : NULL};
        chr[i].port->output_fd = fd;
    }
    if (opt->debugcon_port && vm_add_debugcon_port(svm, opt->debugcon_port) < 0) {
        error("-device isa-debugcon: %s", hv_last_error());
        return EXIT_VM_SETUP;
    }
    if (opt->debugcon.kind != CHR_NONE) {
        int lfd;
        bool input;
        int status = chardev_open(&opt->debugcon, "debugcon", debug_fd, &lfd, &input);
        if (status)
            return status;
        if (lfd >= 0) {   /* nobody reads the debug console's input: a client is awaited */
            error("-debugcon: a server socket must wait for its client (no nowait)");
            close(lfd);
            return EXIT_USAGE;
        }
        svm->debug_exit->console_fd = *debug_fd;
    }
    return 0;
}

/* The virtio devices of -device virtio-*-pci, -drive if=virtio and -nic, in command-line
 * order (their PCI slots follow it), with their disks and network back ends. 0, or -1
 * after the message. */
static int add_virtio_devices(SimpleVM *svm, const CliOptions *opt)
{
    for (int i = 0; i < opt->num_virtio; i++) {
        const CliVirtioDevice *dev = &opt->virtio[i];
        int r;
        if (dev->kind == CLI_VIRTIO_BLK) {
            const CliVirtioDrive *d = &opt->vdrives[dev->drive];
            int flags = (d->read_only ? BLOCK_READ_ONLY : 0) |
                        (d->snapshot || opt->snapshot ? BLOCK_SNAPSHOT : 0);
            BlockDev *bd;
            if (block_open(d->file, (BlockFormat)d->format, flags, &bd) < 0) {
                error("%s: %s", d->file, hv_last_error());
                return -1;
            }
            r = vm_add_virtio_blk(svm, bd, dev->serial);
        } else if (dev->kind == CLI_VIRTIO_NET) {
            const CliNetdev *nd = &opt->netdevs[dev->netdev];
            NetBackend *nb = nd->kind == CLI_NETDEV_USER ? net_user_create(&nd->user)
                                                         : net_tap_create(nd->ifname);
            if (!nb) {
                error("-netdev %s%s%s: %s", nd->kind == CLI_NETDEV_USER ? "user" : "tap",
                      *nd->id ? ",id=" : "", nd->id, hv_last_error());
                return -1;
            }
            r = vm_add_virtio_net(svm, nb, dev->mac);
        } else {
            r = vm_add_virtio_rng(svm);
        }
        if (r < 0) {
            error("%s", hv_last_error());
            return -1;
        }
    }
    return 0;
}

static int cmd_run_vm(const CliOptions *opt)
{
    uint8_t *image = NULL;
    size_t size = 0;
    int status = guest_image(opt, &image, &size);
    if (status)
        return status;
    CliDisks disks;
    if ((status = open_disks(opt, &disks)) != 0) {
        free(image);
        return status;
    }

    char *block_info = block_info_text(opt, &disks);
    SimpleVM *svm = vm_create_flags(opt->memory, opt->accel,
                                    (opt->kernel_irqchip ? VM_FLAG_KERNEL_IRQCHIP : 0) |
                                    (opt->vga_none ? VM_FLAG_NO_VGA : 0));
    if (!svm) {
        error("cannot create the VM: %s", hv_last_error());
        close_disks(&disks);
        free(block_info);
        free(image);
        return EXIT_VM_SETUP;
    }
    int serial_fd = -1, listen_fd = -1, debug_fd = -1;
    CliCharIn chr[2] = {{.fd = -1, .listen_fd = -1}, {.fd = -1, .listen_fd = -1}};
    QemuMonitor *mon = NULL;
    QmpSocket qmp = {.listen_fd = -1, .client_fd = -1};
    FILE *log = NULL;
    char cpu_msg[600];
    int cpu = cli_cpu_check(opt, svm->kvm->backend == HV_BACKEND_SIM ? cli_sim_cpu_features()
                                                                      : UINT64_MAX,
                            svm->kvm->backend == HV_BACKEND_KVM, cpu_msg, sizeof(cpu_msg));
    if (cpu < 0) {
        error("%s", cpu_msg);
        status = EXIT_USAGE;
        goto out;
    }
    if (cpu > 0)
        error("%s", cpu_msg);
    if (opt->display == DISPLAY_CURSES && (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))) {
        error("-display curses needs a terminal on stdin and stdout");
        status = EXIT_USAGE;
        goto out;
    }
    if (opt->serial == SERIAL_STDIO && opt->display == DISPLAY_CURSES) {
        serial_fd = -1;   /* the terminal shows the screen: COM1's output would break it */
    } else if (opt->serial == SERIAL_STDIO) {
        serial_fd = STDOUT_FILENO;
    } else if (opt->serial == SERIAL_FILE) {
        serial_fd = open(opt->serial_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (serial_fd < 0) {
            error("--serial file:%s: %s", opt->serial_path, strerror(errno));
            status = EXIT_USAGE;
            goto out;
        }
    }
    svm->serial->output_fd = serial_fd;

    /* Before anything is loaded: the tables are rebuilt, and the loaders hand out the
     * memory map and the RSDP that go with them. */
    if (opt->no_acpi && vm_set_acpi(svm, false) < 0) {
        error("%s", hv_last_error());
        status = EXIT_VM_SETUP;
        goto out;
    }
    if (opt->smp > 1 && vm_set_cpus(svm, opt->smp) < 0) {
        error("-smp: %s", hv_last_error());
        status = EXIT_VM_SETUP;
        goto out;
    }
    /* COM2 before the firmware: the BIOS data area and the DSDT list it. */
    if (opt->serial_chr[1].kind != CHR_NONE && vm_add_serial2(svm, -1) < 0) {
        error("-serial: %s", hv_last_error());
        status = EXIT_VM_SETUP;
        goto out;
    }
    if (opt->pc_testdev && vm_add_pc_testdev(svm) < 0) {
        error("%s", hv_last_error());
        status = EXIT_VM_SETUP;
        goto out;
    }
    for (int i = 0; i < opt->num_pci_devices; i++) {
        if (vm_add_pci_device(svm, opt->pci_devices[i]) < 0) {
            error("%s", hv_last_error());
            status = EXIT_VM_SETUP;
            goto out;
        }
    }
    if (add_virtio_devices(svm, opt) < 0) {
        status = EXIT_VM_SETUP;
        goto out;
    }
    bool bios = !qemu_firmware(opt) && (opt->num_drives || opt->kind == IMAGE_BOOT_SECTOR);
    if (opt->kind == IMAGE_BOOT_SECTOR && vm_check_boot_sector(image, size) < 0) {
        error("%s: %s", opt->file, hv_last_error());
        status = EXIT_IMAGE_INVALID;
        goto out;
    }
    status = opt->kernel ? load_kernel(svm, opt, image, size)
             : bios      ? load_bios_machine(svm, opt, &disks, image, size)
                         : load_guest(svm, opt, image, size);
    if (status == 0 && qemu_firmware(opt))
        status = attach_ide_disks(svm, opt, &disks);
    if (status != 0)
        goto out;
    for (int i = 0; i < opt->num_regs; i++)
        cli_apply_reg(&svm->vcpu->regs, &opt->regs[i]);
    if (opt->command == CMD_DEMO && strcmp(opt->file, "add") == 0 && opt->num_regs == 0) {
        svm->vcpu->regs.rax = 40;   /* the demo's sum, unless --reg says otherwise */
        svm->vcpu->regs.rbx = 2;
    }
    svm->max_exits = opt->max_exits;
    svm->reset_on_shutdown = !opt->no_reboot;
    svm->screendump = vga_screendump;
    if ((status = setup_debugging(svm, opt, &log)) != 0)
        goto out;
    if ((status = open_chardevs(svm, opt, chr, &debug_fd)) != 0)
        goto out;
    if (opt->clock != VM_CLOCK_HOST && vm_set_clock(svm, opt->clock) < 0) {
        error("%s", hv_last_error());
        status = EXIT_USAGE;
        goto out;
    }
    if (opt->rtc_base != CLI_RTC_UTC &&
        vm_set_rtc_base(svm, opt->rtc_base == CLI_RTC_LOCALTIME ? VM_RTC_LOCALTIME : VM_RTC_DATE,
                        opt->rtc_date) < 0) {
        error("-rtc: %s", hv_last_error());
        status = EXIT_USAGE;
        goto out;
    }
    if (opt->max_insns && kvm_vcpu_set_instruction_limit(svm->vcpu, opt->max_insns) < 0) {
        error("--max-insns: %s", hv_last_error());   /* e.g. --accel auto chose KVM */
        status = EXIT_USAGE;
        goto out;
    }

    if (opt->monitor != MONITOR_NONE && !(mon = qemu_monitor_create(svm))) {
        error("%s", hv_last_error());
        status = EXIT_HOST_ERROR;
        goto out;
    }
    if (mon && opt->name[0])
        mon->name = opt->name;
    if (mon)
        mon->block_info = block_info;
    if (opt->monitor == MONITOR_UNIX && (listen_fd = monitor_listen(opt->monitor_path)) < 0) {
        status = EXIT_VM_SETUP;
        goto out;
    }
    if (opt->qmp != QMP_NONE) {
        qmp.listen_fd = opt->qmp == QMP_UNIX ? unix_listen("-qmp", opt->qmp_path)
                                             : tcp_listen("-qmp", opt->qmp_host, opt->qmp_port);
        if (qmp.listen_fd < 0) {
            status = EXIT_VM_SETUP;
            goto out;
        }
        if (!(qmp.hmp = qemu_monitor_create(svm)) ||
            !(qmp.session = qmp_session_create(svm, qmp.hmp, qmp_send, &qmp, opt->paused))) {
            error("-qmp: %s", qmp.hmp ? strerror(errno) : hv_last_error());
            status = EXIT_HOST_ERROR;
            goto out;
        }
        if (opt->qmp_wait && (status = qmp_wait_client(opt, &qmp)) != 0)
            goto out;
    }
    if (cli_daemon_ready)
        daemon_ready(cli_daemon_ready, 0);
    bool console = opt->serial == SERIAL_STDIO || opt->monitor == MONITOR_STDIO ||
                   opt->display == DISPLAY_CURSES;
    bool interactive = console && console_raw_enable(STDIN_FILENO) == 0;
    bool timed_out = false;
    int stop_signal = run_with_console(svm, opt, opt->serial == SERIAL_STDIO, interactive, mon,
                                       listen_fd, chr, &qmp, &timed_out);
    console_restore();
    if (stop_signal < 0) {
        status = EXIT_HOST_ERROR;
        goto out;
    }
    if (opt->trace_stats) {
        QemuMonitor *stats = mon ? mon : qemu_monitor_create(svm);
        if (stats) {
            fflush(stdout);
            FILE *saved = stats->out;
            stats->out = stderr;
            qemu_cmd_info_exits(stats);   /* the VM has ended: nothing moves any more */
            stats->out = saved;
            if (stats != mon)
                qemu_monitor_destroy(stats);
        }
    }
    if (opt->trace_bios) {
        fflush(stdout);
        vm_bios_print_unsupported(svm, stderr);
    }
    if (opt->vga) {
        fflush(stdout);
        vga_display_to(svm->vga, stdout);
        fflush(stdout);
    }
    status = exit_status(svm, opt, stop_signal, timed_out);
    if ((svm->stop_reason == VM_STOP_INTERNAL_ERROR || svm->stop_reason == VM_STOP_FAIL_ENTRY) &&
        opt->accel == HV_BACKEND_AUTO && svm->kvm->backend == HV_BACKEND_KVM)
        error("hint: --accel auto chose KVM, which could not run this guest; --accel sim runs "
              "it on the software backend");
out:
    close_disks(&disks);   /* those no firmware took (a failed load) */
    for (int i = 0; i < 2; i++)
        charin_close(&chr[i]);
    if (debug_fd > STDERR_FILENO) {
        svm->debug_exit->console_fd = -1;
        close(debug_fd);
    }
    if (listen_fd >= 0) {
        close(listen_fd);
        unlink(opt->monitor_path);
    }
    qemu_monitor_destroy(mon);
    if (qmp.listen_fd >= 0) {
        close(qmp.listen_fd);
        if (opt->qmp == QMP_UNIX)
            unlink(opt->qmp_path);
    }
    if (qmp.client_fd >= 0)
        close(qmp.client_fd);
    qmp_session_destroy(qmp.session);
    qemu_monitor_destroy(qmp.hmp);
    if (serial_fd > STDERR_FILENO)
        close(serial_fd);
    vm_destroy(svm);
    if (log) {
        hv_set_log_handler(NULL, NULL);
        fclose(log);
    }
    free(block_info);
    free(image);
    return status;
}

/* Without fds 0-2, /dev/kvm and guest files would take their numbers and the guest's
 * console output would be written into them. */
static void ensure_standard_fds(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
            int null = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
            if (null >= 0 && null != fd) {
                dup2(null, fd);
                close(null);
            }
        }
    }
}

int cli_main(int argc, char **argv)
{
    ensure_standard_fds();
    CliOptions opt;
    char err[256];
    if (cli_parse(argc, argv, &opt, err, sizeof(err)) < 0) {
        error("%s", err);
        return EXIT_USAGE;
    }
    switch (opt.command) {
    case CMD_HELP:
        cli_print_usage(stdout);
        return EXIT_OK;
    case CMD_VERSION:
        printf("scratchvm %s\n", SCRATCHVM_VERSION);
        return EXIT_OK;
    case CMD_INFO: {
        print_hypervisor_types_to(stdout);
        putchar('\n');
        CpuVirtCaps caps = check_cpu_virt_support();
        print_cpu_virt_caps(stdout, &caps);
        putchar('\n');
        print_interrupt_models(stdout);
        return EXIT_OK;
    }
    case CMD_RUN:
    case CMD_DEMO:
        return cmd_run(&opt);
    case CMD_DIFF:
        return cmd_diff(&opt);
    case CMD_NONE:
        break;
    }
    return EXIT_USAGE;
}
