"""Terminal escapes stored in Redis (an override's reason, an alertname, a summary) reach
the CLI's human output escaped (`\\x1b`, `\\u202e`), never as raw control characters."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
import yaml

from receiver.oncall.schedule import Override, iso
from receiver.oncall.store import OverrideStore
from receiver.store.keys import Keys
from tests.conftest import ROOT, AppFactory, RedisServer, auth, fixture_body
from tests.helpers import free_port, until

# Sets the terminal's title, clears the screen, reverses what follows, hides a character.
EVIL = "\x1b]0;pwned\x07\x1b[2J\u202egnp.exe\u200b"
SHOWN = "\\x1b]0;pwned\\x07\\x1b[2J\\u202egnp.exe\\u200b"
RAW = ("\x1b", "\x07", "\u202e", "\u200b")


def cli(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "receiver", *args, "--config", str(cfg)],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)  # fmt: skip


async def acli(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(cli, cfg, *args)


def assert_escaped(out: subprocess.CompletedProcess[str]) -> None:
    assert out.returncode == 0, out.stderr
    assert not [c for c in RAW if c in out.stdout], repr(out.stdout)
    assert SHOWN in out.stdout


def write_config(path: Path, redis_url: str, **sections: Any) -> Path:
    path.write_text(yaml.safe_dump({"auth": "none", "redis": {"url": redis_url}, **sections}))
    return path


ROTATIONS = {"rotations": {"primary": {"members": [{"name": "alice", "email": "a@example.com"}],
                                       "shift": "1w", "handoff": "Mon 09:00"}}}  # fmt: skip


async def test_override_list_and_who_escape_a_stored_reason(
    redis: aioredis.Redis, redis_server: RedisServer, tmp_path: Path
) -> None:
    # The CLI and the API now refuse such a reason; a record stored before that (or by an
    # older replica) is still in Redis, written by the store as it writes every override.
    now = datetime.now(UTC).replace(microsecond=0)
    stored = Override("ov1", "alice", now, now + timedelta(hours=2), now, EVIL, EVIL)
    assert await OverrideStore(redis, Keys(), time.time).add("primary", stored)
    cfg = write_config(tmp_path / "c.yml", redis_server.url, oncall=ROTATIONS)
    listed = await acli(cfg, "oncall", "override", "list")
    assert_escaped(listed)
    until = iso(now + timedelta(hours=2))
    assert f"ov1  primary  alice  {iso(now)} → {until}  by {SHOWN}: {SHOWN}" in listed.stdout
    who = await acli(cfg, "oncall", "who")
    assert_escaped(who)  # the override's maker, in the table
    assert f"ov1 ({SHOWN})" in who.stdout


async def test_dlq_list_escapes_the_alertname_of_a_failed_delivery(
    app_client: AppFactory, redis: aioredis.Redis, redis_server: RedisServer, tmp_path: Path
) -> None:
    # Nothing listens on that port: the one attempt allowed fails, and the job is dead.
    hook = {"type": "webhook", "url": f"http://127.0.0.1:{free_port()}/hook", "rate": "none"}
    client = await app_client(run_workers=True, receivers={"hook": hook},
                              route={"receivers": ["hook"]},
                              workers={"max_attempts": 1, "backoff_base": "200ms"})  # fmt: skip
    body = fixture_body("warning-firing")
    body["alerts"][0]["labels"]["alertname"] = EVIL
    del body["alerts"][0]["fingerprint"]  # Alertmanager's is of the labels: computed here
    assert (await client.post("/webhook", json=body, headers=auth())).status == 200
    await until(lambda: dead_letters(redis_server) == 1)
    cfg = write_config(tmp_path / "c.yml", redis_server.url)
    listed = await acli(cfg, "dlq", "list")
    assert_escaped(listed)
    assert f"  hook  {SHOWN} (" in listed.stdout


def dead_letters(redis_server: RedisServer) -> int:
    import redis as sync_redis

    with sync_redis.Redis.from_url(redis_server.url) as r:
        return int(r.xlen("{ar}:dlq"))


async def test_digest_preview_escapes_a_buffered_summary(
    app_client: AppFactory, redis: aioredis.Redis, redis_server: RedisServer, tmp_path: Path
) -> None:
    sections: dict[str, Any] = {
        "receivers": {"mail": {"type": "email", "host": "127.0.0.1", "port": free_port(),
                               "tls": "none", "from": "alerts@example.com",
                               "to": ["x@example.com"]}},
        "oncall": ROTATIONS,
        "digests": {"default": {"receiver": "mail", "oncall": "primary", "every": "1d"}},
        "route": {"digest": "default"},
    }  # fmt: skip
    client = await app_client(**sections)
    body = fixture_body("warning-firing")
    body["alerts"][0]["annotations"]["summary"] = f"disk {EVIL} full"
    answer = await client.post("/webhook", json=body, headers=auth())
    assert answer.status == 200 and (await answer.json())["digested"] == 1
    cfg = write_config(tmp_path / "c.yml", redis_server.url, **sections)
    preview = await acli(cfg, "digest", "preview", "default")
    assert_escaped(preview)
    assert f"- [FIRING] disk {SHOWN} full (" in preview.stdout
    assert preview.stdout.startswith('1 alert in digest "default", 1 still firing.\n')
