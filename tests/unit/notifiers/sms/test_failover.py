"""receiver/delivery/failover.py: which provider a phone job goes to next (table)."""

from __future__ import annotations

import pytest

from receiver.delivery.failover import Cause, cause_of, cause_of_status, next_provider
from receiver.notifiers.base import DeliveryResult, Outcome

P = ["twilio", "vonage"]


def result(outcome: Outcome) -> DeliveryResult:
    return DeliveryResult(outcome, retryable=outcome not in (Outcome.OK, Outcome.CLIENT_ERROR))


@pytest.mark.parametrize(
    ("outcome", "cause"),
    [
        (Outcome.OK, Cause.DELIVERED),
        (Outcome.SERVER_ERROR, Cause.PROVIDER_FAULT),
        (Outcome.TIMEOUT, Cause.PROVIDER_FAULT),
        (Outcome.NETWORK_ERROR, Cause.PROVIDER_FAULT),
        (Outcome.RATE_LIMITED, Cause.PROVIDER_FAULT),
        (Outcome.INVALID_CONFIG, Cause.PROVIDER_FAULT),  # that provider's credentials
        (Outcome.CLIENT_ERROR, Cause.NUMBER_REFUSED),  # 21211: every provider would refuse
    ],
)
def test_cause_of_a_result(outcome: Outcome, cause: Cause) -> None:
    assert cause_of(result(outcome)) is cause


@pytest.mark.parametrize(
    ("status", "cause"),
    [
        ("delivered", Cause.DELIVERED),
        ("failed", Cause.PROVIDER_FAULT),
        ("undelivered", Cause.PROVIDER_FAULT),
        ("no-answer", Cause.NOT_REACHED),
        ("busy", Cause.NOT_REACHED),
        ("machine", Cause.NOT_REACHED),
        ("queued", None),
        ("ringing", None),
    ],
)
def test_cause_of_a_status(status: str, cause: Cause | None) -> None:
    assert cause_of_status(status) is cause


@pytest.mark.parametrize(
    ("tried", "cause", "nxt"),
    [
        (["twilio"], Cause.PROVIDER_FAULT, "vonage"),
        (["vonage"], Cause.PROVIDER_FAULT, "twilio"),
        (["twilio", "vonage"], Cause.PROVIDER_FAULT, None),  # all tried: retry policy
        (["twilio"], Cause.DELIVERED, None),
        (["twilio"], Cause.NUMBER_REFUSED, None),
        (["twilio"], Cause.NOT_REACHED, None),  # the person's next rule, not a fault
    ],
)
def test_next_provider(tried: list[str], cause: Cause, nxt: str | None) -> None:
    assert next_provider(P, tried, cause) == nxt
