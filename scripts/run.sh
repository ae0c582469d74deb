#!/usr/bin/env bash
# Run the receiver locally: 127.0.0.1:9095 with config/dev.yml, state in ./data
# (an embedded redis-server is started by the service itself). Extra args go to `serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh
exec .venv/bin/alert-receiver serve --config config/dev.yml --data-dir ./data "$@"
