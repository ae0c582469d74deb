"""The SLO interval store in Redis: reading a service's downtime intervals, compacting
them, and claiming threshold crossings. The intake script writes the intervals
(store/lua/intake.lua: opened when a matching alert starts firing, closed on its resolve).

Compaction keeps a service's closed intervals bounded: those that ended before its window
(plus a margin) are dropped and the rest merged into disjoint ones. It removes exactly the
members it read and adds the merged ones in one MULTI, so an interval the intake closes
meanwhile is kept, and two replicas compacting at once write the same members (a lease
makes that rare anyway).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from receiver.slo import math as slo_math
from receiver.slo.config import ServiceObjective, SloConfig
from receiver.store import keys as K
from receiver.store import scripts

# Intervals are kept this long past the window, so a report with a slightly longer
# `--window` or a clock running behind still sees them.
MARGIN_MS = 86400 * 1000
LEASE_MS = 600 * 1000  # one compaction per service and lease, across replicas


@dataclass(frozen=True)
class Intervals:
    """A service's downtime as stored: open ones (fingerprint → start) and closed ones."""

    open: dict[str, int]
    closed: list[tuple[int, int]]
    members: list[str]  # the closed ones' sorted-set members, as read

    def all(self) -> list[slo_math.Interval]:
        return [*self.closed, *((s, None) for s in self.open.values())]


def _parse(member: str) -> tuple[int, int]:
    start, end = member.split("|")[:2]
    return int(start), int(end)


class SloStore:
    def __init__(self, redis: Any, keys: K.Keys, clock: Callable[[], float]) -> None:
        self.redis, self.keys, self.clock = redis, keys, clock
        self._notify = scripts.register(redis, "slo_notify.lua")

    async def intervals(self, service: str, since_ms: int | None = None) -> Intervals:
        """The service's intervals; closed ones only if they end at or after `since_ms`."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self.keys.slo_open(service))
            pipe.zrangebyscore(self.keys.slo_closed(service),
                               "-inf" if since_ms is None else since_ms, "+inf")  # fmt: skip
            opened, members = await pipe.execute()
        members = [m.decode() if isinstance(m, bytes) else m for m in members]
        return Intervals(
            {_s(k): int(v) for k, v in opened.items()}, [_parse(m) for m in members], members
        )

    async def figures(
        self, svc: ServiceObjective, name: str, cfg: SloConfig, window_s: float | None = None
    ) -> slo_math.Figures:
        """The service's figures now, over its window (or `window_s`)."""
        now_ms = int(self.clock() * 1000)
        window_ms = int((window_s or svc.window) * 1000)
        found = await self.intervals(name, now_ms - max(window_ms, slo_math.BURN_WINDOWS_MS["6h"]))
        return slo_math.figures(found.all(), svc.objective, window_ms, now_ms, cfg.at_risk)

    async def compact(self, name: str, svc: ServiceObjective, owner: str) -> int | None:
        """Merges the service's closed intervals and drops those older than its window and
        the margin, if this replica gets the lease; returns how many members it removed."""
        if not await self.redis.set(self.keys.slo_lease(name), owner, nx=True, px=LEASE_MS):
            return None
        now_ms = int(self.clock() * 1000)
        found = await self.intervals(name)
        keep_from = now_ms - int(svc.window * 1000) - MARGIN_MS
        merged = slo_math.compact(found.closed, keep_from)
        fresh = {f"{s}|{e}": e for s, e in merged}
        if set(fresh) == set(found.members):
            return 0
        key = self.keys.slo_closed(name)
        async with self.redis.pipeline(transaction=True) as pipe:
            if found.members:
                pipe.zrem(key, *found.members)
            if fresh:
                pipe.zadd(key, fresh)
            await pipe.execute()
        return len(found.members)

    async def alerted(self, name: str) -> set[str]:
        """The thresholds whose crossing was notified and still holds."""
        return {_s(t) for t in await self.redis.hkeys(self.keys.slo_alerted(name))}

    async def claim_crossings(self, name: str, jobs: dict[str, list[str]]) -> list[str]:
        """Notifies the thresholds in `jobs` not notified yet (their jobs to the outbox) and
        forgets those no longer crossed, atomically; returns the ones this call notified."""
        raw = await self._notify(
            keys=[self.keys.slo_alerted(name)],
            args=[self.keys.tag, int(self.clock() * 1000), orjson.dumps(jobs or {})],
        )
        done: list[str] = orjson.loads(raw) if raw not in (b"{}", "{}") else []
        return done


def _s(v: str | bytes) -> str:
    return v.decode() if isinstance(v, bytes) else v
