"""`alert-receiver ack|unack`: acknowledging from a shell, recorded as via "cli"."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import redis.asyncio as aioredis
import yaml

from tests.conftest import ROOT, AppFactory, RedisServer, auth
from tests.integration.ack.test_ack_api import FP, body
from tests.integration.api.test_webhook_intake import state_snapshot


async def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "receiver", *args], capture_output=True,
        text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip


async def test_ack_and_unack_from_the_command_line(
    app_client: AppFactory, redis_server: RedisServer, redis: aioredis.Redis, tmp_path: Path
) -> None:
    client = await app_client()
    await client.post("/webhook", json=body(), headers=auth())
    cfg = tmp_path / "c.yml"
    cfg.write_text(yaml.safe_dump({"auth": "none", "redis": {"url": redis_server.url}}))

    bad = await run_cli("ack", FP, "--config", str(cfg), "--by", "alice", "--expires", "later")
    assert bad.returncode == 2 and "expires" in bad.stderr
    missing = await run_cli("ack", "0" * 16, "--config", str(cfg), "--by", "alice")
    assert missing.returncode == 1 and "not_found" in missing.stdout
    unchanged = await state_snapshot(redis)
    rtl = await run_cli("ack", FP, "--config", str(cfg), "--by", "\u202eecila")  # "alice"
    assert rtl.returncode == 2
    assert "by: contains a format character U+202E; names are shown" in rtl.stderr
    assert await state_snapshot(redis) == unchanged

    before = await state_snapshot(redis)
    out = await run_cli("ack", FP, "--config", str(cfg), "--by", "alice", "--comment",
                        "looking", "--expires", "1h", "--json")  # fmt: skip
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["outcome"] == "acked" and got["ack"]["via"] == "cli"
    assert await state_snapshot(redis) != before
    rec = await (await client.get(f"/api/v1/alerts/{FP}")).json()
    assert rec["acknowledged"] and rec["history"][0]["comment"] == "looking"

    out = await run_cli("unack", FP, "--config", str(cfg), "--by", "alice")
    assert out.returncode == 0 and out.stdout.startswith("unacked " + FP)
    rec = await (await client.get(f"/api/v1/alerts/{FP}")).json()
    assert not rec["acknowledged"] and rec["history"][0]["event"] == "unack"
