"""How the app builds maintenance windows' parts (receiver/server/app.py calls these)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import aiohttp
from redis.exceptions import RedisError

from receiver.maintenance import Maintenance
from receiver.maintenance.gate import Gate
from receiver.maintenance.runner import MaintenanceRunner
from receiver.maintenance.silence import SilenceMirror
from receiver.maintenance.store import MaintenanceStore
from receiver.pipeline.intake import Intake
from receiver.store.keys import Keys

if TYPE_CHECKING:  # the app state imports this package
    from receiver.api.state import AppState

log = logging.getLogger("receiver.maintenance")


def maintenance_of(
    redis: Any, keys: Keys, state: AppState, clock: Callable[[], float]
) -> Maintenance:
    """The store (on the client whose changes wait for redis.durability) and the gate,
    on the current config's windows."""
    store = MaintenanceStore(redis, keys, clock)
    return Maintenance(store, Gate(store, lambda: state.settings.maintenance.windows))


async def refresh_gate(m: Maintenance) -> None:
    """Reads the run-time windows once at start (the runner keeps them current)."""
    try:
        await m.gate.refresh()
    except RedisError as e:  # the runner tries again on its every tick
        log.warning("maintenance windows not read yet", extra={"error": repr(e)})


def maintenance_runner(
    m: Maintenance,
    intake: Intake,
    state: AppState,
    replica: str,
    clock: Callable[[], float],
    session: aiohttp.ClientSession,
) -> MaintenanceRunner:
    """The loop; its silence mirror uses the app's HTTP session and the Alertmanager of
    the current config's ack.alertmanager_silence."""
    mirror = SilenceMirror(lambda: state.settings.ack.alertmanager_silence, session)
    return MaintenanceRunner(m.store, m.gate, intake, state.metrics, replica, clock,
                             target=state.redis_target, mirror=mirror)  # fmt: skip
