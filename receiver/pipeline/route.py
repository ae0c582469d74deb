"""The routing tree: which destinations (and digest, escalation) an alert's labels lead to.

Semantics are Alertmanager's: the root always matches; children are tried depth-first in
order, the first matching child wins unless it has `continue: true`; when no child matches,
the node itself is the match. Settings left unset on a route are inherited from its parent.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, Field, PrivateAttr, model_validator

from receiver.config.durations import Duration, format_duration
from receiver.config.loader import StrictModel
from receiver.pipeline.matchers import Matcher, parse_matcher, quote

ROOT_REPEAT_INTERVAL_S = 4 * 3600.0
ROOT_SEND_RESOLVED = True


def _check_matcher(s: str) -> str:
    parse_matcher(s)
    return s


class RouteConfig(StrictModel):
    """One node of the `route` section of the config.

    Unset fields are inherited from the parent: `repeat_interval`, `send_resolved`, `digest`,
    `escalation` when None, and `receivers` when the key is absent (Alertmanager's rule; an
    explicit `receivers: []` means none). `digest: ""` / `escalation: ""` switch off an
    inherited digest / escalation.
    """

    name: str | None = None
    receivers: list[str] = []
    matchers: list[Annotated[str, AfterValidator(_check_matcher)]] = []
    continue_: bool = Field(default=False, alias="continue")
    routes: list[RouteConfig] = []
    repeat_interval: Duration | None = None
    send_resolved: bool | None = None
    digest: str | None = None
    escalation: str | None = None

    _parsed: tuple[Matcher, ...] = PrivateAttr(default=())

    @model_validator(mode="after")
    def _validate(self) -> RouteConfig:
        if self.repeat_interval is not None and self.repeat_interval <= 0:
            raise ValueError("repeat_interval must be greater than zero")
        if self.name is not None and not self.name.strip():
            raise ValueError("route name must not be empty")
        self._parsed = tuple(parse_matcher(m) for m in self.matchers)
        return self

    @property
    def parsed_matchers(self) -> tuple[Matcher, ...]:
        return self._parsed


class RootRouteConfig(RouteConfig):
    """The top-level `route`: like Alertmanager, it matches everything by definition."""

    @model_validator(mode="after")
    def _root_rules(self) -> RootRouteConfig:
        check_root(self)
        return self


def check_root(root: RouteConfig) -> None:
    if root.matchers:
        raise ValueError("the root route must not have any matchers (it matches every alert)")
    if root.continue_:
        raise ValueError("the root route cannot have continue set")


@dataclass(frozen=True)
class RouteMatch:
    """A matched route with its effective (inherited) settings."""

    route_id: str
    receivers: tuple[str, ...]
    repeat_interval_s: float
    send_resolved: bool
    digest: str | None
    escalation: str | None


@dataclass(frozen=True)
class _Node:
    """A route resolved once at build time: own matchers plus effective settings."""

    match: RouteMatch
    matchers: tuple[Matcher, ...]
    continue_: bool
    children: tuple[_Node, ...]


def _inherit_name(own: str | None, parent: str | None) -> str | None:
    # None inherits; "" is an explicit "none" so a child can opt out of its parent's digest.
    return parent if own is None else own or None


def _build(cfg: RouteConfig, path: str, parent: RouteMatch | None, seen: set[str]) -> _Node:
    route_id = cfg.name or path
    if route_id in seen:
        raise ValueError(f'duplicate route id "{route_id}": route names must be unique')
    seen.add(route_id)
    p_receivers = parent.receivers if parent else ()
    p_repeat = parent.repeat_interval_s if parent else ROOT_REPEAT_INTERVAL_S
    p_resolved = parent.send_resolved if parent else ROOT_SEND_RESOLVED
    eff = RouteMatch(
        route_id=route_id,
        receivers=(
            tuple(dict.fromkeys(cfg.receivers))
            if "receivers" in cfg.model_fields_set
            else p_receivers
        ),
        repeat_interval_s=p_repeat if cfg.repeat_interval is None else cfg.repeat_interval,
        send_resolved=p_resolved if cfg.send_resolved is None else cfg.send_resolved,
        digest=_inherit_name(cfg.digest, parent.digest if parent else None),
        escalation=_inherit_name(cfg.escalation, parent.escalation if parent else None),
    )
    children = tuple(_build(c, f"{path}.{i}", eff, seen) for i, c in enumerate(cfg.routes))
    return _Node(eff, cfg.parsed_matchers, cfg.continue_, children)


class RoutingTree:
    """A validated routing tree; `match(labels)` gives every route an alert is sent along."""

    def __init__(self, root: RouteConfig) -> None:
        check_root(root)
        self.config = root
        self._root = _build(root, "root", None, set())

    @classmethod
    def default(cls) -> RoutingTree:
        """The severity tree used when the config has no `route` section.

        critical → pagerduty + slack; warning and anything else (info, no or unknown
        severity) → slack. Case-insensitive, like `Severity.of`. Each severity is its own
        route, so storm windows count them apart.
        """
        root = RouteConfig(
            name="default",
            receivers=["slack"],
            routes=[
                RouteConfig(
                    name="critical",
                    matchers=['severity=~"(?i:critical)"'],
                    receivers=["pagerduty", "slack"],
                ),
                RouteConfig(
                    name="warning", matchers=['severity=~"(?i:warning)"'], receivers=["slack"]
                ),
            ],
        )
        return cls(root)

    def match(self, labels: dict[str, str]) -> list[RouteMatch]:
        return _match(self._root, labels)

    def receivers(self) -> set[str]:
        return {r for _, node in _walk(self._root) for r in node.match.receivers}

    def digests(self) -> set[str]:
        return {n.match.digest for _, n in _walk(self._root) if n.match.digest is not None}

    def escalations(self) -> set[str]:
        return {n.match.escalation for _, n in _walk(self._root) if n.match.escalation is not None}


def _walk(node: _Node, depth: int = 0) -> Iterator[tuple[int, _Node]]:
    """Pre-order: each node, then its children in config order."""
    yield depth, node
    for child in node.children:
        yield from _walk(child, depth + 1)


def _match(node: _Node, labels: dict[str, str]) -> list[RouteMatch]:
    if not all(m.matches(labels) for m in node.matchers):
        return []
    found: list[RouteMatch] = []
    for child in node.children:
        child_matches = _match(child, labels)
        found.extend(child_matches)
        # The first matching child ends the search unless it asks to continue.
        if child_matches and not child.continue_:
            break
    return found or [node.match]


def _describe(m: RouteMatch) -> str:
    extra = "".join(
        f" {k}={v}" for k, v in (("digest", m.digest), ("escalation", m.escalation)) if v
    )
    return (
        f"receivers=[{', '.join(m.receivers)}]{extra} "
        f"repeat={format_duration(m.repeat_interval_s)} "
        f"send_resolved={str(m.send_resolved).lower()}"
    )


def format_tree(tree: RoutingTree) -> str:
    """An indented view of the tree with effective settings, for `check-config`."""
    lines: list[str] = []
    for depth, node in _walk(tree._root):
        matchers = "{" + ", ".join(str(m) for m in node.matchers) + "}" if node.matchers else "*"
        cont = " continue" if node.continue_ else ""
        lines.append(
            f"{'  ' * depth}{node.match.route_id} {matchers}{cont}  {_describe(node.match)}"
        )
    return "\n".join(lines)


def format_matches(labels: dict[str, str], matches: list[RouteMatch]) -> str:
    """Like `amtool config routes test`: the receivers first, then one line per route."""
    receivers: dict[str, None] = {}
    for m in matches:
        receivers.update(dict.fromkeys(m.receivers))
    label_set = ", ".join(f"{k}={quote(v)}" for k, v in sorted(labels.items()))
    lines = [",".join(receivers) or "(no receivers)"]
    lines += [f"  {m.route_id}: {_describe(m)}" for m in matches]
    lines.append(f"labels: {{{label_set}}}")
    return "\n".join(lines)


def tree_from_config(route: dict[str, Any] | RouteConfig | None) -> RoutingTree:
    """The routing tree for a config's `route` section, or the default tree when absent."""
    if route is None:
        return RoutingTree.default()
    cfg = route if isinstance(route, RouteConfig) else RootRouteConfig.model_validate(route)
    return RoutingTree(cfg)
