"""`console` in the config: check-config refuses what the console could not run with."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from receiver.config.loader import ConfigError
from receiver.server.check import load_settings
from tests.conftest import ROOT
from tests.integration.web.console import SECRET

BASE = "auth: none\n"


def check(tmp_path: Path, console: str) -> subprocess.CompletedProcess[str]:
    cfg = tmp_path / "c.yml"
    cfg.write_text(BASE + "console:\n" + console)
    return subprocess.run([sys.executable, "-m", "receiver", "check-config", str(cfg)],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)  # fmt: skip


def test_enabled_without_a_secret_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    out = check(tmp_path, "  enabled: true\n")
    assert out.returncode == 2
    assert f"{tmp_path / 'c.yml'}:2: console: console needs session_secret" in out.stderr


@pytest.mark.parametrize(("console", "message"), [
    ("  session_secret: short\n", "session_secret must be at least 32 characters"),
    (f"  session_secret: {SECRET}\n  session_ttl: 1m\n", "session_ttl must be between 5m"),
    (f"  session_secret: {SECRET}\n  session_secret_file: /x\n",
     "give either session_secret or session_secret_file, not both"),
    ("  session_secret_file: /nonexistent/secret\n", "cannot read secret file"),
    (f"  session_secret: {SECRET}\n  trusted_proxy: {{header: X-User, from: [nonsense]}}\n",
     "trusted_proxy.from.0"),
    (f"  session_secret: {SECRET}\n  trusted_proxy: {{header: 'a b', from: [10.0.0.0/8]}}\n",
     "header must be an HTTP header name"),
    (f"  session_secret: {SECRET}\n  colour: red\n", "console.colour: unknown key"),
])  # fmt: skip
def test_bad_console_values_are_refused(tmp_path: Path, console: str, message: str) -> None:
    out = check(tmp_path, console)
    assert out.returncode == 2 and message in out.stderr, out.stderr


def test_the_console_is_off_without_a_secret_and_on_with_one(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yml"
    cfg.write_text(BASE)
    assert not load_settings(cfg).console.on
    secret = tmp_path / "secret"
    secret.write_text(SECRET + "\n")
    cfg.write_text(BASE + f"console:\n  session_secret_file: {secret}\n")
    settings = load_settings(cfg)
    assert settings.console.on and settings.console.secret() == SECRET
    secret.write_text("too-short\n")
    with pytest.raises(ConfigError, match="must be at least 32 characters"):
        load_settings(cfg)
    # Offline checks (--no-secrets) do not read the file.
    assert load_settings(cfg, secrets=False).console.on
    cfg.write_text(BASE + f"console:\n  enabled: false\n  session_secret_file: {secret}\n")
    assert not load_settings(cfg).console.on
