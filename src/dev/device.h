/*
 * The device record: what a device tells the VM about itself so that the VM can reset
 * and destroy it without knowing its type (DESIGN.md, "The machine"). The VM keeps the
 * records in a list (vm_device_add), resets them in creation order (system_reset, a
 * triple fault) and destroys them in reverse order before the buses go. Save/restore
 * hooks join here when snapshots come. Internal to the library.
 */
#ifndef SCRATCHVM_DEV_DEVICE_H
#define SCRATCHVM_DEV_DEVICE_H

#include "hypervisor_sim.h"

typedef struct DeviceRecord {
    const char *name;             /* for logs: "fw_cfg", "virtio-blk-pci" (kept as given) */
    void *opaque;                 /* the device's state, passed to every hook */
    /* Back to power-on state (NULL: nothing to do). On the vCPU thread, vCPU stopped. */
    void (*reset)(void *opaque);
    /* Unregisters the device's ranges and frees it (NULL: nothing to free). */
    void (*destroy)(void *opaque);
    struct DeviceRecord *next;    /* the VM's */
} DeviceRecord;

/* Adds a copy of *rec to the VM's list; the VM owns the device from here (on failure
 * too: then rec->destroy has been called). 0 or -ENOMEM. */
int vm_device_add(SimpleVM *svm, const DeviceRecord *rec);
/* Every device's reset, in the order they were added. */
void vm_devices_reset(SimpleVM *svm);
/* Every device's destroy, newest first, and the records. */
void vm_devices_destroy(SimpleVM *svm);

#endif
