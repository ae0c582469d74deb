"""Two `serve` processes on one Redis, real time: alerts fire inside a maintenance window
(nothing sent), one replica is SIGKILLed mid-window, one alert resolves inside; at the end
the alert still firing is told exactly once and its ladder starts from where it was (its
steps fire once each, after the end); the resolved one is never told. The killed replica
comes back and nothing is told again."""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis
import yaml

from receiver.store.keys import Keys
from tests.conftest import TOKEN, RedisServer, Serve, auth
from tests.helpers import free_port, until, wait_deliveries_idle
from tests.integration.ack.test_ack_api import FP, body
from tests.integration.maintenance.test_maintenance import (
    TOKENS,
    iso,
    oncall_auth,
    other_alert,
)
from tests.servers.recorder import Recorder

WINDOW_S = 8.0


def config(redis_url: str, rec: Recorder) -> dict[str, Any]:
    return {
        "auth": {"bearer_tokens": [TOKEN]}, "redis": {"url": redis_url},
        "receivers": {n: {"type": "webhook", "url": rec.url(n), "rate": "none"}
                      for n in ("hook", "level1", "level2")},
        "route": {"receivers": ["hook"], "escalation": "p"},
        "escalation_policies": {"p": {"steps": [
            {"after": "0s", "receivers": ["level1"]}, {"after": "3s", "receivers": ["level2"]}]}},
        "api_tokens": TOKENS,
    }  # fmt: skip


def told(rec: Recorder) -> list[tuple[str, str, str]]:
    """(instance, destination, reason) of everything that arrived, in order."""
    return [(g["alert"]["labels"]["instance"], g["path"].strip("/"), g["reason"])
            for g in rec.got]  # fmt: skip


async def test_a_window_across_two_replicas_and_a_sigkill_tells_each_still_firing_once(
    tmp_path: Path, redis_server: RedisServer, redis: aioredis.Redis, recorder: Recorder
) -> None:
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(config(redis_server.url, recorder)))
    replicas = []
    for i in range(2):
        (tmp_path / f"data{i}").mkdir()
        replicas.append(Serve(path, tmp_path / f"data{i}", free_port()))
    a = body()["alerts"][0]["labels"]["instance"]
    try:
        await asyncio.gather(*(asyncio.to_thread(r.start) for r in replicas))
        async with httpx.AsyncClient() as http:
            now = time.time()
            window = {
                "name": "db-patch",
                "matchers": ['alertname="HighErrorRate"'],
                "reason": "patching",
                "from": iso(now - 1),
                "until": iso(now + WINDOW_S),
            }
            r = await http.post(replicas[0].url + "/api/v1/maintenance", json=window,
                                headers=oncall_auth())  # fmt: skip
            assert r.status_code == 201, r.text
            end = r.json()["in_force"]["end"]

            async def known_on_both() -> bool:
                for rep in replicas:
                    got = (await http.get(rep.url + "/api/v1/maintenance",
                                          headers=oncall_auth())).json()  # fmt: skip
                    if not got["windows"] or got["windows"][0]["in_force"] is None:
                        return False
                return True

            await until(known_on_both, 10, "the window in force on both replicas")
            for rep, b in ((replicas[1], body()), (replicas[0], other_alert()),
                           (replicas[0], body())):  # fmt: skip
                assert (await http.post(rep.url + "/webhook", json=b,
                                        headers=auth())).status_code == 200  # fmt: skip
            shown = (await http.get(f"{replicas[1].url}/api/v1/alerts/{FP}",
                                    headers=oncall_auth())).json()  # fmt: skip
            assert shown["maintenance"]["window"] == "db-patch"
            await wait_deliveries_idle(redis)
            replicas[0].kill(signal.SIGKILL)  # mid-window
            r = await http.post(replicas[1].url + "/webhook", json=other_alert("resolved"),
                                headers=auth())  # fmt: skip
            assert r.status_code == 200
            await wait_deliveries_idle(redis)
            assert recorder.got == []  # nothing inside the window
            ends_at = datetime.fromisoformat(end.replace("Z", "+00:00")).timestamp()
            assert time.time() < ends_at, "the window ended before the test got here (load)"
            # The end: the alert still firing is told; its ladder's steps follow.
            await until(lambda: len(recorder.got) >= 3, 30, "the release and both steps")
            await asyncio.to_thread(replicas[0].start)  # back after the end
            # Past the second pass (10 s after the end) and then some: nothing more comes.
            deadline = time.monotonic() + 13
            await until(lambda: time.monotonic() > deadline, 20)
            await wait_deliveries_idle(redis)
            left = await redis.zcard(Keys().escalation_due)
    finally:
        for rep in replicas:
            if rep.proc is not None:
                rep.kill(signal.SIGTERM)
    assert sorted(told(recorder)) == sorted([(a, "hook", "maintenance_ended"),
                                             (a, "level1", "escalated"),
                                             (a, "level2", "escalated")])  # fmt: skip
    assert left == 0
