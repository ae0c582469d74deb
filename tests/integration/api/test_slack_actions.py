"""POST /slack/actions: the Acknowledge button, signed by Slack, against a real Redis and
the local Slack server (which records the chat.update of the original message)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from receiver.store.keys import Keys
from tests.conftest import AppFactory, auth, fixture_body
from tests.helpers import until, wait_deliveries_idle
from tests.integration.api.test_webhook_intake import state_snapshot
from tests.servers.slack import FakeSlack, Message

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"  # Slack's documentation example
FP = "0f3ef813eb86bd39"  # first alert of critical-group-firing
ACK_TOKEN = "acker-token-0123456789"


def settings(slack: FakeSlack) -> dict[str, Any]:
    receiver = {"type": "slack", "token": "xoxb-test-token", "channel": "#alerts",
                "api_url": slack.api_url, "rate": "none"}  # fmt: skip
    return {
        "receivers": {"chat": receiver},
        "route": {"receivers": ["chat"]},
        "ack": {"slack": {"signing_secret": SECRET}},
    }


def click_body(fp: str = FP, action_id: str = "ack", kind: str = "block_actions",
               user: dict[str, str] | None = None) -> bytes:  # fmt: skip
    """A block_actions payload as Slack posts it: a form with one JSON `payload` field."""
    payload = {
        "type": kind,
        "user": user if user is not None
        else {"id": "U123ABC", "username": "alice", "name": "alice", "team_id": "T1"},
        "team": {"id": "T1", "domain": "example"},
        "container": {"type": "message", "message_ts": "1.000001", "channel_id": "C0ALERTS"},
        "channel": {"id": "C0ALERTS", "name": "alerts"},
        "response_url": "https://hooks.slack.com/actions/T1/1/xyz",
        "actions": [{"type": "button", "action_id": action_id, "block_id": "b1",
                     "value": fp, "action_ts": "1.2"}],
    }  # fmt: skip
    return urlencode({"payload": json.dumps(payload)}).encode()


def signed(body: bytes, ts: str | None = None, secret: str = SECRET) -> dict[str, str]:
    """Slack's headers: v0=HMAC-SHA256(secret, "v0:{ts}:{body}")."""
    ts = ts if ts is not None else str(int(time.time()))
    mac = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={mac}",
            "Content-Type": "application/x-www-form-urlencoded"}  # fmt: skip


async def post_click(client: TestClient[Any, Any], body: bytes, headers: dict[str, str]) -> Any:
    return await client.post("/slack/actions", data=body, headers=headers)


def ack_buttons(msg: Message) -> list[str]:
    return [e["value"] for b in msg.blocks if b["type"] == "actions"
            for e in b["elements"] if e.get("action_id") == "ack"]  # fmt: skip


async def test_click_acks_as_the_user_and_updates_the_message(
    app_client: AppFactory, slack: FakeSlack
) -> None:
    client = await app_client(run_workers=True, **settings(slack))
    resp = await client.post("/webhook", json=fixture_body("critical-group-firing"),
                             headers=auth())  # fmt: skip
    assert resp.status == 200
    await until(lambda: len(slack.top_level()) == 2, 10)
    msg = next(m for m in slack.top_level() if ack_buttons(m) == [FP])

    body = click_body()
    started = time.monotonic()
    resp = await post_click(client, body, signed(body))
    assert resp.status == 200, await resp.text()
    rec = await (await client.get(f"/api/v1/alerts/{FP}")).json()
    ack = rec["ack"] if isinstance(rec["ack"], dict) else json.loads(rec["ack"])
    assert (ack["by"], ack["via"]) == ("alice (U123ABC)", "slack")
    assert any(h.get("event") == "ack" and h.get("via") == "slack" for h in rec["history"])

    # The pipeline's chat.update of that very message, without its button, within 3 s.
    await until(lambda: msg.history, 3.0 - (time.monotonic() - started))
    assert msg.text.startswith("[ACKNOWLEDGED]")
    assert "alice (U123ABC)" in msg.blocks[1]["text"]["text"]
    assert ack_buttons(msg) == []
    other = next(m for m in slack.top_level() if m is not msg)
    assert other.history == [] and ack_buttons(other) == ["1d3f58b2d7994044"]

    # A second click changes nothing more (the ack is in force already).
    again = click_body(user={"id": "U999", "username": "bob"})
    resp = await post_click(client, again, signed(again))
    assert resp.status == 200
    rec = await (await client.get(f"/api/v1/alerts/{FP}")).json()
    ack = rec["ack"] if isinstance(rec["ack"], dict) else json.loads(rec["ack"])
    assert ack["by"] == "alice (U123ABC)"


def _headers_without(*names: str) -> dict[str, str]:
    return {k: v for k, v in signed(click_body()).items() if k not in names}


def _now_plus(seconds: int) -> str:
    return str(int(time.time()) + seconds)


# Built when the test runs, not when it is collected: a timestamp taken at collection is
# minutes old by the time a long suite gets here.
@pytest.mark.parametrize(
    ("make_headers", "code"),
    [
        (lambda: signed(click_body(), secret="not-the-signing-secret-at-all-00"), "bad_signature"),
        (lambda: signed(click_body(), ts=_now_plus(-360)), "stale_timestamp"),
        (lambda: signed(click_body(), ts=_now_plus(360)), "stale_timestamp"),
        (lambda: signed(click_body(), ts="16e8"), "bad_timestamp"),
        (lambda: signed(click_body(), ts="yesterday"), "bad_timestamp"),
        (lambda: signed(click_body(), ts="-1"), "bad_timestamp"),
        (lambda: _headers_without("X-Slack-Signature"), "missing_signature"),
        (lambda: _headers_without("X-Slack-Request-Timestamp"), "missing_signature"),
        (lambda: {**signed(click_body()), "X-Slack-Signature": "v0=" + "0" * 64}, "bad_signature"),
        (lambda: {**signed(click_body()), "X-Slack-Signature": "garbage"}, "bad_signature"),
    ],
    ids=["forged", "6-minutes-old", "6-minutes-ahead", "exponent", "words", "negative",
         "no-signature", "no-timestamp", "zero-mac", "garbage-mac"],
)  # fmt: skip
async def test_unsigned_or_stale_requests_are_refused_and_change_nothing(
    app_client: AppFactory, redis: aioredis.Redis, slack: FakeSlack,
    make_headers: Callable[[], dict[str, str]], code: str,
) -> None:  # fmt: skip
    client = await app_client(**settings(slack))
    await client.post("/webhook", json=fixture_body("critical-group-firing"), headers=auth())
    before = await state_snapshot(redis)
    resp = await post_click(client, click_body(), make_headers())
    assert resp.status == 401
    assert (await resp.json())["error"] == code
    assert await state_snapshot(redis) == before


async def test_signature_covers_the_body(
    app_client: AppFactory, redis: aioredis.Redis, slack: FakeSlack
) -> None:
    client = await app_client(**settings(slack))
    await client.post("/webhook", json=fixture_body("critical-group-firing"), headers=auth())
    before = await state_snapshot(redis)
    headers = signed(click_body())  # signed for FP, sent for the other alert
    resp = await post_click(client, click_body(fp="1d3f58b2d7994044"), headers)
    assert (resp.status, (await resp.json())["error"]) == (401, "bad_signature")
    invalid_utf8 = b"payload=\xff\xfe"
    resp = await post_click(client, invalid_utf8, signed(invalid_utf8, secret="x" * 32))
    assert resp.status == 401
    assert await state_snapshot(redis) == before


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (click_body(kind="view_submission"), "unsupported_payload"),
        (click_body(action_id="approve"), "unknown_action"),
        (click_body(fp="not-a-fingerprint"), "invalid_payload"),
        (b"payload=%7Bnot+json", "invalid_payload"),
        (b"text=hello", "invalid_payload"),
        (b"", "invalid_payload"),
        # A name that displays as someone else's ("alice" after a right-to-left override).
        (click_body(user={"id": "U666", "username": "\u202eecila"}), "invalid_name"),
        (click_body(user={"id": "U666", "username": "al\u200bice"}), "invalid_name"),
    ],
)
async def test_signed_but_not_an_ack_click_is_a_400(
    app_client: AppFactory, redis: aioredis.Redis, slack: FakeSlack, body: bytes, code: str
) -> None:
    client = await app_client(**settings(slack))
    await client.post("/webhook", json=fixture_body("critical-group-firing"), headers=auth())
    before = await state_snapshot(redis)
    resp = await post_click(client, body, signed(body))
    assert resp.status == 400
    assert (await resp.json())["error"] == code
    assert await state_snapshot(redis) == before


async def test_link_button_clicks_get_a_200_and_change_nothing(
    app_client: AppFactory, redis: aioredis.Redis, slack: FakeSlack
) -> None:
    # Slack calls back for URL buttons too, and shows the user an error unless it gets a 200.
    client = await app_client(**settings(slack))
    await client.post("/webhook", json=fixture_body("critical-group-firing"), headers=auth())
    before = await state_snapshot(redis)
    body = click_body(action_id="link_1")
    resp = await post_click(client, body, signed(body))
    assert resp.status == 200
    assert await state_snapshot(redis) == before


async def test_click_on_unknown_or_resolved_alert_answers_200_without_change(
    app_client: AppFactory, redis: aioredis.Redis, slack: FakeSlack
) -> None:
    client = await app_client(**settings(slack))
    await client.post("/webhook", json=fixture_body("critical-group-firing"), headers=auth())
    await client.post("/webhook", json=fixture_body("critical-group-mixed-resolved"),
                      headers=auth())  # fmt: skip
    before = await state_snapshot(redis)
    for fp in (FP, "ffffffffffffffff"):  # resolved; never seen
        body = click_body(fp=fp)
        resp = await post_click(client, body, signed(body))
        assert resp.status == 200
    # Only the memory of the two signed requests (replays of them do nothing), for as
    # long as their timestamps are inside the 5-minute window (+ 60 s of replica skew).
    seen = await seen_keys(redis)
    assert len(seen) == 2
    assert all(0 < ttl <= 300 + 60 + 1 for ttl in [await redis.ttl(k) for k in seen])
    after = await state_snapshot(redis)
    assert {k: v for k, v in after.items() if k not in seen} == before


async def seen_keys(redis: aioredis.Redis) -> list[str]:
    return sorted(await redis.keys(Keys("ar").slack_seen("*")))


async def acks_metric(client: TestClient[Any, Any], outcome: str) -> float:
    """alert_receiver_acks_total{via="slack",outcome=…} of one replica (0 if absent)."""
    text = await (await client.get("/metrics")).text()
    m = re.search(rf'^alert_receiver_acks_total{{outcome="{outcome}",via="slack"}} (\S+)$',
                  text, re.M)  # fmt: skip
    return float(m[1]) if m else 0.0


async def test_a_replayed_click_does_not_ack_again_after_an_unack(
    app_client: AppFactory, redis: aioredis.Redis, slack: FakeSlack,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    doc = settings(slack)
    doc["api_tokens"] = [{"name": "oncall", "token": ACK_TOKEN, "scopes": ["ack"]}]
    client = await app_client(run_workers=True, **doc)
    await client.post("/webhook", json=fixture_body("critical-group-firing"), headers=auth())
    await until(lambda: len(slack.top_level()) == 2, 10)
    msg = next(m for m in slack.top_level() if ack_buttons(m) == [FP])

    body = click_body()
    captured = signed(body)  # what an attacker on the path keeps
    assert (await post_click(client, body, captured)).status == 200
    await until(lambda: len(msg.history) == 1, 10)
    resp = await client.post(f"/api/v1/alerts/{FP}/unack", json={"by": "bob"},
                             headers={"Authorization": f"Bearer {ACK_TOKEN}"})  # fmt: skip
    assert (await resp.json())["outcome"] == "unacked"
    await until(lambda: len(msg.history) == 2, 10)  # the button is back
    keys = Keys("ar")
    await wait_deliveries_idle(redis, keys, 10)

    before = await state_snapshot(redis)
    with caplog.at_level(logging.INFO, logger="receiver"):
        replay = await post_click(client, body, captured)  # within its 5 minutes
    assert replay.status == 200 and await replay.read() == b""
    assert await state_snapshot(redis) == before  # no ack, no job for Slack or anyone
    rec = await (await client.get(f"/api/v1/alerts/{FP}")).json()
    assert rec["acknowledged"] is False
    assert [h.get("event") for h in rec["history"]][:2] == ["unack", "ack"]
    assert len(msg.history) == 2 and ack_buttons(msg) == [FP]
    assert await acks_metric(client, "replayed") == 1 and await acks_metric(client, "acked") == 1
    (line,) = [r for r in caplog.records if r.getMessage() == "slack action replayed"]
    assert getattr(line, "fingerprint", None) == FP and getattr(line, "why", None) == "replayed"


async def test_two_replicas_racing_one_click_ack_once(
    app_client: AppFactory, redis: aioredis.Redis, slack: FakeSlack
) -> None:
    one, two = await app_client(**settings(slack)), await app_client(**settings(slack))
    await one.post("/webhook", json=fixture_body("critical-group-firing"), headers=auth())
    body = click_body()
    headers = signed(body)
    answers = await asyncio.gather(post_click(one, body, headers), post_click(two, body, headers))
    assert [a.status for a in answers] == [200, 200]
    rec = await (await one.get(f"/api/v1/alerts/{FP}")).json()
    assert [h.get("via") for h in rec["history"] if h.get("event") == "ack"] == ["slack"]
    acked = [await acks_metric(c, "acked") for c in (one, two)]
    replayed = [await acks_metric(c, "replayed") for c in (one, two)]
    assert sorted(acked) == [0, 1] and sorted(replayed) == [0, 1] and acked != replayed


async def test_not_configured_is_a_404(app_client: AppFactory, slack: FakeSlack) -> None:
    doc = settings(slack)
    doc["ack"] = {}
    client = await app_client(**doc)
    body = click_body()
    resp = await post_click(client, body, signed(body))
    assert resp.status == 404 and (await resp.json())["error"] == "not_configured"


async def test_secret_from_file_and_injected_clock(
    app_client: AppFactory, slack: FakeSlack, tmp_path: Any
) -> None:
    (tmp_path / "signing").write_text(SECRET + "\n")
    doc = settings(slack)
    doc["ack"] = {"slack": {"signing_secret_file": str(tmp_path / "signing")}}
    client = await app_client(clock=lambda: 1_700_000_000.0, **doc)
    await client.post("/webhook", json=fixture_body("critical-group-firing"), headers=auth())
    body = click_body()
    resp = await post_click(client, body, signed(body, ts="1700000200"))  # 200 s in its past
    assert resp.status == 200
    resp = await post_click(client, body, signed(body, ts="1700000400"))  # 400 s: too far
    assert resp.status == 401


async def test_button_shown_only_when_callback_configured(
    app_client: AppFactory, slack: FakeSlack
) -> None:
    doc = settings(slack)
    doc["receivers"]["quiet"] = {**doc["receivers"]["chat"], "ack_button": False}
    doc["route"] = {"receivers": ["chat", "quiet"]}
    client = await app_client(run_workers=True, **doc)
    await client.post("/webhook", json=fixture_body("warning-firing"), headers=auth())
    await until(lambda: len(slack.top_level()) == 2, 10)
    buttons = sorted(len(ack_buttons(m)) for m in slack.top_level())
    assert buttons == [0, 1]  # `chat` has the button, `quiet` (ack_button: false) not
