"""Digest window boundaries: `every` aligned to the epoch, `at` local times across DST."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from receiver.digest.schedule import Schedule, parse_hhmm

BERLIN = "Europe/Berlin"


def ts(text: str, zone: str = "UTC") -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp()


def local(t: float, zone: str = BERLIN) -> str:
    return datetime.fromtimestamp(t, ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")


HOURLY = Schedule(every=3600)
TWICE_DAILY = Schedule(at=(parse_hhmm("09:00"), parse_hhmm("17:00")), timezone=BERLIN)
NIGHTLY = Schedule(at=(parse_hhmm("02:30"),), timezone=BERLIN)

# (schedule, now, last_end, next_end) — local Berlin times unless a UTC schedule
TABLE = [
    (HOURLY, ts("2026-11-28 10:20"), ts("2026-11-28 10:00"), ts("2026-11-28 11:00")),
    (HOURLY, ts("2026-11-28 10:00"), ts("2026-11-28 10:00"), ts("2026-11-28 11:00")),
    (TWICE_DAILY, ts("2026-11-28 12:00", BERLIN), ts("2026-11-28 09:00", BERLIN),
     ts("2026-11-28 17:00", BERLIN)),
    (TWICE_DAILY, ts("2026-11-28 08:00", BERLIN), ts("2026-11-27 17:00", BERLIN),
     ts("2026-11-28 09:00", BERLIN)),
    (TWICE_DAILY, ts("2026-11-28 17:00", BERLIN), ts("2026-11-28 17:00", BERLIN),
     ts("2026-11-29 09:00", BERLIN)),
    # Spring forward (2026-03-29, 02:00 → 03:00): 09:00 local is still 09:00 local.
    (TWICE_DAILY, ts("2026-03-29 08:00", BERLIN), ts("2026-03-28 17:00", BERLIN),
     ts("2026-03-29 09:00", BERLIN)),
    # Fall back (2026-10-25, 03:00 → 02:00).
    (TWICE_DAILY, ts("2026-10-25 12:00", BERLIN), ts("2026-10-25 09:00", BERLIN),
     ts("2026-10-25 17:00", BERLIN)),
]  # fmt: skip


@pytest.mark.parametrize(("schedule", "now", "last", "nxt"), TABLE)
def test_boundaries(schedule: Schedule, now: float, last: float, nxt: float) -> None:
    assert schedule.last_end(now) == last, local(schedule.last_end(now))
    assert schedule.next_end(now) == nxt, local(schedule.next_end(now))
    assert schedule.window(nxt) == (last, nxt)


def test_windows_across_spring_forward_are_23_hours_of_wall_time() -> None:
    # 17:00 Saturday → 09:00 Sunday is 16 h of wall clock but 15 h of real time.
    start, end = TWICE_DAILY.window(ts("2026-03-29 09:00", BERLIN))
    assert local(start) == "2026-03-28 17:00 CET" and local(end) == "2026-03-29 09:00 CEST"
    assert end - start == 15 * 3600


def test_windows_across_fall_back() -> None:
    start, end = TWICE_DAILY.window(ts("2026-10-25 09:00", BERLIN))
    assert local(start) == "2026-10-24 17:00 CEST" and local(end) == "2026-10-25 09:00 CET"
    assert end - start == 17 * 3600


def test_a_time_skipped_by_dst_happens_once_that_night() -> None:
    # 02:30 does not exist on 2026-03-29 in Berlin: the window ends at 03:30 CEST instead.
    end = NIGHTLY.next_end(ts("2026-03-29 00:00", BERLIN))
    assert local(end) == "2026-03-29 03:30 CEST"
    assert NIGHTLY.next_end(end) == ts("2026-03-30 02:30", BERLIN)


def test_a_repeated_time_happens_once_that_night() -> None:
    end = Schedule(at=(parse_hhmm("02:30"),), timezone=BERLIN).next_end(
        ts("2026-10-25 00:00", BERLIN)
    )
    assert datetime.fromtimestamp(end, UTC).strftime("%H:%M") == "00:30"  # 02:30 CEST
    assert NIGHTLY.next_end(end) == ts("2026-10-26 02:30", BERLIN)


@pytest.mark.parametrize("bad", ["9:00", "24:00", "09:60", "0900", "", "09:00:00"])
def test_parse_hhmm_refuses(bad: str) -> None:
    with pytest.raises(ValueError, match="HH:MM"):
        parse_hhmm(bad)
