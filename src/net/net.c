/* The back-end interface (net.h): dispatch, hostfwd= parsing, the test back end. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv/hv_log.h"
#include "net/net_internal.h"

int net_backend_start(NetBackend *nb, NetReceiveFn rx, void *opaque)
{
    nb->rx = rx;
    nb->rx_opaque = opaque;
    return nb->ops->start ? nb->ops->start(nb) : 0;
}

int net_backend_send(NetBackend *nb, const uint8_t *frame, size_t len)
{
    return nb->ops->send(nb, frame, len);
}

const char *net_backend_kind(const NetBackend *nb)
{
    return nb->ops->kind;
}

void net_backend_destroy(NetBackend *nb)
{
    if (nb)
        nb->ops->destroy(nb);
}

static int parse_fail(char *err, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int parse_fail(char *err, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, size, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* "[ADDR]:PORT" (n bytes at s): the address may be empty. */
static int parse_addr_port(const char *s, size_t n, uint32_t *addr, uint16_t *port)
{
    const char *colon = memchr(s, ':', n);
    if (!colon)
        return -1;
    char a[32], p[8];
    size_t alen = (size_t)(colon - s), plen = n - alen - 1;
    if (alen >= sizeof(a) || plen == 0 || plen >= sizeof(p))
        return -1;
    memcpy(a, s, alen);
    a[alen] = '\0';
    memcpy(p, colon + 1, plen);
    p[plen] = '\0';
    struct in_addr in = {0};
    if (alen && inet_pton(AF_INET, a, &in) != 1)
        return -1;
    char *end;
    unsigned long v = strtoul(p, &end, 10);
    if (*end || v == 0 || v > 65535 || p[0] < '0' || p[0] > '9')
        return -1;
    *addr = in.s_addr;
    *port = (uint16_t)v;
    return 0;
}

int net_parse_hostfwd(const char *spec, NetHostFwd *f, char *err, size_t err_size)
{
    *f = (NetHostFwd){0};
    const char *p = spec;
    if (!strncmp(p, "tcp:", 4)) {
        p += 4;
    } else if (!strncmp(p, "udp:", 4)) {
        f->udp = true;
        p += 4;
    } else if (*p == ':') {
        p += 1;   /* the protocol may be left out: tcp */
    } else {
        return parse_fail(err, err_size, "hostfwd=%s: expected [tcp|udp]:[HOSTADDR]:HOSTPORT-"
                          "[GUESTADDR]:GUESTPORT", spec);
    }
    const char *dash = strchr(p, '-');
    if (!dash || parse_addr_port(p, (size_t)(dash - p), &f->host_addr, &f->host_port) < 0 ||
        parse_addr_port(dash + 1, strlen(dash + 1), &f->guest_addr, &f->guest_port) < 0)
        return parse_fail(err, err_size, "hostfwd=%s: expected [tcp|udp]:[HOSTADDR]:HOSTPORT-"
                          "[GUESTADDR]:GUESTPORT with IPv4 addresses and ports 1-65535", spec);
    return 0;
}

/* ---- the test back end ---- */

typedef struct {
    NetBackend nb;
    void (*sent)(void *opaque, const uint8_t *frame, size_t len);
    void *opaque;
} NetCallback;

static int callback_send(NetBackend *nb, const uint8_t *frame, size_t len)
{
    NetCallback *c = (NetCallback *)nb;
    if (c->sent)
        c->sent(c->opaque, frame, len);
    return 0;
}

static void callback_destroy(NetBackend *nb)
{
    free(nb);
}

static const NetBackendOps callback_ops = {"callback", NULL, callback_send, callback_destroy};

NetBackend *net_callback_create(void (*sent)(void *opaque, const uint8_t *frame, size_t len),
                                void *opaque)
{
    NetCallback *c = calloc(1, sizeof(*c));
    if (!c) {
        hv_fail(ENOMEM, "net: out of memory");
        return NULL;
    }
    c->nb.ops = &callback_ops;
    c->sent = sent;
    c->opaque = opaque;
    return &c->nb;
}
