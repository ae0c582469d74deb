"""Who is on call: pure functions of a rotation, a time and the overrides.

Hand-offs are computed in local wall-clock time: the n-th hand-off is `anchor + n·shift`
as a naive local time, then placed in the rotation's time zone. So "Mon 09:00
Europe/Berlin" stays at 09:00 in Berlin across both daylight-saving changes, and the
shift around a change is an hour shorter or longer. A hand-off time that does not exist
that day (inside the spring-forward gap) happens at the same instant as the wall time an
hour later; one that exists twice (the autumn repeat) happens at the first. A sub-day
shift can thereby become empty; it is skipped.

Overrides: a time covered by several overrides belongs to the one created last (ties by
id): the newest instruction wins, whether it is nested inside an older one or overlaps it.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from receiver.oncall import layers
from receiver.oncall.config import Member, OncallConfig, Rotation

# A guard on loops that walk shifts: no request lists more than this.
MAX_SHIFTS = 20_000


@dataclass(frozen=True)
class Override:
    """`who` is on call from `start` until `end` instead of the rotation's member.
    `email` reaches a stand-in who is in no rotation (and is the fallback for a member)."""

    id: str
    who: str
    start: datetime
    end: datetime
    created_at: datetime
    created_by: str = ""
    reason: str = ""
    email: str | None = None

    def covers(self, t: datetime) -> bool:
        return self.start <= t < self.end

    def precedence(self) -> tuple[datetime, str]:
        return self.created_at, self.id

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "who": self.who, "email": self.email, "from": iso(self.start),
                "until": iso(self.end), "reason": self.reason, "created_by": self.created_by,
                "created_at": iso(self.created_at)}  # fmt: skip


@dataclass(frozen=True)
class Shift:
    """[start, end): `member` is on call; `override` is the one that put them there."""

    start: datetime
    end: datetime
    member: Member
    override: Override | None = None
    key: tuple[str, int | str] = field(default=("", 0), compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"member": self.member.contact(), "from": iso(self.start), "until": iso(self.end),
                "override": self.override.to_dict() if self.override else None}  # fmt: skip


def iso(t: datetime) -> str:
    """UTC, RFC 3339, to the second: 2026-03-30T07:00:00Z."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Cycle:
    """The rotation's hand-off instants, numbered: hand-off 0 is the anchor (members[0])."""

    def __init__(self, rotation: Rotation) -> None:
        self.tz, self.anchor, self.step = rotation.tz, rotation.anchor, rotation.step

    def boundary(self, n: int) -> datetime:
        """The n-th hand-off, in UTC (fold=0: see the module docstring)."""
        return (self.anchor + n * self.step).replace(tzinfo=self.tz).astimezone(UTC)

    def index_at(self, t: datetime) -> int:
        """The n with boundary(n) <= t < boundary(n + 1), skipping empty shifts."""
        local = t.astimezone(self.tz).replace(tzinfo=None)
        n = (local - self.anchor) // self.step
        # The wall-clock estimate is off by at most the UTC offset change: a few steps.
        for _ in range(64):
            if self.boundary(n) > t:
                n -= 1
            elif self.boundary(n + 1) <= t:
                n += 1
            else:
                return n
        raise AssertionError(f"no shift found for {t}")  # pragma: no cover


def _winners(overrides: Sequence[Override], points: Sequence[datetime]) -> list[Override | None]:
    """The override that wins at each of `points` (ascending), or None: one sweep, not a
    scan of every override per point (a year's feed has hundreds of each)."""
    ranked = sorted(overrides, key=Override.precedence)  # index = rank: higher wins
    by_start = sorted(range(len(ranked)), key=lambda r: ranked[r].start)
    active: list[int] = []  # heap of -rank: started; ended ones leave when they surface
    out: list[Override | None] = []
    i = 0
    for x in points:
        while i < len(by_start) and ranked[by_start[i]].start <= x:
            heapq.heappush(active, -by_start[i])
            i += 1
        while active and ranked[-active[0]].end <= x:  # ended at x: ended for every later x
            heapq.heappop(active)
        out.append(ranked[-active[0]] if active else None)
    return out


def _people(people: OncallConfig | Mapping[str, Member] | None, rotation: Rotation,
            name: str) -> Member | None:  # fmt: skip
    if isinstance(people, OncallConfig):
        return people.person(name) or rotation.member(name)
    if people is not None and name in people:
        return people[name]
    return rotation.member(name)


def _member_of(rotation: Rotation, o: Override,
               people: OncallConfig | Mapping[str, Member] | None) -> Member:  # fmt: skip
    """The override's person: this rotation's member, else another rotation's, else a
    stand-in with the email stored with the override."""
    found = rotation.member(o.who) or _people(people, rotation, o.who)
    if found is not None:
        return found
    return Member.model_construct(name=o.who, email=o.email or "", slack=None, pagerduty=None,
                                  receiver=None)  # fmt: skip


def _timeline(rotation: Rotation, lo: datetime, hi: datetime, overrides: Sequence[Override],
              people: OncallConfig | Mapping[str, Member] | None) -> list[Shift]:  # fmt: skip
    """[lo, hi) cut into shifts (the first and last clipped to lo and hi)."""
    if rotation.layers is not None:
        return _layered(rotation, lo, hi, overrides, people)
    cycle = Cycle(rotation)
    cuts = {lo, hi}
    n = cycle.index_at(lo)
    starts = [(n, lo)]  # (n, when hand-off n happens), clipped to lo: ascending
    for _ in range(MAX_SHIFTS):
        n += 1
        b = cycle.boundary(n)
        if b >= hi:
            break
        cuts.add(b)
        starts.append((n, b))
    relevant = [o for o in overrides if o.start < hi and o.end > lo]
    cuts |= {t for o in relevant for t in (o.start, o.end) if lo < t < hi}
    points = sorted(cuts)
    out: list[Shift] = []
    k = 0
    for (x, y), o in zip(pairwise(points), _winners(relevant, points[:-1]), strict=True):
        # The last hand-off at or before x (the later of an empty shift's two): index_at(x).
        while k + 1 < len(starts) and starts[k + 1][1] <= x:
            k += 1
        if o is not None:
            key: tuple[str, int | str] = ("override", o.id)
            member = _member_of(rotation, o, people)
        else:
            i = starts[k][0]
            key, member = ("shift", i), rotation.members[i % len(rotation.members)]
        if out and out[-1].key == key:
            out[-1] = Shift(out[-1].start, y, member, o, key)
        else:
            out.append(Shift(x, y, member, o, key))
    return out


# Who a gap shows when a rotation with layers has no `fallback` (check-config refuses
# that): no contact, so nobody is paged, and the console says so.
NOBODY = Member.model_construct(name="(nobody)", email="", slack=None, pagerduty=None,
                                receiver=None, person=None)  # fmt: skip


def _layered(rotation: Rotation, lo: datetime, hi: datetime, overrides: Sequence[Override],
             people: OncallConfig | Mapping[str, Member] | None) -> list[Shift]:  # fmt: skip
    """_timeline() of a rotation with layers: the layers' combined turns, overrides on top."""
    turns = layers.timeline(rotation, lo, hi)
    relevant = [o for o in overrides if o.start < hi and o.end > lo]
    cuts = {lo, hi, *(x.start for x in turns)}
    cuts |= {t for o in relevant for t in (o.start, o.end) if lo < t < hi}
    points = sorted(cuts)
    out: list[Shift] = []
    k = 0
    for (x, y), o in zip(pairwise(points), _winners(relevant, points[:-1]), strict=True):
        while k + 1 < len(turns) and turns[k + 1].start <= x:
            k += 1
        if o is not None:
            key: tuple[str, int | str] = ("override", o.id)
            member = _member_of(rotation, o, people)
        else:
            turn = turns[k]
            key = ("layer", f"{turn.layer}:{turn.n}:{iso(turn.start)}")
            member = turn.member or rotation.fallback or NOBODY
        if out and out[-1].key == key:
            out[-1] = Shift(out[-1].start, y, member, o, key)
        else:
            out.append(Shift(x, y, member, o, key))
    return out


def who_is_on_call(
    rotation: Rotation,
    t: datetime,
    overrides: Sequence[Override] = (),
    people: OncallConfig | Mapping[str, Member] | None = None,
) -> Shift:
    """Who is on call at `t` (aware), from when until when, and through which override.

    `people` resolves an override's `who` that is not in this rotation (a member of
    another one); a name found nowhere is a stand-in reached at the override's email.
    """
    if rotation.layers is not None:
        turn = layers.turn_at(rotation, t)
        base_lo, base_hi = turn.start, turn.end
    else:
        cycle = Cycle(rotation)
        n = cycle.index_at(t)
        base_lo, base_hi = cycle.boundary(n), cycle.boundary(n + 1)
    covering = [o for o in overrides if o.covers(t)]
    lo = min([base_lo, *(o.start for o in covering)])
    hi = max([base_hi, *(o.end for o in covering)])
    # Within [lo, hi) lies the whole shift holding t: its base shift and every override
    # that could be winning at t.
    return next(s for s in _timeline(rotation, lo, hi, overrides, people) if s.end > t)


def handoffs(
    rotation: Rotation,
    start: datetime,
    end: datetime,
    overrides: Sequence[Override] = (),
    people: OncallConfig | Mapping[str, Member] | None = None,
) -> list[Shift]:
    """Every shift that overlaps [start, end), overrides applied, in order. The first may
    begin before `start` and the last end after `end`: they are whole shifts."""
    if end <= start:
        return []
    # The whole shifts holding the first and the last instant bound one timeline: each of
    # its pieces is the shift who_is_on_call() gives for any time in it.
    first = who_is_on_call(rotation, start, overrides, people)
    last = who_is_on_call(rotation, end - timedelta(microseconds=1), overrides, people)
    return _timeline(rotation, first.start, last.end, overrides, people)[:MAX_SHIFTS]
