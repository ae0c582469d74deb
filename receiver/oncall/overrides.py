"""Override requests, checked purely: times, who, limits. The API and the CLI share it.

A request names `who` (a member of any rotation, or anyone given with an `email`),
`from` (default: now) and `until` (or a duration, `for`), and optionally a `reason`.
A time without a UTC offset is read in the rotation's time zone.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from receiver.config.durations import parse_duration
from receiver.oncall.config import EMAIL, OncallConfig
from receiver.oncall.schedule import Override
from receiver.text import TextError, check_comment, check_name, check_plain

MAX_OVERRIDE = timedelta(days=366)
MAX_REASON = 500
MAX_NAME = 64
MAX_CREATED_BY = 128  # a token's name (64), or the CLI's --by / cli:<login name>
# Overrides kept per rotation (expired ones are pruned first): an add beyond it is refused.
MAX_PER_ROTATION = 200
MIN_YEAR, MAX_YEAR = 1971, 2999
_FIELDS = {"who", "email", "from", "until", "for", "reason"}


class OverrideError(ValueError):
    """A request the API answers with 400: `fields` = [{field, message}]."""

    def __init__(self, fields: list[dict[str, str]]) -> None:
        self.fields = fields
        super().__init__("; ".join(f"{f['field']}: {f['message']}" for f in fields))


def parse_time(text: str, tz: ZoneInfo, now: datetime) -> datetime:
    """ "now", or ISO 8601 ("2026-03-30T09:00:00+02:00", "…Z", "2026-03-30 09:00"), aware
    in UTC. Without an offset, the time is local to `tz`. ValueError if unreadable."""
    text = text.strip()
    if text == "now":
        return now
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"not a time: {text[:60]!r} (ISO 8601, e.g. 2026-03-30T09:00:00+02:00, or now)"
        ) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=tz)
    if not MIN_YEAR <= t.year <= MAX_YEAR:  # far out, local-time arithmetic overflows
        raise ValueError(f"not a time: {text[:60]!r} (years {MIN_YEAR}-{MAX_YEAR} only)")
    return t.astimezone(UTC)


def new_id() -> str:
    """16 hex digits, random: unguessable, so a DELETE cannot hit another's by chance."""
    return secrets.token_hex(8)


@dataclass(frozen=True)
class Request:
    """What an override request needs besides its body."""

    config: OncallConfig
    rotation: str
    created_by: str
    now: datetime


def build_override(body: Any, req: Request) -> Override:
    """The override a request body asks for; OverrideError lists every problem."""
    if not isinstance(body, Mapping):
        raise OverrideError([{"field": "", "message": "the body must be a JSON object"}])
    problems: list[dict[str, str]] = []

    def bad(name: str, message: str) -> None:
        problems.append({"field": name, "message": message})

    for k in sorted(set(body) - _FIELDS):
        bad(str(k), f"unknown field (expected {', '.join(sorted(_FIELDS))})")
    tz = req.config.rotations[req.rotation].tz
    who, email, reason = body.get("who"), body.get("email"), body.get("reason", "")
    if not isinstance(who, str):
        bad("who", f"required: a member's name or a stand-in's (1-{MAX_NAME} characters)")
        who = None
    else:
        who = _text(bad, check_name, who, "who", MAX_NAME)
    if email is not None and (not isinstance(email, str) or not EMAIL.fullmatch(email)):
        bad("email", "not an email address")
        email = None
    elif email is not None and _text(bad, _plain, email, "email", 0) is None:
        email = None
    if who is not None:
        member = req.config.person(who, req.rotation)
        if member is None and "email" not in body:
            bad("who", f"{who!r} is in no rotation: give their `email` too")
        email = email or (member.email if member else None)
    reason = _text(bad, check_comment, reason, "reason", MAX_REASON) or ""
    # The API's token name is always fine; the CLI's --by is typed by a person.
    created_by = _text(bad, check_name, req.created_by, "created_by", MAX_CREATED_BY) or ""
    start, end = _times(body, tz, req.now, bad)
    if problems:
        raise OverrideError(problems)
    assert who is not None and start is not None and end is not None
    return Override(new_id(), who, start, end, req.now, created_by, reason, email)


def _text(bad: Any, check: Any, value: Any, name: str, max_len: int) -> str | None:
    """`check(value, name, max_len)` (receiver/text.py), or None with the problem noted."""
    try:
        out: str = check(value, name, max_len)
    except TextError as e:
        bad(name, e.message)
        return None
    return out


def _plain(value: str, name: str, _max_len: int) -> str:
    check_plain(value, name)
    return value


def _times(body: Mapping[str, Any], tz: ZoneInfo, now: datetime,
           bad: Any) -> tuple[datetime | None, datetime | None]:  # fmt: skip
    def time_field(key: str, raw: Any, hint: str) -> datetime | None:
        try:
            t = parse_time(raw, tz, now) if isinstance(raw, str) else None
        except ValueError as e:
            bad(key, str(e))
            return None
        if t is None:
            bad(key, f"a time as a string ({hint})")
        return t

    end = None
    start = time_field("from", body.get("from", "now"), "ISO 8601 or now")
    has_until, has_for = "until" in body, "for" in body
    if has_until == has_for:
        bad("until", "give exactly one of `until` (a time) and `for` (a duration, e.g. 8h)")
    elif has_until:
        end = time_field("until", body["until"], "ISO 8601")
    elif start is not None:
        try:
            length = parse_duration(body["for"])
            if length <= 0:
                raise ValueError("must be longer than 0s")
            end = start + timedelta(seconds=length)
        except (ValueError, OverflowError) as e:
            bad("for", str(e))
    if start is not None and end is not None:
        # Whole seconds, as every answer and the calendar show them.
        start, end = start.replace(microsecond=0), end.replace(microsecond=0)
        if end <= start:
            bad("until", "must be after `from`")
        elif end <= now:
            bad("until", "is in the past: the override would never apply")
        elif end - start > MAX_OVERRIDE:
            bad("until", f"an override lasts at most {MAX_OVERRIDE.days} days")
    return start, end


def to_record(o: Override) -> dict[str, Any]:
    """What Redis keeps (times as epoch ms: the prune script compares `until`)."""
    return {"id": o.id, "who": o.who, "email": o.email, "from": _ms(o.start),
            "until": _ms(o.end), "reason": o.reason, "created_by": o.created_by,
            "created_at": _ms(o.created_at)}  # fmt: skip


def from_record(d: Mapping[str, Any]) -> Override:
    return Override(str(d["id"]), str(d["who"]), _dt(d["from"]), _dt(d["until"]),
                    _dt(d["created_at"]), str(d.get("created_by", "")),
                    str(d.get("reason", "")), d.get("email"))  # fmt: skip


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def _dt(ms: Any) -> datetime:
    return datetime.fromtimestamp(int(ms) / 1000, UTC)


def live_overrides(raw: dict[str, str], now: datetime) -> list[Override]:
    """The records of a rotation's hash that have not ended at `now`, by start time."""
    out = []
    for value in raw.values():
        try:
            o = from_record(json.loads(value))
        except (ValueError, KeyError, TypeError):  # not ours to break on: skip it
            continue
        if o.end > now:
            out.append(o)
    return sorted(out, key=lambda o: (o.start, o.created_at, o.id))
