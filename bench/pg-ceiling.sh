#!/usr/bin/env bash
# What PostgreSQL alone serves of the CRUD reads (issue 14): Parley on a throw-away PostgreSQL with
# conversations.sh's data set; one request of each kind with the statement log on gives the exact
# statements it executes and their parameters; pgbench then runs those statements, prepared, as
# one transaction per request (64 and 10 clients, like wrk's connections and the pool), with no
# Parley in between. Per kind: requests/s and PostgreSQL's CPU per request (user + system of the
# postmaster and its backends, from /proc), the ceiling Parley cannot pass on the same cores.
# Usage: bench/pg-ceiling.sh — env: DURATION (pgbench -T seconds, default 8), CLIENTS (default
# "64 10"). Needs a release build (make build), pgbench and psql (the postgresql package).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
duration=${DURATION:-8}
psql_bin=/usr/lib/postgresql/15/bin/psql
pgbench_bin=/usr/lib/postgresql/15/bin/pgbench
# The account cache outlives the capture, so a request's statements are its own, not a refresh's.
BENCH_DATABASE=postgres start_parley ACCESS_LOG=false RATE_LIMIT_STANDARD=1000000 \
    RATE_LIMIT_AI=1000000 MOCK_TOKEN_DELAY_MS=0 ACCOUNT_CACHE_TTL_MS=600000
cluster=$BENCH_DIR/pg
[[ -f $cluster/cluster ]] && cluster=$(<"$cluster/cluster")
log=$cluster/server.log

seed_conversations bench@example.com
base="http://127.0.0.1:$PARLEY_PORT/api/v1"
auth=(-H "Authorization: Bearer $token")
"$psql_bin" "$BENCH_PG_URL" -q -c "VACUUM ANALYZE" \
    -c "ALTER SYSTEM SET log_min_duration_statement = 0" -c "SELECT pg_reload_conf()" >/dev/null

# usage: capture NAME curl-args… — the statements one request executes (its second run: the
# account is cached, the statements prepared), as a pgbench script NAME.sql whose parameters are
# pgbench variables (:sNpM), and their values as -D options in NAME.vars.
capture() {
    local name=$1 before
    shift
    curl -fs "$@" >/dev/null
    sleep 0.3 # the server writes its log asynchronously
    before=$(wc -l <"$log")
    curl -fs "$@" >/dev/null
    sleep 0.3
    tail -n +$((before + 1)) "$log" | awk -v sql="$BENCH_DIR/$name.sql" -v vars="$BENCH_DIR/$name.vars" '
        function flush() { if (pending) print s ";" >> sql; pending = 0 }
        match($0, /execute [^:]*: /) { flush(); n++; s = substr($0, RSTART + RLENGTH); pending = 1; next }
        pending == 1 && /DETAIL:  parameters: / {
            rest = $0; m = 0
            while (match(rest, /\$[0-9]+ = \047[^\047]*\047/)) {
                p = substr(rest, RSTART, RLENGTH); rest = substr(rest, RSTART + RLENGTH)
                k[++m] = substr(p, 2, index(p, " ") - 2); v = substr(p, index(p, "\047") + 1)
                printf " -D s%dp%s=%s", n, k[m], substr(v, 1, length(v) - 1) >> vars
            }
            for (i = m; i >= 1; i--) { gsub("\\$" k[i], ":s" n "p" k[i], s) }  # $10 before $1
            pending = 2
            next
        }
        { flush() }
        END { flush() }'
    if [[ ! -s $BENCH_DIR/$name.sql ]]; then
        echo "bench: no statements captured for $name" >&2
        exit 1
    fi
}
capture list "${auth[@]}" "$base/conversations"
capture conversation "${auth[@]}" "$base/conversations/$cid"
"$psql_bin" "$BENCH_PG_URL" -q -c "ALTER SYSTEM RESET log_min_duration_statement" \
    -c "SELECT pg_reload_conf()" >/dev/null
stop_server_only() {
    kill -TERM "$PARLEY_PID" 2>/dev/null || true
    wait "$PARLEY_PID" 2>/dev/null || true
    PARLEY_PID=
}
stop_server_only # pgbench alone on the cores

# usage: pg_ticks — CPU clock ticks of the cluster: the postmaster's own and its reaped children's,
# plus its live children's.
pg_ticks() {
    local pm total child
    pm=$(head -1 "$cluster/data/postmaster.pid")
    total=$(sed -E 's/^.*\) //' "/proc/$pm/stat" | awk '{print $12 + $13 + $14 + $15}')
    for child in $(pgrep -P "$pm"); do
        total=$((total + $(sed -E 's/^.*\) //' "/proc/$child/stat" 2>/dev/null | awk '{print $12 + $13}' || echo 0)))
    done
    echo "$total"
}

echo "pgbench -M prepared -T $duration, the statements of one request as one transaction:"
for name in list conversation; do
    echo "  $name: $(grep -c . "$BENCH_DIR/$name.sql") statement(s)"
    cut -c1-90 "$BENCH_DIR/$name.sql" | sed 's/^/      /'
    read -ra vars <<<"$(cat "$BENCH_DIR/$name.vars" 2>/dev/null)"
    for clients in ${CLIENTS:-64 10}; do
        before=$(pg_ticks)
        out=$("$pgbench_bin" -n -M prepared -c "$clients" -j 2 -T "$duration" -f "$BENCH_DIR/$name.sql" \
            "${vars[@]}" "$BENCH_PG_URL" 2>&1) || { echo "$out" >&2; exit 1; }
        after=$(pg_ticks)
        tx=$(awk '/number of transactions actually processed/ {print $NF}' <<<"$out" | cut -d/ -f1)
        tps=$(awk '/^tps/ {print $3; exit}' <<<"$out")
        awk -v c="$clients" -v tps="$tps" -v t=$((after - before)) -v tx="$tx" -v hz="$(getconf CLK_TCK)" \
            'BEGIN { printf "    %3d clients %9.0f requests/s   PostgreSQL CPU %6.1f us/request\n", c, tps, t * 1e6 / hz / tx }'
    done
done
