"""Who is on call: table tests of the pure functions (hand-offs, DST, overrides)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest

from receiver.oncall.config import OncallConfig, Rotation
from receiver.oncall.schedule import Override, handoffs, who_is_on_call


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def rotation(names: list[str], **kw: Any) -> Rotation:
    members = [{"name": n, "email": f"{n}@example.com"} for n in names]
    return Rotation.model_validate({"members": members, **kw})


# Weekly, Mondays 09:00 in Berlin, from Monday 2026-01-05: week k is members[k % 3].
# Week 11 (from 2026-03-23) is carol's, week 12 (from 03-30) alice's; week 41 (10-19)
# carol's, week 42 (10-26) alice's. 2026's DST changes: Sun 03-29 and Sun 10-25.
WEEKLY = rotation(["alice", "bob", "carol"], shift="1w", handoff="Mon 09:00",
                  timezone="Europe/Berlin", start="2026-01-05")  # fmt: skip
# Daily at 09:00 in Berlin from 2026-03-01: day k is members[k % 2]; 03-28 is day 27.
DAILY = rotation(["alice", "bob"], shift="1d", handoff="09:00", timezone="Europe/Berlin",
                 start="2026-03-01")  # fmt: skip
# Daily at 02:30 in Berlin: that wall time does not exist on 03-29, exists twice on 10-25.
NIGHT = rotation(["alice", "bob"], shift="1d", handoff="02:30", timezone="Europe/Berlin",
                 start="2026-03-01")  # fmt: skip
SOLO = rotation(["alice"], shift="1w", handoff="Mon 09:00", timezone="Europe/Berlin",
                start="2026-01-05")  # fmt: skip

# (case, rotation, t, who, shift from, shift until)
TABLE = [
    # Spring forward: Mon 09:00 CET is 08:00Z, the next Mon 09:00 CEST is 07:00Z (7d - 1h).
    ("spring week", WEEKLY, "2026-03-29T12:00", "carol", "2026-03-23T08:00", "2026-03-30T07:00"),
    ("spring hand-off -1s", WEEKLY, "2026-03-30T06:59:59", "carol", "2026-03-23T08:00",
     "2026-03-30T07:00"),
    ("spring hand-off", WEEKLY, "2026-03-30T07:00", "alice", "2026-03-30T07:00",
     "2026-04-06T07:00"),
    # Autumn: Mon 09:00 CEST is 07:00Z, the next Mon 09:00 CET is 08:00Z (7d + 1h).
    ("autumn week", WEEKLY, "2026-10-25T12:00", "carol", "2026-10-19T07:00", "2026-10-26T08:00"),
    ("autumn 07:30Z is 08:30 CET", WEEKLY, "2026-10-26T07:30", "carol", "2026-10-19T07:00",
     "2026-10-26T08:00"),
    ("autumn hand-off", WEEKLY, "2026-10-26T08:00", "alice", "2026-10-26T08:00",
     "2026-11-02T08:00"),
    ("first shift", WEEKLY, "2026-01-05T08:00", "alice", "2026-01-05T08:00", "2026-01-12T08:00"),
    ("before start: the cycle extends back", WEEKLY, "2026-01-05T07:59", "carol",
     "2025-12-29T08:00", "2026-01-05T08:00"),
    # Daily: the day of the spring change is 23 h, of the autumn change 25 h.
    ("daily spring 23h", DAILY, "2026-03-28T20:00", "bob", "2026-03-28T08:00", "2026-03-29T07:00"),
    ("daily after spring", DAILY, "2026-03-29T07:00", "alice", "2026-03-29T07:00",
     "2026-03-30T07:00"),
    ("daily autumn 25h", DAILY, "2026-10-24T20:00", "bob", "2026-10-24T07:00", "2026-10-25T08:00"),
    ("daily after autumn", DAILY, "2026-10-25T08:00", "alice", "2026-10-25T08:00",
     "2026-10-26T08:00"),
    # 02:30 on 03-29 is in the gap: the hand-off is at 03:30 CEST (01:30Z), same instant.
    ("gap hand-off", NIGHT, "2026-03-29T01:30", "alice", "2026-03-29T01:30", "2026-03-30T00:30"),
    ("before gap hand-off", NIGHT, "2026-03-29T01:29", "bob", "2026-03-28T01:30",
     "2026-03-29T01:30"),
    # 02:30 on 10-25 happens twice: the hand-off is at the first (CEST, 00:30Z).
    ("repeated hour hand-off", NIGHT, "2026-10-25T00:30", "alice", "2026-10-25T00:30",
     "2026-10-26T01:30"),
    ("one member", SOLO, "2026-03-29T12:00", "alice", "2026-03-23T08:00", "2026-03-30T07:00"),
    ("one member, next week", SOLO, "2026-03-30T07:00", "alice", "2026-03-30T07:00",
     "2026-04-06T07:00"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "rot", "t", "who", "start", "end"), TABLE,
                         ids=[r[0] for r in TABLE])  # fmt: skip
def test_who_is_on_call(case: str, rot: Rotation, t: str, who: str, start: str, end: str) -> None:
    s = who_is_on_call(rot, utc(t))
    assert (s.member.name, s.start, s.end) == (who, utc(start), utc(end))
    assert s.override is None


def test_local_hand_off_time_is_kept_all_year() -> None:
    shifts = handoffs(WEEKLY, utc("2026-01-05T08:00"), utc("2027-01-04T08:00"))
    assert len(shifts) == 52
    tz = WEEKLY.tz
    for s in shifts:
        local = s.start.astimezone(tz)
        assert (local.weekday(), local.hour, local.minute) == (0, 9, 0)
    assert [s.member.name for s in shifts[:4]] == ["alice", "bob", "carol", "alice"]
    lengths = {s.end - s.start for s in shifts}
    week = timedelta(days=7)
    assert lengths == {week, week - timedelta(hours=1), week + timedelta(hours=1)}


@pytest.mark.parametrize("rot", [WEEKLY, DAILY, NIGHT, SOLO, rotation(
    ["a", "b", "c"], shift="1h", handoff="00:00", timezone="Europe/Berlin", start="2026-03-01"),
    rotation(["a", "b"], shift="12h", handoff="08:00", timezone="America/New_York")])  # fmt: skip
def test_shifts_are_contiguous_and_not_empty(rot: Rotation) -> None:
    for lo in (utc("2026-03-27T00:00"), utc("2026-10-23T00:00"), utc("2026-11-01T00:00")):
        shifts = handoffs(rot, lo, lo + timedelta(days=4))
        assert shifts[0].start <= lo < shifts[0].end
        assert shifts[-1].end >= lo + timedelta(days=4)
        for a, b in pairwise(shifts):
            assert a.end == b.start and a.start < a.end
        for s in shifts:  # each shift agrees with who_is_on_call at its start and end - 1s
            for t in (s.start, s.end - timedelta(seconds=1)):
                assert who_is_on_call(rot, t) == s


def test_hourly_shift_in_the_gap_is_skipped() -> None:
    # Hourly from 00:00: 02:00 does not exist on 03-29, so that hour's shift is empty;
    # the one before ends when the one after begins (01:00Z = 03:00 CEST).
    rot = rotation(["a", "b"], shift="1h", handoff="00:00", timezone="Europe/Berlin",
                   start="2026-03-01")  # fmt: skip
    shifts = handoffs(rot, utc("2026-03-29T00:00"), utc("2026-03-29T02:00"))
    assert [(s.start, s.end) for s in shifts] == [
        (utc("2026-03-29T00:00"), utc("2026-03-29T01:00")),
        (utc("2026-03-29T01:00"), utc("2026-03-29T02:00")),
    ]


def override(oid: str, who: str, start: str, end: str, created: str = "2026-03-01T00:00",
             email: str | None = None) -> Override:  # fmt: skip
    return Override(oid, who, utc(start), utc(end), utc(created), "ops", f"reason {oid}", email)


# Overrides inside carol's week 2026-03-23T08:00 .. 03-30T07:00 (then alice's).
OUTER = override("o1", "bob", "2026-03-24T00:00", "2026-03-28T00:00", "2026-03-01T00:00")
INNER_NEWER = override("o2", "alice", "2026-03-25T00:00", "2026-03-26T00:00", "2026-03-02T00:00")
INNER_OLDER = override("o2", "alice", "2026-03-25T00:00", "2026-03-26T00:00", "2026-02-01T00:00")
LATE_NEWER = override("o3", "alice", "2026-03-25T00:00", "2026-03-27T00:00", "2026-03-02T00:00")
OUT_OLDER = override("o1", "bob", "2026-03-24T00:00", "2026-03-26T00:00", "2026-03-01T00:00")
OUT_NEWER = override("o1", "bob", "2026-03-24T00:00", "2026-03-26T00:00", "2026-03-03T00:00")
ACROSS = override("o4", "bob", "2026-03-29T12:00", "2026-03-31T12:00")
STANDIN = override("o5", "dave", "2026-03-25T12:00", "2026-03-26T12:00", email="dave@ext.io")

# (case, overrides, [(who, from, until, override id)] from 03-23T08:00 to 04-06T07:00)
OVERRIDES = [
    ("none", [], [("carol", "03-23T08:00", "03-30T07:00", None),
                  ("alice", "03-30T07:00", "04-06T07:00", None)]),
    ("stand-in with email", [STANDIN], [
        ("carol", "03-23T08:00", "03-25T12:00", None),
        ("dave", "03-25T12:00", "03-26T12:00", "o5"),
        ("carol", "03-26T12:00", "03-30T07:00", None),
        ("alice", "03-30T07:00", "04-06T07:00", None)]),
    ("nested, inner newer: inner wins inside", [OUTER, INNER_NEWER], [
        ("carol", "03-23T08:00", "03-24T00:00", None),
        ("bob", "03-24T00:00", "03-25T00:00", "o1"),
        ("alice", "03-25T00:00", "03-26T00:00", "o2"),
        ("bob", "03-26T00:00", "03-28T00:00", "o1"),
        ("carol", "03-28T00:00", "03-30T07:00", None),
        ("alice", "03-30T07:00", "04-06T07:00", None)]),
    ("nested, inner older: outer newer hides it", [INNER_OLDER, OUTER], [
        ("carol", "03-23T08:00", "03-24T00:00", None),
        ("bob", "03-24T00:00", "03-28T00:00", "o1"),
        ("carol", "03-28T00:00", "03-30T07:00", None),
        ("alice", "03-30T07:00", "04-06T07:00", None)]),
    ("overlapping, later newer", [OUT_OLDER, LATE_NEWER], [
        ("carol", "03-23T08:00", "03-24T00:00", None),
        ("bob", "03-24T00:00", "03-25T00:00", "o1"),
        ("alice", "03-25T00:00", "03-27T00:00", "o3"),
        ("carol", "03-27T00:00", "03-30T07:00", None),
        ("alice", "03-30T07:00", "04-06T07:00", None)]),
    ("overlapping, earlier newer", [LATE_NEWER, OUT_NEWER], [
        ("carol", "03-23T08:00", "03-24T00:00", None),
        ("bob", "03-24T00:00", "03-26T00:00", "o1"),
        ("alice", "03-26T00:00", "03-27T00:00", "o3"),
        ("carol", "03-27T00:00", "03-30T07:00", None),
        ("alice", "03-30T07:00", "04-06T07:00", None)]),
    ("partly outside the shift: spans the hand-off", [ACROSS], [
        ("carol", "03-23T08:00", "03-29T12:00", None),
        ("bob", "03-29T12:00", "03-31T12:00", "o4"),
        ("alice", "03-31T12:00", "04-06T07:00", None)]),
]  # fmt: skip


@pytest.mark.parametrize(("case", "overrides", "want"), OVERRIDES, ids=[r[0] for r in OVERRIDES])
def test_overrides(case: str, overrides: list[Override], want: list[Any]) -> None:
    got = handoffs(WEEKLY, utc("2026-03-23T08:00"), utc("2026-04-06T07:00"), overrides)
    assert [(s.member.name, s.start, s.end, s.override.id if s.override else None)
            for s in got] == [(w, utc(f"2026-{a}"), utc(f"2026-{b}"), o)
                              for w, a, b, o in want]  # fmt: skip
    for s in got:  # who_is_on_call agrees inside every piece
        assert who_is_on_call(WEEKLY, s.start + (s.end - s.start) / 2, overrides) == s


def test_override_of_a_stand_in_and_of_another_rotations_member() -> None:
    config = OncallConfig.model_validate({"rotations": {
        "primary": WEEKLY.model_dump(),
        "secondary": {"members": [{"name": "erin", "email": "erin@example.com",
                                   "slack": "U0ERIN"}]},
    }})  # fmt: skip
    erin = override("o6", "erin", "2026-03-25T00:00", "2026-03-26T00:00")
    s = who_is_on_call(WEEKLY, utc("2026-03-25T12:00"), [erin, STANDIN], config)
    assert s.member.contact() == {"name": "erin", "email": "erin@example.com", "slack": "U0ERIN"}
    t = who_is_on_call(WEEKLY, utc("2026-03-26T06:00"), [erin, STANDIN], config)
    assert t.member.contact() == {"name": "dave", "email": "dave@ext.io"}
    assert t.override == STANDIN


def test_expired_and_future_overrides_do_not_apply_outside_their_time() -> None:
    o = override("o7", "bob", "2026-03-25T00:00", "2026-03-25T06:00")
    assert who_is_on_call(WEEKLY, utc("2026-03-25T06:00"), [o]).member.name == "carol"
    assert who_is_on_call(WEEKLY, utc("2026-03-24T23:59"), [o]).member.name == "carol"
    assert who_is_on_call(WEEKLY, utc("2026-03-25T05:59"), [o]).member.name == "bob"
