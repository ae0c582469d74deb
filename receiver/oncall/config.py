"""The `oncall` config section: rotations of members with a shift length and hand-off time.

    oncall:
      rotations:
        primary:
          members:
            - {name: alice, email: alice@example.com, slack: U012ABCDEF}
            - {name: bob, email: bob@example.com, pagerduty: PABC123}
          shift: 1w
          handoff: "Mon 09:00"
          timezone: Europe/Berlin
          start: 2026-01-05

Hand-offs happen at the hand-off's wall-clock time in the rotation's time zone, whatever
the daylight-saving offset (receiver/oncall/schedule.py does the arithmetic).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator, model_validator

from receiver.config.durations import Duration, format_duration
from receiver.config.loader import Issue, Loc, StrictModel
from receiver.config.zones import TimeZoneName, zone

# Rotation names appear in URLs (/api/v1/oncall/{rotation}.ics) and Redis keys.
ROTATION_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
# A member's or stand-in's name: printable, no control characters, at most 64.
NAME_PATTERN = r"^[^\x00-\x1f\x7f]{1,64}$"
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# When `start` is not given: a fixed Monday, so every replica and every restart agrees
# on whose turn it is.
DEFAULT_START = date(2024, 1, 1)
DAY_S = 86400
WEEK_S = 7 * DAY_S
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HANDOFF = re.compile(r"(?:(?P<day>[A-Za-z]+)\s+)?(?P<h>\d{1,2}):(?P<m>\d{2})")


@dataclass(frozen=True)
class Handoff:
    """A parsed hand-off: the local time, and the weekday (0 = Monday) for weekly shifts."""

    at: time
    weekday: int | None = None


def parse_handoff(text: str) -> Handoff:
    """ "Mon 09:00", "monday 9:00" or "09:00"; ValueError says what is accepted."""
    m = _HANDOFF.fullmatch(text.strip())
    hint = 'handoff must be "HH:MM" or "DAY HH:MM" (e.g. "09:00", "Mon 09:00")'
    if m is None:
        raise ValueError(f"{hint}, got {text!r}")
    hour, minute = int(m["h"]), int(m["m"])
    if hour > 23 or minute > 59:
        raise ValueError(f"{hint}, got {text!r}: no such time of day")
    weekday = None
    if m["day"]:
        day = m["day"].lower()
        found = [i for i, d in enumerate(DAYS) if day in (d, _full(d))]
        if not found:
            raise ValueError(f"{hint}, got {text!r}: unknown day {m['day']!r} (Mon … Sun)")
        weekday = found[0]
    return Handoff(time(hour, minute), weekday)


def _full(abbr: str) -> str:
    return {"mon": "monday", "tue": "tuesday", "wed": "wednesday", "thu": "thursday",
            "fri": "friday", "sat": "saturday", "sun": "sunday"}[abbr]  # fmt: skip


class Member(StrictModel):
    """A person in a rotation and where to reach them."""

    name: str = Field(pattern=NAME_PATTERN)
    email: str = ""  # required unless `person` is set
    slack: str | None = None  # a Slack user id (U…), for mentions
    pagerduty: str | None = None  # a PagerDuty user or escalation target
    receiver: str | None = None  # a receiver (from `receivers`) that reaches this person
    # A person of the `people` section (a member given as `- alice`): paged, their
    # notification rules run (receiver/people).
    person: str | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, v: str) -> str:
        if not EMAIL.fullmatch(v):
            raise ValueError(f"not an email address: {v!r}")
        return v

    @model_validator(mode="after")
    def _reachable(self) -> Member:
        if not self.email and self.person is None:
            raise ValueError("email is required (or name a person of `people`: `- alice`)")
        return self

    def contact(self) -> dict[str, str]:
        """The member as JSON: name and the contact points that are set."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


def _bare_people(v: Any) -> Any:
    # A bare name is a person of the `people` section (checked by people_issues).
    if isinstance(v, list):
        return [{"name": m, "person": m} if isinstance(m, str) else m for m in v]
    return v


def _days(v: Any) -> list[int]:
    """ "mon-fri", "sat", ["mon", "wed-fri"] → weekday numbers (0 = Monday)."""
    parts = [v] if isinstance(v, str) else v
    if not isinstance(parts, list) or not parts:
        raise ValueError('days: a day, a range ("mon-fri") or a list of them')
    out: list[int] = []
    for part in parts:
        ends = str(part).strip().lower().split("-")
        try:
            lo, hi = (DAYS.index(e[:3]) for e in (ends[0], ends[-1]))
        except ValueError:
            raise ValueError(f"days: unknown day in {part!r} (mon … sun)") from None
        if len(ends) > 2:
            raise ValueError(f"days: {part!r} is not a day or a range")
        out += [(lo + i) % 7 for i in range((hi - lo) % 7 + 1)]
    return sorted(set(out))


def _clock(v: Any, key: str) -> int:
    """ "09:00" → minutes after midnight; "24:00" only as an end."""
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", str(v).strip())
    if m is None or int(m[2]) > 59 or int(m[1]) > 24 or (int(m[1]) == 24 and int(m[2])):
        raise ValueError(f'{key}: a time of day "HH:MM", got {v!r}')
    minutes = int(m[1]) * 60 + int(m[2])
    if minutes == 24 * 60 and key == "from":
        raise ValueError('from: "24:00" is the end of a day (use "00:00")')
    return minutes


class Restriction(StrictModel):
    """When a layer is active: on each of `days`, from `from` to `to` local time; a `to`
    at or before `from` runs overnight into the next day (`from` = `to`: 24 hours)."""

    days: list[int] = Field(default_factory=lambda: list(range(7)))
    start: int = Field(0, alias="from")  # minutes after local midnight
    end: int = Field(0, alias="to")

    @field_validator("days", mode="before")
    @classmethod
    def _parse_days(cls, v: Any) -> list[int]:
        return _days(v)

    @field_validator("start", "end", mode="before")
    @classmethod
    def _parse_clock(cls, v: Any, info: Any) -> int:
        key = "from" if info.field_name == "start" else "to"
        return v if isinstance(v, int) else _clock(v, key)


class Layer(StrictModel):
    """One layer of a rotation: members take turns as in a rotation (hand-off 0 on or
    after `start`), only within `restrictions` (none: always). Without `until` the layer
    is on call for good, also before `start` (turns counted backwards, as a rotation's);
    with `until` (local time), from its first hand-off until then."""

    name: str = Field("", pattern=r"^[^\x00-\x1f\x7f]{0,64}$")
    members: list[Member]
    shift: Duration = float(WEEK_S)
    handoff: str = "Mon 09:00"
    start: date = DEFAULT_START
    until: datetime | None = None
    restrictions: list[Restriction] = Field(default_factory=list)

    _bare = field_validator("members", mode="before")(_bare_people)

    @field_validator("members")
    @classmethod
    def _some(cls, v: list[Member]) -> list[Member]:
        if not v:
            raise ValueError("a layer needs at least one member")
        return v

    @field_validator("handoff")
    @classmethod
    def _handoff(cls, v: str) -> str:
        parse_handoff(v)
        return v

    @model_validator(mode="after")
    def _shift(self) -> Layer:
        weekly = parse_handoff(self.handoff).weekday is not None
        if self.shift < 3600 or self.shift % 60 or (weekly and self.shift % WEEK_S):
            raise ValueError(
                "a layer's shift is at least 1h in whole minutes, and whole weeks when the "
                f"handoff names a day; got {format_duration(self.shift)}"
            )
        return self

    @property
    def anchor(self) -> datetime:
        """The layer's first hand-off (local wall time, naive), as Rotation.anchor."""
        h = parse_handoff(self.handoff)
        days = 0 if h.weekday is None else (h.weekday - self.start.weekday()) % 7
        return datetime.combine(self.start + timedelta(days=days), h.at)


class Rotation(StrictModel):
    """Members take turns, in order, for `shift` each; turns change at `handoff` local
    time in `timezone`, counting from the first hand-off on or after `start`.

    Or `layers` (instead of `members`, shift, handoff, start): the layers' combined
    timeline (receiver/oncall/layers.py), a later layer winning where it is active;
    `fallback` is on call where no layer is. `members` is then everyone in the layers."""

    members: list[Member] = Field(default_factory=list)
    shift: Duration = float(WEEK_S)
    handoff: str = "Mon 09:00"
    timezone: TimeZoneName = "UTC"
    start: date = DEFAULT_START
    layers: list[Layer] | None = None
    fallback: Member | None = None

    @field_validator("fallback", mode="before")
    @classmethod
    def _fallback(cls, v: Any) -> Any:
        return {"name": v, "person": v} if isinstance(v, str) else v

    @model_validator(mode="after")
    def _layered(self) -> Rotation:
        if self.layers is None:
            if not self.members:
                raise ValueError("a rotation needs members (or layers)")
            if self.fallback is not None:
                raise ValueError("fallback is for rotations with layers")
            return self
        if self.members or not self.layers:
            raise ValueError("give either members or layers (at least one), not both")
        roster: dict[str, Member] = {}
        fallback = [self.fallback] if self.fallback is not None else []
        for m in [*(m for layer in self.layers for m in layer.members), *fallback]:
            roster.setdefault(m.name, m)
        self.members = list(roster.values())
        return self

    _people = field_validator("members", mode="before")(_bare_people)

    @field_validator("members")
    @classmethod
    def _members(cls, v: list[Member]) -> list[Member]:
        if not v:
            raise ValueError("a rotation needs at least one member")
        return v

    @field_validator("handoff")
    @classmethod
    def _handoff(cls, v: str) -> str:
        parse_handoff(v)
        return v

    @field_validator("shift")
    @classmethod
    def _shift(cls, v: float) -> float:
        ok = v >= 3600 and v % 60 == 0 and (DAY_S % v == 0 or v % DAY_S == 0)
        if not ok:
            raise ValueError(
                "shift must be whole days (1d, 2d, 1w) or divide a day evenly, and at least 1h"
                f" (1h, 2h, 8h, 12h); got {format_duration(v)}"
            )
        return v

    @model_validator(mode="after")
    def _weekly(self) -> Rotation:
        if parse_handoff(self.handoff).weekday is not None and self.shift % WEEK_S:
            raise ValueError(
                f'handoff "{self.handoff}" names a day, so shift must be whole weeks (1w, 2w); '
                f'got {format_duration(self.shift)} (use a time only, e.g. "09:00")'
            )
        return self

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.timezone)

    @property
    def step(self) -> timedelta:
        return timedelta(seconds=self.shift)

    @property
    def anchor(self) -> datetime:
        """The first hand-off (local wall time, naive): on or after `start`, at the
        hand-off's time and, for weekly shifts, on its day. members[0] takes it."""
        h = parse_handoff(self.handoff)
        days = 0 if h.weekday is None else (h.weekday - self.start.weekday()) % 7
        return datetime.combine(self.start + timedelta(days=days), h.at)

    def member(self, name: str) -> Member | None:
        return next((m for m in self.members if m.name == name), None)


def has_gaps(rotation: Rotation) -> bool:
    """Whether some time of the week is outside every layer without `until` (those are
    the ones on call for good; layers with `until` end)."""
    if rotation.layers is None:
        return False
    covered = bytearray(7 * 1440)
    for layer in rotation.layers:
        if layer.until is None:
            covered = bytearray(a | b for a, b in zip(covered, week_coverage(layer), strict=True))
    return not all(covered)


def week_coverage(layer: Layer) -> bytearray:
    """The minutes of the week (local wall time, Monday 00:00 first) the layer's
    restrictions let it be on call: 1 for each."""
    if not layer.restrictions:
        return bytearray(b"\x01" * 7 * 1440)
    covered = bytearray(7 * 1440)
    for r in layer.restrictions:
        length = (r.end - r.start) % 1440 or 1440
        for d in r.days:
            for m in range(d * 1440 + r.start, d * 1440 + r.start + length):
                covered[m % len(covered)] = 1
    return covered


class OncallConfig(StrictModel):
    rotations: dict[str, Rotation] = Field(default_factory=dict)

    @field_validator("rotations")
    @classmethod
    def _names(cls, v: dict[str, Rotation]) -> dict[str, Rotation]:
        for name in v:
            if not ROTATION_NAME.fullmatch(name):
                raise ValueError(f"rotation name {name!r} must be 1-64 of A-Z a-z 0-9 _ . -")
        return v

    def person(self, name: str, rotation: str | None = None) -> Member | None:
        """The member called `name`: in `rotation` first, else in any rotation."""
        first = self.rotations.get(rotation or "")
        found = first.member(name) if first is not None else None
        if found is not None:
            return found
        return next((m for r in self.rotations.values() if (m := r.member(name))), None)

    def issues(self, receivers: set[str]) -> Iterator[Issue]:
        """Duplicate member names and receivers nothing defines (check-config refuses)."""
        defined = ", ".join(sorted(receivers)) or "none"
        for rname, rot in self.rotations.items():
            if rot.fallback is None and has_gaps(rot):  # nobody on call pages nobody
                yield (
                    ("oncall", "rotations", rname, "layers"),
                    (
                        "the layers without `until` leave times of the week with nobody on "
                        "call: cover them (restrictions) or name a `fallback`"
                    ),
                )
            seen: set[str] = set()
            for i, m in enumerate(rot.members):
                loc: Loc = ("oncall", "rotations", rname, "members", i)
                if m.name in seen:
                    yield (*loc, "name"), f'duplicate member name "{m.name}" in rotation {rname}'
                seen.add(m.name)
                if m.receiver is not None and m.receiver not in receivers:
                    msg = f'undefined receiver "{m.receiver}" (defined: {defined})'
                    yield (*loc, "receiver"), msg
