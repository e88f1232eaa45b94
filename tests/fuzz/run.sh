#!/usr/bin/env bash
# make fuzz: runs each libFuzzer harness for a fixed time. Usage: run.sh BUILD SECONDS NAME...
# New inputs go to BUILD/corpus/<name> (the committed seeds in tests/fuzz/corpus/<name>
# are read, never written); a finding is saved as BUILD/findings/<name>-crash-* (or
# -timeout-, -leak-, -oom-) and fails the run. One line per harness, then a summary.
set -u
build=$1 seconds=$2
shift 2
here=$(dirname "$0")
failed=0
for name in "$@"; do
    mkdir -p "$build/corpus/$name" "$build/findings"
    log=$build/fuzz-$name.log
    "$build/fuzz/fuzz-$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -max_len=8192 -print_final_stats=1 -artifact_prefix="$build/findings/$name-" \
        "$build/corpus/$name" "$here/corpus/$name" >"$log" 2>&1
    status=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n1)
    if [ "$status" -eq 0 ]; then
        echo "fuzz: $name: ok (${seconds}s, ${runs:-?} runs, ${cov:-cov: ?})"
    else
        failed=1
        grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error|artifact_prefix|Test unit written)' "$log" | head -n 8
        echo "fuzz: $name: FAILED (status $status; log $log)"
    fi
done
if [ "$failed" -ne 0 ]; then echo "fuzz: FAILED"; exit 1; fi
echo "fuzz: $# harnesses, no findings"
