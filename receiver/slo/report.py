"""An SLO report: every configured service's figures as JSON (GET /api/v1/slo, `slo report
--json`) or as a table (`slo report`)."""

from __future__ import annotations

from typing import Any

from receiver.config.durations import format_duration
from receiver.slo import math as slo_math
from receiver.slo.config import ServiceObjective, SloConfig, window_text
from receiver.slo.store import SloStore

STATUS_NAMES = {1: "healthy", 0: "at_risk", -1: "breached"}


def service_view(name: str, svc: ServiceObjective, f: slo_math.Figures) -> dict[str, Any]:
    return {
        "service": name, "objective": svc.objective, "window": window_text(f.window_s),
        "matchers": svc.matchers,
        "availability": round(f.availability, 6),
        "uptime_seconds": round(f.uptime_s, 3), "downtime_seconds": round(f.downtime_s, 3),
        "error_budget": {
            "total_seconds": round(f.budget_s, 3), "consumed_seconds": round(f.consumed_s, 3),
            "remaining_seconds": round(f.remaining_s, 3),
            "consumed_percent": round(f.consumed_pct, 3),
            "remaining_percent": round(f.remaining_pct, 3),
        },
        "burn_rate": {k: round(v, 4) for k, v in f.burn_rates.items()},
        "status": int(f.status), "status_name": STATUS_NAMES[int(f.status)],
    }  # fmt: skip


async def report(
    store: SloStore, cfg: SloConfig, window_s: float | None = None
) -> list[dict[str, Any]]:
    """Every configured service's figures now (over `window_s` instead of its own)."""
    return [
        service_view(name, svc, await store.figures(svc, name, cfg, window_s))
        for name, svc in sorted(cfg.services.items())
    ]


def table(rows: list[dict[str, Any]]) -> str:
    """The report as a fixed-width table, one service a line."""
    head = ("SERVICE", "OBJECTIVE", "WINDOW", "AVAILABILITY", "DOWN", "BUDGET", "USED",
            "LEFT", "BURN 1H", "BURN 6H", "STATUS")  # fmt: skip
    lines = [head]
    for r in rows:
        b = r["error_budget"]
        lines.append((
            r["service"], f"{r['objective']:g}%", r["window"], f"{r['availability']:.4f}%",
            format_duration(r["downtime_seconds"]), format_duration(b["total_seconds"]),
            f"{b['consumed_percent']:.1f}%", format_duration(b["remaining_seconds"]),
            f"{r['burn_rate']['1h']:.2f}", f"{r['burn_rate']['6h']:.2f}", r["status_name"],
        ))  # fmt: skip
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
                     for line in lines)  # fmt: skip
