"""Shared fixtures: a throwaway real redis-server per session, the app on a real socket."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis as sync_redis
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer

from receiver.server.app import create_app
from receiver.server.settings import Settings
from receiver.store.embedded import find_redis_server
from tests.helpers import free_port
from tests.servers.pagerduty import FakePagerDuty
from tests.servers.recorder import Recorder
from tests.servers.slack import FakeSlack
from tests.servers.smtp import SMTPServer

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "alertmanager"
TOKEN = "s3cret-token"  # what the captured fixtures were sent with
READ_TOKEN = "reader-token-0123456789"  # an api_tokens entry with scope read, where given


def fixture_body(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


class RedisServer:
    """A real redis-server on a loopback port; can be stopped and started again."""

    def __init__(self, workdir: Path) -> None:
        self.workdir, self.port = workdir, free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [find_redis_server(), "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", str(self.workdir), "--appendonly", "yes", "--appendfsync", "everysec",
             "--save", "", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                sync_redis.Redis(port=self.port, socket_timeout=0.5).ping()
                return
            except sync_redis.exceptions.RedisError:
                time.sleep(0.05)
        raise RuntimeError("test redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)
            self.proc = None


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    """A client on a freshly flushed database."""
    if redis_server.proc is None:
        redis_server.start()
    client = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
    await client.flushall()
    yield client
    await client.aclose()


def make_settings(redis_url: str, **overrides: Any) -> Settings:
    data: dict[str, Any] = {
        "auth": {"bearer_tokens": [TOKEN]},
        "redis": {"url": redis_url},
        "receivers": {"log": {"type": "log", "rate": "none"}},
        "route": {"receivers": ["log"]},
        # Tests about state read it without a token; tests about access turn this off.
        "anonymous_read": True,
    }
    data.update(overrides)
    return Settings.model_validate(data)


AppFactory = Callable[..., Any]


@pytest.fixture
async def app_client(redis: aioredis.Redis, redis_server: RedisServer) -> AsyncIterator[AppFactory]:
    """`await app_client(**settings_overrides)` → a TestClient on a real socket."""
    clients: list[TestClient[Any, Any]] = []

    async def factory(run_workers: bool = False, clock: Callable[[], float] = time.time,
                      **overrides: Any) -> TestClient[Any, Any]:  # fmt: skip
        settings = make_settings(redis_server.url, **overrides)
        app = create_app(settings, clock=clock, run_workers=run_workers)
        client = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        clients.append(client)
        return client

    yield factory
    for c in clients:
        await c.close()


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    """A local SMTP server (aiosmtpd, in its own thread) that records every message."""
    server = SMTPServer().start()
    yield server
    server.stop()


@pytest.fixture
async def pd() -> AsyncIterator[FakePagerDuty]:
    """A local PagerDuty Events API v2 that validates like the real one."""
    server = FakePagerDuty()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    """A local Slack Web API / incoming-webhook server that answers like Slack."""
    server = FakeSlack()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def recorder() -> AsyncIterator[Recorder]:
    """A local webhook destination that records every notification body it gets."""
    server = Recorder()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


def read_auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {READ_TOKEN}"}


class Serve:
    """`alert-receiver serve` as a child process, for kill -9 and restart tests."""

    def __init__(self, config: Path, data_dir: Path, port: int) -> None:
        self.config, self.data_dir, self.port = config, data_dir, port
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: bool = True) -> None:
        with open(self.data_dir.parent / "serve.log", "ab") as log:  # the child keeps its copy
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "receiver", "serve", "--config", str(self.config),
                 "--listen", f"127.0.0.1:{self.port}", "--data-dir", str(self.data_dir)],
                stdout=subprocess.DEVNULL, stderr=log,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )  # fmt: skip
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout: float = 20) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited with {self.proc.returncode}")
            try:
                if httpx.get(self.url + "/health/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError("serve did not become ready")

    def kill(self, sig: int = signal.SIGKILL) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        code = self.proc.wait(20)
        self.proc = None
        return code
