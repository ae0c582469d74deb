"""Escalation on time: 1,000 alerts escalating at once, every step within 1 s of its due time.

    .venv/bin/python bench/escalation.py               1,000 alerts, steps at 3 s and 6 s
    .venv/bin/python bench/escalation.py --alerts 5000

One receiver process (embedded Redis, workers on) with a policy of two steps, each to a
log receiver (`rate: none`, stdout to /dev/null). The alerts arrive in bodies of 100 as
fast as the receiver takes them; then the bench waits for every ladder to finish and reads
each alert's escalation state back (GET /api/v1/alerts/{fp}): each fired step records its
due time and when the runner fired it. The figure is the lateness (fired - due): its
median, p99 and maximum over every step, against the 1 s target. Everything listens on
127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from harness import receiver_with, report

from receiver.models import fingerprint

TARGET_S = 1.0
STEPS_S = (3, 6)
BODY = 100


def config_text(listen: str, data: Path) -> str:
    steps = ", ".join(f"{{after: {s}s, receivers: [log]}}" for s in STEPS_S)
    return (f"listen: {listen}\ndata_dir: {data}\nauth: none\nanonymous_read: true\n"
            "log_level: warning\nreceivers:\n  log: {type: log, rate: none}\n"
            "route:\n  receivers: []\n  escalation: ladder\n"
            f"escalation_policies:\n  ladder:\n    steps: [{steps}]\n")  # fmt: skip


def bodies(n: int, run: str) -> tuple[list[dict[str, Any]], list[str]]:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    out, fps = [], []
    for start in range(0, n, BODY):
        alerts = []
        for i in range(start, min(n, start + BODY)):
            labels = {"alertname": "EscalationProbe", "severity": "critical",
                      "instance": f"{run}-{i:06d}"}  # fmt: skip
            fps.append(fingerprint(labels))
            alerts.append({"status": "firing", "labels": labels, "annotations": {},
                           "startsAt": now, "endsAt": "0001-01-01T00:00:00Z",
                           "generatorURL": "", "fingerprint": fps[-1]})  # fmt: skip
        out.append({"version": "4", "groupKey": f"{{}}:{{run={run}}}", "status": "firing",
                    "receiver": "bench", "groupLabels": {}, "commonLabels": {},
                    "commonAnnotations": {}, "externalURL": "", "truncatedAlerts": 0,
                    "alerts": alerts})  # fmt: skip
    return out, fps


async def measure(base: str, n: int) -> list[str]:
    posts, fps = bodies(n, str(int(time.time())))
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        started = time.monotonic()
        for b in posts:
            r = await http.post("/webhook", json=b)
            r.raise_for_status()
        posted_s = time.monotonic() - started
        await asyncio.sleep(max(STEPS_S) + 2.0)
        late: list[float] = []
        missing = 0
        deadline = time.monotonic() + 60
        for fp in fps:
            while True:
                esc = (await http.get(f"/api/v1/alerts/{fp}")).json()["escalation"]
                if esc["ended"] == "done" or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
            missing += len(STEPS_S) - len(esc["steps"])
            late += [(s["at"] - s["due"]) / 1000 for s in esc["steps"]]
    late.sort()
    p99 = late[max(0, int(len(late) * 0.99) - 1)] if late else float("nan")
    worst = late[-1] if late else float("nan")
    ok = not missing and worst <= TARGET_S
    return [
        f"escalation: {n:,} alerts x {len(STEPS_S)} steps (posted in {posted_s:.2f} s): "
        f"lateness median {statistics.median(late) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
        f"max {worst * 1000:.0f} ms; missing steps {missing}",
        f"  target: every step within {TARGET_S:.0f} s of its due time: "
        + ("ok" if ok else "FAIL"),
    ]


def run(alerts: int = 1000, receiver: str | None = None) -> list[str]:
    """Starts a receiver, measures, stops it; returns the summary lines."""
    with receiver_with("escalation", receiver, config_text) as (base, _rx, _data):
        return asyncio.run(measure(base, alerts))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--alerts", type=int, default=1000)
    ap.add_argument("--receiver", default=None, help="alert-receiver binary (default .venv)")
    args = ap.parse_args()
    if not 0 < args.alerts <= 20_000:
        ap.error("--alerts in (0, 20000]")
    lines = run(args.alerts, args.receiver)
    return report(lines)


if __name__ == "__main__":
    sys.exit(main())
