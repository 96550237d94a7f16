#!/usr/bin/env bash
# Two `valise serve` processes (release unless SERVER_BUILD=debug) on one fresh PostgreSQL database (created and dropped
# here) under checkout load for a scarce variant (examples/multiprocess.rs): no oversell, no
# duplicate order for an Idempotency-Key sent to both processes at once, and every outbox
# notification delivered to a local gateway exactly once.
# PG_ADMIN_URL (postgres://postgres@127.0.0.1:5432/postgres) is where the database is made;
# MP_STOCK (50) and MP_ATTEMPTS (200) size the run.
set -euo pipefail
cd "$(dirname "$0")/.."
export PGGSSENCMODE=${PGGSSENCMODE:-disable}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}

# The server under test is the release build, or with SERVER_BUILD=debug the one `cargo test`
# has already built (CI: the same code, without a second whole-program build); the harness
# itself is built like the tests.
case ${SERVER_BUILD:-release} in
    release) cargo build --release --locked --quiet --bin valise ;;
    debug) cargo build --locked --quiet --bin valise ;;
    *) echo "SERVER_BUILD is release or debug" >&2; exit 2 ;;
esac
cargo build --locked --quiet --example multiprocess
export VALISE_BIN=target/${SERVER_BUILD:-release}/valise
pg_db="valise_multiprocess_$$"
cleanup() {
    psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS \"$pg_db\" WITH (FORCE)" >/dev/null || true
}
trap cleanup EXIT
trap 'exit 143' TERM INT
psql "$PG_ADMIN_URL" -qc "CREATE DATABASE \"$pg_db\""
timeout 180 target/debug/examples/multiprocess "${PG_ADMIN_URL%/*}/$pg_db"
