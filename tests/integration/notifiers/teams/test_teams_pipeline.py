"""Teams through the whole pipeline on two replicas (two apps with workers on one Redis)
and the local Workflows webhook and PagerDuty: firing → one card; its Acknowledge link →
a follow-up card naming the first, PagerDuty acknowledged; resolve → a follow-up card.
Bad and old links change nothing; a 429's Retry-After is kept, everything arrives once."""

from __future__ import annotations

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
from tests.servers.pagerduty import FakePagerDuty
from tests.servers.teams import FakeTeams

SECRET = "link-secret-for-teams-0123456789abcdef"
BASE = "https://alerts.example.org"
FAST = {"backoff_base": "200ms", "backoff_max": "1s", "visibility_timeout": "5s"}


@pytest.fixture
async def teams() -> AsyncIterator[FakeTeams]:
    server = FakeTeams()
    await server.start()
    yield server
    await server.stop()


def settings(teams: FakeTeams, pd: FakePagerDuty | None, **workers: Any) -> dict[str, Any]:
    receivers: dict[str, Any] = {
        "chat": {"type": "teams", "webhook_url": teams.webhook_url(), "rate": "none"}
    }
    if pd is not None:
        receivers["pd"] = {"type": "pagerduty", "routing_key": ROUTING_KEY,
                           "base_url": pd.base_url, "rate": "none"}  # fmt: skip
    return {"run_workers": True, "receivers": receivers,
            "route": {"receivers": sorted(receivers)}, "workers": {**FAST, **workers},
            "ack": {"links": {"secret": SECRET, "base_url": BASE}}}  # fmt: skip


async def replicas(app_client: AppFactory, teams: FakeTeams,
                   pd: FakePagerDuty) -> list[TestClient[Any, Any]]:  # fmt: skip
    return [await app_client(**settings(teams, pd)) for _ in range(2)]


async def test_two_replicas_one_card_then_follow_ups_for_the_ack_link_and_the_resolve(
    app_client: AppFactory, redis: aioredis.Redis, teams: FakeTeams, pd: FakePagerDuty
) -> None:
    a, b = await replicas(app_client, teams, pd)
    assert (await a.post("/webhook", json=body(), headers=auth())).status == 200
    await until(lambda: len(teams.cards) == 1 and pd.incidents, what="posted")
    first = teams.cards[0]
    assert first.title == "🔴 [FIRING] HighErrorRate"
    link = first.actions()["Acknowledge"]
    assert link.startswith(BASE + "/ack/")

    path = link.removeprefix(BASE)
    page = await b.get(path)  # the person opens the link, served by the other replica
    assert page.status == 200 and "Acknowledge HighErrorRate?" in await page.text()
    resp = await b.post(path, data={"confirm": "yes", "name": "bob"})
    assert resp.status == 200, await resp.text()
    await until(lambda: len(teams.cards) == 2 and list(pd.incidents.values()) == ["acknowledged"],
                what="follow-up card, PagerDuty acknowledged")  # fmt: skip
    ack = teams.cards[1]
    assert ack.title.startswith("👀 [ACKNOWLEDGED]")
    assert "👀 Acknowledged by **bob (teams link)**" in ack.texts()
    alert = await (await b.get(f"/api/v1/alerts/{FP}")).json()
    assert (alert["ack"]["by"], alert["ack"]["via"]) == ("bob (teams link)", "teams")
    names_first = [t for t in ack.texts() if t.startswith("Follows up “🔴 [FIRING] HighErrorRate”")]
    assert names_first and "Acknowledge" not in ack.actions()

    assert (await b.post("/webhook", json=body("resolved"), headers=auth())).status == 200
    await until(lambda: len(teams.cards) == 3 and list(pd.incidents.values()) == ["resolved"],
                what="resolve card")  # fmt: skip
    await wait_deliveries_idle(redis)
    done = teams.cards[2]
    assert done.title == "✅ [RESOLVED] HighErrorRate" and names_first[0] in done.texts()
    assert len(teams.cards) == 3 and len(teams.requests) == 3 and not teams.failed_runs


async def test_forged_and_old_episode_links_change_nothing(
    app_client: AppFactory, redis: aioredis.Redis, teams: FakeTeams, pd: FakePagerDuty
) -> None:
    a, b = await replicas(app_client, teams, pd)
    old = "/ack/" + sign(FP, "2026-11-21T00:00:00Z", 2_000_000_000, SECRET)
    forged = "/ack/" + sign(FP, STARTS, 2_000_000_000, "another-secret-0123456789abcdef")
    unknown = "/ack/" + sign("00000000deadbeef", STARTS, 2_000_000_000, SECRET)
    assert (await a.post("/webhook", json=body(), headers=auth())).status == 200
    await until(lambda: len(teams.cards) == 1 and pd.incidents, what="posted")
    await wait_deliveries_idle(redis)
    before = await state_snapshot(redis)
    for path, status in ((old, 410), (forged, 403), (unknown, 410), ("/ack/v1.x.y", 400)):
        resp = await b.post(path, data={"confirm": "yes", "name": "mallory"})
        assert resp.status == status, (path, await resp.text())
    await wait_deliveries_idle(redis)
    assert await state_snapshot(redis) == before
    assert len(teams.cards) == 1 and list(pd.incidents.values()) == ["open"]


async def test_429_retry_after_is_kept_and_every_alert_arrives_once(
    app_client: AppFactory, redis: aioredis.Redis, teams: FakeTeams
) -> None:
    teams.rate_limit_next(1, retry_after=2)
    client = await app_client(**settings(teams, None, concurrency=1))
    assert (await client.post("/webhook", json=many("db", 0, 5), headers=auth())).status == 200
    await until(lambda: len(teams.cards) == 5, 30, "all five posted")
    await wait_deliveries_idle(redis)
    first, *rest = teams.requests
    assert first.status == 429
    assert rest and not any(r.early for r in rest)  # nothing before the 2 s were over
    assert all(r.at - first.at >= 2.0 for r in rest)
    assert sorted(c.facts()["instance"] for c in teams.cards) == [f"db-{i:05d}" for i in range(5)]
    assert len(teams.requests) == 6


async def test_429_on_two_busy_replicas_every_alert_arrives_once(
    app_client: AppFactory, redis: aioredis.Redis, teams: FakeTeams
) -> None:
    """Sends already in flight when the 429 comes are refused too (the stand-in, like the
    vendor, refuses everything within the wait); all are retried after it, none doubled."""
    teams.rate_limit_next(1, retry_after=2)
    a, b = [await app_client(**settings(teams, None)) for _ in range(2)]
    assert (await a.post("/webhook", json=many("a", 0, 10), headers=auth())).status == 200
    assert (await b.post("/webhook", json=many("b", 0, 10), headers=auth())).status == 200
    await until(lambda: len(teams.cards) == 20, 60, "all twenty posted")
    await wait_deliveries_idle(redis)
    expected = sorted([f"a-{i:05d}" for i in range(10)] + [f"b-{i:05d}" for i in range(10)])
    assert sorted(c.facts()["instance"] for c in teams.cards) == expected
    first = teams.requests[0]
    assert first.status == 429
    assert all(r.status == 429 for r in teams.requests if r.early)  # none got through early


async def test_a_wrong_webhook_url_is_dead_lettered_at_once_and_counted(
    app_client: AppFactory, redis: aioredis.Redis, teams: FakeTeams
) -> None:
    doc = settings(teams, None)
    doc["receivers"]["chat"]["webhook_url"] = teams.webhook_url(sig="forged")
    client = await app_client(**doc)
    assert (await client.post("/webhook", json=body(), headers=auth())).status == 200
    await until(lambda: redis.xlen("{ar}:dlq"), what="dead-lettered")
    await wait_deliveries_idle(redis)
    assert len(teams.requests) == 1  # refused for good: not retried
    text = await (await client.get("/metrics")).text()
    assert metric(text, "alert_receiver_deliveries_total", destination="chat",
                  outcome="invalid_config") == 1  # fmt: skip
    assert metric(text, "alert_receiver_dead_lettered_total", destination="chat") == 1
