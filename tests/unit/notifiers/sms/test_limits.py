"""Per-contact limits and bundling (receiver/notifiers/sms/limits.py): table, and a storm
simulated minute by minute: at most 5 texts per 15 minutes, every alert in one of them."""

from __future__ import annotations

import pytest

from receiver.notifiers.sms.limits import LIMITS, WINDOW_MS, Decision, decide
from receiver.notifiers.sms.phone import Kind

MIN = 60_000


@pytest.mark.parametrize(
    ("sent", "now", "waiting", "limit", "expect"),
    [
        ([], 0, 0, 5, None),
        ([], 0, 1, 5, Decision(0, False)),
        ([], 0, 3, 5, Decision(0, True)),
        ([1, 2, 3, 4], 10, 1, 5, Decision(10, False)),
        ([1, 2, 3, 4, 5], 10, 1, 5, Decision(1 + WINDOW_MS, True)),
        ([1, 2, 3, 4, 5], 10, 7, 5, Decision(1 + WINDOW_MS, True)),
        ([1, 2, 3, 4, 5], 1 + WINDOW_MS, 2, 5, Decision(1 + WINDOW_MS, True)),  # 1 left it
        ([5, 1, 4, 2, 3], 10, 1, 3, Decision(3 + WINDOW_MS, True)),
    ],
)
def test_decide(sent: list[int], now: int, waiting: int, limit: int,
                expect: Decision | None) -> None:  # fmt: skip
    assert decide(sent, now, waiting, limit) == expect


@pytest.mark.parametrize("kind", [Kind.SMS, Kind.VOICE])
def test_a_300_alert_storm(kind: Kind) -> None:
    limit, carried, waiting = LIMITS[kind], 0, 0
    sent: list[int] = []
    for minute in range(60):  # 5 alerts a minute for an hour
        waiting += 5
        now = minute * MIN
        d = decide(sent, now, waiting, limit)
        if d is not None and d.at_ms <= now:
            sent.append(now)
            carried, waiting = carried + waiting, 0
    if waiting:  # after the storm: the held rest goes at the next free slot
        d = decide(sent, 60 * MIN, waiting, limit)
        assert d is not None and d.bundle
        sent.append(d.at_ms)
        carried += waiting
    assert carried == 300  # every alert in one of them
    for t in sent:  # never more than the limit in any 15-minute window
        assert sum(1 for s in sent if t <= s < t + WINDOW_MS) <= limit
