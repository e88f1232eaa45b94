/* Unit tests for the scratchvm command line (src/cli/options.c) and console keys. */
#include <setjmp.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/console.h"
#include "cli/options.h"
#include "cli/options_qemu.h"

#define ARGV(...) ((char *[]){"scratchvm", __VA_ARGS__, NULL})
#define ARGC(...) ((int)(sizeof((char *[]){"scratchvm", __VA_ARGS__}) / sizeof(char *)))
#define PARSE(opt, err, ...) cli_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), opt, err, sizeof(err))

static void test_defaults(void **state)
{
    (void)state;
    CliOptions o;
    char err[256];
    assert_int_equal(PARSE(&o, err, "run", "guest.bin"), 0);
    assert_int_equal(o.command, CMD_RUN);
    assert_string_equal(o.file, "guest.bin");
    assert_int_equal(o.memory, 128 << 20);   /* QEMU's and Firecracker's default */
    assert_int_equal(o.kind, IMAGE_FLAT);
    assert_int_equal(o.load_addr, 0);
    assert_int_equal(o.entry, 0);
    assert_int_equal(o.serial, SERIAL_STDIO);
    assert_int_equal(o.accel, HV_BACKEND_AUTO);
    assert_false(o.vga);
    assert_false(o.trace_exits);
    assert_int_equal(o.max_exits, 0);
    assert_int_equal(o.num_regs, 0);
}

static void test_every_option(void **state)
{
    (void)state;
    CliOptions o;
    char err[256];
    int r = PARSE(&o, err, "run", "-m", "1G", "--load", "0x1000", "--entry", "0x1234",
                  "--reg", "rax=40", "--reg", "RBX=0x2", "--reg", "r15=7", "--reg", "rip=9",
                  "--serial", "file:/tmp/out", "--vga", "--trace", "exits", "--accel", "kvm",
                  "--max-exits", "100", "x.bin");
    assert_int_equal(r, 0);
    assert_int_equal(o.memory, 1ull << 30);
    assert_true(o.load_set);
    assert_int_equal(o.load_addr, 0x1000);
    assert_int_equal(o.entry, 0x1234);
    assert_int_equal(o.num_regs, 4);
    assert_int_equal(o.serial, SERIAL_FILE);
    assert_string_equal(o.serial_path, "/tmp/out");
    assert_true(o.vga);
    assert_true(o.trace_exits);
    assert_int_equal(o.accel, HV_BACKEND_KVM);
    assert_int_equal(o.max_exits, 100);

    KvmRegs regs = {0};
    for (int i = 0; i < o.num_regs; i++)
        cli_apply_reg(&regs, &o.regs[i]);
    assert_int_equal(regs.rax, 40);
    assert_int_equal(regs.rbx, 2);
    assert_int_equal(regs.r15, 7);
    assert_int_equal(regs.rip, 9);
}

static void test_options_after_and_before_file(void **state)
{
    (void)state;
    CliOptions o;
    char err[256];
    assert_int_equal(PARSE(&o, err, "demo", "hello", "--accel", "sim", "--memory=2M"), 0);
    assert_int_equal(o.command, CMD_DEMO);
    assert_string_equal(o.file, "hello");
    assert_int_equal(o.accel, HV_BACKEND_SIM);
    assert_int_equal(o.memory, 2 << 20);
}

static void test_load_sets_default_entry(void **state)
{
    (void)state;
    CliOptions o;
    char err[256];
    assert_int_equal(PARSE(&o, err, "run", "--load", "0x7c00", "x"), 0);
    assert_int_equal(o.entry, 0x7c00);
    assert_int_equal(PARSE(&o, err, "run", "--load", "0x200000", "x"), -1);
    assert_non_null(strstr(err, "--entry"));
    assert_int_equal(PARSE(&o, err, "run", "--load", "0x200000", "--entry", "0x100", "x"), 0);
}

static void test_sizes(void **state)
{
    (void)state;
    uint64_t b;
    assert_int_equal(cli_parse_size("16M", &b), 0);
    assert_int_equal(b, 16ull << 20);
    assert_int_equal(cli_parse_size("512k", &b), 0);
    assert_int_equal(b, 512ull << 10);
    assert_int_equal(cli_parse_size("2G", &b), 0);
    assert_int_equal(b, 2ull << 30);
    assert_int_equal(cli_parse_size("64", &b), 0);   /* MiB, as in QEMU */
    assert_int_equal(b, 64ull << 20);
    assert_int_equal(cli_parse_size("4MiB", &b), 0);
    assert_int_equal(b, 4ull << 20);
    assert_int_equal(cli_parse_size("1MB", &b), 0);
    assert_int_equal(b, 1ull << 20);
    assert_int_equal(cli_parse_size("1T", &b), 0);
    assert_int_equal(b, 1ull << 40);
    const char *bad[] = {"", "M", "-1M", "16X", "16MM", "1.5G", " 16M"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(cli_parse_size(bad[i], &b), -EINVAL);
    assert_int_equal(cli_parse_size("99999999999999999999G", &b), -ERANGE);
    assert_int_equal(cli_parse_size("99999999999T", &b), -ERANGE);
}

static void test_numbers(void **state)
{
    (void)state;
    uint64_t v;
    assert_int_equal(cli_parse_number("0x7C00", &v), 0);
    assert_int_equal(v, 0x7c00);
    assert_int_equal(cli_parse_number("31744", &v), 0);
    assert_int_equal(v, 31744);
    assert_int_equal(cli_parse_number("0xffffffffffffffff", &v), 0);
    assert_true(v == UINT64_MAX);
    const char *bad[] = {"", "0x", "-1", "+1", "12a", "0x1g", " 1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(cli_parse_number(bad[i], &v), -EINVAL);
    assert_int_equal(cli_parse_number("0x10000000000000000", &v), -ERANGE);
    assert_int_equal(cli_parse_number("0x1ffffffffffffffff", &v), -ERANGE);
    assert_int_equal(cli_parse_number("18446744073709551616", &v), -ERANGE);
}

static void test_entry_to_cs_ip(void **state)
{
    (void)state;
    uint16_t cs, ip;
    cli_entry_to_cs_ip(0x7C00, &cs, &ip);
    assert_int_equal(cs, 0);
    assert_int_equal(ip, 0x7C00);
    cli_entry_to_cs_ip(0xFFFF0, &cs, &ip);
    assert_int_equal(cs, 0xF000);
    assert_int_equal(ip, 0xFFF0);
    cli_entry_to_cs_ip(0x12345, &cs, &ip);
    assert_int_equal(cs, 0x1000);
    assert_int_equal(ip, 0x2345);
    cli_entry_to_cs_ip(0, &cs, &ip);
    assert_int_equal(cs, 0);
    assert_int_equal(ip, 0);
}

static void expect_usage_error(const char *needle, int argc, char **argv)
{
    CliOptions o;
    char err[256];
    assert_int_equal(cli_parse(argc, argv, &o, err, sizeof(err)), -1);
    if (!strstr(err, needle))
        print_error("expected '%s' in: %s\n", needle, err);
    assert_non_null(strstr(err, needle));
    assert_null(strchr(err, '\n'));   /* one line */
}

/* The loader and disk options, in QEMU's single-dash spelling. */
static void test_loader_and_disk_options(void **state)
{
    (void)state;
    CliOptions o;
    char err[256];
    assert_int_equal(PARSE(&o, err, "run", "-kernel", "k.elf", "-initrd", "a x,b", "-append",
                           "console=ttyS0", "-device", "pc-testdev", "-m", "128M"), 0);
    assert_string_equal(o.kernel, "k.elf");
    assert_string_equal(o.initrd, "a x,b");
    assert_string_equal(o.append, "console=ttyS0");
    assert_true(o.pc_testdev);
    assert_null(o.file);
    assert_int_equal(PARSE(&o, err, "run", "-fda", "a.img", "-drive",
                           "file=d.qcow2,format=qcow2,if=ide,index=1,snapshot=on", "-boot", "c",
                           "-snapshot", "--trace", "bios,exits"), 0);
    assert_int_equal(o.num_drives, 2);
    assert_string_equal(o.drives[0].file, "a.img");
    assert_int_equal(o.drives[0].iface, DRIVE_IF_FLOPPY);
    assert_string_equal(o.drives[1].file, "d.qcow2");
    assert_int_equal(o.drives[1].format, 2);
    assert_int_equal(o.drives[1].index, 1);
    assert_true(o.drives[1].snapshot);
    assert_string_equal(o.boot_order, "c");
    assert_true(o.snapshot);
    assert_true(o.trace_bios);
    assert_true(o.trace_exits);
    assert_false(o.trace_stats);
    assert_int_equal(PARSE(&o, err, "run", "--boot-sector", "b.bin", "-hda", "d.img"), 0);
    assert_string_equal(o.file, "b.bin");
    assert_int_equal(PARSE(&o, err, "run", "-cdrom", "cd.iso", "-drive",
                           "file=cd.qcow2,format=qcow2,media=cdrom", "-boot", "order=dc"), 0);
    assert_int_equal(o.num_drives, 2);
    assert_true(o.drives[0].cdrom);
    assert_string_equal(o.drives[0].file, "cd.iso");
    assert_true(o.drives[1].cdrom);
    assert_int_equal(o.drives[1].format, 2);
    assert_string_equal(o.boot_order, "dc");
    assert_int_equal(PARSE(&o, err, "run", "-drive", "file=d.img,media=disk"), 0);
    assert_false(o.drives[0].cdrom);
}

#define EXPECT_ERROR(needle, ...) expect_usage_error(needle, ARGC(__VA_ARGS__), ARGV(__VA_ARGS__))

static void test_usage_errors(void **state)
{
    (void)state;
    CliOptions o;
    char err[256];
    assert_int_equal(cli_parse(1, (char *[]){"scratchvm", NULL}, &o, err, sizeof(err)), -1);
    EXPECT_ERROR("unknown command", "frobnicate");
    EXPECT_ERROR("run needs one FILE", "run");
    EXPECT_ERROR("-kernel takes no FILE", "run", "-kernel", "k", "f");
    EXPECT_ERROR("need a -kernel", "run", "-append", "x", "f");
    EXPECT_ERROR("BIOS", "run", "-kernel", "k", "-fda", "f");
    EXPECT_ERROR("built-in BIOS", "run", "-hda", "d", "flat.bin");
    EXPECT_ERROR("built-in BIOS", "run", "--rom", "-hda", "d", "rom.bin");
    EXPECT_ERROR("cache=none", "run", "-drive", "file=d,cache=none");
    EXPECT_ERROR("no file=", "run", "-drive", "if=ide");
    EXPECT_ERROR("not KEY=VALUE", "run", "-drive", "d.img");
    EXPECT_ERROR("-boot x", "run", "-boot", "x", "-hda", "d");
    EXPECT_ERROR("not a floppy", "run", "-drive", "file=c.iso,media=cdrom,if=floppy");
    EXPECT_ERROR("media=cd", "run", "-drive", "file=c.iso,media=cd");
    EXPECT_ERROR("needs a file", "run", "-cdrom", "");
    EXPECT_ERROR("only pc-testdev, isa-debug-exit", "run", "-device", "pci-testdev", "x");
    EXPECT_ERROR("isa-debugcon takes iobase=PORT and chardev=ID", "run", "-device",
                 "isa-debugcon,iosize=2", "x");
    /* SeaBIOS's log port, its output to a -chardev. */
    assert_int_equal(PARSE(&o, err, "run", "-chardev", "file,id=sb,path=/tmp/sb.log", "-device",
                           "isa-debugcon,iobase=0x402,chardev=sb", "x"), 0);
    assert_int_equal(o.debugcon_port, 0x402);
    EXPECT_ERROR("empty item", "run", "--trace", "bios,", "x");
    EXPECT_ERROR("at most 4 disks", "run", "-hda", "1", "-hda", "2", "-hda", "3", "-hda", "4",
                 "-hda", "5");
    EXPECT_ERROR("too many", "run", "a", "b");
    EXPECT_ERROR("unknown option '--bogus'", "run", "--bogus", "x");
    EXPECT_ERROR("-m 16X", "run", "-m", "16X", "x");
    EXPECT_ERROR("too small", "run", "-m", "4K", "x");
    EXPECT_ERROR("64K to 3G", "run", "-m", "4K", "x");
    EXPECT_ERROR("too large: guest RAM is at most 3G", "run", "-m", "4G", "x");
    EXPECT_ERROR("-m 1T: too large: guest RAM is at most 3G", "run", "-m", "1T", "x");
    EXPECT_ERROR("too large", "run", "-m", "99999999999999999999", "x");
    EXPECT_ERROR("multiple of 4K", "run", "-m", "65537K", "x");
    EXPECT_ERROR("needs an argument", "run", "x", "--reg");
    EXPECT_ERROR("unknown register", "run", "--reg", "rzz=1", "x");
    EXPECT_ERROR("NAME=VALUE", "run", "--reg", "rax", "x");
    EXPECT_ERROR("not a number", "run", "--reg", "rax=forty", "x");
    EXPECT_ERROR("out of range", "run", "--reg", "rax=0x1ffffffffffffffff", "x");
    EXPECT_ERROR("--serial", "run", "--serial", "tcp:1", "x");
    EXPECT_ERROR("--serial", "run", "--serial", "file:", "x");
    EXPECT_ERROR("--trace", "run", "--trace", "everything", "x");
    EXPECT_ERROR("--accel", "run", "--accel", "xen", "x");
    EXPECT_ERROR("--max-exits", "run", "--max-exits", "0", "x");
    EXPECT_ERROR("below 1 MiB", "run", "--entry", "0x100000", "x");
    EXPECT_ERROR("--boot-sector", "run", "--boot-sector", "--load", "0", "x");
    EXPECT_ERROR("--rom", "run", "--rom", "--entry", "0", "x");
    EXPECT_ERROR("unknown demo", "demo", "goodbye");
    EXPECT_ERROR("demo needs a name", "demo");
    EXPECT_ERROR("info takes no arguments", "info", "x");
    EXPECT_ERROR("--monitor", "run", "--monitor", "tcp:1", "x");
    EXPECT_ERROR("--monitor", "run", "--monitor", "unix:", "x");
    EXPECT_ERROR("needs a --monitor", "run", "-S", "x");
    EXPECT_ERROR("needs a --monitor", "run", "--paused", "x");
}

/* QEMU's single-dash spellings, with QEMU's meaning. */
/* -qmp: QEMU's unix: and tcp: server sockets, waiting for the first client or not. */
static void test_qmp_option(void **state)
{
    (void)state;
    CliOptions o;
    char err[256];
    assert_int_equal(PARSE(&o, err, "run", "-qmp", "unix:/tmp/q.sock,server,nowait", "-S", "x"), 0);
    assert_int_equal(o.qmp, QMP_UNIX);
    assert_string_equal(o.qmp_path, "/tmp/q.sock");
    assert_true(o.paused);   /* -qmp can continue a -S VM */
    assert_int_equal(PARSE(&o, err, "run", "-qmp", "tcp:127.0.0.1:4444,server=on,wait=off", "x"), 0);
    assert_int_equal(o.qmp, QMP_TCP);
    assert_string_equal(o.qmp_host, "127.0.0.1");
    assert_string_equal(o.qmp_port, "4444");
    assert_int_equal(PARSE(&o, err, "run", "--qmp=tcp::4444,server,nowait", "x"), 0);
    assert_string_equal(o.qmp_host, "");
    assert_int_equal(PARSE(&o, err, "run", "-qmp", "tcp:[::1]:4444,server,nowait", "x"), 0);
    assert_string_equal(o.qmp_host, "::1");
    assert_false(o.qmp_wait);
    /* A server waits for its first client unless told nowait, as QEMU's. */
    assert_int_equal(PARSE(&o, err, "run", "-qmp", "unix:/tmp/q,server,wait=on", "x"), 0);
    assert_true(o.qmp_wait);
    assert_int_equal(PARSE(&o, err, "run", "-qmp", "unix:/tmp/q,server", "x"), 0);
    assert_true(o.qmp_wait);
    assert_int_equal(PARSE(&o, err, "run", "-qmp", "tcp::4444,server=on", "x"), 0);
    assert_true(o.qmp_wait);
    assert_int_equal(PARSE(&o, err, "run", "-qmp", "tcp::4444,wait=off,server", "x"), 0);
    assert_false(o.qmp_wait);
    assert_int_equal(PARSE(&o, err, "run", "-qmp", "unix:/tmp/q", "x"), 0);
    assert_false(o.qmp_wait);   /* no server: a listening socket all the same, no wait */
    EXPECT_ERROR("a QMP socket takes only", "run", "-qmp", "unix:/tmp/q,server=off", "x");
    EXPECT_ERROR("a QMP socket takes only", "run", "-qmp", "unix:/tmp/q,server,delay", "x");
    EXPECT_ERROR("expected unix:PATH", "run", "-qmp", "stdio", "x");
    EXPECT_ERROR("expected tcp:[HOST]:PORT", "run", "-qmp", "tcp:localhost", "x");
    EXPECT_ERROR("expected tcp:[HOST]:PORT", "run", "-qmp", "tcp:h:12a", "x");
    EXPECT_ERROR("expected unix:PATH", "run", "-qmp", "unix:,server", "x");
}

/* -display curses, and what cannot share the terminal with it. */
static void test_display_option(void **state)
{
    (void)state;
    CliOptions o;
    char err[256];
    assert_int_equal(PARSE(&o, err, "run", "-display", "curses", "x"), 0);
    assert_int_equal(o.display, DISPLAY_CURSES);
    assert_int_equal(PARSE(&o, err, "run", "-display", "curses", "-display", "none", "x"), 0);
    assert_int_equal(o.display, DISPLAY_NONE);
    assert_int_equal(PARSE(&o, err, "run", "-nographic", "x"), 0);
    assert_true(o.nographic);
    assert_int_equal(o.serial, SERIAL_STDIO);
    EXPECT_ERROR("-nographic cannot be used with -display curses", "run", "-nographic",
                 "-display", "curses", "x");
    EXPECT_ERROR("-display curses takes the terminal", "run", "-display", "curses",
                 "-monitor", "stdio", "x");
    EXPECT_ERROR("only 'none' or 'curses'", "run", "-display", "gtk", "x");
}

static void test_qemu_spellings(void **state)
{
    (void)state;
    CliOptions o;
    char err[256];
    assert_int_equal(PARSE(&o, err, "run", "-m", "16M", "-serial", "stdio", "-monitor",
                           "unix:/tmp/m.sock", "-no-shutdown", "guest.bin"), 0);
    assert_int_equal(o.memory, 16 << 20);
    assert_int_equal(o.serial, SERIAL_STDIO);
    assert_int_equal(o.monitor, MONITOR_UNIX);
    assert_string_equal(o.monitor_path, "/tmp/m.sock");
    assert_true(o.no_shutdown);
    assert_false(o.no_reboot);
    assert_string_equal(o.file, "guest.bin");

    assert_int_equal(PARSE(&o, err, "run", "-monitor", "unix:/tmp/q.sock,server,nowait", "-S",
                           "-no-reboot", "-nographic", "-display", "none", "x"), 0);
    assert_string_equal(o.monitor_path, "/tmp/q.sock");
    assert_true(o.paused);
    assert_true(o.no_reboot);
    assert_int_equal(PARSE(&o, err, "run", "-monitor", "unix:/tmp/q.sock,server=on,wait=off",
                           "x"), 0);
    assert_string_equal(o.monitor_path, "/tmp/q.sock");
    assert_int_equal(PARSE(&o, err, "run", "-accel", "tcg", "x"), 0);
    assert_int_equal(o.accel, HV_BACKEND_SIM);
    assert_int_equal(PARSE(&o, err, "run", "-accel", "kvm", "x"), 0);
    assert_int_equal(o.accel, HV_BACKEND_KVM);
    assert_int_equal(PARSE(&o, err, "run", "-enable-kvm", "x"), 0);
    assert_int_equal(o.accel, HV_BACKEND_KVM);
    assert_int_equal(PARSE(&o, err, "run", "-bios", "rom.bin"), 0);
    assert_int_equal(o.kind, IMAGE_ROM);
    assert_string_equal(o.file, "rom.bin");
    assert_int_equal(PARSE(&o, err, "run", "-serial", "mon:stdio", "x"), 0);
    assert_int_equal(o.serial, SERIAL_STDIO);
    assert_int_equal(o.monitor, MONITOR_STDIO);
    assert_int_equal(PARSE(&o, err, "run", "-serial", "null", "-monitor", "none", "x"), 0);
    assert_int_equal(o.serial, SERIAL_NONE);
    assert_int_equal(o.monitor, MONITOR_NONE);
    /* Every name with one dash or two, and an argument after '=' too (but -vga is QEMU's
     * -vga TYPE, --vga the flag). */
    assert_int_equal(PARSE(&o, err, "run", "-memory", "2M", "--serial=none", "--vga", "x"), 0);
    assert_int_equal(o.memory, 2 << 20);
    assert_int_equal(o.serial, SERIAL_NONE);
    assert_true(o.vga);
    assert_int_equal(PARSE(&o, err, "run", "-m", "size=32M", "x"), 0);
    assert_int_equal(o.memory, 32 << 20);
    /* "--" ends the options: a file may start with a dash. */
    assert_int_equal(PARSE(&o, err, "run", "--", "-odd.bin"), 0);
    assert_string_equal(o.file, "-odd.bin");
}

/* An option the parser does not know is one error naming it, whole. */
static void test_unknown_options_are_named(void **state)
{
    (void)state;
    EXPECT_ERROR("unknown option '-hdb'", "run", "-hdb", "disk.img");
    EXPECT_ERROR("unknown option '-hdb'", "run", "x", "-hdb", "disk.img");
    EXPECT_ERROR("unknown option '-Zq'", "run", "-Zq", "x");
    EXPECT_ERROR("unknown option '-Sm'", "run", "-Sm", "x");   /* no groups of letters */
    EXPECT_ERROR("unknown option '-monitorx'", "run", "-monitorx", "stdio", "x");
    EXPECT_ERROR("unknown option '--bogus'", "run", "--bogus=1", "x");
    EXPECT_ERROR("unknown option '---m'", "run", "---m", "1M", "x");
    EXPECT_ERROR("-monitor needs an argument", "run", "x", "-monitor");
    EXPECT_ERROR("--vga takes no argument", "run", "--vga=1", "x");
    EXPECT_ERROR("-monitor onitor", "run", "-monitor", "onitor", "x");
    EXPECT_ERROR("-accel xen", "run", "-accel", "xen", "x");
    EXPECT_ERROR("properties", "run", "-accel", "kvm,thread=single", "x");
    EXPECT_ERROR("-display sdl", "run", "-display", "sdl", "x");
    EXPECT_ERROR("-bios names the image", "run", "-bios", "rom.bin", "x");
    EXPECT_ERROR("only ,server and ,nowait", "run", "-monitor", "unix:/tmp/s,wait=on", "x");
    EXPECT_ERROR("no --boot-sector, --rom or -bios", "demo", "hello", "-bios", "r.bin");

    CliOptions o;
    char err[256];
    assert_int_equal(PARSE(&o, err, "run", "-h"), 0);
    assert_int_equal(o.command, CMD_HELP);
    assert_int_equal(PARSE(&o, err, "run", "-V", "x"), 0);
    assert_int_equal(o.command, CMD_VERSION);
}

/* Every entry of the option table is found under each of its names, with either dash. */
static void test_table_names(void **state)
{
    (void)state;
    int checked = 0;
    for (const CliOptionSpec *s = cli_option_table; s->names; s++) {
        assert_non_null(s->apply);
        assert_non_null(s->help);
        char names[128];
        snprintf(names, sizeof(names), "%s", s->names);
        for (char *save = NULL, *n = strtok_r(names, ", ", &save); n; n = strtok_r(NULL, ", ", &save)) {
            const char *bare = n + strspn(n, "-");
            char one[80], two[80];
            snprintf(one, sizeof(one), "-%s", bare);
            snprintf(two, sizeof(two), "--%s", bare);
            for (int form = 0; form < 2; form++) {
                CliOptions o;
                char err[256];
                char *argv[] = {"scratchvm", "run", form ? two : one,
                                s->arg ? "bogus-value" : "x", "x", NULL};
                int argc = s->arg ? 5 : 4;
                cli_parse(argc, argv, &o, err, sizeof(err));
                assert_null(strstr(err, "unknown option"));
                checked++;
            }
        }
    }
    assert_true(checked > 40);
}

static void test_monitor_options(void **state)
{
    (void)state;
    CliOptions o;
    char err[256];
    assert_int_equal(PARSE(&o, err, "run", "x"), 0);
    assert_int_equal(o.monitor, MONITOR_NONE);
    assert_false(o.paused);
    assert_false(o.trace_stats);
    assert_int_equal(PARSE(&o, err, "run", "-S", "--monitor", "stdio", "x"), 0);
    assert_int_equal(o.monitor, MONITOR_STDIO);
    assert_true(o.paused);
    assert_int_equal(PARSE(&o, err, "run", "--paused", "--monitor", "unix:/tmp/m.sock", "x"), 0);
    assert_int_equal(o.monitor, MONITOR_UNIX);
    assert_string_equal(o.monitor_path, "/tmp/m.sock");
    assert_int_equal(PARSE(&o, err, "run", "--trace", "stats", "x"), 0);
    assert_true(o.trace_stats);
    assert_false(o.trace_exits);
    assert_int_equal(PARSE(&o, err, "run", "--trace", "exits,stats", "x"), 0);
    assert_true(o.trace_stats);
    assert_true(o.trace_exits);
}

static void test_debug_options(void **state)
{
    (void)state;
    CliOptions o;
    char err[256];
    assert_int_equal(PARSE(&o, err, "run", "x"), 0);
    assert_null(o.gdb);
    assert_int_equal(o.log_items, 0);
    assert_false(o.no_reboot);
    assert_false(o.magic_break);
    assert_int_equal(PARSE(&o, err, "run", "-s", "-S", "x"), 0);
    assert_string_equal(o.gdb, "tcp::1234");
    assert_true(o.paused);
    assert_int_equal(PARSE(&o, err, "run", "-gdb", "unix:/tmp/g.sock", "x"), 0);
    assert_string_equal(o.gdb, "unix:/tmp/g.sock");
    assert_int_equal(PARSE(&o, err, "run", "x", "-gdb", "tcp:127.0.0.1:4321"), 0);
    assert_string_equal(o.gdb, "tcp:127.0.0.1:4321");
    assert_int_equal(PARSE(&o, err, "run", "-d", "int,cpu_reset", "-d", "exits", "-D", "l.txt",
                           "-no-reboot", "x"), 0);
    assert_int_equal(o.log_items, VM_LOG_INT | VM_LOG_CPU_RESET | VM_LOG_EXITS);
    assert_string_equal(o.log_file, "l.txt");
    assert_true(o.no_reboot);
    assert_int_equal(PARSE(&o, err, "run", "-d", "guest_errors,bios", "x"), 0);
    assert_int_equal(o.log_items, VM_LOG_GUEST_ERRORS | VM_LOG_BIOS);
    assert_int_equal(PARSE(&o, err, "run", "--magic-break", "-gdb", "unix:/g", "x"), 0);
    assert_true(o.magic_break);
    EXPECT_ERROR("-gdb", "run", "-gdb", "udp:1", "x");
    EXPECT_ERROR("-gdb", "run", "-gdb", "unix:", "x");
    EXPECT_ERROR("unknown item 'everything'", "run", "-d", "int,everything", "x");
    EXPECT_ERROR("needs a --monitor or -gdb", "run", "--magic-break", "x");
    EXPECT_ERROR("needs an argument", "run", "x", "-D");
}

static void test_help_and_version(void **state)
{
    (void)state;
    CliOptions o;
    char err[256];
    assert_int_equal(PARSE(&o, err, "--help"), 0);
    assert_int_equal(o.command, CMD_HELP);
    assert_int_equal(PARSE(&o, err, "run", "--help"), 0);
    assert_int_equal(o.command, CMD_HELP);
    assert_int_equal(PARSE(&o, err, "--version"), 0);
    assert_int_equal(o.command, CMD_VERSION);
    assert_int_equal(PARSE(&o, err, "info"), 0);
    assert_int_equal(o.command, CMD_INFO);
}

/* --help documents every long option the parser accepts. */
static void test_help_is_complete(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cli_print_usage(f);
    fclose(f);
    const char *options[] = {"--memory", "--load", "--entry", "--boot-sector", "--rom", "--reg",
                             "--serial", "--vga", "--trace", "--accel", "--max-exits", "--help",
                             "--monitor", "--paused", "-S,", "stats", "Ctrl-A c", "Ctrl-A x",
                             "Exit status", "-serial", "-monitor", "-bios", "-nographic",
                             "-display", "-no-reboot", "-no-shutdown", "-accel", "tcg",
                             "-enable-kvm", "-gdb tcp:", "  -s ", "-d ITEM", "-D FILE",
                             "--magic-break", "--step", "scratchvm diff", "-machine, -M",
                             "-smp", "-cpu", "-nodefaults", "-name", "-rtc", "-pidfile",
                             "-daemonize", "-debugcon", "-chardev", "-vga std|none",
                             "isa-debug-exit", "tcp:", "pty"};
    for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++)
        assert_non_null(strstr(text, options[i]));
    free(text);
}


/* Issue 30: QEMU's machine, CPU and character-device options, every spelling. */
static void test_qemu_machine_options(void **state)
{
    (void)state;
    CliOptions o;
    char err[256];
    assert_int_equal(PARSE(&o, err, "run", "-smp", "1", "x"), 0);
    assert_int_equal(PARSE(&o, err, "run", "-smp", "cpus=1,maxcpus=1,sockets=1,dies=1,cores=1,"
                           "threads=1", "x"), 0);
    assert_int_equal(PARSE(&o, err, "run", "--smp=1", "x"), 0);
    assert_int_equal(o.smp, 1);
    assert_int_equal(PARSE(&o, err, "run", "-smp", "2", "x"), 0);
    assert_int_equal(o.smp, 2);
    assert_int_equal(PARSE(&o, err, "run", "-smp", "cpus=3", "x"), 0);
    assert_int_equal(o.smp, 3);
    assert_int_equal(PARSE(&o, err, "run", "-smp", "0x4", "x"), 0);
    assert_int_equal(o.smp, 4);
    /* without a count, the topology's product (QEMU's rule) */
    assert_int_equal(PARSE(&o, err, "run", "-smp", "sockets=2,cores=2,threads=2", "x"), 0);
    assert_int_equal(o.smp, 8);
    assert_int_equal(PARSE(&o, err, "run", "-smp", "6,sockets=1,cores=3,threads=2", "x"), 0);
    assert_int_equal(o.smp, 6);
    EXPECT_ERROR("the topology has 2 CPUs, not 1", "run", "-smp", "cpus=1,cores=2", "x");
    EXPECT_ERROR("between 1 and 8 CPUs", "run", "-smp", "9", "x");
    EXPECT_ERROR("between 1 and 8 CPUs", "run", "-smp", "sockets=4,cores=4", "x");
    EXPECT_ERROR("maxcpus must equal cpus", "run", "-smp", "2,maxcpus=4", "x");
    EXPECT_ERROR("at least one CPU", "run", "-smp", "0", "x");
    EXPECT_ERROR("unknown property 'bogus'", "run", "-smp", "1,bogus=1", "x");
    EXPECT_ERROR("not a number", "run", "-smp", "one", "x");

    assert_int_equal(PARSE(&o, err, "run", "-machine", "pc", "x"), 0);
    assert_int_equal(o.accel, HV_BACKEND_AUTO);
    assert_int_equal(PARSE(&o, err, "run", "-M", "pc,accel=kvm", "x"), 0);
    assert_int_equal(o.accel, HV_BACKEND_KVM);
    assert_int_equal(PARSE(&o, err, "run", "-machine", "type=pc-i440fx-8.2,accel=tcg", "x"), 0);
    assert_int_equal(o.accel, HV_BACKEND_SIM);
    assert_int_equal(PARSE(&o, err, "run", "-machine", "accel=kvm:tcg", "x"), 0);
    assert_int_equal(o.accel, HV_BACKEND_AUTO);
    assert_int_equal(PARSE(&o, err, "run", "-M", "pc,acpi=off,usb=off", "x"), 0);
    assert_true(o.no_acpi);
    EXPECT_ERROR("only the pc machine", "run", "-M", "q35", "x");
    EXPECT_ERROR("only the pc machine", "run", "-machine", "microvm", "x");
    EXPECT_ERROR("accel=xen", "run", "-M", "pc,accel=xen", "x");
    EXPECT_ERROR("usb=on", "run", "-M", "pc,usb=on", "x");
    EXPECT_ERROR("property 'nvdimm'", "run", "-M", "pc,nvdimm", "x");

    assert_int_equal(PARSE(&o, err, "run", "-nodefaults", "x"), 0);
    assert_int_equal(o.serial, SERIAL_NONE);   /* no default serial port */
    assert_true(o.vga_none);
    assert_int_equal(PARSE(&o, err, "run", "-nodefaults", "-serial", "stdio", "x"), 0);
    assert_int_equal(o.serial, SERIAL_STDIO);
    EXPECT_ERROR("-nodefaults", "run", "-nodefaults", "--vga", "x");

    assert_int_equal(PARSE(&o, err, "run", "-name", "guest1", "x"), 0);
    assert_string_equal(o.name, "guest1");
    assert_int_equal(PARSE(&o, err, "run", "-name", "guest=vm2,process=svm-vm2,debug-threads=on",
                           "x"), 0);
    assert_string_equal(o.name, "vm2");
    assert_string_equal(o.process_name, "svm-vm2");
    EXPECT_ERROR("unknown property", "run", "-name", "a,color=red", "x");

    assert_int_equal(PARSE(&o, err, "run", "-rtc", "base=utc", "x"), 0);
    assert_int_equal(o.rtc_base, CLI_RTC_UTC);
    assert_int_equal(PARSE(&o, err, "run", "-rtc", "base=localtime,clock=host,driftfix=none",
                           "x"), 0);
    assert_int_equal(o.rtc_base, CLI_RTC_LOCALTIME);
    assert_int_equal(PARSE(&o, err, "run", "-rtc", "base=2006-06-17T16:01:21", "x"), 0);
    assert_int_equal(o.rtc_base, CLI_RTC_DATE);
    assert_int_equal(o.rtc_date, 1150560081);
    assert_int_equal(PARSE(&o, err, "run", "-rtc", "base=2006-06-17", "x"), 0);
    assert_int_equal(o.rtc_date, 1150502400);
    EXPECT_ERROR("expected utc, localtime or a date", "run", "-rtc", "base=yesterday", "x");
    EXPECT_ERROR("clock=vm", "run", "-rtc", "clock=vm", "x");
    EXPECT_ERROR("driftfix=slew", "run", "-rtc", "driftfix=slew", "x");

    assert_int_equal(PARSE(&o, err, "run", "-pidfile", "/tmp/p", "x"), 0);
    assert_string_equal(o.pidfile, "/tmp/p");
    assert_int_equal(PARSE(&o, err, "run", "-daemonize", "-serial", "null", "x"), 0);
    assert_true(o.daemonize);
    assert_int_equal(o.debugcon.kind, CHR_NULL);   /* 0xE9 wrote to the terminal */
    EXPECT_ERROR("-daemonize", "run", "-daemonize", "x");   /* the default serial is stdio */
    EXPECT_ERROR("-daemonize", "run", "-daemonize", "-serial", "null", "-monitor", "stdio", "x");
    EXPECT_ERROR("-daemonize", "run", "-daemonize", "-serial", "mon:stdio", "x");
}

static void test_qemu_vga_and_device(void **state)
{
    (void)state;
    CliOptions o;
    char err[256];
    /* -vga std: the TYPE is never the guest's FILE; --vga stays the flag. */
    assert_int_equal(PARSE(&o, err, "run", "-vga", "std", "x"), 0);
    assert_string_equal(o.file, "x");
    assert_false(o.vga_none);
    assert_false(o.vga);
    assert_int_equal(PARSE(&o, err, "run", "-vga", "none", "x"), 0);
    assert_true(o.vga_none);
    assert_int_equal(PARSE(&o, err, "run", "-vga=std", "--vga", "x"), 0);
    assert_true(o.vga);
    EXPECT_ERROR("'cirrus' card is not emulated", "run", "-vga", "cirrus", "x");
    EXPECT_ERROR("not with -vga none", "run", "-vga", "none", "--vga", "x");

    const char *same[] = {"isa-debug-exit,iobase=0xf4,iosize=0x04",
                          "isa-debug-exit,iobase=0xf4,iosize=0x4",
                          "isa-debug-exit,iobase=244,iosize=4", "isa-debug-exit,iobase=0xF4",
                          "isa-debug-exit", "isa-debug-exit,iosize=1"};
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++)
        assert_int_equal(PARSE(&o, err, "run", "-device", (char *)same[i], "x"), 0);
    assert_int_equal(PARSE(&o, err, "run", "-device", "pc-testdev", "x"), 0);
    assert_true(o.pc_testdev);
    EXPECT_ERROR("iobase=0xf4 only", "run", "-device", "isa-debug-exit,iobase=0x501", "x");
    EXPECT_ERROR("iosize=8", "run", "-device", "isa-debug-exit,iosize=8", "x");
    EXPECT_ERROR("not PROPERTY=NUMBER", "run", "-device", "isa-debug-exit,iobase=f4", "x");
    EXPECT_ERROR("property 'bus'", "run", "-device", "pc-testdev,bus=0", "x");
}

static void test_qemu_cpu(void **state)
{
    (void)state;
    CliOptions o;
    char err[256], msg[600];
    const char *models[] = {"host", "max", "486", "pentium", "pentium2", "pentium3", "qemu32",
                            "kvm32", "qemu64", "kvm64"};
    for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++) {
        assert_int_equal(PARSE(&o, err, "run", "-cpu", (char *)models[i], "x"), 0);
        assert_string_equal(cli_cpu_models[o.cpu_model - 1].name, models[i]);
        assert_true(cli_cpu_check(&o, UINT64_MAX, true, msg, sizeof(msg)) == 0);   /* KVM */
    }
    uint64_t sim = cli_sim_cpu_features();
    /* host needs KVM; max is what the sim CPU has. */
    assert_int_equal(PARSE(&o, err, "run", "-cpu", "host", "x"), 0);
    assert_int_equal(cli_cpu_check(&o, sim, false, msg, sizeof(msg)), -1);
    assert_non_null(strstr(msg, "requires KVM"));
    assert_int_equal(PARSE(&o, err, "run", "-cpu", "max", "x"), 0);
    assert_int_equal(cli_cpu_check(&o, sim, false, msg, sizeof(msg)), 0);
    /* a model the sim CPU differs from: said, with what it lacks */
    assert_int_equal(PARSE(&o, err, "run", "-cpu", "qemu64", "x"), 0);
    assert_int_equal(cli_cpu_check(&o, sim, false, msg, sizeof(msg)), 1);
    assert_non_null(strstr(msg, "lacks"));
    assert_non_null(strstr(msg, "lm"));
    assert_null(strstr(msg, "fpu"));
    /* +feat the CPU has, in each spelling; -feat it lacks: fine */
    assert_int_equal(PARSE(&o, err, "run", "-cpu", "max,+sse2,pae=on,nx,-lm,svm=off", "x"), 0);
    assert_int_equal(cli_cpu_check(&o, sim, false, msg, sizeof(msg)), 0);
    /* +feat it lacks, -feat it has: refused */
    assert_int_equal(PARSE(&o, err, "run", "-cpu", "qemu32,+lm", "x"), 0);
    assert_int_equal(cli_cpu_check(&o, sim, false, msg, sizeof(msg)), -1);
    assert_non_null(strstr(msg, "has no lm"));
    assert_int_equal(PARSE(&o, err, "run", "-cpu", "max,-fpu", "x"), 0);
    assert_int_equal(cli_cpu_check(&o, sim, false, msg, sizeof(msg)), -1);
    assert_non_null(strstr(msg, "cannot remove fpu"));
    assert_int_equal(PARSE(&o, err, "run", "-cpu", "max,sse3=on", "x"), 0);   /* alias of pni */
    assert_int_equal(cli_cpu_check(&o, sim, false, msg, sizeof(msg)), -1);
    assert_non_null(strstr(msg, "pni"));
    EXPECT_ERROR("unknown CPU model 'core9'", "run", "-cpu", "core9", "x");
    EXPECT_ERROR("unknown or unsupported CPU feature 'warp'", "run", "-cpu", "max,+warp", "x");
    EXPECT_ERROR("expected on or off", "run", "-cpu", "max,nx=maybe", "x");
}

static void test_qemu_chardevs(void **state)
{
    (void)state;
    CliOptions o;
    char err[256];
    assert_int_equal(PARSE(&o, err, "run", "-chardev", "file,id=f,path=/tmp/s.txt", "-serial",
                           "chardev:f", "x"), 0);
    assert_int_equal(o.serial, SERIAL_FILE);   /* a file chardev is -serial file: */
    assert_string_equal(o.serial_path, "/tmp/s.txt");
    assert_int_equal(PARSE(&o, err, "run", "-chardev", "stdio,id=c", "-serial", "chardev:c", "x"), 0);
    assert_int_equal(o.serial, SERIAL_STDIO);
    assert_int_equal(PARSE(&o, err, "run", "-chardev", "null,id=n", "-serial", "chardev:n", "x"), 0);
    assert_int_equal(o.serial, SERIAL_NONE);
    assert_int_equal(PARSE(&o, err, "run", "-chardev", "socket,id=m,path=/tmp/m.sock,server=on,"
                           "wait=off", "-monitor", "chardev:m", "x"), 0);
    assert_int_equal(o.monitor, MONITOR_UNIX);
    assert_string_equal(o.monitor_path, "/tmp/m.sock");
    assert_int_equal(PARSE(&o, err, "run", "-chardev", "stdio,id=m", "-monitor", "chardev:m",
                           "-serial", "none", "x"), 0);
    assert_int_equal(o.monitor, MONITOR_STDIO);
    assert_int_equal(PARSE(&o, err, "run", "-chardev", "socket,id=s,host=127.0.0.1,port=4444,"
                           "server=on,wait=off", "-serial", "chardev:s", "x"), 0);
    assert_int_equal(o.serial, SERIAL_CHARDEV);
    assert_int_equal(o.serial_chr[0].kind, CHR_TCP);
    assert_int_equal(o.serial_chr[0].port, 4444);
    assert_true(o.serial_chr[0].server);
    assert_false(o.serial_chr[0].wait);
    EXPECT_ERROR("no -chardev with id=nope", "run", "-serial", "chardev:nope", "x");
    EXPECT_ERROR("needs id=", "run", "-chardev", "null", "x");
    EXPECT_ERROR("duplicate id", "run", "-chardev", "null,id=a", "-chardev", "stdio,id=a", "x");
    EXPECT_ERROR("backend 'spicevmc'", "run", "-chardev", "spicevmc,id=a", "x");
    EXPECT_ERROR("file needs path=", "run", "-chardev", "file,id=a", "x");
    EXPECT_ERROR("the monitor takes", "run", "-chardev", "file,id=a,path=/x", "-monitor",
                 "chardev:a", "x");

    /* -serial's socket and pty forms, and COM2 */
    assert_int_equal(PARSE(&o, err, "run", "-serial", "tcp:localhost:4555,server,nowait", "x"), 0);
    assert_int_equal(o.serial, SERIAL_CHARDEV);
    assert_int_equal(o.serial_chr[0].kind, CHR_TCP);
    assert_string_equal(o.serial_chr[0].host, "localhost");
    assert_int_equal(o.serial_chr[0].port, 4555);
    assert_true(o.serial_chr[0].server);
    assert_false(o.serial_chr[0].wait);
    assert_int_equal(PARSE(&o, err, "run", "-serial", "tcp::4556,server=on,wait=off", "x"), 0);
    assert_string_equal(o.serial_chr[0].host, "");
    assert_false(o.serial_chr[0].wait);
    assert_int_equal(PARSE(&o, err, "run", "-serial", "tcp:10.0.0.1:23", "x"), 0);
    assert_false(o.serial_chr[0].server);
    assert_int_equal(PARSE(&o, err, "run", "-serial", "pty", "x"), 0);
    assert_int_equal(o.serial_chr[0].kind, CHR_PTY);
    assert_int_equal(PARSE(&o, err, "run", "-serial", "unix:/tmp/s,server,nowait", "x"), 0);
    assert_int_equal(o.serial_chr[0].kind, CHR_UNIX);
    assert_string_equal(o.serial_chr[0].path, "/tmp/s");
    assert_int_equal(PARSE(&o, err, "run", "-serial", "stdio", "-serial", "file:/tmp/c2", "x"), 0);
    assert_int_equal(o.serial, SERIAL_STDIO);
    assert_int_equal(o.serial_chr[1].kind, CHR_FILE);
    assert_string_equal(o.serial_chr[1].path, "/tmp/c2");
    EXPECT_ERROR("at most two serial ports", "run", "-serial", "null", "-serial", "null",
                 "-serial", "null", "x");
    EXPECT_ERROR("COM1's", "run", "-serial", "null", "-serial", "stdio", "x");
    EXPECT_ERROR("COM2 takes", "run", "-serial", "null", "-serial", "mon:stdio", "x");
    EXPECT_ERROR("expected tcp:", "run", "-serial", "tcp:1234", "x");
    EXPECT_ERROR("expected tcp:", "run", "-serial", "tcp:host:99999", "x");
    EXPECT_ERROR("expected tcp:", "run", "-serial", "tcp::80,server,bogus", "x");

    /* -debugcon */
    assert_int_equal(PARSE(&o, err, "run", "-debugcon", "file:/tmp/d", "x"), 0);
    assert_int_equal(o.debugcon.kind, CHR_FILE);
    assert_int_equal(PARSE(&o, err, "run", "-debugcon", "stdio", "x"), 0);
    assert_int_equal(o.debugcon.kind, CHR_STDIO);
    assert_int_equal(PARSE(&o, err, "run", "-chardev", "file,id=d,path=/tmp/d2", "-debugcon",
                           "chardev:d", "x"), 0);
    assert_int_equal(o.debugcon.kind, CHR_FILE);
    assert_string_equal(o.debugcon.path, "/tmp/d2");
    EXPECT_ERROR("-debugcon vc", "run", "-debugcon", "vc", "x");
}

/* QEMU users type options without the command. */
static void test_missing_run_hint(void **state)
{
    (void)state;
    EXPECT_ERROR("did you mean 'scratchvm run -kernel ...'?", "-kernel", "x");
    EXPECT_ERROR("did you mean 'scratchvm run -m ...'?", "-m", "16");
}

/* --max-insns and --timeout (issue 15, item 10): their values, their errors, and each its
 * own even exit status, documented in --help. */
static void test_limits(void **state)
{
    (void)state;
    CliOptions o;
    char err[256];
    assert_int_equal(PARSE(&o, err, "run", "x"), 0);
    assert_int_equal(o.max_insns, 0);
    assert_int_equal(o.timeout_ms, 0);
    assert_int_equal(PARSE(&o, err, "run", "--max-insns", "0x1000", "--timeout", "2.5", "x"), 0);
    assert_int_equal(o.max_insns, 0x1000);
    assert_int_equal(o.timeout_ms, 2500);
    const struct { const char *text; uint64_t ms; } good[] = {
        {"10", 10000}, {"0.5", 500}, {"0.001", 1}, {"1.25", 1250}, {"1000000", 1000000000},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        uint64_t ms;
        assert_int_equal(cli_parse_seconds(good[i].text, &ms), 0);
        assert_int_equal(ms, good[i].ms);
    }
    const char *bad[] = {"", ".5", "1.", "1.2345", "-1", "1e3", "0x10", "1000001", "5s", " 1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t ms;
        assert_int_equal(cli_parse_seconds(bad[i], &ms), -1);
    }
    EXPECT_ERROR("--max-insns", "run", "--max-insns", "0", "x");
    EXPECT_ERROR("--max-insns", "run", "--max-insns", "many", "x");
    EXPECT_ERROR("--timeout", "run", "--timeout", "0", "x");
    EXPECT_ERROR("--timeout", "run", "--timeout", "0.0001", "x");
    assert_true(EXIT_MAX_INSNS % 2 == 0 && EXIT_TIMEOUT % 2 == 0);
    assert_true(EXIT_MAX_INSNS != EXIT_TIMEOUT && EXIT_MAX_INSNS > EXIT_HOST_ERROR);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cli_print_usage(f);
    fclose(f);
    assert_non_null(strstr(text, "--max-insns N"));
    assert_non_null(strstr(text, "--timeout S"));
    assert_non_null(strstr(text, "18 --max-insns"));
    assert_non_null(strstr(text, "20 --timeout reached"));
    free(text);
}

static void test_console_escapes(void **state)
{
    (void)state;
    ConsoleEscape e = {0};
    uint8_t out = 0;
    assert_int_equal(console_escape_feed(&e, 'a', &out), CONSOLE_SEND);
    assert_int_equal(out, 'a');
    assert_int_equal(console_escape_feed(&e, CONSOLE_ESCAPE, &out), CONSOLE_NOTHING);
    assert_int_equal(console_escape_feed(&e, 'x', &out), CONSOLE_QUIT);
    assert_int_equal(console_escape_feed(&e, 'x', &out), CONSOLE_SEND);   /* plain x again */
    assert_int_equal(console_escape_feed(&e, CONSOLE_ESCAPE, &out), CONSOLE_NOTHING);
    assert_int_equal(console_escape_feed(&e, 'h', &out), CONSOLE_HELP);
    assert_int_equal(console_escape_feed(&e, CONSOLE_ESCAPE, &out), CONSOLE_NOTHING);
    out = 0;
    assert_int_equal(console_escape_feed(&e, CONSOLE_ESCAPE, &out), CONSOLE_SEND);
    assert_int_equal(out, CONSOLE_ESCAPE);
    assert_int_equal(console_escape_feed(&e, CONSOLE_ESCAPE, &out), CONSOLE_NOTHING);
    assert_int_equal(console_escape_feed(&e, 'q', &out), CONSOLE_NOTHING);   /* unknown */
    assert_int_equal(console_escape_feed(&e, 3, &out), CONSOLE_SEND);       /* Ctrl-C: guest's */
    assert_int_equal(out, 3);
    assert_non_null(strstr(console_help_text, "C-a x"));
    assert_int_equal(console_escape_feed(&e, CONSOLE_ESCAPE, &out), CONSOLE_NOTHING);
    assert_int_equal(console_escape_feed(&e, 'c', &out), CONSOLE_SWITCH);
    assert_non_null(strstr(console_help_text, "C-a c    switch between console and monitor"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_every_option),
        cmocka_unit_test(test_monitor_options),
        cmocka_unit_test(test_debug_options),
        cmocka_unit_test(test_qemu_spellings),
        cmocka_unit_test(test_qmp_option),
        cmocka_unit_test(test_display_option),
        cmocka_unit_test(test_unknown_options_are_named),
        cmocka_unit_test(test_table_names),
        cmocka_unit_test(test_options_after_and_before_file),
        cmocka_unit_test(test_loader_and_disk_options),
        cmocka_unit_test(test_load_sets_default_entry),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_entry_to_cs_ip),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_help_and_version),
        cmocka_unit_test(test_help_is_complete),
        cmocka_unit_test(test_console_escapes),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_qemu_machine_options),
        cmocka_unit_test(test_qemu_vga_and_device),
        cmocka_unit_test(test_qemu_cpu),
        cmocka_unit_test(test_qemu_chardevs),
        cmocka_unit_test(test_missing_run_hint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
