"""What the intake sends its script, built in Python: each alert's entry (state fields,
descriptive document, SLO and heartbeat marks) and each routed job's entry, plus the
in-process cache of notification records the decisions start from and the per-body
result. receiver/pipeline/intake.py runs the decisions and the script calls."""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from receiver.models import (
    DIGEST_PREFIX,
    RECORD_VERSION,
    ZERO_TIME,
    AlertSnapshot,
    Notification,
    Reason,
    Severity,
    Status,
)
from receiver.payload import Alert, Payload, snapshot_of
from receiver.pipeline.large_body import alert_fingerprint
from receiver.pipeline.routing import Target
from receiver.pipeline.throttle import Mode, Rate, mode_for


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

    def forget(self, fp: str) -> None:
        self._data.pop(fp, None)


def records_after(rec: dict[str, str], written: dict[str, str]) -> dict[str, str]:
    """The records as the script left them: `written` merged in, version bumped if any."""
    if not written:
        return rec
    return {**rec, **written, RECORD_VERSION: str(int(rec.get(RECORD_VERSION, "0")) + 1)}


@dataclass
class IntakeResult:
    """What one body did: alert kinds, decisions and throttle actions per destination."""

    accepted: int = 0
    received: Counter[tuple[Status, Severity]] = field(default_factory=Counter)
    kinds: dict[str, int] = field(default_factory=dict)
    decisions: Counter[tuple[str, Reason]] = field(default_factory=Counter)
    # (maintenance window, mute | digest) → arrivals decided inside the window
    muted: Counter[tuple[str, str]] = field(default_factory=Counter)
    actions: dict[str, dict[str, int]] = field(default_factory=dict)
    attempts: int = 0  # 1 + the retries it took (over all chunks)
    chunks: int = 0  # script calls that applied a part of the body

    def add(
        self,
        kinds: dict[str, int],
        actions: dict[str, dict[str, int]],
        decisions: Counter[tuple[str, Reason]],
        attempts: int,
        muted: Counter[tuple[str, str]] | None = None,
    ) -> None:
        """Adds what one chunk did (applied after `attempts` tries)."""
        for kind, n in kinds.items():
            self.kinds[kind] = self.kinds.get(kind, 0) + n
        for dest, acts in actions.items():
            mine = self.actions.setdefault(dest, {})
            for action, n in acts.items():
                mine[action] = mine.get(action, 0) + n
        self.decisions.update(decisions)
        self.muted.update(muted or {})
        self.attempts = max(self.attempts, 1) + attempts - 1
        self.chunks += 1

    def summary(self) -> dict[str, Any]:
        """The webhook's answer: digest entries are counted apart from notifications."""
        digested = sum(a.get("digest", 0) for a in self.actions.values())
        jobs = sum(n for a in self.actions.values() for n in a.values()) - digested
        return {
            "accepted": self.accepted,
            "new": self.kinds.get("new", 0),
            "changed": self.kinds.get("changed", 0),
            "unchanged": self.kinds.get("unchanged", 0) + self.kinds.get("stale", 0),
            "notifications": jobs,
            "digested": digested,
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
            self._snapshot = snapshot_of(self.src, self.payload)
        return self._snapshot


def unique_alerts(payload: Payload, received: Counter[tuple[Status, Severity]]) -> list[Incoming]:
    """The body's alerts by fingerprint, last one wins (a body may list an alert twice).

    Counts every alert of the body by status and severity into `received`.
    """
    by_fp: dict[str, Incoming] = {}
    for a in payload.alerts:
        fp = alert_fingerprint(a)
        severity = Severity.of(a.labels)
        received[(a.status, severity)] += 1
        by_fp[fp] = Incoming(fp, a.status, a.startsAt, a.endsAt or ZERO_TIME, severity, a,
                             payload)  # fmt: skip
    return list(by_fp.values())


def acked(marker: str | None, starts_at: str, now_ms: int) -> bool:
    """Whether the `_ack` record marker ("until_ms|startsAt", written by store/lua/ack.lua)
    holds for this episode now."""
    if not marker:
        return False
    until, _, episode = marker.partition("|")
    return episode == starts_at and (until == "0" or int(until) > now_ms)


def job_entry(
    snap: Incoming,
    t: Target,
    reason: Reason,
    now_ms: int,
    rate: Rate | None,
    digests: Mapping[str, tuple[int, int]],
    thread: str = "",
) -> dict[str, Any]:
    """One routed notification for the script. A digest entry carries the fingerprint and
    the digest's bounds instead of a job (the digest reads the alert's state when sent).
    `thread`: the key of the job this one follows up (Notification.thread_key)."""
    digest: str | None = t.route.digest
    if t.destination.startswith(DIGEST_PREFIX):
        digest = t.destination[len(DIGEST_PREFIX) :]
        dmax, dttl = digests[digest]  # defined: targets_for keeps only `known` digests
        return {"dest": t.destination, "mode": Mode.DIGEST.value, "rate": False,
                "digest": digest, "fp": snap.fingerprint, "dmax": dmax, "dttl": dttl}  # fmt: skip
    to = f"/{','.join(t.recipients)}" if t.recipients else ""
    n = Notification(
        key=f"{snap.fingerprint}/{t.destination}/{reason.value}/{now_ms}{to}",
        destination=t.destination,
        reason=reason,
        alert=snap.snapshot(),
        route=t.route.route_id,
        enqueued_at_ms=now_ms,
        decided_at_ms=now_ms,
        recipients=list(t.recipients),
        thread_key=thread,
    )
    job: dict[str, Any] = {
        "dest": t.destination,
        "mode": mode_for(snap.severity, reason).value,
        "rate": [rate.interval_ms, rate.burst] if rate else False,
        # The route's digest lists the alert anyway (it is one of its destinations): over
        # the limit, a warning/info is left to it instead of waiting for a slot.
        "digest": bool(digest and digest in digests),
        "job": n.to_json(),
    }
    return job


def watch(entry: dict[str, Any], a: Incoming, slo: tuple[str, ...], hb: tuple[str, ...]) -> None:
    """Adds the SLO services (with the alert's start or end time, ms) and heartbeats the
    alert counts for to its entry; the script uses them only when the status moves."""
    if slo:
        entry["slo"] = slo
        if a.status is Status.FIRING:
            entry["t0"] = _ms(a.startsAt)
        else:
            entry["t1"] = _ms(a.endsAt)
    if hb and a.status is Status.FIRING:
        entry["hb"] = hb


def _ms(t: str) -> int | None:
    """An RFC 3339 time in ms since the epoch; None (the script uses now) if it is
    Alertmanager's zero time or unreadable."""
    if t == ZERO_TIME:
        return None
    try:
        return int(datetime.fromisoformat(t.replace("t", "T").replace("z", "Z")).timestamp() * 1000)
    except ValueError:
        return None


def state_entry(a: Incoming, webhook: str) -> dict[str, Any]:
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
    return {"fp": a.fingerprint, "status": a.status, "sev": a.severity, "startsAt": a.startsAt,
            "endsAt": a.endsAt, "doc": doc.decode(), "v": "0", "notif": {}}  # fmt: skip
