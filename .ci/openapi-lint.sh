#!/usr/bin/env bash
# Lints the committed OpenAPI document (openapi/openapi.json, or $OPENAPI_DOC) with three
# pinned tools, and fails on any error or warning that is not waived with its reason:
#   - openapi-spec-validator (PyPI, pinned with its dependencies in
#     .ci/openapi/requirements.txt, venv in target/ci/): the OpenAPI 3.1 schema and its
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
VENV=${OPENAPI_LINT_VENV:-target/ci/openapi-lint-venv}
REQUIREMENTS=.ci/openapi/requirements.txt
OUT=target/ci/openapi-lint
mkdir -p "$OUT"
DOC=$(realpath "$DOC")

# The venv is (re)made whenever the pinned requirements differ from what it was made with.
if ! cmp -s "$REQUIREMENTS" "$VENV/requirements.txt"; then
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
    cp "$REQUIREMENTS" "$VENV/requirements.txt"
fi
SPEC_VALIDATOR_VERSION=$(sed -n 's/^openapi-spec-validator==//p' "$REQUIREMENTS")
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
# Redocly reads its waivers from the .redocly.lint-ignore.yaml beside its config, keyed by the
# linted file's path; both are copied beside each other with the key pointing at $DOC, so the
# same waivers apply to any document linted (OPENAPI_DOC).
mkdir -p "$OUT/redocly"
cp .ci/openapi/redocly.yaml "$OUT/redocly/redocly.yaml"
sed "s|^\.\./\.\./openapi/openapi\.json:|$DOC:|" .ci/openapi/.redocly.lint-ignore.yaml \
    >"$OUT/redocly/.redocly.lint-ignore.yaml"
# Redocly exits 1 on errors only; the report also fails on warnings.
rc=0
(cd .ci/openapi && npx --no-install redocly lint "$DOC" --config "../../$OUT/redocly/redocly.yaml" \
    --format=json >"../../$OUT/redocly.json" 2>"../../$OUT/redocly.log") || rc=$?
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
