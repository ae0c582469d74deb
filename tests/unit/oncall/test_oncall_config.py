"""The `oncall` config section: what check-config refuses, with the line of the mistake."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from receiver.config.loader import ConfigError
from receiver.oncall.config import DEFAULT_START, Handoff, parse_handoff
from receiver.server.check import load_settings

BASE = """\
auth: none
receivers:
  mail: {type: log}
oncall:
  rotations:
    primary:
      members:
        - {name: alice, email: alice@example.com, receiver: mail}
        - {name: bob, email: bob@example.com, slack: U0BOB, pagerduty: PBOB}
      shift: 1w
      handoff: "Mon 09:00"
      timezone: Europe/Berlin
"""

# (case, text replaced → by, expected "line: key.path: message start")
TABLE = [
    ("unknown timezone", ("Europe/Berlin", "Europe/Berln"),
     "12: oncall.rotations.primary.timezone: unknown timezone 'Europe/Berln'"),
    ("bad handoff", ('"Mon 09:00"', '"Mon 9am"'),
     '11: oncall.rotations.primary.handoff: handoff must be "HH:MM" or "DAY HH:MM"'),
    ("bad hour", ('"Mon 09:00"', '"Mon 25:00"'), "11: oncall.rotations.primary.handoff: "),
    ("bad day", ('"Mon 09:00"', '"Mun 09:00"'), "11: oncall.rotations.primary.handoff: "),
    ("empty members", ("        - {name: alice, email: alice@example.com, receiver: mail}\n"
                       "        - {name: bob, email: bob@example.com, slack: U0BOB, "
                       "pagerduty: PBOB}\n", "        []\n"),
     "7: oncall.rotations.primary.members: a rotation needs at least one member"),
    ("duplicate member", ("name: bob", "name: alice"),
     '9: oncall.rotations.primary.members.1.name: duplicate member name "alice"'),
    ("undefined receiver", ("receiver: mail", "receiver: pager"),
     '8: oncall.rotations.primary.members.0.receiver: undefined receiver "pager" '
     "(defined: mail)"),
    ("bad email", ("bob@example.com", "bob"), "9: oncall.rotations.primary.members.1.email: "
     "not an email address"),
    ("weekday with daily shift", ("shift: 1w", "shift: 1d"),
     '6: oncall.rotations.primary: handoff "Mon 09:00" names a day, so shift must be whole'),
    ("odd shift", ("shift: 1w", "shift: 5h"),
     "10: oncall.rotations.primary.shift: shift must be whole days"),
    ("shift under the minimum", ("shift: 1w", "shift: 1m"),
     "10: oncall.rotations.primary.shift: shift must be whole days (1d, 2d, 1w) or divide a "
     "day evenly, and at least 1h (1h, 2h, 8h, 12h); got 1m"),
    ("misspelled key", ("timezone:", "time_zone:"),
     '12: oncall.rotations.primary.time_zone: unknown key (did you mean "timezone"?)'),
    ("bad rotation name", ("    primary:", "    prim/ary:"), "5: oncall.rotations: rotation name"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "edit", "expected"), TABLE, ids=[r[0] for r in TABLE])
def test_refused(tmp_path: Path, case: str, edit: tuple[str, str], expected: str) -> None:
    assert edit[0] in BASE
    cfg = tmp_path / "c.yml"
    cfg.write_text(BASE.replace(*edit))
    with pytest.raises(ConfigError) as e:
        load_settings(cfg)
    lines = [str(i) for i in e.value.issues]
    assert any(line.startswith(f"{cfg}:{expected}") for line in lines), lines


def test_accepted_with_defaults(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yml"
    cfg.write_text(BASE + "    daily:\n      members: [{name: carol, email: c@example.com}]\n"
                   "      shift: 12h\n      handoff: '08:00'\n")  # fmt: skip
    oncall = load_settings(cfg).oncall
    daily = oncall.rotations["daily"]
    assert (daily.timezone, daily.start) == ("UTC", DEFAULT_START)
    assert daily.anchor == datetime(2024, 1, 1, 8, 0)
    assert oncall.rotations["primary"].anchor == datetime(2024, 1, 1, 9, 0)  # a Monday
    assert oncall.person("carol") is not None and oncall.person("zed") is None


def test_anchor_is_the_first_hand_off_on_or_after_start(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yml"
    cfg.write_text(BASE + "      start: 2026-03-04\n")  # a Wednesday
    assert load_settings(cfg).oncall.rotations["primary"].anchor == datetime(2026, 3, 9, 9, 0)


@pytest.mark.parametrize(("text", "want"), [
    ("09:00", Handoff(datetime(1, 1, 1, 9).time())),
    ("Mon 09:00", Handoff(datetime(1, 1, 1, 9).time(), 0)),
    ("sunday 23:59", Handoff(datetime(1, 1, 1, 23, 59).time(), 6)),
    ("  Fri 7:30 ", Handoff(datetime(1, 1, 1, 7, 30).time(), 4)),
])  # fmt: skip
def test_parse_handoff(text: str, want: Handoff) -> None:
    assert parse_handoff(text) == want
