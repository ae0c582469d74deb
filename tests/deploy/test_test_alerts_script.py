"""scripts/test-alerts.sh through the real Alertmanager's API v2 into a running receiver,
and straight at the receiver."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import TOKEN, RedisServer, Serve, free_port
from tests.deploy.tools import ROOT, serve_config
from tests.e2e.alertmanager import Alertmanager, require_alertmanager

SCRIPT = ROOT / "scripts" / "test-alerts.sh"


@pytest.fixture
def serve(tmp_path: Any, redis_server: RedisServer) -> Iterator[Serve]:
    if redis_server.proc is None:
        redis_server.start()
    prefix = f"testalerts{free_port()}"  # a fresh key space: no alerts of earlier runs
    config = {"auth": {"bearer_tokens": [TOKEN]}, "anonymous_read": True,
              "redis": {"url": redis_server.url, "key_prefix": prefix},
              "receivers": {"log": {"type": "log", "rate": "none"}},
              "route": {"receivers": ["log"]}}  # fmt: skip
    server = serve_config(tmp_path, config)
    yield server
    server.kill(signal.SIGTERM)


async def run_script(env: dict[str, str]) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        str(SCRIPT), cwd=ROOT, env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def stored_severities(serve: Serve, label: str) -> list[str]:
    async with httpx.AsyncClient(timeout=5) as client:
        for _ in range(200):  # bounded: about 20 s
            resp = await client.get(f"{serve.url}/api/v1/alerts", params={"service": label})
            alerts = resp.json()["alerts"]
            if len(alerts) >= 3:
                return sorted(a["labels"]["severity"] for a in alerts)
            await asyncio.sleep(0.1)
    return []


@pytest.mark.e2e
async def test_alerts_through_alertmanager_reach_the_receiver(serve: Serve) -> None:
    binary = require_alertmanager()
    async with Alertmanager(f"{serve.url}/webhook", token=TOKEN, binary=binary) as am:
        code, out = await run_script({"ALERTMANAGER_URL": am.url, "RECEIVER_API_URL": serve.url})
        assert code == 0, out
        assert f"{am.url}/api/v2/alerts" in out
        assert f"{serve.url}/api/v1/alerts?service=test-alerts" in out  # where to look
        assert await stored_severities(serve, "test-alerts") == ["critical", "info", "warning"]


async def test_alerts_straight_at_the_receiver(serve: Serve) -> None:
    code, out = await run_script(
        {"RECEIVER_URL": f"{serve.url}/webhook", "RECEIVER_TOKEN": TOKEN,
         "RECEIVER_API_URL": serve.url}
    )  # fmt: skip
    assert code == 0, out
    assert await stored_severities(serve, "send-test") == ["critical", "info", "warning"]


async def test_unreachable_alertmanager_is_a_clear_failure() -> None:
    code, out = await run_script({"ALERTMANAGER_URL": f"http://127.0.0.1:{free_port()}"})
    assert code != 0
    assert "cannot reach Alertmanager" in out
