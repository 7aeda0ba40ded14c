#!/usr/bin/env bash
# Streaming (issues #6 and #14), the method public LLM-gateway benchmarks use. A fake OpenAI upstream
# (`parley_stream_load upstream`) answers every streaming chat completion with a role chunk, 64
# content deltas 20 ms apart, a finish chunk, a usage chunk and `data: [DONE]`. The generator
# (`parley_stream_load load`, one thread) opens streams three ways at concurrency 1, 64, 256, 512
# and 1024, each connection running streams back to back: straight to the upstream (the baseline),
# through nginx as a pass-through (bench/nginx-stream.conf: unbuffered, upstream keep-alive, one
# worker per core, started here on loopback with a temporary prefix), and through Parley
# (POST /api/v1/conversations/{id}/messages/stream?format=openai, one conversation per connection).
# Prints, per level and path: errors, stalled streams (a gap over 200 ms between deltas), time to
# the first content delta (TTFT, from sending the request) and the gaps between deltas; for nginx
# and Parley also what they add (their percentile minus the direct one at the same level), their
# CPU ms per 1,000 deltas (/proc/PID/stat; nginx's master and workers) and resident memory per open
# stream (highest VmRSS during the level minus idle VmRSS, over N); then Parley/nginx ratios and
# the largest level with no stalled stream and under 0.1% errors. Last, the held-streams levels
# (1000 and 4096): the upstream's gap becomes 250 ms (a 16 s answer), N streams are opened at once
# through nginx, then through Parley, and the memory each open stream holds is reported.
# The generator, the upstream, nginx and Parley share the machine's cores (the harness CPU columns
# say how much the first two took): an added figure means something only where the direct run at
# that level is clean (no stall, gap p50 ≈ 20 ms).
# Usage: bench/stream.sh — env: LEVELS (default "1 64 256 512 1024"), HELD (default "1000 4096";
# empty to skip), HELD_GAP_MS (250), C1_STREAMS (streams at concurrency 1, default 50), ROUNDS
# (streams per connection at the other levels, default 3), NGINX (0 to skip it), RESULTS_DIR (keep
# the generator's JSON lines and each stream's TTFT in ms there). Build first: cmake --preset release &&
# cmake --build --preset release --target parley parley_stream_load
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOAD_BIN=${LOAD_BIN:-$BENCH_ROOT/build/release/bench/parley_stream_load}
read -ra levels <<<"${LEVELS:-1 64 256 512 1024}"
read -ra held <<<"${HELD-1000 4096}"
held_gap_ms=${HELD_GAP_MS:-250}
c1_streams=${C1_STREAMS:-50}
rounds=${ROUNDS:-3}
use_nginx=${NGINX:-1}
deltas=64
body='{"content":"hello","model":"gpt-4o-mini"}'
[[ -x $LOAD_BIN ]] || {
    echo "bench: $LOAD_BIN not built (cmake --build --preset release --target parley_stream_load)" >&2
    exit 1
}
if ((use_nginx)) && ! command -v nginx >/dev/null 2>&1 && [[ ! -x /usr/sbin/nginx ]]; then
    echo "bench: nginx not installed (scripts/install-deps); NGINX=0 skips it" >&2
    exit 1
fi

max_level=0
for n in "${levels[@]}" "${held[@]}"; do
    if ((n > max_level)); then max_level=$n; fi
done
raise_fd_limit "$max_level"

WORK=$(mktemp -d /tmp/parley-stream.XXXXXX)
UPSTREAM_PID=
SAMPLER_PID=
NGINX_PID=
cleanup() {
    if [[ -n $SAMPLER_PID ]]; then kill "$SAMPLER_PID" 2>/dev/null || true; fi
    stop_parley || true
    if [[ -n $NGINX_PID ]]; then
        kill -QUIT "$NGINX_PID" 2>/dev/null || true
        wait "$NGINX_PID" 2>/dev/null || true
    fi
    if [[ -n $UPSTREAM_PID ]]; then
        kill -TERM "$UPSTREAM_PID" 2>/dev/null || true
        wait "$UPSTREAM_PID" 2>/dev/null || true
    fi
    if [[ -n ${RESULTS_DIR:-} ]]; then
        mkdir -p "$RESULTS_DIR"
        cp "$WORK"/*.json "$WORK"/*.ttfts "$RESULTS_DIR"/ 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

start_upstream "$WORK" "$deltas"
set_gap() {
    curl -fs -X POST "http://127.0.0.1:$UPORT/bench/gap-ms" -d "$1" >/dev/null ||
        { echo "bench: the upstream refused gap $1" >&2; exit 1; }
}

clk_tck=$(getconf CLK_TCK)
# The measured processes: MEASURED holds their PIDs (Parley's, or nginx's master and workers).
MEASURED=()
cpu_ticks() {
    local t=0 p
    for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
    echo "$t"
}
rss_kib() {
    local t=0 p v
    for p in "$@"; do
        v=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status") || return 1
        t=$((t + v))
    done
    echo "$t"
}
# Writes the highest VmRSS (summed over the PIDs) seen to file $1, every 100 ms until killed.
sample_rss() {
    local out=$1 max=0 v
    shift
    while v=$(rss_kib "$@" 2>/dev/null); do
        # (Renamed into place: the sampler may be killed mid-write.)
        if ((v > max)); then max=$v && echo "$max" >"$out.new" && mv "$out.new" "$out"; fi
        sleep 0.1
    done
}
streams_for() { if (($1 == 1)); then echo "$c1_streams"; else echo $(($1 * rounds)); fi; }

# usage: measure OUT N STREAMS URL [generator options...] — runs the generator and writes its JSON
# line to OUT, with the upstream's CPU seconds (upstream_cpu_s) and, when MEASURED is set, their
# CPU seconds and highest VmRSS during the run (parley_cpu_s, peak_rss_kib).
measure() {
    local out=$1 n=$2 streams=$3 url=$4
    shift 4
    local up0 up1 p0=0 p1=0 rss=0
    if ((${#MEASURED[@]})); then
        echo 0 >"$WORK/rss"
        sample_rss "$WORK/rss" "${MEASURED[@]}" &
        SAMPLER_PID=$!
        p0=$(cpu_ticks "${MEASURED[@]}")
    fi
    up0=$(cpu_ticks "$UPSTREAM_PID")
    "$LOAD_BIN" load --url "$url" --concurrency "$n" --streams "$streams" \
        --expect-deltas "$deltas" --ttfts-file "${out%.json}.ttfts" "$@" >"$WORK/line" \
        2>>"$WORK/load.err"
    up1=$(cpu_ticks "$UPSTREAM_PID")
    if [[ -n $SAMPLER_PID ]]; then
        p1=$(cpu_ticks "${MEASURED[@]}")
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

# usage: report NAME IDLE_KIB — the table of a proxied path (nginx or parley) against direct.
report() {
    local name=$1 idle=$2 n
    printf '%-5s %7s %6s %6s %19s %19s %17s %17s %8s %11s %9s %13s\n' N streams errors stalls \
        "TTFT p50/p99 ms" "+TTFT p50/p99" "gap p50/p99 ms" "+gap p50/p99" "max gap" "CPU ms/1k d" \
        "KiB/strm" "CPU proxy/h"
    for n in "${levels[@]}"; do
        jq -r --slurpfile d "$WORK/direct.$n.json" --argjson idle "$idle" \
            '[.concurrency, .streams, .errors, .stalls, .ttft_p50, .ttft_p99,
              .ttft_p50 - $d[0].ttft_p50, .ttft_p99 - $d[0].ttft_p99, .gap_p50, .gap_p99,
              .gap_p50 - $d[0].gap_p50, .gap_p99 - $d[0].gap_p99, .max_gap,
              (if .deltas > 0 then .parley_cpu_s * 1e6 / .deltas else -1 end),
              (.peak_rss_kib - $idle) / .concurrency, .parley_cpu_s, .cpu_s + .upstream_cpu_s] | @tsv' \
            "$WORK/$name.$n.json" |
            awk '{printf "%-5s %7s %6s %6s %9.3f/%-9.3f %+9.3f/%-+9.3f %8.3f/%-8.3f %+8.3f/%-+8.3f %8.1f %11.1f %9.1f %6.1f/%-6.1f\n",
                  $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17}'
    done
}

echo "parley stream benchmark on $(nproc) cores; upstream: $deltas deltas 20 ms apart; levels ${levels[*]}"
echo
echo "direct to the fake upstream (baseline):"
for n in "${levels[@]}"; do
    measure "$WORK/direct.$n.json" "$n" "$(streams_for "$n")" "http://127.0.0.1:$UPORT/v1/chat/completions"
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

# --- nginx ---------------------------------------------------------------------------------------
if ((use_nginx)); then
    start_nginx "$WORK"
    MEASURED=("$NGINX_PID" "${nginx_workers[@]}")
    nginx_idle=$(rss_kib "${MEASURED[@]}")
    for n in "${levels[@]}"; do
        measure "$WORK/nginx.$n.json" "$n" "$(streams_for "$n")" \
            "http://127.0.0.1:$NPORT/v1/chat/completions"
        sleep 1
    done
    MEASURED=()
    echo
    echo "through nginx (+: nginx's percentile minus the direct one; idle VmRSS $nginx_idle KiB," \
        "master and ${#nginx_workers[@]} workers):"
    report nginx "$nginx_idle"
fi

# --- Parley --------------------------------------------------------------------------------------
start_stream_parley
trap cleanup EXIT # start_parley installed its own trap
base="http://127.0.0.1:$PARLEY_PORT/api/v1"
token=$(register_bench_user stream-bench@example.com)

# One conversation per concurrent connection.
create_stream_targets "$base" "$token" "$max_level" "$WORK/targets"

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
parley_args=(--targets-file "$WORK/targets" --header "Authorization: Bearer $token" --body "$body")
MEASURED=("$PARLEY_PID")
for n in "${levels[@]}"; do
    measure "$WORK/parley.$n.json" "$n" "$(streams_for "$n")" "http://127.0.0.1:$PARLEY_PORT/" \
        "${parley_args[@]}"
    sleep 1
done
MEASURED=()

echo
echo "through Parley (+: Parley's percentile minus the direct one; idle VmRSS $idle_rss KiB):"
report parley "$idle_rss"
best=none
for n in "${levels[@]}"; do
    if passes "$WORK/parley.$n.json"; then best=$n; else break; fi
done
direct_best=none
for n in "${levels[@]}"; do
    if passes "$WORK/direct.$n.json"; then direct_best=$n; else break; fi
done
echo
echo "largest concurrency with no stalled stream and < 0.1% errors: $best" \
    "(direct, i.e. what this machine's generator and upstream sustain: $direct_best)"

if ((use_nginx)); then
    echo
    echo "Parley / nginx, same run:"
    printf '%-5s %25s %25s %25s\n' N "CPU ms/1k deltas (ratio)" "+TTFT p99 ms" "KiB/stream (ratio)"
    for n in "${levels[@]}"; do
        jq -rn --slurpfile p "$WORK/parley.$n.json" --slurpfile x "$WORK/nginx.$n.json" \
            --slurpfile d "$WORK/direct.$n.json" --argjson pi "$idle_rss" --argjson xi "$nginx_idle" \
            '($p[0].parley_cpu_s * 1e6 / ([$p[0].deltas, 1] | max)) as $pc
             | ($x[0].parley_cpu_s * 1e6 / ([$x[0].deltas, 1] | max)) as $xc
             | (($p[0].peak_rss_kib - $pi) / $p[0].concurrency) as $pm
             | (($x[0].peak_rss_kib - $xi) / $x[0].concurrency) as $xm
             | [$p[0].concurrency, $pc, $xc, (if $xc > 0 then $pc / $xc else 0 end),
                $p[0].ttft_p99 - $d[0].ttft_p99, $x[0].ttft_p99 - $d[0].ttft_p99,
                $pm, $xm, (if $xm > 0 then $pm / $xm else 0 end)] | @tsv' |
            awk '{printf "%-5s %7.1f / %-6.1f (%4.2fx) %+9.2f / %-+9.2f %9.1f / %-6.1f (%4.2fx)\n",
                  $1, $2, $3, $4, $5, $6, $7, $8, $9}'
    done
    echo "(each column: Parley / nginx)"
fi

# --- held streams --------------------------------------------------------------------------------
# N streams open at once, each a 64-delta answer HELD_GAP_MS apart: what an open stream costs in
# memory, whatever its path (KiB per stream = highest VmRSS during the level minus idle, over N).
if ((${#held[@]})); then
    set_gap "$held_gap_ms"
    held_args=(--stall-ms $((held_gap_ms * 4)) --ramp-ms 2000 --timeout-s 60)
    for n in "${held[@]}"; do
        if ((use_nginx)); then
            MEASURED=("$NGINX_PID" "${nginx_workers[@]}")
            measure "$WORK/held-nginx.$n.json" "$n" "$n" \
                "http://127.0.0.1:$NPORT/v1/chat/completions" "${held_args[@]}"
            sleep 1
        fi
        MEASURED=("$PARLEY_PID")
        measure "$WORK/held-parley.$n.json" "$n" "$n" "http://127.0.0.1:$PARLEY_PORT/" \
            "${parley_args[@]}" "${held_args[@]}"
        MEASURED=()
        sleep 1
    done
    set_gap 20
    echo
    echo "held streams ($deltas deltas ${held_gap_ms} ms apart, all N open at once):"
    printf '%-7s %-6s %7s %6s %6s %17s %12s %10s\n' path N streams errors stalls \
        "TTFT p50/p99 ms" "peak KiB" "KiB/strm"
    for n in "${held[@]}"; do
        for path in nginx parley; do
            [[ -f $WORK/held-$path.$n.json ]] || continue
            idle=$idle_rss
            if [[ $path == nginx ]]; then idle=$nginx_idle; fi
            jq -r --arg path "$path" --argjson idle "$idle" \
                '[$path, .concurrency, .streams, .errors, .stalls, .ttft_p50, .ttft_p99,
                  .peak_rss_kib, (.peak_rss_kib - $idle) / .concurrency] | @tsv' \
                "$WORK/held-$path.$n.json" |
                awk '{printf "%-7s %-6s %7s %6s %6s %8.1f/%-8.1f %12s %10.1f\n",
                      $1, $2, $3, $4, $5, $6, $7, $8, $9}'
        done
    done
fi

for f in "$WORK"/parley.*.json "$WORK"/nginx.*.json "$WORK"/held-*.json; do
    [[ -f $f ]] || continue
    if [[ $(jq .errors "$f") != 0 ]]; then
        echo "  $(basename "$f" .json) errors: $(jq -c .error_kinds "$f")"
    fi
done
if [[ -s $WORK/load.err ]]; then
    echo "generator messages:"
    sort "$WORK/load.err" | uniq -c | head -20
fi
