"""The global options (`--config`, `--data-dir`) before or after every command that reads
them, and what `--help` tells about each command."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import ROOT, RedisServer
from tests.helpers import free_port, wait_until

COMMANDS = ["serve", "check-config", "routes", "send-test", "ack", "unack", "dlq", "oncall",
            "digest", "slo", "people", "maintenance", "import"]  # fmt: skip


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "receiver", *args], capture_output=True,
                          text=True, timeout=60, cwd=ROOT)  # fmt: skip


@pytest.fixture
def cfg(tmp_path: Path, redis_server: RedisServer) -> str:
    """A config on the session Redis (a key prefix of its own) with something for every
    command to show."""
    if redis_server.proc is None:
        redis_server.start()
    path = tmp_path / "options.yml"
    path.write_text(yaml.safe_dump({
        "auth": "none",
        "redis": {"url": redis_server.url, "key_prefix": "cliopts"},
        "receivers": {"log": {"type": "log", "rate": "none"},
                      "mail": {"type": "email", "host": "127.0.0.1", "port": 9, "tls": "none",
                               "from": "a@example.com", "to": ["b@example.com"]}},
        "route": {"receivers": ["log"]},
        "oncall": {"rotations": {"primary": {
            "members": [{"name": "alice", "email": "alice@example.com"}], "shift": "1w",
            "handoff": "Mon 09:00"}}},
        "digests": {"daily": {"receiver": "mail", "oncall": "primary", "every": "1d"}},
        "slo": {"services": {"api": {"objective": 99.9, "matchers": ['service="api"']}}},
    }))  # fmt: skip
    return str(path)


# (the command's arguments, its exit status, what its output shows)
READERS = [
    (["dlq", "list"], 0, "dead letter(s)"),
    (["oncall", "who"], 0, "alice"),
    (["oncall", "override", "list"], 0, "0 override(s)"),
    (["digest", "list"], 0, "daily  0 buffered"),
    (["slo", "report"], 0, "api"),
    (["ack", "0" * 16, "--by", "tester"], 1, "not_found"),
    (["unack", "0" * 16, "--by", "tester"], 1, "not_found"),
    (["routes", "test", "severity=critical"], 0, "destinations: log"),
    (["check-config"], 0, "config OK"),
]


@pytest.mark.parametrize("where", ["before", "after"])
@pytest.mark.parametrize(
    ("command", "code", "shown"), READERS, ids=[" ".join(c) for c, _, _ in READERS]
)
def test_config_before_or_after_every_command(
    cfg: str, command: list[str], code: int, shown: str, where: str
) -> None:
    args = ["--config", cfg, *command] if where == "before" else [*command, "--config", cfg]
    out = run_cli(*args)
    assert out.returncode == code, out.stderr
    assert shown in out.stdout


@pytest.mark.parametrize("command", [c for c, _, _ in READERS] + [["serve"]], ids=" ".join)
def test_a_command_without_config_is_a_usage_error(command: list[str]) -> None:
    out = run_cli(*command)
    assert out.returncode == 2
    assert "the following arguments are required:" in out.stderr and "--config" in out.stderr


def test_a_global_option_a_command_does_not_read_is_refused(cfg: str) -> None:
    sent = run_cli("--config", cfg, "send-test", "--url", "http://127.0.0.1:9/webhook")
    assert sent.returncode == 2 and "send-test does not read --config" in sent.stderr
    checked = run_cli("--data-dir", "/tmp", "check-config", cfg)
    assert checked.returncode == 2 and "check-config does not read --data-dir" in checked.stderr


def test_data_dir_before_serve_and_after_the_command_reaching_it(tmp_path: Path) -> None:
    """`serve` with its embedded Redis in --data-dir given before the command; the CLI
    reaches that Redis with --data-dir given after."""
    cfg = tmp_path / "embedded.yml"
    cfg.write_text(yaml.safe_dump({"auth": "none", "data_dir": str(tmp_path / "elsewhere"),
                                   "receivers": {"log": {"type": "log"}},
                                   "route": {"receivers": ["log"]}}))  # fmt: skip
    data, port = tmp_path / "data", free_port()
    with open(tmp_path / "serve.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "receiver", "--config", str(cfg), "--data-dir", str(data),
             "serve", "--listen", f"127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=log, cwd=ROOT,
        )  # fmt: skip
    try:

        def ready() -> bool:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                return httpx.get(f"http://127.0.0.1:{port}/health/ready").status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready)
        assert (data / "redis.sock").exists()
        assert not (tmp_path / "elsewhere").exists()
        listed = run_cli("dlq", "list", "--config", str(cfg), "--data-dir", str(data))
        assert listed.returncode == 0, listed.stderr
        assert listed.stdout.startswith("0 dead letter(s)")
        # Without --data-dir, the config's data_dir: no serve there.
        missing = run_cli("--config", str(cfg), "dlq", "list")
        assert missing.returncode == 1
        assert f"no embedded Redis at {tmp_path / 'elsewhere'}/redis.sock" in missing.stderr
    finally:
        proc.terminate()
        assert proc.wait(20) == 0


def command_rows(help_text: str) -> dict[str, str]:
    """The commands `--help` lists, each with the description on its line."""
    block = help_text.split("positional arguments:", 1)[1].split("options:", 1)[0]
    return {m[1]: m[2] for m in re.finditer(r"^ {4}(\S+)(?: +(\S.*))?$", block, re.M)}


def test_help_describes_every_command() -> None:
    out = run_cli("--help")
    assert out.returncode == 0
    rows = command_rows(out.stdout)
    assert sorted(rows) == sorted(COMMANDS)
    assert all(rows.values()), rows  # each with its one-line description
    # The description above the list does not name some commands as if they were all.
    description = out.stdout.split("\n\n", 2)[1]
    named = [c for c in COMMANDS if re.search(rf"(?<![\w-]){c}(?![\w-])", description)]
    assert named == [], description


@pytest.mark.parametrize("group", [["routes"], ["dlq"], ["oncall"], ["oncall", "override"],
                                   ["digest"], ["slo"], ["people"], ["maintenance"]],
                         ids=" ".join)  # fmt: skip
def test_help_of_each_group_describes_its_subcommands(group: list[str]) -> None:
    out = run_cli(*group, "--help")
    assert out.returncode == 0
    rows = command_rows(out.stdout)
    assert rows and all(rows.values()), out.stdout


def test_serve_help_says_the_data_dir_default_is_the_configs() -> None:
    out = run_cli("serve", "--help")
    assert out.returncode == 0
    text = " ".join(out.stdout.split())  # argparse wraps lines
    assert "(default ./data)" not in text
    assert "--data-dir DIR where the embedded Redis keeps its files (default: the config's " \
           "data_dir" in text  # fmt: skip
