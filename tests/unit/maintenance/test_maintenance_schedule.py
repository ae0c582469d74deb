"""The schedule of maintenance windows, pure: occurrences across daylight-saving changes
against an independent expansion (a hand-written table, and a plain week-by-week loop
over wall time that uses no rrule), early ends, which occurrence an alert is in, and the
ladder's pause."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from receiver.maintenance.config import WindowSpec
from receiver.maintenance.schedule import (
    Occurrence,
    Window,
    active,
    active_at,
    ended_between,
    ladder_shift,
    occurrences,
    started_between,
)

BERLIN = ZoneInfo("Europe/Berlin")


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def utc(ms_: int) -> str:
    return datetime.fromtimestamp(ms_ / 1000, UTC).strftime("%Y-%m-%dT%H:%MZ")


def weekly(day: str, hour: int = 2, minute: int = 30, tz: str = "Europe/Berlin") -> Window:
    spec = WindowSpec.model_validate({
        "matchers": ['service="db"'], "reason": "patching", "created_by": "dba",
        "rrule": f"FREQ=WEEKLY;BYDAY={day};BYHOUR={hour};BYMINUTE={minute}",
        "duration": "2h", "timezone": tz})  # fmt: skip
    return Window("db-patch", spec, "db-patch")


# 2026-03-29 02:00 CET → 03:00 CEST; 2026-10-25 03:00 CEST → 02:00 CET.
TABLE = [
    # (BYDAY, the starts in UTC over the span)
    ("SA", ["2026-03-21T01:30Z", "2026-03-28T01:30Z", "2026-04-04T00:30Z",
            "2026-04-11T00:30Z"]),
    # Sunday 02:30 does not exist on 2026-03-29: read with the offset before (CET).
    ("SU", ["2026-03-22T01:30Z", "2026-03-29T01:30Z", "2026-04-05T00:30Z"]),
]  # fmt: skip


@pytest.mark.parametrize(("day", "starts"), TABLE)
def test_weekly_starts_across_the_spring_change_are_at_the_right_instants(
    day: str, starts: list[str]
) -> None:
    found = occurrences(weekly(day), ms("2026-03-20T00:00:00+00:00"),
                        ms("2026-04-12T00:00:00+00:00"))  # fmt: skip
    assert [utc(o.start_ms) for o in found] == starts
    # Two hours of real time each, whatever the wall clock did.
    assert {o.end_ms - o.start_ms for o in found} == {2 * 3600 * 1000}


def test_the_autumn_change_takes_the_first_of_the_twice_lived_hour() -> None:
    found = occurrences(weekly("SU"), ms("2026-10-17T00:00:00+00:00"),
                        ms("2026-11-02T00:00:00+00:00"))  # fmt: skip
    assert [utc(o.start_ms) for o in found] == ["2026-10-18T00:30Z", "2026-10-25T00:30Z",
                                               "2026-11-01T01:30Z"]  # fmt: skip


def _by_hand(day: int, start: datetime, weeks: int) -> list[str]:
    """Week by week over wall time: the first `day` (0 = Monday) at 02:30 local from
    `start`, localised with zoneinfo; no rrule involved."""
    d = start
    while d.weekday() != day:
        d += timedelta(days=1)
    out = []
    for _ in range(weeks):
        local = datetime(d.year, d.month, d.day, 2, 30, tzinfo=BERLIN)
        out.append(local.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ"))
        d += timedelta(days=7)
    return out


@pytest.mark.parametrize(("code", "day"), [("SA", 5), ("SU", 6), ("WE", 2)])
def test_a_year_of_weekly_starts_agrees_with_the_expansion_by_hand(code: str, day: int) -> None:
    since = datetime(2026, 1, 1, tzinfo=UTC)
    found = occurrences(weekly(code), ms("2026-01-01T00:00:00+00:00"),
                        ms("2026-12-31T00:00:00+00:00"))  # fmt: skip
    expected = _by_hand(day, since, len(found))
    assert [utc(o.start_ms) for o in found] == expected
    assert len(found) in (51, 52, 53)


def test_an_early_end_shortens_that_occurrence_only() -> None:
    w = weekly("SA")
    occs = occurrences(w, ms("2026-03-20T00:00:00+00:00"), ms("2026-04-05T00:00:00+00:00"))
    first = occs[0]
    cut = first.start_ms + 600_000
    again = occurrences(w, ms("2026-03-20T00:00:00+00:00"), ms("2026-04-05T00:00:00+00:00"),
                        {first.id: cut})  # fmt: skip
    assert again[0].end_ms == cut and again[0].planned_end_ms == first.end_ms
    assert again[1:] == occs[1:]
    # Ended at its very start (a cancel): no occurrence at all.
    gone = occurrences(w, ms("2026-03-20T00:00:00+00:00"), ms("2026-03-22T00:00:00+00:00"),
                       {first.id: first.start_ms})  # fmt: skip
    assert gone == []


def test_which_window_an_alert_is_in() -> None:
    db = weekly("SA")
    everything = Window("move", WindowSpec.model_validate({
        "all": True, "from": "2026-03-28T02:00:00+00:00",
        "until": "2026-03-28T05:00:00+00:00", "digest": "nightly"}))  # fmt: skip
    inside = ms("2026-03-28T02:30:00+00:00")
    on = active([db, everything], inside)
    assert {o.key for _, o in on} == {"db-patch", "move"}
    # The one ending last holds: the move (05:00) outlasts the patch (03:30).
    got = active_at(on, {"service": "db"})
    assert got is not None and got.key == "move" and got.digest == "nightly"
    assert active_at(active([db], inside), {"service": "web"}) is None
    # Start inclusive, end exclusive.
    start = ms("2026-03-28T01:30:00+00:00")
    assert [o.key for _, o in active([db], start)] == ["db-patch"]
    assert active([db], start + 2 * 3600 * 1000) == []


def test_starts_and_ends_in_a_span() -> None:
    db = weekly("SA")
    start = ms("2026-03-28T01:30:00+00:00")
    end = start + 2 * 3600 * 1000
    assert [o.start_ms for o in started_between([db], start - 1, start)] == [start]
    assert started_between([db], start, start + 1) == []
    assert [o.end_ms for o in ended_between([db], end - 1, end)] == [end]
    assert ended_between([db], end, end + 1000) == []


@pytest.mark.parametrize(("started", "start", "end", "shift"), [
    (0, 100, 400, 300),      # ladder running before the window: paused for all of it
    (200, 100, 400, 200),    # ladder started inside: paused from its own start
    (500, 100, 400, 0),      # (never asked after the end: nothing to move)
])  # fmt: skip
def test_a_ladder_is_paused_for_the_time_it_spent_in_the_window(
    started: int, start: int, end: int, shift: int
) -> None:
    assert ladder_shift(started, Occurrence("w", "w", start, end)) == shift
