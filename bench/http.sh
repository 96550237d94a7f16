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

cargo build --release --quiet
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT

if [ -n "${BENCH_DATABASE_URL:-}" ]; then
    db_name=${BENCH_DATABASE_URL##*/}
    admin_url=${BENCH_DATABASE_URL%/*}/postgres
    psql "$admin_url" -qc "DROP DATABASE IF EXISTS \"$db_name\" WITH (FORCE)" -c "CREATE DATABASE \"$db_name\""
    export DATABASE_URL=$BENCH_DATABASE_URL
else
    export DATABASE_URL="sqlite://$work/bench.db"
fi
export VALISE_DATA_DIR=$work VALISE_BIND=127.0.0.1:$PORT RUST_LOG=warn
./target/release/valise serve &
server=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
base="http://127.0.0.1:$PORT"

email="bench-$$@example.com"
password="benchmark password 1"
token=$(curl -sf "$base/v1/auth/register" -H 'content-type: application/json' \
    -d "{\"email\":\"$email\",\"password\":\"$password\",\"name\":\"Bench Mark\",\"accepted_policy_version\":1}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$server/status"; }

report() { # name, wrk output file
    python3 - "$1" "$2" "$(rss_kib)" <<'PY'
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

echo "| scenario | req/s | p50 | p99 | RSS | non-2xx |"
echo "|---|---|---|---|---|---|"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$base/healthz" > "$work/healthz.txt"
report "GET /healthz (framework ceiling)" "$work/healthz.txt"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$base/v1/policies/current" > "$work/policy.txt"
report "GET /v1/policies/current" "$work/policy.txt"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H "Authorization: Bearer $token" "$base/v1/me" > "$work/me.txt"
report "GET /v1/me (JWT + decrypt)" "$work/me.txt"
cat > "$work/login.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email":"$email","password":"$password"}'
LUA
# Few connections: each login is one Argon2id hash on the blocking pool.
wrk -t2 -c4 -d"$DURATION" --latency -s "$work/login.lua" "$base/v1/auth/login" > "$work/login.txt"
report "POST /v1/auth/login (Argon2id)" "$work/login.txt"
