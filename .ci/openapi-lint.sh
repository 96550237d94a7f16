#!/usr/bin/env bash
# Lints the committed OpenAPI document (openapi/openapi.json, or $OPENAPI_DOC) with three
# pinned tools, and fails on any error or warning that is not waived with its reason:
#   - openapi-spec-validator (PyPI, venv in target/ci/): the OpenAPI 3.1 schema and its
#     semantic checks, every error listed;
#   - Redocly CLI `lint`, recommended rules (.ci/openapi/redocly.yaml; waivers in
#     .ci/openapi/.redocly.lint-ignore.yaml);
#   - Spectral, `spectral:oas` rules (.ci/openapi/.spectral.yaml).
# Both npm tools are pinned in .ci/openapi/package.json and its lockfile (`npm ci`). Each
# tool's findings are printed grouped by rule, with the operation each one is in
# (.ci/openapi/lint_report.py). All three always run, so one run lists everything.
set -euo pipefail
cd "$(dirname "$0")/.."

DOC=${OPENAPI_DOC:-openapi/openapi.json}
SPEC_VALIDATOR_VERSION=0.9.0
VENV=${OPENAPI_LINT_VENV:-target/ci/openapi-lint-venv}
OUT=target/ci/openapi-lint
mkdir -p "$OUT"
DOC=$(realpath "$DOC")

if ! "$VENV/bin/pip" show openapi-spec-validator 2>/dev/null | grep -qx "Version: $SPEC_VALIDATOR_VERSION"; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check \
        "openapi-spec-validator==$SPEC_VALIDATOR_VERSION"
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
# npm ci again only when the lockfile changed since the last install (CI's clean clone always).
if ! [ .ci/openapi/node_modules/.package-lock.json -nt .ci/openapi/package-lock.json ]; then
    (cd .ci/openapi && npm ci --no-audit --no-fund --loglevel=error)
fi

# No notices, no telemetry: CI reaches only the package registries.
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_NOTIFICATIONS=true REDOCLY_SUPPRESS_UPDATE_NOTICE=true
report() { "$VENV/bin/python" .ci/openapi/lint_report.py "$@"; }
status=0

printf '\n--- openapi-spec-validator %s\n' "$SPEC_VALIDATOR_VERSION"
report spec-validator "$DOC" || status=1

printf '\n--- redocly lint (recommended)\n'
# Redocly exits 1 on errors only; the report also fails on warnings.
rc=0
(cd .ci/openapi && npx --no-install redocly lint "$DOC" --config redocly.yaml --format=json \
    >"../../$OUT/redocly.json" 2>"../../$OUT/redocly.log") || rc=$?
if [ -s "$OUT/redocly.json" ]; then
    report redocly "$OUT/redocly.json" || status=1
else
    echo "redocly lint produced no report (exit $rc):" >&2
    cat "$OUT/redocly.log" >&2
    status=1
fi

printf '\n--- spectral lint (spectral:oas)\n'
rc=0
(cd .ci/openapi && npx --no-install spectral lint "$DOC" --ruleset .spectral.yaml --format json \
    --output "../../$OUT/spectral.json" --fail-severity warn --quiet \
    2>"../../$OUT/spectral.log") || rc=$?
if [ -s "$OUT/spectral.json" ]; then
    report spectral "$OUT/spectral.json" || status=1
    if [ "$rc" -ne 0 ] && [ "$status" -eq 0 ]; then
        echo "spectral exited $rc:" >&2
        cat "$OUT/spectral.log" >&2
        status=1
    fi
else
    echo "spectral lint produced no report (exit $rc):" >&2
    cat "$OUT/spectral.log" >&2
    status=1
fi

if [ "$status" -ne 0 ]; then
    echo "openapi lint: $DOC has errors or unwaived warnings (listed above)" >&2
fi
exit "$status"
