"""What to do after a failed send: pure, so the retry schedule is easy to test."""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass

from receiver.notifiers.base import DeliveryResult, Outcome


class Next(enum.StrEnum):
    DONE = "done"
    RETRY = "retry"
    DEAD = "dead"


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 20
    max_age_s: float = 24 * 3600
    base_s: float = 2.0
    cap_s: float = 600.0

    def backoff_s(self, attempt: int, rng: random.Random) -> float:
        """Exponential backoff with full jitter between half and the whole step."""
        step = min(self.cap_s, self.base_s * 2.0 ** max(0, attempt - 1))
        return step / 2 + rng.random() * step / 2

    def decide(
        self, result: DeliveryResult, attempt: int, age_s: float, rng: random.Random
    ) -> tuple[Next, float]:
        """(next step, delay in seconds). `attempt` counts the send just made (1 = first)."""
        if result.outcome == Outcome.OK:
            return Next.DONE, 0.0
        if not result.retryable or attempt >= self.max_attempts:
            return Next.DEAD, 0.0
        delay = self.backoff_s(attempt, rng)
        if result.retry_after_s is not None:
            # The vendor said when: never earlier than that.
            delay = max(delay, result.retry_after_s)
        if age_s + delay > self.max_age_s:
            return Next.DEAD, 0.0
        return Next.RETRY, delay
