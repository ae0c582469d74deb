"""Maintenance windows (issue 26): config and run-time windows, the pure schedule, the
gate the intake and the escalation runner ask, the runner that claims starts and ends."""

from __future__ import annotations

from dataclasses import dataclass

from receiver.maintenance.gate import Gate
from receiver.maintenance.store import MaintenanceStore


@dataclass(frozen=True)
class Maintenance:
    """What the handlers and loops share: the Redis store and the in-memory gate."""

    store: MaintenanceStore
    gate: Gate
