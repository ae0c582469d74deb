"""Intake: one webhook body → alert state, decisions, throttling and outbox, atomically.

Usually one Redis round trip per body whatever its size, shared with the other bodies in
flight: a script that checks the notification records we decided from are still current
(optimistic concurrency) and applies everything. The records come from a bounded
in-process cache of what this process last wrote or saw (a miss means "never notified",
which is right for a new alert). When they are outdated (another replica, an expiry, a
cache miss for a known alert) the script writes nothing for that body and returns the
current records, and we decide again; so concurrent copies of one body on any number of
replicas still produce one job per destination.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

import orjson

from receiver.models import (
    ZERO_TIME,
    AlertSnapshot,
    Notification,
    NotifyRecord,
    Reason,
    Severity,
    Status,
    fingerprint,
)
from receiver.payload import Alert, Payload
from receiver.pipeline.dedup import next_record, should_notify
from receiver.pipeline.route import RouteMatch, RoutingTree
from receiver.pipeline.throttle import Mode, Rate, mode_for
from receiver.store import keys as K
from receiver.store.batch import Batcher
from receiver.store.scripts import Scripts

DIGEST_PREFIX = "digest:"
# Enough for 50 concurrent copies of one body to settle; each retry is cheap.
MAX_ATTEMPTS = 64
# Digests collect what is new or still firing; a resolve is not news in a digest.
DIGEST_SENDS_RESOLVED = False
# Alerts whose destinations are remembered (by fingerprint: routing depends on the labels
# only, and the fingerprint stands for them). Emptied when full.
ROUTE_CACHE_SIZE = 100_000


class RecordCache:
    """LRU of fingerprint → notification records (with `_v`) as last written or seen.

    Only a hint: the intake script rejects a decision made from an outdated entry.
    """

    def __init__(self, size: int = 100_000) -> None:
        self.size = size
        self._data: OrderedDict[str, dict[str, str]] = OrderedDict()

    def get(self, fp: str) -> dict[str, str]:
        rec = self._data.get(fp)
        if rec is None:
            return {}
        self._data.move_to_end(fp)
        return rec

    def put(self, fp: str, rec: dict[str, str]) -> None:
        self._data[fp] = rec
        self._data.move_to_end(fp)
        if len(self._data) > self.size:
            self._data.popitem(last=False)


def _after(rec: dict[str, str], written: dict[str, str]) -> dict[str, str]:
    """The records as the script left them: `written` merged in, version bumped if any."""
    if not written:
        return rec
    return {**rec, **written, "_v": str(int(rec.get("_v", "0")) + 1)}


class IntakeContention(RuntimeError):
    """The same alerts changed under us MAX_ATTEMPTS times: answer 503 and let AM retry."""


@dataclass(frozen=True)
class Target:
    """One destination an alert routes to, with the settings of the route that chose it."""

    destination: str
    route: RouteMatch


@dataclass
class IntakeResult:
    """What one body did: alert kinds, decisions and throttle actions per destination."""

    accepted: int = 0
    received: Counter[tuple[Status, Severity]] = field(default_factory=Counter)
    kinds: dict[str, int] = field(default_factory=dict)
    decisions: Counter[tuple[str, Reason]] = field(default_factory=Counter)
    actions: dict[str, dict[str, int]] = field(default_factory=dict)
    attempts: int = 0

    def summary(self) -> dict[str, Any]:
        jobs = sum(n for a in self.actions.values() for n in a.values())
        return {
            "accepted": self.accepted,
            "new": self.kinds.get("new", 0),
            "changed": self.kinds.get("changed", 0),
            "unchanged": self.kinds.get("unchanged", 0) + self.kinds.get("stale", 0),
            "notifications": jobs,
        }


@dataclass(slots=True)
class Incoming:
    """One alert of a body as the intake needs it. The full AlertSnapshot (a pydantic
    model, costly to build) is made only for alerts that produce a notification."""

    fingerprint: str
    status: Status
    startsAt: str
    endsAt: str
    severity: Severity
    src: Alert
    payload: Payload
    _snapshot: AlertSnapshot | None = None

    @property
    def labels(self) -> dict[str, str]:
        return self.src.labels

    def snapshot(self) -> AlertSnapshot:
        if self._snapshot is None:
            self._snapshot = AlertSnapshot.from_webhook(self.src, self.payload)
        return self._snapshot


def unique_alerts(payload: Payload, received: Counter[tuple[Status, Severity]]) -> list[Incoming]:
    """The body's alerts by fingerprint, last one wins (a body may list an alert twice).

    Counts every alert of the body by status and severity into `received`.
    """
    by_fp: dict[str, Incoming] = {}
    for a in payload.alerts:
        fp = a.fingerprint or fingerprint(a.labels)
        severity = Severity.of(a.labels)
        received[(a.status, severity)] += 1
        by_fp[fp] = Incoming(fp, a.status, a.startsAt, a.endsAt or ZERO_TIME, severity, a,
                             payload)  # fmt: skip
    return list(by_fp.values())


def targets_for(tree: RoutingTree, labels: dict[str, str], known: AbstractSet[str]) -> list[Target]:
    """Destinations in route order, each once (first route wins), digests as `digest:NAME`."""
    out: dict[str, Target] = {}
    for m in tree.match(labels):
        names = [r for r in m.receivers if r in known]
        if m.digest:
            names.append(DIGEST_PREFIX + m.digest)
        for name in names:
            out.setdefault(name, Target(name, m))
    return list(out.values())


@dataclass
class Routing:
    """What the intake decides with, built from one config and swapped whole on a reload:
    a body is decided with the routing it started with."""

    tree: RoutingTree
    known: frozenset[str]  # defined receivers: routes naming others notify no one
    rates: dict[str, Rate | None]
    storm: tuple[int, int] | None  # (threshold, window_ms)
    retention_ms: int
    history_max: int
    # Destinations by fingerprint (routing depends on the labels only, and the fingerprint
    # stands for them). Emptied when full; gone with the routing on a reload.
    routes: dict[str, list[Target]] = field(default_factory=dict)

    def targets(self, snap: Incoming) -> list[Target]:
        found = self.routes.get(snap.fingerprint)
        if found is None:
            if len(self.routes) >= ROUTE_CACHE_SIZE:
                self.routes.clear()
            found = targets_for(self.tree, snap.labels, self.known)
            self.routes[snap.fingerprint] = found
        return found


class Intake:
    """Runs the intake step for webhook bodies. Clock and Redis are injected; `routing`
    may be replaced at any time (a reload)."""

    def __init__(
        self,
        redis: Any,
        scripts: Scripts,
        keys: K.Keys,
        routing: Routing,
        clock: Callable[[], float],
    ) -> None:
        self.redis, self.scripts, self.keys, self.routing = redis, scripts, keys, routing
        self.clock = clock
        self.cache = RecordCache()
        self.batcher = Batcher(self._run)

    async def _run(self, requests: list[bytes]) -> list[Any]:
        """One script call for a batch of bodies: one result per body."""
        r = self.routing
        args = [self.keys.tag, r.retention_ms, r.history_max, K.STORM_GRACE_MS,
                K.THROTTLE_IDLE_TTL_MS, b"[" + b",".join(requests) + b"]"]  # fmt: skip
        raw = await self.scripts.intake(keys=[self.keys.index], args=args)
        results: list[Any] = orjson.loads(raw)
        return results

    def _decide(
        self, snap: Incoming, target: Target, raw: str | None, now_ms: int
    ) -> tuple[Reason, NotifyRecord | None]:
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
        )
        return reason, next_record(prev, snap.status, snap.startsAt, now_ms, reason)

    def _plan(
        self,
        snaps: list[Incoming],
        targets: list[list[Target]],
        records: list[dict[str, str]],
        alerts: list[dict[str, Any]],
        now_ms: int,
        result: IntakeResult,
        routing: Routing,
    ) -> dict[str, Any]:
        """The script's request: `alerts` (from _state_entry) with the versions and records
        decided from `records`, and the jobs to route."""
        routed = []
        result.decisions.clear()
        for snap, tgts, rec, entry in zip(snaps, targets, records, alerts, strict=True):
            entry["v"] = rec.get("_v", "0")
            if not tgts:
                continue
            notif: dict[str, str] = {}
            by_route: dict[str, list[dict[str, Any]]] = {}
            for t in tgts:
                reason, new_rec = self._decide(snap, t, rec.get(t.destination), now_ms)
                result.decisions[(t.destination, reason)] += 1
                if new_rec is not None:
                    notif[t.destination] = new_rec.to_json()
                if reason.notifies:
                    by_route.setdefault(t.route.route_id, []).append(
                        _job(snap, t, reason, now_ms, routing.rates.get(t.destination))
                    )
            entry["notif"] = notif
            # Storm control counts firing warnings/info only: a critical is never folded.
            stormy = snap.status is Status.FIRING and snap.severity is not Severity.CRITICAL
            for route_id, jobs in by_route.items():
                storm = routing.storm if stormy and routing.storm else False
                routed.append({"route": route_id, "storm": storm, "jobs": jobs})
        return {"now": now_ms, "alerts": alerts, "routed": routed}

    async def ingest(self, payload: Payload, webhook: str = "") -> IntakeResult:
        """Record and decide every alert of the body; returns only once it is committed."""
        result = IntakeResult(accepted=len(payload.alerts))
        snaps = unique_alerts(payload, result.received)
        if not snaps:
            return result
        routing = self.routing  # one routing for the whole body, even across a reload
        targets = [routing.targets(s) for s in snaps]
        records = [self.cache.get(s.fingerprint) for s in snaps]
        alerts = [_state_entry(s, webhook) for s in snaps]  # independent of the records
        for attempt in range(1, MAX_ATTEMPTS + 1):
            now_ms = int(self.clock() * 1000)
            req = self._plan(snaps, targets, records, alerts, now_ms, result, routing)
            res = await self.batcher.call(orjson.dumps(req), len(snaps))
            if "conflict" in res:
                for i, snap in enumerate(snaps):
                    if snap.fingerprint in res["conflict"]:
                        records[i] = res["conflict"][snap.fingerprint] or {}
                continue
            for snap, rec, sent in zip(snaps, records, alerts, strict=True):
                self.cache.put(snap.fingerprint, _after(rec, sent["notif"]))
            result.kinds, result.attempts = res["kinds"], attempt
            # cjson encodes an empty table as {}; an empty actions map is fine either way.
            result.actions = res["actions"] or {}
            return result
        raise IntakeContention(f"alerts kept changing during intake ({MAX_ATTEMPTS} attempts)")


def _job(
    snap: Incoming, t: Target, reason: Reason, now_ms: int, rate: Rate | None
) -> dict[str, Any]:
    n = Notification(
        key=f"{snap.fingerprint}/{t.destination}/{reason.value}/{now_ms}",
        destination=t.destination,
        reason=reason,
        alert=snap.snapshot(),
        route=t.route.route_id,
        enqueued_at_ms=now_ms,
        decided_at_ms=now_ms,
    )
    digest: str | None = t.route.digest
    if t.destination.startswith(DIGEST_PREFIX):
        mode, digest, rate = Mode.DIGEST, t.destination[len(DIGEST_PREFIX) :], None
    else:
        mode = mode_for(snap.severity, reason)
    return {
        "dest": t.destination,
        "mode": mode.value,
        "rate": [rate.interval_ms, rate.burst] if rate else False,
        "digest": digest or False,
        "job": n.to_json(),
    }


def _state_entry(a: Incoming, webhook: str) -> dict[str, Any]:
    """The alert's part of the script's request, before any decision (`v`, `notif`).

    Status and times are separate hash fields (the script compares them); the descriptive
    fields go as one JSON document, serialised deterministically (sorted keys) so that the
    script can tell an unchanged one by comparing it with the stored one, and rewrite it
    only when it changed.
    """
    src, p = a.src, a.payload
    doc = orjson.dumps(
        {
            "fingerprint": a.fingerprint, "labels": src.labels, "annotations": src.annotations,
            "generatorURL": src.generatorURL, "receiver": p.receiver, "groupKey": p.groupKey,
            "externalURL": p.externalURL, "webhook": webhook, "severity": a.severity,
            "alertname": src.labels.get("alertname", ""),
        },
        option=orjson.OPT_SORT_KEYS,
    )  # fmt: skip
    return {"fp": a.fingerprint, "status": a.status, "startsAt": a.startsAt, "endsAt": a.endsAt,
            "doc": doc.decode(), "v": "0", "notif": {}}  # fmt: skip
