"""When digest windows end: pure functions of the schedule and a time.

A schedule is either `every` (windows of that length, aligned to the Unix epoch, so every
replica agrees on the boundaries without talking to the others) or `at` (fixed local times
of day in a time zone, right across daylight-saving changes). A window is identified by
the time it ends (ms): the flush of that window is claimed once, by whoever comes first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def parse_hhmm(text: str) -> time:
    """ "09:00" → time(9, 0); ValueError otherwise."""
    m = _HHMM.match(text)
    if m is None:
        raise ValueError(f'not a time of day: "{text}" (expected HH:MM, 00:00 to 23:59)')
    return time(int(m.group(1)), int(m.group(2)))


@dataclass(frozen=True)
class Schedule:
    """`every` seconds, or the local times `at` in `timezone` (one of the two)."""

    every: float | None = None
    at: tuple[time, ...] = ()
    timezone: str = "UTC"

    def _boundaries_around(self, t: float) -> list[float]:
        """`at` boundaries (s) on the local days around t, sorted."""
        zone = ZoneInfo(self.timezone)
        day = datetime.fromtimestamp(t, zone).date()
        out = []
        for offset in (-1, 0, 1):
            d = day + timedelta(days=offset)
            out += [_local(d, hm, zone) for hm in self.at]
        return sorted(set(out))

    def last_end(self, t: float) -> float:
        """The latest window end at or before t (s)."""
        if self.every:
            return (t // self.every) * self.every
        return max(b for b in self._boundaries_around(t) if b <= t)

    def next_end(self, t: float) -> float:
        """The earliest window end after t (s)."""
        if self.every:
            return (t // self.every + 1) * self.every
        return min(b for b in self._boundaries_around(t) if b > t)

    def window(self, end: float) -> tuple[float, float]:
        """(start, end) of the window that ends at `end`."""
        return self.last_end(end - 0.001), end


def _local(d: date, hm: time, zone: ZoneInfo) -> float:
    """The instant of local time hm on day d. A time skipped by a DST jump (02:30 on the
    spring-forward night) is read with the offset before the jump, i.e. an hour later on
    the wall clock; a repeated one (autumn) is its first occurrence."""
    local = datetime.combine(d, hm, tzinfo=zone)
    return local.astimezone(UTC).timestamp()
