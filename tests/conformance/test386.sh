#!/bin/sh
# test386.asm on the sim backend (make check): runs test386-128k.bin as firmware, collects
# the POST codes (port 0xE9, scratchvm's stdout) and COM1 (the POST 0xEE results), and
# compares them with tests/conformance/test386.expected and the reference output.
# Usage: test386.sh SCRATCHVM SHARED_DIR
set -u
scratchvm=$1
dir=$2/conformance/test386
here=$(dirname "$0")
if [ ! -f "$dir/test386-128k.bin" ]; then
    echo "test386: skipped: $dir/test386-128k.bin not found"
    exit 0
fi
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
# A full run takes 10-20 s on sim (3.5 MB of POST 0xEE results through the UART); the
# error routine spins forever when a test fails at ring 3, so the timeout ends such a run
# (status 124).
timeout 180 "$scratchvm" run --accel sim --serial "file:$tmp/com1.txt" \
    --rom "$dir/test386-128k.bin" >"$tmp/post.bin" 2>"$tmp/stderr.txt"
status=$?
got=$(od -An -v -tx1 "$tmp/post.bin" | tr -s ' \n' ' ' | sed 's/^ //; s/ $//')
want=$(sed -n 's/^post //p' "$here/test386.expected")
echo "test386: POST codes: $got (exit status $status)"
zcat "$dir/test386-EE-reference.txt.gz" >"$tmp/ref.txt" || exit 1
size=$(wc -c <"$tmp/com1.txt")
if ! head -c "$size" "$tmp/ref.txt" | cmp -s - "$tmp/com1.txt"; then
    echo "test386: FAILED: COM1 output ($size bytes) differs from the reference:"
    head -c "$size" "$tmp/ref.txt" | cmp - "$tmp/com1.txt" | head -3
    exit 1
fi
case "$got" in
"$want"*) ;;
*)
    echo "test386: FAILED: expected the POST codes $want"
    tail -3 "$tmp/stderr.txt"
    exit 1
    ;;
esac
if [ "$got" = "$want" ] && [ "${got##* }" != ff ]; then
    echo "test386: ok: reached POST ${got##* } as expected; COM1 ($size bytes) matches the reference so far"
    echo "test386: stops there: $(sed -n 's/^reason //p' "$here/test386.expected")"
    exit 0
fi
if [ "${got##* }" = ff ]; then
    if ! cmp -s "$tmp/ref.txt" "$tmp/com1.txt"; then
        echo "test386: FAILED: POST 0xFF reached but COM1 is only a prefix of the reference"
        exit 1
    fi
    echo "test386: ok: POST 0xFF, COM1 output equal to the reference"
    [ "$got" = "$want" ] || echo "test386: note: update tests/conformance/test386.expected"
    exit 0
fi
echo "test386: ok: further than expected (last POST ${got##* }); update tests/conformance/test386.expected"
exit 0
