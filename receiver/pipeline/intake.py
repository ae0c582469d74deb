"""Intake: one webhook body → alert state, decisions, throttling and outbox, atomically.

Usually one Redis round trip per body whatever its size, shared with the other bodies in
flight: a script that checks the notification records we decided from are still current
(optimistic concurrency) and applies everything. The records come from a bounded
in-process cache of what this process last wrote or saw (a miss means "never notified",
which is right for a new alert). When they are outdated (another replica, an expiry, a
cache miss for a known alert) the script writes nothing for that body and returns the
current records, and we decide again; so concurrent copies of one body on any number of
replicas still produce one job per destination.

A large body (more than `chunk_alerts` distinct alerts) is applied in chunks, one script
call each, each planned just before it is sent, with the event loop free in between: a
50,000-alert body in one call held Redis for seconds and every other webhook waited. The
2xx still waits for every chunk. A failure in the middle answers 503 like any other; the
chunks already applied are then duplicates for the retry (their records are current), so
nothing is notified twice, and the rest is applied then.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import msgspec
import orjson

from receiver.models import (
    DIGEST_PREFIX,
    RECORD_ACK,
    RECORD_VERSION,
    ZERO_TIME,
    MaintenanceMark,
    NotifyRecord,
    Reason,
    Severity,
    Status,
)
from receiver.payload import Payload
from receiver.pipeline.dedup import in_maintenance, next_record, released_record, should_notify
from receiver.pipeline.entries import (
    Incoming,
    IntakeResult,
    RecordCache,
    acked,
    job_entry,
    records_after,
    state_entry,
    unique_alerts,
    watch,
)
from receiver.pipeline.large_body import (
    SLICE_ALERTS,
    HeapTrim,
    LargeBody,
    alert_fingerprint,
    pause,
)
from receiver.pipeline.route import RouteMatch
from receiver.pipeline.routing import (
    Routing,
    Target,
    thread_of,
    told_destinations,
)
from receiver.store import keys as K
from receiver.store.batch import Batcher
from receiver.store.scripts import Scripts

# Enough for 50 concurrent copies of one body to settle; each retry is cheap.
MAX_ATTEMPTS = 64
# Digests collect what is new or still firing; a resolve is not news in a digest.
DIGEST_SENDS_RESOLVED = False
# Distinct alerts per script call for a large body: 10-25 ms of Redis time per call on the
# 2-core dev VM (measured per size in bench/README.md, "Large bodies").
CHUNK_ALERTS = 200
# (labels, now ms) → the maintenance window occurrence an alert is in (receiver/maintenance).
MaintenanceGate = Callable[[dict[str, str], int], MaintenanceMark | None]
# How often a digest hears again of an alert a maintenance window sends to it.
MAINTENANCE_DIGEST_REPEAT_S = 3600.0


class IntakeContention(RuntimeError):
    """The same alerts changed under us MAX_ATTEMPTS times: answer 503 and let AM retry."""


async def in_slices(payload: Payload) -> AsyncIterator[tuple[int, Payload]]:
    """A decoded body's alerts as LargeBody.parts() gives a large one's: (index of the
    first, the body with that slice of alerts), a turn of the event loop between."""
    alerts = payload.alerts
    for start in range(0, len(alerts), SLICE_ALERTS):
        yield start, msgspec.structs.replace(payload, alerts=alerts[start : start + SLICE_ALERTS])
        await pause()


class Intake:
    """Runs the intake step for webhook bodies. Clock and Redis are injected; `routing`
    may be replaced at any time (a reload). `chunk_alerts` bounds the alerts per script
    call (a larger body is applied in chunks)."""

    def __init__(
        self,
        redis: Any,
        scripts: Scripts,
        keys: K.Keys,
        routing: Routing,
        clock: Callable[[], float],
        chunk_alerts: int = CHUNK_ALERTS,
    ) -> None:
        self.redis, self.scripts, self.keys, self.routing = redis, scripts, keys, routing
        self.clock = clock
        self.chunk_alerts = chunk_alerts
        self.cache = RecordCache()
        self.batcher = Batcher(self._run)
        self.heap = HeapTrim()
        # Set by the wiring when maintenance windows exist (receiver/maintenance/gate.py).
        self.maintenance: MaintenanceGate | None = None

    async def _run(self, requests: list[bytes]) -> list[Any]:
        """One script call for a batch of bodies: one result per body."""
        r = self.routing
        args = [self.keys.tag, r.retention_ms, r.history_max, K.STORM_GRACE_MS,
                K.THROTTLE_IDLE_TTL_MS, b"[" + b",".join(requests) + b"]"]  # fmt: skip
        raw = await self.scripts.intake(keys=[self.keys.index], args=args)
        results: list[Any] = orjson.loads(raw)
        return results

    def _decide(
        self,
        snap: Incoming,
        target: Target,
        raw: str | None,
        now_ms: int,
        held: bool,
        muted: bool = False,
        released: bool = False,
    ) -> tuple[Reason, NotifyRecord | None]:
        """One destination's decision and the record to write; `held`: an ack is in force;
        `muted`: in a maintenance window; `released`: its window's end releases it."""
        prev = NotifyRecord.from_json(raw) if raw else None
        is_digest = target.destination.startswith(DIGEST_PREFIX)
        send_resolved = DIGEST_SENDS_RESOLVED if is_digest else target.route.send_resolved
        reason = should_notify(
            prev,
            snap.status,
            snap.startsAt,
            now_ms,
            int(target.route.repeat_interval_s * 1000),
            send_resolved,
            held,
        )
        if muted or released:
            reason = in_maintenance(reason, prev, muted, released)
            if reason is Reason.MAINTENANCE:
                return reason, None
            if reason is Reason.MAINTENANCE_ENDED:
                return reason, released_record(prev, snap.startsAt, now_ms)
        return reason, next_record(prev, snap.status, snap.startsAt, now_ms, reason)

    def _maintenance(
        self,
        snap: Incoming,
        entry: dict[str, Any],
        tgts: list[Target],
        now_ms: int,
        routing: Routing,
        released: dict[str, str] | None,
        muted: Counter[tuple[str, str]],
    ) -> tuple[list[Target], bool]:
        """A firing alert's maintenance window, if any: marks its entry (the script records
        it in the occurrence's muted set) and gives its targets (the window's digest
        instead, in digest mode) and whether it is muted. A released alert's entry says
        which occurrence lets it go."""
        entry.pop("mnt", None)
        entry.pop("rel", None)
        if released is not None:
            entry["rel"] = released[snap.fingerprint]
            return tgts, False
        mark = self.maintenance(snap.labels, now_ms) if self.maintenance else None
        if mark is None:
            return tgts, False
        entry["mnt"] = [mark.occurrence, mark.marker, mark.ttl_ms]
        muted[(mark.window, "digest" if mark.digest else "mute")] += 1
        if mark.digest is not None and mark.digest in routing.digests:
            route = RouteMatch(f"maintenance:{mark.occurrence}", (),
                               MAINTENANCE_DIGEST_REPEAT_S, False, None, None)  # fmt: skip
            return [Target(DIGEST_PREFIX + mark.digest, route)], False
        return tgts, True

    def _plan(
        self,
        snaps: list[Incoming],
        targets: list[list[Target]],
        records: list[dict[str, str]],
        alerts: list[dict[str, Any]],
        now_ms: int,
        decisions: Counter[tuple[str, Reason]],
        routing: Routing,
        remember: bool = True,
        own: bool = False,
        released: dict[str, str] | None = None,
        in_window: Counter[tuple[str, str]] | None = None,
    ) -> dict[str, Any]:
        """The script's request: `alerts` (from state_entry) with the versions and records
        decided from `records`, and the jobs to route; counts the decisions (and into
        `in_window` the arrivals a maintenance window holds). `own`: the receiver's own
        alerts, whose destinations are fixed: no ladder, no storm. `released`: fingerprint
        → the maintenance occurrence whose end releases it."""
        routed = []
        in_window = Counter() if in_window is None else in_window
        for snap, tgts, rec, entry in zip(snaps, targets, records, alerts, strict=True):
            entry["v"] = rec.get(RECORD_VERSION, "0")
            muted = False
            if snap.status is Status.FIRING and not own:
                tgts, muted = self._maintenance(snap, entry, tgts, now_ms, routing, released,
                                                in_window)  # fmt: skip
            if snap.status is Status.FIRING and not own:
                policy = routing.escalation(snap.fingerprint, snap.labels, remember)
                if policy is not None:
                    entry["esc"] = [policy, routing.escalations[policy]]
            elif len(rec) > 1:  # told about it beyond its routes: they hear of the resolve
                tgts = tgts + told_destinations(rec, tgts, routing.known)
            if not tgts:
                continue
            held = acked(rec.get(RECORD_ACK), snap.startsAt, now_ms)
            notif: dict[str, str] = {}
            by_route: dict[str, list[dict[str, Any]]] = {}
            for t in tgts:
                raw = rec.get(t.record_name)
                reason, new_rec = self._decide(snap, t, raw, now_ms, held, muted,
                                               released is not None)  # fmt: skip
                decisions[(t.destination, reason)] += 1
                if new_rec is not None:
                    notif[t.record_name] = new_rec.to_json()
                if reason.notifies:
                    rate = routing.rates.get(t.destination)
                    # A resolve follows up what the destination was last sent (a step's mail).
                    thread = thread_of(raw) if reason is Reason.RESOLVED else ""
                    job = job_entry(snap, t, reason, now_ms, rate, routing.digests, thread)
                    if released is not None:  # dropped if another release told it first
                        job["rel"] = snap.fingerprint
                    by_route.setdefault(t.route.route_id, []).append(job)
            entry["notif"] = notif
            # Storm control counts firing warnings/info only: a critical is never folded.
            stormy = (snap.status is Status.FIRING and snap.severity is not Severity.CRITICAL
                      and not own)  # fmt: skip
            for route_id, jobs in by_route.items():
                storm = routing.storm if stormy and routing.storm else False
                routed.append({"route": route_id, "storm": storm, "jobs": jobs})
        return {"now": now_ms, "alerts": alerts, "routed": routed}

    async def ingest(self, payload: Payload | LargeBody, webhook: str = "") -> IntakeResult:
        """Record and decide every alert of the body; returns only once it is committed.

        A body of more than `chunk_alerts` alerts goes in chunks (_ingest_chunked); a
        LargeBody is decoded again slice by slice as it goes.
        """
        if isinstance(payload, LargeBody):
            return await self._ingest_chunked(payload.count, payload.last, payload.parts(),
                                              webhook)  # fmt: skip
        if len(payload.alerts) > self.chunk_alerts:
            last = {alert_fingerprint(a): i for i, a in enumerate(payload.alerts)}
            return await self._ingest_chunked(len(payload.alerts), last, in_slices(payload),
                                              webhook)  # fmt: skip
        result = IntakeResult(accepted=len(payload.alerts))
        snaps = unique_alerts(payload, result.received)
        if snaps:
            await self._apply(snaps, webhook, self.routing, result, remember=True)
        return result

    async def _ingest_chunked(
        self,
        count: int,
        last: dict[str, int],
        parts: AsyncIterator[tuple[int, Payload]],
        webhook: str,
    ) -> IntakeResult:
        """A body applied in chunks of `chunk_alerts` as its slices come (`parts`), so
        that only a chunk's objects are alive at once; nothing of it stays in the caches
        (entries made while its objects fill the heap would keep that heap from being given
        back). An alert listed twice counts where it occurs last (`last`: fingerprint →
        index), as in unique_alerts, so every chunk is final for its alerts."""
        result = IntakeResult(accepted=count)
        routing = self.routing  # one routing for the whole body, even across a reload
        chunk: list[Incoming] = []
        try:
            async for start, part in parts:
                for i, a in enumerate(part.alerts, start):
                    fp = alert_fingerprint(a)
                    severity = Severity.of(a.labels)
                    result.received[(a.status, severity)] += 1
                    if last[fp] == i:
                        chunk.append(Incoming(fp, a.status, a.startsAt, a.endsAt or ZERO_TIME,
                                              severity, a, part))  # fmt: skip
                while len(chunk) >= self.chunk_alerts:
                    ready, chunk = chunk[: self.chunk_alerts], chunk[self.chunk_alerts :]
                    await self._apply(ready, webhook, routing, result, remember=False)
            if chunk:
                await self._apply(chunk, webhook, routing, result, remember=False)
        finally:
            self.heap.soon()
        return result

    async def ingest_own(self, payload: Payload, targets: list[Target]) -> IntakeResult:
        """The receiver's own alerts (a silent heartbeat): recorded like any alert (so
        they show in the alerts API) and decided like any, but notified to `targets`
        instead of the routing tree's destinations: never a route's, an escalation
        ladder's, a digest's or a storm's, never counted as an SLO's downtime or a
        heartbeat's arrival."""
        result = IntakeResult(accepted=len(payload.alerts))
        snaps = unique_alerts(payload, result.received)
        await self._apply(snaps, "", self.routing, result, remember=False, fixed=targets)
        return result

    async def release(self, snaps: list[Incoming], occurrence: dict[str, str]) -> IntakeResult:
        """Alerts still firing at the end of a maintenance occurrence (`occurrence`:
        fingerprint → its id), rebuilt from their stored state: decided again so that each
        destination hears of each once (MAINTENANCE_ENDED), and taken out of the
        occurrence's muted set in the same step. Their state record is not touched."""
        result = IntakeResult(accepted=len(snaps))
        if snaps:
            await self._apply(snaps, "", self.routing, result, remember=False,
                              released=occurrence)  # fmt: skip
        return result

    async def _apply(
        self,
        snaps: list[Incoming],
        webhook: str,
        routing: Routing,
        result: IntakeResult,
        remember: bool,
        fixed: list[Target] | None = None,
        released: dict[str, str] | None = None,
    ) -> None:
        """Decides and applies `snaps` in one script call (again while records conflict);
        the caches keep what was written if `remember`, else forget what it outdated.
        `fixed`: the destinations of every alert (own alerts), not the routing tree's."""
        if fixed is None:
            targets = [routing.targets(s.fingerprint, s.labels, remember) for s in snaps]
        else:
            targets = [fixed] * len(snaps)
        records = [self.cache.get(s.fingerprint) for s in snaps]
        alerts = [state_entry(s, webhook) for s in snaps]  # independent of the records
        if fixed is None and released is None and (routing.slo or routing.heartbeats):
            for snap, entry in zip(snaps, alerts, strict=True):
                watch(entry, snap, *routing.watchers(snap.fingerprint, snap.labels, remember))
        for attempt in range(1, MAX_ATTEMPTS + 1):
            now_ms = int(self.clock() * 1000)
            decisions: Counter[tuple[str, Reason]] = Counter()
            in_window: Counter[tuple[str, str]] = Counter()  # counted once applied
            req = self._plan(snaps, targets, records, alerts, now_ms, decisions, routing,
                             remember, own=fixed is not None, released=released,
                             in_window=in_window)  # fmt: skip
            res = await self.batcher.call(orjson.dumps(req), len(snaps))
            if "conflict" in res:
                for i, snap in enumerate(snaps):
                    if snap.fingerprint in res["conflict"]:
                        records[i] = res["conflict"][snap.fingerprint] or {}
                continue
            for snap, rec, sent in zip(snaps, records, alerts, strict=True):
                if not remember:
                    if sent["notif"]:
                        self.cache.forget(snap.fingerprint)
                elif rec or sent["notif"]:  # an alert never notified is a miss anyway
                    self.cache.put(snap.fingerprint, records_after(rec, sent["notif"]))
            # cjson encodes an empty table as {}; an empty actions map is fine either way.
            result.add(res["kinds"], res["actions"] or {}, decisions, attempt, in_window)
            return
        raise IntakeContention(f"alerts kept changing during intake ({MAX_ATTEMPTS} attempts)")
