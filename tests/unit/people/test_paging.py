"""plan_step pages people: a rotation member naming a person and a step's `people` start
their rules (not a destination of the step); one page per person however often named."""

from __future__ import annotations

from receiver.escalation.config import EscalationPolicy
from receiver.escalation.ladder import plan_step
from receiver.oncall.config import Member, Rotation


def test_people_members_and_step_people_are_paged_once_and_inline_members_still_mailed() -> None:
    policy = EscalationPolicy.model_validate({
        "steps": [{"after": "0s", "rotations": ["primary", "secondary", "db"],
                   "people": ["alice", "carol"], "receivers": ["pd"]}],
        "email_receiver": "mail",
    })  # fmt: skip
    rot = Rotation.model_validate({"members": ["alice", {"name": "dan", "email": "d@x.org"}]})
    alice, dan = rot.members
    assert alice.person == "alice" and alice.email == ""
    on_call: dict[str, Member | None] = {"primary": alice, "secondary": alice, "db": dan}
    plan = plan_step(policy, policy.steps[0], on_call)
    assert plan.page == ["alice", "carol"]
    assert plan.dests == [("pd", ()), ("mail", ("d@x.org",))]  # alice is not mailed directly
    assert plan.people == ["alice (primary)", "alice (secondary)", "dan (db)", "carol"]


def test_a_member_needs_an_email_unless_it_names_a_person() -> None:
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="email is required"):
        Rotation.model_validate({"members": [{"name": "eve"}]})
    m = Rotation.model_validate({"members": [{"name": "Alice B", "person": "alice"}]}).members[0]
    assert m.person == "alice" and m.name == "Alice B"
