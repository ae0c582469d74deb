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
        self.parked = Counter(
            p + "parked_total",
            "Jobs held back because their destination was paused (429) or its circuit open.",
            ["destination"],
            registry=r,
        )
        self.destination_paused = Gauge(
            p + "destination_paused",
            "1 while the destination is paused (429 Retry-After or an open circuit).",
            ["destination"],
            registry=r,
        )
        self.destination_resume = Gauge(
            p + "destination_resume_seconds",
            "Seconds until a paused destination gets its next (probe) send; 0 when not paused.",
            ["destination"],
            registry=r,
        )
        self.destination_parked = Gauge(
            p + "destination_parked_jobs",
            "Jobs waiting for their destination to reopen.",
            ["destination"],
            registry=r,
        )
        self.record_retries = Counter(
            p + "outcome_record_retries_total",
            "Outcome records (or job reads) retried because Redis did not answer.",
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
        # redis.durability (receiver/store/durability.py): each one was answered 503.
        self.durability_unconfirmed = Counter(
            p + "durability_unconfirmed_total",
            "Changes answered 503 because fewer replicas (or fsyncs) confirmed them in time "
            "than redis.durability asks, by operation and shortfall (replicas, local_fsync).",
            ["operation", "shortfall"],
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
        self.acks = Counter(
            p + "acks_total",
            "Ack and unack requests, by how they came (api, cli, slack, email, console) and "
            "what they did (acked, unacked, already_acked, not_acked, not_found, not_firing, "
            "other_episode, replayed: a signed Slack click seen before).",
            ["via", "outcome"],
            registry=r,
        )
        self.time_to_ack = Histogram(
            p + "time_to_acknowledge_seconds",
            "From when the receiver saw an alert start firing to its acknowledgement.",
            buckets=(30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400),
            registry=r,
        )
        self.escalation_steps = Counter(
            p + "escalation_steps_total",
            "Escalation steps fired, by policy and level.",
            ["policy", "level"],
            registry=r,
        )
        self.escalation_lateness = Histogram(
            p + "escalation_step_lateness_seconds",
            "How long after its due time an escalation step fired.",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 15, 60),
            registry=r,
        )
        # Service SLOs (receiver/slo): figures over each service's window, computed from the
        # intervals in the shared Redis (the same on every replica: aggregate with max).
        # Up and down time are sums over a sliding window: they fall as old downtime leaves
        # it, so they are gauges, named without the counters' _total.
        self.slo_window_uptime = Gauge(
            p + "slo_window_uptime_seconds",
            "Seconds of the service's SLO window without a matching alert firing.",
            ["service"],
            registry=r,
        )
        self.slo_window_downtime = Gauge(
            p + "slo_window_downtime_seconds",
            "Seconds of the service's SLO window with a matching alert firing (overlaps once).",
            ["service"],
            registry=r,
        )
        self.error_budget = Gauge(
            p + "error_budget_seconds",
            "The service's error budget over its window: window x (1 - objective).",
            ["service", "slo"],
            registry=r,
        )
        self.error_budget_used = Gauge(
            p + "error_budget_used_seconds",
            "Error budget consumed over the window (the downtime).",
            ["service", "slo"],
            registry=r,
        )
        self.slo_status = Gauge(
            p + "slo_status",
            "1 healthy, 0 at risk (budget mostly spent or burning fast), -1 breached.",
            ["service", "slo"],
            registry=r,
        )
        self.slo_burn_rate = Gauge(
            p + "slo_burn_rate",
            "Downtime ratio over the last `window` (1h, 6h) divided by the ratio allowed.",
            ["service", "slo", "window"],
            registry=r,
        )
        self.slo_notifications = Counter(
            p + "slo_budget_notifications_total",
            "Error-budget threshold crossings notified, by service and threshold.",
            ["service", "threshold"],
            registry=r,
        )
        # Heartbeats (receiver/heartbeat).
        self.heartbeat_last_seen = Gauge(
            p + "heartbeat_last_seen_timestamp_seconds",
            "When an alert matching the heartbeat last arrived (0: never).",
            ["heartbeat"],
            registry=r,
        )
        self.heartbeat_missing = Gauge(
            p + "heartbeat_missing",
            "1 while the heartbeat is silent past its timeout (its page is raised).",
            ["heartbeat"],
            registry=r,
        )
        # The console's token login (receiver/web/store.py): never labelled by token name.
        self.login_failures = Counter(
            p + "login_failures_total",
            "Console logins with a wrong token, by reason (unknown_token, not_allowed, …).",
            ["reason"],
            registry=r,
        )
        self.login_refused = Counter(
            p + "login_refused_total",
            "Console logins refused unjudged after repeated failures, by the limit that "
            "refused them (address, overall).",
            ["limit"],
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
