#!/usr/bin/env bash
# Create .venv and install the package with its dev extras (idempotent).
# Re-installs only when pyproject.toml changed since the last successful install
# (a sha256 stamp is kept in .venv/.install-stamp). FORCE=1 forces a reinstall.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
STAMP="$VENV/.install-stamp"
PYTHON="${PYTHON:-python3}"

want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
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

echo "install: pip install -e '.[dev]' into $VENV"
if ! "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e '.[dev]' >"$ERR" 2>&1; then
    cat "$ERR" >&2
    echo "install: pip install failed" >&2
    exit 1
fi
echo "$want" >"$STAMP"
echo "install: done"
