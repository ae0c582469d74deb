from typing import Any

import pytest
from pydantic import ValidationError

from receiver.pipeline.route import (
    RootRouteConfig,
    RouteConfig,
    RouteMatch,
    RoutingTree,
    format_matches,
    format_tree,
    tree_from_config,
)

# root (slack, 1h)
# ├── root.0  team="db", continue           → digest db, inherits slack
# ├── crit    severity="critical"           → pagerduty, no resolves, escalation oncall
# │   ├── root.1.0  env=~"prod|staging"     → repeat 30m, inherits the rest of crit
# │   └── crit-dev  env="dev"               → receivers [] (explicitly none), escalation off
# ├── root.2  severity="warning", continue  → slack-warn
# └── root.3  service="api"                 → webhook
CONFIG: dict[str, Any] = {
    "receivers": ["slack"],
    "repeat_interval": "1h",
    "routes": [
        {"matchers": ["team=db"], "continue": True, "digest": "db"},
        {
            "name": "crit",
            "matchers": ['severity="critical"'],
            "receivers": ["pagerduty"],
            "send_resolved": False,
            "escalation": "oncall",
            "routes": [
                {"matchers": ['env=~"prod|staging"'], "repeat_interval": "30m"},
                {"name": "crit-dev", "matchers": ["env=dev"], "receivers": [], "escalation": ""},
            ],
        },
        {"matchers": ["severity=warning"], "continue": True, "receivers": ["slack-warn"]},
        {"matchers": ["service=api"], "receivers": ["webhook"]},
    ],
}


@pytest.fixture
def tree() -> RoutingTree:
    return tree_from_config(CONFIG)


@pytest.mark.parametrize(
    ("labels", "route_ids"),
    [
        ({}, ["root"]),
        ({"team": "web"}, ["root"]),
        ({"team": "db"}, ["root.0"]),  # continue, but no later sibling matches → only root.0
        ({"severity": "critical"}, ["crit"]),  # no child matches → the node itself
        ({"severity": "critical", "env": "prod"}, ["root.1.0"]),
        ({"severity": "critical", "env": "dev"}, ["crit-dev"]),
        ({"team": "db", "severity": "critical", "env": "prod"}, ["root.0", "root.1.0"]),
        # crit has no continue: later siblings are not tried
        ({"severity": "critical", "service": "api"}, ["crit"]),
        # root.2 continues into root.3
        ({"severity": "warning", "service": "api"}, ["root.2", "root.3"]),
        ({"team": "db", "severity": "warning", "service": "api"}, ["root.0", "root.2", "root.3"]),
        ({"severity": "warning"}, ["root.2"]),
        ({"severity": "info", "service": "api"}, ["root.3"]),
    ],
)
def test_match_route_ids(tree: RoutingTree, labels: dict[str, str], route_ids: list[str]) -> None:
    assert [m.route_id for m in tree.match(labels)] == route_ids


def test_inheritance(tree: RoutingTree) -> None:
    by_id = {
        m.route_id: m for m in tree.match({"team": "db", "severity": "critical", "env": "prod"})
    }
    assert by_id["root.0"] == RouteMatch("root.0", ("slack",), 3600.0, True, "db", None)
    assert by_id["root.1.0"] == RouteMatch(
        "root.1.0", ("pagerduty",), 1800.0, False, None, "oncall"
    )
    [dev] = tree.match({"severity": "critical", "env": "dev"})
    assert dev == RouteMatch("crit-dev", (), 3600.0, False, None, None)
    [crit] = tree.match({"severity": "critical"})
    assert crit == RouteMatch("crit", ("pagerduty",), 3600.0, False, None, "oncall")


def test_root_defaults() -> None:
    [m] = RoutingTree(RouteConfig()).match({"a": "b"})
    assert m == RouteMatch("root", (), 4 * 3600.0, True, None, None)


def test_empty_digest_opts_out_of_inherited_digest() -> None:
    t = tree_from_config({"digest": "all", "routes": [{"matchers": ["a=b"], "digest": ""}]})
    assert t.match({"a": "b"})[0].digest is None
    assert t.match({"a": "c"})[0].digest == "all"


def test_receivers_and_digests(tree: RoutingTree) -> None:
    assert tree.receivers() == {"slack", "pagerduty", "slack-warn", "webhook"}
    assert tree.digests() == {"db"}
    assert tree.escalations() == {"oncall"}


@pytest.mark.parametrize(
    ("labels", "route_id", "receivers", "digest"),
    [
        ({"severity": "critical"}, "critical", ("pagerduty", "slack"), None),
        ({"severity": "CRITICAL"}, "critical", ("pagerduty", "slack"), None),
        ({"severity": "warning"}, "warning", ("slack",), None),
        ({"severity": "WARNING"}, "warning", ("slack",), None),
        # No digests yet: info and unknown severities go where someone sees them.
        ({"severity": "info"}, "default", ("slack",), None),
        ({}, "default", ("slack",), None),
        ({"severity": "bogus"}, "default", ("slack",), None),
        ({"severity": "critical2"}, "default", ("slack",), None),
    ],
)
def test_default_tree(
    labels: dict[str, str], route_id: str, receivers: tuple[str, ...], digest: str | None
) -> None:
    tree = RoutingTree.default()
    [m] = tree.match(labels)
    assert (m.route_id, m.receivers, m.digest) == (route_id, receivers, digest)
    assert (m.repeat_interval_s, m.send_resolved) == (4 * 3600.0, True)
    assert tree_from_config(None).match(labels) == [m]


def test_default_tree_names() -> None:
    tree = RoutingTree.default()
    assert tree.receivers() == {"pagerduty", "slack"}
    assert tree.digests() == set() and tree.escalations() == set()


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"recievers": ["slack"]}, "Extra inputs are not permitted"),
        ({"routes": [{"matchers": ["a=b"], "group_by": ["x"]}]}, "Extra inputs are not permitted"),
        ({"routes": [{"matchers": ["severity"]}]}, "bad matcher format"),
        ({"routes": [{"matchers": ['a=~"("']}]}, "invalid regular expression"),
        ({"matchers": ["severity=critical"]}, "root route must not have any matchers"),
        ({"continue": True}, "root route cannot have continue"),
        ({"repeat_interval": "soon"}, "not a valid duration"),
        ({"repeat_interval": "0s"}, "repeat_interval must be greater than zero"),
        ({"routes": [{"name": "x"}, {"name": "x"}]}, 'duplicate route id "x"'),
        ({"name": "root.0", "routes": [{}]}, 'duplicate route id "root.0"'),
    ],
)
def test_config_errors(config: dict[str, Any], message: str) -> None:
    with pytest.raises((ValidationError, ValueError), match=message):
        tree_from_config(config)


def test_validation_error_locates_bad_matcher() -> None:
    with pytest.raises(ValidationError) as exc:
        RootRouteConfig.model_validate({"routes": [{}, {"matchers": ["a=b", "oops"]}]})
    assert exc.value.errors()[0]["loc"] == ("routes", 1, "matchers", 1)


def test_routing_tree_rejects_root_matchers_from_plain_route_config() -> None:
    with pytest.raises(ValueError, match="root route must not have any matchers"):
        RoutingTree(RouteConfig(matchers=["a=b"]))


def test_continue_alias_and_parsed_matchers() -> None:
    cfg = RouteConfig.model_validate({"matchers": ["a=b", 'c=~"d"'], "continue": True})
    assert cfg.continue_ is True
    assert [str(m) for m in cfg.parsed_matchers] == ['a="b"', 'c=~"d"']
    assert RouteConfig.model_validate({"continue_": True}).continue_ is True


def test_format_tree(tree: RoutingTree) -> None:
    text = format_tree(tree)
    lines = text.splitlines()
    assert len(lines) == 7
    assert lines[0].startswith("root *")
    assert "receivers=[slack]" in lines[0] and "repeat=1h" in lines[0]
    assert lines[1].startswith('  root.0 {team="db"} continue')
    assert "digest=db" in lines[1]
    assert lines[2].startswith('  crit {severity="critical"}')
    assert "receivers=[pagerduty]" in lines[2] and "escalation=oncall" in lines[2]
    assert lines[3].startswith('    root.1.0 {env=~"prod|staging"}')
    assert "repeat=30m" in lines[3] and "send_resolved=false" in lines[3]
    assert lines[4].startswith('    crit-dev {env="dev"}') and "receivers=[]" in lines[4]


def test_format_tree_default() -> None:
    text = format_tree(RoutingTree.default())
    for part in ("default", "critical", "warning", "pagerduty, slack"):
        assert part in text
    assert "digest" not in text and "escalation" not in text


def test_format_matches(tree: RoutingTree) -> None:
    labels = {"team": "db", "severity": "critical", "env": "prod"}
    lines = format_matches(labels, tree.match(labels)).splitlines()
    assert lines[0] == "slack,pagerduty"
    assert lines[1].startswith("  root.0: receivers=[slack] digest=db")
    assert lines[2].startswith("  root.1.0: receivers=[pagerduty]")
    assert "repeat=30m" in lines[2]
    assert lines[3] == 'labels: {env="prod", severity="critical", team="db"}'


def test_format_matches_no_receivers() -> None:
    labels = {"severity": "info"}
    text = format_matches(labels, tree_from_config({"receivers": []}).match(labels))
    assert text.splitlines()[0] == "(no receivers)"
    assert "root:" in text
