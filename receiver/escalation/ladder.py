"""The escalation decision, pure: which step of a ladder is next, and when.

Step `i` (over all rounds) is due `round * repeat_every + steps[i % levels].after` after the
ladder started. The runner fires one step per decision, so steps overdue after an outage
or an expired ack fire one after another, in order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from receiver.escalation.config import EscalationPolicy, Step
from receiver.oncall.config import Member


@dataclass(frozen=True)
class LadderState:
    """What is known of one alert's ladder when deciding."""

    started_ms: int
    fired: int  # steps fired so far, over every round
    ended: str = ""  # "" running, or why it stopped: acked | resolved | done
    firing: bool = True  # the alert's current episode is the ladder's and still fires
    ack_until_ms: int | None = None  # an ack in force: 0 = until resolved; None = none


@dataclass(frozen=True)
class Fire:
    index: int  # over every round
    level: int  # 1-based within the round
    round: int  # 0-based
    due_ms: int


@dataclass(frozen=True)
class Wait:
    until_ms: int  # look again then


@dataclass(frozen=True)
class Stop:
    reason: str  # acked | resolved | done


Decision = Fire | Wait | Stop


def due_at(policy: EscalationPolicy, index: int, started_ms: int) -> int:
    """When step `index` (over every round) is due."""
    rnd, level = divmod(index, policy.levels)
    every = policy.repeat_every or 0.0
    return started_ms + int((rnd * every + policy.steps[level].after) * 1000)


def next_escalation_step(policy: EscalationPolicy, state: LadderState, now_ms: int) -> Decision:
    """Fire the next step, wait (for its due time or an ack's expiry), or stop."""
    if state.ended:
        return Stop(state.ended)
    if not state.firing:
        return Stop("resolved")
    if state.ack_until_ms is not None:
        if state.ack_until_ms == 0:
            return Stop("acked")
        if state.ack_until_ms > now_ms:
            return Wait(state.ack_until_ms)
    if state.fired >= policy.total:
        return Stop("done")
    due = due_at(policy, state.fired, state.started_ms)
    if due > now_ms:
        return Wait(due)
    rnd, level = divmod(state.fired, policy.levels)
    return Fire(state.fired, level + 1, rnd, due)


@dataclass(frozen=True)
class StepPlan:
    """Where one step goes, and whom it names."""

    dests: list[tuple[str, tuple[str, ...]]]  # (destination, recipients; () = its own)
    to: list[str]  # the step's log: receivers and people
    people: list[str]  # who was paged: "alice (primary)", or an address given directly
    # People of the `people` section paged: their notification rules start (receiver/people).
    page: list[str] = field(default_factory=list)


def plan_step(
    policy: EscalationPolicy, step: Step, on_call: Mapping[str, Member | None]
) -> StepPlan:
    """The step's destinations and names, given who is on call in each of its rotations
    (None: nobody). A member is reached through their own receiver, else by email through
    the policy's email_receiver; receivers are not people, so only members and addresses
    count as the people paged."""
    dests: dict[tuple[str, tuple[str, ...]], None] = {(r, ()): None for r in step.receivers}
    people: list[str] = []
    page: dict[str, None] = {}
    for rotation in step.rotations:
        member = on_call.get(rotation)
        if member is None:
            continue
        people.append(f"{member.name} ({rotation})")
        if member.person is not None:  # their own rules reach them
            page[member.person] = None
        elif member.receiver is not None:
            dests[(member.receiver, ())] = None
        elif policy.email_receiver is not None:
            dests[(policy.email_receiver, (member.email,))] = None
    if policy.email_receiver is not None:
        people += step.emails
        for addr in step.emails:
            dests[(policy.email_receiver, (addr,))] = None
    people += [p for p in step.people if p not in page]
    page.update(dict.fromkeys(step.people))
    return StepPlan(list(dests), [*step.receivers, *people], people, list(page))
