"""deployments/monitoring/: promtool and amtool accept the rules and configs, the rule unit
tests pass, and the routing does what alertmanager.yml's comments promise."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.deploy.tools import MONITORING, alerting_rules, load_yaml, require, run

RECEIVER_GROUPS = ("alert-receiver", "alert-receiver-delivery-slo.alerts", "meta")


def test_promtool_check_rules() -> None:
    promtool = require("promtool", "prometheus")
    res = run(promtool, "check", "rules", MONITORING / "alerts.yml")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "SUCCESS" in res.stdout


def test_promtool_rule_unit_tests_pass() -> None:
    promtool = require("promtool", "prometheus")
    res = run(promtool, "test", "rules", MONITORING / "alerts.test.yml")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "SUCCESS" in res.stdout


def test_promtool_check_prometheus_config() -> None:
    promtool = require("promtool", "prometheus")
    res = run(promtool, "check", "config", MONITORING / "prometheus.yml")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "1 rule files found" in res.stdout  # rule_files resolves to alerts.yml


def test_amtool_check_alertmanager_config() -> None:
    amtool = require("amtool", "prometheus-alertmanager")
    res = run(amtool, "check-config", MONITORING / "alertmanager.yml")
    assert res.returncode == 0, res.stdout + res.stderr


def test_promtool_refuses_a_broken_rule(tmp_path: Any) -> None:
    """The check is real: a rule file with a PromQL error fails it."""
    promtool = require("promtool", "prometheus")
    bad = tmp_path / "bad.yml"
    bad.write_text("groups:\n- name: x\n  rules:\n  - alert: X\n    expr: rate(up[5m]\n")
    res = run(promtool, "check", "rules", bad)
    assert res.returncode != 0


def test_every_alert_has_severity_priority_and_runbook() -> None:
    for rule in alerting_rules():
        name, labels, ann = rule["alert"], rule.get("labels", {}), rule.get("annotations", {})
        assert labels.get("severity") in {"critical", "warning", "info", "none"}, name
        assert re.fullmatch(r"P[0-3]", str(labels.get("priority"))), name
        assert str(ann.get("runbook_url", "")).startswith("https://"), name
        assert ann.get("summary"), name
    watchdog = [r for r in alerting_rules() if r["alert"] == "Watchdog"]
    assert len(watchdog) == 1
    assert watchdog[0]["expr"].strip() == "vector(1)"
    assert watchdog[0]["labels"]["severity"] == "none"


def _unit_tested_alerts() -> dict[str, list[dict[str, str]]]:
    """alertname -> label sets that some promtool test expects to fire."""
    fired: dict[str, list[dict[str, str]]] = {}
    for test in load_yaml(MONITORING / "alerts.test.yml")["tests"]:
        for case in test.get("alert_rule_test", []):
            for alert in case.get("exp_alerts") or []:
                fired.setdefault(case["alertname"], []).append(alert["exp_labels"])
    return fired


def test_each_receiver_rule_is_unit_tested_firing() -> None:
    """Every rule about the receiver itself (and each burn-rate window pair) has a promtool
    test in which it fires; a rule nobody ever saw fire may never fire."""
    fired = _unit_tested_alerts()
    for rule in alerting_rules():
        if rule["_group"] not in RECEIVER_GROUPS:
            continue
        labels = rule["labels"]
        seen = fired.get(rule["alert"], [])
        assert any(all(exp.get(k) == str(v) for k, v in labels.items()) for exp in seen), (
            f"{rule['alert']} {labels} never fires in alerts.test.yml"
        )


def test_burn_rate_rules_have_a_quiet_healthy_test() -> None:
    quiet = set()
    for test in load_yaml(MONITORING / "alerts.test.yml")["tests"]:
        for case in test.get("alert_rule_test", []):
            if case["alertname"] == "AlertReceiverDeliveryErrorBudgetBurn" and not case.get(
                "exp_alerts"
            ):
                quiet.add(test["name"])
    assert "burn rates stay quiet on a healthy series" in quiet
    assert "burn rates ignore a short blip" in quiet
    windows = {
        (r["labels"]["long_window"], r["labels"]["short_window"])
        for r in alerting_rules()
        if r["alert"] == "AlertReceiverDeliveryErrorBudgetBurn"
    }
    assert windows == {("1h", "5m"), ("6h", "30m"), ("1d", "2h"), ("3d", "6h")}


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        (["severity=critical", "alertname=HTTPErrorRateHigh"], "alert-receiver-critical"),
        (["severity=warning", "alertname=DiskSpaceLow"], "alert-receiver-warning"),
        (["severity=info", "alertname=Something"], "alert-receiver-info"),
        (["alertname=Watchdog", "severity=none"], "watchdog"),
        # the receiver's own criticals also bypass it (email straight from Alertmanager)
        (
            ["alertname=AlertReceiverDown", "severity=critical", "service=alert-receiver"],
            "alert-receiver-fallback,alert-receiver-critical",
        ),
        (
            ["alertname=AlertReceiverDeadLetters", "severity=warning", "service=alert-receiver"],
            "alert-receiver-warning",
        ),
    ],
)
def test_alertmanager_routes_by_severity(labels: list[str], receivers: str) -> None:
    amtool = require("amtool", "prometheus-alertmanager")
    res = run(amtool, "config", "routes", "test",
              f"--config.file={MONITORING / 'alertmanager.yml'}", *labels)  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.strip() == receivers


def test_alertmanager_webhooks_token_resolved_and_bounded() -> None:
    cfg = load_yaml(MONITORING / "alertmanager.yml")
    hooks = [w for r in cfg["receivers"] for w in r.get("webhook_configs", [])]
    assert hooks
    for hook in hooks:
        assert hook["url"].startswith("http://receiver:9095/webhook")
        assert hook["send_resolved"] is True
        assert 0 < hook["max_alerts"] <= 5000
        auth = hook["http_config"]["authorization"]
        assert auth["credentials_file"] == "/run/secrets/webhook-token"
        assert "credentials" not in auth
    watchdog = next(r for r in cfg["route"]["routes"] if r["receiver"] == "watchdog")
    assert watchdog["repeat_interval"] in {"1m", "2m", "5m"}
    (inhibit,) = cfg["inhibit_rules"]
    assert inhibit["source_matchers"] == ['severity="critical"']
    assert inhibit["target_matchers"] == ['severity="warning"']
    assert "alertname" in inhibit["equal"]


def test_receiver_alerts_have_a_runbook_section() -> None:
    """runbooks.md has a section for each of the receiver's alerts, at the anchor its
    runbook_url names."""
    text = (MONITORING / "runbooks.md").read_text()
    for rule in alerting_rules():
        if rule["_group"] not in RECEIVER_GROUPS:
            continue
        name = rule["alert"]
        assert f"\n## {name}\n" in text, name
        assert rule["annotations"]["runbook_url"].endswith(f"#{name.lower()}"), name
