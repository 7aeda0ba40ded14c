#!/usr/bin/env bash
# System calls per streamed delta, Parley against nginx (issue 14). bench/stream.sh measures CPU
# time per delta, most of which is spent in the kernel on both paths; this script says where: it
# runs bench/stream.sh's fake upstream (deltas 20 ms apart) and streams STREAMS answers over
# CONCURRENCY connections through nginx (bench/nginx-stream.conf) and through Parley (POST
# …/messages/stream?format=openai, default two I/O threads), each once with 16 deltas an answer and
# once with 64, with `strace -c -f` attached to the server for each run. Per delta = the difference
# over the 48 extra deltas of each stream (the per-stream work cancels out); printed by system call,
# with the CPU time and context switches per delta and per stream (perf stat, in a second pair of
# runs without strace attached), and that CPU time split into user and kernel time (the servers'
# utime and stime from /proc, in ticks of 10 ms, over the same runs).
# Usage: bench/stream-syscalls.sh — env: STREAMS (default 64), CONCURRENCY (default 16), WORKERS
# (Parley's I/O threads, default 2), KEEP (a directory to keep the strace summaries in).
# Needs strace, perf (linux-perf), nginx and a release build (cmake --build --preset release --target parley
# parley_stream_load).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOAD_BIN=${LOAD_BIN:-$BENCH_ROOT/build/release/bench/parley_stream_load}
streams=${STREAMS:-64}
concurrency=${CONCURRENCY:-16}
workers=${WORKERS:-2}
body='{"content":"hello","model":"gpt-4o-mini"}'
for tool in strace perf; do command -v $tool >/dev/null || { echo "bench: $tool not installed" >&2; exit 1; }; done
[[ -x $LOAD_BIN ]] || { echo "bench: $LOAD_BIN not built" >&2; exit 1; }

WORK=$(mktemp -d /tmp/parley-syscalls.XXXXXX)
UPSTREAM_PID=
NGINX_PID=
cleanup() {
    stop_parley || true
    if [[ -n $NGINX_PID ]]; then
        kill -QUIT "$NGINX_PID" 2>/dev/null || true
        wait "$NGINX_PID" 2>/dev/null || true
    fi
    stop_upstream
    if [[ -n ${KEEP:-} ]]; then mkdir -p "$KEEP" && cp "$WORK"/*.strace "$KEEP"/ 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

start_upstream "$WORK" 16
set_deltas() { curl -fs -X POST "http://127.0.0.1:$UPORT/bench/deltas" -d "$1" >/dev/null; }

# usage: ticks FIELD PIDS... — the sum of /proc/PID/stat's FIELD (14 utime, 15 stime) over PIDS.
ticks() {
    local field=$1 pid total=0
    shift
    for pid in "$@"; do
        # The command name (field 2) is in parentheses and may hold spaces: count after it.
        total=$((total + $(sed 's/.*) //' "/proc/$pid/stat" | cut -d' ' -f$((field - 2)))))
    done
    echo "$total"
}

# usage: run NAME DELTAS URL PIDS [generator options...] — one load run with strace attached to
# every PID (-f: and their threads), then the same run without it for CPU time; writes
# $WORK/NAME.DELTAS.strace and prints "task_clock_ms context_switches user_ms kernel_ms" of the
# second run.
run() {
    local name=$1 deltas=$2 url=$3 pids=$4
    shift 4
    local opts=() p
    for p in $pids; do opts+=(-p "$p"); done
    set_deltas "$deltas"
    # With -c, strace prints its summary when detached; -U picks the columns.
    strace -c -f -U calls,name -o "$WORK/$name.$deltas.strace" "${opts[@]}" 2>/dev/null &
    local strace_pid=$!
    sleep 1
    "$LOAD_BIN" load --url "$url" --concurrency "$concurrency" --streams "$streams" \
        --expect-deltas "$deltas" --stall-ms 100000 --timeout-s 120 "$@" >"$WORK/line" ||
        { echo "bench: the $name run failed: $(cat "$WORK/line")" >&2; exit 1; }
    jq -e '.errors == 0' "$WORK/line" >/dev/null ||
        { echo "bench: errors in the $name $deltas-delta run: $(cat "$WORK/line")" >&2; exit 1; }
    kill -INT "$strace_pid"
    wait "$strace_pid" 2>/dev/null || true
    # The same run again without strace, under perf stat (task clock and context switches of every
    # thread of the PIDs).
    local csv="$WORK/$name.$deltas.perf"
    perf stat -x, -e task-clock,context-switches -o "$csv" -p "${pids// /,}" &
    local perf_pid=$!
    sleep 0.3
    local user0 kernel0 user1 kernel1
    # (Unquoted: one argument per PID.)
    # shellcheck disable=SC2086
    user0=$(ticks 14 $pids) && kernel0=$(ticks 15 $pids)
    "$LOAD_BIN" load --url "$url" --concurrency "$concurrency" --streams "$streams" \
        --expect-deltas "$deltas" --stall-ms 100000 --timeout-s 120 "$@" >"$WORK/line"
    # shellcheck disable=SC2086
    user1=$(ticks 14 $pids) && kernel1=$(ticks 15 $pids)
    kill -INT "$perf_pid"
    wait "$perf_pid" 2>/dev/null || true
    # perf stat -x,: "value,unit,event,..." lines; task-clock in ms. Ticks are 10 ms.
    awk -F, -v u=$(((user1 - user0) * 10)) -v k=$(((kernel1 - kernel0) * 10)) \
        '$3 ~ /^task-clock/ {t = $1} $3 ~ /^context-switches/ {c = $1} END {print t, c, u, k}' "$csv"
}

# usage: report NAME CPU16 CPU64 — syscalls per delta by name, and CPU per delta, for one path.
report() {
    local name=$1
    local extra=$((streams * 48))
    echo "$name: system calls per delta ($streams streams over $concurrency connections; 64- minus 16-delta run over $extra deltas)"
    # strace -c -U calls,name: "calls syscall" lines between dashed rules, then a total line.
    join -a1 -a2 -e 0 -o 0,1.2,2.2 \
        <(awk 'NF == 2 && $1 ~ /^[0-9]+$/ && $2 != "total" {print $2, $1}' "$WORK/$name.16.strace" | sort) \
        <(awk 'NF == 2 && $1 ~ /^[0-9]+$/ && $2 != "total" {print $2, $1}' "$WORK/$name.64.strace" | sort) |
        awk -v n="$extra" '{d = ($3 - $2) / n; t += d; if (d >= 0.01 || d <= -0.01) printf "  %-16s %7.2f\n", $1, d}
            END {printf "  %-16s %7.2f\n", "total", t}' | sort -k2 -n -r
    echo "  system calls per stream besides its deltas (16-delta run less its deltas, over $streams streams):"
    join -a1 -a2 -e 0 -o 0,1.2,2.2 \
        <(awk 'NF == 2 && $1 ~ /^[0-9]+$/ && $2 != "total" {print $2, $1}' "$WORK/$name.16.strace" | sort) \
        <(awk 'NF == 2 && $1 ~ /^[0-9]+$/ && $2 != "total" {print $2, $1}' "$WORK/$name.64.strace" | sort) |
        awk -v s="$streams" '{d = ($2 - ($3 - $2) / 3) / s; t += d; if (d >= 0.5) printf "    %-14s %7.1f\n", $1, d}
            END {printf "    %-14s %7.1f\n", "total", t}' | sort -k2 -n -r
    echo "$2 $3" | awk -v n="$extra" -v s="$streams" '{
        printf "  CPU per delta (perf stat, no strace): %.1f µs, %.2f context switches\n", ($5 - $1) * 1e3 / n, ($6 - $2) / n
        printf "    of it user %.1f µs, kernel %.1f µs (utime, stime)\n", ($7 - $3) * 1e3 / n, ($8 - $4) * 1e3 / n
        printf "  CPU per stream besides its deltas: %.0f µs\n", ($1 - ($5 - $1) / 3) * 1e3 / s
        printf "    of it user %.0f µs, kernel %.0f µs\n", ($3 - ($7 - $3) / 3) * 1e3 / s, ($4 - ($8 - $4) / 3) * 1e3 / s }'
}

if command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]]; then
    start_nginx "$WORK"
    nurl="http://127.0.0.1:$NPORT/v1/chat/completions"
    npids="${nginx_workers[*]}"
    run nginx 16 "$nurl" "$npids" >/dev/null # warm-up: upstream keep-alive connections
    n16=$(run nginx 16 "$nurl" "$npids")
    n64=$(run nginx 64 "$nurl" "$npids")
    report nginx "$n16" "$n64"
    kill -QUIT "$NGINX_PID" && wait "$NGINX_PID" 2>/dev/null || true
    NGINX_PID=
fi

start_stream_parley WORKERS="$workers"
trap cleanup EXIT
base="http://127.0.0.1:$PARLEY_PORT/api/v1"
token=$(register_bench_user syscall-bench@example.com)
create_stream_targets "$base" "$token" "$concurrency" "$WORK/targets"
purl="http://127.0.0.1:$PARLEY_PORT/"
popts=(--targets-file "$WORK/targets" --header "Authorization: Bearer $token" --body "$body")
run parley 16 "$purl" "$PARLEY_PID" "${popts[@]}" >/dev/null # warm-up
p16=$(run parley 16 "$purl" "$PARLEY_PID" "${popts[@]}")
p64=$(run parley 64 "$purl" "$PARLEY_PID" "${popts[@]}")
report parley "$p16" "$p64"
