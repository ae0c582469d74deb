"""The embedded redis-server is supervised: a child that dies is reaped, logged, counted and
restarted on its data; one that cannot come back makes `serve` exit non-zero in time.

A redis-server that cannot restart is simulated with a wrapper script given as
$ALERT_RECEIVER_REDIS_SERVER: it runs the real server the first time and fails (or hangs)
every time after. Tests run as root, so a read-only data directory would not stop redis;
a corrupted AOF would have to be written in the ~0.2 s between the kill and the first
restart. The wrapper fails every attempt, deterministically, through the same code path
(a child that exits at start, or one that never answers PING).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis as sync_redis

from receiver.store.config import RedisConfig
from receiver.store.connection import connect
from receiver.store.embedded import EmbeddedRedis, find_redis_server
from receiver.store.keys import Keys
from receiver.store.supervisor import Backoff, RedisSupervisor
from tests.conftest import ROOT, TOKEN, Serve, auth
from tests.helpers import free_port, until, wait_until


def proc_state(pid: int) -> tuple[str, int] | None:
    """(state letter, parent pid) of a process, or None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()
    return fields[0], int(fields[1])


def not_a_zombie(pid: int) -> bool:
    found = proc_state(pid)
    return found is None or found[0] != "Z"


def flaky_redis_server(tmp_path: Path, then: str) -> Path:
    """A redis-server that works the first time; afterwards it exits 1, hangs, or starts
    1.5 s late (as when replaying a large AOF)."""
    fail = {"exit": 'echo "flaky redis-server: refusing to start again" >&2; exit 1',
            "hang": "exec sleep 600",
            "slow": f'sleep 1.5; exec "{find_redis_server()}" "$@"'}[then]  # fmt: skip
    script = tmp_path / "flaky-redis-server"
    marker = tmp_path / "ran-once"
    script.write_text(
        f'#!/bin/sh\nif [ -e "{marker}" ]; then {fail}; fi\n'
        f'touch "{marker}"\nexec "{find_redis_server()}" "$@"\n'
    )
    script.chmod(0o755)
    return script


def am_fingerprint(labels: dict[str, str]) -> str:
    """Alertmanager's fingerprint of a label set (FNV-1a 64 over sorted name/value pairs)."""
    h = 0xCBF29CE484222325
    for name in sorted(labels):
        for part in (name.encode(), b"\xff", labels[name].encode(), b"\xff"):
            for byte in part:
                h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def unique_body(i: int) -> tuple[str, dict[str, Any]]:
    labels = {"alertname": "SupervisorLoad", "instance": f"host-{i}", "severity": "warning"}
    fp = am_fingerprint(labels)
    alert = {"status": "firing", "labels": labels, "annotations": {"summary": "load"},
             "startsAt": "2026-11-22T05:12:40Z", "endsAt": "0001-01-01T00:00:00Z",
             "generatorURL": "", "fingerprint": fp}  # fmt: skip
    body = {"receiver": "rx", "status": "firing", "alerts": [alert],
            "groupLabels": {"alertname": "SupervisorLoad"}, "commonLabels": labels,
            "commonAnnotations": {}, "externalURL": "http://am:9093", "version": "4",
            "groupKey": f"{{}}:{{instance=\"host-{i}\"}}", "truncatedAlerts": 0}  # fmt: skip
    return fp, body


# ---------------------------------------------------------------- the supervisor itself


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
async def test_a_dead_child_is_reaped_and_restarted_on_its_data(
    tmp_path: Path, sig: signal.Signals
) -> None:
    embedded = EmbeddedRedis(tmp_path)
    embedded.start()
    restarts: list[int] = []
    given_up: list[str] = []
    sup = RedisSupervisor(embedded, 20.0, lambda: restarts.append(1), given_up.append)
    sup.start()
    # The client the service uses, kept across the restart: it must reconnect by itself.
    client = connect(RedisConfig(), embedded.url)
    try:
        await client.set("acked", "1")
        assert embedded.proc is not None
        old = embedded.proc.pid
        embedded.proc.send_signal(sig)
        await until(lambda: sup.status == "restarting", 10)
        await until(lambda: sup.status == "ok", 20)
        assert embedded.proc is not None and embedded.proc.pid != old
        assert not_a_zombie(old)
        assert await client.get("acked") == "1"  # replayed from the AOF, same socket
        assert (sup.restarts, len(restarts), given_up) == (1, 1, [])
        assert sup.error is None
    finally:
        await client.aclose()
        await sup.stop()


async def test_a_clean_stop_is_sigterm_without_restart(tmp_path: Path) -> None:
    embedded = EmbeddedRedis(tmp_path)
    embedded.start()
    sup = RedisSupervisor(embedded, 20.0, lambda: None, lambda _r: None)
    sup.start()
    assert embedded.proc is not None
    pid = embedded.proc.pid
    await sup.stop()
    await asyncio.sleep(0.5)  # time for a (wrong) restart to show up
    assert proc_state(pid) is None  # exited and reaped
    assert (sup.status, sup.restarts) == ("stopped", 0)
    left: object = embedded.proc
    assert left is None
    again = EmbeddedRedis(tmp_path)  # the directory lock was released
    again.start()
    again.stop()


@pytest.mark.parametrize("then", ["exit", "hang"])
async def test_gives_up_within_the_bound_when_redis_cannot_come_back(
    tmp_path: Path, then: str
) -> None:
    embedded = EmbeddedRedis(tmp_path / "data", binary=str(flaky_redis_server(tmp_path, then)))
    embedded.start()
    given_up: list[str] = []
    bound = 2.0
    sup = RedisSupervisor(embedded, bound, lambda: None, given_up.append, Backoff(0.1, 0.4))
    sup.start()
    try:
        assert embedded.proc is not None
        embedded.proc.kill()
        killed = time.monotonic()
        await until(lambda: bool(given_up), bound + 10)
        assert time.monotonic() - killed < bound + 2  # the bound, plus one PING timeout
        # A hung attempt may use all the time left (a big AOF can take that long to load).
        assert sup.status == "failed" and sup.restarts >= (2 if then == "exit" else 1)
        assert "did not come back within 2s (redis.embedded_restart_timeout)" in given_up[0]
        why = "exited at start (exit code 1)" if then == "exit" else "did not answer"
        assert why in given_up[0]
        # Every attempt was reaped; none is left running or as a zombie.
        assert embedded.proc is not None and embedded.proc.poll() is not None
    finally:
        await sup.stop()


# ---------------------------------------------------------------- `serve`, end to end


def write_config(tmp_path: Path, port: int, restart_timeout: str | None = None) -> Path:
    cfg = tmp_path / "config.yml"
    redis = f"redis:\n  embedded_restart_timeout: {restart_timeout}\n" if restart_timeout else ""
    cfg.write_text(
        f"listen: 127.0.0.1:{port}\nauth:\n  bearer_tokens: [{TOKEN}]\n{redis}"
        "receivers:\n  log: {type: log, rate: none}\nroute:\n  receivers: [log]\n"
    )
    return cfg


class Load:
    """Unique one-alert webhooks at `rate`/s for `seconds` (bounded count and time)."""

    def __init__(self, url: str, rate: int, seconds: float) -> None:
        self.url, self.rate, self.count = url, rate, int(rate * seconds)
        self.results: list[tuple[float, str, int]] = []  # (sent at, fingerprint, status)

    async def run(self, session: aiohttp.ClientSession) -> None:
        slots = asyncio.Semaphore(64)
        start = time.monotonic()

        async def one(i: int) -> None:
            fp, body = unique_body(i)
            sent = time.monotonic()
            try:
                async with session.post(self.url, json=body, headers=auth()) as resp:
                    status = resp.status
            except (aiohttp.ClientError, TimeoutError):
                status = 0
            finally:
                slots.release()
            self.results.append((sent, fp, status))

        tasks = []
        for i in range(self.count):
            await asyncio.sleep(max(0.0, start + i / self.rate - time.monotonic()))
            await slots.acquire()
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)


async def poll_health(session: aiohttp.ClientSession, url: str, seconds: float) -> list[Any]:
    seen = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        async with session.get(url + "/health") as resp:
            seen.append((resp.status, await resp.json()))
        await asyncio.sleep(0.02)
    return seen


async def test_serve_heals_a_killed_redis_under_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real redis-server, SIGKILLed. Its restart is made 1.5 s slow: a plain one is back
    # in ~0.3 s, which the Redis client's own retries mostly hide (0 to a few 503s), and
    # this test is about what the senders see during an outage and after it.
    monkeypatch.setenv("ALERT_RECEIVER_REDIS_SERVER", str(flaky_redis_server(tmp_path, "slow")))
    port = free_port()
    serve = Serve(write_config(tmp_path, port), tmp_path / "data", port)
    serve.start()
    assert serve.proc is not None
    serve_pid = serve.proc.pid
    try:
        redis_pid = int((tmp_path / "data" / "redis.pid").read_text())
        assert (proc_state(redis_pid) or ("", 0))[1] == serve_pid  # serve's own child
        timeout = aiohttp.ClientTimeout(total=15)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            load = Load(serve.url + "/webhook", rate=200, seconds=10)
            sending = asyncio.create_task(load.run(session))
            await asyncio.sleep(2)
            killed = time.monotonic()
            os.kill(redis_pid, signal.SIGKILL)
            health = await poll_health(session, serve.url, 5)
            await sending
            metrics = await (await session.get(serve.url + "/metrics")).text()
            final = await (await session.get(serve.url + "/health")).json()
        statuses = [s for _t, _fp, s in load.results]
        assert set(statuses) <= {200, 503}, sorted(set(statuses))
        assert statuses.count(503) >= 10  # the outage was seen by the senders...
        late = [s for t, _fp, s in load.results if t > killed + 5]
        assert late and set(late) == {200}  # ...and was over well before the end
        assert serve.proc.poll() is None and serve.proc.pid == serve_pid  # same process
        # Every alert answered 200 is in Redis, read through the socket in the data dir.
        acked = [fp for _t, fp, s in load.results if s == 200]
        direct = sync_redis.Redis(unix_socket_path=str(tmp_path / "data" / "redis.sock"))
        pipe = direct.pipeline(transaction=False)
        for fp in acked:
            pipe.exists(Keys("ar").alert(fp))
        assert sum(pipe.execute()) == len(acked)
        direct.close()
        assert not_a_zombie(redis_pid)
        during = [body for _status, body in health]
        assert any(b["components"].get("embedded_redis") == "restarting" for b in during)
        assert any(status == 503 for status, _body in health)
        assert final["status"] == "ok", final
        assert "alert_receiver_embedded_redis_restarts_total 1.0" in metrics
        new_pid = int((tmp_path / "data" / "redis.pid").read_text())
        assert new_pid != redis_pid and (proc_state(new_pid) or ("", 0))[1] == serve_pid
    finally:
        code = serve.kill(signal.SIGTERM)
    assert code == 0
    log = (tmp_path / "serve.log").read_text()
    assert log.count('"msg":"embedded redis-server exited; restarting it"') == 1
    assert '"exit":"killed by SIGKILL"' in log
    assert proc_state(new_pid) is None  # the restarted server stopped with serve


def test_serve_exits_non_zero_when_redis_cannot_come_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALERT_RECEIVER_REDIS_SERVER", str(flaky_redis_server(tmp_path, "exit")))
    port = free_port()
    serve = Serve(write_config(tmp_path, port, "3s"), tmp_path / "data", port)
    serve.start()
    assert serve.proc is not None
    redis_pid = int((tmp_path / "data" / "redis.pid").read_text())
    os.kill(redis_pid, signal.SIGKILL)
    killed = time.monotonic()
    code = serve.proc.wait(timeout=3 + 20)
    elapsed = time.monotonic() - killed
    assert code == 3
    assert elapsed < 3 + 10  # the bound, plus the orderly stop
    lines = [json.loads(x) for x in (tmp_path / "serve.log").read_text().splitlines()
             if x.startswith("{")]  # fmt: skip
    gave_up = [
        x for x in lines if x["msg"] == "embedded redis-server could not be restarted; exiting"
    ]
    assert len(gave_up) == 1 and gave_up[0]["level"] == "critical"
    assert "did not come back within 3s (redis.embedded_restart_timeout)" in gave_up[0]["reason"]
    assert "exited at start (exit code 1)" in gave_up[0]["reason"]
    assert lines[-1]["msg"] == "stopped" and lines[-1]["reason"] == "fatal"
    assert not_a_zombie(redis_pid)


@pytest.mark.parametrize(("redis", "message"), [
    ("  embedded_restart_timeout: 0\n", "embedded_restart_timeout must be between 1s and 1d"),
    ("  embedded_restart_timeout: soon\n", "not a valid duration"),
    ("  url: redis://127.0.0.1:6379\n  embedded_restart_timeout: 30s\n",
     "embedded_restart_timeout applies only to the embedded redis-server"),
])  # fmt: skip
def test_check_config_refuses_a_bad_restart_timeout(
    tmp_path: Path, redis: str, message: str
) -> None:
    cfg = tmp_path / "config.yml"
    cfg.write_text(f"auth: none\nredis:\n{redis}")
    out = subprocess.run([sys.executable, "-m", "receiver", "check-config", str(cfg)],
                         capture_output=True, text=True, timeout=60, cwd=ROOT)  # fmt: skip
    assert out.returncode == 2, out.stdout + out.stderr
    line = 2 + redis.count("\n")  # the key is the last line of the redis block
    want = f"{cfg}:{line}: redis.embedded_restart_timeout: "
    assert any(x.startswith(want) and message in x for x in out.stderr.splitlines()), out.stderr


def test_a_restarted_redis_still_dies_with_serve(tmp_path: Path) -> None:
    """The restart runs in serve's main thread, so the parent-death signal still holds."""
    port = free_port()
    serve = Serve(write_config(tmp_path, port), tmp_path / "data", port)
    serve.start()
    assert serve.proc is not None
    pidfile = tmp_path / "data" / "redis.pid"
    first = int(pidfile.read_text())
    os.kill(first, signal.SIGKILL)

    def restarted() -> int:
        try:
            pid = int(pidfile.read_text())
        except (OSError, ValueError):
            return 0
        return pid if pid != first and proc_state(pid) is not None else 0

    second = wait_until(restarted, timeout=20)
    serve.wait_ready()
    serve.kill(signal.SIGKILL)  # no cleanup runs: only PR_SET_PDEATHSIG can stop redis
    # Exited (an orphan's zombie is for whoever adopted it to reap, not us).
    wait_until(lambda: (proc_state(second) or ("Z", 0))[0] == "Z", timeout=20)
