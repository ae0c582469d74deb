"""The Twilio and Vonage notifiers against their stand-ins: what arrives, and how each
refusal is classified (invalid number, bad credentials, 5xx, 429, not a phone job)."""

from __future__ import annotations

from typing import Any

import aiohttp
from pydantic import TypeAdapter

from receiver.models import PersonPage
from receiver.notifiers.base import DeliveryResult, Outcome
from receiver.notifiers.registry import ChannelConfig, build_notifier
from receiver.notifiers.render import Renderer
from receiver.notifiers.sms.phone import Kind, recipient
from tests.integration.notifiers.sms.common import (
    ALICE,
    PRIVATE_PEM,
    PUBLIC,
    TWILIO_NUMBER,
    VONAGE_NUMBER,
    twilio,
    vonage,
)
from tests.servers import fixture_alerts, notification, resolved
from tests.servers.twilio import FakeTwilio
from tests.servers.vonage import APP_ID, SIGNATURE_SECRET, FakeVonage

__all__ = ["twilio", "vonage"]
ADAPTER: TypeAdapter[Any] = TypeAdapter(ChannelConfig)
ALERT = fixture_alerts("critical-group-firing")[0]


async def send(doc: dict[str, Any], kind: Kind = Kind.SMS, phone: str = ALICE,
               **kw: Any) -> DeliveryResult:  # fmt: skip
    cfg = ADAPTER.validate_python(doc)
    alert = kw.pop("alert", ALERT)
    n = notification(alert, destination=cfg.type, person=PersonPage(name="alice"),
                     recipients=kw.pop("recipients", [recipient(kind, phone, "4821")]))  # fmt: skip
    async with aiohttp.ClientSession() as s:
        return await build_notifier(cfg.type, cfg, s, Renderer()).send(n, {})


def twilio_doc(t: FakeTwilio, **kw: Any) -> dict[str, Any]:
    return {
        "type": "twilio",
        "account_sid": t.account_sid,
        "auth_token": t.auth_token,
        "number": TWILIO_NUMBER,
        "api_url": t.base_url,
        "public_url": PUBLIC,
        **kw,
    }


def vonage_doc(v: FakeVonage, **kw: Any) -> dict[str, Any]:
    return {
        "type": "vonage",
        "application_id": APP_ID,
        "private_key": PRIVATE_PEM,
        "signature_secret": SIGNATURE_SECRET,
        "number": VONAGE_NUMBER,
        "api_url": v.base_url,
        "public_url": PUBLIC,
        **kw,
    }


async def test_twilio_answers_classified(twilio: FakeTwilio) -> None:
    ok = await send(twilio_doc(twilio))
    assert ok.ok and ok.state["provider"] == "twilio" and ok.state["sid"] == twilio.sms[0].sid
    # A job without a phone recipient (a route naming the receiver) is refused at once.
    bad = await send(twilio_doc(twilio), recipients=["sms:+12"])
    assert bad.outcome is Outcome.INVALID_CONFIG  # not a phone job at all
    twilio.numbers = ("+15005550001",)  # our From is not the account's: 21606
    refused = await send(twilio_doc(twilio))
    assert (refused.outcome, refused.retryable) == (Outcome.CLIENT_ERROR, False)
    assert "error 21606" in refused.detail
    twilio.numbers = (TWILIO_NUMBER,)
    wrong = await send(twilio_doc(twilio, auth_token="wrong"))
    assert wrong.outcome is Outcome.INVALID_CONFIG and "20003" in wrong.detail
    twilio.fail_next(1, 500)
    down = await send(twilio_doc(twilio))
    assert (down.outcome, down.retryable) == (Outcome.SERVER_ERROR, True)
    twilio.fail_next(1, 429)
    slow = await send(twilio_doc(twilio))
    assert (slow.outcome, slow.retryable) == (Outcome.RATE_LIMITED, True)
    assert len(twilio.sms) == 1  # only the first was accepted
    # A resolve is texted, never called.
    gone = resolved(ALERT)
    assert (await send(twilio_doc(twilio), alert=gone)).ok
    assert twilio.sms[-1].body.startswith("RESOLVED ")
    assert (await send(twilio_doc(twilio), Kind.VOICE, alert=gone)).ok and not twilio.calls


async def test_vonage_answers_classified(vonage: FakeVonage) -> None:
    ok = await send(vonage_doc(vonage))
    assert ok.ok and vonage.sms[0].to == ALICE[1:] and "Reply 4821" in vonage.sms[0].text
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()  # fmt: skip
    wrong = await send(vonage_doc(vonage, private_key=other))
    assert wrong.outcome is Outcome.INVALID_CONFIG
    vonage.fail_next(1, 503)
    down = await send(vonage_doc(vonage))
    assert (down.outcome, down.retryable) == (Outcome.SERVER_ERROR, True)
    assert len(vonage.sms) == 1
    call = await send(vonage_doc(vonage), Kind.VOICE)
    assert call.ok and vonage.calls[0].event_url.startswith(f"{PUBLIC}/voice/vonage?fp=")
