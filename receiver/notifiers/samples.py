"""Sample notifications (fixture data) for checking and previewing templates."""

from __future__ import annotations

from receiver.models import AlertSnapshot, Notification, Reason, Status


def sample_notifications() -> list[Notification]:
    """A firing, a resolved and a storm notification, for checking templates."""
    alert = AlertSnapshot(
        fingerprint="0f3ef813eb86bd39",
        status=Status.FIRING,
        labels={
            "alertname": "HighErrorRate",
            "instance": "api-1:8080",
            "job": "api",
            "service": "api",
            "severity": "critical",
        },
        annotations={
            "summary": "High error rate",
            "description": "5xx ratio 7% <over 5%> & rising",
            "runbook_url": "https://runbooks.example.org/high-error-rate",
        },
        startsAt="2026-11-22T05:12:40.615636Z",
        generatorURL="http://prometheus:9090/graph?g0.expr=x",
        receiver="rx",
        groupKey='{}:{alertname="HighErrorRate"}',
        externalURL="http://alertmanager:9093",
    )
    resolved = alert.model_copy(
        update={"status": Status.RESOLVED, "endsAt": "2026-11-22T05:13:04Z"}
    )
    other = alert.model_copy(update={"labels": {**alert.labels, "alertname": "Latency"}})
    return [
        Notification(key="sample-new", destination="sample", reason=Reason.NEW, alert=alert),
        Notification(
            key="sample-resolved", destination="sample", reason=Reason.RESOLVED, alert=resolved
        ),
        Notification(
            key="sample-storm",
            destination="sample",
            reason=Reason.NEW,
            alert=alert,
            route="team-api",
            summary_of=[alert, alert, other],
            summary_total=37,
        ),
    ]
