"""End to end: the real Alertmanager → `alert-receiver serve` → Redis, with faults."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import READ_TOKEN, TOKEN, RedisServer, Serve, read_auth
from tests.e2e.alertmanager import Alertmanager, make_alert, require_alertmanager, resolved
from tests.helpers import free_port, wait_until

pytestmark = pytest.mark.e2e


def write_config(path: Path, redis_url: str | None = None) -> Path:
    cfg: dict[str, Any] = {
        "auth": {"bearer_tokens": [TOKEN]},
        "api_tokens": [{"name": "reader", "token": READ_TOKEN, "scopes": ["read"]}],
        "receivers": {"log": {"type": "log", "rate": "none"}},
        "route": {"receivers": ["log"]},
    }
    if redis_url:
        cfg["redis"] = {"url": redis_url}
    path.write_text(yaml.safe_dump(cfg))
    return path


def get_alert(base: str, fp: str) -> dict[str, Any] | None:
    try:
        r = httpx.get(f"{base}/api/v1/alerts/{fp}", headers=read_auth(), timeout=2)
    except httpx.HTTPError:
        return None
    return r.json() if r.status_code == 200 else None


def alert_set(n: int, tag: str) -> list[dict[str, Any]]:
    return [
        make_alert({"alertname": "E2E", "service": "api", "severity": "critical",
                    "instance": f"{tag}-{i}:8080"}, {"summary": f"e2e {i}"})
        for i in range(n)
    ]  # fmt: skip


def fp_of(alert: dict[str, Any]) -> str:
    from receiver.models import fingerprint

    return fingerprint(alert["labels"])


@pytest.fixture
def serve(tmp_path: Path) -> Any:
    procs: list[Serve] = []

    def start(redis_url: str | None = None, data_dir: Path | None = None) -> Serve:
        cfg = write_config(tmp_path / f"cfg{len(procs)}.yml", redis_url)
        s = Serve(cfg, data_dir or tmp_path / "data", free_port())
        s.start()
        procs.append(s)
        return s

    yield start
    for p in procs:
        if p.proc is not None:
            p.kill()


async def test_real_alertmanager_alerts_arrive_in_state(serve: Any) -> None:
    require_alertmanager()
    rx = serve()
    alerts = alert_set(3, "arrive")
    async with Alertmanager(f"{rx.url}/webhook", TOKEN) as am:
        await am.post_alerts(alerts)
        for a in alerts:
            rec = await asyncio.to_thread(wait_until, lambda a=a: get_alert(rx.url, fp_of(a)))
            assert rec["status"] == "firing"
            assert rec["labels"] == a["labels"]
            assert rec["receiver"] == "rx"  # the Alertmanager receiver name
        await am.post_alerts([resolved(alerts[0])])
        rec = await asyncio.to_thread(
            wait_until,
            lambda: (r := get_alert(rx.url, fp_of(alerts[0]))) and r["status"] == "resolved" and r,
        )
        assert rec["history"][0]["status"] == "resolved"


def test_kill_9_right_after_200_loses_nothing(serve: Any, tmp_path: Path) -> None:
    from receiver.cli.send_test import sample_body

    data = tmp_path / "kill9"
    rx = serve(data_dir=data)
    sent: list[str] = []
    for i in range(30):
        body = sample_body("warning", count=5)
        for j, a in enumerate(body["alerts"]):
            a["labels"]["instance"] = f"k9-{i}-{j}"
        r = httpx.post(f"{rx.url}/webhook", json=body,
                       headers={"Authorization": f"Bearer {TOKEN}"})  # fmt: skip
        assert r.status_code == 200, r.text
        sent += [fp_of(a) for a in body["alerts"]]
    rx.kill()  # SIGKILL right after the last 200
    again = Serve(rx.config, data, free_port())
    again.start()
    try:
        missing = [fp for fp in sent if get_alert(again.url, fp) is None]
        assert missing == [], f"{len(missing)} of {len(sent)} acknowledged alerts lost"
        assert len(sent) == 150
    finally:
        again.kill()


def test_second_serve_on_same_data_dir_fails_clearly(serve: Any, tmp_path: Path) -> None:
    import subprocess
    import sys

    rx = serve(data_dir=tmp_path / "shared-dir")
    out = subprocess.run(
        [sys.executable, "-m", "receiver", "serve", "--config", str(rx.config),
         "--listen", f"127.0.0.1:{free_port()}", "--data-dir", str(tmp_path / "shared-dir")],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert out.returncode != 0
    assert "in use by another alert-receiver" in out.stderr


def test_sigterm_stops_embedded_redis(serve: Any, tmp_path: Path) -> None:
    import signal

    data = tmp_path / "term"
    rx = serve(data_dir=data)
    pid = int((data / "redis.pid").read_text())
    assert rx.kill(signal.SIGTERM) == 0
    assert (
        not Path(f"/proc/{pid}").exists()
        or b"redis" not in Path(f"/proc/{pid}/cmdline").read_bytes()
    )


async def test_redis_outage_answers_503_and_alertmanager_retries(
    serve: Any, tmp_path: Path
) -> None:
    require_alertmanager()
    rs = RedisServer(tmp_path / "outage-redis")
    (tmp_path / "outage-redis").mkdir()
    rs.start()
    rx = serve(redis_url=rs.url)
    before = alert_set(2, "before")
    during = alert_set(4, "during")
    try:
        async with Alertmanager(f"{rx.url}/webhook", TOKEN) as am:
            await am.post_alerts(before)
            for a in before:
                await asyncio.to_thread(wait_until, lambda a=a: get_alert(rx.url, fp_of(a)))
            rs.stop()
            await am.post_alerts(during)
            # The receiver refuses with 503 (never 2xx, never 4xx) while Redis is down.
            await asyncio.to_thread(wait_until, lambda: _count(rx.url, "503") > 0, 30)
            assert _count(rx.url, "400") == 0 and _count(rx.url, "401") == 0
            ready = await asyncio.to_thread(httpx.get, f"{rx.url}/health/ready", timeout=5)
            assert ready.status_code == 503
            await asyncio.sleep(1)
            await asyncio.to_thread(rs.start)
            for a in during:
                rec = await asyncio.to_thread(
                    wait_until, lambda a=a: get_alert(rx.url, fp_of(a)), 60
                )
                assert rec["status"] == "firing"
    finally:
        rs.stop()


def _count(base: str, code: str) -> float:
    text = httpx.get(f"{base}/metrics", timeout=5).text
    for line in text.splitlines():
        if line.startswith(f'alert_receiver_webhook_requests_total{{code="{code}"}}'):
            return float(line.split()[-1])
    return 0.0
