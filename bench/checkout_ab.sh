#!/usr/bin/env bash
# The checkout flow of two builds, side by side: orders/s and the server's CPU per order of
# binary A and binary B, alternated round by round on the same machine (so drift in its load
# hits both), each round on a fresh database. The flow is examples/checkout_load's: cart →
# item → checkout → payment → signed webhook (which since invoices also issues the invoice).
#
#   bench/checkout_ab.sh OLD_VALISE NEW_VALISE
#   # e.g. the build before a change against this one:
#   git worktree add /tmp/before <commit> && (cd /tmp/before && cargo build --release --bin valise)
#   bench/checkout_ab.sh /tmp/before/target/release/valise target/release/valise
#
# Knobs: BACKENDS ("sqlite postgres"), ROUNDS (3), CHECKOUT_CLIENTS (16), CHECKOUT_SECONDS (8),
# PG_ADMIN_URL (postgres://postgres@127.0.0.1:5432/postgres; a database is made and dropped).
# Prints one line per run and the median of each side per backend.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 2 ] || { echo "usage: bench/checkout_ab.sh VALISE_A VALISE_B" >&2; exit 2; }
bins=("$(realpath "$1")" "$(realpath "$2")")
BACKENDS=${BACKENDS:-sqlite postgres}
ROUNDS=${ROUNDS:-3}
CHECKOUT_CLIENTS=${CHECKOUT_CLIENTS:-16}
CHECKOUT_SECONDS=${CHECKOUT_SECONDS:-8}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
export PGGSSENCMODE=${PGGSSENCMODE:-disable}

cargo build --release --locked --quiet --example checkout_load
load=$PWD/target/release/examples/checkout_load
work=$(mktemp -d)
server="" pg_db=""
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    [ -n "$pg_db" ] && psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS \"$pg_db\" WITH (FORCE)"
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
ticks() { python3 -c "import sys; f = open('/proc/$1/stat').read().rsplit(')', 1)[1].split(); print(int(f[11]) + int(f[12]))"; }
json() { python3 -c "import json, sys; v = json.load(sys.stdin)
for k in '$1'.split('.'): v = v[int(k)] if k.isdigit() else v[k]
print(v)"; }

# One run: a fresh database, the demo catalogue, a variant with ample stock, two seconds of
# warm-up (then ANALYZE on PostgreSQL), then the measured flow. Prints "orders/s ms-per-order".
run() {
    local bin=$1 backend=$2 url port base token variant before after
    case $backend in
        sqlite) url="sqlite://$work/ab.db"; rm -f "$work"/ab.db* ;;
        postgres)
            pg_db="valise_ab_$$"
            psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS \"$pg_db\" WITH (FORCE)" -c "CREATE DATABASE \"$pg_db\""
            url="${PG_ADMIN_URL%/*}/$pg_db" ;;
        *) echo "unknown backend $backend" >&2; exit 2 ;;
    esac
    port=$(free_port)
    base="http://127.0.0.1:$port"
    rm -rf "$work/keys"
    export DATABASE_URL=$url VALISE_DATA_DIR=$work/keys VALISE_BIND=127.0.0.1:$port RUST_LOG=warn
    export VALISE_ADMIN_EMAIL=bench-admin@example.com VALISE_ADMIN_PASSWORD="bench admin password"
    export VALISE_RATE_LIMIT_SCALE=1000
    "$bin" seed --demo --products 50 > /dev/null 2>&1
    "$bin" serve >> "$work/server.log" 2>&1 &
    server=$!
    for _ in $(seq 100); do curl -sf "$base/healthz" > /dev/null && break; sleep 0.1; done
    token=$(curl -sf "$base/v1/auth/login" -H 'content-type: application/json' \
        -d "{\"email\":\"$VALISE_ADMIN_EMAIL\",\"password\":\"$VALISE_ADMIN_PASSWORD\"}" | json access_token)
    variant=$(curl -sf "$base/v1/products?limit=1" | json data.0.id)
    variant=$(curl -sf "$base/v1/products/$variant" | json variants.0.id)
    curl -sf -X PUT "$base/v1/admin/variants/$variant/stock" -H "authorization: Bearer $token" \
        -H 'content-type: application/json' -d '{"available": 1000000}' > /dev/null
    "$load" "$base" "$variant" "$CHECKOUT_CLIENTS" 2 > /dev/null
    if [ "$backend" = postgres ]; then psql "$url" -qc 'ANALYZE'; fi
    before=$(ticks "$server")
    "$load" "$base" "$variant" "$CHECKOUT_CLIENTS" "$CHECKOUT_SECONDS" > "$work/flow.txt"
    after=$(ticks "$server")
    kill "$server"; wait "$server" 2>/dev/null || true; server=""
    if [ -n "$pg_db" ]; then psql "$PG_ADMIN_URL" -qc "DROP DATABASE \"$pg_db\" WITH (FORCE)"; pg_db=""; fi
    python3 - "$work/flow.txt" "$before" "$after" "$(getconf CLK_TCK)" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
rate = float(re.search(r"\| ([\d.]+) orders/s", text).group(1))
orders = int(re.search(r"(\d+) orders, (\d+) errors", text).group(1))
errors = int(re.search(r"(\d+) orders, (\d+) errors", text).group(2))
cpu_ms = (int(sys.argv[3]) - int(sys.argv[2])) * 1000 / int(sys.argv[4])
print(f"{rate:.0f} {cpu_ms / max(orders, 1):.2f} {errors}")
PY
}

for backend in $BACKENDS; do
    declare -a rates_a=() rates_b=() cpu_a=() cpu_b=()
    for round in $(seq "$ROUNDS"); do
        for side in 0 1; do
            read -r rate cpu errors < <(run "${bins[$side]}" "$backend")
            label=$([ $side = 0 ] && echo A || echo B)
            echo "$backend round $round $label: $rate orders/s, $cpu ms server CPU per order, $errors errors"
            if [ $side = 0 ]; then rates_a+=("$rate"); cpu_a+=("$cpu"); else rates_b+=("$rate"); cpu_b+=("$cpu"); fi
        done
    done
    python3 - "$backend" "${rates_a[*]}" "${cpu_a[*]}" "${rates_b[*]}" "${cpu_b[*]}" <<'PY'
import statistics, sys
b, ra, ca, rb, cb = sys.argv[1:]
m = lambda s: statistics.median(float(x) for x in s.split())
print(f"{b}: A {m(ra):.0f} orders/s, {m(ca):.2f} ms CPU/order | B {m(rb):.0f} orders/s, "
      f"{m(cb):.2f} ms CPU/order | B/A {m(rb) / m(ra):.2f} orders/s, {m(cb) / m(ca):.2f} CPU")
PY
done
