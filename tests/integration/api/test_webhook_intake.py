"""Webhook intake against a real Redis: fixtures accepted, bad input refused, state kept."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis.asyncio as aioredis

from tests.conftest import FIXTURES, AppFactory, auth, fixture_body


async def state_snapshot(redis: aioredis.Redis) -> dict[str, Any]:
    """Everything in Redis, to prove a refused request changed nothing."""
    out: dict[str, Any] = {}
    for key in sorted(await redis.keys("*")):
        kind = await redis.type(key)
        if kind == "hash":
            out[key] = await redis.hgetall(key)
        elif kind == "zset":
            out[key] = await redis.zrange(key, 0, -1, withscores=True)
        elif kind == "list":
            out[key] = await redis.lrange(key, 0, -1)
        elif kind == "stream":
            out[key] = await redis.xrange(key)
        else:
            out[key] = await redis.get(key)
    return out


@pytest.mark.parametrize("name", sorted(p.stem for p in FIXTURES.glob("*.json")))
async def test_every_fixture_is_accepted_and_readable(app_client: AppFactory, name: str) -> None:
    client = await app_client()
    body = fixture_body(name)
    resp = await client.post("/webhook", json=body, headers=auth())
    assert resp.status == 200, await resp.text()
    summary = await resp.json()
    assert summary["accepted"] == len(body["alerts"])
    assert summary["new"] == len(body["alerts"])
    for alert in body["alerts"]:
        got = await client.get(f"/api/v1/alerts/{alert['fingerprint']}")
        assert got.status == 200
        rec = await got.json()
        assert rec["status"] == alert["status"]  # per alert, not the group's status
        assert rec["labels"] == alert["labels"]
        assert rec["annotations"] == alert["annotations"]
        assert rec["groupKey"] == body["groupKey"]
        assert rec["receiver"] == body["receiver"]
        assert rec["receive_count"] == 1
        assert rec["history"][0]["status"] == alert["status"]


async def test_mixed_group_updates_status_per_alert(app_client: AppFactory) -> None:
    client = await app_client()
    await client.post("/webhook", json=fixture_body("critical-group-firing"), headers=auth())
    resp = await client.post(
        "/webhook", json=fixture_body("critical-group-mixed-resolved"), headers=auth()
    )
    assert (await resp.json()) | {} == {
        "status": "ok", "accepted": 2, "new": 0, "changed": 1, "unchanged": 1,
        "notifications": 1,
    }  # fmt: skip
    resolved = await (await client.get("/api/v1/alerts/0f3ef813eb86bd39")).json()
    firing = await (await client.get("/api/v1/alerts/1d3f58b2d7994044")).json()
    assert resolved["status"] == "resolved"
    assert resolved["endsAt"] == "2026-11-22T05:13:04Z"
    assert [h["status"] for h in resolved["history"]] == ["resolved", "firing"]
    assert firing["status"] == "firing"
    assert firing["receive_count"] == 2
    assert len(firing["history"]) == 1


async def test_same_body_twice_is_recorded_once(app_client: AppFactory) -> None:
    client = await app_client()
    body = fixture_body("warning-firing")
    first = await (await client.post("/webhook", json=body, headers=auth())).json()
    second = await (await client.post("/webhook", json=body, headers=auth())).json()
    assert (first["new"], first["notifications"]) == (1, 1)
    assert (second["new"], second["unchanged"], second["notifications"]) == (0, 1, 0)


async def test_resolved_record_expires_after_retention(
    app_client: AppFactory, redis: aioredis.Redis
) -> None:
    client = await app_client(state={"resolved_retention": "1h"})
    await client.post(
        "/webhook", json=fixture_body("critical-group-mixed-resolved"), headers=auth()
    )
    ttl_resolved = await redis.pttl("{ar}:alert:0f3ef813eb86bd39")
    ttl_firing = await redis.pttl("{ar}:alert:1d3f58b2d7994044")
    assert 3_500_000 < ttl_resolved <= 3_600_000
    assert ttl_firing == -1  # firing alerts never expire


async def test_fingerprint_computed_when_missing(app_client: AppFactory) -> None:
    client = await app_client()
    body = fixture_body("warning-firing")
    del body["alerts"][0]["fingerprint"]
    assert (await client.post("/webhook", json=body, headers=auth())).status == 200
    # Alertmanager's own fingerprint for these labels (from the fixture): both agree.
    got = await client.get("/api/v1/alerts/67cd633fe23d9d69")
    assert got.status == 200


async def test_named_webhook_is_recorded(app_client: AppFactory) -> None:
    client = await app_client()
    resp = await client.post(
        "/webhook/team-db", json=fixture_body("warning-firing"), headers=auth()
    )
    assert resp.status == 200
    rec = await (await client.get("/api/v1/alerts/67cd633fe23d9d69")).json()
    assert rec["webhook"] == "team-db"


async def test_empty_alerts_list_is_ok_and_records_nothing(
    app_client: AppFactory, redis: aioredis.Redis
) -> None:
    client = await app_client()
    body = fixture_body("warning-firing") | {"alerts": []}
    resp = await client.post("/webhook", json=body, headers=auth())
    assert resp.status == 200
    assert (await resp.json())["accepted"] == 0
    assert await state_snapshot(redis) == {}


def _bad_cases() -> list[tuple[str, dict[str, str], bytes, int, str, str | None]]:
    good = json.dumps(fixture_body("warning-firing")).encode()
    ok = auth()
    body = fixture_body("warning-firing")
    wrong_types = json.loads(good)
    wrong_types["alerts"][0]["labels"] = ["severity", "warning"]
    wrong_types["alerts"][0]["startsAt"] = 12
    bad_status = json.loads(good)
    bad_status["alerts"][0]["status"] = "burning"
    no_labels = json.loads(good)
    no_labels["alerts"][0]["labels"] = {}
    bad_fp = json.loads(good)
    bad_fp["alerts"][0]["fingerprint"] = "not a fingerprint!"
    no_alerts = {k: v for k, v in body.items() if k != "alerts"}
    v3 = body | {"version": "3"}
    return [
        ("no token", {}, good, 401, "unauthorized", None),
        ("wrong token", {"Authorization": "Bearer nope"}, good, 401, "unauthorized", None),
        ("basic when bearer configured", {"Authorization": "Basic dTpw"}, good, 401,
         "unauthorized", None),
        ("malformed json", ok, b'{"version": "4", "alerts": [', 400, "invalid_json", None),
        ("not json at all", ok, b"hello", 400, "invalid_json", None),
        ("wrong types", ok, json.dumps(wrong_types).encode(), 400, "invalid_payload",
         "alerts.0.labels"),
        ("bad alert status", ok, json.dumps(bad_status).encode(), 400, "invalid_payload",
         "alerts.0.status"),
        ("missing alerts", ok, json.dumps(no_alerts).encode(), 400, "invalid_payload", "alerts"),
        ("alert without labels", ok, json.dumps(no_labels).encode(), 400, "invalid_payload",
         "alerts.0.labels"),
        ("malformed fingerprint", ok, json.dumps(bad_fp).encode(), 400, "invalid_payload",
         "alerts.0.fingerprint"),
        ("version 3", ok, json.dumps(v3).encode(), 400, "invalid_payload", "version"),
        ("non-utf8", ok, b'{"version": "4\xff\xfe"}', 400, "invalid_encoding", None),
        ("top-level array", ok, b"[]", 400, "invalid_payload", "(body)"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "headers", "body", "status", "code", "field"),
    _bad_cases(),
    ids=[c[0] for c in _bad_cases()],
)
async def test_bad_input_gets_clear_error_and_changes_nothing(
    app_client: AppFactory, redis: aioredis.Redis, case: str, headers: dict[str, str],
    body: bytes, status: int, code: str, field: str | None,
) -> None:  # fmt: skip
    client = await app_client()
    before = await state_snapshot(redis)
    resp = await client.post(
        "/webhook", data=body, headers={**headers, "Content-Type": "application/json"}
    )
    assert resp.status == status, await resp.text()
    err = await resp.json()
    assert err["error"] == code
    assert err["detail"]
    if field is not None:
        assert field in [f["field"] for f in err["fields"]], err
    assert await state_snapshot(redis) == before


async def test_body_over_limit_is_413_and_limit_is_configurable(
    app_client: AppFactory, redis: aioredis.Redis
) -> None:
    client = await app_client(webhook={"max_body_bytes": 64 * 1024})
    big = fixture_body("warning-firing")
    big["alerts"][0]["annotations"]["description"] = "x" * (70 * 1024)
    resp = await client.post("/webhook", json=big, headers=auth())
    assert resp.status == 413
    err = await resp.json()
    assert err["error"] == "body_too_large" and err["limit"] == 64 * 1024
    assert await state_snapshot(redis) == {}


async def test_default_limit_fits_a_large_real_group(app_client: AppFactory) -> None:
    # 1,000 alerts with long annotations: far beyond a usual max_alerts, still accepted.
    client = await app_client()
    body = fixture_body("warning-firing")
    template = body["alerts"][0]
    body["alerts"] = [
        template | {"labels": template["labels"] | {"instance": f"db-{i}:9100"},
                    "annotations": {"description": "d" * 2000}, "fingerprint": None}
        for i in range(1000)
    ]  # fmt: skip
    for a in body["alerts"]:
        del a["fingerprint"]
    resp = await client.post("/webhook", json=body, headers=auth())
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["new"] == 1000


async def test_basic_auth_and_auth_none(app_client: AppFactory) -> None:
    basic = await app_client(auth={"basic": [{"username": "am", "password": "pw"}]})
    import base64

    good = "Basic " + base64.b64encode(b"am:pw").decode()
    bad = "Basic " + base64.b64encode(b"am:nope").decode()
    body = fixture_body("warning-firing")
    assert (await basic.post("/webhook", json=body, headers={"Authorization": good})).status == 200
    assert (await basic.post("/webhook", json=body, headers={"Authorization": bad})).status == 401
    open_ = await app_client(auth="none")
    assert (await open_.post("/webhook", json=body)).status == 200


async def test_changed_annotations_update_the_record_without_notifying(
    app_client: AppFactory,
) -> None:
    client = await app_client()
    body = fixture_body("warning-firing")
    await client.post("/webhook", json=body, headers=auth())
    body["alerts"][0]["annotations"]["summary"] = "Disk very low"
    resp = await (await client.post("/webhook", json=body, headers=auth())).json()
    assert (resp["changed"], resp["notifications"]) == (1, 0)
    rec = await (await client.get("/api/v1/alerts/67cd633fe23d9d69")).json()
    assert rec["annotations"]["summary"] == "Disk very low"
    assert rec["receive_count"] == 2
    assert len(rec["history"]) == 1  # content changed, status did not


async def test_burst_beyond_the_redis_pool_waits_instead_of_failing(
    app_client: AppFactory, redis_server: Any
) -> None:
    import asyncio

    client = await app_client(redis={"url": redis_server.url, "max_connections": 2})
    body = fixture_body("critical-group-firing")
    resps = await asyncio.gather(
        *[client.post("/webhook", json=body, headers=auth()) for _ in range(64)]
    )
    assert [r.status for r in resps] == [200] * 64


async def test_chunked_body_over_limit_is_413(
    app_client: AppFactory, redis: aioredis.Redis
) -> None:
    client = await app_client(webhook={"max_body_bytes": 64 * 1024})

    async def chunks() -> Any:
        for _ in range(20):  # 20 x 8 KiB, no Content-Length
            yield b" " * 8192

    resp = await client.post("/webhook", data=chunks(),
                             headers={**auth(), "Content-Type": "application/json"})  # fmt: skip
    assert resp.status == 413
    assert (await resp.json())["error"] == "body_too_large"
    assert await state_snapshot(redis) == {}
