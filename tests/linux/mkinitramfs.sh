#!/bin/bash
# Builds the check-linux initramfs (a gzipped newc cpio archive) from busybox and
# tests/linux/init. With MODULES (a directory of plain .ko files and their load-order, as
# fetch-debian.sh caches them), it also holds them in /lib/modules and the guest's half
# of the virtio tests (svmtest, svm-answer, udhcpc.script): /init runs a scenario of
# svmtest when the kernel's command line says svmtest=NAME.
#
#   tests/linux/mkinitramfs.sh BUSYBOX OUT.cpio.gz [MODULES]
set -eu
BUSYBOX=$1 OUT=$2 MODULES=${3:-}
HERE=$(cd "$(dirname "$0")" && pwd)
command -v cpio >/dev/null || { echo "cpio is not installed (Debian package cpio)"; exit 77; }
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,dev,proc,sys,root,tmp,etc}
cp "$BUSYBOX" "$root/bin/busybox"
cp "$HERE/init" "$root/init"
chmod 755 "$root/init" "$root/bin/busybox"
if [ -n "$MODULES" ]; then
    [ -s "$MODULES/load-order" ] || { echo "$MODULES has no load-order (tests/linux/fetch-debian.sh)"; exit 77; }
    mkdir -p "$root/lib/modules"
    cp "$MODULES/load-order" "$root/lib/modules/"
    while read -r m; do cp "$MODULES/$m" "$root/lib/modules/"; done <"$MODULES/load-order"
    cp "$HERE/svmtest" "$HERE/svm-answer" "$root/bin/"
    cp "$HERE/udhcpc.script" "$root/etc/"
    chmod 755 "$root/bin/svmtest" "$root/bin/svm-answer" "$root/etc/udhcpc.script"
fi
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -9 >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
