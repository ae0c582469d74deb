"""`alert-receiver maintenance list|add|end` against a real Redis: what it adds is a
run-time window like the API's, a bad one is refused with the reason and stores nothing,
and `end` ends the occurrence in force."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import redis.asyncio as aioredis
import yaml

from receiver.store.keys import Keys
from tests.conftest import TOKEN, RedisServer


def config(path: Path, redis_url: str) -> Path:
    path.write_text(yaml.safe_dump({
        "auth": {"bearer_tokens": [TOKEN]}, "redis": {"url": redis_url},
        "receivers": {"log": {"type": "log"}}, "route": {"receivers": ["log"]},
        "maintenance": {"windows": {"db-weekly": {
            "matchers": ['service="db"'], "reason": "patching", "created_by": "dba",
            "rrule": "FREQ=WEEKLY;BYDAY=SA;BYHOUR=2", "duration": "2h",
            "timezone": "Europe/Berlin"}}},
    }))  # fmt: skip
    return path


def cli(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "receiver", "maintenance", "--config",
                           str(cfg), *args], capture_output=True, text=True,
                          timeout=60)  # fmt: skip


async def test_add_list_and_end_from_the_command_line(
    tmp_path: Path, redis_server: RedisServer, redis: aioredis.Redis
) -> None:
    cfg = config(tmp_path / "c.yml", redis_server.url)
    bad = cli(cfg, "add", "--matcher", 'service="db"', "--rrule", "FREQ=SOMETIMES",
              "--duration", "1h")  # fmt: skip
    assert bad.returncode == 2 and "rrule" in bad.stderr and "malformed" in bad.stderr
    empty = cli(cfg, "add", "--matcher", "", "--for", "1h")
    assert empty.returncode == 2 and "matcher" in empty.stderr
    assert await redis.exists(Keys().maint_windows) == 0
    added = cli(cfg, "add", "--matcher", 'service="web"', "--for", "1h", "--reason", "deploy",
                "--by", "alice", "--name", "web-deploy", "--json")  # fmt: skip
    assert added.returncode == 0, added.stderr
    w = json.loads(added.stdout)
    assert w["name"] == "web-deploy" and w["created_by"] == "alice" and w["in_force"]
    listed = cli(cfg, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {r["id"]: r for r in json.loads(listed.stdout)["windows"]}
    assert set(rows) == {"db-weekly", w["id"]} and rows["db-weekly"]["source"] == "config"
    text = cli(cfg, "list")
    assert "web-deploy  in force until" in text.stdout
    ended = cli(cfg, "end", w["id"])
    assert ended.returncode == 0, ended.stderr
    assert await redis.hlen(Keys().maint_ended) == 1
    again = cli(cfg, "end", w["id"])
    assert again.returncode == 1 and "no occurrence in force" in again.stderr
    rows = {r["id"]: r for r in json.loads(cli(cfg, "list", "--json").stdout)["windows"]}
    assert rows[w["id"]]["in_force"] is None


def test_check_config_refuses_bad_windows_with_their_line(tmp_path: Path) -> None:
    base = (
        "auth: none\nreceivers:\n  hook: {type: webhook, url: 'http://127.0.0.1:9/h'}\n"
        "route:\n  receivers: [hook]\nmaintenance:\n  windows:\n    w:\n"
    )
    cases = [
        ("      matchers: []\n      from: 2026-12-08T10:00:00Z\n"
         "      until: 2026-12-08T11:00:00Z\n",
         "maintenance.windows.w: a window needs at least one matcher"),
        ("      matchers: ['a=\"b\"']\n      rrule: FREQ=WEEKLY;BYDAY=XX\n      duration: 1h\n",
         "maintenance.windows.w.rrule: rrule 'FREQ=WEEKLY;BYDAY=XX' is malformed"),
        ("      matchers: ['a=\"b\"']\n      rrule: FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=31\n"
         "      duration: 1h\n", "never occurs"),
        ("      matchers: ['a=\"b\"']\n      rrule: FREQ=DAILY\n      duration: 2d\n",
         "longer than the rule's shortest interval"),
        ("      matchers: ['a=\"b\"']\n      from: 2026-12-08T10:00:00Z\n"
         "      until: 2026-12-08T09:00:00Z\n", "`until` must be after `from`"),
        ("      all: true\n      from: 2026-12-08T10:00:00Z\n      until: 2026-12-08T11:00:00Z\n"
         "      digest: nope\n", 'maintenance.windows.w.digest: undefined digest "nope"'),
        ("      all: true\n      from: 2026-12-08T10:00:00Z\n      until: 2026-12-08T11:00:00Z\n"
         "      silence: true\n", "silence: true needs ack.alertmanager_silence"),
    ]  # fmt: skip
    for i, (window, says) in enumerate(cases):
        cfg = tmp_path / f"c{i}.yml"
        cfg.write_text(base + window)
        out = subprocess.run([sys.executable, "-m", "receiver", "check-config", str(cfg)],
                             capture_output=True, text=True, timeout=60)  # fmt: skip
        assert out.returncode != 0 and says in out.stderr, (window, out.stderr)
