"""PagerDuty notifier against a local Events API v2 that validates like the real one."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from receiver.models import AckInfo, Reason
from receiver.notifiers.base import Outcome
from receiver.notifiers.pagerduty import PagerDutyConfig, PagerDutyNotifier
from receiver.notifiers.render import Renderer
from tests.servers import fixture_alerts, notification, resolved
from tests.servers.pagerduty import FakePagerDuty

KEY = "R0UT1NGKEY0123456789abcdefABCDEF"  # 32 characters


def make(pd: FakePagerDuty, session: aiohttp.ClientSession, **cfg: Any) -> PagerDutyNotifier:
    cfg.setdefault("routing_key", KEY)
    config = PagerDutyConfig.model_validate({"type": "pagerduty", "base_url": pd.base_url, **cfg})
    return PagerDutyNotifier("pd", config, session, Renderer())


async def test_trigger_then_resolve_share_the_dedup_key(pd: FakePagerDuty, session: Any) -> None:
    firing = fixture_alerts("critical-group-firing")[0]
    later = fixture_alerts("critical-group-mixed-resolved")[0]
    assert later.fingerprint == firing.fingerprint and later.status == "resolved"
    notifier = make(pd, session)

    first = await notifier.send(notification(firing), {})
    second = await notifier.send(notification(later), first.state)

    assert first.outcome is Outcome.OK and second.outcome is Outcome.OK
    trigger, resolve = pd.events
    assert trigger["event_action"] == "trigger" and resolve["event_action"] == "resolve"
    assert trigger["dedup_key"] == resolve["dedup_key"] == f"alert-receiver/{firing.fingerprint}"
    assert first.state == {"dedup_key": trigger["dedup_key"]}
    assert pd.incidents == {trigger["dedup_key"]: "resolved"}
    payload = trigger["payload"]
    assert payload["summary"] == "High error rate (api-1:8080)"
    assert payload["source"] == "api-1:8080"
    assert payload["severity"] == "critical"
    assert payload["custom_details"]["description"] == "5xx ratio 7%"
    assert payload["custom_details"]["job"] == "api"
    # generatorURL yes; no runbook_url annotation: no empty link for it
    assert trigger["links"] == [{"href": firing.generatorURL, "text": "Source"}]
    assert "links" not in resolve


async def test_retry_and_other_replica_use_the_same_dedup_key(
    pd: FakePagerDuty, session: Any
) -> None:
    alert = fixture_alerts("warning-firing")[0]
    a, b = make(pd, session), make(pd, session)
    await a.send(notification(alert), {})
    await b.send(notification(alert, attempt=3), {})
    assert len({e["dedup_key"] for e in pd.events}) == 1
    assert len(pd.incidents) == 1
    assert pd.events[0]["payload"]["severity"] == "warning"


async def test_links_source_and_fallback_summary(pd: FakePagerDuty, session: Any) -> None:
    alert = fixture_alerts("warning-firing")[0].model_copy(
        update={
            "labels": {"alertname": "NoSummary", "job": "node", "severity": "info"},
            "annotations": {"runbook_url": "https://runbooks.example.org/x"},
            "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
        }
    )
    result = await make(pd, session).send(notification(alert), {})
    assert result.ok
    event = pd.events[0]
    assert event["payload"]["summary"] == "NoSummary (job=node)"
    assert event["payload"]["source"] == "node"  # no instance label: job
    assert event["payload"]["severity"] == "info"
    assert event["links"] == [
        {"href": "http://prometheus:9090/graph?g0.expr=up", "text": "Source"},
        {"href": "https://runbooks.example.org/x", "text": "Runbook"},
    ]


async def test_long_summary_is_cut_to_1024(pd: FakePagerDuty, session: Any) -> None:
    alert = fixture_alerts("warning-firing")[0]
    alert = alert.model_copy(update={"annotations": {"summary": "x" * 5000}})
    result = await make(pd, session).send(notification(alert), {})
    assert result.ok, result.detail
    summary = pd.events[0]["payload"]["summary"]
    assert len(summary) == 1024 and summary.endswith("(truncated)")


async def test_huge_details_are_shrunk_under_512kb(pd: FakePagerDuty, session: Any) -> None:
    alert = fixture_alerts("warning-firing")[0]
    big = {f"note{i}": "y" * 10_000 for i in range(60)}  # ~600 KB of annotations
    alert = alert.model_copy(update={"annotations": {**alert.annotations, **big}})
    result = await make(pd, session).send(notification(alert), {})
    assert result.ok, result.detail
    assert len(pd.requests[0].body) <= 512 * 1024
    assert "truncated" in pd.events[0]["payload"]["custom_details"]


async def test_server_error_is_retryable(pd: FakePagerDuty, session: Any) -> None:
    pd.fail_next(1, status=500)
    result = await make(pd, session).send(notification(fixture_alerts("warning-firing")[0]), {})
    assert result.outcome is Outcome.SERVER_ERROR and result.retryable
    assert pd.events == []


async def test_429_is_rate_limited_with_retry_after(pd: FakePagerDuty, session: Any) -> None:
    pd.rate_limit_next(1, retry_after=7)
    result = await make(pd, session).send(notification(fixture_alerts("warning-firing")[0]), {})
    assert result.outcome is Outcome.RATE_LIMITED and result.retryable
    assert result.retry_after_s == 7
    assert len(pd.requests) == 1  # the notifier itself never retries


async def test_400_is_final(pd: FakePagerDuty, session: Any) -> None:
    pd.fail_next(1, status=400)
    result = await make(pd, session).send(notification(fixture_alerts("warning-firing")[0]), {})
    assert result.outcome is Outcome.CLIENT_ERROR and not result.retryable


@pytest.mark.parametrize("key", ["too-short", "x" * 33])
async def test_bad_routing_key_sends_nothing(pd: FakePagerDuty, session: Any, key: str) -> None:
    notifier = make(pd, session, routing_key=key)
    assert PagerDutyConfig(routing_key=key).problems() == [
        ("routing_key", "routing_key must be 32 characters")
    ]
    result = await notifier.send(notification(fixture_alerts("warning-firing")[0]), {})
    assert result.outcome is Outcome.INVALID_CONFIG and not result.retryable
    assert pd.requests == []


async def test_hang_times_out(pd: FakePagerDuty, session: Any) -> None:
    pd.hang_next(1)
    notifier = make(pd, session, timeout=0.3)
    started = time.monotonic()
    result = await notifier.send(notification(fixture_alerts("warning-firing")[0]), {})
    assert result.outcome is Outcome.TIMEOUT and result.retryable
    assert time.monotonic() - started < 2


async def test_connection_refused_is_network_error(session: Any) -> None:
    pd = FakePagerDuty()
    await pd.start()
    await pd.stop()  # nothing listens on that port any more
    result = await make(pd, session).send(notification(fixture_alerts("warning-firing")[0]), {})
    assert result.outcome is Outcome.NETWORK_ERROR and result.retryable


async def test_routing_key_file(pd: FakePagerDuty, session: Any, tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_text(KEY + "\n")
    notifier = make(pd, session, routing_key=None, routing_key_file=str(path))
    assert (await notifier.send(notification(fixture_alerts("warning-firing")[0]), {})).ok
    assert pd.events[0]["routing_key"] == KEY

    missing = make(pd, session, routing_key=None, routing_key_file=str(tmp_path / "nope"))
    result = await missing.send(notification(fixture_alerts("warning-firing")[0]), {})
    assert result.outcome is Outcome.INVALID_CONFIG and "nope" in result.detail


async def test_acknowledge(pd: FakePagerDuty, session: Any) -> None:
    alert = fixture_alerts("warning-firing")[0]
    notifier = make(pd, session)
    sent = await notifier.send(notification(alert), {})
    ack = AckInfo(by="alice", at_ms=1, via="api")
    acked = await notifier.send(notification(alert, Reason.ACKNOWLEDGED, ack=ack), sent.state)
    assert acked.ok and acked.state == sent.state
    assert [e["event_action"] for e in pd.events] == ["trigger", "acknowledge"]
    assert pd.incidents == {sent.state["dedup_key"]: "acknowledged"}
    # No un-acknowledge in the Events API: an unack sends nothing and fails nothing.
    unacked = await notifier.send(notification(alert, Reason.UNACKNOWLEDGED, ack=ack), sent.state)
    assert unacked.ok and len(pd.events) == 2


async def test_repeat_triggers_the_same_incident(pd: FakePagerDuty, session: Any) -> None:
    alert = fixture_alerts("warning-firing")[0]
    notifier = make(pd, session)
    first = await notifier.send(notification(alert), {})
    again = await notifier.send(notification(alert, Reason.REPEAT), first.state)
    assert again.ok and len(pd.incidents) == 1
    assert [e["event_action"] for e in pd.events] == ["trigger", "trigger"]
    # resolving a resolved alert's incident after a replica lost the state still works
    await notifier.send(notification(resolved(alert)), {})
    assert list(pd.incidents.values()) == ["resolved"]


async def test_resolved_alert_is_never_triggered(pd: FakePagerDuty, session: Any) -> None:
    gone = fixture_alerts("critical-group-mixed-resolved")[0]
    result = await make(pd, session).send(notification(gone, Reason.NEW), {})
    assert result.ok
    assert [e["event_action"] for e in pd.events] == ["resolve"]


async def test_storm_summary_is_one_trigger(pd: FakePagerDuty, session: Any) -> None:
    alerts = fixture_alerts("critical-group-firing") + fixture_alerts("warning-firing")
    n = notification(
        alerts[0], key="storm:team-api:1700000000", route="team-api",
        summary_of=alerts, summary_total=37,
    )  # fmt: skip
    result = await make(pd, session).send(n, {"dedup_key": "alert-receiver/sample"})
    assert result.ok, result.detail
    assert result.state == {}  # not to be remembered as the sample alert's incident
    (event,) = pd.events
    assert event["dedup_key"] == "alert-receiver/storm/storm:team-api:1700000000"
    assert event["payload"]["summary"] == (
        "37 more alerts on route team-api: top alertnames HighErrorRate (2), DiskSpaceLow (1)"
    )
    assert event["payload"]["severity"] == "critical"
    assert len(event["payload"]["custom_details"]["alerts"]) == 3
    json.dumps(event)  # plain JSON all the way down
