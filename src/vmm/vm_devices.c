/*
 * The VM's device records, guest memory for DMA, and the PCI device kinds of -device.
 */
#include "vmm/vm_devices.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dev/edu.h"
#include "kvm/backend.h"
#include "vmm/platform.h"
#include "vmm/vm_virtio.h"

int vm_device_add(SimpleVM *svm, const DeviceRecord *rec)
{
    DeviceRecord *r = svm && rec ? malloc(sizeof(*r)) : NULL;
    if (!r) {
        if (rec && rec->destroy)
            rec->destroy(rec->opaque);
        return hv_fail(svm && rec ? ENOMEM : EINVAL, "cannot add device %s",
                       rec && rec->name ? rec->name : "?");
    }
    *r = *rec;
    r->next = svm->devices;
    svm->devices = r;
    return 0;
}

static void reset_from(DeviceRecord *r)
{
    if (!r)
        return;
    reset_from(r->next);   /* oldest first: the list holds the newest first */
    if (r->reset)
        r->reset(r->opaque);
}

void vm_devices_reset(SimpleVM *svm)
{
    if (svm)
        reset_from(svm->devices);
}

void vm_devices_destroy(SimpleVM *svm)
{
    if (!svm)
        return;
    while (svm->devices) {
        DeviceRecord *r = svm->devices;
        svm->devices = r->next;
        if (r->destroy)
            r->destroy(r->opaque);
        free(r);
    }
}

/* ---- DMA ---- */

static void *dma_map_ram(void *opaque, uint64_t gpa, size_t len, bool write)
{
    SimpleVM *svm = opaque;
    /* RAM slots only: the VGA hole and MMIO have none, and the firmware's slots are
     * read-only, which a write lookup skips. */
    return kvm_guest_lookup(svm->vm, gpa, len, write);
}

static void dma_ram_written(void *opaque, uint64_t gpa, size_t len)
{
    SimpleVM *svm = opaque;
    kvm_note_host_write(svm->vm, gpa, len);
}

DmaHandle vm_dma_handle(SimpleVM *svm)
{
    return (DmaHandle){dma_map_ram, dma_ram_written, svm};
}

PciBus *vm_pci_bus(SimpleVM *svm)
{
    return svm && svm->platform ? svm->platform->pci : NULL;
}

/* ---- -device ---- */

static void destroy_edu(void *opaque) { edu_destroy(opaque); }

/* -device edu[,dma_mask=MASK] */
static int create_edu(SimpleVM *svm, PciBus *bus, const char *props)
{
    uint64_t mask = EDU_DMA_MASK_DEFAULT;
    while (*props) {
        size_t len = strcspn(props, ",");
        char *end = NULL;
        if (len > 9 && !strncmp(props, "dma_mask=", 9)) {
            errno = 0;
            mask = strtoull(props + 9, &end, 0);
        }
        if (!end || end != props + len || errno || props[9] == '-')
            return hv_fail(EINVAL, "-device edu: '%.*s' is not dma_mask=NUMBER", (int)len, props);
        props += len + (props[len] == ',');
    }
    Edu *e = edu_create(bus, mask);
    if (!e)
        return -EINVAL;
    return vm_device_add(svm, &(DeviceRecord){.name = "edu", .opaque = e, .destroy = destroy_edu});
}

/* The PCI device kinds. Add a line per kind (virtio-blk-pci, ...). */
/* -device virtio-rng-pci (no properties). */
static int create_virtio_rng(SimpleVM *svm, PciBus *bus, const char *props)
{
    (void)bus;
    if (*props)
        return hv_fail(EINVAL, "-device virtio-rng-pci: no properties ('%s')", props);
    return vm_add_virtio_rng(svm);
}

/* A disk or a NIC needs its back end, which the command line opens (-drive, -netdev) and
 * hands to vm_add_virtio_blk / vm_add_virtio_net. */
static int create_needs_backend(SimpleVM *svm, PciBus *bus, const char *props)
{
    (void)svm, (void)bus, (void)props;
    return hv_fail(EINVAL, "virtio-blk-pci and virtio-net-pci take their drive= or netdev= "
                   "from the command line (vm_add_virtio_blk, vm_add_virtio_net)");
}

static const VmPciDeviceKind pci_kinds[] = {
    {"edu", create_edu},
    {"virtio-blk-pci", create_needs_backend},
    {"virtio-net-pci", create_needs_backend},
    {"virtio-rng-pci", create_virtio_rng},
    {NULL, NULL},
};

static const VmPciDeviceKind *find_kind(const char *name, size_t len)
{
    for (size_t i = 0; pci_kinds[i].name; i++)
        if (strlen(pci_kinds[i].name) == len && !strncmp(pci_kinds[i].name, name, len))
            return &pci_kinds[i];
    return NULL;
}

bool vm_pci_device_known(const char *name, size_t len)
{
    return name && find_kind(name, len);
}

const char *vm_pci_device_names(void)
{
    static _Thread_local char names[512];
    size_t n = 0;
    names[0] = '\0';
    for (size_t i = 0; pci_kinds[i].name && n < sizeof(names); i++)
        n += (size_t)snprintf(names + n, sizeof(names) - n, "%s%s", i ? ", " : "",
                              pci_kinds[i].name);
    return names;
}

int vm_add_pci_device(SimpleVM *svm, const char *spec)
{
    PciBus *bus = vm_pci_bus(svm);
    if (!bus || !spec)
        return hv_fail(EINVAL, "-device: no PCI bus");
    if (svm->running || svm->runner)
        return hv_fail(EBUSY, "-device %s: PCI devices are added before the VM runs", spec);
    size_t len = strcspn(spec, ",");
    const VmPciDeviceKind *k = find_kind(spec, len);
    if (!k)
        return hv_fail(ENOENT, "-device %.*s: no such PCI device (known: %s)", (int)len, spec,
                       *vm_pci_device_names() ? vm_pci_device_names() : "none yet");
    int r = k->create(svm, bus, spec + len + (spec[len] == ','));
    if (r < 0)
        return r;
    pci_bus_assign_resources(bus);   /* the firmware's work, for the new BARs */
    return 0;
}
