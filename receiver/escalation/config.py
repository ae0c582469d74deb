"""The `escalation_policies` config section: named ladders that routes attach with
`escalation: NAME`.

    escalation_policies:
      p0:
        steps:
          - {after: 0m, rotations: [primary], receivers: [pagerduty-p0, slack-incidents]}
          - {after: 5m, rotations: [secondary]}
          - {after: 15m, emails: [eng-manager@example.com]}
          - {after: 30m, emails: [director@example.com]}
        repeat: 1            # run the whole ladder once more …
        repeat_every: 45m    # … 45 min after the first round started
        email_receiver: email-oncall   # mails `emails` and rotation members without a receiver

A step's `after` counts from when the receiver saw the alert start firing (its episode).
A rotation in a step means whoever is on call in it at that moment (overrides applied):
their own `receiver` if the member names one, else their email address through the
policy's `email_receiver`.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

from pydantic import Field, field_validator, model_validator

from receiver.config.durations import Duration, format_duration
from receiver.config.loader import Issue, Loc, StrictModel
from receiver.oncall.config import EMAIL, OncallConfig

POLICY_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class Step(StrictModel):
    """One rung: who is notified, and when (since the alert started firing)."""

    after: Duration = 0.0
    receivers: list[str] = Field(default_factory=list)
    rotations: list[str] = Field(default_factory=list)
    # Addresses mailed through the policy's email_receiver (a manager, a director).
    emails: list[str] = Field(default_factory=list)
    # People of the `people` section, paged: their notification rules run (receiver/people).
    people: list[str] = Field(default_factory=list)

    @field_validator("emails")
    @classmethod
    def _emails(cls, v: list[str]) -> list[str]:
        for addr in v:
            if not EMAIL.fullmatch(addr):
                raise ValueError(f"not an email address: {addr!r}")
        return v

    @model_validator(mode="after")
    def _someone(self) -> Step:
        if not self.receivers and not self.rotations and not self.emails and not self.people:
            raise ValueError(
                "a step notifies someone: give receivers, rotations, emails and/or people"
            )
        return self


class EscalationPolicy(StrictModel):
    steps: list[Step]
    repeat: int = Field(0, ge=0, le=10)
    repeat_every: Duration | None = None
    email_receiver: str | None = None

    @field_validator("steps")
    @classmethod
    def _ordered(cls, v: list[Step]) -> list[Step]:
        if not v:
            raise ValueError("a policy needs at least one step")
        for a, b in itertools.pairwise(v):
            if b.after < a.after:
                raise ValueError(
                    f"steps must be in order of `after`: {format_duration(b.after)} comes after "
                    f"{format_duration(a.after)}"
                )
        return v

    @model_validator(mode="after")
    def _rounds(self) -> EscalationPolicy:
        last = self.steps[-1].after
        if self.repeat and (self.repeat_every is None or self.repeat_every <= last):
            raise ValueError(
                f"repeat needs repeat_every longer than the last step's after "
                f"({format_duration(last)}): the length of one round"
            )
        if not self.repeat and self.repeat_every is not None:
            raise ValueError("repeat_every without repeat: set repeat (extra rounds) too")
        return self

    @property
    def levels(self) -> int:
        return len(self.steps)

    @property
    def total(self) -> int:
        """Steps over every round."""
        return len(self.steps) * (self.repeat + 1)


def escalation_issues(
    policies: dict[str, EscalationPolicy],
    receivers: set[str],
    emails: set[str],
    oncall: OncallConfig,
    used: set[str],
) -> Iterator[Issue]:
    """Undefined receivers and rotations, rotation members nobody could reach, and
    policies no route uses (check-config refuses: a ladder nothing starts, or one that
    would page no one, is a black hole)."""
    defined = ", ".join(sorted(receivers)) or "none"
    rotations = ", ".join(sorted(oncall.rotations)) or "none"
    for name, p in policies.items():
        loc: Loc = ("escalation_policies", name)
        if not POLICY_NAME.fullmatch(name):
            yield loc, f"policy name {name!r} must be 1-64 of A-Z a-z 0-9 _ . -"
        if name not in used:
            yield loc, f'policy "{name}" is not used by any route (escalation: {name})'
        if p.email_receiver is not None and p.email_receiver not in emails:
            yield (
                (*loc, "email_receiver"),
                (
                    f'"{p.email_receiver}" is not an email receiver '
                    f"(email receivers: {', '.join(sorted(emails)) or 'none'})"
                ),
            )
        for i, step in enumerate(p.steps):
            sloc = (*loc, "steps", i)
            if step.emails and p.email_receiver is None:
                yield (*sloc, "emails"), "emails go out through the policy's email_receiver: set it"
            for j, r in enumerate(step.receivers):
                if r not in receivers:
                    yield (*sloc, "receivers", j), f'undefined receiver "{r}" (defined: {defined})'
            for j, rname in enumerate(step.rotations):
                rot = oncall.rotations.get(rname)
                if rot is None:
                    yield (
                        (*sloc, "rotations", j),
                        (f'undefined rotation "{rname}" (defined: {rotations})'),
                    )
                elif p.email_receiver is None and any(
                    m.receiver is None and m.person is None for m in rot.members
                ):
                    yield (
                        (*sloc, "rotations", j),
                        (
                            f'members of rotation "{rname}" without their own receiver are '
                            "reached by email: set the policy's email_receiver"
                        ),
                    )
