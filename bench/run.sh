#!/bin/sh
# Runs every benchmark program in BUILD/bench (each is one build/bench/NAME built from
# bench/NAME.c) with BUILD and the guest directory as arguments. A benchmark reports; it
# does not judge: this fails only when a program could not run to its end.
build=${1:-build}
guests=${2:-build/guests}
status=0
found=0
for prog in "$build"/bench/*; do
    [ -f "$prog" ] && [ -x "$prog" ] || continue
    found=1
    if ! "$prog" "$build" "$guests"; then
        echo "bench: $prog failed" >&2
        status=1
    fi
done
[ $found = 1 ] || echo "bench: no benchmark programs in $build/bench"
exit $status
