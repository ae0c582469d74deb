"""Discord's rate limits, decided purely from what its answers say.

https://discord.com/developers/docs/topics/rate-limits: every answer carries
`X-RateLimit-Remaining` and `X-RateLimit-Reset-After` (seconds, with decimals) for the
route's bucket; a 429 carries `Retry-After` and a JSON body with `retry_after` (seconds,
float) and `global`, and `X-RateLimit-Global: true` when the global limit was hit. A
client is to wait that long before its next request to the bucket: `Bucket` remembers
until when (per webhook, in this process; another replica learns it from its own answers).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from receiver.notifiers.base import parse_retry_after


def _seconds(value: Any) -> float | None:
    try:
        s = float(value)
    except (TypeError, ValueError):
        return None
    return s if s >= 0 and s == s and s != float("inf") else None


def is_global(headers: Mapping[str, str], data: Any) -> bool:
    """Whether a 429 is Discord's global limit (header or body say so)."""
    header = headers.get("X-RateLimit-Global", "").strip().lower() == "true"
    return header or (isinstance(data, dict) and data.get("global") is True)


def retry_after(headers: Mapping[str, str], data: Any) -> float | None:
    """Seconds a 429 asks to wait: the longest of the body's `retry_after`, `Retry-After`
    and the bucket's `X-RateLimit-Reset-After` (None when none is given)."""
    body = _seconds(data.get("retry_after")) if isinstance(data, dict) else None
    hints = [
        body,
        parse_retry_after(headers.get("Retry-After")),
        _seconds(headers.get("X-RateLimit-Reset-After")),
    ]
    given = [h for h in hints if h is not None]
    return max(given) if given else None


def wait_after(status: int, headers: Mapping[str, str], data: Any) -> float:
    """Seconds before the next request may go out, from one answer: the 429's hint, or
    the bucket's reset when it has no request left; 0 when the bucket has room."""
    if status == 429:
        hint = retry_after(headers, data)
        return 1.0 if hint is None else hint  # a 429 without a hint: wait a little
    if headers.get("X-RateLimit-Remaining", "").strip() == "0":
        return _seconds(headers.get("X-RateLimit-Reset-After")) or 0.0
    return 0.0


@dataclass
class Bucket:
    """Until when (on the notifier's monotonic clock) no request may go out."""

    not_before: float = 0.0

    def note(self, now: float, wait: float) -> None:
        self.not_before = max(self.not_before, now + wait)

    def wait(self, now: float) -> float:
        return max(0.0, self.not_before - now)
