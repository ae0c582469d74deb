"""The on-call API on a running app with a real Redis: scopes, overrides added and removed,
bad bodies refused with nothing stored, and the calendar feed with its `?token=`."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from icalendar import Calendar

from receiver.oncall.config import OncallConfig
from receiver.oncall.schedule import who_is_on_call
from receiver.store.keys import Keys
from tests.conftest import AppFactory
from tests.integration.api.test_webhook_intake import state_snapshot

READER = "reader-token-0123456789"
ONCALL = "oncall-token-0123456789"
ADMIN = "admin-token-0123456789"
ACKER = "acker-token-0123456789"
READ_TWICE = "calendar-token-0123456789"
TOKENS = [
    {"name": "grafana", "token": READER, "scopes": ["read"]},
    {"name": "pager-bot", "token": ONCALL, "scopes": ["oncall"]},
    {"name": "ops", "token": ADMIN, "scopes": ["admin"]},
    {"name": "acker", "token": ACKER, "scopes": ["ack"]},
    {"name": "calendar", "token": READ_TWICE, "scopes": ["read", "read"]},
]
ONCALL_CONFIG: dict[str, Any] = {"rotations": {
    "primary": {"members": [{"name": "alice", "email": "alice@example.com", "slack": "U0ALICE"},
                            {"name": "bob", "email": "bob@example.com"},
                            {"name": "carol", "email": "carol@example.com"}],
                "shift": "1w", "handoff": "Mon 09:00", "timezone": "Europe/Berlin",
                "start": "2026-01-05"},
    "secondary": {"members": [{"name": "erin", "email": "erin@example.com"}],
                  "shift": "1d", "handoff": "18:00", "timezone": "America/New_York"},
}}  # fmt: skip
OVERRIDES = "/api/v1/oncall/primary/overrides"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def client_for(app_client: AppFactory) -> TestClient[Any, Any]:
    return await app_client(api_tokens=TOKENS, anonymous_read=False, oncall=ONCALL_CONFIG)


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/api/v1/oncall"), ("GET", "/api/v1/oncall/primary.ics"),
    ("POST", OVERRIDES), ("DELETE", f"{OVERRIDES}/0123456789abcdef"),
])  # fmt: skip
async def test_no_token_is_401(app_client: AppFactory, redis: aioredis.Redis, method: str,
                               path: str) -> None:  # fmt: skip
    client = await client_for(app_client)
    resp = await client.request(method, path, json={"who": "bob", "for": "1h"})
    assert resp.status == 401
    assert (await resp.json())["error"] == "unauthorized"
    assert await redis.keys("*") == []


@pytest.mark.parametrize(("method", "path"), [
    ("POST", OVERRIDES), ("DELETE", f"{OVERRIDES}/0123456789abcdef")])  # fmt: skip
async def test_read_token_cannot_change_overrides(app_client: AppFactory, redis: aioredis.Redis,
                                                  method: str, path: str) -> None:  # fmt: skip
    client = await client_for(app_client)
    resp = await client.request(method, path, json={"who": "bob", "for": "1h"},
                                headers=bearer(READER))  # fmt: skip
    assert resp.status == 403
    assert (await resp.json())["error"] == "forbidden"
    assert await redis.keys("*") == []


async def test_override_added_shown_and_removed(app_client: AppFactory) -> None:
    client = await client_for(app_client)
    before = await (await client.get("/api/v1/oncall", headers=bearer(READER))).json()
    primary = before["rotations"][0]
    assert [r["name"] for r in before["rotations"]] == ["primary", "secondary"]
    assert primary["on_call"]["override"] is None and len(primary["next"]) == 3
    scheduled = primary["on_call"]["member"]["name"]
    stand_in = "erin" if scheduled != "erin" else "bob"

    resp = await client.post(OVERRIDES, json={"who": stand_in, "for": "2h", "reason": "swap"},
                             headers=bearer(ONCALL))  # fmt: skip
    assert resp.status == 201, await resp.text()
    made = await resp.json()
    assert (made["who"], made["created_by"], made["reason"]) == (stand_in, "pager-bot", "swap")
    assert resp.headers["Location"] == f"{OVERRIDES}/{made['id']}"

    now = await (await client.get("/api/v1/oncall?rotation=primary",
                                  headers=bearer(READER))).json()  # fmt: skip
    (st,) = now["rotations"]
    assert st["on_call"]["member"] == {"name": "erin", "email": "erin@example.com"}
    assert st["on_call"]["override"]["id"] == made["id"]
    assert st["on_call"]["until"] == made["until"]
    assert st["next"][0]["member"]["name"] == scheduled  # back to the rotation after it
    assert [o["id"] for o in st["overrides"]] == [made["id"]]

    resp = await client.delete(f"{OVERRIDES}/{made['id']}", headers=bearer(ONCALL))
    assert resp.status == 200 and (await resp.json()) == {"removed": made["id"]}
    after = await (await client.get("/api/v1/oncall", headers=bearer(READER))).json()
    assert after["rotations"][0]["on_call"]["member"]["name"] == scheduled
    assert after["rotations"][0]["overrides"] == []
    again = await client.delete(f"{OVERRIDES}/{made['id']}", headers=bearer(ONCALL))
    assert again.status == 404 and (await again.json())["error"] == "not_found"


async def test_admin_may_add_and_stand_in_needs_email(app_client: AppFactory) -> None:
    client = await client_for(app_client)
    start = "2026-12-31T22:00:00Z"
    resp = await client.post(OVERRIDES, json={"who": "Zed Ext", "email": "zed@ext.example",
                                              "from": start, "until": "2027-01-01T06:00:00Z"},
                             headers=bearer(ADMIN))  # fmt: skip
    assert resp.status == 201
    at = await (await client.get(f"/api/v1/oncall?rotation=primary&at={start}",
                                 headers=bearer(READER))).json()  # fmt: skip
    assert at["rotations"][0]["on_call"]["member"] == {"name": "Zed Ext",
                                                       "email": "zed@ext.example"}  # fmt: skip
    assert at["rotations"][0]["on_call"]["override"]["created_by"] == "ops"


SHOWN = "; names are shown to other people"
BAD_BODIES = [
    ("not json", b"{who: bob", "invalid_json", [], ""),
    ("not an object", b'["bob"]', "invalid_override", [""], ""),
    ("no who", b'{"for": "1h"}', "invalid_override", ["who"], ""),
    ("unknown person", b'{"who": "zed", "for": "1h"}', "invalid_override", ["who"], ""),
    ("bad time", b'{"who": "bob", "until": "soon"}', "invalid_override", ["until"], ""),
    ("in the past", b'{"who": "bob", "from": "2020-01-01T00:00:00Z", "until": '
     b'"2020-01-02T00:00:00Z"}', "invalid_override", ["until"], ""),
    ("unknown field", b'{"who": "bob", "for": "1h", "by": "me"}', "invalid_override", ["by"],
     ""),
    # Names and reasons are shown to others (API, console, calendar): nothing that displays
    # as someone else ("\u202eecila" shows as "alice") or hides itself.
    ("rtl who", b'{"who": "\\u202eecila", "email": "e@example.com", "for": "1h"}',
     "invalid_override", ["who"], "who: contains a format character U+202E" + SHOWN),
    ("zero-width who", b'{"who": "bo\\u200bb", "email": "e@example.com", "for": "1h"}',
     "invalid_override", ["who"], "who: contains a format character U+200B" + SHOWN),
    ("newline in who", b'{"who": "bob\\nalice", "email": "e@example.com", "for": "1h"}',
     "invalid_override", ["who"], "who: contains a control character U+000A" + SHOWN),
    ("blank who", b'{"who": " \\u3000 ", "email": "e@example.com", "for": "1h"}',
     "invalid_override", ["who"], "who: must not be empty"),
    ("private-use who", b'{"who": "\\ue000bob", "email": "e@example.com", "for": "1h"}',
     "invalid_override", ["who"], "who: contains a private-use character U+E000" + SHOWN),
    ("rtl reason", b'{"who": "bob", "for": "1h", "reason": "swap \\u202e"}',
     "invalid_override", ["reason"], "reason: contains a format character U+202E; comments"
     " are shown to other people"),
    ("separator in reason", b'{"who": "bob", "for": "1h", "reason": "a\\u2029b"}',
     "invalid_override", ["reason"], "reason: contains a paragraph separator U+2029"),
    ("rtl email", b'{"who": "zed", "email": "z\\u202e@example.com", "for": "1h"}',
     "invalid_override", ["email"], "email: contains a format character U+202E"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "body", "code", "fields", "detail"), BAD_BODIES,
                         ids=[r[0] for r in BAD_BODIES])  # fmt: skip
async def test_malformed_body_is_400_and_stores_nothing(
    app_client: AppFactory, redis: aioredis.Redis, case: str, body: bytes, code: str,
    fields: list[str], detail: str,
) -> None:  # fmt: skip
    client = await client_for(app_client)
    ok = await client.post(OVERRIDES, json={"who": "bob", "for": "1h"}, headers=bearer(ONCALL))
    assert ok.status == 201
    before = await state_snapshot(redis)
    resp = await client.post(OVERRIDES, data=body, headers={**bearer(ONCALL),
                             "Content-Type": "application/json"})  # fmt: skip
    assert resp.status == 400
    answer = await resp.json()
    assert answer["error"] == code and answer["detail"]
    assert [f["field"] for f in answer.get("fields", [])] == fields
    assert detail in answer["detail"]
    assert await state_snapshot(redis) == before


async def test_names_and_reasons_are_stored_as_they_display(app_client: AppFactory) -> None:
    client = await client_for(app_client)
    resp = await client.post(OVERRIDES, headers=bearer(ONCALL), json={
        "who": "\uff42\uff4f\uff42", "for": "1h", "reason": "swap,\r\nback monday"})  # fmt: skip
    assert resp.status == 201, await resp.text()
    made = await resp.json()
    assert (made["who"], made["email"]) == ("bob", "bob@example.com")  # NFKC: the member
    assert made["reason"] == "swap,\nback monday"  # a comment keeps its (plain) newline


@pytest.mark.parametrize(("method", "path", "status"), [
    ("POST", "/api/v1/oncall/nope/overrides", 404),
    ("DELETE", "/api/v1/oncall/nope/overrides/0123456789abcdef", 404),
    ("DELETE", f"{OVERRIDES}/not-an-id", 400),
    ("GET", "/api/v1/oncall?rotation=nope", 404),
    ("GET", "/api/v1/oncall?at=yesterday", 400),
    ("GET", "/api/v1/oncall?at=0001-01-01T00:00:00%2B14:00", 400),
])  # fmt: skip
async def test_unknown_rotation_and_bad_ids(
    app_client: AppFactory, redis: aioredis.Redis, method: str, path: str, status: int
) -> None:
    client = await client_for(app_client)
    resp = await client.request(method, path, json={"who": "bob", "for": "1h"},
                                headers=bearer(ADMIN))  # fmt: skip
    assert resp.status == status
    assert (await resp.json())["detail"]
    assert await redis.keys("*") == []


async def test_calendar_feed_matches_who_is_on_call(
    app_client: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    client = await client_for(app_client)
    made = await (await client.post(OVERRIDES, json={"who": "erin", "from": "now", "for": "3d"},
                                    headers=bearer(ONCALL))).json()  # fmt: skip
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="receiver.api"):
        resp = await client.get(f"/api/v1/oncall/primary.ics?token={READER}")
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "text/calendar"
    # The token in the URL is never logged by the receiver, its name is. (The test server's
    # aiohttp access log, which `serve` turns off, is not the receiver's.)
    ours = [r for r in caplog.records if r.name.startswith("receiver")]
    assert not any(READER in str(vars(r)) for r in ours)
    assert [getattr(r, "token", None) for r in ours] == ["grafana"]
    events = Calendar.from_ical(await resp.read()).walk("VEVENT")
    config = OncallConfig.model_validate(ONCALL_CONFIG)
    rot = config.rotations["primary"]
    now = datetime.now(UTC)
    assert events[0]["DTSTART"].dt <= now < events[-1]["DTEND"].dt
    assert events[-1]["DTEND"].dt >= now + timedelta(weeks=8) > events[-1]["DTSTART"].dt
    assert "erin (override)" in str(events[0]["SUMMARY"])
    ids = [made["id"]]
    for ev, nxt in zip(events, [*events[1:], None], strict=True):
        start, end = ev["DTSTART"].dt, ev["DTEND"].dt
        assert nxt is None or nxt["DTSTART"].dt == end
        listing = await (await client.get(f"/api/v1/oncall?rotation=primary&at={iso(start)}",
                                          headers=bearer(READER))).json()  # fmt: skip
        on_call = listing["rotations"][0]["on_call"]
        assert str(ev["SUMMARY"]).startswith(f"On call (primary): {on_call['member']['name']}")
        assert (on_call["from"], on_call["until"]) == (iso(start), iso(end))
        if on_call["override"] is None:
            assert on_call["member"]["name"] == who_is_on_call(rot, start).member.name
        else:
            assert on_call["override"]["id"] in ids


URL_TOKEN = "read_only_token_required"


@pytest.mark.parametrize(("query", "headers", "status", "code"), [
    ("", {}, 401, "unauthorized"),
    ("?token=wrong-token-0123456789", {}, 401, "unauthorized"),
    (f"?token={READER}&token={READER}", {}, 400, "invalid_request"),
    (f"?token={READER}", {"Authorization": f"Bearer {READER}"}, 400, "invalid_request"),
    ("", {"Authorization": f"Bearer {READER}"}, 200, None),
    # A URL leaks (proxies, browser history, calendar providers): ?token= takes only a token
    # whose scopes are exactly [read]; in the header any token that reads is fine.
    (f"?token={ONCALL}", {}, 403, URL_TOKEN),
    (f"?token={ACKER}", {}, 403, URL_TOKEN),
    (f"?token={ADMIN}", {}, 403, URL_TOKEN),
    (f"?token={READ_TWICE}", {}, 200, None),
    ("", {"Authorization": f"Bearer {ADMIN}"}, 200, None),
    ("", {"Authorization": f"Bearer {ONCALL}"}, 200, None),
    (f"?token={READER}&weeks=0", {}, 400, "invalid_query"),
    (f"?token={READER}&weeks=52", {}, 200, None),
])  # fmt: skip
async def test_calendar_feed_access(
    app_client: AppFactory, redis: aioredis.Redis, caplog: pytest.LogCaptureFixture, query: str,
    headers: dict[str, str], status: int, code: str | None,
) -> None:  # fmt: skip
    client = await client_for(app_client)
    ok = await client.post(OVERRIDES, json={"who": "bob", "for": "1h"}, headers=bearer(ONCALL))
    assert ok.status == 201
    before = await state_snapshot(redis)
    with caplog.at_level(logging.INFO, logger="receiver"):
        resp = await client.get(f"/api/v1/oncall/secondary.ics{query}", headers=headers)
    assert resp.status == status, await resp.text()
    if code is not None:
        answer = await resp.json()
        assert answer["error"] == code and answer["detail"]
        if code == URL_TOKEN:
            assert "use a token whose scopes are exactly [read] for calendar URLs" in answer[
                "detail"]  # fmt: skip
    assert await state_snapshot(redis) == before
    ours = [r for r in caplog.records if r.name.startswith("receiver")]
    for token in (READER, ONCALL, ACKER, ADMIN, READ_TWICE):
        assert not any(token in str(vars(r)) for r in ours)


async def test_store_prunes_expired_caps_and_expires(redis: aioredis.Redis) -> None:
    from receiver.oncall.overrides import Request, build_override
    from receiver.oncall.store import OverrideStore

    config = OncallConfig.model_validate(ONCALL_CONFIG)
    clock = [time.time()]  # Redis expires the hash by its own clock: keep to real time
    store = OverrideStore(redis, Keys("ar"), lambda: clock[0])

    def make(hours: int) -> Any:
        return build_override({"who": "bob", "for": f"{hours}h"},
                              Request(config, "primary", "t", store.now()))  # fmt: skip

    short, long = make(1), make(5)
    assert await store.add("primary", short, cap=2)
    assert await store.add("primary", long, cap=2)
    assert not await store.add("primary", make(2), cap=2)  # at the cap: refused
    assert {o.id for o in await store.list("primary")} == {short.id, long.id}
    key = Keys("ar").oncall_overrides(name="primary")
    ttl_ms = (long.end.timestamp() - time.time()) * 1000  # the hash ends with the last one
    assert abs(await redis.pttl(key) - ttl_ms) < 5000
    clock[0] += 2 * 3600  # `short` has ended: reads skip it without writing
    assert [o.id for o in await store.list("primary")] == [long.id]
    assert await redis.hlen(key) == 2
    third = make(1)
    assert await store.add("primary", third, cap=2)  # the add pruned `short`
    assert set(await redis.hkeys(key)) == {long.id, third.id}
