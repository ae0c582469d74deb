"""Bounded reads: alert lists over 100,000 stored alerts, alone and under webhook load.

    .venv/bin/python bench/reads.py                  (also run by `make bench`)
    .venv/bin/python bench/reads.py --alerts 20000 --duration 5

One receiver process (embedded Redis, no receivers, reads open). First 100,000 alerts
are stored through the webhook (500-alert bodies, 4 in flight). Then:

(a) `GET /api/v1/alerts?team=nobody` one after another: a label filter that matches
    nothing, the worst case (the whole scan budget is spent on every request); p50/p99
    against the 50 ms target. For comparison, a filter the indexes answer
    (`status=resolved&severity=info&limit=100`).
(b) 1-alert webhooks at a steady rate (open loop) for --duration s alone, then again while
    wrk keeps 32 connections busy with the filtered list; the webhooks' p50/p99 against
    the 50 ms target, and what the lists got meanwhile.

After the fill the embedded Redis rewrites its append-only file (one is due at that
size anyway) and the bench waits for it, so that the fork does not land in a measurement.

Bounded: the fill (~10-30 s) and the rewrite, 2 x --duration, a few seconds of (a).
Everything listens on 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import httpx
import redis.asyncio as aioredis
from harness import (
    bench_receiver,
    children,
    cpu_seconds,
    find_receiver,
    parse_wrk,
    receiver_config,
    report,
)
from redis.exceptions import ResponseError

from receiver.models import fingerprint

TARGET_MS = 50.0
LIST_CONNECTIONS = 32
FILL_BODY, FILL_IN_FLIGHT = 500, 4
SEQUENTIAL_LISTS = 60
NOTHING = "/api/v1/alerts?team=nobody"
INDEXED = "/api/v1/alerts?status=resolved&severity=info&limit=100"
HEADERS = {"Content-Type": "application/json", "User-Agent": "Alertmanager/0.25.0"}
SEVERITIES = ("critical", "warning", "warning", "info")


def envelope(alerts: list[dict[str, object]]) -> bytes:
    return json.dumps(
        {"receiver": "bench", "status": "firing", "alerts": alerts, "groupLabels": {},
         "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://alertmanager:9093",
         "version": "4", "groupKey": '{}:{alertname="Bench"}', "truncatedAlerts": 0},
        separators=(",", ":"),
    ).encode()  # fmt: skip


def bench_alert(i: int, run_id: str, prefix: str = "") -> dict[str, object]:
    """A realistic alert: six labels, two annotations; one in ten resolved."""
    labels = {"alertname": f"Alert{i % 40}", "instance": f"{prefix}{run_id}-{i:07d}:9100",
              "job": f"job{i % 7}", "service": f"svc{i % 25}", "team": f"team{i % 9}",
              "severity": SEVERITIES[i % len(SEVERITIES)]}  # fmt: skip
    resolved = i % 10 == 0 and not prefix
    return {"status": "resolved" if resolved else "firing", "labels": labels,
            "annotations": {"summary": f"{labels['alertname']} on {labels['instance']}",
                            "description": "something is wrong"},
            "startsAt": "2026-11-22T05:00:00Z",
            "endsAt": "2026-11-22T06:00:00Z" if resolved else "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph",
            "fingerprint": fingerprint(labels)}  # fmt: skip


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISS"


async def fill(base: str, n: int, run_id: str) -> float:
    """Stores `n` alerts through the webhook; returns the seconds it took."""
    bodies = (envelope([bench_alert(i, run_id) for i in range(s, min(n, s + FILL_BODY))])
              for s in range(0, n, FILL_BODY))  # fmt: skip
    t0 = time.monotonic()
    async with httpx.AsyncClient(timeout=120.0, headers=HEADERS) as client:

        async def worker() -> None:
            for body in bodies:  # shared generator: each body posted once
                resp = await client.post(base + "/webhook", content=body)
                if resp.status_code != 200:
                    raise RuntimeError(f"fill: HTTP {resp.status_code} {resp.text[:200]}")

        await asyncio.gather(*(worker() for _ in range(FILL_IN_FLIGHT)))
    return time.monotonic() - t0


async def settle(data: Path, limit_s: float = 90.0) -> float:
    """Rewrites the embedded Redis's append-only file now and waits for it: after the fill
    one is due, and a rewrite (a fork writing ~100 MB on a 2-core box) during the
    measurement would be measured instead of the lists. Returns the seconds it took."""
    client = aioredis.Redis(unix_socket_path=str(data / "redis.sock"), decode_responses=True)
    t0 = time.monotonic()
    try:
        with contextlib.suppress(ResponseError):  # one already running: wait for it
            await client.bgrewriteaof()
        while time.monotonic() - t0 < limit_s:
            info = await client.info("persistence")
            if not (info["aof_rewrite_in_progress"] or info["aof_rewrite_scheduled"]):
                break
            await asyncio.sleep(0.2)
    finally:
        await client.aclose()
    return time.monotonic() - t0


async def sequential(base: str, path: str, n: int) -> tuple[list[float], dict[str, object]]:
    """`n` GETs one after another: latencies (ms) and the last answer's bookkeeping."""
    times: list[float] = []
    last: dict[str, object] = {}
    async with httpx.AsyncClient(timeout=30.0) as client:
        for _ in range(n):
            t0 = time.monotonic()
            resp = await client.get(base + path)
            times.append((time.monotonic() - t0) * 1000)
            if resp.status_code != 200:
                raise RuntimeError(f"{path}: HTTP {resp.status_code} {resp.text[:200]}")
            page = resp.json()
            last = {k: page.get(k) for k in ("count", "scanned", "complete")}
    return times, last


async def stream(base: str, rate: float, seconds: float, run_id: str) -> tuple[list[float], int]:
    """1-alert webhooks at `rate`/s for `seconds`, each on its own schedule (open loop):
    latencies (ms) of the 200s, and the number of other answers. aiohttp, not httpx: at
    this rate httpx's own overhead on a 2-core box showed up as 100+ ms of "latency"."""
    times: list[float] = []
    bad = 0
    connector = aiohttp.TCPConnector(limit=64)
    timeout = aiohttp.ClientTimeout(total=30.0)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout,
                                     headers=HEADERS) as session:  # fmt: skip

        async def one(i: int) -> None:
            nonlocal bad
            body = envelope([bench_alert(i, run_id, prefix="live-")])
            sent = time.monotonic()
            try:
                async with session.post(base + "/webhook", data=body) as resp:
                    await resp.read()
                    ok = resp.status == 200
            except (aiohttp.ClientError, TimeoutError):
                ok = False
            if ok:
                times.append((time.monotonic() - sent) * 1000)
            else:
                bad += 1

        # Open the connections first, as a running Alertmanager has them: a connect under
        # load can meet a full accept queue and a 1 s SYN retry, which is not our latency.
        async def touch() -> None:
            async with session.get(base + "/health/live") as resp:
                await resp.read()

        await asyncio.gather(*(touch() for _ in range(32)))
        tasks, start = [], time.monotonic()
        for i in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
    return times, bad


def wrk_lists(base: str, seconds: float) -> subprocess.Popen[str]:
    cmd = ["wrk", "-t2", f"-c{LIST_CONNECTIONS}", f"-d{max(1, round(seconds))}s", "--latency",
           "--timeout", "10s", base + NOTHING]  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def cpu_ms(pids: dict[str, int], before: dict[str, float], n: int) -> str:
    """CPU per request since `before`, per process: a figure the machine's load moves
    less than the latency does."""
    return ", ".join(f"{k} {(cpu_seconds(p) - before[k]) * 1000 / n:.1f}" for k, p in pids.items())


async def measure(
    base: str, pid: int, data: Path, alerts: int, rate: float, seconds: float
) -> list[str]:
    run_id = f"{int(time.time()) % 100_000:05d}"
    took = await fill(base, alerts, run_id)
    lines = [f"reads: {alerts:,} alerts stored in {took:.1f} s ({alerts / took:,.0f} alerts/s), "
             f"then an AOF rewrite ({await settle(data):.1f} s)"]  # fmt: skip
    pids = {"receiver": pid, "redis": next(iter(children(pid)), 0)}
    await sequential(base, NOTHING, 5)  # warm-up
    before = {k: cpu_seconds(p) for k, p in pids.items()}
    nothing, page = await sequential(base, NOTHING, SEQUENTIAL_LISTS)
    nothing_cpu = cpu_ms(pids, before, SEQUENTIAL_LISTS)
    before = {k: cpu_seconds(p) for k, p in pids.items()}
    indexed, _ = await sequential(base, INDEXED, SEQUENTIAL_LISTS)
    indexed_cpu = cpu_ms(pids, before, SEQUENTIAL_LISTS)
    lines += [
        f"list matching nothing (label filter), one at a time: p50 {pct(nothing, 0.5):.1f} ms, "
        f"p99 {pct(nothing, 0.99):.1f} ms over {len(nothing)} requests ({page}); "
        f"p99 < {TARGET_MS:.0f} ms: {verdict(pct(nothing, 0.99) < TARGET_MS)}",
        f"  CPU ms per request: {nothing_cpu}",
        f"list from the indexes (status+severity, limit 100): p50 {pct(indexed, 0.5):.1f} ms, "
        f"p99 {pct(indexed, 0.99):.1f} ms; CPU ms per request: {indexed_cpu}",
    ]
    alone, bad_alone = await stream(base, rate, seconds, run_id + "a")
    wrk = wrk_lists(base, seconds)
    try:
        loaded, bad_loaded = await stream(base, rate, seconds, run_id + "b")
        out, _ = wrk.communicate(timeout=seconds + 60)
    finally:
        if wrk.poll() is None:
            wrk.kill()
            wrk.wait(10)
    lists = parse_wrk("lists", base + NOTHING, out)
    p99 = pct(loaded, 0.99)
    lines += [
        f"webhooks at {rate:.0f}/s alone: p50 {pct(alone, 0.5):.1f} ms, p99 "
        f"{pct(alone, 0.99):.1f} ms, non-200 {bad_alone}",
        f"webhooks at {rate:.0f}/s with {LIST_CONNECTIONS} concurrent lists: p50 "
        f"{pct(loaded, 0.5):.1f} ms, p99 {p99:.1f} ms, non-200 {bad_loaded}; "
        f"p99 < {TARGET_MS:.0f} ms: {verdict(p99 < TARGET_MS and not bad_loaded)}",
        f"  the lists meanwhile: {lists.rps:,.0f} req/s, p50 {lists.p50_ms:.0f} ms, p99 "
        f"{lists.p99_ms:.0f} ms, non-2xx {lists.non_2xx}, socket errors {lists.errors}",
    ]
    if bad_alone or bad_loaded:
        lines.append("  FAIL: webhooks answered other than 200")
    return lines


def write_config(binary: str, workdir: Path, listen: str, data: Path) -> Path:
    """The bench config, with anonymous reads where the receiver has that switch."""
    cfg = workdir / "reads.yml"
    base = receiver_config(listen, data, True, "warning")
    for text in (base + "anonymous_read: true\n", base):
        cfg.write_text(text)
        check = subprocess.run([binary, "check-config", str(cfg)], capture_output=True,
                               text=True, timeout=60, check=False)  # fmt: skip
        if check.returncode == 0:
            return cfg
    raise RuntimeError(f"check-config rejected the reads config:\n{check.stdout}{check.stderr}")


def run(alerts: int = 100_000, rate: float = 200.0, duration: float = 10.0,
        receiver: str | None = None) -> list[str]:  # fmt: skip
    """Starts a receiver, measures, stops it; returns the summary lines."""
    binary = receiver or find_receiver()
    if binary is None:
        raise RuntimeError("alert-receiver not installed (run ./scripts/install.sh)")
    if not shutil.which("wrk"):
        raise RuntimeError("wrk not found (Debian: apt-get install wrk)")

    def config(workdir: Path, listen: str, data: Path) -> Path:
        return write_config(binary, workdir, listen, data)

    with bench_receiver("reads", binary, config) as (base, rx, data):
        return asyncio.run(measure(base, rx.p.pid, data, alerts, rate, duration))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--alerts", type=int, default=100_000, help="alerts stored first")
    ap.add_argument("--rate", type=float, default=200.0, help="webhooks per second")
    ap.add_argument("--duration", type=float, default=10.0,
                    help="seconds of webhooks alone, then with the lists")  # fmt: skip
    ap.add_argument("--receiver", default=None, help="alert-receiver binary (default .venv)")
    args = ap.parse_args()
    if not (0 < args.rate <= 2000 and 0 < args.alerts <= 500_000 and 0 < args.duration <= 60):
        ap.error("--rate in (0, 2000], --alerts in (0, 500000], --duration in (0, 60]")
    lines = run(args.alerts, args.rate, args.duration, args.receiver)
    return report(lines)


if __name__ == "__main__":
    sys.exit(main())
