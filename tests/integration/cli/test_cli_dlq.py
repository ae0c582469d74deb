"""`alert-receiver dlq`: --config / --data-dir before or after the subcommand."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as sync_redis
import yaml

from receiver.store.keys import Keys
from tests.conftest import ROOT, RedisServer

PREFIX = "dlqcli"  # a key prefix of its own: nothing else in the session Redis touches it


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "receiver", *args], capture_output=True,
                          text=True, timeout=60, cwd=ROOT)  # fmt: skip


@pytest.fixture
def dead_letter(redis_server: RedisServer, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A config on the session Redis with one dead letter in it → (config path, entry id)."""
    cfg = tmp_path / "dlq.yml"
    redis_cfg = {"url": redis_server.url, "key_prefix": PREFIX}
    cfg.write_text(yaml.safe_dump({"auth": "none", "redis": redis_cfg}))
    client = sync_redis.Redis.from_url(redis_server.url, decode_responses=True)
    key = Keys(PREFIX).dead
    client.delete(key)
    fields = {"job": "{}", "error": "boom: 400 from hook", "outcome": "client_error",
              "at_ms": "1700000000000"}  # fmt: skip
    entry = client.xadd(key, fields)  # type: ignore[arg-type]
    yield str(cfg), str(entry)
    client.delete(key)
    client.close()


@pytest.mark.parametrize("where", ["before", "after"])
def test_dlq_list_takes_config_before_or_after_the_subcommand(
    dead_letter: tuple[str, str], where: str
) -> None:
    cfg, entry = dead_letter
    args = (
        ["dlq", "--config", cfg, "list"] if where == "before" else ["dlq", "list", "--config", cfg]
    )
    out = run_cli(*args)
    assert out.returncode == 0, out.stderr
    assert "1 dead letter(s)" in out.stdout
    assert entry in out.stdout and "boom: 400 from hook" in out.stdout


@pytest.mark.parametrize("where", ["before", "after"])
def test_dlq_show_takes_config_before_or_after_the_subcommand(
    dead_letter: tuple[str, str], where: str
) -> None:
    cfg, entry = dead_letter
    if where == "before":
        args = ["dlq", "--config", cfg, "show", entry]
    else:
        args = ["dlq", "show", entry, "--config", cfg]
    out = run_cli(*args)
    assert out.returncode == 0, out.stderr
    shown = json.loads(out.stdout)
    assert shown["id"] == entry and shown["outcome"] == "client_error"


@pytest.mark.parametrize("where", ["before", "after"])
def test_dlq_data_dir_before_or_after_the_subcommand(tmp_path: Path, where: str) -> None:
    """The dev config uses the embedded Redis: the socket looked for is in --data-dir."""
    data = tmp_path / "data"
    cfg = str(ROOT / "config" / "dev.yml")
    if where == "before":
        args = ["dlq", "--data-dir", str(data), "list", "--config", cfg]
    else:
        args = ["dlq", "--config", cfg, "list", "--data-dir", str(data)]
    out = run_cli(*args)
    assert out.returncode == 1
    assert f"no embedded Redis at {data}/redis.sock" in out.stderr


def test_dlq_after_the_subcommand_wins_over_before(tmp_path: Path) -> None:
    cfg = str(ROOT / "config" / "dev.yml")
    out = run_cli("dlq", "--data-dir", str(tmp_path / "a"), "list", "--config", cfg,
                  "--data-dir", str(tmp_path / "b"))  # fmt: skip
    assert out.returncode == 1
    assert f"no embedded Redis at {tmp_path / 'b'}/redis.sock" in out.stderr


def test_dlq_without_config_is_a_usage_error() -> None:
    out = run_cli("dlq", "list")
    assert out.returncode == 2
    assert "the following arguments are required: --config" in out.stderr
