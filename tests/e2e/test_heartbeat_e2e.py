"""Acceptance 4 of issue #12: the real Alertmanager sends a Watchdog with a short repeat
interval to a real `alert-receiver serve` → no page; Alertmanager stopped → exactly one
page after the heartbeat's timeout; Alertmanager back → that page resolves."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis

from tests.conftest import TOKEN, RedisServer
from tests.e2e.alertmanager import Alertmanager, make_alert, require_alertmanager
from tests.e2e.test_delivery_e2e import _serve
from tests.helpers import until
from tests.servers.pagerduty import FakePagerDuty

pytestmark = pytest.mark.e2e

TIMEOUT_S = 6  # the heartbeat's timeout; Alertmanager repeats the Watchdog every ~1-2 s


def actions(pd: FakePagerDuty) -> list[str]:
    return [e["event_action"] for e in pd.events]


async def test_watchdog_silence_pages_once_and_resolves_when_it_is_back(
    redis_server: RedisServer, redis: aioredis.Redis, tmp_path: Path
) -> None:
    require_alertmanager()
    pd = FakePagerDuty()
    await pd.start()
    cfg = {
        "auth": {"bearer_tokens": [TOKEN]}, "redis": {"url": redis_server.url},
        "anonymous_read": True,
        "receivers": {
            "pagerduty": {"type": "pagerduty", "routing_key": "R" * 32, "base_url": pd.base_url},
            "log": {"type": "log"},
        },
        # the Watchdog itself is routed to the log, never paged
        "route": {"receivers": ["log"]},
        "heartbeats": {"watchdog": {"matchers": ['alertname="Watchdog"'],
                                    "timeout": f"{TIMEOUT_S}s", "notify": ["pagerduty"]}},
    }  # fmt: skip
    rx = _serve(tmp_path, "rx", cfg)
    await asyncio.to_thread(rx.start)
    watchdog = make_alert({"alertname": "Watchdog", "severity": "none"},
                          {"summary": "Always firing"})  # fmt: skip
    am_settings = {"group_wait": "0s", "group_interval": "1s", "repeat_interval": "1s"}
    am = Alertmanager(f"{rx.url}/webhook", TOKEN, **am_settings)
    try:
        await am.start()
        await am.post_alerts([watchdog])
        # arriving: seen by the receiver, and two timeouts later still no page
        async with httpx.AsyncClient(timeout=5) as client:

            async def heartbeat() -> dict[str, object]:
                got = (await client.get(f"{rx.url}/api/v1/heartbeats")).json()
                hb: dict[str, object] = got["heartbeats"][0]
                return hb

            for _ in range(150):
                if (await heartbeat())["last_seen"] is not None:
                    break
                await asyncio.sleep(0.2)
            first_seen = (await heartbeat())["last_seen_ms"]
            await asyncio.sleep(2 * TIMEOUT_S)
            hb = await heartbeat()
            assert hb["status"] == "ok"
            assert isinstance(hb["last_seen_ms"], int) and isinstance(first_seen, int)
            assert hb["last_seen_ms"] > first_seen  # the repeats keep arriving
            assert pd.events == []
            # Alertmanager stops: one page after the timeout, and only one
            stopped = time.monotonic()
            await am.stop()
            await until(lambda: len(pd.events) >= 1, 30)
            assert time.monotonic() - stopped >= TIMEOUT_S - 2  # not before the timeout
            await asyncio.sleep(TIMEOUT_S)
            assert actions(pd) == ["trigger"]
            assert "alerting pipeline silent since" in pd.events[0]["payload"]["summary"]
            assert (await heartbeat())["status"] == "missing"
            # back (a new Alertmanager: the Watchdog is posted again, as Prometheus would)
            am = Alertmanager(f"{rx.url}/webhook", TOKEN, **am_settings)
            await am.start()
            await am.post_alerts([make_alert({"alertname": "Watchdog", "severity": "none"},
                                             {"summary": "Always firing"})])  # fmt: skip
            await until(lambda: len(pd.events) >= 2, 30)
            await asyncio.sleep(3)
            assert actions(pd) == ["trigger", "resolve"]
            assert pd.events[1]["dedup_key"] == pd.events[0]["dedup_key"]
            assert (await heartbeat())["status"] == "ok"
    finally:
        await am.stop()
        await asyncio.to_thread(rx.kill)
        await pd.stop()
