# Shared helpers for the benchmark scripts: start a release parley on a free port with a temporary
# data directory, wait until it answers, and stop it on exit. BENCH_DATABASE=postgres runs it on a
# throw-away PostgreSQL (scripts/pg-temp) instead of SQLite.
set -euo pipefail

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PARLEY_BIN=${PARLEY_BIN:-$BENCH_ROOT/build/release/parley}

start_parley() {
    # usage: start_parley [VAR=value ...] — extra environment for the server
    [[ -x $PARLEY_BIN ]] || { echo "bench: $PARLEY_BIN not built (make build)" >&2; exit 1; }
    BENCH_DIR=$(mktemp -d /tmp/parley-bench.XXXXXX)
    local database=()
    if [[ ${BENCH_DATABASE:-sqlite} == postgres ]]; then
        BENCH_PG_URL=$("$BENCH_ROOT/scripts/pg-temp" start "$BENCH_DIR/pg")
        database=("DATABASE_URL=$BENCH_PG_URL")
    fi
    # PARLEY_WRAPPER: a command to run the server under (valgrind, for bench/stream-instructions.sh).
    local wrapper=()
    read -ra wrapper <<<"${PARLEY_WRAPPER:-}"
    env -u DATABASE_URL -u JWT_SECRET "$@" "${database[@]}" "${wrapper[@]}" "$PARLEY_BIN" serve \
        --port 0 --data-dir "$BENCH_DIR/data" >"$BENCH_DIR/server.log" 2>&1 &
    PARLEY_PID=$!
    trap stop_parley EXIT
    for _ in $(seq 1 $((${#wrapper[@]} ? 1200 : 200))); do
        PARLEY_PORT=$(grep -o '"msg":"listening"[^}]*"port":[0-9]*' "$BENCH_DIR/server.log" 2>/dev/null |
            grep -o '[0-9]*$' || true)
        if [[ -n ${PARLEY_PORT:-} ]] && curl -fs "http://127.0.0.1:$PARLEY_PORT/health" >/dev/null; then
            return 0
        fi
        sleep 0.05
    done
    echo "bench: parley did not start:" >&2
    cat "$BENCH_DIR/server.log" >&2
    exit 1
}

stop_parley() {
    if [[ -n ${PARLEY_PID:-} ]]; then
        kill -TERM "$PARLEY_PID" 2>/dev/null || true
        wait "$PARLEY_PID" 2>/dev/null || true
        PARLEY_PID=
    fi
    if [[ -n ${BENCH_PG_URL:-} ]]; then
        "$BENCH_ROOT/scripts/pg-temp" stop "$BENCH_DIR/pg" || true
        BENCH_PG_URL=
    fi
    [[ -n ${BENCH_DIR:-} ]] && rm -rf "$BENCH_DIR"
}

# usage: wrk_summary LABEL wrk-args... — runs wrk --latency and prints one line of figures.
wrk_summary() {
    local label=$1
    shift
    local out
    out=$(wrk --latency "$@")
    local rps p50 p99
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    local errors
    errors=$(grep -E 'Non-2xx|Socket errors' <<<"$out" || true)
    printf '%-28s %10s req/s   p50 %8s   p99 %8s\n' "$label" "$rps" "$p50" "$p99"
    if [[ -n $errors ]]; then
        echo "  !! $errors"
    fi
}

# usage: free_port — a loopback port nothing listens on, below the kernel's ephemeral range (so no
# outgoing connection holds it); another process may still take it before the caller binds.
free_port() {
    local low=32768 port
    read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
    for _ in $(seq 1 100); do
        port=$((15000 + RANDOM % (low - 15000)))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    echo "bench: no free port found" >&2
    return 1
}

# usage: start_upstream DIR DELTAS — starts the streaming benchmarks' fake OpenAI upstream
# ($LOAD_BIN upstream, DELTAS deltas 20 ms apart; it ends by itself when the calling script does,
# PR_SET_PDEATHSIG) with its log in DIR; sets UPSTREAM_PID and UPORT.
start_upstream() {
    "$LOAD_BIN" upstream --port 0 --deltas "$2" --gap-ms 20 >"$1/upstream.log" 2>&1 &
    UPSTREAM_PID=$!
    UPORT=
    for _ in $(seq 1 100); do
        UPORT=$(awk '/^listening/ {print $2}' "$1/upstream.log")
        [[ -n $UPORT ]] && return 0
        sleep 0.05
    done
    echo "bench: the fake upstream did not start" >&2
    cat "$1/upstream.log" >&2
    exit 1
}
