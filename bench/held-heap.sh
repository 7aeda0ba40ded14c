#!/usr/bin/env bash
# Memory per open stream (issue 14), by holder: the held-streams level of bench/stream.sh (N
# streams open at once through POST …/messages/stream?format=openai, the fake upstream's deltas
# 250 ms apart, a 64-delta answer of 16 s) with Parley run under heaptrack. Prints the VmRSS each
# open stream adds (highest VmRSS during the level minus idle VmRSS, over N; heaptrack's own
# bookkeeping is in it: HEAPTRACK=0 gives the plain figure), the heap live at its peak over N, and
# that peak's bytes per stream grouped by the innermost Parley frame of each allocation's stack
# (`heaptrack_print --flamegraph-cost-type peak`), largest first. Asio/Beast allocations made with
# no Parley frame on the stack (co_spawn entry points, operation states) are one group.
# With HISTORY=H each stream goes into a conversation that already holds H messages of
# HISTORY_BYTES (default 1000) each, user and assistant in turn (imported, ChatGPT's format), so
# the turn's context is that history: what a held stream keeps of it shows in the figures.
# Usage: bench/held-heap.sh [N] (default 1000) — env: HEAPTRACK (1: under heaptrack, the default;
# 0: VmRSS only), TOP (groups printed, default 40), KEEP (a directory to keep the heaptrack file
# and the grouped stacks in), HISTORY (default 0), HISTORY_BYTES, PARLEY_BIN, LOAD_BIN. Needs
# heaptrack and a release build (cmake --build --preset release --target parley
# parley_stream_load).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOAD_BIN=${LOAD_BIN:-$BENCH_ROOT/build/release/bench/parley_stream_load}
n=${1:-1000}
use_heaptrack=${HEAPTRACK:-1}
top=${TOP:-40}
deltas=64
gap_ms=250
body='{"content":"hello","model":"gpt-4o-mini"}'
[[ -x $LOAD_BIN ]] || { echo "bench: $LOAD_BIN not built" >&2; exit 1; }
if ((use_heaptrack)); then
    command -v heaptrack >/dev/null || { echo "bench: heaptrack not installed" >&2; exit 1; }
fi
raise_fd_limit "$n"

WORK=$(mktemp -d /tmp/parley-heldheap.XXXXXX)
UPSTREAM_PID=
SAMPLER_PID=
SERVER_PID=
cleanup() {
    if [[ -n $SAMPLER_PID ]]; then kill "$SAMPLER_PID" 2>/dev/null || true; fi
    if [[ -n $SERVER_PID ]]; then kill -TERM "$SERVER_PID" 2>/dev/null || true; fi
    stop_parley || true
    stop_upstream
    rm -rf "$WORK"
}
trap cleanup EXIT

start_upstream "$WORK" "$deltas"
curl -fs -X POST "http://127.0.0.1:$UPORT/bench/gap-ms" -d "$gap_ms" >/dev/null

wrapper=
if ((use_heaptrack)); then wrapper="heaptrack -o $WORK/heap"; fi
PARLEY_WRAPPER=$wrapper start_stream_parley WORKERS=2
trap cleanup EXIT # start_parley installed its own trap
# Under heaptrack, PARLEY_PID is heaptrack's script: the server is its child.
SERVER_PID=$PARLEY_PID
if ((use_heaptrack)); then
    for _ in $(seq 1 50); do
        SERVER_PID=$(pgrep -P "$PARLEY_PID" -f "$(basename "$PARLEY_BIN") serve" | head -1 || true)
        [[ -n $SERVER_PID ]] && break
        sleep 0.1
    done
    [[ -n $SERVER_PID ]] || { echo "bench: no server under heaptrack" >&2; exit 1; }
fi

base="http://127.0.0.1:$PARLEY_PORT/api/v1"
token=$(register_bench_user held-bench@example.com)
history=${HISTORY:-0}
if ((history > 0)); then
    # usage: history_batch K — K conversations of the history, as one ChatGPT export.
    history_batch() {
        jq -n --argjson k "$1" --argjson h "$history" --argjson bytes "${HISTORY_BYTES:-1000}" '
            ("lorem ipsum dolor sit amet " * (($bytes / 27 | floor) + 1))[0:$bytes] as $text
            | def id($i): "n\($i)";
            [range(0; $k) | {title: "history", current_node: id($h), mapping: (
                [range(0; $h + 1) as $i | {key: id($i), value: {
                    id: id($i),
                    parent: (if $i == 0 then null else id($i - 1) end),
                    children: (if $i == $h then [] else [id($i + 1)] end),
                    message: (if $i == 0 then null else {
                        id: "m\($i)",
                        author: {role: (if $i % 2 == 1 then "user" else "assistant" end)},
                        content: {content_type: "text", parts: [$text]},
                        create_time: (1700000000 + $i)} end)}}]
                | from_entries)}]'
    }
    : >"$WORK/targets"
    for ((left = n; left > 0; left -= 25)); do
        history_batch $((left < 25 ? left : 25)) >"$WORK/history.json"
        curl -fs "$base/conversations/import" -H "Authorization: Bearer $token" \
            -H 'Content-Type: application/json' --data-binary @"$WORK/history.json" |
            jq -r '.data[].id' | sed 's|.*|/api/v1/conversations/&/messages/stream?format=openai|' \
            >>"$WORK/targets"
    done
    if (($(grep -c . "$WORK/targets") != n)); then
        echo "bench: could not import $n conversations of $history messages" >&2
        exit 1
    fi
else
    create_stream_targets "$base" "$token" "$n" "$WORK/targets"
fi

rss_of() { awk '/^VmRSS:/ {print $2}' "/proc/$SERVER_PID/status"; }
sleep 1
idle=$(rss_of)
echo "$idle" >"$WORK/rss"
(
    max=$idle
    while v=$(rss_of 2>/dev/null) && [[ -n $v ]]; do
        if ((v > max)); then max=$v && echo "$max" >"$WORK/rss.new" && mv "$WORK/rss.new" "$WORK/rss"; fi
        sleep 0.1
    done
) &
SAMPLER_PID=$!
"$LOAD_BIN" load --url "http://127.0.0.1:$PARLEY_PORT/" --targets-file "$WORK/targets" \
    --header "Authorization: Bearer $token" --body "$body" --concurrency "$n" --streams "$n" \
    --expect-deltas "$deltas" --stall-ms $((gap_ms * 4)) --ramp-ms 2000 --timeout-s 60 \
    >"$WORK/line" 2>"$WORK/load.err"
kill "$SAMPLER_PID" 2>/dev/null || true
wait "$SAMPLER_PID" 2>/dev/null || true
SAMPLER_PID=
peak=$(cat "$WORK/rss")
jq -r '"streams \(.streams), errors \(.errors), stalls \(.stalls)"' "$WORK/line"
awk -v p="$peak" -v i="$idle" -v n="$n" \
    'BEGIN { printf "VmRSS: idle %d KiB, peak %d KiB: %.1f KiB per open stream\n", i, p, (p - i) / n }'

# Stop the server so that heaptrack writes its file.
kill -TERM "$SERVER_PID" 2>/dev/null || true
wait "$PARLEY_PID" 2>/dev/null || true
PARLEY_PID=
SERVER_PID=
((use_heaptrack)) || exit 0

file=$(ls "$WORK"/heap* 2>/dev/null | head -1)
[[ -n $file ]] || { echo "bench: heaptrack wrote no file" >&2; exit 1; }
heaptrack_print -f "$file" --print-peaks 0 --print-allocators 0 --print-temporary 0 \
    --print-leaks 0 --flamegraph-cost-type peak -F "$WORK/stacks.txt" >"$WORK/summary.txt" 2>&1 || true
grep -E '^peak heap memory consumption' "$WORK/summary.txt" |
    awk -v n="$n" '{ v = $NF; m = 1; if (v ~ /K$/) m = 1e3; if (v ~ /M$/) m = 1e6; if (v ~ /G$/) m = 1e9;
                     sub(/[KMG]$/, "", v); printf "heap at its peak: %s (%.0f bytes per stream)\n", $NF, v * m / n }'
# Each line of stacks.txt: frames outermost first, ';'-separated, then the bytes at the peak.
python3 - "$WORK/stacks.txt" "$n" "$top" <<'PY' | tee "$WORK/groups.txt"
import re, sys
path, n, top = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

def name_of(frame):
    # The function's qualified name: template arguments and the parameter list dropped, and the
    # return type (`void`, `boost::asio::awaitable<> `) before it.
    out, depth = [], 0
    for c in frame:
        if c == "<":
            depth += 1
            if depth == 1:
                out.append("<>")
        elif c == ">":
            depth -= 1
        elif depth == 0:
            out.append(c)
    name = "".join(out)
    i = name.find("(")
    while i >= 0 and name.startswith("(anonymous", i):
        i = name.find("(", i + 1)
    if i >= 0:
        name = name[:i]
    return name.split(" ")[-1] if " " in name.replace("(anonymous namespace)", "") else name

# Parley frames that hold every thread's event loop: not holders.
OUTER = {"parley::http::Server::run", "parley::app::App::serve", "parley::release"}

groups, total = {}, 0
for line in open(path, errors="replace"):
    stack, _, cost = line.rstrip("\n").rpartition(" ")
    if not cost.isdigit():
        continue
    cost = int(cost)
    total += cost
    holder = "(no Parley frame: Asio/Beast/std)"
    for frame in reversed(stack.split(";")):
        name = name_of(frame)
        if name.startswith("parley::") and name not in OUTER:
            holder = name[:150]
            break
    groups[holder] = groups.get(holder, 0) + cost
print(f"bytes per stream at the heap's peak, by innermost Parley frame ({total / n:.0f} in all):")
for holder, cost in sorted(groups.items(), key=lambda kv: -kv[1])[:top]:
    print(f"{cost / n:9.0f}  {holder}")
PY
if [[ -n ${KEEP:-} ]]; then
    mkdir -p "$KEEP" && cp "$file" "$WORK/stacks.txt" "$WORK/groups.txt" "$KEEP"/
fi
