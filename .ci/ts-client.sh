#!/usr/bin/env bash
# Frontend-team proof: generates TypeScript types from openapi/openapi.json with
# openapi-typescript, compiles clients/ts (strict tsc) and runs its typed
# register -> browse -> cart -> checkout flow with node against a live server.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/live-server.sh

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
(cd clients/ts && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build)

live_server_start
VALISE_URL="$BASE" node clients/ts/dist/src/flow.js
