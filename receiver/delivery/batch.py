"""Round trips shared by the jobs in flight: reading their records, recording outcomes.

Each job asks for its own request and gets its own answer back, but the requests of jobs
that ask at about the same time go to Redis together: one records.lua call for the records
of a whole XREADGROUP batch (its jobs start in the same tick), one settle.lua call for the
outcomes of the jobs that finished while the previous call was out. Batching thus grows
with load and costs nothing when idle (a lone request goes at once). One batch is in
flight at a time per kind: Redis runs them in turn anyway, and the waiting requests make
the next batch bigger.

A failed batch (Redis away, a timeout) fails each of its requests; each job then retries
on its own (worker._retrying), and the retries are batched again. A request whose job
gave up is still run: settle.lua is idempotent, and a read changes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson
from redis.exceptions import ResponseError

from receiver.store.keys import OUTBOX_GROUP, Keys

Req = TypeVar("Req")
Res = TypeVar("Res")

# Jobs per batch. The settle script runs ~15 Redis commands per job: 128 jobs keep one
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


Records = tuple[str | None, dict[str, str]]


class RecordReader:
    """A job's decision record (`notified`) and the notifier state of earlier sends
    (`delivery`), read for many jobs in one records.lua call."""

    def __init__(self, script: Any, keys: Keys) -> None:
        self.script, self.keys = script, keys  # redis-py Script (EVALSHA)
        self.batcher: Coalescer[tuple[str, str], Records] = Coalescer(self._read)

    async def read(self, fingerprint: str, destination: str) -> Records:
        return await self.batcher.call((fingerprint, destination))

    async def _read(self, reqs: list[tuple[str, str]]) -> list[Records | Exception]:
        keys = [k for fp, _ in reqs for k in (self.keys.notified(fp), self.keys.delivery(fp))]
        replies = await self.script(keys=keys, args=[dest for _, dest in reqs])
        if len(replies) != 2 * len(reqs):
            raise RuntimeError(f"records: {len(reqs)} jobs got {len(replies)} replies")
        out: list[Records | Exception] = []
        for i in range(len(reqs)):
            record, state = replies[2 * i], replies[2 * i + 1]
            try:
                out.append((record, orjson.loads(state) if state else {}))
            except orjson.JSONDecodeError:
                out.append((record, {}))  # a corrupt state only loses the Slack edit
        return out


@dataclass(frozen=True)
class Settle:
    """One job's outcome record: settle.lua's 6 KEYS and 18 ARGV for it."""

    keys: list[str]
    args: list[Any]


class Settler:
    """Outcome records of the jobs finishing together, in one settle.lua call; each job's
    step stays atomic with the ack of its entry (see the script)."""

    def __init__(self, script: Any) -> None:
        self.script = script  # redis-py Script: EVALSHA, loaded again after a Redis restart
        self.batcher: Coalescer[Settle, str] = Coalescer(self._settle)

    async def settle(self, request: Settle) -> str:
        """What settle did for this job ('done', 'retry', 'parked', 'gone', …)."""
        return await self.batcher.call(request)

    async def _settle(self, reqs: list[Settle]) -> list[str | Exception]:
        keys = [k for r in reqs for k in r.keys]
        args = [a for r in reqs for a in r.args]
        replies = await self.script(keys=keys, args=args)
        out: list[str | Exception] = []
        for code, what in replies:
            if int(code) < 0:
                out.append(ResponseError(f"settle: {what}"))
            else:
                out.append(str(what))
        return out


def settle_request(keys: Keys, entry_id: str, now_ms: int, verdict: str, destination: str,
                   fingerprint: str, *, state_json: str, ttl: int, job: str, due_ms: int,
                   score: int, error: tuple[str, str], circuit: list[Any]) -> Settle:  # fmt: skip
    """settle.lua's KEYS and ARGV for one job (the layout is described in the script)."""
    return Settle(
        [keys.outbox, keys.delayed, keys.dead, keys.delivery(fingerprint),
         keys.circuit(destination), keys.parked(destination)],
        [OUTBOX_GROUP, entry_id, now_ms, verdict, destination, state_json, ttl, job, due_ms,
         score, circuit[0], error[0], error[1], *circuit[1:]],
    )  # fmt: skip
