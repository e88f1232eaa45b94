/* Unit tests for the virtio options (src/cli/options_virtio.c): -drive if=virtio|none,
 * -device virtio-*-pci, -netdev, -nic, and their one-line refusals. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cli/options.h"

#define ARGV(...) ((char *[]){"scratchvm", __VA_ARGS__, NULL})
#define ARGC(...) ((int)(sizeof((char *[]){"scratchvm", __VA_ARGS__}) / sizeof(char *)))
#define PARSE(opt, err, ...) cli_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), opt, err, sizeof(err))

static CliOptions o;   /* large: not on the stack */

static void test_drive_if_virtio(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(PARSE(&o, err, "run", "-kernel", "k", "-drive",
                           "file=a.qcow2,if=virtio,format=qcow2,snapshot=on,readonly=on"), 0);
    assert_int_equal(o.num_drives, 0);   /* not a BIOS disk: -kernel is fine */
    assert_int_equal(o.num_vdrives, 1);
    assert_string_equal(o.vdrives[0].file, "a.qcow2");
    assert_int_equal(o.vdrives[0].format, 2);
    assert_true(o.vdrives[0].snapshot);
    assert_true(o.vdrives[0].read_only);
    assert_int_equal(o.num_virtio, 1);
    assert_int_equal(o.virtio[0].kind, CLI_VIRTIO_BLK);
    assert_int_equal(o.virtio[0].drive, 0);
}

static void test_drive_none_and_device(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(PARSE(&o, err, "run", "-kernel", "k", "-drive", "id=d0,if=none,file=x.img",
                           "-device", "virtio-blk-pci,drive=d0,serial=abc", "-device",
                           "virtio-rng-pci"), 0);
    assert_int_equal(o.num_virtio, 2);
    assert_int_equal(o.virtio[0].drive, 0);
    assert_string_equal(o.virtio[0].serial, "abc");
    assert_int_equal(o.virtio[1].kind, CLI_VIRTIO_RNG);
    /* Refusals, one line each. */
    assert_int_equal(PARSE(&o, err, "run", "-kernel", "k", "-device", "virtio-blk-pci,drive=nope"), -1);
    assert_string_equal(err, "-device virtio-blk-pci: no -drive with id=nope");
    assert_int_equal(PARSE(&o, err, "run", "-kernel", "k", "-drive", "if=none,file=x"), -1);
    assert_non_null(strstr(err, "needs an id="));
    assert_int_equal(PARSE(&o, err, "run", "-kernel", "k", "-drive", "id=d,if=none,file=x"), -1);
    assert_non_null(strstr(err, "no -device virtio-blk-pci,drive=d uses it"));
    assert_int_equal(PARSE(&o, err, "run", "-kernel", "k", "-drive", "id=d,if=none,file=x",
                           "-device", "virtio-blk-pci,drive=d", "-device", "virtio-blk-pci,drive=d"), -1);
    assert_non_null(strstr(err, "already in use"));
    assert_int_equal(PARSE(&o, err, "run", "-kernel", "k", "-drive", "file=x,if=virtio,cache=none"), -1);
    assert_non_null(strstr(err, "cache=none is not supported"));
    assert_int_equal(PARSE(&o, err, "run", "-kernel", "k", "-device", "virtio-rng-pci,max-bytes=4"), -1);
    assert_non_null(strstr(err, "property 'max-bytes' is not supported"));
    assert_int_equal(PARSE(&o, err, "run", "-kernel", "k", "-device", "virtio-gpu-pci"), -1);
    assert_non_null(strstr(err, "virtio-blk-pci, virtio-net-pci, virtio-rng-pci"));
}

static void test_netdev(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(PARSE(&o, err, "run", "-kernel", "k", "-netdev",
                           "user,id=n0,hostfwd=tcp::5555-:22,hostfwd=udp:127.0.0.1:6000-:53",
                           "-device", "virtio-net-pci,netdev=n0,mac=52:54:00:aa:bb:cc"), 0);
    assert_int_equal(o.num_netdevs, 1);
    assert_int_equal(o.netdevs[0].kind, CLI_NETDEV_USER);
    assert_int_equal(o.netdevs[0].user.num_fwd, 2);
    assert_int_equal(o.netdevs[0].user.fwd[0].host_port, 5555);
    assert_int_equal(o.netdevs[0].user.fwd[0].guest_port, 22);
    assert_true(o.netdevs[0].user.fwd[1].udp);
    assert_int_equal(o.netdevs[0].user.fwd[1].host_addr, htonl(0x7f000001));
    assert_int_equal(o.virtio[0].netdev, 0);
    assert_memory_equal(o.virtio[0].mac, "\x52\x54\x00\xaa\xbb\xcc", 6);

    assert_int_equal(PARSE(&o, err, "run", "-kernel", "k", "-netdev",
                           "tap,id=t,ifname=tap0,script=no,downscript=no", "-device",
                           "virtio-net-pci,netdev=t"), 0);
    assert_int_equal(o.netdevs[0].kind, CLI_NETDEV_TAP);
    assert_string_equal(o.netdevs[0].ifname, "tap0");
    assert_memory_equal(o.virtio[0].mac, "\x52\x54\x00\x12\x34\x56", 6);

    assert_int_equal(PARSE(&o, err, "run", "-kernel", "k", "-netdev", "tap,id=t,ifname=tap0,script=/etc/qemu-ifup"), -1);
    assert_non_null(strstr(err, "scripts are not run"));
    assert_int_equal(PARSE(&o, err, "run", "-kernel", "k", "-netdev", "user,id=n,hostfwd=tcp:5555:22"), -1);
    assert_non_null(strstr(err, "hostfwd=tcp:5555:22"));
    assert_int_equal(PARSE(&o, err, "run", "-kernel", "k", "-netdev", "bridge,id=n"), -1);
    assert_non_null(strstr(err, "user (libslirp) and tap"));
    assert_int_equal(PARSE(&o, err, "run", "-kernel", "k", "-netdev", "user,id=n"), -1);
    assert_non_null(strstr(err, "no -device virtio-net-pci,netdev=n uses it"));
    assert_int_equal(PARSE(&o, err, "run", "-kernel", "k", "-device", "virtio-net-pci,netdev=n,mac=01:00:00:00:00:00",
                           "-netdev", "user,id=n"), -1);
    assert_non_null(strstr(err, "unicast"));
}

static void test_nic(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(PARSE(&o, err, "run", "-kernel", "k", "-nic",
                           "user,hostfwd=tcp::8080-:80,model=virtio-net-pci", "-nic", "user"), 0);
    assert_int_equal(o.num_virtio, 2);
    assert_int_equal(o.virtio[0].netdev, 0);
    assert_int_equal(o.virtio[1].netdev, 1);
    assert_int_equal(o.netdevs[0].user.fwd[0].host_port, 8080);
    assert_int_equal(o.virtio[1].mac[5], 0x57);   /* the second NIC's default MAC */
    assert_int_equal(PARSE(&o, err, "run", "-kernel", "k", "-nic", "user,model=e1000"), -1);
    assert_non_null(strstr(err, "e1000"));
    assert_int_equal(PARSE(&o, err, "run", "-kernel", "k", "-nic", "none"), 0);
    assert_int_equal(o.num_virtio, 0);
    assert_int_equal(PARSE(&o, err, "demo", "hello", "-device", "virtio-rng-pci"), -1);
    assert_non_null(strstr(err, "no virtio devices"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_drive_if_virtio),
        cmocka_unit_test(test_drive_none_and_device),
        cmocka_unit_test(test_netdev),
        cmocka_unit_test(test_nic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
