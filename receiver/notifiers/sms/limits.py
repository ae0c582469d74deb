"""Per-contact limits and bundling (GoAlert's: 5 texts and 3 calls per 15 minutes per
contact); pure. Nothing is dropped: beyond the limit the alerts waiting for a person are
held and go out together, as one bundle ("3 alerts: … Reply 77 to acknowledge all"), as
soon as the window has room again.

The caller keeps the alerts waiting for each contact and the times of what went out;
this decides when the next message goes and whether it is a bundle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from receiver.notifiers.sms.phone import Kind

WINDOW_MS = 15 * 60 * 1000
LIMITS = {Kind.SMS: 5, Kind.VOICE: 3}


@dataclass(frozen=True)
class Decision:
    """Send now (`at_ms` == now) or hold until `at_ms`; `bundle`: all waiting alerts in
    one message (more than one waits)."""

    at_ms: int
    bundle: bool


def decide(sent_ms: Sequence[int], now_ms: int, waiting: int, limit: int,
           window_ms: int = WINDOW_MS) -> Decision | None:  # fmt: skip
    """When the `waiting` alerts for one contact go out, given when the messages of the
    window went (any order). None: nothing waits."""
    if waiting <= 0:
        return None
    recent = sorted(t for t in sent_ms if t > now_ms - window_ms)
    if len(recent) < limit:
        return Decision(now_ms, waiting > 1)
    # Full: the next slot opens when the oldest message of the last `limit` leaves it.
    return Decision(recent[-limit] + window_ms, True)
