#!/usr/bin/env bash
# Instructions Parley executes per streamed delta and per stream (issue 14), counted by valgrind's
# callgrind: unlike CPU time, the count does not move with whatever else runs on the machine, so it
# is the before/after measure of a change to the streaming path. Parley (one I/O thread) streams
# STREAMS answers over CONCURRENCY connections from the fake upstream of bench/stream.sh (deltas
# 20 ms apart, POST …/messages/stream?format=openai), once with 16 deltas an answer and once with
# 64; the counters are zeroed before and dumped after each run. Per delta = the difference over
# the 48 extra deltas of each stream; per stream = the 16-delta run over STREAMS, less its deltas.
# Both runs must do the same per-stream work, and that includes the full-text index: SQLite indexes
# messages in batches of 64 (migration 0008), so with 2 x STREAMS messages a run a multiple of 32
# streams makes each run index the same number of batches. (With 24, as before stop 32, the
# 64-delta run indexed a batch the 16-delta run did not, and ~420 instructions of it were counted
# "per delta".)
# With NGINX=1 the same runs go through bench/stream.sh's nginx pass-through (one worker, no master
# process, under callgrind; /v1/chat/completions straight to the fake upstream) and its counts are
# printed beside Parley's: the user-space work a proxy needs for the same stream.
# Usage: bench/stream-instructions.sh — env: STREAMS (default 32), CONCURRENCY (default 4),
# KEEP_DUMPS (a directory to keep the two runs' profiles in, for callgrind_annotate), NGINX.
# Needs valgrind and a release build (cmake --build --preset release --target parley
# parley_stream_load).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOAD_BIN=${LOAD_BIN:-$BENCH_ROOT/build/release/bench/parley_stream_load}
streams=${STREAMS:-32}
concurrency=${CONCURRENCY:-4}
if ((streams % 32 != 0)); then
    echo "bench: STREAMS=$streams is not a multiple of 32: the runs may index different full-text batches" >&2
fi
body='{"content":"hello","model":"gpt-4o-mini"}'
command -v valgrind >/dev/null || { echo "bench: valgrind not installed" >&2; exit 1; }
[[ -x $LOAD_BIN ]] || { echo "bench: $LOAD_BIN not built" >&2; exit 1; }

WORK=$(mktemp -d /tmp/parley-instr.XXXXXX)
UPSTREAM_PID=
NGINX_PID=
cleanup() {
    if [[ -n $NGINX_PID ]]; then
        kill -TERM "$NGINX_PID" 2>/dev/null || true
        wait "$NGINX_PID" 2>/dev/null || true
    fi
    stop_parley || true
    stop_upstream
    rm -rf "$WORK"
}
trap cleanup EXIT

start_upstream "$WORK" 16

PARLEY_WRAPPER="valgrind --tool=callgrind --callgrind-out-file=$WORK/callgrind.out" \
    start_stream_parley WORKERS=1
trap cleanup EXIT
base="http://127.0.0.1:$PARLEY_PORT/api/v1"
token=$(register_bench_user instr-bench@example.com)
# Fresh conversations (one per connection) for every run, created before the counters are zeroed:
# each run's streams then find the same history (none, then their own connection's earlier
# answers), so the per-stream work (the path read, the request sent upstream) is the same in the
# 16- and 64-delta runs and their difference is the deltas' alone.
new_targets() {
    for _ in $(seq 1 "$concurrency"); do
        curl -fs "$base/conversations" -H "Authorization: Bearer $token" \
            -H 'Content-Type: application/json' -d '{"title":"b"}' | jq -r .data.id
    done | sed 's|.*|/api/v1/conversations/&/messages/stream?format=openai|' >"$WORK/targets"
}

# usage: run DELTAS STREAMS — one load run; prints the instructions Parley executed during it.
run() {
    new_targets
    curl -fs -X POST "http://127.0.0.1:$UPORT/bench/deltas" -d "$1" >/dev/null
    callgrind_control -z "$PARLEY_PID" >/dev/null 2>&1
    "$LOAD_BIN" load --url "http://127.0.0.1:$PARLEY_PORT/" --targets-file "$WORK/targets" \
        --header "Authorization: Bearer $token" --body "$body" --concurrency "$concurrency" \
        --streams "$2" --expect-deltas "$1" --stall-ms 100000 --timeout-s 120 >"$WORK/line.$1"
    jq -e '.errors == 0' "$WORK/line.$1" >/dev/null ||
        { echo "bench: errors in the $1-delta run: $(cat "$WORK/line.$1")" >&2; exit 1; }
    callgrind_dump_total "$WORK"
    if [[ -n ${KEEP_DUMPS:-} ]]; then mkdir -p "$KEEP_DUMPS" && cp "$CALLGRIND_DUMP" "$KEEP_DUMPS/callgrind.$1"; fi
}

run 16 "$concurrency" >/dev/null # warm-up: connections, statements, allocator caches
ir16=$(run 16 "$streams")
ir64=$(run 64 "$streams")
per_delta=$(((ir64 - ir16) / (streams * 48)))
per_stream=$((ir16 / streams - 16 * per_delta))
echo "parley instructions (callgrind, $streams streams over $concurrency connections, one I/O thread):"
printf '  per delta  %12d\n  per stream %12d (without its deltas)\n' "$per_delta" "$per_stream"
printf '  16-delta run %d, 64-delta run %d\n' "$ir16" "$ir64"

((${NGINX:-0})) || exit 0
stop_parley
# nginx under callgrind: one process serves (no master to fork workers), counted like Parley.
NGINX_SINGLE=1 NGINX_WRAPPER="valgrind --tool=callgrind --callgrind-out-file=$WORK/callgrind.out" \
    start_nginx "$WORK"
PARLEY_PID=$NGINX_PID # what callgrind_dump_total asks

# usage: run_nginx DELTAS STREAMS — as run, through nginx.
run_nginx() {
    curl -fs -X POST "http://127.0.0.1:$UPORT/bench/deltas" -d "$1" >/dev/null
    callgrind_control -z "$NGINX_PID" >/dev/null 2>&1
    "$LOAD_BIN" load --url "http://127.0.0.1:$NPORT/v1/chat/completions" \
        --concurrency "$concurrency" --streams "$2" --expect-deltas "$1" --stall-ms 100000 \
        --timeout-s 120 >"$WORK/line.$1"
    jq -e '.errors == 0' "$WORK/line.$1" >/dev/null ||
        { echo "bench: errors in nginx's $1-delta run: $(cat "$WORK/line.$1")" >&2; exit 1; }
    callgrind_dump_total "$WORK"
}

run_nginx 16 "$concurrency" >/dev/null # warm-up: the upstream keep-alive connections
nx16=$(run_nginx 16 "$streams")
nx64=$(run_nginx 64 "$streams")
nx_delta=$(((nx64 - nx16) / (streams * 48)))
nx_stream=$((nx16 / streams - 16 * nx_delta))
PARLEY_PID=
echo "nginx instructions (callgrind, the same runs, one process):"
printf '  per delta  %12d\n  per stream %12d (without its deltas)\n' "$nx_delta" "$nx_stream"
awk -v pd="$per_delta" -v ps="$per_stream" -v nd="$nx_delta" -v ns="$nx_stream" 'BEGIN {
    printf "Parley / nginx: per delta %.1fx, per stream %.1fx, a 64-delta answer %.1fx\n",
        pd / nd, ps / ns, (64 * pd + ps) / (64 * nd + ns) }'
