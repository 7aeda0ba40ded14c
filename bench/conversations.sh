#!/usr/bin/env bash
# Conversations on SQLite (BENCH_DATABASE=postgres: PostgreSQL): GET /api/v1/conversations (a page of 20), GET /api/v1/conversations/{id}
# (50 messages), and non-streaming POST …/messages against the mock model with no delay, each at
# 64 keep-alive connections (wrk on the same machine). Rate limits are raised out of the way.
# Each run also measures GET /health and the list with an API key, and prints every figure as a
# ratio to that run's /health: req/s move with the machine's load, the ratios much less.
# Usage: bench/conversations.sh [RUNS] — default 3 runs; record the medians in docs/benchmarks.md.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
runs=${1:-3}
duration=${DURATION:-8s}

start_parley ACCESS_LOG=true RATE_LIMIT_STANDARD=1000000 RATE_LIMIT_AI=1000000 MOCK_TOKEN_DELAY_MS=0
base="http://127.0.0.1:$PARLEY_PORT/api/v1"
# The list with an API key reads another user's 20 conversations: rate limits count per user, and
# one user's share of two runs within a minute would pass RATE_LIMIT_STANDARD's highest value.
seed_conversations bench-key@example.com
key=$(curl -fs -X POST "$base/api-keys" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d '{"name":"bench","scopes":["read"]}' | sed -E 's/.*"key":"([^"]+)".*/\1/')
seed_conversations bench@example.com # 50 messages in the last conversation, $cid
auth=(-H "Authorization: Bearer $token")
post_script=$(mktemp /tmp/parley-bench-post.XXXXXX.lua)
send_script "$post_script" "$token"

echo "parley $("$PARLEY_BIN" version | awk '{print $2}') on $(nproc) cores; wrk -t1 -c64 -d$duration; ${BENCH_DATABASE:-sqlite}"
health="http://127.0.0.1:$PARLEY_PORT/health"
wrk -t1 -c64 -d2s "$health" >/dev/null # warm-up
for i in $(seq 1 "$runs"); do
    wrk_summary "GET /health $i" -t1 -c64 -d"$duration" "$health"
    wrk_summary "GET conversations (20) $i" -t1 -c64 -d"$duration" "${auth[@]}" "$base/conversations"
    wrk_summary "GET conversations key $i" -t1 -c64 -d"$duration" -H "X-API-Key: $key" "$base/conversations"
    wrk_summary "GET conversation+50 msgs $i" -t1 -c64 -d"$duration" "${auth[@]}" "$base/conversations/$cid"
done
# The send benchmark writes two messages per request: run it on a fresh conversation, last.
send_cid=$(curl -fs -X POST "$base/conversations" "${auth[@]}" -H 'Content-Type: application/json' -d '{}' |
    sed -E 's/.*"data":\{"id":"([^"]+)".*/\1/')
for i in $(seq 1 "$runs"); do
    wrk_summary "POST message (mock) $i" -t1 -c64 -d"$duration" -s "$post_script" "$base/conversations/$send_cid/messages"
done
rm -f "$post_script"
print_ratios
