#!/usr/bin/env bash
# Instructions Parley executes per CRUD request (issue 14), counted by valgrind's callgrind over
# every thread (the I/O thread and the blocking pool alike): unlike req/s, the count does not move
# with whatever else runs on the machine, so it is the before/after measure of a change to the
# request path. Parley (one I/O thread, SQLite, or PostgreSQL with BENCH_DATABASE=postgres) serves
# wrk at 4 connections for DURATION per request kind (sends: a fixed number, SENDS); the counters
# are zeroed before and dumped after each, and the total is divided by the requests served.
# Usage: bench/crud-instructions.sh — env: DURATION (default 4s), KEEP_DUMPS (a directory to keep
# the profiles in, for callgrind_annotate). Needs valgrind and a release build (make build).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
duration=${DURATION:-4s}
command -v valgrind >/dev/null || { echo "bench: valgrind not installed" >&2; exit 1; }

WORK=$(mktemp -d /tmp/parley-crud-instr.XXXXXX)
cleanup() {
    stop_parley || true
    rm -rf "$WORK"
}
trap cleanup EXIT

PARLEY_WRAPPER="valgrind --tool=callgrind --callgrind-out-file=$WORK/callgrind.out" \
    start_parley WORKERS=1 ACCESS_LOG=true RATE_LIMIT_STANDARD=1000000 RATE_LIMIT_AI=1000000 \
    MOCK_TOKEN_DELAY_MS=0
trap cleanup EXIT
base="http://127.0.0.1:$PARLEY_PORT/api/v1"
seed_conversations instr-bench@example.com
key=$(curl -fs -X POST "$base/api-keys" -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' -d '{"name":"bench","scopes":["read","write"]}' | jq -r .data.key)
send_cid=$(curl -fs -X POST "$base/conversations" -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' -d '{}' | jq -r .data.id)

# usage: run LABEL wrk-args… — one wrk run under callgrind; prints instructions per request.
# LABEL "POST …": a fixed number of sends (SENDS, default 40) on one keep-alive connection
# instead, since each send reads a context that grows with the sends before it.
run() {
    local label=$1
    shift
    callgrind_control -z "$PARLEY_PID" >/dev/null 2>&1
    local out requests
    if [[ $label == POST* ]]; then
        requests=${SENDS:-40}
        local urls=()
        for _ in $(seq 1 "$requests"); do urls+=("$1"); done
        curl -fs -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
            -d '{"content":"What is a REST API? Explain in 2 sentences."}' "${urls[@]}" >/dev/null ||
            { echo "bench: errors in $label" >&2; exit 1; }
    else
        out=$(wrk -t1 -c4 -d"$duration" "$@")
        requests=$(awk '/requests in/ {print $1}' <<<"$out")
        if grep -qE 'Non-2xx|Socket errors' <<<"$out"; then
            echo "bench: errors in $label: $out" >&2
            exit 1
        fi
    fi
    local total
    callgrind_dump_total "$WORK" >"$WORK/total" # not in a subshell: it sets CALLGRIND_DUMP
    total=$(<"$WORK/total")
    printf '  %-32s %10d instructions/request (%d requests)\n' "$label" $((total / requests)) "$requests"
    if [[ -n ${KEEP_DUMPS:-} ]]; then
        mkdir -p "$KEEP_DUMPS" && cp "$CALLGRIND_DUMP" "$KEEP_DUMPS/callgrind.${label//[^A-Za-z0-9]/_}"
    fi
}

echo "parley instructions per request (callgrind, wrk -c4 -d$duration, one I/O thread, ${BENCH_DATABASE:-sqlite}):"
wrk -t1 -c4 -d2s "http://127.0.0.1:$PARLEY_PORT/health" >/dev/null # warm-up
wrk -t1 -c4 -d2s -H "Authorization: Bearer $token" "$base/conversations" >/dev/null
run "GET /health" "http://127.0.0.1:$PARLEY_PORT/health"
run "GET conversations (20) JWT" -H "Authorization: Bearer $token" "$base/conversations"
run "GET conversations (20) API key" -H "X-API-Key: $key" "$base/conversations"
run "GET conversation+50 msgs" -H "Authorization: Bearer $token" "$base/conversations/$cid"
run "POST message (mock)" "$base/conversations/$send_cid/messages"
