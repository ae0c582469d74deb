#!/usr/bin/env bash
# Write the lock files from pyproject.toml with pip-compile (hashes, no index names):
#   requirements.lock       the service's runtime dependencies (the Dockerfile installs it)
#   requirements-dev.lock   runtime + dev extras + the build backend (scripts/install.sh, CI)
# The dev lock is compiled under the runtime lock as a constraint, so a package both name is
# pinned to the same version in both. Extra args go to both pip-compile calls
# (scripts/upgrade-deps.sh passes --upgrade). Needs pip-tools: .venv/bin/pip-compile, or LOCK_COMPILER=... (not PIP_*: pip reads those)
set -euo pipefail
cd "$(dirname "$0")/.."
compile="${LOCK_COMPILER:-.venv/bin/pip-compile}"
[[ -x "$compile" ]] || { echo "lock: $compile not found (run ./scripts/install.sh)" >&2; exit 1; }
opts=(-q --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links
      --no-emit-trusted-host --newline=lf)
# The header names the command to run again, not the temporary paths used here.
export CUSTOM_COMPILE_COMMAND="./scripts/lock.sh"
"$compile" "${opts[@]}" "$@" --output-file requirements.lock pyproject.toml
"$compile" "${opts[@]}" "$@" --extra dev --all-build-deps --constraint requirements.lock \
    --output-file requirements-dev.lock pyproject.toml
echo "lock: wrote requirements.lock ($(grep -c '^[a-z0-9]' requirements.lock) packages)," \
     "requirements-dev.lock ($(grep -c '^[a-z0-9]' requirements-dev.lock) packages)"
