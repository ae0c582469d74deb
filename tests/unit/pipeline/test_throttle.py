"""Rate parsing and the mode a job gets when over its limit."""

from __future__ import annotations

import pytest

from receiver.models import Reason, Severity
from receiver.pipeline.throttle import Mode, Rate, mode_for


@pytest.mark.parametrize(
    ("text", "burst", "interval_ms", "want_burst"),
    [
        ("1/s", None, 1000, 1),
        ("120/m", None, 500, 120),
        ("120/min", 10, 500, 10),
        ("30/min", None, 2000, 30),
        ("10/5m", None, 30_000, 10),
        ("2/h", None, 1_800_000, 2),
        ("0.5/s", None, 2000, 1),
    ],
)
def test_rate_parse(text: str, burst: int | None, interval_ms: int, want_burst: int) -> None:
    assert Rate.parse(text, burst) == Rate(interval_ms, want_burst)


@pytest.mark.parametrize("text", ["", "fast", "1/", "/s", "0/s", "-1/s", "1/fortnight"])
def test_rate_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="rate"):
        Rate.parse(text)


@pytest.mark.parametrize(
    ("severity", "reason", "mode"),
    [
        (Severity.CRITICAL, Reason.NEW, Mode.SEND),
        (Severity.CRITICAL, Reason.REPEAT, Mode.SEND),
        (Severity.WARNING, Reason.NEW, Mode.SOFT),
        (Severity.INFO, Reason.REPEAT, Mode.SOFT),
        (Severity.WARNING, Reason.RESOLVED, Mode.RESOLVE),
        (Severity.CRITICAL, Reason.RESOLVED, Mode.RESOLVE),
    ],
)
def test_mode_for(severity: Severity, reason: Reason, mode: Mode) -> None:
    assert mode_for(severity, reason) is mode
