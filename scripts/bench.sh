#!/usr/bin/env bash
# Intake benchmark (see bench/README.md). BENCH_DURATION=<seconds> per run (default 20).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh
exec .venv/bin/python bench/run.py "$@"
