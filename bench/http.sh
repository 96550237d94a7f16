#!/usr/bin/env bash
# HTTP benchmarks of the release build on loopback, with wrk (Debian package).
#   bench/http.sh                 # SQLite (temporary file)
#   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/valise_bench bench/http.sh
# Prints one line per scenario: requests/s, p50, p99 (wrk's latency distribution), RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
PORT=${PORT:-18080}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }

PRODUCTS=${PRODUCTS:-1000}
cargo build --release --quiet
cargo build --release --quiet --example ceiling --example checkout_load
work=$(mktemp -d)
server=""
ceiling=""
trap 'kill $server $ceiling 2>/dev/null || true; rm -rf "$work"' EXIT

if [ -n "${BENCH_DATABASE_URL:-}" ]; then
    db_name=${BENCH_DATABASE_URL##*/}
    admin_url=${BENCH_DATABASE_URL%/*}/postgres
    psql "$admin_url" -qc "DROP DATABASE IF EXISTS \"$db_name\" WITH (FORCE)" -c "CREATE DATABASE \"$db_name\""
    export DATABASE_URL=$BENCH_DATABASE_URL
else
    export DATABASE_URL="sqlite://$work/bench.db"
fi
export VALISE_DATA_DIR=$work VALISE_BIND=127.0.0.1:$PORT RUST_LOG=warn VALISE_RATE_LIMIT_SCALE=1000
export VALISE_ADMIN_EMAIL=bench-admin@example.com VALISE_ADMIN_PASSWORD="bench admin password"
./target/release/valise seed --demo --products "$PRODUCTS" | tail -1 >&2
./target/release/valise serve &
server=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
base="http://127.0.0.1:$PORT"

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/${1:-$server}/status"; }

report() { # name, wrk output file [, pid]
    python3 - "$1" "$2" "$(rss_kib "${3:-$server}")" <<'PY'
import re, sys
name, path, rss = sys.argv[1], sys.argv[2], int(sys.argv[3])
text = open(path).read()
def latency(p):
    m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)" % p, text, re.M)
    if not m: return "?"
    v, unit = float(m.group(1)), m.group(2)
    return "%.2f ms" % (v / 1000 if unit == "us" else v * 1000 if unit == "s" else v)
rps = re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
print(f"| {name} | {float(rps):,.0f} | {latency(50)} | {latency(99)} | {rss/1024:.0f} MiB | {errors.group(1) if errors else 0} |")
PY
}

run() { wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$@"; }
product_id=$(curl -sf "$base/v1/products?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][0]["id"])')
curl -sf "$base/v1/products?limit=20" > "$work/list.json"
curl -sf "$base/v1/products/$product_id" > "$work/product.json"

echo "| scenario | req/s | p50 | p99 | RSS | non-2xx |"
echo "|---|---|---|---|---|---|"
run "$base/healthz" > "$work/healthz.txt"
report "GET /healthz (full middleware, tiny body)" "$work/healthz.txt"
for body in list product; do
    ./target/release/examples/ceiling "127.0.0.1:$((PORT + 1))" "$work/$body.json" &
    ceiling=$!
    sleep 0.5
    run "http://127.0.0.1:$((PORT + 1))/" > "$work/ceiling-$body.txt"
    report "ceiling: constant $(wc -c < "$work/$body.json") B ($body-sized)" "$work/ceiling-$body.txt" "$ceiling"
    kill $ceiling; wait $ceiling 2>/dev/null || true; ceiling=""
done
run "$base/v1/products?limit=20" > "$work/list.txt"
report "GET /v1/products?limit=20" "$work/list.txt"
run "$base/v1/products?limit=20&size_class=cabin&in_stock=true&sort=price" > "$work/filtered.txt"
report "GET /v1/products?limit=20&size_class=cabin&in_stock=true&sort=price" "$work/filtered.txt"
cat > "$work/pages.lua" <<'LUA'
-- 50 different filter combinations, so the cache serves some and the database the rest.
local classes = {"underseat", "cabin", "medium", "large", "extra_large"}
local styles = {"business", "travel", "adventure", "kids", "weekender"}
local n = 0
request = function()
  n = n + 1
  local path = string.format("/v1/products?limit=20&size_class=%s&style=%s&max_price=%d",
    classes[n % 5 + 1], styles[math.floor(n / 5) % 5 + 1], 20000 + (n % 2) * 30000)
  return wrk.format("GET", path)
end
LUA
run -s "$work/pages.lua" "$base" > "$work/mixed.txt"
report "GET /v1/products mixed filters (50 combinations)" "$work/mixed.txt"
run "$base/v1/products/$product_id" > "$work/by-id.txt"
report "GET /v1/products/{id}" "$work/by-id.txt"
# Accounts last: the password-hashing pool keeps one 19 MiB Argon2 buffer per core, which
# would otherwise count in the catalogue rows' RSS.
email="bench-$$@example.com"
password="benchmark password 1"
curl -sf "$base/v1/auth/register" -H 'content-type: application/json' \
    -d "{\"email\":\"$email\",\"password\":\"$password\",\"name\":\"Bench Mark\",\"accepted_policy_version\":1}" > /dev/null
# No mailbox here: the operator's support command confirms the address.
./target/release/valise accounts confirm "$email" > /dev/null
token=$(curl -sf "$base/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"email\":\"$email\",\"password\":\"$password\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
run "$base/v1/policies/current" > "$work/policy.txt"
report "GET /v1/policies/current" "$work/policy.txt"
run -H "Authorization: Bearer $token" "$base/v1/me" > "$work/me.txt"
report "GET /v1/me (JWT + decrypt)" "$work/me.txt"
cat > "$work/login.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email":"$email","password":"$password"}'
LUA
# Few connections: each login is one Argon2id hash on the blocking pool.
wrk -t2 -c4 -d"$DURATION" --latency -s "$work/login.lua" "$base/v1/auth/login" > "$work/login.txt"
report "POST /v1/auth/login (Argon2id)" "$work/login.txt"

# Checkout: 16 clients, each looping cart -> item -> checkout -> payment -> signed webhook.
admin_token=$(curl -sf "$base/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"email\":\"$VALISE_ADMIN_EMAIL\",\"password\":\"$VALISE_ADMIN_PASSWORD\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
variant_id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["variants"][0]["id"])' "$work/product.json")
curl -sf -X PUT "$base/v1/admin/variants/$variant_id/stock" -H "authorization: Bearer $admin_token" \
    -H 'content-type: application/json' -d '{"available": 1000000}' > /dev/null
./target/release/examples/checkout_load "$base" "$variant_id" 16 "${DURATION%s}"
