"""Large body: one 50,000-alert webhook while a steady stream of small ones goes on.

    .venv/bin/python bench/large_body.py             (also run by `make bench`)
    .venv/bin/python bench/large_body.py --alerts 20000 --rate 100

One receiver process (embedded Redis, `auth: none`, no receivers unless `--notify log`).
Small 1-alert webhooks are posted at a steady rate (open loop: each goes at its time
whatever the others do) and `/health/ready` is polled every 50 ms; after a warm-up, one
body of `--alerts` alerts (~9.5 MB, under the 10 MiB limit) is posted. Printed: the small
webhooks' p50/p99 while the large body was being applied, the large body's own time,
`/health/ready` failures meanwhile, and the receiver's RSS before / at its peak / a few
seconds after. Bounded: about 20 s plus the large body's own time (at most --timeout).
Everything listens on 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from harness import receiver_config, receiver_with, report

from receiver.models import fingerprint

TARGET_P99_MS = 100.0
RSS_SLACK_MIB = 30.0  # after the body, RSS within baseline + this
WARMUP_S, SETTLE_S = 4.0, 5.0  # stream before the body; after it, until RSS is read


def large_body(n: int, run_id: str) -> bytes:
    """An Alertmanager v4 body of `n` distinct firing alerts, ~190 bytes each (lean
    alerts: three labels, no annotations), so 50,000 fit the default 10 MiB limit."""
    alerts = []
    for i in range(n):
        labels = {"alertname": "TargetDown", "instance": f"{run_id}-{i:06d}", "severity": "warning"}
        alerts.append(
            {
                "status": "firing",
                "labels": labels,
                "startsAt": "2026-11-22T05:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": fingerprint(labels),
            }
        )
    return envelope(alerts, '{}:{alertname="TargetDown"}')


def small_body(i: int, run_id: str) -> bytes:
    labels = {"alertname": "Probe", "instance": f"{run_id}-small-{i:06d}", "severity": "critical"}
    alert = {"status": "firing", "labels": labels, "annotations": {"summary": "probe"},
             "startsAt": "2026-11-22T05:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
             "generatorURL": "", "fingerprint": fingerprint(labels)}  # fmt: skip
    return envelope([alert], '{}:{alertname="Probe"}')


def envelope(alerts: list[dict[str, object]], group_key: str) -> bytes:
    return json.dumps(
        {"receiver": "bench", "status": "firing", "alerts": alerts, "groupLabels": {},
         "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://alertmanager:9093",
         "version": "4", "groupKey": group_key, "truncatedAlerts": 0},
        separators=(",", ":"),
    ).encode()  # fmt: skip


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


@dataclass
class Observed:
    """What the stream, the health poller and the RSS sampler saw, with timestamps."""

    small: list[tuple[float, float, int]] = field(default_factory=list)  # sent, ms, status
    ready: list[tuple[float, bool]] = field(default_factory=list)  # at, ok
    rss: list[tuple[float, float]] = field(default_factory=list)  # at, MiB


async def stream(session: aiohttp.ClientSession, url: str, rate: float, stop: asyncio.Event,
                 run_id: str, seen: Observed) -> None:  # fmt: skip
    """Posts small webhooks at `rate`/s, each on its own schedule, until `stop`."""
    pending: set[asyncio.Task[None]] = set()

    async def one(i: int) -> None:
        sent = time.monotonic()
        try:
            async with session.post(url, data=small_body(i, run_id)) as resp:
                await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError):
            status = 0
        seen.small.append((sent, (time.monotonic() - sent) * 1000, status))

    start, i = time.monotonic(), 0
    while not stop.is_set():
        task = asyncio.create_task(one(i))
        pending.add(task)
        task.add_done_callback(pending.discard)
        i += 1
        await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
    await asyncio.gather(*pending)


async def poll(session: aiohttp.ClientSession, base: str, pid: int, stop: asyncio.Event,
               seen: Observed) -> None:  # fmt: skip
    """/health/ready (on its own connection) and the receiver's RSS every 50 ms."""
    while not stop.is_set():
        at = time.monotonic()
        try:
            async with session.get(base + "/health/ready") as resp:
                ok = resp.status == 200
        except (aiohttp.ClientError, TimeoutError):
            ok = False
        seen.ready.append((at, ok))
        seen.rss.append((at, rss_mib(pid)))
        await asyncio.sleep(max(0.0, at + 0.05 - time.monotonic()))


def session(limit: int, timeout_s: float) -> aiohttp.ClientSession:
    headers = {"Content-Type": "application/json", "User-Agent": "Alertmanager/0.25.0"}
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit),
        timeout=aiohttp.ClientTimeout(total=timeout_s),
        headers=headers,
    )


async def measure(
    base: str, pid: int, alerts: int, rate: float, limit_s: float, verbose: bool
) -> list[str]:
    run_id = f"{int(time.time()) % 100_000:05d}"
    body = large_body(alerts, run_id)
    size = len(body)
    seen, stop = Observed(), asyncio.Event()
    async with session(64, 30.0) as small, session(1, 2.0) as health, session(1, limit_s) as big:
        tasks = [asyncio.create_task(stream(small, base + "/webhook", rate, stop, run_id, seen)),
                 asyncio.create_task(poll(health, base, pid, stop, seen))]  # fmt: skip
        await asyncio.sleep(WARMUP_S)
        before = rss_mib(pid)
        t0 = time.monotonic()
        async with big.post(base + "/webhook", data=body) as resp:
            status, text = resp.status, await resp.text()
        t1 = time.monotonic()
        del body
        await asyncio.sleep(SETTLE_S)
        after = rss_mib(pid)
        stop.set()
        await asyncio.gather(*tasks)
    answer: Any = json.loads(text) if status == 200 else text[:300]
    during = [ms for sent, ms, _ in seen.small if t0 <= sent <= t1]
    bad = sum(1 for sent, _, status in seen.small if t0 <= sent <= t1 and status != 200)
    not_ready = sum(1 for at, ok in seen.ready if t0 <= at <= t1 and not ok)
    polls = sum(1 for at, _ in seen.ready if t0 <= at <= t1)
    peak = max((mib for at, mib in seen.rss if at >= t0), default=after)
    p99 = pct(during, 0.99)
    ok_body = status == 200 and answer["accepted"] == answer["new"] == alerts
    verdict = {True: "ok", False: "MISS"}
    timeline = []
    for k in range(math.ceil(t1 - t0)):  # each second of the large body
        sec = [ms for sent, ms, _ in seen.small if t0 + k <= sent < min(t1, t0 + k + 1)]
        timeline.append(f"    s{k}: p50 {pct(sec, 0.5):.0f} ms, max {max(sec, default=0):.0f} ms")
    return [
        f"large body: {alerts:,} alerts, {size / 2**20:.1f} MiB: HTTP {status} "
        f"in {t1 - t0:.2f} s = {alerts / (t1 - t0):,.0f} alerts/s; answer {answer}",
        f"  other webhooks during it ({rate:.0f}/s): {len(during)} sent, p50 "
        f"{pct(during, 0.5):.1f} ms, p99 {p99:.1f} ms, max {max(during, default=0):.1f} ms, "
        f"non-200 {bad}; p99 < {TARGET_P99_MS:.0f} ms: {verdict[p99 < TARGET_P99_MS]}",
        f"  /health/ready during it: {not_ready} failures of {polls} polls: "
        f"{verdict[not_ready == 0]}",
        f"  receiver RSS: before {before:.0f} MiB, peak {peak:.0f} MiB, {SETTLE_S:.0f} s after "
        f"{after:.0f} MiB (+{after - before:.0f}); within +{RSS_SLACK_MIB:.0f} MiB: "
        f"{verdict[after - before <= RSS_SLACK_MIB]}",
        *(timeline if verbose else []),
        *([] if ok_body else ["  FAIL: the large body was not answered 200 with every alert new"]),
    ]


def run(alerts: int = 50_000, rate: float = 200.0, notify: str = "none", timeout: float = 60.0,
        receiver: str | None = None, verbose: bool = False) -> list[str]:  # fmt: skip
    """Starts a receiver, measures, stops it; returns the summary lines."""

    def text(listen: str, data: Path) -> str:
        return receiver_config(listen, data, notify == "none", "info")

    with receiver_with("large-body", receiver, text) as (base, rx, _data):
        return asyncio.run(measure(base, rx.p.pid, alerts, rate, timeout, verbose))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--alerts", type=int, default=50_000, help="alerts in the large body")
    ap.add_argument("--rate", type=float, default=200.0, help="small webhooks per second")
    ap.add_argument(
        "--notify",
        choices=["none", "log"],
        default="none",
        help="none: no receivers (intake only); log: every alert to the log notifier",
    )
    ap.add_argument("--timeout", type=float, default=60.0, help="bound on the large body (s)")
    ap.add_argument("--receiver", default=None, help="alert-receiver binary (default .venv)")
    ap.add_argument("-v", "--verbose", action="store_true", help="latency second by second")
    args = ap.parse_args()
    if not (0 < args.rate <= 2000 and 0 < args.alerts <= 100_000 and 0 < args.timeout <= 300):
        ap.error("--rate in (0, 2000], --alerts in (0, 100000], --timeout in (0, 300]")
    lines = run(args.alerts, args.rate, args.notify, args.timeout, args.receiver, args.verbose)
    return report(lines)


if __name__ == "__main__":
    sys.exit(main())
