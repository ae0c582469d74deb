"""An HA pair of real Alertmanagers (not clustered) → two receivers sharing one Redis.

Both Alertmanagers send every alert; each destination must still be notified exactly once
per (alert, state change). Counted where it matters: at the destination.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest
import redis.asyncio as aioredis
import yaml

from receiver.models import fingerprint
from tests.conftest import TOKEN, RedisServer, Serve
from tests.e2e.alertmanager import Alertmanager, make_alert, require_alertmanager, resolved
from tests.helpers import free_port, until, wait_deliveries_idle
from tests.servers.recorder import Recorder

pytestmark = pytest.mark.e2e


async def test_ha_pair_notifies_each_destination_once(
    redis: aioredis.Redis, redis_server: RedisServer, tmp_path: Path,
    recorder: Recorder,
) -> None:  # fmt: skip
    require_alertmanager()
    base, got = recorder.base_url, recorder.got
    cfg = tmp_path / "ha.yml"
    cfg.write_text(yaml.safe_dump({
        "auth": {"bearer_tokens": [TOKEN]},
        "redis": {"url": redis_server.url},
        "receivers": {
            "pd": {"type": "webhook", "url": f"{base}/pd", "rate": "none"},
            "chat": {"type": "webhook", "url": f"{base}/chat", "rate": "none"},
        },
        "route": {"receivers": ["pd", "chat"]},
    }))  # fmt: skip
    receivers = []
    for i in range(2):
        (tmp_path / f"d{i}").mkdir()
        receivers.append(Serve(cfg, tmp_path / f"d{i}", free_port()))
        await asyncio.to_thread(receivers[-1].start)
    alerts = [
        make_alert({"alertname": "HA", "service": "api", "severity": "critical",
                    "instance": f"ha-{i}"}, {"summary": f"ha {i}"})
        for i in range(5)
    ]  # fmt: skip
    try:
        async with (
            Alertmanager(f"{receivers[0].url}/webhook", TOKEN) as am1,
            Alertmanager(f"{receivers[1].url}/webhook", TOKEN) as am2,
        ):
            await asyncio.gather(am1.post_alerts(alerts), am2.post_alerts(alerts))
            await until(lambda: len(got) >= 10, 40)
            # Both Alertmanagers delivered their copy (receive_count 2) before we count.
            for a in alerts:
                key = "{ar}:alert:" + fingerprint(a["labels"])
                await until(lambda key=key: _received_twice(redis, key), 40)
            await wait_deliveries_idle(redis, limit_s=40)  # anything doubled has arrived now
            per = Counter((g["path"], g["alert"]["fingerprint"], g["reason"]) for g in got)
            assert len(per) == 10 and set(per.values()) == {1}, per
            ends = [resolved(a) for a in alerts]
            await asyncio.gather(am1.post_alerts(ends), am2.post_alerts(ends))
            await until(lambda: len(got) >= 20, 40)
            await wait_deliveries_idle(redis, limit_s=40)
            per = Counter((g["path"], g["alert"]["fingerprint"], g["reason"]) for g in got)
            assert len(got) == 20, per
            assert Counter(reason for _p, _f, reason in per) == {"new": 10, "resolved": 10}
    finally:
        for r in receivers:
            await asyncio.to_thread(r.kill)


async def _received_twice(redis: aioredis.Redis, key: str) -> bool:
    return int(await redis.hget(key, "receive_count") or 0) >= 2
