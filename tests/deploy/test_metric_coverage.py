"""Every metric the receiver exports is looked at somewhere: a panel or query of the Grafana
dashboard, or a rule of deployments/monitoring/alerts.yml, or it is named in UNPANELLED
below with the reason. A metric added without a panel is then a decision, not an accident."""

from __future__ import annotations

import re

from receiver.metrics import Metrics
from tests.deploy.tools import DASHBOARD, MONITORING

# Exported, on no panel and in no rule, on purpose (name as receiver/metrics.py writes it).
UNPANELLED = {
    "alert_receiver_intake_conflicts_total": "intake steps redone when concurrent requests "
    "changed the same alerts: a debugging figure; what it costs shows in Intake latency",
    "alert_receiver_config_last_reload_success_timestamp_seconds": "when, not whether: the "
    "Config reload panel and AlertReceiverConfigReloadFailed use the _successful gauge",
    "alert_receiver_delivery_attempts": "attempts per finished delivery; the trouble it shows "
    "is on the Retries and dead letters panel as rates",
    "alert_receiver_outcome_record_retries_total": "Redis not answering a worker's outcome "
    "record: Redis trouble, which the Redis errors panel and rules already show",
    "alert_receiver_recipients_refused_total": "one mail recipient refused in a delivery that "
    "reached the others: the log line names the address, which a count cannot",
    "alert_receiver_slo_budget_notifications_total": "the receiver's own budget notification "
    "is the signal; Error budget remaining shows the same crossing",
    "alert_receiver_login_failures_total": "single wrong tokens at the console login are "
    "typos; repeated ones are refused, and AlertReceiverConsoleLoginRefused fires on those",
}


def exported() -> dict[str, set[str]]:
    """Each metric of receiver/metrics.py (its name as written there) → the series names a
    query can use for it."""
    out: dict[str, set[str]] = {}
    for family in Metrics().registry.collect():
        name = family.name
        if family.type == "counter":  # prometheus_client names the family without _total
            out[name + "_total"] = {name + "_total"}
        elif family.type == "histogram":
            out[name] = {name + suffix for suffix in ("_bucket", "_sum", "_count")}
        else:
            out[name] = {name}
    return out


def used() -> set[str]:
    """Every alert_receiver_* series named by the rules or anywhere in the dashboard JSON
    (queries, and the template variables' queries)."""
    text = (MONITORING / "alerts.yml").read_text() + DASHBOARD.read_text()
    return set(re.findall(r"\balert_receiver_[a-z0-9_]+", text))


def test_every_exported_metric_is_on_the_dashboard_in_a_rule_or_allow_listed() -> None:
    metrics, names = exported(), used()
    assert len(metrics) >= 40  # the registry was read
    unlooked = sorted(m for m, series in metrics.items() if not series & names)
    assert [m for m in unlooked if m not in UNPANELLED] == []


def test_the_allow_list_has_no_stale_entries() -> None:
    """Allow-listed metrics exist and are still unused: one that got a panel leaves the list."""
    metrics, names = exported(), used()
    assert sorted(set(UNPANELLED) - set(metrics)) == []
    assert sorted(m for m in UNPANELLED if metrics[m] & names) == []
