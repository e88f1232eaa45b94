/* What every network back end (net.h) is made of: an operations table and the receive
 * callback. Internal to src/net. */
#ifndef SCRATCHVM_NET_NET_INTERNAL_H
#define SCRATCHVM_NET_NET_INTERNAL_H

#include "net/net.h"

typedef struct {
    const char *kind;
    int (*start)(NetBackend *nb);        /* NULL: nothing to start */
    int (*send)(NetBackend *nb, const uint8_t *frame, size_t len);
    void (*destroy)(NetBackend *nb);     /* stops the thread, frees nb */
} NetBackendOps;

struct NetBackend {
    const NetBackendOps *ops;
    NetReceiveFn rx;
    void *rx_opaque;
};

/* Hands a frame to the NIC (NULL callback: dropped). */
static inline void net_deliver(NetBackend *nb, const uint8_t *frame, size_t len)
{
    if (nb->rx)
        nb->rx(nb->rx_opaque, frame, len);
}

#endif
