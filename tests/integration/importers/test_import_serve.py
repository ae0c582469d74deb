"""The imported YAML, merged into a minimal config, passes check-config, and `serve` on it
pages whoever the source says is on call now (by email, through the person's rules)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
import redis as sync_redis
import yaml

from tests.conftest import ROOT, TOKEN, RedisServer, Serve
from tests.helpers import free_port, until
from tests.integration.ack.test_ack_api import body
from tests.integration.importers.helpers import run_import, summary, token_file
from tests.servers.opsgenie import FIXTURES, FakeOpsgenie
from tests.servers.smtp import SMTPServer

SID = "0b1f8e3c-6a54-4c8e-9a3e-1f2d3c4b5a69"


async def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "receiver", *args], capture_output=True,
        text=True, timeout=60, cwd=ROOT)  # fmt: skip


def started_already(tmp: Path) -> Path:
    """The Opsgenie fixtures with the rotations started on 2026-11-02 (a Monday, in the
    past), so that someone is on call now on both sides."""
    root = tmp / "opsgenie"
    shutil.copytree(FIXTURES, root)
    f = root / "v2" / "schedules.json"
    data = json.loads(f.read_text())
    for rot in data["data"][0]["rotations"]:
        rot["startDate"] = "2026-11-02T08:00:00Z"
    f.write_text(json.dumps(data))
    return root


def source_says(og: FakeOpsgenie, t: datetime) -> set[str]:
    tl = og.timeline(SID, {"date": t.strftime("%Y-%m-%dT%H:00:00Z"), "interval": "1",
                           "intervalUnit": "weeks"})  # fmt: skip
    stamp = t.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {p["recipient"]["name"] for r in tl["data"]["finalTimeline"]["rotations"]
            for p in r["periods"] if p["startDate"] <= stamp < p["endDate"]}  # fmt: skip


async def test_imported_config_checks_and_serve_pages_the_source_on_call_person(
    tmp_path: Path, redis_server: RedisServer, smtp: SMTPServer
) -> None:
    og = FakeOpsgenie(root=started_already(tmp_path))
    await og.start()
    try:
        out = tmp_path / "imported.yml"
        done = await run_import("opsgenie", "--api-url", og.base_url, "--token-file",
                                token_file(tmp_path, og.key), "--out", str(out),
                                "--compare-weeks", "1")  # from now  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        assert summary(done.stdout) == {"platform": (168, 0)}

        config = yaml.safe_load(out.read_text())
        config.update({
            "auth": {"bearer_tokens": [TOKEN]},
            "redis": {"url": redis_server.url},
            "receivers": {"mail": {"type": "email", "host": "127.0.0.1", "port": smtp.port,
                                   "tls": "none", "from": "alerts@example.com",
                                   "to": ["team@example.com"], "rate": "none"}},
            "route": {"receivers": ["mail"], "escalation": "platform_escalation"},
        })  # fmt: skip
        cfg = tmp_path / "config.yml"
        cfg.write_text(yaml.safe_dump(config))
        check = await cli("check-config", str(cfg))
        assert check.returncode == 0, check.stderr

        if redis_server.proc is None:
            redis_server.start()
        sync_redis.Redis(port=redis_server.port).flushall()
        serve = Serve(cfg, tmp_path / "data", free_port())
        await asyncio.to_thread(serve.start)
        try:
            before = source_says(og, datetime.now(UTC))
            async with httpx.AsyncClient() as client:
                r = await client.post(serve.url + "/webhook", json=body(),
                                      headers={"Authorization": f"Bearer {TOKEN}"})  # fmt: skip
                assert r.status_code == 200, r.text
            after = source_says(og, datetime.now(UTC))
            expected = {f"{n}" for n in before | after}  # a hand-off may fall in between
            assert len(before) == 1 and before <= {
                "alice@example.com",
                "bob@example.com",
                "carol@example.com",
                "dave@example.com",
            }

            def paged() -> list[str]:
                return [r for m in smtp.messages for r in m.rcpt_tos if r != "team@example.com"]

            await until(lambda: len(paged()) >= 1, 30, "the on-call person paged")
            await asyncio.sleep(1)  # nobody else is paged in the first step
            assert len(paged()) == 1 and paged()[0] in expected

            # The imported overrides load into the running service, once however often.
            files = [str(tmp_path / "imported.overrides.json"), "--config", str(cfg)]
            for _ in range(2):
                loaded = await cli("oncall", "override", "load", *files, "--by", "import")
                assert loaded.returncode == 0, loaded.stderr
            assert "added 0 override(s), 1 already there" in loaded.stdout
            listed = await cli("oncall", "override", "list", "--json", "--config", str(cfg))
            got = [(o["rotation"], o["who"], o["from"], o["until"])
                   for o in json.loads(listed.stdout)]  # fmt: skip
            assert got == [("platform", "dave", "2027-03-19T17:00:00Z", "2027-03-22T06:00:00Z")]
        finally:
            serve.kill()
    finally:
        await og.stop()
