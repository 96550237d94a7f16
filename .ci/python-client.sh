#!/usr/bin/env bash
# Python integrators' proof: generates the `valise_client` package from openapi/openapi.json
# with openapi-python-client (PyPI, pinned with its dependencies in
# clients/python/requirements.txt, venv in target/ci/) into target/ci/python-client/, refusing
# any warning (a warning means part of the document was left out of the client), type-checks
# clients/python/flow.py against it with `mypy --strict`, then runs that register -> browse ->
# cart -> checkout (Idempotency-Key, and its replay) flow against a live server.
# OPENAPI_DOC=other.json generates from another document (the server is still this build).
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/live-server.sh

VENV=${PY_CLIENT_VENV:-target/ci/python-client-venv}
REQUIREMENTS=clients/python/requirements.txt
OUT=target/ci/python-client
DOC=${OPENAPI_DOC:-openapi/openapi.json}

# The venv is (re)made whenever the pinned requirements differ from what it was made with.
if ! cmp -s "$REQUIREMENTS" "$VENV/requirements.txt"; then
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
    cp "$REQUIREMENTS" "$VENV/requirements.txt"
fi
# The generator formats what it writes with ruff, from PATH (missing, it warns).
export PATH="$PWD/$VENV/bin:$PATH"

rm -rf "$OUT"
mkdir -p "$OUT"
# Waived: the generator models JSON, form and file bodies, not a `text/csv` one, so the
# catalogue import (`POST /v1/admin/catalog/import`) is taken out of the copy it reads;
# a Python integrator posts the CSV with httpx directly. Every other operation must generate.
python3 - "$DOC" "$OUT/openapi.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
del doc["paths"]["/v1/admin/catalog/import"]["post"]
if not doc["paths"]["/v1/admin/catalog/import"]:
    del doc["paths"]["/v1/admin/catalog/import"]
json.dump(doc, open(sys.argv[2], "w"))
PY
DOC="$OUT/openapi.json"
printf 'generating valise_client with openapi-python-client %s\n' "$(sed -n 's/^openapi-python-client==//p' "$REQUIREMENTS")"
if ! openapi-python-client generate --path "$DOC" --meta none \
    --config clients/python/generator.yaml --output-path "$OUT/valise_client" --fail-on-warning >"$OUT/generate.log" 2>&1; then
    cat "$OUT/generate.log" >&2
    echo "FATAL: openapi-python-client could not generate a whole client from $DOC" >&2
    exit 1
fi

# Lists the generated operation modules by tag: what flow.py's imports may name.
list_operations() {
    local dir
    for dir in "$OUT"/valise_client/api/*/; do
        printf '  %s: %s\n' "$(basename "$dir")" \
            "$(find "$dir" -maxdepth 1 -name '*.py' ! -name '__init__.py' -printf '%f\n' |
                sed 's/\.py$//' | sort | tr '\n' ' ')"
    done
}

if ! MYPYPATH="$OUT" mypy --strict --cache-dir "$OUT/.mypy_cache" clients/python/flow.py; then
    echo "clients/python/flow.py does not type-check against the generated client; its operations are:" >&2
    list_operations >&2
    exit 1
fi

live_server_start
PYTHONPATH="$OUT" VALISE_URL="$BASE" python clients/python/flow.py
