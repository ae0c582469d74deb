"""Self-test of the Alertmanager harness: the real binary posts to a tiny aiohttp receiver."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from receiver.models import fingerprint
from tests.e2e.alertmanager import (
    Alertmanager,
    make_alert,
    now_utc,
    require_alertmanager,
    require_amtool,
    resolved,
)

pytestmark = pytest.mark.e2e

TOKEN = "s3cret-token"


@dataclass
class Recorder:
    url: str = ""
    bodies: list[dict[str, Any]] = field(default_factory=list)
    auth: list[str | None] = field(default_factory=list)
    user_agents: list[str | None] = field(default_factory=list)

    async def wait_for(
        self, pred: Callable[[dict[str, Any]], bool], within: float = 20.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            for body in self.bodies:
                if pred(body):
                    return body
            await asyncio.sleep(0.05)
        raise AssertionError(f"no matching webhook body within {within}s; got {self.bodies}")


@pytest.fixture
async def recorder() -> AsyncIterator[Recorder]:
    rec = Recorder()

    async def webhook(request: web.Request) -> web.Response:
        rec.auth.append(request.headers.get("Authorization"))
        rec.user_agents.append(request.headers.get("User-Agent"))
        rec.bodies.append(await request.json())
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    rec.url = f"http://{host}:{port}/webhook"
    try:
        yield rec
    finally:
        await runner.cleanup()


def test_config_passes_amtool_check_config(tmp_path: Path) -> None:
    amtool = require_amtool()
    am = Alertmanager("http://127.0.0.1:9/webhook", token=TOKEN, workdir=tmp_path)
    path = am.write_config()
    out = subprocess.run(
        [amtool, "check-config", str(path)], capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout


def test_fingerprint_matches_fixture() -> None:
    labels = {
        "alertname": "HighErrorRate",
        "instance": "api-1:8080",
        "job": "api",
        "service": "api",
        "severity": "critical",
    }
    assert fingerprint(labels) == "0f3ef813eb86bd39"


async def test_real_alertmanager_posts_firing_then_resolved(
    recorder: Recorder, tmp_path: Path
) -> None:
    binary = require_alertmanager()
    started = now_utc() - timedelta(seconds=30)
    alerts = [
        make_alert(
            {
                "alertname": "HarnessSelfTest",
                "service": "api",
                "severity": "critical",
                "instance": f"api-{i}:8080",
            },
            {"summary": "harness self-test", "description": f"instance {i}"},
            starts_at=started,
            generator_url="http://prom:9090/graph",
        )
        for i in (1, 2)
    ]
    expected = {fingerprint(a["labels"]) for a in alerts}

    async with Alertmanager(recorder.url, token=TOKEN, binary=binary, workdir=tmp_path) as am:
        await am.post_alerts(alerts)

        def firing(body: dict[str, Any]) -> bool:
            return {a["fingerprint"] for a in body["alerts"] if a["status"] == "firing"} == (
                expected
            )

        body = await recorder.wait_for(firing)
        assert body["version"] == "4"
        assert body["status"] == "firing"
        assert body["receiver"] == "rx"
        assert body["groupLabels"] == {"alertname": "HarnessSelfTest", "service": "api"}
        assert body["groupKey"] == '{}:{alertname="HarnessSelfTest", service="api"}'
        assert body["truncatedAlerts"] == 0
        assert all(a["endsAt"] == "0001-01-01T00:00:00Z" for a in body["alerts"])
        assert recorder.auth[0] == f"Bearer {TOKEN}"
        assert (recorder.user_agents[0] or "").startswith("Alertmanager/")

        await am.post_alerts([resolved(a) for a in alerts])

        def all_resolved(body: dict[str, Any]) -> bool:
            return (
                body["status"] == "resolved"
                and {a["fingerprint"] for a in body["alerts"] if a["status"] == "resolved"}
                == expected
            )

        done = await recorder.wait_for(all_resolved)
        assert all(a["endsAt"] != "0001-01-01T00:00:00Z" for a in done["alerts"])
        assert all(h == f"Bearer {TOKEN}" for h in recorder.auth)
