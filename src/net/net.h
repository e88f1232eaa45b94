/*
 * Network back ends: where a virtual NIC's Ethernet frames go and come from. A back end
 * has a thread of its own (poll on its descriptors and timers) that delivers received
 * frames through the receive callback; net_backend_send may be called from any thread.
 * Two back ends: user-mode networking by libslirp (DHCP, DNS, 10.0.2.2 as the host,
 * hostfwd), and a host tap device. Internal to the library.
 */
#ifndef SCRATCHVM_NET_NET_H
#define SCRATCHVM_NET_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct NetBackend NetBackend;

/* A frame for the guest: called on the back end's thread. */
typedef void (*NetReceiveFn)(void *opaque, const uint8_t *frame, size_t len);

#define NET_MAX_HOSTFWD 8

/* One hostfwd=[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT. Addresses are IPv4 in
 * network byte order, 0 for the default (every host address; the guest's DHCP address). */
typedef struct {
    bool udp;
    uint32_t host_addr, guest_addr;
    uint16_t host_port, guest_port;
} NetHostFwd;

typedef struct {
    NetHostFwd fwd[NET_MAX_HOSTFWD];
    int num_fwd;
    bool restrict_host;   /* restrict=on: the guest reaches only the forwarded ports */
} NetUserConfig;

/* Parses one hostfwd= value into *f; 0, or -EINVAL with a message in err. */
int net_parse_hostfwd(const char *spec, NetHostFwd *f, char *err, size_t err_size);

/* User-mode networking: guest 10.0.2.15 (by DHCP), host 10.0.2.2, DNS 10.0.2.3. The
 * hostfwd listening sockets are bound here. NULL with hv_last_error() on failure (and when
 * the build has no libslirp). */
NetBackend *net_user_create(const NetUserConfig *cfg);
/* The host's tap device `ifname` (/dev/net/tun, IFF_TAP | IFF_NO_PI): needs the device to
 * exist or CAP_NET_ADMIN. NULL with hv_last_error(). */
NetBackend *net_tap_create(const char *ifname);
/* Starts the back end's thread, which delivers frames to rx(opaque, ...) until destroy. */
int net_backend_start(NetBackend *nb, NetReceiveFn rx, void *opaque);
/* Sends one frame from the guest; 0, or a negative errno (the frame is dropped). */
int net_backend_send(NetBackend *nb, const uint8_t *frame, size_t len);
/* "user" or "tap": what the sandbox needs to allow depends on it. */
const char *net_backend_kind(const NetBackend *nb);
/* Stops the thread and frees everything. */
void net_backend_destroy(NetBackend *nb);

/* A back end for tests and fuzzers: sent frames go to `sent` (may be NULL), nothing is
 * received but what the caller injects through the device. */
NetBackend *net_callback_create(void (*sent)(void *opaque, const uint8_t *frame, size_t len),
                                void *opaque);

#endif
