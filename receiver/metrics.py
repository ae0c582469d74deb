"""Prometheus metrics, all prefixed `alert_receiver_`, on a registry owned by the app."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
_DELIVERY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600)


class Metrics:
    """Every metric of the service. One instance per app (no module-level singletons)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        r = self.registry = registry or CollectorRegistry()
        p = "alert_receiver_"
        self.webhook_requests = Counter(
            p + "webhook_requests_total", "Webhook requests by answer code.", ["code"], registry=r
        )
        self.alerts_received = Counter(
            p + "alerts_received_total", "Alerts received.", ["status", "severity"], registry=r
        )
        self.intake_duration = Histogram(
            p + "intake_duration_seconds",
            "Time from webhook request to committed answer.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.intake_retries = Counter(
            p + "intake_conflicts_total",
            "Intake steps redone because a concurrent request changed the same alerts.",
            registry=r,
        )
        # The names Prometheus and Alertmanager use for theirs.
        self.config_reload_ok = Gauge(
            p + "config_last_reload_successful",
            "Whether the last configuration reload attempt was successful.",
            registry=r,
        )
        self.config_reload_ts = Gauge(
            p + "config_last_reload_success_timestamp_seconds",
            "Timestamp of the last successful configuration reload.",
            registry=r,
        )
        self.redis_errors = Counter(
            p + "redis_errors_total", "Redis errors by operation.", ["op"], registry=r
        )
        self.decisions = Counter(
            p + "decisions_total",
            "Notification decisions by destination and reason.",
            ["destination", "reason"],
            registry=r,
        )
        self.throttled = Counter(
            p + "throttled_total",
            "Routed notifications by destination and throttle action "
            "(immediate, delayed, digest, summary).",
            ["destination", "action"],
            registry=r,
        )
        self.digests_sent = Counter(
            p + "digests_sent_total",
            "Digest emails sent, by digest.",
            ["digest"],
            registry=r,
        )
        self.digest_alerts = Histogram(
            p + "digest_alerts",
            "Alerts per digest email (listed plus counted over max_alerts).",
            ["digest"],
            buckets=(0, 1, 5, 10, 50, 100, 500, 1000, 5000, 10000),
            registry=r,
        )
        self.digest_buffered = Gauge(
            p + "digest_buffered_alerts",
            "Alerts waiting in a digest's buffer for its next window.",
            ["digest"],
            registry=r,
        )
        self.deliveries = Counter(
            p + "deliveries_total",
            "Delivery attempts by destination and outcome.",
            ["destination", "outcome"],
            registry=r,
        )
        self.delivery_duration = Histogram(
            p + "delivery_duration_seconds",
            "Time of one send to a vendor.",
            ["destination"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.delivery_latency = Histogram(
            p + "delivery_latency_seconds",
            "Time from the intake decision to a successful delivery.",
            ["destination"],
            buckets=_DELIVERY_BUCKETS,
            registry=r,
        )
        self.attempts = Histogram(
            p + "delivery_attempts",
            "Attempts a delivery took, observed when it ends (delivered or dead-lettered).",
            ["destination", "result"],
            buckets=(1, 2, 3, 5, 8, 13, 21, 34),
            registry=r,
        )
        self.retries_scheduled = Counter(
            p + "retries_scheduled_total", "Deliveries rescheduled.", ["destination"], registry=r
        )
        self.dead_lettered = Counter(
            p + "dead_lettered_total",
            "Deliveries moved to the dead-letter stream.",
            ["destination", "outcome"],
            registry=r,
        )
        self.superseded = Counter(
            p + "superseded_total",
            "Jobs skipped because a newer decision for the same alert and destination exists "
            "(e.g. a retried trigger whose resolve already went out).",
            ["destination"],
            registry=r,
        )
        self.recipients_refused = Counter(
            p + "recipients_refused_total",
            "Recipients a mail server refused in a delivery that reached the others.",
            ["destination"],
            registry=r,
        )
        self.scheduler_moved = Counter(
            p + "scheduler_moved_total",
            "Jobs the scheduler moved to the outbox, by kind (due, storm_summary).",
            ["kind"],
            registry=r,
        )
        self.queue_depth = Gauge(
            p + "queue_depth",
            "Jobs waiting, by queue (outbox, delayed, dead_letter).",
            ["queue"],
            registry=r,
        )
        self.up_info = Gauge(
            p + "build_info", "Version and Redis mode.", ["version", "redis_mode"], registry=r
        )
        self.embedded_redis_restarts = Counter(
            p + "embedded_redis_restarts_total",
            "Embedded redis-server processes started again after one exited unexpectedly "
            "(every attempt, successful or not).",
            registry=r,
        )
        self.connections_open = Gauge(
            p + "connections_open", "Inbound HTTP connections open now.", registry=r
        )
        self.connections_max = Gauge(
            p + "connections_max", "The most inbound connections allowed at once.", registry=r
        )
        self.connections_closed = Counter(
            p + "connections_closed_total",
            "Inbound connections the server closed early, by reason: evicted (the longest-idle "
            "one, to make room at the limit), refused (503 at the limit, none idle), "
            "read_timeout (headers or webhook body not received in time).",
            ["reason"],
            registry=r,
        )

    def child(self, metric: Any, *values: str) -> Any:
        """`metric.labels(*values)`, remembered: the intake asks for the same few children on
        every request, and prometheus_client's lookup (checks, a lock) costs microseconds."""
        key = (id(metric), values)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*values)
        return found
