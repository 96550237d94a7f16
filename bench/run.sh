#!/usr/bin/env bash
# The benchmark harness: builds the release binary, and on SQLite then on PostgreSQL seeds a
# catalogue, starts `valise serve`, drives it (wrk for single requests, examples/checkout_load
# for the checkout flow), and rewrites the generated section of BENCHMARKS.md. Every row is
# measured next to the same-run framework ceiling: examples/ceiling.rs, a bare actix-web
# server answering the very bytes the real server returned for that row.
#
#   bench/run.sh                       # both backends, ~23 minutes on two cores after the build
#   BACKENDS=sqlite DURATION=3s ROUNDS=1 WRITE=0 bench/run.sh    # a quick look, BENCHMARKS.md untouched
#
# Knobs (environment):
#   BACKENDS          "sqlite postgres"; "pgbouncer" is PostgreSQL through PgBouncer
#                     (.ci/pgbouncer.sh starts it) with VALISE_DB_PREPARED_STATEMENTS=false
#   DURATION          5s      per wrk row; its ceiling runs as long
#   CONNECTIONS       32      wrk connections (THREADS 2 wrk threads)
#   ROUNDS            3       ceiling/row alternations of each wrk row; the table shows the
#                             median round and the range of the ratios
#   CHECKOUT_CLIENTS  16      concurrent checkout flows; CHECKOUT_SECONDS 8
#   PRODUCTS          1000    catalogue of the main table
#   SCALES            "1000 10000 100000"  catalogue sizes for list cost (seeded cumulatively;
#                     empty: none)
#   EXPORT_ORDERS     "10 100 1000"        a customer's orders for export cost (empty: none)
#   EXPORT_REQUESTS   50      exports per row (an account's exports of one day are one access
#                             request, so the document stays the same size as it is measured)
#   PG_ADMIN_URL      postgres://postgres@127.0.0.1:5432/postgres   (a database is made and dropped)
#   WRITE             1       0: print the section instead of splicing it into BENCHMARKS.md
# Needs wrk (apt-get install wrk), curl and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
BACKENDS=${BACKENDS:-sqlite postgres}
DURATION=${DURATION:-5s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
CHECKOUT_CLIENTS=${CHECKOUT_CLIENTS:-16}
CHECKOUT_SECONDS=${CHECKOUT_SECONDS:-8}
PRODUCTS=${PRODUCTS:-1000}
SCALES=${SCALES-1000 10000 100000}
EXPORT_ORDERS=${EXPORT_ORDERS-10 100 1000}
EXPORT_REQUESTS=${EXPORT_REQUESTS:-50}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
WRITE=${WRITE:-1}
export PGGSSENCMODE=${PGGSSENCMODE:-disable}
for tool in wrk curl python3; do
    command -v "$tool" >/dev/null || { echo "bench/run.sh needs $tool (apt-get install $tool)" >&2; exit 1; }
done

echo "building the release binary and examples" >&2
cargo build --release --locked --quiet --bin valise --example ceiling --example checkout_load
bin=target/release/valise
report="python3 bench/report.py"
work=$(mktemp -d)
results=$work/results.jsonl
server=""
ceiling=""
pg_db=""
cleanup() {
    for pid in $server $ceiling; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    if [ -n "$pg_db" ]; then
        psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS \"$pg_db\" WITH (FORCE)" >/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# json PATH: a field of the JSON document on stdin, e.g. `json data.0.id`.
json() {
    python3 -c '
import json, sys
d = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    d = d[int(k)] if k.isdigit() else d[k]
print(d)' "$1"
}
# Statements the server has sent to its database so far (valise_db_statements_total): the
# checkout row divides those of its run by its orders, background work (the outbox, the
# invoice worker) included.
statements_run() {
    curl -sf "$base/metrics" -H "authorization: Bearer $VALISE_METRICS_TOKEN" |
        awk '/^valise_db_statements_total\{pool="primary"\}/ {printf "%d", $2}'
}
wait_up() {
    for _ in $(seq 1 200); do curl -sf "$1/healthz" >/dev/null && return 0; sleep 0.05; done
    echo "FATAL: nothing answers on $1" >&2; cat "$work/server.log" >&2; exit 1
}

# wrk against pid's server: row TABLE NAME PID CEILING_NAME -- wrk arguments
row() {
    local table=$1 name=$2 pid=$3 ceiling_of=$4 ticks
    shift 5
    ticks=$($report cpu "$pid")
    wrk -t"$THREADS" --latency "$@" > "$work/wrk.txt" 2>&1 || { cat "$work/wrk.txt" >&2; exit 1; }
    $report wrk "$results" "$table" "$name" "$work/wrk.txt" "$pid" "$ticks" "$ceiling_of"
}

# The same wrk run against the ceiling answering BODY_FILE's bytes: ceiling_row TABLE NAME BODY_FILE PATH -- wrk args
ceiling_row() {
    local table=$1 name=$2 body=$3 path=$4 port
    shift 5
    port=$(free_port)
    target/release/examples/ceiling "127.0.0.1:$port" "$body" &
    ceiling=$!
    wait_up_ceiling "http://127.0.0.1:$port"
    row "$table" "ceiling: $name" "$ceiling" "" -- "$@" "http://127.0.0.1:$port$path"
    kill "$ceiling"; wait "$ceiling" 2>/dev/null || true; ceiling=""
}
wait_up_ceiling() { for _ in $(seq 1 100); do curl -sf -o /dev/null "$1/" && return 0; sleep 0.05; done; exit 1; }

# A measured row next to its ceiling, ROUNDS times in alternation (on this shared machine
# the ceiling alone drifts by ±15 % within minutes; a ratio of neighbours in time cancels
# the drift): pair TABLE NAME BODY_FILE PATH -- wrk args (without URL)
pair() {
    local table=$1 name=$2 body=$3 path=$4 round
    shift 5
    for round in $(seq 1 "$ROUNDS"); do
        ceiling_row "$table" "$name" "$body" "$path" -- "$@"
        row "$table" "$name" "$server" "ceiling: $name" -- "$@" "$base$path"
    done
}

cat > "$work/uncached.lua" <<'LUA'
-- A different max_price on every request: the rendered-page cache cannot answer, so each
-- request runs the listing query.
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", string.format("/v1/products?limit=20&max_price=%d", 20000 + (n * 7919) % 900000))
end
LUA
cat > "$work/uncached-filtered.lua" <<'LUA'
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", string.format(
    "/v1/products?limit=20&size_class=cabin&in_stock=true&sort=price&max_price=%d", 20000 + (n * 7919) % 900000))
end
LUA
bench_backend() {
    local backend=$1 label url port started prepared=true
    case $backend in
        sqlite) label=SQLite; url="sqlite://$work/bench.db" ;;
        postgres)
            label="PostgreSQL $(psql "$PG_ADMIN_URL" -Atc 'SHOW server_version' | cut -d' ' -f1)"
            pg_db="valise_bench_$$"
            psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS \"$pg_db\" WITH (FORCE)" -c "CREATE DATABASE \"$pg_db\""
            url="${PG_ADMIN_URL%/*}/$pg_db" ;;
        pgbouncer)
            # PostgreSQL again, through PgBouncer in transaction pooling mode (.ci/pgbouncer.sh,
            # port 6439), with the prepared-statement cache off as a transaction pooler needs:
            # what the pooler costs, next to the postgres rows.
            local pooler
            pooler=$(.ci/pgbouncer.sh | tail -n 1)
            label="PgBouncer $(pgbouncer --version | awk 'NR==1 {print $2}') → PostgreSQL $(psql "$PG_ADMIN_URL" -Atc 'SHOW server_version' | cut -d' ' -f1), transaction pooling"
            pg_db="valise_bench_$$"
            psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS \"$pg_db\" WITH (FORCE)" -c "CREATE DATABASE \"$pg_db\""
            url="${pooler%/*}/$pg_db"
            prepared=false ;;
        *) echo "unknown backend $backend" >&2; exit 2 ;;
    esac
    export VALISE_DB_PREPARED_STATEMENTS=$prepared
    echo "== $label" >&2
    port=$(free_port)
    base="http://127.0.0.1:$port"
    export DATABASE_URL=$url VALISE_DATA_DIR=$work/keys-$backend VALISE_BIND=127.0.0.1:$port RUST_LOG=warn
    export VALISE_ADMIN_EMAIL=bench-admin@example.com VALISE_ADMIN_PASSWORD="bench admin password"
    export VALISE_TRUSTED_PROXIES=127.0.0.1  # the analytics row's visitors come with X-Forwarded-For
    # The load comes from one address: the limits on anonymous writes still run (their cost
    # is part of each row), with quotas a thousand times what one client may send.
    export VALISE_RATE_LIMIT_SCALE=1000 VALISE_EXPORTS_PER_HOUR=100000
    export VALISE_METRICS_TOKEN=bench-metrics-token-0123456789abcdef
    started=$SECONDS
    $bin seed --demo --products "$PRODUCTS" 2>/dev/null | tail -1 >&2
    $bin serve >> "$work/server.log" 2>&1 &
    server=$!
    wait_up "$base"

    local main="$label: $PRODUCTS products|main"
    local c=(-c"$CONNECTIONS" -d"$DURATION")
    curl -sf "$base/healthz" > "$work/healthz.json"
    pair "$main" "GET /healthz (middleware only)" "$work/healthz.json" /healthz -- "${c[@]}"
    curl -sf "$base/v1/products?limit=20" > "$work/list.json"
    pair "$main" "GET /v1/products?limit=20" "$work/list.json" "/v1/products?limit=20" -- "${c[@]}"
    local filtered="/v1/products?limit=20&size_class=cabin&in_stock=true&sort=price"
    curl -sf "$base$filtered" > "$work/filtered.json"
    pair "$main" "GET /v1/products filtered (cabin, in stock, by price)" "$work/filtered.json" "$filtered" -- "${c[@]}"
    local product_id
    product_id=$(json data.0.id < "$work/list.json")
    curl -sf "$base/v1/products/$product_id" > "$work/product.json"
    pair "$main" "GET /v1/products/{id}" "$work/product.json" "/v1/products/$product_id" -- "${c[@]}"

    # Accounts after the catalogue: the password-hashing pool keeps one 19 MiB Argon2 buffer
    # per core, which would otherwise count in the catalogue rows' RSS.
    local admin token variant
    admin=$(curl -sf "$base/v1/auth/login" -H 'content-type: application/json' \
        -d "{\"email\":\"$VALISE_ADMIN_EMAIL\",\"password\":\"$VALISE_ADMIN_PASSWORD\"}" | json access_token)
    variant=$(json variants.0.id < "$work/product.json")
    curl -sf -X PUT "$base/v1/admin/variants/$variant/stock" -H "authorization: Bearer $admin" \
        -H 'content-type: application/json' -d '{"available": 1000000}' > /dev/null
    register() {
        curl -sf "$base/v1/auth/register" -H 'content-type: application/json' \
            -d "{\"email\":\"$1\",\"password\":\"benchmark password 1\",\"name\":\"Bench Customer\",\"accepted_policy_version\":1}" > /dev/null
        # No mailbox here: the operator's support command confirms the address.
        $bin accounts confirm "$1" > /dev/null
        curl -sf "$base/v1/auth/login" -H 'content-type: application/json' \
            -d "{\"email\":\"$1\",\"password\":\"benchmark password 1\"}" | json access_token
    }
    token=$(register "bench-me@example.com")
    curl -sf "$base/v1/me" -H "authorization: Bearer $token" > "$work/me.json"
    pair "$main" "GET /v1/me (JWT, role check, decrypt)" "$work/me.json" /v1/me -- "${c[@]}" -H "Authorization: Bearer $token"

    local first_export=""
    for n in $EXPORT_ORDERS; do
        local customer
        customer=$(register "bench-export-$n@example.com")
        $report orders "$base" "$customer" "$variant" "$n"
        curl -sf "$base/v1/me/export" -H "authorization: Bearer $customer" > "$work/export-$n.json"
        local kib=$(( $(wc -c < "$work/export-$n.json") / 1024 ))
        local name="GET /v1/me/export, $n orders ($kib KiB)" table="$label: export cost by orders|export"
        local port
        port=$(free_port)
        target/release/examples/ceiling "127.0.0.1:$port" "$work/export-$n.json" &
        ceiling=$!
        wait_up_ceiling "http://127.0.0.1:$port"
        $report fetch "$results" "$table" "ceiling: $name" "http://127.0.0.1:$port/v1/me/export" "$ceiling" \
            "$EXPORT_REQUESTS" 4 "$customer"
        kill "$ceiling"; wait "$ceiling" 2>/dev/null || true; ceiling=""
        $report fetch "$results" "$table" "$name" "$base/v1/me/export" "$server" "$EXPORT_REQUESTS" 4 \
            "$customer" "ceiling: $name"
        if [ -z "$first_export" ]; then
            first_export=$n
            $report copy "$results" "$label: export cost by orders|export" "$name" "$main"
        fi
    done

    # Analytics ingest, if this build has it.
    local events='{"session":"bench-session-0001","events":[{"type":"page_view","path":"/products"},{"type":"product_view","product_id":"'"$product_id"'"},{"type":"page_leave","path":"/products","dwell_ms":1200}]}'
    local status
    status=$(curl -s -o "$work/analytics.json" -w '%{http_code}' "$base/v1/analytics/events" \
        -H 'content-type: application/json' -d "$events")
    if [ "$status" = 202 ] || [ "$status" = 204 ]; then
        # Many visitors, as in production: each batch comes from one of a million sessions and
        # addresses (the server trusts X-Forwarded-For from loopback here, VALISE_TRUSTED_PROXIES), so the row
        # measures ingest rather than one address's rate limit or one session's roll-up row.
        cat > "$work/analytics.lua" <<LUA
local body = '$events'
request = function()
  local n = math.random(1, 1000000)
  local headers = {["Content-Type"] = "application/json",
    ["X-Forwarded-For"] = string.format("10.%d.%d.%d", n % 250, math.floor(n / 250) % 250, math.floor(n / 62500) % 250)}
  return wrk.format("POST", nil, headers, (body:gsub("bench%-session%-0001", string.format("bench-session-%07d", n))))
end
LUA
        pair "$main" "POST /v1/analytics/events (3 events)" "$work/analytics.json" /v1/analytics/events -- \
            "${c[@]}" -s "$work/analytics.lua"
    else
        $report note "$results" "$main" "POST /v1/analytics/events" "not measured: the route answers $status in this build"
    fi

    # The checkout flow: cart → item → checkout → payment → signed webhook, five requests.
    local cart cart_token
    cart=$(curl -sf "$base/v1/carts" -H 'content-type: application/json' -d '{}')
    cart_token=$(json cart_token <<< "$cart")
    cart=$(json id <<< "$cart")
    curl -sf "$base/v1/carts/$cart/items" -H "x-cart-token: $cart_token" -H 'content-type: application/json' \
        -d "{\"variant_id\":\"$variant\",\"quantity\":1}" > /dev/null
    curl -sf "$base/v1/carts/$cart/checkout" -H "x-cart-token: $cart_token" -H 'idempotency-key: bench-sample' \
        -H 'content-type: application/json' \
        -d '{"contact_email":"load@example.com","shipping_address":{"name":"Load Test","line1":"1 Bench Street","city":"Lyon","postal_code":"69001","country":"FR"},"accepted_policy_version":1}' \
        > "$work/order.json"
    cat > "$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{}'
LUA
    local flow="checkout flow, $CHECKOUT_CLIENTS clients (5 requests per order)"
    ceiling_row "$main" "$flow" "$work/order.json" /v1/carts -- -c"$CHECKOUT_CLIENTS" -d"$DURATION" -s "$work/post.lua"
    # Warm-up: two seconds of the flow, then fresh planner statistics, as a database's
    # autovacuum would gather them once the order tables are no longer empty. Without
    # them (this machine's PostgreSQL runs with autovacuum off), the plans cached while the
    # tables were empty scan them whole, and the row measures that instead of the checkout.
    target/release/examples/checkout_load "$base" "$variant" "$CHECKOUT_CLIENTS" 2 > /dev/null
    if [ "$backend" != sqlite ]; then psql "$url" -qc 'ANALYZE'; fi
    local ticks statements
    ticks=$($report cpu "$server")
    statements=$(statements_run)
    target/release/examples/checkout_load "$base" "$variant" "$CHECKOUT_CLIENTS" "$CHECKOUT_SECONDS" > "$work/flow.txt"
    $report flow "$results" "$main" "$flow" "$work/flow.txt" "$server" "$ticks" 5 "ceiling: $flow" \
        "$(( $(statements_run) - statements ))"

    # How listing cost grows with the catalogue (seeded cumulatively while serving).
    for n in $SCALES; do
        local t0=$SECONDS
        $bin seed --demo --products "$n" 2>/dev/null | tail -1 >&2
        echo "  seeded $n products in $((SECONDS - t0)) s" >&2
        sleep 1.1 # the rendered-page cache lives one second
        local scale="$label: list cost by catalogue size|scale"
        row "$scale" "$n products: GET /v1/products?limit=20 (rendered-page cache)" "$server" "" -- "${c[@]}" "$base/v1/products?limit=20"
        row "$scale" "$n products: list 20, uncached (new max_price each request)" "$server" "" -- "${c[@]}" -s "$work/uncached.lua" "$base"
        row "$scale" "$n products: filtered list 20, uncached" "$server" "" -- "${c[@]}" -s "$work/uncached-filtered.lua" "$base"
    done

    kill "$server"; wait "$server" 2>/dev/null || true; server=""
    # What the server had to say about failed requests (the tables count them).
    grep -E ' (ERROR|WARN) ' "$work/server.log" | grep -v 'DEVELOPMENT' | tail -n 20 | sed 's/^/  server: /' >&2 || true
    : > "$work/server.log"
    if [ -n "$pg_db" ]; then
        psql "$PG_ADMIN_URL" -qc "DROP DATABASE \"$pg_db\" WITH (FORCE)"; pg_db=""
    fi
    echo "  $label took $((SECONDS - started)) s" >&2
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for backend in $BACKENDS; do bench_backend "$backend"; done

cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
section=$work/section.md
{
    echo "## Harness results ($(date -u +%Y-%m-%d), \`bench/run.sh\`)"
    echo
    echo "$(nproc) vCPU ($cpu), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(. /etc/os-release && echo "$PRETTY_NAME");"
    echo "release build; server, database, load generator and ceiling share the cores (load average"
    echo "before the run: $load_before, other work included). wrk: $THREADS threads, $CONNECTIONS connections,"
    echo "$DURATION per row; exports: $EXPORT_REQUESTS requests on 4 connections; checkout: $CHECKOUT_CLIENTS clients, ${CHECKOUT_SECONDS} s after a 2 s warm-up (then ANALYZE on PostgreSQL)."
    echo "**CPU/request** is the server process's user + system time over the row divided by its"
    echo "requests; **RSS** is the server's after the row; **ceiling** is \`examples/ceiling.rs\`"
    echo "answering the same bytes (same path, method and connections) right before the row, and"
    echo "**ratio** is req/s over the ceiling's. Each wrk row ran $ROUNDS times, alternating with its"
    echo "ceiling: the row shows the median round, the ratio the median of the rounds' ratios and"
    echo "their range. For the checkout flow (one round), req/s counts its five requests"
    echo "per order against a ceiling answering POSTs with the order document."
    echo
    $report render "$results"
} > "$section"
if [ "$WRITE" = 1 ]; then
    $report splice BENCHMARKS.md "$section"
    echo "BENCHMARKS.md updated" >&2
else
    cat "$section"
fi
