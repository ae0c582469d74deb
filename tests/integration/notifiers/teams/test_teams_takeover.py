"""Teams across two `serve` replicas and a SIGKILL. After the outcome is recorded, a
killed replica changes nothing: the other follows up the one first card. Between the
Workflows 202 and the record nothing can tell that the card exists (no message id, no
lookup, no idempotency key): the replica taking over posts again, a second first card,
never a lost one, and the resolve follows up the card it recorded, once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from tests.conftest import RedisServer, Serve, auth
from tests.helpers import until, wait_deliveries_idle
from tests.integration.delivery.faults import body, replica
from tests.servers.teams import FakeTeams

N = 3
WORKERS = {"visibility_timeout": "2s", "backoff_base": "200ms", "backoff_max": "1s"}


@pytest.fixture
async def teams() -> AsyncIterator[FakeTeams]:
    server = FakeTeams()
    await server.start()
    yield server
    server.release()
    await server.stop()


@pytest.fixture
async def pair(tmp_path: Path, redis_server: RedisServer, redis: aioredis.Redis,
               teams: FakeTeams) -> AsyncIterator[list[Serve]]:  # fmt: skip
    receivers = {"chat": {"type": "teams", "webhook_url": teams.webhook_url(), "rate": "none"}}
    rx = [replica(tmp_path, n, redis_server.url, receivers, workers=WORKERS) for n in "ab"]
    try:
        yield rx
    finally:
        for s in rx:
            if s.proc is not None:
                s.kill()


def resolved(run: str) -> dict[str, Any]:
    b = body(run, 0, N)
    for a in b["alerts"]:
        a.update(status="resolved", endsAt="2026-11-22T06:00:00Z")
    return {**b, "status": "resolved"}


def cards(teams: FakeTeams, word: str) -> Counter[str]:
    """Cards per alert (instance) whose title says `word` (FIRING, RESOLVED)."""
    return Counter(c.facts()["instance"] for c in teams.cards if f"[{word}]" in c.title)


async def send(s: Serve, doc: dict[str, Any]) -> None:
    async with httpx.AsyncClient() as c:
        assert (await c.post(s.url + "/webhook", json=doc, headers=auth())).status_code == 200


async def test_killed_after_the_record_the_other_replica_follows_up_once(
    pair: list[Serve], redis: aioredis.Redis, teams: FakeTeams
) -> None:
    a, b = pair
    await asyncio.gather(asyncio.to_thread(a.start), asyncio.to_thread(b.start))
    await send(a, body("rec", 0, N))
    await until(lambda: len(teams.cards) == N, 30, "posted")
    await wait_deliveries_idle(redis)
    a.kill()
    await send(b, resolved("rec"))
    await until(lambda: len(teams.cards) == 2 * N, 30, "resolve cards")
    await wait_deliveries_idle(redis)
    assert sorted(cards(teams, "FIRING").values()) == [1] * N
    assert sorted(cards(teams, "RESOLVED").values()) == [1] * N
    assert all(any(t.startswith("Follows up “🔴 [FIRING] Fault”") for t in c.texts())
               for c in teams.cards[N:])  # fmt: skip
    assert len(teams.requests) == 2 * N


async def test_killed_between_202_and_record_posts_again_and_resolves_once(
    pair: list[Serve], redis: aioredis.Redis, teams: FakeTeams
) -> None:
    a, b = pair
    teams.hang_next(N)  # Workflows holds A's posts until A is dead
    await asyncio.to_thread(a.start)
    await send(a, body("kill", 0, N))
    await until(lambda: len(teams.requests) == N, 30, "A's posts in flight")
    await asyncio.to_thread(b.start)
    a.kill()
    teams.release()  # the runs complete: A's cards exist, unrecorded
    await until(lambda: len(teams.cards) == 2 * N, 30, "B posted after the takeover")
    await wait_deliveries_idle(redis)
    assert sorted(cards(teams, "FIRING").values()) == [2] * N  # one extra each, none lost
    await send(b, resolved("kill"))
    await until(lambda: len(teams.cards) == 3 * N, 30, "resolve cards")
    await wait_deliveries_idle(redis)
    assert sorted(cards(teams, "RESOLVED").values()) == [1] * N
    assert len(teams.requests) == 3 * N
