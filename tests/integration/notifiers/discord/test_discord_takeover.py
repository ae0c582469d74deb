"""Discord across two `serve` replicas and a SIGKILL. After the outcome is recorded, a
killed replica changes nothing: the other edits the one message. Between Discord's answer
and the record, nothing can tell that the message exists (a webhook cannot list messages
and has no nonce): the replica taking over posts again, a second message, never a lost
one, and later edits go to the message it recorded."""

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
from tests.servers.discord import FakeDiscord

N = 3
WORKERS = {"visibility_timeout": "2s", "backoff_base": "200ms", "backoff_max": "1s"}


@pytest.fixture
async def discord() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    await server.start()
    yield server
    server.release()
    await server.stop()


@pytest.fixture
async def pair(tmp_path: Path, redis_server: RedisServer, redis: aioredis.Redis,
               discord: FakeDiscord) -> AsyncIterator[list[Serve]]:  # fmt: skip
    receivers = {"chat": {"type": "discord", "webhook_url": discord.webhook_url(),
                          "rate": "none"}}  # fmt: skip
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


def per_alert(discord: FakeDiscord) -> Counter[str]:
    return Counter(m.embed["fields"][0]["value"] for m in discord.messages.values())


async def send(s: Serve, doc: dict[str, Any]) -> None:
    async with httpx.AsyncClient() as c:
        assert (await c.post(s.url + "/webhook", json=doc, headers=auth())).status_code == 200


async def test_killed_after_the_record_the_other_replica_edits_the_one_message(
    pair: list[Serve], redis: aioredis.Redis, discord: FakeDiscord
) -> None:
    a, b = pair
    await asyncio.gather(asyncio.to_thread(a.start), asyncio.to_thread(b.start))
    await send(a, body("rec", 0, N))
    await until(lambda: len(discord.messages) == N, 30, "posted")
    await wait_deliveries_idle(redis)
    a.kill()
    await send(b, resolved("rec"))
    await until(lambda: len(discord.edits()) == N, 30, "edited on resolve")
    await wait_deliveries_idle(redis)
    assert sorted(per_alert(discord).values()) == [1] * N and len(discord.posts()) == N
    assert all(m.embed["title"].startswith("✅ [RESOLVED]") for m in discord.messages.values())


async def test_killed_between_answer_and_record_posts_again_and_edits_the_recorded_one(
    pair: list[Serve], redis: aioredis.Redis, discord: FakeDiscord
) -> None:
    a, b = pair
    discord.hang_next(N)  # Discord holds A's posts until A is dead
    await asyncio.to_thread(a.start)
    await send(a, body("kill", 0, N))
    await until(lambda: len(discord.requests) == N, 30, "A's posts in flight")
    await asyncio.to_thread(b.start)
    a.kill()
    discord.release()  # Discord completes A's posts: they exist, unrecorded
    await until(lambda: len(discord.posts()) == 2 * N, 30, "B posted after the takeover")
    await wait_deliveries_idle(redis)
    assert sorted(per_alert(discord).values()) == [2] * N  # one extra each, none lost
    a_ids = {m.id for m in list(discord.messages.values())[:N]}
    await send(b, resolved("kill"))
    await until(lambda: len(discord.edits()) == N, 30, "edited on resolve")
    await wait_deliveries_idle(redis)
    for m in discord.messages.values():  # B's recorded messages edited, A's left firing
        assert m.embed["title"].startswith("🔴 [FIRING]" if m.id in a_ids else "✅ [RESOLVED]")
    assert len(discord.posts()) == 2 * N
