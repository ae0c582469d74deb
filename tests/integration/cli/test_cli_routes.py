"""`routes test`: the escalation steps a label set gets, whom each one pages and who is on
call in its rotations now; offline (no Redis, no secrets) and with overrides from Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import redis.asyncio as aioredis

from tests.conftest import ROOT, RedisServer

EXAMPLE = str(ROOT / "config" / "example.yml")
SECRETS = {"PAGERDUTY_ROUTING_KEY": "R" * 32, "SLACK_BOT_TOKEN": "xoxb-1", "SMTP_PASSWORD": "pw",
           "WEBHOOK_TOKEN": "t", "ADMIN_API_TOKEN": "admin-token-0123456789"}  # fmt: skip


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "receiver", *args], capture_output=True,
                          text=True, timeout=60, cwd=ROOT, env=env)  # fmt: skip


def scheduled(members: list[str]) -> str:
    """Whose week it is in the example's rotations: weekly from Mon 2026-01-05 09:00 in
    Berlin, members in turn (worked out here from the config's words, not by our code)."""
    berlin = datetime.now(UTC).astimezone(ZoneInfo("Europe/Berlin")).replace(tzinfo=None)
    return members[((berlin - datetime(2026, 1, 5, 9, 0)) // timedelta(weeks=1)) % len(members)]


def step(out: str, n: int) -> str:
    return next(line for line in out.splitlines() if line.startswith(f"  step {n} at "))


def test_routes_test_names_what_each_step_pages_and_who_is_on_call_offline() -> None:
    env = {"PATH": os.environ["PATH"]}  # no secrets, and no REDIS_URL: redis:6379 is unknown
    # Either side of a hand-off that happens while the command runs.
    primary, secondary = {scheduled(["alice", "bob"])}, {scheduled(["carol", "dave"])}
    out = run_cli("routes", "test", "--config", EXAMPLE, "severity=critical", env=env)
    assert out.returncode == 0, out.stderr
    primary.add(scheduled(["alice", "bob"]))
    secondary.add(scheduled(["carol", "dave"]))
    first, second = step(out.stdout, 1), step(out.stdout, 2)
    assert first.startswith("  step 1 at 0s: receivers pagerduty, slack; rotation primary: ")
    assert any(f"rotation primary: {who} on call until " in first for who in primary), first
    assert second.startswith("  step 2 at 15m: rotation secondary: ")
    assert any(f"rotation secondary: {who} on call until " in second for who in secondary)
    assert "emails eng-manager@example.com (via oncall-email)" in second
    assert "the schedule only, overrides not read (Redis unavailable: " in out.stdout


def example_without_wait(tmp_path: Path) -> Path:
    """config/example.yml waits for a replica (redis.durability); a test Redis has none."""
    text = Path(EXAMPLE).read_text()
    wait = "  durability:\n    replicas: 1\n"
    assert wait in text
    example = tmp_path / "example.yml"
    example.write_text(text.replace(wait, "  durability:\n    replicas: 0\n"))
    return example


async def test_routes_test_applies_the_overrides_in_redis(
    redis: aioredis.Redis, redis_server: RedisServer, tmp_path: Path
) -> None:
    env = {"PATH": os.environ["PATH"], "REDIS_URL": redis_server.url, **SECRETS}
    example = example_without_wait(tmp_path)
    added = run_cli("oncall", "override", "add", "primary", "--who", "dave", "--for", "2h",
                    "--config", str(example), "--json", env=env)  # fmt: skip
    assert added.returncode == 0, added.stderr
    override = json.loads(added.stdout)
    out = run_cli("routes", "test", "--config", str(example), "priority=P0", env=env)
    assert out.returncode == 0, out.stderr
    # dave is secondary's member: found there, reached by email (no receiver of his own).
    want = (f"rotation primary: dave on call until {override['until']}, override "
            f"{override['id']} (dave@example.com via oncall-email)")  # fmt: skip
    assert want in step(out.stdout, 1)
    assert "step 4 at 30m: emails director@example.com (via oncall-email)" in out.stdout
    assert "then 1 more round(s), every 1h" in out.stdout
    assert out.stdout.rstrip().endswith(": overrides applied")
