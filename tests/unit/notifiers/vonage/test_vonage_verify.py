"""Vonage signed webhooks and answers (receiver/notifiers/vonage): table."""

from __future__ import annotations

import orjson
import pytest

from receiver.notifiers.base import Outcome
from receiver.notifiers.vonage.api import classify
from receiver.notifiers.vonage.verify import sign, valid
from tests.servers.vonage import signed

SECRET = "vonage-signature-secret-0123456789abcdef"
BODY = b'{"message_uuid": "m1", "from": "4915112345678", "text": "4821"}'
NOW = 1_765_000_000.0


def test_a_signed_webhook_verifies_and_any_change_is_refused() -> None:
    good = sign(SECRET, BODY, NOW)
    assert valid(SECRET, good, BODY, NOW + 10)
    assert valid(SECRET, signed(SECRET, BODY, NOW), BODY, NOW)  # the stand-in's own
    assert not valid(SECRET, good, BODY.replace(b"4821", b"4822"), NOW)  # body changed
    assert not valid("another-secret-0123456789abcdef0123", good, BODY, NOW)
    assert not valid(SECRET, good, BODY, NOW + 3600)  # too old: a replay
    assert not valid(SECRET, good.replace("Bearer ", "Basic "), BODY, NOW)
    assert not valid(SECRET, "", BODY, NOW)
    assert not valid(SECRET, "Bearer not.a.jwt", BODY, NOW)
    assert not valid("", good, BODY, NOW)


@pytest.mark.parametrize(
    ("status", "outcome", "retryable"),
    [
        (202, Outcome.OK, False),
        (401, Outcome.INVALID_CONFIG, False),
        (422, Outcome.CLIENT_ERROR, False),
        (429, Outcome.RATE_LIMITED, True),
        (500, Outcome.SERVER_ERROR, True),
    ],
)
def test_classify(status: int, outcome: Outcome, retryable: bool) -> None:
    body = (orjson.dumps({"message_uuid": "u1"}) if status == 202 else
            orjson.dumps({"title": "Invalid params", "detail": "bad to"})).decode()  # fmt: skip
    r = classify(status, {}, body, "vonage sms")
    assert (r.outcome, r.retryable) == (outcome, retryable)
    if status == 202:
        assert r.state["sid"] == "u1"
    else:
        assert "Invalid params" in r.detail
