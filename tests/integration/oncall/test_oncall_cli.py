"""The real service and the real CLI on one real Redis: overrides made by either are seen
by both, and the calendar feed agrees with `oncall who --at` on every shift of 8 weeks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import yaml
from icalendar import Calendar

from tests.conftest import ROOT, RedisServer, Serve
from tests.helpers import free_port

READER = "calendar-token-0123456789"
ONCALL = "oncall-bot-token-0123456789"


def config(path: Path, redis_url: str) -> Path:
    path.write_text(yaml.safe_dump({
        "auth": {"bearer_tokens": ["webhook-token-0123456789"]},
        "redis": {"url": redis_url, "key_prefix": "oncall-cli"},
        "receivers": {"log": {"type": "log", "rate": "none"}},
        "route": {"receivers": ["log"]},
        "api_tokens": [{"name": "calendar", "token": READER, "scopes": ["read"]},
                       {"name": "bot", "token": ONCALL, "scopes": ["oncall"]}],
        "oncall": {"rotations": {"primary": {
            "members": [{"name": "alice", "email": "alice@example.com"},
                        {"name": "bob", "email": "bob@example.com"},
                        {"name": "carol", "email": "carol@example.com"}],
            "shift": "1w", "handoff": "Mon 09:00", "timezone": "Europe/Berlin",
            "start": "2026-01-05"}}},
    }))  # fmt: skip
    return path


def cli(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "receiver", "oncall", "--config", str(cfg), *args],
        capture_output=True, text=True, timeout=60, cwd=ROOT, env=dict(os.environ),
    )  # fmt: skip


def api(serve: Serve, method: str, path: str, token: str, **kw: Any) -> httpx.Response:
    return httpx.request(method, serve.url + path, headers={"Authorization": f"Bearer {token}"},
                         timeout=10, **kw)  # fmt: skip


def test_feed_matches_cli_and_overrides_cross_over(tmp_path: Path,
                                                   redis_server: RedisServer) -> None:  # fmt: skip
    if redis_server.proc is None:
        redis_server.start()
    cfg = config(tmp_path / "oncall.yml", redis_server.url)
    serve = Serve(cfg, tmp_path / "data", free_port())
    serve.start()
    try:
        # An override from the CLI (a member, in two days) and one from the API (a stand-in).
        added = cli(cfg, "override", "add", "primary", "--who", "bob", "--from", "now",
                    "--for", "2d", "--reason", "swap", "--by", "tester", "--json")  # fmt: skip
        assert added.returncode == 0, added.stderr
        by_cli = json.loads(added.stdout)
        resp = api(serve, "POST", "/api/v1/oncall/primary/overrides", ONCALL,
                   json={"who": "Zed", "email": "zed@ext.example", "from": by_cli["until"],
                         "for": "10d", "reason": "cover"})  # fmt: skip
        assert resp.status_code == 201, resp.text
        by_api = resp.json()

        listed = cli(cfg, "override", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        assert {o["id"]: o["created_by"] for o in json.loads(listed.stdout)} == {
            by_cli["id"]: "tester", by_api["id"]: "bot"}  # fmt: skip
        now = api(serve, "GET", "/api/v1/oncall", READER).json()["rotations"][0]
        assert now["on_call"]["member"]["name"] == "bob"
        assert now["on_call"]["override"]["id"] == by_cli["id"]
        assert now["next"][0]["member"]["name"] == "Zed"
        table = cli(cfg, "who")
        assert table.returncode == 0, table.stderr
        row = table.stdout.splitlines()[1].split()
        assert row[0] == "primary" and row[2] == "bob" and row[-2] == by_cli["id"]
        assert "Zed" in table.stdout  # among the next hand-offs

        feed = httpx.get(f"{serve.url}/api/v1/oncall/primary.ics?token={READER}", timeout=10)
        assert feed.status_code == 200, feed.text
        events = Calendar.from_ical(feed.content).walk("VEVENT")
        assert len(events) >= 9  # 8 weeks of weekly shifts, two of them cut by overrides
        starts = [ev["DTSTART"].dt.strftime("%Y-%m-%dT%H:%M:%SZ") for ev in events]
        ats = [a for s in starts for a in ("--at", s)]
        who = cli(cfg, "who", "--rotation", "primary", "--json", *ats)
        assert who.returncode == 0, who.stderr
        rows = json.loads(who.stdout)["rotations"]
        assert len(rows) == len(events)
        for ev, row in zip(events, rows, strict=True):
            on_call = row["on_call"]
            summary = f"On call (primary): {on_call['member']['name']}"
            summary += " (override)" if on_call["override"] else ""
            assert str(ev["SUMMARY"]) == summary
            assert on_call["from"] == ev["DTSTART"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
            assert on_call["until"] == ev["DTEND"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert [r["on_call"]["member"]["name"] for r in rows[:2]] == ["bob", "Zed"]

        # A stand-in without an email is refused by the CLI too, and nothing is stored.
        bad = cli(cfg, "override", "add", "primary", "--who", "nobody", "--for", "1h")
        assert bad.returncode == 2 and "give their `email`" in bad.stderr
        # So is a --by that would display as someone else's name.
        rtl = cli(cfg, "override", "add", "primary", "--who", "bob", "--for", "1h", "--by",
                  "\u202eecila")  # fmt: skip
        assert rtl.returncode == 2
        assert "created_by: contains a format character U+202E" in rtl.stderr
        assert len(json.loads(cli(cfg, "override", "list", "--json").stdout)) == 2
        # Removed through the CLI: gone from the API; removed twice: an error.
        gone = cli(cfg, "override", "remove", "primary", by_cli["id"])
        assert gone.returncode == 0, gone.stderr
        after = api(serve, "GET", "/api/v1/oncall", READER).json()["rotations"][0]
        assert [o["id"] for o in after["overrides"]] == [by_api["id"]]
        assert after["on_call"]["override"] is None
        assert cli(cfg, "override", "remove", "primary", by_cli["id"]).returncode == 1
        # Removed through the API: gone from the CLI's list.
        assert api(serve, "DELETE", f"/api/v1/oncall/primary/overrides/{by_api['id']}",
                   ONCALL).status_code == 200  # fmt: skip
        assert json.loads(cli(cfg, "override", "list", "--json").stdout) == []
    finally:
        assert serve.kill(signal.SIGTERM) == 0
