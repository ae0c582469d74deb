"""Destination-wide backpressure across two `serve` replicas: a 429 with Retry-After pauses
every job for the destination, repeated 5xx open its circuit; afterwards each alert arrives
once, criticals first and in firing order (up to the workers' parallelism)."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import RedisServer, Serve, auth
from tests.helpers import until
from tests.integration.delivery.faults import body, channels, replica
from tests.servers.pagerduty import FakePagerDuty, Request

CONCURRENCY = 8
PARALLEL = 2 * CONCURRENCY  # sends two replicas can have in flight at once


@pytest.fixture
async def replicas(
    tmp_path: Path, redis_server: RedisServer, pd: FakePagerDuty, redis: Any
) -> AsyncIterator[list[Serve]]:
    """Two replicas (redis: the flushed database) routing everything to PagerDuty."""
    rx = [replica(tmp_path, n, redis_server.url, channels(pd, None, None),
                  workers={"concurrency": CONCURRENCY}) for n in ("a", "b")]  # fmt: skip
    await asyncio.gather(*(asyncio.to_thread(s.start) for s in rx))
    try:
        yield rx
    finally:
        for s in rx:
            if s.proc is not None:
                s.kill()


async def load(rx: list[Serve], run: str, seconds: float, per_s: int) -> list[tuple[str, str]]:
    """`per_s` alerts/s for `seconds`, 5 per body, bodies alternately critical and warning,
    alternately to each replica; returns (instance, severity) in firing order."""
    fired: list[tuple[str, str]] = []
    bodies = int(seconds * per_s / 5)
    start = time.monotonic()
    async with httpx.AsyncClient(timeout=10) as c:
        for i in range(bodies):
            await asyncio.sleep(max(0.0, start + i * 5 / per_s - time.monotonic()))
            severity = "critical" if i % 2 == 0 else "warning"
            b = body(run, i * 5, 5, severity)
            r = await c.post(rx[i % 2].url + "/webhook", json=b, headers=auth())
            assert r.status_code == 200
            fired += [(a["labels"]["instance"], severity) for a in b["alerts"]]
    return fired


def instance(req: Request) -> str:
    return str(orjson.loads(req.body)["payload"]["custom_details"]["instance"])


def after_burst(reqs: list[Request], status: int, until_t: float) -> tuple[float, list[Request]]:
    """(when the first `status` answer was given, the requests that came later than 1 s
    after it and before `until_t`): what the destination saw once everyone knew."""
    first = min(r.at for r in reqs if r.status == status)
    return first, [r for r in reqs if first + 1.0 < r.at < until_t]


def assert_delivered_once_in_order(pd: FakePagerDuty, fired: list[tuple[str, str]]) -> None:
    got = [str(e["payload"]["custom_details"]["instance"]) for e in pd.events]
    assert Counter(got) == Counter(i for i, _ in fired)  # every alert once
    position = {inst: k for k, (inst, _) in enumerate(fired)}
    kinds = dict(fired)
    crit = [position[i] for i in got if kinds[i] == "critical"]
    # Firing order up to the parallelism: no critical overtakes one fired PARALLEL earlier.
    for k, p in enumerate(crit):
        assert max(crit[: k + 1]) - p <= PARALLEL * 5, (k, p)


async def test_429_pauses_the_destination_for_every_job(
    replicas: list[Serve], pd: FakePagerDuty
) -> None:
    pd.answer_for(20, 429, retry_after=5)
    window_end = time.monotonic() + 20
    loader = asyncio.create_task(load(replicas, "tm", 18, 50))
    await asyncio.sleep(8)
    # Sampled until both show the pause (between two pauses it is half-open for a moment).
    async with httpx.AsyncClient() as c:
        for _ in range(40):
            health = (await c.get(replicas[1].url + "/health")).json()
            metrics = (await c.get(replicas[0].url + "/metrics")).text
            if (
                health["destinations"]["pd"]["state"] == "paused"
                and 'alert_receiver_destination_paused{destination="pd"} 1.0' in metrics
            ):
                break  # fmt: skip
            await asyncio.sleep(0.1)
    fired = await loader
    await until(lambda: len(pd.events) >= len(fired), 30, "everything delivered after")
    await asyncio.sleep(1.0)
    first, later = after_burst(pd.requests, 429, window_end)
    # While paused: only probes, one at a time, each at least Retry-After after the last.
    assert len(later) <= 2 * 4, [round(r.at - first, 2) for r in later]
    for prev, nxt in itertools.pairwise(later):
        assert nxt.at - prev.at >= 4.7, [round(r.at - first, 2) for r in later]
    assert sum(1 for r in pd.requests if r.at < first + 1.0 and r.status == 429) <= PARALLEL + 4
    pause = health["destinations"]["pd"]
    assert pause["state"] == "paused" and pause["reason"] == "rate_limited"
    assert 0 <= pause["resume_in_s"] <= 5 and pause["parked"] > 0
    assert 'alert_receiver_destination_paused{destination="pd"} 1.0' in metrics
    # Criticals first when it reopened: the parked ones before the parked warnings.
    released = [str(e["payload"]["custom_details"]["instance"]) for e in pd.events]
    kinds = dict(fired)
    tail = [kinds[i] for i in released[-len(released) // 2 :]]
    assert tail.count("warning") > tail.count("critical")
    assert_delivered_once_in_order(pd, fired)


@pytest.mark.timeout(300)  # a minute of 500s by design: ~66 s alone, ~2x on a loaded box
async def test_500s_for_a_minute_open_the_circuit_and_the_vendor_sees_a_trickle(
    replicas: list[Serve], pd: FakePagerDuty
) -> None:
    # The case as it is: 500 to every request for 60 s while alerts keep coming.
    pd.answer_for(60, 500)
    window_end = time.monotonic() + 60
    fired = await load(replicas, "fo", 58, 10)
    # After the outage the open interval (doubling from 2 s, at most 60 s) still has to run
    # out before the next probe finds the vendor well.
    await until(lambda: len(pd.events) >= len(fired), 90, "everything delivered after")
    await asyncio.sleep(1.0)
    during = [r for r in pd.requests if r.at < window_end]
    first, later = after_burst(pd.requests, 500, window_end)
    # 580 alerts offered during the outage; the vendor saw the first failures (the sends in
    # flight when the circuit opened) and then one probe per open interval: 2, 4, 8, 16, 32 s.
    assert len(during) <= 5 + PARALLEL + 6, len(during)
    assert len(later) <= 6, [round(r.at - first, 2) for r in later]
    for prev, nxt in itertools.pairwise(later):
        assert nxt.at - prev.at >= 1.5, [round(r.at - first, 2) for r in later]
    assert_delivered_once_in_order(pd, fired)
