"""next_escalation_step: a table of ladder states and what comes next."""

from __future__ import annotations

import pytest

from receiver.escalation.config import EscalationPolicy
from receiver.escalation.ladder import (
    Decision,
    Fire,
    LadderState,
    Stop,
    Wait,
    due_at,
    next_escalation_step,
)

S = 1000
T0 = 1_700_000_000_000
SOP = EscalationPolicy.model_validate({"steps": [
    {"after": "0m", "receivers": ["primary"]}, {"after": "5m", "receivers": ["secondary"]},
    {"after": "15m", "receivers": ["manager"]}, {"after": "30m", "receivers": ["director"]},
]})  # fmt: skip
ROUNDS = EscalationPolicy.model_validate(
    {"steps": [{"after": "0m", "receivers": ["a"]}, {"after": "10m", "receivers": ["b"]}],
     "repeat": 1, "repeat_every": "30m"}
)  # fmt: skip

TABLE: list[tuple[str, EscalationPolicy, LadderState, int, Decision]] = [
    ("first step at once", SOP, LadderState(T0, 0), T0, Fire(0, 1, 0, T0)),
    ("second not yet due", SOP, LadderState(T0, 1), T0 + 299 * S, Wait(T0 + 300 * S)),
    ("second due, inclusive", SOP, LadderState(T0, 1), T0 + 300 * S, Fire(1, 2, 0, T0 + 300 * S)),
    ("overdue steps one by one", SOP, LadderState(T0, 1), T0 + 3600 * S,
     Fire(1, 2, 0, T0 + 300 * S)),
    ("last fired: done", SOP, LadderState(T0, 4), T0 + 3600 * S, Stop("done")),
    ("acked until resolved", SOP, LadderState(T0, 1, ack_until_ms=0), T0 + 900 * S, Stop("acked")),
    ("acked with expiry: wait for it", SOP, LadderState(T0, 1, ack_until_ms=T0 + 600 * S),
     T0 + 400 * S, Wait(T0 + 600 * S)),
    ("ack expired: resume where it was", SOP, LadderState(T0, 1, ack_until_ms=T0 + 600 * S),
     T0 + 600 * S, Fire(1, 2, 0, T0 + 300 * S)),
    ("resolved", SOP, LadderState(T0, 2, firing=False), T0 + 900 * S, Stop("resolved")),
    ("ended stays ended", SOP, LadderState(T0, 2, ended="acked"), T0 + 900 * S, Stop("acked")),
    ("second round starts", ROUNDS, LadderState(T0, 2), T0 + 1800 * S,
     Fire(2, 1, 1, T0 + 1800 * S)),
    ("second round's second step", ROUNDS, LadderState(T0, 3), T0 + 2399 * S,
     Wait(T0 + 2400 * S)),
    ("rounds done", ROUNDS, LadderState(T0, 4), T0 + 9999 * S, Stop("done")),
]  # fmt: skip


@pytest.mark.parametrize(("case", "policy", "state", "now", "want"), TABLE,
                         ids=[t[0] for t in TABLE])  # fmt: skip
def test_next_escalation_step(
    case: str, policy: EscalationPolicy, state: LadderState, now: int, want: Decision
) -> None:
    assert next_escalation_step(policy, state, now) == want


def test_due_times_follow_the_sop() -> None:
    assert [(due_at(SOP, i, T0) - T0) // 60_000 for i in range(4)] == [0, 5, 15, 30]
    assert [(due_at(ROUNDS, i, T0) - T0) // 60_000 for i in range(4)] == [0, 10, 30, 40]


FIVE = {"after": "5m", "receivers": ["a"]}


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ({"steps": []}, "at least one step"),
        ({"steps": [{"after": "5m"}]}, "a step notifies someone"),
        ({"steps": [FIVE, {"after": "1m", "receivers": ["b"]}]}, "in order of `after`"),
        ({"steps": [FIVE], "repeat": 1}, "repeat needs repeat_every"),
        ({"steps": [FIVE], "repeat": 1, "repeat_every": "5m"},
         "longer than the last step"),
        ({"steps": [FIVE], "repeat_every": "1h"},
         "repeat_every without repeat"),
    ],
)  # fmt: skip
def test_policy_refusals(policy: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EscalationPolicy.model_validate(policy)
