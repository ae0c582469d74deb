"""End to end: the receiver checks each fingerprint against its labels, and the real
Alertmanager's fingerprints pass, non-ASCII label values included."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from receiver.models import fingerprint
from tests.conftest import TOKEN, Serve
from tests.e2e.alertmanager import Alertmanager, make_alert, require_alertmanager
from tests.e2e.test_intake_e2e import get_alert, write_config
from tests.helpers import free_port, wait_until

pytestmark = pytest.mark.e2e


async def test_alertmanagers_fingerprints_pass_the_check(tmp_path: Path) -> None:
    require_alertmanager()
    rx = Serve(write_config(tmp_path / "cfg.yml"), tmp_path / "data", free_port())
    rx.start()
    try:
        alerts = [
            make_alert({"alertname": "Fingerprint", "severity": "warning", "city": city,
                        "instance": f"fp-{i}:9100", "label_2": "x y\tz"})
            for i, city in enumerate(["Zürich", "東京", "Kraków 🔥", "naïve \\ \"quoted\""])
        ]  # fmt: skip
        async with Alertmanager(f"{rx.url}/webhook", TOKEN) as am:
            await am.post_alerts(alerts)
            theirs = {tuple(sorted(a["labels"].items())): a["fingerprint"]
                      for a in await am.get_alerts()}  # fmt: skip
            for a in alerts:
                fp = fingerprint(a["labels"])
                assert theirs[tuple(sorted(a["labels"].items()))] == fp
                rec: Any = await asyncio.to_thread(wait_until, lambda fp=fp: get_alert(rx.url, fp))
                assert rec["labels"] == a["labels"]
    finally:
        if rx.proc is not None:
            rx.kill()
