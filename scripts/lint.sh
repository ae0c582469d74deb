#!/usr/bin/env bash
# ruff check + ruff format --check over receiver/ tests/ bench/, mypy (strict) over receiver/.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh

paths=()
for p in receiver tests bench; do [[ -e "$p" ]] && paths+=("$p"); done

rc=0
echo "lint: ruff check"
.venv/bin/ruff check -q "${paths[@]}" || rc=1
echo "lint: ruff format --check"
.venv/bin/ruff format -q --check "${paths[@]}" || rc=1
echo "lint: mypy (strict) receiver/"
.venv/bin/mypy || rc=1   # packages and strictness come from [tool.mypy] in pyproject.toml
if [[ $rc != 0 ]]; then
    echo "lint: FAILED (fix with: .venv/bin/ruff check --fix ${paths[*]} && .venv/bin/ruff format ${paths[*]})" >&2
fi
exit $rc
