"""Harness that runs the real Prometheus Alertmanager binary in tests.

Not a test module. Typical use::

    am_bin = require_alertmanager()           # skip locally / fail in CI when missing
    async with Alertmanager(webhook_url, token="s3cret-token", binary=am_bin) as am:
        await am.post_alerts([make_alert({"alertname": "X", "service": "api"})])

The config it writes has one route (group_by alertname, service) to one
``webhook_configs`` receiver named ``rx`` with ``send_resolved: true``, a Bearer token and
``max_alerts: 0`` -- the shape the fixtures in ``tests/fixtures/alertmanager`` were
captured with. Flags used (Alertmanager 0.25): ``--config.file``, ``--storage.path``,
``--web.listen-address=127.0.0.1:<port>``, ``--cluster.listen-address=`` (empty: no HA
gossip, ready at once), ``--log.level``.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import yaml

from tests.helpers import free_port, require_binary

ALERTMANAGER_NAMES = ("prometheus-alertmanager", "alertmanager")
AMTOOL_NAMES = ("amtool",)
RECEIVER_NAME = "rx"
ZERO_TIME = "0001-01-01T00:00:00Z"


def find_alertmanager() -> str | None:
    """Path of the Alertmanager binary on PATH (Debian's name first), or None."""
    for name in ALERTMANAGER_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def require_alertmanager() -> str:
    """The Alertmanager binary; skipped (failed under CI=true) when it is not installed."""
    return require_binary(*ALERTMANAGER_NAMES, package="prometheus-alertmanager")


def require_amtool() -> str:
    return require_binary(*AMTOOL_NAMES, package="prometheus-alertmanager")


def rfc3339(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now_utc() -> datetime:
    return datetime.now(UTC)


def make_alert(
    labels: dict[str, str],
    annotations: dict[str, str] | None = None,
    *,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    generator_url: str = "",
) -> dict[str, Any]:
    """An alert for ``POST /api/v2/alerts`` (postableAlert).

    ``ends_at`` in the past resolves the alert; None leaves it firing (Alertmanager then
    sets endsAt = now + resolve_timeout internally and sends ``0001-01-01T00:00:00Z``).
    """
    alert: dict[str, Any] = {
        "labels": dict(labels),
        "annotations": dict(annotations or {}),
        "startsAt": rfc3339(starts_at or now_utc()),
        "generatorURL": generator_url,
    }
    if ends_at is not None:
        alert["endsAt"] = rfc3339(ends_at)
    return alert


def resolved(alert: dict[str, Any], at: datetime | None = None) -> dict[str, Any]:
    """The same alert with endsAt in the past (default: one second ago)."""
    out = dict(alert)
    out["endsAt"] = rfc3339(at or (now_utc() - timedelta(seconds=1)))
    return out


class Alertmanager:
    """One real Alertmanager process on 127.0.0.1:<free port>, posting to ``webhook_url``."""

    def __init__(
        self,
        webhook_url: str,
        token: str | None = "s3cret-token",
        *,
        binary: str | None = None,
        workdir: Path | str | None = None,
        group_wait: str = "1s",
        group_interval: str = "1s",
        repeat_interval: str = "1h",
        group_by: tuple[str, ...] = ("alertname", "service"),
        max_alerts: int = 0,
        send_resolved: bool = True,
        log_level: str = "warn",
        start_timeout: float = 30.0,
    ) -> None:
        self.webhook_url = webhook_url
        self.token = token
        self.binary = binary or find_alertmanager()
        self.group_wait = group_wait
        self.group_interval = group_interval
        self.repeat_interval = repeat_interval
        self.group_by = group_by
        self.max_alerts = max_alerts
        self.send_resolved = send_resolved
        self.log_level = log_level
        self.start_timeout = start_timeout
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="am-"))
        self.config_path = self.workdir / "alertmanager.yml"
        self.storage_path = self.workdir / "data"
        self.log_path = self.workdir / "alertmanager.log"
        self.port = 0
        self.proc: asyncio.subprocess.Process | None = None
        self._log_file: Any = None

    # -- config ------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        webhook: dict[str, Any] = {
            "url": self.webhook_url,
            "send_resolved": self.send_resolved,
            "max_alerts": self.max_alerts,
        }
        if self.token is not None:
            webhook["http_config"] = {
                "authorization": {"type": "Bearer", "credentials": self.token}
            }
        return {
            "route": {
                "receiver": RECEIVER_NAME,
                "group_by": list(self.group_by),
                "group_wait": self.group_wait,
                "group_interval": self.group_interval,
                "repeat_interval": self.repeat_interval,
            },
            "receivers": [{"name": RECEIVER_NAME, "webhook_configs": [webhook]}],
        }

    def write_config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(yaml.safe_dump(self.config(), sort_keys=False))
        return self.config_path

    # -- lifecycle ---------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        assert self.binary, "no Alertmanager binary"
        return [
            self.binary,
            f"--config.file={self.config_path}",
            f"--storage.path={self.storage_path}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--cluster.listen-address=",
            f"--log.level={self.log_level}",
        ]

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    async def start(self) -> None:
        if self.binary is None:
            raise RuntimeError(
                "Alertmanager binary not found (apt-get install prometheus-alertmanager)"
            )
        self.write_config()
        self.storage_path.mkdir(parents=True, exist_ok=True)
        last_error = ""
        for _attempt in range(3):  # a free port can be taken between probe and bind
            self.port = free_port()
            self._log_file = self.log_path.open("ab")
            self.proc = await asyncio.create_subprocess_exec(
                *self.command(),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=self._log_file,
                stderr=self._log_file,
            )
            try:
                await self._wait_ready()
                return
            except RuntimeError as exc:
                last_error = str(exc)
                await self.stop(cleanup=False)
                if "address already in use" not in last_error:
                    break
        raise RuntimeError(f"Alertmanager did not start: {last_error}")

    async def _wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + self.start_timeout
        async with httpx.AsyncClient(timeout=2.0) as client:
            while True:
                if self.proc.returncode is not None:
                    raise RuntimeError(
                        f"exited with {self.proc.returncode}; log:\n{self.log_tail()}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    r = await client.get(f"{self.url}/-/ready")
                    if r.status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"/-/ready not 200 within {self.start_timeout}s; log:\n{self.log_tail()}"
                    )
                await asyncio.sleep(0.05)

    async def stop(self, *, cleanup: bool = True) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), timeout=10)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if cleanup and self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    async def __aenter__(self) -> Alertmanager:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- API -------------------------------------------------------------------------
    async def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        """``POST /api/v2/alerts``; raises on a non-2xx answer."""
        async with httpx.AsyncClient(timeout=10.0) as client:
            r = await client.post(f"{self.url}/api/v2/alerts", json=alerts)
        if r.status_code // 100 != 2:
            raise RuntimeError(f"POST /api/v2/alerts -> {r.status_code}: {r.text}")

    async def get_alerts(self) -> list[dict[str, Any]]:
        async with httpx.AsyncClient(timeout=10.0) as client:
            r = await client.get(f"{self.url}/api/v2/alerts")
        r.raise_for_status()
        data: list[dict[str, Any]] = r.json()
        return data
