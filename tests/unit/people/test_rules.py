"""next_rule, table-tested: fire in order at each rule's `after`, wait, stop at the ack."""

from __future__ import annotations

import pytest

from receiver.people.config import Rule, Via
from receiver.people.rules import WATCH_FOR_MS, WATCH_MS, ChainState, Fire, Stop, Wait, next_rule

RULES = [Rule(after=0, via=Via.PUSH), Rule(after=30, via=Via.EMAIL)]
T0 = 1_000_000


@pytest.mark.parametrize(
    ("state", "now", "expected"),
    [
        (ChainState(T0, 0), T0, Fire(0, RULES[0], T0)),
        (ChainState(T0, 1), T0 + 29_999, Wait(T0 + 30_000)),
        (ChainState(T0, 1), T0 + 30_000, Fire(1, RULES[1], T0 + 30_000)),
        (ChainState(T0, 1), T0 + 90_000, Fire(1, RULES[1], T0 + 30_000)),  # overdue: fires
        (ChainState(T0, 1, ack_until_ms=0), T0 + 30_000, Stop("acked")),
        (ChainState(T0, 1, ack_until_ms=T0 + 60_000), T0 + 30_000, Wait(T0 + 60_000)),
        (ChainState(T0, 1, ack_until_ms=T0 + 20_000), T0 + 30_000, Fire(1, RULES[1], T0 + 30_000)),
        (ChainState(T0, 1, firing=False), T0 + 30_000, Stop("resolved")),
        (ChainState(T0, 0, ended="acked"), T0, Stop("acked")),
        (ChainState(T0, 2), T0 + 31_000, Wait(T0 + 31_000 + WATCH_MS)),  # watching for the ack
        (ChainState(T0, 2), T0 + WATCH_FOR_MS - 1, Wait(T0 + WATCH_FOR_MS)),
        (ChainState(T0, 2), T0 + WATCH_FOR_MS, Stop("done")),
        (ChainState(T0, 2, ack_until_ms=0), T0 + 31_000, Stop("acked")),
    ],
)
def test_next_rule(state: ChainState, now: int, expected: object) -> None:
    assert next_rule(RULES, state, now) == expected
