"""Keeps the SLO figures current on every replica: computes each service's figures from
Redis, sets the metrics, notifies budget threshold crossings (claimed once across
replicas) and compacts the intervals (one replica per lease)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from receiver.metrics import Metrics
from receiver.models import AlertSnapshot, Notification, Reason, Status, fingerprint
from receiver.periodic import Periodic
from receiver.slo import math as slo_math
from receiver.slo.config import ServiceObjective, SloConfig, window_text
from receiver.slo.store import SloStore

log = logging.getLogger("receiver.slo")
ALERTNAME = "ErrorBudgetConsumed"


def threshold_key(t: float) -> str:
    return f"{t:g}"


def crossing_jobs(
    name: str, svc: ServiceObjective, f: slo_math.Figures, threshold: str, now_ms: int
) -> list[str]:
    """One notification job per `notify` receiver for the service's crossing of
    `threshold` (percent of its budget consumed)."""
    labels = {"alertname": ALERTNAME, "service": name, "slo": svc.slo_label,
              "threshold": threshold, "source": "alert-receiver",
              "severity": "critical" if float(threshold) >= 100 else "warning"}  # fmt: skip
    window = window_text(svc.window)
    snap = AlertSnapshot(
        fingerprint=fingerprint(labels),
        status=Status.FIRING,
        labels=labels,
        annotations={
            "summary": f"{name}: {threshold} % of its {window} error budget consumed "
            f"(objective {svc.slo_label} %)",
            "description": f"Availability {f.availability:.4f} % over {window}: "
            f"{f.downtime_s:.0f} s down of {f.budget_s:.0f} s allowed "
            f"({f.consumed_pct:.1f} % consumed, {f.remaining_s:.0f} s left); burn rate "
            f"{f.burn_rates['1h']:.2f} over 1h, {f.burn_rates['6h']:.2f} over 6h.",
        },
        startsAt=datetime.fromtimestamp(now_ms / 1000, UTC).isoformat().replace("+00:00", "Z"),
        receiver="slo",
    )
    return [
        Notification(
            key=f"{snap.fingerprint}/{dest}/slo/{now_ms}",
            destination=dest,
            reason=Reason.NEW,
            alert=snap,
            route=f"slo:{name}",
            enqueued_at_ms=now_ms,
            decided_at_ms=now_ms,
        ).to_json()
        for dest in svc.notify
    ]


class SloRunner(Periodic):
    name, log = "slo", log

    def __init__(
        self,
        store: SloStore,
        config: Callable[[], SloConfig],
        metrics: Metrics,
        owner: str,
        clock: Callable[[], float] = time.time,
        target: str = "",
    ) -> None:
        self.store, self.config, self.metrics, self.owner = store, config, metrics, owner
        self.clock, self.target = clock, target
        self.interval_s = config().interval
        self._labelled: set[tuple[str, str]] = set()  # (service, slo) with metric children

    async def step(self) -> None:
        cfg = self.config()
        self.interval_s = cfg.interval
        self._forget_removed(cfg)
        for name, svc in cfg.services.items():
            f = await self.store.figures(svc, name, cfg)
            self.observe(name, svc, f)
            await self.thresholds(name, svc, cfg, f)
            await self.store.compact(name, svc, self.owner)

    def observe(self, name: str, svc: ServiceObjective, f: slo_math.Figures) -> None:
        m, slo = self.metrics, svc.slo_label
        self._labelled.add((name, slo))
        m.slo_window_uptime.labels(name).set(f.uptime_s)
        m.slo_window_downtime.labels(name).set(f.downtime_s)
        m.error_budget.labels(name, slo).set(f.budget_s)
        m.error_budget_used.labels(name, slo).set(f.consumed_s)
        m.slo_status.labels(name, slo).set(int(f.status))
        for window, rate in f.burn_rates.items():
            m.slo_burn_rate.labels(name, slo, window).set(rate)

    async def thresholds(
        self, name: str, svc: ServiceObjective, cfg: SloConfig, f: slo_math.Figures
    ) -> list[str]:
        """Notifies the thresholds newly crossed (once across replicas); returns them."""
        if not svc.notify:
            return []
        crossed = {threshold_key(t) for t in slo_math.crossed(f.consumed_pct, cfg.thresholds)}
        known = await self.store.alerted(name)
        if crossed == known:
            return []
        now_ms = int(self.clock() * 1000)
        jobs = {t: crossing_jobs(name, svc, f, t, now_ms) if t not in known else []
                for t in crossed}  # fmt: skip
        done = await self.store.claim_crossings(name, jobs)
        for t in done:
            self.metrics.slo_notifications.labels(name, t).inc()
            log.warning("error budget threshold crossed",
                        extra={"service": name, "threshold": t, "to": svc.notify,
                               "consumed_pct": round(f.consumed_pct, 2)})  # fmt: skip
        return done

    def _forget_removed(self, cfg: SloConfig) -> None:
        """Drops the metric children of services a reload removed or changed."""
        live = {(n, s.slo_label) for n, s in cfg.services.items()}
        m = self.metrics
        for name, slo in self._labelled - live:
            for metric, labels in ((m.slo_window_uptime, (name,)),
                                   (m.slo_window_downtime, (name,)),
                                   (m.error_budget, (name, slo)),
                                   (m.error_budget_used, (name, slo)),
                                   (m.slo_status, (name, slo))):  # fmt: skip
                _remove(metric, labels)
            for window in slo_math.BURN_WINDOWS_MS:
                _remove(m.slo_burn_rate, (name, slo, window))
        self._labelled &= live


def _remove(metric: Any, labels: tuple[str, ...]) -> None:
    try:
        metric.remove(*labels)
    except KeyError:
        pass
