"""Failed console logins: slowed down, then refused per address and overall (429 with
Retry-After), counted in /metrics, kept in Redis for every replica, and over in time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from tests import helpers
from tests.conftest import READ_TOKEN, AppFactory
from tests.integration.api.test_webhook_intake import state_snapshot
from tests.integration.web.console import console_settings

WRONG = "wrong-token-0123456789"
START = 1_800_000_000.0


class Clock:
    """The app's injected clock: time moves only when the test says so."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def elsewhere() -> AsyncIterator[Callable[[TestClient[Any, Any]], Any]]:
    """Requests to a test server from another loopback address (127.0.0.2)."""
    sessions: list[aiohttp.ClientSession] = []

    def make(client: TestClient[Any, Any]) -> Any:
        s = aiohttp.ClientSession(
            base_url=f"http://{client.host}:{client.port}",
            connector=aiohttp.TCPConnector(local_addr=("127.0.0.2", 0)),
        )
        sessions.append(s)
        return s

    yield make
    for s in sessions:
        await s.close()


async def attempt(client: Any, token: str) -> tuple[int, str | None]:
    """POST /login with `token`: (status, Retry-After)."""
    r = await client.post("/login", data={"token": token}, allow_redirects=False)
    await r.read()
    return r.status, r.headers.get("Retry-After")


async def metric(client: TestClient[Any, Any], name: str, **labels: str) -> float:
    text = await (await client.get("/metrics")).text()
    return helpers.metric(text, f"alert_receiver_{name}", **labels)


async def test_wrong_tokens_from_one_address_are_slowed_then_refused_for_a_while(
    app_client: AppFactory, redis: aioredis.Redis, elsewhere: Callable[..., Any]
) -> None:
    clock = Clock()
    limit = {"per_address": 10, "window": "15m", "block": "15m"}
    client = await app_client(clock=clock, **console_settings(
        console={"session_secret": "s" * 40, "login_limit": limit}))  # fmt: skip
    # Half of per_address at full speed (all plain 401) …
    assert [await attempt(client, WRONG) for _ in range(5)] == [(401, None)] * 5
    # … then each failure makes the address wait 1, 2, 4, 8 s: 429 with Retry-After.
    for wait in (1, 2, 4, 8):
        assert await attempt(client, WRONG) == (401, None)
        assert await attempt(client, WRONG) == (429, str(wait))
        assert await attempt(client, READ_TOKEN) == (429, str(wait))  # right or wrong
        clock.now += wait
    # The 10th failure refuses the address for `block`, even with the right token.
    assert await attempt(client, WRONG) == (401, None)
    assert await attempt(client, WRONG) == (429, "900")
    r = await client.post("/login", data={"token": READ_TOKEN}, allow_redirects=False)
    assert r.status == 429 and r.headers["Retry-After"] == "900"
    assert "Set-Cookie" not in r.headers and "Too many failed logins" in await r.text()

    # Another address is not refused: a plain 401, and its right token logs in.
    other = elsewhere(client)
    assert await attempt(other, WRONG) == (401, None)
    assert await attempt(other, READ_TOKEN) == (303, None)

    # Counted: 11 failures (10 here, 1 there), and each refusal by the limit that refused.
    assert await metric(client, "login_failures_total", reason="unknown_token") == 11
    assert await metric(client, "login_refused_total", limit="address") == 10
    # A refused attempt is not judged: it leaves Redis as it was.
    before = await state_snapshot(redis)
    assert await attempt(client, WRONG) == (429, "900")
    assert await state_snapshot(redis) == before

    # The block ends after its time: the right token logs in again.
    clock.now += 899
    assert await attempt(client, READ_TOKEN) == (429, "1")
    clock.now += 1
    assert await attempt(client, READ_TOKEN) == (303, None)


async def test_failures_from_all_addresses_close_the_login_until_the_window_ends(
    app_client: AppFactory, elsewhere: Callable[..., Any]
) -> None:
    clock = Clock()
    limit = {"per_address": 100, "overall": 6, "window": "1m"}
    client = await app_client(clock=clock, **console_settings(
        console={"session_secret": "s" * 40, "login_limit": limit}))  # fmt: skip
    other = elsewhere(client)
    for _ in range(3):
        assert await attempt(client, WRONG) == (401, None)
        assert await attempt(other, WRONG) == (401, None)
    clock.now += 20
    # Six failures from two addresses: every address is refused for the window's rest.
    assert await attempt(client, READ_TOKEN) == (429, "40")
    assert await attempt(other, READ_TOKEN) == (429, "40")
    assert await metric(client, "login_refused_total", limit="overall") == 2
    clock.now += 40
    assert await attempt(other, READ_TOKEN) == (303, None)
    assert await attempt(client, WRONG) == (401, None)


async def test_the_limits_are_shared_by_replicas(app_client: AppFactory) -> None:
    clock = Clock()
    settings = console_settings(console={"session_secret": "s" * 40,
                                         "login_limit": {"per_address": 4}})  # fmt: skip
    one = await app_client(clock=clock, **settings)
    two = await app_client(clock=clock, **settings)
    for client in (one, two, one, two):  # the 3rd failure is slowed down: 1 s
        clock.now += 10
        assert await attempt(client, WRONG) == (401, None)
    assert await attempt(one, READ_TOKEN) == (429, "900")
    assert await attempt(two, READ_TOKEN) == (429, "900")


async def test_failures_are_counted_by_address_never_by_token_name(
    app_client: AppFactory, elsewhere: Callable[..., Any]
) -> None:
    """Naming a token (here: the webhook token, which may not log in) from one address
    does not lock out that token elsewhere; reasons are labelled, names are not."""
    clock = Clock()
    client = await app_client(clock=clock, **console_settings(
        console={"session_secret": "s" * 40, "login_limit": {"per_address": 2}}))  # fmt: skip
    assert await attempt(client, "s3cret-token") == (401, None)  # the webhook's token
    assert await attempt(client, "") == (401, None)
    assert await attempt(client, READ_TOKEN) == (429, "900")
    assert await attempt(elsewhere(client), READ_TOKEN) == (303, None)
    assert await metric(client, "login_failures_total", reason="not_allowed") == 1
    assert await metric(client, "login_failures_total", reason="no_token") == 1
