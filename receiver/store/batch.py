"""Batching: the intake requests of concurrent webhooks go to Redis as one script call.

Each caller hands in its own request and gets its own result back; `run` executes a whole
batch (one EVALSHA whose script applies the requests in order, each atomically) and
returns one result per request. Requests gather while earlier batches run: batching grows
with load and costs nothing when idle. Per request this saves the Redis client's command
overhead (Python) and the script start-up (Redis).

Batches are kept small (MAX_WEIGHT alerts) and more than one may be in flight (each on
its own pooled connection), so that the receiver prepares the next batches while Redis
runs the current one and answers come back in small groups, instead of the two taking
turns with all requests at once (measured: 10-25 % more 20-alert bodies per second). A
further batch goes out only when a full one is waiting; below that it would only split the
batch and cost more per request. Redis runs the batches one after the other, each script
atomically, but not necessarily in the order they were sent: callers must not rely on
the order of requests in different batches (the intake does not; see its conflicts).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

# Bounds one batch: requests, and their total weight (alerts); a heavier request still
# goes alone. 100 alerts keep Redis busy for a few milliseconds per call.
MAX_BATCH = 256
MAX_WEIGHT = 100
MAX_IN_FLIGHT = 4

Run = Callable[[list[bytes]], Awaitable[list[Any]]]


class Batcher:
    def __init__(
        self,
        run: Run,
        max_batch: int = MAX_BATCH,
        max_weight: int = MAX_WEIGHT,
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        self.run, self.max_batch, self.max_weight = run, max_batch, max_weight
        self.max_in_flight = max_in_flight
        self._pending: list[tuple[bytes, int, asyncio.Future[Any]]] = []
        self._pending_weight = 0
        self._active = 0  # drain loops running; changed only without an await in between
        self._tasks: set[asyncio.Task[None]] = set()  # strong refs until they finish

    async def call(self, request: bytes, weight: int = 1) -> Any:
        """Run `request` in the next batch; returns its result, or raises its exception."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((request, weight, fut))
        self._pending_weight += weight
        if self._active == 0 or (
            self._active < self.max_in_flight and self._pending_weight >= self.max_weight
        ):
            self._active += 1
            task = asyncio.create_task(self._drain())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await fut

    async def _drain(self) -> None:
        try:
            await asyncio.sleep(0)  # let requests that arrived in the same tick join
            while self._pending:
                await self._run_batch(self._take())
        finally:
            # No await between the loop seeing an empty queue and this: a call() that
            # queues after it starts a new drain loop, so nothing is left waiting.
            self._active -= 1

    def _take(self) -> list[tuple[bytes, int, asyncio.Future[Any]]]:
        n, weight = 0, 0
        for _, w, _ in self._pending:
            if n and (n == self.max_batch or weight + w > self.max_weight):
                break
            n, weight = n + 1, weight + w
        batch = self._pending[:n]
        del self._pending[:n]
        self._pending_weight -= weight
        return batch

    async def _run_batch(self, batch: list[tuple[bytes, int, asyncio.Future[Any]]]) -> None:
        try:
            results = await self.run([request for request, _, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"batch of {len(batch)} got {len(results)} results")
        except Exception as e:  # the call failed (connection, timeout): each request failed
            for *_, fut in batch:
                if not fut.done():
                    fut.set_exception(e)
            return
        for (*_, fut), result in zip(batch, results, strict=True):
            if fut.done():
                continue  # the caller gave up; its request was applied all the same
            if isinstance(result, Exception):
                fut.set_exception(result)
            else:
                fut.set_result(result)
