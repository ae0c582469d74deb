"""SLO arithmetic against hand calculations: unions of overlapping, nested, open and
window-crossing intervals; availability, budget, burn rates and status."""

from __future__ import annotations

import pytest

from receiver.slo.math import (
    HOUR_MS,
    BudgetStatus,
    Interval,
    compact,
    covered_ms,
    crossed,
    figures,
    status,
    union,
)

M = 60 * 1000  # one minute in ms
DAY = 24 * HOUR_MS


@pytest.mark.parametrize(
    ("intervals", "lo", "hi", "expected"),
    [
        ([], 0, 100, []),
        ([(10, 20)], 0, 100, [(10, 20)]),
        # overlapping: counted once
        ([(10, 30), (20, 40)], 0, 100, [(10, 40)]),
        # nested
        ([(10, 50), (20, 30)], 0, 100, [(10, 50)]),
        # touching intervals merge
        ([(10, 20), (20, 30)], 0, 100, [(10, 30)]),
        # disjoint, out of order
        ([(60, 70), (10, 20)], 0, 100, [(10, 20), (60, 70)]),
        # open: up to hi
        ([(80, None)], 0, 100, [(80, 100)]),
        # open nesting a closed one
        ([(50, None), (60, 70)], 0, 100, [(50, 100)]),
        # crossing the window's start: clipped
        ([(-50, 30)], 0, 100, [(0, 30)]),
        # crossing the window's end (a clock ahead): clipped
        ([(90, 150)], 0, 100, [(90, 100)]),
        # entirely before or after the window: nothing
        ([(-50, -10), (120, 130)], 0, 100, []),
        # empty and reversed intervals count nothing
        ([(40, 40), (50, 45)], 0, 100, []),
        # a chain of overlaps, one open
        ([(10, 20), (15, 25), (24, 30), (29, None)], 0, 100, [(10, 100)]),
    ],
)
def test_union(
    intervals: list[Interval], lo: int, hi: int, expected: list[tuple[int, int]]
) -> None:
    assert union(intervals, lo, hi) == expected
    assert covered_ms(intervals, lo, hi) == sum(e - s for s, e in expected)


NOW = 1_700_000_000_000
WINDOW = 30 * DAY


def test_figures_by_hand_overlapping_nested_open_and_crossing() -> None:
    intervals: list[Interval] = [
        # crossing the window start: 10 min of it are inside
        (NOW - WINDOW - 20 * M, NOW - WINDOW + 10 * M),
        # 20 min with a nested 5 min and an overlapping one adding 10 min: 30 min
        (NOW - 10 * DAY, NOW - 10 * DAY + 20 * M),
        (NOW - 10 * DAY + 5 * M, NOW - 10 * DAY + 10 * M),
        (NOW - 10 * DAY + 15 * M, NOW - 10 * DAY + 30 * M),
        # open for the last 3 min
        (NOW - 3 * M, None),
    ]
    f = figures(intervals, 99.9, WINDOW, NOW)
    down_s = (10 + 30 + 3) * 60
    assert f.downtime_s == down_s
    assert f.window_s == 30 * 86400
    assert f.uptime_s == 30 * 86400 - down_s
    assert f.availability == pytest.approx(100 * (1 - down_s / (30 * 86400)))
    # 0.1 % of 30 days = 43.2 min = 2592 s
    assert f.budget_s == pytest.approx(2592.0)
    assert f.consumed_s == down_s
    assert f.remaining_s == pytest.approx(2592.0 - down_s)
    assert f.consumed_pct == pytest.approx(100 * down_s / 2592)  # 99.54 %
    assert f.remaining_pct == pytest.approx(100 - 100 * down_s / 2592)
    # last hour: 3 min down = 5 % of the hour; allowed 0.1 % → burn 50
    assert f.burn_rates["1h"] == pytest.approx(50.0)
    # last 6 h: 3 min of 360 → 0.8333 % / 0.1 % = 8.33
    assert f.burn_rates["6h"] == pytest.approx(3 / 360 / 0.001)
    assert f.status is BudgetStatus.AT_RISK


def test_no_downtime_is_healthy_full_budget() -> None:
    f = figures([], 99.5, 7 * DAY, NOW)
    assert (f.downtime_s, f.availability, f.consumed_pct, f.remaining_pct) == (0, 100, 0, 100)
    assert f.budget_s == pytest.approx(7 * 86400 * 0.005)
    assert f.burn_rates == {"1h": 0.0, "6h": 0.0}
    assert f.status is BudgetStatus.HEALTHY


def test_breached_budget_remaining_is_zero() -> None:
    # 99 % over 1 day: 864 s of budget; 1000 s down, 10 days ago and yesterday
    f = figures([(NOW - DAY + HOUR_MS, NOW - DAY + HOUR_MS + 1_000_000)], 99.0, DAY, NOW)
    assert f.budget_s == pytest.approx(864.0)
    assert f.consumed_s == 1000
    assert f.remaining_s == 0 and f.remaining_pct == 0
    assert f.consumed_pct == pytest.approx(100 * 1000 / 864)
    assert f.status is BudgetStatus.BREACHED


@pytest.mark.parametrize(
    ("consumed", "burn", "expected"),
    [
        (0.0, {"1h": 0.0, "6h": 0.0}, BudgetStatus.HEALTHY),
        (74.9, {"1h": 14.3, "6h": 5.9}, BudgetStatus.HEALTHY),
        (75.0, {"1h": 0.0, "6h": 0.0}, BudgetStatus.AT_RISK),
        (10.0, {"1h": 14.4, "6h": 0.0}, BudgetStatus.AT_RISK),
        (10.0, {"1h": 0.0, "6h": 6.0}, BudgetStatus.AT_RISK),
        (100.0, {"1h": 0.0, "6h": 0.0}, BudgetStatus.BREACHED),
        (250.0, {"1h": 99.0, "6h": 99.0}, BudgetStatus.BREACHED),
    ],
)
def test_status(consumed: float, burn: dict[str, float], expected: BudgetStatus) -> None:
    assert status(consumed, burn, 75.0) is expected


def test_crossed_thresholds() -> None:
    assert crossed(49.9, [50, 90, 100]) == set()
    assert crossed(50.0, [50, 90, 100]) == {50}
    assert crossed(120.0, [50, 90, 100]) == {50, 90, 100}


def test_compact_merges_and_drops_what_ended_before_the_cut() -> None:
    intervals: list[Interval] = [(0, 10), (5, 20), (30, 40), (35, 38), (100, 120), (110, None)]
    # (0,10) and (5,20) end before 25 → gone; open ones are not compacted
    assert compact(intervals, 25) == [(30, 40), (100, 120)]
    # an interval crossing the cut keeps its start
    assert compact([(0, 50), (40, 60)], 45) == [(0, 60)]
    assert compact([], 0) == []
