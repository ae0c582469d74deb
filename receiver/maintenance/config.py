"""The `maintenance:` config section, and the shape of a run-time window (the API's body).

    maintenance:
      windows:
        db-patch:                       # a name: letters, digits, . _ -
          matchers: ['service="db"', 'env=~"prod|staging"']   # Alertmanager syntax, all match
          reason: weekly database patching
          created_by: dba-team
          rrule: FREQ=WEEKLY;BYDAY=SA;BYHOUR=2   # iCalendar RRULE, in `timezone`'s wall time
          duration: 2h
          timezone: Europe/Berlin
        dc-move:
          all: true                     # every alert (instead of matchers)
          reason: datacenter move
          created_by: ops
          from: 2026-12-12T22:00:00+01:00
          until: 2026-12-13T04:00:00+01:00
          digest: nightly               # matching alerts go to this digest instead of nobody
          silence: true                 # also an Alertmanager silence (ack.alertmanager_silence)

A window is either one-off (`from`/`until`) or recurring (`rrule` + `duration`); a rule is
expanded from its DTSTART, midnight of 2026-01-01 in `timezone` (so `BYHOUR`/`BYMINUTE`
give the time of day; unset minutes and seconds are 0). Everything a window can be wrong
about is refused when it is read (config and API alike), so check-config names it.
"""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

# python-dateutil has no type information (no stubs in the lock): its objects are Any here.
from dateutil.rrule import HOURLY, rrulestr  # type: ignore[import-untyped]
from dateutil.rrule import rrule as RRule
from pydantic import Field, field_validator, model_validator

from receiver.config.durations import Duration
from receiver.config.loader import Issue, StrictModel
from receiver.config.zones import TimeZoneName
from receiver.pipeline.matchers import Matcher, parse_matcher

WINDOW_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
# Where a rule starts counting (its DTSTART), in the window's own wall time.
RULE_ANCHOR = datetime(2026, 1, 1)
# How far a rule is looked at to find that it occurs and its shortest interval.
RULE_HORIZON_YEARS = 5
RULE_SAMPLE = 500  # occurrences at most, for the interval check
MAX_TEXT = 500  # reason, created_by
SILENCE_NEEDS = ("silence: true needs ack.alertmanager_silence (the Alertmanager the "
                 "silences go to, its url and token)")  # fmt: skip


def parse_rule(text: str) -> RRule:
    """An RRULE (with or without the `RRULE:` prefix) anchored at RULE_ANCHOR; ValueError
    naming the problem. At most hourly: a window recurring more often is no window."""
    body = text.strip().removeprefix("RRULE:")
    if not body or "\n" in body or "DTSTART" in body.upper():
        raise ValueError(f"rrule must be one RRULE such as FREQ=WEEKLY;BYDAY=SA;BYHOUR=2, "
                         f"got {text[:100]!r}")  # fmt: skip
    try:
        # cache: a window's rule is asked for the same span every tick; what it generated
        # once is kept (it only grows as far as anyone looks ahead).
        rule = rrulestr(body, dtstart=RULE_ANCHOR, cache=True)
    except (ValueError, TypeError, KeyError, IndexError) as e:
        raise ValueError(f"rrule {text[:100]!r} is malformed: {e}") from e
    if not isinstance(rule, RRule):  # pragma: no cover - one line gives one rule
        raise ValueError(f"rrule {text[:100]!r} is not a single rule")
    if rule._freq > HOURLY:
        raise ValueError(f"rrule {text[:100]!r} recurs more often than hourly")
    return rule


def rule_gaps(rule: RRule) -> tuple[int, float | None]:
    """(occurrences within RULE_HORIZON_YEARS of the anchor, capped at RULE_SAMPLE; the
    shortest interval between two of them in seconds, None below two)."""
    horizon = RULE_ANCHOR.replace(year=RULE_ANCHOR.year + RULE_HORIZON_YEARS)
    seen: list[datetime] = []
    for dt in rule.xafter(RULE_ANCHOR, count=RULE_SAMPLE, inc=True):
        if dt > horizon:
            break
        seen.append(dt)
    if len(seen) < 2:
        return len(seen), None
    return len(seen), min((b - a).total_seconds() for a, b in itertools.pairwise(seen))


class WindowSpec(StrictModel):
    """One maintenance window as configured or posted."""

    matchers: list[str] = Field(default_factory=list)
    all: bool = False
    reason: str = Field("", max_length=MAX_TEXT)
    created_by: str = Field("", max_length=MAX_TEXT)
    from_: datetime | None = Field(None, alias="from")
    until: datetime | None = None
    rrule: str | None = None
    duration: Duration | None = None
    timezone: TimeZoneName = "UTC"
    digest: str | None = None  # mode: matching alerts go to this digest instead
    # Each occurrence also as an Alertmanager silence (the one ack.alertmanager_silence names).
    silence: bool = False

    @field_validator("matchers")
    @classmethod
    def _matchers(cls, v: list[str]) -> list[str]:
        for m in v:
            parse_matcher(m)  # ValueError says what is wrong with it
        return v

    @field_validator("rrule")
    @classmethod
    def _rule(cls, v: str | None) -> str | None:
        if v is not None:
            parse_rule(v)
        return v

    @model_validator(mode="after")
    def _shape(self) -> WindowSpec:
        if self.all and self.matchers:
            raise ValueError("give `matchers` or `all: true`, not both")
        if not self.all and not self.matchers:
            raise ValueError("a window needs at least one matcher (or `all: true` for every "
                             "alert)")  # fmt: skip
        one_off = self.from_ is not None or self.until is not None
        if one_off and (self.rrule is not None or self.duration is not None):
            raise ValueError("a window is one-off (`from`/`until`) or recurring (`rrule` + "
                             "`duration`), not both")  # fmt: skip
        if one_off:
            if self.from_ is None or self.until is None:
                raise ValueError("a one-off window needs both `from` and `until`")
            if self.start_utc >= self.until_utc:
                raise ValueError("`until` must be after `from`")
            return self
        if self.rrule is None or not self.duration:
            raise ValueError("give `from` and `until`, or `rrule` and a non-zero `duration`")
        count, gap = rule_gaps(parse_rule(self.rrule))
        if count == 0:
            raise ValueError(f"rrule {self.rrule!r} never occurs (within "
                             f"{RULE_HORIZON_YEARS} years of {RULE_ANCHOR.date()})")  # fmt: skip
        if gap is not None and self.duration > gap:
            raise ValueError(f"duration ({self.duration:g}s) is longer than the rule's "
                             f"shortest interval ({gap:g}s): they would overlap")  # fmt: skip
        return self

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def _utc(self, dt: datetime) -> datetime:
        # A time without offset is wall time in the window's timezone.
        return (dt if dt.tzinfo else dt.replace(tzinfo=self.zone)).astimezone(UTC)

    @property
    def start_utc(self) -> datetime:
        assert self.from_ is not None
        return self._utc(self.from_)

    @property
    def until_utc(self) -> datetime:
        assert self.until is not None
        return self._utc(self.until)

    @cached_property
    def rule(self) -> RRule | None:
        return parse_rule(self.rrule) if self.rrule is not None else None

    @cached_property
    def parsed(self) -> tuple[Matcher, ...]:
        return tuple(parse_matcher(m) for m in self.matchers)

    def matches(self, labels: dict[str, str]) -> bool:
        return self.all or all(m.matches(labels) for m in self.parsed)

    @property
    def length(self) -> timedelta:
        """One occurrence's length (a one-off window's whole span)."""
        if self.rule is None:
            return self.until_utc - self.start_utc
        return timedelta(seconds=self.duration or 0.0)


class MaintenanceConfig(StrictModel):
    """The section: windows by name."""

    windows: dict[str, WindowSpec] = Field(default_factory=dict)

    @field_validator("windows")
    @classmethod
    def _names(cls, v: dict[str, WindowSpec]) -> dict[str, WindowSpec]:
        for name in v:
            if not WINDOW_NAME.fullmatch(name):
                raise ValueError(f"window name {name[:70]!r}: letters, digits, . _ - (1-64)")
        return v

    def issues(self, digests: set[str], alertmanager: bool) -> list[Issue]:
        """Cross-references: a window's digest must be defined; a silence mirror needs
        the Alertmanager of `ack.alertmanager_silence` (`alertmanager`: configured)."""
        out: list[Issue] = []
        known = ", ".join(sorted(digests)) or "none"
        for name, w in self.windows.items():
            if w.digest is not None and w.digest not in digests:
                out.append((("maintenance", "windows", name, "digest"),
                            f'undefined digest "{w.digest}" (defined: {known})'))  # fmt: skip
            if w.silence and not alertmanager:
                out.append((("maintenance", "windows", name, "silence"), SILENCE_NEEDS))
        return out
