"""No accepted config buffers into a digest that nothing sends."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import yaml

from receiver.config.loader import ConfigError
from receiver.pipeline.routing import DIGEST_PREFIX, targets_for
from receiver.server.check import load_settings
from receiver.server.reload import routing_of

MAIL = {"type": "email", "host": "127.0.0.1", "from": "a@example.com", "to": ["b@example.com"]}
LABEL_SETS = [{"severity": s, "team": t} for s in ("critical", "warning", "info", "")
              for t in ("db", "api")]  # fmt: skip


def configs() -> list[dict[str, object]]:
    """Routes naming defined, undefined and switched-off digests, at every depth."""
    out = []
    for root, child, defined in itertools.product(
        (None, "d", "nope", ""), (None, "d", "nope", ""), ({}, {"d": 1})
    ):
        route: dict[str, object] = {"receivers": ["mail"],
                                    "routes": [{"matchers": ['team="db"']}]}  # fmt: skip
        if root is not None:
            route["digest"] = root
        if child is not None:
            route["routes"][0]["digest"] = child  # type: ignore[index]
        digests = {n: {"receiver": "mail", "to": ["c@example.com"], "every": "1h"}
                   for n in defined}  # fmt: skip
        out.append({"auth": "none", "receivers": {"mail": MAIL}, "route": route,
                    "digests": digests})  # fmt: skip
    out.append({"auth": "none", "receivers": {"mail": MAIL}})  # the built-in routes
    return out


@pytest.mark.parametrize("data", configs())
def test_an_accepted_config_only_buffers_into_defined_digests(
    tmp_path: Path, data: dict[str, object]
) -> None:
    cfg = tmp_path / "c.yml"
    cfg.write_text(yaml.safe_dump(data))
    try:
        settings = load_settings(cfg, secrets=False)
    except ConfigError as e:
        assert any("undefined digest" in i.message for i in e.issues), e
        return
    routing = routing_of(settings)
    for labels in LABEL_SETS:
        for t in targets_for(routing.tree, labels, routing.known):
            if t.destination.startswith(DIGEST_PREFIX):
                assert t.destination[len(DIGEST_PREFIX) :] in settings.digests
        # Over a rate limit, a route's digest takes the overflow: it must be defined too.
        for m in routing.tree.match(labels):
            if m.digest:
                assert m.digest in routing.digests
