"""What `GET /api/v1/oncall` answers and `oncall who` prints, from the same data (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from receiver.config.durations import format_duration
from receiver.oncall.config import OncallConfig
from receiver.oncall.schedule import Override, Shift, handoffs, iso, who_is_on_call

NEXT_SHIFTS = 3
# How far ahead `next` looks for those shifts at most (long overrides, long shifts).
HORIZON = timedelta(days=400)


def rotation_status(config: OncallConfig, name: str, overrides: Sequence[Override],
                    at: datetime, upcoming: int = NEXT_SHIFTS) -> dict[str, Any]:  # fmt: skip
    """One rotation at `at`: its settings, who is on call until when, the next shifts and
    the overrides that have not ended (active or upcoming)."""
    rot = config.rotations[name]
    now = who_is_on_call(rot, at, overrides, config)
    nxt: list[Shift] = []
    t = now.end
    while len(nxt) < upcoming and t < at + HORIZON:
        s = who_is_on_call(rot, t, overrides, config)
        nxt.append(s)
        t = s.end
    shift, handoff = format_duration(rot.shift), rot.handoff
    if rot.layers is not None:  # each layer has its own (receiver/oncall/layers.py)
        shift = "by layer: " + ", ".join(f"{x.name or i} {format_duration(x.shift)}"
                                         for i, x in enumerate(rot.layers))  # fmt: skip
        handoff = ", ".join(f"{x.name or i} {x.handoff}" for i, x in enumerate(rot.layers))
    return {
        "name": name, "timezone": rot.timezone, "shift": shift,
        "handoff": handoff, "at": iso(at), "on_call": now.to_dict(),
        "next": [s.to_dict() for s in nxt],
        "overrides": [o.to_dict() for o in overrides if o.end > at],
    }  # fmt: skip


def shifts_between(config: OncallConfig, name: str, overrides: Sequence[Override],
                   start: datetime, end: datetime) -> list[Shift]:  # fmt: skip
    return handoffs(config.rotations[name], start, end, overrides, config)


def table(statuses: Sequence[Mapping[str, Any]], with_next: bool = True) -> str:
    """The statuses as a text table: one row per rotation (and time), then the next
    hand-offs of each."""
    rows: list[tuple[str, ...]] = [
        ("ROTATION", "AT", "ON CALL", "EMAIL", "FROM", "UNTIL", "OVERRIDE")
    ]
    for st in statuses:
        rows.append(_row(st["name"], st["at"], st["on_call"]))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    for st in statuses if with_next else ():
        if st["next"]:
            out.append("")
            out.append(f"next hand-offs of {st['name']} ({st['timezone']}, shift {st['shift']}, "
                       f"handoff {st['handoff']}):")  # fmt: skip
            out += [f"  {s['from']}  {s['member']['name']}" + _why(s) for s in st["next"]]
    return "\n".join(out)


def _row(name: str, at: str, s: Mapping[str, Any]) -> tuple[str, ...]:
    o = s["override"]
    return (name, at, s["member"]["name"], s["member"].get("email", ""), s["from"],
            s["until"], f"{o['id']} ({o['created_by']})" if o else "-")  # fmt: skip


def _why(s: Mapping[str, Any]) -> str:
    o = s["override"]
    return f"  (override {o['id']}: {o['reason'] or 'no reason'})" if o else ""
