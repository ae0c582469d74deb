"""The `digests` config section: named digests, their recipients and schedule."""

from __future__ import annotations

import re
from collections.abc import Mapping

from pydantic import Field, field_validator, model_validator

from receiver.config.durations import Duration
from receiver.config.loader import Issue, StrictModel
from receiver.config.zones import TimeZoneName
from receiver.digest.schedule import Schedule, parse_hhmm
from receiver.notifiers.email.config import email_addresses

DIGEST_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
# A digest shorter than this is a stream of pings again; tests use seconds, so it is low.
MIN_EVERY_S = 1.0


class DigestConfig(StrictModel):
    """One digest: `digests: {NAME: {receiver, to | oncall, every | at, ...}}`."""

    receiver: str  # an email receiver: its SMTP settings and `from` are used
    to: list[str] = Field(default_factory=list)
    oncall: str | None = None  # a rotation: whoever is on call when the digest is sent
    every: Duration | None = None
    at: list[str] = Field(default_factory=list)  # local times of day, "HH:MM"
    timezone: TimeZoneName = "UTC"
    max_alerts: int = Field(1000, ge=1, le=10_000)
    include_resolved: bool = True
    send_empty: bool = False

    @field_validator("to")
    @classmethod
    def _addresses(cls, v: list[str]) -> list[str]:
        return email_addresses(v)

    @field_validator("at")
    @classmethod
    def _times(cls, v: list[str]) -> list[str]:
        for item in v:
            parse_hhmm(item)
        return v

    @model_validator(mode="after")
    def _shape(self) -> DigestConfig:
        if (self.every is None) == (not self.at):
            raise ValueError("give a schedule: `every` (e.g. 1h) or `at` (e.g. ['09:00']), one")
        if self.every is not None and self.every < MIN_EVERY_S:
            raise ValueError(f"every must be at least {MIN_EVERY_S:g}s")
        if not self.to and self.oncall is None:
            raise ValueError("no recipients: give `to` (addresses) and/or `oncall` (a rotation)")
        return self

    def buffer_ttl(self) -> float:
        """How long an untouched buffer lives (s): two of its longest windows and a day, so
        only a buffer that nothing claims any more (a digest gone from the config) expires."""
        longest = self.every if self.every is not None else 86400.0
        return 2 * longest + 86400.0

    def schedule(self) -> Schedule:
        return Schedule(self.every, tuple(sorted(parse_hhmm(t) for t in self.at)), self.timezone)


def digest_issues(
    digests: Mapping[str, DigestConfig], receivers: set[str], emails: set[str],
    rotations: set[str],
) -> list[Issue]:  # fmt: skip
    """Names a digest uses that nothing defines (or that are not email receivers)."""
    out: list[Issue] = []
    for name, cfg in digests.items():
        loc = ("digests", name)
        if not DIGEST_NAME.fullmatch(name):
            out.append((loc, f"digest name {name!r} must be 1-64 of A-Z a-z 0-9 _ . -"))
        if cfg.receiver not in emails:
            what = "not an email receiver" if cfg.receiver in receivers else "undefined receiver"
            known = ", ".join(sorted(emails)) or "none"
            out.append(((*loc, "receiver"),
                        f'{what} "{cfg.receiver}" (email receivers: {known})'))  # fmt: skip
        if cfg.oncall is not None and cfg.oncall not in rotations:
            known = ", ".join(sorted(rotations)) or "none"
            out.append(((*loc, "oncall"),
                        f'undefined rotation "{cfg.oncall}" (defined: {known})'))  # fmt: skip
    return out
