"""The notification decision for one alert and one destination: pure, no I/O.

`should_notify` compares the incoming alert state with what that destination was last told
(`NotifyRecord`) and returns a `Reason`; `next_record` gives the record to store afterwards.
The intake runs both inside one atomic Redis step, so the same alert state arriving twice
(HA Alertmanager pair, webhook retry, Alertmanager's own repeat) notifies at most once.

An alert *episode* is identified by its `startsAt`: Alertmanager gives a re-fire after a
resolve a new, later `startsAt`. Times are compared as instants when both parse as RFC 3339
(so `...:00Z` and `...:00.000Z` are the same), else as plain strings.
"""

from __future__ import annotations

from datetime import datetime

from receiver.models import NotifyRecord, Reason, Status


def _instant(ts: str) -> datetime | None:
    try:
        dt = datetime.fromisoformat(ts)
    except ValueError:
        return None
    return dt if dt.tzinfo is not None else None


def _compare(incoming: str, recorded: str) -> int | None:
    """-1/0/1 as incoming is older/same/newer than recorded; None: different, order unknown."""
    if incoming == recorded:
        return 0
    a, b = _instant(incoming), _instant(recorded)
    if a is None or b is None:
        return None
    return (a > b) - (a < b)


def _latest(incoming: str, recorded: str) -> str:
    # Keep the newest startsAt so a stale body of an older episode can never look new later.
    return recorded if _compare(incoming, recorded) == -1 else incoming


def should_notify(
    prev: NotifyRecord | None,
    status: Status,
    starts_at: str,
    now_ms: int,
    repeat_interval_ms: int,
    send_resolved: bool,
    acked: bool = False,
) -> Reason:
    """Decide whether this destination is notified about this alert state, and why."""
    if status == Status.RESOLVED:
        # Firing → resolved always goes through (when the route wants resolves); a resolve
        # for an alert this destination was never told about notifies nobody.
        if prev is not None and prev.status == Status.FIRING:
            return Reason.RESOLVED if send_resolved else Reason.NOT_FIRING
        return Reason.NOT_FIRING

    if prev is None:
        return Reason.NEW
    order = _compare(starts_at, prev.starts_at)
    if order is None or order > 0:
        # A later (or unorderable, different) startsAt is a new episode: a re-fire after a
        # resolve, or a restart whose resolve we missed. Acks belong to the old episode.
        return Reason.NEW
    if prev.status == Status.RESOLVED:
        # A firing body for an episode already resolved is stale (a retry or a lagging HA
        # replica): it must never page again.
        return Reason.DUPLICATE
    # Same episode still firing. An older startsAt lands here too: Alertmanager moves
    # startsAt earlier when it merges the same alert from HA Prometheus replicas.
    if acked:
        return Reason.SUPPRESSED_ACKED
    # Boundary inclusive: exactly one interval after the last notification repeats.
    if now_ms - prev.notified_at_ms >= repeat_interval_ms:
        return Reason.REPEAT
    return Reason.DUPLICATE


def next_record(
    prev: NotifyRecord | None,
    status: Status,
    starts_at: str,
    now_ms: int,
    reason: Reason,
) -> NotifyRecord | None:
    """The record to store after `should_notify` returned `reason`; None = leave unchanged."""
    if reason == Reason.NEW:
        return NotifyRecord(Status.FIRING, starts_at, now_ms)
    if reason in (Reason.REPEAT, Reason.RESOLVED):
        if prev is None:
            raise ValueError(f"reason {reason.value} needs the previous record")
        if reason == Reason.REPEAT:
            return NotifyRecord(Status.FIRING, _latest(starts_at, prev.starts_at), now_ms)
        return NotifyRecord(Status.RESOLVED, _latest(starts_at, prev.starts_at), now_ms)
    if reason == Reason.NOT_FIRING and prev is not None and prev.status == Status.FIRING:
        # Resolved without a notification (send_resolved off): still remember the resolve so
        # a later re-fire is NEW and a stale firing body is a DUPLICATE.
        latest = _latest(starts_at, prev.starts_at)
        return NotifyRecord(Status.RESOLVED, latest, prev.notified_at_ms)
    # DUPLICATE, SUPPRESSED_ACKED, a resolve we never saw fire: nothing changes.
    return None


def in_maintenance(
    reason: Reason, prev: NotifyRecord | None, muted: bool, released: bool
) -> Reason:
    """`should_notify`'s reason under a maintenance window (receiver/maintenance): a
    muted alert's new or repeated notification is MAINTENANCE (nobody told, nothing
    recorded, so every repeat is muted too); the release at a window's end turns what
    would be new, a repeat or a duplicate of a firing episode into its one
    MAINTENANCE_ENDED. A resolve, an ack's suppression and a stale body stay as they are."""
    if muted and reason in (Reason.NEW, Reason.REPEAT):
        return Reason.MAINTENANCE
    if released and (
        reason in (Reason.NEW, Reason.REPEAT)
        or (reason is Reason.DUPLICATE and prev is not None and prev.status is Status.FIRING)
    ):
        return Reason.MAINTENANCE_ENDED
    return reason


def released_record(prev: NotifyRecord | None, starts_at: str, now_ms: int) -> NotifyRecord:
    """The record after a MAINTENANCE_ENDED notification."""
    latest = starts_at if prev is None else _latest(starts_at, prev.starts_at)
    return NotifyRecord(Status.FIRING, latest, now_ms)
