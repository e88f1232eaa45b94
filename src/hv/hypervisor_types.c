/* A small reference table of well-known hypervisors and the three ways they are built. */
#include <stdio.h>
#include <string.h>

#include "hypervisor_sim.h"

/* requires_host_os: the hypervisor runs inside (or as part of) a general-purpose OS that
 * owns the machine. hardware_virt_required: current releases refuse to run guests without
 * VT-x / AMD-V (Xen's paravirtual guests and QEMU's TCG need neither). */
const HypervisorInfo hypervisor_types[] = {
    {"VMware ESXi", HYPERVISOR_TYPE_1, false, true, "vSphere, VMware Cloud",
     "Broadcom (VMware)", "bare-metal hypervisor with its own VMkernel; the data-centre standard"},
    {"Microsoft Hyper-V", HYPERVISOR_TYPE_1, false, true, "Windows Server, Azure, WSL 2",
     "Microsoft", "bare-metal hypervisor under Windows, which runs in the root partition"},
    {"Xen", HYPERVISOR_TYPE_1, false, false, "XCP-ng, Citrix Hypervisor, Qubes OS",
     "Xen Project (Linux Foundation)",
     "bare-metal hypervisor; a privileged Linux domain (dom0) drives the devices"},
    {"KVM", HYPERVISOR_KVM, true, true, "QEMU/KVM, Proxmox VE, OpenStack, Google Compute Engine",
     "Linux kernel community",
     "Type 1 inside a host kernel: kvm.ko turns Linux itself into the hypervisor"},
    {"Oracle VirtualBox", HYPERVISOR_TYPE_2, true, true, "desktop VMs, Vagrant boxes", "Oracle",
     "hosted hypervisor for desktops, with a kernel driver on the host OS"},
    {"VMware Workstation", HYPERVISOR_TYPE_2, true, true, "Workstation Pro, Fusion (macOS)",
     "Broadcom (VMware)", "hosted hypervisor for Windows and Linux desktops"},
    {"Parallels Desktop", HYPERVISOR_TYPE_2, true, true, "Parallels Desktop for Mac",
     "Parallels (Alludo)", "hosted hypervisor for macOS, on Apple's Hypervisor.framework"},
    {"QEMU (TCG)", HYPERVISOR_TYPE_2, true, false, "qemu-system-* without KVM, cross-architecture",
     "QEMU project",
     "emulator without acceleration: a user process translates guest code in software"},
};

const size_t hypervisor_types_count = sizeof(hypervisor_types) / sizeof(hypervisor_types[0]);

/* "Type 1", "Type 2", "Hybrid"; "unknown" for a value outside the enum. Never NULL. */
const char *hypervisor_type_name(HypervisorType type)
{
    switch (type) {
    case HYPERVISOR_TYPE_1:
        return "Type 1";
    case HYPERVISOR_TYPE_2:
        return "Type 2";
    case HYPERVISOR_KVM:
        return "Hybrid";
    }
    return "unknown";
}

static int max_width(int w, const char *s)
{
    int n = (int)strlen(s);
    return n > w ? n : w;
}

/* Writes the table (header row, one row per entry, columns aligned to the widest cell)
 * and a paragraph on the three types to `out`. */
void print_hypervisor_types_to(FILE *out)
{
    int wname = (int)strlen("NAME"), wtype = (int)strlen("TYPE");
    int wvendor = (int)strlen("VENDOR");
    for (size_t i = 0; i < hypervisor_types_count; i++) {
        wname = max_width(wname, hypervisor_types[i].name);
        wtype = max_width(wtype, hypervisor_type_name(hypervisor_types[i].type));
        wvendor = max_width(wvendor, hypervisor_types[i].vendor);
    }

    fprintf(out, "%-*s  %-*s  %-*s  %s\n", wname, "NAME", wtype, "TYPE", wvendor, "VENDOR",
            "DESCRIPTION");
    for (size_t i = 0; i < hypervisor_types_count; i++) {
        const HypervisorInfo *h = &hypervisor_types[i];
        fprintf(out, "%-*s  %-*s  %-*s  %s\n", wname, h->name, wtype,
                hypervisor_type_name(h->type), wvendor, h->vendor, h->description);
    }
    fputs("\n"
          "A Type 1 (bare-metal) hypervisor runs directly on the hardware and is itself the\n"
          "host: guests, and often a privileged management OS, run above it. A Type 2 (hosted)\n"
          "hypervisor is a program on an ordinary host OS, which owns the hardware and\n"
          "schedules it like any other process. KVM is the hybrid case: a module that turns the\n"
          "Linux kernel into a Type 1 hypervisor, while each VM is an ordinary process (a VMM\n"
          "such as QEMU or ScratchVM) driving it through /dev/kvm.\n",
          out);
}

void print_hypervisor_types(void) { print_hypervisor_types_to(stdout); }
