"""Two replicas, one SIGKILLed between the push and the email rule's due time: alice gets
one push, presses Acknowledge on the survivor, the email rule never fires, PagerDuty gets
its acknowledge, nothing is sent twice."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import redis.asyncio as aioredis
import yaml

from receiver.store.keys import Keys
from tests.conftest import TOKEN, RedisServer, Serve, auth
from tests.helpers import free_port, until, wait_deliveries_idle
from tests.integration.ack.test_ack_api import FP, body
from tests.integration.people.common import TOPIC, ntfy, people_config
from tests.servers.ntfy import FakeNtfy
from tests.servers.pagerduty import FakePagerDuty
from tests.servers.smtp import SMTPServer

__all__ = ["ntfy"]


async def test_one_push_one_ack_no_email_across_two_replicas_and_a_sigkill(
    tmp_path: Path,
    redis_server: RedisServer,
    redis: aioredis.Redis,
    ntfy: FakeNtfy,
    smtp: SMTPServer,
    pd: FakePagerDuty,
) -> None:
    ports = [free_port(), free_port()]
    survivor = f"http://127.0.0.1:{ports[1]}"
    cfg = {"auth": {"bearer_tokens": [TOKEN]}, "redis": {"url": redis_server.url},
           "anonymous_read": True,
           **people_config(ntfy, smtp, pd, survivor, "6s")}  # fmt: skip
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(cfg))
    replicas = []
    for i, port in enumerate(ports):
        (tmp_path / f"data{i}").mkdir()
        replicas.append(Serve(path, tmp_path / f"data{i}", port))
    import httpx

    try:
        await asyncio.gather(*(asyncio.to_thread(r.start) for r in replicas))
        async with httpx.AsyncClient() as http:
            r = await http.post(replicas[0].url + "/webhook", json=body(), headers=auth())
            assert r.status_code == 200
            await until(lambda: len(ntfy.messages) >= 1, limit_s=15)
            await until(lambda: len(pd.events) >= 1, limit_s=15)
            await wait_deliveries_idle(redis)
            replicas[0].kill(signal.SIGKILL)  # well before the email rule (6 s)
            push = ntfy.messages[0]
            assert push.topic == TOPIC and push.priority == 5
            status, answer = await ntfy.press(push)
            assert status == 200 and answer["outcome"] == "acked", answer
            got = await http.get(f"{survivor}/api/v1/alerts/{FP}")
            alert = got.json()
            assert got.status_code == 200, alert
            assert alert["ack"]["by"] == "alice" and alert["ack"]["via"] == "push"

            async def stopped() -> bool:
                c = await redis.hgetall(Keys().person_chain(FP, "alice"))
                return bool(c.get("ended") == "acked")

            # The survivor claims the email rule at its due time and finds the ack.
            await until(stopped, limit_s=30)
            await until(lambda: len(pd.events) >= 2, limit_s=15)
            await wait_deliveries_idle(redis)
    finally:
        for rep in replicas:
            if rep.proc is not None:
                rep.kill(signal.SIGTERM)
    assert len(ntfy.messages) == 1
    assert smtp.messages == []
    assert [e["event_action"] for e in pd.events] == ["trigger", "acknowledge"]
    assert await redis.zcard(Keys().people_due) == 0
