#!/usr/bin/env bash
# Fire one test alert per severity (critical, warning, info), then say where to look.
#   ./scripts/test-alerts.sh                          straight at the receiver (./scripts/run.sh):
#                                                     http://127.0.0.1:9095/webhook, no token
#   RECEIVER_URL=... RECEIVER_TOKEN=... ./scripts/test-alerts.sh [extra send-test args]
#   ALERTMANAGER_URL=http://localhost:9093 ./scripts/test-alerts.sh
#                                                     through Alertmanager's API v2 (POST /api/v2/alerts),
#                                                     e.g. the docker-compose stack; they resolve by
#                                                     themselves after TEST_ALERTS_DURATION (300 s)
# Where to look afterwards: RECEIVER_API_URL (default http://127.0.0.1:9095), MAILPIT_URL
# (default http://localhost:8025, the compose stack's mail catcher).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh
receiver_api="${RECEIVER_API_URL:-http://127.0.0.1:9095}"

if [[ -n "${ALERTMANAGER_URL:-}" ]]; then
    am="${ALERTMANAGER_URL%/}"
    echo "test-alerts: POST $am/api/v2/alerts (critical, warning, info)"
    # Python's urllib: no curl needed, and a clear error when Alertmanager refuses them.
    AM="$am" DURATION="${TEST_ALERTS_DURATION:-300}" .venv/bin/python - <<'PY'
import json, os, sys, urllib.error, urllib.request
from datetime import UTC, datetime, timedelta

now = datetime.now(UTC)
end = now + timedelta(seconds=int(os.environ["DURATION"]))
# One alertname per severity: the kit's inhibit rule (deployments/monitoring/alertmanager.yml)
# quiets a warning while a critical of the same alertname fires at the same place, so three
# alerts named alike would lose their warning.
alerts = [
    {
        "labels": {"alertname": f"TestAlert{sev.capitalize()}", "severity": sev,
                   "service": "test-alerts", "instance": "test-alerts.sh"},
        "annotations": {"summary": f"Test alert ({sev}) from scripts/test-alerts.sh",
                        "description": "Nothing is wrong: this checks the alerting pipeline."},
        "startsAt": now.isoformat(), "endsAt": end.isoformat(),
    }
    for sev in ("critical", "warning", "info")
]
req = urllib.request.Request(os.environ["AM"] + "/api/v2/alerts", data=json.dumps(alerts).encode(),
                             headers={"Content-Type": "application/json"}, method="POST")
try:
    with urllib.request.urlopen(req, timeout=10) as resp:
        print(f"test-alerts: Alertmanager answered {resp.status}")
except urllib.error.HTTPError as e:
    sys.exit(f"test-alerts: Alertmanager answered {e.code}: {e.read().decode(errors='replace')}")
except OSError as e:
    sys.exit(f"test-alerts: cannot reach Alertmanager: {e}")
PY
    cat <<MSG
test-alerts: Alertmanager sends them on after its group_wait (10-30 s). Then look at:
  Alertmanager         $am/#/alerts
  receiver alerts      $receiver_api/api/v1/alerts?service=test-alerts
  mail catcher         ${MAILPIT_URL:-http://localhost:8025}   (docker compose stack)
  Slack / PagerDuty    wherever the receiver's routes send critical and warning alerts
They resolve by themselves after ${TEST_ALERTS_DURATION:-300} s (resolved notifications follow).
MSG
    exit 0
fi

url="${RECEIVER_URL:-http://127.0.0.1:9095/webhook}"
token_args=()
[[ -n "${RECEIVER_TOKEN:-}" ]] && token_args=(--token "$RECEIVER_TOKEN")
for severity in critical warning info; do
    echo "send-test: severity=$severity -> $url"
    .venv/bin/alert-receiver send-test --url "$url" "${token_args[@]}" --severity "$severity" "$@"
done
cat <<MSG
test-alerts: look at
  receiver alerts      $receiver_api/api/v1/alerts?status=firing
  receiver log         stdout of ./scripts/run.sh (the dev config routes everything to the log notifier)
  mail catcher         ${MAILPIT_URL:-http://localhost:8025}   (docker compose stack)
MSG
