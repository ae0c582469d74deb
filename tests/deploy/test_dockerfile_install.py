"""The Dockerfile's install steps, run for real (no Docker engine here): the runtime lock
installs hash-checked into a fresh venv, the package goes in without resolving anything,
and the installed command works. A lock that lacks a runtime dependency fails here."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def dockerfile_pip_steps() -> tuple[list[str], list[list[str]]]:
    """What the Dockerfile COPYs into /src, and each `pip install …` of its RUN lines."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    copied = []
    for m in re.finditer(r"^COPY (.+) /src/?(\S*)$", text, re.M):
        copied += m.group(1).split()
    steps = []
    for run in re.findall(r"^RUN (.+)$", text, re.M):
        for cmd in run.split("&&"):
            words = shlex.split(cmd)
            if words[:2] == ["pip", "install"]:
                steps.append(words)
    return copied, steps


# ~40 s with a warm pip cache; each pip step may take its own 600 s bound (a cold cache).
@pytest.mark.timeout(1800)
def test_the_dockerfile_installs_the_locked_runtime_and_the_service_runs(tmp_path: Path) -> None:
    copied, steps = dockerfile_pip_steps()
    assert "requirements.lock" in copied and steps, "the Dockerfile must install the lock"
    assert any("--require-hashes" in s for s in steps)
    src = tmp_path / "src"
    src.mkdir()
    for name in copied:
        target = src / name
        if (ROOT / name).is_dir():
            subprocess.run(["cp", "-r", str(ROOT / name), str(target)], check=True)
        else:
            target.write_bytes((ROOT / name).read_bytes())
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    for words in steps:
        args = [a.replace("/src", str(src)) for a in words[2:]]
        res = subprocess.run(
            [str(venv / "bin/python"), "-m", "pip", "install", "-q", *args],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert res.returncode == 0, res.stderr[-3000:]
    exe = venv / "bin/alert-receiver"
    res = subprocess.run(
        [str(exe), "check-config", "--no-secrets", str(ROOT / "config/example.yml")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    broken = subprocess.run([str(venv / "bin/python"), "-m", "pip", "check"],
                            capture_output=True, text=True)  # fmt: skip
    assert broken.returncode == 0, broken.stdout
