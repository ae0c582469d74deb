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

from dataclasses import dataclass
from typing import Any

import orjson
from redis.exceptions import ResponseError

from receiver.coalesce import Coalescer
from receiver.models import Verdict
from receiver.store.keys import OUTBOX_GROUP, Keys

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


def settle_request(keys: Keys, entry_id: str, now_ms: int, verdict: Verdict, destination: str,
                   fingerprint: str, *, state_json: str, ttl: int, job: str, due_ms: int,
                   score: int, error: tuple[str, str], circuit: list[Any],
                   state_field: str = "") -> Settle:  # fmt: skip
    """settle.lua's KEYS and ARGV for one job (the layout is described in the script).
    `state_field`: where the notifier's state is kept, the job's record field (a job to
    recipients of its own, a person's direct message, keeps its own); the destination
    by default."""
    return Settle(
        [keys.outbox, keys.delayed, keys.dead, keys.delivery(fingerprint),
         keys.circuit(destination), keys.parked(destination)],
        [OUTBOX_GROUP, entry_id, now_ms, verdict, state_field or destination, state_json, ttl,
         job, due_ms,
         score, circuit[0], error[0], error[1], *circuit[1:]],
    )  # fmt: skip
