"""What a maintenance window makes of the intake's decision (pipeline.dedup.in_maintenance
and released_record), as a table: muted while it lasts, told once when it ends."""

from __future__ import annotations

import pytest

from receiver.models import NotifyRecord, Reason, Status
from receiver.pipeline.dedup import in_maintenance, released_record

F, R = Status.FIRING, Status.RESOLVED
T1, T2 = "2026-03-28T01:00:00Z", "2026-03-28T02:00:00Z"
FIRING = NotifyRecord(F, T1, 1_000)
RESOLVED = NotifyRecord(R, T1, 1_000)


@pytest.mark.parametrize(("reason", "prev", "muted", "released", "out"), [
    # Muted: nothing new or repeated goes out; the rest is as decided.
    (Reason.NEW, None, True, False, Reason.MAINTENANCE),
    (Reason.REPEAT, FIRING, True, False, Reason.MAINTENANCE),
    (Reason.DUPLICATE, FIRING, True, False, Reason.DUPLICATE),
    (Reason.SUPPRESSED_ACKED, FIRING, True, False, Reason.SUPPRESSED_ACKED),
    (Reason.RESOLVED, FIRING, True, False, Reason.RESOLVED),
    (Reason.NOT_FIRING, None, True, False, Reason.NOT_FIRING),
    # Released at the end: told once, whatever the repeat interval says; an ack holds.
    (Reason.NEW, None, False, True, Reason.MAINTENANCE_ENDED),
    (Reason.REPEAT, FIRING, False, True, Reason.MAINTENANCE_ENDED),
    (Reason.DUPLICATE, FIRING, False, True, Reason.MAINTENANCE_ENDED),
    (Reason.DUPLICATE, RESOLVED, False, True, Reason.DUPLICATE),  # a stale body: never
    (Reason.DUPLICATE, None, False, True, Reason.DUPLICATE),
    (Reason.SUPPRESSED_ACKED, FIRING, False, True, Reason.SUPPRESSED_ACKED),
    # Neither: untouched.
    (Reason.NEW, None, False, False, Reason.NEW),
    (Reason.REPEAT, FIRING, False, False, Reason.REPEAT),
])  # fmt: skip
def test_maintenance_decisions(
    reason: Reason, prev: NotifyRecord | None, muted: bool, released: bool, out: Reason
) -> None:
    assert in_maintenance(reason, prev, muted, released) is out


def test_the_release_records_the_latest_episode_as_told_now() -> None:
    assert released_record(None, T2, 5_000) == NotifyRecord(F, T2, 5_000)
    assert released_record(FIRING, T1, 5_000) == NotifyRecord(F, T1, 5_000)
    assert released_record(NotifyRecord(F, T2, 1), T1, 5_000) == NotifyRecord(F, T2, 5_000)
    assert Reason.MAINTENANCE_ENDED.notifies and not Reason.MAINTENANCE.notifies
