"""The retry decision after a send: pure table."""

from __future__ import annotations

import random

import pytest

from receiver.delivery.policy import Next, RetryPolicy
from receiver.notifiers.base import DeliveryResult, Outcome

P = RetryPolicy(max_attempts=5, max_age_s=3600, base_s=2, cap_s=60)
OK = DeliveryResult(Outcome.OK, False)
E500 = DeliveryResult(Outcome.SERVER_ERROR, True)
E429 = DeliveryResult(Outcome.RATE_LIMITED, True, retry_after_s=30)
E400 = DeliveryResult(Outcome.CLIENT_ERROR, False)


@pytest.mark.parametrize(
    ("result", "attempt", "age", "step"),
    [
        (OK, 1, 0, Next.DONE),
        (E500, 1, 0, Next.RETRY),
        (E500, 4, 0, Next.RETRY),
        (E500, 5, 0, Next.DEAD),  # attempts exhausted
        (E500, 1, 3599, Next.DEAD),  # the next try would be past the age limit
        (E400, 1, 0, Next.DEAD),  # permanent: straight to dead letters
        (E429, 1, 0, Next.RETRY),
    ],
)
def test_decide(result: DeliveryResult, attempt: int, age: float, step: Next) -> None:
    assert P.decide(result, attempt, age, random.Random(1))[0] is step


def test_backoff_grows_with_jitter_and_cap() -> None:
    rng = random.Random(7)
    delays = [P.backoff_s(a, rng) for a in range(1, 10)]
    assert 1 <= delays[0] <= 2
    assert 4 <= delays[2] <= 8
    assert all(30 <= d <= 60 for d in delays[5:])  # capped


def test_retry_after_is_honoured() -> None:
    step, delay = P.decide(E429, 1, 0, random.Random(1))
    assert step is Next.RETRY and delay >= 30
