"""The `heartbeats` config section: always-firing alerts whose silence pages.

heartbeats:
  watchdog:
    matchers: ['alertname="Watchdog"']
    timeout: 5m              # no matching alert for this long → the receiver's own page
    notify: [pagerduty]
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from pydantic import Field

from receiver.config.durations import Duration
from receiver.config.loader import Issue, StrictModel
from receiver.pipeline.matchers import Matcher, parse_matcher
from receiver.slo.config import MatcherText

HEARTBEAT_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class HeartbeatConfig(StrictModel):
    matchers: list[MatcherText] = Field(min_length=1)
    timeout: Duration = Field(300.0, ge=1, le=7 * 86400)
    notify: list[str] = Field(min_length=1)

    def parsed(self) -> tuple[Matcher, ...]:
        return tuple(parse_matcher(m) for m in self.matchers)


def heartbeat_issues(
    heartbeats: Mapping[str, HeartbeatConfig], receivers: set[str]
) -> Iterator[Issue]:
    """Names that cannot be a label / key part, and undefined receivers."""
    defined = ", ".join(sorted(receivers)) or "none"
    for name, hb in heartbeats.items():
        loc = ("heartbeats", name)
        if not HEARTBEAT_NAME.fullmatch(name):
            yield loc, f"heartbeat name {name!r} must be 1-64 of A-Z a-z 0-9 _ . -"
        for i, r in enumerate(hb.notify):
            if r not in receivers:
                yield (*loc, "notify", i), f'undefined receiver "{r}" (defined: {defined})'
