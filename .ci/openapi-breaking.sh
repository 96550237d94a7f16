#!/usr/bin/env bash
# Breaking changes of the contract: runs the checker's own tests, then compares
# openapi/released.json (the document as last released) with openapi/openapi.json and fails on
# a breaking change that the `### Breaking` list under `## [Unreleased]` in CHANGELOG.md does
# not name. The rules, and the rule for naming, are in docs/versioning.md. Standard-library
# Python only: nothing to install.
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1
cd "$(dirname "$0")/.."

python3 -m unittest discover -s .ci -p 'test_openapi_breaking.py'
python3 .ci/openapi_breaking.py openapi/released.json "${OPENAPI_DOC:-openapi/openapi.json}" \
    --changelog CHANGELOG.md
