#!/usr/bin/env bash
# Runs every ```sh block of README.md that needs no terminal, from the repository root:
# each block as one bash script with -e and pipefail (so every command in it must
# succeed; the README writes an expected nonzero status as `cmd || echo $?`), stdin from
# /dev/null, a 60 s limit. A block preceded by a line "<!-- readme-test: skip: WHY -->"
# is not run, and WHY is printed. Paths under /tmp/ are moved into a private directory,
# so that runs in parallel do not share sockets. Prints one line per block and a summary;
# exits 1 when a block failed.
#
#   tests/readme.sh [README.md]
set -u
cd "$(dirname "$0")/.." || exit 1
README=${1:-README.md}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/scratchvm-readme.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT

run=0 skipped=0 failed=0
block="" in_block=0 start=0 skip_why="" prev=""
lineno=0
while IFS= read -r line || [ -n "$line" ]; do
    lineno=$((lineno + 1))
    if [ "$in_block" = 0 ]; then
        if [ "$line" = '```sh' ]; then
            in_block=1 start=$lineno block=""
            skip_why=""
            case "$prev" in
                '<!-- readme-test: skip:'*) skip_why=${prev#<!-- readme-test: skip: }; skip_why=${skip_why% -->} ;;
            esac
        fi
        [ -n "$line" ] && prev=$line
        continue
    fi
    if [ "$line" != '```' ]; then
        block+="$line"$'\n'
        continue
    fi
    in_block=0
    if [ -n "$skip_why" ]; then
        echo "skip $README:$start: $skip_why"
        skipped=$((skipped + 1))
        continue
    fi
    script=${block//\/tmp\//$TMP/}
    run=$((run + 1))
    if timeout 60 bash -e -o pipefail -c "$script" </dev/null >"$TMP/out" 2>&1; then
        echo "ok $README:$start"
    else
        status=$?
        echo "FAIL $README:$start (status $status):"
        tail -n 15 "$TMP/out" | sed 's/^/    /'
        failed=$((failed + 1))
    fi
done <"$README"
echo "readme: $run blocks run, $skipped skipped, $failed failed"
[ "$failed" = 0 ]
