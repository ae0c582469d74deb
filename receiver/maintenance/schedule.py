"""When windows are on, pure: a window's occurrences over a span, and the occurrence an
alert is in at an instant.

A recurring window's rule is expanded in the wall time of its timezone (so "Saturday
02:00" stays 02:00 local across a daylight-saving change) and each start is then made an
instant: a wall time that does not exist (02:30 on the spring-forward night) is read with
the offset before the change, one that exists twice (the autumn night) as its first
instance (zoneinfo's fold=0). An occurrence lasts `duration` of real time. An occurrence
ended early (API, CLI, console) ends then.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from receiver.maintenance.config import WindowSpec

# Local-time bounds are widened by this much: a UTC instant's wall time is off by the
# offset change at most, and what falls outside the span is filtered out afterwards.
_MARGIN = timedelta(days=1)


@dataclass(frozen=True)
class Window:
    """A window with its identity: `key` is the config name, or `rt-…` for one made at
    run time (`id`)."""

    key: str
    spec: WindowSpec
    name: str = ""  # shown; the key when not given

    @property
    def title(self) -> str:
        return self.name or self.key


@dataclass(frozen=True)
class Occurrence:
    """One occurrence of a window: [start_ms, end_ms)."""

    key: str
    name: str
    start_ms: int
    end_ms: int
    digest: str | None = None
    planned_end_ms: int = 0  # before an early end

    @property
    def id(self) -> str:
        """The occurrence's identity (claims, muted sets): the window and its start."""
        return f"{self.key}|{self.start_ms}"


def _ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def _starts(spec: WindowSpec, since: datetime, until: datetime) -> list[datetime]:
    """Starts (UTC) of the occurrences that overlap [since, until)."""
    if spec.rule is None:
        return [spec.start_utc]
    zone, length = spec.zone, spec.length
    lo = (since - length).astimezone(zone).replace(tzinfo=None) - _MARGIN
    hi = until.astimezone(zone).replace(tzinfo=None) + _MARGIN
    out = []
    for local in spec.rule.between(lo, hi, inc=True):
        start = local.replace(tzinfo=zone).astimezone(UTC)
        if start < until and start + length > since:
            out.append(start)
    return out


def occurrences(
    window: Window, since_ms: int, until_ms: int, ended: Mapping[str, int] | None = None
) -> list[Occurrence]:
    """The window's occurrences overlapping [since_ms, until_ms), in order. `ended`:
    occurrence id → when it was ended early (an entry before its start does nothing)."""
    spec = window.spec
    since = datetime.fromtimestamp(since_ms / 1000, UTC)
    until = datetime.fromtimestamp(until_ms / 1000, UTC)
    out = []
    for start in _starts(spec, since, until):
        s = _ms(start)
        planned = _ms(start + spec.length)
        occ = Occurrence(window.key, window.title, s, planned, spec.digest, planned)
        early = (ended or {}).get(occ.id)
        if early is not None and s <= early < planned:
            occ = Occurrence(window.key, window.title, s, early, spec.digest, planned)
        if occ.end_ms > since_ms and occ.start_ms < until_ms and occ.end_ms > occ.start_ms:
            out.append(occ)
    return out


def active(
    windows: Iterable[Window], now_ms: int, ended: Mapping[str, int] | None = None
) -> list[tuple[Window, Occurrence]]:
    """Every window's occurrence in force at now_ms (start inclusive, end exclusive)."""
    out = []
    for w in windows:
        for occ in occurrences(w, now_ms, now_ms + 1, ended):
            if occ.start_ms <= now_ms < occ.end_ms:
                out.append((w, occ))
    return out


def active_at(on: Iterable[tuple[Window, Occurrence]], labels: dict[str, str]) -> Occurrence | None:
    """The occurrence in force (of `active`'s) that an alert with `labels` is in: of
    several, the one ending last (a mute holds as long as any window does); a window
    that sends to a digest wins over one that mutes only while it lasts as long."""
    found: Occurrence | None = None
    for w, occ in on:
        if not w.spec.matches(labels):
            continue
        if found is None or (occ.end_ms, occ.digest is not None) > (
            found.end_ms,
            found.digest is not None,
        ):
            found = occ
    return found


def upcoming(
    windows: Iterable[Window], now_ms: int, span_ms: int, ended: Mapping[str, int] | None = None
) -> list[Occurrence]:
    """Occurrences overlapping [now, now + span), by start (the .ics feed, listings)."""
    out = [o for w in windows for o in occurrences(w, now_ms, now_ms + span_ms, ended)]
    return sorted(out, key=lambda o: (o.start_ms, o.key))


def ended_between(
    windows: Iterable[Window], since_ms: int, now_ms: int, ended: Mapping[str, int] | None = None
) -> list[Occurrence]:
    """Occurrences whose end falls in (since_ms, now_ms]: due for their end claim."""
    out = []
    for w in windows:
        for occ in occurrences(w, since_ms - 1, now_ms + 1, ended):
            if since_ms < occ.end_ms <= now_ms:
                out.append(occ)
    return out


def started_between(
    windows: Iterable[Window], since_ms: int, now_ms: int, ended: Mapping[str, int] | None = None
) -> list[Occurrence]:
    """Occurrences whose start falls in (since_ms, now_ms] and still run at now_ms."""
    out = []
    for w in windows:
        for occ in occurrences(w, since_ms, now_ms + 1, ended):
            if since_ms < occ.start_ms <= now_ms < occ.end_ms:
                out.append(occ)
    return out


def ladder_shift(started_ms: int, occ: Occurrence) -> int:
    """How far an escalation ladder's clock moves when a step comes due inside `occ`:
    the time the ladder spent paused in it (from the window's start, or from the ladder's
    own start when it began inside), so that it resumes after the end with the time it
    had left (a step due at the very start fires at the end)."""
    return max(0, occ.end_ms - max(occ.start_ms, started_ms))


def end_early(window: Window, now_ms: int, ended: Mapping[str, int]) -> tuple[str, int] | None:
    """What ending `window` early now does: (occurrence id, when it ends) for the
    occurrence in force (ends now), or a one-off window not started yet (cancelled: ends
    at its start); None when neither (nothing in force)."""
    on = [o for o in occurrences(window, now_ms, now_ms + 1, ended) if o.start_ms <= now_ms]
    if on:
        return on[0].id, now_ms
    spec = window.spec
    if spec.rule is None:
        start = int(spec.start_utc.timestamp() * 1000)
        occ_id = Occurrence(window.key, window.title, start, start).id
        if start > now_ms and occ_id not in ended:
            return occ_id, start
    return None
