#!/usr/bin/env bash
# Post one test alert per severity to a running receiver (./scripts/run.sh).
#   ./scripts/test-alerts.sh                      -> http://127.0.0.1:9095/webhook, no token
#   RECEIVER_URL=... RECEIVER_TOKEN=... ./scripts/test-alerts.sh [extra send-test args]
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh
url="${RECEIVER_URL:-http://127.0.0.1:9095/webhook}"
token_args=()
[[ -n "${RECEIVER_TOKEN:-}" ]] && token_args=(--token "$RECEIVER_TOKEN")
for severity in critical warning info; do
    echo "send-test: severity=$severity -> $url"
    .venv/bin/alert-receiver send-test --url "$url" "${token_args[@]}" --severity "$severity" "$@"
done
