"""What the tests share that is not a fixture: metrics, polling waits, ports, required binaries.

Not a test module. Fixtures live in tests/conftest.py.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import shutil
import socket
import sys
import time
from collections.abc import Callable
from typing import Any, NoReturn

import pytest
import redis as sync_redis
import redis.asyncio as aioredis
from prometheus_client.parser import text_string_to_metric_families

from receiver.store.keys import OUTBOX_GROUP, Keys


def metric(text: str, name: str, /, **labels: str) -> float:
    """The sum of the samples called `name` in Prometheus exposition `text` whose labels
    include `labels` (all series of `name` when none given); 0.0 when there is none."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                total += sample.value
    return total


def has_metric(text: str, name: str) -> bool:
    """Whether `text` exposes at least one sample called `name`."""
    return any(s.name == name for f in text_string_to_metric_families(text) for s in f.samples)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(
    pred: Callable[[], Any],
    timeout: float = 20,
    what: str = "condition",
    interval: float = 0.05,
    not_yet: tuple[type[Exception], ...] = (),
) -> Any:
    """Poll `pred` until it returns something truthy and return that; AssertionError naming
    `what` after `timeout` seconds (a bound on how long something may take, not a target).
    Exceptions of the `not_yet` types from `pred` count as "not yet" (a server starting)."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while True:
        try:
            value = pred()
            if value:
                return value
        except not_yet as e:
            last = e
        if time.monotonic() > deadline:
            tail = f" (last error: {last!r})" if last is not None else ""
            raise AssertionError(f"{what}: not met within {timeout}s{tail}")
        time.sleep(interval)


async def until(
    pred: Callable[[], Any], limit_s: float = 20, what: str = "condition", interval: float = 0.05
) -> Any:
    """Async `wait_until`: `pred` may be sync or return an awaitable; returns its value."""
    deadline = time.monotonic() + limit_s
    while True:
        value = pred()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not met within {limit_s}s")
        await asyncio.sleep(interval)


async def deliveries_idle(r: aioredis.Redis, keys: Keys | None = None) -> bool:
    """No delivery job queued, in flight (read by a worker, not yet acknowledged) or waiting
    for a retry: after this, nothing more can arrive at a vendor unless something new is
    enqueued. What "nothing more arrives" checks wait for instead of a fixed sleep."""
    k = keys or Keys()
    if await r.zcard(k.delayed) or await r.xlen(k.outbox):
        return False
    try:
        pending = await r.xpending(k.outbox, OUTBOX_GROUP)
    except sync_redis.ResponseError:  # no stream or no group yet: nothing was ever read
        return True
    return int(pending["pending"]) == 0


def deliveries_idle_sync(r: sync_redis.Redis, keys: Keys | None = None) -> bool:
    """`deliveries_idle` for a synchronous client (tests driving `serve` processes)."""
    k = keys or Keys()
    if r.zcard(k.delayed) or r.xlen(k.outbox):
        return False
    try:
        pending = r.xpending(k.outbox, OUTBOX_GROUP)
    except sync_redis.ResponseError:
        return True
    return int(pending["pending"]) == 0


async def wait_deliveries_idle(
    r: aioredis.Redis, keys: Keys | None = None, limit_s: float = 20
) -> None:
    await until(lambda: deliveries_idle(r, keys), limit_s, "deliveries idle")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def skip_unless_ci(reason: str) -> NoReturn:
    """Skip the calling test with a printed `reason` (what is missing, how to install it),
    except under CI=true, where the CI image must have it and the test fails."""
    if in_ci():
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    print(f"SKIP: {reason}", file=sys.stderr)
    pytest.skip(reason)


def require_binary(*names: str, package: str) -> str:
    """Path of the first of `names` on PATH; otherwise `skip_unless_ci` naming the Debian
    `package` that provides it."""
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    skip_unless_ci(f"{' or '.join(names)} not found on PATH (Debian: apt-get install {package})")
