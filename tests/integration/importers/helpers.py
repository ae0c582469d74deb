"""Running `alert-receiver import` as a user does, against a stand-in on this test's loop."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


async def run_import(*args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "receiver", "import", *args],
        capture_output=True, text=True, timeout=90, cwd=ROOT,
    )  # fmt: skip


def token_file(tmp: Path, token: str) -> str:
    f = tmp / "token"
    f.write_text(token + "\n")
    return str(f)


def summary(stdout: str) -> dict[str, tuple[int, int]]:
    """rotation → (hours compared, hours that differ), from the comparison's output."""
    out, current = {}, ""
    for line in stdout.splitlines():
        if line.endswith(":") and not line.startswith(" "):
            current = line[:-1]
        elif "hours compared" in line:
            words = line.split()
            out[current] = (int(words[0]), int(words[3]))
    return out
