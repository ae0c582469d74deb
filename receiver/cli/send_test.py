"""`alert-receiver send-test --url URL`: post a realistic Alertmanager v4 body."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from receiver import __version__
from receiver.cli.common import say
from receiver.models import Severity, Status


def sample_body(severity: str, status: str = "firing", count: int = 1) -> dict[str, Any]:
    """A realistic Alertmanager v4 body, shaped like the captured fixtures."""
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    name = {"critical": "HighErrorRate", "warning": "DiskSpaceLow"}.get(severity, "InfoNotice")
    alerts = []
    for i in range(count):
        labels = {"alertname": name, "instance": f"send-test-{i + 1}:8080", "job": "send-test",
                  "service": "send-test", "severity": severity}  # fmt: skip
        alerts.append(
            {
                "status": status,
                "labels": labels,
                "annotations": {"summary": f"send-test {severity} alert",
                                "description": "posted by alert-receiver send-test"},
                "startsAt": now,
                "endsAt": now if status == "resolved" else "0001-01-01T00:00:00Z",
                "generatorURL": "",
            }
        )  # fmt: skip
    group = {"alertname": name, "service": "send-test"}
    return {
        "receiver": "send-test", "status": status, "alerts": alerts, "groupLabels": group,
        "commonLabels": {**group, "severity": severity}, "commonAnnotations": {},
        "externalURL": "http://alert-receiver-send-test", "version": "4",
        "groupKey": f'{{}}:{{alertname="{name}", service="send-test"}}', "truncatedAlerts": 0,
    }  # fmt: skip


def run(args: argparse.Namespace) -> int:
    import httpx  # only this command needs an HTTP client

    body = sample_body(args.severity, args.status, args.count)
    headers = {"User-Agent": f"alert-receiver-send-test/{__version__}"}
    if args.token:
        headers["Authorization"] = f"Bearer {args.token}"
    try:
        resp = httpx.post(args.url, json=body, headers=headers, timeout=10)
    except httpx.HTTPError as e:
        say(f"alert-receiver: POST {args.url} failed: {e}", file=sys.stderr)
        return 1
    say(f"{resp.status_code} {resp.text}")
    return 0 if resp.is_success else 1


def add_parser(sub: Any, func: Callable[[argparse.Namespace], int]) -> None:
    t = sub.add_parser("send-test", help="post a realistic Alertmanager v4 body")
    t.add_argument("--url", required=True, help="e.g. http://127.0.0.1:9095/webhook")
    t.add_argument("--token", help="bearer token")
    t.add_argument("--severity", default=Severity.CRITICAL.value,
                   choices=[s.value for s in Severity])  # fmt: skip
    t.add_argument("--status", default=Status.FIRING.value, choices=[s.value for s in Status])
    t.add_argument("--count", type=int, default=1, help="alerts in the body")
    t.set_defaults(func=func)
