#!/usr/bin/env bash
# ruff check + ruff format --check over receiver/ tests/ bench/, mypy (strict) over receiver/.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh

paths=()
for p in receiver tests bench; do [[ -e "$p" ]] && paths+=("$p"); done

failed=()
echo "lint: ruff check"
.venv/bin/ruff check -q "${paths[@]}" || failed+=(ruff-check)
echo "lint: ruff format --check"
.venv/bin/ruff format -q --check "${paths[@]}" || failed+=(ruff-format)
echo "lint: mypy (strict) receiver/"
.venv/bin/mypy || failed+=(mypy)   # packages and strictness come from [tool.mypy] in pyproject.toml
if ((${#failed[@]})); then
    echo "lint: FAILED: ${failed[*]}" >&2
    # Each hint only for what it can fix: ruff fixes its own findings, never a type error.
    case " ${failed[*]} " in *" ruff-"*)
        echo "lint: ruff's findings: .venv/bin/ruff check --fix ${paths[*]} && .venv/bin/ruff format ${paths[*]}" >&2
    esac
    case " ${failed[*]} " in *" mypy "*)
        echo "lint: mypy's errors are fixed in the code (file:line above); ruff cannot fix them." \
             "If they appeared with no code change, a dependency moved: see 'Dependencies' in README.md" >&2
    esac
    exit 1
fi
