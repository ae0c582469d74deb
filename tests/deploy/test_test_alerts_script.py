"""scripts/test-alerts.sh through the real Alertmanager's API v2, running the kit's own
deployments/monitoring/alertmanager.yml, into a running receiver; and straight at the
receiver."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import TOKEN, RedisServer, Serve
from tests.deploy.tools import MONITORING, ROOT, load_yaml, serve_config
from tests.e2e.alertmanager import Alertmanager, make_alert, require_alertmanager
from tests.helpers import free_port

SCRIPT = ROOT / "scripts" / "test-alerts.sh"
# run_script bounds each run of the script at 120 s itself; the test may outlast one run.
pytestmark = pytest.mark.timeout(300)
KIT_RECEIVER = "http://receiver:9095"  # where the kit's webhook URLs point (compose)


def kit_alertmanager_config(receiver_url: str, token_file: Path) -> dict[str, Any]:
    """The kit's alertmanager.yml pointed at a receiver on loopback: webhook URLs on
    `receiver_url` (same paths), the bearer token read from `token_file`, and every
    group_wait 1 s instead of 10-30 s so the first notification of a group comes soon.
    Routes, grouping and the inhibit rule are the kit's, unchanged."""
    # a JSON round trip: the kit's YAML merge keys share one http_config between receivers
    cfg: dict[str, Any] = json.loads(json.dumps(load_yaml(MONITORING / "alertmanager.yml")))
    for receiver in cfg["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            assert hook["url"].startswith(KIT_RECEIVER), hook["url"]
            hook["url"] = receiver_url + hook["url"].removeprefix(KIT_RECEIVER)
            hook["http_config"]["authorization"]["credentials_file"] = str(token_file)
    for route in (cfg["route"], *cfg["route"]["routes"]):
        route["group_wait"] = "1s"
    return cfg


class KitAlertmanager(Alertmanager):
    """The real Alertmanager (the e2e harness's process handling and API) on a given
    config instead of the harness's one-route config."""

    def __init__(self, config: dict[str, Any], binary: str) -> None:
        super().__init__("", token=None, binary=binary)
        self.kit_config = config

    def config(self) -> dict[str, Any]:
        return self.kit_config


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


async def stored_alerts(serve: Serve, label: str) -> list[dict[str, Any]]:
    """The receiver's alerts with service=`label`, once there are 3 (or what there is after
    about 20 s: the assertion then shows which one is missing)."""
    alerts: list[dict[str, Any]] = []
    async with httpx.AsyncClient(timeout=5) as client:
        for _ in range(200):
            resp = await client.get(f"{serve.url}/api/v1/alerts", params={"service": label})
            alerts = resp.json()["alerts"]
            if len(alerts) >= 3:
                break
            await asyncio.sleep(0.1)
    return alerts


async def stored_severities(serve: Serve, label: str) -> list[str]:
    return sorted(a["labels"]["severity"] for a in await stored_alerts(serve, label))


@pytest.mark.e2e
async def test_alerts_through_the_kits_alertmanager_all_reach_the_receiver(
    serve: Serve, tmp_path: Path
) -> None:
    """All three, the warning too: the kit's inhibit rule (a critical quiets the warning of
    the same alertname at the same place) must not take the test warning for a twin."""
    binary = require_alertmanager()
    (token := tmp_path / "webhook-token").write_text(TOKEN)
    async with KitAlertmanager(kit_alertmanager_config(serve.url, token), binary) as am:
        code, out = await run_script({"ALERTMANAGER_URL": am.url, "RECEIVER_API_URL": serve.url})
        assert code == 0, out
        assert f"{am.url}/api/v2/alerts" in out
        assert f"{serve.url}/api/v1/alerts?service=test-alerts" in out  # where to look
        assert await stored_severities(serve, "test-alerts") == ["critical", "info", "warning"]
        # each through the kit's receiver for its severity (/webhook/<name>)
        alerts = await stored_alerts(serve, "test-alerts")
        got = {a["labels"]["severity"]: a["webhook"] for a in alerts}
        assert got == {"critical": "critical", "warning": "warning", "info": "info"}
        states = {a["labels"]["severity"]: a["status"]["state"] for a in await am.get_alerts()}
        assert states == {"critical": "active", "warning": "active", "info": "active"}


@pytest.mark.e2e
async def test_the_kits_inhibit_rule_quiets_the_warning_twin_of_a_critical(
    serve: Serve, tmp_path: Path
) -> None:
    """What the inhibit rule is for: a warning and a critical of the same alertname at the
    same place (service, instance) → Alertmanager suppresses the warning, inhibited by the
    critical (its own verdict, the one its notification pipeline uses)."""
    binary = require_alertmanager()
    (token := tmp_path / "webhook-token").write_text(TOKEN)
    place = {"alertname": "DiskSpaceLow", "service": "db", "instance": "db-1:9100"}
    async with KitAlertmanager(kit_alertmanager_config(serve.url, token), binary) as am:
        await am.post_alerts([make_alert({**place, "severity": s})
                              for s in ("critical", "warning")])  # fmt: skip
        states: dict[str, tuple[str, int]] = {}
        for _ in range(200):  # bounded: the inhibitor learns of the critical asynchronously
            states = {a["labels"]["severity"]: (a["status"]["state"],
                                                len(a["status"]["inhibitedBy"]))
                      for a in await am.get_alerts()}  # fmt: skip
            if states.get("warning", ("",))[0] == "suppressed":
                break
            await asyncio.sleep(0.1)
        assert states == {"critical": ("active", 0), "warning": ("suppressed", 1)}


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
