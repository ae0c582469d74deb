"""Local stand-ins for the vendors (PagerDuty, Slack, SMTP) plus fixture helpers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from receiver.models import AlertSnapshot, Notification, Reason, Status
from receiver.payload import decode_payload, snapshot_of

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "alertmanager"


def fixture_alerts(name: str) -> list[AlertSnapshot]:
    """The alerts of a captured Alertmanager body, as the intake would snapshot them."""
    payload = decode_payload((FIXTURES / f"{name}.json").read_bytes())
    return [snapshot_of(a, payload) for a in payload.alerts]


def notification(
    alert: AlertSnapshot, reason: Reason | None = None, destination: str = "test", **kw: Any
) -> Notification:
    """A delivery job for `alert`: NEW when firing, RESOLVED when resolved, unless given."""
    if reason is None:
        reason = Reason.RESOLVED if alert.status is Status.RESOLVED else Reason.NEW
    key = kw.pop("key", f"{alert.fingerprint}:{destination}:{reason}:{alert.startsAt}")
    return Notification(key=key, destination=destination, reason=reason, alert=alert, **kw)


def resolved(alert: AlertSnapshot, ends_at: str = "2026-11-22T05:20:00Z") -> AlertSnapshot:
    return alert.model_copy(update={"status": Status.RESOLVED, "endsAt": ends_at})
