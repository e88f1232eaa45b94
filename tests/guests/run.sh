#!/bin/bash
# Integration tests: runs the guests of GUEST_DIR through the scratchvm command and checks
# stdout (exactly, where it is deterministic), stderr and the exit status.
#
#   tests/guests/run.sh SCRATCHVM GUEST_DIR
#
# Tests that start a VM run once per backend (--accel kvm, --accel sim); a backend whose
# VM cannot be created (`demo hello` exits with 8) is skipped, each of its tests counted
# as skipped. The rest (usage errors, --help, info) run once. Prints one line per test:
# "ok NAME [accel]" or "FAIL NAME [accel]: what differed", then "N passed, N failed,
# N skipped". Exits 1 when a test failed. Every command is bounded by `timeout 10`.
set -u

if [ $# -ne 2 ]; then
    echo "usage: $0 SCRATCHVM GUEST_DIR" >&2
    exit 2
fi
SVM=$1
G=$2
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/scratchvm-tests.XXXXXX") || exit 1
# Only this shell cleans up: a subshell that gets a signal before it execs must not.
trap '[ "$BASHPID" = "$$" ] && rm -rf "$TMP"' EXIT

PASSED=0 FAILED=0 SKIPPED=0
ACCEL=""        # the backend of the current group, "" for backend-independent tests
SKIPPING=0      # 1: the backend is unusable, count tests as skipped
NAME=""

tag() { [ -n "$ACCEL" ] && printf ' [%s]' "$ACCEL"; }

# begin NAME: starts a test. When the backend is skipped, the test still goes through its
# steps, but vm/vm_in run nothing and end counts it as skipped.
begin() {
    NAME=$1
    ERRS=""
}

# differ WHAT: records a difference in the current test (checked by end).
differ() { ERRS="${ERRS:+$ERRS; }$1"; }

end() {
    if [ "$SKIPPING" = 1 ]; then
        SKIPPED=$((SKIPPED + 1))
    elif [ -z "$ERRS" ]; then
        echo "ok $NAME$(tag)"
        PASSED=$((PASSED + 1))
    else
        echo "FAIL $NAME$(tag): $ERRS"
        FAILED=$((FAILED + 1))
    fi
}

# vm ARGS...: runs scratchvm with the current backend, stdin from /dev/null (so a terminal
# never goes raw), stdout to $TMP/out, stderr to $TMP/err; status in RC.
vm() {
    RC=0
    [ "$SKIPPING" = 1 ] && return
    local accel=()
    [ -n "$ACCEL" ] && accel=(--accel "$ACCEL")
    timeout 10 "$SVM" "$1" "${accel[@]}" "${@:2}" </dev/null >"$TMP/out" 2>"$TMP/err"
    RC=$?
}

# vm_in INPUT ARGS...: the same with INPUT (printf format) on stdin.
vm_in() {
    RC=0
    [ "$SKIPPING" = 1 ] && return
    local input=$1 accel=()
    shift
    [ -n "$ACCEL" ] && accel=(--accel "$ACCEL")
    # shellcheck disable=SC2059
    printf "$input" | timeout 10 "$SVM" "$1" "${accel[@]}" "${@:2}" >"$TMP/out" 2>"$TMP/err"
    RC=$?
}

# A short, printable form of a file's start, for failure lines.
show() { head -c 120 "$1" 2>/dev/null | od -An -c | tr -s ' \n' ' ' | head -c 200; }

expect_status() { [ "$RC" = "$1" ] || differ "status $RC, expected $1 (stderr: $(show "$TMP/err"))"; }

# expect_out TEXT: stdout is exactly TEXT (printf format).
expect_out() {
    # shellcheck disable=SC2059
    printf "$1" >"$TMP/want"
    cmp -s "$TMP/want" "$TMP/out" || differ "stdout '$(show "$TMP/out")', expected '$(show "$TMP/want")'"
}

expect_no_err() { [ -s "$TMP/err" ] && differ "unexpected stderr: $(show "$TMP/err")"; return 0; }

# expect_err_has FIXED-STRING
expect_err_has() { grep -qF -- "$1" "$TMP/err" || differ "stderr lacks '$1' (stderr: $(show "$TMP/err"))"; }

# expect_usage_line: exactly one line on stderr, starting "scratchvm: ", and no stdout.
expect_one_error_line() {
    local lines
    lines=$(wc -l <"$TMP/err")
    [ "$lines" = 1 ] || differ "$lines lines on stderr, expected 1: $(show "$TMP/err")"
    head -n1 "$TMP/err" | grep -q '^scratchvm: ' || differ "stderr does not start with 'scratchvm: ': $(show "$TMP/err")"
    [ -s "$TMP/out" ] && differ "unexpected stdout: $(show "$TMP/out")"
    return 0
}

HELLO='Hello, World!\n'

# ---------------------------------------------------------------------------------------
# Tests that start a VM: once per backend.
# ---------------------------------------------------------------------------------------

t_hello() {
    begin hello
    vm run "$G/hello.bin"
    expect_status 0; expect_out "$HELLO"; expect_no_err
    end
}

t_add() {
    begin add-42
    vm run --reg rax=40 --reg rbx=2 "$G/add.bin"
    expect_status 0; expect_out '42\n'; expect_no_err
    end
    begin add-large
    vm run --reg rax=4000000000 --reg rbx=0x1194D7FF "$G/add.bin"   # 4000000000 + 294967295
    expect_status 0; expect_out '4294967295\n'
    end
    begin add-wraps-at-32-bits
    vm run --reg rax=0xffffffff --reg rbx=3 "$G/add.bin"
    expect_status 0; expect_out '2\n'
    end
    begin add-zero
    vm run "$G/add.bin"
    expect_status 0; expect_out '0\n'
    end
}

t_demo() {
    begin demo-hello
    vm demo hello
    expect_status 0; expect_out "$HELLO"; expect_no_err
    end
    begin demo-add
    vm demo add
    expect_status 0; expect_out '42\n'; expect_no_err
    end
    begin demo-add-regs
    vm demo add --reg rax=1000 --reg rbx=337
    expect_status 0; expect_out '1337\n'
    end
}

# The screen the vga guest draws, as --vga prints it (rows 0-24).
vga_screen() {
    local top bottom side blank='' i
    top="╔$(printf '═%.0s' $(seq 30))╗"
    bottom="╚$(printf '═%.0s' $(seq 30))╝"
    side="║$(printf ' %.0s' $(seq 30))║"
    printf 'ScratchVM VGA text mode test\n\n\n\n\n'
    printf '          %s\n' "$top" "$side"
    printf '          ║  Hello from 0xB8000!         ║\n'
    printf '          %s\n' "$side" "$bottom"
    for i in $(seq 10 23); do blank="$blank\n"; done
    printf "$blank"
    printf '    row 24: the last line of the screen\n'
}

t_vga() {
    begin vga-screen
    vm run --vga "$G/vga.bin"
    { printf 'cursor 03e2\n'; vga_screen; } >"$TMP/want"
    expect_status 0
    cmp -s "$TMP/want" "$TMP/out" || differ "screen differs: $(diff "$TMP/want" "$TMP/out" | head -5 | tr '\n' '|')"
    [ "$(tail -n 25 "$TMP/out" | wc -l)" = 25 ] || differ "not 25 screen lines"
    grep -q ' $' "$TMP/out" && differ "a line has trailing blanks"
    expect_no_err
    end
    begin vga-without-flag
    vm run "$G/vga.bin"
    expect_status 0; expect_out 'cursor 03e2\n'
    end
    begin vga-blank-screen         # --vga with a guest that never draws
    vm run --vga "$G/hello.bin"
    expect_status 0
    { printf "$HELLO"; for _ in $(seq 25); do echo; done; } >"$TMP/want"
    cmp -s "$TMP/want" "$TMP/out" || differ "stdout '$(show "$TMP/out")' is not hello and 25 empty lines"
    end
}

t_exitcode() {
    begin exitcode-default
    vm run "$G/exitcode.bin"
    expect_status 33; expect_out ''; expect_no_err
    end
    begin exitcode-42
    vm run --reg rax=42 "$G/exitcode.bin"
    expect_status 85; expect_out ''
    end
    begin exitcode-127
    vm run --reg rax=0x7f "$G/exitcode.bin"
    expect_status 255
    end
    begin exitcode-zero              # writing 0 is still an exit: status 1, not 0
    vm run --reg rax=0x100 "$G/exitcode.bin"
    expect_status 1
    end
    begin exitcode-wraps         # (0x80 << 1) | 1 = 0x101: the status keeps 8 bits
    vm run --reg rax=0x80 "$G/exitcode.bin"
    expect_status 1
    end
}

t_echo() {
    begin echo-stdin
    vm_in 'hi there\n' run "$G/echo.bin"
    expect_status 0; expect_out 'hi there\n'; expect_no_err
    end
    begin echo-carriage-return
    vm_in 'abc\rdef\n' run "$G/echo.bin"
    expect_status 0; expect_out 'abc\n'
    end
    begin echo-ctrl-a-from-pipe         # no terminal: Ctrl-A is data, not an escape
    vm_in 'a\001xb\n' run "$G/echo.bin"
    expect_status 0; expect_out 'a\001xb\n'
    end
    begin echo-long-line          # more than one read() of input, all kept in order
    local long
    long=$(head -c 3000 /dev/zero | tr '\0' 'x')
    vm_in "${long}\n" run "$G/echo.bin"
    expect_status 0; expect_out "${long}\n"
    end
}

t_boot() {
    begin boot-sector
    vm run --boot-sector "$G/boot.bin"
    expect_status 0; expect_out 'boot sector running at 07c0:0000\nsignature 55 aa at 0x7dfe\n'
    expect_no_err
    end
    begin boot-sector-short
    head -c 511 "$G/boot.bin" >"$TMP/short.bin"
    vm run --boot-sector "$TMP/short.bin"
    expect_status 6; expect_one_error_line; expect_err_has "512"
    end
    begin boot-sector-long
    { cat "$G/boot.bin"; printf 'x'; } >"$TMP/long.bin"
    vm run --boot-sector "$TMP/long.bin"
    expect_status 6; expect_one_error_line
    end
    begin boot-sector-bad-signature
    { head -c 510 "$G/boot.bin"; printf '\125\125'; } >"$TMP/nosig.bin"
    vm run --boot-sector "$TMP/nosig.bin"
    expect_status 6; expect_one_error_line; expect_err_has "signature"
    end
    # The same sector as a flat image at 0x7C00: --load sets the entry too.
    begin load-boot-at-7c00
    vm run --load 0x7c00 "$G/boot.bin"
    expect_status 0; expect_out 'boot sector running at 07c0:0000\nsignature 55 aa at 0x7dfe\n'
    end
    begin load-entry-boot
    vm run --load 31744 --entry 0x7c00 "$G/boot.bin"
    expect_status 0; expect_out 'boot sector running at 07c0:0000\nsignature 55 aa at 0x7dfe\n'
    end
}

ROM_OK='rom: running from the reset vector at F000:FFF0\nrom is read-only\n'

# QEMU's spellings of the same options run the same guests.
t_qemu_spellings() {
    begin qemu-style-command-line
    vm run -m 16M -serial stdio -nographic -display none -no-reboot "$G/hello.bin"
    expect_status 0; expect_out "$HELLO"; expect_no_err
    end
    begin qemu-bios
    vm run -bios "$G/rom.bin"
    expect_status 0; expect_out "$ROM_OK"; expect_no_err
    end
    begin qemu-serial-null
    vm run -serial null "$G/hello.bin"
    expect_status 0; expect_out ''
    end
}

t_rom() {
    begin rom
    vm run --rom "$G/rom.bin"
    expect_status 0; expect_out "$ROM_OK"; expect_no_err
    end
    begin rom-small-ram           # 64K of RAM: the firmware is not RAM
    vm run -m 64K --rom "$G/rom.bin"
    expect_status 0; expect_out "$ROM_OK"
    end
    begin rom-trace-reset-vector       # the first exit is the guest's first IN
    vm run --rom --trace exits "$G/rom.bin"
    vmm_trace
    expect_status 0
    head -n1 "$TMP/err" | grep -qx 'exit KVM_EXIT_IO in port=0x3fd size=1 data=0x[0-9a-f]*' ||
        differ "first exit: $(head -n1 "$TMP/err")"
    end
    begin rom-big-ram
    vm run -m 3G --rom "$G/rom.bin"
    expect_status 0; expect_out "$ROM_OK"
    end
    begin rom-256k                      # the largest firmware: rom.bin at its top
    { head -c $((192 * 1024)) /dev/zero | tr '\0' '\377'; cat "$G/rom.bin"; } >"$TMP/rom256k.bin"
    vm run --rom "$TMP/rom256k.bin"
    expect_status 0; expect_out "$ROM_OK"
    end
    begin rom-smaller-than-a-page       # 2 KiB: the top of a page, erased flash below
    vm run --rom "$G/rom2k.bin"
    expect_status 0; expect_out 'rom2k: below the image: ff\n'; expect_no_err
    end
    begin rom-smaller-than-a-page-1M
    vm run -m 1M --rom "$G/rom2k.bin"
    expect_status 0; expect_out 'rom2k: below the image: ff\n'
    end
    # Loaded as plain RAM at 0xF0000 and entered at F000:FFF0, the same image runs, and
    # its read-only check sees the write go through: the check is not vacuous.
    begin rom-as-ram-load-entry
    vm run --load 0xf0000 --entry 0xffff0 "$G/rom.bin"
    expect_status 0
    expect_out 'rom: running from the reset vector at F000:FFF0\nFAIL: a write to the rom changed it\n'
    end
    begin rom-load-without-entry       # entry = load address: F000:0000, the trap
    vm run --load 0xf0000 "$G/rom.bin"
    expect_status 0
    expect_out 'FAIL: started at offset 0 of the rom, not at the reset vector\n'
    end
}

t_strio() {
    begin string-io
    vm run "$G/strio.bin"
    expect_status 0
    expect_out 'string I/O to COM1\ninsb: ffffffffffffffff\ninsw: ffffffffffffffff\n'
    expect_err_has "port 0x1234"
    end
    begin debug-console
    vm run "$G/debugcon.bin"
    expect_status 0; expect_out 'debug console\nport e9 reads e9\n'; expect_no_err
    end
}

t_badport() {
    begin badport
    vm run "$G/badport.bin"
    expect_status 0
    expect_out '0080: ff ffff ffffffff\n1234: ff ffff ffffffff\nfffc: ff ffff ffffffff\n0000: ff ffff ffffffff\n'
    local p n
    for p in 0x0080 0x1234 0xfffc; do
        n=$(grep -c "port $p" "$TMP/err")
        [ "$n" = 1 ] || differ "$n warnings for port $p, expected 1"
    done
    n=$(grep -c '^scratchvm: warning: unhandled ' "$TMP/err")
    [ "$n" = 4 ] || differ "$n warnings, expected 4 (one per port): $(show "$TMP/err")"
    n=$(wc -l <"$TMP/err")
    [ "$n" = 4 ] || differ "$n lines on stderr, expected 4: $(show "$TMP/err")"
    end
    # The warning names port 0 like the others (0x0000), from the same run.
    begin badport-warning-port-0
    n=$(grep -c "port 0x0000" "$TMP/err")
    [ "$n" = 1 ] || differ "$n warnings name 'port 0x0000': $(grep -v 'port 0x[0-9a-f]\{4\} ' "$TMP/err" | head -n1)"
    end
}

t_beyondram() {
    begin beyondram
    vm run -m 64K "$G/beyondram.bin"
    expect_status 0; expect_out '20000: ffffffff\nafter write: ff\nram ok\n'
    expect_err_has "unhandled MMIO read at 0x20000"
    end
    begin beyondram-16M          # with 16M, 0x20000 is RAM: the write sticks
    vm run "$G/beyondram.bin"
    expect_status 0; expect_out '20000: 00000000\nafter write: 5a\nram ok\n'; expect_no_err
    end
}

t_protmode() {
    begin protmode
    vm run "$G/protmode.bin"
    if [ "$ACCEL" = kvm ] && [ "$RC" = 12 ] && grep -q "instruction emulation failed" "$TMP/err"; then
        # The nested paravirtual KVM here cannot emulate the guest's protected-mode IRET.
        echo "skip protmode [kvm]: this host's KVM cannot run it: $(head -n1 "$TMP/err")"
        SKIPPED=$((SKIPPED + 1))
        return
    fi
    expect_status 35
    expect_out 'protected mode\n#GP(0) on a null FS\n#NP(0x38) on a not-present DS\nring 3: CLI #GP, INT 0x80 switched to the ring-0 stack\ntask switch: CALL to a TSS and IRET back\nprotmode: all ok\n'
    expect_no_err
    end
}

t_paging() {
    begin paging
    vm run "$G/paging.bin"
    if [ "$ACCEL" = kvm ] && [ "$RC" = 10 ] && grep -q "triple fault" "$TMP/err"; then
        # The nested paravirtual KVM here shuts the guest down at the MOV to CR0 that sets
        # PG (RIP 0xc0 of guests/paging.s, CR0 still 0x60000011 afterwards).
        echo "skip paging [kvm]: this host's KVM cannot enable paging: $(head -n1 "$TMP/err")"
        SKIPPED=$((SKIPPED + 1))
        return
    fi
    expect_status 35
    expect_out 'paging on\n#PF(0) on a page not present, CR2 ok, retried after INVLPG\n#PF(3) on a read-only page with CR0.WP\naccessed and dirty bits set\n4 MiB page\nPAE: #PF(0x11) on a fetch from an XD page\npaging: all ok\n'
    expect_no_err
    end
}

t_triplefault() {
    begin triplefault
    vm run "$G/triplefault.bin"
    expect_status 10
    # A CPU that checks the real-mode IDT limit shuts down at int3; one that does not
    # takes the guest's protected-mode fallback, which says so.
    printf 'about to triple fault\n' >"$TMP/want1"
    printf 'about to triple fault\nreal-mode IDT limit not enforced here: faulting in protected mode\n' >"$TMP/want2"
    cmp -s "$TMP/want1" "$TMP/out" || cmp -s "$TMP/want2" "$TMP/out" ||
        differ "stdout '$(show "$TMP/out")'"
    expect_err_has "triple fault"
    expect_err_has "RIP="
    expect_err_has "CS ="
    end
}

t_max_exits() {
    begin max-exits-out-loop
    vm run --max-exits 1000 "$G/spinout.bin"
    expect_status 14; expect_out 'spinning with OUTs\n'
    expect_one_error_line_err_only
    expect_err_has "1000"
    end
    begin max-exits-1            # hello's first exit is its first IN: nothing printed
    vm run --max-exits 1 "$G/hello.bin"
    expect_status 14; expect_out ''
    end
    begin max-exits-not-reached
    vm run --max-exits 1000 "$G/hello.bin"
    expect_status 0; expect_out "$HELLO"; expect_no_err
    end
}

expect_one_error_line_err_only() {
    local lines
    lines=$(wc -l <"$TMP/err")
    [ "$lines" = 1 ] || differ "$lines lines on stderr, expected 1: $(show "$TMP/err")"
    grep -q '^scratchvm: ' "$TMP/err" || differ "stderr does not start with 'scratchvm: '"
}

t_serial() {
    begin serial-file
    rm -f "$TMP/serial.txt"
    vm run --serial "file:$TMP/serial.txt" "$G/hello.bin"
    expect_status 0; expect_out ''; expect_no_err
    printf "$HELLO" >"$TMP/want"
    cmp -s "$TMP/want" "$TMP/serial.txt" || differ "file holds '$(show "$TMP/serial.txt")'"
    end
    begin serial-file-truncates
    printf 'old contents that are longer than the greeting\n' >"$TMP/serial.txt"
    vm run --serial "file:$TMP/serial.txt" "$G/hello.bin"
    expect_status 0
    cmp -s "$TMP/want" "$TMP/serial.txt" || differ "file holds '$(show "$TMP/serial.txt")'"
    end
    begin serial-file-bad-path
    vm run --serial "file:$TMP/no/such/dir/out" "$G/hello.bin"
    expect_status 2; expect_one_error_line
    end
    begin serial-none
    vm run --serial none "$G/hello.bin"
    expect_status 0; expect_out ''; expect_no_err
    end
    begin serial-none-vga        # --vga still prints the screen
    vm run --serial none --vga "$G/vga.bin"
    vga_screen >"$TMP/want"
    expect_status 0
    cmp -s "$TMP/want" "$TMP/out" || differ "screen differs"
    end
}

# The VMM's part of each trace line: on sim a line starts with the VMX exit as the VMCS
# holds it ("exit 30 IO_INSTRUCTION qual=0x3f80000 -> KVM_EXIT_IO ..."); this leaves what
# both backends print ("exit KVM_EXIT_IO ...") in $TMP/err, the whole line in $TMP/err.vmx.
vmm_trace() {
    cp "$TMP/err" "$TMP/err.vmx"
    [ "$ACCEL" = sim ] || return 0
    grep '^exit ' "$TMP/err.vmx" | grep -vE '^exit [0-9]+ [A-Z_]+( gpa=0x[0-9a-f]+)? qual=0x[0-9a-f]+ -> KVM_EXIT_' |
        grep -q . && differ "sim trace lines without the VMX exit: $(grep -m1 '^exit KVM' "$TMP/err.vmx")"
    sed -E 's/^exit [0-9]+ [A-Z_]+( gpa=0x[0-9a-f]+)? qual=0x[0-9a-f]+ -> /exit /' "$TMP/err.vmx" > "$TMP/err"
}

# On sim, a whole trace line (VMX exit and all) must be there.
expect_vmx_line() {
    [ "$ACCEL" = sim ] || return 0
    grep -qxF -- "$1" "$TMP/err.vmx" || differ "trace lacks '$1'"
}

t_trace() {
    begin trace-exits
    vm run --trace exits "$G/hello.bin"
    vmm_trace
    expect_status 0; expect_out "$HELLO"
    expect_vmx_line "exit 30 IO_INSTRUCTION qual=0x3f80000 -> KVM_EXIT_IO out port=0x3f8 size=1 data=0x48"
    expect_vmx_line "exit 30 IO_INSTRUCTION qual=0x3fd0008 -> KVM_EXIT_IO in port=0x3fd size=1 data=0x60"
    expect_vmx_line "exit 12 HLT qual=0x0 -> KVM_EXIT_HLT"
    expect_err_has "exit KVM_EXIT_IO out port=0x3f8 size=1 data=0x48"
    [ "$(tail -n1 "$TMP/err")" = "exit KVM_EXIT_HLT" ] ||
        differ "last trace line '$(tail -n1 "$TMP/err")'"
    local outs
    outs=$(grep -c '^exit KVM_EXIT_IO out port=0x3f8 size=1 data=0x' "$TMP/err")
    [ "$outs" = 14 ] || differ "$outs OUTs to 0x3f8, expected 14"
    grep -v '^exit KVM_EXIT_' "$TMP/err" | grep -q . && differ "stderr has non-trace lines"
    end
    begin trace-port-in-data       # an IN shows the data the VMM answered
    vm run --trace exits "$G/badport.bin"
    vmm_trace
    expect_vmx_line "exit 30 IO_INSTRUCTION qual=0x1234000b -> KVM_EXIT_IO in port=0x1234 size=4 data=0xffffffff"
    expect_err_has "exit KVM_EXIT_IO in port=0x1234 size=4 data=0xffffffff"
    expect_err_has "exit KVM_EXIT_IO out port=0x80 size=2 data=0x1234"
    end
    begin trace-mmio
    vm run -m 64K --trace exits "$G/beyondram.bin"
    vmm_trace
    # EPT violation qualification (SDM Vol. 3C, Table 28-7): read 0x1 / write 0x2, nothing
    # mapped (bits 5:3 clear), guest-linear address valid (bit 7), final translation (bit 8).
    expect_vmx_line "exit 48 EPT_VIOLATION gpa=0x20000 qual=0x181 -> KVM_EXIT_MMIO read addr=0x20000 len=4 data=0xffffffff"
    expect_vmx_line "exit 48 EPT_VIOLATION gpa=0x20000 qual=0x182 -> KVM_EXIT_MMIO write addr=0x20000 len=1 data=0x5a"
    expect_err_has "exit KVM_EXIT_MMIO read addr=0x20000 len=4 data=0xffffffff"
    expect_err_has "exit KVM_EXIT_MMIO write addr=0x20000 len=1 data=0x5a"
    end
}

t_load_errors() {
    begin load-past-ram
    vm run -m 64K --load 0xff00 "$G/boot.bin"
    expect_status 6; expect_one_error_line
    end
    begin image-exactly-ram-size        # 64 KiB into 64 KiB: fits (the rom's trap runs)
    vm run -m 64K "$G/rom.bin"
    expect_status 0
    expect_out 'FAIL: started at offset 0 of the rom, not at the reset vector\n'
    end
    begin entry-in-unbacked-memory      # code fetch where no RAM is: a defined failure
    vm run -m 64K --entry 0x20000 "$G/hello.bin"
    expect_status 12; expect_out ''
    grep -q '^scratchvm: ' "$TMP/err" || differ "no message on stderr"
    end
    begin load-in-vga-hole
    vm run --load 0xa0000 "$G/hello.bin"
    expect_status 6; expect_one_error_line
    end
}

# wait_for FILE TEXT: up to 10 s for FILE to contain TEXT.
wait_for() {
    local i
    for i in $(seq 100); do
        grep -qF -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# signal_test NAME SIGNAL STATUS GUEST TEXT [STDIN]: starts GUEST (stdin from STDIN,
# default /dev/null), waits until it printed TEXT, sends SIGNAL, expects STATUS within 5 s.
signal_test() {
    begin "$1"
    if [ "$SKIPPING" = 1 ]; then end; return; fi
    local accel=() pid i
    [ -n "$ACCEL" ] && accel=(--accel "$ACCEL")
    # The child truncates out only after the fork: clear it here, or wait_for could see
    # the previous test's text and signal the child before it became scratchvm.
    rm -f "$TMP/out"
    "$SVM" run "${accel[@]}" "$4" <"${6:-/dev/null}" >"$TMP/out" 2>"$TMP/err" &
    pid=$!
    if ! wait_for "$TMP/out" "$5"; then
        differ "the guest did not print '$5'"
    fi
    kill -s "$2" "$pid" 2>/dev/null
    for i in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        differ "still running 5 s after SIG$2"
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid"
    RC=$?
    expect_status "$3"
    end
}

# SIGTERM while the echo guest waits for input that never ends (stdin an open FIFO).
t_signal_open_stdin() {
    begin sigterm-echo-open-stdin
    if [ "$SKIPPING" = 1 ]; then end; return; fi
    local accel=() pid i
    [ -n "$ACCEL" ] && accel=(--accel "$ACCEL")
    rm -f "$TMP/fifo"
    mkfifo "$TMP/fifo"
    exec 7<>"$TMP/fifo"
    rm -f "$TMP/out"
    "$SVM" run "${accel[@]}" "$G/echo.bin" <"$TMP/fifo" >"$TMP/out" 2>"$TMP/err" &
    pid=$!
    printf 'ab' >&7
    wait_for "$TMP/out" ab || differ "the guest did not echo 'ab'"
    kill -TERM "$pid"
    for i in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        differ "still running 5 s after SIGTERM"
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid"
    RC=$?
    exec 7>&-
    expect_status 143; expect_out 'ab'
    end
}

t_signals() {
    signal_test sigterm-spin TERM 143 "$G/spin.bin" spinning
    signal_test sigint-spin INT 130 "$G/spin.bin" spinning
    signal_test sighup-spin HUP 129 "$G/spin.bin" spinning
    signal_test sigterm-spinout TERM 143 "$G/spinout.bin" spinning
    # More input than the UART queue holds, which the guest never reads.
    head -c 10000 /dev/zero >"$TMP/big-input"
    signal_test sigterm-unread-input TERM 143 "$G/spin.bin" spinning "$TMP/big-input"
    t_signal_open_stdin
}

t_terminal() {
    local name
    if [ "$SKIPPING" = 1 ]; then
        for name in $("$HERE/terminal.sh" --list); do begin "$name"; end; done
        return
    fi
    # terminal.sh prints ok/FAIL/skip lines and its own count line last; without that
    # line (it was killed) its tests count as failed.
    local line p f s counted=0
    while IFS= read -r line; do
        case $line in
        *" passed, "*" failed, "*" skipped")
            read -r p _ f _ s _ <<<"$line"
            PASSED=$((PASSED + p)); FAILED=$((FAILED + f)); SKIPPED=$((SKIPPED + s))
            counted=1 ;;
        *) echo "$line" ;;
        esac
    done < <(timeout 120 "$HERE/terminal.sh" "$SVM" "$G" "$ACCEL")
    if [ "$counted" = 0 ]; then
        echo "FAIL terminal.sh$(tag): did not finish within 120 s"
        FAILED=$((FAILED + $("$HERE/terminal.sh" --list | wc -l)))
    fi
}

# The monitor on a Unix socket, driven by a real client (MONITOR_CLIENT, built by make):
# -S keeps the guest from running; a first connection asks info status, xp and info
# registers and hangs up; a second one continues the VM, stops it and quits. The answers
# are plain text: no prompt, no echo, no terminal escapes.
t_monitor_socket() {
    begin monitor-socket
    if [ "$SKIPPING" = 1 ]; then end; return; fi
    if [ ! -x "${MONITOR_CLIENT:-}" ]; then
        differ "MONITOR_CLIENT is not set (run through make integration)"; end; return
    fi
    local accel=() sock="$TMP/mon.sock" pid want b
    [ -n "$ACCEL" ] && accel=(--accel "$ACCEL")
    rm -f "$sock" "$TMP/out"
    timeout 20 "$SVM" run "${accel[@]}" -S --monitor "unix:$sock" "$G/spinout.bin" \
        </dev/null >"$TMP/out" 2>"$TMP/err" &
    pid=$!
    printf 'info status\nxp /8xb 0\ninfo registers\n' |
        timeout 10 "$MONITOR_CLIENT" "$sock" >"$TMP/mon1" 2>&1
    [ -s "$TMP/out" ] && differ "the guest ran before cont: $(show "$TMP/out")"
    want='0000000000000000:'
    for b in $(od -An -v -tx1 -N8 "$G/spinout.bin"); do want="$want 0x$b"; done
    [ "$(sed -n 1p "$TMP/mon1")" = "VM status: paused" ] || differ "first answer: $(show "$TMP/mon1")"
    [ "$(sed -n 2p "$TMP/mon1")" = "$want" ] || differ "xp answered '$(sed -n 2p "$TMP/mon1")', expected '$want'"
    grep -qxF 'EIP=00000000 EFL=00000002 [-------] CPL=0 II=0 A20=1 SMM=0 HLT=0' "$TMP/mon1" ||
        differ "info registers lacks the start state: $(show "$TMP/mon1")"
    grep -qxF 'CS =0000 00000000 0000ffff 00009b00' "$TMP/mon1" || differ "info registers lacks CS"
    [ "$(wc -l <"$TMP/mon1")" = 19 ] || differ "$(wc -l <"$TMP/mon1") lines on the first connection, expected 19"
    { printf 'cont\n'; sleep 0.3; printf 'info status\nstop\ninfo status\ninfo registers\ninfo exits\nquit\n'; } |
        timeout 10 "$MONITOR_CLIENT" "$sock" >"$TMP/mon2" 2>&1
    wait "$pid"
    RC=$?
    expect_status 0
    [ "$(sed -n 1p "$TMP/mon2")" = "VM status: running" ] || differ "after cont: $(show "$TMP/mon2")"
    [ "$(sed -n 2p "$TMP/mon2")" = "VM status: paused" ] || differ "after stop: $(show "$TMP/mon2")"
    grep -qE '^EIP=0000[0-9a-f]{4} EFL=' "$TMP/mon2" || differ "no registers after stop"
    grep -qE '^ +IO(_INSTRUCTION)? +[0-9]+ ' "$TMP/mon2" || differ "info exits has no I/O row"
    grep -q "$(printf '\033')" "$TMP/mon1" "$TMP/mon2" && differ "terminal escapes in the answers"
    grep -qF '(scratchvm)' "$TMP/mon1" "$TMP/mon2" && differ "a prompt in the socket's answers"
    grep -qx 'spinning with OUTs' "$TMP/out" || differ "the guest did not run after cont: $(show "$TMP/out")"
    [ -e "$sock" ] && differ "the socket was left behind"
    end
}

# The monitor on stdio from a pipe: commands from stdin; with -serial mon:stdio the
# serial port first, Ctrl-A c switches to the monitor, Ctrl-A x quits.
t_monitor_stdio() {
    begin monitor-stdio-paused
    vm_in 'info status\nx /2xb 0\nquit\n' run -S --monitor stdio --serial none "$G/hello.bin"
    expect_status 0; expect_no_err
    grep -qF '(scratchvm) VM status: paused' "$TMP/out" || differ "no paused status: $(show "$TMP/out")"
    grep -qF '(scratchvm) 0000000000000000: 0x' "$TMP/out" || differ "no x answer: $(show "$TMP/out")"
    end
    begin monitor-stdio-ctrl-a-c
    if [ "$SKIPPING" = 0 ]; then
        # The keys come once the guest has started (a pipe is read at once).
        { sleep 0.5; printf 'typed\001cinfo status\nfoo\n\001x'; } |
            timeout 10 "$SVM" run --accel "$ACCEL" -serial mon:stdio "$G/spin.bin" >"$TMP/out" 2>"$TMP/err"
        RC=$?
    fi
    expect_status 0; expect_no_err
    grep -qx 'spinning' "$TMP/out" || differ "the guest did not run: $(show "$TMP/out")"
    grep -qF '(scratchvm) VM status: running' "$TMP/out" || differ "no status: $(show "$TMP/out")"
    grep -qF "(scratchvm) unknown command: 'foo'" "$TMP/out" || differ "no unknown-command line"
    end
}

# wait_for FILE TEXT: up to 10 s for TEXT to appear in FILE.
wait_for() {
    local i
    for i in $(seq 100); do grep -qF -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
    return 1
}

# With a monitor (or -no-shutdown) the VMM outlives the guest: the vCPU stops, the monitor
# inspects it, quit ends the VMM with the status of how the guest ended.
t_monitor_survives() {
    begin monitor-survives-halt-qemu-style
    if [ "$SKIPPING" = 1 ]; then end; return; fi
    local sock="$TMP/m.sock" pid
    rm -f "$sock"
    timeout 20 "$SVM" run -accel "$ACCEL" -m 16M -serial stdio -monitor "unix:$sock" \
        -no-shutdown "$G/hello.bin" </dev/null >"$TMP/out" 2>"$TMP/err" &
    pid=$!
    wait_for "$TMP/err" "the guest halted; the vCPU is stopped" || differ "no stop note: $(show "$TMP/err")"
    kill -0 "$pid" 2>/dev/null || differ "the VMM ended with the guest"
    printf 'info status\ninfo cpus\ninfo registers\nquit\n' | timeout 10 "$MONITOR_CLIENT" "$sock" >"$TMP/mon" 2>&1
    wait "$pid"
    RC=$?
    expect_status 0; expect_out "$HELLO"
    [ "$(sed -n 1p "$TMP/mon")" = "VM status: paused (halted)" ] || differ "status: $(show "$TMP/mon")"
    sed -n 2p "$TMP/mon" | grep -q '^\* CPU #0: pc=0x[0-9a-f]* (halted) thread_id=' ||
        differ "info cpus: $(sed -n 2p "$TMP/mon")"
    grep -qE '^EIP=0000[0-9a-f]{4} .* HLT=1$' "$TMP/mon" || differ "no halted registers: $(show "$TMP/mon")"
    end

    begin monitor-survives-triple-fault
    rm -f "$sock"
    timeout 20 "$SVM" run -accel "$ACCEL" -monitor "unix:$sock" "$G/triplefault.bin" \
        </dev/null >"$TMP/out" 2>"$TMP/err" &
    pid=$!
    wait_for "$TMP/err" "the guest triple-faulted; the vCPU is stopped" || differ "no stop note: $(show "$TMP/err")"
    printf 'info status\nquit\n' | timeout 10 "$MONITOR_CLIENT" "$sock" >"$TMP/mon" 2>&1
    wait "$pid"
    RC=$?
    expect_status 10
    [ "$(sed -n 1p "$TMP/mon")" = "VM status: paused (shutdown)" ] || differ "status: $(show "$TMP/mon")"
    end

    # An internal error (sim: an x87 instruction, which the model does not have; KVM runs
    # it and halts, so this one is the sim's).
    if [ "$ACCEL" != sim ]; then
        echo "skip monitor-survives-internal-error$(tag): KVM executes x87 instructions"
        SKIPPED=$((SKIPPED + 1))
    else
        begin monitor-survives-internal-error
        printf '\330\300\364' >"$TMP/fpu.bin"   # fadd %st(0),%st; hlt
        rm -f "$sock"
        timeout 20 "$SVM" run -accel sim -monitor "unix:$sock" "$TMP/fpu.bin" \
            </dev/null >"$TMP/out" 2>"$TMP/err" &
        pid=$!
        wait_for "$TMP/err" "the guest hit an internal error; the vCPU is stopped" ||
            differ "no stop note: $(show "$TMP/err")"
        printf 'info status\nquit\n' | timeout 10 "$MONITOR_CLIENT" "$sock" >"$TMP/mon" 2>&1
        wait "$pid"
        RC=$?
        expect_status 12
        [ "$(sed -n 1p "$TMP/mon")" = "VM status: paused (internal-error)" ] ||
            differ "status: $(show "$TMP/mon")"
        end
    fi

    # -monitor stdio from a pipe reads commands, as QEMU does; they come once the guest ended.
    begin monitor-stdio-pipe-after-triple-fault
    rm -f "$TMP/err"
    { wait_for "$TMP/err" "the vCPU is stopped"; printf 'info status\nquit\n'; } |
        timeout 20 "$SVM" run -accel "$ACCEL" -monitor stdio "$G/triplefault.bin" >"$TMP/out" 2>"$TMP/err"
    RC=$?
    expect_status 10
    grep -qF 'VM status: paused (shutdown)' "$TMP/out" || differ "no status: $(tail -c 100 "$TMP/out")"
    end

    # -no-shutdown with nothing left to send a command: the VMM says so and ends.
    begin no-shutdown-without-input
    vm run -no-shutdown "$G/hello.bin"
    expect_status 0; expect_out "$HELLO"
    expect_err_has "the guest halted; the vCPU is stopped (-no-shutdown)"
    expect_err_has "no monitor input is left: ending"
    end
}

t_trace_stats() {
    begin trace-stats
    vm run --trace stats "$G/hello.bin"
    expect_status 0; expect_out "$HELLO"
    expect_err_has "             VM-EXIT    Samples  Samples%     Time%    Min Time    Max Time         Avg time"
    # hello makes 28 port accesses: 14 OUTs and 14 status reads
    grep -qE '^ +IO(_INSTRUCTION)? +28 +96\.55% ' "$TMP/err" || differ "no I/O row: $(show "$TMP/err")"
    grep -qE '^ +HLT +1 ' "$TMP/err" || differ "no HLT row"
    expect_err_has "Total Samples:"
    grep -q '^exit ' "$TMP/err" && differ "trace lines without --trace exits"
    end
    begin trace-exits-stats
    vm run --trace exits,stats "$G/hello.bin"
    expect_status 0
    grep -q '^exit ' "$TMP/err" || differ "no trace lines"
    expect_err_has "Total Samples:"
    end
}

# The reproducers of issue 15 (hostile testing): t_hostile.
# shellcheck source=tests/guests/hostile.sh
. "$HERE/hostile.sh"

backend_tests() {
    t_hello; t_add; t_demo; t_qemu_spellings; t_vga; t_exitcode; t_echo; t_boot; t_rom; t_strio; t_badport
    t_beyondram; t_triplefault; t_protmode; t_paging; t_max_exits; t_serial; t_trace; t_load_errors; t_signals
    t_monitor_socket; t_monitor_stdio; t_monitor_survives; t_trace_stats; t_terminal
    t_hostile
}

for ACCEL in kvm sim; do
    SKIPPING=0
    timeout 10 "$SVM" demo hello --accel "$ACCEL" --serial none </dev/null >/dev/null 2>"$TMP/probe"
    if [ $? = 8 ]; then
        echo "skip [$ACCEL]: $(head -n1 "$TMP/probe")"
        SKIPPING=1
    fi
    backend_tests
done
ACCEL=""
SKIPPING=0

# --accel auto on a machine without KVM (SCRATCHVM_KVM_DEVICE stands for /dev/kvm): the
# software backend runs the guest, and the VMM says so once on stderr.
begin accel-auto-without-kvm
SCRATCHVM_KVM_DEVICE=/nonexistent timeout 10 "$SVM" run "$G/hello.bin" </dev/null >"$TMP/out" 2>"$TMP/err"
RC=$?
expect_status 0; expect_out "$HELLO"
[ "$(wc -l <"$TMP/err")" = 1 ] || differ "stderr has $(wc -l <"$TMP/err") lines, expected the one warning"
expect_err_has "KVM is not usable (/nonexistent: No such file or directory): using the software backend"
end
begin accel-kvm-without-kvm
SCRATCHVM_KVM_DEVICE=/nonexistent timeout 10 "$SVM" run --accel kvm "$G/hello.bin" </dev/null >"$TMP/out" 2>"$TMP/err"
RC=$?
expect_status 8; expect_one_error_line
expect_err_has "/nonexistent: No such file or directory"
end

# ---------------------------------------------------------------------------------------
# Tests that need no VM: the command line, --help, --version, info.
# ---------------------------------------------------------------------------------------

# [SAYS=TEXT] usage NAME STATUS ARGS...: scratchvm ARGS exits with STATUS and one line on
# stderr (which contains TEXT).
usage() {
    local name=$1 status=$2
    shift 2
    begin "$name"
    timeout 10 "$SVM" "$@" </dev/null >"$TMP/out" 2>"$TMP/err"
    RC=$?
    expect_status "$status"; expect_one_error_line
    [ -n "${SAYS:-}" ] && expect_err_has "$SAYS"
    end
}

printf 'x%.0s' $(seq 65537) >"$TMP/big65537.bin"
head -c $((256 * 1024 + 1)) /dev/zero >"$TMP/rom-too-big.bin"
: >"$TMP/empty.bin"
usage no-command 2
usage unknown-command 2 frobnicate
usage unknown-option 2 run --bogus "$G/hello.bin"
usage missing-argument 2 run "$G/hello.bin" --load
usage missing-argument-short 2 run "$G/hello.bin" -m

# The message names the argument at fault.
SAYS="'-Zq'" usage unknown-short-option-in-group 2 run -Zq "$G/hello.bin"
SAYS="'-Zq'" usage unknown-short-option-after-file 2 run "$G/hello.bin" -Zq
# QEMU's options that scratchvm does not have are named whole, never split into letters.
SAYS="unknown option '-hda'" usage qemu-option-unknown 2 run -hda "$G/hello.bin"
SAYS="-monitor needs an argument" usage qemu-monitor-no-argument 2 run "$G/hello.bin" -monitor
SAYS="-monitor onitor" usage qemu-monitor-not-m 2 run -monitor onitor "$G/hello.bin"
SAYS="-m 1T: too large: guest RAM is at most 3G" usage memory-1T 2 run -m 1T "$G/hello.bin"
SAYS="out of range" usage register-out-of-range 2 run --reg rax=0x1ffffffffffffffff "$G/hello.bin"
SAYS="--vga" usage long-option-with-argument 2 run --vga=1 "$G/hello.bin"
SAYS="'--bogus'" usage unknown-long-option-named 2 run --bogus "$G/hello.bin"
SAYS="-m" usage missing-argument-named 2 run "$G/hello.bin" -m
usage run-without-file 2 run
usage run-two-files 2 run "$G/hello.bin" "$G/add.bin"
usage unknown-demo 2 demo nosuch
usage bad-memory-suffix 2 run -m 12Q "$G/hello.bin"
usage memory-too-small 2 run -m 32K "$G/hello.bin"
usage memory-too-large 2 run -m 4G "$G/hello.bin"
usage memory-not-pages 2 run -m 65537K "$G/hello.bin"
usage memory-negative 2 run -m -1 "$G/hello.bin"
usage unknown-register 2 run --reg xyz=1 "$G/hello.bin"
usage register-not-a-number 2 run --reg rax=12abc "$G/hello.bin"
usage register-without-value 2 run --reg rax "$G/hello.bin"
usage bad-load-address 2 run --load nowhere "$G/hello.bin"
usage entry-above-1M 2 run --entry 0x100000 "$G/hello.bin"
usage load-above-1M-without-entry 2 run --load 0x200000 "$G/hello.bin"
usage boot-sector-with-load 2 run --boot-sector --load 0x1000 "$G/boot.bin"
usage boot-sector-with-entry 2 run --boot-sector --entry 0x1000 "$G/boot.bin"
usage rom-with-load 2 run --rom --load 0x1000 "$G/rom.bin"
usage demo-with-rom 2 demo hello --rom
usage bad-serial 2 run --serial tcp:1234 "$G/hello.bin"
usage serial-file-empty-path 2 run --serial file: "$G/hello.bin"
usage bad-accel 2 run --accel xen "$G/hello.bin"
usage bad-trace 2 run --trace everything "$G/hello.bin"
usage bad-monitor 2 run --monitor tcp:1234 "$G/hello.bin"
usage monitor-unix-empty-path 2 run --monitor unix: "$G/hello.bin"
SAYS="--monitor" usage paused-without-monitor 2 run -S "$G/hello.bin"
usage max-exits-zero 2 run --max-exits 0 "$G/hello.bin"
usage info-with-argument 2 info extra
# -accel tcg is QEMU's software CPU: the sim backend here.
begin qemu-accel-tcg
timeout 10 "$SVM" run -accel tcg --trace exits "$G/hello.bin" </dev/null >"$TMP/out" 2>"$TMP/err"
RC=$?
expect_status 0; expect_out "$HELLO"; expect_err_has "exit 30 IO_INSTRUCTION"
end
usage missing-file 4 run "$TMP/no-such-file.bin"
usage file-is-directory 4 run "$TMP"
usage empty-file 6 run "$TMP/empty.bin"
SAYS="too large: 65537 bytes, more than the guest RAM (65536 bytes)" usage image-larger-than-ram 6 run -m 64K "$TMP/big65537.bin"
# A FIFO, a device or a sparse giant is refused from stat(), before anything is read:
# a FIFO with no writer would otherwise block, /dev/zero never end.
mkfifo "$TMP/fifo-image"
SAYS="not a regular file" usage image-is-fifo 4 run "$TMP/fifo-image"
SAYS="not a regular file" usage image-is-device 4 run /dev/zero
truncate -s 1T "$TMP/sparse-1T.bin"
SAYS="too large: 1099511627776 bytes" usage image-sparse-1T 6 run "$TMP/sparse-1T.bin"
usage rom-too-large 6 run --rom "$TMP/rom-too-big.bin"

begin help
timeout 10 "$SVM" --help </dev/null >"$TMP/out" 2>"$TMP/err"
RC=$?
expect_status 0; expect_no_err
for opt in -m --memory --load --entry --boot-sector --rom --reg --serial --vga --trace \
           --accel --max-exits --monitor --paused -S 'Ctrl-A c' --help --version run demo info; do
    grep -qe "$opt" "$TMP/out" || differ "--help does not mention $opt"
done
end

begin run-help
timeout 10 "$SVM" run --help </dev/null >"$TMP/out2" 2>"$TMP/err"
RC=$?
expect_status 0; expect_no_err
cmp -s "$TMP/out" "$TMP/out2" || differ "run --help differs from --help"
end

begin version
timeout 10 "$SVM" --version </dev/null >"$TMP/out" 2>"$TMP/err"
RC=$?
expect_status 0; expect_no_err
grep -qxE 'scratchvm [0-9]+\.[0-9]+\.[0-9]+' "$TMP/out" || differ "version line '$(show "$TMP/out")'"
[ "$(wc -l <"$TMP/out")" = 1 ] || differ "more than one line"
end

begin info
timeout 10 "$SVM" info </dev/null >"$TMP/out" 2>"$TMP/err"
RC=$?
expect_status 0; expect_no_err
grep -qE '^NAME +TYPE +VENDOR +DESCRIPTION' "$TMP/out" || differ "no hypervisor table header"
grep -qE '^KVM +Hybrid ' "$TMP/out" || differ "no KVM row in the table"
grep -qE '^QEMU \(TCG\) +Type 2 ' "$TMP/out" || differ "no QEMU row in the table"
grep -qx 'KVM' "$TMP/out" || differ "no KVM section"
grep -qE '^  /dev/kvm +' "$TMP/out" || differ "KVM section lacks /dev/kvm"
grep -qx 'CPU' "$TMP/out" || differ "no CPU section"
end

echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
[ "$FAILED" = 0 ]
