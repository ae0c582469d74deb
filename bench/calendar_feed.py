"""Calendar feeds under load do not stall the service: /health/live p99 under 20 ms.

    .venv/bin/python bench/calendar_feed.py                      10 s per phase
    .venv/bin/python bench/calendar_feed.py --duration 20 --overrides 200 --clients 5

One receiver process (embedded Redis, no destinations) with a daily rotation and 200
overrides spread over the next year (added through the API). While rounds of `--clients`
concurrent `GET /api/v1/oncall/primary.ics?weeks=52` follow each other (50 ms apart), a
probe (a process of its own) requests `GET /health/live` every 10 ms over its own
connection; the figure is the probe's round trip, p50 / p99 / max, against 20 ms at p99.
Three phases of `--duration` each: no feed requests (the probe alone), feed requests
(after the first, each one served from the feed cache), and feed requests while an
override is removed or added every 0.5 s (so each change makes the feed render again).
The feed's own round trip is printed beside.
Everything listens on 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import re
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from harness import receiver_with, report

TARGET_MS = 20.0
READ = "bench-calendar-read-token-0123456789"
ONCALL = "bench-calendar-oncall-token-0123456789"
MEMBERS = ("alice", "bob", "carol", "dave")
FEED = "/api/v1/oncall/primary.ics?weeks=52"


def config_text(listen: str, data: Path) -> str:
    members = "".join(f"        - {{name: {m}, email: {m}@example.com}}\n" for m in MEMBERS)
    return (
        f"listen: {listen}\ndata_dir: {data}\nauth: none\nlog_level: warning\n"
        "receivers: {}\nroute:\n  receivers: []\n"
        f"api_tokens:\n  - {{name: calendar, token: {READ}, scopes: [read]}}\n"
        f"  - {{name: bench, token: {ONCALL}, scopes: [oncall]}}\n"
        "oncall:\n  rotations:\n    primary:\n      members:\n"
        + members
        + '      shift: 1d\n      handoff: "09:00"\n      timezone: Europe/Berlin\n'
    )


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(len(s) * p + 0.5) - 1))] if s else float("nan")


def override(rng: random.Random, now: datetime) -> dict[str, str]:
    start = now + timedelta(minutes=rng.randrange(5, 360 * 24 * 60))
    until = start + timedelta(minutes=rng.randrange(60, 3 * 24 * 60))
    return {
        "who": rng.choice(MEMBERS),
        "from": start.isoformat(),
        "until": until.isoformat(),
        "reason": f"bench swap {rng.randrange(10**6)}, covering; as agreed",
    }


def probe(base: str, seconds: float) -> list[float]:
    """/health/live round trips (ms), one every 10 ms, for `seconds`. Run in a process of
    its own (`--probe`), so the feed clients' work does not delay it here."""
    out: list[float] = []
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=base, timeout=30) as http:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            r = http.get("/health/live")
            out.append((time.perf_counter() - started) * 1000)
            if r.status_code != 200:
                raise RuntimeError(f"/health/live -> {r.status_code}")
            time.sleep(0.01)
    return out


async def probing(base: str, seconds: float) -> list[float]:
    """probe() in a child process."""
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--probe", base, "--duration", str(seconds),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await child.communicate()
    if child.returncode != 0:
        raise RuntimeError(f"the probe failed ({child.returncode})")
    return [float(x) for x in json.loads(out)]


class FeedConnection:
    """One keep-alive HTTP/1.1 connection asking for the feed: a few lines of asyncio, not
    an HTTP client library, so that reading 125 KiB answers costs the bench next to no
    CPU (httpx took more of the 2 cores than the receiver)."""

    def __init__(self, base: str) -> None:
        self.host, _, port = base.removeprefix("http://").partition(":")
        self.port = int(port)
        self.request = (f"GET {FEED} HTTP/1.1\r\nHost: {self.host}\r\n"
                        f"Authorization: Bearer {READ}\r\n\r\n").encode()  # fmt: skip
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def get(self) -> float:
        """One feed request's round trip (ms)."""
        if self.streams is None:
            self.streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.streams
        started = time.perf_counter()
        writer.write(self.request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(re.search(rb"(?im)^content-length:\s*(\d+)", head)[1])  # type: ignore[index]
        body = await reader.readexactly(length)
        elapsed = (time.perf_counter() - started) * 1000
        if not head.startswith(b"HTTP/1.1 200") or b"BEGIN:VEVENT" not in body:
            raise RuntimeError(f"{FEED} -> {head[:60]!r}")
        return elapsed

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()


async def feeds(base: str, clients: int, stop: asyncio.Event) -> list[float]:
    """Feed round trips (ms) of rounds of `clients` concurrent requests (one connection
    each), a round 50 ms after the last one ended, until `stop`. Paced, not back to back:
    a saturated 2-core box would delay the probe whatever the receiver does."""
    out: list[float] = []
    conns = [FeedConnection(base) for _ in range(clients)]
    try:
        while not stop.is_set():
            out += await asyncio.gather(*(c.get() for c in conns))
            await asyncio.sleep(0.05)
    finally:
        for c in conns:
            c.close()
    return out


async def churn(base: str, stop: asyncio.Event, ids: list[str], rng: random.Random) -> int:
    """Every 0.5 s removes an override or adds one (at most 200 live); each change makes the
    cached feed stale."""
    changes = 0
    headers = {"Authorization": f"Bearer {ONCALL}"}
    async with httpx.AsyncClient(base_url=base, timeout=30, headers=headers) as http:
        while not stop.is_set():
            if changes % 2 == 0 and ids:
                r = await http.delete(f"/api/v1/oncall/primary/overrides/{ids.pop(0)}")
            else:
                r = await http.post(
                    "/api/v1/oncall/primary/overrides", json=override(rng, datetime.now(UTC))
                )
                ids.extend([r.json()["id"]] if r.status_code == 201 else [])
            r.raise_for_status()
            changes += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
    return changes


async def phase(
    base: str, seconds: float, clients: int, ids: list[str] | None
) -> tuple[list[float], list[float], int]:
    """(probe ms, feed ms, override changes) of one phase; `ids` given: with changes."""
    stop = asyncio.Event()
    load = asyncio.create_task(feeds(base, clients, stop)) if clients else None
    changer = None if ids is None else asyncio.create_task(churn(base, stop, ids, random.Random(2)))
    live = await probing(base, seconds)
    stop.set()
    changes = await changer if changer is not None else 0
    return live, await load if load is not None else [], changes


async def measure(base: str, n_overrides: int, clients: int, seconds: float) -> list[str]:
    rng = random.Random(1)
    headers = {"Authorization": f"Bearer {ONCALL}"}
    async with httpx.AsyncClient(base_url=base, timeout=30, headers=headers) as http:
        now = datetime.now(UTC)
        ids = []
        for _ in range(n_overrides):
            made = await http.post("/api/v1/oncall/primary/overrides", json=override(rng, now))
            made.raise_for_status()
            ids.append(made.json()["id"])
        first = time.perf_counter()
        r = await http.get(FEED, headers={"Authorization": f"Bearer {READ}"})
        first_ms = (time.perf_counter() - first) * 1000
        r.raise_for_status()
    events = r.content.count(b"BEGIN:VEVENT")
    out = [
        f"calendar: daily rotation, {n_overrides} overrides, weeks=52 ({events} events, "
        f"{len(r.content) // 1024} KiB), first request {first_ms:.0f} ms; rounds of {clients} "
        f"concurrent feed requests 50 ms apart, /health/live every 10 ms, {seconds:.0f} s per "
        "phase"
    ]
    for label, loaded, changing in (
        ("probe alone", 0, None),
        ("feed requests", clients, None),
        ("feed + an override change every 0.5 s", clients, ids),
    ):
        live, feed_ms, changes = await phase(base, seconds, loaded, changing)
        p99 = pct(live, 0.99)
        line = (
            f"  {label}: /health/live p50 {pct(live, 0.5):.1f} ms, p99 {p99:.1f} ms, "
            f"max {max(live):.1f} ms ({len(live)} probes)"
        )
        if feed_ms:
            line += (
                f"; feed p50 {pct(feed_ms, 0.5):.1f} ms, p99 {pct(feed_ms, 0.99):.1f} ms "
                f"({len(feed_ms) / seconds:.0f}/s"
                + (f", {changes} changes" if changing is not None else "")
                + ")"
            )
            verdict = "ok" if p99 < TARGET_MS else "FAIL"
            line += f"  target p99 < {TARGET_MS:.0f} ms: {verdict}"
        out.append(line)
    return out


def run(
    overrides: int = 200, clients: int = 5, duration: float = 10.0, receiver: str | None = None
) -> list[str]:
    """Starts a receiver, measures, stops it; returns the summary lines."""
    with receiver_with("calendar", receiver, config_text) as (base, _rx, _data):
        return asyncio.run(measure(base, overrides, clients, duration))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--overrides", type=int, default=200)
    ap.add_argument("--clients", type=int, default=5)
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per phase")
    ap.add_argument("--receiver", default=None, help="alert-receiver binary (default .venv)")
    ap.add_argument("--probe", metavar="URL", help=argparse.SUPPRESS)  # the probe's process
    args = ap.parse_args()
    if args.probe:
        print(json.dumps(probe(args.probe, args.duration)))
        return 0
    if not 0 <= args.overrides <= 200 or not 1 <= args.clients <= 50:
        ap.error("--overrides in [0, 200] (the most a rotation keeps), --clients in [1, 50]")
    if not 1 <= args.duration <= 600:
        ap.error("--duration in [1, 600] seconds")
    lines = run(args.overrides, args.clients, args.duration, args.receiver)
    return report(lines)


if __name__ == "__main__":
    sys.exit(main())
