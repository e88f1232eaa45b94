/* The virtio options (options_virtio.h), with QEMU's spellings. Each value either means
 * what it means in QEMU or is refused with the reason. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/options_virtio.h"

/* The next "key[=value]" item of a comma-separated list into key and val (false at the
 * end, or when an item does not fit: *too_long is set then). */
static bool next_kv(const char **p, char *key, size_t ksize, char *val, size_t vsize,
                    bool *has_value, bool *too_long)
{
    if (!**p)
        return false;
    size_t n = strcspn(*p, ",");
    const char *eq = memchr(*p, '=', n);
    size_t kn = eq ? (size_t)(eq - *p) : n;
    size_t vn = eq ? n - kn - 1 : 0;
    if (kn >= ksize || vn >= vsize) {
        *too_long = true;
        return false;
    }
    memcpy(key, *p, kn);
    key[kn] = '\0';
    memcpy(val, eq ? eq + 1 : "", vn);
    val[vn] = '\0';
    *has_value = eq != NULL;
    *p += n + ((*p)[n] == ',');
    return true;
}

static int parse_on_off(const char *v)
{
    if (!strcmp(v, "on") || !strcmp(v, "yes") || !strcmp(v, "true"))
        return 1;
    if (!strcmp(v, "off") || !strcmp(v, "no") || !strcmp(v, "false"))
        return 0;
    return -1;
}

/* "52:54:00:12:34:56" into mac; -1 when malformed or multicast. */
static int parse_mac(const char *s, uint8_t mac[6])
{
    unsigned b[6];
    char end;
    if (strlen(s) != 17 ||
        sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &end) != 6)
        return -1;
    for (int i = 0; i < 6; i++)
        mac[i] = (uint8_t)b[i];
    return mac[0] & 1 ? -1 : 0;
}

static bool valid_id(const char *id)
{
    if (!*id || strlen(id) >= 32)
        return false;
    for (const char *c = id; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '-' || *c == '_' || *c == '.'))
            return false;
    return true;
}

bool cli_drive_is_virtio(const char *arg)
{
    for (const char *p = arg; *p; p += strcspn(p, ","), p += *p == ',') {
        size_t n = strcspn(p, ",");
        if ((n == 9 && !strncmp(p, "if=virtio", 9)) || (n == 7 && !strncmp(p, "if=none", 7)))
            return true;
    }
    return false;
}

static CliVirtioDevice *new_device(CliOptions *opt, CliVirtioKind kind, CliError *e)
{
    if (opt->num_virtio == CLI_MAX_VIRTIO) {
        cli_failf(e, "%s: at most %d virtio devices", e->spelled, CLI_MAX_VIRTIO);
        return NULL;
    }
    CliVirtioDevice *d = &opt->virtio[opt->num_virtio++];
    *d = (CliVirtioDevice){.kind = kind, .drive = -1, .netdev = -1};
    return d;
}

int opt_drive_virtio(CliOptions *opt, const char *arg, CliError *e)
{
    if (opt->num_vdrives == CLI_MAX_VDRIVES)
        return cli_failf(e, "%s: at most %d virtio disks", e->spelled, CLI_MAX_VDRIVES);
    int n = opt->num_vdrives;
    CliVirtioDrive *d = &opt->vdrives[n];
    *d = (CliVirtioDrive){.id = ""};
    char *buf = opt->vdrive_args[n];
    if (strlen(arg) >= sizeof(opt->vdrive_args[0]))
        return cli_failf(e, "%s: too long", e->spelled);
    strcpy(buf, arg);
    for (char *save = NULL, *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq)
            return cli_failf(e, "%s %s: '%s' is not KEY=VALUE", e->spelled, arg, kv);
        *eq = '\0';
        const char *v = eq + 1;
        int b;
        if (!strcmp(kv, "file") && *v) {
            d->file = v;
        } else if (!strcmp(kv, "id") && valid_id(v)) {
            d->id = v;
        } else if (!strcmp(kv, "if") && (!strcmp(v, "virtio") || !strcmp(v, "none"))) {
            d->if_virtio = !strcmp(v, "virtio");
        } else if (!strcmp(kv, "format") && (!strcmp(v, "raw") || !strcmp(v, "qcow2"))) {
            d->format = !strcmp(v, "raw") ? 1 : 2;   /* BLOCK_FORMAT_RAW / _QCOW2 */
        } else if (!strcmp(kv, "snapshot") && (b = parse_on_off(v)) >= 0) {
            d->snapshot = b;
        } else if (!strcmp(kv, "readonly") && (b = parse_on_off(v)) >= 0) {
            d->read_only = b;
        } else if (!strcmp(kv, "media") && !strcmp(v, "disk")) {
            /* the default */
        } else {
            return cli_failf(e, "%s: %s=%s is not supported with if=virtio|none (file=, id=, "
                         "format=raw|qcow2, snapshot=on|off, readonly=on|off)", e->spelled, kv, v);
        }
    }
    if (!d->file)
        return cli_failf(e, "%s %s: no file=", e->spelled, arg);
    if (!d->if_virtio && !*d->id)
        return cli_failf(e, "%s %s: if=none needs an id= for -device virtio-blk-pci,drive=ID",
                     e->spelled, arg);
    for (int i = 0; i < n; i++)
        if (*d->id && !strcmp(opt->vdrives[i].id, d->id))
            return cli_failf(e, "%s: a drive with id=%s already exists", e->spelled, d->id);
    opt->num_vdrives++;
    if (d->if_virtio) {
        CliVirtioDevice *dev = new_device(opt, CLI_VIRTIO_BLK, e);
        if (!dev)
            return -1;
        dev->drive = n;
        d->used = true;
    }
    return 0;
}

/* The properties -netdev and -nic share: id (netdev only), hostfwd, restrict, ifname,
 * script, downscript. `nic` collects model= and mac= for -nic. */
static int parse_netdev(CliOptions *opt, const char *arg, bool nic, CliVirtioDevice *dev,
                        CliError *e)
{
    if (opt->num_netdevs == CLI_MAX_NETDEVS)
        return cli_failf(e, "%s: at most %d network back ends", e->spelled, CLI_MAX_NETDEVS);
    CliNetdev *nd = &opt->netdevs[opt->num_netdevs];
    *nd = (CliNetdev){0};
    size_t len = strcspn(arg, ",");
    if (len == 4 && !strncmp(arg, "user", 4))
        nd->kind = CLI_NETDEV_USER;
    else if (len == 3 && !strncmp(arg, "tap", 3))
        nd->kind = CLI_NETDEV_TAP;
    else
        return cli_failf(e, "%s %.*s: the back ends are user (libslirp) and tap", e->spelled,
                     (int)len, arg);
    bool user = nd->kind == CLI_NETDEV_USER;
    char key[32], val[128];
    bool has, too_long = false;
    for (const char *p = arg + len + (arg[len] == ',');
         next_kv(&p, key, sizeof(key), val, sizeof(val), &has, &too_long);) {
        int b;
        if (!nic && !strcmp(key, "id") && valid_id(val)) {
            strcpy(nd->id, val);
        } else if (user && !strcmp(key, "hostfwd")) {
            if (nd->user.num_fwd == NET_MAX_HOSTFWD)
                return cli_failf(e, "%s: at most %d hostfwd=", e->spelled, NET_MAX_HOSTFWD);
            if (net_parse_hostfwd(val, &nd->user.fwd[nd->user.num_fwd], e->buf, e->size) < 0)
                return -1;
            nd->user.num_fwd++;
        } else if (user && !strcmp(key, "restrict") && (b = parse_on_off(val)) >= 0) {
            nd->user.restrict_host = b;
        } else if (!user && !strcmp(key, "ifname") && *val && strlen(val) < sizeof(nd->ifname)) {
            strcpy(nd->ifname, val);
        } else if (!user && (!strcmp(key, "script") || !strcmp(key, "downscript"))) {
            if (strcmp(val, "no"))
                return cli_failf(e, "%s: %s=%s: scripts are not run here (%s=no; set the tap "
                             "device up beforehand)", e->spelled, key, val, key);
        } else if (nic && !strcmp(key, "model")) {
            if (strcmp(val, "virtio-net-pci") && strcmp(val, "virtio"))
                return cli_failf(e, "%s: model=%s: the NIC is virtio-net-pci (no e1000, rtl8139)",
                             e->spelled, val);
        } else if (nic && !strcmp(key, "mac")) {
            if (parse_mac(val, dev->mac) < 0)
                return cli_failf(e, "%s: mac=%s: expected six hex bytes 52:54:00:12:34:56 "
                             "(unicast)", e->spelled, val);
            dev->mac_set = true;
        } else {
            return cli_failf(e, "%s %s: '%s' is not a property of %s%s", e->spelled, arg, key,
                         user ? "user" : "tap",
                         user ? " (hostfwd=, restrict=)" : " (ifname=, script=no, downscript=no)");
        }
    }
    if (too_long)
        return cli_failf(e, "%s %s: a property is too long", e->spelled, arg);
    if (!nic && !*nd->id)
        return cli_failf(e, "%s %s: needs an id=", e->spelled, arg);
    if (!user && !*nd->ifname)
        return cli_failf(e, "%s %s: tap needs ifname=", e->spelled, arg);
    for (int i = 0; i < opt->num_netdevs; i++)
        if (*nd->id && !strcmp(opt->netdevs[i].id, nd->id))
            return cli_failf(e, "%s: a netdev with id=%s already exists", e->spelled, nd->id);
    opt->num_netdevs++;
    return 0;
}

int opt_netdev(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e)
{
    (void)spec;
    return parse_netdev(opt, arg, false, NULL, e);
}

int opt_nic(CliOptions *opt, const char *arg, const CliOptionSpec *spec, CliError *e)
{
    (void)spec;
    if (!strcmp(arg, "none"))
        return 0;   /* QEMU's "no NIC": there is none by default here */
    CliVirtioDevice *dev = new_device(opt, CLI_VIRTIO_NET, e);
    if (!dev)
        return -1;
    if (parse_netdev(opt, arg, true, dev, e) < 0)
        return -1;
    dev->netdev = opt->num_netdevs - 1;
    opt->netdevs[dev->netdev].used = true;
    return 0;
}

int cli_device_virtio(CliOptions *opt, const char *arg, CliError *e)
{
    size_t len = strcspn(arg, ",");
    CliVirtioKind kind;
    if (len == 14 && !strncmp(arg, "virtio-blk-pci", 14))
        kind = CLI_VIRTIO_BLK;
    else if (len == 14 && !strncmp(arg, "virtio-net-pci", 14))
        kind = CLI_VIRTIO_NET;
    else if (len == 14 && !strncmp(arg, "virtio-rng-pci", 14))
        kind = CLI_VIRTIO_RNG;
    else
        return 1;
    CliVirtioDevice *dev = new_device(opt, kind, e);
    if (!dev)
        return -1;
    char key[32], val[64];
    bool has, too_long = false;
    for (const char *p = arg + len + (arg[len] == ',');
         next_kv(&p, key, sizeof(key), val, sizeof(val), &has, &too_long);) {
        if (kind == CLI_VIRTIO_BLK && !strcmp(key, "drive") && valid_id(val)) {
            strcpy(dev->drive_id, val);
        } else if (kind == CLI_VIRTIO_BLK && !strcmp(key, "serial") && strlen(val) <= 20) {
            strcpy(dev->serial, val);
        } else if (kind == CLI_VIRTIO_NET && !strcmp(key, "netdev") && valid_id(val)) {
            strcpy(dev->netdev_id, val);
        } else if (kind == CLI_VIRTIO_NET && !strcmp(key, "mac")) {
            if (parse_mac(val, dev->mac) < 0)
                return cli_failf(e, "%s %s: mac=%s: expected six hex bytes 52:54:00:12:34:56 "
                             "(unicast)", e->spelled, arg, val);
            dev->mac_set = true;
        } else {
            static const char *const props[] = {"drive=ID[,serial=S]", "netdev=ID[,mac=MAC]",
                                                "no properties"};
            int which = kind == CLI_VIRTIO_BLK ? 0 : kind == CLI_VIRTIO_NET ? 1 : 2;
            return cli_failf(e, "%s %s: property '%s' is not supported (%.14s takes %s)",
                         e->spelled, arg, key, arg, props[which]);
        }
    }
    if (too_long)
        return cli_failf(e, "%s %s: a property is too long", e->spelled, arg);
    if (kind == CLI_VIRTIO_BLK && !*dev->drive_id)
        return cli_failf(e, "%s %s: needs drive=ID (of a -drive id=ID,if=none,file=F)", e->spelled, arg);
    if (kind == CLI_VIRTIO_NET && !*dev->netdev_id)
        return cli_failf(e, "%s %s: needs netdev=ID (of a -netdev user|tap,id=ID)", e->spelled, arg);
    return 0;
}

int cli_check_virtio(CliOptions *opt, char *err, size_t size)
{
    unsigned nics = 0;
    for (int i = 0; i < opt->num_virtio; i++) {
        CliVirtioDevice *dev = &opt->virtio[i];
        if (dev->kind == CLI_VIRTIO_BLK && dev->drive < 0) {
            for (int k = 0; k < opt->num_vdrives && dev->drive < 0; k++)
                if (!strcmp(opt->vdrives[k].id, dev->drive_id))
                    dev->drive = k;
            if (dev->drive < 0) {
                snprintf(err, size, "-device virtio-blk-pci: no -drive with id=%s", dev->drive_id);
                return -1;
            }
            if (opt->vdrives[dev->drive].used) {
                snprintf(err, size, "-device virtio-blk-pci: drive %s is already in use",
                         dev->drive_id);
                return -1;
            }
            opt->vdrives[dev->drive].used = true;
        }
        if (dev->kind == CLI_VIRTIO_NET && dev->netdev < 0) {
            for (int k = 0; k < opt->num_netdevs && dev->netdev < 0; k++)
                if (!strcmp(opt->netdevs[k].id, dev->netdev_id))
                    dev->netdev = k;
            if (dev->netdev < 0) {
                snprintf(err, size, "-device virtio-net-pci: no -netdev with id=%s",
                         dev->netdev_id);
                return -1;
            }
            if (opt->netdevs[dev->netdev].used) {
                snprintf(err, size, "-device virtio-net-pci: netdev %s is already in use",
                         dev->netdev_id);
                return -1;
            }
            opt->netdevs[dev->netdev].used = true;
        }
        if (dev->kind == CLI_VIRTIO_NET && !dev->mac_set) {
            /* QEMU's default: 52:54:00:12:34:56, then :57, ... per NIC. */
            static const uint8_t base[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
            memcpy(dev->mac, base, 6);
            dev->mac[5] = (uint8_t)(base[5] + nics);
        }
        if (dev->kind == CLI_VIRTIO_NET)
            nics++;
    }
    for (int k = 0; k < opt->num_vdrives; k++)
        if (!opt->vdrives[k].used) {
            snprintf(err, size, "-drive id=%s,if=none: no -device virtio-blk-pci,drive=%s uses it",
                     opt->vdrives[k].id, opt->vdrives[k].id);
            return -1;
        }
    for (int k = 0; k < opt->num_netdevs; k++)
        if (!opt->netdevs[k].used) {
            snprintf(err, size, "-netdev id=%s: no -device virtio-net-pci,netdev=%s uses it",
                     opt->netdevs[k].id, opt->netdevs[k].id);
            return -1;
        }
    return 0;
}
