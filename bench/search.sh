#!/usr/bin/env bash
# Full-text search (issue 11): 100,000 messages of generated prose for one user among 100 users
# (the others have 500 each), then p50/p99 of GET /api/v1/search for single words, phrases and
# OR-queries (wrk, one connection: latency, not throughput; then 16 connections), and the size of
# the index on disk. BENCH_DATABASE=postgres runs it on PostgreSQL.
# Usage: bench/search.sh [MESSAGES] — default 100000; record the figures in docs/benchmarks.md.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
messages=${1:-100000}
duration=${DURATION:-8s}
SEED_BIN=${SEED_BIN:-$BENCH_ROOT/build/release/bench/parley_search_seed}
[[ -x $SEED_BIN ]] || { echo "bench: $SEED_BIN not built (make build)" >&2; exit 1; }

start_parley RATE_LIMIT_STANDARD=1000000 RATE_LIMIT_AI=1000000 RATE_LIMIT_AUTH=1000000
base="http://127.0.0.1:$PARLEY_PORT/api/v1"
if [[ ${BENCH_DATABASE:-sqlite} == postgres ]]; then
    db_url=$BENCH_PG_URL
else
    db_url="sqlite://$BENCH_DIR/data/parley.db"
fi
started=$(date +%s)
email=$("$SEED_BIN" "$db_url" "$messages")
echo "seeded $messages messages for $email (+ 99 users x 500) in $(($(date +%s) - started)) s"
token=$(curl -fs -X POST "$base/auth/login" -H 'Content-Type: application/json' \
    -d "{\"email\":\"$email\",\"password\":\"BenchPass123\"}" | sed -E 's/.*"access_token":"([^"]+)".*/\1/')

# A wrk script that cycles through the given queries (URL-encoded), one per request.
queries_script() {
    local file
    file=$(mktemp /tmp/parley-bench-search.XXXXXX.lua)
    {
        echo "local queries = {"
        for q in "$@"; do
            printf '  "%s",\n' "$(node -e 'process.stdout.write(encodeURIComponent(process.argv[1]))' "$q")"
        done
        echo "}"
        echo "local i = 0"
        echo "wrk.headers[\"Authorization\"] = \"Bearer $token\""
        echo 'request = function() i = i % #queries + 1; return wrk.format("GET", "/api/v1/search?limit=20&q=" .. queries[i]) end'
    } >"$file"
    echo "$file"
}

words=$(queries_script stream python garden kiwi latency recipe benchmark invoice guitar cheese)
phrases=$(queries_script '"stream the"' '"python rust"' '"server stream"' '"the kiwi"' '"search query"' \
    '"tool calling"' '"coffee morning"')
ors=$(queries_script 'kiwi OR papaya' 'garden OR forest' 'python OR rust' 'guitar OR piano' 'invoice OR budget')
common=$(queries_script the stream server)

echo "parley $("$PARLEY_BIN" version | awk '{print $2}') on $(nproc) cores; ${BENCH_DATABASE:-sqlite}; GET /api/v1/search?limit=20"
for c in 1 16; do
    wrk_summary "single words -c$c" -t1 -c$c -d"$duration" -s "$words" "$base/search"
    wrk_summary "phrases -c$c" -t1 -c$c -d"$duration" -s "$phrases" "$base/search"
    wrk_summary "OR-queries -c$c" -t1 -c$c -d"$duration" -s "$ors" "$base/search"
    wrk_summary "most common words -c$c" -t1 -c$c -d"$duration" -s "$common" "$base/search"
done
rm -f "$words" "$phrases" "$ors" "$common"

if [[ ${BENCH_DATABASE:-sqlite} == postgres ]]; then
    psql "$BENCH_PG_URL" -Atc "SELECT 'index on disk: GIN ' || pg_size_pretty(pg_relation_size('messages_search')) || ' + tsvector column ' || pg_size_pretty(sum(pg_column_size(search))::bigint) || ' (table ' || pg_size_pretty(pg_total_relation_size('messages')) || ' in all)' FROM messages"
else
    python3 - "$BENCH_DIR/data/parley.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
try:
    fts = db.execute("SELECT SUM(pgsize) FROM dbstat WHERE name LIKE 'messages_fts%'").fetchone()[0]
    total = db.execute("SELECT SUM(pgsize) FROM dbstat").fetchone()[0]
    print(f"index on disk: FTS5 {fts / 1e6:.1f} MB (database {total / 1e6:.1f} MB in all)")
except sqlite3.OperationalError:
    pages = db.execute("PRAGMA page_count").fetchone()[0] * db.execute("PRAGMA page_size").fetchone()[0]
    print(f"database {pages / 1e6:.1f} MB in all (this sqlite3 has no dbstat)")
PY
fi
