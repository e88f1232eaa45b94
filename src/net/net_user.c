/*
 * User-mode networking (net.h) by libslirp: a TCP/IP stack in the process that answers the
 * guest's DHCP, ARP and DNS and turns its TCP and UDP flows into host sockets. The guest
 * network is QEMU's: 10.0.2.0/24, the host at 10.0.2.2, DNS at 10.0.2.3, the guest given
 * 10.0.2.15.
 *
 * libslirp is not thread-safe: every call into it is made with `lock` held, on the back
 * end's thread (poll, timers) or on the NIC's (slirp_input when the guest sends). Its
 * send_packet callback delivers to the NIC with `lock` held, so the NIC must not hold its
 * own lock while it sends (virtio_net.c copies a frame out, unlocks, then sends).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <slirp/libslirp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "hv/hv_log.h"
#include "net/net_internal.h"

#define USER_MAX_TIMERS 8

typedef struct {
    bool used;
    SlirpTimerId id;
    void *cb_opaque;
    int64_t expire_ms;       /* -1: not armed */
} UserTimer;

typedef struct {
    NetBackend nb;
    Slirp *slirp;
    pthread_mutex_t lock;
    pthread_t thread;
    bool started, quit;
    int wake_fd;
    struct pollfd *fds;
    size_t nfds, cap;
    UserTimer timers[USER_MAX_TIMERS];
} NetUser;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static ssize_t user_send_packet(const void *buf, size_t len, void *opaque)
{
    net_deliver(&((NetUser *)opaque)->nb, buf, len);
    return (ssize_t)len;
}

static void user_guest_error(const char *msg, void *opaque)
{
    (void)opaque;
    hv_log(HV_LOG_DEBUG, "net user: guest error: %s", msg);
}

static int64_t user_clock_get_ns(void *opaque)
{
    (void)opaque;
    return now_ns();
}

static void *user_timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque)
{
    NetUser *u = opaque;
    for (int i = 0; i < USER_MAX_TIMERS; i++)
        if (!u->timers[i].used) {
            u->timers[i] = (UserTimer){true, id, cb_opaque, -1};
            return &u->timers[i];
        }
    hv_log(HV_LOG_WARN, "net user: out of timers");
    return NULL;
}

static void user_timer_free(void *timer, void *opaque)
{
    (void)opaque;
    if (timer)
        *(UserTimer *)timer = (UserTimer){0};
}

static void user_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
    if (timer)
        ((UserTimer *)timer)->expire_ms = expire_ms;
    uint64_t one = 1;
    ssize_t w = write(((NetUser *)opaque)->wake_fd, &one, sizeof(one));
    (void)w;
}

static void user_register_poll_fd(int fd, void *opaque)
{
    (void)fd;
    (void)opaque;
}

static void user_notify(void *opaque)
{
    uint64_t one = 1;
    ssize_t w = write(((NetUser *)opaque)->wake_fd, &one, sizeof(one));
    (void)w;
}

static const SlirpCb user_callbacks = {
    .send_packet = user_send_packet,
    .guest_error = user_guest_error,
    .clock_get_ns = user_clock_get_ns,
    .timer_free = user_timer_free,
    .timer_mod = user_timer_mod,
    .register_poll_fd = user_register_poll_fd,
    .unregister_poll_fd = user_register_poll_fd,
    .notify = user_notify,
    .timer_new_opaque = user_timer_new_opaque,
};

static int user_add_poll(int fd, int events, void *opaque)
{
    NetUser *u = opaque;
    if (u->nfds == u->cap) {
        size_t cap = u->cap ? 2 * u->cap : 16;
        struct pollfd *p = realloc(u->fds, cap * sizeof(*p));
        if (!p)
            return -1;
        u->fds = p;
        u->cap = cap;
    }
    short ev = 0;
    if (events & SLIRP_POLL_IN)
        ev |= POLLIN;
    if (events & SLIRP_POLL_OUT)
        ev |= POLLOUT;
    if (events & SLIRP_POLL_PRI)
        ev |= POLLPRI;
    u->fds[u->nfds] = (struct pollfd){.fd = fd, .events = ev};
    return (int)u->nfds++;
}

static int user_get_revents(int idx, void *opaque)
{
    NetUser *u = opaque;
    if (idx < 0 || (size_t)idx >= u->nfds)
        return 0;
    short rev = u->fds[idx].revents;
    int r = 0;
    if (rev & POLLIN)
        r |= SLIRP_POLL_IN;
    if (rev & POLLOUT)
        r |= SLIRP_POLL_OUT;
    if (rev & POLLPRI)
        r |= SLIRP_POLL_PRI;
    if (rev & (POLLERR | POLLNVAL))
        r |= SLIRP_POLL_ERR;
    if (rev & POLLHUP)
        r |= SLIRP_POLL_HUP;
    return r;
}

static void *user_thread(void *arg)
{
    NetUser *u = arg;
    pthread_mutex_lock(&u->lock);
    while (!u->quit) {
        u->nfds = 0;
        user_add_poll(u->wake_fd, SLIRP_POLL_IN, u);
        uint32_t timeout = 1000;
        slirp_pollfds_fill(u->slirp, &timeout, user_add_poll, u);
        int64_t now_ms = now_ns() / 1000000;
        for (int i = 0; i < USER_MAX_TIMERS; i++) {
            const UserTimer *t = &u->timers[i];
            if (t->used && t->expire_ms >= 0) {
                int64_t left = t->expire_ms > now_ms ? t->expire_ms - now_ms : 0;
                if (left < (int64_t)timeout)
                    timeout = (uint32_t)left;
            }
        }
        pthread_mutex_unlock(&u->lock);
        int r = poll(u->fds, u->nfds, (int)timeout);
        pthread_mutex_lock(&u->lock);
        if (u->quit)
            break;
        if (r > 0 && (u->fds[0].revents & POLLIN)) {
            uint64_t v;
            ssize_t n = read(u->wake_fd, &v, sizeof(v));
            (void)n;
        }
        slirp_pollfds_poll(u->slirp, r < 0, user_get_revents, u);
        now_ms = now_ns() / 1000000;
        for (int i = 0; i < USER_MAX_TIMERS; i++) {
            UserTimer *t = &u->timers[i];
            if (t->used && t->expire_ms >= 0 && t->expire_ms <= now_ms) {
                t->expire_ms = -1;
                slirp_handle_timer(u->slirp, t->id, t->cb_opaque);
            }
        }
    }
    pthread_mutex_unlock(&u->lock);
    return NULL;
}

static int user_start(NetBackend *nb)
{
    NetUser *u = (NetUser *)nb;
    int r = pthread_create(&u->thread, NULL, user_thread, u);
    if (r)
        return hv_fail(r, "net user: cannot start its thread: %s", strerror(r));
    u->started = true;
    return 0;
}

static int user_send(NetBackend *nb, const uint8_t *frame, size_t len)
{
    NetUser *u = (NetUser *)nb;
    if (len > 65536)
        return -EMSGSIZE;
    pthread_mutex_lock(&u->lock);
    slirp_input(u->slirp, frame, (int)len);
    pthread_mutex_unlock(&u->lock);
    /* New sockets or data to send: the thread polls again with them. */
    user_notify(u);
    return 0;
}

static void user_destroy(NetBackend *nb)
{
    NetUser *u = (NetUser *)nb;
    if (u->started) {
        pthread_mutex_lock(&u->lock);
        u->quit = true;
        pthread_mutex_unlock(&u->lock);
        user_notify(u);
        pthread_join(u->thread, NULL);
    }
    if (u->slirp)
        slirp_cleanup(u->slirp);
    if (u->wake_fd >= 0)
        close(u->wake_fd);
    pthread_mutex_destroy(&u->lock);
    free(u->fds);
    free(u);
}

static const NetBackendOps user_ops = {"user", user_start, user_send, user_destroy};

static struct in_addr ip4(uint32_t host_order)
{
    return (struct in_addr){.s_addr = htonl(host_order)};
}

NetBackend *net_user_create(const NetUserConfig *cfg)
{
    NetUser *u = calloc(1, sizeof(*u));
    if (!u) {
        hv_fail(ENOMEM, "net user: out of memory");
        return NULL;
    }
    u->nb.ops = &user_ops;
    u->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    pthread_mutex_init(&u->lock, NULL);
    if (u->wake_fd < 0) {
        hv_fail(errno, "net user: eventfd: %s", strerror(errno));
        user_destroy(&u->nb);
        return NULL;
    }
    SlirpConfig sc = {
        .version = 4,
        .restricted = cfg && cfg->restrict_host,
        .in_enabled = true,
        .vnetwork = ip4(0x0a000200),       /* 10.0.2.0/24 */
        .vnetmask = ip4(0xffffff00),
        .vhost = ip4(0x0a000202),          /* 10.0.2.2 */
        .vdhcp_start = ip4(0x0a00020f),    /* 10.0.2.15 */
        .vnameserver = ip4(0x0a000203),    /* 10.0.2.3 */
    };
    if (!(u->slirp = slirp_new(&sc, &user_callbacks, u))) {
        hv_fail(EINVAL, "net user: libslirp refused its configuration");
        user_destroy(&u->nb);
        return NULL;
    }
    for (int i = 0; cfg && i < cfg->num_fwd; i++) {
        const NetHostFwd *f = &cfg->fwd[i];
        struct in_addr host = {.s_addr = f->host_addr}, guest = {.s_addr = f->guest_addr};
        if (slirp_add_hostfwd(u->slirp, f->udp, host, f->host_port, guest, f->guest_port) < 0) {
            hv_fail(EADDRINUSE, "net user: hostfwd %s port %u: cannot listen (in use, or not "
                    "allowed)", f->udp ? "udp" : "tcp", f->host_port);
            user_destroy(&u->nb);
            return NULL;
        }
    }
    return &u->nb;
}
