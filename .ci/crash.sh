#!/usr/bin/env bash
# Crash durability against the release build (examples/crash.rs), on SQLite and then on a
# fresh PostgreSQL database that it creates and drops: checkout load, `kill -9` of
# `valise serve` mid-load, restart, then proof that every order acknowledged with 201
# exists, that stock adds up for every variant, and that no order is half-written.
#   .ci/crash.sh                         # both backends
#   CRASH_BACKENDS=sqlite .ci/crash.sh   # one (sqlite | postgres)
# PG_ADMIN_URL (postgres://postgres@127.0.0.1:5432/postgres) is where the database is made;
# CRASH_CLIENTS (8), CRASH_MIN_ORDERS (200 acknowledged per round) and CRASH_ROUNDS (4 kills)
# tune the load.
set -euo pipefail
cd "$(dirname "$0")/.."
export PGGSSENCMODE=${PGGSSENCMODE:-disable}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
BACKENDS=${CRASH_BACKENDS:-sqlite postgres}

# The server under test is the release build; the harness itself is built like the tests
# (`cargo test` has already built it in CI).
cargo build --release --locked --quiet --bin valise
cargo build --locked --quiet --example crash
export VALISE_BIN=target/release/valise
work=$(mktemp -d)
pg_db=""
cleanup() {
    if [ -n "$pg_db" ]; then
        psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS \"$pg_db\" WITH (FORCE)" >/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
# `timeout` in .ci/run sends TERM: exit, so that the EXIT trap drops the database.
trap 'exit 143' TERM INT

for backend in $BACKENDS; do
    case $backend in
        sqlite)
            echo "== crash durability on SQLite"
            timeout 120 target/debug/examples/crash "sqlite://$work/crash.db"
            ;;
        postgres)
            echo "== crash durability on PostgreSQL"
            pg_db="valise_crash_$$"
            psql "$PG_ADMIN_URL" -qc "CREATE DATABASE \"$pg_db\""
            timeout 120 target/debug/examples/crash "${PG_ADMIN_URL%/*}/$pg_db"
            ;;
        *) echo "unknown backend $backend (sqlite | postgres)" >&2; exit 2 ;;
    esac
done
