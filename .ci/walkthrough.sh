#!/usr/bin/env bash
# The README's "First order with curl" runs as written: extracts the ```sh block that follows
# `<!-- walkthrough:first-order -->` in README.md, byte for byte, and runs it with
# `bash -euo pipefail` against a live server (.ci/live-server.sh sets BASE), then checks that
# its last line of output is the order's status `paid`. Then the block after
# `<!-- walkthrough:invoices -->` runs in the same shell (it reads the order's variables) and
# must print the invoice's number and leave its PDF. Needs curl, jq and openssl (jq is
# installed from apt when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/live-server.sh

MARKER='<!-- walkthrough:first-order -->'
for tool in jq openssl; do
    if ! command -v "$tool" >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$tool" >/dev/null
    fi
done

# The marker, then the fence on the very next line, then everything up to the closing fence.
extract() {
    awk -v marker="$1" '
    state == 0 && $0 == marker { state = 1; next }
    state == 1 { if ($0 == "```sh") { state = 2; next } else { exit 3 } }
    state == 2 && $0 == "```" { state = 3; exit }
    state == 2 { print }
    END { if (state != 3) exit 3 }
' README.md || {
        echo "FATAL: README.md has no \`\`\`sh block right after $1" >&2
        exit 1
    }
}
block=$(extract "$MARKER")
invoices=$(extract '<!-- walkthrough:invoices -->')

live_server_start
script="$WORK/walkthrough.sh"
printf '%s\n' "$block" >"$script"
printf 'running the README walkthrough (%s lines) against %s\n' "$(wc -l <"$script")" "$BASE"
output="$WORK/walkthrough.out"
if ! BASE="$BASE" bash -euo pipefail "$script" | tee "$output"; then
    echo "FATAL: the README walkthrough failed (server log: last lines below)" >&2
    tail -n 20 "$WORK/server.log" >&2
    exit 1
fi
last=$(tail -n 1 "$output")
if [ "$last" != "paid" ]; then
    echo "FATAL: the README walkthrough ended with '$last', not the order's status 'paid'" >&2
    exit 1
fi
printf '%s\n%s\n' "$block" "$invoices" >"$script"
output="$WORK/invoices.out"
if ! (cd "$WORK" && BASE="$BASE" bash -euo pipefail "$script" >"$output"); then
    echo "FATAL: the README invoices walkthrough failed (server log: last lines below)" >&2
    tail -n 20 "$WORK/server.log" >&2
    exit 1
fi
invoice=$(grep -o 'INV-[0-9]\{4\}-[0-9]\{6\}' "$output" | tail -n 1)
if [ -z "$invoice" ] || ! head -c 5 "$WORK/$invoice.pdf" | grep -q '%PDF-'; then
    echo "FATAL: the README invoices walkthrough printed no invoice or left no PDF" >&2
    cat "$output" >&2
    exit 1
fi
echo "README walkthrough: ok (and $invoice.pdf)"
