"""The real Prometheus (Debian `prometheus`) scrapes a running `alert-receiver serve` and
evaluates deployments/monitoring/alerts.yml; the dashboard's queries run against it.

One Prometheus and one receiver for the module: 1 s scrape and evaluation intervals, a few
alerts posted, then every rule must be healthy and every dashboard query must succeed.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import TOKEN, RedisServer, Serve, fixture_body
from tests.deploy.tools import MONITORING, dashboard_exprs, require, serve_config, substitute
from tests.helpers import free_port, wait_until

# Panels a user looks at first: after a few webhooks they must show something.
CORE_PANELS = (
    "Alerts received by status and severity",
    "Webhook requests by answer",
    "Deliveries by destination and outcome",
    "Queue depth",
    "Dead letters",
    # the config below defines an SLO service: its figures exist from the first check
    "SLO availability",
    "Error budget remaining",
    "Error budget burn rate",
)


@dataclass
class Stack:
    prometheus: str  # base URL of the Prometheus HTTP API
    receiver: Serve
    metrics_text: str  # the receiver's /metrics after the alerts were delivered


def _query(client: httpx.Client, base: str, expr: str) -> dict[str, Any]:
    resp = client.get(f"{base}/api/v1/query", params={"query": expr})
    body: dict[str, Any] = resp.json()
    return body


def _rule_groups(client: httpx.Client, base: str) -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = client.get(f"{base}/api/v1/rules").json()["data"]["groups"]
    return groups


def _start_prometheus(tmp: Path, target: str) -> tuple[subprocess.Popen[bytes], str]:
    binary = require("prometheus", "prometheus")
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(MONITORING / "alerts.yml")],
        "scrape_configs": [
            {"job_name": "alert-receiver", "static_configs": [{"targets": [target]}]}
        ],
    }
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
    with open(tmp / "prometheus.log", "wb") as log:  # the child keeps its copy
        proc = subprocess.Popen(
            [binary, f"--config.file={tmp / 'prometheus.yml'}",
             f"--storage.tsdb.path={tmp / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"prometheus exited: {(tmp / 'prometheus.log').read_text()[-2000:]}")
        try:
            return httpx.get(f"{base}/-/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(ready, timeout=30, interval=0.1)
    return proc, base


def _post_alerts(receiver: Serve) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    for name in ("critical-group-firing", "warning-firing", "critical-group-firing"):
        resp = httpx.post(f"{receiver.url}/webhook", json=fixture_body(name), headers=headers)
        assert resp.status_code == 200, resp.text
    # and one the receiver must refuse (no token): a 401 on the webhook panel
    assert httpx.post(f"{receiver.url}/webhook", json={}).status_code == 401


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("prometheus-live")
    if redis_server.proc is None:
        redis_server.start()
    config = {
        "auth": {"bearer_tokens": [TOKEN]},
        "anonymous_read": True,
        "redis": {"url": redis_server.url, "key_prefix": "promlive"},
        "receivers": {"log": {"type": "log", "rate": "none"}},
        "route": {"receivers": ["log"]},
        "slo": {"interval": "1s", "services": {"api": {
            "objective": 99.9, "matchers": ['severity="critical"']}}},
    }  # fmt: skip
    receiver = serve_config(tmp, config)
    proc, base = _start_prometheus(tmp, f"127.0.0.1:{receiver.port}")
    try:
        _post_alerts(receiver)
        with httpx.Client(timeout=5) as client:
            # delivered (2 critical + 1 warning alert, each once to `log`) and scraped
            def delivered(at_least: float) -> float:
                res = _query(client, base, 'sum(alert_receiver_deliveries_total{outcome="ok"})')
                results = res["data"]["result"]
                n = float(results[0]["value"][1]) if results else 0.0
                return n if n >= at_least else 0.0

            first = wait_until(lambda: delivered(3), timeout=30, interval=0.2)
            # more deliveries after Prometheus has seen the first ones: a rate above 0
            resp = httpx.post(
                f"{receiver.url}/webhook",
                headers={"Authorization": f"Bearer {TOKEN}"},
                json=fixture_body("critical-group-mixed-resolved"),
            )
            assert resp.status_code == 200, resp.text
            wait_until(lambda: delivered(first + 1), timeout=30, interval=0.2)
            # then two more evaluations of every group, so rates and recording rules exist
            since = time.time() + 2

            def evaluated() -> bool:
                groups = _rule_groups(client, base)
                return all(_ts(g["lastEvaluation"]) > since for g in groups)

            wait_until(evaluated, timeout=30, interval=0.2)
            metrics_text = client.get(f"{receiver.url}/metrics").text
        yield Stack(base, receiver, metrics_text)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        receiver.kill(signal.SIGTERM)


def _ts(rfc3339: str) -> float:
    """Prometheus' RFC 3339 timestamps (nanoseconds, Z) as epoch seconds."""
    from datetime import datetime

    m = re.fullmatch(r"(.*T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)", rfc3339)
    assert m, rfc3339
    frac = float("0" + (m.group(2) or ""))
    zone = "+00:00" if m.group(3) == "Z" else m.group(3)
    return datetime.fromisoformat(m.group(1) + zone).timestamp() + frac


def test_every_rule_evaluates_without_error(stack: Stack) -> None:
    with httpx.Client(timeout=5) as client:
        groups = _rule_groups(client, stack.prometheus)
    names = {g["name"] for g in groups}
    assert {"alert-receiver", "alert-receiver-delivery-slo.recording", "application"} <= names
    bad = [
        (g["name"], r.get("name"), r.get("health"), r.get("lastError"))
        for g in groups
        for r in g["rules"]
        if r.get("health") != "ok" or r.get("lastError")
    ]
    assert bad == []
    assert sum(len(g["rules"]) for g in groups) >= 40


def test_recording_rules_and_watchdog_produce_series(stack: Stack) -> None:
    with httpx.Client(timeout=5) as client:
        ratio = _query(client, stack.prometheus, "alert_receiver:delivery_errors:ratio_rate5m")
        alerts = _query(client, stack.prometheus, 'ALERTS{alertname="Watchdog"}')
    # every delivery succeeded: the error ratio exists and is 0
    assert [r["metric"].get("job") for r in ratio["data"]["result"]] == ["alert-receiver"]
    assert float(ratio["data"]["result"][0]["value"][1]) == 0
    assert {r["metric"]["alertstate"] for r in alerts["data"]["result"]} == {"firing"}


def test_dashboard_queries_run_and_core_panels_have_data(stack: Stack) -> None:
    exprs = dashboard_exprs()
    assert len(exprs) >= 20
    errors, empty_core = [], []
    with httpx.Client(timeout=5) as client:
        for title, expr in exprs:
            query = substitute(expr)
            assert "$" not in query, f"{title}: unsubstituted variable in {query}"
            res = _query(client, stack.prometheus, query)
            if res.get("status") != "success":
                errors.append((title, query, res.get("error")))
            elif title in CORE_PANELS and not res["data"]["result"]:
                empty_core.append((title, query))
    assert errors == []
    assert empty_core == []
    assert {t for t, _ in exprs} >= set(CORE_PANELS)


def _exported_names(metrics_text: str) -> set[str]:
    """Every series name a scrape of the receiver can yield, from its TYPE lines: a
    histogram `x` is x_bucket, x_sum, x_count; a counter or gauge is its own name. Counted
    from TYPE lines so that labelled metrics with no sample yet still count."""
    names = set()
    for line in metrics_text.splitlines():
        m = re.fullmatch(r"# TYPE (\w+) (\w+)", line)
        if not m:
            continue
        name, kind = m.groups()
        if kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
        else:
            names.add(name)
    return names


def test_every_metric_in_rules_and_dashboard_is_exported(stack: Stack) -> None:
    exported = _exported_names(stack.metrics_text)
    assert "alert_receiver_deliveries_total" in exported  # the parser reads this format
    used = set(re.findall(r"\balert_receiver_[a-z0-9_]+", (MONITORING / "alerts.yml").read_text()))
    for _, expr in dashboard_exprs():
        used |= set(re.findall(r"\balert_receiver_[a-z0-9_]+", expr))
    assert len(used) >= 10
    assert sorted(used - exported) == []
