"""Telegram end to end in the service: two replicas on one Redis, the Acknowledge button
pressed in the local Bot API (polling and webhook), the message edited in place, PagerDuty
acknowledged; forged, unknown, replayed and old-episode presses refused with nothing changed;
the Bot API's 429 honoured."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
import yaml
from aiohttp.test_utils import TestClient, TestServer

from receiver.server.app import create_app
from receiver.server.check import load_settings
from receiver.store.keys import Keys
from tests.conftest import TOKEN as TOKEN_AUTH
from tests.conftest import AppFactory, RedisServer, auth, fixture_body
from tests.helpers import metric, until, wait_deliveries_idle
from tests.integration.api.test_webhook_intake import state_snapshot
from tests.servers.pagerduty import FakePagerDuty
from tests.servers.telegram import CHAT, TOKEN, FakeTelegram, Message

FP = "0f3ef813eb86bd39"  # first alert of critical-group-firing (api-1)
OTHER = "1d3f58b2d7994044"  # its second (api-2)
PUBLIC = "https://alerts.example.com"
KEYS = Keys()


def settings(tg: FakeTelegram, pd: FakePagerDuty | None = None, **receiver: Any) -> dict[str, Any]:
    receivers: dict[str, Any] = {"tg": {"type": "telegram", "token": TOKEN, "chat_id": CHAT,
                                        "api_url": tg.base_url, "rate": "none",
                                        "poll_timeout": 1, **receiver}}  # fmt: skip
    if pd is not None:
        receivers["pd"] = {"type": "pagerduty", "routing_key": "R" * 32,
                           "base_url": pd.base_url, "rate": "none"}  # fmt: skip
    return {"receivers": receivers, "route": {"receivers": sorted(receivers)}}


def message_of(tg: FakeTelegram, fp: str) -> Message:
    (msg,) = [m for m in tg.posted() if any(fp in d for d in m.callback_data())
              or fp in json.dumps(m.history)]  # fmt: skip
    return msg


async def ack_of(client: TestClient[Any, Any], fp: str) -> dict[str, Any] | None:
    rec = await (await client.get(f"/api/v1/alerts/{fp}")).json()
    ack = rec.get("ack")
    return json.loads(ack) if isinstance(ack, str) else ack


async def fire(client: TestClient[Any, Any], tg: FakeTelegram, n: int = 2) -> None:
    resp = await client.post("/webhook", json=fixture_body("critical-group-firing"), headers=auth())
    assert resp.status == 200, await resp.text()
    await until(lambda: len(tg.posted()) == n, what="telegram messages")


async def test_two_replicas_one_message_acked_by_button_then_resolved(
    app_client: AppFactory, redis: aioredis.Redis, telegram: FakeTelegram, pd: FakePagerDuty
) -> None:
    a = await app_client(run_workers=True, **settings(telegram, pd))
    b = await app_client(run_workers=True, **settings(telegram, pd))
    await fire(a, telegram)
    await until(lambda: len(pd.incidents) == 2, what="PagerDuty triggers")
    msg = message_of(telegram, FP)
    assert msg.plain.startswith("🔴 [FIRING] HighErrorRate")

    update = await telegram.press(msg)  # polled by whichever replica holds the lease
    qid = update["callback_query"]["id"]
    await until(lambda: qid in telegram.answers, what="answerCallbackQuery")
    assert telegram.answers[qid] == "Acknowledged"
    await until(lambda: msg.history, what="the message edited")
    assert "[ACKNOWLEDGED]" in msg.plain and "Acknowledged by alice (4242)" in msg.plain
    assert msg.callback_data() == []
    await until(lambda: pd.incidents.get(f"alert-receiver/{FP}") == "acknowledged", what="PD")
    ack = await ack_of(b, FP)
    assert ack is not None and (ack["by"], ack["via"]) == ("alice (4242)", "telegram")
    other = message_of(telegram, OTHER)
    assert other.history == [] and len(other.callback_data()) == 1

    resp = await b.post("/webhook", json=fixture_body("critical-group-mixed-resolved"),
                        headers=auth())  # fmt: skip
    assert resp.status == 200
    await until(lambda: msg.plain.startswith("✅ [RESOLVED]"), what="the resolve edit")
    await wait_deliveries_idle(redis)
    assert len(telegram.calls("sendMessage")) == 2 and len(telegram.posted()) == 2
    assert [h[0].split("]")[0][-5:] for h in msg.history] == ["IRING", "EDGED"]
    assert other.history == []
    # One replica at a time polled: Telegram never saw two getUpdates at once.
    assert telegram.conflicts == 0 and len(telegram.calls("getUpdates")) >= 1
    holder = await redis.get(KEYS.telegram_lease("123456789"))
    assert holder and int(await redis.get(KEYS.telegram_offset("123456789"))) == (
        update["update_id"] + 1)  # fmt: skip
    for replica in (a, b):  # the polling loop is on /health, ok on both (one holds)
        health = await (await replica.get("/health")).json()
        assert health["components"]["telegram"] == "ok", health
    text = await (await a.get("/metrics")).text() + await (await b.get("/metrics")).text()
    assert metric(text, "alert_receiver_acks_total", via="telegram", outcome="acked") == 1


async def webhook_replica(app_client: AppFactory, tg: FakeTelegram) -> TestClient[Any, Any]:
    client = await app_client(run_workers=True, **settings(
        tg, updates="webhook", webhook_base_url=PUBLIC))  # fmt: skip
    tg.route_webhooks(PUBLIC, str(client.make_url("")))
    await until(lambda: tg.webhook.get("url") == PUBLIC + "/telegram/webhook", what="setWebhook")
    assert tg.webhook["allowed_updates"] == ["callback_query"]
    return client


async def test_webhook_press_acks_once_and_a_replay_changes_nothing(
    app_client: AppFactory, redis: aioredis.Redis, telegram: FakeTelegram
) -> None:
    client = await webhook_replica(app_client, telegram)
    await fire(client, telegram)
    msg = message_of(telegram, FP)
    update = await telegram.press(msg)
    assert telegram.webhook_posts[-1] == (update["update_id"], 200)
    assert telegram.answers[update["callback_query"]["id"]] == "Acknowledged"
    await until(lambda: msg.history, what="the ack edit")
    await wait_deliveries_idle(redis)
    before = await state_snapshot(redis)
    # Telegram delivers the same update again (it got no answer in time, say).
    telegram.pending.append(update)
    await telegram.deliver()
    assert telegram.webhook_posts[-1] == (update["update_id"], 200)
    await wait_deliveries_idle(redis)
    assert await state_snapshot(redis) == before
    # Another press of a stale client: answered, nothing changed.
    again = telegram.callback_update(msg, data=msg.history[0][1]["inline_keyboard"][0][0]
                                     ["callback_data"])  # fmt: skip
    telegram.pending.append(again)
    await telegram.deliver()
    qid = again["callback_query"]["id"]
    assert telegram.answers[qid] == "Already acknowledged"
    await wait_deliveries_idle(redis)
    after = await state_snapshot(redis)
    assert after.pop(KEYS.telegram_seen(qid)) == "1"  # this press is claimed, nothing else
    assert after == before
    text = await (await client.get("/metrics")).text()
    assert metric(text, "alert_receiver_acks_total", via="telegram", outcome="replayed") == 1


async def test_webhook_refuses_a_missing_or_wrong_secret(
    app_client: AppFactory, redis: aioredis.Redis, telegram: FakeTelegram
) -> None:
    client = await webhook_replica(app_client, telegram)
    await fire(client, telegram)
    await wait_deliveries_idle(redis)
    update = telegram.callback_update(message_of(telegram, FP))
    secret = str(telegram.webhook["secret_token"])
    before = await state_snapshot(redis)
    for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": secret[:-1] + "x"},
                    {"X-Telegram-Bot-Api-Secret-Token": ""}):  # fmt: skip
        resp = await client.post("/telegram/webhook", json=update, headers=headers)
        assert (resp.status, (await resp.json())["error"]) == (401, "bad_secret")
    resp = await client.post("/telegram/webhook", data=b"{not json",
                             headers={"X-Telegram-Bot-Api-Secret-Token": secret})  # fmt: skip
    assert resp.status == 400
    assert await state_snapshot(redis) == before and telegram.answers == {}


async def test_forged_unknown_and_foreign_presses_are_refused(
    app_client: AppFactory, redis: aioredis.Redis, telegram: FakeTelegram
) -> None:
    client = await webhook_replica(app_client, telegram)
    await fire(client, telegram)
    await wait_deliveries_idle(redis)
    msg = message_of(telegram, FP)
    nonce = msg.callback_data()[0].rsplit(":", 1)[1]
    before = await state_snapshot(redis)
    presses = [
        {"data": f"ack:{FP}:{'Z' * 16}"},  # an id no message carries
        {"data": f"ack:{OTHER}:{nonce}"},  # this button's id for another alert
        {"data": f"ack:{FP}:{nonce}", "chat": "-100999"},  # the right id from another chat
        {"data": "ack:not-a-fingerprint"},  # not our data at all
    ]
    for kw in presses:
        update = await telegram.press(msg, **kw)
        assert telegram.webhook_posts[-1] == (update["update_id"], 200)
        answer = telegram.answers[update["callback_query"]["id"]]
        assert answer in ("This button is no longer valid", ""), (kw, answer)
    assert await state_snapshot(redis) == before
    assert await ack_of(client, FP) is None and msg.history == []


async def test_only_allowed_users_may_press(
    app_client: AppFactory, redis: aioredis.Redis, telegram: FakeTelegram
) -> None:
    only = {"allowed_users": ["carol", 4242], "updates": "webhook", "webhook_base_url": PUBLIC}
    client = await app_client(run_workers=True, **settings(telegram, **only))
    telegram.route_webhooks(PUBLIC, str(client.make_url("")))
    await until(lambda: telegram.webhook, what="setWebhook")
    await fire(client, telegram)
    await wait_deliveries_idle(redis)
    msg = message_of(telegram, FP)
    before = await state_snapshot(redis)
    bob = await telegram.press(msg, user={"id": 77, "first_name": "Bob", "username": "bob"})
    assert telegram.answers[bob["callback_query"]["id"]] == "You may not acknowledge alerts here"
    assert await state_snapshot(redis) == before and msg.history == []
    alice = await telegram.press(msg)  # id 4242 is allowed (her username is not listed)
    assert telegram.answers[alice["callback_query"]["id"]] == "Acknowledged"
    ack = await ack_of(client, FP)
    assert ack is not None and ack["by"] == "alice (4242)"


async def test_press_for_an_earlier_episode_is_refused(
    app_client: AppFactory, redis: aioredis.Redis, telegram: FakeTelegram
) -> None:
    client = await webhook_replica(app_client, telegram)
    await fire(client, telegram)
    await wait_deliveries_idle(redis)
    msg = message_of(telegram, FP)
    # The alert fires again (a new startsAt) and Telegram fails its new message for now:
    # the delivery state still names the old episode's message.
    telegram.fail_next(10_000, 500)
    body = fixture_body("critical-group-firing")
    for a in body["alerts"]:
        a["startsAt"] = "2026-11-22T06:00:00Z"
    assert (await client.post("/webhook", json=body, headers=auth())).status == 200
    await until(lambda: len(telegram.calls("sendMessage")) >= 3, what="the failing re-post")
    alert_before = await redis.hgetall(KEYS.alert(FP))
    history_before = await redis.lrange(KEYS.history(FP), 0, -1)
    telegram._fail.clear()  # the press itself must get through
    telegram.fail_next(0)
    update = await telegram.press(msg)
    qid = update["callback_query"]["id"]
    assert telegram.answers[qid] == "This message is about an earlier firing of the alert"
    assert await redis.hgetall(KEYS.alert(FP)) == alert_before
    assert await redis.lrange(KEYS.history(FP), 0, -1) == history_before
    assert msg.history == []


async def test_429_retry_after_is_honoured_and_all_arrive_once(
    app_client: AppFactory, redis: aioredis.Redis, telegram: FakeTelegram
) -> None:
    telegram.rate_limit_next(1, retry_after=2)
    client = await app_client(run_workers=True, **settings(telegram, ack_button=False))
    resp = await client.post("/webhook", json=fixture_body("warning-firing"), headers=auth())
    assert resp.status == 200
    await until(lambda: any(r.status == 429 for r in telegram.requests), what="the 429")
    # Two more alerts while the destination waits out Telegram's retry_after.
    resp = await client.post("/webhook", json=fixture_body("critical-group-firing"),
                             headers=auth())  # fmt: skip
    assert resp.status == 200
    await until(lambda: len(telegram.posted()) == 3, 30, "all messages after the pause")
    await wait_deliveries_idle(redis)
    (limited,) = [r for r in telegram.requests if r.status == 429]
    later = [r for r in telegram.requests if r.at > limited.at]
    assert later and min(r.at for r in later) >= telegram.limited_until, (
        [round(r.at - limited.at, 3) for r in later])  # fmt: skip
    assert len([r for r in telegram.calls("sendMessage") if r.status == 200]) == 3
    assert len({m.plain for m in telegram.posted()}) == 3  # each alert once
    assert telegram.calls("getUpdates") == []  # no button: nothing to poll for


async def test_webhook_route_answers_404_without_a_webhook_receiver(
    app_client: AppFactory, redis: aioredis.Redis, telegram: FakeTelegram
) -> None:
    client = await app_client(**settings(telegram))  # polling: nothing takes webhooks
    resp = await client.post("/telegram/webhook", json={"update_id": 1})
    assert (resp.status, (await resp.json())["error"]) == (404, "not_configured")


async def test_a_reload_that_adds_a_telegram_receiver_starts_its_updates(
    tmp_path: Path, redis: aioredis.Redis, redis_server: RedisServer, telegram: FakeTelegram
) -> None:
    admin = "admin-token-0123456789"
    doc: dict[str, Any] = {
        "auth": {"bearer_tokens": [TOKEN_AUTH]}, "redis": {"url": redis_server.url},
        "api_tokens": [{"name": "ops", "token": admin, "scopes": ["admin", "read"]}],
        "receivers": {"log": {"type": "log", "rate": "none"}}, "route": {"receivers": ["log"]},
    }  # fmt: skip
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(doc))
    app = create_app(load_settings(path), run_workers=True, config_path=str(path))
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        health = await (await client.get("/health")).json()
        assert "telegram" not in health["components"]
        doc.update(settings(telegram))
        path.write_text(yaml.safe_dump(doc))
        resp = await client.post("/-/reload", headers={"Authorization": f"Bearer {admin}"})
        assert resp.status == 200, await resp.text()
        await fire(client, telegram)
        update = await telegram.press(message_of(telegram, FP))
        qid = update["callback_query"]["id"]
        await until(lambda: qid in telegram.answers, what="the press, polled after the reload")
        assert telegram.answers[qid] == "Acknowledged"
        health = await (await client.get("/health")).json()
        assert health["components"]["telegram"] == "ok"
    finally:
        await client.close()


async def test_an_update_polled_again_after_a_lost_offset_is_not_handled_twice(
    app_client: AppFactory, redis: aioredis.Redis, telegram: FakeTelegram
) -> None:
    """A poller that died after handling an update but before storing the next offset: the
    next holder reads the update again, and its claim makes that a no-op."""
    client = await app_client(run_workers=True, **settings(telegram))
    await fire(client, telegram)
    update = await telegram.press(message_of(telegram, FP))
    bot_offset = KEYS.telegram_offset("123456789")
    await until(lambda: redis.get(bot_offset), what="the offset stored")
    assert int(await redis.get(bot_offset)) == update["update_id"] + 1
    await wait_deliveries_idle(redis)
    history = await redis.lrange(KEYS.history(FP), 0, -1)
    answers = dict(telegram.answers)
    # The offset as it was before the update was handled; Telegram still has the update.
    await redis.set(bot_offset, update["update_id"])
    telegram.pending.append(update)
    await until(lambda: [r for r in telegram.calls("getUpdates")
                         if r.body.get("offset") == update["update_id"]],
                what="the update polled again")  # fmt: skip
    await until(async_equals(redis, bot_offset, str(update["update_id"] + 1)), what="commit")
    await wait_deliveries_idle(redis)
    assert await redis.lrange(KEYS.history(FP), 0, -1) == history  # one ack, as before
    assert telegram.answers == answers  # a replay is not answered again
    text = await (await client.get("/metrics")).text()
    assert metric(text, "alert_receiver_acks_total", via="telegram", outcome="replayed") == 1


def async_equals(redis: aioredis.Redis, key: str, want: str) -> Any:
    async def check() -> bool:
        return bool(await redis.get(key) == want)

    return check


async def test_a_press_while_redis_is_down_is_a_503_and_acks_once_when_redelivered(
    app_client: AppFactory, redis: aioredis.Redis, redis_server: RedisServer,
    telegram: FakeTelegram,
) -> None:  # fmt: skip
    client = await webhook_replica(app_client, telegram)
    await fire(client, telegram)
    await wait_deliveries_idle(redis)
    msg = message_of(telegram, FP)
    redis_server.stop()
    try:
        update = await telegram.press(msg)
        assert telegram.webhook_posts[-1] == (update["update_id"], 503)
        assert telegram.pending == [update]  # Telegram keeps it and retries
        assert telegram.answers == {}
    finally:
        redis_server.start()

    async def redelivered() -> bool:  # Telegram retries until it gets a 2xx
        await telegram.deliver()
        return not telegram.pending

    await until(redelivered, 20, "redelivered once Redis is back", interval=0.2)
    assert telegram.webhook_posts[-1] == (update["update_id"], 200)
    assert telegram.answers[update["callback_query"]["id"]] == "Acknowledged"
    ack = await ack_of(client, FP)
    assert ack is not None and ack["via"] == "telegram"
    await until(lambda: msg.history, what="the ack edit")
