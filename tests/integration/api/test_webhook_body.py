"""The webhook's body read against a real Redis: compressed bodies that decode, that do not
(400 `invalid_encoding`), that decompress past the limit (413), and a body that stalls."""

from __future__ import annotations

import asyncio
import gzip
import importlib.util
import json
import zlib
from typing import Any

import pytest
import redis.asyncio as aioredis

from tests.conftest import TOKEN, AppFactory, auth, fixture_body
from tests.integration.api.test_webhook_intake import state_snapshot

BODY = json.dumps(fixture_body("warning-firing")).encode()
HAS_BROTLI = any(importlib.util.find_spec(m) for m in ("brotli", "brotlicffi"))


async def settled_snapshot(redis: aioredis.Redis) -> dict[str, Any]:
    """The state once the app's start-up writes (indexes) are done: two equal snapshots
    0.2 s apart (at most 5 s)."""
    last = await state_snapshot(redis)
    for _ in range(25):
        await asyncio.sleep(0.2)
        now = await state_snapshot(redis)
        if now == last:
            return now
        last = now
    return last


def headers(encoding: str) -> dict[str, str]:
    return {**auth(), "Content-Type": "application/json", "Content-Encoding": encoding}


@pytest.mark.parametrize(
    ("encoding", "body"),
    [("gzip", gzip.compress(BODY)), ("deflate", zlib.compress(BODY))],
    ids=["gzip", "deflate"],
)
async def test_compressed_body_is_accepted(
    app_client: AppFactory, encoding: str, body: bytes
) -> None:
    client = await app_client()
    resp = await client.post("/webhook", data=body, headers=headers(encoding))
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["accepted"] == 1


CORRUPT = [
    ("gzip", b"this is not gzip at all"),
    ("gzip", gzip.compress(BODY)[:10] + b"\x00garbage" + gzip.compress(BODY)[18:]),
    ("gzip", gzip.compress(BODY) + b"trailing junk"),
    ("deflate", b"\x78\x9c not deflate"),
]


@pytest.mark.parametrize(("encoding", "body"), CORRUPT,
                         ids=["garbage", "damaged", "trailing-junk", "deflate"])  # fmt: skip
async def test_corrupt_compressed_body_is_400_and_changes_nothing(
    app_client: AppFactory, redis: aioredis.Redis, encoding: str, body: bytes
) -> None:
    client = await app_client()
    before = await settled_snapshot(redis)
    resp = await client.post("/webhook", data=body, headers=headers(encoding))
    assert resp.status == 400, await resp.text()
    err = await resp.json()
    assert err["error"] == "invalid_encoding"
    assert encoding in err["detail"]
    assert await state_snapshot(redis) == before
    # The service goes on: the next request (a new connection) is served.
    ok = await client.post("/webhook", json=fixture_body("warning-firing"), headers=auth())
    assert ok.status == 200


async def test_corrupt_brotli_body_is_400_and_changes_nothing(
    app_client: AppFactory, redis: aioredis.Redis
) -> None:
    client = await app_client()
    before = await settled_snapshot(redis)
    resp = await client.post("/webhook", data=b"\xff\xff not brotli", headers=headers("br"))
    assert resp.status == 400
    if HAS_BROTLI:  # decoded by aiohttp while our handler reads: our JSON error
        assert (await resp.json())["error"] == "invalid_encoding"
    # Without a brotli module aiohttp refuses any `br` body itself, before our handler
    # (a plain-text 400): still a 400 and nothing stored.
    assert await state_snapshot(redis) == before


async def test_gzip_bomb_is_413_and_changes_nothing(
    app_client: AppFactory, redis: aioredis.Redis
) -> None:
    client = await app_client(webhook={"max_body_bytes": 64 * 1024})
    bomb = gzip.compress(b" " * (20 * 1024 * 1024))  # 20 MiB of spaces in ~20 KiB
    assert len(bomb) < 64 * 1024
    before = await settled_snapshot(redis)
    resp = await client.post("/webhook", data=bomb, headers=headers("gzip"))
    assert resp.status == 413
    err = await resp.json()
    assert err["error"] == "body_too_large" and err["limit"] == 64 * 1024
    assert await state_snapshot(redis) == before


async def test_stalled_body_is_answered_503_within_read_timeout(
    app_client: AppFactory, redis: aioredis.Redis
) -> None:
    client = await app_client(server={"read_timeout": "1s"})
    before = await settled_snapshot(redis)
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    try:
        writer.write(
            f"POST /webhook HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(BODY)}\r\n\r\n".encode()
            + BODY[:100]
        )
        answer = await asyncio.wait_for(reader.read(), 20)  # until the server closes
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503")
    assert json.loads(body)["error"] == "request_timeout"
    assert await state_snapshot(redis) == before


async def test_an_alert_list_is_told_it_is_meant_for_alertmanager(
    app_client: AppFactory, redis: aioredis.Redis
) -> None:
    # What Prometheus posts to Alertmanager's API (POST /api/v2/alerts), sent here instead.
    alerts = [{"labels": {"alertname": "Up", "severity": "warning"},
               "annotations": {}, "startsAt": "2026-12-07T14:56:00Z"}]  # fmt: skip
    client = await app_client()
    before = await settled_snapshot(redis)
    resp = await client.post("/webhook", json=alerts, headers=auth())
    assert resp.status == 400
    message = (
        "this endpoint takes Alertmanager's webhook payload, a JSON object "
        '{"version": "4", "alerts": [...]} (what webhook_configs sends); a JSON list of alerts '
        "is the body of Alertmanager's own API (POST /api/v2/alerts), meant for Alertmanager "
        "itself, not its receivers"
    )
    assert await resp.json() == {"error": "invalid_payload", "detail": f"(body): {message}",
                                 "fields": [{"field": "(body)", "message": message}]}  # fmt: skip
    assert await state_snapshot(redis) == before


async def test_an_impossible_date_is_told_without_pydantic_prefix(
    app_client: AppFactory, redis: aioredis.Redis
) -> None:
    body = fixture_body("warning-firing")
    body["alerts"][0]["startsAt"] = "2026-04-31T05:12:40Z"
    client = await app_client()
    resp = await client.post("/webhook", json=body, headers=auth())
    assert resp.status == 400
    message = '"2026-04-31T05:12:40Z" is not a real date and time'
    field = "alerts.0.startsAt"
    assert await resp.json() == {"error": "invalid_payload", "detail": f"{field}: {message}",
                                 "fields": [{"field": field, "message": message}]}  # fmt: skip
