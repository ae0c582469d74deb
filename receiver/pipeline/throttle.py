"""Per-destination rate limits: parsing, vendor defaults, and the policy an alert gets.

The limiter itself is GCRA inside the intake Lua script (store/lua/intake.lua), so the
bucket is shared by every replica and updated in the same atomic step as the decision.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from receiver.models import Reason, Severity

_RATE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(\d*)\s*(ms|s|sec|m|min|h|hour)\s*$")
_UNIT_MS = {"ms": 1, "s": 1000, "sec": 1000, "m": 60_000, "min": 60_000, "h": 3_600_000}
_UNIT_MS["hour"] = 3_600_000


@dataclass(frozen=True)
class Rate:
    """`count` events per `per_ms`, bursts of up to `burst` at once."""

    interval_ms: int
    burst: int

    @classmethod
    def parse(cls, text: str, burst: int | None = None) -> Rate:
        """'1/s', '120/m', '30/min', '10/5m' → Rate; ValueError naming the problem."""
        m = _RATE_RE.match(text)
        if not m:
            raise ValueError(f"rate {text!r} is not COUNT/UNIT like 1/s, 120/m or 10/5m")
        count, mult, unit = float(m.group(1)), int(m.group(2) or 1), m.group(3)
        if count <= 0:
            raise ValueError(f"rate {text!r} must be above zero")
        interval = max(1, round(_UNIT_MS[unit] * mult / count))
        return cls(interval, burst if burst is not None else max(1, int(count)))


class Mode(enum.StrEnum):
    """How the intake script treats a job that exceeds its destination's rate."""

    SEND = "send"  # critical: delayed to the next free slot, never dropped or folded
    SOFT = "soft"  # warning/info: to the route's digest if any, else delayed; storm-foldable
    RESOLVE = "resolve"  # a resolve always goes through on its own (delayed if need be)
    DIGEST = "digest"  # straight into a digest buffer (the route's digest destination)


def mode_for(severity: Severity, reason: Reason) -> Mode:
    if reason is Reason.RESOLVED:
        return Mode.RESOLVE
    return Mode.SEND if severity is Severity.CRITICAL else Mode.SOFT
