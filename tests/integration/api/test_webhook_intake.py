"""Webhook intake against a real Redis: fixtures accepted, bad input refused, state kept."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, NamedTuple

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

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
        "digested": 0,
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


class Bad(NamedTuple):
    """One bad request and its answer: status, JSON error code, field named (if any)."""

    case: str
    headers: list[tuple[str, str | bytes]]  # raw: repeated names and non-ASCII bytes too
    body: bytes
    status: int
    code: str
    field: str | None = None
    path: str = "/webhook"  # sent as is, percent-encoding included


def _edited(edit: Callable[[dict[str, Any]], Any], name: str = "warning-firing") -> bytes:
    body = fixture_body(name)
    edit(body)
    return json.dumps(body).encode()


def _set(alert: int, key: str, value: Any) -> Callable[[dict[str, Any]], Any]:
    return lambda b: b["alerts"][alert].__setitem__(key, value)


def _bad_cases() -> list[Bad]:
    good = json.dumps(fixture_body("warning-firing")).encode()
    ok: list[tuple[str, str | bytes]] = list(auth().items())
    body = fixture_body("warning-firing")
    wrong_types = json.loads(good)
    wrong_types["alerts"][0]["labels"] = ["severity", "warning"]
    wrong_types["alerts"][0]["startsAt"] = 12
    no_alerts = {k: v for k, v in body.items() if k != "alerts"}
    v3 = body | {"version": "3"}
    # Stored before each case (see the test): the borrowed fingerprints are theirs.
    stored_fp = fixture_body("critical-group-firing")["alerts"][0]["fingerprint"]
    labels = body["alerts"][0]["labels"]
    # NaN and Infinity are not JSON, wherever they are: in fields nobody reads too.
    nan = good.replace(b'"receiver"', b'"tenant": {"x": [1, NaN]}, "receiver"', 1)
    inf = good.replace(b'"generatorURL"', b'"score": Infinity, "generatorURL"', 1)
    minus_inf = good.replace(b'"version"', b'"floor": -Infinity, "version"', 1)
    return [
        Bad("no token", [], good, 401, "unauthorized"),
        Bad("wrong token", [("Authorization", "Bearer nope")], good, 401, "unauthorized"),
        Bad("basic when bearer configured", [("Authorization", "Basic dTpw")], good, 401,
            "unauthorized"),
        Bad("non-ascii token", [("Authorization", "Bearer tök€n".encode())], good, 401,
            "unauthorized"),
        Bad("latin-1 token bytes", [("Authorization", b"Bearer t\xf6k\xe9n")], good, 401,
            "unauthorized"),
        Bad("two authorization headers", [*ok, ("Authorization", "Bearer nope")], good, 400,
            "invalid_request"),
        Bad("two good authorization headers", [*ok, *ok], good, 400, "invalid_request"),
        Bad("malformed json", ok, b'{"version": "4", "alerts": [', 400, "invalid_json"),
        Bad("not json at all", ok, b"hello", 400, "invalid_json"),
        Bad("NaN in an unknown field", ok, nan, 400, "invalid_json", "(body)"),
        Bad("Infinity in an alert", ok, inf, 400, "invalid_json", "(body)"),
        Bad("-Infinity at the top", ok, minus_inf, 400, "invalid_json", "(body)"),
        Bad("wrong types", ok, json.dumps(wrong_types).encode(), 400, "invalid_payload",
            "alerts.0.labels"),
        Bad("bad alert status", ok, _edited(_set(0, "status", "burning")), 400,
            "invalid_payload", "alerts.0.status"),
        Bad("missing alerts", ok, json.dumps(no_alerts).encode(), 400, "invalid_payload",
            "alerts"),
        Bad("alert without labels", ok, _edited(_set(0, "labels", {})), 400,
            "invalid_payload", "alerts.0.labels"),
        Bad("empty label name", ok, _edited(_set(0, "labels", labels | {"": "x"})), 400,
            "invalid_payload", "alerts.0.labels"),
        Bad("impossible startsAt", ok, _edited(_set(0, "startsAt", "2026-13-45T25:61:61Z")),
            400, "invalid_payload", "alerts.0.startsAt"),
        Bad("february 30 endsAt", ok, _edited(_set(0, "endsAt", "2026-02-30T05:13:04Z")), 400,
            "invalid_payload", "alerts.0.endsAt"),
        Bad("malformed fingerprint", ok, _edited(_set(0, "fingerprint", "not a fingerprint!")),
            400, "invalid_payload", "alerts.0.fingerprint"),
        Bad("fingerprint of 15 hex digits", ok, _edited(_set(0, "fingerprint", "67cd633fe23d9d6")),
            400, "invalid_payload", "alerts.0.fingerprint"),
        Bad("fingerprint of 16 non-hex", ok, _edited(_set(0, "fingerprint", "67cd633fe23d9dzz")),
            400, "invalid_payload", "alerts.0.fingerprint"),
        Bad("another stored alert's fingerprint", ok, _edited(_set(0, "fingerprint", stored_fp)),
            400, "invalid_payload", "alerts.0.fingerprint"),
        Bad("fingerprint borrowed within the group", ok,
            _edited(_set(1, "fingerprint", stored_fp), "critical-group-mixed-resolved"), 400,
            "invalid_payload", "alerts.1.fingerprint"),
        Bad("version 3", ok, json.dumps(v3).encode(), 400, "invalid_payload", "version"),
        Bad("non-utf8", ok, b'{"version": "4\xff\xfe"}', 400, "invalid_encoding"),
        Bad("top-level array", ok, b"[]", 400, "invalid_payload", "(body)"),
        Bad("name with encoded slashes", ok, good, 404, "not_found",
            path="/webhook/..%2F..%2Fadmin"),
        Bad("name with an encoded slash", ok, good, 404, "not_found", path="/webhook/a%2Fb"),
        Bad("name with NUL", ok, good, 404, "not_found", path="/webhook/%00"),
        Bad("name with a space", ok, good, 404, "not_found", path="/webhook/team%20db"),
        Bad("name of 65 characters", ok, good, 404, "not_found", path="/webhook/" + "a" * 65),
        Bad("name of 4 KiB", ok, good, 404, "not_found", path="/webhook/" + "a" * 4096),
        Bad("name with a bad name and no token", [], good, 404, "not_found",
            path="/webhook/%00"),
    ]  # fmt: skip


async def raw_request(
    client: TestClient[Any, Any], method: str, path: str,
    headers: list[tuple[str, str | bytes]], body: bytes,
) -> tuple[int, bytes]:  # fmt: skip
    """Send a request byte for byte on a fresh connection (no client normalising the path
    or the headers); the status and the body of the answer."""
    host, port = client.server.host, client.server.port
    reader, writer = await asyncio.open_connection(host, port)
    lines = [f"{method} {path} HTTP/1.1".encode(), f"Host: {host}:{port}".encode(),
             b"Content-Type: application/json", f"Content-Length: {len(body)}".encode(),
             b"Connection: close"]  # fmt: skip
    for name, value in headers:
        raw_value = value if isinstance(value, bytes) else value.encode()
        lines.append(name.encode() + b": " + raw_value)
    try:
        writer.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        raw = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    status_line, _, rest = raw.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


@pytest.mark.parametrize(
    "bad",
    [pytest.param(c, id=c.case) for c in _bad_cases()],
)
async def test_bad_input_gets_clear_error_and_changes_nothing(
    app_client: AppFactory, redis: aioredis.Redis, bad: Bad
) -> None:
    client = await app_client()
    # Something stored already, for a refused body to fail to change.
    stored = await client.post("/webhook", json=fixture_body("critical-group-firing"),
                               headers=auth())  # fmt: skip
    assert stored.status == 200
    before = await state_snapshot(redis)
    status, raw = await raw_request(client, "POST", bad.path, bad.headers, bad.body)
    assert status == bad.status, raw
    err = json.loads(raw)
    assert err["error"] == bad.code
    assert err["detail"]
    if bad.field is not None:
        assert bad.field in [f["field"] for f in err["fields"]], err
    assert await state_snapshot(redis) == before


async def test_a_borrowed_fingerprint_is_refused_naming_the_alert(app_client: AppFactory) -> None:
    client = await app_client()
    await client.post("/webhook", json=fixture_body("critical-group-firing"), headers=auth())
    body = fixture_body("warning-firing")
    body["alerts"][0]["fingerprint"] = "0f3ef813eb86bd39"  # HighErrorRate on api-1's
    resp = await client.post("/webhook", json=body, headers=auth())
    assert resp.status == 400
    err = await resp.json()
    assert err["fields"][0]["field"] == "alerts.0.fingerprint"
    assert "0f3ef813eb86bd39" in err["detail"] and "67cd633fe23d9d69" in err["detail"]
    rec = await (await client.get("/api/v1/alerts/0f3ef813eb86bd39")).json()
    assert rec["labels"]["alertname"] == "HighErrorRate"  # not replaced
    assert (await client.get("/api/v1/alerts/67cd633fe23d9d69")).status == 404


async def test_upper_case_fingerprint_is_the_same_alert(app_client: AppFactory) -> None:
    client = await app_client()
    body = fixture_body("warning-firing")
    assert (await client.post("/webhook", json=body, headers=auth())).status == 200
    body["alerts"][0]["fingerprint"] = "67CD633FE23D9D69"
    resp = await (await client.post("/webhook", json=body, headers=auth())).json()
    assert (resp["new"], resp["unchanged"]) == (0, 1)
    rec = await (await client.get("/api/v1/alerts/67cd633fe23d9d69")).json()
    assert rec["receive_count"] == 2


@pytest.mark.parametrize("name", ["a", "team-db", "team_db.v2", "A" * 64, "..."])
async def test_plain_webhook_names_are_accepted(app_client: AppFactory, name: str) -> None:
    client = await app_client()
    body = json.dumps(fixture_body("warning-firing")).encode()
    status, raw = await raw_request(client, "POST", f"/webhook/{name}", [*auth().items()], body)
    assert status == 200, raw
    rec = await (await client.get("/api/v1/alerts/67cd633fe23d9d69")).json()
    assert rec["webhook"] == name


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
