"""Recording an outcome survives a Redis restart between the send and its record: the
worker retries the record instead of leaving the job to be sent again."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from tests.conftest import AppFactory, RedisServer, auth
from tests.helpers import metric, until, wait_deliveries_idle
from tests.integration.delivery.faults import (
    body,
    channels,
    mail_per_alert,
    slack_per_alert,
)
from tests.servers.pagerduty import FakePagerDuty
from tests.servers.slack import FakeSlack
from tests.servers.smtp import SMTPServer

N = 6


async def test_redis_restart_between_send_and_record_sends_once(
    app_client: AppFactory, redis: aioredis.Redis, redis_server: RedisServer,
    pd: FakePagerDuty, slack: FakeSlack, smtp: SMTPServer,
) -> None:  # fmt: skip
    slack.hang_next(1000)  # every Slack call waits until released: sends in flight
    pd.hang_next(1000)
    client = await app_client(run_workers=True, receivers=channels(pd, slack, smtp),
                              route={"receivers": ["chat", "mail", "pd"]},
                              workers={"concurrency": 32})  # fmt: skip
    r = await client.post("/webhook", json=body("rec", 0, N), headers=auth())
    assert r.status == 200
    # Every Slack and PagerDuty send has reached its server; emails are through already.
    await until(lambda: len(slack.calls("chat.postMessage")) == N and len(pd.requests) == N,
                what="sends in flight")  # fmt: skip
    await until(lambda: len(smtp.messages) == N, 30, "emails")
    await asyncio.to_thread(redis_server.stop)  # SIGTERM: Redis writes its AOF and exits
    slack.release()
    pd.release()
    await asyncio.sleep(0.7)  # the sends complete; their records fail and are retried
    await asyncio.to_thread(redis_server.start)
    check = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
    try:
        pending = await until_async(check, "{ar}:outbox", 20)
        assert pending == 0
        await wait_deliveries_idle(check)  # no retry due, nothing in flight: nothing more arrives
    finally:
        await check.aclose()
    assert len(slack.calls("chat.postMessage")) == N  # never sent again
    assert not slack.calls("conversations.history")  # not even looked for: recorded
    assert sorted(slack_per_alert(slack).values()) == [1] * N
    assert sorted(mail_per_alert(smtp).values()) == [1] * N
    assert len(pd.requests) == N and len(pd.events) == N
    text = await (await client.get("/metrics")).text()
    assert metric(text, "alert_receiver_outcome_record_retries_total") >= 1
    assert metric(text, "alert_receiver_deliveries_total") == 3 * N


async def until_async(r: aioredis.Redis, outbox: str, limit_s: float) -> int:
    """Wait until the outbox is empty (every job settled); returns its length."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while True:
        try:
            n = int(await r.xlen(outbox))
            if n == 0 or loop.time() > deadline:
                return n
        except (aioredis.RedisError, OSError):
            if loop.time() > deadline:
                raise
        await asyncio.sleep(0.1)
