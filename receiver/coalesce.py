"""Requests made at about the same time, run together: `Coalescer`.

Each caller asks for its own request and gets its own answer back, but the requests made
while a batch is out go together in the next one: batching grows with load and costs
nothing when idle (a lone request goes at once). One batch is in flight at a time.
Used for the delivery workers' Redis round trips (delivery/batch.py) and Slack's history
lookups (notifiers/slack_lookup.py).
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
    """`call(request)` runs `run([request, …])` with the requests made meanwhile."""

    def __init__(
        self,
        run: Callable[[list[Req]], Awaitable[Sequence[Res | Exception]]],
        max_batch: int = MAX_BATCH,
    ) -> None:
        self.run, self.max_batch = run, max_batch
        self._pending: list[tuple[Req, asyncio.Future[Res]]] = []
        self._draining = False
        self._task: asyncio.Task[None] | None = None  # a strong ref while it drains
        self.batches = 0  # calls of `run` so far (the bench and tests read it)

    async def call(self, request: Req) -> Res:
        """The answer to `request`, or its exception (or the whole batch's)."""
        fut: asyncio.Future[Res] = asyncio.get_running_loop().create_future()
        self._pending.append((request, fut))
        if not self._draining:
            self._draining = True
            self._task = asyncio.create_task(self._drain())
        return await fut

    async def _drain(self) -> None:
        try:
            await asyncio.sleep(0)  # the requests made in the same tick join the first
            while self._pending:
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
                await self._run(batch)
        finally:
            # No await between the loop seeing an empty queue and this: a call() queued
            # after it starts a new drain.
            self._draining = False

    async def _run(self, batch: list[tuple[Req, asyncio.Future[Res]]]) -> None:
        self.batches += 1
        try:
            results = await self.run([req for req, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"batch of {len(batch)} got {len(results)} answers")
        except Exception as e:  # every request of the batch failed with it
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(e)
            return
        for (_, fut), result in zip(batch, results, strict=True):
            if fut.done():
                continue  # the job gave up waiting
            if isinstance(result, Exception):
                fut.set_exception(result)
            else:
                fut.set_result(result)
