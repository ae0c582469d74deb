"""Prometheus metrics, all prefixed `alert_receiver_`, on a registry owned by the app."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
_DELIVERY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600)
_PREFIX = "alert_receiver_"


@dataclass(frozen=True)
class _Spec:
    """One metric: the `Metrics` attribute it is kept in, its kind, its name (without
    `_PREFIX`), help text, label names, and buckets (histograms only, always given)."""

    attr: str
    kind: type[Counter] | type[Gauge] | type[Histogram]
    name: str
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] | None = None


C, G, H = Counter, Gauge, Histogram
# Registered in this order, which is the order of the /metrics output.
_SPECS: tuple[_Spec, ...] = (
    _Spec("webhook_requests", C, "webhook_requests_total", "Webhook requests by answer code.",
          ("code",)),
    _Spec("alerts_received", C, "alerts_received_total", "Alerts received.",
          ("status", "severity")),
    _Spec("intake_duration", H, "intake_duration_seconds",
          "Time from webhook request to committed answer.", buckets=_LATENCY_BUCKETS),
    _Spec("intake_retries", C, "intake_conflicts_total",
          "Intake steps redone because a concurrent request changed the same alerts."),
    # The names Prometheus and Alertmanager use for theirs.
    _Spec("config_reload_ok", G, "config_last_reload_successful",
          "Whether the last configuration reload attempt was successful."),
    _Spec("config_reload_ts", G, "config_last_reload_success_timestamp_seconds",
          "Timestamp of the last successful configuration reload."),
    _Spec("redis_errors", C, "redis_errors_total", "Redis errors by operation.", ("op",)),
    _Spec("decisions", C, "decisions_total", "Notification decisions by destination and reason.",
          ("destination", "reason")),
    _Spec("throttled", C, "throttled_total",
          "Routed notifications by destination and throttle action "
          "(immediate, delayed, digest, summary).",
          ("destination", "action")),
    _Spec("digests_sent", C, "digests_sent_total", "Digest emails sent, by digest.", ("digest",)),
    _Spec("digest_alerts", H, "digest_alerts",
          "Alerts per digest email (listed plus counted over max_alerts).", ("digest",),
          (0, 1, 5, 10, 50, 100, 500, 1000, 5000, 10000)),
    _Spec("digest_buffered", G, "digest_buffered_alerts",
          "Alerts waiting in a digest's buffer for its next window.", ("digest",)),
    _Spec("deliveries", C, "deliveries_total", "Delivery attempts by destination and outcome.",
          ("destination", "outcome")),
    _Spec("delivery_duration", H, "delivery_duration_seconds", "Time of one send to a vendor.",
          ("destination",), _LATENCY_BUCKETS),
    _Spec("delivery_latency", H, "delivery_latency_seconds",
          "Time from the intake decision to a successful delivery.", ("destination",),
          _DELIVERY_BUCKETS),
    _Spec("attempts", H, "delivery_attempts",
          "Attempts a delivery took, observed when it ends (delivered or dead-lettered).",
          ("destination", "result"), (1, 2, 3, 5, 8, 13, 21, 34)),
    _Spec("retries_scheduled", C, "retries_scheduled_total", "Deliveries rescheduled.",
          ("destination",)),
    _Spec("dead_lettered", C, "dead_lettered_total",
          "Deliveries moved to the dead-letter stream.", ("destination", "outcome")),
    _Spec("superseded", C, "superseded_total",
          "Jobs skipped because a newer decision for the same alert and destination exists "
          "(e.g. a retried trigger whose resolve already went out).",
          ("destination",)),
    _Spec("parked", C, "parked_total",
          "Jobs held back because their destination was paused (429) or its circuit open.",
          ("destination",)),
    _Spec("destination_paused", G, "destination_paused",
          "1 while the destination is paused (429 Retry-After or an open circuit).",
          ("destination",)),
    _Spec("destination_resume", G, "destination_resume_seconds",
          "Seconds until a paused destination gets its next (probe) send; 0 when not paused.",
          ("destination",)),
    _Spec("destination_parked", G, "destination_parked_jobs",
          "Jobs waiting for their destination to reopen.", ("destination",)),
    _Spec("record_retries", C, "outcome_record_retries_total",
          "Outcome records (or job reads) retried because Redis did not answer."),
    _Spec("recipients_refused", C, "recipients_refused_total",
          "Recipients a mail server refused in a delivery that reached the others.",
          ("destination",)),
    _Spec("scheduler_moved", C, "scheduler_moved_total",
          "Jobs the scheduler moved to the outbox, by kind (due, storm_summary).", ("kind",)),
    _Spec("queue_depth", G, "queue_depth",
          "Jobs waiting, by queue (outbox, delayed, dead_letter).", ("queue",)),
    _Spec("up_info", G, "build_info", "Version and Redis mode.", ("version", "redis_mode")),
    _Spec("embedded_redis_restarts", C, "embedded_redis_restarts_total",
          "Embedded redis-server processes started again after one exited unexpectedly "
          "(every attempt, successful or not)."),
    # redis.durability (receiver/store/durability.py): each one was answered 503.
    _Spec("durability_unconfirmed", C, "durability_unconfirmed_total",
          "Changes answered 503 because fewer replicas (or fsyncs) confirmed them in time "
          "than redis.durability asks, by operation and shortfall (replicas, local_fsync).",
          ("operation", "shortfall")),
    _Spec("connections_open", G, "connections_open", "Inbound HTTP connections open now."),
    _Spec("connections_max", G, "connections_max",
          "The most inbound connections allowed at once."),
    _Spec("connections_closed", C, "connections_closed_total",
          "Inbound connections the server closed early, by reason: evicted (the longest-idle "
          "one, to make room at the limit), refused (503 at the limit, none idle), "
          "read_timeout (headers or webhook body not received in time).",
          ("reason",)),
    _Spec("acks", C, "acks_total",
          "Ack and unack requests, by how they came (api, cli, slack, email, console) and "
          "what they did (acked, unacked, already_acked, not_acked, not_found, not_firing, "
          "other_episode, replayed: a signed Slack click seen before).",
          ("via", "outcome")),
    _Spec("time_to_ack", H, "time_to_acknowledge_seconds",
          "From when the receiver saw an alert start firing to its acknowledgement.",
          buckets=(30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400)),
    _Spec("escalation_steps", C, "escalation_steps_total",
          "Escalation steps fired, by policy and level.", ("policy", "level")),
    _Spec("escalation_lateness", H, "escalation_step_lateness_seconds",
          "How long after its due time an escalation step fired.",
          buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 15, 60)),
    # People's notification rules (receiver/people).
    _Spec("person_notifications", C, "person_notifications_total",
          "People's notification rules, by contact method (push, email) and outcome: sent "
          "(its job queued), unreachable (no receiver carries it any more), cancelled (an "
          "ack or the resolve came first).",
          ("via", "outcome")),
    _Spec("person_time_to_ack", H, "person_time_to_acknowledge_seconds",
          "From when a person was paged to the alert's acknowledgement, by person.",
          ("person",), (15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)),
    # SMS and voice providers' callbacks (receiver/api/sms.py, receiver/api/voice.py).
    _Spec("phone_callbacks", C, "phone_callbacks_total",
          "Provider callbacks by receiver and outcome: forged (bad signature), replayed, "
          "text_<what an inbound text did> (text_acked, text_unknown_code, text_stop, …), "
          "key_<what a keypad press did>.",
          ("receiver", "outcome")),
    _Spec("phone_status", C, "phone_delivery_status_total",
          "Delivery status callbacks by provider receiver and status (delivered, failed, "
          "undelivered, no-answer, busy, completed, machine, …).",
          ("receiver", "status")),
    # Service SLOs (receiver/slo): figures over each service's window, computed from the
    # intervals in the shared Redis (the same on every replica: aggregate with max).
    # Up and down time are sums over a sliding window: they fall as old downtime leaves
    # it, so they are gauges, named without the counters' _total.
    _Spec("slo_window_uptime", G, "slo_window_uptime_seconds",
          "Seconds of the service's SLO window without a matching alert firing.", ("service",)),
    _Spec("slo_window_downtime", G, "slo_window_downtime_seconds",
          "Seconds of the service's SLO window with a matching alert firing (overlaps once).",
          ("service",)),
    _Spec("error_budget", G, "error_budget_seconds",
          "The service's error budget over its window: window x (1 - objective).",
          ("service", "slo")),
    _Spec("error_budget_used", G, "error_budget_used_seconds",
          "Error budget consumed over the window (the downtime).", ("service", "slo")),
    _Spec("slo_status", G, "slo_status",
          "1 healthy, 0 at risk (budget mostly spent or burning fast), -1 breached.",
          ("service", "slo")),
    _Spec("slo_burn_rate", G, "slo_burn_rate",
          "Downtime ratio over the last `window` (1h, 6h) divided by the ratio allowed.",
          ("service", "slo", "window")),
    _Spec("slo_notifications", C, "slo_budget_notifications_total",
          "Error-budget threshold crossings notified, by service and threshold.",
          ("service", "threshold")),
    # Heartbeats (receiver/heartbeat).
    _Spec("heartbeat_last_seen", G, "heartbeat_last_seen_timestamp_seconds",
          "When an alert matching the heartbeat last arrived (0: never).", ("heartbeat",)),
    _Spec("heartbeat_missing", G, "heartbeat_missing",
          "1 while the heartbeat is silent past its timeout (its page is raised).",
          ("heartbeat",)),
    # The console's token login (receiver/web/store.py): never labelled by token name.
    _Spec("login_failures", C, "login_failures_total",
          "Console logins with a wrong token, by reason (unknown_token, not_allowed, …).",
          ("reason",)),
    _Spec("login_refused", C, "login_refused_total",
          "Console logins refused unjudged after repeated failures, by the limit that "
          "refused them (address, overall).",
          ("limit",)),
    # Maintenance windows (receiver/maintenance).
    _Spec("maintenance_active", G, "maintenance_active",
          "Whether an occurrence of the maintenance window is in force now (1) or not (0).",
          ("window",)),
    _Spec("maintenance_muted", C, "maintenance_muted_total",
          "Alert arrivals decided inside a maintenance window (repeats included), by "
          "window and mode (mute: nobody told; digest: sent to the window's digest).",
          ("window", "mode")),
    _Spec("maintenance_released", C, "maintenance_released_total",
          "Alerts a maintenance window's end looked at, by window and outcome: notified "
          "(still firing: told once), resolved (fired and resolved inside: counted, not "
          "told), moved (into another window still in force).",
          ("window", "outcome")),
)  # fmt: skip
del C, G, H


class Metrics:
    """Every metric of the service. One instance per app (no module-level singletons).

    Built from `_SPECS`; the annotations below give mypy each attribute's type, and the
    import-time check after the class keeps them and the table in step."""

    webhook_requests: Counter
    alerts_received: Counter
    intake_duration: Histogram
    intake_retries: Counter
    config_reload_ok: Gauge
    config_reload_ts: Gauge
    redis_errors: Counter
    decisions: Counter
    throttled: Counter
    digests_sent: Counter
    digest_alerts: Histogram
    digest_buffered: Gauge
    deliveries: Counter
    delivery_duration: Histogram
    delivery_latency: Histogram
    attempts: Histogram
    retries_scheduled: Counter
    dead_lettered: Counter
    superseded: Counter
    parked: Counter
    destination_paused: Gauge
    destination_resume: Gauge
    destination_parked: Gauge
    record_retries: Counter
    recipients_refused: Counter
    scheduler_moved: Counter
    queue_depth: Gauge
    up_info: Gauge
    embedded_redis_restarts: Counter
    durability_unconfirmed: Counter
    connections_open: Gauge
    connections_max: Gauge
    connections_closed: Counter
    acks: Counter
    time_to_ack: Histogram
    escalation_steps: Counter
    escalation_lateness: Histogram
    person_notifications: Counter
    person_time_to_ack: Histogram
    phone_callbacks: Counter
    phone_status: Counter
    slo_window_uptime: Gauge
    slo_window_downtime: Gauge
    error_budget: Gauge
    error_budget_used: Gauge
    slo_status: Gauge
    slo_burn_rate: Gauge
    slo_notifications: Counter
    heartbeat_last_seen: Gauge
    heartbeat_missing: Gauge
    login_failures: Counter
    login_refused: Counter
    maintenance_active: Gauge
    maintenance_muted: Counter
    maintenance_released: Counter

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        r = self.registry = registry or CollectorRegistry()
        for s in _SPECS:
            metric: Counter | Gauge | Histogram
            if s.buckets is not None:  # histograms, and only they (_check_specs)
                metric = Histogram(
                    _PREFIX + s.name, s.help, s.labels, registry=r, buckets=s.buckets
                )
            else:
                metric = s.kind(_PREFIX + s.name, s.help, s.labels, registry=r)
            setattr(self, s.attr, metric)

    def child(self, metric: Any, *values: str) -> Any:
        """`metric.labels(*values)`, remembered: the intake asks for the same few children on
        every request, and prometheus_client's lookup (checks, a lock) costs microseconds."""
        key = (id(metric), values)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*values)
        return found


def _check_specs() -> None:
    """Each spec has an attribute annotated with its kind (and each annotation a spec), and
    buckets exactly when it is a histogram: a typo here fails at import, not at first use."""
    declared = dict(Metrics.__annotations__)  # strings (postponed annotations): "Counter", …
    specs = {s.attr: s.kind.__name__ for s in _SPECS}
    if len(specs) != len(_SPECS) or specs != declared:
        raise RuntimeError(
            f"receiver/metrics.py: _SPECS and Metrics' annotations differ: "
            f"{sorted(set(specs.items()) ^ set(declared.items()))}"
        )
    wrong = [s.attr for s in _SPECS if (s.kind is Histogram) != (s.buckets is not None)]
    if wrong:
        raise RuntimeError(f"receiver/metrics.py: buckets given iff histogram: {wrong}")


_check_specs()
