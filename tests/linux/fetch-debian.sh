#!/bin/bash
# Fetches Debian's i386 kernel (the package linux-image-686 depends on) and
# busybox-static:i386 with apt (DEBIAN_ARCH=amd64: linux-image-amd64's kernel and
# busybox-static:amd64), and unpacks vmlinuz, busybox and the kernel's virtio
# modules into CACHE (once: a cache that has them is used as it is). Needs root (dpkg
# --add-architecture, apt-get update); exits 77 with the reason on stdout when it cannot
# fetch vmlinuz and busybox.
#
#   tests/linux/fetch-debian.sh CACHE
#
# The modules (CACHE/modules: plain .ko files, decompressed when the package compresses
# them, and load-order: their file names, each after the modules it depends on) must come
# from the package vmlinuz came from, or the kernel refuses them: a cache with vmlinuz and
# busybox but no modules (made before they were kept) is topped up from the kernel package
# of the version it names, and vmlinuz is replaced only when apt no longer has that
# version. When the modules cannot be had, the cache keeps vmlinuz and busybox, this says
# why on stdout and exits 0: the tests that need no modules still run.
set -eu
CACHE=$1
ARCH=${DEBIAN_ARCH:-i386}
case $ARCH in
i386) META=linux-image-686 ;;
amd64) META=linux-image-amd64 ;;
*) echo "DEBIAN_ARCH=$ARCH: i386 or amd64"; exit 77 ;;
esac
# The virtio drivers issue 26 tests; the modules they depend on are added from the
# modules' own "depends=" (the package has no modules.dep: depmod makes it on install).
VIRTIO_MODULES="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
    virtio_blk failover net_failover virtio_net virtio-rng"
have_base() { [ -s "$CACHE/vmlinuz" ] && [ -s "$CACHE/busybox" ]; }
have_modules() { [ -s "$CACHE/modules/load-order" ]; }
have_base && have_modules && exit 0

# fail WHY: without vmlinuz and busybox nothing runs (77); without modules, only the
# virtio tests skip.
fail() {
    if have_base; then echo "virtio modules not cached: $1"; exit 0; fi
    echo "$1"
    exit 77
}
for tool in apt-get apt-cache dpkg dpkg-deb objcopy; do
    command -v "$tool" >/dev/null || fail "no $tool: not a Debian system with binutils"
done
if [ "$(dpkg --print-architecture)" != "$ARCH" ] &&
   ! dpkg --print-foreign-architectures | grep -qx "$ARCH"; then
    [ "$(id -u)" = 0 ] || fail "$ARCH is not a dpkg architecture here and we are not root"
    dpkg --add-architecture "$ARCH"
    apt-get update -qq
fi
kernel_package() {
    apt-cache depends "$META:$ARCH" 2>/dev/null |
        awk -v a=":$ARCH" '/Depends: linux-image-[0-9]/ { sub(a, "", $2); print $2; exit }'
}
mkdir -p "$CACHE"
work=$(mktemp -d "$CACHE/fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT
# download PACKAGE...: apt-get download as root, quietly (apt's sandbox user cannot write
# to a directory of root's).
download() {
    (cd "$work" && apt-get download -qq "$@" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
}

kernel_deb=""
if have_base && [ -s "$CACHE/packages" ]; then
    # Top-up: the kernel package vmlinuz came from, by the name and version in its .deb
    # file name (an epoch's ':' is %3a there).
    cached=$(grep -m1 '^linux-image-' "$CACHE/packages" || true)
    name=${cached%%_*}
    version=$(echo "$cached" | cut -d_ -f2 | sed 's/%3a/:/g')
    if [ -n "$cached" ]; then
        download "$name:$ARCH=$version" >/dev/null
        kernel_deb=$(ls "$work"/linux-image-*.deb 2>/dev/null | head -1)
        if [ -z "$kernel_deb" ] && [ "$(id -u)" = 0 ]; then
            apt-get update -qq
            download "$name:$ARCH=$version" >/dev/null
            kernel_deb=$(ls "$work"/linux-image-*.deb 2>/dev/null | head -1)
        fi
    fi
fi
if [ -z "$kernel_deb" ]; then
    # A fresh fetch (or apt has moved on from the cached kernel): the current packages.
    pkg=$(kernel_package)
    if [ -z "$pkg" ]; then
        [ "$(id -u)" = 0 ] && apt-get update -qq
        pkg=$(kernel_package)
    fi
    [ -n "$pkg" ] || fail "apt knows no $META:$ARCH"
    download "$pkg:$ARCH" "busybox-static:$ARCH"
    ls "$work"/linux-image-*.deb "$work"/busybox-static_*.deb >/dev/null 2>&1 ||
        fail "apt-get download of $pkg:$ARCH and busybox-static:$ARCH failed"
    kernel_deb=$(ls "$work"/linux-image-*.deb | head -1)
    dpkg-deb -x "$work"/busybox-static_*.deb "$work/b"
fi
dpkg-deb -x "$kernel_deb" "$work/k"
kdir=$(ls -d "$work"/k/lib/modules/*/kernel | head -1)
[ -d "$kdir" ] || fail "$(basename "$kernel_deb") has no lib/modules/*/kernel"

# The modules' closure under "depends=", each written out after what it depends on.
mods="$work/modules"
mkdir -p "$mods"
: >"$work/order"
# module_file NAME: the module's file (the kernel treats - and _ in names alike).
module_file() {
    find "$kdir" -regex ".*/$(echo "$1" | sed 's/[-_]/[-_]/g')\.ko\(\.xz\|\.zst\|\.gz\)?" | head -1
}
add_module() {
    local f base deps d
    f=$(module_file "$1")
    [ -n "$f" ] || fail "no module $1 in $(basename "$kernel_deb")"
    base=$(basename "$f")
    base=${base%.xz} base=${base%.zst} base=${base%.gz}
    grep -qx "$base" "$work/order" && return 0
    case $f in
    *.xz) xz -dc "$f" >"$mods/$base" ;;
    *.zst) zstd -qdc "$f" >"$mods/$base" ;;
    *.gz) gzip -dc "$f" >"$mods/$base" ;;
    *) cp "$f" "$mods/$base" ;;
    esac
    objcopy -O binary --only-section=.modinfo "$mods/$base" "$work/modinfo"
    deps=$(tr '\0' '\n' <"$work/modinfo" | sed -n 's/^depends=//p' | tr ',' ' ')
    for d in $deps; do add_module "$d"; done
    echo "$base" >>"$work/order"
}
for m in $VIRTIO_MODULES; do add_module "$m"; done

# vmlinuz from the package when the cache has none, or has another kernel's.
vmlinuz_new=$(ls "$work"/k/boot/vmlinuz-* | head -1)
if ! have_base || ! cmp -s "$vmlinuz_new" "$CACHE/vmlinuz"; then
    cp "$vmlinuz_new" "$CACHE/vmlinuz.tmp" && mv "$CACHE/vmlinuz.tmp" "$CACHE/vmlinuz"
fi
if [ -d "$work/b" ]; then
    cp "$work/b/bin/busybox" "$CACHE/busybox.tmp" && mv "$CACHE/busybox.tmp" "$CACHE/busybox"
fi
cp "$work/order" "$mods/load-order"
rm -rf "$CACHE/modules.tmp" "$CACHE/modules"
mv "$mods" "$CACHE/modules"
# packages: the .debs the cache holds files of (busybox's line kept on a top-up).
{
    basename "$kernel_deb"
    if [ -d "$work/b" ]; then basename "$work"/busybox-static_*.deb
    else grep -v '^linux-image-' "$CACHE/packages" 2>/dev/null || true; fi
} >"$work/packages"
mv "$work/packages" "$CACHE/packages"
echo "fetched: $(basename "$kernel_deb")$([ -d "$work/b" ] && echo " $(basename "$work"/busybox-static_*.deb)") (modules: $(tr '\n' ' ' <"$CACHE/modules/load-order"))"
