#!/usr/bin/env bash
# Soak: SOAK_SECONDS (default 1800) of mixed load (sign-ups, conversation CRUD, sends, SSE streams,
# WebSocket turns, searches; bench/soak_load.mjs, SOAK_CLIENTS clients) against a release parley on
# the mock model, sampling the server's resident memory (VmRSS) and open descriptors every
# SOAK_SAMPLE_S (default 5) seconds. Prints the samples, then a least-squares slope of each over the
# second half of the run (the first half is warm-up: caches, SQLite's page cache and WAL, allocator
# arenas) and whether both are flat: RSS growing by less than SOAK_RSS_TOLERANCE_PCT (default 5) % of
# its mean over the second half, descriptors by fewer than 5. Exit status 1 when either is not flat,
# any request got a 5xx, or a sanitizer build reported anything (leaks at exit included).
#   bench/soak.sh                       # 30 minutes
#   SOAK_SECONDS=300 bench/soak.sh      # 5 minutes
#   BENCH_DATABASE=postgres bench/soak.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
seconds=${SOAK_SECONDS:-1800}
interval=${SOAK_SAMPLE_S:-5}
clients=${SOAK_CLIENTS:-8}
tolerance=${SOAK_RSS_TOLERANCE_PCT:-5}

start_parley RATE_LIMIT_AUTH=1000000 RATE_LIMIT_STANDARD=1000000 RATE_LIMIT_AI=1000000 MOCK_TOKEN_DELAY_MS=2
samples="$BENCH_DIR/samples.tsv"
load_out="$BENCH_DIR/load.json"

sample() {
    local rss fds
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$PARLEY_PID/status")
    fds=$(find "/proc/$PARLEY_PID/fd" -mindepth 1 -maxdepth 1 | wc -l)
    printf '%s\t%s\t%s\n' "$1" "$rss" "$fds" | tee -a "$samples"
}

echo "parley $("$PARLEY_BIN" version | awk '{print $2}') on $(nproc) cores; ${BENCH_DATABASE:-sqlite};" \
    "$clients clients for ${seconds} s; a sample every ${interval} s"
printf 'elapsed_s\trss_kb\tfds\n'
node "$BENCH_ROOT/bench/soak_load.mjs" "http://127.0.0.1:$PARLEY_PORT" "$seconds" "$clients" >"$load_out" &
load_pid=$!
start=$(date +%s)
while kill -0 "$load_pid" 2>/dev/null; do
    sample $(($(date +%s) - start))
    sleep "$interval"
done
wait "$load_pid"
sample $(($(date +%s) - start))

echo "load: $(cat "$load_out")"
# A sanitizer build (PARLEY_BIN=build/ci/parley) reports leaks when it exits: stop it here to see them.
stop_parley_keep_log() {
    kill -TERM "$PARLEY_PID" 2>/dev/null || true
    wait "$PARLEY_PID" 2>/dev/null || true
    PARLEY_PID=
}
stop_parley_keep_log
sanitizer=$(grep -cE 'LeakSanitizer|AddressSanitizer|UndefinedBehaviorSanitizer|runtime error:' "$BENCH_DIR/server.log" || true)
echo "sanitizer reports at exit: $sanitizer"
if [[ $sanitizer != 0 ]]; then
    grep -E -A20 'LeakSanitizer|AddressSanitizer|UndefinedBehaviorSanitizer|runtime error:' "$BENCH_DIR/server.log" | head -60
fi
db_size=$(du -sh "$BENCH_DIR/data" 2>/dev/null | cut -f1)
echo "data directory after the run: ${db_size:-?}"
# The verdict: slopes over the second half, and 5xx from the load.
awk -v tolerance="$tolerance" -v sanitizer="$sanitizer" -v five_xx="$(grep -o '"5xx":[0-9]*' "$load_out" | cut -d: -f2)" '
    { t[NR] = $1; r[NR] = $2; f[NR] = $3 }
    function slope(y, from, to,    i, n, sx, sy, sxx, sxy) {
        n = 0; sx = 0; sy = 0; sxx = 0; sxy = 0
        for (i = from; i <= to; i++) { n++; sx += t[i]; sy += y[i]; sxx += t[i] * t[i]; sxy += t[i] * y[i] }
        if (n < 2 || n * sxx == sx * sx) return 0
        return (n * sxy - sx * sy) / (n * sxx - sx * sx)
    }
    END {
        from = int(NR / 2) + 1
        span = t[NR] - t[from]
        rs = slope(r, from, NR); fs = slope(f, from, NR)
        mean = 0; for (i = from; i <= NR; i++) mean += r[i]; mean /= (NR - from + 1)
        rss_growth = rs * span; fd_growth = fs * span
        rss_flat = (rss_growth < mean * tolerance / 100); fd_flat = (fd_growth < 5)
        printf "second half (%d samples, %d s): RSS mean %.1f MB, slope %+.1f KB/min (%+.2f%% over the half): %s\n",
            NR - from + 1, span, mean / 1024, rs * 60, 100 * rss_growth / mean, rss_flat ? "flat" : "GROWING"
        printf "second half: open descriptors %d..%d, slope %+.3f fds/min: %s\n",
            f[from], f[NR], fs * 60, fd_flat ? "flat" : "GROWING"
        printf "5xx responses: %d\n", five_xx
        exit (rss_flat && fd_flat && five_xx == 0 && sanitizer == 0) ? 0 : 1
    }' "$samples"
