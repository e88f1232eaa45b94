#!/bin/sh
# Runs each cmocka test binary given; fails when any fails, or when a test was skipped
# without saying why (a "[ SKIPPED  ] NAME: reason" line, see tests/unit/backends.h).
status=0
out=$(mktemp "${TMPDIR:-/tmp}/scratchvm-unit.XXXXXX") || exit 1
trap 'rm -f "$out"' EXIT
for t in "$@"; do
    echo "== $t"
    "$t" >"$out" 2>&1 || status=1
    cat "$out"
    # cmocka's own line for a skipped test is "[  SKIPPED ] NAME" (the summary repeats it).
    for name in $(sed -n 's/^\[  SKIPPED \] \([^ ]*\)$/\1/p' "$out" | sort -u); do
        grep -qF "[ SKIPPED  ] $name: " "$out" || {
            echo "run-unit: $t: $name was skipped without a reason"
            status=1
        }
    done
done
exit $status
