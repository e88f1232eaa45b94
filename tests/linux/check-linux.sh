#!/bin/bash
# make check-linux: Debian's i386 kernel and busybox (fetched with apt, cached; with
# DEBIAN_ARCH=amd64 the amd64 kernel and busybox, in long mode) booted on
# the sim backend to an interactive shell on the serial console, driven in a real
# terminal (a tmux pane), as a user would:
#
#   tests/linux/check-linux.sh SCRATCHVM [CACHE] [cdrom]
#
# - linux-boot: the kernel reaches the shell (the time to "Run /init" is printed);
# - linux-shell: typed commands run; line editing (cursor left, insert) works; Ctrl-C
#   stops a `sleep 100` in the guest;
# - linux-userspace: arithmetic (seq | awk) and sha256sum as on the host;
# - linux-time: `sleep 10` takes 10 s of wall time measured from the host (within 5%);
#   the guest's date is the host's (within 5 s);
# - linux-idle: an idle shell costs little host CPU (the figure is printed);
# - linux-log: the kernel log has none of "unchecked MSR", "RSDP was not found",
#   "Local APIC disabled", "unstable" (its clock, ACPI and APIC lines are printed);
# - linux-poweroff: `poweroff -f` ends scratchvm with status 0;
# - linux-reboot: with -no-reboot, `reboot -f` ends it with status 10;
# - linux-kvm: the same kernel on KVM reaches the shell and powers off, where /dev/kvm is
#   usable (skipped otherwise, and where the host's KVM cannot run it: with its error);
# - linux-cdrom: an ISO made by grub-mkrescue (GRUB on the serial console, the kernel and
#   the initramfs on the CD) boots with -cdrom through the built-in BIOS's El Torito and
#   int 13h, reaches the shell and powers off (skipped without grub-mkrescue, xorriso
#   or mtools). With the third argument `cdrom` (make check-cdrom) only this one runs;
# - virtio-blk, virtio-qcow2, virtio-net, virtio-rng, virtio-lspci: the kernel's virtio
#   modules and a scenario a boot (tests/linux/virtio.sh, which says what each checks),
#   on sim, and again on KVM (NAME-kvm) where linux-kvm passed; each skips with the
#   reason while scratchvm refuses the devices' options.
# Prints "ok NAME", "FAIL NAME: why" or "skip NAME: why", then "N passed, N failed, N
# skipped". Every wait is bounded.
set -u
SVM=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
# DEBIAN_ARCH=amd64: the same tests with Debian's amd64 kernel and busybox (long mode).
export DEBIAN_ARCH=${DEBIAN_ARCH:-i386}
CACHE=${2:-${XDG_CACHE_HOME:-$HOME/.cache}/scratchvm/debian-$DEBIAN_ARCH}
TESTS="linux-boot linux-shell linux-userspace linux-time linux-idle linux-log linux-poweroff linux-reboot linux-kvm linux-cdrom"
ONLY_CDROM=0
[ "${3:-}" = cdrom ] && ONLY_CDROM=1 TESTS=linux-cdrom
PASSED=0 FAILED=0 SKIPPED=0 ERRS=""

skip_all() {
    for t in $TESTS; do echo "skip $t: $1"; done
    echo "0 passed, 0 failed, $(echo $TESTS | wc -w) skipped"
    exit 0
}
command -v tmux >/dev/null || skip_all "tmux is not installed"
why=$("$HERE/fetch-debian.sh" "$CACHE") || skip_all "Debian's packages: $why"
[ -n "$why" ] && echo "$why"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/scratchvm-linux.XXXXXX") || exit 1
why=$("$HERE/mkinitramfs.sh" "$CACHE/busybox" "$TMP/initrd.gz") || skip_all "initramfs: $why"

unset TMUX
T() { tmux -L "scratchvm-linux-$$" -f /dev/null "$@"; }
cleanup() {
    [ -s "$TMP/pid" ] && kill -KILL "$(cat "$TMP/pid")" 2>/dev/null
    T kill-server 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT

differ() { ERRS="${ERRS:+$ERRS; }$1"; }
end() {
    if [ -z "$ERRS" ]; then echo "ok $1"; PASSED=$((PASSED + 1))
    else echo "FAIL $1: $ERRS"; FAILED=$((FAILED + 1)); fi
    ERRS=""
}
# until_true SECONDS CMD...: polls CMD every 0.1 s; 1 when it never succeeded.
until_true() {
    local end=$((SECONDS + $1))
    shift
    while [ "$SECONDS" -lt "$end" ]; do "$@" && return 0; sleep 0.1; done
    "$@"
}
log_has() { grep -qaF -- "$1" "$TMP/log"; }
log_lines() { grep -ac -- "$1" "$TMP/log"; }
# The serial output, with the terminal's carriage returns gone.
clean_log() { tr -d '\r' <"$TMP/log"; }
# run_cmd CMD MARK [SECONDS]: types CMD; echo MARK and waits for MARK on a line of its own.
run_cmd() {
    T send-keys -t lx:0 -l "$1; echo $2"
    T send-keys -t lx:0 Enter
    until_true "${3:-20}" marked "$2"
}
marked() { clean_log | grep -qx -- "$1"; }
# output_of MARK: the lines between the command line that printed MARK and MARK.
output_of() { clean_log | awk -v m="$1" '$0 ~ "echo " m "$" {on = 1; next} $0 == m {on = 0} on'; }

# [ACCEL=kvm] boot ARGS...: starts scratchvm on the cached kernel in a fresh pane (sim
# unless ACCEL says otherwise), logging its output.
boot() { boot_with "-kernel $CACHE/vmlinuz -initrd $TMP/initrd.gz -append console=ttyS0 $*"; }
# boot_with ARGS: the same with ARGS in place of the kernel's.
boot_with() {
    T kill-server 2>/dev/null
    rm -f "$TMP/log" "$TMP/pid" "$TMP/rc"
    : >"$TMP/log"
    T new-session -d -s lx -x 200 -y 50 "env PS1='$ ' sh" || return 1
    T pipe-pane -t lx:0 "cat >>$TMP/log"
    T send-keys -t lx:0 "sh -c 'echo \$\$ > $TMP/pid; exec $SVM run --accel ${ACCEL:-sim} -m 256 $1'; echo \$? > $TMP/rc" Enter
    BOOT_START=$(date +%s.%N)
}
status_is() { [ -s "$TMP/rc" ]; }
# type_and_expect_end CMD STATUS: types CMD in the guest's shell; scratchvm must then end
# within 30 s with STATUS.
type_and_expect_end() {
    T send-keys -t lx:0 -l "$1"
    T send-keys -t lx:0 Enter
    if until_true 30 status_is; then
        [ "$(cat "$TMP/rc")" = "$2" ] || differ "status $(cat "$TMP/rc") after $1, expected $2"
    else
        differ "scratchvm did not end within 30 s of $1"
    fi
}
# shell_or_end: the shell's prompt is there, or scratchvm has ended (no use waiting).
shell_or_end() { { log_has "SCRATCHVM-LINUX-UP" && log_has "svm# "; } || status_is; }

# --- GRUB from a CD (grub-mkrescue) boots the same kernel ---
check_cdrom() {
    local tool
    for tool in grub-mkrescue xorriso mformat; do
        if ! command -v $tool >/dev/null; then
            echo "skip linux-cdrom: $tool is not installed (apt-get install grub-pc-bin grub-common xorriso mtools)"
            SKIPPED=$((SKIPPED + 1))
            return
        fi
    done
    if [ ! -d /usr/lib/grub/i386-pc ]; then
        echo "skip linux-cdrom: GRUB's i386-pc modules are not installed (apt-get install grub-pc-bin)"
        SKIPPED=$((SKIPPED + 1))
        return
    fi
    mkdir -p "$TMP/iso/boot/grub"
    cp "$CACHE/vmlinuz" "$TMP/initrd.gz" "$TMP/iso/boot/"
    cat >"$TMP/iso/boot/grub/grub.cfg" <<'CFG'
serial --unit=0 --speed=115200
terminal_input serial
terminal_output serial
set timeout=0
menuentry "ScratchVM CD" {
    linux /boot/vmlinuz console=ttyS0
    initrd /boot/initrd.gz
}
CFG
    if ! grub-mkrescue -o "$TMP/linux.iso" "$TMP/iso" >"$TMP/mkrescue.log" 2>&1; then
        differ "grub-mkrescue failed: $(tail -2 "$TMP/mkrescue.log" | tr '\n' '|')"
        end linux-cdrom
        return
    fi
    boot_with "-cdrom $TMP/linux.iso"
    if until_true 300 shell_or_end && ! status_is; then
        t_up=$(awk -v s="$BOOT_START" -v n="$(date +%s.%N)" 'BEGIN { printf "%.1f", n - s }')
        echo "linux: from the CD, the shell after about ${t_up} s of wall time (sim)"
        log_has "Booting \`ScratchVM CD'" || differ "no GRUB menu entry on the serial console"
        type_and_expect_end "poweroff -f" 0
    else
        differ "no shell$(status_is && echo ": scratchvm ended with status $(cat "$TMP/rc")" || echo " within 300 s"): $(clean_log | grep -v '^\$' | tail -4 | tr '\n' '|')"
    fi
    end linux-cdrom
}
if [ "$ONLY_CDROM" = 1 ]; then
    check_cdrom
    echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
    [ "$FAILED" = 0 ]
    exit
fi

# --- boot to the shell ---
boot
if until_true 300 shell_or_end && ! status_is; then
    t_init=$(awk -v s="$BOOT_START" -v n="$(date +%s.%N)" 'BEGIN { printf "%.1f", n - s }')
    echo "linux: Run /init after about ${t_init} s of wall time (sim); $(grep -a 'Run /init' "$TMP/log" | tr -d '\r' | head -1)"
    UP=1
else
    differ "no shell$(status_is && echo ": scratchvm ended with status $(cat "$TMP/rc")" || echo " within 300 s"): $(clean_log | grep -v '^\$' | tail -4 | tr '\n' '|')"
    UP=0
fi
end linux-boot

if [ "$UP" = 1 ]; then
    # --- typed commands, line editing, Ctrl-C ---
    run_cmd "echo typed-\$((6 * 7))" M1 || differ "a typed command did not run"
    [ "$(output_of M1)" = "typed-42" ] || differ "echo printed '$(output_of M1)'"
    T send-keys -t lx:0 -l "echo abd"
    T send-keys -t lx:0 Left
    T send-keys -t lx:0 -l "c"
    T send-keys -t lx:0 End
    T send-keys -t lx:0 -l "; echo M2"
    T send-keys -t lx:0 Enter
    until_true 20 marked M2 || differ "the edited line did not run"
    clean_log | grep -qx abcd || differ "line editing: no 'abcd' in $(clean_log | tail -3 | tr '\n' '|')"
    T send-keys -t lx:0 -l "sleep 100"
    T send-keys -t lx:0 Enter
    sleep 1
    T send-keys -t lx:0 C-c
    run_cmd "echo after-ctrl-c" M3 10 || differ "Ctrl-C did not stop sleep 100"
    end linux-shell

    # --- user space computes as the host does ---
    run_cmd "seq 1 20000 | awk '{ s += \$1 } END { print s }'" M4 60 || differ "seq | awk did not finish"
    [ "$(output_of M4)" = "200010000" ] || differ "seq | awk printed '$(output_of M4)'"
    want=$(printf 'scratchvm %s\n' $(seq 1 500) | sha256sum | cut -d' ' -f1)
    run_cmd "printf 'scratchvm %s\\n' \$(seq 1 500) | sha256sum" M5 60 || differ "sha256sum did not finish"
    got=$(output_of M5 | cut -d' ' -f1)
    [ "$got" = "$want" ] || differ "sha256sum: guest $got, host $want"
    end linux-userspace

    # --- time ---
    T send-keys -t lx:0 -l "sleep 10; echo M6"
    t0=$(date +%s.%N)
    T send-keys -t lx:0 Enter
    until_true 30 marked M6 || differ "sleep 10 did not end within 30 s"
    t1=$(date +%s.%N)
    took=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
    echo "linux: sleep 10 took ${took} s of wall time"
    awk -v t="$took" 'BEGIN { exit !(t >= 9.5 && t <= 10.5) }' || differ "sleep 10 took $took s"
    run_cmd "date +%s" M7 || differ "date did not run"
    host=$(date +%s)
    guest=$(output_of M7 | tail -1)
    echo "linux: guest date $guest, host $host"
    [ -n "$guest" ] && [ $((guest - host)) -le 5 ] && [ $((host - guest)) -le 5 ] ||
        differ "guest date '$guest', host $host"
    end linux-time

    # --- an idle shell ---
    pid=$(cat "$TMP/pid")
    cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
    sleep 2
    c0=$(cpu_ticks) w0=$(date +%s.%N)
    sleep 5
    c1=$(cpu_ticks) w1=$(date +%s.%N)
    pct=$(awk -v c="$((c1 - c0))" -v hz="$(getconf CLK_TCK)" -v a="$w0" -v b="$w1" \
        'BEGIN { printf "%.1f", 100 * c / hz / (b - a) }')
    echo "linux: idle shell: ${pct}% of a host CPU"
    awk -v p="$pct" 'BEGIN { exit !(p < 20) }' || differ "an idle shell takes ${pct}% of a host CPU"
    end linux-idle

    # --- the kernel log ---
    run_cmd "dmesg | grep -E 'clocksource|ACPI: (RSDP|MADT|FADT|HPET)|IOAPIC|APIC|tsc' | head -40" M8 30
    output_of M8 | sed 's/^/linux: log: /'
    run_cmd "dmesg | grep -ciE 'unchecked MSR|RSDP was not found|Local APIC disabled|unstable'" M9 30
    bad=$(output_of M9 | tail -1)
    if [ "$bad" != 0 ]; then
        run_cmd "dmesg | grep -iE 'unchecked MSR|RSDP was not found|Local APIC disabled|unstable'" M10 30
        differ "the kernel log has: $(output_of M10 | head -5 | tr '\n' '|')"
    fi
    end linux-log

    # --- PCI: the host bridge through ACPI, the bridges through mechanism #1 ---
    n=0
    for want in 'PCI: Using configuration type 1' 'ACPI: PCI Root Bridge [PCI0]' \
        'pci 0000:00:00.0: [8086:1237]' 'pci 0000:00:01.0: [8086:7000]'; do
        n=$((n + 1))   # a mark per command: run_cmd waits for its own
        run_cmd "dmesg | grep -cF '$want'" "M11P$n" 30
        got=$(output_of "M11P$n" | tail -1)
        case $got in
        '' | *[!0-9]* | 0) differ "the kernel log lacks '$want' (count '$got')" ;;
        esac
    done
    # (short: the guest's line editor wraps a command line past 80 columns)
    run_cmd "dmesg | grep -ciE 'not support PCI|No config space'" M12 30
    [ "$(output_of M12 | tail -1)" = 0 ] ||
        differ "the kernel found no PCI config access: '$(output_of M12 | tr '\n' '|')'"
    run_cmd "ls /sys/bus/pci/devices" M13 30
    output_of M13 | sed 's/^/linux: pci: /'
    end linux-pci

    # --- poweroff ---
    type_and_expect_end "poweroff -f" 0
    end linux-poweroff
else
    for t in linux-shell linux-userspace linux-time linux-idle linux-log linux-pci linux-poweroff; do
        echo "FAIL $t: no shell"
        FAILED=$((FAILED + 1))
    done
fi

# --- reboot under -no-reboot ---
boot -no-reboot
if until_true 300 shell_or_end && ! status_is; then
    type_and_expect_end "reboot -f" 10
else
    differ "no shell (status $(cat "$TMP/rc" 2>/dev/null))"
fi
end linux-reboot

# --- the same on KVM ---
KVM_OK=0
if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
    echo "skip linux-kvm: /dev/kvm is not usable here ($(ls /dev/kvm 2>&1 | head -1))"
    SKIPPED=$((SKIPPED + 1))
else
    ACCEL=kvm boot
    if until_true 300 shell_or_end && ! status_is; then
        type_and_expect_end "poweroff -f" 0
        [ -z "$ERRS" ] && KVM_OK=1
        end linux-kvm
    elif status_is; then
        # The nested KVM of some hosts cannot run a paging guest (see the README).
        echo "skip linux-kvm: this host's KVM stopped the kernel (status $(cat "$TMP/rc")): $(clean_log | grep -a 'scratchvm: error' | head -1)"
        SKIPPED=$((SKIPPED + 1))
    else
        differ "no shell within 300 s"
        end linux-kvm
    fi
fi

# --- virtio: tests/linux/virtio.sh, its lines and counts folded into these ---
# virtio SUFFIX [ENV...]: runs it (on sim, or as ENV says); adds up its summary line.
virtio() {
    local line suffix=$1 summary=0
    shift
    while IFS= read -r line; do
        if [[ $line =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed,\ ([0-9]+)\ skipped$ ]]; then
            PASSED=$((PASSED + BASH_REMATCH[1]))
            FAILED=$((FAILED + BASH_REMATCH[2]))
            SKIPPED=$((SKIPPED + BASH_REMATCH[3]))
            summary=1
        else
            echo "$line"
        fi
    done < <(env VIRTIO_SUFFIX="$suffix" "$@" "$HERE/virtio.sh" "$SVM" "$CACHE" 2>&1)
    if [ "$summary" = 0 ]; then
        echo "FAIL virtio$suffix: tests/linux/virtio.sh ended without its summary"
        FAILED=$((FAILED + 1))
    fi
}
virtio ""
if [ "$KVM_OK" = 1 ]; then
    virtio -kvm ACCEL=kvm
else
    for t in virtio-blk virtio-qcow2 virtio-net virtio-rng virtio-lspci; do
        echo "skip $t-kvm: linux-kvm did not pass here"
        SKIPPED=$((SKIPPED + 1))
    done
fi

check_cdrom

echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
[ "$FAILED" = 0 ]
