#!/usr/bin/env bash
# Upgrade the dependencies deliberately: refresh both lock files to the newest versions
# pyproject.toml allows, install them, run lint and the whole suite (./scripts/test.sh), and
# keep the new locks only when everything passes. On a failure the old locks are put back
# and re-installed, and the version changes are printed so the breaking one can be found.
#   ./scripts/upgrade-deps.sh                      everything
#   ./scripts/upgrade-deps.sh -P redis             only this package (pip-compile's -P)
# Extra args go to pip-compile (through scripts/lock.sh); then commit the lock files.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh

backup="$(mktemp -d)"
trap 'rm -rf "$backup"' EXIT
cp requirements.lock requirements-dev.lock "$backup/"

restore() {
    echo "upgrade-deps: $1; putting the previous lock files back" >&2
    cp "$backup/requirements.lock" "$backup/requirements-dev.lock" .
    ./scripts/install.sh >&2 || true
    exit 1
}

changes() {  # "name old -> new" for each pin that moved, was added or went
    .venv/bin/python - "$backup/requirements-dev.lock" requirements-dev.lock <<'PY'
import re, sys
pin = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.M)
old, new = ({m[1].lower(): m[2] for m in pin.finditer(open(p).read())} for p in sys.argv[1:])
for name in sorted(old.keys() | new.keys()):
    if old.get(name) != new.get(name):
        print(f"  {name} {old.get(name, '(new)')} -> {new.get(name, '(removed)')}")
PY
}

if (( $# == 0 )); then set -- --upgrade; fi
echo "upgrade-deps: pip-compile $*"
./scripts/lock.sh "$@" || restore "pip-compile failed"
if cmp -s "$backup/requirements-dev.lock" requirements-dev.lock \
        && cmp -s "$backup/requirements.lock" requirements.lock; then
    echo "upgrade-deps: already at the newest allowed versions; nothing changed"
    exit 0
fi
echo "upgrade-deps: what moves:"
changes
./scripts/install.sh || restore "installing the new lock failed"
./scripts/test.sh || restore "lint or the suite failed on the new versions (listed above)"
echo "upgrade-deps: lint and the whole suite pass; commit requirements.lock and requirements-dev.lock"
