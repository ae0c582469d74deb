"""Requests made at about the same time, run together: `Coalescer`.

Each caller asks for its own request and gets its own answer back, but the requests made
while a batch is out go together in the next one: batching grows with load and costs
nothing when idle (a lone request goes at once). One batch is in flight at a time unless
`max_in_flight` allows more. Used for the intake's script calls (store/batch.py), the
delivery workers' Redis round trips (delivery/batch.py) and Slack's history lookups
(notifiers/slack/lookup.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Req = TypeVar("Req")
Res = TypeVar("Res")

# Requests per batch. The settle script runs ~15 Redis commands per job: 128 jobs keep one
# call to a few milliseconds of Redis time, so other clients (the intake) are not held up.
MAX_BATCH = 128


class Coalescer(Generic[Req, Res]):
    """`call(request)` runs `run([request, …])` with the requests made meanwhile.

    A batch holds at most `max_batch` requests and, when `max_weight` is set, at most that
    total weight (a heavier request still goes alone). One batch is in flight at a time,
    unless `max_in_flight` allows more: a further one goes out only when a full batch (by
    weight) is waiting; below that it would only split the batch and cost more per request.
    """

    def __init__(
        self,
        run: Callable[[list[Req]], Awaitable[Sequence[Res | Exception]]],
        max_batch: int = MAX_BATCH,
        max_weight: int | None = None,
        max_in_flight: int = 1,
    ) -> None:
        self.run, self.max_batch, self.max_weight = run, max_batch, max_weight
        self.max_in_flight = max_in_flight
        self._pending: list[tuple[Req, int, asyncio.Future[Res]]] = []
        self._pending_weight = 0
        self._active = 0  # drain loops running; changed only without an await in between
        self._tasks: set[asyncio.Task[None]] = set()  # strong refs until they finish
        self.batches = 0  # calls of `run` so far (the bench and tests read it)

    async def call(self, request: Req, weight: int = 1) -> Res:
        """The answer to `request`, or its exception (or the whole batch's)."""
        fut: asyncio.Future[Res] = asyncio.get_running_loop().create_future()
        self._pending.append((request, weight, fut))
        self._pending_weight += weight
        if self._active == 0 or (
            self._active < self.max_in_flight
            and self.max_weight is not None
            and self._pending_weight >= self.max_weight
        ):
            self._active += 1
            task = asyncio.create_task(self._drain())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await fut

    async def _drain(self) -> None:
        try:
            await asyncio.sleep(0)  # the requests made in the same tick join the first
            while self._pending:
                await self._run(self._take())
        finally:
            # No await between the loop seeing an empty queue and this: a call() queued
            # after it starts a new drain, so nothing is left waiting.
            self._active -= 1

    def _take(self) -> list[tuple[Req, int, asyncio.Future[Res]]]:
        n, weight, limit = 0, 0, self.max_weight
        for _, w, _ in self._pending:
            if n and (n == self.max_batch or (limit is not None and weight + w > limit)):
                break
            n, weight = n + 1, weight + w
        batch = self._pending[:n]
        del self._pending[:n]
        self._pending_weight -= weight
        return batch

    async def _run(self, batch: list[tuple[Req, int, asyncio.Future[Res]]]) -> None:
        self.batches += 1
        try:
            results = await self.run([req for req, _, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"batch of {len(batch)} got {len(results)} answers")
        except Exception as e:  # every request of the batch failed with it
            for *_, fut in batch:
                if not fut.done():
                    fut.set_exception(e)
            return
        for (*_, fut), result in zip(batch, results, strict=True):
            if fut.done():
                continue  # the caller gave up waiting; its request ran all the same
            if isinstance(result, Exception):
                fut.set_exception(result)
            else:
                fut.set_result(result)
