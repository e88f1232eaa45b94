#!/bin/bash
# Fetches Debian's i386 kernel (the package linux-image-686 depends on) and
# busybox-static:i386 with apt, and unpacks vmlinuz and busybox into CACHE (once: a cache
# that has them is used as it is). Needs root (dpkg --add-architecture, apt-get update);
# exits 77 with the reason on stdout when it cannot fetch.
#
#   tests/linux/fetch-debian.sh CACHE
set -eu
CACHE=$1
[ -s "$CACHE/vmlinuz" ] && [ -s "$CACHE/busybox" ] && exit 0
for tool in apt-get apt-cache dpkg dpkg-deb; do
    command -v "$tool" >/dev/null || { echo "no $tool: not a Debian system"; exit 77; }
done
if ! dpkg --print-foreign-architectures | grep -qx i386; then
    [ "$(id -u)" = 0 ] || { echo "i386 is not a dpkg architecture here and we are not root"; exit 77; }
    dpkg --add-architecture i386
    apt-get update -qq
fi
kernel_package() {
    apt-cache depends linux-image-686:i386 2>/dev/null |
        awk '/Depends: linux-image-[0-9]/ { sub(":i386", "", $2); print $2; exit }'
}
pkg=$(kernel_package)
if [ -z "$pkg" ]; then
    [ "$(id -u)" = 0 ] && apt-get update -qq
    pkg=$(kernel_package)
fi
[ -n "$pkg" ] || { echo "apt knows no linux-image-686:i386"; exit 77; }
mkdir -p "$CACHE"
work=$(mktemp -d "$CACHE/fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT
# (apt's sandbox user cannot write to a directory of root's: download as root, quietly)
(cd "$work" && apt-get download -qq "$pkg:i386" busybox-static:i386 2>&1 |
    grep -v '^W: Download is performed unsandboxed' || true)
ls "$work"/linux-image-*.deb "$work"/busybox-static_*.deb >/dev/null 2>&1 ||
    { echo "apt-get download of $pkg:i386 and busybox-static:i386 failed"; exit 77; }
dpkg-deb -x "$work"/linux-image-*.deb "$work/k"
dpkg-deb -x "$work"/busybox-static_*.deb "$work/b"
cp "$work"/k/boot/vmlinuz-* "$CACHE/vmlinuz.tmp" && mv "$CACHE/vmlinuz.tmp" "$CACHE/vmlinuz"
cp "$work/b/bin/busybox" "$CACHE/busybox.tmp" && mv "$CACHE/busybox.tmp" "$CACHE/busybox"
for f in "$work"/*.deb; do basename "$f"; done >"$CACHE/packages"
echo "fetched: $(tr '\n' ' ' <"$CACHE/packages")"
