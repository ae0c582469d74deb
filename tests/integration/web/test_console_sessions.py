"""Console sessions end when their token's value changes (through a real reload of the
config file) and, everywhere at once, when they log out."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
import yaml
from aiohttp.test_utils import TestClient, TestServer

from receiver.server.app import create_app
from receiver.server.check import load_settings
from receiver.web import session as S
from tests.conftest import READ_TOKEN, TOKEN, AppFactory, RedisServer
from tests.integration.web.console import ADMIN_TOKEN, SECRET, console_settings, csrf, login

ROTATED = "rotated-reader-token-0123456789"
PAGES = ["/console/alerts", "/console/oncall", "/console/digests", "/console/health"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def config(redis_url: str, reader: str | None) -> dict[str, Any]:
    tokens = [{"name": "ops", "token": ADMIN_TOKEN, "scopes": ["admin"]}]
    if reader is not None:
        tokens.append({"name": "reader", "token": reader, "scopes": ["read"]})
    return {
        "auth": {"bearer_tokens": [TOKEN]},
        "redis": {"url": redis_url},
        "receivers": {"log": {"type": "log", "rate": "none"}},
        "route": {"receivers": ["log"]},
        "api_tokens": tokens,
        "console": {"session_secret": SECRET},
    }


@pytest.fixture
async def served(
    tmp_path: Path, redis_server: RedisServer, redis: aioredis.Redis
) -> AsyncIterator[tuple[TestClient[Any, Any], Path]]:
    """The app serving a config file that POST /-/reload reads again."""
    cfg = tmp_path / "config.yml"
    cfg.write_text(yaml.safe_dump(config(redis_server.url, READ_TOKEN)))
    app = create_app(load_settings(cfg), run_workers=False, config_path=str(cfg))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client, cfg


async def reload(client: TestClient[Any, Any], cfg: Path, data: dict[str, Any]) -> None:
    await asyncio.to_thread(cfg.write_text, yaml.safe_dump(data))
    resp = await client.post("/-/reload", headers=bearer(ADMIN_TOKEN))
    assert resp.status == 200, await resp.text()


async def opens(client: TestClient[Any, Any], cookie: str) -> list[int]:
    """The status of every page for a request carrying only `cookie` (a captured copy)."""
    out = []
    for path in PAGES:
        r = await client.get(path, headers={"Cookie": f"{S.COOKIE}={cookie}"},
                             allow_redirects=False)  # fmt: skip
        out.append(r.status)
    return out


async def test_rotating_a_tokens_value_ends_its_sessions_at_once(
    served: tuple[TestClient[Any, Any], Path], redis_server: RedisServer
) -> None:
    client, cfg = served
    r = await login(client, READ_TOKEN)
    assert r.status == 303
    cookie = r.cookies[S.COOKIE].value
    assert await opens(client, cookie) == [200] * len(PAGES)

    # Only the value of `reader` changes (a leaked token rotated): same name, same scopes.
    await reload(client, cfg, config(redis_server.url, ROTATED))
    assert (await client.get("/api/v1/alerts", headers=bearer(READ_TOKEN))).status == 401
    assert await opens(client, cookie) == [303] * len(PAGES)
    # The new value logs in, and its session works.
    client.session.cookie_jar.clear()
    r = await login(client, ROTATED)
    assert r.status == 303
    assert await opens(client, r.cookies[S.COOKIE].value) == [200] * len(PAGES)


async def test_a_token_removed_and_re_added_by_name_does_not_revive_old_sessions(
    served: tuple[TestClient[Any, Any], Path], redis_server: RedisServer
) -> None:
    client, cfg = served
    cookie = (await login(client, READ_TOKEN)).cookies[S.COOKIE].value
    await reload(client, cfg, config(redis_server.url, None))  # removed
    assert await opens(client, cookie) == [303] * len(PAGES)
    await reload(client, cfg, config(redis_server.url, ROTATED))  # re-added, new value
    assert await opens(client, cookie) == [303] * len(PAGES)
    # Back to the very value it was opened with: the same credential, so the same access
    # (whoever holds that value could log in again anyway).
    await reload(client, cfg, config(redis_server.url, READ_TOKEN))
    assert await opens(client, cookie) == [200] * len(PAGES)


async def test_a_captured_cookie_does_not_work_after_logout_on_any_replica(
    app_client: AppFactory, redis: aioredis.Redis
) -> None:
    now = [1_800_000_000.0]
    one = await app_client(clock=lambda: now[0], **console_settings())
    other = await app_client(clock=lambda: now[0], **console_settings())  # same Redis
    r = await login(one, READ_TOKEN)
    captured = r.cookies[S.COOKIE].value
    assert await opens(other, captured) == [200] * len(PAGES)
    keys_before = set(await redis.keys("*"))

    r = await one.post("/logout", data={"csrf": await csrf(one)}, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/login"
    assert await opens(one, captured) == [303] * len(PAGES)
    assert await opens(other, captured) == [303] * len(PAGES)
    # Nor can it post a form or log out again.
    r = await other.post(
        "/logout",
        data={"csrf": "x"},
        headers={"Cookie": f"{S.COOKIE}={captured}"},
        allow_redirects=False,
    )
    assert r.status == 303 and r.headers["Location"].startswith("/login?next=")

    # The revocation is one key that lives as long as the session would have (12 h).
    (revoked,) = set(await redis.keys("*")) - keys_before
    session = S.verify(captured, SECRET, now[0])
    assert session is not None and str(revoked).endswith(session.sid)
    assert 12 * 3600 - 60 < await redis.ttl(revoked) <= 12 * 3600
    # Another session of the same token is not affected.
    r = await login(other, READ_TOKEN)
    assert await opens(other, r.cookies[S.COOKIE].value) == [200] * len(PAGES)


async def test_a_proxy_user_who_logged_out_gets_a_new_session_from_the_proxy(
    app_client: AppFactory,
) -> None:
    proxied = {"header": "X-Forwarded-User", "from": ["127.0.0.1/32"]}
    client = await app_client(**console_settings(
        console={"session_secret": SECRET, "trusted_proxy": proxied}))  # fmt: skip
    user = {"X-Forwarded-User": "carol"}
    r = await client.get("/console/alerts", headers=user)
    old = r.cookies[S.COOKIE].value
    found = re.search(r'name="csrf" value="([^"]+)"', await r.text())
    assert found is not None
    token = found[1]
    r = await client.post("/logout", data={"csrf": token}, headers=user, allow_redirects=False)
    assert r.status == 303
    r = await client.get("/console/alerts", headers={**user, "Cookie": f"{S.COOKIE}={old}"})
    assert r.status == 200 and r.cookies[S.COOKIE].value != old
