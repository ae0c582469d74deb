"""Helpers for the delivery fault tests: bodies of unique alerts, two `serve` replicas on
one Redis with local PagerDuty / Slack / SMTP servers, and what arrived where."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import TOKEN, Serve
from tests.helpers import free_port
from tests.servers.pagerduty import FakePagerDuty
from tests.servers.slack import FakeSlack
from tests.servers.smtp import SMTPServer

ROUTING_KEY = "R" * 32


def body(run: str, first: int, count: int, severity: str = "critical") -> dict[str, Any]:
    """An Alertmanager v4 body of `count` new firing alerts numbered from `first`."""
    alerts = [{
        "status": "firing",
        "labels": {"alertname": "Fault", "severity": severity, "instance": f"{run}-{i:05d}"},
        "annotations": {"summary": f"fault test {i}"},
        "startsAt": "2026-11-22T05:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "",
    } for i in range(first, first + count)]  # fmt: skip
    return {"receiver": "r", "status": "firing", "alerts": alerts, "groupLabels": {},
            "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am",
            "version": "4", "groupKey": "{}:{}", "truncatedAlerts": 0}  # fmt: skip


def channels(
    pd: FakePagerDuty | None, slack: FakeSlack | None, smtp: SMTPServer | None
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if pd is not None:
        out["pd"] = {"type": "pagerduty", "routing_key": ROUTING_KEY, "base_url": pd.base_url,
                     "rate": "none"}  # fmt: skip
    if slack is not None:
        out["chat"] = {"type": "slack", "token": "xoxb-test-token", "channel": "alerts",
                       "api_url": slack.api_url, "rate": "none"}  # fmt: skip
    if smtp is not None:
        out["mail"] = {"type": "email", "host": "127.0.0.1", "port": smtp.port, "tls": "none",
                       "from": "alerts@example.com", "to": ["oncall@example.com"],
                       "rate": "none"}  # fmt: skip
    return out


def replica(tmp: Path, name: str, redis_url: str, receivers: dict[str, Any],
            **extra: Any) -> Serve:  # fmt: skip
    """A `serve` child process (not started) on its own port and data directory."""
    d = tmp / name
    (d / "data").mkdir(parents=True)
    cfg = d / "config.yml"
    cfg.write_text(yaml.safe_dump({
        "auth": {"bearer_tokens": [TOKEN]}, "redis": {"url": redis_url}, "log_level": "info",
        "receivers": receivers, "route": {"receivers": sorted(receivers)},
        "storm": {"threshold": 100_000}, **extra,
    }))  # fmt: skip
    return Serve(cfg, d / "data", free_port())


def slack_per_alert(slack: FakeSlack) -> Counter[str]:
    """Top-level Slack messages per alert (by the fingerprint in their metadata)."""
    return Counter(str((m.metadata or {}).get("event_payload", {}).get("fingerprint"))
                   for m in slack.top_level())  # fmt: skip


def mail_per_alert(smtp: SMTPServer) -> Counter[str]:
    """Arrived emails per alert (X-Alert-Fingerprint header)."""
    return Counter(str(r.message["X-Alert-Fingerprint"]) for r in smtp.messages)
