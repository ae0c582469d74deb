"""Two `serve` replicas on one Redis; the one holding sends in flight is killed with
SIGKILL after its sends reached Slack and PagerDuty but before it recorded them. The other
takes its jobs over within 15 s, and every alert is still one Slack message and one email."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import redis.asyncio as aioredis

from tests.conftest import RedisServer, auth
from tests.helpers import until, wait_deliveries_idle
from tests.integration.delivery.faults import (
    body,
    channels,
    mail_per_alert,
    replica,
    slack_per_alert,
)
from tests.servers.pagerduty import FakePagerDuty
from tests.servers.slack import FakeSlack
from tests.servers.smtp import SMTPServer

N = 12  # alerts; x 3 destinations = 36 jobs, all read at once by the first replica
TAKEOVER_S = 15.0


async def settled(r: aioredis.Redis) -> bool:
    pending = await r.xpending("{ar}:outbox", "workers")
    return int(await r.xlen("{ar}:outbox")) == 0 and int(pending["pending"]) == 0


async def test_killed_replica_jobs_taken_over_within_15s_without_double_posts(
    tmp_path: Path, redis: aioredis.Redis, redis_server: RedisServer,
    pd: FakePagerDuty, slack: FakeSlack, smtp: SMTPServer,
) -> None:  # fmt: skip
    receivers = channels(pd, slack, smtp)
    a = replica(tmp_path, "a", redis_server.url, receivers, workers={"concurrency": 64})
    b = replica(tmp_path, "b", redis_server.url, receivers, workers={"concurrency": 64})
    slack.hang_next(10_000)  # Slack and PagerDuty hold every answer until released
    pd.hang_next(10_000)
    try:
        await asyncio.to_thread(a.start)
        async with httpx.AsyncClient() as c:
            r = await c.post(a.url + "/webhook", json=body("kill", 0, N), headers=auth())
            assert r.status_code == 200
        # A holds all 24 Slack / PagerDuty sends in flight; its emails went through.
        await until(lambda: len(slack.calls("chat.postMessage")) == N and len(pd.requests) == N,
                    what="A's sends in flight")  # fmt: skip
        await until(lambda: len(smtp.messages) == N, 30, "emails")
        await asyncio.to_thread(b.start)
        await asyncio.sleep(1.0)  # B is up and finds nothing to take: A renews its claims
        assert not await settled(redis)
        assert len(slack.calls("chat.postMessage")) == N and len(pd.requests) == N
        a.kill()  # SIGKILL while A's sends are in flight
        killed = time.monotonic()
        # The vendors now complete what A sent: the sends reached them, unrecorded.
        slack.release()
        pd.release()
        deadline = killed + TAKEOVER_S
        while not await settled(redis):
            assert time.monotonic() < deadline, "A's jobs not taken over within 15 s"
            await asyncio.sleep(0.1)
        took = time.monotonic() - killed
        # B sent each of A's PagerDuty triggers again (same dedup_key: one incident) …
        again = {r.body for r in pd.requests if r.at > killed}
        assert len(again) == N and all(r.at - killed <= TAKEOVER_S
                                       for r in pd.requests if r.at > killed)  # fmt: skip
        assert list(pd.incidents.values()) == ["open"] * N
        # … and found A's Slack messages instead of posting a second one.
        await wait_deliveries_idle(redis)  # nothing queued, in flight or due: nothing more arrives
        assert len(slack.calls("conversations.history")) >= 1
        assert sorted(slack_per_alert(slack).values()) == [1] * N
        assert len(slack.calls("chat.postMessage")) == N
        assert sorted(mail_per_alert(smtp).values()) == [1] * N
        print(f"takeover: A's jobs settled by B {took:.1f} s after the kill")
    finally:
        slack.release()
        pd.release()
        for s in (a, b):
            if s.proc is not None:
                s.kill()
