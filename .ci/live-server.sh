# Sourced by the live checks (.ci/schemathesis.sh, .ci/ts-client.sh, .ci/docs-browser.sh):
# starts `valise serve` (debug build) on a temporary SQLite database and a free loopback port,
# seeds a small catalogue, creates an admin with `valise admin create` and registers a
# customer through the API (confirmed with `valise accounts confirm`). Sets BASE, WORK,
# ADMIN_TOKEN, CUSTOMER_TOKEN, POLICY_VERSION, VALISE_CUSTOMER_EMAIL and _PASSWORD;
# stops the server and removes everything on exit.

live_server_start() {
    local bin=${VALISE_BIN:-target/debug/valise}
    if [ -z "${VALISE_BIN:-}" ]; then
        cargo build --locked --quiet --bin valise
    fi
    WORK=$(mktemp -d)
    SERVER_PID=""
    trap live_server_stop EXIT
    # `timeout` in .ci/run sends TERM: exit, so that the EXIT trap stops the server.
    trap 'exit 143' TERM INT
    local port
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    BASE="http://127.0.0.1:$port"
    export DATABASE_URL="sqlite://$WORK/valise.db" VALISE_DATA_DIR="$WORK" \
        VALISE_BIND="127.0.0.1:$port" RUST_LOG=${RUST_LOG:-warn} \
        VALISE_RATE_LIMIT_SCALE=1000  # every client here is one loopback address
    # Quiet: the development-key warning is expected here.
    RUST_LOG=error "$bin" seed --demo --products "${SEED_PRODUCTS:-30}" | tail -1
    ADMIN_EMAIL=ci-admin@shop.example
    ADMIN_PASSWORD="ci admin password $$"
    RUST_LOG=error VALISE_ADMIN_PASSWORD="$ADMIN_PASSWORD" "$bin" admin create --email "$ADMIN_EMAIL" \
        --name "CI Admin" --role admin </dev/null
    "$bin" serve >"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    local up=""
    for _ in $(seq 1 100); do
        if curl -sf "$BASE/healthz" >/dev/null; then up=yes; break; fi
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "$up" ]; then
        echo "FATAL: valise serve did not come up on $BASE" >&2
        cat "$WORK/server.log" >&2
        exit 1
    fi

    POLICY_VERSION=$(curl -sf "$BASE/v1/policies/current" | json_field version)
    CUSTOMER_EMAIL="ci-customer-$$@example.com"
    CUSTOMER_PASSWORD="ci customer password $$"
    # Registration answers 202 and mails a confirmation; this script reads no mailbox, so the
    # operator's support command confirms the address, then the customer logs in.
    curl -sf "$BASE/v1/auth/register" -H 'content-type: application/json' \
        -d "{\"email\":\"$CUSTOMER_EMAIL\",\"password\":\"$CUSTOMER_PASSWORD\",\"name\":\"Ci Customer\",\"accepted_policy_version\":$POLICY_VERSION}" >/dev/null
    RUST_LOG=error "$bin" accounts confirm "$CUSTOMER_EMAIL" >/dev/null
    CUSTOMER_TOKEN=$(curl -sf "$BASE/v1/auth/login" -H 'content-type: application/json' \
        -d "{\"email\":\"$CUSTOMER_EMAIL\",\"password\":\"$CUSTOMER_PASSWORD\"}" | json_field access_token)
    ADMIN_TOKEN=$(curl -sf "$BASE/v1/auth/login" -H 'content-type: application/json' \
        -d "{\"email\":\"$ADMIN_EMAIL\",\"password\":\"$ADMIN_PASSWORD\"}" | json_field access_token)
    VALISE_CUSTOMER_EMAIL=$CUSTOMER_EMAIL VALISE_CUSTOMER_PASSWORD=$CUSTOMER_PASSWORD
    export BASE POLICY_VERSION CUSTOMER_TOKEN ADMIN_TOKEN VALISE_CUSTOMER_EMAIL VALISE_CUSTOMER_PASSWORD
}

live_server_stop() {
    if [ -n "${SERVER_PID:-}" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
    if [ -n "${WORK:-}" ] && [ -z "${KEEP_WORK:-}" ]; then
        rm -rf "$WORK"
    fi
}

# Prints one top-level field of the JSON document on stdin; fails when it is missing.
json_field() {
    python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}
