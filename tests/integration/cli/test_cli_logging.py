"""What `serve` says on stderr: when it listens and stops, which Redis fails (never its
password), each repeated warning once per window; --log-level and $ALERT_RECEIVER_LOG_LEVEL;
and CLI output piped into `head` ending quietly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from receiver import __version__
from tests.conftest import ROOT, RedisServer, fixture_body
from tests.helpers import free_port, wait_until

REDIS_LOGGERS = {"receiver.worker", "receiver.scheduler", "receiver.webhook"}
CONFIG = "auth: none\nreceivers:\n  log: {type: log}\nroute:\n  receivers: [log]\n"


class ServeProc:
    """`alert-receiver serve` with its stderr in a file, on `port` (0: any free one)."""

    def __init__(
        self, tmp_path: Path, config: str, *args: str, env: dict[str, str] | None = None,
        port: int = 0,
    ) -> None:  # fmt: skip
        tmp_path.mkdir(exist_ok=True)
        self.port = port
        self.config = tmp_path / "config.yml"
        self.config.write_text(config)
        self.log = tmp_path / "serve.log"
        environ = {k: v for k, v in os.environ.items() if k != "ALERT_RECEIVER_LOG_LEVEL"}
        with open(self.log, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "receiver", "serve", "--config", str(self.config),
                 "--listen", f"127.0.0.1:{port}", "--data-dir", str(tmp_path / "data"), *args],
                stdout=subprocess.DEVNULL, stderr=err, cwd=ROOT, env={**environ, **(env or {})},
            )  # fmt: skip

    def text(self) -> str:
        return self.log.read_text()

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text().splitlines() if line.startswith("{")]

    def line(self, msg: str) -> dict[str, Any] | None:
        return next((line for line in self.lines() if line["msg"] == msg), None)

    def wait_line(self, msg: str, timeout: float = 20) -> dict[str, Any]:
        def seen() -> dict[str, Any] | None:
            assert self.proc.poll() is None, f"serve exited: {self.text()}"
            return self.line(msg)

        found: dict[str, Any] = wait_until(seen, timeout)
        return found

    def wait_ready(self) -> None:
        def ready() -> bool:
            assert self.proc.poll() is None, f"serve exited: {self.text()}"
            try:
                url = f"http://127.0.0.1:{self.port}/health/ready"
                return httpx.get(url, timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, 20)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(30)


def test_serve_says_where_it_listens_and_why_it_stopped(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    if redis_server.proc is None:
        redis_server.start()
    config = CONFIG + f"redis:\n  url: {redis_server.url}\n"
    s = ServeProc(tmp_path, config)
    try:
        up = s.wait_line("listening")
        host, _, port = up["address"].rpartition(":")
        assert host == "127.0.0.1" and int(port) > 0  # the port bound, not the 0 asked for
        assert httpx.get(f"http://{up['address']}/health/live", timeout=5).status_code == 200
        assert up["redis_mode"] == "url"
        assert up["redis"] == redis_server.url
        assert up["version"] == __version__
        assert up["config"] == str(s.config)
        assert up["level"] == "info" and up["logger"] == "receiver.serve"
    finally:
        code = s.stop()
    assert code == 0
    down = wait_until(lambda: s.line("stopped"), 5)
    assert down["reason"] == "SIGTERM" and down["uptime_s"] >= 0
    assert s.lines()[-1]["msg"] == "stopped"
    assert "Traceback" not in s.text()


def test_embedded_redis_is_named_with_its_socket(tmp_path: Path) -> None:
    s = ServeProc(tmp_path, CONFIG)
    try:
        up = s.wait_line("listening")
    finally:
        assert s.stop(signal.SIGINT) == 0
    socket = (tmp_path / "data").resolve() / "redis.sock"
    assert up["redis_mode"] == "embedded"
    assert up["redis"] == f"unix://{socket} (embedded)"
    assert s.line("stopped")["reason"] == "SIGINT"  # type: ignore[index]


def test_unreachable_redis_warnings_name_it_without_password_once_per_window(
    tmp_path: Path,
) -> None:
    port = free_port()  # nothing listens there
    config = CONFIG + f"redis:\n  url: redis://:hunter2@127.0.0.1:{port}/0\n"
    s = ServeProc(tmp_path, config)
    target = f"redis://127.0.0.1:{port}/0"
    try:
        up = s.wait_line("listening")
        assert up["redis"] == target
        for _ in range(5):  # the intake answers 503 while Redis is away
            r = httpx.post(f"http://{up['address']}/webhook", timeout=10,
                           json=fixture_body("warning-firing"))  # fmt: skip
            assert r.status_code == 503
        # The scheduler retries every 0.25 s: ~12 warnings in 3 s without the filter.
        time.sleep(3)
    finally:
        assert s.stop() == 0
    text = s.text()
    assert "hunter2" not in text
    problems = [line for line in s.lines() if line["level"] in ("warning", "error")]
    redis_lines = [line for line in problems if line["logger"] in REDIS_LOGGERS]
    assert {line["logger"] for line in redis_lines} == REDIS_LOGGERS, text
    for line in redis_lines:
        assert line.get("redis") == target, line
    by_msg: dict[str, int] = {}
    for line in problems:
        by_msg[line["msg"]] = by_msg.get(line["msg"], 0) + 1
    assert by_msg.get("scheduler: redis unavailable") == 1, by_msg
    assert by_msg.get("worker: redis unavailable") == 1, by_msg
    assert all(n == 1 for n in by_msg.values()), by_msg


def test_log_level_flag_beats_env_which_beats_config(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    if redis_server.proc is None:
        redis_server.start()
    config = CONFIG + f"log_level: info\nredis:\n  url: {redis_server.url}\n"

    # --log-level warning: no info lines, although the environment asks for debug.
    quiet = ServeProc(tmp_path / "a", config, "--log-level", "warning",
                      env={"ALERT_RECEIVER_LOG_LEVEL": "debug"}, port=free_port())  # fmt: skip
    try:
        quiet.wait_ready()
    finally:
        assert quiet.stop() == 0
    assert [line for line in quiet.lines() if line["level"] in ("debug", "info")] == []

    # $ALERT_RECEIVER_LOG_LEVEL=debug over the config's info: debug lines, and where from.
    loud = ServeProc(tmp_path / "b", config, env={"ALERT_RECEIVER_LOG_LEVEL": "debug"})
    try:
        loud.wait_line("listening")
    finally:
        assert loud.stop() == 0
    chosen = loud.line("log level")
    assert chosen is not None and chosen["level"] == "debug"
    assert chosen["log_level"] == "debug" and chosen["from"] == "ALERT_RECEIVER_LOG_LEVEL"

    # The config's own level when neither is given.
    config = config.replace("log_level: info", "log_level: warning")
    warn = ServeProc(tmp_path / "c", config, port=free_port())
    try:
        warn.wait_ready()
    finally:
        assert warn.stop() == 0
    assert warn.line("listening") is None and warn.line("stopped") is None


def test_an_invalid_env_log_level_is_a_clear_error(tmp_path: Path) -> None:
    cfg = tmp_path / "config.yml"
    cfg.write_text(CONFIG)
    out = subprocess.run(
        [sys.executable, "-m", "receiver", "serve", "--config", str(cfg)],
        capture_output=True, text=True, timeout=30, cwd=ROOT,
        env={**os.environ, "ALERT_RECEIVER_LOG_LEVEL": "loud"},
    )  # fmt: skip
    assert out.returncode == 2
    assert "ALERT_RECEIVER_LOG_LEVEL='loud' is not a log level" in out.stderr
    assert "debug, info, warning, error" in out.stderr
    assert "Traceback" not in out.stderr


def test_output_piped_into_head_ends_quietly(tmp_path: Path) -> None:
    # A summary far larger than a pipe's buffer (64 KiB), read 1 byte of by `head`.
    cfg = tmp_path / "big.yml"
    receivers = {f"r{i:05d}": {"type": "log"} for i in range(6000)}
    route = {"receivers": ["r00000"]}
    config = {"listen": "127.0.0.1:9095", "auth": "none", "receivers": receivers, "route": route}
    cfg.write_text(yaml.safe_dump(config))
    cli = subprocess.Popen(
        [sys.executable, "-m", "receiver", "check-config", str(cfg)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    assert cli.stdout is not None and cli.stderr is not None
    head = subprocess.run(["head", "-c", "1"], stdin=cli.stdout, capture_output=True, timeout=60)
    cli.stdout.close()  # only head holds the read end
    err = cli.stderr.read().decode()
    cli.stderr.close()
    code = cli.wait(60)
    assert len(head.stdout) == 1
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert "Exception ignored" not in err, err
    assert code == 141
