#!/usr/bin/env bash
# Contract fuzzing: schemathesis (pinned, from PyPI, in a venv under target/) against the live
# /openapi.json of a debug build on a temporary SQLite database, as every role: a customer, a
# guest (cart and order tokens), support, fulfilment, a manager, a privacy officer and an
# admin. Checks: no 5xx, only documented status codes, responses and response headers that
# match their schemas, and no header a client relies on sent without being declared
# (.ci/schemathesis_hooks.py).
# Path parameters get real identifiers (.ci/schemathesis_fixtures.py, .ci/schemathesis.toml),
# so requests reach the handlers.
# Bounded: ST_MAX_EXAMPLES cases per operation and phase (default 25); a fixed ST_SEED keeps
# runs reproducible.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/live-server.sh

SCHEMATHESIS_VERSION=4.32.5
VENV=${ST_VENV:-target/ci/schemathesis-venv}
if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

live_server_start
# An assignment first, so that a failing fixture script stops the run (set -e).
fixtures=$(python3 .ci/schemathesis_fixtures.py "$BASE" "$CUSTOMER_TOKEN" "$ADMIN_TOKEN" "$POLICY_VERSION")
eval "$fixtures"
# An admin cannot grant the privacy officer's role (separation of duty): the command line does.
officer_password="ci officer password $$"
VALISE_ADMIN_PASSWORD="$officer_password" "${VALISE_BIN:-target/debug/valise}" admin create \
    --email ci-officer@shop.example --name "CI Officer" --role privacy_officer </dev/null
OFFICER_TOKEN=$(curl -sf "$BASE/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"email\":\"ci-officer@shop.example\",\"password\":\"$officer_password\"}" |
    json_field access_token)

# Checks of the project's own (headers sent but not declared).
export SCHEMATHESIS_HOOKS=schemathesis_hooks PYTHONPATH=.ci${PYTHONPATH:+:$PYTHONPATH}

fuzz() { # who, token (empty for a guest), extra schemathesis options…
    printf '\n--- schemathesis as %s\n' "$1"
    local auth=()
    [ -n "$2" ] && auth=(--header "Authorization: Bearer $2")
    shift 2
    # Security parameters are not generated: a random X-Api-Key beside the bearer token
    # would make nearly every request a 401 and test nothing behind it. One worker: with two,
    # Python 3.11's ast module raced in hypothesis ("AST constructor recursion depth mismatch").
    "$VENV/bin/schemathesis" --config-file .ci/schemathesis.toml run "$BASE/openapi.json" \
        --checks not_a_server_error,status_code_conformance,response_schema_conformance,response_headers_conformance,undeclared_response_headers \
        "${auth[@]}" \
        --generation-with-security-parameters false \
        --phases examples,coverage,fuzzing \
        --max-examples "${ST_MAX_EXAMPLES:-25}" \
        --seed "${ST_SEED:-20261125}" \
        --generation-database none \
        --workers 1 \
        --request-timeout 10 \
        --no-color "$@"
}

status=0
# The customer's own erasure would end the session the rest of the run relies on; it has
# its own end-to-end tests (tests/api/privacy.rs).
fuzz customer "$CUSTOMER_TOKEN" --exclude-operation-id eraseMe || status=1
# A guest: no account, the cart's and the order's tokens in their headers, on the routes a
# guest can reach (catalogue, carts, orders, payments, privacy requests, policies, problems).
ST_CART_ID=$ST_GUEST_CART_ID ST_ORDER_NUMBER=$ST_GUEST_ORDER_NUMBER fuzz guest "" \
    --header "X-Cart-Token: $ST_GUEST_CART_TOKEN" --header "X-Order-Token: $ST_GUEST_ORDER_TOKEN" \
    --include-path-regex '^/(healthz|readyz|v1/(products|carts|orders|payments|privacy|policies|problems|analytics/events))' \
    || status=1
# Each member of staff on the staff routes and their own account: what each role may see
# differs (support gets masked addresses, fulfilment full ones, the privacy officer the
# audit log and the request queue), and every answer must match the documented schema.
staff_routes=(--include-path-regex '^/v1/(admin|me)' --exclude-operation-id eraseMe)
fuzz support "$SUPPORT_TOKEN" "${staff_routes[@]}" || status=1
fuzz fulfilment "$FULFILLMENT_TOKEN" "${staff_routes[@]}" || status=1
fuzz manager "$MANAGER_TOKEN" "${staff_routes[@]}" || status=1
fuzz "privacy officer" "$OFFICER_TOKEN" "${staff_routes[@]}" || status=1
# The admin last: it may archive, disable and revoke what the others rely on.
fuzz admin "$ADMIN_TOKEN" || status=1
if grep -q "panicked" "$WORK/server.log"; then
    echo "FATAL: the server panicked during fuzzing" >&2
    status=1
fi
if [ "$status" -ne 0 ]; then
    echo "schemathesis found failures (server log: last lines below)" >&2
    tail -n 20 "$WORK/server.log" >&2
fi
exit "$status"
