#!/usr/bin/env bash
# The long fuzzing run: every libFuzzer target of the fuzz preset for FUZZ_SECONDS (default 300)
# each, one after the other (two cores), from the seeds in fuzz/corpus/<target>/ plus what earlier
# long runs found (build/fuzz/long-corpus/<target>/). Prints, per target, the executions, their
# rate, the corpus size and the crashes; a crashing input is saved as
# build/fuzz/crashes/<target>/crash-<sha1> (turn it into a regression test and a seed, then fix).
# Usage: bench/fuzz.sh [target ...]   (make fuzz builds the preset first)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin_dir=$root/build/fuzz/fuzz
seconds=${FUZZ_SECONDS:-300}

if [[ $# -gt 0 ]]; then
    targets=("$@")
else
    targets=()
    for b in "$bin_dir"/fuzz_*; do
        [[ -x $b ]] && targets+=("$(basename "$b" | sed 's/^fuzz_//')")
    done
fi
if [[ ${#targets[@]} -eq 0 ]]; then
    echo "fuzz.sh: no fuzz targets in $bin_dir (make build-fuzz)" >&2
    exit 1
fi

printf '%-14s %8s %12s %10s %8s %8s\n' target seconds executions exec/s corpus crashes
total_crashes=0
for t in "${targets[@]}"; do
    corpus=$root/build/fuzz/long-corpus/$t
    crashes=$root/build/fuzz/crashes/$t
    log=$root/build/fuzz/long-$t.log
    mkdir -p "$corpus" "$crashes"
    # libFuzzer stops at the first crash; -timeout and -rss_limit_mb make hangs and memory blow-ups
    # crashes too.
    set +e
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
        "$bin_dir/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$crashes/" "$corpus" "$root/fuzz/corpus/$t" \
        >"$log" 2>&1
    set -e
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    found=$(find "$crashes" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
    total_crashes=$((total_crashes + found))
    printf '%-14s %8s %12s %10s %8s %8s\n' "$t" "$seconds" "${execs:-0}" "${rate:-0}" \
        "$(find "$corpus" -type f | wc -l)" "$found"
done
echo "crashes saved: $total_crashes (build/fuzz/crashes/; logs in build/fuzz/long-<target>.log)"
