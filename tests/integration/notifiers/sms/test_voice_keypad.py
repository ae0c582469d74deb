"""Calls through Twilio (TwiML) and Vonage (NCCO), executed by the stand-ins: what the call
says, what pressing 1 and 3 does, forged keypad callbacks, and "not reached" statuses."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from receiver.notifiers.sms.phone import Kind
from tests.conftest import AppFactory, auth
from tests.helpers import metric, until
from tests.integration.ack.test_ack_api import body
from tests.integration.notifiers.sms.common import ALICE, PUBLIC, phone_config, twilio, vonage
from tests.integration.notifiers.sms.test_sms_reply_ack import ack_state, acked_by, page
from tests.servers.pagerduty import FakePagerDuty
from tests.servers.twilio import FakeTwilio
from tests.servers.vonage import FakeVonage

__all__ = ["twilio", "vonage"]


async def setup(app_client: AppFactory, pd: FakePagerDuty, twilio: FakeTwilio,
                vonage: FakeVonage) -> Any:  # fmt: skip
    client = await app_client(**phone_config(pd, twilio, vonage))
    twilio.reaches(PUBLIC, str(client.make_url("")))
    vonage.reaches(PUBLIC, str(client.make_url("")))
    assert (await client.post("/webhook", json=body(), headers=auth())).status == 200
    await until(lambda: [e["event_action"] for e in pd.events] == ["trigger"])
    return client


async def test_twilio_call_says_the_alert_and_pressing_1_acks_via_voice(
    app_client: AppFactory, redis: aioredis.Redis, pd: FakePagerDuty, twilio: FakeTwilio,
    vonage: FakeVonage,
) -> None:  # fmt: skip
    client = await setup(app_client, pd, twilio, vonage)
    result, _ = await page(client, redis, "twilio", Kind.VOICE)
    assert result.ok, result.detail
    assert len(twilio.calls) == 1 and not twilio.sms
    call = twilio.calls[0]
    assert call.to == ALICE and call.machine_detection == "Enable"
    assert call.said[0].startswith("Alert. CRITICAL ") and "Press 1 to acknowledge" in call.said[0]
    assert call.status_callback.startswith(f"{PUBLIC}/voice/twilio/status?")
    before = await ack_state(redis)
    # 3 repeats the alert; 7 says the menu again; neither changes anything.
    status, _ = await twilio.press(call, "3")
    assert status == 200 and call.said[-1].startswith("Alert. CRITICAL ")
    status, _ = await twilio.press(call, "7")
    assert status == 200 and "Please press 1" in call.said[-1]
    assert await ack_state(redis) == before
    # A forged signature, or a genuine signature over a URL whose alert fields were
    # changed (no valid MAC), changes nothing.
    assert (await twilio.press(call, "1", signature="AAAA"))[0] == 401
    forged = f"{PUBLIC}/voice/twilio?fp=0f3ef813eb86bd39&ep=x&person=alice&sig=00"
    assert (await twilio.press(call, "1", url=forged))[0] == 403
    assert await ack_state(redis) == before
    status, _ = await twilio.press(call, "1")
    assert status == 200 and call.said[-1] == "Acknowledged. Goodbye."
    ack = await acked_by(client)
    assert ack is not None and (ack["by"], ack["via"]) == ("alice", "voice")
    await until(lambda: [e["event_action"] for e in pd.events] == ["trigger", "acknowledge"])
    after = await ack_state(redis)
    status, _ = await twilio.press(call, "1")  # the same press again: nothing changes
    assert status == 200 and call.said[-1] == "It was acknowledged already. Goodbye."
    assert await ack_state(redis) == after


async def test_call_not_answered_or_voicemail_is_not_reached_and_counted(
    app_client: AppFactory, redis: aioredis.Redis, pd: FakePagerDuty, twilio: FakeTwilio,
    vonage: FakeVonage,
) -> None:  # fmt: skip
    client = await setup(app_client, pd, twilio, vonage)
    await page(client, redis, "twilio", Kind.VOICE)
    await page(client, redis, "twilio", Kind.VOICE)
    before = await ack_state(redis)
    assert await twilio.call_status(twilio.calls[0], "no-answer") == 204
    assert await twilio.call_status(twilio.calls[1], "completed", "machine_end_beep") == 204
    assert await ack_state(redis) == before
    text = await (await client.get("/metrics")).text()
    for status in ("no-answer", "machine"):
        assert metric(text, "alert_receiver_phone_delivery_status_total", receiver="twilio",
                      status=status) == 1  # fmt: skip


async def test_vonage_call_executes_the_ncco_and_pressing_1_acks_via_voice(
    app_client: AppFactory, redis: aioredis.Redis, pd: FakePagerDuty, twilio: FakeTwilio,
    vonage: FakeVonage,
) -> None:  # fmt: skip
    client = await setup(app_client, pd, twilio, vonage)
    result, _ = await page(client, redis, "vonage", Kind.VOICE)
    assert result.ok, result.detail
    call = vonage.calls[0]
    assert call.to == ALICE[1:] and call.said[0].startswith("Alert. CRITICAL ")
    before = await ack_state(redis)
    assert (await vonage.press(call, "1", authorization="Bearer a.b.c"))[0] == 401
    assert await ack_state(redis) == before
    status, _ = await vonage.press(call, "")  # the input timed out: goodbye, no loop
    assert status == 200 and call.said[-1] == "No input. Goodbye."
    status, _ = await vonage.press(call, "3")
    assert status == 200 and call.said[-1].startswith("Alert. CRITICAL ")
    status, _ = await vonage.press(call, "1")
    assert status == 200 and call.said[-1] == "Acknowledged. Goodbye."
    ack = await acked_by(client)
    assert ack is not None and (ack["by"], ack["via"]) == ("alice", "voice")
    assert await vonage.call_event(call, "completed") == 204
