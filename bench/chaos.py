"""Chaos bench: the fault run of issue #14 as it was filed, counting every arrival.

    .venv/bin/python bench/chaos.py                   also `bench/run.py --only chaos`
    .venv/bin/python bench/chaos.py --rate 100 --seconds 30   (the faults keep their shares)

Two `serve` replicas on one redis-server (appendonly, fsync every second), local PagerDuty,
Slack (bot) and SMTP servers (bench/vendors.py), every alert critical and routed to all
three with `rate: none`. The timeline at the default 60 s:

- 0 s: the load starts: `--rate` unique alerts/s, one per body, alternately to each
  replica. A sender whose replica is down or answers 503 tries the other one, for up to
  30 s (as Alertmanager retries; behind a load balancer it would reach either).
- +15 s: replica A is killed with SIGKILL, and started again at +25 s.
- +20 s: PagerDuty answers 500 to everything until +40 s, then 429 with `Retry-After: 5`
  until +45 s.
- +50 s: Redis is stopped with SIGTERM (it writes its AOF on the way out) and started
  again 0.5 s later.
- 60 s: the load stops; the bench waits (at most 180 s) until every accepted alert arrived
  at all three vendors, then 3 s more for late repeats.

Figures: per vendor, accepted alerts lost (FAIL) and delivered more than once (a second
Slack message is a FAIL: a visible double post; a PagerDuty trigger sent twice carries the
same dedup_key, an email sent twice the same Message-ID); how long after the kill the jobs
replica A left unfinished arrived (target 15 s); what PagerDuty saw during its outage and
its 429s (requests per second); how long the backlog took to drain after the load.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
from delivery import (
    ArrivalLog,
    body,
    ids,
    receiver_dir,
    receivers,
    redis_command,
    start_receiver,
    start_vendors,
    wait_delivered,
)
from harness import Proc, find_receiver, free_port, report, running, wait_port

DESTS = ("pd", "chat", "mail")
TAKEOVER_TARGET_S = 15.0
# The timeline as shares of the run (issue #14: a 60 s run).
KILL, RESTART = 15 / 60, 25 / 60
OUTAGE, THROTTLE, THROTTLE_END = 20 / 60, 40 / 60, 45 / 60
REDIS_STOP = 50 / 60
RETRY_AFTER = 5


class Cluster:
    """The processes of the run, each stoppable and startable again."""

    def __init__(self, binary: str, work: Path, rx: dict[str, Any]) -> None:
        self.binary, self.work = binary, work
        port = free_port()
        (work / "redis").mkdir()
        self.redis_cmd = redis_command(port, work / "redis")
        self.redis_port = port
        self.redis = self._start_redis()
        url = f"redis://127.0.0.1:{port}/0"
        self.dirs = [receiver_dir(work, f"chaos-{k}", url, rx) for k in "ab"]
        self.listen = [f"127.0.0.1:{free_port()}" for _ in self.dirs]
        self.procs: list[Proc] = []
        try:
            for k in range(2):
                self.procs.append(self._start(k))
        except BaseException:
            self.stop()  # what did start
            raise

    @property
    def urls(self) -> list[str]:
        return [f"http://{listen}" for listen in self.listen]

    def _start_redis(self) -> Proc:
        proc = Proc("redis", self.redis_cmd, self.work / "redis.log")
        try:
            wait_port(self.redis_port, proc)
        except BaseException:
            proc.stop()
            raise
        return proc

    def _start(self, k: int) -> Proc:
        return start_receiver(self.binary, self.dirs[k], self.listen[k], f"replica-{'ab'[k]}")

    def kill(self, k: int) -> None:
        self.procs[k].p.send_signal(signal.SIGKILL)
        self.procs[k].p.wait(timeout=10)
        self.procs[k].stop()  # closes its log

    def restart(self, k: int) -> None:
        self.procs[k] = self._start(k)

    def bounce_redis(self, down_s: float) -> None:
        self.redis.p.send_signal(signal.SIGTERM)
        self.redis.p.wait(timeout=30)
        self.redis.stop()
        time.sleep(down_s)
        self.redis = self._start_redis()

    def stop(self) -> None:
        for proc in [*self.procs, self.redis]:
            proc.stop()


class Load:
    """Unique alerts at `rate`/s; each body retried on the other replica until accepted."""

    def __init__(self, urls: list[str], run: str, rate: float, seconds: float) -> None:
        self.urls, self.run, self.rate, self.seconds = urls, run, rate, seconds
        self.accepted: dict[int, tuple[float, int]] = {}  # alert → (accepted at, replica)
        self.gave_up = 0
        self.retries = 0

    async def go(self, t0: float) -> None:
        timeout = aiohttp.ClientTimeout(total=5)
        conn = aiohttp.TCPConnector(limit=512)
        async with aiohttp.ClientSession(connector=conn, timeout=timeout) as s:
            tasks = []
            for i in range(int(self.rate * self.seconds)):
                await asyncio.sleep(max(0.0, t0 + i / self.rate - time.monotonic()))
                tasks.append(asyncio.create_task(self._post(s, i)))
            await asyncio.gather(*tasks)

    async def _post(self, s: aiohttp.ClientSession, i: int) -> None:
        data = body(self.run, i, 1)
        deadline = time.monotonic() + 30
        k = i % 2
        while time.monotonic() < deadline:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with s.post(self.urls[k] + "/webhook", data=data,
                                  headers={"Content-Type": "application/json"}) as r:  # fmt: skip
                    await r.read()
                    if r.status == 200:
                        self.accepted[i] = (time.monotonic(), k)
                        return
            self.retries += 1
            k = 1 - k
            await asyncio.sleep(0.1)
        self.gave_up += 1


async def faults(cluster: Cluster, control: str, seconds: float, t0: float,
                 events: dict[str, float]) -> None:  # fmt: skip
    """The timeline's faults, each at its time from `t0`; `events` gets when each happened."""

    async def at(share: float) -> None:
        await asyncio.sleep(max(0.0, t0 + share * seconds - time.monotonic()))

    async def pd_fault(status: int, span: float, retry_after: int | None) -> None:
        async with aiohttp.ClientSession() as s:
            doc = {"status": status, "seconds": span, "retry_after": retry_after}
            async with s.post(control + "/fault/pd", json=doc) as r:
                assert r.status == 200

    await at(KILL)
    events["kill"] = time.monotonic()
    await asyncio.to_thread(cluster.kill, 0)
    await at(OUTAGE)
    events["outage"] = time.monotonic()
    await pd_fault(500, (THROTTLE - OUTAGE) * seconds, None)
    await at(RESTART)
    await asyncio.to_thread(cluster.restart, 0)
    events["restarted"] = time.monotonic()
    await at(THROTTLE)
    events["throttle"] = time.monotonic()
    await pd_fault(429, (THROTTLE_END - THROTTLE) * seconds, RETRY_AFTER)
    await at(REDIS_STOP)
    events["redis"] = time.monotonic()
    await asyncio.to_thread(cluster.bounce_redis, 0.5)


async def wait_all(
    log: ArrivalLog, expected: set[tuple[str, str]], limit_s: float
) -> Counter[tuple[str, str]]:
    """Arrivals per (vendor, alert id) of this run, once every expected one is in (or at
    the limit), plus 3 s for late repeats."""
    start = len(log.all)
    await wait_delivered(log, expected, limit_s)
    await asyncio.sleep(3.0)
    return Counter((d, i) for d, i, _ in (await log.fetch())[start:] if (d, i) in expected)


def per_second(times: list[float], start: float, end: float) -> list[int]:
    buckets = [0] * max(1, int(end - start + 0.999))
    for t in times:
        if start <= t < end:
            buckets[min(len(buckets) - 1, int(t - start))] += 1
    return buckets


def delivered(counts: Counter[tuple[str, str]], accepted: int) -> tuple[list[str], list[str]]:
    """Lines per vendor (delivered, lost, twice) and the failures among them."""
    out, bad = [], []
    for d, what in (("pd", "PagerDuty triggers"), ("chat", "Slack messages"),
                    ("mail", "emails")):  # fmt: skip
        mine = {k: n for k, n in counts.items() if k[0] == d}
        lost = accepted - len(mine)
        doubled = sum(1 for n in mine.values() if n > 1)
        out.append(f"  {what}: {len(mine):,} alerts delivered, {lost} lost, {doubled} twice")
        if lost:
            bad.append(f"{lost} alerts never reached {d}")
        if doubled and d == "chat":
            bad.append(f"{doubled} alerts posted twice to Slack")
    return out, bad


def takeover(load: Load, arrivals: list[tuple[str, str, float]], kill: float) -> str:
    """Replica A's unfinished work at the kill: its alerts accepted in the 2 s before it
    that arrived (Slack, email) only after it. PagerDuty is left out: its outage starts 5 s
    later and holds them anyway."""
    recent = {i for i, (t, k) in load.accepted.items() if k == 0 and kill - 2 <= t < kill}
    mine = {ids(load.run, i, d) for i in recent for d in ("chat", "mail")}
    late = [t - kill for d, i, t in arrivals if d in ("chat", "mail") and i in mine and t > kill]
    took = max(late, default=0.0)
    verdict = "ok" if took <= TAKEOVER_TARGET_S else "MISS"
    return (f"  takeover: {len(late)} of replica A's sends unfinished at the kill arrived "
            f"within {took:.1f} s of it (target {TAKEOVER_TARGET_S:g} s: {verdict})")  # fmt: skip


def pagerduty(reqs: list[tuple[float, int]], events: dict[str, float], seconds: float) -> str:
    """What PagerDuty saw during its 500s (in all) and its 429s (per second)."""
    outage_end = events["outage"] + (THROTTLE - OUTAGE) * seconds
    during_500 = [t for t, _ in reqs if events["outage"] <= t < outage_end]
    throttle_end = events["throttle"] + (THROTTLE_END - THROTTLE) * seconds
    during_429 = per_second([t for t, _ in reqs], events["throttle"], throttle_end)
    span = outage_end - events["outage"]
    return (f"  PagerDuty: {len(during_500)} requests during its {span:.0f} s of 500s; during "
            f"the 429s (Retry-After {RETRY_AFTER}) per second: "
            f"{', '.join(map(str, during_429))}")  # fmt: skip


def latency(load: Load, arrivals: list[tuple[str, str, float]]) -> list[str]:
    """Accepted→delivered per vendor (PagerDuty's includes its outage)."""
    index = {ids(load.run, i, d): i for i in load.accepted for d in DESTS}
    first: dict[tuple[str, str], float] = {}
    for d, i, t in arrivals:
        first.setdefault((d, i), t)
    out = []
    for dest in DESTS:
        lat = sorted(t - load.accepted[index[i]][0] for (d, i), t in first.items() if d == dest)
        if not lat:
            continue
        p50, p99 = lat[len(lat) // 2], lat[min(len(lat) - 1, int(0.99 * len(lat)))]
        out.append(f"  accepted->delivered {dest}: p50 {p50:.2f} s, p99 {p99:.2f} s, "
                   f"max {lat[-1]:.1f} s")  # fmt: skip
    # Slack's median by when the alert was accepted, 5 s at a time: which fault cost what.
    t0 = min(t for t, _ in load.accepted.values())
    buckets: dict[int, list[float]] = {}
    for (d, i), t in first.items():
        if d == "chat":
            accepted = load.accepted[index[i]][0]
            buckets.setdefault(int((accepted - t0) // 5), []).append(t - accepted)
    medians = [sorted(v)[len(v) // 2] for _, v in sorted(buckets.items())]
    out.append("  Slack p50 per 5 s of the run: " + " ".join(f"{m:.2f}" for m in medians))
    return out


def anomalies(load: Load, arrivals: list[tuple[str, str, float]], t0: float) -> list[str]:
    """Each alert lost, and each that arrived twice: when it was accepted and arrived (s
    from the start)."""
    index = {ids(load.run, i, d): i for i in load.accepted for d in DESTS}
    times: dict[tuple[str, str], list[float]] = {}
    for d, i, t in arrivals:
        times.setdefault((d, i), []).append(t - t0)
    lost = [
        f"    lost: {d} {ids(load.run, i, d)} (alert {i}) accepted at "
        f"{load.accepted[i][0] - t0:.2f} s by {'ab'[load.accepted[i][1]]}"
        for i in load.accepted
        for d in DESTS
        if (d, ids(load.run, i, d)) not in times
    ]
    return lost + [f"    twice: {d} {i} accepted at {load.accepted[index[i]][0] - t0:.2f} s by "
            f"{'ab'[load.accepted[index[i]][1]]}, arrived at "
            f"{', '.join(f'{t:.2f}' for t in ts)} s"
            for (d, i), ts in times.items() if len(ts) > 1]  # fmt: skip


async def measure(cluster: Cluster, v: dict[str, Any], rate: float, seconds: float) -> list[str]:
    log = ArrivalLog(v["control"])
    await log.fetch()
    run = f"c{os.getpid()}"
    load = Load(cluster.urls, run, rate, seconds)
    events: dict[str, float] = {}
    t0 = time.monotonic() + 0.5
    await asyncio.gather(load.go(t0), faults(cluster, v["control"], seconds, t0, events))
    stopped = time.monotonic()
    expected = {(d, ids(run, i, d)) for i in load.accepted for d in DESTS}
    counts = await wait_all(log, expected, 180)
    arrivals = [(d, i, t) for d, i, t in log.all if (d, i) in expected]
    async with aiohttp.ClientSession() as s, s.get(v["control"] + "/requests/pd") as r:
        pd_reqs = [(float(t), int(st)) for t, st in await r.json()]
    lines, bad = delivered(counts, len(load.accepted))
    last = max((t for _, _, t in arrivals), default=stopped)
    out = [
        f"chaos: {len(load.accepted):,} alerts accepted of {int(rate * seconds):,} sent "
        f"({rate:g}/s for {seconds:g} s, {load.retries:,} retries on the other replica, "
        f"{load.gave_up} given up) x {len(DESTS)} destinations",
        *lines,
        takeover(load, arrivals, events["kill"]),
        pagerduty(pd_reqs, events, seconds),
        *latency(load, arrivals),
        f"  backlog drained {max(0.0, last - stopped):.1f} s after the load stopped",
    ]
    out += anomalies(load, arrivals, t0)
    out.append("    faults at (s from the start): " + ", ".join(
        f"{k} {t - t0:.2f}" for k, t in sorted(events.items(), key=lambda e: e[1])))  # fmt: skip
    if bad:
        out.append("  FAIL: " + "; ".join(bad))
    return out


def run(rate: float = 200.0, seconds: float = 60.0, receiver: str | None = None) -> list[str]:
    """The chaos figures, as printable lines (FAIL in a line when an alert was lost or
    posted to Slack twice)."""
    binary = receiver or find_receiver()
    if binary is None:
        raise RuntimeError("alert-receiver not installed (run ./scripts/install.sh)")
    work = Path(tempfile.mkdtemp(prefix="alert-receiver-chaos-"))
    try:
        vendors, v = start_vendors(work)
        with running(vendors):
            cluster = Cluster(binary, work, receivers(v, DESTS))
            try:
                return asyncio.run(measure(cluster, v, rate, seconds))
            finally:
                cluster.stop()
    finally:
        if os.environ.get("CHAOS_KEEP"):
            print(f"chaos: kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rate", type=float, default=200.0, help="alerts/s")
    ap.add_argument("--seconds", type=float, default=60.0, help="length of the load")
    ap.add_argument("--receiver", default=None)
    args = ap.parse_args()
    if not 0 < args.rate <= 2000 or not 10 <= args.seconds <= 600:
        ap.error("--rate must be in (0, 2000], --seconds in [10, 600]")
    lines = run(args.rate, args.seconds, args.receiver)
    return report(lines)


if __name__ == "__main__":
    sys.exit(main())
