"""Processes and the real Alertmanager: SIGKILL mid-delivery, and the dev-shaped flow."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
import yaml
from aiohttp import web

from receiver.models import fingerprint
from tests.conftest import TOKEN, RedisServer, Serve
from tests.e2e.alertmanager import Alertmanager, make_alert, require_alertmanager, resolved
from tests.helpers import free_port, until, wait_deliveries_idle
from tests.servers.pagerduty import FakePagerDuty
from tests.servers.slack import FakeSlack
from tests.servers.smtp import SMTPServer

pytestmark = pytest.mark.e2e


class HangingHook:
    """Records every delivery; the first request hangs until the test ends."""

    def __init__(self) -> None:
        self.got: list[dict[str, Any]] = []
        self.hung = 0
        self.release = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        if self.hung == 0:
            self.hung += 1
            await self.release.wait()
            return web.json_response({"ok": False}, status=503)
        self.got.append(body)
        return web.json_response({"ok": True})


@pytest.fixture
async def hook() -> AsyncIterator[tuple[str, HangingHook]]:
    h = HangingHook()
    app = web.Application()
    app.router.add_post("/hook", h.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/hook", h
    h.release.set()
    await runner.cleanup()


def _serve(tmp: Path, name: str, cfg: dict[str, Any]) -> Serve:
    (tmp / name).mkdir()
    path = tmp / f"{name}.yml"
    path.write_text(yaml.safe_dump(cfg))
    return Serve(path, tmp / name, free_port())


async def test_sigkill_mid_delivery_job_is_reclaimed_and_delivered(
    redis: aioredis.Redis, redis_server: RedisServer, tmp_path: Path,
    hook: tuple[str, HangingHook],
) -> None:  # fmt: skip
    from receiver.cli.send_test import sample_body

    url, h = hook
    cfg = {
        "auth": {"bearer_tokens": [TOKEN]}, "redis": {"url": redis_server.url},
        "receivers": {"hook": {"type": "webhook", "url": url, "rate": "none", "timeout": 60}},
        "route": {"receivers": ["hook"]},
        "workers": {"visibility_timeout": "2s", "concurrency": 4},
    }  # fmt: skip
    a = _serve(tmp_path, "a", cfg)
    await asyncio.to_thread(a.start)
    import httpx

    body = sample_body("critical", count=10)
    async with httpx.AsyncClient() as c:
        r = await c.post(f"{a.url}/webhook", json=body,
                         headers={"Authorization": f"Bearer {TOKEN}"})  # fmt: skip
    assert r.status_code == 200
    await until(lambda: h.hung == 1 and len(h.got) == 9, 40)  # one delivery is in flight in A
    a.kill()  # SIGKILL while the request is open
    b = _serve(tmp_path, "b", cfg)
    await asyncio.to_thread(b.start)
    try:
        await until(lambda: len(h.got) >= 10, 30)  # B reclaims it after the timeout
        await asyncio.sleep(1)
        per = Counter(g["alert"]["fingerprint"] for g in h.got)
        want = {fingerprint(x["labels"]) for x in body["alerts"]}
        assert set(per) == want  # nothing lost
        assert sum(per.values()) == 10  # the in-flight one arrived once, via B
        assert await redis.xlen("{ar}:outbox") == 0
        pending = await redis.xpending("{ar}:outbox", "workers")
        assert pending["pending"] == 0
    finally:
        await asyncio.to_thread(b.kill)


async def test_alertmanager_to_pagerduty_slack_and_email(
    redis_server: RedisServer, redis: aioredis.Redis, tmp_path: Path
) -> None:
    require_alertmanager()
    pd, slack, smtp = FakePagerDuty(), FakeSlack(), SMTPServer().start()
    await pd.start()
    await slack.start()
    cfg = {
        "auth": {"bearer_tokens": [TOKEN]}, "redis": {"url": redis_server.url},
        "receivers": {
            "pagerduty": {"type": "pagerduty", "routing_key": "R" * 32, "base_url": pd.base_url},
            "slack": {"type": "slack", "token": "xoxb-test-token", "channel": "alerts",
                      "api_url": slack.api_url},
            "oncall": {"type": "email", "host": "127.0.0.1", "port": smtp.port, "tls": "none",
                       "from": "alerts@example.com", "to": ["oncall@example.com"]},
        },
        "route": {"receivers": ["slack"], "routes": [
            {"name": "critical", "matchers": ['severity="critical"'],
             "receivers": ["pagerduty", "slack", "oncall"]},
        ]},
    }  # fmt: skip
    rx = _serve(tmp_path, "rx", cfg)
    await asyncio.to_thread(rx.start)
    crit = make_alert({"alertname": "ApiDown", "service": "api", "severity": "critical",
                       "instance": "api-1"}, {"summary": "API is down"})  # fmt: skip
    warn = make_alert({"alertname": "DiskLow", "service": "db", "severity": "warning",
                       "instance": "db-1"}, {"summary": "Disk low"})  # fmt: skip
    try:
        async with Alertmanager(f"{rx.url}/webhook", TOKEN) as am:
            await am.post_alerts([crit, warn])
            await until(lambda: len(pd.events) == 1 and len(slack.top_level()) == 2
                        and len(smtp.messages) == 1, 40)  # fmt: skip
            await am.post_alerts([resolved(crit), resolved(warn)])
            await until(lambda: len(pd.events) == 2 and len(smtp.messages) == 2
                        and sum(bool(m.history) for m in slack.top_level()) == 2, 40)  # fmt: skip
            await wait_deliveries_idle(redis, limit_s=40)  # nothing more can arrive now
        # Critical: paged, posted, mailed; then resolved everywhere, threaded, same message.
        assert [e["event_action"] for e in pd.events] == ["trigger", "resolve"]
        assert pd.events[0]["payload"]["summary"].find("API is down") >= 0
        assert len(slack.top_level()) == 2 and len(slack.calls("chat.postMessage")) == 2
        assert len(smtp.messages) == 2
        # Warning: Slack only, never paged or mailed, and nothing left in a buffer.
        assert all("DiskLow" not in str(e) for e in pd.events)
        assert all("DiskLow" not in m.message["Subject"] for m in smtp.messages)
        assert sum("DiskLow" in m.text for m in slack.top_level()) == 1
        assert await redis.keys("{ar}:digest:*") == []
    finally:
        await asyncio.to_thread(rx.kill)
        await pd.stop()
        await slack.stop()
        smtp.stop()
