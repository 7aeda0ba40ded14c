#!/usr/bin/env bash
# Round trips and PostgreSQL time per CRUD request (issue 14): Parley (one I/O thread) on a
# throw-away PostgreSQL whose statement log is on (log_min_duration_statement = 0); N requests of
# each kind one after another with curl; then, per kind, the statements executed per request (the
# round trips: a prepared statement's execution or a simple-protocol command; prepares are
# counted apart) and the server's execution time per request. With SHOW=1 also each statement's
# share. Unlike req/s, these do not move with the machine's load (the times a little).
# Usage: bench/pg-statements.sh — env: N (requests per kind, default 20), SHOW, LOAD (below). Needs a release
# build (make build) and psql (the postgresql package, as scripts/pg-temp).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
n=${N:-20}
psql_bin=/usr/lib/postgresql/15/bin/psql
BENCH_DATABASE=postgres start_parley WORKERS=1 ACCESS_LOG=false RATE_LIMIT_STANDARD=1000000 \
    RATE_LIMIT_AI=1000000 MOCK_TOKEN_DELAY_MS=0
"$psql_bin" "$BENCH_PG_URL" -q -c "ALTER SYSTEM SET log_min_duration_statement = 0" \
    -c "SELECT pg_reload_conf()" >/dev/null
cluster=$BENCH_DIR/pg
[[ -f $cluster/cluster ]] && cluster=$(<"$cluster/cluster")
log=$cluster/server.log

base="http://127.0.0.1:$PARLEY_PORT/api/v1"
token=$(curl -fs -X POST "$base/auth/register" -H 'Content-Type: application/json' \
    -d '{"email":"pg-bench@example.com","password":"BenchPass123"}' | jq -r .data.access_token)
auth=(-H "Authorization: Bearer $token")
key=$(curl -fs -X POST "$base/api-keys" "${auth[@]}" -H 'Content-Type: application/json' \
    -d '{"name":"bench","scopes":["read","write"]}' | jq -r .data.key)
for i in $(seq 1 20); do
    cid=$(curl -fs -X POST "$base/conversations" "${auth[@]}" -H 'Content-Type: application/json' \
        -d "{\"title\":\"Bench conversation $i\"}" | jq -r .data.id)
done
for i in $(seq 1 25); do
    curl -fs -X POST "$base/conversations/$cid/messages" "${auth[@]}" \
        -H 'Content-Type: application/json' -d "{\"content\":\"Question $i\"}" >/dev/null
done
send_cid=$(curl -fs -X POST "$base/conversations" "${auth[@]}" -H 'Content-Type: application/json' \
    -d '{}' | jq -r .data.id)
send=(-X POST "${auth[@]}" -H 'Content-Type: application/json' -d '{"content":"What is a REST API?"}')

# usage: measure LABEL curl-args… — N requests, then the figures from the log lines they added.
measure() {
    local label=$1 before
    shift
    sleep 0.3 # the server writes its log asynchronously
    before=$(wc -l <"$log")
    for _ in $(seq 1 "$n"); do curl -fs "$@" >/dev/null; done
    sleep 0.3
    tail -n +$((before + 1)) "$log" >"$BENCH_DIR/segment"
    awk -v n="$n" -v label="$label" '
        /duration: .* (execute|statement:)/ { s++ }
        /duration: .* parse / { p++ }
        match($0, /duration: [0-9.]+ ms  (execute|statement)/) {
            split(substr($0, RSTART + 10), f, " "); t += f[1]
        }
        END { printf "  %-28s %5.2f statements/request  %5.2f prepares  PostgreSQL %.3f ms/request\n",
              label, s / n, p / n, t / n }' "$BENCH_DIR/segment"
    if [[ -n ${SHOW:-} ]]; then
        sed -nE 's/.*duration: ([0-9.]+) ms  (execute [^:]*|statement): (.{0,70}).*/\1\t\3/p' \
            "$BENCH_DIR/segment" |
            awk -F'\t' -v n="$n" '{ s[$2] += $1; c[$2]++ }
                END { for (k in s) printf "      %8.3f ms %5.2f x  %s\n", s[k] / n, c[k] / n, k }' |
            sort -rn
    fi
}

echo "PostgreSQL statements per request ($n requests of each kind, one after another):"
measure "GET conversations (20) JWT" "${auth[@]}" "$base/conversations"
measure "GET conversations (20) key" -H "X-API-Key: $key" "$base/conversations"
measure "GET conversation+50 msgs" "${auth[@]}" "$base/conversations/$cid"
measure "POST message (mock)" "${send[@]}" "$base/conversations/$send_cid/messages"
measure "POST …/messages/stream" -N "${send[@]}" "$base/conversations/$send_cid/messages/stream"

# LOAD=5s: then wrk at 64 connections sending into one fresh conversation for that long (the
# sends' context reads grow with it), and the branch read's PostgreSQL time by quarter of the run.
if [[ -n ${LOAD:-} ]]; then
    load_cid=$(curl -fs -X POST "$base/conversations" "${auth[@]}" \
        -H 'Content-Type: application/json' -d '{}' | jq -r .data.id)
    send_script "$BENCH_DIR/post.lua" "$token"
    before=$(wc -l <"$log")
    wrk_summary "POST message, -c64 $LOAD" -t1 -c64 -d"$LOAD" -s "$BENCH_DIR/post.lua" \
        "$base/conversations/$load_cid/messages"
    sleep 0.3
    tail -n +$((before + 1)) "$log" |
        sed -nE 's/.*duration: ([0-9.]+) ms  execute [^:]*: WITH RECURSIVE.*/\1/p' >"$BENCH_DIR/path"
    lines=$(wc -l <"$BENCH_DIR/path")
    echo "  branch reads: $lines; PostgreSQL ms by quarter of the run (p50 / p90 / max):"
    for q in 1 2 3 4; do
        sed -n "$(((q - 1) * lines / 4 + 1)),$((q * lines / 4))p" "$BENCH_DIR/path" | sort -n |
            awk -v q="$q" '{ a[NR] = $1 } END {
                printf "    quarter %d: %.2f / %.2f / %.2f\n", q, a[int(NR / 2)], a[int(NR * 0.9)], a[NR] }'
    done
fi
