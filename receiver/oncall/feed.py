"""The iCalendar feed of a rotation: one event per shift, overrides applied (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from icalendar import Calendar, Event

from receiver import __version__
from receiver.oncall.schedule import Shift, iso


def calendar(rotation: str, shifts: Sequence[Shift], now: datetime) -> bytes:
    """An RFC 5545 calendar of `shifts`, in UTC (calendar apps show local time).

    Each event's UID is the rotation and the shift's start, so a refreshed feed updates an
    event instead of adding one; an override that splits a shift makes new events.
    """
    cal = Calendar()
    cal.add("prodid", f"-//alert-receiver//oncall {__version__}//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", f"On call: {rotation}")
    for s in shifts:
        ev = Event()
        who = s.member.name + (" (override)" if s.override else "")
        ev.add("uid", f"{rotation}-{iso(s.start)}@alert-receiver")
        ev.add("dtstamp", now)
        ev.add("dtstart", s.start)
        ev.add("dtend", s.end)
        ev.add("summary", f"On call ({rotation}): {who}")
        lines = [f"{k}: {v}" for k, v in s.member.contact().items()]
        if s.override is not None:
            o = s.override
            lines.append(f"override {o.id} by {o.created_by or '?'}: {o.reason or '(no reason)'}")
        ev.add("description", "\n".join(lines))
        ev.add("transp", "TRANSPARENT")  # being on call is not being busy
        cal.add_component(ev)
    ical: bytes = cal.to_ical()
    return ical
