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
    # BENCH_DATA_FROM: a data directory to start from (a copy: the original is left as it is).
    if [[ -n ${BENCH_DATA_FROM:-} ]]; then
        cp -a "$BENCH_DATA_FROM" "$BENCH_DIR/data"
    fi
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
    local out cpu_before cpu_after
    cpu_before=$(server_cpu_ticks)
    out=$(wrk --latency "$@")
    cpu_after=$(server_cpu_ticks)
    local rps p50 p99 requests cpu=
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    requests=$(awk '/requests in/ {print $1}' <<<"$out")
    # The server's CPU time per request (user + system, all its threads): unlike req/s it does not
    # fall when other processes take the cores, so it compares runs on a busy machine.
    if [[ -n $cpu_before && -n $cpu_after && ${requests:-0} -gt 0 ]]; then
        cpu=$(awk -v t=$((cpu_after - cpu_before)) -v hz="$(getconf CLK_TCK)" -v n="$requests" \
            'BEGIN { printf "   cpu %6.1f us/req", t * 1e6 / hz / n }')
    fi
    local errors
    errors=$(grep -E 'Non-2xx|Socket errors' <<<"$out" || true)
    printf '%-28s %10s req/s   p50 %8s   p99 %8s%s\n' "$label" "$rps" "$p50" "$p99" "$cpu"
    WRK_LABELS+=("$label")
    WRK_RPS+=("$rps")
    if [[ -n $errors ]]; then
        echo "  !! $errors"
    fi
}

# usage: server_cpu_ticks — user + system clock ticks the server ($PARLEY_PID) has used so far;
# nothing when there is no server.
server_cpu_ticks() {
    [[ -n ${PARLEY_PID:-} && -r /proc/$PARLEY_PID/stat ]] || return 0
    # Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    sed -E 's/^.*\) //' "/proc/$PARLEY_PID/stat" | awk '{print $12 + $13}'
}

# usage: send_script FILE TOKEN — writes a wrk script that POSTs the send benchmarks' question
# with TOKEN as its bearer token.
send_script() {
    cat >"$1" <<LUA
wrk.method = "POST"
wrk.body = '{"content":"What is a REST API? Explain in 2 sentences."}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $2"
LUA
}

WRK_LABELS=()
WRK_RPS=()

# usage: print_ratios — each wrk_summary figure as a ratio to the GET /health figure measured
# before it (labels starting "GET /health"); nothing when no /health was measured.
print_ratios() {
    local health= i
    echo "as a ratio to /health measured in the same run:"
    for i in "${!WRK_LABELS[@]}"; do
        if [[ ${WRK_LABELS[$i]} == "GET /health"* ]]; then
            health=${WRK_RPS[$i]}
        elif [[ -n $health ]]; then
            awk -v l="${WRK_LABELS[$i]}" -v r="${WRK_RPS[$i]}" -v h="$health" \
                'BEGIN { printf "  %-28s %5.2f\n", l, r / h }'
        fi
    done
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

# usage: callgrind_dump_total DIR — asks the server (under callgrind, --callgrind-out-file=DIR/
# callgrind.out) for a dump and prints its total instructions; the dump is left as the one
# DIR/callgrind.out.* file (older ones are removed first). Sets CALLGRIND_DUMP to its path.
callgrind_dump_total() {
    rm -f "$1"/callgrind.out.*
    callgrind_control -d "$PARLEY_PID" >/dev/null 2>&1
    for _ in $(seq 1 100); do
        CALLGRIND_DUMP=$(ls "$1"/callgrind.out.* 2>/dev/null | head -1)
        [[ -n $CALLGRIND_DUMP ]] && grep -q '^totals:' "$CALLGRIND_DUMP" && break
        sleep 0.1
    done
    awk '/^totals:/ {print $2}' "$CALLGRIND_DUMP"
}

# usage: start_nginx DIR — starts nginx as the streaming benchmarks' pass-through to the fake
# upstream (bench/nginx-stream.conf, one worker per core, prefix DIR/nginx, needs UPORT); sets
# NGINX_PID, NPORT and nginx_workers (the workers' PIDs). The caller stops it (kill -QUIT). With
# NGINX_SINGLE=1 one process serves, without a master (nginx_workers is NGINX_PID itself); with
# NGINX_WRAPPER (e.g. "valgrind --tool=callgrind …") nginx runs under that command.
start_nginx() {
    NGINX_BIN=$(command -v nginx || echo /usr/sbin/nginx)
    NGINX_PREFIX=$1/nginx
    mkdir -p "$NGINX_PREFIX"
    chmod 755 "$1" "$NGINX_PREFIX" # nginx's workers drop root privileges
    for d in client_body proxy fastcgi uwsgi scgi; do mkdir -m 777 -p "$NGINX_PREFIX/$d"; done
    local single=${NGINX_SINGLE:-0} workers
    workers=$(nproc)
    if ((single)); then workers=1; fi
    local -a wrapper
    read -ra wrapper <<<"${NGINX_WRAPPER:-}"
    # A port taken between free_port and nginx's bind: try another.
    nginx_workers=()
    for _ in 1 2 3 4 5; do
        NPORT=$(free_port)
        {
            if ((single)); then echo "master_process off;"; fi
            sed -e "s|@PREFIX@|$NGINX_PREFIX|g" -e "s|@LISTEN@|127.0.0.1:$NPORT|g" \
                -e "s|@UPSTREAM@|127.0.0.1:$UPORT|g" -e "s|@WORKERS@|$workers|g" \
                "$BENCH_ROOT/bench/nginx-stream.conf"
        } >"$NGINX_PREFIX/nginx.conf"
        "${wrapper[@]}" "$NGINX_BIN" -p "$NGINX_PREFIX" -c "$NGINX_PREFIX/nginx.conf" \
            -g 'daemon off;' >"$NGINX_PREFIX/stdout.log" 2>&1 &
        NGINX_PID=$!
        # (Under a wrapper such as valgrind, starting takes seconds.)
        for _ in $(seq 1 400); do
            if curl -s -o /dev/null "http://127.0.0.1:$NPORT/" || ! kill -0 "$NGINX_PID" 2>/dev/null; then
                break
            fi
            sleep 0.05
        done
        if kill -0 "$NGINX_PID" 2>/dev/null; then
            sleep 0.2
            if ((single)); then
                nginx_workers=("$NGINX_PID")
            else
                read -ra nginx_workers <<<"$(pgrep -P "$NGINX_PID" | tr '\n' ' ')"
            fi
            break
        fi
        wait "$NGINX_PID" 2>/dev/null || true
        NGINX_PID=
    done
    if ((${#nginx_workers[@]} == 0)); then
        echo "bench: nginx did not start:" >&2
        cat "$NGINX_PREFIX/stdout.log" "$NGINX_PREFIX/error.log" >&2 2>/dev/null
        exit 1
    fi
}

# usage: stop_upstream — stops the fake upstream start_upstream started, if it runs.
stop_upstream() {
    if [[ -n ${UPSTREAM_PID:-} ]]; then
        kill -TERM "$UPSTREAM_PID" 2>/dev/null || true
        wait "$UPSTREAM_PID" 2>/dev/null || true
        UPSTREAM_PID=
    fi
}

# usage: create_stream_targets BASE TOKEN N FILE — creates N conversations through BASE (…/api/v1)
# as TOKEN's user, titled (so no auto-title request reaches the upstream), over one keep-alive
# connection, and writes each one's OpenAI-format stream route to FILE, one a line.
create_stream_targets() {
    local base=$1 token=$2 n=$3 out=$4 i
    for i in $(seq 1 "$n"); do
        if ((i > 1)); then echo next; fi
        cat <<CFG
url = "$base/conversations"
header = "Authorization: Bearer $token"
header = "Content-Type: application/json"
data = "{\"title\":\"b\"}"
write-out = "\n"
CFG
    done >"$out.cfg"
    curl -fs -K "$out.cfg" | jq -r .data.id |
        sed 's|.*|/api/v1/conversations/&/messages/stream?format=openai|' >"$out"
    if (($(grep -c . "$out") != n)) || grep -q null "$out"; then
        echo "bench: could not create $n conversations" >&2
        exit 1
    fi
}

# usage: raise_fd_limit N — raises the open-file limit to the hard one; fails unless N streams fit
# (each holds a descriptor in the generator and the upstream, two in the proxy).
raise_fd_limit() {
    local hard
    hard=$(ulimit -Hn)
    if [[ $hard == unlimited ]]; then hard=65536; fi
    ulimit -n "$hard"
    if (($(ulimit -n) < 2 * $1 + 256)); then
        echo "bench: ulimit -n is $(ulimit -n); $((2 * $1 + 256)) needed for $1 streams" >&2
        exit 1
    fi
}

# usage: start_stream_parley [VAR=value ...] — start_parley as the streaming benchmarks run it
# against the fake upstream (UPORT): its OpenAI provider pointed there, no fallback or retry, no
# rate limits, no access log, day-long access tokens; VAR=value (e.g. WORKERS=1) added.
start_stream_parley() {
    start_parley "$@" ACCESS_LOG=false RATE_LIMIT_STANDARD=1000000 RATE_LIMIT_AI=1000000 \
        OPENAI_BASE_URL="http://127.0.0.1:$UPORT/v1" OPENAI_API_KEY=x DEFAULT_MODEL=gpt-4o-mini \
        FALLBACK_MODEL= LLM_MAX_RETRIES=0 JWT_ACCESS_TOKEN_EXPIRE_MINUTES=1440
}

# usage: seed_conversations EMAIL — registers EMAIL on the running server and gives it the CRUD
# benchmarks' data set: 20 titled conversations, the last with 25 exchanges (50 messages) with the
# mock model. Sets token (EMAIL's access token) and cid (the last conversation).
seed_conversations() {
    local base="http://127.0.0.1:$PARLEY_PORT/api/v1" i
    token=$(register_bench_user "$1")
    for i in $(seq 1 20); do
        cid=$(curl -fs -X POST "$base/conversations" -H "Authorization: Bearer $token" \
            -H 'Content-Type: application/json' -d "{\"title\":\"Bench conversation $i\"}" | jq -r .data.id)
    done
    for i in $(seq 1 25); do
        curl -fs -X POST "$base/conversations/$cid/messages" -H "Authorization: Bearer $token" \
            -H 'Content-Type: application/json' \
            -d "{\"content\":\"Question number $i about REST APIs\"}" >/dev/null
    done
}

# usage: register_bench_user EMAIL — registers EMAIL on the running server and prints its access
# token (fails the script when registration does).
register_bench_user() {
    local token
    token=$(curl -fs -X POST "http://127.0.0.1:$PARLEY_PORT/api/v1/auth/register" \
        -H 'Content-Type: application/json' \
        -d "{\"email\":\"$1\",\"password\":\"BenchPass123\"}" | jq -r .data.access_token)
    [[ -n $token && $token != null ]] || { echo "bench: registration failed" >&2; return 1; }
    echo "$token"
}
