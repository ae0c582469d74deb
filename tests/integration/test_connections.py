"""Bounded connections against the real `serve` process and real sockets: idle floods above
`server.max_connections`, half-sent headers, stalled bodies, idle keep-alive, and the
file-descriptor limit raised and respected at start-up."""

from __future__ import annotations

import json
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis as sync_redis

from receiver.server.connections import fd_reserve
from tests import helpers
from tests.conftest import TOKEN, RedisServer, Serve, fixture_body
from tests.helpers import free_port, wait_until

BODY = json.dumps(fixture_body("warning-firing")).encode()


def config_text(redis_url: str, **server: Any) -> str:
    lines = "".join(f"  {k}: {v}\n" for k, v in server.items())
    return (
        f"auth:\n  bearer_tokens: [{TOKEN}]\nredis:\n  url: {redis_url}\n"
        "receivers:\n  log: {type: log, rate: none}\nroute:\n  receivers: [log]\n"
        f"server:\n{lines}"
    )


@pytest.fixture
def serve(tmp_path: Path, redis_server: RedisServer) -> Iterator[Any]:
    """`serve(**server_section)` → a started `alert-receiver serve` on a flushed Redis."""
    if redis_server.proc is None:
        redis_server.start()
    sync_redis.Redis(port=redis_server.port).flushall()
    started: list[Serve] = []

    def start(**server: Any) -> Serve:
        cfg = tmp_path / "config.yml"
        cfg.write_text(config_text(redis_server.url, **server))
        s = Serve(cfg, tmp_path / "data", free_port())
        started.append(s)
        s.start()
        return s

    yield start
    for s in started:
        if s.proc is not None:
            s.kill()


def log_lines(tmp_path: Path) -> list[dict[str, Any]]:
    out = []
    for line in (tmp_path / "serve.log").read_text().splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def metric(s: Serve, name: str, **labels: str) -> float:
    """One series of /metrics (0 when absent), e.g. ('connections_closed_total', reason="x")."""
    text = httpx.get(s.url + "/metrics", timeout=10).text
    return helpers.metric(text, f"alert_receiver_{name}", **labels)


def connect(s: Serve) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    return sock


def read_until_closed(sock: socket.socket, bound: float = 20) -> bytes:
    """Everything the server sends until it closes the connection (within `bound` s)."""
    data = b""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk
    raise AssertionError(f"connection still open after {bound}s")


def is_closed(sock: socket.socket) -> bool:
    """Whether the server has closed `sock` (non-blocking peek)."""
    sock.setblocking(False)
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True
    finally:
        sock.setblocking(True)


def snapshot(r: sync_redis.Redis) -> dict[bytes, Any]:
    """Every key and its serialized value, to prove a refused request changed nothing."""
    return {k: r.dump(k) for k in sorted(r.keys("*"))}


def webhook_request(body_len: int) -> bytes:
    return (
        f"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {body_len}\r\n\r\n"
    ).encode()


def test_idle_flood_above_the_limit_keeps_health_and_webhooks_working(
    serve: Any, tmp_path: Path
) -> None:
    s = serve(max_connections=200, keepalive_timeout="60s", read_timeout="60s")
    socks: list[socket.socket] = []
    try:
        for _ in range(300):  # idle: connected, nothing sent
            socks.append(connect(s))
        for _ in range(20):  # half-sent headers: count as idle too
            sock = connect(s)
            sock.sendall(b"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            socks.append(sock)
        # Every one was accepted, the oldest idle ones closed to make room.
        wait_until(lambda: metric(s, "connections_closed_total", reason="evicted") >= 120)
        assert httpx.get(s.url + "/health/live", timeout=10).status_code == 200
        resp = httpx.post(s.url + "/webhook", content=BODY, timeout=10, headers={
            "Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})  # fmt: skip
        assert resp.status_code == 200, resp.text
        assert resp.json()["accepted"] == 1
        assert metric(s, "connections_open") <= 200
        assert metric(s, "connections_max") == 200
        assert metric(s, "connections_closed_total", reason="refused") == 0
        # The evicted ones are the oldest: the first idle sockets, closed by the server.
        closed = wait_until(lambda: sum(is_closed(x) for x in socks) >= 120 and socks)
        assert all(is_closed(x) for x in closed[:100])
        assert not any(is_closed(x) for x in closed[-15:])  # the newest still open
    finally:
        for sock in socks:
            sock.close()
    evictions = [x for x in log_lines(tmp_path) if x["msg"].startswith("connection limit reached")]
    assert evictions and evictions[0]["max_connections"] == 200


def test_connections_all_busy_refuse_fast_then_recover(serve: Any) -> None:
    s = serve(max_connections=4, read_timeout="5s")
    busy = []
    try:
        for _ in range(4):  # authenticated webhooks whose body stalls: requests in progress
            sock = connect(s)
            sock.sendall(webhook_request(len(BODY)) + BODY[:10])
            busy.append(sock)
        time.sleep(1)  # let the server start handling them (then they are not idle)

        def refused() -> bytes | None:
            with connect(s) as sock:
                sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             b"Connection: close\r\n\r\n")  # fmt: skip
                answer = read_until_closed(sock)
            return answer if answer.startswith(b"HTTP/1.1 503") else None

        answer = wait_until(refused, timeout=3)  # before the stalled bodies time out
        err = json.loads(answer.split(b"\r\n\r\n", 1)[1])
        assert err["error"] == "too_many_connections" and err["detail"]
        for sock in busy:  # each stalled webhook is answered 503 and closed, none evicted
            assert read_until_closed(sock).startswith(b"HTTP/1.1 503")
    finally:
        for sock in busy:
            sock.close()
    assert httpx.get(s.url + "/health/live", timeout=10).status_code == 200
    assert metric(s, "connections_closed_total", reason="refused") >= 1
    assert metric(s, "connections_closed_total", reason="evicted") == 0
    assert metric(s, "connections_closed_total", reason="read_timeout") == 4


def test_half_sent_headers_are_closed_after_read_timeout(serve: Any) -> None:
    s = serve(read_timeout="1s", keepalive_timeout="60s")
    with connect(s) as sock:
        sock.sendall(b"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthori")
        t0 = time.monotonic()
        assert read_until_closed(sock) == b""  # closed without an answer
        elapsed = time.monotonic() - t0
    assert 0.9 <= elapsed < 10, elapsed  # after read_timeout, long before the old 75 s
    assert metric(s, "connections_closed_total", reason="read_timeout") == 1


def test_slowloris_headers_count_from_their_first_byte(serve: Any) -> None:
    s = serve(read_timeout="1s", keepalive_timeout="60s")
    with connect(s) as sock:
        sock.sendall(b"POST /webhook HTTP/1.1\r\n")
        t0 = time.monotonic()
        for _ in range(100):  # a header byte every 0.1 s: the headers never complete
            time.sleep(0.1)
            if is_closed(sock):
                break
            try:
                sock.sendall(b"X")
            except (BrokenPipeError, ConnectionResetError):
                break
        elapsed = time.monotonic() - t0
    assert 0.9 <= elapsed < 10, elapsed


def test_stalled_body_after_auth_is_answered_503_and_closed(
    serve: Any, redis_server: RedisServer
) -> None:
    s = serve(read_timeout="1s", keepalive_timeout="60s")
    r = sync_redis.Redis(port=redis_server.port)
    before = snapshot(r)
    with connect(s) as sock:
        sock.sendall(webhook_request(len(BODY)) + BODY[: len(BODY) // 2])
        t0 = time.monotonic()
        answer = read_until_closed(sock)
        elapsed = time.monotonic() - t0
    assert 0.9 <= elapsed < 10, elapsed
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503")  # retried by Alertmanager, unlike a 408
    assert b"Connection: close" in head
    err = json.loads(body)
    assert err["error"] == "request_timeout" and err["retry"] is True
    assert snapshot(r) == before  # nothing stored
    assert metric(s, "connections_closed_total", reason="read_timeout") == 1
    assert metric(s, "webhook_requests_total", code="503") == 1


def test_idle_keepalive_connection_is_closed_after_keepalive_timeout(serve: Any) -> None:
    s = serve(keepalive_timeout="1s", read_timeout="60s")
    with connect(s) as used, connect(s) as silent:
        t_silent = time.monotonic()
        used.sendall(b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        used.settimeout(10)
        assert used.recv(65536).startswith(b"HTTP/1.1 200")  # kept alive after the answer
        t_used = time.monotonic()
        assert read_until_closed(used) == b""
        assert 0.9 <= time.monotonic() - t_used < 10
        assert read_until_closed(silent) == b""  # never sent a byte: same timer
        assert 0.9 <= time.monotonic() - t_silent < 10


def test_fd_limit_is_raised_and_max_connections_fits_under_it(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    if resource.getrlimit(resource.RLIMIT_NOFILE)[1] < 512:
        pytest.skip("hard RLIMIT_NOFILE below 512")
    cfg = tmp_path / "config.yml"
    cfg.write_text(config_text(redis_server.url, max_connections=100000))
    port = free_port()

    def low_limit() -> None:  # in the child: soft 256, hard 512
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 512))

    with open(tmp_path / "serve.log", "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "receiver", "serve", "--config", str(cfg),
             "--listen", f"127.0.0.1:{port}", "--data-dir", str(tmp_path / "data")],
            stdout=subprocess.DEVNULL, stderr=err, preexec_fn=low_limit,
        )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _ready(url), timeout=30)
        text = httpx.get(url + "/metrics", timeout=10).text
    finally:
        proc.terminate()
        proc.wait(20)
    cap = 512 - fd_reserve(64, 0)  # the default Redis pool; no email receiver: no SMTP pool
    assert f"alert_receiver_connections_max {float(cap)}" in text
    lines = log_lines(tmp_path)
    limits = next(x for x in lines if x["msg"] == "connection limits")
    assert (limits["fd_limit_was"], limits["fd_limit"]) == (256, 512)
    assert limits["max_connections"] == cap
    clamped = next(x for x in lines if x["msg"].startswith("server.max_connections lowered"))
    assert (clamped["requested"], clamped["max_connections"]) == (100000, cap)


def _ready(url: str) -> bool:
    try:
        return httpx.get(url + "/health/ready", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
