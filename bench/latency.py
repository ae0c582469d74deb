"""Accepted → delivered latency: alerts at a steady rate → receiver → a local Slack server.

    .venv/bin/python bench/latency.py                 100 alerts/s for BENCH_DURATION s
    .venv/bin/python bench/latency.py --rate 200

One receiver process (embedded Redis, workers on) with a Slack bot receiver pointing at
the local Slack test server (tests/servers/slack.py, which validates requests like Slack).
No rate limit applies (`rate: none`). Each alert carries a unique label; latency is the time
from sending its webhook (so it includes the intake and the 200) to the arrival of its
chat.postMessage at Slack: an upper bound on accepted → delivered.
Everything listens on 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import free_port  # noqa: E402
from tests.servers.slack import FakeSlack  # noqa: E402


def body(i: int, run: str) -> dict[str, Any]:
    labels = {"alertname": "LatencyProbe", "service": "bench", "severity": "critical",
              "instance": f"{run}-{i:07d}"}  # fmt: skip
    return {
        "receiver": "bench", "status": "firing", "version": "4",
        "groupKey": '{}:{alertname="LatencyProbe"}', "groupLabels": {}, "commonLabels": {},
        "commonAnnotations": {}, "externalURL": "http://bench", "truncatedAlerts": 0,
        "alerts": [{"status": "firing", "labels": labels, "annotations": {"summary": "probe"},
                    "startsAt": "2026-11-22T05:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": ""}],
    }  # fmt: skip


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(rate: float, duration: float) -> int:
    slack = FakeSlack()
    await slack.start()
    tmp = Path(tempfile.mkdtemp(prefix="alert-receiver-latency-"))
    port = free_port()
    cfg = tmp / "latency.yml"
    cfg.write_text(yaml.safe_dump({
        "auth": "none", "log_level": "warning",
        "receivers": {"slack": {"type": "slack", "token": "xoxb-test-token", "channel": "alerts",
                                "api_url": slack.api_url, "rate": "none"}},
        "route": {"receivers": ["slack"]},
    }))  # fmt: skip
    log = (tmp / "receiver.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        str(ROOT / ".venv" / "bin" / "alert-receiver"), "serve", "--config", str(cfg),
        "--listen", f"127.0.0.1:{port}", "--data-dir", str(tmp / "data"),
        stdout=asyncio.subprocess.DEVNULL, stderr=log,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    accepted: dict[str, float] = {}
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            for _ in range(200):
                try:
                    if (await client.get(url + "/health/ready")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.05)
            run_id, n = f"r{os.getpid()}", int(rate * duration)
            start = time.monotonic()

            async def post(i: int) -> None:
                sent = time.monotonic()
                r = await client.post(url + "/webhook", json=body(i, run_id))
                if r.status_code == 200:
                    # From the send, not the 200: the worker often delivers before the
                    # client has read the answer, so this bounds the latency from above.
                    accepted[f"{run_id}-{i:07d}"] = sent

            tasks = []
            for i in range(n):  # a steady rate, not a burst
                await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
                tasks.append(asyncio.create_task(post(i)))
            await asyncio.gather(*tasks)
            deadline = time.monotonic() + 30
            while len(slack.calls("chat.postMessage")) < len(accepted):
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.05)
    finally:
        proc.terminate()
        await proc.wait()
        await slack.stop()
        log.close()
    delivered: dict[str, float] = {}
    for req in slack.calls("chat.postMessage"):
        text = str(req.body)
        for key in (k for k in accepted if k not in delivered and k in text):
            delivered[key] = req.at
    lat = [(delivered[k] - accepted[k]) * 1000 for k in delivered]
    lost = len(accepted) - len(delivered)
    if not lat:
        print(
            f"latency: nothing delivered ({len(accepted)} accepted, "
            f"{len(slack.requests)} requests at Slack)",
            file=sys.stderr,
        )
        return 1
    p50, p99, mean = pct(lat, 0.5), pct(lat, 0.99), statistics.mean(lat)
    print(
        f"latency posted->delivered to local Slack at {rate:.0f} alerts/s for {duration:.0f}s: "
        f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(lat):.1f} ms, mean {mean:.1f} ms; "
        f"{len(delivered)}/{len(accepted)} delivered"
    )
    print(f"  target p99 < 100 ms: {'ok' if pct(lat, 0.99) < 100 else 'MISS'}; lost: {lost}")
    return 0 if lost == 0 else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rate", type=float, default=100.0, help="alerts per second (default 100)")
    ap.add_argument("--duration", type=float,
                    default=float(os.environ.get("BENCH_DURATION", "20")))  # fmt: skip
    args = ap.parse_args()
    if not 0 < args.duration <= 600 or not 0 < args.rate <= 2000:
        ap.error("--duration must be in (0, 600] s and --rate in (0, 2000]")
    return asyncio.run(run(args.rate, args.duration))


if __name__ == "__main__":
    sys.exit(main())
