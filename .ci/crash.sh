#!/usr/bin/env bash
# Crash durability of `valise serve` (the release build unless SERVER_BUILD=debug), on SQLite and then on a fresh PostgreSQL
# database that it creates and drops; `kill -9` of `valise serve` mid-load, restart, then
# proof in the database:
# - examples/crash.rs: under checkout load, every order acknowledged with 201 exists, stock
#   adds up for every variant, and no order is half-written;
# - examples/crash_invoices.rs: under signed `payment.captured` webhooks and cancellations
#   of paid orders, every paid order has exactly one invoice and every refund one credit
#   note, each series is numbered 1..n per year with no gap or duplicate and its counter at
#   n, and nothing is left in documents_due once the worker has run (about 5 s a backend).
#   .ci/crash.sh                         # both backends
#   CRASH_BACKENDS=sqlite .ci/crash.sh   # one (sqlite | postgres)
# PG_ADMIN_URL (postgres://postgres@127.0.0.1:5432/postgres) is where the databases are made;
# CRASH_CLIENTS (8), CRASH_MIN_ORDERS (200 acknowledged per round) and CRASH_ROUNDS (4 kills)
# tune the checkout load; CRASH_INVOICE_ORDERS (300), CRASH_INVOICE_ROUNDS (3 kills) and
# CRASH_INVOICE_CLIENTS (8) the payment load. Honours CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
export PGGSSENCMODE=${PGGSSENCMODE:-disable}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
BACKENDS=${CRASH_BACKENDS:-sqlite postgres}

# The server under test is the release build, or with SERVER_BUILD=debug the one `cargo test`
# has already built (CI: the same code, without a second whole-program build); the harness
# itself is built like the tests.
target=${CARGO_TARGET_DIR:-target}
case ${SERVER_BUILD:-release} in
    release) cargo build --release --locked --quiet --bin valise ;;
    debug) cargo build --locked --quiet --bin valise ;;
    *) echo "SERVER_BUILD is release or debug" >&2; exit 2 ;;
esac
cargo build --locked --quiet --example crash --example crash_invoices
export VALISE_BIN=$target/${SERVER_BUILD:-release}/valise
work=$(mktemp -d)
pg_dbs=()
cleanup() {
    for db in ${pg_dbs[@]+"${pg_dbs[@]}"}; do
        psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
# `timeout` in .ci/run sends TERM: exit, so that the EXIT trap drops the database.
trap 'exit 143' TERM INT

for backend in $BACKENDS; do
    case $backend in
        sqlite)
            echo "== crash durability on SQLite"
            timeout 120 "$target/debug/examples/crash" "sqlite://$work/crash.db"
            echo "== gap-free invoice numbers under kill -9 on SQLite"
            timeout 90 "$target/debug/examples/crash_invoices" "sqlite://$work/crash_invoices.db"
            ;;
        postgres)
            echo "== crash durability on PostgreSQL"
            pg_dbs+=("valise_crash_$$")
            psql "$PG_ADMIN_URL" -qc "CREATE DATABASE \"valise_crash_$$\""
            timeout 120 "$target/debug/examples/crash" "${PG_ADMIN_URL%/*}/valise_crash_$$"
            echo "== gap-free invoice numbers under kill -9 on PostgreSQL"
            pg_dbs+=("valise_crash_invoices_$$")
            psql "$PG_ADMIN_URL" -qc "CREATE DATABASE \"valise_crash_invoices_$$\""
            timeout 90 "$target/debug/examples/crash_invoices" "${PG_ADMIN_URL%/*}/valise_crash_invoices_$$"
            ;;
        *) echo "unknown backend $backend (sqlite | postgres)" >&2; exit 2 ;;
    esac
done
