"""People paged by push: from the webhook's 2xx to the ntfy publish, at 200 alerts/s.

    .venv/bin/python bench/people.py                     200 alerts/s for 10 s
    .venv/bin/python bench/people.py --rate 200 --duration 30

One receiver process (embedded Redis, workers on). Every alert is a critical whose
escalation policy pages the rotation `primary` at once; its member is a person whose only
rule is a push at 0 s through a `type: ntfy` receiver (with ack.links on, so each push
carries its signed Acknowledge action). The ntfy server is the local stand-in
(tests/servers/ntfy.py, which validates what it is sent as ntfy does), in a thread of this
process with its own event loop. Alerts go out open loop, one per body, at `--rate`; the
figure is, per alert, the time from its 2xx to its push arriving (p50 / p99 / max), against
the 1 s target, and every alert must get exactly one push (FAIL otherwise). Everything
listens on 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web
from harness import receiver_with, report

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from receiver.models import fingerprint  # noqa: E402
from receiver.signing import unb64  # noqa: E402
from tests.servers.ntfy import FakeNtfy  # noqa: E402

TARGET_P99_S = 1.0
TOPIC = "bench-oncall-alice"
SECRET = "bench-only-ack-link-secret-0123456789abcdef"
# The push's Acknowledge action carries a token whose first field is the alert fingerprint.
TOKEN = re.compile(r"/push/ack/p1\.([A-Za-z0-9_-]+)\.")


def pushed_fingerprint(body: dict[str, Any]) -> str:
    for action in body.get("actions") or []:
        found = TOKEN.search(str(action.get("url", "")))
        if found:
            return str(json.loads(unb64(found.group(1)))[0])
    return ""


class TimedNtfy(FakeNtfy):
    """The stand-in, noting when each accepted message arrived (time.monotonic())."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived: list[tuple[str, float]] = []

    async def _json(self, request: web.Request) -> web.Response:
        before = len(self.messages)
        resp = await super()._json(request)
        if len(self.messages) > before:
            fp = pushed_fingerprint(self.messages[-1].body)
            self.arrived.append((fp, time.monotonic()))
        return resp


class Sink:
    """The ntfy stand-in served from a thread of its own (its own event loop)."""

    def __init__(self) -> None:
        self.server = TimedNtfy()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> Sink:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def config_text(ntfy_url: str) -> Any:
    def text(listen: str, data: Path) -> str:
        return (
            f"listen: {listen}\ndata_dir: {data}\nauth: none\nanonymous_read: true\n"
            "log_level: warning\n"
            f"receivers:\n  ntfy: {{type: ntfy, url: '{ntfy_url}', rate: none}}\n"
            "  log: {type: log, rate: none}\n"
            "route:\n  receivers: [log]\n  escalation: page\n"
            "escalation_policies:\n  page:\n    steps: [{after: 0s, rotations: [primary]}]\n"
            "oncall:\n  rotations:\n    primary:\n      members: [alice]\n"
            "people:\n  defaults:\n    notify: [{after: 0s, via: push}]\n"
            f"  alice:\n    ntfy: {{topic: {TOPIC}}}\n"
            f"ack:\n  links: {{secret: {SECRET}, base_url: 'http://{listen}'}}\n"
        )

    return text


def body(run: str, i: int) -> dict[str, Any]:
    labels = {"alertname": "PagePeopleBench", "severity": "critical",
              "instance": f"{run}-{i:06d}"}  # fmt: skip
    alert = {"status": "firing", "labels": labels, "annotations": {"summary": "bench"},
             "startsAt": "2026-12-08T01:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
             "generatorURL": ""}  # fmt: skip
    return {"version": "4", "groupKey": f"{{}}:{{i={i}}}", "status": "firing",
            "receiver": "bench", "groupLabels": {}, "commonLabels": {},
            "commonAnnotations": {}, "externalURL": "", "truncatedAlerts": 0,
            "alerts": [alert]}  # fmt: skip


async def measure(base: str, sink: TimedNtfy, rate: float, duration: float) -> list[str]:
    run, n = f"p{int(time.time())}", int(rate * duration)
    accepted: dict[str, float] = {}
    refused = 0
    async with httpx.AsyncClient(base_url=base, timeout=30,
                                 limits=httpx.Limits(max_connections=256)) as http:  # fmt: skip

        async def post(i: int) -> None:
            nonlocal refused
            r = await http.post("/webhook", json=body(run, i))
            if r.status_code == 200:
                accepted[fingerprint(body(run, i)["alerts"][0]["labels"])] = time.monotonic()
            else:
                refused += 1

        start, tasks = time.monotonic(), []
        for i in range(n):
            await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
            tasks.append(asyncio.create_task(post(i)))
        await asyncio.gather(*tasks)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if len({i for i, _ in sink.arrived if i in accepted}) >= len(accepted):
            break
        await asyncio.sleep(0.25)
    await asyncio.sleep(1.0)  # a late duplicate would arrive by now
    ours = [(i, t) for i, t in sink.arrived if i in accepted]
    counts = Counter(i for i, _ in ours)
    missing, doubled = len(set(accepted) - set(counts)), sum(c > 1 for c in counts.values())
    lat = sorted(t - accepted[i] for i, t in ours if i in accepted)
    if not lat:
        return [f"people: {n:,} alerts at {rate:g}/s: no push arrived; FAIL"]

    def pct(q: float) -> float:
        return lat[min(len(lat) - 1, int(q * len(lat)))]

    ok = not missing and not doubled and not refused and pct(0.99) < TARGET_P99_S
    return [
        f"people: {n:,} criticals at {rate:g}/s for {duration:g} s, each paging a person "
        f"whose rule pushes at once: 2xx -> push p50 {pct(0.5) * 1000:.0f} ms, "
        f"p99 {pct(0.99) * 1000:.0f} ms, max {lat[-1] * 1000:.0f} ms "
        f"({len(ours):,} pushes; {missing} missing, {doubled} doubled, {refused} refused)",
        f"  target: p99 < {TARGET_P99_S:g} s, one push per alert: " + ("ok" if ok else "FAIL"),
    ]


def run(rate: float = 200.0, duration: float = 10.0, receiver: str | None = None) -> list[str]:
    """Starts the ntfy stand-in and a receiver, measures, stops both."""
    with Sink() as sink:
        text = config_text(sink.server.base_url)
        with receiver_with("people", receiver, text) as (base, _rx, _data):
            return asyncio.run(measure(base, sink.server, rate, duration))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rate", type=float, default=200.0, help="alerts/s")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds of load")
    ap.add_argument("--receiver", default=None, help="alert-receiver binary (default .venv)")
    args = ap.parse_args()
    if not 0 < args.rate <= 2000 or not 0 < args.duration <= 120:
        ap.error("--rate in (0, 2000], --duration in (0, 120]")
    return report(run(args.rate, args.duration, args.receiver))


if __name__ == "__main__":
    sys.exit(main())
