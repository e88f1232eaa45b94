/*
 * A host tap device (net.h): /dev/net/tun with IFF_TAP | IFF_NO_PI, so one read(2) is one
 * Ethernet frame and one write(2) sends one. The device must exist (ip tuntap add ... mode
 * tap) or the process needs CAP_NET_ADMIN to create it; no script is run (script=no).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "hv/hv_log.h"
#include "net/net_internal.h"

#define TAP_MAX_FRAME 65536

typedef struct {
    NetBackend nb;
    int fd, wake_fd;
    pthread_t thread;
    bool started;
    uint8_t buf[TAP_MAX_FRAME];
} NetTap;

static void *tap_thread(void *arg)
{
    NetTap *t = arg;
    for (;;) {
        struct pollfd p[2] = {{.fd = t->fd, .events = POLLIN}, {.fd = t->wake_fd, .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents)
            break;   /* destroy */
        if (p[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
            hv_log(HV_LOG_WARN, "net tap: the device went away");
            break;
        }
        ssize_t n = read(t->fd, t->buf, sizeof(t->buf));
        if (n > 0)
            net_deliver(&t->nb, t->buf, (size_t)n);
    }
    return NULL;
}

static int tap_start(NetBackend *nb)
{
    NetTap *t = (NetTap *)nb;
    int r = pthread_create(&t->thread, NULL, tap_thread, t);
    if (r)
        return hv_fail(r, "net tap: cannot start its thread: %s", strerror(r));
    t->started = true;
    return 0;
}

static int tap_send(NetBackend *nb, const uint8_t *frame, size_t len)
{
    NetTap *t = (NetTap *)nb;
    ssize_t n = write(t->fd, frame, len);
    return n < 0 ? -errno : 0;
}

static void tap_destroy(NetBackend *nb)
{
    NetTap *t = (NetTap *)nb;
    if (t->started) {
        uint64_t one = 1;
        ssize_t w = write(t->wake_fd, &one, sizeof(one));
        (void)w;
        pthread_join(t->thread, NULL);
    }
    if (t->fd >= 0)
        close(t->fd);
    if (t->wake_fd >= 0)
        close(t->wake_fd);
    free(t);
}

static const NetBackendOps tap_ops = {"tap", tap_start, tap_send, tap_destroy};

NetBackend *net_tap_create(const char *ifname)
{
    struct ifreq ifr = {0};
    if (!ifname || !*ifname || strlen(ifname) >= sizeof(ifr.ifr_name)) {
        hv_fail(EINVAL, "net tap: the interface name must be 1 to %zu characters",
                sizeof(ifr.ifr_name) - 1);
        return NULL;
    }
    NetTap *t = calloc(1, sizeof(*t));
    if (!t) {
        hv_fail(ENOMEM, "net tap: out of memory");
        return NULL;
    }
    t->nb.ops = &tap_ops;
    t->wake_fd = eventfd(0, EFD_CLOEXEC);
    t->fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
    if (t->fd < 0 || t->wake_fd < 0) {
        hv_fail(errno, "net tap: /dev/net/tun: %s", strerror(errno));
        tap_destroy(&t->nb);
        return NULL;
    }
    strcpy(ifr.ifr_name, ifname);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    if (ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
        int e = errno;
        hv_fail(e, "net tap: %s: %s%s", ifname, strerror(e),
                e == EPERM ? " (create it first: ip tuntap add dev NAME mode tap user USER)" : "");
        tap_destroy(&t->nb);
        return NULL;
    }
    return &t->nb;
}
