"""The pure parts of an import: names, durations, weekly ranges as daily restrictions,
Opsgenie's cumulative overlaps reported, and the comparison marking differences."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from receiver.importers import compare, grafana_oncall, opsgenie
from receiver.importers.model import Names, render_yaml, span
from receiver.importers.opsgenie import week_range
from receiver.oncall.config import Layer, week_coverage

FIX = Path(__file__).resolve().parents[2] / "fixtures"
NOW = datetime(2026, 12, 8, tzinfo=UTC)


def load(vendor: str) -> dict[str, Any]:
    """The raw dict fetch() builds, read from the saved responses."""
    root = FIX / vendor

    def get(path: str) -> Any:
        return json.loads((root / f"{path}.json").read_text())

    if vendor == "grafana_oncall":
        return {n: get(f"api/v1/{n}")["results"] for n in (
            "users", "schedules", "on_call_shifts", "escalation_chains", "escalation_policies",
            "personal_notification_rules")}  # fmt: skip
    users = get("v2/users")["data"]
    raw: dict[str, Any] = {"users": users, "contacts": {}, "rules": {}}
    for u in users:
        raw["contacts"][u["id"]] = get(f"v2/users/{u['id']}/contacts")["data"]
        raw["rules"][u["id"]] = [
            get(f"v2/users/{u['id']}/notification-rules/{r['id']}")["data"]
            if r["actionType"] == "create-alert" else r
            for r in get(f"v2/users/{u['id']}/notification-rules")["data"]]  # fmt: skip
    raw["schedules"] = get("v2/schedules")["data"]
    raw["overrides"] = {s["id"]: get(f"v2/schedules/{s['id']}/overrides")["data"]
                        for s in raw["schedules"]}  # fmt: skip
    raw["escalations"], raw["teams"] = get("v2/escalations")["data"], get("v2/teams")["data"]
    return raw


def test_names_are_valid_unique_and_stable() -> None:
    n = Names()
    assert [n.make(x) for x in ("web team", "web team", "é!", "a.b")] == [
        "web-team",
        "web-team-2",
        "unnamed",
        "a.b",
    ]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0w"), (3600, "1h"), (5400, "90m"), (86400 * 14, "2w"), (86400 * 3, "3d")],
)
def test_span(seconds: int, text: str) -> None:
    assert span(seconds) == text


@pytest.mark.parametrize(("args", "minutes"), [
    ((4, 17 * 60, 0, 9 * 60), 64 * 60),   # Fri 17:00 → Mon 09:00
    ((0, 9 * 60, 0, 17 * 60), 8 * 60),    # Mon 09:00 → Mon 17:00
    ((2, 12 * 60, 2, 12 * 60), 7 * 1440),  # Wed noon → Wed noon: the whole week
    ((5, 0, 0, 0), 2 * 1440),             # Sat 00:00 → Mon 00:00
])  # fmt: skip
def test_week_range_covers_exactly_the_range(args: tuple[int, int, int, int],
                                             minutes: int) -> None:  # fmt: skip
    layer = Layer.model_validate({"members": ["a"], "restrictions": week_range(*args)})
    cov = week_coverage(layer)
    assert sum(cov) == minutes
    assert cov[args[0] * 1440 + args[1]] == 1


def test_opsgenie_overlapping_rotations_are_reported() -> None:
    raw = load("opsgenie")
    raw["schedules"][0]["rotations"][0].pop("timeRestriction")  # weekly now 24/7: overlaps
    r = opsgenie.convert(raw, NOW)
    assert any("notifies everyone on call in each" in u.what for u in r.unmapped)
    assert not any("overlap" in u.what for u in opsgenie.convert(load("opsgenie"), NOW).unmapped)


def test_same_input_same_output_and_ids_kept() -> None:
    a = render_yaml(grafana_oncall.convert(load("grafana_oncall"), NOW), "h")
    b = render_yaml(grafana_oncall.convert(load("grafana_oncall"), NOW), "h")
    assert a == b and "# grafana-oncall schedule SBM7DV7BKFUYU (web-team)" in a


def test_compare_marks_what_differs_and_nobody_agrees_with_nobody() -> None:
    r = opsgenie.convert(load("opsgenie"), NOW)
    alice = "4513b7ea-3b91-438f-b7e4-e3e54af9147c"
    start = datetime(2027, 3, 16, 16, tzinfo=UTC)  # Tue 17:00 CET: alice's off-hours
    periods = [
        (start, datetime(2027, 3, 16, 18, tzinfo=UTC), alice),
        (start, datetime(2027, 3, 16, 17, tzinfo=UTC), "6b2d5033-9d2f-4a1f-8e8b-1c3b42b1c1c2"),
    ]
    runs = compare.compare(r, "platform", periods, start, 3)
    assert [(x.hours, x.source, x.imported, x.differs) for x in runs] == [
        (1, ("alice", "carol"), ("alice",), True),
        (1, ("alice",), ("alice",), False),
        (1, (), ("alice",), True),
    ]
    assert "3 hours compared, 2 differ" in compare.render("platform", runs)
