"""What an escalation step says and whom it names: the step text (escalation_line) and
plan_step, who a step pages. Receivers are not people; members are named with their
rotation, addresses given directly by address."""

from __future__ import annotations

import pytest

from receiver.escalation.config import EscalationPolicy
from receiver.escalation.ladder import StepPlan, plan_step
from receiver.models import EscalationInfo, Reason
from receiver.notifiers.render import escalation_line
from receiver.oncall.config import Member
from tests.servers import fixture_alerts, notification

ALERT = fixture_alerts("critical-group-firing")[0]
MIN = 60_000


def info(level: int, unanswered: list[str], after_ms: int) -> EscalationInfo:
    return EscalationInfo(policy="crit", level=level, levels=3, unanswered=unanswered,
                          since_ms=1_000, after_ms=after_ms)  # fmt: skip


@pytest.mark.parametrize(
    ("e", "want"),
    [
        (None, ""),
        (info(1, [], 0), "Escalation level 1 of 3 (crit)"),
        (info(2, ["alice (primary)"], 5 * MIN),
         "Escalation level 2 of 3 (crit): not acknowledged by alice (primary) after 5m"),
        (info(3, ["alice (primary)", "bob (secondary)", "eng-manager@example.com"], 90 * MIN),
         "Escalation level 3 of 3 (crit): not acknowledged by alice (primary), "
         "bob (secondary), eng-manager@example.com after 1h30m"),
        # earlier steps paged receivers only: nobody to name, the wait still said
        (info(2, [], 5 * MIN), "Escalation level 2 of 3 (crit): not acknowledged after 5m"),
        # a job queued before after_ms existed
        (info(2, ["alice (primary)"], 0),
         "Escalation level 2 of 3 (crit): not acknowledged by alice (primary)"),
    ],
)  # fmt: skip
def test_escalation_line(e: EscalationInfo | None, want: str) -> None:
    n = notification(ALERT, Reason.ESCALATED if e else None, escalation=e)
    assert escalation_line(n) == want


ALICE = Member(name="alice", email="alice@example.com")
BOB = Member(name="bob", email="bob@example.com", receiver="bob-pager")
POLICY = EscalationPolicy.model_validate({"email_receiver": "mail", "steps": [
    {"after": "0m", "receivers": ["pd", "slack"], "rotations": ["primary"]},
    {"after": "5m", "rotations": ["secondary", "nobody"], "emails": ["boss@example.com"]},
]})  # fmt: skip


@pytest.mark.parametrize(
    ("level", "on_call", "want"),
    [
        (0, {"primary": ALICE},
         StepPlan(dests=[("pd", ()), ("slack", ()), ("mail", ("alice@example.com",))],
                  to=["pd", "slack", "alice (primary)"], people=["alice (primary)"])),
        (0, {"primary": None},
         StepPlan(dests=[("pd", ()), ("slack", ())], to=["pd", "slack"], people=[])),
        (1, {"secondary": BOB, "nobody": None},
         StepPlan(dests=[("bob-pager", ()), ("mail", ("boss@example.com",))],
                  to=["bob (secondary)", "boss@example.com"],
                  people=["bob (secondary)", "boss@example.com"])),
    ],
)  # fmt: skip
def test_plan_step_names_people_not_receivers(
    level: int, on_call: dict[str, Member | None], want: StepPlan
) -> None:
    assert plan_step(POLICY, POLICY.steps[level], on_call) == want
