"""What the intake and the escalation runner ask while deciding: which maintenance
occurrence an alert is in now. In memory, refreshed from the config and Redis by the
runner's every tick (and by the API after a change), so the intake's hot path makes no
Redis call of its own for it; what was muted is in Redis (the muted sets), so an end
claim on any replica releases it whatever this memory held."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from receiver.maintenance.config import WindowSpec
from receiver.maintenance.schedule import Occurrence, Window, active_at, ladder_shift, occurrences
from receiver.maintenance.store import RETAIN_MS, MaintenanceStore
from receiver.models import MaintenanceMark, maintenance_marker

# Occurrences are expanded this far around now once, then filtered per decision.
HORIZON_MS = 3600 * 1000


def marker(occ: Occurrence) -> str:
    """The state record's `maint` field: `occurrence id;until ms;window name`."""
    return maintenance_marker(occ.id, occ.end_ms, occ.name)


class Gate:
    """The windows in force; `configured()` gives the config's (read on each refresh, so
    a reload applies at the next tick)."""

    def __init__(
        self,
        store: MaintenanceStore,
        configured: Callable[[], Mapping[str, WindowSpec]],
    ) -> None:
        self.store, self.configured = store, configured
        # The config's windows from the start; the run-time ones from the first refresh.
        self.windows: list[Window] = self._config()
        self.ended: dict[str, int] = {}
        self._span = (0, -1)  # the expanded span [lo, hi)
        self._occ: list[tuple[Window, Occurrence]] = []

    async def refresh(self) -> None:
        """Reads the run-time windows and early ends again."""
        runtime = [s.window for s in await self.store.runtime()]
        self.set(self._config() + runtime, await self.store.ended())

    def _config(self) -> list[Window]:
        return [Window(name, spec, name) for name, spec in self.configured().items()]

    def set(self, windows: list[Window], ended: dict[str, int]) -> None:
        """The windows and early ends; the expanded span is kept while they are the same."""
        if windows != self.windows or ended != self.ended:
            self._span = (0, -1)
        self.windows, self.ended = windows, ended

    def _in_force(self, now_ms: int) -> list[tuple[Window, Occurrence]]:
        lo, hi = self._span
        if not lo <= now_ms < hi:
            self._span = (now_ms - HORIZON_MS, now_ms + HORIZON_MS)
            self._occ = [(w, o) for w in self.windows
                         for o in occurrences(w, *self._span, self.ended)]  # fmt: skip
        return [(w, o) for w, o in self._occ if o.start_ms <= now_ms < o.end_ms]

    def occurrence(self, labels: dict[str, str], now_ms: int) -> Occurrence | None:
        if not self.windows:
            return None
        return active_at(self._in_force(now_ms), labels)

    def mark(self, labels: dict[str, str], now_ms: int) -> MaintenanceMark | None:
        """The intake's question (pipeline.intake.MaintenanceGate)."""
        occ = self.occurrence(labels, now_ms)
        if occ is None:
            return None
        return MaintenanceMark(occ.id, marker(occ), occ.end_ms - now_ms + RETAIN_MS, occ.digest,
                               occ.name)  # fmt: skip

    def paused(self, labels: dict[str, str], started_ms: int, now_ms: int) -> int | None:
        """The escalation runner's question (escalation.runner.LadderPause)."""
        occ = self.occurrence(labels, now_ms)
        return None if occ is None else started_ms + ladder_shift(started_ms, occ)

    def in_force(self, now_ms: int) -> list[Occurrence]:
        """Every occurrence in force now (gauges, listings)."""
        return [o for _, o in self._in_force(now_ms)] if self.windows else []
