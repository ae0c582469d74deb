"""Which receiver carries each contact method, and what check-config refuses about people.

Pure functions of the config: the runner asks `via_receiver` for each rule it fires, and
check-config refuses (people_issues) whatever would make a rule reach no one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from receiver.config.loader import Issue, Loc
from receiver.escalation.config import EscalationPolicy
from receiver.oncall.config import OncallConfig
from receiver.people.config import NOT_BUILT, PERSON_NAME, PeopleConfig, Person, Via


def pushes(cfg: Any) -> bool:
    """A receiver that publishes ntfy pushes (the capability on its config class)."""
    return bool(getattr(cfg, "pushes", False))


def messages_people(cfg: Any) -> bool:
    """A receiver that sends a person a direct message (Slack with a bot token)."""
    return bool(getattr(cfg, "messages_people", False))


def _only(names: list[str]) -> str | None:
    return names[0] if len(names) == 1 else None


def via_receiver(
    people: PeopleConfig, receivers: Mapping[str, Any], person: Person, via: Via
) -> str | None:
    """The receiver a rule `via` goes through for `person` (None: none can)."""
    if via is Via.PUSH:
        if person.ntfy is not None and person.ntfy.receiver is not None:
            own = person.ntfy.receiver
            return own if pushes(receivers.get(own)) else None
        name = people.defaults.push_receiver
        if name is not None:
            return name if pushes(receivers.get(name)) else None
        return _only([n for n, c in receivers.items() if pushes(c)])
    if via is Via.SLACK:
        name = people.defaults.slack_receiver
        if name is not None:
            return name if messages_people(receivers.get(name)) else None
        return _only([n for n, c in receivers.items() if messages_people(c)])
    if via is Via.EMAIL:
        name = people.defaults.email_receiver
        if name is not None:
            cfg = receivers.get(name)
            return name if cfg is not None and cfg.mails else None
        return _only([n for n, c in receivers.items() if c.mails])
    return None


def people_issues(
    people: PeopleConfig,
    receivers: Mapping[str, Any],
    oncall: OncallConfig,
    policies: Mapping[str, EscalationPolicy],
    digests: Mapping[str, Any] | None = None,
) -> Iterator[Issue]:
    """Rules a person cannot be reached by (no such contact method, no receiver for it,
    not built yet), rotation members or escalation steps naming nobody, and digests
    mailing a rotation's on-call member who is a person without a member email. Without
    `ack.links` a push goes out without its Acknowledge and Open actions (they are links
    to this service), as an email goes out without its ack link."""
    yield from _defaults_issues(people, receivers)
    for name, person in people.persons.items():
        loc: Loc = ("people", name)
        if not PERSON_NAME.fullmatch(name):
            yield loc, f"person name {name!r} must be 1-64 of A-Z a-z 0-9 _ . -"
        own = person.notify is not None
        rules = people.rules(name)
        if not rules:
            yield loc, "no notification rules: give `notify` or people.defaults.notify"
        for i, rule in enumerate(rules):
            rloc: Loc = (*loc, "notify", i) if own else ("people", "defaults", "notify", i)
            yield from _rule_issues(people, receivers, name, person, rule.via, rloc)
        if person.ntfy is not None and person.ntfy.receiver is not None:
            r = person.ntfy.receiver
            if not pushes(receivers.get(r)):
                yield (*loc, "ntfy", "receiver"), f'"{r}" is not a `type: ntfy` receiver'
    yield from _reference_issues(people, oncall, policies)
    yield from _digest_issues(oncall, digests or {})


def _defaults_issues(people: PeopleConfig, receivers: Mapping[str, Any]) -> Iterator[Issue]:
    d = people.defaults
    if d.push_receiver is not None and not pushes(receivers.get(d.push_receiver)):
        yield (("people", "defaults", "push_receiver"),
               f'"{d.push_receiver}" is not a `type: ntfy` receiver')  # fmt: skip
    if d.slack_receiver is not None and not messages_people(receivers.get(d.slack_receiver)):
        yield (("people", "defaults", "slack_receiver"),
               f'"{d.slack_receiver}" is not a Slack receiver with a bot token')  # fmt: skip
    if d.email_receiver is not None:
        cfg = receivers.get(d.email_receiver)
        if cfg is None or not cfg.mails:
            yield (("people", "defaults", "email_receiver"),
                   f'"{d.email_receiver}" is not a receiver that mails')  # fmt: skip


def _rule_issues(
    people: PeopleConfig,
    receivers: Mapping[str, Any],
    name: str,
    person: Person,
    via: Via,
    loc: Loc,
) -> Iterator[Issue]:
    if via in NOT_BUILT:
        yield (*loc, "via"), f"via {via.value}: {NOT_BUILT[via]}"
        return
    if not person.has(via):
        need = {Via.PUSH: "ntfy (a topic)", Via.EMAIL: "email", Via.SLACK: "slack (a user id)"}[via]
        yield (*loc, "via"), f"via {via.value}, but {name} has no {need}"
    elif via_receiver(people, receivers, person, via) is None:
        kind = {
            Via.PUSH: "`type: ntfy` receiver (set people.defaults.push_receiver)",
            Via.EMAIL: "receiver that mails (set people.defaults.email_receiver)",
            Via.SLACK: "Slack receiver with a bot token (set people.defaults.slack_receiver)",
        }[via]
        yield (*loc, "via"), f"via {via.value} needs one {kind}"


def _reference_issues(
    people: PeopleConfig, oncall: OncallConfig, policies: Mapping[str, EscalationPolicy]
) -> Iterator[Issue]:
    known = ", ".join(sorted(people.persons)) or "none"
    for rname, rot in oncall.rotations.items():
        for i, m in enumerate(rot.members):
            if m.person is not None and people.get(m.person) is None:
                yield (("oncall", "rotations", rname, "members", i),
                       f'"{m.person}" names no person (people: {known})')  # fmt: skip
    for pname, policy in policies.items():
        for i, step in enumerate(policy.steps):
            for j, who in enumerate(step.people):
                if people.get(who) is None:
                    yield (("escalation_policies", pname, "steps", i, "people", j),
                           f'"{who}" names no person (people: {known})')  # fmt: skip


def _digest_issues(oncall: OncallConfig, digests: Mapping[str, Any]) -> Iterator[Issue]:
    # A digest mails the on-call member's own address; a member given as a bare person
    # name has none, and would silently get no digest.
    for dname, d in digests.items():
        rot = oncall.rotations.get(d.oncall or "")
        if rot is None:
            continue
        for i, m in enumerate(rot.members):
            if m.person is not None and not m.email:
                yield (
                    ("oncall", "rotations", d.oncall, "members", i),
                    f'digest "{dname}" mails whoever is on call here: give {m.name} an email '
                    f"too ({{name: {m.name}, person: {m.person}, email: …}})",
                )
