"""Config reload on a real `serve`: SIGHUP and POST /-/reload swap routing atomically; an
invalid file changes nothing; reloads under load lose no webhook and answer no 5xx."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis as sync_redis
import yaml

from receiver.models import fingerprint
from receiver.store.keys import Keys
from tests import helpers
from tests.conftest import TOKEN, RedisServer, Serve, auth, fixture_body
from tests.helpers import deliveries_idle_sync, free_port, until, wait_until
from tests.servers.recorder import Recorder

ADMIN = "admin-token-0123456789"


def config(redis_url: str, prefix: str, to: str, recorder: Recorder) -> dict[str, Any]:
    """Every alert to the webhook receiver `to` (a or b), both recording at `recorder`."""
    hooks = {name: {"type": "webhook", "url": recorder.url(name), "rate": "none"}
             for name in ("a", "b")}  # fmt: skip
    return {
        "auth": {"bearer_tokens": [TOKEN]},
        "api_tokens": [{"name": "ops", "token": ADMIN, "scopes": ["admin"]}],
        "redis": {"url": redis_url, "key_prefix": prefix},
        "receivers": hooks,
        "route": {"receivers": [to]},
        "workers": {"concurrency": 32},
    }


def body(tag: str) -> dict[str, Any]:
    b = fixture_body("warning-firing")
    del b["alerts"][0]["fingerprint"]
    b["alerts"][0]["labels"] = {"alertname": "Reload", "severity": "critical", "tag": tag}
    return b


def fp(tag: str) -> str:
    return fingerprint({"alertname": "Reload", "severity": "critical", "tag": tag})


def metric(base: str, name: str) -> float:
    text = httpx.get(base + "/metrics", timeout=5).text
    assert helpers.has_metric(text, f"alert_receiver_{name}"), f"no metric {name}"
    return helpers.metric(text, f"alert_receiver_{name}")


def arrived(recorder: Recorder) -> Counter[tuple[str, str]]:
    """(receiver path, fingerprint) → how many notifications arrived."""
    return Counter((g["path"].strip("/"), g["alert"]["fingerprint"]) for g in recorder.got)


@pytest.fixture
async def setup(
    tmp_path: Path, redis_server: RedisServer, recorder: Recorder
) -> AsyncIterator[tuple[Serve, Path, str]]:
    prefix = "rl" + uuid.uuid4().hex[:8]
    cfg = tmp_path / "receiver.yml"
    cfg.write_text(yaml.safe_dump(config(redis_server.url, prefix, "a", recorder)))
    s = Serve(cfg, tmp_path / "data", free_port())
    await asyncio.to_thread(s.start)
    yield s, cfg, prefix
    if s.proc is not None:
        s.kill(signal.SIGTERM)


async def post(client: httpx.AsyncClient, base: str, tag: str) -> int:
    r = await client.post(base + "/webhook", json=body(tag), headers=auth())
    return r.status_code


async def sighup_and_wait(s: Serve, metric_name: str, before: float) -> None:
    assert s.proc is not None
    s.proc.send_signal(signal.SIGHUP)
    await asyncio.to_thread(wait_until, lambda: metric(s.url, metric_name) != before, 10)


async def test_sighup_swaps_routing_and_a_broken_file_changes_nothing(
    setup: tuple[Serve, Path, str], recorder: Recorder, redis_server: RedisServer
) -> None:
    s, cfg, prefix = setup
    async with httpx.AsyncClient(timeout=10) as client:
        assert await post(client, s.url, "one") == 200
        await until(lambda: arrived(recorder)[("a", fp("one"))] == 1, 30)

        # A valid change: the next alert goes to the new destination.
        cfg.write_text(yaml.safe_dump(config(redis_server.url, prefix, "b", recorder)))
        ts = metric(s.url, "config_last_reload_success_timestamp_seconds")
        await sighup_and_wait(s, "config_last_reload_success_timestamp_seconds", ts)
        assert metric(s.url, "config_last_reload_successful") == 1
        assert await post(client, s.url, "two") == 200
        await until(lambda: arrived(recorder)[("b", fp("two"))] == 1, 30)

        # An invalid file: refused, logged, the metric says so, routing stays on b.
        cfg.write_text(cfg.read_text().replace("- b\n", "- nowhere\n"))
        await sighup_and_wait(s, "config_last_reload_successful", 1)
        assert metric(s.url, "config_last_reload_successful") == 0
        assert await post(client, s.url, "three") == 200
        await until(lambda: arrived(recorder)[("b", fp("three"))] == 1, 30)

        # The same over HTTP: admin only, and the errors name the file, line and key.
        r = await client.post(s.url + "/-/reload")
        assert r.status_code == 401
        r = await client.post(s.url + "/-/reload", headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 403  # the webhook token is not an API token
        r = await client.post(s.url + "/-/reload", headers={"Authorization": f"Bearer {ADMIN}"})
        assert r.status_code == 400 and r.json()["error"] == "invalid_config"
        assert any(f"{cfg}:" in e and 'undefined receiver "nowhere"' in e
                   for e in r.json()["errors"]), r.json()  # fmt: skip

        # Fixed again, plus a change that needs a restart: reported, running value kept.
        fixed = config(redis_server.url, prefix, "a", recorder)
        fixed["workers"]["concurrency"] = 4
        cfg.write_text(yaml.safe_dump(fixed))
        r = await client.post(s.url + "/-/reload", headers={"Authorization": f"Bearer {ADMIN}"})
        assert r.status_code == 200, r.text
        assert r.json()["restart_required"] == ["workers"]
        assert metric(s.url, "config_last_reload_successful") == 1
        assert await post(client, s.url, "four") == 200
        await until(lambda: arrived(recorder)[("a", fp("four"))] == 1, 30)

    # Each alert arrived once, where the routing of its moment sent it.
    assert arrived(recorder) == Counter(
        {("a", fp("one")): 1, ("b", fp("two")): 1, ("b", fp("three")): 1, ("a", fp("four")): 1}
    )
    assert s.proc is not None and s.proc.poll() is None  # SIGHUP never killed it
    log = (s.data_dir.parent / "serve.log").read_text()
    assert "config reload failed" in log and "nowhere" in log


async def test_reloads_under_load_lose_nothing(
    setup: tuple[Serve, Path, str], recorder: Recorder, redis_server: RedisServer
) -> None:
    """200 webhooks/s for 5 s while the routing flips five times: every answer 200,
    every alert recorded in Redis and delivered exactly once (to a or b)."""
    s, cfg, prefix = setup
    total, rate = 1000, 200.0
    statuses: list[int] = []

    async def reloads() -> None:
        for i in range(5):
            await asyncio.sleep(0.9)
            to = "b" if i % 2 == 0 else "a"
            cfg.write_text(yaml.safe_dump(config(redis_server.url, prefix, to, recorder)))
            assert s.proc is not None
            s.proc.send_signal(signal.SIGHUP)

    async with httpx.AsyncClient(timeout=10, limits=httpx.Limits(max_connections=64)) as client:
        started = time.monotonic()
        flips = asyncio.create_task(reloads())
        sends = []
        for i in range(total):
            delay = started + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            sends.append(asyncio.create_task(post(client, s.url, f"load-{i}")))
        statuses = list(await asyncio.gather(*sends))
        await flips
    assert Counter(statuses) == Counter({200: total})
    assert metric(s.url, "config_last_reload_successful") == 1
    r = sync_redis.Redis.from_url(redis_server.url)
    assert r.zcard(Keys(prefix).index) == total
    await until(lambda: len(recorder.got) >= total, 60)
    # Every job settled (none queued, in flight or due): anything extra would have arrived.
    await until(lambda: deliveries_idle_sync(r, Keys(prefix)), 30, "deliveries idle")
    got = arrived(recorder)
    assert sorted(f for _dest, f in got) == sorted(fp(f"load-{i}") for i in range(total))
    assert set(got.values()) == {1}
    assert {dest for dest, _f in got} == {"a", "b"}  # the flips took effect mid-load


async def test_an_unreadable_file_is_refused_like_any_broken_config(
    setup: tuple[Serve, Path, str], recorder: Recorder
) -> None:
    """A NUL byte, or bytes that are not UTF-8: 400 `invalid_config` naming file and line,
    and the running config stays (no 500, no traceback)."""
    s, cfg, _prefix = setup
    good = cfg.read_bytes()
    line = good.split(b"\n").index(b"route:") + 1
    admin = {"Authorization": f"Bearer {ADMIN}"}
    broken = {
        b"route:\x00": f"{cfg}:{line}: invalid YAML: a NUL byte at column 7: control "
        "characters are not allowed",
        b"route: # caf\xe9": f"{cfg}:{line}: not UTF-8: byte 0xe9 at column 13 (save the file "
        "as UTF-8)",
    }
    async with httpx.AsyncClient(timeout=10) as client:
        for bad, message in broken.items():
            cfg.write_bytes(good.replace(b"route:", bad, 1))
            r = await client.post(s.url + "/-/reload", headers=admin)
            assert r.status_code == 400, r.text
            assert r.json() == {"error": "invalid_config",
                                "detail": "config not reloaded; the running config stays",
                                "errors": [message]}  # fmt: skip
        assert metric(s.url, "config_last_reload_successful") == 0
        assert await post(client, s.url, "still-a") == 200
        await until(lambda: arrived(recorder)[("a", fp("still-a"))] == 1, 30)
    log = (s.data_dir.parent / "serve.log").read_text()
    assert "Traceback" not in log and "ReaderError" not in log
