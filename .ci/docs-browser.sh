#!/usr/bin/env bash
# The docs page in a real browser: Debian's headless Chromium loads /docs from a live server,
# with every host name but 127.0.0.1 unresolvable (so a remote script or stylesheet would
# fail), runs Swagger UI's JavaScript, and the rendered DOM must list every operation of the
# served OpenAPI document. A screenshot is left at target/ci/docs.png for a person to look at.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/live-server.sh

if ! command -v chromium >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

live_server_start
mkdir -p target/ci
browser() {
    # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
    timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
        --no-first-run --hide-scrollbars --window-size=1280,1600 \
        --host-resolver-rules="MAP * ~NOTFOUND, EXCLUDE 127.0.0.1" \
        --virtual-time-budget=15000 "$@" 2>>"$WORK/chromium.log"
}
browser --dump-dom "$BASE/docs/" >"$WORK/docs.html" || {
    cat "$WORK/chromium.log" >&2
    exit 1
}
browser --screenshot="$PWD/target/ci/docs.png" "$BASE/docs/" >/dev/null || true
curl -sf "$BASE/openapi.json" >"$WORK/openapi.json"

python3 - "$WORK/docs.html" "$WORK/openapi.json" <<'PY'
import json, re, sys
html = open(sys.argv[1]).read()
spec = json.load(open(sys.argv[2]))
expected = sorted(
    (method.upper(), path)
    for path, item in spec["paths"].items()
    for method in item
    if method in ("get", "put", "post", "delete", "patch")
)
rendered = sorted(
    (method.upper(), path)
    for method, path in re.findall(
        r'class="opblock opblock-(\w+)[^"]*".*?class="opblock-summary-path" data-path="([^"]+)"',
        html,
        re.S,
    )
)
if spec["info"]["title"] not in html:
    sys.exit(f"docs page: the title {spec['info']['title']!r} is not rendered")
missing = sorted(set(expected) - set(rendered))
if missing or len(rendered) != len(expected):
    sys.exit(
        f"docs page: {len(rendered)} operations rendered, {len(expected)} documented; "
        f"missing: {missing[:10]}"
    )
if ("GET", "/v1/products") not in rendered:
    sys.exit("docs page: GET /v1/products is not listed")
print(f"docs page: Chromium rendered all {len(rendered)} operations offline (screenshot: target/ci/docs.png)")
PY
