#!/usr/bin/env bash
# The one test command: install if needed, lint, then pytest (extra args go to pytest).
#   ./scripts/test.sh                 everything
#   ./scripts/test.sh -m 'not e2e'    without the real-Alertmanager tests
#   SKIP_LINT=1 ./scripts/test.sh tests/unit
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh
if [[ "${SKIP_LINT:-0}" != 1 ]]; then
    ./scripts/lint.sh
fi
echo "test: pytest -q $*"
exec .venv/bin/python -m pytest -q "$@"
