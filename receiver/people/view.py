"""People as the API and the console show them, pure: contact methods (phone masked),
the rules in force (their own or the defaults), rotations, on call now, policies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from receiver.config.durations import format_duration
from receiver.escalation.config import EscalationPolicy
from receiver.oncall.config import OncallConfig
from receiver.people.config import PeopleConfig


def people_view(
    people: PeopleConfig,
    oncall: OncallConfig,
    policies: Mapping[str, EscalationPolicy],
    on_call: Mapping[str, str | None],
) -> list[dict[str, Any]]:
    """`on_call`: rotation → the person on call in it now (None: nobody of `people`)."""
    out = []
    for name, person in sorted(people.persons.items()):
        rules = people.rules(name)
        rotations = sorted(r for r, rot in oncall.rotations.items()
                           if any(m.person == name for m in rot.members))  # fmt: skip
        steps = sorted(p for p, pol in policies.items()
                       if any(name in s.people for s in pol.steps))  # fmt: skip
        out.append({
            "name": name,
            "contact": person.masked(),
            "notify": [{"after": format_duration(r.after), "via": r.via.value} for r in rules],
            "rules_from": "own" if person.notify is not None else "defaults",
            "rotations": rotations,
            "on_call_now": sorted(r for r, who in on_call.items() if who == name),
            "escalation_policies": steps,
        })  # fmt: skip
    return out
