#!/usr/bin/env bash
# Authenticated requests: GET /api/v1/auth/me with a JWT and with an API key, against GET /health,
# 64 keep-alive connections, wrk on the same machine. The rate limit is raised out of the way so
# that the figures measure authentication, not 429s.
# Usage: bench/auth.sh [RUNS] — default 3 runs each; record the medians in docs/benchmarks.md.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
runs=${1:-3}
duration=${DURATION:-8s}

start_parley ACCESS_LOG=true RATE_LIMIT_STANDARD=1000000
base="http://127.0.0.1:$PARLEY_PORT"
session=$(curl -fs -X POST "$base/api/v1/auth/register" -H 'Content-Type: application/json' \
    -d '{"email":"bench@example.com","password":"BenchPass123"}')
token=$(sed -E 's/.*"access_token":"([^"]+)".*/\1/' <<<"$session")
key=$(curl -fs -X POST "$base/api/v1/api-keys" -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' -d '{"name":"bench","scopes":["read"]}' |
    sed -E 's/.*"key":"([^"]+)".*/\1/')

echo "parley $("$PARLEY_BIN" version | awk '{print $2}') on $(nproc) cores; wrk -t1 -c64 -d$duration"
wrk -t1 -c64 -d2s "$base/health" >/dev/null  # warm-up
for i in $(seq 1 "$runs"); do
    wrk_summary "GET /health run $i" -t1 -c64 -d"$duration" "$base/health"
    wrk_summary "GET /auth/me JWT run $i" -t1 -c64 -d"$duration" -H "Authorization: Bearer $token" \
        "$base/api/v1/auth/me"
    wrk_summary "GET /auth/me API key run $i" -t1 -c64 -d"$duration" -H "X-API-Key: $key" \
        "$base/api/v1/auth/me"
done
print_ratios
