"""Where an alert goes: the routing tree's destinations for its labels, with the settings
the intake decides with; built from one config and swapped whole on a reload."""

from __future__ import annotations

from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

import orjson

from receiver.models import DIGEST_PREFIX, RECORD_META
from receiver.pipeline.matchers import Matcher
from receiver.pipeline.route import RouteMatch, RoutingTree
from receiver.pipeline.throttle import Rate

# What an alert is watched by: (SLO services, heartbeats) whose matchers it matches.
Watchers = tuple[tuple[str, ...], tuple[str, ...]]
NOT_WATCHED: Watchers = ((), ())
# Alerts whose destinations are remembered (by fingerprint: routing depends on the labels
# only, and the fingerprint stands for them). Emptied when full.
ROUTE_CACHE_SIZE = 100_000


# A notification record of a destination's job to recipients of its own (an escalation
# step's mail to a person): `{destination} to {address …}`. Addresses hold no whitespace,
# so the last " to " is the separator.
RECIPIENTS_SEP = " to "


def record_field(destination: str, recipients: Sequence[str] = ()) -> str:
    """The notification-record field of a destination, or of its job to `recipients`."""
    return f"{destination}{RECIPIENTS_SEP}{' '.join(recipients)}" if recipients else destination


def parse_record_field(name: str) -> tuple[str, tuple[str, ...]]:
    """record_field's inverse: (destination, recipients)."""
    dest, sep, rest = name.rpartition(RECIPIENTS_SEP)
    if not sep or not dest or "@" not in rest:
        return name, ()
    return dest, tuple(rest.split())


def thread_of(raw: str | None) -> str:
    """The `key` of the job a notification record was written for (an escalation step's,
    which its resolve threads under); "" when none."""
    if not raw or '"key"' not in raw:
        return ""
    try:
        rec = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return ""
    key = rec.get("key") if isinstance(rec, dict) else None
    return key if isinstance(key, str) else ""


@dataclass(frozen=True)
class Target:
    """One destination an alert routes to, with the settings of the route that chose it;
    `recipients`: the destination's job goes to these instead of its own (a person an
    escalation step mailed)."""

    destination: str
    route: RouteMatch
    recipients: tuple[str, ...] = ()

    @property
    def record_name(self) -> str:
        """Its notification record's field."""
        if not self.recipients:  # nearly every target: no call on the intake's hot path
            return self.destination
        return record_field(self.destination, self.recipients)


def targets_for(tree: RoutingTree, labels: dict[str, str], known: AbstractSet[str]) -> list[Target]:
    """Destinations in route order, each once (first route wins), digests as `digest:NAME`;
    only the `known` ones (defined receivers and `digest:NAME` of defined digests)."""
    out: dict[str, Target] = {}
    for m in tree.match(labels):
        names = [r for r in m.receivers if r in known]
        if m.digest and DIGEST_PREFIX + m.digest in known:
            names.append(DIGEST_PREFIX + m.digest)
        for name in names:
            out.setdefault(name, Target(name, m))
    return list(out.values())


@dataclass
class Routing:
    """What the intake decides with, built from one config and swapped whole on a reload:
    a body is decided with the routing it started with."""

    tree: RoutingTree
    # Defined receivers and digests (as digest:NAME): routes naming others notify no one.
    known: frozenset[str]
    rates: dict[str, Rate | None]
    storm: tuple[int, int] | None  # (threshold, window_ms)
    retention_ms: int
    history_max: int
    # Defined digests: name → (max_alerts, buffer ttl ms). A route's digest that is not
    # here (check-config refuses one) is never buffered into: no black hole.
    digests: dict[str, tuple[int, int]] = field(default_factory=dict)
    # Destinations by fingerprint (routing depends on the labels only, and the fingerprint
    # stands for them). Emptied when full; gone with the routing on a reload.
    routes: dict[str, list[Target]] = field(default_factory=dict)
    # One list per distinct outcome, shared by the alerts that route alike: a cache full
    # of alerts holds a few lists, not one each (~100 bytes an alert less).
    # Keyed by (destination, route id) pairs: strings hash once, dataclasses every time.
    outcomes: dict[tuple[tuple[str, str], ...], list[Target]] = field(default_factory=dict)
    # Defined escalation policies: name → when the first step is due after the alert
    # starts firing (ms). A route's policy that is not here (check-config refuses one)
    # starts no ladder.
    escalations: dict[str, int] = field(default_factory=dict)
    # The policy by fingerprint, like `routes` (only when policies are defined).
    ladders: dict[str, str | None] = field(default_factory=dict)
    # SLO services and heartbeats: name → matchers (all must match).
    slo: dict[str, tuple[Matcher, ...]] = field(default_factory=dict)
    heartbeats: dict[str, tuple[Matcher, ...]] = field(default_factory=dict)
    # Their outcome by fingerprint, like `routes` (only when some are defined).
    watched: dict[str, Watchers] = field(default_factory=dict)

    def targets(self, fp: str, labels: dict[str, str], remember: bool = True) -> list[Target]:
        """The alert's destinations, kept for its fingerprint if `remember`."""
        found = self.routes.get(fp)
        if found is None:
            found = targets_for(self.tree, labels, self.known)
            key = tuple([(t.destination, t.route.route_id) for t in found])
            found = self.outcomes.setdefault(key, found)
            if remember:
                if len(self.routes) >= ROUTE_CACHE_SIZE:
                    self.routes.clear()
                self.routes[fp] = found
        return found

    def escalation(self, fp: str, labels: dict[str, str], remember: bool = True) -> str | None:
        """The escalation policy of the first matching route that names a defined one."""
        if not self.escalations:
            return None
        if fp in self.ladders:
            return self.ladders[fp]
        found = next((m.escalation for m in self.tree.match(labels)
                      if m.escalation in self.escalations), None)  # fmt: skip
        if remember:
            if len(self.ladders) >= ROUTE_CACHE_SIZE:
                self.ladders.clear()
            self.ladders[fp] = found
        return found

    def watchers(self, fp: str, labels: dict[str, str], remember: bool = True) -> Watchers:
        """The SLO services and heartbeats whose matchers all match the alert."""
        if not self.slo and not self.heartbeats:
            return NOT_WATCHED
        found = self.watched.get(fp)
        if found is None:
            found = (
                tuple(n for n, ms in self.slo.items() if all(m.matches(labels) for m in ms)),
                tuple(n for n, ms in self.heartbeats.items() if all(m.matches(labels) for m in ms)),
            )
            if remember:
                if len(self.watched) >= ROUTE_CACHE_SIZE:
                    self.watched.clear()
                self.watched[fp] = found
        return found


# The route of a resolve sent to a destination that no route of the alert names (any
# more): one an escalation step or an ack told about the alert. Firing → resolved always
# goes through.
TOLD_ROUTE = RouteMatch("told", (), 0.0, True, None, None)


def told_destinations(
    rec: dict[str, str], targets: list[Target], known: AbstractSet[str]
) -> list[Target]:
    """Destinations (or their recipients, as an escalation step mailed them) with a
    notification record that the alert's targets do not cover and that still exist:
    they must hear of the resolve too."""
    routed = {t.record_name for t in targets}
    out = []
    for name in rec:
        if name in RECORD_META or name in routed:
            continue
        dest, recipients = parse_record_field(name)
        if dest in known:
            out.append(Target(dest, TOLD_ROUTE, recipients))
    return out
