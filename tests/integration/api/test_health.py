"""/health tells each component's real state; /health/live fails only once the process
cannot recover by itself; /health/ready follows Redis."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from receiver.server.app import create_app
from tests.conftest import AppFactory, RedisServer, make_settings
from tests.integration.store.test_embedded_supervisor import flaky_redis_server


async def health_until(client: TestClient[Any, Any], pred: Any, within: float = 20) -> Any:
    """Poll /health until `pred(body)`; the body that matched."""
    deadline = time.monotonic() + within
    while True:
        body = await (await client.get("/health")).json()
        if pred(body):
            return body
        assert time.monotonic() < deadline, f"not within {within}s; last: {body}"
        await asyncio.sleep(0.05)


def parts(body: Any) -> tuple[str, str, str]:
    c = body["components"]
    return c["redis"], c["workers"], c["scheduler"]


async def test_health_shape_when_all_is_well(app_client: AppFactory) -> None:
    client = await app_client(run_workers=True)
    body = await health_until(client, lambda b: parts(b) == ("ok", "ok", "ok"))
    resp = await client.get("/health")
    assert resp.status == 200
    body = await resp.json()
    assert body["status"] == "ok" and body["errors"] == {}
    assert body["redis"]["mode"] == "url" and body["redis"]["latency_ms"] >= 0
    assert {"version", "uptime_s"} <= body.keys()
    assert (await client.get("/health/live")).status == 200
    assert (await client.get("/health/ready")).status == 200


async def test_workers_and_scheduler_report_an_outage_and_the_recovery(
    app_client: AppFactory, redis_server: RedisServer
) -> None:
    client = await app_client(run_workers=True)
    await health_until(client, lambda b: parts(b) == ("ok", "ok", "ok"))
    redis_server.stop()
    try:
        down = await health_until(client, lambda b: parts(b) == ("down", "down", "down")
                                  and b["components"].get("escalation") == "down")  # fmt: skip
        assert down["status"] == "degraded"
        # The error class only: nothing of the address or a password. (Every loop that
        # reaches Redis reports its outage: escalation runner, backpressure, …)
        assert {"redis", "workers", "scheduler", "escalation"} <= set(down["errors"])
        assert set(down["errors"].values()) == {"ConnectionError"}
        assert (await client.get("/health")).status == 503
        assert (await client.get("/health/ready")).status == 503
        assert (await client.get("/health/live")).status == 200  # it can still recover
    finally:
        redis_server.start()
    up = await health_until(client, lambda b: parts(b) == ("ok", "ok", "ok"))
    assert up["status"] == "ok" and up["errors"] == {}


async def test_live_fails_once_the_embedded_redis_is_given_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first redis-server works; every restart hangs without answering.
    monkeypatch.setenv("ALERT_RECEIVER_REDIS_SERVER", str(flaky_redis_server(tmp_path, "hang")))
    settings = make_settings("", redis={"embedded_restart_timeout": "2s"})
    app = create_app(settings, data_dir=str(tmp_path / "data"), run_workers=True)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        body = await health_until(client, lambda b: b["status"] == "ok")
        assert body["components"]["embedded_redis"] == "ok"
        pid = int((tmp_path / "data" / "redis.pid").read_text())
        os.kill(pid, signal.SIGKILL)
        restarting = await health_until(
            client, lambda b: b["components"]["embedded_redis"] == "restarting"
        )
        assert restarting["errors"]["embedded_redis"] == "killed by SIGKILL"
        assert (await client.get("/health/live")).status == 200  # still trying
        assert (await client.get("/health/ready")).status == 503
        failed = await health_until(client, lambda b: b["components"]["embedded_redis"] == "failed")
        assert "redis.embedded_restart_timeout" in failed["errors"]["embedded_redis"]
        live = await client.get("/health/live")
        assert live.status == 503
        reason = (await live.json())["reason"]
        assert "did not come back within 2s" in reason and "did not answer" in reason
    finally:
        await client.close()
