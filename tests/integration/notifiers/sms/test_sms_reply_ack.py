"""Texts through Twilio and Vonage, acknowledged by replying the code: what arrived where,
what the alert's record says, what PagerDuty heard; and every bad reply refused with no
change (forged, other number, old episode, unknown code, replayed)."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient

from receiver.api.state import SERVICES, STATE
from receiver.models import Notification, PersonPage, Reason
from receiver.notifiers.base import DeliveryResult
from receiver.notifiers.registry import build_notifier
from receiver.notifiers.render import Renderer
from receiver.notifiers.sms.codes import ReplyCodes
from receiver.notifiers.sms.phone import Kind, recipient
from receiver.store.keys import Keys
from tests.conftest import AppFactory, auth
from tests.helpers import metric, until
from tests.integration.ack.test_ack_api import FP, STARTS, body
from tests.integration.notifiers.sms.common import (
    ALICE,
    BOB,
    PUBLIC,
    phone_config,
    twilio,
    vonage,
)
from tests.servers import fixture_alerts
from tests.servers.pagerduty import FakePagerDuty
from tests.servers.twilio import FakeTwilio
from tests.servers.vonage import FakeVonage

__all__ = ["twilio", "vonage"]
OLD = "2026-11-22T04:00:00Z"


async def page(client: TestClient[Any, Any], redis: aioredis.Redis, dest: str,
               kind: Kind = Kind.SMS, phone: str = ALICE,
               episode: str = STARTS) -> tuple[DeliveryResult, str]:  # fmt: skip
    """What a `via: sms|voice` rule does for alice: a code for the episode, one job sent
    through `dest`'s notifier. (result, code)"""
    code = await ReplyCodes(redis, Keys()).issue(phone, "alice", [(FP, episode)])
    alert = fixture_alerts("critical-group-firing")[0].model_copy(update={"startsAt": STARTS})
    n = Notification(key=f"{FP}/{dest}/person/{STARTS}/alice/0", destination=dest,
                     reason=Reason.ESCALATED, alert=alert, route="person:alice",
                     recipients=[recipient(kind, phone, code if kind is Kind.SMS else "")],
                     person=PersonPage(name="alice"))  # fmt: skip
    cfg = app_of(client)[STATE].settings.receivers[dest]
    async with aiohttp.ClientSession() as s:
        return await build_notifier(dest, cfg, s, Renderer()).send(n, {}), code


def app_of(client: TestClient[Any, Any]) -> web.Application:
    app = client.app
    assert isinstance(app, web.Application)
    return app


async def ack_state(redis: aioredis.Redis) -> tuple[Any, ...]:
    a = await redis.hgetall(f"{{ar}}:alert:{FP}")
    return a.get("ack"), await redis.lrange(f"{{ar}}:hist:{FP}", 0, -1)


async def acked_by(client: TestClient[Any, Any]) -> dict[str, Any] | None:
    """The ack on the alert's record (what every reader shows)."""
    raw = await app_of(client)[SERVICES].redis.hget(f"{{ar}}:alert:{FP}", "ack")
    return orjson.loads(raw) if raw else None


async def test_twilio_text_reply_acks_as_alice_via_sms_and_pagerduty_hears(
    app_client: AppFactory, redis: aioredis.Redis, pd: FakePagerDuty, twilio: FakeTwilio,
    vonage: FakeVonage,
) -> None:  # fmt: skip
    client = await app_client(**phone_config(pd, twilio, vonage))
    twilio.reaches(PUBLIC, str(client.make_url("")))
    vonage.reaches(PUBLIC, str(client.make_url("")))
    assert (await client.post("/webhook", json=body(), headers=auth())).status == 200
    await until(lambda: [e["event_action"] for e in pd.events] == ["trigger"])
    result, code = await page(client, redis, "twilio")
    assert result.ok, result.detail
    assert len(twilio.sms) == 1
    sms = twilio.sms[0]
    assert sms.to == ALICE and f"AR-{code} CRITICAL" in sms.body
    assert sms.body.endswith(f"Reply {code} to acknowledge.")
    assert sms.status_callback == f"{PUBLIC}/sms/twilio/status"
    status, answer = await twilio.reply(f"{PUBLIC}/sms/twilio", ALICE, code)
    assert status == 200 and "<Message>alert-receiver: acknowledged.</Message>" in answer
    ack = await acked_by(client)
    assert ack is not None and (ack["by"], ack["via"]) == ("alice", "sms")
    await until(lambda: [e["event_action"] for e in pd.events] == ["trigger", "acknowledge"])
    # The delivery status callback is verified and counted.
    assert await twilio.sms_status(sms, "delivered") == 204
    text = await (await client.get("/metrics")).text()
    assert metric(text, "alert_receiver_phone_delivery_status_total", receiver="twilio",
                  status="delivered") == 1  # fmt: skip
    assert metric(text, "alert_receiver_phone_callbacks_total", receiver="twilio",
                  outcome="text_acked") == 1  # fmt: skip


async def test_bad_replies_are_refused_or_answered_and_change_nothing(
    app_client: AppFactory, redis: aioredis.Redis, pd: FakePagerDuty, twilio: FakeTwilio,
    vonage: FakeVonage,
) -> None:  # fmt: skip
    client = await app_client(**phone_config(pd, twilio, vonage))
    twilio.reaches(PUBLIC, str(client.make_url("")))
    vonage.reaches(PUBLIC, str(client.make_url("")))
    assert (await client.post("/webhook", json=body(), headers=auth())).status == 200
    url = signed_as = f"{PUBLIC}/sms/twilio"
    _, code = await page(client, redis, "twilio")
    _, old = await page(client, redis, "twilio", episode=OLD)
    _, bobs = await page(client, redis, "twilio", phone=BOB)
    before = await ack_state(redis)
    cases: list[tuple[str, dict[str, Any], int, str]] = [
        ("forged signature", {"from_": ALICE, "body": code, "signature": "AAAA"}, 401, ""),
        (
            "signed for another URL",
            {"from_": ALICE, "body": code, "public_url": f"{PUBLIC}/sms/other"},
            401,
            "",
        ),
        ("another account", {"from_": ALICE, "body": code, "signature": None}, 401, ""),
        ("another number", {"from_": BOB, "body": code}, 200, "is no reply code sent"),
        ("bob's code from alice", {"from_": ALICE, "body": bobs}, 200, "is no reply code"),
        ("old episode", {"from_": ALICE, "body": old}, 200, "fired again since"),
        ("unknown code", {"from_": ALICE, "body": "9999"}, 200, "is no reply code"),
        ("no code at all", {"from_": ALICE, "body": "on it"}, 200, "reply with the code"),
        ("help", {"from_": ALICE, "body": "HELP"}, 200, ""),  # Twilio answers HELP itself
    ]
    for name, kw, status, said in cases:
        if name == "another account":
            kw = {**kw}
            del kw["signature"]
            twilio.account_sid, real = "AC" + "1" * 32, twilio.account_sid
            got = await twilio.reply(url, public_url=signed_as, **kw)
            twilio.account_sid = real
        else:
            got = await twilio.reply(url, **{"public_url": signed_as, **kw})
        assert got[0] == status, (name, got)
        assert said in got[1], (name, got)
        assert await ack_state(redis) == before, name
    # The good reply acks once; the same callback again (a replay) changes nothing.
    got = await twilio.reply(url, ALICE, code, sid="SM" + "7" * 32, public_url=signed_as)
    assert got[0] == 200 and "acknowledged" in got[1]
    after = await ack_state(redis)
    assert after != before
    got = await twilio.reply(url, ALICE, code, sid="SM" + "7" * 32, public_url=signed_as)
    assert got == (200, '<?xml version="1.0" encoding="UTF-8"?><Response />')
    assert await ack_state(redis) == after
    text = await (await client.get("/metrics")).text()
    assert metric(text, "alert_receiver_phone_callbacks_total", receiver="twilio",
                  outcome="forged") == 3  # fmt: skip
    assert metric(text, "alert_receiver_phone_callbacks_total", receiver="twilio",
                  outcome="replayed") == 1  # fmt: skip


async def test_vonage_text_reply_acks_and_the_answer_is_texted_back(
    app_client: AppFactory, redis: aioredis.Redis, pd: FakePagerDuty, twilio: FakeTwilio,
    vonage: FakeVonage,
) -> None:  # fmt: skip
    client = await app_client(**phone_config(pd, twilio, vonage))
    twilio.reaches(PUBLIC, str(client.make_url("")))
    vonage.reaches(PUBLIC, str(client.make_url("")))
    assert (await client.post("/webhook", json=body(), headers=auth())).status == 200
    result, code = await page(client, redis, "vonage")
    assert result.ok, result.detail
    assert [(s.to, s.from_) for s in vonage.sms] == [(ALICE[1:], "447700900000")]
    assert f"Reply {code} to acknowledge." in vonage.sms[0].text
    url = f"{PUBLIC}/sms/vonage"
    before = await ack_state(redis)
    # Forged (another secret), and a body changed under a genuine signature: refused.
    assert (await vonage.reply(url, ALICE, code, authorization="Bearer x.y.z"))[0] == 401
    from tests.servers.vonage import signed

    stolen = signed(vonage.signature_secret, b"{}")
    assert (await vonage.reply(url, ALICE, code, authorization=stolen))[0] == 401
    assert await ack_state(redis) == before and len(vonage.sms) == 1
    status, _ = await vonage.reply(url, ALICE, code, message_uuid="m-1")
    assert status == 200
    ack = await acked_by(client)
    assert ack is not None and (ack["by"], ack["via"]) == ("alice", "sms")
    # The answer went back to alice as a text through the Messages API.
    assert len(vonage.sms) == 2 and vonage.sms[1].to == ALICE[1:]
    assert vonage.sms[1].text == "alert-receiver: acknowledged."
    after = await ack_state(redis)
    assert (await vonage.reply(url, ALICE, code, message_uuid="m-1"))[0] == 200  # replay
    assert await ack_state(redis) == after and len(vonage.sms) == 2


async def test_stop_stops_texting_that_number_start_resumes(
    app_client: AppFactory, redis: aioredis.Redis, pd: FakePagerDuty, twilio: FakeTwilio,
    vonage: FakeVonage,
) -> None:  # fmt: skip
    client = await app_client(**phone_config(pd, twilio, vonage))
    twilio.reaches(PUBLIC, str(client.make_url("")))
    vonage.reaches(PUBLIC, str(client.make_url("")))
    url = signed_as = f"{PUBLIC}/sms/twilio"
    codes = ReplyCodes(redis, Keys())
    assert (await twilio.reply(url, ALICE, "STOP", public_url=signed_as))[0] == 200
    assert await codes.stopped(ALICE) and not await codes.stopped(BOB)
    assert await codes.all_stopped() == {ALICE}
    assert (await twilio.reply(url, ALICE, "start", public_url=signed_as))[0] == 200
    assert not await codes.stopped(ALICE)
