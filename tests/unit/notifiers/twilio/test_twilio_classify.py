"""Twilio's answers classified (receiver/notifiers/twilio/api.py): table."""

from __future__ import annotations

import orjson
import pytest

from receiver.notifiers.base import Outcome
from receiver.notifiers.twilio.api import classify


def err(code: int, status: int) -> str:
    return orjson.dumps({"code": code, "message": "m", "status": status}).decode()


@pytest.mark.parametrize(
    ("status", "body", "headers", "outcome", "retryable"),
    [
        (201, '{"sid": "SM1"}', {}, Outcome.OK, False),
        (400, err(21211, 400), {}, Outcome.CLIENT_ERROR, False),
        (400, err(21610, 400), {}, Outcome.CLIENT_ERROR, False),
        (401, err(20003, 401), {}, Outcome.INVALID_CONFIG, False),
        (429, err(20429, 429), {"Retry-After": "3"}, Outcome.RATE_LIMITED, True),
        (400, err(20429, 400), {}, Outcome.RATE_LIMITED, True),
        (500, err(20500, 500), {}, Outcome.SERVER_ERROR, True),
        (503, "<html>down</html>", {}, Outcome.SERVER_ERROR, True),
    ],
)
def test_classify(status: int, body: str, headers: dict[str, str], outcome: Outcome,
                  retryable: bool) -> None:  # fmt: skip
    r = classify(status, headers, body, "twilio sms")
    assert (r.outcome, r.retryable) == (outcome, retryable)
    if status == 201:
        assert r.state == {"provider": "twilio", "sid": "SM1"}
    if "21211" in body:
        assert "error 21211" in r.detail
    if headers:
        assert r.retry_after_s == 3.0
