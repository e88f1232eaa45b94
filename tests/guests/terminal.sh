#!/bin/bash
# Terminal tests: runs scratchvm in a real terminal (a tmux pane) and drives it with keys.
#
#   tests/guests/terminal.sh SCRATCHVM GUEST_DIR [ACCEL]
#   tests/guests/terminal.sh --list          the test names, one a line
#
# - terminal-ctrl-a: the spin guest (a `jmp .` loop, no VM exits); C-a h prints the key
#   help, C-a x ends the VM at once with status 0, and the terminal settings (stty -g)
#   are the same afterwards as before;
# - terminal-echo: the echo guest; typed text comes back, Enter ends it with status 0,
#   the terminal settings are restored;
# - terminal-ctrl-a-unread-input: C-a x still quits after more typed input than the
#   UART's queue holds, which the spinning guest never reads (DESIGN: a guest spinning in
#   a loop must still obey Ctrl-A x at once);
# - terminal-ctrl-a-irq-storm: C-a x ends, within 1 s, a guest under an interrupt storm
#   (the PIT at divisor 1 on IRQ0, a handler that only acknowledges it; the guest of
#   tests/guests/hostile.sh's irq-storm tests);
# - terminal-sigterm: SIGTERM to scratchvm running the spin guest in the pane: status 143
#   at once, and the terminal settings restored;
# - terminal-fatal-signals: SIGSEGV, SIGBUS, SIGABRT, SIGFPE and SIGILL to scratchvm on
#   the spin guest: each ends it as the signal does (status 128 + N) and the terminal
#   settings are restored (the handler restores them, then the signal takes its course);
# - terminal-monitor: --monitor stdio on the spin guest: C-a c switches to the monitor,
#   a command typed there (with a backspace) is echoed and answered, C-a c switches back,
#   C-a x quits with status 0 and the terminal settings restored;
# - terminal-uart-irq: the uart_rx guest sleeps in HLT and takes one IRQ4 per key typed
#   (a key every 0.3 s), then prints the line it got and ends with status 0;
# - terminal-kbd-irq: the kbd_irq guest gets the same typed keys as set 1 scancodes from
#   the 8042, one IRQ1 per byte;
# - terminal-display-curses: -display curses with the biosgame boot sector on a floppy:
#   its VGA text screen is drawn live on the alternate screen, typed keys reach it and
#   show up with the cursor after them, C-a x leaves the alternate screen and restores
#   the terminal settings.
# - terminal-display-curses-keys: -display curses with the kbd_irq guest (COM1 to a
#   file): the terminal's Up, F1 and F12 keys reach the PS/2 keyboard as their scancodes.
# Prints "ok NAME [accel]" / "FAIL NAME [accel]: ..." (or "skip NAME: reason" when tmux
# is missing), then "N passed, N failed, N skipped". Every wait is bounded.
set -u

TESTS="terminal-ctrl-a terminal-echo terminal-ctrl-a-unread-input terminal-sigterm terminal-monitor"
TESTS="$TESTS terminal-uart-irq terminal-kbd-irq terminal-ctrl-a-irq-storm terminal-fatal-signals"
TESTS="$TESTS terminal-display-curses terminal-display-curses-keys"
if [ "${1:-}" = --list ]; then
    printf '%s\n' $TESTS
    exit 0
fi
if [ $# -lt 2 ]; then
    echo "usage: $0 SCRATCHVM GUEST_DIR [ACCEL]" >&2
    exit 2
fi
SVM=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
G=$(cd "$2" && pwd)
ACCEL=${3:-}
TAG=${ACCEL:+ [$ACCEL]}
ACCEL_OPT=${ACCEL:+--accel $ACCEL}
PASSED=0 FAILED=0 SKIPPED=0

if ! command -v tmux >/dev/null 2>&1; then
    for t in $TESTS; do echo "skip $t$TAG: tmux is not installed"; done
    echo "0 passed, 0 failed, $(echo $TESTS | wc -w) skipped"
    exit 0
fi

unset TMUX      # our own servers, even when the tests run inside a tmux session
TMP=$(mktemp -d "${TMPDIR:-/tmp}/scratchvm-term.XXXXXX") || exit 1
PANES=0        # each test gets a tmux server of its own: scratchvm-test-PID-N
T() { tmux -L "scratchvm-test-$$-$PANES" -f /dev/null "$@"; }
cleanup() {
    while [ "$PANES" -gt 0 ]; do T kill-server 2>/dev/null; PANES=$((PANES - 1)); done
    rm -rf "$TMP"
}
trap cleanup EXIT

ERRS=""
differ() { ERRS="${ERRS:+$ERRS; }$1"; }
end() {
    if [ -z "$ERRS" ]; then
        echo "ok $1$TAG"
        PASSED=$((PASSED + 1))
    else
        echo "FAIL $1$TAG: $ERRS"
        FAILED=$((FAILED + 1))
    fi
    ERRS=""
}

# until_true SECONDS CMD...: polls CMD every 0.1 s; 1 when it never succeeded.
until_true() {
    local n=$(($1 * 10))
    shift
    while [ "$n" -gt 0 ]; do
        "$@" && return 0
        sleep 0.1
        n=$((n - 1))
    done
    return 1
}

screen() { T capture-pane -p -t svm:0 -S -50; }
screen_has() { screen | grep -qF -- "$1"; }
screen_has_line() { screen | grep -qx -- "$1"; }
file_exists() { [ -s "$1" ]; }
tty_settings() { stty -F "$PANE_TTY" -g 2>/dev/null; }
tty_changed() { [ "$(tty_settings)" != "$BEFORE" ]; }

# A pane running a plain sh, in a terminal of known size.
start_pane() {
    PANES=$((PANES + 1))
    T new-session -d -s svm -x 100 -y 30 "env PS1='$ ' sh" || return 1
    PANE_TTY=$(T display-message -p -t svm:0 '#{pane_tty}')
    until_true 5 screen_has '$' || return 1
    BEFORE=$(tty_settings)
    [ -n "$BEFORE" ]
}

# run_in_pane GUEST: runs scratchvm in the pane; its status goes to $TMP/rc and the
# settings afterwards to $TMP/after.
run_in_pane() {
    rm -f "$TMP/rc" "$TMP/after"
    T send-keys -t svm:0 "$SVM run $ACCEL_OPT $1; echo \$? > $TMP/rc; stty -g > $TMP/after" Enter
}

# check_after [STATUS]: scratchvm returned with STATUS (default 0) within 5 s and left the
# terminal as it found it.
check_after() {
    local want=${1:-0}
    if ! until_true 5 file_exists "$TMP/rc"; then
        differ "scratchvm did not return within 5 s"
        return
    fi
    until_true 5 file_exists "$TMP/after"
    local rc
    rc=$(cat "$TMP/rc")
    [ "$rc" = "$want" ] || differ "status $rc, expected $want"
    [ "$(cat "$TMP/after")" = "$BEFORE" ] ||
        differ "terminal settings changed: $(cat "$TMP/after") (before: $BEFORE)"
}

# --- C-a h and C-a x on a guest that never exits to the VMM ---
if ! start_pane; then
    differ "cannot start a tmux pane"
else
    run_in_pane "$G/spin.bin"
    if ! until_true 10 screen_has_line spinning; then
        differ "the guest did not print 'spinning': $(screen | grep . | tail -3 | tr '\n' '|')"
    elif ! until_true 5 tty_changed; then
        differ "the terminal was not put in raw mode"
    else
        T send-keys -t svm:0 C-a h
        until_true 5 screen_has 'C-a x    exit emulator' ||
            differ "C-a h did not show the help: $(screen | grep . | tail -3 | tr '\n' '|')"
        T send-keys -t svm:0 C-a x
        check_after
    fi
fi
end terminal-ctrl-a

# --- typing to the echo guest ---
if ! start_pane; then
    differ "cannot start a tmux pane"
else
    run_in_pane "$G/echo.bin"
    # Raw mode first: keys typed before would be flushed by the switch (TCSAFLUSH).
    if ! until_true 10 tty_changed; then
        differ "the terminal was not put in raw mode"
    else
        T send-keys -t svm:0 -l 'typed in tmux'
        until_true 5 screen_has_line 'typed in tmux' ||
            differ "the text did not come back: $(screen | grep . | tail -3 | tr '\n' '|')"
        T send-keys -t svm:0 Enter
        check_after
    fi
fi
end terminal-echo

# --- keys typed one by one wake an interrupt-driven guest (IRQ4) ---
if ! start_pane; then
    differ "cannot start a tmux pane"
else
    run_in_pane "$G/uart_rx.bin"
    if ! until_true 10 tty_changed; then
        differ "the terminal was not put in raw mode"
    else
        for k in a b c; do
            T send-keys -t svm:0 -l "$k"
            sleep 0.3
        done
        T send-keys -t svm:0 Enter
        until_true 5 screen_has 'rx irqs=0004: abc' ||
            differ "not one interrupt per key: $(screen | grep . | tail -3 | tr '\n' '|')"
        check_after
    fi
fi
end terminal-uart-irq

# --- typed keys become scancodes and keyboard interrupts (IRQ1) ---
if ! start_pane; then
    differ "cannot start a tmux pane"
else
    run_in_pane "$G/kbd_irq.bin"
    if ! until_true 10 tty_changed; then
        differ "the terminal was not put in raw mode"
    else
        sleep 0.3
        T send-keys -t svm:0 -l "q"
        sleep 0.3
        T send-keys -t svm:0 Enter
        until_true 5 screen_has 'kbd test=55 irqs=0004: 10 90 1c 9c' ||
            differ "scancodes: $(screen | grep . | tail -3 | tr '\n' '|')"
        check_after
    fi
fi
end terminal-kbd-irq

# --- C-a x after 5000 keys the guest does not read (its UART queue holds 4096) ---
if ! start_pane; then
    differ "cannot start a tmux pane"
else
    run_in_pane "$G/spin.bin"
    if ! until_true 10 screen_has_line spinning || ! until_true 5 tty_changed; then
        differ "the guest did not start: $(screen | grep . | tail -3 | tr '\n' '|')"
    else
        T send-keys -t svm:0 -l "$(head -c 5000 /dev/zero | tr '\0' k)"
        T send-keys -t svm:0 C-a x
        check_after
    fi
fi
end terminal-ctrl-a-unread-input

# signal_spin SIG STATUS: the spin guest in a fresh pane, started by an sh -c that records
# its pid and then becomes scratchvm (exec); signal SIG to it; it must end with STATUS and
# leave the terminal as it found it.
signal_spin() {
    if ! start_pane; then
        differ "cannot start a tmux pane"
        return
    fi
    rm -f "$TMP/rc" "$TMP/after" "$TMP/pid"
    T send-keys -t svm:0 "sh -c 'echo \$\$ > $TMP/pid; exec $SVM run $ACCEL_OPT $G/spin.bin'; echo \$? > $TMP/rc; stty -g > $TMP/after" Enter
    if ! until_true 10 screen_has_line spinning || ! until_true 5 tty_changed; then
        differ "SIG$1: the guest did not start: $(screen | grep . | tail -3 | tr '\n' '|')"
    else
        kill -"$1" "$(cat "$TMP/pid")"
        check_after "$2"
    fi
}

# --- SIGTERM from outside ---
signal_spin TERM 143
end terminal-sigterm

# --- a crash: the fatal signals restore the terminal, then end scratchvm as they do ---
# (AddressSanitizer takes SIGSEGV, SIGBUS and SIGFPE itself: a report, then status 1.)
asan=0
grep -qa __asan_init "$SVM" && asan=1
for sig in SEGV BUS ABRT FPE ILL; do
    want=$((128 + $(kill -l "$sig")))
    [ "$asan" = 1 ] && case $sig in SEGV | BUS | FPE) want=1 ;; esac
    signal_spin "$sig" "$want"
    T kill-server 2>/dev/null
done
end terminal-fatal-signals

# --- the monitor on the console: C-a c, a command, C-a c, C-a x ---
if ! start_pane; then
    differ "cannot start a tmux pane"
else
    run_in_pane "--monitor stdio $G/spin.bin"
    if ! until_true 10 screen_has_line spinning || ! until_true 5 tty_changed; then
        differ "the guest did not start: $(screen | grep . | tail -3 | tr '\n' '|')"
    else
        T send-keys -t svm:0 C-a c
        until_true 5 screen_has '(scratchvm)' ||
            differ "C-a c showed no monitor prompt: $(screen | grep . | tail -3 | tr '\n' '|')"
        T send-keys -t svm:0 -l 'info statux'
        T send-keys -t svm:0 BSpace
        T send-keys -t svm:0 -l 's'
        until_true 5 screen_has '(scratchvm) info status' ||
            differ "the typed command was not echoed: $(screen | grep . | tail -3 | tr '\n' '|')"
        T send-keys -t svm:0 Enter
        until_true 5 screen_has_line 'VM status: running' ||
            differ "no answer: $(screen | grep . | tail -3 | tr '\n' '|')"
        T send-keys -t svm:0 C-a c
        T send-keys -t svm:0 C-a x
        check_after
    fi
fi
end terminal-monitor

# --- C-a x under an interrupt storm ---
printf '\xfa\x31\xc0\x8e\xd8\xc7\x06\x20\x00\x34\x10\xc7\x06\x22\x00\x00\x00\xb0\x11\xe6\x20\xb0\x08\xe6\x21\xb0\x04\xe6\x21\xb0\x01\xe6\x21\xb0\xfe\xe6\x21\xb0\x34\xe6\x43\xb0\x01\xe6\x40\xb0\x00\xe6\x40\xfb\xeb\xfe\x50\xb0\x20\xe6\x20\x58\xcf' >"$TMP/irq-storm.bin"
if ! start_pane; then
    differ "cannot start a tmux pane"
else
    run_in_pane "--load 0x1000 --entry 0x1000 $TMP/irq-storm.bin"
    if ! until_true 10 tty_changed; then
        differ "the terminal was not put in raw mode"
    else
        sleep 0.5   # the storm is on
        T send-keys -t svm:0 C-a x
        until_true 1 file_exists "$TMP/rc" || differ "still running 1 s after C-a x"
        check_after
    fi
fi
end terminal-ctrl-a-irq-storm

# --- -display curses: the guest's text screen live, keys to it, C-a x restores ---
pane_var() { T display-message -p -t svm:0 "#{$1}"; }
alternate_is() { [ "$(pane_var alternate_on)" = "$1" ]; }
cursor_is() { [ "$(pane_var cursor_x),$(pane_var cursor_y)" = "$1" ]; }
cp "$G/biosgame.bin" "$TMP/floppy.img"
if ! start_pane; then
    differ "cannot start a tmux pane"
else
    run_in_pane "-display curses -fda $TMP/floppy.img"
    if ! until_true 10 screen_has_line '          BIOS GAME - type, q quits:'; then
        differ "the guest's screen was not drawn: $(screen | grep . | tail -3 | tr '\n' '|')"
    elif ! until_true 5 tty_changed; then
        differ "the terminal was not put in raw mode"
    else
        alternate_is 1 || differ "not on the alternate screen"
        until_true 5 cursor_is 37,2 || differ "cursor at $(pane_var cursor_x),$(pane_var cursor_y), expected 37,2"
        T send-keys -t svm:0 -l 'hi!'
        until_true 5 screen_has_line '          BIOS GAME - type, q quits: hi!' ||
            differ "the typed keys did not show: $(screen | grep . | tail -3 | tr '\n' '|')"
        until_true 5 cursor_is 40,2 || differ "cursor at $(pane_var cursor_x),$(pane_var cursor_y) after the keys, expected 40,2"
        T send-keys -t svm:0 C-a x
        check_after
        alternate_is 0 || differ "the alternate screen was not left"
        screen_has 'BIOS GAME' && differ "the guest's screen is still there after C-a x"
    fi
fi
end terminal-display-curses

# --- -display curses: the terminal's escape sequences become the keys they stand for ---
if ! start_pane; then
    differ "cannot start a tmux pane"
else
    rm -f "$TMP/kbd.txt"
    run_in_pane "-display curses -serial file:$TMP/kbd.txt $G/kbd_irq.bin"
    if ! until_true 10 tty_changed || ! until_true 5 alternate_is 1; then
        differ "the display did not start: $(screen | grep . | tail -3 | tr '\n' '|')"
    else
        sleep 0.3
        for k in Up F1 F12 Enter; do
            T send-keys -t svm:0 "$k"
            sleep 0.2
        done
        until_true 5 file_exists "$TMP/rc" || differ "the guest did not end on Enter"
        grep -qx 'kbd test=55 irqs=000a: e0 48 e0 c8 3b bb 58 d8 1c 9c' "$TMP/kbd.txt" ||
            differ "scancodes: $(cat "$TMP/kbd.txt" 2>/dev/null)"
        check_after
    fi
fi
end terminal-display-curses-keys

echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
[ "$FAILED" = 0 ]
