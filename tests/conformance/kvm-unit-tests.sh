#!/bin/bash
# Runs the kvm-unit-tests i386 set (../shared/conformance/kvm-unit-tests-i386, see its
# README) with `scratchvm run -kernel X.flat` as QEMU's x86/run starts them, and compares
# the PASS/FAIL/SKIP counts with QEMU 7.2 TCG's:
#
#   tests/conformance/kvm-unit-tests.sh SCRATCHVM DIR [ACCEL] [TESTS...]
#
# Prints one line per test ("ok NAME: ..." or "MISMATCH NAME: ...") and a summary. Exits 1
# when a test's counts differ, unless KUT_REPORT_ONLY=1 (then it reports and exits 0,
# saying so). sieve runs only when named (it takes minutes): `make check-long`.
set -u
SVM=$1 DIR=$2 ACCEL=${3:-sim}
shift $(( $# >= 3 ? 3 : $# ))
TESTS=("$@")
[ ${#TESTS[@]} = 0 ] && TESTS=(realmode emulator setjmp taskswitch2 cmpxchg8b eventinj tsc umip)
if [ ! -d "$DIR" ]; then
    echo "kvm-unit-tests: skipped: $DIR not found"
    exit 0
fi
# name: expected PASS FAIL SKIP (QEMU 7.2 TCG, the README's table); extra QEMU options.
declare -A WANT=([realmode]="127 0 0" [emulator]="85 0 1" [setjmp]="10 0 0"
                 [taskswitch2]="12 0 0" [cmpxchg8b]="1 0 0" [eventinj]="15 0 0" [tsc]="3 0 0"
                 [umip]="21 0 0" [sieve]="0 0 0")
TMP=$(mktemp -d) || exit 1
trap 'rm -rf "$TMP"' EXIT
bad=0 ok=0
for t in "${TESTS[@]}"; do
    timeout_s=60
    [ "$t" = sieve ] && timeout_s=900
    timeout "$timeout_s" "$SVM" run --accel "$ACCEL" -m 128 -device pc-testdev --serial stdio \
        -kernel "$DIR/$t.flat" </dev/null >"$TMP/out" 2>"$TMP/err"
    rc=$?
    p=$(grep -c '^PASS: ' "$TMP/out") f=$(grep -c '^FAIL: ' "$TMP/out") s=$(grep -c '^SKIP: ' "$TMP/out")
    read -r wp wf ws <<<"${WANT[$t]:-0 0 0}"
    summary=$(grep -m1 '^SUMMARY:' "$TMP/out")
    if [ "$t" = sieve ]; then
        n=$(grep -c '5761455 out of 100000000' "$TMP/out")
        [ "$n" = 3 ] && [ "$rc" = 1 ] && res=ok || res=MISMATCH
        echo "$res sieve: $n of 3 sieves right, exit status $rc"
    elif [ "$p $f $s" = "$wp $wf $ws" ] && [ "$rc" = 1 ]; then
        res=ok
        echo "ok $t: $p PASS, $f FAIL, $s SKIP (QEMU: $wp, $wf, $ws)"
    else
        res=MISMATCH
        why=$(grep -m1 'error:' "$TMP/err" | cut -c1-160)
        echo "MISMATCH $t: $p PASS, $f FAIL, $s SKIP, status $rc (QEMU: $wp PASS, $wf FAIL, $ws SKIP, status 1)${summary:+; $summary}${why:+; $why}"
    fi
    if [ "$res" = ok ]; then ok=$((ok + 1)); else bad=$((bad + 1)); fi
done
echo "kvm-unit-tests [$ACCEL]: $ok match QEMU, $bad do not"
if [ "$bad" != 0 ] && [ "${KUT_REPORT_ONLY:-0}" = 1 ]; then
    echo "kvm-unit-tests: reported only (KUT_REPORT_ONLY=1), not counted as a failure"
    exit 0
fi
[ "$bad" = 0 ]
