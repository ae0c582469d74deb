"""A rotation's combined timeline over its layers (pure): who is on call, when.

Each layer is a small rotation of its own (members taking turns for `shift`, hand-offs at
local wall time as in receiver/oncall/schedule.py), active only within its `restrictions`
(local time of day on weekdays, in the rotation's time zone): for good without `until`
(before `start` too, turns counted backwards), else from its first hand-off until then.
Where several layers are active, the later one in the list wins; where none is, nobody
is (member None: the rotation's `fallback` fills it in schedule.py, and check-config
refuses a rotation that can have gaps without one).

A rotation without layers is one full-time layer: the same timeline as schedule.Cycle's.
Restriction windows keep their wall-clock times across a daylight-saving change: 09:00
to 17:00 is eight hours on the day of the change too; a boundary inside the spring-forward
gap happens an hour later in wall time, one in the autumn repeat at the first occurrence.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from receiver.oncall.config import Layer, Member, Restriction, Rotation

# A guard on loops that walk shifts or days: no request covers more than this.
MAX_STEPS = 50_000
# How far turn_at() looks for the edges of a turn (a gap can be long): then it stops.
MAX_REACH = timedelta(days=400)


@dataclass(frozen=True)
class Turn:
    """[start, end): `member` of layer `layer` (its `n`-th turn) is on call; member None
    and layer -1 is a gap: no layer active."""

    start: datetime
    end: datetime
    member: Member | None
    layer: int = -1
    n: int = 0

    @property
    def key(self) -> tuple[int, int]:
        return self.layer, self.n if self.layer >= 0 else 0


def layers_of(rotation: Rotation) -> list[Layer]:
    """The rotation's layers; a rotation without any is one full-time layer."""
    if rotation.layers is not None:
        return rotation.layers
    legacy = Layer.model_construct(members=rotation.members, shift=rotation.shift,
                                   handoff=rotation.handoff, start=rotation.start, until=None,
                                   restrictions=[], name="")  # fmt: skip
    return [legacy]


def _at(local: datetime, tz: ZoneInfo) -> datetime:
    """A naive local wall time as UTC (fold=0: see the module docstring)."""
    return local.replace(tzinfo=tz).astimezone(UTC)


class LayerCycle:
    """A layer's hand-off instants, numbered from its anchor (members[0] takes hand-off 0)."""

    def __init__(self, layer: Layer, tz: ZoneInfo) -> None:
        self.tz, self.anchor, self.step = tz, layer.anchor, timedelta(seconds=layer.shift)

    def boundary(self, n: int) -> datetime:
        return _at(self.anchor + n * self.step, self.tz)

    def index_at(self, t: datetime) -> int:
        """The n with boundary(n) <= t < boundary(n + 1) (skipping empty shifts)."""
        n = (t.astimezone(self.tz).replace(tzinfo=None) - self.anchor) // self.step
        for _ in range(64):  # the wall-clock estimate is off by a UTC offset change at most
            if self.boundary(n) > t:
                n -= 1
            elif self.boundary(n + 1) <= t:
                n += 1
            else:
                return n
        raise AssertionError(f"no shift found for {t}")  # pragma: no cover


def windows(restrictions: list[Restriction], tz: ZoneInfo, lo: datetime,
            hi: datetime) -> list[tuple[datetime, datetime]]:  # fmt: skip
    """The restrictions' active intervals within [lo, hi), merged, ascending."""
    if not restrictions:
        return [(lo, hi)]
    first, last = lo.astimezone(tz).date() - timedelta(days=1), hi.astimezone(tz).date()
    raw: list[tuple[datetime, datetime]] = []
    day = first
    for _ in range(MAX_STEPS):
        if day > last:
            break
        for r in restrictions:
            if day.weekday() in r.days:
                raw.append(_window(r, day, tz))
        day += timedelta(days=1)
    out: list[tuple[datetime, datetime]] = []
    for s, e in sorted(raw):
        s, e = max(s, lo), min(e, hi)
        if s >= e:
            continue
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def _window(r: Restriction, day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    def local(d: date, minutes: int) -> datetime:
        return datetime.combine(d, time()) + timedelta(minutes=minutes)

    end_day = day if r.end > r.start else day + timedelta(days=1)
    return _at(local(day, r.start), tz), _at(local(end_day, r.end), tz)


def _pieces(i: int, layer: Layer, tz: ZoneInfo, lo: datetime, hi: datetime) -> list[Turn]:
    """Layer `i`'s active turns within [lo, hi), ascending."""
    cycle = LayerCycle(layer, tz)
    since = lo if layer.until is None else max(lo, cycle.boundary(0))
    until = hi
    if layer.until is not None:
        u = layer.until
        until = min(hi, _at(u, tz) if u.tzinfo is None else u.astimezone(UTC))
    if since >= until:
        return []
    out: list[Turn] = []
    wins = windows(layer.restrictions, tz, since, until)
    n = cycle.index_at(since)
    w = 0
    for _ in range(MAX_STEPS):
        b0, b1 = max(cycle.boundary(n), since), min(cycle.boundary(n + 1), until)
        if b0 >= until:
            break
        while w < len(wins) and wins[w][1] <= b0:
            w += 1
        member = layer.members[n % len(layer.members)]
        k = w
        while k < len(wins) and wins[k][0] < b1:
            s, e = max(wins[k][0], b0), min(wins[k][1], b1)
            if s < e:
                out.append(Turn(s, e, member, i, n))
            k += 1
        n += 1
    return out


def timeline(rotation: Rotation, lo: datetime, hi: datetime) -> list[Turn]:
    """[lo, hi) as consecutive turns (gaps included), the first and last clipped to it;
    a later layer wins where several are active."""
    if hi <= lo:
        return []
    tz = rotation.tz
    per_layer = [_pieces(i, layer, tz, lo, hi) for i, layer in enumerate(layers_of(rotation))]
    cuts = sorted({lo, hi, *(t for ps in per_layer for p in ps for t in (p.start, p.end))})
    ptr = [0] * len(per_layer)
    out: list[Turn] = []
    for x, y in itertools.pairwise(cuts):
        winner: Turn | None = None
        for i in reversed(range(len(per_layer))):
            ps = per_layer[i]
            while ptr[i] < len(ps) and ps[ptr[i]].end <= x:
                ptr[i] += 1
            if ptr[i] < len(ps) and ps[ptr[i]].start <= x:
                winner = ps[ptr[i]]
                break
        turn = Turn(x, y, winner.member, winner.layer, winner.n) if winner else Turn(x, y, None)
        if out and out[-1].key == turn.key and out[-1].end == x:
            out[-1] = Turn(out[-1].start, y, turn.member, turn.layer, turn.n)
        else:
            out.append(turn)
    return out


def turn_at(rotation: Rotation, t: datetime) -> Turn:
    """The whole turn holding `t` (aware): its start and end as the combined timeline has
    them (a gap's edges are looked for up to MAX_REACH away)."""
    reach = timedelta(seconds=max(x.shift for x in layers_of(rotation))) + timedelta(days=8)
    while True:
        lo, hi = t - reach, t + reach
        turn = next(x for x in timeline(rotation, lo, hi) if x.end > t)
        if (turn.start > lo and turn.end < hi) or reach >= MAX_REACH:
            return turn
        reach = min(reach * 2, MAX_REACH)


def who_is_on_call(rotation: Rotation, at: datetime) -> Member | None:
    """The layers' member on call at `at` (None in a gap), overrides not applied."""
    return turn_at(rotation, at).member
