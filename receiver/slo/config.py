"""The `slo` config section: service objectives computed from alert history.

    slo:
      thresholds: [50, 90, 100]     # % of a budget consumed that notify, once per crossing
      services:
        api:
          objective: 99.9           # percent of the window up
          window: 30d
          matchers: ['severity="critical"', 'service="api"']
          notify: [pagerduty]       # who hears of the crossings (none: no notification)

A service is down while any alert matching all of its matchers fires.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator

from receiver.config.durations import Duration, format_duration, within
from receiver.config.loader import Issue, StrictModel
from receiver.pipeline.matchers import Matcher, parse_matcher

SERVICE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
# A window shorter than the longest burn-rate window (6 h) makes no sense as an SLO.
WINDOW_RANGE = ("6h", "366d")  # of a report: an SLO's own window or one asked for


def _check_matcher(s: str) -> str:
    parse_matcher(s)
    return s


MatcherText = Annotated[str, AfterValidator(_check_matcher)]


def window_text(seconds: float) -> str:
    """A window as people write it: whole days as "30d" (not Prometheus' "4w2d")."""
    days, rest = divmod(seconds, 86400)
    return f"{int(days)}d" if days and not rest else format_duration(seconds)


class ServiceObjective(StrictModel):
    """One service: `slo: {services: {NAME: {objective, window, matchers, notify}}}`."""

    objective: float = Field(gt=0, lt=100)
    window: Duration = 30 * 86400.0
    matchers: list[MatcherText] = Field(min_length=1)
    notify: list[str] = Field(default_factory=list)

    @field_validator("window")
    @classmethod
    def _window(cls, v: float) -> float:
        return within(v, *WINDOW_RANGE, "window", "(e.g. 30d)")

    def parsed(self) -> tuple[Matcher, ...]:
        return tuple(parse_matcher(m) for m in self.matchers)

    @property
    def slo_label(self) -> str:
        """The objective as the `slo` metric label: "99.9"."""
        return f"{self.objective:g}"


class SloConfig(StrictModel):
    services: dict[str, ServiceObjective] = Field(default_factory=dict)
    thresholds: list[float] = Field(default_factory=lambda: [50.0, 90.0, 100.0])
    # Budget consumed (percent) from which a service's status is "at risk" (0).
    at_risk: float = Field(75.0, gt=0, le=100)
    # How often figures and metrics are computed and thresholds checked.
    interval: Duration = Field(15.0, ge=1, le=3600)

    @field_validator("thresholds")
    @classmethod
    def _thresholds(cls, v: list[float]) -> list[float]:
        for t in v:
            if not 0 < t <= 1000:
                raise ValueError(f"threshold {t:g} must be a percent of the budget in (0, 1000]")
        if len(set(v)) != len(v):
            raise ValueError("thresholds must not repeat")
        return sorted(v)


def slo_issues(slo: SloConfig, receivers: set[str]) -> Iterator[Issue]:
    """Service names that cannot be a metric label / key part, and undefined receivers."""
    defined = ", ".join(sorted(receivers)) or "none"
    for name, svc in slo.services.items():
        loc = ("slo", "services", name)
        if not SERVICE_NAME.fullmatch(name):
            yield loc, f"service name {name!r} must be 1-64 of A-Z a-z 0-9 _ . -"
        for i, r in enumerate(svc.notify):
            if r not in receivers:
                yield (*loc, "notify", i), f'undefined receiver "{r}" (defined: {defined})'
