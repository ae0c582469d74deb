"""Service SLOs from alert history, against a real Redis: the intake opens and closes
downtime intervals atomically with the alert state; the figures, the API and the CLI
report them; budget thresholds notify once per crossing across replicas and a restart
keeps the figures; compaction keeps the store bounded."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
import yaml

from receiver.models import fingerprint
from receiver.server.settings import Settings
from receiver.slo.config import ServiceObjective
from receiver.slo.store import MARGIN_MS, SloStore
from receiver.store.keys import Keys
from tests.conftest import TOKEN, AppFactory, RedisServer, auth
from tests.servers.recorder import Recorder

NOW = 1_760_000_000.0  # the injected clock's start (s)
K = Keys("ar")
API = {"alertname": "APIDown", "service": "api", "severity": "critical"}
OTHER = {"alertname": "WebSlow", "service": "web", "severity": "critical"}
SLO = {"services": {"api": {"objective": 99.9, "window": "6h",
                            "matchers": ['severity="critical"', 'service="api"']}}}  # fmt: skip


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def body(labels: dict[str, str], status: str, starts: float, ends: float | None = None) -> Any:
    alert = {"status": status, "labels": labels, "annotations": {}, "startsAt": iso(starts),
             "endsAt": iso(ends) if ends is not None else "0001-01-01T00:00:00Z",
             "generatorURL": "", "fingerprint": fingerprint(labels)}  # fmt: skip
    return {"version": "4", "groupKey": "{}:{}", "status": status, "receiver": "rx",
            "groupLabels": {}, "commonLabels": labels, "commonAnnotations": {},
            "externalURL": "http://am:9093", "alerts": [alert]}  # fmt: skip


class Clock:
    def __init__(self, t: float = NOW) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


async def post(client: Any, b: Any) -> None:
    resp = await client.post("/webhook", json=b, headers=auth())
    assert resp.status == 200, await resp.text()


async def test_intervals_open_on_firing_close_on_resolve_only_for_matching_alerts(
    app_client: AppFactory, redis: aioredis.Redis
) -> None:
    clock = Clock()
    client = await app_client(clock=clock, slo=SLO)
    fp = fingerprint(API)
    await post(client, body(API, "firing", NOW - 60))
    await post(client, body(OTHER, "firing", NOW - 60))
    assert await redis.hgetall(K.slo_open("api")) == {fp: str(int((NOW - 60) * 1000))}
    # repeats and HA copies change nothing
    clock.t += 30
    await post(client, body(API, "firing", NOW - 60))
    await post(client, body(API, "firing", NOW - 60))
    assert await redis.hgetall(K.slo_open("api")) == {fp: str(int((NOW - 60) * 1000))}
    assert await redis.zcard(K.slo_closed("api")) == 0
    # an open interval counts up to now: 90 s
    got = await (await client.get("/api/v1/slo")).json()
    assert got["services"][0]["downtime_seconds"] == 90
    # the resolve closes it at Alertmanager's endsAt
    clock.t += 30
    await post(client, body(API, "resolved", NOW - 60, NOW + 40))
    await post(client, body(API, "resolved", NOW - 60, NOW + 40))  # a retry: no change
    assert await redis.hgetall(K.slo_open("api")) == {}
    start, end = int((NOW - 60) * 1000), int((NOW + 40) * 1000)
    assert await redis.zrange(K.slo_closed("api"), 0, -1, withscores=True) == [
        (f"{start}|{end}|{fp}", end)
    ]
    # the alert's state record no longer carries the services it counts for
    assert await redis.hget(K.alert(fp), "slo") is None
    got = await (await client.get("/api/v1/slo")).json()
    api = got["services"][0]
    assert (api["service"], api["downtime_seconds"], api["objective"]) == ("api", 100, 99.9)
    # 99.9 % of 6 h: 21.6 s of budget, 100 s spent
    assert api["error_budget"]["total_seconds"] == 21.6
    assert api["error_budget"]["remaining_seconds"] == 0
    assert (api["status"], api["status_name"]) == (-1, "breached")
    assert api["availability"] == pytest.approx(100 * (1 - 100 / 21600), abs=1e-6)


async def test_overlapping_alerts_count_once_and_a_refire_opens_a_new_interval(
    app_client: AppFactory, redis: aioredis.Redis
) -> None:
    clock = Clock()
    client = await app_client(clock=clock, slo=SLO)
    second = {**API, "alertname": "APILatency"}
    await post(client, body(API, "firing", NOW - 100))
    await post(client, body(second, "firing", NOW - 50))
    await post(client, body(second, "resolved", NOW - 50, NOW - 20))
    await post(client, body(API, "resolved", NOW - 100, NOW - 10))
    # a new episode of the first alert
    await post(client, body(API, "firing", NOW - 5))
    api = (await (await client.get("/api/v1/slo")).json())["services"][0]
    assert api["downtime_seconds"] == 90 + 5  # [-100, -10] and [-5, now]
    # an ad-hoc window over the API
    assert (await client.get("/api/v1/slo?window=12h")).status == 200
    bad = await client.get("/api/v1/slo?window=1m")
    assert bad.status == 400 and (await bad.json())["error"] == "invalid_query"


async def test_budget_thresholds_notify_once_per_crossing_across_replicas_and_restarts(
    app_client: AppFactory, redis: aioredis.Redis, recorder: Recorder
) -> None:
    clock = Clock()
    hook = {"type": "webhook", "url": recorder.url(), "rate": "none"}
    cfg = {"slo": {**SLO, "interval": "1s", "thresholds": [50, 90, 100],
                   "services": {"api": {**SLO["services"]["api"], "notify": ["hook"]}}},
           "receivers": {"log": {"type": "log", "rate": "none"}, "hook": hook}}  # fmt: skip
    replicas = [await app_client(run_workers=True, clock=clock, **cfg) for _ in range(2)]
    # 12 s down of 21.6 s: 55.6 % → the 50 % crossing, once for both replicas
    await post(replicas[0], body(API, "firing", NOW - 12))

    async def notified(n: int) -> list[str]:
        for _ in range(200):
            if len(recorder.got) >= n:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(2.5)  # two more checks by each replica: nothing more comes
        return sorted(g["alert"]["labels"]["threshold"] for g in recorder.got)

    assert await notified(1) == ["50"]
    clock.t += 5  # 17 s: 78.7 %, no new threshold
    assert await notified(1) == ["50"]
    clock.t += 5  # 22 s: 101.9 %, 90 and 100 crossed
    assert await notified(3) == ["100", "50", "90"]
    # a restart (a new replica alone, the old ones gone) keeps the figures and notifies nothing
    for c in replicas:
        await c.close()
    again = await app_client(run_workers=True, clock=clock, **cfg)
    api = (await (await again.get("/api/v1/slo")).json())["services"][0]
    assert api["downtime_seconds"] == 22
    assert await notified(3) == ["100", "50", "90"]
    # back under the thresholds (the alert resolved long ago, out of the 6 h window) …
    await post(again, body(API, "resolved", NOW - 12, NOW + 10))
    clock.t += 7 * 3600
    for _ in range(100):
        if not await redis.hlen(K.slo_alerted("api")):
            break
        await asyncio.sleep(0.1)
    assert await redis.hlen(K.slo_alerted("api")) == 0
    # … and a new crossing notifies again
    await post(again, body(API, "firing", clock.t - 12))
    assert (await notified(4)).count("50") == 2
    sent = recorder.got[-1]["alert"]
    assert sent["labels"]["alertname"] == "ErrorBudgetConsumed"
    assert "error budget consumed" in sent["annotations"]["summary"]


async def test_metrics_exported_for_a_configured_service(
    app_client: AppFactory, redis: aioredis.Redis
) -> None:
    client = await app_client(run_workers=True, slo={**SLO, "interval": "1s"})
    deadline = time.monotonic() + 10
    text = ""
    while time.monotonic() < deadline:
        text = await (await client.get("/metrics")).text()
        if 'alert_receiver_slo_status{service="api",slo="99.9"} 1.0' in text:
            break
        await asyncio.sleep(0.1)
    for line in ('alert_receiver_slo_window_uptime_seconds{service="api"} 21600.0',
                 'alert_receiver_slo_window_downtime_seconds{service="api"} 0.0',
                 'alert_receiver_error_budget_seconds{service="api",slo="99.9"} 21.6',
                 'alert_receiver_error_budget_used_seconds{service="api",slo="99.9"} 0.0',
                 'alert_receiver_slo_status{service="api",slo="99.9"} 1.0',
                 'alert_receiver_slo_burn_rate{service="api",slo="99.9",window="1h"} 0.0',
                 ):  # fmt: skip
        assert line in text


async def test_compaction_merges_and_drops_old_intervals_keeping_new_ones(
    redis: aioredis.Redis,
) -> None:
    clock = Clock()
    store = SloStore(redis, K, clock)
    svc = ServiceObjective(objective=99.9, window="6h", matchers=['service="api"'])
    now_ms = int(NOW * 1000)
    old = now_ms - 6 * 3600 * 1000 - MARGIN_MS - 1000
    members = {f"{old - 5000}|{old}|a": old,  # before window + margin: dropped
               f"{now_ms - 9000}|{now_ms - 5000}|b": now_ms - 5000,
               f"{now_ms - 7000}|{now_ms - 3000}|c": now_ms - 3000,  # overlaps b
               f"{now_ms - 2000}|{now_ms - 1000}|d": now_ms - 1000}  # fmt: skip
    await redis.zadd(K.slo_closed("api"), members)
    before = await store.figures(svc, "api", Settings.model_validate(
        {"auth": "none", "slo": {"services": {"api": svc.model_dump()}}}).slo)  # fmt: skip
    assert await store.compact("api", svc, "me") == 4
    assert await redis.zrange(K.slo_closed("api"), 0, -1) == [
        f"{now_ms - 9000}|{now_ms - 3000}",
        f"{now_ms - 2000}|{now_ms - 1000}",
    ]
    # the lease: another replica does not compact again now
    assert await store.compact("api", svc, "other") is None
    await redis.delete(K.slo_lease("api"))
    assert await store.compact("api", svc, "me") == 0  # nothing left to merge
    after = await store.figures(svc, "api", Settings.model_validate(
        {"auth": "none", "slo": {"services": {"api": svc.model_dump()}}}).slo)  # fmt: skip
    assert after == before


def test_cli_slo_report_table_and_json(redis_server: RedisServer, tmp_path: Path) -> None:
    cfg = {"auth": {"bearer_tokens": [TOKEN]}, "redis": {"url": redis_server.url},
           "slo": SLO}  # fmt: skip
    path = tmp_path / "c.yml"
    path.write_text(yaml.safe_dump(cfg))
    cmd = [sys.executable, "-m", "receiver", "slo", "report", "--config", str(path)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0].split()[:3] == ["SERVICE", "OBJECTIVE", "WINDOW"]
    assert "api" in out.stdout and "healthy" in out.stdout
    out = subprocess.run([*cmd, "--json", "--window", "7d"], capture_output=True, text=True,
                         timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stderr
    [api] = json.loads(out.stdout)["services"]
    assert (api["service"], api["window"], api["downtime_seconds"]) == ("api", "7d", 0)
    bad = subprocess.run([*cmd, "--window", "soon"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--window" in bad.stderr
