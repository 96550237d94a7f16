#!/usr/bin/env bash
# Instructions per request, counted by callgrind: a measure of the server's own per-request
# work that the machine's noise cannot move (wall-clock rows on a shared two-core VM vary by
# ±15 % from run to run). Each row runs the server (one worker) under callgrind twice, serving
# 100 and then 2,100 identical requests on one keep-alive connection, and reports the
# difference per request, on the worker thread only (startup, migrations and the background
# tasks run on other threads or cancel out). The framework ceiling (examples/ceiling.rs,
# answering the same bytes) is counted the same way.
#
#   bench/instructions.sh            # ~4 minutes after the release build
#
# Needs valgrind (apt-get install valgrind), curl and python3. Kernel time is not counted:
# compare these with the wall-clock rows of bench/run.sh, not instead of them.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in valgrind callgrind_annotate curl python3; do
    command -v "$tool" > /dev/null || { echo "needs $tool" >&2; exit 1; }
done
cargo build --release --locked --quiet --bin valise --example ceiling
bin=$PWD/target/release/valise
ceiling=$PWD/target/release/examples/ceiling
work=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export DATABASE_URL="sqlite://$work/bench.db" VALISE_DATA_DIR=$work/keys VALISE_BIND=127.0.0.1:$port
# RUST_LOG=info (and VALISE_LOG_FORMAT=json) counts the access log's cost as well.
export VALISE_WORKERS=1 RUST_LOG=${RUST_LOG:-warn} VALISE_RATE_LIMIT_SCALE=1000
export VALISE_ADMIN_EMAIL=bench-admin@example.com VALISE_ADMIN_PASSWORD="bench admin password"

wait_up() { # URL: up to a minute (startup under callgrind is slow)
    for _ in $(seq 1 300); do curl -sf -o /dev/null "$1" && return 0; sleep 0.2; done
    echo "no answer from $1" >&2; exit 1
}

"$bin" seed --demo --products 1000 > /dev/null 2>&1
"$bin" serve > "$work/server.log" 2>&1 &
pid=$!
wait_up "http://127.0.0.1:$port/healthz"
curl -sf "http://127.0.0.1:$port/v1/products?limit=20" > "$work/list.json"
product=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["data"][0]["id"])' < "$work/list.json")
curl -sf "http://127.0.0.1:$port/v1/products/$product" > "$work/product.json"
curl -sf "http://127.0.0.1:$port/healthz" > "$work/healthz.json"
filtered="/v1/products?limit=20&size_class=cabin&in_stock=true&sort=price"
curl -sf "http://127.0.0.1:$port$filtered" > "$work/filtered.json"
# A confirmed customer's access token, for the signed-in row (valid for 15 minutes: the
# rows before it take about five).
curl -sf "http://127.0.0.1:$port/v1/auth/register" -H 'content-type: application/json' \
    -d '{"email":"bench-me@example.com","password":"benchmark password 1","name":"Bench Customer","accepted_policy_version":1}' > /dev/null
"$bin" accounts confirm bench-me@example.com > /dev/null
token=$(curl -sf "http://127.0.0.1:$port/v1/auth/login" -H 'content-type: application/json' \
    -d '{"email":"bench-me@example.com","password":"benchmark password 1"}' |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
curl -sf "http://127.0.0.1:$port/v1/me" -H "authorization: Bearer $token" > "$work/me.json"
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""

# Serves N requests for PATH on one connection, without Accept-Encoding (as wrk sends them),
# with $token as bearer when AUTH=1.
drive() {
    python3 - "$1" "$2" "$port" "${AUTH:-0}" "${token:-}" <<'PY'
import http.client, sys
path, n, port, auth, token = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
c = http.client.HTTPConnection("127.0.0.1", port)
for _ in range(n):
    c.putrequest("GET", path, skip_accept_encoding=True)
    if auth == "1":
        c.putheader("Authorization", f"Bearer {token}")
    c.endheaders()
    r = c.getresponse()
    r.read()
    assert r.status == 200, (path, r.status)
PY
}

# The busiest thread's instruction count of one callgrind run: count RUN PATH -- command...
count() {
    local run=$1 path=$2 n=$3
    shift 4
    valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$work/cg.$run" \
        "$@" > "$work/valgrind.$run.log" 2>&1 &
    pid=$!
    wait_up "http://127.0.0.1:$port/healthz"
    drive "$path" "$n"
    kill -INT "$pid"; wait "$pid" 2>/dev/null || true; pid=""
    for f in "$work/cg.$run"*; do
        callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }'
    done | sort -n | tail -1
    rm -f "$work/cg.$run"*
}

# row NAME PATH -- command...: instructions per request
row() {
    local name=$1 path=$2 few many
    shift 3
    few=$(count few "$path" 100 -- "$@")
    many=$(count many "$path" 2100 -- "$@")
    python3 -c 'import sys; print(f"| {sys.argv[1]} | {(int(sys.argv[3]) - int(sys.argv[2])) // 2000:,} |")' \
        "$name" "$few" "$many"
}

echo "| Row (SQLite, 1000 products, one worker) | Instructions per request |"
echo "|---|---:|"
row "ceiling: product body" / -- "$ceiling" "127.0.0.1:$port" "$work/product.json"
row "GET /v1/products/{id}" "/v1/products/$product" -- "$bin" serve
row "ceiling: healthz body" / -- "$ceiling" "127.0.0.1:$port" "$work/healthz.json"
row "GET /healthz (middleware only)" /healthz -- "$bin" serve
row "ceiling: list body" / -- "$ceiling" "127.0.0.1:$port" "$work/list.json"
row "GET /v1/products?limit=20" "/v1/products?limit=20" -- "$bin" serve
row "ceiling: filtered list body" / -- "$ceiling" "127.0.0.1:$port" "$work/filtered.json"
row "GET /v1/products filtered (cabin, in stock, by price)" "$filtered" -- "$bin" serve
row "ceiling: me body" / -- "$ceiling" "127.0.0.1:$port" "$work/me.json"
AUTH=1 row "GET /v1/me (bearer token, SQLite)" /v1/me -- "$bin" serve
