"""Discord through the whole pipeline on two replicas (two apps with workers on one Redis)
and the local Discord and PagerDuty: firing → one message; the ack link in it → the same
message edited, PagerDuty acknowledged; resolve → the same message edited. Bad and old
links change nothing; a 429's wait is kept and everything arrives once afterwards."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from receiver.ack.links import sign
from tests.conftest import AppFactory, auth
from tests.helpers import metric, until, wait_deliveries_idle
from tests.integration.ack.test_ack_api import FP, ROUTING_KEY, STARTS, body
from tests.integration.api.test_webhook_intake import state_snapshot
from tests.integration.delivery.faults import body as many
from tests.servers.discord import FakeDiscord
from tests.servers.pagerduty import FakePagerDuty

SECRET = "link-secret-for-discord-0123456789abcdef"
BASE = "https://alerts.example.org"
FAST = {"backoff_base": "200ms", "backoff_max": "1s", "visibility_timeout": "5s"}
LINK = re.compile(r"\[Acknowledge\]\(https://alerts\.example\.org(/ack/[^)]+)\)")


@pytest.fixture
async def discord() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    await server.start()
    yield server
    await server.stop()


def settings(discord: FakeDiscord, pd: FakePagerDuty | None, **workers: Any) -> dict[str, Any]:
    receivers: dict[str, Any] = {
        "chat": {"type": "discord", "webhook_url": discord.webhook_url(), "rate": "none"}
    }
    if pd is not None:
        receivers["pd"] = {"type": "pagerduty", "routing_key": ROUTING_KEY,
                           "base_url": pd.base_url, "rate": "none"}  # fmt: skip
    return {"run_workers": True, "receivers": receivers,
            "route": {"receivers": sorted(receivers)}, "workers": {**FAST, **workers},
            "ack": {"links": {"secret": SECRET, "base_url": BASE}}}  # fmt: skip


async def replicas(app_client: AppFactory, discord: FakeDiscord,
                   pd: FakePagerDuty) -> list[TestClient[Any, Any]]:  # fmt: skip
    return [await app_client(**settings(discord, pd)) for _ in range(2)]


def the_message(discord: FakeDiscord) -> Any:
    (msg,) = discord.messages.values()
    return msg


async def test_two_replicas_one_message_edited_by_the_ack_link_and_the_resolve(
    app_client: AppFactory, redis: aioredis.Redis, discord: FakeDiscord, pd: FakePagerDuty
) -> None:
    a, b = await replicas(app_client, discord, pd)
    assert (await a.post("/webhook", json=body(), headers=auth())).status == 200
    await until(lambda: len(discord.messages) == 1 and pd.incidents, what="posted")
    msg = the_message(discord)
    assert msg.embed["title"] == "🔴 [FIRING] HighErrorRate"
    found = LINK.search(msg.embed["description"])
    assert found, msg.embed["description"]

    page = await b.get(found.group(1))  # the person follows the link, on the other replica
    assert page.status == 200 and "Acknowledge HighErrorRate?" in await page.text()
    resp = await b.post(found.group(1), data={"confirm": "yes", "name": "bob"})
    assert resp.status == 200, await resp.text()
    await until(lambda: len(msg.edits) == 1 and list(pd.incidents.values()) == ["acknowledged"],
                what="message edited, PagerDuty acknowledged")  # fmt: skip
    assert "Acknowledged by **bob (discord link)**" in msg.embed["description"]
    alert = await (await b.get(f"/api/v1/alerts/{FP}")).json()
    assert (alert["ack"]["by"], alert["ack"]["via"]) == ("bob (discord link)", "discord")
    assert "[Acknowledge]" not in msg.embed["description"]

    assert (await b.post("/webhook", json=body("resolved"), headers=auth())).status == 200
    await until(lambda: len(msg.edits) == 2 and list(pd.incidents.values()) == ["resolved"],
                what="message edited on resolve")  # fmt: skip
    await wait_deliveries_idle(redis)
    assert msg.embed["title"] == "✅ [RESOLVED] HighErrorRate"
    assert len(discord.posts()) == 1 and len(discord.messages) == 1
    assert len(discord.edits()) == 2  # ack, resolve: never a second post for one change


async def test_forged_and_old_episode_links_change_nothing(
    app_client: AppFactory, redis: aioredis.Redis, discord: FakeDiscord, pd: FakePagerDuty
) -> None:
    a, b = await replicas(app_client, discord, pd)
    old = "/ack/" + sign(FP, "2026-11-21T00:00:00Z", 2_000_000_000, SECRET)  # an earlier firing
    forged = "/ack/" + sign(FP, STARTS, 2_000_000_000, "another-secret-0123456789abcdef")
    unknown = "/ack/" + sign("00000000deadbeef", STARTS, 2_000_000_000, SECRET)
    assert (await a.post("/webhook", json=body(), headers=auth())).status == 200
    await until(lambda: len(discord.messages) == 1 and pd.incidents, what="posted")
    await wait_deliveries_idle(redis)
    before = await state_snapshot(redis)
    for path, status in ((old, 410), (forged, 403), (unknown, 410), ("/ack/v1.x.y", 400)):
        resp = await b.post(path, data={"confirm": "yes", "name": "mallory"})
        assert resp.status == status, (path, await resp.text())
    await wait_deliveries_idle(redis)
    assert await state_snapshot(redis) == before
    assert not the_message(discord).edits and list(pd.incidents.values()) == ["open"]


async def test_429_retry_after_is_kept_and_every_alert_arrives_once(
    app_client: AppFactory, redis: aioredis.Redis, discord: FakeDiscord
) -> None:
    discord.rate_limit_next(1, retry_after=2.0)
    client = await app_client(**settings(discord, None, concurrency=1))
    assert (await client.post("/webhook", json=many("db", 0, 5), headers=auth())).status == 200
    await until(lambda: len(discord.messages) == 5, 30, "all five posted")
    await wait_deliveries_idle(redis)
    first, *rest = discord.requests
    assert first.status == 429
    assert rest and not any(r.early for r in rest)  # nothing before the 2 s were over
    assert all(r.at - first.at >= 2.0 for r in rest)
    instances = sorted(m.embed["fields"][0]["value"] for m in discord.messages.values())
    assert instances == [f"db-{i:05d}" for i in range(5)]
    assert len(discord.posts()) == 5


async def test_429_on_two_busy_replicas_every_alert_arrives_once(
    app_client: AppFactory, redis: aioredis.Redis, discord: FakeDiscord
) -> None:
    """Sends already in flight when the 429 comes are refused too (the stand-in, like the
    vendor, refuses everything within the wait); all are retried after it, none doubled."""
    discord.rate_limit_next(1, retry_after=2)
    a, b = [await app_client(**settings(discord, None)) for _ in range(2)]
    assert (await a.post("/webhook", json=many("a", 0, 10), headers=auth())).status == 200
    assert (await b.post("/webhook", json=many("b", 0, 10), headers=auth())).status == 200
    await until(lambda: len(discord.messages) == 20, 60, "all twenty posted")
    await wait_deliveries_idle(redis)
    expected = sorted([f"a-{i:05d}" for i in range(10)] + [f"b-{i:05d}" for i in range(10)])
    assert sorted(m.embed["fields"][0]["value"] for m in discord.messages.values()) == expected
    first = discord.requests[0]
    assert first.status == 429
    assert all(r.status == 429 for r in discord.requests if r.early)  # none got through early


async def test_a_wrong_webhook_url_is_dead_lettered_at_once_and_counted(
    app_client: AppFactory, redis: aioredis.Redis, discord: FakeDiscord
) -> None:
    doc = settings(discord, None)
    wrong = discord.webhook_url().rsplit("/", 1)[0] + "/wrong-token"
    doc["receivers"]["chat"]["webhook_url"] = wrong
    client = await app_client(**doc)
    assert (await client.post("/webhook", json=body(), headers=auth())).status == 200
    await until(lambda: redis.xlen("{ar}:dlq"), what="dead-lettered")
    await wait_deliveries_idle(redis)
    assert len(discord.requests) == 1  # refused for good: not retried
    text = await (await client.get("/metrics")).text()
    assert metric(text, "alert_receiver_deliveries_total", destination="chat",
                  outcome="invalid_config") == 1  # fmt: skip
    assert metric(text, "alert_receiver_dead_lettered_total", destination="chat") == 1
