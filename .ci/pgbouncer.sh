#!/usr/bin/env bash
# PgBouncer in transaction pooling mode in front of the test PostgreSQL, for the pooler tests
# (tests/api/pooler.rs): listens on 127.0.0.1:PGBOUNCER_PORT (6439), forwards every database
# (`* =`, so the tests' fresh databases too) to PG_PRIMARY_HOST:PG_PRIMARY_PORT
# (127.0.0.1:5432), trusts every local client. Installs Debian's pgbouncer when missing.
# Idempotent: one already answering is left as it is. Runs as the postgres user when started
# as root (PgBouncer refuses root). Its configuration, log and pid are in target/ci/pgbouncer.
# Prints the URL to reach the primary through it last.
# `.ci/pgbouncer.sh stop` stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
export PGGSSENCMODE=${PGGSSENCMODE:-disable}

PRIMARY_HOST=${PG_PRIMARY_HOST:-127.0.0.1}
PRIMARY_PORT=${PG_PRIMARY_PORT:-5432}
PORT=${PGBOUNCER_PORT:-6439}
DIR="$PWD/target/ci/pgbouncer"
URL="postgres://postgres@127.0.0.1:${PORT}/postgres"

as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

answers() {
    [ "$(psql "$URL" -Atc 'SELECT 1' 2>/dev/null)" = 1 ]
}

if [ "${1:-start}" = stop ]; then
    if [ -f "$DIR/pgbouncer.pid" ]; then
        kill "$(cat "$DIR/pgbouncer.pid")" 2>/dev/null || true
    fi
    exit 0
fi

if answers; then
    echo "pgbouncer already answering on port $PORT"
    echo "$URL"
    exit 0
fi

if ! command -v pgbouncer >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer
fi

mkdir -p "$DIR"
[ "$(id -u)" = 0 ] && chown postgres: "$DIR"
# auth_type = trust still wants each user named in the auth file.
as_owner tee "$DIR/userlist.txt" >/dev/null <<EOF
"postgres" ""
EOF
as_owner tee "$DIR/pgbouncer.ini" >/dev/null <<EOF
; The valise CI pooler (.ci/pgbouncer.sh).
[databases]
* = host=$PRIMARY_HOST port=$PRIMARY_PORT

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PORT
unix_socket_dir = $DIR
auth_type = trust
auth_file = $DIR/userlist.txt
pool_mode = transaction
max_client_conn = 1000
default_pool_size = 20
ignore_startup_parameters = extra_float_digits,options
logfile = $DIR/pgbouncer.log
pidfile = $DIR/pgbouncer.pid
EOF
# A pid file left by a PgBouncer that died would stop the new one from starting.
if [ -f "$DIR/pgbouncer.pid" ] && ! kill -0 "$(cat "$DIR/pgbouncer.pid")" 2>/dev/null; then
    rm -f "$DIR/pgbouncer.pid"
fi
as_owner pgbouncer -d "$DIR/pgbouncer.ini"
for _ in $(seq 1 40); do
    answers && break
    sleep 0.25
done
answers || {
    echo "FATAL: pgbouncer does not answer on port $PORT" >&2
    tail -n 20 "$DIR/pgbouncer.log" >&2 || true
    exit 1
}
echo "pgbouncer (transaction pooling) on port $PORT"
echo "$URL"
