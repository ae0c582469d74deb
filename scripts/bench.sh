#!/usr/bin/env bash
# Benchmarks (see bench/README.md). BENCH_DURATION=<seconds> per run (default 20).
#   bench/run.py      intake throughput and latency under wrk, with the ceilings
#   bench/latency.py  posted -> delivered latency to a local Slack server at 100 alerts/s
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh
.venv/bin/python bench/run.py "$@"
.venv/bin/python bench/latency.py
