#!/usr/bin/env bash
# Restore drill: what README's "Backups and restore" tells an operator to do, end to end with
# the real binary, on SQLite and on a PostgreSQL database it creates and drops:
#   1. a live shop: catalogue seeded, an admin, customers A and B registered through the API;
#   2. `valise backup --dir --keep 2` three times: two sets stay, each verifies;
#   3. A erases their account (DELETE /v1/me) after the newest backup, and the erasure
#      ledger is exported (`valise erasures export`), as the schedule does;
#   4. control: the newest backup restored WITHOUT the ledger lets A sign in again (so the
#      check below can fail);
#   5. the newest backup restored into a fresh database with `--ledger`, served, and checked
#      through the API: A cannot sign in nor refresh a session from before the backup; B and
#      the admin sign in and B's profile reads back; the catalogue reads back whole; and
#      `valise audit verify` passes on the restored database.
#   .ci/restore-drill.sh                          # both backends
#   DRILL_BACKENDS=sqlite .ci/restore-drill.sh    # one (sqlite | postgres)
# PG_ADMIN_URL (postgres://postgres@127.0.0.1:5432/postgres) is where the databases are made.
# VALISE_BIN picks the binary (default: the debug build, built here). Honours CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
export PGGSSENCMODE=${PGGSSENCMODE:-disable}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
BACKENDS=${DRILL_BACKENDS:-sqlite postgres}
if [ -z "${VALISE_BIN:-}" ]; then
    cargo build --locked --quiet --bin valise
    VALISE_BIN=${CARGO_TARGET_DIR:-target}/debug/valise
fi
bin=$VALISE_BIN

work=$(mktemp -d)
pg_dbs=()
server_pid=""
stop_server() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=""
    fi
}
cleanup() {
    stop_server
    for db in ${pg_dbs[@]+"${pg_dbs[@]}"}; do
        psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
# `timeout` in .ci/run sends TERM: exit, so that the EXIT trap cleans up.
trap 'exit 143' TERM INT

fail() {
    echo "FATAL (restore drill, $backend): $*" >&2
    exit 1
}
json_field() {
    python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}
# A fresh, empty database of the backend under test; prints its URL.
new_database() {
    case $backend in
        sqlite) echo "sqlite://$dir/$1.db" ;;
        postgres)
            local name="valise_drill_${1}_$$"
            psql "$PG_ADMIN_URL" -qc "CREATE DATABASE \"$name\"" >/dev/null
            echo "${PG_ADMIN_URL%/*}/$name"
            ;;
    esac
}
# Serves DATABASE_URL on a free loopback port; sets BASE.
serve() {
    local port
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    BASE="http://127.0.0.1:$port"
    VALISE_BIND="127.0.0.1:$port" "$bin" serve >>"$dir/server.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 100); do
        curl -sf "$BASE/healthz" >/dev/null && return 0
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    tail -n 20 "$dir/server.log" >&2
    fail "valise serve did not come up on $BASE"
}
# HTTP status of signing in as $1 with password $2.
login_status() {
    curl -s -o /dev/null -w '%{http_code}' "$BASE/v1/auth/login" -H 'content-type: application/json' \
        -d "{\"email\":\"$1\",\"password\":\"$2\"}"
}
login() {
    curl -sf "$BASE/v1/auth/login" -H 'content-type: application/json' \
        -d "{\"email\":\"$1\",\"password\":\"$2\"}"
}
product_count() {
    curl -sf "$BASE/v1/products?limit=100" | python3 -c 'import json, sys; print(len(json.load(sys.stdin)["data"]))'
}

for backend in $BACKENDS; do
    case $backend in sqlite | postgres) ;; *) echo "unknown backend $backend (sqlite | postgres)" >&2; exit 2 ;; esac
    echo "== restore drill on $backend"
    dir="$work/$backend"
    mkdir -p "$dir/keys"
    export VALISE_DATA_DIR="$dir/keys" RUST_LOG=${RUST_LOG:-warn} VALISE_RATE_LIMIT_SCALE=1000
    live=$(new_database live)
    [ "$backend" = postgres ] && pg_dbs+=("valise_drill_live_$$")

    # 1. The live shop.
    export DATABASE_URL=$live
    RUST_LOG=error "$bin" seed --demo --products 12 >/dev/null
    admin_email=drill-admin@shop.example admin_password="drill admin password $$"
    RUST_LOG=error VALISE_ADMIN_PASSWORD="$admin_password" "$bin" admin create \
        --email "$admin_email" --name "Drill Admin" --role admin </dev/null >/dev/null
    serve
    policy=$(curl -sf "$BASE/v1/policies/current" | json_field version)
    a_email="drill-a-$$@example.com" b_email="drill-b-$$@example.com" password="drill password $$"
    for who in "$a_email:Ada Erased" "$b_email:Bo Kept"; do
        curl -sf "$BASE/v1/auth/register" -H 'content-type: application/json' \
            -d "{\"email\":\"${who%%:*}\",\"password\":\"$password\",\"name\":\"${who#*:}\",\"accepted_policy_version\":$policy}" >/dev/null
        RUST_LOG=error "$bin" accounts confirm "${who%%:*}" >/dev/null
    done
    a_session=$(login "$a_email" "$password")
    a_token=$(echo "$a_session" | json_field access_token)
    a_refresh=$(echo "$a_session" | json_field refresh_token)
    products=$(product_count)
    [ "$products" = 12 ] || fail "the live shop lists $products products, not 12"

    # 2. Three rotated backups, two kept.
    for _ in 1 2 3; do
        "$bin" backup --dir "$dir/backups" --keep 2 >/dev/null
    done
    sets=$(find "$dir/backups" -name 'valise-*.backup' | sort)
    [ "$(echo "$sets" | wc -l)" = 2 ] || fail "rotation kept $(echo "$sets" | wc -l) sets, not 2"
    for set in $sets; do
        "$bin" backup --verify "$set" >/dev/null || fail "$set does not verify"
        [ -s "$set.manifest.json" ] && [ -e "$set.erasures.jsonl" ] || fail "$set is incomplete"
    done
    newest=$(echo "$sets" | tail -n 1)

    # 3. A is erased after the backup; the ledger is exported.
    status=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$BASE/v1/me" -H "authorization: Bearer $a_token")
    [ "$status" = 202 ] || fail "DELETE /v1/me answered $status"
    [ "$(login_status "$a_email" "$password")" = 401 ] || fail "A still signs in on the live shop"
    "$bin" erasures export --out "$dir/ledger.jsonl" >/dev/null
    stop_server

    # 4. Control: without the ledger, the backup brings A back.
    bare=$(new_database bare)
    export DATABASE_URL=$bare
    [ "$backend" = postgres ] && pg_dbs+=("valise_drill_bare_$$")
    "$bin" restore "$newest" >/dev/null 2>"$dir/bare.err"
    grep -q "WARNING: no erasure ledger was replayed" "$dir/bare.err" || fail "a restore without the ledger did not warn"
    serve
    [ "$(login_status "$a_email" "$password")" = 200 ] || fail "control: the backup does not hold A"
    stop_server

    # 5. The real restore: fresh database, ledger replayed, then served and checked.
    restored=$(new_database restored)
    export DATABASE_URL=$restored
    [ "$backend" = postgres ] && pg_dbs+=("valise_drill_restored_$$")
    out=$("$bin" restore "$newest" --ledger "$dir/ledger.jsonl")
    echo "$out" | grep -q "1 subjects shredded again" || fail "the ledger replay did not shred A: $out"
    serve
    [ "$(login_status "$a_email" "$password")" = 401 ] || fail "A signs in after the restore"
    status=$(curl -s -o /dev/null -w '%{http_code}' "$BASE/v1/auth/refresh" -H 'content-type: application/json' \
        -d "{\"refresh_token\":\"$a_refresh\"}")
    [ "$status" = 401 ] || fail "A's session from before the backup refreshes ($status)"
    b_token=$(login "$b_email" "$password" | json_field access_token) || fail "B cannot sign in after the restore"
    b_name=$(curl -sf "$BASE/v1/me" -H "authorization: Bearer $b_token" | json_field name)
    [ "$b_name" = "Bo Kept" ] || fail "B's profile reads back as '$b_name'"
    [ "$(login_status "$admin_email" "$admin_password")" = 200 ] || fail "the admin cannot sign in after the restore"
    restored_products=$(product_count)
    [ "$restored_products" = "$products" ] || fail "the restored shop lists $restored_products products, not $products"
    stop_server
    "$bin" audit verify >/dev/null || fail "the restored audit chain does not verify"
    echo "restore drill on $backend: ok (A stays erased, B and the catalogue read back, audit chain intact)"
done
