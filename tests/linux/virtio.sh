#!/bin/bash
# The virtio tests of issue 26: Debian's i386 kernel with an initramfs that loads its
# virtio modules (tests/linux/svmtest, the guest's half) runs one scenario a boot and
# powers off; this, the host's half, prepares the disks and servers and checks what the
# guest left behind.
#
#   tests/linux/virtio.sh VMM [CACHE]
#
# VMM is scratchvm (run on sim, or ACCEL=kvm), or `qemu` for qemu-system-i386 -accel tcg
# with the same kernel, initramfs, memory, command line and device options: the oracle
# the tests were proven on. make check-linux runs it on scratchvm.
#
# - virtio-blk: a raw image of random bytes: the guest reads the first 4 MiB with the
#   host's sha256 and the size, writes a marker at byte 5 MiB + 1000, syncs and flushes;
#   the file is then the old bytes with the marker and nothing else changed;
# - virtio-qcow2: the same on a qcow2 overlay over a raw base (qemu-img create -b): the
#   overlay converted to raw is base + marker, `qemu-img check` finds no error, the base
#   is unchanged;
# - virtio-net: DHCP from user networking, wget of a file from an HTTP server on the
#   host's 127.0.0.1 as 10.0.2.2 (its sha256 checked in the guest, the request in the
#   server's log), then a host connection to 127.0.0.1:PORT forwarded by hostfwd to the
#   guest's port 23, answered with the sha256 of the line the host sent;
# - virtio-rng: hw_random's rng_current is virtio_rng.N and /dev/hwrng gives bytes;
# - virtio-lspci: disk, NIC (-netdev/-device spelling) and entropy source at once, each
#   bound to its driver; the guest's PCI devices are printed (sysfs: busybox has no lspci).
# - linux-smp: -smp 2: the kernel brings up both processors (nproc, /proc/cpuinfo) and a
#   computation pinned to each (taskset) gives the host's answer; linux-smp-mptable: the
#   same with -no-acpi, the kernel counting the processors in the MP table.
#
# Prints "ok NAME", "FAIL NAME: why" or "skip NAME: why", then "N passed, N failed, N
# skipped". The scenarios skip, with the reason, when the modules are not cached or when
# scratchvm refuses the options (status 2, a bad command line, before the kernel ran):
# the devices may not be there yet. Every wait is bounded.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
VMM=${1:?usage: virtio.sh VMM [CACHE]}
CACHE=${2:-${XDG_CACHE_HOME:-$HOME/.cache}/scratchvm/debian-i386}
[ -n "$CACHE" ] || CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/scratchvm/debian-i386
TESTS="virtio-blk virtio-qcow2 virtio-net virtio-rng virtio-lspci linux-smp linux-smp-mptable"
SUFFIX=${VIRTIO_SUFFIX:-}
TIMEOUT=${VIRTIO_TIMEOUT:-400}   # seconds a boot may take (sim under load: ~30-60)
MARK_OFFSET=5243880 HASHED_MIB=4 DISK_MIB=8   # shared with svmtest
PASSED=0 FAILED=0 SKIPPED=0 ERRS=""

if [ "$VMM" = qemu ]; then
    WHO="QEMU TCG"
else
    VMM=$(cd "$(dirname "$VMM")" && pwd)/$(basename "$VMM")
    WHO="scratchvm (${ACCEL:-sim})"
fi
skip_all() {
    for t in $TESTS; do echo "skip $t$SUFFIX: $1"; done
    echo "0 passed, 0 failed, $(echo $TESTS | wc -w) skipped"
    exit 0
}
[ -s "$CACHE/vmlinuz" ] || skip_all "no kernel in $CACHE (tests/linux/fetch-debian.sh)"
[ -s "$CACHE/modules/load-order" ] || skip_all "no virtio modules in $CACHE (tests/linux/fetch-debian.sh tops the cache up)"
command -v python3 >/dev/null || skip_all "python3 is not installed (the host's HTTP server)"
command -v qemu-img >/dev/null || skip_all "qemu-img is not installed (Debian package qemu-utils)"
if [ "$VMM" = qemu ] && ! command -v qemu-system-i386 >/dev/null; then
    skip_all "qemu-system-i386 is not installed (Debian package qemu-system-x86)"
fi
TMP=$(mktemp -d "${TMPDIR:-/tmp}/scratchvm-virtio.XXXXXX") || exit 1
SERVER_PID=""
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null
    [ -s "$TMP/vmm.pid" ] && kill -KILL "$(cat "$TMP/vmm.pid")" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
why=$("$HERE/mkinitramfs.sh" "$CACHE/busybox" "$TMP/initrd.gz" "$CACHE/modules") ||
    skip_all "initramfs: $why"

differ() { ERRS="${ERRS:+$ERRS; }$1"; }
end() {
    if [ -z "$ERRS" ]; then echo "ok $1$SUFFIX"; PASSED=$((PASSED + 1))
    else echo "FAIL $1$SUFFIX: $ERRS"; FAILED=$((FAILED + 1)); fi
    ERRS=""
}
skip() { echo "skip $1$SUFFIX: $2"; SKIPPED=$((SKIPPED + 1)); ERRS=""; }
log() { tr -d '\r' <"$TMP/log"; }
log_has() { log | grep -qaF -- "$1"; }
sha() { sha256sum | cut -d' ' -f1; }
# A free TCP port on 127.0.0.1 (the kernel's choice; free again when this returns).
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_vm TEST APPEND DEVICE-OPTIONS...: boots the kernel with "console=ttyS0 APPEND" and
# the options, in the background, its console in $TMP/log; end_vm waits for it.
start_vm() {
    # panic=-1 and -no-reboot: a kernel that panics ends the run at once
    local test=$1 append="console=ttyS0 panic=-1 $2"
    shift 2
    rm -f "$TMP/log" "$TMP/vmm.pid" "$TMP/rc"
    if [ "$VMM" = qemu ]; then
        set -- qemu-system-i386 -accel tcg -m 256 -display none -serial stdio -monitor none \
            -no-reboot -kernel "$CACHE/vmlinuz" -initrd "$TMP/initrd.gz" -append "$append" "$@"
    else
        set -- "$VMM" run --accel "${ACCEL:-sim}" -m 256 -no-reboot -kernel "$CACHE/vmlinuz" \
            -initrd "$TMP/initrd.gz" -append "$append" "$@"
    fi
    echo "$*" >"$TMP/cmd"
    VM_START=$(date +%s.%N) VM_DEADLINE=$((SECONDS + TIMEOUT))
    (
        "$@" </dev/null >"$TMP/log" 2>&1 &
        echo $! >"$TMP/vmm.pid"
        wait $!
        echo $? >"$TMP/rc"
    ) &
    VM_SUB=$!
    until [ -s "$TMP/vmm.pid" ]; do sleep 0.05; done
}
vm_ended() { [ -s "$TMP/rc" ]; }
# wait_log TEXT SECONDS: until TEXT is in the console log (or the VMM ended); 1 if not.
wait_log() {
    local end=$((SECONDS + $2))
    while [ "$SECONDS" -lt "$end" ]; do
        log_has "$1" && return 0
        vm_ended && break
        sleep 0.2
    done
    log_has "$1"
}
# end_vm TEST: waits (bounded) for the VMM to end; 0 when the scenario passed and it ended
# with status 0, 2 when scratchvm refused its command line (skipped), 1 otherwise (the
# reason is in ERRS).
end_vm() {
    local test=$1 rc took
    while ! vm_ended && [ "$SECONDS" -lt "$VM_DEADLINE" ]; do sleep 0.2; done
    if ! vm_ended; then
        kill -KILL "$(cat "$TMP/vmm.pid")" 2>/dev/null
        wait "$VM_SUB"
        differ "no end within $TIMEOUT s: $(log | grep -v '^$' | tail -4 | tr '\n' '|')"
        return 1
    fi
    wait "$VM_SUB"
    rc=$(cat "$TMP/rc")
    took=$(awk -v s="$VM_START" -v n="$(date +%s.%N)" 'BEGIN { printf "%.1f", n - s }')
    if [ "$VMM" != qemu ] && [ "$rc" = 2 ] && ! log_has "Linux version"; then
        SKIP_WHY="scratchvm refused the options ($(grep -a -m1 -i 'error\|unknown\|only\|not supported' "$TMP/log" || head -1 "$TMP/log"))"
        return 2
    fi
    echo "virtio: $test$SUFFIX: $WHO ended with status $rc after $took s of wall time"
    log | grep -aE '^(svmtest|lspci|virtio|dmesg): ' | sed "s/^/virtio: $test$SUFFIX: /"
    if log_has "SVMTEST-PASS"; then
        [ "$rc" = 0 ] || differ "the scenario passed but the VMM ended with status $rc"
    else
        differ "$(log | grep -a -m1 'SVMTEST-FAIL' || echo "no result: $(log | grep -v '^$' | tail -4 | tr '\n' '|')")"
    fi
    [ -z "$ERRS" ]
}
# run_vm TEST APPEND OPTIONS...: start_vm and end_vm in one.
run_vm() {
    start_vm "$@"
    end_vm "$1"
}
# patched FILE MARK: FILE with MARK written at MARK_OFFSET (what the guest should leave).
patched() {
    cp "$1" "$TMP/expected"
    printf %s "$2" | dd of="$TMP/expected" bs=1 seek=$MARK_OFFSET conv=notrunc status=none
}
random_disk() { head -c $((DISK_MIB << 20)) /dev/urandom >"$1"; }
disk_params() {
    echo "svmsha=$(head -c $((HASHED_MIB << 20)) "$1" | sha) svmmark=$2 svmsize=$((DISK_MIB << 20))"
}

# --- a raw image ---
random_disk "$TMP/disk.raw"
mark="SCRATCHVM-MARK-blk-$RANDOM$RANDOM"
patched "$TMP/disk.raw" "$mark"
run_vm virtio-blk "svmtest=blk $(disk_params "$TMP/disk.raw" "$mark")" \
    -drive "file=$TMP/disk.raw,if=virtio,format=raw"
case $? in
2) skip virtio-blk "$SKIP_WHY" ;;
*)
    cmp -s "$TMP/disk.raw" "$TMP/expected" ||
        differ "the file is not the old bytes + the marker: $(cmp "$TMP/disk.raw" "$TMP/expected" 2>&1 | head -1)"
    end virtio-blk
    ;;
esac

# --- a qcow2 overlay over a raw base ---
random_disk "$TMP/base.raw"
base_sha=$(sha <"$TMP/base.raw")
mark="SCRATCHVM-MARK-qcow2-$RANDOM$RANDOM"
patched "$TMP/base.raw" "$mark"
if ! qemu-img create -q -f qcow2 -b "$TMP/base.raw" -F raw "$TMP/ov.qcow2" 2>"$TMP/qemu-img.log"; then
    differ "qemu-img create failed: $(head -2 "$TMP/qemu-img.log" | tr '\n' '|')"
    end virtio-qcow2
else
    run_vm virtio-qcow2 "svmtest=qcow2 $(disk_params "$TMP/base.raw" "$mark")" \
        -drive "file=$TMP/ov.qcow2,if=virtio,format=qcow2"
    case $? in
    2) skip virtio-qcow2 "$SKIP_WHY" ;;
    *)
        [ "$(sha <"$TMP/base.raw")" = "$base_sha" ] || differ "the base image changed"
        qemu-img check "$TMP/ov.qcow2" >"$TMP/check.log" 2>&1 ||
            differ "qemu-img check: $(tr '\n' '|' <"$TMP/check.log")"
        grep -q "No errors were found" "$TMP/check.log" || differ "qemu-img check: $(tr '\n' '|' <"$TMP/check.log")"
        echo "virtio: virtio-qcow2$SUFFIX: qemu-img check: $(grep -v '^$' "$TMP/check.log" | tr '\n' ' ')"
        if qemu-img convert -O raw "$TMP/ov.qcow2" "$TMP/ov.raw" 2>"$TMP/qemu-img.log"; then
            cmp -s "$TMP/ov.raw" "$TMP/expected" ||
                differ "the overlay is not base + the marker: $(cmp "$TMP/ov.raw" "$TMP/expected" 2>&1 | head -1)"
        else
            differ "qemu-img convert failed: $(head -2 "$TMP/qemu-img.log" | tr '\n' '|')"
        fi
        end virtio-qcow2
        ;;
    esac
fi
rm -f "$TMP"/*.raw "$TMP/expected" "$TMP/ov.qcow2"

# --- user networking: a download from the host, a connection through hostfwd ---
# start_http DIR: python3's HTTP server on 127.0.0.1, a port of the kernel's choice
# (HTTP_PORT), its log in $TMP/http.log.
start_http() {
    python3 -u -m http.server --bind 127.0.0.1 --directory "$1" 0 >"$TMP/http.log" 2>&1 &
    SERVER_PID=$!
    local end=$((SECONDS + 20))
    HTTP_PORT=""
    while [ -z "$HTTP_PORT" ] && [ "$SECONDS" -lt "$end" ]; do
        HTTP_PORT=$(sed -n 's/^Serving HTTP on .* port \([0-9]*\) .*/\1/p' "$TMP/http.log")
        [ -n "$HTTP_PORT" ] || sleep 0.1
    done
    [ -n "$HTTP_PORT" ]
}
stop_http() {
    kill "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
    SERVER_PID=""
}
# ask_guest PORT LINE: connects to 127.0.0.1:PORT, sends LINE, prints the answer's line.
ask_guest() {
    python3 - "$1" "$2" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
s.settimeout(30)
s.sendall((sys.argv[2] + "\n").encode())
data = b""
while not data.endswith(b"\n"):
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
print(data.decode(errors="replace").strip())
PY
}
mkdir -p "$TMP/www"
head -c $((1 << 20)) /dev/urandom >"$TMP/www/file"
if ! start_http "$TMP/www"; then
    differ "python3 -m http.server did not start: $(head -3 "$TMP/http.log" | tr '\n' '|')"
    end virtio-net
else
    hp=$(free_port)
    start_vm virtio-net "svmtest=net svmport=$HTTP_PORT svmsha=$(sha <"$TMP/www/file")" \
        -nic "user,hostfwd=tcp::$hp-:23,model=virtio-net-pci"
    if wait_log "SVMTEST-LISTENING" "$TIMEOUT"; then
        token="host-$RANDOM$RANDOM"
        want="svm-answer $(echo "$token" | sha)"
        answer=""
        for try in 1 2 3 4 5; do
            answer=$(ask_guest "$hp" "$token" 2>&1)
            [ "$answer" = "$want" ] && break
            sleep 1
        done
        echo "virtio: virtio-net$SUFFIX: 127.0.0.1:$hp (hostfwd to the guest's 23) answered '$answer'"
        if [ "$answer" != "$want" ]; then
            differ "hostfwd: 127.0.0.1:$hp answered '$answer', expected '$want'"
            # the guest's nc still waits for a connection: no use waiting for the end
            kill -KILL "$(cat "$TMP/vmm.pid")" 2>/dev/null
        fi
    fi
    end_vm virtio-net
    case $? in
    2) skip virtio-net "$SKIP_WHY" ;;
    *)
        grep -q '"GET /file HTTP/1.1" 200' "$TMP/http.log" ||
            differ "the host's HTTP server logged no GET /file: $(tail -2 "$TMP/http.log" | tr '\n' '|')"
        end virtio-net
        ;;
    esac
    stop_http
fi

# --- the entropy source ---
run_vm virtio-rng "svmtest=rng" -device virtio-rng-pci
case $? in
2) skip virtio-rng "$SKIP_WHY" ;;
*) end virtio-rng ;;
esac

# --- all three at once, as lspci sees them ---
head -c $((1 << 20)) /dev/zero >"$TMP/small.raw"
run_vm virtio-lspci "svmtest=lspci svmwant=1,2,4" -drive "file=$TMP/small.raw,if=virtio,format=raw" \
    -netdev user,id=n0 -device virtio-net-pci,netdev=n0 -device virtio-rng-pci
case $? in
2) skip virtio-lspci "$SKIP_WHY" ;;
*)
    end virtio-lspci
    ;;
esac

# --- SMP (issue 29): -smp 2, the same initramfs and its smp scenario ---
run_vm linux-smp "svmtest=smp svmcpus=2" -smp 2
case $? in
2) skip linux-smp "$SKIP_WHY" ;;
*) end linux-smp ;;
esac
# the same with the processors listed by the MP table instead of the MADT
run_vm linux-smp-mptable "svmtest=smp svmcpus=2" -smp 2 -no-acpi
case $? in
2) skip linux-smp-mptable "$SKIP_WHY" ;;
*)
    log_has "Processors: 2" || differ "the kernel did not count 2 processors in the MP table"
    end linux-smp-mptable
    ;;
esac

echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
[ "$FAILED" = 0 ]
