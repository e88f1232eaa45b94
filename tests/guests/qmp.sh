# QMP on a Unix socket and on TCP (127.0.0.1), driven by the tests' client
# (MONITOR_CLIENT), sourced by run.sh: t_qmp. A session is checked line by line: the
# greeting, the refusal before qmp_capabilities, query-status, stop/cont with their STOP
# and RESUME events, human-monitor-command "info registers", system_powerdown's POWERDOWN,
# quit with its SHUTDOWN, and a guest's own poweroff as SHUTDOWN {"guest": true}.
# shellcheck shell=bash

# qmp_session ADDRESS -qmp-SPEC: runs spinout.bin paused under -qmp SPEC and a session
# at ADDRESS; the client's output in $TMP/qmp, scratchvm's status in RC.
qmp_session() {
    local addr=$1 spec=$2 accel=() pid
    [ -n "$ACCEL" ] && accel=(--accel "$ACCEL")
    timeout 20 "$SVM" run "${accel[@]}" -S -qmp "$spec" "$G/spinout.bin" \
        </dev/null >"$TMP/out" 2>"$TMP/err" &
    pid=$!
    { printf '{"execute": "query-status"}\n'
      printf '{"execute": "qmp_capabilities", "id": 1}\n'
      printf '{"execute": "query-status", "id": "s1"}\n'
      printf '{"execute": "cont"}\n'
      # Until the guest has shown it runs (bounded: a loaded machine, ASan builds).
      for _ in $(seq 50); do grep -qx 'spinning with OUTs' "$TMP/out" && break; sleep 0.1; done
      printf '{"execute": "query-status", "id": "s2"}\n'
      printf '{"execute": "stop", "id": "stop"}\n'
      printf '{"execute": "human-monitor-command", "arguments": {"command-line": "info registers"}}\n'
      printf '{"execute": "system_powerdown"}\n'
      printf '{"execute": "nonesuch"}\n'
      printf '{"execute": "quit", "id": "bye"}\n'; } |
        timeout 10 "$MONITOR_CLIENT" "$addr" >"$TMP/qmp" 2>&1
    wait "$pid"
    RC=$?
}

# qmp_check: the session's answers, in order, one per line.
qmp_check() {
    local f="$TMP/qmp" crlf
    # Every message ends in CRLF, as QEMU sends it.
    crlf=$(grep -c $'\r$' "$f")
    [ "$crlf" = "$(wc -l <"$f")" ] || differ "not every line ends in CRLF"
    tr -d '\r' <"$f" >"$f.lf"
    f="$f.lf"
    grep -m1 -q '^{"QMP": {"version": {"qemu": {"micro": [0-9]*, "minor": [0-9]*, "major": [0-9]*}, "package": "ScratchVM [^"]*"}, "capabilities": \[\]}}$' "$f" ||
        differ "no greeting: $(show "$f")"
    local want=(
        '{"error": {"class": "CommandNotFound", "desc": "Expecting capabilities negotiation with '"'qmp_capabilities'"'"}}'
        '{"return": {}, "id": 1}'
        '{"return": {"status": "prelaunch", "singlestep": false, "running": false}, "id": "s1"}'
        '{"event": "RESUME", "timestamp": {"seconds": N, "microseconds": N}}'
        '{"return": {}}'
        '{"return": {"status": "running", "singlestep": false, "running": true}, "id": "s2"}'
        '{"event": "STOP", "timestamp": {"seconds": N, "microseconds": N}}'
        '{"return": {}, "id": "stop"}'
        '{"return": "EAX=...'
        '{"return": {}}'
        '{"event": "POWERDOWN", "timestamp": {"seconds": N, "microseconds": N}}'
        '{"error": {"class": "CommandNotFound", "desc": "The command nonesuch has not been found"}}'
        '{"return": {}, "id": "bye"}'
        '{"event": "SHUTDOWN", "data": {"guest": false, "reason": "host-qmp-quit"}, "timestamp": {"seconds": N, "microseconds": N}}'
    )
    local got i=2
    for w in "${want[@]}"; do
        got=$(sed -n "${i}p" "$f" | sed -E 's/"(seconds|microseconds)": [0-9]+/"\1": N/g')
        if [ "${w%...}" != "$w" ]; then
            case $got in "${w%...}"*) ;; *) differ "line $i: '$got', expected '$w'" ;; esac
        elif [ "$got" != "$w" ]; then
            differ "line $i: '$got', expected '$w'"
        fi
        i=$((i + 1))
    done
    [ "$(wc -l <"$f")" = $((i - 1)) ] || differ "$(wc -l <"$f") lines, expected $((i - 1))"
    grep -q '"return": "EAX=[0-9a-f]\{8\} .*\\r\\nEIP=[0-9a-f]\{8\} EFL=.*\\r\\nCS =0000 ' "$f" ||
        differ "info registers is not QEMU's layout with CRLF"
    grep -qx 'spinning with OUTs' "$TMP/out" || differ "the guest did not run after cont"
}

t_qmp() {
    begin qmp-unix
    if [ "$SKIPPING" = 1 ] || [ ! -x "${MONITOR_CLIENT:-}" ]; then
        [ "$SKIPPING" = 1 ] || differ "MONITOR_CLIENT is not set (run through make integration)"
        end; return
    fi
    local sock="$TMP/qmp.sock" port try
    rm -f "$sock"
    qmp_session "$sock" "unix:$sock,server,nowait"
    expect_status 0
    qmp_check
    [ -e "$sock" ] && differ "the socket was left behind"
    end

    begin qmp-tcp
    # A free port is not known in advance: another try on a busy one.
    for try in 1 2 3; do
        port=$((20000 + RANDOM % 40000))
        qmp_session "tcp:127.0.0.1:$port" "tcp:127.0.0.1:$port,server=on,wait=off"
        grep -q 'in use' "$TMP/err" || break
    done
    expect_status 0
    qmp_check
    end

    # wait=on (a server without nowait), as QEMU: the VM starts only once the first
    # client has connected, and that client is greeted; running, not prelaunch.
    begin qmp-server-wait
    local pid
    rm -f "$sock"
    timeout 20 "$SVM" run ${ACCEL:+--accel "$ACCEL"} -qmp "unix:$sock,server" "$G/spinout.bin" \
        </dev/null >"$TMP/out" 2>"$TMP/err" &
    pid=$!
    for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
    sleep 0.5
    [ -s "$TMP/out" ] && differ "the guest ran before a client connected: $(show "$TMP/out")"
    grep -qF "info: QMP waiting for a connection on unix:$sock,server=on" "$TMP/err" ||
        differ "no waiting line: $(show "$TMP/err")"
    { printf '{"execute": "qmp_capabilities"}\n'
      for _ in $(seq 50); do grep -qx 'spinning with OUTs' "$TMP/out" && break; sleep 0.1; done
      printf '{"execute": "query-status"}\n{"execute": "quit"}\n'; } |
        timeout 10 "$MONITOR_CLIENT" "$sock" >"$TMP/qmp" 2>&1
    wait "$pid"
    RC=$?
    expect_status 0
    head -n1 "$TMP/qmp" | grep -q '^{"QMP": ' || differ "no greeting: $(show "$TMP/qmp")"
    grep -qF '{"return": {"status": "running", "singlestep": false, "running": true}}' "$TMP/qmp" ||
        differ "not running after the client connected: $(show "$TMP/qmp")"
    grep -qx 'spinning with OUTs' "$TMP/out" || differ "the guest did not run after the client connected"
    end

    # The guest powers off by itself (ACPI S5): SHUTDOWN says the guest asked, and the
    # VMM ends with the guest's status, as QEMU does without -no-shutdown.
    begin qmp-guest-poweroff
    local accel=()
    [ -n "$ACCEL" ] && accel=(--accel "$ACCEL")
    rm -f "$sock"
    timeout 20 "$SVM" run "${accel[@]}" -S -qmp "unix:$sock,server,nowait" "$G/poweroff.bin" \
        </dev/null >"$TMP/out" 2>"$TMP/err" &
    pid=$!
    printf '{"execute": "qmp_capabilities"}\n{"execute": "cont"}\n' |
        timeout 10 "$MONITOR_CLIENT" "$sock" >"$TMP/qmp" 2>&1
    wait "$pid"
    RC=$?
    expect_status 0
    grep -q '^{"event": "SHUTDOWN", "data": {"guest": true, "reason": "guest-shutdown"}, "timestamp": {"seconds": [0-9]*, "microseconds": [0-9]*}}'$'\r''$' "$TMP/qmp" ||
        differ "no SHUTDOWN from the guest: $(show "$TMP/qmp")"
    end
}
