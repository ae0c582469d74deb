#!/usr/bin/env bash
# Create .venv and install exactly what requirements-dev.lock says (hash-checked, no
# resolution), then the package itself (editable, no dependencies of its own). Idempotent:
# re-installs only when the lock or pyproject.toml changed since the last successful install
# (a sha256 stamp is kept in .venv/.install-stamp); packages the lock no longer lists are
# removed. FORCE=1 forces a reinstall. Upgrading is scripts/upgrade-deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
STAMP="$VENV/.install-stamp"
PYTHON="${PYTHON:-python3}"

LOCK=requirements-dev.lock
want="$(cat pyproject.toml "$LOCK" | sha256sum | cut -d' ' -f1)"
if [[ "${FORCE:-0}" != 1 && -x "$VENV/bin/python" && -x "$VENV/bin/alert-receiver" \
      && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
    exit 0
fi

ERR="$(mktemp)"
trap 'rm -f "$ERR"' EXIT
make_venv() {
    "$PYTHON" -m venv "$VENV" >"$ERR" 2>&1
}

if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
    echo "install: creating $VENV with $("$PYTHON" --version 2>&1)"
    rm -rf "$VENV"
    if ! make_venv; then
        rm -rf "$VENV"
        if grep -qiE 'ensurepip|python3-venv' "$ERR" && [[ "$(id -u)" == 0 ]] \
                && command -v apt-get >/dev/null; then
            echo "install: python3 -m venv needs ensurepip; installing python3-venv with apt-get"
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
                python3-venv >/dev/null \
                || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
                     apt-get install -y -qq --no-install-recommends python3-venv >/dev/null; }
            make_venv || { cat "$ERR" >&2; exit 1; }
        else
            cat "$ERR" >&2
            echo >&2
            echo "install: '$PYTHON -m venv' failed. On Debian/Ubuntu install the venv module:" >&2
            echo "           sudo apt-get install python3-venv" >&2
            echo "         then run this script again." >&2
            exit 1
        fi
    fi
fi

pip=("$VENV/bin/python" -m pip --disable-pip-version-check)
echo "install: $LOCK into $VENV (hash-checked)"
if ! "${pip[@]}" install -q --require-hashes --no-deps -r "$LOCK" >"$ERR" 2>&1; then
    cat "$ERR" >&2
    echo "install: pip install -r $LOCK failed" >&2
    exit 1
fi
# The package itself: its dependencies are the lock's, and its build backend (setuptools,
# wheel) is in the lock too, so nothing is resolved or fetched here.
if ! "${pip[@]}" install -q --no-deps --no-build-isolation -e . >"$ERR" 2>&1; then
    cat "$ERR" >&2
    echo "install: pip install -e . failed" >&2
    exit 1
fi
# What an earlier lock installed and this one dropped goes, so the venv is the lock.
stale="$("$VENV/bin/python" - "$LOCK" <<'PY'
import re, sys
from importlib.metadata import distributions
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
locked = {norm(m.group(1)) for m in re.finditer(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", open(sys.argv[1]).read(), re.M)}
locked.add("alert-receiver")
print(" ".join(sorted({norm(d.metadata["Name"]) for d in distributions()} - locked)))
PY
)"
if [[ -n "$stale" ]]; then
    echo "install: removing what the lock does not list: $stale"
    # shellcheck disable=SC2086  # a list of package names
    "${pip[@]}" uninstall -q -y $stale >"$ERR" 2>&1 || { cat "$ERR" >&2; exit 1; }
fi
echo "$want" >"$STAMP"
echo "install: done"
