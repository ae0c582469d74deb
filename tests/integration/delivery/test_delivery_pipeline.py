"""Webhook → outbox → workers → local PagerDuty / Slack / SMTP servers: what arrives."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
import yaml
from aiohttp import web

from tests.conftest import ROOT, TOKEN, AppFactory, RedisServer, auth, fixture_body
from tests.helpers import metric, until, wait_deliveries_idle
from tests.servers.pagerduty import FakePagerDuty
from tests.servers.slack import FakeSlack
from tests.servers.smtp import SMTPServer

ROUTING_KEY = "R" * 32
FAST = {"backoff_base": "200ms", "backoff_max": "1s", "visibility_timeout": "5s"}


def channels(pd: FakePagerDuty, slack: FakeSlack, smtp: SMTPServer) -> dict[str, Any]:
    return {
        "pd": {"type": "pagerduty", "routing_key": ROUTING_KEY, "base_url": pd.base_url,
               "rate": "none"},
        "chat": {"type": "slack", "token": "xoxb-test-token", "channel": "alerts",
                 "api_url": slack.api_url, "rate": "none"},
        "mail": {"type": "email", "host": "127.0.0.1", "port": smtp.port, "tls": "none",
                 "from": "alerts@example.com",
                 "to": ["a@example.com", "b@example.com", "c@example.com"], "rate": "none"},
    }  # fmt: skip


async def test_every_channel_delivers_firing_then_resolved(
    app_client: AppFactory, redis: aioredis.Redis, pd: FakePagerDuty, slack: FakeSlack,
    smtp: SMTPServer,
) -> None:  # fmt: skip
    client = await app_client(run_workers=True, receivers=channels(pd, slack, smtp),
                              route={"receivers": ["pd", "chat", "mail"]})  # fmt: skip
    r = await client.post("/webhook", json=fixture_body("critical-group-firing"), headers=auth())
    assert r.status == 200
    await until(lambda: len(pd.events) == 2 and len(slack.top_level()) == 2
                and len(smtp.messages) == 2)  # fmt: skip
    r = await client.post(
        "/webhook", json=fixture_body("critical-group-mixed-resolved"), headers=auth()
    )
    assert r.status == 200
    await until(lambda: len(pd.events) == 3 and len(smtp.messages) == 3)
    await until(lambda: any(m.history for m in slack.top_level()))
    await wait_deliveries_idle(redis)  # nothing queued, in flight or due: nothing more arrives
    # PagerDuty: two triggers, then a resolve with the first trigger's dedup_key.
    assert [e["event_action"] for e in pd.events] == ["trigger", "trigger", "resolve"]
    first = next(e for e in pd.events if "api-1" in e["payload"]["source"])
    assert pd.events[2]["dedup_key"] == first["dedup_key"]
    assert pd.incidents[first["dedup_key"]] == "resolved"
    assert list(pd.incidents.values()).count("open") == 1
    # Slack: one message per alert, the resolved one updated in place (no repost).
    assert len(slack.top_level()) == 2 and len(slack.calls("chat.postMessage")) == 2
    updated = [m for m in slack.top_level() if m.history]
    assert len(updated) == 1 and "RESOLVED" in updated[0].text.upper()
    # Email: the resolve threads under its firing mail.
    mails = [m.message for m in smtp.messages]
    resolved = next(m for m in mails if "RESOLVED" in m["Subject"])
    assert resolved["In-Reply-To"] in {m["Message-ID"] for m in mails if m is not resolved}
    assert resolved["Auto-Submitted"] == "auto-generated"


async def test_pagerduty_500s_then_202_triggers_once_and_latency_shows(
    app_client: AppFactory, redis: aioredis.Redis, pd: FakePagerDuty, slack: FakeSlack,
    smtp: SMTPServer,
) -> None:  # fmt: skip
    pd.fail_next(3, status=500)
    client = await app_client(run_workers=True, receivers=channels(pd, slack, smtp),
                              route={"receivers": ["pd"]}, workers=FAST)  # fmt: skip
    body = fixture_body("warning-firing")
    assert (await client.post("/webhook", json=body, headers=auth())).status == 200
    await until(lambda: len(pd.events) == 1)
    await wait_deliveries_idle(redis)  # no retry left due: nothing more arrives
    assert len(pd.events) == 1 and len(pd.requests) == 4
    text = await (await client.get("/metrics")).text()
    assert metric(text, "alert_receiver_deliveries_total", destination="pd",
                  outcome="server_error") == 3  # fmt: skip
    assert metric(text, "alert_receiver_retries_scheduled_total", destination="pd") == 3
    assert metric(text, "alert_receiver_delivery_attempts_sum", destination="pd",
                  result="delivered") == 4  # fmt: skip
    # Three backoffs of at least 0.1, 0.2, 0.4 s (half of each step) passed before it went.
    assert metric(text, "alert_receiver_delivery_latency_seconds_sum", destination="pd") >= 0.7


async def test_slack_429_retry_after_is_honoured(
    app_client: AppFactory, pd: FakePagerDuty, slack: FakeSlack, smtp: SMTPServer
) -> None:
    slack.rate_limit_next(1, retry_after=3)
    client = await app_client(run_workers=True, receivers=channels(pd, slack, smtp),
                              route={"receivers": ["chat"]}, workers=FAST)  # fmt: skip
    assert (await client.post("/webhook", json=fixture_body("warning-firing"),
                              headers=auth())).status == 200  # fmt: skip
    await until(lambda: len(slack.top_level()) == 1, 15)
    first, *rest = slack.requests
    assert first.status == 429
    assert rest and all(r.at - first.at >= 3.0 for r in rest)
    assert len(slack.top_level()) == 1


async def test_one_refused_recipient_of_three_is_counted(
    app_client: AppFactory, redis: aioredis.Redis, pd: FakePagerDuty, slack: FakeSlack,
    smtp: SMTPServer,
) -> None:  # fmt: skip
    smtp.handler.refuse.add("b@example.com")
    client = await app_client(run_workers=True, receivers=channels(pd, slack, smtp),
                              route={"receivers": ["mail"]})  # fmt: skip
    assert (await client.post("/webhook", json=fixture_body("warning-firing"),
                              headers=auth())).status == 200  # fmt: skip
    await until(lambda: len(smtp.messages) == 1)
    assert sorted(smtp.messages[0].rcpt_tos) == ["a@example.com", "c@example.com"]
    await wait_deliveries_idle(redis)  # the outcome recorded, no retry due
    text = await (await client.get("/metrics")).text()
    assert metric(text, "alert_receiver_recipients_refused_total", destination="mail") == 1
    assert metric(text, "alert_receiver_deliveries_total", destination="mail", outcome="ok") == 1
    assert len(smtp.messages) == 1  # not retried: the others already have it


@pytest.fixture
async def flaky_hook() -> AsyncIterator[tuple[str, list[str]]]:
    """/bad answers 400 (a misconfigured path), /good records the key and answers 200."""
    got: list[str] = []

    async def bad(request: web.Request) -> web.Response:
        return web.json_response({"error": "no such hook"}, status=400)

    async def good(request: web.Request) -> web.Response:
        got.append((await request.json())["key"])
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/bad", bad)
    app.router.add_post("/good", good)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}", got
    await runner.cleanup()


async def test_400_dead_letters_at_once_and_replay_after_fix_delivers_once(
    app_client: AppFactory, redis: aioredis.Redis, redis_server: RedisServer, tmp_path: Path,
    flaky_hook: tuple[str, list[str]],
) -> None:  # fmt: skip
    base, got = flaky_hook
    hook = {"type": "webhook", "url": f"{base}/bad", "rate": "none"}
    client = await app_client(run_workers=True, receivers={"hook": hook},
                              route={"receivers": ["hook"]}, workers=FAST)  # fmt: skip
    assert (await client.post("/webhook", json=fixture_body("warning-firing"),
                              headers=auth())).status == 200  # fmt: skip
    await until(lambda: _sync_xlen(redis_server, "{ar}:dlq") == 1)
    text = await (await client.get("/metrics")).text()
    assert (
        metric(text, "alert_receiver_deliveries_total", destination="hook", outcome="client_error")
        == 1
    )  # fmt: skip  (no retry of a 400)
    await client.close()
    # The operator fixes the URL and replays, with the CLI, against the same Redis.
    cfg = tmp_path / "fixed.yml"
    cfg.write_text(yaml.safe_dump({
        "auth": {"bearer_tokens": [TOKEN]}, "redis": {"url": redis_server.url},
        "receivers": {"hook": hook | {"url": f"{base}/good"}}, "route": {"receivers": ["hook"]},
    }))  # fmt: skip
    listed = _cli("dlq", "--config", str(cfg), "list")
    assert "1 dead letter(s)" in listed.stdout and "client_error" in listed.stdout
    fixed = await app_client(run_workers=True, receivers={"hook": hook | {"url": f"{base}/good"}},
                             route={"receivers": ["hook"]}, workers=FAST)  # fmt: skip
    assert fixed is not None
    replay = _cli("dlq", "--config", str(cfg), "replay", "--all")
    assert replay.returncode == 0 and "replayed 1" in replay.stdout
    again = _cli("dlq", "--config", str(cfg), "replay", "--all")
    assert "replayed 0" in again.stdout
    await until(lambda: len(got) == 1)
    await wait_deliveries_idle(redis)  # the replayed job settled: nothing more arrives
    assert len(got) == 1
    assert await redis.xlen("{ar}:dlq") == 0


async def test_admin_api_guards_dead_letters(app_client: AppFactory) -> None:
    closed = await app_client()
    assert (await closed.get("/api/v1/dlq")).status == 401
    admin = {"Authorization": "Bearer admin-token-0123456789"}
    guarded = await app_client(api_tokens=[{"name": "ops", "token": admin["Authorization"][7:],
                                            "scopes": ["admin"]}])  # fmt: skip
    assert (await guarded.get("/api/v1/dlq", headers=auth())).status == 403
    ok = await guarded.get("/api/v1/dlq", headers=admin)
    assert ok.status == 200 and (await ok.json())["size"] == 0
    missing = await guarded.post("/api/v1/dlq/1-1/replay", headers=admin)
    assert missing.status == 404


def _sync_xlen(server: RedisServer, key: str) -> int:
    import redis as sync_redis

    return int(sync_redis.Redis(port=server.port).xlen(key))


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "receiver", *args], capture_output=True,
                          text=True, timeout=60, cwd=ROOT)  # fmt: skip


async def test_retried_trigger_after_its_resolve_is_superseded(
    app_client: AppFactory, pd: FakePagerDuty, slack: FakeSlack, smtp: SMTPServer
) -> None:
    """PagerDuty fails the trigger; the alert resolves before the retry is due. The resolve
    goes out, and the late trigger must not reopen an incident for a resolved alert."""
    pd.fail_next(1, status=500)
    client = await app_client(run_workers=True, receivers=channels(pd, slack, smtp),
                              route={"receivers": ["pd"]},
                              workers=FAST | {"backoff_base": "2s"})  # fmt: skip
    firing = fixture_body("critical-group-firing")
    firing["alerts"] = firing["alerts"][:1]
    assert (await client.post("/webhook", json=firing, headers=auth())).status == 200
    await until(lambda: len(pd.requests) == 1)  # the trigger failed; retry in 1-2 s
    ended = fixture_body("critical-group-mixed-resolved")
    ended["alerts"] = ended["alerts"][:1]
    assert (await client.post("/webhook", json=ended, headers=auth())).status == 200
    await until(lambda: len(pd.events) == 1)
    await asyncio.sleep(2.5)  # past the trigger's retry time
    assert [e["event_action"] for e in pd.events] == ["resolve"]
    assert "open" not in pd.incidents.values()
    text = await (await client.get("/metrics")).text()
    assert metric(text, "alert_receiver_superseded_total", destination="pd") == 1


async def test_send_slower_than_visibility_timeout_is_not_sent_twice(
    app_client: AppFactory,
) -> None:
    """The worker's own reclaim loop must not hand out a job it is still sending."""
    arrivals: list[float] = []

    async def slow(request: web.Request) -> web.Response:
        arrivals.append(time.monotonic())
        await asyncio.sleep(6.5)  # past the 1 s visibility timeout and the 5 s reclaim pass
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/slow", slow)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/slow"
    try:
        client = await app_client(
            run_workers=True, route={"receivers": ["hook"]},
            receivers={"hook": {"type": "webhook", "url": url, "rate": "none", "timeout": 20}},
            workers={"visibility_timeout": "1s"},
        )  # fmt: skip
        body = fixture_body("warning-firing")
        assert (await client.post("/webhook", json=body, headers=auth())).status == 200
        await until(lambda: len(arrivals) == 1)
        await asyncio.sleep(7.5)
        assert len(arrivals) == 1
        text = await (await client.get("/metrics")).text()
        assert metric(text, "alert_receiver_deliveries_total", destination="hook",
                      outcome="ok") == 1  # fmt: skip
    finally:
        await runner.cleanup()
