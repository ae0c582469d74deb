"""The iCalendar feed of a rotation: one event per shift, overrides applied (pure).

Written here rather than with icalendar's Calendar: the handful of properties a shift
needs cost ~0.5 ms per event through icalendar's generic serialiser, i.e. most of a
52-week feed's time (tests parse the result with icalendar).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from receiver import __version__
from receiver.oncall.schedule import Shift, iso

CRLF = "\r\n"
# RFC 5545 3.1: content lines are folded after 75 octets.
FOLD_AT = 75
_FOOTER = b"END:VCALENDAR\r\n"


def _text(value: str) -> str:
    """An RFC 5545 TEXT value (3.3.11): backslash, semicolon, comma and newline escaped."""
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return value.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")


def _stamp(t: datetime) -> str:
    """A DATE-TIME in UTC form: 20260330T070000Z."""
    return t.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _line(name: str, value: str) -> str:
    """One content line, folded (never inside a UTF-8 sequence or after a lone `\\`)."""
    line = f"{name}:{value}"
    if line.isascii():  # one octet per character: cut by slicing
        cuts, i = [], 0
        while len(line) - i >= FOLD_AT:
            j = i + FOLD_AT - 1
            j -= 1 if line[j - 1] == "\\" else 0  # keep an escape with what it escapes
            cuts.append(line[i:j])
            i = j
        return (CRLF + " ").join([*cuts, line[i:]]) + CRLF
    parts: list[str] = []
    current: list[str] = []
    size = 0
    for c in line:
        n = len(c.encode())
        if current and size + n >= FOLD_AT:
            # Keep an escape with what it escapes (what clients expect; icalendar does too).
            carry = [current.pop()] if len(current) > 1 and current[-1] == "\\" else []
            parts.append("".join(current))
            current, size = carry, sum(len(x.encode()) for x in carry)
        current.append(c)
        size += n
    parts.append("".join(current))
    return (CRLF + " ").join(parts) + CRLF


@dataclass(frozen=True)
class Rendered:
    """A feed rendered once: the calendar's header and each shift's VEVENT, in order, with
    its [start, end); `between()` assembles the calendar for any window inside."""

    head: bytes
    events: tuple[tuple[datetime, datetime, bytes], ...]

    @property
    def size(self) -> int:
        return len(self.head) + sum(len(ev) for _, _, ev in self.events)

    def between(self, start: datetime, end: datetime) -> bytes:
        """The calendar of the shifts that overlap [start, end)."""
        inside = [ev for s, e, ev in self.events if e > start and s < end]
        return b"".join([self.head, *inside, _FOOTER])


def render(rotation: str, shifts: Sequence[Shift], now: datetime) -> Rendered:
    """`shifts` as RFC 5545 events, in UTC (calendar apps show local time); `now` is the
    DTSTAMP.

    Each event's UID is the rotation and the shift's start, so a refreshed feed updates an
    event instead of adding one; an override that splits a shift makes new events.
    """
    head = "".join([
        "BEGIN:VCALENDAR" + CRLF,
        _line("PRODID", _text(f"-//alert-receiver//oncall {__version__}//EN")),
        "VERSION:2.0" + CRLF,
        "CALSCALE:GREGORIAN" + CRLF,
        _line("X-WR-CALNAME", _text(f"On call: {rotation}")),
    ])  # fmt: skip
    stamp = _stamp(now)
    events = []
    contacts: dict[int, list[str]] = {}  # by member object: the same few, many times
    for s in shifts:
        who = s.member.name + (" (override)" if s.override else "")
        if id(s.member) not in contacts:
            contacts[id(s.member)] = [f"{k}: {v}" for k, v in s.member.contact().items()]
        lines = list(contacts[id(s.member)])
        if s.override is not None:
            o = s.override
            lines.append(f"override {o.id} by {o.created_by or '?'}: {o.reason or '(no reason)'}")
        event = "".join([
            "BEGIN:VEVENT" + CRLF,
            _line("SUMMARY", _text(f"On call ({rotation}): {who}")),
            f"DTSTART:{_stamp(s.start)}{CRLF}",
            f"DTEND:{_stamp(s.end)}{CRLF}",
            f"DTSTAMP:{stamp}{CRLF}",
            _line("UID", _text(f"{rotation}-{iso(s.start)}@alert-receiver")),
            _line("DESCRIPTION", _text("\n".join(lines))),
            "TRANSP:TRANSPARENT" + CRLF,  # being on call is not being busy
            "END:VEVENT" + CRLF,
        ])  # fmt: skip
        events.append((s.start, s.end, event.encode()))
    return Rendered(head.encode(), tuple(events))


def calendar(rotation: str, shifts: Sequence[Shift], now: datetime) -> bytes:
    """An RFC 5545 calendar of `shifts` (render() of all of them)."""
    r = render(rotation, shifts, now)
    return b"".join([r.head, *(ev for _, _, ev in r.events), _FOOTER])
