"""The maintenance silence mirror against the real Alertmanager binary: a window with
`silence: true` gets one silence with its matchers for its span, visible with `amtool`;
ending the window early expires it; a window refused for a silence without an
Alertmanager configured changes nothing."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import aiohttp
import pytest

from receiver.store.keys import Keys
from tests.conftest import AppFactory
from tests.e2e.alertmanager import Alertmanager, require_alertmanager, require_amtool
from tests.integration.maintenance.test_maintenance import TOKENS, iso, oncall_auth
from tests.servers.recorder import Recorder


@pytest.fixture
async def am(recorder: Recorder) -> AsyncIterator[Alertmanager]:
    async with Alertmanager(recorder.url("am"), binary=require_alertmanager()) as running:
        yield running


def amtool(am: Alertmanager) -> list[dict[str, Any]]:
    """`amtool silence query` as an operator runs it: the active silences."""
    out = subprocess.run([require_amtool(), "silence", "query", "-o", "json",
                          f"--alertmanager.url={am.url}"],
                         capture_output=True, text=True, timeout=30)  # fmt: skip
    assert out.returncode == 0, out.stderr
    found: list[dict[str, Any]] = json.loads(out.stdout or "[]")
    return found


async def active(session: aiohttp.ClientSession, am: Alertmanager) -> list[dict[str, Any]]:
    async with session.get(f"{am.url}/api/v2/silences") as r:
        assert r.status == 200
        listed: list[dict[str, Any]] = await r.json()
    return [s for s in listed if s["status"]["state"] == "active"]


async def settle(session: aiohttp.ClientSession, am: Alertmanager, want: int) -> list[Any]:
    deadline = time.monotonic() + 20
    while len(found := await active(session, am)) != want:
        assert time.monotonic() < deadline, f"{len(found)} active silences, not {want}"
        await asyncio.sleep(0.1)
    return found


async def test_each_occurrence_is_a_silence_expired_when_the_window_ends_early(
    app_client: AppFactory, am: Alertmanager, session: aiohttp.ClientSession, redis: Any
) -> None:
    client = await app_client(run_workers=True, api_tokens=TOKENS,
                              ack={"alertmanager_silence": {"url": am.url}})  # fmt: skip
    now = time.time()
    window = {"name": "db-patch", "matchers": ['service="db"', 'env=~"prod|staging"'],
              "reason": "patching", "created_by": "dba", "from": iso(now - 5),
              "until": iso(now + 3600), "silence": True}  # fmt: skip
    r = await client.post("/api/v1/maintenance", json=window, headers=oncall_auth())
    assert r.status == 201, await r.text()
    wid = (await r.json())["id"]
    (silence,) = await settle(session, am, 1)
    assert {(m["name"], m["value"], m["isRegex"], m["isEqual"]) for m in silence["matchers"]} == {
        ("service", "db", False, True),
        ("env", "prod|staging", True, True),
    }
    assert silence["createdBy"] == "dba" and wid in silence["comment"]
    ends = datetime.fromisoformat(silence["endsAt"].replace("Z", "+00:00")).timestamp()
    assert abs(ends - (now + 3600)) <= 1  # the window's end (given to the second)
    # What an operator sees.
    (listed,) = amtool(am)
    assert listed["id"] == silence["id"]
    # A second tick, another replica: still one.
    other = await app_client(run_workers=True, api_tokens=TOKENS,
                             ack={"alertmanager_silence": {"url": am.url}})  # fmt: skip
    await asyncio.sleep(1.5)
    assert len(await active(session, am)) == 1
    # Ended early: expired.
    r = await other.delete(f"/api/v1/maintenance/{wid}", headers=oncall_auth())
    assert r.status == 200, await r.text()
    await settle(session, am, 0)
    assert amtool(am) == []


async def test_a_silence_window_without_an_alertmanager_is_refused(
    app_client: AppFactory, redis: Any
) -> None:
    client = await app_client(api_tokens=TOKENS)
    now = time.time()
    window = {"matchers": ['service="db"'], "from": iso(now), "until": iso(now + 60),
              "silence": True}  # fmt: skip
    r = await client.post("/api/v1/maintenance", json=window, headers=oncall_auth())
    assert r.status == 400
    assert "ack.alertmanager_silence" in (await r.json())["detail"]
    assert await redis.exists(Keys().maint_windows) == 0
