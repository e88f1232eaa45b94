#!/bin/bash
# Builds the check-linux initramfs (a gzipped newc cpio archive) from busybox and
# tests/linux/init.
#
#   tests/linux/mkinitramfs.sh BUSYBOX OUT.cpio.gz
set -eu
BUSYBOX=$1 OUT=$2
HERE=$(cd "$(dirname "$0")" && pwd)
command -v cpio >/dev/null || { echo "cpio is not installed (Debian package cpio)"; exit 77; }
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,dev,proc,sys,root,tmp}
cp "$BUSYBOX" "$root/bin/busybox"
cp "$HERE/init" "$root/init"
chmod 755 "$root/init" "$root/bin/busybox"
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -9 >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
