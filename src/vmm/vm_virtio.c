/* virtio PCI devices on the VM (vm_virtio.h). */
#include "vmm/vm_virtio.h"

#include <errno.h>
#include <stdlib.h>

#include "dev/device.h"
#include "dev/pci_bus.h"
#include "dev/virtio/virtio_devices.h"
#include "dev/virtio/virtio_pci.h"
#include "hv/hv_log.h"
#include "vmm/vm_devices.h"

typedef struct {
    VirtioPci *vp;
    BlockDev *bd;     /* blk: closed after the device (and its I/O thread) is gone */
} VirtioRecord;

static void destroy_virtio(void *opaque)
{
    VirtioRecord *r = opaque;
    virtio_pci_destroy(r->vp);
    block_close(r->bd);
    free(r);
}

/* Puts vd (owned from here, with bd) on the VM's bus. */
static int add_virtio(SimpleVM *svm, VirtioDevice *vd, BlockDev *bd)
{
    PciBus *bus = vm_pci_bus(svm);
    VirtioRecord *r = NULL;
    if (!vd || !bus || !(r = calloc(1, sizeof(*r)))) {
        int err = !vd ? -EINVAL : !bus ? hv_fail(ENODEV, "%s: the VM has no PCI bus", vd->name)
                                       : hv_fail(ENOMEM, "%s: out of memory", vd->name);
        virtio_device_destroy(vd);
        block_close(bd);
        return err;
    }
    const char *name = vd->name;
    r->bd = bd;
    if (!(r->vp = virtio_pci_create(bus, -1, vd))) {
        block_close(bd);
        free(r);
        return -ENOSPC;
    }
    int added = vm_device_add(svm, &(DeviceRecord){.name = name, .opaque = r,
                                                   .destroy = destroy_virtio});
    if (added < 0)
        return added;
    pci_bus_assign_resources(bus);   /* the firmware's work, for the new BARs */
    return 0;
}

int vm_add_virtio_blk(SimpleVM *svm, BlockDev *bd, const char *serial)
{
    if (!svm || !bd) {
        block_close(bd);
        return hv_fail(EINVAL, "virtio-blk-pci: no VM or no disk");
    }
    return add_virtio(svm, virtio_blk_create(bd, serial, true), bd);
}

int vm_add_virtio_net(SimpleVM *svm, NetBackend *nb, const uint8_t mac[6])
{
    if (!svm || !nb) {
        net_backend_destroy(nb);
        return hv_fail(EINVAL, "virtio-net-pci: no VM or no back end");
    }
    return add_virtio(svm, virtio_net_create(nb, mac), NULL);
}

int vm_add_virtio_rng(SimpleVM *svm)
{
    if (!svm)
        return hv_fail(EINVAL, "virtio-rng-pci: no VM");
    return add_virtio(svm, virtio_rng_create(), NULL);
}
