"""The dead-letter API against a real Redis: ids and cursors that cannot exist are 400,
ids that could but do not are 404, and neither changes anything."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.conftest import AppFactory, auth, fixture_body
from tests.integration.api.test_webhook_intake import state_snapshot

ADMIN_TOKEN = "admin-token-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
TOKENS = [{"name": "ops", "token": ADMIN_TOKEN, "scopes": ["admin"]}]
FAST = {"backoff_base": "200ms", "backoff_max": "1s", "visibility_timeout": "5s"}


@pytest.fixture
async def refusing_hook() -> AsyncIterator[str]:
    """A webhook destination that answers 400 to everything: each job dead-letters at once."""

    async def refuse(request: web.Request) -> web.Response:
        return web.json_response({"error": "no such hook"}, status=400)

    app = web.Application()
    app.router.add_post("/hook", refuse)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    await runner.cleanup()


async def with_dead_letters(
    app_client: AppFactory, redis: aioredis.Redis, url: str
) -> TestClient[Any, Any]:
    """A client whose Redis holds two real dead letters (one per alert of a group),
    with the workers stopped again so that nothing changes behind the test's back."""
    hook = {"type": "webhook", "url": url, "rate": "none"}
    producer = await app_client(run_workers=True, receivers={"hook": hook},
                                route={"receivers": ["hook"]}, workers=FAST)  # fmt: skip
    resp = await producer.post("/webhook", json=fixture_body("critical-group-firing"),
                               headers=auth())  # fmt: skip
    assert resp.status == 200
    deadline = time.monotonic() + 20
    while await redis.xlen("{ar}:dlq") < 2:
        assert time.monotonic() < deadline, "no dead letters within 20 s"
        await asyncio.sleep(0.05)
    await producer.close()
    return await app_client(api_tokens=TOKENS)


MALFORMED = [
    ("GET", "/api/v1/dlq/not-an-id", "invalid_id"),
    ("GET", "/api/v1/dlq/1-x", "invalid_id"),
    ("GET", "/api/v1/dlq/1764300000000", "invalid_id"),  # a bare time is a range in Redis
    ("GET", "/api/v1/dlq/-1-0", "invalid_id"),
    ("GET", "/api/v1/dlq/18446744073709551616-0", "invalid_id"),  # 2**64
    ("GET", "/api/v1/dlq/" + "9" * 4000 + "-0", "invalid_id"),
    ("POST", "/api/v1/dlq/not-an-id/replay", "invalid_id"),
    ("POST", "/api/v1/dlq/1-1-1/replay", "invalid_id"),
    ("GET", "/api/v1/dlq?cursor=zzz", "invalid_query"),
    ("GET", "/api/v1/dlq?cursor=", "invalid_query"),
    ("GET", "/api/v1/dlq?cursor=(1-0", "invalid_query"),
    ("GET", "/api/v1/dlq?cursor=%2B", "invalid_query"),  # "+": Redis' own end marker
    ("GET", "/api/v1/dlq?limit=ten", "invalid_query"),
]


@pytest.mark.parametrize(("method", "path", "code"), MALFORMED, ids=[m[1] for m in MALFORMED])
async def test_malformed_id_or_cursor_is_400_and_changes_nothing(
    app_client: AppFactory, redis: aioredis.Redis, refusing_hook: str,
    method: str, path: str, code: str,
) -> None:  # fmt: skip
    client = await with_dead_letters(app_client, redis, refusing_hook)
    before = await state_snapshot(redis)
    resp = await client.request(method, path, headers=ADMIN)
    assert resp.status == 400, await resp.text()
    err = await resp.json()
    assert err["error"] == code and err["detail"]
    assert await state_snapshot(redis) == before


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/v1/dlq/1-1"), ("POST", "/api/v1/dlq/1-1/replay"),
     ("GET", "/api/v1/dlq/18446744073709551615-18446744073709551615")],
)  # fmt: skip
async def test_well_formed_but_absent_id_is_404_and_changes_nothing(
    app_client: AppFactory, redis: aioredis.Redis, refusing_hook: str, method: str, path: str
) -> None:
    client = await with_dead_letters(app_client, redis, refusing_hook)
    before = await state_snapshot(redis)
    resp = await client.request(method, path, headers=ADMIN)
    assert resp.status == 404, await resp.text()
    assert (await resp.json())["error"] == "not_found"
    assert await state_snapshot(redis) == before


async def test_listed_ids_and_cursors_work(
    app_client: AppFactory, redis: aioredis.Redis, refusing_hook: str
) -> None:
    client = await with_dead_letters(app_client, redis, refusing_hook)
    first = await (await client.get("/api/v1/dlq?limit=1", headers=ADMIN)).json()
    assert first["size"] == 2 and len(first["dead_letters"]) == 1
    cursor = first["next_cursor"]
    assert cursor == first["dead_letters"][0]["id"]
    rest = await (await client.get(f"/api/v1/dlq?cursor={cursor}", headers=ADMIN)).json()
    ids = [cursor] + [d["id"] for d in rest["dead_letters"]]
    assert len(set(ids)) == 2 and rest["next_cursor"] is None
    shown = await client.get(f"/api/v1/dlq/{ids[1]}", headers=ADMIN)
    assert shown.status == 200 and (await shown.json())["outcome"] == "client_error"
    replayed = await client.post(f"/api/v1/dlq/{ids[1]}/replay", headers=ADMIN)
    assert (replayed.status, await replayed.json()) == (200, {"replayed": 1})
    again = await client.post(f"/api/v1/dlq/{ids[1]}/replay", headers=ADMIN)
    assert again.status == 404
    assert await redis.xlen("{ar}:dlq") == 1


async def test_the_store_never_sends_a_malformed_id_to_redis(
    app_client: AppFactory, redis: aioredis.Redis, refusing_hook: str
) -> None:
    # The store never sends a malformed id to Redis (which would refuse it with an error).
    client = await with_dead_letters(app_client, redis, refusing_hook)
    assert client is not None
    from receiver.store.dlq import DeadLetters
    from receiver.store.keys import Keys
    from receiver.store.scripts import Scripts

    dlq = DeadLetters(redis, Keys(), Scripts.register(redis), time.time)
    assert await dlq.get("not-an-id") is None
    assert await dlq.replay("not-an-id") is False
    with pytest.raises(ValueError):
        await dlq.list(10, "zzz")
    assert await redis.xlen("{ar}:dlq") == 2
