/* Unit tests for the gdb stub (src/vmm/gdbstub.c) at the protocol level: a client on a
 * Unix socket in a temporary directory sends raw packets, on every backend. Besides what
 * GDB itself sends (tests/guests/run.sh drives the real gdb), malformed, oversized and
 * random input must leave the stub answering and the VMM intact. */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "backends.h"
#include "hypervisor_sim.h"

/* 0000:7C00: cli; xor ax,ax; mov al,0x41; out 0xe9,al; inc ax; hlt; jmp $ */
static const uint8_t code[] = {0xFA, 0x31, 0xC0, 0xB0, 0x41, 0xE6, 0xE9, 0x40, 0xF4, 0xEB, 0xFE};

typedef struct {
    SimpleVM *svm;
    GdbStub *stub;
    int fd;
    char dir[64], sock[96];
    char reply[70000];
} Session;

static void connect_to(Session *s)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    strcpy(addr.sun_path, s->sock);
    s->fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(s->fd >= 0);
    assert_int_equal(connect(s->fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
}

static Session *start_cpus(HvBackend b, unsigned cpus)
{
    Session *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    s->svm = vm_create_backend(1, b);
    assert_non_null(s->svm);
    if (cpus > 1)
        assert_int_equal(vm_set_cpus(s->svm, cpus), 0);
    s->svm->serial->output_fd = -1;
    s->svm->debug_exit->console_fd = -1;
    assert_int_equal(vm_load_code(s->svm, code, sizeof(code), 0x7C00), 0);
    s->svm->vcpu->regs.rip = 0x7C00;
    assert_int_equal(vm_thread_start(s->svm, true, NULL, NULL), 0);
    strcpy(s->dir, "/tmp/scratchvm-gdbstub.XXXXXX");
    assert_non_null(mkdtemp(s->dir));
    snprintf(s->sock, sizeof(s->sock), "%s/g.sock", s->dir);
    char spec[128];
    snprintf(spec, sizeof(spec), "unix:%s", s->sock);
    s->stub = gdb_stub_start(s->svm, spec);
    assert_non_null(s->stub);
    connect_to(s);
    return s;
}

static Session *start(HvBackend b) { return start_cpus(b, 1); }

static void finish(Session *s)
{
    close(s->fd);
    gdb_stub_stop(s->stub);
    vm_destroy(s->svm);
    assert_int_not_equal(access(s->sock, F_OK), 0);   /* the socket is removed */
    rmdir(s->dir);
    free(s);
}

static void send_raw(Session *s, const char *data, size_t n)
{
    while (n) {
        ssize_t w = send(s->fd, data, n, MSG_NOSIGNAL);
        assert_true(w > 0);
        data += w;
        n -= (size_t)w;
    }
}

static void send_packet(Session *s, const char *data)
{
    uint8_t sum = 0;
    for (const char *p = data; *p; p++)
        sum = (uint8_t)(sum + (uint8_t)*p);
    char tail[4];
    snprintf(tail, sizeof(tail), "#%02x", sum);
    send_raw(s, "$", 1);
    send_raw(s, data, strlen(data));
    send_raw(s, tail, 3);
}

/* The next reply's data (acks skipped; fails after 5 s without one). */
static const char *reply(Session *s)
{
    size_t n = 0;
    bool in = false;
    for (;;) {
        struct pollfd p = {s->fd, POLLIN, 0};
        assert_int_equal(poll(&p, 1, 5000), 1);
        char c;
        assert_int_equal(read(s->fd, &c, 1), 1);
        if (!in) {
            in = c == '$';
            continue;
        }
        if (c == '#') {
            char sum[2];
            assert_int_equal(read(s->fd, sum, 2), 2);
            s->reply[n] = '\0';
            return s->reply;
        }
        assert_true(n < sizeof(s->reply) - 1);
        s->reply[n++] = c;
    }
}

static const char *ask(Session *s, const char *packet)
{
    send_packet(s, packet);
    return reply(s);
}

/* Sends "TYPE,ADDR,1" (Z0, z1, ...) for four consecutive addresses from `first`, each
 * answered OK. */
static void four_breakpoints(Session *s, const char *type, unsigned first)
{
    for (unsigned i = 0; i < 4; i++) {
        char pkt[32];
        snprintf(pkt, sizeof(pkt), "%s,%x,1", type, first + i);
        assert_string_equal(ask(s, pkt), "OK");
    }
}

static void test_basic_packets(void **state)
{
    Session *s = start(TEST_BACKEND(state));
    assert_string_equal(ask(s, "?"), "T05thread:01;");
    assert_non_null(strstr(ask(s, "qSupported:swbreak+;hwbreak+"), "qXfer:features:read+"));
    assert_string_equal(ask(s, "QStartNoAckMode"), "OK");
    /* g: 16 core registers, 8 x87 ones of 10 bytes, 8 x87 control words, CR0-4, EFER and
     * six segment bases: 224 bytes. EIP is the 9th register, at byte 32. */
    const char *g = ask(s, "g");
    assert_int_equal(strlen(g), 448);
    assert_memory_equal(g + 64, "007c0000", 8);
    assert_string_equal(ask(s, "p8"), "007c0000");
    assert_string_equal(ask(s, "P8=017c0000"), "OK");
    assert_string_equal(ask(s, "p8"), "017c0000");
    assert_string_equal(ask(s, "P8=007c0000"), "OK");
    assert_string_equal(ask(s, "m7c00,4"), "fa31c0b0");
    assert_string_equal(ask(s, "M7c10,2:abcd"), "OK");
    assert_string_equal(ask(s, "m7c10,2"), "abcd");
    /* X: binary, with }-escapes for # $ } (0x23 0x24 0x7d) */
    send_raw(s, "$X7c12,3:}\x03}\x04}]#", strlen("$X7c12,3:}\x03}\x04}]#"));
    char sum[3];
    uint8_t total = 0;
    const char *body = "X7c12,3:}\x03}\x04}]";
    for (const char *p = body; *p; p++)
        total = (uint8_t)(total + (uint8_t)*p);
    snprintf(sum, sizeof(sum), "%02x", total);
    send_raw(s, sum, 2);
    assert_string_equal(reply(s), "OK");
    assert_string_equal(ask(s, "m7c12,3"), "23247d");
    const char *xml = ask(s, "qXfer:features:read:target.xml:0,3fff");
    assert_int_equal(xml[0], 'l');
    assert_non_null(strstr(xml, "<architecture>i8086</architecture>"));
    assert_non_null(strstr(xml, "org.gnu.gdb.i386.core"));
    assert_non_null(strstr(xml, "name=\"cr0\""));
    /* monitor info status: the text as hex in an O packet, then OK */
    const char *o = ask(s, "qRcmd,696e666f20737461747573");   /* "info status" */
    assert_string_equal(o, "O564d207374617475733a207061757365640a");   /* "VM status: paused\n" */
    assert_string_equal(reply(s), "OK");
    finish(s);
}

static void test_errors_and_hostile_input(void **state)
{
    Session *s = start(TEST_BACKEND(state));
    /* A wrong checksum is refused with '-' and not executed. */
    send_raw(s, "$g#00", 5);
    char c;
    struct pollfd p = {s->fd, POLLIN, 0};
    assert_int_equal(poll(&p, 1, 5000), 1);
    assert_int_equal(read(s->fd, &c, 1), 1);
    assert_int_equal(c, '-');
    assert_string_equal(ask(s, "QStartNoAckMode"), "OK");
    assert_string_equal(ask(s, "mffffffff0,10"), "E14");   /* not backed by a slot */
    assert_string_equal(ask(s, "mzz,1"), "E01");
    assert_string_equal(ask(s, "m0,ffffffff"), "E01");      /* longer than a packet */
    assert_string_equal(ask(s, "M7c00,2:zz"), "E01");
    assert_string_equal(ask(s, "M7c00,4:ab"), "E01");       /* fewer bytes than said */
    assert_string_equal(ask(s, "p999"), "E01");
    assert_string_equal(ask(s, "P8=12"), "E01");
    assert_string_equal(ask(s, "qRcmd,zz"), "E01");
    assert_string_equal(ask(s, "Z9,0,1"), "E01");
    assert_string_equal(ask(s, "Z2,7c01,4"), "E22");        /* unaligned for a debug register */
    assert_string_equal(ask(s, "Z2,7c00,3"), "E22");        /* no such length */
    /* Four debug registers: Z1 takes them; a fifth is refused, Z0 then falls back to INT3. */
    four_breakpoints(s, "Z1", 0x7c00);
    assert_string_equal(ask(s, "Z1,7c08,1"), "E28");
    assert_string_equal(ask(s, "Z0,7c08,1"), "OK");
    assert_string_equal(ask(s, "m7c08,1"), "cc");            /* the INT3 is in memory */
    assert_string_equal(ask(s, "z0,7c08,1"), "OK");
    assert_string_equal(ask(s, "m7c08,1"), "f4");            /* the HLT is back */
    /* Four Z0 in the debug registers leave guest memory alone; a watchpoint then moves the
     * first of them to an INT3. */
    four_breakpoints(s, "z1", 0x7c00);
    four_breakpoints(s, "Z0", 0x7c00);
    assert_string_equal(ask(s, "m7c00,4"), "fa31c0b0");
    assert_string_equal(ask(s, "Z2,7c10,2"), "OK");
    assert_string_equal(ask(s, "m7c00,4"), "cc31c0b0");
    assert_string_equal(ask(s, "z2,7c10,2"), "OK");
    four_breakpoints(s, "z0", 0x7c00);
    assert_string_equal(ask(s, "m7c00,4"), "fa31c0b0");
    assert_string_equal(ask(s, "vMustReplyEmpty"), "");
    assert_string_equal(ask(s, "qfThreadInfo"), "m01");
    /* A packet longer than the buffer is dropped; the stub goes on. */
    char *big = malloc(10000);
    memset(big, 'm', 9999);
    big[9999] = '\0';
    send_packet(s, big);
    free(big);
    assert_string_equal(ask(s, "?"), "T05thread:01;");
    /* Random bytes (no '$' so that no packet runs by chance), then a valid packet. */
    srand(14);
    char noise[4096];
    for (size_t i = 0; i < sizeof(noise); i++) {
        noise[i] = (char)(rand() & 0xFF);
        if (noise[i] == '$' || noise[i] == 0x03)
            noise[i] = '#';
    }
    send_raw(s, noise, sizeof(noise));
    assert_string_equal(ask(s, "?"), "T05thread:01;");
    finish(s);
}

/* A breakpoint stops a continue with swbreak; a step answers at once; the guest's end is
 * a W packet; a second client can connect after the first left. */
static void test_run_control(void **state)
{
    Session *s = start(TEST_BACKEND(state));
    assert_string_equal(ask(s, "QStartNoAckMode"), "OK");
    assert_string_equal(ask(s, "Z0,7c05,1"), "OK");            /* the OUT */
    assert_string_equal(ask(s, "vCont;c"), "T05swbreak:;thread:01;");
    assert_string_equal(ask(s, "p8"), "057c0000");
    assert_string_equal(ask(s, "z0,7c05,1"), "OK");
    assert_string_equal(ask(s, "s"), "T05thread:01;");
    assert_string_equal(ask(s, "p8"), "077c0000");             /* past the OUT */
    assert_string_equal(ask(s, "c"), "W00");                   /* the HLT ends the VM */
    finish(s);

    /* With the debug registers taken, Z0 is an INT3 (KVM_GUESTDBG_USE_SW_BP). This host's
     * KVM runs real mode in its instruction emulator, which delivers the INT3 to the guest
     * instead of exiting: checked on sim only. */
    if (TEST_BACKEND(state) == HV_BACKEND_SIM) {
        s = start(HV_BACKEND_SIM);
        assert_string_equal(ask(s, "QStartNoAckMode"), "OK");
        four_breakpoints(s, "Z1", 0x1000);
        assert_string_equal(ask(s, "Z0,7c05,1"), "OK");
        assert_string_equal(ask(s, "m7c05,1"), "cc");
        assert_string_equal(ask(s, "c"), "T05swbreak:;thread:01;");
        assert_string_equal(ask(s, "p8"), "057c0000");         /* at the INT3, not past it */
        assert_string_equal(ask(s, "z0,7c05,1"), "OK");
        assert_string_equal(ask(s, "m7c05,1"), "e6");
        assert_string_equal(ask(s, "c"), "W00");
        finish(s);
    } else {
        printf("[ NOTE     ] INT3 breakpoints not run on kvm: this host's KVM emulates real "
               "mode and delivers INT3 to the guest despite KVM_GUESTDBG_USE_SW_BP\n");
    }

    /* A client that leaves detaches: the VM runs on (here in the `jmp $` at 7C09), and the
     * next client to connect stops it again. */
    s = start(TEST_BACKEND(state));
    assert_string_equal(ask(s, "P8=097c0000"), "OK");
    close(s->fd);
    connect_to(s);
    assert_string_equal(ask(s, "?"), "T05thread:01;");
    assert_string_equal(ask(s, "p8"), "097c0000");
    send_packet(s, "D");
    assert_string_equal(reply(s), "OK");
    finish(s);
}

/* -smp: each vCPU is a thread (id = index + 1); Hg picks the one g/p read, the stop
 * reply names it. Thread 2 is an AP, its EIP set apart. */
static void test_smp_threads(void **state)
{
    Session *s = start_cpus(TEST_BACKEND(state), 2);
    vm_thread_pause(s->svm);
    KvmRegs r;
    assert_int_equal(kvm_get_regs(s->svm->vcpus[1], &r), 0);
    r.rip = 0x1234;
    assert_int_equal(kvm_set_regs(s->svm->vcpus[1], &r), 0);
    assert_string_equal(ask(s, "qfThreadInfo"), "m01,02");
    assert_string_equal(ask(s, "qsThreadInfo"), "l");
    assert_string_equal(ask(s, "qC"), "QC01");
    assert_string_equal(ask(s, "p8"), "007c0000");
    assert_string_equal(ask(s, "T2"), "OK");
    assert_string_equal(ask(s, "T3"), "E01");
    assert_string_equal(ask(s, "Hg3"), "E01");
    assert_string_equal(ask(s, "Hg2"), "OK");
    assert_string_equal(ask(s, "qC"), "QC02");
    assert_string_equal(ask(s, "p8"), "34120000");
    assert_string_equal(ask(s, "?"), "T05thread:02;");
    assert_string_equal(ask(s, "Hg0"), "OK");   /* any: the choice stays */
    assert_string_equal(ask(s, "p8"), "34120000");
    assert_string_equal(ask(s, "Hg1"), "OK");
    assert_string_equal(ask(s, "p8"), "007c0000");
    finish(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_packets),
        cmocka_unit_test(test_smp_threads),
        cmocka_unit_test(test_errors_and_hostile_input),
        cmocka_unit_test(test_run_control),
    };
    return RUN_ON_EVERY_BACKEND(tests);
}
