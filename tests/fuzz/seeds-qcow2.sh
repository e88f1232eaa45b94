#!/usr/bin/env bash
# Writes the seed inputs of fuzz_qcow2 (see its header for the input layout) into
# tests/fuzz/corpus/qcow2, from images that qemu-img and qemu-io (Debian qemu-utils) make:
# raw, qcow2 v2 and v3, 1-bit refcounts, data clusters, a raw backing file, a qcow2
# backing file, -snapshot. Each seed stays under 8 KiB. Usage: tests/fuzz/seeds-qcow2.sh
set -euo pipefail
out=$(cd "$(dirname "$0")" && pwd)/corpus/qcow2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
cd "$work"

le16() { printf "\\x$(printf %02x $(($1 & 255)))\\x$(printf %02x $(($1 >> 8 & 255)))"; }
le32() { le16 $(($1 & 65535)); le16 $(($1 >> 16 & 65535)); }
# op KIND OFFSET LENGTH: one operation (kind 0 read, 1 write, 2 flush; +128: sectors)
op() { printf "\\x$(printf %02x "$1")"; le32 "$2"; le16 $(($3 - 1)); }
# seed NAME FLAGS IMAGE BACKING OPS...: IMAGE/BACKING are files ("" for none)
seed() {
    local name=$1 flags=$2 image=$3 backing=$4
    shift 4
    {
        printf "\\x$(printf %02x "$flags")"
        le16 "$(stat -c %s "$image")"; cat "$image"
        if [ -n "$backing" ]; then le16 "$(stat -c %s "$backing")"; cat "$backing"; else le16 0; fi
        for o in "$@"; do eval "op $o"; done
    } > "$out/$name"
}

img() { qemu-img create -q -f qcow2 -o "cluster_size=512,$2" "$1" "$3"; }
io() { qemu-io -c "$2" "$1" >/dev/null; }

head -c 2048 /dev/zero | tr '\0' 'R' > raw.img
img v3.qcow2 compat=1.1 64K
img v2.qcow2 compat=0.10 64K
img rc1.qcow2 refcount_bits=1 32K
img data.qcow2 compat=1.1 64K
io data.qcow2 'write -P 0x5a 0 1k'
io data.qcow2 'write -P 0x33 8k 512'
head -c 4096 /dev/zero | tr '\0' 'B' > b
img over-raw.qcow2 "backing_file=b,backing_fmt=raw" 4K
io over-raw.qcow2 'write -P 0x77 1024 512'
mkdir q && img q/b compat=1.1 8K && io q/b 'write -P 0x11 0 512'
(cd q && img over-q.qcow2 "backing_file=b,backing_fmt=qcow2" 8K && io over-q.qcow2 'write -P 0x22 512 512')

seed raw 0 raw.img "" "0 0 512" "1 600 100" "0 512 1024" "2 0 1"
seed v3-write 0 v3.qcow2 "" "1 100 1000" "0 0 2048" "129 20 512" "2 0 1" "0 60000 5536"
seed v2-write 4 v2.qcow2 "" "1 0 512" "1 40000 3000" "0 39000 6000"
seed rc1-write 0 rc1.qcow2 "" "1 0 4096" "1 20000 1" "0 0 8192"
seed data-read 2 data.qcow2 "" "0 0 2048" "0 8000 1024" "1 0 1"
seed data-snapshot 1 data.qcow2 "" "1 512 512" "0 0 4096" "2 0 1"
seed backing-raw 0 over-raw.qcow2 b "0 0 4096" "1 2000 100" "0 1536 1024"
seed backing-qcow2 0 q/over-q.qcow2 q/b "0 0 2048" "1 1000 1000" "0 0 8192"
ls -l "$out"
