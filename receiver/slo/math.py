"""SLO arithmetic, pure: downtime as a union of intervals, availability, error budget,
burn rates and status. Times are milliseconds since the epoch; no I/O, no clock.

A service is down while any of its matching alerts fires. Intervals may overlap, nest or
still be open (`end` None: up to `now`); each is clipped to the window before the union,
so overlapping alerts count once and nothing outside the window counts.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

HOUR_MS = 3600 * 1000
# Burn-rate windows reported per service (the workbook's fast pair's long windows).
BURN_WINDOWS_MS = {"1h": HOUR_MS, "6h": 6 * HOUR_MS}
# A burn rate at or over these marks a service "at risk" (Google SRE workbook: 14.4x over
# 1 h spends 2 % of a 30-day budget in that hour, 6x over 6 h spends 5 %).
AT_RISK_BURN = {"1h": 14.4, "6h": 6.0}

Interval = tuple[int, int | None]  # (start_ms, end_ms or None while open)


class BudgetStatus(enum.IntEnum):
    """`alert_receiver_slo_status`: 1 healthy, 0 at risk, -1 breached (budget spent)."""

    HEALTHY = 1
    AT_RISK = 0
    BREACHED = -1


def union(intervals: Iterable[Interval], lo: int, hi: int) -> list[tuple[int, int]]:
    """The intervals clipped to [lo, hi] and merged: disjoint, sorted, non-empty. An open
    interval ends at `hi`; one ending before it starts (clock skew) is empty."""
    clipped = sorted((max(s, lo), min(hi if e is None else e, hi)) for s, e in intervals)
    out: list[tuple[int, int]] = []
    for s, e in clipped:
        if e <= s:
            continue
        if out and s <= out[-1][1]:
            if e > out[-1][1]:
                out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def covered_ms(intervals: Iterable[Interval], lo: int, hi: int) -> int:
    """Milliseconds of [lo, hi] inside at least one interval (overlaps counted once)."""
    return sum(e - s for s, e in union(intervals, lo, hi))


@dataclass(frozen=True)
class Figures:
    """One service's SLO over its window ending at `now_ms` (seconds unless named)."""

    objective: float  # percent, e.g. 99.9
    window_s: float
    downtime_s: float
    uptime_s: float
    availability: float  # percent of the window up
    budget_s: float  # total error budget: window x (1 - objective)
    consumed_s: float  # downtime (the budget spends one second per second down)
    remaining_s: float  # budget - consumed, never below 0
    consumed_pct: float  # of the budget; over 100 when breached
    remaining_pct: float
    burn_rates: dict[str, float]  # "1h" / "6h" → downtime ratio / allowed ratio
    status: BudgetStatus


def figures(
    intervals: Iterable[Interval],
    objective: float,
    window_ms: int,
    now_ms: int,
    at_risk_pct: float = 75.0,
) -> Figures:
    """The service's figures from its downtime intervals. `at_risk_pct`: budget consumed
    from which it is at risk (also at risk while burning at AT_RISK_BURN)."""
    spans = list(intervals)
    down_ms = covered_ms(spans, now_ms - window_ms, now_ms)
    # The budget in whole ms: 99.9 % of 6 h is 21.6 s, not 21.600000000000023.
    budget_ms = round(window_ms * (100 - objective) / 100)
    allowed = budget_ms / window_ms  # the fraction of time that may be down
    burn = {
        name: (covered_ms(spans, now_ms - w, now_ms) / w) / allowed
        for name, w in BURN_WINDOWS_MS.items()
    }
    consumed_pct = 100.0 * down_ms / budget_ms
    return Figures(
        objective=objective,
        window_s=window_ms / 1000,
        downtime_s=down_ms / 1000,
        uptime_s=(window_ms - down_ms) / 1000,
        availability=100.0 * (window_ms - down_ms) / window_ms,
        budget_s=budget_ms / 1000,
        consumed_s=down_ms / 1000,
        remaining_s=max(0.0, budget_ms - down_ms) / 1000,
        consumed_pct=consumed_pct,
        remaining_pct=max(0.0, 100.0 - consumed_pct),
        burn_rates=burn,
        status=status(consumed_pct, burn, at_risk_pct),
    )


def status(consumed_pct: float, burn: dict[str, float], at_risk_pct: float) -> BudgetStatus:
    """Breached once the budget is spent; at risk from `at_risk_pct` consumed or while
    burning fast; else healthy."""
    if consumed_pct >= 100.0:
        return BudgetStatus.BREACHED
    if consumed_pct >= at_risk_pct or any(burn.get(k, 0.0) >= v for k, v in AT_RISK_BURN.items()):
        return BudgetStatus.AT_RISK
    return BudgetStatus.HEALTHY


def crossed(consumed_pct: float, thresholds: Iterable[float]) -> set[float]:
    """The thresholds (percent of the budget consumed) that the figure is at or over."""
    return {t for t in thresholds if consumed_pct >= t}


def compact(intervals: Iterable[Interval], keep_from_ms: int) -> list[tuple[int, int]]:
    """Closed intervals merged, those ending before `keep_from_ms` dropped (an interval
    crossing it keeps its start: it may still overlap the window). Open ones are ignored."""
    closed = [(s, e) for s, e in intervals if e is not None and e >= keep_from_ms]
    if not closed:
        return []
    return union(closed, min(s for s, _ in closed), max(e for _, e in closed))
