"""Runs maintenance windows on every replica: refreshes the gate, claims each
occurrence's start and end once across replicas (store/lua/maintenance_claim.lua), and
at an end releases what the window held.

The release reads the occurrence's muted set from Redis (written by the intake in the
step that muted), so an alert muted by any replica, up to the last moment, is released:
each one still firing is decided again through the intake (MAINTENANCE_ENDED: every
destination told once, the alert taken out of the set in the same step); one that
resolved inside the window is counted, not told. A second pass, a little later (the
`sweep` phase), releases what a replica whose clock or memory lagged muted after the end.
A replica that dies holding a claim loses nothing: the lease expires, another takes it,
and releasing again tells no one twice (the notification records say who was told).
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

import orjson

from receiver.maintenance.gate import Gate, marker
from receiver.maintenance.schedule import Occurrence, ended_between, started_between
from receiver.maintenance.silence import SilenceMirror
from receiver.maintenance.store import MaintenanceStore
from receiver.metrics import Metrics
from receiver.models import ZERO_TIME, Severity, Status
from receiver.payload import Alert, Payload
from receiver.periodic import Periodic
from receiver.pipeline.entries import Incoming
from receiver.pipeline.intake import Intake

log = logging.getLogger("receiver.maintenance")
LEASE_MS = 30_000
LOOKBACK_MS = 24 * 3600 * 1000  # ends this old are still claimed (after an outage)
SWEEP_MS = 10_000  # the second pass, this long after the end
PRUNE_EVERY_S = 3600.0
RETRY_S = 5.0  # a failed silence request, again after this long
MAX_DONE = 10_000  # phases remembered as done (each is also a claim in Redis)


def incoming(fp: str, starts_at: str, doc: dict[str, Any]) -> Incoming:
    """A firing alert rebuilt from its stored state, as the intake needs it."""
    labels = doc.get("labels", {})
    alert = Alert(status=Status.FIRING, labels=labels, annotations=doc.get("annotations", {}),
                  startsAt=starts_at, endsAt=ZERO_TIME, generatorURL=doc.get("generatorURL", ""),
                  fingerprint=fp)  # fmt: skip
    body = Payload(version="4", groupKey=doc.get("groupKey", ""), status=Status.FIRING,
                   receiver=doc.get("receiver", ""), alerts=[alert],
                   externalURL=doc.get("externalURL", ""))  # fmt: skip
    return Incoming(fp, Status.FIRING, starts_at, ZERO_TIME, Severity.of(labels), alert, body)


class MaintenanceRunner(Periodic):
    name, log, interval_s = "maintenance", log, 0.5

    def __init__(
        self,
        store: MaintenanceStore,
        gate: Gate,
        intake: Intake,
        metrics: Metrics,
        replica: str,
        clock: Callable[[], float] = time.time,
        target: str = "",
        mirror: SilenceMirror | None = None,
    ) -> None:
        self.store, self.gate, self.intake, self.metrics = store, gate, intake, metrics
        # The claims' holder: this runner, unique even where replicas share a process id.
        self.replica = f"{replica}:{secrets.token_hex(4)}"
        self.clock, self.target, self.mirror = clock, target, mirror
        self.done: set[str] = set()  # "phase occurrence" this replica saw done
        self._retry_at: dict[str, float] = {}  # a phase that failed: not before (monotonic)
        self.last_ms: int | None = None
        self._pruned = 0.0
        self._gauged: set[str] = set()

    async def step(self) -> None:
        await self.gate.refresh()
        now = int(self.clock() * 1000)
        since = now - LOOKBACK_MS if self.last_ms is None else self.last_ms - SWEEP_MS
        windows, ended = self.gate.windows, self.gate.ended
        for occ in started_between(windows, max(since, now - LOOKBACK_MS), now, ended):
            await self._once("start", occ, self._started)
        lookback = now - LOOKBACK_MS
        for occ in ended_between(windows, lookback, now, ended):
            await self._once("end", occ, self._release)
            if occ.end_ms < occ.planned_end_ms and self._mirrored(occ):  # ended early
                await self._once("unsilence", occ, self._unsilence)
        for occ in self.gate.in_force(now):
            if self._mirrored(occ):
                await self._once("silence", occ, self._silence)
        for occ in ended_between(windows, lookback - SWEEP_MS, now - SWEEP_MS, ended):
            await self._once("sweep", occ, self._release)
        self.last_ms = now
        if len(self.done) > MAX_DONE:  # forgotten here, still "finished" in Redis
            self.done.clear()
        self._gauges(now)
        if time.monotonic() - self._pruned > PRUNE_EVERY_S:
            self._pruned = time.monotonic()
            await self.store.prune(now)

    async def _once(self, phase: str, occ: Occurrence, act: Callable[..., Any]) -> None:
        """`act(phase, occ)` under the phase's claim, unless done (here or anywhere). An
        act that returns False failed: its claim stays ours until the lease ends, and it
        is tried again RETRY_S later (by us, or by another replica after the lease)."""
        tag = f"{phase} {occ.id}"
        if tag in self.done or self._retry_at.get(tag, 0.0) > time.monotonic():
            return
        got = await self.store.claim(phase, occ.id, self.replica, LEASE_MS)
        if got == "busy":
            return  # another replica is at it; look again next tick
        if got == "claimed":
            if await act(phase, occ) is False:
                self._retry_at[tag] = time.monotonic() + RETRY_S
                return
            await self.store.finish(phase, occ.id, self.replica)
        self._retry_at.pop(tag, None)
        self.done.add(tag)

    def _mirrored(self, occ: Occurrence) -> bool:
        w = next((w for w in self.gate.windows if w.key == occ.key), None)
        return self.mirror is not None and w is not None and w.spec.silence

    async def _silence(self, phase: str, occ: Occurrence) -> bool:
        w = next(w for w in self.gate.windows if w.key == occ.key)
        assert self.mirror is not None
        return await self.mirror.create(occ, w.spec)

    async def _unsilence(self, phase: str, occ: Occurrence) -> bool:
        assert self.mirror is not None
        return await self.mirror.expire(occ)

    async def _started(self, phase: str, occ: Occurrence) -> None:
        log.info("maintenance window started", extra={
            "window": occ.name, "occurrence": occ.id, "until_ms": occ.end_ms})  # fmt: skip

    async def _release(self, phase: str, occ: Occurrence) -> dict[str, int]:
        """Tells each destination once of every alert the occurrence held that still
        fires; counts the others. Returns the counts by outcome."""
        muted = await self.store.muted(occ.id)
        fps = sorted(muted)
        counts = {"notified": 0, "resolved": 0, "moved": 0}
        snaps: list[Incoming] = []
        gone: list[str] = []
        now = int(self.clock() * 1000)
        for fp, row in zip(fps, await self.store.alert_states(fps), strict=True):
            status, starts, _ends, doc = row
            if status != Status.FIRING or starts != muted[fp] or doc is None:
                counts["resolved"] += 1  # fired and resolved (or re-fired anew) inside
                gone.append(fp)
                continue
            snap = incoming(fp, starts, orjson.loads(doc))
            other = self.gate.occurrence(snap.labels, now)
            if other is not None and other.id != occ.id:  # held on by a window still on
                await self._move(fp, starts, occ, other, now)
                counts["moved"] += 1
                continue
            snaps.append(snap)
        if gone:  # counted by who took them out (a concurrent release counts the rest)
            counts["resolved"] = int(
                await self.store.redis.hdel(self.store.keys.maint_muted(occ.id), *gone)
            )
        if snaps:
            result = await self.intake.release(snaps, {s.fingerprint: occ.id for s in snaps})
            # `released`: those another release (a concurrent claim) told first.
            counts["notified"] = len(snaps) - result.kinds.get("released", 0)
            self._observe_decisions(result.decisions)
        m = self.metrics
        for outcome, n in counts.items():
            if n:
                m.child(m.maintenance_released, occ.name, outcome).inc(n)
        if phase == "end" or any(counts.values()):
            log.info("maintenance window ended", extra={
                "window": occ.name, "occurrence": occ.id, "phase": phase, **counts})  # fmt: skip
        return counts

    async def _move(self, fp: str, starts: str, occ: Occurrence, other: Occurrence,
                    now: int) -> None:  # fmt: skip
        keys, r = self.store.keys, self.store.redis
        pipe = r.pipeline(transaction=True)
        pipe.hset(keys.maint_muted(other.id), fp, starts)
        pipe.pexpire(keys.maint_muted(other.id), other.end_ms - now + 7 * 24 * 3600 * 1000)
        pipe.hset(keys.alert(fp), "maint", marker(other))
        pipe.hdel(keys.maint_muted(occ.id), fp)
        await pipe.execute()

    def _observe_decisions(self, decisions: Any) -> None:
        m = self.metrics
        for (dest, reason), n in decisions.items():
            m.child(m.decisions, dest, reason.value).inc(n)

    def _gauges(self, now: int) -> None:
        on = {o.name for o in self.gate.in_force(now)}
        names = {w.title for w in self.gate.windows} | self._gauged
        for name in names:
            self.metrics.maintenance_active.labels(name).set(1 if name in on else 0)
        self._gauged = names
