#!/usr/bin/env bash
# The checkout flow's floor on PostgreSQL: how many orders per second the database alone
# completes on this machine, with the statements one order needs (bench/pg_floor.sql) and
# nothing in front of it, driven by pgbench with 16 clients like the harness's checkout row.
#
#   bench/pg_floor.sh            # prepared statements (as diesel runs most of ours)
#   MODES="prepared extended" bench/pg_floor.sh   # also parsing and planning every statement
#
# Knobs: PG_ADMIN_URL (postgres://postgres@127.0.0.1:5432/postgres), CLIENTS (16), DURATION (15, seconds).
set -euo pipefail
cd "$(dirname "$0")/.."
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
CLIENTS=${CLIENTS:-16}
DURATION=${DURATION:-15}
MODES=${MODES:-prepared}
db="valise_floor_$$"
url="${PG_ADMIN_URL%/*}/$db"
work=$(mktemp -d)
cleanup() {
    psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
cargo build --release --quiet --bin valise
psql "$PG_ADMIN_URL" -qc "CREATE DATABASE \"$db\""
DATABASE_URL=$url VALISE_DATA_DIR=$work/keys target/release/valise seed --demo --products 1000 2>/dev/null | tail -1
read -r variant product < <(psql "$url" -Atc \
    "UPDATE variants SET available = 1000000000 WHERE id = (SELECT min(id) FROM variants) RETURNING id || ' ' || product_id")
psql "$url" -qc "ANALYZE"
for mode in $MODES; do
    tps=$(pgbench -n -M "$mode" -c "$CLIENTS" -j 2 -T "$DURATION" -D variant="$variant" \
        -D product="$product" -f bench/pg_floor.sql "$url" 2>&1 | awk '/^tps/{print $3}')
    printf 'pgbench -M %s, %s clients, %s s: %.0f orders/s\n' "$mode" "$CLIENTS" "$DURATION" "$tps"
done
