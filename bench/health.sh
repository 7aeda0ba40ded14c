#!/usr/bin/env bash
# GET /health with keep-alive: 64 connections, 10 s, wrk on the same machine (one wrk thread, so
# the server keeps both cores' worth of event loops). Prints requests/s and p50/p99 latency.
# Usage: bench/health.sh [RUNS] — default 3 runs; the median is what docs/benchmarks.md records.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
runs=${1:-3}
duration=${DURATION:-10s}

start_parley ACCESS_LOG=true LOG_LEVEL=info
echo "parley $("$PARLEY_BIN" version | awk '{print $2}') on $(nproc) cores; wrk -t1 -c64 -d$duration"
wrk -t1 -c64 -d2s "http://127.0.0.1:$PARLEY_PORT/health" >/dev/null  # warm-up
for i in $(seq 1 "$runs"); do
    wrk_summary "GET /health run $i" -t1 -c64 -d"$duration" "http://127.0.0.1:$PARLEY_PORT/health"
done
