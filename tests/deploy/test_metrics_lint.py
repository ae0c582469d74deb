"""`promtool check metrics` (the Prometheus naming and type rules) over the /metrics of a
real `alert-receiver serve` with every feature configured and exercised: several receiver
types against local vendors, a paused destination, escalation, an ack, a digest, an SLO
whose budget is spent, a heartbeat. Its embedded Redis; everything on loopback."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from receiver.models import ZERO_TIME
from tests.conftest import TOKEN
from tests.deploy.tools import require, serve_config
from tests.servers.pagerduty import FakePagerDuty
from tests.servers.recorder import Recorder
from tests.servers.slack import FakeSlack
from tests.servers.smtp import SMTPServer

ACK_TOKEN = "acker-token-0123456789"
CRITICAL = {"alertname": "APIDown", "service": "api", "severity": "critical"}
WARNING = {"alertname": "DiskSpaceLow", "service": "db", "severity": "warning"}
INFO = {"alertname": "CertExpiresSoon", "service": "web", "severity": "info"}
WATCHDOG = {"alertname": "Watchdog", "severity": "none"}
DESTINATIONS = ("log", "hook", "pd", "chat", "mail")

# Series that exist and count something once the features above ran: each must be in the
# page promtool checks, so the check covers their names, types and labels.
HAPPENED = (
    "alert_receiver_alerts_received_total",
    "alert_receiver_parked_total",
    "alert_receiver_escalation_steps_total",
    "alert_receiver_escalation_step_lateness_seconds_count",
    "alert_receiver_acks_total",
    "alert_receiver_time_to_acknowledge_seconds_count",
    "alert_receiver_digests_sent_total",
    "alert_receiver_digest_alerts_count",
    "alert_receiver_slo_budget_notifications_total",
    "alert_receiver_heartbeat_last_seen_timestamp_seconds",
    "alert_receiver_error_budget_used_seconds",
)
# Gauges that exist per configured thing (their value may be 0).
LABELLED = (
    "alert_receiver_destination_paused",
    "alert_receiver_destination_resume_seconds",
    "alert_receiver_destination_parked_jobs",
    "alert_receiver_digest_buffered_alerts",
    "alert_receiver_heartbeat_missing",
    "alert_receiver_slo_status",
    "alert_receiver_slo_burn_rate",
    "alert_receiver_error_budget_seconds",
)


def iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def webhook_body(labels: dict[str, str], starts: datetime) -> dict[str, Any]:
    """An Alertmanager v4 webhook body with one firing alert."""
    alert = {"status": "firing", "labels": labels, "annotations": {"summary": "metrics lint"},
             "startsAt": iso(starts), "endsAt": ZERO_TIME, "generatorURL": ""}  # fmt: skip
    return {"version": "4", "groupKey": f"{{}}:{{alertname={labels['alertname']!r}}}",
            "status": "firing", "receiver": "rx", "groupLabels": {}, "commonLabels": labels,
            "commonAnnotations": {}, "externalURL": "http://am:9093", "truncatedAlerts": 0,
            "alerts": [alert]}  # fmt: skip


def samples(metrics_text: str) -> dict[str, dict[str, float]]:
    """series name → {label text: value} of every sample line."""
    out: dict[str, dict[str, float]] = defaultdict(dict)
    for line in metrics_text.splitlines():
        m = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)", line)
        if m and not line.startswith("#"):
            out[m.group(1)][m.group(2) or ""] = float(m.group(3))
    return out


def missing(metrics_text: str) -> list[str]:
    """What of HAPPENED, LABELLED and the deliveries per destination is not there yet."""
    got = samples(metrics_text)
    gone = [n for n in HAPPENED if sum(got.get(n, {}).values()) <= 0]
    gone += [n for n in LABELLED if not got.get(n)]
    ok = [k for k, v in got.get("alert_receiver_deliveries_total", {}).items()
          if 'outcome="ok"' in k and v > 0]  # fmt: skip
    delivered = {d for d in DESTINATIONS if any(f'destination="{d}"' in k for k in ok)}
    gone += [f"deliveries to {d}" for d in DESTINATIONS if d not in delivered]
    return gone


@dataclass
class Vendors:
    pd: FakePagerDuty
    slack: FakeSlack
    hook: Recorder
    smtp: SMTPServer


@pytest.fixture
async def vendors() -> AsyncIterator[Vendors]:
    v = Vendors(FakePagerDuty(), FakeSlack(), Recorder(), SMTPServer())
    await v.pd.start()
    await v.slack.start()
    await v.hook.start()
    v.smtp.start()
    yield v
    v.smtp.stop()
    await v.hook.stop()
    await v.slack.stop()
    await v.pd.stop()


def full_config(v: Vendors) -> dict[str, Any]:
    """Every feature on: five receiver types, routes by severity, an escalation policy, a
    digest, an SLO, a heartbeat, ack tokens. No `redis:`: serve runs its embedded one."""
    return {
        "auth": {"bearer_tokens": [TOKEN]},
        "anonymous_read": True,
        "api_tokens": [{"name": "oncall", "token": ACK_TOKEN, "scopes": ["ack"]}],
        "receivers": {
            "log": {"type": "log", "rate": "none"},
            "hook": {"type": "webhook", "url": v.hook.url("hook"), "rate": "none"},
            "pd": {"type": "pagerduty", "routing_key": "R" * 32, "base_url": v.pd.base_url,
                   "rate": "none"},
            "chat": {"type": "slack", "token": "xoxb-test-token", "channel": "alerts",
                     "api_url": v.slack.api_url, "rate": "none"},
            "mail": {"type": "email", "host": "127.0.0.1", "port": v.smtp.port, "tls": "none",
                     "from": "alerts@example.com", "to": ["oncall@example.com"],
                     "rate": "none"},
        },
        "route": {"receivers": ["log"], "routes": [
            {"name": "critical", "matchers": ['severity="critical"'],
             "receivers": ["pd", "chat"], "escalation": "p"},
            {"name": "warning", "matchers": ['severity="warning"'], "receivers": ["hook", "mail"]},
            {"name": "info", "matchers": ['severity="info"'], "receivers": [], "digest": "d"},
        ]},
        "escalation_policies": {"p": {"steps": [{"after": "1s", "receivers": ["hook"]}]}},
        "digests": {"d": {"receiver": "mail", "to": ["digest@example.com"], "every": "1s"}},
        # 99.9 % of 6 h is 21.6 s of budget: the critical below, firing since 100 s ago,
        # spends it (both thresholds notified)
        "slo": {"interval": "1s", "thresholds": [50, 100], "services": {"api": {
            "objective": 99.9, "window": "6h", "matchers": ['service="api"'],
            "notify": ["hook"]}}},
        "heartbeats": {"watchdog": {"matchers": ['alertname="Watchdog"'], "timeout": "1h",
                                    "notify": ["pd"]}},
    }  # fmt: skip


async def test_promtool_check_metrics_passes_on_a_receiver_with_every_feature(
    tmp_path: Path, vendors: Vendors
) -> None:
    promtool = require("promtool", "prometheus")
    vendors.pd.rate_limit_next(1, retry_after=1)  # the first page pauses pd: parked, resumed
    server = await asyncio.to_thread(serve_config, tmp_path, full_config(vendors))
    try:
        now = datetime.now(UTC)
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            headers = {"Authorization": f"Bearer {TOKEN}"}
            for labels, starts in ((CRITICAL, now - timedelta(seconds=100)), (WARNING, now),
                                   (INFO, now), (WATCHDOG, now)):  # fmt: skip
                resp = await client.post("/webhook", json=webhook_body(labels, starts),
                                         headers=headers)  # fmt: skip
                assert resp.status_code == 200, resp.text
            (alert,) = (await client.get("/api/v1/alerts", params={"service": "api"})).json()[
                "alerts"
            ]
            # the ack after the escalation step fired (it is due 1 s after the intake)
            for _ in range(300):  # bounded: about 30 s
                text = (await client.get("/metrics")).text
                if sum(samples(text)["alert_receiver_escalation_steps_total"].values()) > 0:
                    break
                await asyncio.sleep(0.1)
            resp = await client.post(f"/api/v1/alerts/{alert['fingerprint']}/ack",
                                     json={"by": "alice"},
                                     headers={"Authorization": f"Bearer {ACK_TOKEN}"})  # fmt: skip
            assert resp.status_code == 200 and resp.json()["outcome"] == "acked", resp.text
            for _ in range(300):  # bounded: about 30 s
                text = (await client.get("/metrics")).text
                if not missing(text):
                    break
                await asyncio.sleep(0.1)
        assert missing(text) == []
        res = await asyncio.to_thread(
            subprocess.run,
            [promtool, "check", "metrics"],
            input=text,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert (res.returncode, res.stdout + res.stderr) == (0, "")
        # the SLO figures are there, under their (gauge) names
        got = samples(text)
        assert got["alert_receiver_slo_window_downtime_seconds"]['{service="api"}'] >= 100
        assert got["alert_receiver_slo_window_uptime_seconds"]['{service="api"}'] > 0
    finally:
        await asyncio.to_thread(server.kill, signal.SIGTERM)
