#!/usr/bin/env bash
# System calls Parley makes per non-streaming send (issue 14), counted by strace -c over every
# thread during a send run like bench/conversations.sh's (wrk, 64 connections, one fresh
# conversation, after a warm-up run into it): the database's page reads (pread64), WAL writes
# (pwrite64), locks (fcntl), syncs (fdatasync), the busy handler's sleeps (clock_nanosleep), which
# callgrind's instruction counts do not show. strace slows the server many times over, so only
# the counts per request mean something, not the rates.
# Usage: bench/send-syscalls.sh — env: DURATION (default 5s). Needs strace and a release build.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v strace >/dev/null || { echo "bench: strace not installed" >&2; exit 1; }
start_parley ACCESS_LOG=true RATE_LIMIT_STANDARD=1000000 RATE_LIMIT_AI=1000000 MOCK_TOKEN_DELAY_MS=0
base="http://127.0.0.1:$PARLEY_PORT/api/v1"
token=$(curl -fs -X POST "$base/auth/register" -H 'Content-Type: application/json' \
    -d '{"email":"syscalls@example.com","password":"BenchPass123"}' | jq -r .data.access_token)
cid=$(curl -fs -X POST "$base/conversations" -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' -d '{}' | jq -r .data.id)
WORK=$(mktemp -d /tmp/parley-send-syscalls.XXXXXX)
cleanup() {
    stop_parley || true
    rm -rf "$WORK"
}
trap cleanup EXIT
send_script "$WORK/post.lua" "$token"
wrk -t1 -c64 -d4s -s "$WORK/post.lua" "$base/conversations/$cid/messages" >/dev/null
strace -c -f -p "$PARLEY_PID" -o "$WORK/strace.txt" 2>/dev/null &
strace_pid=$!
sleep 1
out=$(wrk -t1 -c64 -d"${DURATION:-5s}" --timeout 10s -s "$WORK/post.lua" "$base/conversations/$cid/messages")
kill -INT "$strace_pid"
wait "$strace_pid" 2>/dev/null || true
requests=$(awk '/requests in/ {print $1}' <<<"$out")
grep -qE 'Non-2xx|Socket errors' <<<"$out" && echo "bench: errors: $out" >&2
echo "parley system calls per send (strace -c, wrk -c64, $requests sends):"
# strace -c's lines: % time, seconds, usecs/call, calls, [errors,] syscall.
awk -v n="$requests" '$1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" && $4 >= n / 10 {
    printf "  %-16s %8.2f\n", $NF, $4 / n
}' "$WORK/strace.txt"
