#!/usr/bin/env bash
# Instructions Parley executes per non-streaming send into a LONG conversation (issue 14), counted
# by valgrind's callgrind over every thread. The send step of bench/conversations.sh posts from 64
# connections into one fresh conversation, so it grows to thousands of messages, branched up to
# 64 ways, and every send reads a context of up to 500 of them; bench/crud-instructions.sh's 40
# sends go into a conversation of at most 80. This builds such a conversation once (a release
# Parley at full speed, wrk at 64 connections for BUILD_DURATION), keeps the database in SEND_DB,
# and then measures SENDS sends one after another on one connection, Parley under callgrind (one
# I/O thread) on a copy of that database: the same data for every build compared.
# Usage: bench/send-instructions.sh — env: SEND_DB (default /tmp/parley-send-db; delete it to
# build anew), BUILD_DURATION (default 5s), SENDS (default 40), KEEP_DUMPS (a directory to keep the
# profile in, for callgrind_annotate). SQLite only. Needs valgrind, wrk and a release build.
# SQLite indexes messages for search 64 at a time, and a batch's cost depends on where FTS5's
# incremental merging stands (from ~0.8M to ~13M instructions): with 40 sends (80 messages) one
# batch falls in the window, so compare builds with SENDS=120 or more.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
db=${SEND_DB:-/tmp/parley-send-db}
sends=${SENDS:-40}
command -v valgrind >/dev/null || { echo "bench: valgrind not installed" >&2; exit 1; }
[[ ${BENCH_DATABASE:-sqlite} == sqlite ]] || { echo "bench: SQLite only" >&2; exit 1; }
email=send-bench@example.com
password=BenchPass123
settings=(ACCESS_LOG=true RATE_LIMIT_STANDARD=1000000 RATE_LIMIT_AI=1000000 MOCK_TOKEN_DELAY_MS=0)

if [[ ! -f $db/cid ]]; then
    start_parley "${settings[@]}"
    base="http://127.0.0.1:$PARLEY_PORT/api/v1"
    token=$(curl -fs -X POST "$base/auth/register" -H 'Content-Type: application/json' \
        -d "{\"email\":\"$email\",\"password\":\"$password\"}" | jq -r .data.access_token)
    cid=$(curl -fs -X POST "$base/conversations" -H "Authorization: Bearer $token" \
        -H 'Content-Type: application/json' -d '{}' | jq -r .data.id)
    script=$(mktemp /tmp/parley-send-build.XXXXXX.lua)
    send_script "$script" "$token"
    wrk -t1 -c64 -d"${BUILD_DURATION:-5s}" -s "$script" "$base/conversations/$cid/messages" >/dev/null
    rm -f "$script"
    kill -TERM "$PARLEY_PID" && wait "$PARLEY_PID" || true
    PARLEY_PID=
    rm -rf "$db" && mkdir -p "$db" && cp -a "$BENCH_DIR/data" "$db/data"
    echo "$cid" >"$db/cid"
    stop_parley
fi
cid=$(<"$db/cid")

WORK=$(mktemp -d /tmp/parley-send-instr.XXXXXX)
cleanup() {
    stop_parley || true
    rm -rf "$WORK"
}
trap cleanup EXIT
BENCH_DATA_FROM=$db/data PARLEY_WRAPPER="valgrind --tool=callgrind --callgrind-out-file=$WORK/callgrind.out" \
    start_parley WORKERS=1 "${settings[@]}"
trap cleanup EXIT
base="http://127.0.0.1:$PARLEY_PORT/api/v1"
token=$(curl -fs -X POST "$base/auth/login" -H 'Content-Type: application/json' \
    -d "{\"email\":\"$email\",\"password\":\"$password\"}" | jq -r .data.access_token)
[[ -n $token && $token != null ]] || { echo "bench: login failed" >&2; exit 1; }
url="$base/conversations/$cid/messages"
body='{"content":"What is a REST API? Explain in 2 sentences."}'
# One send first (warm-up: statement caches, the first read of the database's pages).
curl -fs -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -d "$body" \
    "$url" >"$WORK/first.json"
messages=$(curl -fs -H "Authorization: Bearer $token" "$base/conversations/$cid/messages?per_page=1" |
    jq -r .total)
callgrind_control -z "$PARLEY_PID" >/dev/null 2>&1
urls=()
for _ in $(seq 1 "$sends"); do urls+=("$url"); done
curl -fs -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -d "$body" \
    "${urls[@]}" >"$WORK/replies.json" || { echo "bench: errors in the sends" >&2; exit 1; }
callgrind_dump_total "$WORK" >"$WORK/total"
total=$(<"$WORK/total")
context=$(jq -s -r '.[-1].data.metadata.context_messages' "$WORK/replies.json")
echo "parley instructions per send into a conversation of $messages messages (callgrind, one I/O thread, SQLite):"
printf '  %-32s %10d instructions/request (%d sends, context %s messages)\n' "POST message (mock), long" \
    $((total / sends)) "$sends" "$context"
if [[ -n ${KEEP_DUMPS:-} ]]; then
    mkdir -p "$KEEP_DUMPS" && cp "$CALLGRIND_DUMP" "$KEEP_DUMPS/callgrind.POST_message_long"
fi
