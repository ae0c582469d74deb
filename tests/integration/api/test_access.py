"""Scoped API tokens on a running app: who gets 401, 403 and 200, what is logged, what a
refusal leaves unchanged, /metrics' optional auth, and a reload that swaps the tokens."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
import yaml
from aiohttp.test_utils import TestClient, TestServer

from receiver.server.app import create_app
from receiver.server.check import load_settings
from receiver.store.keys import Keys
from tests.conftest import TOKEN, AppFactory, RedisServer, auth, fixture_body

READER = "reader-token-0123456789"
ADMIN = "admin-token-0123456789"
TOKENS = [
    {"name": "grafana", "token": READER, "scopes": ["read"]},
    {"name": "ops", "token": ADMIN, "scopes": ["admin"]},
]
FP = "1d3f58b2d7994044"  # an alert of the critical-group-firing capture


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def dump(redis: aioredis.Redis) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in sorted(await redis.keys("*")):
        kind = await redis.type(key)
        if kind == "stream":
            out[key] = await redis.xrange(key)
        elif kind == "hash":
            out[key] = await redis.hgetall(key)
        elif kind == "zset":
            out[key] = await redis.zrange(key, 0, -1, withscores=True)
        elif kind == "list":
            out[key] = await redis.lrange(key, 0, -1)
        else:
            out[key] = await redis.get(key)
    return out


async def seeded(app_client: AppFactory, **overrides: Any) -> TestClient[Any, Any]:
    client = await app_client(api_tokens=TOKENS, **{"anonymous_read": False, **overrides})
    resp = await client.post("/webhook", json=fixture_body("critical-group-firing"),
                             headers=auth())  # fmt: skip
    assert resp.status == 200
    return client


# (path, method, who → expected status); who: none | webhook | read | admin
READ_API = [("GET", "/api/v1/alerts"), ("GET", f"/api/v1/alerts/{FP}")]
ADMIN_API = [("GET", "/api/v1/dlq"), ("POST", "/api/v1/dlq/replay"), ("DELETE", "/api/v1/dlq"),
             ("POST", "/-/reload")]  # fmt: skip
WHO = {"none": {}, "webhook": auth(), "read": bearer(READER), "admin": bearer(ADMIN)}


@pytest.mark.parametrize(("method", "path"), READ_API)
async def test_read_api_needs_a_read_token(app_client: AppFactory, method: str, path: str) -> None:
    client = await seeded(app_client)
    got = {}
    for who, headers in WHO.items():
        resp = await client.request(method, path, headers=headers)
        body = await resp.json()
        got[who] = resp.status
        if resp.status != 200:
            assert body["error"] in ("unauthorized", "forbidden") and body["detail"], body
            assert "labels" not in str(body)  # nothing of the alert leaks
    assert got == {"none": 401, "webhook": 403, "read": 200, "admin": 200}


@pytest.mark.parametrize(("method", "path"), ADMIN_API)
async def test_admin_api_needs_an_admin_token(
    app_client: AppFactory, redis: aioredis.Redis, method: str, path: str
) -> None:
    client = await seeded(app_client)
    keys = Keys()
    # A dead letter that a refused replay or purge must leave where it is.
    await redis.xadd(keys.dead, {"job": "{}", "error": "boom", "outcome": "permanent",
                                 "at_ms": "1"})  # fmt: skip
    before = await dump(redis)
    got = {}
    for who in ("none", "webhook", "read"):
        resp = await client.request(method, path, headers=WHO[who])
        got[who] = resp.status
        assert (await resp.json())["detail"]
        assert await dump(redis) == before, who
    resp = await client.request(method, path, headers=WHO["admin"])
    # The admin gets through: /-/reload answers 409 here (no config file), the rest 200.
    got["admin"] = resp.status
    assert got == {"none": 401, "webhook": 403, "read": 403,
                   "admin": 409 if path == "/-/reload" else 200}  # fmt: skip


async def test_anonymous_read_is_explicit_and_read_only(app_client: AppFactory) -> None:
    client = await seeded(app_client, anonymous_read=True)
    assert (await client.get("/api/v1/alerts")).status == 200
    assert (await client.get(f"/api/v1/alerts/{FP}")).status == 200
    # A wrong token is not silently read as "no token".
    assert (await client.get("/api/v1/alerts", headers=bearer("wrong"))).status == 401
    assert (await client.get("/api/v1/dlq")).status == 401
    assert (await client.post("/-/reload")).status == 401


async def test_duplicate_and_undecodable_authorization(app_client: AppFactory) -> None:
    client = await seeded(app_client)
    two = [("Authorization", f"Bearer {ADMIN}"), ("Authorization", f"Bearer {READER}")]
    resp = await client.get("/api/v1/dlq", headers=two)
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_request"
    # Latin-1 bytes that are not UTF-8: aiohttp hands them over as surrogates.
    resp = await client.get("/api/v1/alerts", headers={"Authorization": "Bearer t\xf6k\xe9n"})
    assert resp.status == 401 and (await resp.json())["error"] == "unauthorized"


async def test_metrics_open_by_default_and_guarded_on_request(app_client: AppFactory) -> None:
    open_ = await app_client()
    resp = await open_.get("/metrics")
    assert resp.status == 200 and "alert_receiver_" in await resp.text()
    guarded = await app_client(metrics_auth={"bearer_tokens": ["scrape-token-0123456789"]})
    assert (await guarded.get("/metrics")).status == 401
    assert (await guarded.get("/metrics", headers=auth())).status == 401
    resp = await guarded.get("/metrics", headers=bearer("scrape-token-0123456789"))
    assert resp.status == 200 and "alert_receiver_" in await resp.text()
    assert (await guarded.get("/health/live")).status == 200  # probes stay open


async def test_requests_are_logged_by_token_name_never_by_value(
    app_client: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    client = await seeded(app_client)
    caplog.set_level(logging.INFO, logger="receiver.api")
    assert (await client.get("/api/v1/alerts", headers=bearer(READER))).status == 200
    assert (await client.get("/api/v1/dlq", headers=bearer(READER))).status == 403
    assert (await client.get("/api/v1/dlq", headers=bearer("not-a-token-42"))).status == 401
    lines = [(r.getMessage(), getattr(r, "token", None), getattr(r, "status", None),
              getattr(r, "path", None)) for r in caplog.records]  # fmt: skip
    assert ("api request", "grafana", 200, "/api/v1/alerts") in lines
    assert ("api request refused", "grafana", 403, "/api/v1/dlq") in lines
    assert ("api request refused", None, 401, "/api/v1/dlq") in lines
    for r in caplog.records:
        text = str(r.__dict__)
        assert READER not in text and ADMIN not in text and "not-a-token-42" not in text


async def test_reload_swaps_the_tokens(
    tmp_path: Path, redis_server: RedisServer, redis: aioredis.Redis
) -> None:
    cfg = tmp_path / "config.yml"
    data: dict[str, Any] = {
        "auth": {"bearer_tokens": [TOKEN]},
        "redis": {"url": redis_server.url},
        "receivers": {"log": {"type": "log", "rate": "none"}},
        "route": {"receivers": ["log"]},
        "api_tokens": TOKENS,
    }
    cfg.write_text(yaml.safe_dump(data))
    app = create_app(load_settings(cfg), run_workers=False, config_path=str(cfg))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        assert (await client.get("/api/v1/alerts", headers=bearer(READER))).status == 200
        # The reader's token is revoked, the admin's rotated.
        new_admin = "rotated-admin-token-0123456789"
        data["api_tokens"] = [{"name": "ops", "token": new_admin, "scopes": ["admin"]}]
        cfg.write_text(yaml.safe_dump(data))
        resp = await client.post("/-/reload", headers=bearer(ADMIN))
        assert resp.status == 200, await resp.text()
        assert (await client.get("/api/v1/alerts", headers=bearer(READER))).status == 401
        assert (await client.get("/api/v1/dlq", headers=bearer(ADMIN))).status == 401
        assert (await client.get("/api/v1/dlq", headers=bearer(new_admin))).status == 200
