"""The layers' combined timeline: later layers win, restrictions in local time (DST too),
gaps are nobody, a rotation without layers is one full-time layer, every consumer's
schedule functions follow the layers, and check-config refuses gaps without a fallback."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from receiver.oncall import layers
from receiver.oncall.config import OncallConfig, Rotation
from receiver.oncall.schedule import NOBODY, Override, handoffs, who_is_on_call


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=UTC)


BERLIN: dict[str, Any] = {
    "timezone": "Europe/Berlin",
    "layers": [
        {"name": "weekly", "members": ["alice", "bob"], "shift": "1w", "handoff": "Mon 09:00",
         "start": "2027-03-01"},
        {"name": "office", "members": ["carol", "dave"], "shift": "1d", "handoff": "09:00",
         "start": "2027-03-01",
         "restrictions": [{"days": "mon-fri", "from": "09:00", "to": "17:00"}]},
    ],
}  # fmt: skip


def rot(d: dict[str, Any]) -> Rotation:
    return Rotation.model_validate(d)


def name(r: Rotation, t: datetime) -> str | None:
    m = layers.who_is_on_call(r, t)
    return m.name if m else None


@pytest.mark.parametrize(
    ("at", "who"),
    [
        # Before both start (09:00 CET = 08:00Z): the full-time layer counts backwards.
        (utc(2027, 3, 1, 7, 59), "bob"),
        (utc(2027, 3, 1, 8, 0), "carol"),  # Mon 09:00 CET: the office layer wins
        (utc(2027, 3, 1, 15, 59), "carol"),
        (utc(2027, 3, 1, 16, 0), "alice"),  # 17:00 CET: back to the weekly layer
        (utc(2027, 3, 2, 8, 30), "dave"),  # Tue: the daily layer's next member
        (utc(2027, 3, 6, 12, 0), "alice"),  # Saturday: no restriction window
        (utc(2027, 3, 8, 7, 0), "alice"),  # Mon 08:00 CET, before the weekly hand-off
        (utc(2027, 3, 8, 8, 0), "dave"),  # Mon 09:00: office, its 7th daily turn
        (utc(2027, 3, 8, 16, 0), "bob"),  # weekly hand-off happened at 09:00
        # DST: 2027-03-28 02:00 CET → 03:00 CEST. Monday 29th 09:00 CEST = 07:00Z.
        (utc(2027, 3, 29, 6, 59), "bob"),
        (utc(2027, 3, 29, 7, 0), "carol"),  # office window moved to 07:00Z with the clock
        (utc(2027, 3, 29, 14, 59), "carol"),
        (utc(2027, 3, 29, 15, 0), "alice"),  # 17:00 CEST; weekly hand-off at 07:00Z
        # and back: 2027-10-31 03:00 CEST → 02:00 CET. Mon Nov 1 09:00 CET = 08:00Z.
        (utc(2027, 11, 1, 7, 59), "alice"),  # 08:59 CET: week 34 still (245 days = 35 weeks)
        (utc(2027, 11, 1, 8, 0), "dave"),  # office again at 09:00 local (day 245)
        (utc(2027, 11, 1, 16, 0), "bob"),  # 17:00 CET: week 35 began at 09:00 CET
    ],
)
def test_later_layer_wins_in_local_time_across_dst(at: datetime, who: str | None) -> None:
    assert name(rot(BERLIN), at) == who


def test_timeline_is_contiguous_and_merged() -> None:
    r = rot(BERLIN)
    tl = layers.timeline(r, utc(2027, 3, 1, 0), utc(2027, 3, 3, 0))
    assert next((t.start, t.end) for t in tl) == (utc(2027, 3, 1, 0), utc(2027, 3, 1, 8))
    assert all(a.end == b.start for a, b in itertools.pairwise(tl))
    got = [(t.start.hour, t.member.name if t.member else None) for t in tl]
    assert got == [(0, "bob"), (8, "carol"), (16, "alice"), (8, "dave"), (16, "alice")]


@pytest.mark.parametrize(
    ("restriction", "at", "active"),
    [
        ({"days": "fri", "from": "22:00", "to": "06:00"}, utc(2027, 1, 8, 23), True),
        ({"days": "fri", "from": "22:00", "to": "06:00"}, utc(2027, 1, 9, 5, 59), True),
        ({"days": "fri", "from": "22:00", "to": "06:00"}, utc(2027, 1, 9, 6), False),
        ({"days": "fri", "from": "22:00", "to": "06:00"}, utc(2027, 1, 7, 23), False),
        ({"days": ["sat", "sun"], "from": "00:00", "to": "00:00"}, utc(2027, 1, 10, 23), True),
        ({"days": ["sat", "sun"], "from": "00:00", "to": "00:00"}, utc(2027, 1, 11, 0), False),
        ({"days": "mon", "from": "09:00", "to": "24:00"}, utc(2027, 1, 11, 23, 59), True),
        ({"days": "sun-mon", "from": "10:00", "to": "11:00"}, utc(2027, 1, 10, 10), True),
    ],
)
def test_restrictions_overnight_whole_days_and_ranges(
    restriction: dict[str, Any], at: datetime, active: bool
) -> None:
    r = rot({"layers": [{"members": ["x"], "shift": "1d", "handoff": "00:00",
                         "start": "2027-01-01", "restrictions": [restriction]}],
             "fallback": "fb"})  # fmt: skip
    assert (name(r, at) == "x") is active


def test_hourly_shift_and_until() -> None:
    r = rot({"layers": [
        {"members": ["a"], "shift": "1w", "start": "2027-01-04", "handoff": "Mon 00:00"},
        {"members": ["b", "c"], "shift": "5h", "handoff": "10:00", "start": "2027-01-04",
         "until": "2027-01-05T08:00:00"},
    ]})  # fmt: skip
    assert [name(r, utc(2027, 1, 4, h)) for h in (9, 10, 14, 15, 19, 20)] == [
        "a", "b", "b", "c", "c", "b"]  # fmt: skip
    assert name(r, utc(2027, 1, 5, 8)) == "a"  # the 5h layer ended


def test_a_rotation_without_layers_is_one_full_time_layer() -> None:
    plain = rot({"members": ["a", "b", "c"], "shift": "1d", "handoff": "09:00",
                 "timezone": "America/New_York", "start": "2027-03-01"})  # fmt: skip
    layered = rot(
        {
            "timezone": "America/New_York",
            "layers": [
                {
                    "members": ["a", "b", "c"],
                    "shift": "1d",
                    "handoff": "09:00",
                    "start": "2027-03-01",
                }
            ],
        }
    )
    t = utc(2027, 2, 20)  # before start too, and across New York's DST (2027-03-14)
    for _ in range(24 * 40):
        assert who_is_on_call(plain, t).member.name == layers.who_is_on_call(plain, t).name  # type: ignore[union-attr]
        assert who_is_on_call(layered, t).member.name == who_is_on_call(plain, t).member.name
        t += timedelta(hours=1)
    a, b = utc(2027, 3, 10), utc(2027, 3, 20)
    assert [(s.start, s.end, s.member.name) for s in handoffs(layered, a, b)] == [
        (s.start, s.end, s.member.name) for s in handoffs(plain, a, b)]  # fmt: skip


def test_overrides_apply_on_top_and_gaps_show_the_fallback() -> None:
    gappy = {
        "timezone": "Europe/Berlin",
        "layers": [{**BERLIN["layers"][1]}],
        "fallback": {"name": "lead", "email": "lead@example.com"},
    }
    r = rot(gappy)
    o = Override("o1", "erin", utc(2027, 3, 1, 12), utc(2027, 3, 1, 20), utc(2027, 1, 1),
                 email="erin@example.com")  # fmt: skip
    shifts = handoffs(r, utc(2027, 3, 1, 0), utc(2027, 3, 2, 0), [o])
    got = [(s.start.hour, s.end.hour, s.member.name) for s in shifts]
    # The gap before Monday is a whole shift: from Friday 17:00 CET.
    assert got[:3] == [(16, 8, "lead"), (8, 12, "carol"), (12, 20, "erin")]
    assert shifts[0].start == utc(2027, 2, 26, 16)
    assert got[3] == (20, 8, "lead")
    assert who_is_on_call(r, utc(2027, 3, 1, 13), [o]).member.email == "erin@example.com"
    bare = rot(
        {**gappy, "fallback": None}
    )  # no fallback: nobody (with no contact) — check-config refuses it
    assert who_is_on_call(bare, utc(2027, 3, 1, 7)).member is NOBODY


def test_check_config_refuses_gaps_without_fallback_and_mixed_shapes() -> None:
    cfg = OncallConfig.model_validate({"rotations": {
        "gappy": {"layers": [BERLIN["layers"][1]]},
        "ok": BERLIN,
        "fb": {"layers": [BERLIN["layers"][1]], "fallback": "lead"},
    }})  # fmt: skip
    assert [loc for loc, _ in cfg.issues(set())] == [("oncall", "rotations", "gappy", "layers")]
    assert {m.name for m in cfg.rotations["ok"].members} == {"alice", "bob", "carol", "dave"}
    with pytest.raises(ValueError, match="either members or layers"):
        rot({"members": ["a"], "layers": BERLIN["layers"]})
    with pytest.raises(ValueError, match="at least 1h"):
        rot({"layers": [{"members": ["a"], "shift": "30m", "handoff": "09:00"}]})
    with pytest.raises(ValueError, match="unknown day"):
        rot({"layers": [{"members": ["a"], "restrictions": [{"days": "mon-fry"}]}]})


def test_restrictions_that_cover_the_week_together_leave_no_gap() -> None:
    off = [{"days": "mon-thu", "from": "17:00", "to": "09:00"},
           {"days": "fri", "from": "17:00", "to": "24:00"},
           {"days": "sat-sun", "from": "00:00", "to": "24:00"},
           {"days": "mon", "from": "00:00", "to": "09:00"}]  # fmt: skip
    office = [{"days": "mon-fri", "from": "09:00", "to": "17:00"}]
    layer = {"members": ["a"], "shift": "1w", "handoff": "Mon 09:00"}
    both = {"layers": [{**layer, "restrictions": off}, {**layer, "restrictions": office}]}
    short = {"layers": [{**layer, "restrictions": off[:3]}, {**layer, "restrictions": office}]}
    cfg = OncallConfig.model_validate({"rotations": {"both": both, "short": short}})
    assert [loc[2] for loc, _ in cfg.issues(set())] == ["short"]
