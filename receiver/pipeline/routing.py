"""Where an alert goes: the routing tree's destinations for its labels, with the settings
the intake decides with; built from one config and swapped whole on a reload."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

from receiver.pipeline.route import RouteMatch, RoutingTree
from receiver.pipeline.throttle import Rate

# A digest as a destination: `digest:NAME`.
DIGEST_PREFIX = "digest:"
# Alerts whose destinations are remembered (by fingerprint: routing depends on the labels
# only, and the fingerprint stands for them). Emptied when full.
ROUTE_CACHE_SIZE = 100_000


@dataclass(frozen=True)
class Target:
    """One destination an alert routes to, with the settings of the route that chose it."""

    destination: str
    route: RouteMatch


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
