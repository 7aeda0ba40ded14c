#!/usr/bin/env bash
# Streaming (issue #6), the method public LLM-gateway benchmarks use. A fake OpenAI upstream
# (`parley_stream_load upstream`) answers every streaming chat completion with a role chunk, 64
# content deltas 20 ms apart, a finish chunk, a usage chunk and `data: [DONE]`. The generator
# (`parley_stream_load load`, one thread) opens streams straight to the upstream (the baseline) and
# through Parley (POST /api/v1/conversations/{id}/messages/stream?format=openai, one conversation
# per connection), at concurrency 1, 64, 256, 1024 and 4096, each connection running streams back
# to back. Prints, per level: errors, stalled streams (a gap over 200 ms between deltas), time to
# the first content delta (TTFT, from sending the request) and the gaps between deltas; through
# Parley also what it adds (Parley's percentile minus the direct one at the same level), its CPU
# seconds per 1,000 deltas (/proc/PID/stat) and its resident memory per open stream (highest
# VmRSS during the level minus idle VmRSS, over N); then the largest level with no stalled stream
# and under 0.1% errors. The generator, the upstream and Parley share the machine's cores (the
# harness CPU columns say how much the first two took): an added figure means something only where
# the direct run at that level is clean (no stall, gap p50 ≈ 20 ms).
# Usage: bench/stream.sh — env: LEVELS (default "1 64 256 1024 4096"), C1_STREAMS (streams at
# concurrency 1, default 50), ROUNDS (streams per connection at the other levels, default 3),
# RESULTS_DIR (keep the generator's JSON lines there). Build first: cmake --preset release &&
# cmake --build --preset release --target parley parley_stream_load
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOAD_BIN=${LOAD_BIN:-$BENCH_ROOT/build/release/bench/parley_stream_load}
read -ra levels <<<"${LEVELS:-1 64 256 1024 4096}"
c1_streams=${C1_STREAMS:-50}
rounds=${ROUNDS:-3}
deltas=64
body='{"content":"hello","model":"gpt-4o-mini"}'
[[ -x $LOAD_BIN ]] || {
    echo "bench: $LOAD_BIN not built (cmake --build --preset release --target parley_stream_load)" >&2
    exit 1
}

# Each open stream holds a descriptor in the generator and the upstream, two in Parley.
hard=$(ulimit -Hn)
if [[ $hard == unlimited ]]; then hard=65536; fi
ulimit -n "$hard"
max_level=0
for n in "${levels[@]}"; do
    if ((n > max_level)); then max_level=$n; fi
done
if (($(ulimit -n) < 2 * max_level + 256)); then
    echo "bench: ulimit -n is $(ulimit -n); $((2 * max_level + 256)) needed for $max_level streams" >&2
    exit 1
fi

WORK=$(mktemp -d /tmp/parley-stream.XXXXXX)
UPSTREAM_PID=
SAMPLER_PID=
cleanup() {
    if [[ -n $SAMPLER_PID ]]; then kill "$SAMPLER_PID" 2>/dev/null || true; fi
    stop_parley || true
    if [[ -n $UPSTREAM_PID ]]; then
        kill -TERM "$UPSTREAM_PID" 2>/dev/null || true
        wait "$UPSTREAM_PID" 2>/dev/null || true
    fi
    if [[ -n ${RESULTS_DIR:-} ]]; then
        mkdir -p "$RESULTS_DIR"
        cp "$WORK"/*.json "$RESULTS_DIR"/ 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# The upstream also ends by itself when this script does (PR_SET_PDEATHSIG).
"$LOAD_BIN" upstream --port 0 --deltas "$deltas" --gap-ms 20 >"$WORK/upstream.log" 2>&1 &
UPSTREAM_PID=$!
for _ in $(seq 1 100); do
    UPORT=$(awk '/^listening/ {print $2}' "$WORK/upstream.log")
    [[ -n $UPORT ]] && break
    sleep 0.05
done
[[ -n ${UPORT:-} ]] || { echo "bench: the fake upstream did not start" >&2; cat "$WORK/upstream.log" >&2; exit 1; }

clk_tck=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
# Writes the highest VmRSS of process $1 seen to file $2, every 100 ms until killed.
sample_rss() {
    local max=0 v
    while v=$(rss_kib "$1" 2>/dev/null); do
        if ((v > max)); then max=$v && echo "$max" >"$2"; fi
        sleep 0.1
    done
}
streams_for() { if (($1 == 1)); then echo "$c1_streams"; else echo $(($1 * rounds)); fi; }

# usage: measure OUT N URL [generator options...] — runs the generator and writes its JSON line
# to OUT, with the upstream's CPU seconds (upstream_cpu_s) and, when PARLEY_PID is set, Parley's
# CPU seconds and highest VmRSS during the run (parley_cpu_s, peak_rss_kib).
measure() {
    local out=$1 n=$2 url=$3
    shift 3
    local up0 up1 p0=0 p1=0 rss=0
    if [[ -n ${PARLEY_PID:-} ]]; then
        echo 0 >"$WORK/rss"
        sample_rss "$PARLEY_PID" "$WORK/rss" &
        SAMPLER_PID=$!
        p0=$(cpu_ticks "$PARLEY_PID")
    fi
    up0=$(cpu_ticks "$UPSTREAM_PID")
    "$LOAD_BIN" load --url "$url" --concurrency "$n" --streams "$(streams_for "$n")" \
        --expect-deltas "$deltas" "$@" >"$WORK/line" 2>>"$WORK/load.err"
    up1=$(cpu_ticks "$UPSTREAM_PID")
    if [[ -n $SAMPLER_PID ]]; then
        p1=$(cpu_ticks "$PARLEY_PID")
        kill "$SAMPLER_PID" 2>/dev/null || true
        wait "$SAMPLER_PID" 2>/dev/null || true
        SAMPLER_PID=
        rss=$(cat "$WORK/rss")
    fi
    jq -c --argjson up "$((up1 - up0))" --argjson p "$((p1 - p0))" --argjson hz "$clk_tck" \
        --argjson rss "$rss" \
        '. + {upstream_cpu_s: ($up / $hz), parley_cpu_s: ($p / $hz), peak_rss_kib: $rss}' \
        "$WORK/line" >"$out"
}

# usage: passes FILE — no stalled stream and under 0.1% errors.
passes() { jq -e '.stalls == 0 and .errors < 0.001 * .streams' "$1" >/dev/null; }

echo "parley stream benchmark on $(nproc) cores; upstream: $deltas deltas 20 ms apart; levels ${levels[*]}"
echo
echo "direct to the fake upstream (baseline):"
for n in "${levels[@]}"; do
    measure "$WORK/direct.$n.json" "$n" "http://127.0.0.1:$UPORT/v1/chat/completions"
    sleep 1
done
printf '%-5s %7s %6s %6s %19s %17s %8s %9s %15s\n' N streams errors stalls "TTFT p50/p99 ms" \
    "gap p50/p99 ms" "max gap" "deltas/s" "harness CPU s"
for n in "${levels[@]}"; do
    jq -r '[.concurrency, .streams, .errors, .stalls, .ttft_p50, .ttft_p99, .gap_p50, .gap_p99,
            .max_gap, .deltas_per_s, .cpu_s + .upstream_cpu_s] | @tsv' "$WORK/direct.$n.json" |
        awk '{printf "%-5s %7s %6s %6s %9.3f/%-9.3f %8.3f/%-8.3f %8.1f %9s %15.2f\n",
              $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11}'
done

# --- Parley --------------------------------------------------------------------------------------
start_parley ACCESS_LOG=false RATE_LIMIT_STANDARD=1000000 RATE_LIMIT_AI=1000000 \
    OPENAI_BASE_URL="http://127.0.0.1:$UPORT/v1" OPENAI_API_KEY=x DEFAULT_MODEL=gpt-4o-mini \
    FALLBACK_MODEL= LLM_MAX_RETRIES=0 JWT_ACCESS_TOKEN_EXPIRE_MINUTES=1440
trap cleanup EXIT # start_parley installed its own trap
base="http://127.0.0.1:$PARLEY_PORT/api/v1"
token=$(curl -fs -X POST "$base/auth/register" -H 'Content-Type: application/json' \
    -d '{"email":"stream-bench@example.com","password":"BenchPass123"}' | jq -r .data.access_token)
[[ -n $token && $token != null ]] || { echo "bench: registration failed" >&2; exit 1; }

# One conversation per concurrent connection (titled, so no auto-title request reaches the
# upstream), created over one keep-alive connection.
for i in $(seq 1 "$max_level"); do
    if ((i > 1)); then echo next; fi
    cat <<CFG
url = "$base/conversations"
header = "Authorization: Bearer $token"
header = "Content-Type: application/json"
data = "{\"title\":\"b\"}"
write-out = "\n"
CFG
done >"$WORK/create.cfg"
curl -fs -K "$WORK/create.cfg" | jq -r .data.id |
    sed 's|.*|/api/v1/conversations/&/messages/stream?format=openai|' >"$WORK/targets"
if (($(grep -c . "$WORK/targets") != max_level)) || grep -q null "$WORK/targets"; then
    echo "bench: could not create $max_level conversations" >&2
    exit 1
fi

# The streaming route must exist and end with [DONE].
first=$(head -1 "$WORK/targets")
status=$(curl -s -o "$WORK/probe" -w '%{http_code}' -X POST "http://127.0.0.1:$PARLEY_PORT$first" \
    -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -d "$body")
if [[ $status != 200 ]] || ! grep -q '^data: \[DONE\]' "$WORK/probe"; then
    echo "bench: POST $first answered $status, not an OpenAI stream ending in [DONE]:" >&2
    head -c 600 "$WORK/probe" >&2
    echo >&2
    exit 1
fi

sleep 1
idle_rss=$(rss_kib "$PARLEY_PID")
for n in "${levels[@]}"; do
    measure "$WORK/parley.$n.json" "$n" "http://127.0.0.1:$PARLEY_PORT/" \
        --targets-file "$WORK/targets" --header "Authorization: Bearer $token" --body "$body"
    sleep 1
done

echo
echo "through Parley (+: Parley's percentile minus the direct one; idle VmRSS $idle_rss KiB):"
printf '%-5s %7s %6s %6s %19s %19s %17s %17s %8s %10s %9s %13s\n' N streams errors stalls \
    "TTFT p50/p99 ms" "+TTFT p50/p99" "gap p50/p99 ms" "+gap p50/p99" "max gap" "CPU s/1k d" \
    "KiB/strm" "CPU parley/h"
best=none
passing=1
for n in "${levels[@]}"; do
    jq -r --slurpfile d "$WORK/direct.$n.json" --argjson idle "$idle_rss" \
        '[.concurrency, .streams, .errors, .stalls, .ttft_p50, .ttft_p99,
          .ttft_p50 - $d[0].ttft_p50, .ttft_p99 - $d[0].ttft_p99, .gap_p50, .gap_p99,
          .gap_p50 - $d[0].gap_p50, .gap_p99 - $d[0].gap_p99, .max_gap,
          (if .deltas > 0 then .parley_cpu_s * 1000 / .deltas else -1 end),
          (.peak_rss_kib - $idle) / .concurrency, .parley_cpu_s, .cpu_s + .upstream_cpu_s] | @tsv' \
        "$WORK/parley.$n.json" |
        awk '{printf "%-5s %7s %6s %6s %9.3f/%-9.3f %+9.3f/%-+9.3f %8.3f/%-8.3f %+8.3f/%-+8.3f %8.1f %10.4f %9.1f %6.1f/%-6.1f\n",
              $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17}'
    if ((passing)) && passes "$WORK/parley.$n.json"; then
        best=$n
    else
        passing=0
    fi
done
direct_best=none
for n in "${levels[@]}"; do
    if passes "$WORK/direct.$n.json"; then direct_best=$n; else break; fi
done
echo
echo "largest concurrency with no stalled stream and < 0.1% errors: $best" \
    "(direct, i.e. what this machine's generator and upstream sustain: $direct_best)"
for n in "${levels[@]}"; do
    if [[ $(jq .errors "$WORK/parley.$n.json") != 0 ]]; then
        echo "  N=$n errors: $(jq -c .error_kinds "$WORK/parley.$n.json")"
    fi
done
if [[ -s $WORK/load.err ]]; then
    echo "generator messages:"
    sort "$WORK/load.err" | uniq -c | head -20
fi
