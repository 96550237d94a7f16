#!/usr/bin/env bash
# The container set-up, offline (no Docker engine needed): docker-compose.yml validated against
# the Compose schema for every profile (`docker compose config`, or Debian's docker-compose
# 1.29 where the v2 plugin is absent), then what the file promises checked on the resolved
# configuration (.ci/compose_checks.py), and the proxy's configuration with `haproxy -c`.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null || missing+=(docker-compose)
command -v haproxy >/dev/null || missing+=(haproxy)
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
compose() {
    if docker compose version >/dev/null 2>&1; then docker compose "$@"; else docker-compose "$@"; fi
}

# The variables a user may set must not change validity; unset them so the defaults count.
unset VALISE_PORT VALISE_PROXY_PORT VALISE_PROXY_ADDRESS VALISE_SUBNET
# The schema covers the whole file whatever the profiles; the default profile alone, then
# every profile at once (each run of docker-compose 1.29 takes seconds, so no more runs).
echo "compose config: default profile"
compose -f docker-compose.yml config -q
echo "compose config: profiles seed and pair"
resolved=$(mktemp)
trap 'rm -f "$resolved"' EXIT
compose -f docker-compose.yml --profile seed --profile pair config >"$resolved"
python3 .ci/compose_checks.py "$resolved"

echo "haproxy -c: deploy/haproxy.cfg"
haproxy -c -q -f deploy/haproxy.cfg
echo "compose set-up OK"
