"""How windows are shown (API, CLI, console) and the `.ics` feed of upcoming occurrences:
pure, from the windows, the early ends and the time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from receiver import __version__
from receiver.config.loader import plain_message
from receiver.maintenance.config import SILENCE_NEEDS, WINDOW_NAME, WindowSpec
from receiver.maintenance.schedule import Occurrence, Window, occurrences, upcoming
from receiver.maintenance.store import Stored, new_id
from receiver.oncall.feed import CRLF, _line, _stamp, _text

UPCOMING_MS = 56 * 24 * 3600 * 1000  # the feed's and the listing's span: 8 weeks
NEXT_SHOWN = 5  # occurrences listed per window


class WindowError(ValueError):
    """A window refused: what is wrong, field by field (the 400's `fields`)."""

    def __init__(self, detail: str, fields: list[dict[str, str]]) -> None:
        super().__init__(detail)
        self.fields = fields


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def build_window(
    body: Any, principal: str, digests: set[str], alertmanager: bool = False
) -> Window:
    """A run-time window from a posted body ({name?, matchers | all, reason, created_by?,
    from/until | rrule/duration/timezone, digest?, silence?}); WindowError says what is
    wrong. `alertmanager`: a silence mirror can be made (ack.alertmanager_silence)."""
    if not isinstance(body, dict):
        raise WindowError("the body must be a JSON object", [])
    data = dict(body)
    name = data.pop("name", "")
    fields: list[dict[str, str]] = []
    if not isinstance(name, str) or (name and not WINDOW_NAME.fullmatch(name)):
        fields.append({"field": "name", "message": "letters, digits, . _ - (1-64)"})
    data.setdefault("created_by", principal)
    try:
        spec = WindowSpec.model_validate(data)
    except ValidationError as e:
        fields += [{"field": ".".join(str(p) for p in err["loc"]) or "(body)",
                    "message": plain_message(err)}
                   for err in e.errors(include_url=False)]  # fmt: skip
        spec = None
    if spec is not None and spec.digest is not None and spec.digest not in digests:
        known = ", ".join(sorted(digests)) or "none"
        fields.append({"field": "digest", "message": f'undefined digest "{spec.digest}" '
                       f"(defined: {known})"})  # fmt: skip
    if spec is not None and spec.silence and not alertmanager:
        fields.append({"field": "silence", "message": SILENCE_NEEDS})
    if fields or spec is None:
        raise WindowError("; ".join(f"{f['field']}: {f['message']}" for f in fields[:10]),
                          fields)  # fmt: skip
    return Window(new_id(), spec, str(name))


def occurrence_dict(o: Occurrence) -> dict[str, Any]:
    d: dict[str, Any] = {"start": _iso(o.start_ms), "end": _iso(o.end_ms)}
    if o.end_ms != o.planned_end_ms:
        d["ended_early"] = True
    return d


def window_dict(
    w: Window, now_ms: int, ended: Mapping[str, int], stored: Stored | None = None
) -> dict[str, Any]:
    """One window as the API lists it: its spec, where it comes from, the occurrence in
    force now (or null) and the next ones."""
    spec = w.spec.model_dump(mode="json", by_alias=True, exclude_none=True)
    occ = occurrences(w, now_ms, now_ms + UPCOMING_MS, ended)
    now = next((o for o in occ if o.start_ms <= now_ms < o.end_ms), None)
    d: dict[str, Any] = {
        "id": w.key, "name": w.title, "source": "api" if stored else "config", **spec,
        "in_force": occurrence_dict(now) if now else None,
        "next": [occurrence_dict(o) for o in occ if o.start_ms > now_ms][:NEXT_SHOWN],
    }  # fmt: skip
    if stored is not None:
        d["created_at"] = _iso(stored.created_at_ms)
    return d


def feed(windows: Sequence[Window], now_ms: int, ended: Mapping[str, int]) -> bytes:
    """The upcoming occurrences (8 weeks) as text/calendar, one VEVENT each."""
    by_key = {w.key: w for w in windows}
    stamp = _stamp(datetime.fromtimestamp(now_ms / 1000, UTC))
    out = ["BEGIN:VCALENDAR" + CRLF, "VERSION:2.0" + CRLF,
           _line("PRODID", f"-//alert-receiver//{__version__}//EN"),
           _line("X-WR-CALNAME", "Maintenance windows")]  # fmt: skip
    for o in upcoming(windows, now_ms, UPCOMING_MS, ended):
        spec = by_key[o.key].spec
        what = ", ".join(spec.matchers) if not spec.all else "all alerts"
        out += ["BEGIN:VEVENT" + CRLF,
                _line("UID", f"{o.key}-{o.start_ms}@alert-receiver"),
                _line("DTSTAMP", stamp),
                _line("DTSTART", _stamp(datetime.fromtimestamp(o.start_ms / 1000, UTC))),
                _line("DTEND", _stamp(datetime.fromtimestamp(o.end_ms / 1000, UTC))),
                _line("SUMMARY", _text(f"Maintenance: {o.name}")),
                _line("DESCRIPTION", _text(f"{spec.reason} ({what}; by {spec.created_by})")),
                "END:VEVENT" + CRLF]  # fmt: skip
    out.append("END:VCALENDAR" + CRLF)
    return "".join(out).encode()
