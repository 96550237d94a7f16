#!/usr/bin/env bash
# Dependency advisories: cargo-audit (pinned, installed with `cargo install --locked` only
# when missing) checks Cargo.lock against an offline snapshot of the RustSec advisory
# database, a plain directory copy of rustsec/advisory-db (no git needed: `--no-fetch` reads
# it as it is). Fails on any vulnerability, and on unsound, unmaintained or yanked crates
# (.cargo/audit.toml), unless the advisory is ignored there with its reason written above it.
#
# The snapshot: $ADVISORY_DB if set, else ../shared/advisory-db beside the repository, else
# the first shared/advisory-db in an ancestor of the repository. Online, `cargo audit` alone
# fetches the live database and applies the same .cargo/audit.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

CARGO_AUDIT_VERSION=0.22.2

find_db() {
    if [ -n "${ADVISORY_DB:-}" ]; then
        echo "$ADVISORY_DB"
        return
    fi
    if [ -d "$root/../shared/advisory-db" ]; then
        echo "$root/../shared/advisory-db"
        return
    fi
    local dir=$root
    while :; do
        dir=$(dirname "$dir")
        if [ -d "$dir/shared/advisory-db" ]; then
            echo "$dir/shared/advisory-db"
            return
        fi
        [ "$dir" = / ] && break
    done
    echo "FATAL: no RustSec advisory database found: set ADVISORY_DB to a copy of" \
        "rustsec/advisory-db (none at ../shared/advisory-db, nor in a shared/advisory-db" \
        "above $root)" >&2
    exit 1
}
db=$(find_db)
if [ ! -d "$db/crates" ]; then
    echo "FATAL: $db is not a copy of rustsec/advisory-db (no crates/ in it): set ADVISORY_DB" \
        "to one" >&2
    exit 1
fi
snapshot=$(head -n 1 "$db/SNAPSHOT" 2>/dev/null || echo "(no SNAPSHOT file)")
echo "advisory database: $db — $snapshot"

# Every ignored advisory states why: a comment on the line above its id (or after it).
config=.cargo/audit.toml
unexplained=()
in_list=0
previous=
while IFS= read -r line; do
    if [[ $line =~ ^[[:space:]]*ignore[[:space:]]*= ]]; then
        in_list=1
    fi
    if [ "$in_list" = 1 ] && [[ $line =~ \"(RUSTSEC-[0-9]{4}-[0-9]{4})\" ]]; then
        id=${BASH_REMATCH[1]}
        if ! [[ $line =~ \#.*[[:alpha:]] ]] && ! [[ $previous =~ ^[[:space:]]*\#.*[[:alpha:]] ]]; then
            unexplained+=("$id")
        fi
    fi
    if [ "$in_list" = 1 ] && [[ ${line%%#*} == *"]"* ]]; then
        in_list=0
    fi
    previous=$line
done <"$config"
if [ ${#unexplained[@]} -gt 0 ]; then
    echo "FATAL: $config ignores ${unexplained[*]} without a reason: write it in a comment above the id" >&2
    exit 1
fi

if ! cargo audit --version 2>/dev/null | grep -q " $CARGO_AUDIT_VERSION\$"; then
    # Lockfile scanning only: binary scanning (a default feature) is not used here.
    cargo install --locked --quiet --no-default-features --version "$CARGO_AUDIT_VERSION" cargo-audit
fi

# The yanked check reads cargo's local copy of the crates.io index (as fresh as the last
# build's resolution): with `--no-fetch` nothing is downloaded.
cargo audit --no-fetch --db "$db" --file Cargo.lock
