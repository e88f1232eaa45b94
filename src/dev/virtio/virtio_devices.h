/*
 * The virtio device types (virtio 1.x spec, 5): each is created here and handed to a
 * transport (virtio_pci.h) as a VirtioDevice, destroyed through virtio_device_destroy.
 * Internal to the library.
 */
#ifndef SCRATCHVM_DEV_VIRTIO_DEVICES_H
#define SCRATCHVM_DEV_VIRTIO_DEVICES_H

#include <stdbool.h>
#include <stdint.h>

#include "block/block.h"
#include "dev/virtio/virtio.h"
#include "net/net.h"

/* ---- virtio-blk (5.2) ---- */
#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_ID_BYTES 20
#define VIRTIO_BLK_SECTOR 512

/* A disk on `bd`, which the caller keeps and closes after the device. `serial` (up to
 * 20 bytes, may be NULL) answers GET_ID. threaded: requests are served on an I/O thread
 * of the device's own, kicked by the notify; else (tests, fuzzers) the caller serves them
 * with virtio_blk_process. NULL with hv_last_error() on failure. */
VirtioDevice *virtio_blk_create(BlockDev *bd, const char *serial, bool threaded);
/* Serves every available request of the queue on the caller's thread. */
void virtio_blk_process(VirtioDevice *vd);

/* ---- virtio-rng (5.4): the guest's buffers filled by getrandom(2), at most
 * VIRTIO_RNG_MAX_REQUEST bytes a request, on the notifying thread. ---- */
#define VIRTIO_RNG_MAX_REQUEST 65536
VirtioDevice *virtio_rng_create(void);

/* ---- virtio-net (5.1) on a net back end (net/net.h), which the device owns from here
 * on (even when creation fails) and starts. Frames the back end delivers while the guest has no
 * receive buffer wait in a short queue, and beyond it are dropped (TCP recovers). ---- */
#define VIRTIO_NET_F_MTU 3
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_STATUS 16
#define VIRTIO_NET_S_LINK_UP 1
#define VIRTIO_NET_HDR_SIZE 12    /* struct virtio_net_hdr with num_buffers (VERSION_1) */
#define VIRTIO_NET_MAX_FRAME 65550   /* an Ethernet frame up to 64 KiB plus the header */
VirtioDevice *virtio_net_create(NetBackend *backend, const uint8_t mac[6]);
/* Serves the transmit queue now (tests and fuzzers; the device does this itself when
 * the driver kicks it). */
void virtio_net_process_tx(VirtioDevice *vd);
/* Delivers one frame to the guest as the back end does (tests and fuzzers). */
void virtio_net_receive(VirtioDevice *vd, const uint8_t *frame, size_t len);

#endif
