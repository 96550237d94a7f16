#!/usr/bin/env bash
# A real streaming replica of the test PostgreSQL, for the replica tests (tests/api/replica.rs):
# a second cluster on PG_REPLICA_PORT (5433), made with `pg_basebackup -R -C -S valise_replica`
# from the primary on PG_PRIMARY_HOST:PG_PRIMARY_PORT (127.0.0.1:5432), its data in
# target/ci/pg-replica. Idempotent: a replica already streaming is left as it is, a stopped one
# is started, a broken one is made again. Prints the replica's URL last.
#
# The primary must accept replication connections from 127.0.0.1. When it does not and this
# runs as root next to it (CI), one line is appended to its pg_hba.conf
# (`host replication all 127.0.0.1/32 trust`, marked `# valise CI replica`) and its
# configuration reloaded; nothing else of the primary changes. `wal_level` must be `replica`
# or `logical` (PostgreSQL's default).
#
# `.ci/pg-replica.sh stop` stops the replica; `.ci/pg-replica.sh drop` also deletes its data and
# its replication slot (a slot without its replica keeps WAL on the primary forever).
set -euo pipefail
cd "$(dirname "$0")/.."
export PGGSSENCMODE=${PGGSSENCMODE:-disable}

PRIMARY_HOST=${PG_PRIMARY_HOST:-127.0.0.1}
PRIMARY_PORT=${PG_PRIMARY_PORT:-5432}
REPLICA_PORT=${PG_REPLICA_PORT:-5433}
SLOT=valise_replica
DATA="$PWD/target/ci/pg-replica"
PRIMARY_URL="postgres://postgres@${PRIMARY_HOST}:${PRIMARY_PORT}/postgres"
REPLICA_URL="postgres://postgres@127.0.0.1:${REPLICA_PORT}/postgres"

# The server binaries of the primary's major version (a base backup only starts under them).
major=$(psql "$PRIMARY_URL" -Atc "SELECT current_setting('server_version_num')::int / 10000")
PG_BIN=${PG_BIN:-/usr/lib/postgresql/$major/bin}
[ -x "$PG_BIN/pg_ctl" ] || { echo "FATAL: no PostgreSQL $major server binaries in $PG_BIN" >&2; exit 1; }

# A cluster refuses to run as root: run it as the postgres user when root.
as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

replica_streaming() {
    [ "$(psql "$REPLICA_URL" -Atc "SELECT pg_is_in_recovery() AND EXISTS
        (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming')" 2>/dev/null)" = t ]
}

drop_slot() {
    psql "$PRIMARY_URL" -qAtc "SELECT pg_drop_replication_slot(slot_name)
        FROM pg_replication_slots WHERE slot_name = '$SLOT' AND NOT active" >/dev/null
}

case "${1:-start}" in
    start) ;;
    stop|drop)
        if [ -f "$DATA/postmaster.pid" ]; then
            as_owner "$PG_BIN/pg_ctl" -D "$DATA" -m fast -w stop || true
        fi
        if [ "$1" = drop ]; then
            rm -rf "$DATA"
            drop_slot
        fi
        exit 0
        ;;
    *) echo "usage: $0 [start|stop|drop]" >&2; exit 2 ;;
esac

if replica_streaming; then
    echo "replica already streaming on port $REPLICA_PORT"
    echo "$REPLICA_URL"
    exit 0
fi

# Replication connections from loopback.
if ! psql "${PRIMARY_URL}?replication=true" -qAtc "IDENTIFY_SYSTEM" >/dev/null 2>&1; then
    hba=$(psql "$PRIMARY_URL" -Atc "SHOW hba_file")
    if [ "$(id -u)" = 0 ] && [ -w "$hba" ]; then
        if ! grep -q '# valise CI replica$' "$hba"; then
            echo "allowing replication from 127.0.0.1 in $hba"
            printf 'host replication all 127.0.0.1/32 trust # valise CI replica\n' >>"$hba"
        fi
        psql "$PRIMARY_URL" -qAtc "SELECT pg_reload_conf()" >/dev/null
        sleep 1
    fi
    psql "${PRIMARY_URL}?replication=true" -qAtc "IDENTIFY_SYSTEM" >/dev/null || {
        echo "FATAL: the primary refuses replication connections from 127.0.0.1 (pg_hba.conf)" >&2
        exit 1
    }
fi

# A stopped replica is started as it is; one that does not come up streaming is made again.
if [ -f "$DATA/standby.signal" ]; then
    as_owner "$PG_BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 60 start >/dev/null 2>&1 || true
    for _ in $(seq 1 20); do
        replica_streaming && break
        sleep 0.5
    done
    if replica_streaming; then
        echo "replica restarted on port $REPLICA_PORT"
        echo "$REPLICA_URL"
        exit 0
    fi
    echo "the replica in $DATA does not stream: making it again"
    as_owner "$PG_BIN/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null 2>&1 || true
fi

rm -rf "$DATA"
drop_slot
mkdir -p "$(dirname "$DATA")"
install -d -m 0700 "$DATA"
[ "$(id -u)" = 0 ] && chown postgres: "$DATA"
as_owner "$PG_BIN/pg_basebackup" -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U postgres -D "$DATA" \
    -R -C -S "$SLOT" -X stream --checkpoint=fast --no-sync

# Debian keeps the primary's configuration outside its data directory, so the copy has none;
# a standby also needs at least the primary's values of these settings.
settings=$(psql "$PRIMARY_URL" -Atc "SELECT string_agg(name || ' = ' || setting, E'\n')
    FROM pg_settings WHERE name IN ('max_connections', 'max_worker_processes',
    'max_wal_senders', 'max_prepared_transactions', 'max_locks_per_transaction')")
as_owner tee "$DATA/postgresql.conf" >/dev/null <<EOF
# The valise CI replica (.ci/pg-replica.sh).
port = $REPLICA_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DATA'
hot_standby = on
hot_standby_feedback = on
shared_buffers = 32MB
fsync = off
$settings
EOF
as_owner tee "$DATA/pg_hba.conf" >/dev/null <<EOF
local all all trust
host all all 127.0.0.1/32 trust
EOF
as_owner "$PG_BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 60 start >/dev/null
for _ in $(seq 1 60); do
    replica_streaming && break
    sleep 0.5
done
replica_streaming || {
    echo "FATAL: the replica on port $REPLICA_PORT does not stream from the primary" >&2
    tail -n 20 "$DATA/server.log" >&2 || true
    exit 1
}
echo "replica streaming on port $REPLICA_PORT"
echo "$REPLICA_URL"
