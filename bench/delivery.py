"""Delivery benchmark: how fast the workers turn accepted alerts into notifications.

    .venv/bin/python bench/delivery.py                    also `bench/run.py --only delivery`
    .venv/bin/python bench/delivery.py --duration 5 --rates 50,200

Local vendors (bench/vendors.py, their own process) and one redis-server (the embedded
binary, appendonly everysec) on free 127.0.0.1 ports; receivers are `alert-receiver serve`
processes on that Redis with `rate: none` and no storm folding. Figures:

- `sustained`: one receiver, PagerDuty + Slack (bot) + webhook; a backlog of alerts is
  posted as fast as the intake takes it (100-alert bodies), and the notifications/s the
  workers deliver while the backlog drains (from the first arrival to the last).
- `email`: the same with one SMTP receiver only.
- `latency at R alerts/s`: two receivers, the same three destinations, 1-alert bodies at R
  alerts/s (open loop, alternately to each receiver) for --duration s: accepted→delivered
  p50 / p99 / max over all notifications, from the webhook's send to its arrival.

Each figure fails the run (FAIL) when a notification is missing or doubled.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import redis as sync_redis
import yaml

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT))

from run import Proc, find_receiver, free_port, running, wait_http_ok, wait_port  # noqa: E402

from receiver.models import fingerprint  # noqa: E402
from receiver.store.embedded import find_redis_server  # noqa: E402

TARGET_RATE = 1_000  # notifications/s per process (PagerDuty + Slack + webhook)
TARGET_P99_S = 1.0  # at 200 alerts/s x 3 destinations on two replicas
DESTS = ("pd", "chat", "hook")


def labels(run: str, i: int) -> dict[str, str]:
    return {"alertname": "DeliveryBench", "severity": "critical", "service": "bench",
            "instance": f"{run}-{i:07d}"}  # fmt: skip


def body(run: str, first: int, count: int) -> bytes:
    alerts = [{"status": "firing", "labels": labels(run, i), "annotations": {"summary": "b"},
               "startsAt": "2026-11-22T05:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
               "generatorURL": ""} for i in range(first, first + count)]  # fmt: skip
    return json.dumps({"receiver": "b", "status": "firing", "alerts": alerts,
                       "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
                       "externalURL": "http://am", "version": "4", "groupKey": "{}:{}",
                       "truncatedAlerts": 0}).encode()  # fmt: skip


def receivers(v: dict[str, Any], dests: tuple[str, ...]) -> dict[str, Any]:
    all_ = {
        "pd": {"type": "pagerduty", "routing_key": "R" * 32, "base_url": v["pagerduty"]},
        "chat": {"type": "slack", "token": "xoxb-test-token", "channel": "alerts",
                 "api_url": v["slack_api"]},
        "hook": {"type": "webhook", "url": v["webhook"]},
        "mail": {"type": "email", "host": "127.0.0.1", "port": v["smtp_port"], "tls": "none",
                 "from": "bench@example.com", "to": ["oncall@example.com"]},
    }  # fmt: skip
    return {d: {**all_[d], "rate": "none"} for d in dests}


@contextlib.contextmanager
def receiver_procs(
    binary: str,
    work: Path,
    redis_url: str,
    rx: dict[str, Any],
    count: int,
    label: str,
    workers: dict[str, Any] | None = None,
) -> Iterator[list[tuple[str, Proc]]]:
    """`count` serve processes on one Redis; yields their base URLs and processes."""
    with contextlib.ExitStack() as stack:
        urls: list[tuple[str, Proc]] = []
        for k in range(count):
            d = work / f"{label}-{k}"
            d.mkdir()
            cfg = d / "config.yml"
            cfg.write_text(yaml.safe_dump({
                "auth": "none", "log_level": "warning", "redis": {"url": redis_url},
                "receivers": rx, "route": {"receivers": sorted(rx)},
                "storm": {"threshold": 10_000_000}, "workers": workers or {},
            }))  # fmt: skip
            listen = f"127.0.0.1:{free_port()}"
            cmd = [binary, "serve", "--config", str(cfg), "--listen", listen,
                   "--data-dir", str(d)]  # fmt: skip
            proc = stack.enter_context(running(Proc(f"receiver-{k}", cmd, d / "log",
                                                    stdout_devnull=True)))  # fmt: skip
            wait_http_ok(f"http://{listen}/health/ready", proc)
            urls.append((f"http://{listen}", proc))
        yield urls


async def arrivals(control: str) -> list[tuple[str, str, float]]:
    async with aiohttp.ClientSession() as s, s.get(control + "/arrivals") as r:
        return [(d, i, t) for d, i, t in await r.json()]


async def wait_delivered(
    control: str, expected: set[tuple[str, str]], limit_s: float
) -> list[tuple[str, str, float]]:
    """The arrivals of the `expected` notifications, once all are in (or at the limit)."""
    deadline = time.monotonic() + limit_s
    while True:
        got = [a for a in await arrivals(control) if (a[0], a[1]) in expected]
        if len(got) >= len(expected) or time.monotonic() > deadline:
            return got
        await asyncio.sleep(0.25)


def check(got: list[tuple[str, str, float]], expected: set[tuple[str, str]]) -> str:
    counts = Counter((d, i) for d, i, _ in got)
    lost = len(expected - set(counts))
    doubled = sum(1 for k, n in counts.items() if n > 1)
    return "" if not lost and not doubled else f"FAIL: {lost} missing, {doubled} doubled"


def ids(run: str, i: int, dest: str) -> str:
    lab = labels(run, i)
    return fingerprint(lab) if dest in ("chat", "mail") else lab["instance"]


async def sustained(url: str, control: str, run: str, alerts: int, dests: tuple[str, ...],
                    label: str) -> list[str]:  # fmt: skip
    started = time.monotonic()
    async with aiohttp.ClientSession() as s:
        for first in range(0, alerts, 100):
            async with s.post(url + "/webhook", data=body(run, first, min(100, alerts - first)),
                              headers={"Content-Type": "application/json"}) as r:  # fmt: skip
                assert r.status == 200, await r.text()
    posted = time.monotonic()
    expected = {(d, ids(run, i, d)) for i in range(alerts) for d in dests}
    got = await wait_delivered(control, expected, 120)
    times = sorted(t for _, _, t in got)
    span = (times[-1] - times[0]) if len(times) > 1 else float("nan")
    rate = len(got) / span if span else float("nan")
    line = (f"{label}: {len(got):,} notifications in {span:.1f} s = {rate:,.0f}/s per process "
            f"(intake of {alerts:,} alerts took {posted - started:.1f} s meanwhile)")  # fmt: skip
    out = [line]
    if "mail" not in dests:
        out.append(f"  target >= {TARGET_RATE:,}/s: {'ok' if rate >= TARGET_RATE else 'MISS'}")
    if bad := check(got, expected):
        out.append("  " + bad)
    return out


async def latency(urls: list[str], control: str, run: str, rate: float,
                  duration: float) -> list[str]:  # fmt: skip
    n = int(rate * duration)
    sent: dict[str, float] = {}
    failed = 0
    conn = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=conn) as s:

        async def post(i: int) -> None:
            nonlocal failed
            t = time.monotonic()
            async with s.post(urls[i % len(urls)] + "/webhook", data=body(run, i, 1),
                              headers={"Content-Type": "application/json"}) as r:  # fmt: skip
                if r.status == 200:
                    sent[labels(run, i)["instance"]] = t
                else:
                    failed += 1

        start = time.monotonic()
        tasks = []
        for i in range(n):
            await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
            tasks.append(asyncio.create_task(post(i)))
        await asyncio.gather(*tasks)
    expected = {(d, ids(run, i, d)) for i in range(n) for d in DESTS}
    got = await wait_delivered(control, expected, 60)
    fp_to_inst = {fingerprint(labels(run, i)): labels(run, i)["instance"] for i in range(n)}
    lat = sorted(t - sent[fp_to_inst.get(i, i)] for d, i, t in got
                 if fp_to_inst.get(i, i) in sent)  # fmt: skip
    if not lat:
        return [f"latency at {rate:.0f} alerts/s: nothing delivered; FAIL"]

    def pct(q: float) -> float:
        return lat[min(len(lat) - 1, int(q * len(lat)))]

    line = (f"latency at {rate:.0f} alerts/s x 3 destinations, {len(urls)} replicas, "
            f"{duration:.0f} s: accepted->delivered p50 {pct(0.5) * 1000:.0f} ms, "
            f"p99 {pct(0.99) * 1000:.0f} ms, max {lat[-1] * 1000:.0f} ms "
            f"({len(got):,} notifications, {failed} webhooks refused)")  # fmt: skip
    out = [line]
    if rate == 200:
        out.append(f"  target p99 < {TARGET_P99_S:.0f} s: "
                   f"{'ok' if pct(0.99) < TARGET_P99_S else 'MISS'}")  # fmt: skip
    if bad := check(got, expected):
        out.append("  " + bad)
    return out


def run(duration: float = 10.0, rates: tuple[float, ...] = (50, 200, 500),
        receiver: str | None = None, alerts: int = 0,
        workers: dict[str, Any] | None = None) -> list[str]:  # fmt: skip
    """All delivery figures, as printable lines (a failed check has FAIL in its line)."""
    binary = receiver or find_receiver()
    if binary is None:
        raise RuntimeError("alert-receiver not installed (run ./scripts/install.sh)")
    alerts = alerts or int(max(1000, 400 * duration))
    work = Path(tempfile.mkdtemp(prefix="alert-receiver-delivery-"))
    lines: list[str] = []
    try:
        ready = work / "vendors.json"
        vendors = Proc("vendors", [sys.executable, str(BENCH / "vendors.py"), "--ready-file",
                                   str(ready)], work / "vendors.log")  # fmt: skip
        rport = free_port()
        (work / "redis").mkdir()
        redis_cmd = [find_redis_server(), "--bind", "127.0.0.1", "--port", str(rport),
                     "--dir", str(work / "redis"), "--save", "", "--appendonly", "yes",
                     "--appendfsync", "everysec"]  # fmt: skip
        with running(vendors), running(Proc("redis", redis_cmd, work / "redis.log")) as redis:
            wait_port(rport, redis)
            deadline = time.monotonic() + 20
            while not ready.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            v = json.loads(ready.read_text())
            url = f"redis://127.0.0.1:{rport}/0"
            stages: list[tuple[str, tuple[str, ...], int, Any]] = [
                ("sustained (PagerDuty + Slack + webhook)", DESTS, 1, None),
                ("email only", ("mail",), 1, None),
                *((f"latency {r:g}", DESTS, 2, r) for r in rates),
            ]
            for k, (label, dests, count, rate) in enumerate(stages):
                sync_redis.Redis(port=rport).flushall()
                print(f"bench: delivery: {label}", flush=True)
                with receiver_procs(binary, work, url, receivers(v, dests), count, f"s{k}",
                                    workers) as procs:  # fmt: skip
                    u = [base for base, _ in procs]
                    run_id = f"d{os.getpid()}x{k}"
                    if rate is None:
                        n = alerts if dests != ("mail",) else max(500, alerts // 4)
                        got = asyncio.run(sustained(u[0], v["control"], run_id, n, dests,
                                                    label))  # fmt: skip
                    else:
                        got = asyncio.run(latency(u, v["control"], run_id, rate, duration))
                for line in got:
                    print(line, flush=True)
                lines += got
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--duration", type=float,
                    default=float(os.environ.get("BENCH_DURATION", "10")))  # fmt: skip
    ap.add_argument("--rates", default="50,200,500", help="alerts/s for the latency figures")
    ap.add_argument("--alerts", type=int, default=0, help="backlog for `sustained`")
    ap.add_argument("--receiver", default=None)
    args = ap.parse_args()
    if not 0 < args.duration <= 600:
        ap.error("--duration must be in (0, 600]")
    rates = tuple(float(r) for r in args.rates.split(",") if r)
    lines = run(args.duration, rates, args.receiver, args.alerts)
    return 1 if any("FAIL" in line for line in lines) else 0


if __name__ == "__main__":
    sys.exit(main())
