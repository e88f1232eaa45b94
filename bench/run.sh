#!/bin/sh
# Runs the benchmark programs given (make bench passes the ones built from bench/*.c) with
# BUILD and the guest directory as arguments. A benchmark reports; it does not judge: this
# fails only when a program could not run to its end.
# Usage: bench/run.sh BUILD GUEST_DIR PROGRAM...
build=${1:-build}
guests=${2:-build/guests}
shift 2
status=0
[ $# -gt 0 ] || echo "bench: no benchmark programs"
for prog in "$@"; do
    if ! "$prog" "$build" "$guests"; then
        echo "bench: $prog failed" >&2
        status=1
    fi
done
exit $status
