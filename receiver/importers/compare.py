"""The proof of an import (pure): per rotation and hour, who the source's final timeline
says is on call and who the imported config says (its layers' combined timeline with the
imported overrides, through the same schedule functions serve uses), and where they differ.

The source may name several people at once (Opsgenie pages everyone on call in every
rotation); the imported config always names one. An hour agrees when the sets are equal;
nobody on both sides agrees too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from receiver.importers.model import Result
from receiver.oncall.config import OncallConfig
from receiver.oncall.schedule import NOBODY, Override, handoffs

HOUR = timedelta(hours=1)
Period = tuple[datetime, datetime, str]  # (start, end, source user id)


@dataclass(frozen=True)
class Run:
    """Consecutive hours [start, end) with the same answers."""

    start: datetime
    end: datetime
    source: tuple[str, ...]
    imported: tuple[str, ...]

    @property
    def differs(self) -> bool:
        return self.source != self.imported

    @property
    def hours(self) -> int:
        return int((self.end - self.start) / HOUR)


def overrides_of(items: Sequence[dict[str, Any]]) -> list[Override]:
    """The imported override bodies as Override records (the later start wins a tie)."""
    out = []
    for o in items:
        start = datetime.fromisoformat(o["from"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(o["until"].replace("Z", "+00:00"))
        out.append(Override(o["reason"], o["who"], start, end, start, "import", o["reason"],
                            o.get("email")))  # fmt: skip
    return out


def compare(result: Result, rotation: str, periods: Sequence[Period], start: datetime,
            hours: int) -> list[Run]:  # fmt: skip
    """The runs of hours from `start` (whole hours, UTC) for `rotation` of `result`."""
    config = OncallConfig.model_validate(
        {"rotations": {n: e.body for n, e in result.rotations.items()}}
    )
    rot = config.rotations[rotation]
    lo = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    hi = lo + hours * HOUR
    shifts = handoffs(rot, lo, hi, overrides_of(result.overrides.get(rotation, [])), config)
    runs: list[Run] = []
    k = 0
    for i in range(hours):
        t = lo + i * HOUR
        while shifts[k].end <= t:
            k += 1
        m = shifts[k].member
        ours = () if m is NOBODY else (m.name,)
        theirs = tuple(sorted({result.person_ids.get(who, f"?{who}")
                               for s, e, who in periods if s <= t < e}))  # fmt: skip
        if runs and (runs[-1].source, runs[-1].imported) == (theirs, ours):
            runs[-1] = Run(runs[-1].start, t + HOUR, theirs, ours)
        else:
            runs.append(Run(t, t + HOUR, theirs, ours))
    return runs


def _stamp(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%MZ")


def render(rotation: str, runs: Sequence[Run]) -> str:
    """The comparison as text: one line per run, differences marked, then a summary."""
    lines = [f"{rotation}:"]
    for r in runs:
        mark = "DIFFERS" if r.differs else "same   "
        lines.append(f"  {mark} {_stamp(r.start)} to {_stamp(r.end)} ({r.hours:>3}h)  source: "
                     f"{', '.join(r.source) or '(nobody)'}  imported: "
                     f"{', '.join(r.imported) or '(nobody)'}")  # fmt: skip
    total, bad = sum(r.hours for r in runs), sum(r.hours for r in runs if r.differs)
    lines.append(f"  {total} hours compared, {bad} differ")
    return "\n".join(lines) + "\n"
