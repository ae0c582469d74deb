"""The dead-man's switch against a real Redis and a local PagerDuty: two replicas, an
injected clock. A silent heartbeat pages once (whichever replica sees it), its page is a
real alert record, and the next arrival resolves it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import redis.asyncio as aioredis

from receiver.heartbeat.checker import ALERTNAME, next_state, own_labels
from receiver.models import fingerprint
from receiver.store.keys import Keys
from tests.conftest import AppFactory
from tests.integration.slo.test_slo_intake import NOW, Clock, body, post
from tests.servers.pagerduty import FakePagerDuty
from tests.servers.recorder import Recorder
from tests.servers.slack import FakeSlack
from tests.servers.smtp import SMTPServer

WATCHDOG = {"alertname": "Watchdog", "severity": "none"}
FP = fingerprint(own_labels("watchdog"))
K = Keys("ar")


def config(pd: FakePagerDuty) -> dict[str, Any]:
    return {
        "receivers": {
            "log": {"type": "log", "rate": "none"},
            "pagerduty": {
                "type": "pagerduty",
                "routing_key": "R" * 32,
                "base_url": pd.base_url,
                "rate": "none",
            },
        },
        "heartbeats": {
            "watchdog": {
                "matchers": ['alertname="Watchdog"'],
                "timeout": "5m",
                "notify": ["pagerduty"],
            }
        },
    }


async def settle(
    pd: FakePagerDuty, n: int, quiet_s: float = 2.5, within_s: float = 20
) -> list[str]:
    """The PagerDuty actions once `n` arrived (or `within_s` passed) and a few checks by
    every replica later (nothing more must come)."""
    for _ in range(int(within_s * 10)):
        if len(pd.events) >= n:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(quiet_s)
    return [e["event_action"] for e in pd.events]


def test_next_state_table() -> None:
    t = 300_000
    assert next_state(1000, "", 1000 + t, t) is None  # exactly the timeout: not yet
    assert next_state(1000, "", 1001 + t, t) == "raised|1000"
    assert next_state(1000, "ok", 2000, t) is None
    assert next_state(1000, "raised|1000", 9_999_999, t) is None  # still silent: stays
    assert next_state(5000, "raised|1000", 5000, t) == "ok"  # something arrived since
    assert next_state(1000, "ok", 1001 + t, t) == "raised|1000"


async def test_silent_heartbeat_pages_once_across_replicas_and_resolves_on_arrival(
    app_client: AppFactory, redis: aioredis.Redis, pd: FakePagerDuty
) -> None:
    clock = Clock()
    replicas = [await app_client(run_workers=True, clock=clock, **config(pd)) for _ in range(2)]
    await post(replicas[0], body(WATCHDOG, "firing", NOW - 60))
    got = await (await replicas[1].get("/api/v1/heartbeats")).json()
    [hb] = got["heartbeats"]
    assert (hb["name"], hb["status"], hb["last_seen_ms"]) == ("watchdog", "ok", NOW * 1000)
    assert hb["timeout"] == "5m" and hb["notify"] == ["pagerduty"]
    # repeats within the timeout: no page
    for _ in range(3):
        clock.t += 120
        await post(replicas[1], body(WATCHDOG, "firing", NOW - 60))
    assert await settle(pd, 1, within_s=0) == []
    # silent for longer than the timeout: exactly one page, from either replica
    silent_from = clock.t
    clock.t += 301
    assert await settle(pd, 1) == ["trigger"]
    assert pd.events[0]["dedup_key"].startswith(FP) or FP in pd.events[0]["dedup_key"]
    assert "alerting pipeline silent since" in pd.events[0]["payload"]["summary"]
    # the page is a real alert record, listed by the alerts API
    rec = await (await replicas[0].get(f"/api/v1/alerts/{FP}")).json()
    assert (rec["status"], rec["labels"]["alertname"]) == ("firing", ALERTNAME)
    assert rec["labels"]["heartbeat"] == "watchdog"
    listed = await (await replicas[0].get("/api/v1/alerts?status=firing")).json()
    assert FP in {a["fingerprint"] for a in listed["alerts"]}
    got = await (await replicas[0].get("/api/v1/heartbeats")).json()
    assert got["heartbeats"][0]["status"] == "missing"
    assert got["heartbeats"][0]["silent_since"].startswith(
        time.strftime("%Y-%m-%dT%H:%M", time.gmtime(silent_from))
    )
    metrics = await (await replicas[1].get("/metrics")).text()
    assert 'alert_receiver_heartbeat_missing{heartbeat="watchdog"} 1.0' in metrics
    # still silent much later: no second page
    clock.t += 3600
    assert await settle(pd, 2, within_s=0) == ["trigger"]
    # it arrives again: the page resolves, once
    await post(replicas[1], body(WATCHDOG, "firing", NOW - 60))
    assert await settle(pd, 2) == ["trigger", "resolve"]
    assert pd.events[1]["dedup_key"] == pd.events[0]["dedup_key"]
    rec = await (await replicas[0].get(f"/api/v1/alerts/{FP}")).json()
    assert rec["status"] == "resolved"
    assert await redis.hget(K.heartbeat_state, "watchdog") == "ok"


async def test_own_alert_does_not_feed_a_heartbeat_matching_it(
    app_client: AppFactory, redis: aioredis.Redis, pd: FakePagerDuty
) -> None:
    """A heartbeat whose matchers also match the receiver's own page must not be kept
    alive by that page."""
    clock = Clock()
    cfg = config(pd)
    cfg["heartbeats"]["watchdog"]["matchers"] = ['severity=~"none|critical"']
    client = await app_client(run_workers=True, clock=clock, **cfg)
    await post(client, body(WATCHDOG, "firing", NOW - 60))
    clock.t += 301
    assert await settle(pd, 1) == ["trigger"]
    clock.t += 10
    assert await settle(pd, 2, within_s=0) == ["trigger"]
    assert await redis.hget(K.heartbeat_seen, "watchdog") == str(int(NOW * 1000))


async def quiet(seconds: float = 2.5) -> None:
    """Time for every replica's checker, runner and workers to do what they would do."""
    await asyncio.sleep(seconds)


async def test_heartbeat_page_reaches_notify_only_not_the_critical_route_or_its_ladder(
    app_client: AppFactory,
    redis: aioredis.Redis,
    pd: FakePagerDuty,
    slack: FakeSlack,
    smtp: SMTPServer,
    recorder: Recorder,
) -> None:
    """HeartbeatMissing is critical, and the config's critical route pages PagerDuty and
    Slack and climbs a ladder to a rotation and an email: none of that hears of the page,
    which goes to the heartbeat's `notify` only, once across two replicas, and so does its
    resolve (when the Watchdog is back)."""
    clock = Clock()
    cfg: dict[str, Any] = {
        "receivers": {
            "pd": {"type": "pagerduty", "routing_key": "R" * 32, "base_url": pd.base_url,
                   "rate": "none"},
            "chat": {"type": "slack", "token": "xoxb-test-token", "channel": "alerts",
                     "api_url": slack.api_url, "rate": "none"},
            "mail": {"type": "email", "host": "127.0.0.1", "port": smtp.port, "tls": "none",
                     "from": "alerts@example.com", "to": ["fallback@example.com"],
                     "rate": "none"},
            "pager": {"type": "webhook", "url": recorder.url("pager"), "rate": "none"},
        },
        "route": {"receivers": [], "routes": [
            {"matchers": ['severity="critical"'], "receivers": ["pd", "chat"],
             "escalation": "crit"}]},
        "oncall": {"rotations": {"primary": {"members": [
            {"name": "alice", "email": "alice@example.com"}]}}},
        "escalation_policies": {"crit": {"steps": [
            {"after": "0s", "receivers": ["pd", "chat"], "rotations": ["primary"]},
            {"after": "30s", "emails": ["manager@example.com"]}],
            "email_receiver": "mail"}},
        "heartbeats": {"watchdog": {"matchers": ['alertname="Watchdog"'], "timeout": "5m",
                                    "notify": ["pager"]}},
    }  # fmt: skip
    replicas = [await app_client(run_workers=True, clock=clock, **cfg) for _ in range(2)]
    assert own_labels("watchdog")["severity"] == "critical"
    await post(replicas[0], body(WATCHDOG, "firing", NOW - 60))
    clock.t += 301  # silent past the timeout: the page
    for _ in range(int(20 / 0.1)):
        if recorder.got:
            break
        await asyncio.sleep(0.1)
    await quiet()
    clock.t += 120  # both of the ladder's steps would be due by now
    await quiet()
    await post(replicas[1], body(WATCHDOG, "firing", NOW - 60))  # back: the resolve
    for _ in range(int(20 / 0.1)):
        if len(recorder.got) >= 2:
            break
        await asyncio.sleep(0.1)
    clock.t += 120
    await quiet()
    got = [(g["path"], g["reason"], g["alert"]["labels"]["alertname"]) for g in recorder.got]
    assert got == [("/pager", "new", ALERTNAME), ("/pager", "resolved", ALERTNAME)]
    assert pd.events == []
    assert slack.messages == {} and slack.webhook_posts == []
    assert smtp.messages == []
    assert await redis.exists(K.escalation(FP)) == 0
    assert await redis.zcard(K.escalation_due) == 0
    rec = await (await replicas[0].get(f"/api/v1/alerts/{FP}")).json()
    assert rec["status"] == "resolved" and set(rec["notified"]) == {"pager"}
    assert rec["escalation"] is None
