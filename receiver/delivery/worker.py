"""Outbox workers: a Redis stream consumer group shared by every replica.

A job is acknowledged (XACK + XDEL) only in the same MULTI that records its outcome:
delivered, rescheduled on the delayed set, or dead-lettered. Jobs held by a worker that
died are reclaimed with XAUTOCLAIM after the visibility timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from redis.exceptions import RedisError, ResponseError

from receiver.delivery.policy import Next, RetryPolicy
from receiver.metrics import Metrics
from receiver.models import Notification, NotifyRecord, Status
from receiver.notifiers.base import DeliveryResult, Notifier, Outcome
from receiver.store.keys import DEFAULT_RESOLVED_RETENTION_S, OUTBOX_GROUP, Keys

log = logging.getLogger("receiver.worker")
# XREADGROUP BLOCK must stay below the client's socket timeout (2 s by default).
_BLOCK_MS = 1000
_RECLAIM_EVERY_S = 5.0


class Worker:
    """Reads jobs for this consumer and runs up to `concurrency` sends at once."""

    def __init__(
        self,
        redis: Any,
        keys: Keys,
        notifiers: Mapping[str, Notifier],
        metrics: Metrics,
        policy: RetryPolicy,
        consumer: str,
        concurrency: int,
        visibility_timeout_s: float,
        clock: Callable[[], float] = time.time,
        retention_s: int = DEFAULT_RESOLVED_RETENTION_S,
        target: str = "",
    ) -> None:
        self.retention_s = retention_s
        self.target = target  # where Redis is, named in its warnings
        self.redis, self.keys, self.notifiers, self.metrics = redis, keys, notifiers, metrics
        self.policy, self.consumer, self.clock = policy, consumer, clock
        self.visibility_ms = int(visibility_timeout_s * 1000)
        self.slots = asyncio.Semaphore(concurrency)
        self.concurrency = concurrency
        self.rng = random.Random()
        self._tasks: set[asyncio.Task[None]] = set()
        self._inflight: set[str] = set()  # outbox entry ids being processed here
        # Reported on /health: "starting", "ok", "down" (Redis unreachable) or "error".
        self.status: str = "starting"
        self.error: str | None = None

    def sending(self) -> set[asyncio.Task[None]]:
        """The jobs being processed now (a reload closes old notifiers after them)."""
        return set(self._tasks)

    async def ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(self.keys.outbox, OUTBOX_GROUP, id="0", mkstream=True)
        except ResponseError as e:
            if "BUSYGROUP" not in str(e):
                raise

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` is set: claim and process jobs; survives Redis outages."""
        last_reclaim = 0.0
        while not stop.is_set():
            try:
                await self.ensure_group()
                self.status, self.error = "ok", None  # Redis answered
                if time.monotonic() - last_reclaim > _RECLAIM_EVERY_S:
                    last_reclaim = time.monotonic()
                    await self._reclaim()
                free = self.concurrency - len(self._tasks)
                if free <= 0:
                    await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)
                    continue
                resp = await self.redis.xreadgroup(
                    OUTBOX_GROUP, self.consumer, {self.keys.outbox: ">"}, count=free,
                    block=_BLOCK_MS,
                )  # fmt: skip
                for _stream, entries in resp or []:
                    for entry_id, fields in entries:
                        self._spawn(entry_id, fields)
            except (RedisError, OSError) as e:
                self.status, self.error = "down", type(e).__name__
                log.warning("worker: redis unavailable, retrying",
                            extra={"error": repr(e), "redis": self.target})  # fmt: skip
                await _pause(stop)
            except Exception as e:
                # A bug must not silently stop delivery: log it loudly and keep going.
                self.status, self.error = "error", type(e).__name__
                log.exception("worker: unexpected error, continuing")
                await _pause(stop)
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=10)

    async def _reclaim(self) -> None:
        reply = await self.redis.xautoclaim(
            self.keys.outbox, OUTBOX_GROUP, self.consumer, self.visibility_ms, "0-0",
            count=self.concurrency,
        )  # fmt: skip
        # Redis 6.2 answers [next, entries]; 7.0 adds a third element (deleted ids).
        for entry_id, fields in reply[1]:
            # A send of ours slower than the timeout is still running: not a second copy.
            if fields and entry_id not in self._inflight:
                log.info("worker: reclaimed job", extra={"entry": entry_id})
                self._spawn(entry_id, fields)

    def _spawn(self, entry_id: str, fields: dict[str, str]) -> None:
        self._inflight.add(entry_id)
        task = asyncio.create_task(self._process(entry_id, fields.get("job", "")))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda _t: self._inflight.discard(entry_id))

    async def _process(self, entry_id: str, raw: str) -> None:
        try:
            n = Notification.from_json(raw)
        except ValueError as e:
            with contextlib.suppress(RedisError, OSError):  # else reclaimed and tried again
                await self._finish(entry_id, dead=(raw, f"undecodable job: {e}", "invalid_job"))
            return
        notifier = self.notifiers.get(n.destination)
        try:
            record, state = await self._records(n)
        except (RedisError, OSError) as e:
            log.warning("worker: could not read records",
                        extra={"error": repr(e), "redis": self.target})  # fmt: skip
            return  # unacknowledged: reclaimed after the visibility timeout
        if superseded(n, record):
            try:
                await self._finish(entry_id)
            except (RedisError, OSError):
                return  # reclaimed later, and skipped again then
            self.metrics.superseded.labels(n.destination).inc()
            log.info("delivery superseded by a newer decision", extra=_ctx(n, None, 0, 0))
            return
        if notifier is None:
            result = DeliveryResult(Outcome.INVALID_CONFIG, False, f"no receiver {n.destination!r}")
        else:
            result = await self._send(notifier, n, state)
        attempt = n.attempt + 1
        age_s = self.clock() - n.enqueued_at_ms / 1000
        step, delay = self.policy.decide(result, attempt, age_s, self.rng)
        self.metrics.deliveries.labels(n.destination, result.outcome.value).inc()
        try:
            if step is Next.DONE:
                await self._finish(entry_id, state=(n, result.state))
                self.metrics.delivery_latency.labels(n.destination).observe(max(0.0, age_s))
                self.metrics.attempts.labels(n.destination, "delivered").observe(attempt)
                if refused := result.state.get("refused"):
                    # Delivered to the others: not a failure, but someone was not told.
                    self.metrics.recipients_refused.labels(n.destination).inc(
                        len(refused.split(","))
                    )
                    log.warning("delivery partly refused", extra=_ctx(n, result, attempt, 0))
            elif step is Next.RETRY:
                retry = n.model_copy(update={"attempt": attempt})
                due_ms = int((self.clock() + delay) * 1000)
                await self._finish(entry_id, retry=(retry.to_json(), due_ms))
                self.metrics.retries_scheduled.labels(n.destination).inc()
                log.warning("delivery failed, retrying", extra=_ctx(n, result, attempt, delay))
            else:
                await self._finish(entry_id, dead=(raw, result.detail, result.outcome.value))
                self.metrics.dead_lettered.labels(n.destination, result.outcome.value).inc()
                self.metrics.attempts.labels(n.destination, "dead").observe(attempt)
                log.error("delivery dead-lettered", extra=_ctx(n, result, attempt, 0))
        except (RedisError, OSError) as e:
            # Not acknowledged: XAUTOCLAIM hands the job out again after the timeout.
            log.warning("worker: could not record outcome",
                        extra={"error": repr(e), "redis": self.target})  # fmt: skip

    async def _records(self, n: Notification) -> tuple[str | None, dict[str, str]]:
        """The destination's decision record and the notifier state from earlier sends."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hget(self.keys.notified(n.alert.fingerprint), n.destination)
        pipe.hget(self.keys.delivery(n.alert.fingerprint), n.destination)
        record, state = await pipe.execute()
        return record, orjson.loads(state) if state else {}

    async def _send(
        self, notifier: Notifier, n: Notification, state: dict[str, str]
    ) -> DeliveryResult:
        async with self.slots:
            started = time.perf_counter()
            result = await notifier.send(n, state)
            self.metrics.delivery_duration.labels(n.destination).observe(
                time.perf_counter() - started
            )
            return result

    async def _finish(
        self,
        entry_id: str,
        state: tuple[Notification, dict[str, str]] | None = None,
        retry: tuple[str, int] | None = None,
        dead: tuple[str, str, str] | None = None,
    ) -> None:
        """Record the outcome and acknowledge the job in one MULTI."""
        pipe = self.redis.pipeline(transaction=True)
        if state is not None and state[1]:
            n, data = state
            key = self.keys.delivery(n.alert.fingerprint)
            pipe.hset(key, n.destination, orjson.dumps(data))
            if n.alert.status is Status.RESOLVED:
                # Expire with the resolved alert's record (the key may be new here).
                pipe.expire(key, self.retention_s)
        if retry is not None:
            pipe.zadd(self.keys.delayed, {retry[0]: retry[1]})
        if dead is not None:
            job, detail, outcome = dead
            pipe.xadd(self.keys.dead, {"job": job, "error": detail, "outcome": outcome,
                                       "at_ms": str(int(self.clock() * 1000))})  # fmt: skip
        pipe.xack(self.keys.outbox, OUTBOX_GROUP, entry_id)
        pipe.xdel(self.keys.outbox, entry_id)
        await pipe.execute()


async def _pause(stop: asyncio.Event, seconds: float = 1.0) -> None:
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


def superseded(n: Notification, record: str | None) -> bool:
    """Whether a newer decision for this alert and destination replaced this job.

    Only per-alert decisions are checked (storm summaries have no record of their own).
    """
    if not record or n.summary_total or not n.decided_at_ms:
        return False
    try:
        decided = NotifyRecord.from_json(record).notified_at_ms
    except ValueError:
        return False
    return decided > n.decided_at_ms


def _ctx(n: Notification, r: DeliveryResult | None, attempt: int, delay: float) -> dict[str, Any]:
    return {
        "destination": n.destination, "fingerprint": n.alert.fingerprint, "key": n.key,
        "reason": n.reason.value, "outcome": r.outcome.value if r else "superseded",
        "detail": r.detail if r else "", "attempt": attempt, "retry_in_s": round(delay, 2),
    }  # fmt: skip
