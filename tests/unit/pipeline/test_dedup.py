from dataclasses import dataclass

import pytest

from receiver.models import NotifyRecord, Reason, Status
from receiver.pipeline.dedup import next_record, should_notify

F, R = Status.FIRING, Status.RESOLVED
T1 = "2024-05-01T10:00:00Z"
T2 = "2024-05-01T11:00:00Z"  # a later episode (re-fire)
T0 = "2024-05-01T09:59:30Z"  # earlier: Alertmanager merged an HA replica's older startsAt
HOUR = 3_600_000
NOW = 10 * HOUR


def rec(status: Status, starts_at: str = T1, at: int = NOW - 10 * 60_000) -> NotifyRecord:
    return NotifyRecord(status, starts_at, at)


@dataclass(frozen=True)
class Case:
    prev: NotifyRecord | None
    status: Status
    starts_at: str = T1
    now: int = NOW
    send_resolved: bool = True
    acked: bool = False


DECISIONS: list[tuple[Case, Reason, NotifyRecord | None]] = [
    # first firing
    (Case(None, F), Reason.NEW, NotifyRecord(F, T1, NOW)),
    (Case(None, F, acked=True), Reason.NEW, NotifyRecord(F, T1, NOW)),
    # same episode still firing
    (Case(rec(F), F), Reason.DUPLICATE, None),
    (Case(rec(F, at=NOW - HOUR), F), Reason.REPEAT, NotifyRecord(F, T1, NOW)),
    (Case(rec(F, at=NOW - HOUR + 1), F), Reason.DUPLICATE, None),
    (Case(rec(F, at=NOW - 5 * HOUR), F), Reason.REPEAT, NotifyRecord(F, T1, NOW)),
    # acked suppresses the repeat, and says so
    (Case(rec(F, at=NOW - HOUR), F, acked=True), Reason.SUPPRESSED_ACKED, None),
    (Case(rec(F), F, acked=True), Reason.SUPPRESSED_ACKED, None),
    # new episode: re-fire after resolve, restart with a missed resolve; acks don't hold
    (Case(rec(R), F, starts_at=T2), Reason.NEW, NotifyRecord(F, T2, NOW)),
    (Case(rec(F), F, starts_at=T2), Reason.NEW, NotifyRecord(F, T2, NOW)),
    (Case(rec(F), F, starts_at=T2, acked=True), Reason.NEW, NotifyRecord(F, T2, NOW)),
    # unparseable but different startsAt still counts as a new episode
    (Case(rec(F, "garbage"), F), Reason.NEW, NotifyRecord(F, T1, NOW)),
    # stale firing body after its own resolve never pages again
    (Case(rec(R), F), Reason.DUPLICATE, None),
    (Case(rec(R, at=NOW - 5 * HOUR), F), Reason.DUPLICATE, None),
    (Case(rec(R, T2), F, starts_at=T1), Reason.DUPLICATE, None),  # older episode's retry
    # same instant written differently is the same episode
    (Case(rec(R), F, starts_at="2024-05-01T10:00:00.000Z"), Reason.DUPLICATE, None),
    (Case(rec(F), F, starts_at="2024-05-01T12:00:00+02:00"), Reason.DUPLICATE, None),
    # startsAt moved earlier within an episode: same episode, the newest is kept
    (Case(rec(F), F, starts_at=T0), Reason.DUPLICATE, None),
    (Case(rec(F, at=NOW - HOUR), F, starts_at=T0), Reason.REPEAT, NotifyRecord(F, T1, NOW)),
    # resolves
    (Case(rec(F), R), Reason.RESOLVED, NotifyRecord(R, T1, NOW)),
    (Case(rec(F), R, acked=True), Reason.RESOLVED, NotifyRecord(R, T1, NOW)),
    (Case(rec(F), R, starts_at=T2), Reason.RESOLVED, NotifyRecord(R, T2, NOW)),
    (Case(rec(F), R, starts_at=T0), Reason.RESOLVED, NotifyRecord(R, T1, NOW)),
    (Case(rec(F), R, send_resolved=False), Reason.NOT_FIRING, rec(R)),
    (Case(None, R), Reason.NOT_FIRING, None),
    (Case(rec(R), R), Reason.NOT_FIRING, None),
    (Case(rec(R), R, starts_at=T2), Reason.NOT_FIRING, None),
]


@pytest.mark.parametrize(("case", "reason", "stored"), DECISIONS)
def test_decision_table(case: Case, reason: Reason, stored: NotifyRecord | None) -> None:
    got = should_notify(
        case.prev, case.status, case.starts_at, case.now, HOUR, case.send_resolved, case.acked
    )
    assert got == reason
    assert next_record(case.prev, case.status, case.starts_at, case.now, got) == stored


def test_table_covers_every_reason() -> None:
    # Guard: the table above must keep exercising every Reason the decision can give (the
    # others name jobs of acks and escalation steps, and what a maintenance window makes of
    # a decision: dedup.in_maintenance, tested in tests/unit/maintenance/).
    jobs_only = {Reason.ACKNOWLEDGED, Reason.UNACKNOWLEDGED, Reason.ESCALATED,
                 Reason.MAINTENANCE, Reason.MAINTENANCE_ENDED}  # fmt: skip
    assert {reason for _, reason, _ in DECISIONS} == set(Reason) - jobs_only


def test_repeat_boundary_is_inclusive() -> None:
    prev = NotifyRecord(F, T1, 1_000)
    assert should_notify(prev, F, T1, 1_000 + HOUR, HOUR, True) == Reason.REPEAT
    assert should_notify(prev, F, T1, 1_000 + HOUR - 1, HOUR, True) == Reason.DUPLICATE


def test_never_seen_resolve_stores_nothing() -> None:
    reason = should_notify(None, R, T1, NOW, HOUR, send_resolved=True)
    assert reason == Reason.NOT_FIRING
    assert not reason.notifies
    assert next_record(None, R, T1, NOW, reason) is None


def test_send_resolved_false_still_records_the_resolve() -> None:
    prev = NotifyRecord(F, T1, 5)
    reason = should_notify(prev, R, T1, NOW, HOUR, send_resolved=False)
    assert reason == Reason.NOT_FIRING
    stored = next_record(prev, R, T1, NOW, reason)
    assert stored == NotifyRecord(R, T1, 5)  # notified_at stays the last real notification
    # ... so a stale firing body is a duplicate and a re-fire is new
    assert should_notify(stored, F, T1, NOW + 1, HOUR, False) == Reason.DUPLICATE
    assert should_notify(stored, F, T2, NOW + 1, HOUR, False) == Reason.NEW


def test_next_record_rejects_impossible_reason() -> None:
    with pytest.raises(ValueError, match="previous record"):
        next_record(None, F, T1, NOW, Reason.REPEAT)


@pytest.mark.parametrize(
    "record", [NotifyRecord(F, T1, 0), NotifyRecord(R, "2024-05-01T10:00:00.123456789Z", NOW)]
)
def test_record_json_round_trip(record: NotifyRecord) -> None:
    assert NotifyRecord.from_json(record.to_json()) == record
    assert NotifyRecord.from_json(record.to_json().encode()) == record
    assert isinstance(NotifyRecord.from_json(record.to_json()).status, Status)


@pytest.mark.parametrize(
    "raw", ["", "{}", "[]", '{"status":"pending","starts_at":"x","n":0}', "nope"]
)
def test_record_from_json_rejects_corrupt(raw: str) -> None:
    with pytest.raises(ValueError, match="corrupt notify record"):
        NotifyRecord.from_json(raw)


MIN = 60_000


@pytest.mark.parametrize(
    ("events", "notifications"),
    [
        # HA pair: every body arrives twice; repeat_interval 1h, Alertmanager repeats every 4h.
        (
            [
                (0, F, T1),
                (0, F, T1),
                (4 * 60, F, T1),
                (4 * 60, F, T1),
                (5 * 60, R, T1),
                (5 * 60, R, T1),
            ],
            ["new", "repeat", "resolved"],
        ),
        # Flapping: firing → resolved → firing with a new startsAt → resolved.
        (
            [(0, F, T1), (2, R, T1), (3, F, T2), (3, F, T2), (4, R, T2)],
            ["new", "resolved", "new", "resolved"],
        ),
        # Webhook retries: a late firing body after the resolve, and a retried resolve.
        (
            [(0, F, T1), (1, R, T1), (2, F, T1), (2, R, T1), (90, F, T1)],
            ["new", "resolved"],
        ),
        # Receiver repeats every 30 min while Alertmanager sends every 10 min.
        ([(m, F, T1) for m in range(0, 121, 10)], ["new", "repeat", "repeat", "repeat", "repeat"]),
        # Resolve for an alert we never saw, then the real episode.
        ([(0, R, T1), (1, F, T2), (2, R, T2)], ["new", "resolved"]),
    ],
)
def test_replay_counts_notifications(
    events: list[tuple[int, Status, str]], notifications: list[str]
) -> None:
    record: NotifyRecord | None = None
    sent: list[str] = []
    interval = 30 * MIN if len(events) > 10 else HOUR
    for minute, status, starts_at in events:
        now = minute * MIN
        reason = should_notify(record, status, starts_at, now, interval, send_resolved=True)
        if reason.notifies:
            sent.append(reason.value)
        stored = next_record(record, status, starts_at, now, reason)
        if stored is not None:
            # what the store does: round-trip through JSON
            record = NotifyRecord.from_json(stored.to_json())
    assert sent == notifications


def test_replay_with_ack_suppresses_repeats_only() -> None:
    record: NotifyRecord | None = None
    sent: list[Reason] = []
    events = [(0, F, T1, False), (60, F, T1, True), (120, F, T1, True), (130, R, T1, True)]
    for minute, status, starts_at, acked in events:
        reason = should_notify(record, status, starts_at, minute * MIN, HOUR, True, acked)
        sent.append(reason)
        record = next_record(record, status, starts_at, minute * MIN, reason) or record
    assert sent == [Reason.NEW, Reason.SUPPRESSED_ACKED, Reason.SUPPRESSED_ACKED, Reason.RESOLVED]
